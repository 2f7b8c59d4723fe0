/*
 * kinto_upload.c - the Kinto remote's upload (docs/remote-kinto.md, "upload", "412", "Cursor
 * after an upload"): one POST /v1/batch per call: PUT with If-None-Match: * (create) or
 * If-Match: "<last_modified>" (update), DELETE with If-Match, and, when the batch has room, a
 * last GET that tells whether anybody else wrote since the cursor.
 */
#define DS_LOG_TAG "kinto"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "net/ds_http.h"
#include "remote/kinto/kinto_remote_int.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Kinto ignores If-Match: "0" (a falsy timestamp means "no precondition" in
 * kinto/core/resource/__init__.py), so a delete of an id we never saw asks for version 1, which
 * no record has: 404 when it is gone, 412 with the existing record otherwise. */
#define NEVER_SEEN_VERSION "\"1\""
#define MAX_412_RETRIES 2

/* ---- upload ------------------------------------------------------------------------------- */

struct op {
	const struct ds_record *rec;
	int64_t if_match;   /* 0: If-None-Match: * (or the never-seen version for a delete) */
	bool skip;          /* settled without a request */
	bool done;
	bool written;       /* 2xx: the record is on the server */
	int retries;
};

struct up {
	struct kinto_remote *k;
	int64_t cursor_ms;
	struct op *ops;
	size_t n;
	size_t written;     /* 2xx writes: each left one version on the server */
	int64_t max_ms;
	bool stale;
	bool check_ok;
	int64_t check_ms;
	size_t check_n;
};

static int add_request(cJSON *reqs, struct kinto_remote *k, const struct op *o)
{
	cJSON *q = cJSON_CreateObject(), *h;
	char *path = ds_asprintf("%s/records/%s", k->coll_path, o->rec->id);
	char etag[32];
	int rc = -ENOMEM;

	if (!q || !path || !cJSON_AddItemToArray(reqs, q)) {
		cJSON_Delete(q);
		goto out;
	}
	h = cJSON_AddObjectToObject(q, "headers");
	if (!h || !cJSON_AddStringToObject(q, "method", o->rec->deleted ? "DELETE" : "PUT") ||
	    !cJSON_AddStringToObject(q, "path", path))
		goto out;
	if (o->if_match)
		snprintf(etag, sizeof(etag), "\"%" PRId64 "\"", o->if_match);
	if (o->rec->deleted) {
		if (!cJSON_AddStringToObject(h, "If-Match", o->if_match ? etag : NEVER_SEEN_VERSION))
			goto out;
	} else {
		char *data = NULL, *text;
		cJSON *raw;

		if (!(o->if_match ? cJSON_AddStringToObject(h, "If-Match", etag) :
				    cJSON_AddStringToObject(h, "If-None-Match", "*")))
			goto out;
		rc = ds_kinto_encode(&k->key, k->coll, o->rec->id, o->rec->payload, &data);
		if (rc)
			goto out;
		if (k->files) {
			char *with = NULL;

			rc = ds_kinto_files_with_att(k->state, o->rec->id, data, &with);
			if (rc) {
				ds_free(data);
				goto out;
			}
			if (with) {
				ds_free(data);
				data = with;
			}
		}
		/* The data object goes in as raw text, never re-parsed (kinto_json.c says why). */
		if (k->share_field) {
			char *perms = NULL;

			rc = ds_kinto_share_perms(k->share_field, o->rec->payload, &perms);
			if (rc) {
				ds_free(data);
				goto out;
			}
			text = ds_asprintf("{\"data\":%s,\"permissions\":%s}", data, perms);
			ds_free(perms);
		} else {
			text = ds_asprintf("{\"data\":%s}", data);
		}
		ds_free(data);
		raw = text ? cJSON_CreateRaw(text) : NULL;
		ds_free(text);
		rc = -ENOMEM;
		if (!raw || !cJSON_AddItemToObject(q, "body", raw)) {
			cJSON_Delete(raw);
			goto out;
		}
	}
	rc = 0;
out:
	ds_free(path);
	return rc;
}

static int add_check(cJSON *reqs, struct up *u, const char *cursor)
{
	cJSON *q = cJSON_CreateObject();
	size_t limit = DS_MIN(u->k->acc_written + u->n + 1, (size_t)10000);
	char *path = ds_asprintf("%s/records?_fields=id&_sort=last_modified&_limit=%zu%s%s",
				 u->k->coll_path, limit, cursor[0] ? "&_since=" : "", cursor);
	int rc = -ENOMEM;

	if (q && path && cJSON_AddStringToObject(q, "method", "GET") &&
	    cJSON_AddStringToObject(q, "path", path) && cJSON_AddItemToArray(reqs, q)) {
		q = NULL;
		rc = 0;
	}
	cJSON_Delete(q);
	ds_free(path);
	return rc;
}

static int64_t json_ms(const cJSON *o)
{
	const cJSON *lm = cJSON_GetObjectItemCaseSensitive(o, "last_modified");

	return ds_kinto_json_int(lm, 0);
}

/*
 * The closing GET lists what changed since the cursor, inside the batch's transaction. The
 * cursor may jump over it only when every version listed is one our map holds: each is ours
 * (this batch's, or an earlier call's under the same cursor; what we fetched is at or before
 * the cursor). A version another client wrote, even over one of our records, is not in the
 * map, and the cursor stays so that the next fetch brings it.
 */
static void read_check(struct up *u, const cJSON *resp)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(resp, "status");
	const cJSON *body = cJSON_GetObjectItemCaseSensitive(resp, "body");
	const cJSON *hdrs = cJSON_GetObjectItemCaseSensitive(resp, "headers");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(body, "data");
	const cJSON *it;

	u->check_ok = false;
	if (!cJSON_IsNumber(st) || st->valueint != 200 || !cJSON_IsArray(data) ||
	    cJSON_GetObjectItem(hdrs, "Next-Page"))
		return;
	u->check_n = 0;
	u->check_ms = 0;
	cJSON_ArrayForEach(it, data) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
		int64_t ms = json_ms(it), known = 0;
		bool gone = false;

		if (!cJSON_IsString(id) || ms <= 0 ||
		    ds_kinto_state_get(u->k->state, id->valuestring, &known, &gone) != 0 ||
		    known != ms)
			return;
		u->check_n++;
		if (ms > u->check_ms)
			u->check_ms = ms;
	}
	u->check_ok = true;
}

/* One sub-response for op o. Returns 0 or a negative errno that ends the upload. */
static int read_one(struct up *u, struct op *o, const cJSON *resp, size_t *accepted, size_t *failed)
{
	struct kinto_remote *k = u->k;
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(resp, "status");
	const cJSON *body = cJSON_GetObjectItemCaseSensitive(resp, "body");
	int status = cJSON_IsNumber(st) ? st->valueint : 0;

	if (status >= 200 && status < 300) {
		const cJSON *data = cJSON_GetObjectItemCaseSensitive(body, "data");
		int64_t ms = json_ms(data);

		o->done = true;
		o->written = true;
		(*accepted)++;
		u->written++;
		if (ms > u->max_ms)
			u->max_ms = ms;
		return ms ? ds_kinto_state_put_ours(k->state, o->rec->id, ms, o->rec->deleted, true)
			  : 0;
	}
	if (status == 404 && o->rec->deleted) {
		o->done = true; /* already gone: the deletion is done (kinto.md §3) */
		(*accepted)++;
		return 0;
	}
	if (status == 412) {
		const cJSON *det = cJSON_GetObjectItemCaseSensitive(body, "details");
		const cJSON *ex = cJSON_GetObjectItemCaseSensitive(det, "existing");
		int64_t ms = json_ms(ex);

		/*
		 * The existing version is one the core already reconciled against (its time is at
		 * or before the cursor, and the fetch went through everything up to the cursor):
		 * only our map was behind. Retry against it. A newer one is a real conflict.
		 */
		if (ms && u->cursor_ms && ms <= u->cursor_ms && o->retries < MAX_412_RETRIES) {
			o->retries++;
			o->if_match = ms;
			return ds_kinto_state_put(k->state, o->rec->id, ms, false);
		}
		o->done = true;
		u->stale = true;
		return 0;
	}
	if (status >= 500 || status == 401 || status == 409) {
		/* A 5xx or 409 rolled the whole batch back (kinto.md §3); 401 is everyone's. */
		struct ds_http_response fake = { .status = status };
		char *text = cJSON_PrintUnformatted(body);

		fake.body = text;
		fake.body_len = text ? strlen(text) : 0;
		int rc = ds_kinto_api_error(&k->api, "uploading", &fake);
		cJSON_free(text);
		return rc;
	}
	{
		struct ds_http_response fake = { .status = status };
		char *text = cJSON_PrintUnformatted(body);

		fake.body = text;
		fake.body_len = text ? strlen(text) : 0;
		ds_kinto_api_error(&k->api, "a record was refused", &fake);
		cJSON_free(text);
	}
	o->done = true;
	(*failed)++;
	return 0;
}

static int send_batch(struct up *u, const char *cursor, size_t *accepted, size_t *failed)
{
	struct kinto_remote *k = u->k;
	cJSON *root = cJSON_CreateObject(), *reqs, *j = NULL;
	struct ds_http_response resp = { 0 };
	size_t *idx = ds_calloc(u->n + 1, sizeof(*idx)), m = 0;
	bool check;
	char *body = NULL;
	int rc = -ENOMEM;

	reqs = root ? cJSON_AddArrayToObject(root, "requests") : NULL;
	if (!reqs || !idx)
		goto out;
	for (size_t i = 0; i < u->n; i++) {
		if (u->ops[i].done || u->ops[i].skip)
			continue;
		rc = add_request(reqs, k, &u->ops[i]);
		if (rc)
			goto out;
		idx[m++] = i;
	}
	if (m == 0) {
		rc = 0;
		goto out;
	}
	check = m + 1 <= k->batch_max;
	if (check && (rc = add_check(reqs, u, cursor)) != 0)
		goto out;
	body = cJSON_PrintUnformatted(root);
	rc = -ENOMEM;
	if (!body)
		goto out;
	rc = ds_kinto_api_call(&k->api, "POST", "/batch", body, NULL, &resp);
	if (rc)
		goto out;
	if (resp.status != 200) {
		if (resp.status == 400) /* too many requests for the server's current limit? */
			ds_kinto_state_kv_set(k->state, "settings", "");
		rc = ds_kinto_api_error(&k->api, "uploading a batch", &resp);
		goto out;
	}
	j = cJSON_ParseWithLength(resp.body ? resp.body : "", resp.body_len);
	const cJSON *rs = cJSON_GetObjectItemCaseSensitive(j, "responses");
	if (!cJSON_IsArray(rs) || (size_t)cJSON_GetArraySize(rs) != m + (check ? 1 : 0)) {
		DS_LOG_ERR("%s: the batch answer does not match the request", k->name);
		rc = -EPROTO;
		goto out;
	}
	rc = ds_kinto_state_begin(k->state);
	for (size_t i = 0; rc == 0 && i < m; i++)
		rc = read_one(u, &u->ops[idx[i]], cJSON_GetArrayItem(rs, (int)i), accepted, failed);
	if (rc == 0)
		rc = ds_kinto_state_commit(k->state);
	else
		ds_kinto_state_rollback(k->state);
	if (rc == 0 && check)
		read_check(u, cJSON_GetArrayItem(rs, (int)m));
	else
		u->check_ok = false;
out:
	if (body) {
		ds_memzero(body, strlen(body));
		cJSON_free(body);
	}
	cJSON_Delete(root);
	cJSON_Delete(j);
	ds_http_response_free(&resp);
	ds_free(idx);
	return rc;
}

int ds_kinto_upload(struct ds_remote *r, const char *cursor, const struct ds_record *recs,
		    size_t n, struct ds_upload_result *res)
{
	struct kinto_remote *k = kr_of(r);
	struct up u = { .k = k, .n = n };
	size_t accepted = 0, failed = 0;
	int rc = 0;

	memset(res, 0, sizeof(*res));
	ds_kinto_prefetch_drop(k);
	if (!ds_kinto_cursor_valid(cursor))
		return -EINVAL;
	if (k->shared_reader && n) {
		DS_LOG_ERR("%s: a collection shared with us is read-only; register it with the "
			   "import-only direction", k->name);
		return -EPERM;
	}
	snprintf(res->new_cursor, sizeof(res->new_cursor), "%s", cursor);
	if (n == 0)
		return 0;
	/* A first sync's cursor that cannot jump (no room for the check) still leaves "never
	 * synced": "0" (Kinto timestamps are > 0) fetches everything, our writes skipped as ours,
	 * instead of the core starting the collection over at the next run. */
	if (!cursor[0])
		snprintf(res->new_cursor, sizeof(res->new_cursor), "0");
	if (strcmp(k->acc_cursor, cursor) != 0) {
		snprintf(k->acc_cursor, sizeof(k->acc_cursor), "%s", cursor);
		k->acc_written = 0;
	}
	u.cursor_ms = ds_kinto_cursor_ms(cursor);
	u.ops = ds_calloc(n, sizeof(*u.ops));
	if (!u.ops)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct op *o = &u.ops[i];
		int64_t ms = 0;
		bool gone = false;
		int grc;

		o->rec = &recs[i];
		if (!recs[i].id || !ds_kinto_id_valid(recs[i].id) ||
		    (!recs[i].deleted && !recs[i].payload)) {
			DS_LOG_ERR("%s: a record id Kinto cannot take; not uploaded", k->name);
			o->skip = true;
			failed++;
			continue;
		}
		grc = ds_kinto_state_get(k->state, recs[i].id, &ms, &gone);
		if (grc && grc != -ENOENT) {
			rc = grc;
			goto out;
		}
		if (grc == 0 && gone) {
			if (recs[i].deleted) {
				o->skip = true; /* the server has it deleted already */
				accepted++;
			}
			/* A create over a tombstone: the record does not exist, If-None-Match. */
			continue;
		}
		if (grc == 0)
			o->if_match = ms;
	}
	for (int round = 0; round <= MAX_412_RETRIES; round++) {
		rc = send_batch(&u, cursor, &accepted, &failed);
		if (rc)
			goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (!u.ops[i].done && !u.ops[i].skip)
			u.stale = true; /* still failing its precondition after the retries */
	/* Files after their records (an attachment needs its record), also when others were
	 * stale: the core forgets the records that went up. Their new versions come back at the
	 * next fetch, where they are known and not downloaded again. */
	for (size_t i = 0; i < n && k->files; i++) {
		int64_t ms;

		if (!u.ops[i].written)
			continue;
		rc = ds_kinto_files_on_written(k->files, &k->api, k->state, &k->key, k->coll,
					       k->coll_path, u.ops[i].rec, &ms);
		if (rc)
			goto out;
	}
	k->acc_written += u.written;
	if (!cursor[0]) /* the next call comes with "0": the same place, writes counted on */
		snprintf(k->acc_cursor, sizeof(k->acc_cursor), "0");
	res->accepted = accepted;
	res->failed = failed;
	res->modified_ms = u.max_ms;
	if (u.stale) {
		DS_LOG_INF("%s: %zu record(s) changed on the server since our fetch", k->name,
			   n - accepted - failed);
		rc = -ESTALE;
		goto out;
	}
	/* Only our own writes since the cursor: the cursor may jump over them. Otherwise (or
	 * when no batch had room for the check) keep it, and the next fetch brings the others'
	 * writes, and ours again, which the core finds equal to its rows. */
	if (u.check_ok && u.check_n > 0 && u.check_ms >= u.max_ms)
		snprintf(res->new_cursor, sizeof(res->new_cursor), "%" PRId64, u.check_ms);
	/* Writes the cursor did not jump over come back at the next fetch, skipped as ours. */
	k->echo = strcmp(res->new_cursor, cursor) == 0 || !cursor[0] ? k->acc_written : 0;
	snprintf(k->hint, sizeof(k->hint), "%s", res->new_cursor);
out:
	ds_free(u.ops);
	return rc;
}

