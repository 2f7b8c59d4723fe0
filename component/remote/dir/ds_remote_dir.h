/*
 * ds_remote_dir.h - the dir remote: a local folder (SD card, USB stick, shared mount) as the
 * remote. Entry points for the dispatcher in component/remote/remotes.c; the folder format is
 * documented in docs/remote-dir.md.
 *
 * Registration ("remote" object of a collection):
 *   {"kind":"dir", "path":"/media/sd/datasync", "passphrase":"..."}   before enrolment
 *   {"kind":"dir", "path":"...", "key_file":"/etc/datasync/dir.key"}   32 raw bytes or 64 hex
 *   {"kind":"dir", "path":"...", "encrypt":false}                      cleartext folder
 * ds_remote_dir_enroll() replaces the passphrase by "secret": the name of the sealed port secret
 * holding the folder key; ds_remote_dir_open() reads the key from there.
 */
#ifndef DS_REMOTE_DIR_H
#define DS_REMOTE_DIR_H

struct cJSON;
struct ds_remote;

int ds_remote_dir_open(const struct cJSON *cfg, const char *collection, const char *device_id,
		       struct ds_remote **out);
int ds_remote_dir_enroll(struct cJSON *cfg, const char *collection);
int ds_remote_dir_forget(const struct cJSON *cfg, const char *collection);

#endif /* DS_REMOTE_DIR_H */
