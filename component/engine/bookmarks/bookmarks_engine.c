/*
 * The bookmarks engine: Firefox Sync bookmark records (v2) over a struct ds_bookmarks_store,
 * with a tree merge (docs/engine-bookmarks.md).
 *
 * The sync core reconciles one record at a time; a bookmark tree needs more (a folder and its
 * children arrive as separate records, in any order, across pages). So this engine takes every
 * decision itself: inside the page transaction its pending() answers "no local change", which
 * makes the core hand every remote record to apply(), and apply() looks the local change up in
 * the store and follows the rules of application-services' merger (mozilla/dogear src/merge.rs,
 * AS places/src/bookmark_sync/engine.rs), record by record:
 *  - a record for an item changed on both sides: the newer change wins (the local change's time
 *    against the server's); a first sync's marked items (time 0) lose to the server;
 *  - a remote change revives a non-folder deleted here; a folder deleted here stays deleted and
 *    its remote children that come back go to its nearest surviving ancestor (dogear
 *    "check_for_local_structure_change_of_remote_node");
 *  - a remote deletion of a non-folder changed here is ignored (the local change is uploaded);
 *    of a folder it wins, and its descendants that are new or changed here move to the folder's
 *    parent ("relocate_remote_orphans_to_merged_node");
 *  - a new local item (never synced) with the same parent and content as an incoming one takes
 *    the incoming guid instead of becoming a duplicate (dogear "find_all_matching_dupes_in_folders");
 *  - an item whose parent has not arrived is parked in unfiled and moved when it does; a parent
 *    that is missing for good, not a folder, or a cycle leaves it in unfiled, uploaded there.
 * A folder's children list is the structure (dogear builds the remote tree from children);
 * folders touched by a page are put in the remote order at commit, local-only children after.
 * Before the first upload after a fetch, folders whose local children differ from the remote
 * list (invalid or diverged remote structure, local additions) are logged, so the merged tree
 * goes back to the server.
 */
#define DS_LOG_TAG "bookmarks"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "ds_port.h"
#include "engine/bookmarks/ds_bookmarks.h"
#include "engine/browser/ds_browser_engine.h"
#include "sync/ds_sync.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

struct bm_engine {
	struct ds_engine e;
	struct ds_bookmarks_store *store;
	struct ds_bookmarks_options opt;
	bool in_txn;   /* between begin and commit/rollback */
	bool applied;  /* a remote record was applied in this transaction */
};

static struct bm_engine *B(struct ds_engine *e)
{
	return DS_CONTAINER_OF(e, struct bm_engine, e);
}

static void *S(struct bm_engine *b)
{
	return b->store->priv;
}

static const struct ds_bookmarks_store_ops *OPS(struct bm_engine *b)
{
	return b->store->ops;
}

static int64_t now_ms(struct bm_engine *b)
{
	return b->opt.now_ms ? b->opt.now_ms(b->opt.now_user_data) : ds_port_wall_ms();
}

static bool user_root(const char *g)
{
	return ds_bookmarks_is_root(g) && strcmp(g, DS_BM_ROOT_PLACES) != 0 &&
	       strcmp(g, DS_BM_ROOT_TAGS) != 0;
}

/* ---- small helpers ---------------------------------------------------------------------- */

struct glist {
	char (*v)[DS_BROWSER_ID_MAX];
	size_t n, cap;
};

static int glist_add(const char *g, void *user_data)
{
	struct glist *l = user_data;

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

static void glist_free(struct glist *l)
{
	ds_free(l->v);
	memset(l, 0, sizeof(*l));
}

static int list(struct bm_engine *b, enum ds_bookmarks_list which, const char *arg, struct glist *l)
{
	memset(l, 0, sizeof(*l));
	return OPS(b)->list(S(b), which, arg, glist_add, l);
}

/* The JSON array text of a list of guids. */
static int glist_json(const struct glist *l, char **out)
{
	cJSON *a = cJSON_CreateArray();
	char *t;

	*out = NULL;
	if (!a)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++) {
		cJSON *s = cJSON_CreateString(l->v[i]);

		if (!s || !cJSON_AddItemToArray(a, s)) {
			cJSON_Delete(s);
			cJSON_Delete(a);
			return -ENOMEM;
		}
	}
	t = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	*out = t ? ds_strdup(t) : NULL;
	cJSON_free(t);
	return *out ? 0 : -ENOMEM;
}

static int json_glist(const char *text, struct glist *l)
{
	cJSON *a = cJSON_Parse(text), *c;
	int rc = 0;

	memset(l, 0, sizeof(*l));
	cJSON_ArrayForEach(c, a) {
		if (cJSON_IsString(c) && strlen(c->valuestring) < DS_BROWSER_ID_MAX &&
		    (rc = glist_add(c->valuestring, l)) != 0)
			break;
	}
	cJSON_Delete(a);
	return rc;
}

static int real_pending(struct bm_engine *b, const char *g, struct ds_pending_info *p)
{
	int rc = OPS(b)->track.pending(S(b), g, p);

	return rc == -ENOENT ? 0 : rc < 0 ? rc : 1;
}

static int forget_pending(struct bm_engine *b, const char *g)
{
	struct ds_pending_info p;
	int rc = real_pending(b, g, &p);

	return rc <= 0 ? rc : OPS(b)->track.forget(S(b), g, p.change_seq);
}

static int log_change(struct bm_engine *b, const char *g)
{
	if (!g[0] || strcmp(g, DS_BM_ROOT_PLACES) == 0 || strcmp(g, DS_BM_ROOT_TAGS) == 0)
		return 0;
	/* Without a test clock, the store stamps it with the clock of the browser's own changes. */
	return OPS(b)->log_change(S(b), g, b->opt.now_ms ? now_ms(b) : 0);
}

static int flag(struct bm_engine *b, const char *g, unsigned flags)
{
	struct ds_bookmark_meta m;
	int rc;

	if (!g[0] || strcmp(g, DS_BM_ROOT_PLACES) == 0)
		return 0;
	rc = OPS(b)->meta_get(S(b), g, &m);
	if (rc == 0 && (m.flags & flags) != flags) {
		m.flags |= flags;
		rc = OPS(b)->meta_put(S(b), g, &m);
	}
	ds_bookmark_meta_clear(&m);
	return rc;
}

static bool exists(struct bm_engine *b, const char *g)
{
	char parent[DS_BROWSER_ID_MAX];
	enum ds_bookmark_kind k;

	return OPS(b)->locate(S(b), g, parent, &k) == 0;
}

static int set_want(struct bm_engine *b, const char *g, const char *want)
{
	struct ds_bookmark_meta m;
	int rc = OPS(b)->meta_get(S(b), g, &m);

	if (rc == 0 && strcmp(m.want_parent, want) != 0) {
		snprintf(m.want_parent, sizeof(m.want_parent), "%s", want);
		rc = OPS(b)->meta_put(S(b), g, &m);
	}
	ds_bookmark_meta_clear(&m);
	return rc;
}

/* Is anc an ancestor of (or equal to) g? Walks at most DS_BM_MAX_DEPTH levels. */
static int is_ancestor(struct bm_engine *b, const char *anc, const char *g)
{
	char cur[DS_BROWSER_ID_MAX];

	snprintf(cur, sizeof(cur), "%s", g);
	for (int depth = 0; depth < DS_BM_MAX_DEPTH && cur[0]; depth++) {
		enum ds_bookmark_kind k;
		int rc;

		if (strcmp(cur, anc) == 0)
			return 1;
		rc = OPS(b)->locate(S(b), cur, cur, &k);
		if (rc == -ENOENT)
			return 0;
		if (rc)
			return rc;
	}
	return 0;
}

enum parent_state { P_FOUND, P_ORPHAN, P_INVALID, P_RELOCATED };

/*
 * Where item g goes when its remote parent is want: the folder itself (P_FOUND); its nearest
 * surviving ancestor when the folder was deleted here (P_RELOCATED); unfiled while the folder
 * has not arrived (P_ORPHAN) or for good when want is no folder, g itself or g's descendant
 * (P_INVALID).
 */
static int resolve_parent(struct bm_engine *b, const char *g, bool container, const char *want,
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
			rc = container ? is_ancestor(b, g, cur) : 0;
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
		rc = real_pending(b, cur, &p);
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

/* Move item g (it, already read) into folder, keeping its content. */
static int move_item(struct bm_engine *b, struct ds_bookmark_item *it, const char *folder)
{
	char old[DS_BROWSER_ID_MAX];
	int rc;

	if (strcmp(it->parent, folder) == 0)
		return 0;
	snprintf(old, sizeof(old), "%s", it->parent);
	snprintf(it->parent, sizeof(it->parent), "%s", folder);
	rc = OPS(b)->put(S(b), it);
	if (rc == 0)
		rc = flag(b, old, DS_BM_NEEDS_ORDER | DS_BM_NEEDS_CHECK);
	if (rc == 0)
		rc = flag(b, folder, DS_BM_NEEDS_ORDER | DS_BM_NEEDS_CHECK);
	return rc;
}

/* Drop an item that was never synced, without a tombstone (the server never had it). */
static int drop_unsynced(struct bm_engine *b, const char *g)
{
	int rc = OPS(b)->remove(S(b), g);

	if (rc == -ENOTEMPTY)
		return 0; /* a container with items of its own: kept, it is not only a twin */
	if (rc == 0)
		rc = forget_pending(b, g);
	if (rc == 0)
		rc = OPS(b)->meta_put(S(b), g, NULL);
	return rc;
}

/*
 * Remote folder f (arrived before its parent, so it was not deduplicated then) meets dupe, a
 * new local folder with its title in the same parent: they are one folder made on two devices
 * before their first sync (U1). f's children move into dupe, each one taking over its own new
 * local twin there (recursively for folders); then dupe takes f's guid and f's sync state.
 */
static int merge_into_dupe(struct bm_engine *b, const char *f, const char *dupe, int depth)
{
	struct glist ch;
	int rc = list(b, DS_BM_LIST_CHILDREN, f, &ch);

	for (size_t i = 0; rc == 0 && i < ch.n; i++) {
		struct ds_bookmark_item it;
		char twin[DS_BROWSER_ID_MAX];

		rc = OPS(b)->get(S(b), ch.v[i], &it);
		if (rc)
			break;
		snprintf(it.parent, sizeof(it.parent), "%s", dupe);
		rc = OPS(b)->put(S(b), &it);
		if (rc == 0 && OPS(b)->find_dupe(S(b), &it, twin) == 0) {
			if (it.kind != DS_BM_FOLDER)
				rc = drop_unsynced(b, twin);
			else if (depth < DS_BM_MAX_DEPTH)
				rc = merge_into_dupe(b, it.guid, twin, depth + 1);
		}
		ds_bookmark_item_clear(&it);
	}
	glist_free(&ch);
	if (rc == 0)
		rc = OPS(b)->remove(S(b), f);
	if (rc == 0)
		rc = OPS(b)->set_guid(S(b), dupe, f);
	if (rc == 0)
		rc = flag(b, f, DS_BM_NEEDS_ORDER | DS_BM_NEEDS_CHECK);
	return rc;
}

/* Remote item g belongs in folder: a new local item with its content there is the same item
 * made on this device before the first sync, and goes into it (U1). */
static int adopt(struct bm_engine *b, const char *g, const char *folder)
{
	struct ds_bookmark_item it, probe;
	struct ds_bookmark_meta m;
	char dupe[DS_BROWSER_ID_MAX];
	bool server_agrees;
	int rc = OPS(b)->get(S(b), g, &it);

	if (rc)
		return rc == -ENOENT ? 0 : rc;
	if (strcmp(it.parent, folder) == 0)
		goto out;
	/* The server's record of g names this folder only if g waited for it. */
	rc = OPS(b)->meta_get(S(b), g, &m);
	server_agrees = strcmp(m.want_parent, folder) == 0;
	ds_bookmark_meta_clear(&m);
	if (rc == 0 && !server_agrees)
		rc = log_change(b, g);
	if (rc)
		goto out;
	/* Only a folder can hold its own parent (a cycle). */
	rc = it.kind == DS_BM_FOLDER || it.kind == DS_BM_LIVEMARK ? is_ancestor(b, g, folder) : 0;
	if (rc != 0) {
		rc = rc < 0 ? rc : flag(b, folder, DS_BM_NEEDS_CHECK);
		goto out;
	}
	probe = it;
	snprintf(probe.parent, sizeof(probe.parent), "%s", folder);
	if (OPS(b)->find_dupe(S(b), &probe, dupe) == 0) {
		if (it.kind == DS_BM_FOLDER) {
			rc = merge_into_dupe(b, g, dupe, 0);
			if (rc == 0)
				rc = flag(b, it.parent, DS_BM_NEEDS_ORDER | DS_BM_NEEDS_CHECK);
			if (rc == 0)
				rc = flag(b, folder, DS_BM_NEEDS_ORDER | DS_BM_NEEDS_CHECK);
			goto out;
		}
		rc = drop_unsynced(b, dupe);
		if (rc)
			goto out;
	}
	rc = move_item(b, &it, folder);
out:
	if (rc == 0)
		rc = set_want(b, g, "");
	ds_bookmark_item_clear(&it);
	return rc;
}

/* ---- remote deletions ------------------------------------------------------------------- */

/* Does g survive the remote deletion of its folder? New here, or changed here (dogear). */
static int survives(struct bm_engine *b, const char *g)
{
	struct ds_bookmark_meta m;
	struct ds_pending_info p;
	int rc = real_pending(b, g, &p);

	if (rc < 0)
		return rc;
	if (rc == 1 && !p.deleted)
		return 1;
	rc = OPS(b)->meta_get(S(b), g, &m);
	ds_bookmark_meta_clear(&m);
	return rc < 0 ? rc : !m.synced;
}

static int delete_folder(struct bm_engine *b, const char *f, const char *target, int depth)
{
	struct glist ch;
	int rc = list(b, DS_BM_LIST_CHILDREN, f, &ch);

	for (size_t i = 0; rc == 0 && i < ch.n; i++) {
		struct ds_bookmark_item it;

		rc = OPS(b)->get(S(b), ch.v[i], &it);
		if (rc)
			break;
		rc = depth >= DS_BM_MAX_DEPTH ? 1 : survives(b, ch.v[i]);
		if (rc == 1) {
			/* Kept: it moves up, and both it and its new folder go to the server. */
			rc = move_item(b, &it, target);
			if (rc == 0)
				rc = log_change(b, it.guid);
			if (rc == 0)
				rc = log_change(b, target);
		} else if (rc == 0 && (it.kind == DS_BM_FOLDER || it.kind == DS_BM_LIVEMARK)) {
			rc = delete_folder(b, it.guid, target, depth + 1);
		} else if (rc == 0) {
			rc = OPS(b)->remove(S(b), it.guid);
			if (rc == 0)
				rc = forget_pending(b, it.guid);
			if (rc == 0)
				rc = OPS(b)->meta_put(S(b), it.guid, NULL);
		}
		ds_bookmark_item_clear(&it);
	}
	glist_free(&ch);
	if (rc == 0)
		rc = OPS(b)->remove(S(b), f);
	if (rc == 0)
		rc = forget_pending(b, f);
	if (rc == 0)
		rc = OPS(b)->meta_put(S(b), f, NULL);
	return rc;
}

static int apply_tombstone(struct bm_engine *b, const char *g)
{
	struct ds_bookmark_item it;
	struct ds_pending_info p;
	int has_p, rc;

	if (user_root(g))
		return 0; /* roots are never deleted */
	has_p = real_pending(b, g, &p);
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
		rc = log_change(b, it.parent);
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
		rc = flag(b, it.parent, DS_BM_NEEDS_ORDER);
	ds_bookmark_item_clear(&it);
	return rc;
}

/* ---- remote records --------------------------------------------------------------------- */

/* A folder record: its children list is the structure. */
static int apply_children(struct bm_engine *b, const char *g, const struct ds_bookmark_record *rec,
			  bool remote_wins)
{
	struct ds_bookmark_meta m;
	struct glist l = { rec->children, rec->n_children, rec->n_children }, w;
	int rc = OPS(b)->meta_get(S(b), g, &m);

	if (rc)
		return rc;
	ds_free(m.remote_children);
	m.remote_children = NULL;
	rc = glist_json(&l, &m.remote_children);
	m.flags |= DS_BM_NEEDS_CHECK | (remote_wins ? DS_BM_NEEDS_ORDER : 0);
	m.synced = true;
	if (rc == 0)
		rc = OPS(b)->meta_put(S(b), g, &m);
	ds_bookmark_meta_clear(&m);
	for (size_t i = 0; rc == 0 && remote_wins && i < rec->n_children; i++) {
		struct ds_pending_info p;
		const char *c = rec->children[i];

		rc = real_pending(b, c, &p);
		if (rc == 1 && p.deleted) {
			rc = 0; /* deleted here: stays deleted unless its own record revives it */
			continue;
		}
		if (rc < 0)
			break;
		if (exists(b, c)) {
			/* Here already, maybe elsewhere: the folder's list says where it is. */
			rc = adopt(b, c, g);
		} else {
			/* Not here yet: its record will find its folder through this. */
			rc = set_want(b, c, g);
		}
	}
	if (rc)
		return rc;
	/* Items that arrived before this folder and waited in unfiled. */
	rc = list(b, DS_BM_LIST_WANTING, g, &w);
	for (size_t i = 0; rc == 0 && i < w.n; i++)
		rc = adopt(b, w.v[i], g);
	glist_free(&w);
	return rc;
}

static int apply_record(struct bm_engine *b, const char *g, const struct ds_record *r)
{
	struct ds_bookmark_record rec;
	struct ds_bookmark_item loc, *it = &rec.item;
	struct ds_pending_info p;
	struct ds_bookmark_meta m;
	char parent[DS_BROWSER_ID_MAX], want[DS_BROWSER_ID_MAX];
	enum parent_state pst = P_FOUND;
	bool root = user_root(g), remote_wins = true, have_local, container;
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
	rc = has_p = real_pending(b, g, &p);
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
			has_p = real_pending(b, g, &p);
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
				rc = log_change(b, g);
				if (rc == 0)
					rc = log_change(b, parent);
				if (rc)
					goto out;
			}
		}
		if (have_local && (loc.kind == DS_BM_FOLDER) != (it->kind == DS_BM_FOLDER)) {
			/* A folder became a bookmark or the reverse: its children stay, one level up. */
			struct glist ch;

			rc = list(b, DS_BM_LIST_CHILDREN, g, &ch);
			for (size_t i = 0; rc == 0 && i < ch.n; i++) {
				struct ds_bookmark_item c;

				rc = OPS(b)->get(S(b), ch.v[i], &c);
				if (rc == 0)
					rc = move_item(b, &c, loc.parent);
				if (rc == 0)
					rc = log_change(b, ch.v[i]);
				ds_bookmark_item_clear(&c);
			}
			glist_free(&ch);
			if (rc == 0)
				rc = log_change(b, loc.parent);
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
			rc = flag(b, loc.parent, DS_BM_NEEDS_ORDER | DS_BM_NEEDS_CHECK);
		if (rc == 0)
			rc = flag(b, parent, DS_BM_NEEDS_ORDER | DS_BM_NEEDS_CHECK);
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
		rc = apply_children(b, g, &rec, remote_wins || !have_local);
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

/* ---- structure: at a page's commit and before an upload --------------------------------- */

static int current(struct bm_engine *b, const char *g, struct ds_record *out, bool must_exist);

/* Folders touched by the page: children in the remote order, local-only ones after. */
static int order_folders(struct bm_engine *b)
{
	struct glist f;
	int rc = list(b, DS_BM_LIST_UNORDERED, NULL, &f);

	for (size_t i = 0; rc == 0 && i < f.n; i++) {
		struct ds_bookmark_meta m;
		struct glist want = { 0 };

		rc = OPS(b)->meta_get(S(b), f.v[i], &m);
		if (rc || !(m.flags & DS_BM_NEEDS_ORDER)) {
			ds_bookmark_meta_clear(&m);
			continue;
		}
		if (m.remote_children)
			rc = json_glist(m.remote_children, &want);
		if (rc == 0)
			rc = OPS(b)->order(S(b), f.v[i], want.v, want.n);
		glist_free(&want);
		m.flags &= ~DS_BM_NEEDS_ORDER;
		if (rc == 0)
			rc = OPS(b)->meta_put(S(b), f.v[i], &m);
		ds_bookmark_meta_clear(&m);
	}
	glist_free(&f);
	return rc;
}

static bool same_list(const struct glist *a, const struct glist *c)
{
	if (a->n != c->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], c->v[i]) != 0)
			return false;
	return true;
}

/* Two records say the same (parentName is the sender's view of the parent's title). */
static bool same_record(const char *a, const char *c)
{
	cJSON *x = cJSON_Parse(a), *y = cJSON_Parse(c);
	bool eq;

	cJSON_DeleteItemFromObjectCaseSensitive(x, "parentName");
	cJSON_DeleteItemFromObjectCaseSensitive(y, "parentName");
	eq = x && y && cJSON_Compare(x, y, 1);
	cJSON_Delete(x);
	cJSON_Delete(y);
	return eq;
}

/* A local change that ends up equal to what the server holds (the merge took it, or both
 * devices made the same edit) has nothing to upload. */
static int settle(struct bm_engine *b, const char *g, const struct ds_bookmark_meta *m)
{
	struct ds_pending_info p;
	struct ds_record cur;
	int rc;

	if (!m->server_payload)
		return 0;
	rc = real_pending(b, g, &p);
	if (rc <= 0 || p.deleted)
		return rc;
	rc = current(b, g, &cur, true);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (same_record(cur.payload, m->server_payload))
		rc = OPS(b)->track.forget(S(b), g, p.change_seq);
	ds_record_clear(&cur);
	return rc;
}

/*
 * After a fetch, before uploading: items still parked have no parent on the server and go up
 * in unfiled; folders whose children differ from the server's list go up with the merged list
 * (dogear: "the remote tree was invalid or diverged: reupload").
 */
/* Items per local transaction outside the core's chunks (the structure pass, a re-import):
 * the core's own bound, so the browser never waits for more than one chunk's work. */
#define BM_LOCAL_CHUNK CONFIG_DS_SYNC_APPLY_CHUNK

/* Commit and go on in a new transaction every BM_LOCAL_CHUNK items. Each item's step stands
 * on its own (its flags are cleared with its result), so a pass cut between two chunks
 * resumes with what is left at the next upload. */
static int chunk_point(struct bm_engine *b, size_t *done)
{
	int rc;

	if (++*done % BM_LOCAL_CHUNK != 0)
		return 0;
	rc = OPS(b)->track.commit(S(b));
	return rc ? rc : OPS(b)->track.begin(S(b));
}

static int check_structure(struct bm_engine *b)
{
	struct glist parked, f;
	size_t done = 0;
	int rc = list(b, DS_BM_LIST_PARKED, NULL, &parked);

	if (rc == 0 && parked.n == 0) {
		glist_free(&parked);
		rc = list(b, DS_BM_LIST_FLAGGED, NULL, &f);
		if (rc == 0 && f.n == 0) {
			glist_free(&f);
			return 0;
		}
		glist_free(&f);
		rc = list(b, DS_BM_LIST_PARKED, NULL, &parked);
	}
	if (rc)
		return rc;
	rc = OPS(b)->track.begin(S(b));
	if (rc) {
		glist_free(&parked);
		return rc;
	}
	for (size_t i = 0; rc == 0 && i < parked.n; i++) {
		struct ds_bookmark_item it;

		rc = chunk_point(b, &done);
		if (rc)
			break;

		if (OPS(b)->get(S(b), parked.v[i], &it) == 0) {
			rc = log_change(b, it.guid);
			if (rc == 0)
				rc = log_change(b, it.parent);
			ds_bookmark_item_clear(&it);
		}
		if (rc == 0)
			rc = set_want(b, parked.v[i], "");
	}
	glist_free(&parked);
	if (rc == 0)
		rc = list(b, DS_BM_LIST_FLAGGED, NULL, &f);
	for (size_t i = 0; rc == 0 && i < f.n; i++) {
		struct ds_bookmark_meta m;
		struct glist remote = { 0 }, local = { 0 };

		rc = chunk_point(b, &done);
		if (rc)
			break;
		rc = OPS(b)->meta_get(S(b), f.v[i], &m);
		if (rc == 0 && (m.flags & DS_BM_NEEDS_CHECK))
			rc = settle(b, f.v[i], &m);
		if (rc == 0 && (m.flags & DS_BM_NEEDS_CHECK) && m.remote_children) {
			rc = json_glist(m.remote_children, &remote);
			if (rc == 0)
				rc = list(b, DS_BM_LIST_CHILDREN, f.v[i], &local);
			if (rc == 0 && !same_list(&remote, &local) && exists(b, f.v[i]))
				rc = log_change(b, f.v[i]);
		}
		glist_free(&remote);
		glist_free(&local);
		m.flags = 0;
		if (rc == 0)
			rc = OPS(b)->meta_put(S(b), f.v[i], &m);
		ds_bookmark_meta_clear(&m);
	}
	glist_free(&f);
	if (rc == 0)
		return OPS(b)->track.commit(S(b));
	OPS(b)->track.rollback(S(b));
	return rc;
}

/* ---- engine ops ------------------------------------------------------------------------- */

static int apply_record(struct bm_engine *b, const char *g, const struct ds_record *r);


/*
 * The bookmarks were cleared here (a restore, "delete all"): the store dropped the pending
 * deletions, so nothing goes to the other devices, and the server's tree comes back from the
 * mirror, which holds every record the server has, in bounded transactions.
 */
static int reimport(struct bm_engine *b)
{
	struct glist l;
	int rc = list(b, DS_BM_LIST_MIRRORED, NULL, &l);
	size_t done = 0;

	while (rc == 0 && done < l.n) {
		rc = OPS(b)->track.begin(S(b));
		for (size_t i = done; rc == 0 && i < l.n && i < done + BM_LOCAL_CHUNK; i++) {
			struct ds_bookmark_meta m;
			struct ds_record r = { 0 };

			rc = OPS(b)->meta_get(S(b), l.v[i], &m);
			if (rc || !m.server_payload) {
				ds_bookmark_meta_clear(&m);
				continue;
			}
			r.id = (char *)ds_bookmarks_record_id(l.v[i]);
			r.payload = m.server_payload;
			rc = apply_record(b, l.v[i], &r);
			if (rc == -EBADMSG || rc == -EILSEQ)
				rc = 0;
			ds_bookmark_meta_clear(&m);
		}
		if (rc == 0)
			rc = order_folders(b);
		if (rc == 0)
			rc = OPS(b)->track.commit(S(b));
		else
			OPS(b)->track.rollback(S(b));
		done += BM_LOCAL_CHUNK;
	}
	if (rc == 0 && l.n)
		DS_LOG_INF("bookmarks re-imported from the last sync: %zu records", l.n);
	glist_free(&l);
	return rc;
}

static int b_prepare(struct ds_engine *e)
{
	struct bm_engine *b = B(e);
	int rc = OPS(b)->track.forget_if_cleared ? OPS(b)->track.forget_if_cleared(S(b)) : 0;

	if (rc == 1)
		rc = reimport(b);
	return rc < 0 ? rc : 0;
}

static int b_begin(struct ds_engine *e)
{
	struct bm_engine *b = B(e);
	int rc = OPS(b)->track.begin(S(b));

	b->in_txn = rc == 0;
	b->applied = false;
	return rc;
}

static int b_commit(struct ds_engine *e)
{
	struct bm_engine *b = B(e);
	int rc = b->applied ? order_folders(b) : 0;

	if (rc) {
		OPS(b)->track.rollback(S(b));
		b->in_txn = false;
		return rc;
	}
	rc = OPS(b)->track.commit(S(b));
	b->in_txn = false;
	return rc;
}

static int b_rollback(struct ds_engine *e)
{
	struct bm_engine *b = B(e);

	b->in_txn = false;
	return OPS(b)->track.rollback(S(b));
}

/* The BSO sortindex desktop gives an item (bookmarks.sys.mjs BookmarksStore._calculateIndex):
 * folders first, then by frecency, items of the toolbar a little ahead. Livemarks and
 * separators have no URL; "not computed" (-1) adds nothing; at most 9 digits (apis-1.5). */
static int32_t sortindex_of(const struct ds_bookmark_item *it)
{
	int64_t v = 0;

	if (it->kind == DS_BM_FOLDER)
		return DS_BM_FOLDER_SORTINDEX;
	if (strcmp(it->parent, DS_BM_ROOT_TOOLBAR) == 0)
		v += DS_BM_TOOLBAR_BOOST;
	if ((it->kind == DS_BM_BOOKMARK || it->kind == DS_BM_QUERY) && it->frecency > 0)
		v += it->frecency;
	return v > 999999999 ? 999999999 : (int32_t)v;
}

/* The record of local item g: payload, or a tombstone when it is gone. */
static int current(struct bm_engine *b, const char *g, struct ds_record *out, bool must_exist)
{
	struct ds_bookmark_item it, par;
	struct glist ch = { 0 };
	int rc;

	memset(out, 0, sizeof(*out));
	rc = OPS(b)->get(S(b), g, &it);
	if (rc == -ENOENT && !must_exist) {
		out->deleted = true;
		out->id = ds_strdup(ds_bookmarks_record_id(g));
		return out->id ? 0 : -ENOMEM;
	}
	if (rc)
		return rc;
	if (it.kind == DS_BM_FOLDER)
		rc = list(b, DS_BM_LIST_CHILDREN, g, &ch);
	if (rc == 0) {
		bool named = OPS(b)->get(S(b), it.parent, &par) == 0;

		rc = ds_bookmarks_encode(&it, named ? par.title : NULL, ch.v, ch.n, &out->payload);
		if (named)
			ds_bookmark_item_clear(&par);
	}
	if (rc == 0)
		rc = ds_browser_unknown_load(&OPS(b)->track, S(b), g, &out->payload);
	if (rc == 0 && !(out->id = ds_strdup(ds_bookmarks_record_id(g))))
		rc = -ENOMEM;
	out->sortindex = sortindex_of(&it);
	glist_free(&ch);
	ds_bookmark_item_clear(&it);
	if (rc)
		ds_record_clear(out);
	return rc;
}

/* Inside the page transaction the engine decides (see the top of this file): what get() and
 * pending() answer there only makes the core hand every record to apply(), where the local
 * state and change are looked up. Outside it, they tell the truth. */
static int b_get(struct ds_engine *e, const char *id, struct ds_record *out)
{
	struct bm_engine *b = B(e);

	if (b->in_txn) {
		memset(out, 0, sizeof(*out));
		out->id = ds_strdup(id);
		out->payload = ds_strdup("{}");
		if (out->id && out->payload)
			return 0;
		ds_record_clear(out);
		return -ENOMEM;
	}
	return current(b, ds_bookmarks_local_id(id), out, true);
}

static int b_current(struct ds_engine *e, const char *guid, struct ds_record *out)
{
	return current(B(e), guid, out, false);
}

static int b_changes_after(struct ds_engine *e, uint64_t after_seq, const char *after_id,
			   ds_record_cb cb, void *user_data)
{
	struct bm_engine *b = B(e);
	int rc = 0;

	/* The start of an upload: the fetch is complete, so the structure can be judged. */
	if (!after_id && !b->in_txn)
		rc = check_structure(b);
	if (rc)
		return rc;
	return ds_browser_changes_after(e, b_current, &OPS(b)->track, S(b), after_seq,
					after_id ? ds_bookmarks_local_id(after_id) : NULL, cb, user_data);
}

static int b_changes(struct ds_engine *e, ds_record_cb cb, void *user_data)
{
	return b_changes_after(e, 0, NULL, cb, user_data);
}

static int b_pending(struct ds_engine *e, const char *id, struct ds_pending_info *out)
{
	struct bm_engine *b = B(e);

	if (b->in_txn)
		return -ENOENT;
	return OPS(b)->track.pending(S(b), ds_bookmarks_local_id(id), out);
}

static int b_apply(struct ds_engine *e, const struct ds_record *r)
{
	struct bm_engine *b = B(e);
	const char *g;

	if (!r->id || !*r->id || strlen(r->id) >= DS_BROWSER_ID_MAX)
		return -EBADMSG;
	g = ds_bookmarks_local_id(r->id);
	if (strcmp(g, DS_BM_ROOT_PLACES) == 0 || strcmp(g, DS_BM_ROOT_TAGS) == 0)
		return 0; /* the places root is not synced; tags are fields of bookmarks */
	b->applied = true;
	if (r->deleted || !r->payload)
		return apply_tombstone(b, g);
	return apply_record(b, g, r);
}

/* The server took our version: it is the server's record (the mirror) from now on. */
static int b_forget(struct ds_engine *e, const char *id, uint64_t change_seq)
{
	struct bm_engine *b = B(e);
	const char *g = ds_bookmarks_local_id(id);
	struct ds_bookmark_item it;
	struct ds_bookmark_meta m;
	struct glist ch;
	int rc = OPS(b)->track.forget(S(b), g, change_seq);

	if (rc || b->in_txn == false || OPS(b)->get(S(b), g, &it) != 0)
		return rc;
	rc = OPS(b)->meta_get(S(b), g, &m);
	if (rc == 0 && it.kind == DS_BM_FOLDER && (rc = list(b, DS_BM_LIST_CHILDREN, g, &ch)) == 0) {
		ds_free(m.remote_children);
		m.remote_children = NULL;
		rc = glist_json(&ch, &m.remote_children);
		glist_free(&ch);
	}
	if (rc == 0) {
		struct ds_record cur;

		rc = current(b, g, &cur, true);
		if (rc == 0) {
			ds_free(m.server_payload);
			m.server_payload = cur.payload;
			cur.payload = NULL;
			ds_record_clear(&cur);
			rc = OPS(b)->meta_put(S(b), g, &m);
		}
	}
	ds_bookmark_meta_clear(&m);
	ds_bookmark_item_clear(&it);
	return rc;
}

static int b_mark_all(struct ds_engine *e)
{
	struct bm_engine *b = B(e);

	return OPS(b)->track.mark_all(S(b), 0);
}

static void b_close(struct ds_engine *e)
{
	struct bm_engine *b;

	if (!e)
		return;
	b = B(e);
	OPS(b)->track.close(S(b));
	ds_free(b->store);
	ds_free(b);
}

static int b_wipe(struct ds_engine *e)
{
	struct bm_engine *b = B(e);

	if (!OPS(b)->track.wipe)
		return -ENOTSUP;
	return OPS(b)->track.wipe(S(b));
}

static const struct ds_engine_ops bookmarks_ops = {
	.kind = "bookmarks",
	.prepare = b_prepare,
	.begin = b_begin,
	.commit = b_commit,
	.rollback = b_rollback,
	.changes = b_changes,
	.changes_after = b_changes_after,
	.pending = b_pending,
	.get = b_get,
	.apply = b_apply,
	.forget = b_forget,
	.mark_all = b_mark_all,
	.wipe = b_wipe,
	.close = b_close,
};

int ds_bookmarks_engine_new(struct ds_bookmarks_store *store, const struct ds_bookmarks_options *opt,
			    struct ds_engine **out)
{
	struct bm_engine *b;

	*out = NULL;
	if (!store || !store->ops)
		return -EINVAL;
	b = ds_calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	if (opt)
		b->opt = *opt;
	b->store = store;
	b->e.ops = &bookmarks_ops;
	b->e.priv = b;
	*out = &b->e;
	return 0;
}

static const char *places_path(const cJSON *cfg)
{
	return ds_browser_cfg_path(cfg, "bookmarks", "places", "places.sqlite");
}

int ds_bookmarks_engine_open(const cJSON *cfg, struct ds_engine **out)
{
	struct ds_bookmarks_store *s = NULL;
	const char *path = places_path(cfg);
	int rc;

	*out = NULL;
	if (!path)
		return -EINVAL;
	rc = ds_bookmarks_places_open(path, &s);
	if (rc)
		return rc;
	rc = ds_bookmarks_engine_new(s, NULL, out);
	if (rc) {
		s->ops->track.close(s->priv);
		ds_free(s);
	}
	return rc;
}

int ds_bookmarks_engine_unregister(const cJSON *cfg)
{
	const char *path = places_path(cfg);

	return path ? ds_bookmarks_places_uninstall(path) : -EINVAL;
}
