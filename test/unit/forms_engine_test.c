/*
 * The forms engine's rules (docs/engine-forms.md) on the reference store over a
 * formhistory.sqlite built from test/data/firefox/formhistory.sql (Firefox's schema). Each test
 * is named after the rule it checks.
 */
#include "core/ds_core.h"
#include "engine/forms/ds_forms.h"
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

#define NOW_MS INT64_C(1767225600000)

struct fx {
	char path[600];
	struct ds_engine *e;
	sqlite3 *db; /* the browser's own connection */
};

static int64_t fake_now(void *user_data)
{
	DS_UNUSED(user_data);
	return NOW_MS;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct ds_forms_store *s;

	assert_non_null(f);
	esf_db_path(f->path, sizeof(f->path), "fh");
	ffx_make_formhistory(f->path);
	assert_int_equal(ds_forms_formhistory_open(f->path, fake_now, NULL, &s), 0);
	assert_int_equal(ds_forms_engine_new(s, &f->e), 0);
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

static bool is_pending(struct fx *f, const char *id)
{
	struct ds_pending_info pi;

	return f->e->ops->pending(f->e, id, &pi) == 0;
}

static void test_record_format_from_firefox_formhistory(void **state)
{
	struct fx *f = *state;
	struct ds_record r;
	cJSON *o;

	assert_int_equal(f->e->ops->get(f->e, "formBBBBBBBB", &r), 0);
	o = cJSON_Parse(r.payload);
	assert_non_null(o);
	assert_string_equal(cJSON_GetObjectItem(o, "id")->valuestring, "formBBBBBBBB");
	assert_string_equal(cJSON_GetObjectItem(o, "name")->valuestring, "email");
	assert_string_equal(cJSON_GetObjectItem(o, "value")->valuestring, "alice@example.com");
	assert_int_equal(cJSON_GetArraySize(o), 3);
	cJSON_Delete(o);
	ds_record_clear(&r);
	assert_int_equal(f->e->ops->get(f->e, "nosuchformid", &r), -ENOENT);
}

static void test_new_entry_inserted_as_firefox_would(void **state)
{
	struct fx *f = *state;

	assert_int_equal(apply(f, "remoteDDDDDD", "{\"id\":\"remoteDDDDDD\",\"name\":\"city\","
			       "\"value\":\"Lyon\"}"), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT timesUsed FROM moz_formhistory WHERE guid = 'remoteDDDDDD'"
				 " AND fieldname = 'city' AND value = 'Lyon'"), 1);
	assert_int_equal(ffx_sql_int(f->db, "SELECT firstUsed FROM moz_formhistory WHERE guid = 'remoteDDDDDD'"),
			 NOW_MS * 1000);
	assert_false(is_pending(f, "remoteDDDDDD"));
	/* idempotent */
	assert_int_equal(apply(f, "remoteDDDDDD", "{\"id\":\"remoteDDDDDD\",\"name\":\"city\","
			       "\"value\":\"Lyon\"}"), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_formhistory"), 4);
}

static void test_same_name_and_value_deduplicated_under_the_remote_guid(void **state)
{
	struct fx *f = *state;

	assert_int_equal(apply(f, "remoteAAAAAA", "{\"id\":\"remoteAAAAAA\",\"name\":\"q\","
			       "\"value\":\"datasync\"}"), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_formhistory WHERE fieldname = 'q'"
				 " AND value = 'datasync'"), 1);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_formhistory WHERE guid = 'remoteAAAAAA'"), 1);
	/* the entry keeps its use statistics */
	assert_int_equal(ffx_sql_int(f->db, "SELECT timesUsed FROM moz_formhistory WHERE guid = 'remoteAAAAAA'"), 3);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_formhistory"), 3);
}

static void test_dedupe_moves_a_pending_change_to_the_remote_guid(void **state)
{
	struct fx *f = *state;

	ffx_sql(f->db, "UPDATE moz_formhistory SET value = 'datasync!' WHERE guid = 'formAAAAAAAA'");
	assert_true(is_pending(f, "formAAAAAAAA"));
	assert_int_equal(apply(f, "remoteAAAAAA", "{\"name\":\"q\",\"value\":\"datasync!\"}"), 0);
	assert_false(is_pending(f, "formAAAAAAAA"));
	assert_true(is_pending(f, "remoteAAAAAA"));
}

static void test_record_with_known_guid_updates_the_entry(void **state)
{
	struct fx *f = *state;

	assert_int_equal(apply(f, "formCCCCCCCC", "{\"name\":\"q\",\"value\":\"firefox accounts\"}"), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_formhistory WHERE guid = 'formCCCCCCCC'"
				 " AND value = 'firefox accounts'"), 1);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_formhistory"), 3);
}

static void test_tombstone_removes_the_entry(void **state)
{
	struct fx *f = *state;

	assert_int_equal(apply(f, "formBBBBBBBB", NULL), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_formhistory WHERE guid = 'formBBBBBBBB'"), 0);
	/* as desktop Firefox: no moz_deleted_formhistory row (Android only) */
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_deleted_formhistory"), 0);
	assert_false(is_pending(f, "formBBBBBBBB"));
	/* unknown guid: nothing happens */
	assert_int_equal(apply(f, "nosuchformid", NULL), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_formhistory"), 2);
}

static void test_malformed_records_refused_without_change(void **state)
{
	struct fx *f = *state;
	char big[400];

	assert_int_equal(apply(f, "remoteEEEEEE", "{nope"), -EBADMSG);
	assert_int_equal(apply(f, "remoteEEEEEE", "{\"value\":\"x\"}"), -EBADMSG);
	assert_int_equal(apply(f, "remoteEEEEEE", "{\"name\":\"\",\"value\":\"x\"}"), -EBADMSG);
	assert_int_equal(apply(f, "remoteEEEEEE", "{\"name\":\"q\",\"value\":3}"), -EBADMSG);
	snprintf(big, sizeof(big), "{\"name\":\"q\",\"value\":\"%0*d\"}", DS_FORMS_MAX_VALUE + 1, 0);
	assert_int_equal(apply(f, "remoteEEEEEE", big), -EBADMSG);
	snprintf(big, sizeof(big), "{\"name\":\"q\",\"value\":\"%0*d\"}", DS_FORMS_MAX_VALUE, 0);
	assert_int_equal(apply(f, "remoteEEEEEE", big), 0);
	assert_int_equal(apply(f, "", "{\"name\":\"q\",\"value\":\"x\"}"), -EBADMSG);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_formhistory"), 4);
}

struct collect {
	char ids[8][64];
	bool deleted[8];
	int n;
};

static int collect_cb(const struct ds_record *r, void *user_data)
{
	struct collect *c = user_data;

	if (c->n < 8) {
		snprintf(c->ids[c->n], sizeof(c->ids[0]), "%s", r->id);
		c->deleted[c->n] = r->deleted;
	}
	c->n++;
	return 0;
}

static void test_browser_edits_logged_uses_and_engine_writes_not(void **state)
{
	struct fx *f = *state;
	struct collect c = { 0 };

	assert_int_equal(apply(f, "remoteFFFFFF", "{\"name\":\"zip\",\"value\":\"69001\"}"), 0);
	/* using a saved value only counts the use */
	ffx_sql(f->db, "UPDATE moz_formhistory SET timesUsed = timesUsed + 1, lastUsed = 1766000000000000"
		   " WHERE guid = 'formAAAAAAAA'");
	assert_int_equal(f->e->ops->changes(f->e, collect_cb, &c), 0);
	assert_int_equal(c.n, 0);
	ffx_sql(f->db, "INSERT INTO moz_formhistory(fieldname, value, timesUsed, firstUsed, lastUsed, guid)"
		   " VALUES('q', 'new', 1, 1, 1, 'formNNNNNNNN')");
	ffx_sql(f->db, "UPDATE moz_formhistory SET value = 'edited' WHERE guid = 'formCCCCCCCC'");
	ffx_sql(f->db, "DELETE FROM moz_formhistory WHERE guid = 'formBBBBBBBB'");
	assert_int_equal(f->e->ops->changes(f->e, collect_cb, &c), 0);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.ids[0], "formNNNNNNNN");
	assert_string_equal(c.ids[1], "formCCCCCCCC");
	assert_string_equal(c.ids[2], "formBBBBBBBB");
	assert_false(c.deleted[1]);
	assert_true(c.deleted[2]);
}

static void test_first_sync_marks_every_entry(void **state)
{
	struct fx *f = *state;
	struct ds_pending_info pi;

	assert_int_equal(f->e->ops->mark_all(f->e), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM datasync_changes"), 3);
	assert_int_equal(f->e->ops->pending(f->e, "formAAAAAAAA", &pi), 0);
	assert_true(pi.modified_ms == 0);
	/* an entry already pending keeps its change */
	ffx_sql(f->db, "DELETE FROM datasync_changes");
	ffx_sql(f->db, "UPDATE moz_formhistory SET value = 'x' WHERE guid = 'formBBBBBBBB'");
	assert_int_equal(f->e->ops->pending(f->e, "formBBBBBBBB", &pi), 0);
	{
		uint64_t before = pi.change_seq;

		assert_int_equal(f->e->ops->mark_all(f->e), 0);
		assert_int_equal(f->e->ops->pending(f->e, "formBBBBBBBB", &pi), 0);
		assert_true(pi.change_seq == before && pi.modified_ms > 0);
	}
}

/* Every allocation of an apply and of a get failing in turn: an error, never a crash, a leak or a
 * half-written entry; then the same calls succeed. */
static void test_allocation_failures_leave_form_history_unchanged(void **state)
{
	struct fx *f = *state;
	struct ds_record r;
	unsigned long k;
	int rc = -1;

	for (k = 1; k < 200 && rc != 0; k++) {
		ds_alloc_fail_after(k);
		rc = apply(f, "remoteMMMMMM", "{\"name\":\"q\",\"value\":\"datasync\"}");
		ds_alloc_fail_after(0);
		if (rc) {
			assert_int_equal(rc, -ENOMEM);
			assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_formhistory WHERE guid = 'formAAAAAAAA'"), 1);
		}
	}
	assert_int_equal(rc, 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_formhistory WHERE guid = 'remoteMMMMMM'"), 1);
	for (rc = -1, k = 1; k < 200 && rc != 0; k++) {
		ds_alloc_fail_after(k);
		rc = f->e->ops->get(f->e, "remoteMMMMMM", &r);
		ds_alloc_fail_after(0);
		if (rc)
			assert_int_equal(rc, -ENOMEM);
	}
	assert_int_equal(rc, 0);
	assert_non_null(strstr(r.payload, "\"value\":\"datasync\""));
	ds_record_clear(&r);
}

/* Vectors: test/data/firefox/records/forms.json (apply "in", then the engine's record equals "out";
 * unknown fields kept). Applied twice: the second time changes nothing. */
static void test_record_round_trips_from_vectors(void **state)
{
	struct fx *f = *state;
	char *text = ffx_read_data("records/forms.json");
	cJSON *doc = cJSON_Parse(text), *v;
	int n = 0;

	assert_non_null(doc);
	cJSON_ArrayForEach(v, cJSON_GetObjectItem(doc, "vectors")) {
		const char *name = cJSON_GetObjectItem(v, "name")->valuestring;
		cJSON *in = cJSON_GetObjectItem(v, "in"), *want = cJSON_GetObjectItem(v, "out"), *got;
		const char *id = cJSON_GetObjectItem(in, "id")->valuestring;
		char *payload = cJSON_PrintUnformatted(in);
		struct ds_record r;
		int pass;

		for (pass = 0; pass < 2; pass++) {
			if (apply(f, id, payload) != 0)
				fail_msg("vector '%s': apply failed", name);
			assert_int_equal(f->e->ops->get(f->e, id, &r), 0);
			got = cJSON_Parse(r.payload);
			if (!cJSON_Compare(got, want, true))
				fail_msg("vector '%s': got %s", name, r.payload);
			cJSON_Delete(got);
			ds_record_clear(&r);
		}
		cJSON_free(payload);
		n++;
	}
	assert_true(n >= 3);
	cJSON_Delete(doc);
	free(text);
}

static void test_not_a_formhistory_database_refused(void **state)
{
	struct fx *f = *state;
	struct ds_forms_store *s = NULL;
	char other[700];
	sqlite3 *db;

	snprintf(other, sizeof(other), "%s.other", f->path);
	assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
	ffx_sql(db, "CREATE TABLE moz_formhistory(id INTEGER PRIMARY KEY, fieldname TEXT, value TEXT)");
	sqlite3_close(db);
	assert_int_equal(ds_forms_formhistory_open(other, NULL, NULL, &s), -EPROTO);
	assert_null(s);
	unlink(other);
	assert_int_equal(ds_forms_formhistory_open(other, NULL, NULL, &s), -ENOENT);
}

static void test_unregister_removes_triggers_and_side_tables(void **state)
{
	struct fx *f = *state;
	cJSON *cfg = cJSON_CreateObject();

	cJSON_AddStringToObject(cfg, "kind", "forms");
	cJSON_AddStringToObject(cfg, "formhistory", f->path);
	f->e->ops->close(f->e);
	f->e = NULL;
	assert_int_equal(ds_forms_engine_unregister(cfg), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'datasync%'"), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_formhistory"), 3);
	/* through the factory, as a stored registration opens it */
	assert_int_equal(ds_engine_open(cfg, &f->e), 0);
	assert_string_equal(f->e->ops->kind, "forms");
	cJSON_Delete(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_record_format_from_firefox_formhistory),
		T(test_new_entry_inserted_as_firefox_would),
		T(test_same_name_and_value_deduplicated_under_the_remote_guid),
		T(test_dedupe_moves_a_pending_change_to_the_remote_guid),
		T(test_record_with_known_guid_updates_the_entry),
		T(test_tombstone_removes_the_entry),
		T(test_malformed_records_refused_without_change),
		T(test_browser_edits_logged_uses_and_engine_writes_not),
		T(test_first_sync_marks_every_entry),
		T(test_allocation_failures_leave_form_history_unchanged),
		T(test_record_round_trips_from_vectors),
		T(test_not_a_formhistory_database_refused),
		T(test_unregister_removes_triggers_and_side_tables),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
