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

#ifdef __cplusplus
}
#endif

#endif /* DATASYNC_DATASYNC_H */
