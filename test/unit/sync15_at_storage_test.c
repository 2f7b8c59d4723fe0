/*
 * Sync 1.5 acceptance tests on the storage side (sync15.md §12), one test per rule, named after
 * it, against the in-process storage node (test/support/fake_sync15.h):
 *   AT-06 node reassignment, AT-07 401, AT-08 info/configuration, AT-09 batches, AT-10 failed
 *   ids, AT-11 412 on upload, AT-12 paging, AT-13 backoff, AT-14 meta/global, AT-15 syncIDs and
 *   declined engines, AT-16 the own client record.
 * Requests go through a recording transport (method, path, X-If-Unmodified-Since and body of
 * every request) in front of the fake node, so the tests read what went over the wire.
 * docs/sync15-acceptance.md maps every rule to its test.
 */
#include "core/ds_core.h"
#include "remote/sync15/ds_sync15.h"
#include "sched/ds_sched.h"
#include "store/ds_store.h"
#include "sync/ds_sync.h"
#include "test/support/fake_engine.h"
#include "test/support/fake_remote.h"
#include "test/support/fake_sync15.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const uint8_t KSYNC[64] = { 0x3c, 0x11, [17] = 0x70, [40] = 0x2d, [63] = 0xe1 };
#define COLL "dstest"
#define COLL2 "dsother"
#define DEVICE_ID "f00dfeedf00dfeedf00dfeedf00dfeed"
#define MAX_BODIES 256

/* ---- recording transport -------------------------------------------------------------------- */

struct wire {
	const struct ds_sync15_transport *inner;
	struct ds_sync15_transport t;
	size_t n;
	char *line[MAX_BODIES]; /* "METHOD url-after-host" */
	char *body[MAX_BODIES];
	size_t body_len[MAX_BODIES];
};

static int wire_perform(void *ctx, const struct ds_http_request *req, struct ds_http_response *r)
{
	struct wire *w = ctx;

	if (w->n < MAX_BODIES) {
		const char *u = strstr(req->url, "://");
		u = u ? strchr(u + 3, '/') : NULL;
		w->line[w->n] = ds_asprintf("%s %s", req->method ? req->method : "GET", u ? u : "");
		w->body[w->n] = ds_malloc(req->body_len + 1);
		memcpy(w->body[w->n], req->body ? req->body : "", req->body_len);
		w->body[w->n][req->body_len] = '\0';
		w->body_len[w->n] = req->body_len;
		w->n++;
	}
	return w->inner->perform(w->inner->ctx, req, r);
}

static void wire_clear(struct wire *w)
{
	for (size_t i = 0; i < w->n; i++) {
		ds_free(w->line[i]);
		ds_free(w->body[i]);
	}
	w->n = 0;
}

/* The body of the last request of this method whose line contains needle, or NULL. */
static const char *wire_body(struct wire *w, const char *method, const char *needle)
{
	size_t ml = strlen(method);

	for (size_t i = w->n; i-- > 0;)
		if (!strncmp(w->line[i], method, ml) && w->line[i][ml] == ' ' &&
		    strstr(w->line[i], needle))
			return w->body[i];
	return NULL;
}

/* ---- devices -------------------------------------------------------------------------------- */

struct dev {
	struct ds_store *store;
	struct ds_collection *c, *c2;
	struct ds_engine *e, *e2;
	struct ds_remote *r, *r2;
	struct ds_sync15_global g;
	char path[600];
};

struct fx {
	struct ds_fake_sync15 *srv;
	struct wire w;
	struct dev a, b;
	struct ds_sync15_client *c; /* for the request-level tests */
	struct ds_sync15_limits l;
	char dir[512];
};

static unsigned seq;

static int test_device(struct ds_sync15_device *out)
{
	snprintf(out->id, sizeof(out->id), "%s", DEVICE_ID);
	snprintf(out->name, sizeof(out->name), "Living room TV");
	snprintf(out->type, sizeof(out->type), "tv");
	return 0;
}

static void coll_open(struct fx *f, struct dev *d, const char *name, unsigned page, bool device,
		      struct ds_engine **e, struct ds_remote **r, struct ds_collection **c)
{
	struct ds_sync15_remote_config rc = { .collection = name, .engine_version = 1,
					      .page_records = page };
	struct ds_policy p = { .direction = DS_DIR_TWO_WAY, .conflict = DS_CONFLICT_SERVER_WINS,
			       .max_retries = 3 };

	rc.auth = ds_fake_sync15_auth(f->srv);
	rc.transport = &f->w.t;
	rc.global = &d->g;
	rc.device = device ? test_device : NULL;
	assert_int_equal(ds_fake_engine_new(false, e), 0);
	assert_int_equal(ds_sync15_remote_new(&rc, r), 0);
	assert_int_equal(ds_fake_collection_new(name, *e, *r, NULL, &p, c), 0);
}

static void dev_open(struct fx *f, struct dev *d, unsigned page, bool device)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->path, sizeof(d->path), "%s/at-%d-%u.db", f->dir, (int)getpid(), ++seq);
	assert_int_equal(ds_store_open(d->path, &d->store), 0);
	coll_open(f, d, COLL, page, device, &d->e, &d->r, &d->c);
}

/* The device's second collection, on the same account state. */
static void dev_open_second(struct fx *f, struct dev *d)
{
	coll_open(f, d, COLL2, 0, false, &d->e2, &d->r2, &d->c2);
}

static void dev_close(struct dev *d)
{
	if (!d->c)
		return;
	ds_fake_collection_free(d->c);
	if (d->c2)
		ds_fake_collection_free(d->c2);
	ds_store_close(d->store);
	ds_sync15_global_clear(&d->g);
	unlink(d->path);
	memset(d, 0, sizeof(*d));
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *t = getenv("DS_TEST_TMP");
	struct ds_sync15_client_config cc = { 0 };

	assert_non_null(f);
	if (t && *t)
		snprintf(f->dir, sizeof(f->dir), "%s", t);
	else {
		snprintf(f->dir, sizeof(f->dir), "%s/ds-at-XXXXXX", P_tmpdir);
		assert_non_null(mkdtemp(f->dir));
	}
	f->srv = ds_fake_sync15_new(KSYNC);
	f->w.inner = ds_fake_sync15_transport(f->srv);
	f->w.t.perform = wire_perform;
	f->w.t.ctx = &f->w;
	cc.auth = ds_fake_sync15_auth(f->srv);
	cc.transport = &f->w.t;
	assert_int_equal(ds_sync15_client_new(&cc, &f->c), 0);
	dev_open(f, &f->a, 0, false);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	dev_close(&f->a);
	dev_close(&f->b);
	ds_sync15_client_free(f->c);
	wire_clear(&f->w);
	ds_fake_sync15_free(f->srv);
	free(f);
	return 0;
}

static int run_coll(struct dev *d, struct ds_collection *c, struct ds_run_stats *st)
{
	struct ds_run_stats local;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	return ds_sync_run(c, d->store, st, NULL, NULL);
}

static int dev_sync(struct dev *d, struct ds_run_stats *st)
{
	return run_coll(d, d->c, st);
}

static void sync_ok(struct dev *d)
{
	struct ds_run_stats st;
	int rc = dev_sync(d, &st);

	if (rc)
		fail_msg("run failed: %d %s / %s", rc, st.message, ds_sync15_remote_error(d->r));
}

static void cursor_of(struct dev *d, const char *name, char *cursor, char *epoch)
{
	assert_int_equal(ds_store_cursor_get(d->store, name, cursor, DS_CURSOR_MAX, epoch,
					     DS_CURSOR_MAX), 0);
}

/* Another client's record: encrypted under the keys the server holds now. */
static void other_client_put(struct fx *f, const char *coll, const char *id, const char *clear)
{
	struct ds_sync15_keybundle sync_kb;
	struct ds_sync15_keyring kr;
	char *payload;

	ds_sync15_keybundle_from_ksync(KSYNC, &sync_kb);
	assert_int_equal(ds_sync15_keyring_decrypt(&sync_kb,
						   ds_fake_sync15_payload(f->srv, "crypto", "keys"), &kr), 0);
	assert_int_equal(ds_sync15_encrypt(ds_sync15_keyring_get(&kr, coll), clear, strlen(clear),
					   NULL, &payload), 0);
	ds_fake_sync15_put(f->srv, coll, id, payload);
	ds_free(payload);
	ds_sync15_keyring_clear(&kr);
	ds_sync15_keybundle_wipe(&sync_kb);
}

/* Another client rewrites meta/global through edit(). */
static void other_client_edit_meta(struct fx *f, void (*edit)(cJSON *m))
{
	cJSON *m = cJSON_Parse(ds_fake_sync15_payload(f->srv, "meta", "global"));
	char *s;

	assert_non_null(m);
	edit(m);
	s = cJSON_PrintUnformatted(m);
	ds_fake_sync15_put(f->srv, "meta", "global", s);
	cJSON_free(s);
	cJSON_Delete(m);
}

static size_t count_lines(struct fx *f, const char *prefix)
{
	return ds_fake_sync15_count_requests(f->srv, prefix);
}

/* The first "GET storage/<coll>?..." of the log (the collection's download), or NULL. */
static const char *first_get_of(struct fx *f, const char *coll)
{
	char prefix[96];
	const char *l;

	snprintf(prefix, sizeof(prefix), "GET storage/%s?", coll);
	for (size_t i = 0; (l = ds_fake_sync15_request_line(f->srv, i)); i++)
		if (!strncmp(l, prefix, strlen(prefix)))
			return l;
	return NULL;
}

static const char *xius_of(struct fx *f, const char *prefix)
{
	const char *l;

	for (size_t i = 0; (l = ds_fake_sync15_request_line(f->srv, i)); i++)
		if (!strncmp(l, prefix, strlen(prefix)))
			return ds_fake_sync15_request_xius(f->srv, i);
	return NULL;
}

/* ---- AT-06 ---------------------------------------------------------------------------------- */

/* AT-06: the account moves to another node (401 at the old one, a token naming a new
 * api_endpoint): the cached setup is dropped, the new node is set up from scratch, the
 * collection's sync state starts over there (epoch with the new node), the device's data is
 * uploaded there, and a second device at the new node reads it. */
static void test_at06_new_endpoint_resets_sync_state_and_reruns_setup(void **state)
{
	struct fx *f = *state;
	char c0[DS_CURSOR_MAX], e0[DS_CURSOR_MAX], c1[DS_CURSOR_MAX], e1[DS_CURSOR_MAX];

	ds_fake_engine_put(f->a.e, "keep", "{\"v\":1}");
	sync_ok(&f->a);
	cursor_of(&f->a, COLL, c0, e0);
	ds_fake_sync15_move_node(f->srv);
	ds_fake_sync15_clear_log(f->srv);
	sync_ok(&f->a);
	/* setup again at the new node: meta/global read, a new user created there */
	assert_true(count_lines(f, "GET storage/meta/global") >= 1);
	assert_int_equal(count_lines(f, "DELETE "), 1);
	assert_string_equal(xius_of(f, "PUT storage/meta/global"), "0");
	assert_string_equal(xius_of(f, "PUT storage/crypto/keys"), "0");
	assert_non_null(ds_fake_sync15_payload(f->srv, COLL, "keep"));
	cursor_of(&f->a, COLL, c1, e1);
	assert_true(strncmp(e0, e1, 9) != 0); /* another node tag */
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);

	dev_open(f, &f->b, 0, false);
	sync_ok(&f->b);
	assert_non_null(ds_fake_engine_payload(f->b.e, "keep"));
	assert_non_null(strstr(ds_fake_engine_payload(f->b.e, "keep"), "\"v\":1"));
}

/* ---- AT-07 ---------------------------------------------------------------------------------- */

/* AT-07: a storage 401 costs one new token and one retry of the same request. */
static void test_at07_storage_401_gets_one_new_token_and_retries(void **state)
{
	struct fx *f = *state;
	cJSON *info = NULL;

	ds_fake_sync15_set_config(f->srv, NULL);
	assert_int_equal(ds_sync15_get_info_collections(f->c, &info), 0);
	cJSON_Delete(info);
	ds_fake_sync15_expire_tokens(f->srv);
	ds_fake_sync15_clear_log(f->srv);
	assert_int_equal(ds_sync15_get_info_collections(f->c, &info), 0);
	cJSON_Delete(info);
	assert_int_equal(ds_fake_sync15_request_total(f->srv), 2);
	assert_string_equal(ds_fake_sync15_request_line(f->srv, 0), "GET info/collections");
	assert_string_equal(ds_fake_sync15_request_line(f->srv, 1), "GET info/collections");
	assert_int_equal(ds_sync15_client_backoff_s(f->c), 0);
}

/* AT-07: a second 401 in a row (after the new token) stops the run and backs off 15 min (DESK
 * MINIMUM_BACKOFF_INTERVAL); the next run inside that time sends nothing. */
static void test_at07_second_401_backs_off_15_min(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;

	sync_ok(&f->a);
	ds_fake_sync15_refuse_tokens(f->srv, true);
	ds_fake_sync15_clear_log(f->srv);
	assert_int_equal(dev_sync(&f->a, &st), -EACCES);
	assert_int_equal(ds_fake_sync15_request_total(f->srv), 2);
	assert_true(f->a.r->ops->backoff_s(f->a.r) >= 15 * 60);
	ds_fake_sync15_refuse_tokens(f->srv, false);
	ds_fake_sync15_clear_log(f->srv);
	assert_int_equal(dev_sync(&f->a, &st), -EAGAIN);
	assert_int_equal(ds_fake_sync15_request_total(f->srv), 0);
}

/* ---- AT-08 ---------------------------------------------------------------------------------- */

/* AT-08: info/configuration 404 -> request 260 KiB, record payload 256 KiB (AS defaults). */
static void test_at08_configuration_404_gives_260k_request_256k_payload(void **state)
{
	struct fx *f = *state;
	struct ds_sync15_limits l;

	ds_fake_sync15_set_config(f->srv, NULL);
	assert_int_equal(ds_sync15_get_limits(f->c, &l), 0);
	assert_int_equal(l.max_request_bytes, 260 * 1024);
	assert_int_equal(l.max_record_payload_bytes, 256 * 1024);
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "GET info/configuration"), 1);
}

static int upload_to(struct fx *f, const char *coll, size_t n, size_t plen,
		     struct ds_sync15_upload_stats *st)
{
	struct ds_sync15_post_queue *q;
	char *payload = ds_malloc(plen + 1);
	int rc = 0;

	memset(payload, 'p', plen);
	payload[plen] = '\0';
	assert_int_equal(ds_sync15_post_queue_new(f->c, coll, &f->l, 0, &q), 0);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		char id[32], *bso;
		snprintf(id, sizeof(id), "r%02zu", i);
		bso = ds_sync15_bso_to_json(id, payload, NULL, 0);
		rc = ds_sync15_post_queue_add(q, id, bso, plen);
		ds_free(bso);
	}
	if (rc == 0)
		rc = ds_sync15_post_queue_flush(q);
	*st = *ds_sync15_post_queue_stats(q);
	ds_sync15_post_queue_free(q);
	ds_free(payload);
	return rc;
}

static int upload(struct fx *f, size_t n, size_t plen, struct ds_sync15_upload_stats *st)
{
	return upload_to(f, "coll", n, plen, st);
}

static void limits(struct fx *f, const char *json)
{
	ds_fake_sync15_set_config(f->srv, json);
	assert_int_equal(ds_sync15_get_limits(f->c, &f->l), 0);
	ds_fake_sync15_clear_log(f->srv);
	wire_clear(&f->w);
}

/* Payload bytes and whole bodies of the POSTs recorded on the wire. */
static void post_sizes(struct fx *f, size_t *posts, size_t *max_payload, size_t *max_body)
{
	*posts = *max_payload = *max_body = 0;
	for (size_t i = 0; i < f->w.n; i++) {
		cJSON *list, *it;
		size_t sum = 0;

		if (strncmp(f->w.line[i], "POST ", 5))
			continue;
		(*posts)++;
		list = cJSON_Parse(f->w.body[i]);
		assert_true(cJSON_IsArray(list));
		cJSON_ArrayForEach(it, list)
			sum += strlen(cJSON_GetStringValue(cJSON_GetObjectItem(it, "payload")));
		cJSON_Delete(list);
		if (sum > *max_payload)
			*max_payload = sum;
		if (f->w.body_len[i] > *max_body)
			*max_body = f->w.body_len[i];
	}
}

/* AT-08: max_post_bytes counts payload lengths only, max_request_bytes the whole body; each
 * POST stays within both and no more POSTs are sent than the limits need. */
static void test_at08_posts_sized_by_payload_bytes_and_request_bytes(void **state)
{
	struct fx *f = *state;
	struct ds_sync15_upload_stats st;
	size_t posts, maxp, maxb;

	/* 10 payloads of 100 bytes, 250 payload bytes per POST: 2 per POST, 5 POSTs, although a
	 * body of 3 records (~ 3 x 125 bytes) would fit the request limit. */
	limits(f, "{\"max_post_bytes\":250,\"max_request_bytes\":100000}");
	assert_int_equal(upload(f, 10, 100, &st), 0);
	post_sizes(f, &posts, &maxp, &maxb);
	assert_int_equal(posts, 5);
	assert_true(maxp <= 250);
	assert_int_equal(st.accepted, 10);

	/* The request limit counts the JSON around the payloads too: 300 bytes of body hold two
	 * records of 100 payload bytes (each BSO ~ 125 bytes with id and quotes), not three. */
	limits(f, "{\"max_post_bytes\":100000,\"max_request_bytes\":300}");
	assert_int_equal(upload_to(f, "coll2", 10, 100, &st), 0);
	post_sizes(f, &posts, &maxp, &maxb);
	assert_true(maxb <= 300);
	assert_true(maxp <= 200);
	assert_int_equal(posts, 5);
	assert_int_equal(st.accepted, 10);
}

/* ---- AT-09 ---------------------------------------------------------------------------------- */

/* AT-09: the 202's batch id (here "b{1}") is reused URL-encoded on every later POST of the
 * batch, and the last POST commits it. */
static void test_at09_batch_id_reused_url_encoded_commit_on_last_post(void **state)
{
	struct fx *f = *state;
	struct ds_sync15_upload_stats st;

	limits(f, "{\"max_post_records\":2}");
	assert_int_equal(upload(f, 5, 10, &st), 0);
	assert_int_equal(ds_fake_sync15_request_total(f->srv), 3);
	assert_string_equal(ds_fake_sync15_request_line(f->srv, 0), "POST storage/coll?batch=true");
	assert_string_equal(ds_fake_sync15_request_line(f->srv, 1), "POST storage/coll?batch=b%7B1%7D");
	assert_string_equal(ds_fake_sync15_request_line(f->srv, 2),
			    "POST storage/coll?batch=b%7B1%7D&commit=true");
	assert_int_equal(st.commits, 1);
	assert_int_equal(ds_fake_sync15_count(f->srv, "coll"), 5);
}

/* AT-09: a 202 that names no batch is an error; nothing gets committed. */
static void test_at09_202_without_batch_id_is_an_error(void **state)
{
	struct fx *f = *state;
	struct ds_sync15_upload_stats st;

	limits(f, "{\"max_post_records\":1}");
	ds_fake_sync15_inject(f->srv, "POST", "storage/coll", 202, NULL,
			      "{\"success\":[\"r00\"],\"failed\":{}}", 1);
	assert_int_equal(upload(f, 2, 5, &st), -EPROTO);
	assert_int_equal(st.accepted, 0);
	assert_int_equal(count_lines(f, "POST storage/coll?batch=true&commit=true"), 0);
	assert_int_equal(ds_fake_sync15_count(f->srv, "coll"), 0);
}

/* AT-09: 200 to the first batch=true POST: the server has no batching, later POSTs go without
 * batch parameters, each committing on its own. */
static void test_at09_200_on_first_post_means_no_batching(void **state)
{
	struct fx *f = *state;
	struct ds_sync15_upload_stats st;

	limits(f, "{\"max_post_records\":2}");
	ds_fake_sync15_set_batching(f->srv, false);
	assert_int_equal(upload(f, 5, 5, &st), 0);
	assert_int_equal(ds_fake_sync15_request_total(f->srv), 3);
	assert_string_equal(ds_fake_sync15_request_line(f->srv, 0), "POST storage/coll?batch=true");
	assert_string_equal(ds_fake_sync15_request_line(f->srv, 1), "POST storage/coll");
	assert_string_equal(ds_fake_sync15_request_line(f->srv, 2), "POST storage/coll");
	assert_int_equal(st.accepted, 5);
	assert_int_equal(ds_fake_sync15_count(f->srv, "coll"), 5);
}

/* AT-09: 400 with weave code 17 (a size or count limit) stops the upload with -EMSGSIZE, and a
 * run keeps its records pending. */
static void test_at09_400_code_17_stops_with_emsgsize_records_kept(void **state)
{
	struct fx *f = *state;
	struct ds_sync15_upload_stats st;
	struct ds_run_stats rs;

	limits(f, NULL);
	ds_fake_sync15_inject(f->srv, "POST", "storage/coll", 400, NULL, "17", 1);
	assert_int_equal(upload(f, 3, 5, &st), -EMSGSIZE);
	assert_int_equal(st.accepted, 0);

	sync_ok(&f->a);
	ds_fake_engine_put(f->a.e, "x1", "{\"v\":1}");
	ds_fake_sync15_inject(f->srv, "POST", "storage/" COLL, 400, NULL, "17", 1);
	assert_true(dev_sync(&f->a, &rs) < 0);
	assert_true(ds_fake_engine_is_pending(f->a.e, "x1"));
	sync_ok(&f->a);
	assert_false(ds_fake_engine_is_pending(f->a.e, "x1"));
	assert_non_null(ds_fake_sync15_payload(f->srv, COLL, "x1"));
}

/* ---- AT-10 ---------------------------------------------------------------------------------- */

/* AT-10: ids in "failed" and ids in neither list are failures: they stay pending, and the
 * collection's last-sync does not move past the failed upload. */
static void test_at10_failed_and_unlisted_ids_fail_last_sync_kept(void **state)
{
	struct fx *f = *state;
	char c0[DS_CURSOR_MAX], e0[DS_CURSOR_MAX], c1[DS_CURSOR_MAX], e1[DS_CURSOR_MAX];
	struct ds_run_stats st;

	ds_fake_engine_put(f->a.e, "seed", "{\"v\":0}");
	sync_ok(&f->a);
	cursor_of(&f->a, COLL, c0, e0);
	ds_fake_engine_put(f->a.e, "ok1", "{\"v\":1}");
	ds_fake_engine_put(f->a.e, "bad", "{\"v\":2}");
	ds_fake_engine_put(f->a.e, "lost", "{\"v\":3}");
	ds_fake_sync15_inject(f->srv, "POST", "storage/" COLL, 200,
			      "X-Last-Modified: 1800000000.5\n",
			      "{\"modified\":1800000000.5,\"success\":[\"ok1\"],"
			      "\"failed\":{\"bad\":\"invalid\"}}", 1);
	(void)dev_sync(&f->a, &st);
	assert_true(st.errors > 0 || st.message[0]);
	assert_true(ds_fake_engine_is_pending(f->a.e, "bad"));
	assert_true(ds_fake_engine_is_pending(f->a.e, "lost"));
	cursor_of(&f->a, COLL, c1, e1);
	assert_string_equal(c1, c0);
	/* The next run uploads what failed. */
	sync_ok(&f->a);
	assert_non_null(ds_fake_sync15_payload(f->srv, COLL, "bad"));
	assert_non_null(ds_fake_sync15_payload(f->srv, COLL, "lost"));
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
}

/* ---- AT-11 ---------------------------------------------------------------------------------- */

struct race {
	struct fx *f;
	const char *when;
	int times;
};

static void concurrent_writer(struct ds_fake_sync15 *s, const char *method, const char *path,
			      unsigned long nth, void *ud)
{
	struct race *r = ud;
	char line[600];

	(void)s, (void)nth;
	snprintf(line, sizeof(line), "%s %s", method, path);
	if (r->times > 0 && !strncmp(line, r->when, strlen(r->when))) {
		r->times--;
		other_client_put(r->f, COLL, "theirs", "{\"id\":\"theirs\",\"v\":\"racing\"}");
	}
}

/* AT-11: another client writes between our download and our upload: the upload gets 412, the
 * collection is downloaded again, merged, and uploaded; no local change is lost. */
static void test_at11_412_on_upload_redownloads_and_loses_nothing(void **state)
{
	struct fx *f = *state;
	struct race r = { f, "POST storage/" COLL, 1 };
	struct ds_run_stats st;

	sync_ok(&f->a);
	ds_fake_engine_put(f->a.e, "mine", "{\"v\":\"local\"}");
	ds_fake_sync15_set_hook(f->srv, concurrent_writer, &r);
	ds_fake_sync15_clear_log(f->srv);
	(void)dev_sync(&f->a, &st);
	ds_fake_sync15_set_hook(f->srv, NULL, NULL);
	/* one refused POST, then a second download that got "theirs" */
	assert_true(count_lines(f, "GET storage/" COLL) >= 1);
	if (ds_fake_engine_is_pending(f->a.e, "mine"))
		sync_ok(&f->a); /* "retry next sync" */
	assert_non_null(ds_fake_engine_payload(f->a.e, "theirs"));
	assert_non_null(ds_fake_sync15_payload(f->srv, COLL, "mine"));
	assert_non_null(ds_fake_sync15_payload(f->srv, COLL, "theirs"));
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
}

/* ---- AT-12 ---------------------------------------------------------------------------------- */

static void put_many(struct fx *f, char prefix, int from, int to)
{
	for (int i = from; i < to; i++) {
		char id[16], clear[64];
		snprintf(id, sizeof(id), "%c%02d", prefix, i);
		snprintf(clear, sizeof(clear), "{\"id\":\"%s\",\"n\":%d}", id, i);
		other_client_put(f, COLL, id, clear);
	}
}

/* AT-12: pages of `limit` records follow X-Weave-Next-Offset with the same parameters and
 * X-If-Unmodified-Since = the first page's X-Last-Modified. */
static void test_at12_paging_same_params_offset_and_xius(void **state)
{
	struct fx *f = *state;
	char lm[DS_SYNC15_TS_MAX], first[600] = "";
	size_t pages = 0;

	sync_ok(&f->a);
	put_many(f, 'p', 0, 25);
	ds_sync15_ts_format(ds_fake_sync15_coll_ts(f->srv, COLL), lm);
	dev_close(&f->a);
	dev_open(f, &f->a, 10, false);
	ds_fake_sync15_clear_log(f->srv);
	sync_ok(&f->a);
	assert_int_equal(ds_fake_engine_rows(f->a.e), 25);
	for (size_t i = 0; i < ds_fake_sync15_request_total(f->srv); i++) {
		const char *l = ds_fake_sync15_request_line(f->srv, i);
		char base[600];

		if (strncmp(l, "GET storage/" COLL "?", strlen("GET storage/" COLL "?")))
			continue;
		snprintf(base, sizeof(base), "%s", l);
		if (strstr(base, "&offset="))
			*strstr(base, "&offset=") = '\0';
		assert_non_null(strstr(l, "limit=10"));
		if (pages == 0) {
			snprintf(first, sizeof(first), "%s", l);
			assert_null(strstr(l, "offset="));
			assert_string_equal(ds_fake_sync15_request_xius(f->srv, i), "");
		} else {
			assert_string_equal(base, first); /* same parameters */
			assert_non_null(strstr(l, "&offset="));
			assert_string_equal(ds_fake_sync15_request_xius(f->srv, i), lm);
		}
		pages++;
	}
	assert_int_equal(pages, 3);
}

/* AT-12: a 412 in the middle of paging discards the download and keeps the old last-sync. A
 * collection that changes before every follow-up page (another client writing all the time)
 * ends the run after a bounded number of restarts (DESK aborts at the first, the remote's
 * documented rule restarts once) with the old last-sync; the next run gets everything. */
static void test_at12_412_mid_paging_keeps_old_last_sync(void **state)
{
	struct fx *f = *state;
	char c0[DS_CURSOR_MAX], e0[DS_CURSOR_MAX], c1[DS_CURSOR_MAX], e1[DS_CURSOR_MAX];
	char when[300];
	struct race r = { f, when, 100 };
	struct ds_run_stats st;

	dev_close(&f->a);
	dev_open(f, &f->a, 10, false);
	sync_ok(&f->a);
	put_many(f, 'q', 0, 5);
	sync_ok(&f->a);
	cursor_of(&f->a, COLL, c0, e0);
	put_many(f, 'q', 5, 30);
	/* another client writes before every follow-up page: each one gets 412 */
	snprintf(when, sizeof(when),
		 "GET storage/" COLL "?full=1&sort=oldest&limit=10&newer=%s&offset=", c0);
	ds_fake_sync15_set_hook(f->srv, concurrent_writer, &r);
	assert_true(dev_sync(&f->a, &st) < 0);
	ds_fake_sync15_set_hook(f->srv, NULL, NULL);
	assert_true(100 - r.times >= 1);
	assert_true(100 - r.times <= 2);
	cursor_of(&f->a, COLL, c1, e1);
	assert_string_equal(c1, c0);
	sync_ok(&f->a);
	assert_int_equal(ds_fake_engine_rows(f->a.e), 31);
	assert_non_null(ds_fake_engine_payload(f->a.e, "theirs"));
}

/* ---- AT-13 ---------------------------------------------------------------------------------- */

/* AT-13: X-Weave-Backoff on 200 answers: the current collection finishes its work (its records
 * are uploaded), and the backoff is handed on; the scheduler then starts nothing on that
 * server before N s, while a person's request may go ahead (a soft backoff). */
static void test_at13_backoff_on_200_finishes_engine_then_waits(void **state)
{
	struct fx *f = *state;
	struct ds_sched_config cfg;
	struct ds_sched_policy p;
	struct ds_sched_batch b;
	struct ds_sched *s;
	char why[128];
	int64_t t0 = INT64_C(1767225600000), backoff;

	sync_ok(&f->a);
	ds_fake_engine_put(f->a.e, "u1", "{\"v\":1}");
	ds_fake_engine_put(f->a.e, "u2", "{\"v\":2}");
	ds_fake_sync15_always_header(f->srv, "X-Weave-Backoff", "600");
	sync_ok(&f->a);
	ds_fake_sync15_always_header(f->srv, "X-Weave-Backoff", NULL);
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	assert_non_null(ds_fake_sync15_payload(f->srv, COLL, "u2"));
	backoff = f->a.r->ops->backoff_s(f->a.r);
	assert_int_equal(backoff, 600);

	ds_sched_config_defaults(&cfg);
	ds_sched_policy_defaults(&p);
	p.interval_s = 3600;
	assert_int_equal(ds_sched_new(&cfg, &s), 0);
	assert_int_equal(ds_sched_add(s, COLL, COLL, "account", &p, false, t0), 0);
	assert_int_equal(ds_sched_add(s, COLL2, COLL2, "account", &p, false, t0), 0);
	ds_sched_server_backoff(s, "account", DS_SCHED_BACKOFF_SOFT, backoff, t0);
	assert_int_equal(ds_sched_poll(s, t0 + 1000, &b), 0);
	assert_int_equal(ds_sched_poll(s, t0 + 599 * 1000, &b), 0);
	assert_true(ds_sched_next_wake(s, t0) >= t0 + 600 * 1000);
	assert_int_equal(ds_sched_user_request(s, COLL, t0 + 2000, why, sizeof(why)), 0);
	assert_int_equal(ds_sched_done(s, COLL, 0, t0 + 3000), 0);
	assert_true(ds_sched_poll(s, t0 + 601 * 1000, &b) >= 1);
	ds_sched_free(s);
}

/* AT-13: 503 with Retry-After stops the run at once (no further request) and sets a hard
 * backoff that even a person's request respects. */
static void test_at13_503_retry_after_stops_user_sync_too(void **state)
{
	struct fx *f = *state;
	struct ds_sched_config cfg;
	struct ds_sched_policy p;
	struct ds_sched *s;
	struct ds_run_stats st;
	char why[128];
	int64_t t0 = INT64_C(1767225600000);

	sync_ok(&f->a);
	ds_fake_engine_put(f->a.e, "w1", "{\"v\":1}");
	ds_fake_sync15_inject(f->srv, NULL, "info/collections", 503, "Retry-After: 1200\n", "", 1);
	ds_fake_sync15_clear_log(f->srv);
	assert_int_equal(dev_sync(&f->a, &st), -EAGAIN);
	assert_int_equal(ds_fake_sync15_request_total(f->srv), 1);
	assert_int_equal(f->a.r->ops->backoff_s(f->a.r), 1200);
	assert_true(ds_fake_engine_is_pending(f->a.e, "w1"));

	ds_sched_config_defaults(&cfg);
	ds_sched_policy_defaults(&p);
	assert_int_equal(ds_sched_new(&cfg, &s), 0);
	assert_int_equal(ds_sched_add(s, COLL, COLL, "account", &p, false, t0), 0);
	ds_sched_server_backoff(s, "account", DS_SCHED_BACKOFF_HARD, 1200, t0);
	assert_int_equal(ds_sched_user_request(s, COLL, t0 + 1000, why, sizeof(why)), -EAGAIN);
	assert_int_equal(ds_sched_user_request(s, COLL, t0 + 1201 * 1000, why, sizeof(why)), 0);
	ds_sched_free(s);
}

/* ---- AT-14 ---------------------------------------------------------------------------------- */

/* AT-14: no meta/global: fresh start, DELETE of the storage, then meta/global (storage version
 * 5, every default engine) and crypto/keys, both PUT with X-If-Unmodified-Since: 0. */
static void test_at14_missing_meta_global_fresh_start_with_xius_0(void **state)
{
	struct fx *f = *state;
	const char *body;
	cJSON *bso, *meta, *engines;

	ds_fake_sync15_clear_log(f->srv);
	sync_ok(&f->a);
	assert_int_equal(count_lines(f, "DELETE "), 1);
	assert_string_equal(xius_of(f, "PUT storage/meta/global"), "0");
	assert_string_equal(xius_of(f, "PUT storage/crypto/keys"), "0");
	body = wire_body(&f->w, "PUT", "storage/meta/global");
	assert_non_null(body);
	bso = cJSON_Parse(body);
	meta = cJSON_Parse(cJSON_GetStringValue(cJSON_GetObjectItem(bso, "payload")));
	assert_non_null(meta);
	assert_int_equal(cJSON_GetObjectItem(meta, "storageVersion")->valueint, 5);
	engines = cJSON_GetObjectItem(meta, "engines");
	for (size_t i = 0; ds_sync15_default_engines[i].name; i++)
		assert_non_null(cJSON_GetObjectItem(engines, ds_sync15_default_engines[i].name));
	assert_non_null(cJSON_GetObjectItem(engines, COLL));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(meta, "declined")), 0);
	cJSON_Delete(meta);
	cJSON_Delete(bso);
}

/* AT-14: storage version 6: the run stops with "upgrade" and writes nothing at all. */
static void test_at14_storage_version_6_writes_nothing(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;

	ds_fake_sync15_put(f->srv, "meta", "global",
			   "{\"syncID\":\"abcdefghijkl\",\"storageVersion\":6,\"engines\":{}}");
	ds_fake_engine_put(f->a.e, "x", "{}");
	ds_fake_sync15_clear_log(f->srv);
	assert_int_equal(dev_sync(&f->a, &st), -EPROTONOSUPPORT);
	assert_non_null(strstr(ds_sync15_remote_error(f->a.r), "upgrade"));
	assert_int_equal(count_lines(f, "PUT "), 0);
	assert_int_equal(count_lines(f, "POST "), 0);
	assert_int_equal(count_lines(f, "DELETE "), 0);
	assert_true(ds_fake_engine_is_pending(f->a.e, "x"));
}

/* AT-14: storage version 4: fresh start to version 5. */
static void test_at14_storage_version_4_fresh_start(void **state)
{
	struct fx *f = *state;
	cJSON *m;

	ds_fake_sync15_put(f->srv, "meta", "global",
			   "{\"syncID\":\"abcdefghijkl\",\"storageVersion\":4,\"engines\":{}}");
	ds_fake_sync15_clear_log(f->srv);
	sync_ok(&f->a);
	assert_int_equal(count_lines(f, "DELETE "), 1);
	assert_string_equal(xius_of(f, "PUT storage/meta/global"), "0");
	m = cJSON_Parse(ds_fake_sync15_payload(f->srv, "meta", "global"));
	assert_int_equal(cJSON_GetObjectItem(m, "storageVersion")->valueint, 5);
	assert_string_not_equal(cJSON_GetStringValue(cJSON_GetObjectItem(m, "syncID")),
				"abcdefghijkl");
	cJSON_Delete(m);
}

static void wipe_before_meta_read(struct ds_fake_sync15 *s, const char *method, const char *path,
				  unsigned long nth, void *ud)
{
	(void)nth, (void)ud;
	if (!strcmp(method, "GET") && !strcmp(path, "storage/meta/global"))
		ds_fake_sync15_wipe(s);
}

/* AT-14 (loop guard, AS SetupRace): another client wiping again and again makes one fresh
 * start in the run, then the run stops with -EAGAIN instead of looping. */
static void test_at14_loop_guard_stops_a_second_fresh_start(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;

	ds_fake_sync15_set_hook(f->srv, wipe_before_meta_read, NULL);
	ds_fake_sync15_clear_log(f->srv);
	assert_int_equal(dev_sync(&f->a, &st), -EAGAIN);
	ds_fake_sync15_set_hook(f->srv, NULL, NULL);
	assert_int_equal(count_lines(f, "DELETE "), 1);
	assert_true(count_lines(f, "GET storage/meta/global") <= 4);
	sync_ok(&f->a); /* the race is over: the next run sets up */
}

/* ---- AT-15 ---------------------------------------------------------------------------------- */

static void new_syncid_for_coll(cJSON *m)
{
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "engines"), COLL),
				  "syncID", cJSON_CreateString("resetresetre"));
}

/* AT-15: another client changes the syncID of one engine: that engine is reset (its last-sync
 * dropped, its data kept, everything downloaded again and merged, AS coll_state.rs) and synced in
 * the same run; the device's other engine is untouched (no upload, its last-sync kept). A
 * record the server holds unchanged is merged, not uploaded again; one the server lacks goes up. */
static void test_at15_syncid_change_resets_that_engine_only(void **state)
{
	struct fx *f = *state;
	char c2[DS_CURSOR_MAX], e2[DS_CURSOR_MAX], c2b[DS_CURSOR_MAX], e2b[DS_CURSOR_MAX];
	struct ds_run_stats st;

	dev_open_second(f, &f->a);
	ds_fake_engine_put(f->a.e, "one", "{\"v\":1}");
	ds_fake_engine_put(f->a.e2, "two", "{\"v\":2}");
	sync_ok(&f->a);
	assert_int_equal(run_coll(&f->a, f->a.c2, &st), 0);
	cursor_of(&f->a, COLL2, c2, e2);
	other_client_edit_meta(f, new_syncid_for_coll);
	other_client_put(f, COLL, "from-reset", "{\"id\":\"from-reset\"}");
	ds_fake_sync15_clear_log(f->srv);
	assert_int_equal(run_coll(&f->a, f->a.c, &st), 0);
	assert_non_null(ds_fake_engine_payload(f->a.e, "one"));
	assert_non_null(ds_fake_engine_payload(f->a.e, "from-reset"));
	/* the whole collection read again: the download starts from the beginning */
	assert_true(first_get_of(f, COLL) != NULL);
	assert_null(strstr(first_get_of(f, COLL), "newer="));
	/* merged, nothing to send: "one" is on the server as it is here */
	assert_int_equal(count_lines(f, "POST storage/" COLL), 0);
	assert_non_null(ds_fake_sync15_payload(f->srv, COLL, "one"));
	ds_fake_sync15_clear_log(f->srv);
	assert_int_equal(run_coll(&f->a, f->a.c2, &st), 0);
	assert_int_equal(count_lines(f, "POST "), 0);
	cursor_of(&f->a, COLL2, c2b, e2b);
	assert_string_equal(c2b, c2);
	assert_string_equal(e2b, e2);
}

static void decline_coll(cJSON *m)
{
	cJSON_DeleteItemFromObject(cJSON_GetObjectItem(m, "engines"), COLL);
	cJSON_ReplaceItemInObject(m, "declined", cJSON_CreateStringArray((const char *[]){ COLL }, 1));
}

/* AT-15: an engine declined by another client is skipped: nothing of it is read or written,
 * its local changes stay pending; the other engine syncs on. */
static void test_at15_declined_engine_is_skipped(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;

	dev_open_second(f, &f->a);
	sync_ok(&f->a);
	assert_int_equal(run_coll(&f->a, f->a.c2, &st), 0);
	other_client_edit_meta(f, decline_coll);
	ds_fake_engine_put(f->a.e, "x", "{}");
	ds_fake_engine_put(f->a.e2, "y", "{}");
	ds_fake_sync15_clear_log(f->srv);
	assert_int_equal(dev_sync(&f->a, &st), -ECANCELED);
	assert_non_null(strstr(ds_sync15_remote_error(f->a.r), "declined"));
	assert_int_equal(count_lines(f, "GET storage/" COLL), 0);
	assert_int_equal(count_lines(f, "POST "), 0);
	assert_int_equal(count_lines(f, "PUT "), 0);
	assert_true(ds_fake_engine_is_pending(f->a.e, "x"));
	assert_int_equal(run_coll(&f->a, f->a.c2, &st), 0);
	assert_non_null(ds_fake_sync15_payload(f->srv, COLL2, "y"));
}

/* ---- AT-16 ---------------------------------------------------------------------------------- */

/* AT-16 (the own record; commands belong to the clients engine): this device's record in
 * "clients" has id = the FxA device id, type "tv", fxaDeviceId, and goes up with BSO ttl
 * 15552000 (180 days). */
static void test_at16_own_client_record_id_ttl_and_type_tv(void **state)
{
	struct fx *f = *state;
	const char *body;
	cJSON *bso, *rec;
	char *clear = NULL;
	size_t len;

	dev_close(&f->a);
	dev_open(f, &f->a, 0, true);
	wire_clear(&f->w);
	sync_ok(&f->a);
	body = wire_body(&f->w, "PUT", "/storage/clients/" DEVICE_ID);
	assert_non_null(body);
	bso = cJSON_Parse(body);
	assert_non_null(bso);
	assert_int_equal((long)cJSON_GetNumberValue(cJSON_GetObjectItem(bso, "ttl")), 15552000L);
	assert_int_equal(ds_sync15_decrypt(ds_sync15_keyring_get(&f->a.g.keys, "clients"),
					   cJSON_GetStringValue(cJSON_GetObjectItem(bso, "payload")),
					   &clear, &len), 0);
	rec = cJSON_Parse(clear);
	assert_non_null(rec);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(rec, "id")), DEVICE_ID);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(rec, "fxaDeviceId")), DEVICE_ID);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(rec, "type")), "tv");
	assert_true(cJSON_IsArray(cJSON_GetObjectItem(rec, "commands")));
	cJSON_Delete(rec);
	cJSON_Delete(bso);
	ds_free(clear);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_at06_new_endpoint_resets_sync_state_and_reruns_setup),
		T(test_at07_storage_401_gets_one_new_token_and_retries),
		T(test_at07_second_401_backs_off_15_min),
		T(test_at08_configuration_404_gives_260k_request_256k_payload),
		T(test_at08_posts_sized_by_payload_bytes_and_request_bytes),
		T(test_at09_batch_id_reused_url_encoded_commit_on_last_post),
		T(test_at09_202_without_batch_id_is_an_error),
		T(test_at09_200_on_first_post_means_no_batching),
		T(test_at09_400_code_17_stops_with_emsgsize_records_kept),
		T(test_at10_failed_and_unlisted_ids_fail_last_sync_kept),
		T(test_at11_412_on_upload_redownloads_and_loses_nothing),
		T(test_at12_paging_same_params_offset_and_xius),
		T(test_at12_412_mid_paging_keeps_old_last_sync),
		T(test_at13_backoff_on_200_finishes_engine_then_waits),
		T(test_at13_503_retry_after_stops_user_sync_too),
		T(test_at14_missing_meta_global_fresh_start_with_xius_0),
		T(test_at14_storage_version_6_writes_nothing),
		T(test_at14_storage_version_4_fresh_start),
		T(test_at14_loop_guard_stops_a_second_fresh_start),
		T(test_at15_syncid_change_resets_that_engine_only),
		T(test_at15_declined_engine_is_skipped),
		T(test_at16_own_client_record_id_ttl_and_type_tv),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
