/*
 * The sync15 remote in the sync core: whole ds_sync_run()s of devices (metadata store + fake
 * engine + sync15 remote) against the in-process storage node. Two agents on a fresh account,
 * paging, 412 during paging and during upload, undecryptable records, rotated keys, a declined
 * engine, an engine reset or a wipe by another client, node reassignment, backoff, an unchanged
 * account, oversized records. Tests are named after the rule they check (sync15.md §4, §5, §12).
 */
#include "core/ds_core.h"
#include "remote/sync15/ds_sync15.h"
#include "remote/sync15/ds_sync15_stream.h"
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

static const uint8_t KSYNC[64] = { 0xa1, 0xb2, 0xc3, [33] = 0x44, [63] = 0x77 };
#define COLL "dstest"

struct dev {
	struct ds_store *store;
	struct ds_collection *c;
	struct ds_engine *e;
	struct ds_remote *r;
	struct ds_sync15_global g;
	char path[600];
};

struct fx {
	struct ds_fake_sync15 *srv;
	struct dev a, b;
	char dir[512];
};

static unsigned seq;

static void dev_open(struct fx *f, struct dev *d, unsigned page, enum ds_direction dir)
{
	struct ds_sync15_remote_config rc = { .collection = COLL, .engine_version = 1,
					      .page_records = page };
	struct ds_policy p = { .direction = dir, .conflict = DS_CONFLICT_SERVER_WINS, .max_retries = 3 };

	memset(d, 0, sizeof(*d));
	snprintf(d->path, sizeof(d->path), "%s/s15-%d-%u.db", f->dir, (int)getpid(), ++seq);
	assert_int_equal(ds_store_open(d->path, &d->store), 0);
	assert_int_equal(ds_fake_engine_new(false, &d->e), 0);
	rc.auth = ds_fake_sync15_auth(f->srv);
	rc.transport = ds_fake_sync15_transport(f->srv);
	rc.global = &d->g;
	assert_int_equal(ds_sync15_remote_new(&rc, &d->r), 0);
	assert_int_equal(ds_fake_collection_new(COLL, d->e, d->r, NULL, &p, &d->c), 0);
}

static void dev_close(struct dev *d)
{
	if (!d->c)
		return;
	ds_fake_collection_free(d->c);
	ds_store_close(d->store);
	ds_sync15_global_clear(&d->g);
	unlink(d->path);
	memset(d, 0, sizeof(*d));
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *t = getenv("DS_TEST_TMP");

	if (t && *t)
		snprintf(f->dir, sizeof(f->dir), "%s", t);
	else {
		snprintf(f->dir, sizeof(f->dir), "%s/ds-s15-XXXXXX", P_tmpdir);
		assert_non_null(mkdtemp(f->dir));
	}
	f->srv = ds_fake_sync15_new(KSYNC);
	dev_open(f, &f->a, 0, DS_DIR_TWO_WAY);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	dev_close(&f->a);
	dev_close(&f->b);
	ds_fake_sync15_free(f->srv);
	free(f);
	return 0;
}

static int dev_sync(struct dev *d, struct ds_run_stats *st)
{
	struct ds_run_stats local;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	return ds_sync_run(d->c, d->store, st, NULL, NULL);
}

static void sync_ok(struct dev *d)
{
	struct ds_run_stats st;
	int rc = dev_sync(d, &st);

	if (rc)
		fail_msg("run failed: %d %s / %s", rc, st.message, ds_sync15_remote_error(d->r));
}

/* Another client's record: encrypted under the keys the server holds now. */
static void other_client_put(struct fx *f, const char *id, const char *clear)
{
	struct ds_sync15_keybundle sync_kb;
	struct ds_sync15_keyring kr;
	char *payload;

	ds_sync15_keybundle_from_ksync(KSYNC, &sync_kb);
	assert_int_equal(ds_sync15_keyring_decrypt(&sync_kb,
						   ds_fake_sync15_payload(f->srv, "crypto", "keys"), &kr), 0);
	assert_int_equal(ds_sync15_encrypt(ds_sync15_keyring_get(&kr, COLL), clear, strlen(clear),
					   NULL, &payload), 0);
	ds_fake_sync15_put(f->srv, COLL, id, payload);
	ds_free(payload);
	ds_sync15_keyring_clear(&kr);
}

static bool payload_has(struct dev *d, const char *id, const char *needle)
{
	const char *p = ds_fake_engine_payload(d->e, id);

	return p && strstr(p, needle);
}

/* Two agents on a fresh account: the first creates the Sync user and uploads; the second reads
 * what the first wrote, edits, and the first gets the edit. Nothing is in clear on the server. */
static void test_two_agents_first_creates_user_second_reads(void **state)
{
	struct fx *f = *state;
	char cursor[DS_CURSOR_MAX], epoch[DS_CURSOR_MAX], ts[DS_SYNC15_TS_MAX];

	/* Sync records carry their id in the cleartext (DOCS objectformats). */
	ds_fake_engine_put(f->a.e, "rec-one", "{\"id\":\"rec-one\",\"title\":\"first\"}");
	ds_fake_engine_put(f->a.e, "{braced-id}", "{\"id\":\"{braced-id}\",\"title\":\"second\"}");
	sync_ok(&f->a);
	assert_non_null(ds_fake_sync15_payload(f->srv, "meta", "global"));
	assert_non_null(ds_fake_sync15_payload(f->srv, "crypto", "keys"));
	assert_int_equal(ds_fake_sync15_count(f->srv, COLL), 2);
	assert_null(strstr(ds_fake_sync15_payload(f->srv, COLL, "rec-one"), "first"));
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	/* The cursor is the server's timestamp, printed exactly. */
	assert_int_equal(ds_store_cursor_get(f->a.store, COLL, cursor, sizeof(cursor), epoch,
					     sizeof(epoch)), 0);
	ds_sync15_ts_format(ds_fake_sync15_coll_ts(f->srv, COLL), ts);
	assert_string_equal(cursor, ts);
	assert_int_equal(strlen(epoch), 34); /* node tag, ':', two syncIDs */

	dev_open(f, &f->b, 0, DS_DIR_TWO_WAY);
	sync_ok(&f->b);
	assert_true(payload_has(&f->b, "rec-one", "first"));
	assert_true(payload_has(&f->b, "{braced-id}", "second"));
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "DELETE "), 1); /* only A's wipe */

	ds_fake_engine_put(f->b.e, "rec-one", "{\"id\":\"rec-one\",\"title\":\"edited by b\"}");
	sync_ok(&f->b);
	sync_ok(&f->a);
	assert_true(payload_has(&f->a, "rec-one", "edited by b"));
	assert_true(ds_fake_engine_same_rows(f->a.e, f->b.e));
}

/* An unchanged account costs one info/collections request. */
static void test_unchanged_account_costs_one_request(void **state)
{
	struct fx *f = *state;

	ds_fake_engine_put(f->a.e, "r1", "{\"v\":1}");
	sync_ok(&f->a);
	ds_fake_sync15_clear_log(f->srv);
	sync_ok(&f->a);
	assert_int_equal(ds_fake_sync15_request_total(f->srv), 1);
	assert_string_equal(ds_fake_sync15_request_line(f->srv, 0), "GET info/collections");
}

/* AT-12: limit + offset paging with the same parameters and X-If-Unmodified-Since. */
static void test_paging_limit_offset_same_params_and_xius(void **state)
{
	struct fx *f = *state;
	char id[16], lm[DS_SYNC15_TS_MAX];
	size_t pages = 0;

	sync_ok(&f->a); /* creates the user */
	for (int i = 0; i < 25; i++) {
		char clear[64];
		snprintf(id, sizeof(id), "p%02d", i);
		snprintf(clear, sizeof(clear), "{\"id\":\"%s\",\"n\":%d}", id, i);
		other_client_put(f, id, clear);
	}
	ds_sync15_ts_format(ds_fake_sync15_coll_ts(f->srv, COLL), lm);
	dev_close(&f->a);
	dev_open(f, &f->a, 10, DS_DIR_TWO_WAY);
	ds_fake_sync15_clear_log(f->srv);
	sync_ok(&f->a);
	assert_int_equal(ds_fake_engine_rows(f->a.e), 25);
	for (size_t i = 0; i < ds_fake_sync15_request_total(f->srv); i++) {
		const char *l = ds_fake_sync15_request_line(f->srv, i);
		if (strncmp(l, "GET storage/" COLL "?", strlen("GET storage/" COLL "?")))
			continue;
		assert_non_null(strstr(l, "full=1&sort=oldest&limit=10"));
		if (pages == 0) {
			assert_null(strstr(l, "offset="));
			assert_string_equal(ds_fake_sync15_request_xius(f->srv, i), "");
		} else {
			assert_non_null(strstr(l, pages == 1 ? "&offset=10" : "&offset=20"));
			assert_string_equal(ds_fake_sync15_request_xius(f->srv, i), lm);
		}
		pages++;
	}
	assert_int_equal(pages, 3);
}

struct race {
	struct fx *f;
	const char *when; /* request prefix that triggers the concurrent write */
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
		other_client_put(r->f, "intruder", "{\"id\":\"intruder\",\"v\":\"racing\"}");
	}
}

/* AT-12: a write between two pages: 412, the download starts again from the old last-sync, and
 * everything ends applied with the cursor at the final timestamp. */
static void test_412_mid_paging_restarts_from_old_last_sync(void **state)
{
	struct fx *f = *state;
	struct race r = { f, "GET storage/" COLL "?full=1&sort=oldest&limit=10&newer=", 1 };
	char cursor[DS_CURSOR_MAX], epoch[DS_CURSOR_MAX], ts[DS_SYNC15_TS_MAX];

	sync_ok(&f->a);
	for (int i = 0; i < 15; i++) {
		char id[16], clear[64];
		snprintf(id, sizeof(id), "q%02d", i);
		snprintf(clear, sizeof(clear), "{\"id\":\"%s\"}", id);
		other_client_put(f, id, clear);
	}
	dev_close(&f->a);
	dev_open(f, &f->a, 10, DS_DIR_TWO_WAY);
	sync_ok(&f->a); /* first sync: from the beginning, no newer */
	/* now 15 more, and a writer that strikes during the next paged download */
	for (int i = 15; i < 30; i++) {
		char id[16], clear[64];
		snprintf(id, sizeof(id), "q%02d", i);
		snprintf(clear, sizeof(clear), "{\"id\":\"%s\"}", id);
		other_client_put(f, id, clear);
	}
	r.when = "GET storage/" COLL "?full=1&sort=oldest&limit=10&newer=";
	ds_fake_sync15_set_hook(f->srv, concurrent_writer, &r);
	ds_fake_sync15_clear_log(f->srv);
	sync_ok(&f->a);
	ds_fake_sync15_set_hook(f->srv, NULL, NULL);
	assert_int_equal(ds_fake_engine_rows(f->a.e), 31);
	assert_true(payload_has(&f->a, "intruder", "racing"));
	assert_int_equal(ds_store_cursor_get(f->a.store, COLL, cursor, sizeof(cursor), epoch,
					     sizeof(epoch)), 0);
	ds_sync15_ts_format(ds_fake_sync15_coll_ts(f->srv, COLL), ts);
	assert_string_equal(cursor, ts);
}

/* AT-11: another client writes between our download and upload: 412, re-download, re-merge,
 * upload again; nothing lost on either side. */
static void test_412_on_upload_refetches_and_retries(void **state)
{
	struct fx *f = *state;
	struct race r = { f, "POST storage/" COLL, 1 };
	struct ds_run_stats st;

	sync_ok(&f->a);
	ds_fake_engine_put(f->a.e, "mine", "{\"v\":\"local\"}");
	ds_fake_sync15_set_hook(f->srv, concurrent_writer, &r);
	assert_int_equal(dev_sync(&f->a, &st), 0);
	ds_fake_sync15_set_hook(f->srv, NULL, NULL);
	assert_true(payload_has(&f->a, "intruder", "racing"));
	assert_non_null(ds_fake_sync15_payload(f->srv, COLL, "mine"));
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	assert_int_equal(st.uploaded, 1);
}

/* U6: garbage and records under another key are skipped and counted, never applied; crypto/keys
 * is re-read once, not in a loop. */
static void test_undecryptable_records_skipped_and_counted(void **state)
{
	struct fx *f = *state;
	struct ds_sync15_keybundle other;
	struct ds_run_stats st;
	char *bad;

	sync_ok(&f->a);
	other_client_put(f, "good", "{\"id\":\"good\",\"v\":1}");
	ds_fake_sync15_put(f->srv, COLL, "garbage", "{\"ciphertext\":\"AAAA\",\"IV\":\"x\",\"hmac\":\"zz\"}");
	assert_int_equal(ds_sync15_keybundle_random(&other), 0);
	assert_int_equal(ds_sync15_encrypt(&other, "{\"id\":\"foreign\"}", 16, NULL, &bad), 0);
	ds_fake_sync15_put(f->srv, COLL, "foreign", bad);
	ds_free(bad);
	ds_fake_sync15_clear_log(f->srv);
	assert_int_equal(dev_sync(&f->a, &st), 0);
	assert_int_equal(st.errors, 2);
	assert_int_equal(ds_sync15_remote_undecryptable(f->a.r), 2);
	assert_non_null(ds_fake_engine_payload(f->a.e, "good"));
	assert_null(ds_fake_engine_payload(f->a.e, "garbage"));
	assert_null(ds_fake_engine_payload(f->a.e, "foreign"));
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "GET storage/crypto/keys"), 1);
	/* The next run does not re-read the keys again for the same bad records. */
	ds_fake_sync15_put(f->srv, COLL, "garbage2", "{\"ciphertext\":\"AAAA\",\"IV\":\"x\",\"hmac\":\"00\"}");
	ds_fake_sync15_clear_log(f->srv);
	assert_int_equal(dev_sync(&f->a, &st), 0);
	assert_int_equal(st.errors, 1);
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "GET storage/crypto/keys"), 0);
}

static void rotate_keys_now(struct ds_fake_sync15 *s, const char *method, const char *path,
			    unsigned long nth, void *ud)
{
	struct race *r = ud;
	struct ds_sync15_keybundle sync_kb;
	struct ds_sync15_keyring kr;
	char *payload;

	(void)nth;
	if (r->times <= 0 || strcmp(method, "GET") || strncmp(path, "storage/" COLL "?", 15))
		return;
	r->times--;
	ds_sync15_keybundle_from_ksync(KSYNC, &sync_kb);
	assert_int_equal(ds_sync15_keyring_new_random(&kr), 0);
	assert_int_equal(ds_sync15_keyring_encrypt(&sync_kb, &kr, &payload), 0);
	ds_fake_sync15_put(s, "crypto", "keys", payload);
	ds_free(payload);
	ds_sync15_keyring_clear(&kr);
	other_client_put(r->f, "under-new-keys", "{\"id\":\"under-new-keys\",\"v\":2}");
}

/* U6: keys rotated by another device while we download: the HMAC failure re-reads crypto/keys,
 * finds new keys, and the record decrypts with them. */
static void test_rotated_keys_reread_and_recovered(void **state)
{
	struct fx *f = *state;
	struct race r = { f, NULL, 1 };
	struct ds_run_stats st;

	sync_ok(&f->a);
	other_client_put(f, "before", "{\"id\":\"before\"}");
	ds_fake_sync15_set_hook(f->srv, rotate_keys_now, &r);
	assert_int_equal(dev_sync(&f->a, &st), 0);
	ds_fake_sync15_set_hook(f->srv, NULL, NULL);
	/* "before" (old keys) was read before the rotation was met; the next record failed its
	 * HMAC, crypto/keys was re-read, and it decrypted under the new keys. */
	assert_non_null(ds_fake_engine_payload(f->a.e, "before"));
	assert_non_null(ds_fake_engine_payload(f->a.e, "under-new-keys"));
	assert_int_equal(st.errors, 0);
	assert_int_equal(ds_sync15_remote_undecryptable(f->a.r), 0);
}

/* AT-15: a collection declined on the account is not synced, and nothing is written. */
static void test_declined_engine_skipped(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;

	sync_ok(&f->a);
	ds_fake_sync15_put(f->srv, "meta", "global",
			   "{\"syncID\":\"abcdefghijkl\",\"storageVersion\":5,\"engines\":{},"
			   "\"declined\":[\"" COLL "\"]}");
	ds_fake_engine_put(f->a.e, "x", "{}");
	ds_fake_sync15_clear_log(f->srv);
	assert_int_equal(dev_sync(&f->a, &st), -ECANCELED);
	assert_non_null(strstr(ds_sync15_remote_error(f->a.r), "declined"));
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "POST "), 0);
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "PUT "), 0);
	assert_true(ds_fake_engine_is_pending(f->a.e, "x"));
}

/* AT-15 / U10: another client resets our engine (new syncID) or wipes the server: the core
 * sees a replaced remote, refuses, keeps local data; after a reset the data is uploaded again. */
static void test_engine_reset_or_wipe_never_deletes_local_data(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;
	cJSON *m;
	char *s;

	ds_fake_engine_put(f->a.e, "keep", "{\"v\":1}");
	sync_ok(&f->a);
	m = cJSON_Parse(ds_fake_sync15_payload(f->srv, "meta", "global"));
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "engines"), COLL),
				  "syncID", cJSON_CreateString("resetresetre"));
	s = cJSON_PrintUnformatted(m);
	ds_fake_sync15_put(f->srv, "meta", "global", s);
	cJSON_free(s);
	cJSON_Delete(m);
	/* Another client reset this engine alone (new collection syncID, AT-15): the collection
	 * starts over in the same run, the device's data kept: every row joins as on a first
	 * sync, and the server's equal copy settles it (nothing to upload). A row only this
	 * device has goes up. */
	ds_fake_engine_put(f->a.e, "mine", "{\"v\":2}");
	ds_fake_sync15_clear_log(f->srv);
	assert_int_equal(dev_sync(&f->a, &st), 0);
	assert_non_null(ds_fake_engine_payload(f->a.e, "keep"));
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "GET storage/" COLL "?"), 1);
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "POST storage/" COLL), 1);
	assert_non_null(ds_fake_sync15_payload(f->srv, COLL, "mine"));
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
	assert_int_equal(dev_sync(&f->a, &st), 0);

	/* A wipe: another device's fresh start. */
	ds_fake_sync15_wipe(f->srv);
	assert_int_equal(dev_sync(&f->a, &st), -ESTALE);
	assert_non_null(ds_fake_engine_payload(f->a.e, "keep"));
	assert_int_equal(ds_sync_reset(f->a.c, f->a.store), 0);
	sync_ok(&f->a);
	assert_non_null(ds_fake_sync15_payload(f->srv, COLL, "keep"));
}

/* AT-06: the account moves to another node: 401, a new token with a new endpoint, the new node
 * is set up, and the collection starts over there on its own: the device's data goes there,
 * nothing local is lost. */
static void test_node_reassignment_starts_over_at_new_node(void **state)
{
	struct fx *f = *state;

	ds_fake_engine_put(f->a.e, "keep", "{\"v\":1}");
	sync_ok(&f->a);
	ds_fake_sync15_move_node(f->srv);
	sync_ok(&f->a);
	assert_non_null(ds_fake_engine_payload(f->a.e, "keep"));
	assert_non_null(ds_fake_sync15_payload(f->srv, COLL, "keep"));
	assert_int_equal(ds_fake_engine_pending(f->a.e), 0);
}

/* AT-13: X-Weave-Backoff is exposed through backoff_s. */
static void test_backoff_exposed_to_the_scheduler(void **state)
{
	struct fx *f = *state;

	ds_fake_sync15_always_header(f->srv, "X-Weave-Backoff", "600");
	sync_ok(&f->a);
	assert_int_equal(f->a.r->ops->backoff_s(f->a.r), 600);
}

/* AT-14 through a run: storage version 6 stops with "upgrade" and writes nothing. */
static void test_storage_version_6_run_stops_with_upgrade(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;

	ds_fake_sync15_put(f->srv, "meta", "global",
			   "{\"syncID\":\"abcdefghijkl\",\"storageVersion\":6,\"engines\":{}}");
	ds_fake_engine_put(f->a.e, "x", "{}");
	assert_int_equal(dev_sync(&f->a, &st), -EPROTONOSUPPORT);
	assert_non_null(strstr(ds_sync15_remote_error(f->a.r), "upgrade"));
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "PUT "), 0);
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "DELETE "), 0);
}

/* A record over the server's payload limit stays pending and is counted, not dropped. */
static void test_oversized_record_reported_and_kept_pending(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;
	char big[2100];

	ds_fake_sync15_set_config(f->srv, "{\"max_record_payload_bytes\":1000}");
	snprintf(big, sizeof(big), "{\"blob\":\"%01900d\"}", 0);
	ds_fake_engine_put(f->a.e, "big", big);
	ds_fake_engine_put(f->a.e, "small", "{}");
	assert_int_equal(dev_sync(&f->a, &st), 0);
	assert_true(st.errors >= 1);
	assert_true(ds_fake_engine_is_pending(f->a.e, "big"));
	assert_null(ds_fake_sync15_payload(f->srv, COLL, "big"));
}

/* ---- streamed downloads, storage hints -------------------------------------------------------- */

/*
 * A transport around the in-process node that behaves as the HTTP client does for a streamed
 * GET: a 2xx body goes to req->body_write in pieces of `piece` bytes instead of to memory; with
 * cut_at, the connection drops after that many bytes (-ECONNRESET). It also keeps the body of
 * every POST, for the storage hints.
 */
struct wire {
	const struct ds_sync15_transport *inner;
	struct ds_sync15_transport t;
	size_t piece, cut_at;
	char posts[64][16384];
	size_t n_posts;
	unsigned long streamed;
};

static int wire_perform(void *ctx, const struct ds_http_request *req, struct ds_http_response *resp)
{
	struct wire *w = ctx;
	int rc;

	if (req->method && strcmp(req->method, "POST") == 0 && req->body && w->n_posts < 64)
		snprintf(w->posts[w->n_posts++], sizeof(w->posts[0]), "%.*s", (int)req->body_len,
			 (const char *)req->body);
	rc = w->inner->perform(w->inner->ctx, req, resp);
	if (rc < 0 || !req->body_write || resp->status < 200 || resp->status > 299 || !resp->body)
		return rc;
	for (size_t off = 0; off < resp->body_len; off += w->piece) {
		size_t n = DS_MIN(w->piece, resp->body_len - off);

		if (w->cut_at && off + n > w->cut_at) {
			ds_http_response_free(resp);
			return -ECONNRESET;
		}
		rc = req->body_write(resp->body + off, n, req->body_write_user_data);
		if (rc < 0) {
			ds_http_response_free(resp);
			return rc;
		}
	}
	w->streamed++;
	ds_free(resp->body);
	resp->body = NULL;
	return 0;
}

/* Device a again, its remote on the wire transport. */
static void dev_open_wire(struct fx *f, struct wire *w, unsigned page)
{
	struct ds_sync15_remote_config rc = { .collection = COLL, .engine_version = 1,
					      .page_records = page };
	struct ds_policy p = { .conflict = DS_CONFLICT_SERVER_WINS, .max_retries = 3 };
	struct dev *d = &f->a;

	dev_close(d);
	w->inner = ds_fake_sync15_transport(f->srv);
	w->t.perform = wire_perform;
	w->t.ctx = w;
	if (!w->piece)
		w->piece = 7;
	snprintf(d->path, sizeof(d->path), "%s/s15-%d-%u.db", f->dir, (int)getpid(), ++seq);
	assert_int_equal(ds_store_open(d->path, &d->store), 0);
	assert_int_equal(ds_fake_engine_new(false, &d->e), 0);
	rc.auth = ds_fake_sync15_auth(f->srv);
	rc.transport = &w->t;
	rc.global = &d->g;
	assert_int_equal(ds_sync15_remote_new(&rc, &d->r), 0);
	assert_int_equal(ds_fake_collection_new(COLL, d->e, d->r, NULL, &p, &d->c), 0);
}

static void other_client_put_n(struct fx *f, const char *prefix, int n)
{
	for (int i = 0; i < n; i++) {
		char id[32], clear[96];

		snprintf(id, sizeof(id), "%s%d", prefix, i);
		snprintf(clear, sizeof(clear), "{\"id\":\"%s\",\"n\":%d,\"s\":\"{[\\\"]}\"}", id, i);
		other_client_put(f, id, clear);
	}
}

/* The whole download in one GET without "limit" (the answer read as it arrives, cut in pieces
 * of 7 bytes), every record applied, the cursor at the answer's X-Last-Modified. */
static void test_download_streamed_in_one_request(void **state)
{
	struct fx *f = *state;
	struct wire *w = calloc(1, sizeof(*w));
	struct ds_run_stats st;

	dev_open_wire(f, w, DS_SYNC15_PAGE_UNLIMITED);
	sync_ok(&f->a);
	other_client_put_n(f, "s", 1200);
	ds_fake_sync15_clear_log(f->srv);
	assert_int_equal(dev_sync(&f->a, &st), 0);
	assert_int_equal(st.fetched, 1200);
	assert_int_equal(ds_fake_engine_rows(f->a.e), 1200);
	assert_true(payload_has(&f->a, "s1199", "\"n\":1199"));
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "GET storage/" COLL "?"), 1);
	for (size_t i = 0; i < ds_fake_sync15_request_total(f->srv); i++)
		assert_null(strstr(ds_fake_sync15_request_line(f->srv, i), "limit="));
	assert_true(w->streamed >= 1);
	/* Nothing new: no download at all. */
	ds_fake_sync15_clear_log(f->srv);
	assert_int_equal(dev_sync(&f->a, &st), 0);
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "GET storage/" COLL "?"), 0);
	dev_close(&f->a);
	free(w);
}

/* A connection cut in the middle of the answer: the records read so far were applied (in
 * chunks, or not at all), the cursor did not move, and the next run reads the whole answer
 * again and converges. */
static void test_download_cut_mid_answer_keeps_cursor(void **state)
{
	struct fx *f = *state;
	struct wire *w = calloc(1, sizeof(*w));
	char cur[DS_CURSOR_MAX], ep[DS_CURSOR_MAX], before[DS_CURSOR_MAX];
	struct ds_run_stats st;

	w->piece = 4096;
	dev_open_wire(f, w, DS_SYNC15_PAGE_UNLIMITED);
	sync_ok(&f->a);
	assert_int_equal(ds_store_cursor_get(f->a.store, COLL, before, sizeof(before), ep, sizeof(ep)), 0);
	other_client_put_n(f, "c", 1500);
	w->cut_at = 200 * 1024;
	assert_int_equal(dev_sync(&f->a, &st), -ECONNRESET);
	assert_true(st.fetched > 0 && st.fetched < 1500);
	assert_int_equal(ds_store_cursor_get(f->a.store, COLL, cur, sizeof(cur), ep, sizeof(ep)), 0);
	assert_string_equal(cur, before);
	assert_true(ds_fake_engine_rows(f->a.e) < 1500);
	assert_int_equal(ds_fake_engine_rows(f->a.e) % CONFIG_DS_SYNC_APPLY_CHUNK, 0);
	w->cut_at = 0;
	assert_int_equal(dev_sync(&f->a, &st), 0);
	assert_int_equal(st.fetched, 1500);
	assert_int_equal(ds_fake_engine_rows(f->a.e), 1500);
	dev_close(&f->a);
	free(w);
}

/* A BSO longer than the server's record limit allows is a clear error, never buffered; the
 * records before it were applied, the cursor stays. A broken frame is -EPROTO. */
static void test_oversized_bso_in_answer_is_an_error(void **state)
{
	struct fx *f = *state;
	struct wire *w = calloc(1, sizeof(*w));
	struct ds_run_stats st;
	char *huge;
	size_t n = 600 * 1024;

	w->piece = 65536;
	dev_open_wire(f, w, DS_SYNC15_PAGE_UNLIMITED);
	sync_ok(&f->a);
	other_client_put(f, "a-first", "{\"id\":\"a-first\"}");
	huge = malloc(n + 1);
	memset(huge, 'x', n);
	huge[n] = '\0';
	ds_fake_sync15_put(f->srv, COLL, "z-huge", huge);
	free(huge);
	assert_int_equal(dev_sync(&f->a, &st), -EMSGSIZE);
	assert_non_null(strstr(ds_sync15_remote_error(f->a.r), "longer than"));
	assert_non_null(strstr(st.message, "longer than"));
	/* The chunk in progress ("a-first") was dropped with the page, unapplied. */
	assert_null(ds_fake_engine_payload(f->a.e, "a-first"));
	assert_null(ds_fake_engine_payload(f->a.e, "z-huge"));
	dev_close(&f->a);
	free(w);
}

/* The engine's storage hints: a record with ttl_s and sortindex reaches the server with "ttl"
 * and "sortindex" in its BSO; a record without them carries neither. */
static const struct ds_engine_ops *hint_inner;
struct hint_ctx {
	ds_record_cb cb;
	void *ud;
};

static int hint_cb(const struct ds_record *r, void *user_data)
{
	struct hint_ctx *h = user_data;
	struct ds_record c = *r;

	if (r->id && strncmp(r->id, "hist", 4) == 0) {
		c.ttl_s = 60u * 24 * 3600;
		c.sortindex = 7;
	}
	return h->cb(&c, h->ud);
}

static int hint_changes_after(struct ds_engine *e, uint64_t after, const char *id, ds_record_cb cb,
			      void *ud)
{
	struct hint_ctx h = { cb, ud };

	return hint_inner->changes_after(e, after, id, hint_cb, &h);
}

static const cJSON *posted_bso(struct wire *w, const char *id, cJSON **keep)
{
	for (size_t i = 0; i < w->n_posts; i++) {
		cJSON *a = cJSON_Parse(w->posts[i]);
		const cJSON *it;

		cJSON_ArrayForEach(it, a) {
			const cJSON *bid = cJSON_GetObjectItemCaseSensitive(it, "id");
			if (cJSON_IsString(bid) && strcmp(bid->valuestring, id) == 0) {
				*keep = a;
				return it;
			}
		}
		cJSON_Delete(a);
	}
	return NULL;
}

static void test_ttl_and_sortindex_on_the_wire(void **state)
{
	struct fx *f = *state;
	struct wire *w = calloc(1, sizeof(*w));
	struct ds_engine_ops hooked;
	const cJSON *b, *ttl, *si;
	cJSON *keep = NULL;

	dev_open_wire(f, w, DS_SYNC15_PAGE_UNLIMITED);
	hint_inner = f->a.e->ops;
	hooked = *hint_inner;
	hooked.changes_after = hint_changes_after;
	f->a.e->ops = &hooked;
	ds_fake_engine_put(f->a.e, "hist1", "{\"url\":\"https://example.com/\"}");
	ds_fake_engine_put(f->a.e, "plain", "{\"v\":1}");
	sync_ok(&f->a);
	assert_non_null(ds_fake_sync15_payload(f->srv, COLL, "hist1"));

	b = posted_bso(w, "hist1", &keep);
	assert_non_null(b);
	ttl = cJSON_GetObjectItemCaseSensitive(b, "ttl");
	si = cJSON_GetObjectItemCaseSensitive(b, "sortindex");
	assert_true(cJSON_IsNumber(ttl) && ttl->valuedouble == 5184000);
	assert_true(cJSON_IsNumber(si) && si->valuedouble == 7);
	cJSON_Delete(keep);
	b = posted_bso(w, "plain", &keep);
	assert_non_null(b);
	assert_null(cJSON_GetObjectItemCaseSensitive(b, "ttl"));
	assert_null(cJSON_GetObjectItemCaseSensitive(b, "sortindex"));
	cJSON_Delete(keep);
	f->a.e->ops = hint_inner;
	dev_close(&f->a);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_two_agents_first_creates_user_second_reads),
		T(test_unchanged_account_costs_one_request),
		T(test_paging_limit_offset_same_params_and_xius),
		T(test_412_mid_paging_restarts_from_old_last_sync),
		T(test_412_on_upload_refetches_and_retries),
		T(test_undecryptable_records_skipped_and_counted),
		T(test_rotated_keys_reread_and_recovered),
		T(test_declined_engine_skipped),
		T(test_engine_reset_or_wipe_never_deletes_local_data),
		T(test_node_reassignment_starts_over_at_new_node),
		T(test_backoff_exposed_to_the_scheduler),
		T(test_storage_version_6_run_stops_with_upgrade),
		T(test_oversized_record_reported_and_kept_pending),
		T(test_download_streamed_in_one_request),
		T(test_download_cut_mid_answer_keeps_cursor),
		T(test_oversized_bso_in_answer_is_an_error),
		T(test_ttl_and_sortindex_on_the_wire),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
