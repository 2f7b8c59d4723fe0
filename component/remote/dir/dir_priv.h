/*
 * dir_priv.h - internals shared by the files of the dir remote. Format: docs/remote-dir.md.
 */
#ifndef DS_DIR_PRIV_H
#define DS_DIR_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sync/ds_sync.h"

#define DS_DIR_HEADER_NAME "datasync-dir.json"
#define DS_DIR_FORMAT_VERSION 1
#define DS_DIR_KEY_LEN 32
#define DS_DIR_SALT_LEN 16
#define DS_DIR_FOLDER_EPOCH_LEN 16 /* random bytes, hex in the header */
#define DS_DIR_COLL_EPOCH_LEN 8    /* random bytes, hex in <coll>/epoch */
#define DS_DIR_NAME_LEN 16         /* bytes of HMAC naming an encrypted collection's folder */
#define DS_DIR_SEQ_DIGITS 16
#define DS_DIR_SEQ_MAX 9999999999999999ULL
/* Own temporary files older than this are leftovers of a crash and get removed. */
#define DS_DIR_STALE_TMP_MS (24LL * 3600 * 1000)

/* ---- files (dir_fs.c): 0 or -errno, never a partial file under a final name -------------- */

/* path = printf(fmt, ...) in a new allocation (NULL on failure). */
char *ds_dir_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Create path exclusively (O_EXCL), write it whole and fsync it. Removes it on failure. */
int ds_dir_fs_write_new(const char *path, const void *data, size_t len);
/*
 * Publish a finished temporary file under final with link(): exclusive and atomic, so of two
 * writers racing for one name exactly one wins; the loser gets -EEXIST. The temporary name is
 * removed in every case and the directory of final is synced on success.
 * Where link() is not supported (EPERM/ENOTSUP/ENOSYS: FAT, exFAT), final becomes a directory
 * holding the file as DS_DIR_BOXED_NAME, published by renaming a box directory <tmp>.d, which
 * is exclusive too (rename() never replaces a non-empty directory or a file by a directory).
 */
#define DS_DIR_BOXED_NAME "data"
int ds_dir_fs_publish(const char *tmp, const char *final);
/* fsync a directory so a new name in it survives a power cut. */
int ds_dir_fs_sync_dir(const char *dir);
/*
 * Read a whole file of at most max bytes (-EFBIG above) into a NUL-terminated allocation. A
 * directory (a name published without hard links) is read as its DS_DIR_BOXED_NAME file.
 */
int ds_dir_fs_read(const char *path, size_t max, uint8_t **out, size_t *len);
/* 1 when path exists, 0 when not, or -errno. */
int ds_dir_fs_exists(const char *path);
/* mkdir that accepts an existing directory. */
int ds_dir_fs_mkdir(const char *path);
/* 0 when path is a directory we can use; -ENOENT when it is absent (card unplugged). */
int ds_dir_fs_check_root(const char *root);
/* Replace path with content through tmp + rename (for hints only: not exclusive). */
int ds_dir_fs_replace(const char *tmp, const char *path, const void *data, size_t len);
/* Remove files in dir named prefix* whose mtime is older than max_age_ms before now_ms. */
void ds_dir_fs_clean_stale(const char *dir, const char *prefix, int64_t now_ms, int64_t max_age_ms);
/* One readable phrase for an I/O errno ("the folder is full", ...). */
const char *ds_dir_fs_why(int neg_errno);

/* ---- folder header and keys (dir_folder.c) ------------------------------------------------- */

struct ds_dir_header {
	bool encrypted;
	char epoch[2 * DS_DIR_FOLDER_EPOCH_LEN + 1];
	uint32_t iterations;
	uint8_t salt[DS_DIR_SALT_LEN];
	uint8_t key_check[32];
};

/* -ENOENT when absent, -EILSEQ when malformed, -ENOTSUP for a newer format version. */
int ds_dir_header_read(const char *root, struct ds_dir_header *h);
/* Create the header exclusively; -EEXIST when another device was first (re-read it then). */
int ds_dir_header_create(const char *root, const struct ds_dir_header *h, const char *tmp_tag);
/* HMAC(master, "datasync-dir key check"). */
int ds_dir_key_check(const uint8_t master[DS_DIR_KEY_LEN], uint8_t out[32]);

/*
 * What ds_port_secret_seal() keeps for an encrypted collection: the master key and the KDF
 * parameters of the folder, so a header lost with a wiped card can be rewritten unchanged.
 */
struct ds_dir_secret {
	uint8_t master[DS_DIR_KEY_LEN];
	uint32_t iterations;
	uint8_t salt[DS_DIR_SALT_LEN];
};
int ds_dir_secret_name(const char *root, const char *collection, char *out, size_t cap);
int ds_dir_secret_load(const char *name, struct ds_dir_secret *s);

/* ---- one collection's keys and batch files (dir_batch.c) ------------------------------------ */

struct ds_dir_coll {
	bool encrypted;
	const char *name;                    /* collection name (logs only) */
	char dirname[65];                    /* folder name under the root */
	uint8_t key[DS_DIR_KEY_LEN];         /* HKDF(master, "datasync-dir v1 " + name) */
};

/* Collection names in a cleartext folder become folder names: [A-Za-z0-9_-]{1,64}. */
bool ds_dir_name_valid(const char *name);
/* Derive dirname and key from the master key (encrypted) or the name (cleartext). */
int ds_dir_coll_init(struct ds_dir_coll *c, const char *name, bool encrypted,
		     const uint8_t master[DS_DIR_KEY_LEN]);
void ds_dir_coll_wipe(struct ds_dir_coll *c);

/* Serialise and seal n records as batch seq; *out is a ds_malloc'd file image. */
int ds_dir_batch_seal(const struct ds_dir_coll *c, uint64_t seq, const char *device_id,
		      int64_t now_ms, const struct ds_record *recs, size_t n, size_t max_bytes,
		      uint8_t **out, size_t *outlen);
/*
 * Check and open the file image of batch seq, then hand its records to cb in order.
 * -EBADMSG when it fails its integrity check (tampered, truncated, moved), -EILSEQ when the
 * authenticated content is malformed; in both cases cb was not called. *nrec = records given.
 */
int ds_dir_batch_read(const struct ds_dir_coll *c, uint64_t seq, uint8_t *file, size_t len,
		      ds_record_cb cb, void *user_data, size_t *nrec);

#endif /* DS_DIR_PRIV_H */
