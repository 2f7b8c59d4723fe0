/*
 * ds_loop.h - the core's event loop, on libwebsockets.
 *
 * One lws_context, one service thread. Timers are lws_sul entries embedded in their owner;
 * port events arrive through ds_port_event_fd() (adopted as a raw fd) and the port's wake
 * callback (lws_cancel_service from another thread). No periodic tick: the loop sleeps until
 * the next event, which is what keeps an idle device's CPU asleep.
 *
 * Every callback runs on the thread inside ds_loop_run(). Only ds_loop_stop(), ds_loop_raise()
 * (both async-signal-safe) and ds_loop_post() may be called from elsewhere.
 */
#ifndef DS_LOOP_H
#define DS_LOOP_H

#include <stdint.h>

struct ds_loop;
struct ds_port_event;
struct lws_context;

typedef void (*ds_loop_event_fn)(const struct ds_port_event *ev, void *user_data);
typedef void (*ds_timer_fn)(void *user_data);
/* Readable (or writable) callback for an fd the owner watches (a listening or client socket). */
typedef void (*ds_fd_fn)(int fd, void *user_data);
typedef void (*ds_loop_signal_fn)(int signo, void *user_data);
typedef void (*ds_loop_call_fn)(void *user_data);

int ds_loop_new(struct ds_loop **out);
/* Cancels timers and watches (the owners' fds are not closed) and detaches from the port. */
void ds_loop_free(struct ds_loop *l);
struct lws_context *ds_loop_lws(struct ds_loop *l);

/* Deliver port events (power, network, ...) to fn on the loop thread. */
void ds_loop_on_port_event(struct ds_loop *l, ds_loop_event_fn fn, void *user_data);

/* One-shot timers, identified by an id the caller picks (re-arming an id replaces it). */
int ds_loop_timer(struct ds_loop *l, int id, int64_t delay_ms, ds_timer_fn fn, void *user_data);
void ds_loop_timer_cancel(struct ds_loop *l, int id);

/*
 * Watch an fd for readability until ds_loop_unwatch(). The loop watches a duplicate of fd,
 * so the owner keeps and closes its own fd (after ds_loop_unwatch()). When the other end
 * hangs up, fn is called once more so the owner's read() sees the end.
 */
int ds_loop_watch(struct ds_loop *l, int fd, ds_fd_fn fn, void *user_data);
void ds_loop_unwatch(struct ds_loop *l, int fd);
/* Call fn once when the watched fd can be written (a nonblocking write hit EAGAIN). */
int ds_loop_want_write(struct ds_loop *l, int fd, ds_fd_fn fn);

/* Run fn(user_data) on the loop thread soon. Thread-safe (not from a signal handler). */
int ds_loop_post(struct ds_loop *l, ds_loop_call_fn fn, void *user_data);

/* Signals: a handler calls ds_loop_raise(), fn then runs on the loop thread with signo. */
void ds_loop_on_signal(struct ds_loop *l, ds_loop_signal_fn fn, void *user_data);
void ds_loop_raise(struct ds_loop *l, int signo);

/* Run until ds_loop_stop() (safe from a signal handler) or an error. */
int ds_loop_run(struct ds_loop *l);
void ds_loop_stop(struct ds_loop *l);

#endif /* DS_LOOP_H */
