/*
 * The bookmarks engine's remote records and tombstones, one at a time (docs/engine-bookmarks.md
 * "Rules"; mozilla/dogear src/merge.rs, AS places/src/bookmark_sync/engine.rs).
 */
#define DS_LOG_TAG "bookmarks"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "engine/bookmarks/bookmarks_int.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

enum parent_state { P_FOUND, P_ORPHAN, P_INVALID, P_RELOCATED };

/*
 * Where item g goes when its remote parent is want: the folder itself (P_FOUND); its nearest
 * surviving ancestor when the folder was deleted here (P_RELOCATED); unfiled while the folder
 * has not arrived (P_ORPHAN) or for good when want is no folder, g itself or g's descendant
 * (P_INVALID).
 */
static int resolve_parent(struct ds_bm_engine *b, const char *g, bool container, const char *want,
			  char out[DS_BROWSER_ID_MAX], enum parent_state *st)
{
	char cur[DS_BROWSER_ID_MAX];
	bool moved = false;

	snprintf(cur, sizeof(cur), "%s", want);
	snprintf(out, DS_BROWSER_ID_MAX, "%s", DS_BM_ROOT_UNFILED);
	*st = P_INVALID;
	for (int depth = 0; depth < DS_BM_MAX_DEPTH; depth++) {
		char up[DS_BROWSER_ID_MAX];
		enum ds_bookmark_kind k;
		struct ds_pending_info p;
		int rc;

		if (!cur[0] || strcmp(cur, g) == 0 || strcmp(cur, DS_BM_ROOT_PLACES) == 0 ||
		    strcmp(cur, DS_BM_ROOT_TAGS) == 0)
			return 0;
		rc = OPS(b)->locate(S(b), cur, up, &k);
		if (rc == 0) {
			if (k != DS_BM_FOLDER)
				return 0;
			rc = container ? ds_bm_is_ancestor(b, g, cur) : 0;
			if (rc < 0)
				return rc;
			if (rc == 1)
				return 0; /* a cycle: g would hold its own parent */
			snprintf(out, DS_BROWSER_ID_MAX, "%s", cur);
			*st = moved ? P_RELOCATED : P_FOUND;
			return 0;
		}
		if (rc != -ENOENT)
			return rc;
		rc = ds_bm_real_pending(b, cur, &p);
		if (rc < 0)
			return rc;
		if (rc == 0 || !p.deleted) {
			if (!moved)
				*st = P_ORPHAN;
			return 0;
		}
		/* Deleted here: its parent, as it was then. */
		rc = OPS(b)->deleted_parent(S(b), cur, cur);
		if (rc == -ENOENT)
			return 0;
		if (rc)
			return rc;
		moved = true;
		*st = P_RELOCATED;
	}
	return 0;
}

/* ---- remote deletions ------------------------------------------------------------------- */

/* Does g survive the remote deletion of its folder? New here, or changed here (dogear). */
static int survives(struct ds_bm_engine *b, const char *g)
{
	struct ds_bookmark_meta m;
	struct ds_pending_info p;
	int rc = ds_bm_real_pending(b, g, &p);

	if (rc < 0)
		return rc;
	if (rc == 1 && !p.deleted)
		return 1;
	rc = OPS(b)->meta_get(S(b), g, &m);
	ds_bookmark_meta_clear(&m);
	return rc < 0 ? rc : !m.synced;
}

static int delete_folder(struct ds_bm_engine *b, const char *f, const char *target, int depth)
{
	struct ds_bm_glist ch;
	int rc = ds_bm_list(b, DS_BM_LIST_CHILDREN, f, &ch);

	for (size_t i = 0; rc == 0 && i < ch.n; i++) {
		struct ds_bookmark_item it;

		rc = OPS(b)->get(S(b), ch.v[i], &it);
		if (rc)
			break;
		rc = depth >= DS_BM_MAX_DEPTH ? 1 : survives(b, ch.v[i]);
		if (rc == 1) {
			/* Kept: it moves up, and both it and its new folder go to the server. */
			rc = ds_bm_move_item(b, &it, target);
			if (rc == 0)
				rc = ds_bm_log_change(b, it.guid);
			if (rc == 0)
				rc = ds_bm_log_change(b, target);
		} else if (rc == 0 && (it.kind == DS_BM_FOLDER || it.kind == DS_BM_LIVEMARK)) {
			rc = delete_folder(b, it.guid, target, depth + 1);
		} else if (rc == 0) {
			rc = OPS(b)->remove(S(b), it.guid);
			if (rc == 0)
				rc = ds_bm_forget_pending(b, it.guid);
			if (rc == 0)
				rc = OPS(b)->meta_put(S(b), it.guid, NULL);
		}
		ds_bookmark_item_clear(&it);
	}
	ds_bm_glist_free(&ch);
	if (rc == 0)
		rc = OPS(b)->remove(S(b), f);
	if (rc == 0)
		rc = ds_bm_forget_pending(b, f);
	if (rc == 0)
		rc = OPS(b)->meta_put(S(b), f, NULL);
	return rc;
}

int ds_bm_apply_tombstone(struct ds_bm_engine *b, const char *g)
{
	struct ds_bookmark_item it;
	struct ds_pending_info p;
	int has_p, rc;

	if (ds_bm_user_root(g))
		return 0; /* roots are never deleted */
	has_p = ds_bm_real_pending(b, g, &p);
	if (has_p < 0)
		return has_p;
	rc = OPS(b)->get(S(b), g, &it);
	if (rc == -ENOENT) {
		/* Gone on both sides (or never here): nothing to upload about it. */
		if (has_p)
			rc = OPS(b)->track.forget(S(b), g, p.change_seq);
		else
			rc = 0;
		return rc ? rc : OPS(b)->meta_put(S(b), g, NULL);
	}
	if (rc)
		return rc;
	if (it.kind != DS_BM_FOLDER && has_p && !p.deleted) {
		/* Changed here, deleted there: the change wins and goes back up with its folder,
		 * which the other device's folder record no longer lists. */
		rc = ds_bm_log_change(b, it.parent);
		ds_bookmark_item_clear(&it);
		return rc;
	}
	if (it.kind == DS_BM_FOLDER || it.kind == DS_BM_LIVEMARK)
		rc = delete_folder(b, g, it.parent, 0);
	else
		rc = OPS(b)->remove(S(b), g);
	if (rc == 0 && has_p)
		rc = OPS(b)->track.forget(S(b), g, p.change_seq);
	if (rc == 0)
		rc = OPS(b)->meta_put(S(b), g, NULL);
	if (rc == 0)
		rc = ds_bm_flag(b, it.parent, DS_BM_NEEDS_ORDER);
	ds_bookmark_item_clear(&it);
	return rc;
}

/* ---- remote records --------------------------------------------------------------------- */

/* Whether a folder's children as the server last had them (a JSON list of ids) hold id. Ids that
 * JSON would escape are never found: their folders fall back to the time rule below. */
static bool listed(const char *json, const char *id)
{
	size_t n = strlen(id);

	for (const char *p = json && n ? strstr(json, id) : NULL; p; p = strstr(p + 1, id))
		if (p > json && p[-1] == '"' && p[n] == '"')
			return true;
	return false;
}

void ds_bm_prev_clear(struct ds_bm_engine *b)
{
	for (size_t i = 0; i < b->n_prev; i++) {
		ds_free(b->prev[i].guid);
		ds_free(b->prev[i].list);
	}
	ds_free(b->prev);
	b->prev = NULL;
	b->n_prev = b->cap_prev = 0;
}

/* g's children as the server had them before this sync: kept when this sync replaced them,
 * else current (what the store holds). */
static const char *prev_list(const struct ds_bm_engine *b, const char *g, const char *current)
{
	for (size_t i = 0; i < b->n_prev; i++)
		if (!strcmp(b->prev[i].guid, g))
			return b->prev[i].list;
	return current;
}

/* Keeps was (taken over, may be NULL) as g's list from before this sync, unless one is kept. */
static int prev_keep(struct ds_bm_engine *b, const char *g, char *was)
{
	for (size_t i = 0; i < b->n_prev; i++)
		if (!strcmp(b->prev[i].guid, g)) {
			ds_free(was);
			return 0;
		}
	if (b->n_prev == b->cap_prev) {
		size_t cap = b->cap_prev ? 2 * b->cap_prev : 16;
		struct ds_bm_prev *v = ds_realloc(b->prev, cap * sizeof(*v));

		if (!v) {
			ds_free(was);
			return -ENOMEM;
		}
		b->prev = v;
		b->cap_prev = cap;
	}
	b->prev[b->n_prev].guid = ds_strdup(g);
	if (!b->prev[b->n_prev].guid) {
		ds_free(was);
		return -ENOMEM;
	}
	b->prev[b->n_prev++].list = was;
	return 0;
}

/*
 * Folder g's record (server time remote_ms) lists c, which is elsewhere here: does c stay
 * where it is? dogear's structure rule (src/merge.rs, resolve_structure_conflict): if only one
 * side changed where c is, that side wins; if both did, the newer. Who moved c is read from
 * the folders' children as the server last had them here (`was`: g's list before this record;
 * the list of c's folder here): g listed c already, so the server did not move it and this
 * device did; c's folder here lists it, so this device did not move it and the server did.
 * Otherwise both did (or a side never synced): c was moved here when both c and its folder
 * carry a local change from before this sync (a move logs the item and both folders; changes
 * the merge itself logged in this sync do not count), and the local move wins when it is newer
 * than the record; a first sync's marks (time 0) never do.
 */
static int local_move_wins(struct ds_bm_engine *b, const char *g, const char *c, int64_t remote_ms,
			   const char *was)
{
	char parent[DS_BROWSER_ID_MAX];
	enum ds_bookmark_kind k;
	struct ds_pending_info pc, pp;
	struct ds_bookmark_meta m;
	bool stayed;
	int rc = OPS(b)->locate(S(b), c, parent, &k);

	if (rc)
		return rc == -ENOENT ? 0 : rc;
	if (!strcmp(parent, g))
		return 0; /* where the record says: nothing to settle */
	if (listed(was, c))
		return 1;
	rc = OPS(b)->meta_get(S(b), parent, &m);
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	stayed = listed(prev_list(b, parent, m.remote_children), c);
	ds_bookmark_meta_clear(&m);
	if (stayed)
		return 0;
	rc = ds_bm_real_pending(b, c, &pc);
	if (rc <= 0 || pc.deleted || (b->fetch_seq_known && pc.change_seq > b->fetch_seq))
		return rc < 0 ? rc : 0;
	rc = ds_bm_real_pending(b, parent, &pp);
	if (rc <= 0 || pp.deleted || (b->fetch_seq_known && pp.change_seq > b->fetch_seq))
		return rc < 0 ? rc : 0;
	return pc.modified_ms > remote_ms ? 1 : 0;
}

/* A folder record: its children list is the structure. */
static int apply_children(struct ds_bm_engine *b, const char *g,
			  const struct ds_bookmark_record *rec, bool remote_wins, int64_t remote_ms)
{
	struct ds_bookmark_meta m;
	struct ds_bm_glist l = { rec->children, rec->n_children, rec->n_children }, w;
	char *was;
	int rc2, rc = OPS(b)->meta_get(S(b), g, &m);

	if (rc)
		return rc;
	was = m.remote_children; /* the server's list before this record: who moved what */
	m.remote_children = NULL;
	rc = ds_bm_glist_json(&l, &m.remote_children);
	m.flags |= DS_BM_NEEDS_CHECK | (remote_wins ? DS_BM_NEEDS_ORDER : 0);
	m.synced = true;
	if (rc == 0)
		rc = OPS(b)->meta_put(S(b), g, &m);
	ds_bookmark_meta_clear(&m);
	for (size_t i = 0; rc == 0 && remote_wins && i < rec->n_children; i++) {
		struct ds_pending_info p;
		const char *c = rec->children[i];

		rc = ds_bm_real_pending(b, c, &p);
		if (rc == 1 && p.deleted) {
			rc = 0; /* deleted here: stays deleted unless its own record revives it */
			continue;
		}
		if (rc < 0)
			break;
		if (ds_bm_exists(b, c)) {
			/* Here already, maybe elsewhere: the folder's list says where it is, unless
			 * this device moved it since, later than that list was written. Then the
			 * folder goes back up without it (and its new folder, changed here, too). */
			rc = local_move_wins(b, g, c, remote_ms, prev_list(b, g, was));
			if (rc == 1)
				rc = ds_bm_log_change(b, g);
			else if (rc == 0)
				rc = ds_bm_adopt(b, c, g);
		} else {
			/* Not here yet: its record will find its folder through this. */
			rc = ds_bm_set_want(b, c, g);
		}
	}
	rc2 = prev_keep(b, g, was);
	if (rc == 0)
		rc = rc2;
	if (rc)
		return rc;
	/* Items that arrived before this folder and waited in unfiled. */
	rc = ds_bm_list(b, DS_BM_LIST_WANTING, g, &w);
	for (size_t i = 0; rc == 0 && i < w.n; i++)
		rc = ds_bm_adopt(b, w.v[i], g);
	ds_bm_glist_free(&w);
	return rc;
}

int ds_bm_apply_record(struct ds_bm_engine *b, const char *g, const struct ds_record *r)
{
	struct ds_bookmark_record rec;
	struct ds_bookmark_item loc, *it = &rec.item;
	struct ds_pending_info p;
	struct ds_bookmark_meta m;
	char parent[DS_BROWSER_ID_MAX], want[DS_BROWSER_ID_MAX];
	enum parent_state pst = P_FOUND;
	bool root = ds_bm_user_root(g), remote_wins = true, have_local, container;
	int has_p, rc;

	rc = ds_bookmarks_decode(r->id, r->payload, &rec);
	if (rc)
		return rc;

	memset(&loc, 0, sizeof(loc));
	memset(&m, 0, sizeof(m));
	if (root && it->kind != DS_BM_FOLDER) {
		rc = -EBADMSG;
		goto out;
	}
	rc = has_p = ds_bm_real_pending(b, g, &p);
	if (rc < 0)
		goto out;
	rc = OPS(b)->get(S(b), g, &loc);
	if (rc && rc != -ENOENT)
		goto out;
	have_local = rc == 0;
	rc = 0;
	/* An item that holds no children, here or in the record, cannot be an ancestor of its
	 * parent: no cycle walk for it. */
	container = it->kind == DS_BM_FOLDER || it->kind == DS_BM_LIVEMARK ||
		    (have_local && (loc.kind == DS_BM_FOLDER || loc.kind == DS_BM_LIVEMARK));
	if (!have_local && has_p && p.deleted) {
		if (it->kind == DS_BM_FOLDER)
			goto out; /* a folder deleted here stays deleted (dogear) */
		/* A non-folder deleted here and changed there comes back. */
		rc = OPS(b)->track.forget(S(b), g, p.change_seq);
		has_p = 0;
		if (rc)
			goto out;
	}
	rc = OPS(b)->meta_get(S(b), g, &m);
	if (rc)
		goto out;
	/* A folder's children list that named g (want_parent) places it, if that folder is here;
	 * else the record's own parentid, which is newer than a parent g waited for in vain. */
	snprintf(want, sizeof(want), "%s", m.want_parent[0] ? m.want_parent : it->parent);
	if (!root) {
		rc = resolve_parent(b, g, container, want, parent, &pst);
		if (rc == 0 && pst != P_FOUND && m.want_parent[0] &&
		    strcmp(m.want_parent, it->parent) != 0) {
			snprintf(want, sizeof(want), "%s", it->parent);
			rc = resolve_parent(b, g, container, want, parent, &pst);
		}
		if (rc)
			goto out;
	}
	if (!have_local && !root && pst == P_FOUND) {
		/* A new local item with this content in this folder is this item (U1). */
		char dupe[DS_BROWSER_ID_MAX];
		struct ds_bookmark_item probe = *it;

		snprintf(probe.parent, sizeof(probe.parent), "%s", parent);
		if (OPS(b)->find_dupe(S(b), &probe, dupe) == 0) {
			rc = OPS(b)->set_guid(S(b), dupe, g);
			if (rc == 0)
				rc = OPS(b)->get(S(b), g, &loc);
			if (rc)
				goto out;
			have_local = true;
			has_p = ds_bm_real_pending(b, g, &p);
			if (has_p < 0) {
				rc = has_p;
				goto out;
			}
			p.modified_ms = 0; /* the server's version names it */
		}
	}
	if (have_local && has_p && !p.deleted && p.modified_ms > r->modified_ms)
		remote_wins = false; /* changed here after the server's version: ours goes up */
	if (!root && (remote_wins || !have_local)) {
		if (pst == P_ORPHAN) {
			snprintf(m.want_parent, sizeof(m.want_parent), "%s", want);
		} else {
			m.want_parent[0] = '\0';
			/* Not where the record said: upload where it is now. */
			if (pst != P_FOUND || strcmp(parent, it->parent) != 0 || !rec.has_parent) {
				rc = ds_bm_log_change(b, g);
				if (rc == 0)
					rc = ds_bm_log_change(b, parent);
				if (rc)
					goto out;
			}
		}
		if (have_local && (loc.kind == DS_BM_FOLDER) != (it->kind == DS_BM_FOLDER)) {
			/* A folder became a bookmark or the reverse: its children stay, one level up. */
			struct ds_bm_glist ch;

			rc = ds_bm_list(b, DS_BM_LIST_CHILDREN, g, &ch);
			for (size_t i = 0; rc == 0 && i < ch.n; i++) {
				struct ds_bookmark_item c;

				rc = OPS(b)->get(S(b), ch.v[i], &c);
				if (rc == 0)
					rc = ds_bm_move_item(b, &c, loc.parent);
				if (rc == 0)
					rc = ds_bm_log_change(b, ch.v[i]);
				ds_bookmark_item_clear(&c);
			}
			ds_bm_glist_free(&ch);
			if (rc == 0)
				rc = ds_bm_log_change(b, loc.parent);
			if (rc)
				goto out;
		}
		snprintf(it->parent, sizeof(it->parent), "%s", parent);
		/* The older dateAdded is the true one (desktop and AS keep the earliest). */
		if (have_local && loc.date_added_ms > 0 &&
		    (it->date_added_ms == 0 || loc.date_added_ms < it->date_added_ms))
			it->date_added_ms = loc.date_added_ms;
		rc = OPS(b)->put(S(b), it);
		if (rc == 0 && have_local && strcmp(loc.parent, parent) != 0)
			rc = ds_bm_flag(b, loc.parent, DS_BM_NEEDS_ORDER | DS_BM_NEEDS_CHECK);
		if (rc == 0)
			rc = ds_bm_flag(b, parent, DS_BM_NEEDS_ORDER | DS_BM_NEEDS_CHECK);
		if (rc == 0)
			rc = ds_browser_unknown_keep(&OPS(b)->track, S(b), g, r->payload,
						     ds_bookmarks_known_fields(r->payload));
		if (rc)
			goto out;
	}
	/* put() may have created the meta row (kind): merge into it. */
	{
		struct ds_bookmark_meta cur;

		rc = OPS(b)->meta_get(S(b), g, &cur);
		if (rc)
			goto out;
		cur.synced = true;
		cur.flags |= DS_BM_NEEDS_CHECK;
		snprintf(cur.want_parent, sizeof(cur.want_parent), "%s", m.want_parent);
		ds_free(cur.server_payload);
		cur.server_payload = ds_strdup(r->payload);
		rc = cur.server_payload ? OPS(b)->meta_put(S(b), g, &cur) : -ENOMEM;
		ds_bookmark_meta_clear(&cur);
		if (rc)
			goto out;
	}
	if (it->kind == DS_BM_FOLDER) {
		rc = apply_children(b, g, &rec, remote_wins || !have_local, r->modified_ms);
		if (rc)
			goto out;
	}
	if (has_p && remote_wins)
		rc = OPS(b)->track.forget(S(b), g, p.change_seq);
out:
	ds_bookmark_meta_clear(&m);
	ds_bookmark_item_clear(&loc);
	ds_bookmark_record_clear(&rec);
	return rc;
}
