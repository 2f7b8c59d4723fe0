/*
 * ds_sync15.h - internals of the Firefox Sync 1.5 remote, shared by its files and unit tests.
 *
 * Layers, bottom up (docs/remote-sync15.md):
 *   bso.c             server timestamps (int64 ms), BSO JSON, record ids in URLs
 *   keys.c            key bundles, storage format 5 payloads, crypto/keys, the record transform
 *   storage_client.c  one request to the storage node: Hawk, 401 -> one new token, backoff
 *                     headers, alerts; info/configuration; the upload queue (batch API)
 *   global_state.c    meta/global and crypto/keys: the setup state machine, fresh start
 *   sync15_remote.c   ds_remote_ops over the above
 *   sync15_account.c  credentials from the signed-in Firefox Account (OAuth + tokenserver)
 *
 * Protocol facts are cited from sync15.md's sources: DOCS storage/apis-1.5.rst and
 * sync/storageformat5.rst, application-services sync15 (AS), Firefox desktop (DESK).
 */
#ifndef DS_SYNC15_H
#define DS_SYNC15_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/ds_http.h"
#include "sync/ds_sync.h"

struct cJSON;

#define DS_SYNC15_STORAGE_VERSION 5
#define DS_SYNC15_SYNCID_LEN 12 /* 9 random bytes as base64url (AS random_guid) */
#define DS_SYNC15_ID_MAX 64     /* BSO ids: at most 64 printable ASCII characters */
#define DS_SYNC15_TS_MAX 24     /* "-9223372036854775.807" and a NUL fit */

/* ---- timestamps and BSOs (bso.c) ------------------------------------------------------------ */

/*
 * Server timestamps are decimal seconds with up to two decimals ("1388635807.41"). Kept as int64
 * milliseconds, parsed as round(seconds * 1000) without going through a double, and printed back
 * as the shortest exact decimal ("1388635807.41", "1388635807" for whole seconds), which is what
 * AS sync15/src/server_timestamp.rs prints. -EINVAL for anything else (empty, sign, exponent).
 */
int ds_sync15_ts_parse(const char *s, int64_t *ms);
void ds_sync15_ts_format(int64_t ms, char out[DS_SYNC15_TS_MAX]);
/* The same for a JSON number (info/collections values, a BSO's "modified"). */
int ds_sync15_ts_from_json(const struct cJSON *n, int64_t *ms);

/* A BSO id the API accepts: 1-64 characters 0x20..0x7E except ',' (AS support/guid). */
bool ds_sync15_id_valid(const char *id);
/* Percent-encode everything but RFC 3986 unreserved characters; desktop ids carry braces. */
char *ds_sync15_url_escape(const char *s);

struct ds_sync15_bso {
	char *id;
	char *payload;   /* the payload string as stored (encrypted JSON text) */
	int64_t modified_ms;
	long sortindex;
	bool has_sortindex;
};

void ds_sync15_bso_clear(struct ds_sync15_bso *b);
/* One BSO object of a GET answer. -EPROTO when id/payload/modified are missing or malformed. */
int ds_sync15_bso_from_json(const struct cJSON *o, struct ds_sync15_bso *out);
/* '{"id":..,"payload":..[,"sortindex":..][,"ttl":..]}' in a new allocation; ttl_s <= 0: none. */
char *ds_sync15_bso_to_json(const char *id, const char *payload, const long *sortindex,
			    long ttl_s);
/* The string member key of o; NULL when o is no object or key no string. */
const char *ds_sync15_json_str(const struct cJSON *o, const char *key);
/* cJSON's unformatted text of o (NULL: none) copied into our allocator, for ds_free(); cJSON's
 * own copy is wiped before it goes (it may hold keys). NULL when out of memory. */
char *ds_sync15_json_print(const struct cJSON *o);

/* ---- key bundles and storage format 5 (keys.c) ---------------------------------------------- */

struct ds_sync15_keybundle {
	uint8_t enc[32];
	uint8_t hmac[32];
};

/* Sync Key Bundle from kSync (64 bytes): enc = kSync[0:32], hmac = kSync[32:64]. */
void ds_sync15_keybundle_from_ksync(const uint8_t ksync[64], struct ds_sync15_keybundle *kb);
int ds_sync15_keybundle_random(struct ds_sync15_keybundle *kb);
void ds_sync15_keybundle_wipe(struct ds_sync15_keybundle *kb);

/*
 * Encrypt cleartext (UTF-8 JSON text) into the payload string {"ciphertext","IV","hmac"}.
 * iv NULL: 16 random bytes (tests pass a fixed one). New allocation in *out.
 */
int ds_sync15_encrypt(const struct ds_sync15_keybundle *kb, const char *clear, size_t len,
		      const uint8_t *iv, char **out);
/*
 * Verify the HMAC of a payload string in constant time (either hex case), then decrypt. Never
 * decrypts on a mismatch. -EBADMSG: HMAC mismatch or bad padding; -EILSEQ: not a payload of
 * format 5 (missing fields, bad base64/hex). *out is a NUL-terminated allocation of *len bytes.
 */
int ds_sync15_decrypt(const struct ds_sync15_keybundle *kb, const char *payload, char **out,
		      size_t *len);

/* crypto/keys: the default bundle and per-collection ones. */
struct ds_sync15_keyring {
	struct ds_sync15_keybundle def;
	size_t n;
	char **names;
	struct ds_sync15_keybundle *colls;
};

void ds_sync15_keyring_clear(struct ds_sync15_keyring *kr);
/* The bundle for a collection: its own entry, else the default (AS collection_keys.rs). */
const struct ds_sync15_keybundle *ds_sync15_keyring_get(const struct ds_sync15_keyring *kr,
							 const char *collection);
/* Parse decrypted crypto/keys cleartext. -EILSEQ when malformed (wrong lengths, no default). */
int ds_sync15_keyring_parse(const char *clear, struct ds_sync15_keyring *out);
/* A new keyring with a random default bundle only (fresh start). */
int ds_sync15_keyring_new_random(struct ds_sync15_keyring *out);
/* Its cleartext {"id":"keys","collection":"crypto","default":[..],"collections":{..}}. */
char *ds_sync15_keyring_to_json(const struct ds_sync15_keyring *kr);
/* Decrypt the crypto/keys payload with the Sync Key Bundle and parse it. */
int ds_sync15_keyring_decrypt(const struct ds_sync15_keybundle *sync_kb, const char *payload,
			      struct ds_sync15_keyring *out);
/* Encrypt a keyring into a crypto/keys payload under the Sync Key Bundle. */
int ds_sync15_keyring_encrypt(const struct ds_sync15_keybundle *sync_kb,
			      const struct ds_sync15_keyring *kr, char **payload);
bool ds_sync15_keyring_equal(const struct ds_sync15_keyring *a, const struct ds_sync15_keyring *b);

/*
 * The record transform (ds_sync.h) over one key bundle: encode turns a cleartext record into
 * one whose payload is the encrypted payload string (a tombstone becomes the encrypted
 * {"id","deleted":true}); decode verifies, decrypts, checks the cleartext id equals the BSO id
 * (DESK CryptoWrapper; else -EBADMSG) and turns {"deleted":true} into a tombstone. The bundle is
 * copied; ds_sync15_transform_set_keys() replaces it (keys rotated).
 */
int ds_sync15_transform_new(const struct ds_sync15_keybundle *kb, struct ds_transform **out);
void ds_sync15_transform_set_keys(struct ds_transform *t, const struct ds_sync15_keybundle *kb);

/* ---- credentials ---------------------------------------------------------------------------- */

struct ds_sync15_creds {
	char endpoint[512]; /* api_endpoint, no trailing '/' */
	char hawk_id[1024];
	char hawk_key[128];  /* its ASCII bytes are the Hawk key (a secret) */
	int64_t skew_s;      /* server clock - ours */
	bool node_reassigned;
};

/* This device in the clients collection (sync15_clients.c). */
struct ds_sync15_device {
	char id[65];    /* the FxA device id: also the client record's id */
	char name[128];
	char type[16];  /* "tv", "mobile" (Firefox's client record types) */
};

/*
 * Where the storage credentials and kSync come from: the signed-in account
 * (sync15_account.c), or a test's fixed values. Called from the sync worker thread only.
 */
struct ds_sync15_auth_ops {
	/* A token; fresh: drop the cached one first (the storage node answered 401). */
	int (*token)(void *ctx, bool fresh, struct ds_sync15_creds *out);
	/* kSync of the account (64 bytes), wiped by the caller after use. */
	int (*ksync)(void *ctx, uint8_t out[64]);
	/* Human-readable reason of the last failure ("" if none). */
	const char *(*error)(void *ctx);
};

struct ds_sync15_auth {
	const struct ds_sync15_auth_ops *ops;
	void *ctx;
};

/* Why a call of a's ops failed with rc: the provider's own words, else rc's. */
const char *ds_sync15_auth_error(const struct ds_sync15_auth *a, int rc);

/* The signed-in account's provider (process-wide, caches the token). NULL without accounts. */
struct ds_sync15_account_config {
	const char *fxa_url;         /* NULL: CONFIG_DS_ACCOUNT_FXA_URL */
	const char *tokenserver_url; /* NULL: CONFIG_DS_ACCOUNT_TOKENSERVER_URL */
	const char *ca_bundle;       /* NULL: the HTTP client's default */
};
int ds_sync15_account_auth(const struct ds_sync15_account_config *cfg, struct ds_sync15_auth *out);
/*
 * The servers the device's account uses when a registration names none (datasyncd's
 * [accounts] fxa_url, tokenserver_url, ca_bundle; NULL fields: the Kconfig defaults). Copied.
 * -EINVAL when a value is too long (nothing changes then).
 */
int ds_sync15_account_set_servers(const struct ds_sync15_account_config *cfg);
/* This device as the signed-in account knows it (FxA device id, name, type); -ENOENT when the
 * device was never registered with the account, -ENOKEY when signed out. */
int ds_sync15_account_device(struct ds_sync15_device *out);
/* The daemon's CA bundle (for the storage nodes too) copied into out: its length, 0 for none. */
int ds_sync15_account_ca_bundle(char *out, size_t cap);
/*
 * A remote using auth closes (its run is over): when auth is the account's provider, what is
 * only needed during a run goes (the tokenserver client's context and trust store); the cached
 * tokens stay. Nothing for other providers.
 */
void ds_sync15_account_idle(const struct ds_sync15_auth *auth);

/* ---- the storage client (storage_client.c) -------------------------------------------------- */

/* How requests reach the server: the HTTP client, or a test's in-process fake. */
struct ds_sync15_transport {
	int (*perform)(void *ctx, const struct ds_http_request *req, struct ds_http_response *resp);
	void *ctx;
};

/* info/configuration; SIZE_MAX = no limit. */
struct ds_sync15_limits {
	size_t max_request_bytes;
	size_t max_post_records;
	size_t max_post_bytes;
	size_t max_total_records;
	size_t max_total_bytes;
	size_t max_record_payload_bytes;
};

/* The documented defaults: request 260 KiB, payload 256 KiB (AS InfoConfiguration::default),
 * 100 records per POST (DOCS: a POST takes at most 100 BSOs by default), the rest unlimited. */
void ds_sync15_limits_default(struct ds_sync15_limits *l);
/* Parse an info/configuration answer over the defaults. -EPROTO when it is not an object. */
int ds_sync15_limits_parse(const char *json, struct ds_sync15_limits *l);

struct ds_sync15_client;

struct ds_sync15_client_config {
	struct ds_sync15_auth auth;
	const struct ds_sync15_transport *transport; /* NULL: a ds_http client */
	const char *ca_bundle;                       /* for that client; NULL: its default */
};

int ds_sync15_client_new(const struct ds_sync15_client_config *cfg, struct ds_sync15_client **out);
void ds_sync15_client_free(struct ds_sync15_client *c);

/*
 * One request, path relative to the api_endpoint ("info/collections", "storage/meta/global").
 * xius_ms >= 0 sends X-If-Unmodified-Since (0 = create only). body NULL: none; a body is sent
 * as application/json. Returns 0 with *resp filled for the statuses a caller interprets (2xx,
 * 304, 400, 404, 409, 412, 413), else a negative errno with a message (ds_sync15_client_error):
 *   -EACCES  401 twice in a row (one new token in between): back off 15 min (DESK)
 *   -EAGAIN  503 or 429 (Retry-After / X-Weave-Backoff in backoff_s)
 *   -ENOTSUP 513, or an X-Weave-Alert with code hard-eol: the service is gone; stop and say why
 *   -EIO     other 5xx;  -EPROTO other statuses;  transport errnos
 * Every response's X-Weave-Backoff and Retry-After raise ds_sync15_client_backoff_s(), and its
 * X-Weave-Timestamp corrects the Hawk clock.
 */
int ds_sync15_request(struct ds_sync15_client *c, const char *method, const char *path,
		      int64_t xius_ms, const char *body, size_t body_len,
		      struct ds_http_response *resp);
/* The api_endpoint in use ("" before the first token). */
const char *ds_sync15_client_endpoint(const struct ds_sync15_client *c);
/* True once since the last call when the token came with a new api_endpoint. */
bool ds_sync15_client_take_reassigned(struct ds_sync15_client *c);
/* The longest wait asked so far (soft or hard), and the hard part of it: Retry-After, a 503,
 * the 401 backoff. X-Weave-Backoff alone is soft: it stops the remaining collections of this
 * sync, but a person's own request may go (sync15.md §6, AT-13). */
int64_t ds_sync15_client_backoff_s(const struct ds_sync15_client *c);
int64_t ds_sync15_client_hard_backoff_s(const struct ds_sync15_client *c);
void ds_sync15_client_raise_backoff(struct ds_sync15_client *c, int64_t s);      /* hard */
void ds_sync15_client_raise_soft_backoff(struct ds_sync15_client *c, int64_t s); /* soft */
const char *ds_sync15_client_error(const struct ds_sync15_client *c);
void ds_sync15_client_set_error(struct ds_sync15_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
unsigned long ds_sync15_client_requests(const struct ds_sync15_client *c);
/* The storage answer's X-Last-Modified, or -1. */
int64_t ds_sync15_last_modified(const struct ds_http_response *resp);
/* The weave error code of a 400 body (an integer), or -1. */
int ds_sync15_weave_code(const struct ds_http_response *resp);

/* GET info/configuration: 404 -> defaults (AS). */
int ds_sync15_get_limits(struct ds_sync15_client *c, struct ds_sync15_limits *l);
/* GET info/collections: {name: ts}. 404 -> an empty object. *out is a new cJSON object. */
int ds_sync15_get_info_collections(struct ds_sync15_client *c, struct cJSON **out);

/*
 * The upload queue (AS PostQueue, DESK PostQueue): records go out in POSTs sized by the post
 * limits, grouped into batches (batch=true, batch=<id>, commit=true) sized by the total limits,
 * every POST with X-If-Unmodified-Since. A server that answers the first POST with 200 and no
 * batch id has no batching: every POST then commits on its own.
 */
struct ds_sync15_upload_stats {
	size_t accepted;  /* committed and listed in "success" */
	size_t failed;    /* in "failed", in neither list, or too large to send */
	size_t too_large; /* of which over max_record_payload_bytes / max_request_bytes */
	unsigned long posts;
	unsigned long commits;
	int64_t modified_ms; /* X-Last-Modified of the last commit, -1 before */
};

struct ds_sync15_post_queue;

int ds_sync15_post_queue_new(struct ds_sync15_client *c, const char *collection,
			     const struct ds_sync15_limits *l, int64_t xius_ms,
			     struct ds_sync15_post_queue **out);
/* Queue one BSO (its JSON and payload length). -ESTALE (412), -EMSGSIZE, ... from a flush. */
int ds_sync15_post_queue_add(struct ds_sync15_post_queue *q, const char *id, const char *bso_json,
			     size_t payload_len);
/* Send what is queued and commit the open batch. */
int ds_sync15_post_queue_flush(struct ds_sync15_post_queue *q);
const struct ds_sync15_upload_stats *ds_sync15_post_queue_stats(const struct ds_sync15_post_queue *q);
void ds_sync15_post_queue_free(struct ds_sync15_post_queue *q);

/* ---- global state (global_state.c) ---------------------------------------------------------- */

/* One engine of the DEFAULT_ENGINES of AS (name and version); a new meta/global lists all. */
struct ds_sync15_engine_def {
	const char *name;
	int version;
};
extern const struct ds_sync15_engine_def ds_sync15_default_engines[];

/* The verified state of the account on its storage node, shared by the collections' runs. */
struct ds_sync15_global {
	bool ready;
	char endpoint[512];        /* the node this state belongs to */
	struct cJSON *meta;        /* meta/global payload, unknown fields kept */
	int64_t meta_modified_ms;
	int64_t keys_modified_ms;
	struct ds_sync15_keyring keys;
	struct ds_sync15_limits limits;
	int64_t last_hmac_refetch_mono_ms; /* DESK HMAC_EVENT_INTERVAL */
	int64_t client_put_mono_ms;        /* our clients record written at this state, 0: not yet */
};

void ds_sync15_global_clear(struct ds_sync15_global *g);

/* What the device wants of one collection during setup. */
struct ds_sync15_setup {
	const char *collection;
	int engine_version;
	bool may_write;  /* false: never fresh start or fix meta/global (read-only import) */
	bool enable;     /* the person enabled it here: take it out of "declined" */
};

/*
 * Bring g to Ready (AS client/state.rs): info/configuration, info/collections, meta/global,
 * crypto/keys, with a fresh start when meta/global or crypto/keys is missing or the storage
 * version is below 5, and the loop guard (a second fresh start in one call: -EAGAIN). The
 * cached g is kept when the info/collections meta and crypto timestamps equal its own exactly.
 * Fills *info (the caller's info/collections, kept for the collection's timestamp).
 * Errors, each with a client message: -EPROTONOSUPPORT storage version above 5 ("upgrade"),
 * -EBADMSG crypto/keys does not decrypt with this account's key, -ECANCELED the collection is
 * declined, -EAGAIN the setup raced with another client, plus request errors.
 */
int ds_sync15_global_setup(struct ds_sync15_client *c, struct ds_sync15_global *g,
			   const struct ds_sync15_setup *s, const uint8_t ksync[64],
			   struct cJSON **info);

/* A re-read of crypto/keys after an HMAC failure is allowed at now, monotonic ms (DESK
 * HMAC_EVENT_INTERVAL). */
bool ds_sync15_keys_refetch_due(const struct ds_sync15_global *g, int64_t now);
/*
 * Re-read crypto/keys after a record failed its HMAC (DESK handleHMACEvent): 1 when the keys
 * changed (retry the record with them), 0 when they are the same (the record is bad), or an
 * errno. At most once per CONFIG_DS_REMOTE_SYNC15_HMAC_REFETCH_S: later calls answer 0 at once.
 */
int ds_sync15_global_refetch_keys(struct ds_sync15_client *c, struct ds_sync15_global *g,
				  const uint8_t ksync[64]);

/*
 * Pure helpers of meta/global (tested alone): a new meta/global with every default engine and
 * the given extra one; the engine's entry ({version, syncID}) or NULL; declined as listed.
 */
struct cJSON *ds_sync15_meta_new(const char *extra_engine, int extra_version);
const struct cJSON *ds_sync15_meta_engine(const struct cJSON *meta, const char *name);
bool ds_sync15_meta_declined(const struct cJSON *meta, const char *name);
/*
 * Make the collection usable in meta: "engines" gets an entry with a new syncID when it has none
 * (and when enable is set the name leaves "declined"), other engines and unknown fields are
 * untouched; an engine in both lists stays in engines and leaves declined (DOCS: engines wins).
 * Returns 1 when meta changed (it must be written back), 0 when not.
 */
int ds_sync15_meta_fixup(struct cJSON *meta, const char *name, int version, bool enable);
int ds_sync15_new_syncid(char out[DS_SYNC15_SYNCID_LEN + 1]);

/* ---- the device's own client record (sync15_clients.c) ------------------------------------- */

/* Client records live 180 days on the server and are refreshed weekly (AS clients_engine and
 * DESK CLIENTS_TTL, CLIENTS_TTL_REFRESH; sync15.md AT-16). */
#define DS_SYNC15_CLIENT_TTL_S 15552000L
#define DS_SYNC15_CLIENT_REFRESH_MS (7LL * 24 * 3600 * 1000)

/* The cleartext of our client record: {"id","name","type","version","protocols":["1.5"],
 * "commands":[],"fxaDeviceId"}. New allocation or NULL. */
char *ds_sync15_client_record(const struct ds_sync15_device *d);
/*
 * Write our client record (encrypted with the clients collection's key) to storage/clients/<id>
 * unless g already holds one written less than DS_SYNC15_CLIENT_REFRESH_MS ago. 0 when written
 * or not needed, 1 when the account declines clients, or a request errno.
 */
int ds_sync15_client_put(struct ds_sync15_client *c, struct ds_sync15_global *g,
			 const struct ds_sync15_device *d);
/* The clients engine writes our record from now on in this process, commands included: the
 * remote's own writer stands down (one writer of our record). */
void ds_sync15_client_engine_active(void);

/* ---- the remote (sync15_remote.c) ---------------------------------------------------------- */

struct ds_sync15_remote_config {
	const char *collection;     /* the Sync collection ("bookmarks", "history", ...) */
	int engine_version;         /* meta/global engines.<collection>.version */
	bool read_only;             /* never creates or fixes the Sync user's setup */
	bool enable;                /* take the collection out of "declined" */
	unsigned page_records;      /* download page size; 0: CONFIG_DS_REMOTE_SYNC15_PAGE_RECORDS */
	struct ds_sync15_auth auth;
	const struct ds_sync15_transport *transport; /* NULL: HTTP */
	const char *ca_bundle;
	/* Optional: this device, for its record in the clients collection (sync15_clients.c).
	 * NULL, or -ENOENT from it: no client record is written. */
	int (*device)(struct ds_sync15_device *out);
	/* Shared state across the collections' runs; NULL: the process-wide one. */
	struct ds_sync15_global *global;
};

int ds_sync15_remote_new(const struct ds_sync15_remote_config *cfg, struct ds_remote **out);
/* The last failure in words ("" if none); e.g. "... upgrade datasync" for storage version 6. */
const char *ds_sync15_remote_error(struct ds_remote *r);
struct ds_sync15_client *ds_sync15_remote_client(struct ds_remote *r);
/* Records skipped because they failed to decrypt (also counted in the run's errors). */
unsigned long ds_sync15_remote_undecryptable(struct ds_remote *r);

#endif /* DS_SYNC15_H */
