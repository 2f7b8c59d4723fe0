/*
 * The sync core's optional remote ops (ds_sync.h), over the in-memory remote with the two ops
 * added by the test:
 *  - message: a failed prepare/fetch/upload carries the remote's own words in the run's
 *    message in place of the errno text; an engine failure keeps the engine's explanation;
 *  - epoch_changed: DS_EPOCH_RESET starts the collection over at the new incarnation in the
 *    same run (every local record uploaded again, nothing local deleted); DS_EPOCH_REFUSE, or
 *    no op, refuses as before. The op sees the stored and the new epoch.
 */
#include "core/ds_core.h"
#include "sync/ds_sync.h"
#include "test/support/fake_device.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct ds_remote_ops wrapped;
static char remote_words[128];
static int epoch_answer;
static char seen_stored[DS_CURSOR_MAX], seen_now[DS_CURSOR_MAX];
static unsigned epoch_calls;

static const char *w_message(struct ds_remote *r)
{
	(void)r;
	return remote_words;
}

static int w_epoch_changed(struct ds_remote *r, const char *stored, const char *now)
{
	(void)r;
	epoch_calls++;
	snprintf(seen_stored, sizeof(seen_stored), "%s", stored);
	snprintf(seen_now, sizeof(seen_now), "%s", now);
	return epoch_answer;
}

struct fx {
	struct ds_fake_server *srv;
	struct ds_fake_device a;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct ds_fake_device_opts o = { 0 };

	f->srv = ds_fake_server_new();
	assert_int_equal(ds_fake_device_open(&f->a, f->srv, &o), 0);
	wrapped = *f->a.r->ops;
	wrapped.message = w_message;
	wrapped.epoch_changed = w_epoch_changed;
	f->a.r->ops = &wrapped;
	remote_words[0] = '\0';
	epoch_answer = DS_EPOCH_REFUSE;
	epoch_calls = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ds_fake_device_close(&f->a);
	ds_fake_server_free(f->srv);
	free(f);
	return 0;
}

static void test_message_replaces_the_errno_text(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;

	snprintf(remote_words, sizeof(remote_words), "the service has closed, see example.org");
	ds_fake_remote_fail(f->a.r, DS_FAKE_REMOTE_PREPARE, 1, -ENOTSUP);
	assert_int_equal(ds_fake_device_sync(&f->a, &st), -ENOTSUP);
	assert_string_equal(st.message,
			    "preparing the remote failed: the service has closed, see example.org");

	ds_fake_remote_fail(f->a.r, DS_FAKE_REMOTE_FETCH, 1, -EIO);
	assert_int_equal(ds_fake_device_sync(&f->a, &st), -EIO);
	assert_string_equal(st.message,
			    "fetching from the remote failed: the service has closed, see example.org");

	assert_int_equal(ds_fake_engine_put(f->a.e, "x", "{\"v\":1}"), 0);
	ds_fake_remote_fail(f->a.r, DS_FAKE_REMOTE_UPLOAD, 1, -EIO);
	assert_int_equal(ds_fake_device_sync(&f->a, &st), -EIO);
	assert_non_null(strstr(st.message, "uploading to the remote failed: the service has closed"));
}

static void test_no_message_keeps_the_errno_text(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;
	char want[200];

	ds_fake_remote_fail(f->a.r, DS_FAKE_REMOTE_PREPARE, 1, -EIO);
	assert_int_equal(ds_fake_device_sync(&f->a, &st), -EIO);
	snprintf(want, sizeof(want), "preparing the remote failed: %s", ds_strerror(-EIO));
	assert_string_equal(st.message, want);
}

static void test_engine_failure_keeps_the_engines_explanation(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;

	snprintf(remote_words, sizeof(remote_words), "stale words of the remote");
	ds_fake_engine_fail(f->a.e, DS_FAKE_ENGINE_PREPARE, 1, -EIO);
	assert_int_equal(ds_fake_device_sync(&f->a, &st), -EIO);
	assert_null(strstr(st.message, "stale words"));
	assert_non_null(strstr(st.message, "the local data is not usable"));
}

static void test_epoch_reset_starts_over_keeping_local_data(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;

	assert_int_equal(ds_fake_engine_put(f->a.e, "a", "{\"v\":1}"), 0);
	assert_int_equal(ds_fake_engine_put(f->a.e, "b", "{\"v\":2}"), 0);
	assert_int_equal(ds_fake_device_sync(&f->a, &st), 0);
	assert_int_equal(epoch_calls, 0);
	ds_fake_server_wipe(f->srv, true);
	epoch_answer = DS_EPOCH_RESET;
	assert_int_equal(ds_fake_device_sync(&f->a, &st), 0);
	assert_int_equal(epoch_calls, 1);
	assert_string_equal(seen_stored, "epoch-1");
	assert_string_equal(seen_now, "epoch-2");
	assert_int_equal(st.uploaded, 2);
	assert_int_equal(ds_fake_server_count(f->srv), 2);
	assert_int_equal(ds_fake_engine_rows(f->a.e), 2);
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	/* The new epoch is stored: the next run asks nothing. */
	assert_int_equal(ds_fake_device_sync(&f->a, &st), 0);
	assert_int_equal(epoch_calls, 1);
}

static void test_epoch_refuse_keeps_the_refusal(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;

	assert_int_equal(ds_fake_engine_put(f->a.e, "a", "{\"v\":1}"), 0);
	assert_int_equal(ds_fake_device_sync(&f->a, &st), 0);
	ds_fake_server_wipe(f->srv, true);
	assert_int_equal(ds_fake_device_sync(&f->a, &st), -ESTALE);
	assert_int_equal(epoch_calls, 1);
	assert_non_null(strstr(st.message, "remote was wiped or replaced; local data kept"));
	assert_int_equal(ds_fake_engine_rows(f->a.e), 1);
	assert_int_equal(ds_fake_server_count(f->srv), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_message_replaces_the_errno_text),
		T(test_no_message_keeps_the_errno_text),
		T(test_engine_failure_keeps_the_engines_explanation),
		T(test_epoch_reset_starts_over_keeping_local_data),
		T(test_epoch_refuse_keeps_the_refusal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
