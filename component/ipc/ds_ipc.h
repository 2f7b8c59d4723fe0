/*
 * ds_ipc.h - the control socket: newline-delimited JSON over a unix stream socket.
 *
 * Protocol (docs/ipc.md): each message is one JSON object on one line, at most
 * CONFIG_DS_IPC_MAX_MESSAGE bytes before the '\n'. A request is {"id":N,"cmd":"...",...};
 * the reply carries the same id and "ok", plus "error" (readable) and "errno" (positive errno
 * number) when ok is false. Replies to one connection may come out of request order (a
 * "sync" with "wait" answers when its run ends): match them by id.
 */
#ifndef DS_IPC_H
#define DS_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct ds_loop;

/* ---- framing (shared by the server and the client library) ------------------------------------ */

/*
 * Line splitter over a growing buffer. It allocates through the functions given (ds_malloc in
 * the daemon, libc in the client library, which apps link without the core) and wipes what it
 * frees: a request may carry a passphrase.
 */
struct ds_ipc_frame {
	char *buf;
	size_t len;   /* bytes held */
	size_t start; /* first byte not yet returned */
	size_t cap;
	size_t max;   /* longest line accepted, without its '\n' */
	void *(*malloc_fn)(size_t n);
	void (*free_fn)(void *p);
};

void ds_ipc_frame_init(struct ds_ipc_frame *f, size_t max, void *(*malloc_fn)(size_t),
		       void (*free_fn)(void *));
void ds_ipc_frame_free(struct ds_ipc_frame *f);
/* Append received bytes. 0 or -ENOMEM. */
int ds_ipc_frame_feed(struct ds_ipc_frame *f, const void *data, size_t n);
/*
 * Next complete line: 1 with *line (NUL-terminated, '\r\n' accepted, valid until the next call
 * to feed/next) and *len; 0 when no complete line is held; -EMSGSIZE when a line is longer than
 * max (the connection cannot be resynchronised: close it). Empty lines are skipped.
 */
int ds_ipc_frame_next(struct ds_ipc_frame *f, char **line, size_t *len);

/* ---- server (on the daemon's loop) ------------------------------------------------------------ */

struct ds_ipc_server;

struct ds_ipc_server_config {
	const char *path;    /* socket path; whatever is there is replaced (hold the instance lock) */
	const char *group;   /* NULL: mode 0600; else mode 0660 and this group owns the socket */
	unsigned max_clients;
	size_t max_message;
};

/*
 * A request for the daemon. conn names the connection (never reused, so a late reply to a
 * closed one is dropped safely); req is the parsed object, valid during the call only; cmd is
 * its "cmd" string. Return 0 after replying, or 1 to reply later with ds_ipc_reply*().
 */
typedef int (*ds_ipc_request_fn)(struct ds_ipc_server *s, uint64_t conn, int64_t id, const char *cmd,
				 struct cJSON *req, void *user_data);

int ds_ipc_server_new(struct ds_loop *l, const struct ds_ipc_server_config *cfg, ds_ipc_request_fn fn,
		      void *user_data, struct ds_ipc_server **out);
/* Closes every connection and removes the socket file. */
void ds_ipc_server_free(struct ds_ipc_server *s);

/* {"id":id,"ok":true, ...members of body}. body (an object or NULL) is consumed. */
int ds_ipc_reply(struct ds_ipc_server *s, uint64_t conn, int64_t id, struct cJSON *body);
/* {"id":id,"ok":false,"error":"...","errno":N}. */
int ds_ipc_reply_error(struct ds_ipc_server *s, uint64_t conn, int64_t id, int neg_errno, const char *fmt,
		       ...) __attribute__((format(printf, 5, 6)));
/* An error reply that also carries the members of body (consumed), e.g. per-collection results. */
int ds_ipc_reply_failure(struct ds_ipc_server *s, uint64_t conn, int64_t id, int neg_errno, const char *message,
			 struct cJSON *body);
unsigned ds_ipc_server_clients(const struct ds_ipc_server *s);

/*
 * The client of conn has gone: it ended its side of the stream (a killed process, or a
 * half-close) or the connection was closed (error, ds_ipc_server_free). Called once per
 * connection, on the loop. A connection still owed a deferred reply is kept after a half-close
 * so that reply can be delivered: a request that waits for an event and will not be answered
 * now (a task-wait) should be answered or dropped here (ds_ipc_forget), so the dead
 * connection does not hold a client slot until its event comes.
 */
typedef void (*ds_ipc_close_fn)(struct ds_ipc_server *s, uint64_t conn, void *user_data);

/* One callback per server; fn NULL removes it. */
void ds_ipc_server_on_close(struct ds_ipc_server *s, ds_ipc_close_fn fn, void *user_data);
/* A deferred reply conn was owed will not be sent: the connection closes once nothing else is. */
void ds_ipc_forget(struct ds_ipc_server *s, uint64_t conn);

#endif /* DS_IPC_H */
