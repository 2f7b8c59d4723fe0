/*
 * Forms through the sync core and the Sync 1.5 remote against the in-process storage node
 * (test/support/fake_sync15.h): two devices, each with its own formhistory.sqlite in Firefox's
 * schema, converge (docs/engine-forms.md).
 */
#include "core/ds_core.h"
#include "engine/forms/ds_forms.h"
#include "remote/sync15/ds_sync15.h"
#include "sync/ds_sync.h"
#include "test/support/firefox_fixture.h"
#include "test/support/engine_sync_fixture.h"
#include "test/support/fake_sync15.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t KSYNC[64] = { 0x15, 0x26, 0x37, [40] = 0x48, [63] = 0x59 };

struct fx {
	struct ds_fake_sync15 *srv;
	struct esf_dev a, b; /* db: the browser */
	char dir[512];
};

static void dev_open(struct fx *f, struct esf_dev *d, bool empty)
{
	static const struct ds_sync15_remote_config rc = { .collection = "forms", .engine_version = 1 };
	static const struct ds_policy p = { .direction = DS_DIR_TWO_WAY,
					    .conflict = DS_CONFLICT_NEWEST_WINS, .max_retries = 3 };
	struct ds_forms_store *s;
	struct ds_engine *e;

	esf_dev_names(d, f->dir, "fs");
	ffx_make_formhistory(d->path);
	esf_dev_open_db(d);
	if (empty)
		ffx_sql(d->db, "DELETE FROM moz_formhistory");
	assert_int_equal(ds_forms_formhistory_open(d->path, NULL, NULL, &s), 0);
	assert_int_equal(ds_forms_engine_new(s, &e), 0);
	esf_dev_connect(d, f->srv, &rc, &p, e);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	esf_tmpdir(f->dir, sizeof(f->dir), "fsync");
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

static char *forms_text(sqlite3 *db)
{
	sqlite3_stmt *st;
	size_t len = 0;
	char *out = calloc(1, 8192);

	assert_non_null(out);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT guid, fieldname, value FROM moz_formhistory"
					    " ORDER BY fieldname, value, guid", -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW && len < 7000)
		len += (size_t)snprintf(out + len, 8192 - len, "%s %s=%s\n", sqlite3_column_text(st, 0),
					sqlite3_column_text(st, 1), sqlite3_column_text(st, 2));
	sqlite3_finalize(st);
	return out;
}

static void assert_same_forms(struct fx *f)
{
	char *a = forms_text(f->a.db), *b = forms_text(f->b.db);

	if (strcmp(a, b) != 0)
		fail_msg("devices differ:\nA:\n%sB:\n%s", a, b);
	free(a);
	free(b);
}

/* A's saved values and B's meet: the pair both hold becomes one entry under A's guid, B's own
 * entry reaches A, and a repeat changes nothing. */
static void test_two_devices_converge_on_forms(void **state)
{
	struct fx *f = *state;
	char *a;
	int64_t ts;

	ffx_sql(f->b.db, "INSERT INTO moz_formhistory(fieldname, value, timesUsed, firstUsed, lastUsed, guid)"
		     " VALUES('q', 'datasync', 7, 1, 2, 'bdupBBBBBBBB'), ('city', 'Lyon', 1, 1, 1, 'bcityBBBBBBB')");
	esf_sync_ok(&f->a);
	assert_int_equal(ds_fake_sync15_count(f->srv, "forms"), 3);
	assert_null(strstr(ds_fake_sync15_payload(f->srv, "forms", "formBBBBBBBB"), "alice"));
	esf_sync_ok(&f->b);
	esf_sync_ok(&f->a);
	assert_same_forms(f);
	a = forms_text(f->a.db);
	assert_non_null(strstr(a, "formAAAAAAAA q=datasync\n"));
	assert_non_null(strstr(a, "bcityBBBBBBB city=Lyon\n"));
	assert_null(strstr(a, "bdupBBBBBBBB"));
	free(a);
	assert_int_equal(ffx_sql_int(f->b.db, "SELECT timesUsed FROM moz_formhistory WHERE guid = 'formAAAAAAAA'"), 7);
	assert_int_equal(ffx_sql_int(f->a.db, "SELECT count(*) FROM datasync_changes"), 0);
	assert_int_equal(ffx_sql_int(f->b.db, "SELECT count(*) FROM datasync_changes"), 0);
	ts = ds_fake_sync15_coll_ts(f->srv, "forms");
	esf_sync_ok(&f->b);
	esf_sync_ok(&f->a);
	assert_true(ds_fake_sync15_coll_ts(f->srv, "forms") == ts);
}

/* A value removed in one browser is removed in the other; an edit travels too. */
static void test_deletes_and_edits_reach_the_other_device(void **state)
{
	struct fx *f = *state;
	char *a;

	esf_sync_ok(&f->a);
	esf_sync_ok(&f->b);
	ffx_sql(f->b.db, "DELETE FROM moz_formhistory WHERE guid = 'formBBBBBBBB'");
	ffx_sql(f->b.db, "UPDATE moz_formhistory SET value = 'firefox sync 1.5' WHERE guid = 'formCCCCCCCC'");
	esf_sync_ok(&f->b);
	esf_sync_ok(&f->a);
	assert_same_forms(f);
	a = forms_text(f->a.db);
	assert_null(strstr(a, "alice"));
	assert_non_null(strstr(a, "formCCCCCCCC q=firefox sync 1.5\n"));
	free(a);
	assert_int_equal(ffx_sql_int(f->a.db, "SELECT count(*) FROM moz_formhistory WHERE guid = 'formBBBBBBBB'"), 0);
}

/* Clearing the form history on one device is a cleared store: the other keeps its values. */
static void test_clearing_forms_on_one_device_keeps_them_elsewhere(void **state)
{
	struct fx *f = *state;
	int64_t ts;

	esf_sync_ok(&f->a);
	esf_sync_ok(&f->b);
	ts = ds_fake_sync15_coll_ts(f->srv, "forms");
	ffx_sql(f->b.db, "DELETE FROM moz_formhistory");
	esf_sync_ok(&f->b);
	esf_sync_ok(&f->a);
	assert_int_equal(ffx_sql_int(f->a.db, "SELECT count(*) FROM moz_formhistory"), 3);
	assert_int_equal(ds_fake_sync15_count(f->srv, "forms"), 3);
	assert_true(ds_fake_sync15_coll_ts(f->srv, "forms") == ts); /* nothing was written */
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

/* wipeEngine forms: the device's values and its pending edits go without a deletion going up;
 * the next sync brings the server's values back. */
static void test_wipe_removes_local_forms_and_sync_brings_them_back(void **state)
{
	struct fx *f = *state;
	struct ds_engine *e = f->a.c->engine;
	int64_t ts;
	char *a;

	esf_sync_ok(&f->a);
	ts = ds_fake_sync15_coll_ts(f->srv, "forms");
	ffx_sql(f->a.db, "INSERT INTO moz_formhistory(fieldname, value, timesUsed, firstUsed, lastUsed, guid)"
		     " VALUES('city', 'Lyon', 1, 1, 1, 'acityAAAAAAA')");
	assert_int_equal(ffx_sql_int(f->a.db, "SELECT count(*) FROM datasync_changes"), 1);
	/* outside a transaction the store refuses: its triggers would log every removal */
	assert_int_equal(e->ops->wipe(e), -EINVAL);
	wipe_and_reset(&f->a);
	assert_int_equal(ffx_sql_int(f->a.db, "SELECT count(*) FROM moz_formhistory"), 0);
	assert_int_equal(ffx_sql_int(f->a.db, "SELECT count(*) FROM datasync_changes"), 0);
	esf_sync_ok(&f->a);
	assert_true(ds_fake_sync15_coll_ts(f->srv, "forms") == ts); /* nothing went up */
	assert_int_equal(ds_fake_sync15_count(f->srv, "forms"), 3);
	a = forms_text(f->a.db);
	assert_non_null(strstr(a, "formAAAAAAAA q=datasync\n"));
	assert_null(strstr(a, "Lyon"));
	free(a);
	assert_int_equal(ffx_sql_int(f->a.db, "SELECT count(*) FROM moz_formhistory"), 3);
	assert_int_equal(ffx_sql_int(f->a.db, "SELECT count(*) FROM datasync_changes"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_devices_converge_on_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deletes_and_edits_reach_the_other_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clearing_forms_on_one_device_keeps_them_elsewhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wipe_removes_local_forms_and_sync_brings_them_back, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
