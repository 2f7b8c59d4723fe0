/* Fixture of the bookmarks engine's tests: places.sqlite in Firefox's schema, Firefox-like writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/bookmarks/ds_bookmarks.h"
#include "store/ds_store.h"
#include "test/support/fake_remote.h"
#include "test/support/bookmarks_fixture.h"
#include "test/support/engine_sync_fixture.h"

char *bmf_read_data(const char *name)
{
	return esf_read_data("firefox", name);
}

void bmf_sql(sqlite3 *db, const char *s)
{
	char *err = NULL;

	if (sqlite3_exec(db, s, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("SQL failed: %s: %s", s, err ? err : "?");
}

int64_t bmf_int(sqlite3 *db, const char *q)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		fail_msg("SQL prepare failed: %s: %s", q, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

void bmf_make_places(const char *path)
{
	char *text = bmf_read_data("places.sql"), *roots = bmf_read_data("bookmarks_roots.sql");
	sqlite3 *db;

	unlink(path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	/* A test profile: no fsync needed (the tests' speed is the disk's otherwise). */
	bmf_sql(db, "PRAGMA synchronous = OFF");
	bmf_sql(db, text);
	bmf_sql(db, roots);
	bmf_sql(db, "PRAGMA journal_mode = WAL");
	free(text);
	free(roots);
	{
		sqlite3_stmt *st;

		assert_int_equal(sqlite3_prepare_v2(db, "SELECT id, url FROM moz_places", -1, &st, NULL),
				 SQLITE_OK);
		while (sqlite3_step(st) == SQLITE_ROW) {
			char *u = sqlite3_mprintf("UPDATE moz_places SET url_hash = %lld WHERE id = %lld",
						  (long long)ds_browser_url_hash(
							  (const char *)sqlite3_column_text(st, 1)),
						  (long long)sqlite3_column_int64(st, 0));
			bmf_sql(db, u);
			sqlite3_free(u);
		}
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
}

static void add_row(sqlite3 *db, const char *guid, const char *parent, int type, const char *title,
		    const char *url)
{
	char *q;

	if (url) {
		q = sqlite3_mprintf("INSERT INTO moz_places(url, title, rev_host, guid, url_hash,"
				    " frecency) SELECT %Q, %Q, '.', lower(hex(randomblob(6))), %lld, -1"
				    " WHERE NOT EXISTS (SELECT 1 FROM moz_places WHERE url = %Q)",
				    url, title, (long long)ds_browser_url_hash(url), url);
		bmf_sql(db, q);
		sqlite3_free(q);
	}
	q = sqlite3_mprintf("INSERT INTO moz_bookmarks(type, fk, parent, position, title, dateAdded,"
			    " lastModified, guid) SELECT %d, (SELECT id FROM moz_places WHERE url = %Q),"
			    " p.id, (SELECT count(*) FROM moz_bookmarks WHERE parent = p.id), %Q,"
			    " 1764547200000000, 1764547200000000, %Q FROM moz_bookmarks p WHERE p.guid = %Q",
			    type, url, title, guid, parent);
	bmf_sql(db, q);
	sqlite3_free(q);
	if (url) {
		q = sqlite3_mprintf("UPDATE moz_places SET foreign_count = foreign_count + 1 WHERE url = %Q",
				    url);
		bmf_sql(db, q);
		sqlite3_free(q);
	}
	assert_true(sqlite3_changes(db) >= 0);
}

void bmf_add_bookmark(sqlite3 *db, const char *guid, const char *parent, const char *title,
		      const char *url)
{
	add_row(db, guid, parent, 1, title, url);
}

void bmf_add_folder(sqlite3 *db, const char *guid, const char *parent, const char *title)
{
	add_row(db, guid, parent, 2, title, NULL);
}

void bmf_add_separator(sqlite3 *db, const char *guid, const char *parent)
{
	add_row(db, guid, parent, 3, NULL, NULL);
}

void bmf_move(sqlite3 *db, const char *guid, const char *folder)
{
	char *q = sqlite3_mprintf(
		"UPDATE moz_bookmarks SET position = position - 1 WHERE parent = (SELECT parent FROM"
		" moz_bookmarks WHERE guid = %Q) AND position > (SELECT position FROM moz_bookmarks"
		" WHERE guid = %Q);"
		"UPDATE moz_bookmarks SET parent = (SELECT id FROM moz_bookmarks WHERE guid = %Q),"
		" position = (SELECT count(*) FROM moz_bookmarks WHERE parent = (SELECT id FROM"
		" moz_bookmarks WHERE guid = %Q)) WHERE guid = %Q",
		guid, guid, folder, folder, guid);

	bmf_sql(db, q);
	sqlite3_free(q);
}

void bmf_remove(sqlite3 *db, const char *guid)
{
	char *q = sqlite3_mprintf(
		"WITH RECURSIVE d(id) AS (SELECT id FROM moz_bookmarks WHERE guid = %Q UNION ALL"
		" SELECT b.id FROM moz_bookmarks b JOIN d ON b.parent = d.id)"
		" SELECT group_concat(id) FROM (SELECT id FROM d ORDER BY id DESC)", guid);
	sqlite3_stmt *st;
	char *ids = NULL;

	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		ids = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_free(q);
	assert_non_null(ids);
	/* Children first (higher ids were made later, so inside), then close the parent's gap. */
	for (char *save = NULL, *tok = strtok_r(ids, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		q = sqlite3_mprintf("UPDATE moz_bookmarks SET position = position - 1 WHERE parent ="
				    " (SELECT parent FROM moz_bookmarks WHERE id = %s) AND position >"
				    " (SELECT position FROM moz_bookmarks WHERE id = %s);"
				    "UPDATE moz_places SET foreign_count = foreign_count - 1 WHERE id ="
				    " (SELECT fk FROM moz_bookmarks WHERE id = %s);"
				    "DELETE FROM moz_bookmarks WHERE id = %s", tok, tok, tok, tok);
		bmf_sql(db, q);
		sqlite3_free(q);
	}
	free(ids);
}

void bmf_tag(sqlite3 *db, const char *url, const char *tag)
{
	char *q = sqlite3_mprintf(
		"INSERT INTO moz_bookmarks(type, parent, position, title, dateAdded, lastModified, guid)"
		" SELECT 2, 4, (SELECT count(*) FROM moz_bookmarks WHERE parent = 4), %Q, 1, 1,"
		" lower(hex(randomblob(6))) WHERE NOT EXISTS (SELECT 1 FROM moz_bookmarks WHERE"
		" parent = 4 AND title = %Q);"
		"INSERT INTO moz_bookmarks(type, fk, parent, position, dateAdded, lastModified, guid)"
		" SELECT 1, (SELECT id FROM moz_places WHERE url = %Q), t.id, 0, 1, 1,"
		" lower(hex(randomblob(6))) FROM moz_bookmarks t WHERE t.parent = 4 AND t.title = %Q",
		tag, tag, url, tag);

	bmf_sql(db, q);
	sqlite3_free(q);
}

struct buf {
	char *p;
	size_t n, cap;
};

static void put(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->n + n + 1 > b->cap) {
		b->cap = (b->cap + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->n, s, n + 1);
	b->n += n;
}

static void dump(sqlite3 *db, int64_t parent, int depth, int with_guids, struct buf *b)
{
	sqlite3_stmt *st;

	assert_true(depth < 40);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT b.id, b.guid, b.type, ifnull(b.title, ''),"
					    " ifnull(h.url, ''), b.position FROM moz_bookmarks b LEFT JOIN"
					    " moz_places h ON h.id = b.fk WHERE b.parent = ?1"
					    " ORDER BY b.position, b.id", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, parent);
	for (int i = 0; sqlite3_step(st) == SQLITE_ROW; i++) {
		char line[1200];
		const char *g = (const char *)sqlite3_column_text(st, 1);

		if (parent == 1 && strcmp(g, "tags________") == 0)
			continue;
		snprintf(line, sizeof(line), "%*s%s%s %d %s %s%s\n", depth * 2, "",
			 with_guids ? g : "", with_guids ? "" : "-", sqlite3_column_int(st, 2),
			 sqlite3_column_text(st, 3), sqlite3_column_text(st, 4),
			 sqlite3_column_int(st, 5) == i ? "" : " (position gap)");
		put(b, line);
		dump(db, sqlite3_column_int64(st, 0), depth + 1, with_guids, b);
	}
	sqlite3_finalize(st);
}

char *bmf_tree(sqlite3 *db, int with_guids)
{
	struct buf b = { 0 };

	put(&b, "");
	dump(db, 1, 0, with_guids, &b);
	return b.p;
}

/* ---- devices ---------------------------------------------------------------------------- */

static unsigned dev_seq;

/* Every device's store, watched: the most sync states one transaction settled (a meta_put
 * clearing every flag: the structure pass's step, and forget's after an upload). */
static struct ds_bookmarks_store_ops watched_ops;
static const struct ds_bookmarks_store_ops *real_ops;
static unsigned long settled_now;
unsigned long bmf_most_settled_per_txn;

static int watched_begin(void *s)
{
	settled_now = 0;
	return real_ops->track.begin(s);
}

static int watched_meta_put(void *s, const char *guid, const struct ds_bookmark_meta *m)
{
	if (m && m->flags == 0 && ++settled_now > bmf_most_settled_per_txn)
		bmf_most_settled_per_txn = settled_now;
	return real_ops->meta_put(s, guid, m);
}

static void watch(struct ds_bookmarks_store *s)
{
	real_ops = s->ops;
	watched_ops = *s->ops;
	watched_ops.track.begin = watched_begin;
	watched_ops.meta_put = watched_meta_put;
	s->ops = &watched_ops;
}

static void dev_collection(struct bmf_dev *d, struct ds_fake_server *srv, enum ds_direction dir)
{
	struct ds_policy p = { .direction = dir, .conflict = DS_CONFLICT_SERVER_WINS, .max_retries = 3 };
	struct ds_bookmarks_store *s;
	struct ds_engine *e;
	struct ds_remote *r;

	assert_int_equal(ds_store_open(d->meta, &d->store), 0);
	assert_int_equal(ds_bookmarks_places_open(d->places, &s), 0);
	watch(s);
	assert_int_equal(ds_bookmarks_engine_new(s, NULL, &e), 0);
	assert_int_equal(ds_fake_remote_new(srv, &r), 0);
	assert_int_equal(ds_fake_collection_new("bookmarks", e, r, NULL, &p, &d->c), 0);
}

void bmf_dev_open(struct bmf_dev *d, const char *dir, struct ds_fake_server *srv,
		  enum ds_direction dir_policy)
{
	memset(d, 0, sizeof(*d));
	dev_seq++;
	snprintf(d->meta, sizeof(d->meta), "%s/bm-%d-%u.db", dir, (int)getpid(), dev_seq);
	snprintf(d->places, sizeof(d->places), "%s/bm-%d-%u.sqlite", dir, (int)getpid(), dev_seq);
	bmf_make_places(d->places);
	assert_int_equal(sqlite3_open(d->places, &d->db), SQLITE_OK);
	sqlite3_busy_timeout(d->db, 2000);
	bmf_sql(d->db, "PRAGMA synchronous = OFF");
	dev_collection(d, srv, dir_policy);
}

void bmf_dev_reopen(struct bmf_dev *d, struct ds_fake_server *srv, enum ds_direction dir_policy)
{
	ds_fake_collection_free(d->c);
	ds_store_close(d->store);
	d->c = NULL;
	d->store = NULL;
	dev_collection(d, srv, dir_policy);
}

void bmf_dev_close(struct bmf_dev *d)
{
	if (!d->db)
		return;
	ds_fake_collection_free(d->c);
	ds_store_close(d->store);
	sqlite3_close(d->db);
	unlink(d->meta);
	unlink(d->places);
	{
		char x[700];

		snprintf(x, sizeof(x), "%s-wal", d->places);
		unlink(x);
		snprintf(x, sizeof(x), "%s-shm", d->places);
		unlink(x);
		snprintf(x, sizeof(x), "%s-wal", d->meta);
		unlink(x);
		snprintf(x, sizeof(x), "%s-shm", d->meta);
		unlink(x);
	}
	memset(d, 0, sizeof(*d));
}

void bmf_sync(struct bmf_dev *d, struct ds_run_stats *st)
{
	struct ds_run_stats own;
	int rc;

	if (!st)
		st = &own;
	memset(st, 0, sizeof(*st));
	rc = ds_sync_run(d->c, d->store, st, NULL, NULL);
	if (rc)
		fail_msg("run failed: %d %s", rc, st->message);
	if (st->errors)
		fail_msg("run skipped %lu records: %s", st->errors, st->message);
}

void bmf_tmpdir(char *out, size_t n)
{
	const char *t = getenv("DS_TEST_TMP");

	if (t && *t) {
		snprintf(out, n, "%s", t);
		return;
	}
	snprintf(out, n, "%s/ds-bm-XXXXXX", P_tmpdir);
	assert_non_null(mkdtemp(out));
}
