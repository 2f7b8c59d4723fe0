/*
 * The reference history store on Firefox's places.sqlite (struct ds_history_store).
 *
 * Tables as Firefox creates them (toolkit/components/places/nsPlacesTables.h): moz_places
 * (url, title, rev_host, visit_count, hidden, typed, frecency, last_visit_date, guid,
 * foreign_count, url_hash, ...) and moz_historyvisits (from_visit, place_id, visit_date in µs,
 * visit_type, session). Desktop moz_places has no sync columns (syncChangeCounter/syncStatus
 * exist on moz_bookmarks only; application-services' own places schema has them on moz_places,
 * a different database), so changes are tracked with triggers and a side log in the same file
 * (engine/browser/ds_browser_sqlite.h). Firefox's own Places triggers are TEMP triggers that it
 * creates on its connection (nsPlacesTriggers.h), so they do not fire for our writes: we keep
 * visit_count and last_visit_date ourselves and set frecency to -1, which Firefox recomputes.
 */
#define DS_LOG_TAG "history"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "engine/browser/ds_browser_sqlite.h"
#include "engine/history/ds_history.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/*
 * What the triggers log (docs/engine-history.md, "Removals: the user's, not expiration's"):
 *  - a visit added, a title changed (of a place that has visits: a bookmark never visited is not
 *    history) or a guid changed: the place changed;
 *  - a place removed by the user: a tombstone. Firefox also removes history by itself
 *    (nsPlacesExpiration.sys.mjs): it deletes the oldest visits when history is over its size
 *    limit, never one from the last 7 days (QUERY_FIND_VISITS_TO_EXPIRE: visit_date before the
 *    start of the local day minus 7 days; the "exotic" ones only after 60 or 90 days), then the
 *    orphan places, which have no visit left (QUERY_FIND_URIS_TO_EXPIRE). A user's removal
 *    (History.remove: the page's visits, then the place unless bookmarked) takes every visit,
 *    the recent ones too. So a removed visit newer than 7 days marks its place in
 *    datasync_history_removed as removed by the user; when such a place loses its last visit, or
 *    when a place is deleted with visits still attached, its removal is logged. A place that loses
 *    its last visit or its row without the mark was expired: nothing is uploaded, and a pending
 *    change it had is dropped (uploading it would send a tombstone). Visits removed alone are
 *    never changes: history records only add visits.
 * The triggers use SQLite's own clock because Firefox fires them on its connection.
 */
#define RECENT_US "((julianday('now') - 2440587.5) * 86400000000.0 - 604800000000.0)"
#define HAS_VISITS(P) "EXISTS (SELECT 1 FROM moz_historyvisits WHERE place_id = " P ")"
#define USER_MARK(P) "EXISTS (SELECT 1 FROM datasync_history_removed WHERE place_id = " P ")"

/* The place with id P, as the row DS_BROWSER_LOG_ROW_SQL logs the guid of. */
#define PLACE(P) "moz_places WHERE moz_places.id = " P

/* The triggers are dropped just before (DROP_TRIGGERS_SQL, same transaction): no IF NOT EXISTS. */
static const char TRIGGERS_SQL[] =
	"CREATE TABLE IF NOT EXISTS datasync_history_removed(place_id INTEGER PRIMARY KEY);"
	"CREATE TRIGGER datasync_history_visit_ai AFTER INSERT ON moz_historyvisits"
	" WHEN " DS_BROWSER_NOT_APPLYING " BEGIN"
	" DELETE FROM datasync_history_removed WHERE place_id = NEW.place_id;"
	DS_BROWSER_LOG_ROW_SQL("guid", PLACE("NEW.place_id"), "0") " END;"
	"CREATE TRIGGER datasync_history_visit_ad AFTER DELETE ON moz_historyvisits"
	" WHEN " DS_BROWSER_NOT_APPLYING " BEGIN"
	" INSERT OR IGNORE INTO datasync_history_removed(place_id) SELECT OLD.place_id"
	" WHERE OLD.visit_date >= " RECENT_US ";"
	" DELETE FROM datasync_changes WHERE deleted = 0 AND guid = (SELECT guid FROM moz_places"
	" WHERE id = OLD.place_id) AND NOT " HAS_VISITS("OLD.place_id") " AND NOT "
	USER_MARK("OLD.place_id") ";"
	DS_BROWSER_LOG_ROW_SQL("guid", PLACE("OLD.place_id") " AND NOT " HAS_VISITS("OLD.place_id") " AND "
			       USER_MARK("OLD.place_id"), "1")
	" DELETE FROM datasync_history_removed WHERE place_id = OLD.place_id AND NOT "
	HAS_VISITS("OLD.place_id") ";"
	" END;"
	"CREATE TRIGGER datasync_history_title_au AFTER UPDATE OF title ON moz_places"
	" WHEN " DS_BROWSER_NOT_APPLYING " AND OLD.title IS NOT NEW.title AND " HAS_VISITS("NEW.id")
	" BEGIN" DS_BROWSER_LOG_SQL("NEW.guid", "0") " END;"
	"CREATE TRIGGER datasync_history_guid_au AFTER UPDATE OF guid ON moz_places"
	" WHEN " DS_BROWSER_NOT_APPLYING " AND OLD.guid IS NOT NEW.guid BEGIN"
	DS_BROWSER_LOG_SQL("OLD.guid", "1") DS_BROWSER_LOG_SQL("NEW.guid", "0") " END;"
	"CREATE TRIGGER datasync_history_place_ad AFTER DELETE ON moz_places"
	" WHEN " DS_BROWSER_NOT_APPLYING " AND (" HAS_VISITS("OLD.id") " OR " USER_MARK("OLD.id")
	") BEGIN" DS_BROWSER_LOG_SQL("OLD.guid", "1")
	" DELETE FROM datasync_history_removed WHERE place_id = OLD.id; END;"
	"CREATE TRIGGER datasync_history_place_expired_ad AFTER DELETE ON moz_places"
	" WHEN " DS_BROWSER_NOT_APPLYING " AND NOT " HAS_VISITS("OLD.id") " AND NOT "
	USER_MARK("OLD.id") " BEGIN"
	" DELETE FROM datasync_changes WHERE guid = OLD.guid AND deleted = 0; END;";

static const char DROP_TRIGGERS_SQL[] =
	"DROP TRIGGER IF EXISTS datasync_history_visit_ai;"
	"DROP TRIGGER IF EXISTS datasync_history_visit_ad;"
	"DROP TRIGGER IF EXISTS datasync_history_title_au;"
	"DROP TRIGGER IF EXISTS datasync_history_guid_au;"
	"DROP TRIGGER IF EXISTS datasync_history_place_ad;"
	"DROP TRIGGER IF EXISTS datasync_history_place_expired_ad;";

/* Columns we read or write: a places.sqlite without them is not one we understand. */
static const char SCHEMA_CHECK_SQL[] =
	"SELECT url, title, rev_host, visit_count, hidden, typed, frecency, last_visit_date, guid,"
	" foreign_count, url_hash FROM moz_places LIMIT 0;"
	"SELECT from_visit, place_id, visit_date, visit_type, session FROM moz_historyvisits LIMIT 0;";

/* Visit types that do not count in visit_count (nsNavHistory: embed, download, framed link,
 * reload). */
#define VISIT_COUNT_WHERE "visit_type NOT IN (4, 7, 8, 9)"

/* visit_count and last_visit_date of the place with id ?2 from its visits (Firefox's triggers,
 * which keep them, do not fire for our writes), frecency left to Firefox. */
static const char RECOUNT_SQL[] =
	"UPDATE moz_places SET visit_count = (SELECT count(*) FROM moz_historyvisits WHERE place_id = ?2"
	" AND " VISIT_COUNT_WHERE "), last_visit_date = (SELECT max(visit_date) FROM moz_historyvisits"
	" WHERE place_id = ?2), frecency = -1 WHERE id = ?2";

/* The store's private data; the database handle first, where the shared tracking ops find it
 * (ds_browser_sqlite.h). */
struct places {
	sqlite3 *db;
};

static sqlite3 *db_of(void *s)
{
	return ((struct places *)s)->db;
}

/* The place with guid ?1: its id first (place_id), then what get() reads. */
static const char PLACE_SQL[] = "SELECT id, url, title, frecency FROM moz_places WHERE guid = ?";

/* The id of the place with this guid. With url: -EBADMSG when the place holds another URL (it
 * may have no visits, so get() did not show it): a broken record, refused rather than grafting
 * its visits onto another page. */
static int place_id(sqlite3 *db, const char *guid, const char *url, int64_t *id)
{
	sqlite3_stmt *st;
	const char *u;
	int rc = ds_browser_query(db, PLACE_SQL, guid, NULL, 0, &st);

	if (rc)
		return rc;
	*id = sqlite3_column_int64(st, 0);
	u = (const char *)sqlite3_column_text(st, 1);
	rc = url && (!u || strcmp(u, url) != 0) ? -EBADMSG : 0;
	sqlite3_finalize(st);
	return rc;
}

static int p_get(void *s, const char *guid, size_t max_visits, struct ds_history_place *out)
{
	sqlite3 *db = db_of(s);
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	if (strlen(guid) >= sizeof(out->guid))
		return -ENOENT;
	rc = ds_browser_query(db, PLACE_SQL, guid, NULL, 0, &st);
	if (rc == 0) {
		const char *u = (const char *)sqlite3_column_text(st, 1);
		const char *t = (const char *)sqlite3_column_text(st, 2);

		out->frecency = sqlite3_column_int64(st, 3);
		snprintf(out->guid, sizeof(out->guid), "%s", guid);
		out->url = ds_strdup(u ? u : "");
		out->title = t ? ds_strdup(t) : NULL;
		rc = !out->url || (t && !out->title) ? -ENOMEM : 0;
		sqlite3_finalize(st);
	}
	if (rc == 0 && !(out->visits = ds_calloc(max_visits ? max_visits : 1, sizeof(*out->visits))))
		rc = -ENOMEM;
	/* A place without visits (a bookmark never visited) is not history: -ENOENT. */
	if (rc == 0)
		rc = ds_browser_query(db, "SELECT visit_date, visit_type FROM moz_historyvisits WHERE place_id ="
				      " (SELECT id FROM moz_places WHERE guid = ?1) ORDER BY visit_date DESC, visit_type"
				      " LIMIT ?2", guid, NULL, (int64_t)max_visits, &st);
	if (rc == 0) {
		do {
			out->visits[out->n_visits].date_us = sqlite3_column_int64(st, 0);
			out->visits[out->n_visits].type = sqlite3_column_int(st, 1);
			out->n_visits++;
		} while (out->n_visits < max_visits && (rc = sqlite3_step(st)) == SQLITE_ROW);
		sqlite3_finalize(st);
		rc = ds_browser_sqlerr(rc);
	}
	if (rc)
		ds_history_place_clear(out);
	return rc;
}

static int p_find_url(void *s, const char *url, char guid_out[DS_BROWSER_ID_MAX])
{
	sqlite3_stmt *st;
	const char *g;
	int rc = ds_browser_query(db_of(s), "SELECT guid FROM moz_places WHERE url = ?1 AND url_hash = ?2"
				  " AND guid IS NOT NULL", url, NULL, ds_browser_url_hash(url), &st);

	if (rc)
		return rc;
	g = (const char *)sqlite3_column_text(st, 0);
	snprintf(guid_out, DS_BROWSER_ID_MAX, "%s", g ? g : "");
	sqlite3_finalize(st);
	return 0;
}

static int insert_place(sqlite3 *db, const struct ds_history_place *p, int64_t *id)
{
	sqlite3_stmt *st;
	char *rh = ds_browser_rev_host(p->url);
	int rc;

	if (!rh)
		return -ENOMEM;
	rc = ds_browser_prepare(db, "INSERT INTO moz_places(url, title, rev_host, visit_count, hidden, typed,"
			    " frecency, guid, url_hash) VALUES(?, ?, ?, 0, 0, 0, -1, ?, ?)", &st);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, p->url, -1, SQLITE_STATIC);
		if (p->title)
			sqlite3_bind_text(st, 2, p->title, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, rh, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, p->guid, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, ds_browser_url_hash(p->url));
		rc = ds_browser_step_done(st);
	}
	ds_free(rh);
	if (rc == 0)
		*id = sqlite3_last_insert_rowid(db);
	return rc;
}

static int p_put(void *s, const struct ds_history_place *p)
{
	sqlite3 *db = db_of(s);
	sqlite3_stmt *st;
	int64_t id = 0;
	size_t i;
	int rc = place_id(db, p->guid, p->url, &id);

	if (rc == -ENOENT)
		rc = insert_place(db, p, &id);
	else if (rc == 0 && p->title) {
		rc = ds_browser_run(db, "UPDATE moz_places SET title = ?1 WHERE id = ?2 AND title IS NOT ?1",
				    p->title, NULL, id);
	}
	if (rc)
		return rc;
	rc = ds_browser_prepare(db, "INSERT INTO moz_historyvisits(from_visit, place_id, visit_date,"
			    " visit_type, session) SELECT 0, ?1, ?2, ?3, 0 WHERE NOT EXISTS (SELECT 1"
			    " FROM moz_historyvisits WHERE place_id = ?1 AND visit_date = ?2"
			    " AND visit_type = ?3)", &st);
	if (rc)
		return rc;
	for (i = 0; i < p->n_visits && rc == 0; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, p->visits[i].date_us);
		sqlite3_bind_int(st, 3, p->visits[i].type);
		rc = ds_browser_sqlerr(sqlite3_step(st));
	}
	sqlite3_finalize(st);
	if (rc)
		return rc;
	return ds_browser_run(db, RECOUNT_SQL, NULL, NULL, id);
}

static int p_set_guid(void *s, const char *old_guid, const char *new_guid)
{
	sqlite3 *db = db_of(s);
	int64_t taken = 0;
	int rc = place_id(db, new_guid, NULL, &taken);

	/* Another place already has the guid (another URL, or a place without visits). */
	if (rc == 0)
		return -EBADMSG;
	if (rc != -ENOENT)
		return rc;
	rc = ds_browser_run(db, "UPDATE moz_places SET guid = ?2 WHERE guid = ?1", old_guid, new_guid, 0);
	return rc ? rc : ds_browser_log_rename(db, old_guid, new_guid);
}

static int p_remove(void *s, const char *guid)
{
	/* The place id bound to ?2 (ds_browser_run). A bookmarked place (foreign_count > 0) stays,
	 * without history: no visits, so visit_count 0 and last_visit_date NULL. */
	static const char *const sql[] = {
		"DELETE FROM moz_historyvisits WHERE place_id = ?2",
		"DELETE FROM moz_places WHERE id = ?2 AND foreign_count = 0",
		RECOUNT_SQL,
	};
	sqlite3 *db = db_of(s);
	int64_t id = 0;
	int rc = place_id(db, guid, NULL, &id);

	if (rc == -ENOENT)
		return 0;
	for (size_t i = 0; i < DS_ARRAY_SIZE(sql) && rc == 0; i++)
		rc = ds_browser_run(db, sql[i], NULL, NULL, id);
	return rc;
}

static int t_mark_all(void *s, size_t limit)
{
	return ds_browser_log_mark_recent(db_of(s), "SELECT guid AS g FROM moz_places"
					  " WHERE last_visit_date IS NOT NULL"
					  " ORDER BY last_visit_date DESC", limit);
}

static int t_forget_if_cleared(void *s)
{
	/* A user's mark on a place that still has visits (some recent visits removed, not the
	 * page) lasts until the next run only: were its old visits expired later, the mark would
	 * turn that expiration into a removal. */
	int rc = ds_browser_exec(db_of(s), "DELETE FROM datasync_history_removed WHERE place_id IN"
				 " (SELECT place_id FROM moz_historyvisits)");

	return rc ? rc : ds_browser_log_forget_if_cleared(db_of(s),
							  "SELECT 1 FROM moz_historyvisits LIMIT 1");
}

static int t_wipe(void *s)
{
	/* As desktop's PlacesUtils.history.clear: every visit goes, and every place no bookmark
	 * holds (foreign_count 0). */
	return ds_browser_log_wipe(db_of(s), "DELETE FROM moz_historyvisits;"
				   " DELETE FROM moz_places WHERE foreign_count = 0;"
				   " DELETE FROM datasync_history_removed;");
}

static void t_close(void *s)
{
	sqlite3_close(db_of(s));
	ds_free(s);
}

static const struct ds_history_store_ops places_ops = {
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
	.get = p_get,
	.find_url = p_find_url,
	.put = p_put,
	.set_guid = p_set_guid,
	.remove = p_remove,
};

static int open_db(const char *path, sqlite3 **db)
{
	int rc = ds_browser_db_open(path, db);

	if (rc)
		return rc;
	rc = ds_browser_exec(*db, SCHEMA_CHECK_SQL);
	if (rc) {
		DS_LOG_ERR("%s does not hold Firefox's moz_places/moz_historyvisits", path);
		sqlite3_close(*db);
		*db = NULL;
		return -EPROTO;
	}
	return 0;
}

int ds_history_places_open(const char *path, struct ds_history_store **out)
{
	struct ds_history_store *s;
	struct places *p;
	sqlite3 *db = NULL;
	int rc;

	*out = NULL;
	rc = open_db(path, &db);
	if (rc)
		return rc;
	/* The triggers are written again at every open, in one transaction, so that a database
	 * set up by an older version gets the current rules. */
	rc = ds_browser_exec(db, "BEGIN IMMEDIATE");
	if (rc == 0) {
		rc = ds_browser_log_install(db);
		if (rc == 0)
			rc = ds_browser_exec(db, DROP_TRIGGERS_SQL);
		if (rc == 0)
			rc = ds_browser_exec(db, TRIGGERS_SQL);
		rc = rc ? rc : ds_browser_exec(db, "COMMIT");
		if (rc && !sqlite3_get_autocommit(db))
			ds_browser_exec(db, "ROLLBACK");
	}
	s = rc ? NULL : ds_calloc(1, sizeof(*s));
	p = s ? ds_calloc(1, sizeof(*p)) : NULL;
	if (!p) {
		ds_free(s);
		sqlite3_close(db);
		return rc ? rc : -ENOMEM;
	}
	p->db = db;
	s->ops = &places_ops;
	s->priv = p;
	*out = s;
	return 0;
}

int ds_history_places_uninstall(const char *path)
{
	sqlite3 *db = NULL;
	int rc = open_db(path, &db);

	if (rc)
		return rc;
	rc = ds_browser_exec(db, DROP_TRIGGERS_SQL);
	if (rc == 0)
		rc = ds_browser_exec(db, "DROP TABLE IF EXISTS datasync_history_removed");
	if (rc == 0)
		rc = ds_browser_log_uninstall(db);
	sqlite3_close(db);
	return rc;
}
