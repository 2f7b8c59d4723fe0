/*
 * Tokenserver client against test/servers/tokenserver/server.py on 127.0.0.1 (plain HTTP).
 *
 * The server runs from the test servers' Python venv: test/servers/setup-venv.sh is run first
 * (a no-op when the venv is current; it creates it otherwise) and the test fails with its
 * message when that is impossible. An RSA key pair and its JWKS are made in DS_TEST_TMP with
 * jwt_tool.py, which also mints the OAuth access tokens (RS256, typ at+jwt) the way the FxA
 * server does. The client runs on fake clocks, so expiry and backoff are tested without
 * waiting.
 */
#include "account/ds_tokenserver.h"
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "net/ds_http.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "test/support/child_server.h"

#define SECRET "datasync-tokenserver-test-secret"
#define ISSUER "http://127.0.0.1/fxa-test"
#define NODE1 "http://127.0.0.1:8001"
#define NODE2 "http://127.0.0.1:8002"

static char g_src[512];
static char g_tmp[512];
static char g_py[600];  /* the venv's python */
static char g_url[128]; /* tokenserver base URL */
static struct ds_child_server g_srv;
static struct ds_http_client *g_http;

static int64_t g_mono = 1000000;
static int64_t g_wall = INT64_C(1767225600000);

static int64_t fake_mono(void)
{
	return g_mono;
}

static int64_t fake_wall(void)
{
	return g_wall;
}

/* ---- fixtures ------------------------------------------------------------------------------- */

static int has_server_script(const char *dir)
{
	char p[1024];
	snprintf(p, sizeof(p), "%s/test/servers/tokenserver/server.py", dir);
	return access(p, R_OK) == 0;
}

/* DS_SRC (as the integration runner sets it), the working directory, or above the binary. */
static int find_source_tree(void)
{
	const char *e = getenv("DS_SRC");
	char exe[512];
	ssize_t n;

	if (e && *e && has_server_script(e)) {
		snprintf(g_src, sizeof(g_src), "%s", e);
		return 0;
	}
	if (has_server_script(".")) {
		if (!getcwd(g_src, sizeof(g_src)))
			return -1;
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	for (char *slash; (slash = strrchr(exe, '/')) != NULL && slash != exe;) {
		*slash = '\0';
		if (has_server_script(exe)) {
			snprintf(g_src, sizeof(g_src), "%s", exe);
			return 0;
		}
	}
	return -1;
}

/* Run a shell command, keep the last line of its stdout in out. Returns its exit status. */
static int run_capture(const char *cmd, char *out, size_t cap)
{
	char line[4096];
	FILE *f = popen(cmd, "r");
	int st;

	if (!f)
		return -1;
	if (out && cap)
		out[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (out && line[0]) {
			size_t l = DS_MIN(strlen(line), cap - 1);
			memcpy(out, line, l);
			out[l] = '\0';
		}
	}
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * The venv: DS_PYENV names it, else <source>/build/pyenv. setup-venv.sh creates it when it is
 * missing or older than requirements.txt, and prints the python to use.
 */
static int setup_venv(void)
{
	const char *v = getenv("DS_PYENV");
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "'%s/test/servers/setup-venv.sh' %s%s%s", g_src,
		 v && *v ? "'" : "", v && *v ? v : "", v && *v ? "'" : "");
	if (run_capture(cmd, g_py, sizeof(g_py)) != 0 || access(g_py, X_OK) != 0) {
		fprintf(stderr,
			"tokenserver_test: the test servers' Python venv is missing and "
			"test/servers/setup-venv.sh could not create it (messages above). It needs "
			"python3-venv (test/tools/install-deps.sh) and PyPI for "
			"test/servers/requirements.txt.\n");
		return -1;
	}
	return 0;
}

static int jwt_tool(const char *args, char *out, size_t cap)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "cd '%s' && '%s' '%s/test/servers/tokenserver/jwt_tool.py' %s", g_tmp,
		 g_py, g_src, args);
	return run_capture(cmd, out, cap);
}

static int start_server(void)
{
	char script[1024], jwks[700];
	char *argv[] = { g_py, script, "--jwks", jwks, "--issuer", ISSUER, "--node", NODE1,
			 "--secret", SECRET, "--exit-on-eof", NULL };

	snprintf(script, sizeof(script), "%s/test/servers/tokenserver/server.py", g_src);
	snprintf(jwks, sizeof(jwks), "%s/jwks.json", g_tmp);
	if (ds_child_server_start(&g_srv, argv)) {
		fprintf(stderr, "tokenserver_test: the test tokenserver did not start\n");
		return -1;
	}
	snprintf(g_url, sizeof(g_url), "http://127.0.0.1:%d", g_srv.port);
	return 0;
}

static int group_setup(void **state)
{
	const char *t = getenv("DS_TEST_TMP");
	struct ds_http_config hc = { .keep_headers = ds_tokenserver_keep_headers, .timeout_s = 20 };
	DS_UNUSED(state);

	signal(SIGPIPE, SIG_IGN);
	if (find_source_tree()) {
		fprintf(stderr, "test/servers/tokenserver/server.py not found (set DS_SRC)\n");
		return -1;
	}
	if (t && *t) {
		snprintf(g_tmp, sizeof(g_tmp), "%s/tokenserver", t);
		mkdir(g_tmp, 0700);
	} else {
		const char *base = getenv("TMPDIR");
		snprintf(g_tmp, sizeof(g_tmp), "%s/ds-ts-XXXXXX", base && *base ? base : P_tmpdir);
		if (!mkdtemp(g_tmp))
			return -1;
	}
	if (setup_venv())
		return -1;
	if (jwt_tool("genkey --private key.pem --jwks jwks.json", NULL, 0) != 0) {
		fprintf(stderr, "tokenserver_test: jwt_tool.py genkey failed\n");
		return -1;
	}
	if (start_server())
		return -1;
	return ds_http_client_new(&hc, &g_http) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	DS_UNUSED(state);
	ds_http_client_free(g_http);
	ds_child_server_stop(&g_srv);
	return 0;
}

/* ---- helpers -------------------------------------------------------------------------------- */

/* POST a test-control request; returns the HTTP status. */
static int control(const char *path, const char *json)
{
	char url[256];
	struct ds_http_header h = { "Content-Type", "application/json" };
	struct ds_http_request req = { .method = "POST", .url = url, .headers = &h, .n_headers = 1,
				       .body = json, .body_len = strlen(json) };
	struct ds_http_response resp;
	int status;

	snprintf(url, sizeof(url), "%s/__testing__/%s", g_url, path);
	assert_int_equal(ds_http_perform(g_http, &req, &resp), 0);
	status = resp.status;
	ds_http_response_free(&resp);
	return status;
}

static int token_requests(void)
{
	char url[256];
	struct ds_http_request req = { .url = url };
	struct ds_http_response resp;
	cJSON *root;
	int n;

	snprintf(url, sizeof(url), "%s/__testing__/stats", g_url);
	assert_int_equal(ds_http_perform(g_http, &req, &resp), 0);
	assert_int_equal(resp.status, 200);
	root = cJSON_Parse(resp.body);
	assert_non_null(root);
	n = cJSON_GetObjectItem(root, "token_requests")->valueint;
	cJSON_Delete(root);
	ds_http_response_free(&resp);
	return n;
}

/* An OAuth access token for sub from the key pair key_file; generation < 0: no claim. */
static char *mint_with(const char *key_file, const char *sub, long long generation,
		       const char *extra)
{
	char args[1024], gen[48] = "", tok[2048];

	if (generation >= 0)
		snprintf(gen, sizeof(gen), "--generation %lld", generation);
	snprintf(args, sizeof(args), "mint --private %s --issuer %s --sub %s %s %s", key_file, ISSUER,
		 sub, gen, extra ? extra : "");
	assert_int_equal(jwt_tool(args, tok, sizeof(tok)), 0);
	assert_true(strlen(tok) > 100);
	return ds_strdup(tok);
}

static char *mint(const char *sub, long long generation, const char *extra)
{
	return mint_with("key.pem", sub, generation, extra);
}

/* "<kca>-<b64url(16 bytes of fill)>" and the matching X-Client-State hex. */
static void make_kid(long long kca, uint8_t fill, char kid[64], char hex[40])
{
	uint8_t cs[16];
	char b64[32];

	memset(cs, fill, sizeof(cs));
	assert_int_equal(ds_base64url_encode(cs, sizeof(cs), b64, sizeof(b64)), 22);
	snprintf(kid, 64, "%lld-%s", kca, b64);
	if (hex)
		assert_int_equal(ds_hex_encode(cs, sizeof(cs), hex, 40), 32);
}

static struct ds_tokenserver *new_client(const char *url)
{
	struct ds_tokenserver_config cfg = { .url = url ? url : g_url, .expiry_margin_s = 0,
					     .mono_ms = fake_mono, .wall_ms = fake_wall };
	struct ds_tokenserver *ts = NULL;

	assert_int_equal(ds_tokenserver_new(&cfg, &ts), 0);
	return ts;
}

static int get(struct ds_tokenserver *ts, const char *bearer, const char *kid,
	       struct ds_tokenserver_result *res)
{
	struct ds_tokenserver_auth a = { .access_token = bearer, .key_id = kid };
	return ds_tokenserver_get(ts, g_http, &a, res);
}

static int reset_server(void **state)
{
	DS_UNUSED(state);
	g_mono = 1000000;
	g_wall = INT64_C(1767225600000);
	return control("reset", "{}") == 200 ? 0 : -1;
}

/* ---- tests ---------------------------------------------------------------------------------- */

/* vectors.md §4: the server's minting reproduces tokenlib's published id and key. */
static void test_server_mints_tokenlib_vector(void **state)
{
	char cmd[2048], out[256];
	DS_UNUSED(state);

	snprintf(cmd, sizeof(cmd), "'%s' '%s/test/servers/tokenserver/check_vector.py' 2>&1", g_py,
		 g_src);
	assert_int_equal(run_capture(cmd, out, sizeof(out)), 0);
	assert_string_equal(out, "ok");
}

/* application-services token.rs fixup_server_url. */
static void test_url_fixup(void **state)
{
	static const char *const cases[][2] = {
		{ "https://token.example", "https://token.example/1.0/sync/1.5" },
		{ "https://token.example/", "https://token.example/1.0/sync/1.5" },
		{ "http://h:8080/token", "http://h:8080/token/1.0/sync/1.5" },
		{ "http://h/token/1.0/sync/1.5", "http://h/token/1.0/sync/1.5" },
		{ "http://h/token/1.0/sync/1.5/", "http://h/token/1.0/sync/1.5" },
	};
	struct ds_tokenserver_config cfg = { 0 };
	struct ds_tokenserver *ts;
	DS_UNUSED(state);

	for (size_t i = 0; i < DS_ARRAY_SIZE(cases); i++) {
		cfg.url = cases[i][0];
		assert_int_equal(ds_tokenserver_new(&cfg, &ts), 0);
		assert_string_equal(ds_tokenserver_url(ts), cases[i][1]);
		ds_tokenserver_free(ts);
	}
	/* The production default from Kconfig. */
	assert_int_equal(ds_tokenserver_new(NULL, &ts), 0);
	assert_string_equal(ds_tokenserver_url(ts), CONFIG_DS_ACCOUNT_TOKENSERVER_URL "/1.0/sync/1.5");
	ds_tokenserver_free(ts);
	cfg.url = "ftp://token.example";
	assert_int_equal(ds_tokenserver_new(&cfg, &ts), -EINVAL);
	assert_null(ts);
}

/* Check the token the way a storage node does: tokenlib signature and derived key. */
static void check_tokenlib(const struct ds_tokenserver_token *t, const char *sub, const char *node,
			   const char *fxa_kid)
{
	static const char sig_info[] = "services.mozilla.com/tokenlib/v1/signing";
	static const char derive_info[] = "services.mozilla.com/tokenlib/v1/derive/";
	uint8_t raw[1024], sigkey[32], mac[32], key[32];
	char payload[1024], *info, key_b64[64];
	cJSON *p;
	int n;

	n = ds_base64url_decode(t->id, strlen(t->id), raw, sizeof(raw));
	assert_true(n > 32);
	memcpy(payload, raw, (size_t)n - 32);
	payload[n - 32] = '\0';
	assert_int_equal(ds_hkdf_sha256(NULL, 0, SECRET, strlen(SECRET), sig_info, strlen(sig_info),
					sigkey, 32),
			 0);
	assert_int_equal(ds_hmac_sha256(sigkey, 32, payload, (size_t)n - 32, mac), 0);
	assert_memory_equal(mac, raw + n - 32, 32);

	p = cJSON_Parse(payload);
	assert_non_null(p);
	assert_int_equal(cJSON_GetObjectItem(p, "uid")->valuedouble, (double)t->uid);
	assert_string_equal(cJSON_GetObjectItem(p, "node")->valuestring, node);
	assert_string_equal(cJSON_GetObjectItem(p, "fxa_uid")->valuestring, sub);
	assert_string_equal(cJSON_GetObjectItem(p, "fxa_kid")->valuestring, fxa_kid);
	assert_string_equal(cJSON_GetObjectItem(p, "hashed_fxa_uid")->valuestring, t->hashed_fxa_uid);

	info = ds_asprintf("%s%s", derive_info, t->id);
	assert_non_null(info);
	const char *salt = cJSON_GetObjectItem(p, "salt")->valuestring;
	assert_int_equal(ds_hkdf_sha256(salt, strlen(salt), SECRET, strlen(SECRET), info,
					strlen(info), key, 32),
			 0);
	ds_free(info);
	cJSON_Delete(p);
	/* tokenlib's key is urlsafe base64 WITH padding. */
	assert_int_equal(ds_base64url_encode(key, 32, key_b64, sizeof(key_b64) - 1), 43);
	strcat(key_b64, "=");
	assert_string_equal(t->key, key_b64);
}

static void test_success(void **state)
{
	struct ds_tokenserver *ts = new_client(NULL);
	struct ds_tokenserver_result res;
	char kid[64], hex[40], fxa_kid[64];
	char *bearer = mint("success0001", 1500, NULL);
	struct ds_tokenserver_auth a;
	DS_UNUSED(state);

	make_kid(1234, 0x11, kid, hex);
	/* X-Client-State sent too, matching the kid: accepted. */
	a = (struct ds_tokenserver_auth){ .access_token = bearer, .key_id = kid, .client_state = hex };
	assert_int_equal(ds_tokenserver_get(ts, g_http, &a, &res), 0);
	assert_int_equal(res.state, DS_TOKENSERVER_OK);
	assert_int_equal(res.http_status, 200);
	assert_false(res.from_cache);
	assert_false(res.node_reassigned); /* nothing known before: a first token */
	assert_int_equal(res.retry_after_s, 0);
	assert_int_equal(res.backoff_s, 0);
	assert_non_null(res.token);
	assert_int_equal(res.token->uid, 1);
	assert_string_equal(res.token->api_endpoint, NODE1 "/1.5/1");
	assert_int_equal(res.token->duration_s, 3600);
	assert_int_equal(strlen(res.token->hashed_fxa_uid), 32);
	assert_string_equal(res.token->node_type, "spanner");
	assert_int_equal(res.token->fetched_mono_ms, g_mono);
	assert_int_equal(res.token->expires_mono_ms, g_mono + 3600 * 1000);
	/* keys_changed_at names the keys (handlers.rs: "{:013}-{b64url}"). */
	snprintf(fxa_kid, sizeof(fxa_kid), "0000000001234-%s", strchr(kid, '-') + 1);
	check_tokenlib(res.token, "success0001", NODE1, fxa_kid);
	assert_string_equal(ds_tokenserver_known_endpoint(ts), NODE1 "/1.5/1");
	assert_int_equal(ds_tokenserver_action(res.state), DS_TOKENSERVER_ACT_NONE);
	ds_free(bearer);
	ds_tokenserver_free(ts);
}

static void test_second_call_uses_cache(void **state)
{
	struct ds_tokenserver *ts = new_client(NULL);
	struct ds_tokenserver_result r1, r2;
	char kid[64], *id;
	char *bearer = mint("cache0001", 1000, NULL);
	DS_UNUSED(state);

	make_kid(1000, 0x22, kid, NULL);
	assert_int_equal(get(ts, bearer, kid, &r1), 0);
	assert_int_equal(token_requests(), 1);
	id = ds_strdup(r1.token->id);
	g_mono += 1000 * 1000; /* well inside the hour */
	assert_int_equal(get(ts, bearer, kid, &r2), 0);
	assert_true(r2.from_cache);
	assert_int_equal(r2.http_status, 0);
	assert_string_equal(r2.token->id, id);
	assert_int_equal(token_requests(), 1); /* no second request */
	ds_free(id);
	ds_free(bearer);
	ds_tokenserver_free(ts);
}

static void test_expiry_refetch(void **state)
{
	struct ds_tokenserver *ts = new_client(NULL);
	struct ds_tokenserver_result res;
	char kid[64];
	char *bearer = mint("expiry0001", 1000, NULL);
	int64_t expires;
	DS_UNUSED(state);

	make_kid(1000, 0x33, kid, NULL);
	assert_int_equal(get(ts, bearer, kid, &res), 0);
	expires = res.token->expires_mono_ms;
	/* Good until the margin before expiry ... */
	g_mono = expires - DS_TOKENSERVER_EXPIRY_MARGIN_S * 1000 - 1;
	assert_int_equal(get(ts, bearer, kid, &res), 0);
	assert_true(res.from_cache);
	assert_int_equal(token_requests(), 1);
	/* ... then fetched again lazily, by the next call. */
	g_mono += 1;
	assert_int_equal(get(ts, bearer, kid, &res), 0);
	assert_false(res.from_cache);
	assert_int_equal(res.http_status, 200);
	assert_int_equal(token_requests(), 2);
	assert_int_equal(res.token->expires_mono_ms, g_mono + 3600 * 1000);

	/* A short-lived token (?duration / server setting) is used for the first half of its
	 * life, not thrown away at once by the 60 s margin. */
	assert_int_equal(control("config", "{\"duration\": 60}"), 200);
	ds_tokenserver_invalidate(ts);
	assert_int_equal(get(ts, bearer, kid, &res), 0);
	assert_int_equal(res.token->duration_s, 60);
	g_mono += 29 * 1000;
	assert_int_equal(get(ts, bearer, kid, &res), 0);
	assert_true(res.from_cache);
	g_mono += 2 * 1000;
	assert_int_equal(get(ts, bearer, kid, &res), 0);
	assert_false(res.from_cache);
	assert_int_equal(token_requests(), 4);
	ds_tokenserver_free(ts);

	/* A configured margin. */
	{
		struct ds_tokenserver_config cfg = { .url = g_url, .expiry_margin_s = 600,
						     .mono_ms = fake_mono, .wall_ms = fake_wall };
		assert_int_equal(control("config", "{\"duration\": 3600}"), 200);
		assert_int_equal(ds_tokenserver_new(&cfg, &ts), 0);
		assert_int_equal(get(ts, bearer, kid, &res), 0);
		g_mono += (3600 - 600) * 1000 - 1;
		assert_int_equal(get(ts, bearer, kid, &res), 0);
		assert_true(res.from_cache);
		g_mono += 1;
		assert_int_equal(get(ts, bearer, kid, &res), 0);
		assert_false(res.from_cache);
		assert_int_equal(token_requests(), 6);
	}
	ds_free(bearer);
	ds_tokenserver_free(ts);
}

/* A new key id (new keys) or an invalidation (the storage node said 401) refetches. */
static void test_new_kid_and_invalidate_refetch(void **state)
{
	struct ds_tokenserver *ts = new_client(NULL);
	struct ds_tokenserver_result res;
	char kid1[64], kid2[64];
	char *b1 = mint("refetch0001", 1000, NULL), *b2 = mint("refetch0001", 2000, NULL);
	DS_UNUSED(state);

	make_kid(1000, 0x44, kid1, NULL);
	make_kid(2000, 0x45, kid2, NULL);
	assert_int_equal(get(ts, b1, kid1, &res), 0);
	assert_int_equal(get(ts, b1, kid1, &res), 0);
	assert_true(res.from_cache);
	ds_tokenserver_invalidate(ts);
	assert_int_equal(get(ts, b1, kid1, &res), 0);
	assert_false(res.from_cache);
	assert_int_equal(token_requests(), 2);
	/* New keys: a new client state with a later keys_changed_at makes a new user record
	 * (handlers.rs update_user), i.e. a new uid and endpoint. */
	assert_int_equal(get(ts, b2, kid2, &res), 0);
	assert_false(res.from_cache);
	assert_int_equal(token_requests(), 3);
	assert_int_equal(res.token->uid, 2);
	assert_true(res.node_reassigned);
	ds_free(b1);
	ds_free(b2);
	ds_tokenserver_free(ts);
}

static void expect_state(struct ds_tokenserver *ts, const char *bearer, const char *kid,
			 const char *client_state, enum ds_tokenserver_state want, int want_rc,
			 int want_http, const char *want_status, enum ds_tokenserver_action act)
{
	struct ds_tokenserver_auth a = { .access_token = bearer, .key_id = kid,
					 .client_state = client_state };
	struct ds_tokenserver_result res;

	assert_int_equal(ds_tokenserver_get(ts, g_http, &a, &res), want_rc);
	assert_string_equal(ds_tokenserver_state_name(res.state), ds_tokenserver_state_name(want));
	assert_int_equal(res.http_status, want_http);
	if (want_status)
		assert_string_equal(res.server_status, want_status);
	if (want == DS_TOKENSERVER_OK)
		assert_non_null(res.token);
	else
		assert_null(res.token);
	assert_int_equal(ds_tokenserver_action(res.state), act);
}

#define EXPECT_401(ts, b, kid, cs, st, name, act)                                                \
	expect_state(ts, b, kid, cs, st, -EACCES, 401, name, act)

/* 401 invalid-credentials: whatever is wrong with the access token (tokenserver-auth). */
static void test_invalid_credentials(void **state)
{
	struct ds_tokenserver *ts = new_client(NULL);
	char kid[64];
	char *good = mint("creds0001", 1000, NULL);
	char *expired = mint("creds0001", 1000, "--ttl -60");
	char *scope = mint("creds0001", 1000, "--scope profile");
	char *typ = mint("creds0001", 1000, "--typ JWT");
	char *tampered = ds_strdup(good);
	DS_UNUSED(state);

	/* Flip a character of the signature. */
	tampered[strlen(tampered) - 5] = tampered[strlen(tampered) - 5] == 'A' ? 'B' : 'A';
	make_kid(1000, 0x51, kid, NULL);
	EXPECT_401(ts, expired, kid, NULL, DS_TOKENSERVER_INVALID_CREDENTIALS, "invalid-credentials",
		   DS_TOKENSERVER_ACT_REFRESH_AUTH);
	EXPECT_401(ts, scope, kid, NULL, DS_TOKENSERVER_INVALID_CREDENTIALS, "invalid-credentials",
		   DS_TOKENSERVER_ACT_REFRESH_AUTH);
	EXPECT_401(ts, typ, kid, NULL, DS_TOKENSERVER_INVALID_CREDENTIALS, "invalid-credentials",
		   DS_TOKENSERVER_ACT_REFRESH_AUTH);
	EXPECT_401(ts, tampered, kid, NULL, DS_TOKENSERVER_INVALID_CREDENTIALS,
		   "invalid-credentials", DS_TOKENSERVER_ACT_REFRESH_AUTH);
	/* A malformed kid is invalid-credentials too (extractors.rs KeyId). */
	EXPECT_401(ts, good, "1000", NULL, DS_TOKENSERVER_INVALID_CREDENTIALS, "invalid-credentials",
		   DS_TOKENSERVER_ACT_REFRESH_AUTH);
	/* And the good one works. */
	expect_state(ts, good, kid, NULL, DS_TOKENSERVER_OK, 0, 200, "", DS_TOKENSERVER_ACT_NONE);
	ds_free(good);
	ds_free(expired);
	ds_free(scope);
	ds_free(typ);
	ds_free(tampered);
	ds_tokenserver_free(ts);
}

/* Put the first key pair's JWKS back, whatever the rotation test left. */
static int restore_jwks(void **state)
{
	char cur[700], keep[700];
	DS_UNUSED(state);

	snprintf(cur, sizeof(cur), "%s/jwks.json", g_tmp);
	snprintf(keep, sizeof(keep), "%s/jwks1.json", g_tmp);
	if (access(keep, F_OK) == 0 && rename(keep, cur) != 0)
		return -1;
	return 0;
}

/* The FxA server's key rotation: a JWKS file rewritten while the server runs. */
static void test_jwks_rotation(void **state)
{
	struct ds_tokenserver *ts = new_client(NULL);
	char kid[64], *old, *fresh;
	DS_UNUSED(state);

	char cur[700], next[700], keep[700];

	snprintf(cur, sizeof(cur), "%s/jwks.json", g_tmp);
	snprintf(next, sizeof(next), "%s/jwks2.json", g_tmp);
	snprintf(keep, sizeof(keep), "%s/jwks1.json", g_tmp);
	make_kid(1000, 0x52, kid, NULL);
	old = mint("rotate0001", 1000, NULL);
	assert_int_equal(jwt_tool("genkey --private key2.pem --jwks jwks2.json --kid second", NULL, 0),
			 0);
	fresh = mint_with("key2.pem", "rotate0001", 1000, "--kid second");
	/* Signed by a key the server does not know yet. */
	EXPECT_401(ts, fresh, kid, NULL, DS_TOKENSERVER_INVALID_CREDENTIALS, "invalid-credentials",
		   DS_TOKENSERVER_ACT_REFRESH_AUTH);
	/* The JWKS file is replaced (atomically, as a writer should): the new key counts, the
	 * old one no longer does. */
	assert_int_equal(link(cur, keep), 0);
	assert_int_equal(rename(next, cur), 0);
	expect_state(ts, fresh, kid, NULL, DS_TOKENSERVER_OK, 0, 200, "", DS_TOKENSERVER_ACT_NONE);
	ds_tokenserver_invalidate(ts);
	EXPECT_401(ts, old, kid, NULL, DS_TOKENSERVER_INVALID_CREDENTIALS, "invalid-credentials",
		   DS_TOKENSERVER_ACT_REFRESH_AUTH);
	assert_int_equal(restore_jwks(NULL), 0);
	ds_tokenserver_invalidate(ts);
	expect_state(ts, old, kid, NULL, DS_TOKENSERVER_OK, 0, 200, "", DS_TOKENSERVER_ACT_NONE);
	ds_free(old);
	ds_free(fresh);
	ds_tokenserver_free(ts);
}

static void test_invalid_generation(void **state)
{
	struct ds_tokenserver *ts = new_client(NULL);
	char kid[64];
	char *newer = mint("gen0001", 2000, NULL), *older = mint("gen0001", 1500, NULL);
	DS_UNUSED(state);

	make_kid(1000, 0x61, kid, NULL);
	expect_state(ts, newer, kid, NULL, DS_TOKENSERVER_OK, 0, 200, "", DS_TOKENSERVER_ACT_NONE);
	ds_tokenserver_invalidate(ts);
	EXPECT_401(ts, older, kid, NULL, DS_TOKENSERVER_INVALID_GENERATION, "invalid-generation",
		   DS_TOKENSERVER_ACT_REAUTH);
	ds_free(newer);
	ds_free(older);
	ds_tokenserver_free(ts);
}

static void test_invalid_keys_changed_at(void **state)
{
	struct ds_tokenserver *ts = new_client(NULL);
	char kid[64], back[64], ahead[64];
	char *b = mint("kca0001", 2000, NULL);
	DS_UNUSED(state);

	make_kid(1500, 0x71, kid, NULL);
	make_kid(1400, 0x71, back, NULL);  /* went backwards */
	make_kid(2500, 0x71, ahead, NULL); /* later than the generation */
	expect_state(ts, b, kid, NULL, DS_TOKENSERVER_OK, 0, 200, "", DS_TOKENSERVER_ACT_NONE);
	ds_tokenserver_invalidate(ts);
	EXPECT_401(ts, b, back, NULL, DS_TOKENSERVER_INVALID_KEYS_CHANGED_AT, "invalid-keysChangedAt",
		   DS_TOKENSERVER_ACT_REAUTH);
	EXPECT_401(ts, b, ahead, NULL, DS_TOKENSERVER_INVALID_KEYS_CHANGED_AT,
		   "invalid-keysChangedAt", DS_TOKENSERVER_ACT_REAUTH);
	/* "0" means no keys_changed_at: refused once one was seen. */
	make_kid(0, 0x71, back, NULL);
	EXPECT_401(ts, b, back, NULL, DS_TOKENSERVER_INVALID_KEYS_CHANGED_AT,
		   "invalid-keysChangedAt", DS_TOKENSERVER_ACT_REAUTH);
	ds_free(b);
	ds_tokenserver_free(ts);
}

static void test_invalid_client_state(void **state)
{
	struct ds_tokenserver *ts = new_client(NULL);
	char kid_a[64], kid_b[64], kid_a_again[64], kid_c[64], hex_c[40];
	char *b1 = mint("cs0001", 1000, NULL), *b2 = mint("cs0001", 2000, NULL);
	char *b3 = mint("cs0001", 3000, NULL);
	DS_UNUSED(state);

	make_kid(1000, 0x81, kid_a, NULL);
	make_kid(2000, 0x82, kid_b, NULL);
	make_kid(3000, 0x81, kid_a_again, NULL);
	make_kid(1000, 0x83, kid_c, hex_c);
	expect_state(ts, b1, kid_a, NULL, DS_TOKENSERVER_OK, 0, 200, "", DS_TOKENSERVER_ACT_NONE);
	ds_tokenserver_invalidate(ts);
	/* X-Client-State must match the kid. */
	EXPECT_401(ts, b1, kid_a, hex_c, DS_TOKENSERVER_INVALID_CLIENT_STATE,
		   "invalid-client-state", DS_TOKENSERVER_ACT_REAUTH);
	/* A new client state without a keys_changed_at bump. */
	EXPECT_401(ts, b2, kid_c, NULL, DS_TOKENSERVER_INVALID_CLIENT_STATE, "invalid-client-state",
		   DS_TOKENSERVER_ACT_REAUTH);
	/* A proper key change is accepted ... */
	expect_state(ts, b2, kid_b, NULL, DS_TOKENSERVER_OK, 0, 200, "", DS_TOKENSERVER_ACT_NONE);
	ds_tokenserver_invalidate(ts);
	/* ... and the old client state is never accepted again. */
	EXPECT_401(ts, b3, kid_a_again, NULL, DS_TOKENSERVER_INVALID_CLIENT_STATE,
		   "invalid-client-state", DS_TOKENSERVER_ACT_REAUTH);
	ds_free(b1);
	ds_free(b2);
	ds_free(b3);
	ds_tokenserver_free(ts);
}

static void test_invalid_key_id(void **state)
{
	struct ds_tokenserver *ts = new_client(NULL);
	struct ds_tokenserver_result res;
	char kid[64];
	char *b = mint("keyid0001", 1000, NULL);
	DS_UNUSED(state);

	make_kid(1000, 0x91, kid, NULL);
	/* Our client always sends X-KeyID (none: -EINVAL, no request) ... */
	assert_int_equal(get(ts, b, NULL, &res), -EINVAL);
	assert_int_equal(get(ts, b, "", &res), -EINVAL);
	assert_int_equal(get(ts, NULL, kid, &res), -EINVAL);
	assert_int_equal(token_requests(), 0);
	/* ... so the server's answer to a missing one is injected. */
	assert_int_equal(control("config", "{\"fail\": {\"status\": 401, "
					   "\"status_string\": \"invalid-key-id\"}}"),
			 200);
	EXPECT_401(ts, b, kid, NULL, DS_TOKENSERVER_INVALID_KEY_ID, "invalid-key-id",
		   DS_TOKENSERVER_ACT_REAUTH);
	ds_free(b);
	ds_tokenserver_free(ts);
}

static void test_new_users_disabled(void **state)
{
	struct ds_tokenserver *ts = new_client(NULL);
	char kid[64];
	char *b = mint("newuser0001", 1000, NULL);
	DS_UNUSED(state);

	make_kid(1000, 0xa1, kid, NULL);
	assert_int_equal(control("config", "{\"allow_new_users\": false}"), 200);
	/* 403 from syncstorage-rs ... */
	expect_state(ts, b, kid, NULL, DS_TOKENSERVER_NEW_USERS_DISABLED, -EPERM, 403,
		     "new-users-disabled", DS_TOKENSERVER_ACT_STOP);
	/* ... 401 from the Python tokenserver: the status string decides. */
	assert_int_equal(control("config", "{\"new_users_status\": 401}"), 200);
	expect_state(ts, b, kid, NULL, DS_TOKENSERVER_NEW_USERS_DISABLED, -EPERM, 401,
		     "new-users-disabled", DS_TOKENSERVER_ACT_STOP);
	ds_free(b);
	ds_tokenserver_free(ts);
}

static void test_server_errors(void **state)
{
	struct ds_tokenserver *ts = new_client(NULL);
	struct ds_tokenserver *wrong;
	char kid[64], url[256];
	char *b = mint("err0001", 1000, NULL);
	DS_UNUSED(state);

	make_kid(1000, 0xb1, kid, NULL);
	assert_int_equal(control("config", "{\"fail\": {\"status\": 503}}"), 200);
	expect_state(ts, b, kid, NULL, DS_TOKENSERVER_UNAVAILABLE, -EIO, 503, "error",
		     DS_TOKENSERVER_ACT_RETRY_LATER);
	assert_int_equal(control("config", "{\"fail\": {\"status\": 500}}"), 200);
	expect_state(ts, b, kid, NULL, DS_TOKENSERVER_UNAVAILABLE, -EIO, 500, "internal-error",
		     DS_TOKENSERVER_ACT_RETRY_LATER);
	/* Unknown application/version: a wrong URL, retrying does not help. */
	snprintf(url, sizeof(url), "%s/1.0/sync/1.1/x", g_url);
	wrong = new_client(url);
	expect_state(wrong, b, kid, NULL, DS_TOKENSERVER_REJECTED, -ENOENT, 404, "error",
		     DS_TOKENSERVER_ACT_STOP);
	ds_tokenserver_free(wrong);
	/* Nothing listening. */
	wrong = new_client("http://127.0.0.1:1");
	expect_state(wrong, b, kid, NULL, DS_TOKENSERVER_NETWORK, -ECONNREFUSED, 0, "",
		     DS_TOKENSERVER_ACT_RETRY_LATER);
	ds_tokenserver_free(wrong);
	/* After all that, a normal request works. */
	expect_state(ts, b, kid, NULL, DS_TOKENSERVER_OK, 0, 200, "", DS_TOKENSERVER_ACT_NONE);
	ds_free(b);
	ds_tokenserver_free(ts);
}

/* A 200 that is not a token is refused, never half-used. */
static void test_bad_responses(void **state)
{
	static const char *const bodies[] = {
		"not json",
		"[]",
		"{\"key\": \"k\", \"uid\": 1, \"api_endpoint\": \"http://n/1.5/1\", \"duration\": 300}",
		"{\"id\": \"i\", \"uid\": 1, \"api_endpoint\": \"http://n/1.5/1\", \"duration\": 300}",
		"{\"id\": \"i\", \"key\": \"k\", \"uid\": 1, \"api_endpoint\": \"n/1.5/1\", "
		"\"duration\": 300}",
		"{\"id\": \"i\", \"key\": \"k\", \"uid\": 1, \"api_endpoint\": \"http://n/1.5/1\", "
		"\"duration\": 0}",
		"{\"id\": \"i\", \"key\": \"k\", \"uid\": 1.5, \"api_endpoint\": \"http://n/1.5/1\", "
		"\"duration\": 300}",
		"{\"id\": \"i\", \"key\": \"k\", \"uid\": \"1\", \"api_endpoint\": \"http://n/1.5/1\", "
		"\"duration\": 300}",
		"{\"id\": 5, \"key\": \"k\", \"uid\": 1, \"api_endpoint\": \"http://n/1.5/1\", "
		"\"duration\": 300}",
	};
	struct ds_tokenserver *ts = new_client(NULL);
	struct ds_tokenserver_result res;
	char kid[64], cfg[512];
	char *b = mint("bad0001", 1000, NULL);
	cJSON *o;
	DS_UNUSED(state);

	make_kid(1000, 0xc1, kid, NULL);
	for (size_t i = 0; i < DS_ARRAY_SIZE(bodies); i++) {
		char *json;
		o = cJSON_CreateObject();
		cJSON *raw = cJSON_AddObjectToObject(o, "raw");
		cJSON_AddNumberToObject(raw, "status", 200);
		cJSON_AddStringToObject(raw, "body", bodies[i]);
		json = cJSON_PrintUnformatted(o);
		snprintf(cfg, sizeof(cfg), "%s", json);
		cJSON_free(json);
		cJSON_Delete(o);
		assert_int_equal(control("config", cfg), 200);
		expect_state(ts, b, kid, NULL, DS_TOKENSERVER_BAD_RESPONSE, -EPROTO, 200, NULL,
			     DS_TOKENSERVER_ACT_RETRY_LATER);
		assert_null(ds_tokenserver_known_endpoint(ts));
	}
	/* The minimal valid body (no hashed_fxa_uid, node_type) is taken. */
	assert_int_equal(control("config", "{\"raw\": {\"status\": 200, \"body\": \"{\\\"id\\\": "
					   "\\\"i\\\", \\\"key\\\": \\\"k\\\", \\\"uid\\\": 7, "
					   "\\\"api_endpoint\\\": \\\"http://n/1.5/7/\\\", "
					   "\\\"duration\\\": 300}\"}}"),
			 200);
	assert_int_equal(get(ts, b, kid, &res), 0);
	assert_int_equal(res.token->uid, 7);
	assert_string_equal(res.token->api_endpoint, "http://n/1.5/7"); /* trailing '/' dropped */
	assert_null(res.token->hashed_fxa_uid);
	assert_null(res.token->node_type);
	ds_free(b);
	ds_tokenserver_free(ts);
}

/* 503 + Retry-After: a hard backoff, honoured without asking the server again. */
static void test_retry_after(void **state)
{
	struct ds_tokenserver *ts = new_client(NULL);
	struct ds_tokenserver_result res;
	char kid[64];
	char *b = mint("retry0001", 1000, NULL);
	DS_UNUSED(state);

	make_kid(1000, 0xd1, kid, NULL);
	assert_int_equal(control("config", "{\"fail\": {\"status\": 503, \"retry_after\": 30}}"), 200);
	assert_int_equal(get(ts, b, kid, &res), -EAGAIN);
	assert_int_equal(res.state, DS_TOKENSERVER_BACKOFF);
	assert_int_equal(res.http_status, 503);
	assert_int_equal(res.retry_after_s, 30);
	assert_int_equal(ds_tokenserver_action(res.state), DS_TOKENSERVER_ACT_RETRY_LATER);
	assert_int_equal(token_requests(), 1);

	g_mono += 10 * 1000;
	assert_int_equal(get(ts, b, kid, &res), -EAGAIN);
	assert_int_equal(res.state, DS_TOKENSERVER_BACKOFF);
	assert_int_equal(res.http_status, 0);
	assert_int_equal(res.retry_after_s, 20);
	assert_int_equal(token_requests(), 1); /* not asked */

	g_mono += 20 * 1000;
	assert_int_equal(get(ts, b, kid, &res), 0);
	assert_int_equal(token_requests(), 2);

	/* An unreadable Retry-After still backs off (application-services: 10 s). */
	ds_tokenserver_invalidate(ts);
	assert_int_equal(control("config", "{\"fail\": {\"status\": 503, \"retry_after\": \"soon\"}}"),
			 200);
	assert_int_equal(get(ts, b, kid, &res), -EAGAIN);
	assert_int_equal(res.retry_after_s, 10);
	/* Retry-After on a 429 too. */
	g_mono += 10 * 1000;
	assert_int_equal(control("config", "{\"fail\": {\"status\": 429, \"retry_after\": 5}}"), 200);
	assert_int_equal(get(ts, b, kid, &res), -EAGAIN);
	assert_int_equal(res.http_status, 429);
	assert_int_equal(res.retry_after_s, 5);
	ds_free(b);
	ds_tokenserver_free(ts);
}

/* X-Backoff: a soft backoff reported with any response, the token still given. */
static void test_x_backoff(void **state)
{
	struct ds_tokenserver *ts = new_client(NULL);
	struct ds_tokenserver_result res;
	char kid[64];
	char *b = mint("backoff0001", 1000, NULL);
	DS_UNUSED(state);

	make_kid(1000, 0xe1, kid, NULL);
	assert_int_equal(control("config", "{\"backoff\": \"120\"}"), 200);
	assert_int_equal(get(ts, b, kid, &res), 0);
	assert_int_equal(res.backoff_s, 120);
	assert_int_equal(res.retry_after_s, 0);
	assert_non_null(res.token);
	/* Soft: the next fetch is not blocked by it. */
	ds_tokenserver_invalidate(ts);
	assert_int_equal(control("config", "{\"backoff\": \"2.5\", \"fail\": {\"status\": 401, "
					   "\"status_string\": \"invalid-credentials\"}}"),
			 200);
	assert_int_equal(get(ts, b, kid, &res), -EACCES);
	assert_int_equal(res.backoff_s, 3); /* fractions round up */
	assert_int_equal(control("config", "{\"backoff\": null}"), 200);
	assert_int_equal(get(ts, b, kid, &res), 0);
	assert_int_equal(res.backoff_s, 0);
	ds_free(b);
	ds_tokenserver_free(ts);
}

static void test_node_reassignment(void **state)
{
	struct ds_tokenserver *ts = new_client(NULL);
	struct ds_tokenserver_result res;
	char kid[64];
	char *b = mint("node0001", 1000, NULL);
	DS_UNUSED(state);

	make_kid(1000, 0xf1, kid, NULL);
	assert_int_equal(get(ts, b, kid, &res), 0);
	assert_false(res.node_reassigned);
	assert_string_equal(res.token->api_endpoint, NODE1 "/1.5/1");
	/* Same endpoint again: not a reassignment. */
	ds_tokenserver_invalidate(ts);
	assert_int_equal(get(ts, b, kid, &res), 0);
	assert_false(res.node_reassigned);
	/* The user moves to another node. */
	assert_int_equal(control("config", "{\"node\": \"" NODE2 "\"}"), 200);
	ds_tokenserver_invalidate(ts);
	assert_int_equal(get(ts, b, kid, &res), 0);
	assert_true(res.node_reassigned);
	assert_string_equal(res.token->api_endpoint, NODE2 "/1.5/1");
	assert_string_equal(ds_tokenserver_known_endpoint(ts), NODE2 "/1.5/1");
	/* A cached token is no news. */
	assert_int_equal(get(ts, b, kid, &res), 0);
	assert_true(res.from_cache);
	assert_false(res.node_reassigned);
	ds_tokenserver_free(ts);

	/* After a restart, the endpoint the last sync used is handed in. */
	ts = new_client(NULL);
	assert_int_equal(ds_tokenserver_set_known_endpoint(ts, NODE2 "/1.5/1"), 0);
	assert_int_equal(get(ts, b, kid, &res), 0);
	assert_false(res.node_reassigned);
	ds_tokenserver_free(ts);
	ts = new_client(NULL);
	assert_int_equal(ds_tokenserver_set_known_endpoint(ts, NODE1 "/1.5/1"), 0);
	assert_int_equal(get(ts, b, kid, &res), 0);
	assert_true(res.node_reassigned);
	ds_free(b);
	ds_tokenserver_free(ts);
}

static void test_skew_from_x_timestamp(void **state)
{
	struct ds_tokenserver *ts = new_client(NULL);
	struct ds_tokenserver_result res;
	char kid[64];
	char *b = mint("skew0001", 1000, NULL), *stale = mint("skew0001", 500, NULL);
	DS_UNUSED(state);

	make_kid(1000, 0x12, kid, NULL);
	assert_false(ds_tokenserver_has_skew(ts));
	assert_int_equal(ds_tokenserver_skew_ms(ts), 0);
	/* Our clock is 1000.4 s behind the server. */
	assert_int_equal(control("config", "{\"timestamp\": 2000000000}"), 200);
	g_wall = INT64_C(1999998999600);
	assert_int_equal(get(ts, b, kid, &res), 0);
	assert_true(ds_tokenserver_has_skew(ts));
	assert_int_equal(ds_tokenserver_skew_ms(ts), 1000400);
	assert_int_equal(ds_tokenserver_skew_s(ts), 1000);
	/* A cached token: no response, no change. */
	g_wall += 5000;
	assert_int_equal(get(ts, b, kid, &res), 0);
	assert_int_equal(ds_tokenserver_skew_ms(ts), 1000400);
	/* 401s carry X-Timestamp too; our clock now runs 7 s ahead. */
	ds_tokenserver_invalidate(ts);
	g_wall = INT64_C(2000000107000);
	assert_int_equal(control("config", "{\"timestamp\": 2000000100}"), 200);
	assert_int_equal(get(ts, stale, kid, &res), -EACCES);
	assert_int_equal(ds_tokenserver_skew_ms(ts), -7000);
	assert_int_equal(ds_tokenserver_skew_s(ts), -7);
	/* Nonsense (decades away) is ignored. */
	assert_int_equal(control("config", "{\"timestamp\": 1000}"), 200);
	assert_int_equal(get(ts, b, kid, &res), 0);
	assert_int_equal(ds_tokenserver_skew_ms(ts), -7000);
	ds_free(b);
	ds_free(stale);
	ds_tokenserver_free(ts);
}

static void test_state_names_and_actions(void **state)
{
	DS_UNUSED(state);
	assert_string_equal(ds_tokenserver_state_name(DS_TOKENSERVER_OK), "ok");
	assert_string_equal(ds_tokenserver_state_name(DS_TOKENSERVER_INVALID_KEYS_CHANGED_AT),
			    "invalid-keysChangedAt");
	assert_string_equal(ds_tokenserver_state_name((enum ds_tokenserver_state)99), "?");
	assert_int_equal(ds_tokenserver_action(DS_TOKENSERVER_NETWORK), DS_TOKENSERVER_ACT_RETRY_LATER);
	assert_int_equal(ds_tokenserver_action(DS_TOKENSERVER_BAD_RESPONSE),
			 DS_TOKENSERVER_ACT_RETRY_LATER);
	assert_int_equal(ds_tokenserver_action(DS_TOKENSERVER_UNAVAILABLE),
			 DS_TOKENSERVER_ACT_RETRY_LATER);
	assert_int_equal(ds_tokenserver_action((enum ds_tokenserver_state)99),
			 DS_TOKENSERVER_ACT_STOP);
}

/* Every allocation of a fetch may fail: an error comes back, nothing leaks, nothing stays. */
static void test_allocation_failures(void **state)
{
	struct ds_tokenserver *ts = new_client(NULL);
	struct ds_tokenserver_result res;
	char kid[64];
	char *b = mint("alloc0001", 1000, NULL);
	unsigned long n;
	DS_UNUSED(state);

	make_kid(1000, 0x13, kid, NULL);
	ds_alloc_fail_after(0);
	assert_int_equal(get(ts, b, kid, &res), 0);
	n = ds_alloc_fail_after(0);
	assert_true(n > 3);
	for (unsigned long i = 1; i <= n; i++) {
		int rc;
		ds_tokenserver_invalidate(ts);
		ds_alloc_fail_after(i);
		rc = get(ts, b, kid, &res);
		ds_alloc_fail_after(0);
		if (rc == 0) {
			assert_non_null(res.token);
		} else {
			assert_null(res.token);
			assert_true(rc == -ENOMEM || rc == -EIO || rc == -EPROTO);
		}
	}
	ds_tokenserver_invalidate(ts);
	assert_int_equal(get(ts, b, kid, &res), 0);
	ds_free(b);
	ds_tokenserver_free(ts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_mints_tokenlib_vector),
		cmocka_unit_test(test_url_fixup),
		cmocka_unit_test(test_state_names_and_actions),
		cmocka_unit_test_setup(test_success, reset_server),
		cmocka_unit_test_setup(test_second_call_uses_cache, reset_server),
		cmocka_unit_test_setup(test_expiry_refetch, reset_server),
		cmocka_unit_test_setup(test_new_kid_and_invalidate_refetch, reset_server),
		cmocka_unit_test_setup(test_invalid_credentials, reset_server),
		cmocka_unit_test_setup_teardown(test_jwks_rotation, reset_server, restore_jwks),
		cmocka_unit_test_setup(test_invalid_generation, reset_server),
		cmocka_unit_test_setup(test_invalid_keys_changed_at, reset_server),
		cmocka_unit_test_setup(test_invalid_client_state, reset_server),
		cmocka_unit_test_setup(test_invalid_key_id, reset_server),
		cmocka_unit_test_setup(test_new_users_disabled, reset_server),
		cmocka_unit_test_setup(test_server_errors, reset_server),
		cmocka_unit_test_setup(test_bad_responses, reset_server),
		cmocka_unit_test_setup(test_retry_after, reset_server),
		cmocka_unit_test_setup(test_x_backoff, reset_server),
		cmocka_unit_test_setup(test_node_reassignment, reset_server),
		cmocka_unit_test_setup(test_skew_from_x_timestamp, reset_server),
		cmocka_unit_test_setup(test_allocation_failures, reset_server),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
