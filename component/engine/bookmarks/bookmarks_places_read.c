/*
 * The places.sqlite store, reading: an item with its tags and keyword, where an item is, the
 * lists the engine walks, U1 twins, and the per-guid sync state (bookmarks_places.c).
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

/* ---- reading ---------------------------------------------------------------------------- */

static int read_tags(struct ds_bm_places *db, int64_t fk, struct ds_bookmark_item *it)
{
	sqlite3_stmt *st;
	int rc = ds_bmp_prep(db, "SELECT DISTINCT t.title FROM moz_bookmarks e JOIN moz_bookmarks t ON"
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
		if (!(it->tags[it->n_tags] = ds_bmp_col_dup(st, 0))) {
			rc = SQLITE_NOMEM;
			break;
		}
		it->n_tags++;
	}
	ds_bmp_done(db, st);
	return rc == SQLITE_DONE ? 0 : ds_browser_sqlerr(rc);
}

int ds_bmp_get(void *s, const char *guid, struct ds_bookmark_item *out)
{
	struct ds_bm_places *db = db_of(s);
	sqlite3_stmt *st;
	int64_t fk = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (strlen(guid) >= sizeof(out->guid))
		return -ENOENT;
	rc = ds_bmp_prep(db, "SELECT b.type, b.title, b.dateAdded, CASE b.type WHEN 3 THEN " INDEX_OF("b")
		      " ELSE b.position END, p.guid, h.url, m.kind, b.fk, h.frecency"
		      " FROM moz_bookmarks b LEFT JOIN moz_bookmarks p ON p.id = b.parent"
		      " LEFT JOIN moz_places h ON h.id = b.fk LEFT JOIN datasync_bm_meta m"
		      " ON m.guid = b.guid WHERE b.guid = ?1 AND " SYNCABLE("b"), &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, guid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		ds_bmp_done(db, st);
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
	if (sqlite3_column_type(st, 1) != SQLITE_NULL && !(out->title = ds_bmp_col_dup(st, 1)))
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
		out->url = ds_bmp_col_dup(st, 5);
		fk = sqlite3_column_int64(st, 7);
		out->frecency = sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 :
				sqlite3_column_int64(st, 8);
		if (!out->url)
			rc = sqlite3_column_type(st, 5) == SQLITE_NULL ? -ENOENT : -ENOMEM;
		else if (strncmp(out->url, "place:", 6) == 0)
			out->kind = DS_BM_QUERY;
	}
	ds_bmp_done(db, st);
	if (rc == 0 && out->kind == DS_BM_BOOKMARK) {
		rc = ds_bmp_prep(db, "SELECT keyword FROM moz_keywords WHERE place_id = ?1 ORDER BY keyword"
			      " LIMIT 1", &st);
		if (rc == 0) {
			sqlite3_bind_int64(st, 1, fk);
			if (sqlite3_step(st) == SQLITE_ROW && !(out->keyword = ds_bmp_col_dup(st, 0)))
				rc = -ENOMEM;
			ds_bmp_done(db, st);
		}
		if (rc == 0)
			rc = read_tags(db, fk, out);
	}
	if (rc)
		ds_bookmark_item_clear(out);
	return rc;
}

int ds_bmp_locate(void *s, const char *guid, char parent_out[DS_BROWSER_ID_MAX],
		    enum ds_bookmark_kind *kind)
{
	struct ds_bm_places *db = db_of(s);
	sqlite3_stmt *st;
	int rc = ds_bmp_prep(db, "SELECT b.type, p.guid, m.kind FROM moz_bookmarks b LEFT JOIN"
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
	ds_bmp_done(db, st);
	return rc;
}

int ds_bmp_collect(struct ds_bm_places *db, const char *sql, const char *arg,
		   struct ds_bm_glist *l)
{
	sqlite3_stmt *st;
	int rc = ds_bmp_prep(db, sql, &st);

	if (rc)
		return rc;
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *g = (const char *)sqlite3_column_text(st, 0);

		if (g && strlen(g) < DS_BROWSER_ID_MAX && ds_bm_glist_add(g, l)) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	ds_bmp_done(db, st);
	return rc == SQLITE_DONE ? 0 : ds_browser_sqlerr(rc);
}

int ds_bmp_list(void *s, enum ds_bookmarks_list which, const char *arg, ds_bookmarks_guid_cb cb,
		  void *user_data)
{
	struct ds_bm_places *db = db_of(s);
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
		/* Same rule as ds_bookmarks_guid_valid(), in SQL: a scan of moz_bookmarks, once
		 * per upload. */
		[DS_BM_LIST_INVALID] = "SELECT b.guid FROM moz_bookmarks b WHERE " SYNCABLE("b")
				       " AND (length(b.guid) <> 12 OR b.guid GLOB '*[^A-Za-z0-9_-]*')"
				       " ORDER BY b.id",
	};
	struct ds_bm_glist l = { 0 };
	int rc;

	if ((unsigned)which >= DS_ARRAY_SIZE(SQL))
		return -EINVAL;
	rc = ds_bmp_collect(db, SQL[which], arg, &l);
	for (size_t i = 0; rc == 0 && i < l.n; i++)
		rc = cb(l.v[i], user_data);
	ds_free(l.v);
	return rc;
}


/* Conditions every twin meets: a new (never synced) item of folder ?1 other than ?2. */
#define DUPE_COMMON \
	" p.guid = ?1 AND b.guid <> ?2 AND b.type = ?3 AND ifnull(m.synced, 0) = 0 AND " \
	SYNCABLE("b") " AND b.guid NOT IN ('menu________', 'toolbar_____', 'unfiled_____'," \
	" 'mobile______')"

int ds_bmp_find_dupe(void *s, const struct ds_bookmark_item *it, char guid_out[DS_BROWSER_ID_MAX])
{
	struct ds_bm_places *db = db_of(s);
	sqlite3_stmt *st;
	int type = it->kind == DS_BM_SEPARATOR ? 3 :
		   it->kind == DS_BM_FOLDER || it->kind == DS_BM_LIVEMARK ? 2 : 1;
	int rc;

	/* A bookmark's twin is found from its URL (url_hash, then the place's bookmarks), not by
	 * reading the folder: folders such as unfiled hold thousands of items. */
	if (type == 1 && it->url)
		rc = ds_bmp_prep(db, "SELECT b.guid FROM moz_places h CROSS JOIN moz_bookmarks b ON b.fk = h.id"
			      " JOIN moz_bookmarks p ON p.id = b.parent LEFT JOIN datasync_bm_meta m"
			      " ON m.guid = b.guid WHERE h.url_hash = ?8 AND h.url = ?6 AND" DUPE_COMMON
			      " AND ifnull(b.title, '') = ?4 ORDER BY b.position LIMIT 1", &st);
	else
		rc = ds_bmp_prep(db, "SELECT b.guid FROM moz_bookmarks b JOIN moz_bookmarks p ON p.id = b.parent"
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
		sqlite3_bind_int64(st, 8, it->url ? ds_browser_url_hash(it->url) : 0);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *g = (const char *)sqlite3_column_text(st, 0);

		snprintf(guid_out, DS_BROWSER_ID_MAX, "%s", g ? g : "");
		rc = g ? 0 : -ENOENT;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : ds_browser_sqlerr(rc);
	}
	ds_bmp_done(db, st);
	return rc;
}


int ds_bmp_meta_get(void *s, const char *guid, struct ds_bookmark_meta *out)
{
	struct ds_bm_places *db = db_of(s);
	sqlite3_stmt *st;
	int rc = ds_bmp_prep(db, "SELECT synced, want_parent, remote_children, flags, server FROM"
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
		if (sqlite3_column_type(st, 2) != SQLITE_NULL && !(out->remote_children = ds_bmp_col_dup(st, 2)))
			rc = -ENOMEM;
		if (sqlite3_column_type(st, 4) != SQLITE_NULL && !(out->server_payload = ds_bmp_col_dup(st, 4)))
			rc = -ENOMEM;
		if (rc)
			ds_bookmark_meta_clear(out);
	} else {
		rc = rc == SQLITE_DONE ? 0 : ds_browser_sqlerr(rc);
	}
	ds_bmp_done(db, st);
	return rc;
}

int ds_bmp_meta_put(void *s, const char *guid, const struct ds_bookmark_meta *m)
{
	struct ds_bm_places *db = db_of(s);
	sqlite3_stmt *st;
	int rc;

	if (!m)
		return ds_bmp_run3(db, "DELETE FROM datasync_bm_meta WHERE guid = ?1", guid, NULL, 0);
	rc = ds_bmp_prep(db, "INSERT INTO datasync_bm_meta(guid, synced, want_parent, remote_children,"
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
	return ds_bmp_step_done(db, st);
}

int ds_bmp_deleted_parent(void *s, const char *guid, char parent_out[DS_BROWSER_ID_MAX])
{
	struct ds_bm_places *db = db_of(s);
	sqlite3_stmt *st;
	int rc = ds_bmp_prep(db, "SELECT parent FROM datasync_bm_tomb WHERE guid = ?1 AND parent IS"
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
	ds_bmp_done(db, st);
	return rc;
}
