/*
 * The clients engine (docs/engine-clients.md), over the tables of clients_store.c.
 *
 * Rules (tests in test/unit/clients_engine_test.c and clients_sync_test.c):
 *  - our record is never taken from the server: its commands are applied and it goes up again
 *    without the applied ones. pending() never reports it, so the core always hands the
 *    server's copy to apply(), whatever the collection's conflict policy: a command can not be
 *    overwritten by our own upload;
 *  - a command applied and still on the server (our upload met a 412 and the record is read
 *    again with a command another device added) is not applied twice ("handled");
 *  - the hooks run after the page's transaction committed (a wipe of tabs, a reset of another
 *    collection, touch other connections); one that fails fails the run before anything is
 *    uploaded, as AS aborts the sync on a command error, and the command, still in the server's
 *    copy, is applied on the next run;
 *  - our record is written at least every DS_SYNC15_CLIENT_REFRESH_MS, and whenever what we
 *    would write differs from the last upload (a new name).
 */
#define DS_LOG_TAG "clients"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "ds_port.h"
#include "engine/clients/clients_int.h"
#include "engine/clients/ds_clients.h"
#include "remote/sync15/ds_sync15.h"
#include "sync/ds_sync.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t hooks_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ds_clients_hooks process_hooks;
static bool process_hooks_set;

void ds_clients_set_hooks(const struct ds_clients_hooks *h)
{
	pthread_mutex_lock(&hooks_lock);
	process_hooks_set = h != NULL;
	if (h)
		process_hooks = *h;
	else
		memset(&process_hooks, 0, sizeof(process_hooks));
	pthread_mutex_unlock(&hooks_lock);
}

/* An applied command whose effect waits for the commit. */
struct action {
	enum ds_clients_cmd kind;
	char *engine; /* NULL: every collection */
	cJSON *cmd;
};

struct clients_engine {
	struct ds_engine e;
	sqlite3 *db;
	ds_clients_device_fn device;
	void *device_user_data;
	struct ds_clients_hooks hooks;
	bool has_hooks;
	int64_t (*now_ms)(void *);
	void *now_user_data;
	struct ds_sync15_device me; /* id "" until the account names this device */
	struct action *actions;
	size_t n_actions;
};

static struct clients_engine *CE(struct ds_engine *e)
{
	return DS_CONTAINER_OF(e, struct clients_engine, e);
}

static int sqlerr(int rc)
{
	return ds_clients_sqlerr(rc);
}

static int64_t now(struct clients_engine *c)
{
	return c->now_ms ? c->now_ms(c->now_user_data) : ds_port_wall_ms();
}

/* ---- our record's state ------------------------------------------------------------------- */

struct own_row {
	cJSON *commands;
	cJSON *handled;
	uint64_t seq;
	int64_t ms;
	bool pending;
	int64_t uploaded_ms;
	char *sent;
};

static void own_row_clear(struct own_row *o)
{
	cJSON_Delete(o->commands);
	cJSON_Delete(o->handled);
	ds_free(o->sent);
	memset(o, 0, sizeof(*o));
}

static int own_load(struct clients_engine *c, struct own_row *o)
{
	sqlite3_stmt *st;
	int rc;

	memset(o, 0, sizeof(*o));
	rc = sqlerr(sqlite3_prepare_v2(c->db, "SELECT commands, handled, seq, ms, pending, uploaded_ms, sent"
				       " FROM clients_own WHERE k = 1", -1, &st, NULL));
	if (rc)
		return rc;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *sent = (const char *)sqlite3_column_text(st, 6);

		o->commands = cJSON_Parse((const char *)sqlite3_column_text(st, 0));
		o->handled = cJSON_Parse((const char *)sqlite3_column_text(st, 1));
		o->seq = (uint64_t)sqlite3_column_int64(st, 2);
		o->ms = sqlite3_column_int64(st, 3);
		o->pending = sqlite3_column_int(st, 4) != 0;
		o->uploaded_ms = sqlite3_column_int64(st, 5);
		o->sent = sent ? ds_strdup(sent) : NULL;
		if (!cJSON_IsArray(o->commands)) {
			cJSON_Delete(o->commands);
			o->commands = cJSON_CreateArray();
		}
		if (!cJSON_IsArray(o->handled)) {
			cJSON_Delete(o->handled);
			o->handled = cJSON_CreateArray();
		}
		rc = o->commands && o->handled && (!sent || o->sent) ? 0 : -ENOMEM;
	} else {
		rc = -EIO; /* the schema inserts the row */
	}
	sqlite3_finalize(st);
	if (rc)
		own_row_clear(o);
	return rc;
}

/* Store commands/handled (NULL: unchanged); touch: our record must go up again. */
static int own_store(struct clients_engine *c, const cJSON *commands, const cJSON *handled, bool touch,
		     int64_t ms)
{
	char *ct = commands ? cJSON_PrintUnformatted(commands) : NULL;
	char *ht = handled ? cJSON_PrintUnformatted(handled) : NULL;
	sqlite3_stmt *st = NULL;
	int rc = -ENOMEM;

	if ((commands && !ct) || (handled && !ht))
		goto out;
	rc = sqlerr(sqlite3_prepare_v2(c->db, "UPDATE clients_own SET commands = coalesce(?1, commands),"
		" handled = coalesce(?2, handled), seq = seq + ?3, pending = pending OR ?3,"
		" ms = CASE WHEN ?3 THEN ?4 ELSE ms END WHERE k = 1", -1, &st, NULL));
	if (rc)
		goto out;
	sqlite3_bind_text(st, 1, ct, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ht, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, touch);
	sqlite3_bind_int64(st, 4, ms);
	rc = sqlerr(sqlite3_step(st));
out:
	sqlite3_finalize(st);
	cJSON_free(ct);
	cJSON_free(ht);
	return rc;
}

static int own_record(struct clients_engine *c, const struct own_row *o, struct ds_record *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = ds_clients_own_record(&c->me, o->commands, &out->payload);
	if (rc == 0 && !(out->id = ds_strdup(c->me.id)))
		rc = -ENOMEM;
	out->change_seq = o->seq;
	out->modified_ms = o->ms;
	out->ttl_s = (uint32_t)DS_SYNC15_CLIENT_TTL_S;
	if (rc)
		ds_record_clear(out);
	return rc;
}

static bool same_json(const char *a, const char *b)
{
	cJSON *x = a ? cJSON_Parse(a) : NULL, *y = b ? cJSON_Parse(b) : NULL;
	bool eq = x && y && cJSON_Compare(x, y, 1);

	cJSON_Delete(x);
	cJSON_Delete(y);
	return eq;
}

static bool is_own(struct clients_engine *c, const char *id)
{
	return c->me.id[0] && !strcmp(id, c->me.id);
}

/* ---- engine ops ----------------------------------------------------------------------------- */

static int refresh_hidden(struct clients_engine *c);
static int default_device(struct ds_sync15_device *out, void *user_data)
{
	DS_UNUSED(user_data);
	return ds_sync15_account_device(out);
}

static int c_prepare(struct ds_engine *e)
{
	struct clients_engine *c = CE(e);
	struct own_row o;
	struct ds_record r;
	int rc;

	/* One writer of our record: this engine, commands included (sync15_clients.c). */
	ds_sync15_client_engine_active();
	/* Records expire with time alone: judge them at every run, not only when a page comes. */
	rc = refresh_hidden(c);
	if (rc == 0)
		rc = ds_clients_outgoing_prune(c->db, NULL);
	if (rc)
		return rc;
	if (c->device(&c->me, c->device_user_data) || !ds_sync15_id_valid(c->me.id)) {
		DS_LOG_INF("this device has no client id yet: other devices are read, ours is not written");
		memset(&c->me, 0, sizeof(c->me));
		return 0;
	}
	rc = own_load(c, &o);
	if (rc)
		return rc;
	rc = own_record(c, &o, &r);
	if (rc == 0 && !o.pending &&
	    (now(c) - o.uploaded_ms >= DS_SYNC15_CLIENT_REFRESH_MS || !same_json(o.sent, r.payload)))
		rc = own_store(c, NULL, NULL, true, now(c)); /* weekly refresh, or a new name */
	ds_record_clear(&r);
	own_row_clear(&o);
	return rc;
}

static int c_begin(struct ds_engine *e)
{
	return sqlerr(sqlite3_exec(CE(e)->db, "BEGIN IMMEDIATE", NULL, NULL, NULL));
}

static void actions_clear(struct clients_engine *c)
{
	for (size_t i = 0; i < c->n_actions; i++) {
		ds_free(c->actions[i].engine);
		cJSON_Delete(c->actions[i].cmd);
	}
	ds_free(c->actions);
	c->actions = NULL;
	c->n_actions = 0;
}

static int refresh_hidden(struct clients_engine *c)
{
	return ds_clients_refresh_hidden(c->db, c->me.id[0] ? c->me.name : NULL, now(c));
}

/* Two commands are the same when they print the same: cJSON_Compare never finds an object
 * with a repeated key equal to itself (found by fuzz/clients), which would apply it twice. */
static bool same_cmd(const cJSON *a, const cJSON *b)
{
	char *x = cJSON_PrintUnformatted(a), *y = x ? cJSON_PrintUnformatted(b) : NULL;
	bool eq = x && y && !strcmp(x, y);

	cJSON_free(x);
	cJSON_free(y);
	return eq;
}

static bool in_list(const cJSON *list, const cJSON *item)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, list)
		if (same_cmd(it, item))
			return true;
	return false;
}

/*
 * A hook failed: the command is no longer "handled", so the server's copy of our record, which
 * still holds it (the failed run uploads nothing), differs from ours and is applied again on
 * the next run. Putting it among the kept commands instead would make the two copies equal and
 * the command would never be tried again.
 */
static void put_back(struct clients_engine *c, const cJSON *cmd)
{
	struct own_row o;

	if (own_load(c, &o))
		return;
	for (int i = cJSON_GetArraySize(o.handled) - 1; i >= 0; i--)
		if (same_cmd(cJSON_GetArrayItem(o.handled, i), cmd))
			cJSON_DeleteItemFromArray(o.handled, i);
	own_store(c, NULL, o.handled, false, 0);
	own_row_clear(&o);
}

static int run_actions(struct clients_engine *c)
{
	int rc = 0;

	for (size_t i = 0; i < c->n_actions && rc == 0; i++) {
		struct action *a = &c->actions[i];

		if (a->kind == DS_CLIENTS_CMD_LOGOUT) {
			DS_LOG_WRN("another device asked this one to sign out");
			rc = c->hooks.logout(c->hooks.user_data);
		} else {
			bool wipe = a->kind == DS_CLIENTS_CMD_WIPE_ENGINE;

			DS_LOG_INF("another device asked to %s %s", wipe ? "wipe" : "reset",
				   a->engine ? a->engine : "every collection");
			rc = c->hooks.reset(a->engine, wipe, c->hooks.user_data);
		}
		if (rc == -ENOENT)
			rc = 0; /* nothing here syncs it: dropped, as AS drops an ignored command */
		if (rc) {
			DS_LOG_WRN("a command from another device failed (%s); it stays for the next run",
				   ds_strerror(rc));
			put_back(c, a->cmd);
		}
	}
	actions_clear(c);
	return rc;
}

static int c_commit(struct ds_engine *e)
{
	struct clients_engine *c = CE(e);
	int rc = refresh_hidden(c);

	if (rc == 0)
		rc = sqlerr(sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL));
	if (rc) {
		actions_clear(c);
		return rc;
	}
	return run_actions(c);
}

static int c_rollback(struct ds_engine *e)
{
	struct clients_engine *c = CE(e);

	actions_clear(c);
	return sqlerr(sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL));
}

static int c_get(struct ds_engine *e, const char *id, struct ds_record *out)
{
	struct clients_engine *c = CE(e);
	sqlite3_stmt *st;
	int rc, s;

	memset(out, 0, sizeof(*out));
	if (is_own(c, id)) {
		struct own_row o;

		rc = own_load(c, &o);
		if (rc == 0)
			rc = own_record(c, &o, out);
		own_row_clear(&o);
		return rc;
	}
	rc = sqlerr(sqlite3_prepare_v2(c->db, "SELECT payload, modified_ms FROM clients_remote WHERE id = ?",
				       -1, &st, NULL));
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		out->id = ds_strdup(id);
		out->payload = ds_strdup((const char *)sqlite3_column_text(st, 0));
		out->modified_ms = sqlite3_column_int64(st, 1);
		rc = out->id && out->payload ? 0 : -ENOMEM;
	} else {
		rc = s == SQLITE_DONE ? -ENOENT : sqlerr(s);
	}
	sqlite3_finalize(st);
	if (rc)
		ds_record_clear(out);
	return rc;
}

struct item {
	char id[65];
	uint64_t seq;
	bool own;
};

static int item_order(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* The pending changes: our record (when it waits for upload) and the records of devices we
 * send commands to, in (seq, id) order as the core pages through them. */
static int c_changes_after(struct ds_engine *e, uint64_t after_seq, const char *after_id,
			   ds_record_cb cb, void *user_data)
{
	struct clients_engine *c = CE(e);
	struct ds_clients_outgoing *out = NULL;
	struct item *items = NULL;
	struct own_row o;
	size_t n = 0, k = 0;
	int rc;

	memset(&o, 0, sizeof(o));
	rc = ds_clients_outgoing_list(c->db, &out, &n);
	if (rc)
		return rc;
	items = ds_calloc(n + 1, sizeof(*items));
	if (!items)
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (is_own(c, out[i].target))
			continue; /* never to ourselves */
		snprintf(items[k].id, sizeof(items[k].id), "%s", out[i].target);
		items[k++].seq = out[i].seq;
	}
	if (rc == 0 && c->me.id[0])
		rc = own_load(c, &o);
	if (rc == 0 && c->me.id[0] && o.pending) {
		snprintf(items[k].id, sizeof(items[k].id), "%s", c->me.id);
		items[k].seq = o.seq;
		items[k++].own = true;
	}
	if (rc == 0)
		qsort(items, k, sizeof(*items), item_order);
	for (size_t i = 0; rc == 0 && i < k; i++) {
		struct ds_record r;

		if (after_id && (items[i].seq < after_seq ||
				 (items[i].seq == after_seq && strcmp(items[i].id, after_id) <= 0)))
			continue;
		memset(&r, 0, sizeof(r));
		if (items[i].own) {
			rc = own_record(c, &o, &r);
		} else {
			rc = ds_clients_outgoing_record(c->db, items[i].id, items[i].seq, &r.payload);
			if (rc == 1 || rc == -ENOENT) {
				rc = 0; /* nothing to add, or no copy of it: the next prune drops them */
				continue;
			}
			if (rc == 0 && !(r.id = ds_strdup(items[i].id)))
				rc = -ENOMEM;
			r.change_seq = items[i].seq;
			r.modified_ms = now(c);
			r.ttl_s = (uint32_t)DS_SYNC15_CLIENT_TTL_S;
		}
		if (rc == 0)
			rc = cb(&r, user_data);
		ds_record_clear(&r);
		if (rc == DS_RECORD_STOP) {
			rc = 0;
			break;
		}
	}
	own_row_clear(&o);
	ds_free(items);
	ds_free(out);
	return rc;
}

static int c_changes(struct ds_engine *e, ds_record_cb cb, void *user_data)
{
	return c_changes_after(e, 0, NULL, cb, user_data);
}

static int c_pending(struct ds_engine *e, const char *id, struct ds_pending_info *out)
{
	/* Never reported: see the rules above. Other devices' records are never changed here. */
	DS_UNUSED(e);
	DS_UNUSED(id);
	DS_UNUSED(out);
	return -ENOENT;
}

static int add_event(struct clients_engine *c, const cJSON *cmd)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(cmd, "args");
	const cJSON *uri = cJSON_GetArrayItem(args, 0), *sender = cJSON_GetArrayItem(args, 1);
	const cJSON *title = cJSON_GetArrayItem(args, 2);
	cJSON *ev = cJSON_CreateObject(), *sname = NULL;
	sqlite3_stmt *st = NULL;
	char *text = NULL;
	int rc = -ENOMEM;

	if (cJSON_IsString(sender)) {
		struct ds_record r;

		if (c_get(&c->e, sender->valuestring, &r) == 0) {
			cJSON *p = cJSON_Parse(r.payload);
			const cJSON *nm = cJSON_GetObjectItemCaseSensitive(p, "name");

			sname = cJSON_IsString(nm) ? cJSON_CreateString(nm->valuestring) : NULL;
			cJSON_Delete(p);
			ds_record_clear(&r);
		}
	}
	if (!ev || !cJSON_AddStringToObject(ev, "type", "tab-received") ||
	    !cJSON_AddStringToObject(ev, "uri", uri->valuestring) ||
	    !cJSON_AddStringToObject(ev, "title", cJSON_IsString(title) ? title->valuestring : "") ||
	    !(cJSON_IsString(sender) ? cJSON_AddStringToObject(ev, "sender", sender->valuestring)
				     : cJSON_AddNullToObject(ev, "sender")) ||
	    !cJSON_AddNumberToObject(ev, "wall_ms", (double)now(c)))
		goto out;
	if (sname)
		cJSON_AddItemToObject(ev, "senderName", sname);
	else if (!cJSON_AddNullToObject(ev, "senderName"))
		goto out;
	sname = NULL;
	text = cJSON_PrintUnformatted(ev);
	if (!text)
		goto out;
	rc = sqlerr(sqlite3_prepare_v2(c->db, "INSERT INTO clients_events(json) VALUES (?)", -1, &st, NULL));
	if (rc == 0) {
		sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
		rc = sqlerr(sqlite3_step(st));
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc == 0)
		rc = sqlerr(sqlite3_prepare_v2(c->db, "DELETE FROM clients_events WHERE seq <= (SELECT max(seq)"
					       " FROM clients_events) - ?", -1, &st, NULL));
	if (rc == 0) {
		sqlite3_bind_int(st, 1, DS_CLIENTS_EVENTS_MAX);
		rc = sqlerr(sqlite3_step(st));
	}
	if (rc == 0)
		DS_LOG_INF("a tab was sent to this device");
out:
	sqlite3_finalize(st);
	cJSON_free(text);
	cJSON_Delete(sname);
	cJSON_Delete(ev);
	return rc;
}

static int queue_action(struct clients_engine *c, enum ds_clients_cmd kind, const cJSON *cmd)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(cmd, "args");
	const cJSON *eng = cJSON_GetArrayItem(args, 0);
	struct action *na = ds_realloc(c->actions, (c->n_actions + 1) * sizeof(*na));
	struct action *a;

	if (!na)
		return -ENOMEM;
	c->actions = na;
	a = &c->actions[c->n_actions];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->cmd = cJSON_Duplicate(cmd, true);
	if (kind != DS_CLIENTS_CMD_RESET_ALL && kind != DS_CLIENTS_CMD_LOGOUT)
		a->engine = ds_strdup(eng->valuestring);
	if (!a->cmd || (kind != DS_CLIENTS_CMD_RESET_ALL && kind != DS_CLIENTS_CMD_LOGOUT && !a->engine)) {
		cJSON_Delete(a->cmd);
		ds_free(a->engine);
		return -ENOMEM;
	}
	c->n_actions++;
	return 0;
}

/* The commands of the server's copy of our record (sync15.md §7). */
static int apply_own(struct clients_engine *c, const struct ds_record *r)
{
	cJSON *p = r->deleted || !r->payload ? NULL : cJSON_Parse(r->payload);
	const cJSON *cmds = cJSON_GetObjectItemCaseSensitive(p, "commands"), *cmd, *list;
	cJSON *kept = cJSON_CreateArray(), *seen = cJSON_CreateArray();
	struct own_row o;
	struct ds_record mine = { 0 };
	int rc;

	rc = own_load(c, &o);
	if (rc)
		goto out;
	rc = -ENOMEM;
	if (!kept || !seen)
		goto out;
	rc = 0;
	list = cJSON_IsArray(cmds) ? cmds : NULL;
	cJSON_ArrayForEach(cmd, list) {
		enum ds_clients_cmd kind = ds_clients_command_kind(cmd);
		cJSON *key;

		/* Applied already (read again after a 412), or a duplicate of one just seen: gone. */
		if (in_list(o.handled, cmd) || in_list(seen, cmd))
			continue;
		key = cJSON_Duplicate(cmd, true);
		if (!key || !cJSON_AddItemToArray(seen, key)) {
			cJSON_Delete(key);
			rc = -ENOMEM;
			break;
		}
		if (kind == DS_CLIENTS_CMD_UNKNOWN ||
		    (kind != DS_CLIENTS_CMD_DISPLAY_URI && !c->has_hooks) ||
		    (kind == DS_CLIENTS_CMD_LOGOUT && !c->hooks.logout) ||
		    (kind != DS_CLIENTS_CMD_DISPLAY_URI && kind != DS_CLIENTS_CMD_LOGOUT && !c->hooks.reset)) {
			/* Kept in our record and retried (AS: unsupported commands stay). */
			rc = cJSON_AddItemToArray(kept, cJSON_Duplicate(cmd, true)) ? 0 : -ENOMEM;
		} else if (kind == DS_CLIENTS_CMD_DISPLAY_URI) {
			rc = add_event(c, cmd);
		} else {
			rc = queue_action(c, kind, cmd);
		}
		if (rc == 0 && kind != DS_CLIENTS_CMD_UNKNOWN && !in_list(kept, cmd))
			rc = cJSON_AddItemToArray(o.handled, cJSON_Duplicate(cmd, true)) ? 0 : -ENOMEM;
		if (rc)
			break;
	}
	if (rc)
		goto out;
	cJSON_Delete(o.commands);
	o.commands = kept;
	kept = NULL;
	rc = own_record(c, &o, &mine);
	if (rc == 0)
		rc = own_store(c, o.commands, o.handled, !same_json(r->payload, mine.payload), now(c));
out:
	ds_record_clear(&mine);
	own_row_clear(&o);
	cJSON_Delete(kept);
	cJSON_Delete(seen);
	cJSON_Delete(p);
	return rc;
}

static int c_apply(struct ds_engine *e, const struct ds_record *r)
{
	struct clients_engine *c = CE(e);
	sqlite3_stmt *st;
	cJSON *parsed = NULL;
	int rc;

	if (!r->id || !*r->id || strlen(r->id) > DS_SYNC15_ID_MAX)
		return -EBADMSG;
	if (is_own(c, r->id))
		return apply_own(c, r);
	if (r->deleted || !r->payload) {
		rc = sqlerr(sqlite3_prepare_v2(c->db, "DELETE FROM clients_remote WHERE id = ?", -1, &st, NULL));
		if (rc)
			return rc;
		sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
		rc = sqlerr(sqlite3_step(st));
		sqlite3_finalize(st);
		return rc ? rc : ds_clients_outgoing_prune(c->db, r->id);
	}
	rc = ds_clients_record_parse(r->payload, &parsed);
	cJSON_Delete(parsed);
	if (rc)
		return rc;
	rc = sqlerr(sqlite3_prepare_v2(c->db, "INSERT OR REPLACE INTO clients_remote(id, payload, modified_ms,"
				       " hidden) VALUES (?, ?, ?, 0)", -1, &st, NULL));
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->payload, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, r->modified_ms);
	rc = sqlerr(sqlite3_step(st));
	sqlite3_finalize(st);
	/* Commands queued for it that this copy already holds are delivered. */
	return rc ? rc : ds_clients_outgoing_prune(c->db, r->id);
}

static int c_forget(struct ds_engine *e, const char *id, uint64_t change_seq)
{
	struct clients_engine *c = CE(e);
	struct own_row o;
	struct ds_record r;
	sqlite3_stmt *st;
	int rc;

	if (!is_own(c, id))
		return ds_clients_outgoing_forget(c->db, id, change_seq);
	rc = own_load(c, &o);
	if (rc)
		return rc;
	if (o.seq > change_seq) {
		own_row_clear(&o);
		return 0; /* changed again during the upload: stays pending */
	}
	rc = own_record(c, &o, &r);
	own_row_clear(&o);
	if (rc)
		return rc;
	/* Uploaded: the applied commands left the server with it. */
	rc = sqlerr(sqlite3_prepare_v2(c->db, "UPDATE clients_own SET pending = 0, handled = '[]',"
				       " uploaded_ms = ?, sent = ? WHERE k = 1", -1, &st, NULL));
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, now(c));
		sqlite3_bind_text(st, 2, r.payload, -1, SQLITE_STATIC);
		rc = sqlerr(sqlite3_step(st));
		sqlite3_finalize(st);
	}
	ds_record_clear(&r);
	return rc;
}

static int c_mark_all(struct ds_engine *e)
{
	struct clients_engine *c = CE(e);

	return own_store(c, NULL, NULL, true, 0);
}

static void c_close(struct ds_engine *e)
{
	struct clients_engine *c;

	if (!e)
		return;
	c = CE(e);
	actions_clear(c);
	sqlite3_close(c->db);
	ds_free(c);
}

static const struct ds_engine_ops clients_ops = {
	.kind = "clients",
	.prepare = c_prepare,
	.begin = c_begin,
	.commit = c_commit,
	.rollback = c_rollback,
	.changes = c_changes,
	.changes_after = c_changes_after,
	.pending = c_pending,
	.get = c_get,
	.apply = c_apply,
	.forget = c_forget,
	.merge = NULL,
	.mark_all = c_mark_all,
	.close = c_close,
};

int ds_clients_engine_new(const struct ds_clients_config *cfg, struct ds_engine **out)
{
	struct clients_engine *c;
	char *path = NULL;
	int rc;

	*out = NULL;
	c = ds_calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (!cfg->db_path && !(path = ds_asprintf("%s/%s", ds_port_path(DS_PATH_DATA), DS_CLIENTS_DB_NAME))) {
		ds_free(c);
		return -ENOMEM;
	}
	rc = ds_clients_db_open(cfg->db_path ? cfg->db_path : path, &c->db);
	ds_free(path);
	if (rc) {
		ds_free(c);
		return rc;
	}
	c->device = cfg->device ? cfg->device : default_device;
	c->device_user_data = cfg->device_user_data;
	c->now_ms = cfg->now_ms;
	c->now_user_data = cfg->now_user_data;
	if (cfg->hooks) {
		c->hooks = *cfg->hooks;
		c->has_hooks = true;
	} else {
		pthread_mutex_lock(&hooks_lock);
		c->hooks = process_hooks;
		c->has_hooks = process_hooks_set;
		pthread_mutex_unlock(&hooks_lock);
	}
	c->e.ops = &clients_ops;
	c->e.priv = c;
	*out = &c->e;
	return 0;
}

int ds_clients_engine_open(const cJSON *cfg, struct ds_engine **out)
{
	const cJSON *db = cJSON_GetObjectItemCaseSensitive(cfg, "db");
	struct ds_clients_config c = { 0 };

	*out = NULL;
	if (db && (!cJSON_IsString(db) || !*db->valuestring)) {
		DS_LOG_ERR("clients engine: \"db\" must be a path");
		return -EINVAL;
	}
	c.db_path = db ? db->valuestring : NULL;
	return ds_clients_engine_new(&c, out);
}

int ds_clients_engine_unregister(const cJSON *cfg)
{
	DS_UNUSED(cfg);
	return 0;
}
