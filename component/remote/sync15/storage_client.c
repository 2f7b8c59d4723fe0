/*
 * The Sync 1.5 storage client: one request to the user's storage node, and what every answer
 * can carry (DOCS storage/apis-1.5.rst "Request headers", "Response headers", "HTTP status
 * codes"; sync15.md §1-2, §6):
 *
 *  - Hawk with the tokenserver's id and the ASCII bytes of its key, no payload hash, the clock
 *    corrected by X-Weave-Timestamp (TVs boot with wrong clocks);
 *  - 401: the token expired or the user moved to another node: one new token and one retry;
 *    a second 401 in a row backs off 15 min (DESK policies.sys.mjs MINIMUM_BACKOFF_INTERVAL);
 *  - X-Weave-Backoff and Retry-After on any answer, 2xx included (AS storage_client.rs keeps the
 *    largest); 503 / 429 -> -EAGAIN;
 *  - 513 and X-Weave-Alert {"code":"hard-eol"}: the service is gone; stop and say why (neither
 *    AS nor DESK handles them today, so this follows the API document).
 */
#define DS_LOG_TAG "sync15"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "account/ds_hawk.h"
#include "remote/sync15/ds_sync15.h"
#include "remote/sync15/ds_sync15_storage.h"
#include "remote/sync15/ds_sync15_stream.h"
#include "ds_port.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_BACKOFF_S (15 * 60)
#define KIB 1024u

struct ds_sync15_client {
	struct ds_sync15_auth auth;
	const struct ds_sync15_transport *transport;
	struct ds_http_client *http;
	struct ds_sync15_creds creds;
	bool have_creds;
	bool reassigned;
	bool soft_eol_said;
	bool skew_learnt;  /* skew_s came from the storage node's X-Weave-Timestamp */
	int64_t skew_s;    /* server clock - ours, for Hawk */
	int64_t backoff_s;      /* soft or hard */
	int64_t hard_backoff_s; /* Retry-After, 503, 401s */
	unsigned long requests;
	double quota_remaining_kb;  /* the last X-Weave-Quota-Remaining */
	bool quota_known;
	bool quota_low;
	/* The last 200 answer of info/collections and its X-Last-Modified, re-validated with
	 * X-If-Modified-Since: a 304 costs no body and no parse (DOCS: X-If-Modified-Since). */
	char *info_body;
	int64_t info_lm;
	unsigned long not_modified;
	/* The body sink of the streamed GET in progress (ds_sync15_get_stream), else NULL. */
	int (*stream_write)(const void *data, size_t len, void *user_data);
	void *stream_ud;
	char error[512];
};

void ds_sync15_client_set_error(struct ds_sync15_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
	DS_LOG_WRN("%s", c->error);
}

int ds_sync15_client_new(const struct ds_sync15_client_config *cfg, struct ds_sync15_client **out)
{
	struct ds_sync15_client *c;
	int rc;

	*out = NULL;
	if (!cfg || !cfg->auth.ops)
		return -EINVAL;
	c = ds_calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->auth = cfg->auth;
	c->transport = cfg->transport;
	if (!c->transport) {
		struct ds_http_config hc = { .ca_bundle = cfg->ca_bundle };
		rc = ds_http_client_new(&hc, &c->http);
		if (rc < 0) {
			ds_free(c);
			return rc;
		}
	}
	*out = c;
	return 0;
}

void ds_sync15_client_free(struct ds_sync15_client *c)
{
	if (!c)
		return;
	if (c->http)
		ds_http_client_free(c->http);
	ds_memzero(&c->creds, sizeof(c->creds));
	ds_free(c->info_body);
	ds_free(c);
}

const char *ds_sync15_client_endpoint(const struct ds_sync15_client *c)
{
	return c->have_creds ? c->creds.endpoint : "";
}

bool ds_sync15_client_take_reassigned(struct ds_sync15_client *c)
{
	bool r = c->reassigned;

	c->reassigned = false;
	return r;
}

int64_t ds_sync15_client_backoff_s(const struct ds_sync15_client *c)
{
	return c->backoff_s;
}

int64_t ds_sync15_client_hard_backoff_s(const struct ds_sync15_client *c)
{
	return c->hard_backoff_s;
}

void ds_sync15_client_raise_soft_backoff(struct ds_sync15_client *c, int64_t s)
{
	if (s > c->backoff_s)
		c->backoff_s = s;
}

void ds_sync15_client_raise_backoff(struct ds_sync15_client *c, int64_t s)
{
	ds_sync15_client_raise_soft_backoff(c, s);
	if (s > c->hard_backoff_s)
		c->hard_backoff_s = s;
}

const char *ds_sync15_client_error(const struct ds_sync15_client *c)
{
	return c->error;
}

unsigned long ds_sync15_client_requests(const struct ds_sync15_client *c)
{
	return c->requests;
}

int64_t ds_sync15_last_modified(const struct ds_http_response *resp)
{
	const char *v = ds_http_header(resp, "x-last-modified");
	int64_t ms;

	return v && ds_sync15_ts_parse(v, &ms) == 0 ? ms : -1;
}

int ds_sync15_weave_code(const struct ds_http_response *resp)
{
	char *end;
	long v;

	if (!resp->body || !resp->body_len)
		return -1;
	v = strtol(resp->body, &end, 10);
	while (*end == ' ' || *end == '\n' || *end == '\r')
		end++;
	return end != resp->body && !*end && v >= 0 && v < 1000 ? (int)v : -1;
}

const char *ds_sync15_auth_error(const struct ds_sync15_auth *a, int rc)
{
	const char *why = a->ops->error ? a->ops->error(a->ctx) : "";

	return *why ? why : ds_strerror(rc);
}

/* ---- one request ---------------------------------------------------------------------------- */

static int get_token(struct ds_sync15_client *c, bool fresh)
{
	char old[sizeof(c->creds.endpoint)];
	int rc;

	snprintf(old, sizeof(old), "%s", c->creds.endpoint);
	ds_memzero(&c->creds, sizeof(c->creds));
	c->have_creds = false;
	rc = c->auth.ops->token(c->auth.ctx, fresh, &c->creds);
	if (rc < 0) {
		ds_sync15_client_set_error(c, "no Sync storage token: %s", ds_sync15_auth_error(&c->auth, rc));
		return rc;
	}
	/* An endpoint we used before that changes = node reassignment (sync15.md §1). */
	if (c->creds.node_reassigned || (old[0] && strcmp(old, c->creds.endpoint) != 0)) {
		c->reassigned = true;
		/* Another node's timestamps say nothing about this one. */
		ds_free(c->info_body);
		c->info_body = NULL;
		DS_LOG_INF("the account moved to another storage node");
	}
	/* The node's own clock beats the tokenserver's once we have heard it. */
	if (!c->skew_learnt)
		c->skew_s = c->creds.skew_s;
	c->have_creds = true;
	return 0;
}

static void learn_headers(struct ds_sync15_client *c, const struct ds_http_response *resp)
{
	const char *ts = ds_http_header(resp, "x-weave-timestamp");
	const char *alert = ds_http_header(resp, "x-weave-alert");
	const char *quota = ds_http_header(resp, "x-weave-quota-remaining");
	int64_t s, ms, skew;

	if (ds_http_backoff(resp, &s) == 1) {
		/* X-Weave-Backoff on an answer that failed for load (503) is as good as Retry-After. */
		if (resp->status == 503)
			ds_sync15_client_raise_backoff(c, s);
		else
			ds_sync15_client_raise_soft_backoff(c, s);
	}
	if (ds_http_retry_after(resp, ds_port_wall_ms() / 1000 + c->skew_s, &s) == 1)
		ds_sync15_client_raise_backoff(c, s);
	if (ts && ds_sync15_ts_parse(ts, &ms) == 0 && ds_hawk_skew_from_server(ms / 1000, &skew) == 0) {
		c->skew_s = skew;
		c->skew_learnt = true;
	}
	if (quota) {
		char *end;
		double kb = strtod(quota, &end);

		if (end != quota && kb == kb) {
			c->quota_remaining_kb = kb;
			c->quota_known = true;
			if (kb < DS_SYNC15_QUOTA_LOW_KB && !c->quota_low) {
				c->quota_low = true;
				DS_LOG_WRN("the Sync account is nearly full: %.0f KB left", kb);
			}
		}
	}
	if (alert && !c->soft_eol_said) {
		DS_LOG_WRN("the storage server says: %.200s", alert);
		c->soft_eol_said = true;
	}
}

/* X-Weave-Alert: text, or JSON {"code":"soft-eol"|"hard-eol","message","url"} (DOCS). */
static bool hard_eol(struct ds_sync15_client *c, const struct ds_http_response *resp)
{
	const char *alert = ds_http_header(resp, "x-weave-alert");
	cJSON *o;
	const char *code, *msg, *url;
	bool hard = false;

	if (!alert)
		return false;
	o = cJSON_Parse(alert);
	code = ds_sync15_json_str(o, "code");
	msg = ds_sync15_json_str(o, "message");
	url = ds_sync15_json_str(o, "url");
	if (code && strcmp(code, "hard-eol") == 0) {
		hard = true;
		ds_sync15_client_set_error(c, "the Sync service stopped serving this client: %.200s%s%.200s",
					   msg ? msg : "end of life", url ? " " : "", url ? url : "");
	}
	cJSON_Delete(o);
	return hard;
}

static int perform(struct ds_sync15_client *c, const struct ds_http_request *req,
		   struct ds_http_response *resp)
{
	int rc;

	c->requests++;
	if (c->transport)
		return c->transport->perform(c->transport->ctx, req, resp);
	rc = ds_http_perform(c->http, req, resp);
	if (rc < 0)
		ds_sync15_client_set_error(c, "storage request failed: %s", ds_http_last_error(c->http));
	return rc;
}

/* A 2xx body of a streamed GET: never handed on once the account moved to another node (the
 * records there are another incarnation's; the caller starts over). */
static int stream_sink(const void *data, size_t len, void *user_data)
{
	struct ds_sync15_client *c = user_data;

	if (c->reassigned)
		return -EAGAIN;
	return c->stream_write(data, len, c->stream_ud);
}

static int send_once(struct ds_sync15_client *c, const char *method, const char *path,
		     int64_t xius_ms, int64_t ims_ms, const char *body, size_t body_len,
		     struct ds_http_response *resp)
{
	struct ds_hawk_credentials cred;
	struct ds_http_header h[5];
	struct ds_http_request req = { 0 };
	char auth[DS_HAWK_HEADER_MAX + 1024], xius[DS_SYNC15_TS_MAX], ims[DS_SYNC15_TS_MAX];
	char *url;
	size_t n = 0;
	int rc;

	/* "" is the endpoint itself: DELETE <endpoint> wipes the whole account. */
	url = *path ? ds_asprintf("%s/%s", c->creds.endpoint, path) : ds_strdup(c->creds.endpoint);
	if (!url)
		return -ENOMEM;
	cred.id = c->creds.hawk_id;
	cred.key = c->creds.hawk_key;
	cred.key_len = strlen(c->creds.hawk_key);
	rc = ds_hawk_header_for_url(&cred, method, url, NULL, NULL, 0, c->skew_s, auth,
				    sizeof(auth));
	if (rc < 0) {
		ds_free(url);
		ds_sync15_client_set_error(c, "cannot sign a request for the storage node (%s)",
					   ds_strerror(rc));
		return rc;
	}
	h[n++] = (struct ds_http_header){ "Authorization", auth };
	h[n++] = (struct ds_http_header){ "Accept", "application/json" };
	if (body)
		h[n++] = (struct ds_http_header){ "Content-Type", "application/json" };
	if (xius_ms >= 0) {
		ds_sync15_ts_format(xius_ms, xius);
		h[n++] = (struct ds_http_header){ "X-If-Unmodified-Since", xius };
	} else if (ims_ms >= 0) {
		/* Both at once is 400 (DOCS); callers never ask for both. */
		ds_sync15_ts_format(ims_ms, ims);
		h[n++] = (struct ds_http_header){ "X-If-Modified-Since", ims };
	}
	req.method = method;
	req.url = url;
	req.headers = h;
	req.n_headers = n;
	req.body = body;
	req.body_len = body ? body_len : 0;
	if (c->stream_write) {
		req.body_write = stream_sink;
		req.body_write_user_data = c;
	}
	rc = perform(c, &req, resp);
	ds_memzero(auth, sizeof(auth));
	ds_free(url);
	return rc;
}

static int request(struct ds_sync15_client *c, const char *method, const char *path,
		   int64_t xius_ms, int64_t ims_ms, const char *body, size_t body_len,
		   struct ds_http_response *resp)
{
	int rc;

	memset(resp, 0, sizeof(*resp));
	c->error[0] = '\0';
	for (int attempt = 0;; attempt++) {
		if (!c->have_creds && (rc = get_token(c, attempt > 0)) < 0)
			return rc;
		rc = send_once(c, method, path, xius_ms, ims_ms, body, body_len, resp);
		if (rc < 0)
			return rc;
		learn_headers(c, resp);
		if (resp->status != 401)
			break;
		c->have_creds = false;
		if (attempt == 0)
			DS_LOG_INF("401 from the storage node (%.160s); asking for a new token",
				   resp->body ? resp->body : "");
		if (attempt > 0) {
			/* The body is the server's reason ("token expired", ...): no secret in it. */
			ds_sync15_client_raise_backoff(c, AUTH_BACKOFF_S);
			ds_sync15_client_set_error(c, "the storage node refused a new token too (401: "
						      "%.160s); backing off %d min",
						   resp->body ? resp->body : "", AUTH_BACKOFF_S / 60);
			ds_http_response_free(resp);
			return -EACCES;
		}
		ds_http_response_free(resp);
	}
	if (hard_eol(c, resp)) {
		ds_http_response_free(resp);
		return -ENOTSUP;
	}
	switch (resp->status) {
	case 400:
		/* Weave code 14: over quota (DOCS respcodes; DESK OVER_QUOTA). */
		if (ds_sync15_weave_code(resp) == 14) {
			if (!c->quota_low)
				DS_LOG_WRN("the Sync account is full (400/14)");
			c->quota_low = true;
			ds_sync15_client_set_error(c, "the Sync account is over its storage quota; "
						      "nothing more can be uploaded until space is freed");
		}
		return 0;
	case 200: case 201: case 202: case 204: case 304:
	case 404: case 409: case 412: case 413:
		return 0;
	case 513:
		ds_sync15_client_set_error(c, "the Sync storage service is decommissioned (513); "
					      "syncing stopped");
		rc = -ENOTSUP;
		break;
	case 429:
	case 503:
		ds_sync15_client_set_error(c, "the storage node is unavailable (%d); retry in %lld s",
					   resp->status, (long long)c->backoff_s);
		rc = -EAGAIN;
		break;
	default:
		ds_sync15_client_set_error(c, "the storage node answered %d to %s %s", resp->status,
					   method, path);
		rc = resp->status >= 500 ? -EIO : -EPROTO;
		break;
	}
	ds_http_response_free(resp);
	return rc;
}

int ds_sync15_request(struct ds_sync15_client *c, const char *method, const char *path,
		      int64_t xius_ms, const char *body, size_t body_len,
		      struct ds_http_response *resp)
{
	return request(c, method, path, xius_ms, -1, body, body_len, resp);
}

int ds_sync15_get_stream(struct ds_sync15_client *c, const char *path, int64_t xius_ms,
			 int (*write)(const void *data, size_t len, void *user_data),
			 void *user_data, struct ds_http_response *resp)
{
	int rc;

	if (!write)
		return -EINVAL;
	c->stream_write = write;
	c->stream_ud = user_data;
	rc = request(c, "GET", path, xius_ms, -1, NULL, 0, resp);
	c->stream_write = NULL;
	c->stream_ud = NULL;
	return rc;
}

int ds_sync15_get_if_modified(struct ds_sync15_client *c, const char *path, int64_t ims_ms,
			      struct ds_http_response *resp)
{
	return request(c, "GET", path, -1, ims_ms, NULL, 0, resp);
}

/* ---- info/... --------------------------------------------------------------------------------- */

/* An answer to GET <path> that cannot be used. */
static int unusable(struct ds_sync15_client *c, const char *path, int status)
{
	ds_sync15_client_set_error(c, "%s: unusable answer (%d)", path, status);
	return -EPROTO;
}

void ds_sync15_limits_default(struct ds_sync15_limits *l)
{
	l->max_request_bytes = 260 * KIB;
	l->max_record_payload_bytes = 256 * KIB;
	l->max_post_records = 100;
	l->max_post_bytes = SIZE_MAX;
	l->max_total_records = SIZE_MAX;
	l->max_total_bytes = SIZE_MAX;
}

static void limit_get(const cJSON *o, const char *key, size_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble < 1e15)
		*out = (size_t)v->valuedouble;
}

int ds_sync15_limits_parse(const char *json, struct ds_sync15_limits *l)
{
	cJSON *o = json ? cJSON_Parse(json) : NULL;

	ds_sync15_limits_default(l);
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return -EPROTO;
	}
	/* A server with info/configuration states its POST limit; it may be above the default. */
	l->max_post_records = SIZE_MAX;
	limit_get(o, "max_request_bytes", &l->max_request_bytes);
	limit_get(o, "max_post_records", &l->max_post_records);
	limit_get(o, "max_post_bytes", &l->max_post_bytes);
	limit_get(o, "max_total_records", &l->max_total_records);
	limit_get(o, "max_total_bytes", &l->max_total_bytes);
	limit_get(o, "max_record_payload_bytes", &l->max_record_payload_bytes);
	cJSON_Delete(o);
	return 0;
}

int ds_sync15_get_limits(struct ds_sync15_client *c, struct ds_sync15_limits *l)
{
	struct ds_http_response resp;
	int rc = ds_sync15_request(c, "GET", "info/configuration", -1, NULL, 0, &resp);

	if (rc < 0)
		return rc;
	if (resp.status == 404)
		ds_sync15_limits_default(l);
	else if (resp.status != 200 || ds_sync15_limits_parse(resp.body, l) < 0)
		rc = unusable(c, "info/configuration", resp.status);
	ds_http_response_free(&resp);
	return rc;
}

int ds_sync15_get_info_collections(struct ds_sync15_client *c, cJSON **out)
{
	struct ds_http_response resp;
	int64_t lm304;
	int rc = request(c, "GET", "info/collections", -1, c->info_body ? c->info_lm : -1, NULL, 0,
			 &resp);

	*out = NULL;
	if (rc < 0)
		return rc;
	/* A 304 that names another last-modified than ours (a server whose wipe moved the user's
	 * timestamp back) is not trusted: read the whole answer again. */
	if (resp.status == 304 && (lm304 = ds_sync15_last_modified(&resp)) >= 0 &&
	    lm304 != c->info_lm) {
		ds_http_response_free(&resp);
		ds_free(c->info_body);
		c->info_body = NULL;
		rc = ds_sync15_request(c, "GET", "info/collections", -1, NULL, 0, &resp);
		if (rc < 0)
			return rc;
	}
	if (resp.status == 304 && c->info_body) {
		c->not_modified++;
		*out = cJSON_Parse(c->info_body);
	} else {
		int64_t lm = ds_sync15_last_modified(&resp);

		ds_free(c->info_body);
		c->info_body = NULL;
		if (resp.status == 404)
			*out = cJSON_CreateObject();
		else if (resp.status == 200)
			*out = cJSON_Parse(resp.body ? resp.body : "");
		if (resp.status == 200 && cJSON_IsObject(*out) && lm >= 0) {
			c->info_body = ds_strdup(resp.body); /* NULL (no memory): no cache, no harm */
			c->info_lm = lm;
		}
	}
	if (!cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		rc = unusable(c, "info/collections", resp.status);
	}
	ds_http_response_free(&resp);
	return rc;
}

unsigned long ds_sync15_client_not_modified(const struct ds_sync15_client *c)
{
	return c->not_modified;
}

/* ---- quota ------------------------------------------------------------------------------------ */

bool ds_sync15_client_quota_remaining(const struct ds_sync15_client *c, double *kb)
{
	if (c->quota_known)
		*kb = c->quota_remaining_kb;
	return c->quota_known;
}

bool ds_sync15_client_quota_low(const struct ds_sync15_client *c)
{
	return c->quota_low;
}

int ds_sync15_get_quota(struct ds_sync15_client *c, double *usage_kb, double *quota_kb)
{
	struct ds_http_response resp;
	const cJSON *u, *q;
	cJSON *a;
	int rc = ds_sync15_request(c, "GET", "info/quota", -1, NULL, 0, &resp);

	if (rc < 0)
		return rc;
	a = resp.status == 200 ? cJSON_Parse(resp.body ? resp.body : "") : NULL;
	u = cJSON_GetArrayItem(a, 0);
	q = cJSON_GetArrayItem(a, 1);
	if (!cJSON_IsArray(a) || !cJSON_IsNumber(u) || u->valuedouble < 0 ||
	    !(cJSON_IsNull(q) || (cJSON_IsNumber(q) && q->valuedouble >= 0))) {
		rc = unusable(c, "info/quota", resp.status);
	} else {
		*usage_kb = u->valuedouble;
		*quota_kb = cJSON_IsNumber(q) ? q->valuedouble : -1;
		if (*quota_kb >= 0 && *quota_kb - *usage_kb < DS_SYNC15_QUOTA_LOW_KB && !c->quota_low) {
			c->quota_low = true;
			DS_LOG_WRN("the Sync account is nearly full: %.0f of %.0f KB used", *usage_kb,
				   *quota_kb);
		}
	}
	cJSON_Delete(a);
	ds_http_response_free(&resp);
	return rc;
}

/* ---- DELETE ?ids= ----------------------------------------------------------------------------- */

static int delete_chunk(struct ds_sync15_client *c, const char *collection,
			const char *const *ids, size_t n, int64_t xius_ms, int64_t *modified_ms)
{
	struct ds_http_response resp;
	size_t cap = strlen(collection) + 32, len;
	char *path, *esc;
	int rc;

	for (size_t i = 0; i < n; i++)
		cap += 3 * strlen(ids[i]) + 3;
	path = ds_malloc(cap);
	if (!path)
		return -ENOMEM;
	len = (size_t)snprintf(path, cap, "storage/%s?ids=", collection);
	for (size_t i = 0; i < n; i++) {
		/* The id list is comma-separated; ids never hold ',' (ds_sync15_id_valid), and the
		 * commas themselves stay literal as every client sends them. */
		esc = ds_sync15_url_escape(ids[i]);
		if (!esc) {
			ds_free(path);
			return -ENOMEM;
		}
		len += (size_t)snprintf(path + len, cap - len, "%s%s", i ? "," : "", esc);
		ds_free(esc);
	}
	rc = ds_sync15_request(c, "DELETE", path, xius_ms, NULL, 0, &resp);
	ds_free(path);
	if (rc < 0)
		return rc;
	if (resp.status == 412) {
		ds_sync15_client_set_error(c, "%s changed on the server before the delete", collection);
		rc = -ESTALE;
	} else if (resp.status == 404) {
		rc = 0; /* nothing of the collection left: the ids are gone */
	} else if (resp.status != 200 && resp.status != 204) {
		ds_sync15_client_set_error(c, "deleting records of %s: the server answered %d",
					   collection, resp.status);
		rc = resp.status == 409 ? -EAGAIN : -EPROTO;
	} else {
		*modified_ms = ds_sync15_last_modified(&resp);
	}
	ds_http_response_free(&resp);
	return rc;
}

int ds_sync15_delete_ids(struct ds_sync15_client *c, const char *collection,
			 const char *const *ids, size_t n, int64_t xius_ms, int64_t *modified_ms)
{
	int64_t lm = -1;
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		if (!ds_sync15_id_valid(ids[i]))
			return -EINVAL;
	for (size_t i = 0; i < n && rc == 0; i += DS_SYNC15_DELETE_IDS_MAX) {
		size_t k = DS_MIN(n - i, (size_t)DS_SYNC15_DELETE_IDS_MAX);

		rc = delete_chunk(c, collection, ids + i, k, i && lm >= 0 ? lm : xius_ms, &lm);
	}
	if (modified_ms)
		*modified_ms = lm;
	return rc;
}
