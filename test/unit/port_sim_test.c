/*
 * The sim port: script parsing (good and malformed lines), events in order at their virtual
 * times, state that follows them, injection, the event fd and the deadline.
 * Scripts: test/data/port/sim/ (format: port/sim/README.md).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ds_core.h"
#include "port/common/ds_port_common.h"
#include "port/sim/ds_sim.h"

static char g_tmp[PATH_MAX];

static char *data_path(const char *rel)
{
	const char *src = getenv("DS_SRC");

	if (src)
		return ds_asprintf("%s/test/data/port/%s", src, rel);
	/* __FILE__ is the absolute source path: the Makefile compiles $(srctree)/test/unit/x.c. */
	return ds_asprintf("%.*s/../data/port/%s",
			   (int)(strrchr(__FILE__, '/') ? strrchr(__FILE__, '/') - __FILE__ : 1),
			   strrchr(__FILE__, '/') ? __FILE__ : ".", rel);
}

static char *write_tmp(const char *name, const char *text)
{
	char *p = ds_asprintf("%s/%s", g_tmp, name);
	FILE *f;

	assert_non_null(p);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

static bool fd_readable(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, timeout_ms) == 1 && (pfd.revents & POLLIN);
}

static int g_wakes;

static void on_wake(void *user_data)
{
	assert_ptr_equal(user_data, &g_wakes);
	g_wakes++;
}

static int setup(void **state)
{
	char *data = ds_asprintf("%s/data", g_tmp), *run = ds_asprintf("%s/run", g_tmp),
	     *sec = ds_asprintf("%s/secrets", g_tmp);
	struct ds_port_config cfg = { .data_dir = data, .run_dir = run, .secret_dir = sec };
	int rc;

	(void)state;
	ds_port_sim_set_manual(true);
	rc = ds_port_init(&cfg);
	ds_free(data);
	ds_free(run);
	ds_free(sec);
	g_wakes = 0;
	ds_port_set_wake(on_wake, &g_wakes);
	return rc;
}

static int teardown(void **state)
{
	(void)state;
	ds_port_deinit();
	return 0;
}

/* ---- parsing -------------------------------------------------------------------------------- */

static void test_parse_time(void **state)
{
	static const struct {
		const char *in;
		int64_t ms;
	} good[] = { { "0", 0 },	   { "0s", 0 },		{ "90s", 90000 },
		     { "10m", 600000 },	   { "10m30s", 630000 }, { "1h", 3600000 },
		     { "1d", 86400000 },   { "250ms", 250 },	 { "1h2m3s4ms", 3723004 },
		     { "1d250ms", 86400250 } };
	static const char *const bad[] = { "", "s", "10", "10x", "-5s", "1.5h", "5 s", "m5",
					   "99999999999999999999s" };
	int64_t ms;

	(void)state;
	for (size_t i = 0; i < DS_ARRAY_SIZE(good); i++) {
		assert_int_equal(ds_sim_parse_time(good[i].in, &ms), 0);
		assert_int_equal(ms, good[i].ms);
	}
	for (size_t i = 0; i < DS_ARRAY_SIZE(bad); i++) {
		print_message("  bad time '%s'\n", bad[i]);
		assert_int_equal(ds_sim_parse_time(bad[i], &ms), -EINVAL);
	}
}

static void test_parse_good_script(void **state)
{
	char *path = data_path("sim/day.script");
	const struct ds_board *b = ds_board_get();
	struct ds_sim_script s;
	char err[256];
	FILE *f = fopen(path, "rb");
	char text[4096];
	size_t len;

	(void)state;
	assert_non_null(f);
	len = fread(text, 1, sizeof(text), f);
	fclose(f);
	assert_int_equal(ds_sim_script_parse(text, len, "day.script", b, &s, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(s.n, 11);

	assert_int_equal(s.ev[0].at_ms, 0);
	assert_int_equal(s.ev[0].ev.type, DS_EV_NET);
	assert_true(s.ev[0].ev.u.net.up);
	assert_int_equal(s.ev[0].ev.u.net.type, DS_NET_WIFI);
	assert_false(s.ev[0].ev.u.net.metered);
	assert_string_equal(s.ev[0].ev.u.net.ifname, "wlan0"); /* board's Wi-Fi prefix */

	assert_int_equal(s.ev[2].at_ms, 600000);
	assert_int_equal(s.ev[2].ev.u.power.source, DS_POWER_BATTERY);
	assert_int_equal(s.ev[2].ev.u.power.battery_pct, 14);
	assert_true(s.ev[2].ev.u.power.low_battery); /* sim board threshold 15 % */

	assert_int_equal(s.ev[3].at_ms, 630000);
	assert_false(s.ev[3].ev.u.net.up); /* the trailing comment is ignored */

	assert_true(s.ev[4].ev.u.power.charging);
	assert_int_equal(s.ev[4].ev.u.power.source, DS_POWER_MAINS);
	assert_false(s.ev[4].ev.u.power.low_battery);

	assert_int_equal(s.ev[5].ev.u.net.type, DS_NET_CELLULAR);
	assert_true(s.ev[5].ev.u.net.metered); /* cellular defaults to metered */
	assert_string_equal(s.ev[5].ev.u.net.ifname, "rmnet0");

	assert_int_equal(s.ev[6].ev.type, DS_EV_IDLE);
	assert_true(s.ev[6].ev.u.idle);
	assert_string_equal(s.ev[7].ev.u.net.ifname, "eth1");
	assert_int_equal(s.ev[7].ev.u.net.type, DS_NET_ETHERNET);
	assert_int_equal(s.ev[8].ev.u.power.source, DS_POWER_MAINS);
	assert_false(s.ev[8].ev.u.power.has_battery);
	assert_int_equal(s.ev[10].at_ms, 86400250);
	assert_int_equal(s.ev[10].ev.type, DS_EV_SHUTDOWN);
	ds_sim_script_free(&s);
	ds_free(path);
}

static void test_parse_bad_lines(void **state)
{
	char *path = data_path("sim/bad-lines.txt"), line[512];
	const struct ds_board *b = ds_board_get();
	FILE *f = fopen(path, "r");
	int n = 0;

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " | "), script[600], err[256];
		struct ds_sim_script s = { .n = 99 };

		if (!sep)
			continue;
		*sep = '\0';
		line[strcspn(line, "\n")] = '\0';
		sep[3 + strcspn(sep + 3, "\n")] = '\0';
		/* Line 2, after a good line 1, so the line number is checked too. */
		snprintf(script, sizeof(script), "1s net down\n%s\n", sep + 3);
		assert_int_equal(ds_sim_script_parse(script, strlen(script), "t.script", b, &s, err,
						     sizeof(err)),
				 -EINVAL);
		print_message("  %s\n", err);
		assert_int_equal(strncmp(err, "t.script:2: ", 12), 0);
		if (!strstr(err, line))
			fail_msg("'%s' does not say '%s'", err, line);
		assert_int_equal(s.n, 0);
		assert_null(s.ev);
		n++;
	}
	fclose(f);
	assert_true(n >= 15);
	ds_free(path);
}

static void test_parse_misc(void **state)
{
	const struct ds_board *b = ds_board_get();
	struct ds_sim_script s;
	char err[64];
	const char nul[] = "0s net down\n0s idle\0on\n";
	const char flags[] = "0 power battery 50% low saver\n"
			     "0 net wifi metered if=wlp2s0\n"
			     "0 net cellular unmetered\n"
			     "0 net wifi down\n"
			     "0 power mains 100\n"
			     "0 power unknown\n";

	(void)state;
	/* Empty, comments only, CRLF and no final newline are all fine. */
	assert_int_equal(ds_sim_script_parse("", 0, "e", b, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(ds_sim_script_parse("# x\n\n   \n", 9, "e", b, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(ds_sim_script_parse("0s idle on\r\n5s idle off", 23, "e", b, &s, err,
					     sizeof(err)),
			 0);
	assert_int_equal(s.n, 2);
	assert_false(s.ev[1].ev.u.idle);
	ds_sim_script_free(&s);
	assert_int_equal(ds_sim_script_parse(nul, sizeof(nul) - 1, "n", b, &s, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "n:2: NUL byte in line");
	/* A short error buffer truncates, never overflows. */
	assert_int_equal(ds_sim_script_parse("zz", 2, "name", b, &s, err, 8), -EINVAL);
	assert_int_equal(strlen(err), 7);
	/* Flags and explicit values. */
	assert_int_equal(
		ds_sim_script_parse(flags, sizeof(flags) - 1, "f", b, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 6);
	assert_true(s.ev[0].ev.u.power.low_battery);
	assert_true(s.ev[0].ev.u.power.power_save);
	assert_int_equal(s.ev[0].ev.u.power.battery_pct, 50);
	assert_true(s.ev[1].ev.u.net.metered);
	assert_string_equal(s.ev[1].ev.u.net.ifname, "wlp2s0");
	assert_false(s.ev[2].ev.u.net.metered);
	assert_false(s.ev[3].ev.u.net.up);
	assert_int_equal(s.ev[3].ev.u.net.type, DS_NET_NONE);
	assert_true(s.ev[4].ev.u.power.has_battery);
	assert_int_equal(s.ev[5].ev.u.power.source, DS_POWER_UNKNOWN);
	ds_sim_script_free(&s);
}

/* ---- delivery ------------------------------------------------------------------------------- */

static void expect_none(void)
{
	struct ds_port_event ev;

	assert_int_equal(ds_port_poll_event(&ev), 0);
}

static struct ds_port_event expect_event(enum ds_port_event_type type, int64_t at)
{
	struct ds_port_event ev;

	assert_int_equal(ds_port_poll_event(&ev), 1);
	assert_int_equal(ev.type, type);
	assert_int_equal(ev.mono_ms, at);
	return ev;
}

static void test_script_delivery(void **state)
{
	char *path = data_path("sim/day.script");
	struct ds_power_state p;
	struct ds_net_state n;
	struct ds_port_event ev;
	int fd = ds_port_event_fd();

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ds_port_mono_ms(), 0);
	assert_int_equal(ds_port_wall_ms(), DS_PORT_SIM_WALL_START_MS);
	/* Before the script: plugged in, full, offline. */
	assert_int_equal(ds_port_power_get(&p), 0);
	assert_int_equal(p.source, DS_POWER_MAINS);
	assert_int_equal(p.battery_pct, 100);
	assert_int_equal(ds_port_net_get(&n), 0);
	assert_false(n.up);
	assert_false(fd_readable(fd, 0));

	assert_int_equal(ds_port_sim_load_script(path), 0);
	/* The 0s events are due at once: state follows, fd readable, loop woken. */
	assert_true(g_wakes >= 1);
	assert_true(fd_readable(fd, 0));
	assert_int_equal(ds_port_net_get(&n), 0);
	assert_true(n.up);
	assert_int_equal(n.type, DS_NET_WIFI);
	ev = expect_event(DS_EV_NET, 0);
	assert_int_equal(ev.u.net.type, DS_NET_WIFI);
	ev = expect_event(DS_EV_POWER, 0);
	assert_int_equal(ev.u.power.battery_pct, 80);
	expect_none();
	assert_false(fd_readable(fd, 0));
	/* Manual clock: the deadline is virtual time to the next scripted event. */
	assert_int_equal(ds_port_next_deadline_ms(), 600000);

	ds_port_sim_advance(599999);
	expect_none();
	assert_int_equal(ds_port_next_deadline_ms(), 1);
	assert_int_equal(ds_port_power_get(&p), 0);
	assert_int_equal(p.battery_pct, 80);
	ds_port_sim_advance(1);
	assert_int_equal(ds_port_power_get(&p), 0);
	assert_int_equal(p.battery_pct, 14);
	assert_true(p.low_battery);
	assert_int_equal(ds_port_next_deadline_ms(), 0);
	ev = expect_event(DS_EV_POWER, 600000);
	assert_true(ev.u.power.low_battery);
	expect_none();

	/* Jumping far ahead: every event in between, in order, stamped with its own time. */
	ds_port_sim_advance(2 * 3600000);
	assert_int_equal(ds_port_mono_ms(), 600000 + 2 * 3600000);
	assert_int_equal(ds_port_wall_ms(), DS_PORT_SIM_WALL_START_MS + 600000 + 2 * 3600000);
	expect_event(DS_EV_NET, 630000);
	ev = expect_event(DS_EV_POWER, 3600000);
	assert_true(ev.u.power.charging);
	ev = expect_event(DS_EV_NET, 3600000);
	assert_int_equal(ev.u.net.type, DS_NET_CELLULAR);
	ev = expect_event(DS_EV_IDLE, 7200000);
	assert_true(ev.u.idle);
	ev = expect_event(DS_EV_NET, 7500000);
	assert_string_equal(ev.u.net.ifname, "eth1");
	expect_none();
	/* State is that of the last event of each kind. */
	assert_int_equal(ds_port_net_get(&n), 0);
	assert_string_equal(n.ifname, "eth1");
	assert_int_equal(ds_port_power_get(&p), 0);
	assert_true(p.charging);

	ds_port_sim_advance(86400000);
	expect_event(DS_EV_POWER, 86400000);
	expect_event(DS_EV_IDLE, 86400000);
	expect_event(DS_EV_SHUTDOWN, 86400250);
	expect_none();
	assert_int_equal(ds_port_next_deadline_ms(), -1);
	ds_free(path);
}

static void test_inject(void **state)
{
	struct ds_port_event in = { .type = DS_EV_NET, .mono_ms = 12345 };
	struct ds_port_event ev;
	struct ds_net_state n;
	char *script = write_tmp("inject.script", "1m power battery 50\n");
	int fd = ds_port_event_fd();

	(void)state;
	assert_int_equal(ds_port_sim_load_script(script), 0);
	assert_int_equal(g_wakes, 0); /* nothing due yet */
	in.u.net = (struct ds_net_state){ .up = true, .type = DS_NET_WIFI, .ifname = "wlan7" };
	ds_port_sim_advance(30000);
	assert_int_equal(ds_port_sim_inject(&in), 0);
	assert_int_equal(g_wakes, 1);
	assert_true(fd_readable(fd, 0));
	assert_int_equal(ds_port_net_get(&n), 0);
	assert_string_equal(n.ifname, "wlan7");
	ev = expect_event(DS_EV_NET, 30000); /* stamped now, not with the caller's time */
	assert_string_equal(ev.u.net.ifname, "wlan7");
	expect_none();

	/* Scripted events already due come before an injected one. */
	ds_port_sim_advance(30000);
	in.type = DS_EV_IDLE;
	in.u.idle = true;
	assert_int_equal(ds_port_sim_inject(&in), 0);
	expect_event(DS_EV_POWER, 60000);
	expect_event(DS_EV_IDLE, 60000);
	expect_none();

	in.type = DS_EV_NONE;
	assert_int_equal(ds_port_sim_inject(&in), -EINVAL);
	assert_int_equal(ds_port_sim_inject(NULL), -EINVAL);
	in.type = (enum ds_port_event_type)99;
	assert_int_equal(ds_port_sim_inject(&in), -EINVAL);

	/* Many injections at once: the queue grows and keeps order. */
	in.type = DS_EV_POWER;
	in.u.power = (struct ds_power_state){ .source = DS_POWER_BATTERY, .has_battery = true };
	for (int i = 0; i < 100; i++) {
		in.u.power.battery_pct = i;
		assert_int_equal(ds_port_sim_inject(&in), 0);
	}
	for (int i = 0; i < 100; i++) {
		ev = expect_event(DS_EV_POWER, 60000);
		assert_int_equal(ev.u.power.battery_pct, i);
	}
	expect_none();
	ds_free(script);
}

static void test_bad_script_keeps_previous(void **state)
{
	char *good = write_tmp("good.script", "10s idle on\n");
	char *bad = write_tmp("bad.script", "0s idle on\n5s power flat\n");
	char *missing = ds_asprintf("%s/missing.script", g_tmp);

	(void)state;
	assert_int_equal(ds_port_sim_load_script(good), 0);
	assert_int_equal(ds_port_sim_load_script(bad), -EINVAL);
	assert_int_equal(ds_port_sim_load_script(missing), -ENOENT);
	assert_int_equal(ds_port_sim_load_script(g_tmp), -EINVAL); /* a directory */
	assert_int_equal(ds_port_sim_load_script(NULL), -EINVAL);
	/* Nothing of the bad script was played; the good one still is. */
	expect_none();
	ds_port_sim_advance(10000);
	expect_event(DS_EV_IDLE, 10000);
	expect_none();
	ds_free(good);
	ds_free(bad);
	ds_free(missing);
}

static void test_init_script_and_reset(void **state)
{
	char *script = write_tmp("init.script", "0s net ethernet\n2s power battery 9\n");
	char *data = ds_asprintf("%s/data", g_tmp), *run = ds_asprintf("%s/run", g_tmp),
	     *sec = ds_asprintf("%s/secrets", g_tmp), *bad = write_tmp("x.script", "bogus\n");
	struct ds_port_config cfg = { .data_dir = data, .run_dir = run, .secret_dir = sec,
				      .sim_script = script };
	struct ds_power_state p;

	(void)state;
	ds_port_sim_advance(5000);
	assert_int_equal(ds_port_init(&cfg), 0); /* re-init: clock back to 0 */
	assert_int_equal(ds_port_mono_ms(), 0);
	expect_event(DS_EV_NET, 0);
	expect_none();
	ds_port_sim_advance(2000);
	assert_int_equal(ds_port_power_get(&p), 0);
	assert_true(p.low_battery);
	expect_event(DS_EV_POWER, 2000);
	assert_string_equal(ds_port_path(DS_PATH_SECRET), sec);
	/* A malformed configured script makes init fail. */
	cfg.sim_script = bad;
	assert_int_equal(ds_port_init(&cfg), -EINVAL);
	ds_free(script);
	ds_free(bad);
	ds_free(data);
	ds_free(run);
	ds_free(sec);
}

static void test_realtime_clock_wakes_loop(void **state)
{
	char *script = write_tmp("rt.script", "20ms idle on\n");
	int64_t t0, t1;
	int fd = ds_port_event_fd();

	(void)state;
	/* Following real time (what the daemon does): the timer fd wakes the loop by itself. */
	ds_port_sim_set_manual(false);
	assert_int_equal(ds_port_sim_load_script(script), 0);
	t0 = ds_port_mono_ms();
	assert_true(fd_readable(fd, 10000));
	t1 = ds_port_mono_ms();
	assert_true(t1 >= t0);
	assert_true(t1 >= 20);
	expect_event(DS_EV_IDLE, 20);
	expect_none();
	assert_int_equal(ds_port_next_deadline_ms(), -1);
	ds_port_sim_set_manual(true);
	/* Manual again: the clock stands still. */
	t0 = ds_port_mono_ms();
	assert_int_equal(ds_port_mono_ms(), t0);
	ds_free(script);
}

static void test_common_services(void **state)
{
	unsigned char key[32], out[32];

	(void)state;
	/* Entropy is real even here: keys are made from it. */
	assert_int_equal(ds_port_entropy(key, sizeof(key)), 0);
	assert_int_equal(ds_port_secret_seal("k", key, sizeof(key)), 0);
	assert_int_equal(ds_port_secret_unseal("k", out, sizeof(out)), (int)sizeof(out));
	assert_memory_equal(key, out, sizeof(key));
	/* Wake locks are counted no-ops. */
	assert_int_equal(ds_port_wake_lock("run"), 0);
	assert_int_equal(ds_port_wake_lock_count("run"), 1);
	assert_int_equal(ds_port_wake_unlock("run"), 0);
	assert_int_equal(ds_port_wake_unlock("run"), -ENOENT);
}

/* Secrets in memory: no core file and not dumpable once the process asks (ds_port.h). */
static void test_protect_memory_turns_core_dumps_off(void **state)
{
	struct rlimit rl;

	(void)state;
	assert_int_equal(ds_port_protect_memory(), 0);
	assert_int_equal(getrlimit(RLIMIT_CORE, &rl), 0);
	assert_true(rl.rlim_cur == 0 && rl.rlim_max == 0);
	assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_parse_good_script),
		cmocka_unit_test(test_parse_bad_lines),
		cmocka_unit_test(test_parse_misc),
		cmocka_unit_test_setup_teardown(test_script_delivery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inject, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_script_keeps_previous, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_script_and_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_realtime_clock_wakes_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_common_services, setup, teardown),
		cmocka_unit_test(test_protect_memory_turns_core_dumps_off),
	};
	const char *t = getenv("DS_TEST_TMP");

	if (t && *t) {
		snprintf(g_tmp, sizeof(g_tmp), "%s/port_sim", t);
	} else {
		const char *base = getenv("TMPDIR");

		snprintf(g_tmp, sizeof(g_tmp), "%s/dssim-XXXXXX", base && *base ? base : P_tmpdir);
		if (!mkdtemp(g_tmp))
			return 1;
	}
	if (ds_port_mkdirs(g_tmp, 0700))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
