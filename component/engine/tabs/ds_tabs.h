/*
 * ds_tabs.h - the tabs engine (Firefox Sync "tabs" collection, docs/engine-tabs.md).
 *
 * One record per device, its id the device's client id (= FxA device id):
 *   {"id", "clientName", "tabs":[{"title","urlHistory":[..],"icon","lastUsed"(s)[,"inactive"]
 *    [,"pinned"]}]}  (sync15.md §8; AS tabs/src/sync/record.rs).
 * The browser hands the device's open tabs to the daemon (ds_client_tabs_set, datasyncctl tabs
 * set); the engine uploads our record when it changed and keeps the other devices' records for
 * the UI (ds_client_tabs_list). Both live in a small SQLite file of the daemon's (the engine
 * option "db"; default DS_TABS_DB_NAME in the data directory), shared with the clients engine.
 *
 * Registration ("engine" object): {"kind":"tabs"[, "db":"<path>"][, "max_payload_bytes":N]}.
 */
#ifndef DS_TABS_H
#define DS_TABS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct ds_engine;
struct sqlite3;

#define DS_TABS_DB_NAME "browser.db"

/* AS tabs/src/sync (storage.rs, mod.rs): what a tab record keeps. */
#define DS_TABS_URL_MAX 65536          /* URI_LENGTH_MAX: longer URLs are dropped */
#define DS_TABS_HISTORY_MAX 5          /* TAB_ENTRIES_LIMIT */
#define DS_TABS_TITLE_MAX 512          /* MAX_TITLE_CHAR_LENGTH, in bytes with the ellipsis */
#define DS_TABS_TTL_S 15552000u        /* TABS_CLIENT_TTL: 180 days */
/* The payload limit when the registration names none: the storage server's documented default
 * max_record_payload_bytes (256 KiB, sync15.md §2; AS InfoConfiguration::default). The record
 * is encrypted before upload, so the cleartext budget is smaller (ds_tabs_cleartext_budget). */
#define DS_TABS_MAX_PAYLOAD_DEFAULT (256u * 1024u)

/* The device this engine writes as: its id (the FxA device id) and name. -ENOENT: unknown yet
 * (not signed in): nothing is uploaded then. */
typedef int (*ds_tabs_device_fn)(char id[65], char name[128], void *user_data);

struct ds_tabs_config {
	const char *db_path;      /* NULL: DS_TABS_DB_NAME in the data directory */
	size_t max_payload_bytes; /* 0: DS_TABS_MAX_PAYLOAD_DEFAULT */
	ds_tabs_device_fn device; /* NULL: the signed-in account's device */
	void *device_user_data;
};

/* ---- records (tabs_record.c, pure) --------------------------------------------------------- */

/*
 * Normalise the browser's list of tabs (a JSON array, or an object with "tabs"): every tab needs
 * a urlHistory whose first URL is syncable (not about:, resource:, chrome:, wyciwyg:, blob:,
 * file:, moz-extension:, data:, at most DS_TABS_URL_MAX bytes); unsyncable entries later in the
 * history are dropped and at most DS_TABS_HISTORY_MAX kept; titles over DS_TABS_TITLE_MAX bytes
 * are cut on a UTF-8 boundary and end with U+2026; lastUsed (seconds; a number or a numeric
 * string) becomes an integer; icon, inactive and pinned are kept when given; tabs are sorted
 * newest first. *out is a new cJSON array. -EINVAL with a reason in why (may be NULL) when the
 * input is not a list of tab objects.
 */
int ds_tabs_normalize(const struct cJSON *in, struct cJSON **out, char *why, size_t why_len);
/* True when a URL may be synced (AS is_url_syncable). */
bool ds_tabs_url_syncable(const char *url);
/* lastUsed of a record as int64 seconds: a number (float allowed) or a numeric string; 0 else. */
int64_t ds_tabs_last_used(const struct cJSON *v);
/* The cleartext budget for a payload limit: the record is encrypted (base64 of AES-CBC, 4/3
 * larger, plus IV and HMAC) before it is counted against max_record_payload_bytes. */
size_t ds_tabs_cleartext_budget(size_t max_payload_bytes);
/*
 * Our record's cleartext for id and name over normalised tabs (newest first), trimmed to the
 * newest tabs whose text fits budget bytes (U7: 5,000 tabs still upload, the oldest left out).
 * New ds_malloc'ed text in *out; *kept: the number of tabs in it (may be NULL).
 */
int ds_tabs_record_build(const char *id, const char *name, const struct cJSON *tabs,
			 size_t budget, char **out, size_t *kept);
/*
 * Another device's record (cleartext JSON) turned into what the UI lists: {"id","clientName",
 * "tabs":[{"title","url","urlHistory","icon","lastUsed","inactive","pinned"}]}, lastUsed an
 * integer whatever the sender wrote. -EBADMSG when it is not a tabs record.
 */
int ds_tabs_record_parse(const char *payload, struct cJSON **out);

/* ---- the local store (tabs_store.c) --------------------------------------------------------- */

/* Open (creating) the engine's SQLite file and its tables. */
int ds_tabs_db_open(const char *path, struct sqlite3 **out);
/* The default path ("<data dir>/browser.db") in a new allocation. */
char *ds_tabs_db_default_path(void);
/*
 * The browser's open tabs, as given (normalised here). 1 when they changed (our record is
 * pending upload), 0 when they equal the stored ones, -EINVAL with why for bad input.
 */
int ds_tabs_local_set(struct sqlite3 *db, const struct cJSON *tabs, int64_t now_ms, char *why,
		      size_t why_len);
/*
 * Other devices' tab records for the UI: {"clients":[{"id","clientName","lastModified"(ms),
 * "tabs":[..]}]}, newest first. Records of devices the clients engine knows as gone (hidden or
 * absent from a clients list it has read) are left out. *out is a new cJSON object.
 */
int ds_tabs_remote_list(struct sqlite3 *db, struct cJSON **out);
/* wipeEngine tabs: the other devices' records go (re-downloaded on the next run). */
int ds_tabs_wipe_remote(struct sqlite3 *db);

/* ---- the engine (tabs_engine.c) ------------------------------------------------------------- */

int ds_tabs_engine_new(const struct ds_tabs_config *cfg, struct ds_engine **out);

/* Dispatcher entries (component/engine/engines.c). */
int ds_tabs_engine_open(const struct cJSON *cfg, struct ds_engine **out);
int ds_tabs_engine_unregister(const struct cJSON *cfg);

#endif /* DS_TABS_H */
