/*
 * The reference forms store on Firefox's formhistory.sqlite (struct ds_forms_store).
 *
 * Schema version 5 of toolkit/components/satchel/FormHistory.sys.mjs: moz_formhistory (id,
 * fieldname, value, timesUsed, firstUsed, lastUsed in µs, guid), moz_deleted_formhistory (id,
 * timeDeleted, guid), moz_sources, moz_history_to_sources. There are no sync columns, so
 * changes are tracked with triggers and a side log in the same file
 * (engine/browser/ds_browser_sqlite.h). Using a saved value only bumps timesUsed/lastUsed,
 * which is not a change of the record (name, value), so the triggers watch fieldname, value
 * and guid only.
 */
#define DS_LOG_TAG "forms"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "ds_port.h"
#include "engine/browser/ds_browser_sqlite.h"
#include "engine/forms/ds_forms.h"

#include <stdio.h>
#include <string.h>

static const char TRIGGERS_SQL[] =
	"CREATE TRIGGER IF NOT EXISTS datasync_forms_ai AFTER INSERT ON moz_formhistory"
	" WHEN " DS_BROWSER_NOT_APPLYING " BEGIN" DS_BROWSER_LOG_SQL("NEW.guid", "0") " END;"
	"CREATE TRIGGER IF NOT EXISTS datasync_forms_au AFTER UPDATE OF fieldname, value"
	" ON moz_formhistory WHEN " DS_BROWSER_NOT_APPLYING " AND (OLD.fieldname IS NOT"
	" NEW.fieldname OR OLD.value IS NOT NEW.value) BEGIN" DS_BROWSER_LOG_SQL("NEW.guid", "0")
	" END;"
	"CREATE TRIGGER IF NOT EXISTS datasync_forms_guid_au AFTER UPDATE OF guid ON moz_formhistory"
	" WHEN " DS_BROWSER_NOT_APPLYING " AND OLD.guid IS NOT NEW.guid BEGIN"
	DS_BROWSER_LOG_SQL("OLD.guid", "1") DS_BROWSER_LOG_SQL("NEW.guid", "0") " END;"
	"CREATE TRIGGER IF NOT EXISTS datasync_forms_ad AFTER DELETE ON moz_formhistory"
	" WHEN " DS_BROWSER_NOT_APPLYING " BEGIN" DS_BROWSER_LOG_SQL("OLD.guid", "1") " END;";

static const char DROP_SQL[] =
	"DROP TRIGGER IF EXISTS datasync_forms_ai;"
	"DROP TRIGGER IF EXISTS datasync_forms_au;"
	"DROP TRIGGER IF EXISTS datasync_forms_guid_au;"
	"DROP TRIGGER IF EXISTS datasync_forms_ad;";

static const char SCHEMA_CHECK_SQL[] =
	"SELECT fieldname, value, timesUsed, firstUsed, lastUsed, guid FROM moz_formhistory LIMIT 0;"
	"SELECT timeDeleted, guid FROM moz_deleted_formhistory LIMIT 0;";

struct formhistory {
	sqlite3 *db; /* first: the shared tracking ops find it there (ds_browser_sqlite.h) */
	int64_t (*now_ms)(void *);
	void *now_user_data;
};

static struct formhistory *F(void *s)
{
	return s;
}

static int64_t now_us(struct formhistory *f)
{
	return (f->now_ms ? f->now_ms(f->now_user_data) : ds_port_wall_ms()) * 1000;
}

static int st_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);

	if (rc != SQLITE_OK) {
		DS_LOG_ERR("SQL prepare failed: %s", sqlite3_errmsg(db));
		return ds_browser_sqlerr(rc);
	}
	return 0;
}

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : ds_browser_sqlerr(rc);
}

static int f_get(void *s, const char *guid, struct ds_form_entry *out)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	if (strlen(guid) >= sizeof(out->guid))
		return -ENOENT;
	rc = st_prepare(F(s)->db, "SELECT fieldname, value FROM moz_formhistory WHERE guid = ?", &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, guid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *n = (const char *)sqlite3_column_text(st, 0);
		const char *v = (const char *)sqlite3_column_text(st, 1);

		snprintf(out->guid, sizeof(out->guid), "%s", guid);
		out->name = ds_strdup(n ? n : "");
		out->value = ds_strdup(v ? v : "");
		rc = out->name && out->value ? 0 : -ENOMEM;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : ds_browser_sqlerr(rc);
	}
	sqlite3_finalize(st);
	if (rc)
		ds_form_entry_clear(out);
	return rc;
}

static int f_find(void *s, const char *name, const char *value, char guid_out[DS_BROWSER_ID_MAX])
{
	sqlite3_stmt *st;
	int rc = st_prepare(F(s)->db, "SELECT guid FROM moz_formhistory WHERE fieldname = ? AND"
				      " value = ? AND guid IS NOT NULL ORDER BY id LIMIT 1", &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *g = (const char *)sqlite3_column_text(st, 0);

		snprintf(guid_out, DS_BROWSER_ID_MAX, "%s", g ? g : "");
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : ds_browser_sqlerr(rc);
	}
	sqlite3_finalize(st);
	return rc;
}

static int f_put(void *s, const struct ds_form_entry *e)
{
	struct formhistory *f = F(s);
	sqlite3_stmt *st;
	int rc = st_prepare(f->db, "UPDATE moz_formhistory SET fieldname = ?, value = ? WHERE guid = ?",
			    &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, e->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, e->value, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, e->guid, -1, SQLITE_STATIC);
	rc = step_done(st);
	if (rc || sqlite3_changes(f->db) > 0)
		return rc;
	/* New here: used once, now (what Firefox writes for an entry added by sync). */
	rc = st_prepare(f->db, "INSERT INTO moz_formhistory(fieldname, value, timesUsed, firstUsed,"
			       " lastUsed, guid) VALUES(?, ?, 1, ?3, ?3, ?4)", &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, e->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, e->value, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now_us(f));
	sqlite3_bind_text(st, 4, e->guid, -1, SQLITE_STATIC);
	return step_done(st);
}

static int f_set_guid(void *s, const char *old_guid, const char *new_guid)
{
	sqlite3 *db = F(s)->db;
	sqlite3_stmt *st;
	int rc = st_prepare(db, "UPDATE moz_formhistory SET guid = ?2 WHERE guid = ?1", &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, old_guid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, new_guid, -1, SQLITE_STATIC);
	rc = step_done(st);
	return rc ? rc : ds_browser_log_rename(db, old_guid, new_guid);
}

static int f_remove(void *s, const char *guid)
{
	struct formhistory *f = F(s);
	sqlite3_stmt *st;
	/* No moz_deleted_formhistory row: Firefox writes one on Android only (FormHistory.sys.mjs
	 * supportsDeletedTable), and this store follows desktop. */
	int rc = st_prepare(f->db, "DELETE FROM moz_formhistory WHERE guid = ?", &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, guid, -1, SQLITE_STATIC);
	return step_done(st);
}

static int t_mark_all(void *s, size_t limit)
{
	return ds_browser_log_mark_recent(F(s)->db, "SELECT guid AS g FROM moz_formhistory"
					  " ORDER BY lastUsed DESC", limit);
}

static int t_forget_if_cleared(void *s)
{
	return ds_browser_log_forget_if_cleared(F(s)->db, "SELECT 1 FROM moz_formhistory LIMIT 1");
}

static int t_wipe(void *s)
{
	return ds_browser_log_wipe(F(s)->db, "DELETE FROM moz_formhistory");
}

static void t_close(void *s)
{
	sqlite3_close(F(s)->db);
	ds_free(s);
}

static const struct ds_forms_store_ops formhistory_ops = {
	.track = {
		.begin = ds_browser_track_begin,
		.commit = ds_browser_track_commit,
		.rollback = ds_browser_track_rollback,
		.pending = ds_browser_track_pending,
		.changes_after = ds_browser_track_changes_after,
		.forget = ds_browser_track_forget,
		.mark_all = t_mark_all,
		.forget_if_cleared = t_forget_if_cleared,
		.wipe = t_wipe,
		.unknown_get = ds_browser_track_unknown_get,
		.unknown_put = ds_browser_track_unknown_put,
		.close = t_close,
	},
	.get = f_get,
	.find = f_find,
	.put = f_put,
	.set_guid = f_set_guid,
	.remove = f_remove,
};

static int open_db(const char *path, sqlite3 **db)
{
	int rc = ds_browser_db_open(path, db);

	if (rc)
		return rc;
	rc = ds_browser_exec(*db, SCHEMA_CHECK_SQL);
	if (rc) {
		DS_LOG_ERR("%s does not hold Firefox's moz_formhistory", path);
		sqlite3_close(*db);
		*db = NULL;
		return -EPROTO;
	}
	return 0;
}

int ds_forms_formhistory_open(const char *path, int64_t (*now_ms)(void *), void *now_user_data,
			      struct ds_forms_store **out)
{
	struct ds_forms_store *s = NULL;
	struct formhistory *f = NULL;
	sqlite3 *db = NULL;
	int rc;

	*out = NULL;
	rc = open_db(path, &db);
	if (rc)
		return rc;
	rc = ds_browser_log_install(db);
	if (rc == 0)
		rc = ds_browser_exec(db, TRIGGERS_SQL);
	if (rc == 0) {
		s = ds_calloc(1, sizeof(*s));
		f = ds_calloc(1, sizeof(*f));
		if (!s || !f)
			rc = -ENOMEM;
	}
	if (rc) {
		ds_free(s);
		ds_free(f);
		sqlite3_close(db);
		return rc;
	}
	f->db = db;
	f->now_ms = now_ms;
	f->now_user_data = now_user_data;
	s->ops = &formhistory_ops;
	s->priv = f;
	*out = s;
	return 0;
}

int ds_forms_formhistory_uninstall(const char *path)
{
	sqlite3 *db = NULL;
	int rc = open_db(path, &db);

	if (rc)
		return rc;
	rc = ds_browser_exec(db, DROP_SQL);
	if (rc == 0)
		rc = ds_browser_log_uninstall(db);
	sqlite3_close(db);
	return rc;
}
