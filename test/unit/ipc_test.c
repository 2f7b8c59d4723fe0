/* Control-socket framing and the server/client pair over a real unix socket on the loop. */
#include "core/ds_core.h"
#include "core/ds_loop.h"
#include "ipc/ds_ipc.h"
#include <datasync/datasync.h>

#include <cjson/cJSON.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- framing ----------------------------------------------------------------------------------- */

static void test_frame_splits_lines_across_reads(void **state)
{
	struct ds_ipc_frame f;
	char *line;
	size_t len;

	DS_UNUSED(state);
	ds_ipc_frame_init(&f, 64, ds_malloc, ds_free);
	assert_int_equal(ds_ipc_frame_feed(&f, "{\"a\":", 5), 0);
	assert_int_equal(ds_ipc_frame_next(&f, &line, &len), 0);
	assert_int_equal(ds_ipc_frame_feed(&f, "1}\r\n\n{\"b\":2}\n{\"c\"", 17), 0);
	assert_int_equal(ds_ipc_frame_next(&f, &line, &len), 1);
	assert_string_equal(line, "{\"a\":1}"); /* CR dropped */
	assert_int_equal(len, 7);
	assert_int_equal(ds_ipc_frame_next(&f, &line, &len), 1); /* the empty line is skipped */
	assert_string_equal(line, "{\"b\":2}");
	assert_int_equal(ds_ipc_frame_next(&f, &line, &len), 0);
	assert_int_equal(ds_ipc_frame_feed(&f, ":3}\n", 4), 0);
	assert_int_equal(ds_ipc_frame_next(&f, &line, &len), 1);
	assert_string_equal(line, "{\"c\":3}");
	assert_int_equal(ds_ipc_frame_next(&f, &line, &len), 0);
	ds_ipc_frame_free(&f);
}

static void test_frame_limit_is_exact(void **state)
{
	struct ds_ipc_frame f;
	char buf[40], *line;
	size_t len;

	DS_UNUSED(state);
	/* A line of exactly max bytes passes, max + 1 is refused, complete or not. */
	ds_ipc_frame_init(&f, 32, ds_malloc, ds_free);
	memset(buf, 'x', sizeof(buf));
	buf[32] = '\n';
	assert_int_equal(ds_ipc_frame_feed(&f, buf, 33), 0);
	assert_int_equal(ds_ipc_frame_next(&f, &line, &len), 1);
	assert_int_equal(len, 32);
	memset(buf, 'x', sizeof(buf));
	buf[33] = '\n';
	assert_int_equal(ds_ipc_frame_feed(&f, buf, 34), 0);
	assert_int_equal(ds_ipc_frame_next(&f, &line, &len), -EMSGSIZE);
	ds_ipc_frame_free(&f);

	ds_ipc_frame_init(&f, 32, ds_malloc, ds_free);
	assert_int_equal(ds_ipc_frame_feed(&f, buf, 33), 0); /* no newline yet, already too long */
	assert_int_equal(ds_ipc_frame_next(&f, &line, &len), -EMSGSIZE);
	ds_ipc_frame_free(&f);
}

static void test_frame_allocation_failure(void **state)
{
	struct ds_ipc_frame f;

	DS_UNUSED(state);
	ds_ipc_frame_init(&f, 64, ds_malloc, ds_free);
	ds_alloc_fail_after(1);
	assert_int_equal(ds_ipc_frame_feed(&f, "{}\n", 3), -ENOMEM);
	ds_alloc_fail_after(0);
	ds_ipc_frame_free(&f);
}

/* ---- server and client --------------------------------------------------------------------------- */

struct fixture {
	char dir[512];
	char path[600];
	struct ds_loop *loop;
	struct ds_ipc_server *srv;
	uint64_t held_conn; /* a "hold" request waiting for "release" */
	int64_t held_id;
	bool holding;
	pthread_t th;
	void (*client)(struct fixture *fx);
	int client_failed;
	char failure[256];
};

static int handler(struct ds_ipc_server *s, uint64_t conn, int64_t id, const char *cmd, cJSON *req, void *ud)
{
	struct fixture *fx = ud;
	cJSON *body;

	if (!strcmp(cmd, "echo")) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, "value");

		body = cJSON_CreateObject();
		cJSON_AddItemToObject(body, "value", cJSON_Duplicate(v, true));
		ds_ipc_reply(s, conn, id, body);
		return 0;
	}
	if (!strcmp(cmd, "hold")) {
		fx->held_conn = conn;
		fx->held_id = id;
		fx->holding = true;
		return 1;
	}
	if (!strcmp(cmd, "release")) {
		/* Answer the held request first: the client sees replies out of request order. */
		if (fx->holding) {
			body = cJSON_CreateObject();
			cJSON_AddStringToObject(body, "held", "done");
			ds_ipc_reply(s, fx->held_conn, fx->held_id, body);
			fx->holding = false;
		}
		ds_ipc_reply(s, conn, id, NULL);
		return 0;
	}
	ds_ipc_reply_error(s, conn, id, -ENOTSUP, "unknown command '%s'", cmd);
	return 0;
}

static void stop_loop(void *ud)
{
	ds_loop_stop(ud);
}

static void *client_thread(void *arg)
{
	struct fixture *fx = arg;

	fx->client(fx);
	ds_loop_post(fx->loop, stop_loop, fx->loop);
	return NULL;
}

#define CHECK(fx, cond)                                                                              \
	do {                                                                                         \
		if (!(cond) && !(fx)->client_failed) {                                               \
			(fx)->client_failed = __LINE__;                                              \
			snprintf((fx)->failure, sizeof((fx)->failure), "line %d: %s", __LINE__, #cond); \
		}                                                                                    \
	} while (0)

static void run_with_client(struct fixture *fx, void (*client)(struct fixture *fx), unsigned max_clients,
			    size_t max_message)
{
	const char *tmp = getenv("DS_TEST_TMP");
	struct ds_ipc_server_config cfg = { 0 };
	struct stat st;

	if (tmp) {
		snprintf(fx->dir, sizeof(fx->dir), "%s/ipc-XXXXXX", tmp);
	} else {
		const char *t = getenv("TMPDIR");

		snprintf(fx->dir, sizeof(fx->dir), "%s/ipc-XXXXXX", t ? t : P_tmpdir);
	}
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/s.sock", fx->dir);
	assert_int_equal(ds_loop_new(&fx->loop), 0);
	cfg.path = fx->path;
	cfg.max_clients = max_clients;
	cfg.max_message = max_message;
	assert_int_equal(ds_ipc_server_new(fx->loop, &cfg, handler, fx, &fx->srv), 0);
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	fx->client = client;
	assert_int_equal(pthread_create(&fx->th, NULL, client_thread, fx), 0);
	assert_int_equal(ds_loop_run(fx->loop), 0);
	pthread_join(fx->th, NULL);
	ds_ipc_server_free(fx->srv);
	/* The socket file goes with the server. */
	assert_int_not_equal(stat(fx->path, &st), 0);
	ds_loop_free(fx->loop);
	rmdir(fx->dir);
	if (fx->client_failed)
		fail_msg("client: %s", fx->failure);
}

static void client_round_trips(struct fixture *fx)
{
	struct ds_client *c;
	char *resp = NULL;
	cJSON *r;

	CHECK(fx, ds_client_open(fx->path, &c) == 0);
	if (!c)
		return;
	CHECK(fx, ds_client_call(c, "{\"cmd\":\"echo\",\"value\":[1,\"two\"]}", &resp) == 0);
	r = cJSON_Parse(resp);
	CHECK(fx, cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")));
	CHECK(fx, cJSON_GetArraySize(cJSON_GetObjectItem(r, "value")) == 2);
	CHECK(fx, cJSON_GetObjectItem(r, "id")->valueint == 1);
	cJSON_Delete(r);
	ds_client_free(resp);

	/* A refusal is the daemon's errno and message. */
	CHECK(fx, ds_client_call(c, "{\"cmd\":\"frobnicate\"}", &resp) == -ENOTSUP);
	CHECK(fx, strcmp(ds_client_error(c), "unknown command 'frobnicate'") == 0);
	CHECK(fx, resp && strstr(resp, "\"errno\":95"));
	ds_client_free(resp);

	/* Not JSON: refused by the client before anything is sent. */
	CHECK(fx, ds_client_call(c, "status", NULL) == -EINVAL);
	ds_client_close(c);
}

static void test_round_trip_and_errors(void **state)
{
	struct fixture fx = { 0 };

	DS_UNUSED(state);
	run_with_client(&fx, client_round_trips, 4, 4096);
}

/* Raw socket helpers for what the client library never sends. */
static int raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

static size_t raw_read_all(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	while (got + 1 < cap && (n = read(fd, buf + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	return got;
}

static void client_bad_input(struct fixture *fx)
{
	char big[300], buf[2048];
	int fd = raw_connect(fx->path);

	CHECK(fx, fd >= 0);
	/* Malformed lines get an error each and the connection stays usable; then an oversize
	 * message gets its error and the daemon closes the connection. */
	const char *lines = "not json\n[1,2]\n{\"cmd\":\"echo\"}\n{\"id\":1.5,\"cmd\":\"echo\"}\n"
			    "{\"id\":7}\n{\"id\":8,\"cmd\":\"echo\",\"value\":true}\n";
	CHECK(fx, write(fd, lines, strlen(lines)) == (ssize_t)strlen(lines));
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	CHECK(fx, write(fd, big, sizeof(big)) == (ssize_t)sizeof(big));
	raw_read_all(fd, buf, sizeof(buf)); /* returns at EOF: the server closed */
	close(fd);
	CHECK(fx, strstr(buf, "\"error\":\"request is not a JSON object\""));
	CHECK(fx, strstr(buf, "no \\\"id\\\""));
	CHECK(fx, strstr(buf, "{\"id\":7,\"ok\":false,\"error\":\"request has no \\\"cmd\\\" string\",\"errno\":22}"));
	CHECK(fx, strstr(buf, "{\"id\":8,\"ok\":true,\"value\":true}"));
	CHECK(fx, strstr(buf, "message longer than 256 bytes"));
}

static void test_malformed_and_oversize_messages(void **state)
{
	struct fixture fx = { 0 };

	DS_UNUSED(state);
	run_with_client(&fx, client_bad_input, 4, 256);
}

static void client_too_many(struct fixture *fx)
{
	struct ds_client *a = NULL, *b = NULL;
	char buf[512];
	int fd;

	CHECK(fx, ds_client_open(fx->path, &a) == 0);
	CHECK(fx, ds_client_open(fx->path, &b) == 0);
	/* Make sure both are accepted before the third knocks. */
	CHECK(fx, ds_client_call(a, "{\"cmd\":\"echo\"}", NULL) == 0);
	CHECK(fx, ds_client_call(b, "{\"cmd\":\"echo\"}", NULL) == 0);
	fd = raw_connect(fx->path);
	CHECK(fx, fd >= 0);
	raw_read_all(fd, buf, sizeof(buf));
	close(fd);
	CHECK(fx, strstr(buf, "too many clients (at most 2)"));
	ds_client_close(b);
	ds_client_close(a);
}

static void test_client_limit(void **state)
{
	struct fixture fx = { 0 };

	DS_UNUSED(state);
	run_with_client(&fx, client_too_many, 2, 4096);
}

static void client_deferred(struct fixture *fx)
{
	struct ds_client *c = NULL, *d = NULL;
	char *resp = NULL;
	int fd;
	char buf[512];

	/* A raw connection sends "hold" and half-closes; the reply comes later on it anyway. */
	fd = raw_connect(fx->path);
	CHECK(fx, fd >= 0);
	CHECK(fx, write(fd, "{\"id\":41,\"cmd\":\"hold\"}\n", 23) == 23);
	shutdown(fd, SHUT_WR);
	CHECK(fx, ds_client_open(fx->path, &c) == 0);
	CHECK(fx, ds_client_open(fx->path, &d) == 0);
	CHECK(fx, ds_client_call(c, "{\"cmd\":\"release\"}", &resp) == 0);
	ds_client_free(resp);
	raw_read_all(fd, buf, sizeof(buf));
	close(fd);
	CHECK(fx, strcmp(buf, "{\"id\":41,\"ok\":true,\"held\":\"done\"}\n") == 0);
	ds_client_close(c);
	ds_client_close(d);
}

static void test_deferred_reply_after_half_close(void **state)
{
	struct fixture fx = { 0 };

	DS_UNUSED(state);
	run_with_client(&fx, client_deferred, 4, 4096);
}

static void test_no_daemon(void **state)
{
	struct ds_client *c = (struct ds_client *)1;

	DS_UNUSED(state);
	assert_int_equal(ds_client_open("no/such/dir/datasyncd.sock", &c), -ENOENT);
	assert_null(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_splits_lines_across_reads),
		cmocka_unit_test(test_frame_limit_is_exact),
		cmocka_unit_test(test_frame_allocation_failure),
		cmocka_unit_test(test_round_trip_and_errors),
		cmocka_unit_test(test_malformed_and_oversize_messages),
		cmocka_unit_test(test_client_limit),
		cmocka_unit_test(test_deferred_reply_after_half_close),
		cmocka_unit_test(test_no_daemon),
	};

	ds_log_set_max_level(DS_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
