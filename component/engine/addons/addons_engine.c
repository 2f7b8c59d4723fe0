/*
 * The addons engine: Firefox Sync addons records over the device's addons.sqlite.
 *
 * Record (sync15.md §8; DOCS objectformats "addons"; desktop addons.sys.mjs AddonRecord):
 *   {"id": guid, "addonID": text, "applicationID": text, "enabled": bool, "source": "amo"}
 * Rules (docs/engine-addons.md), each with a test in test/unit/addons_engine_test.c:
 *  - only items from the shared store (source "amo") of the device's application sync, both
 *    ways (desktop isAddonSyncable and "Ignoring add-on record for another application");
 *  - an item is its addonID: a record for an addonID installed under another guid renames the
 *    local item (desktop _findDupe by addonID);
 *  - a record for an installed item sets its enabled state; for an item that is not installed
 *    it leaves an "install" wish in addons_wanted, since the device cannot install from the
 *    store itself; a tombstone of an installed item leaves an "uninstall" wish (desktop
 *    uninstalls), a tombstone of a wish drops it;
 *  - the package manager installing, enabling, disabling or removing a synced item is a local
 *    change (a removal is a tombstone); its own writes of other items are not;
 *  - a record without a string addonID, applicationID and source and a boolean enabled is
 *    refused; unknown fields are kept beside the item and sent back;
 *  - wipeEngine leaves an "uninstall" wish for every synced item, and the package manager
 *    carrying one out is no local change, whether it deletes the wish before or after removing
 *    the item (desktop AddonsStore.wipe, see a_wipe).
 */
#define DS_LOG_TAG "addons"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "engine/addons/ds_addons.h"
#include "engine/browser/ds_browser_engine.h"
#include "engine/browser/ds_browser_sqlite.h"
#include "sync/ds_sync.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static const char *const KNOWN_FIELDS[] = { "id", "addonID", "applicationID", "enabled", "source",
					    NULL };

#define APP_ID "(SELECT app_id FROM datasync_addons_conf)"
#define SYNCABLE(X) "(" X ".source = '" DS_ADDONS_SOURCE_AMO "' AND " X ".applicationID = " APP_ID ")"

static const char SIDE_SQL[] =
	DS_ADDONS_WANTED_SQL
	"CREATE TABLE IF NOT EXISTS datasync_addons_conf(id INTEGER PRIMARY KEY CHECK (id = 1),"
	" app_id TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS datasync_addons_wiped(addonID TEXT PRIMARY KEY NOT NULL);";

/* An item a wipe (below, a_wipe) asked to uninstall carries a mark in datasync_addons_wiped, kept
 * apart from its wish: the package manager may delete the wish before it removes the item. */
#define WIPED(X) "EXISTS (SELECT 1 FROM datasync_addons_wiped w WHERE w.addonID = " X ".addonID)"

/* The package manager's writes of synced items are local changes; an item arriving or going
 * settles the wish that asked for it. Removing a marked item (a wipe asked for it) is not a
 * change: it drops the item's pending change instead of logging a deletion, and the mark. */
static const char TRIGGERS_SQL[] =
	"CREATE TRIGGER datasync_addons_ai AFTER INSERT ON addons WHEN " DS_BROWSER_NOT_APPLYING
	" BEGIN DELETE FROM addons_wanted WHERE addonID = NEW.addonID AND wish = 'install';"
	DS_BROWSER_LOG_SQL("(SELECT NEW.guid WHERE " SYNCABLE("NEW") ")", "0") " END;"
	"CREATE TRIGGER datasync_addons_au AFTER UPDATE ON addons WHEN " DS_BROWSER_NOT_APPLYING
	" AND (OLD.guid IS NOT NEW.guid OR OLD.addonID IS NOT NEW.addonID OR OLD.enabled IS NOT"
	" NEW.enabled OR OLD.source IS NOT NEW.source OR OLD.applicationID IS NOT NEW.applicationID)"
	" AND (" SYNCABLE("OLD") " OR " SYNCABLE("NEW") ") BEGIN"
	DS_BROWSER_LOG_SQL("(SELECT OLD.guid WHERE " SYNCABLE("OLD") " AND (OLD.guid IS NOT NEW.guid"
			   " OR NOT " SYNCABLE("NEW") "))", "1")
	DS_BROWSER_LOG_SQL("(SELECT NEW.guid WHERE " SYNCABLE("NEW") ")", "0") " END;"
	"CREATE TRIGGER datasync_addons_ad AFTER DELETE ON addons WHEN " DS_BROWSER_NOT_APPLYING
	" BEGIN DELETE FROM datasync_changes WHERE guid = OLD.guid AND " WIPED("OLD") ";"
	DS_BROWSER_LOG_SQL("(SELECT OLD.guid WHERE " SYNCABLE("OLD") " AND NOT " WIPED("OLD") ")", "1")
	" DELETE FROM addons_wanted WHERE addonID = OLD.addonID AND wish = 'uninstall';"
	" DELETE FROM datasync_addons_wiped WHERE addonID = OLD.addonID; END;";

static const char DROP_TRIGGERS_SQL[] =
	"DROP TRIGGER IF EXISTS datasync_addons_ai;"
	"DROP TRIGGER IF EXISTS datasync_addons_au;"
	"DROP TRIGGER IF EXISTS datasync_addons_ad;"
	/* Databases set up before the marks outlived their wishes have this one; it goes. */
	"DROP TRIGGER IF EXISTS datasync_addons_wanted_ad;";

struct addons_engine {
	struct ds_browser_engine b; /* over ds_browser_log_track on db */
	sqlite3 *db;
	char *app_id;
};

struct addon {
	char guid[DS_BROWSER_ID_MAX];
	char addon_id[DS_ADDONS_MAX_ID + 1];
	char app_id[DS_ADDONS_MAX_ID + 1];
	char source[DS_ADDONS_MAX_ID + 1];
	bool enabled;
};

static struct addons_engine *AE(struct ds_engine *e)
{
	return DS_CONTAINER_OF(e, struct addons_engine, b.e);
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);

	if (rc != SQLITE_OK) {
		DS_LOG_ERR("SQL prepare failed: %s", sqlite3_errmsg(db));
		return ds_browser_sqlerr(rc);
	}
	return 0;
}

static void col(sqlite3_stmt *st, int i, char *buf, size_t size)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	snprintf(buf, size, "%s", t ? t : "");
}

/* The row of table (addons, or the install wishes) with this guid (key "guid") or addonID (key
 * "addonID"): 0, or -ENOENT. */
static int find_in(sqlite3 *db, const char *table, const char *key, const char *v, struct addon *out)
{
	sqlite3_stmt *st;
	char *sql = ds_asprintf("SELECT guid, addonID, applicationID, source, enabled FROM %s WHERE %s = ?",
				table, key);
	int rc;

	if (!sql)
		return -ENOMEM;
	rc = prepare(db, sql, &st);
	ds_free(sql);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, v, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		col(st, 0, out->guid, sizeof(out->guid));
		col(st, 1, out->addon_id, sizeof(out->addon_id));
		col(st, 2, out->app_id, sizeof(out->app_id));
		col(st, 3, out->source, sizeof(out->source));
		out->enabled = sqlite3_column_int(st, 4) != 0;
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : ds_browser_sqlerr(rc);
	}
	sqlite3_finalize(st);
	return rc;
}

/* The installed item with this guid or addonID. */
static int find(sqlite3 *db, const char *key, const char *v, struct addon *out)
{
	return find_in(db, "addons", key, v, out);
}

static bool syncable(const struct addons_engine *a, const struct addon *x)
{
	return strcmp(x->source, DS_ADDONS_SOURCE_AMO) == 0 && strcmp(x->app_id, a->app_id) == 0;
}

static int run(sqlite3 *db, const char *sql, const char *const *args, size_t n, int64_t num)
{
	sqlite3_stmt *st;
	size_t i;
	int rc = prepare(db, sql, &st);

	if (rc)
		return rc;
	for (i = 0; i < n; i++)
		sqlite3_bind_text(st, (int)i + 1, args[i], -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, (int)n + 1, num);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : ds_browser_sqlerr(rc);
}

/* ---- records ---------------------------------------------------------------------------- */

static int encode(const struct addon *x, char **out)
{
	cJSON *o = cJSON_CreateObject();
	int rc = -ENOMEM;

	*out = NULL;
	if (o && cJSON_AddStringToObject(o, "id", x->guid) &&
	    cJSON_AddStringToObject(o, "addonID", x->addon_id) &&
	    cJSON_AddStringToObject(o, "applicationID", x->app_id) &&
	    cJSON_AddBoolToObject(o, "enabled", x->enabled) &&
	    cJSON_AddStringToObject(o, "source", x->source)) {
		/* Records are freed with ds_free (ds_record_clear): copy out of cJSON's allocator. */
		char *text = cJSON_PrintUnformatted(o);

		*out = text ? ds_strdup(text) : NULL;
		cJSON_free(text);
		rc = *out ? 0 : -ENOMEM;
	}
	cJSON_Delete(o);
	return rc;
}

static bool text_ok(const cJSON *v)
{
	return cJSON_IsString(v) && *v->valuestring && strlen(v->valuestring) <= DS_ADDONS_MAX_ID;
}

static int decode(const struct ds_record *r, struct addon *out)
{
	cJSON *o = cJSON_Parse(r->payload);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "addonID");
	const cJSON *app = cJSON_GetObjectItemCaseSensitive(o, "applicationID");
	const cJSON *en = cJSON_GetObjectItemCaseSensitive(o, "enabled");
	const cJSON *src = cJSON_GetObjectItemCaseSensitive(o, "source");
	int rc = -EBADMSG;

	memset(out, 0, sizeof(*out));
	if (text_ok(id) && text_ok(app) && cJSON_IsBool(en) && text_ok(src)) {
		snprintf(out->guid, sizeof(out->guid), "%s", r->id);
		snprintf(out->addon_id, sizeof(out->addon_id), "%s", id->valuestring);
		snprintf(out->app_id, sizeof(out->app_id), "%s", app->valuestring);
		snprintf(out->source, sizeof(out->source), "%s", src->valuestring);
		out->enabled = cJSON_IsTrue(en);
		rc = 0;
	}
	cJSON_Delete(o);
	return rc;
}

static bool guid_ok(const char *id)
{
	size_t i;

	for (i = 0; id[i]; i++)
		if ((unsigned char)id[i] <= 0x20 || (unsigned char)id[i] >= 0x7f || id[i] == ',')
			return false;
	return i > 0 && i < DS_BROWSER_ID_MAX;
}

/* ---- engine ops ------------------------------------------------------------------------- */

/*
 * A mark whose uninstall wish is gone while the item is still installed (a removal drops the
 * mark) is a declined wish: the package manager deleted the wish and kept the item. It is
 * settled here, at the start of a run, so the item is an ordinary one again (marked for upload
 * after the reset, its removal a deletion). A package manager that deletes the wish first
 * removes the item in the same transaction or before the next run (docs/engine-addons.md).
 */
static int a_prepare(struct ds_engine *e)
{
	int rc = ds_browser_exec(AE(e)->db, "SELECT guid, addonID, applicationID, enabled, source"
				 " FROM addons LIMIT 0");

	if (rc == 0)
		rc = ds_browser_exec(AE(e)->db, "DELETE FROM datasync_addons_wiped WHERE NOT EXISTS"
				     " (SELECT 1 FROM addons_wanted w WHERE w.addonID ="
				     " datasync_addons_wiped.addonID AND w.wish = 'uninstall')");
	return rc;
}

static int current(struct addons_engine *a, const char *guid, struct ds_record *out, bool must_exist)
{
	struct addon x;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = find(a->db, "guid", guid, &x);
	if (rc == 0 && !syncable(a, &x))
		rc = -ENOENT;
	if (rc == -ENOENT && !must_exist) {
		out->deleted = true;
		out->id = ds_strdup(guid);
		return out->id ? 0 : -ENOMEM;
	}
	if (rc)
		return rc;
	rc = encode(&x, &out->payload);
	if (rc == 0) {
		char *kept = NULL;

		rc = ds_browser_unknown_get(a->db, guid, &kept);
		if (rc == 0)
			rc = ds_browser_unknown_join(&out->payload, kept);
		else if (rc == -ENOENT)
			rc = 0;
		ds_free(kept);
	}
	if (rc == 0 && !(out->id = ds_strdup(guid)))
		rc = -ENOMEM;
	if (rc)
		ds_record_clear(out);
	return rc;
}

/* 1 when a wipe asked to uninstall addon_id and neither the removal nor a server record for it
 * nor a declined wish (a_prepare) settled that yet, 0 when not, or -errno. */
static int is_wiped(sqlite3 *db, const char *addon_id)
{
	sqlite3_stmt *st;
	int rc = prepare(db, "SELECT 1 FROM datasync_addons_wiped WHERE addonID = ?", &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, addon_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	rc = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : ds_browser_sqlerr(rc);
	sqlite3_finalize(st);
	return rc;
}

static int a_get(struct ds_engine *e, const char *id, struct ds_record *out)
{
	struct addons_engine *a = AE(e);
	struct addon x;
	int rc = current(a, id, out, true);

	/* An item a wipe asked to uninstall is gone as far as the server's records go: the next
	 * download applies the server's version (which withdraws the wish) even when it matches. */
	if (rc == 0 && find(a->db, "guid", id, &x) == 0 && (rc = is_wiped(a->db, x.addon_id)) != 0) {
		ds_record_clear(out);
		if (rc > 0)
			rc = -ENOENT;
	}
	if (rc != -ENOENT)
		return rc;
	/* An item another device installed is here as an install wish: it is the device's state
	 * of that record, so a later tombstone reaches apply and withdraws the wish (the core
	 * skips tombstones for ids the engine does not hold). */
	rc = find_in(a->db, "(SELECT * FROM addons_wanted WHERE wish = 'install')", "guid", id, &x);
	if (rc)
		return rc;
	rc = encode(&x, &out->payload);
	if (rc == 0 && !(out->id = ds_strdup(id)))
		rc = -ENOMEM;
	if (rc)
		ds_record_clear(out);
	return rc;
}

static int a_current(struct ds_engine *e, const char *guid, struct ds_record *out)
{
	return current(AE(e), guid, out, false);
}

static int wish(struct addons_engine *a, const struct addon *x, const char *what)
{
	const char *args[] = { x->guid, x->addon_id, x->app_id, x->source, what };
	/* One wish per item: a newer record replaces the older wish (its guid too), and a wipe's
	 * mark goes, as for any server record applied to the item. */
	int rc = run(a->db, "DELETE FROM addons_wanted WHERE addonID = ?2 AND guid IS NOT ?1", args, 2, 0);

	if (rc == 0)
		rc = run(a->db, "DELETE FROM datasync_addons_wiped WHERE addonID = ?", args + 1, 1, 0);
	if (rc == 0)
		rc = run(a->db, "INSERT OR REPLACE INTO addons_wanted(guid, addonID, applicationID,"
			 " source, wish, enabled) VALUES(?, ?, ?, ?, ?, ?)", args, 5, x->enabled);
	return rc;
}

static int apply_tombstone(struct addons_engine *a, const char *guid)
{
	struct addon x;
	const char *args[] = { guid };
	int rc = find(a->db, "guid", guid, &x);

	if (rc == 0 && syncable(a, &x)) {
		rc = wish(a, &x, "uninstall");
	} else if (rc == 0 || rc == -ENOENT) {
		rc = run(a->db, "DELETE FROM addons_wanted WHERE guid = ?", args, 1, 0);
	}
	if (rc == 0)
		rc = ds_browser_unknown_put(a->db, guid, NULL);
	return rc;
}

static int a_apply(struct ds_engine *e, const struct ds_record *r)
{
	struct addons_engine *a = AE(e);
	struct addon in, have;
	char *unknown = NULL;
	int rc;

	if (!r->id || !guid_ok(r->id))
		return -EBADMSG;
	if (r->deleted || !r->payload)
		return apply_tombstone(a, r->id);
	rc = decode(r, &in);
	if (rc)
		return rc;
	if (!syncable(a, &in)) {
		/* Another application's item, or one from elsewhere than the store: not ours. */
		DS_LOG_DBG("addon record for another application or source ignored");
		return 0;
	}
	rc = find(a->db, "addonID", in.addon_id, &have);
	if (rc == 0 && !syncable(a, &have)) {
		/* Installed here from another source: the device's own business. */
		return 0;
	}
	if (rc == 0) {
		const char *args[] = { have.guid, in.guid };
		const char *w[] = { in.addon_id };

		if (strcmp(have.guid, in.guid) != 0) {
			rc = run(a->db, "UPDATE addons SET guid = ?2 WHERE guid = ?1", args, 2, 0);
			if (rc == 0)
				rc = ds_browser_log_rename(a->db, have.guid, in.guid);
		}
		if (rc == 0)
			rc = run(a->db, "UPDATE addons SET enabled = ?2 WHERE guid = ?1", args + 1, 1,
				 in.enabled);
		/* Installed and wanted: an uninstall wish the record overrides goes, with a wipe's
		 * mark (the item stays, as desktop would install it again). */
		if (rc == 0)
			rc = run(a->db, "DELETE FROM addons_wanted WHERE addonID = ?", w, 1, 0);
		if (rc == 0)
			rc = run(a->db, "DELETE FROM datasync_addons_wiped WHERE addonID = ?", w, 1, 0);
	} else if (rc == -ENOENT) {
		rc = wish(a, &in, "install");
	}
	if (rc == 0)
		rc = ds_browser_unknown_split(r->payload, KNOWN_FIELDS, &unknown);
	if (rc == 0)
		rc = ds_browser_unknown_put(a->db, in.guid, unknown);
	ds_free(unknown);
	return rc;
}

/* Items a wipe asked to uninstall are on their way out: not marked (desktop has removed them
 * before its next sync), unless a record from the server overrides the wish first. */
static int a_mark_all(struct ds_engine *e)
{
	return ds_browser_log_mark_query(AE(e)->db, "SELECT guid AS g FROM addons a WHERE "
					 SYNCABLE("a") " AND NOT " WIPED("a") " ORDER BY guid");
}

/*
 * wipeEngine: desktop's AddonsStore.wipe (services/sync/modules/engines/addons.sys.mjs)
 * uninstalls every syncable add-on while SyncEngine._wipeClient (engines.sys.mjs) has the
 * tracker ignore the removals, and the next sync installs the server's add-ons again. Here the
 * uninstalls are wishes for the package manager, each item with a wipe mark, so that carrying one
 * out later, outside the engine's transaction, is no local deletion (see the delete trigger):
 * nothing goes up, and the next download turns the server's records into install wishes again.
 * The mark is not tied to the wish row, as the package manager may dequeue the wish before it
 * removes the item: it goes with the removal, with a server record applied to the item (a_apply,
 * wish) or, when the wish was deleted and the item kept (declined), at the next run (a_prepare).
 * The wishes other devices left are dropped with the rest of the engine's state. Inside
 * begin/commit (ds_browser_log_wipe refuses otherwise).
 */
static int a_wipe(struct ds_engine *e)
{
	return ds_browser_log_wipe(AE(e)->db,
				   "DELETE FROM addons_wanted; DELETE FROM datasync_addons_wiped;"
				   " INSERT INTO addons_wanted(guid, addonID, applicationID, enabled,"
				   " source, wish) SELECT guid, addonID, applicationID, enabled, source,"
				   " 'uninstall' FROM addons a WHERE " SYNCABLE("a") ";"
				   " INSERT INTO datasync_addons_wiped(addonID) SELECT addonID FROM"
				   " addons_wanted;");
}

static void a_close(struct ds_engine *e)
{
	struct addons_engine *a;

	if (!e)
		return;
	a = AE(e);
	sqlite3_close(a->db);
	ds_free(a->app_id);
	ds_free(a);
}

static const struct ds_engine_ops addons_ops = {
	.kind = "addons",
	.prepare = a_prepare,
	.begin = ds_browser_engine_begin,
	.commit = ds_browser_engine_commit,
	.rollback = ds_browser_engine_rollback,
	.changes = ds_browser_engine_changes,
	.changes_after = ds_browser_engine_changes_after,
	.pending = ds_browser_engine_pending,
	.get = a_get,
	.apply = a_apply,
	.forget = ds_browser_engine_forget,
	.mark_all = a_mark_all,
	.wipe = a_wipe,
	.close = a_close,
};

static int db_open(const char *path, sqlite3 **db)
{
	int rc = ds_browser_db_open(path, db);

	if (rc)
		return rc;
	if (ds_browser_exec(*db, "SELECT guid, addonID, applicationID, enabled, source FROM addons"
			    " LIMIT 0")) {
		DS_LOG_ERR("%s has no addons table (docs/engine-addons.md)", path);
		sqlite3_close(*db);
		*db = NULL;
		return -EPROTO;
	}
	return 0;
}

static int install(sqlite3 *db, const char *app_id)
{
	const char *args[] = { app_id };
	int rc = ds_browser_exec(db, "BEGIN IMMEDIATE");

	if (rc)
		return rc;
	rc = ds_browser_log_install(db);
	if (rc == 0)
		rc = ds_browser_exec(db, SIDE_SQL);
	if (rc == 0)
		rc = run(db, "INSERT OR REPLACE INTO datasync_addons_conf(id, app_id) VALUES(1, ?)",
			 args, 1, 0);
	if (rc == 0)
		rc = ds_browser_exec(db, DROP_TRIGGERS_SQL);
	if (rc == 0)
		rc = ds_browser_exec(db, TRIGGERS_SQL);
	if (rc == 0)
		rc = ds_browser_exec(db, "COMMIT");
	if (rc && !sqlite3_get_autocommit(db))
		ds_browser_exec(db, "ROLLBACK");
	return rc;
}

int ds_addons_engine_new(const struct ds_addons_options *opt, struct ds_engine **out)
{
	struct addons_engine *a;
	const char *app;
	int rc;

	*out = NULL;
	if (!opt || !opt->path)
		return -EINVAL;
	app = opt->app_id ? opt->app_id : DS_ADDONS_FIREFOX_APP_ID;
	if (!*app || strlen(app) > DS_ADDONS_MAX_ID)
		return -EINVAL;
	a = ds_calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->app_id = ds_strdup(app);
	rc = a->app_id ? db_open(opt->path, &a->db) : -ENOMEM;
	if (rc == 0)
		rc = install(a->db, a->app_id);
	if (rc) {
		sqlite3_close(a->db);
		ds_free(a->app_id);
		ds_free(a);
		return rc;
	}
	a->b.track = &ds_browser_log_track;
	a->b.s = &a->db;
	a->b.current = a_current;
	a->b.e.ops = &addons_ops;
	a->b.e.priv = a;
	*out = &a->b.e;
	return 0;
}

int ds_addons_uninstall(const char *path)
{
	sqlite3 *db = NULL;
	int rc = db_open(path, &db);

	if (rc)
		return rc;
	rc = ds_browser_exec(db, DROP_TRIGGERS_SQL);
	if (rc == 0)
		rc = ds_browser_exec(db, "DROP TABLE IF EXISTS datasync_addons_conf;"
				     " DROP TABLE IF EXISTS datasync_addons_wiped");
	if (rc == 0)
		rc = ds_browser_log_uninstall(db);
	sqlite3_close(db);
	return rc;
}

static const char *addons_path(const cJSON *cfg)
{
	return ds_browser_cfg_path(cfg, "addons", "addons", "addons.sqlite");
}

int ds_addons_engine_open(const cJSON *cfg, struct ds_engine **out)
{
	struct ds_addons_options o = { 0 };
	const cJSON *app = cJSON_GetObjectItemCaseSensitive(cfg, "app_id");

	*out = NULL;
	o.path = addons_path(cfg);
	if (!o.path)
		return -EINVAL;
	if (app && (!cJSON_IsString(app) || !*app->valuestring)) {
		DS_LOG_ERR("addons engine: \"app_id\" must be a non-empty string");
		return -EINVAL;
	}
	o.app_id = app ? app->valuestring : NULL;
	return ds_addons_engine_new(&o, out);
}

int ds_addons_engine_unregister(const cJSON *cfg)
{
	const char *path = addons_path(cfg);

	return path ? ds_addons_uninstall(path) : -EINVAL;
}
