/*
 * The bookmarks engine's structure passes: folders put in the remote order at each commit, the
 * merged tree judged against the server's before an upload, and a cleared store re-imported
 * from the mirror (docs/engine-bookmarks.md "How the merge works").
 */
#define DS_LOG_TAG "bookmarks"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "engine/bookmarks/bookmarks_int.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

/* Folders touched by the page: children in the remote order, local-only ones after. */
int ds_bm_order_folders(struct ds_bm_engine *b)
{
	struct ds_bm_glist f;
	int rc = ds_bm_list(b, DS_BM_LIST_UNORDERED, NULL, &f);

	for (size_t i = 0; rc == 0 && i < f.n; i++) {
		struct ds_bookmark_meta m;
		struct ds_bm_glist want = { 0 };

		rc = OPS(b)->meta_get(S(b), f.v[i], &m);
		if (rc || !(m.flags & DS_BM_NEEDS_ORDER)) {
			ds_bookmark_meta_clear(&m);
			continue;
		}
		if (m.remote_children)
			rc = ds_bm_json_glist(m.remote_children, &want);
		if (rc == 0)
			rc = OPS(b)->order(S(b), f.v[i], want.v, want.n);
		ds_bm_glist_free(&want);
		m.flags &= ~DS_BM_NEEDS_ORDER;
		if (rc == 0)
			rc = OPS(b)->meta_put(S(b), f.v[i], &m);
		ds_bookmark_meta_clear(&m);
	}
	ds_bm_glist_free(&f);
	return rc;
}

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
static int settle(struct ds_bm_engine *b, const char *g, const struct ds_bookmark_meta *m)
{
	struct ds_pending_info p;
	struct ds_record cur;
	int rc;

	if (!m->server_payload)
		return 0;
	rc = ds_bm_real_pending(b, g, &p);
	if (rc <= 0 || p.deleted)
		return rc;
	rc = ds_bm_current(b, g, &cur, true);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (same_record(cur.payload, m->server_payload))
		rc = OPS(b)->track.forget(S(b), g, p.change_seq);
	ds_record_clear(&cur);
	return rc;
}

/* Commit and go on in a new transaction every BM_LOCAL_CHUNK items. Each item's step stands
 * on its own (its flags are cleared with its result), so a pass cut between two chunks
 * resumes with what is left at the next upload. */
int ds_bm_chunk_point(struct ds_bm_engine *b, size_t *done)
{
	int rc;

	if (++*done % BM_LOCAL_CHUNK != 0)
		return 0;
	rc = OPS(b)->track.commit(S(b));
	return rc ? rc : OPS(b)->track.begin(S(b));
}

/*
 * After a fetch, before uploading: items still parked have no parent on the server and go up
 * in unfiled; folders whose children differ from the server's list go up with the merged list
 * (dogear: "the remote tree was invalid or diverged: reupload").
 */
int ds_bm_check_structure(struct ds_bm_engine *b)
{
	struct ds_bm_glist parked, f;
	size_t done = 0;
	int rc = ds_bm_list(b, DS_BM_LIST_PARKED, NULL, &parked);

	if (rc == 0 && parked.n == 0) {
		ds_bm_glist_free(&parked);
		rc = ds_bm_list(b, DS_BM_LIST_FLAGGED, NULL, &f);
		if (rc == 0 && f.n == 0) {
			ds_bm_glist_free(&f);
			return 0;
		}
		ds_bm_glist_free(&f);
		rc = ds_bm_list(b, DS_BM_LIST_PARKED, NULL, &parked);
	}
	if (rc)
		return rc;
	rc = OPS(b)->track.begin(S(b));
	if (rc) {
		ds_bm_glist_free(&parked);
		return rc;
	}
	for (size_t i = 0; rc == 0 && i < parked.n; i++) {
		struct ds_bookmark_item it;

		rc = ds_bm_chunk_point(b, &done);
		if (rc)
			break;

		if (OPS(b)->get(S(b), parked.v[i], &it) == 0) {
			rc = ds_bm_log_change(b, it.guid);
			if (rc == 0)
				rc = ds_bm_log_change(b, it.parent);
			ds_bookmark_item_clear(&it);
		}
		if (rc == 0)
			rc = ds_bm_set_want(b, parked.v[i], "");
	}
	ds_bm_glist_free(&parked);
	if (rc == 0)
		rc = ds_bm_list(b, DS_BM_LIST_FLAGGED, NULL, &f);
	for (size_t i = 0; rc == 0 && i < f.n; i++) {
		struct ds_bookmark_meta m;
		struct ds_bm_glist remote = { 0 }, local = { 0 };

		rc = ds_bm_chunk_point(b, &done);
		if (rc)
			break;
		rc = OPS(b)->meta_get(S(b), f.v[i], &m);
		if (rc == 0 && (m.flags & DS_BM_NEEDS_CHECK))
			rc = settle(b, f.v[i], &m);
		if (rc == 0 && (m.flags & DS_BM_NEEDS_CHECK) && m.remote_children) {
			rc = ds_bm_json_glist(m.remote_children, &remote);
			if (rc == 0)
				rc = ds_bm_list(b, DS_BM_LIST_CHILDREN, f.v[i], &local);
			if (rc == 0 && !ds_bm_same_list(&remote, &local) && ds_bm_exists(b, f.v[i]))
				rc = ds_bm_log_change(b, f.v[i]);
		}
		ds_bm_glist_free(&remote);
		ds_bm_glist_free(&local);
		m.flags = 0;
		if (rc == 0)
			rc = OPS(b)->meta_put(S(b), f.v[i], &m);
		ds_bookmark_meta_clear(&m);
	}
	ds_bm_glist_free(&f);
	if (rc == 0)
		return OPS(b)->track.commit(S(b));
	OPS(b)->track.rollback(S(b));
	return rc;
}


/*
 * The bookmarks were cleared here (a restore, "delete all"): the store dropped the pending
 * deletions, so nothing goes to the other devices, and the server's tree comes back from the
 * mirror, which holds every record the server has, in bounded transactions.
 */
int ds_bm_reimport(struct ds_bm_engine *b)
{
	struct ds_bm_glist l;
	int rc = ds_bm_list(b, DS_BM_LIST_MIRRORED, NULL, &l);
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
			rc = ds_bm_apply_record(b, l.v[i], &r);
			if (rc == -EBADMSG || rc == -EILSEQ)
				rc = 0;
			ds_bookmark_meta_clear(&m);
		}
		if (rc == 0)
			rc = ds_bm_order_folders(b);
		if (rc == 0)
			rc = OPS(b)->track.commit(S(b));
		else
			OPS(b)->track.rollback(S(b));
		done += BM_LOCAL_CHUNK;
	}
	if (rc == 0 && l.n)
		DS_LOG_INF("bookmarks re-imported from the last sync: %zu records", l.n);
	ds_bm_glist_free(&l);
	return rc;
}
