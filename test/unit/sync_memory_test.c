/*
 * Memory and work of a run in proportion to what it does (docs/sync.md, "Limits"): a first sync
 * of 20,000 pending changes holds no more memory than one of 2,000 (the upload reads the pending
 * changes in bounded rounds, the fetch looks each record's pending change up by id), every
 * pending change is read once per run, records the remote refuses cannot make a run loop, and an
 * -ESTALE refetch in the middle of the rounds still merges and converges.
 *
 * Memory is measured, not assumed: an allocator hook (ds_set_allocator) keeps the bytes live
 * through ds_malloc and their peak. The fake server keeps every record uploaded to it, so what
 * a run held for itself at its worst is the peak minus what is live once it returned.
 */
#include "core/ds_core.h"
#include "store/ds_store.h"
#include "sync/ds_sync.h"
#include "sync/sync_priv.h"
#include "test/support/count_alloc.h"
#include "test/support/fake_device.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Everything the tests allocate through ds_malloc goes through the counter, from setup to
 * teardown, so no block crosses allocators. */
static int setup(void **state)
{
	DS_UNUSED(state);
	ds_count_mark();
	return ds_set_allocator(&ds_count_allocator);
}

static int teardown(void **state)
{
	DS_UNUSED(state);
	ds_set_allocator(NULL);
	if (ds_count_live() != 0) {
		fprintf(stderr, "%zu bytes still allocated through ds_malloc\n", ds_count_live());
		return -1;
	}
	return 0;
}

/* ---- fixture -------------------------------------------------------------------------------- */

struct fx {
	struct ds_fake_server *srv;
	struct ds_fake_device a;
};

static struct fx *fx_new(enum ds_conflict conflict)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct ds_fake_device_opts o = { 0 };

	assert_non_null(f);
	o.policy.conflict = conflict;
	f->srv = ds_fake_server_new();
	assert_non_null(f->srv);
	assert_int_equal(ds_fake_device_open(&f->a, f->srv, &o), 0);
	return f;
}

static void fx_free(struct fx *f)
{
	ds_fake_device_close(&f->a);
	ds_fake_server_free(f->srv);
	free(f);
}

static void id_of(char *id, size_t cap, const char *prefix, size_t i)
{
	snprintf(id, cap, "%s%06zu", prefix, i);
}

/* n rows made on the device before its first sync: n pending changes. */
static void local_rows(struct fx *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char id[32], payload[64];

		id_of(id, sizeof(id), "row", i);
		snprintf(payload, sizeof(payload), "{\"n\":%zu,\"text\":\"local row\"}", i);
		assert_int_equal(ds_fake_engine_put(f->a.e, id, payload), 0);
	}
}

/* Bytes a run held for itself at its worst: see the header comment. */
static size_t run_transient(struct fx *f, struct ds_run_stats *st)
{
	ds_count_mark();
	assert_int_equal(ds_fake_device_sync(&f->a, st), 0);
	return ds_count_peak() - ds_count_live();
}

/* ---- bounded memory ------------------------------------------------------------------------- */

/*
 * The bound: what one page and one upload batch of short records take, with room to spare;
 * independent of the number of pending changes. Holding the 20,000 changes at once would take
 * more than 20,000 x (an id + counters) = over 600 KB.
 */
#define RUN_BYTES_MAX (64 * 1024)

static size_t first_sync_upload(size_t n)
{
	struct fx *f = fx_new(DS_CONFLICT_SERVER_WINS);
	struct ds_run_stats st;
	char id[32];

	local_rows(f, n);
	size_t used = run_transient(f, &st);

	assert_int_equal(st.uploaded, n);
	assert_int_equal(st.errors, 0);
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	assert_int_equal(ds_fake_server_log_len(f->srv), n);
	/* Each pending change was read once: one round per batch, plus the empty last one. */
	assert_int_equal(ds_fake_remote_calls(f->a.r, DS_FAKE_REMOTE_UPLOAD),
			 (n + DS_SYNC_DEFAULT_BATCH - 1) / DS_SYNC_DEFAULT_BATCH);
	assert_int_equal(ds_fake_engine_calls(f->a.e, DS_FAKE_ENGINE_CHANGES),
			 (n + DS_SYNC_DEFAULT_BATCH - 1) / DS_SYNC_DEFAULT_BATCH + 1);
	id_of(id, sizeof(id), "row", n - 1);
	assert_non_null(strstr(ds_fake_server_payload(f->srv, id), "local row"));
	fx_free(f);
	return used;
}

static void test_first_sync_upload_memory_does_not_grow_with_pending_changes(void **state)
{
	DS_UNUSED(state);
	size_t small = first_sync_upload(2000);
	size_t large = first_sync_upload(20000);

	print_message("run memory: %zu bytes for 2,000 pending changes, %zu for 20,000\n", small,
		      large);
	assert_true(large <= RUN_BYTES_MAX);
	/* Ten times the changes, the same memory (ids are as long in both). */
	assert_true(large <= small + 4096);
}

/*
 * Fetch and upload in one run: 20,000 (or 2,000) local rows pending, and 1,000 records on the
 * server of which half have ids the device also holds; server-wins settles those. The fetch
 * looks each record up by id inside its page transaction instead of listing the pending changes.
 */
static size_t first_sync_both_ways(size_t n)
{
	struct fx *f = fx_new(DS_CONFLICT_SERVER_WINS);
	struct ds_run_stats st;
	char id[32];

	local_rows(f, n);
	for (size_t i = 0; i < 1000; i++) {
		/* Even i: an id the device has (rows 0, 2, ..., 998); odd i: a new one. */
		id_of(id, sizeof(id), i % 2 ? "srv" : "row", i);
		assert_int_equal(ds_fake_server_put(f->srv, id, "{\"from\":\"server\"}"), 0);
	}
	size_t used = run_transient(f, &st);

	assert_int_equal(st.fetched, 1000);
	assert_int_equal(st.applied, 1000);
	assert_int_equal(st.conflicts, 500);
	assert_int_equal(st.uploaded, n - 500);
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	assert_int_equal(ds_fake_engine_rows(f->a.e), n + 500);
	/* One lookup per fetched record, every one inside a transaction (the fake refuses others). */
	assert_int_equal(ds_fake_engine_calls(f->a.e, DS_FAKE_ENGINE_PENDING), 1000);
	id_of(id, sizeof(id), "row", 0);
	assert_string_equal(ds_fake_engine_payload(f->a.e, id), "{\"from\":\"server\"}");
	assert_int_equal(ds_fake_server_versions(f->srv, id), 1);
	fx_free(f);
	return used;
}

static void test_first_sync_both_ways_memory_does_not_grow_with_pending_changes(void **state)
{
	DS_UNUSED(state);
	size_t small = first_sync_both_ways(2000);
	size_t large = first_sync_both_ways(20000);

	print_message("run memory: %zu bytes for 2,000 pending changes, %zu for 20,000\n", small,
		      large);
	assert_true(large <= RUN_BYTES_MAX);
	assert_true(large <= small + 4096);
}

/* A remote announcing huge batches does not make the run hold more than DS_SYNC_MAX_BATCH. */
static void test_upload_batch_is_capped_whatever_the_remote_announces(void **state)
{
	struct fx *f = fx_new(DS_CONFLICT_SERVER_WINS);
	struct ds_run_stats st;

	DS_UNUSED(state);
	ds_fake_server_set_max_batch(f->srv, 1000000);
	local_rows(f, 2 * DS_SYNC_MAX_BATCH + 1);
	assert_int_equal(ds_fake_device_sync(&f->a, &st), 0);
	assert_int_equal(st.uploaded, 2 * DS_SYNC_MAX_BATCH + 1);
	assert_int_equal(ds_fake_remote_calls(f->a.r, DS_FAKE_REMOTE_UPLOAD), 3);
	fx_free(f);
}

/* ---- rounds end ----------------------------------------------------------------------------- */

/*
 * Refused records keep their batch pending and are not sent again in the same run, however
 * many there are: each round starts after the last change the previous one read.
 */
static void test_refused_records_do_not_loop_within_a_run(void **state)
{
	struct fx *f = fx_new(DS_CONFLICT_SERVER_WINS);
	struct ds_run_stats st;
	char id[32];

	DS_UNUSED(state);
	local_rows(f, 1000);
	for (size_t i = 50; i < 1000; i += 200) { /* one in each of 5 batches of 100 */
		id_of(id, sizeof(id), "row", i);
		assert_int_equal(ds_fake_remote_refuse(f->a.r, id), 0);
	}
	assert_int_equal(ds_fake_device_sync(&f->a, &st), 0);
	assert_int_equal(ds_fake_remote_calls(f->a.r, DS_FAKE_REMOTE_UPLOAD), 10);
	assert_int_equal(st.uploaded, 1000 - 5);
	assert_int_equal(st.errors, 5);
	assert_int_equal(ds_fake_engine_pending(f->a.e), 500);
	id_of(id, sizeof(id), "row", 50);
	assert_true(ds_fake_engine_is_pending(f->a.e, id));
	assert_null(ds_fake_server_payload(f->srv, id));

	/* The stored cursor stayed before the partial batches (AT-10), so the next run fetches
	 * the 995 accepted records back, finds them equal to the rows and forgets them; it tries
	 * the 5 refused ones once, in one batch, and ends again. */
	assert_int_equal(ds_fake_device_sync(&f->a, &st), 0);
	assert_int_equal(st.fetched, 1000 - 5);
	assert_int_equal(ds_fake_remote_calls(f->a.r, DS_FAKE_REMOTE_UPLOAD), 11);
	assert_int_equal(st.errors, 5);
	assert_int_equal(ds_fake_engine_pending(f->a.e), 5);
	/* And so does every run after it: nothing loops, nothing else is sent. */
	assert_int_equal(ds_fake_device_sync(&f->a, &st), 0);
	assert_int_equal(ds_fake_remote_calls(f->a.r, DS_FAKE_REMOTE_UPLOAD), 12);
	assert_int_equal(ds_fake_engine_pending(f->a.e), 5);
	fx_free(f);
}

/* Every record refused: the run still ends after one pass. */
static void test_remote_refusing_everything_ends_the_run(void **state)
{
	struct fx *f = fx_new(DS_CONFLICT_SERVER_WINS);
	struct ds_run_stats st;
	char id[32];

	DS_UNUSED(state);
	ds_fake_server_set_max_batch(f->srv, 1);
	/* The server holds a record already: an upload that keeps nothing then appends nothing
	 * to an existing log (fake_remote.c copies zero entries to a NULL log otherwise). */
	assert_int_equal(ds_fake_server_put(f->srv, "seed", "{}"), 0);
	local_rows(f, 30);
	for (size_t i = 0; i < 30; i++) {
		id_of(id, sizeof(id), "row", i);
		assert_int_equal(ds_fake_remote_refuse(f->a.r, id), 0);
	}
	assert_int_equal(ds_fake_device_sync(&f->a, &st), 0);
	assert_int_equal(st.fetched, 1);
	assert_int_equal(st.uploaded, 0);
	assert_int_equal(st.errors, 30);
	assert_int_equal(ds_fake_remote_calls(f->a.r, DS_FAKE_REMOTE_UPLOAD), 30);
	assert_int_equal(ds_fake_engine_pending(f->a.e), 30);
	fx_free(f);
}

/* ---- -ESTALE in the middle of the rounds ---------------------------------------------------- */

struct midway {
	struct fx *f;
	unsigned long calls;
};

/*
 * Before the third upload: another device changes a row this device has not uploaded yet
 * (row 450) and adds one; and the app edits row 10, which went up in the first round.
 */
static void another_device_writes(struct ds_remote *r, void *user_data)
{
	struct midway *m = user_data;

	DS_UNUSED(r);
	if (++m->calls != 3)
		return;
	assert_int_equal(ds_fake_server_put(m->f->srv, "row000450", "{\"from\":\"other\"}"), 0);
	assert_int_equal(ds_fake_server_put(m->f->srv, "other", "{\"from\":\"other\"}"), 0);
	assert_int_equal(ds_fake_engine_put(m->f->a.e, "row000010", "{\"edited\":true}"), 0);
}

static void test_stale_upload_midway_refetches_merges_and_goes_on(void **state)
{
	struct fx *f = fx_new(DS_CONFLICT_SERVER_WINS);
	struct midway m = { .f = f };
	struct ds_run_stats st;
	char id[32];

	DS_UNUSED(state);
	local_rows(f, 500);
	ds_fake_remote_before_upload(f->a.r, another_device_writes, &m);
	assert_int_equal(ds_fake_device_sync(&f->a, &st), 0);
	assert_int_equal(st.fetched, 2);
	assert_int_equal(st.conflicts, 1);
	/* 499 rows once (row 450 went to the server's side) and the edited row 10 again. */
	assert_int_equal(st.uploaded, 500);
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	assert_string_equal(ds_fake_engine_payload(f->a.e, "row000450"), "{\"from\":\"other\"}");
	assert_string_equal(ds_fake_engine_payload(f->a.e, "other"), "{\"from\":\"other\"}");
	assert_string_equal(ds_fake_server_payload(f->srv, "row000450"), "{\"from\":\"other\"}");
	assert_int_equal(ds_fake_server_versions(f->srv, "row000450"), 1);
	assert_string_equal(ds_fake_server_payload(f->srv, "row000010"), "{\"edited\":true}");
	assert_int_equal(ds_fake_server_versions(f->srv, "row000010"), 2);
	for (size_t i = 0; i < 500; i++) {
		id_of(id, sizeof(id), "row", i);
		if (i != 10 && i != 450)
			assert_int_equal(ds_fake_server_versions(f->srv, id), 1);
	}
	/* Nothing left: the next run has nothing to do. */
	assert_int_equal(ds_fake_device_sync(&f->a, &st), 0);
	assert_int_equal(st.uploaded + st.fetched, 0);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_sync_upload_memory_does_not_grow_with_pending_changes),
		cmocka_unit_test(test_first_sync_both_ways_memory_does_not_grow_with_pending_changes),
		cmocka_unit_test(test_upload_batch_is_capped_whatever_the_remote_announces),
		cmocka_unit_test(test_refused_records_do_not_loop_within_a_run),
		cmocka_unit_test(test_remote_refusing_everything_ends_the_run),
		cmocka_unit_test(test_stale_upload_midway_refetches_merges_and_goes_on),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
