/*
 * ds_browser_sqlite.h - change tracking beside a browser's own SQLite database, shared by the
 * reference adapters on Firefox's places.sqlite and formhistory.sqlite.
 *
 * Two side tables live in the browser's database (so the data and its sync metadata commit
 * together): datasync_changes (guid, seq, ms, deleted), one row per changed guid, and
 * datasync_state (the counter and the "applying" flag). Triggers written by each adapter call
 * the logging body below; they use core SQL only, because the browser itself fires them and
 * has none of our functions registered.
 */
#ifndef DS_BROWSER_SQLITE_H
#define DS_BROWSER_SQLITE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/browser/ds_browser_store.h"

/* SQL: true unless the engine itself is writing (the flag is only ever set inside its own
 * write transaction, so no other connection sees it). */
#define DS_BROWSER_NOT_APPLYING "(SELECT applying FROM datasync_state) IS NOT 1"
/* SQL statements logging guid expression G (deleted D) as a local change, for a trigger body. */
#define DS_BROWSER_LOG_SQL(G, D) \
	" UPDATE datasync_state SET seq = seq + 1;" \
	" DELETE FROM datasync_changes WHERE guid = " G ";" \
	" INSERT INTO datasync_changes(guid, seq, ms, deleted) SELECT " G ", seq," \
	" CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), " D \
	" FROM datasync_state WHERE " G " IS NOT NULL;"
/* The same for the guid column G of the row that ROW ("table WHERE ...", by its primary key: at
 * most one row) selects: the row is looked up twice, not once for each of the three uses of G.
 * Columns of ROW are qualified with its table where datasync_state has one of that name. */
#define DS_BROWSER_LOG_ROW_SQL(G, ROW, D) \
	" UPDATE datasync_state SET seq = seq + 1;" \
	" DELETE FROM datasync_changes WHERE guid = (SELECT " G " FROM " ROW ");" \
	" INSERT INTO datasync_changes(guid, seq, ms, deleted) SELECT " G ", datasync_state.seq," \
	" CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), " D \
	" FROM datasync_state, " ROW " AND " G " IS NOT NULL;"

int ds_browser_sqlerr(int rc);
/* Open path read-write (never creates it: a missing browser profile is an error), with the
 * page cache of ds_browser_db_cache(db, false). */
int ds_browser_db_open(const char *path, sqlite3 **out);
/* Bound our connection's page cache: CONFIG_DS_ENGINE_SQLITE_WRITE_CACHE_KIB while writing
 * (between BEGIN and COMMIT), else CONFIG_DS_ENGINE_SQLITE_CACHE_KIB. ds_browser_log_begin and
 * ds_browser_log_commit/rollback switch it; a store with its own transactions calls it. */
int ds_browser_db_cache(sqlite3 *db, bool writing);
int ds_browser_exec(sqlite3 *db, const char *sql);
/* sqlite3_prepare_v2 of sql, logging a failure: 0 or -errno. */
int ds_browser_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st);
/* Step st once and finalize it: 0 when it ran (a row or done), else -errno. */
int ds_browser_step_done(sqlite3_stmt *st);
/* Prepare sql, bind text a to ?1 and text b to ?2 (n when b is NULL and sql has a ?2) and step to
 * its first row: 0 with *st on that row (the caller finalizes it), -ENOENT when there is none,
 * else -errno; *st is NULL on failure. */
int ds_browser_query(sqlite3 *db, const char *sql, const char *a, const char *b, int64_t n,
		     sqlite3_stmt **st);
/* ds_browser_query run to its first row and finalized: 0 (a row or none) or -errno. */
int ds_browser_run(sqlite3 *db, const char *sql, const char *a, const char *b, int64_t n);
/* Create the side tables if needed. */
int ds_browser_log_install(sqlite3 *db);
/* Drop the side tables (after the adapter dropped its triggers). */
int ds_browser_log_uninstall(sqlite3 *db);

/* struct ds_browser_tracking_ops over the side tables; s is the sqlite3 handle. */
int ds_browser_log_begin(sqlite3 *db);
int ds_browser_log_commit(sqlite3 *db);
int ds_browser_log_rollback(sqlite3 *db);
int ds_browser_log_pending(sqlite3 *db, const char *guid, struct ds_pending_info *out);
int ds_browser_log_changes_after(sqlite3 *db, uint64_t after_seq, const char *after_guid,
				 ds_browser_change_cb cb, void *user_data);
int ds_browser_log_forget(sqlite3 *db, const char *guid, uint64_t seq);
/*
 * The same tracking ops for a store adapter whose private data (s) starts with its sqlite3
 * handle: `struct x { sqlite3 *db; ... }`, so that s, converted, points at that handle (C11
 * 6.7.2.1 §15). They can stand in its struct ds_browser_tracking_ops as they are.
 */
int ds_browser_track_begin(void *s);
int ds_browser_track_commit(void *s);
int ds_browser_track_rollback(void *s);
int ds_browser_track_pending(void *s, const char *guid, struct ds_pending_info *out);
int ds_browser_track_changes_after(void *s, uint64_t after_seq, const char *after_guid,
				   ds_browser_change_cb cb, void *user_data);
int ds_browser_track_forget(void *s, const char *guid, uint64_t seq);
int ds_browser_track_unknown_get(void *s, const char *guid, char **json);
int ds_browser_track_unknown_put(void *s, const char *guid, const char *json);
/* Those, as the tracking ops of an engine that keeps the database itself (s: the address of its
 * sqlite3 handle); it has no mark_all, forget_if_cleared or close. */
extern const struct ds_browser_tracking_ops ds_browser_log_track;

/* Log each guid the query returns (a column named g) with time 0, unless already pending. */
int ds_browser_log_mark_query(sqlite3 *db, const char *select_guids);
/* mark_all(limit) over a query of guids (column g) ordered most recently used first: its first
 * limit rows, every row when limit is 0. */
int ds_browser_log_mark_recent(sqlite3 *db, const char *select_guids, size_t limit);
/* forget_if_cleared: when the query any_item returns no row, drop every pending deletion. */
int ds_browser_log_forget_if_cleared(sqlite3 *db, const char *any_item);
/* tracking wipe: run delete_items (the adapter's SQL removing its items), then drop every
 * pending change and kept unknown field. Inside begin/commit, so the triggers log nothing. */
int ds_browser_log_wipe(sqlite3 *db, const char *delete_items);
/* unknown_get / unknown_put over the side table datasync_unknown. */
int ds_browser_unknown_get(sqlite3 *db, const char *guid, char **json);
int ds_browser_unknown_put(sqlite3 *db, const char *guid, const char *json);
/* Move a pending entry and kept unknown fields from old_guid to new_guid, another guid (the item
 * was renamed by a remote record). */
int ds_browser_log_rename(sqlite3 *db, const char *old_guid, const char *new_guid);

#endif /* DS_BROWSER_SQLITE_H */
