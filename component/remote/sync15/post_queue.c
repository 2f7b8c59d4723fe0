/*
 * The upload queue: BSOs go out in as few POSTs as the server's limits allow (sync15.md §5 step
 * 4; AS sync15/src/client/request.rs PostQueue, DESK record.sys.mjs PostQueue):
 *
 *  - a POST ends before it would exceed max_post_records, max_post_bytes (sum of the payload
 *    lengths) or max_request_bytes (the whole JSON body); AS's rule "cur + size <= max";
 *  - a batch ends (commit=true) before it would exceed max_total_records / max_total_bytes, and
 *    at the end;
 *  - the first POST of a batch says batch=true; a 202 must carry the batch id, reused URL-encoded
 *    by the next POSTs; a 200 to the first POST means the server has no batching, and every
 *    POST then stands alone;
 *  - every POST carries X-If-Unmodified-Since: the caller's cursor, then the X-Last-Modified of
 *    our own last commit (a later batch follows our own write);
 *  - "success" ids are accepted, "failed" ones refused, and an id in neither list counts as
 *    failed (DOCS); accepted counts only once its batch is committed;
 *  - a record whose payload exceeds max_record_payload_bytes, or whose BSO alone would not fit a
 *    request, is never sent and is counted (too_large): reported, not silently dropped.
 */
#define DS_LOG_TAG "sync15"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "remote/sync15/ds_sync15.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

struct ds_sync15_post_queue {
	struct ds_sync15_client *c;
	char *coll_path;   /* "storage/<collection>" */
	struct ds_sync15_limits l;
	int64_t xius_ms;
	/* the POST being built */
	char *body;
	size_t body_len, body_cap;
	char **ids;
	size_t n, ids_cap;
	size_t post_bytes;
	/* the open batch */
	char *batch_id;      /* NULL: none open (or no batching) */
	bool no_batching;    /* the server answered 200 without a batch id */
	size_t batch_records, batch_bytes;
	size_t batch_accepted; /* in "success" of the open batch's POSTs */
	struct ds_sync15_upload_stats st;
};

int ds_sync15_post_queue_new(struct ds_sync15_client *c, const char *collection,
			     const struct ds_sync15_limits *l, int64_t xius_ms,
			     struct ds_sync15_post_queue **out)
{
	struct ds_sync15_post_queue *q = ds_calloc(1, sizeof(*q));

	*out = NULL;
	if (!q)
		return -ENOMEM;
	q->c = c;
	q->l = *l;
	q->xius_ms = xius_ms;
	q->st.modified_ms = -1;
	q->coll_path = ds_asprintf("storage/%s", collection);
	if (!q->coll_path) {
		ds_free(q);
		return -ENOMEM;
	}
	*out = q;
	return 0;
}

static void post_reset(struct ds_sync15_post_queue *q)
{
	for (size_t i = 0; i < q->n; i++)
		ds_free(q->ids[i]);
	q->n = 0;
	q->body_len = 0;
	q->post_bytes = 0;
}

void ds_sync15_post_queue_free(struct ds_sync15_post_queue *q)
{
	if (!q)
		return;
	post_reset(q);
	ds_free(q->ids);
	ds_free(q->body);
	ds_free(q->batch_id);
	ds_free(q->coll_path);
	ds_free(q);
}

const struct ds_sync15_upload_stats *ds_sync15_post_queue_stats(const struct ds_sync15_post_queue *q)
{
	return &q->st;
}

static bool listed(const cJSON *arr, const char *id)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, arr)
		if (cJSON_IsString(it) && strcmp(it->valuestring, id) == 0)
			return true;
	return false;
}

/* Count this POST's ids: success, failed, or neither (= failed). */
static void tally(struct ds_sync15_post_queue *q, const cJSON *o)
{
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(o, "success");
	const cJSON *bad = cJSON_GetObjectItemCaseSensitive(o, "failed");

	for (size_t i = 0; i < q->n; i++) {
		if (listed(ok, q->ids[i]) && !cJSON_GetObjectItemCaseSensitive(bad, q->ids[i])) {
			q->batch_accepted++;
		} else {
			q->st.failed++;
			DS_LOG_WRN("%s: the server refused a record", q->coll_path);
		}
	}
}

static int post_error(struct ds_sync15_post_queue *q, const struct ds_http_response *resp)
{
	int code = ds_sync15_weave_code(resp);

	switch (resp->status) {
	case 412:
		ds_sync15_client_set_error(q->c, "%s changed on the server since our last read (412)",
					   q->coll_path);
		return -ESTALE;
	case 409:
		ds_sync15_client_set_error(q->c, "%s: a concurrent write is in progress (409)",
					   q->coll_path);
		if (!ds_sync15_client_backoff_s(q->c))
			ds_sync15_client_raise_backoff(q->c, 1);
		return -EAGAIN;
	case 413:
		ds_sync15_client_set_error(q->c, "%s: the server found a request too large (413)",
					   q->coll_path);
		return -EMSGSIZE;
	case 400:
		if (code == 14) {
			ds_sync15_client_set_error(q->c, "the account is over its storage quota (400/14)");
			return -ENOSPC;
		}
		if (code == 16) {
			ds_sync15_client_set_error(q->c, "the server requires a newer client (400/16): "
							 "upgrade datasync");
			return -EPROTONOSUPPORT;
		}
		if (code == 17) {
			ds_sync15_client_set_error(q->c, "%s: over a size or count limit of the server "
							 "(400/17)", q->coll_path);
			return -EMSGSIZE;
		}
		ds_sync15_client_set_error(q->c, "%s: the server refused the upload (400, code %d)",
					   q->coll_path, code);
		return -EPROTO;
	default:
		ds_sync15_client_set_error(q->c, "%s: unexpected answer %d to an upload", q->coll_path,
					   resp->status);
		return -EPROTO;
	}
}

static int send_post(struct ds_sync15_post_queue *q, bool commit)
{
	struct ds_http_response resp;
	char *path, *esc = NULL;
	cJSON *o = NULL;
	const char *bid;
	bool start = !q->batch_id && !q->no_batching;
	int rc;

	if (q->n == 0 && !commit)
		return 0;
	if (q->n == 0 && !q->batch_id)
		return 0; /* nothing queued and no batch open: nothing to commit */
	if (q->batch_id && !(esc = ds_sync15_url_escape(q->batch_id)))
		return -ENOMEM;
	if (q->no_batching)
		path = ds_strdup(q->coll_path);
	else
		path = ds_asprintf("%s?batch=%s%s", q->coll_path, start ? "true" : esc,
				   commit ? "&commit=true" : "");
	ds_free(esc);
	if (!path)
		return -ENOMEM;
	if (q->body_len == 0) {
		q->body_len = 0;
		if (!q->body && !(q->body = ds_malloc(q->body_cap = 64))) {
			ds_free(path);
			return -ENOMEM;
		}
		q->body[q->body_len++] = '[';
	}
	q->body[q->body_len++] = ']';
	q->body[q->body_len] = '\0';
	rc = ds_sync15_request(q->c, "POST", path, q->xius_ms, q->body, q->body_len, &resp);
	ds_free(path);
	q->body_len = 0;
	if (rc < 0)
		return rc;
	q->st.posts++;
	if (resp.status != 200 && resp.status != 202) {
		rc = post_error(q, &resp);
		goto out;
	}
	o = cJSON_Parse(resp.body ? resp.body : "");
	if (!cJSON_IsObject(o)) {
		ds_sync15_client_set_error(q->c, "%s: unreadable upload answer", q->coll_path);
		rc = -EPROTO;
		goto out;
	}
	bid = ds_sync15_json_str(o, "batch");
	if (resp.status == 202) {
		/* AT-09: a 202 must name the batch, and the same one every time. */
		if (!bid || !*bid || (q->batch_id && strcmp(q->batch_id, bid) != 0)) {
			ds_sync15_client_set_error(q->c, "%s: the server accepted a batch POST without "
							 "a usable batch id", q->coll_path);
			rc = -EPROTO;
			goto out;
		}
		if (!q->batch_id && !(q->batch_id = ds_strdup(bid))) {
			rc = -ENOMEM;
			goto out;
		}
		if (commit) {
			ds_sync15_client_set_error(q->c, "%s: the server did not commit the batch",
						   q->coll_path);
			rc = -EPROTO;
			goto out;
		}
		tally(q, o);
		goto sent;
	}
	/* 200: a commit, or a server without batching (first POST answered 200). */
	if (start && !commit)
		q->no_batching = true;
	tally(q, o);
	q->st.modified_ms = ds_sync15_last_modified(&resp);
	if (q->st.modified_ms < 0) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "modified");
		if (ds_sync15_ts_from_json(m, &q->st.modified_ms) < 0) {
			ds_sync15_client_set_error(q->c, "%s: an upload answer without its timestamp",
						   q->coll_path);
			rc = -EPROTO;
			goto out;
		}
	}
	q->xius_ms = q->st.modified_ms;
	q->st.commits++;
	q->st.accepted += q->batch_accepted;
	q->batch_accepted = 0;
	q->batch_records = q->batch_bytes = 0;
	ds_free(q->batch_id);
	q->batch_id = NULL;
sent:
	post_reset(q);
out:
	cJSON_Delete(o);
	ds_http_response_free(&resp);
	return rc;
}

static int append(struct ds_sync15_post_queue *q, const char *id, const char *bso, size_t blen,
		  size_t payload_len)
{
	size_t need = q->body_len + blen + 3;

	if (need > q->body_cap) {
		size_t cap = DS_MAX(need, q->body_cap * 2);
		char *b = ds_realloc(q->body, cap);
		if (!b)
			return -ENOMEM;
		q->body = b;
		q->body_cap = cap;
	}
	if (q->n == q->ids_cap) {
		size_t cap = q->ids_cap ? q->ids_cap * 2 : 16;
		char **v = ds_realloc(q->ids, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		q->ids = v;
		q->ids_cap = cap;
	}
	if (!(q->ids[q->n] = ds_strdup(id)))
		return -ENOMEM;
	q->n++;
	q->body[q->body_len] = q->body_len ? ',' : '[';
	q->body_len++;
	memcpy(q->body + q->body_len, bso, blen);
	q->body_len += blen;
	q->post_bytes += payload_len;
	q->batch_records++;
	q->batch_bytes += payload_len;
	return 0;
}

int ds_sync15_post_queue_add(struct ds_sync15_post_queue *q, const char *id, const char *bso_json,
			     size_t payload_len)
{
	size_t blen = strlen(bso_json);
	int rc;

	/* "[" bso "]" alone must fit a request; the payload must fit the record limit. */
	if (payload_len > q->l.max_record_payload_bytes || blen + 2 > q->l.max_request_bytes ||
	    payload_len > q->l.max_post_bytes || payload_len > q->l.max_total_bytes) {
		q->st.failed++;
		q->st.too_large++;
		ds_sync15_client_set_error(q->c, "%s: a record of %zu bytes is larger than the server "
						 "takes (%zu); not uploaded", q->coll_path, payload_len,
					   q->l.max_record_payload_bytes);
		return 0;
	}
	/* The open batch (queued POST included) would exceed a total limit: commit it first. */
	if (q->batch_records + 1 > q->l.max_total_records ||
	    q->batch_bytes + payload_len > q->l.max_total_bytes) {
		rc = send_post(q, true);
		if (rc < 0)
			return rc;
	} else if (q->n + 1 > q->l.max_post_records ||
		   q->post_bytes + payload_len > q->l.max_post_bytes ||
		   q->body_len + 1 + blen + 1 > q->l.max_request_bytes) {
		rc = send_post(q, false);
		if (rc < 0)
			return rc;
	}
	return append(q, id, bso_json, blen, payload_len);
}

int ds_sync15_post_queue_flush(struct ds_sync15_post_queue *q)
{
	return send_post(q, true);
}
