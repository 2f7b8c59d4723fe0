/*
 * The places.sqlite store, writing: items with their places, tags and keywords, positions, guid
 * changes, removals, and the changes the merge logs (bookmarks_places.c). Firefox's TEMP
 * triggers (nsPlacesTriggers.h) do not fire for our writes, so foreign_count is kept here.
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

/* ---- writing ---------------------------------------------------------------------------- */

/* Firefox counts bookmarks and keywords of a place in foreign_count (nsPlacesTriggers.h). */
static int recount(struct ds_bm_places *db, int64_t place)
{
	sqlite3_stmt *st;
	int rc;

	if (place <= 0)
		return 0;
	rc = ds_bmp_prep(db, "UPDATE moz_places SET foreign_count = (SELECT count(*) FROM moz_bookmarks"
		      " WHERE fk = ?1) + (SELECT count(*) FROM moz_keywords WHERE place_id = ?1)"
		      " WHERE id = ?1", &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, place);
	return ds_bmp_step_done(db, st);
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

static int place_for(struct ds_bm_places *db, const char *url, const char *title, int64_t *out)
{
	sqlite3_stmt *st;
	char guid[13], *rh;
	int rc = ds_bmp_prep(db, "SELECT id FROM moz_places WHERE url_hash = ?1 AND url = ?2", &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, ds_browser_url_hash(url));
	sqlite3_bind_text(st, 2, url, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		ds_bmp_done(db, st);
		return 0;
	}
	ds_bmp_done(db, st);
	if (rc != SQLITE_DONE)
		return ds_browser_sqlerr(rc);
	rc = new_guid(guid);
	if (rc)
		return rc;
	rh = ds_browser_rev_host(url);
	if (!rh)
		return -ENOMEM;
	rc = ds_bmp_prep(db, "INSERT INTO moz_places(url, title, rev_host, visit_count, hidden, typed,"
		      " frecency, guid, url_hash, foreign_count) VALUES(?1, ?2, ?3, 0, 0, 0, -1, ?4,"
		      " ?5, 0)", &st);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, url, -1, SQLITE_STATIC);
		if (title)
			sqlite3_bind_text(st, 2, title, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, rh, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, guid, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, ds_browser_url_hash(url));
		rc = ds_bmp_step_done(db, st);
	}
	ds_free(rh);
	if (rc == 0)
		*out = sqlite3_last_insert_rowid(db->db);
	return rc;
}

static int put_keyword(struct ds_bm_places *db, int64_t place, const char *kw)
{
	int64_t other = 0;
	int rc;

	/* The record says which keyword the URL has: any other goes. */
	rc = ds_bmp_run3(db, "DELETE FROM moz_keywords WHERE place_id = ?3 AND keyword IS NOT ?1", kw, NULL,
		  place);
	if (rc || !kw)
		return rc;
	/* A keyword names one URL (moz_keywords.keyword is UNIQUE): it moves here. */
	rc = ds_bmp_query_int(db, "SELECT place_id FROM moz_keywords WHERE keyword = ?1", kw, 0, &other);
	if (rc == 0 && other == place)
		return 0;
	if (rc && rc != -ENOENT)
		return rc;
	rc = ds_bmp_run3(db, "INSERT OR REPLACE INTO moz_keywords(keyword, place_id, post_data)"
		      " VALUES(?1, ?3, NULL)", kw, NULL, place);
	return rc ? rc : recount(db, other);
}

/* Close the gap an item leaves at position pos of parent. */
static int close_gap(struct ds_bm_places *db, int64_t parent, int64_t pos)
{
	sqlite3_stmt *st;
	int rc = ds_bmp_prep(db, "UPDATE moz_bookmarks SET position = position - 1 WHERE parent = ?1"
			  " AND position > ?2", &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, parent);
	sqlite3_bind_int64(st, 2, pos);
	return ds_bmp_step_done(db, st);
}

/* Children of parent numbered 0..n-1 in their order (position, then id: a moved-in item
 * shares no position, see NEXT_POS). */
static int renumber(struct ds_bm_places *db, int64_t parent)
{
	sqlite3_stmt *st;
	int rc = ds_bmp_prep(db, "UPDATE moz_bookmarks SET position = r.n FROM (SELECT id, row_number() OVER"
			  " (ORDER BY position, id) - 1 AS n FROM moz_bookmarks WHERE parent = ?1) AS r"
			  " WHERE moz_bookmarks.id = r.id AND moz_bookmarks.position IS NOT r.n", &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, parent);
	return ds_bmp_step_done(db, st);
}

int ds_bmp_gaps_flush(struct ds_bm_places *db)
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
static int gap_note(struct ds_bm_places *db, int64_t parent, int64_t pos)
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

static int put_tags(struct ds_bm_places *db, int64_t place, const struct ds_bookmark_item *it,
		    int64_t now_us)
{
	sqlite3_stmt *st;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < it->n_tags; i++) {
		int64_t tag = 0;
		char g[13];

		rc = ds_bmp_query_int(db, "SELECT id FROM moz_bookmarks WHERE parent = " TAGS_ID
			       " AND title = ?1 ORDER BY id", it->tags[i], 0, &tag);
		if (rc == -ENOENT && (rc = new_guid(g)) == 0) {
			rc = ds_bmp_prep(db, "INSERT INTO moz_bookmarks(type, parent, position, title, dateAdded,"
				      " lastModified, guid, syncStatus, syncChangeCounter) SELECT 2, t.id,"
				      " " NEXT_POS("t.id") ", ?1, ?2, ?2,"
				      " ?3, 2, 0 FROM moz_bookmarks t WHERE t.guid = 'tags________'", &st);
			if (rc == 0) {
				sqlite3_bind_text(st, 1, it->tags[i], -1, SQLITE_STATIC);
				sqlite3_bind_int64(st, 2, now_us);
				sqlite3_bind_text(st, 3, g, -1, SQLITE_STATIC);
				rc = ds_bmp_step_done(db, st);
				tag = sqlite3_last_insert_rowid(db->db);
			}
		}
		if (rc)
			break;
		if (new_guid(g))
			return -EIO;
		rc = ds_bmp_prep(db, "INSERT INTO moz_bookmarks(type, fk, parent, position, dateAdded,"
			      " lastModified, guid, syncStatus, syncChangeCounter) SELECT 1, ?1, ?2,"
			      " " NEXT_POS("?2") ", ?3, ?3, ?4, 2, 0"
			      " WHERE NOT EXISTS (SELECT 1 FROM moz_bookmarks WHERE parent = ?2 AND fk = ?1)",
			  &st);
		if (rc == 0) {
			sqlite3_bind_int64(st, 1, place);
			sqlite3_bind_int64(st, 2, tag);
			sqlite3_bind_int64(st, 3, now_us);
			sqlite3_bind_text(st, 4, g, -1, SQLITE_STATIC);
			rc = ds_bmp_step_done(db, st);
		}
	}
	if (rc)
		return rc;
	/* Entries of tags the record does not name go, then tags left empty; positions in the
	 * folders that lost an item are renumbered (Places keeps them 0..n-1). */
	rc = ds_bmp_prep(db, "SELECT e.id, t.title, e.parent, e.position FROM moz_bookmarks e JOIN"
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
		ds_bmp_done(db, st);
		rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : ds_browser_sqlerr(rc);
		for (size_t i = 0; rc == 0 && i < nd; i++) {
			rc = ds_bmp_run3(db, "DELETE FROM moz_bookmarks WHERE id = ?3", NULL, NULL, drop[i].id);
			if (rc == 0)
				rc = close_gap(db, drop[i].parent, drop[i].pos);
		}
	}
	while (rc == 0) {
		int64_t empty = 0, pos = 0;

		rc = ds_bmp_query_int(db, "SELECT id FROM moz_bookmarks t WHERE parent = " TAGS_ID " AND type = 2"
			       " AND NOT EXISTS (SELECT 1 FROM moz_bookmarks c WHERE c.parent = t.id)"
			       " ORDER BY id LIMIT 1", NULL, 0, &empty);
		if (rc == -ENOENT)
			return 0;
		if (rc == 0)
			rc = ds_bmp_query_int(db, "SELECT position FROM moz_bookmarks WHERE id = ?2", NULL, empty, &pos);
		if (rc == 0)
			rc = ds_bmp_run3(db, "DELETE FROM moz_bookmarks WHERE id = ?3", NULL, NULL, empty);
		if (rc == 0) {
			int64_t tags = 0;

			rc = ds_bmp_query_int(db, "SELECT id FROM moz_bookmarks WHERE guid = 'tags________'", NULL, 0,
				       &tags);
			if (rc == 0)
				rc = close_gap(db, tags, pos);
		}
	}
	return rc;
}

int ds_bmp_put(void *s, const struct ds_bookmark_item *it)
{
	struct ds_bm_places *db = db_of(s);
	sqlite3_stmt *st;
	int64_t parent = 0, place = 0, id = 0, old_parent = 0, old_pos = 0, old_fk = 0;
	int64_t now_us = ds_port_wall_ms() * 1000;
	int type = it->kind == DS_BM_SEPARATOR ? 3 :
		   it->kind == DS_BM_FOLDER || it->kind == DS_BM_LIVEMARK ? 2 : 1;
	bool exists;
	int rc;

	rc = ds_bmp_query_int(db, "SELECT id FROM moz_bookmarks WHERE guid = ?1 AND type = 2", it->parent, 0,
		       &parent);
	if (rc)
		return rc == -ENOENT ? -EINVAL : rc;
	rc = ds_bmp_prep(db, "SELECT id, parent, position, ifnull(fk, 0), " SYNCABLE("b") " AND guid NOT IN"
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
			ds_bmp_done(db, st);
			return -EBADMSG;
		}
	}
	ds_bmp_done(db, st);
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
		rc = ds_bmp_prep(db, "UPDATE moz_bookmarks SET type = ?2, fk = ?3, title = ?4,"
			      " dateAdded = ?5, lastModified = ?6, parent = ?7, position = CASE WHEN"
			      " parent = ?7 THEN position ELSE " NEXT_POS("?7") " END WHERE id = ?1", &st);
		if (rc == 0)
			sqlite3_bind_int64(st, 1, id);
	} else {
		rc = ds_bmp_prep(db, "INSERT INTO moz_bookmarks(type, fk, title, dateAdded, lastModified,"
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
	rc = ds_bmp_step_done(db, st);
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
		rc = ds_bmp_run3(db, "INSERT INTO datasync_bm_meta(guid, kind) VALUES(?1, ?3) ON CONFLICT(guid)"
			      " DO UPDATE SET kind = excluded.kind", it->guid, NULL, it->kind);
	return rc;
}

int ds_bmp_order(void *s, const char *folder, char (*guids)[DS_BROWSER_ID_MAX], size_t n)
{
	struct ds_bm_places *db = db_of(s);
	struct ds_bm_glist cur = { 0 };
	sqlite3_stmt *st = NULL;
	bool *placed = NULL;
	int64_t pos = 0;
	int rc;

	rc = ds_bmp_collect(db, "SELECT b.guid FROM moz_bookmarks b JOIN moz_bookmarks p ON p.id = b.parent"
			 " WHERE p.guid = ?1 ORDER BY b.position, b.id", folder, &cur);
	/* One more than needed, so that an empty folder has a table too. */
	if (rc == 0 && !(placed = ds_calloc(cur.n + 1, sizeof(*placed))))
		rc = -ENOMEM;
	if (rc == 0)
		rc = ds_bmp_prep(db, "UPDATE moz_bookmarks SET position = ?2 WHERE guid = ?1 AND"
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
	ds_bmp_done(db, st);
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

static int rename_side(struct ds_bm_places *db, size_t table, const char *old_guid,
		       const char *new_guid)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < 2; i++)
		rc = ds_bmp_run3(db, RENAME_SQL[table][i], old_guid, new_guid, 0);
	return rc;
}

int ds_bmp_set_guid(void *s, const char *old_guid, const char *new_guid)
{
	struct ds_bm_places *db = db_of(s);
	int64_t id = 0;
	int rc = ds_bmp_item_id(db, new_guid, &id);

	if (rc == 0)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	rc = ds_bmp_run3(db, "UPDATE moz_bookmarks SET guid = ?2 WHERE guid = ?1", old_guid, new_guid, 0);
	if (rc == 0)
		rc = rename_side(db, 0, old_guid, new_guid);
	if (rc == 0)
		rc = rename_side(db, 1, old_guid, new_guid);
	/* The new guid's own sync state (a folder named it as a child) is the one to keep. */
	if (rc == 0)
		rc = ds_bmp_run3(db, "INSERT OR IGNORE INTO datasync_bm_meta(guid, kind) SELECT ?2, kind FROM"
			      " datasync_bm_meta WHERE guid = ?1", old_guid, new_guid, 0);
	if (rc == 0)
		rc = ds_bmp_run3(db, "DELETE FROM datasync_bm_meta WHERE guid = ?1", old_guid, NULL, 0);
	return rc;
}

int ds_bmp_remove(void *s, const char *guid)
{
	struct ds_bm_places *db = db_of(s);
	sqlite3_stmt *st;
	int64_t id, parent, pos, fk;
	int rc = ds_bmp_prep(db, "SELECT id, parent, position, ifnull(fk, 0), EXISTS (SELECT 1 FROM"
			  " moz_bookmarks c WHERE c.parent = b.id) FROM moz_bookmarks b WHERE guid = ?1", &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, guid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		ds_bmp_done(db, st);
		return rc == SQLITE_DONE ? 0 : ds_browser_sqlerr(rc);
	}
	id = sqlite3_column_int64(st, 0);
	parent = sqlite3_column_int64(st, 1);
	pos = sqlite3_column_int64(st, 2);
	fk = sqlite3_column_int64(st, 3);
	rc = sqlite3_column_int(st, 4) ? -ENOTEMPTY : 0;
	ds_bmp_done(db, st);
	if (rc == 0)
		rc = ds_bmp_run3(db, "DELETE FROM moz_bookmarks WHERE id = ?3", NULL, NULL, id);
	if (rc == 0)
		rc = gap_note(db, parent, pos);
	if (rc == 0)
		rc = recount(db, fk);
	if (rc == 0)
		rc = ds_bmp_run3(db, "DELETE FROM datasync_bm_unknown WHERE guid = ?1", guid, NULL, 0);
	return rc;
}


int ds_bmp_log_change(void *s, const char *guid, int64_t ms)
{
	struct ds_bm_places *db = db_of(s);
	int rc = ds_bmp_run3(db, "UPDATE datasync_bm_state SET seq = seq + 1", NULL, NULL, 0);

	/* ms <= 0: the database's clock, the one the triggers stamp the browser's changes with. */
	return rc ? rc : ds_bmp_run3(db, "INSERT OR REPLACE INTO datasync_bm_changes(guid, seq, ms, deleted)"
			      " SELECT ?1, seq, CASE WHEN ?3 > 0 THEN ?3 ELSE CAST((julianday('now')"
			      " - 2440587.5) * 86400000 AS INTEGER) END, 0 FROM datasync_bm_state",
			      guid, NULL, ms);
}
