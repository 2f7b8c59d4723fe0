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
#include "engine/bookmarks/ds_bookmarks.h"
#include "engine/browser/ds_browser_sqlite.h"
#include "sync/ds_sync.h"

#include <stdio.h>
#include <string.h>

#define TAGS_ID "(SELECT id FROM moz_bookmarks WHERE guid = 'tags________')"
/* Row X is the tags root's child (a tag) or grandchild (a tag entry). */
#define TAGGY(X) "(" X ".parent = " TAGS_ID " OR (SELECT parent FROM moz_bookmarks WHERE id = " \
	X ".parent) = " TAGS_ID ")"
#define NOT_APPLYING "(SELECT applying FROM datasync_bm_state) IS NOT 1"
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

/* The position after parent P's last child, through the (parent, position) index: with gaps
 * left by items that moved out (renumbered at commit), a count would collide. */
#define NEXT_POS(P) "(SELECT ifnull(max(position) + 1, 0) FROM moz_bookmarks WHERE parent = " P ")"

/* Row B's index among its siblings whatever the gaps (a separator's "pos", its identity in
 * dedupe); cheap for the few separators a tree holds, so only they use it. */
#define INDEX_OF(B) "(SELECT count(*) FROM moz_bookmarks s WHERE s.parent = " B ".parent AND" \
	" (s.position < " B ".position OR (s.position = " B ".position AND s.id < " B ".id)))"

/* An item that syncs: not a root of our own making, not a tag or a tag entry. */
#define SYNCABLE(X) "(" X ".guid NOT IN ('root________', 'tags________') AND NOT " TAGGY(X) ")"

/*
 * The store: the connection and its prepared statements. A record costs a few dozen statements;
 * preparing each anew was most of a download's CPU, so each statement of this file is prepared
 * once per store, found again by its SQL text's address (every SQL given to prep() is a
 * literal or a static array entry, never built at run time), reset and unbound after each use
 * (done()) and finalized at close.
 *
 * Two traps of such a cache, both of which make a sync hang or fail with -EBUSY:
 *  - a statement left un-reset after its first row keeps the connection's read transaction
 *    open past COMMIT: the browser's (or the history engine's) connection then waits for our
 *    SHARED lock (rollback journal) or we hold an old WAL snapshot, so the next BEGIN IMMEDIATE
 *    fails; done() therefore always resets, and commit checks that nothing is left running;
 *  - a cached statement asked for again while its own step loop is running (a callback that
 *    reaches the same query) would be reset under the loop, which then starts over, forever:
 *    a statement in use is never handed out twice; the inner use gets a fresh one, finalized
 *    by its done().
 */
#define BM_STMT_SLOTS 80

struct stmt_slot {
	const char *sql;
	sqlite3_stmt *st;
	bool busy;
};

struct places {
	sqlite3 *db;
	struct stmt_slot slot[BM_STMT_SLOTS];
	size_t n_slots;
	/* Folders (moz_bookmarks ids) that lost children in the open transaction, renumbered
	 * once before it commits (gaps_flush) instead of shifting their later children at each
	 * removal: a folder emptied or left by n items cost n^2/2 row updates, each firing the
	 * triggers' conditions (2 million for 2,000 orphans leaving unfiled). */
	int64_t *gaps;
	size_t n_gaps, cap_gaps;
};

static struct places *db_of(void *s)
{
	return s;
}

static int prep(struct places *P, const char *sql, sqlite3_stmt **st)
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

/* The end of every use of a statement from prep(). */
static void done(struct places *P, sqlite3_stmt *st)
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

static void finalize_all(struct places *P)
{
	for (size_t i = 0; i < P->n_slots; i++)
		sqlite3_finalize(P->slot[i].st);
	P->n_slots = 0;
}

static int step_done(struct places *P, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	done(P, st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : ds_browser_sqlerr(rc);
}

/* Run sql with text parameters a, b (NULL: bound as NULL) and integer n as ?3. */
static int run3(struct places *db, const char *sql, const char *a, const char *b, int64_t n)
{
	sqlite3_stmt *st;
	int rc = prep(db, sql, &st);

	if (rc)
		return rc;
	if (a)
		sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(st) >= 3)
		sqlite3_bind_int64(st, 3, n);
	return step_done(db, st);
}

/* First column of the first row as an integer (*out), or -ENOENT. */
static int query_int(struct places *db, const char *sql, const char *a, int64_t n, int64_t *out)
{
	sqlite3_stmt *st;
	int rc = prep(db, sql, &st);

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
	done(db, st);
	return rc;
}

static int item_id(struct places *db, const char *guid, int64_t *id)
{
	return query_int(db, "SELECT id FROM moz_bookmarks WHERE guid = ?1", guid, 0, id);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	return t ? ds_strdup(t) : NULL;
}

/* ---- reading ---------------------------------------------------------------------------- */

static int read_tags(struct places *db, int64_t fk, struct ds_bookmark_item *it)
{
	sqlite3_stmt *st;
	int rc = prep(db, "SELECT DISTINCT t.title FROM moz_bookmarks e JOIN moz_bookmarks t ON"
			  " t.id = e.parent WHERE e.fk = ?1 AND t.parent = " TAGS_ID
			  " AND ifnull(t.title, '') <> '' ORDER BY t.title", &st);
	size_t cap = 0;

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, fk);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (it->n_tags == cap) {
			size_t nc = cap ? cap * 2 : 4;
			char **v = ds_realloc(it->tags, nc * sizeof(*v));

			if (!v) {
				rc = SQLITE_NOMEM;
				break;
			}
			it->tags = v;
			cap = nc;
		}
		if (!(it->tags[it->n_tags] = col_dup(st, 0))) {
			rc = SQLITE_NOMEM;
			break;
		}
		it->n_tags++;
	}
	done(db, st);
	return rc == SQLITE_DONE ? 0 : ds_browser_sqlerr(rc);
}

static int p_get(void *s, const char *guid, struct ds_bookmark_item *out)
{
	struct places *db = db_of(s);
	sqlite3_stmt *st;
	int64_t fk = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (strlen(guid) >= sizeof(out->guid))
		return -ENOENT;
	rc = prep(db, "SELECT b.type, b.title, b.dateAdded, CASE b.type WHEN 3 THEN " INDEX_OF("b")
		      " ELSE b.position END, p.guid, h.url, m.kind, b.fk, h.frecency"
		      " FROM moz_bookmarks b LEFT JOIN moz_bookmarks p ON p.id = b.parent"
		      " LEFT JOIN moz_places h ON h.id = b.fk LEFT JOIN datasync_bm_meta m"
		      " ON m.guid = b.guid WHERE b.guid = ?1 AND " SYNCABLE("b"), &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, guid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		done(db, st);
		return rc == SQLITE_DONE ? -ENOENT : ds_browser_sqlerr(rc);
	}
	snprintf(out->guid, sizeof(out->guid), "%s", guid);
	switch (sqlite3_column_int(st, 0)) {
	case 2:
		out->kind = sqlite3_column_int(st, 6) == DS_BM_LIVEMARK ? DS_BM_LIVEMARK : DS_BM_FOLDER;
		break;
	case 3:
		out->kind = DS_BM_SEPARATOR;
		break;
	default:
		out->kind = DS_BM_BOOKMARK;
		break;
	}
	rc = 0;
	if (sqlite3_column_type(st, 1) != SQLITE_NULL && !(out->title = col_dup(st, 1)))
		rc = -ENOMEM;
	out->date_added_ms = sqlite3_column_int64(st, 2) / 1000;
	if (out->date_added_ms < 0)
		out->date_added_ms = 0;
	out->position = sqlite3_column_int(st, 3);
	{
		const char *p = (const char *)sqlite3_column_text(st, 4);

		snprintf(out->parent, sizeof(out->parent), "%s", p ? p : "");
	}
	if (out->kind == DS_BM_BOOKMARK) {
		out->url = col_dup(st, 5);
		fk = sqlite3_column_int64(st, 7);
		out->frecency = sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 :
				sqlite3_column_int64(st, 8);
		if (!out->url)
			rc = sqlite3_column_type(st, 5) == SQLITE_NULL ? -ENOENT : -ENOMEM;
		else if (strncmp(out->url, "place:", 6) == 0)
			out->kind = DS_BM_QUERY;
	}
	done(db, st);
	if (rc == 0 && out->kind == DS_BM_BOOKMARK) {
		rc = prep(db, "SELECT keyword FROM moz_keywords WHERE place_id = ?1 ORDER BY keyword"
			      " LIMIT 1", &st);
		if (rc == 0) {
			sqlite3_bind_int64(st, 1, fk);
			if (sqlite3_step(st) == SQLITE_ROW && !(out->keyword = col_dup(st, 0)))
				rc = -ENOMEM;
			done(db, st);
		}
		if (rc == 0)
			rc = read_tags(db, fk, out);
	}
	if (rc)
		ds_bookmark_item_clear(out);
	return rc;
}

static int p_locate(void *s, const char *guid, char parent_out[DS_BROWSER_ID_MAX],
		    enum ds_bookmark_kind *kind)
{
	struct places *db = db_of(s);
	sqlite3_stmt *st;
	int rc = prep(db, "SELECT b.type, p.guid, m.kind FROM moz_bookmarks b LEFT JOIN"
				" moz_bookmarks p ON p.id = b.parent LEFT JOIN datasync_bm_meta m ON"
				" m.guid = b.guid WHERE b.guid = ?1 AND " SYNCABLE("b"), &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, guid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *p = (const char *)sqlite3_column_text(st, 1);
		int t = sqlite3_column_int(st, 0);

		snprintf(parent_out, DS_BROWSER_ID_MAX, "%s", p ? p : "");
		*kind = t == 3 ? DS_BM_SEPARATOR : t != 2 ? DS_BM_BOOKMARK :
			sqlite3_column_int(st, 2) == DS_BM_LIVEMARK ? DS_BM_LIVEMARK : DS_BM_FOLDER;
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : ds_browser_sqlerr(rc);
	}
	done(db, st);
	return rc;
}

struct guid_list {
	char (*v)[DS_BROWSER_ID_MAX];
	size_t n, cap;
};

static int guid_list_add(struct guid_list *l, const char *g)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		char (*v)[DS_BROWSER_ID_MAX] = ds_realloc(l->v, nc * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = nc;
	}
	snprintf(l->v[l->n++], DS_BROWSER_ID_MAX, "%s", g);
	return 0;
}

static int collect(struct places *db, const char *sql, const char *arg, struct guid_list *l)
{
	sqlite3_stmt *st;
	int rc = prep(db, sql, &st);

	if (rc)
		return rc;
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *g = (const char *)sqlite3_column_text(st, 0);

		if (g && strlen(g) < DS_BROWSER_ID_MAX && guid_list_add(l, g)) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	done(db, st);
	return rc == SQLITE_DONE ? 0 : ds_browser_sqlerr(rc);
}

static int p_list(void *s, enum ds_bookmarks_list which, const char *arg, ds_bookmarks_guid_cb cb,
		  void *user_data)
{
	struct places *db = db_of(s);
	static const char *const SQL[] = {
		[DS_BM_LIST_CHILDREN] = "SELECT b.guid FROM moz_bookmarks b JOIN moz_bookmarks p ON"
					" p.id = b.parent WHERE p.guid = ?1 AND " SYNCABLE("b")
					" ORDER BY b.position, b.id",
		[DS_BM_LIST_WANTING] = "SELECT guid FROM datasync_bm_meta WHERE want_parent = ?1"
				       " ORDER BY guid",
		[DS_BM_LIST_FLAGGED] = "SELECT guid FROM datasync_bm_meta WHERE flags <> 0 ORDER BY guid",
		[DS_BM_LIST_PARKED] = "SELECT guid FROM datasync_bm_meta WHERE want_parent IS NOT NULL"
				      " ORDER BY guid",
		[DS_BM_LIST_MIRRORED] = "SELECT guid FROM datasync_bm_meta WHERE server IS NOT NULL"
					" ORDER BY guid",
		[DS_BM_LIST_UNORDERED] = "SELECT guid FROM datasync_bm_meta WHERE flags <> 0 AND flags & 1"
					 " ORDER BY guid",
	};
	struct guid_list l = { 0 };
	int rc;

	if ((unsigned)which >= DS_ARRAY_SIZE(SQL))
		return -EINVAL;
	rc = collect(db, SQL[which], arg, &l);
	for (size_t i = 0; rc == 0 && i < l.n; i++)
		rc = cb(l.v[i], user_data);
	ds_free(l.v);
	return rc;
}

/* ---- writing ---------------------------------------------------------------------------- */

/* Firefox counts bookmarks and keywords of a place in foreign_count (nsPlacesTriggers.h). */
static int recount(struct places *db, int64_t place)
{
	sqlite3_stmt *st;
	int rc;

	if (place <= 0)
		return 0;
	rc = prep(db, "UPDATE moz_places SET foreign_count = (SELECT count(*) FROM moz_bookmarks"
		      " WHERE fk = ?1) + (SELECT count(*) FROM moz_keywords WHERE place_id = ?1)"
		      " WHERE id = ?1", &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, place);
	return step_done(db, st);
}

/* A new moz_places guid: 12 base64url characters, as Places makes them (Helpers.cpp). */
static int new_guid(char out[13])
{
	static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char r[12];
	int rc = ds_port_entropy(r, sizeof(r));

	if (rc)
		return rc;
	for (size_t i = 0; i < 12; i++)
		out[i] = B64[r[i] & 63];
	out[12] = '\0';
	return 0;
}

/* Reversed host with a trailing dot, as Firefox fills rev_host ("moc.elpmaxe."). */
static char *rev_host(const char *url)
{
	const char *h = strstr(url, "://"), *end, *at;
	size_t n;
	char *r;

	if (!h)
		return ds_strdup(".");
	h += 3;
	end = h + strcspn(h, "/?#");
	at = memchr(h, '@', (size_t)(end - h));
	if (at)
		h = at + 1;
	n = strcspn(h, ":/?#");
	if (h + n > end)
		n = (size_t)(end - h);
	r = ds_malloc(n + 2);
	if (!r)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = h[n - 1 - i];

		r[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	r[n] = '.';
	r[n + 1] = '\0';
	return r;
}

static int place_for(struct places *db, const char *url, const char *title, int64_t *out)
{
	sqlite3_stmt *st;
	char guid[13], *rh;
	int rc = prep(db, "SELECT id FROM moz_places WHERE url_hash = ?1 AND url = ?2", &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, ds_bookmarks_url_hash(url));
	sqlite3_bind_text(st, 2, url, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		done(db, st);
		return 0;
	}
	done(db, st);
	if (rc != SQLITE_DONE)
		return ds_browser_sqlerr(rc);
	rc = new_guid(guid);
	if (rc)
		return rc;
	rh = rev_host(url);
	if (!rh)
		return -ENOMEM;
	rc = prep(db, "INSERT INTO moz_places(url, title, rev_host, visit_count, hidden, typed,"
		      " frecency, guid, url_hash, foreign_count) VALUES(?1, ?2, ?3, 0, 0, 0, -1, ?4,"
		      " ?5, 0)", &st);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, url, -1, SQLITE_STATIC);
		if (title)
			sqlite3_bind_text(st, 2, title, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, rh, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, guid, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, ds_bookmarks_url_hash(url));
		rc = step_done(db, st);
	}
	ds_free(rh);
	if (rc == 0)
		*out = sqlite3_last_insert_rowid(db->db);
	return rc;
}

static int put_keyword(struct places *db, int64_t place, const char *kw)
{
	int64_t other = 0;
	int rc;

	/* The record says which keyword the URL has: any other goes. */
	rc = run3(db, "DELETE FROM moz_keywords WHERE place_id = ?3 AND keyword IS NOT ?1", kw, NULL,
		  place);
	if (rc || !kw)
		return rc;
	/* A keyword names one URL (moz_keywords.keyword is UNIQUE): it moves here. */
	rc = query_int(db, "SELECT place_id FROM moz_keywords WHERE keyword = ?1", kw, 0, &other);
	if (rc == 0 && other == place)
		return 0;
	if (rc && rc != -ENOENT)
		return rc;
	rc = run3(db, "INSERT OR REPLACE INTO moz_keywords(keyword, place_id, post_data)"
		      " VALUES(?1, ?3, NULL)", kw, NULL, place);
	return rc ? rc : recount(db, other);
}

/* Close the gap an item leaves at position pos of parent. */
static int close_gap(struct places *db, int64_t parent, int64_t pos)
{
	sqlite3_stmt *st;
	int rc = prep(db, "UPDATE moz_bookmarks SET position = position - 1 WHERE parent = ?1"
			  " AND position > ?2", &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, parent);
	sqlite3_bind_int64(st, 2, pos);
	return step_done(db, st);
}

/* Children of parent numbered 0..n-1 in their order (position, then id: a moved-in item
 * shares no position, see NEXT_POS). */
static int renumber(struct places *db, int64_t parent)
{
	sqlite3_stmt *st;
	int rc = prep(db, "UPDATE moz_bookmarks SET position = r.n FROM (SELECT id, row_number() OVER"
			  " (ORDER BY position, id) - 1 AS n FROM moz_bookmarks WHERE parent = ?1) AS r"
			  " WHERE moz_bookmarks.id = r.id AND moz_bookmarks.position IS NOT r.n", &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, parent);
	return step_done(db, st);
}

static int gaps_flush(struct places *db)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < db->n_gaps; i++)
		rc = renumber(db, db->gaps[i]);
	if (rc == 0)
		db->n_gaps = 0;
	return rc;
}

/* An item left position pos of parent: renumbered at commit inside a transaction; outside
 * one (or without memory for the note), now. */
static int gap_note(struct places *db, int64_t parent, int64_t pos)
{
	if (sqlite3_get_autocommit(db->db))
		return close_gap(db, parent, pos);
	for (size_t i = 0; i < db->n_gaps; i++)
		if (db->gaps[i] == parent)
			return 0;
	if (db->n_gaps == db->cap_gaps) {
		size_t nc = db->cap_gaps ? db->cap_gaps * 2 : 16;
		int64_t *v = ds_realloc(db->gaps, nc * sizeof(*v));

		if (!v)
			return close_gap(db, parent, pos);
		db->gaps = v;
		db->cap_gaps = nc;
	}
	db->gaps[db->n_gaps++] = parent;
	return 0;
}

static int put_tags(struct places *db, int64_t place, const struct ds_bookmark_item *it, int64_t now_us)
{
	sqlite3_stmt *st;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < it->n_tags; i++) {
		int64_t tag = 0;
		char g[13];

		rc = query_int(db, "SELECT id FROM moz_bookmarks WHERE parent = " TAGS_ID
			       " AND title = ?1 ORDER BY id", it->tags[i], 0, &tag);
		if (rc == -ENOENT && (rc = new_guid(g)) == 0) {
			rc = prep(db, "INSERT INTO moz_bookmarks(type, parent, position, title, dateAdded,"
				      " lastModified, guid, syncStatus, syncChangeCounter) SELECT 2, t.id,"
				      " " NEXT_POS("t.id") ", ?1, ?2, ?2,"
				      " ?3, 2, 0 FROM moz_bookmarks t WHERE t.guid = 'tags________'", &st);
			if (rc == 0) {
				sqlite3_bind_text(st, 1, it->tags[i], -1, SQLITE_STATIC);
				sqlite3_bind_int64(st, 2, now_us);
				sqlite3_bind_text(st, 3, g, -1, SQLITE_STATIC);
				rc = step_done(db, st);
				tag = sqlite3_last_insert_rowid(db->db);
			}
		}
		if (rc)
			break;
		if (new_guid(g))
			return -EIO;
		rc = prep(db, "INSERT INTO moz_bookmarks(type, fk, parent, position, dateAdded,"
			      " lastModified, guid, syncStatus, syncChangeCounter) SELECT 1, ?1, ?2,"
			      " " NEXT_POS("?2") ", ?3, ?3, ?4, 2, 0"
			      " WHERE NOT EXISTS (SELECT 1 FROM moz_bookmarks WHERE parent = ?2 AND fk = ?1)",
			  &st);
		if (rc == 0) {
			sqlite3_bind_int64(st, 1, place);
			sqlite3_bind_int64(st, 2, tag);
			sqlite3_bind_int64(st, 3, now_us);
			sqlite3_bind_text(st, 4, g, -1, SQLITE_STATIC);
			rc = step_done(db, st);
		}
	}
	if (rc)
		return rc;
	/* Entries of tags the record does not name go, then tags left empty; positions in the
	 * folders that lost an item are renumbered (Places keeps them 0..n-1). */
	rc = prep(db, "SELECT e.id, t.title, e.parent, e.position FROM moz_bookmarks e JOIN"
		      " moz_bookmarks t ON t.id = e.parent WHERE e.fk = ?1 AND t.parent = " TAGS_ID, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, place);
	{
		struct { int64_t id, parent, pos; } drop[64];
		size_t nd = 0;

		while ((rc = sqlite3_step(st)) == SQLITE_ROW && nd < DS_ARRAY_SIZE(drop)) {
			const char *t = (const char *)sqlite3_column_text(st, 1);
			bool keep = false;

			for (size_t i = 0; t && i < it->n_tags; i++)
				keep = keep || strcmp(it->tags[i], t) == 0;
			if (!keep) {
				drop[nd].id = sqlite3_column_int64(st, 0);
				drop[nd].parent = sqlite3_column_int64(st, 2);
				drop[nd++].pos = sqlite3_column_int64(st, 3);
			}
		}
		done(db, st);
		rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : ds_browser_sqlerr(rc);
		for (size_t i = 0; rc == 0 && i < nd; i++) {
			rc = run3(db, "DELETE FROM moz_bookmarks WHERE id = ?3", NULL, NULL, drop[i].id);
			if (rc == 0)
				rc = close_gap(db, drop[i].parent, drop[i].pos);
		}
	}
	while (rc == 0) {
		int64_t empty = 0, pos = 0;

		rc = query_int(db, "SELECT id FROM moz_bookmarks t WHERE parent = " TAGS_ID " AND type = 2"
			       " AND NOT EXISTS (SELECT 1 FROM moz_bookmarks c WHERE c.parent = t.id)"
			       " ORDER BY id LIMIT 1", NULL, 0, &empty);
		if (rc == -ENOENT)
			return 0;
		if (rc == 0)
			rc = query_int(db, "SELECT position FROM moz_bookmarks WHERE id = ?2", NULL, empty, &pos);
		if (rc == 0)
			rc = run3(db, "DELETE FROM moz_bookmarks WHERE id = ?3", NULL, NULL, empty);
		if (rc == 0) {
			int64_t tags = 0;

			rc = query_int(db, "SELECT id FROM moz_bookmarks WHERE guid = 'tags________'", NULL, 0,
				       &tags);
			if (rc == 0)
				rc = close_gap(db, tags, pos);
		}
	}
	return rc;
}

static int p_put(void *s, const struct ds_bookmark_item *it)
{
	struct places *db = db_of(s);
	sqlite3_stmt *st;
	int64_t parent = 0, place = 0, id = 0, old_parent = 0, old_pos = 0, old_fk = 0;
	int64_t now_us = ds_port_wall_ms() * 1000;
	int type = it->kind == DS_BM_SEPARATOR ? 3 :
		   it->kind == DS_BM_FOLDER || it->kind == DS_BM_LIVEMARK ? 2 : 1;
	bool exists;
	int rc;

	rc = query_int(db, "SELECT id FROM moz_bookmarks WHERE guid = ?1 AND type = 2", it->parent, 0,
		       &parent);
	if (rc)
		return rc == -ENOENT ? -EINVAL : rc;
	rc = prep(db, "SELECT id, parent, position, ifnull(fk, 0), " SYNCABLE("b") " AND guid NOT IN"
		      " ('menu________', 'toolbar_____', 'unfiled_____', 'mobile______')"
		      " FROM moz_bookmarks b WHERE guid = ?1", &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, it->guid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	exists = rc == SQLITE_ROW;
	if (exists) {
		id = sqlite3_column_int64(st, 0);
		old_parent = sqlite3_column_int64(st, 1);
		old_pos = sqlite3_column_int64(st, 2);
		old_fk = sqlite3_column_int64(st, 3);
		/* A root, a tag or a tag entry under this guid is never a record's to rewrite. */
		if (!sqlite3_column_int(st, 4)) {
			done(db, st);
			return -EBADMSG;
		}
	}
	done(db, st);
	if (!exists && rc != SQLITE_DONE)
		return ds_browser_sqlerr(rc);
	if (type == 1) {
		if (!it->url)
			return -EINVAL;
		rc = place_for(db, it->url, it->title, &place);
		if (rc)
			return rc;
	}
	if (exists) {
		rc = prep(db, "UPDATE moz_bookmarks SET type = ?2, fk = ?3, title = ?4,"
			      " dateAdded = ?5, lastModified = ?6, parent = ?7, position = CASE WHEN"
			      " parent = ?7 THEN position ELSE " NEXT_POS("?7") " END WHERE id = ?1", &st);
		if (rc == 0)
			sqlite3_bind_int64(st, 1, id);
	} else {
		rc = prep(db, "INSERT INTO moz_bookmarks(type, fk, title, dateAdded, lastModified,"
			      " parent, position, guid, syncStatus, syncChangeCounter) VALUES(?2, ?3,"
			      " ?4, ?5, ?6, ?7, " NEXT_POS("?7") ","
			      " ?8, 2, 0)", &st);
		if (rc == 0)
			sqlite3_bind_text(st, 8, it->guid, -1, SQLITE_STATIC);
	}
	if (rc)
		return rc;
	sqlite3_bind_int(st, 2, type);
	if (place)
		sqlite3_bind_int64(st, 3, place);
	if (it->title && type != 3)
		sqlite3_bind_text(st, 4, it->title, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (it->date_added_ms > 0 ? it->date_added_ms : now_us / 1000) * 1000);
	sqlite3_bind_int64(st, 6, now_us);
	sqlite3_bind_int64(st, 7, parent);
	rc = step_done(db, st);
	if (rc == 0 && exists && old_parent != parent)
		rc = gap_note(db, old_parent, old_pos);
	if (rc == 0 && old_fk != place)
		rc = recount(db, old_fk);
	if (rc == 0 && type == 1 && it->kind == DS_BM_BOOKMARK) {
		rc = put_keyword(db, place, it->keyword);
		if (rc == 0)
			rc = put_tags(db, place, it, now_us);
	}
	if (rc == 0)
		rc = recount(db, place);
	if (rc == 0)
		rc = run3(db, "INSERT INTO datasync_bm_meta(guid, kind) VALUES(?1, ?3) ON CONFLICT(guid)"
			      " DO UPDATE SET kind = excluded.kind", it->guid, NULL, it->kind);
	return rc;
}

static int p_order(void *s, const char *folder, char (*guids)[DS_BROWSER_ID_MAX], size_t n)
{
	struct places *db = db_of(s);
	struct guid_list cur = { 0 };
	sqlite3_stmt *st = NULL;
	bool *placed = NULL;
	int64_t pos = 0;
	int rc;

	rc = collect(db, "SELECT b.guid FROM moz_bookmarks b JOIN moz_bookmarks p ON p.id = b.parent"
			 " WHERE p.guid = ?1 ORDER BY b.position, b.id", folder, &cur);
	if (rc == 0 && cur.n && !(placed = ds_calloc(cur.n, sizeof(*placed))))
		rc = -ENOMEM;
	if (rc == 0)
		rc = prep(db, "UPDATE moz_bookmarks SET position = ?2 WHERE guid = ?1 AND"
			      " position IS NOT ?2", &st);
	/* The given order first, each guid once and only if it is a child; then the others as
	 * they were. A linear scan per guid: folders hold hundreds of items, not millions. */
	for (size_t i = 0; rc == 0 && i < n; i++) {
		for (size_t j = 0; j < cur.n; j++) {
			if (placed[j] || strcmp(cur.v[j], guids[i]) != 0)
				continue;
			placed[j] = true;
			sqlite3_reset(st);
			sqlite3_bind_text(st, 1, cur.v[j], -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, pos++);
			rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ds_browser_sqlerr(sqlite3_errcode(db->db));
			break;
		}
	}
	for (size_t j = 0; rc == 0 && j < cur.n; j++) {
		if (placed[j])
			continue;
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, cur.v[j], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, pos++);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ds_browser_sqlerr(sqlite3_errcode(db->db));
	}
	done(db, st);
	ds_free(placed);
	ds_free(cur.v);
	return rc;
}

/* Move a side table's row from old_guid to new_guid (?1, ?2), replacing one new_guid had. */
static const char *const RENAME_SQL[][2] = {
	{ "DELETE FROM datasync_bm_changes WHERE guid = ?2 AND EXISTS (SELECT 1 FROM"
	  " datasync_bm_changes WHERE guid = ?1)",
	  "UPDATE datasync_bm_changes SET guid = ?2 WHERE guid = ?1" },
	{ "DELETE FROM datasync_bm_unknown WHERE guid = ?2 AND EXISTS (SELECT 1 FROM"
	  " datasync_bm_unknown WHERE guid = ?1)",
	  "UPDATE datasync_bm_unknown SET guid = ?2 WHERE guid = ?1" },
};

static int rename_side(struct places *db, size_t table, const char *old_guid, const char *new_guid)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < 2; i++)
		rc = run3(db, RENAME_SQL[table][i], old_guid, new_guid, 0);
	return rc;
}

static int p_set_guid(void *s, const char *old_guid, const char *new_guid)
{
	struct places *db = db_of(s);
	int64_t id = 0;
	int rc = item_id(db, new_guid, &id);

	if (rc == 0)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	rc = run3(db, "UPDATE moz_bookmarks SET guid = ?2 WHERE guid = ?1", old_guid, new_guid, 0);
	if (rc == 0)
		rc = rename_side(db, 0, old_guid, new_guid);
	if (rc == 0)
		rc = rename_side(db, 1, old_guid, new_guid);
	/* The new guid's own sync state (a folder named it as a child) is the one to keep. */
	if (rc == 0)
		rc = run3(db, "INSERT OR IGNORE INTO datasync_bm_meta(guid, kind) SELECT ?2, kind FROM"
			      " datasync_bm_meta WHERE guid = ?1", old_guid, new_guid, 0);
	if (rc == 0)
		rc = run3(db, "DELETE FROM datasync_bm_meta WHERE guid = ?1", old_guid, NULL, 0);
	return rc;
}

static int p_remove(void *s, const char *guid)
{
	struct places *db = db_of(s);
	sqlite3_stmt *st;
	int64_t id, parent, pos, fk;
	int rc = prep(db, "SELECT id, parent, position, ifnull(fk, 0), EXISTS (SELECT 1 FROM"
			  " moz_bookmarks c WHERE c.parent = b.id) FROM moz_bookmarks b WHERE guid = ?1", &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, guid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		done(db, st);
		return rc == SQLITE_DONE ? 0 : ds_browser_sqlerr(rc);
	}
	id = sqlite3_column_int64(st, 0);
	parent = sqlite3_column_int64(st, 1);
	pos = sqlite3_column_int64(st, 2);
	fk = sqlite3_column_int64(st, 3);
	rc = sqlite3_column_int(st, 4) ? -ENOTEMPTY : 0;
	done(db, st);
	if (rc == 0)
		rc = run3(db, "DELETE FROM moz_bookmarks WHERE id = ?3", NULL, NULL, id);
	if (rc == 0)
		rc = gap_note(db, parent, pos);
	if (rc == 0)
		rc = recount(db, fk);
	if (rc == 0)
		rc = run3(db, "DELETE FROM datasync_bm_unknown WHERE guid = ?1", guid, NULL, 0);
	return rc;
}

/* Conditions every twin meets: a new (never synced) item of folder ?1 other than ?2. */
#define DUPE_COMMON \
	" p.guid = ?1 AND b.guid <> ?2 AND b.type = ?3 AND ifnull(m.synced, 0) = 0 AND " \
	SYNCABLE("b") " AND b.guid NOT IN ('menu________', 'toolbar_____', 'unfiled_____'," \
	" 'mobile______')"

static int p_find_dupe(void *s, const struct ds_bookmark_item *it, char guid_out[DS_BROWSER_ID_MAX])
{
	struct places *db = db_of(s);
	sqlite3_stmt *st;
	int type = it->kind == DS_BM_SEPARATOR ? 3 :
		   it->kind == DS_BM_FOLDER || it->kind == DS_BM_LIVEMARK ? 2 : 1;
	int rc;

	/* A bookmark's twin is found from its URL (url_hash, then the place's bookmarks), not by
	 * reading the folder: folders such as unfiled hold thousands of items. */
	if (type == 1 && it->url)
		rc = prep(db, "SELECT b.guid FROM moz_places h CROSS JOIN moz_bookmarks b ON b.fk = h.id"
			      " JOIN moz_bookmarks p ON p.id = b.parent LEFT JOIN datasync_bm_meta m"
			      " ON m.guid = b.guid WHERE h.url_hash = ?8 AND h.url = ?6 AND" DUPE_COMMON
			      " AND ifnull(b.title, '') = ?4 ORDER BY b.position LIMIT 1", &st);
	else
		rc = prep(db, "SELECT b.guid FROM moz_bookmarks b JOIN moz_bookmarks p ON p.id = b.parent"
			      " LEFT JOIN moz_places h ON h.id = b.fk LEFT JOIN datasync_bm_meta m"
			      " ON m.guid = b.guid WHERE" DUPE_COMMON " AND"
			      " CASE ?3 WHEN 3 THEN " INDEX_OF("b") " = ?5 WHEN 2 THEN ifnull(b.title, '') = ?4"
			      " AND (ifnull(m.kind, 0) = 4) = (?7 = 4)"
			      " ELSE ifnull(b.title, '') = ?4 AND h.url = ?6 END ORDER BY b.position LIMIT 1",
			      &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, it->parent, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, it->guid, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, type);
	sqlite3_bind_text(st, 4, it->title ? it->title : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, it->position);
	if (it->url)
		sqlite3_bind_text(st, 6, it->url, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, it->kind);
	if (sqlite3_bind_parameter_count(st) >= 8)
		sqlite3_bind_int64(st, 8, it->url ? ds_bookmarks_url_hash(it->url) : 0);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *g = (const char *)sqlite3_column_text(st, 0);

		snprintf(guid_out, DS_BROWSER_ID_MAX, "%s", g ? g : "");
		rc = g ? 0 : -ENOENT;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : ds_browser_sqlerr(rc);
	}
	done(db, st);
	return rc;
}

static int p_log_change(void *s, const char *guid, int64_t ms)
{
	struct places *db = db_of(s);
	int rc = run3(db, "UPDATE datasync_bm_state SET seq = seq + 1", NULL, NULL, 0);

	/* ms <= 0: the database's clock, the one the triggers stamp the browser's changes with. */
	return rc ? rc : run3(db, "INSERT OR REPLACE INTO datasync_bm_changes(guid, seq, ms, deleted)"
			      " SELECT ?1, seq, CASE WHEN ?3 > 0 THEN ?3 ELSE CAST((julianday('now')"
			      " - 2440587.5) * 86400000 AS INTEGER) END, 0 FROM datasync_bm_state",
			      guid, NULL, ms);
}

static int p_meta_get(void *s, const char *guid, struct ds_bookmark_meta *out)
{
	struct places *db = db_of(s);
	sqlite3_stmt *st;
	int rc = prep(db, "SELECT synced, want_parent, remote_children, flags, server FROM"
				" datasync_bm_meta WHERE guid = ?1", &st);

	memset(out, 0, sizeof(*out));
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, guid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *w = (const char *)sqlite3_column_text(st, 1);

		out->synced = sqlite3_column_int(st, 0) != 0;
		snprintf(out->want_parent, sizeof(out->want_parent), "%s", w ? w : "");
		out->flags = (unsigned)sqlite3_column_int(st, 3);
		rc = 0;
		if (sqlite3_column_type(st, 2) != SQLITE_NULL && !(out->remote_children = col_dup(st, 2)))
			rc = -ENOMEM;
		if (sqlite3_column_type(st, 4) != SQLITE_NULL && !(out->server_payload = col_dup(st, 4)))
			rc = -ENOMEM;
		if (rc)
			ds_bookmark_meta_clear(out);
	} else {
		rc = rc == SQLITE_DONE ? 0 : ds_browser_sqlerr(rc);
	}
	done(db, st);
	return rc;
}

static int p_meta_put(void *s, const char *guid, const struct ds_bookmark_meta *m)
{
	struct places *db = db_of(s);
	sqlite3_stmt *st;
	int rc;

	if (!m)
		return run3(db, "DELETE FROM datasync_bm_meta WHERE guid = ?1", guid, NULL, 0);
	rc = prep(db, "INSERT INTO datasync_bm_meta(guid, synced, want_parent, remote_children,"
			    " flags, server) VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(guid) DO UPDATE SET"
			    " synced = excluded.synced, want_parent = excluded.want_parent,"
			    " remote_children = excluded.remote_children, flags = excluded.flags,"
			    " server = excluded.server", &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, guid, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, m->synced);
	if (m->want_parent[0])
		sqlite3_bind_text(st, 3, m->want_parent, -1, SQLITE_STATIC);
	if (m->remote_children)
		sqlite3_bind_text(st, 4, m->remote_children, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, (int)m->flags);
	if (m->server_payload)
		sqlite3_bind_text(st, 6, m->server_payload, -1, SQLITE_STATIC);
	return step_done(db, st);
}

static int p_deleted_parent(void *s, const char *guid, char parent_out[DS_BROWSER_ID_MAX])
{
	struct places *db = db_of(s);
	sqlite3_stmt *st;
	int rc = prep(db, "SELECT parent FROM datasync_bm_tomb WHERE guid = ?1 AND parent IS"
				" NOT NULL", &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, guid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(parent_out, DS_BROWSER_ID_MAX, "%s", sqlite3_column_text(st, 0));
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : ds_browser_sqlerr(rc);
	}
	done(db, st);
	return rc;
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
 * WAL snapshot that goes with it, after COMMIT (see struct places). */
static void check_idle(struct places *db)
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
	struct places *db = db_of(s);
	int rc = gaps_flush(db);

	check_idle(db);
	if (rc == 0)
		rc = run3(db, "UPDATE datasync_bm_state SET applying = 0", NULL, NULL, 0);
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
	struct places *db = db_of(s);
	sqlite3_stmt *st;
	int rc = prep(db, "SELECT seq, ms, deleted FROM datasync_bm_changes WHERE guid = ?1", &st);

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
	done(db, st);
	return rc;
}

static int t_changes_after(void *s, uint64_t after_seq, const char *after_guid,
			   ds_browser_change_cb cb, void *user_data)
{
	struct places *db = db_of(s);
	sqlite3_stmt *st;
	int rc = prep(db, "SELECT guid, seq, ms, deleted FROM datasync_bm_changes"
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
		snprintf(g, sizeof(g), "%s", t);
		rc = cb(g, &info, user_data);
		if (rc) {
			done(db, st);
			return rc > 0 ? 0 : rc;
		}
	}
	done(db, st);
	return rc == SQLITE_DONE ? 0 : ds_browser_sqlerr(rc);
}

/* The server took the change: a kept item is synced from now on; a deletion is done with. */
static int t_forget(void *s, const char *guid, uint64_t seq)
{
	struct places *db = db_of(s);
	int64_t deleted = 0;
	int rc = query_int(db, "SELECT deleted FROM datasync_bm_changes WHERE guid = ?1 AND seq <= ?2",
			   guid, (int64_t)seq, &deleted);

	if (rc == -ENOENT)
		return 0;
	if (rc == 0)
		rc = run3(db, "DELETE FROM datasync_bm_changes WHERE guid = ?1 AND seq <= ?3", guid, NULL,
			  (int64_t)seq);
	if (rc == 0 && deleted)
		rc = run3(db, "DELETE FROM datasync_bm_tomb WHERE guid = ?1", guid, NULL, 0);
	if (rc == 0 && deleted)
		rc = run3(db, "DELETE FROM datasync_bm_meta WHERE guid = ?1 AND NOT EXISTS (SELECT 1"
			      " FROM moz_bookmarks WHERE guid = ?1)", guid, NULL, 0);
	if (rc == 0 && !deleted)
		rc = run3(db, "INSERT INTO datasync_bm_meta(guid, synced) VALUES(?1, 1) ON CONFLICT(guid)"
			      " DO UPDATE SET synced = 1", guid, NULL, 0);
	return rc;
}

static int t_mark_all(void *s, size_t limit)
{
	struct places *db = db_of(s);
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
	struct places *db = db_of(s);
	int64_t one = 0;
	int rc = query_int(db, "SELECT 1 FROM moz_bookmarks b WHERE " SYNCABLE("b") " AND b.guid NOT"
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
	struct places *db = db_of(s);

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
	struct places *db = db_of(s);
	sqlite3_stmt *st;
	int rc = prep(db, "SELECT fields FROM datasync_bm_unknown WHERE guid = ?1", &st);

	*json = NULL;
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, guid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*json = col_dup(st, 0);
		rc = *json ? 0 : -ENOMEM;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : ds_browser_sqlerr(rc);
	}
	done(db, st);
	return rc;
}

static int t_unknown_put(void *s, const char *guid, const char *json)
{
	struct places *db = db_of(s);
	if (!json)
		return run3(db, "DELETE FROM datasync_bm_unknown WHERE guid = ?1", guid, NULL, 0);
	return run3(db, "INSERT OR REPLACE INTO datasync_bm_unknown(guid, fields) VALUES(?1, ?2)",
		    guid, json, 0);
}

static void t_close(void *s)
{
	struct places *db = db_of(s);

	finalize_all(db);
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
	.get = p_get,
	.locate = p_locate,
	.list = p_list,
	.put = p_put,
	.order = p_order,
	.set_guid = p_set_guid,
	.remove = p_remove,
	.find_dupe = p_find_dupe,
	.log_change = p_log_change,
	.meta_get = p_meta_get,
	.meta_put = p_meta_put,
	.deleted_parent = p_deleted_parent,
};

static int open_db(const char *path, sqlite3 **db)
{
	struct places probe = { 0 };
	int64_t roots = 0;
	int rc = ds_browser_db_open(path, db);

	if (rc)
		return rc;
	probe.db = *db;
	rc = ds_browser_exec(*db, SCHEMA_CHECK_SQL);
	if (rc == 0)
		rc = query_int(&probe, ROOTS_CHECK_SQL, NULL, 0, &roots);
	finalize_all(&probe);
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
	struct places *p;
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
