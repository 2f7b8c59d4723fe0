/*
 * Change tracking beside a browser's SQLite database (ds_browser_sqlite.h). The rules are the
 * sync core's (docs/sync.md): one pending entry per guid with a counter that only grows, an
 * entry forgotten only up to the counter that was uploaded, and the engine's own writes never
 * logged.
 */
#define DS_LOG_TAG "browser"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "engine/browser/ds_browser_sqlite.h"
#include "sync/ds_sync.h"

#include <stdio.h>
#include <string.h>

static const char SIDE_TABLES_SQL[] =
	"CREATE TABLE IF NOT EXISTS datasync_changes(guid TEXT PRIMARY KEY, seq INTEGER NOT NULL,"
	" ms INTEGER NOT NULL, deleted INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS datasync_changes_seq ON datasync_changes(seq, guid);"
	"CREATE TABLE IF NOT EXISTS datasync_state(id INTEGER PRIMARY KEY CHECK(id = 1),"
	" seq INTEGER NOT NULL, applying INTEGER NOT NULL);"
	"INSERT OR IGNORE INTO datasync_state VALUES(1, 0, 0);"
	"CREATE TABLE IF NOT EXISTS datasync_unknown(guid TEXT PRIMARY KEY, fields TEXT NOT NULL)"
	" WITHOUT ROWID;";

int ds_browser_sqlerr(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
		return -EINVAL;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EILSEQ;
	default:
		return -EIO;
	}
}

/*
 * SQLite's default page cache (cache_size -2000, i.e. 2,000 KiB per connection) fills up
 * during a large first sync and is most of the agent's heap (docs/engine-history.md,
 * "Memory"). A write transaction needs its dirty pages and the index pages it walks: with less
 * than that, SQLite spills dirty pages to the WAL before the commit and writes them again
 * (5.8 times the bytes for history's download at 512 KiB), so it gets the larger size. Reads
 * outside one (an upload's enumeration) walk each page about once and lose nothing with a small
 * cache. cache_size is per connection: the browser's own connections keep their setting.
 */
static int cache_pragma(sqlite3 *db, bool writing)
{
	int kib = CONFIG_DS_ENGINE_SQLITE_CACHE_KIB;
	char sql[48];

	if (writing)
		kib = DS_MAX(kib, CONFIG_DS_ENGINE_SQLITE_WRITE_CACHE_KIB);
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", kib);
	return ds_browser_sqlerr(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

int ds_browser_db_cache(sqlite3 *db, bool writing)
{
	int rc = cache_pragma(db, writing);

	if (rc)
		DS_LOG_ERR("cannot set the page cache: %s", sqlite3_errmsg(db));
	return rc;
}

int ds_browser_db_open(const char *path, sqlite3 **out)
{
	sqlite3 *db = NULL;
	int rc;

	*out = NULL;
	if (!path || !*path)
		return -EINVAL;
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK) {
		DS_LOG_ERR("cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return ds_browser_sqlerr(rc);
	}
	/* The browser holds the database open too: wait for its short transactions. */
	sqlite3_busy_timeout(db, 5000);
	rc = cache_pragma(db, false);
	/* A file that is no database fails here already: the caller's schema check reports it. */
	if (rc && rc != -EILSEQ) {
		DS_LOG_ERR("cannot set the page cache of %s: %s", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return rc;
	}
	*out = db;
	return 0;
}

int ds_browser_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &err);

	if (rc != SQLITE_OK) {
		DS_LOG_ERR("SQL failed: %s", err ? err : sqlite3_errstr(rc));
		sqlite3_free(err);
		return ds_browser_sqlerr(rc);
	}
	return 0;
}

int ds_browser_log_install(sqlite3 *db)
{
	return ds_browser_exec(db, SIDE_TABLES_SQL);
}

int ds_browser_log_uninstall(sqlite3 *db)
{
	return ds_browser_exec(db, "DROP TABLE IF EXISTS datasync_changes;"
				   "DROP TABLE IF EXISTS datasync_state;"
				   "DROP TABLE IF EXISTS datasync_unknown;");
}

int ds_browser_log_begin(sqlite3 *db)
{
	int rc = ds_browser_exec(db, "BEGIN IMMEDIATE");

	if (rc)
		return rc;
	rc = ds_browser_exec(db, "UPDATE datasync_state SET applying = 1");
	if (rc == 0)
		rc = ds_browser_db_cache(db, true);
	if (rc) {
		ds_browser_exec(db, "ROLLBACK");
		ds_browser_db_cache(db, false);
	}
	return rc;
}

/* Back to the small cache once the transaction is over (the pages over it are freed). A
 * failure there costs memory, not data: the transaction's outcome is what is returned. */
static void cache_after_write(sqlite3 *db)
{
	if (ds_browser_db_cache(db, false))
		DS_LOG_WRN("cannot shrink the page cache after a write");
}

int ds_browser_log_commit(sqlite3 *db)
{
	int rc = ds_browser_exec(db, "UPDATE datasync_state SET applying = 0; COMMIT");

	if (rc)
		ds_browser_exec(db, "ROLLBACK");
	cache_after_write(db);
	return rc;
}

int ds_browser_log_rollback(sqlite3 *db)
{
	int rc;

	/* The flag was set inside the transaction: the rollback clears it too. */
	if (sqlite3_get_autocommit(db))
		return 0;
	rc = ds_browser_exec(db, "ROLLBACK");
	cache_after_write(db);
	return rc;
}

int ds_browser_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);

	if (rc != SQLITE_OK) {
		DS_LOG_ERR("SQL prepare failed: %s", sqlite3_errmsg(db));
		return ds_browser_sqlerr(rc);
	}
	return 0;
}

int ds_browser_step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	return ds_browser_sqlerr(rc);
}

int ds_browser_query(sqlite3 *db, const char *sql, const char *a, const char *b, int64_t n,
		     sqlite3_stmt **st)
{
	int rc = ds_browser_prepare(db, sql, st);

	if (rc)
		return rc;
	/* A parameter left unbound is NULL: bind only what the statement has. */
	if (a)
		sqlite3_bind_text(*st, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(*st, 2, b, -1, SQLITE_STATIC);
	else if (sqlite3_bind_parameter_count(*st) > 1)
		sqlite3_bind_int64(*st, 2, n);
	rc = sqlite3_step(*st);
	if (rc == SQLITE_ROW)
		return 0;
	sqlite3_finalize(*st);
	*st = NULL;
	return rc == SQLITE_DONE ? -ENOENT : ds_browser_sqlerr(rc);
}

int ds_browser_run(sqlite3 *db, const char *sql, const char *a, const char *b, int64_t n)
{
	sqlite3_stmt *st;
	int rc = ds_browser_query(db, sql, a, b, n, &st);

	sqlite3_finalize(st);
	return rc == -ENOENT ? 0 : rc;
}

int ds_browser_log_pending(sqlite3 *db, const char *guid, struct ds_pending_info *out)
{
	sqlite3_stmt *st;
	int rc = ds_browser_query(db, "SELECT seq, ms, deleted FROM datasync_changes WHERE guid = ?", guid, NULL,
				  0, &st);

	if (rc)
		return rc;
	out->change_seq = (uint64_t)sqlite3_column_int64(st, 0);
	out->modified_ms = sqlite3_column_int64(st, 1);
	out->deleted = sqlite3_column_int(st, 2) != 0;
	sqlite3_finalize(st);
	return 0;
}

int ds_browser_log_changes_after(sqlite3 *db, uint64_t after_seq, const char *after_guid,
				 ds_browser_change_cb cb, void *user_data)
{
	sqlite3_stmt *st;
	int rc = ds_browser_query(db, "SELECT guid, seq, ms, deleted FROM datasync_changes"
				  " WHERE ?1 IS NULL OR seq > ?2 OR (seq = ?2 AND guid > ?1)"
				  " ORDER BY seq, guid", after_guid, NULL, (int64_t)after_seq, &st);

	if (rc)
		return rc == -ENOENT ? 0 : rc;
	do {
		struct ds_pending_info info = {
			.change_seq = (uint64_t)sqlite3_column_int64(st, 1),
			.modified_ms = sqlite3_column_int64(st, 2),
			.deleted = sqlite3_column_int(st, 3) != 0,
		};
		const char *g = (const char *)sqlite3_column_text(st, 0);

		if (!g) {
			rc = SQLITE_NOMEM;
			break;
		}
		rc = cb(g, &info, user_data);
		if (rc) {
			sqlite3_finalize(st);
			return rc > 0 ? 0 : rc;
		}
	} while ((rc = sqlite3_step(st)) == SQLITE_ROW);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : ds_browser_sqlerr(rc);
}

int ds_browser_log_forget(sqlite3 *db, const char *guid, uint64_t seq)
{
	return ds_browser_run(db, "DELETE FROM datasync_changes WHERE guid = ?1 AND seq <= ?2", guid,
			 NULL, (int64_t)seq);
}

int ds_browser_log_rename(sqlite3 *db, const char *old_guid, const char *new_guid)
{
	/* The renamed item's pending change follows it; one it had under the new guid is older
	 * (the counter only grows) and is replaced (OR REPLACE: the row holding the new guid goes).
	 * Without an entry under the old guid, one under the new guid stays. */
	int rc = ds_browser_run(db, "UPDATE OR REPLACE datasync_changes SET guid = ?2 WHERE guid = ?1", old_guid,
				new_guid, 0);

	if (rc == 0)
		rc = ds_browser_run(db, "UPDATE OR REPLACE datasync_unknown SET guid = ?2 WHERE guid = ?1", old_guid,
				    new_guid, 0);
	return rc;
}

int ds_browser_log_mark_recent(sqlite3 *db, const char *select_guids, size_t limit)
{
	/* LIMIT -1: no limit (SQLite). */
	char *q = ds_asprintf("%s LIMIT %lld", select_guids, limit ? (long long)limit : -1LL);
	int rc;

	if (!q)
		return -ENOMEM;
	rc = ds_browser_log_mark_query(db, q);
	ds_free(q);
	return rc;
}

int ds_browser_log_mark_query(sqlite3 *db, const char *select_guids)
{
	char *sql = ds_asprintf("SAVEPOINT datasync_mark;"
				"INSERT OR IGNORE INTO datasync_changes(guid, seq, ms, deleted)"
				" SELECT g, (SELECT seq + 1 FROM datasync_state), 0, 0 FROM (%s)"
				" WHERE g IS NOT NULL;"
				"UPDATE datasync_state SET seq = seq + 1;"
				"RELEASE datasync_mark;", select_guids);
	int rc;

	if (!sql)
		return -ENOMEM;
	rc = ds_browser_exec(db, sql);
	ds_free(sql);
	if (rc && !sqlite3_get_autocommit(db))
		ds_browser_exec(db, "ROLLBACK TO datasync_mark; RELEASE datasync_mark;");
	return rc;
}

int ds_browser_log_forget_if_cleared(sqlite3 *db, const char *any_item)
{
	sqlite3_stmt *st;
	int rc, n;

	rc = ds_browser_query(db, any_item, NULL, NULL, 0, &st);
	sqlite3_finalize(st);
	if (rc != -ENOENT)
		return rc;
	rc = ds_browser_exec(db, "DELETE FROM datasync_changes WHERE deleted = 1");
	if (rc)
		return rc;
	n = sqlite3_changes(db);
	if (n > 0)
		DS_LOG_WRN("the browser's store was cleared: %d pending deletions dropped, the other"
			   " devices keep their data", n);
	return n > 0 ? 1 : 0;
}

int ds_browser_log_wipe(sqlite3 *db, const char *delete_items)
{
	int rc;

	/* Outside the engine's transaction the triggers would log every removal as a deletion
	 * for the other devices: refuse rather than delete their data. */
	if (sqlite3_get_autocommit(db))
		return -EINVAL;
	rc = ds_browser_exec(db, delete_items);
	if (rc == 0)
		rc = ds_browser_exec(db, "DELETE FROM datasync_changes; DELETE FROM datasync_unknown;");
	return rc;
}

int ds_browser_unknown_get(sqlite3 *db, const char *guid, char **json)
{
	sqlite3_stmt *st;
	const char *t;
	int rc = ds_browser_query(db, "SELECT fields FROM datasync_unknown WHERE guid = ?", guid, NULL, 0, &st);

	*json = NULL;
	if (rc)
		return rc;
	t = (const char *)sqlite3_column_text(st, 0);
	*json = ds_strdup(t ? t : "{}");
	sqlite3_finalize(st);
	return *json ? 0 : -ENOMEM;
}

int ds_browser_unknown_put(sqlite3 *db, const char *guid, const char *json)
{
	if (!json)
		return ds_browser_run(db, "DELETE FROM datasync_unknown WHERE guid = ?1 AND ?2 = 0", guid,
				 NULL, 0);
	return ds_browser_run(db, "INSERT OR REPLACE INTO datasync_unknown(guid, fields) VALUES(?1, ?2)",
			 guid, json, 0);
}

/* s points at a struct whose first member is the database handle (ds_browser_sqlite.h). */
static sqlite3 *track_db(void *s)
{
	return *(sqlite3 *const *)s;
}

int ds_browser_track_begin(void *s)
{
	return ds_browser_log_begin(track_db(s));
}

int ds_browser_track_commit(void *s)
{
	return ds_browser_log_commit(track_db(s));
}

int ds_browser_track_rollback(void *s)
{
	return ds_browser_log_rollback(track_db(s));
}

int ds_browser_track_pending(void *s, const char *guid, struct ds_pending_info *out)
{
	return ds_browser_log_pending(track_db(s), guid, out);
}

int ds_browser_track_changes_after(void *s, uint64_t after_seq, const char *after_guid,
				   ds_browser_change_cb cb, void *user_data)
{
	return ds_browser_log_changes_after(track_db(s), after_seq, after_guid, cb, user_data);
}

int ds_browser_track_forget(void *s, const char *guid, uint64_t seq)
{
	return ds_browser_log_forget(track_db(s), guid, seq);
}

int ds_browser_track_unknown_get(void *s, const char *guid, char **json)
{
	return ds_browser_unknown_get(track_db(s), guid, json);
}

int ds_browser_track_unknown_put(void *s, const char *guid, const char *json)
{
	return ds_browser_unknown_put(track_db(s), guid, json);
}

const struct ds_browser_tracking_ops ds_browser_log_track = {
	.begin = ds_browser_track_begin,
	.commit = ds_browser_track_commit,
	.rollback = ds_browser_track_rollback,
	.pending = ds_browser_track_pending,
	.changes_after = ds_browser_track_changes_after,
	.forget = ds_browser_track_forget,
	.unknown_get = ds_browser_track_unknown_get,
	.unknown_put = ds_browser_track_unknown_put,
};
