/*
 * bench_browser_node.h - the in-process Sync 1.5 storage node (test/support/fake_sync15.c)
 * served over HTTP/1.1 on 127.0.0.1 from a process of its own, for bench_browser.c: the
 * processes it measures then hold the agent alone (its HTTP client and TLS library, the sync
 * core, the engines, SQLite), not the node's copy of every record nor its work.
 *
 * One request per connection, answered with Connection: close: the agent's HTTP client opens a
 * connection per request (component/net/http_client.c: no keep-alive reuse on lws 4.1) and
 * always sends Content-Length. Requests are handed to the node's transport with the URL it
 * expects (its api_endpoint's path is /1.5/42, see bench_node_endpoint()). The node's first
 * token (id "tok-1") is taken here, so the agent can sign with it.
 *
 * Header-only with static functions: each benchmark is one source file (test/module.mk), and
 * bench_browser.c is the only includer.
 */
#ifndef DS_BENCH_BROWSER_NODE_H
#define DS_BENCH_BROWSER_NODE_H

#include "core/ds_core.h"
#include "net/ds_http.h"
#include "remote/sync15/ds_sync15.h"
#include "test/support/fake_sync15.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* The node's own base (fake_sync15.c HOST_A without the path): requests go there. */
#define BENCH_NODE_HOST "http://node-a.test:8000"
#define BENCH_NODE_PATH "/1.5/42"
#define BENCH_NODE_MAX_HEADERS 64

struct bench_node {
	pid_t pid;
	int port;
	int keepalive; /* write end of a pipe: the node leaves when it closes */
};

static int node_write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read one request from fd into *buf (head, then Content-Length bytes of body). The head's
 * length in *head_len; -1 on a short or malformed request. */
static int node_read_request(int fd, char **buf, size_t *head_len, size_t *body_len)
{
	size_t cap = 65536, n = 0, need = 0;
	char *b = malloc(cap + 1);
	char *end = NULL;

	if (!b)
		return -1;
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb = realloc(b, 2 * cap + 1);

			if (!nb)
				break;
			b = nb;
			cap *= 2;
		}
		r = read(fd, b + n, cap - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		b[n] = '\0';
		if (!end && (end = strstr(b, "\r\n\r\n")) != NULL) {
			const char *cl = b;

			while (cl < end && strncasecmp(cl, "\r\ncontent-length:", 17) != 0)
				cl++;
			*head_len = (size_t)(end - b) + 4;
			*body_len = cl < end ? strtoul(cl + 17, NULL, 10) : 0;
			need = *head_len + *body_len;
		}
		if (end && n >= need) {
			*buf = b;
			return 0;
		}
	}
	free(b);
	return -1;
}

static void node_serve_one(struct ds_fake_sync15 *srv, int fd)
{
	const struct ds_sync15_transport *t = ds_fake_sync15_transport(srv);
	struct ds_http_header h[BENCH_NODE_MAX_HEADERS];
	struct ds_http_request req;
	struct ds_http_response resp;
	char method[16], target[4096], url[4200], *buf = NULL, *line, *save = NULL;
	size_t head_len, body_len, nh = 0, i;
	char *out;
	size_t out_len = 0, out_cap;

	if (node_read_request(fd, &buf, &head_len, &body_len) < 0)
		return;
	buf[head_len - 2] = '\0'; /* the head's last CRLF: the lines below end with CRLF */
	line = strtok_r(buf, "\r\n", &save);
	if (!line || sscanf(line, "%15s %4095s", method, target) != 2) {
		free(buf);
		return;
	}
	while ((line = strtok_r(NULL, "\r\n", &save)) != NULL && nh < BENCH_NODE_MAX_HEADERS) {
		char *colon = strchr(line, ':');

		if (!colon)
			continue;
		*colon++ = '\0';
		while (*colon == ' ')
			colon++;
		h[nh].name = line;
		h[nh].value = colon;
		nh++;
	}
	snprintf(url, sizeof(url), "%s%s", BENCH_NODE_HOST, target);
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.url = url;
	req.headers = h;
	req.n_headers = nh;
	req.body = body_len ? buf + head_len : NULL;
	req.body_len = body_len;
	if (body_len)
		buf[head_len + body_len] = '\0';
	memset(&resp, 0, sizeof(resp));
	if (t->perform(t->ctx, &req, &resp) != 0)
		resp.status = 500;
	out_cap = 256 + resp.body_len;
	for (i = 0; i < resp.n_headers; i++)
		out_cap += strlen(resp.headers[i].name) + strlen(resp.headers[i].value) + 4;
	out = malloc(out_cap);
	if (out) {
		out_len = (size_t)snprintf(out, out_cap, "HTTP/1.1 %d X\r\n", resp.status);
		for (i = 0; i < resp.n_headers; i++)
			out_len += (size_t)snprintf(out + out_len, out_cap - out_len, "%s: %s\r\n",
						    resp.headers[i].name, resp.headers[i].value);
		out_len += (size_t)snprintf(out + out_len, out_cap - out_len,
					    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
					    "Connection: close\r\n\r\n", resp.body_len);
		if (resp.body_len)
			memcpy(out + out_len, resp.body, resp.body_len);
		out_len += resp.body_len;
		node_write_all(fd, out, out_len);
		free(out);
	}
	ds_http_response_free(&resp);
	free(buf);
}

static void node_loop(int lfd, int keepalive, const uint8_t ksync[64])
{
	struct ds_fake_sync15 *srv = ds_fake_sync15_new(ksync);
	struct ds_sync15_auth auth;
	struct ds_sync15_creds creds;

	if (!srv)
		_exit(1);
	auth = ds_fake_sync15_auth(srv);
	if (auth.ops->token(auth.ctx, false, &creds) != 0) /* "tok-1" */
		_exit(1);
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		struct pollfd p[2] = { { .fd = lfd, .events = POLLIN }, { .fd = keepalive, .events = POLLIN } };
		int fd;

		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents)
			break;
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		node_serve_one(srv, fd);
		close(fd);
	}
	ds_fake_sync15_free(srv);
	_exit(0);
}

/* Start the node in a child process; 0, or -1. */
static int bench_node_start(struct bench_node *n, const uint8_t ksync[64])
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
	socklen_t alen = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), ka[2];

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 16) ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) || pipe(ka))
		return -1;
	n->port = ntohs(a.sin_port);
	fflush(stdout);
	n->pid = fork();
	if (n->pid < 0)
		return -1;
	if (n->pid == 0) {
		close(ka[1]);
		node_loop(lfd, ka[0], ksync);
	}
	close(lfd);
	close(ka[0]);
	n->keepalive = ka[1];
	fcntl(n->keepalive, F_SETFD, FD_CLOEXEC);
	return 0;
}

static void bench_node_stop(struct bench_node *n)
{
	close(n->keepalive);
	waitpid(n->pid, NULL, 0);
}

/* The api_endpoint the agent uses for the node on port. */
static void bench_node_endpoint(int port, char *out, size_t cap)
{
	snprintf(out, cap, "http://127.0.0.1:%d" BENCH_NODE_PATH, port);
}

#endif /* DS_BENCH_BROWSER_NODE_H */
