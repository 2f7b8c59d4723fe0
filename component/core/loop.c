/*
 * The event loop: one lws_context that every part of the daemon shares (the HTTP client's
 * connections, the control socket, port events, timers), serviced by one thread.
 *
 * Why libwebsockets and not poll(): the HTTP/websocket client needs lws' own service loop, and
 * Debian's lws is built without LWS_WITH_EXTERNAL_POLL, so lws cannot live inside a poll() of
 * ours. Everything else is therefore brought into lws: fds as raw-file adoptions, timers as
 * lws_sul, other threads through lws_cancel_service(), signals through a self-pipe.
 */
#define DS_LOG_TAG "loop"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_CORE
#include "core/ds_core.h"
#include "core/ds_loop.h"
#include "ds_port.h"

/*
 * Trap: the installed lws_config.h defines _DEBUG unless NDEBUG is defined, which compiles in
 * every lwsl_* level (and its cost). The Makefile defines NDEBUG everywhere; this keeps the
 * file right when built some other way. loop.c uses no assert().
 */
#ifndef NDEBUG
#define NDEBUG
#endif
#include <libwebsockets.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* Byte written to the self-pipe by ds_loop_stop(); any other byte is a signal number. */
/* Descriptors the loop's lws context watches at most: lws' own few, ours, and each control
 * client (CONFIG_DS_IPC_MAX_CLIENTS) with room for the ones being refused. */
#if IS_ENABLED(CONFIG_DS_IPC)
#define LOOP_MAX_FDS (32 + 2 * CONFIG_DS_IPC_MAX_CLIENTS)
#else
#define LOOP_MAX_FDS 32
#endif

#define STOP_BYTE 0

struct watch {
	struct ds_loop *l;
	int fd;          /* the owner's fd: the key of ds_loop_unwatch() */
	struct lws *wsi; /* NULL once lws closed its duplicate */
	ds_fd_fn fn;
	ds_fd_fn wfn;    /* one-shot writable callback */
	void *user_data;
	bool dead;       /* unwatched; freed when lws closes the wsi */
	struct watch *next;
};

struct timer {
	lws_sorted_usec_list_t sul; /* first: lws hands back this pointer */
	struct ds_loop *l;
	int id;
	ds_timer_fn fn;
	void *user_data;
	struct timer *next;
};

struct post {
	ds_loop_call_fn fn;
	void *user_data;
	struct post *next;
};

struct ds_loop {
	struct lws_context *ctx;
	struct lws_vhost *vh;
	int pipe_rd, pipe_wr;
	volatile sig_atomic_t stop;
	bool destroying;
	struct watch *watches; /* live ones */
	struct watch *in_cb;   /* watch whose callback is running */
	struct timer *timers;
	lws_sorted_usec_list_t port_sul;
	bool port_attached;
	int port_fd;
	ds_loop_event_fn ev_fn;
	void *ev_user_data;
	ds_loop_signal_fn sig_fn;
	void *sig_user_data;
	pthread_mutex_t lock; /* guards posts and port_pending */
	struct post *posts, **posts_tail;
	bool port_pending;
};

static void lws_log_emit(int level, const char *line)
{
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	ds_log_write(level == LLL_ERR ? DS_LOG_ERR : DS_LOG_WRN, "lws", "%.*s", (int)n, line);
}

/* ---- port events ----------------------------------------------------------------------------- */

static void port_sul_cb(lws_sorted_usec_list_t *sul);

static void port_drain(struct ds_loop *l)
{
	struct ds_port_event ev;
	int64_t next;
	int n;

	while ((n = ds_port_poll_event(&ev)) > 0) {
		if (l->ev_fn)
			l->ev_fn(&ev, l->ev_user_data);
	}
	if (n < 0)
		DS_LOG_WRN("reading port events: %s", ds_strerror(n));
	next = ds_port_next_deadline_ms();
	if (next >= 0)
		lws_sul_schedule(l->ctx, 0, &l->port_sul, port_sul_cb, (lws_usec_t)next * LWS_US_PER_MS);
	else
		lws_sul_cancel(&l->port_sul);
}

static void port_sul_cb(lws_sorted_usec_list_t *sul)
{
	port_drain(lws_container_of(sul, struct ds_loop, port_sul));
}

static void port_readable(int fd, void *user_data)
{
	DS_UNUSED(fd);
	port_drain(user_data);
}

/* Called by the port, possibly on another thread. */
static void port_wake(void *user_data)
{
	struct ds_loop *l = user_data;

	pthread_mutex_lock(&l->lock);
	l->port_pending = true;
	pthread_mutex_unlock(&l->lock);
	lws_cancel_service(l->ctx);
}

static int port_attach(struct ds_loop *l)
{
	int fd, rc;

	ds_port_set_wake(port_wake, l);
	fd = ds_port_event_fd();
	if (fd >= 0) {
		rc = ds_loop_watch(l, fd, port_readable, l);
		if (rc) {
			ds_port_set_wake(NULL, NULL);
			return rc;
		}
	}
	l->port_fd = fd;
	l->port_attached = true;
	port_drain(l);
	return 0;
}

/* ---- posted calls and the self-pipe ----------------------------------------------------------- */

static void run_posts(struct ds_loop *l)
{
	struct post *p;
	bool port;

	pthread_mutex_lock(&l->lock);
	p = l->posts;
	l->posts = NULL;
	l->posts_tail = &l->posts;
	port = l->port_pending;
	l->port_pending = false;
	pthread_mutex_unlock(&l->lock);
	while (p) {
		struct post *next = p->next;

		p->fn(p->user_data);
		ds_free(p);
		p = next;
	}
	if (port && l->port_attached)
		port_drain(l);
}

int ds_loop_post(struct ds_loop *l, ds_loop_call_fn fn, void *user_data)
{
	struct post *p = ds_malloc(sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->fn = fn;
	p->user_data = user_data;
	p->next = NULL;
	pthread_mutex_lock(&l->lock);
	*l->posts_tail = p;
	l->posts_tail = &p->next;
	pthread_mutex_unlock(&l->lock);
	lws_cancel_service(l->ctx);
	return 0;
}

static void pipe_readable(int fd, void *user_data)
{
	struct ds_loop *l = user_data;
	unsigned char buf[64];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != STOP_BYTE && l->sig_fn)
				l->sig_fn(buf[i], l->sig_user_data);
	}
}

void ds_loop_on_signal(struct ds_loop *l, ds_loop_signal_fn fn, void *user_data)
{
	l->sig_fn = fn;
	l->sig_user_data = user_data;
}

/* Async-signal-safe: write() on a nonblocking pipe. A full pipe drops the byte, which only
 * happens with thousands of undelivered signals. */
static void pipe_send(struct ds_loop *l, unsigned char b)
{
	int saved = errno;

	if (write(l->pipe_wr, &b, 1) < 0)
		(void)0;
	errno = saved;
}

void ds_loop_raise(struct ds_loop *l, int signo)
{
	if (signo > 0 && signo < 256)
		pipe_send(l, (unsigned char)signo);
}

void ds_loop_stop(struct ds_loop *l)
{
	l->stop = 1;
	pipe_send(l, STOP_BYTE);
}

/* ---- the lws protocol that carries our fds ----------------------------------------------------- */

static void watch_unlink(struct ds_loop *l, struct watch *w)
{
	for (struct watch **pp = &l->watches; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			return;
		}
	}
}

/* Run a callback of w's (none: fn NULL); -1 tells lws to close a watch unwatched meanwhile. */
static int watch_call(struct ds_loop *l, struct watch *w, ds_fd_fn fn)
{
	if (fn) {
		l->in_cb = w;
		fn(w->fd, w->user_data);
		l->in_cb = NULL;
	}
	/* Unwatched from inside its own callback: closing now is the safe moment. */
	return w->dead ? -1 : 0;
}

static int loop_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct ds_loop *l = lws_context_user(lws_get_context(wsi));
	struct watch *w;
	ds_fd_fn fn;

	DS_UNUSED(user);
	DS_UNUSED(in);
	DS_UNUSED(len);
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		w = lws_get_opaque_user_data(wsi);
		if (!w || w->dead)
			return -1;
		fn = w->fn;
		if (reason == LWS_CALLBACK_RAW_WRITEABLE_FILE) {
			fn = w->wfn; /* one-shot */
			w->wfn = NULL;
		}
		return watch_call(l, w, fn);
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		w = lws_get_opaque_user_data(wsi);
		if (!w)
			break;
		lws_set_opaque_user_data(wsi, NULL);
		w->wsi = NULL;
		if (w->dead) {
			ds_free(w);
		} else if (!l->destroying) {
			/* lws saw a hangup without data: let the owner read the end of stream. */
			w->fn(w->fd, w->user_data);
		}
		break;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (l && !l->destroying)
			run_posts(l);
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols loop_protocols[] = {
	{ "ds-loop", loop_cb, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

int ds_loop_watch(struct ds_loop *l, int fd, ds_fd_fn fn, void *user_data)
{
	lws_sock_file_fd_type u;
	struct watch *w;
	int dup_fd;

	if (fd < 0 || !fn)
		return -EINVAL;
	w = ds_calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	/* lws closes the fd of a raw-file wsi when it closes the wsi; give it a duplicate so the
	 * owner's fd stays the owner's to close. */
	dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0) {
		int rc = -errno;

		ds_free(w);
		return rc;
	}
	u.filefd = dup_fd;
	w->wsi = lws_adopt_descriptor_vhost(l->vh, LWS_ADOPT_RAW_FILE_DESC, u, "ds-loop", NULL);
	if (!w->wsi) {
		/* lws closes the fd itself when adoption fails part-way. */
		ds_free(w);
		DS_LOG_ERR("cannot adopt fd %d into the loop", fd);
		return -ENOMEM;
	}
	w->l = l;
	w->fd = fd;
	w->fn = fn;
	w->user_data = user_data;
	lws_set_opaque_user_data(w->wsi, w);
	w->next = l->watches;
	l->watches = w;
	return 0;
}

static struct watch *watch_find(struct ds_loop *l, int fd)
{
	for (struct watch *w = l->watches; w; w = w->next)
		if (w->fd == fd)
			return w;
	return NULL;
}

void ds_loop_unwatch(struct ds_loop *l, int fd)
{
	struct watch *w = watch_find(l, fd);

	if (!w)
		return;
	watch_unlink(l, w);
	w->dead = true;
	if (!w->wsi) {
		ds_free(w);
		return;
	}
	/* Inside its own callback the callback's return value closes it; elsewhere ask lws to
	 * close it on its next turn (closing synchronously could pull the wsi from under a
	 * callback further up the stack). */
	if (l->in_cb != w)
		lws_set_timeout(w->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

int ds_loop_want_write(struct ds_loop *l, int fd, ds_fd_fn fn)
{
	struct watch *w = watch_find(l, fd);

	if (!w || !w->wsi)
		return -ENOENT;
	w->wfn = fn;
	lws_callback_on_writable(w->wsi);
	return 0;
}

/* ---- timers ------------------------------------------------------------------------------------- */

static void timer_cb(lws_sorted_usec_list_t *sul)
{
	struct timer *t = lws_container_of(sul, struct timer, sul);
	ds_timer_fn fn = t->fn;

	/* fn may re-arm or cancel this id (cancel frees t): touch nothing after the call. */
	t->fn = NULL;
	if (fn)
		fn(t->user_data);
}

int ds_loop_timer(struct ds_loop *l, int id, int64_t delay_ms, ds_timer_fn fn, void *user_data)
{
	struct timer *t;

	if (!fn)
		return -EINVAL;
	for (t = l->timers; t; t = t->next)
		if (t->id == id)
			break;
	if (!t) {
		t = ds_calloc(1, sizeof(*t));
		if (!t)
			return -ENOMEM;
		t->l = l;
		t->id = id;
		t->next = l->timers;
		l->timers = t;
	}
	t->fn = fn;
	t->user_data = user_data;
	if (delay_ms < 0)
		delay_ms = 0;
	lws_sul_schedule(l->ctx, 0, &t->sul, timer_cb, (lws_usec_t)delay_ms * LWS_US_PER_MS);
	return 0;
}

void ds_loop_timer_cancel(struct ds_loop *l, int id)
{
	for (struct timer **pp = &l->timers; *pp; pp = &(*pp)->next) {
		struct timer *t = *pp;

		if (t->id == id) {
			lws_sul_cancel(&t->sul);
			*pp = t->next;
			ds_free(t);
			return;
		}
	}
}

/* ---- life cycle ------------------------------------------------------------------------------- */

static int set_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

int ds_loop_new(struct ds_loop **out)
{
	struct lws_context_creation_info info;
	struct ds_loop *l;
	int p[2], rc;

	*out = NULL;
	l = ds_calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->pipe_rd = l->pipe_wr = -1;
	l->port_fd = -1;
	l->posts_tail = &l->posts;
	pthread_mutex_init(&l->lock, NULL);

	/* Quiet: lws' notices (version banner, per-connection chatter) would flood a device's log. */
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);

	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	/* No TLS on the loop's own context: HTTP clients build their own (docs/http.md), and a
	 * second TLS-initialised context next to theirs makes lws 4.1.6 leak an SSL_CTX at exit.
	 * Nor the OS CA store, which lws would otherwise load for nothing (about 0.6 MB of heap). */
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
	/*
	 * By default lws sizes its fd tables by RLIMIT_NOFILE and zeroes them: 320 KB of resident
	 * memory at a limit of 20,000, for a loop that watches a handful of descriptors (its pipe,
	 * the port's, the control socket and its clients, an account job's pipe). With a limit
	 * lws looks fds up by a slower search over that many slots instead (lws-context-vhost.h).
	 */
	info.fd_limit_per_thread = LOOP_MAX_FDS;
	info.gid = -1;
	info.uid = -1;
	info.user = l;
	l->ctx = lws_create_context(&info);
	if (!l->ctx) {
		DS_LOG_ERR("cannot create the libwebsockets context");
		rc = -ENOMEM;
		goto fail;
	}
	info.protocols = loop_protocols;
	info.vhost_name = "ds-loop";
	l->vh = lws_create_vhost(l->ctx, &info);
	if (!l->vh) {
		DS_LOG_ERR("cannot create the loop's vhost");
		rc = -ENOMEM;
		goto fail;
	}
	if (pipe(p) < 0) {
		rc = -errno;
		goto fail;
	}
	l->pipe_rd = p[0];
	l->pipe_wr = p[1];
	rc = set_nonblock_cloexec(p[0]);
	if (!rc)
		rc = set_nonblock_cloexec(p[1]);
	if (!rc)
		rc = ds_loop_watch(l, l->pipe_rd, pipe_readable, l);
	if (rc)
		goto fail;
	*out = l;
	return 0;
fail:
	ds_loop_free(l);
	return rc;
}

void ds_loop_free(struct ds_loop *l)
{
	struct post *p;

	if (!l)
		return;
	if (l->port_attached)
		ds_port_set_wake(NULL, NULL);
	l->destroying = true;
	if (l->ctx) {
		/* Closes every adopted wsi (and our duplicates) through RAW_CLOSE_FILE. */
		lws_context_destroy(l->ctx);
		l->ctx = NULL;
	}
	while (l->watches) {
		struct watch *w = l->watches;

		l->watches = w->next;
		ds_free(w);
	}
	while (l->timers) {
		struct timer *t = l->timers;

		l->timers = t->next;
		ds_free(t);
	}
	for (p = l->posts; p;) {
		struct post *next = p->next;

		ds_free(p);
		p = next;
	}
	if (l->pipe_rd >= 0)
		close(l->pipe_rd);
	if (l->pipe_wr >= 0)
		close(l->pipe_wr);
	pthread_mutex_destroy(&l->lock);
	ds_free(l);
}

struct lws_context *ds_loop_lws(struct ds_loop *l)
{
	return l->ctx;
}

void ds_loop_on_port_event(struct ds_loop *l, ds_loop_event_fn fn, void *user_data)
{
	l->ev_fn = fn;
	l->ev_user_data = user_data;
}

int ds_loop_run(struct ds_loop *l)
{
	int rc = 0;

	if (!l->port_attached) {
		rc = port_attach(l);
		if (rc)
			return rc;
	}
	/* lws_service() returns after each batch of events; 0 = sleep until the next sul. */
	while (!l->stop) {
		if (lws_service(l->ctx, 0) < 0) {
			DS_LOG_ERR("libwebsockets service failed");
			rc = -EIO;
			break;
		}
	}
	l->stop = 0;
	return rc;
}
