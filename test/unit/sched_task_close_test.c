/*
 * The control socket's close notification, which app tasks rely on (component/daemon/tasks.c):
 * a client that goes while a deferred reply is owed (an app's task-wait) is reported once, and
 * dropping or answering its request there frees its client slot at once; a half-closed client
 * still reads the reply it is given in the callback.
 */
#include "core/ds_core.h"
#include "core/ds_loop.h"
#include "ipc/ds_ipc.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

struct fixture {
	char dir[512];
	char path[600];
	struct ds_loop *loop;
	struct ds_ipc_server *srv;
	/* written on the loop thread, read by the client through "state" */
	uint64_t held_conn;
	int64_t held_id;
	bool holding, reply_on_close;
	unsigned closes, closes_of_held;
	int failed_line;
};

static int handler(struct ds_ipc_server *s, uint64_t conn, int64_t id, const char *cmd, cJSON *req, void *ud)
{
	struct fixture *fx = ud;
	cJSON *b;

	DS_UNUSED(req);
	if (!strcmp(cmd, "hold")) {
		fx->held_conn = conn;
		fx->held_id = id;
		fx->holding = true;
		return 1;
	}
	if (!strcmp(cmd, "reply-on-close")) {
		fx->reply_on_close = true;
		ds_ipc_reply(s, conn, id, NULL);
		return 0;
	}
	if (!strcmp(cmd, "state")) {
		b = cJSON_CreateObject();
		cJSON_AddBoolToObject(b, "holding", fx->holding);
		cJSON_AddNumberToObject(b, "closes_of_held", fx->closes_of_held);
		cJSON_AddNumberToObject(b, "clients", ds_ipc_server_clients(s));
		ds_ipc_reply(s, conn, id, b);
		return 0;
	}
	ds_ipc_reply(s, conn, id, NULL);
	return 0;
}

static void on_close(struct ds_ipc_server *s, uint64_t conn, void *ud)
{
	struct fixture *fx = ud;
	cJSON *b;

	fx->closes++;
	if (!fx->holding || conn != fx->held_conn)
		return;
	fx->closes_of_held++;
	fx->holding = false;
	if (!fx->reply_on_close) {
		ds_ipc_forget(s, conn);
		return;
	}
	/* Answering from inside the callback must not close the connection under the server. */
	b = cJSON_CreateObject();
	cJSON_AddBoolToObject(b, "closed", true);
	ds_ipc_reply(s, conn, fx->held_id, b);
}

static int raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool send_line(int fd, const char *text)
{
	size_t n = strlen(text);

	return send(fd, text, n, MSG_NOSIGNAL) == (ssize_t)n;
}

/* One reply line (blocking), NUL-terminated; false at EOF or error. */
static bool read_line(int fd, char *buf, size_t cap)
{
	size_t got = 0;

	while (got + 1 < cap) {
		ssize_t n = read(fd, buf + got, 1);

		if (n <= 0)
			return false;
		if (buf[got] == '\n')
			break;
		got++;
	}
	buf[got] = '\0';
	return true;
}

/* Ask for the state on fd until it contains want (bounded: the loop answers in microseconds). */
static bool until_state(int fd, const char *want)
{
	char buf[512];

	for (int i = 0; i < 2000; i++) {
		if (!send_line(fd, "{\"id\":9,\"cmd\":\"state\"}\n") || !read_line(fd, buf, sizeof(buf)))
			return false;
		if (strstr(buf, want))
			return true;
		usleep(1000);
	}
	return false;
}

#define CHECK(fx, cond)                                                  \
	do {                                                             \
		if (!(cond) && !(fx)->failed_line)                       \
			(fx)->failed_line = __LINE__;                    \
	} while (0)

static void client(struct fixture *fx)
{
	char buf[512];
	int held, ctl, extra;

	/* Two slots: a waiting client and a control one fill them. */
	held = raw_connect(fx->path);
	ctl = raw_connect(fx->path);
	CHECK(fx, held >= 0 && ctl >= 0);
	if (held < 0 || ctl < 0)
		return;
	CHECK(fx, send_line(held, "{\"id\":1,\"cmd\":\"hold\"}\n"));
	CHECK(fx, until_state(ctl, "\"holding\":true"));
	CHECK(fx, until_state(ctl, "\"clients\":2"));
	extra = raw_connect(fx->path);
	CHECK(fx, extra >= 0 && read_line(extra, buf, sizeof(buf)) && strstr(buf, "too many clients"));
	if (extra >= 0)
		close(extra);

	/* The waiting client dies: told once, its request dropped, its slot free at once. */
	close(held);
	CHECK(fx, until_state(ctl, "\"closes_of_held\":1,\"clients\":1"));
	extra = raw_connect(fx->path);
	CHECK(fx, extra >= 0 && send_line(extra, "{\"id\":2,\"cmd\":\"echo\"}\n") &&
			  read_line(extra, buf, sizeof(buf)) && strstr(buf, "\"id\":2,\"ok\":true"));
	if (extra >= 0)
		close(extra);
	CHECK(fx, until_state(ctl, "\"clients\":1"));

	/* A half-closed waiting client gets the reply the callback sends, then the end. */
	CHECK(fx, send_line(ctl, "{\"id\":3,\"cmd\":\"reply-on-close\"}\n") && read_line(ctl, buf, sizeof(buf)));
	held = raw_connect(fx->path);
	CHECK(fx, held >= 0);
	if (held < 0)
		goto out;
	CHECK(fx, send_line(held, "{\"id\":4,\"cmd\":\"hold\"}\n"));
	CHECK(fx, until_state(ctl, "\"holding\":true"));
	CHECK(fx, shutdown(held, SHUT_WR) == 0);
	CHECK(fx, read_line(held, buf, sizeof(buf)) && strstr(buf, "\"id\":4,\"ok\":true,\"closed\":true"));
	CHECK(fx, !read_line(held, buf, sizeof(buf))); /* closed by the server after the reply */
	close(held);
	CHECK(fx, until_state(ctl, "\"holding\":false,\"closes_of_held\":2,\"clients\":1"));
out:
	close(ctl);
}

static void stop_loop(void *ud)
{
	ds_loop_stop(ud);
}

static void *client_thread(void *arg)
{
	struct fixture *fx = arg;

	client(fx);
	ds_loop_post(fx->loop, stop_loop, fx->loop);
	return NULL;
}

static void test_a_waiting_client_that_goes_frees_its_slot(void **state)
{
	const char *tmp = getenv("DS_TEST_TMP");
	struct ds_ipc_server_config cfg = { 0 };
	struct fixture fx = { 0 };
	pthread_t th;

	DS_UNUSED(state);
	if (!tmp)
		tmp = getenv("TMPDIR");
	snprintf(fx.dir, sizeof(fx.dir), "%s/close-XXXXXX", tmp ? tmp : P_tmpdir);
	assert_non_null(mkdtemp(fx.dir));
	snprintf(fx.path, sizeof(fx.path), "%s/s.sock", fx.dir);
	assert_int_equal(ds_loop_new(&fx.loop), 0);
	cfg.path = fx.path;
	cfg.max_clients = 2;
	cfg.max_message = 4096;
	assert_int_equal(ds_ipc_server_new(fx.loop, &cfg, handler, &fx, &fx.srv), 0);
	ds_ipc_server_on_close(fx.srv, on_close, &fx);
	assert_int_equal(pthread_create(&th, NULL, client_thread, &fx), 0);
	assert_int_equal(ds_loop_run(fx.loop), 0);
	pthread_join(th, NULL);
	ds_ipc_server_free(fx.srv);
	ds_loop_free(fx.loop);
	rmdir(fx.dir);
	if (fx.failed_line)
		fail_msg("client check failed at line %d", fx.failed_line);
	/* Every connection was reported once: held twice, the control one, two extras, the refused none. */
	assert_int_equal(fx.closes, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_waiting_client_that_goes_frees_its_slot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
