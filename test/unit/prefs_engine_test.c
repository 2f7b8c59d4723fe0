/*
 * The prefs engine's rules (docs/engine-prefs.md; desktop prefs.sys.mjs) on a prefs.sqlite built
 * from DS_PREFS_SCHEMA_SQL. Each test is named after the rule it checks.
 */
#include "core/ds_core.h"
#include "engine/prefs/ds_prefs.h"
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

/* base64url("{ec8030f7-c20a-464f-9b0e-13a3a9e97384}") with its padding, as desktop builds it
 * (CommonUtils.encodeBase64URL(Services.appinfo.ID)). */
#define FX_ID "e2VjODAzMGY3LWMyMGEtNDY0Zi05YjBlLTEzYTNhOWU5NzM4NH0="

static const char *const ALLOW[] = { "browser.startup.homepage", "layout.spellcheckDefault",
				     "browser.missing", "general.smoothScroll" };

struct fx {
	char path[600];
	struct ds_engine *e;
	sqlite3 *db; /* the settings service's own connection */
};

static void open_engine(struct fx *f, const char *const *allow, size_t n)
{
	struct ds_prefs_options o = { .path = f->path, .allow = allow, .n_allow = n };

	assert_int_equal(ds_prefs_engine_new(&o, &f->e), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	esf_db_path(f->path, sizeof(f->path), "prefs");
	ffx_make_prefs(f->path);
	open_engine(f, ALLOW, DS_ARRAY_SIZE(ALLOW));
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

/* The record's "value" object (caller deletes the returned root). */
static cJSON *record(struct fx *f, cJSON **value)
{
	struct ds_record r;
	cJSON *o;

	assert_int_equal(f->e->ops->get(f->e, FX_ID, &r), 0);
	assert_string_equal(r.id, FX_ID);
	o = cJSON_Parse(r.payload);
	ds_record_clear(&r);
	assert_non_null(o);
	assert_string_equal(cJSON_GetObjectItem(o, "id")->valuestring, FX_ID);
	*value = cJSON_GetObjectItem(o, "value");
	assert_true(cJSON_IsObject(*value));
	return o;
}

static bool is_pending(struct fx *f)
{
	struct ds_pending_info pi;

	return f->e->ops->pending(f->e, FX_ID, &pi) == 0;
}

static char *pref_text(struct fx *f, const char *name)
{
	sqlite3_stmt *st;
	char *out;

	assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT type || ':' || ifnull(value, 'NULL') FROM prefs"
					    " WHERE name = ?", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	out = sqlite3_step(st) == SQLITE_ROW ? strdup((const char *)sqlite3_column_text(st, 0)) : strdup("none");
	sqlite3_finalize(st);
	return out;
}

static void assert_pref(struct fx *f, const char *name, const char *want)
{
	char *got = pref_text(f, name);

	if (strcmp(got, want) != 0)
		fail_msg("pref %s: got %s, want %s", name, got, want);
	free(got);
}

static void test_record_id_is_padded_base64url_of_the_app_id(void **state)
{
	char id[128];

	(void)state;
	assert_int_equal(ds_prefs_record_id(DS_PREFS_FIREFOX_APP_ID, id, sizeof(id)), 0);
	assert_string_equal(id, FX_ID);
	/* the URL alphabet, padding kept: bytes fb ff are "+/8=" in base64 */
	assert_int_equal(ds_prefs_record_id("\xfb\xff", id, sizeof(id)), 0);
	assert_string_equal(id, "-_8=");
	assert_int_equal(ds_prefs_record_id("", id, sizeof(id)), -EINVAL);
}

/* A pref syncs when its control row says 1, or without a control row (or with NULL) when the
 * registration allows it; a control row 0 turns an allowed pref off; control prefs and other
 * settings never travel; a missing or default pref is sent as null. */
static void test_only_allowed_or_controlled_prefs_travel(void **state)
{
	struct fx *f = *state;
	cJSON *value, *o = record(f, &value);

	assert_string_equal(cJSON_GetObjectItem(value, "browser.startup.homepage")->valuestring,
			    "https://start.example/");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(value, "privacy.donottrackheader.enabled")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(value, "browser.missing")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(value, "general.smoothScroll")));
	assert_null(cJSON_GetObjectItem(value, "layout.spellcheckDefault"));  /* control row 0 */
	assert_null(cJSON_GetObjectItem(value, "device.serial"));             /* not allowed */
	assert_null(cJSON_GetObjectItem(value, "services.sync.prefs.sync.privacy.donottrackheader.enabled"));
	assert_int_equal(cJSON_GetArraySize(value), 5);
	assert_int_equal(cJSON_GetObjectItem(value, "browser.tabs.max")->valueint, 50);
	cJSON_Delete(o);
}

/* Remote values are applied pref by pref: each of its type, a new row takes the JSON type, null
 * resets to the default (the row stays, without a user value); a value that does not fit is
 * skipped and the others still apply. */
static void test_remote_values_applied_pref_by_pref(void **state)
{
	struct fx *f = *state;

	assert_int_equal(apply(f, FX_ID, "{\"id\":\"" FX_ID "\",\"value\":{"
			       "\"browser.startup.homepage\":\"https://remote.example/\","
			       "\"privacy.donottrackheader.enabled\":false,"
			       "\"browser.tabs.max\":-7,"
			       "\"browser.missing\":\"now here\","
			       "\"general.smoothScroll\":null}}"), 0);
	assert_pref(f, "browser.startup.homepage", "string:https://remote.example/");
	assert_pref(f, "privacy.donottrackheader.enabled", "bool:0");
	assert_pref(f, "browser.tabs.max", "int:-7");
	assert_pref(f, "browser.missing", "string:now here");
	assert_pref(f, "general.smoothScroll", "bool:NULL");
	/* values that do not fit their pref: another type, a fraction, beyond 32 bits, an object */
	assert_int_equal(apply(f, FX_ID, "{\"id\":\"" FX_ID "\",\"value\":{"
			       "\"browser.startup.homepage\":true,"
			       "\"browser.tabs.max\":1.5,"
			       "\"privacy.donottrackheader.enabled\":1,"
			       "\"general.smoothScroll\":4294967296,"
			       "\"browser.missing\":{\"a\":1}}}"), 0);
	assert_pref(f, "browser.startup.homepage", "string:https://remote.example/");
	assert_pref(f, "browser.tabs.max", "int:-7");
	assert_pref(f, "privacy.donottrackheader.enabled", "bool:0");
	assert_pref(f, "general.smoothScroll", "bool:NULL");
	assert_pref(f, "browser.missing", "string:now here");
	/* applying is not a local change */
	assert_false(is_pending(f));
}

/* Prefs of the record this device does not sync (other devices' settings, control prefs) and
 * unknown top-level fields are never applied, and are sent back with the record. */
static void test_unknown_prefs_kept_and_sent_back(void **state)
{
	struct fx *f = *state;
	cJSON *value, *o;

	assert_int_equal(apply(f, FX_ID, "{\"id\":\"" FX_ID "\",\"extra\":[1,2],\"value\":{"
			       "\"desktop.only\":5,\"device.serial\":\"remote\","
			       "\"services.sync.prefs.sync.device.serial\":true,"
			       "\"browser.tabs.max\":9}}"), 0);
	assert_pref(f, "device.serial", "string:TV-0001");
	assert_pref(f, "desktop.only", "none");
	assert_pref(f, "services.sync.prefs.sync.device.serial", "none");
	assert_pref(f, "browser.tabs.max", "int:9");
	o = record(f, &value);
	assert_int_equal(cJSON_GetObjectItem(value, "desktop.only")->valueint, 5);
	assert_string_equal(cJSON_GetObjectItem(value, "device.serial")->valuestring, "remote");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(value, "services.sync.prefs.sync.device.serial")));
	assert_int_equal(cJSON_GetObjectItem(value, "browser.tabs.max")->valueint, 9);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "extra")), 2);
	cJSON_Delete(o);
	/* the next remote version replaces what was kept */
	assert_int_equal(apply(f, FX_ID, "{\"id\":\"" FX_ID "\",\"value\":{\"desktop.only\":6}}"), 0);
	o = record(f, &value);
	assert_int_equal(cJSON_GetObjectItem(value, "desktop.only")->valueint, 6);
	assert_null(cJSON_GetObjectItem(value, "device.serial"));
	assert_null(cJSON_GetObjectItem(o, "extra"));
	cJSON_Delete(o);
}

/* The settings service writing a synced pref or a control row logs the record; other settings
 * do not. */
static void test_settings_writes_of_synced_prefs_logged(void **state)
{
	struct fx *f = *state;

	assert_false(is_pending(f));
	ffx_sql(f->db, "UPDATE prefs SET value = 'TV-0002' WHERE name = 'device.serial'");
	ffx_sql(f->db, "UPDATE prefs SET value = 3 WHERE name = 'layout.spellcheckDefault'");
	ffx_sql(f->db, "INSERT INTO prefs VALUES('device.other', 'int', 1)");
	assert_false(is_pending(f));
	ffx_sql(f->db, "UPDATE prefs SET value = 'https://new.example/' WHERE name = 'browser.startup.homepage'");
	assert_true(is_pending(f));
	ffx_sql(f->db, "DELETE FROM datasync_changes");
	ffx_sql(f->db, "INSERT INTO prefs VALUES('browser.missing', 'string', 'x')");
	assert_true(is_pending(f));
	ffx_sql(f->db, "DELETE FROM datasync_changes");
	ffx_sql(f->db, "UPDATE prefs SET value = 1 WHERE name = 'services.sync.prefs.sync.layout.spellcheckDefault'");
	assert_true(is_pending(f));
	ffx_sql(f->db, "DELETE FROM datasync_changes");
	ffx_sql(f->db, "DELETE FROM prefs WHERE name = 'browser.tabs.max'");
	assert_true(is_pending(f));
}

/* One record per application: records of other applications are ignored, and a tombstone of
 * ours changes no setting. */
static void test_other_apps_records_and_tombstones_ignored(void **state)
{
	struct fx *f = *state;
	char other[128];
	char rec[512];

	assert_int_equal(ds_prefs_record_id("{3550f703-e582-4d05-9a08-453d09bdfdc6}", other, sizeof(other)), 0);
	snprintf(rec, sizeof(rec), "{\"id\":\"%s\",\"value\":{\"browser.tabs.max\":1}}", other);
	assert_int_equal(apply(f, other, rec), 0);
	assert_pref(f, "browser.tabs.max", "int:50");
	assert_int_equal(apply(f, FX_ID, NULL), 0);
	assert_pref(f, "browser.tabs.max", "int:50");
	assert_pref(f, "browser.startup.homepage", "string:https://start.example/");
}

/* Both sides changed (policy merge): the remote's prefs over the local record, one by one. */
static void test_merge_applies_remote_prefs_over_local(void **state)
{
	struct fx *f = *state;
	struct ds_record local, out;
	struct ds_record remote = { .id = FX_ID, .payload = "{\"id\":\"" FX_ID "\",\"new\":1,\"value\":{"
				    "\"browser.tabs.max\":3,\"desktop.only\":\"d\"}}" };
	cJSON *o, *v;

	assert_int_equal(f->e->ops->get(f->e, FX_ID, &local), 0);
	assert_int_equal(f->e->ops->merge(f->e, &local, &remote, &out), 0);
	o = cJSON_Parse(out.payload);
	v = cJSON_GetObjectItem(o, "value");
	assert_int_equal(cJSON_GetObjectItem(v, "browser.tabs.max")->valueint, 3);
	assert_string_equal(cJSON_GetObjectItem(v, "browser.startup.homepage")->valuestring,
			    "https://start.example/");
	assert_string_equal(cJSON_GetObjectItem(v, "desktop.only")->valuestring, "d");
	assert_int_equal(cJSON_GetObjectItem(o, "new")->valueint, 1);
	cJSON_Delete(o);
	assert_int_equal(apply(f, FX_ID, out.payload), 0);
	assert_pref(f, "browser.tabs.max", "int:3");
	ds_record_clear(&local);
	ds_record_clear(&out);
}

/* With a base (the version both sides last agreed on: the last record applied or acknowledged),
 * a conflict takes from the remote only the prefs it changed since; the local changes of the
 * others stay. */
static void test_merge_keeps_local_changes_the_remote_did_not_make(void **state)
{
	struct fx *f = *state;
	struct ds_record local, out;
	struct ds_record remote = { .id = FX_ID, .payload = "{\"id\":\"" FX_ID "\",\"value\":{"
				    "\"browser.startup.homepage\":\"https://base.example/\","
				    "\"browser.tabs.max\":4}}" };
	struct ds_pending_info pi;
	cJSON *o, *v;

	assert_int_equal(apply(f, FX_ID, "{\"id\":\"" FX_ID "\",\"value\":{"
			       "\"browser.startup.homepage\":\"https://base.example/\",\"browser.tabs.max\":3}}"), 0);
	ffx_sql(f->db, "UPDATE prefs SET value = 'https://local.example/' WHERE name = 'browser.startup.homepage'");
	assert_true(is_pending(f));
	assert_int_equal(f->e->ops->begin(f->e), 0);
	assert_int_equal(f->e->ops->get(f->e, FX_ID, &local), 0);
	assert_int_equal(f->e->ops->merge(f->e, &local, &remote, &out), 0);
	o = cJSON_Parse(out.payload);
	v = cJSON_GetObjectItem(o, "value");
	assert_string_equal(cJSON_GetObjectItem(v, "browser.startup.homepage")->valuestring,
			    "https://local.example/");
	assert_int_equal(cJSON_GetObjectItem(v, "browser.tabs.max")->valueint, 4);
	cJSON_Delete(o);
	assert_int_equal(f->e->ops->apply(f->e, &out), 0);
	assert_int_equal(f->e->ops->commit(f->e), 0);
	assert_pref(f, "browser.tabs.max", "int:4");
	assert_pref(f, "browser.startup.homepage", "string:https://local.example/");
	/* the base is the server's version until the merged record is acknowledged */
	assert_int_equal(ffx_sql_int(f->db, "SELECT value LIKE '%base.example%' FROM datasync_prefs_base"), 1);
	assert_int_equal(f->e->ops->pending(f->e, FX_ID, &pi), 0);
	assert_int_equal(f->e->ops->begin(f->e), 0);
	assert_int_equal(f->e->ops->forget(f->e, FX_ID, pi.change_seq), 0);
	assert_int_equal(f->e->ops->commit(f->e), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT value LIKE '%local.example%' FROM datasync_prefs_base"), 1);
	ds_record_clear(&local);
	ds_record_clear(&out);
}

/* Another allow-list syncs other prefs: the record is pending; the same list, or the first
 * registration, is no change (a new device's values are not news to the account). */
static void test_allow_list_change_marks_the_record(void **state)
{
	struct fx *f = *state;
	static const char *const fewer[] = { "browser.startup.homepage" };

	assert_false(is_pending(f));
	f->e->ops->close(f->e);
	open_engine(f, ALLOW, DS_ARRAY_SIZE(ALLOW));
	assert_false(is_pending(f));
	f->e->ops->close(f->e);
	open_engine(f, fewer, 1);
	assert_true(is_pending(f));
	ffx_sql(f->db, "DELETE FROM datasync_changes");
	f->e->ops->close(f->e);
	open_engine(f, fewer, 1);
	assert_false(is_pending(f));
}

static void test_malformed_records_refused_without_change(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = { "not json", "[]", "{\"id\":\"" FX_ID "\"}",
					   "{\"id\":\"" FX_ID "\",\"value\":[1]}",
					   "{\"id\":\"" FX_ID "\",\"value\":\"x\"}" };
	size_t i;

	for (i = 0; i < DS_ARRAY_SIZE(bad); i++)
		assert_int_equal(apply(f, FX_ID, bad[i]), -EBADMSG);
	assert_pref(f, "browser.tabs.max", "int:50");
}

static void test_first_sync_marks_the_one_record(void **state)
{
	struct fx *f = *state;

	assert_false(is_pending(f));
	assert_int_equal(f->e->ops->mark_all(f->e), 0);
	assert_true(is_pending(f));
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM datasync_changes"), 1);
}

static void test_registration_checked_and_unregister_removes_side_tables(void **state)
{
	struct fx *f = *state;
	struct ds_engine *e = NULL;
	/* what follows "prefs": path in a registration */
	static const char *const bad_cfgs[] = {
		",\"allow\":[\"\"]",
		",\"allow\":\"x\"",
		",\"allow\":[1]",
		",\"allow\":[\"services.sync.prefs.sync.a\"]",
		",\"app_id\":7",
	};
	char text[1200], other[700];
	size_t i;
	cJSON *cfg;

	for (i = 0; i < DS_ARRAY_SIZE(bad_cfgs); i++) {
		snprintf(text, sizeof(text), "{\"kind\":\"prefs\",\"prefs\":\"%s\"%s}", f->path,
			 bad_cfgs[i]);
		cfg = cJSON_Parse(text);
		assert_non_null(cfg);
		assert_int_equal(ds_engine_open(cfg, &e), -EINVAL);
		cJSON_Delete(cfg);
	}
	cfg = cJSON_Parse("{\"kind\":\"prefs\"}");
	assert_int_equal(ds_engine_open(cfg, &e), -EINVAL);
	cJSON_Delete(cfg);
	/* not a prefs database; no such file */
	snprintf(other, sizeof(other), "%s.other", f->path);
	{
		sqlite3 *db;

		assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
		ffx_sql(db, "CREATE TABLE settings(k, v)");
		sqlite3_close(db);
	}
	snprintf(text, sizeof(text), "{\"kind\":\"prefs\",\"prefs\":\"%s\"}", other);
	cfg = cJSON_Parse(text);
	assert_int_equal(ds_engine_open(cfg, &e), -EPROTO);
	cJSON_Delete(cfg);
	unlink(other);
	snprintf(text, sizeof(text), "{\"kind\":\"prefs\",\"prefs\":\"%s\"}", other);
	cfg = cJSON_Parse(text);
	assert_int_equal(ds_engine_open(cfg, &e), -ENOENT);
	cJSON_Delete(cfg);
	/* the factory opens it; unregistering leaves the settings and nothing of ours */
	f->e->ops->close(f->e);
	f->e = NULL;
	snprintf(text, sizeof(text), "{\"kind\":\"prefs\",\"prefs\":\"%s\",\"allow\":[\"a.b\"],"
		 "\"app_id\":\"{3550f703-e582-4d05-9a08-453d09bdfdc6}\"}", f->path);
	cfg = cJSON_Parse(text);
	assert_int_equal(ds_engine_open(cfg, &f->e), 0);
	assert_string_equal(f->e->ops->kind, "prefs");
	f->e->ops->close(f->e);
	f->e = NULL;
	assert_int_equal(ds_engine_unregister(cfg), 0);
	cJSON_Delete(cfg);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'datasync%'"), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM prefs"), 9);
}

/* Vectors: test/data/firefox/records/prefs.json, records as desktop Firefox writes them: "in"
 * applied, then the engine's record holds "out". */
static void test_desktop_records_from_vectors(void **state)
{
	struct fx *f = *state;
	char *text = ffx_read_data("records/prefs.json");
	cJSON *doc = cJSON_Parse(text), *v;
	int n = 0;

	assert_non_null(doc);
	cJSON_ArrayForEach(v, cJSON_GetObjectItem(doc, "vectors")) {
		const char *name = cJSON_GetObjectItem(v, "name")->valuestring;
		char *in = cJSON_PrintUnformatted(cJSON_GetObjectItem(v, "in"));
		cJSON *want = cJSON_GetObjectItem(v, "out"), *value, *o, *w;

		if (apply(f, FX_ID, in) != 0)
			fail_msg("vector %s not applied", name);
		o = record(f, &value);
		cJSON_ArrayForEach(w, want) {
			cJSON *got = cJSON_GetObjectItem(value, w->string);

			if (!got || !cJSON_Compare(got, w, true))
				fail_msg("vector %s: pref %s differs", name, w->string);
		}
		cJSON_Delete(o);
		free(in);
		n++;
	}
	assert_true(n >= 2);
	cJSON_Delete(doc);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_record_id_is_padded_base64url_of_the_app_id),
		T(test_only_allowed_or_controlled_prefs_travel),
		T(test_remote_values_applied_pref_by_pref),
		T(test_unknown_prefs_kept_and_sent_back),
		T(test_settings_writes_of_synced_prefs_logged),
		T(test_other_apps_records_and_tombstones_ignored),
		T(test_merge_applies_remote_prefs_over_local),
		T(test_merge_keeps_local_changes_the_remote_did_not_make),
		T(test_allow_list_change_marks_the_record),
		T(test_malformed_records_refused_without_change),
		T(test_first_sync_marks_the_one_record),
		T(test_registration_checked_and_unregister_removes_side_tables),
		T(test_desktop_records_from_vectors),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
