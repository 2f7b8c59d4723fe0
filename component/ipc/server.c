/*
 * The control socket's server: a nonblocking unix stream listener on the daemon's loop, at most
 * max_clients connections, one JSON request per line (see ds_ipc.h, docs/ipc.md).
 *
 * Unix sockets, fcntl() and getgrnam() are POSIX, not Linux: the port seam is for what differs
 * between the OSes datasync targets, which all have these.
 */
#define DS_LOG_TAG "ipc"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_IPC
#include "core/ds_core.h"
#include "core/ds_loop.h"
#include "ipc/ds_ipc.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Bytes read per read() call, and read() calls per readable event (fairness between clients). */
#define READ_CHUNK 4096
#define READS_PER_EVENT 16

struct conn {
	struct ds_ipc_server *s;
	uint64_t serial;
	int fd;
	struct ds_ipc_frame in;
	char *out;      /* replies not yet written */
	size_t out_len, out_cap;
	unsigned pending; /* deferred replies still owed */
	bool eof;       /* the client closed its side: close once nothing is owed */
	bool notified;  /* the close callback has been told */
	bool dead;      /* a send failed while the close callback ran: close after it */
	struct conn *next;
};

struct ds_ipc_server {
	struct ds_loop *loop;
	int fd;
	char *path;
	unsigned max_clients;
	size_t max_message;
	ds_ipc_request_fn fn;
	void *user_data;
	struct conn *conns;
	unsigned nconns;
	uint64_t next_serial;
	struct conn *in_handler; /* connection whose request the handler is answering now */
	struct conn *in_notify;  /* connection the close callback is being told about now */
	ds_ipc_close_fn close_fn;
	void *close_user;
};

static int set_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

/*
 * Tell the owner the client has gone, once. While it runs, replies to c are delivered (or
 * fail) without closing c under the caller's feet: the caller decides after.
 */
static void conn_notify(struct conn *c)
{
	struct ds_ipc_server *s = c->s;

	if (c->notified || !s->close_fn)
		return;
	c->notified = true;
	s->in_notify = c;
	s->close_fn(s, c->serial, s->close_user);
	s->in_notify = NULL;
}

static void conn_close(struct conn *c)
{
	struct ds_ipc_server *s = c->s;

	for (struct conn **pp = &s->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	s->nconns--;
	/* Unlinked first: a reply the callback sends to this connection is dropped, not queued. */
	conn_notify(c);
	ds_loop_unwatch(s->loop, c->fd);
	close(c->fd);
	ds_ipc_frame_free(&c->in);
	ds_free(c->out);
	DS_LOG_DBG("client %llu closed", (unsigned long long)c->serial);
	ds_free(c);
}

static struct conn *conn_find(struct ds_ipc_server *s, uint64_t serial)
{
	for (struct conn *c = s->conns; c; c = c->next)
		if (c->serial == serial)
			return c;
	return NULL;
}

static void conn_writable(int fd, void *user_data);

/* Write what we can; 0, or -errno when the connection is dead (the caller closes it). */
static int conn_flush(struct conn *c)
{
	while (c->out_len) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return ds_loop_want_write(c->s->loop, c->fd, conn_writable);
			return -errno;
		}
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	return 0;
}

static bool conn_done(const struct conn *c)
{
	return c->eof && !c->pending && !c->out_len;
}

static void conn_writable(int fd, void *user_data)
{
	struct conn *c = user_data;

	DS_UNUSED(fd);
	if (conn_flush(c) || conn_done(c))
		conn_close(c);
}

static int conn_send(struct conn *c, const char *text)
{
	size_t n = strlen(text);

	/* A client that does not read its replies must not make the daemon grow without bound. */
	if (c->out_len + n + 1 > 4 * c->s->max_message + 4096)
		return -ENOBUFS;
	if (c->out_len + n + 1 > c->out_cap) {
		size_t cap = DS_MAX(c->out_cap * 2, c->out_len + n + 1);
		char *nb = ds_realloc(c->out, cap);

		if (!nb)
			return -ENOMEM;
		c->out = nb;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, text, n);
	c->out[c->out_len + n] = '\n';
	c->out_len += n + 1;
	return conn_flush(c);
}

static int send_json(struct ds_ipc_server *s, uint64_t serial, cJSON *msg)
{
	struct conn *c = conn_find(s, serial);
	char *text;
	int rc;

	if (!c) {
		DS_LOG_DBG("reply to client %llu dropped: it has gone", (unsigned long long)serial);
		return -ENOTCONN;
	}
	if (c->pending && c != s->in_handler)
		c->pending--;
	text = cJSON_PrintUnformatted(msg);
	if (!text)
		return -ENOMEM;
	rc = conn_send(c, text);
	cJSON_free(text);
	if (c == s->in_notify) {
		c->dead = c->dead || rc;
		return rc;
	}
	/* Outside a read callback nothing else will close a dead or finished connection. */
	if (c != s->in_handler && (rc || conn_done(c)))
		conn_close(c);
	return rc;
}

void ds_ipc_forget(struct ds_ipc_server *s, uint64_t conn)
{
	struct conn *c = conn_find(s, conn);

	if (!c || !c->pending)
		return;
	c->pending--;
	if (c != s->in_handler && c != s->in_notify && conn_done(c))
		conn_close(c);
}

void ds_ipc_server_on_close(struct ds_ipc_server *s, ds_ipc_close_fn fn, void *user_data)
{
	s->close_fn = fn;
	s->close_user = user_data;
}

/* Members of body (consumed) are moved after id, ok and the error fields. */
static int reply_msg(struct ds_ipc_server *s, uint64_t conn, int64_t id, int neg_errno, const char *error,
		     cJSON *body)
{
	cJSON *msg = cJSON_CreateObject();
	int rc = -ENOMEM;

	if (!msg || !cJSON_AddNumberToObject(msg, "id", (double)id) ||
	    !cJSON_AddBoolToObject(msg, "ok", error == NULL))
		goto out;
	if (error && (!cJSON_AddStringToObject(msg, "error", error) ||
		      !cJSON_AddNumberToObject(msg, "errno", neg_errno < 0 ? -neg_errno : neg_errno)))
		goto out;
	while (body && body->child) {
		cJSON *item = cJSON_DetachItemViaPointer(body, body->child);
		char *name = item->string;

		item->string = NULL;
		if (name && !cJSON_GetObjectItemCaseSensitive(msg, name))
			cJSON_AddItemToObject(msg, name, item);
		else
			cJSON_Delete(item);
		cJSON_free(name);
	}
	rc = send_json(s, conn, msg);
out:
	cJSON_Delete(body);
	cJSON_Delete(msg);
	return rc;
}

int ds_ipc_reply(struct ds_ipc_server *s, uint64_t conn, int64_t id, cJSON *body)
{
	return reply_msg(s, conn, id, 0, NULL, body);
}

int ds_ipc_reply_failure(struct ds_ipc_server *s, uint64_t conn, int64_t id, int neg_errno, const char *message,
			 cJSON *body)
{
	return reply_msg(s, conn, id, neg_errno, message, body);
}

int ds_ipc_reply_error(struct ds_ipc_server *s, uint64_t conn, int64_t id, int neg_errno, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return reply_msg(s, conn, id, neg_errno, text, NULL);
}

/* Integral JSON numbers only: ids are echoed back, and a double would not round-trip. */
static bool read_id(const cJSON *req, int64_t *id)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(req, "id");

	/* Range first: converting a double outside int64_t is undefined behaviour (C11 6.3.1.4). */
	if (!cJSON_IsNumber(j) || !(j->valuedouble >= 0 && j->valuedouble <= 9007199254740991.0) ||
	    j->valuedouble != (double)(int64_t)j->valuedouble)
		return false;
	*id = (int64_t)j->valuedouble;
	return true;
}

static void handle_line(struct conn *c, char *line, size_t len)
{
	struct ds_ipc_server *s = c->s;
	uint64_t serial = c->serial;
	cJSON *req = cJSON_ParseWithLength(line, len);
	const cJSON *cmd;
	int64_t id = 0;
	int rc;

	/* The line may carry a passphrase: the parsed copy is wiped by the handler, this one here. */
	ds_memzero(line, len);
	if (!req || !cJSON_IsObject(req)) {
		ds_ipc_reply_error(s, serial, 0, -EINVAL, "request is not a JSON object");
		cJSON_Delete(req);
		return;
	}
	if (!read_id(req, &id)) {
		ds_ipc_reply_error(s, serial, 0, -EINVAL, "request has no \"id\" (a non-negative integer)");
		cJSON_Delete(req);
		return;
	}
	cmd = cJSON_GetObjectItemCaseSensitive(req, "cmd");
	if (!cJSON_IsString(cmd) || !cmd->valuestring[0]) {
		ds_ipc_reply_error(s, serial, id, -EINVAL, "request has no \"cmd\" string");
		cJSON_Delete(req);
		return;
	}
	s->in_handler = c;
	rc = s->fn(s, serial, id, cmd->valuestring, req, s->user_data);
	s->in_handler = NULL;
	if (rc == 1)
		c->pending++;
	cJSON_Delete(req);
}

static void conn_readable(int fd, void *user_data)
{
	struct conn *c = user_data;
	char buf[READ_CHUNK];

	for (int i = 0; i < READS_PER_EVENT && !c->eof; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		char *line;
		size_t len;
		int rc;

		if (n == 0) {
			c->eof = true;
			break;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_close(c);
			return;
		}
		rc = ds_ipc_frame_feed(&c->in, buf, (size_t)n);
		ds_memzero(buf, (size_t)n);
		while (rc == 0 && (rc = ds_ipc_frame_next(&c->in, &line, &len)) == 1) {
			handle_line(c, line, len);
			rc = 0;
		}
		if (rc == -EMSGSIZE) {
			DS_LOG_WRN("client %llu sent a message over %zu bytes: closing it",
				   (unsigned long long)c->serial, c->s->max_message);
			ds_ipc_reply_error(c->s, c->serial, 0, -EMSGSIZE, "message longer than %zu bytes",
					   c->s->max_message);
			conn_close(c);
			return;
		}
		if (rc < 0) {
			conn_close(c);
			return;
		}
	}
	if (c->eof) {
		/*
		 * Stop watching a finished stream, or the loop would spin on it. A client that
		 * half-closed still gets the replies it is owed (a "sync" with "wait") as long as
		 * they fit in the socket buffer; without a watch there is no waiting for room.
		 */
		ds_loop_unwatch(c->s->loop, fd);
		if (c->pending)
			conn_notify(c);
		if (!c->pending || c->dead)
			conn_close(c);
	}
}

static void refuse(struct ds_ipc_server *s, int fd)
{
	char msg[160];
	int n = snprintf(msg, sizeof(msg),
			 "{\"id\":0,\"ok\":false,\"error\":\"too many clients (at most %u)\",\"errno\":%d}\n",
			 s->max_clients, EBUSY);

	/* Best effort on a fresh socket: its buffer is empty, the line fits. */
	if (send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		DS_LOG_DBG("refusal not sent: %s", strerror(errno));
	close(fd);
}

static void listener_readable(int fd, void *user_data)
{
	struct ds_ipc_server *s = user_data;

	for (;;) {
		int cfd = accept(fd, NULL, NULL);
		struct conn *c;

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				DS_LOG_WRN("accept: %s", strerror(errno));
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		if (s->nconns >= s->max_clients) {
			DS_LOG_WRN("refusing a client: %u connected already", s->nconns);
			refuse(s, cfd);
			continue;
		}
		c = ds_calloc(1, sizeof(*c));
		if (!c || set_nonblock_cloexec(cfd)) {
			ds_free(c);
			close(cfd);
			continue;
		}
		c->s = s;
		c->fd = cfd;
		c->serial = ++s->next_serial;
		ds_ipc_frame_init(&c->in, s->max_message, ds_malloc, ds_free);
		if (ds_loop_watch(s->loop, cfd, conn_readable, c)) {
			close(cfd);
			ds_free(c);
			continue;
		}
		c->next = s->conns;
		s->conns = c;
		s->nconns++;
		DS_LOG_DBG("client %llu connected", (unsigned long long)c->serial);
	}
}

static int socket_permissions(const char *path, const char *group)
{
	struct group *g;

	if (!group)
		return chmod(path, 0600) ? -errno : 0;
	g = getgrnam(group);
	if (!g) {
		DS_LOG_ERR("socket_group '%s': no such group", group);
		return -ENOENT;
	}
	if (chown(path, (uid_t)-1, g->gr_gid) || chmod(path, 0660)) {
		int rc = -errno;

		DS_LOG_ERR("socket_group '%s': %s", group, strerror(-rc));
		return rc;
	}
	return 0;
}

int ds_ipc_server_new(struct ds_loop *l, const struct ds_ipc_server_config *cfg, ds_ipc_request_fn fn,
		      void *user_data, struct ds_ipc_server **out)
{
	struct sockaddr_un sa;
	struct ds_ipc_server *s;
	mode_t old;
	int rc;

	*out = NULL;
	if (!cfg->path || !fn || !cfg->max_clients || !cfg->max_message)
		return -EINVAL;
	if (strlen(cfg->path) >= sizeof(sa.sun_path)) {
		DS_LOG_ERR("socket path too long (%zu bytes, at most %zu): %s", strlen(cfg->path),
			   sizeof(sa.sun_path) - 1, cfg->path);
		return -ENAMETOOLONG;
	}
	s = ds_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = -1;
	s->loop = l;
	s->fn = fn;
	s->user_data = user_data;
	s->max_clients = cfg->max_clients;
	s->max_message = cfg->max_message;
	s->path = ds_strdup(cfg->path);
	if (!s->path) {
		rc = -ENOMEM;
		goto fail;
	}
	s->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s->fd < 0 || set_nonblock_cloexec(s->fd)) {
		rc = -errno;
		goto fail;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, cfg->path, strlen(cfg->path) + 1);
	/* A socket left by a killed daemon; the caller holds the instance lock, so it is ours. */
	unlink(cfg->path);
	/* Born 0600: no window in which another user could connect before the chmod. */
	old = umask(0177);
	rc = bind(s->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc) {
		rc = -errno;
		DS_LOG_ERR("cannot bind %s: %s", cfg->path, strerror(-rc));
		goto fail;
	}
	rc = socket_permissions(cfg->path, cfg->group);
	if (!rc && listen(s->fd, 16))
		rc = -errno;
	if (!rc)
		rc = ds_loop_watch(l, s->fd, listener_readable, s);
	if (rc) {
		unlink(cfg->path);
		goto fail;
	}
	DS_LOG_INF("listening on %s", cfg->path);
	*out = s;
	return 0;
fail:
	if (s->fd >= 0)
		close(s->fd);
	ds_free(s->path);
	ds_free(s);
	return rc;
}

void ds_ipc_server_free(struct ds_ipc_server *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_close(s->conns);
	ds_loop_unwatch(s->loop, s->fd);
	close(s->fd);
	unlink(s->path);
	ds_free(s->path);
	ds_free(s);
}

unsigned ds_ipc_server_clients(const struct ds_ipc_server *s)
{
	return s->nconns;
}
