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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_devices_share_store_items, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removal_withdraws_an_install_wish, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
