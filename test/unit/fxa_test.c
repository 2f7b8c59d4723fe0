/*
 * fxa_test.c - the FxA client against the local FxA stand-in (test/servers/fxa/server.py, in
 * the test servers' virtualenv from test/servers/setup-venv.sh): v1 and v2 sign-in, emailed and
 * TOTP verification, kB compared with the server's, scoped-key data, OAuth grants, devices,
 * sign-out, every server errno with its message, clock skew, the sealed session and keys_jwe.
 *
 * Skipped (not failed) when the virtualenv cannot be made (no python3-venv or no PyPI).
 */
#include "account/ds_fxa.h"
#include "account/ds_hawk.h"
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "ds_port.h"
#include "net/ds_http.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "test/support/child_server.h"

static char g_tmp[600];
static char g_src[600];
static char g_url[64];
static struct ds_child_server g_srv;
static bool g_have_server;
static struct ds_http_client *g_ctl;

/* ---- fixture: the server -------------------------------------------------------------------- */

static int find_source_tree(void)
{
	const char *e = getenv("DS_SRC");
	const char *f = __FILE__, *slash;

	if (e && *e) {
		snprintf(g_src, sizeof(g_src), "%s", e);
		return 0;
	}
	/* __FILE__ is <src>/test/unit/fxa_test.c as the Makefile compiled it. */
	slash = strstr(f, "/test/unit/");
	if (!slash)
		return -1;
	snprintf(g_src, sizeof(g_src), "%.*s", (int)(slash - f), f);
	return 0;
}

/* The venv's python from setup-venv.sh's last line of output; "" when it failed. */
static void venv_python(char *out, size_t cap)
{
	char cmd[1400], line[700] = "";
	FILE *p;

	out[0] = '\0';
	snprintf(cmd, sizeof(cmd), "sh '%s/test/servers/setup-venv.sh' 2>'%s/setup-venv.log'", g_src, g_tmp);
	p = popen(cmd, "r");
	if (!p)
		return;
	while (fgets(line, sizeof(line), p))
		snprintf(out, cap, "%s", line);
	if (pclose(p) != 0) {
		out[0] = '\0';
		return;
	}
	out[strcspn(out, "\n")] = '\0';
}

static int start_server(void)
{
	char py[700], script[700];
	char *argv[] = { py, script, "--watch-stdin", NULL };

	venv_python(py, sizeof(py));
	if (!py[0])
		return -1;
	snprintf(script, sizeof(script), "%s/test/servers/fxa/server.py", g_src);
	if (ds_child_server_start(&g_srv, argv))
		return -1;
	snprintf(g_url, sizeof(g_url), "http://127.0.0.1:%d", g_srv.port);
	return 0;
}

/* A test-control request (never part of the protocol): JSON answer or NULL. */
static cJSON *ctl(const char *method, const char *path, const char *body)
{
	struct ds_http_header h = { "Content-Type", "application/json" };
	struct ds_http_request req = { 0 };
	struct ds_http_response res = { 0 };
	char url[600];
	cJSON *j = NULL;

	snprintf(url, sizeof(url), "%s%s", g_url, path);
	req.method = method;
	req.url = url;
	req.headers = &h;
	req.n_headers = 1;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	if (ds_http_perform(g_ctl, &req, &res) == 0 && res.status == 200 && res.body)
		j = cJSON_Parse(res.body);
	ds_http_response_free(&res);
	return j;
}

static void ctl_ok(const char *path, const char *body)
{
	cJSON *j = ctl("POST", path, body);

	assert_non_null(j);
	cJSON_Delete(j);
}

struct acct {
	char email[128];
	char kb_hex[65];
	char uid[33];
	char totp[64];
	double keys_changed_at;
};

/* Make an account on the server: verify "none" or "email"; v2 and totp as asked. */
static void make_account(struct acct *a, const char *email, const char *pw, bool v2, const char *verify,
			 bool totp)
{
	char body[512];
	cJSON *j;

	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\",\"v2\":%s,\"verify\":\"%s\",\"totp\":%s}",
		 email, pw, v2 ? "true" : "false", verify, totp ? "true" : "false");
	j = ctl("POST", "/__test__/account", body);
	assert_non_null(j);
	snprintf(a->email, sizeof(a->email), "%s", email);
	snprintf(a->kb_hex, sizeof(a->kb_hex), "%s", cJSON_GetObjectItem(j, "kB")->valuestring);
	snprintf(a->uid, sizeof(a->uid), "%s", cJSON_GetObjectItem(j, "uid")->valuestring);
	a->keys_changed_at = cJSON_GetObjectItem(j, "keysChangedAt")->valuedouble;
	a->totp[0] = '\0';
	if (cJSON_IsString(cJSON_GetObjectItem(j, "totp_secret")))
		snprintf(a->totp, sizeof(a->totp), "%s", cJSON_GetObjectItem(j, "totp_secret")->valuestring);
	cJSON_Delete(j);
}

static struct ds_fxa *client(void)
{
	struct ds_fxa_config cfg = { .fxa_url = g_url, .client_id = "dstestclient0001" };
	struct ds_fxa *f = NULL;

	assert_int_equal(ds_fxa_new(&cfg, &f), 0);
	return f;
}

static void skip_without_server(void)
{
	if (!g_have_server)
		skip();
}

/* The server's kB, the client's, and what derives from it must agree. */
static void check_keys(const struct acct *a, const struct ds_fxa_session *s, const uint8_t kb[32])
{
	uint8_t want_kb[32], ksync[64];
	char hex[65], cs[33], kid_prefix[40];

	assert_int_equal(ds_hex_decode(a->kb_hex, 64, want_kb, sizeof(want_kb)), 32);
	assert_memory_equal(kb, want_kb, 32);
	assert_true(s->has_keys);
	assert_int_equal(ds_account_ksync(want_kb, ksync), 0);
	assert_memory_equal(s->ksync, ksync, 64);
	assert_int_equal(ds_account_client_state(want_kb, cs, sizeof(cs)), 32);
	assert_string_equal(s->client_state, cs);
	/* kid = "<keyRotationTimestamp ms>-<b64url(SHA256(kB)[0:16])>" (accounts.md §4). */
	snprintf(kid_prefix, sizeof(kid_prefix), "%.0f-", a->keys_changed_at);
	assert_true(!strncmp(s->kid, kid_prefix, strlen(kid_prefix)));
	assert_int_equal(strlen(s->kid), strlen(kid_prefix) + 22);
	assert_false(s->has_key_fetch);
	ds_hex_encode(s->unwrap_bkey, 32, hex, sizeof(hex));
	assert_string_equal(hex, "0000000000000000000000000000000000000000000000000000000000000000");
	assert_string_equal(s->uid, a->uid);
}

/* ---- sign-in ---------------------------------------------------------------------------------- */

static void test_login_v1_verified_keys_match_server(void **state)
{
	struct ds_fxa_session s;
	struct ds_fxa *f;
	struct acct a;
	uint8_t kb[32];
	cJSON *st;

	DS_UNUSED(state);
	skip_without_server();
	make_account(&a, "v1@example.org", "correct horse", false, "none", false);
	f = client();
	assert_int_equal(ds_fxa_login(f, a.email, "correct horse", &s), 0);
	assert_true(s.verified);
	assert_int_equal(s.stretch_version, 1);
	assert_true(s.has_key_fetch);
	assert_int_equal(ds_fxa_fetch_keys(f, &s, kb), 0);
	check_keys(&a, &s, kb);
	/* The key-fetch token is single use: the server forgot it. */
	st = ctl("GET", "/__test__/state?email=v1@example.org", NULL);
	assert_int_equal(cJSON_GetObjectItem(st, "key_fetches")->valueint >= 1, 1);
	cJSON_Delete(st);
	assert_int_equal(ds_fxa_fetch_keys(f, &s, kb), -ENOKEY);
	ds_fxa_session_wipe(&s);
	ds_fxa_free(f);
}

static void test_login_v2_stretching(void **state)
{
	struct ds_fxa_session s;
	struct ds_fxa *f;
	struct acct a;
	uint8_t kb[32];

	DS_UNUSED(state);
	skip_without_server();
	make_account(&a, "v2@example.org", "pässwörd", true, "none", false);
	f = client();
	assert_int_equal(ds_fxa_login(f, a.email, "pässwörd", &s), 0);
	assert_int_equal(s.stretch_version, 2);
	assert_int_equal(ds_fxa_fetch_keys(f, &s, kb), 0);
	check_keys(&a, &s, kb);
	ds_fxa_session_wipe(&s);
	ds_fxa_free(f);
}

/* The v1 salt is the email as typed at sign-up: errno 120 names it and the client retries. */
static void test_login_email_case_retried_with_canonical_email(void **state)
{
	struct ds_fxa_session s;
	struct ds_fxa *f;
	struct acct a;
	uint8_t kb[32];

	DS_UNUSED(state);
	skip_without_server();
	make_account(&a, "Case@Example.org", "pw-case", false, "none", false);
	f = client();
	assert_int_equal(ds_fxa_login(f, "case@example.org", "pw-case", &s), 0);
	assert_string_equal(s.email, "Case@Example.org");
	assert_int_equal(ds_fxa_fetch_keys(f, &s, kb), 0);
	check_keys(&a, &s, kb);
	ds_fxa_session_wipe(&s);
	ds_fxa_free(f);
}

static void test_login_with_emailed_code(void **state)
{
	struct ds_fxa_session s;
	struct ds_fxa *f;
	struct acct a;
	uint8_t kb[32];
	cJSON *c;
	char code[16];

	DS_UNUSED(state);
	skip_without_server();
	make_account(&a, "code@example.org", "pw-code", false, "email", false);
	f = client();
	assert_int_equal(ds_fxa_login(f, a.email, "pw-code", &s), 0);
	assert_false(s.verified);
	assert_string_equal(s.verification_method, "email-otp");
	/* Keys wait for the verification (errno 104). */
	assert_int_equal(ds_fxa_fetch_keys(f, &s, kb), -EPERM);
	assert_int_equal(ds_fxa_errno(f), 104);
	assert_non_null(strstr(ds_fxa_error(f), "not verified"));
	assert_true(s.has_key_fetch);
	assert_int_equal(ds_fxa_verify(f, &s, "000000x"), -EACCES);
	assert_int_equal(ds_fxa_errno(f), 183);
	assert_string_equal(ds_fxa_error(f), "incorrect or expired verification code");
	assert_int_equal(ds_fxa_verify(f, &s, "12 34"), -EINVAL);
	c = ctl("GET", "/__test__/code?email=code@example.org", NULL);
	assert_true(cJSON_IsString(cJSON_GetObjectItem(c, "code")));
	snprintf(code, sizeof(code), "%s", cJSON_GetObjectItem(c, "code")->valuestring);
	cJSON_Delete(c);
	assert_int_equal(ds_fxa_verify(f, &s, code), 0);
	assert_true(s.verified);
	assert_int_equal(ds_fxa_fetch_keys(f, &s, kb), 0);
	check_keys(&a, &s, kb);
	ds_fxa_session_wipe(&s);
	ds_fxa_free(f);
}

static void test_login_with_totp(void **state)
{
	struct ds_fxa_session s;
	struct ds_fxa *f;
	struct acct a;
	uint8_t kb[32];
	char code[16];
	cJSON *c;

	DS_UNUSED(state);
	skip_without_server();
	make_account(&a, "totp@example.org", "pw-totp", false, "none", true);
	f = client();
	assert_int_equal(ds_fxa_login(f, a.email, "pw-totp", &s), 0);
	assert_false(s.verified);
	assert_string_equal(s.verification_method, "totp-2fa");
	/* A wrong code is a 200 {success:false} on /session/verify/totp. */
	c = ctl("GET", "/__test__/totp?email=totp@example.org", NULL);
	snprintf(code, sizeof(code), "%s", cJSON_GetObjectItem(c, "code")->valuestring);
	cJSON_Delete(c);
	code[0] = code[0] == '9' ? '0' : (char)(code[0] + 1);
	assert_int_equal(ds_fxa_verify(f, &s, code), -EACCES);
	assert_string_equal(ds_fxa_error(f), "incorrect authentication code");
	assert_false(s.verified);
	c = ctl("GET", "/__test__/totp?email=totp@example.org", NULL);
	snprintf(code, sizeof(code), "%s", cJSON_GetObjectItem(c, "code")->valuestring);
	cJSON_Delete(c);
	assert_int_equal(ds_fxa_verify(f, &s, code), 0);
	assert_int_equal(ds_fxa_fetch_keys(f, &s, kb), 0);
	check_keys(&a, &s, kb);
	ds_fxa_session_wipe(&s);
	ds_fxa_free(f);
}

/* ---- tokens, devices, sign-out ------------------------------------------------------------------ */

static void test_scoped_key_data_oauth_and_refresh(void **state)
{
	struct ds_fxa_session s;
	struct ds_fxa_token tok, tok2;
	struct ds_fxa *f;
	struct acct a;
	cJSON *skd, *hdr;
	char hj[256];
	int n;

	DS_UNUSED(state);
	skip_without_server();
	make_account(&a, "oauth@example.org", "pw-oauth", false, "none", false);
	f = client();
	assert_int_equal(ds_fxa_login(f, a.email, "pw-oauth", &s), 0);
	assert_int_equal(ds_fxa_scoped_key_data(f, &s, DS_FXA_OLDSYNC_SCOPE, &skd), 0);
	{
		const cJSON *sc = cJSON_GetObjectItem(skd, DS_FXA_OLDSYNC_SCOPE);

		assert_string_equal(cJSON_GetObjectItem(sc, "identifier")->valuestring, DS_FXA_OLDSYNC_SCOPE);
		assert_int_equal(strlen(cJSON_GetObjectItem(sc, "keyRotationSecret")->valuestring), 64);
		assert_true(cJSON_GetObjectItem(sc, "keyRotationTimestamp")->valuedouble == a.keys_changed_at);
	}
	cJSON_Delete(skd);

	assert_int_equal(ds_fxa_oauth_token(f, &s, DS_FXA_OLDSYNC_SCOPE, true, &tok), 0);
	assert_true(tok.got_refresh_token);
	assert_true(s.refresh_token[0]);
	assert_string_equal(tok.scope, DS_FXA_OLDSYNC_SCOPE);
	assert_true(tok.expires_in > 0);
	/* An RS256 JWT with typ at+jwt (what the tokenserver verifies). */
	n = ds_base64url_decode(tok.access_token, strcspn(tok.access_token, "."), hj, sizeof(hj) - 1);
	assert_true(n > 0);
	hj[n] = '\0';
	hdr = cJSON_Parse(hj);
	assert_string_equal(cJSON_GetObjectItem(hdr, "typ")->valuestring, "at+jwt");
	assert_string_equal(cJSON_GetObjectItem(hdr, "alg")->valuestring, "RS256");
	cJSON_Delete(hdr);

	assert_int_equal(ds_fxa_oauth_refresh(f, &s, DS_FXA_OLDSYNC_SCOPE, &tok2), 0);
	assert_string_not_equal(tok.access_token, tok2.access_token);
	ds_fxa_token_clear(&tok2);
	ds_fxa_token_clear(&tok);
	assert_null(tok.access_token);

	/* Online: no refresh token. */
	s.refresh_token[0] = '\0';
	assert_int_equal(ds_fxa_oauth_token(f, &s, DS_FXA_OLDSYNC_SCOPE, false, &tok), 0);
	assert_false(tok.got_refresh_token);
	ds_fxa_token_clear(&tok);
	assert_int_equal(ds_fxa_oauth_refresh(f, &s, DS_FXA_OLDSYNC_SCOPE, &tok), -ENOKEY);
	snprintf(s.refresh_token, sizeof(s.refresh_token), "%064d", 0);
	assert_int_equal(ds_fxa_oauth_refresh(f, &s, DS_FXA_OLDSYNC_SCOPE, &tok), -EKEYREJECTED);
	assert_int_equal(ds_fxa_errno(f), 110);
	ds_fxa_session_wipe(&s);
	ds_fxa_free(f);
}

/* An unverified session gets no OAuth token (errno 138). */
static void test_oauth_needs_a_verified_session(void **state)
{
	struct ds_fxa_session s;
	struct ds_fxa_token tok;
	struct ds_fxa *f;
	struct acct a;

	DS_UNUSED(state);
	skip_without_server();
	make_account(&a, "unverified@example.org", "pw-u", false, "email", false);
	f = client();
	assert_int_equal(ds_fxa_login(f, a.email, "pw-u", &s), 0);
	assert_int_equal(ds_fxa_oauth_token(f, &s, DS_FXA_OLDSYNC_SCOPE, true, &tok), -EPERM);
	assert_int_equal(ds_fxa_errno(f), 138);
	assert_null(tok.access_token);
	ds_fxa_session_wipe(&s);
	ds_fxa_free(f);
}

static void test_device_registration_and_destroy(void **state)
{
	struct ds_fxa_session s;
	struct ds_fxa *f;
	struct acct a;
	cJSON *st, *d;
	char id[65];

	DS_UNUSED(state);
	skip_without_server();
	make_account(&a, "device@example.org", "pw-dev", false, "none", false);
	f = client();
	assert_int_equal(ds_fxa_login(f, a.email, "pw-dev", &s), 0);
	assert_int_equal(ds_fxa_register_device(f, &s, "Living room", ds_fxa_device_type()), 0);
	assert_true(s.device_id[0]);
	snprintf(id, sizeof(id), "%s", s.device_id);
	st = ctl("GET", "/__test__/state?email=device@example.org", NULL);
	d = cJSON_GetArrayItem(cJSON_GetObjectItem(st, "devices"), 0);
	assert_string_equal(cJSON_GetObjectItem(d, "name")->valuestring, "Living room");
	/* The sim board is not a TV: "mobile" (the tv board registers "tv"). */
	assert_string_equal(cJSON_GetObjectItem(d, "type")->valuestring, "mobile");
	assert_string_equal(cJSON_GetObjectItem(d, "id")->valuestring, id);
	cJSON_Delete(st);
	/* Renaming keeps the id. */
	assert_int_equal(ds_fxa_register_device(f, &s, "Kitchen", NULL), 0);
	assert_string_equal(s.device_id, id);
	assert_string_equal(s.device_name, "Kitchen");

	assert_int_equal(ds_fxa_destroy(f, &s), 0);
	st = ctl("GET", "/__test__/state?email=device@example.org", NULL);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(st, "sessions")), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(st, "devices")), 0);
	cJSON_Delete(st);
	/* The destroyed session is refused (errno 110). */
	assert_int_equal(ds_fxa_register_device(f, &s, "again", NULL), -EKEYREJECTED);
	assert_int_equal(ds_fxa_errno(f), 110);
	assert_string_equal(ds_fxa_error(f), "the session is no longer valid: sign in again");
	ds_fxa_session_wipe(&s);
	ds_fxa_free(f);
}

/* ---- errors ------------------------------------------------------------------------------------- */

static void test_unknown_account_and_wrong_password(void **state)
{
	struct ds_fxa_session s;
	struct ds_fxa *f;
	struct acct a;

	DS_UNUSED(state);
	skip_without_server();
	make_account(&a, "pw@example.org", "right", false, "none", false);
	f = client();
	assert_int_equal(ds_fxa_login(f, "nobody@example.org", "x", &s), -ENOENT);
	assert_int_equal(ds_fxa_errno(f), 102);
	assert_string_equal(ds_fxa_error(f), "unknown account: no Firefox Account uses this email address");
	assert_false(s.has_session);
	assert_int_equal(ds_fxa_login(f, a.email, "wrong", &s), -EACCES);
	assert_int_equal(ds_fxa_errno(f), 103);
	assert_string_equal(ds_fxa_error(f), "incorrect password");
	assert_false(s.has_session);
	ds_fxa_free(f);
}

struct injected {
	int errno_;
	int http;
	int retry_after;
	int rc;
	const char *message;
};

/* Each errno of accounts.md §2 the login can meet, injected on /v1/account/login. */
static void test_login_errors_have_clear_messages(void **state)
{
	static const struct injected cases[] = {
		{ 125, 0, -1, -EPERM, "the sign-in was blocked for security reasons: sign in once from a browser to unblock it" },
		{ 114, 429, 30, -EAGAIN, "too many attempts: try again in 30 s" },
		{ 201, 503, 15, -EAGAIN, "the accounts service is unavailable: try again in 15 s" },
		{ 127, 0, -1, -EACCES, "invalid unblock code" },
		{ 142, 0, -1, -EPERM, "this email address is not allowed to sign in here" },
		{ 149, 0, -1, -EPERM, "this email address is not allowed to sign in here" },
		{ 151, 0, -1, -EIO, "the server could not send the verification email: try again later" },
		{ 160, 0, -1, -EPERM, "two-step authentication is required for this account" },
		{ 204, 0, -1, -EPERM, "the accounts server has disabled this client" },
		{ 104, 0, -1, -EPERM, "the account is not verified yet: confirm the email Mozilla sent" },
	};
	struct ds_fxa_session s;
	struct ds_fxa *f;
	struct acct a;
	char body[256];

	DS_UNUSED(state);
	skip_without_server();
	make_account(&a, "errors@example.org", "pw-e", false, "none", false);
	f = client();
	for (size_t i = 0; i < DS_ARRAY_SIZE(cases); i++) {
		const struct injected *c = &cases[i];
		int n = snprintf(body, sizeof(body), "{\"path\":\"/v1/account/login\",\"errno\":%d", c->errno_);

		if (c->http)
			n += snprintf(body + n, sizeof(body) - (size_t)n, ",\"code\":%d", c->http);
		if (c->retry_after >= 0)
			n += snprintf(body + n, sizeof(body) - (size_t)n, ",\"retry_after\":%d", c->retry_after);
		snprintf(body + n, sizeof(body) - (size_t)n, "}");
		ctl_ok("/__test__/fail", body);
		assert_int_equal(ds_fxa_login(f, a.email, "pw-e", &s), c->rc);
		assert_int_equal(ds_fxa_errno(f), c->errno_);
		assert_string_equal(ds_fxa_error(f), c->message);
		if (c->retry_after >= 0)
			assert_int_equal(ds_fxa_retry_after(f), c->retry_after);
		assert_false(s.has_session);
	}
	/* Nothing injected any more: the same login works. */
	assert_int_equal(ds_fxa_login(f, a.email, "pw-e", &s), 0);
	ds_fxa_session_wipe(&s);
	ds_fxa_free(f);
}

static void test_unreachable_server(void **state)
{
	struct ds_fxa_config cfg = { .fxa_url = "http://127.0.0.1:1" };
	struct ds_fxa_session s;
	struct ds_fxa *f = NULL;

	DS_UNUSED(state);
	assert_int_equal(ds_fxa_new(&cfg, &f), 0);
	assert_int_equal(ds_fxa_login(f, "a@example.org", "pw", &s), -ECONNREFUSED);
	assert_non_null(strstr(ds_fxa_error(f), "cannot reach the accounts server"));
	assert_int_equal(ds_fxa_errno(f), 0);
	ds_fxa_free(f);
}

/*
 * Clock skew: the server's clock runs two hours ahead. The login (no Hawk) teaches the skew
 * through Timestamp; a client told a wrong skew gets errno 111 + serverTime and retries once.
 */
static void test_clock_skew_learnt_and_corrected(void **state)
{
	struct ds_fxa_session s;
	struct ds_fxa *f;
	struct acct a;
	cJSON *skd = NULL;
	int64_t expect;

	DS_UNUSED(state);
	skip_without_server();
	make_account(&a, "skew@example.org", "pw-skew", false, "none", false);
	ctl_ok("/__test__/clock", "{\"offset\":7200}");
	f = client();
	assert_int_equal(ds_fxa_login(f, a.email, "pw-skew", &s), 0);
	expect = (int64_t)time(NULL) + 7200 - ds_port_wall_ms() / 1000;
	assert_true(ds_fxa_skew(f) >= expect - 5 && ds_fxa_skew(f) <= expect + 5);
	assert_int_equal(s.skew_s, ds_fxa_skew(f));
	assert_int_equal(ds_fxa_scoped_key_data(f, &s, DS_FXA_OLDSYNC_SCOPE, &skd), 0);
	cJSON_Delete(skd);
	skd = NULL;
	ds_fxa_set_skew(f, ds_fxa_skew(f) - 5000);
	assert_int_equal(ds_fxa_scoped_key_data(f, &s, DS_FXA_OLDSYNC_SCOPE, &skd), 0);
	assert_true(ds_fxa_skew(f) >= expect - 5 && ds_fxa_skew(f) <= expect + 5);
	cJSON_Delete(skd);
	/* Persistently refused timestamps end as -ETIME, not a loop. */
	ctl_ok("/__test__/fail", "{\"path\":\"/v1/account/scoped-key-data\",\"errno\":111,\"count\":2}");
	assert_int_equal(ds_fxa_scoped_key_data(f, &s, DS_FXA_OLDSYNC_SCOPE, &skd), -ETIME);
	assert_null(skd);
	ctl_ok("/__test__/clock", "{\"offset\":0}");
	ds_fxa_session_wipe(&s);
	ds_fxa_free(f);
}

/* ---- the sealed session --------------------------------------------------------------------------- */

static void test_session_seal_roundtrip_and_erase(void **state)
{
	struct ds_fxa_session s, r;

	DS_UNUSED(state);
	memset(&s, 0, sizeof(s));
	snprintf(s.uid, sizeof(s.uid), "%s", "0123456789abcdef0123456789abcdef");
	snprintf(s.email, sizeof(s.email), "%s", "seal@example.org");
	s.has_session = true;
	memset(s.session_token, 0xa5, sizeof(s.session_token));
	s.verified = true;
	s.has_keys = true;
	memset(s.ksync, 0x3c, sizeof(s.ksync));
	snprintf(s.kid, sizeof(s.kid), "%s", "1234567890123-AAAAAAAAAAAAAAAAAAAAAA");
	snprintf(s.client_state, sizeof(s.client_state), "%s", "00112233445566778899aabbccddeeff");
	snprintf(s.refresh_token, sizeof(s.refresh_token), "%s", "rt-0001");
	snprintf(s.device_id, sizeof(s.device_id), "%s", "dev1");
	snprintf(s.device_name, sizeof(s.device_name), "%s", "Den");
	s.skew_s = -42;
	/* Pending key-fetch material is never sealed. */
	s.has_key_fetch = true;
	memset(s.key_fetch_token, 0x77, sizeof(s.key_fetch_token));
	memset(s.unwrap_bkey, 0x66, sizeof(s.unwrap_bkey));
	s.stretch_version = 2;

	assert_int_equal(ds_fxa_session_seal(&s), 0);
	assert_int_equal(ds_fxa_session_unseal(&r), 0);
	assert_true(r.has_session && r.verified && r.has_keys);
	assert_false(r.has_key_fetch);
	assert_string_equal(r.uid, s.uid);
	assert_string_equal(r.email, s.email);
	assert_memory_equal(r.session_token, s.session_token, 32);
	assert_memory_equal(r.ksync, s.ksync, 64);
	assert_string_equal(r.kid, s.kid);
	assert_string_equal(r.client_state, s.client_state);
	assert_string_equal(r.refresh_token, s.refresh_token);
	assert_string_equal(r.device_id, s.device_id);
	assert_string_equal(r.device_name, s.device_name);
	assert_int_equal(r.skew_s, -42);
	{
		static const uint8_t zero[32];

		assert_memory_equal(r.key_fetch_token, zero, 32);
		assert_memory_equal(r.unwrap_bkey, zero, 32);
	}
	assert_int_equal(ds_fxa_session_erase(), 0);
	assert_int_equal(ds_fxa_session_unseal(&r), -ENOENT);
	assert_false(r.has_session);
	assert_int_equal(ds_fxa_session_erase(), -ENOENT);
	/* A blob we cannot read is refused, not half-loaded. */
	assert_int_equal(ds_port_secret_seal(DS_FXA_SECRET_NAME, "{\"v\":1,\"uid\":\"x\"}", 18), 0);
	assert_int_equal(ds_fxa_session_unseal(&r), -EBADMSG);
	assert_false(r.has_session);
	assert_int_equal(ds_port_secret_seal(DS_FXA_SECRET_NAME, "not json", 8), 0);
	assert_int_equal(ds_fxa_session_unseal(&r), -EBADMSG);
	assert_int_equal(ds_fxa_session_erase(), 0);
	s.has_session = false;
	assert_int_equal(ds_fxa_session_seal(&s), -EINVAL);
}

/* ---- keys_jwe ----------------------------------------------------------------------------------------- */

/* Build a compact ECDH-ES + A256GCM JWE the way the FxA server does (RFC 7516/7518). */
static char *make_jwe(const uint8_t recv_pub[65], const char *alg, const char *plain)
{
	uint8_t epriv[32], epub[65], z[32], cek[32], iv[12], tag[16], kdf[4 + 32 + 4 + 7 + 12];
	char x[64], y[64], hdr[400], hdr64[600], iv64[32], tag64[32], *ct64, *out;
	size_t plen = strlen(plain), o = 0;
	uint8_t *ct = malloc(plen);

	assert_int_equal(ds_p256_keygen(epriv, epub), 0);
	assert_int_equal(ds_p256_ecdh(epriv, recv_pub, z), 0);
	memcpy(kdf + o, "\0\0\0\1", 4), o += 4;
	memcpy(kdf + o, z, 32), o += 32;
	memcpy(kdf + o, "\0\0\0\7A256GCM", 11), o += 11;
	memcpy(kdf + o, "\0\0\0\0\0\0\0\0\0\0\1\0", 12), o += 12;
	assert_int_equal(ds_sha256(kdf, o, cek), 0);
	ds_base64url_encode(epub + 1, 32, x, sizeof(x));
	ds_base64url_encode(epub + 33, 32, y, sizeof(y));
	snprintf(hdr, sizeof(hdr),
		 "{\"alg\":\"%s\",\"enc\":\"A256GCM\",\"epk\":{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}}",
		 alg, x, y);
	ds_base64url_encode(hdr, strlen(hdr), hdr64, sizeof(hdr64));
	assert_int_equal(ds_random(iv, sizeof(iv)), 0);
	assert_int_equal(ds_aes_gcm_encrypt(cek, 32, iv, hdr64, strlen(hdr64), plain, plen, ct, tag), 0);
	ds_base64url_encode(iv, 12, iv64, sizeof(iv64));
	ds_base64url_encode(tag, 16, tag64, sizeof(tag64));
	ct64 = malloc(plen * 2 + 8);
	ds_base64url_encode(ct, plen, ct64, plen * 2 + 8);
	out = malloc(strlen(hdr64) + strlen(ct64) + 80);
	sprintf(out, "%s..%s.%s.%s", hdr64, iv64, ct64, tag64);
	free(ct);
	free(ct64);
	return out;
}

static void test_keys_jwe_decrypt(void **state)
{
	static const char plain[] =
		"{\"https://identity.mozilla.com/apps/oldsync\":{\"kty\":\"oct\",\"scope\":"
		"\"https://identity.mozilla.com/apps/oldsync\",\"k\":\"8ek1VNk4sjrNP0DhGC4crzQtwmpoR64zHuFMHb4Tw-e\","
		"\"kid\":\"1526414944666-zgTjf5oXmPmBjxwXWFsDWg\"}}";
	uint8_t priv[32], pub[65], other[32], other_pub[65];
	char *jwe, *got = NULL, *p;
	size_t len = 0;

	DS_UNUSED(state);
	assert_int_equal(ds_p256_keygen(priv, pub), 0);
	assert_int_equal(ds_p256_keygen(other, other_pub), 0);
	jwe = make_jwe(pub, "ECDH-ES", plain);
	assert_int_equal(ds_fxa_jwe_decrypt(priv, jwe, &got, &len), 0);
	assert_int_equal(len, strlen(plain));
	assert_string_equal(got, plain);
	ds_memzero(got, len);
	ds_free(got);
	/* Another key: the tag fails. */
	assert_int_equal(ds_fxa_jwe_decrypt(other, jwe, &got, &len), -EBADMSG);
	assert_null(got);
	/* A flipped ciphertext character: the tag fails. */
	p = strchr(strchr(strchr(jwe, '.') + 1, '.') + 1, '.') + 1;
	*p = *p == 'A' ? 'B' : 'A';
	assert_int_equal(ds_fxa_jwe_decrypt(priv, jwe, &got, &len), -EBADMSG);
	free(jwe);
	/* Another alg, or a malformed compact form, is refused. */
	jwe = make_jwe(pub, "ECDH-ES+A256KW", plain);
	assert_int_equal(ds_fxa_jwe_decrypt(priv, jwe, &got, &len), -EINVAL);
	free(jwe);
	assert_int_equal(ds_fxa_jwe_decrypt(priv, "a.b.c", &got, &len), -EINVAL);
	assert_int_equal(ds_fxa_jwe_decrypt(priv, "e30.x.AAAAAAAAAAAAAAAA.AA.AAAAAAAAAAAAAAAAAAAAAA", &got, &len),
			 -EINVAL);
}

/* ---- fixture ----------------------------------------------------------------------------------------- */

static int group_setup(void **state)
{
	const char *t = getenv("DS_TEST_TMP");
	struct ds_port_config pc = { 0 };
	char d[3][700];

	DS_UNUSED(state);
	signal(SIGPIPE, SIG_IGN);
	if (t && *t) {
		snprintf(g_tmp, sizeof(g_tmp), "%s/fxa", t);
		mkdir(g_tmp, 0700);
	} else {
		const char *base = getenv("TMPDIR");

		snprintf(g_tmp, sizeof(g_tmp), "%s/ds-fxa-XXXXXX", base && *base ? base : P_tmpdir);
		if (!mkdtemp(g_tmp))
			return -1;
	}
	snprintf(d[0], sizeof(d[0]), "%s/data", g_tmp);
	snprintf(d[1], sizeof(d[1]), "%s/run", g_tmp);
	snprintf(d[2], sizeof(d[2]), "%s/secrets", g_tmp);
	pc.data_dir = d[0];
	pc.run_dir = d[1];
	pc.secret_dir = d[2];
	if (ds_port_init(&pc))
		return -1;
	if (find_source_tree() || ds_http_client_new(NULL, &g_ctl))
		return -1;
	g_have_server = start_server() == 0;
	if (!g_have_server)
		fprintf(stderr, "fxa_test: FxA test server unavailable (see %s/setup-venv.log): server tests skipped\n",
			g_tmp);
	return 0;
}

static int group_teardown(void **state)
{
	DS_UNUSED(state);
	ds_child_server_stop(&g_srv);
	ds_http_client_free(g_ctl);
	ds_port_deinit();
	ds_random_reset();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_login_v1_verified_keys_match_server),
		cmocka_unit_test(test_login_v2_stretching),
		cmocka_unit_test(test_login_email_case_retried_with_canonical_email),
		cmocka_unit_test(test_login_with_emailed_code),
		cmocka_unit_test(test_login_with_totp),
		cmocka_unit_test(test_scoped_key_data_oauth_and_refresh),
		cmocka_unit_test(test_oauth_needs_a_verified_session),
		cmocka_unit_test(test_device_registration_and_destroy),
		cmocka_unit_test(test_unknown_account_and_wrong_password),
		cmocka_unit_test(test_login_errors_have_clear_messages),
		cmocka_unit_test(test_unreachable_server),
		cmocka_unit_test(test_clock_skew_learnt_and_corrected),
		cmocka_unit_test(test_session_seal_roundtrip_and_erase),
		cmocka_unit_test(test_keys_jwe_decrypt),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
