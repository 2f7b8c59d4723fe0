/*
 * The remote's own state, one small SQLite file per collection in the agent's data folder:
 *   ids(id PRIMARY KEY, ms, deleted, ours)  the newest server version of each record this
 *                                    device has seen (fetched or written): the If-Match value
 *                                    of the next update or delete (kinto.md §3); ours: that
 *                                    version is one this device wrote (kinto_fetch.c skips it)
 *   kv(k PRIMARY KEY, v)             batch limit learnt from GET /v1/, the Next-Page URL, ...
 *
 * Invariant the upload relies on: every version up to the core's stored cursor is in the map,
 * because the map is written when a page is fetched, before the core applies it and stores its
 * cursor, and when a write is acknowledged, before the core forgets the change. A lost or stale
 * map costs one extra round trip per record, never a lost update (kinto_remote.c, 412 rule).
 * synchronous=FULL for the same reason as the metadata store (docs/sync.md).
 */
#define DS_LOG_TAG "kinto"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "remote/kinto/kinto_priv.h"

#include <sqlite3.h>
#include <string.h>

struct ds_kinto_state {
	sqlite3 *db;
	sqlite3_stmt *get, *put, *kv_get, *kv_set;
	sqlite3_stmt *probe;
};

static int map_rc(sqlite3 *db, int rc)
{
	switch (rc) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CANTOPEN:
		return -EACCES;
	default:
		DS_LOG_ERR("remote state: %s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		return -EIO;
	}
}

void ds_kinto_state_close(struct ds_kinto_state *s)
{
	if (!s)
		return;
	sqlite3_finalize(s->get);
	sqlite3_finalize(s->put);
	sqlite3_finalize(s->kv_get);
	sqlite3_finalize(s->kv_set);
	sqlite3_close(s->db);
	ds_free(s);
}

int ds_kinto_state_open(const char *path, struct ds_kinto_state **out)
{
	struct ds_kinto_state *s = ds_calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				   SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK)
		sqlite3_busy_timeout(s->db, 5000);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db,
				  "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
				  "CREATE TABLE IF NOT EXISTS ids(id TEXT PRIMARY KEY, ms INTEGER NOT NULL,"
				  " deleted INTEGER NOT NULL) WITHOUT ROWID;"
				  "CREATE TABLE IF NOT EXISTS kv(k TEXT PRIMARY KEY, v TEXT NOT NULL);",
				  NULL, NULL, NULL);
	/* "ours" (a version this device wrote) came after the first release of this file. */
	if (rc == SQLITE_OK &&
	    sqlite3_prepare_v2(s->db, "SELECT ours FROM ids LIMIT 0", -1, &s->probe, NULL) != SQLITE_OK)
		rc = sqlite3_exec(s->db, "ALTER TABLE ids ADD COLUMN ours INTEGER NOT NULL DEFAULT 0",
				  NULL, NULL, NULL);
	sqlite3_finalize(s->probe);
	s->probe = NULL;
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db, "SELECT ms, deleted, ours FROM ids WHERE id = ?", -1,
					&s->get, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db,
					"INSERT INTO ids(id, ms, deleted, ours) VALUES(?, ?, ?, ?) "
					"ON CONFLICT(id) DO UPDATE SET ms = excluded.ms, "
					"deleted = excluded.deleted, ours = excluded.ours "
					"WHERE excluded.ms > ids.ms",
					-1, &s->put, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db, "SELECT v FROM kv WHERE k = ?", -1, &s->kv_get, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO kv(k, v) VALUES(?, ?)", -1,
					&s->kv_set, NULL);
	if (rc != SQLITE_OK) {
		DS_LOG_ERR("cannot open the remote state %s: %s", path,
			   s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		rc = map_rc(NULL, rc);
		ds_kinto_state_close(s);
		return rc ? rc : -EIO;
	}
	*out = s;
	return 0;
}

int ds_kinto_state_begin(struct ds_kinto_state *s)
{
	return map_rc(s->db, sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL));
}

int ds_kinto_state_commit(struct ds_kinto_state *s)
{
	return map_rc(s->db, sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL));
}

void ds_kinto_state_rollback(struct ds_kinto_state *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int ds_kinto_state_get(struct ds_kinto_state *s, const char *id, int64_t *ms, bool *deleted)
{
	bool ours;

	return ds_kinto_state_get_ours(s, id, ms, deleted, &ours);
}

int ds_kinto_state_get_ours(struct ds_kinto_state *s, const char *id, int64_t *ms, bool *deleted,
			    bool *ours)
{
	int rc;

	sqlite3_bind_text(s->get, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s->get);
	if (rc == SQLITE_ROW) {
		*ms = sqlite3_column_int64(s->get, 0);
		*deleted = sqlite3_column_int(s->get, 1) != 0;
		*ours = sqlite3_column_int(s->get, 2) != 0;
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : map_rc(s->db, rc);
	}
	sqlite3_reset(s->get);
	sqlite3_clear_bindings(s->get);
	return rc;
}

int ds_kinto_state_put(struct ds_kinto_state *s, const char *id, int64_t ms, bool deleted)
{
	return ds_kinto_state_put_ours(s, id, ms, deleted, false);
}

int ds_kinto_state_put_ours(struct ds_kinto_state *s, const char *id, int64_t ms, bool deleted,
			    bool ours)
{
	int rc;

	sqlite3_bind_text(s->put, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s->put, 2, ms);
	sqlite3_bind_int(s->put, 3, deleted);
	sqlite3_bind_int(s->put, 4, ours);
	rc = map_rc(s->db, sqlite3_step(s->put));
	sqlite3_reset(s->put);
	sqlite3_clear_bindings(s->put);
	return rc;
}

int ds_kinto_state_kv_get(struct ds_kinto_state *s, const char *k, char *out, size_t cap)
{
	int rc;

	sqlite3_bind_text(s->kv_get, 1, k, -1, SQLITE_STATIC);
	rc = sqlite3_step(s->kv_get);
	if (rc == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(s->kv_get, 0);

		rc = v && strlen(v) < cap ? 0 : -ENOSPC;
		if (rc == 0)
			memcpy(out, v, strlen(v) + 1);
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : map_rc(s->db, rc);
	}
	sqlite3_reset(s->kv_get);
	sqlite3_clear_bindings(s->kv_get);
	return rc;
}

int ds_kinto_state_kv_set(struct ds_kinto_state *s, const char *k, const char *v)
{
	int rc;

	sqlite3_bind_text(s->kv_set, 1, k, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->kv_set, 2, v, -1, SQLITE_STATIC);
	rc = map_rc(s->db, sqlite3_step(s->kv_set));
	sqlite3_reset(s->kv_set);
	sqlite3_clear_bindings(s->kv_set);
	return rc;
}

int ds_kinto_state_clear(struct ds_kinto_state *s)
{
	return map_rc(s->db, sqlite3_exec(s->db, "DELETE FROM ids; DELETE FROM kv;", NULL, NULL, NULL));
}
