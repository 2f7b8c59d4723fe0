/*
 * Bookmark records, storage version 2 (sync15.md §8; application-services
 * places/src/bookmark_sync/record.rs, DOCS sync/objectformats.rst):
 *   common:    id, type, parentid, parentName, dateAdded (ms; a string is accepted, negatives
 *              clamp to 0), hasDupe (round-tripped, never interpreted)
 *   bookmark:  title, bmkUri, keyword, tags[]     query: title, bmkUri ("place:...")
 *   folder:    title, children[] (ordered ids)    livemark: title (feedUri, siteUri round-trip)
 *   separator: pos
 * A bookmark whose URL is place: is a query and a query whose URL is not is a bookmark (Places
 * tells them apart by the URL alone).
 * Roots: places|menu|toolbar|unfiled|mobile <-> root________|menu________|toolbar_____|
 * unfiled_____|mobile______ (AS storage/bookmarks/root_guid.rs).
 */
#include "core/ds_core.h"
#include "engine/bookmarks/ds_bookmarks.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *record, *local;
} ROOTS[] = {
	{ "places", DS_BM_ROOT_PLACES },   { "menu", DS_BM_ROOT_MENU },
	{ "toolbar", DS_BM_ROOT_TOOLBAR }, { "unfiled", DS_BM_ROOT_UNFILED },
	{ "mobile", DS_BM_ROOT_MOBILE },
};

const char *ds_bookmarks_local_id(const char *record_id)
{
	for (size_t i = 0; i < DS_ARRAY_SIZE(ROOTS); i++)
		if (strcmp(record_id, ROOTS[i].record) == 0)
			return ROOTS[i].local;
	return record_id;
}

const char *ds_bookmarks_record_id(const char *local_guid)
{
	for (size_t i = 0; i < DS_ARRAY_SIZE(ROOTS); i++)
		if (strcmp(local_guid, ROOTS[i].local) == 0)
			return ROOTS[i].record;
	return local_guid;
}

bool ds_bookmarks_is_root(const char *local_guid)
{
	for (size_t i = 0; i < DS_ARRAY_SIZE(ROOTS); i++)
		if (strcmp(local_guid, ROOTS[i].local) == 0)
			return true;
	return strcmp(local_guid, DS_BM_ROOT_TAGS) == 0;
}

bool ds_bookmarks_guid_valid(const char *guid)
{
	size_t n = 0;

	for (; guid[n]; n++) {
		char c = guid[n];

		if (n == 12 || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				 (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return n == 12;
}

void ds_bookmark_item_clear(struct ds_bookmark_item *it)
{
	if (!it)
		return;
	ds_free(it->title);
	ds_free(it->url);
	ds_free(it->keyword);
	for (size_t i = 0; i < it->n_tags; i++)
		ds_free(it->tags[i]);
	ds_free(it->tags);
	memset(it, 0, sizeof(*it));
}

void ds_bookmark_meta_clear(struct ds_bookmark_meta *m)
{
	if (!m)
		return;
	ds_free(m->remote_children);
	ds_free(m->server_payload);
	memset(m, 0, sizeof(*m));
}

void ds_bookmark_record_clear(struct ds_bookmark_record *r)
{
	if (!r)
		return;
	ds_bookmark_item_clear(&r->item);
	ds_free(r->children);
	memset(r, 0, sizeof(*r));
}

static const char *const KNOWN_BOOKMARK[] = { "id", "type", "parentid", "parentName", "dateAdded",
					      "title", "bmkUri", "keyword", "tags", NULL };
static const char *const KNOWN_QUERY[] = { "id", "type", "parentid", "parentName", "dateAdded",
					   "title", "bmkUri", NULL };
static const char *const KNOWN_FOLDER[] = { "id", "type", "parentid", "parentName", "dateAdded",
					    "title", "children", NULL };
static const char *const KNOWN_LIVEMARK[] = { "id", "type", "parentid", "parentName", "dateAdded",
					      "title", NULL };
static const char *const KNOWN_SEPARATOR[] = { "id", "type", "parentid", "parentName", "dateAdded",
					       "pos", NULL };
static const char *const KNOWN_COMMON[] = { "id", "type", "parentid", "parentName", "dateAdded", NULL };

static const struct {
	const char *name;
	enum ds_bookmark_kind kind;
	const char *const *known;
} TYPES[] = {
	{ "bookmark", DS_BM_BOOKMARK, KNOWN_BOOKMARK },
	{ "query", DS_BM_QUERY, KNOWN_QUERY },
	{ "folder", DS_BM_FOLDER, KNOWN_FOLDER },
	{ "livemark", DS_BM_LIVEMARK, KNOWN_LIVEMARK },
	{ "separator", DS_BM_SEPARATOR, KNOWN_SEPARATOR },
};

const char *const *ds_bookmarks_known_fields(const char *payload)
{
	cJSON *o = cJSON_Parse(payload);
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
	const char *const *known = KNOWN_COMMON;

	for (size_t i = 0; cJSON_IsString(t) && i < DS_ARRAY_SIZE(TYPES); i++)
		if (strcmp(t->valuestring, TYPES[i].name) == 0)
			known = TYPES[i].known;
	cJSON_Delete(o);
	return known;
}

/* Ids are printable ASCII without ',' (AS support/guid), at most DS_BROWSER_ID_MAX - 1. */
static bool id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= DS_BROWSER_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (id[i] < 0x20 || id[i] > 0x7e || id[i] == ',')
			return false;
	return true;
}

/* dateAdded: ms as a number, or a string of one (older desktop versions); negative, missing or
 * unreadable -> 0, which means "unknown" (AS record.rs deserialises it leniently). */
static int64_t date_ms(const cJSON *d)
{
	double v = 0;

	if (cJSON_IsNumber(d)) {
		v = d->valuedouble;
	} else if (cJSON_IsString(d)) {
		char *end = NULL;

		v = strtod(d->valuestring, &end);
		if (end == d->valuestring)
			v = 0;
	}
	if (!(v > 0) || v > 9.0e15)
		return 0;
	return (int64_t)v;
}

static int dup_str(const cJSON *v, char **out)
{
	*out = NULL;
	if (!cJSON_IsString(v))
		return 0;
	*out = ds_strdup(v->valuestring);
	return *out ? 0 : -ENOMEM;
}

static int decode_tags(const cJSON *tags, struct ds_bookmark_item *it)
{
	const cJSON *t;
	int n = cJSON_GetArraySize(tags);

	if (!cJSON_IsArray(tags) || n <= 0)
		return 0;
	it->tags = ds_calloc((size_t)n, sizeof(*it->tags));
	if (!it->tags)
		return -ENOMEM;
	cJSON_ArrayForEach(t, tags) {
		bool seen = false;

		/* Tags are folder titles: empty ones and repeats mean nothing. */
		if (!cJSON_IsString(t) || !*t->valuestring)
			continue;
		for (size_t i = 0; i < it->n_tags; i++)
			seen = seen || strcmp(it->tags[i], t->valuestring) == 0;
		if (seen)
			continue;
		if (!(it->tags[it->n_tags] = ds_strdup(t->valuestring)))
			return -ENOMEM;
		it->n_tags++;
	}
	return 0;
}

static int decode_children(const cJSON *ch, struct ds_bookmark_record *r)
{
	const cJSON *c;
	int n = cJSON_GetArraySize(ch);

	if (!cJSON_IsArray(ch) || n <= 0)
		return 0;
	r->children = ds_calloc((size_t)n, sizeof(*r->children));
	if (!r->children)
		return -ENOMEM;
	cJSON_ArrayForEach(c, ch) {
		const char *g;
		bool seen = false;

		if (!cJSON_IsString(c) || !id_ok(c->valuestring))
			continue; /* an invalid child id: dropped, the folder is re-uploaded */
		g = ds_bookmarks_local_id(c->valuestring);
		/* Roots are never children of a folder; a repeated id counts once (first place). */
		if (ds_bookmarks_is_root(g) || strcmp(g, r->item.guid) == 0)
			continue;
		for (size_t i = 0; i < r->n_children && !seen; i++)
			seen = strcmp(r->children[i], g) == 0;
		if (!seen)
			snprintf(r->children[r->n_children++], DS_BROWSER_ID_MAX, "%s", g);
	}
	return 0;
}

int ds_bookmarks_decode(const char *id, const char *payload, struct ds_bookmark_record *out)
{
	cJSON *o;
	const cJSON *type, *parent, *uri;
	int rc = -EBADMSG;

	memset(out, 0, sizeof(*out));
	if (!id || !id_ok(id) || !payload)
		return -EBADMSG;
	o = cJSON_Parse(payload);
	if (!cJSON_IsObject(o))
		goto out;
	type = cJSON_GetObjectItemCaseSensitive(o, "type");
	if (!cJSON_IsString(type))
		goto out;
	for (size_t i = 0; i < DS_ARRAY_SIZE(TYPES); i++)
		if (strcmp(type->valuestring, TYPES[i].name) == 0)
			out->item.kind = TYPES[i].kind;
	if (!out->item.kind)
		goto out; /* "microsummary" and other retired types: not stored */
	snprintf(out->item.guid, sizeof(out->item.guid), "%s", ds_bookmarks_local_id(id));
	parent = cJSON_GetObjectItemCaseSensitive(o, "parentid");
	if (cJSON_IsString(parent) && id_ok(parent->valuestring)) {
		out->has_parent = true;
		snprintf(out->item.parent, sizeof(out->item.parent), "%s",
			 ds_bookmarks_local_id(parent->valuestring));
	}
	out->item.date_added_ms = date_ms(cJSON_GetObjectItemCaseSensitive(o, "dateAdded"));
	uri = cJSON_GetObjectItemCaseSensitive(o, "bmkUri");
	if (out->item.kind == DS_BM_BOOKMARK || out->item.kind == DS_BM_QUERY) {
		/* A bookmark Places could not store: no URL, or not a URL at all. */
		if (!cJSON_IsString(uri) || !strchr(uri->valuestring, ':') ||
		    strlen(uri->valuestring) > 65536)
			goto out;
		/* The kind follows the URL, as Places stores both as bookmarks: a "query" that is
		 * not place: reads back as the bookmark it is (and is sent as one). */
		out->item.kind = strncmp(uri->valuestring, "place:", 6) == 0 ? DS_BM_QUERY : DS_BM_BOOKMARK;
	}
	rc = -ENOMEM;
	if (out->item.kind != DS_BM_SEPARATOR &&
	    dup_str(cJSON_GetObjectItemCaseSensitive(o, "title"), &out->item.title))
		goto out;
	if ((out->item.kind == DS_BM_BOOKMARK || out->item.kind == DS_BM_QUERY) &&
	    !(out->item.url = ds_strdup(uri->valuestring)))
		goto out;
	if (out->item.kind == DS_BM_BOOKMARK) {
		const cJSON *kw = cJSON_GetObjectItemCaseSensitive(o, "keyword");

		if (cJSON_IsString(kw) && *kw->valuestring && dup_str(kw, &out->item.keyword))
			goto out;
		if (decode_tags(cJSON_GetObjectItemCaseSensitive(o, "tags"), &out->item))
			goto out;
	}
	if (out->item.kind == DS_BM_SEPARATOR) {
		const cJSON *pos = cJSON_GetObjectItemCaseSensitive(o, "pos");

		out->item.position = cJSON_IsNumber(pos) && pos->valuedouble >= 0 &&
				     pos->valuedouble < 1e6 ? (int)pos->valuedouble : -1;
	}
	if (out->item.kind == DS_BM_FOLDER &&
	    decode_children(cJSON_GetObjectItemCaseSensitive(o, "children"), out))
		goto out;
	rc = 0;
out:
	cJSON_Delete(o);
	if (rc)
		ds_bookmark_record_clear(out);
	return rc;
}

static const char *type_name(enum ds_bookmark_kind k)
{
	for (size_t i = 0; i < DS_ARRAY_SIZE(TYPES); i++)
		if (TYPES[i].kind == k)
			return TYPES[i].name;
	return "bookmark";
}

static bool add_raw_int(cJSON *o, const char *name, int64_t v)
{
	char buf[32];
	cJSON *raw;

	/* Raw, because cJSON prints large integers in exponent notation. */
	snprintf(buf, sizeof(buf), "%" PRId64, v);
	raw = cJSON_CreateRaw(buf);
	if (raw && cJSON_AddItemToObject(o, name, raw))
		return true;
	cJSON_Delete(raw);
	return false;
}

int ds_bookmarks_encode(const struct ds_bookmark_item *it, const char *parent_name,
			char (*children)[DS_BROWSER_ID_MAX], size_t n_children, char **out)
{
	cJSON *o = cJSON_CreateObject(), *arr;
	enum ds_bookmark_kind k = it->kind;
	bool ok;
	char *text;

	*out = NULL;
	if (!o)
		return -ENOMEM;
	ok = cJSON_AddStringToObject(o, "id", ds_bookmarks_record_id(it->guid)) &&
	     cJSON_AddStringToObject(o, "type", type_name(k)) &&
	     cJSON_AddStringToObject(o, "parentid", ds_bookmarks_record_id(it->parent)) &&
	     cJSON_AddStringToObject(o, "parentName", parent_name ? parent_name : "") &&
	     add_raw_int(o, "dateAdded", it->date_added_ms);
	if (ok && k != DS_BM_SEPARATOR)
		ok = cJSON_AddStringToObject(o, "title", it->title ? it->title : "") != NULL;
	if (ok && (k == DS_BM_BOOKMARK || k == DS_BM_QUERY))
		ok = cJSON_AddStringToObject(o, "bmkUri", it->url ? it->url : "") != NULL;
	if (ok && k == DS_BM_BOOKMARK) {
		if (it->keyword)
			ok = cJSON_AddStringToObject(o, "keyword", it->keyword) != NULL;
		arr = ok ? cJSON_AddArrayToObject(o, "tags") : NULL;
		ok = arr != NULL;
		for (size_t i = 0; ok && i < it->n_tags; i++) {
			cJSON *s = cJSON_CreateString(it->tags[i]);

			ok = s && cJSON_AddItemToArray(arr, s);
			if (!ok)
				cJSON_Delete(s);
		}
	}
	if (ok && k == DS_BM_FOLDER) {
		arr = cJSON_AddArrayToObject(o, "children");
		ok = arr != NULL;
		for (size_t i = 0; ok && i < n_children; i++) {
			cJSON *s = cJSON_CreateString(ds_bookmarks_record_id(children[i]));

			ok = s && cJSON_AddItemToArray(arr, s);
			if (!ok)
				cJSON_Delete(s);
		}
	}
	if (ok && k == DS_BM_SEPARATOR)
		ok = add_raw_int(o, "pos", it->position);
	text = ok ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	if (!text)
		return -ENOMEM;
	*out = ds_strdup(text);
	cJSON_free(text);
	return *out ? 0 : -ENOMEM;
}

