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
 * A folder's children list is the structure (dogear builds the remote tree from children),
 * except for an item this device moved elsewhere later than that list was written (dogear
 * "resolve_structure_conflict", bookmarks_apply.c); folders touched by a page are put in the
 * remote order at commit, local-only children after. Before the first upload after a fetch,
 * items whose guid is no Sync id get a new one (bookmarks_guids.c), and folders whose local
 * children differ from the remote list (invalid or diverged remote structure, local additions)
 * are logged, so the merged tree goes back to the server.
 */
#define DS_LOG_TAG "bookmarks"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "ds_port.h"
#include "engine/bookmarks/bookmarks_int.h"
#include "engine/browser/ds_browser_engine.h"
#include "sync/ds_sync.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static int b_prepare(struct ds_engine *e)
{
	struct ds_bm_engine *b = B(e);
	int rc = OPS(b)->track.forget_if_cleared ? OPS(b)->track.forget_if_cleared(S(b)) : 0;

	if (rc == 1)
		rc = ds_bm_reimport(b);
	ds_bm_prev_clear(b);
	b->fetch_seq_known = false;
	if (rc >= 0 && OPS(b)->last_seq) {
		rc = OPS(b)->last_seq(S(b), &b->fetch_seq);
		b->fetch_seq_known = rc == 0;
	}
	return rc < 0 ? rc : 0;
}

static int b_begin(struct ds_engine *e)
{
	struct ds_bm_engine *b = B(e);
	int rc = OPS(b)->track.begin(S(b));

	b->in_txn = rc == 0;
	b->applied = false;
	return rc;
}

static int b_commit(struct ds_engine *e)
{
	struct ds_bm_engine *b = B(e);
	int rc = b->applied ? ds_bm_order_folders(b) : 0;

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
	struct ds_bm_engine *b = B(e);

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
int ds_bm_current(struct ds_bm_engine *b, const char *g, struct ds_record *out, bool must_exist)
{
	struct ds_bookmark_item it, par;
	struct ds_bm_glist ch = { 0 };
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
		rc = ds_bm_list(b, DS_BM_LIST_CHILDREN, g, &ch);
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
	ds_bm_glist_free(&ch);
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
	struct ds_bm_engine *b = B(e);

	if (b->in_txn) {
		memset(out, 0, sizeof(*out));
		out->id = ds_strdup(id);
		out->payload = ds_strdup("{}");
		if (out->id && out->payload)
			return 0;
		ds_record_clear(out);
		return -ENOMEM;
	}
	return ds_bm_current(b, ds_bookmarks_local_id(id), out, true);
}

static int b_current(struct ds_engine *e, const char *guid, struct ds_record *out)
{
	return ds_bm_current(B(e), guid, out, false);
}

static int b_changes_after(struct ds_engine *e, uint64_t after_seq, const char *after_id,
			   ds_record_cb cb, void *user_data)
{
	struct ds_bm_engine *b = B(e);
	int rc = 0;

	/* The start of an upload: the fetch is complete, so the structure can be judged. */
	if (!after_id && !b->in_txn) {
		rc = ds_bm_renew_invalid_guids(b);
		if (rc == 0)
			rc = ds_bm_check_structure(b);
	}
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
	struct ds_bm_engine *b = B(e);

	if (b->in_txn)
		return -ENOENT;
	return OPS(b)->track.pending(S(b), ds_bookmarks_local_id(id), out);
}

static int b_apply(struct ds_engine *e, const struct ds_record *r)
{
	struct ds_bm_engine *b = B(e);
	const char *g;

	if (!r->id || !*r->id || strlen(r->id) >= DS_BROWSER_ID_MAX)
		return -EBADMSG;
	g = ds_bookmarks_local_id(r->id);
	if (strcmp(g, DS_BM_ROOT_PLACES) == 0 || strcmp(g, DS_BM_ROOT_TAGS) == 0)
		return 0; /* the places root is not synced; tags are fields of bookmarks */
	b->applied = true;
	if (r->deleted || !r->payload)
		return ds_bm_apply_tombstone(b, g);
	return ds_bm_apply_record(b, g, r);
}

/* The server took our version: it is the server's record (the mirror) from now on. */
static int b_forget(struct ds_engine *e, const char *id, uint64_t change_seq)
{
	struct ds_bm_engine *b = B(e);
	const char *g = ds_bookmarks_local_id(id);
	struct ds_bookmark_item it;
	struct ds_bookmark_meta m;
	struct ds_bm_glist ch;
	int rc = OPS(b)->track.forget(S(b), g, change_seq);

	if (rc || b->in_txn == false || OPS(b)->get(S(b), g, &it) != 0)
		return rc;
	rc = OPS(b)->meta_get(S(b), g, &m);
	if (rc == 0 && it.kind == DS_BM_FOLDER && (rc = ds_bm_list(b, DS_BM_LIST_CHILDREN, g, &ch)) == 0) {
		ds_free(m.remote_children);
		m.remote_children = NULL;
		rc = ds_bm_glist_json(&ch, &m.remote_children);
		ds_bm_glist_free(&ch);
	}
	if (rc == 0) {
		struct ds_record cur;

		rc = ds_bm_current(b, g, &cur, true);
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
	struct ds_bm_engine *b = B(e);

	return OPS(b)->track.mark_all(S(b), 0);
}

static void b_close(struct ds_engine *e)
{
	struct ds_bm_engine *b;

	if (!e)
		return;
	b = B(e);
	ds_bm_prev_clear(b);
	OPS(b)->track.close(S(b));
	ds_free(b->store);
	ds_free(b);
}

static int b_wipe(struct ds_engine *e)
{
	struct ds_bm_engine *b = B(e);

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

int ds_bookmarks_engine_new(struct ds_bookmarks_store *store,
			    const struct ds_bookmarks_options *opt,
			    struct ds_engine **out)
{
	struct ds_bm_engine *b;

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
