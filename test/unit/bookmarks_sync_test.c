/*
 * Bookmarks between devices through the sync core and the in-memory remote (fake_remote.h),
 * each device with its own places.sqlite in Firefox's schema: the acceptance tests U1-U3 of
 * sync15.md §11 and the delete-versus-change rules of docs/engine-bookmarks.md.
 */
#include "core/ds_core.h"
#include "engine/bookmarks/ds_bookmarks.h"
#include "store/ds_store.h"
#include "sync/ds_sync.h"
#include "test/support/bookmarks_fixture.h"
#include "test/support/count_alloc.h"
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
#include <time.h>
#include <unistd.h>

struct fx {
	struct ds_fake_server *srv;
	struct bmf_dev a, b;
	char dir[512];
};

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	bmf_tmpdir(f->dir, sizeof(f->dir));
	f->srv = ds_fake_server_new();
	/* The server's clock: the machine's, like the local change times the triggers record. */
	ds_fake_server_set_time(f->srv, wall_ms());
	bmf_dev_open(&f->a, f->dir, f->srv, DS_DIR_TWO_WAY);
	bmf_dev_open(&f->b, f->dir, f->srv, DS_DIR_TWO_WAY);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	bmf_dev_close(&f->a);
	bmf_dev_close(&f->b);
	ds_fake_server_free(f->srv);
	free(f);
	return 0;
}

static void assert_same_trees(struct fx *f)
{
	char *a = bmf_tree(f->a.db, 1), *b = bmf_tree(f->b.db, 1);

	if (strcmp(a, b) != 0)
		fail_msg("devices differ:\nA:\n%sB:\n%s", a, b);
	assert_null(strstr(a, "(position gap)"));
	free(a);
	free(b);
}

static void assert_tree_has(struct bmf_dev *d, const char *text, bool want)
{
	char *t = bmf_tree(d->db, 1);

	if ((strstr(t, text) != NULL) != want)
		fail_msg("%s %s in:\n%s", want ? "missing" : "unexpected", text, t);
	free(t);
}

static int64_t count_where(struct bmf_dev *d, const char *where)
{
	char *q = sqlite3_mprintf("SELECT count(*) FROM moz_bookmarks WHERE %s", where);
	int64_t n = bmf_int(d->db, q);

	sqlite3_free(q);
	return n;
}

/* The same small tree, made on a device with its own guids (prefix p, 1 char). */
static void make_tree(struct bmf_dev *d, char p)
{
	char g[6][13];

	for (int i = 0; i < 6; i++)
		snprintf(g[i], sizeof(g[i]), "%c%cxxxxxxxxxx", p, 'a' + i);
	/* The folder's guid sorts after its children's, so the server sends children first. */
	g[0][1] = 'z';
	bmf_add_folder(d->db, g[0], "menu________", "Work");
	bmf_add_bookmark(d->db, g[1], g[0], "Mozilla", "https://www.mozilla.org/");
	bmf_add_separator(d->db, g[2], g[0]);
	bmf_add_bookmark(d->db, g[3], g[0], "Example", "https://example.com/");
	bmf_add_bookmark(d->db, g[4], "toolbar_____", "News", "https://news.example.com/");
	bmf_add_folder(d->db, g[5], "toolbar_____", "Empty");
}

/* Device A's tree, synced by A and then by B: both hold it, and the server. */
static void share_tree(struct fx *f)
{
	make_tree(&f->a, 'A');
	bmf_sync(&f->a, NULL);
	bmf_sync(&f->b, NULL);
}

/* U1: two devices with identical trees sync: no duplicates on either device or the server,
 * the second device takes the first one's guids; more runs upload nothing. */
static void test_u1_identical_trees_give_no_duplicates_and_repeat_syncs_are_idempotent(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;

	make_tree(&f->a, 'A');
	make_tree(&f->b, 'B');
	bmf_sync(&f->a, NULL);
	bmf_sync(&f->b, &st);
	assert_int_equal(st.uploaded, 0);
	bmf_sync(&f->a, &st);
	assert_int_equal(st.uploaded, 0);
	assert_same_trees(f);
	assert_int_equal(count_where(&f->b, "guid LIKE 'B%'"), 0);
	assert_int_equal(ds_fake_server_count(f->srv), 4 + 6);
	for (int i = 0; i < 2; i++) {
		bmf_sync(&f->a, &st);
		assert_int_equal(st.uploaded, 0);
		bmf_sync(&f->b, &st);
		assert_int_equal(st.uploaded, 0);
	}
	assert_same_trees(f);
}

/* U1 with nested folders whose records come children first (a subfolder before its folder):
 * the parked remote subfolder meets its local twin when its folder arrives, and they merge. */
static void test_u1_nested_folders_sent_children_first_give_no_duplicates(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;

	for (int d = 0; d < 2; d++) {
		struct bmf_dev *dev = d ? &f->b : &f->a;
		char p = d ? 'B' : 'A', g[4][13];

		for (int i = 0; i < 4; i++)
			snprintf(g[i], sizeof(g[i]), "%c%cnested%04d", p, 'z' - i, i);
		bmf_add_folder(dev->db, g[0], "toolbar_____", "Top");
		bmf_add_folder(dev->db, g[1], g[0], "Middle");
		bmf_add_folder(dev->db, g[2], g[1], "Bottom");
		bmf_add_bookmark(dev->db, g[3], g[2], "Deep", "https://deep.example/");
	}
	/* A uploads its changes in log order: reversed, the deepest item reaches the server first. */
	bmf_sql(f->a.db, "UPDATE datasync_bm_changes SET seq = 1000 - seq");
	bmf_sql(f->a.db, "UPDATE datasync_bm_state SET seq = 1000");
	bmf_sync(&f->a, NULL);
	bmf_sync(&f->b, &st);
	assert_same_trees(f);
	assert_int_equal(count_where(&f->b, "title = 'Middle'"), 1);
	assert_int_equal(count_where(&f->b, "title = 'Deep'"), 1);
	assert_int_equal(count_where(&f->b, "guid LIKE 'B%'"), 0);
	bmf_sync(&f->a, NULL);
	bmf_sync(&f->b, &st);
	assert_int_equal(st.uploaded, 0);
	assert_same_trees(f);
}

/* Content dedupe only takes new local items: one that was synced before is never merged into
 * an incoming item with the same content (that would lose one of two real bookmarks). */
static void test_dedupe_only_takes_items_never_synced(void **state)
{
	struct fx *f = *state;

	bmf_add_bookmark(f->a.db, "twinAAAAAAAA", "unfiled_____", "Twin", "https://example.com/twin");
	bmf_sync(&f->a, NULL);
	bmf_sync(&f->b, NULL);
	/* B makes a second one with the same content; A too, on its own. */
	bmf_add_bookmark(f->b.db, "twinBBBBBBBB", "unfiled_____", "Twin", "https://example.com/twin");
	bmf_sync(&f->b, NULL);
	bmf_sync(&f->a, NULL);
	assert_int_equal(count_where(&f->a, "title = 'Twin'"), 2);
	assert_same_trees(f);
}

/* U2: a device that was away gets the deletions; it neither keeps nor re-uploads them. */
static void test_u2_tombstones_applied_on_a_stale_device_never_reuploaded(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;

	share_tree(f);
	assert_same_trees(f);
	bmf_remove(f->a.db, "Aexxxxxxxxxx"); /* News */
	bmf_remove(f->a.db, "Azxxxxxxxxxx"); /* Work and its three children */
	bmf_sync(&f->a, NULL);
	bmf_sync(&f->b, &st);
	assert_int_equal(st.uploaded, 0);
	assert_tree_has(&f->b, "News", false);
	assert_tree_has(&f->b, " 2 Work ", false);
	assert_tree_has(&f->b, "Mozilla", false);
	assert_null(ds_fake_server_payload(f->srv, "Aexxxxxxxxxx"));
	assert_null(ds_fake_server_payload(f->srv, "Abxxxxxxxxxx"));
	bmf_sync(&f->a, NULL);
	assert_same_trees(f);
}

/* A bookmark deleted here and changed there comes back, changed (dogear: a remote non-folder
 * change revives a local deletion); no tombstone goes up. */
static void test_remote_change_revives_a_bookmark_deleted_here(void **state)
{
	struct fx *f = *state;

	share_tree(f);
	bmf_remove(f->a.db, "Adxxxxxxxxxx");
	bmf_sql(f->b.db, "UPDATE moz_bookmarks SET title = 'Example, renamed' WHERE guid = 'Adxxxxxxxxxx'");
	bmf_sync(&f->b, NULL);
	bmf_sync(&f->a, NULL);
	assert_tree_has(&f->a, "Example, renamed", true);
	assert_non_null(ds_fake_server_payload(f->srv, "Adxxxxxxxxxx"));
	bmf_sync(&f->b, NULL);
	assert_same_trees(f);
}

/* A folder deleted here stays deleted though it changed there; its children that changed
 * there (or are new there) come back in its parent; the others go. */
static void test_local_folder_deletion_wins_changed_children_move_up(void **state)
{
	struct fx *f = *state;

	share_tree(f);
	bmf_remove(f->a.db, "Azxxxxxxxxxx");
	bmf_sql(f->b.db, "UPDATE moz_bookmarks SET title = 'Mozilla, renamed' WHERE guid = 'Abxxxxxxxxxx'");
	bmf_add_bookmark(f->b.db, "newInWorkBBB", "Azxxxxxxxxxx", "Added on B", "https://example.com/new");
	bmf_sync(&f->b, NULL);
	bmf_sync(&f->a, NULL);
	assert_tree_has(&f->a, " 2 Work ", false);
	assert_int_equal(count_where(&f->a, "guid = 'Abxxxxxxxxxx' AND parent = 2"), 1);
	assert_int_equal(count_where(&f->a, "guid = 'newInWorkBBB' AND parent = 2"), 1);
	assert_int_equal(count_where(&f->a, "guid = 'Adxxxxxxxxxx'"), 0);
	bmf_sync(&f->b, NULL);
	assert_same_trees(f);
	assert_null(ds_fake_server_payload(f->srv, "Azxxxxxxxxxx"));
}

/* A folder deleted there wins over changes here; the children changed or added here move to
 * the folder's parent and go back up; the others are deleted. */
static void test_remote_folder_deletion_keeps_changed_children_in_the_parent(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;

	share_tree(f);
	bmf_remove(f->a.db, "Azxxxxxxxxxx");
	bmf_sync(&f->a, NULL);
	bmf_sql(f->b.db, "UPDATE moz_bookmarks SET title = 'Mozilla, renamed' WHERE guid = 'Abxxxxxxxxxx'");
	bmf_add_bookmark(f->b.db, "newInWorkBBB", "Azxxxxxxxxxx", "Added on B", "https://example.com/new");
	bmf_sync(&f->b, &st);
	assert_true(st.uploaded >= 3);
	assert_tree_has(&f->b, " 2 Work ", false);
	assert_int_equal(count_where(&f->b, "guid = 'Abxxxxxxxxxx' AND parent = 2"), 1);
	assert_int_equal(count_where(&f->b, "guid = 'newInWorkBBB' AND parent = 2"), 1);
	assert_int_equal(count_where(&f->b, "guid = 'Adxxxxxxxxxx'"), 0);
	bmf_sync(&f->a, NULL);
	assert_same_trees(f);
}

/* U3: a device offline for 60 days (its own edits 60 days old) meets newer remote changes:
 * items it did not touch take the server's version, an item both changed takes the newer
 * (the server's), and its own untouched-elsewhere edit still goes up. */
static void test_u3_offline_device_does_not_overwrite_newer_remote_changes(void **state)
{
	struct fx *f = *state;
	int64_t now = wall_ms();
	char *q;

	share_tree(f);
	/* B, offline: edits made 60 days ago. */
	bmf_sql(f->b.db, "UPDATE moz_bookmarks SET title = 'Mozilla (old edit)' WHERE guid = 'Abxxxxxxxxxx'");
	bmf_sql(f->b.db, "UPDATE moz_bookmarks SET title = 'Empty (B only)' WHERE guid = 'Afxxxxxxxxxx'");
	q = sqlite3_mprintf("UPDATE datasync_bm_changes SET ms = %lld", (long long)(now - 60LL * 86400000));
	bmf_sql(f->b.db, q);
	sqlite3_free(q);
	/* A, meanwhile: renames two items and moves one. */
	bmf_sql(f->a.db, "UPDATE moz_bookmarks SET title = 'Mozilla (new)' WHERE guid = 'Abxxxxxxxxxx'");
	bmf_sql(f->a.db, "UPDATE moz_bookmarks SET title = 'News (new)' WHERE guid = 'Aexxxxxxxxxx'");
	bmf_sql(f->a.db, "UPDATE moz_bookmarks SET position = 2 WHERE guid = 'Abxxxxxxxxxx';"
			 "UPDATE moz_bookmarks SET position = 0 WHERE guid = 'Adxxxxxxxxxx'");
	bmf_sync(&f->a, NULL);
	bmf_sync(&f->b, NULL);
	assert_tree_has(&f->b, "Mozilla (new)", true);
	assert_tree_has(&f->b, "Mozilla (old edit)", false);
	assert_tree_has(&f->b, "News (new)", true);
	assert_tree_has(&f->b, "Empty (B only)", true);
	assert_int_equal(bmf_int(f->b.db, "SELECT position FROM moz_bookmarks WHERE guid = 'Adxxxxxxxxxx'"), 0);
	bmf_sync(&f->a, NULL);
	assert_same_trees(f);
}

/* Every pending change of d as made at ms (the device's clock, against the server's). */
static void set_change_times(struct bmf_dev *d, int64_t ms)
{
	char *q = sqlite3_mprintf("UPDATE datasync_bm_changes SET ms = %lld", (long long)ms);

	bmf_sql(d->db, q);
	sqlite3_free(q);
}

static void assert_children(struct fx *f, const char *id, const char *want_json)
{
	cJSON *o = cJSON_Parse(ds_fake_server_payload(f->srv, id));
	cJSON *want = cJSON_Parse(want_json);

	if (!o || !cJSON_Compare(cJSON_GetObjectItemCaseSensitive(o, "children"), want, 1))
		fail_msg("server %s: want children %s, have %s", id, want_json,
			 ds_fake_server_payload(f->srv, id) ? ds_fake_server_payload(f->srv, id) : "(none)");
	cJSON_Delete(o);
	cJSON_Delete(want);
}

/* dogear's structure rule (src/merge.rs resolve_structure_conflict): both devices moved one
 * bookmark, to different folders; this one later than the other's upload. The remote toolbar
 * (older) lists it, but the newer local move wins: it stays in Empty, and the toolbar goes back
 * up without it, so the server's folders agree with each other and with the item's parentid. */
static void test_structure_conflict_newer_local_move_wins(void **state)
{
	struct fx *f = *state;
	int64_t t0 = wall_ms() - 10LL * 86400000;

	share_tree(f);
	ds_fake_server_set_time(f->srv, t0);
	bmf_move(f->b.db, "Abxxxxxxxxxx", "toolbar_____");
	bmf_sync(&f->b, NULL);
	assert_children(f, "toolbar", "[\"Aexxxxxxxxxx\",\"Afxxxxxxxxxx\",\"Abxxxxxxxxxx\"]");
	/* A moves it into Empty a day after B's records went up, before syncing. */
	bmf_move(f->a.db, "Abxxxxxxxxxx", "Afxxxxxxxxxx");
	set_change_times(&f->a, t0 + 86400000);
	bmf_sync(&f->a, NULL);
	assert_int_equal(count_where(&f->a, "guid = 'Abxxxxxxxxxx' AND parent = (SELECT id FROM"
				     " moz_bookmarks WHERE guid = 'Afxxxxxxxxxx')"), 1);
	assert_children(f, "toolbar", "[\"Aexxxxxxxxxx\",\"Afxxxxxxxxxx\"]");
	assert_children(f, "Afxxxxxxxxxx", "[\"Abxxxxxxxxxx\"]");
	assert_children(f, "Azxxxxxxxxxx", "[\"Acxxxxxxxxxx\",\"Adxxxxxxxxxx\"]");
	assert_int_equal(bmf_int(f->a.db, "SELECT count(*) FROM datasync_bm_changes"), 0);
	{
		cJSON *o = cJSON_Parse(ds_fake_server_payload(f->srv, "Abxxxxxxxxxx"));

		assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "parentid")->valuestring,
				    "Afxxxxxxxxxx");
		cJSON_Delete(o);
	}
	bmf_sync(&f->b, NULL);
	assert_same_trees(f);
}

/* The other device renamed Work (its record still lists Mozilla); this one moved Mozilla out
 * of Work later: the move stands, and Work goes back up without it. */
static void test_structure_conflict_local_move_out_of_an_older_remote_folder(void **state)
{
	struct fx *f = *state;
	int64_t t0 = wall_ms() - 10LL * 86400000;

	share_tree(f);
	ds_fake_server_set_time(f->srv, t0);
	bmf_sql(f->b.db, "UPDATE moz_bookmarks SET title = 'Work (B)' WHERE guid = 'Azxxxxxxxxxx'");
	bmf_sync(&f->b, NULL);
	bmf_move(f->a.db, "Abxxxxxxxxxx", "Afxxxxxxxxxx");
	set_change_times(&f->a, t0 + 86400000);
	bmf_sync(&f->a, NULL);
	assert_int_equal(count_where(&f->a, "guid = 'Abxxxxxxxxxx' AND parent = (SELECT id FROM"
				     " moz_bookmarks WHERE guid = 'Afxxxxxxxxxx')"), 1);
	assert_children(f, "Azxxxxxxxxxx", "[\"Acxxxxxxxxxx\",\"Adxxxxxxxxxx\"]");
	assert_children(f, "Afxxxxxxxxxx", "[\"Abxxxxxxxxxx\"]");
	bmf_sync(&f->b, NULL);
	assert_same_trees(f);
}

/* The same two moves the other way round: the other device's move is the newer one, so the
 * remote structure wins here. */
static void test_structure_conflict_newer_remote_move_wins(void **state)
{
	struct fx *f = *state;
	int64_t t0 = wall_ms() - 10LL * 86400000;

	share_tree(f);
	bmf_move(f->a.db, "Abxxxxxxxxxx", "Afxxxxxxxxxx");
	set_change_times(&f->a, t0);
	ds_fake_server_set_time(f->srv, t0 + 86400000);
	bmf_move(f->b.db, "Abxxxxxxxxxx", "toolbar_____");
	bmf_sync(&f->b, NULL);
	bmf_sync(&f->a, NULL);
	assert_int_equal(count_where(&f->a, "guid = 'Abxxxxxxxxxx' AND parent = 3"), 1);
	assert_children(f, "toolbar", "[\"Aexxxxxxxxxx\",\"Afxxxxxxxxxx\",\"Abxxxxxxxxxx\"]");
	assert_children(f, "Afxxxxxxxxxx", "[]");
	bmf_sync(&f->b, NULL);
	assert_same_trees(f);
}

/* Only this device moved Mozilla out of Work; the other device renamed Work later than that
 * move. Work's newer record still lists Mozilla, but the server had it there before too, so
 * only this side moved it: the move stands (dogear), whatever the times say. */
static void test_structure_local_only_move_stands_against_a_newer_folder_record(void **state)
{
	struct fx *f = *state;
	int64_t t0 = wall_ms() - 10LL * 86400000;

	share_tree(f);
	bmf_move(f->a.db, "Abxxxxxxxxxx", "Afxxxxxxxxxx");
	set_change_times(&f->a, t0);
	ds_fake_server_set_time(f->srv, t0 + 86400000);
	bmf_sql(f->b.db, "UPDATE moz_bookmarks SET title = 'Work (B)' WHERE guid = 'Azxxxxxxxxxx'");
	bmf_sync(&f->b, NULL);
	bmf_sync(&f->a, NULL);
	assert_int_equal(count_where(&f->a, "guid = 'Abxxxxxxxxxx' AND parent = (SELECT id FROM"
				     " moz_bookmarks WHERE guid = 'Afxxxxxxxxxx')"), 1);
	assert_int_equal(count_where(&f->a, "guid = 'Azxxxxxxxxxx' AND title = 'Work (B)'"), 1);
	assert_children(f, "Azxxxxxxxxxx", "[\"Acxxxxxxxxxx\",\"Adxxxxxxxxxx\"]");
	assert_children(f, "Afxxxxxxxxxx", "[\"Abxxxxxxxxxx\"]");
	bmf_sync(&f->b, NULL);
	assert_same_trees(f);
}

/* Only the other device moved Mozilla (to the toolbar); this device later edited Mozilla's
 * title and added a bookmark to Work, Mozilla's folder here, without moving anything. The
 * server's move stands and the edits are kept. */
static void test_structure_remote_only_move_stands_against_newer_local_edits(void **state)
{
	struct fx *f = *state;
	int64_t t0 = wall_ms() - 10LL * 86400000;

	share_tree(f);
	ds_fake_server_set_time(f->srv, t0);
	bmf_move(f->b.db, "Abxxxxxxxxxx", "toolbar_____");
	bmf_sync(&f->b, NULL);
	bmf_sql(f->a.db, "UPDATE moz_bookmarks SET title = 'Mozilla (A)' WHERE guid = 'Abxxxxxxxxxx'");
	bmf_add_bookmark(f->a.db, "newInWorkAAA", "Azxxxxxxxxxx", "New", "https://example.com/new");
	set_change_times(&f->a, t0 + 86400000);
	bmf_sync(&f->a, NULL);
	assert_int_equal(count_where(&f->a, "guid = 'Abxxxxxxxxxx' AND parent = 3 AND title = 'Mozilla (A)'"), 1);
	assert_children(f, "toolbar", "[\"Aexxxxxxxxxx\",\"Afxxxxxxxxxx\",\"Abxxxxxxxxxx\"]");
	assert_int_equal(count_where(&f->a, "guid = 'newInWorkAAA' AND parent = (SELECT id FROM"
				     " moz_bookmarks WHERE guid = 'Azxxxxxxxxxx')"), 1);
	bmf_sync(&f->b, NULL);
	assert_same_trees(f);
}

/* Import-only: the device takes the server's bookmarks and never writes to the server, not
 * even the repairs its merge would upload. */
static void test_import_only_device_reads_and_never_writes(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;
	size_t before;

	make_tree(&f->a, 'A');
	bmf_sync(&f->a, NULL);
	bmf_dev_reopen(&f->b, f->srv, DS_DIR_IMPORT_ONLY);
	bmf_add_bookmark(f->b.db, "onlyOnBBBBBB", "menu________", "B's own", "https://example.com/bown");
	before = ds_fake_server_log_len(f->srv);
	bmf_sync(&f->b, &st);
	assert_int_equal(st.uploaded, 0);
	assert_int_equal(ds_fake_server_log_len(f->srv), before);
	assert_tree_has(&f->b, "Mozilla", true);
	assert_tree_has(&f->b, "B's own", true);
	assert_null(ds_fake_server_payload(f->srv, "onlyOnBBBBBB"));
}

/* Clearing every bookmark on one device ("delete all", a restore of an empty backup) deletes
 * nothing elsewhere, and the device gets the whole tree back (from the engine's mirror of the
 * server, since the core's cursor says it has everything already). */
static void test_cleared_store_deletes_nothing_remotely(void **state)
{
	struct fx *f = *state;

	share_tree(f);
	bmf_remove(f->b.db, "Azxxxxxxxxxx");
	bmf_remove(f->b.db, "Aexxxxxxxxxx");
	bmf_remove(f->b.db, "Afxxxxxxxxxx");
	bmf_sync(&f->b, NULL);
	assert_tree_has(&f->b, "Mozilla", true);
	assert_same_trees(f);
	assert_non_null(ds_fake_server_payload(f->srv, "Azxxxxxxxxxx"));
	assert_non_null(ds_fake_server_payload(f->srv, "Abxxxxxxxxxx"));
	bmf_sync(&f->a, NULL);
	assert_tree_has(&f->a, "Mozilla", true);
	assert_tree_has(&f->a, "News", true);
}

/* Both devices edit different parts, add and move things: they converge. */
static void test_two_devices_converge(void **state)
{
	struct fx *f = *state;

	share_tree(f);
	bmf_add_folder(f->a.db, "newFolderAAA", "toolbar_____", "From A");
	bmf_add_bookmark(f->a.db, "newBmkAAAAAA", "newFolderAAA", "In A's folder", "https://a.example/");
	bmf_sql(f->a.db, "UPDATE moz_bookmarks SET parent = (SELECT id FROM moz_bookmarks WHERE"
			 " guid = 'newFolderAAA'), position = 1 WHERE guid = 'Aexxxxxxxxxx';"
			 "UPDATE moz_bookmarks SET position = position - 1 WHERE parent = 3 AND position > 0");
	bmf_add_bookmark(f->b.db, "newBmkBBBBBB", "Azxxxxxxxxxx", "From B", "https://b.example/");
	bmf_add_separator(f->b.db, "newSepBBBBBB", "mobile______");
	bmf_sync(&f->a, NULL);
	bmf_sync(&f->b, NULL);
	bmf_sync(&f->a, NULL);
	assert_same_trees(f);
	assert_tree_has(&f->a, "From B", true);
	assert_tree_has(&f->b, "In A's folder", true);
	assert_int_equal(count_where(&f->b, "guid = 'Aexxxxxxxxxx' AND parent = (SELECT id FROM"
				     " moz_bookmarks WHERE guid = 'newFolderAAA')"), 1);
}

static void other_device_writes(struct ds_remote *r, void *user_data)
{
	struct fx *f = user_data;
	static int once;

	DS_UNUSED(r);
	if (once++)
		return;
	ds_fake_server_put(f->srv, "lateAAAAAAAA", "{\"id\":\"lateAAAAAAAA\",\"type\":\"bookmark\","
			   "\"parentid\":\"Azxxxxxxxxxx\",\"title\":\"Late\",\"bmkUri\":\"https://late.example/\"}");
	ds_fake_server_put(f->srv, "Azxxxxxxxxxx", "{\"id\":\"Azxxxxxxxxxx\",\"type\":\"folder\","
			   "\"parentid\":\"menu\",\"title\":\"Work\",\"children\":[\"Abxxxxxxxxxx\","
			   "\"Acxxxxxxxxxx\",\"Adxxxxxxxxxx\",\"lateAAAAAAAA\"]}");
}

/* Another device writes between our fetch and our upload (412 -> -ESTALE): the core fetches
 * again, the engine merges the new records into the same folder, and the upload that follows
 * carries both; a lost upload reply (the run dies after the server took the records) is
 * settled by the next run without duplicates. */
static void test_concurrent_writer_and_lost_reply_converge(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;
	cJSON *o;
	int rc;

	share_tree(f);
	bmf_add_bookmark(f->b.db, "fromBBBBBBBB", "Azxxxxxxxxxx", "From B", "https://b.example/");
	ds_fake_remote_before_upload(f->b.c->remote, other_device_writes, f);
	bmf_sync(&f->b, NULL);
	assert_tree_has(&f->b, "Late", true);
	o = cJSON_Parse(ds_fake_server_payload(f->srv, "Azxxxxxxxxxx"));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "children")), 5);
	cJSON_Delete(o);

	bmf_add_bookmark(f->a.db, "lostReplyAAA", "toolbar_____", "Lost reply", "https://lost.example/");
	ds_fake_remote_fail_after_upload(f->a.c->remote, 1, -EIO);
	memset(&st, 0, sizeof(st));
	rc = ds_sync_run(f->a.c, f->a.store, &st, NULL, NULL);
	assert_int_not_equal(rc, 0);
	bmf_sync(&f->a, NULL);
	bmf_sync(&f->b, NULL);
	bmf_sync(&f->a, &st);
	assert_int_equal(st.uploaded, 0);
	assert_same_trees(f);
	assert_int_equal(count_where(&f->a, "title = 'Lost reply'"), 1);
}

/* ---- memory of a large tree --------------------------------------------------------------- */

static int setup_counted(void **state)
{
	if (!IS_ENABLED(CONFIG_DS_ALLOC_HOOK) || ds_set_allocator(&ds_count_allocator) != 0) {
		*state = NULL;
		return 0;
	}
	return setup(state);
}

static int teardown_counted(void **state)
{
	if (!*state)
		return 0;
	teardown(state);
	ds_set_allocator(NULL);
	return 0;
}

/* 2,000 bookmarks in 40 folders reach an empty device, and each run holds a bounded amount of
 * memory of its own (what the engine and core allocate, measured; SQLite's page cache aside):
 * a page of records, one folder's children, the lists of folders to check; and commits in
 * chunks, its structure pass too. */
static void test_a_tree_of_2000_items_syncs_in_bounded_memory(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;
	const char *pre = getenv("LD_PRELOAD");
	/* Under valgrind (its preload library is in LD_PRELOAD) a tenth of the tree: that run
	 * looks for leaks, at 30 times the time; the size is checked by the normal and ASan runs. */
	int folders = pre && strstr(pre, "vgpreload") ? 4 : 40;
	unsigned long items = (unsigned long)folders * 51;
	size_t before;

	if (!f)
		skip();
	bmf_sql(f->a.db, "BEGIN");
	for (int i = 0; i < folders; i++) {
		char fg[13], bg[13], url[64];

		snprintf(fg, sizeof(fg), "fold%08d", i);
		bmf_add_folder(f->a.db, fg, i % 2 ? "menu________" : "toolbar_____", "Folder");
		for (int j = 0; j < 50; j++) {
			snprintf(bg, sizeof(bg), "b%03d%08d", i, j);
			snprintf(url, sizeof(url), "https://example.com/%d/%d", i, j);
			bmf_add_bookmark(f->a.db, bg, fg, "Bookmark", url);
		}
	}
	bmf_sql(f->a.db, "COMMIT");
	bmf_sync(&f->a, &st);
	assert_int_equal(st.uploaded, items + 4);
	before = ds_count_live();
	ds_count_mark();
	bmf_most_settled_per_txn = 0;
	bmf_sync(&f->b, &st);
	assert_int_equal(st.fetched, items + 4);
	/* Bounded transactions: the structure pass settles every fetched item, in chunks of the
	 * core's size, not in one transaction. */
	if (bmf_most_settled_per_txn > CONFIG_DS_SYNC_APPLY_CHUNK)
		fail_msg("one transaction settled %lu items", bmf_most_settled_per_txn);
	if (ds_count_peak() - before > 400 * 1024)
		fail_msg("the run held %zu bytes", ds_count_peak() - before);
	assert_int_equal(bmf_int(f->b.db, "SELECT count(*) FROM moz_bookmarks"), (int64_t)items + 6);
	assert_same_trees(f);
}

/* wipeEngine bookmarks (desktop: PlacesSyncUtils.bookmarks.wipe): every item under the roots
 * and the pending changes go, the roots stay, nothing goes up as a deletion; the next sync
 * brings the server's tree back. */
static void test_wipe_removes_local_bookmarks_and_sync_brings_them_back(void **state)
{
	struct fx *f = *state;
	struct ds_engine *e = f->a.c->engine;
	struct ds_run_stats st;
	char *before, *after;
	size_t n_log, n_srv;

	make_tree(&f->a, 'A');
	bmf_tag(f->a.db, "https://example.com/", "demo");
	bmf_sync(&f->a, NULL);
	before = bmf_tree(f->a.db, 1);
	n_log = ds_fake_server_log_len(f->srv);
	n_srv = ds_fake_server_count(f->srv);
	bmf_add_bookmark(f->a.db, "pendingAAAAA", "unfiled_____", "Not yet synced", "https://p.example/");
	assert_true(bmf_int(f->a.db, "SELECT count(*) FROM datasync_bm_changes") > 0);
	assert_non_null(e->ops->wipe);
	assert_int_equal(e->ops->begin(e), 0);
	assert_int_equal(e->ops->wipe(e), 0);
	assert_int_equal(e->ops->commit(e), 0);
	assert_int_equal(ds_sync_reset(f->a.c, f->a.store), 0);
	assert_int_equal(count_where(&f->a, "1"), 6); /* the roots */
	assert_int_equal(bmf_int(f->a.db, "SELECT count(*) FROM moz_keywords"), 0);
	assert_int_equal(bmf_int(f->a.db, "SELECT count(*) FROM moz_places WHERE foreign_count < 0"), 0);
	assert_int_equal(bmf_int(f->a.db, "SELECT count(*) FROM datasync_bm_changes WHERE deleted = 1"), 0);
	bmf_sync(&f->a, &st);
	assert_int_equal(st.uploaded, 0);
	assert_int_equal(ds_fake_server_log_len(f->srv), n_log); /* nothing went up */
	assert_int_equal(ds_fake_server_count(f->srv), n_srv);
	assert_null(ds_fake_server_payload(f->srv, "pendingAAAAA"));
	after = bmf_tree(f->a.db, 1);
	if (strcmp(before, after) != 0)
		fail_msg("tree not restored:\nbefore:\n%safter:\n%s", before, after);
	assert_int_equal(bmf_int(f->a.db, "SELECT count(*) FROM datasync_bm_changes"), 0);
	free(before);
	free(after);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_u1_identical_trees_give_no_duplicates_and_repeat_syncs_are_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_u1_nested_folders_sent_children_first_give_no_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dedupe_only_takes_items_never_synced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_u2_tombstones_applied_on_a_stale_device_never_reuploaded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_change_revives_a_bookmark_deleted_here, setup, teardown),
		cmocka_unit_test_setup_teardown(test_local_folder_deletion_wins_changed_children_move_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_folder_deletion_keeps_changed_children_in_the_parent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_u3_offline_device_does_not_overwrite_newer_remote_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_structure_conflict_newer_local_move_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_structure_conflict_local_move_out_of_an_older_remote_folder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_structure_conflict_newer_remote_move_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_structure_local_only_move_stands_against_a_newer_folder_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_structure_remote_only_move_stands_against_newer_local_edits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_only_device_reads_and_never_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cleared_store_deletes_nothing_remotely, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_devices_converge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wipe_removes_local_bookmarks_and_sync_brings_them_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writer_and_lost_reply_converge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_tree_of_2000_items_syncs_in_bounded_memory,
						setup_counted, teardown_counted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
