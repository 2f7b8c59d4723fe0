/*
 * meta/global and crypto/keys (global_state.c) against the in-process storage node: fresh start
 * and new-user creation with X-If-Unmodified-Since: 0, storage version rules, the loop guard,
 * meta/global fix-ups that keep unknown engines, declined merging, the cached state, keys that
 * do not decrypt, two devices racing to create the user, and the HMAC re-read of crypto/keys
 * (AT-14, AT-15, U5, U6, U10 of sync15.md).
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

static const uint8_t KSYNC[64] = { 0x11, 0x22, 0x33, 0x44, 5, 6, 7, 8, 9, 10, [40] = 0x99 };

struct fx {
	struct ds_fake_sync15 *srv;
	struct ds_sync15_client *c;
	struct ds_sync15_global g;
	struct ds_sync15_setup s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct ds_sync15_client_config cc = { 0 };

	f->srv = ds_fake_sync15_new(KSYNC);
	cc.auth = ds_fake_sync15_auth(f->srv);
	cc.transport = ds_fake_sync15_transport(f->srv);
	assert_int_equal(ds_sync15_client_new(&cc, &f->c), 0);
	f->s = (struct ds_sync15_setup){ .collection = "dstest", .engine_version = 1, .may_write = true };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ds_sync15_global_clear(&f->g);
	ds_sync15_client_free(f->c);
	ds_fake_sync15_free(f->srv);
	free(f);
	return 0;
}

static int run_setup(struct fx *f)
{
	cJSON *info = NULL;
	int rc = ds_sync15_global_setup(f->c, &f->g, &f->s, KSYNC, &info);

	if (rc == 0)
		assert_non_null(info);
	else
		assert_null(info);
	cJSON_Delete(info);
	return rc;
}

static cJSON *server_meta(struct fx *f)
{
	const char *p = ds_fake_sync15_payload(f->srv, "meta", "global");

	assert_non_null(p);
	return cJSON_Parse(p);
}

static void put_meta(struct fx *f, const char *json)
{
	ds_fake_sync15_put(f->srv, "meta", "global", json);
}

/* Write crypto/keys as another device would, under kSync (or another key). */
static void put_keys(struct fx *f, const uint8_t ksync[64])
{
	struct ds_sync15_keybundle kb;
	struct ds_sync15_keyring kr;
	char *payload;

	ds_sync15_keybundle_from_ksync(ksync, &kb);
	assert_int_equal(ds_sync15_keyring_new_random(&kr), 0);
	assert_int_equal(ds_sync15_keyring_encrypt(&kb, &kr, &payload), 0);
	ds_fake_sync15_put(f->srv, "crypto", "keys", payload);
	ds_free(payload);
	ds_sync15_keyring_clear(&kr);
}

static bool requested(struct fx *f, const char *prefix)
{
	return ds_fake_sync15_count_requests(f->srv, prefix) > 0;
}

static const char *xius_of(struct fx *f, const char *prefix)
{
	for (size_t i = 0; i < ds_fake_sync15_request_total(f->srv); i++)
		if (!strncmp(ds_fake_sync15_request_line(f->srv, i), prefix, strlen(prefix)))
			return ds_fake_sync15_request_xius(f->srv, i);
	return NULL;
}

/* AT-14 / new user: an empty account gets a wipe, a meta/global listing every known engine and
 * random keys, both created with X-If-Unmodified-Since: 0. */
static void test_meta_global_missing_creates_user_with_xius_zero(void **state)
{
	struct fx *f = *state;
	struct ds_sync15_keybundle kb;
	struct ds_sync15_keyring kr;
	cJSON *m;

	assert_int_equal(run_setup(f), 0);
	assert_true(f->g.ready);
	assert_string_equal(ds_fake_sync15_request_line(f->srv, 0), "GET info/collections");
	assert_true(requested(f, "DELETE "));
	assert_string_equal(xius_of(f, "PUT storage/meta/global"), "0");
	assert_string_equal(xius_of(f, "PUT storage/crypto/keys"), "0");
	m = server_meta(f);
	assert_int_equal(cJSON_GetObjectItem(m, "storageVersion")->valueint, 5);
	assert_int_equal(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(m, "syncID"))), 12);
	for (const struct ds_sync15_engine_def *d = ds_sync15_default_engines; d->name; d++) {
		const cJSON *e = ds_sync15_meta_engine(m, d->name);
		assert_non_null(e);
		assert_int_equal(cJSON_GetObjectItem(e, "version")->valueint, d->version);
		assert_int_equal(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(e, "syncID"))), 12);
	}
	assert_non_null(ds_sync15_meta_engine(m, "dstest"));
	assert_true(cJSON_IsArray(cJSON_GetObjectItem(m, "declined")));
	cJSON_Delete(m);
	/* The keys the server holds decrypt with kSync and are the ones in the state. */
	ds_sync15_keybundle_from_ksync(KSYNC, &kb);
	assert_int_equal(ds_sync15_keyring_decrypt(&kb, ds_fake_sync15_payload(f->srv, "crypto", "keys"),
						   &kr), 0);
	assert_true(ds_sync15_keyring_equal(&kr, &f->g.keys));
	ds_sync15_keyring_clear(&kr);
}

/* AT-14: storageVersion 6 -> refused, the person told to upgrade, nothing written. */
static void test_storage_version_above_5_refused_without_writes(void **state)
{
	struct fx *f = *state;

	put_meta(f, "{\"syncID\":\"abcdefghijkl\",\"storageVersion\":6,\"engines\":{}}");
	put_keys(f, KSYNC);
	assert_int_equal(run_setup(f), -EPROTONOSUPPORT);
	assert_non_null(strstr(ds_sync15_client_error(f->c), "upgrade"));
	assert_false(requested(f, "PUT "));
	assert_false(requested(f, "POST "));
	assert_false(requested(f, "DELETE "));
	assert_false(f->g.ready);
}

/* AT-14: storageVersion 4 -> fresh start. */
static void test_storage_version_below_5_fresh_start(void **state)
{
	struct fx *f = *state;
	cJSON *m;

	put_meta(f, "{\"syncID\":\"abcdefghijkl\",\"storageVersion\":4,\"engines\":{}}");
	ds_fake_sync15_put(f->srv, "history", "old", "x");
	assert_int_equal(run_setup(f), 0);
	assert_true(requested(f, "DELETE "));
	assert_int_equal(ds_fake_sync15_count(f->srv, "history"), 0);
	m = server_meta(f);
	assert_int_equal(cJSON_GetObjectItem(m, "storageVersion")->valueint, 5);
	cJSON_Delete(m);
}

static void wipe_before_meta_read(struct ds_fake_sync15 *s, const char *method, const char *path,
				  unsigned long nth, void *ud)
{
	(void)nth, (void)ud;
	if (!strcmp(method, "GET") && !strcmp(path, "storage/meta/global"))
		ds_fake_sync15_wipe(s);
}

/* AT-14 / U10: another client wiping again and again: one fresh start per run, then SetupRace. */
static void test_loop_guard_second_fresh_start_is_setup_race(void **state)
{
	struct fx *f = *state;

	ds_fake_sync15_set_hook(f->srv, wipe_before_meta_read, NULL);
	assert_int_equal(run_setup(f), -EAGAIN);
	assert_non_null(strstr(ds_sync15_client_error(f->c), "race"));
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "DELETE "), 1);
}

/* U5: a meta/global made by another client without our collection gets an entry, written back
 * over exactly the version read; unknown engines and fields are kept. */
static void test_meta_fixup_keeps_unknown_engines_and_uses_xius(void **state)
{
	struct fx *f = *state;
	char ts[DS_SYNC15_TS_MAX];
	cJSON *m;

	put_meta(f, "{\"syncID\":\"abcdefghijkl\",\"storageVersion\":5,\"futureField\":[1],"
		    "\"engines\":{\"someengine\":{\"version\":7,\"syncID\":\"zzzzzzzzzzzz\"}},"
		    "\"declined\":[\"passwords\"]}");
	ds_sync15_ts_format(ds_fake_sync15_modified(f->srv, "meta", "global"), ts);
	put_keys(f, KSYNC);
	assert_int_equal(run_setup(f), 0);
	assert_false(requested(f, "DELETE "));
	assert_string_equal(xius_of(f, "PUT storage/meta/global"), ts);
	m = server_meta(f);
	assert_non_null(ds_sync15_meta_engine(m, "dstest"));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
				    ds_sync15_meta_engine(m, "someengine"), "syncID")), "zzzzzzzzzzzz");
	assert_non_null(cJSON_GetObjectItem(m, "futureField"));
	assert_true(ds_sync15_meta_declined(m, "passwords"));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(m, "syncID")), "abcdefghijkl");
	cJSON_Delete(m);
}

/* Declined merging as pure rules (AS fixup_meta_global; DOCS: engines wins over declined). */
static void test_meta_declined_rules(void **state)
{
	cJSON *m = cJSON_Parse("{\"engines\":{\"tabs\":{\"version\":1,\"syncID\":\"aaaaaaaaaaaa\"},"
			       "\"forms\":{\"version\":1}},\"declined\":[\"history\",\"tabs\"]}");

	(void)state;
	/* declined and not enabled here: untouched */
	assert_int_equal(ds_sync15_meta_fixup(m, "history", 1, false), 0);
	assert_true(ds_sync15_meta_declined(m, "history"));
	assert_null(ds_sync15_meta_engine(m, "history"));
	/* in both lists: engines wins, declined loses it */
	assert_int_equal(ds_sync15_meta_fixup(m, "tabs", 1, false), 1);
	assert_false(ds_sync15_meta_declined(m, "tabs"));
	/* no syncID: one is added */
	assert_int_equal(ds_sync15_meta_fixup(m, "forms", 1, false), 1);
	assert_non_null(cJSON_GetObjectItem(ds_sync15_meta_engine(m, "forms"), "syncID"));
	/* enabled by the person: out of declined, into engines */
	assert_int_equal(ds_sync15_meta_fixup(m, "history", 1, true), 1);
	assert_false(ds_sync15_meta_declined(m, "history"));
	assert_non_null(ds_sync15_meta_engine(m, "history"));
	/* nothing to do */
	assert_int_equal(ds_sync15_meta_fixup(m, "history", 1, false), 0);
	cJSON_Delete(m);
}

/* An unchanged account costs one request: the cached state is reused on equal timestamps. */
static void test_cached_state_costs_one_info_collections(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run_setup(f), 0);
	ds_fake_sync15_clear_log(f->srv);
	assert_int_equal(run_setup(f), 0);
	assert_int_equal(ds_fake_sync15_request_total(f->srv), 1);
	assert_string_equal(ds_fake_sync15_request_line(f->srv, 0), "GET info/collections");
	/* New keys from another device: the state is read again. */
	put_keys(f, KSYNC);
	ds_fake_sync15_clear_log(f->srv);
	assert_int_equal(run_setup(f), 0);
	assert_true(requested(f, "GET storage/crypto/keys"));
}

/* crypto/keys under another key (kB changed): reported, and never a fresh start (that would
 * wipe what other devices can read). */
static void test_keys_under_another_key_reported_not_wiped(void **state)
{
	struct fx *f = *state;
	uint8_t other[64] = { 0x55 };

	put_meta(f, "{\"syncID\":\"abcdefghijkl\",\"storageVersion\":5,"
		    "\"engines\":{\"dstest\":{\"version\":1,\"syncID\":\"bbbbbbbbbbbb\"}}}");
	put_keys(f, other);
	assert_int_equal(run_setup(f), -EBADMSG);
	assert_non_null(strstr(ds_sync15_client_error(f->c), "crypto/keys"));
	assert_false(requested(f, "DELETE "));
	assert_false(requested(f, "PUT "));
}

static void other_device_creates_first(struct ds_fake_sync15 *s, const char *method,
				       const char *path, unsigned long nth, void *ud)
{
	struct fx *f = ud;

	(void)nth;
	if (!strcmp(method, "PUT") && !strcmp(path, "storage/meta/global") &&
	    !ds_fake_sync15_payload(s, "meta", "global")) {
		put_meta(f, "{\"syncID\":\"winnerwinner\",\"storageVersion\":5,"
			    "\"engines\":{\"dstest\":{\"version\":1,\"syncID\":\"cccccccccccc\"}}}");
		put_keys(f, KSYNC);
	}
}

/* Two devices create the user at once: X-If-Unmodified-Since: 0 lets exactly one win, and the
 * other reads the winner's setup instead of wiping it. */
static void test_two_devices_creating_user_one_wins(void **state)
{
	struct fx *f = *state;
	cJSON *m;

	ds_fake_sync15_set_hook(f->srv, other_device_creates_first, f);
	assert_int_equal(run_setup(f), 0);
	m = server_meta(f);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(m, "syncID")), "winnerwinner");
	cJSON_Delete(m);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(f->g.meta, "syncID")),
			    "winnerwinner");
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "DELETE "), 1);
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "PUT storage/crypto/keys"), 0);
}

/* U6: after an HMAC failure crypto/keys is re-read once: new keys -> 1, same keys -> 0, and not
 * again within the interval (no crash loop). */
static void test_hmac_failure_rereads_keys_once(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run_setup(f), 0);
	ds_fake_sync15_clear_log(f->srv);
	assert_int_equal(ds_sync15_global_refetch_keys(f->c, &f->g, KSYNC), 0);
	assert_int_equal(ds_fake_sync15_request_total(f->srv), 1);
	put_keys(f, KSYNC);
	assert_int_equal(ds_sync15_global_refetch_keys(f->c, &f->g, KSYNC), 0); /* rate-limited */
	assert_int_equal(ds_fake_sync15_request_total(f->srv), 1);
	f->g.last_hmac_refetch_mono_ms = 0;
	assert_int_equal(ds_sync15_global_refetch_keys(f->c, &f->g, KSYNC), 1);
	assert_int_equal(ds_fake_sync15_request_total(f->srv), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_meta_global_missing_creates_user_with_xius_zero),
		T(test_storage_version_above_5_refused_without_writes),
		T(test_storage_version_below_5_fresh_start),
		T(test_loop_guard_second_fresh_start_is_setup_race),
		T(test_meta_fixup_keeps_unknown_engines_and_uses_xius),
		T(test_meta_declined_rules),
		T(test_cached_state_costs_one_info_collections),
		T(test_keys_under_another_key_reported_not_wiped),
		T(test_two_devices_creating_user_one_wins),
		T(test_hmac_failure_rereads_keys_once),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
