/*
 * ds_store.h - the agent's own metadata store: registered collections, cursors, run results,
 * and small key/value state. One SQLite file in the data directory, WAL mode, schema versioned
 * with PRAGMA user_version and migrated forward on open.
 *
 * The store never holds user data or secrets: records stay in the app's or browser's own
 * database, keys and tokens go through ds_port_secret_*().
 */
#ifndef DS_STORE_H
#define DS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct ds_run_stats;
struct ds_store;

/*
 * SQLite through the port (store_vfs.c, CONFIG_DS_PORT_FAULT_HOOK only): registers, once and
 * thread-safely, a VFS named DS_STORE_VFS_NAME over SQLite's default one as the new default, so
 * every database opened afterwards (the store's, the engines' app and browser databases, their
 * journals and WAL files) asks the port's fault hook before each write, truncate, sync, delete
 * and journal creation. ds_store_open() calls it; code that opens an SQLite database before
 * any store is opened calls it first. 0 or -errno. Without the hook there is nothing to route:
 * a no-op, and SQLite's default VFS is used directly.
 */
#define DS_STORE_VFS_NAME "ds-port"
#ifdef CONFIG_DS_PORT_FAULT_HOOK
int ds_store_vfs_register(void);
#else
static inline int ds_store_vfs_register(void)
{
	return 0;
}
#endif

/*
 * Open (creating and migrating) the store at path. Errors: -ENOTSUP when the file was written
 * by a newer datasync (schema version above this build's), -EILSEQ when it is not an SQLite
 * database or is corrupt, -EROFS, -ENOSPC, -EBUSY, -EACCES, -ENOMEM.
 * A ds_store is one connection: use it from one thread (open one per thread).
 */
int ds_store_open(const char *path, struct ds_store **out);
void ds_store_close(struct ds_store *s);
int ds_store_schema_version(struct ds_store *s);

/* Registered collections: reg is the JSON registration (see ds_collection_open()). */
int ds_store_collection_put(struct ds_store *s, const char *name, const struct cJSON *reg);
/* *out is a new cJSON the caller deletes; -ENOENT if unknown. */
int ds_store_collection_get(struct ds_store *s, const char *name, struct cJSON **out);
int ds_store_collection_del(struct ds_store *s, const char *name);
/* Array of registrations, each with "enabled". */
int ds_store_collection_list(struct ds_store *s, struct cJSON **out);
int ds_store_collection_enable(struct ds_store *s, const char *name, bool enabled);

/* Cursor and epoch of a collection's remote; "" for both when never synced. */
int ds_store_cursor_get(struct ds_store *s, const char *name, char *cursor, size_t ccap,
			char *epoch, size_t ecap);
int ds_store_cursor_set(struct ds_store *s, const char *name, const char *cursor, const char *epoch);

/*
 * Runs: the last result of each collection, and a bounded history. A run that had nothing to
 * do (result 0, every count 0) recorded right after another such run replaces it, times and
 * message: the newest row still says when the collection was last checked, and a device that
 * polls rewrites one row per check instead of adding one (docs/performance.md).
 */
int ds_store_run_record(struct ds_store *s, const char *name, const struct ds_run_stats *st);
int ds_store_run_last(struct ds_store *s, const char *name, struct ds_run_stats *st);
/* Up to cap most recent runs, newest first; returns how many were written (0 if none). */
int ds_store_run_history(struct ds_store *s, const char *name, struct ds_run_stats *out, size_t cap);

/* Small key/value state (strings). */
int ds_store_kv_set(struct ds_store *s, const char *key, const char *value);
/* Returns the length, -ENOENT, or -ENOSPC if cap is short. */
int ds_store_kv_get(struct ds_store *s, const char *key, char *buf, size_t cap);

#endif /* DS_STORE_H */
