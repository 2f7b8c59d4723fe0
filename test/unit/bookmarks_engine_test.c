/*
 * The bookmarks engine on places.sqlite, one device against the in-memory remote, with other
 * clients' records written straight to the server: the record formats, the root mapping, the
 * tree repairs and the rules of docs/engine-bookmarks.md, one test each.
 */
#include "core/ds_core.h"
#include "engine/bookmarks/ds_bookmarks.h"
#include "store/ds_store.h"
#include "sync/ds_sync.h"
#include "test/support/bookmarks_fixture.h"
#include "test/support/fake_remote.h"

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

struct fx {
	struct ds_fake_server *srv;
	struct bmf_dev a;
	char dir[512];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	bmf_tmpdir(f->dir, sizeof(f->dir));
	f->srv = ds_fake_server_new();
	/* Server times in ms like a real server's, before the local clock of the tests. */
	ds_fake_server_set_time(f->srv, INT64_C(1764547200000));
	bmf_dev_open(&f->a, f->dir, f->srv, DS_DIR_TWO_WAY);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	bmf_dev_close(&f->a);
	ds_fake_server_free(f->srv);
	free(f);
	return 0;
}

static void srv_put(struct fx *f, const char *json)
{
	cJSON *o = cJSON_Parse(json);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");

	assert_true(cJSON_IsString(id));
	assert_int_equal(ds_fake_server_put(f->srv, id->valuestring, json), 0);
	cJSON_Delete(o);
}

/* A field of the record the server holds for id; NULL when absent. Caller frees (cJSON). */
static cJSON *srv_record(struct fx *f, const char *id)
{
	const char *p = ds_fake_server_payload(f->srv, id);

	return p ? cJSON_Parse(p) : NULL;
}

static void assert_srv_str(struct fx *f, const char *id, const char *field, const char *want)
{
	cJSON *o = srv_record(f, id);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);

	if (!cJSON_IsString(v) || strcmp(v->valuestring, want) != 0)
		fail_msg("server %s.%s: want %s, have %s", id, field, want,
			 ds_fake_server_payload(f->srv, id) ? ds_fake_server_payload(f->srv, id) : "(none)");
	cJSON_Delete(o);
}

static char *parent_of(sqlite3 *db, const char *guid)
{
	char *q = sqlite3_mprintf("SELECT p.guid FROM moz_bookmarks b JOIN moz_bookmarks p ON"
				  " p.id = b.parent WHERE b.guid = %Q", guid);
	sqlite3_stmt *st;
	char *out = NULL;

	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		out = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_free(q);
	return out;
}

static void assert_parent(sqlite3 *db, const char *guid, const char *want)
{
	char *p = parent_of(db, guid);

	if (!p || strcmp(p, want) != 0)
		fail_msg("%s is in %s, want %s", guid, p ? p : "(nowhere)", want);
	free(p);
}

static int64_t count_where(sqlite3 *db, const char *where)
{
	char *q = sqlite3_mprintf("SELECT count(*) FROM moz_bookmarks WHERE %s", where);
	int64_t n = bmf_int(db, q);

	sqlite3_free(q);
	return n;
}

/* Records as desktop, Fenix and iOS write them come back with every field they had: the ones
 * the browser stores and the ones it does not (hasDupe, folderName, queryId, feedUri, siteUri,
 * description, loadInSidebar, a future field). AT-17. */
static void test_records_round_trip_as_desktop_android_ios_write_them(void **state)
{
	struct fx *f = *state;
	char *text = bmf_read_data("bookmarks_records.json");
	cJSON *doc = cJSON_Parse(text), *recs = cJSON_GetObjectItemCaseSensitive(doc, "records"), *r;
	struct ds_engine *e = f->a.c->engine;
	struct ds_run_stats st;
	int n = 0;

	assert_true(cJSON_IsArray(recs));
	cJSON_ArrayForEach(r, recs) {
		char *p = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(r, "record"));

		srv_put(f, p);
		free(p);
	}
	bmf_sync(&f->a, &st);
	/* A valid tree: nothing to repair; only the roots, which the server did not have. */
	assert_int_equal(st.uploaded, 4);
	cJSON_ArrayForEach(r, recs) {
		const cJSON *in = cJSON_GetObjectItemCaseSensitive(r, "record"), *field;
		const char *id = cJSON_GetObjectItemCaseSensitive(in, "id")->valuestring;
		struct ds_record out;
		cJSON *o;

		assert_int_equal(e->ops->get(e, id, &out), 0);
		o = cJSON_Parse(out.payload);
		assert_non_null(o);
		cJSON_ArrayForEach(field, in) {
			const cJSON *got = cJSON_GetObjectItemCaseSensitive(o, field->string);

			if (strcmp(field->string, "parentName") == 0)
				continue; /* the local parent's title, as AS and desktop send it */
			if (strcmp(field->string, "dateAdded") == 0 && cJSON_IsString(field)) {
				assert_true(cJSON_IsNumber(got));
				assert_true(got->valuedouble == strtod(field->valuestring, NULL));
				continue;
			}
			if (!got || !cJSON_Compare(field, got, 1))
				fail_msg("%s (%s): field %s lost or changed: %s",
					 id, cJSON_GetObjectItemCaseSensitive(r, "client")->valuestring,
					 field->string, out.payload);
		}
		cJSON_Delete(o);
		ds_record_clear(&out);
		n++;
	}
	assert_int_equal(n, 10);
	/* Stored as Firefox keeps them: the query and the bookmark under Work in order, tags as
	 * folders under the tags root, the keyword in moz_keywords, the livemark as a folder. */
	assert_parent(f->a.db, "dsktpQryAAAA", "dsktpFoldAAA");
	assert_int_equal(bmf_int(f->a.db, "SELECT position FROM moz_bookmarks WHERE guid = 'dsktpBmkAAAA'"), 2);
	assert_int_equal(bmf_int(f->a.db, "SELECT count(*) FROM moz_bookmarks t JOIN moz_bookmarks e"
				 " ON e.parent = t.id WHERE t.parent = 4 AND t.title IN ('moz', 'web')"), 2);
	assert_int_equal(bmf_int(f->a.db, "SELECT count(*) FROM moz_keywords k JOIN moz_places h ON"
				 " h.id = k.place_id WHERE k.keyword = 'moz' AND h.url = 'https://www.mozilla.org/'"), 1);
	assert_int_equal(bmf_int(f->a.db, "SELECT type FROM moz_bookmarks WHERE guid = 'dsktpLiveAAA'"), 2);
	assert_int_equal(bmf_int(f->a.db, "SELECT foreign_count FROM moz_places WHERE url = 'https://www.mozilla.org/'"), 4);
	/* Applying the same records again changes nothing and uploads nothing. */
	{
		char *before = bmf_tree(f->a.db, 1), *after;

		bmf_dev_reopen(&f->a, f->srv, DS_DIR_TWO_WAY);
		assert_int_equal(ds_store_cursor_set(f->a.store, "bookmarks", "", ""), 0);
		bmf_sync(&f->a, &st);
		assert_int_equal(st.uploaded, 0);
		after = bmf_tree(f->a.db, 1);
		assert_string_equal(before, after);
		free(before);
		free(after);
	}
	cJSON_Delete(doc);
	free(text);
}

/* AT-19: menu/toolbar/unfiled/mobile are Firefox's root guids locally and the short names on
 * the server, as ids, parentids and children. */
static void test_root_ids_mapped_both_ways(void **state)
{
	struct fx *f = *state;
	cJSON *o;

	srv_put(f, "{\"id\":\"toolbar\",\"type\":\"folder\",\"parentid\":\"places\",\"title\":\"toolbar\","
		   "\"children\":[\"remoteAAAAAA\"]}");
	srv_put(f, "{\"id\":\"remoteAAAAAA\",\"type\":\"bookmark\",\"parentid\":\"toolbar\","
		   "\"title\":\"R\",\"bmkUri\":\"https://example.com/r\"}");
	bmf_add_bookmark(f->a.db, "localBBBBBBB", "mobile______", "L", "https://example.com/l");
	bmf_sync(&f->a, NULL);
	assert_parent(f->a.db, "remoteAAAAAA", "toolbar_____");
	assert_srv_str(f, "localBBBBBBB", "parentid", "mobile");
	o = srv_record(f, "mobile");
	assert_non_null(o);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "parentid")->valuestring, "places");
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "children"), 0)->valuestring,
			    "localBBBBBBB");
	cJSON_Delete(o);
	/* Never uploaded: the places root and the tags root. */
	assert_null(ds_fake_server_payload(f->srv, "root________"));
	assert_null(ds_fake_server_payload(f->srv, "places"));
	assert_null(ds_fake_server_payload(f->srv, "tags________"));
	assert_null(ds_fake_server_payload(f->srv, "menu________"));
}

/* dateAdded as a string is read; a negative one is clamped (to "unknown": the local time). */
static void test_string_date_added_accepted_negative_clamped(void **state)
{
	struct fx *f = *state;

	srv_put(f, "{\"id\":\"strDateAAAAA\",\"type\":\"bookmark\",\"parentid\":\"unfiled\","
		   "\"title\":\"S\",\"bmkUri\":\"https://example.com/s\",\"dateAdded\":\"1500000000000\"}");
	srv_put(f, "{\"id\":\"negDateAAAAA\",\"type\":\"bookmark\",\"parentid\":\"unfiled\","
		   "\"title\":\"N\",\"bmkUri\":\"https://example.com/n\",\"dateAdded\":-5}");
	bmf_sync(&f->a, NULL);
	assert_int_equal(bmf_int(f->a.db, "SELECT dateAdded FROM moz_bookmarks WHERE guid = 'strDateAAAAA'"),
			 INT64_C(1500000000000000));
	assert_true(bmf_int(f->a.db, "SELECT dateAdded FROM moz_bookmarks WHERE guid = 'negDateAAAAA'") > 0);
}

/* Children before their folder, one record per page: parked in unfiled, then moved into the
 * folder in the folder's order when it comes; a valid tree is not uploaded back (only the
 * roots, which the server lacks). A parent missing for a whole run leaves the item in unfiled,
 * uploaded there; when the folder comes in a later run, it moves in. */
static void test_orphan_parked_in_unfiled_then_moved_to_its_parent(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;

	ds_fake_server_set_page_size(f->srv, 1);
	srv_put(f, "{\"id\":\"kidBBBBBBBBB\",\"type\":\"bookmark\",\"parentid\":\"folderAAAAAA\","
		   "\"title\":\"B\",\"bmkUri\":\"https://example.com/b\"}");
	srv_put(f, "{\"id\":\"kidAAAAAAAAA\",\"type\":\"bookmark\",\"parentid\":\"folderAAAAAA\","
		   "\"title\":\"A\",\"bmkUri\":\"https://example.com/a\"}");
	srv_put(f, "{\"id\":\"folderAAAAAA\",\"type\":\"folder\",\"parentid\":\"menu\",\"title\":\"F\","
		   "\"children\":[\"kidAAAAAAAAA\",\"kidBBBBBBBBB\"]}");
	bmf_sync(&f->a, &st);
	assert_parent(f->a.db, "kidAAAAAAAAA", "folderAAAAAA");
	assert_parent(f->a.db, "kidBBBBBBBBB", "folderAAAAAA");
	assert_int_equal(bmf_int(f->a.db, "SELECT position FROM moz_bookmarks WHERE guid = 'kidAAAAAAAAA'"), 0);
	assert_int_equal(bmf_int(f->a.db, "SELECT position FROM moz_bookmarks WHERE guid = 'kidBBBBBBBBB'"), 1);
	assert_int_equal(count_where(f->a.db, "parent = 5"), 0);
	assert_int_equal(st.uploaded, 4);
	assert_null(ds_fake_server_payload(f->srv, "kidAAAAAAAAA") == NULL ? NULL : strstr(
		ds_fake_server_payload(f->srv, "kidAAAAAAAAA"), "unfiled"));

	/* A parent that does not come in this run. */
	srv_put(f, "{\"id\":\"kidCCCCCCCCC\",\"type\":\"bookmark\",\"parentid\":\"folderBBBBBB\","
		   "\"title\":\"C\",\"bmkUri\":\"https://example.com/c\"}");
	bmf_sync(&f->a, NULL);
	assert_parent(f->a.db, "kidCCCCCCCCC", "unfiled_____");
	assert_srv_str(f, "kidCCCCCCCCC", "parentid", "unfiled");
	/* Another parked one is moved by its own newer record before its old folder ever comes. */
	srv_put(f, "{\"id\":\"kidDDDDDDDDD\",\"type\":\"bookmark\",\"parentid\":\"neverComesFF\","
		   "\"title\":\"D\",\"bmkUri\":\"https://example.com/d\"}");
	bmf_sync(&f->a, NULL);
	srv_put(f, "{\"id\":\"kidDDDDDDDDD\",\"type\":\"bookmark\",\"parentid\":\"toolbar\","
		   "\"title\":\"D\",\"bmkUri\":\"https://example.com/d\"}");
	srv_put(f, "{\"id\":\"folderBBBBBB\",\"type\":\"folder\",\"parentid\":\"menu\",\"title\":\"FB\","
		   "\"children\":[\"kidCCCCCCCCC\"]}");
	bmf_sync(&f->a, NULL);
	assert_parent(f->a.db, "kidCCCCCCCCC", "folderBBBBBB");
	assert_srv_str(f, "kidCCCCCCCCC", "parentid", "folderBBBBBB");
	assert_parent(f->a.db, "kidDDDDDDDDD", "toolbar_____");
	assert_int_equal(count_where(f->a.db, "parent = 5"), 0);
}

/* A parent that never comes, a parent that is a bookmark, and two folders naming each other as
 * parent: each item lands somewhere valid (unfiled), no cycle, and the repaired places go back
 * to the server. */
static void test_invalid_parents_and_cycles_repaired_and_uploaded(void **state)
{
	struct fx *f = *state;
	char *tree;

	srv_put(f, "{\"id\":\"lostAAAAAAAA\",\"type\":\"bookmark\",\"parentid\":\"neverComesAA\","
		   "\"title\":\"lost\",\"bmkUri\":\"https://example.com/lost\"}");
	srv_put(f, "{\"id\":\"plainAAAAAAA\",\"type\":\"bookmark\",\"parentid\":\"menu\","
		   "\"title\":\"plain\",\"bmkUri\":\"https://example.com/plain\"}");
	srv_put(f, "{\"id\":\"underBmkAAAA\",\"type\":\"bookmark\",\"parentid\":\"plainAAAAAAA\","
		   "\"title\":\"under\",\"bmkUri\":\"https://example.com/under\"}");
	srv_put(f, "{\"id\":\"cycleAAAAAAA\",\"type\":\"folder\",\"parentid\":\"cycleBBBBBBB\","
		   "\"title\":\"CA\",\"children\":[\"cycleBBBBBBB\"]}");
	srv_put(f, "{\"id\":\"cycleBBBBBBB\",\"type\":\"folder\",\"parentid\":\"cycleAAAAAAA\","
		   "\"title\":\"CB\",\"children\":[\"cycleAAAAAAA\"]}");
	bmf_sync(&f->a, NULL);
	assert_parent(f->a.db, "lostAAAAAAAA", "unfiled_____");
	assert_parent(f->a.db, "underBmkAAAA", "unfiled_____");
	/* One of the two folders holds the other; the outer one hangs from a root. */
	{
		char *pa = parent_of(f->a.db, "cycleAAAAAAA"), *pb = parent_of(f->a.db, "cycleBBBBBBB");

		assert_non_null(pa);
		assert_non_null(pb);
		assert_true((strcmp(pa, "cycleBBBBBBB") == 0) != (strcmp(pb, "cycleAAAAAAA") == 0));
		assert_true(strcmp(pa, "unfiled_____") == 0 || strcmp(pb, "unfiled_____") == 0);
		free(pa);
		free(pb);
	}
	tree = bmf_tree(f->a.db, 1);
	assert_null(strstr(tree, "(position gap)"));
	free(tree);
	assert_srv_str(f, "lostAAAAAAAA", "parentid", "unfiled");
	assert_srv_str(f, "underBmkAAAA", "parentid", "unfiled");
	{
		cJSON *u = srv_record(f, "unfiled");

		assert_non_null(u);
		assert_true(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(u, "children")) >= 3);
		cJSON_Delete(u);
	}
}

/* A folder lists a child whose parentid names another folder: the children list is the
 * structure (dogear), and the child goes back up with the parentid it has now. */
static void test_children_list_wins_over_parentid_and_is_uploaded(void **state)
{
	struct fx *f = *state;

	srv_put(f, "{\"id\":\"folderGGGGGG\",\"type\":\"folder\",\"parentid\":\"menu\",\"title\":\"G\","
		   "\"children\":[]}");
	srv_put(f, "{\"id\":\"folderFFFFFF\",\"type\":\"folder\",\"parentid\":\"menu\",\"title\":\"F\","
		   "\"children\":[\"childXXXXXXX\"]}");
	srv_put(f, "{\"id\":\"childXXXXXXX\",\"type\":\"bookmark\",\"parentid\":\"folderGGGGGG\","
		   "\"title\":\"X\",\"bmkUri\":\"https://example.com/x\"}");
	bmf_sync(&f->a, NULL);
	assert_parent(f->a.db, "childXXXXXXX", "folderFFFFFF");
	assert_srv_str(f, "childXXXXXXX", "parentid", "folderFFFFFF");
}

/* Tags and keywords set in Firefox travel in the bookmark's record; a tag rename too. */
static void test_local_tags_and_keyword_uploaded(void **state)
{
	struct fx *f = *state;
	cJSON *o;

	bmf_add_bookmark(f->a.db, "taggedAAAAAA", "toolbar_____", "T", "https://example.com/t");
	bmf_tag(f->a.db, "https://example.com/t", "red");
	bmf_sql(f->a.db, "INSERT INTO moz_keywords(keyword, place_id) SELECT 'tk', id FROM moz_places"
			 " WHERE url = 'https://example.com/t'");
	bmf_sync(&f->a, NULL);
	assert_srv_str(f, "taggedAAAAAA", "keyword", "tk");
	o = srv_record(f, "taggedAAAAAA");
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "tags"), 0)->valuestring, "red");
	cJSON_Delete(o);
	bmf_sql(f->a.db, "UPDATE moz_bookmarks SET title = 'blue' WHERE parent = 4 AND title = 'red'");
	bmf_sync(&f->a, NULL);
	o = srv_record(f, "taggedAAAAAA");
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "tags"), 0)->valuestring, "blue");
	cJSON_Delete(o);
	/* The tag folders and entries themselves are never records. */
	assert_int_equal(ds_fake_server_count(f->srv), 5 /* 4 roots + the bookmark */);
}

struct sort_seen {
	const char *id;
	int32_t want;
	bool deleted;
	bool seen;
};

static int sort_cb(const struct ds_record *r, void *user_data)
{
	struct sort_seen *w = user_data;

	/* No BSO ttl on any bookmark record: desktop and AS let them live for ever. */
	assert_int_equal(r->ttl_s, 0);
	for (; w->id; w++) {
		if (strcmp(w->id, r->id) != 0)
			continue;
		if (r->sortindex != w->want || r->deleted != w->deleted)
			fail_msg("%s: sortindex %d deleted %d, want %d %d", r->id, (int)r->sortindex,
				 r->deleted, (int)w->want, w->deleted);
		w->seen = true;
	}
	return 0;
}

/* desktop bookmarks.sys.mjs BookmarksStore._calculateIndex: folders 1,000,000, bookmarks
 * their URL's frecency (none while it is -1), 150 more directly in the toolbar. */
static void test_records_carry_desktop_sortindex_and_no_ttl(void **state)
{
	struct fx *f = *state;
	struct sort_seen want[] = {
		{ "folderAAAAAA", DS_BM_FOLDER_SORTINDEX, false, false },
		{ "menu", DS_BM_FOLDER_SORTINDEX, false, false },
		{ "inFolderAAAA", 2500, false, false },
		{ "onToolbarAAA", DS_BM_TOOLBAR_BOOST + 40, false, false },
		{ "unrankedAAAA", 0, false, false },
		{ "separatorAAA", DS_BM_TOOLBAR_BOOST, false, false },
		{ "goneAAAAAAAA", 0, true, false },
		{ NULL, 0, false, false },
	};
	struct ds_bookmarks_store *s;
	struct ds_engine *e;

	bmf_add_folder(f->a.db, "folderAAAAAA", "menu________", "F");
	bmf_add_bookmark(f->a.db, "inFolderAAAA", "folderAAAAAA", "B", "https://example.com/b");
	bmf_add_bookmark(f->a.db, "onToolbarAAA", "toolbar_____", "T", "https://example.com/t");
	bmf_add_bookmark(f->a.db, "unrankedAAAA", "unfiled_____", "U", "https://example.com/u");
	bmf_add_separator(f->a.db, "separatorAAA", "toolbar_____");
	bmf_add_bookmark(f->a.db, "goneAAAAAAAA", "menu________", "G", "https://example.com/g");
	bmf_remove(f->a.db, "goneAAAAAAAA");
	bmf_sql(f->a.db, "UPDATE moz_places SET frecency = 2500 WHERE url = 'https://example.com/b';"
			 "UPDATE moz_places SET frecency = 40 WHERE url = 'https://example.com/t'");
	assert_int_equal(ds_bookmarks_places_open(f->a.places, &s), 0);
	assert_int_equal(ds_bookmarks_engine_new(s, NULL, &e), 0);
	assert_int_equal(e->ops->mark_all(e), 0);
	assert_int_equal(e->ops->changes(e, sort_cb, want), 0);
	e->ops->close(e);
	for (size_t i = 0; want[i].id; i++)
		if (!want[i].seen)
			fail_msg("no record for %s", want[i].id);
}

/* The store keeps its statements prepared between uses; one left running after its last row
 * would hold a read transaction (a WAL snapshot, or a SHARED lock in rollback mode) after the
 * sync: the browser could then not checkpoint its WAL (nor commit, in rollback mode), and the
 * engine's next BEGIN IMMEDIATE would fail on a stale snapshot. */
static void test_engine_holds_no_read_transaction_between_syncs(void **state)
{
	struct fx *f = *state;
	int nlog = 0, nckpt = 0;

	bmf_add_folder(f->a.db, "folderAAAAAA", "toolbar_____", "F");
	bmf_add_bookmark(f->a.db, "inFolderAAAA", "folderAAAAAA", "B", "https://example.com/b");
	bmf_add_separator(f->a.db, "separatorAAA", "folderAAAAAA");
	bmf_tag(f->a.db, "https://example.com/b", "red");
	bmf_sync(&f->a, NULL);
	srv_put(f, "{\"id\":\"remoteAAAAAA\",\"type\":\"bookmark\",\"parentid\":\"folderAAAAAA\","
		   "\"title\":\"R\",\"bmkUri\":\"https://example.com/r\",\"tags\":[\"blue\"]}");
	srv_put(f, "{\"id\":\"orphanAAAAAA\",\"type\":\"bookmark\",\"parentid\":\"laterAAAAAAA\","
		   "\"title\":\"O\",\"bmkUri\":\"https://example.com/o\"}");
	bmf_sync(&f->a, NULL);
	bmf_add_bookmark(f->a.db, "afterAAAAAAA", "menu________", "A", "https://example.com/a");
	sqlite3_busy_timeout(f->a.db, 0);
	assert_int_equal(sqlite3_wal_checkpoint_v2(f->a.db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &nlog,
						   &nckpt), SQLITE_OK);
	sqlite3_busy_timeout(f->a.db, 2000);
	bmf_sync(&f->a, NULL);
	assert_non_null(ds_fake_server_payload(f->srv, "afterAAAAAAA"));
}

/* Records the engine cannot store are skipped, counted, and change nothing. */
static void test_malformed_records_skipped(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;
	char *before = bmf_tree(f->a.db, 1), *after;
	int rc;

	srv_put(f, "{\"id\":\"noTypeAAAAAA\",\"parentid\":\"menu\"}");
	srv_put(f, "{\"id\":\"noUriAAAAAAA\",\"type\":\"bookmark\",\"parentid\":\"menu\"}");
	srv_put(f, "{\"id\":\"microAAAAAAA\",\"type\":\"microsummary\",\"parentid\":\"menu\"}");
	srv_put(f, "{\"id\":\"menu\",\"type\":\"bookmark\",\"parentid\":\"places\",\"bmkUri\":\"https://x/\"}");
	memset(&st, 0, sizeof(st));
	rc = ds_sync_run(f->a.c, f->a.store, &st, NULL, NULL);
	assert_int_equal(rc, 0);
	assert_int_equal(st.errors, 4);
	after = bmf_tree(f->a.db, 1);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

/* Unregistering removes our triggers and side tables and leaves Firefox's tables alone. */
static void test_unregister_removes_triggers_and_side_tables(void **state)
{
	struct fx *f = *state;
	cJSON *cfg = cJSON_CreateObject();

	bmf_add_bookmark(f->a.db, "keepMeAAAAAA", "menu________", "K", "https://example.com/k");
	cJSON_AddStringToObject(cfg, "kind", "bookmarks");
	cJSON_AddStringToObject(cfg, "places", f->a.places);
	assert_int_equal(ds_bookmarks_engine_unregister(cfg), 0);
	cJSON_Delete(cfg);
	assert_int_equal(bmf_int(f->a.db, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'datasync_bm%'"), 0);
	assert_int_equal(count_where(f->a.db, "guid = 'keepMeAAAAAA'"), 1);
	/* Firefox goes on writing without our triggers. */
	bmf_add_bookmark(f->a.db, "afterAAAAAAA", "menu________", "A", "https://example.com/a2");
}

/* The registration's engine object opens the engine through the factory, with the same
 * "places" key as history; a missing key or file is refused. */
static void test_registration_opens_through_the_factory(void **state)
{
	struct fx *f = *state;
	cJSON *cfg = cJSON_CreateObject();
	struct ds_engine *e = NULL;

	cJSON_AddStringToObject(cfg, "kind", "bookmarks");
	assert_int_equal(ds_engine_open(cfg, &e), -EINVAL);
	cJSON_AddStringToObject(cfg, "places", f->a.places);
	assert_int_equal(ds_engine_open(cfg, &e), 0);
	assert_string_equal(e->ops->kind, "bookmarks");
	assert_int_equal(e->ops->prepare(e), 0);
	e->ops->close(e);
	cJSON_ReplaceItemInObject(cfg, "places", cJSON_CreateString("no-such-profile/places.sqlite"));
	assert_int_not_equal(ds_engine_open(cfg, &e), 0);
	cJSON_Delete(cfg);
}

static char *guid_where(sqlite3 *db, const char *where)
{
	char *q = sqlite3_mprintf("SELECT guid FROM moz_bookmarks WHERE %s", where);
	sqlite3_stmt *st;
	char *out = NULL;

	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		out = strdup((const char *)sqlite3_column_text(st, 0));
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_free(q);
	assert_non_null(out);
	return out;
}

static void assert_srv_children(struct fx *f, const char *id, const char *const *want, size_t n)
{
	cJSON *o = srv_record(f, id);
	const cJSON *ch = cJSON_GetObjectItemCaseSensitive(o, "children");

	if (!cJSON_IsArray(ch) || (size_t)cJSON_GetArraySize(ch) != n)
		fail_msg("server %s: want %zu children: %s", id, n, ds_fake_server_payload(f->srv, id));
	for (size_t i = 0; i < n; i++)
		assert_string_equal(cJSON_GetArrayItem(ch, (int)i)->valuestring, want[i]);
	cJSON_Delete(o);
}

/* AS and desktop give a local item whose guid is no Sync id ([A-Za-z0-9_-]{12}) a new one
 * before it goes up (dogear Validity, CompletionOps::change_guids): here a folder with such a
 * guid, holding a bookmark with one too (tagged, with a keyword) and a valid one, and a
 * bookmark the server already holds under an invalid id. Each keeps its place, tags and
 * keyword under a fresh guid; the server gets the new ids (folder, children's parentid, the
 * menu's list) and a tombstone for the old id it had; no record with an invalid id goes up. */
static void test_invalid_local_guids_renewed_before_upload(void **state)
{
	struct fx *f = *state;
	char *folder, *kid, *legacy;
	cJSON *o;

	bmf_add_bookmark(f->a.db, "firstAAAAAAA", "menu________", "First", "https://example.com/1");
	bmf_add_folder(f->a.db, "bad folder", "menu________", "Bad folder");
	bmf_add_bookmark(f->a.db, "{short}", "bad folder", "Short", "https://example.com/s");
	bmf_add_bookmark(f->a.db, "kidValidAAAA", "bad folder", "Valid", "https://example.com/v");
	/* Too long to be an item at all: left alone, and nothing goes up for it, cut or whole. */
	bmf_add_bookmark(f->a.db, "a-guid-of-seventy-characters-a-guid-of-seventy-characters-a-guid-of-se",
			 "menu________", "Long", "https://example.com/long");
	bmf_tag(f->a.db, "https://example.com/s", "red");
	bmf_sql(f->a.db, "INSERT INTO moz_keywords(keyword, place_id) SELECT 'sk', id FROM moz_places"
			 " WHERE url = 'https://example.com/s'");
	srv_put(f, "{\"id\":\"legacy.id\",\"type\":\"bookmark\",\"parentid\":\"toolbar\","
		   "\"title\":\"Legacy\",\"bmkUri\":\"https://example.com/l\"}");
	bmf_sync(&f->a, NULL);

	assert_int_equal(count_where(f->a.db, "guid IN ('bad folder', '{short}', 'legacy.id')"), 0);
	folder = guid_where(f->a.db, "title = 'Bad folder'");
	kid = guid_where(f->a.db, "title = 'Short' AND parent = (SELECT id FROM moz_bookmarks WHERE"
				  " title = 'Bad folder')");
	legacy = guid_where(f->a.db, "title = 'Legacy'");
	assert_true(ds_bookmarks_guid_valid(folder));
	assert_true(ds_bookmarks_guid_valid(kid));
	assert_true(ds_bookmarks_guid_valid(legacy));
	/* Same places: parent and position kept, children still inside. */
	assert_parent(f->a.db, folder, "menu________");
	assert_int_equal(bmf_int(f->a.db, "SELECT position FROM moz_bookmarks WHERE title = 'Bad folder'"), 1);
	assert_parent(f->a.db, kid, folder);
	assert_parent(f->a.db, "kidValidAAAA", folder);
	assert_parent(f->a.db, legacy, "toolbar_____");
	/* Tags and keyword stay with the bookmark's URL, and go up with it. */
	assert_int_equal(bmf_int(f->a.db, "SELECT count(*) FROM moz_keywords k JOIN moz_places h ON"
				 " h.id = k.place_id WHERE h.url = 'https://example.com/s' AND k.keyword = 'sk'"), 1);
	assert_srv_str(f, kid, "keyword", "sk");
	o = srv_record(f, kid);
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "tags"), 0)->valuestring, "red");
	cJSON_Delete(o);
	/* The server: new ids everywhere, the old ones absent or deleted. */
	assert_null(ds_fake_server_payload(f->srv, "bad folder"));
	assert_null(ds_fake_server_payload(f->srv, "{short}"));
	assert_null(ds_fake_server_payload(f->srv, "legacy.id"));
	assert_int_equal(ds_fake_server_versions(f->srv, "bad folder"), 0);
	assert_int_equal(ds_fake_server_versions(f->srv, "{short}"), 0);
	assert_int_equal(ds_fake_server_versions(f->srv, "legacy.id"), 2 /* its record, our tombstone */);
	assert_srv_str(f, folder, "parentid", "menu");
	assert_srv_str(f, kid, "parentid", folder);
	assert_srv_str(f, "kidValidAAAA", "parentid", folder);
	assert_srv_str(f, legacy, "parentid", "toolbar");
	{
		const char *menu[] = { "firstAAAAAAA", folder };
		const char *inside[] = { kid, "kidValidAAAA" };
		const char *toolbar[] = { legacy };

		assert_srv_children(f, "menu", menu, 2);
		assert_srv_children(f, folder, inside, 2);
		assert_srv_children(f, "toolbar", toolbar, 1);
	}
	assert_int_equal(ds_fake_server_count(f->srv), 4 /* roots */ + 5);
	assert_int_equal(ds_fake_server_versions(f->srv, "a-guid-of-seventy-characters-a-guid-of-"
						 "seventy-characters-a-gui"), 0);
	/* The change log followed the new guids: nothing is left to upload. */
	assert_int_equal(bmf_int(f->a.db, "SELECT count(*) FROM datasync_bm_changes WHERE"
				 " length(guid) < 64"), 0);
	free(folder);
	free(kid);
	free(legacy);
}

/* A profile without Firefox's bookmark roots is refused. */
static void test_profile_without_roots_refused(void **state)
{
	struct fx *f = *state;
	struct ds_bookmarks_store *s = NULL;

	bmf_sql(f->a.db, "DELETE FROM moz_bookmarks WHERE guid = 'mobile______'");
	assert_int_equal(ds_bookmarks_places_open(f->a.places, &s), -EPROTO);
	assert_null(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_records_round_trip_as_desktop_android_ios_write_them, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_ids_mapped_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_string_date_added_accepted_negative_clamped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orphan_parked_in_unfiled_then_moved_to_its_parent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_parents_and_cycles_repaired_and_uploaded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_children_list_wins_over_parentid_and_is_uploaded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_local_tags_and_keyword_uploaded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_records_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unregister_removes_triggers_and_side_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registration_opens_through_the_factory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_profile_without_roots_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_local_guids_renewed_before_upload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_records_carry_desktop_sortindex_and_no_ttl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_holds_no_read_transaction_between_syncs, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
