/* bookmarks_fixture.h - places.sqlite with bookmarks for the bookmarks engine's tests. */
#ifndef DS_TEST_BOOKMARKS_FIXTURE_H
#define DS_TEST_BOOKMARKS_FIXTURE_H

#include <stdint.h>

struct sqlite3;

/* A file of test/data/firefox/ (from DS_SRC, else beside this source tree), malloc'ed. */
char *bmf_read_data(const char *name);
void bmf_sql(struct sqlite3 *db, const char *s);
int64_t bmf_int(struct sqlite3 *db, const char *q);
/* A new places.sqlite at path: places.sql + bookmarks_roots.sql, url_hash filled in. */
void bmf_make_places(const char *path);

/* Writes as Firefox makes them on its own connection (the engine's triggers see them): at the
 * end of the parent folder, foreign_count kept. */
void bmf_add_bookmark(struct sqlite3 *db, const char *guid, const char *parent, const char *title,
		      const char *url);
void bmf_add_folder(struct sqlite3 *db, const char *guid, const char *parent, const char *title);
void bmf_add_separator(struct sqlite3 *db, const char *guid, const char *parent);
/* Move an item to the end of folder, closing the gap it leaves (as Places does). */
void bmf_move(struct sqlite3 *db, const char *guid, const char *folder);
/* Remove an item and, for a folder, everything under it (children first, as Places does). */
void bmf_remove(struct sqlite3 *db, const char *guid);
/* Tag the URL of a bookmark (a tag folder under the tags root and an entry in it). */
void bmf_tag(struct sqlite3 *db, const char *url, const char *tag);

/* The tree under the user roots, one line per item in order ("  " per level):
 * "guid kind title url" (with_guids 0: without guids). malloc'ed. */
char *bmf_tree(struct sqlite3 *db, int with_guids);

/* ---- devices syncing through the core and the in-memory remote (fake_remote.h) ---------- */

#include <stdbool.h>

#include "sync/ds_sync.h"

struct ds_fake_server;
struct ds_store;

struct bmf_dev {
	struct ds_store *store;
	struct ds_collection *c;
	struct sqlite3 *db; /* the browser's connection */
	char meta[600];
	char places[600];
};

/* A device with a new places.sqlite under dir, syncing "bookmarks" with srv. */
void bmf_dev_open(struct bmf_dev *d, const char *dir, struct ds_fake_server *srv,
		  enum ds_direction dir_policy);
/* Close the collection only (the files stay): reopen with bmf_dev_reopen. */
void bmf_dev_reopen(struct bmf_dev *d, struct ds_fake_server *srv, enum ds_direction dir_policy);
void bmf_dev_close(struct bmf_dev *d);
/* The most items whose sync state one local transaction settled (flags cleared: the
 * structure pass's step, and forget's), over every device's store since it was zeroed. */
extern unsigned long bmf_most_settled_per_txn;
/* One run that must succeed with no skipped record; the stats out. */
void bmf_sync(struct bmf_dev *d, struct ds_run_stats *st);
/* A temp dir: DS_TEST_TMP, else a new one. */
void bmf_tmpdir(char *out, size_t n);

#endif
