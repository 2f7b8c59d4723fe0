/*
 * Clear -> encrypted for records with a file (docs/remote-kinto.md, "Switching a collection to
 * encrypted"). The rule kept at every moment: a record's fields and its file are both clear or
 * both sealed, never one of each, whatever is cut.
 *
 *   1. the clear file is downloaded (streamed to a work file next to the state map, hash
 *      checked; a cut download resumes with Range);
 *   2. ONE request switches both: POST <record>/attachment with the sealed file (streamed,
 *      sealed block by block) and, as its "data" form field, the encrypted record.
 *      kinto-attachment stores the file and then writes the record's data and attachment
 *      object as one update (kinto.md §5), so a cut before that update leaves the clear record
 *      with its clear file, and after it the encrypted record with its sealed file.
 *      kinto-attachment does not check If-Match on that POST (its view rebuilds the request's
 *      validated fields without the headers; tried against kinto-attachment 7), so the record
 *      is read again with If-None-Match on the version listed just before it (304: unchanged),
 *      and records with files are switched only once the collection is marked "pending", when
 *      devices without the key are refused: what remains is a write by a device with the key
 *      in the moment between that read and the POST (docs/remote-kinto.md, limits);
 *   3. that update is a merge (the form's Content-Type is not JSON merge-patch), so the clear
 *      fields it cannot remove are set to null by step 2 (no value left in clear), and a PUT
 *      with If-Match on the new version writes the record without them. A cut between 2 and 3
 *      leaves an encrypted record with null members: the next pass finds it and does step 3.
 *
 * Every step is conditional on the version read: a record changed meanwhile (412) is left to
 * the next pass, as in kinto_migrate.c.
 */
#define DS_LOG_TAG "kinto"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "net/ds_http.h"
#include "remote/kinto/kinto_priv.h"
#include "ds_port.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Members a switched record keeps; every other one is a clear field. */
static bool kept_member(const char *name)
{
	return !strcmp(name, "id") || !strcmp(name, "last_modified") ||
	       !strcmp(name, "attachment") || !strcmp(name, "ds_enc") ||
	       !strcmp(name, DS_KINTO_REENC_FIELD) || !strcmp(name, "schema");
}

/* PUT <record> {"data": data} with If-Match: 0 written, -ESTALE changed meanwhile. */
static int put_clean(const struct ds_kinto_reenc *r, const char *id, const cJSON *data,
		     int64_t version)
{
	char etag[32], *path = NULL, *body = NULL;
	const char *h[] = { "If-Match", etag, NULL };
	struct ds_http_response resp;
	cJSON *root = cJSON_CreateObject();
	cJSON *copy = cJSON_Duplicate(data, true);
	int rc = -ENOMEM;

	if (!root || !copy || !cJSON_AddItemToObject(root, "data", copy)) {
		cJSON_Delete(copy);
		goto out;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "id");
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "last_modified");
	for (cJSON *m = copy->child, *next; m; m = next) {
		next = m->next;
		if (!kept_member(m->string) && cJSON_IsNull(m))
			cJSON_Delete(cJSON_DetachItemViaPointer(copy, m));
	}
	body = cJSON_PrintUnformatted(root);
	path = ds_asprintf("%s/records/%s", r->coll_path, id);
	if (!body || !path)
		goto out;
	snprintf(etag, sizeof(etag), "\"%" PRId64 "\"", version);
	rc = ds_kinto_api_call(r->api, "PUT", path, body, h, &resp);
	if (rc)
		goto out;
	if (resp.status == 412 || resp.status == 404)
		rc = -ESTALE;
	else if (resp.status != 200 && resp.status != 201)
		rc = ds_kinto_api_error(r->api, "writing a switched record", &resp);
	ds_http_response_free(&resp);
out:
	cJSON_free(body);
	ds_free(path);
	cJSON_Delete(root);
	return rc;
}

int ds_kinto_reenc_leftover(const struct ds_kinto_reenc *r, const char *raw, size_t raw_len,
			    const char *id, int64_t version)
{
	cJSON *j = cJSON_ParseWithLength(raw, raw_len);
	bool leftover = false;
	int rc;

	if (!j)
		return -ENOMEM; /* the record was scanned as JSON already */
	for (const cJSON *m = j->child; m; m = m->next)
		if (!kept_member(m->string) && cJSON_IsNull(m))
			leftover = true;
	rc = leftover ? put_clean(r, id, j, version) : 0;
	cJSON_Delete(j);
	if (rc == 0 && leftover)
		return 1;
	return rc;
}

/* The encrypted "data" of step 2: ds_enc, the version replaced, every clear field null. */
static char *switch_data(const struct ds_kinto_reenc *r, const char *raw, size_t raw_len,
			 const struct ds_record *rec, int *rcp)
{
	cJSON *clear = cJSON_ParseWithLength(raw, raw_len), *enc = NULL;
	char *data = NULL, *text = NULL;

	*rcp = ds_kinto_encode(r->key, r->coll, rec->id, rec->payload, &data);
	if (*rcp)
		goto out;
	*rcp = -ENOMEM;
	enc = cJSON_Parse(data);
	if (!clear || !enc || !cJSON_AddNumberToObject(enc, DS_KINTO_REENC_FIELD,
						       (double)rec->modified_ms))
		goto out;
	for (const cJSON *m = clear->child; m; m = m->next)
		if (!kept_member(m->string) && !cJSON_AddNullToObject(enc, m->string))
			goto out;
	text = cJSON_PrintUnformatted(enc);
	*rcp = text ? 0 : -ENOMEM;
out:
	cJSON_Delete(clear);
	cJSON_Delete(enc);
	ds_free(data);
	return text;
}

/* 0: the record is still at version, -ESTALE: changed or gone since listed. */
static int still_at(const struct ds_kinto_reenc *r, const char *id, int64_t version)
{
	char etag[32], *path = ds_asprintf("%s/records/%s", r->coll_path, id);
	const char *h[] = { "If-None-Match", etag, NULL };
	struct ds_http_response resp;
	int rc;

	if (!path)
		return -ENOMEM;
	snprintf(etag, sizeof(etag), "\"%" PRId64 "\"", version);
	rc = ds_kinto_api_call(r->api, "GET", path, NULL, h, &resp);
	ds_free(path);
	if (rc)
		return rc;
	if (resp.status == 200 || resp.status == 404)
		rc = -ESTALE;
	else if (resp.status != 304)
		rc = ds_kinto_api_error(r->api, "reading a record to switch", &resp);
	ds_http_response_free(&resp);
	return rc;
}

int ds_kinto_reenc_file(const struct ds_kinto_reenc *r, const char *raw, size_t raw_len,
			const struct ds_record *rec, const char *att, size_t att_len)
{
	struct ds_kinto_file_result got = { 0 }, put = { 0 };
	struct ds_kinto_upload_opts o = { .if_match = rec->modified_ms }; /* in case it is honoured */
	char *work = ds_asprintf("%s.reenc", r->work_path);
	char *data = NULL;
	cJSON *rec_after = NULL, *att_after = NULL;
	int rc = work ? 0 : -ENOMEM;

	if (rc == 0)
		data = switch_data(r, raw, raw_len, rec, &rc);
	if (rc)
		goto out;
	/* 1. The clear file, checked against the record's hash. Not ours to judge stale: a
	 * missing file (404) means the record changed under us, the next pass sees how. */
	rc = ds_kinto_file_download(r->api, NULL, r->coll, rec->id, att, att_len, work, &got);
	if (rc) {
		DS_LOG_ERR("%s: the clear file of a record cannot be read for its switch (%s)",
			   r->api->name, ds_strerror(rc));
		goto out;
	}
	/* 2. File sealed and record encrypted in one update, if nobody wrote it meanwhile. */
	rc = still_at(r, rec->id, rec->modified_ms);
	if (rc)
		goto out;
	o.data = data;
	rc = ds_kinto_file_upload_opts(r->api, r->key, r->coll, r->coll_path, rec->id, work, &o,
				       &put);
	if (rc)
		goto out;
	/* 3. The record without the null members, its new attachment object as stored. */
	rc = -ENOMEM;
	rec_after = cJSON_Parse(data);
	att_after = put.att ? cJSON_Parse(put.att) : NULL;
	if (!rec_after || !att_after ||
	    !cJSON_AddItemToObject(rec_after, "attachment", att_after)) {
		cJSON_Delete(att_after);
		goto out;
	}
	rc = put.new_ms > 0 ? put_clean(r, rec->id, rec_after, put.new_ms) : -EPROTO;
	if (rc == -ESTALE)
		rc = 0; /* changed again already: the next pass cleans what is left */
out:
	if (work)
		ds_port_file_unlink(work);
	ds_free(work);
	ds_free(data);
	ds_free(put.att);
	cJSON_Delete(rec_after);
	return rc;
}
