/*
 * ds_account_keys.h - Firefox Accounts key derivations, as pure functions over caller buffers.
 *
 * The chain (accounts.md §1-4; the FxA "onepw" protocol):
 *   password -> quickStretchedPW (v1: PBKDF2 1000 over the email; v2: 650000 over clientSalt)
 *     -> authPW (sent to the server) and unwrapBKey (kept)
 *   keyFetchToken -> tokenId, reqHMACkey (Hawk credentials), keyRequestKey
 *     -> respHMACkey, respXORkey -> unbundle /account/keys -> kA, wrapKB -> kB
 *   kB -> kSync (64 bytes: Sync's AES key | HMAC key), key id "<ms>-<b64url>", X-Client-State.
 *
 * Every HKDF here is RFC 5869 SHA-256 with an empty salt and info
 * "identity.mozilla.com/picl/v1/<name>". All functions return 0 or a negative errno (-EINVAL
 * for bad arguments, -EBADMSG when a MAC does not verify, -ENOSPC for a short text buffer) and
 * leave no secret in their own stack frames. Callers wipe what they receive (ds_memzero).
 */
#ifndef DS_ACCOUNT_KEYS_H
#define DS_ACCOUNT_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define DS_ACCOUNT_KEY_LEN 32	     /* every onepw key and token */
#define DS_ACCOUNT_KSYNC_LEN 64	     /* kSync = enc key (32) || hmac key (32) */
#define DS_ACCOUNT_BUNDLE_LEN 96     /* /account/keys bundle: ciphertext (64) || MAC (32) */
#define DS_ACCOUNT_CLIENT_STATE_LEN 32 /* hex chars of X-Client-State, without the NUL */
/* "<int64 ms>-<22 b64url chars>" plus the NUL. */
#define DS_ACCOUNT_KID_MAX (20 + 1 + 22 + 1)

#define DS_ACCOUNT_STRETCH_V1_ITERATIONS 1000
#define DS_ACCOUNT_STRETCH_V2_ITERATIONS 650000
#define DS_ACCOUNT_SALT_V2_PREFIX "identity.mozilla.com/picl/v1/quickStretchV2:"

/* ---- password stretching (accounts.md §2-3) ------------------------------------------------ */

/*
 * v1: PBKDF2-HMAC-SHA256(password, "identity.mozilla.com/picl/v1/quickStretch:" + email, 1000).
 * The email must be the one given at sign-up, byte for byte (the server answers a case
 * mismatch with errno 120 and the canonical email: retry with that).
 */
int ds_account_stretch_v1(const char *email, const char *password,
			  uint8_t stretched[DS_ACCOUNT_KEY_LEN]);

/*
 * v2: PBKDF2-HMAC-SHA256(password, client_salt, 650000), client_salt as the server's
 * /account/credentials/status returns it (it starts with DS_ACCOUNT_SALT_V2_PREFIX; anything
 * else is -EINVAL). Slow on purpose (~0.3 s on a desktop core): cache the result, never the
 * password.
 */
int ds_account_stretch_v2(const char *client_salt, const char *password,
			  uint8_t stretched[DS_ACCOUNT_KEY_LEN]);

/* A new v2 client salt: the prefix + 32 lower-case hex chars from 16 random bytes. */
int ds_account_new_salt_v2(char *out, size_t cap);

/* authPW (what login sends, as hex) and unwrapBKey (kept to unwrap kB), from a stretched PW. */
int ds_account_auth_pw(const uint8_t stretched[DS_ACCOUNT_KEY_LEN],
		       uint8_t auth_pw[DS_ACCOUNT_KEY_LEN]);
int ds_account_unwrap_bkey(const uint8_t stretched[DS_ACCOUNT_KEY_LEN],
			   uint8_t unwrap_bkey[DS_ACCOUNT_KEY_LEN]);

/* ---- tokens (accounts.md §2 "Token -> Hawk credentials") ----------------------------------- */

/*
 * km = HKDF(token, "identity.mozilla.com/picl/v1/" + token_type, 96): token_id = km[0:32]
 * (the Hawk id, sent as lower-case hex), req_hmac_key = km[32:64] (the Hawk key), extra =
 * km[64:96] (keyRequestKey for a keyFetchToken; unused for a sessionToken). token_type is the
 * protocol's name: "sessionToken", "keyFetchToken", "accountResetToken", ...
 */
struct ds_account_token_keys {
	uint8_t token_id[DS_ACCOUNT_KEY_LEN];
	uint8_t req_hmac_key[DS_ACCOUNT_KEY_LEN];
	uint8_t extra[DS_ACCOUNT_KEY_LEN];
};

int ds_account_token_keys(const uint8_t token[DS_ACCOUNT_KEY_LEN], const char *token_type,
			  struct ds_account_token_keys *out);
int ds_account_session_token_keys(const uint8_t session_token[DS_ACCOUNT_KEY_LEN],
				  struct ds_account_token_keys *out);
/* out->extra is the keyRequestKey. */
int ds_account_key_fetch_token_keys(const uint8_t key_fetch_token[DS_ACCOUNT_KEY_LEN],
				    struct ds_account_token_keys *out);

/* ---- the /account/keys bundle -------------------------------------------------------------- */

/* HKDF(keyRequestKey, "identity.mozilla.com/picl/v1/account/keys", 96) = respHMACkey ||
 * respXORkey. */
int ds_account_response_keys(const uint8_t key_request_key[DS_ACCOUNT_KEY_LEN],
			     uint8_t resp_hmac_key[DS_ACCOUNT_KEY_LEN],
			     uint8_t resp_xor_key[2 * DS_ACCOUNT_KEY_LEN]);

/*
 * Check the bundle's MAC (HMAC-SHA256(respHMACkey, ciphertext), compared in constant time) and
 * only then XOR it open: kA || wrapKB = ciphertext XOR respXORkey. -EBADMSG on a MAC mismatch
 * (nothing is written), -EINVAL unless blen == DS_ACCOUNT_BUNDLE_LEN.
 */
int ds_account_unbundle(const uint8_t key_request_key[DS_ACCOUNT_KEY_LEN], const uint8_t *bundle,
			size_t blen, uint8_t ka[DS_ACCOUNT_KEY_LEN],
			uint8_t wrap_kb[DS_ACCOUNT_KEY_LEN]);

/* kB = wrapKB XOR unwrapBKey. */
int ds_account_unwrap_kb(const uint8_t wrap_kb[DS_ACCOUNT_KEY_LEN],
			 const uint8_t unwrap_bkey[DS_ACCOUNT_KEY_LEN], uint8_t kb[DS_ACCOUNT_KEY_LEN]);

/* ---- the Sync scope (accounts.md §4) ------------------------------------------------------- */

/* kSync = HKDF(kB, "identity.mozilla.com/picl/v1/oldsync", 64). */
int ds_account_ksync(const uint8_t kb[DS_ACCOUNT_KEY_LEN], uint8_t ksync[DS_ACCOUNT_KSYNC_LEN]);

/* Sync's key bundle for crypto/keys (sync15.md §3): enc = kSync[0:32], hmac = kSync[32:64]. */
int ds_account_ksync_split(const uint8_t ksync[DS_ACCOUNT_KSYNC_LEN],
			   uint8_t enc_key[DS_ACCOUNT_KEY_LEN],
			   uint8_t hmac_key[DS_ACCOUNT_KEY_LEN]);

/* X-Client-State = lower-case hex(SHA256(kB)[0:16]): 32 chars + NUL, cap >= 33. Returns 32. */
int ds_account_client_state(const uint8_t kb[DS_ACCOUNT_KEY_LEN], char *out, size_t cap);

/*
 * The oldsync key id (X-KeyID, the JWK "kid"): "<keys_changed_at_ms>-<b64url(SHA256(kB)[0:16])>",
 * the timestamp in decimal milliseconds without padding (keyRotationTimestamp of
 * /account/scoped-key-data). Returns the length written; -EINVAL for a negative timestamp.
 */
int ds_account_key_id(int64_t keys_changed_at_ms, const uint8_t kb[DS_ACCOUNT_KEY_LEN], char *out,
		      size_t cap);

/* ---- generic scoped keys (accounts.md §4; ecosystem-platform scoped-keys.md) ------------- */

#define DS_ACCOUNT_SCOPED_KEY_LEN 32 /* kS */
#define DS_ACCOUNT_SCOPED_FP_LEN 16  /* kSfp, the fingerprint in the kid */

/*
 * kSfp (16) || kS (32) = HKDF(ikm = kB || keyRotationSecret, salt = uid (16 raw bytes),
 * info = "identity.mozilla.com/picl/v1/scoped_key\n" + identifier, 48), for scopes other than
 * oldsync (e.g. an app's own encryption key). key_rotation_secret is the 32 bytes that
 * /account/scoped-key-data returns as hex.
 */
int ds_account_scoped_key(const uint8_t kb[DS_ACCOUNT_KEY_LEN],
			  const uint8_t key_rotation_secret[DS_ACCOUNT_KEY_LEN], const uint8_t uid[16],
			  const char *identifier, uint8_t fingerprint[DS_ACCOUNT_SCOPED_FP_LEN],
			  uint8_t key[DS_ACCOUNT_SCOPED_KEY_LEN]);

/* Its kid: "<round(key_rotation_ms / 1000)>-<b64url(kSfp)>" (seconds here, unlike oldsync). */
int ds_account_scoped_key_id(int64_t key_rotation_ms,
			     const uint8_t fingerprint[DS_ACCOUNT_SCOPED_FP_LEN], char *out,
			     size_t cap);

#endif /* DS_ACCOUNT_KEYS_H */
