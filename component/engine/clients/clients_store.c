/*
 * The clients engine's tables in the daemon's browser state file, and what the UI reads:
 *   clients_remote  the other devices' records (cleartext), server time, "hidden" (stale)
 *   clients_own     our record's state: commands kept (unknown ones), commands applied since our
 *                   last upload ("handled"), change counter, pending flag, last upload time
 *   clients_events  "tab received" events (legacy displayURI) for the UI
 *   clients_outgoing commands this device sends to others (clients_send.c)
 */
#define DS_LOG_TAG "clients"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "engine/clients/clients_int.h"
#include "engine/clients/ds_clients.h"
#include "remote/sync15/ds_sync15.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <string.h>

static const char SCHEMA[] =
	"CREATE TABLE IF NOT EXISTS clients_remote(id TEXT PRIMARY KEY, payload TEXT NOT NULL,"
	" modified_ms INTEGER NOT NULL, hidden INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS clients_own(k INTEGER PRIMARY KEY CHECK (k = 1),"
	" commands TEXT NOT NULL DEFAULT '[]', handled TEXT NOT NULL DEFAULT '[]',"
	" seq INTEGER NOT NULL DEFAULT 1, ms INTEGER NOT NULL DEFAULT 0, pending INTEGER NOT NULL DEFAULT 1,"
	" uploaded_ms INTEGER NOT NULL DEFAULT 0, sent TEXT);"
	"INSERT OR IGNORE INTO clients_own(k) VALUES (1);"
	"CREATE TABLE IF NOT EXISTS clients_events(seq INTEGER PRIMARY KEY AUTOINCREMENT, json TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS clients_outgoing(seq INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL,"
	" cmd TEXT NOT NULL, UNIQUE (target, cmd));";

int ds_clients_sqlerr(int rc)
{
	if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_NOMEM ? -ENOMEM : rc == SQLITE_BUSY ? -EBUSY : -EIO;
}

static int sqlerr(int rc)
{
	return ds_clients_sqlerr(rc);
}

int ds_clients_db_open(const char *path, sqlite3 **out)
{
	sqlite3 *db = NULL;
	int rc;

	*out = NULL;
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(db, 5000);
		rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL;", NULL, NULL, NULL);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, SCHEMA, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		DS_LOG_ERR("cannot open the browser state database: %s", db ? sqlite3_errmsg(db) : "no memory");
		sqlite3_close(db);
		return sqlerr(rc) ? sqlerr(rc) : -EIO;
	}
	*out = db;
	return 0;
}

/* ---- for the UI ----------------------------------------------------------------------------- */

int ds_clients_refresh_hidden(sqlite3 *db, const char *own_name, int64_t now_ms)
{
	sqlite3_stmt *st = NULL;
	size_t n = 0, cap = 0;
	char **ids = NULL, **names = NULL, **fxa = NULL;
	int64_t *mod = NULL;
	bool *hidden = NULL;
	int rc;

	rc = sqlerr(sqlite3_prepare_v2(db, "SELECT id, payload, modified_ms FROM clients_remote ORDER BY id",
				       -1, &st, NULL));
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		cJSON *p = cJSON_Parse((const char *)sqlite3_column_text(st, 1));
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(p, "name");
		const cJSON *fx = cJSON_GetObjectItemCaseSensitive(p, "fxaDeviceId");

		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			void *a = ds_realloc(ids, nc * sizeof(*ids)), *b = a ? ds_realloc(names, nc * sizeof(*names)) : NULL;

			if (a)
				ids = a;
			if (b)
				names = b;
			a = b ? ds_realloc(fxa, nc * sizeof(*fxa)) : NULL;
			if (a)
				fxa = a;
			b = a ? ds_realloc(mod, nc * sizeof(*mod)) : NULL;
			if (b)
				mod = b;
			if (!b) {
				cJSON_Delete(p);
				rc = -ENOMEM;
				break;
			}
			cap = nc;
		}
		ids[n] = ds_strdup((const char *)sqlite3_column_text(st, 0));
		names[n] = cJSON_IsString(nm) ? ds_strdup(nm->valuestring) : NULL;
		fxa[n] = cJSON_IsString(fx) ? ds_strdup(fx->valuestring) : NULL;
		mod[n] = sqlite3_column_int64(st, 2);
		n++;
		cJSON_Delete(p);
		if (!ids[n - 1])
			rc = -ENOMEM;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc == 0 && n) {
		hidden = ds_calloc(n, sizeof(*hidden));
		if (!hidden)
			rc = -ENOMEM;
	}
	if (rc == 0 && n) {
		ds_clients_stale(n, (const char *const *)ids, (const char *const *)names,
				 (const char *const *)fxa, mod, own_name, now_ms, hidden);
		/* A record nobody rewrote within its ttl is gone from the server (a live client
		 * refreshes its record weekly), and expiry sends no tombstone: AS reads the whole
		 * collection each run and would no longer see it, so it is hidden here too. */
		for (size_t i = 0; i < n; i++)
			if (now_ms - mod[i] > DS_SYNC15_CLIENT_TTL_S * 1000LL)
				hidden[i] = true;
		rc = sqlerr(sqlite3_prepare_v2(db, "UPDATE clients_remote SET hidden = ? WHERE id = ?", -1, &st, NULL));
		for (size_t i = 0; rc == 0 && i < n; i++) {
			sqlite3_bind_int(st, 1, hidden[i]);
			sqlite3_bind_text(st, 2, ids[i], -1, SQLITE_STATIC);
			rc = sqlerr(sqlite3_step(st));
			sqlite3_reset(st);
		}
		sqlite3_finalize(st);
	}
	for (size_t i = 0; i < n; i++) {
		ds_free(ids[i]);
		ds_free(names[i]);
		ds_free(fxa[i]);
	}
	ds_free(ids);
	ds_free(names);
	ds_free(fxa);
	ds_free(mod);
	ds_free(hidden);
	return rc;
}

int ds_clients_list(sqlite3 *db, bool all, cJSON **out)
{
	sqlite3_stmt *st = NULL;
	cJSON *o = cJSON_CreateObject(), *list = o ? cJSON_AddArrayToObject(o, "clients") : NULL;
	int rc;

	*out = NULL;
	if (!list) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	rc = sqlerr(sqlite3_prepare_v2(db, "SELECT payload, modified_ms, hidden FROM clients_remote"
				       " WHERE ?1 OR hidden = 0 ORDER BY modified_ms DESC, id", -1, &st, NULL));
	if (rc == 0)
		sqlite3_bind_int(st, 1, all);
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		cJSON *rec = NULL;

		if (ds_clients_record_parse((const char *)sqlite3_column_text(st, 0), &rec))
			continue;
		if (!cJSON_AddNumberToObject(rec, "lastModified", (double)sqlite3_column_int64(st, 1)) ||
		    (all && !cJSON_AddBoolToObject(rec, "stale", sqlite3_column_int(st, 2) != 0)) ||
		    !cJSON_AddItemToArray(list, rec)) {
			cJSON_Delete(rec);
			rc = -ENOMEM;
		}
	}
	sqlite3_finalize(st);
	if (rc) {
		cJSON_Delete(o);
		return rc;
	}
	*out = o;
	return 0;
}

int ds_clients_events(sqlite3 *db, int64_t after, cJSON **out)
{
	sqlite3_stmt *st = NULL;
	cJSON *o = cJSON_CreateObject(), *list = o ? cJSON_AddArrayToObject(o, "events") : NULL;
	int rc;

	*out = NULL;
	if (!list) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	rc = sqlerr(sqlite3_prepare_v2(db, "SELECT seq, json FROM clients_events WHERE seq > ? ORDER BY seq",
				       -1, &st, NULL));
	if (rc == 0)
		sqlite3_bind_int64(st, 1, after);
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		cJSON *ev = cJSON_Parse((const char *)sqlite3_column_text(st, 1));

		if (!cJSON_IsObject(ev)) {
			cJSON_Delete(ev);
			continue;
		}
		if (!cJSON_AddNumberToObject(ev, "seq", (double)sqlite3_column_int64(st, 0)) ||
		    !cJSON_AddItemToArray(list, ev)) {
			cJSON_Delete(ev);
			rc = -ENOMEM;
		}
	}
	sqlite3_finalize(st);
	if (rc) {
		cJSON_Delete(o);
		return rc;
	}
	*out = o;
	return 0;
}

int ds_clients_wipe_remote(sqlite3 *db)
{
	return sqlerr(sqlite3_exec(db, "DELETE FROM clients_remote", NULL, NULL, NULL));
}
