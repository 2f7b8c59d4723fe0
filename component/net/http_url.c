/* URL splitting for the HTTP client: scheme, host (IPv4, [IPv6], name), port, path+query. */
#define DS_LOG_TAG "http"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_NET
#include "core/ds_core.h"
#include "net/ds_http.h"

#include <string.h>

static int ascii_ncaseeq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char x = a[i], y = b[i];
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return 0;
	}
	return 1;
}

/* RFC 3986 reg-name / IPv4 characters we accept in a host (no userinfo, no percent-encoding). */
static int host_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

static int v6_char_ok(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
	       c == ':' || c == '.';
}

void ds_http_url_free(struct ds_http_url *u)
{
	if (!u)
		return;
	ds_free(u->host);
	ds_free(u->path);
	ds_free(u->hostport);
	memset(u, 0, sizeof(*u));
}

int ds_http_url_parse(const char *url, struct ds_http_url *out)
{
	const char *p, *host, *host_end, *auth_end;
	size_t hlen;
	int v6 = 0, port = -1;

	if (!url || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	/* A URL that ends after its scheme has an empty host, refused below. */
	if (ascii_ncaseeq(url, "http://", 7)) {
		p = url + 7;
	} else if (ascii_ncaseeq(url, "https://", 8)) {
		p = url + 8;
		out->tls = 1;
	} else {
		return -EINVAL;
	}
	for (const char *q = url; *q; q++)
		if ((unsigned char)*q <= 0x20 || *q == 0x7f)
			return -EINVAL; /* spaces and controls would corrupt the request line */

	auth_end = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(auth_end - p)))
		return -EINVAL; /* credentials in URLs are not supported: use a header */
	if (*p == '[') {
		host = p + 1;
		host_end = memchr(host, ']', (size_t)(auth_end - host));
		if (!host_end || host_end == host)
			return -EINVAL;
		for (const char *q = host; q < host_end; q++)
			if (!v6_char_ok(*q))
				return -EINVAL;
		v6 = 1;
		p = host_end + 1;
	} else {
		host = p;
		host_end = p;
		while (host_end < auth_end && *host_end != ':')
			host_end++;
		if (host_end == host)
			return -EINVAL;
		for (const char *q = host; q < host_end; q++)
			if (!host_char_ok(*q))
				return -EINVAL;
		p = host_end;
	}
	if (p < auth_end) {
		if (*p != ':' || p + 1 == auth_end)
			return -EINVAL;
		port = 0;
		for (p++; p < auth_end; p++) {
			if (*p < '0' || *p > '9')
				return -EINVAL;
			port = port * 10 + (*p - '0');
			if (port > 65535)
				return -EINVAL;
		}
		if (port == 0)
			return -EINVAL;
	}
	hlen = (size_t)(host_end - host);
	out->port = port > 0 ? port : (out->tls ? 443 : 80);
	out->host = ds_strndup(host, hlen);
	/* Path and query without the fragment, which is never sent (RFC 9110 §7.1); they start
	 * with '/' or '?' or are empty, and an empty path is "/". */
	out->path = ds_asprintf("%s%.*s", *auth_end == '/' ? "" : "/", (int)strcspn(auth_end, "#"), auth_end);
	if (port > 0 && port != (out->tls ? 443 : 80))
		out->hostport = ds_asprintf(v6 ? "[%.*s]:%d" : "%.*s:%d", (int)hlen, host, port);
	else
		out->hostport = ds_asprintf(v6 ? "[%.*s]" : "%.*s", (int)hlen, host);
	if (!out->host || !out->path || !out->hostport) {
		ds_http_url_free(out);
		return -ENOMEM;
	}
	return 0;
}
