/*
 * The browser's requests (docs/ipc.md):
 *   {"cmd":"tabs-set","tabs":[...]}        -> {"changed":bool}  (the device's open tabs)
 *   {"cmd":"tabs-list"}                    -> {"clients":[{id, clientName, lastModified, tabs}]}
 *   {"cmd":"clients-list"[,"all":true]}    -> {"clients":[{id, name, type, ...}]}
 *   {"cmd":"clients-send","target":id,"command":c[,"args":[..]]} -> {}  (a command to a device)
 *   {"cmd":"events"[,"after":seq]}         -> {"events":[{seq, type:"tab-received", uri, ...}]}
 * and the hooks the clients engine calls for commands from other devices (ds_clients.h): a
 * reset is what `datasyncctl reset` does (ds_sync_reset: cursor forgotten, local data marked for
 * upload, so everything is merged again), run from the sync worker on its own store connection.
 *
 * The tabs and clients engines keep their state in one file (ds_tabs.h); a registration's
 * "db" names another, which these requests then use too.
 */
#define DS_LOG_TAG "daemon"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_CORE
#include "core/ds_core.h"
#include "daemon/ds_agent.h"
#include "daemon/ds_account_cmd.h"
#include "daemon/ds_browser_cmd.h"
#include "ipc/ds_ipc.h"
#include "store/ds_store.h"
#include "sync/ds_sync.h"
#if IS_ENABLED(CONFIG_DS_ENGINE_TABS)
#include "engine/tabs/ds_tabs.h"
#endif
#if IS_ENABLED(CONFIG_DS_ENGINE_CLIENTS)
#include "account/ds_fxa.h"
#include "engine/clients/ds_clients.h"
#endif

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static const char *reg_str(const cJSON *reg, const char *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(reg, obj), key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Each registered collection in turn (registration, stored enabled flag); fn returns nonzero
 * to stop. */
static int for_each_reg(struct ds_store *st, int (*fn)(const cJSON *reg, void *u), void *u)
{
	cJSON *list = NULL, *it;
	int rc = ds_store_collection_list(st, &list);

	if (rc)
		return rc;
	cJSON_ArrayForEach(it, list) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "name");
		cJSON *reg = NULL;

		if (!cJSON_IsString(n) || ds_store_collection_get(st, n->valuestring, &reg))
			continue;
		rc = fn(reg, u);
		cJSON_Delete(reg);
		if (rc)
			break;
	}
	cJSON_Delete(list);
	return rc < 0 ? rc : 0;
}

struct find_db {
	const char *kind;
	char *path;
	char name[65];
};

static int find_db_one(const cJSON *reg, void *u)
{
	struct find_db *f = u;
	const char *kind = reg_str(reg, "engine", "kind"), *db = reg_str(reg, "engine", "db");
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(reg, "name"));

	if (!kind || strcmp(kind, f->kind))
		return 0;
	if (db && !f->path && !(f->path = ds_strdup(db)))
		return -ENOMEM;
	if (name && !f->name[0])
		snprintf(f->name, sizeof(f->name), "%s", name);
	return 1;
}

/* The state file of the engine kind: its registration's "db", else the default one. */
static char *browser_db(struct ds_store *st, const char *kind, char name[65])
{
	struct find_db f = { kind, NULL, "" };

	for_each_reg(st, find_db_one, &f);
	if (name)
		snprintf(name, 65, "%s", f.name);
	if (f.path)
		return f.path;
	return ds_asprintf("%s/browser.db", ds_port_path(DS_PATH_DATA));
}

static int fail(struct ds_ipc_server *s, uint64_t conn, int64_t id, int err, const char *what)
{
	ds_ipc_reply_error(s, conn, id, err, "%s: %s", what, ds_strerror(err));
	return 0;
}

#if IS_ENABLED(CONFIG_DS_ENGINE_TABS)
static int tabs_set(struct ds_agent *a, struct ds_ipc_server *s, uint64_t conn, int64_t id, cJSON *req)
{
	const cJSON *tabs = cJSON_GetObjectItemCaseSensitive(req, "tabs");
	char name[65], why[200] = "", *path;
	sqlite3 *db = NULL;
	cJSON *b;
	int rc;

	if (!tabs)
		return fail(s, conn, id, -EINVAL, "tabs-set needs \"tabs\" (an array of tabs)");
	path = browser_db(a->store, "tabs", name);
	if (!path)
		return fail(s, conn, id, -ENOMEM, "tabs-set");
	rc = ds_tabs_db_open(path, &db);
	ds_free(path);
	if (rc == 0)
		rc = ds_tabs_local_set(db, tabs, ds_port_wall_ms(), why, sizeof(why));
	sqlite3_close(db);
	if (rc == -EINVAL) {
		ds_ipc_reply_error(s, conn, id, rc, "tabs-set: %s", why);
		return 0;
	}
	if (rc < 0)
		return fail(s, conn, id, rc, "tabs-set: cannot store the tabs");
	/* Other devices see a change soon (desktop syncs tabs about 5 s after one, sync15.md §6):
	 * the tabs collection is due now, within the scheduler's constraints. */
	if (rc == 1 && name[0] && a->sched && ds_sched_push_wakeup(a->sched, name, ds_port_mono_ms()) == 0)
		ds_agent_sched_kick(a);
	b = cJSON_CreateObject();
	cJSON_AddBoolToObject(b, "changed", rc == 1);
	return ds_ipc_reply(s, conn, id, b), 0;
}

static int tabs_list(struct ds_agent *a, struct ds_ipc_server *s, uint64_t conn, int64_t id)
{
	char *path = browser_db(a->store, "tabs", NULL);
	sqlite3 *db = NULL;
	cJSON *out = NULL;
	int rc = path ? ds_tabs_db_open(path, &db) : -ENOMEM;

	ds_free(path);
	if (rc == 0)
		rc = ds_tabs_remote_list(db, &out);
	sqlite3_close(db);
	if (rc)
		return fail(s, conn, id, rc, "tabs-list");
	return ds_ipc_reply(s, conn, id, out), 0;
}
#endif

#if IS_ENABLED(CONFIG_DS_ENGINE_CLIENTS)
static int clients_read(struct ds_agent *a, struct ds_ipc_server *s, uint64_t conn, int64_t id,
			const char *cmd, cJSON *req)
{
	char *path = browser_db(a->store, "clients", NULL);
	const cJSON *after = cJSON_GetObjectItemCaseSensitive(req, "after");
	sqlite3 *db = NULL;
	cJSON *out = NULL;
	int rc = path ? ds_clients_db_open(path, &db) : -ENOMEM;

	ds_free(path);
	if (rc == 0 && !strcmp(cmd, "events"))
		rc = ds_clients_events(db, cJSON_IsNumber(after) ? (int64_t)after->valuedouble : 0, &out);
	else if (rc == 0)
		rc = ds_clients_list(db, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "all")), &out);
	sqlite3_close(db);
	if (rc)
		return fail(s, conn, id, rc, cmd);
	return ds_ipc_reply(s, conn, id, out), 0;
}

static int clients_send(struct ds_agent *a, struct ds_ipc_server *s, uint64_t conn, int64_t id, cJSON *req)
{
	const cJSON *target = cJSON_GetObjectItemCaseSensitive(req, "target");
	const cJSON *command = cJSON_GetObjectItemCaseSensitive(req, "command");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(req, "args");
	char name[65], *path;
	sqlite3 *db = NULL;
	int rc;

	if (!cJSON_IsString(target) || !cJSON_IsString(command) || (args && !cJSON_IsArray(args)))
		return fail(s, conn, id, -EINVAL, "clients-send needs \"target\" (a device id), \"command\" "
			    "and \"args\" (an array of strings)");
	path = browser_db(a->store, "clients", name);
	rc = path ? ds_clients_db_open(path, &db) : -ENOMEM;
	ds_free(path);
	if (rc == 0)
		rc = ds_clients_send(db, target->valuestring, command->valuestring, args);
	sqlite3_close(db);
	if (rc == -ENOENT) {
		ds_ipc_reply_error(s, conn, id, rc, "clients-send: no device '%.64s' among the clients read "
				   "(datasyncctl clients)", target->valuestring);
		return 0;
	}
	if (rc)
		return fail(s, conn, id, rc, "clients-send");
	/* The command goes out with the next clients run: make it due now. */
	if (name[0] && a->sched && ds_sched_push_wakeup(a->sched, name, ds_port_mono_ms()) == 0)
		ds_agent_sched_kick(a);
	return ds_ipc_reply(s, conn, id, NULL), 0;
}

/* ---- commands from other devices (the clients engine's hooks) ------------------------------ */

struct reset_ctx {
	struct ds_agent *a;
	struct ds_store *store;
	const char *engine; /* NULL: every Sync collection */
	bool wipe;
	int done;
	int rc;
};

/*
 * wipeEngine removes the engine's local data before the reset, as desktop's wipeClient does
 * (services/sync/modules/engines.sys.mjs): the next sync downloads the server's copy. The
 * engine removes it inside its transaction without logging it, so no deletion goes up. An
 * engine without a wipe op (or whose store cannot wipe) is only reset.
 */
static int wipe_local(struct ds_collection *c)
{
	struct ds_engine *e = c->engine;
	int rc;

	if (!e->ops->wipe)
		return 0;
	rc = e->ops->begin(e);
	if (rc)
		return rc;
	rc = e->ops->wipe(e);
	if (rc == 0)
		return e->ops->commit(e);
	e->ops->rollback(e);
	if (rc == -ENOTSUP) {
		DS_LOG_INF("%s: its store cannot remove its data: only reset", c->name);
		return 0;
	}
	return rc;
}

static int reset_one(const cJSON *reg, void *u)
{
	struct reset_ctx *x = u;
	const char *kind = reg_str(reg, "engine", "kind"), *rkind = reg_str(reg, "remote", "kind");
	const char *coll = reg_str(reg, "remote", "collection");
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(reg, "name"));
	struct ds_collection *c = NULL;
	int rc;

	if (!kind || !rkind || !name || strcmp(rkind, "sync15"))
		return 0;
	if (x->engine && strcmp(kind, x->engine) && (!coll || strcmp(coll, x->engine)))
		return 0;
	x->done++;
	if (!strcmp(kind, "clients"))
		return 0; /* the collection running now: its own record goes up again anyway */
	if (x->wipe && !strcmp(kind, "tabs") && IS_ENABLED(CONFIG_DS_ENGINE_TABS)) {
#if IS_ENABLED(CONFIG_DS_ENGINE_TABS)
		const char *dbp = reg_str(reg, "engine", "db");
		char *path = dbp ? ds_strdup(dbp) : ds_asprintf("%s/browser.db", ds_port_path(DS_PATH_DATA));
		sqlite3 *db = NULL;

		rc = path ? ds_tabs_db_open(path, &db) : -ENOMEM;
		ds_free(path);
		if (rc == 0)
			rc = ds_tabs_wipe_remote(db);
		sqlite3_close(db);
		if (rc) {
			x->rc = rc;
			return 1;
		}
#endif
	}
	rc = ds_collection_open(reg, x->a->device_id, &c);
	if (rc == 0 && x->wipe)
		rc = wipe_local(c);
	if (rc == 0)
		rc = ds_sync_reset(c, x->store);
	ds_collection_close(c);
	if (rc) {
		DS_LOG_WRN("%s: the reset another device asked for failed: %s", name, ds_strerror(rc));
		x->rc = rc;
		return 1;
	}
	DS_LOG_INF("%s: %s as another device asked", name, x->wipe ? "wiped and reset" : "reset");
	return 0;
}

static int hook_reset(const char *engine, bool wipe, void *user_data)
{
	struct reset_ctx x = { user_data, NULL, engine, wipe, 0, 0 };
	int rc = ds_store_open(x.a->db_path, &x.store);

	if (rc)
		return rc;
	rc = for_each_reg(x.store, reset_one, &x);
	ds_store_close(x.store);
	if (rc)
		return rc;
	if (x.rc)
		return x.rc;
	return x.done ? 0 : -ENOENT;
}

static int hook_logout(void *user_data)
{
	int rc;

	DS_UNUSED(user_data);
	/* The account's secrets (session, keys) leave the device; syncing stops at the next token. */
	rc = ds_fxa_session_erase();
	if (rc == 0 || rc == -ENOENT)
		ds_account_cmd_signed_out_elsewhere();
	return rc;
}
#endif

void ds_browser_cmd_attach(struct ds_agent *a)
{
#if IS_ENABLED(CONFIG_DS_ENGINE_CLIENTS)
	static atomic_bool attached;
	struct ds_clients_hooks h = { hook_reset, hook_logout, a };

	if (atomic_exchange(&attached, true))
		return;
	ds_clients_set_hooks(&h);
#else
	DS_UNUSED(a);
#endif
}

int ds_browser_cmd_handle(struct ds_agent *a, struct ds_ipc_server *s, uint64_t conn, int64_t id,
			  const char *cmd, cJSON *req)
{
#if IS_ENABLED(CONFIG_DS_ENGINE_TABS)
	if (!strcmp(cmd, "tabs-set"))
		return tabs_set(a, s, conn, id, req);
	if (!strcmp(cmd, "tabs-list"))
		return tabs_list(a, s, conn, id);
#endif
#if IS_ENABLED(CONFIG_DS_ENGINE_CLIENTS)
	if (!strcmp(cmd, "clients-list") || !strcmp(cmd, "events"))
		return clients_read(a, s, conn, id, cmd, req);
	if (!strcmp(cmd, "clients-send"))
		return clients_send(a, s, conn, id, req);
#endif
	DS_UNUSED(a);
	DS_UNUSED(req);
	ds_ipc_reply_error(s, conn, id, -ENOTSUP, "'%s' needs the %s engine, which this build leaves out", cmd,
			   strncmp(cmd, "tabs", 4) ? "clients" : "tabs");
	return 0;
}
