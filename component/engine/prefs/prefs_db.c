/*
 * prefs.sqlite for the prefs engine: the schema check, the change tracking (side tables and
 * triggers, as the browser engines do beside a browser's database: ds_browser_sqlite.h) and the
 * reads and writes of settings.
 *
 * Which prefs sync (desktop prefs.sys.mjs: a pref syncs when its control pref
 * services.sync.prefs.sync.<name> is true): the control row of a pref decides when it holds 0
 * or 1; without one (or with NULL), the registration's allow-list does. The allow-list is copied
 * into datasync_prefs_allow at every open so that the triggers, which the settings service
 * fires on its own connection, see it. Control rows themselves never sync.
 */
#define DS_LOG_TAG "prefs"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "engine/browser/ds_browser_sqlite.h"
#include "engine/prefs/ds_prefs.h"
#include "engine/prefs/prefs_int.h"

#include <stdio.h>
#include <string.h>

#define IS_CONTROL(N) "(substr(" N ", 1, 25) = '" DS_PREFS_CONTROL_PREFIX "')"
#define CONTROL_OF(N) \
	"(SELECT c.value = 1 FROM prefs c WHERE c.name = '" DS_PREFS_CONTROL_PREFIX "' || " N \
	" AND c.value IS NOT NULL)"
#define ALLOWED(N) "EXISTS (SELECT 1 FROM datasync_prefs_allow a WHERE a.name = " N ")"
#define SYNCED(N) "(NOT " IS_CONTROL(N) " AND COALESCE(" CONTROL_OF(N) ", " ALLOWED(N) "))"
#define MATTERS(N) "(" SYNCED(N) " OR " IS_CONTROL(N) ")"
#define RECORD_ID "(SELECT record_id FROM datasync_prefs_conf)"

static const char SIDE_SQL[] =
	"CREATE TABLE IF NOT EXISTS datasync_prefs_allow(name TEXT PRIMARY KEY) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS datasync_prefs_conf(id INTEGER PRIMARY KEY CHECK (id = 1),"
	" record_id TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS datasync_prefs_base(id INTEGER PRIMARY KEY CHECK (id = 1),"
	" value TEXT NOT NULL);";

/* A settings write logs the one record as changed when the pref syncs, or when a control row
 * changes (the set of synced prefs did). */
static const char TRIGGERS_SQL[] =
	"CREATE TRIGGER datasync_prefs_ai AFTER INSERT ON prefs WHEN " DS_BROWSER_NOT_APPLYING
	" AND " MATTERS("NEW.name") " BEGIN" DS_BROWSER_LOG_SQL(RECORD_ID, "0") " END;"
	"CREATE TRIGGER datasync_prefs_au AFTER UPDATE ON prefs WHEN " DS_BROWSER_NOT_APPLYING
	" AND (OLD.value IS NOT NEW.value OR OLD.type IS NOT NEW.type OR OLD.name IS NOT NEW.name)"
	" AND (" MATTERS("NEW.name") " OR " MATTERS("OLD.name") ") BEGIN"
	DS_BROWSER_LOG_SQL(RECORD_ID, "0") " END;"
	"CREATE TRIGGER datasync_prefs_ad AFTER DELETE ON prefs WHEN " DS_BROWSER_NOT_APPLYING
	" AND " MATTERS("OLD.name") " BEGIN" DS_BROWSER_LOG_SQL(RECORD_ID, "0") " END;";

static const char DROP_TRIGGERS_SQL[] =
	"DROP TRIGGER IF EXISTS datasync_prefs_ai;"
	"DROP TRIGGER IF EXISTS datasync_prefs_au;"
	"DROP TRIGGER IF EXISTS datasync_prefs_ad;";

/* The synced prefs and their rows (type and value NULL when the device has no row). */
static const char SYNCED_SQL[] =
	"WITH names(n) AS (SELECT name FROM datasync_prefs_allow UNION SELECT substr(name, 26)"
	" FROM prefs WHERE " IS_CONTROL("name") " AND value = 1)"
	" SELECT n, p.type, p.value FROM names LEFT JOIN prefs p ON p.name = n"
	" WHERE " SYNCED("n") " ORDER BY n";

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);

	if (rc != SQLITE_OK) {
		DS_LOG_ERR("SQL prepare failed: %s", sqlite3_errmsg(db));
		return ds_browser_sqlerr(rc);
	}
	return 0;
}

int prefs_db_open(const char *path, sqlite3 **out)
{
	int rc = ds_browser_db_open(path, out);

	if (rc)
		return rc;
	if (ds_browser_exec(*out, "SELECT name, type, value FROM prefs LIMIT 0")) {
		DS_LOG_ERR("%s has no prefs(name, type, value) table (docs/engine-prefs.md)", path);
		sqlite3_close(*out);
		*out = NULL;
		return -EPROTO;
	}
	return 0;
}

/* Replace the allow-list with allow[]; *changed when a previous registration had another one
 * (the first registration changes nothing: the device's values are not news to the account). */
static int write_allow(sqlite3 *db, const char *const *allow, size_t n, const char *record_id,
		       bool *changed)
{
	sqlite3_stmt *st;
	size_t i;
	int rc = ds_browser_exec(db, "CREATE TEMP TABLE IF NOT EXISTS datasync_prefs_new(name TEXT"
				 " PRIMARY KEY) WITHOUT ROWID; DELETE FROM temp.datasync_prefs_new");

	*changed = false;
	if (rc == 0)
		rc = prepare(db, "INSERT OR IGNORE INTO temp.datasync_prefs_new(name) VALUES(?)", &st);
	if (rc)
		return rc;
	for (i = 0; rc == 0 && i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, allow[i], -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	}
	sqlite3_finalize(st);
	if (rc == 0)
		rc = prepare(db, "SELECT EXISTS (SELECT 1 FROM datasync_prefs_conf) AND"
			     " (EXISTS (SELECT name FROM datasync_prefs_allow EXCEPT"
			     " SELECT name FROM temp.datasync_prefs_new) OR EXISTS (SELECT name FROM"
			     " temp.datasync_prefs_new EXCEPT SELECT name FROM datasync_prefs_allow))", &st);
	if (rc == 0) {
		rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -EIO;
		*changed = rc == 0 && sqlite3_column_int(st, 0) != 0;
		sqlite3_finalize(st);
	}
	if (rc == 0)
		rc = ds_browser_exec(db, "DELETE FROM datasync_prefs_allow; INSERT INTO"
				     " datasync_prefs_allow SELECT name FROM temp.datasync_prefs_new;"
				     " DROP TABLE temp.datasync_prefs_new");
	if (rc == 0)
		rc = prepare(db, "INSERT OR REPLACE INTO datasync_prefs_conf(id, record_id) VALUES(1, ?)", &st);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, record_id, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(st);
	}
	return rc;
}

int prefs_db_install(sqlite3 *db, const char *const *allow, size_t n, const char *record_id)
{
	bool changed = false;
	int rc = ds_browser_exec(db, "BEGIN IMMEDIATE");

	if (rc)
		return rc;
	rc = ds_browser_log_install(db);
	if (rc == 0)
		rc = ds_browser_exec(db, SIDE_SQL);
	if (rc == 0)
		rc = write_allow(db, allow, n, record_id, &changed);
	if (rc == 0)
		rc = ds_browser_exec(db, DROP_TRIGGERS_SQL);
	if (rc == 0)
		rc = ds_browser_exec(db, TRIGGERS_SQL);
	/* Another allow-list syncs other prefs: the record changed. */
	if (rc == 0 && changed)
		rc = ds_browser_exec(db, DS_BROWSER_LOG_SQL(RECORD_ID, "0"));
	if (rc == 0)
		rc = ds_browser_exec(db, "COMMIT");
	if (rc && !sqlite3_get_autocommit(db))
		ds_browser_exec(db, "ROLLBACK");
	return rc;
}

int ds_prefs_uninstall(const char *path)
{
	sqlite3 *db = NULL;
	int rc = prefs_db_open(path, &db);

	if (rc)
		return rc;
	rc = ds_browser_exec(db, DROP_TRIGGERS_SQL);
	if (rc == 0)
		rc = ds_browser_exec(db, "DROP TABLE IF EXISTS datasync_prefs_allow;"
				     "DROP TABLE IF EXISTS datasync_prefs_conf;"
				     "DROP TABLE IF EXISTS datasync_prefs_base;");
	if (rc == 0)
		rc = ds_browser_log_uninstall(db);
	sqlite3_close(db);
	return rc;
}

int prefs_db_synced(sqlite3 *db, prefs_row_cb cb, void *user_data)
{
	sqlite3_stmt *st;
	int rc = prepare(db, SYNCED_SQL, &st);

	if (rc)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *type = (const char *)sqlite3_column_text(st, 1);

		if (!name) {
			rc = SQLITE_NOMEM;
			break;
		}
		rc = cb(name, type, sqlite3_column_value(st, 2), user_data);
		if (rc) {
			sqlite3_finalize(st);
			return rc;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : ds_browser_sqlerr(rc);
}

int prefs_db_is_synced(sqlite3 *db, const char *name, bool *synced)
{
	sqlite3_stmt *st;
	int rc = prepare(db, "SELECT " SYNCED("?1"), &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*synced = rc == SQLITE_ROW && sqlite3_column_int(st, 0) != 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : ds_browser_sqlerr(rc);
}

int prefs_db_type(sqlite3 *db, const char *name, char type[8])
{
	sqlite3_stmt *st;
	int rc = prepare(db, "SELECT type FROM prefs WHERE name = ?", &st);

	type[0] = '\0';
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);

		snprintf(type, 8, "%s", t ? t : "");
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : ds_browser_sqlerr(rc);
	}
	sqlite3_finalize(st);
	return rc;
}

int prefs_db_set(sqlite3 *db, const char *name, const char *type, const struct prefs_value *v)
{
	sqlite3_stmt *st;
	int rc;

	if (!type) /* reset to the default: the row stays, without a user value */
		rc = prepare(db, "UPDATE prefs SET value = NULL WHERE name = ?1", &st);
	else
		rc = prepare(db, "INSERT INTO prefs(name, type, value) VALUES(?1, ?2, ?3)"
			     " ON CONFLICT(name) DO UPDATE SET value = excluded.value"
			     " WHERE prefs.value IS NOT excluded.value", &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (type) {
		sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
		if (v->str)
			sqlite3_bind_text(st, 3, v->str, -1, SQLITE_STATIC);
		else
			sqlite3_bind_int64(st, 3, v->num);
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : ds_browser_sqlerr(rc);
}

int prefs_db_base_get(sqlite3 *db, char **json)
{
	sqlite3_stmt *st;
	int rc = prepare(db, "SELECT value FROM datasync_prefs_base", &st);

	*json = NULL;
	if (rc)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);

		*json = ds_strdup(t ? t : "{}");
		rc = *json ? 0 : -ENOMEM;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : ds_browser_sqlerr(rc);
	}
	sqlite3_finalize(st);
	return rc;
}

int prefs_db_base_put(sqlite3 *db, const char *json)
{
	sqlite3_stmt *st;
	int rc = prepare(db, "INSERT OR REPLACE INTO datasync_prefs_base(id, value) VALUES(1, ?)", &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : ds_browser_sqlerr(rc);
}
