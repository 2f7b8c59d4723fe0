/*
 * account_keys_test.c - the Firefox Accounts key chain against the published onepw vectors
 * (v1 including the /account/keys bundle, v2) and the Sync-scope known answers
 * (test/vectors/onepw.txt and scoped_keys.txt cite their sources).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "account/ds_account_keys.h"
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "test/vectors/vector_file.h"

static void load(const char *name, struct vec_file *vf)
{
	if (vec_load(name, vf) != 0)
		fail_msg("cannot read test/vectors/%s", name);
	assert_true(vf->n > 0);
}

static const struct vec_record *record(const struct vec_file *vf, const char *name)
{
	size_t i;

	for (i = 0; i < vf->n; i++)
		if (vec_is(&vf->recs[i], "name", name))
			return &vf->recs[i];
	fail_msg("no record '%s' in %s", name, vf->path);
	return NULL;
}

/* The 32-byte (or n-byte) hex field key of r. */
static void field(const struct vec_record *r, const char *key, uint8_t *out, size_t n)
{
	long got = vec_bytes(r, key, out, n);

	if (got != (long)n)
		fail_msg("line %u: field '%s' is not %zu bytes", r->line, key, n);
}

static void text(const struct vec_record *r, const char *key, char *out, size_t cap)
{
	if (vec_text(r, key, out, cap) < 0)
		fail_msg("line %u: field '%s' missing or not text", r->line, key);
}

#define K DS_ACCOUNT_KEY_LEN

/* ---- onepw v1: password -> authPW/unwrapBKey; tokens; bundle -> kA, kB ---------------------- */

static void test_onepw_v1_chain(void **state)
{
	struct vec_file vf;
	const struct vec_record *r;
	char email[64], password[64];
	uint8_t raw[64], want[64], got[64], unwrap[K], wrap_kb[K], ka[K], kb[K];
	uint8_t bundle[DS_ACCOUNT_BUNDLE_LEN];
	struct ds_account_token_keys tk;

	(void)state;
	load("onepw.txt", &vf);
	r = record(&vf, "onepw v1");
	text(r, "email", email, sizeof(email));
	text(r, "password", password, sizeof(password));
	/* The file's UTF-8 text is the protocol's bytes (guards against an editor's re-encoding). */
	field(r, "email_hex", raw, strlen(email));
	assert_memory_equal(raw, email, strlen(email));
	field(r, "password_hex", raw, strlen(password));
	assert_memory_equal(raw, password, strlen(password));

	assert_int_equal(ds_account_stretch_v1(email, password, got), 0);
	field(r, "quick_stretched_pw", want, K);
	assert_memory_equal(got, want, K);

	assert_int_equal(ds_account_auth_pw(want, got), 0);
	field(r, "auth_pw", raw, K);
	assert_memory_equal(got, raw, K);
	assert_int_equal(ds_account_unwrap_bkey(want, unwrap), 0);
	field(r, "unwrap_bkey", raw, K);
	assert_memory_equal(unwrap, raw, K);

	/* keyFetchToken -> Hawk id and key, and keyRequestKey. */
	field(r, "key_fetch_token", raw, K);
	assert_int_equal(ds_account_key_fetch_token_keys(raw, &tk), 0);
	field(r, "kft_token_id", want, K);
	assert_memory_equal(tk.token_id, want, K);
	field(r, "kft_req_hmac_key", want, K);
	assert_memory_equal(tk.req_hmac_key, want, K);
	field(r, "key_request_key", want, K);
	assert_memory_equal(tk.extra, want, K);

	/* keyRequestKey -> respHMACkey, respXORkey. */
	assert_int_equal(ds_account_response_keys(tk.extra, got, raw), 0);
	field(r, "resp_hmac_key", want, K);
	assert_memory_equal(got, want, K);
	field(r, "resp_xor_key", want, 2 * K);
	assert_memory_equal(raw, want, 2 * K);

	/* The bundle: MAC checked, then XOR -> kA, wrapKB; wrapKB XOR unwrapBKey -> kB. */
	field(r, "bundle", bundle, sizeof(bundle));
	assert_int_equal(ds_account_unbundle(tk.extra, bundle, sizeof(bundle), ka, wrap_kb), 0);
	field(r, "ka", want, K);
	assert_memory_equal(ka, want, K);
	field(r, "wrap_kb", want, K);
	assert_memory_equal(wrap_kb, want, K);
	assert_int_equal(ds_account_unwrap_kb(wrap_kb, unwrap, kb), 0);
	field(r, "kb", want, K);
	assert_memory_equal(kb, want, K);

	/* sessionToken -> Hawk id and key. */
	field(r, "session_token", raw, K);
	assert_int_equal(ds_account_session_token_keys(raw, &tk), 0);
	field(r, "session_token_id", want, K);
	assert_memory_equal(tk.token_id, want, K);
	field(r, "session_req_hmac_key", want, K);
	assert_memory_equal(tk.req_hmac_key, want, K);
	/* The generic form with the type's name gives the same. */
	assert_int_equal(ds_account_token_keys(raw, "sessionToken", &tk), 0);
	assert_memory_equal(tk.req_hmac_key, want, K);
	assert_int_equal(ds_account_token_keys(raw, "keyFetchToken", &tk), 0);
	assert_memory_not_equal(tk.req_hmac_key, want, K);
	vec_free(&vf);
}

/* onepw: a bundle whose MAC does not verify yields nothing (FXA crypto.ts unbundle). */
static void test_unbundle_rejects_tampering(void **state)
{
	struct vec_file vf;
	const struct vec_record *r;
	uint8_t krk[K], bundle[DS_ACCOUNT_BUNDLE_LEN + 1], ka[K], wkb[K], fill[K];
	size_t i;

	(void)state;
	load("onepw.txt", &vf);
	r = record(&vf, "onepw v1");
	field(r, "key_request_key", krk, K);
	field(r, "bundle", bundle, DS_ACCOUNT_BUNDLE_LEN);
	memset(fill, 0x5a, sizeof(fill));

	/* Flip one bit anywhere: in the ciphertext (0..63) or in the MAC (64..95). */
	for (i = 0; i < DS_ACCOUNT_BUNDLE_LEN; i += 7) {
		memset(ka, 0x5a, K);
		memset(wkb, 0x5a, K);
		bundle[i] ^= 0x10;
		assert_int_equal(ds_account_unbundle(krk, bundle, DS_ACCOUNT_BUNDLE_LEN, ka, wkb),
				 -EBADMSG);
		assert_memory_equal(ka, fill, K);
		assert_memory_equal(wkb, fill, K);
		bundle[i] ^= 0x10;
	}
	/* The wrong keyRequestKey (e.g. from another keyFetchToken). */
	krk[0] ^= 1;
	assert_int_equal(ds_account_unbundle(krk, bundle, DS_ACCOUNT_BUNDLE_LEN, ka, wkb), -EBADMSG);
	krk[0] ^= 1;
	/* A bundle is exactly 96 bytes. */
	assert_int_equal(ds_account_unbundle(krk, bundle, DS_ACCOUNT_BUNDLE_LEN - 1, ka, wkb),
			 -EINVAL);
	assert_int_equal(ds_account_unbundle(krk, bundle, DS_ACCOUNT_BUNDLE_LEN + 1, ka, wkb),
			 -EINVAL);
	assert_int_equal(ds_account_unbundle(krk, bundle, DS_ACCOUNT_BUNDLE_LEN, ka, wkb), 0);
	vec_free(&vf);
}

/* ---- onepw v2 (650000 iterations: run once) ------------------------------------------------ */

static void test_onepw_v2(void **state)
{
	struct vec_file vf;
	const struct vec_record *r;
	char password[64], salt[128];
	uint8_t stretched[K], want[K], got[K];

	(void)state;
	load("onepw.txt", &vf);
	r = record(&vf, "onepw v2");
	text(r, "password", password, sizeof(password));
	text(r, "client_salt", salt, sizeof(salt));
	assert_int_equal(ds_account_stretch_v2(salt, password, stretched), 0);
	field(r, "stretched_pw", want, K);
	assert_memory_equal(stretched, want, K);
	assert_int_equal(ds_account_auth_pw(stretched, got), 0);
	field(r, "auth_pw", want, K);
	assert_memory_equal(got, want, K);
	assert_int_equal(ds_account_unwrap_bkey(stretched, got), 0);
	field(r, "unwrap_bkey", want, K);
	assert_memory_equal(got, want, K);
	vec_free(&vf);

	/* Salts outside the v2 namespace are refused before any stretching. */
	assert_int_equal(ds_account_stretch_v2("", password, got), -EINVAL);
	assert_int_equal(ds_account_stretch_v2(DS_ACCOUNT_SALT_V2_PREFIX, password, got), -EINVAL);
	assert_int_equal(ds_account_stretch_v2("identity.mozilla.com/picl/v1/quickStretch:a@b.c",
					       password, got),
			 -EINVAL);
}

static void test_new_salt_v2(void **state)
{
	char a[128], b[128];
	size_t plen = strlen(DS_ACCOUNT_SALT_V2_PREFIX), i;

	(void)state;
	assert_int_equal(ds_account_new_salt_v2(a, sizeof(a)), (int)plen + 32);
	assert_int_equal(ds_account_new_salt_v2(b, sizeof(b)), (int)plen + 32);
	assert_memory_equal(a, DS_ACCOUNT_SALT_V2_PREFIX, plen);
	for (i = plen; i < plen + 32; i++)
		assert_non_null(strchr("0123456789abcdef", a[i]));
	assert_string_not_equal(a, b);
	assert_int_equal(ds_account_new_salt_v2(a, plen + 32), -ENOSPC);
	assert_int_equal(ds_account_new_salt_v2(a, plen + 33), (int)plen + 32);
}

/* ---- the Sync scope: kSync, its split, X-Client-State, key id ------------------------------ */

static void test_sync_scope_tv4(void **state)
{
	struct vec_file vf;
	const struct vec_record *r;
	uint8_t kb[K], ksync[64], want[64], enc[K], hmac[K];
	char txt[160], exp[160], kid[DS_ACCOUNT_KID_MAX];

	(void)state;
	load("scoped_keys.txt", &vf);
	r = record(&vf, "TV-4");
	field(r, "kb", kb, K);
	assert_int_equal(ds_account_ksync(kb, ksync), 0);
	field(r, "ksync", want, 64);
	assert_memory_equal(ksync, want, 64);
	/* The JWK "k" of the oldsync scope is kSync in unpadded base64url. */
	text(r, "ksync_b64url", exp, sizeof(exp));
	assert_int_equal(ds_base64url_encode(ksync, 64, txt, sizeof(txt)), 86);
	assert_string_equal(txt, exp);
	assert_int_equal(ds_account_ksync_split(ksync, enc, hmac), 0);
	assert_memory_equal(enc, want, K);
	assert_memory_equal(hmac, want + K, K);

	text(r, "client_state", exp, sizeof(exp));
	assert_int_equal(ds_account_client_state(kb, txt, sizeof(txt)), 32);
	assert_string_equal(txt, exp);

	text(r, "kid_suffix", exp, sizeof(exp));
	assert_int_equal(ds_account_key_id(1542236016429, kb, kid, sizeof(kid)), 14 + 22);
	assert_memory_equal(kid, "1542236016429-", 14);
	assert_string_equal(kid + 14, exp);
	vec_free(&vf);
}

static void test_sync_scope_client_vectors(void **state)
{
	struct vec_file vf;
	const struct vec_record *r;
	uint8_t kb[K], ksync[64], enc[K], hmac[K];
	char txt[64], exp[64];

	(void)state;
	load("scoped_keys.txt", &vf);
	r = record(&vf, "client key bundle");
	field(r, "kb", kb, K);
	assert_int_equal(ds_account_ksync(kb, ksync), 0);
	assert_int_equal(ds_account_ksync_split(ksync, enc, hmac), 0);
	text(r, "enc_key_b64", exp, sizeof(exp));
	assert_int_equal(ds_base64_encode(enc, K, txt, sizeof(txt)), 44);
	assert_string_equal(txt, exp);
	text(r, "hmac_key_b64", exp, sizeof(exp));
	assert_int_equal(ds_base64_encode(hmac, K, txt, sizeof(txt)), 44);
	assert_string_equal(txt, exp);

	r = record(&vf, "client state");
	field(r, "kb", kb, K);
	text(r, "client_state", exp, sizeof(exp));
	assert_int_equal(ds_account_client_state(kb, txt, sizeof(txt)), 32);
	assert_string_equal(txt, exp);
	assert_int_equal(ds_account_client_state(kb, txt, 32), -ENOSPC);
	vec_free(&vf);
}

/* The onepw kB's kSync and key id: the whole chain from a password ends here. */
static void test_sync_scope_onepw(void **state)
{
	struct vec_file vf;
	const struct vec_record *r;
	uint8_t kb[K], ksync[64], x[16];
	char txt[160], exp[160], kid[DS_ACCOUNT_KID_MAX], hex[33];

	(void)state;
	load("onepw.txt", &vf);
	r = record(&vf, "onepw v1 derived");
	field(r, "kb", kb, K);
	assert_int_equal(ds_account_ksync(kb, ksync), 0);
	text(r, "ksync_b64url", exp, sizeof(exp));
	assert_int_equal(ds_base64url_encode(ksync, 64, txt, sizeof(txt)), 86);
	assert_string_equal(txt, exp);
	field(r, "kxcs", x, 16);
	assert_int_equal(ds_hex_encode(x, 16, hex, sizeof(hex)), 32);
	assert_int_equal(ds_account_client_state(kb, txt, sizeof(txt)), 32);
	assert_string_equal(txt, hex);
	text(r, "kxcs_b64url", exp, sizeof(exp));
	assert_int_equal(ds_account_key_id(0, kb, kid, sizeof(kid)), 2 + 22);
	assert_memory_equal(kid, "0-", 2);
	assert_string_equal(kid + 2, exp);
	vec_free(&vf);
}

static void test_generic_scoped_key(void **state)
{
	struct vec_file vf;
	const struct vec_record *r;
	uint8_t kb[K], krs[K], uid[16], fp[16], key[32], want[32];
	char ident[64], ms[32], exp[64], kid[64];

	(void)state;
	load("scoped_keys.txt", &vf);
	r = record(&vf, "generic scoped key");
	field(r, "kb", kb, K);
	field(r, "key_rotation_secret", krs, K);
	field(r, "uid", uid, 16);
	text(r, "identifier", ident, sizeof(ident));
	assert_int_equal(ds_account_scoped_key(kb, krs, uid, ident, fp, key), 0);
	field(r, "ksfp", want, 16);
	assert_memory_equal(fp, want, 16);
	field(r, "ks", want, 32);
	assert_memory_equal(key, want, 32);
	text(r, "key_rotation_ms", ms, sizeof(ms));
	text(r, "kid", exp, sizeof(exp));
	assert_int_equal(ds_account_scoped_key_id(strtoll(ms, NULL, 10), fp, kid, sizeof(kid)),
			 (int)strlen(exp));
	assert_string_equal(kid, exp);
	/* Milliseconds round to the nearest second, as Gecko's Math.round does. */
	assert_int_equal(ds_account_scoped_key_id(1510726316500, fp, kid, sizeof(kid)), 33);
	assert_string_equal(kid, exp);
	assert_int_equal(ds_account_scoped_key_id(1510726317499, fp, kid, sizeof(kid)), 33);
	assert_string_equal(kid, exp);
	assert_int_equal(ds_account_scoped_key_id(1510726317500, fp, kid, sizeof(kid)), 33);
	assert_memory_equal(kid, "1510726318-", 11);
	/* Another identifier gives another key. */
	assert_int_equal(ds_account_scoped_key(kb, krs, uid, "app_key:other", fp, key), 0);
	assert_memory_not_equal(key, want, 32);
	vec_free(&vf);
}

static void test_key_id_bounds(void **state)
{
	uint8_t kb[K] = { 1 };
	char kid[DS_ACCOUNT_KID_MAX];

	(void)state;
	assert_int_equal(ds_account_key_id(-1, kb, kid, sizeof(kid)), -EINVAL);
	/* The largest timestamp still fits the documented maximum. */
	assert_int_equal(ds_account_key_id(INT64_MAX, kb, kid, sizeof(kid)), 19 + 1 + 22);
	assert_memory_equal(kid, "9223372036854775807-", 20);
	assert_int_equal(ds_account_key_id(1, kb, kid, 2 + 22), -ENOSPC); /* no room for NUL */
	assert_int_equal(ds_account_key_id(1, kb, kid, 2 + 23), 24);
	assert_int_equal(ds_account_key_id(1542236016429, kb, kid, 10), -ENOSPC);
}

static void test_bad_arguments(void **state)
{
	uint8_t k[K] = { 0 }, out[64];
	struct ds_account_token_keys tk;

	(void)state;
	assert_int_equal(ds_account_stretch_v1("", "pw", out), -EINVAL);
	assert_int_equal(ds_account_stretch_v1(NULL, "pw", out), -EINVAL);
	assert_int_equal(ds_account_stretch_v1("a@b.c", NULL, out), -EINVAL);
	assert_int_equal(ds_account_token_keys(k, "", &tk), -EINVAL);
	assert_int_equal(ds_account_token_keys(k, NULL, &tk), -EINVAL);
	assert_int_equal(ds_account_ksync(NULL, out), -EINVAL);
	assert_int_equal(ds_account_unwrap_kb(k, NULL, out), -EINVAL);
	/* An empty password is the user's choice, not ours to refuse. */
	assert_int_equal(ds_account_stretch_v1("a@b.c", "", out), 0);
}

static void test_stretch_v1_allocation_failure(void **state)
{
	uint8_t out[K], want[K];
	unsigned long n;

	(void)state;
	if (!IS_ENABLED(CONFIG_DS_ALLOC_HOOK))
		skip();
	assert_int_equal(ds_account_stretch_v1("a@b.c", "pw", want), 0);
	ds_alloc_fail_after(0);
	assert_int_equal(ds_account_stretch_v1("a@b.c", "pw", out), 0);
	n = ds_alloc_fail_after(0);
	assert_true(n >= 1);
	for (unsigned long i = 1; i <= n; i++) {
		ds_alloc_fail_after(i);
		assert_int_equal(ds_account_stretch_v1("a@b.c", "pw", out), -ENOMEM);
	}
	ds_alloc_fail_after(0);
	assert_int_equal(ds_account_stretch_v1("a@b.c", "pw", out), 0);
	assert_memory_equal(out, want, K);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_onepw_v1_chain),
		cmocka_unit_test(test_unbundle_rejects_tampering),
		cmocka_unit_test(test_onepw_v2),
		cmocka_unit_test(test_new_salt_v2),
		cmocka_unit_test(test_sync_scope_tv4),
		cmocka_unit_test(test_sync_scope_client_vectors),
		cmocka_unit_test(test_sync_scope_onepw),
		cmocka_unit_test(test_generic_scoped_key),
		cmocka_unit_test(test_key_id_bounds),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_stretch_v1_allocation_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
