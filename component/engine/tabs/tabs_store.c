/*
 * The tabs engine's local state, in the daemon's small browser database (ds_tabs.h):
 *   tabs_local   one row: the browser's open tabs (normalised JSON), the change counter and
 *                whether our record waits for upload;
 *   tabs_remote  the other devices' records as received (cleartext JSON) and their server time.
 * The clients engine keeps clients_remote in the same file; the UI list reads it to leave out
 * devices known to be gone.
 */
#define DS_LOG_TAG "tabs"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "ds_port.h"
#include "engine/tabs/ds_tabs.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <string.h>

static const char SCHEMA[] =
	"CREATE TABLE IF NOT EXISTS tabs_local(k INTEGER PRIMARY KEY CHECK (k = 1), tabs TEXT NOT NULL,"
	" seq INTEGER NOT NULL, ms INTEGER NOT NULL, pending INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS tabs_remote(id TEXT PRIMARY KEY, payload TEXT NOT NULL,"
	" modified_ms INTEGER NOT NULL);";

static int sqlerr(int rc)
{
	switch (rc) {
	case SQLITE_OK: case SQLITE_DONE: case SQLITE_ROW: return 0;
	case SQLITE_NOMEM: return -ENOMEM;
	case SQLITE_BUSY: case SQLITE_LOCKED: return -EBUSY;
	case SQLITE_CANTOPEN: return -ENOENT;
	case SQLITE_READONLY: case SQLITE_PERM: return -EACCES;
	case SQLITE_FULL: return -ENOSPC;
	default: return -EIO;
	}
}

char *ds_tabs_db_default_path(void)
{
	return ds_asprintf("%s/%s", ds_port_path(DS_PATH_DATA), DS_TABS_DB_NAME);
}

int ds_tabs_db_open(const char *path, sqlite3 **out)
{
	sqlite3 *db = NULL;
	int rc;

	*out = NULL;
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		DS_LOG_ERR("cannot open the browser state database: %s", db ? sqlite3_errmsg(db) : "no memory");
		sqlite3_close(db);
		return sqlerr(rc);
	}
	/* The daemon's loop (tabs set, lists) and its sync worker each hold a connection. */
	sqlite3_busy_timeout(db, 5000);
	rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL;", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, SCHEMA, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		DS_LOG_ERR("cannot prepare the browser state database: %s", sqlite3_errmsg(db));
		sqlite3_close(db);
		return sqlerr(rc);
	}
	*out = db;
	return 0;
}

int ds_tabs_local_set(sqlite3 *db, const cJSON *tabs, int64_t now_ms, char *why, size_t why_len)
{
	sqlite3_stmt *st = NULL;
	cJSON *norm = NULL;
	char *text = NULL;
	int rc, changed = 0;

	rc = ds_tabs_normalize(tabs, &norm, why, why_len);
	if (rc)
		return rc;
	text = cJSON_PrintUnformatted(norm);
	cJSON_Delete(norm);
	if (!text)
		return -ENOMEM;
	rc = sqlerr(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL));
	if (rc)
		goto out;
	rc = sqlerr(sqlite3_prepare_v2(db, "SELECT tabs FROM tabs_local WHERE k = 1", -1, &st, NULL));
	if (rc == 0) {
		int s = sqlite3_step(st);

		if (s == SQLITE_ROW)
			changed = strcmp((const char *)sqlite3_column_text(st, 0), text) != 0;
		else if (s == SQLITE_DONE)
			changed = 1;
		else
			rc = sqlerr(s);
		sqlite3_finalize(st);
		st = NULL;
	}
	if (rc == 0 && changed) {
		/* The counter only grows (the core forgets a change up to the counter it uploaded, so
		 * tabs set during an upload stay pending). */
		rc = sqlerr(sqlite3_prepare_v2(db,
			"INSERT INTO tabs_local(k, tabs, seq, ms, pending) VALUES (1, ?1, 1, ?2, 1)"
			" ON CONFLICT(k) DO UPDATE SET tabs = ?1, seq = seq + 1, ms = ?2, pending = 1",
			-1, &st, NULL));
		if (rc == 0) {
			sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, now_ms);
			rc = sqlerr(sqlite3_step(st));
		}
		sqlite3_finalize(st);
	}
	if (rc == 0)
		rc = sqlerr(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL));
	if (rc)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
out:
	cJSON_free(text);
	return rc ? rc : changed;
}

/* 1 when the clients engine has read a clients list into this file (then devices absent from
 * it, or hidden as stale, are gone), 0 when not. */
static int clients_known(sqlite3 *db)
{
	sqlite3_stmt *st;
	int known = 0;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM clients_remote LIMIT 1", -1, &st, NULL) != SQLITE_OK)
		return 0; /* no clients engine here */
	known = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return known;
}

int ds_tabs_remote_list(sqlite3 *db, cJSON **out)
{
	static const char ALL[] = "SELECT id, payload, modified_ms FROM tabs_remote ORDER BY modified_ms DESC, id";
	static const char LIVE[] = "SELECT t.id, t.payload, t.modified_ms FROM tabs_remote t"
		" JOIN clients_remote c ON c.id = t.id AND c.hidden = 0 ORDER BY t.modified_ms DESC, t.id";
	sqlite3_stmt *st = NULL;
	cJSON *o = cJSON_CreateObject(), *list = o ? cJSON_AddArrayToObject(o, "clients") : NULL;
	int rc, s = SQLITE_DONE;

	*out = NULL;
	if (!list) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	rc = sqlerr(sqlite3_prepare_v2(db, clients_known(db) ? LIVE : ALL, -1, &st, NULL));
	while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
		cJSON *rec = NULL;

		if (ds_tabs_record_parse((const char *)sqlite3_column_text(st, 1), &rec))
			continue; /* stored records were checked on arrival */
		if (!cJSON_AddStringToObject(rec, "id", (const char *)sqlite3_column_text(st, 0)) ||
		    !cJSON_AddNumberToObject(rec, "lastModified", (double)sqlite3_column_int64(st, 2)) ||
		    !cJSON_AddItemToArray(list, rec)) {
			cJSON_Delete(rec);
			rc = -ENOMEM;
		}
	}
	if (rc == 0 && s != SQLITE_DONE)
		rc = sqlerr(s);
	sqlite3_finalize(st);
	if (rc) {
		cJSON_Delete(o);
		return rc;
	}
	*out = o;
	return 0;
}

int ds_tabs_wipe_remote(sqlite3 *db)
{
	return sqlerr(sqlite3_exec(db, "DELETE FROM tabs_remote", NULL, NULL, NULL));
}
