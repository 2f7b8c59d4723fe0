/*
 * The sync15 remote over real HTTP against the Sync 1.5 storage test server
 * (test/servers/syncstorage/server.py: Hawk with tokenlib tokens, nonce and skew checks, batches,
 * limits, test controls; docs/test-servers.md). Tokens are minted by the server's
 * /__testing__/token control, so no FxA or tokenserver is needed here.
 *
 * Two agents on a fresh account, batch sizing under small limits counted by the server, a
 * concurrent write during the upload (412), a hard end-of-life, and paging with opaque offsets.
 * Skipped (exit 77 semantics: every test skips) when the test servers' venv cannot be made.
 */
#include "core/ds_core.h"
#include "net/ds_http.h"
#include "remote/sync15/ds_sync15.h"
#include "store/ds_store.h"
#include "sync/ds_sync.h"
#include "test/support/fake_engine.h"
#include "test/support/fake_remote.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET "sync15-server-test-secret"
#define COLL "dstest"

static const uint8_t KSYNC[64] = { 7, 7, 7, [32] = 9, [63] = 1 };
static char g_src[512], g_tmp[600], g_py[1024], g_url[128];
static pid_t g_pid = -1;
static int g_in_fd = -1;
static bool g_skip;
static struct ds_http_client *g_http;
static unsigned g_uid = 100, g_seq;

/* ---- the server ----------------------------------------------------------------------------- */

static int has_script(const char *dir)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/test/servers/syncstorage/server.py", dir);
	return access(p, R_OK) == 0;
}

static int find_src(void)
{
	const char *e = getenv("DS_SRC");
	char exe[512];
	ssize_t n;

	if (e && *e && has_script(e)) {
		snprintf(g_src, sizeof(g_src), "%s", e);
		return 0;
	}
	if (has_script(".") && getcwd(g_src, sizeof(g_src)))
		return 0;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	for (char *s; (s = strrchr(exe, '/')) != NULL && s != exe;) {
		*s = '\0';
		if (has_script(exe)) {
			snprintf(g_src, sizeof(g_src), "%s", exe);
			return 0;
		}
	}
	return -1;
}

static int venv(void)
{
	const char *v = getenv("DS_PYENV");
	char cmd[2048], line[1024];
	FILE *f;
	int st;

	snprintf(cmd, sizeof(cmd), "'%s/test/servers/setup-venv.sh' %s%s%s", g_src, v && *v ? "'" : "",
		 v && *v ? v : "", v && *v ? "'" : "");
	f = popen(cmd, "r");
	if (!f)
		return -1;
	g_py[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0])
			snprintf(g_py, sizeof(g_py), "%s", line);
	}
	st = pclose(f);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 && access(g_py, X_OK) == 0 ? 0 : -1;
}

static int start_server(void)
{
	int out[2], in[2], port;
	char script[1024], line[64];
	size_t n = 0;

	snprintf(script, sizeof(script), "%s/test/servers/syncstorage/server.py", g_src);
	if (pipe(out) || pipe(in))
		return -1;
	g_pid = fork();
	if (g_pid < 0)
		return -1;
	if (g_pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]), close(in[1]), close(out[0]), close(out[1]);
		execl(g_py, g_py, script, "--secret", SECRET, "--data-dir", ":memory:", "--exit-on-eof",
		      (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	g_in_fd = in[1];
	fcntl(g_in_fd, F_SETFD, FD_CLOEXEC);
	while (n + 1 < sizeof(line) && read(out[0], line + n, 1) == 1 && line[n] != '\n')
		n++;
	line[n] = '\0';
	close(out[0]);
	if (sscanf(line, "PORT %d", &port) != 1)
		return -1;
	snprintf(g_url, sizeof(g_url), "http://127.0.0.1:%d", port);
	return 0;
}

static int group_setup(void **state)
{
	const char *t = getenv("DS_TEST_TMP");
	struct ds_http_config hc = { .timeout_s = 20 };

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	if (t && *t) {
		snprintf(g_tmp, sizeof(g_tmp), "%s/sync15", t);
		mkdir(g_tmp, 0700);
	} else {
		const char *b = getenv("TMPDIR");
		snprintf(g_tmp, sizeof(g_tmp), "%s/ds-s15srv-XXXXXX", b && *b ? b : P_tmpdir);
		if (!mkdtemp(g_tmp))
			return -1;
	}
	if (find_src() || venv() || start_server()) {
		fprintf(stderr, "sync15_server_test: the storage test server is not available "
				"(test/servers/setup-venv.sh needs python3-venv and PyPI); skipping\n");
		g_skip = true;
		return 0;
	}
	return ds_http_client_new(&hc, &g_http) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	ds_http_client_free(g_http);
	if (g_pid > 0) {
		close(g_in_fd);
		kill(g_pid, SIGTERM);
		waitpid(g_pid, NULL, 0);
	}
	return 0;
}

/* A test control request; returns the status, the body in *out when asked. */
static int control(const char *method, const char *path, const char *json, cJSON **out)
{
	struct ds_http_header h[] = { { "Content-Type", "application/json" } };
	struct ds_http_request req = { .method = method, .headers = h, .n_headers = 1 };
	struct ds_http_response resp;
	char url[512];
	int status;

	snprintf(url, sizeof(url), "%s/__testing__/%s", g_url, path);
	req.url = url;
	req.body = json;
	req.body_len = json ? strlen(json) : 0;
	assert_int_equal(ds_http_perform(g_http, &req, &resp), 0);
	status = resp.status;
	if (out)
		*out = cJSON_Parse(resp.body ? resp.body : "");
	ds_http_response_free(&resp);
	return status;
}

/* ---- the account: tokens minted by the server for one uid ------------------------------------ */

struct acct {
	unsigned uid;
	char error[64];
};

static int acct_token(void *ctx, bool fresh, struct ds_sync15_creds *out)
{
	struct acct *a = ctx;
	char body[256];
	cJSON *o;

	(void)fresh;
	memset(out, 0, sizeof(*out));
	snprintf(body, sizeof(body), "{\"uid\":%u,\"node\":\"%s\"}", a->uid, g_url);
	if (control("POST", "token", body, &o) != 200)
		return -EIO;
	snprintf(out->endpoint, sizeof(out->endpoint), "%s",
		 cJSON_GetStringValue(cJSON_GetObjectItem(o, "api_endpoint")));
	snprintf(out->hawk_id, sizeof(out->hawk_id), "%s", cJSON_GetStringValue(cJSON_GetObjectItem(o, "id")));
	snprintf(out->hawk_key, sizeof(out->hawk_key), "%s",
		 cJSON_GetStringValue(cJSON_GetObjectItem(o, "key")));
	cJSON_Delete(o);
	return 0;
}

static int acct_ksync(void *ctx, uint8_t out[64])
{
	(void)ctx;
	memcpy(out, KSYNC, 64);
	return 0;
}

static const struct ds_sync15_auth_ops acct_ops = { acct_token, acct_ksync, NULL };

/* ---- devices -------------------------------------------------------------------------------- */

struct dev {
	struct ds_store *store;
	struct ds_collection *c;
	struct ds_engine *e;
	struct ds_remote *r;
	struct ds_sync15_global g;
	char path[700];
};

static void dev_open(struct dev *d, struct acct *a, unsigned page)
{
	struct ds_sync15_remote_config rc = { .collection = COLL, .engine_version = 1,
					      .page_records = page };
	struct ds_policy p = { .max_retries = 3 };

	memset(d, 0, sizeof(*d));
	snprintf(d->path, sizeof(d->path), "%s/dev-%u.db", g_tmp, ++g_seq);
	assert_int_equal(ds_store_open(d->path, &d->store), 0);
	assert_int_equal(ds_fake_engine_new(false, &d->e), 0);
	rc.auth = (struct ds_sync15_auth){ &acct_ops, a };
	rc.global = &d->g;
	assert_int_equal(ds_sync15_remote_new(&rc, &d->r), 0);
	assert_int_equal(ds_fake_collection_new(COLL, d->e, d->r, NULL, &p, &d->c), 0);
}

static void dev_close(struct dev *d)
{
	ds_fake_collection_free(d->c);
	ds_store_close(d->store);
	ds_sync15_global_clear(&d->g);
	unlink(d->path);
}

static int dev_sync(struct dev *d, struct ds_run_stats *st)
{
	struct ds_run_stats local;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	return ds_sync_run(d->c, d->store, st, NULL, NULL);
}

static void sync_ok(struct dev *d)
{
	struct ds_run_stats st;
	int rc = dev_sync(d, &st);

	if (rc)
		fail_msg("run failed: %d %s / %s", rc, st.message, ds_sync15_remote_error(d->r));
}

static void put_n(struct dev *d, const char *prefix, int n)
{
	for (int i = 0; i < n; i++) {
		char id[32], p[96];
		snprintf(id, sizeof(id), "%s%03d", prefix, i);
		snprintf(p, sizeof(p), "{\"id\":\"%s\",\"n\":%d}", id, i);
		assert_int_equal(ds_fake_engine_put(d->e, id, p), 0);
	}
}

static long stat_of(const char *key)
{
	cJSON *o;
	const cJSON *v;
	long n;

	assert_int_equal(control("GET", "stats", NULL, &o), 200);
	v = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "by_endpoint"), key);
	n = cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
	cJSON_Delete(o);
	return n;
}

#define SKIP_IF_NO_SERVER() do { if (g_skip) skip(); } while (0)

/* Two agents on a fresh account: the first creates the Sync user (wipe, meta/global and
 * crypto/keys with X-If-Unmodified-Since: 0), the second reads what the first wrote. */
static void test_two_agents_on_real_server(void **state)
{
	struct acct a = { .uid = ++g_uid };
	struct dev d1, d2;

	(void)state;
	SKIP_IF_NO_SERVER();
	dev_open(&d1, &a, 0);
	put_n(&d1, "rec", 30);
	assert_int_equal(ds_fake_engine_put(d1.e, "{5d7c9e3a-0b1f}", "{\"id\":\"{5d7c9e3a-0b1f}\"}"), 0);
	sync_ok(&d1);
	dev_open(&d2, &a, 0);
	sync_ok(&d2);
	assert_int_equal(ds_fake_engine_rows(d2.e), 31);
	assert_true(ds_fake_engine_same_rows(d1.e, d2.e));
	assert_int_equal(ds_fake_engine_put(d2.e, "rec005", "{\"id\":\"rec005\",\"n\":\"edited\"}"), 0);
	sync_ok(&d2);
	sync_ok(&d1);
	assert_non_null(strstr(ds_fake_engine_payload(d1.e, "rec005"), "edited"));
	dev_close(&d1);
	dev_close(&d2);
}

/* Batch sizing under small limits: 25 records, 4 per POST, 10 per batch: 3 batches of
 * 3 + 3 + 2 POSTs, exactly the minimum. */
static void test_batch_sizing_on_real_server(void **state)
{
	struct acct a = { .uid = ++g_uid };
	struct dev d;

	(void)state;
	SKIP_IF_NO_SERVER();
	assert_int_equal(control("POST", "config",
				 "{\"limits\":{\"max_post_records\":4,\"max_total_records\":10}}",
				 NULL), 200);
	dev_open(&d, &a, 0);
	sync_ok(&d); /* setup only */
	assert_int_equal(control("POST", "stats/reset", "{}", NULL), 200);
	put_n(&d, "b", 25);
	sync_ok(&d);
	assert_int_equal(stat_of("POST storage/<coll>"), 8);
	assert_int_equal(ds_fake_engine_pending(d.e), 0);
	assert_int_equal(control("POST", "config", "{\"limits\":{\"max_post_records\":100,"
				 "\"max_total_records\":1000}}", NULL), 200);
	dev_close(&d);
}

/* AT-11 with the server's concurrent writer: 412, re-download, retry, both records kept. */
static void test_concurrent_write_412_on_real_server(void **state)
{
	struct acct a = { .uid = ++g_uid };
	struct dev d;
	char body[512];

	(void)state;
	SKIP_IF_NO_SERVER();
	dev_open(&d, &a, 0);
	sync_ok(&d);
	put_n(&d, "mine", 3);
	/* The intruder's payload is not ours to decrypt: it is counted, never applied. */
	snprintf(body, sizeof(body), "{\"uid\":%u,\"collection\":\"" COLL "\",\"id\":\"intruder\","
		 "\"payload\":\"{}\",\"method\":\"POST\"}", a.uid);
	assert_int_equal(control("POST", "concurrent-write", body, NULL), 200);
	struct ds_run_stats st;
	assert_int_equal(dev_sync(&d, &st), 0);
	assert_int_equal(st.uploaded, 3);
	assert_int_equal(st.errors, 1);
	assert_null(ds_fake_engine_payload(d.e, "intruder"));
	assert_int_equal(ds_fake_engine_pending(d.e), 0);
	dev_close(&d);
}

/* 513 with a hard-eol alert: the run stops with the server's reason. */
static void test_hard_eol_on_real_server(void **state)
{
	struct acct a = { .uid = ++g_uid };
	struct dev d;
	struct ds_run_stats st;

	(void)state;
	SKIP_IF_NO_SERVER();
	dev_open(&d, &a, 0);
	assert_int_equal(control("POST", "inject", "{\"status\":513,\"alert\":{\"code\":\"hard-eol\","
				 "\"message\":\"Sync is shutting down\",\"url\":\"https://example.org\"},"
				 "\"count\":1}", NULL), 200);
	assert_int_equal(dev_sync(&d, &st), -ENOTSUP);
	assert_non_null(strstr(ds_sync15_remote_error(d.r), "Sync is shutting down"));
	dev_close(&d);
}

/* Paging with the server's opaque offsets, X-If-Unmodified-Since on follow-ups. */
static void test_paging_on_real_server(void **state)
{
	struct acct a = { .uid = ++g_uid };
	struct dev d1, d2;

	(void)state;
	SKIP_IF_NO_SERVER();
	dev_open(&d1, &a, 0);
	put_n(&d1, "pg", 45);
	sync_ok(&d1);
	dev_open(&d2, &a, 10);
	assert_int_equal(control("POST", "stats/reset", "{}", NULL), 200);
	sync_ok(&d2);
	assert_int_equal(ds_fake_engine_rows(d2.e), 45);
	assert_int_equal(stat_of("GET storage/<coll>"), 5);
	dev_close(&d1);
	dev_close(&d2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_agents_on_real_server),
		cmocka_unit_test(test_batch_sizing_on_real_server),
		cmocka_unit_test(test_concurrent_write_412_on_real_server),
		cmocka_unit_test(test_hard_eol_on_real_server),
		cmocka_unit_test(test_paging_on_real_server),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
