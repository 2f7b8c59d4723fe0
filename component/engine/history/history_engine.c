/*
 * The history engine: Firefox Sync history records over a struct ds_history_store.
 *
 * Record (sync15.md §8; application-services places/src/history_sync/record.rs):
 *   {"id": guid, "histUri": url, "title": text, "visits": [{"date": µs, "type": 1..9}, ...]}
 * Rules (sync15.md §9; AS history_sync/plan.rs, desktop history.sys.mjs), each with a test in
 * test/unit/history_engine_test.c:
 *  - places are keyed by URL: a record whose URL the browser holds under another guid renames
 *    the local place to the record's guid (the first device to upload named it);
 *  - visits are merged, never replaced, and deduplicated by (date, type);
 *  - at most 20 visits per record (the newest) and the 5,000 most recently visited places on a
 *    first upload;
 *  - future visit dates are clamped to now, visits before 1993-01-23 dropped, unknown
 *    transition types skipped; a record left without a visit is not applied;
 *  - URLs that are empty, longer than 65,536 bytes or without a scheme are refused, and so are
 *    ids that are not 12 base64url characters (desktop PlacesUtils.isValidGuid, AS
 *    Guid::is_valid_for_places): Places could not store them;
 *  - records go out with a BSO ttl of 60 days and the page's frecency as sortindex (AS
 *    history_sync/plan.rs, desktop history.sys.mjs createRecord), so that the server's
 *    "sort=index" download of the newest 5,000 gives the pages the user visits most.
 */
#define DS_LOG_TAG "history"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "ds_port.h"
#include "engine/browser/ds_browser_engine.h"
#include "engine/history/ds_history.h"
#include "sync/ds_sync.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Record fields the browser stores; others are kept beside the place and sent back. */
static const char *const KNOWN_FIELDS[] = { "id", "histUri", "title", "visits", NULL };

/* Longest title Places stores (nsNavHistory.h and AS places TITLE_LENGTH_MAX): longer ones
 * are cut, on a UTF-8 character boundary. */
#define HISTORY_MAX_TITLE 4096

/* Longest URL Places stores (AS places MAX_URL_LENGTH, desktop's places.maxUrlLength default). */
#define HISTORY_MAX_URL 65536

struct history_engine {
	struct ds_browser_engine b; /* over the store's tracking ops */
	struct ds_history_store *store;
	struct ds_history_options opt;
};

static struct history_engine *H(struct ds_engine *e)
{
	return DS_CONTAINER_OF(e, struct history_engine, b.e);
}

static void *S(struct history_engine *h)
{
	return h->store->priv;
}

static int64_t now_us(struct history_engine *h)
{
	int64_t ms = h->opt.now_ms ? h->opt.now_ms(h->opt.now_user_data) : ds_port_wall_ms();

	return ms * 1000;
}

/* ---- codec ------------------------------------------------------------------------------ */

static int add_number(cJSON *obj, const char *name, int64_t v)
{
	char buf[32];
	cJSON *raw;

	/* Raw, because cJSON would print large integers in exponent notation. */
	snprintf(buf, sizeof(buf), "%" PRId64, v);
	raw = cJSON_CreateRaw(buf);
	if (!raw)
		return -ENOMEM;
	if (!cJSON_AddItemToObject(obj, name, raw)) {
		cJSON_Delete(raw);
		return -ENOMEM;
	}
	return 0;
}

/* Record JSON of a place; its visits are already newest first and limited. */
static int encode_place(const struct ds_history_place *p, char **out)
{
	cJSON *o = cJSON_CreateObject(), *vs;
	size_t i;
	int rc = -ENOMEM;

	*out = NULL;
	if (!o)
		return -ENOMEM;
	if (!cJSON_AddStringToObject(o, "id", p->guid) ||
	    !cJSON_AddStringToObject(o, "histUri", p->url) ||
	    !cJSON_AddStringToObject(o, "title", p->title ? p->title : "") ||
	    !(vs = cJSON_AddArrayToObject(o, "visits")))
		goto out;
	for (i = 0; i < p->n_visits; i++) {
		cJSON *v = cJSON_CreateObject();

		if (!v || !cJSON_AddItemToArray(vs, v)) {
			cJSON_Delete(v);
			goto out;
		}
		if (add_number(v, "date", p->visits[i].date_us) || add_number(v, "type", p->visits[i].type))
			goto out;
	}
	*out = ds_browser_json_print(o);
	rc = *out ? 0 : -ENOMEM;
out:
	cJSON_Delete(o);
	return rc;
}

static int visit_cmp(const void *a, const void *b)
{
	const struct ds_history_visit *x = a, *y = b;

	if (x->date_us != y->date_us)
		return x->date_us > y->date_us ? -1 : 1;
	return x->type - y->type;
}

/* Sort newest first, drop (date, type) duplicates, keep at most max. */
static void visits_normalise(struct ds_history_place *p, size_t max)
{
	size_t i, n = 0;

	if (p->n_visits == 0)
		return;
	qsort(p->visits, p->n_visits, sizeof(*p->visits), visit_cmp);
	for (i = 0; i < p->n_visits; i++)
		if (n == 0 || visit_cmp(&p->visits[n - 1], &p->visits[i]) != 0)
			p->visits[n++] = p->visits[i];
	p->n_visits = DS_MIN(n, max);
}

/* A visit's date as integer µs; numbers only (every client writes numbers). */
static bool visit_date(const cJSON *d, int64_t *out)
{
	if (!cJSON_IsNumber(d) || d->valuedouble != d->valuedouble ||
	    d->valuedouble > 9.0e15 || d->valuedouble < -9.0e15)
		return false;
	*out = (int64_t)d->valuedouble;
	return true;
}

/*
 * Parse and apply the rules to a record's payload. With new_guid, p becomes a new place of that
 * guid with the record's URL and title; without, the record's visits are appended to those p
 * holds (another version of the same page). -EBADMSG for a record that is not a history record
 * we can store.
 */
static int decode_into(struct history_engine *h, const char *payload, struct ds_history_place *p,
		       const char *new_guid)
{
	cJSON *o;
	const cJSON *uri, *title, *visits, *v;
	int64_t now = now_us(h);
	size_t n;
	int rc = -EBADMSG;

	if (new_guid) {
		memset(p, 0, sizeof(*p));
		snprintf(p->guid, sizeof(p->guid), "%s", new_guid);
	}
	o = cJSON_Parse(payload);
	if (!o)
		return -EBADMSG;
	uri = cJSON_GetObjectItemCaseSensitive(o, "histUri");
	title = cJSON_GetObjectItemCaseSensitive(o, "title");
	visits = cJSON_GetObjectItemCaseSensitive(o, "visits");
	if (!cJSON_IsString(uri) || !*uri->valuestring || strlen(uri->valuestring) > HISTORY_MAX_URL ||
	    !strchr(uri->valuestring, ':') || !cJSON_IsArray(visits))
		goto out;
	rc = -ENOMEM;
	if (new_guid) {
		if (!(p->url = ds_strdup(uri->valuestring)))
			goto out;
		/* title null or absent -> "" (sync15.md §8); non-string titles are ignored. */
		const char *t = cJSON_IsString(title) ? title->valuestring : "";
		size_t tn = strlen(t);

		if (tn > HISTORY_MAX_TITLE) {
			tn = HISTORY_MAX_TITLE;
			while (tn > 0 && ((unsigned char)t[tn] & 0xC0) == 0x80)
				tn--;
		}
		if (!(p->title = ds_strndup(t, tn)))
			goto out;
	} else if (p->url && strcmp(p->url, uri->valuestring) != 0) {
		rc = -EBADMSG;
		goto out;
	} else if (cJSON_IsString(title) && *title->valuestring) {
		/* Another version's title replaces ours unless it has none. */
		ds_free(p->title);
		if (!(p->title = ds_strdup(title->valuestring)))
			goto out;
	}
	n = (size_t)cJSON_GetArraySize(visits);
	if (n) {
		struct ds_history_visit *nv = ds_realloc(p->visits, (p->n_visits + n) * sizeof(*nv));

		if (!nv)
			goto out;
		p->visits = nv;
	}
	cJSON_ArrayForEach(v, visits) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(v, "type");
		int64_t date;

		if (!visit_date(cJSON_GetObjectItemCaseSensitive(v, "date"), &date) ||
		    !cJSON_IsNumber(t) || t->valuedouble < 1 || t->valuedouble > 9 ||
		    t->valuedouble != (double)(int)t->valuedouble)
			continue; /* unknown transition or no date: skipped, like AS */
		if (date < DS_HISTORY_EARLIEST_US)
			continue;
		if (date > now)
			date = now;
		p->visits[p->n_visits].date_us = date;
		p->visits[p->n_visits].type = t->valueint;
		p->n_visits++;
	}
	rc = 0;
out:
	cJSON_Delete(o);
	return rc;
}

/* ---- engine ops ------------------------------------------------------------------------- */

/* Places' guid: 12 characters of the base64url alphabet (PlacesUtils.isValidGuid). */
static bool valid_guid(const char *id)
{
	size_t i;

	for (i = 0; id[i]; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= '0' && id[i] <= '9') || id[i] == '-' || id[i] == '_'))
			return false;
	return i == 12;
}

/* A frecency as a BSO sortindex: at most 9 digits (storage apis-1.5 "sortindex"); Places'
 * "not computed yet" (-1) and 0 send none. */
static int32_t sortindex_of(int64_t frecency)
{
	if (frecency <= 0)
		return 0;
	return frecency > 999999999 ? 999999999 : (int32_t)frecency;
}

/* Current state of guid as a record: payload, or a tombstone when it is gone. */
static int current(struct history_engine *h, const char *guid, struct ds_record *out, bool must_exist)
{
	struct ds_history_place p;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = h->store->ops->get(S(h), guid, h->opt.max_visits, &p);
	out->ttl_s = DS_HISTORY_TTL_S;
	if (rc == -ENOENT && !must_exist) {
		out->deleted = true;
		rc = 0;
	} else if (rc) {
		return rc;
	} else {
		out->sortindex = sortindex_of(p.frecency);
		visits_normalise(&p, h->opt.max_visits);
		rc = encode_place(&p, &out->payload);
		ds_history_place_clear(&p);
		if (rc == 0)
			rc = ds_browser_unknown_load(&h->store->ops->track, S(h), guid, &out->payload);
	}
	if (rc == 0 && !(out->id = ds_strdup(guid)))
		rc = -ENOMEM;
	if (rc)
		ds_record_clear(out);
	return rc;
}

static int h_get(struct ds_engine *e, const char *id, struct ds_record *out)
{
	return current(H(e), id, out, true);
}

static int h_current(struct ds_engine *e, const char *guid, struct ds_record *out)
{
	return current(H(e), guid, out, false);
}

static int h_apply(struct ds_engine *e, const struct ds_record *r)
{
	struct history_engine *h = H(e);
	struct ds_history_place p;
	char other[DS_BROWSER_ID_MAX];
	int rc;

	if (!r->id || !valid_guid(r->id)) {
		DS_LOG_DBG("history record with an id Places cannot store skipped");
		return -EBADMSG;
	}
	if (r->deleted || !r->payload) {
		rc = h->store->ops->remove(S(h), r->id);
		return rc ? rc : ds_browser_unknown_keep(&h->store->ops->track, S(h), r->id, NULL, KNOWN_FIELDS);
	}
	rc = decode_into(h, r->payload, &p, r->id);
	if (rc)
		goto out;
	if (p.n_visits == 0) {
		/* Nothing left that Places could store: not an error, nothing to do. */
		DS_LOG_DBG("history record without a valid visit skipped");
		goto out;
	}
	/* Same guid, another URL (ids are random, so a broken record): set_guid and put refuse it. */
	rc = h->store->ops->find_url(S(h), p.url, other);
	if (rc == 0 && strcmp(other, p.guid) != 0)
		rc = h->store->ops->set_guid(S(h), other, p.guid);
	else if (rc == -ENOENT)
		rc = 0;
	if (rc == 0) {
		visits_normalise(&p, SIZE_MAX);
		rc = h->store->ops->put(S(h), &p);
	}
	if (rc == 0)
		rc = ds_browser_unknown_keep(&h->store->ops->track, S(h), p.guid, r->payload, KNOWN_FIELDS);
out:
	ds_history_place_clear(&p);
	return rc;
}

/* Both sides changed: the union of the visits, the remote's title unless it has none. */
static int h_merge(struct ds_engine *e, const struct ds_record *local, const struct ds_record *remote,
		   struct ds_record *out)
{
	struct history_engine *h = H(e);
	struct ds_history_place p;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = decode_into(h, local->payload, &p, remote->id);
	/* The local title stays when the remote has none. */
	if (rc == 0)
		rc = decode_into(h, remote->payload, &p, NULL);
	if (rc == 0) {
		visits_normalise(&p, h->opt.max_visits);
		rc = encode_place(&p, &out->payload);
	}
	if (rc == 0) {
		/* Fields only the other clients know come from the remote version. */
		char *u = NULL;

		rc = ds_browser_unknown_split(remote->payload, KNOWN_FIELDS, &u);
		if (rc == 0)
			rc = ds_browser_unknown_join(&out->payload, u);
		ds_free(u);
	}
	if (rc == 0 && !(out->id = ds_strdup(remote->id)))
		rc = -ENOMEM;
	out->ttl_s = DS_HISTORY_TTL_S;
	if (rc == 0) {
		/* The local place's rank: the remote's is not ours to know. */
		struct ds_history_place cur;

		if (h->store->ops->get(S(h), remote->id, 1, &cur) == 0) {
			out->sortindex = sortindex_of(cur.frecency);
			ds_history_place_clear(&cur);
		}
	}
	ds_history_place_clear(&p);
	if (rc)
		ds_record_clear(out);
	return rc;
}

static int h_mark_all(struct ds_engine *e)
{
	struct history_engine *h = H(e);

	return h->store->ops->track.mark_all(S(h), h->opt.max_places);
}

static void h_close(struct ds_engine *e)
{
	struct history_engine *h;

	if (!e)
		return;
	h = H(e);
	h->store->ops->track.close(S(h));
	ds_free(h->store);
	ds_free(h);
}

static const struct ds_engine_ops history_ops = {
	.kind = "history",
	.prepare = ds_browser_engine_prepare,
	.begin = ds_browser_engine_begin,
	.commit = ds_browser_engine_commit,
	.rollback = ds_browser_engine_rollback,
	.changes = ds_browser_engine_changes,
	.changes_after = ds_browser_engine_changes_after,
	.pending = ds_browser_engine_pending,
	.get = h_get,
	.apply = h_apply,
	.forget = ds_browser_engine_forget,
	.merge = h_merge,
	.mark_all = h_mark_all,
	.wipe = ds_browser_engine_wipe,
	.close = h_close,
};

int ds_history_engine_new(struct ds_history_store *store, const struct ds_history_options *opt,
			  struct ds_engine **out)
{
	struct history_engine *h;

	*out = NULL;
	if (!store || !store->ops)
		return -EINVAL;
	h = ds_calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	if (opt)
		h->opt = *opt;
	if (!h->opt.max_visits)
		h->opt.max_visits = DS_HISTORY_MAX_VISITS;
	if (!h->opt.max_places)
		h->opt.max_places = DS_HISTORY_MAX_PLACES;
	h->store = store;
	h->b.track = &store->ops->track;
	h->b.s = store->priv;
	h->b.current = h_current;
	h->b.e.ops = &history_ops;
	h->b.e.priv = h;
	*out = &h->b.e;
	return 0;
}

static const char *places_path(const cJSON *cfg)
{
	return ds_browser_cfg_path(cfg, "history", "places", "places.sqlite");
}

int ds_history_engine_open(const cJSON *cfg, struct ds_engine **out)
{
	struct ds_history_store *s = NULL;
	const char *path = places_path(cfg);
	int rc;

	*out = NULL;
	if (!path)
		return -EINVAL;
	rc = ds_history_places_open(path, &s);
	if (rc)
		return rc;
	rc = ds_history_engine_new(s, NULL, out);
	if (rc) {
		s->ops->track.close(s->priv);
		ds_free(s);
	}
	return rc;
}

int ds_history_engine_unregister(const cJSON *cfg)
{
	const char *path = places_path(cfg);

	return path ? ds_history_places_uninstall(path) : -EINVAL;
}
