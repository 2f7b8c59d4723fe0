/*
 * The history engine's rules (docs/engine-history.md, sync15.md §8-§9) on the reference store
 * over a places.sqlite built from test/data/firefox/places.sql (Firefox's schema). Each test is
 * named after the rule it checks.
 */
#include "core/ds_core.h"
#include "engine/history/ds_history.h"
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

/* 2026-01-01T00:00:00Z, after every fixture visit. */
#define NOW_MS INT64_C(1767225600000)

struct fx {
	char path[600];
	struct ds_engine *e;
	sqlite3 *db; /* the browser's own connection */
	int64_t now_ms;
};

static int64_t fake_now(void *user_data)
{
	return ((struct fx *)user_data)->now_ms;
}

static void open_engine(struct fx *f, const struct ds_history_options *opt)
{
	struct ds_history_store *s;
	struct ds_history_options o = { 0 };

	if (opt)
		o = *opt;
	o.now_ms = fake_now;
	o.now_user_data = f;
	assert_int_equal(ds_history_places_open(f->path, &s), 0);
	assert_int_equal(ds_history_engine_new(s, &o, &f->e), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	esf_db_path(f->path, sizeof(f->path), "places");
	ffx_make_places(f->path);
	f->now_ms = NOW_MS;
	open_engine(f, NULL);
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

static cJSON *get_json(struct fx *f, const char *id)
{
	struct ds_record r;
	cJSON *o;

	if (f->e->ops->get(f->e, id, &r) != 0)
		return NULL;
	o = cJSON_Parse(r.payload);
	assert_non_null(o);
	ds_record_clear(&r);
	return o;
}

static int n_visits(cJSON *o)
{
	return cJSON_GetArraySize(cJSON_GetObjectItem(o, "visits"));
}

static int64_t visit_date_at(cJSON *o, int i)
{
	return (int64_t)cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "visits"), i),
					    "date")->valuedouble;
}

/* The browser visiting place id now (SQLite's clock, the one the triggers read). */
static void visit_now(struct fx *f, int id)
{
	char q[256];

	snprintf(q, sizeof(q), "INSERT INTO moz_historyvisits(from_visit, place_id, visit_date,"
		 " visit_type, session) VALUES(0, %d, CAST((julianday('now') - 2440587.5)"
		 " * 86400000000 AS INTEGER), 1, 0)", id);
	ffx_sql(f->db, q);
}

static bool is_pending(struct fx *f, const char *id)
{
	struct ds_pending_info pi;

	return f->e->ops->pending(f->e, id, &pi) == 0;
}

/* The url_hash values of the independent implementation in test/data/firefox/make-fixtures.py. */
static void test_url_hash_is_firefoxs_hash(void **state)
{
	DS_UNUSED(state);
	assert_true(ds_browser_url_hash("https://www.mozilla.org/") == INT64_C(47358155560141));
	assert_true(ds_browser_url_hash("https://example.com/a") == INT64_C(47356380020438));
	assert_true(ds_browser_url_hash("place:sort=8") == INT64_C(268507818159337));
	assert_true(ds_browser_url_hash("about") == INT64_C(2742263717));
}

static void test_record_format_from_firefox_places(void **state)
{
	struct fx *f = *state;
	cJSON *o = get_json(f, "placeAAAAAAA");
	struct ds_record r;

	assert_non_null(o);
	assert_string_equal(cJSON_GetObjectItem(o, "id")->valuestring, "placeAAAAAAA");
	assert_string_equal(cJSON_GetObjectItem(o, "histUri")->valuestring, "https://www.mozilla.org/");
	assert_string_equal(cJSON_GetObjectItem(o, "title")->valuestring, "Mozilla");
	assert_int_equal(n_visits(o), 2);
	/* newest first, exact µs */
	assert_true(visit_date_at(o, 0) == INT64_C(1764547200000000));
	cJSON_Delete(o);
	/* title NULL in places -> "" */
	o = get_json(f, "placeCCCCCCC");
	assert_string_equal(cJSON_GetObjectItem(o, "title")->valuestring, "");
	cJSON_Delete(o);
	/* a bookmarked place never visited is not history */
	assert_int_equal(f->e->ops->get(f->e, "placeDDDDDDD", &r), -ENOENT);
}

static void test_timestamps_are_integer_microseconds(void **state)
{
	struct fx *f = *state;
	struct ds_record r;

	assert_int_equal(apply(f, "placeEEEEEEE", "{\"id\":\"placeEEEEEEE\",\"histUri\":"
			       "\"https://e.example/\",\"title\":\"E\",\"visits\":[{\"date\":"
			       "1700000000000000,\"type\":1}]}"), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT visit_date FROM moz_historyvisits v JOIN moz_places p"
				 " ON p.id = v.place_id WHERE p.guid = 'placeEEEEEEE'"), INT64_C(1700000000000000));
	assert_int_equal(f->e->ops->get(f->e, "placeEEEEEEE", &r), 0);
	/* written as an integer, never 1.7e+15 */
	assert_non_null(strstr(r.payload, "\"date\":1700000000000000"));
	ds_record_clear(&r);
}

static void test_places_keyed_by_url_guid_change_renames_local_place(void **state)
{
	struct fx *f = *state;
	cJSON *o;

	/* Another device named https://example.com/a first, with another guid. */
	assert_int_equal(apply(f, "remoteAAAAAA", "{\"id\":\"remoteAAAAAA\",\"histUri\":"
			       "\"https://example.com/a\",\"title\":\"Example A\",\"visits\":[{\"date\":"
			       "1764000000000000,\"type\":2}]}"), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_places WHERE url = 'https://example.com/a'"), 1);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_places WHERE guid = 'placeBBBBBBB'"), 0);
	o = get_json(f, "remoteAAAAAA");
	assert_non_null(o);
	assert_int_equal(n_visits(o), 2); /* the local visit and the remote one */
	cJSON_Delete(o);
}

static void test_guid_change_moves_a_pending_change_to_the_new_guid(void **state)
{
	struct fx *f = *state;

	ffx_sql(f->db, "INSERT INTO moz_historyvisits(from_visit, place_id, visit_date, visit_type, session)"
		   " VALUES(0, 2, 1764500000000000, 1, 0)");
	assert_true(is_pending(f, "placeBBBBBBB"));
	assert_int_equal(apply(f, "remoteAAAAAA", "{\"id\":\"remoteAAAAAA\",\"histUri\":"
			       "\"https://example.com/a\",\"visits\":[{\"date\":1764000000000000,\"type\":2}]}"), 0);
	assert_false(is_pending(f, "placeBBBBBBB"));
	assert_true(is_pending(f, "remoteAAAAAA"));
}

static void test_visits_merged_and_deduplicated_by_date_and_type(void **state)
{
	struct fx *f = *state;
	cJSON *o;
	const char *rec = "{\"id\":\"placeAAAAAAA\",\"histUri\":\"https://www.mozilla.org/\","
			  "\"title\":\"Mozilla\",\"visits\":[{\"date\":1764547200000000,\"type\":1},"
			  "{\"date\":1764547200000000,\"type\":1},{\"date\":1764547200000000,\"type\":2},"
			  "{\"date\":1764000000000000,\"type\":1}]}";

	assert_int_equal(apply(f, "placeAAAAAAA", rec), 0);
	/* local had (..547, 1) and (..460, 2); remote adds (..547, 2) and (..000, 1) */
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_historyvisits WHERE place_id = 1"), 4);
	/* idempotent */
	assert_int_equal(apply(f, "placeAAAAAAA", rec), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_historyvisits WHERE place_id = 1"), 4);
	assert_int_equal(ffx_sql_int(f->db, "SELECT visit_count FROM moz_places WHERE id = 1"), 4);
	assert_int_equal(ffx_sql_int(f->db, "SELECT last_visit_date FROM moz_places WHERE id = 1"),
			 INT64_C(1764547200000000));
	o = get_json(f, "placeAAAAAAA");
	assert_int_equal(n_visits(o), 4);
	cJSON_Delete(o);
}

static void test_record_carries_at_most_20_newest_visits(void **state)
{
	struct fx *f = *state;
	cJSON *o;

	ffx_sql(f->db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30)"
		   " INSERT INTO moz_historyvisits(from_visit, place_id, visit_date, visit_type, session)"
		   " SELECT 0, 2, 1765000000000000 + i, 1, 0 FROM n");
	o = get_json(f, "placeBBBBBBB");
	assert_int_equal(n_visits(o), 20);
	assert_true(visit_date_at(o, 0) == INT64_C(1765000000000030));
	assert_true(visit_date_at(o, 19) == INT64_C(1765000000000011));
	cJSON_Delete(o);
}

static void test_first_upload_marks_only_5000_most_recent_places(void **state)
{
	struct fx *f = *state;
	uint64_t n = 0;

	/* 5,010 more places, each visited once, place 10 the oldest */
	ffx_sql(f->db, "BEGIN; WITH RECURSIVE n(i) AS (SELECT 10 UNION ALL SELECT i + 1 FROM n WHERE i < 5019)"
		   " INSERT INTO moz_places(id, url, guid, last_visit_date, url_hash)"
		   " SELECT i, 'https://bulk.example/' || i, printf('bulk%08d', i), 1760000000000000 + i, 0"
		   " FROM n; COMMIT");
	ffx_sql(f->db, "DELETE FROM datasync_changes");
	assert_int_equal(f->e->ops->mark_all(f->e), 0);
	n = (uint64_t)ffx_sql_int(f->db, "SELECT count(*) FROM datasync_changes");
	assert_int_equal(n, 5000);
	/* the three fixture places are the most recent; the oldest bulk places are left out */
	assert_true(is_pending(f, "placeAAAAAAA"));
	assert_true(is_pending(f, "bulk00005019"));
	assert_false(is_pending(f, "bulk00000010"));
	assert_false(is_pending(f, "placeDDDDDDD")); /* never visited */
}

static void test_future_visit_dates_clamped_to_now(void **state)
{
	struct fx *f = *state;

	assert_int_equal(apply(f, "placeFFFFFFF", "{\"id\":\"placeFFFFFFF\",\"histUri\":"
			       "\"https://future.example/\",\"visits\":[{\"date\":4102444800000000,\"type\":1}]}"), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT max(visit_date) FROM moz_historyvisits"), NOW_MS * 1000);
}

static void test_visits_before_1993_dropped(void **state)
{
	struct fx *f = *state;
	cJSON *o;

	assert_int_equal(apply(f, "placeGGGGGGG", "{\"id\":\"placeGGGGGGG\",\"histUri\":"
			       "\"https://old.example/\",\"visits\":[{\"date\":727747199999999,\"type\":1},"
			       "{\"date\":727747200000000,\"type\":1},{\"date\":0,\"type\":1}]}"), 0);
	o = get_json(f, "placeGGGGGGG");
	assert_int_equal(n_visits(o), 1);
	assert_true(visit_date_at(o, 0) == DS_HISTORY_EARLIEST_US);
	cJSON_Delete(o);
	/* only ancient visits: nothing to store, not an error */
	assert_int_equal(apply(f, "placeHHHHHHH", "{\"id\":\"placeHHHHHHH\",\"histUri\":"
			       "\"https://older.example/\",\"visits\":[{\"date\":1000,\"type\":1}]}"), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_places WHERE guid = 'placeHHHHHHH'"), 0);
}

static void test_long_titles_cut_at_4096_bytes_on_a_character_boundary(void **state)
{
	struct fx *f = *state;
	char rec[9000];
	int n;
	cJSON *o;

	/* "a" then 2,100 two-byte characters: 4,201 bytes; byte 4096 is inside a character */
	n = snprintf(rec, sizeof(rec), "{\"histUri\":\"https://t.example/\",\"title\":\"a");
	for (int i = 0; i < 2100; i++)
		n += snprintf(rec + n, sizeof(rec) - (size_t)n, "\u00e9");
	snprintf(rec + n, sizeof(rec) - (size_t)n, "\",\"visits\":[{\"date\":1764000000000000,\"type\":1}]}");
	assert_int_equal(apply(f, "placeTTTTTTT", rec), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT length(CAST(title AS BLOB)) FROM moz_places WHERE guid = 'placeTTTTTTT'"), 4095);
	o = get_json(f, "placeTTTTTTT");
	assert_int_equal(strlen(cJSON_GetObjectItem(o, "title")->valuestring), 4095);
	cJSON_Delete(o);
}

static void test_unknown_visit_types_skipped(void **state)
{
	struct fx *f = *state;
	cJSON *o;

	assert_int_equal(apply(f, "placeIIIIIII", "{\"id\":\"placeIIIIIII\",\"histUri\":"
			       "\"https://types.example/\",\"visits\":[{\"date\":1764000000000000,\"type\":0},"
			       "{\"date\":1764000000000001,\"type\":10},{\"date\":1764000000000002,\"type\":9},"
			       "{\"date\":1764000000000003,\"type\":\"1\"},{\"type\":1}]}"), 0);
	o = get_json(f, "placeIIIIIII");
	assert_int_equal(n_visits(o), 1);
	cJSON_Delete(o);
}

static void test_malformed_records_refused_without_change(void **state)
{
	struct fx *f = *state;
	int64_t before = ffx_sql_int(f->db, "SELECT count(*) FROM moz_places");

	assert_int_equal(apply(f, "placeJJJJJJJ", "{not json"), -EBADMSG);
	assert_int_equal(apply(f, "placeJJJJJJJ", "{\"histUri\":\"\",\"visits\":[]}"), -EBADMSG);
	assert_int_equal(apply(f, "placeJJJJJJJ", "{\"histUri\":\"no scheme\",\"visits\":[]}"), -EBADMSG);
	assert_int_equal(apply(f, "placeJJJJJJJ", "{\"histUri\":\"https://x.example/\"}"), -EBADMSG);
	/* a guid of a place without visits (the bookmark) with another URL */
	assert_int_equal(apply(f, "placeDDDDDDD", "{\"histUri\":\"https://other.example/\","
			       "\"visits\":[{\"date\":1764000000000000,\"type\":1}]}"), -EBADMSG);
	/* a URL held under another guid, renamed to a guid another place holds */
	assert_int_equal(apply(f, "placeDDDDDDD", "{\"histUri\":\"https://example.com/a\","
			       "\"visits\":[{\"date\":1764000000000000,\"type\":1}]}"), -EBADMSG);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_historyvisits WHERE place_id = 4"), 0);
	/* a known guid with another URL */
	assert_int_equal(apply(f, "placeAAAAAAA", "{\"histUri\":\"https://other.example/\","
			       "\"visits\":[{\"date\":1764000000000000,\"type\":1}]}"), -EBADMSG);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_places"), before);
}

static void test_tombstone_removes_history_keeps_bookmarked_place(void **state)
{
	struct fx *f = *state;

	assert_int_equal(apply(f, "placeBBBBBBB", NULL), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_places WHERE guid = 'placeBBBBBBB'"), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_historyvisits WHERE place_id = 2"), 0);
	assert_false(is_pending(f, "placeBBBBBBB"));
	/* the bookmarked place stays (without visits) */
	ffx_sql(f->db, "INSERT INTO moz_historyvisits(from_visit, place_id, visit_date, visit_type, session)"
		   " VALUES(0, 4, 1764500000000000, 3, 0)");
	assert_int_equal(apply(f, "placeDDDDDDD", NULL), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_places WHERE guid = 'placeDDDDDDD'"), 1);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_historyvisits WHERE place_id = 4"), 0);
	/* unknown guid: nothing to do */
	assert_int_equal(apply(f, "nosuchplace1", NULL), 0);
}

struct collect {
	char ids[8][64];
	bool deleted[8];
	uint64_t seq[8];
	int n;
};

static int collect_cb(const struct ds_record *r, void *user_data)
{
	struct collect *c = user_data;

	if (c->n < 8) {
		snprintf(c->ids[c->n], sizeof(c->ids[0]), "%s", r->id);
		c->deleted[c->n] = r->deleted;
		c->seq[c->n] = r->change_seq;
	}
	c->n++;
	return 0;
}

static int ttl_cb(const struct ds_record *r, void *user_data)
{
	struct collect *c = user_data;

	assert_int_equal(r->ttl_s, DS_HISTORY_TTL_S);
	c->n++;
	return 0;
}

static void test_browser_writes_logged_engine_writes_not(void **state)
{
	struct fx *f = *state;
	struct collect c = { 0 };

	/* the engine applying a remote record is not a local change */
	assert_int_equal(apply(f, "placeKKKKKKK", "{\"id\":\"placeKKKKKKK\",\"histUri\":"
			       "\"https://k.example/\",\"visits\":[{\"date\":1764000000000000,\"type\":1}]}"), 0);
	/* a bookmark never visited is not history: renaming it is not a change */
	ffx_sql(f->db, "UPDATE moz_places SET title = 'Renamed bookmark' WHERE guid = 'placeDDDDDDD'");
	assert_int_equal(f->e->ops->changes(f->e, collect_cb, &c), 0);
	assert_int_equal(c.n, 0);
	/* the browser: a visit, a title, a removal */
	ffx_sql(f->db, "INSERT INTO moz_historyvisits(from_visit, place_id, visit_date, visit_type, session)"
		   " VALUES(0, 1, 1764600000000000, 1, 0)");
	ffx_sql(f->db, "UPDATE moz_places SET title = 'New title' WHERE guid = 'placeCCCCCCC'");
	visit_now(f, 2);
	ffx_sql(f->db, "DELETE FROM moz_historyvisits WHERE place_id = 2; DELETE FROM moz_places WHERE id = 2");
	assert_int_equal(f->e->ops->changes(f->e, collect_cb, &c), 0);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.ids[0], "placeAAAAAAA");
	assert_string_equal(c.ids[1], "placeCCCCCCC");
	assert_string_equal(c.ids[2], "placeBBBBBBB");
	assert_true(c.deleted[2]);
	assert_false(c.deleted[0]);
	assert_true(c.seq[0] < c.seq[1] && c.seq[1] < c.seq[2]);
	/* changes_after resumes strictly after a delivered change */
	memset(&c, 0, sizeof(c));
	assert_int_equal(f->e->ops->changes_after(f->e, 0, NULL, collect_cb, &c), 0);
	assert_int_equal(c.n, 3);
	{
		uint64_t s1 = c.seq[0];

		memset(&c, 0, sizeof(c));
		assert_int_equal(f->e->ops->changes_after(f->e, s1, "placeAAAAAAA", collect_cb, &c), 0);
		assert_int_equal(c.n, 2);
		assert_string_equal(c.ids[0], "placeCCCCCCC");
	}
}

static void test_forget_keeps_a_newer_change(void **state)
{
	struct fx *f = *state;
	struct ds_pending_info pi;
	uint64_t first;

	ffx_sql(f->db, "INSERT INTO moz_historyvisits(from_visit, place_id, visit_date, visit_type, session)"
		   " VALUES(0, 1, 1764600000000000, 1, 0)");
	assert_int_equal(f->e->ops->pending(f->e, "placeAAAAAAA", &pi), 0);
	first = pi.change_seq;
	assert_true(pi.modified_ms > 0);
	ffx_sql(f->db, "INSERT INTO moz_historyvisits(from_visit, place_id, visit_date, visit_type, session)"
		   " VALUES(0, 1, 1764700000000000, 1, 0)");
	assert_int_equal(f->e->ops->begin(f->e), 0);
	assert_int_equal(f->e->ops->forget(f->e, "placeAAAAAAA", first), 0);
	assert_int_equal(f->e->ops->commit(f->e), 0);
	assert_true(is_pending(f, "placeAAAAAAA"));
	assert_int_equal(f->e->ops->pending(f->e, "placeAAAAAAA", &pi), 0);
	assert_int_equal(f->e->ops->begin(f->e), 0);
	assert_int_equal(f->e->ops->forget(f->e, "placeAAAAAAA", pi.change_seq), 0);
	assert_int_equal(f->e->ops->commit(f->e), 0);
	assert_false(is_pending(f, "placeAAAAAAA"));
}

static void test_merge_unions_visits_and_keeps_remote_title(void **state)
{
	struct fx *f = *state;
	struct ds_record local, remote = { .id = "placeAAAAAAA", .payload =
		"{\"id\":\"placeAAAAAAA\",\"histUri\":\"https://www.mozilla.org/\",\"title\":\"Remote\","
		"\"visits\":[{\"date\":1764000000000000,\"type\":3}]}" }, out;
	cJSON *o;

	assert_int_equal(f->e->ops->get(f->e, "placeAAAAAAA", &local), 0);
	assert_int_equal(f->e->ops->merge(f->e, &local, &remote, &out), 0);
	o = cJSON_Parse(out.payload);
	assert_int_equal(n_visits(o), 3);
	assert_string_equal(cJSON_GetObjectItem(o, "title")->valuestring, "Remote");
	cJSON_Delete(o);
	ds_record_clear(&local);
	ds_record_clear(&out);
}

/* Every allocation of an apply and of a get failing in turn: an error, never a crash, a leak or a
 * half-written place; then the same calls succeed. */
static void test_allocation_failures_leave_places_unchanged(void **state)
{
	struct fx *f = *state;
	const char *rec = "{\"id\":\"placeLLLLLLL\",\"histUri\":\"https://l.example/\",\"title\":\"L\","
			  "\"visits\":[{\"date\":1764000000000000,\"type\":1},{\"date\":1764000000000001,\"type\":2}]}";
	struct ds_record r;
	unsigned long k;
	int rc = -1;

	for (k = 1; k < 200 && rc != 0; k++) {
		ds_alloc_fail_after(k);
		rc = apply(f, "placeLLLLLLL", rec);
		ds_alloc_fail_after(0);
		if (rc) {
			assert_int_equal(rc, -ENOMEM);
			assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_places WHERE guid = 'placeLLLLLLL'"), 0);
		}
	}
	assert_int_equal(rc, 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT visit_count FROM moz_places WHERE guid = 'placeLLLLLLL'"), 2);
	for (rc = -1, k = 1; k < 200 && rc != 0; k++) {
		ds_alloc_fail_after(k);
		rc = f->e->ops->get(f->e, "placeLLLLLLL", &r);
		ds_alloc_fail_after(0);
		if (rc)
			assert_int_equal(rc, -ENOMEM);
	}
	assert_int_equal(rc, 0);
	assert_non_null(strstr(r.payload, "\"histUri\":\"https://l.example/\""));
	ds_record_clear(&r);
}

/* Vectors: test/data/firefox/records/history.json (apply "in", then the engine's record equals "out";
 * unknown fields kept). Applied twice: the second time changes nothing. */
static void test_record_round_trips_from_vectors(void **state)
{
	struct fx *f = *state;
	char *text = ffx_read_data("records/history.json");
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

static void test_not_a_places_database_refused(void **state)
{
	struct fx *f = *state;
	struct ds_history_store *s = NULL;
	char other[700];
	sqlite3 *db;

	snprintf(other, sizeof(other), "%s.other", f->path);
	assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
	ffx_sql(db, "CREATE TABLE moz_places(id INTEGER PRIMARY KEY, url TEXT)");
	sqlite3_close(db);
	assert_int_equal(ds_history_places_open(other, &s), -EPROTO);
	assert_null(s);
	unlink(other);
	/* a missing profile is not created */
	assert_int_equal(ds_history_places_open(other, &s), -ENOENT);
	assert_int_equal(access(other, F_OK), -1);
}

static void test_unregister_removes_triggers_and_side_tables(void **state)
{
	struct fx *f = *state;
	cJSON *cfg = cJSON_CreateObject();

	cJSON_AddStringToObject(cfg, "kind", "history");
	cJSON_AddStringToObject(cfg, "places", f->path);
	f->e->ops->close(f->e);
	f->e = NULL;
	assert_int_equal(ds_history_engine_unregister(cfg), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'datasync%'"), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_places"), 4);
	/* through the factory, as a stored registration opens it */
	assert_int_equal(ds_engine_open(cfg, &f->e), 0);
	assert_string_equal(f->e->ops->kind, "history");
	cJSON_Delete(cfg);
}

/* Firefox's expiration (nsPlacesExpiration.sys.mjs) removes the oldest visits, never one of the
 * last 7 days, then the orphan places: none of that is uploaded, not even a change the place had
 * pending (it would go out as a tombstone and delete the page on the other devices). */
static void test_expiration_of_old_places_is_not_uploaded_as_removals(void **state)
{
	struct fx *f = *state;
	struct collect c = { 0 };

	/* place B visited in 2020 (pending), place C's visits all old, bookmarked D too */
	ffx_sql(f->db, "INSERT INTO moz_historyvisits(from_visit, place_id, visit_date, visit_type, session)"
		   " VALUES(0, 2, 1577836800000000, 1, 0), (0, 4, 1577836800000000, 1, 0)");
	ffx_sql(f->db, "DELETE FROM datasync_changes WHERE guid <> 'placeBBBBBBB'");
	assert_true(is_pending(f, "placeBBBBBBB"));
	/* QUERY_EXPIRE_VISITS, then QUERY_EXPIRE_URIS (orphans, not bookmarked) */
	ffx_sql(f->db, "DELETE FROM moz_historyvisits WHERE place_id IN (2, 3, 4)");
	ffx_sql(f->db, "DELETE FROM moz_places WHERE id IN (2, 3) AND foreign_count = 0");
	assert_int_equal(f->e->ops->changes(f->e, collect_cb, &c), 0);
	assert_int_equal(c.n, 0);
	/* the side table of marks stays empty */
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM datasync_history_removed"), 0);
	/* a place that keeps a visit after some old ones expired is not a change either */
	ffx_sql(f->db, "INSERT INTO moz_historyvisits(from_visit, place_id, visit_date, visit_type, session)"
		   " VALUES(0, 1, 1577836800000000, 1, 0)");
	ffx_sql(f->db, "DELETE FROM datasync_changes");
	ffx_sql(f->db, "DELETE FROM moz_historyvisits WHERE visit_date = 1577836800000000");
	assert_false(is_pending(f, "placeAAAAAAA"));
}

/* The user removing a page ("forget about this site", "delete page": its visits, the recent ones
 * too, then the place) is uploaded as a tombstone; a bookmarked page keeps its place and loses
 * its history, which is a tombstone too; a place deleted with its visits still attached is the
 * user's as well (expiration only deletes places without visits). */
static void test_user_removal_of_a_page_uploaded_as_tombstone(void **state)
{
	struct fx *f = *state;
	struct collect c = { 0 };
	struct ds_pending_info pi;

	visit_now(f, 2);
	visit_now(f, 4);
	ffx_sql(f->db, "DELETE FROM datasync_changes");
	ffx_sql(f->db, "BEGIN; DELETE FROM moz_historyvisits WHERE place_id IN (2, 4);"
		   " DELETE FROM moz_places WHERE id IN (2, 4) AND foreign_count = 0; COMMIT");
	assert_int_equal(f->e->ops->pending(f->e, "placeBBBBBBB", &pi), 0);
	assert_true(pi.deleted);
	assert_int_equal(f->e->ops->pending(f->e, "placeDDDDDDD", &pi), 0);
	assert_true(pi.deleted);
	/* the marks are gone with the places' history */
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM datasync_history_removed"), 0);
	/* place C (old visits only) deleted with its visits still there: the user's */
	ffx_sql(f->db, "DELETE FROM moz_places WHERE id = 3");
	assert_int_equal(f->e->ops->pending(f->e, "placeCCCCCCC", &pi), 0);
	assert_true(pi.deleted);
	assert_int_equal(f->e->ops->changes(f->e, collect_cb, &c), 0);
	assert_int_equal(c.n, 3);
	assert_true(c.deleted[0] && c.deleted[1] && c.deleted[2]);
	/* removing only the last hour of a page that keeps older visits is no removal, and its
	 * mark lasts until the next run's prepare, so a later expiration stays an expiration */
	visit_now(f, 1);
	ffx_sql(f->db, "DELETE FROM datasync_changes");
	ffx_sql(f->db, "DELETE FROM moz_historyvisits WHERE place_id = 1 AND visit_date > 1765000000000000");
	assert_false(is_pending(f, "placeAAAAAAA"));
	assert_int_equal(f->e->ops->prepare(f->e), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM datasync_history_removed"), 0);
	ffx_sql(f->db, "DELETE FROM moz_historyvisits WHERE place_id = 1; DELETE FROM moz_places WHERE id = 1");
	assert_false(is_pending(f, "placeAAAAAAA"));
}

/* Records carry the BSO ttl of 60 days (5,184,000 s) and the page's frecency as sortindex, as
 * desktop and application-services send them; tombstones and merged records carry the ttl too. */
static void test_records_carry_60_day_ttl_and_frecency_as_sortindex(void **state)
{
	struct fx *f = *state;
	struct ds_record r, remote = { .id = "placeAAAAAAA", .payload = "{\"id\":\"placeAAAAAAA\","
		"\"histUri\":\"https://www.mozilla.org/\",\"title\":\"Remote\","
		"\"visits\":[{\"date\":1764000000000000,\"type\":3}]}" }, out;
	struct collect c = { 0 };

	assert_int_equal(DS_HISTORY_TTL_S, 5184000);
	ffx_sql(f->db, "UPDATE moz_places SET frecency = 4321 WHERE id = 1");
	assert_int_equal(f->e->ops->get(f->e, "placeAAAAAAA", &r), 0);
	assert_int_equal(r.ttl_s, 5184000);
	assert_int_equal(r.sortindex, 4321);
	assert_int_equal(f->e->ops->merge(f->e, &r, &remote, &out), 0);
	assert_int_equal(out.ttl_s, 5184000);
	assert_int_equal(out.sortindex, 4321);
	ds_record_clear(&out);
	ds_record_clear(&r);
	/* Places' "not computed yet" (-1) sends no sortindex; a huge one is capped at 9 digits */
	ffx_sql(f->db, "UPDATE moz_places SET frecency = -1 WHERE id = 2; UPDATE moz_places SET"
		   " frecency = 12345678901 WHERE id = 3");
	assert_int_equal(f->e->ops->get(f->e, "placeBBBBBBB", &r), 0);
	assert_int_equal(r.sortindex, 0);
	ds_record_clear(&r);
	assert_int_equal(f->e->ops->get(f->e, "placeCCCCCCC", &r), 0);
	assert_int_equal(r.sortindex, 999999999);
	ds_record_clear(&r);
	/* a tombstone */
	visit_now(f, 2);
	ffx_sql(f->db, "DELETE FROM moz_historyvisits WHERE place_id = 2; DELETE FROM moz_places WHERE id = 2");
	assert_int_equal(f->e->ops->changes(f->e, ttl_cb, &c), 0);
	assert_true(c.n >= 1);
}

/* sync15.md §12 AT-18, in one record: µs dates kept exact, 20-visit cap (the newest), future
 * dates clamped to now, pre-1993 visits dropped, duplicates by (date, type) merged; a record
 * whose id is not a Places guid (12 base64url characters) is rejected and stores nothing. */
static void test_AT18_history_record_rules(void **state)
{
	struct fx *f = *state;
	char rec[4096];
	size_t n = 0;
	int i;
	cJSON *o;
	static const char *const bad_ids[] = { "short", "placeAAAAAA!", "placeAAAAAAAA",
					       "place AAAAAA", "{9a0e5c71-bd}" };

	n += (size_t)snprintf(rec + n, sizeof(rec) - n, "{\"id\":\"at18AAAAAAAA\",\"histUri\":"
			      "\"https://at18.example/\",\"title\":\"AT-18\",\"visits\":[");
	for (i = 0; i < 25; i++)
		n += (size_t)snprintf(rec + n, sizeof(rec) - n, "{\"date\":%lld,\"type\":1},",
				      1765000000000001LL + i);
	n += (size_t)snprintf(rec + n, sizeof(rec) - n, "{\"date\":1765000000000001,\"type\":1},"
			      "{\"date\":4102444800000000,\"type\":2},{\"date\":727747199999999,\"type\":1}]}");
	assert_int_equal(apply(f, "at18AAAAAAAA", rec), 0);
	/* 25 distinct + the clamped future one; the duplicate and the 1993 one are gone */
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_historyvisits v JOIN moz_places p"
				 " ON p.id = v.place_id WHERE p.guid = 'at18AAAAAAAA'"), 26);
	assert_int_equal(ffx_sql_int(f->db, "SELECT max(visit_date) FROM moz_historyvisits"), NOW_MS * 1000);
	o = get_json(f, "at18AAAAAAAA");
	assert_int_equal(n_visits(o), 20);
	assert_true(visit_date_at(o, 0) == NOW_MS * 1000);
	assert_true(visit_date_at(o, 1) == INT64_C(1765000000000025));
	assert_true(visit_date_at(o, 19) == INT64_C(1765000000000007));
	cJSON_Delete(o);
	for (i = 0; i < (int)DS_ARRAY_SIZE(bad_ids); i++) {
		char bad[512];

		snprintf(bad, sizeof(bad), "{\"id\":\"%s\",\"histUri\":\"https://bad.example/\","
			 "\"visits\":[{\"date\":1765000000000000,\"type\":1}]}", bad_ids[i]);
		assert_int_equal(apply(f, bad_ids[i], bad), -EBADMSG);
		assert_int_equal(apply(f, bad_ids[i], NULL), -EBADMSG);
	}
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_places WHERE url = 'https://bad.example/'"), 0);
}

/* sync15.md §11 U8: the core applies a 5,000-record first download in chunks, each its own
 * begin/commit, several per fetched page. The engine holds nothing between calls: records
 * applied in any chunking land the same, none is logged as a local change, a chunk rolled back
 * leaves nothing behind, and the browser writing between two chunks is logged. Three chunks of
 * 100 here, so that the test stays quick under valgrind; make bench times the 5,000 (in chunks
 * of CONFIG_DS_SYNC_APPLY_CHUNK). */
static void test_U8_first_download_applied_in_chunked_transactions(void **state)
{
	struct fx *f = *state;
	const int total = 300, chunk = 100;
	int i;

	ffx_sql(f->db, "DELETE FROM moz_historyvisits; DELETE FROM moz_places WHERE foreign_count = 0;"
		   " DELETE FROM datasync_changes");
	for (i = 0; i < total; i += chunk) {
		int j;

		assert_int_equal(f->e->ops->begin(f->e), 0);
		for (j = i; j < i + chunk; j++) {
			char id[16], payload[256];
			struct ds_record r = { .id = id, .payload = payload };

			snprintf(id, sizeof(id), "u8%010d", j);
			snprintf(payload, sizeof(payload), "{\"id\":\"%s\",\"histUri\":\"https://u8.example/%d\","
				 "\"title\":\"U8 %d\",\"visits\":[{\"date\":%lld,\"type\":1}]}", id, j, j,
				 1760000000000000LL + j);
			assert_int_equal(f->e->ops->apply(f->e, &r), 0);
		}
		if (i == chunk) {
			/* a run stopped in the middle of a chunk: that chunk is gone, the earlier stays */
			assert_int_equal(f->e->ops->rollback(f->e), 0);
			assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_places"), 1 + chunk);
			assert_int_equal(f->e->ops->begin(f->e), 0);
			for (j = i; j < i + chunk; j++) {
				char id[16], payload[256];
				struct ds_record r = { .id = id, .payload = payload };

				snprintf(id, sizeof(id), "u8%010d", j);
				snprintf(payload, sizeof(payload), "{\"id\":\"%s\",\"histUri\":"
					 "\"https://u8.example/%d\",\"title\":\"U8 %d\",\"visits\":"
					 "[{\"date\":%lld,\"type\":1}]}", id, j, j, 1760000000000000LL + j);
				assert_int_equal(f->e->ops->apply(f->e, &r), 0);
			}
		}
		assert_int_equal(f->e->ops->commit(f->e), 0);
		if (i == 2 * chunk) /* the browser between two chunks */
			ffx_sql(f->db, "INSERT INTO moz_historyvisits(from_visit, place_id, visit_date,"
				   " visit_type, session) SELECT 0, id, 1765000000000000, 2, 0 FROM"
				   " moz_places WHERE guid = 'u80000000007'");
	}
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_places"), 1 + total);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_historyvisits"), total + 1);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM datasync_changes"), 1);
	assert_true(is_pending(f, "u80000000007"));
	assert_int_equal(ffx_sql_int(f->db, "SELECT applying FROM datasync_state"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_url_hash_is_firefoxs_hash),
		T(test_record_format_from_firefox_places),
		T(test_timestamps_are_integer_microseconds),
		T(test_places_keyed_by_url_guid_change_renames_local_place),
		T(test_guid_change_moves_a_pending_change_to_the_new_guid),
		T(test_visits_merged_and_deduplicated_by_date_and_type),
		T(test_record_carries_at_most_20_newest_visits),
		T(test_first_upload_marks_only_5000_most_recent_places),
		T(test_future_visit_dates_clamped_to_now),
		T(test_visits_before_1993_dropped),
		T(test_long_titles_cut_at_4096_bytes_on_a_character_boundary),
		T(test_unknown_visit_types_skipped),
		T(test_malformed_records_refused_without_change),
		T(test_tombstone_removes_history_keeps_bookmarked_place),
		T(test_browser_writes_logged_engine_writes_not),
		T(test_forget_keeps_a_newer_change),
		T(test_merge_unions_visits_and_keeps_remote_title),
		T(test_allocation_failures_leave_places_unchanged),
		T(test_record_round_trips_from_vectors),
		T(test_not_a_places_database_refused),
		T(test_unregister_removes_triggers_and_side_tables),
		T(test_expiration_of_old_places_is_not_uploaded_as_removals),
		T(test_user_removal_of_a_page_uploaded_as_tombstone),
		T(test_records_carry_60_day_ttl_and_frecency_as_sortindex),
		T(test_AT18_history_record_rules),
		T(test_U8_first_download_applied_in_chunked_transactions),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
