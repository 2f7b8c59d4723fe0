/*
 * datasync.h - the client C API of datasync: talk to datasyncd over its control socket.
 *
 * Link with libdatasync-client.a (or libdatasync.so). Calls are blocking and a struct
 * ds_client is not thread-safe: use one per thread. Errors are negative errno values; after
 * one, ds_client_error() holds a readable message (the daemon's own when it refused a request).
 *
 *   -ENOENT / -ECONNREFUSED from ds_client_open(): datasyncd is not running.
 *   -EPROTO: the daemon answered something that is not a valid reply.
 *   -EPIPE / -ECONNRESET: the daemon went away during the call.
 *
 * Strings returned through char ** are NUL-terminated JSON; free them with ds_client_free().
 * The wire protocol is described in docs/ipc.md.
 */
#ifndef DATASYNC_DATASYNC_H
#define DATASYNC_DATASYNC_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DATASYNC_CLIENT_API_VERSION 1

struct ds_client;

/* The socket path built into this library (run directory + socket name). */
const char *ds_client_default_socket(void);

/* Connect to datasyncd; socket_path NULL takes ds_client_default_socket(). */
int ds_client_open(const char *socket_path, struct ds_client **out);
void ds_client_close(struct ds_client *c);

/* Readable message about the last failure on c ("" when none). */
const char *ds_client_error(const struct ds_client *c);

/* Free a string returned by this API (NULL is fine). */
void ds_client_free(char *s);

/*
 * Send one request (a JSON object; "id" is filled in when absent) and wait for its reply.
 * Returns 0 when the daemon answered "ok":true, the daemon's -errno when it answered
 * "ok":false, or a transport error. *response_json (when response_json is not NULL) receives
 * the reply in both of the first two cases, NULL otherwise.
 */
int ds_client_call(struct ds_client *c, const char *request_json, char **response_json);

/* Typed helpers over ds_client_call(); response_json may be NULL when not needed. */
int ds_client_version(struct ds_client *c, char **response_json);
int ds_client_status(struct ds_client *c, char **response_json);
int ds_client_list(struct ds_client *c, char **response_json);
/* Sync one collection, or every enabled one when name is NULL. With wait, the reply comes
 * when the run has ended and carries its results; without, as soon as it is queued. */
int ds_client_sync(struct ds_client *c, const char *name, bool wait, char **response_json);
/* reg_json: {"name","title","engine":{...},"remote":{...},"direction","conflict"} (docs/ipc.md).
 * Secrets in it (remote "passphrase") are sealed by the daemon and never stored in clear. */
int ds_client_register(struct ds_client *c, const char *reg_json, char **response_json);
int ds_client_unregister(struct ds_client *c, const char *name, char **response_json);
int ds_client_enable(struct ds_client *c, const char *name, bool enabled, char **response_json);
int ds_client_reset(struct ds_client *c, const char *name, char **response_json);
/* Change when name syncs: schedule_json is a "schedule" object (docs/scheduler.md), e.g.
 * {"interval":"4h","network":"unmetered"}; a member set to null removes that override. */
int ds_client_set(struct ds_client *c, const char *name, const char *schedule_json, char **response_json);
/* A push wake-up for name, or for every collection when name is NULL. */
int ds_client_push(struct ds_client *c, const char *name, char **response_json);

/*
 * App tasks (docs/ipc.md, after Firefox OS RequestSync): datasyncd decides when a task is due
 * (battery, network, coalescing with other syncs) and wakes the app, which does the work.
 * Names are 1..32 (app) and 1..31 (task) characters of A-Z a-z 0-9 _ - .
 * min_interval_s is at least 100 (-EINVAL below); flags: DS_CLIENT_TASK_*; data_json is any
 * JSON value given back with each wake (NULL: none). Registering again replaces the task.
 */
#define DS_CLIENT_TASK_ONESHOT 0x1u   /* removed after its first successful run */
#define DS_CLIENT_TASK_WIFI_ONLY 0x2u /* never on a metered network */
int ds_client_task_register(struct ds_client *c, const char *app, const char *task, long min_interval_s,
			    unsigned flags, const char *data_json, char **response_json);
int ds_client_task_unregister(struct ds_client *c, const char *app, const char *task, char **response_json);
/* The tasks of app, or of every app when app is NULL. */
int ds_client_task_list(struct ds_client *c, const char *app, char **response_json);
/*
 * Block until a task of app (task NULL: any of its tasks) is due; the reply names it and
 * carries its data. Then do the work and call ds_client_task_done() within the reply's slot_s
 * (120 s), on this or another connection. A newer wait for the same task ends this one with
 * -ECANCELED; -ENOENT when app has no such task.
 */
int ds_client_task_wait(struct ds_client *c, const char *app, const char *task, char **response_json);
/* The work of a woken task ended: ok false makes the scheduler retry it later. message may be NULL. */
int ds_client_task_done(struct ds_client *c, const char *app, const char *task, bool ok, const char *message,
			char **response_json);

/*
 * The browser's side of the tabs and clients engines (docs/engine-tabs.md, engine-clients.md).
 * tabs_json: the device's open tabs, a JSON array of {"title", "urlHistory":[current URL,
 * back...] (or "url"), "icon", "lastUsed" (seconds), "inactive", "pinned"}; the daemon keeps
 * what Firefox Sync may carry and uploads this device's tabs record when they changed. A list
 * too long for one request (CONFIG_DS_IPC_MAX_MESSAGE) is sent without its least recently used
 * tabs. The reply says {"changed": bool}.
 */
int ds_client_tabs_set(struct ds_client *c, const char *tabs_json, char **response_json);
/* Other devices' tabs: {"clients":[{"id","clientName","lastModified"(ms),"tabs":[{"title","url",
 * "urlHistory","icon","lastUsed","inactive","pinned"}]}]}; devices known to be gone are left out. */
int ds_client_tabs_list(struct ds_client *c, char **response_json);
/* Other devices of the account: {"clients":[{"id","name","type","fxaDeviceId","lastModified",..}]};
 * stale ones (an old copy of a device) are left out unless all is set. */
int ds_client_clients_list(struct ds_client *c, bool all, char **response_json);
/* Send a command to another device (its id from ds_client_clients_list), e.g. "displayURI"
 * with args_json ["https://...", "<this device's id>", "title"]; deduplicated by (command,
 * args); it goes out with the next clients run. args_json NULL: no arguments. */
int ds_client_clients_send(struct ds_client *c, const char *target, const char *command,
			   const char *args_json, char **response_json);
/* Events for the UI after seq (0: all kept): {"events":[{"seq","type":"tab-received","uri",
 * "title","sender","senderName","wall_ms"}]}. */
int ds_client_events(struct ds_client *c, long long after, char **response_json);

#ifdef __cplusplus
}
#endif

#endif /* DATASYNC_DATASYNC_H */
