/*
 * Tab records: the browser's list normalised and trimmed the way application-services does
 * before upload (AS components/tabs/src/sync: storage.rs prepare_local_tabs_for_upload,
 * is_url_syncable, slice_up_to; record.rs), and other devices' records read for the UI.
 * Pure: no I/O, so the rules are unit tests (test/unit/tabs_record_test.c) and a fuzz target.
 */
#include "core/ds_core.h"
#include "engine/tabs/ds_tabs.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* AS tabs is_url_syncable: these schemes never leave the device. */
static const char *const LOCAL_SCHEMES[] = {
	"about:", "resource:", "chrome:", "wyciwyg:", "blob:", "file:", "moz-extension:", "data:", NULL,
};

static bool prefix_nocase(const char *s, const char *p)
{
	for (; *p; s++, p++)
		if (!*s || (*s | 0x20) != (*p | 0x20))
			return false;
	return true;
}

bool ds_tabs_url_syncable(const char *url)
{
	if (!url || !*url || strlen(url) > DS_TABS_URL_MAX)
		return false;
	for (size_t i = 0; LOCAL_SCHEMES[i]; i++)
		if (prefix_nocase(url, LOCAL_SCHEMES[i]))
			return false;
	return true;
}

int64_t ds_tabs_last_used(const cJSON *v)
{
	double d = 0;

	/* Old clients wrote lastUsed as a float or a string of seconds (sync15.md §8). */
	if (cJSON_IsNumber(v)) {
		d = v->valuedouble;
	} else if (cJSON_IsString(v)) {
		char *end;

		d = strtod(v->valuestring, &end);
		if (end == v->valuestring || *end)
			return 0;
	}
	if (!(d > 0) || d > 9e15) /* NaN, negative, or beyond any date */
		return 0;
	return (int64_t)d;
}

/* AS slice_up_to: at most max bytes, cut on a character boundary, the cut marked with U+2026. */
static char *title_cut(const char *t)
{
	static const char ELLIPSIS[] = "\xe2\x80\xa6";
	size_t len = strlen(t), idx;
	char *out;

	if (len <= DS_TABS_TITLE_MAX)
		return ds_strdup(t);
	idx = DS_TABS_TITLE_MAX - (sizeof(ELLIPSIS) - 1);
	while (idx > 0 && ((unsigned char)t[idx] & 0xC0) == 0x80)
		idx--;
	out = ds_malloc(idx + sizeof(ELLIPSIS));
	if (!out)
		return NULL;
	memcpy(out, t, idx);
	memcpy(out + idx, ELLIPSIS, sizeof(ELLIPSIS));
	return out;
}

static void set_why(char *why, size_t len, const char *msg)
{
	if (why && len)
		snprintf(why, len, "%s", msg);
}

/* One tab of the browser's list; NULL with *drop set when it has nothing syncable, or with
 * *err set (-EINVAL malformed, -ENOMEM). */
static cJSON *tab_normalize(const cJSON *t, bool *drop, int *err)
{
	const cJSON *hist = cJSON_GetObjectItemCaseSensitive(t, "urlHistory");
	const cJSON *url = cJSON_GetObjectItemCaseSensitive(t, "url");
	const cJSON *title = cJSON_GetObjectItemCaseSensitive(t, "title");
	const cJSON *icon = cJSON_GetObjectItemCaseSensitive(t, "icon");
	const cJSON *it;
	cJSON *o = NULL, *h;
	char *cut = NULL;
	int n = 0;

	*drop = false;
	*err = -EINVAL;
	if (!cJSON_IsObject(t) || (hist && !cJSON_IsArray(hist)) || (!hist && url && !cJSON_IsString(url)) ||
	    (title && !cJSON_IsString(title) && !cJSON_IsNull(title)))
		return NULL;
	*err = -ENOMEM;
	o = cJSON_CreateObject();
	h = o ? cJSON_AddArrayToObject(o, "urlHistory") : NULL;
	if (!h)
		goto fail;
	if (hist) {
		/* The current URL decides (AS: a tab whose first URL is not syncable is dropped);
		 * unsyncable back entries are skipped, at most DS_TABS_HISTORY_MAX kept. */
		it = hist->child;
		if (!it || !cJSON_IsString(it) || !ds_tabs_url_syncable(it->valuestring)) {
			*drop = true;
			goto fail;
		}
		for (; it && n < DS_TABS_HISTORY_MAX; it = it->next) {
			if (!cJSON_IsString(it) || !ds_tabs_url_syncable(it->valuestring))
				continue;
			if (!cJSON_AddItemToArray(h, cJSON_CreateString(it->valuestring)))
				goto fail;
			n++;
		}
	} else {
		if (!url || !ds_tabs_url_syncable(url->valuestring)) {
			*drop = true;
			goto fail;
		}
		if (!cJSON_AddItemToArray(h, cJSON_CreateString(url->valuestring)))
			goto fail;
	}
	cut = title_cut(cJSON_IsString(title) ? title->valuestring : "");
	if (!cut || !cJSON_AddStringToObject(o, "title", cut))
		goto fail;
	if (cJSON_IsString(icon) ? !cJSON_AddStringToObject(o, "icon", icon->valuestring)
				 : !cJSON_AddNullToObject(o, "icon"))
		goto fail;
	if (!cJSON_AddNumberToObject(o, "lastUsed",
				     (double)ds_tabs_last_used(cJSON_GetObjectItemCaseSensitive(t, "lastUsed"))))
		goto fail;
	for (size_t i = 0; i < 2; i++) {
		const char *k = i ? "pinned" : "inactive";
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(t, k);

		if (cJSON_IsBool(b) && !cJSON_AddBoolToObject(o, k, cJSON_IsTrue(b)))
			goto fail;
	}
	ds_free(cut);
	*err = 0;
	return o;
fail:
	ds_free(cut);
	cJSON_Delete(o);
	if (*drop)
		*err = 0;
	return NULL;
}

struct sorted {
	cJSON *tab;
	int64_t last_used;
	size_t pos;
};

static int newest_first(const void *a, const void *b)
{
	const struct sorted *x = a, *y = b;

	if (x->last_used != y->last_used)
		return x->last_used > y->last_used ? -1 : 1;
	return x->pos < y->pos ? -1 : (x->pos > y->pos);
}

int ds_tabs_normalize(const cJSON *in, cJSON **out, char *why, size_t why_len)
{
	const cJSON *list = cJSON_IsObject(in) ? cJSON_GetObjectItemCaseSensitive(in, "tabs") : in, *t;
	struct sorted *v = NULL;
	size_t n = 0, cap;
	cJSON *arr;
	int rc = 0;

	*out = NULL;
	if (!cJSON_IsArray(list)) {
		set_why(why, why_len, "tabs must be a JSON array of tab objects (or {\"tabs\":[...]})");
		return -EINVAL;
	}
	cap = (size_t)cJSON_GetArraySize(list);
	arr = cJSON_CreateArray();
	v = ds_calloc(cap ? cap : 1, sizeof(*v));
	if (!arr || !v) {
		rc = -ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(t, list) {
		bool drop;
		cJSON *o = tab_normalize(t, &drop, &rc);

		if (rc) {
			set_why(why, why_len, rc == -EINVAL ? "a tab must be an object with \"urlHistory\" "
				"(an array of URLs, current first) or \"url\", and a string \"title\"" : "out of memory");
			goto out;
		}
		if (drop)
			continue;
		v[n].tab = o;
		v[n].last_used = (int64_t)cJSON_GetObjectItemCaseSensitive(o, "lastUsed")->valuedouble;
		v[n].pos = n;
		n++;
	}
	qsort(v, n, sizeof(*v), newest_first);
	for (size_t i = 0; i < n; i++) {
		cJSON_AddItemToArray(arr, v[i].tab);
		v[i].tab = NULL;
	}
out:
	for (size_t i = 0; v && i < n; i++)
		cJSON_Delete(v[i].tab);
	ds_free(v);
	if (rc)
		cJSON_Delete(arr);
	else
		*out = arr;
	return rc;
}

size_t ds_tabs_cleartext_budget(size_t max_payload_bytes)
{
	/* {"ciphertext":"<b64>","IV":"<24 chars>","hmac":"<64 hex>"} is about 120 bytes around the
	 * base64 text, which is 4/3 of the ciphertext (cleartext + up to 16 bytes of padding). */
	const size_t wrapper = 256;

	if (max_payload_bytes <= wrapper + 64)
		return 0;
	return (max_payload_bytes - wrapper) / 4 * 3 - 16;
}

static char *json_string(const char *s)
{
	cJSON *j = cJSON_CreateString(s);
	char *t = j ? cJSON_PrintUnformatted(j) : NULL;
	char *out = t ? ds_strdup(t) : NULL;

	cJSON_free(t);
	cJSON_Delete(j);
	return out;
}

int ds_tabs_record_build(const char *id, const char *name, const cJSON *tabs, size_t budget,
			 char **out, size_t *kept)
{
	size_t n = (size_t)cJSON_GetArraySize(tabs), fit = 0, used, len;
	char **texts = NULL, *jid = json_string(id), *jname = json_string(name ? name : "");
	char *s = NULL, *p;
	const cJSON *t;
	int rc = -ENOMEM;

	*out = NULL;
	if (kept)
		*kept = 0;
	texts = ds_calloc(n ? n : 1, sizeof(*texts));
	if (!jid || !jname || !texts)
		goto out;
	/* {"id":I,"clientName":N,"tabs":[T1,T2,...]}: the newest tabs that fit, each printed once. */
	used = strlen("{\"id\":,\"clientName\":,\"tabs\":[]}") + strlen(jid) + strlen(jname);
	len = used;
	if (used <= budget) {
		size_t i = 0;

		cJSON_ArrayForEach(t, tabs) {
			char *c = cJSON_PrintUnformatted(t);
			size_t add;

			if (!c)
				goto out;
			texts[i] = ds_strdup(c);
			cJSON_free(c);
			if (!texts[i])
				goto out;
			add = strlen(texts[i]) + (i ? 1 : 0);
			if (len + add > budget)
				break;
			len += add;
			fit = ++i;
		}
	}
	s = ds_malloc(len + 1);
	if (!s)
		goto out;
	p = s + sprintf(s, "{\"id\":%s,\"clientName\":%s,\"tabs\":[", jid, jname);
	for (size_t i = 0; i < fit; i++)
		p += sprintf(p, "%s%s", i ? "," : "", texts[i]);
	strcpy(p, "]}");
	*out = s;
	if (kept)
		*kept = fit;
	rc = 0;
out:
	for (size_t i = 0; texts && i < n; i++)
		ds_free(texts[i]);
	ds_free(texts);
	ds_free(jid);
	ds_free(jname);
	return rc;
}

int ds_tabs_record_parse(const char *payload, cJSON **out)
{
	cJSON *in = payload ? cJSON_Parse(payload) : NULL, *o = NULL, *list;
	const cJSON *tabs = cJSON_GetObjectItemCaseSensitive(in, "tabs"), *t, *name;
	int rc = -EBADMSG;

	*out = NULL;
	if (!cJSON_IsObject(in) || !cJSON_IsArray(tabs))
		goto out;
	rc = -ENOMEM;
	name = cJSON_GetObjectItemCaseSensitive(in, "clientName");
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "clientName", cJSON_IsString(name) ? name->valuestring : ""))
		goto out;
	list = cJSON_AddArrayToObject(o, "tabs");
	if (!list)
		goto out;
	cJSON_ArrayForEach(t, tabs) {
		const cJSON *h = cJSON_GetObjectItemCaseSensitive(t, "urlHistory"), *u;
		const cJSON *title = cJSON_GetObjectItemCaseSensitive(t, "title");
		const cJSON *icon = cJSON_GetObjectItemCaseSensitive(t, "icon");
		cJSON *x, *hist;

		if (!cJSON_IsObject(t))
			continue;
		x = cJSON_CreateObject();
		if (!x || !cJSON_AddItemToArray(list, x))
			goto fail_item;
		hist = cJSON_AddArrayToObject(x, "urlHistory");
		if (!hist)
			goto out;
		h = cJSON_IsArray(h) ? h : NULL;
		cJSON_ArrayForEach(u, h)
			if (cJSON_IsString(u) && !cJSON_AddItemToArray(hist, cJSON_CreateString(u->valuestring)))
				goto out;
		if (!cJSON_AddStringToObject(x, "title", cJSON_IsString(title) ? title->valuestring : "") ||
		    !(hist->child ? cJSON_AddStringToObject(x, "url", hist->child->valuestring)
				  : cJSON_AddNullToObject(x, "url")) ||
		    !(cJSON_IsString(icon) ? cJSON_AddStringToObject(x, "icon", icon->valuestring)
					   : cJSON_AddNullToObject(x, "icon")) ||
		    !cJSON_AddNumberToObject(x, "lastUsed",
					     (double)ds_tabs_last_used(cJSON_GetObjectItemCaseSensitive(t, "lastUsed"))) ||
		    !cJSON_AddBoolToObject(x, "inactive", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "inactive"))) ||
		    !cJSON_AddBoolToObject(x, "pinned", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "pinned"))))
			goto out;
		continue;
fail_item:
		cJSON_Delete(x);
		goto out;
	}
	*out = o;
	o = NULL;
	rc = 0;
out:
	cJSON_Delete(o);
	cJSON_Delete(in);
	return rc;
}
