/*
 * keys.c - Firefox Accounts key derivations (onepw v1/v2, token keys, the /account/keys bundle,
 * kSync and its identifiers). Sources: mozilla/ecosystem-platform onepw-protocol.md, mozilla/fxa
 * fxa-auth-client lib/crypto.ts, lib/salt.ts, lib/hawk.ts; gecko FxAccountsKeys.sys.mjs for the
 * oldsync scope. Known answers: test/vectors/onepw.txt, scoped_keys.txt.
 */
#include "account/ds_account_keys.h"
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* PyFxA's KW(name): every onepw HKDF info and the v1 salt live under this namespace. */
#define KW(name) "identity.mozilla.com/picl/v1/" name

static int kw_hkdf(const void *ikm, size_t ilen, const char *info, void *okm, size_t olen)
{
	/* onepw uses HKDF with an empty salt (= HashLen zero bytes, RFC 5869 §2.2). */
	return ds_hkdf_sha256(NULL, 0, ikm, ilen, info, strlen(info), okm, olen);
}

/* ---- password stretching ------------------------------------------------------------------- */

int ds_account_stretch_v1(const char *email, const char *password,
			  uint8_t stretched[DS_ACCOUNT_KEY_LEN])
{
	char *salt;
	int rc;

	if (!email || !*email || !password || !stretched)
		return -EINVAL;
	salt = ds_asprintf(KW("quickStretch:%s"), email);
	if (!salt)
		return -ENOMEM;
	rc = ds_pbkdf2_sha256(password, strlen(password), salt, strlen(salt), DS_ACCOUNT_STRETCH_V1_ITERATIONS,
			      stretched, DS_ACCOUNT_KEY_LEN);
	ds_free(salt);
	return rc;
}

int ds_account_stretch_v2(const char *client_salt, const char *password,
			  uint8_t stretched[DS_ACCOUNT_KEY_LEN])
{
	static const char prefix[] = DS_ACCOUNT_SALT_V2_PREFIX;

	if (!client_salt || !password || !stretched)
		return -EINVAL;
	/*
	 * The salt is used as received; only its namespace is checked, so a server that ever
	 * lengthens the random part keeps working, while a v1-style or empty salt is refused.
	 */
	if (strncmp(client_salt, prefix, sizeof(prefix) - 1) != 0 ||
	    client_salt[sizeof(prefix) - 1] == '\0')
		return -EINVAL;
	return ds_pbkdf2_sha256(password, strlen(password), client_salt, strlen(client_salt),
				DS_ACCOUNT_STRETCH_V2_ITERATIONS, stretched, DS_ACCOUNT_KEY_LEN);
}

int ds_account_new_salt_v2(char *out, size_t cap)
{
	static const char prefix[] = DS_ACCOUNT_SALT_V2_PREFIX;
	uint8_t core[16];
	int rc;

	if (!out)
		return -EINVAL;
	if (cap < sizeof(prefix) + 2 * sizeof(core))
		return -ENOSPC;
	rc = ds_random(core, sizeof(core));
	if (rc)
		return rc;
	memcpy(out, prefix, sizeof(prefix) - 1);
	rc = ds_hex_encode(core, sizeof(core), out + sizeof(prefix) - 1, cap - (sizeof(prefix) - 1));
	ds_memzero(core, sizeof(core));
	return rc < 0 ? rc : (int)(sizeof(prefix) - 1) + rc;
}

int ds_account_auth_pw(const uint8_t stretched[DS_ACCOUNT_KEY_LEN],
		       uint8_t auth_pw[DS_ACCOUNT_KEY_LEN])
{
	if (!stretched || !auth_pw)
		return -EINVAL;
	return kw_hkdf(stretched, DS_ACCOUNT_KEY_LEN, KW("authPW"), auth_pw, DS_ACCOUNT_KEY_LEN);
}

int ds_account_unwrap_bkey(const uint8_t stretched[DS_ACCOUNT_KEY_LEN],
			   uint8_t unwrap_bkey[DS_ACCOUNT_KEY_LEN])
{
	if (!stretched || !unwrap_bkey)
		return -EINVAL;
	/* Lower-case 'k' in "unwrapBkey": the protocol's spelling, not a typo to fix. */
	return kw_hkdf(stretched, DS_ACCOUNT_KEY_LEN, KW("unwrapBkey"), unwrap_bkey,
		       DS_ACCOUNT_KEY_LEN);
}

/* ---- tokens -------------------------------------------------------------------------------- */

int ds_account_token_keys(const uint8_t token[DS_ACCOUNT_KEY_LEN], const char *token_type,
			  struct ds_account_token_keys *out)
{
	char info[96];
	uint8_t km[3 * DS_ACCOUNT_KEY_LEN];
	int rc;

	if (!token || !token_type || !*token_type || !out)
		return -EINVAL;
	rc = snprintf(info, sizeof(info), KW("%s"), token_type);
	if (rc < 0 || (size_t)rc >= sizeof(info))
		return -EINVAL;
	rc = kw_hkdf(token, DS_ACCOUNT_KEY_LEN, info, km, sizeof(km));
	if (rc == 0) {
		memcpy(out->token_id, km, DS_ACCOUNT_KEY_LEN);
		memcpy(out->req_hmac_key, km + DS_ACCOUNT_KEY_LEN, DS_ACCOUNT_KEY_LEN);
		memcpy(out->extra, km + 2 * DS_ACCOUNT_KEY_LEN, DS_ACCOUNT_KEY_LEN);
	}
	ds_memzero(km, sizeof(km));
	return rc;
}

int ds_account_session_token_keys(const uint8_t session_token[DS_ACCOUNT_KEY_LEN],
				  struct ds_account_token_keys *out)
{
	return ds_account_token_keys(session_token, "sessionToken", out);
}

int ds_account_key_fetch_token_keys(const uint8_t key_fetch_token[DS_ACCOUNT_KEY_LEN],
				    struct ds_account_token_keys *out)
{
	return ds_account_token_keys(key_fetch_token, "keyFetchToken", out);
}

/* ---- the /account/keys bundle -------------------------------------------------------------- */

int ds_account_response_keys(const uint8_t key_request_key[DS_ACCOUNT_KEY_LEN],
			     uint8_t resp_hmac_key[DS_ACCOUNT_KEY_LEN],
			     uint8_t resp_xor_key[2 * DS_ACCOUNT_KEY_LEN])
{
	uint8_t k2[3 * DS_ACCOUNT_KEY_LEN];
	int rc;

	if (!key_request_key || !resp_hmac_key || !resp_xor_key)
		return -EINVAL;
	rc = kw_hkdf(key_request_key, DS_ACCOUNT_KEY_LEN, KW("account/keys"), k2, sizeof(k2));
	if (rc == 0) {
		memcpy(resp_hmac_key, k2, DS_ACCOUNT_KEY_LEN);
		memcpy(resp_xor_key, k2 + DS_ACCOUNT_KEY_LEN, 2 * DS_ACCOUNT_KEY_LEN);
	}
	ds_memzero(k2, sizeof(k2));
	return rc;
}

int ds_account_unbundle(const uint8_t key_request_key[DS_ACCOUNT_KEY_LEN], const uint8_t *bundle,
			size_t blen, uint8_t ka[DS_ACCOUNT_KEY_LEN],
			uint8_t wrap_kb[DS_ACCOUNT_KEY_LEN])
{
	enum { CT_LEN = 2 * DS_ACCOUNT_KEY_LEN };
	uint8_t hmac_key[DS_ACCOUNT_KEY_LEN], xor_key[CT_LEN], mac[DS_SHA256_LEN];
	size_t i;
	int rc;

	if (!key_request_key || !bundle || !ka || !wrap_kb)
		return -EINVAL;
	if (blen != DS_ACCOUNT_BUNDLE_LEN)
		return -EINVAL;
	rc = ds_account_response_keys(key_request_key, hmac_key, xor_key);
	if (rc == 0)
		rc = ds_hmac_sha256(hmac_key, sizeof(hmac_key), bundle, CT_LEN, mac);
	/* onepw: verify the MAC over the ciphertext before using any of it. */
	if (rc == 0 && ds_ct_memcmp(mac, bundle + CT_LEN, DS_SHA256_LEN) != 0)
		rc = -EBADMSG;
	if (rc == 0) {
		for (i = 0; i < DS_ACCOUNT_KEY_LEN; i++) {
			ka[i] = bundle[i] ^ xor_key[i];
			wrap_kb[i] = bundle[DS_ACCOUNT_KEY_LEN + i] ^ xor_key[DS_ACCOUNT_KEY_LEN + i];
		}
	}
	ds_memzero(hmac_key, sizeof(hmac_key));
	ds_memzero(xor_key, sizeof(xor_key));
	ds_memzero(mac, sizeof(mac));
	return rc;
}

int ds_account_unwrap_kb(const uint8_t wrap_kb[DS_ACCOUNT_KEY_LEN],
			 const uint8_t unwrap_bkey[DS_ACCOUNT_KEY_LEN], uint8_t kb[DS_ACCOUNT_KEY_LEN])
{
	size_t i;

	if (!wrap_kb || !unwrap_bkey || !kb)
		return -EINVAL;
	for (i = 0; i < DS_ACCOUNT_KEY_LEN; i++)
		kb[i] = wrap_kb[i] ^ unwrap_bkey[i];
	return 0;
}

/* ---- the Sync scope ------------------------------------------------------------------------ */

int ds_account_ksync(const uint8_t kb[DS_ACCOUNT_KEY_LEN], uint8_t ksync[DS_ACCOUNT_KSYNC_LEN])
{
	if (!kb || !ksync)
		return -EINVAL;
	return kw_hkdf(kb, DS_ACCOUNT_KEY_LEN, KW("oldsync"), ksync, DS_ACCOUNT_KSYNC_LEN);
}

int ds_account_ksync_split(const uint8_t ksync[DS_ACCOUNT_KSYNC_LEN],
			   uint8_t enc_key[DS_ACCOUNT_KEY_LEN], uint8_t hmac_key[DS_ACCOUNT_KEY_LEN])
{
	if (!ksync || !enc_key || !hmac_key)
		return -EINVAL;
	memcpy(enc_key, ksync, DS_ACCOUNT_KEY_LEN);
	memcpy(hmac_key, ksync + DS_ACCOUNT_KEY_LEN, DS_ACCOUNT_KEY_LEN);
	return 0;
}

/*
 * kXCS = SHA256(kB)[0:16]. Gecko and Gaia hash kB, not kSync, although syncstorage-rs's docs
 * say kSync (accounts.md §4): the code is what servers have seen for years.
 */
static int kxcs(const uint8_t kb[DS_ACCOUNT_KEY_LEN], uint8_t out[16])
{
	uint8_t h[DS_SHA256_LEN];
	int rc = ds_sha256(kb, DS_ACCOUNT_KEY_LEN, h);

	if (rc == 0)
		memcpy(out, h, 16);
	ds_memzero(h, sizeof(h));
	return rc;
}

int ds_account_client_state(const uint8_t kb[DS_ACCOUNT_KEY_LEN], char *out, size_t cap)
{
	uint8_t x[16];
	int rc;

	if (!kb || !out)
		return -EINVAL;
	rc = kxcs(kb, x);
	if (rc == 0)
		rc = ds_hex_encode(x, sizeof(x), out, cap);
	ds_memzero(x, sizeof(x));
	return rc;
}

int ds_account_key_id(int64_t keys_changed_at_ms, const uint8_t kb[DS_ACCOUNT_KEY_LEN], char *out,
		      size_t cap)
{
	uint8_t x[16];
	int n, rc;

	if (!kb || !out || keys_changed_at_ms < 0)
		return -EINVAL;
	n = snprintf(out, cap, "%" PRId64 "-", keys_changed_at_ms);
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	rc = kxcs(kb, x);
	if (rc == 0)
		rc = ds_base64url_encode(x, sizeof(x), out + n, cap - (size_t)n);
	ds_memzero(x, sizeof(x));
	if (rc < 0) {
		out[0] = '\0';
		return rc;
	}
	return n + rc;
}

/* ---- generic scoped keys ------------------------------------------------------------------- */

int ds_account_scoped_key(const uint8_t kb[DS_ACCOUNT_KEY_LEN],
			  const uint8_t key_rotation_secret[DS_ACCOUNT_KEY_LEN], const uint8_t uid[16],
			  const char *identifier, uint8_t fingerprint[DS_ACCOUNT_SCOPED_FP_LEN],
			  uint8_t key[DS_ACCOUNT_SCOPED_KEY_LEN])
{
	uint8_t ikm[2 * DS_ACCOUNT_KEY_LEN];
	uint8_t okm[DS_ACCOUNT_SCOPED_FP_LEN + DS_ACCOUNT_SCOPED_KEY_LEN];
	char *info;
	int rc;

	if (!kb || !key_rotation_secret || !uid || !identifier || !*identifier || !fingerprint ||
	    !key)
		return -EINVAL;
	info = ds_asprintf(KW("scoped_key\n%s"), identifier);
	if (!info)
		return -ENOMEM;
	memcpy(ikm, kb, DS_ACCOUNT_KEY_LEN);
	memcpy(ikm + DS_ACCOUNT_KEY_LEN, key_rotation_secret, DS_ACCOUNT_KEY_LEN);
	/* Unlike onepw, this HKDF is salted: with the account's uid. */
	rc = ds_hkdf_sha256(uid, 16, ikm, sizeof(ikm), info, strlen(info), okm, sizeof(okm));
	if (rc == 0) {
		memcpy(fingerprint, okm, DS_ACCOUNT_SCOPED_FP_LEN);
		memcpy(key, okm + DS_ACCOUNT_SCOPED_FP_LEN, DS_ACCOUNT_SCOPED_KEY_LEN);
	}
	ds_memzero(ikm, sizeof(ikm));
	ds_memzero(okm, sizeof(okm));
	ds_free(info);
	return rc;
}

int ds_account_scoped_key_id(int64_t key_rotation_ms,
			     const uint8_t fingerprint[DS_ACCOUNT_SCOPED_FP_LEN], char *out,
			     size_t cap)
{
	int n, rc;

	if (!fingerprint || !out || key_rotation_ms < 0)
		return -EINVAL;
	/* Gecko's Math.round(ms / 1000): halves round up, the timestamp is never negative. */
	n = snprintf(out, cap, "%" PRId64 "-",
		     key_rotation_ms / 1000 + (key_rotation_ms % 1000 >= 500));
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	rc = ds_base64url_encode(fingerprint, DS_ACCOUNT_SCOPED_FP_LEN, out + n, cap - (size_t)n);
	if (rc < 0) {
		out[0] = '\0';
		return rc;
	}
	return n + rc;
}
