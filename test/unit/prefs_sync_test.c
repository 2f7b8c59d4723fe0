/*
 * Prefs through the whole stack: devices with their own prefs.sqlite, the sync core, the sync15
 * remote and the in-process storage node (test/support/fake_sync15.c). The "desktop" device
 * syncs a pref the TV does not; the TV never drops it from the account's one record.
 */
#include "core/ds_core.h"
#include "engine/prefs/ds_prefs.h"
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

static const uint8_t KSYNC[64] = { 0x24, 0x62, 0x11, [20] = 0x42, [63] = 0x07 };
#define FX_ID "e2VjODAzMGY3LWMyMGEtNDY0Zi05YjBlLTEzYTNhOWU5NzM4NH0="

struct fx {
	struct ds_fake_sync15 *srv;
	struct esf_dev desk, tv; /* db: the settings service */
	char dir[512];
};

static const char *const TV_ALLOW[] = { "browser.startup.homepage", "general.smoothScroll" };
static const char *const DESK_ALLOW[] = { "browser.startup.homepage", "general.smoothScroll",
					  "desktop.only" };

static void dev_open(struct fx *f, struct esf_dev *d, const char *const *allow, size_t n)
{
	static const struct ds_sync15_remote_config rc = { .collection = "prefs", .engine_version = 2 };
	static const struct ds_policy p = { .direction = DS_DIR_TWO_WAY, .conflict = DS_CONFLICT_MERGE,
					    .max_retries = 3 };
	struct ds_prefs_options o = { .allow = allow, .n_allow = n };
	struct ds_engine *e;

	esf_dev_names(d, f->dir, "ps");
	ffx_make_prefs(d->path);
	esf_dev_open_db(d);
	o.path = d->path;
	assert_int_equal(ds_prefs_engine_new(&o, &e), 0);
	esf_dev_connect(d, f->srv, &rc, &p, e);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	esf_tmpdir(f->dir, sizeof(f->dir), "psync");
	f->srv = ds_fake_sync15_new(KSYNC);
	dev_open(f, &f->desk, DESK_ALLOW, DS_ARRAY_SIZE(DESK_ALLOW));
	dev_open(f, &f->tv, TV_ALLOW, DS_ARRAY_SIZE(TV_ALLOW));
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

static char *pref(struct esf_dev *d, const char *name)
{
	sqlite3_stmt *st;
	char *out;

	assert_int_equal(sqlite3_prepare_v2(d->db, "SELECT ifnull(value, 'NULL') FROM prefs WHERE name = ?",
					    -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	out = strdup(sqlite3_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : "none");
	sqlite3_finalize(st);
	return out;
}

static void assert_pref(struct esf_dev *d, const char *name, const char *want)
{
	char *got = pref(d, name);

	if (strcmp(got, want) != 0)
		fail_msg("pref %s: got %s, want %s", name, got, want);
	free(got);
}

/* The desktop's settings reach the TV's first sync (the account's values win over a new
 * device's defaults); the TV's change reaches the desktop; the desktop-only pref stays in the
 * one record all along, and the TV's own settings never travel. */
static void test_two_devices_share_one_record_and_keep_each_others_prefs(void **state)
{
	struct fx *f = *state;

	ffx_sql(f->desk.db, "UPDATE prefs SET value = 'https://desk.example/' WHERE name = 'browser.startup.homepage';"
			    " INSERT INTO prefs VALUES('desktop.only', 'int', 7);"
			    " UPDATE prefs SET value = 1 WHERE name = 'general.smoothScroll'");
	esf_sync_ok(&f->desk);
	assert_int_equal(ds_fake_sync15_count(f->srv, "prefs"), 1);
	assert_non_null(ds_fake_sync15_payload(f->srv, "prefs", FX_ID));
	esf_sync_ok(&f->tv);
	assert_pref(&f->tv, "browser.startup.homepage", "https://desk.example/");
	assert_pref(&f->tv, "general.smoothScroll", "1");
	assert_pref(&f->tv, "desktop.only", "none");
	/* the TV resets smooth scrolling and changes its own serial (not synced) */
	ffx_sql(f->tv.db, "UPDATE prefs SET value = NULL WHERE name = 'general.smoothScroll';"
			  " UPDATE prefs SET value = 'TV-0002' WHERE name = 'device.serial'");
	esf_sync_ok(&f->tv);
	esf_sync_ok(&f->desk);
	assert_pref(&f->desk, "general.smoothScroll", "NULL");
	assert_pref(&f->desk, "desktop.only", "7");
	assert_pref(&f->desk, "device.serial", "TV-0001");
	/* the desktop changes its own pref: the TV keeps carrying the newest value */
	ffx_sql(f->desk.db, "UPDATE prefs SET value = 8 WHERE name = 'desktop.only'");
	esf_sync_ok(&f->desk);
	ffx_sql(f->tv.db, "UPDATE prefs SET value = 'https://tv.example/' WHERE name = 'browser.startup.homepage'");
	esf_sync_ok(&f->tv);
	esf_sync_ok(&f->desk);
	assert_pref(&f->desk, "desktop.only", "8");
	assert_pref(&f->desk, "browser.startup.homepage", "https://tv.example/");
	assert_int_equal(ds_fake_sync15_count(f->srv, "prefs"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_devices_share_one_record_and_keep_each_others_prefs,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
