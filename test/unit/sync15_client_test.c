/*
 * The Sync 1.5 storage client and upload queue against the in-process storage node
 * (test/support/fake_sync15.h): batch sizing by info/configuration (request counts = the
 * minimum the limits allow), batch ids, servers without batching, success/failed accounting,
 * oversized records, 412, 400/17, 409, backoff headers, 513 and X-Weave-Alert, 401 handling.
 * Each test is named after the protocol rule it checks (sync15.md §2, §5, §12).
 */
#include "core/ds_core.h"
#include "remote/sync15/ds_sync15.h"
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

struct fx {
	struct ds_fake_sync15 *srv;
	struct ds_sync15_client *c;
	struct ds_sync15_limits l;
};

static int setup(void **state)
{
	static const uint8_t ksync[64] = { 1, 2, 3 };
	struct fx *f = calloc(1, sizeof(*f));
	struct ds_sync15_client_config cc = { 0 };

	f->srv = ds_fake_sync15_new(ksync);
	cc.auth = ds_fake_sync15_auth(f->srv);
	cc.transport = ds_fake_sync15_transport(f->srv);
	assert_int_equal(ds_sync15_client_new(&cc, &f->c), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ds_sync15_client_free(f->c);
	ds_fake_sync15_free(f->srv);
	free(f);
	return 0;
}

static void config(struct fx *f, const char *json)
{
	ds_fake_sync15_set_config(f->srv, json);
	assert_int_equal(ds_sync15_get_limits(f->c, &f->l), 0);
	ds_fake_sync15_clear_log(f->srv);
}

/* Upload n records "r<i>" with payloads of plen bytes; returns the queue's result. */
static int upload(struct fx *f, size_t n, size_t plen, int64_t xius,
		  struct ds_sync15_upload_stats *st)
{
	struct ds_sync15_post_queue *q;
	char *payload = malloc(plen + 1);
	int rc = 0;

	memset(payload, 'p', plen);
	payload[plen] = '\0';
	assert_int_equal(ds_sync15_post_queue_new(f->c, "coll", &f->l, xius, &q), 0);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		char id[16], *bso;
		snprintf(id, sizeof(id), "r%zu", i);
		bso = ds_sync15_bso_to_json(id, payload, NULL, 0);
		rc = ds_sync15_post_queue_add(q, id, bso, plen);
		ds_free(bso);
	}
	if (rc == 0)
		rc = ds_sync15_post_queue_flush(q);
	*st = *ds_sync15_post_queue_stats(q);
	ds_sync15_post_queue_free(q);
	free(payload);
	return rc;
}

static void assert_line(struct fx *f, size_t i, const char *want)
{
	const char *got = ds_fake_sync15_request_line(f->srv, i);

	assert_non_null(got);
	assert_string_equal(got, want);
}

/* AT-09: 5 records, 2 per POST: three POSTs, the 202's id reused URL-encoded, commit on the last. */
static void test_batch_post_records_limit_minimum_requests(void **state)
{
	struct fx *f = *state;
	struct ds_sync15_upload_stats st;

	config(f, "{\"max_post_records\":2}");
	assert_int_equal(upload(f, 5, 10, 0, &st), 0);
	assert_int_equal(ds_fake_sync15_request_total(f->srv), 3);
	assert_line(f, 0, "POST storage/coll?batch=true");
	assert_line(f, 1, "POST storage/coll?batch=b%7B1%7D");
	assert_line(f, 2, "POST storage/coll?batch=b%7B1%7D&commit=true");
	assert_int_equal(st.accepted, 5);
	assert_int_equal(st.failed, 0);
	assert_int_equal(st.commits, 1);
	assert_int_equal(ds_fake_sync15_count(f->srv, "coll"), 5);
	assert_int_equal(st.modified_ms, ds_fake_sync15_coll_ts(f->srv, "coll"));
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(ds_fake_sync15_request_xius(f->srv, i), "0");
}

/* Total limits split batches; the next batch's precondition is our own commit's timestamp. */
static void test_batch_total_records_limit_commits_and_chains_xius(void **state)
{
	struct fx *f = *state;
	struct ds_sync15_upload_stats st;
	char ts[DS_SYNC15_TS_MAX];

	config(f, "{\"max_post_records\":2,\"max_total_records\":3}");
	assert_int_equal(upload(f, 5, 10, 0, &st), 0);
	/* ceil(5/3) batches, and ceil(3/2) + ceil(2/2) POSTs = 3: the minimum. */
	assert_int_equal(ds_fake_sync15_request_total(f->srv), 3);
	assert_line(f, 0, "POST storage/coll?batch=true");
	assert_line(f, 1, "POST storage/coll?batch=b%7B1%7D&commit=true");
	assert_line(f, 2, "POST storage/coll?batch=true&commit=true");
	assert_int_equal(st.commits, 2);
	assert_int_equal(st.accepted, 5);
	ds_sync15_ts_format(ds_fake_sync15_modified(f->srv, "coll", "r0"), ts);
	assert_string_equal(ds_fake_sync15_request_xius(f->srv, 2), ts);
}

/* Byte limits: payload bytes per POST, and the whole body against max_request_bytes
 * (AS: cur + size <= max, so a body of exactly the limit is sent). */
static void test_batch_byte_limits(void **state)
{
	struct fx *f = *state;
	struct ds_sync15_upload_stats st;
	char cfg[128], *bso = ds_sync15_bso_to_json("r0", "pppppppppp", NULL, 0);
	size_t blen = strlen(bso);

	ds_free(bso);
	config(f, "{\"max_post_bytes\":25}");
	assert_int_equal(upload(f, 6, 10, 0, &st), 0); /* 2 x 10 bytes per POST */
	assert_int_equal(ds_fake_sync15_request_total(f->srv), 3);
	assert_int_equal(st.accepted, 6);

	ds_fake_sync15_wipe(f->srv);
	/* "[" b "," b "," b "]" = 3 * blen + 4 bytes fits exactly; one more byte would not. */
	snprintf(cfg, sizeof(cfg), "{\"max_request_bytes\":%zu}", 3 * blen + 4);
	config(f, cfg);
	assert_int_equal(upload(f, 7, 10, 0, &st), 0);
	assert_int_equal(ds_fake_sync15_request_total(f->srv), 3); /* 3 + 3 + 1 */
	assert_int_equal(st.accepted, 7);
}

/* AT-08: without info/configuration the documented defaults apply (100 records per POST). */
static void test_info_configuration_404_gives_defaults(void **state)
{
	struct fx *f = *state;
	struct ds_sync15_upload_stats st;

	config(f, NULL);
	assert_int_equal(f->l.max_request_bytes, 260 * 1024);
	assert_int_equal(f->l.max_record_payload_bytes, 256 * 1024);
	assert_int_equal(f->l.max_post_records, 100);
	assert_int_equal(upload(f, 150, 10, 0, &st), 0);
	assert_int_equal(ds_fake_sync15_request_total(f->srv), 2);
	assert_int_equal(st.accepted, 150);
}

/* A record over max_record_payload_bytes is reported (failed, too_large), never sent. */
static void test_record_over_payload_limit_reported_not_dropped(void **state)
{
	struct fx *f = *state;
	struct ds_sync15_post_queue *q;
	char big[61], *b1, *b2;

	config(f, "{\"max_record_payload_bytes\":50}");
	memset(big, 'x', 60);
	big[60] = '\0';
	assert_int_equal(ds_sync15_post_queue_new(f->c, "coll", &f->l, 0, &q), 0);
	b1 = ds_sync15_bso_to_json("small", "tiny", NULL, 0);
	b2 = ds_sync15_bso_to_json("big", big, NULL, 0);
	assert_int_equal(ds_sync15_post_queue_add(q, "small", b1, 4), 0);
	assert_int_equal(ds_sync15_post_queue_add(q, "big", b2, 60), 0);
	assert_non_null(strstr(ds_sync15_client_error(f->c), "larger than the server takes"));
	assert_int_equal(ds_sync15_post_queue_flush(q), 0);
	assert_int_equal(ds_sync15_post_queue_stats(q)->accepted, 1);
	assert_int_equal(ds_sync15_post_queue_stats(q)->failed, 1);
	assert_int_equal(ds_sync15_post_queue_stats(q)->too_large, 1);
	assert_null(ds_fake_sync15_payload(f->srv, "coll", "big"));
	assert_non_null(ds_fake_sync15_payload(f->srv, "coll", "small"));
	ds_free(b1);
	ds_free(b2);
	ds_sync15_post_queue_free(q);
}

/* AT-10: ids in "failed" and ids in neither list are failures. */
static void test_failed_and_unlisted_ids_count_as_failed(void **state)
{
	struct fx *f = *state;
	struct ds_sync15_upload_stats st;

	config(f, NULL);
	ds_fake_sync15_inject(f->srv, "POST", "storage/coll", 200, "X-Last-Modified: 1700000001.5\n",
			      "{\"modified\":1700000001.5,\"success\":[\"r0\"],\"failed\":{\"r1\":\"x\"}}",
			      1);
	assert_int_equal(upload(f, 3, 5, 0, &st), 0);
	assert_int_equal(st.accepted, 1);
	assert_int_equal(st.failed, 2);
	assert_int_equal(st.modified_ms, 1700000001500);
}

/* AT-11: 412 on upload is -ESTALE and nothing is written. */
static void test_412_on_upload_is_estale(void **state)
{
	struct fx *f = *state;
	struct ds_sync15_upload_stats st;
	int64_t ts;

	config(f, NULL);
	ds_fake_sync15_put(f->srv, "coll", "other", "x");
	ts = ds_fake_sync15_coll_ts(f->srv, "coll");
	ds_fake_sync15_put(f->srv, "coll", "other2", "y"); /* a concurrent writer */
	assert_int_equal(upload(f, 3, 5, ts, &st), -ESTALE);
	assert_int_equal(st.accepted, 0);
	assert_int_equal(ds_fake_sync15_count(f->srv, "coll"), 2);
}

/* AT-09: a 202 without a batch id is an error, not a silent non-batch mode. */
static void test_202_without_batch_id_is_error(void **state)
{
	struct fx *f = *state;
	struct ds_sync15_upload_stats st;

	config(f, "{\"max_post_records\":1}");
	ds_fake_sync15_inject(f->srv, "POST", "storage/coll", 202, NULL,
			      "{\"success\":[\"r0\"],\"failed\":{}}", 1);
	assert_int_equal(upload(f, 2, 5, 0, &st), -EPROTO);
	assert_int_equal(ds_fake_sync15_count(f->srv, "coll"), 0);
}

/* AT-09: 200 to the first batch=true POST: the server has no batching; every POST commits. */
static void test_server_without_batching_posts_alone(void **state)
{
	struct fx *f = *state;
	struct ds_sync15_upload_stats st;
	char ts[DS_SYNC15_TS_MAX];

	config(f, "{\"max_post_records\":2}");
	ds_fake_sync15_set_batching(f->srv, false);
	assert_int_equal(upload(f, 5, 5, 0, &st), 0);
	assert_int_equal(ds_fake_sync15_request_total(f->srv), 3);
	assert_line(f, 0, "POST storage/coll?batch=true");
	assert_line(f, 1, "POST storage/coll");
	assert_line(f, 2, "POST storage/coll");
	assert_int_equal(st.commits, 3);
	assert_int_equal(st.accepted, 5);
	ds_sync15_ts_format(ds_fake_sync15_modified(f->srv, "coll", "r0"), ts);
	assert_string_equal(ds_fake_sync15_request_xius(f->srv, 1), ts);
}

/* AT-09: 400 with weave code 17 (over a limit) stops the upload with -EMSGSIZE. */
static void test_400_code_17_is_emsgsize(void **state)
{
	struct fx *f = *state;
	struct ds_sync15_upload_stats st;

	config(f, NULL);
	ds_fake_sync15_inject(f->srv, "POST", "storage/coll", 400, NULL, "17", 1);
	assert_int_equal(upload(f, 1, 5, 0, &st), -EMSGSIZE);
	ds_fake_sync15_inject(f->srv, "POST", "storage/coll", 400, NULL, "14", 1);
	assert_int_equal(upload(f, 1, 5, 0, &st), -ENOSPC);
	assert_non_null(strstr(ds_sync15_client_error(f->c), "quota"));
}

static void test_409_is_eagain_with_retry_after(void **state)
{
	struct fx *f = *state;
	struct ds_sync15_upload_stats st;

	config(f, NULL);
	ds_fake_sync15_inject(f->srv, "POST", "storage/coll", 409, "Retry-After: 30\n", "", 1);
	assert_int_equal(upload(f, 1, 5, 0, &st), -EAGAIN);
	assert_int_equal(ds_sync15_client_backoff_s(f->c), 30);
}

/* AT-13: X-Weave-Backoff on a 200 is reported as soft (a person's sync may go); 503 + Retry-After
 * stops with -EAGAIN and is hard. */
static void test_backoff_headers_on_any_response(void **state)
{
	struct fx *f = *state;
	cJSON *info;

	config(f, NULL);
	ds_fake_sync15_always_header(f->srv, "X-Weave-Backoff", "300");
	assert_int_equal(ds_sync15_get_info_collections(f->c, &info), 0);
	cJSON_Delete(info);
	assert_int_equal(ds_sync15_client_backoff_s(f->c), 300);
	assert_int_equal(ds_sync15_client_hard_backoff_s(f->c), 0);
	ds_fake_sync15_always_header(f->srv, "X-Weave-Backoff", NULL);
	ds_fake_sync15_inject(f->srv, NULL, "info/collections", 503, "Retry-After: 1200\n", "", 1);
	assert_int_equal(ds_sync15_get_info_collections(f->c, &info), -EAGAIN);
	assert_null(info);
	assert_int_equal(ds_sync15_client_backoff_s(f->c), 1200);
	assert_int_equal(ds_sync15_client_hard_backoff_s(f->c), 1200);
	/* X-Weave-Backoff on a 503 binds like Retry-After */
	ds_fake_sync15_inject(f->srv, NULL, "info/collections", 503, "X-Weave-Backoff: 3600\n", "", 1);
	assert_int_equal(ds_sync15_get_info_collections(f->c, &info), -EAGAIN);
	assert_int_equal(ds_sync15_client_hard_backoff_s(f->c), 3600);
}

/* 513 and a hard-eol alert stop with the server's reason; a soft-eol alert does not. */
static void test_513_and_hard_eol_alert_stop_with_message(void **state)
{
	struct fx *f = *state;
	cJSON *info = NULL;

	config(f, NULL);
	ds_fake_sync15_inject(f->srv, NULL, "info/collections", 513, NULL, "", 1);
	assert_int_equal(ds_sync15_get_info_collections(f->c, &info), -ENOTSUP);
	assert_non_null(strstr(ds_sync15_client_error(f->c), "decommissioned"));

	ds_fake_sync15_always_header(f->srv, "X-Weave-Alert",
				     "{\"code\":\"soft-eol\",\"message\":\"moving soon\"}");
	assert_int_equal(ds_sync15_get_info_collections(f->c, &info), 0);
	cJSON_Delete(info);
	ds_fake_sync15_always_header(f->srv, "X-Weave-Alert",
				     "{\"code\":\"hard-eol\",\"message\":\"This service is gone\","
				     "\"url\":\"https://example.org/eol\"}");
	assert_int_equal(ds_sync15_get_info_collections(f->c, &info), -ENOTSUP);
	assert_non_null(strstr(ds_sync15_client_error(f->c), "This service is gone"));
	assert_non_null(strstr(ds_sync15_client_error(f->c), "https://example.org/eol"));
}

/* AT-07: 401 -> one new token and one retry; a second 401 -> -EACCES and a 15 min backoff. */
static void test_401_one_new_token_then_backoff(void **state)
{
	struct fx *f = *state;
	cJSON *info = NULL;

	config(f, NULL);
	ds_fake_sync15_expire_tokens(f->srv);
	assert_int_equal(ds_sync15_get_info_collections(f->c, &info), 0);
	cJSON_Delete(info);
	assert_int_equal(ds_fake_sync15_request_total(f->srv), 2);
	assert_int_equal(ds_sync15_client_backoff_s(f->c), 0);

	ds_fake_sync15_clear_log(f->srv);
	ds_fake_sync15_refuse_tokens(f->srv, true);
	assert_int_equal(ds_sync15_get_info_collections(f->c, &info), -EACCES);
	assert_int_equal(ds_fake_sync15_request_total(f->srv), 2);
	assert_int_equal(ds_sync15_client_backoff_s(f->c), 15 * 60);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_batch_post_records_limit_minimum_requests),
		T(test_batch_total_records_limit_commits_and_chains_xius),
		T(test_batch_byte_limits),
		T(test_info_configuration_404_gives_defaults),
		T(test_record_over_payload_limit_reported_not_dropped),
		T(test_failed_and_unlisted_ids_count_as_failed),
		T(test_412_on_upload_is_estale),
		T(test_202_without_batch_id_is_error),
		T(test_server_without_batching_posts_alone),
		T(test_400_code_17_is_emsgsize),
		T(test_409_is_eagain_with_retry_after),
		T(test_backoff_headers_on_any_response),
		T(test_513_and_hard_eol_alert_stop_with_message),
		T(test_401_one_new_token_then_backoff),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
