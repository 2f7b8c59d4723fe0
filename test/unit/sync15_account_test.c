/*
 * The Sync 1.5 remote as datasyncd runs it for the signed-in account, against the in-process
 * storage node (test/support/fake_sync15.c):
 *  - clients first: this device's record (id = FxA device id, name, type, protocols ["1.5"],
 *    fxaDeviceId) is written before the collection's records, once per account state, again
 *    after a fresh start, never in read-only mode or when the account declines clients;
 *  - the remote's own words reach the run's message (storage version 6: "upgrade datasync");
 *  - AT-06: a move to another storage node starts the collection over there on its own while
 *    a wipe at the same node is refused, local data kept either way;
 *  - the daemon's servers: a too long URL is refused, nothing changes.
 */
#include "core/ds_core.h"
#include "remote/sync15/ds_sync15.h"
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

static const uint8_t KSYNC[64] = { 0x5a, 0x01, [31] = 0x99, [32] = 0x42, [63] = 0x0f };
#define COLL "notes"
#define DEVICE_ID "0123456789abcdef0123456789abcdef"

static int device_calls;
static int device_rc;

static int test_device(struct ds_sync15_device *out)
{
	device_calls++;
	if (device_rc)
		return device_rc;
	snprintf(out->id, sizeof(out->id), "%s", DEVICE_ID);
	snprintf(out->name, sizeof(out->name), "Kitchen TV");
	snprintf(out->type, sizeof(out->type), "tv");
	return 0;
}

struct fx {
	struct ds_fake_sync15 *srv;
	struct ds_store *store;
	struct ds_collection *c;
	struct ds_engine *e;
	struct ds_remote *r;
	struct ds_sync15_global g;
	char dir[512], path[600];
};

static void open_coll(struct fx *f, bool read_only)
{
	struct ds_sync15_remote_config rc = { .collection = COLL, .engine_version = 1,
					      .read_only = read_only, .device = test_device };
	struct ds_policy p = { .direction = DS_DIR_TWO_WAY, .max_retries = 3 };

	rc.auth = ds_fake_sync15_auth(f->srv);
	rc.transport = ds_fake_sync15_transport(f->srv);
	rc.global = &f->g;
	assert_int_equal(ds_fake_engine_new(false, &f->e), 0);
	assert_int_equal(ds_sync15_remote_new(&rc, &f->r), 0);
	assert_int_equal(ds_fake_collection_new(COLL, f->e, f->r, NULL, &p, &f->c), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *t = getenv("DS_TEST_TMP");

	if (t && *t)
		snprintf(f->dir, sizeof(f->dir), "%s", t);
	else {
		snprintf(f->dir, sizeof(f->dir), "%s/ds-s15a-XXXXXX", P_tmpdir);
		assert_non_null(mkdtemp(f->dir));
	}
	snprintf(f->path, sizeof(f->path), "%s/s15a-%d.db", f->dir, (int)getpid());
	assert_int_equal(ds_store_open(f->path, &f->store), 0);
	f->srv = ds_fake_sync15_new(KSYNC);
	device_calls = 0;
	device_rc = 0;
	open_coll(f, false);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ds_fake_collection_free(f->c);
	ds_sync15_global_clear(&f->g);
	ds_fake_sync15_free(f->srv);
	ds_store_close(f->store);
	unlink(f->path);
	free(f);
	return 0;
}

static int run(struct fx *f, struct ds_run_stats *st)
{
	return ds_sync_run(f->c, f->store, st, NULL, NULL);
}

static void run_ok(struct fx *f)
{
	struct ds_run_stats st;
	int rc = run(f, &st);

	if (rc)
		fail_msg("run failed: %s (%s)", st.message, ds_strerror(rc));
}

/* Index of the first logged request starting with prefix, or -1. */
static long first_request(struct fx *f, const char *prefix)
{
	const char *l;

	for (size_t i = 0; (l = ds_fake_sync15_request_line(f->srv, i)); i++)
		if (!strncmp(l, prefix, strlen(prefix)))
			return (long)i;
	return -1;
}

static cJSON *client_record(struct fx *f)
{
	const char *payload = ds_fake_sync15_payload(f->srv, "clients", DEVICE_ID);
	char *clear = NULL;
	size_t len;
	cJSON *o;

	assert_non_null(payload);
	assert_int_equal(ds_sync15_decrypt(ds_sync15_keyring_get(&f->g.keys, "clients"), payload,
					   &clear, &len), 0);
	o = cJSON_Parse(clear);
	ds_free(clear);
	assert_non_null(o);
	return o;
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static void test_client_record_written_before_the_collections_records(void **state)
{
	struct fx *f = *state;
	long put, post;
	cJSON *o, *p;

	ds_fake_engine_put(f->e, "r1", "{\"title\":\"one\"}");
	run_ok(f);
	put = first_request(f, "PUT storage/clients/" DEVICE_ID);
	post = first_request(f, "POST storage/" COLL);
	assert_true(put >= 0);
	assert_true(post > put);
	o = client_record(f);
	assert_string_equal(jstr(o, "id"), DEVICE_ID);
	assert_string_equal(jstr(o, "fxaDeviceId"), DEVICE_ID);
	assert_string_equal(jstr(o, "name"), "Kitchen TV");
	assert_string_equal(jstr(o, "type"), "tv");
	p = cJSON_GetObjectItemCaseSensitive(o, "protocols");
	assert_int_equal(cJSON_GetArraySize(p), 1);
	assert_string_equal(cJSON_GetArrayItem(p, 0)->valuestring, "1.5");
	assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(o, "commands")));
	cJSON_Delete(o);
}

static void test_client_record_once_per_state_and_again_after_a_fresh_start(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;

	run_ok(f);
	run_ok(f);
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "PUT storage/clients/"), 1);
	/* A wipe: the remote sets the account up again and writes its record there again. */
	ds_fake_sync15_wipe(f->srv);
	assert_int_equal(run(f, &st), -ESTALE);
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "PUT storage/clients/"), 2);
	assert_non_null(ds_fake_sync15_payload(f->srv, "clients", DEVICE_ID));
}

static void test_no_client_record_read_only_or_without_a_device(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;

	/* The account set up by a writer first; then a read-only collection writes no record. */
	run_ok(f);
	ds_fake_collection_free(f->c);
	ds_sync15_global_clear(&f->g);
	ds_fake_sync15_clear_log(f->srv);
	open_coll(f, true);
	assert_int_equal(run(f, &st), 0);
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "PUT storage/clients/"), 0);

	ds_fake_collection_free(f->c);
	ds_sync15_global_clear(&f->g);
	open_coll(f, false);
	device_rc = -ENOENT; /* never registered with the account */
	run_ok(f);
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "PUT storage/clients/"), 0);
}

static void test_declined_clients_get_no_record(void **state)
{
	struct fx *f = *state;
	struct ds_sync15_keybundle kb;
	struct ds_sync15_keyring kr;
	char *keys = NULL;

	/* Another client's setup: keys under kSync, clients declined. */
	ds_sync15_keybundle_from_ksync(KSYNC, &kb);
	assert_int_equal(ds_sync15_keyring_new_random(&kr), 0);
	assert_int_equal(ds_sync15_keyring_encrypt(&kb, &kr, &keys), 0);
	assert_int_equal(ds_fake_sync15_put(f->srv, "crypto", "keys", keys), 0);
	ds_free(keys);
	ds_sync15_keyring_clear(&kr);
	ds_sync15_keybundle_wipe(&kb);
	ds_fake_sync15_put(f->srv, "meta", "global",
			   "{\"syncID\":\"abcdefghijkl\",\"storageVersion\":5,"
			   "\"engines\":{\"" COLL "\":{\"version\":1,\"syncID\":\"mnopqrstuvwx\"}},"
			   "\"declined\":[\"clients\"]}");
	run_ok(f);
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "PUT storage/clients/"), 0);
	assert_int_equal(ds_fake_sync15_count(f->srv, "clients"), 0);
}

static void test_failed_run_message_has_the_remotes_words(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;

	ds_fake_sync15_put(f->srv, "meta", "global",
			   "{\"syncID\":\"abcdefghijkl\",\"storageVersion\":6,\"engines\":{}}");
	assert_int_equal(run(f, &st), -EPROTONOSUPPORT);
	assert_non_null(strstr(st.message, "preparing the remote failed: "));
	assert_non_null(strstr(st.message, "upgrade datasync"));
	assert_int_equal(device_calls, 0);
}

static void test_node_move_starts_over_wipe_is_refused(void **state)
{
	struct fx *f = *state;
	struct ds_run_stats st;

	ds_fake_engine_put(f->e, "keep", "{\"v\":1}");
	run_ok(f);
	ds_fake_sync15_move_node(f->srv);
	run_ok(f);
	assert_non_null(ds_fake_sync15_payload(f->srv, COLL, "keep"));
	assert_non_null(ds_fake_sync15_payload(f->srv, "clients", DEVICE_ID));
	/* The same node wiped: refused, data kept, until a reset. */
	ds_fake_sync15_wipe(f->srv);
	assert_int_equal(run(f, &st), -ESTALE);
	assert_non_null(strstr(st.message, "wiped or replaced"));
	assert_non_null(ds_fake_engine_payload(f->e, "keep"));
	assert_int_equal(ds_sync_reset(f->c, f->store), 0);
	run_ok(f);
	assert_non_null(ds_fake_sync15_payload(f->srv, COLL, "keep"));
}

static void test_account_servers_too_long_refused(void **state)
{
	char big[700], ca[64];
	struct ds_sync15_account_config ac = { .fxa_url = big };

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(ds_sync15_account_set_servers(&ac), -EINVAL);
	ac.fxa_url = "http://127.0.0.1:1";
	ac.ca_bundle = "ca.pem";
	assert_int_equal(ds_sync15_account_set_servers(&ac), 0);
	assert_int_equal(ds_sync15_account_ca_bundle(ca, sizeof(ca)), 6);
	assert_string_equal(ca, "ca.pem");
	assert_int_equal(ds_sync15_account_ca_bundle(ca, 4), -ENAMETOOLONG);
	assert_int_equal(ds_sync15_account_set_servers(NULL), 0);
	assert_int_equal(ds_sync15_account_ca_bundle(ca, sizeof(ca)), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_client_record_written_before_the_collections_records),
		T(test_client_record_once_per_state_and_again_after_a_fresh_start),
		T(test_no_client_record_read_only_or_without_a_device),
		T(test_declined_clients_get_no_record),
		T(test_failed_run_message_has_the_remotes_words),
		T(test_node_move_starts_over_wipe_is_refused),
		cmocka_unit_test(test_account_servers_too_long_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
