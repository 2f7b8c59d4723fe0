/*
 * The Kinto remote's record codec (docs/remote-kinto.md "Wire format"): the field mapping of
 * test/vectors/kinto_codec.txt in both directions, values kept byte for byte, the encrypted
 * form against an independent encryption, its bindings (id, collection, key id), what a device
 * without the key sees, malformed records, and every allocation failing in turn.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "remote/kinto/kinto_priv.h"
#include "test/vectors/vector_file.h"

#include <stdio.h>
#include <string.h>

#define BIG 4096

static char *text(const struct vec_record *r, const char *key)
{
	static char bufs[4][BIG];
	static int next;
	char *b = bufs[next++ % 4];

	if (vec_text(r, key, b, BIG) < 0)
		fail_msg("vector at line %u: '%s' missing", r->line, key);
	return b;
}

/* A Kinto record around a data object, as a list or a batch answer carries it. */
static void wrap(const char *id, int64_t lm, const char *data, char *out, size_t cap)
{
	snprintf(out, cap, "{\"id\":\"%s\",\"last_modified\":%lld%s%s", id, (long long)lm,
		 strcmp(data, "{}") ? "," : "}", strcmp(data, "{}") ? data + 1 : "");
}

static void test_field_mapping_vectors_both_ways(void **state)
{
	struct vec_file vf;
	unsigned n = 0;

	(void)state;
	assert_int_equal(vec_load("kinto_codec.txt", &vf), 0);
	for (size_t i = 0; i < vf.n; i++) {
		const struct vec_record *r = &vf.recs[i];
		struct ds_record rec;
		char rtext[BIG], *out = NULL;

		if (!vec_raw(r, "payload"))
			continue;
		assert_int_equal(ds_kinto_encode(NULL, "notes", "WzFd", text(r, "payload"), &out), 0);
		assert_string_equal(out, text(r, "data"));
		ds_free(out);
		wrap("WzFd", 1700000000001, text(r, "data"), rtext, sizeof(rtext));
		assert_int_equal(ds_kinto_decode(NULL, "notes", rtext, strlen(rtext), &rec), 0);
		assert_string_equal(rec.id, "WzFd");
		assert_int_equal(rec.modified_ms, 1700000000001);
		assert_false(rec.deleted);
		assert_string_equal(rec.payload, text(r, "payload"));
		ds_record_clear(&rec);
		n++;
	}
	assert_true(n >= 5);
	vec_free(&vf);
}

static void load_key(struct ds_kinto_key *k, const char *hex)
{
	memset(k, 0, sizeof(*k));
	assert_int_equal(ds_hex_decode(hex, strlen(hex), k->key, sizeof(k->key)), DS_KINTO_KEY_LEN);
	assert_int_equal(ds_kinto_key_finish(k), 0);
}

static void test_encrypted_vector_from_an_independent_implementation(void **state)
{
	struct vec_file vf;
	unsigned n = 0;

	(void)state;
	assert_int_equal(vec_load("kinto_codec.txt", &vf), 0);
	for (size_t i = 0; i < vf.n; i++) {
		const struct vec_record *r = &vf.recs[i];
		struct ds_kinto_key k;
		struct ds_record rec;
		uint8_t raw[DS_KINTO_KEY_LEN];
		char hex[65];

		if (!vec_raw(r, "record"))
			continue;
		assert_int_equal(vec_bytes(r, "key", raw, sizeof(raw)), DS_KINTO_KEY_LEN);
		ds_hex_encode(raw, sizeof(raw), hex, sizeof(hex));
		load_key(&k, hex);
		assert_string_equal(k.kid, text(r, "kid"));
		const char *rt = text(r, "record");
		assert_int_equal(ds_kinto_decode(&k, text(r, "coll"), rt, strlen(rt), &rec), 0);
		assert_string_equal(rec.id, text(r, "id"));
		assert_string_equal(rec.payload, text(r, "plain"));
		ds_record_clear(&rec);
		n++;
	}
	assert_int_equal(n, 1);
	vec_free(&vf);
}

static const char KEY1[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char KEY2[] = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char PAYLOAD[] = "{\"id\":42,\"title\":\"secret\",\"n\":3.0}";

static void encrypted_record(const struct ds_kinto_key *k, const char *coll, const char *id,
			     char *out, size_t cap)
{
	char *data = NULL;

	assert_int_equal(ds_kinto_encode(k, coll, id, PAYLOAD, &data), 0);
	assert_null(strstr(data, "secret"));
	assert_null(strstr(data, "title"));
	wrap(id, 1700000000002, data, out, cap);
	ds_free(data);
}

static void test_encrypted_round_trip(void **state)
{
	struct ds_kinto_key k;
	struct ds_record rec;
	char r[BIG];

	(void)state;
	load_key(&k, KEY1);
	encrypted_record(&k, "notes", "WzQyXQ", r, sizeof(r));
	assert_int_equal(ds_kinto_decode(&k, "notes", r, strlen(r), &rec), 0);
	assert_string_equal(rec.payload, PAYLOAD);
	ds_record_clear(&rec);
}

static void test_encrypted_record_moved_to_another_id_or_collection_fails(void **state)
{
	struct ds_kinto_key k;
	struct ds_record rec;
	char r[BIG], *p;

	(void)state;
	load_key(&k, KEY1);
	encrypted_record(&k, "notes", "WzQyXQ", r, sizeof(r));
	assert_int_equal(ds_kinto_decode(&k, "other", r, strlen(r), &rec), -EBADMSG);
	p = strstr(r, "WzQyXQ");
	memcpy(p, "WzQzXQ", 6); /* the server swaps it under another id */
	assert_int_equal(ds_kinto_decode(&k, "notes", r, strlen(r), &rec), -EBADMSG);
}

static void test_tampered_ciphertext_fails(void **state)
{
	struct ds_kinto_key k;
	struct ds_record rec;
	char r[BIG], *p;

	(void)state;
	load_key(&k, KEY1);
	encrypted_record(&k, "notes", "WzQyXQ", r, sizeof(r));
	p = strstr(r, "\"ct\":\"") + 8;
	*p = *p == 'A' ? 'B' : 'A';
	assert_int_equal(ds_kinto_decode(&k, "notes", r, strlen(r), &rec), -EBADMSG);
	assert_null(rec.id);
	assert_null(rec.payload);
}

static void test_device_without_the_key_gets_an_error_not_ciphertext(void **state)
{
	struct ds_kinto_key k, other;
	struct ds_record rec;
	char r[BIG];

	(void)state;
	load_key(&k, KEY1);
	load_key(&other, KEY2);
	encrypted_record(&k, "notes", "WzQyXQ", r, sizeof(r));
	assert_int_equal(ds_kinto_decode(NULL, "notes", r, strlen(r), &rec), -ENOKEY);
	assert_null(rec.payload);
	assert_int_equal(ds_kinto_decode(&other, "notes", r, strlen(r), &rec), -EKEYREJECTED);
	assert_null(rec.payload);
}

static void test_cleartext_record_in_an_encrypted_collection_is_refused(void **state)
{
	static const char r[] = "{\"id\":\"a\",\"last_modified\":3,\"title\":\"planted\"}";
	struct ds_kinto_key k;
	struct ds_record rec;

	(void)state;
	load_key(&k, KEY1);
	assert_int_equal(ds_kinto_decode(&k, "notes", r, strlen(r), &rec), -EACCES);
	assert_null(rec.payload);
}

static void test_tombstone_decodes_as_deletion_with_or_without_key(void **state)
{
	static const char r[] = "{\"id\":\"WzFd\",\"last_modified\":1700000000005,\"deleted\":true}";
	struct ds_kinto_key k;
	struct ds_record rec;

	(void)state;
	load_key(&k, KEY1);
	assert_int_equal(ds_kinto_decode(NULL, "notes", r, strlen(r), &rec), 0);
	assert_true(rec.deleted);
	assert_null(rec.payload);
	assert_int_equal(rec.modified_ms, 1700000000005);
	ds_record_clear(&rec);
	assert_int_equal(ds_kinto_decode(&k, "notes", r, strlen(r), &rec), 0);
	assert_true(rec.deleted);
	ds_record_clear(&rec);
}

static void test_malformed_records_are_refused(void **state)
{
	static const char *const bad[] = {
		"{\"last_modified\":1,\"x\":1}",            /* no id */
		"{\"id\":\"a\",\"x\":1}",                   /* no last_modified */
		"{\"id\":\"a/b\",\"last_modified\":1}",     /* not a Kinto id */
		"{\"id\":\"a\",\"last_modified\":\"1\"}",   /* not a number */
		"{\"id\":\"a\",\"last_modified\":1,\"x\":}", /* no value */
		"{\"id\":\"a\",\"last_modified\":1} x",     /* trailing text */
		"{\"id\":\"a\",\"last_modified\":1,\"x\":\"\x01\"}", /* control char */
		"{\"id\":\"a\",\"last_modified\":1,\"x\":\"\\q\"}",  /* bad escape */
		"{\"id\":\"a\",\"last_modified\":1,\"x\":[1,2}",    /* mismatched */
		"{\"id\":\"a\",\"last_modified\":1,\"ds_enc\":{\"v\":2}}", /* unknown version */
		"[1]",
		"",
	};
	char deep[400];
	struct ds_record rec;

	(void)state;
	for (size_t i = 0; i < DS_ARRAY_SIZE(bad); i++) {
		int rc = ds_kinto_decode(NULL, "notes", bad[i], strlen(bad[i]), &rec);

		if (rc != -EBADMSG)
			fail_msg("case %zu: got %d", i, rc);
		assert_null(rec.id);
	}
	/* Nesting deeper than the scanner's bound. */
	strcpy(deep, "{\"id\":\"a\",\"last_modified\":1,\"x\":");
	for (int i = 0; i < 100; i++)
		strcat(deep, "[");
	for (int i = 0; i < 100; i++)
		strcat(deep, "]");
	strcat(deep, "}");
	assert_int_equal(ds_kinto_decode(NULL, "notes", deep, strlen(deep), &rec), -EBADMSG);
	/* A payload that is not an object is never sent. */
	char *out = NULL;
	assert_int_equal(ds_kinto_encode(NULL, "notes", "a", "[1,2]", &out), -EBADMSG);
	assert_null(out);
}

static void test_ids_kinto_accepts(void **state)
{
	(void)state;
	assert_true(ds_kinto_id_valid("WzFd"));
	assert_true(ds_kinto_id_valid("a-b_c9"));
	assert_false(ds_kinto_id_valid(""));
	assert_false(ds_kinto_id_valid("_a"));
	assert_false(ds_kinto_id_valid("-a"));
	assert_false(ds_kinto_id_valid("a/b"));
	assert_false(ds_kinto_id_valid("a=b"));
	assert_false(ds_kinto_id_valid(NULL));
}

static void test_kinto_errors_map_to_errno(void **state)
{
	(void)state;
	assert_int_equal(ds_kinto_status_errno(412, 114), -ESTALE);
	assert_int_equal(ds_kinto_status_errno(401, 104), -EACCES);
	assert_int_equal(ds_kinto_status_errno(403, 121), -EPERM);
	assert_int_equal(ds_kinto_status_errno(404, 110), -ENOENT);
	assert_int_equal(ds_kinto_status_errno(409, 122), -EAGAIN);
	assert_int_equal(ds_kinto_status_errno(503, 201), -EAGAIN);
	assert_int_equal(ds_kinto_status_errno(410, 202), -ENOTSUP);
	assert_int_equal(ds_kinto_status_errno(413, 113), -EFBIG);
	assert_int_equal(ds_kinto_status_errno(400, 107), -EINVAL);
	assert_int_equal(ds_kinto_status_errno(500, 999), -EIO);
}

static void test_every_allocation_failing_in_turn(void **state)
{
	struct ds_kinto_key k;
	char r[BIG];
	unsigned long total;

	(void)state;
	load_key(&k, KEY1);
	encrypted_record(&k, "notes", "WzQyXQ", r, sizeof(r));
	ds_alloc_fail_after(0);
	{
		struct ds_record rec;
		char *out = NULL;

		assert_int_equal(ds_kinto_encode(&k, "notes", "WzQyXQ", PAYLOAD, &out), 0);
		assert_int_equal(ds_kinto_decode(&k, "notes", r, strlen(r), &rec), 0);
		ds_free(out);
		ds_record_clear(&rec);
	}
	total = ds_alloc_fail_after(0);
	for (unsigned long n = 1; n <= total + 1; n++) {
		struct ds_record rec;
		char *out = NULL;
		int rc1, rc2;

		ds_alloc_fail_after(n);
		rc1 = ds_kinto_encode(&k, "notes", "WzQyXQ", PAYLOAD, &out);
		rc2 = ds_kinto_decode(&k, "notes", r, strlen(r), &rec);
		ds_alloc_fail_after(0);
		assert_true(rc1 == 0 || rc1 == -ENOMEM);
		assert_true(rc2 == 0 || rc2 == -ENOMEM);
		if (rc1 == 0)
			ds_free(out);
		else
			assert_null(out);
		if (rc2 == 0)
			ds_record_clear(&rec);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_field_mapping_vectors_both_ways),
		cmocka_unit_test(test_encrypted_vector_from_an_independent_implementation),
		cmocka_unit_test(test_encrypted_round_trip),
		cmocka_unit_test(test_encrypted_record_moved_to_another_id_or_collection_fails),
		cmocka_unit_test(test_tampered_ciphertext_fails),
		cmocka_unit_test(test_device_without_the_key_gets_an_error_not_ciphertext),
		cmocka_unit_test(test_cleartext_record_in_an_encrypted_collection_is_refused),
		cmocka_unit_test(test_tombstone_decodes_as_deletion_with_or_without_key),
		cmocka_unit_test(test_malformed_records_are_refused),
		cmocka_unit_test(test_ids_kinto_accepts),
		cmocka_unit_test(test_kinto_errors_map_to_errno),
		cmocka_unit_test(test_every_allocation_failing_in_turn),
	};

	ds_log_set_max_level(DS_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
