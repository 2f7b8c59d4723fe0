/*
 * The client library behind datasync.h: blocking calls over the control socket.
 *
 * It allocates with libc, not ds_malloc: apps link libdatasync-client.a on its own, without
 * the daemon's core.
 */
#include <datasync/datasync.h>

#include "ipc/ds_ipc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Replies (a status with many collections) may be longer than the daemon's request limit. */
#define CLIENT_MAX_REPLY (16 * 1024 * 1024)

struct ds_client {
	int fd;
	int64_t next_id;
	struct ds_ipc_frame in;
	char error[256];
};

static void set_error(struct ds_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct ds_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
}

const char *ds_client_default_socket(void)
{
	return CONFIG_DS_RUN_DIR "/" CONFIG_DS_IPC_SOCKET;
}

int ds_client_open(const char *socket_path, struct ds_client **out)
{
	struct sockaddr_un sa;
	struct ds_client *c;
	int rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!socket_path)
		socket_path = ds_client_default_socket();
	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->next_id = 1;
	ds_ipc_frame_init(&c->in, CLIENT_MAX_REPLY, malloc, free);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		rc = -errno;
		free(c);
		return rc;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
	while ((rc = connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) < 0 && errno == EINTR)
		;
	if (rc < 0) {
		rc = -errno;
		close(c->fd);
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void ds_client_close(struct ds_client *c)
{
	if (!c)
		return;
	close(c->fd);
	ds_ipc_frame_free(&c->in);
	free(c);
}

const char *ds_client_error(const struct ds_client *c)
{
	return c ? c->error : "no client";
}

void ds_client_free(char *s)
{
	free(s);
}

static int send_all(struct ds_client *c, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			set_error(c, "sending to datasyncd: %s", strerror(errno));
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads until the reply whose id is id; returns it parsed (caller deletes). */
static int read_reply(struct ds_client *c, int64_t id, cJSON **out)
{
	char buf[4096];

	for (;;) {
		char *line;
		size_t len;
		int rc = ds_ipc_frame_next(&c->in, &line, &len);

		if (rc == 1) {
			cJSON *r = cJSON_ParseWithLength(line, len);
			const cJSON *rid = cJSON_GetObjectItemCaseSensitive(r, "id");

			if (!cJSON_IsObject(r) || !cJSON_IsNumber(rid)) {
				cJSON_Delete(r);
				set_error(c, "datasyncd sent a malformed reply");
				return -EPROTO;
			}
			/* id 0 is the daemon speaking out of turn (refusal, oversize): it concerns us. */
			/* Compared as doubles: a daemon's id beyond int64_t must not be converted. */
			if (rid->valuedouble == (double)id || rid->valuedouble == 0) {
				*out = r;
				return 0;
			}
			cJSON_Delete(r); /* a reply to an earlier call given up on */
			continue;
		}
		if (rc < 0) {
			set_error(c, "datasyncd sent a reply longer than %d bytes", CLIENT_MAX_REPLY);
			return -EPROTO;
		}
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			set_error(c, "reading from datasyncd: %s", strerror(-rc));
			return rc;
		}
		if (n == 0) {
			set_error(c, "datasyncd closed the connection");
			return -ECONNRESET;
		}
		if (ds_ipc_frame_feed(&c->in, buf, (size_t)n))
			return -ENOMEM;
	}
}

/* Wipe the string members named "passphrase" before a request is freed. */
static void wipe_secrets(cJSON *j)
{
	for (cJSON *it = j ? j->child : NULL; it; it = it->next) {
		if (cJSON_IsString(it) && it->string && !strcmp(it->string, "passphrase")) {
			volatile char *v = it->valuestring;

			while (*v)
				*v++ = 0;
		}
		wipe_secrets(it);
	}
}

static int call_json(struct ds_client *c, cJSON *req, char **response_json)
{
	cJSON *rid = cJSON_GetObjectItemCaseSensitive(req, "id"), *reply = NULL;
	const cJSON *ok, *err, *eno;
	int64_t id;
	char *text;
	int rc;

	if (response_json)
		*response_json = NULL;
	c->error[0] = '\0';
	/* An id the daemon would refuse (beyond 2^53 - 1) is replaced like a missing one. */
	if (cJSON_IsNumber(rid) && rid->valuedouble > 0 && rid->valuedouble <= 9007199254740991.0) {
		id = (int64_t)rid->valuedouble;
	} else {
		id = c->next_id++;
		cJSON_DeleteItemFromObjectCaseSensitive(req, "id");
		if (!cJSON_AddNumberToObject(req, "id", (double)id))
			return -ENOMEM;
	}
	text = cJSON_PrintUnformatted(req);
	if (!text)
		return -ENOMEM;
	/* cJSON escapes control characters, so the text holds no '\n' but the one we add. */
	rc = send_all(c, text, strlen(text));
	if (!rc)
		rc = send_all(c, "\n", 1);
	{
		volatile char *v = text;

		while (*v)
			*v++ = 0;
	}
	cJSON_free(text);
	if (rc)
		return rc;
	rc = read_reply(c, id, &reply);
	if (rc)
		return rc;
	ok = cJSON_GetObjectItemCaseSensitive(reply, "ok");
	if (!cJSON_IsBool(ok)) {
		cJSON_Delete(reply);
		set_error(c, "datasyncd sent a reply without \"ok\"");
		return -EPROTO;
	}
	rc = 0;
	if (cJSON_IsFalse(ok)) {
		err = cJSON_GetObjectItemCaseSensitive(reply, "error");
		eno = cJSON_GetObjectItemCaseSensitive(reply, "errno");
		rc = cJSON_IsNumber(eno) && eno->valueint > 0 ? -eno->valueint : -EIO;
		set_error(c, "%s", cJSON_IsString(err) ? err->valuestring : "request failed");
	}
	if (response_json) {
		*response_json = cJSON_PrintUnformatted(reply);
		if (!*response_json)
			rc = rc ? rc : -ENOMEM;
	}
	cJSON_Delete(reply);
	return rc;
}

int ds_client_call(struct ds_client *c, const char *request_json, char **response_json)
{
	cJSON *req;
	int rc;

	if (response_json)
		*response_json = NULL;
	if (!c || !request_json)
		return -EINVAL;
	req = cJSON_Parse(request_json);
	if (!cJSON_IsObject(req)) {
		cJSON_Delete(req);
		set_error(c, "request is not a JSON object");
		return -EINVAL;
	}
	rc = call_json(c, req, response_json);
	wipe_secrets(req);
	cJSON_Delete(req);
	return rc;
}

/* {"cmd":cmd[,"name":name][,extra bool]} */
static int simple(struct ds_client *c, const char *cmd, const char *name, const char *flag, bool value,
		  char **response_json)
{
	cJSON *req;
	int rc = -ENOMEM;

	if (response_json)
		*response_json = NULL;
	if (!c)
		return -EINVAL;
	req = cJSON_CreateObject();
	if (req && cJSON_AddStringToObject(req, "cmd", cmd) &&
	    (!name || cJSON_AddStringToObject(req, "name", name)) &&
	    (!flag || cJSON_AddBoolToObject(req, flag, value)))
		rc = call_json(c, req, response_json);
	cJSON_Delete(req);
	return rc;
}

int ds_client_version(struct ds_client *c, char **response_json)
{
	return simple(c, "version", NULL, NULL, false, response_json);
}

int ds_client_status(struct ds_client *c, char **response_json)
{
	return simple(c, "status", NULL, NULL, false, response_json);
}

int ds_client_list(struct ds_client *c, char **response_json)
{
	return simple(c, "list", NULL, NULL, false, response_json);
}

int ds_client_sync(struct ds_client *c, const char *name, bool wait, char **response_json)
{
	return simple(c, "sync", name, "wait", wait, response_json);
}

int ds_client_unregister(struct ds_client *c, const char *name, char **response_json)
{
	if (!name)
		return -EINVAL;
	return simple(c, "unregister", name, NULL, false, response_json);
}

int ds_client_enable(struct ds_client *c, const char *name, bool enabled, char **response_json)
{
	if (!name)
		return -EINVAL;
	return simple(c, enabled ? "enable" : "disable", name, NULL, false, response_json);
}

int ds_client_reset(struct ds_client *c, const char *name, char **response_json)
{
	if (!name)
		return -EINVAL;
	return simple(c, "reset", name, NULL, false, response_json);
}

int ds_client_register(struct ds_client *c, const char *reg_json, char **response_json)
{
	cJSON *req, *reg;
	int rc = -ENOMEM;

	if (response_json)
		*response_json = NULL;
	if (!c || !reg_json)
		return -EINVAL;
	reg = cJSON_Parse(reg_json);
	if (!cJSON_IsObject(reg)) {
		cJSON_Delete(reg);
		set_error(c, "registration is not a JSON object");
		return -EINVAL;
	}
	req = cJSON_CreateObject();
	if (req && cJSON_AddStringToObject(req, "cmd", "register")) {
		cJSON_AddItemToObject(req, "registration", reg);
		reg = NULL;
		rc = call_json(c, req, response_json);
	}
	wipe_secrets(req);
	wipe_secrets(reg);
	cJSON_Delete(req);
	cJSON_Delete(reg);
	return rc;
}

/* A request built by the caller (consumed): {"cmd":cmd, ...}. */
static int call_built(struct ds_client *c, cJSON *req, char **response_json)
{
	int rc = req ? call_json(c, req, response_json) : -ENOMEM;

	cJSON_Delete(req);
	return rc;
}

static cJSON *new_request(const char *cmd)
{
	cJSON *req = cJSON_CreateObject();

	if (req && !cJSON_AddStringToObject(req, "cmd", cmd)) {
		cJSON_Delete(req);
		return NULL;
	}
	return req;
}

/* Parse json (may be NULL: absent) into a member of req; -EINVAL when it is not JSON. */
static int add_json(struct ds_client *c, cJSON *req, const char *member, const char *json, bool object)
{
	cJSON *v;

	if (!json)
		return 0;
	v = cJSON_Parse(json);
	if (!v || (object && !cJSON_IsObject(v))) {
		cJSON_Delete(v);
		set_error(c, "%s is not a JSON %s", member, object ? "object" : "value");
		return -EINVAL;
	}
	cJSON_AddItemToObject(req, member, v);
	return 0;
}

int ds_client_set(struct ds_client *c, const char *name, const char *schedule_json, char **response_json)
{
	cJSON *req;
	int rc;

	if (response_json)
		*response_json = NULL;
	if (!c || !name || !schedule_json)
		return -EINVAL;
	req = new_request("set");
	if (!req || !cJSON_AddStringToObject(req, "name", name)) {
		cJSON_Delete(req);
		return -ENOMEM;
	}
	rc = add_json(c, req, "schedule", schedule_json, true);
	if (rc) {
		cJSON_Delete(req);
		return rc;
	}
	return call_built(c, req, response_json);
}

int ds_client_push(struct ds_client *c, const char *name, char **response_json)
{
	return simple(c, "push", name, NULL, false, response_json);
}

/* {"cmd":cmd,"app":app[,"task":task]} */
static cJSON *task_request(const char *cmd, const char *app, const char *task)
{
	cJSON *req = new_request(cmd);

	if (req && (!cJSON_AddStringToObject(req, "app", app) ||
		    (task && !cJSON_AddStringToObject(req, "task", task)))) {
		cJSON_Delete(req);
		return NULL;
	}
	return req;
}

int ds_client_task_register(struct ds_client *c, const char *app, const char *task, long min_interval_s,
			    unsigned flags, const char *data_json, char **response_json)
{
	cJSON *req;
	int rc;

	if (response_json)
		*response_json = NULL;
	if (!c || !app || !task)
		return -EINVAL;
	req = task_request("task-register", app, task);
	if (!req || !cJSON_AddNumberToObject(req, "min_interval_s", (double)min_interval_s) ||
	    !cJSON_AddBoolToObject(req, "oneshot", (flags & DS_CLIENT_TASK_ONESHOT) != 0) ||
	    !cJSON_AddBoolToObject(req, "wifi_only", (flags & DS_CLIENT_TASK_WIFI_ONLY) != 0)) {
		cJSON_Delete(req);
		return -ENOMEM;
	}
	rc = add_json(c, req, "data", data_json, false);
	if (rc) {
		cJSON_Delete(req);
		return rc;
	}
	return call_built(c, req, response_json);
}

int ds_client_task_unregister(struct ds_client *c, const char *app, const char *task, char **response_json)
{
	if (response_json)
		*response_json = NULL;
	if (!c || !app || !task)
		return -EINVAL;
	return call_built(c, task_request("task-unregister", app, task), response_json);
}

int ds_client_task_list(struct ds_client *c, const char *app, char **response_json)
{
	cJSON *req;

	if (response_json)
		*response_json = NULL;
	if (!c)
		return -EINVAL;
	req = app ? task_request("task-list", app, NULL) : new_request("task-list");
	return call_built(c, req, response_json);
}

int ds_client_task_wait(struct ds_client *c, const char *app, const char *task, char **response_json)
{
	if (response_json)
		*response_json = NULL;
	if (!c || !app)
		return -EINVAL;
	return call_built(c, task_request("task-wait", app, task), response_json);
}

int ds_client_task_done(struct ds_client *c, const char *app, const char *task, bool ok, const char *message,
			char **response_json)
{
	cJSON *req;

	if (response_json)
		*response_json = NULL;
	if (!c || !app || !task)
		return -EINVAL;
	req = task_request("task-done", app, task);
	if (req && (!cJSON_AddBoolToObject(req, "ok", ok) ||
		    (message && !cJSON_AddStringToObject(req, "message", message)))) {
		cJSON_Delete(req);
		req = NULL;
	}
	return call_built(c, req, response_json);
}

/* lastUsed as the daemon reads it (a number or a numeric string of seconds). */
static double tab_last_used(const cJSON *t)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "lastUsed");

	if (cJSON_IsNumber(v))
		return v->valuedouble;
	return cJSON_IsString(v) ? strtod(v->valuestring, NULL) : 0;
}

/* Drop the least recently used tab of list (U7: the newest tabs are the ones worth sending). */
static void drop_oldest_tab(cJSON *list)
{
	cJSON *t, *oldest = NULL;

	cJSON_ArrayForEach(t, list)
		if (!oldest || tab_last_used(t) < tab_last_used(oldest))
			oldest = t;
	if (oldest)
		cJSON_Delete(cJSON_DetachItemViaPointer(list, oldest));
}

int ds_client_tabs_set(struct ds_client *c, const char *tabs_json, char **response_json)
{
	cJSON *req, *list;
	char *text;
	int rc;

	if (response_json)
		*response_json = NULL;
	if (!c || !tabs_json)
		return -EINVAL;
	req = new_request("tabs-set");
	if (!req)
		return -ENOMEM;
	rc = add_json(c, req, "tabs", tabs_json, false);
	if (rc) {
		cJSON_Delete(req);
		return rc;
	}
	list = cJSON_GetObjectItemCaseSensitive(req, "tabs");
	if (cJSON_IsObject(list))
		list = cJSON_GetObjectItemCaseSensitive(list, "tabs");
	/* The daemon refuses a request line over CONFIG_DS_IPC_MAX_MESSAGE: leave out the oldest
	 * tabs, a sixteenth at a time, until it fits (the id and newline need a few bytes). */
	while (cJSON_IsArray(list) && (text = cJSON_PrintUnformatted(req)) != NULL) {
		size_t len = strlen(text);
		int n = cJSON_GetArraySize(list), cut;

		cJSON_free(text);
		if (len + 32 < (size_t)CONFIG_DS_IPC_MAX_MESSAGE || n == 0)
			break;
		for (cut = n / 16 + 1; cut > 0; cut--)
			drop_oldest_tab(list);
	}
	return call_built(c, req, response_json);
}

int ds_client_tabs_list(struct ds_client *c, char **response_json)
{
	if (response_json)
		*response_json = NULL;
	if (!c)
		return -EINVAL;
	return call_built(c, new_request("tabs-list"), response_json);
}

int ds_client_clients_list(struct ds_client *c, bool all, char **response_json)
{
	cJSON *req;

	if (response_json)
		*response_json = NULL;
	if (!c)
		return -EINVAL;
	req = new_request("clients-list");
	if (req && all && !cJSON_AddBoolToObject(req, "all", true)) {
		cJSON_Delete(req);
		req = NULL;
	}
	return call_built(c, req, response_json);
}

int ds_client_events(struct ds_client *c, long long after, char **response_json)
{
	cJSON *req;

	if (response_json)
		*response_json = NULL;
	if (!c)
		return -EINVAL;
	req = new_request("events");
	if (req && after > 0 && !cJSON_AddNumberToObject(req, "after", (double)after)) {
		cJSON_Delete(req);
		req = NULL;
	}
	return call_built(c, req, response_json);
}

int ds_client_clients_send(struct ds_client *c, const char *target, const char *command,
			   const char *args_json, char **response_json)
{
	cJSON *req;
	int rc;

	if (response_json)
		*response_json = NULL;
	if (!c || !target || !command)
		return -EINVAL;
	req = new_request("clients-send");
	if (!req || !cJSON_AddStringToObject(req, "target", target) ||
	    !cJSON_AddStringToObject(req, "command", command)) {
		cJSON_Delete(req);
		return -ENOMEM;
	}
	rc = add_json(c, req, "args", args_json, false);
	if (rc) {
		cJSON_Delete(req);
		return rc;
	}
	return call_built(c, req, response_json);
}
