/*
 * ds_remote_sync15.h - the Firefox Sync 1.5 remote's entry point for the dispatcher in
 * component/remote/remotes.c. Protocol and behaviour: docs/remote-sync15.md.
 *
 * Registration ("remote" object of a collection):
 *   {"kind":"sync15", "collection":"bookmarks", "engine_version":2}
 * optional: "read_only": true (never creates or changes the account's Sync setup),
 * "enable": true (take the collection out of meta/global's "declined"), and the account's
 * servers "fxa_url", "tokenserver_url", "ca_bundle" (default: the Kconfig values). The
 * credentials come from the device's signed-in Firefox Account (datasyncctl login): nothing
 * secret is kept in the registration, so there is nothing to enrol or forget.
 */
#ifndef DS_REMOTE_SYNC15_H
#define DS_REMOTE_SYNC15_H

struct cJSON;
struct ds_remote;

int ds_remote_sync15_open(const struct cJSON *cfg, const char *collection, const char *device_id,
			  struct ds_remote **out);

#endif /* DS_REMOTE_SYNC15_H */
