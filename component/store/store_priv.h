/*
 * store_priv.h - internals of the metadata store shared with its unit test.
 */
#ifndef DS_STORE_PRIV_H
#define DS_STORE_PRIV_H

struct sqlite3;
struct ds_store;

/* Newest schema version this build knows (PRAGMA user_version after migrating). */
#define DS_STORE_SCHEMA_LATEST 2
/* Runs kept per collection; older ones are dropped when a new one is recorded. */
#define DS_STORE_RUN_HISTORY 20

/* SQLite result code -> negative errno (see ds_store_open()). */
int ds_store_errno(int sqlite_rc);
/* The connection, for tests that need to provoke SQLite errors (page limits, raw SQL). */
struct sqlite3 *ds_store_db(struct ds_store *s);

#endif /* DS_STORE_PRIV_H */
