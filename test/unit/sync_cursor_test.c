/*
 * Cursors and crash safety of a run (ds_sync.h rules 1 and 2, docs/sync.md): the cursor is
 * kept across runs and restarts, paged fetches resume at the last applied page, a wiped remote
 * is refused until reset, a failure injected at every step converges on the next run with no
 * duplicate and no lost change, and so does an allocation failure at every allocation of a run.
 */
#include "core/ds_core.h"
#include "store/ds_store.h"
#include "sync/ds_sync.h"
#include "test/support/fake_device.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct fx {
	struct ds_fake_server *srv;
	struct ds_fake_device a;
};

static struct fx *fx_new(const struct ds_fake_device_opts *o)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->srv = ds_fake_server_new();
	assert_non_null(f->srv);
	assert_int_equal(ds_fake_device_open(&f->a, f->srv, o), 0);
	return f;
}

static void fx_free(struct fx *f)
{
	ds_fake_device_close(&f->a);
	ds_fake_server_free(f->srv);
	free(f);
}

static struct ds_run_stats sync_ok(struct ds_fake_device *d)
{
	struct ds_run_stats st;

	assert_int_equal(ds_fake_device_sync(d, &st), 0);
	return st;
}

static void server_put_n(struct ds_fake_server *srv, const char *prefix, int n)
{
	for (int i = 1; i <= n; i++) {
		char id[32], payload[64];
		snprintf(id, sizeof(id), "%s%d", prefix, i);
		snprintf(payload, sizeof(payload), "{\"%s\":%d}", prefix, i);
		assert_int_equal(ds_fake_server_put(srv, id, payload), 0);
	}
}

static void cursor_of(struct fx *f, char *cur, char *ep)
{
	assert_int_equal(ds_store_cursor_get(f->a.store, "coll", cur, DS_CURSOR_MAX, ep, DS_CURSOR_MAX), 0);
}

/* ---- cursors -------------------------------------------------------------------------------- */

static void test_cursor_persists_across_runs_and_restarts(void **state)
{
	struct fx *f = fx_new(NULL);
	char cur[DS_CURSOR_MAX], ep[DS_CURSOR_MAX];

	DS_UNUSED(state);
	server_put_n(f->srv, "r", 5);
	struct ds_run_stats st = sync_ok(&f->a);
	assert_int_equal(st.fetched, 5);
	cursor_of(f, cur, ep);
	assert_string_equal(cur, "5");
	assert_string_equal(ep, "epoch-1");

	assert_int_equal(ds_fake_device_reopen_store(&f->a), 0);
	unsigned long fetches = ds_fake_remote_calls(f->a.r, DS_FAKE_REMOTE_FETCH);
	st = sync_ok(&f->a);
	assert_int_equal(st.fetched, 0);
	assert_int_equal(st.applied, 0);
	/* Nothing new: the remote's latest equals our cursor, so not even a request. */
	assert_int_equal(ds_fake_remote_calls(f->a.r, DS_FAKE_REMOTE_FETCH), fetches);

	assert_int_equal(ds_fake_server_put(f->srv, "r6", "{\"r\":6}"), 0);
	st = sync_ok(&f->a);
	assert_int_equal(st.fetched, 1);
	fx_free(f);
}

static long long file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

/*
 * A run with nothing to do writes one page: it rewrites the newest history row when that one
 * was a no-op too, so the history says when the collection was last checked and keeps the runs
 * that did something.
 */
static void test_nothing_to_do_rewrites_one_history_row(void **state)
{
	struct fx *f = fx_new(NULL);
	struct ds_run_stats st, hist[4];
	char wal[620];

	DS_UNUSED(state);
	server_put_n(f->srv, "r", 2);
	sync_ok(&f->a);
	st = sync_ok(&f->a); /* the first no-op is a row of its own */
	assert_int_equal(st.fetched + st.applied + st.uploaded, 0);
	assert_int_equal(ds_store_run_history(f->a.store, "coll", hist, 4), 2);

	snprintf(wal, sizeof(wal), "%s-wal", f->a.path);
	long long before = file_size(wal);
	assert_true(before > 0); /* the store keeps its connection, so its WAL stays */
	st = sync_ok(&f->a);
	/* One page went to the WAL (a frame: 24 bytes of header and the page). */
	assert_true(file_size(wal) - before <= 4096 + 24);
	assert_int_equal(ds_store_run_history(f->a.store, "coll", hist, 4), 2);
	assert_int_equal(hist[0].finished_ms, st.finished_ms);
	assert_int_equal(hist[0].started_ms, st.started_ms);
	assert_int_equal(hist[1].fetched, 2);

	/* A run that does something is a new row again, and so is the next no-op. */
	assert_int_equal(ds_fake_server_put(f->srv, "r3", "{}"), 0);
	sync_ok(&f->a);
	sync_ok(&f->a);
	assert_int_equal(ds_store_run_history(f->a.store, "coll", hist, 4), 4);
	assert_int_equal(hist[0].fetched, 0);
	assert_int_equal(hist[1].fetched, 1);
	/* A failed run too: the no-op after it does not overwrite it. */
	ds_fake_remote_fail(f->a.r, DS_FAKE_REMOTE_PREPARE, 1, -EHOSTUNREACH);
	assert_int_equal(ds_fake_device_sync(&f->a, NULL), -EHOSTUNREACH);
	sync_ok(&f->a);
	assert_int_equal(ds_store_run_history(f->a.store, "coll", hist, 4), 4);
	assert_int_equal(hist[0].result, 0);
	assert_int_equal(hist[1].result, -EHOSTUNREACH);
	fx_free(f);
}

static void test_paged_fetch_resumes_at_the_last_applied_page(void **state)
{
	struct fx *f = fx_new(NULL);
	char cur[DS_CURSOR_MAX], ep[DS_CURSOR_MAX];
	struct ds_run_stats st;

	DS_UNUSED(state);
	ds_fake_server_set_page_size(f->srv, 2);
	server_put_n(f->srv, "r", 7);
	ds_fake_remote_fail(f->a.r, DS_FAKE_REMOTE_FETCH, 3, -ETIMEDOUT);
	assert_int_equal(ds_fake_device_sync(&f->a, &st), -ETIMEDOUT);
	assert_int_equal(st.result, -ETIMEDOUT);
	assert_non_null(strstr(st.message, "fetching from the remote failed"));
	/* Two pages were applied and their cursor committed. */
	assert_int_equal(ds_fake_engine_rows(f->a.e), 4);
	cursor_of(f, cur, ep);
	assert_string_equal(cur, "4");
	st = sync_ok(&f->a);
	assert_int_equal(st.fetched, 3);
	assert_int_equal(ds_fake_engine_rows(f->a.e), 7);
	fx_free(f);
}

/* ---- a page applied in chunks (ds_sync.h rule 1, sync15.md U8) ------------------------------- */

#define CHUNK ((unsigned long)CONFIG_DS_SYNC_APPLY_CHUNK)

/* A page far larger than a chunk: one local transaction per chunk, every record applied, and the
 * page is no longer bounded by the core (it holds one chunk, see sync_memory_test.c). */
static void test_large_page_is_applied_in_chunks(void **state)
{
	struct fx *f = fx_new(NULL);
	unsigned long n = 10 * CHUNK + 7, begins;
	char cur[DS_CURSOR_MAX], ep[DS_CURSOR_MAX];
	struct ds_run_stats st;

	DS_UNUSED(state);
	ds_fake_server_set_page_size(f->srv, 1000000);
	server_put_n(f->srv, "r", (int)n);
	begins = ds_fake_engine_calls(f->a.e, DS_FAKE_ENGINE_BEGIN);
	st = sync_ok(&f->a);
	assert_int_equal(st.fetched, n);
	assert_int_equal(st.applied, n);
	assert_int_equal(ds_fake_engine_rows(f->a.e), n);
	assert_int_equal(ds_fake_engine_calls(f->a.e, DS_FAKE_ENGINE_BEGIN) - begins, 11);
	assert_int_equal(ds_fake_remote_calls(f->a.r, DS_FAKE_REMOTE_FETCH), 1);
	cursor_of(f, cur, ep);
	assert_int_equal(strtoul(cur, NULL, 10), n);
	fx_free(f);
}

/* A remote whose connection is cut after cut_after records of a page: a wrapper around the fake
 * remote, taking its place in the device's collection for one run. */
struct cut_remote {
	struct ds_remote base;
	struct ds_remote *inner;
	unsigned long cut_after, seen;
	ds_record_cb cb;
	void *ud;
};

static int cut_cb(const struct ds_record *r, void *user_data)
{
	struct cut_remote *x = user_data;

	if (x->seen++ == x->cut_after)
		return -ECONNRESET;
	return x->cb(r, x->ud);
}

static int cut_prepare(struct ds_remote *r, struct ds_remote_info *info)
{
	struct cut_remote *x = r->priv;

	return x->inner->ops->prepare(x->inner, info);
}

static int cut_fetch(struct ds_remote *r, const char *cursor, ds_record_cb cb, void *ud,
		     struct ds_fetch_page *page)
{
	struct cut_remote *x = r->priv;

	x->cb = cb;
	x->ud = ud;
	x->seen = 0;
	return x->inner->ops->fetch(x->inner, cursor, cut_cb, x, page);
}

static int cut_upload(struct ds_remote *r, const char *cursor, const struct ds_record *recs,
		      size_t n, struct ds_upload_result *res)
{
	struct cut_remote *x = r->priv;

	return x->inner->ops->upload(x->inner, cursor, recs, n, res);
}

static int64_t cut_backoff(struct ds_remote *r)
{
	DS_UNUSED(r);
	return 0;
}

static const struct ds_remote_ops cut_ops = {
	.kind = "cut", .prepare = cut_prepare, .fetch = cut_fetch, .upload = cut_upload,
	.backoff_s = cut_backoff,
};

/* One run of the device with its page cut after cut_after records. */
static int sync_cut(struct fx *f, unsigned long cut_after, struct ds_run_stats *st)
{
	struct cut_remote x = { .base = { .ops = &cut_ops, .priv = &x }, .inner = f->a.r,
				.cut_after = cut_after };
	int rc;

	f->a.c->remote = &x.base;
	rc = ds_fake_device_sync(&f->a, st);
	f->a.c->remote = f->a.r;
	return rc;
}

/* ---- storage hints through a transform ------------------------------------------------------- */

static const struct ds_engine_ops *hint_inner;
struct hint_ctx {
	ds_record_cb cb;
	void *ud;
};

static int hint_cb(const struct ds_record *r, void *user_data)
{
	struct hint_ctx *h = user_data;
	struct ds_record c = *r;

	if (r->id && strcmp(r->id, "hinted") == 0) {
		c.ttl_s = 180u * 24 * 3600;
		c.sortindex = -3;
	}
	return h->cb(&c, h->ud);
}

static int hint_changes_after(struct ds_engine *e, uint64_t after, const char *id, ds_record_cb cb,
			      void *ud)
{
	struct hint_ctx h = { cb, ud };

	return hint_inner->changes_after(e, after, id, hint_cb, &h);
}

struct seen_hints {
	uint32_t ttl_hinted, ttl_plain;
	int32_t si_hinted, si_plain;
	bool enc_hinted;
};

static struct seen_hints g_seen;

static int seen_upload(struct ds_remote *r, const char *cursor, const struct ds_record *recs,
		       size_t n, struct ds_upload_result *res)
{
	struct cut_remote *x = r->priv;

	for (size_t i = 0; i < n; i++) {
		if (strcmp(recs[i].id, "hinted") == 0) {
			g_seen.ttl_hinted = recs[i].ttl_s;
			g_seen.si_hinted = recs[i].sortindex;
			g_seen.enc_hinted = recs[i].payload && !strncmp(recs[i].payload, "enc:", 4);
		} else {
			g_seen.ttl_plain = recs[i].ttl_s;
			g_seen.si_plain = recs[i].sortindex;
		}
	}
	return x->inner->ops->upload(x->inner, cursor, recs, n, res);
}

/* An engine's ttl_s and sortindex reach the remote with the record, also when a transform
 * builds the record the remote gets; a record without them carries none. */
static void test_storage_hints_reach_the_remote_through_a_transform(void **state)
{
	struct ds_fake_device_opts o = { .transform = true };
	struct fx *f = fx_new(&o);
	struct ds_remote_ops ops = cut_ops;
	struct cut_remote x = { .base = { .ops = &ops, .priv = &x }, .inner = f->a.r,
				.cut_after = ULONG_MAX };
	struct ds_engine_ops hooked;

	DS_UNUSED(state);
	ops.upload = seen_upload;
	memset(&g_seen, 0, sizeof(g_seen));
	hint_inner = f->a.e->ops;
	hooked = *hint_inner;
	hooked.changes_after = hint_changes_after;
	f->a.e->ops = &hooked;
	assert_int_equal(ds_fake_engine_put(f->a.e, "hinted", "{\"h\":1}"), 0);
	assert_int_equal(ds_fake_engine_put(f->a.e, "plain", "{\"p\":1}"), 0);
	f->a.c->remote = &x.base;
	sync_ok(&f->a);
	f->a.c->remote = f->a.r;
	f->a.e->ops = hint_inner;
	assert_true(g_seen.enc_hinted);
	assert_int_equal(g_seen.ttl_hinted, 180u * 24 * 3600);
	assert_int_equal(g_seen.si_hinted, -3);
	assert_int_equal(g_seen.ttl_plain, 0);
	assert_int_equal(g_seen.si_plain, 0);
	fx_free(f);
}

/* A page of 5,000 records (U8's first history download) cut between two chunks and inside one:
 * the chunks before the cut stay applied, the cursor stays at the page's start, the records of
 * the chunk in progress are not applied, and the next run re-applies the page and converges,
 * with local changes settled by the policy as if nothing had been cut. */
static void test_page_cut_between_chunks_converges(void **state)
{
	struct ds_fake_device_opts o = { .policy = { .conflict = DS_CONFLICT_CLIENT_WINS } };
	struct fx *f = fx_new(&o);
	char cur[DS_CURSOR_MAX], ep[DS_CURSOR_MAX];
	unsigned long n = 5000;
	struct ds_run_stats st;

	DS_UNUSED(state);
	ds_fake_server_set_page_size(f->srv, 1000000);
	server_put_n(f->srv, "r", (int)n);
	/* Local edits of a record in the first chunk and of one after the cut. */
	assert_int_equal(ds_fake_engine_put(f->a.e, "r1", "{\"local\":1}"), 0);
	assert_int_equal(ds_fake_engine_put(f->a.e, "r4999", "{\"local\":4999}"), 0);

	/* Cut exactly after two chunks, then in the middle of the third. */
	assert_int_equal(sync_cut(f, 2 * CHUNK, &st), -ECONNRESET);
	assert_int_equal(ds_fake_engine_rows(f->a.e), 2 * CHUNK + 1); /* + the local r4999 */
	cursor_of(f, cur, ep);
	assert_string_equal(cur, "");
	assert_int_equal(sync_cut(f, 2 * CHUNK + CHUNK / 2, &st), -ECONNRESET);
	assert_int_equal(ds_fake_engine_rows(f->a.e), 2 * CHUNK + 1);
	cursor_of(f, cur, ep);
	assert_string_equal(cur, "");
	/* client-wins: the local edits stayed pending through the applied chunks. */
	assert_string_equal(ds_fake_engine_payload(f->a.e, "r1"), "{\"local\":1}");
	assert_true(ds_fake_engine_is_pending(f->a.e, "r1"));
	assert_int_equal(ds_fake_server_log_len(f->srv), n);

	st = sync_ok(&f->a);
	assert_int_equal(st.fetched, n);
	assert_int_equal(ds_fake_engine_rows(f->a.e), n);
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	assert_string_equal(ds_fake_server_payload(f->srv, "r1"), "{\"local\":1}");
	assert_string_equal(ds_fake_server_payload(f->srv, "r4999"), "{\"local\":4999}");
	assert_string_equal(ds_fake_engine_payload(f->a.e, "r2"), "{\"r\":2}");
	/* Nothing uploaded twice, nothing else written. */
	assert_int_equal(ds_fake_server_log_len(f->srv), n + 2);
	sync_ok(&f->a);
	assert_int_equal(ds_fake_server_log_len(f->srv), n + 2);
	fx_free(f);
}

/* server-wins: a pending local change met in a chunk that committed is forgotten with it; the
 * re-applied page after a cut finds nothing pending and applies the same record again. A chunk
 * whose commit fails is rolled back whole: its local change stays pending. */
static void test_failed_chunk_rolls_back_alone_and_converges(void **state)
{
	struct fx *f = fx_new(NULL);
	char cur[DS_CURSOR_MAX], ep[DS_CURSOR_MAX];
	char id_late[32];
	struct ds_run_stats st;

	DS_UNUSED(state);
	ds_fake_server_set_page_size(f->srv, 1000000);
	server_put_n(f->srv, "r", (int)(3 * CHUNK));
	snprintf(id_late, sizeof(id_late), "r%lu", 2 * CHUNK + 1);
	assert_int_equal(ds_fake_engine_put(f->a.e, "r1", "{\"local\":1}"), 0);
	assert_int_equal(ds_fake_engine_put(f->a.e, id_late, "{\"local\":2}"), 0);

	/* The third chunk's commit fails (disk full): the first two stay. */
	ds_fake_engine_fail(f->a.e, DS_FAKE_ENGINE_COMMIT, 3, -ENOSPC);
	assert_int_equal(ds_fake_device_sync(&f->a, &st), -ENOSPC);
	assert_non_null(strstr(st.message, "committing the local transaction failed"));
	assert_int_equal(ds_fake_engine_rows(f->a.e), 2 * CHUNK + 1);
	assert_string_equal(ds_fake_engine_payload(f->a.e, "r1"), "{\"r\":1}");
	assert_false(ds_fake_engine_is_pending(f->a.e, "r1"));
	assert_string_equal(ds_fake_engine_payload(f->a.e, id_late), "{\"local\":2}");
	assert_true(ds_fake_engine_is_pending(f->a.e, id_late));
	cursor_of(f, cur, ep);
	assert_string_equal(cur, "");

	st = sync_ok(&f->a);
	assert_int_equal(st.fetched, 3 * CHUNK);
	assert_int_equal(ds_fake_engine_rows(f->a.e), 3 * CHUNK);
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	assert_int_equal(st.uploaded, 0);
	assert_int_equal(ds_fake_server_log_len(f->srv), 3 * CHUNK);
	fx_free(f);
}

static void test_upload_goes_in_batches_of_max_batch(void **state)
{
	struct fx *f = fx_new(NULL);

	DS_UNUSED(state);
	ds_fake_server_set_max_batch(f->srv, 2);
	for (int i = 0; i < 5; i++) {
		char id[8];
		snprintf(id, sizeof(id), "l%d", i);
		assert_int_equal(ds_fake_engine_put(f->a.e, id, "{}"), 0);
	}
	struct ds_run_stats st = sync_ok(&f->a);
	assert_int_equal(st.uploaded, 5);
	assert_int_equal(ds_fake_remote_calls(f->a.r, DS_FAKE_REMOTE_UPLOAD), 3);
	assert_int_equal(ds_fake_server_count(f->srv), 5);
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	fx_free(f);
}

/* ---- wiped or replaced remote --------------------------------------------------------------- */

static void test_wiped_remote_is_refused_then_reset_uploads_again(void **state)
{
	struct fx *f = fx_new(NULL);
	struct ds_run_stats st;

	DS_UNUSED(state);
	server_put_n(f->srv, "r", 3);
	sync_ok(&f->a);
	assert_int_equal(ds_fake_engine_put(f->a.e, "local", "{\"l\":1}"), 0);
	ds_fake_server_wipe(f->srv, true);

	assert_int_equal(ds_fake_device_sync(&f->a, &st), -ESTALE);
	assert_string_equal(st.message, "remote was wiped or replaced; local data kept; run "
					"'datasyncctl reset coll' to upload this device's data again");
	/* Nothing deleted, nothing uploaded, the refusal is on record. */
	assert_int_equal(ds_fake_engine_rows(f->a.e), 4);
	assert_true(ds_fake_engine_is_pending(f->a.e, "local"));
	assert_int_equal(ds_fake_server_log_len(f->srv), 0);
	assert_int_equal(ds_store_run_last(f->a.store, "coll", &st), 0);
	assert_int_equal(st.result, -ESTALE);
	/* It stays refused run after run. */
	assert_int_equal(ds_fake_device_sync(&f->a, NULL), -ESTALE);

	assert_int_equal(ds_sync_reset(f->a.c, f->a.store), 0);
	st = sync_ok(&f->a);
	assert_int_equal(st.uploaded, 4);
	assert_int_equal(ds_fake_server_count(f->srv), 4);
	assert_string_equal(ds_fake_server_payload(f->srv, "r2"), "{\"r\":2}");
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	char cur[DS_CURSOR_MAX], ep[DS_CURSOR_MAX];
	cursor_of(f, cur, ep);
	assert_string_equal(ep, "epoch-2");
	fx_free(f);
}

static void test_replaced_remote_with_other_data_is_refused(void **state)
{
	struct fx *f = fx_new(NULL);

	DS_UNUSED(state);
	server_put_n(f->srv, "r", 3);
	sync_ok(&f->a);
	/* Another device wiped it and uploaded its own data set: still not ours to apply. */
	ds_fake_server_wipe(f->srv, true);
	server_put_n(f->srv, "other", 2);
	assert_int_equal(ds_fake_device_sync(&f->a, NULL), -ESTALE);
	assert_int_equal(ds_fake_engine_rows(f->a.e), 3);
	assert_null(ds_fake_engine_payload(f->a.e, "other1"));
	fx_free(f);
}

static void test_epochless_remote_found_empty_is_refused(void **state)
{
	struct fx *f = fx_new(NULL);

	DS_UNUSED(state);
	ds_fake_server_set_epoch(f->srv, "");
	server_put_n(f->srv, "r", 2);
	sync_ok(&f->a);
	sync_ok(&f->a); /* an epoch-less remote with data is fine run after run */
	ds_fake_server_wipe(f->srv, false);
	assert_int_equal(ds_fake_device_sync(&f->a, NULL), -ESTALE);
	assert_int_equal(ds_fake_engine_rows(f->a.e), 2);
	fx_free(f);
}

/* ---- what the remote sends ------------------------------------------------------------------ */

static void test_undecodable_record_is_counted_and_never_applied(void **state)
{
	struct ds_fake_device_opts o = { .transform = true };
	struct fx *f = fx_new(&o);

	DS_UNUSED(state);
	assert_int_equal(ds_fake_server_put(f->srv, "ok", "enc:{\"fine\":1}"), 0);
	assert_int_equal(ds_fake_server_put(f->srv, "tampered", "{\"not\":\"encrypted\"}"), 0);
	struct ds_run_stats st = sync_ok(&f->a);
	assert_int_equal(st.fetched, 2);
	assert_int_equal(st.errors, 1);
	assert_int_equal(st.applied, 1);
	assert_string_equal(ds_fake_engine_payload(f->a.e, "ok"), "{\"fine\":1}");
	assert_null(ds_fake_engine_payload(f->a.e, "tampered"));
	/* And what goes up is encoded. */
	assert_int_equal(ds_fake_engine_put(f->a.e, "mine", "{\"m\":1}"), 0);
	sync_ok(&f->a);
	assert_string_equal(ds_fake_server_payload(f->srv, "mine"), "enc:{\"m\":1}");
	fx_free(f);
}

static void test_page_failing_integrity_aborts_and_keeps_cursor(void **state)
{
	struct fx *f = fx_new(NULL);
	char cur[DS_CURSOR_MAX], ep[DS_CURSOR_MAX];
	struct ds_run_stats st;

	DS_UNUSED(state);
	server_put_n(f->srv, "r", 2);
	sync_ok(&f->a);
	assert_int_equal(ds_fake_engine_put(f->a.e, "local", "{}"), 0);
	assert_int_equal(ds_fake_server_del(f->srv, "r1"), 0);
	assert_int_equal(ds_fake_server_put(f->srv, "bad", "{}"), 0);
	assert_int_equal(ds_fake_server_corrupt(f->srv, "bad"), 0);
	assert_int_equal(ds_fake_device_sync(&f->a, &st), -EBADMSG);
	assert_int_equal(st.result, -EBADMSG);
	assert_non_null(strstr(st.message, "integrity"));
	cursor_of(f, cur, ep);
	assert_string_equal(cur, "2");
	assert_non_null(ds_fake_engine_payload(f->a.e, "r1"));
	/* Nothing uploaded either: the run stopped before. */
	assert_true(ds_fake_engine_is_pending(f->a.e, "local"));
	assert_null(ds_fake_server_payload(f->srv, "local"));
	fx_free(f);
}

static void test_records_refused_by_the_remote_stay_pending(void **state)
{
	struct fx *f = fx_new(NULL);

	DS_UNUSED(state);
	assert_int_equal(ds_fake_remote_refuse(f->a.r, "too-big"), 0);
	assert_int_equal(ds_fake_engine_put(f->a.e, "fine", "{}"), 0);
	assert_int_equal(ds_fake_engine_put(f->a.e, "too-big", "{}"), 0);
	struct ds_run_stats st = sync_ok(&f->a);
	assert_int_equal(st.uploaded, 1);
	assert_int_equal(st.errors, 1);
	assert_true(ds_fake_engine_is_pending(f->a.e, "too-big"));
	assert_string_equal(ds_fake_server_payload(f->srv, "fine"), "{}");
	assert_null(ds_fake_server_payload(f->srv, "too-big"));
	fx_free(f);
}

struct phases {
	bool fetch, apply, upload;
	unsigned long calls;
};

static void on_progress(const char *collection, const char *phase, unsigned long done,
			unsigned long total, void *user_data)
{
	struct phases *p = user_data;

	assert_string_equal(collection, "coll");
	assert_true(total == 0 || done <= total);
	p->calls++;
	if (strcmp(phase, "fetch") == 0)
		p->fetch = true;
	else if (strcmp(phase, "apply") == 0)
		p->apply = true;
	else if (strcmp(phase, "upload") == 0)
		p->upload = true;
	else
		fail_msg("unknown phase %s", phase);
}

static void test_progress_reports_each_phase(void **state)
{
	struct fx *f = fx_new(NULL);
	struct phases p = { 0 };
	struct ds_run_stats st;

	DS_UNUSED(state);
	server_put_n(f->srv, "r", 2);
	assert_int_equal(ds_fake_engine_put(f->a.e, "l", "{}"), 0);
	assert_int_equal(ds_sync_run(f->a.c, f->a.store, &st, on_progress, &p), 0);
	assert_true(p.fetch && p.apply && p.upload);
	assert_true(st.finished_ms >= st.started_ms);
	assert_non_null(strstr(st.message, "fetched 2, applied 2, uploaded 1"));
	fx_free(f);
}

/* ---- failures at each step converge ----------------------------------------------------------- */

/*
 * The scenario: A synced r1..r4; then another client edits r2 and deletes r3, and A edits r1,
 * edits r2 later than the server (a conflict A wins under newest-wins), deletes r4 and creates
 * l1, l2. Pages of 2 records, upload batches of 2, records encoded by the transform.
 */
static const char *const ids[] = { "r1", "r2", "r3", "r4", "l1", "l2", "s1" };

static struct fx *scenario(void)
{
	struct ds_fake_device_opts o = { .transform = true };
	struct fx *f;

	o.policy.conflict = DS_CONFLICT_NEWEST_WINS;
	f = fx_new(&o);
	ds_fake_server_set_page_size(f->srv, 2);
	ds_fake_server_set_max_batch(f->srv, 2);
	for (int i = 1; i <= 4; i++) {
		char id[8], p[32];
		snprintf(id, sizeof(id), "r%d", i);
		snprintf(p, sizeof(p), "enc:{\"r\":%d}", i);
		assert_int_equal(ds_fake_server_put(f->srv, id, p), 0);
	}
	sync_ok(&f->a);
	ds_fake_server_set_time(f->srv, 5000);
	assert_int_equal(ds_fake_server_put(f->srv, "r2", "enc:{\"r\":\"server\"}"), 0);
	assert_int_equal(ds_fake_server_del(f->srv, "r3"), 0);
	assert_int_equal(ds_fake_server_put(f->srv, "s1", "enc:{\"s\":1}"), 0);
	ds_fake_engine_set_time(f->a.e, 90000);
	assert_int_equal(ds_fake_engine_put(f->a.e, "r1", "{\"r\":\"device\"}"), 0);
	assert_int_equal(ds_fake_engine_put(f->a.e, "r2", "{\"r\":\"device\"}"), 0);
	assert_int_equal(ds_fake_engine_del(f->a.e, "r4"), 0);
	assert_int_equal(ds_fake_engine_put(f->a.e, "l1", "{\"l\":1}"), 0);
	assert_int_equal(ds_fake_engine_put(f->a.e, "l2", "{\"l\":2}"), 0);
	return f;
}

/* What every path must end in (the server holds the encoded form). */
static void assert_scenario_converged(struct fx *f)
{
	static const char *const want[] = {
		"{\"r\":\"device\"}", "{\"r\":\"device\"}", NULL, NULL, "{\"l\":1}", "{\"l\":2}",
		"{\"s\":1}",
	};

	for (size_t i = 0; i < DS_ARRAY_SIZE(ids); i++) {
		const char *dev = ds_fake_engine_payload(f->a.e, ids[i]);
		const char *srv = ds_fake_server_payload(f->srv, ids[i]);
		if (!want[i]) {
			assert_null(dev);
			assert_null(srv);
			continue;
		}
		if (!dev || strcmp(dev, want[i]) != 0)
			fail_msg("%s on the device: %s, want %s", ids[i], dev ? dev : "(none)", want[i]);
		assert_non_null(srv);
		assert_string_equal(srv + 4, want[i]);
	}
	assert_int_equal(ds_fake_engine_rows(f->a.e), 5);
	assert_int_equal(ds_fake_server_count(f->srv), 5);
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	/* No duplicate: each new record was written once, even when a reply was lost. */
	assert_int_equal(ds_fake_server_versions(f->srv, "l1"), 1);
	assert_int_equal(ds_fake_server_versions(f->srv, "l2"), 1);
}

static void test_scenario_converges_without_failures(void **state)
{
	struct fx *f = scenario();

	DS_UNUSED(state);
	struct ds_run_stats st = sync_ok(&f->a);
	assert_int_equal(st.conflicts, 1);
	assert_scenario_converged(f);
	fx_free(f);
}

struct step {
	const char *name;
	bool remote;
	int op;
	unsigned long nth;
	int err;
	bool after_upload;
};

static void test_failure_at_each_step_converges_next_run(void **state)
{
	static const struct step steps[] = {
		{ "prepare remote", true, DS_FAKE_REMOTE_PREPARE, 1, -EHOSTUNREACH, false },
		{ "first fetch", true, DS_FAKE_REMOTE_FETCH, 1, -ETIMEDOUT, false },
		{ "second fetch", true, DS_FAKE_REMOTE_FETCH, 2, -ECONNRESET, false },
		{ "prepare engine", false, DS_FAKE_ENGINE_PREPARE, 1, -EIO, false },
		{ "begin", false, DS_FAKE_ENGINE_BEGIN, 1, -EBUSY, false },
		{ "list changes", false, DS_FAKE_ENGINE_CHANGES, 1, -EIO, false },
		{ "read local", false, DS_FAKE_ENGINE_GET, 2, -EIO, false },
		{ "look up a pending change", false, DS_FAKE_ENGINE_PENDING, 2, -EIO, false },
		{ "look up, second page", false, DS_FAKE_ENGINE_PENDING, 3, -EIO, false },
		{ "apply", false, DS_FAKE_ENGINE_APPLY, 1, -ENOSPC, false },
		{ "apply, second page", false, DS_FAKE_ENGINE_APPLY, 2, -ENOSPC, false },
		{ "commit page", false, DS_FAKE_ENGINE_COMMIT, 1, -EIO, false },
		{ "first upload", true, DS_FAKE_REMOTE_UPLOAD, 1, -ETIMEDOUT, false },
		{ "second upload", true, DS_FAKE_REMOTE_UPLOAD, 2, -ETIMEDOUT, false },
		{ "reply of the first upload lost", true, 0, 1, -ETIMEDOUT, true },
		{ "reply of the last upload lost", true, 0, 3, -ECONNRESET, true },
		{ "forget after upload", false, DS_FAKE_ENGINE_FORGET, 1, -EIO, false },
		{ "commit after upload", false, DS_FAKE_ENGINE_COMMIT, 3, -EIO, false },
	};

	DS_UNUSED(state);
	for (size_t i = 0; i < DS_ARRAY_SIZE(steps); i++) {
		const struct step *s = &steps[i];
		struct fx *f = scenario();
		struct ds_run_stats st;

		if (s->after_upload)
			ds_fake_remote_fail_after_upload(f->a.r, s->nth, s->err);
		else if (s->remote)
			ds_fake_remote_fail(f->a.r, (enum ds_fake_remote_op)s->op, s->nth, s->err);
		else
			ds_fake_engine_fail(f->a.e, (enum ds_fake_engine_op)s->op, s->nth, s->err);
		int rc = ds_fake_device_sync(&f->a, &st);
		if (rc != s->err)
			fail_msg("step '%s': run returned %d, want %d", s->name, rc, s->err);
		assert_int_equal(st.result, s->err);
		assert_true(st.message[0] != '\0');
		/* A failed run never loses a local change before it is on the server. */
		for (size_t k = 4; k < 6; k++)
			assert_true(ds_fake_engine_is_pending(f->a.e, ids[k]) ||
				    ds_fake_server_payload(f->srv, ids[k]));
		st = sync_ok(&f->a);
		assert_scenario_converged(f);
		fx_free(f);
	}
}

static void test_allocation_failure_at_each_allocation_of_a_run(void **state)
{
	struct fx *f = scenario();
	unsigned long total;

	DS_UNUSED(state);
	ds_alloc_fail_after(0);
	assert_int_equal(ds_fake_device_sync(&f->a, NULL), 0);
	total = ds_alloc_fail_after(0);
	fx_free(f);
	assert_true(total > 10);

	for (unsigned long k = 1; k <= total; k++) {
		struct ds_run_stats st;

		f = scenario();
		ds_alloc_fail_after(k);
		int rc = ds_fake_device_sync(&f->a, &st);
		ds_alloc_fail_after(0);
		if (rc >= 0)
			fail_msg("allocation %lu of %lu failed but the run returned %d", k, total, rc);
		assert_int_equal(st.result, rc);
		assert_int_equal(ds_fake_device_sync(&f->a, &st), 0);
		assert_scenario_converged(f);
		fx_free(f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cursor_persists_across_runs_and_restarts),
		cmocka_unit_test(test_nothing_to_do_rewrites_one_history_row),
		cmocka_unit_test(test_paged_fetch_resumes_at_the_last_applied_page),
		cmocka_unit_test(test_large_page_is_applied_in_chunks),
		cmocka_unit_test(test_page_cut_between_chunks_converges),
		cmocka_unit_test(test_failed_chunk_rolls_back_alone_and_converges),
		cmocka_unit_test(test_storage_hints_reach_the_remote_through_a_transform),
		cmocka_unit_test(test_upload_goes_in_batches_of_max_batch),
		cmocka_unit_test(test_wiped_remote_is_refused_then_reset_uploads_again),
		cmocka_unit_test(test_replaced_remote_with_other_data_is_refused),
		cmocka_unit_test(test_epochless_remote_found_empty_is_refused),
		cmocka_unit_test(test_undecodable_record_is_counted_and_never_applied),
		cmocka_unit_test(test_page_failing_integrity_aborts_and_keeps_cursor),
		cmocka_unit_test(test_records_refused_by_the_remote_stay_pending),
		cmocka_unit_test(test_progress_reports_each_phase),
		cmocka_unit_test(test_scenario_converges_without_failures),
		cmocka_unit_test(test_failure_at_each_step_converges_next_run),
		cmocka_unit_test(test_allocation_failure_at_each_allocation_of_a_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
