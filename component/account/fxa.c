/*
 * fxa.c - the Firefox Accounts client over the blocking HTTP client (ds_fxa.h).
 *
 * Sources: accounts.md §2-4 (mozilla/fxa fxa-auth-server lib/routes/account.ts, session.ts,
 * oauth/token.js, oauth/key_data.js, docs/api.md; fxa-auth-client lib/crypto.ts; PyFxA
 * fxa/core.py). Secrets (password, authPW, tokens, codes, kB) pass through request and response
 * bodies: every buffer that held one is wiped before it is freed, and none is logged.
 */
#define DS_LOG_TAG "account"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ACCOUNT
#include "account/ds_fxa.h"
#include "account/ds_hawk.h"
#include "account/fxa_int.h"
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "ds_port.h"
#include "net/ds_http.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ds_fxa {
	struct ds_http_client *http;
	char *base;      /* fxa_url without a trailing '/' */
	char *client_id;
	char err[320];
	int server_errno;
	int64_t retry_after_s;
	int64_t skew_s;
	int http_status; /* of the last answer; 0 when there was none */
};

int ds_fxa_new(const struct ds_fxa_config *cfg, struct ds_fxa **out)
{
	struct ds_http_config hc = { 0 };
	const char *url = cfg && cfg->fxa_url && *cfg->fxa_url ? cfg->fxa_url : CONFIG_DS_ACCOUNT_FXA_URL;
	const char *cid = cfg && cfg->client_id && *cfg->client_id ? cfg->client_id : CONFIG_DS_ACCOUNT_CLIENT_ID;
	struct ds_fxa *f;
	size_t n;
	int rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	f = ds_calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->base = ds_strdup(url);
	f->client_id = ds_strdup(cid);
	rc = -ENOMEM;
	if (!f->base || !f->client_id)
		goto fail;
	n = strlen(f->base);
	while (n && f->base[n - 1] == '/')
		f->base[--n] = '\0';
	hc.ca_bundle = cfg ? cfg->ca_bundle : NULL;
	hc.timeout_s = cfg ? cfg->timeout_s : 0;
	rc = ds_http_client_new(&hc, &f->http);
	if (rc)
		goto fail;
	*out = f;
	return 0;
fail:
	ds_fxa_free(f);
	return rc;
}

void ds_fxa_free(struct ds_fxa *f)
{
	if (!f)
		return;
	ds_http_client_free(f->http);
	ds_free(f->base);
	ds_free(f->client_id);
	ds_free(f);
}

const char *ds_fxa_error(const struct ds_fxa *f)
{
	return f ? f->err : "";
}

int ds_fxa_errno(const struct ds_fxa *f)
{
	return f ? f->server_errno : 0;
}

int64_t ds_fxa_retry_after(const struct ds_fxa *f)
{
	return f ? f->retry_after_s : 0;
}

int64_t ds_fxa_skew(const struct ds_fxa *f)
{
	return f ? f->skew_s : 0;
}

void ds_fxa_set_skew(struct ds_fxa *f, int64_t skew_s)
{
	if (f)
		f->skew_s = skew_s;
}

static int set_err(struct ds_fxa *f, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int set_err(struct ds_fxa *f, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->err, sizeof(f->err), fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- JSON helpers ----------------------------------------------------------------------------- */

static void wipe_strings(cJSON *j)
{
	for (cJSON *it = j ? j->child : NULL; it; it = it->next) {
		if (cJSON_IsString(it) && it->valuestring)
			ds_memzero(it->valuestring, strlen(it->valuestring));
		wipe_strings(it);
	}
}

void ds_fxa_json_wipe_delete(cJSON *j)
{
	wipe_strings(j);
	cJSON_Delete(j);
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int bad_field(struct ds_fxa *f, const char *k)
{
	return set_err(f, -EPROTO, "the accounts server sent no valid \"%s\"", k);
}

/* A hex field of exactly n bytes into out; -EPROTO otherwise. */
static int jhex(struct ds_fxa *f, const cJSON *o, const char *k, uint8_t *out, size_t n)
{
	const char *s = jstr(o, k);

	if (!s || strlen(s) != 2 * n || ds_hex_decode(s, 2 * n, out, n) != (int)n)
		return bad_field(f, k);
	return 0;
}

/* A string field shorter than cap into out; -EPROTO otherwise. */
static int jcopy(struct ds_fxa *f, const cJSON *o, const char *k, char *out, size_t cap)
{
	const char *s = jstr(o, k);

	if (!s || strlen(s) >= cap)
		return bad_field(f, k);
	snprintf(out, cap, "%s", s);
	return 0;
}

/* ---- errors ------------------------------------------------------------------------------------ */

/* The server's errno (fxa-auth-server lib/error.js; accounts.md §2) as an errno and a message. */
static int map_errno(struct ds_fxa *f, int status, int e, const char *server_msg)
{
	f->server_errno = e;
	switch (e) {
	case 102:
		return set_err(f, -ENOENT, "unknown account: no Firefox Account uses this email address");
	case 103:
		return set_err(f, -EACCES, "incorrect password");
	case 104:
		return set_err(f, -EPERM, "the account is not verified yet: confirm the email Mozilla sent");
	case 138:
		return set_err(f, -EPERM, "this sign-in is not verified yet: enter the verification code");
	case 105:
	case 183:
		return set_err(f, -EACCES, "incorrect or expired verification code");
	case 109:
	case 110:
		return set_err(f, -EKEYREJECTED, "the session is no longer valid: sign in again");
	case 111:
		return set_err(f, -ETIME, "the server refused our clock even after correcting it");
	case 114:
	case 201: {
		const char *why = e == 114 ? "too many attempts" : "the accounts service is unavailable";

		if (f->retry_after_s > 0)
			return set_err(f, -EAGAIN, "%s: try again in %" PRId64 " s", why, f->retry_after_s);
		return set_err(f, -EAGAIN, "%s: try again later", why);
	}
	case 125:
		return set_err(f, -EPERM, "the sign-in was blocked for security reasons: sign in once from a "
					  "browser to unblock it");
	case 127:
		return set_err(f, -EACCES, "invalid unblock code");
	case 142:
	case 149:
		return set_err(f, -EPERM, "this email address is not allowed to sign in here");
	case 151:
		return set_err(f, -EIO, "the server could not send the verification email: try again later");
	case 160:
		return set_err(f, -EPERM, "two-step authentication is required for this account");
	case 204:
		return set_err(f, -EPERM, "the accounts server has disabled this client");
	case 106:
	case 107:
	case 108:
		return set_err(f, -EINVAL, "the accounts server refused the request: %s",
			       server_msg ? server_msg : "invalid parameter");
	default:
		if (status == 429 || status == 503)
			return set_err(f, -EAGAIN, "the accounts server is busy (HTTP %d): try again later", status);
		return set_err(f, status >= 500 ? -EIO : -EPROTO, "the accounts server answered HTTP %d, errno %d%s%s",
			       status, e, server_msg ? ": " : "", server_msg ? server_msg : "");
	}
}

/* ---- one request ------------------------------------------------------------------------------ */

struct fxa_req {
	const char *method;
	const char *path;  /* under base, starting with "/v1/" */
	const uint8_t *hawk_token; /* NULL: no Hawk */
	const char *token_type;    /* "sessionToken", "keyFetchToken" */
	cJSON *body;               /* NULL: no body (GET) */
};

/* A whole number of the server's JSON, or def when it is no number or outside [lo, hi]: a
 * double beyond int64_t's range has no defined conversion. */
static int64_t json_whole(const cJSON *n, int64_t lo, int64_t hi, int64_t def)
{
	if (!cJSON_IsNumber(n) || !(n->valuedouble >= (double)lo && n->valuedouble <= (double)hi))
		return def;
	return (int64_t)n->valuedouble;
}

static void learn_skew(struct ds_fxa *f, int64_t server_s)
{
	int64_t skew;

	if (server_s > 0 && ds_hawk_skew_from_server(server_s, &skew) == 0)
		f->skew_s = skew;
}

static int perform_once(struct ds_fxa *f, const struct fxa_req *r, const char *body, cJSON **resp,
			bool *retry_skew)
{
	struct ds_http_header h[3];
	struct ds_http_request req = { 0 };
	struct ds_http_response res; /* ds_http_perform() clears it */
	struct ds_account_token_keys tk;
	char *url, auth[DS_HAWK_HEADER_MAX], id_hex[2 * DS_ACCOUNT_KEY_LEN + 1];
	size_t nh = 0, blen = body ? strlen(body) : 0;
	const char *ts;
	cJSON *j = NULL;
	int rc;

	*retry_skew = false;
	url = ds_asprintf("%s%s", f->base, r->path);
	if (!url)
		return set_err(f, -ENOMEM, "out of memory");
	h[nh++] = (struct ds_http_header){ "Accept", "application/json" };
	if (body)
		h[nh++] = (struct ds_http_header){ "Content-Type", "application/json" };
	if (r->hawk_token) {
		struct ds_hawk_credentials cred;

		rc = ds_account_token_keys(r->hawk_token, r->token_type, &tk);
		if (!rc)
			rc = ds_hex_encode(tk.token_id, sizeof(tk.token_id), id_hex, sizeof(id_hex)) < 0 ? -EIO : 0;
		if (!rc) {
			cred = (struct ds_hawk_credentials){ id_hex, tk.req_hmac_key, sizeof(tk.req_hmac_key) };
			rc = ds_hawk_header_for_url(&cred, r->method, url, body ? "application/json" : NULL, body,
						    blen, f->skew_s, auth, sizeof(auth));
			rc = rc < 0 ? rc : 0;
		}
		ds_memzero(&tk, sizeof(tk));
		if (rc) {
			ds_free(url);
			return set_err(f, rc, "cannot sign the request: %s", ds_strerror(rc));
		}
		h[nh++] = (struct ds_http_header){ "Authorization", auth };
	}
	req.method = r->method;
	req.url = url;
	req.headers = h;
	req.n_headers = nh;
	req.body = body;
	req.body_len = blen;
	rc = ds_http_perform(f->http, &req, &res);
	ds_memzero(auth, sizeof(auth));
	ds_free(url);
	if (rc)
		return set_err(f, rc, "cannot reach the accounts server %s: %s", f->base,
			       ds_http_last_error(f->http)[0] ? ds_http_last_error(f->http) : ds_strerror(rc));
	f->http_status = res.status;
	/* Every answer carries the server's clock (docs/api.md "Timestamp"). */
	ts = ds_http_header(&res, "timestamp");
	if (ts)
		learn_skew(f, strtoll(ts, NULL, 10));
	if (res.body)
		j = cJSON_ParseWithLength(res.body, res.body_len);
	if (res.status >= 200 && res.status < 300) {
		rc = j ? 0 : set_err(f, -EPROTO, "the accounts server sent no JSON (HTTP %d)", res.status);
	} else {
		const cJSON *en = cJSON_GetObjectItemCaseSensitive(j, "errno");
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "serverTime");
		const cJSON *ra = cJSON_GetObjectItemCaseSensitive(j, "retryAfter");
		int64_t delay = 0;
		int e = cJSON_IsNumber(en) ? en->valueint : 0;

		if (ds_http_retry_after(&res, ds_port_wall_ms() / 1000 + f->skew_s, &delay) == 1)
			f->retry_after_s = delay;
		else if (cJSON_IsNumber(ra) && ra->valuedouble > 0)
			/* a year at most: any longer is a lying server, not a plan */
			f->retry_after_s = json_whole(ra, 0, 366LL * 86400, 366LL * 86400);
		if (e == 111 && cJSON_IsNumber(st)) {
			int64_t before = f->skew_s;

			learn_skew(f, json_whole(st, 0, INT64_C(1) << 40, 0));
			*retry_skew = true;
			DS_LOG_INF("server clock differs from ours by %" PRId64 " s (was %" PRId64 "): retrying",
				   f->skew_s, before);
		}
		rc = map_errno(f, res.status, e, jstr(j, "message"));
		/* errno 120: the caller retries with the canonical email the server gave. */
		if (e == 120)
			rc = -EXDEV;
	}
	if (!rc || rc == -EXDEV) {
		*resp = j;
		j = NULL;
	}
	ds_fxa_json_wipe_delete(j);
	if (res.body)
		ds_memzero(res.body, res.body_len);
	ds_http_response_free(&res);
	return rc;
}

/* Send r; on errno 111 (our clock) correct the skew and send once more. */
static int perform(struct ds_fxa *f, const struct fxa_req *r, cJSON **resp)
{
	char *body = NULL;
	bool retry = false;
	int rc;

	*resp = NULL;
	f->err[0] = '\0';
	f->server_errno = 0;
	f->retry_after_s = 0;
	f->http_status = 0;
	if (r->body) {
		body = cJSON_PrintUnformatted(r->body);
		if (!body)
			return set_err(f, -ENOMEM, "out of memory");
	}
	DS_LOG_DBG("%s %s", r->method, r->path);
	rc = perform_once(f, r, body, resp, &retry);
	if (rc && retry && r->hawk_token)
		rc = perform_once(f, r, body, resp, &retry);
	if (body) {
		ds_memzero(body, strlen(body));
		cJSON_free(body);
	}
	if (rc && rc != -EXDEV)
		DS_LOG_WRN("%s %s failed: %s", r->method, r->path, f->err);
	return rc;
}

/*
 * POST a JSON object of the key, value string pairs that follow resp (NULL-terminated), signed
 * with session_token unless it is NULL. Values may be secrets: the body is wiped after use.
 */
static int post(struct ds_fxa *f, const char *path, const uint8_t *session_token, cJSON **resp, ...)
	__attribute__((sentinel));
static int post(struct ds_fxa *f, const char *path, const uint8_t *session_token, cJSON **resp, ...)
{
	struct fxa_req r = { "POST", path, session_token, "sessionToken", cJSON_CreateObject() };
	const char *k;
	bool ok = r.body != NULL;
	va_list ap;
	int rc;

	va_start(ap, resp);
	while (ok && (k = va_arg(ap, const char *)))
		ok = cJSON_AddStringToObject(r.body, k, va_arg(ap, const char *)) != NULL;
	va_end(ap);
	if (!ok) {
		ds_fxa_json_wipe_delete(r.body);
		return set_err(f, -ENOMEM, "out of memory");
	}
	rc = perform(f, &r, resp);
	ds_fxa_json_wipe_delete(r.body);
	return rc;
}

/* ---- sign-in ------------------------------------------------------------------------------------ */

/* v2 when the server says so (PyFxA get_key_stretch_version: v1 on any client error). */
static int stretch_version(struct ds_fxa *f, const char *email, char *salt, size_t cap)
{
	cJSON *resp = NULL;
	const char *v, *cs;
	int rc, ver = 1;

	rc = post(f, "/v1/account/credentials/status", NULL, &resp, "email", email, (char *)NULL);
	/* Unknown account, throttled, unreachable: the login would fail the same way. */
	if (rc == -ENOENT || rc == -EAGAIN || (rc && !f->http_status))
		return rc;
	if (!rc) {
		v = jstr(resp, "currentVersion");
		cs = jstr(resp, "clientSalt");
		if (v && !strcmp(v, "v2") && cs && strlen(cs) < cap) {
			snprintf(salt, cap, "%s", cs);
			ver = 2;
		}
	}
	ds_fxa_json_wipe_delete(resp);
	return ver;
}

static int login_post(struct ds_fxa *f, const char *email, const uint8_t auth_pw[32], cJSON **resp)
{
	char hex[2 * DS_ACCOUNT_KEY_LEN + 1];
	int rc;

	if (ds_hex_encode(auth_pw, DS_ACCOUNT_KEY_LEN, hex, sizeof(hex)) < 0)
		return set_err(f, -EIO, "hex encoding failed");
	rc = post(f, "/v1/account/login?keys=true", NULL, resp, "authPW", hex, "email", email, "reason", "signin",
		  (char *)NULL);
	ds_memzero(hex, sizeof(hex));
	return rc;
}

int ds_fxa_login(struct ds_fxa *f, const char *email, const char *password, struct ds_fxa_session *s)
{
	uint8_t stretched[DS_ACCOUNT_KEY_LEN], auth_pw[DS_ACCOUNT_KEY_LEN];
	char salt[160], canon[DS_FXA_EMAIL_MAX];
	cJSON *resp = NULL;
	const char *kft_name = "keyFetchToken", *m;
	int rc, ver, tries = 0;

	if (!f || !email || !*email || !password || !*password || !s)
		return -EINVAL;
	if (strlen(email) >= sizeof(canon))
		return set_err(f, -EINVAL, "email address too long");
	ds_fxa_session_wipe(s);
	snprintf(canon, sizeof(canon), "%s", email);
again:
	ver = stretch_version(f, canon, salt, sizeof(salt));
	if (ver < 0) {
		/* After an errno 120 retry, s holds the first round's unwrapBKey: wipe it too. */
		rc = ver;
		goto out;
	}
	if (ver == 2)
		rc = ds_account_stretch_v2(salt, password, stretched);
	else
		rc = ds_account_stretch_v1(canon, password, stretched);
	if (!rc)
		rc = ds_account_auth_pw(stretched, auth_pw);
	if (!rc)
		rc = ds_account_unwrap_bkey(stretched, s->unwrap_bkey);
	ds_memzero(stretched, sizeof(stretched));
	if (rc) {
		ds_memzero(auth_pw, sizeof(auth_pw));
		rc = set_err(f, rc, "password stretching failed: %s", ds_strerror(rc));
		goto out;
	}
	rc = login_post(f, canon, auth_pw, &resp);
	ds_memzero(auth_pw, sizeof(auth_pw));
	if (rc == -EXDEV) {
		/* errno 120: the v1 salt is the email as typed at sign-up; the server names it. */
		const char *e = jstr(resp, "email");

		if (e && strlen(e) < sizeof(canon) && strcmp(e, canon) && ++tries < 2) {
			snprintf(canon, sizeof(canon), "%s", e);
			ds_fxa_json_wipe_delete(resp);
			resp = NULL;
			goto again;
		}
		rc = set_err(f, -EPROTO, "the server refused the email's letter case");
	}
	if (rc)
		goto out;
	if (jstr(resp, "keyFetchTokenVersion2")) {
		kft_name = "keyFetchTokenVersion2";
		if (ver != 2) {
			rc = set_err(f, -EPROTO, "a v2 key-fetch token for a v1 sign-in");
			goto out;
		}
	}
	rc = jcopy(f, resp, "uid", s->uid, sizeof(s->uid));
	if (!rc)
		rc = jhex(f, resp, "sessionToken", s->session_token, DS_ACCOUNT_KEY_LEN);
	if (!rc)
		rc = jhex(f, resp, kft_name, s->key_fetch_token, DS_ACCOUNT_KEY_LEN);
	if (rc)
		goto out;
	snprintf(s->email, sizeof(s->email), "%s", canon);
	s->has_session = true;
	s->has_key_fetch = true;
	s->stretch_version = ver;
	s->verified = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "verified"));
	m = jstr(resp, "verificationMethod");
	snprintf(s->verification_method, sizeof(s->verification_method), "%s",
		 s->verified ? "" : (m ? m : "email-otp"));
	s->skew_s = f->skew_s;
	DS_LOG_INF("signed in as uid %s (stretching v%d)%s%s", s->uid, ver, s->verified ? "" : ", verification by ",
		   s->verified ? "" : s->verification_method);
out:
	ds_fxa_json_wipe_delete(resp);
	if (rc)
		ds_fxa_session_wipe(s);
	return rc;
}

int ds_fxa_verify(struct ds_fxa *f, struct ds_fxa_session *s, const char *code)
{
	bool totp;
	cJSON *resp = NULL;
	int rc;

	if (!f || !s || !s->has_session || !code || !*code)
		return -EINVAL;
	for (const char *p = code; *p; p++)
		if (*p < '!' || *p > '~')
			return set_err(f, -EINVAL, "the code holds spaces or control characters");
	totp = !strcmp(s->verification_method, "totp-2fa");
	rc = post(f, totp ? "/v1/session/verify/totp" : "/v1/session/verify_code", s->session_token, &resp, "code",
		  code, (char *)NULL);
	/* /session/verify/totp answers 200 {success:false} for a wrong code. */
	if (!rc && totp && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "success")))
		rc = set_err(f, -EACCES, "incorrect authentication code");
	ds_fxa_json_wipe_delete(resp);
	if (!rc) {
		s->verified = true;
		s->verification_method[0] = '\0';
		s->skew_s = f->skew_s;
	}
	return rc;
}

int ds_fxa_scoped_key_data(struct ds_fxa *f, const struct ds_fxa_session *s, const char *scope, cJSON **out)
{
	if (!f || !s || !s->has_session || !scope || !out)
		return -EINVAL;
	return post(f, "/v1/account/scoped-key-data", s->session_token, out, "client_id", f->client_id, "scope", scope,
		    (char *)NULL);
}

int ds_fxa_fetch_keys(struct ds_fxa *f, struct ds_fxa_session *s, uint8_t kb_out[DS_ACCOUNT_KEY_LEN])
{
	struct ds_account_token_keys tk;
	struct {
		uint8_t bundle[DS_ACCOUNT_BUNDLE_LEN], ka[DS_ACCOUNT_KEY_LEN], wrap_kb[DS_ACCOUNT_KEY_LEN],
			kb[DS_ACCOUNT_KEY_LEN];
	} k; /* wiped as one */
	cJSON *resp = NULL, *skd = NULL;
	const cJSON *sc;
	int64_t rot_ms;
	int rc;

	if (!f || !s || !s->has_session)
		return -EINVAL;
	if (!s->has_key_fetch)
		return set_err(f, -ENOKEY, "no key-fetch token: sign in again to fetch the keys");
	rc = perform(f, &(const struct fxa_req){ "GET", "/v1/account/keys", s->key_fetch_token, "keyFetchToken", NULL },
		     &resp);
	if (rc)
		goto out;
	rc = jhex(f, resp, "bundle", k.bundle, sizeof(k.bundle));
	if (rc)
		goto out;
	rc = ds_account_key_fetch_token_keys(s->key_fetch_token, &tk);
	if (!rc)
		rc = ds_account_unbundle(tk.extra, k.bundle, sizeof(k.bundle), k.ka, k.wrap_kb);
	ds_memzero(&tk, sizeof(tk));
	if (rc == -EBADMSG) {
		rc = set_err(f, rc, "the key bundle failed its integrity check");
		goto out;
	}
	if (!rc)
		rc = ds_account_unwrap_kb(k.wrap_kb, s->unwrap_bkey, k.kb);
	if (rc) {
		set_err(f, rc, "cannot unwrap the keys: %s", ds_strerror(rc));
		goto out;
	}
	/* The token is single-use (spent now, even if what follows fails). */
	s->has_key_fetch = false;
	ds_memzero(s->key_fetch_token, sizeof(s->key_fetch_token));
	ds_memzero(s->unwrap_bkey, sizeof(s->unwrap_bkey));

	/* The key id's timestamp: keyRotationTimestamp in ms (oauth/key_data.js). */
	rc = ds_fxa_scoped_key_data(f, s, DS_FXA_OLDSYNC_SCOPE, &skd);
	if (rc)
		goto out;
	sc = cJSON_GetObjectItemCaseSensitive(skd, DS_FXA_OLDSYNC_SCOPE);
	rot_ms = json_whole(cJSON_GetObjectItemCaseSensitive(sc, "keyRotationTimestamp"), 0, INT64_C(9000000000000000),
			    -1);
	if (rot_ms < 0) {
		rc = set_err(f, -EPROTO, "the scoped-key data has no valid keyRotationTimestamp");
		goto out;
	}
	rc = ds_account_ksync(k.kb, s->ksync);
	if (!rc)
		rc = ds_account_key_id(rot_ms, k.kb, s->kid, sizeof(s->kid)) < 0 ? -EIO : 0;
	if (!rc)
		rc = ds_account_client_state(k.kb, s->client_state, sizeof(s->client_state)) < 0 ? -EIO : 0;
	if (rc) {
		set_err(f, rc, "cannot derive the Sync key: %s", ds_strerror(rc));
		goto out;
	}
	s->has_keys = true;
	if (kb_out)
		memcpy(kb_out, k.kb, sizeof(k.kb));
	DS_LOG_INF("keys fetched for uid %s (key id %s)", s->uid, s->kid);
out:
	ds_memzero(&k, sizeof(k));
	ds_fxa_json_wipe_delete(resp);
	cJSON_Delete(skd);
	return rc;
}

/* ---- OAuth ---------------------------------------------------------------------------------------- */

void ds_fxa_token_clear(struct ds_fxa_token *tok)
{
	if (!tok)
		return;
	if (tok->access_token) {
		ds_memzero(tok->access_token, strlen(tok->access_token));
		ds_free(tok->access_token);
	}
	memset(tok, 0, sizeof(*tok));
}

static int take_token(struct ds_fxa *f, const cJSON *resp, struct ds_fxa_token *tok)
{
	const char *at = jstr(resp, "access_token"), *sc = jstr(resp, "scope");
	const cJSON *ex = cJSON_GetObjectItemCaseSensitive(resp, "expires_in");

	if (!at || !*at)
		return set_err(f, -EPROTO, "the token answer has no access_token");
	tok->access_token = ds_strdup(at);
	if (!tok->access_token)
		return set_err(f, -ENOMEM, "out of memory");
	snprintf(tok->scope, sizeof(tok->scope), "%s", sc ? sc : "");
	tok->expires_in = json_whole(ex, 0, INT64_C(1) << 40, 0);
	return 0;
}

int ds_fxa_oauth_token(struct ds_fxa *f, struct ds_fxa_session *s, const char *scope, bool offline,
		       struct ds_fxa_token *tok)
{
	cJSON *resp = NULL;
	const char *rt;
	int rc;

	if (!f || !s || !s->has_session || !scope || !tok)
		return -EINVAL;
	memset(tok, 0, sizeof(*tok));
	rc = post(f, "/v1/oauth/token", s->session_token, &resp, "grant_type", "fxa-credentials", "client_id",
		  f->client_id, "scope", scope, "access_type", offline ? "offline" : "online", (char *)NULL);
	if (!rc)
		rc = take_token(f, resp, tok);
	rt = jstr(resp, "refresh_token");
	if (!rc && offline && rt) {
		if (strlen(rt) >= sizeof(s->refresh_token)) {
			rc = set_err(f, -EPROTO, "the refresh token is too long");
			ds_fxa_token_clear(tok);
		} else {
			snprintf(s->refresh_token, sizeof(s->refresh_token), "%s", rt);
			tok->got_refresh_token = true;
		}
	}
	ds_fxa_json_wipe_delete(resp);
	return rc;
}

int ds_fxa_oauth_refresh(struct ds_fxa *f, const struct ds_fxa_session *s, const char *scope,
			 struct ds_fxa_token *tok)
{
	cJSON *resp = NULL;
	int rc;

	if (!f || !s || !scope || !tok)
		return -EINVAL;
	memset(tok, 0, sizeof(*tok));
	if (!s->refresh_token[0])
		return set_err(f, -ENOKEY, "no refresh token: sign in again");
	rc = post(f, "/v1/oauth/token", NULL, &resp, "refresh_token", s->refresh_token, "grant_type", "refresh_token",
		  "client_id", f->client_id, "scope", scope, (char *)NULL);
	if (!rc)
		rc = take_token(f, resp, tok);
	ds_fxa_json_wipe_delete(resp);
	return rc;
}

/* ---- devices, sign-out -------------------------------------------------------------------------- */

const char *ds_fxa_device_type(void)
{
	const char *b = ds_board_get()->name;

	return b && !strcmp(b, "tv") ? "tv" : "mobile";
}

int ds_fxa_register_device(struct ds_fxa *f, struct ds_fxa_session *s, const char *name, const char *type)
{
	cJSON *resp = NULL;
	const char *id;
	int rc;

	if (!f || !s || !s->has_session || !name || !*name)
		return -EINVAL;
	/* A known device is updated by its id; a new one says what it is. */
	if (s->device_id[0])
		rc = post(f, "/v1/account/device", s->session_token, &resp, "name", name, "id", s->device_id,
			  (char *)NULL);
	else
		rc = post(f, "/v1/account/device", s->session_token, &resp, "name", name, "type",
			  type ? type : ds_fxa_device_type(), (char *)NULL);
	id = jstr(resp, "id");
	if (!rc && (!id || !*id || strlen(id) >= sizeof(s->device_id)))
		rc = set_err(f, -EPROTO, "the device answer has no valid id");
	if (!rc) {
		snprintf(s->device_id, sizeof(s->device_id), "%s", id);
		snprintf(s->device_name, sizeof(s->device_name), "%s", name);
	}
	ds_fxa_json_wipe_delete(resp);
	return rc;
}

int ds_fxa_destroy(struct ds_fxa *f, const struct ds_fxa_session *s)
{
	cJSON *resp = NULL;
	int rc;

	if (!f || !s || !s->has_session)
		return -EINVAL;
	rc = post(f, "/v1/session/destroy", s->session_token, &resp, (char *)NULL);
	ds_fxa_json_wipe_delete(resp);
	return rc;
}
