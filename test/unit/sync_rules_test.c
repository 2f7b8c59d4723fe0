/*
 * The reconcile rules of a run (docs/sync.md, "reconcile table"), one test per rule, each
 * through a whole ds_sync_run() with the fake engine and remote; then the table itself as a
 * pure function, two devices converging, the -ESTALE retry, and the directions.
 */
#include "core/ds_core.h"
#include "sync/ds_sync.h"
#include "sync/sync_priv.h"
#include "test/support/fake_device.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fx {
	struct ds_fake_server *srv;
	struct ds_fake_device a;
	struct ds_fake_device b;
	bool has_b;
};

static struct fx *fx_new(enum ds_conflict conflict, enum ds_direction dir, bool merge)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct ds_fake_device_opts o = { .merge = merge };

	assert_non_null(f);
	o.policy.conflict = conflict;
	o.policy.direction = dir;
	f->srv = ds_fake_server_new();
	assert_non_null(f->srv);
	assert_int_equal(ds_fake_device_open(&f->a, f->srv, &o), 0);
	return f;
}

static void fx_add_b(struct fx *f, enum ds_conflict conflict)
{
	struct ds_fake_device_opts o = { 0 };

	o.policy.conflict = conflict;
	assert_int_equal(ds_fake_device_open(&f->b, f->srv, &o), 0);
	f->has_b = true;
}

static void fx_free(struct fx *f)
{
	ds_fake_device_close(&f->a);
	if (f->has_b)
		ds_fake_device_close(&f->b);
	ds_fake_server_free(f->srv);
	free(f);
}

static struct ds_run_stats sync_ok(struct ds_fake_device *d)
{
	struct ds_run_stats st;

	assert_int_equal(ds_fake_device_sync(d, &st), 0);
	assert_int_equal(st.result, 0);
	return st;
}

/* Device A holds r1 = v1, synced and with nothing pending. */
static struct fx *fx_synced(enum ds_conflict conflict, bool merge)
{
	struct fx *f = fx_new(conflict, DS_DIR_TWO_WAY, merge);

	assert_int_equal(ds_fake_server_put(f->srv, "r1", "{\"v\":1}"), 0);
	sync_ok(&f->a);
	assert_string_equal(ds_fake_engine_payload(f->a.e, "r1"), "{\"v\":1}");
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	return f;
}

/* ---- one test per rule ---------------------------------------------------------------------- */

static void test_rule_remote_change_no_local_change_applies(void **state)
{
	struct fx *f = fx_synced(DS_CONFLICT_SERVER_WINS, false);

	DS_UNUSED(state);
	assert_int_equal(ds_fake_server_put(f->srv, "r1", "{\"v\":2}"), 0);
	struct ds_run_stats st = sync_ok(&f->a);
	assert_string_equal(ds_fake_engine_payload(f->a.e, "r1"), "{\"v\":2}");
	assert_int_equal(st.applied, 1);
	assert_int_equal(st.conflicts, 0);
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	fx_free(f);
}

static void test_rule_both_changed_equal_forgets_local(void **state)
{
	struct fx *f = fx_synced(DS_CONFLICT_CLIENT_WINS, false);

	DS_UNUSED(state);
	assert_int_equal(ds_fake_server_put(f->srv, "r1", "{\"v\":2,\"w\":3}"), 0);
	/* Same value, other key order: equal as JSON. */
	assert_int_equal(ds_fake_engine_put(f->a.e, "r1", "{\"w\":3, \"v\":2}"), 0);
	size_t log = ds_fake_server_log_len(f->srv);
	struct ds_run_stats st = sync_ok(&f->a);
	assert_int_equal(st.conflicts, 0);
	assert_int_equal(st.applied, 0);
	assert_int_equal(st.uploaded, 0);
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	assert_int_equal(ds_fake_server_log_len(f->srv), log);
	fx_free(f);
}

static void test_rule_server_wins(void **state)
{
	struct fx *f = fx_synced(DS_CONFLICT_SERVER_WINS, false);

	DS_UNUSED(state);
	assert_int_equal(ds_fake_server_put(f->srv, "r1", "{\"v\":\"server\"}"), 0);
	assert_int_equal(ds_fake_engine_put(f->a.e, "r1", "{\"v\":\"device\"}"), 0);
	struct ds_run_stats st = sync_ok(&f->a);
	assert_string_equal(ds_fake_engine_payload(f->a.e, "r1"), "{\"v\":\"server\"}");
	assert_int_equal(st.conflicts, 1);
	assert_int_equal(st.uploaded, 0);
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	fx_free(f);
}

static void test_rule_client_wins(void **state)
{
	struct fx *f = fx_synced(DS_CONFLICT_CLIENT_WINS, false);

	DS_UNUSED(state);
	assert_int_equal(ds_fake_server_put(f->srv, "r1", "{\"v\":\"server\"}"), 0);
	assert_int_equal(ds_fake_engine_put(f->a.e, "r1", "{\"v\":\"device\"}"), 0);
	struct ds_run_stats st = sync_ok(&f->a);
	assert_string_equal(ds_fake_engine_payload(f->a.e, "r1"), "{\"v\":\"device\"}");
	assert_string_equal(ds_fake_server_payload(f->srv, "r1"), "{\"v\":\"device\"}");
	assert_int_equal(st.conflicts, 1);
	assert_int_equal(st.applied, 0);
	assert_int_equal(st.uploaded, 1);
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	fx_free(f);
}

static void newest_wins_case(int64_t local_ms, int64_t server_ms, const char *expect)
{
	struct fx *f = fx_synced(DS_CONFLICT_NEWEST_WINS, false);

	ds_fake_server_set_time(f->srv, server_ms);
	assert_int_equal(ds_fake_server_put(f->srv, "r1", "{\"v\":\"server\"}"), 0);
	ds_fake_engine_set_time(f->a.e, local_ms);
	assert_int_equal(ds_fake_engine_put(f->a.e, "r1", "{\"v\":\"device\"}"), 0);
	struct ds_run_stats st = sync_ok(&f->a);
	assert_int_equal(st.conflicts, 1);
	assert_string_equal(ds_fake_engine_payload(f->a.e, "r1"), expect);
	assert_string_equal(ds_fake_server_payload(f->srv, "r1"), expect);
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	fx_free(f);
}

static void test_rule_newest_wins_local_newer(void **state)
{
	DS_UNUSED(state);
	newest_wins_case(5000, 4000, "{\"v\":\"device\"}");
}

static void test_rule_newest_wins_remote_newer(void **state)
{
	DS_UNUSED(state);
	newest_wins_case(4000, 5000, "{\"v\":\"server\"}");
}

static void test_rule_newest_wins_tie_goes_to_server(void **state)
{
	DS_UNUSED(state);
	newest_wins_case(5000, 5000, "{\"v\":\"server\"}");
}

static void test_rule_merge_applies_merged_and_uploads_it(void **state)
{
	struct fx *f = fx_synced(DS_CONFLICT_MERGE, true);
	const char *merged = "{\"shared\":\"device\",\"s\":1,\"d\":2}";

	DS_UNUSED(state);
	assert_int_equal(ds_fake_server_put(f->srv, "r1", "{\"shared\":\"server\",\"s\":1}"), 0);
	assert_int_equal(ds_fake_engine_put(f->a.e, "r1", "{\"shared\":\"device\",\"d\":2}"), 0);
	struct ds_run_stats st = sync_ok(&f->a);
	assert_int_equal(st.conflicts, 1);
	assert_int_equal(st.applied, 1);
	assert_int_equal(st.uploaded, 1);
	assert_true(ds_record_payload_equal(ds_fake_engine_payload(f->a.e, "r1"), merged));
	assert_true(ds_record_payload_equal(ds_fake_server_payload(f->srv, "r1"), merged));
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	fx_free(f);
}

static void test_rule_remote_tombstone_no_local_change_deletes(void **state)
{
	struct fx *f = fx_synced(DS_CONFLICT_SERVER_WINS, false);

	DS_UNUSED(state);
	assert_int_equal(ds_fake_server_del(f->srv, "r1"), 0);
	struct ds_run_stats st = sync_ok(&f->a);
	assert_null(ds_fake_engine_payload(f->a.e, "r1"));
	assert_int_equal(st.applied, 1);
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	fx_free(f);
}

static void test_rule_remote_tombstone_local_edit_follows_policy(void **state)
{
	DS_UNUSED(state);
	/* server-wins: the deletion stands. */
	struct fx *f = fx_synced(DS_CONFLICT_SERVER_WINS, false);
	assert_int_equal(ds_fake_server_del(f->srv, "r1"), 0);
	assert_int_equal(ds_fake_engine_put(f->a.e, "r1", "{\"v\":\"edited\"}"), 0);
	struct ds_run_stats st = sync_ok(&f->a);
	assert_int_equal(st.conflicts, 1);
	assert_null(ds_fake_engine_payload(f->a.e, "r1"));
	assert_null(ds_fake_server_payload(f->srv, "r1"));
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	fx_free(f);

	/* client-wins: the edit comes back to life on the server. */
	f = fx_synced(DS_CONFLICT_CLIENT_WINS, false);
	assert_int_equal(ds_fake_server_del(f->srv, "r1"), 0);
	assert_int_equal(ds_fake_engine_put(f->a.e, "r1", "{\"v\":\"edited\"}"), 0);
	st = sync_ok(&f->a);
	assert_int_equal(st.conflicts, 1);
	assert_string_equal(ds_fake_engine_payload(f->a.e, "r1"), "{\"v\":\"edited\"}");
	assert_string_equal(ds_fake_server_payload(f->srv, "r1"), "{\"v\":\"edited\"}");
	fx_free(f);

	/* merge cannot combine with a deletion: newest wins (here the later local edit). */
	f = fx_synced(DS_CONFLICT_MERGE, true);
	ds_fake_server_set_time(f->srv, 2000);
	assert_int_equal(ds_fake_server_del(f->srv, "r1"), 0);
	ds_fake_engine_set_time(f->a.e, 3000);
	assert_int_equal(ds_fake_engine_put(f->a.e, "r1", "{\"v\":\"edited\"}"), 0);
	st = sync_ok(&f->a);
	assert_int_equal(ds_fake_engine_calls(f->a.e, DS_FAKE_ENGINE_MERGE), 0);
	assert_string_equal(ds_fake_server_payload(f->srv, "r1"), "{\"v\":\"edited\"}");
	fx_free(f);
}

static void test_rule_local_delete_remote_edit_follows_policy(void **state)
{
	DS_UNUSED(state);
	/* server-wins: the remote edit restores the row. */
	struct fx *f = fx_synced(DS_CONFLICT_SERVER_WINS, false);
	assert_int_equal(ds_fake_server_put(f->srv, "r1", "{\"v\":\"remote edit\"}"), 0);
	assert_int_equal(ds_fake_engine_del(f->a.e, "r1"), 0);
	struct ds_run_stats st = sync_ok(&f->a);
	assert_int_equal(st.conflicts, 1);
	assert_string_equal(ds_fake_engine_payload(f->a.e, "r1"), "{\"v\":\"remote edit\"}");
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	fx_free(f);

	/* client-wins: the deletion is uploaded. */
	f = fx_synced(DS_CONFLICT_CLIENT_WINS, false);
	assert_int_equal(ds_fake_server_put(f->srv, "r1", "{\"v\":\"remote edit\"}"), 0);
	assert_int_equal(ds_fake_engine_del(f->a.e, "r1"), 0);
	st = sync_ok(&f->a);
	assert_int_equal(st.conflicts, 1);
	assert_null(ds_fake_engine_payload(f->a.e, "r1"));
	assert_null(ds_fake_server_payload(f->srv, "r1"));
	assert_int_equal(ds_fake_server_count(f->srv), 0);
	fx_free(f);
}

static void test_rule_both_deleted_forgets(void **state)
{
	struct fx *f = fx_synced(DS_CONFLICT_CLIENT_WINS, false);

	DS_UNUSED(state);
	assert_int_equal(ds_fake_server_del(f->srv, "r1"), 0);
	assert_int_equal(ds_fake_engine_del(f->a.e, "r1"), 0);
	size_t log = ds_fake_server_log_len(f->srv);
	struct ds_run_stats st = sync_ok(&f->a);
	assert_int_equal(st.conflicts, 0);
	assert_int_equal(st.uploaded, 0);
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	assert_int_equal(ds_fake_server_log_len(f->srv), log);
	fx_free(f);
}

static void test_rule_remote_record_for_unknown_id_inserts(void **state)
{
	struct fx *f = fx_synced(DS_CONFLICT_SERVER_WINS, false);

	DS_UNUSED(state);
	assert_int_equal(ds_fake_server_put(f->srv, "new", "{\"n\":1}"), 0);
	/* A tombstone for an id the device never had is nothing to do. */
	assert_int_equal(ds_fake_server_del(f->srv, "ghost"), 0);
	struct ds_run_stats st = sync_ok(&f->a);
	assert_string_equal(ds_fake_engine_payload(f->a.e, "new"), "{\"n\":1}");
	assert_int_equal(st.applied, 1);
	assert_int_equal(st.fetched, 2);
	assert_int_equal(ds_fake_engine_rows(f->a.e), 2);
	fx_free(f);
}

/* ---- the table as a pure function --------------------------------------------------------- */

static void test_reconcile_table(void **state)
{
	struct ds_record rem = { .id = "x", .payload = "{\"a\":1}", .modified_ms = 100 };
	struct ds_record tomb = { .id = "x", .deleted = true, .modified_ms = 100 };
	struct ds_record same = { .id = "x", .payload = "{ \"a\" : 1 }" };
	struct ds_record other = { .id = "x", .payload = "{\"a\":2}" };
	struct ds_pending_info pend = { .change_seq = 7, .modified_ms = 50 };
	struct ds_policy p = { .max_retries = 3 };
	struct ds_reconcile d;
	static const struct {
		enum ds_direction dir;
		enum ds_conflict con;
		int remote;   /* 0 record, 1 tombstone */
		int local;    /* 0 none, 1 same, 2 other */
		bool pending;
		bool can_merge;
		enum ds_reconcile_action want;
		bool conflict;
	} rows[] = {
		{ 0, DS_CONFLICT_SERVER_WINS, 0, 0, false, false, DS_RECONCILE_APPLY, false },
		{ 0, DS_CONFLICT_SERVER_WINS, 0, 2, false, false, DS_RECONCILE_APPLY, false },
		{ 0, DS_CONFLICT_SERVER_WINS, 0, 1, false, false, DS_RECONCILE_SKIP, false },
		{ 0, DS_CONFLICT_SERVER_WINS, 1, 0, false, false, DS_RECONCILE_SKIP, false },
		{ 0, DS_CONFLICT_SERVER_WINS, 1, 2, false, false, DS_RECONCILE_APPLY, false },
		{ 0, DS_CONFLICT_CLIENT_WINS, 0, 1, true, false, DS_RECONCILE_FORGET, false },
		{ 0, DS_CONFLICT_CLIENT_WINS, 1, 0, true, false, DS_RECONCILE_FORGET, false },
		{ 0, DS_CONFLICT_SERVER_WINS, 0, 2, true, false, DS_RECONCILE_APPLY, true },
		{ 0, DS_CONFLICT_CLIENT_WINS, 0, 2, true, false, DS_RECONCILE_KEEP_LOCAL, true },
		{ 0, DS_CONFLICT_NEWEST_WINS, 0, 2, true, false, DS_RECONCILE_APPLY, true },
		{ 0, DS_CONFLICT_MERGE, 0, 2, true, true, DS_RECONCILE_MERGE, true },
		{ 0, DS_CONFLICT_MERGE, 0, 2, true, false, DS_RECONCILE_APPLY, true },
		{ 0, DS_CONFLICT_MERGE, 1, 2, true, true, DS_RECONCILE_APPLY, true },
		{ 0, DS_CONFLICT_MERGE, 0, 0, true, true, DS_RECONCILE_APPLY, true },
		{ DS_DIR_IMPORT_ONLY, DS_CONFLICT_CLIENT_WINS, 0, 2, true, false, DS_RECONCILE_APPLY, true },
		{ DS_DIR_EXPORT_ONLY, DS_CONFLICT_SERVER_WINS, 0, 2, true, false, DS_RECONCILE_KEEP_LOCAL, true },
		{ DS_DIR_EXPORT_ONLY, DS_CONFLICT_SERVER_WINS, 0, 2, false, false, DS_RECONCILE_SKIP, false },
		{ DS_DIR_EXPORT_ONLY, DS_CONFLICT_SERVER_WINS, 0, 1, true, false, DS_RECONCILE_FORGET, false },
	};

	DS_UNUSED(state);
	for (size_t i = 0; i < DS_ARRAY_SIZE(rows); i++) {
		const struct ds_record *locals[] = { NULL, &same, &other };
		p.direction = rows[i].dir;
		p.conflict = rows[i].con;
		ds_reconcile_decide(rows[i].remote ? &tomb : &rem, locals[rows[i].local],
				    rows[i].pending ? &pend : NULL, &p, rows[i].can_merge, &d);
		if (d.action != rows[i].want || d.conflict != rows[i].conflict)
			fail_msg("row %zu: got %s (conflict %d, rule '%s'), want %s", i,
				 ds_reconcile_action_name(d.action), d.conflict, d.rule,
				 ds_reconcile_action_name(rows[i].want));
		assert_non_null(d.rule);
	}
	/* newest-wins: a strictly newer local change is kept, equal times go to the server. */
	p.direction = DS_DIR_TWO_WAY;
	p.conflict = DS_CONFLICT_NEWEST_WINS;
	pend.modified_ms = 101;
	ds_reconcile_decide(&rem, &other, &pend, &p, false, &d);
	assert_int_equal(d.action, DS_RECONCILE_KEEP_LOCAL);
	pend.modified_ms = 100;
	ds_reconcile_decide(&rem, &other, &pend, &p, false, &d);
	assert_int_equal(d.action, DS_RECONCILE_APPLY);
}

static void test_policy_names_round_trip(void **state)
{
	enum ds_direction d;
	enum ds_conflict c;

	DS_UNUSED(state);
	for (int i = DS_DIR_TWO_WAY; i <= DS_DIR_EXPORT_ONLY; i++) {
		assert_int_equal(ds_direction_parse(ds_direction_name((enum ds_direction)i), &d), 0);
		assert_int_equal(d, i);
	}
	for (int i = DS_CONFLICT_SERVER_WINS; i <= DS_CONFLICT_MERGE; i++) {
		assert_int_equal(ds_conflict_parse(ds_conflict_name((enum ds_conflict)i), &c), 0);
		assert_int_equal(c, i);
	}
	assert_int_equal(ds_direction_parse("sideways", &d), -EINVAL);
	assert_int_equal(ds_conflict_parse("", &c), -EINVAL);
	assert_string_equal(ds_conflict_name((enum ds_conflict)42), "?");
}

static void test_policy_from_registration(void **state)
{
	struct ds_policy p;
	cJSON *reg;

	DS_UNUSED(state);
	reg = cJSON_Parse("{\"name\":\"a\"}");
	assert_int_equal(ds_policy_from_json(reg, &p), 0);
	assert_int_equal(p.direction, DS_DIR_TWO_WAY);
	assert_int_equal(p.conflict, DS_CONFLICT_SERVER_WINS);
	assert_int_equal(p.max_retries, 3);
	cJSON_Delete(reg);
	reg = cJSON_Parse("{\"direction\":\"import-only\",\"conflict\":\"newest-wins\","
			  "\"max_retries\":5}");
	assert_int_equal(ds_policy_from_json(reg, &p), 0);
	assert_int_equal(p.direction, DS_DIR_IMPORT_ONLY);
	assert_int_equal(p.conflict, DS_CONFLICT_NEWEST_WINS);
	assert_int_equal(p.max_retries, 5);
	cJSON_Delete(reg);
	static const char *const bad[] = {
		"{\"direction\":\"both\"}", "{\"conflict\":1}", "{\"max_retries\":-1}",
		"{\"max_retries\":1.5}",
	};
	for (size_t i = 0; i < DS_ARRAY_SIZE(bad); i++) {
		reg = cJSON_Parse(bad[i]);
		assert_int_equal(ds_policy_from_json(reg, &p), -EINVAL);
		cJSON_Delete(reg);
	}
}

/* ---- two devices ---------------------------------------------------------------------------- */

static void assert_converged(struct fx *f)
{
	assert_true(ds_fake_engine_same_rows(f->a.e, f->b.e));
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	assert_int_equal(ds_fake_engine_pending(f->b.e), 0);
	assert_int_equal(ds_fake_server_count(f->srv), ds_fake_engine_rows(f->a.e));
}

static void test_two_devices_converge_after_conflicting_edits(void **state)
{
	struct fx *f = fx_new(DS_CONFLICT_NEWEST_WINS, DS_DIR_TWO_WAY, false);

	DS_UNUSED(state);
	fx_add_b(f, DS_CONFLICT_NEWEST_WINS);
	/* A starts with data against an empty remote; B gets it. */
	assert_int_equal(ds_fake_engine_put(f->a.e, "r1", "{\"t\":\"a1\"}"), 0);
	assert_int_equal(ds_fake_engine_put(f->a.e, "r2", "{\"t\":\"a2\"}"), 0);
	assert_int_equal(ds_fake_engine_put(f->a.e, "r3", "{\"t\":\"a3\"}"), 0);
	sync_ok(&f->a);
	assert_int_equal(ds_fake_server_count(f->srv), 3);
	sync_ok(&f->b);
	assert_converged(f);

	/* Offline edits on both: r1 edited on both (B later), r2 deleted on A and edited on B
	 * (A later), r3 edited on A only, r4 and r5 created on each side. */
	ds_fake_engine_set_time(f->a.e, 10000);
	ds_fake_engine_set_time(f->b.e, 9000);
	ds_fake_server_set_time(f->srv, 20000);
	assert_int_equal(ds_fake_engine_put(f->b.e, "r2", "{\"t\":\"b2\"}"), 0);
	assert_int_equal(ds_fake_engine_put(f->a.e, "r1", "{\"t\":\"a1'\"}"), 0);
	assert_int_equal(ds_fake_engine_del(f->a.e, "r2"), 0);
	assert_int_equal(ds_fake_engine_put(f->a.e, "r3", "{\"t\":\"a3'\"}"), 0);
	assert_int_equal(ds_fake_engine_put(f->a.e, "r4", "{\"t\":\"a4\"}"), 0);
	ds_fake_engine_set_time(f->b.e, 30000);
	assert_int_equal(ds_fake_engine_put(f->b.e, "r1", "{\"t\":\"b1\"}"), 0);
	assert_int_equal(ds_fake_engine_put(f->b.e, "r5", "{\"t\":\"b5\"}"), 0);

	sync_ok(&f->a);
	sync_ok(&f->b);
	sync_ok(&f->a);
	assert_converged(f);
	assert_string_equal(ds_fake_engine_payload(f->a.e, "r1"), "{\"t\":\"b1\"}");
	assert_null(ds_fake_engine_payload(f->a.e, "r2"));
	assert_string_equal(ds_fake_engine_payload(f->b.e, "r3"), "{\"t\":\"a3'\"}");
	assert_non_null(ds_fake_engine_payload(f->b.e, "r4"));
	assert_non_null(ds_fake_engine_payload(f->a.e, "r5"));
	/* Quiet afterwards: nothing more to move. */
	struct ds_run_stats st = sync_ok(&f->b);
	assert_int_equal(st.uploaded + st.applied, 0);
	fx_free(f);
}

/* ---- -ESTALE: another device writes between our fetch and our upload ------------------------ */

struct interloper {
	struct fx *f;
	int runs_left;
	int n;
};

static void other_device_writes(struct ds_remote *r, void *user_data)
{
	struct interloper *it = user_data;
	char id[16], payload[32];

	DS_UNUSED(r);
	if (it->runs_left == 0)
		return;
	it->runs_left--;
	it->n++;
	snprintf(id, sizeof(id), "b%d", it->n);
	snprintf(payload, sizeof(payload), "{\"b\":%d}", it->n);
	assert_int_equal(ds_fake_engine_put(it->f->b.e, id, payload), 0);
	/* B edits the record A is uploading too; B is older, so A's newer edit must survive. */
	assert_int_equal(ds_fake_engine_put(it->f->b.e, "shared", "{\"by\":\"b\"}"), 0);
	assert_int_equal(ds_fake_device_sync(&it->f->b, NULL), 0);
}

static void test_estale_refetches_remerges_and_retries(void **state)
{
	struct fx *f = fx_new(DS_CONFLICT_NEWEST_WINS, DS_DIR_TWO_WAY, false);
	struct interloper it = { .f = f, .runs_left = 2 };

	DS_UNUSED(state);
	fx_add_b(f, DS_CONFLICT_NEWEST_WINS);
	sync_ok(&f->a);
	sync_ok(&f->b);
	ds_fake_engine_set_time(f->b.e, 100);
	ds_fake_engine_set_time(f->a.e, 50000);
	ds_fake_server_set_time(f->srv, 200);
	assert_int_equal(ds_fake_engine_put(f->a.e, "shared", "{\"by\":\"a\"}"), 0);
	assert_int_equal(ds_fake_engine_put(f->a.e, "a1", "{\"a\":1}"), 0);
	ds_fake_remote_before_upload(f->a.r, other_device_writes, &it);

	struct ds_run_stats st = sync_ok(&f->a);
	/* Two stale uploads, then the third attempt went through. */
	assert_int_equal(ds_fake_remote_calls(f->a.r, DS_FAKE_REMOTE_UPLOAD), 3);
	assert_int_equal(st.uploaded, 2);
	assert_true(st.conflicts >= 1);
	assert_string_equal(ds_fake_server_payload(f->srv, "shared"), "{\"by\":\"a\"}");
	assert_non_null(ds_fake_engine_payload(f->a.e, "b1"));
	assert_non_null(ds_fake_engine_payload(f->a.e, "b2"));
	ds_fake_remote_before_upload(f->a.r, NULL, NULL);
	sync_ok(&f->b);
	assert_converged(f);
	assert_int_equal(ds_fake_server_versions(f->srv, "a1"), 1);
	fx_free(f);
}

static void test_estale_gives_up_after_max_retries(void **state)
{
	struct fx *f = fx_new(DS_CONFLICT_NEWEST_WINS, DS_DIR_TWO_WAY, false);
	struct interloper it = { .f = f, .runs_left = 100 };
	struct ds_run_stats st;

	DS_UNUSED(state);
	fx_add_b(f, DS_CONFLICT_NEWEST_WINS);
	assert_int_equal(ds_fake_engine_put(f->a.e, "a1", "{\"a\":1}"), 0);
	ds_fake_remote_before_upload(f->a.r, other_device_writes, &it);
	assert_int_equal(ds_fake_device_sync(&f->a, &st), -EAGAIN);
	assert_int_equal(st.result, -EAGAIN);
	assert_non_null(strstr(st.message, "gave up after 3 retries"));
	assert_int_equal(ds_fake_remote_calls(f->a.r, DS_FAKE_REMOTE_UPLOAD), 4);
	/* Nothing lost: still pending, and the next quiet run uploads it. */
	assert_true(ds_fake_engine_is_pending(f->a.e, "a1"));
	ds_fake_remote_before_upload(f->a.r, NULL, NULL);
	sync_ok(&f->a);
	assert_string_equal(ds_fake_server_payload(f->srv, "a1"), "{\"a\":1}");
	fx_free(f);
}

/* ---- directions ----------------------------------------------------------------------------- */

static void test_import_only_never_uploads(void **state)
{
	struct fx *f = fx_new(DS_CONFLICT_CLIENT_WINS, DS_DIR_IMPORT_ONLY, false);

	DS_UNUSED(state);
	/* Local rows before the first sync are not marked for upload in import-only. */
	assert_int_equal(ds_fake_engine_put(f->a.e, "mine", "{\"m\":0}"), 0);
	assert_int_equal(ds_fake_server_put(f->srv, "r1", "{\"v\":1}"), 0);
	sync_ok(&f->a);
	assert_string_equal(ds_fake_engine_payload(f->a.e, "r1"), "{\"v\":1}");

	assert_int_equal(ds_fake_server_put(f->srv, "r1", "{\"v\":\"server\"}"), 0);
	assert_int_equal(ds_fake_engine_put(f->a.e, "r1", "{\"v\":\"device\"}"), 0);
	assert_int_equal(ds_fake_engine_put(f->a.e, "mine", "{\"m\":1}"), 0);
	size_t log = ds_fake_server_log_len(f->srv);
	struct ds_run_stats st = sync_ok(&f->a);
	/* The id the remote touched: server wins, whatever the conflict policy says. */
	assert_string_equal(ds_fake_engine_payload(f->a.e, "r1"), "{\"v\":\"server\"}");
	assert_false(ds_fake_engine_is_pending(f->a.e, "r1"));
	/* The others stay pending, never uploaded. */
	assert_true(ds_fake_engine_is_pending(f->a.e, "mine"));
	assert_int_equal(st.uploaded, 0);
	assert_int_equal(ds_fake_server_log_len(f->srv), log);
	assert_int_equal(ds_fake_remote_calls(f->a.r, DS_FAKE_REMOTE_UPLOAD), 0);
	fx_free(f);
}

static void test_export_only_never_applies_but_advances(void **state)
{
	struct fx *f = fx_new(DS_CONFLICT_SERVER_WINS, DS_DIR_EXPORT_ONLY, false);
	char cur[DS_CURSOR_MAX], ep[DS_CURSOR_MAX];

	DS_UNUSED(state);
	assert_int_equal(ds_fake_server_put(f->srv, "theirs", "{\"t\":1}"), 0);
	/* Existing local rows are the data set of an export, even against a non-empty remote. */
	assert_int_equal(ds_fake_engine_put(f->a.e, "mine", "{\"m\":1}"), 0);
	assert_int_equal(ds_fake_engine_put(f->a.e, "theirs", "{\"t\":\"device\"}"), 0);
	struct ds_run_stats st = sync_ok(&f->a);
	assert_int_equal(st.applied, 0);
	assert_int_equal(st.uploaded, 2);
	assert_null(ds_fake_engine_payload(f->a.e, "nothing"));
	assert_string_equal(ds_fake_server_payload(f->srv, "theirs"), "{\"t\":\"device\"}");
	assert_string_equal(ds_fake_server_payload(f->srv, "mine"), "{\"m\":1}");

	assert_int_equal(ds_fake_server_put(f->srv, "new", "{\"n\":1}"), 0);
	st = sync_ok(&f->a);
	assert_int_equal(st.fetched, 1);
	assert_int_equal(st.applied, 0);
	assert_null(ds_fake_engine_payload(f->a.e, "new"));
	assert_int_equal(ds_store_cursor_get(f->a.store, "coll", cur, sizeof(cur), ep, sizeof(ep)), 0);
	char want[DS_CURSOR_MAX];
	snprintf(want, sizeof(want), "%zu", ds_fake_server_log_len(f->srv));
	assert_string_equal(cur, want);
	st = sync_ok(&f->a);
	assert_int_equal(st.fetched, 0);
	fx_free(f);
}

static void test_engine_refusing_a_record_skips_it(void **state)
{
	struct fx *f = fx_new(DS_CONFLICT_SERVER_WINS, DS_DIR_TWO_WAY, false);

	DS_UNUSED(state);
	assert_int_equal(ds_fake_engine_refuse(f->a.e, "bad", -EILSEQ), 0);
	assert_int_equal(ds_fake_server_put(f->srv, "bad", "{\"wrong\":\"shape\"}"), 0);
	assert_int_equal(ds_fake_server_put(f->srv, "good", "{\"g\":1}"), 0);
	struct ds_run_stats st = sync_ok(&f->a);
	assert_int_equal(st.errors, 1);
	assert_int_equal(st.applied, 1);
	assert_null(ds_fake_engine_payload(f->a.e, "bad"));
	assert_string_equal(ds_fake_engine_payload(f->a.e, "good"), "{\"g\":1}");
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule_remote_change_no_local_change_applies),
		cmocka_unit_test(test_rule_both_changed_equal_forgets_local),
		cmocka_unit_test(test_rule_server_wins),
		cmocka_unit_test(test_rule_client_wins),
		cmocka_unit_test(test_rule_newest_wins_local_newer),
		cmocka_unit_test(test_rule_newest_wins_remote_newer),
		cmocka_unit_test(test_rule_newest_wins_tie_goes_to_server),
		cmocka_unit_test(test_rule_merge_applies_merged_and_uploads_it),
		cmocka_unit_test(test_rule_remote_tombstone_no_local_change_deletes),
		cmocka_unit_test(test_rule_remote_tombstone_local_edit_follows_policy),
		cmocka_unit_test(test_rule_local_delete_remote_edit_follows_policy),
		cmocka_unit_test(test_rule_both_deleted_forgets),
		cmocka_unit_test(test_rule_remote_record_for_unknown_id_inserts),
		cmocka_unit_test(test_reconcile_table),
		cmocka_unit_test(test_policy_names_round_trip),
		cmocka_unit_test(test_policy_from_registration),
		cmocka_unit_test(test_two_devices_converge_after_conflicting_edits),
		cmocka_unit_test(test_estale_refetches_remerges_and_retries),
		cmocka_unit_test(test_estale_gives_up_after_max_retries),
		cmocka_unit_test(test_import_only_never_uploads),
		cmocka_unit_test(test_export_only_never_applies_but_advances),
		cmocka_unit_test(test_engine_refusing_a_record_skips_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
