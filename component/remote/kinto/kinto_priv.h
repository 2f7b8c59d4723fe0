/*
 * kinto_priv.h - internals of the Kinto remote, shared by its files:
 *   kinto_json.c    raw JSON scanning (values kept byte for byte)
 *   kinto_codec.c   engine payload <-> Kinto record fields, and the encrypted form
 *   kinto_state.c   the per-collection map id -> last known server last_modified
 *   kinto_api.c     one request: URL, authentication, errors, Backoff/Retry-After/Alert
 *   kinto_secret.c  enrolment: credentials and key sealed through the port
 *   kinto_remote.c, kinto_fetch.c, kinto_upload.c  the remote operations (kinto_remote_int.h)
 *   kinto_files.c   files of records as kinto-attachment attachments, streamed both ways
 *   kinto_filesync.c  when a record's file goes up or comes down
 *   kinto_migrate.c the encryption marker; a collection switched from clear to encrypted
 *   kinto_token.c   bearer tokens from the signed-in Firefox Account
 */
#ifndef DS_KINTO_PRIV_H
#define DS_KINTO_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sync/ds_sync.h"

struct ds_http_client;
struct ds_http_response;
struct sqlite3;

/* ---- kinto_json.c ------------------------------------------------------------------------- */

/* key: raw text between the quotes (escapes left as they are); val: the value's exact text. */
typedef int (*ds_kinto_member_fn)(const char *key, size_t klen, const char *val, size_t vlen,
				  void *ud);
typedef int (*ds_kinto_elem_fn)(const char *val, size_t vlen, void *ud);
/* 0, -EBADMSG for malformed JSON, or the callback's nonzero return. */
int ds_kinto_json_object_each(const char *text, size_t len, ds_kinto_member_fn fn, void *ud);
int ds_kinto_json_array_each(const char *text, size_t len, ds_kinto_elem_fn fn, void *ud);
int ds_kinto_json_key_ascii(const char *raw, size_t n, char *out, size_t cap, size_t *first_len);
int ds_kinto_json_int64(const char *v, size_t n, int64_t *out);

/* ---- kinto_codec.c ------------------------------------------------------------------------ */

#define DS_KINTO_KEY_LEN 32
#define DS_KINTO_KID_LEN 16 /* hex chars of the key fingerprint */

struct ds_kinto_key {
	bool set;
	uint8_t key[DS_KINTO_KEY_LEN];
	char kid[DS_KINTO_KID_LEN + 1];
};

/* Fill kid from key (HMAC-SHA256(key, "datasync-kinto-kid")[0:8] in hex). */
int ds_kinto_key_finish(struct ds_kinto_key *k);

/* Record ids Kinto accepts (kinto.md §1): ^[a-zA-Z0-9][a-zA-Z0-9_-]*$, at most 255 chars. */
bool ds_kinto_id_valid(const char *id);

/*
 * Engine payload (a JSON object) -> the "data" object sent to Kinto (ds_malloc'd text).
 * Cleartext: the payload's members with Kinto's own names escaped; with key: the encrypted form.
 * coll names the Kinto collection (bound into the encryption's AAD with the id).
 */
int ds_kinto_encode(const struct ds_kinto_key *key, const char *coll, const char *id,
		    const char *payload, char **out);

/*
 * One record object of a Kinto list or response -> ds_record (strings ds_malloc'd).
 * -EBADMSG: malformed; -ENOKEY: encrypted and no key; -EKEYREJECTED: encrypted under another
 * key; -EACCES: cleartext record in a collection configured as encrypted.
 */
int ds_kinto_decode(const struct ds_kinto_key *key, const char *coll, const char *text, size_t len,
		    struct ds_record *out);

/* Only the id and last_modified of a record (to report one that failed to decode). */
int ds_kinto_record_meta(const char *text, size_t len, char **id, int64_t *lm);

/* ---- kinto_state.c ------------------------------------------------------------------------ */

struct ds_kinto_state;

/* The map lives in path (SQLite, created if missing). */
int ds_kinto_state_open(const char *path, struct ds_kinto_state **out);
void ds_kinto_state_close(struct ds_kinto_state *s);
int ds_kinto_state_begin(struct ds_kinto_state *s);
int ds_kinto_state_commit(struct ds_kinto_state *s);
void ds_kinto_state_rollback(struct ds_kinto_state *s);
/* Last known server version of id: 0 and *ms / *deleted, or -ENOENT. */
int ds_kinto_state_get(struct ds_kinto_state *s, const char *id, int64_t *ms, bool *deleted);
struct cJSON;
/* A whole number from a server's JSON (a timestamp, a size): v when it is a number with no
 * fraction in [0, 2^53], else fallback. Converting a double outside int64's range is undefined
 * behaviour, and a server chooses these values (found by the kinto_batch fuzz target). */
int64_t ds_kinto_json_int(const struct cJSON *v, int64_t fallback);
/* Remember a version; an older one never replaces a newer one. */
int ds_kinto_state_put(struct ds_kinto_state *s, const char *id, int64_t ms, bool deleted);
/* The same, saying whether this device wrote that version (acknowledged writes: ours). */
int ds_kinto_state_put_ours(struct ds_kinto_state *s, const char *id, int64_t ms, bool deleted,
			    bool ours);
int ds_kinto_state_get_ours(struct ds_kinto_state *s, const char *id, int64_t *ms, bool *deleted,
			    bool *ours);
int ds_kinto_state_kv_get(struct ds_kinto_state *s, const char *k, char *out, size_t cap);
int ds_kinto_state_kv_set(struct ds_kinto_state *s, const char *k, const char *v);
/* <data dir>/kinto-<hash of url, user, collection>.db (ds_malloc'd). */
struct cJSON;
char *ds_kinto_state_path(const struct cJSON *cfg, const char *collection);
/* Forget every id (the server was replaced). */
int ds_kinto_state_clear(struct ds_kinto_state *s);

/* ---- kinto_api.c -------------------------------------------------------------------------- */

struct ds_kinto_api {
	struct ds_http_client *http;
	char *base;      /* ".../v1" without the trailing slash */
	char *origin;    /* "scheme://host[:port]" of base, for Next-Page checks */
	char *auth;      /* "Basic ..." / "Bearer ..."; wiped at close */
	const char *name; /* the collection, for messages */
	int64_t backoff_s; /* largest Backoff / Retry-After seen */
	bool eos_reported;
	/* Bearer tokens from the signed-in Firefox Account (kinto_token.c): the scope asked,
	 * the accounts server and its CA (NULL: the defaults). NULL scope: auth is fixed. */
	char *token_scope;
	char *fxa_url;
	char *fxa_ca;
};

int ds_kinto_api_init(struct ds_kinto_api *a, const char *url, const char *ca_bundle,
		      const char *name);
void ds_kinto_api_free(struct ds_kinto_api *a);
/*
 * One request to base + path (or to a full URL when path starts with "http"). The response is
 * returned whatever its status; rc is only for transport errors. Backoff, Retry-After and
 * Alert are noted on every response. headers: NULL-terminated name/value pairs.
 */
int ds_kinto_api_call(struct ds_kinto_api *a, const char *method, const char *path,
		      const char *body, const char *const *headers, struct ds_http_response *resp);
/* A non-2xx Kinto answer -> -errno, with one clear log line naming what failed. */
int ds_kinto_api_error(struct ds_kinto_api *a, const char *what, const struct ds_http_response *resp);
/* Map a status (and Kinto errno) to -errno without logging. */
int ds_kinto_status_errno(int status, int kerrno);

/* ---- kinto_token.c ------------------------------------------------------------------------- */

/* a->auth = "Bearer <access token for a->token_scope>" from the signed-in account, cached per
 * process; fresh: ask FxA for a new one (the server refused the cached one). */
int ds_kinto_token_auth(struct ds_kinto_api *a, bool fresh);
/* Drop the cached token (sign-out, tests). */
void ds_kinto_token_forget(void);

/* ---- kinto_secret.c ------------------------------------------------------------------------ */

struct ds_kinto_secrets {
	char password[256];
	char token[2048];
	struct ds_kinto_key key;
};

int ds_kinto_secrets_load(const char *name, struct ds_kinto_secrets *s);
/* The key of an "account" collection: HKDF-SHA256(kSync, info "datasync/kinto/v1/" label). */
int ds_kinto_account_key(const char *label, struct ds_kinto_key *out);

/* ---- kinto_files.c ------------------------------------------------------------------------- */

/* "files": {"field": "<payload member naming the file>", "dir": "<folder the names are in>"} */
struct ds_kinto_files;

struct ds_kinto_file_result {
	char hash[65];   /* SHA-256 (hex) of the attachment's bytes as stored by the server */
	uint64_t size;   /* the attachment's size */
	int64_t new_ms;  /* upload: the record's version after the attachment was set, 0 unknown */
	char *att;       /* upload: the attachment object's JSON (ds_free it) */
};

/* 0 with *out NULL when the registration has no "files"; -EINVAL when malformed. */
int ds_kinto_files_config(const struct cJSON *cfg, struct ds_kinto_files **out);
void ds_kinto_files_free(struct ds_kinto_files *f);
/* The file a payload names (ds_malloc'd path), NULL when none; -EINVAL for a name leaving dir. */
int ds_kinto_files_path(const struct ds_kinto_files *f, const char *payload, char **path);
/* strlen of the folder: a path from ds_kinto_files_path() has its name after that and a '/'. */
size_t ds_kinto_files_dir_len(const struct ds_kinto_files *f);
int ds_kinto_file_sha256(const char *path, char hex[65], uint64_t *size);
/* POST <base><rec_path>/records/<id>/attachment, streamed from path (sealed with key if set). */
int ds_kinto_file_upload(struct ds_kinto_api *a, const struct ds_kinto_key *key, const char *coll,
			 const char *rec_path, const char *id, const char *path,
			 struct ds_kinto_file_result *res);
struct ds_kinto_upload_opts {
	const char *data; /* NULL, or the record's new "data" (JSON object) written with the file */
	int64_t if_match; /* > 0: only over that version of the record (412: -ESTALE) */
	bool retry_401;   /* internal */
};
/* As ds_kinto_file_upload, with the options above; a 401 on an account token is retried once
 * with a new token. */
int ds_kinto_file_upload_opts(struct ds_kinto_api *a, const struct ds_kinto_key *key,
			      const char *coll, const char *rec_path, const char *id,
			      const char *path, const struct ds_kinto_upload_opts *opts,
			      struct ds_kinto_file_result *res);
/* The attachment object att (JSON text) -> path, resuming "<path>.dspart" left by a cut. */
int ds_kinto_file_download(struct ds_kinto_api *a, const struct ds_kinto_key *key, const char *coll,
			   const char *id, const char *att, size_t att_len, const char *path,
			   struct ds_kinto_file_result *res);

/* ---- kinto_filesync.c ---------------------------------------------------------------------- */

struct ds_kinto_state;
/* After rec was written: its file goes up when it changed since last synced. *new_ms: the
 * record's version after that (0 when nothing was sent). */
int ds_kinto_files_on_written(struct ds_kinto_files *f, struct ds_kinto_api *a,
			      struct ds_kinto_state *st, const struct ds_kinto_key *key,
			      const char *coll, const char *coll_path, const struct ds_record *rec,
			      int64_t *new_ms);
/* The encoded data object of id with its last known attachment added (*out NULL: none). */
int ds_kinto_files_with_att(struct ds_kinto_state *st, const char *id, const char *data, char **out);
/* Sharing: the payload member field lists principals ("account:alice, account:carol") that
 * may read the record -> *out = {"read":[...]} (JSON text, ds_malloc'd), NULL without field. */
int ds_kinto_share_perms(const char *field, const char *payload, char **out);
/* Before rec (decoded from raw) is handed to the core: its attachment comes down if new. */
int ds_kinto_files_on_fetch(struct ds_kinto_files *f, struct ds_kinto_api *a,
			    struct ds_kinto_state *st, const struct ds_kinto_key *key,
			    const char *coll, const char *raw, size_t raw_len,
			    const struct ds_record *rec);

/* A record skipped at fetch as re-encrypted (same payload): its attachment object, sealed now,
 * is what the next write of the row carries, and the file need not come down again. */
int ds_kinto_files_on_skipped(const struct ds_kinto_files *f, struct ds_kinto_state *st,
			      const char *raw, size_t raw_len, const char *id);

/* ---- kinto_migrate.c ----------------------------------------------------------------------- */

/* Member of a re-encrypted record: the cleartext version it replaced (same payload). */
#define DS_KINTO_REENC_FIELD "ds_reenc"

/* Every cleartext record of the collection re-uploaded under key (If-Match on the version
 * read; records with a file: kinto_migrate_files.c); -EKEYREJECTED when records under another
 * key are there, -EAGAIN when records keep changing. Idempotent: records already encrypted are left. */
/* Collection metadata of an encrypted collection: the key's fingerprint. */
#define DS_KINTO_KID_FIELD "datasync_kid"

/* What the switch needs of a collection's remote. */
struct ds_kinto_coll {
	struct ds_kinto_api *api;
	struct ds_kinto_state *state;
	const struct ds_kinto_key *key; /* key->set: the registration encrypts */
	const char *name;
	const char *coll;
	const char *coll_path;
	size_t batch_max;
	unsigned page_size;
	bool shared_reader;
	const char *work_path; /* the state map's path: work files go next to it */
};

/* At prepare, with the collection's metadata: stop a device without the key (or with another)
 * on an encrypted collection; switch a clear one for a device that encrypts. */
int ds_kinto_encryption_prepare(const struct ds_kinto_coll *c, const struct cJSON *meta);

int ds_kinto_reencrypt(struct ds_kinto_api *a, const struct ds_kinto_key *key, const char *coll,
		       const char *coll_path, size_t batch_max, unsigned page_size,
		       const char *work_path, bool with_files);

/* ---- kinto_migrate_files.c ----------------------------------------------------------------- */

struct ds_kinto_reenc {
	struct ds_kinto_api *api;
	const struct ds_kinto_key *key;
	const char *coll;
	const char *coll_path;
	const char *work_path; /* "<work_path>.reenc" holds a clear file while it is switched */
};

/* A clear record (raw, decoded as rec) with its attachment att: the file sealed and the record
 * encrypted in one update, then its leftover null fields dropped. -ESTALE: changed meanwhile. */
int ds_kinto_reenc_file(const struct ds_kinto_reenc *r, const char *raw, size_t raw_len,
			const struct ds_record *rec, const char *att, size_t att_len);
/* An encrypted record left with null clear fields by a cut switch: 1 rewritten without them,
 * 0 nothing to do, -ESTALE changed meanwhile. */
int ds_kinto_reenc_leftover(const struct ds_kinto_reenc *r, const char *raw, size_t raw_len,
			    const char *id, int64_t version);

#endif /* DS_KINTO_PRIV_H */
