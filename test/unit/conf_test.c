/* Configuration file parsing: defaults, every key, warnings, and one error vector per rule. */
#include "core/ds_core.h"
#include "core/ds_conf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Vectors live in test/data/conf; found from this file's path (the Makefile compiles with an
 * absolute source path) unless DS_SRC names the source tree. */
static char *data_path(const char *name)
{
	const char *src = getenv("DS_SRC");
	char dir[1024];

	if (src) {
		snprintf(dir, sizeof(dir), "%s/test/data/conf", src);
	} else {
		const char *f = __FILE__;
		const char *slash = strrchr(f, '/');
		int n = slash ? (int)(slash - f) : 1;

		snprintf(dir, sizeof(dir), "%.*s/../data/conf", n, slash ? f : ".");
	}
	return ds_asprintf("%s/%s", dir, name);
}

static void test_defaults_come_from_kconfig(void **state)
{
	struct ds_conf c;
	char *sock;

	DS_UNUSED(state);
	assert_int_equal(ds_conf_init(&c), 0);
	assert_string_equal(c.data_dir, CONFIG_DS_DATA_DIR);
	assert_string_equal(c.run_dir, CONFIG_DS_RUN_DIR);
	assert_string_equal(c.secret_dir, CONFIG_DS_PORT_SECRET_DIR);
	assert_int_equal(c.sync_interval_s, CONFIG_DS_SCHED_INTERVAL_S);
	assert_int_equal(c.min_battery_pct, CONFIG_DS_SCHED_MIN_BATTERY);
	assert_int_equal(c.unmetered_only, IS_ENABLED(CONFIG_DS_SCHED_UNMETERED_ONLY));
	assert_int_equal(c.log_output, DS_CONF_LOG_OUTPUT_AUTO);
	assert_null(c.socket_group);
	sock = ds_conf_socket_path(&c);
	assert_non_null(sock);
	assert_string_equal(sock, CONFIG_DS_RUN_DIR "/" CONFIG_DS_IPC_SOCKET);
	ds_free(sock);
	ds_conf_free(&c);
}

static void test_every_key_is_read(void **state)
{
	struct ds_conf c;
	char err[256] = "", *path = data_path("full.conf"), *sock;

	DS_UNUSED(state);
	assert_int_equal(ds_conf_init(&c), 0);
	assert_int_equal(ds_conf_load(&c, path, err, sizeof(err)), 0);
	assert_string_equal(c.data_dir, "/srv/ds/data");
	assert_string_equal(c.run_dir, "/srv/ds/run");
	assert_string_equal(c.secret_dir, "/srv/ds/secret # not a comment");
	assert_string_equal(c.socket, "ctl.sock");
	assert_string_equal(c.socket_group, "datasync");
	assert_int_equal(c.log_level, DS_LOG_DBG);
	assert_int_equal(c.log_output, DS_LOG_TO_SYSLOG);
	assert_string_equal(c.device_name, "Living room TV");
	assert_string_equal(c.sim_script, "events.script");
	assert_int_equal(c.sync_interval_s, 900);
	assert_int_equal(c.min_battery_pct, 30);
	assert_true(c.unmetered_only);
	assert_int_equal(c.warnings, 0);
	sock = ds_conf_socket_path(&c);
	assert_string_equal(sock, "/srv/ds/run/ctl.sock");
	ds_free(sock);
	ds_free(path);
	ds_conf_free(&c);
}

static void test_unknown_and_repeated_keys_warn(void **state)
{
	struct ds_conf c;
	char err[256] = "", *path = data_path("warnings.conf");

	DS_UNUSED(state);
	assert_int_equal(ds_conf_init(&c), 0);
	assert_int_equal(ds_conf_load(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.warnings, 2);
	assert_int_equal(c.log_level, DS_LOG_ERR); /* the last value wins */
	ds_free(path);
	ds_conf_free(&c);
}

struct bad_vector {
	const char *file;
	const char *where;   /* "file:line:" suffix expected in the message */
	const char *mention; /* a word the message must contain */
};

static const struct bad_vector bad[] = {
	{ "bad-number.conf", "bad-number.conf:2: ", "sync_interval_s" },
	{ "no-equals.conf", "no-equals.conf:3: ", "key = value" },
	{ "bad-percent.conf", "bad-percent.conf:1: ", "0..100" },
	{ "bad-bool.conf", "bad-bool.conf:1: ", "boolean" },
	{ "bad-output.conf", "bad-output.conf:1: ", "stderr, syslog" },
	{ "bad-section.conf", "bad-section.conf:1: ", "section" },
	{ "bad-quote.conf", "bad-quote.conf:1: ", "unterminated" },
	{ "empty-value.conf", "empty-value.conf:1: ", "empty" },
	{ "bad-key.conf", "bad-key.conf:1: ", "key name" },
};

static void test_errors_name_file_and_line_and_change_nothing(void **state)
{
	DS_UNUSED(state);
	for (size_t i = 0; i < DS_ARRAY_SIZE(bad); i++) {
		struct ds_conf c;
		char err[256] = "", *path = data_path(bad[i].file);

		assert_int_equal(ds_conf_init(&c), 0);
		assert_int_equal(ds_conf_load(&c, path, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].where) || !strstr(err, bad[i].mention))
			fail_msg("%s: unexpected message '%s'", bad[i].file, err);
		/* A refused file leaves the previous values (here the defaults) in place. */
		assert_string_equal(c.data_dir, CONFIG_DS_DATA_DIR);
		ds_free(path);
		ds_conf_free(&c);
	}
}

/* The shipped file documents every key commented out: it must parse to the defaults. */
static void test_shipped_file_is_all_defaults(void **state)
{
	struct ds_conf c;
	char err[256] = "", *path = data_path("../../../component/daemon/datasync.conf");

	DS_UNUSED(state);
	assert_int_equal(ds_conf_init(&c), 0);
	assert_int_equal(ds_conf_load(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.warnings, 0);
	assert_string_equal(c.data_dir, CONFIG_DS_DATA_DIR);
	assert_int_equal(c.sync_interval_s, CONFIG_DS_SCHED_INTERVAL_S);
	assert_null(c.device_name);
	ds_free(path);
	ds_conf_free(&c);
}

static void test_missing_file_is_enoent(void **state)
{
	struct ds_conf c;
	char err[256] = "";

	DS_UNUSED(state);
	assert_int_equal(ds_conf_init(&c), 0);
	assert_int_equal(ds_conf_load(&c, "no/such/datasync.conf", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no/such/datasync.conf"));
	ds_conf_free(&c);
}

static void test_parse_over_previous_values(void **state)
{
	struct ds_conf c;
	char err[256] = "";

	DS_UNUSED(state);
	assert_int_equal(ds_conf_init(&c), 0);
	assert_int_equal(ds_conf_parse(&c, "a", "sync_interval_s = 60\nlog_level=warn", err, sizeof(err)), 0);
	assert_int_equal(ds_conf_parse(&c, "b", "min_battery_pct = 5\r\n", err, sizeof(err)), 0);
	assert_int_equal(c.sync_interval_s, 60);
	assert_int_equal(c.log_level, DS_LOG_WRN);
	assert_int_equal(c.min_battery_pct, 5);
	assert_int_equal(ds_conf_parse(&c, "c", "sync_interval_s = 999999999", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "c:1: sync_interval_s: '999999999' is not a number of seconds in 0..604800");
	assert_int_equal(c.sync_interval_s, 60);
	ds_conf_free(&c);
}

/* Every allocation failure is reported as -ENOMEM and leaks nothing. */
static void test_allocation_failures(void **state)
{
	unsigned long total;

	DS_UNUSED(state);
	for (unsigned long n = 1;; n++) {
		struct ds_conf c;
		char err[256] = "";
		int rc;

		ds_alloc_fail_after(0);
		rc = ds_conf_init(&c);
		if (rc == 0) {
			ds_alloc_fail_after(n);
			rc = ds_conf_parse(&c, "t", "device_name = x\nrun_dir = /r\n", err, sizeof(err));
			total = ds_alloc_fail_after(0);
			ds_conf_free(&c);
			if (rc == 0 && total < n)
				break;
			assert_int_equal(rc, -ENOMEM);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_come_from_kconfig),
		cmocka_unit_test(test_every_key_is_read),
		cmocka_unit_test(test_unknown_and_repeated_keys_warn),
		cmocka_unit_test(test_errors_name_file_and_line_and_change_nothing),
		cmocka_unit_test(test_shipped_file_is_all_defaults),
		cmocka_unit_test(test_missing_file_is_enoent),
		cmocka_unit_test(test_parse_over_previous_values),
		cmocka_unit_test(test_allocation_failures),
	};

	ds_log_set_max_level(DS_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
