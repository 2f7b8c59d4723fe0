/*
 * Where a remote item already here lands in the folder that lists it, and the U1 dedupe that
 * goes with it (dogear src/merge.rs find_all_matching_dupes_in_folders): a new local item with
 * the same content in that folder is the same item made on this device before its first sync.
 */
#define DS_LOG_TAG "bookmarks"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "engine/bookmarks/bookmarks_int.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

/* Drop an item that was never synced, without a tombstone (the server never had it). */
static int drop_unsynced(struct ds_bm_engine *b, const char *g)
{
	int rc = OPS(b)->remove(S(b), g);

	if (rc == -ENOTEMPTY)
		return 0; /* a container with items of its own: kept, it is not only a twin */
	if (rc == 0)
		rc = ds_bm_forget_pending(b, g);
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
static int merge_into_dupe(struct ds_bm_engine *b, const char *f, const char *dupe, int depth)
{
	struct ds_bm_glist ch;
	int rc = ds_bm_list(b, DS_BM_LIST_CHILDREN, f, &ch);

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
	ds_bm_glist_free(&ch);
	if (rc == 0)
		rc = OPS(b)->remove(S(b), f);
	if (rc == 0)
		rc = OPS(b)->set_guid(S(b), dupe, f);
	if (rc == 0)
		rc = ds_bm_flag(b, f, DS_BM_NEEDS_ORDER | DS_BM_NEEDS_CHECK);
	return rc;
}

/* Remote item g belongs in folder: a new local item with its content there is the same item
 * made on this device before the first sync, and goes into it (U1). */
int ds_bm_adopt(struct ds_bm_engine *b, const char *g, const char *folder)
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
		rc = ds_bm_log_change(b, g);
	if (rc)
		goto out;
	/* Only a folder can hold its own parent (a cycle). */
	rc = it.kind == DS_BM_FOLDER || it.kind == DS_BM_LIVEMARK ? ds_bm_is_ancestor(b, g, folder) : 0;
	if (rc != 0) {
		rc = rc < 0 ? rc : ds_bm_flag(b, folder, DS_BM_NEEDS_CHECK);
		goto out;
	}
	probe = it;
	snprintf(probe.parent, sizeof(probe.parent), "%s", folder);
	if (OPS(b)->find_dupe(S(b), &probe, dupe) == 0) {
		if (it.kind == DS_BM_FOLDER) {
			rc = merge_into_dupe(b, g, dupe, 0);
			if (rc == 0)
				rc = ds_bm_flag(b, it.parent, DS_BM_NEEDS_ORDER | DS_BM_NEEDS_CHECK);
			if (rc == 0)
				rc = ds_bm_flag(b, folder, DS_BM_NEEDS_ORDER | DS_BM_NEEDS_CHECK);
			goto out;
		}
		rc = drop_unsynced(b, dupe);
		if (rc)
			goto out;
	}
	rc = ds_bm_move_item(b, &it, folder);
out:
	if (rc == 0)
		rc = ds_bm_set_want(b, g, "");
	ds_bookmark_item_clear(&it);
	return rc;
}
