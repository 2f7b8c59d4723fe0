/*
 * The Firefox Sync 1.5 remote: ds_remote_ops over the storage client, the global state and the
 * record transform (docs/remote-sync15.md).
 *
 *   prepare  setup state machine (global_state.c), then the collection's timestamp from
 *            info/collections; epoch = "<node tag>:<global syncID>.<collection syncID>", so a
 *            fresh start or a reset of the engine by another client shows as a replaced remote
 *            and is never turned into local deletions (the core refuses and says so), while a
 *            move to another storage node starts the collection over there (epoch_changed);
 *   fetch    GET storage/<c>?full=1&sort=oldest&newer=<cursor>, without "limit" by default:
 *            the answer is split as it arrives (bso_stream.c) and each record decrypted and
 *            handed to the core, which applies them in chunks, so memory does not follow the
 *            download. With a limit, or a server that pages on its own, X-Weave-Next-Offset
 *            is followed in the same fetch (DESK Collection.getBatched): follow-up pages carry
 *            X-If-Unmodified-Since = the first page's X-Last-Modified, and the cursor the
 *            core stores moves to it only after the last page; a 412 in the middle restarts
 *            from <newer> once per run (AT-12). A stored "<newer>|<lm>|<offset>" cursor (an
 *            older build's page in the middle of a download) is still read;
 *   upload   the post queue with X-If-Unmodified-Since = the cursor; 412 -> -ESTALE.
 *
 * Cursors are server timestamps printed exactly (ds_sync15_ts_format()).
 */
#define DS_LOG_TAG "sync15"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "remote/sync15/ds_remote_sync15.h"
#include "remote/sync15/ds_sync15.h"
#include "remote/sync15/ds_sync15_storage.h"
#include "remote/sync15/ds_sync15_stream.h"
#include "store/ds_store.h"
#include "ds_port.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct s15_remote {
	struct ds_remote base;
	char *collection;
	int engine_version;
	bool read_only;
	bool enable;
	unsigned page_records;
	unsigned download_limit;  /* first download: the newest N only (history), 0: all */
	const char *download_sort;
	struct ds_store *store;   /* where the 401 backoff outlives the process, or NULL */
	bool auth_backoff_stored;
	struct ds_sync15_client *client;
	struct ds_sync15_auth auth;
	int (*device)(struct ds_sync15_device *out);
	struct ds_sync15_global *g;
	struct ds_transform *tr;
	int64_t coll_ts;          /* the collection's timestamp at prepare, -1: absent */
	unsigned paging_restarts; /* downloads started again after a 412 mid-paging, this run */
	bool prepared;
	unsigned long undecryptable;
	char error[512];
};

/* The state of the account shared by every collection's runs in this process (it holds the
 * keys: memory only). The lock covers the few calls that may come from two threads. */
static struct ds_sync15_global shared_global;
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;

static struct s15_remote *rem_of(struct ds_remote *r)
{
	return DS_CONTAINER_OF(r, struct s15_remote, base);
}

/* A second 401 in a row (-EACCES): the client backs off 15 min; keep the end of that wait. */
static void auth_backoff_save(struct s15_remote *x)
{
	char v[24];
	int64_t s = ds_sync15_client_backoff_s(x->client);

	if (!x->store || s <= 0)
		return;
	snprintf(v, sizeof(v), "%" PRId64, ds_port_wall_ms() + s * 1000);
	if (ds_store_kv_set(x->store, DS_SYNC15_KV_AUTH_BACKOFF, v) == 0)
		x->auth_backoff_stored = true;
}

/* Still inside a stored 401 backoff: -EAGAIN with the time left, and no request at all. */
static int auth_backoff_check(struct s15_remote *x)
{
	char v[24], *end;
	long long until;
	int64_t now = ds_port_wall_ms();

	if (!x->store || ds_store_kv_get(x->store, DS_SYNC15_KV_AUTH_BACKOFF, v, sizeof(v)) <= 0)
		return 0;
	until = strtoll(v, &end, 10);
	if (end == v || *end || until <= 0) {
		x->auth_backoff_stored = false;
		return 0;
	}
	x->auth_backoff_stored = true;
	if (until <= now)
		return 0;
	ds_sync15_client_raise_backoff(x->client, (until - now + 999) / 1000);
	snprintf(x->error, sizeof(x->error), "the Sync storage refused this account's tokens; "
		 "waiting %lld s before trying again", (long long)((until - now + 999) / 1000));
	return -EAGAIN;
}

static void auth_backoff_clear(struct s15_remote *x)
{
	if (x->store && x->auth_backoff_stored && ds_store_kv_set(x->store, DS_SYNC15_KV_AUTH_BACKOFF, "") == 0)
		x->auth_backoff_stored = false;
}

static int fail(struct s15_remote *x, int rc)
{
	const char *why = ds_sync15_client_error(x->client);

	if (rc == -EACCES)
		auth_backoff_save(x);

	snprintf(x->error, sizeof(x->error), "%s", *why ? why : ds_strerror(rc));
	return rc;
}

static void lock(struct s15_remote *x)
{
	if (x->g == &shared_global)
		pthread_mutex_lock(&shared_lock);
}

static void unlock(struct s15_remote *x)
{
	if (x->g == &shared_global)
		pthread_mutex_unlock(&shared_lock);
}

/* ---- prepare ------------------------------------------------------------------------------ */

/* The storage node in the epoch: FNV-1a (32 bits) of the api_endpoint. Only told apart from
 * the previous one, never trusted for anything else. */
static uint32_t node_tag(const char *endpoint)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)endpoint; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

#define NODE_TAG_LEN 9 /* "xxxxxxxx:" */

/* Another node in the stored epoch: the account was moved (sync15.md AT-06; DESK and AS reset
 * every engine's sync state on a changed api_endpoint and sync again at the new node, whose
 * data the devices rebuild), so the collection starts over there. The same node and global
 * syncID with another syncID for this collection: another client reset this engine alone
 * (AT-15; AS coll_state.rs resets that engine's last-sync and syncs it again, data kept), so
 * it starts over too. Another global syncID at the same node is a wipe or a fresh start by
 * another client: refused by the core until the person chooses (datasyncctl reset). */
static int s15_epoch_changed(struct ds_remote *r, const char *stored, const char *now)
{
	const char *sd, *nd;

	DS_UNUSED(r);
	if (strlen(stored) < NODE_TAG_LEN || strlen(now) < NODE_TAG_LEN ||
	    stored[NODE_TAG_LEN - 1] != ':' || now[NODE_TAG_LEN - 1] != ':')
		return DS_EPOCH_REFUSE;
	if (strncmp(stored, now, NODE_TAG_LEN))
		return DS_EPOCH_RESET;
	/* "<tag>:<global syncID>.<collection syncID>"; syncIDs are base64url, without '.'. */
	sd = strchr(stored + NODE_TAG_LEN, '.');
	nd = strchr(now + NODE_TAG_LEN, '.');
	if (sd && nd && sd - stored == nd - now && !strncmp(stored, now, (size_t)(sd - stored)) &&
	    strcmp(sd, nd) != 0)
		return DS_EPOCH_RESET;
	return DS_EPOCH_REFUSE;
}

/* Our record in the clients collection goes before this collection's records (sync15.md:
 * clients first in every run); written once per account state, weekly refreshed
 * (sync15_clients.c). A provider that knows no device (tests' fixed credentials) writes none. */
static int put_client_record(struct s15_remote *x)
{
	struct ds_sync15_device d;
	int rc;

	if (!x->device)
		return 0;
	memset(&d, 0, sizeof(d));
	rc = x->device(&d);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	rc = ds_sync15_client_put(x->client, x->g, &d);
	if (rc == -EINVAL)
		return 0; /* an unusable device id was logged; the collection still syncs */
	return rc < 0 ? rc : 0;
}

static int do_prepare(struct s15_remote *x, struct ds_remote_info *info)
{
	struct ds_sync15_setup s = { .collection = x->collection, .engine_version = x->engine_version,
				     .may_write = !x->read_only, .enable = x->enable };
	uint8_t ksync[64];
	cJSON *coll_info = NULL;
	const cJSON *e, *csid, *ver;
	const struct ds_sync15_keybundle *kb;
	const char *gsid;
	int64_t coll_ts;
	int rc, n;

	rc = x->auth.ops->ksync(x->auth.ctx, ksync);
	if (rc < 0) {
		snprintf(x->error, sizeof(x->error), "no Sync key: %s", ds_sync15_auth_error(&x->auth, rc));
		return rc;
	}
	rc = ds_sync15_global_setup(x->client, x->g, &s, ksync, &coll_info);
	ds_memzero(ksync, sizeof(ksync));
	if (rc < 0)
		return fail(x, rc);
	if (ds_sync15_ts_from_json(cJSON_GetObjectItemCaseSensitive(coll_info, x->collection),
				   &coll_ts) < 0)
		coll_ts = -1;
	cJSON_Delete(coll_info);
	e = ds_sync15_meta_engine(x->g->meta, x->collection);
	if (!e) {
		ds_sync15_client_set_error(x->client, "%s is declined on this account (another device "
						      "turned it off); not synced", x->collection);
		return fail(x, -ECANCELED);
	}
	ver = cJSON_GetObjectItemCaseSensitive(e, "version");
	if (cJSON_IsNumber(ver) && ver->valuedouble > x->engine_version) {
		ds_sync15_client_set_error(x->client, "%s is stored in version %d on this account, "
						      "newer than this client's %d: upgrade datasync",
					   x->collection, ver->valueint, x->engine_version);
		return fail(x, -EPROTONOSUPPORT);
	}
	gsid = ds_sync15_json_str(x->g->meta, "syncID");
	csid = cJSON_GetObjectItemCaseSensitive(e, "syncID");
	n = snprintf(info->epoch, sizeof(info->epoch), "%08" PRIx32 ":%s.%s", node_tag(x->g->endpoint),
		     gsid ? gsid : "", csid->valuestring);
	if (n < 0 || (size_t)n >= sizeof(info->epoch)) {
		ds_sync15_client_set_error(x->client, "meta/global has syncIDs too long to keep");
		return fail(x, -EPROTO);
	}
	x->coll_ts = coll_ts;
	if (coll_ts >= 0) /* else info->latest stays "" (s15_prepare zeroed info) */
		ds_sync15_ts_format(x->coll_ts, info->latest);
	info->max_batch = DS_MIN(x->g->limits.max_total_records, (size_t)1000);
	if (!x->read_only && (rc = put_client_record(x)) < 0)
		return fail(x, rc);
	kb = ds_sync15_keyring_get(&x->g->keys, x->collection);
	if (x->tr)
		ds_sync15_transform_set_keys(x->tr, kb);
	else if ((rc = ds_sync15_transform_new(kb, &x->tr)) < 0)
		return rc;
	x->prepared = true;
	return 0;
}

static int s15_prepare(struct ds_remote *r, struct ds_remote_info *info)
{
	struct s15_remote *x = rem_of(r);
	int rc;

	memset(info, 0, sizeof(*info));
	x->error[0] = '\0';
	x->paging_restarts = 0;
	rc = auth_backoff_check(x);
	if (rc < 0)
		return rc;
	lock(x);
	rc = do_prepare(x, info);
	unlock(x);
	if (rc == 0)
		auth_backoff_clear(x);
	return rc;
}

/* ---- fetch -------------------------------------------------------------------------------- */

struct cursor {
	int64_t newer;   /* -1: from the beginning */
	int64_t lm;      /* X-Last-Modified of the download's first page, -1: none yet */
	char offset[DS_CURSOR_MAX];
};

static int cursor_parse(const char *s, struct cursor *c)
{
	char buf[DS_CURSOR_MAX], *p1, *p2;

	c->newer = c->lm = -1;
	c->offset[0] = '\0';
	if (!s || !*s)
		return 0;
	snprintf(buf, sizeof(buf), "%s", s);
	p1 = strchr(buf, '|');
	if (!p1)
		return ds_sync15_ts_parse(buf, &c->newer);
	*p1++ = '\0';
	p2 = strchr(p1, '|');
	if (!p2)
		return -EINVAL;
	*p2++ = '\0';
	if ((buf[0] && ds_sync15_ts_parse(buf, &c->newer) < 0) || ds_sync15_ts_parse(p1, &c->lm) < 0 ||
	    !*p2)
		return -EINVAL;
	snprintf(c->offset, sizeof(c->offset), "%s", p2);
	return 0;
}

/*
 * One download's answer, read as it arrives. The records are decrypted and handed to the core
 * one by one from inside the HTTP client's body callback, where no other request may be made.
 * A record failing its HMAC while a re-read of crypto/keys is due (another device may have
 * rotated the keys: DESK re-reads them on HMAC errors) is kept aside in a small stash; once
 * the answer is complete the keys are re-read and the stashed records decrypted again (the
 * core applies in arrival order, and one answer holds each id once). When more fail than the
 * stash holds (the whole collection under new keys), the answer is stopped (want_keys), the
 * keys re-read and the page asked again: the records already applied apply again, unchanged.
 */
#define STASH_RECORDS 64
#define STASH_BYTES (512u * 1024u)

struct fetch_stream {
	struct s15_remote *x;
	ds_record_cb cb;
	void *ud;
	struct ds_sync15_splitter sp;
	bool may_stash;
	bool want_keys;
	struct ds_sync15_bso stash[STASH_RECORDS];
	size_t n_stash, stash_bytes;
};

static void stash_clear(struct fetch_stream *fs)
{
	for (size_t i = 0; i < fs->n_stash; i++)
		ds_sync15_bso_clear(&fs->stash[i]);
	fs->n_stash = fs->stash_bytes = 0;
}

/* Hand one BSO to the core, decrypted; one that fails goes as a record with neither payload
 * nor deletion, which the core counts in errors and never applies. 1: the BSO went to the
 * stash, which owns it now. */
static int deliver(struct fetch_stream *fs, struct ds_sync15_bso *b)
{
	struct s15_remote *x = fs->x;
	struct ds_record in = { .id = b->id, .payload = b->payload, .modified_ms = b->modified_ms };
	struct ds_record out = { 0 };
	int rc = x->tr->ops->decode(x->tr, &in, &out);

	if (rc == -EBADMSG && fs->may_stash &&
	    ds_sync15_keys_refetch_due(x->g, ds_port_mono_ms())) {
		size_t len = strlen(b->payload);

		if (fs->n_stash < STASH_RECORDS && len <= STASH_BYTES - fs->stash_bytes) {
			fs->stash[fs->n_stash++] = *b;
			fs->stash_bytes += len;
			memset(b, 0, sizeof(*b));
			return 1;
		}
		fs->want_keys = true;
		return -ECANCELED;
	}
	if (rc == -EBADMSG || rc == -EILSEQ) {
		struct ds_record bad = { .id = b->id, .modified_ms = b->modified_ms };
		x->undecryptable++;
		DS_LOG_WRN("%s: a record failed to decrypt (%s); skipped", x->collection, ds_strerror(rc));
		return fs->cb(&bad, fs->ud);
	}
	if (rc < 0)
		return rc;
	rc = fs->cb(&out, fs->ud);
	ds_record_clear(&out);
	return rc;
}

/* The splitter's callback: one BSO object of the answer. */
static int on_bso(const char *json, size_t len, void *user_data)
{
	struct fetch_stream *fs = user_data;
	struct ds_sync15_bso b;
	cJSON *o = cJSON_ParseWithLength(json, len);
	int rc = ds_sync15_bso_from_json(o, &b); /* -EPROTO for NULL: JSON that does not parse */

	cJSON_Delete(o);
	if (rc == -EPROTO) {
		DS_LOG_WRN("%s: a malformed record in the answer; skipped", fs->x->collection);
		fs->x->undecryptable++;
		return 0;
	}
	if (rc < 0)
		return rc;
	rc = deliver(fs, &b);
	if (rc == 1)
		return 0;
	ds_sync15_bso_clear(&b);
	return rc;
}

static int on_body(const void *data, size_t len, void *user_data)
{
	struct fetch_stream *fs = user_data;

	return ds_sync15_splitter_feed(&fs->sp, data, len);
}

/* Why the answer stopped, in words, when the splitter or a record stopped it. */
static int stream_error(struct fetch_stream *fs, int rc)
{
	struct s15_remote *x = fs->x;

	if (fs->sp.err == -EMSGSIZE) {
		ds_sync15_client_set_error(x->client, "reading %s: a record longer than %zu bytes "
						      "(the server's record size limit) arrived; stopped",
					   x->collection, fs->sp.max_object);
		return -EMSGSIZE;
	}
	if (fs->sp.err == -EPROTO) {
		ds_sync15_client_set_error(x->client, "reading %s: the answer is not a list of "
						      "records", x->collection);
		return -EPROTO;
	}
	return rc;
}

/* One GET of the download from cur into page (zeroed by the caller). */
static int fetch_once(struct s15_remote *x, const struct cursor *cur, struct fetch_stream *fs,
		      struct ds_fetch_page *page, bool *restart)
{
	struct ds_http_response resp;
	char newer[DS_SYNC15_TS_MAX], lim[24] = "", *path, *off = NULL;
	const char *next;
	int64_t lm;
	int rc;
	/* The first download of a limited collection: one request for the newest N, the rest is
	 * never fetched (sync15.md §9); X-Weave-Next-Offset is ignored and later runs go on from
	 * this answer's X-Last-Modified. */
	bool limited = x->download_limit && cur->newer < 0 && !cur->offset[0];

	*restart = false;
	fs->want_keys = false;
	stash_clear(fs);
	ds_sync15_splitter_clear(&fs->sp);
	ds_sync15_splitter_init(&fs->sp, ds_sync15_max_bso_text(&x->g->limits), on_bso, fs);
	if (cur->offset[0] && !(off = ds_sync15_url_escape(cur->offset)))
		return -ENOMEM;
	ds_sync15_ts_format(cur->newer, newer);
	/* No limit by default: the answer is read as it arrives, so one request takes the whole
	 * download (as AS does) without holding it; a server that pages on its own sends
	 * X-Weave-Next-Offset, followed below. */
	if (x->page_records)
		snprintf(lim, sizeof(lim), "&limit=%u", x->page_records);
	if (limited)
		path = ds_asprintf("storage/%s?full=1&sort=%s&limit=%u", x->collection,
				   x->download_sort, x->download_limit);
	else
		path = ds_asprintf("storage/%s?full=1&sort=oldest%s%s%s%s%s", x->collection, lim,
				   cur->newer >= 0 ? "&newer=" : "", cur->newer >= 0 ? newer : "",
				   off ? "&offset=" : "", off ? off : "");
	ds_free(off);
	if (!path)
		return -ENOMEM;
	rc = ds_sync15_get_stream(x->client, path, cur->offset[0] ? cur->lm : -1, on_body, fs, &resp);
	ds_free(path);
	if (ds_sync15_client_take_reassigned(x->client)) {
		if (rc == 0)
			ds_http_response_free(&resp);
		ds_sync15_global_clear(x->g);
		ds_sync15_client_set_error(x->client, "the account moved to another storage node; "
						      "the next run starts over there");
		return -EAGAIN;
	}
	if (rc < 0)
		return fs->want_keys ? 0 : stream_error(fs, rc);
	rc = 0;
	if (cur->offset[0] && (resp.status == 412 || resp.status == 400)) {
		/* The collection changed between pages, or the offset expired: start this download
		 * again from where the last complete one ended (DESK aborts; we retry once). */
		*restart = true;
		goto out;
	}
	if (resp.status == 404) {
		if (cur->newer >= 0)
			ds_sync15_ts_format(cur->newer, page->next_cursor);
		goto out;
	}
	if (resp.status != 200) {
		ds_sync15_client_set_error(x->client, "reading %s: the server answered %d",
					   x->collection, resp.status);
		rc = -EPROTO;
		goto out;
	}
	lm = ds_sync15_last_modified(&resp);
	/* A transport that does not stream kept the body: read it the same way. */
	rc = resp.body ? ds_sync15_splitter_feed(&fs->sp, resp.body, resp.body_len) : 0;
	if (rc == 0)
		rc = ds_sync15_splitter_finish(&fs->sp);
	if (rc < 0) {
		rc = fs->want_keys ? 0 : stream_error(fs, rc);
		goto out;
	}
	if (lm < 0) {
		ds_sync15_client_set_error(x->client, "reading %s: unusable answer", x->collection);
		rc = -EPROTO;
		goto out;
	}
	next = ds_http_header(&resp, "x-weave-next-offset");
	if (cur->offset[0])
		lm = cur->lm; /* the download's first page's */
	if (next && *next && !limited) {
		char lmtxt[DS_SYNC15_TS_MAX];
		int n;

		ds_sync15_ts_format(lm, lmtxt);
		n = snprintf(page->next_cursor, sizeof(page->next_cursor), "%s|%s|%s",
			     cur->newer >= 0 ? newer : "", lmtxt, next);
		if (n < 0 || (size_t)n >= sizeof(page->next_cursor)) {
			ds_sync15_client_set_error(x->client, "the server's paging offset is too long");
			rc = -EPROTO;
		}
		page->more = true;
	} else {
		ds_sync15_ts_format(lm, page->next_cursor);
	}
out:
	ds_http_response_free(&resp);
	return rc;
}

/* A record failed its HMAC: re-read crypto/keys (another device may have rotated them). */
static int refetch_keys(struct s15_remote *x)
{
	uint8_t ksync[64];
	int changed = x->auth.ops->ksync(x->auth.ctx, ksync);

	if (changed == 0)
		changed = ds_sync15_global_refetch_keys(x->client, x->g, ksync);
	ds_memzero(ksync, sizeof(ksync));
	if (changed > 0)
		ds_sync15_transform_set_keys(x->tr, ds_sync15_keyring_get(&x->g->keys, x->collection));
	return changed < 0 ? changed : 0;
}

/* The answer is complete: re-read the keys once for the records that failed, and hand those on
 * with whatever keys there are now (a record still failing goes as undecryptable). */
static int deliver_stash(struct s15_remote *x, struct fetch_stream *fs)
{
	int rc;

	if (!fs->n_stash)
		return 0;
	fs->may_stash = false;
	rc = refetch_keys(x);
	for (size_t i = 0; rc == 0 && i < fs->n_stash; i++)
		rc = deliver(fs, &fs->stash[i]);
	stash_clear(fs);
	return rc;
}

static int s15_fetch(struct ds_remote *r, const char *cursor, ds_record_cb cb, void *user_data,
		     struct ds_fetch_page *page)
{
	struct s15_remote *x = rem_of(r);
	struct fetch_stream *fs;
	struct cursor cur;
	bool restart = false;
	int rc;

	memset(page, 0, sizeof(*page));
	if (!x->prepared)
		return -EINVAL;
	if (cursor_parse(cursor, &cur) < 0) {
		snprintf(x->error, sizeof(x->error), "'%s' is not a cursor of the sync15 remote", cursor);
		return -EINVAL;
	}
	/* First download of a collection info/collections did not list at prepare: there is
	 * nothing to read, so no request (a first upload then costs only its POSTs). A client
	 * creating it meanwhile makes our upload's X-If-Unmodified-Since: 0 fail with 412, and
	 * the core reads again. */
	if (cur.newer < 0 && !cur.offset[0] && x->coll_ts < 0)
		return 0;
	fs = ds_calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->x = x;
	fs->cb = cb;
	fs->ud = user_data;
	fs->may_stash = true;
	lock(x);
	for (;;) {
		memset(page, 0, sizeof(*page));
		rc = fetch_once(x, &cur, fs, page, &restart);
		if (rc == 0 && fs->want_keys) {
			/* Too many records failed to keep aside: re-read the keys and ask for the
			 * page again. Once per fetch: a record that still fails is then skipped. */
			fs->may_stash = false;
			rc = refetch_keys(x);
			if (rc < 0)
				break;
			continue;
		}
		if (rc == 0 && restart) {
			/* Once per run, not per page: the pages of one download are separate fetches,
			 * and a client writing all the time must not keep this run restarting (AT-12;
			 * DESK aborts at the first). The next run starts from the old last-sync. */
			if (x->paging_restarts++ >= 1) {
				ds_sync15_client_set_error(x->client, "%s kept changing during a paged "
								      "download; the next run reads it again",
							   x->collection);
				rc = -EAGAIN;
				break;
			}
			DS_LOG_INF("%s: the collection changed during a paged download; starting it again",
				   x->collection);
			cur.lm = -1;
			cur.offset[0] = '\0';
			continue;
		}
		if (rc == 0)
			rc = deliver_stash(x, fs);
		if (rc == 0 && page->more) {
			/* The server paged (our limit, or its own): the next page in the same fetch,
			 * so the core stores the cursor once, after the whole download (AT-12: the
			 * old last-sync stays until then). */
			if (cursor_parse(page->next_cursor, &cur) < 0) {
				rc = -EPROTO;
				break;
			}
			continue;
		}
		break;
	}
	unlock(x);
	stash_clear(fs);
	ds_sync15_splitter_clear(&fs->sp);
	ds_free(fs);
	return rc < 0 ? fail(x, rc) : 0;
}

/* ---- upload ------------------------------------------------------------------------------- */

static int do_upload(struct s15_remote *x, const char *cursor, const struct ds_record *recs,
		     size_t n, struct ds_upload_result *res)
{
	struct ds_sync15_post_queue *q;
	const struct ds_sync15_upload_stats *st;
	struct cursor cur;
	int64_t xius;
	int rc;

	if (cursor_parse(cursor, &cur) < 0 || cur.offset[0])
		return -EINVAL;
	/* No cursor: the collection did not exist at prepare; 0 = "create only". */
	xius = cur.newer >= 0 ? cur.newer : 0;
	rc = ds_sync15_post_queue_new(x->client, x->collection, &x->g->limits, xius, &q);
	if (rc < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct ds_record enc = { 0 };
		char *bso;

		rc = x->tr->ops->encode(x->tr, &recs[i], &enc);
		if (rc == -EILSEQ || rc == -EINVAL) {
			DS_LOG_WRN("%s: a local record cannot be encoded (%s); not uploaded",
				   x->collection, ds_strerror(rc));
			res->failed++;
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		/* The engine's storage hints (DOCS apis-1.5 BSO "ttl", "sortindex"): the transform
		 * builds a new record, so they are taken from the core's. */
		long sortindex = recs[i].sortindex;
		bso = ds_sync15_bso_to_json(enc.id, enc.payload, recs[i].sortindex ? &sortindex : NULL,
					    (long)recs[i].ttl_s);
		if (!bso)
			rc = -ENOMEM;
		else
			rc = ds_sync15_post_queue_add(q, enc.id, bso, strlen(enc.payload));
		ds_free(bso);
		ds_record_clear(&enc);
	}
	if (rc == 0)
		rc = ds_sync15_post_queue_flush(q);
	st = ds_sync15_post_queue_stats(q);
	res->accepted = st->accepted;
	res->failed += st->failed;
	if (st->commits) {
		res->modified_ms = st->modified_ms;
		ds_sync15_ts_format(st->modified_ms, res->new_cursor);
	} else {
		snprintf(res->new_cursor, sizeof(res->new_cursor), "%s", cursor);
	}
	if (rc == 0 && st->too_large)
		DS_LOG_WRN("%s: %zu record(s) too large for the server were not uploaded", x->collection,
			   st->too_large);
	ds_sync15_post_queue_free(q);
	if (rc == -ESTALE)
		x->coll_ts = 0; /* it exists now: the refetch must read it */
	if (rc == 0 && ds_sync15_client_take_reassigned(x->client)) {
		ds_sync15_global_clear(x->g);
		rc = -EAGAIN;
	}
	return rc;
}

static int s15_upload(struct ds_remote *r, const char *cursor, const struct ds_record *recs,
		      size_t n, struct ds_upload_result *res)
{
	struct s15_remote *x = rem_of(r);
	int rc;

	memset(res, 0, sizeof(*res));
	if (!x->prepared)
		return -EINVAL;
	lock(x);
	rc = do_upload(x, cursor, recs, n, res);
	unlock(x);
	return rc < 0 ? fail(x, rc) : 0;
}

static int64_t s15_backoff_s(struct ds_remote *r)
{
	return ds_sync15_client_backoff_s(rem_of(r)->client);
}

static int64_t s15_hard_backoff_s(struct ds_remote *r)
{
	return ds_sync15_client_hard_backoff_s(rem_of(r)->client);
}

static const char *s15_message(struct ds_remote *r)
{
	return rem_of(r)->error;
}

static void s15_close(struct ds_remote *r)
{
	struct s15_remote *x = rem_of(r);

	if (x->tr)
		x->tr->ops->close(x->tr);
	ds_sync15_client_free(x->client);
	ds_sync15_account_idle(&x->auth);
	if (x->g != &shared_global) {
		/* a test's own state: the test frees it */
	}
	ds_free(x->collection);
	ds_free(x);
}

static const struct ds_remote_ops s15_ops = {
	.kind = "sync15",
	.prepare = s15_prepare,
	.fetch = s15_fetch,
	.upload = s15_upload,
	.backoff_s = s15_backoff_s,
	.hard_backoff_s = s15_hard_backoff_s,
	.epoch_changed = s15_epoch_changed,
	.message = s15_message,
	.attach_store = ds_sync15_remote_set_store,
	.close = s15_close,
};

int ds_sync15_remote_new(const struct ds_sync15_remote_config *cfg, struct ds_remote **out)
{
	struct ds_sync15_client_config cc = { 0 };
	struct s15_remote *x;
	int rc;

	*out = NULL;
	if (!cfg || !cfg->collection || !cfg->auth.ops || strlen(cfg->collection) > 32)
		return -EINVAL;
	for (const char *p = cfg->collection; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_' || *p == '-' || *p == '.'))
			return -EINVAL;
	x = ds_calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->base.ops = &s15_ops;
	x->base.priv = x;
	x->engine_version = cfg->engine_version > 0 ? cfg->engine_version : 1;
	x->read_only = cfg->read_only;
	x->enable = cfg->enable;
	x->page_records = cfg->page_records ? cfg->page_records : CONFIG_DS_REMOTE_SYNC15_PAGE_RECORDS;
	if (x->page_records == DS_SYNC15_PAGE_UNLIMITED)
		x->page_records = 0;
	x->download_sort = "newest";
	x->auth = cfg->auth;
	x->device = cfg->device;
	x->g = cfg->global ? cfg->global : &shared_global;
	x->coll_ts = -1;
	cc.auth = cfg->auth;
	cc.transport = cfg->transport;
	cc.ca_bundle = cfg->ca_bundle;
	x->collection = ds_strdup(cfg->collection);
	if (!x->collection) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = ds_sync15_client_new(&cc, &x->client);
	if (rc < 0)
		goto fail;
	*out = &x->base;
	return 0;
fail:
	ds_free(x->collection);
	ds_free(x);
	return rc;
}

int ds_sync15_remote_set_download_limit(struct ds_remote *r, unsigned limit, const char *sort)
{
	struct s15_remote *x = rem_of(r);

	if (!sort || strcmp(sort, "newest") == 0)
		x->download_sort = "newest";
	else if (strcmp(sort, "index") == 0)
		x->download_sort = "index";
	else
		return -EINVAL;
	x->download_limit = limit;
	return 0;
}

unsigned ds_sync15_remote_download_limit(struct ds_remote *r, const char **sort)
{
	struct s15_remote *x = rem_of(r);

	if (sort)
		*sort = x->download_sort;
	return x->download_limit;
}

void ds_sync15_remote_set_store(struct ds_remote *r, struct ds_store *store)
{
	rem_of(r)->store = store;
}

const char *ds_sync15_remote_error(struct ds_remote *r)
{
	return rem_of(r)->error;
}

struct ds_sync15_client *ds_sync15_remote_client(struct ds_remote *r)
{
	return rem_of(r)->client;
}

unsigned long ds_sync15_remote_undecryptable(struct ds_remote *r)
{
	return rem_of(r)->undecryptable;
}

/* ---- registration ------------------------------------------------------------------------- */

static const char *opt_str(const cJSON *cfg, const char *key)
{
	const char *v = ds_sync15_json_str(cfg, key);

	return v && *v ? v : NULL;
}

/* "download_limit" / "download_sort"; history defaults to Firefox's newest 5000. */
static int download_limit_opt(const cJSON *cfg, const char *collection, struct ds_remote *r)
{
	const cJSON *lim = cJSON_GetObjectItemCaseSensitive(cfg, "download_limit");
	const cJSON *sort = cJSON_GetObjectItemCaseSensitive(cfg, "download_sort");
	unsigned n = 0;

	if (lim && (!cJSON_IsNumber(lim) || lim->valuedouble < 0 || lim->valuedouble > 10000000 ||
		    lim->valuedouble != (double)lim->valueint)) {
		DS_LOG_ERR("sync15: \"download_limit\" must be a whole number of records (0: all)");
		return -EINVAL;
	}
	if (lim)
		n = (unsigned)lim->valueint;
	else if (!sort && strcmp(collection, "history") == 0)
		n = DS_SYNC15_HISTORY_DOWNLOAD_LIMIT;
	/* A "download_sort" that is not a string is refused like an unknown one. */
	if ((sort && !cJSON_IsString(sort)) ||
	    ds_sync15_remote_set_download_limit(r, n, sort ? sort->valuestring : NULL) < 0) {
		DS_LOG_ERR("sync15: \"download_sort\" must be \"newest\" or \"index\"");
		return -EINVAL;
	}
	return 0;
}

int ds_remote_sync15_open(const cJSON *cfg, const char *collection, const char *device_id,
			  struct ds_remote **out)
{
	struct ds_sync15_account_config ac = { 0 };
	struct ds_sync15_remote_config rc = { 0 };
	char ca[512];
	const cJSON *v;
	int err;

	DS_UNUSED(device_id);
	*out = NULL;
	rc.collection = opt_str(cfg, "collection");
	if (!rc.collection)
		rc.collection = collection;
	v = cJSON_GetObjectItemCaseSensitive(cfg, "engine_version");
	if (v && (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1000)) {
		DS_LOG_ERR("sync15: \"engine_version\" must be a positive integer");
		return -EINVAL;
	}
	rc.engine_version = v ? v->valueint : 1;
	rc.read_only = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "read_only"));
	rc.enable = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "enable"));
	ac.fxa_url = opt_str(cfg, "fxa_url");
	ac.tokenserver_url = opt_str(cfg, "tokenserver_url");
	ac.ca_bundle = opt_str(cfg, "ca_bundle");
	if (ac.ca_bundle)
		rc.ca_bundle = ac.ca_bundle;
	else if (ds_sync15_account_ca_bundle(ca, sizeof(ca)) > 0)
		rc.ca_bundle = ca;
	rc.device = ds_sync15_account_device;
	err = ds_sync15_account_auth(&ac, &rc.auth);
	if (err < 0)
		return err;
	err = ds_sync15_remote_new(&rc, out);
	if (err == -EINVAL)
		DS_LOG_ERR("sync15: \"collection\" must be 1-32 characters of A-Z a-z 0-9 _ - .");
	if (err < 0)
		return err;
	err = download_limit_opt(cfg, rc.collection, *out);
	if (err < 0) {
		(*out)->ops->close(*out);
		*out = NULL;
	}
	return err;
}
