/*
 * Server timestamps, BSO JSON and record ids in URLs (DOCS storage/apis-1.5.rst "Basic Storage
 * Object"; AS sync15/src/server_timestamp.rs, bso/mod.rs).
 */
#define DS_LOG_TAG "sync15"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "remote/sync15/ds_sync15.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

/* ---- timestamps --------------------------------------------------------------------------- */

/*
 * Parsed digit by digit: a double cannot hold 1388635807.41 exactly, and a value printed back
 * into X-If-Unmodified-Since must be the server's own (AT-20). A third decimal rounds half up,
 * further ones are ignored after rounding (round(ts * 1000) as AS does).
 */
int ds_sync15_ts_parse(const char *s, int64_t *ms)
{
	int64_t sec = 0;
	int frac = 0, nfrac = 0, next = 0;
	const char *p = s;

	if (!s || !ms || !*s)
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (sec > (INT64_MAX / 1000 - 9) / 10)
			return -EINVAL;
		sec = sec * 10 + (*p - '0');
	}
	if (p == s)
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (nfrac < 3)
				frac = frac * 10 + (*p - '0');
			else if (nfrac == 3)
				next = *p - '0';
			nfrac++;
		}
		for (int i = nfrac; i < 3; i++)
			frac *= 10;
	}
	if (*p)
		return -EINVAL;
	*ms = sec * 1000 + frac + (next >= 5 ? 1 : 0);
	return 0;
}

void ds_sync15_ts_format(int64_t ms, char out[DS_SYNC15_TS_MAX])
{
	int n;

	if (ms < 0)
		ms = 0;
	/* Three decimals, then their trailing zeros go, and the point when none is left
	 * ("1388635807.410" -> "1388635807.41", "0.000" -> "0"); at most 20 characters. */
	n = snprintf(out, DS_SYNC15_TS_MAX, "%lld.%03d", (long long)(ms / 1000), (int)(ms % 1000));
	while (out[n - 1] == '0')
		n--;
	if (out[n - 1] == '.')
		n--;
	out[n] = '\0';
}

int ds_sync15_ts_from_json(const cJSON *n, int64_t *ms)
{
	char buf[64];
	double d;

	if (cJSON_IsString(n))
		return ds_sync15_ts_parse(n->valuestring, ms);
	if (!cJSON_IsNumber(n))
		return -EINVAL;
	d = n->valuedouble;
	if (!(d >= 0) || d > 9.0e15)
		return -EINVAL;
	/*
	 * cJSON keeps only the double. Printed with 3 decimals the nearest double of a value with
	 * at most 2 decimals comes back as that value (15-16 significant digits are exact up to
	 * 2^53), so the string route gives round(ts * 1000) exactly.
	 */
	snprintf(buf, sizeof(buf), "%.3f", d);
	return ds_sync15_ts_parse(buf, ms);
}

/* ---- ids ---------------------------------------------------------------------------------- */

bool ds_sync15_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > DS_SYNC15_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];
		if (c < 0x20 || c > 0x7e || c == ',')
			return false;
	}
	return true;
}

char *ds_sync15_url_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s), j = 0;
	char *out = ds_malloc(3 * n + 1);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			out[j++] = (char)c;
		} else {
			out[j++] = '%';
			out[j++] = hex[c >> 4];
			out[j++] = hex[c & 15];
		}
	}
	out[j] = '\0';
	return out;
}

/* ---- BSOs --------------------------------------------------------------------------------- */

void ds_sync15_bso_clear(struct ds_sync15_bso *b)
{
	if (!b)
		return;
	ds_free(b->id);
	ds_free(b->payload);
	memset(b, 0, sizeof(*b));
}

int ds_sync15_bso_from_json(const cJSON *o, struct ds_sync15_bso *out)
{
	const char *id = ds_sync15_json_str(o, "id");
	const char *payload = ds_sync15_json_str(o, "payload");
	const cJSON *modified = cJSON_GetObjectItemCaseSensitive(o, "modified");
	const cJSON *si = cJSON_GetObjectItemCaseSensitive(o, "sortindex");

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(o) || !ds_sync15_id_valid(id) || !payload)
		return -EPROTO;
	if (ds_sync15_ts_from_json(modified, &out->modified_ms) < 0)
		return -EPROTO;
	/* An integer of at most 9 digits (DOCS apis-1.5 "sortindex"); anything else is not
	 * converted (a double beyond long is undefined behaviour, C11 6.3.1.4) but ignored: the
	 * field only orders downloads. */
	if (cJSON_IsNumber(si) && si->valuedouble > -1e9 && si->valuedouble < 1e9) {
		out->sortindex = (long)si->valuedouble;
		out->has_sortindex = true;
	}
	out->id = ds_strdup(id);
	out->payload = ds_strdup(payload);
	if (!out->id || !out->payload) {
		ds_sync15_bso_clear(out);
		return -ENOMEM;
	}
	return 0;
}

const char *ds_sync15_json_str(const cJSON *o, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

char *ds_sync15_json_print(const cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o), *copy = NULL;

	if (s) {
		copy = ds_strdup(s);
		ds_memzero(s, strlen(s));
		cJSON_free(s);
	}
	return copy;
}

char *ds_sync15_bso_to_json(const char *id, const char *payload, const long *sortindex, long ttl_s)
{
	cJSON *o = cJSON_CreateObject();
	char *copy = NULL;

	if (o && cJSON_AddStringToObject(o, "id", id) && cJSON_AddStringToObject(o, "payload", payload) &&
	    (!sortindex || cJSON_AddNumberToObject(o, "sortindex", (double)*sortindex)) &&
	    (ttl_s <= 0 || cJSON_AddNumberToObject(o, "ttl", (double)ttl_s)))
		copy = ds_sync15_json_print(o);
	cJSON_Delete(o);
	return copy;
}
