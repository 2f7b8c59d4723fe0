/*
 * The addons engine's rules (docs/engine-addons.md; desktop addons.sys.mjs) on an addons.sqlite
 * built from DS_ADDONS_SCHEMA_SQL. Each test is named after the rule it checks.
 */
#include "core/ds_core.h"
#include "engine/addons/ds_addons.h"
#include "sync/ds_sync.h"
#include "test/support/engine_sync_fixture.h"
#include "test/support/firefox_fixture.h"

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

#define FX "{ec8030f7-c20a-464f-9b0e-13a3a9e97384}"
#define OTHER_APP "{3550f703-e582-4d05-9a08-453d09bdfdc6}"

struct fx {
	char path[600];
	struct ds_engine *e;
	sqlite3 *db; /* the package manager's own connection */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct ds_addons_options o = { 0 };

	assert_non_null(f);
	esf_db_path(f->path, sizeof(f->path), "addons");
	ffx_make_addons(f->path);
	o.path = f->path;
	assert_int_equal(ds_addons_engine_new(&o, &f->e), 0);
	esf_open_db(f->path, &f->db);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	esf_engine_close(f->e, f->db, f->path);
	free(f);
	return 0;
}

static int apply(struct fx *f, const char *id, const char *payload)
{
	return esf_apply(f->e, id, payload);
}

static bool is_pending(struct fx *f, const char *id, bool *deleted)
{
	struct ds_pending_info pi;

	if (f->e->ops->pending(f->e, id, &pi) != 0)
		return false;
	if (deleted)
		*deleted = pi.deleted;
	return true;
}

static int64_t q(struct fx *f, const char *sql)
{
	return ffx_sql_int(f->db, sql);
}

/* The record of an item from the store for Firefox: the four fields, enabled as a boolean. */
static void test_record_format_of_a_store_item(void **state)
{
	struct fx *f = *state;
	struct ds_record r;
	cJSON *o;

	assert_int_equal(f->e->ops->get(f->e, "addonBBBBBBB", &r), 0);
	o = cJSON_Parse(r.payload);
	assert_string_equal(cJSON_GetObjectItem(o, "id")->valuestring, "addonBBBBBBB");
	assert_string_equal(cJSON_GetObjectItem(o, "addonID")->valuestring, "jid1-MnnxcxisBPnSXQ@jetpack");
	assert_string_equal(cJSON_GetObjectItem(o, "applicationID")->valuestring, FX);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "enabled")));
	assert_string_equal(cJSON_GetObjectItem(o, "source")->valuestring, "amo");
	assert_int_equal(cJSON_GetArraySize(o), 5);
	cJSON_Delete(o);
	ds_record_clear(&r);
}

/* Only items from the store ("amo") of the device's application sync: the first sync marks those
 * only; another source or another application is not a record, in either direction. */
static void test_only_store_items_of_this_application_sync(void **state)
{
	struct fx *f = *state;
	struct ds_record r;

	assert_int_equal(f->e->ops->mark_all(f->e), 0);
	assert_int_equal(q(f, "SELECT count(*) FROM datasync_changes"), 2);
	assert_true(is_pending(f, "addonAAAAAAA", NULL));
	assert_false(is_pending(f, "addonCCCCCCC", NULL));
	assert_false(is_pending(f, "addonDDDDDDD", NULL));
	assert_int_equal(f->e->ops->get(f->e, "addonCCCCCCC", &r), -ENOENT);
	assert_int_equal(f->e->ops->get(f->e, "addonDDDDDDD", &r), -ENOENT);
	/* incoming: another application's record, a record from another source: ignored */
	assert_int_equal(apply(f, "remoteXXXXXX", "{\"addonID\":\"x@example.com\",\"applicationID\":\""
			       OTHER_APP "\",\"enabled\":true,\"source\":\"amo\"}"), 0);
	assert_int_equal(apply(f, "remoteYYYYYY", "{\"addonID\":\"y@example.com\",\"applicationID\":\""
			       FX "\",\"enabled\":true,\"source\":\"url\"}"), 0);
	/* a store record for an item sideloaded here leaves it alone */
	assert_int_equal(apply(f, "remoteZZZZZZ", "{\"addonID\":\"vendor-tv-guide@example.com\","
			       "\"applicationID\":\"" FX "\",\"enabled\":false,\"source\":\"amo\"}"), 0);
	assert_int_equal(q(f, "SELECT enabled FROM addons WHERE guid = 'addonCCCCCCC'"), 1);
	assert_int_equal(q(f, "SELECT count(*) FROM addons_wanted"), 0);
}

/* A record for an installed item sets its enabled state; an item is its addonID, so a record
 * under another guid renames the local item (desktop _findDupe). */
static void test_remote_enabled_state_applied_to_installed_items(void **state)
{
	struct fx *f = *state;

	assert_int_equal(apply(f, "addonBBBBBBB", "{\"id\":\"addonBBBBBBB\",\"addonID\":"
			       "\"jid1-MnnxcxisBPnSXQ@jetpack\",\"applicationID\":\"" FX "\","
			       "\"enabled\":true,\"source\":\"amo\"}"), 0);
	assert_int_equal(q(f, "SELECT enabled FROM addons WHERE guid = 'addonBBBBBBB'"), 1);
	assert_int_equal(apply(f, "remoteAAAAAA", "{\"id\":\"remoteAAAAAA\",\"addonID\":"
			       "\"uBlock0@raymondhill.net\",\"applicationID\":\"" FX "\","
			       "\"enabled\":false,\"source\":\"amo\"}"), 0);
	assert_int_equal(q(f, "SELECT enabled FROM addons WHERE guid = 'remoteAAAAAA'"), 0);
	assert_int_equal(q(f, "SELECT count(*) FROM addons WHERE guid = 'addonAAAAAAA'"), 0);
	/* the engine's writes are not local changes */
	assert_int_equal(q(f, "SELECT count(*) FROM datasync_changes"), 0);
	assert_int_equal(q(f, "SELECT count(*) FROM addons_wanted"), 0);
}

/* The device cannot install from the store: a record for an item that is not installed leaves
 * an "install" wish for the package manager, which goes when the item arrives; a tombstone of
 * an installed item leaves an "uninstall" wish, which goes when the item is removed. */
static void test_not_installed_items_kept_as_wishes_for_the_package_manager(void **state)
{
	struct fx *f = *state;
	bool deleted = false;

	assert_int_equal(apply(f, "remoteNNNNNN", "{\"id\":\"remoteNNNNNN\",\"addonID\":"
			       "\"new@example.com\",\"applicationID\":\"" FX "\",\"enabled\":false,"
			       "\"source\":\"amo\",\"newerField\":7}"), 0);
	assert_int_equal(q(f, "SELECT count(*) FROM addons_wanted WHERE guid = 'remoteNNNNNN'"
			   " AND addonID = 'new@example.com' AND enabled = 0 AND wish = 'install'"), 1);
	assert_int_equal(q(f, "SELECT count(*) FROM addons WHERE addonID = 'new@example.com'"), 0);
	/* the package manager installs it under the record's guid: the wish is settled */
	ffx_sql(f->db, "INSERT INTO addons VALUES('remoteNNNNNN', 'new@example.com', '" FX "', 0, 'amo')");
	assert_int_equal(q(f, "SELECT count(*) FROM addons_wanted"), 0);
	/* the unknown field of the record travels back with the item */
	{
		struct ds_record r;

		assert_int_equal(f->e->ops->get(f->e, "remoteNNNNNN", &r), 0);
		assert_non_null(strstr(r.payload, "\"newerField\":7"));
		ds_record_clear(&r);
	}
	/* another device removed uBlock: an uninstall wish, the item stays until the package
	 * manager acts */
	assert_int_equal(apply(f, "addonAAAAAAA", NULL), 0);
	assert_int_equal(q(f, "SELECT count(*) FROM addons_wanted WHERE addonID = 'uBlock0@raymondhill.net'"
			   " AND wish = 'uninstall'"), 1);
	assert_int_equal(q(f, "SELECT count(*) FROM addons WHERE guid = 'addonAAAAAAA'"), 1);
	ffx_sql(f->db, "DELETE FROM addons WHERE guid = 'addonAAAAAAA'");
	assert_int_equal(q(f, "SELECT count(*) FROM addons_wanted"), 0);
	assert_true(is_pending(f, "addonAAAAAAA", &deleted));
	assert_true(deleted);
	/* a tombstone of a wish drops it; of an unknown guid, nothing */
	assert_int_equal(apply(f, "remoteWWWWWW", "{\"addonID\":\"w@example.com\",\"applicationID\":\""
			       FX "\",\"enabled\":true,\"source\":\"amo\"}"), 0);
	assert_int_equal(q(f, "SELECT count(*) FROM addons_wanted"), 1);
	assert_int_equal(apply(f, "remoteWWWWWW", NULL), 0);
	assert_int_equal(apply(f, "nosuchguid12", NULL), 0);
	assert_int_equal(q(f, "SELECT count(*) FROM addons_wanted"), 0);
}

/* The package manager installing, enabling or removing a store item is a local change; its
 * writes of other items are not. */
static void test_package_manager_writes_of_store_items_logged(void **state)
{
	struct fx *f = *state;
	bool deleted = true;

	ffx_sql(f->db, "UPDATE addons SET enabled = 0 WHERE guid = 'addonCCCCCCC'");
	ffx_sql(f->db, "UPDATE addons SET enabled = 0 WHERE guid = 'addonDDDDDDD'");
	ffx_sql(f->db, "INSERT INTO addons VALUES('sideloaded12', 's@example.com', '" FX "', 1, 'file')");
	assert_int_equal(q(f, "SELECT count(*) FROM datasync_changes"), 0);
	ffx_sql(f->db, "UPDATE addons SET enabled = 1 WHERE guid = 'addonBBBBBBB'");
	assert_true(is_pending(f, "addonBBBBBBB", &deleted));
	assert_false(deleted);
	ffx_sql(f->db, "INSERT INTO addons VALUES('installed123', 'i@example.com', '" FX "', 1, 'amo')");
	assert_true(is_pending(f, "installed123", NULL));
	ffx_sql(f->db, "DELETE FROM addons WHERE guid = 'addonAAAAAAA'");
	assert_true(is_pending(f, "addonAAAAAAA", &deleted));
	assert_true(deleted);
	/* an item leaving the store's set (source changed) goes out as a removal */
	ffx_sql(f->db, "UPDATE addons SET source = 'file' WHERE guid = 'installed123'");
	assert_true(is_pending(f, "installed123", &deleted));
	assert_true(deleted);
}

static void test_malformed_records_refused_without_change(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
		"not json",
		"{\"applicationID\":\"" FX "\",\"enabled\":true,\"source\":\"amo\"}",
		"{\"addonID\":\"\",\"applicationID\":\"" FX "\",\"enabled\":true,\"source\":\"amo\"}",
		"{\"addonID\":\"a@b\",\"applicationID\":\"" FX "\",\"enabled\":1,\"source\":\"amo\"}",
		"{\"addonID\":\"a@b\",\"applicationID\":\"" FX "\",\"enabled\":true}",
		"{\"addonID\":7,\"applicationID\":\"" FX "\",\"enabled\":true,\"source\":\"amo\"}",
	};
	size_t i;

	for (i = 0; i < DS_ARRAY_SIZE(bad); i++)
		assert_int_equal(apply(f, "remoteBADBAD", bad[i]), -EBADMSG);
	assert_int_equal(apply(f, "bad,id", "{\"addonID\":\"a@b\",\"applicationID\":\"" FX "\","
			       "\"enabled\":true,\"source\":\"amo\"}"), -EBADMSG);
	assert_int_equal(apply(f, "", NULL), -EBADMSG);
	assert_int_equal(q(f, "SELECT count(*) FROM addons_wanted"), 0);
	assert_int_equal(q(f, "SELECT count(*) FROM addons"), 4);
}

/* Another application id in the registration: that application's items sync instead. */
static void test_registration_and_unregister(void **state)
{
	struct fx *f = *state;
	char text[800];
	cJSON *cfg;

	f->e->ops->close(f->e);
	f->e = NULL;
	cfg = cJSON_Parse("{\"kind\":\"addons\"}");
	assert_int_equal(ds_engine_open(cfg, &f->e), -EINVAL);
	cJSON_Delete(cfg);
	snprintf(text, sizeof(text), "{\"kind\":\"addons\",\"addons\":\"%s\",\"app_id\":\"" OTHER_APP "\"}",
		 f->path);
	cfg = cJSON_Parse(text);
	assert_int_equal(ds_engine_open(cfg, &f->e), 0);
	assert_string_equal(f->e->ops->kind, "addons");
	assert_int_equal(f->e->ops->mark_all(f->e), 0);
	assert_true(is_pending(f, "addonDDDDDDD", NULL));
	assert_false(is_pending(f, "addonAAAAAAA", NULL));
	f->e->ops->close(f->e);
	f->e = NULL;
	assert_int_equal(ds_engine_unregister(cfg), 0);
	cJSON_Delete(cfg);
	assert_int_equal(q(f, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'datasync%'"), 0);
	assert_int_equal(q(f, "SELECT count(*) FROM addons"), 4);
	/* not an addons database */
	ffx_sql(f->db, "DROP TABLE addons");
	snprintf(text, sizeof(text), "{\"kind\":\"addons\",\"addons\":\"%s\"}", f->path);
	cfg = cJSON_Parse(text);
	assert_int_equal(ds_engine_open(cfg, &f->e), -EPROTO);
	cJSON_Delete(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_record_format_of_a_store_item),
		T(test_only_store_items_of_this_application_sync),
		T(test_remote_enabled_state_applied_to_installed_items),
		T(test_not_installed_items_kept_as_wishes_for_the_package_manager),
		T(test_package_manager_writes_of_store_items_logged),
		T(test_malformed_records_refused_without_change),
		T(test_registration_and_unregister),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
