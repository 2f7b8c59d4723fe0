/*
 * The prefs engine: the account's one prefs record over the device's prefs.sqlite.
 *
 * Record (sync15.md §8; desktop services/sync/modules/engines/prefs.sys.mjs):
 *   {"id": base64url(app id), "value": {"<pref>": true | 42 | "text" | null, ...}}
 * Rules (docs/engine-prefs.md), each with a test in test/unit/prefs_engine_test.c:
 *  - one record per application: its id is CommonUtils.encodeBase64URL(Services.appinfo.ID)
 *    (padded base64url); records of other applications are ignored;
 *  - only synced prefs travel: a pref syncs when its control row
 *    services.sync.prefs.sync.<name> is 1, or, without one, when the registration allows it;
 *    control prefs themselves never sync;
 *  - values are bool, int (32-bit), string or null; null means "at the default": the device's
 *    row is reset (value NULL) and a pref at its default, or missing, is sent as null, as desktop
 *    does (_getAllPrefs: "Missing and default prefs get the null value");
 *  - a remote value of another type than the device's row, a fraction, an int out of 32 bits,
 *    an object or an array is not applied (desktop's setter throws and skips the pref);
 *  - prefs of the record that this device does not sync (other devices' settings) are kept
 *    beside the record and sent back with it, so that this device never drops them;
 *  - conflicts (policy "merge"): the remote record is applied pref by pref over the local one,
 *    for the prefs it changed since the version both sides last agreed on (the base, kept beside
 *    the record); the local values of the others stay and go up with the merged record. Without
 *    a base (a device's first sync), every remote pref wins: the account's values over a new
 *    device's defaults;
 *  - a tombstone of the record changes nothing (settings are never deleted by a record).
 */
#define DS_LOG_TAG "prefs"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "engine/browser/ds_browser_engine.h"
#include "engine/browser/ds_browser_sqlite.h"
#include "engine/prefs/ds_prefs.h"
#include "engine/prefs/prefs_int.h"
#include "sync/ds_sync.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#define APP_ID_MAX 128
#define RECORD_ID_MAX (4 * (APP_ID_MAX + 2) / 3 + 1)

struct prefs_engine {
	struct ds_browser_engine b; /* over ds_browser_log_track on db */
	sqlite3 *db;
	char id[RECORD_ID_MAX];
	/* merge() stored the remote's version as the base: the apply of the merged record that
	 * follows must not replace it with a version the server does not hold yet. */
	bool merged;
};

static struct prefs_engine *PE(struct ds_engine *e)
{
	return DS_CONTAINER_OF(e, struct prefs_engine, b.e);
}

int ds_prefs_record_id(const char *app_id, char *buf, size_t size)
{
	size_t n, i;
	int rc;

	if (!app_id || !*app_id || (n = strlen(app_id)) > APP_ID_MAX)
		return -EINVAL;
	rc = ds_base64_encode(app_id, n, buf, size);
	if (rc < 0)
		return rc;
	/* encodeBase64URL(bytes, pad = true): the URL alphabet, padding kept. */
	for (i = 0; buf[i]; i++)
		buf[i] = buf[i] == '+' ? '-' : buf[i] == '/' ? '_' : buf[i];
	return 0;
}

/* Records are freed with ds_free (ds_record_clear): copy out of cJSON's allocator. */
static int print_json(const cJSON *o, char **out)
{
	char *text = cJSON_PrintUnformatted(o);

	*out = text ? ds_strdup(text) : NULL;
	cJSON_free(text);
	return *out ? 0 : -ENOMEM;
}

/* ---- local record ----------------------------------------------------------------------- */

static int add_row(const char *name, const char *type, sqlite3_value *v, void *user_data)
{
	cJSON *value = user_data, *item;

	if (!type || sqlite3_value_type(v) == SQLITE_NULL)
		item = cJSON_CreateNull();
	else if (strcmp(type, "bool") == 0)
		item = cJSON_CreateBool(sqlite3_value_int64(v) != 0);
	else if (strcmp(type, "int") == 0)
		item = cJSON_CreateNumber((double)sqlite3_value_int64(v));
	else
		item = cJSON_CreateString((const char *)sqlite3_value_text(v) ?
					  (const char *)sqlite3_value_text(v) : "");
	if (!item || !cJSON_AddItemToObject(value, name, item)) {
		cJSON_Delete(item);
		return -ENOMEM;
	}
	return 0;
}

/* Kept fields (a JSON object: other devices' prefs under "value", unknown top-level fields)
 * added where the local record has none. */
static int join_kept(struct prefs_engine *p, cJSON *o)
{
	char *kept = NULL;
	cJSON *k, *f, *value = cJSON_GetObjectItemCaseSensitive(o, "value");
	int rc = ds_browser_unknown_get(p->db, p->id, &kept);

	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	k = cJSON_Parse(kept);
	ds_free(kept);
	if (!cJSON_IsObject(k)) {
		cJSON_Delete(k);
		return 0;
	}
	rc = 0;
	cJSON_ArrayForEach(f, k) {
		if (strcmp(f->string, "value") == 0) {
			const cJSON *pv;

			cJSON_ArrayForEach(pv, f) {
				cJSON *dup;

				if (cJSON_GetObjectItemCaseSensitive(value, pv->string))
					continue;
				dup = cJSON_Duplicate(pv, true);
				if (!dup || !cJSON_AddItemToObject(value, pv->string, dup)) {
					cJSON_Delete(dup);
					rc = -ENOMEM;
				}
			}
		} else if (strcmp(f->string, "id") != 0 && !cJSON_GetObjectItemCaseSensitive(o, f->string)) {
			cJSON *dup = cJSON_Duplicate(f, true);

			if (!dup || !cJSON_AddItemToObject(o, f->string, dup)) {
				cJSON_Delete(dup);
				rc = -ENOMEM;
			}
		}
	}
	cJSON_Delete(k);
	return rc;
}

static int local_record(struct prefs_engine *p, struct ds_record *out)
{
	cJSON *o = cJSON_CreateObject(), *value;
	int rc = -ENOMEM;

	memset(out, 0, sizeof(*out));
	if (!o || !cJSON_AddStringToObject(o, "id", p->id) || !(value = cJSON_AddObjectToObject(o, "value")))
		goto out;
	rc = prefs_db_synced(p->db, add_row, value);
	if (rc == 0)
		rc = join_kept(p, o);
	if (rc == 0)
		rc = print_json(o, &out->payload);
	if (rc == 0 && !(out->id = ds_strdup(p->id)))
		rc = -ENOMEM;
out:
	cJSON_Delete(o);
	if (rc)
		ds_record_clear(out);
	return rc;
}

/* ---- applying a record ------------------------------------------------------------------ */

/* The row type a JSON value needs, and the value; NULL for a value no pref can hold. */
static const char *value_of(const cJSON *v, struct prefs_value *out)
{
	memset(out, 0, sizeof(*out));
	if (cJSON_IsBool(v)) {
		out->num = cJSON_IsTrue(v);
		return "bool";
	}
	if (cJSON_IsNumber(v)) {
		if (v->valuedouble != v->valuedouble || v->valuedouble < INT32_MIN ||
		    v->valuedouble > INT32_MAX || v->valuedouble != (double)(int64_t)v->valuedouble)
			return NULL;
		out->num = (int64_t)v->valuedouble;
		return "int";
	}
	if (cJSON_IsString(v) && strlen(v->valuestring) <= DS_PREFS_MAX_STRING) {
		out->str = v->valuestring;
		return "string";
	}
	return NULL;
}

static bool name_ok(const char *n)
{
	size_t i;

	for (i = 0; n[i]; i++)
		if ((unsigned char)n[i] < 0x20 || n[i] == 0x7f)
			return false;
	return i > 0 && i <= DS_PREFS_MAX_NAME;
}

/* One pref of a remote record; *keep when it is not ours to apply (kept and sent back). */
static int apply_pref(struct prefs_engine *p, const cJSON *pv, bool *keep)
{
	struct prefs_value val;
	const char *want;
	char have[8];
	bool synced = false;
	int rc;

	*keep = false;
	if (!name_ok(pv->string))
		return 0;
	if (strncmp(pv->string, DS_PREFS_CONTROL_PREFIX, strlen(DS_PREFS_CONTROL_PREFIX)) == 0) {
		*keep = true;
		return 0;
	}
	rc = prefs_db_is_synced(p->db, pv->string, &synced);
	if (rc)
		return rc;
	if (!synced) {
		*keep = true;
		return 0;
	}
	if (cJSON_IsNull(pv))
		return prefs_db_set(p->db, pv->string, NULL, NULL);
	want = value_of(pv, &val);
	rc = prefs_db_type(p->db, pv->string, have);
	if (rc && rc != -ENOENT)
		return rc;
	if (!want || (rc == 0 && strcmp(have, want) != 0)) {
		DS_LOG_WRN("remote value of pref '%s' does not fit it (%s): not applied", pv->string,
			   rc == 0 ? have : "no such type");
		return 0;
	}
	return prefs_db_set(p->db, pv->string, want, &val);
}

static int apply_payload(struct prefs_engine *p, const char *payload)
{
	cJSON *o = cJSON_Parse(payload), *kept = NULL, *kept_value = NULL;
	const cJSON *value, *pv, *f;
	char *text = NULL;
	int rc = -EBADMSG;

	if (!cJSON_IsObject(o))
		goto out;
	value = cJSON_GetObjectItemCaseSensitive(o, "value");
	if (!cJSON_IsObject(value))
		goto out;
	rc = -ENOMEM;
	if (!(kept = cJSON_CreateObject()) || !(kept_value = cJSON_AddObjectToObject(kept, "value")))
		goto out;
	rc = 0;
	cJSON_ArrayForEach(pv, value) {
		bool keep = false;

		rc = apply_pref(p, pv, &keep);
		if (rc)
			goto out;
		if (keep) {
			cJSON *dup = cJSON_Duplicate(pv, true);

			if (!dup || !cJSON_AddItemToObject(kept_value, pv->string, dup)) {
				cJSON_Delete(dup);
				rc = -ENOMEM;
				goto out;
			}
		}
	}
	cJSON_ArrayForEach(f, o) {
		cJSON *dup;

		if (strcmp(f->string, "id") == 0 || strcmp(f->string, "value") == 0)
			continue;
		dup = cJSON_Duplicate(f, true);
		if (!dup || !cJSON_AddItemToObject(kept, f->string, dup)) {
			cJSON_Delete(dup);
			rc = -ENOMEM;
			goto out;
		}
	}
	rc = print_json(kept, &text);
	if (rc == 0)
		rc = ds_browser_unknown_put(p->db, p->id, text);
out:
	ds_free(text);
	cJSON_Delete(kept);
	cJSON_Delete(o);
	return rc;
}

/* The base becomes payload's "value" object. */
static int keep_base(struct prefs_engine *p, const char *payload)
{
	cJSON *o = cJSON_Parse(payload);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "value");
	char *text = NULL;
	int rc = cJSON_IsObject(v) ? print_json(v, &text) : -EBADMSG;

	if (rc == 0)
		rc = prefs_db_base_put(p->db, text);
	ds_free(text);
	cJSON_Delete(o);
	return rc;
}

/* ---- engine ops ------------------------------------------------------------------------- */

static int p_prepare(struct ds_engine *e)
{
	return ds_browser_exec(PE(e)->db, "SELECT name, type, value FROM prefs LIMIT 0");
}

static int p_begin(struct ds_engine *e)
{
	PE(e)->merged = false;
	return ds_browser_log_begin(PE(e)->db);
}

static int p_get(struct ds_engine *e, const char *id, struct ds_record *out)
{
	struct prefs_engine *p = PE(e);

	memset(out, 0, sizeof(*out));
	if (!id || strcmp(id, p->id) != 0)
		return -ENOENT;
	return local_record(p, out);
}

/* A pending change as a record: only this app id's (an earlier app id's stays logged). */
static int p_current(struct ds_engine *e, const char *guid, struct ds_record *out)
{
	struct prefs_engine *p = PE(e);

	if (strcmp(guid, p->id) != 0)
		return DS_BROWSER_SKIP; /* logged under an earlier app id: not this record */
	return local_record(p, out);
}

static int p_apply(struct ds_engine *e, const struct ds_record *r)
{
	struct prefs_engine *p = PE(e);
	int rc;

	if (!r->id)
		return -EBADMSG;
	/* Desktop applies only its own application's record (prefs.sys.mjs applyIncoming). */
	if (strcmp(r->id, p->id) != 0) {
		DS_LOG_DBG("prefs record of another application ignored");
		return 0;
	}
	if (r->deleted || !r->payload)
		return 0;
	rc = apply_payload(p, r->payload);
	if (rc == 0 && !p->merged)
		rc = keep_base(p, r->payload);
	p->merged = false;
	return rc;
}

/* The server acknowledged the record: unless the settings changed again since, what it holds
 * is the local record, the new base. */
static int p_forget(struct ds_engine *e, const char *id, uint64_t change_seq)
{
	struct prefs_engine *p = PE(e);
	struct ds_pending_info pi;
	struct ds_record r;
	int rc = ds_browser_log_forget(p->db, id, change_seq);

	if (rc || strcmp(id, p->id) != 0)
		return rc;
	rc = ds_browser_log_pending(p->db, id, &pi);
	if (rc != -ENOENT)
		return rc < 0 ? rc : 0;
	rc = local_record(p, &r);
	if (rc == 0)
		rc = keep_base(p, r.payload);
	ds_record_clear(&r);
	return rc;
}

/* A pref the remote changed since the base (or every pref, without a base). */
static bool remote_changed(const cJSON *base, const cJSON *pv)
{
	const cJSON *bp;

	if (!base)
		return true;
	bp = cJSON_GetObjectItemCaseSensitive(base, pv->string);
	return !bp || !cJSON_Compare(bp, pv, true);
}

/* Both sides changed: the local record with the prefs the remote changed applied over it. */
static int p_merge(struct ds_engine *e, const struct ds_record *local, const struct ds_record *remote,
		   struct ds_record *out)
{
	struct prefs_engine *p = PE(e);
	cJSON *l = NULL, *r = NULL, *base = NULL, *lv, *f;
	const cJSON *rv, *pv;
	char *base_text = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!local->payload || !remote->payload)
		return ds_record_copy(out, remote->payload ? remote : local);
	rc = prefs_db_base_get(p->db, &base_text);
	if (rc && rc != -ENOENT)
		return rc;
	base = base_text ? cJSON_Parse(base_text) : NULL;
	ds_free(base_text);
	rc = -EBADMSG;
	l = cJSON_Parse(local->payload);
	r = cJSON_Parse(remote->payload);
	lv = cJSON_GetObjectItemCaseSensitive(l, "value");
	rv = cJSON_GetObjectItemCaseSensitive(r, "value");
	if (!cJSON_IsObject(lv) || !cJSON_IsObject(rv))
		goto out;
	rc = 0;
	cJSON_ArrayForEach(pv, rv) {
		cJSON *dup;

		if (cJSON_GetObjectItemCaseSensitive(lv, pv->string) &&
		    !remote_changed(cJSON_IsObject(base) ? base : NULL, pv))
			continue;
		dup = cJSON_Duplicate(pv, true);
		if (!dup) {
			rc = -ENOMEM;
			goto out;
		}
		if (cJSON_GetObjectItemCaseSensitive(lv, pv->string) ?
		    !cJSON_ReplaceItemInObjectCaseSensitive(lv, pv->string, dup) :
		    !cJSON_AddItemToObject(lv, pv->string, dup)) {
			cJSON_Delete(dup);
			rc = -ENOMEM;
			goto out;
		}
	}
	/* Unknown top-level fields: the remote's version. */
	cJSON_ArrayForEach(f, r) {
		cJSON *dup;

		if (strcmp(f->string, "id") == 0 || strcmp(f->string, "value") == 0)
			continue;
		dup = cJSON_Duplicate(f, true);
		if (!dup) {
			rc = -ENOMEM;
			goto out;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(l, f->string);
		if (!cJSON_AddItemToObject(l, f->string, dup)) {
			cJSON_Delete(dup);
			rc = -ENOMEM;
			goto out;
		}
	}
	rc = print_json(l, &out->payload);
	if (rc == 0 && !(out->id = ds_strdup(remote->id)))
		rc = -ENOMEM;
	/* What the server holds is the new base; the merged record is not, until it is uploaded. */
	if (rc == 0 && strcmp(remote->id, p->id) == 0) {
		rc = keep_base(p, remote->payload);
		p->merged = rc == 0;
	}
out:
	cJSON_Delete(base);
	cJSON_Delete(l);
	cJSON_Delete(r);
	if (rc)
		ds_record_clear(out);
	return rc;
}

static int p_mark_all(struct ds_engine *e)
{
	struct prefs_engine *p = PE(e);
	return ds_browser_log_mark_query(p->db, "SELECT record_id AS g FROM datasync_prefs_conf");
}

static void p_close(struct ds_engine *e)
{
	if (!e)
		return;
	sqlite3_close(PE(e)->db);
	ds_free(PE(e));
}

static const struct ds_engine_ops prefs_ops = {
	.kind = "prefs",
	.prepare = p_prepare,
	.begin = p_begin,
	.commit = ds_browser_engine_commit,
	.rollback = ds_browser_engine_rollback,
	.changes = ds_browser_engine_changes,
	.changes_after = ds_browser_engine_changes_after,
	.pending = ds_browser_engine_pending,
	.get = p_get,
	.apply = p_apply,
	.forget = p_forget,
	.merge = p_merge,
	.mark_all = p_mark_all,
	/* No wipe: desktop's PrefStore.wipe ignores the request (prefs.sys.mjs), the device's
	 * settings stay; wipeEngine prefs only resets. */
	.wipe = NULL,
	.close = p_close,
};

int ds_prefs_engine_new(const struct ds_prefs_options *opt, struct ds_engine **out)
{
	struct prefs_engine *p;
	size_t i;
	int rc;

	*out = NULL;
	if (!opt || !opt->path || (opt->n_allow && !opt->allow))
		return -EINVAL;
	for (i = 0; i < opt->n_allow; i++)
		if (!opt->allow[i] || !name_ok(opt->allow[i]) ||
		    strncmp(opt->allow[i], DS_PREFS_CONTROL_PREFIX, strlen(DS_PREFS_CONTROL_PREFIX)) == 0) {
			DS_LOG_ERR("prefs engine: \"allow\" names must be pref names of 1-%d bytes,"
				   " not control prefs", DS_PREFS_MAX_NAME);
			return -EINVAL;
		}
	p = ds_calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	rc = ds_prefs_record_id(opt->app_id ? opt->app_id : DS_PREFS_FIREFOX_APP_ID, p->id, sizeof(p->id));
	if (rc == 0)
		rc = prefs_db_open(opt->path, &p->db);
	if (rc == 0)
		rc = prefs_db_install(p->db, opt->allow, opt->n_allow, p->id);
	if (rc) {
		sqlite3_close(p->db);
		ds_free(p);
		return rc;
	}
	p->b.track = &ds_browser_log_track;
	p->b.s = &p->db;
	p->b.current = p_current;
	p->b.e.ops = &prefs_ops;
	p->b.e.priv = p;
	*out = &p->b.e;
	return 0;
}

static const char *prefs_path(const cJSON *cfg)
{
	return ds_browser_cfg_path(cfg, "prefs", "prefs", "prefs.sqlite");
}

int ds_prefs_engine_open(const cJSON *cfg, struct ds_engine **out)
{
	struct ds_prefs_options o = { 0 };
	const cJSON *allow = cJSON_GetObjectItemCaseSensitive(cfg, "allow");
	const cJSON *app = cJSON_GetObjectItemCaseSensitive(cfg, "app_id"), *a;
	const char **names = NULL;
	int rc;

	*out = NULL;
	o.path = prefs_path(cfg);
	if (!o.path)
		return -EINVAL;
	if ((allow && !cJSON_IsArray(allow)) || (app && (!cJSON_IsString(app) || !*app->valuestring))) {
		DS_LOG_ERR("prefs engine: \"allow\" is an array of pref names, \"app_id\" a string");
		return -EINVAL;
	}
	o.app_id = app ? app->valuestring : NULL;
	if (allow && cJSON_GetArraySize(allow) > 0) {
		names = ds_calloc((size_t)cJSON_GetArraySize(allow), sizeof(*names));
		if (!names)
			return -ENOMEM;
		cJSON_ArrayForEach(a, allow) {
			if (!cJSON_IsString(a)) {
				DS_LOG_ERR("prefs engine: \"allow\" is an array of pref names");
				ds_free(names);
				return -EINVAL;
			}
			names[o.n_allow++] = a->valuestring;
		}
	}
	o.allow = names;
	rc = ds_prefs_engine_new(&o, out);
	ds_free(names);
	return rc;
}

int ds_prefs_engine_unregister(const cJSON *cfg)
{
	const char *path = prefs_path(cfg);

	return path ? ds_prefs_uninstall(path) : -EINVAL;
}
