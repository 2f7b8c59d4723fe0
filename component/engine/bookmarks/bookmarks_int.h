/*
 * bookmarks_int.h - the bookmarks engine's private parts, shared by its files:
 * bookmarks_engine.c (engine ops, outgoing records), bookmarks_apply.c (remote records and
 * tombstones), bookmarks_dedupe.c (an item moving into the folder that lists it, U1 dedupe),
 * bookmarks_structure.c (folder order, the structure pass, re-import) and bookmarks_tree.c
 * (helpers). docs/engine-bookmarks.md.
 */
#ifndef DS_BOOKMARKS_INT_H
#define DS_BOOKMARKS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/bookmarks/ds_bookmarks.h"
#include "sync/ds_sync.h"

struct ds_bm_engine {
	struct ds_engine e;
	struct ds_bookmarks_store *store;
	struct ds_bookmarks_options opt;
	bool in_txn;   /* between begin and commit/rollback */
	bool applied;  /* a remote record was applied in this transaction */
	/* The change log's counter when this sync started (prepare): a pending change with a
	 * higher change_seq was logged by the merge (or during the sync), not made before it. */
	uint64_t fetch_seq;
	bool fetch_seq_known;
	/* Folders whose children as the server had them this sync replaced, with the list from
	 * before the sync: who moved an item is judged against it, in whatever order the records
	 * come (bookmarks_apply.c). Emptied at prepare. */
	struct ds_bm_prev {
		char *guid;
		char *list;
	} *prev;
	size_t n_prev, cap_prev;
};

static inline struct ds_bm_engine *B(struct ds_engine *e)
{
	return DS_CONTAINER_OF(e, struct ds_bm_engine, e);
}

static inline void *S(struct ds_bm_engine *b)
{
	return b->store->priv;
}

static inline const struct ds_bookmarks_store_ops *OPS(struct ds_bm_engine *b)
{
	return b->store->ops;
}

/* Items per local transaction outside the core's chunks (the structure pass, a re-import):
 * the core's own bound, so the browser never waits for more than one chunk's work. */
#define BM_LOCAL_CHUNK CONFIG_DS_SYNC_APPLY_CHUNK

/* ---- bookmarks_tree.c ------------------------------------------------------------------- */

struct ds_bm_glist {
	char (*v)[DS_BROWSER_ID_MAX];
	size_t n, cap;
};

int ds_bm_glist_add(const char *g, void *user_data); /* a ds_bookmarks_guid_cb */
void ds_bm_glist_free(struct ds_bm_glist *l);
bool ds_bm_same_list(const struct ds_bm_glist *a, const struct ds_bm_glist *c);
/* The store's list `which` into l (initialised here). */
int ds_bm_list(struct ds_bm_engine *b, enum ds_bookmarks_list which, const char *arg,
	       struct ds_bm_glist *l);
/* A list of guids as JSON array text (ds_malloc'ed), and back. */
int ds_bm_glist_json(const struct ds_bm_glist *l, char **out);
int ds_bm_json_glist(const char *text, struct ds_bm_glist *l);

int64_t ds_bm_now_ms(struct ds_bm_engine *b);
/* menu, toolbar, unfiled, mobile: the roots that sync (not places, not tags). */
bool ds_bm_user_root(const char *g);
/* The store's pending change of g: 1 and *p, 0 none, or an error. */
int ds_bm_real_pending(struct ds_bm_engine *b, const char *g, struct ds_pending_info *p);
int ds_bm_forget_pending(struct ds_bm_engine *b, const char *g);
/* Log g as a change the server must get (the merge decided so). */
int ds_bm_log_change(struct ds_bm_engine *b, const char *g);
/* Forget the folders' lists kept from before this sync (struct ds_bm_engine.prev). */
void ds_bm_prev_clear(struct ds_bm_engine *b);
/* Add DS_BM_NEEDS_* flags to g's sync state. */
int ds_bm_flag(struct ds_bm_engine *b, const char *g, unsigned flags);
bool ds_bm_exists(struct ds_bm_engine *b, const char *g);
/* g waits for folder want ("" : no longer). */
int ds_bm_set_want(struct ds_bm_engine *b, const char *g, const char *want);
/* 1 if anc is g or one of its ancestors, 0 if not, or an error. */
int ds_bm_is_ancestor(struct ds_bm_engine *b, const char *anc, const char *g);
/* Move item it into folder (content kept); both folders are flagged for order and check. */
int ds_bm_move_item(struct ds_bm_engine *b, struct ds_bookmark_item *it, const char *folder);

/* ---- bookmarks_dedupe.c ----------------------------------------------------------------- */

/* Remote item g, here already, is listed by folder: move it there (U1 dedupe on the way). */
int ds_bm_adopt(struct ds_bm_engine *b, const char *g, const char *folder);

/* ---- bookmarks_apply.c ------------------------------------------------------------------ */

int ds_bm_apply_record(struct ds_bm_engine *b, const char *g, const struct ds_record *r);
int ds_bm_apply_tombstone(struct ds_bm_engine *b, const char *g);

/* ---- bookmarks_structure.c -------------------------------------------------------------- */

int ds_bm_order_folders(struct ds_bm_engine *b);
int ds_bm_check_structure(struct ds_bm_engine *b);
int ds_bm_reimport(struct ds_bm_engine *b);
/* Commit and begin again every BM_LOCAL_CHUNK calls (*done counts them). */
int ds_bm_chunk_point(struct ds_bm_engine *b, size_t *done);

/* ---- bookmarks_guids.c ------------------------------------------------------------------ */

/* Give every local item whose guid is no Sync id a new one, logged for upload. */
int ds_bm_renew_invalid_guids(struct ds_bm_engine *b);

/* ---- bookmarks_engine.c ----------------------------------------------------------------- */

/* The record of local item g: payload, or a tombstone when it is gone (must_exist: -ENOENT). */
int ds_bm_current(struct ds_bm_engine *b, const char *g, struct ds_record *out, bool must_exist);

#endif /* DS_BOOKMARKS_INT_H */
