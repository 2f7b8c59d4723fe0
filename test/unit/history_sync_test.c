/*
 * History through the sync core and the Sync 1.5 remote against the in-process storage node
 * (test/support/fake_sync15.h): two devices, each with its own places.sqlite in Firefox's
 * schema, converge (docs/engine-history.md).
 */
#include "core/ds_core.h"
#include "engine/history/ds_history.h"
#include "remote/sync15/ds_sync15.h"
#include "remote/sync15/ds_sync15_storage.h"
#include "sync/ds_sync.h"
#include "test/support/firefox_fixture.h"
#include "test/support/engine_sync_fixture.h"
#include "test/support/fake_sync15.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t KSYNC[64] = { 0x51, 0x62, 0x73, [20] = 0x19, [63] = 0x93 };
#define NOW_MS INT64_C(1767225600000)

struct fx {
	struct ds_fake_sync15 *srv;
	struct esf_dev a, b; /* db: the browser */
	char dir[512];
};

static int64_t fake_now(void *user_data)
{
	DS_UNUSED(user_data);
	return NOW_MS;
}

static enum ds_direction next_direction = DS_DIR_TWO_WAY;

static void dev_open_opts(struct fx *f, struct esf_dev *d, bool empty, size_t max_places,
			  unsigned page)
{
	const struct ds_sync15_remote_config rc = { .collection = "history", .engine_version = 1,
						    .page_records = page };
	const struct ds_policy p = { .direction = next_direction, .conflict = DS_CONFLICT_MERGE,
				     .max_retries = 3 };
	struct ds_history_options o = { .now_ms = fake_now, .max_places = max_places };
	struct ds_history_store *s;
	struct ds_engine *e;

	esf_dev_names(d, f->dir, "hs");
	ffx_make_places(d->path);
	esf_dev_open_db(d);
	if (empty)
		ffx_sql(d->db, "DELETE FROM moz_historyvisits; DELETE FROM moz_places");
	assert_int_equal(ds_history_places_open(d->path, &s), 0);
	assert_int_equal(ds_history_engine_new(s, &o, &e), 0);
	esf_dev_connect(d, f->srv, &rc, &p, e);
}

static void dev_open(struct fx *f, struct esf_dev *d, bool empty)
{
	dev_open_opts(f, d, empty, 0, 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	esf_tmpdir(f->dir, sizeof(f->dir), "hsync");
	f->srv = ds_fake_sync15_new(KSYNC);
	dev_open(f, &f->a, false);
	dev_open(f, &f->b, true);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	esf_dev_close(&f->a);
	esf_dev_close(&f->b);
	ds_fake_sync15_free(f->srv);
	free(f);
	return 0;
}

/* Visited places and their visits, one line each, in a fixed order. */
static char *history_text(sqlite3 *db)
{
	sqlite3_stmt *st;
	size_t len = 0, cap = 4096;
	char *out = malloc(cap);

	assert_non_null(out);
	out[0] = '\0';
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT p.guid, p.url, ifnull(p.title, ''), v.visit_date,"
					    " v.visit_type FROM moz_places p JOIN moz_historyvisits v"
					    " ON v.place_id = p.id ORDER BY p.url, v.visit_date, v.visit_type",
					    -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		char line[600];
		int n = snprintf(line, sizeof(line), "%s %s [%s] %lld/%d\n", sqlite3_column_text(st, 0),
				 sqlite3_column_text(st, 1), sqlite3_column_text(st, 2),
				 (long long)sqlite3_column_int64(st, 3), sqlite3_column_int(st, 4));

		if (len + (size_t)n + 1 > cap) {
			cap = (cap + (size_t)n) * 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		memcpy(out + len, line, (size_t)n + 1);
		len += (size_t)n;
	}
	sqlite3_finalize(st);
	return out;
}

static void assert_same_history(struct fx *f)
{
	char *a = history_text(f->a.db), *b = history_text(f->b.db);

	if (strcmp(a, b) != 0)
		fail_msg("devices differ:\nA:\n%sB:\n%s", a, b);
	free(a);
	free(b);
}

static void visit(sqlite3 *db, const char *guid, long long date_us, int type)
{
	char *q = sqlite3_mprintf("INSERT INTO moz_historyvisits(from_visit, place_id, visit_date,"
				  " visit_type, session) SELECT 0, id, %lld, %d, 0 FROM moz_places"
				  " WHERE guid = %Q", date_us, type, guid);

	ffx_sql(db, q);
	sqlite3_free(q);
}

/* The browser visiting a page now (SQLite's clock, the one the triggers read): a page the user
 * removes is one they visited lately, which Firefox's expiration never touches. */
static void visit_now(sqlite3 *db, const char *guid)
{
	char *q = sqlite3_mprintf("INSERT INTO moz_historyvisits(from_visit, place_id, visit_date,"
				  " visit_type, session) SELECT 0, id, CAST((julianday('now') - 2440587.5)"
				  " * 86400000000 AS INTEGER), 1, 0 FROM moz_places WHERE guid = %Q", guid);

	ffx_sql(db, q);
	sqlite3_free(q);
}

/* A's profile and B's own history meet: the same URL under two guids becomes one place with the
 * guid A uploaded first and the visits of both; B's own place reaches A; nothing is in clear
 * on the server. */
static void test_two_devices_converge_on_history(void **state)
{
	struct fx *f = *state;
	const char *p;

	ffx_sql(f->b.db, "INSERT INTO moz_places(id, url, title, guid, url_hash, rev_host, frecency)"
		     " VALUES(10, 'https://example.com/a', 'A on B', 'localBBBBBBB', 0, 'moc.elpmaxe.', 1),"
		     " (11, 'https://b-only.example/', 'Only B', 'bonlyBBBBBBB', 0, 'elpmaxe.ylno-b.', 1)");
	ffx_sql(f->b.db, "UPDATE moz_places SET url_hash = 0");
	{
		/* Firefox's url_hash, as the browser would have written it */
		char *q = sqlite3_mprintf("UPDATE moz_places SET url_hash = %lld WHERE id = 10",
					  (long long)ds_browser_url_hash("https://example.com/a"));

		ffx_sql(f->b.db, q);
		sqlite3_free(q);
	}
	visit(f->b.db, "localBBBBBBB", 1764000000000000LL, 2);
	visit(f->b.db, "bonlyBBBBBBB", 1764100000000000LL, 1);

	esf_sync_ok(&f->a);
	assert_int_equal(ds_fake_sync15_count(f->srv, "history"), 3);
	p = ds_fake_sync15_payload(f->srv, "history", "placeAAAAAAA");
	assert_non_null(p);
	assert_null(strstr(p, "mozilla.org"));
	esf_sync_ok(&f->b);
	esf_sync_ok(&f->a);
	assert_same_history(f);
	assert_int_equal(ffx_sql_int(f->b.db, "SELECT count(*) FROM moz_places WHERE url = 'https://example.com/a'"), 1);
	/* nothing left pending on either side */
	assert_int_equal(ffx_sql_int(f->a.db, "SELECT count(*) FROM datasync_changes"), 0);
	assert_int_equal(ffx_sql_int(f->b.db, "SELECT count(*) FROM datasync_changes"), 0);
	{
		char *a = history_text(f->a.db);

		/* one place for the URL, A's guid, both visits; B's place arrived */
		assert_non_null(strstr(a, "placeBBBBBBB https://example.com/a [Example A] 1764000000000000/2"));
		assert_non_null(strstr(a, "placeBBBBBBB https://example.com/a [Example A] 1764460800000000/1"));
		assert_non_null(strstr(a, "bonlyBBBBBBB https://b-only.example/ [Only B] 1764100000000000/1"));
		assert_null(strstr(a, "localBBBBBBB"));
		free(a);
	}
	assert_int_equal(ds_fake_sync15_count(f->srv, "history"), 4);
	/* idempotent: another round changes nothing on the server */
	{
		int64_t ts = ds_fake_sync15_coll_ts(f->srv, "history");

		esf_sync_ok(&f->b);
		esf_sync_ok(&f->a);
		assert_true(ds_fake_sync15_coll_ts(f->srv, "history") == ts);
	}
}

/* Both devices visit the same page between syncs: the merge keeps every visit on both; the title
 * is the one that reached the server first (the remote's, in the later device's merge). */
static void test_concurrent_visits_merge_on_both_devices(void **state)
{
	struct fx *f = *state;
	char *a;

	esf_sync_ok(&f->a);
	esf_sync_ok(&f->b);
	visit(f->a.db, "placeAAAAAAA", 1765000000000000LL, 1);
	visit(f->b.db, "placeAAAAAAA", 1765000000000001LL, 2);
	ffx_sql(f->b.db, "UPDATE moz_places SET title = 'Mozilla (B)' WHERE guid = 'placeAAAAAAA'");
	esf_sync_ok(&f->a);
	esf_sync_ok(&f->b);
	esf_sync_ok(&f->a);
	assert_same_history(f);
	a = history_text(f->a.db);
	assert_non_null(strstr(a, "[Mozilla] 1765000000000000/1"));
	assert_non_null(strstr(a, "[Mozilla] 1765000000000001/2"));
	free(a);
}

/* A page removed in the browser on one device is removed on the other. */
static void test_removed_page_reaches_the_other_device(void **state)
{
	struct fx *f = *state;
	char *b;

	esf_sync_ok(&f->a);
	esf_sync_ok(&f->b);
	visit_now(f->a.db, "placeCCCCCCC");
	ffx_sql(f->a.db, "DELETE FROM moz_historyvisits WHERE place_id = 3; DELETE FROM moz_places WHERE id = 3");
	esf_sync_ok(&f->a);
	assert_non_null(ds_fake_sync15_payload(f->srv, "history", "placeCCCCCCC"));
	esf_sync_ok(&f->b);
	b = history_text(f->b.db);
	assert_null(strstr(b, "placeCCCCCCC"));
	assert_non_null(strstr(b, "placeAAAAAAA"));
	free(b);
	assert_same_history(f);
}

/* "Clear history" on one device is a cleared store, not 5,000 removals: the other devices keep
 * their history and the server keeps the records (sync15.md §11 U10: no wipe without an
 * explicit command). */
static void test_clearing_history_on_one_device_keeps_it_elsewhere(void **state)
{
	struct fx *f = *state;
	int64_t ts;
	char *b;

	esf_sync_ok(&f->a);
	esf_sync_ok(&f->b);
	ts = ds_fake_sync15_coll_ts(f->srv, "history");
	visit_now(f->a.db, "placeAAAAAAA");
	visit_now(f->a.db, "placeBBBBBBB");
	visit_now(f->a.db, "placeCCCCCCC");
	ffx_sql(f->a.db, "DELETE FROM moz_historyvisits; DELETE FROM moz_places WHERE foreign_count = 0");
	assert_true(ffx_sql_int(f->a.db, "SELECT count(*) FROM datasync_changes WHERE deleted = 1") >= 3);
	esf_sync_ok(&f->a);
	assert_int_equal(ffx_sql_int(f->a.db, "SELECT count(*) FROM datasync_changes"), 0);
	assert_true(ds_fake_sync15_coll_ts(f->srv, "history") == ts); /* nothing was written */
	esf_sync_ok(&f->b);
	b = history_text(f->b.db);
	assert_non_null(strstr(b, "placeAAAAAAA"));
	assert_non_null(strstr(b, "placeBBBBBBB"));
	assert_non_null(strstr(b, "placeCCCCCCC"));
	free(b);
	/* a single removal still travels once the device has history again */
	visit(f->b.db, "placeAAAAAAA", 1766000000000000LL, 1);
	visit_now(f->b.db, "placeCCCCCCC");
	ffx_sql(f->b.db, "DELETE FROM moz_historyvisits WHERE place_id = 3; DELETE FROM moz_places WHERE id = 3");
	esf_sync_ok(&f->b);
	assert_int_equal(ffx_sql_int(f->b.db, "SELECT count(*) FROM datasync_changes"), 0);
}

/* sync15.md §11 U8 and the limit on uploads: a device uploads only its most recently visited
 * places, and another applies them page by page (one local transaction per page), never all at
 * once. The limit is 5,000 (test_first_upload_marks_only_5000_most_recent_places in
 * history_engine_test.c); here it is 300 and pages are 100 records, so that the test stays quick
 * under valgrind. */
static void test_most_recent_places_uploaded_and_applied_in_bounded_pages(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;

	esf_dev_close(&f->a);
	esf_dev_close(&f->b);
	dev_open_opts(f, &f->a, false, 300, 100);
	dev_open_opts(f, &f->b, true, 300, 100);
	ffx_sql(f->a.db, "BEGIN; WITH RECURSIVE n(i) AS (SELECT 10 UNION ALL SELECT i + 1 FROM n WHERE i < 319)"
		     " INSERT INTO moz_places(id, url, guid, last_visit_date, url_hash, rev_host)"
		     " SELECT i, 'https://bulk.example/' || i, printf('bulk%08d', i), 1760000000000000 + i, 0,"
		     " 'elpmaxe.klub.' FROM n;"
		     " INSERT INTO moz_historyvisits(from_visit, place_id, visit_date, visit_type, session)"
		     " SELECT 0, id, last_visit_date, 1, 0 FROM moz_places WHERE id >= 10; COMMIT");
	ffx_sql(f->a.db, "DELETE FROM datasync_changes");
	esf_sync_ok(&f->a);
	assert_int_equal(ds_fake_sync15_count(f->srv, "history"), 300);
	/* the three fixture places are the newest, then bulk places 319 down to 23 */
	assert_null(ds_fake_sync15_payload(f->srv, "history", "bulk00000022"));
	assert_non_null(ds_fake_sync15_payload(f->srv, "history", "bulk00000023"));
	ds_fake_sync15_clear_log(f->srv);
	memset(&st, 0, sizeof(st));
	assert_int_equal(ds_sync_run(f->b.c, f->b.store, &st, NULL, NULL), 0);
	assert_int_equal(st.applied, 300);
	assert_int_equal(ffx_sql_int(f->b.db, "SELECT count(*) FROM moz_places"), 300);
	assert_int_equal(ffx_sql_int(f->b.db, "SELECT count(*) FROM moz_historyvisits"), 301);
	assert_true(ds_fake_sync15_count_requests(f->srv, "GET storage/history") >= 3);
}

/* An import-only device (the first Firefox OS stages) reads history and never writes: its own
 * visits stay local, the server is untouched by it. */
static void test_import_only_device_reads_and_never_writes(void **state)
{
	struct fx *f = *state;
	int64_t ts;
	char *b;

	esf_dev_close(&f->b);
	next_direction = DS_DIR_IMPORT_ONLY;
	dev_open(f, &f->b, true);
	next_direction = DS_DIR_TWO_WAY;
	ffx_sql(f->b.db, "INSERT INTO moz_places(id, url, title, guid, url_hash, rev_host, frecency)"
		     " VALUES(10, 'https://tv-only.example/', 'TV', 'tvonlyBBBBBB', 0, 'elpmaxe.ylno-vt.', 1)");
	visit(f->b.db, "tvonlyBBBBBB", 1764100000000000LL, 2);
	esf_sync_ok(&f->a);
	ts = ds_fake_sync15_coll_ts(f->srv, "history");
	esf_sync_ok(&f->b);
	b = history_text(f->b.db);
	assert_non_null(strstr(b, "placeAAAAAAA https://www.mozilla.org/ [Mozilla] 1764547200000000/1"));
	assert_non_null(strstr(b, "tvonlyBBBBBB"));
	free(b);
	assert_true(ds_fake_sync15_coll_ts(f->srv, "history") == ts);
	assert_null(ds_fake_sync15_payload(f->srv, "history", "tvonlyBBBBBB"));
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "POST storage/history"), 1); /* A's */
}

/* The download side of the limit is the remote's (sync15.md §9: the newest N on a first sync):
 * the engine applies what it gets, and later runs bring what changes after. */
static void test_first_download_limited_by_the_remote(void **state)
{
	struct fx *f = *state;

	esf_dev_close(&f->a);
	esf_dev_close(&f->b);
	dev_open_opts(f, &f->a, false, 300, 100);
	dev_open_opts(f, &f->b, true, 300, 100);
	/* the remote's default for history is the engine's upload limit: 5,000 both ways */
	assert_int_equal(DS_SYNC15_HISTORY_DOWNLOAD_LIMIT, DS_HISTORY_MAX_PLACES);
	assert_int_equal(ds_sync15_remote_set_download_limit(f->b.c->remote, 250, "newest"), 0);
	ffx_sql(f->a.db, "BEGIN; WITH RECURSIVE n(i) AS (SELECT 10 UNION ALL SELECT i + 1 FROM n WHERE i < 319)"
		     " INSERT INTO moz_places(id, url, guid, last_visit_date, url_hash, rev_host)"
		     " SELECT i, 'https://bulk.example/' || i, printf('bulk%08d', i), 1760000000000000 + i, 0,"
		     " 'elpmaxe.klub.' FROM n;"
		     " INSERT INTO moz_historyvisits(from_visit, place_id, visit_date, visit_type, session)"
		     " SELECT 0, id, last_visit_date, 1, 0 FROM moz_places WHERE id >= 10; COMMIT");
	ffx_sql(f->a.db, "DELETE FROM datasync_changes");
	esf_sync_ok(&f->a);
	esf_sync_ok(&f->b);
	assert_int_equal(ffx_sql_int(f->b.db, "SELECT count(*) FROM moz_places"), 250);
	visit(f->a.db, "placeAAAAAAA", 1766000000000000LL, 1);
	esf_sync_ok(&f->a);
	esf_sync_ok(&f->b);
	assert_int_equal(ffx_sql_int(f->b.db, "SELECT count(*) FROM moz_historyvisits v JOIN moz_places p"
				 " ON p.id = v.place_id WHERE p.guid = 'placeAAAAAAA'"
				 " AND v.visit_date = 1766000000000000"), 1);
}

/* wipeEngine on device d as the daemon runs it: the engine's wipe in its transaction, then the
 * reset of the collection's sync state. */
static void wipe_and_reset(struct esf_dev *d)
{
	struct ds_engine *e = d->c->engine;

	assert_non_null(e->ops->wipe);
	assert_int_equal(e->ops->begin(e), 0);
	assert_int_equal(e->ops->wipe(e), 0);
	assert_int_equal(e->ops->commit(e), 0);
	assert_int_equal(ds_sync_reset(d->c, d->store), 0);
}

/* wipeEngine history: every visit and unbookmarked place goes with the pending changes, no
 * deletion goes up, and the next sync brings the server's history back. */
static void test_wipe_removes_local_history_and_sync_brings_it_back(void **state)
{
	struct fx *f = *state;
	int64_t ts;
	char *before, *after;

	esf_sync_ok(&f->a);
	ts = ds_fake_sync15_coll_ts(f->srv, "history");
	before = history_text(f->a.db);
	assert_true(before[0] != '\0');
	ffx_sql(f->a.db, "INSERT INTO moz_places(url, title, guid, url_hash, foreign_count)"
		     " VALUES('https://wiped.example/', 'w', 'wipedAAAAAAA', 1, 0)");
	visit(f->a.db, "wipedAAAAAAA", 1767225000000000LL, 1);
	assert_true(esf_q(&f->a, "SELECT count(*) FROM datasync_changes") > 0);
	wipe_and_reset(&f->a);
	assert_int_equal(esf_q(&f->a, "SELECT count(*) FROM moz_historyvisits"), 0);
	assert_int_equal(esf_q(&f->a, "SELECT count(*) FROM moz_places WHERE foreign_count = 0"), 0);
	assert_int_equal(esf_q(&f->a, "SELECT count(*) FROM datasync_changes"), 0);
	esf_sync_ok(&f->a);
	assert_true(ds_fake_sync15_coll_ts(f->srv, "history") == ts); /* nothing went up */
	after = history_text(f->a.db);
	assert_string_equal(after, before);
	assert_int_equal(esf_q(&f->a, "SELECT count(*) FROM datasync_changes"), 0);
	free(before);
	free(after);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_devices_converge_on_history, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_visits_merge_on_both_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removed_page_reaches_the_other_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clearing_history_on_one_device_keeps_it_elsewhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_most_recent_places_uploaded_and_applied_in_bounded_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_only_device_reads_and_never_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_download_limited_by_the_remote, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wipe_removes_local_history_and_sync_brings_it_back, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
