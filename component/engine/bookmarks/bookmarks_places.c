/*
 * The reference bookmarks store on Firefox's places.sqlite (struct ds_bookmarks_store).
 *
 * Tables as Firefox creates them (toolkit/components/places/nsPlacesTables.h): moz_bookmarks
 * (type 1 bookmark, 2 folder, 3 separator; fk -> moz_places; parent, position; dateAdded and
 * lastModified in µs; guid), moz_places (url, url_hash, foreign_count), moz_keywords (keyword,
 * place_id, post_data). Tags are folders under the tags root ("tags________"), each holding one
 * bookmark row per tagged URL (nsTaggingService); they are not synced items but a field of the
 * URL's bookmarks.
 *
 * Firefox's own syncChangeCounter/syncStatus belong to its own sync; we leave them to it and
 * keep our change log in side tables (datasync_bm_*), filled by triggers written in core SQL
 * (Firefox fires them on its connection, where none of our functions exist). The names are
 * distinct from the history engine's, which may share the file. Firefox's TEMP triggers
 * (nsPlacesTriggers.h) do not fire for our writes, so foreign_count is kept here.
 */
#define DS_LOG_TAG "bookmarks"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "ds_port.h"
#include "engine/bookmarks/bookmarks_places_int.h"
#include "engine/browser/ds_browser_sqlite.h"
#include "sync/ds_sync.h"

#include <stdio.h>
#include <string.h>

/* Log every guid g of the SELECT as changed (D = 0) or deleted (D = 1). */
#define LOG_SEL(SEL, D) \
	" UPDATE datasync_bm_state SET seq = seq + 1;" \
	" INSERT OR REPLACE INTO datasync_bm_changes(guid, seq, ms, deleted) SELECT g," \
	" (SELECT seq FROM datasync_bm_state)," \
	" CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), " D " FROM (" SEL ")" \
	" WHERE g IS NOT NULL AND g NOT IN ('root________', 'tags________');"
/* The bookmarks (not tag entries) of place P. */
#define BOOKMARKS_OF(P) "SELECT b.guid AS g FROM moz_bookmarks b WHERE b.fk = " P \
	" AND NOT " TAGGY("b")

static const char SIDE_SQL[] =
	"CREATE TABLE IF NOT EXISTS datasync_bm_changes(guid TEXT PRIMARY KEY, seq INTEGER NOT NULL,"
	" ms INTEGER NOT NULL, deleted INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS datasync_bm_changes_seq ON datasync_bm_changes(seq, guid);"
	"CREATE TABLE IF NOT EXISTS datasync_bm_state(id INTEGER PRIMARY KEY CHECK(id = 1),"
	" seq INTEGER NOT NULL, applying INTEGER NOT NULL);"
	"INSERT OR IGNORE INTO datasync_bm_state VALUES(1, 0, 0);"
	"CREATE TABLE IF NOT EXISTS datasync_bm_unknown(guid TEXT PRIMARY KEY, fields TEXT NOT NULL)"
	" WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS datasync_bm_meta(guid TEXT PRIMARY KEY, synced INTEGER NOT NULL"
	" DEFAULT 0, want_parent TEXT, remote_children TEXT, flags INTEGER NOT NULL DEFAULT 0,"
	" kind INTEGER, server TEXT) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS datasync_bm_meta_want ON datasync_bm_meta(want_parent);"
	/* The few flagged guids, read at every commit (folders to order) and before an upload:
	 * not a scan of every synced item's state. */
	"CREATE INDEX IF NOT EXISTS datasync_bm_meta_flagged ON datasync_bm_meta(guid) WHERE flags <> 0;"
	"CREATE TABLE IF NOT EXISTS datasync_bm_tomb(guid TEXT PRIMARY KEY, parent TEXT) WITHOUT ROWID;";

static const char TRIGGERS_SQL[] =
	/* A new item changes itself and its folder's children. */
	"CREATE TRIGGER IF NOT EXISTS datasync_bm_ai AFTER INSERT ON moz_bookmarks WHEN "
	NOT_APPLYING " AND NOT " TAGGY("NEW") " BEGIN"
	LOG_SEL("SELECT NEW.guid AS g", "0")
	LOG_SEL("SELECT guid AS g FROM moz_bookmarks WHERE id = NEW.parent", "0") " END;"
	/* A removed item: a tombstone, its folder changed, and where it was (for children that
	 * come back to life later). */
	"CREATE TRIGGER IF NOT EXISTS datasync_bm_ad AFTER DELETE ON moz_bookmarks WHEN "
	NOT_APPLYING " AND NOT " TAGGY("OLD") " BEGIN"
	" INSERT OR REPLACE INTO datasync_bm_tomb(guid, parent) SELECT OLD.guid,"
	" (SELECT guid FROM moz_bookmarks WHERE id = OLD.parent);"
	LOG_SEL("SELECT OLD.guid AS g", "1")
	LOG_SEL("SELECT guid AS g FROM moz_bookmarks WHERE id = OLD.parent", "0") " END;"
	"CREATE TRIGGER IF NOT EXISTS datasync_bm_au AFTER UPDATE OF title, fk, parent, type ON"
	" moz_bookmarks WHEN " NOT_APPLYING " AND NOT " TAGGY("NEW") " AND (OLD.title IS NOT"
	" NEW.title OR OLD.fk IS NOT NEW.fk OR OLD.parent IS NOT NEW.parent OR OLD.type IS NOT"
	" NEW.type) BEGIN"
	LOG_SEL("SELECT NEW.guid AS g", "0") " END;"
	/* Moves and reorders change the folders' children lists; a separator's pos is its own. */
	"CREATE TRIGGER IF NOT EXISTS datasync_bm_move_au AFTER UPDATE OF parent, position ON"
	" moz_bookmarks WHEN " NOT_APPLYING " AND NOT " TAGGY("NEW") " AND (OLD.parent IS NOT"
	" NEW.parent OR OLD.position IS NOT NEW.position) BEGIN"
	LOG_SEL("SELECT guid AS g FROM moz_bookmarks WHERE id IN (OLD.parent, NEW.parent)", "0")
	LOG_SEL("SELECT NEW.guid AS g WHERE NEW.type = 3 OR OLD.parent IS NOT NEW.parent", "0") " END;"
	"CREATE TRIGGER IF NOT EXISTS datasync_bm_guid_au AFTER UPDATE OF guid ON moz_bookmarks"
	" WHEN " NOT_APPLYING " AND OLD.guid IS NOT NEW.guid AND NOT " TAGGY("NEW") " BEGIN"
	LOG_SEL("SELECT OLD.guid AS g", "1") LOG_SEL("SELECT NEW.guid AS g", "0") " END;"
	/* Tags are fields of the URL's bookmarks: an entry added or removed, a tag renamed. */
	"CREATE TRIGGER IF NOT EXISTS datasync_bm_tag_ai AFTER INSERT ON moz_bookmarks WHEN "
	NOT_APPLYING " AND (SELECT parent FROM moz_bookmarks WHERE id = NEW.parent) = " TAGS_ID
	" BEGIN" LOG_SEL(BOOKMARKS_OF("NEW.fk"), "0") " END;"
	"CREATE TRIGGER IF NOT EXISTS datasync_bm_tag_ad AFTER DELETE ON moz_bookmarks WHEN "
	NOT_APPLYING " AND (SELECT parent FROM moz_bookmarks WHERE id = OLD.parent) = " TAGS_ID
	" BEGIN" LOG_SEL(BOOKMARKS_OF("OLD.fk"), "0") " END;"
	"CREATE TRIGGER IF NOT EXISTS datasync_bm_tag_au AFTER UPDATE OF title ON moz_bookmarks"
	" WHEN " NOT_APPLYING " AND NEW.parent = " TAGS_ID " AND OLD.title IS NOT NEW.title BEGIN"
	LOG_SEL("SELECT b.guid AS g FROM moz_bookmarks b WHERE b.fk IN (SELECT fk FROM moz_bookmarks"
		" WHERE parent = NEW.id) AND NOT " TAGGY("b"), "0") " END;"
	/* Keywords belong to URLs (moz_keywords.place_id): every bookmark of the URL changes. */
	"CREATE TRIGGER IF NOT EXISTS datasync_bm_kw_ai AFTER INSERT ON moz_keywords WHEN "
	NOT_APPLYING " BEGIN" LOG_SEL(BOOKMARKS_OF("NEW.place_id"), "0") " END;"
	"CREATE TRIGGER IF NOT EXISTS datasync_bm_kw_ad AFTER DELETE ON moz_keywords WHEN "
	NOT_APPLYING " BEGIN" LOG_SEL(BOOKMARKS_OF("OLD.place_id"), "0") " END;"
	"CREATE TRIGGER IF NOT EXISTS datasync_bm_kw_au AFTER UPDATE ON moz_keywords WHEN "
	NOT_APPLYING " BEGIN" LOG_SEL(BOOKMARKS_OF("OLD.place_id"), "0")
	LOG_SEL(BOOKMARKS_OF("NEW.place_id"), "0") " END;";

static const char DROP_SQL[] =
	"DROP TRIGGER IF EXISTS datasync_bm_ai; DROP TRIGGER IF EXISTS datasync_bm_ad;"
	"DROP TRIGGER IF EXISTS datasync_bm_au; DROP TRIGGER IF EXISTS datasync_bm_move_au;"
	"DROP TRIGGER IF EXISTS datasync_bm_guid_au; DROP TRIGGER IF EXISTS datasync_bm_tag_ai;"
	"DROP TRIGGER IF EXISTS datasync_bm_tag_ad; DROP TRIGGER IF EXISTS datasync_bm_tag_au;"
	"DROP TRIGGER IF EXISTS datasync_bm_kw_ai; DROP TRIGGER IF EXISTS datasync_bm_kw_ad;"
	"DROP TRIGGER IF EXISTS datasync_bm_kw_au;"
	"DROP TABLE IF EXISTS datasync_bm_changes; DROP TABLE IF EXISTS datasync_bm_state;"
	"DROP TABLE IF EXISTS datasync_bm_unknown; DROP TABLE IF EXISTS datasync_bm_meta;"
	"DROP TABLE IF EXISTS datasync_bm_tomb;";

static const char SCHEMA_CHECK_SQL[] =
	"SELECT id, type, fk, parent, position, title, dateAdded, lastModified, guid, syncStatus,"
	" syncChangeCounter FROM moz_bookmarks LIMIT 0;"
	"SELECT id, keyword, place_id, post_data FROM moz_keywords LIMIT 0;"
	"SELECT id, url, title, rev_host, guid, foreign_count, url_hash, frecency FROM moz_places"
	" LIMIT 0;";

/* Every root must be there: unfiled receives orphans, tags holds the tags. */
static const char ROOTS_CHECK_SQL[] =
	"SELECT count(*) FROM moz_bookmarks WHERE guid IN ('root________', 'menu________',"
	" 'toolbar_____', 'unfiled_____', 'mobile______', 'tags________') AND type = 2";

int ds_bmp_prep(struct ds_bm_places *P, const char *sql, sqlite3_stmt **st)
{
	struct stmt_slot *free_slot = NULL;
	int rc;

	for (size_t i = 0; i < P->n_slots; i++) {
		if (P->slot[i].sql != sql)
			continue;
		if (P->slot[i].busy)
			break; /* re-entrant use: a fresh statement below */
		P->slot[i].busy = true;
		*st = P->slot[i].st;
		return 0;
	}
	if (P->n_slots < BM_STMT_SLOTS) {
		bool known = false;

		for (size_t i = 0; i < P->n_slots; i++)
			known = known || P->slot[i].sql == sql;
		if (!known)
			free_slot = &P->slot[P->n_slots];
	}
	rc = sqlite3_prepare_v3(P->db, sql, -1, free_slot ? SQLITE_PREPARE_PERSISTENT : 0, st, NULL);
	if (rc != SQLITE_OK) {
		DS_LOG_ERR("SQL prepare failed: %s", sqlite3_errmsg(P->db));
		sqlite3_finalize(*st);
		*st = NULL;
		return ds_browser_sqlerr(rc);
	}
	if (free_slot) {
		free_slot->sql = sql;
		free_slot->st = *st;
		free_slot->busy = true;
		P->n_slots++;
	}
	return 0;
}

/* The end of every use of a statement from ds_bmp_prep(). */
void ds_bmp_done(struct ds_bm_places *P, sqlite3_stmt *st)
{
	for (size_t i = 0; i < P->n_slots; i++) {
		if (P->slot[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			P->slot[i].busy = false;
			return;
		}
	}
	sqlite3_finalize(st);
}

void ds_bmp_finalize_all(struct ds_bm_places *P)
{
	for (size_t i = 0; i < P->n_slots; i++)
		sqlite3_finalize(P->slot[i].st);
	P->n_slots = 0;
}

int ds_bmp_step_done(struct ds_bm_places *P, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	ds_bmp_done(P, st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : ds_browser_sqlerr(rc);
}

/* Run sql with text parameters a, b (NULL: bound as NULL) and integer n as ?3. */
int ds_bmp_run3(struct ds_bm_places *db, const char *sql, const char *a, const char *b, int64_t n)
{
	sqlite3_stmt *st;
	int rc = ds_bmp_prep(db, sql, &st);

	if (rc)
		return rc;
	if (a)
		sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(st) >= 3)
		sqlite3_bind_int64(st, 3, n);
	return ds_bmp_step_done(db, st);
}

/* First column of the first row as an integer (*out), or -ENOENT. */
int ds_bmp_query_int(struct ds_bm_places *db, const char *sql, const char *a, int64_t n,
		     int64_t *out)
{
	sqlite3_stmt *st;
	int rc = ds_bmp_prep(db, sql, &st);

	if (rc)
		return rc;
	if (a)
		sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, n);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*out = sqlite3_column_int64(st, 0);
		rc = 0;
	} else {
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? -ENOENT : ds_browser_sqlerr(rc);
	}
	ds_bmp_done(db, st);
	return rc;
}

int ds_bmp_item_id(struct ds_bm_places *db, const char *guid, int64_t *id)
{
	return ds_bmp_query_int(db, "SELECT id FROM moz_bookmarks WHERE guid = ?1", guid, 0, id);
}

char *ds_bmp_col_dup(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	return t ? ds_strdup(t) : NULL;
}


/* ---- change tracking -------------------------------------------------------------------- */

static int t_begin(void *s)
{
	int rc = ds_browser_exec(db_of(s)->db, "BEGIN IMMEDIATE");

	db_of(s)->n_gaps = 0;
	if (rc)
		return rc;
	rc = ds_browser_exec(db_of(s)->db, "UPDATE datasync_bm_state SET applying = 1");
	if (rc)
		ds_browser_exec(db_of(s)->db, "ROLLBACK");
	return rc;
}

/* A statement still running at commit would keep its read transaction, and the lock or the
 * WAL snapshot that goes with it, after COMMIT (see struct ds_bm_places). */
static void check_idle(struct ds_bm_places *db)
{
	sqlite3_stmt *st = NULL;

	while ((st = sqlite3_next_stmt(db->db, st)) != NULL) {
		if (sqlite3_stmt_busy(st)) {
			DS_LOG_ERR("statement left running at commit, reset: %.60s", sqlite3_sql(st));
			sqlite3_reset(st);
		}
	}
}

static int t_commit(void *s)
{
	struct ds_bm_places *db = db_of(s);
	int rc = ds_bmp_gaps_flush(db);

	check_idle(db);
	if (rc == 0)
		rc = ds_bmp_run3(db, "UPDATE datasync_bm_state SET applying = 0", NULL, NULL, 0);
	if (rc == 0)
		rc = ds_browser_exec(db_of(s)->db, "COMMIT");
	if (rc)
		ds_browser_exec(db_of(s)->db, "ROLLBACK");
	return rc;
}

static int t_rollback(void *s)
{
	db_of(s)->n_gaps = 0; /* the rollback takes the gaps back too */
	return sqlite3_get_autocommit(db_of(s)->db) ? 0 : ds_browser_exec(db_of(s)->db, "ROLLBACK");
}

static int t_pending(void *s, const char *guid, struct ds_pending_info *out)
{
	struct ds_bm_places *db = db_of(s);
	sqlite3_stmt *st;
	int rc = ds_bmp_prep(db, "SELECT seq, ms, deleted FROM datasync_bm_changes WHERE guid = ?1", &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, guid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->change_seq = (uint64_t)sqlite3_column_int64(st, 0);
		out->modified_ms = sqlite3_column_int64(st, 1);
		out->deleted = sqlite3_column_int(st, 2) != 0;
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : ds_browser_sqlerr(rc);
	}
	ds_bmp_done(db, st);
	return rc;
}

static int p_last_seq(void *s, uint64_t *out)
{
	int64_t v = 0;
	int rc = ds_bmp_query_int(db_of(s), "SELECT seq FROM datasync_bm_state", NULL, 0, &v);

	*out = rc == 0 && v > 0 ? (uint64_t)v : 0;
	return rc;
}

static int t_changes_after(void *s, uint64_t after_seq, const char *after_guid,
			   ds_browser_change_cb cb, void *user_data)
{
	struct ds_bm_places *db = db_of(s);
	sqlite3_stmt *st;
	int rc = ds_bmp_prep(db, "SELECT guid, seq, ms, deleted FROM datasync_bm_changes"
				" WHERE ?1 IS NULL OR seq > ?2 OR (seq = ?2 AND guid > ?1)"
				" ORDER BY seq, guid", &st);

	if (rc)
		return rc;
	if (after_guid)
		sqlite3_bind_text(st, 1, after_guid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)after_seq);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct ds_pending_info info = {
			.change_seq = (uint64_t)sqlite3_column_int64(st, 1),
			.modified_ms = sqlite3_column_int64(st, 2),
			.deleted = sqlite3_column_int(st, 3) != 0,
		};
		char g[DS_BROWSER_ID_MAX];
		const char *t = (const char *)sqlite3_column_text(st, 0);

		if (!t) {
			rc = SQLITE_NOMEM;
			break;
		}
		/* A guid this long is no item of the engine (every list leaves it out) and could
		 * only go up cut short, as another id. */
		if (strlen(t) >= sizeof(g))
			continue;
		snprintf(g, sizeof(g), "%s", t);
		rc = cb(g, &info, user_data);
		if (rc) {
			ds_bmp_done(db, st);
			return rc > 0 ? 0 : rc;
		}
	}
	ds_bmp_done(db, st);
	return rc == SQLITE_DONE ? 0 : ds_browser_sqlerr(rc);
}

/* The server took the change: a kept item is synced from now on; a deletion is done with. */
static int t_forget(void *s, const char *guid, uint64_t seq)
{
	struct ds_bm_places *db = db_of(s);
	int64_t deleted = 0;
	int rc = ds_bmp_query_int(db, "SELECT deleted FROM datasync_bm_changes WHERE guid = ?1 AND seq <= ?2",
			   guid, (int64_t)seq, &deleted);

	if (rc == -ENOENT)
		return 0;
	if (rc == 0)
		rc = ds_bmp_run3(db, "DELETE FROM datasync_bm_changes WHERE guid = ?1 AND seq <= ?3", guid, NULL,
			  (int64_t)seq);
	if (rc == 0 && deleted)
		rc = ds_bmp_run3(db, "DELETE FROM datasync_bm_tomb WHERE guid = ?1", guid, NULL, 0);
	if (rc == 0 && deleted)
		rc = ds_bmp_run3(db, "DELETE FROM datasync_bm_meta WHERE guid = ?1 AND NOT EXISTS (SELECT 1"
			      " FROM moz_bookmarks WHERE guid = ?1)", guid, NULL, 0);
	if (rc == 0 && !deleted)
		rc = ds_bmp_run3(db, "INSERT INTO datasync_bm_meta(guid, synced) VALUES(?1, 1) ON CONFLICT(guid)"
			      " DO UPDATE SET synced = 1", guid, NULL, 0);
	return rc;
}

static int t_mark_all(void *s, size_t limit)
{
	struct ds_bm_places *db = db_of(s);
	int rc;

	DS_UNUSED(limit); /* a bookmark tree is uploaded whole: a part would be a broken tree */
	rc = ds_browser_exec(db->db, "SAVEPOINT datasync_bm_mark;"
				 "INSERT OR IGNORE INTO datasync_bm_changes(guid, seq, ms, deleted)"
				 " SELECT b.guid, (SELECT seq + 1 FROM datasync_bm_state), 0, 0 FROM"
				 " moz_bookmarks b WHERE b.guid IS NOT NULL AND " SYNCABLE("b") ";"
				 "UPDATE datasync_bm_state SET seq = seq + 1;"
				 "RELEASE datasync_bm_mark;");
	if (rc && !sqlite3_get_autocommit(db->db))
		ds_browser_exec(db->db, "ROLLBACK TO datasync_bm_mark; RELEASE datasync_bm_mark;");
	return rc;
}

/* Only the roots left while deletions are pending: the bookmarks were cleared (a new profile,
 * a restore), not deleted one by one. */
static int t_forget_if_cleared(void *s)
{
	struct ds_bm_places *db = db_of(s);
	int64_t one = 0;
	int rc = ds_bmp_query_int(db, "SELECT 1 FROM moz_bookmarks b WHERE " SYNCABLE("b") " AND b.guid NOT"
			       " IN ('menu________', 'toolbar_____', 'unfiled_____', 'mobile______')"
			       " LIMIT 1", NULL, 0, &one);
	int n;

	if (rc == 0)
		return 0;
	if (rc != -ENOENT)
		return rc;
	rc = ds_browser_exec(db->db, "DELETE FROM datasync_bm_changes WHERE deleted = 1");
	if (rc)
		return rc;
	n = sqlite3_changes(db->db);
	if (n == 0)
		return 0;
	DS_LOG_WRN("the bookmarks were cleared: %d pending deletions dropped, the other devices keep"
		   " theirs", n);
	/* What the server holds is read again from the mirror (the engine re-imports it): until
	 * then nothing here is synced. */
	rc = ds_browser_exec(db->db, "DELETE FROM datasync_bm_tomb; UPDATE datasync_bm_meta SET synced = 0,"
				 " want_parent = NULL, remote_children = NULL, flags = 0");
	return rc ? rc : 1;
}

#define ROOT_GUIDS "('root________', 'menu________', 'toolbar_____', 'unfiled_____'," \
	" 'mobile______', 'tags________')"

/*
 * As desktop's PlacesSyncUtils.bookmarks.wipe (eraseEverything): every item under the roots
 * goes, tags and keywords with them; the roots stay. Places' foreign_count triggers do not fire
 * for our writes (see above), so the references dropped are subtracted here first. The sync
 * state of what is left (the roots) starts over, as after a new profile.
 */
static int t_wipe(void *s)
{
	struct ds_bm_places *db = db_of(s);

	if (sqlite3_get_autocommit(db->db))
		return -EINVAL; /* outside begin/commit the triggers would log every removal */
	db->n_gaps = 0;
	return ds_browser_exec(db->db,
		"UPDATE moz_places SET foreign_count = max(0, foreign_count"
		" - (SELECT count(*) FROM moz_bookmarks b WHERE b.fk = moz_places.id AND b.guid NOT IN "
		ROOT_GUIDS ") - (SELECT count(*) FROM moz_keywords k WHERE k.place_id = moz_places.id))"
		" WHERE id IN (SELECT fk FROM moz_bookmarks WHERE fk IS NOT NULL"
		" UNION SELECT place_id FROM moz_keywords);"
		"DELETE FROM moz_keywords;"
		"DELETE FROM moz_bookmarks WHERE guid NOT IN " ROOT_GUIDS ";"
		"DELETE FROM datasync_bm_changes; DELETE FROM datasync_bm_unknown;"
		"DELETE FROM datasync_bm_tomb; DELETE FROM datasync_bm_meta WHERE guid NOT IN " ROOT_GUIDS ";"
		"UPDATE datasync_bm_meta SET synced = 0, want_parent = NULL, remote_children = NULL,"
		" flags = 0;");
}

static int t_unknown_get(void *s, const char *guid, char **json)
{
	struct ds_bm_places *db = db_of(s);
	sqlite3_stmt *st;
	int rc = ds_bmp_prep(db, "SELECT fields FROM datasync_bm_unknown WHERE guid = ?1", &st);

	*json = NULL;
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, guid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*json = ds_bmp_col_dup(st, 0);
		rc = *json ? 0 : -ENOMEM;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : ds_browser_sqlerr(rc);
	}
	ds_bmp_done(db, st);
	return rc;
}

static int t_unknown_put(void *s, const char *guid, const char *json)
{
	struct ds_bm_places *db = db_of(s);
	if (!json)
		return ds_bmp_run3(db, "DELETE FROM datasync_bm_unknown WHERE guid = ?1", guid, NULL, 0);
	return ds_bmp_run3(db, "INSERT OR REPLACE INTO datasync_bm_unknown(guid, fields) VALUES(?1, ?2)",
		    guid, json, 0);
}

static void t_close(void *s)
{
	struct ds_bm_places *db = db_of(s);

	ds_bmp_finalize_all(db);
	sqlite3_close(db->db);
	ds_free(db->gaps);
	ds_free(db);
}

static const struct ds_bookmarks_store_ops places_ops = {
	.track = {
		.begin = t_begin,
		.commit = t_commit,
		.rollback = t_rollback,
		.pending = t_pending,
		.changes_after = t_changes_after,
		.forget = t_forget,
		.mark_all = t_mark_all,
		.forget_if_cleared = t_forget_if_cleared,
		.wipe = t_wipe,
		.unknown_get = t_unknown_get,
		.unknown_put = t_unknown_put,
		.close = t_close,
	},
	.get = ds_bmp_get,
	.locate = ds_bmp_locate,
	.list = ds_bmp_list,
	.put = ds_bmp_put,
	.order = ds_bmp_order,
	.set_guid = ds_bmp_set_guid,
	.remove = ds_bmp_remove,
	.find_dupe = ds_bmp_find_dupe,
	.log_change = ds_bmp_log_change,
	.meta_get = ds_bmp_meta_get,
	.meta_put = ds_bmp_meta_put,
	.deleted_parent = ds_bmp_deleted_parent,
	.last_seq = p_last_seq,
};

static int open_db(const char *path, sqlite3 **db)
{
	struct ds_bm_places probe = { 0 };
	int64_t roots = 0;
	int rc = ds_browser_db_open(path, db);

	if (rc)
		return rc;
	probe.db = *db;
	rc = ds_browser_exec(*db, SCHEMA_CHECK_SQL);
	if (rc == 0)
		rc = ds_bmp_query_int(&probe, ROOTS_CHECK_SQL, NULL, 0, &roots);
	ds_bmp_finalize_all(&probe);
	if (rc || roots != 6) {
		DS_LOG_ERR("%s does not hold Firefox's bookmarks tables and roots", path);
		sqlite3_close(*db);
		*db = NULL;
		return -EPROTO;
	}
	return 0;
}

int ds_bookmarks_places_open(const char *path, struct ds_bookmarks_store **out)
{
	struct ds_bookmarks_store *s;
	struct ds_bm_places *p;
	sqlite3 *db = NULL;
	int rc;

	*out = NULL;
	rc = open_db(path, &db);
	if (rc)
		return rc;
	/* Statement journals in memory: every write of ours that may touch several rows or fires
	 * a trigger (most of them, on moz_bookmarks) journals the pages it changes for its own
	 * rollback, and past 64 KiB SQLite spills that journal to a temporary file, for good: a
	 * 2,000-item download wrote 208 MiB there. Each journal lives for one statement (a few
	 * pages); the sorts of our small lists are the only other temporary data. */
	rc = ds_browser_exec(db, "PRAGMA temp_store = MEMORY");
	if (rc == 0)
		rc = ds_browser_exec(db, SIDE_SQL);
	if (rc == 0)
		rc = ds_browser_exec(db, TRIGGERS_SQL);
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

int ds_bookmarks_places_uninstall(const char *path)
{
	sqlite3 *db = NULL;
	int rc = open_db(path, &db);

	if (rc)
		return rc;
	rc = ds_browser_exec(db, DROP_SQL);
	sqlite3_close(db);
	return rc;
}
