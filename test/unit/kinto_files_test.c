/*
 * Files of Kinto records (kinto_files.c) and the HTTP client's streamed response bodies
 * (ds_http body_write), against a small HTTP server forked from the test on 127.0.0.1:
 *   GET  /blob            N pattern bytes (Range: bytes=K- answered with 206)
 *   GET  /cut             announces N bytes, sends CUT of them and closes
 *   GET  /missing         404 with a small JSON body
 *   POST (any path)       a kinto-attachment stand-in: keeps the multipart part's bytes and
 *                         answers {"hash": SHA-256 of them, ...}; GET /stored serves them
 * The server's state is kept in files under DS_TEST_TMP, so a forked child per connection
 * sees what an earlier one stored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "net/ds_http.h"
#include "remote/kinto/kinto_priv.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define N_BLOB 300001
#define N_CUT 100000

static char g_tmp[512];
static int g_port;
static pid_t g_pid;

static unsigned char pat(size_t i)
{
	return (unsigned char)((i * 7 + (i >> 9)) & 0xff);
}

static void put_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);
		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

static void sha_hex(const void *d, size_t n, char out[65])
{
	uint8_t h[32];

	ds_sha256(d, n, h);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static char *find_ci(char *h, const char *needle)
{
	size_t n = strlen(needle);

	for (; *h; h++)
		if (!strncasecmp(h, needle, n))
			return h;
	return NULL;
}

/* One connection: read the request (headers, then Content-Length bytes), answer, close. */
static void serve(int c)
{
	size_t cap = 1 << 20, len = 0, hdr_end = 0, clen = 0;
	char *req = malloc(cap + 1), *p, path[600];
	unsigned long long from = 0;

	for (;;) {
		ssize_t r = read(c, req + len, cap - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		req[len] = '\0';
		if (!hdr_end && (p = strstr(req, "\r\n\r\n"))) {
			hdr_end = (size_t)(p - req) + 4;
			p = find_ci(req, "\r\ncontent-length:");
			clen = p ? strtoul(p + 17, NULL, 10) : 0;
			if (hdr_end + clen > cap) {
				cap = hdr_end + clen;
				req = realloc(req, cap + 1);
			}
		}
		if (hdr_end && len >= hdr_end + clen)
			break;
	}
	req[len] = '\0';
	p = find_ci(req, "\r\nrange: bytes=");
	if (p)
		from = strtoull(p + 15, NULL, 10);
	if (!strncmp(req, "GET /blob ", 10) || !strncmp(req, "GET /cut ", 9)) {
		int cut = !strncmp(req, "GET /cut ", 9);
		unsigned char *b = malloc(N_BLOB);
		char h[256];

		for (size_t i = 0; i < N_BLOB; i++)
			b[i] = pat(i);
		if (from)
			snprintf(h, sizeof(h), "HTTP/1.1 206 Partial Content\r\nContent-Length: %llu\r\n"
				 "Content-Range: bytes %llu-%d/%d\r\nConnection: close\r\n\r\n",
				 N_BLOB - from, from, N_BLOB - 1, N_BLOB);
		else
			snprintf(h, sizeof(h), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
				 "Connection: close\r\n\r\n", N_BLOB);
		put_all(c, h, strlen(h));
		put_all(c, b + from, cut && !from ? N_CUT : N_BLOB - from);
		free(b);
	} else if (!strncmp(req, "POST ", 5)) {
		/* The part's bytes: after the part's headers, up to the closing boundary line. */
		char *body = req + hdr_end, *start = strstr(body, "\r\n\r\n"), hex[65], out[512];
		size_t n = 0;

		if (start) {
			start += 4;
			for (size_t i = len; i > (size_t)(start - req) + 4; i--)
				if (!memcmp(req + i - 4, "\r\n--", 4)) {
					n = i - 4 - (size_t)(start - req);
					break;
				}
		}
		snprintf(path, sizeof(path), "%s/stored", g_tmp);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		put_all(fd, start, n);
		close(fd);
		sha_hex(start, n, hex);
		snprintf(out, sizeof(out), "{\"filename\":\"x\",\"location\":\"http://127.0.0.1:%d/stored\","
			 "\"hash\":\"%s\",\"mimetype\":\"application/octet-stream\",\"size\":%zu}",
			 g_port, hex, n);
		char h[256];
		snprintf(h, sizeof(h), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			 "ETag: \"1700000000123\"\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			 strlen(out));
		put_all(c, h, strlen(h));
		put_all(c, out, strlen(out));
	} else if (!strncmp(req, "GET /stored ", 12)) {
		struct stat st;
		char h[200];
		char *b;

		snprintf(path, sizeof(path), "%s/stored", g_tmp);
		int fd = open(path, O_RDONLY);
		fstat(fd, &st);
		b = malloc((size_t)st.st_size + 1);
		ssize_t got = read(fd, b, (size_t)st.st_size);
		close(fd);
		snprintf(h, sizeof(h), "HTTP/1.1 200 OK\r\nContent-Length: %zd\r\nConnection: close\r\n\r\n",
			 got);
		put_all(c, h, strlen(h));
		put_all(c, b, (size_t)got);
		free(b);
	} else {
		const char *m = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
				"Content-Length: 24\r\nConnection: close\r\n\r\n{\"code\":404,\"errno\":111}";
		put_all(c, m, strlen(m));
	}
	free(req);
	shutdown(c, SHUT_WR);
	close(c);
}

static int setup(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	const char *t = getenv("DS_TEST_TMP");
	int s;

	DS_UNUSED(state);
	if (t && *t) {
		snprintf(g_tmp, sizeof(g_tmp), "%s/kinto_files", t);
		mkdir(g_tmp, 0700);
	} else {
		const char *base = getenv("TMPDIR");

		snprintf(g_tmp, sizeof(g_tmp), "%s/ds-kinto-files-XXXXXX", base && *base ? base : P_tmpdir);
		if (!mkdtemp(g_tmp))
			return -1;
	}
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 16) ||
	    getsockname(s, (struct sockaddr *)&a, &al))
		return -1;
	g_port = ntohs(a.sin_port);
	g_pid = fork();
	if (g_pid == 0) {
		signal(SIGCHLD, SIG_IGN);
		for (;;) {
			int c = accept(s, NULL, NULL);
			if (c < 0)
				continue;
			if (fork() == 0) {
				serve(c);
				_exit(0);
			}
			close(c);
		}
	}
	close(s);
	return g_pid > 0 ? 0 : -1;
}

static int teardown(void **state)
{
	DS_UNUSED(state);
	kill(g_pid, SIGKILL);
	waitpid(g_pid, NULL, 0);
	return 0;
}

static char *url(const char *path)
{
	static char u[128];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d%s", g_port, path);
	return u;
}

struct sink {
	size_t n;
	size_t bad_at; /* first byte that differs from the pattern, or SIZE_MAX */
	size_t fail_after;
};

static int sink_cb(const void *d, size_t len, void *ud)
{
	struct sink *s = ud;
	const unsigned char *b = d;

	if (s->fail_after && s->n + len > s->fail_after)
		return -ENOSPC;
	for (size_t i = 0; i < len; i++)
		if (b[i] != pat(s->n + i) && s->bad_at == SIZE_MAX)
			s->bad_at = s->n + i;
	s->n += len;
	return 0;
}

static void test_streamed_response_bypasses_the_memory_cap(void **state)
{
	struct ds_http_config cfg = { .max_response = 1024 };
	struct ds_http_client *c;
	struct ds_http_response r;
	struct sink s = { .bad_at = SIZE_MAX };
	struct ds_http_request req = { .url = url("/blob"), .body_write = sink_cb,
				       .body_write_user_data = &s };
	DS_UNUSED(state);

	assert_int_equal(ds_http_client_new(&cfg, &c), 0);
	assert_int_equal(ds_http_perform(c, &req, &r), 0);
	assert_int_equal(r.status, 200);
	assert_null(r.body);
	assert_int_equal(r.body_len, N_BLOB);
	assert_int_equal(s.n, N_BLOB);
	assert_true(s.bad_at == SIZE_MAX);
	ds_http_response_free(&r);
	/* Without the sink the same body is over the cap. */
	req.body_write = NULL;
	assert_int_equal(ds_http_perform(c, &req, &r), -EFBIG);
	ds_http_client_free(c);
}

static void test_sink_error_aborts_and_errors_stay_in_memory(void **state)
{
	struct ds_http_client *c;
	struct ds_http_response r;
	struct sink s = { .bad_at = SIZE_MAX, .fail_after = 5000 };
	struct ds_http_request req = { .url = url("/blob"), .body_write = sink_cb,
				       .body_write_user_data = &s };
	DS_UNUSED(state);

	assert_int_equal(ds_http_client_new(NULL, &c), 0);
	assert_int_equal(ds_http_perform(c, &req, &r), -ENOSPC);
	/* A 404's body is not a download: kept for the error message, sink untouched. */
	memset(&s, 0, sizeof(s));
	s.bad_at = SIZE_MAX;
	req.url = url("/missing");
	assert_int_equal(ds_http_perform(c, &req, &r), 0);
	assert_int_equal(r.status, 404);
	assert_non_null(r.body);
	assert_int_equal(s.n, 0);
	ds_http_response_free(&r);
	ds_http_client_free(c);
}

static int blob_att(char *out, size_t cap, const char *path)
{
	unsigned char *b = malloc(N_BLOB);
	char hex[65];

	for (size_t i = 0; i < N_BLOB; i++)
		b[i] = pat(i);
	sha_hex(b, N_BLOB, hex);
	free(b);
	return snprintf(out, cap, "{\"location\":\"%s\",\"hash\":\"%s\",\"size\":%d}", url(path), hex,
			N_BLOB);
}

static void check_blob_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t i = 0;
	int ch;

	assert_non_null(f);
	while ((ch = fgetc(f)) != EOF) {
		if ((unsigned char)ch != pat(i))
			fail_msg("byte %zu differs", i);
		i++;
	}
	fclose(f);
	assert_int_equal(i, N_BLOB);
}

static void test_download_resumes_after_a_cut_and_checks_the_hash(void **state)
{
	struct ds_kinto_api a = { 0 };
	struct ds_kinto_key nokey = { 0 };
	struct ds_kinto_file_result res;
	char att[300], path[600], part[620];
	struct stat st;
	DS_UNUSED(state);

	assert_int_equal(ds_kinto_api_init(&a, url("/v1"), NULL, "t"), 0);
	snprintf(path, sizeof(path), "%s/blob.jpg", g_tmp);
	snprintf(part, sizeof(part), "%s.dspart", path);
	unlink(path);
	unlink(part);
	blob_att(att, sizeof(att), "/cut");
	/* The cut: an error, the part kept with what arrived, no file. */
	assert_int_not_equal(ds_kinto_file_download(&a, &nokey, "c", "r1", att, strlen(att), path, &res), 0);
	assert_int_equal(stat(part, &st), 0);
	assert_int_equal(st.st_size, N_CUT);
	assert_int_equal(stat(path, &st), -1);
	/* Resumed (the /cut URL answers a Range request in full). */
	assert_int_equal(ds_kinto_file_download(&a, &nokey, "c", "r1", att, strlen(att), path, &res), 0);
	check_blob_file(path);
	assert_int_equal(stat(part, &st), -1);
	/* A hash that does not match: refused, the existing file untouched. */
	blob_att(att, sizeof(att), "/blob");
	memcpy(strstr(att, "\"hash\":\"") + 8, "00", 2);
	assert_int_equal(ds_kinto_file_download(&a, &nokey, "c", "r1", att, strlen(att), path, &res),
			 -EBADMSG);
	check_blob_file(path);
	assert_int_equal(stat(part, &st), -1);
	/* Malformed attachments. */
	assert_int_equal(ds_kinto_file_download(&a, &nokey, "c", "r1", "{}", 2, path, &res), -EBADMSG);
	snprintf(att, sizeof(att), "{\"location\":\"file:///etc/passwd\",\"hash\":\"%064d\",\"size\":1}", 0);
	assert_int_equal(ds_kinto_file_download(&a, &nokey, "c", "r1", att, strlen(att), path, &res), -EBADMSG);
	ds_kinto_api_free(&a);
}

static bool same_file(const char *x, const char *y)
{
	FILE *f = fopen(x, "rb"), *g = fopen(y, "rb");
	int a, b;
	bool same = f && g;

	while (same) {
		a = fgetc(f);
		b = fgetc(g);
		if (a != b)
			same = false;
		if (a == EOF || b == EOF)
			break;
	}
	if (f)
		fclose(f);
	if (g)
		fclose(g);
	return same;
}

static void test_sealed_upload_round_trip_bound_to_the_record(void **state)
{
	struct ds_kinto_api a = { 0 };
	struct ds_kinto_key key = { .set = true }, other = { .set = true }, nokey = { 0 };
	struct ds_kinto_file_result up, down;
	char src[600], dst[600], stored[600];
	struct stat st;
	DS_UNUSED(state);

	for (int i = 0; i < DS_KINTO_KEY_LEN; i++) {
		key.key[i] = (uint8_t)i;
		other.key[i] = (uint8_t)(i + 1);
	}
	assert_int_equal(ds_kinto_api_init(&a, url("/v1"), NULL, "t"), 0);
	snprintf(src, sizeof(src), "%s/src.bin", g_tmp);
	snprintf(dst, sizeof(dst), "%s/dst.bin", g_tmp);
	snprintf(stored, sizeof(stored), "%s/stored", g_tmp);
	{
		FILE *f = fopen(src, "wb");
		for (size_t i = 0; i < N_BLOB; i++)
			fputc(pat(i), f);
		fclose(f);
	}
	/* Sealed: the stand-in hashed what it stored and the upload compared it with its own. */
	assert_int_equal(ds_kinto_file_upload(&a, &key, "c", "/buckets/b/collections/c", "r1", src, &up), 0);
	assert_int_equal(up.size, N_BLOB + DS_GCM_IV_LEN + DS_GCM_TAG_LEN);
	assert_true(up.new_ms == 1700000000123);
	assert_non_null(up.att);
	assert_int_equal(stat(stored, &st), 0);
	assert_int_equal(st.st_size, N_BLOB + DS_GCM_IV_LEN + DS_GCM_TAG_LEN);
	assert_false(same_file(src, stored));
	/* Opened by the same key for the same record only. */
	unlink(dst);
	assert_int_equal(ds_kinto_file_download(&a, &key, "c", "r2", up.att, strlen(up.att), dst, &down),
			 -EBADMSG);
	assert_int_equal(stat(dst, &st), -1);
	assert_int_equal(ds_kinto_file_download(&a, &key, "d", "r1", up.att, strlen(up.att), dst, &down),
			 -EBADMSG);
	assert_int_equal(ds_kinto_file_download(&a, &other, "c", "r1", up.att, strlen(up.att), dst, &down),
			 -EBADMSG);
	assert_int_equal(stat(dst, &st), -1);
	assert_int_equal(ds_kinto_file_download(&a, &key, "c", "r1", up.att, strlen(up.att), dst, &down), 0);
	assert_true(same_file(src, dst));
	assert_string_equal(down.hash, up.hash);
	ds_free(up.att);
	/* Cleartext: the stored bytes are the file's. */
	assert_int_equal(ds_kinto_file_upload(&a, &nokey, "c", "/buckets/b/collections/c", "r1", src, &up), 0);
	assert_int_equal(up.size, N_BLOB);
	assert_true(same_file(src, stored));
	ds_free(up.att);
	/* A missing file. */
	unlink(dst);
	assert_int_equal(ds_kinto_file_upload(&a, &nokey, "c", "/b", "r1", dst, &up), -ENOENT);
	ds_kinto_api_free(&a);
}

static void test_registration_and_names(void **state)
{
	struct ds_kinto_files *f;
	cJSON *cfg;
	char *p;
	DS_UNUSED(state);

	cfg = cJSON_Parse("{\"files\":{\"field\":\"photo\",\"dir\":\"/data/app\"}}");
	assert_int_equal(ds_kinto_files_config(cfg, &f), 0);
	assert_non_null(f);
	assert_int_equal(ds_kinto_files_path(f, "{\"photo\":\"a/b.jpg\",\"x\":1}", &p), 0);
	assert_string_equal(p, "/data/app/a/b.jpg");
	ds_free(p);
	assert_int_equal(ds_kinto_files_path(f, "{\"photo\":null}", &p), 0);
	assert_null(p);
	assert_int_equal(ds_kinto_files_path(f, "{\"other\":\"x\"}", &p), 0);
	assert_null(p);
	static const char *const bad[] = { "{\"photo\":\"../etc/passwd\"}", "{\"photo\":\"/etc/passwd\"}",
		"{\"photo\":\"a//b\"}", "{\"photo\":\"a/.hidden\"}", "{\"photo\":\"a/\"}" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ds_kinto_files_path(f, bad[i], &p), -EINVAL);
		assert_null(p);
	}
	ds_kinto_files_free(f);
	cJSON_Delete(cfg);
	static const char *const badcfg[] = { "{\"files\":{\"field\":\"photo\"}}",
		"{\"files\":{\"field\":\"\",\"dir\":\"/x\"}}", "{\"files\":{\"field\":\"p\",\"dir\":\"rel\"}}",
		"{\"files\":3}" };
	for (size_t i = 0; i < sizeof(badcfg) / sizeof(badcfg[0]); i++) {
		cfg = cJSON_Parse(badcfg[i]);
		assert_int_equal(ds_kinto_files_config(cfg, &f), -EINVAL);
		assert_null(f);
		cJSON_Delete(cfg);
	}
	cfg = cJSON_Parse("{}");
	assert_int_equal(ds_kinto_files_config(cfg, &f), 0);
	assert_null(f);
	cJSON_Delete(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_streamed_response_bypasses_the_memory_cap),
		cmocka_unit_test(test_sink_error_aborts_and_errors_stay_in_memory),
		cmocka_unit_test(test_download_resumes_after_a_cut_and_checks_the_hash),
		cmocka_unit_test(test_sealed_upload_round_trip_bound_to_the_record),
		cmocka_unit_test(test_registration_and_names),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
