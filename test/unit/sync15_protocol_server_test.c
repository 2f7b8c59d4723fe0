/*
 * The storage protocol pieces of ds_sync15_storage.h over real HTTP against the Sync 1.5 storage
 * test server (test/servers/syncstorage/server.py, an independent implementation of the API
 * document; docs/test-servers.md): info/quota and X-Weave-Quota-Remaining, 400/14 over quota,
 * DELETE ?ids= in requests of at most 100 ids (braced ids), X-If-Modified-Since on
 * info/collections, and history's first download limited to the newest records.
 * Every test skips when the test servers' venv cannot be made (test/servers/setup-venv.sh).
 */
#include "core/ds_core.h"
#include "net/ds_http.h"
#include "remote/sync15/ds_sync15.h"
#include "remote/sync15/ds_sync15_storage.h"
#include "remote/sync15/ds_sync15_stream.h"
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
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET "sync15-protocol-server-test"

static const uint8_t KSYNC[64] = { 3, 1, 4, 1, 5, [32] = 9, 2, 6, [63] = 5 };
static char g_url[128], g_tmp[600];
static pid_t g_pid = -1;
static int g_in_fd = -1;
static bool g_skip;
static struct ds_http_client *g_http;
static unsigned g_uid = 300;

#define SKIP_IF_NO_SERVER() do { if (g_skip) skip(); } while (0)

/* ---- the server ----------------------------------------------------------------------------- */

static int find_src(char *out, size_t cap)
{
	const char *e = getenv("DS_SRC");
	char exe[PATH_MAX], p[PATH_MAX + 64];
	ssize_t n;

	if (e && *e) {
		snprintf(out, cap, "%s", e);
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	for (char *s; (s = strrchr(exe, '/')) != NULL && s != exe;) {
		*s = '\0';
		snprintf(p, sizeof(p), "%s/test/servers/syncstorage/server.py", exe);
		if (access(p, R_OK) == 0) {
			snprintf(out, cap, "%s", exe);
			return 0;
		}
	}
	return -1;
}

static int venv(const char *src, char *py, size_t cap)
{
	const char *v = getenv("DS_PYENV");
	char cmd[2 * PATH_MAX], line[PATH_MAX];
	FILE *f;
	int st;

	snprintf(cmd, sizeof(cmd), "'%s/test/servers/setup-venv.sh' %s%s%s", src, v && *v ? "'" : "",
		 v && *v ? v : "", v && *v ? "'" : "");
	f = popen(cmd, "r");
	if (!f)
		return -1;
	py[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0])
			snprintf(py, cap, "%s", line);
	}
	st = pclose(f);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 && access(py, X_OK) == 0 ? 0 : -1;
}

static int start_server(const char *src, const char *py)
{
	int out[2], in[2], port;
	char script[PATH_MAX + 64], line[64];
	size_t n = 0;

	snprintf(script, sizeof(script), "%s/test/servers/syncstorage/server.py", src);
	if (pipe(out) || pipe(in))
		return -1;
	g_pid = fork();
	if (g_pid < 0)
		return -1;
	if (g_pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]), close(in[1]), close(out[0]), close(out[1]);
		execl(py, py, script, "--secret", SECRET, "--data-dir", ":memory:", "--exit-on-eof",
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
	char src[PATH_MAX], py[PATH_MAX];

	DS_UNUSED(state);
	signal(SIGPIPE, SIG_IGN);
	if (t && *t) {
		snprintf(g_tmp, sizeof(g_tmp), "%s/s15proto", t);
		mkdir(g_tmp, 0700);
	} else {
		snprintf(g_tmp, sizeof(g_tmp), "%s/ds-s15proto-XXXXXX", P_tmpdir);
		if (!mkdtemp(g_tmp))
			return -1;
	}
	if (find_src(src, sizeof(src)) || venv(src, py, sizeof(py)) || start_server(src, py)) {
		fprintf(stderr, "sync15_protocol_server_test: the storage test server is not "
				"available (test/servers/setup-venv.sh); skipping\n");
		g_skip = true;
		return 0;
	}
	return ds_http_client_new(&hc, &g_http) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	DS_UNUSED(state);
	ds_http_client_free(g_http);
	if (g_pid > 0) {
		close(g_in_fd);
		kill(g_pid, SIGTERM);
		waitpid(g_pid, NULL, 0);
	}
	return 0;
}

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

/* ---- the account ---------------------------------------------------------------------------- */

struct acct {
	unsigned uid;
};

static int acct_token(void *ctx, bool fresh, struct ds_sync15_creds *out)
{
	struct acct *a = ctx;
	char body[256];
	cJSON *o;

	DS_UNUSED(fresh);
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
	DS_UNUSED(ctx);
	memcpy(out, KSYNC, 64);
	return 0;
}

static const struct ds_sync15_auth_ops acct_ops = { .token = acct_token, .ksync = acct_ksync };

struct fx {
	struct acct a;
	struct ds_sync15_client *c;
};

static void fx_open(struct fx *f)
{
	struct ds_sync15_client_config cc = { 0 };

	memset(f, 0, sizeof(*f));
	f->a.uid = ++g_uid;
	cc.auth.ops = &acct_ops;
	cc.auth.ctx = &f->a;
	assert_int_equal(ds_sync15_client_new(&cc, &f->c), 0);
}

/* Writes at one new server time, without auth; returns that time. */
static int64_t seed(unsigned uid, const char *coll, cJSON *bsos)
{
	cJSON *o = cJSON_CreateObject(), *r = NULL;
	char *body;
	int64_t ms = -1;

	cJSON_AddNumberToObject(o, "uid", uid);
	cJSON_AddStringToObject(o, "collection", coll);
	cJSON_AddItemToObject(o, "bsos", bsos);
	body = cJSON_PrintUnformatted(o);
	assert_int_equal(control("POST", "seed", body, &r), 200);
	assert_int_equal(ds_sync15_ts_from_json(cJSON_GetObjectItem(r, "modified"), &ms), 0);
	cJSON_Delete(r);
	cJSON_free(body);
	cJSON_Delete(o);
	return ms;
}

static cJSON *bso(const char *id, const char *payload, int sortindex)
{
	cJSON *b = cJSON_CreateObject();

	cJSON_AddStringToObject(b, "id", id);
	cJSON_AddStringToObject(b, "payload", payload);
	if (sortindex >= 0)
		cJSON_AddNumberToObject(b, "sortindex", sortindex);
	return b;
}

/* The ids the server lists for a collection. */
static size_t count_ids(struct fx *f, const char *coll)
{
	struct ds_http_response r;
	char path[96];
	cJSON *a;
	size_t n;

	snprintf(path, sizeof(path), "storage/%s", coll);
	assert_int_equal(ds_sync15_request(f->c, "GET", path, -1, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	a = cJSON_Parse(r.body);
	assert_true(cJSON_IsArray(a));
	n = (size_t)cJSON_GetArraySize(a);
	cJSON_Delete(a);
	ds_http_response_free(&r);
	return n;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_quota_endpoint_and_remaining_header_on_real_server(void **state)
{
	struct fx f;
	struct ds_http_response r;
	double usage = -1, quota = 0, left = 0;
	const char *put = "{\"payload\":\"a record of some bytes\"}";

	DS_UNUSED(state);
	SKIP_IF_NO_SERVER();
	fx_open(&f);
	assert_int_equal(ds_sync15_get_quota(f.c, &usage, &quota), 0);
	assert_true(usage == 0 && quota == -1);
	assert_int_equal(control("POST", "config", "{\"quota_kb\": 1500}", NULL), 200);
	assert_int_equal(ds_sync15_request(f.c, "PUT", "storage/forms/one", -1, put, strlen(put), &r), 0);
	assert_int_equal(r.status, 200);
	ds_http_response_free(&r);
	assert_true(ds_sync15_client_quota_remaining(f.c, &left));
	assert_true(left > 1400 && left < 1500);
	assert_false(ds_sync15_client_quota_low(f.c));
	assert_int_equal(ds_sync15_get_quota(f.c, &usage, &quota), 0);
	assert_true(usage > 0 && quota == 1500);
	assert_false(ds_sync15_client_quota_low(f.c));
	/* A smaller quota: under 1 MiB left after the next write. */
	assert_int_equal(control("POST", "config", "{\"quota_kb\": 1000}", NULL), 200);
	assert_int_equal(ds_sync15_request(f.c, "PUT", "storage/forms/one", -1, put, strlen(put), &r), 0);
	ds_http_response_free(&r);
	assert_true(ds_sync15_client_quota_low(f.c));
	ds_sync15_client_free(f.c);

	/* Over quota: a write is 400 with weave code 14. */
	assert_int_equal(control("POST", "config", "{\"quota_kb\": 0.001}", NULL), 200);
	fx_open(&f);
	assert_int_equal(ds_sync15_request(f.c, "PUT", "storage/forms/one", -1, put, strlen(put), &r), 0);
	ds_http_response_free(&r);
	assert_int_equal(ds_sync15_request(f.c, "PUT", "storage/forms/two", -1, put, strlen(put), &r), 0);
	assert_int_equal(r.status, 400);
	assert_int_equal(ds_sync15_weave_code(&r), 14);
	ds_http_response_free(&r);
	assert_true(ds_sync15_client_quota_low(f.c));
	assert_non_null(strstr(ds_sync15_client_error(f.c), "quota"));
	assert_int_equal(control("POST", "config", "{\"quota_kb\": null}", NULL), 200);
	ds_sync15_client_free(f.c);
}

static void test_delete_ids_at_most_100_per_request_on_real_server(void **state)
{
	struct fx f;
	cJSON *arr = cJSON_CreateArray(), *log = NULL, *it;
	const char *ids[240];
	char names[250][16];
	int64_t ts, lm = -1;
	size_t deletes = 0;

	DS_UNUSED(state);
	SKIP_IF_NO_SERVER();
	fx_open(&f);
	for (int i = 0; i < 250; i++) {
		snprintf(names[i], sizeof(names[i]), "{pw-%03d}", i);
		cJSON_AddItemToArray(arr, bso(names[i], "x", -1));
		if (i < 240)
			ids[i] = names[i];
	}
	ts = seed(f.a.uid, "passwords", arr);
	/* The first request learns the server's clock (a wrong device clock is 401 + retry). */
	assert_int_equal(count_ids(&f, "passwords"), 250);
	assert_int_equal(control("DELETE", "log", NULL, NULL), 200);
	assert_int_equal(ds_sync15_delete_ids(f.c, "passwords", ids, 240, ts, &lm), 0);
	assert_true(lm > ts);
	assert_int_equal(count_ids(&f, "passwords"), 10);
	assert_int_equal(control("GET", "log", NULL, &log), 200);
	cJSON_ArrayForEach(it, log) {
		const char *m = cJSON_GetStringValue(cJSON_GetObjectItem(it, "method"));
		if (m && strcmp(m, "DELETE") == 0) {
			deletes++;
			assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(it, "status")), 200);
		}
	}
	cJSON_Delete(log);
	assert_int_equal(deletes, 3);
	/* An old precondition: refused, nothing deleted. */
	assert_int_equal(ds_sync15_delete_ids(f.c, "passwords", &ids[0], 1, ts, NULL), -ESTALE);
	assert_int_equal(count_ids(&f, "passwords"), 10);
	ds_sync15_client_free(f.c);
}

static void test_info_collections_304_when_unchanged_on_real_server(void **state)
{
	struct fx f;
	struct ds_http_response r;
	cJSON *info = NULL;
	const char *put = "{\"payload\":\"p\"}";

	DS_UNUSED(state);
	SKIP_IF_NO_SERVER();
	fx_open(&f);
	assert_int_equal(ds_sync15_request(f.c, "PUT", "storage/forms/a", -1, put, strlen(put), &r), 0);
	ds_http_response_free(&r);
	assert_int_equal(ds_sync15_get_info_collections(f.c, &info), 0);
	cJSON_Delete(info);
	assert_int_equal(ds_sync15_get_info_collections(f.c, &info), 0);
	assert_non_null(cJSON_GetObjectItem(info, "forms"));
	cJSON_Delete(info);
	assert_int_equal(ds_sync15_client_not_modified(f.c), 1);
	assert_int_equal(ds_sync15_request(f.c, "PUT", "storage/tabs/b", -1, put, strlen(put), &r), 0);
	ds_http_response_free(&r);
	assert_int_equal(ds_sync15_get_info_collections(f.c, &info), 0);
	assert_non_null(cJSON_GetObjectItem(info, "tabs"));
	cJSON_Delete(info);
	assert_int_equal(ds_sync15_client_not_modified(f.c), 1);
	ds_sync15_client_free(f.c);
}

/* Another client wipes the account and writes nothing: the next info/collections must show it,
 * whatever the server does with the user's timestamp on a wipe. */
static void test_info_collections_after_a_wipe_on_real_server(void **state)
{
	struct fx f, other;
	struct ds_http_response r;
	cJSON *info = NULL;
	const char *put = "{\"payload\":\"p\"}";

	DS_UNUSED(state);
	SKIP_IF_NO_SERVER();
	fx_open(&f);
	assert_int_equal(ds_sync15_request(f.c, "PUT", "storage/forms/a", -1, put, strlen(put), &r), 0);
	ds_http_response_free(&r);
	assert_int_equal(ds_sync15_get_info_collections(f.c, &info), 0);
	assert_non_null(cJSON_GetObjectItem(info, "forms"));
	cJSON_Delete(info);
	other = f;
	{
		struct ds_sync15_client_config cc = { 0 };

		cc.auth.ops = &acct_ops;
		cc.auth.ctx = &other.a;
		assert_int_equal(ds_sync15_client_new(&cc, &other.c), 0);
	}
	assert_int_equal(ds_sync15_request(other.c, "DELETE", "storage", -1, NULL, 0, &r), 0);
	ds_http_response_free(&r);
	ds_sync15_client_free(other.c);
	assert_int_equal(ds_sync15_get_info_collections(f.c, &info), 0);
	assert_null(cJSON_GetObjectItem(info, "forms"));
	cJSON_Delete(info);
	ds_sync15_client_free(f.c);
}

static void test_history_first_download_newest_limit_on_real_server(void **state)
{
	struct acct a = { .uid = ++g_uid };
	struct ds_sync15_remote_config rc = { .collection = "history", .engine_version = 1 };
	struct ds_policy p = { .direction = DS_DIR_TWO_WAY, .max_retries = 3 };
	struct ds_sync15_keybundle sync_kb;
	struct ds_sync15_keyring kr;
	struct ds_sync15_global g = { 0 };
	struct ds_store *store;
	struct ds_engine *e;
	struct ds_remote *r;
	struct ds_collection *c;
	struct ds_run_stats st = { 0 };
	cJSON *meta, *arr;
	char *text, *payload, path[700];

	DS_UNUSED(state);
	SKIP_IF_NO_SERVER();
	/* Another client's account: meta/global, crypto/keys, 12 history records written one by
	 * one (12 server times). */
	meta = ds_sync15_meta_new(NULL, 0);
	text = cJSON_PrintUnformatted(meta);
	arr = cJSON_CreateArray();
	cJSON_AddItemToArray(arr, bso("global", text, -1));
	seed(a.uid, "meta", arr);
	cJSON_free(text);
	cJSON_Delete(meta);
	ds_sync15_keybundle_from_ksync(KSYNC, &sync_kb);
	assert_int_equal(ds_sync15_keyring_new_random(&kr), 0);
	assert_int_equal(ds_sync15_keyring_encrypt(&sync_kb, &kr, &payload), 0);
	arr = cJSON_CreateArray();
	cJSON_AddItemToArray(arr, bso("keys", payload, -1));
	seed(a.uid, "crypto", arr);
	ds_free(payload);
	for (int i = 0; i < 12; i++) {
		char id[16], clear[64];

		snprintf(id, sizeof(id), "hist%08d", i);
		snprintf(clear, sizeof(clear), "{\"id\":\"%s\",\"n\":%d}", id, i);
		assert_int_equal(ds_sync15_encrypt(ds_sync15_keyring_get(&kr, "history"), clear,
						   strlen(clear), NULL, &payload), 0);
		arr = cJSON_CreateArray();
		cJSON_AddItemToArray(arr, bso(id, payload, -1));
		seed(a.uid, "history", arr);
		ds_free(payload);
	}
	ds_sync15_keyring_clear(&kr);

	snprintf(path, sizeof(path), "%s/hist-%d.db", g_tmp, (int)getpid());
	unlink(path);
	assert_int_equal(ds_store_open(path, &store), 0);
	assert_int_equal(ds_fake_engine_new(false, &e), 0);
	rc.auth.ops = &acct_ops;
	rc.auth.ctx = &a;
	rc.global = &g;
	assert_int_equal(ds_sync15_remote_new(&rc, &r), 0);
	assert_int_equal(ds_sync15_remote_set_download_limit(r, 5, "newest"), 0);
	assert_int_equal(ds_fake_collection_new("history", e, r, NULL, &p, &c), 0);
	assert_int_equal(ds_sync_run(c, store, &st, NULL, NULL), 0);
	assert_int_equal(st.fetched, 5);
	assert_int_equal(ds_fake_engine_rows(e), 5);
	assert_non_null(ds_fake_engine_payload(e, "hist00000011"));
	assert_non_null(ds_fake_engine_payload(e, "hist00000007"));
	assert_null(ds_fake_engine_payload(e, "hist00000006"));
	/* Nothing new: the next run reads nothing more. */
	memset(&st, 0, sizeof(st));
	assert_int_equal(ds_sync_run(c, store, &st, NULL, NULL), 0);
	assert_int_equal(st.fetched, 0);
	ds_fake_collection_free(c);
	ds_store_close(store);
	ds_sync15_global_clear(&g);
	unlink(path);
}

/* ---- a streamed download's memory ------------------------------------------------------------ */

/* Bytes live through ds_malloc and their peak (the allocator hook), for the test below. */
struct cnt_hdr {
	size_t n;
	size_t pad;
};

static size_t g_live, g_peak;

static void cnt_account(size_t add, size_t sub)
{
	g_live = g_live + add - sub;
	if (g_live > g_peak)
		g_peak = g_live;
}

static void *cnt_malloc(size_t n, void *ud)
{
	struct cnt_hdr *h = malloc(sizeof(*h) + n);

	DS_UNUSED(ud);
	if (!h)
		return NULL;
	h->n = n;
	cnt_account(n, 0);
	return h + 1;
}

static void *cnt_realloc(void *p, size_t n, void *ud)
{
	struct cnt_hdr *h = p ? (struct cnt_hdr *)p - 1 : NULL;
	size_t old = h ? h->n : 0;

	DS_UNUSED(ud);
	h = realloc(h, sizeof(*h) + n);
	if (!h)
		return NULL;
	h->n = n;
	cnt_account(n, old);
	return h + 1;
}

static void cnt_free(void *p, void *ud)
{
	struct cnt_hdr *h;

	DS_UNUSED(ud);
	if (!p)
		return;
	h = (struct cnt_hdr *)p - 1;
	cnt_account(0, h->n);
	free(h);
}

/* A token fetched before the counting allocator goes in: no request to the test control (on
 * a client made with libc's allocator) during the measured run. */
static struct ds_sync15_creds g_cached_creds;

static int cached_token(void *ctx, bool fresh, struct ds_sync15_creds *out)
{
	DS_UNUSED(ctx);
	DS_UNUSED(fresh);
	*out = g_cached_creds;
	return 0;
}

static const struct ds_sync15_auth_ops cached_ops = { .token = cached_token, .ksync = acct_ksync };

/*
 * Another client's account with n records in coll (meta/global, crypto/keys, the records in
 * seeds of 500), then a new device's first sync of it, with every allocation counted. Returns
 * what the run held for itself at its worst: the peak of live bytes minus what is live once it
 * returned (the fake engine's rows, the store), so the engine's growing table does not count.
 */
static size_t download_transient(unsigned n, size_t *answer_bytes)
{
	static const struct ds_allocator counting = { cnt_malloc, cnt_realloc, cnt_free, NULL };
	struct acct a = { .uid = ++g_uid };
	struct ds_sync15_remote_config rc = { .collection = "streamed", .engine_version = 1 };
	struct ds_policy p = { .direction = DS_DIR_TWO_WAY, .max_retries = 3 };
	struct ds_sync15_keybundle sync_kb;
	struct ds_sync15_keyring kr;
	struct ds_sync15_global g = { 0 };
	struct ds_store *store;
	struct ds_engine *e;
	struct ds_remote *r;
	struct ds_collection *c;
	struct ds_run_stats st = { 0 };
	cJSON *meta, *arr = NULL;
	char *text, *payload, path[700];
	size_t transient;

	meta = ds_sync15_meta_new(NULL, 0);
	text = cJSON_PrintUnformatted(meta);
	arr = cJSON_CreateArray();
	cJSON_AddItemToArray(arr, bso("global", text, -1));
	seed(a.uid, "meta", arr);
	cJSON_free(text);
	cJSON_Delete(meta);
	ds_sync15_keybundle_from_ksync(KSYNC, &sync_kb);
	assert_int_equal(ds_sync15_keyring_new_random(&kr), 0);
	assert_int_equal(ds_sync15_keyring_encrypt(&sync_kb, &kr, &payload), 0);
	arr = cJSON_CreateArray();
	cJSON_AddItemToArray(arr, bso("keys", payload, -1));
	seed(a.uid, "crypto", arr);
	ds_free(payload);
	*answer_bytes = 0;
	arr = NULL;
	for (unsigned i = 0; i < n; i++) {
		char id[16], clear[320];

		snprintf(id, sizeof(id), "rec%08u", i);
		snprintf(clear, sizeof(clear), "{\"id\":\"%s\",\"title\":\"a record of a streamed "
			 "download, number %u\",\"url\":\"https://www.example.org/a/rather/long/"
			 "path/to/an/article/of/the/streamed/download/%u.html\",\"n\":%u}", id, i, i,
			 i);
		assert_int_equal(ds_sync15_encrypt(ds_sync15_keyring_get(&kr, "streamed"), clear,
						   strlen(clear), NULL, &payload), 0);
		*answer_bytes += strlen(payload) + 60;
		if (!arr)
			arr = cJSON_CreateArray();
		cJSON_AddItemToArray(arr, bso(id, payload, -1));
		ds_free(payload);
		if ((i + 1) % 500 == 0 || i + 1 == n) {
			seed(a.uid, "streamed", arr);
			arr = NULL;
		}
	}
	ds_sync15_keyring_clear(&kr);

	snprintf(path, sizeof(path), "%s/streamed-%d-%u.db", g_tmp, (int)getpid(), a.uid);
	unlink(path);
	assert_int_equal(acct_token(&a, false, &g_cached_creds), 0);
	assert_int_equal(ds_set_allocator(&counting), 0);
	g_live = g_peak = 0;
	assert_int_equal(ds_store_open(path, &store), 0);
	assert_int_equal(ds_fake_engine_new(false, &e), 0);
	rc.auth.ops = &cached_ops;
	rc.global = &g;
	rc.page_records = DS_SYNC15_PAGE_UNLIMITED;
	assert_int_equal(ds_sync15_remote_new(&rc, &r), 0);
	assert_int_equal(ds_fake_collection_new("streamed", e, r, NULL, &p, &c), 0);
	assert_int_equal(ds_sync_run(c, store, &st, NULL, NULL), 0);
	assert_int_equal(st.fetched, n);
	assert_int_equal(ds_fake_engine_rows(e), n);
	transient = g_peak - g_live;
	ds_memzero(&g_cached_creds, sizeof(g_cached_creds));
	ds_fake_collection_free(c);
	ds_store_close(store);
	ds_sync15_global_clear(&g);
	assert_int_equal(ds_set_allocator(NULL), 0);
	unlink(path);
	return transient;
}

/* The download in one GET over real HTTP: what the run holds does not grow with the answer (a
 * chunk of records and one BSO, not the page), measured at 300 and 3,000 records. */
static void test_streamed_download_memory_does_not_follow_the_answer(void **state)
{
	size_t small_answer, big_answer, small, big;

	DS_UNUSED(state);
	if (!IS_ENABLED(CONFIG_DS_ALLOC_HOOK))
		skip(); /* the bytes are counted through the allocator hook */
	SKIP_IF_NO_SERVER();
	small = download_transient(300, &small_answer);
	big = download_transient(3000, &big_answer);
	fprintf(stderr, "held at worst: %zu B for a %zu B answer, %zu B for a %zu B answer\n",
		small, small_answer, big, big_answer);
	assert_true(big_answer > 1000000);
	assert_true(big < big_answer / 4);
	assert_true(big < small + small / 2 + 64 * 1024);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quota_endpoint_and_remaining_header_on_real_server),
		cmocka_unit_test(test_delete_ids_at_most_100_per_request_on_real_server),
		cmocka_unit_test(test_info_collections_304_when_unchanged_on_real_server),
		cmocka_unit_test(test_info_collections_after_a_wipe_on_real_server),
		cmocka_unit_test(test_history_first_download_newest_limit_on_real_server),
		cmocka_unit_test(test_streamed_download_memory_does_not_follow_the_answer),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
