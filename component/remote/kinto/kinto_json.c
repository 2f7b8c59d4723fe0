/*
 * A JSON scanner over raw text: finds members and array elements and hands out their exact
 * source spans without converting any value.
 *
 * Why not cJSON for records: the table engine's payloads carry 64-bit integers and keep 3 and
 * 3.0 apart (docs/engine-table.md), and cJSON parses every number into a double. Records pass
 * between Kinto and the engine as text spans, so a value arrives byte for byte as it was sent.
 * cJSON is still used for the small protocol objects (root settings, batch responses), where
 * only ids, statuses and millisecond timestamps (< 2^53) are read.
 */
#include "core/ds_core.h"
#include "remote/kinto/kinto_priv.h"

#include <cjson/cJSON.h>
#include <string.h>

#define MAX_DEPTH 64

static const char *ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static const char *skip_string(const char *p, const char *end)
{
	if (p >= end || *p != '"')
		return NULL;
	for (p++; p < end; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"')
			return p + 1;
		if (c < 0x20)
			return NULL;
		if (c == '\\') {
			if (++p >= end)
				return NULL;
			if (*p == 'u') {
				for (int i = 0; i < 4; i++)
					if (++p >= end || !strchr("0123456789abcdefABCDEF", *p))
						return NULL;
			} else if (!strchr("\"\\/bfnrt", *p)) {
				return NULL;
			}
		}
	}
	return NULL;
}

static const char *skip_value(const char *p, const char *end, int depth);

static const char *skip_container(const char *p, const char *end, int depth, char close)
{
	bool object = close == '}';

	if (depth > MAX_DEPTH)
		return NULL;
	p = ws(p + 1, end);
	if (p < end && *p == close)
		return p + 1;
	for (;;) {
		if (object) {
			p = skip_string(ws(p, end), end);
			if (!p)
				return NULL;
			p = ws(p, end);
			if (p >= end || *p != ':')
				return NULL;
			p++;
		}
		p = skip_value(p, end, depth + 1);
		if (!p)
			return NULL;
		p = ws(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		return p < end && *p == close ? p + 1 : NULL;
	}
}

static const char *skip_value(const char *p, const char *end, int depth)
{
	p = ws(p, end);
	if (p >= end)
		return NULL;
	switch (*p) {
	case '"':
		return skip_string(p, end);
	case '{':
		return skip_container(p, end, depth, '}');
	case '[':
		return skip_container(p, end, depth, ']');
	case 't':
		return end - p >= 4 && memcmp(p, "true", 4) == 0 ? p + 4 : NULL;
	case 'f':
		return end - p >= 5 && memcmp(p, "false", 5) == 0 ? p + 5 : NULL;
	case 'n':
		return end - p >= 4 && memcmp(p, "null", 4) == 0 ? p + 4 : NULL;
	default: {
		const char *s = p;

		if (p < end && *p == '-')
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return NULL;
		while (p < end && strchr("0123456789+-.eE", *p))
			p++;
		return p > s ? p : NULL;
	}
	}
}

int ds_kinto_json_object_each(const char *text, size_t len, ds_kinto_member_fn fn, void *ud)
{
	const char *end = text + len, *p = ws(text, end);
	int rc;

	if (p >= end || *p != '{')
		return -EBADMSG;
	p = ws(p + 1, end);
	if (p < end && *p == '}')
		return ws(p + 1, end) == end ? 0 : -EBADMSG;
	for (;;) {
		const char *k = ws(p, end), *ke = skip_string(k, end), *v, *ve;

		if (!ke)
			return -EBADMSG;
		p = ws(ke, end);
		if (p >= end || *p != ':')
			return -EBADMSG;
		v = ws(p + 1, end);
		ve = skip_value(v, end, 1);
		if (!ve)
			return -EBADMSG;
		rc = fn(k + 1, (size_t)(ke - k - 2), v, (size_t)(ve - v), ud);
		if (rc)
			return rc;
		p = ws(ve, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == '}')
			return ws(p + 1, end) == end ? 0 : -EBADMSG;
		return -EBADMSG;
	}
}

int ds_kinto_json_array_each(const char *text, size_t len, ds_kinto_elem_fn fn, void *ud)
{
	const char *end = text + len, *p = ws(text, end);
	int rc;

	if (p >= end || *p != '[')
		return -EBADMSG;
	p = ws(p + 1, end);
	if (p < end && *p == ']')
		return ws(p + 1, end) == end ? 0 : -EBADMSG;
	for (;;) {
		const char *v = ws(p, end), *ve = skip_value(v, end, 1);

		if (!ve)
			return -EBADMSG;
		rc = fn(v, (size_t)(ve - v), ud);
		if (rc)
			return rc;
		p = ws(ve, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == ']')
			return ws(p + 1, end) == end ? 0 : -EBADMSG;
		return -EBADMSG;
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return c - 'A' + 10;
}

/*
 * Decode a key (raw, between its quotes) when it is plain ASCII after unescaping; keys with
 * other characters are never protocol names, so -ERANGE just means "not one of ours". *first_len
 * gets the raw length of the first character (2..6 bytes when it was escaped).
 */
int ds_kinto_json_key_ascii(const char *raw, size_t n, char *out, size_t cap, size_t *first_len)
{
	size_t i = 0, o = 0;

	while (i < n) {
		size_t start = i;
		int c = (unsigned char)raw[i];

		if (c == '\\') {
			char e = raw[i + 1];

			if (e == 'u') {
				c = hexval(raw[i + 2]) << 12 | hexval(raw[i + 3]) << 8 |
				    hexval(raw[i + 4]) << 4 | hexval(raw[i + 5]);
				i += 6;
			} else {
				c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' :
				    e == 'f' ? '\f' : e;
				i += 2;
			}
		} else {
			i++;
		}
		if (c >= 0x80)
			return -ERANGE;
		if (o + 1 >= cap)
			return -ERANGE;
		if (start == 0 && first_len)
			*first_len = i;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return (int)o;
}

int ds_kinto_json_int64(const char *v, size_t n, int64_t *out)
{
	int64_t x = 0;
	size_t i = 0;
	bool neg = false;

	if (n && v[0] == '-') {
		neg = true;
		i++;
	}
	if (i == n)
		return -EBADMSG;
	for (; i < n; i++) {
		if (v[i] < '0' || v[i] > '9' || x > (INT64_MAX - 9) / 10)
			return -EBADMSG;
		x = x * 10 + (v[i] - '0');
	}
	*out = neg ? -x : x;
	return 0;
}

int64_t ds_kinto_json_int(const cJSON *v, int64_t fallback)
{
	double d;

	if (!cJSON_IsNumber(v))
		return fallback;
	d = v->valuedouble;
	/* 2^53: the largest range where every whole double is exact; Kinto's timestamps (ms) and
	 * file sizes are far below it. NaN fails both comparisons. */
	if (!(d >= 0.0 && d <= 9007199254740992.0) || d != (double)(int64_t)d)
		return fallback;
	return (int64_t)d;
}
