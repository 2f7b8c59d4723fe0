/*
 * Storage format 5 through the sync15 remote's own code (keys.c, bso.c): the published vectors
 * TV-1..TV-4 (test/vectors/storage_format5.txt, vectors.md §1) decrypt byte for byte through
 * ds_sync15_decrypt(), the crypto/keys parser and the record transform; HMAC rules (AT-01..04);
 * timestamps printed back exactly (AT-20); record ids in URLs.
 */
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "remote/sync15/ds_sync15.h"
#include "test/vectors/vector_file.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIG 4096

static void load(const char *name, struct vec_file *vf)
{
	assert_int_equal(vec_load(name, vf), 0);
	assert_true(vf->n > 0);
}

static const struct vec_record *find(const struct vec_file *vf, const char *name)
{
	for (size_t i = 0; i < vf->n; i++)
		if (vec_is(&vf->recs[i], "name", name))
			return &vf->recs[i];
	fail_msg("no vector %s", name);
	return NULL;
}

/* A key or IV given as hex (key) or base64 text (key_b64), decoded independently of our code. */
static void key_field(const struct vec_record *r, const char *key, uint8_t *out, size_t len)
{
	char k64[128], txt[128];

	if (vec_bytes(r, key, out, len) == (long)len)
		return;
	snprintf(k64, sizeof(k64), "%s_b64", key);
	assert_true(vec_text(r, k64, txt, sizeof(txt)) > 0);
	/* base64 decoding of the crypto facade is tested against RFC 4648 in crypto_test */
	assert_int_equal(ds_base64_decode(txt, strlen(txt), out, len), (int)len);
}

/* The BSO payload string a server would hold for a record vector. */
static char *payload_of(const struct vec_record *r)
{
	char ct[BIG], iv64[64], hmac[80];
	uint8_t iv[16];
	cJSON *o = cJSON_CreateObject();
	char *s, *copy;

	assert_true(vec_text(r, "ciphertext", ct, sizeof(ct)) > 0);
	key_field(r, "iv", iv, sizeof(iv));
	ds_base64_encode(iv, sizeof(iv), iv64, sizeof(iv64));
	assert_int_equal(vec_bytes(r, "hmac", (uint8_t *)hmac, 32), 32);
	{
		const char *h = vec_raw(r, "hmac");
		snprintf(hmac, sizeof(hmac), "%s", h);
	}
	cJSON_AddStringToObject(o, "ciphertext", ct);
	cJSON_AddStringToObject(o, "IV", iv64);
	cJSON_AddStringToObject(o, "hmac", hmac);
	s = cJSON_PrintUnformatted(o);
	copy = strdup(s);
	cJSON_free(s);
	cJSON_Delete(o);
	return copy;
}

static void bundle_of(const struct vec_record *r, struct ds_sync15_keybundle *kb)
{
	key_field(r, "enc_key", kb->enc, 32);
	key_field(r, "hmac_key", kb->hmac, 32);
}

static void check_record(const struct vec_record *r, const struct ds_sync15_keybundle *kb)
{
	char want[BIG], *payload = payload_of(r), *clear = NULL;
	long wl = vec_text(r, "plaintext", want, sizeof(want));
	size_t len;

	assert_true(wl > 0);
	assert_int_equal(ds_sync15_decrypt(kb, payload, &clear, &len), 0);
	assert_int_equal(len, (size_t)wl);
	assert_memory_equal(clear, want, len);
	ds_free(clear);
	free(payload);
}

/* AT-01..03: TV-2, TV-3 with their own keys. */
static void test_vectors_tv2_tv3_decrypt_byte_for_byte(void **state)
{
	struct vec_file vf;
	struct ds_sync15_keybundle kb;

	(void)state;
	load("storage_format5.txt", &vf);
	bundle_of(find(&vf, "TV-2"), &kb);
	check_record(find(&vf, "TV-2"), &kb);
	bundle_of(find(&vf, "TV-3"), &kb);
	check_record(find(&vf, "TV-3"), &kb);
	vec_free(&vf);
}

/* TV-4: kSync -> crypto/keys (our keyring decryption) -> the default bundle -> history BSO
 * through our transform, with the BSO id from the cleartext. */
static void test_vector_tv4_full_chain(void **state)
{
	struct vec_file vf;
	const struct vec_record *ks, *keys, *hist;
	uint8_t ksync[64];
	struct ds_sync15_keybundle sync_kb;
	struct ds_sync15_keyring kr;
	struct ds_transform *t;
	struct ds_record in = { 0 }, out = { 0 };
	char *keys_payload, want[BIG];
	long wl;

	(void)state;
	load("storage_format5.txt", &vf);
	ks = find(&vf, "TV-4 kSync");
	keys = find(&vf, "TV-4 crypto/keys");
	hist = find(&vf, "TV-4 history");
	assert_int_equal(vec_bytes(ks, "okm", ksync, sizeof(ksync)), 64);
	ds_sync15_keybundle_from_ksync(ksync, &sync_kb);
	keys_payload = payload_of(keys);
	assert_int_equal(ds_sync15_keyring_decrypt(&sync_kb, keys_payload, &kr), 0);
	assert_int_equal(kr.n, 0);

	assert_int_equal(ds_sync15_transform_new(ds_sync15_keyring_get(&kr, "history"), &t), 0);
	in.id = "_9sCUbahs0ay";
	in.payload = payload_of(hist);
	in.modified_ms = 1439366063810;
	assert_int_equal(t->ops->decode(t, &in, &out), 0);
	wl = vec_text(hist, "plaintext", want, sizeof(want));
	assert_string_equal(out.payload, want);
	assert_int_equal(strlen(out.payload), (size_t)wl);
	assert_false(out.deleted);
	assert_int_equal(out.modified_ms, in.modified_ms);
	ds_record_clear(&out);

	/* The decrypted id must equal the BSO id (DESK CryptoWrapper). */
	in.id = "otherid12345";
	assert_int_equal(t->ops->decode(t, &in, &out), -EBADMSG);
	assert_null(out.payload);

	/* Under the wrong key (kSync instead of the default bundle): HMAC mismatch. */
	ds_sync15_transform_set_keys(t, &sync_kb);
	in.id = "_9sCUbahs0ay";
	assert_int_equal(t->ops->decode(t, &in, &out), -EBADMSG);
	t->ops->close(t);
	free(in.payload);
	free(keys_payload);
	ds_sync15_keyring_clear(&kr);
	vec_free(&vf);
}

/* TV-2 re-encrypted with its IV gives its ciphertext and HMAC exactly. */
static void test_encrypt_reproduces_tv2(void **state)
{
	struct vec_file vf;
	const struct vec_record *r;
	struct ds_sync15_keybundle kb;
	uint8_t iv[16];
	char *payload = NULL, ct[128], hmac[80];
	cJSON *o;

	(void)state;
	load("storage_format5.txt", &vf);
	r = find(&vf, "TV-2");
	bundle_of(r, &kb);
	key_field(r, "iv", iv, 16);
	assert_int_equal(ds_sync15_encrypt(&kb, "SECRET MESSAGE", 14, iv, &payload), 0);
	o = cJSON_Parse(payload);
	assert_true(vec_text(r, "ciphertext", ct, sizeof(ct)) > 0);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "ciphertext")), ct);
	snprintf(hmac, sizeof(hmac), "%s", vec_raw(r, "hmac"));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "hmac")), hmac);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "IV")),
			    "N1oS1t5O8mtzX2/M+6//LQ==");
	cJSON_Delete(o);
	ds_free(payload);
	vec_free(&vf);
}

static char *replace_field(const char *payload, const char *key, const char *value)
{
	cJSON *o = cJSON_Parse(payload);
	char *s, *copy;

	cJSON_ReplaceItemInObject(o, key, cJSON_CreateString(value));
	s = cJSON_PrintUnformatted(o);
	copy = strdup(s);
	cJSON_free(s);
	cJSON_Delete(o);
	return copy;
}

/* AT-04: either hex case; a mismatch decrypts nothing; malformed payloads are -EILSEQ. */
static void test_hmac_rules(void **state)
{
	struct vec_file vf;
	const struct vec_record *r;
	struct ds_sync15_keybundle kb;
	char *p, *q, upper[80], *clear = NULL;
	size_t len = 99;

	(void)state;
	load("storage_format5.txt", &vf);
	r = find(&vf, "TV-2");
	bundle_of(r, &kb);
	p = payload_of(r);
	snprintf(upper, sizeof(upper), "%s", vec_raw(r, "hmac"));
	for (char *c = upper; *c; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A');
	q = replace_field(p, "hmac", upper);
	assert_int_equal(ds_sync15_decrypt(&kb, q, &clear, &len), 0);
	assert_string_equal(clear, "SECRET MESSAGE");
	ds_free(clear);
	free(q);

	upper[0] = upper[0] == 'B' ? 'C' : 'B';
	q = replace_field(p, "hmac", upper);
	clear = (char *)1;
	assert_int_equal(ds_sync15_decrypt(&kb, q, &clear, &len), -EBADMSG);
	assert_null(clear);
	assert_int_equal(len, 0);
	free(q);

	/* The HMAC covers the base64 text: another encoding of the same bytes fails. */
	q = replace_field(p, "ciphertext", "wcgqzENt5iXt9/7KPJ3rTB==");
	assert_int_equal(ds_sync15_decrypt(&kb, q, &clear, &len), -EBADMSG);
	free(q);

	q = replace_field(p, "hmac", "not hex");
	assert_int_equal(ds_sync15_decrypt(&kb, q, &clear, &len), -EILSEQ);
	free(q);
	assert_int_equal(ds_sync15_decrypt(&kb, "{\"IV\":\"x\"}", &clear, &len), -EILSEQ);
	assert_int_equal(ds_sync15_decrypt(&kb, "not json", &clear, &len), -EILSEQ);
	free(p);
	vec_free(&vf);
}

static void test_transform_round_trip_and_tombstone(void **state)
{
	struct ds_sync15_keybundle kb;
	struct ds_transform *t;
	struct ds_record in = { .id = "{5d7c9e3a-0b1f-4b7a-9c51-2f0e6a1b8c44}",
				.payload = "{\"hostname\":\"https://example.org\",\"x\":[1,2]}" };
	struct ds_record enc, dec;
	cJSON *o;

	(void)state;
	assert_int_equal(ds_sync15_keybundle_random(&kb), 0);
	assert_int_equal(ds_sync15_transform_new(&kb, &t), 0);
	assert_int_equal(t->ops->encode(t, &in, &enc), 0);
	assert_string_equal(enc.id, in.id);
	assert_null(strstr(enc.payload, "example.org"));
	assert_int_equal(t->ops->decode(t, &enc, &dec), 0);
	o = cJSON_Parse(dec.payload);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "id")), in.id);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "hostname")),
			    "https://example.org");
	cJSON_Delete(o);
	ds_record_clear(&enc);
	ds_record_clear(&dec);

	/* Tombstone: {"id","deleted":true} encrypted, decoded back as a deletion. */
	in.payload = NULL;
	in.deleted = true;
	assert_int_equal(t->ops->encode(t, &in, &enc), 0);
	assert_false(enc.deleted);
	assert_non_null(enc.payload);
	assert_int_equal(t->ops->decode(t, &enc, &dec), 0);
	assert_true(dec.deleted);
	assert_null(dec.payload);
	ds_record_clear(&enc);
	ds_record_clear(&dec);

	/* A payload that is not a JSON object cannot be a Sync record. */
	in.deleted = false;
	in.payload = "[1]";
	assert_int_equal(t->ops->encode(t, &in, &enc), -EILSEQ);
	t->ops->close(t);
}

static void test_keyring_round_trip_and_lookup(void **state)
{
	struct ds_sync15_keybundle sync_kb;
	struct ds_sync15_keyring kr, back;
	char *payload;
	const char *clear = "{\"id\":\"keys\",\"collection\":\"crypto\","
			    "\"default\":[\"/XKu2GgjfQfrqoIJOQxdBkO++atxe0xO6C3fJaeAbmg=\","
			    "\"cVehNzSJd0YDn3JaPz7alyuOuDW1iHmCzlJMZqJdfTc=\"],"
			    "\"collections\":{\"bookmarks\":[\"9K/wLdXdw+nrTtXo4ZpECyHFNr4d7aYHqeg3KW9+m6Q=\","
			    "\"MMntEfutgLTc8FlTLQFms8/xMPmCldqPlq/QQXEjx70=\"]}}";

	(void)state;
	assert_int_equal(ds_sync15_keyring_parse(clear, &kr), 0);
	assert_int_equal(kr.n, 1);
	assert_ptr_equal(ds_sync15_keyring_get(&kr, "history"), &kr.def);
	assert_ptr_equal(ds_sync15_keyring_get(&kr, "bookmarks"), &kr.colls[0]);
	assert_int_equal(kr.colls[0].enc[0], 0xf4);
	assert_int_equal(ds_sync15_keybundle_random(&sync_kb), 0);
	assert_int_equal(ds_sync15_keyring_encrypt(&sync_kb, &kr, &payload), 0);
	assert_int_equal(ds_sync15_keyring_decrypt(&sync_kb, payload, &back), 0);
	assert_true(ds_sync15_keyring_equal(&kr, &back));
	ds_sync15_keyring_clear(&back);
	ds_free(payload);

	assert_int_equal(ds_sync15_keyring_parse("{\"default\":[\"AAAA\",\"AAAA\"]}", &back), -EILSEQ);
	assert_int_equal(ds_sync15_keyring_parse("{\"collections\":{}}", &back), -EILSEQ);
	ds_sync15_keyring_clear(&kr);
}

/* AT-20. */
static void test_timestamps_print_back_exactly(void **state)
{
	static const struct { const char *in; int64_t ms; const char *out; } v[] = {
		{ "1388635807.41", 1388635807410, "1388635807.41" },
		{ "1388635807", 1388635807000, "1388635807" },
		{ "1388635807.4", 1388635807400, "1388635807.4" },
		{ "1388635807.00", 1388635807000, "1388635807" },
		{ "0.01", 10, "0.01" },
		{ "1.0015", 1002, "1.002" },
		{ "0", 0, "0" },
	};
	char buf[DS_SYNC15_TS_MAX];
	int64_t ms;
	cJSON *n;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(ds_sync15_ts_parse(v[i].in, &ms), 0);
		assert_int_equal(ms, v[i].ms);
		ds_sync15_ts_format(ms, buf);
		assert_string_equal(buf, v[i].out);
	}
	assert_int_equal(ds_sync15_ts_parse("", &ms), -EINVAL);
	assert_int_equal(ds_sync15_ts_parse("-1", &ms), -EINVAL);
	assert_int_equal(ds_sync15_ts_parse("1e9", &ms), -EINVAL);
	assert_int_equal(ds_sync15_ts_parse("12.", &ms), -EINVAL);
	assert_int_equal(ds_sync15_ts_parse("99999999999999999999", &ms), -EINVAL);
	/* As a JSON number (info/collections): the double is not exact, the result is. */
	n = cJSON_Parse("1388635807.41");
	assert_int_equal(ds_sync15_ts_from_json(n, &ms), 0);
	assert_int_equal(ms, 1388635807410);
	cJSON_Delete(n);
	n = cJSON_Parse("1700000000.07");
	assert_int_equal(ds_sync15_ts_from_json(n, &ms), 0);
	assert_int_equal(ms, 1700000000070);
	cJSON_Delete(n);
}

/* Desktop password ids are "{uuid}": braces must be percent-encoded in paths. */
static void test_record_ids_url_encoded(void **state)
{
	char *s;

	(void)state;
	s = ds_sync15_url_escape("{5d7c9e3a-0b1f}");
	assert_string_equal(s, "%7B5d7c9e3a-0b1f%7D");
	ds_free(s);
	s = ds_sync15_url_escape("a b/c?d&e_~.");
	assert_string_equal(s, "a%20b%2Fc%3Fd%26e_~.");
	ds_free(s);
	assert_true(ds_sync15_id_valid("_9sCUbahs0ay"));
	assert_true(ds_sync15_id_valid("{5d7c9e3a-0b1f-4b7a-9c51-2f0e6a1b8c44}"));
	assert_false(ds_sync15_id_valid(""));
	assert_false(ds_sync15_id_valid("a,b"));
	assert_false(ds_sync15_id_valid("tab\there"));
	assert_false(ds_sync15_id_valid("0123456789012345678901234567890123456789012345678901234567890123x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_tv2_tv3_decrypt_byte_for_byte),
		cmocka_unit_test(test_vector_tv4_full_chain),
		cmocka_unit_test(test_encrypt_reproduces_tv2),
		cmocka_unit_test(test_hmac_rules),
		cmocka_unit_test(test_transform_round_trip_and_tombstone),
		cmocka_unit_test(test_keyring_round_trip_and_lookup),
		cmocka_unit_test(test_timestamps_print_back_exactly),
		cmocka_unit_test(test_record_ids_url_encoded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
