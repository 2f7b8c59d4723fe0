/*
 * Clear -> encrypted (docs/remote-kinto.md, "Switching a collection to encrypted"): a device
 * whose registration turned "encrypt" on re-uploads every cleartext record of the collection in
 * the encrypted form, each one a PUT with If-Match on the version it read, so a record that
 * somebody changes meanwhile is never overwritten (412: read again at the next pass).
 *
 * The payload that goes up is the server's own record decoded as cleartext and encoded under the
 * key: the same bytes the devices already hold. The new version names the one it replaces, so a
 * device that had synced that one skips it instead of seeing a remote change, which would be a
 * conflict with its own pending edit of the record (docs/sync.md) and could cost that edit.
 * Tombstones stay tombstones (no payload to hide). A record under another key stops the switch:
 * that collection belongs to other keys. Records with a file switch one by one, file and record
 * together (kinto_migrate_files.c).
 */
#define DS_LOG_TAG "kinto"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "net/ds_http.h"
#include "remote/kinto/kinto_priv.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct pass {
	struct ds_kinto_api *a;
	const struct ds_kinto_key *key;
	const char *coll;
	const char *coll_path;
	size_t batch_max;
	cJSON *reqs;        /* pending PUTs of this batch */
	char **ids;         /* their record ids, in order */
	size_t n;
	size_t written;
	size_t stale;       /* 412: changed since listed, for the next pass */
	struct ds_kinto_reenc r;
	bool with_files;    /* records with a file are switched (after the "pending" mark) */
	size_t deferred;    /* records with a file left for the pass after the mark */
	const char *att;    /* the scanned record's Kinto attachment, NULL: none */
	size_t att_len;
	const char *data;
	size_t data_len;
};

static void drop_batch(struct pass *p)
{
	for (size_t i = 0; i < p->n; i++)
		ds_free(p->ids[i]);
	p->n = 0;
	cJSON_Delete(p->reqs);
	p->reqs = NULL;
}

static int flush(struct pass *p)
{
	cJSON *root = NULL, *j = NULL;
	struct ds_http_response resp = { 0 };
	char *body = NULL;
	int rc = -ENOMEM;

	if (p->n == 0)
		return 0;
	root = cJSON_CreateObject();
	if (!root || !cJSON_AddItemToObject(root, "requests", p->reqs))
		goto out;
	p->reqs = NULL;
	body = cJSON_PrintUnformatted(root);
	if (!body)
		goto out;
	rc = ds_kinto_api_call(p->a, "POST", "/batch", body, NULL, &resp);
	if (rc)
		goto out;
	if (resp.status != 200) {
		rc = ds_kinto_api_error(p->a, "re-uploading records encrypted", &resp);
		goto out;
	}
	j = cJSON_ParseWithLength(resp.body ? resp.body : "", resp.body_len);
	const cJSON *rs = cJSON_GetObjectItemCaseSensitive(j, "responses");

	if (!cJSON_IsArray(rs) || (size_t)cJSON_GetArraySize(rs) != p->n) {
		DS_LOG_ERR("%s: the batch answer does not match the request", p->a->name);
		rc = -EPROTO;
		goto out;
	}
	/*
	 * The id map keeps the cleartext version: the fetch then meets the new one with its
	 * DS_KINTO_REENC_FIELD naming exactly that version and skips it (the rows are here). A
	 * device that never synced the collection has no such entry and applies the records.
	 */
	for (size_t i = 0; rc == 0 && i < p->n; i++) {
		const cJSON *r = cJSON_GetArrayItem(rs, (int)i);
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "status");
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(r, "body");
		int status = cJSON_IsNumber(st) ? st->valueint : 0;

		if (status >= 200 && status < 300) {
			p->written++;
		} else if (status == 412 || status == 404) {
			p->stale++; /* changed or deleted since listed: the next pass sees how */
		} else {
			struct ds_http_response fake = { .status = status };
			char *text = cJSON_PrintUnformatted(b);

			fake.body = text;
			fake.body_len = text ? strlen(text) : 0;
			rc = ds_kinto_api_error(p->a, "re-uploading a record encrypted", &fake);
			cJSON_free(text);
			if (rc == 0)
				rc = -EIO;
		}
	}
out:
	cJSON_free(body);
	cJSON_Delete(root);
	cJSON_Delete(j);
	ds_http_response_free(&resp);
	drop_batch(p);
	return rc;
}

static int add_put(struct pass *p, const struct ds_record *rec)
{
	cJSON *q = NULL, *h, *raw = NULL;
	char *data = NULL, *text = NULL, *path = NULL, etag[32];
	int rc;

	rc = ds_kinto_encode(p->key, p->coll, rec->id, rec->payload, &data);
	if (rc)
		return rc;
	rc = -ENOMEM;
	if (!p->reqs && !(p->reqs = cJSON_CreateArray()))
		goto out;
	if (!p->ids && !(p->ids = ds_calloc(p->batch_max, sizeof(*p->ids))))
		goto out;
	snprintf(etag, sizeof(etag), "\"%" PRId64 "\"", rec->modified_ms);
	path = ds_asprintf("%s/records/%s", p->coll_path, rec->id);
	/* The version it replaces goes along (DS_KINTO_REENC_FIELD): a device that had seen
	 * exactly that version knows this one brings nothing new (kinto_remote.c, fetch). */
	text = ds_asprintf("{\"data\":%.*s,\"" DS_KINTO_REENC_FIELD "\":%" PRId64 "}}",
			   (int)strlen(data) - 1, data, rec->modified_ms);
	q = cJSON_CreateObject();
	if (!path || !text || !q)
		goto out;
	h = cJSON_AddObjectToObject(q, "headers");
	if (!h || !cJSON_AddStringToObject(h, "If-Match", etag) ||
	    !cJSON_AddStringToObject(q, "method", "PUT") || !cJSON_AddStringToObject(q, "path", path))
		goto out;
	raw = cJSON_CreateRaw(text);
	if (!raw || !cJSON_AddItemToObject(q, "body", raw)) {
		cJSON_Delete(raw);
		goto out;
	}
	p->ids[p->n] = ds_strdup(rec->id);
	if (!p->ids[p->n] || !cJSON_AddItemToArray(p->reqs, q)) {
		ds_free(p->ids[p->n]);
		goto out;
	}
	q = NULL;
	p->n++;
	rc = p->n >= p->batch_max ? flush(p) : 0;
out:
	cJSON_Delete(q);
	ds_free(path);
	ds_free(text);
	ds_free(data);
	return rc;
}

static int find_attachment(const char *key, size_t klen, const char *val, size_t vlen, void *ud)
{
	struct pass *p = ud;

	if (klen == 10 && memcmp(key, "attachment", 10) == 0 &&
	    !(vlen == 4 && memcmp(val, "null", 4) == 0)) {
		p->att = val;
		p->att_len = vlen;
	}
	return 0;
}

/* A switch step done out of the batch: count it like the batch's answers. */
static int count_step(struct pass *p, int rc)
{
	if (rc == -ESTALE) {
		p->stale++;
		return 0;
	}
	if (rc > 0)
		p->written++;
	return rc > 0 ? 0 : rc;
}

static int scan_one(const char *val, size_t vlen, void *ud)
{
	struct pass *p = ud;
	struct ds_record rec;
	static const struct ds_kinto_key no_key;
	int rc = ds_kinto_decode(&no_key, p->coll, val, vlen, &rec);

	if (rc == -ENOKEY) {
		/* Encrypted already: ours, or damaged (left to the fetch, which counts it). */
		rc = ds_kinto_decode(p->key, p->coll, val, vlen, &rec);
		if (rc == 0) {
			/* A switch of a record with a file cut after its first step. */
			if (!rec.deleted)
				rc = count_step(p, ds_kinto_reenc_leftover(&p->r, val, vlen, rec.id,
									   rec.modified_ms));
			ds_record_clear(&rec);
			return rc;
		}
		if (rc == -EKEYREJECTED) {
			DS_LOG_ERR("%s: the collection holds records encrypted under another key; "
				   "not switched to this device's key", p->a->name);
			return rc;
		}
		return rc == -ENOMEM ? rc : 0;
	}
	if (rc == -EBADMSG)
		return 0; /* malformed: the fetch reports it, as for any record */
	if (rc)
		return rc;
	if (rec.deleted || !rec.payload) {
		ds_record_clear(&rec);
		return 0;
	}
	p->att = NULL;
	rc = ds_kinto_json_object_each(val, vlen, find_attachment, p);
	if (rc == 0 && p->att && !p->with_files) {
		p->deferred++;
	} else if (rc == 0 && p->att) {
		rc = ds_kinto_reenc_file(&p->r, val, vlen, &rec, p->att, p->att_len);
		rc = count_step(p, rc == 0 ? 1 : rc);
	} else if (rc == 0) {
		rc = add_put(p, &rec);
	}
	ds_record_clear(&rec);
	return rc;
}

static int find_data(const char *key, size_t klen, const char *val, size_t vlen, void *ud)
{
	struct pass *p = ud;

	if (klen == 4 && memcmp(key, "data", 4) == 0) {
		p->data = val;
		p->data_len = vlen;
	}
	return 0;
}

/* One walk over the whole collection. */
static int one_pass(struct pass *p, unsigned page_size)
{
	char *path = ds_asprintf("%s/records?_sort=last_modified&_limit=%u", p->coll_path, page_size);
	int rc = path ? 0 : -ENOMEM;

	while (rc == 0 && path) {
		struct ds_http_response resp;
		const char *next;

		rc = ds_kinto_api_call(p->a, "GET", path, NULL, NULL, &resp);
		ds_free(path);
		path = NULL;
		if (rc)
			break;
		if (resp.status != 200) {
			rc = ds_kinto_api_error(p->a, "listing records to encrypt", &resp);
			ds_http_response_free(&resp);
			break;
		}
		p->data = NULL;
		rc = ds_kinto_json_object_each(resp.body ? resp.body : "", resp.body_len, find_data, p);
		if (rc == 0 && !p->data)
			rc = -EBADMSG;
		if (rc == 0)
			rc = ds_kinto_json_array_each(p->data, p->data_len, scan_one, p);
		if (rc == -EBADMSG) {
			DS_LOG_ERR("%s: the server's record list is not JSON", p->a->name);
			rc = -EPROTO;
		}
		next = ds_http_header(&resp, "next-page");
		if (rc == 0 && next && *next) {
			size_t o = strlen(p->a->origin);

			/* Our credentials go with it: only on our own server. */
			if (strncmp(next, p->a->origin, o) == 0 && next[o] == '/') {
				path = ds_strdup(next);
				rc = path ? 0 : -ENOMEM;
			} else {
				DS_LOG_ERR("%s: Next-Page points to another server", p->a->name);
				rc = -EPROTO;
			}
		}
		ds_http_response_free(&resp);
	}
	ds_free(path);
	if (rc == 0)
		rc = flush(p);
	drop_batch(p);
	return rc;
}

int ds_kinto_reencrypt(struct ds_kinto_api *a, const struct ds_kinto_key *key, const char *coll,
		       const char *coll_path, size_t batch_max, unsigned page_size,
		       const char *work_path, bool with_files)
{
	struct pass p = { .a = a, .key = key, .coll = coll, .coll_path = coll_path,
			  .batch_max = batch_max ? batch_max : 1, .with_files = with_files,
			  .r = { .api = a, .key = key, .coll = coll, .coll_path = coll_path,
				 .work_path = work_path } };
	size_t total = 0;
	int rc = 0;

	if (!key->set)
		return -EINVAL;
	/* A record changed between the listing and its PUT is listed again by the next pass;
	 * a few passes settle any honest concurrency. */
	for (int i = 0; i < 4; i++) {
		p.written = 0;
		p.stale = 0;
		p.deferred = 0;
		rc = one_pass(&p, page_size);
		total += p.written;
		if (rc || (p.written == 0 && p.stale == 0))
			break;
	}
	if (rc == 0 && (p.written || p.stale)) {
		DS_LOG_ERR("%s: records keep changing while they are encrypted; trying again later",
			   a->name);
		rc = -EAGAIN;
	}
	if (rc == 0 && total)
		DS_LOG_INF("%s: %zu cleartext record(s) re-uploaded encrypted", a->name, total);
	if (rc == 0 && p.deferred)
		DS_LOG_INF("%s: %zu record(s) with a file switch after the collection is marked",
			   a->name, p.deferred);
	ds_free(p.ids);
	return rc;
}

/* ---- the collection's marker ------------------------------------------------------------ */

#define SWITCH_FIELD "datasync_reencrypt"

static int patch_meta(const struct ds_kinto_coll *c, const char *body, int64_t if_match)
{
	char etag[32];
	const char *h[] = { "If-Match", etag, NULL };
	struct ds_http_response resp;
	int rc;

	snprintf(etag, sizeof(etag), "\"%" PRId64 "\"", if_match);
	rc = ds_kinto_api_call(c->api, "PATCH", c->coll_path, body, if_match ? h : NULL, &resp);
	if (rc)
		return rc;
	if (resp.status == 412) {
		DS_LOG_INF("%s: the collection changed while being marked; next run", c->name);
		rc = -EAGAIN;
	} else if (resp.status != 200) {
		rc = ds_kinto_api_error(c->api, "marking the collection encrypted", &resp);
	}
	ds_http_response_free(&resp);
	return rc;
}

/*
 * Clear -> encrypted (docs/remote-kinto.md). The collection's DS_KINTO_KID_FIELD says it is encrypted:
 * a device without the key (or with another) stops before fetching anything. A device that
 * was registered with "encrypt" and has not switched this collection yet (its state map has
 * no kid) re-uploads the cleartext records encrypted: one pass, the marker with "pending" (from
 * then on clear devices stop, so nothing new arrives in clear), a second pass for what was
 * written in clear meanwhile, then "done". A crash in between leaves "pending", and the next
 * run does it again. A device that has switched never encrypts cleartext it meets later: that
 * is the server feeding plaintext in place of protected data, refused by the fetch.
 */
int ds_kinto_encryption_prepare(const struct ds_kinto_coll *c, const cJSON *meta)
{
	const cJSON *kid = cJSON_GetObjectItemCaseSensitive(meta, DS_KINTO_KID_FIELD);
	const cJSON *sw = cJSON_GetObjectItemCaseSensitive(meta, SWITCH_FIELD);
	const char *server_kid = cJSON_IsString(kid) ? kid->valuestring : NULL;
	bool pending = cJSON_IsString(sw) && strcmp(sw->valuestring, "pending") == 0;
	char known[DS_KINTO_KID_LEN + 8], *body;
	int rc;

	if (c->shared_reader)
		return 0; /* not ours to mark; every record is still checked at fetch */
	if (!c->key->set) {
		if (!server_kid)
			return 0;
		DS_LOG_ERR("%s: the server holds encrypted records and this collection has no key "
			   "(the collection was switched to encrypted: register it with \"encrypt\")",
			   c->name);
		return -ENOKEY;
	}
	if (server_kid && strcmp(server_kid, c->key->kid) != 0) {
		DS_LOG_ERR("%s: records are encrypted under another key than this device's", c->name);
		return -EKEYREJECTED;
	}
	rc = ds_kinto_state_kv_get(c->state, "kid", known, sizeof(known));
	if (rc && rc != -ENOENT && rc != -ENOSPC)
		return rc;
	if (rc == 0 && strcmp(known, c->key->kid) == 0) {
		if (server_kid)
			return 0;
		/* We switched it, and the marker is gone: put it back, encrypt nothing. */
		DS_LOG_WRN("%s: the collection lost its encryption marker; marked again", c->name);
		body = ds_asprintf("{\"data\":{\"" DS_KINTO_KID_FIELD "\":\"%s\"}}", c->key->kid);
		rc = body ? patch_meta(c, body, 0) : -ENOMEM;
		ds_free(body);
		return rc;
	}
	if (!server_kid || pending) {
		if (!server_kid) {
			const cJSON *lm = cJSON_GetObjectItemCaseSensitive(meta, "last_modified");

			DS_LOG_INF("%s: switching the collection to encrypted", c->name);
			rc = ds_kinto_reencrypt(c->api, c->key, c->coll, c->coll_path,
						c->batch_max, c->page_size, c->work_path, false);
			if (rc)
				return rc;
			body = ds_asprintf("{\"data\":{\"" DS_KINTO_KID_FIELD "\":\"%s\",\"" SWITCH_FIELD
					   "\":\"pending\"}}", c->key->kid);
			rc = body ? patch_meta(c, body, ds_kinto_json_int(lm, 1))
				  : -ENOMEM;
			ds_free(body);
			if (rc)
				return rc;
		}
		rc = ds_kinto_reencrypt(c->api, c->key, c->coll, c->coll_path,
					c->batch_max, c->page_size, c->work_path, true);
		if (rc == 0)
			rc = patch_meta(c, "{\"data\":{\"" SWITCH_FIELD "\":\"done\"}}", 0);
		if (rc)
			return rc;
	}
	return ds_kinto_state_kv_set(c->state, "kid", c->key->kid);
}
