/*
 * Storage protocol pieces of the Sync 1.5 remote (ds_sync15_storage.h), each test named after
 * the rule it checks (DOCS storage/apis-1.5.rst; sync15.md §2, §5, §9):
 *  - info/quota and X-Weave-Quota-Remaining, 400/14 over quota;
 *  - DELETE storage/<coll>?ids= in requests of at most 100 ids, X-If-Unmodified-Since chained;
 *  - X-If-Modified-Since on info/collections: a 304 reuses the last answer;
 *  - the first download of history limited to the newest 5000 (limit + sort), later ones whole;
 *  - the 15 min backoff after a second 401 kept in the metadata store across a restart.
 * Client-level tests answer from a script (what the server says is exactly what the test
 * gives); remote-level ones run against the in-process storage node.
 */
#include "core/ds_core.h"
#include "remote/sync15/ds_remote_sync15.h"
#include "remote/sync15/ds_sync15.h"
#include "remote/sync15/ds_sync15_storage.h"
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

/* ---- a scripted storage node ---------------------------------------------------------------- */

#define MAX_STEPS 16
#define MAX_SEEN 16

struct step {
	int status;
	const char *headers; /* "Name: value\n" lines */
	const char *body;
};

struct seen {
	char method[8];
	char *url;
	char ims[32];
	char xius[32];
};

struct script {
	struct step steps[MAX_STEPS];
	size_t n, next;
	struct seen seen[MAX_SEEN];
	size_t n_seen;
};

static void add_header(struct ds_http_response *r, const char *name, size_t nlen, const char *value)
{
	struct ds_http_header *h = ds_realloc(r->headers, (r->n_headers + 1) * sizeof(*h));
	char *n = ds_malloc(nlen + 1);

	assert_non_null(h);
	assert_non_null(n);
	for (size_t i = 0; i < nlen; i++)
		n[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
	n[nlen] = '\0';
	r->headers = h;
	h[r->n_headers].name = n;
	h[r->n_headers].value = ds_strdup(value);
	r->n_headers++;
}

static int script_perform(void *ctx, const struct ds_http_request *req, struct ds_http_response *r)
{
	struct script *s = ctx;
	const struct step *st;
	struct seen *w;

	assert_true(s->next < s->n);
	assert_true(s->n_seen < MAX_SEEN);
	st = &s->steps[s->next++];
	w = &s->seen[s->n_seen++];
	snprintf(w->method, sizeof(w->method), "%s", req->method);
	w->url = strdup(req->url);
	for (size_t i = 0; i < req->n_headers; i++) {
		if (strcmp(req->headers[i].name, "X-If-Modified-Since") == 0)
			snprintf(w->ims, sizeof(w->ims), "%s", req->headers[i].value);
		if (strcmp(req->headers[i].name, "X-If-Unmodified-Since") == 0)
			snprintf(w->xius, sizeof(w->xius), "%s", req->headers[i].value);
	}
	memset(r, 0, sizeof(*r));
	r->status = st->status;
	add_header(r, "X-Weave-Timestamp", 17, "1700000000.00");
	for (const char *p = st->headers; p && *p;) {
		const char *colon = strchr(p, ':'), *eol = strchr(p, '\n');
		char v[128];

		assert_non_null(colon);
		assert_non_null(eol);
		snprintf(v, sizeof(v), "%.*s", (int)(eol - colon - 2), colon + 2);
		add_header(r, p, (size_t)(colon - p), v);
		p = eol + 1;
	}
	if (st->body) {
		r->body = ds_strdup(st->body);
		r->body_len = strlen(st->body);
	}
	return 0;
}

static int fixed_token(void *ctx, bool fresh, struct ds_sync15_creds *out)
{
	DS_UNUSED(ctx);
	DS_UNUSED(fresh);
	memset(out, 0, sizeof(*out));
	snprintf(out->endpoint, sizeof(out->endpoint), "http://127.0.0.1:9/1.5/42");
	snprintf(out->hawk_id, sizeof(out->hawk_id), "token-id");
	snprintf(out->hawk_key, sizeof(out->hawk_key), "token-key");
	return 0;
}

static int fixed_ksync(void *ctx, uint8_t out[64])
{
	DS_UNUSED(ctx);
	memset(out, 0x5a, 64);
	return 0;
}

static const struct ds_sync15_auth_ops fixed_auth_ops = { .token = fixed_token,
							  .ksync = fixed_ksync };

struct cfx {
	struct script s;
	struct ds_sync15_transport t;
	struct ds_sync15_client *c;
};

static int csetup(void **state)
{
	struct cfx *f = calloc(1, sizeof(*f));
	struct ds_sync15_client_config cc = { 0 };

	f->t.perform = script_perform;
	f->t.ctx = &f->s;
	cc.auth.ops = &fixed_auth_ops;
	cc.transport = &f->t;
	assert_int_equal(ds_sync15_client_new(&cc, &f->c), 0);
	*state = f;
	return 0;
}

static int cteardown(void **state)
{
	struct cfx *f = *state;

	for (size_t i = 0; i < f->s.n_seen; i++)
		free(f->s.seen[i].url);
	ds_sync15_client_free(f->c);
	free(f);
	return 0;
}

static void answer(struct cfx *f, int status, const char *headers, const char *body)
{
	assert_true(f->s.n < MAX_STEPS);
	f->s.steps[f->s.n++] = (struct step){ status, headers, body };
}

/* The path and query of the i-th request, after the endpoint. */
static const char *target(struct cfx *f, size_t i)
{
	const char *u;

	assert_true(i < f->s.n_seen);
	u = strstr(f->s.seen[i].url, "/1.5/42/");
	assert_non_null(u);
	return u + strlen("/1.5/42/");
}

/* ---- quota ---------------------------------------------------------------------------------- */

static void test_info_quota_is_usage_and_quota_or_null(void **state)
{
	struct cfx *f = *state;
	double usage = 0, quota = 0;

	answer(f, 200, NULL, "[2048.5, 4096]");
	answer(f, 200, NULL, "[12.25, null]");
	answer(f, 200, NULL, "{\"usage\": 1}");
	assert_int_equal(ds_sync15_get_quota(f->c, &usage, &quota), 0);
	assert_true(usage == 2048.5 && quota == 4096);
	assert_false(ds_sync15_client_quota_low(f->c));
	assert_int_equal(ds_sync15_get_quota(f->c, &usage, &quota), 0);
	assert_true(usage == 12.25 && quota == -1);
	assert_int_equal(ds_sync15_get_quota(f->c, &usage, &quota), -EPROTO);
	assert_string_equal(target(f, 0), "info/quota");
	assert_string_equal(f->s.seen[0].method, "GET");
}

static void test_info_quota_nearly_full_reports_low_quota(void **state)
{
	struct cfx *f = *state;
	double usage, quota;

	answer(f, 200, NULL, "[4000, 4096]");
	assert_int_equal(ds_sync15_get_quota(f->c, &usage, &quota), 0);
	assert_true(ds_sync15_client_quota_low(f->c));
}

static void test_quota_remaining_header_on_writes_reports_low_quota(void **state)
{
	struct cfx *f = *state;
	struct ds_http_response r;
	double kb = 0;

	assert_false(ds_sync15_client_quota_remaining(f->c, &kb));
	answer(f, 200, "X-Weave-Quota-Remaining: 5000.50\nX-Last-Modified: 1700000000.10\n",
	       "1700000000.10");
	answer(f, 200, "X-Weave-Quota-Remaining: 512.00\nX-Last-Modified: 1700000000.20\n",
	       "1700000000.20");
	assert_int_equal(ds_sync15_request(f->c, "PUT", "storage/c/a", -1, "{}", 2, &r), 0);
	ds_http_response_free(&r);
	assert_true(ds_sync15_client_quota_remaining(f->c, &kb));
	assert_true(kb == 5000.5);
	assert_false(ds_sync15_client_quota_low(f->c));
	assert_int_equal(ds_sync15_request(f->c, "PUT", "storage/c/b", -1, "{}", 2, &r), 0);
	ds_http_response_free(&r);
	assert_true(ds_sync15_client_quota_remaining(f->c, &kb));
	assert_true(kb == 512);
	assert_true(ds_sync15_client_quota_low(f->c));
}

static void test_over_quota_400_14_reports_low_quota_and_says_why(void **state)
{
	struct cfx *f = *state;
	struct ds_http_response r;

	answer(f, 400, NULL, "17");
	answer(f, 400, NULL, "14");
	assert_int_equal(ds_sync15_request(f->c, "POST", "storage/c", -1, "[]", 2, &r), 0);
	ds_http_response_free(&r);
	assert_false(ds_sync15_client_quota_low(f->c));
	assert_int_equal(ds_sync15_request(f->c, "POST", "storage/c", -1, "[]", 2, &r), 0);
	assert_int_equal(r.status, 400);
	ds_http_response_free(&r);
	assert_true(ds_sync15_client_quota_low(f->c));
	assert_non_null(strstr(ds_sync15_client_error(f->c), "quota"));
}

/* ---- DELETE ?ids= --------------------------------------------------------------------------- */

static void test_delete_ids_in_batches_of_at_most_100(void **state)
{
	struct cfx *f = *state;
	const char *ids[250];
	char names[250][16];
	int64_t lm = 0;

	for (int i = 0; i < 250; i++) {
		snprintf(names[i], sizeof(names[i]), i == 7 ? "{id-%d}" : "id-%d", i);
		ids[i] = names[i];
	}
	answer(f, 200, "X-Last-Modified: 1700000001.10\n", "{\"modified\":1700000001.10}");
	answer(f, 200, "X-Last-Modified: 1700000001.20\n", "{\"modified\":1700000001.20}");
	answer(f, 200, "X-Last-Modified: 1700000001.30\n", "{\"modified\":1700000001.30}");
	assert_int_equal(ds_sync15_delete_ids(f->c, "passwords", ids, 250, 1700000000000, &lm), 0);
	assert_int_equal(f->s.n_seen, 3);
	assert_int_equal(lm, 1700000001300);
	for (size_t i = 0; i < 3; i++) {
		const char *t = target(f, i);
		size_t commas = 0;

		assert_string_equal(f->s.seen[i].method, "DELETE");
		assert_true(strncmp(t, "storage/passwords?ids=", 22) == 0);
		for (const char *p = t; *p; p++)
			commas += *p == ',';
		assert_int_equal(commas + 1, i < 2 ? 100 : 50);
	}
	/* Braces percent-encoded; the chain of preconditions: ours, then each delete's result. */
	assert_non_null(strstr(target(f, 0), ",%7Bid-7%7D,"));
	assert_true(strncmp(target(f, 1), "storage/passwords?ids=id-100,", 29) == 0);
	assert_string_equal(f->s.seen[0].xius, "1700000000");
	assert_string_equal(f->s.seen[1].xius, "1700000001.1");
	assert_string_equal(f->s.seen[2].xius, "1700000001.2");
}

static void test_delete_ids_412_stops_with_estale(void **state)
{
	struct cfx *f = *state;
	const char *ids[] = { "a", "b" };
	int64_t lm = 0;

	answer(f, 412, NULL, "0");
	assert_int_equal(ds_sync15_delete_ids(f->c, "forms", ids, 2, 1700000000000, &lm), -ESTALE);
	assert_int_equal(f->s.n_seen, 1);
}

static void test_delete_ids_refuses_an_id_the_api_cannot_name(void **state)
{
	struct cfx *f = *state;
	const char *ids[] = { "ok", "a,b" };

	assert_int_equal(ds_sync15_delete_ids(f->c, "forms", ids, 2, -1, NULL), -EINVAL);
	assert_int_equal(f->s.n_seen, 0);
}

/* ---- X-If-Modified-Since -------------------------------------------------------------------- */

static void test_info_collections_if_modified_since_304_reuses_last_answer(void **state)
{
	struct cfx *f = *state;
	cJSON *info = NULL;
	int64_t ms;

	answer(f, 200, "X-Last-Modified: 1700000005.25\n", "{\"meta\":1700000001.5,\"history\":1700000005.25}");
	answer(f, 304, "X-Last-Modified: 1700000005.25\n", NULL);
	answer(f, 200, "X-Last-Modified: 1700000009.00\n", "{\"meta\":1700000001.5,\"history\":1700000009}");
	assert_int_equal(ds_sync15_get_info_collections(f->c, &info), 0);
	cJSON_Delete(info);
	assert_string_equal(f->s.seen[0].ims, "");
	assert_int_equal(ds_sync15_get_info_collections(f->c, &info), 0);
	assert_string_equal(f->s.seen[1].ims, "1700000005.25");
	assert_int_equal(ds_sync15_ts_from_json(cJSON_GetObjectItem(info, "history"), &ms), 0);
	assert_int_equal(ms, 1700000005250);
	cJSON_Delete(info);
	assert_int_equal(ds_sync15_client_not_modified(f->c), 1);
	assert_int_equal(ds_sync15_get_info_collections(f->c, &info), 0);
	assert_string_equal(f->s.seen[2].ims, "1700000005.25");
	assert_int_equal(ds_sync15_ts_from_json(cJSON_GetObjectItem(info, "history"), &ms), 0);
	assert_int_equal(ms, 1700000009000);
	cJSON_Delete(info);
	assert_int_equal(ds_sync15_client_not_modified(f->c), 1);
}

static void test_info_collections_304_with_another_timestamp_is_read_again(void **state)
{
	struct cfx *f = *state;
	cJSON *info = NULL;

	answer(f, 200, "X-Last-Modified: 1700000005.25\n", "{\"meta\":1700000001.5,\"forms\":1700000005.25}");
	answer(f, 304, "X-Last-Modified: 0\n", NULL);
	answer(f, 200, "X-Last-Modified: 0\n", "{}");
	assert_int_equal(ds_sync15_get_info_collections(f->c, &info), 0);
	cJSON_Delete(info);
	assert_int_equal(ds_sync15_get_info_collections(f->c, &info), 0);
	assert_int_equal(f->s.n_seen, 3);
	assert_string_equal(f->s.seen[1].ims, "1700000005.25");
	assert_string_equal(f->s.seen[2].ims, "");
	assert_null(cJSON_GetObjectItem(info, "forms"));
	cJSON_Delete(info);
	assert_int_equal(ds_sync15_client_not_modified(f->c), 0);
}

static void test_if_modified_since_never_sent_with_unmodified_since(void **state)
{
	struct cfx *f = *state;
	struct ds_http_response r;

	answer(f, 304, NULL, NULL);
	assert_int_equal(ds_sync15_get_if_modified(f->c, "storage/meta/global", 1700000000010, &r), 0);
	assert_int_equal(r.status, 304);
	ds_http_response_free(&r);
	assert_string_equal(f->s.seen[0].ims, "1700000000.01");
	assert_string_equal(f->s.seen[0].xius, "");
}

/* ---- remote-level: the in-process node ------------------------------------------------------ */

static const uint8_t KSYNC[64] = { 0x10, 0x20, [40] = 0x30, [63] = 0x40 };

struct rfx {
	struct ds_fake_sync15 *srv;
	struct ds_store *store;
	struct ds_collection *c;
	struct ds_engine *e;
	struct ds_remote *r;
	struct ds_sync15_global g;
	char dir[512], path[600];
};

static void dev_open(struct rfx *f, const char *coll)
{
	struct ds_sync15_remote_config rc = { .collection = coll, .engine_version = 1,
					      .page_records = 10 };
	struct ds_policy p = { .direction = DS_DIR_TWO_WAY, .max_retries = 3 };

	assert_int_equal(ds_store_open(f->path, &f->store), 0);
	assert_int_equal(ds_fake_engine_new(false, &f->e), 0);
	rc.auth = ds_fake_sync15_auth(f->srv);
	rc.transport = ds_fake_sync15_transport(f->srv);
	rc.global = &f->g;
	assert_int_equal(ds_sync15_remote_new(&rc, &f->r), 0);
	assert_int_equal(ds_fake_collection_new(coll, f->e, f->r, NULL, &p, &f->c), 0);
}

static void dev_close(struct rfx *f)
{
	if (!f->c)
		return;
	ds_fake_collection_free(f->c);
	ds_store_close(f->store);
	ds_sync15_global_clear(&f->g);
	f->c = NULL;
}

static int rsetup(void **state)
{
	struct rfx *f = calloc(1, sizeof(*f));
	const char *t = getenv("DS_TEST_TMP");
	static unsigned seq;

	if (t && *t)
		snprintf(f->dir, sizeof(f->dir), "%s", t);
	else {
		snprintf(f->dir, sizeof(f->dir), "%s/ds-s15p-XXXXXX", P_tmpdir);
		assert_non_null(mkdtemp(f->dir));
	}
	snprintf(f->path, sizeof(f->path), "%s/s15p-%d-%u.db", f->dir, (int)getpid(), ++seq);
	f->srv = ds_fake_sync15_new(KSYNC);
	*state = f;
	return 0;
}

static int rteardown(void **state)
{
	struct rfx *f = *state;

	dev_close(f);
	unlink(f->path);
	ds_fake_sync15_free(f->srv);
	free(f);
	return 0;
}

static int run(struct rfx *f, struct ds_run_stats *st)
{
	memset(st, 0, sizeof(*st));
	return ds_sync_run(f->c, f->store, st, NULL, NULL);
}

/* Another client writes n history records encrypted under the account's keys. */
static void others_write(struct rfx *f, const char *coll, int from, int n)
{
	struct ds_sync15_keybundle sync_kb;
	struct ds_sync15_keyring kr;

	ds_sync15_keybundle_from_ksync(KSYNC, &sync_kb);
	assert_int_equal(ds_sync15_keyring_decrypt(&sync_kb,
						   ds_fake_sync15_payload(f->srv, "crypto", "keys"), &kr), 0);
	for (int i = from; i < from + n; i++) {
		char id[16], clear[64], *payload;

		snprintf(id, sizeof(id), "h%05d", i);
		snprintf(clear, sizeof(clear), "{\"id\":\"%s\",\"n\":%d}", id, i);
		assert_int_equal(ds_sync15_encrypt(ds_sync15_keyring_get(&kr, coll), clear,
						   strlen(clear), NULL, &payload), 0);
		assert_int_equal(ds_fake_sync15_put(f->srv, coll, id, payload), 0);
		ds_free(payload);
	}
	ds_sync15_keyring_clear(&kr);
}

static void test_first_history_download_is_the_newest_limit_then_complete(void **state)
{
	struct rfx *f = *state;
	struct ds_run_stats st;

	dev_open(f, "history");
	assert_int_equal(ds_sync15_remote_set_download_limit(f->r, 0, "oldest"), -EINVAL);
	assert_int_equal(ds_sync15_remote_set_download_limit(f->r, 5, "newest"), 0);
	assert_int_equal(run(f, &st), 0); /* creates the Sync user */
	others_write(f, "history", 0, 12);
	dev_close(f);
	unlink(f->path);
	dev_open(f, "history"); /* a new device: its first download of history */
	assert_int_equal(ds_sync15_remote_set_download_limit(f->r, 5, NULL), 0);
	ds_fake_sync15_clear_log(f->srv);
	assert_int_equal(run(f, &st), 0);
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "GET storage/history?"), 1);
	assert_int_equal(ds_fake_sync15_count_requests(f->srv,
						       "GET storage/history?full=1&sort=newest&limit=5"), 1);
	assert_int_equal(ds_fake_engine_rows(f->e), 5);
	for (int i = 7; i < 12; i++) {
		char id[16];

		snprintf(id, sizeof(id), "h%05d", i);
		assert_non_null(ds_fake_engine_payload(f->e, id));
	}
	assert_null(ds_fake_engine_payload(f->e, "h00006"));
	/* Later downloads are whole (pages of 10, oldest first from the cursor): 13 new records. */
	others_write(f, "history", 100, 13);
	ds_fake_sync15_clear_log(f->srv);
	assert_int_equal(run(f, &st), 0);
	assert_int_equal(st.fetched, 13);
	assert_int_equal(ds_fake_engine_rows(f->e), 18);
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "GET storage/history?full=1&sort=oldest&limit=10&newer="), 2);
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "GET storage/history?"), 2);
}

static int open_json(const char *json, const char *collection, struct ds_remote **r)
{
	cJSON *cfg = cJSON_Parse(json);
	int rc;

	assert_non_null(cfg);
	rc = ds_remote_sync15_open(cfg, collection, "device", r);
	cJSON_Delete(cfg);
	return rc;
}

static void test_registration_download_limit_and_history_default(void **state)
{
	struct ds_remote *r = NULL;
	const char *sort = NULL;

	DS_UNUSED(state);
	assert_int_equal(open_json("{}", "history", &r), 0);
	assert_int_equal(ds_sync15_remote_download_limit(r, &sort), DS_SYNC15_HISTORY_DOWNLOAD_LIMIT);
	assert_string_equal(sort, "newest");
	r->ops->close(r);
	assert_int_equal(open_json("{}", "bookmarks", &r), 0);
	assert_int_equal(ds_sync15_remote_download_limit(r, NULL), 0);
	r->ops->close(r);
	assert_int_equal(open_json("{\"download_limit\": 0}", "history", &r), 0);
	assert_int_equal(ds_sync15_remote_download_limit(r, NULL), 0);
	r->ops->close(r);
	assert_int_equal(open_json("{\"download_limit\": 250, \"download_sort\": \"index\"}", "forms", &r), 0);
	assert_int_equal(ds_sync15_remote_download_limit(r, &sort), 250);
	assert_string_equal(sort, "index");
	r->ops->close(r);
	r = (struct ds_remote *)&sort; /* must be reset on failure */
	assert_int_equal(open_json("{\"download_limit\": -1}", "history", &r), -EINVAL);
	assert_null(r);
	assert_int_equal(open_json("{\"download_limit\": 1.5}", "history", &r), -EINVAL);
	assert_int_equal(open_json("{\"download_limit\": \"5000\"}", "history", &r), -EINVAL);
	assert_int_equal(open_json("{\"download_sort\": \"oldest\"}", "history", &r), -EINVAL);
	assert_int_equal(open_json("{\"download_sort\": 1}", "history", &r), -EINVAL);
	assert_null(r);
}

static void test_unlimited_collection_downloads_everything_paged(void **state)
{
	struct rfx *f = *state;
	struct ds_run_stats st;

	dev_open(f, "history");
	assert_int_equal(run(f, &st), 0);
	others_write(f, "history", 0, 12);
	dev_close(f);
	unlink(f->path);
	dev_open(f, "history");
	ds_fake_sync15_clear_log(f->srv);
	assert_int_equal(run(f, &st), 0);
	assert_int_equal(ds_fake_engine_rows(f->e), 12);
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "GET storage/history?full=1&sort=newest"), 0);
}

static void test_first_upload_to_an_unlisted_collection_reads_nothing(void **state)
{
	struct rfx *f = *state;
	struct ds_run_stats st;

	dev_open(f, "forms");
	ds_fake_engine_put(f->e, "f1", "{\"id\":\"f1\",\"name\":\"q\",\"value\":\"v\"}");
	assert_int_equal(run(f, &st), 0);
	assert_int_equal(st.uploaded, 1);
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "GET storage/forms"), 0);
	assert_int_equal(ds_fake_sync15_count(f->srv, "forms"), 1);
}

static void write_before_first_post(struct ds_fake_sync15 *s, const char *method, const char *path,
				    unsigned long nth, void *ud)
{
	struct rfx *f = ud;

	DS_UNUSED(s);
	DS_UNUSED(nth);
	if (strcmp(method, "POST") == 0 && strncmp(path, "storage/forms", 13) == 0 &&
	    ds_fake_sync15_count(f->srv, "forms") == 0) {
		ds_fake_sync15_set_hook(f->srv, NULL, NULL);
		others_write(f, "forms", 1, 1);
	}
}

static void test_collection_created_meanwhile_is_read_after_412(void **state)
{
	struct rfx *f = *state;
	struct ds_run_stats st;

	dev_open(f, "forms");
	ds_fake_engine_put(f->e, "f1", "{\"id\":\"f1\",\"name\":\"q\",\"value\":\"v\"}");
	ds_fake_sync15_set_hook(f->srv, write_before_first_post, f);
	assert_int_equal(run(f, &st), 0);
	assert_non_null(ds_fake_engine_payload(f->e, "h00001"));
	assert_int_equal(ds_fake_sync15_count(f->srv, "forms"), 2);
	assert_true(ds_fake_sync15_count_requests(f->srv, "GET storage/forms") >= 1);
}

static void test_auth_backoff_after_two_401s_survives_a_restart(void **state)
{
	struct rfx *f = *state;
	struct ds_run_stats st;
	char v[32];

	dev_open(f, "forms");
	ds_sync15_remote_set_store(f->r, f->store);
	assert_int_equal(run(f, &st), 0);
	ds_fake_sync15_refuse_tokens(f->srv, true);
	assert_int_not_equal(run(f, &st), 0);
	assert_true(ds_store_kv_get(f->store, DS_SYNC15_KV_AUTH_BACKOFF, v, sizeof(v)) > 0);
	dev_close(f);

	/* A restarted process: same store, new remote, tokens would work again. */
	ds_fake_sync15_refuse_tokens(f->srv, false);
	dev_open(f, "forms");
	ds_sync15_remote_set_store(f->r, f->store);
	ds_fake_sync15_clear_log(f->srv);
	assert_int_not_equal(run(f, &st), 0);
	assert_int_equal(ds_fake_sync15_request_total(f->srv), 0);
	assert_true(f->r->ops->backoff_s(f->r) > 14 * 60);
	assert_true(f->r->ops->backoff_s(f->r) <= 15 * 60);
	assert_non_null(strstr(ds_sync15_remote_error(f->r), "waiting"));

	/* Once the time has passed, the next run syncs and clears the entry. */
	assert_int_equal(ds_store_kv_set(f->store, DS_SYNC15_KV_AUTH_BACKOFF, "1000"), 0);
	dev_close(f);
	dev_open(f, "forms");
	ds_sync15_remote_set_store(f->r, f->store);
	assert_int_equal(run(f, &st), 0);
	assert_int_equal(ds_store_kv_get(f->store, DS_SYNC15_KV_AUTH_BACKOFF, v, sizeof(v)), 0);
}

/* The sync core hands the run's store to the remote (attach_store): no wiring by the caller. */
static void test_auth_backoff_reaches_the_store_of_the_run(void **state)
{
	struct rfx *f = *state;
	struct ds_run_stats st;
	char v[32];

	dev_open(f, "forms");
	assert_int_equal(run(f, &st), 0);
	ds_fake_sync15_refuse_tokens(f->srv, true);
	assert_int_not_equal(run(f, &st), 0);
	assert_true(f->r->ops->backoff_s(f->r) >= 15 * 60);
	assert_true(ds_store_kv_get(f->store, DS_SYNC15_KV_AUTH_BACKOFF, v, sizeof(v)) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_info_quota_is_usage_and_quota_or_null, csetup, cteardown),
		cmocka_unit_test_setup_teardown(test_info_quota_nearly_full_reports_low_quota, csetup, cteardown),
		cmocka_unit_test_setup_teardown(test_quota_remaining_header_on_writes_reports_low_quota, csetup, cteardown),
		cmocka_unit_test_setup_teardown(test_over_quota_400_14_reports_low_quota_and_says_why, csetup, cteardown),
		cmocka_unit_test_setup_teardown(test_delete_ids_in_batches_of_at_most_100, csetup, cteardown),
		cmocka_unit_test_setup_teardown(test_delete_ids_412_stops_with_estale, csetup, cteardown),
		cmocka_unit_test_setup_teardown(test_delete_ids_refuses_an_id_the_api_cannot_name, csetup, cteardown),
		cmocka_unit_test_setup_teardown(test_info_collections_if_modified_since_304_reuses_last_answer, csetup, cteardown),
		cmocka_unit_test_setup_teardown(test_info_collections_304_with_another_timestamp_is_read_again, csetup, cteardown),
		cmocka_unit_test_setup_teardown(test_if_modified_since_never_sent_with_unmodified_since, csetup, cteardown),
		cmocka_unit_test_setup_teardown(test_first_history_download_is_the_newest_limit_then_complete, rsetup, rteardown),
		cmocka_unit_test(test_registration_download_limit_and_history_default),
		cmocka_unit_test_setup_teardown(test_unlimited_collection_downloads_everything_paged, rsetup, rteardown),
		cmocka_unit_test_setup_teardown(test_first_upload_to_an_unlisted_collection_reads_nothing, rsetup, rteardown),
		cmocka_unit_test_setup_teardown(test_collection_created_meanwhile_is_read_after_412, rsetup, rteardown),
		cmocka_unit_test_setup_teardown(test_auth_backoff_after_two_401s_survives_a_restart, rsetup, rteardown),
		cmocka_unit_test_setup_teardown(test_auth_backoff_reaches_the_store_of_the_run, rsetup, rteardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
