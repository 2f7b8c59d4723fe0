/*
 * ds_remote_kinto.h - the Kinto remote: records of a collection in a Kinto server
 * (https://docs.kinto-storage.org/, API 1.x). Entry points for the dispatcher in
 * component/remote/remotes.c; configuration and wire format in docs/remote-kinto.md.
 *
 * Registration ("remote" object of a collection), before enrolment:
 *   {"kind":"kinto", "url":"https://kinto.example.org/v1", "bucket":"default",
 *    "collection":"alarms", "user":"alice", "password":"...",
 *    "encrypt":"key", "key":"<64 hex>"}
 * optionally with "files": {"field", "dir"} (a record's file as its Kinto attachment),
 * "share_field" (the member listing who may read a record), "token_scope" (bearer tokens from the
 * signed-in Firefox Account, kinto_token.c) and "shared_reader" (read what another
 * user shares with us from their "bucket").
 * ds_remote_kinto_enroll() seals the password / bearer token / key through the port and replaces
 * them by "secret", the sealed secret's name; ds_remote_kinto_open() reads them from there.
 */
#ifndef DS_REMOTE_KINTO_H
#define DS_REMOTE_KINTO_H

struct cJSON;
struct ds_remote;

int ds_remote_kinto_open(const struct cJSON *cfg, const char *collection, const char *device_id,
			 struct ds_remote **out);
int ds_remote_kinto_enroll(struct cJSON *cfg, const char *collection);
int ds_remote_kinto_forget(const struct cJSON *cfg, const char *collection);

#endif /* DS_REMOTE_KINTO_H */
