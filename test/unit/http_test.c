/*
 * HTTP client against test/servers/http/server.py on 127.0.0.1, plain and TLS. The TLS
 * material (a CA, a leaf for localhost/127.0.0.1, a leaf with another name, a self-signed
 * cert) is made with openssl into DS_TEST_TMP at start.
 */
#include "core/ds_core.h"
#include "net/ds_http.h"
#include "net/http_tls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <mbedtls/sha256.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "test/support/child_server.h"


enum { SRV_PLAIN, SRV_TLS, SRV_TLS_WRONGNAME, SRV_TLS_SELFSIGNED, SRV_V6, SRV_COUNT };

static char g_tmp[512];
static char g_src[512]; /* source tree: holds test/servers/http/server.py */
static char g_ca[600];
static struct ds_child_server g_srv[SRV_COUNT];
static int g_have_tls;

/* ---- fixtures ------------------------------------------------------------------------------- */

static int run(const char *cmd)
{
	char full[4096];
	snprintf(full, sizeof(full), "cd '%s' && (%s) >openssl.log 2>&1", g_tmp, cmd);
	return system(full);
}

static int make_certs(void)
{
	static const char *const cmds[] = {
		"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
		"-keyout ca.key -out ca.pem -subj /CN=datasync-test-ca "
		"-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
		"printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\\n' > good.ext && "
		"openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout good.key "
		"-out good.csr -subj /CN=localhost && "
		"openssl x509 -req -in good.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
		"-extfile good.ext -out good.pem",
		"printf 'subjectAltName=DNS:wrong.example\\n' > wrong.ext && "
		"openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout wrong.key "
		"-out wrong.csr -subj /CN=wrong.example && "
		"openssl x509 -req -in wrong.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
		"-extfile wrong.ext -out wrong.pem",
		"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
		"-keyout self.key -out self.pem -subj /CN=localhost "
		"-addext subjectAltName=DNS:localhost,IP:127.0.0.1",
	};
	for (size_t i = 0; i < DS_ARRAY_SIZE(cmds); i++)
		if (run(cmds[i]) != 0)
			return -1;
	return 0;
}

static int start_server(struct ds_child_server *s, const char *bind_addr, const char *cert)
{
	char script[1024], certp[600], keyp[600];
	char *argv[] = { "python3", script, "--bind", (char *)bind_addr, "--tls", certp, keyp, NULL };

	snprintf(script, sizeof(script), "%s/test/servers/http/server.py", g_src);
	if (cert) {
		snprintf(certp, sizeof(certp), "%s/%s.pem", g_tmp, cert);
		snprintf(keyp, sizeof(keyp), "%s/%s.key", g_tmp, cert);
	} else {
		argv[4] = NULL;
	}
	return ds_child_server_start(s, argv);
}

static void stop_server(struct ds_child_server *s)
{
	ds_child_server_stop(s);
}

static int has_server_script(const char *dir)
{
	char p[1024];
	snprintf(p, sizeof(p), "%s/test/servers/http/server.py", dir);
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
		snprintf(g_src, sizeof(g_src), ".");
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

static int group_setup(void **state)
{
	const char *t = getenv("DS_TEST_TMP");
	DS_UNUSED(state);

	signal(SIGPIPE, SIG_IGN);
	if (find_source_tree()) {
		fprintf(stderr, "test/servers/http/server.py not found (set DS_SRC)\n");
		return -1;
	}
	if (t && *t) {
		snprintf(g_tmp, sizeof(g_tmp), "%s/http", t);
		mkdir(g_tmp, 0700);
	} else {
		const char *base = getenv("TMPDIR");
		snprintf(g_tmp, sizeof(g_tmp), "%s/ds-http-XXXXXX", base && *base ? base : P_tmpdir);
		if (!mkdtemp(g_tmp))
			return -1;
	}
	snprintf(g_ca, sizeof(g_ca), "%s/ca.pem", g_tmp);
	if (start_server(&g_srv[SRV_PLAIN], "127.0.0.1", NULL))
		return -1;
	g_have_tls = make_certs() == 0;
	if (!g_have_tls)
		return -1; /* openssl is a test dependency (install-deps.sh) */
	if (start_server(&g_srv[SRV_TLS], "127.0.0.1", "good") ||
	    start_server(&g_srv[SRV_TLS_WRONGNAME], "127.0.0.1", "wrong") ||
	    start_server(&g_srv[SRV_TLS_SELFSIGNED], "127.0.0.1", "self"))
		return -1;
	/* IPv6 may be off in a container: the test that needs it skips then. */
	start_server(&g_srv[SRV_V6], "::1", NULL);
	return 0;
}

static int group_teardown(void **state)
{
	DS_UNUSED(state);
	for (int i = 0; i < SRV_COUNT; i++)
		stop_server(&g_srv[i]);
	return 0;
}

static struct ds_http_client *client_with(const char *ca, int timeout_s, size_t max)
{
	struct ds_http_config cfg = { .ca_bundle = ca, .timeout_s = timeout_s, .max_response = max };
	struct ds_http_client *c = NULL;
	assert_int_equal(ds_http_client_new(&cfg, &c), 0);
	assert_non_null(c);
	return c;
}

static char *url(int srv, const char *host, const char *path)
{
	static char buf[4][256];
	static int k;
	char *b = buf[k++ % 4];
	snprintf(b, sizeof(buf[0]), "%s://%s:%d%s",
		 srv == SRV_PLAIN || srv == SRV_V6 ? "http" : "https", host, g_srv[srv].port, path);
	return b;
}

static int get(struct ds_http_client *c, const char *u, struct ds_http_response *r)
{
	struct ds_http_request req = { .method = "GET", .url = u };
	return ds_http_perform(c, &req, r);
}

static void sha256_hex(const void *d, size_t n, char out[65])
{
	unsigned char h[32];
	mbedtls_sha256_ret(d, n, h, 0);
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
}

static unsigned char pattern_byte(size_t i)
{
	return (unsigned char)((i * 7 + i / 251) % 256); /* same as server.py */
}

/* ---- pure parsing --------------------------------------------------------------------------- */

static void test_url_parse(void **state)
{
	struct ds_http_url u;
	DS_UNUSED(state);

	assert_int_equal(ds_http_url_parse("https://Sync.Example.com/1.5/123/storage?newer=1", &u), 0);
	assert_true(u.tls);
	assert_string_equal(u.host, "Sync.Example.com");
	assert_int_equal(u.port, 443);
	assert_string_equal(u.path, "/1.5/123/storage?newer=1");
	assert_string_equal(u.hostport, "Sync.Example.com");
	ds_http_url_free(&u);

	assert_int_equal(ds_http_url_parse("http://127.0.0.1:8080", &u), 0);
	assert_false(u.tls);
	assert_string_equal(u.host, "127.0.0.1");
	assert_int_equal(u.port, 8080);
	assert_string_equal(u.path, "/");
	assert_string_equal(u.hostport, "127.0.0.1:8080");
	ds_http_url_free(&u);

	assert_int_equal(ds_http_url_parse("http://[::1]:9/a?b#frag", &u), 0);
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.path, "/a?b");
	assert_string_equal(u.hostport, "[::1]:9");
	ds_http_url_free(&u);

	assert_int_equal(ds_http_url_parse("https://[fe80::1]:443?q=1", &u), 0);
	assert_string_equal(u.path, "/?q=1");
	assert_string_equal(u.hostport, "[fe80::1]");
	ds_http_url_free(&u);

	static const char *const bad[] = {
		"ftp://x/", "http://", "http:///p", "http://h:0/", "http://h:65536/", "http://h:/",
		"http://h:8x/", "http://[::1/", "http://[]/", "http://user:pw@h/", "http://h/a b",
		"http://h/\r\nX: y", "https://h\x7f/", "//h/p",
	};
	for (size_t i = 0; i < DS_ARRAY_SIZE(bad); i++) {
		memset(&u, 0x5a, sizeof(u));
		assert_int_equal(ds_http_url_parse(bad[i], &u), -EINVAL);
	}
}

static void test_http_date_forms(void **state)
{
	int64_t t;
	DS_UNUSED(state);
	/* RFC 9110 §5.6.7 example, all three forms: 784111777. */
	assert_int_equal(ds_http_parse_date("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
	assert_int_equal(t, 784111777);
	assert_int_equal(ds_http_parse_date("Sunday, 06-Nov-94 08:49:37 GMT", &t), 0);
	assert_int_equal(t, 784111777);
	assert_int_equal(ds_http_parse_date("Sun Nov  6 08:49:37 1994", &t), 0);
	assert_int_equal(t, 784111777);
	assert_int_equal(ds_http_parse_date("Wed, 21 Oct 2015 07:28:00 GMT", &t), 0);
	assert_int_equal(t, 1445412480);
	assert_int_equal(ds_http_parse_date("Sun, 06 Nov 1994 08:49:37", &t), -EINVAL);
	assert_int_equal(ds_http_parse_date("Sun, 06 Foo 1994 08:49:37 GMT", &t), -EINVAL);
	assert_int_equal(ds_http_parse_date("yesterday", &t), -EINVAL);
	assert_int_equal(ds_http_parse_date("Sun, 06 Nov 1994 25:49:37 GMT", &t), -EINVAL);
}

static void test_retry_after_and_backoff_values(void **state)
{
	int64_t d;
	DS_UNUSED(state);
	assert_int_equal(ds_http_parse_retry_after("120", 0, &d), 0);
	assert_int_equal(d, 120);
	/* Sync servers send float seconds; take the ceiling. */
	assert_int_equal(ds_http_parse_retry_after("0.2", 0, &d), 0);
	assert_int_equal(d, 1);
	assert_int_equal(ds_http_parse_retry_after(" 7 ", 0, &d), 0);
	assert_int_equal(d, 7);
	assert_int_equal(ds_http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 - 90, &d), 0);
	assert_int_equal(d, 90);
	/* A date in the past means "now". */
	assert_int_equal(ds_http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 + 5, &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(ds_http_parse_retry_after("-5", 0, &d), -EINVAL);
	assert_int_equal(ds_http_parse_retry_after("", 0, &d), -EINVAL);
	assert_int_equal(ds_http_parse_retry_after("12abc", 0, &d), -EINVAL);

	struct ds_http_header h[] = { { "backoff", "30" }, { "x-weave-backoff", "45.5" } };
	struct ds_http_response r = { .status = 200, .headers = h, .n_headers = 2 };
	assert_int_equal(ds_http_backoff(&r, &d), 1);
	assert_int_equal(d, 46);
	r.n_headers = 1;
	assert_int_equal(ds_http_backoff(&r, &d), 1);
	assert_int_equal(d, 30);
	r.n_headers = 0;
	assert_int_equal(ds_http_backoff(&r, &d), 0);
	assert_int_equal(ds_http_retry_after(&r, 0, &d), 0);
	h[0].value = "soon";
	r.n_headers = 1;
	assert_int_equal(ds_http_backoff(&r, &d), -EINVAL);
}

/* ---- plain HTTP ------------------------------------------------------------------------------ */

static void test_get_200_with_protocol_headers(void **state)
{
	struct ds_http_client *c = client_with(NULL, 0, 0);
	struct ds_http_response r;
	int64_t d;
	DS_UNUSED(state);

	assert_int_equal(get(c, url(SRV_PLAIN, "127.0.0.1", "/hello"), &r), 0);
	assert_string_equal(ds_http_last_error(c), "");
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 13);
	assert_memory_equal(r.body, "hello, world\n", 13);
	/* Custom headers lws does not know, looked up in any case. */
	assert_non_null(ds_http_header(&r, "X-Weave-Timestamp"));
	assert_string_equal(ds_http_header(&r, "x-weave-timestamp"), "1388635807.41");
	assert_string_equal(ds_http_header(&r, "X-WEAVE-TIMESTAMP"), "1388635807.41");
	assert_string_equal(ds_http_header(&r, "X-Last-Modified"), "1388635800.00");
	assert_string_equal(ds_http_header(&r, "Next-Page"), "http://127.0.0.1/next?_token=abc");
	assert_string_equal(ds_http_header(&r, "x-weave-records"), "3");
	/* Headers lws knows as tokens. */
	assert_string_equal(ds_http_header(&r, "etag"), "\"1388635800000\"");
	assert_string_equal(ds_http_header(&r, "content-type"), "text/plain");
	assert_string_equal(ds_http_header(&r, "content-length"), "13");
	assert_null(ds_http_header(&r, "x-not-sent"));
	assert_int_equal(ds_http_retry_after(&r, 0, &d), 1);
	assert_int_equal(d, 120);
	assert_int_equal(ds_http_backoff(&r, &d), 1);
	assert_int_equal(d, 45); /* max(X-Weave-Backoff 45, Backoff 30) */
	ds_http_response_free(&r);
	ds_http_client_free(c);
}

static void test_unlisted_custom_header_kept_on_request(void **state)
{
	static const char *const keep[] = { "X-Custom-Thing", NULL };
	struct ds_http_config cfg = { .keep_headers = keep };
	struct ds_http_client *c = client_with(NULL, 0, 0), *c2 = NULL;
	struct ds_http_response r;
	DS_UNUSED(state);

	/* lws 4.1 cannot list unknown headers: only listed names survive (docs/http.md). */
	assert_int_equal(get(c, url(SRV_PLAIN, "127.0.0.1", "/hello"), &r), 0);
	assert_null(ds_http_header(&r, "x-custom-thing"));
	ds_http_response_free(&r);
	assert_int_equal(ds_http_client_new(&cfg, &c2), 0);
	assert_int_equal(get(c2, url(SRV_PLAIN, "127.0.0.1", "/hello"), &r), 0);
	assert_string_equal(ds_http_header(&r, "x-custom-thing"), "42");
	assert_string_equal(ds_http_header(&r, "x-weave-timestamp"), "1388635807.41");
	ds_http_response_free(&r);
	ds_http_client_free(c2);
	ds_http_client_free(c);
}

static void test_get_chunked_300k(void **state)
{
	struct ds_http_client *c = client_with(NULL, 0, 0);
	struct ds_http_response r;
	const size_t n = 300 * 1024 + 17;
	char u[64];
	DS_UNUSED(state);

	snprintf(u, sizeof(u), "/chunked?size=%zu", n);
	assert_int_equal(get(c, url(SRV_PLAIN, "127.0.0.1", u), &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(ds_http_header(&r, "transfer-encoding"), "chunked");
	assert_int_equal(r.body_len, n);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)r.body[i] != pattern_byte(i))
			fail_msg("body differs at byte %zu", i);
	ds_http_response_free(&r);
	ds_http_client_free(c);
}

static void check_echo(const struct ds_http_response *r, const char *method, size_t len,
		       const char *cl, const void *data)
{
	char want[256], hex[65];

	sha256_hex(data, len, hex);
	snprintf(want, sizeof(want), "method=%s\nlength=%zu\ncontent-length=%s\nsha256=%s\n", method,
		 len, cl, hex);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, want);
}

static void test_put_post_bodies_echoed(void **state)
{
	struct ds_http_client *c = client_with(NULL, 0, 0);
	struct ds_http_response r;
	const size_t n = 100000;
	unsigned char *data = malloc(n);
	char cl[32];
	DS_UNUSED(state);

	for (size_t i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 13 + 5);
	struct ds_http_request put = { .method = "PUT", .url = url(SRV_PLAIN, "127.0.0.1", "/echo"),
				       .body = data, .body_len = n };
	assert_int_equal(ds_http_perform(c, &put, &r), 0);
	snprintf(cl, sizeof(cl), "%zu", n);
	check_echo(&r, "PUT", n, cl, data);
	ds_http_response_free(&r);

	struct ds_http_request post = { .method = "POST", .url = url(SRV_PLAIN, "127.0.0.1", "/echo"),
					.body = "{\"id\":\"abc\"}", .body_len = 12 };
	assert_int_equal(ds_http_perform(c, &post, &r), 0);
	check_echo(&r, "POST", 12, "12", "{\"id\":\"abc\"}");
	ds_http_response_free(&r);
	free(data);
	ds_http_client_free(c);
}

static void test_post_put_without_body_send_content_length_0(void **state)
{
	struct ds_http_client *c = client_with(NULL, 0, 0);
	struct ds_http_response r;
	DS_UNUSED(state);

	static const char *const m[] = { "POST", "PUT" };
	for (size_t i = 0; i < 2; i++) {
		struct ds_http_request req = { .method = m[i], .url = url(SRV_PLAIN, "127.0.0.1", "/echo") };
		assert_int_equal(ds_http_perform(c, &req, &r), 0);
		check_echo(&r, m[i], 0, "0", "");
		ds_http_response_free(&r);
	}
	/* GET without body sends no Content-Length. */
	struct ds_http_request g = { .url = url(SRV_PLAIN, "127.0.0.1", "/echo") };
	assert_int_equal(ds_http_perform(c, &g, &r), 0);
	check_echo(&r, "GET", 0, "none", "");
	ds_http_response_free(&r);
	ds_http_client_free(c);
}

struct stream_src {
	size_t pos, len;
};

static int stream_read(void *buf, size_t cap, size_t *got, void *user_data)
{
	struct stream_src *s = user_data;
	size_t n = DS_MIN(cap, s->len - s->pos);
	n = DS_MIN(n, (size_t)1000); /* short reads are allowed */
	for (size_t i = 0; i < n; i++)
		((unsigned char *)buf)[i] = pattern_byte(s->pos + i);
	s->pos += n;
	*got = n;
	return 0;
}

static void test_streamed_upload(void **state)
{
	struct ds_http_client *c = client_with(NULL, 0, 0);
	struct ds_http_response r;
	const size_t n = 250001;
	struct stream_src src = { 0, n };
	unsigned char *data = malloc(n);
	DS_UNUSED(state);

	for (size_t i = 0; i < n; i++)
		data[i] = pattern_byte(i);
	struct ds_http_request req = { .method = "POST", .url = url(SRV_PLAIN, "127.0.0.1", "/echo"),
				       .body_len = n, .body_read = stream_read, .body_user_data = &src };
	assert_int_equal(ds_http_perform(c, &req, &r), 0);
	check_echo(&r, "POST", n, "250001", data);
	assert_int_equal(src.pos, n);
	ds_http_response_free(&r);
	free(data);
	ds_http_client_free(c);
}

static void test_delete_204_no_body(void **state)
{
	struct ds_http_client *c = client_with(NULL, 0, 0);
	struct ds_http_response r;
	DS_UNUSED(state);

	struct ds_http_request req = { .method = "DELETE", .url = url(SRV_PLAIN, "127.0.0.1", "/item") };
	assert_int_equal(ds_http_perform(c, &req, &r), 0);
	assert_int_equal(r.status, 204);
	assert_int_equal(r.body_len, 0);
	ds_http_response_free(&r);
	/* The client is reusable after a 204 (a new connection each time). */
	assert_int_equal(ds_http_perform(c, &req, &r), 0);
	assert_int_equal(r.status, 204);
	ds_http_response_free(&r);
	ds_http_client_free(c);
}

static void test_methods_sent_verbatim(void **state)
{
	struct ds_http_client *c = client_with(NULL, 0, 0);
	struct ds_http_response r;
	DS_UNUSED(state);

	static const char *const m[] = { "PATCH", "OPTIONS", "DELETE" };
	for (size_t i = 0; i < DS_ARRAY_SIZE(m); i++) {
		struct ds_http_request req = { .method = m[i], .url = url(SRV_PLAIN, "127.0.0.1", "/echo"),
					       .body = "<x/>", .body_len = 4 };
		assert_int_equal(ds_http_perform(c, &req, &r), 0);
		check_echo(&r, m[i], 4, "4", "<x/>");
		ds_http_response_free(&r);
	}
	/* HEAD: headers of the GET, no body even though Content-Length says 13. */
	struct ds_http_request head = { .method = "HEAD", .url = url(SRV_PLAIN, "127.0.0.1", "/hello") };
	assert_int_equal(ds_http_perform(c, &head, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
	assert_string_equal(ds_http_header(&r, "x-weave-timestamp"), "1388635807.41");
	ds_http_response_free(&r);
	ds_http_client_free(c);
}

static void test_methods_lws41_cannot_send_fail_fast(void **state)
{
	struct ds_http_client *c = client_with(NULL, 0, 0);
	struct ds_http_response r;
	DS_UNUSED(state);

	/* lws 4.1 binds no role to other methods: refused at once, not after the timeout. */
	struct ds_http_request req = { .method = "PROPFIND", .url = url(SRV_PLAIN, "127.0.0.1", "/echo") };
	assert_int_equal(ds_http_perform(c, &req, &r), -ENOTSUP);
	assert_non_null(strstr(ds_http_last_error(c), "PROPFIND"));
	ds_http_client_free(c);
}

static void test_request_headers_reach_server(void **state)
{
	struct ds_http_config cfg = { .user_agent = "datasync-test/1" };
	struct ds_http_client *c = NULL;
	struct ds_http_response r;
	DS_UNUSED(state);

	assert_int_equal(ds_http_client_new(&cfg, &c), 0);
	struct ds_http_header h[] = {
		{ "X-If-Unmodified-Since", "1388635807.41" },
		{ "Authorization", "Bearer not-a-real-token" },
	};
	struct ds_http_request req = { .url = url(SRV_PLAIN, "127.0.0.1", "/headers"),
				       .headers = h, .n_headers = 2 };
	assert_int_equal(ds_http_perform(c, &req, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "x-if-unmodified-since: 1388635807.41\n"));
	assert_non_null(strstr(r.body, "authorization: Bearer not-a-real-token\n"));
	assert_non_null(strstr(r.body, "user-agent: datasync-test/1\n"));
	char host[64];
	snprintf(host, sizeof(host), "host: 127.0.0.1:%d\n", g_srv[SRV_PLAIN].port);
	assert_non_null(strstr(r.body, host));
	ds_http_response_free(&r);
	ds_http_client_free(c);
}

static void test_header_injection_refused(void **state)
{
	struct ds_http_client *c = client_with(NULL, 0, 0);
	struct ds_http_response r;
	DS_UNUSED(state);

	struct ds_http_header bad_value[] = { { "X-A", "1\r\nX-Evil: 1" } };
	struct ds_http_header bad_name[] = { { "X A", "1" } };
	struct ds_http_request req = { .url = url(SRV_PLAIN, "127.0.0.1", "/headers"),
				       .headers = bad_value, .n_headers = 1 };
	assert_int_equal(ds_http_perform(c, &req, &r), -EINVAL);
	req.headers = bad_name;
	assert_int_equal(ds_http_perform(c, &req, &r), -EINVAL);
	struct ds_http_header framing[] = { { "Content-Length", "5" } };
	req.headers = framing;
	assert_int_equal(ds_http_perform(c, &req, &r), -EINVAL);
	req.n_headers = 0;
	req.method = "GET /x";
	assert_int_equal(ds_http_perform(c, &req, &r), -EINVAL);
	req.method = "GET";
	req.url = "http://127.0.0.1:1/a b";
	assert_int_equal(ds_http_perform(c, &req, &r), -EINVAL);
	ds_http_client_free(c);
}

static void test_error_statuses_keep_their_body(void **state)
{
	struct ds_http_client *c = client_with(NULL, 0, 0);
	struct ds_http_response r;
	int64_t d;
	DS_UNUSED(state);

	static const int codes[] = { 400, 401, 404, 409, 412, 500, 503 };
	for (size_t i = 0; i < DS_ARRAY_SIZE(codes); i++) {
		char p[32], want[32];
		snprintf(p, sizeof(p), "/status/%d", codes[i]);
		snprintf(want, sizeof(want), "status %d\n", codes[i]);
		assert_int_equal(get(c, url(SRV_PLAIN, "127.0.0.1", p), &r), 0);
		assert_int_equal(r.status, codes[i]);
		assert_string_equal(r.body, want);
		if (codes[i] == 503) {
			assert_int_equal(ds_http_retry_after(&r, 0, &d), 1);
			assert_int_equal(d, 7);
		}
		ds_http_response_free(&r);
	}
	assert_int_equal(get(c, url(SRV_PLAIN, "127.0.0.1", "/retry-date"), &r), 0);
	assert_int_equal(r.status, 503);
	assert_int_equal(ds_http_retry_after(&r, 1445412480 - 600, &d), 1);
	assert_int_equal(d, 600);
	ds_http_response_free(&r);
	ds_http_client_free(c);
}

static void test_response_over_cap_is_efbig(void **state)
{
	struct ds_http_client *c = client_with(NULL, 0, 1000);
	struct ds_http_response r;
	DS_UNUSED(state);

	/* Exactly at the cap is fine. */
	assert_int_equal(get(c, url(SRV_PLAIN, "127.0.0.1", "/fixed?size=1000"), &r), 0);
	assert_int_equal(r.body_len, 1000);
	ds_http_response_free(&r);
	/* Announced length over the cap, and a chunked body that grows over it. */
	assert_int_equal(get(c, url(SRV_PLAIN, "127.0.0.1", "/fixed?size=1001"), &r), -EFBIG);
	assert_null(r.body);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(ds_http_last_error(c), "limit"));
	assert_int_equal(get(c, url(SRV_PLAIN, "127.0.0.1", "/chunked?size=50000"), &r), -EFBIG);
	assert_null(r.body);
	/* Still usable afterwards. */
	assert_int_equal(get(c, url(SRV_PLAIN, "127.0.0.1", "/hello"), &r), 0);
	assert_int_equal(r.status, 200);
	ds_http_response_free(&r);
	ds_http_client_free(c);
}

static void test_stalled_server_times_out(void **state)
{
	struct ds_http_client *c = client_with(NULL, 1, 0); /* short timeout only here */
	struct ds_http_response r;
	DS_UNUSED(state);

	assert_int_equal(get(c, url(SRV_PLAIN, "127.0.0.1", "/stall"), &r), -ETIMEDOUT);
	assert_non_null(strstr(ds_http_last_error(c), "within"));
	/* The client recovers for the next request. */
	assert_int_equal(get(c, url(SRV_PLAIN, "127.0.0.1", "/hello"), &r), 0);
	assert_int_equal(r.status, 200);
	ds_http_response_free(&r);
	ds_http_client_free(c);
}

/* A streamed body whose consumer takes longer in all than the timeout, each piece well within
 * it: the deadline counts from the last piece, so the download completes. In memory, the same
 * body stays under the whole-request deadline. */
struct slow_sink {
	size_t got;
	unsigned pieces;
};

static int slow_write(const void *data, size_t len, void *user_data)
{
	struct slow_sink *s = user_data;
	struct timespec ts = { 0, 60 * 1000 * 1000 };

	for (size_t i = 0; i < len; i++)
		if (((const unsigned char *)data)[i] != pattern_byte(s->got + i))
			return -EBADMSG;
	s->got += len;
	s->pieces++;
	nanosleep(&ts, NULL);
	return 0;
}

static void test_streamed_body_deadline_counts_from_the_last_piece(void **state)
{
	struct ds_http_client *c = client_with(NULL, 1, 0);
	struct slow_sink s = { 0 };
	const size_t n = 400 * 1024;
	struct ds_http_request req = { .method = "GET", .body_write = slow_write,
				       .body_write_user_data = &s };
	struct ds_http_response r;
	char u[64];
	DS_UNUSED(state);

	snprintf(u, sizeof(u), "/chunked?size=%zu", n);
	req.url = url(SRV_PLAIN, "127.0.0.1", u);
	assert_int_equal(ds_http_perform(c, &req, &r), 0);
	assert_int_equal(r.status, 200);
	assert_null(r.body);
	assert_int_equal(r.body_len, n);
	assert_int_equal(s.got, n);
	/* More than a second of consuming in all: the whole-request deadline would have hit. */
	assert_true(s.pieces * 60 > 1500);
	ds_http_response_free(&r);
	/* A body that stops arriving still times out. */
	assert_int_equal(get(c, url(SRV_PLAIN, "127.0.0.1", "/stall"), &r), -ETIMEDOUT);
	ds_http_client_free(c);
}

static void test_truncated_response_is_econnreset(void **state)
{
	struct ds_http_client *c = client_with(NULL, 0, 0);
	struct ds_http_response r;
	DS_UNUSED(state);

	assert_int_equal(get(c, url(SRV_PLAIN, "127.0.0.1", "/close-early"), &r), -ECONNRESET);
	assert_null(r.body);
	ds_http_client_free(c);
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	port = ntohs(a.sin_port);
	close(fd); /* nothing listens there now */
	return port;
}

static void test_connection_refused(void **state)
{
	struct ds_http_client *c = client_with(NULL, 0, 0);
	struct ds_http_response r;
	char u[64];
	DS_UNUSED(state);

	snprintf(u, sizeof(u), "http://127.0.0.1:%d/", free_port());
	assert_int_equal(get(c, u, &r), -ECONNREFUSED);
	assert_true(strlen(ds_http_last_error(c)) > 0);
	ds_http_client_free(c);
}

static void test_unresolvable_host(void **state)
{
	struct ds_http_client *c = client_with(NULL, 0, 0);
	struct ds_http_response r;
	DS_UNUSED(state);

	/* An empty label: the resolver refuses it without asking a name server. */
	assert_int_equal(get(c, "http://no..such/", &r), -EHOSTUNREACH);
	assert_non_null(strstr(ds_http_last_error(c), "no..such"));
	ds_http_client_free(c);
}

static void test_ipv6_literal(void **state)
{
	struct ds_http_client *c;
	struct ds_http_response r;
	DS_UNUSED(state);

	if (g_srv[SRV_V6].pid <= 0)
		skip();
	c = client_with(NULL, 0, 0);
	assert_int_equal(get(c, url(SRV_V6, "[::1]", "/headers"), &r), 0);
	assert_int_equal(r.status, 200);
	char host[64];
	snprintf(host, sizeof(host), "host: [::1]:%d\n", g_srv[SRV_V6].port);
	assert_non_null(strstr(r.body, host));
	ds_http_response_free(&r);
	ds_http_client_free(c);
}

/* ---- TLS ------------------------------------------------------------------------------------- */

static void test_tls_ok_with_configured_ca(void **state)
{
	struct ds_http_client *c = client_with(g_ca, 0, 0);
	struct ds_http_response r;
	DS_UNUSED(state);

	assert_int_equal(get(c, url(SRV_TLS, "localhost", "/hello"), &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "hello, world\n");
	assert_string_equal(ds_http_header(&r, "x-weave-timestamp"), "1388635807.41");
	ds_http_response_free(&r);

	/* An IP literal is checked against the certificate's IP SAN. */
	assert_int_equal(get(c, url(SRV_TLS, "127.0.0.1", "/hello"), &r), 0);
	assert_int_equal(r.status, 200);
	ds_http_response_free(&r);

	/* A body over TLS, in several writes. */
	const size_t n = 70000;
	unsigned char *data = malloc(n);
	for (size_t i = 0; i < n; i++)
		data[i] = pattern_byte(i + 3);
	struct ds_http_request put = { .method = "PUT", .url = url(SRV_TLS, "localhost", "/echo"),
				       .body = data, .body_len = n };
	assert_int_equal(ds_http_perform(c, &put, &r), 0);
	check_echo(&r, "PUT", n, "70000", data);
	ds_http_response_free(&r);
	free(data);
	ds_http_client_free(c);
}

static void test_tls_refused_cert_not_from_configured_ca(void **state)
{
	struct ds_http_client *c = client_with(g_ca, 0, 0);
	struct ds_http_response r;
	DS_UNUSED(state);

	assert_int_equal(get(c, url(SRV_TLS_SELFSIGNED, "localhost", "/hello"), &r), -EKEYREJECTED);
	assert_non_null(strstr(ds_http_last_error(c), "self-signed"));
	assert_null(r.body);
	assert_true(strlen(ds_http_last_error(c)) > 0);
	ds_http_client_free(c);
}

static void test_tls_refused_wrong_hostname(void **state)
{
	struct ds_http_client *c = client_with(g_ca, 0, 0);
	struct ds_http_response r;
	DS_UNUSED(state);

	/* Signed by the trusted CA, but for wrong.example. */
	assert_int_equal(get(c, url(SRV_TLS_WRONGNAME, "localhost", "/hello"), &r), -EKEYREJECTED);
	assert_non_null(strstr(ds_http_last_error(c), "hostname mismatch"));
	assert_int_equal(get(c, url(SRV_TLS_WRONGNAME, "127.0.0.1", "/hello"), &r), -EKEYREJECTED);
	ds_http_client_free(c);
}

static void test_tls_refused_with_os_store(void **state)
{
	struct ds_http_client *c = client_with("", 0, 0);
	struct ds_http_response r;
	DS_UNUSED(state);

	/* The OS trust store does not know the test CA. */
	assert_int_equal(get(c, url(SRV_TLS, "localhost", "/hello"), &r), -EKEYREJECTED);
	assert_non_null(strstr(ds_http_last_error(c), "unable to get local issuer"));
	ds_http_client_free(c);
}

static void test_overlapping_clients_both_freed(void **state)
{
	struct ds_http_client *a = client_with(g_ca, 0, 0), *b = client_with(g_ca, 0, 0);
	struct ds_http_response r;
	DS_UNUSED(state);

	/*
	 * Two live clients (two worker threads, or a client next to the daemon's push context):
	 * lws 4.1.6 leaked the older context's SSL_CTX in this case (http_tls.h). The leak check
	 * of valgrind / LeakSanitizer is the assertion here.
	 */
	assert_int_equal(get(a, url(SRV_TLS, "localhost", "/hello"), &r), 0);
	ds_http_response_free(&r);
	assert_int_equal(get(b, url(SRV_TLS, "localhost", "/hello"), &r), 0);
	ds_http_response_free(&r);
	ds_http_client_free(a);
	assert_int_equal(get(b, url(SRV_TLS, "localhost", "/hello"), &r), 0);
	ds_http_response_free(&r);
	ds_http_client_free(b);
}

static void test_unusable_ca_bundle(void **state)
{
	char path[700];
	struct ds_http_config cfg = { .ca_bundle = path };
	struct ds_http_client *c = (void *)1;
	FILE *f;
	DS_UNUSED(state);

	snprintf(path, sizeof(path), "%s/garbage.pem", g_tmp);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("not a certificate\n", f);
	fclose(f);
	assert_int_equal(ds_http_client_new(&cfg, &c), -EINVAL);
	assert_null(c);
}

static void test_missing_ca_bundle(void **state)
{
	struct ds_http_config cfg = { .ca_bundle = "no-such-dir/ca.pem" };
	struct ds_http_client *c = (void *)1;
	DS_UNUSED(state);

	assert_int_equal(ds_http_client_new(&cfg, &c), -ENOENT);
	assert_null(c);
}

/*
 * The trust store is the largest thing a client holds: it is loaded on a client's first https
 * request only, and with OpenSSL one store serves every client holding it, and goes with the
 * last of them (http_tls.h).
 */
static void test_trust_store_loaded_once_and_only_for_tls(void **state)
{
	unsigned long base = ds_http_tls_trust_loads();
	struct ds_http_client *os = client_with("", 0, 0), *a = client_with(g_ca, 0, 0), *b;
	struct ds_http_response r;
	DS_UNUSED(state);

	/* http:// with the OS store or with a bundle: nothing loaded. */
	assert_int_equal(get(os, url(SRV_PLAIN, "127.0.0.1", "/hello"), &r), 0);
	ds_http_response_free(&r);
	assert_int_equal(get(a, url(SRV_PLAIN, "127.0.0.1", "/hello"), &r), 0);
	ds_http_response_free(&r);
	assert_int_equal(ds_http_tls_trust_loads(), base);

	/* The first https request loads it, the next ones of that client do not. */
	assert_int_equal(get(a, url(SRV_TLS, "localhost", "/hello"), &r), 0);
	ds_http_response_free(&r);
	assert_int_equal(ds_http_tls_trust_loads(), base + 1);
	assert_int_equal(get(a, url(SRV_TLS, "localhost", "/hello"), &r), 0);
	ds_http_response_free(&r);
	assert_int_equal(ds_http_tls_trust_loads(), base + 1);

	/* A second client with the same bundle, while the first holds it. */
	b = client_with(g_ca, 0, 0);
	assert_int_equal(get(b, url(SRV_TLS, "localhost", "/hello"), &r), 0);
	ds_http_response_free(&r);
#if defined(LWS_WITH_MBEDTLS)
	/* lws 4.1.6 on mbedTLS parses the bundle into each context: no sharing there. */
	assert_int_equal(ds_http_tls_trust_loads(), base + 2);
	base++;
#else
	assert_int_equal(ds_http_tls_trust_loads(), base + 1);
#endif
	/* Verification is the same through the shared store: another CA is still refused. */
	assert_int_equal(get(b, url(SRV_TLS_SELFSIGNED, "localhost", "/hello"), &r), -EKEYREJECTED);
	ds_http_client_free(a);
	assert_int_equal(get(b, url(SRV_TLS, "localhost", "/hello"), &r), 0);
	ds_http_response_free(&r);
	ds_http_client_free(b);

	/* The last holder gone, the store went with it: the next TLS client loads it again. */
	b = client_with(g_ca, 0, 0);
	assert_int_equal(get(b, url(SRV_TLS, "localhost", "/hello"), &r), 0);
	ds_http_response_free(&r);
	assert_int_equal(ds_http_tls_trust_loads(), base + 2);
	ds_http_client_free(b);
	assert_int_equal(get(os, url(SRV_PLAIN, "127.0.0.1", "/hello"), &r), 0);
	ds_http_response_free(&r);
	ds_http_client_free(os);
}

/* A bundle that looks like PEM but holds nothing usable is refused at its first use. */
static void test_broken_pem_bundle_refused_at_first_tls_request(void **state)
{
	char path[700];
	struct ds_http_config cfg = { .ca_bundle = path };
	struct ds_http_client *c = NULL;
	struct ds_http_response r;
	FILE *f;
	DS_UNUSED(state);

	snprintf(path, sizeof(path), "%s/broken.pem", g_tmp);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n", f);
	fclose(f);
	assert_int_equal(ds_http_client_new(&cfg, &c), 0);
	assert_int_equal(get(c, url(SRV_TLS, "localhost", "/hello"), &r), -EINVAL);
	assert_non_null(strstr(ds_http_last_error(c), "broken.pem"));
	/* Plain http still works, and the bad bundle is refused again, not half-loaded. */
	assert_int_equal(get(c, url(SRV_PLAIN, "127.0.0.1", "/hello"), &r), 0);
	ds_http_response_free(&r);
	assert_int_equal(get(c, url(SRV_TLS, "localhost", "/hello"), &r), -EINVAL);
	ds_http_client_free(c);
}

/* A released client gives its context and trust back and makes them again when used. */
static void test_release_between_runs(void **state)
{
	struct ds_http_client *c = client_with(g_ca, 0, 0);
	struct ds_http_response r;
	unsigned long base;
	DS_UNUSED(state);

	ds_http_client_release(c); /* before any request: nothing to give back */
	base = ds_http_tls_trust_loads();
	assert_int_equal(get(c, url(SRV_TLS, "localhost", "/hello"), &r), 0);
	ds_http_response_free(&r);
	assert_int_equal(ds_http_tls_trust_loads(), base + 1);
	ds_http_client_release(c);
	ds_http_client_release(c);
	/* http:// after a release: a new context, still no trust store. */
	assert_int_equal(get(c, url(SRV_PLAIN, "127.0.0.1", "/hello"), &r), 0);
	ds_http_response_free(&r);
	assert_int_equal(ds_http_tls_trust_loads(), base + 1);
	/* The store went with the release (no other holder): https loads it again, and still
	 * verifies: a server of another CA is refused. */
	assert_int_equal(get(c, url(SRV_TLS_SELFSIGNED, "localhost", "/hello"), &r), -EKEYREJECTED);
	assert_int_equal(ds_http_tls_trust_loads(), base + 2);
	assert_int_equal(get(c, url(SRV_TLS, "localhost", "/hello"), &r), 0);
	ds_http_response_free(&r);
	assert_int_equal(ds_http_tls_trust_loads(), base + 2);
	ds_http_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_parse),
		cmocka_unit_test(test_http_date_forms),
		cmocka_unit_test(test_retry_after_and_backoff_values),
		cmocka_unit_test(test_get_200_with_protocol_headers),
		cmocka_unit_test(test_unlisted_custom_header_kept_on_request),
		cmocka_unit_test(test_get_chunked_300k),
		cmocka_unit_test(test_streamed_body_deadline_counts_from_the_last_piece),
		cmocka_unit_test(test_put_post_bodies_echoed),
		cmocka_unit_test(test_post_put_without_body_send_content_length_0),
		cmocka_unit_test(test_streamed_upload),
		cmocka_unit_test(test_delete_204_no_body),
		cmocka_unit_test(test_methods_sent_verbatim),
		cmocka_unit_test(test_methods_lws41_cannot_send_fail_fast),
		cmocka_unit_test(test_request_headers_reach_server),
		cmocka_unit_test(test_header_injection_refused),
		cmocka_unit_test(test_error_statuses_keep_their_body),
		cmocka_unit_test(test_response_over_cap_is_efbig),
		cmocka_unit_test(test_stalled_server_times_out),
		cmocka_unit_test(test_truncated_response_is_econnreset),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_unresolvable_host),
		cmocka_unit_test(test_ipv6_literal),
		cmocka_unit_test(test_tls_ok_with_configured_ca),
		cmocka_unit_test(test_tls_refused_cert_not_from_configured_ca),
		cmocka_unit_test(test_tls_refused_wrong_hostname),
		cmocka_unit_test(test_tls_refused_with_os_store),
		cmocka_unit_test(test_overlapping_clients_both_freed),
		cmocka_unit_test(test_unusable_ca_bundle),
		cmocka_unit_test(test_missing_ca_bundle),
		cmocka_unit_test(test_trust_store_loaded_once_and_only_for_tls),
		cmocka_unit_test(test_broken_pem_bundle_refused_at_first_tls_request),
		cmocka_unit_test(test_release_between_runs),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
