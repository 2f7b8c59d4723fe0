/* Helpers shared by the browser engines and their stores. */
#include "core/ds_core.h"
#include "engine/browser/ds_browser_store.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <string.h>

void ds_history_place_clear(struct ds_history_place *p)
{
	if (!p)
		return;
	ds_free(p->url);
	ds_free(p->title);
	ds_free(p->visits);
	memset(p, 0, sizeof(*p));
}

void ds_form_entry_clear(struct ds_form_entry *f)
{
	if (!f)
		return;
	ds_free(f->name);
	ds_free(f->value);
	memset(f, 0, sizeof(*f));
}

char *ds_browser_json_print(const cJSON *o)
{
	char *text = cJSON_PrintUnformatted(o);
	char *copy = text ? ds_strdup(text) : NULL;

	cJSON_free(text);
	return copy;
}

static bool is_known(const char *name, const char *const *known)
{
	for (; *known; known++)
		if (strcmp(*known, name) == 0)
			return true;
	return false;
}

int ds_browser_unknown_split(const char *payload, const char *const *known, char **unknown)
{
	cJSON *o = cJSON_Parse(payload), *u = NULL, *it;
	int rc = 0;

	*unknown = NULL;
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return -EBADMSG;
	}
	cJSON_ArrayForEach(it, o) {
		cJSON *dup;

		if (!it->string || is_known(it->string, known))
			continue;
		if (!u && !(u = cJSON_CreateObject())) {
			rc = -ENOMEM;
			break;
		}
		dup = cJSON_Duplicate(it, true);
		if (!dup || !cJSON_AddItemToObject(u, it->string, dup)) {
			cJSON_Delete(dup);
			rc = -ENOMEM;
			break;
		}
	}
	if (rc == 0 && u && !(*unknown = ds_browser_json_print(u)))
		rc = -ENOMEM;
	cJSON_Delete(u);
	cJSON_Delete(o);
	return rc;
}

int ds_browser_unknown_join(char **payload, const char *unknown)
{
	cJSON *o, *u, *it;
	char *joined;
	int rc = 0;

	if (!unknown)
		return 0;
	u = cJSON_Parse(unknown);
	o = cJSON_Parse(*payload);
	if (!cJSON_IsObject(u) || !cJSON_IsObject(o)) {
		cJSON_Delete(u);
		cJSON_Delete(o);
		return 0;
	}
	cJSON_ArrayForEach(it, u) {
		cJSON *dup;

		if (!it->string || cJSON_GetObjectItemCaseSensitive(o, it->string))
			continue;
		dup = cJSON_Duplicate(it, true);
		if (!dup || !cJSON_AddItemToObject(o, it->string, dup)) {
			cJSON_Delete(dup);
			rc = -ENOMEM;
			break;
		}
	}
	if (rc == 0) {
		joined = ds_browser_json_print(o);
		if (joined) {
			ds_free(*payload);
			*payload = joined;
		} else {
			rc = -ENOMEM;
		}
	}
	cJSON_Delete(u);
	cJSON_Delete(o);
	return rc;
}

int ds_browser_track_prepare(const struct ds_browser_tracking_ops *t, void *s)
{
	int rc;

	if (!t->forget_if_cleared)
		return 0;
	rc = t->forget_if_cleared(s);
	return rc < 0 ? rc : 0;
}

int ds_browser_unknown_load(const struct ds_browser_tracking_ops *t, void *s, const char *guid,
			    char **payload)
{
	char *u = NULL;
	int rc;

	if (!t->unknown_get)
		return 0;
	rc = t->unknown_get(s, guid, &u);
	if (rc == -ENOENT)
		return 0;
	if (rc == 0)
		rc = ds_browser_unknown_join(payload, u);
	ds_free(u);
	return rc;
}

int ds_browser_unknown_keep(const struct ds_browser_tracking_ops *t, void *s, const char *guid,
			    const char *payload, const char *const *known)
{
	char *u = NULL;
	int rc;

	if (!t->unknown_put)
		return 0;
	rc = payload ? ds_browser_unknown_split(payload, known, &u) : 0;
	if (rc == 0)
		rc = t->unknown_put(s, guid, u);
	ds_free(u);
	return rc;
}

/*
 * mozilla::HashString (mfbt/HashFunctions.h): h = golden * (rotl5(h) ^ c) over the bytes; url
 * mode of Places' hash() (SQLFunctions.cpp): the scheme's hash (16 bits) above the whole
 * string's (32 bits), over at most the first 1500 characters.
 */
static uint32_t moz_hash(const unsigned char *s, size_t n)
{
	uint32_t h = 0;

	for (size_t i = 0; i < n; i++)
		h = UINT32_C(0x9E3779B9) * (((h << 5) | (h >> 27)) ^ s[i]);
	return h;
}

int64_t ds_browser_url_hash(const char *url)
{
	const unsigned char *u = (const unsigned char *)url;
	size_t n = strlen(url);
	const char *colon = memchr(url, ':', DS_MIN(n, (size_t)50));
	uint32_t whole = moz_hash(u, DS_MIN(n, (size_t)1500));

	if (!colon)
		return (int64_t)whole;
	return (int64_t)((((uint64_t)moz_hash(u, (size_t)(colon - url)) & 0xFFFF) << 32) + whole);
}

char *ds_browser_rev_host(const char *url)
{
	const char *h = strstr(url, "://"), *end, *at;
	size_t n;
	char *r;

	if (!h)
		return ds_strdup(".");
	h += 3;
	end = h + strcspn(h, "/?#");
	at = memchr(h, '@', (size_t)(end - h));
	if (at)
		h = at + 1;
	n = strcspn(h, ":/?#");
	if (h + n > end)
		n = (size_t)(end - h);
	r = ds_malloc(n + 2);
	if (!r)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = h[n - 1 - i];

		r[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	r[n] = '.';
	r[n + 1] = '\0';
	return r;
}
