/*
 * What the accounts servers answer: the tokenserver (account/tokenserver.c), the FxA auth and
 * OAuth server (account/fxa.c: login, session verification, /account/keys, scoped-key-data,
 * oauth token and refresh, device registration) and the keys_jwe of the OAuth code flow
 * (account/fxa_jwe.c). The network is the canned answers of fuzz_canned.h.
 *
 * Input: one mode byte, then (modes 0-2) canned answers. Mode & 3:
 *   0  tokenserver: up to 4 ds_tokenserver_get() calls, the clock a day further each time (the
 *      cached token expires), invalidated after call i when mode bit 2+i is set. A 0 return
 *      comes with state OK and a token with id, key and api_endpoint and a positive duration;
 *      a failure hands out no token; backoffs are never negative; -EAGAIN has a Retry-After.
 *   1  FxA sign-in: ds_fxa_login, then ds_fxa_verify when unverified, ds_fxa_register_device
 *      and ds_fxa_destroy. Password stretching is replaced by a cheap derivation in this target
 *      (scrypt and 650,000 PBKDF2 rounds per input would leave no time to fuzz; the real
 *      stretching has its known-answer tests): see fuzz.mk's --wrap. A refused login leaves
 *      the session wiped; an accepted one has a uid and, unverified, a verification method.
 *   2  the key fetch with the pending tokens of the onepw v1 vector (test/vectors/onepw.txt),
 *      so a bundle from that vector passes its MAC: ds_fxa_fetch_keys (which also reads
 *      scoped-key-data), then ds_fxa_oauth_token and ds_fxa_oauth_refresh. Keys are derived
 *      only on success; a refused token answer hands out no access token.
 *   3  a compact JWE for ds_fxa_jwe_decrypt under a fixed P-256 private key (make-seeds.py
 *      writes JWEs to it): a refusal hands out no plaintext.
 */
#include "test/fuzz/fuzz_common.h"
#include "test/fuzz/fuzz_canned.h"
#include "account/ds_account_keys.h"
#include "account/ds_fxa.h"
#include "account/ds_tokenserver.h"
#include "crypto/ds_crypto.h"

#include <cjson/cJSON.h>
#include <string.h>

/* The receiver key of the seeds' JWEs (make-seeds.py: JWE_PRIV). */
static const char jwe_priv_hex[] = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
/* onepw v1 (test/vectors/onepw.txt). */
static const char kft_hex[] = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
static const char ubk_hex[] = "de6a2648b78284fcb9ffa81ba95803309cfba7af583c01a8a1a63e567234dd28";
static const char st_hex[] = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";

static uint8_t jwe_priv[32], kft[32], ubk[32], st[32];
static int64_t now_ms;

int __wrap_ds_account_stretch_v1(const char *email, const char *password, uint8_t out[32]);
int __wrap_ds_account_stretch_v2(const char *client_salt, const char *password, uint8_t out[32]);

/* Stand-ins for the stretching (see above): deterministic, and a different salt, a different key. */
int __wrap_ds_account_stretch_v1(const char *email, const char *password, uint8_t out[32])
{
	return ds_hmac_sha256(email, strlen(email), password, strlen(password), out);
}

int __wrap_ds_account_stretch_v2(const char *client_salt, const char *password, uint8_t out[32])
{
	return ds_hmac_sha256(client_salt, strlen(client_salt), password, strlen(password), out);
}

static int64_t clock_ms(void)
{
	return now_ms;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	DS_UNUSED(argc);
	DS_UNUSED(argv);
	fuzz_quiet();
	if (ds_hex_decode(jwe_priv_hex, 64, jwe_priv, 32) != 32 || ds_hex_decode(kft_hex, 64, kft, 32) != 32 ||
	    ds_hex_decode(ubk_hex, 64, ubk, 32) != 32 || ds_hex_decode(st_hex, 64, st, 32) != 32)
		fuzz_fail("harness keys");
	return 0;
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void tokenserver(uint8_t mode)
{
	struct ds_tokenserver_config cfg = { .url = "https://token.example.test", .mono_ms = clock_ms,
					     .wall_ms = clock_ms };
	struct ds_tokenserver_auth auth = { .access_token = "at", .key_id = "1234-qqo" };
	struct ds_tokenserver_result res;
	struct ds_tokenserver *ts;
	struct ds_http_client *http;
	int rc;

	now_ms = 1767225600000;
	if (ds_tokenserver_new(&cfg, &ts) || ds_http_client_new(NULL, &http))
		fuzz_fail("ds_tokenserver_new");
	for (int i = 0; i < 4; i++) {
		memset(&res, 0xa5, sizeof(res));
		rc = ds_tokenserver_get(ts, http, &auth, &res);
		fuzz_note(ds_tokenserver_state_name(res.state), rc);
		if (!ds_tokenserver_state_name(res.state) || res.retry_after_s < 0 || res.backoff_s < 0)
			fuzz_fail("tokenserver: no state name or a negative backoff");
		if (rc == 0) {
			const struct ds_tokenserver_token *t = res.token;

			if (res.state != DS_TOKENSERVER_OK || !t || !t->id || !*t->id || !t->key ||
			    !*t->key || !t->api_endpoint || !*t->api_endpoint || t->duration_s <= 0 ||
			    t->expires_mono_ms <= t->fetched_mono_ms)
				fuzz_fail("tokenserver: an accepted token lacks a field");
		} else {
			if (res.token || res.state == DS_TOKENSERVER_OK)
				fuzz_fail("tokenserver: a failure handed out a token");
			if (rc == -EAGAIN && res.retry_after_s <= 0)
				fuzz_fail("tokenserver: -EAGAIN without a Retry-After");
		}
		if (mode & (4u << i))
			ds_tokenserver_invalidate(ts);
		now_ms += 86400000;
	}
	ds_tokenserver_free(ts);
	ds_http_client_free(http);
}

static void signin(struct ds_fxa *f)
{
	struct ds_fxa_session s;
	int rc;

	memset(&s, 0xa5, sizeof(s));
	rc = ds_fxa_login(f, "user@example.test", "password", &s);
	fuzz_note("login", rc);
	if (rc) {
		if (!all_zero(&s, sizeof(s)))
			fuzz_fail("a refused login left session data");
		return;
	}
	if (!s.has_session || !s.uid[0] || memchr(s.uid, 0, sizeof(s.uid)) == NULL ||
	    (!s.verified && !s.verification_method[0]))
		fuzz_fail("an accepted login lacks a field");
	if (!s.verified) {
		rc = ds_fxa_verify(f, &s, "123456");
		fuzz_note("verify", rc);
		if (rc == 0 && (!s.verified || s.verification_method[0]))
			fuzz_fail("a verified session still waits for a code");
	}
	rc = ds_fxa_register_device(f, &s, "TV", "tv");
	fuzz_note("register_device", rc);
	if (rc == 0 && !s.device_id[0])
		fuzz_fail("a registered device has no id");
	(void)ds_fxa_destroy(f, &s);
	ds_fxa_session_wipe(&s);
}

static void keyfetch(struct ds_fxa *f)
{
	struct ds_fxa_session s;
	struct ds_fxa_token tok = { 0 };
	uint8_t kb[DS_ACCOUNT_KEY_LEN];
	int rc;

	memset(&s, 0, sizeof(s));
	strcpy(s.uid, "0123456789abcdef0123456789abcdef");
	s.has_session = s.verified = s.has_key_fetch = true;
	s.stretch_version = 1;
	memcpy(s.session_token, st, 32);
	memcpy(s.key_fetch_token, kft, 32);
	memcpy(s.unwrap_bkey, ubk, 32);
	memset(kb, 0xa5, sizeof(kb));
	rc = ds_fxa_fetch_keys(f, &s, kb);
	fuzz_note("fetch_keys", rc);
	if (rc == 0) {
		if (!s.has_keys || s.has_key_fetch || !s.kid[0] ||
		    strlen(s.client_state) != DS_ACCOUNT_CLIENT_STATE_LEN)
			fuzz_fail("fetched keys lack a field");
	} else if (s.has_keys || !all_zero(s.ksync, sizeof(s.ksync)) || s.kid[0]) {
		fuzz_fail("a failed key fetch derived keys");
	}
	rc = ds_fxa_oauth_token(f, &s, DS_FXA_OLDSYNC_SCOPE, true, &tok);
	fuzz_note("oauth_token", rc);
	if (rc == 0 ? !tok.access_token || !*tok.access_token : tok.access_token != NULL)
		fuzz_fail("ds_fxa_oauth_token: access token and result disagree");
	ds_fxa_token_clear(&tok);
	if (s.refresh_token[0]) {
		rc = ds_fxa_oauth_refresh(f, &s, DS_FXA_OLDSYNC_SCOPE, &tok);
		fuzz_note("oauth_refresh", rc);
		if (rc == 0 ? !tok.access_token || !*tok.access_token : tok.access_token != NULL)
			fuzz_fail("ds_fxa_oauth_refresh: access token and result disagree");
		ds_fxa_token_clear(&tok);
	}
	ds_memzero(kb, sizeof(kb));
	ds_fxa_session_wipe(&s);
}

static void jwe(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size), *plain = NULL;
	size_t len = 0;
	int rc = ds_fxa_jwe_decrypt(jwe_priv, text, &plain, &len);

	fuzz_note("jwe_decrypt", rc);

	if (rc == 0) {
		if (!plain || plain[len] != '\0')
			fuzz_fail("a decrypted JWE is not NUL-terminated at its length");
		ds_memzero(plain, len);
		ds_free(plain);
	} else if (plain) {
		fuzz_fail("a refused JWE handed out plaintext");
	} else if (rc != -EINVAL && rc != -EBADMSG && rc != -ENOMEM) {
		fuzz_fail("ds_fxa_jwe_decrypt: unexpected error");
	}
	ds_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ds_fxa_config cfg = { .fxa_url = "https://accounts.example.test", .client_id = "5882386c6d801776" };
	struct ds_fxa *f;

	if (!size)
		return 0;
	if ((data[0] & 3) == 3) {
		jwe(data + 1, size - 1);
		return 0;
	}
	fuzz_canned_load(data + 1, size - 1);
	if ((data[0] & 3) == 0) {
		tokenserver(data[0]);
		return 0;
	}
	if (ds_fxa_new(&cfg, &f))
		fuzz_fail("ds_fxa_new");
	if ((data[0] & 3) == 1)
		signin(f);
	else
		keyfetch(f);
	ds_fxa_free(f);
	return 0;
}
