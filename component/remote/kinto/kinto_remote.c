/*
 * The Kinto remote (docs/remote-kinto.md): a collection of a Kinto bucket behind the sync
 * core's ds_remote_ops.
 *
 *   prepare  GET /v1/ (batch_max_requests, end of service; cached), the bucket and collection created
 *            when missing, the collection's epoch marker (below).
 *   fetch    GET .../records?_sort=last_modified&_since=<cursor>, oldest first, one page per
 *            call, Next-Page followed (kinto.md §2: oldest-first resumes safely after a cut).
 *   upload   one POST /v1/batch per call: PUT with If-None-Match: * (create) or
 *            If-Match: "<last_modified>" (update), DELETE with If-Match, and a last GET that
 *            tells whether anybody else wrote since the cursor.
 *
 * Epoch: the collection's metadata carries "datasync_epoch", a random value set by the first
 * device that met the collection. A server that lost its data (flushed, restored elsewhere, a
 * memory backend restarted) has a collection without it, or with another one: the core then
 * refuses the run instead of applying "everything is gone" as local deletions.
 *
 * The core's upload contract is "write only if the remote is unchanged since the cursor".
 * Kinto cannot make a batch conditional as a whole (a 412 sub-response does not roll the
 * others back, kinto.md §3), so the preconditions are per record, which is what matters for
 * lost updates: a record changed since we saw it is never overwritten. When one fails, the
 * call returns -ESTALE after the others were written; the core then refetches, finds our own
 * writes equal to the local rows (its rule 2 echo) and re-merges the conflicting ones.
 */
#define DS_LOG_TAG "kinto"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "net/ds_http.h"
#include "remote/kinto/ds_remote_kinto.h"
#include "remote/kinto/kinto_priv.h"
#include "ds_port.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define EPOCH_FIELD "datasync_epoch"
/* Kinto ignores If-Match: "0" (a falsy timestamp means "no precondition" in
 * kinto/core/resource/__init__.py), so a delete of an id we never saw asks for version 1, which
 * no record has: 404 when it is gone, 412 with the existing record otherwise. */
#define NEVER_SEEN_VERSION "\"1\""
#define MAX_412_RETRIES 2
/* An encrypted collection's metadata names its key (kinto_migrate.c). */
#define KID_FIELD DS_KINTO_KID_FIELD

struct kinto_remote {
	struct ds_remote base;
	struct ds_kinto_api api;
	struct ds_kinto_state *state;
	char *name;      /* the datasync collection */
	char *bucket;
	char *coll;      /* the Kinto collection id */
	char *coll_path; /* /buckets/<b>/collections/<c> */
	char *state_path;
	struct ds_kinto_key key;
	size_t batch_max;
	unsigned page_size;
	/* Next-Page of the last page, valid for the cursor it followed. */
	char next_for[DS_CURSOR_MAX];
	char *next_url;
	struct ds_kinto_files *files; /* NULL: records have no files */
	char *share_field;            /* payload member listing readers, NULL: no sharing */
	bool shared_reader;           /* another user's collection, records shared with us */
	int64_t settings_max_age_ms;  /* how long GET /v1/'s settings are reused */
	/* Our 2xx writes since the cursor acc_cursor, across upload calls: the closing check
	 * (add_check) lists at least that many. */
	char acc_cursor[DS_CURSOR_MAX];
	size_t acc_written;
};

static struct kinto_remote *kr_of(struct ds_remote *r)
{
	return r->priv;
}

static bool cursor_valid(const char *c)
{
	size_t n = strlen(c);

	if (n > 19)
		return false;
	for (size_t i = 0; i < n; i++)
		if (c[i] < '0' || c[i] > '9')
			return false;
	return true;
}

static int64_t cursor_ms(const char *c)
{
	int64_t v = 0;

	if (!c[0] || ds_kinto_json_int64(c, strlen(c), &v))
		return 0;
	return v;
}

/* ---- prepare ------------------------------------------------------------------------------ */

/*
 * The server's settings (batch_max_requests) are read at most once per settings_max_age_ms
 * and kept in the state map's kv, so an incremental run does not pay for them. A server that
 * lowers its limit meanwhile answers a too large batch with 400: the cache is dropped there
 * (send_batch) and the next run reads them again. End of service is still seen at every run:
 * Kinto sends the Alert header on every response (kinto_api.c).
 */
static int cached_root(struct kinto_remote *k)
{
	char v[64];
	long long at = 0, bmr = 0;
	int64_t now = ds_port_wall_ms();

	if (k->settings_max_age_ms <= 0 ||
	    ds_kinto_state_kv_get(k->state, "settings", v, sizeof(v)) != 0 ||
	    sscanf(v, "%lld %lld", &at, &bmr) != 2 || bmr < 1 || at > now ||
	    now - at >= k->settings_max_age_ms)
		return -ENOENT;
	k->batch_max = (size_t)bmr;
	return 0;
}

static void cache_root(struct kinto_remote *k)
{
	char v[64];

	if (k->settings_max_age_ms <= 0)
		return;
	snprintf(v, sizeof(v), "%lld %zu", (long long)ds_port_wall_ms(), k->batch_max);
	if (ds_kinto_state_kv_set(k->state, "settings", v))
		DS_LOG_DBG("%s: the server's settings could not be cached", k->name);
}

static int read_root(struct kinto_remote *k)
{
	struct ds_http_response resp;
	cJSON *j = NULL;
	int rc;

	if (cached_root(k) == 0)
		return 0;
	rc = ds_kinto_api_call(&k->api, "GET", "/", NULL, NULL, &resp);
	if (rc)
		return rc;
	if (resp.status != 200) {
		rc = ds_kinto_api_error(&k->api, "reading the server's settings (GET /v1/)", &resp);
		goto out;
	}
	j = cJSON_ParseWithLength(resp.body ? resp.body : "", resp.body_len);
	const cJSON *settings = cJSON_GetObjectItemCaseSensitive(j, "settings");
	const cJSON *bmr = cJSON_GetObjectItemCaseSensitive(settings, "batch_max_requests");
	const cJSON *ro = cJSON_GetObjectItemCaseSensitive(settings, "readonly");
	const cJSON *eos = cJSON_GetObjectItemCaseSensitive(j, "eos");

	if (!cJSON_IsObject(settings)) {
		DS_LOG_ERR("%s: %s/ is not a Kinto server (no settings)", k->name, k->api.base);
		rc = -EPROTO;
		goto out;
	}
	/* Kinto's default is 25 (kinto/core/__init__.py); a server without a limit publishes none. */
	k->batch_max = cJSON_IsNumber(bmr) && bmr->valuedouble >= 1 ?
			       (size_t)DS_MIN(bmr->valuedouble, 100000.0) : 25;
	if (cJSON_IsTrue(ro))
		DS_LOG_WRN("%s: the Kinto server is read-only; uploads will be refused", k->name);
	if (eos && !k->api.eos_reported) {
		char *s = cJSON_PrintUnformatted(eos);

		DS_LOG_WRN("%s: the Kinto server announces its end of service: %s", k->name,
			   s ? s : "?");
		cJSON_free(s);
		k->api.eos_reported = true;
	}
	cache_root(k);
out:
	cJSON_Delete(j);
	ds_http_response_free(&resp);
	return rc;
}

static int ensure_bucket(struct kinto_remote *k)
{
	static const char *const h[] = { "If-None-Match", "*", NULL };
	struct ds_http_response resp;
	char *path;
	int rc;

	if (strcmp(k->bucket, "default") == 0 || k->shared_reader)
		return 0; /* the personal bucket is created implicitly (kinto.md §4) */
	path = ds_asprintf("/buckets/%s", k->bucket);
	if (!path)
		return -ENOMEM;
	rc = ds_kinto_api_call(&k->api, "PUT", path, "{\"data\":{}}", h, &resp);
	ds_free(path);
	if (rc)
		return rc;
	/* 412: it exists; 403: it exists and is someone else's (shared with us) or we may not
	 * create buckets: the collection request below says which. */
	if (resp.status != 200 && resp.status != 201 && resp.status != 412 && resp.status != 403)
		rc = ds_kinto_api_error(&k->api, "creating the bucket", &resp);
	ds_http_response_free(&resp);
	return rc;
}

/* GET the collection: 0 and *data (cJSON of "data"), -ENOENT when missing. */
static int get_collection(struct kinto_remote *k, cJSON **data)
{
	struct ds_http_response resp;
	cJSON *j;
	int rc = ds_kinto_api_call(&k->api, "GET", k->coll_path, NULL, NULL, &resp);

	*data = NULL;
	if (rc)
		return rc;
	if (resp.status == 404 || resp.status == 403) {
		/* 403 on a missing collection of our own bucket: Kinto hides existence from
		 * those without read access; creating it tells. */
		rc = -ENOENT;
	} else if (resp.status != 200) {
		rc = ds_kinto_api_error(&k->api, "reading the collection", &resp);
	} else {
		j = cJSON_ParseWithLength(resp.body ? resp.body : "", resp.body_len);
		*data = cJSON_DetachItemFromObjectCaseSensitive(j, "data");
		cJSON_Delete(j);
		rc = cJSON_IsObject(*data) ? 0 : -EPROTO;
	}
	ds_http_response_free(&resp);
	return rc;
}

static int new_epoch(char *out, size_t cap)
{
	uint8_t raw[12];
	int rc = ds_random(raw, sizeof(raw));

	if (rc == 0)
		rc = ds_hex_encode(raw, sizeof(raw), out, cap) < 0 ? -ENOSPC : 0;
	return rc;
}

/* Write our marker: create the collection (If-None-Match: *) or add it to one that has none
 * (If-Match on its version), so two devices racing end with one marker. */
static int put_epoch(struct kinto_remote *k, const cJSON *data)
{
	char epoch[32], etag[32], *body;
	const char *h[] = { "If-None-Match", "*", NULL, NULL };
	const cJSON *lm = cJSON_GetObjectItemCaseSensitive(data, "last_modified");
	struct ds_http_response resp;
	int rc = new_epoch(epoch, sizeof(epoch));

	if (rc)
		return rc;
	if (data) {
		snprintf(etag, sizeof(etag), "\"%.0f\"", cJSON_IsNumber(lm) ? lm->valuedouble : 1.0);
		h[0] = "If-Match";
		h[1] = etag;
	}
	/* A collection we create for an encrypted registration holds nothing in clear: it is
	 * marked with our key at once (an existing one is switched by prepare_encryption()). */
	body = !data && k->key.set ?
		       ds_asprintf("{\"data\":{\"" EPOCH_FIELD "\":\"%s\",\"" KID_FIELD "\":\"%s\"}}",
				   epoch, k->key.kid) :
		       ds_asprintf("{\"data\":{\"" EPOCH_FIELD "\":\"%s\"}}", epoch);
	if (!body)
		return -ENOMEM;
	rc = ds_kinto_api_call(&k->api, data ? "PATCH" : "PUT", k->coll_path, body, h, &resp);
	ds_free(body);
	if (rc)
		return rc;
	if (resp.status == 412)
		rc = -EAGAIN; /* someone else was first: read theirs */
	else if (resp.status != 200 && resp.status != 201)
		rc = ds_kinto_api_error(&k->api, data ? "marking the collection" :
							"creating the collection", &resp);
	else
		DS_LOG_INF("%s: %s Kinto collection %s%s", k->name,
			   data ? "marked the" : "created the", k->coll_path, "");
	ds_http_response_free(&resp);
	return rc;
}

/* The collection's epoch; *meta: its metadata (cJSON "data"; NULL for a shared reader). */
static int collection_epoch(struct kinto_remote *k, char *epoch, size_t cap, cJSON **meta)
{
	*meta = NULL;
	for (int attempt = 0; attempt < 4; attempt++) {
		cJSON *data = NULL;
		int rc = get_collection(k, &data);
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(data, EPOCH_FIELD);

		if (rc == 0 && cJSON_IsString(e) && *e->valuestring && strlen(e->valuestring) < cap) {
			snprintf(epoch, cap, "%s", e->valuestring);
			*meta = data;
			return 0;
		}
		if (rc && rc != -ENOENT) {
			cJSON_Delete(data);
			return rc;
		}
		if (k->shared_reader) {
			/*
			 * Someone else's collection: we may read only the records shared with us, not
			 * the collection (403) nor write a marker. A constant epoch: a wiped server is
			 * not detected here, and since we only read, it cannot cost the owner data.
			 */
			cJSON_Delete(data);
			snprintf(epoch, cap, "%s", "shared-reader");
			return 0;
		}
		rc = put_epoch(k, data);
		cJSON_Delete(data);
		if (rc && rc != -EAGAIN) {
			if (rc == -EPERM)
				DS_LOG_ERR("%s: no permission to create collection %s", k->name,
					   k->coll_path);
			return rc;
		}
	}
	DS_LOG_ERR("%s: the collection's marker keeps changing", k->name);
	return -EAGAIN;
}

static int kinto_prepare(struct ds_remote *r, struct ds_remote_info *info)
{
	struct kinto_remote *k = kr_of(r);
	char epoch[DS_CURSOR_MAX], known[DS_CURSOR_MAX];
	cJSON *meta = NULL;
	int rc;

	memset(info, 0, sizeof(*info));
	rc = read_root(k);
	if (rc == 0)
		rc = ensure_bucket(k);
	if (rc == 0)
		rc = collection_epoch(k, epoch, sizeof(epoch), &meta);
	if (rc)
		return rc;
	/* The id map belongs to one incarnation of the collection. */
	rc = ds_kinto_state_kv_get(k->state, "epoch", known, sizeof(known));
	if (rc == 0 && strcmp(known, epoch) != 0)
		rc = ds_kinto_state_clear(k->state);
	else if (rc == -ENOENT || rc == -ENOSPC)
		rc = 0;
	if (rc == 0)
		rc = ds_kinto_state_kv_set(k->state, "epoch", epoch);
	if (rc == 0) {
		const struct ds_kinto_coll c = {
			.api = &k->api, .state = k->state, .key = &k->key, .name = k->name,
			.coll = k->coll, .coll_path = k->coll_path, .batch_max = k->batch_max,
			.page_size = k->page_size, .shared_reader = k->shared_reader,
			.work_path = k->state_path,
		};

		rc = ds_kinto_encryption_prepare(&c, meta);
	}
	cJSON_Delete(meta);
	if (rc)
		return rc;
	snprintf(info->epoch, sizeof(info->epoch), "%s", epoch);
	/*
	 * One request of each batch is the closing check (upload below). Full batches without it
	 * would save one batch in 25, but the next fetch would then bring every record we wrote
	 * back (bytes, time to compare, and each a conflict candidate for a row edited meanwhile).
	 */
	info->max_batch = k->batch_max > 1 ? k->batch_max - 1 : 1;
	return 0;
}

/* ---- fetch -------------------------------------------------------------------------------- */

struct fetch_ctx {
	struct kinto_remote *k;
	ds_record_cb cb;
	void *ud;
	int64_t last_ms;
	unsigned n;
	const char *data;
	size_t data_len;
};

static int find_data(const char *key, size_t klen, const char *val, size_t vlen, void *ud)
{
	struct fetch_ctx *c = ud;

	if (klen == 4 && memcmp(key, "data", 4) == 0) {
		c->data = val;
		c->data_len = vlen;
	}
	return 0;
}

static int find_reenc(const char *key, size_t klen, const char *val, size_t vlen, void *ud)
{
	int64_t *prev = ud;

	if (klen == strlen(DS_KINTO_REENC_FIELD) && memcmp(key, DS_KINTO_REENC_FIELD, klen) == 0 &&
	    ds_kinto_json_int64(val, vlen, prev))
		*prev = 0;
	return 0;
}

/*
 * A record re-uploaded encrypted by the switch (kinto_migrate.c) carries the version it
 * replaced. When that version is the last we saw (we synced it in clear; the device that made
 * the switch left it in its map too), the payload is one the core already has: 1 (skip it;
 * only the map and cursor move on), so a pending edit of that row is not turned into a
 * conflict it could lose. A device that never saw it (no entry) gets the record.
 */
static int skip_reencrypted(struct fetch_ctx *c, const char *val, size_t vlen,
			    const struct ds_record *rec)
{
	int64_t prev = 0, ms = 0;
	bool gone = false;
	int rc;

	if (rec->deleted)
		return 0;
	rc = ds_kinto_json_object_each(val, vlen, find_reenc, &prev);
	if (rc || prev <= 0)
		return 0;
	rc = ds_kinto_state_get(c->k->state, rec->id, &ms, &gone);
	if (rc == -ENOENT || (rc == 0 && (gone || ms != prev)))
		return 0;
	if (rc)
		return rc;
	if (rec->modified_ms > c->last_ms)
		c->last_ms = rec->modified_ms;
	rc = ds_kinto_state_put(c->k->state, rec->id, rec->modified_ms, false);
	if (rc == 0)
		rc = ds_kinto_files_on_skipped(c->k->files, c->k->state, val, vlen, rec->id);
	return rc ? rc : 1;
}

static int fetch_one(const char *val, size_t vlen, void *ud)
{
	struct fetch_ctx *c = ud;
	struct kinto_remote *k = c->k;
	struct ds_record rec;
	int rc = ds_kinto_decode(&k->key, k->coll, val, vlen, &rec);

	c->n++;
	if (rc == -ENOKEY) {
		DS_LOG_ERR("%s: the server holds encrypted records and this collection has no key "
			   "(register it with \"encrypt\")", k->name);
		return rc;
	}
	if (rc == -EKEYREJECTED) {
		DS_LOG_ERR("%s: records are encrypted under another key than this device's", k->name);
		return rc;
	}
	if (rc == -EBADMSG || rc == -EACCES) {
		/* A wrong key was caught above by its kid: a record failing its tag under our own
		 * key was damaged or moved by the server, and only that record is refused.
		 * Hand the core a record with neither payload nor deletion: it counts it as an
		 * error and never applies it. The id still moves to the map: its version was seen. */
		struct ds_record bad = { 0 };
		int mrc = ds_kinto_record_meta(val, vlen, &bad.id, &bad.modified_ms);

		DS_LOG_WRN("%s: a record %s; skipped", k->name,
			   rc == -EACCES ? "is in clear in an encrypted collection" :
					   "failed to decode or decrypt");
		if (mrc == -ENOMEM)
			return mrc;
		if (!bad.id)
			return 0; /* no usable id: nothing to tell the core */
		if (bad.modified_ms > c->last_ms)
			c->last_ms = bad.modified_ms;
		rc = ds_kinto_state_put(k->state, bad.id, bad.modified_ms, false);
		if (rc == 0)
			rc = c->cb(&bad, c->ud);
		ds_record_clear(&bad);
		return rc;
	}
	if (rc)
		return rc;
	if (k->key.set) {
		rc = skip_reencrypted(c, val, vlen, &rec);
		if (rc) {
			ds_record_clear(&rec);
			return rc > 0 ? 0 : rc;
		}
	}
	/* The file first: when the core applies the row, the file it names is in place. A
	 * failed download fails the page, which is fetched again (and the file resumed). */
	rc = ds_kinto_files_on_fetch(k->files, &k->api, k->state, &k->key, k->coll, val, vlen, &rec);
	if (rc) {
		ds_record_clear(&rec);
		return rc;
	}
	if (rec.modified_ms > c->last_ms)
		c->last_ms = rec.modified_ms;
	rc = ds_kinto_state_put(k->state, rec.id, rec.modified_ms, rec.deleted);
	if (rc == 0)
		rc = c->cb(&rec, c->ud);
	ds_record_clear(&rec);
	return rc;
}

static bool same_origin(const struct kinto_remote *k, const char *url)
{
	size_t n = strlen(k->api.origin);

	return strncmp(url, k->api.origin, n) == 0 && url[n] == '/';
}

static int kinto_fetch(struct ds_remote *r, const char *cursor, ds_record_cb cb, void *user_data,
		       struct ds_fetch_page *page)
{
	struct kinto_remote *k = kr_of(r);
	struct fetch_ctx c = { .k = k, .cb = cb, .ud = user_data };
	struct ds_http_response resp;
	const char *next;
	char *path;
	int rc;

	memset(page, 0, sizeof(*page));
	if (!cursor_valid(cursor)) {
		DS_LOG_ERR("%s: stored cursor '%s' is not a Kinto timestamp", k->name, cursor);
		return -EINVAL;
	}
	c.last_ms = cursor_ms(cursor);
	if (k->next_url && strcmp(k->next_for, cursor) == 0)
		path = ds_strdup(k->next_url);
	else
		path = ds_asprintf("%s/records?_sort=last_modified&_limit=%u%s%s", k->coll_path,
				   k->page_size, cursor[0] ? "&_since=" : "", cursor);
	ds_free(k->next_url);
	k->next_url = NULL;
	if (!path)
		return -ENOMEM;
	rc = ds_kinto_api_call(&k->api, "GET", path, NULL, NULL, &resp);
	ds_free(path);
	if (rc)
		return rc;
	if (resp.status != 200) {
		rc = ds_kinto_api_error(&k->api, "fetching records", &resp);
		goto out;
	}
	rc = ds_kinto_json_object_each(resp.body ? resp.body : "", resp.body_len, find_data, &c);
	if (rc == 0 && !c.data)
		rc = -EBADMSG;
	if (rc) {
		DS_LOG_ERR("%s: the server's record list is not JSON", k->name);
		rc = -EPROTO;
		goto out;
	}
	rc = ds_kinto_state_begin(k->state);
	if (rc)
		goto out;
	rc = ds_kinto_json_array_each(c.data, c.data_len, fetch_one, &c);
	if (rc == -EBADMSG)
		rc = -EPROTO;
	if (rc == 0)
		rc = ds_kinto_state_commit(k->state);
	else
		ds_kinto_state_rollback(k->state);
	if (rc)
		goto out;
	snprintf(page->next_cursor, sizeof(page->next_cursor), "%" PRId64, c.last_ms);
	if (c.last_ms == 0)
		snprintf(page->next_cursor, sizeof(page->next_cursor), "%s", cursor);
	next = ds_http_header(&resp, "next-page");
	if (next && *next && c.n > 0) {
		page->more = true;
		/* Followed only on our own server: the URL carries nothing secret, but our
		 * credentials go with the request. Elsewhere, _since from the cursor does the same. */
		if (same_origin(k, next)) {
			k->next_url = ds_strdup(next);
			snprintf(k->next_for, sizeof(k->next_for), "%s", page->next_cursor);
		} else {
			DS_LOG_WRN("%s: Next-Page points to another server; not followed", k->name);
		}
	}
out:
	ds_http_response_free(&resp);
	return rc;
}

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

	return cJSON_IsNumber(lm) ? (int64_t)lm->valuedouble : 0;
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
		return ms ? ds_kinto_state_put(k->state, o->rec->id, ms, o->rec->deleted) : 0;
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

static int kinto_upload(struct ds_remote *r, const char *cursor, const struct ds_record *recs,
			size_t n, struct ds_upload_result *res)
{
	struct kinto_remote *k = kr_of(r);
	struct up u = { .k = k, .n = n };
	size_t accepted = 0, failed = 0;
	int rc = 0;

	memset(res, 0, sizeof(*res));
	if (!cursor_valid(cursor))
		return -EINVAL;
	if (k->shared_reader && n) {
		DS_LOG_ERR("%s: a collection shared with us is read-only; register it with the "
			   "import-only direction", k->name);
		return -EPERM;
	}
	snprintf(res->new_cursor, sizeof(res->new_cursor), "%s", cursor);
	if (n == 0)
		return 0;
	if (strcmp(k->acc_cursor, cursor) != 0) {
		snprintf(k->acc_cursor, sizeof(k->acc_cursor), "%s", cursor);
		k->acc_written = 0;
	}
	u.cursor_ms = cursor_ms(cursor);
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
out:
	ds_free(u.ops);
	return rc;
}

static int64_t kinto_backoff_s(struct ds_remote *r)
{
	return kr_of(r)->api.backoff_s;
}

static void kinto_close(struct ds_remote *r)
{
	struct kinto_remote *k;

	if (!r)
		return;
	k = kr_of(r);
	ds_kinto_api_free(&k->api);
	ds_kinto_state_close(k->state);
	ds_memzero(&k->key, sizeof(k->key));
	ds_free(k->name);
	ds_free(k->bucket);
	ds_free(k->coll);
	ds_free(k->coll_path);
	ds_free(k->state_path);
	ds_free(k->next_url);
	ds_kinto_files_free(k->files);
	ds_free(k->share_field);
	ds_free(k);
}

static const struct ds_remote_ops kinto_ops = {
	.kind = "kinto",
	.prepare = kinto_prepare,
	.fetch = kinto_fetch,
	.upload = kinto_upload,
	.backoff_s = kinto_backoff_s,
	.close = kinto_close,
};

/* ---- open --------------------------------------------------------------------------------- */

static const char *cfg_str(const cJSON *cfg, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int make_auth(struct kinto_remote *k, const cJSON *cfg, const struct ds_kinto_secrets *s)
{
	const char *user = cfg_str(cfg, "user");

	if (s->token[0]) {
		/* Bearer: an OpenID Connect / FxA OAuth access token (docs/remote-kinto.md). */
		k->api.auth = ds_asprintf("Bearer %s", s->token);
		return k->api.auth ? 0 : -ENOMEM;
	}
	if (user && s->password[0]) {
		char *up = ds_asprintf("%s:%s", user, s->password);
		size_t cap = up ? (strlen(up) + 2) / 3 * 4 + 1 : 0;
		char *b64 = up ? ds_malloc(cap) : NULL;
		int rc = -ENOMEM;

		if (b64 && ds_base64_encode(up, strlen(up), b64, cap) >= 0) {
			k->api.auth = ds_asprintf("Basic %s", b64);
			rc = k->api.auth ? 0 : -ENOMEM;
		}
		if (up) {
			ds_memzero(up, strlen(up));
			ds_memzero(b64, cap);
		}
		ds_free(up);
		ds_free(b64);
		return rc;
	}
	return 0; /* anonymous */
}

char *ds_kinto_state_path(const cJSON *cfg, const char *collection)
{
	const char *url = cfg_str(cfg, "url"), *user = cfg_str(cfg, "user");
	char *s = ds_asprintf("%s\n%s\n%s", url, user ? user : "", collection);
	uint8_t h[DS_SHA256_LEN];
	char hex[33];
	int rc;

	if (!s)
		return NULL;
	rc = ds_sha256(s, strlen(s), h);
	ds_free(s);
	if (rc || ds_hex_encode(h, 16, hex, sizeof(hex)) < 0)
		return NULL;
	return ds_asprintf("%s/kinto-%s.db", ds_port_path(DS_PATH_DATA), hex);
}

int ds_remote_kinto_open(const cJSON *cfg, const char *collection, const char *device_id,
			 struct ds_remote **out)
{
	const char *url = cfg_str(cfg, "url"), *bucket = cfg_str(cfg, "bucket");
	const char *coll = cfg_str(cfg, "collection"), *secret = cfg_str(cfg, "secret");
	const cJSON *enc = cJSON_GetObjectItemCaseSensitive(cfg, "encrypt");
	const cJSON *page = cJSON_GetObjectItemCaseSensitive(cfg, "page_size");
	const cJSON *age = cJSON_GetObjectItemCaseSensitive(cfg, "settings_max_age_s");
	const char *mode = cJSON_IsString(enc) ? enc->valuestring : NULL;
	struct ds_kinto_secrets *sec = NULL;
	struct kinto_remote *k;
	int rc;

	DS_UNUSED(device_id);
	*out = NULL;
	if (!url || !collection || !*collection) {
		DS_LOG_ERR("kinto remote needs a \"url\"");
		return -EINVAL;
	}
	bucket = bucket ? bucket : "default";
	coll = coll ? coll : collection;
	if (!ds_kinto_id_valid(bucket) || !ds_kinto_id_valid(coll)) {
		DS_LOG_ERR("kinto remote: bucket '%s' / collection '%s' are not Kinto ids "
			   "([a-zA-Z0-9][a-zA-Z0-9_-]*)", bucket, coll);
		return -EINVAL;
	}
	if (enc && !cJSON_IsFalse(enc) && !(mode && (!strcmp(mode, "key") || !strcmp(mode, "account")))) {
		DS_LOG_ERR("kinto remote: \"encrypt\" is false, \"key\" or \"account\"");
		return -EINVAL;
	}
	if (page && (!cJSON_IsNumber(page) || page->valuedouble < 1 || page->valuedouble > 10000)) {
		DS_LOG_ERR("kinto remote: \"page_size\" is 1..10000");
		return -EINVAL;
	}
	if (age && (!cJSON_IsNumber(age) || age->valuedouble < 0 || age->valuedouble > 604800)) {
		DS_LOG_ERR("kinto remote: \"settings_max_age_s\" is 0..604800");
		return -EINVAL;
	}
	k = ds_calloc(1, sizeof(*k));
	sec = ds_calloc(1, sizeof(*sec));
	if (!k || !sec) {
		ds_free(k);
		ds_free(sec);
		return -ENOMEM;
	}
	k->base.ops = &kinto_ops;
	k->base.priv = k;
	k->page_size = page ? (unsigned)page->valuedouble : CONFIG_DS_REMOTE_KINTO_PAGE;
	k->batch_max = 25;
	k->settings_max_age_ms = age ? (int64_t)age->valuedouble * 1000 : 3600 * 1000LL;
	k->name = ds_strdup(collection);
	k->bucket = ds_strdup(bucket);
	k->coll = ds_strdup(coll);
	k->coll_path = ds_asprintf("/buckets/%s/collections/%s", bucket, coll);
	k->state_path = ds_kinto_state_path(cfg, collection);
	rc = -ENOMEM;
	if (!k->name || !k->bucket || !k->coll || !k->coll_path || !k->state_path)
		goto fail;
	rc = ds_kinto_api_init(&k->api, url, cfg_str(cfg, "ca_bundle"), k->name);
	if (rc)
		goto fail;
	if (secret) {
		rc = ds_kinto_secrets_load(secret, sec);
		if (rc) {
			DS_LOG_ERR("the credentials of collection %s are not in secret storage (%s); "
				   "register it again", collection, ds_strerror(rc));
			rc = rc == -ENOENT ? -EACCES : rc;
			goto fail;
		}
	}
	if (cJSON_GetObjectItemCaseSensitive(cfg, "token_scope")) {
		const char *scope = cfg_str(cfg, "token_scope"), *fxa = cfg_str(cfg, "fxa_url");
		const char *ca = cfg_str(cfg, "fxa_ca_bundle");

		rc = -EINVAL;
		if (!scope || !*scope || sec->token[0] || sec->password[0]) {
			DS_LOG_ERR("kinto remote: \"token_scope\" is the OAuth scope of the account's "
				   "tokens, instead of a password or token");
			goto fail;
		}
		/* The token itself is asked for at the first request (kinto_token.c). */
		rc = -ENOMEM;
		k->api.token_scope = ds_strdup(scope);
		k->api.fxa_url = fxa ? ds_strdup(fxa) : NULL;
		k->api.fxa_ca = ca ? ds_strdup(ca) : NULL;
		if (!k->api.token_scope || (fxa && !k->api.fxa_url) || (ca && !k->api.fxa_ca))
			goto fail;
	} else {
		rc = make_auth(k, cfg, sec);
		if (rc)
			goto fail;
	}
	if (mode && !strcmp(mode, "key")) {
		if (!sec->key.set) {
			DS_LOG_ERR("collection %s: encrypted with a key, but no key was enrolled",
				   collection);
			rc = -ENOKEY;
			goto fail;
		}
		k->key = sec->key;
	} else if (mode && !strcmp(mode, "account")) {
		const char *label = cfg_str(cfg, "key_label");

		rc = ds_kinto_account_key(label ? label : collection, &k->key);
		if (rc) {
			DS_LOG_ERR("collection %s: no key from the Firefox Account (%s); sign in "
				   "with 'datasyncctl login'", collection, ds_strerror(rc));
			goto fail;
		}
	}
	rc = ds_kinto_files_config(cfg, &k->files);
	if (rc)
		goto fail;
	k->shared_reader = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "shared_reader"));
	if (k->shared_reader && !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(cfg, "bucket"))) {
		DS_LOG_ERR("kinto remote: \"shared_reader\" needs the owner's \"bucket\" id");
		rc = -EINVAL;
		goto fail;
	}
	if (cJSON_GetObjectItemCaseSensitive(cfg, "share_field")) {
		const char *sf = cfg_str(cfg, "share_field");

		rc = -EINVAL;
		if (!sf || !*sf) {
			DS_LOG_ERR("kinto remote: \"share_field\" names a member of the records");
			goto fail;
		}
		rc = -ENOMEM;
		k->share_field = ds_strdup(sf);
		if (!k->share_field)
			goto fail;
	}
	rc = ds_kinto_state_open(k->state_path, &k->state);
	if (rc)
		goto fail;
	ds_memzero(sec, sizeof(*sec));
	ds_free(sec);
	*out = &k->base;
	return 0;
fail:
	ds_memzero(sec, sizeof(*sec));
	ds_free(sec);
	kinto_close(&k->base);
	return rc;
}
