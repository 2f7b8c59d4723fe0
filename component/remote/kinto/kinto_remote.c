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
#include "remote/kinto/kinto_remote_int.h"
#include "ds_port.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPOCH_FIELD "datasync_epoch"
/* An encrypted collection's metadata names its key (kinto_migrate.c). */
#define KID_FIELD DS_KINTO_KID_FIELD

bool ds_kinto_cursor_valid(const char *c)
{
	size_t n = strlen(c);

	if (n > 19)
		return false;
	for (size_t i = 0; i < n; i++)
		if (c[i] < '0' || c[i] > '9')
			return false;
	return true;
}

int64_t ds_kinto_cursor_ms(const char *c)
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

/* ---- the collection and the first page in one request ---- */

struct sub {
	int64_t status;
	const char *body, *hdrs;
	size_t body_len, hdrs_len;
};

struct subs {
	struct sub s[2];
	size_t n;
	const char *responses;
	size_t responses_len;
};

static bool key_is(const char *key, size_t klen, const char *name)
{
	return klen == strlen(name) && memcmp(key, name, klen) == 0;
}

static int sub_member(const char *key, size_t klen, const char *val, size_t vlen, void *ud)
{
	struct sub *x = ud;

	if (key_is(key, klen, "status"))
		return ds_kinto_json_int64(val, vlen, &x->status);
	if (key_is(key, klen, "body")) {
		x->body = val;
		x->body_len = vlen;
	} else if (key_is(key, klen, "headers")) {
		x->hdrs = val;
		x->hdrs_len = vlen;
	}
	return 0;
}

static int sub_elem(const char *val, size_t vlen, void *ud)
{
	struct subs *x = ud;
	int rc = 0;

	if (x->n < 2)
		rc = ds_kinto_json_object_each(val, vlen, sub_member, &x->s[x->n]);
	x->n++;
	return rc;
}

static int top_member(const char *key, size_t klen, const char *val, size_t vlen, void *ud)
{
	struct subs *x = ud;

	if (key_is(key, klen, "responses")) {
		x->responses = val;
		x->responses_len = vlen;
	}
	return 0;
}

/* The first page's answer kept for the fetch, byte for byte (kinto_json.c says why). */
static int keep_page(struct kinto_remote *k, const struct sub *p, const char *cursor)
{
	cJSON *h = p->hdrs ? cJSON_ParseWithLength(p->hdrs, p->hdrs_len) : NULL;
	const cJSON *next = cJSON_GetObjectItemCaseSensitive(h, "Next-Page");
	int rc = -ENOMEM;

	ds_kinto_prefetch_drop(k);
	k->pre.body = ds_malloc(p->body_len + 1);
	if (!k->pre.body)
		goto out;
	memcpy(k->pre.body, p->body, p->body_len);
	k->pre.body[p->body_len] = '\0';
	k->pre.len = p->body_len;
	if (cJSON_IsString(next) && !(k->pre.next = ds_strdup(next->valuestring)))
		goto out;
	snprintf(k->pre.cursor, sizeof(k->pre.cursor), "%s", cursor);
	k->pre.set = true;
	rc = 0;
out:
	if (rc)
		ds_kinto_prefetch_drop(k);
	cJSON_Delete(h);
	return rc;
}

struct prefix {
	struct kinto_remote *k;
	int64_t ms;
	bool stop;
	const char *data;
	size_t data_len;
};

static int prefix_data(const char *key, size_t klen, const char *val, size_t vlen, void *ud)
{
	struct prefix *p = ud;

	if (key_is(key, klen, "data")) {
		p->data = val;
		p->data_len = vlen;
	}
	return 0;
}

static int prefix_one(const char *val, size_t vlen, void *ud)
{
	struct prefix *p = ud;
	char *id = NULL;
	int64_t ms = 0, known = 0;
	bool gone = false, ours = false;
	int rc;

	if (p->stop)
		return 0;
	rc = ds_kinto_record_meta(val, vlen, &id, &ms);
	if (rc == -ENOMEM)
		return rc;
	if (rc == 0)
		rc = ds_kinto_state_get_ours(p->k->state, id, &known, &gone, &ours);
	ds_free(id);
	if (rc == -ENOMEM)
		return rc;
	if (rc || !ours || known != ms || ms <= p->ms)
		p->stop = true;
	else
		p->ms = ms;
	return 0;
}

/* The listing of versions after the hint (oldest first): how far they are all ours. */
static int own_prefix(struct kinto_remote *k, const struct sub *l)
{
	struct prefix p = { .k = k };
	int rc = ds_kinto_json_object_each(l->body, l->body_len, prefix_data, &p);

	if (rc == 0 && p.data)
		rc = ds_kinto_json_array_each(p.data, p.data_len, prefix_one, &p);
	if (rc == -ENOMEM)
		return rc;
	if (rc == 0 && p.ms > ds_kinto_cursor_ms(k->hint)) {
		k->jump_ms = p.ms;
		snprintf(k->jump_for, sizeof(k->jump_for), "%s", k->hint);
		DS_LOG_DBG("%s: the next page starts after our own writes", k->name);
	}
	return 0;
}

/*
 * GET the collection and, in the same POST /batch, the first page of records after the cursor
 * the core was last given (k->hint): an incremental run then costs one request before its
 * uploads instead of two. The page is used only if the fetch asks for that very cursor; it was
 * read after the collection, in one transaction of the server (kinto.md §3), so it belongs to
 * the incarnation whose epoch prepare checks. Same answers as get_collection().
 */
static int read_collection(struct kinto_remote *k, cJSON **data)
{
	struct ds_http_response resp;
	struct subs x = { 0 };
	char *page = NULL, *body = NULL;
	bool listing;
	int rc;

	*data = NULL;
	if (k->shared_reader)
		return get_collection(k, data);
	if (!k->hint[0] && ds_kinto_state_kv_get(k->state, "cursor_hint", k->hint, sizeof(k->hint)))
		k->hint[0] = '\0';
	if (!ds_kinto_cursor_valid(k->hint))
		k->hint[0] = '\0';
	/* A device's first run reads them apart: the first page is one of many there anyway. */
	if (!k->hint[0])
		return get_collection(k, data);
	if (!k->echo) {
		char v[32];

		if (ds_kinto_state_kv_get(k->state, "echo", v, sizeof(v)) == 0)
			k->echo = (size_t)strtoull(v, NULL, 10);
	}
	listing = k->echo > k->page_size;
	page = listing ? ds_asprintf("%s/records?_sort=last_modified&_fields=id&_limit=%zu&_since=%s",
				     k->coll_path, DS_MIN(k->echo + 1, (size_t)10000), k->hint)
		       : ds_kinto_page_path(k, k->hint);
	body = page ? ds_asprintf("{\"requests\":[{\"method\":\"GET\",\"path\":\"%s\"},"
				  "{\"method\":\"GET\",\"path\":\"%s\"}]}", k->coll_path, page) : NULL;
	ds_free(page);
	if (!body)
		return -ENOMEM;
	rc = ds_kinto_api_call(&k->api, "POST", "/batch", body, NULL, &resp);
	ds_free(body);
	if (rc)
		return rc;
	if (resp.status == 404 || resp.status == 405) {
		/* No batch endpoint here (a proxy in front): the plain way. */
		ds_http_response_free(&resp);
		return get_collection(k, data);
	}
	if (resp.status != 200) {
		rc = ds_kinto_api_error(&k->api, "reading the collection", &resp);
		goto out;
	}
	rc = ds_kinto_json_object_each(resp.body ? resp.body : "", resp.body_len, top_member, &x);
	if (rc == 0 && x.responses)
		rc = ds_kinto_json_array_each(x.responses, x.responses_len, sub_elem, &x);
	if (rc || x.n != 2 || !x.s[0].body) {
		DS_LOG_ERR("%s: the batch answer does not match the request", k->name);
		rc = rc == -ENOMEM ? rc : -EPROTO;
		goto out;
	}
	if (x.s[0].status == 401 && k->api.token_scope) {
		/* An account token refused inside the batch: the plain request asks for a new one
		 * (ds_kinto_api_call()). */
		ds_http_response_free(&resp);
		return get_collection(k, data);
	}
	if (x.s[0].status == 404 || x.s[0].status == 403) {
		rc = -ENOENT; /* as get_collection(): creating it tells */
	} else if (x.s[0].status != 200) {
		struct ds_http_response fake = { .status = (int)x.s[0].status,
						 .body = (char *)x.s[0].body,
						 .body_len = x.s[0].body_len };

		rc = ds_kinto_api_error(&k->api, "reading the collection", &fake);
	} else {
		cJSON *j = cJSON_ParseWithLength(x.s[0].body, x.s[0].body_len);

		*data = cJSON_DetachItemFromObjectCaseSensitive(j, "data");
		cJSON_Delete(j);
		rc = cJSON_IsObject(*data) ? 0 : -EPROTO;
		if (rc == 0 && x.s[1].status == 200 && x.s[1].body)
			rc = listing ? own_prefix(k, &x.s[1]) : keep_page(k, &x.s[1], k->hint);
	}
out:
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
		int rc = attempt == 0 ? read_collection(k, &data) : get_collection(k, &data);
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

		char kid[DS_KINTO_KID_LEN + 8];

		/* A switch to encrypted may rewrite every record: the page read with the collection
		 * would then hold versions replaced since. */
		if (k->key.set && (ds_kinto_state_kv_get(k->state, "kid", kid, sizeof(kid)) ||
				   strcmp(kid, k->key.kid)))
			ds_kinto_prefetch_drop(k);
		rc = ds_kinto_encryption_prepare(&c, meta);
	}
	cJSON_Delete(meta);
	if (rc)
		return rc;
	snprintf(info->epoch, sizeof(info->epoch), "%s", epoch);
	/*
	 * Full batches: a batch with room left ends with the closing check that lets the cursor
	 * jump over our writes (kinto_upload.c); a full one goes without it, and the next fetch
	 * meets those writes and skips them as ours without handing them to the core
	 * (kinto_fetch.c, skip_ours): one request per batch_max records instead of per
	 * batch_max - 1, paid for with their bytes at the next fetch.
	 */
	info->max_batch = k->batch_max;
	return 0;
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
	if (k->hint[0]) {
		char v[32];

		snprintf(v, sizeof(v), "%zu", k->echo);
		if (ds_kinto_state_kv_set(k->state, "cursor_hint", k->hint) ||
		    ds_kinto_state_kv_set(k->state, "echo", v))
			DS_LOG_DBG("%s: the cursor hint could not be kept", k->name);
	}
	ds_kinto_prefetch_drop(k);
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
	.fetch = ds_kinto_fetch,
	.upload = ds_kinto_upload,
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

