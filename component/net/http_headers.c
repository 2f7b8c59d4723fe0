/* Response header lookup and the server-pacing headers (Retry-After, Backoff, X-Weave-Backoff). */
#define DS_LOG_TAG "http"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_NET
#include "core/ds_core.h"
#include "net/ds_http.h"

#include <string.h>

static int lc(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int caseeq(const char *a, const char *b)
{
	while (*a && lc((unsigned char)*a) == lc((unsigned char)*b)) {
		a++;
		b++;
	}
	return *a == '\0' && *b == '\0';
}

const char *ds_http_header(const struct ds_http_response *resp, const char *name)
{
	if (!resp || !name)
		return NULL;
	for (size_t i = 0; i < resp->n_headers; i++)
		if (caseeq(resp->headers[i].name, name))
			return resp->headers[i].value;
	return NULL;
}

static const char *skip_ows(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/*
 * Non-negative seconds, optionally with a fraction ("45", "0.5", "1388635807.41"), rounded
 * up: Sync servers send floats and application-services takes the ceiling
 * (sync15 storage_client.rs). Trailing whitespace only.
 */
static int parse_seconds_ceil(const char *s, int64_t *out)
{
	int64_t v = 0;
	int digits = 0, frac = 0;

	s = skip_ows(s);
	while (*s >= '0' && *s <= '9') {
		if (v > (INT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (*s++ - '0');
		digits++;
	}
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9') {
			if (*s != '0')
				frac = 1;
			s++;
			digits++;
		}
	}
	s = skip_ows(s);
	if (!digits || *s)
		return -EINVAL;
	*out = v + frac;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* A month's three-letter name at *s: 1..12, past it; 0 when there is none. */
static int read_month(const char **s)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	const char *m = *s;

	for (int i = 0; i < 12; i++)
		if (lc((unsigned char)m[0]) == months[3 * i] && lc((unsigned char)m[1]) == months[3 * i + 1] &&
		    lc((unsigned char)m[2]) == months[3 * i + 2]) {
			*s += 3;
			return i + 1;
		}
	return 0;
}

static int read_int(const char **s, int min_digits, int max_digits, int *out)
{
	int v = 0, n = 0;
	while (**s >= '0' && **s <= '9' && n < max_digits) {
		v = v * 10 + (**s - '0');
		(*s)++;
		n++;
	}
	if (n < min_digits)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "hh:mm:ss" into t[0..2]. */
static int read_time(const char **s, int t[3])
{
	for (int i = 0; i < 3; i++)
		if ((i && *(*s)++ != ':') || read_int(s, 2, 2, &t[i]))
			return -EINVAL;
	return 0;
}

/*
 * RFC 9110 §5.6.7: recipients accept IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), the
 * obsolete RFC 850 form ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37
 * 1994"). Two-digit years are read per RFC 9110 §5.6.7 as the nearest past century: we take
 * 70..99 -> 19xx, 00..69 -> 20xx.
 */
int ds_http_parse_date(const char *s, int64_t *out)
{
	int d = 0, mo = 0, y = 0, t[3] = { 0 }; /* hour, minute, second */
	const char *p;

	if (!s || !out)
		return -EINVAL;
	s = skip_ows(s);
	p = s;
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
		p++;
	if (p - s < 3)
		return -EINVAL;
	if (*p == ',') {
		/* IMF-fixdate "06 Nov 1994 " or RFC 850 "06-Nov-94 ": the same fields, other separators */
		char sep;

		p = skip_ows(p + 1);
		if (read_int(&p, 1, 2, &d) || (*p != ' ' && *p != '-'))
			return -EINVAL;
		sep = *p++;
		if (!(mo = read_month(&p)) || *p++ != sep || read_int(&p, sep == ' ' ? 4 : 2, 4, &y) || *p++ != ' ')
			return -EINVAL;
		if (sep == '-' && y < 100)
			y += y < 70 ? 2000 : 1900;
		if (read_time(&p, t))
			return -EINVAL;
		p = skip_ows(p);
		if (!(p[0] == 'G' && p[1] == 'M' && p[2] == 'T'))
			return -EINVAL;
		p += 3;
	} else if (*p == ' ') { /* asctime */
		p++;
		if (!(mo = read_month(&p)))
			return -EINVAL;
		p = skip_ows(p);
		if (read_int(&p, 1, 2, &d) || *p++ != ' ' || read_time(&p, t) || *p++ != ' ' ||
		    read_int(&p, 4, 4, &y))
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*skip_ows(p))
		return -EINVAL;
	if (d < 1 || d > 31 || t[0] > 23 || t[1] > 59 || t[2] > 60)
		return -EINVAL;
	*out = days_from_civil(y, mo, d) * 86400 + t[0] * 3600 + t[1] * 60 + t[2];
	return 0;
}

int ds_http_parse_retry_after(const char *value, int64_t now_s, int64_t *delay_s)
{
	int64_t v;

	if (!value || !delay_s)
		return -EINVAL;
	if (parse_seconds_ceil(value, &v) == 0) {
		*delay_s = v;
		return 0;
	}
	if (ds_http_parse_date(value, &v) == 0) {
		*delay_s = v > now_s ? v - now_s : 0;
		return 0;
	}
	return -EINVAL;
}

int ds_http_retry_after(const struct ds_http_response *resp, int64_t now_s, int64_t *delay_s)
{
	const char *v = ds_http_header(resp, "retry-after");
	int rc;

	if (!v)
		return 0;
	rc = ds_http_parse_retry_after(v, now_s, delay_s);
	return rc < 0 ? rc : 1;
}

int ds_http_backoff(const struct ds_http_response *resp, int64_t *delay_s)
{
	int found = 0;
	int64_t best = 0, v;

	if (!delay_s)
		return -EINVAL;
	/* a word list: each name ends with its '\0', the list with an empty name */
	for (const char *name = "x-weave-backoff\0backoff\0"; *name; name += strlen(name) + 1) {
		const char *s = ds_http_header(resp, name);
		if (!s)
			continue;
		if (parse_seconds_ceil(s, &v) < 0)
			return -EINVAL;
		best = found ? DS_MAX(best, v) : v;
		found = 1;
	}
	if (found)
		*delay_s = best;
	return found;
}
