/*
 * The bookmarks and history engines on one places.sqlite (both registered with the same
 * "places" path): each engine's triggers and side tables are its own, so each sees only its
 * own changes, and unregistering one leaves the other working (docs/engine-bookmarks.md).
 */
#include "core/ds_core.h"
#include "engine/bookmarks/ds_bookmarks.h"
#include "engine/history/ds_history.h"
#include "sync/ds_sync.h"
#include "test/support/bookmarks_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct seen {
	char ids[16][DS_BROWSER_ID_MAX];
	size_t n;
};

static int collect(const struct ds_record *r, void *user_data)
{
	struct seen *s = user_data;

	if (s->n < 16)
		snprintf(s->ids[s->n++], DS_BROWSER_ID_MAX, "%s", r->id);
	return 0;
}

static bool has(const struct seen *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->ids[i], id) == 0)
			return true;
	return false;
}

static void test_bookmarks_and_history_share_places_sqlite(void **state)
{
	char dir[512], path[700];
	struct ds_bookmarks_store *bs;
	struct ds_history_store *hs;
	struct ds_engine *bm, *hist;
	struct seen sb = { .n = 0 }, sh = { .n = 0 };
	sqlite3 *db;
	cJSON *cfg;

	DS_UNUSED(state);
	bmf_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/shared-%d.sqlite", dir, (int)getpid());
	bmf_make_places(path);
	assert_int_equal(ds_bookmarks_places_open(path, &bs), 0);
	assert_int_equal(ds_bookmarks_engine_new(bs, NULL, &bm), 0);
	assert_int_equal(ds_history_places_open(path, &hs), 0);
	assert_int_equal(ds_history_engine_new(hs, NULL, &hist), 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);

	/* Firefox: a bookmark of a new page, and a visit to a known one. */
	bmf_add_bookmark(db, "bmkShared000", "toolbar_____", "Shared", "https://shared.example/");
	bmf_sql(db, "INSERT INTO moz_historyvisits(from_visit, place_id, visit_date, visit_type, session)"
		    " VALUES(0, 2, 1764600000000000, 1, 0)");

	assert_int_equal(bm->ops->changes(bm, collect, &sb), 0);
	assert_int_equal(hist->ops->changes(hist, collect, &sh), 0);
	assert_true(has(&sb, "bmkShared000"));
	assert_true(has(&sb, "toolbar"));
	assert_false(has(&sb, "placeBBBBBBB"));
	assert_true(has(&sh, "placeBBBBBBB"));
	assert_false(has(&sh, "bmkShared000"));
	assert_false(has(&sh, "toolbar_____"));

	/* The bookmarks collection goes; history keeps logging. */
	bm->ops->close(bm);
	cfg = cJSON_CreateObject();
	cJSON_AddStringToObject(cfg, "kind", "bookmarks");
	cJSON_AddStringToObject(cfg, "places", path);
	assert_int_equal(ds_bookmarks_engine_unregister(cfg), 0);
	cJSON_Delete(cfg);
	bmf_sql(db, "INSERT INTO moz_historyvisits(from_visit, place_id, visit_date, visit_type, session)"
		    " VALUES(0, 3, 1764600000000001, 1, 0)");
	sh.n = 0;
	assert_int_equal(hist->ops->changes(hist, collect, &sh), 0);
	assert_true(has(&sh, "placeCCCCCCC"));
	bmf_add_bookmark(db, "bmkAfter0000", "toolbar_____", "After", "https://after.example/");
	assert_int_equal(bmf_int(db, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'datasync_bm%'"), 0);
	assert_true(bmf_int(db, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'datasync_history%'") > 0);

	hist->ops->close(hist);
	sqlite3_close(db);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bookmarks_and_history_share_places_sqlite),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
