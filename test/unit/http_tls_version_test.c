/*
 * The HTTP client's TLS floor, whichever TLS library libwebsockets is built on (OpenSSL, or
 * mbedTLS with make LWS=mbedtls): a server that speaks at most TLS 1.1 is refused, the same
 * server allowed TLS 1.2 is accepted (so the refusal is the version, not the set-up). The
 * server is Python's ssl module on 127.0.0.1; the CA and the server's certificate are made with
 * openssl into DS_TEST_TMP.
 */
#include "core/ds_core.h"
#include "net/ds_http.h"

#include <fcntl.h>
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

/*
 * argv: cert key highest-version. TLS 1.0 and 1.1 need OpenSSL's security level 0 on the
 * server side (OpenSSL 3 allows them at no other level). Exits when its stdin closes.
 */
static const char server_py[] =
	"import http.server, os, ssl, sys, threading, warnings\n"
	"warnings.simplefilter('ignore')\n"
	"class H(http.server.BaseHTTPRequestHandler):\n"
	"    def do_GET(self):\n"
	"        b = b'hello over ' + self.request.version().encode() + b'\\n'\n"
	"        self.send_response(200)\n"
	"        self.send_header('Content-Length', str(len(b)))\n"
	"        self.end_headers()\n"
	"        self.wfile.write(b)\n"
	"    def log_message(self, *a):\n"
	"        pass\n"
	"ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
	"ctx.set_ciphers('DEFAULT:@SECLEVEL=0')\n"
	"ctx.minimum_version = ssl.TLSVersion.TLSv1\n"
	"ctx.maximum_version = getattr(ssl.TLSVersion, sys.argv[3])\n"
	"ctx.load_cert_chain(sys.argv[1], sys.argv[2])\n"
	"s = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
	"s.socket = ctx.wrap_socket(s.socket, server_side=True)\n"
	"print('PORT %d' % s.server_address[1], flush=True)\n"
	"threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()\n"
	"s.serve_forever()\n";


static char g_tmp[512];
static char g_ca[600];
static struct ds_child_server g_tls11, g_tls12;

static int run(const char *cmd)
{
	char full[2048];
	snprintf(full, sizeof(full), "cd '%s' && (%s) >openssl.log 2>&1", g_tmp, cmd);
	return system(full);
}

static int make_certs(void)
{
	static const char *const cmds[] = {
		"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
		"-keyout ca.key -out ca.pem -subj /CN=datasync-tls-version-ca "
		"-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
		"printf 'subjectAltName=DNS:localhost\\n' > srv.ext && "
		"openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key "
		"-out srv.csr -subj /CN=localhost && "
		"openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
		"-extfile srv.ext -out srv.pem",
	};
	for (size_t i = 0; i < DS_ARRAY_SIZE(cmds); i++)
		if (run(cmds[i]) != 0)
			return -1;
	return 0;
}

static int start_server(struct ds_child_server *s, const char *max_version)
{
	char certp[600], keyp[600];
	char *argv[] = { "python3", "-c", (char *)server_py, certp, keyp, (char *)max_version, NULL };

	snprintf(certp, sizeof(certp), "%s/srv.pem", g_tmp);
	snprintf(keyp, sizeof(keyp), "%s/srv.key", g_tmp);
	return ds_child_server_start(s, argv);
}

static void stop_server(struct ds_child_server *s)
{
	ds_child_server_stop(s);
}

static int group_setup(void **state)
{
	const char *t = getenv("DS_TEST_TMP");
	DS_UNUSED(state);

	signal(SIGPIPE, SIG_IGN);
	if (t && *t) {
		snprintf(g_tmp, sizeof(g_tmp), "%s/tls-version", t);
		mkdir(g_tmp, 0700);
	} else {
		const char *base = getenv("TMPDIR");
		snprintf(g_tmp, sizeof(g_tmp), "%s/ds-tlsv-XXXXXX", base && *base ? base : P_tmpdir);
		if (!mkdtemp(g_tmp))
			return -1;
	}
	snprintf(g_ca, sizeof(g_ca), "%s/ca.pem", g_tmp);
	if (make_certs()) {
		fprintf(stderr, "openssl could not make the test certificates (see %s/openssl.log)\n", g_tmp);
		return -1;
	}
	if (start_server(&g_tls11, "TLSv1_1") || start_server(&g_tls12, "TLSv1_2")) {
		fprintf(stderr, "the Python TLS server did not start\n");
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	DS_UNUSED(state);
	stop_server(&g_tls11);
	stop_server(&g_tls12);
	return 0;
}

static int get(const struct ds_child_server *s, struct ds_http_response *r, char *err, size_t errlen)
{
	struct ds_http_config cfg = { .ca_bundle = g_ca, .timeout_s = 10 };
	struct ds_http_client *c = NULL;
	char u[128];
	int rc;

	snprintf(u, sizeof(u), "https://localhost:%d/", s->port);
	assert_int_equal(ds_http_client_new(&cfg, &c), 0);
	struct ds_http_request req = { .method = "GET", .url = u };
	rc = ds_http_perform(c, &req, r);
	snprintf(err, errlen, "%s", ds_http_last_error(c));
	ds_http_client_free(c);
	return rc;
}

static void test_tls12_server_accepted(void **state)
{
	struct ds_http_response r;
	char err[256];
	DS_UNUSED(state);

	assert_int_equal(get(&g_tls12, &r, err, sizeof(err)), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(r.body);
	assert_string_equal(r.body, "hello over TLSv1.2\n");
	ds_http_response_free(&r);
}

static void test_tls11_server_refused(void **state)
{
	struct ds_http_response r;
	char err[256];
	DS_UNUSED(state);

	memset(&r, 0, sizeof(r));
	assert_int_equal(get(&g_tls11, &r, err, sizeof(err)), -EKEYREJECTED);
	assert_null(r.body);
	assert_true(strlen(err) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls12_server_accepted),
		cmocka_unit_test(test_tls11_server_refused),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
