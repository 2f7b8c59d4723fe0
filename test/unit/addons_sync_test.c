/*
 * Addons through the whole stack: devices with their own addons.sqlite, the sync core, the
 * sync15 remote and the in-process storage node (test/support/fake_sync15.c). A desktop-like
 * device and a TV share their store items; what the TV cannot install becomes a wish for its
 * package manager.
 */
#include "core/ds_core.h"
#include "engine/addons/ds_addons.h"
#include "remote/sync15/ds_sync15.h"
#include "sync/ds_sync.h"
#include "test/support/engine_sync_fixture.h"
#include "test/support/fake_sync15.h"
#include "test/support/firefox_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t KSYNC[64] = { 0x31, 0x41, 0x59, [20] = 0x26, [63] = 0x53 };
#define FX "{ec8030f7-c20a-464f-9b0e-13a3a9e97384}"

struct fx {
	struct ds_fake_sync15 *srv;
	struct esf_dev desk, tv; /* db: the package manager */
	char dir[512];
};

static void dev_open(struct fx *f, struct esf_dev *d)
{
	static const struct ds_sync15_remote_config rc = { .collection = "addons", .engine_version = 1 };
	static const struct ds_policy p = { .direction = DS_DIR_TWO_WAY,
					    .conflict = DS_CONFLICT_NEWEST_WINS, .max_retries = 3 };
	struct ds_addons_options o = { 0 };
	struct ds_engine *e;

	esf_dev_names(d, f->dir, "as");
	ffx_make_addons(d->path);
	esf_dev_open_db(d);
	o.path = d->path;
	assert_int_equal(ds_addons_engine_new(&o, &e), 0);
	esf_dev_connect(d, f->srv, &rc, &p, e);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	esf_tmpdir(f->dir, sizeof(f->dir), "async");
	f->srv = ds_fake_sync15_new(KSYNC);
	dev_open(f, &f->desk);
	dev_open(f, &f->tv);
	/* the TV, before sync was set up: uBlock disabled, no jetpack add-on */
	ffx_sql(f->tv.db, "UPDATE addons SET enabled = 0 WHERE guid = 'addonAAAAAAA';"
			  " DELETE FROM addons WHERE guid = 'addonBBBBBBB'; DELETE FROM datasync_changes");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	esf_dev_close(&f->desk);
	esf_dev_close(&f->tv);
	ds_fake_sync15_free(f->srv);
	free(f);
	return 0;
}

/* The desktop's first sync uploads its store items; the TV's gets the newer enabled state of
 * the item both have and an install wish for the one it lacks; the package manager installing it
 * settles the wish; the TV disabling and removing items reaches the desktop (a removal as an
 * uninstall wish); items from elsewhere and of other applications never travel. */
static void test_two_devices_share_store_items(void **state)
{
	struct fx *f = *state;

	esf_sync_ok(&f->desk);
	assert_int_equal(ds_fake_sync15_count(f->srv, "addons"), 2);
	assert_null(ds_fake_sync15_payload(f->srv, "addons", "addonCCCCCCC"));
	assert_null(ds_fake_sync15_payload(f->srv, "addons", "addonDDDDDDD"));
	esf_sync_ok(&f->tv);
	assert_int_equal(esf_q(&f->tv, "SELECT enabled FROM addons WHERE guid = 'addonAAAAAAA'"), 1);
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM addons_wanted WHERE guid = 'addonBBBBBBB'"
			   " AND wish = 'install' AND enabled = 0"), 1);
	/* the package manager installs it under the wished guid */
	ffx_sql(f->tv.db, "INSERT INTO addons VALUES('addonBBBBBBB', 'jid1-MnnxcxisBPnSXQ@jetpack', '" FX
			  "', 0, 'amo')");
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM addons_wanted"), 0);
	esf_sync_ok(&f->tv);
	/* the TV disables uBlock and removes the jetpack add-on */
	ffx_sql(f->tv.db, "UPDATE addons SET enabled = 0 WHERE guid = 'addonAAAAAAA';"
			  " DELETE FROM addons WHERE guid = 'addonBBBBBBB'");
	esf_sync_ok(&f->tv);
	esf_sync_ok(&f->desk);
	assert_int_equal(esf_q(&f->desk, "SELECT enabled FROM addons WHERE guid = 'addonAAAAAAA'"), 0);
	assert_int_equal(esf_q(&f->desk, "SELECT count(*) FROM addons_wanted WHERE guid = 'addonBBBBBBB'"
			   " AND wish = 'uninstall'"), 1);
	assert_int_equal(esf_q(&f->desk, "SELECT count(*) FROM addons"), 4);
	esf_sync_ok(&f->desk);
	esf_sync_ok(&f->tv);
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM datasync_changes"), 0);
	assert_int_equal(esf_q(&f->desk, "SELECT count(*) FROM datasync_changes"), 0);
}

/* The desktop removes an item the TV holds only as an install wish: the tombstone reaches the
 * TV's engine through the core and withdraws the wish (the package manager never installs it). */
static void test_removal_withdraws_an_install_wish(void **state)
{
	struct fx *f = *state;

	esf_sync_ok(&f->desk);
	esf_sync_ok(&f->tv);
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM addons_wanted WHERE guid = 'addonBBBBBBB'"
			   " AND wish = 'install'"), 1);
	ffx_sql(f->desk.db, "DELETE FROM addons WHERE guid = 'addonBBBBBBB'");
	esf_sync_ok(&f->desk);
	esf_sync_ok(&f->tv);
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM addons_wanted"
				   " WHERE guid = 'addonBBBBBBB'"), 0);
	/* and the TV has nothing to send back */
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM datasync_changes"), 0);
}

/* wipeEngine on device d as the daemon runs it (component/daemon/browser_cmd.c): the engine's
 * wipe in its transaction, then the reset of the collection's sync state. */
static void wipe_and_reset(struct esf_dev *d)
{
	struct ds_engine *e = d->c->engine;

	assert_non_null(e->ops->wipe);
	/* outside a transaction the engine refuses */
	assert_int_equal(e->ops->wipe(e), -EINVAL);
	assert_int_equal(e->ops->begin(e), 0);
	assert_int_equal(e->ops->wipe(e), 0);
	assert_int_equal(e->ops->commit(e), 0);
	assert_int_equal(ds_sync_reset(d->c, d->store), 0);
}

/* The package manager uninstalls what addons_wanted asks, as it would later, on its own. */
static void package_manager_uninstalls(struct esf_dev *d)
{
	ffx_sql(d->db, "DELETE FROM addons WHERE addonID IN"
		       " (SELECT addonID FROM addons_wanted WHERE wish = 'uninstall')");
}

/* wipeEngine addons (desktop AddonsStore.wipe uninstalls every syncable add-on): the TV's store
 * items become uninstall wishes, the other items and the other devices' install wishes are left
 * alone or dropped; the package manager carrying the wishes out sends no deletion up, the next
 * sync turns the server's records into install wishes again, and the desktop keeps its items. */
static void test_wipe_uninstalls_store_items_without_deleting_them_remotely(void **state)
{
	struct fx *f = *state;
	int64_t ts;

	esf_sync_ok(&f->desk);
	esf_sync_ok(&f->tv);
	/* the TV also has a store item of its own, not on the server yet: the wipe takes it too */
	ffx_sql(f->tv.db, "INSERT INTO addons VALUES('addonEEEEEEE', 'tv-only@example.org', '" FX
			  "', 1, 'amo'); DELETE FROM datasync_changes");
	ts = ds_fake_sync15_coll_ts(f->srv, "addons");
	wipe_and_reset(&f->tv);
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM addons_wanted"), 2);
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM addons_wanted WHERE wish = 'uninstall'"
				       " AND guid IN ('addonAAAAAAA', 'addonEEEEEEE')"), 2);
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM datasync_changes"), 0);
	package_manager_uninstalls(&f->tv);
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM addons"), 2); /* vendor, other app */
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM addons_wanted"), 0);
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM datasync_changes"), 0);
	esf_sync_ok(&f->tv);
	assert_true(ds_fake_sync15_coll_ts(f->srv, "addons") == ts); /* nothing went up */
	assert_int_equal(ds_fake_sync15_count(f->srv, "addons"), 2);
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM addons_wanted WHERE wish = 'install'"), 2);
	assert_int_equal(esf_q(&f->tv, "SELECT enabled FROM addons_wanted WHERE guid = 'addonAAAAAAA'"
				       " AND addonID = 'uBlock0@raymondhill.net'"), 1);
	assert_int_equal(esf_q(&f->tv, "SELECT enabled FROM addons_wanted WHERE guid = 'addonBBBBBBB'"), 0);
	/* the package manager installs them again: back to where the account is */
	ffx_sql(f->tv.db, "INSERT INTO addons SELECT guid, addonID, applicationID, enabled, source"
			  " FROM addons_wanted");
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM addons_wanted"), 0);
	esf_sync_ok(&f->tv);
	esf_sync_ok(&f->desk);
	assert_int_equal(esf_q(&f->desk, "SELECT count(*) FROM addons_wanted"), 0);
	assert_int_equal(esf_q(&f->desk, "SELECT count(*) FROM addons"), 4);
	/* a removal after that is the user's again, and travels */
	ffx_sql(f->tv.db, "DELETE FROM addons WHERE guid = 'addonAAAAAAA'");
	assert_int_equal(esf_q(&f->tv, "SELECT deleted FROM datasync_changes WHERE guid = 'addonAAAAAAA'"), 1);
	esf_sync_ok(&f->tv);
	esf_sync_ok(&f->desk);
	assert_int_equal(esf_q(&f->desk, "SELECT count(*) FROM addons_wanted WHERE guid = 'addonAAAAAAA'"
				       " AND wish = 'uninstall'"), 1);
}

/* A sync between the wipe and the package manager: the server's records override the uninstall
 * wishes of the items they cover (the item stays, as desktop would install it again), an item
 * the server lacks is not uploaded; a declined wish leaves the item an ordinary one. */
static void test_wipe_wishes_overridden_by_the_server_before_carried_out(void **state)
{
	struct fx *f = *state;
	int64_t ts;

	esf_sync_ok(&f->desk);
	esf_sync_ok(&f->tv);
	ffx_sql(f->tv.db, "INSERT INTO addons VALUES('addonEEEEEEE', 'tv-only@example.org', '" FX
			  "', 1, 'amo'); DELETE FROM datasync_changes");
	ts = ds_fake_sync15_coll_ts(f->srv, "addons");
	wipe_and_reset(&f->tv);
	esf_sync_ok(&f->tv);
	assert_true(ds_fake_sync15_coll_ts(f->srv, "addons") == ts);
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM addons_wanted WHERE wish = 'uninstall'"), 1);
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM addons_wanted WHERE guid = 'addonEEEEEEE'"), 1);
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM addons_wanted WHERE wish = 'install'"
				       " AND guid = 'addonBBBBBBB'"), 1);
	/* uBlock's wish went with the server's record: removing it now is the user's removal */
	ffx_sql(f->tv.db, "DELETE FROM addons WHERE guid = 'addonAAAAAAA'");
	assert_int_equal(esf_q(&f->tv, "SELECT deleted FROM datasync_changes WHERE guid = 'addonAAAAAAA'"), 1);
	ffx_sql(f->tv.db, "INSERT INTO addons VALUES('addonAAAAAAA', 'uBlock0@raymondhill.net', '" FX
			  "', 1, 'amo')");
	/* the package manager declines the TV's own item's uninstall: a later change of it travels */
	ffx_sql(f->tv.db, "DELETE FROM addons_wanted WHERE guid = 'addonEEEEEEE'");
	ffx_sql(f->tv.db, "UPDATE addons SET enabled = 0 WHERE guid = 'addonEEEEEEE'");
	esf_sync_ok(&f->tv);
	assert_int_equal(ds_fake_sync15_count(f->srv, "addons"), 3);
	assert_non_null(ds_fake_sync15_payload(f->srv, "addons", "addonEEEEEEE"));
}

/* The package manager dequeues a wipe's wish first and then removes the item (here in separate
 * statements; one transaction is the same): the mark outlives the wish, so the removal is still
 * no local deletion, nothing goes up, the desktop keeps the add-on and the TV gets it back as an
 * install wish. */
static void test_wipe_wish_deleted_before_the_removal_deletes_nothing_remotely(void **state)
{
	struct fx *f = *state;
	int64_t ts;

	esf_sync_ok(&f->desk);
	esf_sync_ok(&f->tv);
	ts = ds_fake_sync15_coll_ts(f->srv, "addons");
	wipe_and_reset(&f->tv);
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM addons_wanted WHERE wish = 'uninstall'"
				       " AND guid = 'addonAAAAAAA'"), 1);
	ffx_sql(f->tv.db, "DELETE FROM addons_wanted WHERE guid = 'addonAAAAAAA'");
	ffx_sql(f->tv.db, "DELETE FROM addons WHERE guid = 'addonAAAAAAA'");
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM datasync_changes"), 0);
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM datasync_addons_wiped"), 0);
	esf_sync_ok(&f->tv);
	assert_true(ds_fake_sync15_coll_ts(f->srv, "addons") == ts); /* no deletion went up */
	assert_int_equal(ds_fake_sync15_count(f->srv, "addons"), 2);
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM addons_wanted WHERE wish = 'install'"
				       " AND guid = 'addonAAAAAAA' AND addonID = 'uBlock0@raymondhill.net'"), 1);
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM addons_wanted WHERE wish = 'install'"
				       " AND guid = 'addonBBBBBBB'"), 1);
	esf_sync_ok(&f->desk);
	assert_int_equal(esf_q(&f->desk, "SELECT count(*) FROM addons_wanted"), 0);
	assert_int_equal(esf_q(&f->desk, "SELECT count(*) FROM addons WHERE guid = 'addonAAAAAAA'"), 1);
	/* both in one transaction, wish first */
	ffx_sql(f->tv.db, "INSERT INTO addons SELECT guid, addonID, applicationID, enabled, source"
			  " FROM addons_wanted");
	esf_sync_ok(&f->tv);
	ts = ds_fake_sync15_coll_ts(f->srv, "addons");
	wipe_and_reset(&f->tv);
	ffx_sql(f->tv.db, "BEGIN; DELETE FROM addons_wanted WHERE guid = 'addonBBBBBBB';"
			  " DELETE FROM addons WHERE guid = 'addonBBBBBBB'; COMMIT");
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM datasync_changes"), 0);
	esf_sync_ok(&f->tv);
	assert_true(ds_fake_sync15_coll_ts(f->srv, "addons") == ts);
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM addons_wanted WHERE wish = 'install'"
				       " AND guid = 'addonBBBBBBB'"), 1);
}

/* The package manager declines a wipe's wish (deletes it, keeps the item): the next run clears
 * the mark, the item is an ordinary one again, and the user removing it later is a deletion
 * that reaches the desktop. */
static void test_declined_wipe_wish_leaves_an_ordinary_item(void **state)
{
	struct fx *f = *state;
	int64_t ts;

	esf_sync_ok(&f->desk);
	esf_sync_ok(&f->tv);
	wipe_and_reset(&f->tv);
	ffx_sql(f->tv.db, "DELETE FROM addons_wanted WHERE guid = 'addonAAAAAAA'");
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM datasync_addons_wiped"
				       " WHERE addonID = 'uBlock0@raymondhill.net'"), 1);
	ts = ds_fake_sync15_coll_ts(f->srv, "addons");
	esf_sync_ok(&f->tv);
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM datasync_addons_wiped"), 0);
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM addons_wanted WHERE guid = 'addonAAAAAAA'"), 0);
	assert_int_equal(esf_q(&f->tv, "SELECT count(*) FROM addons WHERE guid = 'addonAAAAAAA'"), 1);
	/* the user removes it: a deletion, uploaded, and the desktop gets an uninstall wish */
	ffx_sql(f->tv.db, "DELETE FROM addons WHERE guid = 'addonAAAAAAA'");
	assert_int_equal(esf_q(&f->tv, "SELECT deleted FROM datasync_changes WHERE guid = 'addonAAAAAAA'"), 1);
	esf_sync_ok(&f->tv);
	assert_true(ds_fake_sync15_coll_ts(f->srv, "addons") != ts);
	esf_sync_ok(&f->desk);
	assert_int_equal(esf_q(&f->desk, "SELECT count(*) FROM addons_wanted WHERE guid = 'addonAAAAAAA'"
				       " AND wish = 'uninstall'"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_devices_share_store_items, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removal_withdraws_an_install_wish, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wipe_uninstalls_store_items_without_deleting_them_remotely,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_wipe_wishes_overridden_by_the_server_before_carried_out,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_wipe_wish_deleted_before_the_removal_deletes_nothing_remotely,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_declined_wipe_wish_leaves_an_ordinary_item, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
