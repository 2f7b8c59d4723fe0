/*
 * bookmarks_places_int.h - the places.sqlite store's private parts, shared by its files:
 * bookmarks_places.c (schema, triggers, statement cache, change tracking, open),
 * bookmarks_places_read.c and bookmarks_places_write.c.
 */
#ifndef DS_BOOKMARKS_PLACES_INT_H
#define DS_BOOKMARKS_PLACES_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/bookmarks/bookmarks_int.h" /* struct ds_bm_glist, the engine's guid list */
#include "engine/bookmarks/ds_bookmarks.h"

#define TAGS_ID "(SELECT id FROM moz_bookmarks WHERE guid = 'tags________')"
/* Row X is the tags root's child (a tag) or grandchild (a tag entry). */
#define TAGGY(X) "(" X ".parent = " TAGS_ID " OR (SELECT parent FROM moz_bookmarks WHERE id = " \
	X ".parent) = " TAGS_ID ")"
#define NOT_APPLYING "(SELECT applying FROM datasync_bm_state) IS NOT 1"

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
 * once per store, found again by its SQL text's address (every SQL given to ds_bmp_prep() is a
 * literal or a static array entry, never built at run time), reset and unbound after each use
 * (ds_bmp_done()) and finalized at close.
 *
 * Two traps of such a cache, both of which make a sync hang or fail with -EBUSY:
 *  - a statement left un-reset after its first row keeps the connection's read transaction
 *    open past COMMIT: the browser's (or the history engine's) connection then waits for our
 *    SHARED lock (rollback journal) or we hold an old WAL snapshot, so the next BEGIN IMMEDIATE
 *    fails; ds_bmp_done() therefore always resets, and commit checks that nothing is left running;
 *  - a cached statement asked for again while its own step loop is running (a callback that
 *    reaches the same query) would be reset under the loop, which then starts over, forever:
 *    a statement in use is never handed out twice; the inner use gets a fresh one, finalized
 *    by its ds_bmp_done().
 */
#define BM_STMT_SLOTS 80

struct stmt_slot {
	const char *sql;
	sqlite3_stmt *st;
	bool busy;
};

struct ds_bm_places {
	sqlite3 *db;
	struct stmt_slot slot[BM_STMT_SLOTS];
	size_t n_slots;
	/* Folders (moz_bookmarks ids) that lost children in the open transaction, renumbered
	 * once before it commits (ds_bmp_gaps_flush) instead of shifting their later children at each
	 * removal: a folder emptied or left by n items cost n^2/2 row updates, each firing the
	 * triggers' conditions (2 million for 2,000 orphans leaving unfiled). */
	int64_t *gaps;
	size_t n_gaps, cap_gaps;
};

static inline struct ds_bm_places *db_of(void *s)
{
	return s;
}

/* ---- bookmarks_places.c: the statement cache and small queries -------------------------- */

/* A statement for sql (a literal: cached by its address); every use ends in ds_bmp_done(). */
int ds_bmp_prep(struct ds_bm_places *P, const char *sql, sqlite3_stmt **st);
void ds_bmp_done(struct ds_bm_places *P, sqlite3_stmt *st);
void ds_bmp_finalize_all(struct ds_bm_places *P);
/* Step once and end the use: 0 on a row or done. */
int ds_bmp_step_done(struct ds_bm_places *P, sqlite3_stmt *st);
/* Run sql with text parameters a, b (NULL: bound as NULL) and integer n as ?3. */
int ds_bmp_run3(struct ds_bm_places *db, const char *sql, const char *a, const char *b, int64_t n);
/* First column of the first row as an integer (*out), or -ENOENT; a as ?1, n as ?2. */
int ds_bmp_query_int(struct ds_bm_places *db, const char *sql, const char *a, int64_t n,
		       int64_t *out);
int ds_bmp_item_id(struct ds_bm_places *db, const char *guid, int64_t *id);
char *ds_bmp_col_dup(sqlite3_stmt *st, int i);

/* ---- bookmarks_places_read.c ------------------------------------------------------------ */

/* The first column of sql's rows (arg as ?1), collected before any is used. */
int ds_bmp_collect(struct ds_bm_places *db, const char *sql, const char *arg,
		     struct ds_bm_glist *l);
int ds_bmp_get(void *s, const char *guid, struct ds_bookmark_item *out);
int ds_bmp_locate(void *s, const char *guid, char parent_out[DS_BROWSER_ID_MAX],
		    enum ds_bookmark_kind *kind);
int ds_bmp_list(void *s, enum ds_bookmarks_list which, const char *arg, ds_bookmarks_guid_cb cb,
		  void *user_data);
int ds_bmp_find_dupe(void *s, const struct ds_bookmark_item *it, char guid_out[DS_BROWSER_ID_MAX]);
int ds_bmp_meta_get(void *s, const char *guid, struct ds_bookmark_meta *out);
int ds_bmp_meta_put(void *s, const char *guid, const struct ds_bookmark_meta *m);
int ds_bmp_deleted_parent(void *s, const char *guid, char parent_out[DS_BROWSER_ID_MAX]);

/* ---- bookmarks_places_write.c ----------------------------------------------------------- */

/* Renumber the folders that lost children in this transaction (before it commits). */
int ds_bmp_gaps_flush(struct ds_bm_places *db);
int ds_bmp_put(void *s, const struct ds_bookmark_item *it);
int ds_bmp_order(void *s, const char *folder, char (*guids)[DS_BROWSER_ID_MAX], size_t n);
int ds_bmp_set_guid(void *s, const char *old_guid, const char *new_guid);
int ds_bmp_remove(void *s, const char *guid);
int ds_bmp_log_change(void *s, const char *guid, int64_t ms);

#endif /* DS_BOOKMARKS_PLACES_INT_H */
