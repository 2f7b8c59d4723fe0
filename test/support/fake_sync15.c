/*
 * An in-process Sync 1.5 storage node (see fake_sync15.h). Linear searches over small arrays:
 * it serves tests of a few thousand records at most.
 */
#include "test/support/fake_sync15.h"

#include "core/ds_core.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOST_A "http://node-a.test:8000/1.5/42"
#define HOST_B "http://node-b.test:8000/1.5/42"
#define MAX_LOG 4096

struct bso {
	char *id;
	char *payload;
	int64_t modified;
	long sortindex;
};

struct coll {
	char name[64];
	int64_t modified;
	struct bso *v;
	size_t n, cap;
};

struct pending_batch {
	char id[32];
	char coll[64];
	cJSON *recs; /* array of accepted BSO objects */
	bool used;
};

struct inject {
	char method[16];
	char prefix[256];
	int status;
	char *headers;
	char *body;
	int count;
};

struct ds_fake_sync15 {
	uint8_t ksync[64];
	struct ds_sync15_transport transport;
	int64_t now;
	struct coll *colls;
	size_t ncolls;
	char *config;
	bool no_batching;
	struct pending_batch batches[8];
	unsigned batch_seq;
	struct inject inj[8];
	char *always_name[8];
	char *always_value[8];
	unsigned token_gen;    /* handed out so far */
	unsigned token_valid_from;
	bool refuse;
	bool moved;
	ds_fake_sync15_hook hook;
	void *hook_ud;
	char *log_line[MAX_LOG];
	char *log_xius[MAX_LOG];
	size_t nlog;
};

/* ---- storage ------------------------------------------------------------------------------ */

static struct coll *coll_get(struct ds_fake_sync15 *s, const char *name, bool create)
{
	for (size_t i = 0; i < s->ncolls; i++)
		if (strcmp(s->colls[i].name, name) == 0)
			return &s->colls[i];
	if (!create)
		return NULL;
	s->colls = realloc(s->colls, (s->ncolls + 1) * sizeof(*s->colls));
	memset(&s->colls[s->ncolls], 0, sizeof(*s->colls));
	snprintf(s->colls[s->ncolls].name, sizeof(s->colls[0].name), "%s", name);
	return &s->colls[s->ncolls++];
}

static struct bso *bso_get(struct coll *c, const char *id)
{
	for (size_t i = 0; c && i < c->n; i++)
		if (strcmp(c->v[i].id, id) == 0)
			return &c->v[i];
	return NULL;
}

static void bso_remove(struct coll *c, size_t i)
{
	free(c->v[i].id);
	free(c->v[i].payload);
	memmove(&c->v[i], &c->v[i + 1], (c->n - i - 1) * sizeof(*c->v));
	c->n--;
}

/* Write keeps the array in modification order: "oldest" is array order. */
static void bso_write(struct coll *c, const char *id, const char *payload, long sortindex, int64_t t)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].id, id) == 0) {
			bso_remove(c, i);
			break;
		}
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 16;
		c->v = realloc(c->v, c->cap * sizeof(*c->v));
	}
	c->v[c->n].id = strdup(id);
	c->v[c->n].payload = strdup(payload);
	c->v[c->n].modified = t;
	c->v[c->n].sortindex = sortindex;
	c->n++;
	c->modified = t;
}

static int64_t tick(struct ds_fake_sync15 *s)
{
	s->now += 10;
	return s->now;
}

void ds_fake_sync15_wipe(struct ds_fake_sync15 *s)
{
	for (size_t i = 0; i < s->ncolls; i++) {
		while (s->colls[i].n)
			bso_remove(&s->colls[i], s->colls[i].n - 1);
		free(s->colls[i].v);
	}
	free(s->colls);
	s->colls = NULL;
	s->ncolls = 0;
}

/* ---- HTTP plumbing ------------------------------------------------------------------------ */

static void add_header(struct ds_http_response *r, const char *name, const char *value)
{
	struct ds_http_header *h = ds_realloc(r->headers, (r->n_headers + 1) * sizeof(*h));
	char *n = ds_strdup(name), *v = ds_strdup(value);

	for (char *p = n; p && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	r->headers = h;
	h[r->n_headers].name = n;
	h[r->n_headers].value = v;
	r->n_headers++;
}

static void set_body(struct ds_http_response *r, const char *body)
{
	r->body_len = strlen(body);
	r->body = ds_strdup(body);
}

static void fmt_ts(int64_t ms, char *out)
{
	ds_sync15_ts_format(ms, out);
}

static void reply(struct ds_fake_sync15 *s, struct ds_http_response *r, int status,
		  const char *body, int64_t last_modified)
{
	char ts[DS_SYNC15_TS_MAX];

	r->status = status;
	fmt_ts(s->now, ts);
	add_header(r, "X-Weave-Timestamp", ts);
	if (last_modified >= 0 && status >= 200 && status < 300) {
		fmt_ts(last_modified, ts);
		add_header(r, "X-Last-Modified", ts);
	}
	for (int i = 0; i < 8; i++)
		if (s->always_name[i])
			add_header(r, s->always_name[i], s->always_value[i]);
	if (body)
		set_body(r, body);
}

static void reply_json(struct ds_fake_sync15 *s, struct ds_http_response *r, int status, cJSON *o,
		       int64_t lm)
{
	char *t = cJSON_PrintUnformatted(o);

	reply(s, r, status, t, lm);
	free(t);
	cJSON_Delete(o);
}

static const char *req_header(const struct ds_http_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void url_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
			*o++ = (char)(hexval(s[1]) << 4 | hexval(s[2]));
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* Query parameter value (decoded) into out; 0 when absent. */
static int qparam(const char *query, const char *key, char *out, size_t cap)
{
	size_t klen = strlen(key);
	const char *p = query;

	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
			snprintf(out, cap, "%.*s", (int)(len - klen - 1), p + klen + 1);
			url_decode(out);
			return 1;
		}
		if (len == klen && strncmp(p, key, klen) == 0) {
			out[0] = '\0';
			return 1;
		}
		p = amp ? amp + 1 : NULL;
	}
	return 0;
}

static cJSON *bso_json(const struct bso *b, bool full)
{
	cJSON *o;
	char ts[DS_SYNC15_TS_MAX];

	if (!full)
		return cJSON_CreateString(b->id);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", b->id);
	cJSON_AddStringToObject(o, "payload", b->payload);
	fmt_ts(b->modified, ts);
	cJSON_AddRawToObject(o, "modified", ts);
	if (b->sortindex)
		cJSON_AddNumberToObject(o, "sortindex", (double)b->sortindex);
	return o;
}

struct limits {
	double req_bytes, post_records, post_bytes, total_records, total_bytes, payload_bytes;
};

static void get_limits(struct ds_fake_sync15 *s, struct limits *l)
{
	cJSON *o = s->config ? cJSON_Parse(s->config) : NULL;
	const cJSON *v;

	l->req_bytes = 260 * 1024;
	l->payload_bytes = 256 * 1024;
	l->post_records = 100;
	l->post_bytes = l->total_records = l->total_bytes = 1e18;
#define L(field, key) if (cJSON_IsNumber(v = cJSON_GetObjectItem(o, key))) l->field = v->valuedouble
	L(req_bytes, "max_request_bytes");
	L(post_records, "max_post_records");
	L(post_bytes, "max_post_bytes");
	L(total_records, "max_total_records");
	L(total_bytes, "max_total_bytes");
	L(payload_bytes, "max_record_payload_bytes");
#undef L
	cJSON_Delete(o);
}

/* ---- handlers ----------------------------------------------------------------------------- */

static void get_collection(struct ds_fake_sync15 *s, struct coll *c, const char *query,
			   struct ds_http_response *r)
{
	char v[256];
	int64_t newer = -1, older = -1;
	long limit = -1, offset = 0;
	bool full = qparam(query, "full", v, sizeof(v));
	int sort = 0; /* 0 oldest, 1 newest, 2 index */
	cJSON *arr = cJSON_CreateArray();
	size_t *idx = malloc(((c ? c->n : 0) + 1) * sizeof(*idx)), m = 0;
	char ids[4096];
	bool has_ids = qparam(query, "ids", ids, sizeof(ids));

	if (qparam(query, "newer", v, sizeof(v)))
		ds_sync15_ts_parse(v, &newer);
	if (qparam(query, "older", v, sizeof(v)))
		ds_sync15_ts_parse(v, &older);
	if (qparam(query, "limit", v, sizeof(v)))
		limit = atol(v);
	if (qparam(query, "offset", v, sizeof(v)))
		offset = atol(v);
	if (qparam(query, "sort", v, sizeof(v)))
		sort = strcmp(v, "newest") == 0 ? 1 : strcmp(v, "index") == 0 ? 2 : 0;
	for (size_t i = 0; c && i < c->n; i++) {
		if (newer >= 0 && c->v[i].modified <= newer)
			continue;
		if (older >= 0 && c->v[i].modified >= older)
			continue;
		if (has_ids) {
			char pat[80];
			snprintf(pat, sizeof(pat), ",%s,", c->v[i].id);
			char all[4100];
			snprintf(all, sizeof(all), ",%s,", ids);
			if (!strstr(all, pat))
				continue;
		}
		idx[m++] = i;
	}
	if (sort == 1)
		for (size_t i = 0; i < m / 2; i++) {
			size_t t = idx[i];
			idx[i] = idx[m - 1 - i];
			idx[m - 1 - i] = t;
		}
	for (size_t k = (size_t)offset; k < m && (limit < 0 || k < (size_t)(offset + limit)); k++)
		cJSON_AddItemToArray(arr, bso_json(&c->v[idx[k]], full));
	if (limit >= 0 && (size_t)(offset + limit) < m) {
		snprintf(v, sizeof(v), "%ld", offset + limit);
		add_header(r, "X-Weave-Next-Offset", v);
	}
	snprintf(v, sizeof(v), "%d", cJSON_GetArraySize(arr));
	add_header(r, "X-Weave-Records", v);
	free(idx);
	reply_json(s, r, 200, arr, c ? c->modified : 0);
}

static struct pending_batch *batch_find(struct ds_fake_sync15 *s, const char *id)
{
	for (int i = 0; i < 8; i++)
		if (s->batches[i].used && strcmp(s->batches[i].id, id) == 0)
			return &s->batches[i];
	return NULL;
}

static void post_collection(struct ds_fake_sync15 *s, const char *name, const char *query,
			    const struct ds_http_request *req, struct ds_http_response *r)
{
	struct limits l;
	char bid[64], cv[16];
	bool has_batch = !s->no_batching && qparam(query, "batch", bid, sizeof(bid));
	bool commit = !s->no_batching && qparam(query, "commit", cv, sizeof(cv));
	cJSON *in = cJSON_ParseWithLength(req->body, req->body_len), *it;
	cJSON *out = cJSON_CreateObject(), *ok = cJSON_CreateArray(), *failed = cJSON_CreateObject();
	struct pending_batch *pb = NULL;
	double bytes = 0;
	int64_t t;
	char ts[DS_SYNC15_TS_MAX];

	get_limits(s, &l);
	if (req->body_len > l.req_bytes) {
		cJSON_Delete(in), cJSON_Delete(out), cJSON_Delete(ok), cJSON_Delete(failed);
		reply(s, r, 413, "request too large", -1);
		return;
	}
	if (!cJSON_IsArray(in)) {
		cJSON_Delete(in), cJSON_Delete(out), cJSON_Delete(ok), cJSON_Delete(failed);
		reply(s, r, 400, "6", -1);
		return;
	}
	cJSON_ArrayForEach(it, in) {
		const cJSON *p = cJSON_GetObjectItem(it, "payload");
		bytes += cJSON_IsString(p) ? (double)strlen(p->valuestring) : 0;
	}
	if (cJSON_GetArraySize(in) > l.post_records || bytes > l.post_bytes) {
		cJSON_Delete(in), cJSON_Delete(out), cJSON_Delete(ok), cJSON_Delete(failed);
		reply(s, r, 400, "17", -1);
		return;
	}
	if (has_batch && strcmp(bid, "true") != 0) {
		pb = batch_find(s, bid);
		if (!pb || strcmp(pb->coll, name) != 0) {
			cJSON_Delete(in), cJSON_Delete(out), cJSON_Delete(ok), cJSON_Delete(failed);
			reply(s, r, 400, "1", -1);
			return;
		}
	} else if (has_batch) {
		for (int i = 0; i < 8 && !pb; i++)
			if (!s->batches[i].used) {
				pb = &s->batches[i];
				pb->used = true;
				snprintf(pb->id, sizeof(pb->id), "b{%u}", ++s->batch_seq);
				snprintf(pb->coll, sizeof(pb->coll), "%.63s", name);
				pb->recs = cJSON_CreateArray();
			}
	}
	/* Validate each record; good ones join the batch or are written now. */
	cJSON *accepted = pb ? pb->recs : cJSON_CreateArray();
	cJSON_ArrayForEach(it, in) {
		const cJSON *id = cJSON_GetObjectItem(it, "id"), *p = cJSON_GetObjectItem(it, "payload");
		if (!cJSON_IsString(id))
			continue;
		if (!cJSON_IsString(p) || strlen(p->valuestring) > l.payload_bytes) {
			cJSON_AddStringToObject(failed, id->valuestring, "retry bso");
			continue;
		}
		cJSON_AddItemToArray(ok, cJSON_CreateString(id->valuestring));
		cJSON_AddItemToArray(accepted, cJSON_Duplicate(it, 1));
	}
	if (pb && cJSON_GetArraySize(pb->recs) > l.total_records) {
		cJSON_Delete(in), cJSON_Delete(out), cJSON_Delete(ok), cJSON_Delete(failed);
		reply(s, r, 400, "17", -1);
		return;
	}
	cJSON_Delete(in);
	cJSON_AddItemToObject(out, "success", ok);
	cJSON_AddItemToObject(out, "failed", failed);
	if (pb && !commit) {
		cJSON_AddStringToObject(out, "batch", pb->id);
		reply_json(s, r, 202, out, -1);
		return;
	}
	t = tick(s);
	struct coll *c = coll_get(s, name, true);
	cJSON_ArrayForEach(it, accepted) {
		const cJSON *si = cJSON_GetObjectItem(it, "sortindex");
		bso_write(c, cJSON_GetObjectItem(it, "id")->valuestring,
			  cJSON_GetObjectItem(it, "payload")->valuestring,
			  cJSON_IsNumber(si) ? (long)si->valuedouble : 0, t);
	}
	c->modified = t;
	if (pb) {
		cJSON_Delete(pb->recs);
		memset(pb, 0, sizeof(*pb));
	} else {
		cJSON_Delete(accepted);
	}
	fmt_ts(t, ts);
	cJSON_AddRawToObject(out, "modified", ts);
	reply_json(s, r, 200, out, t);
}

static void handle(struct ds_fake_sync15 *s, const struct ds_http_request *req, char *path,
		   const char *query, struct ds_http_response *r)
{
	const char *m = req->method ? req->method : "GET";
	const char *xius_s = req_header(req, "X-If-Unmodified-Since");
	int64_t xius = -1;
	char *coll = NULL, *id = NULL;
	struct coll *c;

	if (xius_s && ds_sync15_ts_parse(xius_s, &xius) < 0) {
		reply(s, r, 400, "1", -1);
		return;
	}
	if (!strcmp(path, "info/configuration")) {
		if (s->config)
			reply(s, r, 200, s->config, -1);
		else
			reply(s, r, 404, "not found", -1);
		return;
	}
	if (!strcmp(path, "info/collections")) {
		cJSON *o = cJSON_CreateObject();
		int64_t newest = 0;
		for (size_t i = 0; i < s->ncolls; i++) {
			char ts[DS_SYNC15_TS_MAX];
			if (!s->colls[i].modified)
				continue;
			fmt_ts(s->colls[i].modified, ts);
			cJSON_AddRawToObject(o, s->colls[i].name, ts);
			newest = DS_MAX(newest, s->colls[i].modified);
		}
		reply_json(s, r, 200, o, newest);
		return;
	}
	if (!*path || !strcmp(path, "storage")) {
		if (strcmp(m, "DELETE")) {
			reply(s, r, 405, "", -1);
			return;
		}
		ds_fake_sync15_wipe(s);
		tick(s);
		reply(s, r, 200, "{}", s->now);
		return;
	}
	if (strncmp(path, "storage/", 8)) {
		reply(s, r, 404, "not found", -1);
		return;
	}
	coll = path + 8;
	id = strchr(coll, '/');
	if (id) {
		*id++ = '\0';
		url_decode(id);
	}
	c = coll_get(s, coll, false);
	if (!id) {
		if (xius >= 0 && c && c->modified > xius) {
			reply(s, r, 412, "", -1);
			return;
		}
		if (!strcmp(m, "GET"))
			get_collection(s, c, query, r);
		else if (!strcmp(m, "POST"))
			post_collection(s, coll, query, req, r);
		else if (!strcmp(m, "DELETE")) {
			char ids[4096];
			if (c && qparam(query, "ids", ids, sizeof(ids))) {
				for (char *tok = strtok(ids, ","); tok; tok = strtok(NULL, ","))
					for (size_t i = 0; i < c->n; i++)
						if (!strcmp(c->v[i].id, tok))
							bso_remove(c, i);
				c->modified = tick(s);
			} else if (c) {
				while (c->n)
					bso_remove(c, c->n - 1);
				c->modified = 0;
				tick(s);
			}
			reply(s, r, 200, "{}", s->now);
		} else {
			reply(s, r, 405, "", -1);
		}
		return;
	}
	struct bso *b = bso_get(c, id);
	if (xius >= 0 && b && b->modified > xius) {
		reply(s, r, 412, "", -1);
		return;
	}
	if (!strcmp(m, "GET")) {
		if (!b)
			reply(s, r, 404, "not found", -1);
		else
			reply_json(s, r, 200, bso_json(b, true), b->modified);
	} else if (!strcmp(m, "PUT")) {
		cJSON *in = cJSON_ParseWithLength(req->body, req->body_len);
		const cJSON *p = cJSON_GetObjectItem(in, "payload");
		char ts[DS_SYNC15_TS_MAX];
		if (!cJSON_IsString(p)) {
			cJSON_Delete(in);
			reply(s, r, 400, "8", -1);
			return;
		}
		int64_t t = tick(s);
		bso_write(coll_get(s, coll, true), id, p->valuestring, 0, t);
		cJSON_Delete(in);
		fmt_ts(t, ts);
		reply(s, r, 200, ts, t);
	} else if (!strcmp(m, "DELETE")) {
		if (!b) {
			reply(s, r, 404, "not found", -1);
			return;
		}
		bso_remove(c, (size_t)(b - c->v));
		c->modified = tick(s);
		reply(s, r, 200, "{}", s->now);
	} else {
		reply(s, r, 405, "", -1);
	}
}

static bool inject_match(struct ds_fake_sync15 *s, const char *m, const char *pq,
			 struct ds_http_response *r)
{
	for (int i = 0; i < 8; i++) {
		struct inject *j = &s->inj[i];
		if (j->count <= 0 || (j->method[0] && strcmp(j->method, m)) ||
		    strncmp(pq, j->prefix, strlen(j->prefix)))
			continue;
		j->count--;
		r->status = j->status;
		for (const char *h = j->headers; h && *h;) {
			const char *nl = strchr(h, '\n'), *colon = strchr(h, ':');
			size_t len = nl ? (size_t)(nl - h) : strlen(h);
			if (colon && colon < h + len) {
				char name[128], value[512];
				snprintf(name, sizeof(name), "%.*s", (int)(colon - h), h);
				snprintf(value, sizeof(value), "%.*s", (int)(h + len - colon - 2), colon + 2);
				add_header(r, name, value);
			}
			h += len + (nl ? 1 : 0);
		}
		reply(s, r, j->status, j->body ? j->body : "", -1);
		return true;
	}
	return false;
}

static int fake_perform(void *ctx, const struct ds_http_request *req, struct ds_http_response *r)
{
	struct ds_fake_sync15 *s = ctx;
	const char *base = s->moved ? HOST_B : HOST_A;
	const char *m = req->method ? req->method : "GET";
	const char *auth = req_header(req, "Authorization");
	const char *xius = req_header(req, "X-If-Unmodified-Since");
	char pq[2048], *query, idbuf[64];
	unsigned gen;
	size_t blen = strlen(base);

	memset(r, 0, sizeof(*r));
	if (strncmp(req->url, base, blen) || (req->url[blen] && req->url[blen] != '/')) {
		/* The node the user left answers 401 to everything (DOCS: 401 may mean a move). */
		reply(s, r, 401, "{\"status\":\"invalid-credentials\"}", -1);
		return 0;
	}
	snprintf(pq, sizeof(pq), "%s", req->url[blen] ? req->url + blen + 1 : "");
	if (s->nlog < MAX_LOG) {
		s->log_line[s->nlog] = ds_asprintf("%s %s", m, pq);
		s->log_xius[s->nlog] = ds_strdup(xius ? xius : "");
		s->nlog++;
	}
	if (s->hook)
		s->hook(s, m, pq, s->nlog, s->hook_ud);
	/* Hawk: the header must carry the id of a token still valid; the MAC itself is checked in
	 * the Hawk unit tests and by the integration server. */
	if (!auth || strncmp(auth, "Hawk ", 5) || !strstr(auth, "mac=\"") ||
	    sscanf(strstr(auth, "id=\"") ? strstr(auth, "id=\"") : "", "id=\"%63[^\"]\"", idbuf) != 1 ||
	    sscanf(idbuf, "tok-%u", &gen) != 1 || s->refuse || gen < s->token_valid_from ||
	    gen > s->token_gen) {
		reply(s, r, 401, "{\"status\":\"invalid-credentials\"}", -1);
		return 0;
	}
	if (inject_match(s, m, pq, r))
		return 0;
	query = strchr(pq, '?');
	if (query)
		*query++ = '\0';
	handle(s, req, pq, query ? query : "", r);
	return 0;
}

/* ---- the account side --------------------------------------------------------------------- */

static int fake_token(void *ctx, bool fresh, struct ds_sync15_creds *out)
{
	struct ds_fake_sync15 *s = ctx;

	DS_UNUSED(fresh);
	memset(out, 0, sizeof(*out));
	s->token_gen++;
	snprintf(out->endpoint, sizeof(out->endpoint), "%s", s->moved ? HOST_B : HOST_A);
	snprintf(out->hawk_id, sizeof(out->hawk_id), "tok-%u", s->token_gen);
	snprintf(out->hawk_key, sizeof(out->hawk_key), "key-%u", s->token_gen);
	return 0;
}

static int fake_ksync(void *ctx, uint8_t out[64])
{
	memcpy(out, ((struct ds_fake_sync15 *)ctx)->ksync, 64);
	return 0;
}

static const struct ds_sync15_auth_ops fake_auth_ops = { fake_token, fake_ksync, NULL };

/* ---- API ---------------------------------------------------------------------------------- */

struct ds_fake_sync15 *ds_fake_sync15_new(const uint8_t ksync[64])
{
	struct ds_fake_sync15 *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	memcpy(s->ksync, ksync, 64);
	s->now = 1700000000000;
	s->transport.perform = fake_perform;
	s->transport.ctx = s;
	return s;
}

void ds_fake_sync15_free(struct ds_fake_sync15 *s)
{
	if (!s)
		return;
	ds_fake_sync15_wipe(s);
	for (int i = 0; i < 8; i++) {
		cJSON_Delete(s->batches[i].recs);
		free(s->inj[i].headers);
		free(s->inj[i].body);
		free(s->always_name[i]);
		free(s->always_value[i]);
	}
	ds_fake_sync15_clear_log(s);
	free(s->config);
	free(s);
}

const struct ds_sync15_transport *ds_fake_sync15_transport(struct ds_fake_sync15 *s)
{
	return &s->transport;
}

struct ds_sync15_auth ds_fake_sync15_auth(struct ds_fake_sync15 *s)
{
	struct ds_sync15_auth a = { &fake_auth_ops, s };
	return a;
}

void ds_fake_sync15_set_config(struct ds_fake_sync15 *s, const char *json)
{
	free(s->config);
	s->config = json ? strdup(json) : NULL;
}

void ds_fake_sync15_set_batching(struct ds_fake_sync15 *s, bool on)
{
	s->no_batching = !on;
}

void ds_fake_sync15_inject(struct ds_fake_sync15 *s, const char *method, const char *prefix,
			   int status, const char *headers, const char *body, int count)
{
	for (int i = 0; i < 8; i++) {
		struct inject *j = &s->inj[i];
		if (j->count > 0)
			continue;
		free(j->headers);
		free(j->body);
		snprintf(j->method, sizeof(j->method), "%s", method ? method : "");
		snprintf(j->prefix, sizeof(j->prefix), "%s", prefix ? prefix : "");
		j->status = status;
		j->headers = headers ? strdup(headers) : NULL;
		j->body = body ? strdup(body) : NULL;
		j->count = count;
		return;
	}
	abort();
}

void ds_fake_sync15_always_header(struct ds_fake_sync15 *s, const char *name, const char *value)
{
	int free_slot = -1;

	for (int i = 0; i < 8; i++) {
		if (s->always_name[i] && !strcasecmp(s->always_name[i], name)) {
			free(s->always_name[i]);
			free(s->always_value[i]);
			s->always_name[i] = s->always_value[i] = NULL;
		}
		if (!s->always_name[i] && free_slot < 0)
			free_slot = i;
	}
	if (value && free_slot >= 0) {
		s->always_name[free_slot] = strdup(name);
		s->always_value[free_slot] = strdup(value);
	}
}

void ds_fake_sync15_expire_tokens(struct ds_fake_sync15 *s)
{
	s->token_valid_from = s->token_gen + 1;
}

void ds_fake_sync15_refuse_tokens(struct ds_fake_sync15 *s, bool refuse)
{
	s->refuse = refuse;
}

void ds_fake_sync15_move_node(struct ds_fake_sync15 *s)
{
	ds_fake_sync15_wipe(s);
	s->moved = !s->moved;
	ds_fake_sync15_expire_tokens(s);
}

void ds_fake_sync15_set_hook(struct ds_fake_sync15 *s, ds_fake_sync15_hook fn, void *user_data)
{
	s->hook = fn;
	s->hook_ud = user_data;
}

int ds_fake_sync15_put(struct ds_fake_sync15 *s, const char *coll, const char *id,
		       const char *payload)
{
	bso_write(coll_get(s, coll, true), id, payload, 0, tick(s));
	return 0;
}

const char *ds_fake_sync15_payload(struct ds_fake_sync15 *s, const char *coll, const char *id)
{
	struct bso *b = bso_get(coll_get(s, coll, false), id);
	return b ? b->payload : NULL;
}

int64_t ds_fake_sync15_modified(struct ds_fake_sync15 *s, const char *coll, const char *id)
{
	struct bso *b = bso_get(coll_get(s, coll, false), id);
	return b ? b->modified : -1;
}

size_t ds_fake_sync15_count(struct ds_fake_sync15 *s, const char *coll)
{
	struct coll *c = coll_get(s, coll, false);
	return c ? c->n : 0;
}

int64_t ds_fake_sync15_coll_ts(struct ds_fake_sync15 *s, const char *coll)
{
	struct coll *c = coll_get(s, coll, false);
	return c ? c->modified : 0;
}

int64_t ds_fake_sync15_now(struct ds_fake_sync15 *s)
{
	return s->now;
}

unsigned long ds_fake_sync15_count_requests(struct ds_fake_sync15 *s, const char *prefix)
{
	unsigned long n = 0;

	for (size_t i = 0; i < s->nlog; i++)
		if (!prefix || !strncmp(s->log_line[i], prefix, strlen(prefix)))
			n++;
	return n;
}

const char *ds_fake_sync15_request_line(struct ds_fake_sync15 *s, size_t i)
{
	return i < s->nlog ? s->log_line[i] : NULL;
}

const char *ds_fake_sync15_request_xius(struct ds_fake_sync15 *s, size_t i)
{
	return i < s->nlog ? s->log_xius[i] : NULL;
}

size_t ds_fake_sync15_request_total(struct ds_fake_sync15 *s)
{
	return s->nlog;
}

void ds_fake_sync15_clear_log(struct ds_fake_sync15 *s)
{
	for (size_t i = 0; i < s->nlog; i++) {
		ds_free(s->log_line[i]);
		ds_free(s->log_xius[i]);
	}
	s->nlog = 0;
}
