/*
 * Local items whose guid is no Sync record id get a new one before anything is uploaded
 * (docs/engine-bookmarks.md "Rules"). Firefox makes 12-character guids, but older profiles,
 * imports and other writers of places.sqlite can leave others, and a record id outside
 * [A-Za-z0-9_-]{12} is refused or mangled by other clients. dogear gives such an item a new
 * guid in the merged tree (src/merge.rs, Validity and the new guid of a merged node;
 * CompletionOps::change_guids), which the browser then writes into moz_bookmarks (desktop's
 * SyncedBookmarksMirror changeGuidOps, AS places/src/bookmark_sync/store.rs).
 *
 * The item keeps everything but its guid: parent, position, place (so its tags and keyword),
 * its pending change and the fields that round-trip. It goes up under the new guid, with its
 * folder (whose children list names it) and, for a folder, its children (whose parentid
 * names it). If the server had it under the old id, that id gets a tombstone.
 */
#define DS_LOG_TAG "bookmarks"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "ds_port.h"
#include "engine/bookmarks/bookmarks_int.h"

#include <stdio.h>
#include <string.h>

/* Attempts at a fresh guid that no item has (2^72 guids: one clash is already unlikely). */
#define BM_GUID_TRIES 4

static int random_guid(char out[13])
{
	static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char r[12];
	int rc = ds_port_entropy(r, sizeof(r));

	if (rc)
		return rc;
	for (size_t i = 0; i < sizeof(r); i++)
		out[i] = B64URL[r[i] & 63];
	out[12] = '\0';
	return 0;
}

static int log_children(struct ds_bm_engine *b, const char *folder)
{
	struct ds_bm_glist ch;
	int rc = ds_bm_list(b, DS_BM_LIST_CHILDREN, folder, &ch);

	for (size_t i = 0; rc == 0 && i < ch.n; i++)
		rc = ds_bm_log_change(b, ch.v[i]);
	ds_bm_glist_free(&ch);
	return rc;
}

static int renew_one(struct ds_bm_engine *b, const char *old)
{
	char parent[DS_BROWSER_ID_MAX], fresh[13];
	enum ds_bookmark_kind kind;
	struct ds_bookmark_meta m;
	bool synced;
	int rc = OPS(b)->locate(S(b), old, parent, &kind);

	if (rc)
		return rc == -ENOENT ? 0 : rc;
	rc = OPS(b)->meta_get(S(b), old, &m);
	synced = m.synced;
	ds_bookmark_meta_clear(&m);
	for (int i = 0; rc == 0 && i < BM_GUID_TRIES; i++) {
		rc = random_guid(fresh);
		if (rc == 0)
			rc = OPS(b)->set_guid(S(b), old, fresh);
		if (rc != -EEXIST)
			break;
		rc = i + 1 < BM_GUID_TRIES ? 0 : -EEXIST;
	}
	if (rc)
		return rc;
	DS_LOG_INF("bookmark %.64s has no valid Sync id: now %s", old, fresh);
	rc = ds_bm_log_change(b, fresh);
	if (rc == 0)
		rc = ds_bm_log_change(b, parent);
	if (rc == 0 && (kind == DS_BM_FOLDER || kind == DS_BM_LIVEMARK))
		rc = log_children(b, fresh);
	/* The item is gone under the old id: logging it uploads a tombstone for that id. */
	if (rc == 0 && synced)
		rc = ds_bm_log_change(b, old);
	return rc;
}

int ds_bm_renew_invalid_guids(struct ds_bm_engine *b)
{
	struct ds_bm_glist bad;
	size_t done = 0;
	int rc = ds_bm_list(b, DS_BM_LIST_INVALID, NULL, &bad);

	if (rc || bad.n == 0) {
		ds_bm_glist_free(&bad);
		return rc;
	}
	rc = OPS(b)->track.begin(S(b));
	if (rc) {
		ds_bm_glist_free(&bad);
		return rc;
	}
	for (size_t i = 0; rc == 0 && i < bad.n; i++) {
		rc = ds_bm_chunk_point(b, &done);
		if (rc == 0)
			rc = renew_one(b, bad.v[i]);
	}
	ds_bm_glist_free(&bad);
	if (rc == 0)
		return OPS(b)->track.commit(S(b));
	OPS(b)->track.rollback(S(b));
	return rc;
}
