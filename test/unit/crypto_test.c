/*
 * crypto_test.c - the crypto facade against published known answers (the files in test/vectors, each
 * file cites its sources) and against the rules of ds_crypto.h: error codes, strict decoding,
 * wiped outputs on failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <threads.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "test/vectors/vector_file.h"

#define BIG 4096

static void load(const char *name, struct vec_file *vf)
{
	if (vec_load(name, vf) != 0)
		fail_msg("cannot read test/vectors/%s", name);
	assert_true(vf->n > 0);
}

static long bytes(const struct vec_record *r, const char *key, uint8_t *buf, size_t cap)
{
	long n = vec_bytes(r, key, buf, cap);

	if (n < 0)
		fail_msg("vector at line %u: field '%s' missing or malformed", r->line, key);
	return n;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* ---- hashes and KDFs ----------------------------------------------------------------------- */

static void test_sha256_fips180(void **state)
{
	struct vec_file vf;
	uint8_t msg[BIG], want[32], got[32];
	size_t i;

	(void)state;
	load("sha256.txt", &vf);
	for (i = 0; i < vf.n; i++) {
		long n = bytes(&vf.recs[i], "msg", msg, sizeof(msg));

		assert_int_equal(bytes(&vf.recs[i], "digest", want, sizeof(want)), 32);
		assert_int_equal(ds_sha256(n ? msg : NULL, (size_t)n, got), 0);
		assert_memory_equal(got, want, 32);
	}
	vec_free(&vf);
}

static void test_hmac_sha256_rfc4231(void **state)
{
	struct vec_file vf;
	uint8_t key[256], data[256], want[32], got[32];
	size_t i;

	(void)state;
	load("hmac_sha256.txt", &vf);
	assert_int_equal(vf.n, 6);
	for (i = 0; i < vf.n; i++) {
		long kl = bytes(&vf.recs[i], "key", key, sizeof(key));
		long dl = bytes(&vf.recs[i], "data", data, sizeof(data));

		assert_int_equal(bytes(&vf.recs[i], "hmac", want, sizeof(want)), 32);
		assert_int_equal(ds_hmac_sha256(key, (size_t)kl, data, (size_t)dl, got), 0);
		assert_memory_equal(got, want, 32);
	}
	vec_free(&vf);
}

static void test_hkdf_sha256_rfc5869(void **state)
{
	struct vec_file vf;
	uint8_t ikm[128], salt[128], info[128], prk[32], want[128], got[128];
	char len_text[16];
	size_t i;

	(void)state;
	load("hkdf_sha256.txt", &vf);
	assert_int_equal(vf.n, 3);
	for (i = 0; i < vf.n; i++) {
		const struct vec_record *r = &vf.recs[i];
		long il = bytes(r, "ikm", ikm, sizeof(ikm));
		long sl = bytes(r, "salt", salt, sizeof(salt));
		long nl = bytes(r, "info", info, sizeof(info));
		long ol = bytes(r, "okm", want, sizeof(want));
		uint8_t zeros[32] = { 0 };

		assert_true(vec_text(r, "length", len_text, sizeof(len_text)) > 0);
		assert_int_equal(ol, strtol(len_text, NULL, 10));
		memset(got, 0xa5, sizeof(got));
		assert_int_equal(ds_hkdf_sha256(sl ? salt : NULL, (size_t)sl, ikm, (size_t)il,
						nl ? info : NULL, (size_t)nl, got, (size_t)ol),
				 0);
		assert_memory_equal(got, want, (size_t)ol);
		assert_int_equal(got[ol], 0xa5); /* nothing written past olen */

		/* HKDF-Extract is HMAC(salt, IKM), with HashLen zeros for an empty salt (§2.2). */
		assert_int_equal(bytes(r, "prk", want, sizeof(want)), 32);
		assert_int_equal(ds_hmac_sha256(sl ? salt : zeros, sl ? (size_t)sl : sizeof(zeros),
						ikm, (size_t)il, prk),
				 0);
		assert_memory_equal(prk, want, 32);
	}
	vec_free(&vf);

	/* RFC 5869 §2.3: L <= 255 * HashLen. */
	assert_int_equal(ds_hkdf_sha256(NULL, 0, ikm, 16, NULL, 0, got, 0), -EINVAL);
	{
		uint8_t *big = malloc(255 * 32 + 1);

		assert_non_null(big);
		assert_int_equal(ds_hkdf_sha256(NULL, 0, ikm, 16, NULL, 0, big, 255 * 32), 0);
		assert_int_equal(ds_hkdf_sha256(NULL, 0, ikm, 16, NULL, 0, big, 255 * 32 + 1),
				 -EINVAL);
		free(big);
	}
}

static void test_pbkdf2_sha256_rfc7914(void **state)
{
	struct vec_file vf;
	uint8_t pw[64], salt[64], want[64], got[64];
	char iters[16];
	size_t i;

	(void)state;
	load("pbkdf2_sha256.txt", &vf);
	for (i = 0; i < vf.n; i++) {
		const struct vec_record *r = &vf.recs[i];
		long pl = bytes(r, "password", pw, sizeof(pw));
		long sl = bytes(r, "salt", salt, sizeof(salt));
		long dl = bytes(r, "dk", want, sizeof(want));

		assert_true(vec_text(r, "iterations", iters, sizeof(iters)) > 0);
		assert_int_equal(ds_pbkdf2_sha256(pw, (size_t)pl, salt, (size_t)sl,
						  (uint32_t)strtoul(iters, NULL, 10), got, (size_t)dl),
				 0);
		assert_memory_equal(got, want, (size_t)dl);
	}
	vec_free(&vf);
	assert_int_equal(ds_pbkdf2_sha256("p", 1, "s", 1, 0, got, 32), -EINVAL);
	assert_int_equal(ds_pbkdf2_sha256("p", 1, "s", 1, 1, got, 0), -EINVAL);
}

/* ---- storage format 5 ---------------------------------------------------------------------- */

struct sf5_keys {
	uint8_t enc[32], hmac[32];
};

static void record_keys(const struct vec_record *r, struct sf5_keys *k)
{
	char b64[64];

	if (vec_raw(r, "enc_key")) {
		assert_int_equal(bytes(r, "enc_key", k->enc, 32), 32);
		assert_int_equal(bytes(r, "hmac_key", k->hmac, 32), 32);
		return;
	}
	assert_true(vec_text(r, "enc_key_b64", b64, sizeof(b64)) > 0);
	assert_int_equal(ds_base64_decode(b64, strlen(b64), k->enc, 32), 32);
	assert_true(vec_text(r, "hmac_key_b64", b64, sizeof(b64)) > 0);
	assert_int_equal(ds_base64_decode(b64, strlen(b64), k->hmac, 32), 32);
}

/*
 * Verify-then-decrypt as sync15.md §3 prescribes: the HMAC covers the base64 text of the
 * ciphertext, compared in constant time, before any decryption. Returns the plaintext length.
 */
static size_t sf5_open(const struct vec_record *r, const struct sf5_keys *k, char *pt, size_t cap)
{
	char ct_b64[BIG], iv_b64[64];
	uint8_t ct[BIG], iv[16], mac[32], want[32];
	int ctl;
	size_t ptl = 0;

	assert_true(vec_text(r, "ciphertext", ct_b64, sizeof(ct_b64)) > 0);
	assert_int_equal(bytes(r, "hmac", want, sizeof(want)), 32);
	assert_int_equal(ds_hmac_sha256(k->hmac, 32, ct_b64, strlen(ct_b64), mac), 0);
	assert_int_equal(ds_ct_memcmp(mac, want, 32), 0);

	if (vec_raw(r, "iv")) {
		assert_int_equal(bytes(r, "iv", iv, sizeof(iv)), 16);
	} else {
		assert_true(vec_text(r, "iv_b64", iv_b64, sizeof(iv_b64)) > 0);
		assert_int_equal(ds_base64_decode(iv_b64, strlen(iv_b64), iv, sizeof(iv)), 16);
	}
	ctl = ds_base64_decode(ct_b64, strlen(ct_b64), ct, sizeof(ct));
	assert_true(ctl > 0);
	assert_int_equal(ds_aes256_cbc_decrypt(k->enc, iv, ct, (size_t)ctl, pt, cap - 1, &ptl), 0);
	pt[ptl] = '\0';

	/* A record whose HMAC key is wrong must not verify (one flipped key bit). */
	{
		uint8_t bad[32];

		memcpy(bad, k->hmac, 32);
		bad[31] ^= 1;
		assert_int_equal(ds_hmac_sha256(bad, 32, ct_b64, strlen(ct_b64), mac), 0);
		assert_int_equal(ds_ct_memcmp(mac, want, 32), 1);
	}
	return ptl;
}

/* TV-4: the history record's keys are the "default" pair inside the decrypted crypto/keys. */
static void keys_from_crypto_keys(const char *cleartext, struct sf5_keys *k)
{
	cJSON *root = cJSON_Parse(cleartext);
	cJSON *def = cJSON_GetObjectItemCaseSensitive(root, "default");
	const char *e, *h;

	assert_non_null(root);
	assert_true(cJSON_IsArray(def) && cJSON_GetArraySize(def) == 2);
	e = cJSON_GetStringValue(cJSON_GetArrayItem(def, 0));
	h = cJSON_GetStringValue(cJSON_GetArrayItem(def, 1));
	assert_non_null(e);
	assert_non_null(h);
	assert_int_equal(ds_base64_decode(e, strlen(e), k->enc, 32), 32);
	assert_int_equal(ds_base64_decode(h, strlen(h), k->hmac, 32), 32);
	cJSON_Delete(root);
}

static void test_storage_format5(void **state)
{
	struct vec_file vf;
	struct sf5_keys keys, history_keys;
	char pt[BIG], want_pt[BIG], name[64];
	uint8_t ikm[64], info[64], okm[64], want[64], prk[32], zeros[32] = { 0 };
	bool have_chain = false;
	size_t i, records = 0;

	(void)state;
	load("storage_format5.txt", &vf);
	for (i = 0; i < vf.n; i++) {
		const struct vec_record *r = &vf.recs[i];

		assert_true(vec_text(r, "name", name, sizeof(name)) > 0);
		if (vec_is(r, "kind", "hkdf")) {
			long il = bytes(r, "ikm", ikm, sizeof(ikm));
			long nl = bytes(r, "info", info, sizeof(info));

			assert_int_equal(bytes(r, "okm", want, sizeof(want)), 64);
			assert_int_equal(ds_hkdf_sha256(zeros, 32, ikm, (size_t)il, info, (size_t)nl,
							okm, 64),
					 0);
			assert_memory_equal(okm, want, 64);
			/* A NULL salt is the same as 32 zero bytes (RFC 5869 §2.2). */
			assert_int_equal(ds_hkdf_sha256(NULL, 0, ikm, (size_t)il, info, (size_t)nl,
							okm, 64),
					 0);
			assert_memory_equal(okm, want, 64);
			if (vec_raw(r, "prk")) {
				assert_int_equal(bytes(r, "prk", want, sizeof(want)), 32);
				assert_int_equal(ds_hmac_sha256(zeros, 32, ikm, (size_t)il, prk), 0);
				assert_memory_equal(prk, want, 32);
			}
			continue;
		}
		assert_true(vec_is(r, "kind", "record"));
		if (vec_raw(r, "keys_from")) {
			assert_true(vec_is(r, "keys_from", "TV-4 crypto/keys"));
			assert_true(have_chain);
			keys = history_keys;
		} else {
			record_keys(r, &keys);
		}
		{
			size_t n = sf5_open(r, &keys, pt, sizeof(pt));
			long wl = vec_text(r, "plaintext", want_pt, sizeof(want_pt));

			assert_int_equal((long)n, wl);
			assert_string_equal(pt, want_pt);
		}
		if (strcmp(name, "TV-4 crypto/keys") == 0) {
			keys_from_crypto_keys(pt, &history_keys);
			have_chain = true;
		}
		records++;
	}
	assert_int_equal(records, 4); /* TV-2, TV-3, TV-4 crypto/keys and history */
	vec_free(&vf);
}

/* ---- AES-GCM ------------------------------------------------------------------------------- */

static void test_aes_gcm_known_answers(void **state)
{
	struct vec_file vf;
	uint8_t key[32], iv[16], aad[64], pt[128], ct[128], tag[16], out[128], otag[16];
	size_t i;

	(void)state;
	load("aes_gcm.txt", &vf);
	assert_int_equal(vf.n, 5);
	for (i = 0; i < vf.n; i++) {
		const struct vec_record *r = &vf.recs[i];
		long kl = bytes(r, "key", key, sizeof(key));
		long al = bytes(r, "aad", aad, sizeof(aad));
		long pl = bytes(r, "pt", pt, sizeof(pt));
		const uint8_t *a = al ? aad : NULL;

		assert_int_equal(bytes(r, "iv", iv, sizeof(iv)), DS_GCM_IV_LEN);
		assert_int_equal(bytes(r, "ct", ct, sizeof(ct)), pl);
		assert_int_equal(bytes(r, "tag", tag, sizeof(tag)), DS_GCM_TAG_LEN);

		assert_int_equal(ds_aes_gcm_encrypt(key, (size_t)kl, iv, a, (size_t)al, pt,
						    (size_t)pl, out, otag),
				 0);
		assert_memory_equal(out, ct, (size_t)pl);
		assert_memory_equal(otag, tag, 16);

		assert_int_equal(ds_aes_gcm_decrypt(key, (size_t)kl, iv, a, (size_t)al, ct,
						    (size_t)pl, out, tag),
				 0);
		assert_memory_equal(out, pt, (size_t)pl);

		/* Any change to tag, ciphertext or AAD: -EBADMSG and no plaintext handed out. */
		otag[0] ^= 0x80;
		memset(out, 0x5a, sizeof(out));
		assert_int_equal(ds_aes_gcm_decrypt(key, (size_t)kl, iv, a, (size_t)al, ct,
						    (size_t)pl, out, otag),
				 -EBADMSG);
		assert_true(all_zero(out, (size_t)pl));
		ct[pl - 1] ^= 1;
		assert_int_equal(ds_aes_gcm_decrypt(key, (size_t)kl, iv, a, (size_t)al, ct,
						    (size_t)pl, out, tag),
				 -EBADMSG);
		ct[pl - 1] ^= 1;
		if (al) {
			aad[0] ^= 1;
			assert_int_equal(ds_aes_gcm_decrypt(key, (size_t)kl, iv, aad, (size_t)al,
							    ct, (size_t)pl, out, tag),
					 -EBADMSG);
		}
	}
	vec_free(&vf);

	/* Only 128- and 256-bit keys. */
	assert_int_equal(ds_aes_gcm_encrypt(key, 24, iv, NULL, 0, pt, 16, out, otag), -EINVAL);
	assert_int_equal(ds_aes_gcm_encrypt(key, 0, iv, NULL, 0, pt, 16, out, otag), -EINVAL);
	/* Empty message: the tag alone authenticates the AAD. */
	assert_int_equal(ds_aes_gcm_encrypt(key, 32, iv, aad, 8, NULL, 0, NULL, otag), 0);
	assert_int_equal(ds_aes_gcm_decrypt(key, 32, iv, aad, 8, NULL, 0, NULL, otag), 0);
	aad[7] ^= 1;
	assert_int_equal(ds_aes_gcm_decrypt(key, 32, iv, aad, 8, NULL, 0, NULL, otag), -EBADMSG);
}

/* ---- AES-256-CBC with PKCS#7 --------------------------------------------------------------- */

static void test_aes_cbc_round_trips(void **state)
{
	uint8_t key[32], iv[16], pt[80], ct[96], out[96];
	size_t len, olen, dlen;

	(void)state;
	assert_int_equal(ds_random(key, sizeof(key)), 0);
	assert_int_equal(ds_random(iv, sizeof(iv)), 0);
	assert_int_equal(ds_random(pt, sizeof(pt)), 0);
	for (len = 0; len <= sizeof(pt); len++) {
		size_t padded = (len / 16 + 1) * 16; /* PKCS#7 always adds 1..16 bytes */

		assert_int_equal(ds_aes256_cbc_encrypt(key, iv, len ? pt : NULL, len, ct, padded - 1,
						       &olen),
				 -ENOSPC);
		assert_int_equal(ds_aes256_cbc_encrypt(key, iv, len ? pt : NULL, len, ct, padded,
						       &olen),
				 0);
		assert_int_equal(olen, padded);
		/* The output buffer may be as short as the plaintext itself. */
		assert_int_equal(ds_aes256_cbc_decrypt(key, iv, ct, olen, out, len, &dlen), 0);
		assert_int_equal(dlen, len);
		assert_memory_equal(out, pt, len);
		if (len > 0 && len % 16)
			assert_int_equal(ds_aes256_cbc_decrypt(key, iv, ct, olen, out, len - 1,
							       &dlen),
					 -ENOSPC);
	}
	/* TV-2's plaintext under its key and IV gives its published ciphertext (encrypt side). */
	{
		struct vec_file vf;
		const struct vec_record *r;
		char b64[64];

		load("storage_format5.txt", &vf);
		r = &vf.recs[1];
		assert_true(vec_is(r, "name", "TV-2"));
		assert_int_equal(bytes(r, "enc_key", key, 32), 32);
		assert_int_equal(bytes(r, "iv", iv, 16), 16);
		assert_int_equal(ds_aes256_cbc_encrypt(key, iv, "SECRET MESSAGE", 14, ct, sizeof(ct),
						       &olen),
				 0);
		assert_int_equal(ds_base64_encode(ct, olen, b64, sizeof(b64)), 24);
		assert_true(vec_is(r, "ciphertext", b64));
		vec_free(&vf);
	}
	assert_int_equal(ds_aes256_cbc_decrypt(key, iv, ct, 15, out, sizeof(out), &dlen), -EINVAL);
	assert_int_equal(ds_aes256_cbc_decrypt(key, iv, ct, 0, out, sizeof(out), &dlen), -EINVAL);
}

/*
 * Bad padding: encrypting a chosen 16-byte block P gives C1 || C2 (C2 = the padding block).
 * C1 alone decrypts back to P, so P's tail decides whether the padding is valid.
 */
static int decrypt_chosen_block(const uint8_t last_bytes[4], size_t *dlen, uint8_t out[16])
{
	static const uint8_t key[32] = { 1, 2, 3 }, iv[16] = { 9 };
	uint8_t p[16], ct[32];
	size_t olen;

	memset(p, 0x41, sizeof(p));
	memcpy(p + 12, last_bytes, 4);
	assert_int_equal(ds_aes256_cbc_encrypt(key, iv, p, 16, ct, sizeof(ct), &olen), 0);
	memset(out, 0x5a, 16);
	return ds_aes256_cbc_decrypt(key, iv, ct, 16, out, 16, dlen);
}

static void test_aes_cbc_bad_padding(void **state)
{
	static const struct {
		uint8_t tail[4];
		int rc;
		size_t len;
	} cases[] = {
		{ { 0x41, 0x41, 0x41, 0x01 }, 0, 15 },
		{ { 0x41, 0x41, 0x02, 0x02 }, 0, 14 },
		{ { 0x04, 0x04, 0x04, 0x04 }, 0, 12 },
		{ { 0x41, 0x41, 0x41, 0x00 }, -EBADMSG, 0 }, /* zero is never a pad length */
		{ { 0x41, 0x41, 0x41, 0x11 }, -EBADMSG, 0 }, /* 17 > block size */
		{ { 0x41, 0x41, 0x41, 0xff }, -EBADMSG, 0 },
		{ { 0x41, 0x41, 0x03, 0x02 }, -EBADMSG, 0 }, /* pad bytes differ */
		{ { 0x41, 0x03, 0x41, 0x03 }, -EBADMSG, 0 },
		{ { 0x05, 0x03, 0x03, 0x03 }, 0, 13 },
		{ { 0x05, 0x04, 0x04, 0x04 }, -EBADMSG, 0 },
		{ { 0x41, 0x04, 0x04, 0x04 }, -EBADMSG, 0 },
	};
	uint8_t out[16];
	size_t i, dlen;

	(void)state;
	for (i = 0; i < DS_ARRAY_SIZE(cases); i++) {
		int rc = decrypt_chosen_block(cases[i].tail, &dlen, out);

		assert_int_equal(rc, cases[i].rc);
		if (rc == 0)
			assert_int_equal(dlen, cases[i].len);
		else
			for (size_t j = 0; j < 16; j++) /* no plaintext handed out */
				assert_true(out[j] == 0x5a || out[j] == 0);
	}
	/* Pad length 16 claims the whole block: 0x41 bytes inside it make it invalid. (A valid
	 * whole-block pad is covered by the aligned round trips.) */
	{
		uint8_t t[4] = { 0x10, 0x10, 0x10, 0x10 };

		assert_int_equal(decrypt_chosen_block(t, &dlen, out), -EBADMSG);
	}
}

/* ---- ECDH P-256 ---------------------------------------------------------------------------- */

/* The P-256 base point G (SEC 2 v2 §2.4.2, uncompressed). */
static const char p256_g_hex[] =
	"046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
	"4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";

static void test_p256_ecdh(void **state)
{
	struct vec_file vf;
	uint8_t a[32], b[32], pa[65], pb[65], want[32], s1[32], s2[32], g[65];
	size_t i;

	(void)state;
	assert_int_equal(ds_hex_decode(p256_g_hex, strlen(p256_g_hex), g, sizeof(g)), 65);
	load("ecdh_p256.txt", &vf);
	assert_int_equal(vf.n, 2);
	for (i = 0; i < vf.n; i++) {
		const struct vec_record *r = &vf.recs[i];

		assert_int_equal(bytes(r, "priv_a", a, 32), 32);
		assert_int_equal(bytes(r, "priv_b", b, 32), 32);
		assert_int_equal(bytes(r, "pub_a", pa, 65), 65);
		assert_int_equal(bytes(r, "pub_b", pb, 65), 65);
		assert_int_equal(bytes(r, "secret", want, 32), 32);
		assert_int_equal(ds_p256_ecdh(a, pb, s1), 0);
		assert_int_equal(ds_p256_ecdh(b, pa, s2), 0);
		assert_memory_equal(s1, want, 32);
		assert_memory_equal(s2, want, 32);
		/* x(a * G) is the x coordinate of a's public key: ties priv_a to pub_a. */
		assert_int_equal(ds_p256_ecdh(a, g, s1), 0);
		assert_memory_equal(s1, pa + 1, 32);
	}

	/* Invalid peers: off the curve, compressed form, the point at infinity's encoding. */
	pb[64] ^= 1;
	memset(s1, 0x77, 32);
	assert_int_equal(ds_p256_ecdh(a, pb, s1), -EINVAL);
	assert_true(all_zero(s1, 32));
	pb[64] ^= 1;
	pb[0] = 0x02;
	assert_int_equal(ds_p256_ecdh(a, pb, s1), -EINVAL);
	memset(pb, 0, sizeof(pb));
	assert_int_equal(ds_p256_ecdh(a, pb, s1), -EINVAL);
	/* Invalid private keys: 0 and the group order n. */
	memset(b, 0, sizeof(b));
	assert_int_equal(ds_p256_ecdh(b, pa, s1), -EINVAL);
	assert_int_equal(ds_hex_decode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
				       64, b, sizeof(b)),
			 32);
	assert_int_equal(ds_p256_ecdh(b, pa, s1), -EINVAL);
	vec_free(&vf);

	/* Fresh key pairs agree with each other. */
	assert_int_equal(ds_p256_keygen(a, pa), 0);
	assert_int_equal(ds_p256_keygen(b, pb), 0);
	assert_int_equal(pa[0], 0x04);
	assert_memory_not_equal(a, b, 32);
	assert_int_equal(ds_p256_ecdh(a, pb, s1), 0);
	assert_int_equal(ds_p256_ecdh(b, pa, s2), 0);
	assert_memory_equal(s1, s2, 32);
	assert_int_equal(ds_p256_ecdh(a, g, s1), 0);
	assert_memory_equal(s1, pa + 1, 32);
	ds_memzero(a, sizeof(a));
	ds_memzero(b, sizeof(b));
}

/* ---- random, constant time ----------------------------------------------------------------- */

static int draw_many(void *arg)
{
	uint8_t buf[64];
	int i;

	(void)arg;
	for (i = 0; i < 200; i++)
		if (ds_random(buf, sizeof(buf)) != 0)
			return 1;
	return 0;
}

static void test_random(void **state)
{
	uint8_t a[32], b[32];
	uint8_t *big = malloc(5000);
	thrd_t t[4];
	int i, res;

	(void)state;
	assert_non_null(big);
	assert_int_equal(ds_random(NULL, 0), 0);
	assert_int_equal(ds_random(a, sizeof(a)), 0);
	assert_int_equal(ds_random(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, 32);
	/* Longer than one DRBG request (1024 bytes): filled to the end. */
	memset(big, 0, 5000);
	assert_int_equal(ds_random(big, 5000), 0);
	assert_false(all_zero(big + 4968, 32));
	free(big);
	/* After a reset the generator seeds again and keeps working. */
	ds_random_reset();
	assert_int_equal(ds_random(a, sizeof(a)), 0);
	assert_memory_not_equal(a, b, 32);
	/* Concurrent callers (the daemon's loop and its worker thread). */
	for (i = 0; i < 4; i++)
		assert_int_equal(thrd_create(&t[i], draw_many, NULL), thrd_success);
	for (i = 0; i < 4; i++) {
		assert_int_equal(thrd_join(t[i], &res), thrd_success);
		assert_int_equal(res, 0);
	}
	ds_random_reset();
}

static void test_ct_memcmp(void **state)
{
	uint8_t a[64], b[64];
	size_t i;

	(void)state;
	memset(a, 0x3c, sizeof(a));
	memcpy(b, a, sizeof(b));
	assert_int_equal(ds_ct_memcmp(a, b, sizeof(a)), 0);
	assert_int_equal(ds_ct_memcmp(a, b, 0), 0);
	for (i = 0; i < sizeof(a); i++) {
		b[i] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(ds_ct_memcmp(a, b, sizeof(a)), 1);
		b[i] = a[i];
	}
	b[63] = 0xff;
	assert_int_equal(ds_ct_memcmp(a, b, 63), 0);
}

/* ---- encodings ----------------------------------------------------------------------------- */

static void check_valid_row(const struct vec_record *r)
{
	uint8_t raw[64], out[64];
	char b64[128], url[128], txt[128], padded[128];
	long n = bytes(r, "bytes", raw, sizeof(raw));
	long bl = vec_text(r, "b64", b64, sizeof(b64));
	long ul = vec_text(r, "b64url", url, sizeof(url));
	size_t k;

	assert_true(bl >= 0 && ul >= 0);
	assert_int_equal(ds_base64_encode(raw, (size_t)n, txt, sizeof(txt)), bl);
	assert_string_equal(txt, b64);
	assert_int_equal(ds_base64url_encode(raw, (size_t)n, txt, sizeof(txt)), ul);
	assert_string_equal(txt, url);
	/* cap counts the NUL: exactly the text length is one short. */
	assert_int_equal(ds_base64_encode(raw, (size_t)n, txt, (size_t)bl), -ENOSPC);
	assert_int_equal(ds_base64url_encode(raw, (size_t)n, txt, (size_t)ul), -ENOSPC);

	assert_int_equal(ds_base64_decode(b64, (size_t)bl, out, sizeof(out)), n);
	assert_memory_equal(out, raw, (size_t)n);
	assert_int_equal(ds_base64url_decode(url, (size_t)ul, out, sizeof(out)), n);
	assert_memory_equal(out, raw, (size_t)n);
	if (n > 0) {
		assert_int_equal(ds_base64_decode(b64, (size_t)bl, out, (size_t)n - 1), -ENOSPC);
		assert_int_equal(ds_base64url_decode(url, (size_t)ul, out, (size_t)n - 1), -ENOSPC);
	}
	/* base64url also accepts its padded form (RFC 4648 §5 with §3.2's padding). */
	for (k = 0; k < (size_t)bl; k++)
		padded[k] = b64[k] == '+' ? '-' : b64[k] == '/' ? '_' : b64[k];
	assert_int_equal(ds_base64url_decode(padded, (size_t)bl, out, sizeof(out)), n);
	assert_memory_equal(out, raw, (size_t)n);

	/* hex of the same bytes: the file's own spelling, lower-case. */
	assert_int_equal(ds_hex_encode(raw, (size_t)n, txt, sizeof(txt)), 2 * n);
	if (n)
		assert_string_equal(txt, vec_raw(r, "bytes"));
	assert_int_equal(ds_hex_decode(txt, (size_t)(2 * n), out, sizeof(out)), n);
	assert_memory_equal(out, raw, (size_t)n);
}

static void test_encoding_vectors(void **state)
{
	struct vec_file vf;
	char txt[128], why[128];
	uint8_t out[64];
	size_t i, valid = 0, bad = 0;

	(void)state;
	load("encoding.txt", &vf);
	for (i = 0; i < vf.n; i++) {
		const struct vec_record *r = &vf.recs[i];
		long tl;
		int rc = 0;

		if (vec_is(r, "kind", "valid")) {
			check_valid_row(r);
			valid++;
			continue;
		}
		tl = vec_text(r, "text", txt, sizeof(txt));
		assert_true(tl >= 0);
		assert_true(vec_text(r, "why", why, sizeof(why)) > 0);
		if (vec_is(r, "kind", "bad_b64"))
			rc = ds_base64_decode(txt, (size_t)tl, out, sizeof(out));
		else if (vec_is(r, "kind", "bad_b64url"))
			rc = ds_base64url_decode(txt, (size_t)tl, out, sizeof(out));
		else if (vec_is(r, "kind", "bad_hex"))
			rc = ds_hex_decode(txt, (size_t)tl, out, sizeof(out));
		else
			fail_msg("line %u: unknown kind", r->line);
		if (rc != -EILSEQ)
			fail_msg("line %u: '%s' (%s) decoded with %d, want -EILSEQ", r->line, txt,
				 why, rc);
		bad++;
	}
	assert_true(valid >= 7 && bad >= 10);
	vec_free(&vf);
}

static void test_encoding_edges(void **state)
{
	uint8_t raw[100], out[100];
	char txt[200];
	size_t len;
	int n;

	(void)state;
	/* Bytes outside the data: newline, NUL inside the given length, high-bit characters. */
	assert_int_equal(ds_base64_decode("Zm9vYmFy\n", 9, out, sizeof(out)), -EILSEQ);
	assert_int_equal(ds_base64_decode("Zm9v\0Yg=", 8, out, sizeof(out)), -EILSEQ);
	assert_int_equal(ds_base64_decode("Zm9\xc3", 4, out, sizeof(out)), -EILSEQ);
	assert_int_equal(ds_hex_decode("0\xb0", 2, out, sizeof(out)), -EILSEQ);
	/* len, not the NUL, ends the input. */
	assert_int_equal(ds_base64_decode("Zm9vYmFy", 4, out, sizeof(out)), 3);
	assert_memory_equal(out, "foo", 3);
	/* Hex input in either case. */
	assert_int_equal(ds_hex_decode("DEADbeef", 8, out, sizeof(out)), 4);
	assert_memory_equal(out, "\xde\xad\xbe\xef", 4);
	assert_int_equal(ds_hex_encode("\xde\xad", 2, txt, 4), -ENOSPC);
	assert_int_equal(ds_hex_decode("deadbeef", 8, out, 3), -ENOSPC);
	/* A rejected decode leaves no partial key bytes behind. */
	memset(out, 0x5a, sizeof(out));
	assert_int_equal(ds_base64_decode("AAAAAAA!", 8, out, sizeof(out)), -EILSEQ);
	assert_true(out[0] == 0 || out[0] == 0x5a);
	assert_true(out[5] == 0 || out[5] == 0x5a);

	/* Every length round-trips through all three encodings. */
	assert_int_equal(ds_random(raw, sizeof(raw)), 0);
	for (len = 0; len <= sizeof(raw); len++) {
		n = ds_base64_encode(raw, len, txt, sizeof(txt));
		assert_int_equal(n, (int)((len + 2) / 3 * 4));
		assert_int_equal(ds_base64_decode(txt, (size_t)n, out, sizeof(out)), (int)len);
		assert_memory_equal(out, raw, len);
		n = ds_base64url_encode(raw, len, txt, sizeof(txt));
		assert_null(memchr(txt, '=', (size_t)n));
		assert_int_equal(ds_base64url_decode(txt, (size_t)n, out, sizeof(out)), (int)len);
		assert_memory_equal(out, raw, len);
		n = ds_hex_encode(raw, len, txt, sizeof(txt) < 2 * len + 1 ? 0 : sizeof(txt));
		if (2 * len + 1 <= sizeof(txt)) {
			assert_int_equal(ds_hex_decode(txt, (size_t)n, out, sizeof(out)), (int)len);
			assert_memory_equal(out, raw, len);
		} else {
			assert_int_equal(n, -ENOSPC);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_fips180),
		cmocka_unit_test(test_hmac_sha256_rfc4231),
		cmocka_unit_test(test_hkdf_sha256_rfc5869),
		cmocka_unit_test(test_pbkdf2_sha256_rfc7914),
		cmocka_unit_test(test_storage_format5),
		cmocka_unit_test(test_aes_gcm_known_answers),
		cmocka_unit_test(test_aes_cbc_round_trips),
		cmocka_unit_test(test_aes_cbc_bad_padding),
		cmocka_unit_test(test_p256_ecdh),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_ct_memcmp),
		cmocka_unit_test(test_encoding_vectors),
		cmocka_unit_test(test_encoding_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
