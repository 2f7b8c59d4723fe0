/*
 * The tabs engine (docs/engine-tabs.md): our own record is the only local change there is (one
 * id, the device's client id), pending when the browser's tabs changed or the server lost it;
 * every other record is another device's tabs, kept as received for the UI.
 *
 * Rules (tests in test/unit/tabs_engine_test.c):
 *  - our record is built at upload time from the stored tabs, trimmed to the payload budget
 *    (the newest tabs that fit: U7), with the BSO ttl of 180 days (AS TABS_CLIENT_TTL);
 *  - our record coming back from the server is never applied over the browser's tabs; when it
 *    differs from what we would send (another name, an older upload) ours goes up again;
 *  - another device's record that is not a tabs record is refused (counted, never stored).
 */
#define DS_LOG_TAG "tabs"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "engine/tabs/ds_tabs.h"
#include "remote/sync15/ds_sync15.h"
#include "sync/ds_sync.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

struct tabs_engine {
	struct ds_engine e;
	sqlite3 *db;
	size_t budget;
	ds_tabs_device_fn device;
	void *device_user_data;
	char own[65];   /* "" until the account names this device */
	char name[128];
};

static struct tabs_engine *TE(struct ds_engine *e)
{
	return DS_CONTAINER_OF(e, struct tabs_engine, e);
}

static int sqlerr(int rc)
{
	if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_NOMEM ? -ENOMEM : rc == SQLITE_BUSY ? -EBUSY : -EIO;
}

static int exec(struct tabs_engine *t, const char *sql)
{
	return sqlerr(sqlite3_exec(t->db, sql, NULL, NULL, NULL));
}

static int account_device(char id[65], char name[128], void *user_data)
{
	struct ds_sync15_device d;
	int rc = ds_sync15_account_device(&d);

	DS_UNUSED(user_data);
	if (rc)
		return rc;
	snprintf(id, 65, "%s", d.id);
	snprintf(name, 128, "%s", d.name);
	return 0;
}

static int t_prepare(struct ds_engine *e)
{
	struct tabs_engine *t = TE(e);
	int rc = t->device(t->own, t->name, t->device_user_data);

	if (rc || !ds_sync15_id_valid(t->own)) {
		/* Not signed in yet: other devices' tabs still arrive, ours waits for an id. */
		DS_LOG_INF("this device has no client id yet: its tabs are not uploaded");
		t->own[0] = '\0';
	}
	return 0;
}

static int t_begin(struct ds_engine *e)
{
	return exec(TE(e), "BEGIN IMMEDIATE");
}

static int t_commit(struct ds_engine *e)
{
	return exec(TE(e), "COMMIT");
}

static int t_rollback(struct ds_engine *e)
{
	return exec(TE(e), "ROLLBACK");
}

struct local_row {
	char *tabs;
	uint64_t seq;
	int64_t ms;
	bool pending;
};

/* The stored tabs row: 0, -ENOENT (the browser never reported tabs), or an errno. */
static int local_get(struct tabs_engine *t, struct local_row *out)
{
	sqlite3_stmt *st;
	int rc, s;

	memset(out, 0, sizeof(*out));
	rc = sqlerr(sqlite3_prepare_v2(t->db, "SELECT tabs, seq, ms, pending FROM tabs_local WHERE k = 1",
				       -1, &st, NULL));
	if (rc)
		return rc;
	s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		out->tabs = ds_strdup((const char *)sqlite3_column_text(st, 0));
		out->seq = (uint64_t)sqlite3_column_int64(st, 1);
		out->ms = sqlite3_column_int64(st, 2);
		out->pending = sqlite3_column_int(st, 3) != 0;
		rc = out->tabs ? 0 : -ENOMEM;
	} else {
		rc = s == SQLITE_DONE ? -ENOENT : sqlerr(s);
	}
	sqlite3_finalize(st);
	return rc;
}

/* Our record as it would go up now. */
static int own_record(struct tabs_engine *t, const struct local_row *row, struct ds_record *out)
{
	cJSON *tabs = cJSON_Parse(row->tabs);
	size_t kept = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsArray(tabs)) {
		cJSON_Delete(tabs);
		return -EIO; /* only ds_tabs_local_set writes that column */
	}
	rc = ds_tabs_record_build(t->own, t->name, tabs, t->budget, &out->payload, &kept);
	if (rc == 0 && kept < (size_t)cJSON_GetArraySize(tabs))
		DS_LOG_INF("%zu of %d tabs fit the record; the oldest stay on this device", kept,
			   cJSON_GetArraySize(tabs));
	cJSON_Delete(tabs);
	if (rc == 0 && !(out->id = ds_strdup(t->own)))
		rc = -ENOMEM;
	out->change_seq = row->seq;
	out->modified_ms = row->ms;
	out->ttl_s = DS_TABS_TTL_S;
	if (rc)
		ds_record_clear(out);
	return rc;
}

static int t_get(struct ds_engine *e, const char *id, struct ds_record *out)
{
	struct tabs_engine *t = TE(e);
	sqlite3_stmt *st;
	int rc, s;

	memset(out, 0, sizeof(*out));
	if (t->own[0] && !strcmp(id, t->own)) {
		struct local_row row;

		rc = local_get(t, &row);
		if (rc == 0)
			rc = own_record(t, &row, out);
		ds_free(row.tabs);
		return rc;
	}
	rc = sqlerr(sqlite3_prepare_v2(t->db, "SELECT payload, modified_ms FROM tabs_remote WHERE id = ?",
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

static int t_changes_after(struct ds_engine *e, uint64_t after_seq, const char *after_id,
			   ds_record_cb cb, void *user_data)
{
	struct tabs_engine *t = TE(e);
	struct local_row row;
	struct ds_record r;
	int rc;

	if (!t->own[0])
		return 0;
	rc = local_get(t, &row);
	if (rc == -ENOENT)
		return 0;
	if (rc == 0 && row.pending &&
	    (!after_id || row.seq > after_seq || (row.seq == after_seq && strcmp(t->own, after_id) > 0))) {
		rc = own_record(t, &row, &r);
		if (rc == 0) {
			rc = cb(&r, user_data);
			ds_record_clear(&r);
			if (rc == DS_RECORD_STOP)
				rc = 0;
		}
	}
	ds_free(row.tabs);
	return rc;
}

static int t_changes(struct ds_engine *e, ds_record_cb cb, void *user_data)
{
	return t_changes_after(e, 0, NULL, cb, user_data);
}

static int t_pending(struct ds_engine *e, const char *id, struct ds_pending_info *out)
{
	struct tabs_engine *t = TE(e);
	struct local_row row;
	int rc;

	if (!t->own[0] || strcmp(id, t->own))
		return -ENOENT;
	rc = local_get(t, &row);
	ds_free(row.tabs);
	if (rc)
		return rc;
	if (!row.pending)
		return -ENOENT;
	out->change_seq = row.seq;
	out->modified_ms = row.ms;
	out->deleted = false;
	return 0;
}

/* Two cleartexts hold the same JSON (key order and spacing aside). */
static bool same_json(const char *a, const char *b)
{
	cJSON *x = a ? cJSON_Parse(a) : NULL, *y = b ? cJSON_Parse(b) : NULL;
	bool eq = x && y && cJSON_Compare(x, y, 1);

	cJSON_Delete(x);
	cJSON_Delete(y);
	return eq;
}

/* Our record needs to go up (again). */
static int own_touch(struct tabs_engine *t, bool unknown_age)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlerr(sqlite3_prepare_v2(t->db, "UPDATE tabs_local SET seq = seq + 1, pending = 1,"
				       " ms = CASE WHEN ?1 THEN 0 ELSE ms END WHERE k = 1", -1, &st, NULL));
	if (rc)
		return rc;
	sqlite3_bind_int(st, 1, unknown_age);
	rc = sqlerr(sqlite3_step(st));
	sqlite3_finalize(st);
	return rc;
}

static int t_apply(struct ds_engine *e, const struct ds_record *r)
{
	struct tabs_engine *t = TE(e);
	sqlite3_stmt *st;
	cJSON *parsed = NULL;
	int rc;

	if (!r->id || !*r->id || strlen(r->id) > DS_SYNC15_ID_MAX)
		return -EBADMSG;
	if (t->own[0] && !strcmp(r->id, t->own)) {
		/* The server's copy of our record never replaces the browser's tabs; if it is not
		 * what we would send, send ours again. */
		struct ds_record mine;

		rc = t_get(e, r->id, &mine);
		if (rc == -ENOENT)
			return 0;
		if (rc == 0 && (r->deleted || !same_json(r->payload, mine.payload)))
			rc = own_touch(t, false);
		ds_record_clear(&mine);
		return rc;
	}
	if (r->deleted || !r->payload) {
		rc = sqlerr(sqlite3_prepare_v2(t->db, "DELETE FROM tabs_remote WHERE id = ?", -1, &st, NULL));
		if (rc)
			return rc;
		sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
		rc = sqlerr(sqlite3_step(st));
		sqlite3_finalize(st);
		return rc;
	}
	rc = ds_tabs_record_parse(r->payload, &parsed);
	cJSON_Delete(parsed);
	if (rc)
		return rc;
	rc = sqlerr(sqlite3_prepare_v2(t->db, "INSERT OR REPLACE INTO tabs_remote(id, payload, modified_ms)"
				       " VALUES (?, ?, ?)", -1, &st, NULL));
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->payload, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, r->modified_ms);
	rc = sqlerr(sqlite3_step(st));
	sqlite3_finalize(st);
	return rc;
}

static int t_forget(struct ds_engine *e, const char *id, uint64_t change_seq)
{
	struct tabs_engine *t = TE(e);
	sqlite3_stmt *st;
	int rc;

	if (!t->own[0] || strcmp(id, t->own))
		return 0;
	rc = sqlerr(sqlite3_prepare_v2(t->db, "UPDATE tabs_local SET pending = 0 WHERE k = 1 AND seq <= ?",
				       -1, &st, NULL));
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)change_seq);
	rc = sqlerr(sqlite3_step(st));
	sqlite3_finalize(st);
	return rc;
}

static int t_mark_all(struct ds_engine *e)
{
	return own_touch(TE(e), true);
}

static void t_close(struct ds_engine *e)
{
	struct tabs_engine *t;

	if (!e)
		return;
	t = TE(e);
	sqlite3_close(t->db);
	ds_free(t);
}

static const struct ds_engine_ops tabs_ops = {
	.kind = "tabs",
	.prepare = t_prepare,
	.begin = t_begin,
	.commit = t_commit,
	.rollback = t_rollback,
	.changes = t_changes,
	.changes_after = t_changes_after,
	.pending = t_pending,
	.get = t_get,
	.apply = t_apply,
	.forget = t_forget,
	.merge = NULL,
	.mark_all = t_mark_all,
	.close = t_close,
};

int ds_tabs_engine_new(const struct ds_tabs_config *cfg, struct ds_engine **out)
{
	struct tabs_engine *t;
	char *path = NULL;
	int rc;

	*out = NULL;
	t = ds_calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if (!cfg->db_path && !(path = ds_tabs_db_default_path())) {
		ds_free(t);
		return -ENOMEM;
	}
	rc = ds_tabs_db_open(cfg->db_path ? cfg->db_path : path, &t->db);
	ds_free(path);
	if (rc) {
		ds_free(t);
		return rc;
	}
	t->budget = ds_tabs_cleartext_budget(cfg->max_payload_bytes ? cfg->max_payload_bytes
								   : DS_TABS_MAX_PAYLOAD_DEFAULT);
	t->device = cfg->device ? cfg->device : account_device;
	t->device_user_data = cfg->device_user_data;
	t->e.ops = &tabs_ops;
	t->e.priv = t;
	*out = &t->e;
	return 0;
}

int ds_tabs_engine_open(const cJSON *cfg, struct ds_engine **out)
{
	const cJSON *db = cJSON_GetObjectItemCaseSensitive(cfg, "db");
	const cJSON *max = cJSON_GetObjectItemCaseSensitive(cfg, "max_payload_bytes");
	struct ds_tabs_config c = { 0 };

	*out = NULL;
	if ((db && (!cJSON_IsString(db) || !*db->valuestring)) ||
	    (max && (!cJSON_IsNumber(max) || max->valuedouble < 1024 || max->valuedouble > 1e9))) {
		DS_LOG_ERR("tabs engine: \"db\" must be a path and \"max_payload_bytes\" a number of "
			   "bytes (at least 1024)");
		return -EINVAL;
	}
	c.db_path = db ? db->valuestring : NULL;
	c.max_payload_bytes = max ? (size_t)max->valuedouble : 0;
	return ds_tabs_engine_new(&c, out);
}

int ds_tabs_engine_unregister(const cJSON *cfg)
{
	/* Nothing of ours lives in the browser's data: the state file is the daemon's. */
	DS_UNUSED(cfg);
	return 0;
}
