/*
 * ds_sync.h - the sync core: collections, and the engine / remote / transform seams.
 *
 * A collection = an engine (where the data lives on the device) + a remote (the protocol and the
 * server) + an optional transform (client-side crypto) + a policy. One loop serves them all:
 *
 *   prepare remote -> fetch changes since the stored cursor (paged) -> merge each record with
 *   the engine's pending local change and apply it, in local transactions of at most
 *   CONFIG_DS_SYNC_APPLY_CHUNK records as the page arrives -> upload outgoing records with a
 *   precondition (remote unchanged since the cursor; on -ESTALE refetch, re-merge and retry a
 *   bounded number of times) -> commit cursors.
 *
 * A run holds one chunk of fetched records and one upload batch, whatever the size of a page
 * or the number of pending changes: the fetch asks the engine about each record's id
 * (pending()) and the upload reads the pending changes in rounds of one batch (changes_after()
 * stopped with DS_RECORD_STOP).
 *
 * Crash safety rests on two rules, so that a run killed at any instant converges next time:
 *  1. Applying a remote record is idempotent, and the cursor is committed only after the last
 *     chunk of the page committed. The chunks before it may be committed already: a crash, a
 *     cut connection or a failed chunk in the middle of a page leaves the page's first chunks
 *     applied (with the pending changes they settled forgotten) and the cursor at the page's
 *     start; the next run fetches the whole page again and re-applies them, which changes
 *     nothing (no pending change left, or one the same rule keeps again). So a remote hands a
 *     record to the core only once that record is verified on its own: a check that covers a
 *     whole page must pass before the page's first record goes out.
 *  2. A local change is forgotten only after the remote acknowledged it, and only up to the
 *     change counter that was uploaded (edits made during the upload stay pending). A crash
 *     after the upload but before that re-uploads nothing new: the next fetch returns our own
 *     record, which equals the local row, and the pending change is simply marked done.
 */
#ifndef DS_SYNC_H
#define DS_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct ds_store;

/* ---- records -------------------------------------------------------------------------------- */

/*
 * One record as it travels between engine, core and remote. payload is cleartext JSON text
 * (the engine's format) or NULL for a tombstone. Strings are owned by whoever filled the struct;
 * ds_record_clear() frees ones allocated with ds_malloc.
 */
struct ds_record {
	char *id;
	char *payload;        /* NUL-terminated JSON; NULL when deleted */
	bool deleted;         /* tombstone */
	int64_t modified_ms;  /* remote: server time of the last write; local: time of the change */
	uint64_t change_seq;  /* local side: the change-log counter this version corresponds to */
	/* Local side, for remotes that keep them (Sync 1.5 BSO "ttl" and "sortindex"): seconds the
	 * server may keep this version (0: no expiry), and its rank in "sort=index" reads (0: none
	 * sent, the server's default). Set by the engine; other remotes ignore them. */
	uint32_t ttl_s;
	int32_t sortindex;
};

void ds_record_clear(struct ds_record *r);
int ds_record_copy(struct ds_record *dst, const struct ds_record *src);

/* Callback used by engines and remotes to hand records to the core, one at a time.
 * Returning a negative errno stops the enumeration and is passed back to the caller.
 * Returning DS_RECORD_STOP ends an engine's changes()/changes_after() early, which then
 * returns 0: the core reads pending changes in bounded rounds with it. */
typedef int (*ds_record_cb)(const struct ds_record *r, void *user_data);
#define DS_RECORD_STOP 1

/* ---- engine: the local side ----------------------------------------------------------------- */

struct ds_engine;

/* The pending local change of one id, as engine->pending() reports it. */
struct ds_pending_info {
	uint64_t change_seq;  /* change-log counter of the id's newest pending change */
	int64_t modified_ms;  /* time of that change; 0 = unknown (logged by mark_all) */
	bool deleted;         /* that change deleted the row */
};

struct ds_engine_ops {
	const char *kind; /* "table", "bookmarks", ... */
	/* Check the local data is reachable and its schema is what was registered. */
	int (*prepare)(struct ds_engine *e);
	/* Local transaction around apply + forget; an engine without transactions returns 0. */
	int (*begin)(struct ds_engine *e);
	int (*commit)(struct ds_engine *e);
	int (*rollback)(struct ds_engine *e);
	/*
	 * Enumerate every pending local change: one record per id, its current state (payload,
	 * or a tombstone when the row is gone), change_seq and modified_ms of its newest change.
	 * The order is ascending change_seq, ties in an order the engine keeps fixed; an id
	 * edited during the enumeration moves to the end with its new counter.
	 */
	int (*changes)(struct ds_engine *e, ds_record_cb cb, void *user_data);
	/*
	 * The same enumeration resumed strictly after the change (after_seq, after_id) that an
	 * earlier enumeration delivered, whether or not that change is still pending; after_id
	 * NULL starts at the beginning. With DS_RECORD_STOP this pages through the pending
	 * changes without holding them: the core's upload reads at most one batch at a time.
	 */
	int (*changes_after)(struct ds_engine *e, uint64_t after_seq, const char *after_id,
			     ds_record_cb cb, void *user_data);
	/* The pending change of one id: 0 and *out filled, or -ENOENT when it has none. The
	 * fetch phase calls it inside begin/commit, so the answer holds until the commit. */
	int (*pending)(struct ds_engine *e, const char *id, struct ds_pending_info *out);
	/* Current local state of one record: 0 and *out filled, or -ENOENT. */
	int (*get)(struct ds_engine *e, const char *id, struct ds_record *out);
	/* Apply a remote record (insert/update, or delete for a tombstone) without logging it as a
	 * local change. Must be idempotent. Called inside begin/commit. */
	int (*apply)(struct ds_engine *e, const struct ds_record *r);
	/* Forget the pending change of id up to and including change_seq. Inside begin/commit. */
	int (*forget)(struct ds_engine *e, const char *id, uint64_t change_seq);
	/* Optional per-engine merge for DS_CONFLICT_MERGE: write the merged record into *out. */
	int (*merge)(struct ds_engine *e, const struct ds_record *local, const struct ds_record *remote,
		     struct ds_record *out);
	/* Log every existing row as a pending change (first sync of the collection, or after the
	 * remote was wiped and the user chose to re-upload). Rows already pending keep their entry;
	 * newly marked ones carry modified_ms 0 (age unknown: older than any remote version). */
	int (*mark_all)(struct ds_engine *e);
	/* Optional (NULL: the engine cannot wipe; a wipe request then only resets). Remove every
	 * local item of the collection and drop its pending changes, without logging the removals
	 * as local changes: nothing goes up as a deletion, the next sync brings the server's copy
	 * back. Called inside begin/commit (the clients engine's wipeEngine command). */
	int (*wipe)(struct ds_engine *e);
	void (*close)(struct ds_engine *e);
};

struct ds_engine {
	const struct ds_engine_ops *ops;
	void *priv;
};

/* ---- remote: the server side ---------------------------------------------------------------- */

struct ds_remote;

/*
 * Cursors are opaque strings owned by the remote (a batch sequence for dir, an int64 ms server
 * timestamp for Sync 1.5 and Kinto). "" means "from the beginning".
 */
#define DS_CURSOR_MAX 64

struct ds_remote_info {
	/* Identity of the remote collection's current incarnation. When it differs from the one
	 * stored with the cursor, the remote was wiped or recreated: the core refuses to turn
	 * that into local deletions and reports it. */
	char epoch[DS_CURSOR_MAX];
	/* The newest cursor the remote has now (for "nothing changed" shortcuts). */
	char latest[DS_CURSOR_MAX];
	/* Largest batch the remote takes in one upload (records), 0 = no limit. */
	size_t max_batch;
};

struct ds_fetch_page {
	char next_cursor[DS_CURSOR_MAX]; /* cursor after this page */
	bool more;                       /* another page follows */
};

struct ds_upload_result {
	char new_cursor[DS_CURSOR_MAX];  /* cursor that includes our own write */
	int64_t modified_ms;             /* server time given to the uploaded records */
	size_t accepted;                 /* records the remote took */
	size_t failed;                   /* records it refused (reported, kept pending) */
};

struct ds_remote_ops {
	const char *kind; /* "dir", "sync15", "kinto", ... */
	/* Create the remote collection if needed and describe it. */
	int (*prepare)(struct ds_remote *r, struct ds_remote_info *info);
	/* One page of changes after cursor; each record goes to cb in server order. */
	int (*fetch)(struct ds_remote *r, const char *cursor, ds_record_cb cb, void *user_data,
		     struct ds_fetch_page *page);
	/* Upload n records only if the remote is unchanged since cursor; else -ESTALE and nothing
	 * is written. */
	int (*upload)(struct ds_remote *r, const char *cursor, const struct ds_record *recs, size_t n,
		      struct ds_upload_result *res);
	/* Seconds the server asked us to wait (Retry-After/Backoff), 0 if none. */
	int64_t (*backoff_s)(struct ds_remote *r);
	/* Optional: the part of backoff_s that binds a person's request too (Retry-After, a 503);
	 * the rest is a soft backoff (Sync 1.5 X-Weave-Backoff: the remaining collections wait, a
	 * person's sync may go). NULL: all of backoff_s is hard. */
	int64_t (*hard_backoff_s)(struct ds_remote *r);
	/* Optional: judge a stored epoch that differs from the prepared one (NULL: refuse, see
	 * struct ds_remote_info). DS_EPOCH_RESET when the remote's protocol says the collection
	 * starts over there without loss (Sync 1.5: the account moved to another storage node):
	 * the core resets the collection's state as ds_sync_reset() does (every local record
	 * pending, cursor forgotten) and syncs on. DS_EPOCH_REFUSE: wiped or replaced. */
	int (*epoch_changed)(struct ds_remote *r, const char *stored, const char *now);
	/* Optional: the remote's own words about its last failure ("storage version 6 ...:
	 * upgrade datasync", a server's end-of-life alert), NULL or "" if none. A failed run's
	 * message carries them in place of the bare errno text. */
	const char *(*message)(struct ds_remote *r);
	/* Optional: the metadata store of the run about to start, and NULL when it ends, for a
	 * remote that keeps small state there across restarts (Sync 1.5: a server's 401 backoff).
	 * The store belongs to the caller's thread; the remote must not keep it past the run. */
	void (*attach_store)(struct ds_remote *r, struct ds_store *store);
	void (*close)(struct ds_remote *r);
};

enum { DS_EPOCH_REFUSE = 0, DS_EPOCH_RESET = 1 };

struct ds_remote {
	const struct ds_remote_ops *ops;
	void *priv;
};

/* ---- transform: optional client-side crypto between core and remote ------------------------- */

struct ds_transform;

struct ds_transform_ops {
	const char *kind;
	/* Cleartext record -> record for the remote (payload replaced). */
	int (*encode)(struct ds_transform *t, const struct ds_record *in, struct ds_record *out);
	/* Remote record -> cleartext; -EBADMSG when it fails its integrity check. */
	int (*decode)(struct ds_transform *t, const struct ds_record *in, struct ds_record *out);
	void (*close)(struct ds_transform *t);
};

struct ds_transform {
	const struct ds_transform_ops *ops;
	void *priv;
};

/* ---- policy --------------------------------------------------------------------------------- */

enum ds_direction {
	DS_DIR_TWO_WAY = 0,
	DS_DIR_IMPORT_ONLY, /* remote -> device; local changes are never uploaded */
	DS_DIR_EXPORT_ONLY, /* device -> remote; remote changes are never applied */
};

enum ds_conflict {
	DS_CONFLICT_SERVER_WINS = 0,
	DS_CONFLICT_CLIENT_WINS,
	DS_CONFLICT_NEWEST_WINS, /* by modified_ms; ties go to the server */
	DS_CONFLICT_MERGE,       /* the engine's merge function */
};

struct ds_policy {
	enum ds_direction direction;
	enum ds_conflict conflict;
	unsigned max_retries; /* -ESTALE refetch/re-merge rounds, default 3 */
};

const char *ds_direction_name(enum ds_direction d);
int ds_direction_parse(const char *s, enum ds_direction *out);
const char *ds_conflict_name(enum ds_conflict c);
int ds_conflict_parse(const char *s, enum ds_conflict *out);

/* ---- collections and runs ------------------------------------------------------------------- */

struct ds_collection {
	char *name;
	struct ds_engine *engine;
	struct ds_remote *remote;
	struct ds_transform *transform; /* NULL: cleartext */
	struct ds_policy policy;
};

struct ds_run_stats {
	int64_t started_ms;   /* wall clock */
	int64_t finished_ms;
	unsigned long fetched;   /* remote records received */
	unsigned long applied;   /* applied locally */
	unsigned long uploaded;  /* accepted by the remote */
	unsigned long conflicts; /* both sides changed */
	unsigned long errors;    /* records skipped: undecryptable, malformed, refused */
	int result;              /* 0 or -errno */
	char message[256];       /* one readable line about the outcome */
};

/* Progress callback for a UI: done out of total (total 0 = unknown). */
typedef void (*ds_progress_fn)(const char *collection, const char *phase, unsigned long done,
			       unsigned long total, void *user_data);

/*
 * Run one sync of a collection. State (cursor, epoch) comes from and goes to the store;
 * the stats are recorded there too. Returns 0 or a negative errno (also in stats->result).
 */
int ds_sync_run(struct ds_collection *c, struct ds_store *store, struct ds_run_stats *stats,
		ds_progress_fn progress, void *user_data);

/*
 * Build a collection from its registration (JSON as stored by ds_store_collection_put):
 *   {"name":"alarms", "title":"Alarms", "engine":{"kind":"table",...},
 *    "remote":{"kind":"dir",...}, "direction":"two-way", "conflict":"newest-wins"}
 * device_id names this device to remotes that need it (stable, random, from the store).
 * Engines and remotes not compiled in give -ENOTSUP.
 */
int ds_collection_open(const struct cJSON *reg, const char *device_id, struct ds_collection **out);
void ds_collection_close(struct ds_collection *c);

/*
 * Reset after the remote was wiped or replaced (the core refuses to sync such a collection and
 * says so): forget the cursor and epoch, and log every local record as a pending change, so the
 * next run re-uploads the device's data. Never deletes local data.
 */
int ds_sync_reset(struct ds_collection *c, struct ds_store *store);

/* Factories and registration hooks, dispatching on "kind" to the compiled engines/remotes
 * (component/engine/engines.c, component/remote/remotes.c). */
int ds_engine_open(const struct cJSON *cfg, struct ds_engine **out);
/* Remove what the engine installed in the app's data (triggers, side tables); never the data. */
int ds_engine_unregister(const struct cJSON *cfg);
int ds_remote_open(const struct cJSON *cfg, const char *collection, const char *device_id,
		   struct ds_remote **out);
/*
 * Before a registration is stored: turn secrets in the remote's config (e.g. "passphrase") into
 * sealed port secrets, replacing them in cfg by a reference. Nothing secret is left in cfg.
 */
int ds_remote_enroll(struct cJSON *cfg, const char *collection);
/* On unregister: erase the sealed secrets the remote enrolled. */
int ds_remote_forget(const struct cJSON *cfg, const char *collection);

#endif /* DS_SYNC_H */
