/*
 * kinto_fetch.c - the Kinto remote's fetch (docs/remote-kinto.md, "fetch"):
 * GET .../records?_sort=last_modified&_since=<cursor>, oldest first, one page per call,
 * Next-Page followed (kinto.md §2: oldest-first resumes safely after a cut).
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

/* ---- fetch -------------------------------------------------------------------------------- */

struct fetch_ctx {
	struct kinto_remote *k;
	ds_record_cb cb;
	void *ud;
	int64_t last_ms;
	unsigned n;
	unsigned ours;      /* our own writes met (not handed to the core) */
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

/*
 * Our own write coming back: the map holds exactly this version as one this device wrote (an
 * acknowledged PUT or DELETE, kinto_upload.c). Kinto gives every change of a collection its own
 * timestamp (kinto.md §2), so (id, version) names that one write: the core has it already. It
 * is not handed over again, only the cursor moves over it. This is what lets a full batch go
 * without the closing check (docs/remote-kinto.md, "Cursor after an upload"). Anything else -
 * another client's write, even over our record, or a version fetched but not yet applied - has
 * another version or no "ours" mark and goes to the core.
 * Returns 1 (skipped), 0 (not ours) or a negative errno.
 */
static int skip_ours(struct fetch_ctx *c, const char *val, size_t vlen)
{
	char *id = NULL;
	int64_t ms = 0, known = 0;
	bool gone = false, ours = false;
	int rc = ds_kinto_record_meta(val, vlen, &id, &ms);

	if (rc)
		return rc == -ENOMEM ? rc : 0; /* malformed: decoding reports it */
	rc = ds_kinto_state_get_ours(c->k->state, id, &known, &gone, &ours);
	ds_free(id);
	if (rc == -ENOENT || (rc == 0 && (!ours || known != ms || ms <= 0)))
		return 0;
	if (rc)
		return rc;
	if (ms > c->last_ms)
		c->last_ms = ms;
	c->ours++;
	return 1;
}

static int fetch_one(const char *val, size_t vlen, void *ud)
{
	struct fetch_ctx *c = ud;
	struct kinto_remote *k = c->k;
	struct ds_record rec;
	int rc;

	c->n++;
	rc = skip_ours(c, val, vlen);
	if (rc)
		return rc > 0 ? 0 : rc;
	rc = ds_kinto_decode(&k->key, k->coll, val, vlen, &rec);
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

/* One page's answer (the body of GET .../records, and its Next-Page header) for cursor. */
static int fetch_body(struct kinto_remote *k, const char *cursor, const char *body, size_t len,
		      const char *next, ds_record_cb cb, void *user_data, struct ds_fetch_page *page)
{
	struct fetch_ctx c = { .k = k, .cb = cb, .ud = user_data };
	int rc;

	c.last_ms = ds_kinto_cursor_ms(cursor);
	rc = ds_kinto_json_object_each(body ? body : "", len, find_data, &c);
	if (rc == 0 && !c.data)
		rc = -EBADMSG;
	if (rc) {
		DS_LOG_ERR("%s: the server's record list is not JSON", k->name);
		return -EPROTO;
	}
	rc = ds_kinto_state_begin(k->state);
	if (rc)
		return rc;
	rc = ds_kinto_json_array_each(c.data, c.data_len, fetch_one, &c);
	if (rc == -EBADMSG)
		rc = -EPROTO;
	if (rc == 0)
		rc = ds_kinto_state_commit(k->state);
	else
		ds_kinto_state_rollback(k->state);
	if (rc)
		return rc;
	if (c.ours)
		DS_LOG_DBG("%s: %u of our own writes skipped", k->name, c.ours);
	snprintf(page->next_cursor, sizeof(page->next_cursor), "%" PRId64, c.last_ms);
	if (c.last_ms == 0)
		snprintf(page->next_cursor, sizeof(page->next_cursor), "%s", cursor);
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
	snprintf(k->hint, sizeof(k->hint), "%s", page->next_cursor);
	k->echo = 0;
	return 0;
}

char *ds_kinto_page_path(const struct kinto_remote *k, const char *cursor)
{
	return ds_asprintf("%s/records?_sort=last_modified&_limit=%u%s%s", k->coll_path,
			   k->page_size, cursor[0] ? "&_since=" : "", cursor);
}

void ds_kinto_prefetch_drop(struct kinto_remote *k)
{
	ds_free(k->pre.body);
	ds_free(k->pre.next);
	memset(&k->pre, 0, sizeof(k->pre));
}

int ds_kinto_fetch(struct ds_remote *r, const char *cursor, ds_record_cb cb, void *user_data,
		   struct ds_fetch_page *page)
{
	struct kinto_remote *k = kr_of(r);
	struct ds_http_response resp;
	char *path;
	int rc;

	memset(page, 0, sizeof(*page));
	if (!ds_kinto_cursor_valid(cursor)) {
		DS_LOG_ERR("%s: stored cursor '%s' is not a Kinto timestamp", k->name, cursor);
		ds_kinto_prefetch_drop(k);
		return -EINVAL;
	}
	/* The first page, read by prepare in the same request as the collection, when it was
	 * asked for this very cursor (kinto_remote.c, read_collection). Used once. */
	if (k->pre.set && strcmp(k->pre.cursor, cursor) == 0) {
		struct kinto_prefetch pre = k->pre;

		memset(&k->pre, 0, sizeof(k->pre));
		ds_free(k->next_url);
		k->next_url = NULL;
		rc = fetch_body(k, cursor, pre.body, pre.len, pre.next, cb, user_data, page);
		ds_free(pre.body);
		ds_free(pre.next);
		return rc;
	}
	ds_kinto_prefetch_drop(k);
	/* Prepare found that everything from cursor up to jump_ms is our own writes (each an
	 * "ours" entry of the map at that version, as skip_ours() would find them one by one):
	 * the page starts after them. */
	if (k->jump_ms > ds_kinto_cursor_ms(cursor) && strcmp(k->jump_for, cursor) == 0) {
		char jump[DS_CURSOR_MAX];

		snprintf(jump, sizeof(jump), "%" PRId64, k->jump_ms);
		k->jump_ms = 0;
		ds_free(k->next_url);
		k->next_url = NULL;
		path = ds_kinto_page_path(k, jump);
		if (!path)
			return -ENOMEM;
		rc = ds_kinto_api_call(&k->api, "GET", path, NULL, NULL, &resp);
		ds_free(path);
		if (rc)
			return rc;
		if (resp.status != 200)
			rc = ds_kinto_api_error(&k->api, "fetching records", &resp);
		else
			rc = fetch_body(k, jump, resp.body, resp.body_len,
					ds_http_header(&resp, "next-page"), cb, user_data, page);
		ds_http_response_free(&resp);
		return rc;
	}
	k->jump_ms = 0;
	if (k->next_url && strcmp(k->next_for, cursor) == 0)
		path = ds_strdup(k->next_url);
	else
		path = ds_kinto_page_path(k, cursor);
	ds_free(k->next_url);
	k->next_url = NULL;
	if (!path)
		return -ENOMEM;
	rc = ds_kinto_api_call(&k->api, "GET", path, NULL, NULL, &resp);
	ds_free(path);
	if (rc)
		return rc;
	if (resp.status != 200)
		rc = ds_kinto_api_error(&k->api, "fetching records", &resp);
	else
		rc = fetch_body(k, cursor, resp.body, resp.body_len,
				ds_http_header(&resp, "next-page"), cb, user_data, page);
	ds_http_response_free(&resp);
	return rc;
}
