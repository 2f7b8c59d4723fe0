/*
 * ds_table.h - the "table" engine: an existing table of an app's SQLite database as a collection.
 *
 * Change tracking lives in the app's own database (triggers + `_datasync_*` side tables), so every
 * writer is seen, and the rows themselves are never copied. docs/engine-table.md describes the
 * configuration, the record format and the side tables.
 */
#ifndef DS_TABLE_H
#define DS_TABLE_H

struct cJSON;
struct ds_engine;

/*
 * Open the engine from its configuration:
 *   {"kind":"table", "db":"PATH", "table":"T", "pk":["col",...], "columns":["a","b"],
 *    "busy_timeout_ms":5000}
 * Only the configuration is checked here (-EINVAL with a log line when it is malformed); the
 * database is opened and its schema checked by the engine's prepare(), so that a vanished table
 * pauses the collection with a message instead of making it impossible to build.
 */
int ds_table_engine_open(const struct cJSON *cfg, struct ds_engine **out);

/*
 * Remove this table's triggers and pending-change rows from the app's database, and the side
 * tables once no table of that database is registered any more. The app's rows are untouched.
 * A database that no longer exists has nothing to remove: 0.
 */
int ds_table_engine_unregister(const struct cJSON *cfg);

#endif /* DS_TABLE_H */
