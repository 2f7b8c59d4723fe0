/*
 * ds_fxa.h - the Firefox Accounts client: onepw sign-in, session verification, the key fetch,
 * scoped-key data, OAuth tokens, device registration, sign-out, and the sealed session.
 *
 * Protocol (accounts.md §2-4; mozilla/fxa fxa-auth-server lib/routes/account.ts, session.ts,
 * oauth/token.js, key_data.js; fxa-auth-client lib/crypto.ts; docs/accounts.md):
 *
 *   ds_fxa_login()         POST /v1/account/credentials/status -> v1 or v2 stretching,
 *                          POST /v1/account/login?keys=true {email, authPW}
 *   ds_fxa_verify()        POST /v1/session/verify_code {code} (emailed code) or
 *                          POST /v1/session/verify/totp {code} (when the server asked for TOTP)
 *   ds_fxa_fetch_keys()    GET /v1/account/keys (Hawk keyFetchToken) -> kA, kB;
 *                          POST /v1/account/scoped-key-data -> kSync, key id, X-Client-State
 *   ds_fxa_oauth_token()   POST /v1/oauth/token fxa-credentials grant (Hawk sessionToken)
 *   ds_fxa_oauth_refresh() POST /v1/oauth/token refresh_token grant
 *   ds_fxa_register_device() POST /v1/account/device
 *   ds_fxa_destroy()       POST /v1/session/destroy
 *
 * A struct ds_fxa owns one HTTP client and so belongs to one thread (ds_http.h); the calls
 * block. The server's clock is learnt from every response's Timestamp header (and errno 111's
 * serverTime, after which the request is sent once more) and corrects Hawk timestamps.
 *
 * Errors: negative errno, with ds_fxa_error() giving a message for people and ds_fxa_errno()
 * the server's errno (0 when the failure was not the server's answer):
 *   -ENOENT  102 unknown account           -EACCES  103 incorrect password, 183/105 bad code
 *   -EPERM   104/138 not verified, 125 blocked, 142/149 email refused, 160 TOTP required,
 *            204 client disabled           -EAGAIN  114 throttled, 201 unavailable
 *                                                   (ds_fxa_retry_after() has the delay)
 *   -EKEYREJECTED 109/110 session or token no longer valid (sign in again)
 *   -EBADMSG the key bundle's MAC did not verify     -EPROTO a malformed answer
 *   plus the transport errors of ds_http_perform().
 */
#ifndef DS_FXA_H
#define DS_FXA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "account/ds_account_keys.h"

#define DS_FXA_OLDSYNC_SCOPE "https://identity.mozilla.com/apps/oldsync"
#define DS_FXA_SECRET_NAME "account" /* the sealed session (ds_port_secret_*) */
#define DS_FXA_EMAIL_MAX 256
#define DS_FXA_TOKEN_MAX 256         /* refresh tokens are 64 hex characters today */

struct cJSON;
struct ds_fxa;

struct ds_fxa_config {
	const char *fxa_url;   /* NULL: CONFIG_DS_ACCOUNT_FXA_URL; requests go to <url>/v1/... */
	const char *client_id; /* NULL: CONFIG_DS_ACCOUNT_CLIENT_ID */
	const char *ca_bundle; /* NULL: the HTTP client's default (ds_http.h) */
	int timeout_s;         /* <= 0: the HTTP client's default */
};

/*
 * The signed-in state. Everything in it but the "pending" part is what a restart needs and is
 * sealed as one blob (ds_fxa_session_seal()); never the password, never kB.
 */
struct ds_fxa_session {
	char uid[33];
	char email[DS_FXA_EMAIL_MAX];
	bool has_session;
	uint8_t session_token[DS_ACCOUNT_KEY_LEN];
	bool verified;
	char verification_method[32]; /* "email-otp", "totp-2fa", ... while unverified */
	bool has_keys;
	uint8_t ksync[DS_ACCOUNT_KSYNC_LEN];
	char kid[DS_ACCOUNT_KID_MAX];
	char client_state[DS_ACCOUNT_CLIENT_STATE_LEN + 1];
	char refresh_token[DS_FXA_TOKEN_MAX];
	char device_id[65];
	char device_name[128];
	int64_t skew_s;
	/* pending: between login and the key fetch only; never sealed */
	bool has_key_fetch;
	uint8_t key_fetch_token[DS_ACCOUNT_KEY_LEN];
	uint8_t unwrap_bkey[DS_ACCOUNT_KEY_LEN];
	int stretch_version; /* 1 or 2 */
};

struct ds_fxa_token {
	char *access_token; /* ds_malloc'd; wiped by ds_fxa_token_clear() */
	char scope[256];
	int64_t expires_in;
	bool got_refresh_token; /* and it was stored in the session */
};

int ds_fxa_new(const struct ds_fxa_config *cfg, struct ds_fxa **out);
void ds_fxa_free(struct ds_fxa *f);

const char *ds_fxa_error(const struct ds_fxa *f);
int ds_fxa_errno(const struct ds_fxa *f);
/* Seconds the server asked us to wait (Retry-After / retryAfter) after -EAGAIN; else 0. */
int64_t ds_fxa_retry_after(const struct ds_fxa *f);
/* Server clock - ours, in seconds, as last learnt (start from a session's skew_s). */
int64_t ds_fxa_skew(const struct ds_fxa *f);
void ds_fxa_set_skew(struct ds_fxa *f, int64_t skew_s);

/*
 * Sign in. s is reset first. On 0, s has a session token and, when s->verified is false, the
 * server wants a code (s->verification_method says which: "email-otp" or "totp-2fa"):
 * ds_fxa_verify(). Either way ds_fxa_fetch_keys() comes next. The caller wipes the password.
 */
int ds_fxa_login(struct ds_fxa *f, const char *email, const char *password,
		 struct ds_fxa_session *s);
/* Send the code the person read from their email or authenticator. -EACCES when wrong. */
int ds_fxa_verify(struct ds_fxa *f, struct ds_fxa_session *s, const char *code);
/*
 * Fetch and unwrap kB with the pending key-fetch token (single use), derive kSync, the key id
 * (from /account/scoped-key-data's keyRotationTimestamp) and X-Client-State; wipe kB and the
 * pending keys. kb_out (may be NULL) receives kB for callers that derive other scoped keys.
 */
int ds_fxa_fetch_keys(struct ds_fxa *f, struct ds_fxa_session *s, uint8_t kb_out[DS_ACCOUNT_KEY_LEN]);
/* POST /v1/account/scoped-key-data: its JSON answer ({scope: {identifier, ...}}) in *out. */
int ds_fxa_scoped_key_data(struct ds_fxa *f, const struct ds_fxa_session *s, const char *scope,
			   struct cJSON **out);
/* OAuth access token for scope with the session token; offline: also a refresh token (kept in s). */
int ds_fxa_oauth_token(struct ds_fxa *f, struct ds_fxa_session *s, const char *scope, bool offline,
		       struct ds_fxa_token *tok);
/* The same with the session's refresh token (no Hawk). */
int ds_fxa_oauth_refresh(struct ds_fxa *f, const struct ds_fxa_session *s, const char *scope,
			 struct ds_fxa_token *tok);
void ds_fxa_token_clear(struct ds_fxa_token *tok);
/* Register this device (or rename it when s->device_id is set). type: "tv", "mobile", ... */
int ds_fxa_register_device(struct ds_fxa *f, struct ds_fxa_session *s, const char *name,
			   const char *type);
/* POST /v1/session/destroy; s keeps its contents (wipe it with ds_fxa_session_wipe()). */
int ds_fxa_destroy(struct ds_fxa *f, const struct ds_fxa_session *s);

/* "tv" on the tv board, "mobile" elsewhere (FxA device types). */
const char *ds_fxa_device_type(void);

/* ---- the sealed session (fxa_session.c) ----------------------------------------------------- */

/* Seal the restartable part of s under DS_FXA_SECRET_NAME (one JSON blob, wiped after). */
int ds_fxa_session_seal(const struct ds_fxa_session *s);
/* Read it back: 0, -ENOENT when signed out, -EBADMSG for a blob we cannot read. */
int ds_fxa_session_unseal(struct ds_fxa_session *s);
/* Erase the sealed session: 0 or -ENOENT when there was none. */
int ds_fxa_session_erase(void);
void ds_fxa_session_wipe(struct ds_fxa_session *s);

/* ---- keys_jwe (fxa_jwe.c): the OAuth code flow's scoped keys -------------------------------- */

/*
 * Decrypt a compact JWE with alg ECDH-ES, enc A256GCM and an ephemeral P-256 key in its header
 * (accounts.md §4): Z = ECDH(priv, epk), CEK = Concat KDF SHA-256 (RFC 7518 §4.6.2) with
 * algorithm id "A256GCM" and empty apu/apv, AAD = the header segment. On 0, *plain is a
 * ds_malloc'd NUL-terminated buffer of *len bytes (wipe and free it). -EINVAL for a malformed
 * JWE or an unsupported alg/enc, -EBADMSG when the tag does not verify.
 */
int ds_fxa_jwe_decrypt(const uint8_t priv[32], const char *jwe, char **plain, size_t *len);

#endif /* DS_FXA_H */
