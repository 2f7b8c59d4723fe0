/*
 * The scheduler's rules, driven with virtual time (ds_sched.h, docs/scheduler.md): each test
 * is named after the rule it checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ds_core.h"
#include "sched/ds_sched.h"

#define S(x) ((int64_t)(x) * 1000)
#define MIN(x) S((x) * 60)
#define HOUR(x) S((x) * 3600)

static struct ds_sched_config cfg(void)
{
	struct ds_sched_config c;

	ds_sched_config_defaults(&c);
	/* The rules under test, fixed here so a board's Kconfig does not move them. */
	c.flex_pct = 20;
	c.flex_min_s = 300;
	c.min_interval_s = 100;
	c.debounce_s = 30;
	c.debounce_max_s = 120;
	c.local_delay_s = 600;
	c.local_spacing_s = 600;
	c.score_threshold = 300;
	c.backoff_min_s = 900;
	c.backoff_max_s = 28800;
	c.errors_before_backoff = 3;
	c.budget_s = 120;
	return c;
}

static struct ds_sched_policy pol(int64_t interval_s)
{
	struct ds_sched_policy p;

	ds_sched_policy_defaults(&p);
	p.interval_s = interval_s;
	p.c.min_battery_pct = 15;
	p.c.unmetered_only = false;
	return p;
}

static struct ds_sched *mk(void)
{
	struct ds_sched_config c = cfg();
	struct ds_sched *s = NULL;

	assert_int_equal(ds_sched_new(&c, &s), 0);
	return s;
}

static void net(struct ds_sched *s, enum ds_net_type t, int64_t now)
{
	struct ds_net_state n = { 0 };

	n.up = t != DS_NET_NONE;
	n.type = t;
	n.metered = t == DS_NET_CELLULAR;
	snprintf(n.ifname, sizeof(n.ifname), "%s", t == DS_NET_CELLULAR ? "rmnet0" : t == DS_NET_WIFI ? "wlan0" : "");
	ds_sched_set_net(s, &n, now);
}

static void battery(struct ds_sched *s, int pct, bool charging, int64_t now)
{
	struct ds_power_state p = { 0 };

	p.has_battery = true;
	p.battery_pct = pct;
	p.charging = charging;
	p.source = charging ? DS_POWER_MAINS : DS_POWER_BATTERY;
	ds_sched_set_power(s, &p, now);
}

/* Poll, finish every run of the batch with result, return how many ran; names in *names. */
static size_t run(struct ds_sched *s, int64_t now, int result, char *names, size_t cap)
{
	struct ds_sched_batch b;
	size_t n = ds_sched_poll(s, now, &b);

	if (names && cap)
		names[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (names)
			snprintf(names + strlen(names), cap - strlen(names), "%s%s", i ? "," : "", b.item[i].name);
		assert_int_equal(ds_sched_done(s, b.item[i].name, result, now), 0);
	}
	return n;
}

/* Step through [from, to) second by second; count wakes and runs of name. */
static unsigned runs_between(struct ds_sched *s, const char *name, int64_t from, int64_t to, int64_t *first)
{
	unsigned count = 0;

	for (int64_t t = from; t < to; t += 1000) {
		struct ds_sched_batch b;
		size_t n = ds_sched_poll(s, t, &b);

		for (size_t i = 0; i < n; i++) {
			if (!strcmp(b.item[i].name, name)) {
				if (!count && first)
					*first = t;
				count++;
			}
			ds_sched_done(s, b.item[i].name, 0, t);
		}
	}
	return count;
}

static void test_first_sync_at_start_then_every_interval(void **state)
{
	struct ds_sched *s = mk();
	struct ds_sched_policy p = pol(3600);
	int64_t first = -1;

	DS_UNUSED(state);
	net(s, DS_NET_WIFI, 0);
	assert_int_equal(ds_sched_add(s, "contacts", "Contacts", "dav", &p, false, 0), 0);
	assert_int_equal(run(s, 0, 0, NULL, 0), 1);
	/* Alone, it is not run early: the flex window is for joining another run. */
	assert_int_equal(runs_between(s, "contacts", S(1), HOUR(1), NULL), 0);
	assert_int_equal(runs_between(s, "contacts", HOUR(1), HOUR(1) + S(10), &first), 1);
	assert_int_equal(first, HOUR(1));
	ds_sched_free(s);
}

static void test_unmetered_only_never_on_a_metered_network(void **state)
{
	struct ds_sched *s = mk();
	struct ds_sched_policy p = pol(3600);
	struct ds_sched_info info;
	int64_t first = -1;

	DS_UNUSED(state);
	p.c.unmetered_only = true;
	net(s, DS_NET_CELLULAR, 0);
	assert_int_equal(ds_sched_add(s, "photos", NULL, "dav", &p, false, 0), 0);
	assert_int_equal(runs_between(s, "photos", 0, HOUR(3), NULL), 0);
	assert_int_equal(ds_sched_info(s, "photos", HOUR(3), &info), 0);
	assert_int_equal(info.block, DS_SCHED_BLOCK_METERED);
	assert_non_null(strstr(info.why, "metered"));
	/* No timer for a constraint: only an event lifts it. */
	assert_int_equal(ds_sched_next_wake(s, HOUR(3)), -1);
	assert_int_equal(ds_sched_stats(s)->refused[DS_SCHED_BLOCK_METERED], 1);
	net(s, DS_NET_WIFI, HOUR(3));
	assert_int_equal(runs_between(s, "photos", HOUR(3), HOUR(3) + S(2), &first), 1);
	assert_int_equal(first, HOUR(3));
	ds_sched_free(s);
}

static void test_no_run_below_battery_threshold_unless_charging_or_urgent(void **state)
{
	struct ds_sched *s = mk();
	struct ds_sched_policy p = pol(3600), u = pol(3600);
	char names[128];

	DS_UNUSED(state);
	u.priority = DS_SCHED_PRIO_URGENT;
	net(s, DS_NET_WIFI, 0);
	battery(s, 14, false, 0);
	assert_int_equal(ds_sched_add(s, "notes", NULL, NULL, &p, false, 0), 0);
	assert_int_equal(ds_sched_add(s, "alarms", NULL, NULL, &u, false, 0), 0);
	assert_int_equal(run(s, 0, 0, names, sizeof(names)), 1);
	assert_string_equal(names, "alarms");
	assert_int_equal(runs_between(s, "notes", S(1), HOUR(2), NULL), 0);
	/* The charger: notes goes at once. */
	battery(s, 14, true, HOUR(2));
	assert_int_equal(run(s, HOUR(2), 0, names, sizeof(names)), 2); /* alarms joins: due within flex */
	assert_string_equal(names, "notes,alarms");
	ds_sched_free(s);
}

static void test_charging_only_waits_for_the_charger(void **state)
{
	struct ds_sched *s = mk();
	struct ds_sched_policy p = pol(86400);
	char why[DS_SCHED_WHY_MAX];

	DS_UNUSED(state);
	p.c.charging_only = true;
	p.c.unmetered_only = true;
	net(s, DS_NET_WIFI, 0);
	battery(s, 90, false, 0);
	assert_int_equal(ds_sched_add(s, "backup", NULL, NULL, &p, false, 0), 0);
	assert_int_equal(run(s, 0, 0, NULL, 0), 0);
	assert_int_equal(ds_sched_check(s, &p.c, DS_SCHED_PRIO_URGENT, why, sizeof(why)), DS_SCHED_BLOCK_NOT_CHARGING);
	battery(s, 90, true, S(10));
	net(s, DS_NET_CELLULAR, S(10));
	assert_int_equal(run(s, S(10), 0, NULL, 0), 0);
	net(s, DS_NET_WIFI, S(20));
	assert_int_equal(run(s, S(20), 0, NULL, 0), 1);
	ds_sched_free(s);
}

static void test_power_save_holds_normal_runs(void **state)
{
	struct ds_sched *s = mk();
	struct ds_sched_policy p = pol(3600);
	struct ds_power_state ps = { DS_POWER_BATTERY, true, 80, false, false, true };

	DS_UNUSED(state);
	net(s, DS_NET_WIFI, 0);
	ds_sched_set_power(s, &ps, 0);
	assert_int_equal(ds_sched_add(s, "notes", NULL, NULL, &p, false, 0), 0);
	assert_int_equal(run(s, 0, 0, NULL, 0), 0);
	ps.power_save = false;
	ds_sched_set_power(s, &ps, S(5));
	assert_int_equal(run(s, S(5), 0, NULL, 0), 1);
	ds_sched_free(s);
}

static void test_burst_of_50_small_edits_makes_one_run(void **state)
{
	struct ds_sched *s = mk();
	struct ds_sched_policy p = pol(4 * 3600);
	int64_t first = -1;

	DS_UNUSED(state);
	net(s, DS_NET_WIFI, 0);
	assert_int_equal(ds_sched_add(s, "notes", NULL, NULL, &p, false, 0), 0);
	assert_int_equal(run(s, 0, 0, NULL, 0), 1);
	for (int i = 0; i < 50; i++)
		assert_int_equal(ds_sched_local_change(s, "notes", DS_SCHED_SCORE_SMALL, MIN(10) + S(i)), 0);
	/* Under the threshold: one run, local_delay_s after the first edit. */
	assert_int_equal(runs_between(s, "notes", MIN(10), HOUR(1), &first), 1);
	assert_int_equal(first, MIN(10) + S(600));
	ds_sched_free(s);
}

static void test_small_edits_go_soon_alone_and_at_a_spaced_pace_when_they_keep_coming(void **state)
{
	struct ds_sched_config c = cfg();
	struct ds_sched_policy p = pol(4 * 3600);
	struct ds_sched *s = NULL;
	int64_t first = -1, runs[64], last_edit = -1;
	size_t nruns = 0;

	DS_UNUSED(state);
	c.local_delay_s = 120;
	assert_int_equal(ds_sched_new(&c, &s), 0);
	net(s, DS_NET_WIFI, 0);
	assert_int_equal(ds_sched_add(s, "notes", NULL, NULL, &p, false, 0), 0);
	assert_int_equal(run(s, 0, 0, NULL, 0), 1);
	/* An isolated burst, long after the last run: local_delay_s after its first edit. */
	for (int i = 0; i < 5; i++)
		ds_sched_local_change(s, "notes", DS_SCHED_SCORE_SMALL, MIN(30) + S(i));
	assert_int_equal(runs_between(s, "notes", MIN(30), MIN(39), &first), 1);
	assert_int_equal(first, MIN(30) + S(120));
	/* One edit every 3 min for an hour: runs local_spacing_s apart, not one per edit. */
	for (int64_t t = MIN(40); t < HOUR(2); t += S(1)) {
		struct ds_sched_batch b;

		if (t < MIN(100) && (t - MIN(40)) % S(180) == 0) {
			ds_sched_local_change(s, "notes", DS_SCHED_SCORE_SMALL, t);
			last_edit = t;
		}
		if (ds_sched_poll(s, t, &b)) {
			assert_true(nruns < DS_ARRAY_SIZE(runs));
			runs[nruns++] = t;
			ds_sched_done(s, "notes", 0, t);
		}
	}
	assert_true(nruns >= 5 && nruns <= 7);
	assert_true(runs[0] - first >= S(600));
	for (size_t i = 1; i < nruns; i++)
		assert_true(runs[i] - runs[i - 1] >= S(600));
	/* The last edit was not left behind: a run came after it, within the spacing. */
	assert_true(runs[nruns - 1] > last_edit && runs[nruns - 1] - last_edit <= S(600));
	ds_sched_free(s);
}

static void test_burst_over_the_threshold_syncs_after_the_debounce(void **state)
{
	struct ds_sched *s = mk();
	struct ds_sched_policy p = pol(4 * 3600);
	int64_t first = -1;

	DS_UNUSED(state);
	net(s, DS_NET_WIFI, 0);
	assert_int_equal(ds_sched_add(s, "notes", NULL, NULL, &p, false, 0), 0);
	assert_int_equal(run(s, 0, 0, NULL, 0), 1);
	/* 50 medium edits, one every 2 s: the score crosses 300 at the 30th; the run comes 30 s
	 * after the last edit, one run for the burst. */
	for (int i = 0; i < 50; i++)
		ds_sched_local_change(s, "notes", DS_SCHED_SCORE_MEDIUM, MIN(10) + S(2 * i));
	assert_int_equal(runs_between(s, "notes", MIN(10), HOUR(1), &first), 1);
	assert_int_equal(first, MIN(10) + S(98) + S(30));
	ds_sched_free(s);
}

static void test_endless_edits_still_sync_within_debounce_max(void **state)
{
	struct ds_sched *s = mk();
	struct ds_sched_policy p = pol(4 * 3600);
	struct ds_sched_batch b;
	int64_t t, ran = -1;

	DS_UNUSED(state);
	net(s, DS_NET_WIFI, 0);
	ds_sched_add(s, "notes", NULL, NULL, &p, false, 0);
	run(s, 0, 0, NULL, 0);
	for (t = S(10); t < S(600) && ran < 0; t += S(5)) {
		ds_sched_local_change(s, "notes", DS_SCHED_SCORE_XLARGE, t);
		if (ds_sched_poll(s, t, &b)) {
			ran = t;
			ds_sched_done(s, "notes", 0, t);
		}
	}
	/* Crossed at 10 s (one XLARGE change); edits never stop: the run comes 120 s later. */
	assert_int_equal(ran, S(10) + S(120));
	ds_sched_free(s);
}

static void test_due_collections_share_one_wake_within_their_flex(void **state)
{
	struct ds_sched *s = mk();
	struct ds_sched_policy a = pol(3600), b = pol(4 * 3600), c = pol(24 * 3600);
	char names[128];

	DS_UNUSED(state);
	net(s, DS_NET_CELLULAR, 0);
	ds_sched_add(s, "history", NULL, "sync", &a, false, 0);
	ds_sched_add(s, "contacts", NULL, "dav", &b, false, 0);
	ds_sched_add(s, "backup", NULL, "dav", &c, false, 0);
	assert_int_equal(run(s, 0, 0, names, sizeof(names)), 3);
	/* history is due every hour; contacts (4 h, flex 48 min) joins history's run at 3 h 12 m
	 * or later: at 4 h both are due anyway. At 3 h history runs alone (contacts due in 1 h,
	 * more than its flex). */
	assert_int_equal(run(s, HOUR(1), 0, names, sizeof(names)), 1);
	assert_int_equal(run(s, HOUR(2), 0, names, sizeof(names)), 1);
	assert_int_equal(run(s, HOUR(3), 0, names, sizeof(names)), 1);
	assert_string_equal(names, "history");
	assert_int_equal(run(s, HOUR(4), 0, names, sizeof(names)), 2);
	assert_string_equal(names, "history,contacts");
	/* Shift contacts by 20 min: it is due at 8 h 20 m, within 48 min of history's 8 h run. */
	ds_sched_set_last_run(s, "contacts", HOUR(4) + MIN(20), true);
	assert_int_equal(run(s, HOUR(5), 0, names, sizeof(names)), 1);
	assert_int_equal(run(s, HOUR(6), 0, names, sizeof(names)), 1);
	assert_int_equal(run(s, HOUR(7), 0, names, sizeof(names)), 1);
	assert_int_equal(run(s, HOUR(8), 0, names, sizeof(names)), 2);
	assert_string_equal(names, "history,contacts");
	assert_int_equal(ds_sched_stats(s)->batches, 9);
	ds_sched_free(s);
}

static void test_one_batch_at_a_time(void **state)
{
	struct ds_sched *s = mk();
	struct ds_sched_policy p = pol(3600);
	struct ds_sched_batch b;

	DS_UNUSED(state);
	net(s, DS_NET_WIFI, 0);
	ds_sched_add(s, "a", NULL, NULL, &p, false, 0);
	assert_int_equal(ds_sched_poll(s, 0, &b), 1);
	ds_sched_add(s, "b", NULL, NULL, &p, false, S(1));
	assert_int_equal(ds_sched_poll(s, S(1), &b), 0);
	assert_true(ds_sched_busy(s));
	assert_int_equal(ds_sched_next_wake(s, S(1)), -1);
	ds_sched_done(s, "a", 0, S(2));
	assert_int_equal(ds_sched_next_wake(s, S(2)), S(2));
	assert_int_equal(ds_sched_poll(s, S(2), &b), 1);
	assert_string_equal(b.item[0].name, "b");
	assert_int_equal(b.deadline_ms, S(2) + S(120));
	ds_sched_free(s);
}

static void test_server_backoff_respected_to_the_second(void **state)
{
	struct ds_sched *s = mk();
	struct ds_sched_policy p = pol(600);
	struct ds_sched_info info;
	char why[DS_SCHED_WHY_MAX];
	int64_t first = -1;

	DS_UNUSED(state);
	net(s, DS_NET_WIFI, 0);
	ds_sched_add(s, "history", NULL, "sync.example", &p, false, 0);
	ds_sched_add(s, "tabs", NULL, "sync.example", &p, false, 0);
	ds_sched_add(s, "notes", NULL, "other", &p, false, 0);
	assert_int_equal(run(s, 0, 0, NULL, 0), 3);
	ds_sched_server_backoff(s, "sync.example", DS_SCHED_BACKOFF_SOFT, 3600, S(5));
	/* A later, shorter value never shortens it. */
	ds_sched_server_backoff(s, "sync.example", DS_SCHED_BACKOFF_SOFT, 60, S(6));
	assert_int_equal(runs_between(s, "history", S(1), S(5) + S(3600), NULL), 0);
	assert_int_equal(ds_sched_info(s, "tabs", S(3604), &info), 0);
	assert_int_equal(info.block, DS_SCHED_BLOCK_SERVER_BACKOFF);
	assert_int_equal(info.not_before_ms, S(3605));
	/* The other server's collection kept its interval meanwhile (counted: 6 runs). */
	assert_int_equal(ds_sched_next_wake(s, S(3604)), S(3605));
	assert_int_equal(runs_between(s, "history", S(3605), S(3700), &first), 1);
	assert_int_equal(first, S(3605));
	/* A person overrides the soft backoff. */
	ds_sched_server_backoff(s, "sync.example", DS_SCHED_BACKOFF_SOFT, 3600, S(3700));
	assert_int_equal(ds_sched_user_request(s, "history", S(3701), why, sizeof(why)), 0);
	ds_sched_free(s);
}

static void test_retry_after_is_never_overridden(void **state)
{
	struct ds_sched *s = mk();
	struct ds_sched_policy p = pol(600);
	char why[DS_SCHED_WHY_MAX];
	int64_t first = -1;

	DS_UNUSED(state);
	net(s, DS_NET_WIFI, 0);
	ds_sched_add(s, "history", NULL, "sync.example", &p, false, 0);
	assert_int_equal(run(s, 0, 0, NULL, 0), 1);
	ds_sched_server_backoff(s, "sync.example", DS_SCHED_BACKOFF_HARD, 1800, S(10));
	assert_int_equal(ds_sched_user_request(s, "history", S(20), why, sizeof(why)), -EAGAIN);
	assert_non_null(strstr(why, "Retry-After"));
	assert_int_equal(ds_sched_stats(s)->user_refused, 1);
	assert_int_equal(runs_between(s, "history", S(1), S(1810), NULL), 0);
	assert_int_equal(runs_between(s, "history", S(1810), S(1820), &first), 1);
	assert_int_equal(first, S(1810));
	assert_int_equal(ds_sched_user_request(s, "history", S(1820), why, sizeof(why)), 0);
	ds_sched_free(s);
}

static void test_error_backoff_exponential_with_jitter_and_reset(void **state)
{
	struct ds_sched *s = mk();
	struct ds_sched_policy p = pol(600);
	struct ds_sched_info info;
	int64_t now = 0, expect_min = S(900);

	DS_UNUSED(state);
	net(s, DS_NET_WIFI, 0);
	ds_sched_add(s, "history", NULL, "sync.example", &p, false, 0);
	/* Failures 1 and 2 retry at the normal interval, without backoff. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(run(s, now, -EIO, NULL, 0), 1);
		assert_int_equal(ds_sched_info(s, "history", now, &info), 0);
		assert_int_equal(info.not_before_ms, -1);
		assert_int_equal(info.next_ms, now + S(600));
		now += S(600);
	}
	/* From the third: 15 min, doubling, up to a quarter more, capped at 8 h. */
	for (int i = 0; i < 8; i++) {
		int64_t d;

		assert_int_equal(run(s, now, -EIO, NULL, 0), 1);
		assert_int_equal(ds_sched_info(s, "history", now, &info), 0);
		assert_int_equal(info.errors, 3 + i);
		d = info.not_before_ms - now;
		assert_true(d >= DS_MIN(expect_min, S(28800)));
		assert_true(d <= DS_MIN(expect_min + expect_min / 4, S(28800)));
		assert_int_equal(info.block, DS_SCHED_BLOCK_BACKOFF);
		assert_int_equal(run(s, info.not_before_ms - 1, 0, NULL, 0), 0);
		now = info.not_before_ms;
		expect_min *= 2;
	}
	assert_int_equal(run(s, now, 0, NULL, 0), 1);
	assert_int_equal(ds_sched_info(s, "history", now, &info), 0);
	assert_int_equal(info.errors, 0);
	assert_int_equal(info.not_before_ms, -1);
	assert_int_equal(info.next_ms, now + S(600));
	ds_sched_free(s);
}

static void test_nothing_runs_offline_and_a_run_follows_reconnection(void **state)
{
	struct ds_sched *s = mk();
	struct ds_sched_policy p = pol(3600), local = pol(3600);
	struct ds_sched_batch b;
	int64_t first = -1;

	DS_UNUSED(state);
	local.c.needs_network = false; /* a folder remote */
	net(s, DS_NET_NONE, 0);
	ds_sched_add(s, "contacts", NULL, "dav", &p, false, 0);
	ds_sched_add(s, "sdcard", NULL, NULL, &local, false, 0);
	assert_int_equal(ds_sched_poll(s, 0, &b), 1);
	assert_string_equal(b.item[0].name, "sdcard");
	ds_sched_done(s, "sdcard", 0, S(1));
	assert_int_equal(runs_between(s, "contacts", S(1), HOUR(5), NULL), 0);
	assert_true(ds_sched_stats(s)->refused[DS_SCHED_BLOCK_OFFLINE] >= 1);
	net(s, DS_NET_CELLULAR, HOUR(5) + S(3));
	assert_int_equal(runs_between(s, "contacts", HOUR(5) + S(3), HOUR(5) + S(5), &first), 1);
	assert_int_equal(first, HOUR(5) + S(3));
	ds_sched_free(s);
}

static void test_network_loss_during_a_run_resumes_without_backoff(void **state)
{
	struct ds_sched *s = mk();
	struct ds_sched_policy p = pol(3600);
	struct ds_sched_batch b;
	struct ds_sched_info info;

	DS_UNUSED(state);
	net(s, DS_NET_WIFI, 0);
	ds_sched_add(s, "contacts", NULL, "dav", &p, false, 0);
	ds_sched_add(s, "calendar", NULL, "dav", &p, false, 0);
	assert_int_equal(ds_sched_poll(s, 0, &b), 2);
	net(s, DS_NET_NONE, S(3));
	ds_sched_done(s, "contacts", -EHOSTUNREACH, S(3));
	ds_sched_cut(s, "calendar", S(3));
	assert_int_equal(ds_sched_info(s, "contacts", S(3), &info), 0);
	assert_int_equal(info.errors, 0);
	assert_int_equal(info.block, DS_SCHED_BLOCK_OFFLINE);
	assert_int_equal(ds_sched_stats(s)->cut, 2);
	net(s, DS_NET_WIFI, S(60));
	assert_int_equal(ds_sched_poll(s, S(60), &b), 2);
	assert_int_equal(b.item[0].why, DS_SCHED_WHY_RESUME);
	ds_sched_free(s);
}

/* sync15.md §5: the clients collection comes first in every run, whatever order the
 * collections were registered in. */
static void test_a_leading_collection_runs_first_in_its_batch(void **state)
{
	struct ds_sched *s = mk();
	struct ds_sched_policy p = pol(3600), lead = pol(3600);
	char names[128];

	DS_UNUSED(state);
	lead.lead = true;
	net(s, DS_NET_WIFI, 0);
	assert_int_equal(ds_sched_add(s, "history", NULL, "sync15:account", &p, false, 0), 0);
	assert_int_equal(ds_sched_add(s, "bookmarks", NULL, "sync15:account", &p, false, 0), 0);
	assert_int_equal(ds_sched_add(s, "clients", NULL, "sync15:account", &lead, false, 0), 0);
	assert_int_equal(run(s, 0, 0, names, sizeof(names)), 3);
	assert_string_equal(names, "clients,history,bookmarks");
	/* Still first when it joins a later batch through its flex window. */
	assert_int_equal(run(s, HOUR(1), 0, names, sizeof(names)), 3);
	assert_string_equal(names, "clients,history,bookmarks");
	ds_sched_free(s);
}

static void test_push_wakes_only_its_collection(void **state)
{
	struct ds_sched *s = mk();
	struct ds_sched_policy p = pol(4 * 3600);
	struct ds_sched_batch b;

	DS_UNUSED(state);
	net(s, DS_NET_WIFI, 0);
	ds_sched_add(s, "contacts", NULL, "dav", &p, false, 0);
	ds_sched_add(s, "history", NULL, "sync", &p, false, 0);
	run(s, 0, 0, NULL, 0);
	assert_int_equal(ds_sched_push_wakeup(s, "contacts", HOUR(1)), 0);
	assert_int_equal(ds_sched_poll(s, HOUR(1), &b), 1);
	assert_string_equal(b.item[0].name, "contacts");
	assert_int_equal(b.item[0].why, DS_SCHED_WHY_PUSH);
	assert_int_equal(ds_sched_push_wakeup(s, "nope", HOUR(1)), -ENOENT);
	ds_sched_free(s);
}

static void test_app_task_like_request_sync(void **state)
{
	struct ds_sched *s = mk();
	struct ds_sched_policy p = pol(99);
	struct ds_sched_batch b;
	char why[DS_SCHED_WHY_MAX];

	DS_UNUSED(state);
	net(s, DS_NET_CELLULAR, 0);
	/* minInterval below 100 s: refused (RequestSync ParamsError). */
	assert_int_equal(ds_sched_policy_check(s, &p, true, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "below the minimum"));
	assert_int_equal(ds_sched_add(s, "mail.fetch", NULL, NULL, &p, true, 0), -EINVAL);
	p.interval_s = 100;
	p.one_shot = true;
	p.c.unmetered_only = true; /* wifiOnly */
	assert_int_equal(ds_sched_add(s, "mail.fetch", "Mail", NULL, &p, true, 0), 0);
	/* Due at registration + minInterval, and only on Wi-Fi. */
	assert_int_equal(ds_sched_poll(s, S(99), &b), 0);
	assert_int_equal(ds_sched_poll(s, S(100), &b), 0);
	net(s, DS_NET_WIFI, S(200));
	assert_int_equal(ds_sched_poll(s, S(200), &b), 1);
	assert_true(b.item[0].app_task);
	/* One-shot: gone after its run. */
	assert_int_equal(ds_sched_done(s, "mail.fetch", 0, S(210)), 0);
	assert_false(ds_sched_has(s, "mail.fetch"));
	ds_sched_free(s);
}

static void test_budget_cut_resumes_later(void **state)
{
	struct ds_sched *s = mk();
	struct ds_sched_policy p = pol(3600);
	struct ds_sched_batch b;

	DS_UNUSED(state);
	net(s, DS_NET_WIFI, 0);
	ds_sched_add(s, "a", NULL, NULL, &p, false, 0);
	ds_sched_add(s, "b", NULL, NULL, &p, false, 0);
	assert_int_equal(ds_sched_poll(s, 0, &b), 2);
	ds_sched_done(s, "a", 0, S(120));
	ds_sched_cut(s, "b", S(120));
	assert_int_equal(ds_sched_poll(s, S(121), &b), 0);
	assert_int_equal(ds_sched_next_wake(s, S(121)), S(150));
	assert_int_equal(ds_sched_poll(s, S(150), &b), 1);
	assert_string_equal(b.item[0].name, "b");
	assert_int_equal(b.item[0].why, DS_SCHED_WHY_RESUME);
	ds_sched_free(s);
}

static void test_opportunity_on_charger_runs_what_is_due_soon(void **state)
{
	struct ds_sched *s = mk();
	struct ds_sched_policy p = pol(4 * 3600);
	char names[64];

	DS_UNUSED(state);
	net(s, DS_NET_WIFI, 0);
	battery(s, 50, false, 0);
	ds_sched_add(s, "contacts", NULL, NULL, &p, false, 0);
	assert_int_equal(run(s, 0, 0, NULL, 0), 1);
	/* Due at 4 h with a 48 min flex: plugged in at 3 h 30 m, it goes now. */
	battery(s, 50, true, HOUR(3) + MIN(30));
	assert_int_equal(run(s, HOUR(3) + MIN(30), 0, names, sizeof(names)), 1);
	/* Not earlier than its flex: plugged in at 30 min after that run, nothing. */
	battery(s, 50, false, HOUR(4));
	battery(s, 50, true, HOUR(4));
	assert_int_equal(run(s, HOUR(4), 0, NULL, 0), 0);
	ds_sched_free(s);
}

static void test_policy_overrides_and_disable(void **state)
{
	struct ds_sched *s = mk();
	struct ds_sched_policy p = pol(3600);
	struct ds_sched_info info;

	DS_UNUSED(state);
	net(s, DS_NET_WIFI, 0);
	ds_sched_add(s, "notes", "My notes", NULL, &p, false, 0);
	run(s, 0, 0, NULL, 0);
	p.interval_s = 7200;
	assert_int_equal(ds_sched_set_policy(s, "notes", &p, S(10)), 0);
	assert_int_equal(ds_sched_info(s, "notes", S(10), &info), 0);
	assert_int_equal(info.next_ms, HOUR(2));
	assert_string_equal(info.title, "My notes");
	assert_non_null(strstr(info.why, "due in 1h59m (periodic)"));
	assert_int_equal(ds_sched_set_enabled(s, "notes", false, S(20)), 0);
	assert_int_equal(runs_between(s, "notes", S(20), HOUR(3), NULL), 0);
	assert_int_equal(ds_sched_set_enabled(s, "notes", true, HOUR(3)), 0);
	assert_int_equal(run(s, HOUR(3), 0, NULL, 0), 1);
	p.interval_s = 50;
	assert_int_equal(ds_sched_set_policy(s, "notes", &p, HOUR(3)), -EINVAL);
	assert_int_equal(ds_sched_remove(s, "notes"), 0);
	assert_int_equal(ds_sched_remove(s, "notes"), -ENOENT);
	ds_sched_free(s);
}

static void test_durations(void **state)
{
	int64_t v;
	char buf[32];

	DS_UNUSED(state);
	assert_int_equal(ds_sched_duration_parse("90", &v), 0);
	assert_int_equal(v, 90);
	assert_int_equal(ds_sched_duration_parse("1h30m", &v), 0);
	assert_int_equal(v, 5400);
	assert_int_equal(ds_sched_duration_parse("1d", &v), 0);
	assert_int_equal(v, 86400);
	assert_int_equal(ds_sched_duration_parse("1h30", &v), -EINVAL);
	assert_int_equal(ds_sched_duration_parse("", &v), -EINVAL);
	assert_int_equal(ds_sched_duration_parse("-5", &v), -EINVAL);
	assert_int_equal(ds_sched_duration_parse("5x", &v), -EINVAL);
	ds_sched_duration_text(S(5400), buf, sizeof(buf));
	assert_string_equal(buf, "1h30m");
	ds_sched_duration_text(S(59), buf, sizeof(buf));
	assert_string_equal(buf, "59s");
	ds_sched_duration_text(0, buf, sizeof(buf));
	assert_string_equal(buf, "0s");
	ds_sched_duration_text(S(90061), buf, sizeof(buf));
	assert_string_equal(buf, "1d1h");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_sync_at_start_then_every_interval),
		cmocka_unit_test(test_unmetered_only_never_on_a_metered_network),
		cmocka_unit_test(test_no_run_below_battery_threshold_unless_charging_or_urgent),
		cmocka_unit_test(test_charging_only_waits_for_the_charger),
		cmocka_unit_test(test_power_save_holds_normal_runs),
		cmocka_unit_test(test_burst_of_50_small_edits_makes_one_run),
		cmocka_unit_test(test_small_edits_go_soon_alone_and_at_a_spaced_pace_when_they_keep_coming),
		cmocka_unit_test(test_burst_over_the_threshold_syncs_after_the_debounce),
		cmocka_unit_test(test_endless_edits_still_sync_within_debounce_max),
		cmocka_unit_test(test_due_collections_share_one_wake_within_their_flex),
		cmocka_unit_test(test_one_batch_at_a_time),
		cmocka_unit_test(test_server_backoff_respected_to_the_second),
		cmocka_unit_test(test_retry_after_is_never_overridden),
		cmocka_unit_test(test_error_backoff_exponential_with_jitter_and_reset),
		cmocka_unit_test(test_nothing_runs_offline_and_a_run_follows_reconnection),
		cmocka_unit_test(test_network_loss_during_a_run_resumes_without_backoff),
		cmocka_unit_test(test_a_leading_collection_runs_first_in_its_batch),
		cmocka_unit_test(test_push_wakes_only_its_collection),
		cmocka_unit_test(test_app_task_like_request_sync),
		cmocka_unit_test(test_budget_cut_resumes_later),
		cmocka_unit_test(test_opportunity_on_charger_runs_what_is_due_soon),
		cmocka_unit_test(test_policy_overrides_and_disable),
		cmocka_unit_test(test_durations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
