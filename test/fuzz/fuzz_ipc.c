/*
 * The control socket's server side (ipc/server.c, ipc/frame.c): bytes any local client may send.
 *
 * The real server runs on a unix socket in a scratch folder; the event loop is replaced by
 * the stubs below, which remember the callbacks the server registers so the harness can call
 * them. Each input is one client connection: byte 0 sets the size of the pieces the rest is
 * sent in (framing must not depend on how the stream is cut), then the connection is
 * half-closed. The request handler echoes requests, fails on "cmd":"fail" and answers
 * "cmd":"later" only after the read callback returned, as "sync --wait" does.
 *
 * Checked: every reply line is a JSON object with an integral "id" and a boolean "ok", and
 * every connection is gone in the end (none left behind by any byte sequence).
 */
#include "test/fuzz/fuzz_common.h"
#include "core/ds_loop.h"
#include "ipc/ds_ipc.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_WATCH 8
#define MAX_LATER 64

static struct watch {
	int fd;
	ds_fd_fn fn, wfn;
	void *user_data;
} g_watch[MAX_WATCH];

static struct ds_ipc_server *g_srv;
static char g_path[4200];
static int g_listen_fd = -1;
static struct {
	uint64_t conn;
	int64_t id;
} g_later[MAX_LATER];
static size_t g_nlater;

static struct watch *watch_find(int fd)
{
	for (size_t i = 0; i < MAX_WATCH; i++)
		if (g_watch[i].fn && g_watch[i].fd == fd)
			return &g_watch[i];
	return NULL;
}

int ds_loop_watch(struct ds_loop *l, int fd, ds_fd_fn fn, void *user_data)
{
	DS_UNUSED(l);
	for (size_t i = 0; i < MAX_WATCH; i++) {
		if (!g_watch[i].fn) {
			g_watch[i] = (struct watch){ fd, fn, NULL, user_data };
			return 0;
		}
	}
	return -ENOSPC;
}

void ds_loop_unwatch(struct ds_loop *l, int fd)
{
	struct watch *w = watch_find(fd);

	DS_UNUSED(l);
	if (w)
		memset(w, 0, sizeof(*w));
}

int ds_loop_want_write(struct ds_loop *l, int fd, ds_fd_fn fn)
{
	struct watch *w = watch_find(fd);

	DS_UNUSED(l);
	if (!w)
		return -ENOENT;
	w->wfn = fn;
	return 0;
}

static int on_request(struct ds_ipc_server *s, uint64_t conn, int64_t id, const char *cmd,
		      cJSON *req, void *user_data)
{
	DS_UNUSED(user_data);
	if (strcmp(cmd, "fail") == 0) {
		ds_ipc_reply_error(s, conn, id, -EINVAL, "no such command: %s", cmd);
		return 0;
	}
	if (strcmp(cmd, "later") == 0 && g_nlater < MAX_LATER) {
		g_later[g_nlater].conn = conn;
		g_later[g_nlater].id = id;
		g_nlater++;
		return 1;
	}
	ds_ipc_reply(s, conn, id, cJSON_Duplicate(req, 1));
	return 0;
}

static void answer_later(void)
{
	for (size_t i = 0; i < g_nlater; i++)
		ds_ipc_reply(g_srv, g_later[i].conn, g_later[i].id, NULL);
	g_nlater = 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = fuzz_tmpdir();
	struct ds_ipc_server_config cfg = { .max_clients = 2, .max_message = 1024 };

	DS_UNUSED(argc);
	DS_UNUSED(argv);
	fuzz_quiet();
	if (!tmp)
		fuzz_fail("no scratch folder");
	snprintf(g_path, sizeof(g_path), "%s/ipc.sock", tmp);
	cfg.path = g_path;
	if (ds_ipc_server_new((struct ds_loop *)&g_watch, &cfg, on_request, NULL, &g_srv))
		fuzz_fail("ds_ipc_server_new");
	g_listen_fd = g_watch[0].fd;
	return 0;
}

/* Complete reply lines held in buf are checked and dropped. */
static void check_replies(char *buf, size_t *len)
{
	char *nl;

	while ((nl = memchr(buf, '\n', *len))) {
		size_t n = (size_t)(nl - buf);
		cJSON *r = cJSON_ParseWithLength(buf, n);
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "id");

		if (!cJSON_IsObject(r) || !cJSON_IsNumber(id) ||
		    !cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(r, "ok")))
			fuzz_fail("a reply is not {\"id\":N,\"ok\":bool,...}");
		cJSON_Delete(r);
		memmove(buf, nl + 1, *len - n - 1);
		*len -= n + 1;
	}
}

static void drain(int cfd, char *buf, size_t *len, size_t cap)
{
	ssize_t n;

	while ((n = recv(cfd, buf + *len, cap - *len, MSG_DONTWAIT)) > 0) {
		*len += (size_t)n;
		check_replies(buf, len);
		if (*len == cap)
			fuzz_fail("a reply line longer than the harness buffer");
	}
}

static void service(int cfd, char *buf, size_t *len, size_t cap)
{
	for (size_t i = 0; i < MAX_WATCH; i++) {
		struct watch w = g_watch[i];

		if (w.fn && w.fd != g_listen_fd)
			w.fn(w.fd, w.user_data);
	}
	answer_later();
	drain(cfd, buf, len, cap);
	for (size_t i = 0; i < MAX_WATCH; i++) {
		struct watch w = g_watch[i];

		if (w.fn && w.wfn) {
			g_watch[i].wfn = NULL;
			w.wfn(w.fd, w.user_data);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char replies[1 << 16];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t piece, pos = 1, rlen = 0;
	int cfd;

	if (size < 1)
		return 0;
	piece = (size_t)data[0] * 8 + 1;
	cfd = socket(AF_UNIX, SOCK_STREAM, 0);
	memcpy(sa.sun_path, g_path, strlen(g_path) + 1);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&sa, sizeof(sa)))
		fuzz_fail("cannot connect to the server");
	watch_find(g_listen_fd)->fn(g_listen_fd, g_srv);
	if (ds_ipc_server_clients(g_srv) != 1)
		fuzz_fail("the connection was not accepted");
	while (pos < size) {
		size_t n = DS_MIN(piece, size - pos);

		if (send(cfd, data + pos, n, MSG_NOSIGNAL) < 0)
			break; /* the server closed the connection (over-long line) */
		pos += n;
		service(cfd, replies, &rlen, sizeof(replies));
	}
	shutdown(cfd, SHUT_WR);
	service(cfd, replies, &rlen, sizeof(replies));
	service(cfd, replies, &rlen, sizeof(replies));
	close(cfd);
	if (ds_ipc_server_clients(g_srv) != 0)
		fuzz_fail("a finished connection was left open");
	return 0;
}
