/*
 * Sync 1.5 acceptance tests AT-17 and AT-18 for the history engine (sync15.md §12), end to end:
 * another client's encrypted records on the in-process storage node (test/support/fake_sync15.h)
 * reach a device's places.sqlite through the sync core and the sync15 remote, and what the
 * device uploads is read back from the server and decrypted. Bookmarks and logins (the rest of
 * AT-17, AT-19) belong to their engines (docs/sync15-acceptance.md).
 */
#include "core/ds_core.h"
#include "engine/history/ds_history.h"
#include "remote/sync15/ds_sync15.h"
#include "store/ds_store.h"
#include "sync/ds_sync.h"
#include "test/support/fake_remote.h"
#include "test/support/fake_sync15.h"
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

static const uint8_t KSYNC[64] = { 0x17, 0x18, [9] = 0x5e, [50] = 0xa7, [63] = 0x01 };
#define NOW_MS INT64_C(1767225600000) /* 2026-01-01 */
#define NOW_US (NOW_MS * 1000)

struct fx {
	struct ds_fake_sync15 *srv;
	struct ds_store *store;
	struct ds_collection *c;
	struct ds_sync15_global g;
	sqlite3 *db;
	char dir[512], meta[600], places[600];
};

static int64_t fake_now(void *user_data)
{
	DS_UNUSED(user_data);
	return NOW_MS;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *t = getenv("DS_TEST_TMP");
	struct ds_sync15_remote_config rc = { .collection = "history", .engine_version = 1 };
	struct ds_policy p = { .direction = DS_DIR_TWO_WAY, .conflict = DS_CONFLICT_MERGE,
			       .max_retries = 3 };
	struct ds_history_options o = { .now_ms = fake_now };
	struct ds_history_store *s;
	struct ds_engine *e;
	struct ds_remote *r;

	assert_non_null(f);
	if (t && *t)
		snprintf(f->dir, sizeof(f->dir), "%s", t);
	else {
		snprintf(f->dir, sizeof(f->dir), "%s/ds-ath-XXXXXX", P_tmpdir);
		assert_non_null(mkdtemp(f->dir));
	}
	snprintf(f->meta, sizeof(f->meta), "%s/ath-%d.db", f->dir, (int)getpid());
	snprintf(f->places, sizeof(f->places), "%s/ath-%d.sqlite", f->dir, (int)getpid());
	ffx_make_places(f->places);
	assert_int_equal(sqlite3_open(f->places, &f->db), SQLITE_OK);
	sqlite3_busy_timeout(f->db, 2000);
	ffx_sql(f->db, "DELETE FROM moz_historyvisits; DELETE FROM moz_places");
	assert_int_equal(ds_store_open(f->meta, &f->store), 0);
	assert_int_equal(ds_history_places_open(f->places, &s), 0);
	assert_int_equal(ds_history_engine_new(s, &o, &e), 0);
	f->srv = ds_fake_sync15_new(KSYNC);
	rc.auth = ds_fake_sync15_auth(f->srv);
	rc.transport = ds_fake_sync15_transport(f->srv);
	rc.global = &f->g;
	assert_int_equal(ds_sync15_remote_new(&rc, &r), 0);
	assert_int_equal(ds_fake_collection_new("history", e, r, NULL, &p, &f->c), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ds_fake_collection_free(f->c);
	ds_store_close(f->store);
	ds_sync15_global_clear(&f->g);
	sqlite3_close(f->db);
	ds_fake_sync15_free(f->srv);
	unlink(f->meta);
	unlink(f->places);
	free(f);
	return 0;
}

static int run(struct fx *f, struct ds_run_stats *st)
{
	memset(st, 0, sizeof(*st));
	return ds_sync_run(f->c, f->store, st, NULL, NULL);
}

static void sync_ok(struct fx *f)
{
	struct ds_run_stats st;
	int rc = run(f, &st);

	if (rc)
		fail_msg("run failed: %d %s / %s", rc, st.message, ds_sync15_remote_error(f->c->remote));
}

/* Another client's history record, encrypted with the account's keys as they are now. */
static void other_client_put(struct fx *f, const char *id, const char *clear)
{
	struct ds_sync15_keybundle sync_kb;
	struct ds_sync15_keyring kr;
	char *payload;

	ds_sync15_keybundle_from_ksync(KSYNC, &sync_kb);
	assert_int_equal(ds_sync15_keyring_decrypt(&sync_kb,
						   ds_fake_sync15_payload(f->srv, "crypto", "keys"), &kr), 0);
	assert_int_equal(ds_sync15_encrypt(ds_sync15_keyring_get(&kr, "history"), clear,
					   strlen(clear), NULL, &payload), 0);
	ds_fake_sync15_put(f->srv, "history", id, payload);
	ds_free(payload);
	ds_sync15_keyring_clear(&kr);
}

/* The record the server holds for id, decrypted. */
static cJSON *server_record(struct fx *f, const char *id)
{
	const char *payload = ds_fake_sync15_payload(f->srv, "history", id);
	char *clear = NULL;
	size_t len;
	cJSON *o;

	assert_non_null(payload);
	assert_int_equal(ds_sync15_decrypt(ds_sync15_keyring_get(&f->g.keys, "history"), payload,
					   &clear, &len), 0);
	o = cJSON_Parse(clear);
	ds_free(clear);
	assert_non_null(o);
	return o;
}

static void visit(struct fx *f, const char *guid, long long date_us, int type)
{
	char *q = sqlite3_mprintf("INSERT INTO moz_historyvisits(from_visit, place_id, visit_date,"
				  " visit_type, session) SELECT 0, id, %lld, %d, 0 FROM moz_places"
				  " WHERE guid = %Q", date_us, type, guid);

	ffx_sql(f->db, q);
	sqlite3_free(q);
}

static int64_t visits_of(struct fx *f, const char *guid, const char *where)
{
	char *q = sqlite3_mprintf("SELECT count(*) FROM moz_historyvisits v JOIN moz_places p ON"
				  " p.id = v.place_id WHERE p.guid = %Q AND %s", guid, where);
	int64_t n = ffx_sql_int(f->db, q);

	sqlite3_free(q);
	return n;
}

/* AT-17 (history): fields this engine does not know, sent by another client, are kept with the
 * place and go back to the server unchanged when the device uploads the record again. */
static void test_at17_history_unknown_fields_round_trip(void **state)
{
	struct fx *f = *state;
	const cJSON *u;
	cJSON *o;

	sync_ok(f);
	other_client_put(f, "unknownAAAAA",
			 "{\"id\":\"unknownAAAAA\",\"histUri\":\"https://unknown.example/\","
			 "\"title\":\"U\",\"visits\":[{\"date\":1764000000000000,\"type\":1}],"
			 "\"futureField\":{\"x\":[1,2],\"y\":null},\"anotherOne\":\"keep me\"}");
	sync_ok(f);
	assert_int_equal(visits_of(f, "unknownAAAAA", "1"), 1);
	visit(f, "unknownAAAAA", 1765000000000000LL, 2);
	sync_ok(f);
	o = server_record(f, "unknownAAAAA");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "visits")), 2);
	u = cJSON_GetObjectItem(o, "futureField");
	assert_non_null(u);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(u, "x")), 2);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(u, "y")));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "anotherOne")), "keep me");
	cJSON_Delete(o);
}

/* AT-17 (history): a page removed in the browser goes up as the tombstone {"id","deleted":true}. */
static void test_at17_history_removal_is_a_tombstone(void **state)
{
	struct fx *f = *state;
	cJSON *o;

	sync_ok(f);
	other_client_put(f, "goneAAAAAAAA",
			 "{\"id\":\"goneAAAAAAAA\",\"histUri\":\"https://gone.example/\",\"title\":\"G\","
			 "\"visits\":[{\"date\":1764000000000000,\"type\":1}]}");
	/* another page stays: a store left empty reads as a cleared browser, whose deletions are
	 * not sent (engine/browser) */
	other_client_put(f, "stayAAAAAAAA",
			 "{\"id\":\"stayAAAAAAAA\",\"histUri\":\"https://stay.example/\",\"title\":\"S\","
			 "\"visits\":[{\"date\":1764000000000000,\"type\":1}]}");
	sync_ok(f);
	/* a page the person visited lately and then removed (an old page going away is Places'
	 * expiration, which is not synced: docs/engine-history.md) */
	ffx_sql(f->db, "INSERT INTO moz_historyvisits(from_visit, place_id, visit_date, visit_type,"
		       " session) SELECT 0, id, CAST((julianday('now') - 2440587.5) * 86400000000 AS"
		       " INTEGER), 1, 0 FROM moz_places WHERE guid = 'goneAAAAAAAA'");
	ffx_sql(f->db, "DELETE FROM moz_historyvisits WHERE place_id = (SELECT id FROM moz_places"
		       " WHERE guid = 'goneAAAAAAAA'); DELETE FROM moz_places WHERE guid = 'goneAAAAAAAA'");
	sync_ok(f);
	o = server_record(f, "goneAAAAAAAA");
	assert_int_equal(cJSON_GetArraySize(o), 2);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "id")), "goneAAAAAAAA");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "deleted")));
	cJSON_Delete(o);
}

/* AT-18: visit dates are microseconds; a date in the future is clamped to now; visits before
 * 1993-01-23 are dropped. */
static void test_at18_history_dates_us_future_clamped_pre_1993_dropped(void **state)
{
	struct fx *f = *state;
	char clear[512], where[64];

	sync_ok(f);
	snprintf(clear, sizeof(clear),
		 "{\"id\":\"datesAAAAAAA\",\"histUri\":\"https://dates.example/\",\"title\":\"D\","
		 "\"visits\":[{\"date\":1764000000123456,\"type\":1},"
		 "{\"date\":%lld,\"type\":1},{\"date\":700000000000000,\"type\":1}]}",
		 (long long)(NOW_US + INT64_C(86400000000)));
	other_client_put(f, "datesAAAAAAA", clear);
	sync_ok(f);
	assert_int_equal(visits_of(f, "datesAAAAAAA", "1"), 2);
	assert_int_equal(visits_of(f, "datesAAAAAAA", "v.visit_date = 1764000000123456"), 1);
	snprintf(where, sizeof(where), "v.visit_date = %lld", (long long)NOW_US);
	assert_int_equal(visits_of(f, "datesAAAAAAA", where), 1);
	assert_int_equal(visits_of(f, "datesAAAAAAA", "v.visit_date < 727747200000000"), 0);
}

/* AT-18: a record carries at most the 20 newest visits, dates as integer microseconds. */
static void test_at18_history_upload_caps_at_20_visits(void **state)
{
	struct fx *f = *state;
	const cJSON *v;
	int64_t oldest = INT64_MAX;
	cJSON *o;

	sync_ok(f);
	other_client_put(f, "manyAAAAAAAA",
			 "{\"id\":\"manyAAAAAAAA\",\"histUri\":\"https://many.example/\",\"title\":\"M\","
			 "\"visits\":[{\"date\":1760000000000000,\"type\":1}]}");
	sync_ok(f);
	for (int i = 1; i <= 24; i++)
		visit(f, "manyAAAAAAAA", 1760000000000000LL + i * 1000000LL, 1);
	sync_ok(f);
	o = server_record(f, "manyAAAAAAAA");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "visits")), 20);
	cJSON_ArrayForEach(v, cJSON_GetObjectItem(o, "visits")) {
		const cJSON *d = cJSON_GetObjectItem(v, "date");
		assert_true(cJSON_IsNumber(d));
		assert_true(d->valuedouble == (double)(int64_t)d->valuedouble);
		if ((int64_t)d->valuedouble < oldest)
			oldest = (int64_t)d->valuedouble;
	}
	assert_int_equal(oldest, 1760000000000000LL + 5 * 1000000LL); /* the 20 newest of 25 */
	cJSON_Delete(o);
}

/* AT-18: a record whose id is not a Places GUID (12 base64url characters) is refused, never
 * stored; the records around it apply. */
static void test_at18_history_invalid_guid_rejected(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;

	sync_ok(f);
	other_client_put(f, "bad{guid}", "{\"id\":\"bad{guid}\",\"histUri\":\"https://bad.example/\","
			 "\"visits\":[{\"date\":1764000000000000,\"type\":1}]}");
	other_client_put(f, "goodAAAAAAAA", "{\"id\":\"goodAAAAAAAA\",\"histUri\":"
			 "\"https://good.example/\",\"visits\":[{\"date\":1764000000000000,\"type\":1}]}");
	(void)run(f, &st);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_places WHERE"
					    " url = 'https://bad.example/'"), 0);
	assert_int_equal(ffx_sql_int(f->db, "SELECT count(*) FROM moz_places WHERE"
					    " guid = 'goodAAAAAAAA'"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_at17_history_unknown_fields_round_trip),
		T(test_at17_history_removal_is_a_tombstone),
		T(test_at18_history_dates_us_future_clamped_pre_1993_dropped),
		T(test_at18_history_upload_caps_at_20_visits),
		T(test_at18_history_invalid_guid_rejected),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
