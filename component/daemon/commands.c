/*
 * The control socket's commands (docs/ipc.md): status, version, list, sync, register,
 * unregister, enable, disable, reset. Runs on the loop thread with the loop's store
 * connection; syncs go to the worker.
 */
#define DS_LOG_TAG "daemon"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_CORE
#include "core/ds_core.h"
#include "daemon/ds_account_cmd.h"
#include "daemon/ds_agent.h"
#include "daemon/ds_browser_cmd.h"
#include "daemon/ds_sim_cmd.h"
#include "daemon/ds_tasks.h"
#include "daemon/ds_worker.h"
#include "ipc/ds_ipc.h"
#include "store/ds_store.h"
#include "sync/ds_sync.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#define NAME_MAX_LEN 64

struct request {
	struct ds_agent *a;
	struct ds_ipc_server *s;
	uint64_t conn;
	int64_t id;
	cJSON *req;
};

static int reply(const struct request *r, cJSON *body)
{
	ds_ipc_reply(r->s, r->conn, r->id, body);
	return 0;
}

static int fail(const struct request *r, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(const struct request *r, int err, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ds_ipc_reply_error(r->s, r->conn, r->id, err, "%s", msg);
	return 0;
}

/* Collection names become file and secret names: keep them plain. */
static bool valid_name(const char *n)
{
	size_t len = strlen(n);

	if (!len || len > NAME_MAX_LEN)
		return false;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
		      (*p >= 'A' && *p <= 'Z')))
			return false;
	return true;
}

/* Reply "<what>: <the error's text>". */
static int fail_rc(const struct request *r, int rc, const char *what)
{
	return fail(r, rc, "%s: %s", what, ds_strerror(rc));
}

/* Reply "<what> '<name>': <the error's text>". */
static int fail_name(const struct request *r, int rc, const char *what, const char *name)
{
	return fail(r, rc, "%s '%s': %s", what, name, ds_strerror(rc));
}

/* The reply to a name no collection has. */
static int no_such(const struct request *r, const char *name)
{
	return fail(r, -ENOENT, "no collection named '%s' (see datasyncctl list)", name);
}

/* The "name" of a request, checked, into *name (NULL: absent, when not required); -1 after
 * replying with the error. */
static int req_name(const struct request *r, bool required, const char **name)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(r->req, "name");

	*name = NULL;
	if (!n || cJSON_IsNull(n)) {
		if (required) {
			fail(r, -EINVAL, "\"name\" is required");
			return -1;
		}
		return 0;
	}
	if (!cJSON_IsString(n) || !valid_name(n->valuestring)) {
		fail(r, -EINVAL, "\"name\" must be 1..%d characters of A-Z a-z 0-9 _ -", NAME_MAX_LEN);
		return -1;
	}
	*name = n->valuestring;
	return 0;
}

/* The stored registration of name; NULL after replying with the error. */
static cJSON *get_reg(const struct request *r, const char *name)
{
	cJSON *reg = NULL;
	int rc = ds_store_collection_get(r->a->store, name, &reg);

	if (rc == -ENOENT)
		no_such(r, name);
	else if (rc)
		fail_name(r, rc, "cannot read collection", name);
	return rc ? NULL : reg;
}

/* 1 enabled, 0 disabled, -errno after replying. "enabled" is store state: only list has it. */
static int is_enabled(const struct request *r, const char *name)
{
	cJSON *list = NULL, *it;
	int rc = ds_store_collection_list(r->a->store, &list);

	if (rc) {
		fail_rc(r, rc, "cannot read the collections");
		return rc;
	}
	it = ds_agent_list_find(list, name);
	rc = it ? cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "enabled")) : -ENOENT;
	cJSON_Delete(list);
	if (rc == -ENOENT)
		no_such(r, name);
	return rc;
}

static bool busy(const struct request *r, const char *name, const char *what)
{
	if (ds_worker_state(r->a->worker, name, NULL, 0, NULL, NULL) == DS_WORKER_IDLE)
		return false;
	fail(r, -EBUSY, "collection '%s' is syncing or queued: %s it when the run has ended", name, what);
	return true;
}

/* The checked name and the stored registration of a request that changes an idle collection
 * (what: the command); NULL after replying with the error. */
static cJSON *idle_reg(const struct request *r, const char *what, const char **name)
{
	if (req_name(r, true, name) || busy(r, *name, what))
		return NULL;
	return get_reg(r, *name);
}

static void wipe_secrets(cJSON *j)
{
	for (cJSON *it = j ? j->child : NULL; it; it = it->next) {
		if (cJSON_IsString(it) && it->string && !strcmp(it->string, "passphrase"))
			ds_memzero(it->valuestring, strlen(it->valuestring));
		wipe_secrets(it);
	}
}

static int cmd_version(const struct request *r)
{
	cJSON *b = cJSON_CreateObject(), *f;

	cJSON_AddStringToObject(b, "version", DS_VERSION);
	cJSON_AddNumberToObject(b, "protocol", 1);
	cJSON_AddStringToObject(b, "board", ds_board_get()->name);
	f = cJSON_AddArrayToObject(b, "features");
	if (IS_ENABLED(CONFIG_DS_ENGINE_TABLE))
		cJSON_AddItemToArray(f, cJSON_CreateString("engine:table"));
	if (IS_ENABLED(CONFIG_DS_REMOTE_DIR))
		cJSON_AddItemToArray(f, cJSON_CreateString("remote:dir"));
	if (IS_ENABLED(CONFIG_DS_PORT_SIM))
		cJSON_AddItemToArray(f, cJSON_CreateString("port:sim"));
	return reply(r, b);
}

static int cmd_list(const struct request *r)
{
	int err = 0;
	cJSON *cols = ds_agent_collections_json(r->a, &err), *b;

	if (!cols)
		return fail_rc(r, err, "cannot list collections");
	b = cJSON_CreateObject();
	cJSON_AddItemToObject(b, "collections", cols);
	return reply(r, b);
}

static int cmd_sync(const struct request *r)
{
	bool wait = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r->req, "wait"));
	const char *name;
	cJSON *b;
	int rc;

	if (req_name(r, false, &name))
		return 0; /* replied */
	if (name) {
		rc = is_enabled(r, name);
		if (rc < 0)
			return 0; /* replied */
		if (!rc)
			return fail(r, -EPERM, "collection '%s' is disabled (datasyncctl enable %s)", name, name);
		/* A person overrides constraints and soft backoff, never the server's Retry-After. */
		if (r->a->sched) {
			char why[DS_SCHED_WHY_MAX];

			if (ds_sched_user_request(r->a->sched, name, ds_port_mono_ms(), why, sizeof(why)) == -EAGAIN)
				return fail(r, -EAGAIN, "%s: %s", name, why);
		}
	}
	rc = ds_worker_queue(r->a->worker, name, wait, r->conn, r->id);
	if (rc)
		return fail_rc(r, rc, "cannot queue the sync");
	DS_LOG_INF("sync of %s requested%s", name ? name : "every enabled collection", wait ? " (waiting)" : "");
	if (wait)
		return 1; /* ds_agent_sync_done() replies */
	b = cJSON_CreateObject();
	cJSON_AddBoolToObject(b, "queued", true);
	return reply(r, b);
}

void ds_agent_sync_done(uint64_t conn, int64_t id, cJSON *results, void *user_data)
{
	struct ds_agent *a = user_data;
	cJSON *b = cJSON_CreateObject(), *it, *first = NULL;

	cJSON_ArrayForEach(it, results)
		if (!first && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "ok")))
			first = it;
	cJSON_AddItemToObject(b, "results", results);
	if (first) {
		/* The request failed if a run failed: the first failure is the message, every
		 * collection's outcome rides along. */
		const cJSON *res = cJSON_GetObjectItemCaseSensitive(first, "result");
		const char *msg = ds_agent_json_str(first, "message", "");
		char text[400];
		int err;

		err = cJSON_IsNumber(res) && res->valueint < 0 ? res->valueint : -EIO;
		snprintf(text, sizeof(text), "%s: %s", ds_agent_json_str(first, "name", "?"),
			 msg[0] ? msg : ds_strerror(err));
		ds_ipc_reply_failure(a->ipc, conn, id, err, text, b);
		return;
	}
	ds_ipc_reply(a->ipc, conn, id, b);
}

static int cmd_register(const struct request *r)
{
	cJSON *reg = cJSON_GetObjectItemCaseSensitive(r->req, "registration");
	cJSON *copy = NULL, *remote, *existing = NULL, *b;
	struct ds_collection *c = NULL;
	const cJSON *n;
	const char *refused; /* the step that refused it */
	bool enrolled = false;
	int rc;

	if (!cJSON_IsObject(reg))
		return fail(r, -EINVAL, "\"registration\" (an object) is required");
	n = cJSON_GetObjectItemCaseSensitive(reg, "name");
	if (!cJSON_IsString(n) || !valid_name(n->valuestring))
		return fail(r, -EINVAL, "registration \"name\" must be 1..%d characters of A-Z a-z 0-9 _ -",
			    NAME_MAX_LEN);
	if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(reg, "engine")) ||
	    !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(reg, "remote")))
		return fail(r, -EINVAL, "registration needs \"engine\" and \"remote\" objects");
	if (ds_store_collection_get(r->a->store, n->valuestring, &existing) == 0) {
		cJSON_Delete(existing);
		return fail(r, -EEXIST, "collection '%s' is already registered (unregister it first)",
			    n->valuestring);
	}
	copy = cJSON_Duplicate(reg, true);
	if (!copy)
		return fail(r, -ENOMEM, "out of memory");
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "enabled");
	remote = cJSON_GetObjectItemCaseSensitive(copy, "remote");
	/* Secrets leave the registration here: sealed by the port, referenced by name. */
	rc = ds_remote_enroll(remote, n->valuestring);
	wipe_secrets(r->req);
	if (rc) {
		refused = "remote rejected";
		goto out;
	}
	enrolled = true;
	rc = ds_collection_open(copy, r->a->device_id, &c);
	if (rc) {
		refused = "registration rejected";
		goto out;
	}
	/* Prepare now: the engine checks the table and installs its change tracking, so edits
	 * made before the first sync are not missed and a wrong table is refused at once. */
	if (c->engine->ops->prepare) {
		rc = c->engine->ops->prepare(c->engine);
		if (rc) {
			refused = "engine rejected the registration";
			goto out;
		}
	}
	rc = ds_store_collection_put(r->a->store, n->valuestring, copy);
	if (rc) {
		refused = "cannot store the registration";
		goto out;
	}
	DS_LOG_INF("registered collection %s (%s -> %s)", n->valuestring, c->engine->ops->kind,
		   c->remote->ops->kind);
	ds_agent_sched_reload(r->a, n->valuestring);
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "name", n->valuestring);
	reply(r, b);
	enrolled = false; /* keep the sealed secrets: they belong to the stored registration */
out:
	if (rc)
		fail_rc(r, rc, refused);
	if (enrolled && rc && ds_remote_forget(remote, n->valuestring))
		DS_LOG_WRN("%s: could not erase the secrets of a refused registration", n->valuestring);
	ds_collection_close(c);
	cJSON_Delete(copy);
	return 0;
}

/* A clean-up step of unregister that failed: a warning in the reply and the log. */
static void unregister_warn(cJSON *warnings, const char *name, const char *what, int rc)
{
	char msg[200];

	snprintf(msg, sizeof(msg), "%s failed: %s", what, ds_strerror(rc));
	cJSON_AddItemToArray(warnings, cJSON_CreateString(msg));
	DS_LOG_WRN("%s: %s", name, msg);
}

static int cmd_unregister(const struct request *r)
{
	const char *name;
	cJSON *reg, *b, *warnings;
	int rc;

	reg = idle_reg(r, "unregister", &name);
	if (!reg)
		return 0;
	b = cJSON_CreateObject();
	warnings = cJSON_AddArrayToObject(b, "warnings");
	/* Remove what we installed in the app's data; never the data. A failure here is reported
	 * but does not keep a collection the user wants gone. */
	rc = ds_engine_unregister(cJSON_GetObjectItemCaseSensitive(reg, "engine"));
	if (rc)
		unregister_warn(warnings, name, "engine clean-up", rc);
	rc = ds_remote_forget(cJSON_GetObjectItemCaseSensitive(reg, "remote"), name);
	if (rc && rc != -ENOENT)
		unregister_warn(warnings, name, "erasing the remote's secrets", rc);
	cJSON_Delete(reg);
	rc = ds_store_collection_del(r->a->store, name);
	if (rc) {
		cJSON_Delete(b);
		return fail_name(r, rc, "cannot remove collection", name);
	}
	DS_LOG_INF("unregistered collection %s", name);
	/* A removed collection leaves no override of its schedule. */
	ds_agent_sched_override_set(r->a, name, "{}");
	ds_agent_sched_reload(r->a, name);
	return reply(r, b);
}

static int cmd_enable(const struct request *r, bool enable)
{
	const char *name;
	int rc;

	if (req_name(r, true, &name))
		return 0;
	rc = ds_store_collection_enable(r->a->store, name, enable);
	if (rc == -ENOENT)
		return no_such(r, name);
	if (rc)
		return fail_name(r, rc, enable ? "cannot enable" : "cannot disable", name);
	DS_LOG_INF("collection %s %s", name, enable ? "enabled" : "disabled");
	ds_agent_sched_reload(r->a, name);
	return reply(r, NULL);
}

static int cmd_reset(const struct request *r)
{
	struct ds_collection *c = NULL;
	const char *name;
	cJSON *reg;
	int rc;

	reg = idle_reg(r, "reset", &name);
	if (!reg)
		return 0;
	rc = ds_collection_open(reg, r->a->device_id, &c);
	if (!rc)
		rc = ds_sync_reset(c, r->a->store);
	ds_collection_close(c);
	cJSON_Delete(reg);
	if (rc)
		return fail_name(r, rc, "cannot reset", name);
	DS_LOG_INF("collection %s reset: its local data will be uploaded again", name);
	return reply(r, NULL);
}

/* {"cmd":"set","name":N,"schedule":{...}}: merge into the stored override (docs/scheduler.md). */
static int cmd_set(const struct request *r)
{
	const char *name;
	const cJSON *upd = cJSON_GetObjectItemCaseSensitive(r->req, "schedule"), *it;
	struct ds_sched_policy p;
	char err[160];
	cJSON *cur, *reg, *b;
	char *out;
	int rc;

	if (req_name(r, true, &name))
		return 0;
	if (!cJSON_IsObject(upd))
		return fail(r, -EINVAL, "\"schedule\" (an object) is required");
	reg = get_reg(r, name);
	if (!reg)
		return 0;
	cJSON_Delete(reg);
	cur = ds_agent_sched_override_get(r->a, name);
	if (!cJSON_IsObject(cur)) {
		cJSON_Delete(cur);
		cur = cJSON_CreateObject();
	}
	if (!cur)
		return fail(r, -ENOMEM, "out of memory");
	cJSON_ArrayForEach(it, upd) {
		cJSON_DeleteItemFromObjectCaseSensitive(cur, it->string);
		if (!cJSON_IsNull(it))
			cJSON_AddItemToObject(cur, it->string, cJSON_Duplicate(it, true));
	}
	/* Check the whole override before keeping it. */
	ds_sched_policy_defaults(&p);
	rc = ds_agent_sched_parse(cur, &p, err, sizeof(err));
	if (!rc && r->a->sched)
		rc = ds_sched_policy_check(r->a->sched, &p, false, err, sizeof(err));
	out = rc ? NULL : cJSON_PrintUnformatted(cur);
	cJSON_Delete(cur);
	if (rc)
		return fail(r, rc, "schedule of '%s' refused: %s", name, err);
	if (!out)
		return fail(r, -ENOMEM, "out of memory");
	rc = ds_agent_sched_override_set(r->a, name, out);
	cJSON_free(out);
	if (rc)
		return fail_name(r, rc, "cannot store the schedule of", name);
	ds_agent_sched_reload(r->a, name);
	DS_LOG_INF("collection %s: schedule changed", name);
	b = cJSON_CreateObject();
	cur = ds_agent_sched_info_json(r->a, name);
	if (cur)
		cJSON_AddItemToObject(b, "schedule", cur);
	return reply(r, b);
}

/* {"cmd":"push"[,"name":N]}: a push wake-up (the push client calls ds_sched_push_wakeup()). */
static int cmd_push(const struct request *r)
{
	const char *name;
	int rc;

	if (req_name(r, false, &name))
		return 0;
	rc = ds_sched_push_wakeup(r->a->sched, name, ds_port_mono_ms());
	if (rc == -ENOENT)
		return no_such(r, name);
	if (rc)
		return fail_rc(r, rc, "push");
	DS_LOG_INF("push wake-up for %s", name ? name : "every collection");
	ds_agent_sched_kick(r->a);
	return reply(r, NULL);
}

#ifdef CONFIG_DS_APP_TASKS
#define TASK_CMDS "task-register, task-unregister, task-list, task-wait, task-done, "
#else
#define TASK_CMDS ""
#endif

int ds_agent_handle_request(struct ds_ipc_server *s, uint64_t conn, int64_t id, const char *cmd, cJSON *req,
			    void *user_data)
{
	struct request r = { user_data, s, conn, id, req };

	DS_LOG_DBG("request %lld: %s", (long long)id, cmd);
	if (!strcmp(cmd, "status")) {
		cJSON *st = ds_agent_status_json(r.a);

		ds_account_cmd_status(r.a, st);
		return reply(&r, st);
	}
	if (IS_ENABLED(CONFIG_DS_ACCOUNT) && ds_account_cmd_is(cmd))
		return ds_account_cmd_handle(r.a, s, conn, id, cmd, req);
	if (!strcmp(cmd, "version"))
		return cmd_version(&r);
	if (!strcmp(cmd, "list"))
		return cmd_list(&r);
	if (!strcmp(cmd, "sync"))
		return cmd_sync(&r);
	if (!strcmp(cmd, "register"))
		return cmd_register(&r);
	if (!strcmp(cmd, "unregister"))
		return cmd_unregister(&r);
	if (!strcmp(cmd, "enable") || !strcmp(cmd, "disable"))
		return cmd_enable(&r, cmd[0] == 'e');
	if (!strcmp(cmd, "reset"))
		return cmd_reset(&r);
	if (!strcmp(cmd, "set"))
		return cmd_set(&r);
	if (!strcmp(cmd, "push"))
		return cmd_push(&r);
	if (ds_tasks_cmd_is(cmd))
		return ds_tasks_cmd_handle(r.a, s, conn, id, cmd, req);
	if ((IS_ENABLED(CONFIG_DS_ENGINE_TABS) || IS_ENABLED(CONFIG_DS_ENGINE_CLIENTS)) && ds_browser_cmd_is(cmd))
		return ds_browser_cmd_handle(r.a, s, conn, id, cmd, req);
	if (IS_ENABLED(CONFIG_DS_PORT_SIM) && ds_sim_cmd_is(cmd))
		return ds_sim_cmd_handle(r.a, s, conn, id, cmd, req);
	return fail(&r, -ENOTSUP, "unknown command '%.40s' (status, version, list, sync, register, "
			      "unregister, enable, disable, reset, set, push, " TASK_CMDS "login, login-verify, logout)",
		    cmd);
}
