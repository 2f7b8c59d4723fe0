/*
 * Blocking HTTP/1.1 client on libwebsockets 4.1 (one lws_context per client, one request at
 * a time). The lws traps this file handles are listed in docs/http.md; the short version:
 *  - lws never adds Content-Length: we always send it (warmcat/libwebsockets#2474);
 *  - RECEIVE_CLIENT_HTTP must call lws_http_client_read() or no body arrives (#1772);
 *  - CLOSED without COMPLETED is a failed transfer, not an empty body;
 *  - any nonzero callback return closes the connection, so every case ends in break/return 0;
 *  - no pipelining or keep-alive reuse on 4.1 (204 on a reused connection never completes);
 *  - lws_config.h turns on _DEBUG unless NDEBUG is defined: the Makefile defines NDEBUG.
 */
#define DS_LOG_TAG "http"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_NET
#include "core/ds_core.h"
#include "net/ds_http.h"
#include "net/http_tls.h"

#include <libwebsockets.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BODY_CHUNK 4096 /* small writes: 4.1 lacks the "defer body pending end" fix */
#define ERRLEN 256

struct hdr_buf {
	struct ds_http_header *v;
	size_t n, cap;
};

struct xfer {
	struct ds_http_client *c;
	const struct ds_http_request *req;
	const struct ds_http_url *url;
	struct lws *wsi;
	lws_sorted_usec_list_t sul; /* whole-request deadline */
	size_t sent;
	int status;
	struct hdr_buf hdrs;
	char *body;
	size_t body_len, body_cap;
	int err;        /* first error, negative errno */
	int completed;  /* COMPLETED_CLIENT_HTTP seen */
	int done;       /* nothing more will happen for this transfer */
	unsigned char wbuf[LWS_PRE + BODY_CHUNK];
};

struct ds_http_client {
	struct lws_context *ctx;
	void *tls_ctx; /* our SSL_CTX, freed after the lws context (http_tls.h) */
	void *trust;   /* reference to the shared trust (http_tls.h), taken on the first https */
	int trusted;   /* ctx can verify servers: trust attached, or lws loaded the bundle */
	char *ca;      /* "" (OS store, OpenSSL) or the bundle's path */
	unsigned int connect_timeout_s;
	struct xfer *cur;
	char *user_agent;
	char **keep; /* lower-case names of custom headers to keep */
	size_t n_keep;
	int timeout_s;
	size_t max_response;
	char err[ERRLEN];
};

/*
 * Custom (non-lws-token) response headers the protocols use. lws 4.1 stores unknown headers
 * but has no call to list them (lws_hdr_custom_name_foreach() arrived in 4.3), so a header is
 * kept only if it is an lws token or named here or in ds_http_config.keep_headers.
 * Sources: Sync 1.5 storage API (X-Weave-*, X-Last-Modified), tokenserver (X-Timestamp, X-Backoff),
 * Kinto (Backoff, Alert, Next-Page, Total-*), Hawk (Server-Authorization), WebDAV/ownCloud.
 */
static const char builtin_keep[] = /* a word list (next_word()) */
	"x-weave-timestamp\0x-weave-backoff\0x-weave-records\0x-weave-next-offset\0"
	"x-weave-quota-remaining\0x-weave-alert\0x-last-modified\0x-timestamp\0x-backoff\0"
	"backoff\0alert\0next-page\0total-records\0total-objects\0"
	"server-authorization\0timestamp\0dav\0lock-token\0oc-etag\0oc-fileid\0"
	"x-request-id\0x-content-type-options\0";

/* ---- lws log routing ------------------------------------------------------------------------ */

/* lws logs through one process-wide hook; clients are per thread, so the last line is too. */
static _Thread_local char tl_lws_last[160];
static _Thread_local char tl_tls_reason[160];

static void lws_log_emit(int level, const char *line)
{
	size_t n;

	snprintf(tl_lws_last, sizeof(tl_lws_last), "%s", line);
	n = strlen(tl_lws_last);
	while (n && (tl_lws_last[n - 1] == '\n' || tl_lws_last[n - 1] == '\r'))
		tl_lws_last[--n] = '\0';
	DS_LOG_DBG("lws(%d): %s", level, tl_lws_last);
	/*
	 * With OpenSSL 3, lws 4.1.6 reports a failed handshake as "error:00000001:lib(0)::
	 * reason(1)"; the real reason ("hostname mismatch", "self-signed certificate", ...) is only
	 * in the log line of its verify callback. Keep that one for ds_http_last_error().
	 */
	if (!strncmp(tl_lws_last, "SSL error: ", 11))
		snprintf(tl_tls_reason, sizeof(tl_tls_reason), "%s", tl_lws_last + 11);
}

static void lws_log_setup(void)
{
	static atomic_int done;
	if (!atomic_exchange(&done, 1))
		lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
}

/* ---- helpers ------------------------------------------------------------------------------- */

/*
 * Constant lists of words are one string, each word ending with its '\0' and the list with an
 * empty word ("a\0b\0"): no table of pointers to relocate. Iterate with
 * for (const char *w = list; *w; w = next_word(w)).
 */
static const char *next_word(const char *w)
{
	return w + strlen(w) + 1;
}

/* Returns rc. */
static int set_err(struct ds_http_client *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int set_err(struct ds_http_client *c, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	DS_LOG_DBG("request failed (%d): %s", rc, c->err);
	return rc;
}

/* Returns rc, whether or not it is the transfer's first error. */
static int xfer_fail(struct xfer *x, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int xfer_fail(struct xfer *x, int rc, const char *fmt, ...)
{
	va_list ap;

	if (x->err)
		return rc; /* keep the first cause */
	x->err = rc;
	va_start(ap, fmt);
	vsnprintf(x->c->err, sizeof(x->c->err), fmt, ap);
	va_end(ap);
	return rc;
}

static char *lower_dup(const char *s, size_t n)
{
	char *d = ds_malloc(n + 1);
	if (!d)
		return NULL;
	for (size_t i = 0; i < n; i++)
		d[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
	d[n] = '\0';
	return d;
}

static int hdr_add(struct hdr_buf *h, const char *name, size_t nlen, const char *value)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		struct ds_http_header *v = ds_realloc(h->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	char *n = lower_dup(name, nlen);
	char *val = ds_strdup(value);
	if (!n || !val) {
		ds_free(n);
		ds_free(val);
		return -ENOMEM;
	}
	h->v[h->n].name = n;
	h->v[h->n].value = val;
	h->n++;
	return 0;
}

static void hdr_free(struct hdr_buf *h)
{
	for (size_t i = 0; i < h->n; i++) {
		ds_free((void *)h->v[i].name);
		ds_free((void *)h->v[i].value);
	}
	ds_free(h->v);
	memset(h, 0, sizeof(*h));
}

/* RFC 9110 §5.6.2 token characters (header names, methods). */
static int is_token(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch <= 0x20 || ch >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", ch))
			return 0;
	}
	return 1;
}

static int value_ok(const char *s)
{
	for (; s && *s; s++)
		if (*s == '\r' || *s == '\n' || *s == '\0')
			return 0;
	return s != NULL;
}

/*
 * lws 4.1 binds a client connection to the HTTP/1 role only for the methods in its own list
 * (lib/roles/h1/ops-h1.c http_methods[], plus HEAD); any other method leaves the connection
 * without a role and nothing ever happens. Refuse those up front instead of timing out.
 */
static int method_supported(const char *m)
{
	for (const char *w = "GET\0HEAD\0POST\0PUT\0PATCH\0DELETE\0OPTIONS\0"; *w; w = next_word(w))
		if (!strcmp(m, w))
			return 1;
	return 0;
}

static int method_has_body(const char *m)
{
	return !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH");
}

/*
 * Headers whose values may be credentials are never logged: Authorization (Bearer, Hawk,
 * Basic), cookies, and anything named like a token, key or secret (X-KeyID, X-Sync-Token...).
 */
static int is_secret_header(const char *name)
{
	static const char *const words[] = { "auth", "cookie", "token", "key", "secret", "session" };
	char lname[128];
	size_t n = strlen(name);

	if (n >= sizeof(lname))
		return 1;
	for (size_t i = 0; i <= n; i++)
		lname[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] - 'A' + 'a') : name[i];
	for (size_t i = 0; i < DS_ARRAY_SIZE(words); i++)
		if (strstr(lname, words[i]))
			return 1;
	return 0;
}

/* ---- response capture ----------------------------------------------------------------------- */

/* A response header captured so far (ds_http_header() on them). */
static const char *got_header(const struct xfer *x, const char *name)
{
	return ds_http_header(&(struct ds_http_response){ .headers = x->hdrs.v, .n_headers = x->hdrs.n }, name);
}

#if defined(LWS_WITH_CUSTOM_HEADERS)
/* Custom header k (lower case) into x->hdrs when the response has it and no lws token named it. */
static int capture_custom(struct xfer *x, char *buf, int cap, const char *k)
{
	char key[128];
	int kl = snprintf(key, sizeof(key), "%s:", k), n;

	if (kl <= 1 || kl >= (int)sizeof(key) || got_header(x, k))
		return 0;
	n = lws_hdr_custom_length(x->wsi, key, kl);
	if (n < 0)
		return 0;
	if (n >= cap || lws_hdr_custom_copy(x->wsi, buf, cap, key, kl) < 0)
		return -EPROTO;
	return hdr_add(&x->hdrs, k, strlen(k), buf);
}
#endif

static int capture_headers(struct xfer *x)
{
	struct lws *wsi = x->wsi;
	char *buf;
	int rc = 0, n;
	const int cap = 8192;

	buf = ds_malloc((size_t)cap);
	if (!buf)
		return -ENOMEM;
	for (int t = 0; t < WSI_TOKEN_COUNT && !rc; t++) {
		const char *name = (const char *)lws_token_to_string((enum lws_token_indexes)t);
		size_t nl;

		/* Only "name:" entries are headers; request-line and h2 pseudo tokens are not. */
		if (!name || !(nl = strlen(name)) || name[nl - 1] != ':' || name[0] == ':')
			continue;
		n = lws_hdr_total_length(wsi, (enum lws_token_indexes)t);
		if (n <= 0)
			continue;
		if (n >= cap || lws_hdr_copy(wsi, buf, cap, (enum lws_token_indexes)t) < 0) {
			rc = -EPROTO;
			break;
		}
		rc = hdr_add(&x->hdrs, name, nl - 1, buf);
	}
#if defined(LWS_WITH_CUSTOM_HEADERS)
	for (const char *k = builtin_keep; *k && !rc; k = next_word(k))
		rc = capture_custom(x, buf, cap, k);
	for (size_t i = 0; i < x->c->n_keep && !rc; i++)
		rc = capture_custom(x, buf, cap, x->c->keep[i]);
#endif
	ds_free(buf);
	return rc;
}

static int sink_active(const struct xfer *x)
{
	return x->req->body_write && x->status >= 200 && x->status < 300;
}

static void deadline_cb(lws_sorted_usec_list_t *sul);

static int body_append(struct xfer *x, const void *data, size_t len)
{
	if (sink_active(x)) {
		int rc = x->req->body_write(data, len, x->req->body_write_user_data);
		if (rc) {
			xfer_fail(x, rc < 0 ? rc : -EIO, "the response body's consumer failed (%d)", rc);
			return -1;
		}
		x->body_len += len;
		/* A streamed body has no size bound, and its consumer may do real work with each
		 * piece (the Sync 1.5 download applies records as they come): the deadline counts
		 * from the last piece, so only a body that stops arriving times out. */
		lws_sul_schedule(x->c->ctx, 0, &x->sul, deadline_cb,
				 (lws_usec_t)x->c->timeout_s * LWS_US_PER_SEC);
		return 0;
	}
	if (len > x->c->max_response - x->body_len)
		return xfer_fail(x, -EFBIG, "response body larger than %zu bytes", x->c->max_response);
	if (x->body_len + len + 1 > x->body_cap) {
		size_t cap = x->body_cap ? x->body_cap : 4096;
		while (cap < x->body_len + len + 1)
			cap *= 2;
		char *b = ds_realloc(x->body, cap);
		if (!b)
			return xfer_fail(x, -ENOMEM, "out of memory for the response body");
		x->body = b;
		x->body_cap = cap;
	}
	memcpy(x->body + x->body_len, data, len);
	x->body_len += len;
	x->body[x->body_len] = '\0';
	return 0;
}

/* ---- request ------------------------------------------------------------------------------ */

static int append_headers(struct xfer *x, unsigned char **p, unsigned char *end)
{
	const struct ds_http_request *r = x->req;
	const char *method = r->method ? r->method : "GET";
	char name[128], num[24];

	if (x->c->user_agent &&
	    lws_add_http_header_by_token(x->wsi, WSI_TOKEN_HTTP_USER_AGENT,
					 (const unsigned char *)x->c->user_agent,
					 (int)strlen(x->c->user_agent), p, end))
		return -EMSGSIZE;
	for (size_t i = 0; i < r->n_headers; i++) {
		const struct ds_http_header *h = &r->headers[i];
		int nl = snprintf(name, sizeof(name), "%s:", h->name);
		if (nl <= 0 || nl >= (int)sizeof(name) ||
		    lws_add_http_header_by_name(x->wsi, (const unsigned char *)name,
						(const unsigned char *)h->value, (int)strlen(h->value),
						p, end))
			return -EMSGSIZE;
		DS_LOG_DBG("> %s %s", h->name, is_secret_header(h->name) ? "(redacted)" : h->value);
	}
	if (r->body_len || method_has_body(method)) {
		int n = snprintf(num, sizeof(num), "%zu", r->body_len);
		if (lws_add_http_header_by_token(x->wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH,
						 (const unsigned char *)num, n, p, end))
			return -EMSGSIZE;
	}
	if (r->body_len) {
		lws_client_http_body_pending(x->wsi, 1);
		lws_callback_on_writable(x->wsi);
	}
	return 0;
}

static int write_body(struct xfer *x)
{
	const struct ds_http_request *r = x->req;
	unsigned char *buf = x->wbuf + LWS_PRE;
	size_t n = DS_MIN((size_t)BODY_CHUNK, r->body_len - x->sent);
	int last, rc;

	if (r->body_read) {
		size_t got = 0;
		rc = r->body_read(buf, n, &got, r->body_user_data);
		if (rc < 0)
			return xfer_fail(x, rc, "request body source failed (%d)", rc);
		if (got == 0 || got > n)
			return xfer_fail(x, -EIO, "request body source ended after %zu of %zu bytes", x->sent,
					 r->body_len);
		n = got;
	} else {
		memcpy(buf, (const unsigned char *)r->body + x->sent, n);
	}
	last = x->sent + n == r->body_len;
	/* The final piece is marked so lws ends the body correctly (required for h2). */
	if (lws_write(x->wsi, buf, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
		return xfer_fail(x, -EIO, "writing the request body failed");
	x->sent += n;
	if (last)
		lws_client_http_body_pending(x->wsi, 0);
	else
		lws_callback_on_writable(x->wsi);
	return 0;
}

/*
 * lws reports connect failures as text in CLIENT_CONNECTION_ERROR. The strings below are
 * those of lws 4.1.6 (lib/core-net/client/connect*.c, lib/tls/openssl/openssl-client.c).
 */
static int map_connect_error(const char *why)
{
	/* The first group with a word in why decides. */
	static const struct {
		int rc;
		const char *words; /* a word list (next_word()) */
	} map[] = {
		/* "cert" also finds "certificate" */
		{ -EKEYREJECTED, "tls\0TLS\0SSL\0ssl\0cert\0hostname\0" },
		{ -ETIMEDOUT, "timeout\0timed out\0" },
		{ -EHOSTUNREACH, "dns\0DNS\0getaddrinfo\0resolve\0unreachable\0" },
		/*
		 * 4.1.6 says only "Unable to connect" once every address failed, without errno; on a
		 * reachable host that is a refusal, which is what callers retry on.
		 */
		{ -ECONNREFUSED, "refused\0Unable to connect\0connect failed\0" },
	};

	for (size_t i = 0; why && i < DS_ARRAY_SIZE(map); i++)
		for (const char *w = map[i].words; *w; w = next_word(w))
			if (strstr(why, w))
				return map[i].rc;
	return -EIO;
}

/* ---- lws callback --------------------------------------------------------------------------- */

static void xfer_finish(struct xfer *x)
{
	x->done = 1;
	if (x->wsi) {
		/* Later callbacks of this wsi (closing) must not touch the transfer. */
		lws_set_opaque_user_data(x->wsi, NULL);
		x->wsi = NULL;
	}
	lws_sul_cancel(&x->sul);
}

static int http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct xfer *x = lws_get_opaque_user_data(wsi);
	int rc;

	DS_UNUSED(user);
	if (!x)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	x->wsi = wsi;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
		const char *why = in ? (const char *)in : "";
		rc = map_connect_error(why);
		if (rc == -EKEYREJECTED && !tl_tls_reason[0])
			(void)ds_http_tls_reject_reason(wsi, why, x->url->host, tl_tls_reason,
							sizeof(tl_tls_reason));
		if (rc == -EKEYREJECTED && tl_tls_reason[0])
			xfer_fail(x, rc, "TLS: certificate of %s rejected: %s", x->url->host, tl_tls_reason);
		else if (rc == -EKEYREJECTED)
			xfer_fail(x, rc, "TLS failure with %s: %s", x->url->host, why);
		else if (rc == -ECONNREFUSED)
			xfer_fail(x, rc, "connection to %s port %d refused (%s)", x->url->host,
				  x->url->port, why);
		else
			xfer_fail(x, rc, "connecting to %s port %d failed: %s", x->url->host,
				  x->url->port, why[0] ? why : tl_lws_last);
		xfer_finish(x);
		return 0;
	}
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		unsigned char **p = (unsigned char **)in, *end = *p + len;
		rc = append_headers(x, p, end);
		if (rc) {
			xfer_fail(x, rc, "request headers do not fit the lws header buffer");
			return -1;
		}
		break;
	}
	case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
		if (x->sent < x->req->body_len && write_body(x) < 0)
			return -1;
		break;
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		x->status = (int)lws_http_client_http_response(wsi);
		rc = capture_headers(x);
		if (rc) {
			xfer_fail(x, rc, rc == -ENOMEM ? "out of memory for response headers"
						       : "response header too large");
			return -1;
		}
		{
			/* Refuse early when the announced length is over the cap. */
			const char *cl = got_header(x, "content-length");
			if (cl && !sink_active(x) && strtoull(cl, NULL, 10) > x->c->max_response) {
				xfer_fail(x, -EFBIG, "response body of %s bytes is over the %zu byte limit",
					  cl, x->c->max_response);
				return -1;
			}
		}
		DS_LOG_DBG("< %d (%zu headers)", x->status, x->hdrs.n);
		if (x->req->method && !strcmp(x->req->method, "HEAD")) {
			/*
			 * A HEAD response ends with its headers (RFC 9110 §9.3.2), but lws 4.1 waits
			 * for Content-Length bytes and never raises COMPLETED: finish here and close.
			 */
			x->completed = 1;
			xfer_finish(x);
			return -1;
		}
		break;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
		/* Drives the de-chunking reader; data comes back as RECEIVE_CLIENT_HTTP_READ. */
		char buf[LWS_PRE + 4096];
		char *px = buf + LWS_PRE;
		int lenx = (int)sizeof(buf) - LWS_PRE;
		if (lws_http_client_read(wsi, &px, &lenx) < 0)
			return -1;
		break;
	}
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
		if (body_append(x, in, len) < 0)
			return -1;
		break;
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
		x->completed = 1;
		xfer_finish(x);
		break;
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		if (!x->completed)
			xfer_fail(x, -ECONNRESET, "connection closed before the response was complete");
		xfer_finish(x);
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "ds-http", http_cb, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void deadline_cb(lws_sorted_usec_list_t *sul)
{
	struct xfer *x = lws_container_of(sul, struct xfer, sul);

	xfer_fail(x, -ETIMEDOUT, "no complete response from %s within %d s", x->url->host,
		  x->c->timeout_s);
	if (x->wsi)
		lws_set_timeout(x->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	xfer_finish(x);
}

/* ---- context and trust ---------------------------------------------------------------------- */

static atomic_ulong trust_loads;

void ds_http_tls_note_load(void)
{
	atomic_fetch_add(&trust_loads, 1);
}

unsigned long ds_http_tls_trust_loads(void)
{
	return atomic_load(&trust_loads);
}

/* 1 when the file has a PEM certificate marker, 0 when not, -ENOENT when it cannot be read. */
static int bundle_has_pem(const char *path)
{
	char line[256];
	int found = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return -ENOENT;
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, "-----BEGIN ", 11) && strstr(line, "CERTIFICATE-----");
	fclose(f);
	return found;
}

/*
 * The client's lws context. with_ca only matters on mbedTLS, where lws parses the bundle into
 * the context it creates: a client that never speaks TLS never gets it parsed. On OpenSSL the
 * trust is in our SSL_CTX, filled by ds_http_tls_trust_get() on the first https request.
 */
static int ctx_create(struct ds_http_client *c, int with_ca)
{
	struct lws_context_creation_info info;

	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
#if !defined(LWS_WITH_MBEDTLS)
	if (c->tls_ctx) {
		/* Trust is set up in tls_ctx: the bundle alone, or the OS store. */
		info.provided_client_ssl_ctx = c->tls_ctx;
	} else
#endif
	{
		/* lws builds the client context: from the bundle once trust is needed, and never
		 * from the OS store by itself (a configured bundle is the whole trust: private CAs
		 * must not widen to the OS store). */
		info.options |= LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
		if (with_ca && c->ca[0])
			info.client_ssl_ca_filepath = c->ca;
	}
	info.connect_timeout_secs = c->connect_timeout_s;
	/* lws' own per-stage timeouts stay behind our whole-request deadline. */
	info.timeout_secs = (unsigned int)c->timeout_s + 5;
	info.fd_limit_per_thread = 16; /* the default sizes tables by RLIMIT_NOFILE */
	info.max_http_header_data = 16384;
	info.pt_serv_buf_size = 16384;
	c->ctx = lws_create_context(&info);
	if (!c->ctx) {
		set_err(c, -EIO, "cannot create the HTTP context%s",
			with_ca ? " (unusable CA bundle?)" : "");
		DS_LOG_ERR("%s", c->err);
		return with_ca ? -EINVAL : -EIO;
	}
	return 0;
}

/* The TLS context (OpenSSL) and lws context of a client that has none. */
static int ctx_make(struct ds_http_client *c)
{
	int rc;

	if (!c->tls_ctx && !c->trusted) {
		rc = ds_http_tls_ctx_new(&c->tls_ctx, c->err, sizeof(c->err));
		if (rc) {
			DS_LOG_ERR("%s", c->err);
			return rc;
		}
	}
	return ctx_create(c, c->trusted);
}

/* Before the client's first TLS connection: the trust anchors, shared where the library lets us. */
static int ensure_trust(struct ds_http_client *c)
{
	int rc;

	if (c->trusted)
		return 0;
	rc = ds_http_tls_trust_get(c->tls_ctx, c->ca, &c->trust, c->err, sizeof(c->err));
	if (rc) {
		DS_LOG_ERR("%s", c->err);
		return rc;
	}
	if (!c->tls_ctx) {
		/* lws builds the TLS context from the bundle only when it creates the lws context. */
		lws_context_destroy(c->ctx);
		c->ctx = NULL;
		rc = ctx_create(c, 1);
		if (rc)
			return rc;
	}
	c->trusted = 1;
	return 0;
}

/* ---- public API ----------------------------------------------------------------------------- */

int ds_http_client_new(const struct ds_http_config *cfg, struct ds_http_client **out)
{
	static const struct ds_http_config defaults;
	struct ds_http_client *c;
	const char *ca;
	bool os_store;
	int rc = -ENOMEM;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!cfg)
		cfg = &defaults;
	ca = cfg->ca_bundle ? cfg->ca_bundle : CONFIG_DS_HTTP_CA_BUNDLE;

	c = ds_calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->timeout_s = cfg->timeout_s > 0 ? cfg->timeout_s : CONFIG_DS_HTTP_TIMEOUT_S;
	c->max_response = cfg->max_response ? cfg->max_response : (size_t)CONFIG_DS_HTTP_MAX_RESPONSE;
	c->user_agent = ds_strdup(cfg->user_agent ? cfg->user_agent : "datasync/" DS_VERSION);
	if (!c->user_agent)
		goto fail;
	for (const char *const *k = cfg->keep_headers; k && *k; k++)
		c->n_keep++;
	if (c->n_keep) {
		c->keep = ds_calloc(c->n_keep, sizeof(*c->keep));
		if (!c->keep)
			goto fail;
		for (size_t i = 0; i < c->n_keep; i++)
			if (!(c->keep[i] = lower_dup(cfg->keep_headers[i], strlen(cfg->keep_headers[i]))))
				goto fail;
	}
	os_store = !ca[0];
#if defined(LWS_WITH_MBEDTLS)
	/* lws on mbedTLS reads no OS trust store by itself (LWS_SSL_CLIENT_USE_OS_CA_CERTS is OpenSSL's). */
	if (os_store)
		ca = CONFIG_DS_HTTP_OS_CA_FILE;
#endif
	if (!(c->ca = ds_strdup(ca)))
		goto fail;
	if (!os_store) {
		/* Parsed on the first https request (http_tls.h); a wrong path or a file that is
		 * no PEM bundle at all is refused now, where the configuration is applied. The OS
		 * store is left to that request: a device without one still reaches http:// servers. */
		rc = bundle_has_pem(ca);
		if (rc < 0) {
			DS_LOG_ERR("CA bundle %s cannot be read", ca);
			goto fail;
		}
		if (!rc) {
			rc = -EINVAL;
			snprintf(c->err, sizeof(c->err), "CA bundle %s holds no PEM certificate", ca);
			DS_LOG_ERR("%s", c->err);
			goto fail;
		}
	}
	c->connect_timeout_s = (unsigned int)(cfg->connect_timeout_s > 0 ? cfg->connect_timeout_s
									 : CONFIG_DS_HTTP_CONNECT_TIMEOUT_S);
	lws_log_setup();
	rc = ctx_make(c);
	if (rc)
		goto fail;
	*out = c;
	return 0;
fail:
	ds_http_client_free(c);
	return rc;
}

/* The context, TLS context and trust of c; the next request makes them again. */
static void ctx_release(struct ds_http_client *c)
{
	if (c->ctx)
		lws_context_destroy(c->ctx);
	c->ctx = NULL;
	if (c->tls_ctx)
		ds_http_tls_ctx_free(c->tls_ctx);
	c->tls_ctx = NULL;
	ds_http_tls_trust_put(c->trust);
	c->trust = NULL;
	c->trusted = 0;
}

void ds_http_client_release(struct ds_http_client *c)
{
	if (c && !c->cur)
		ctx_release(c);
}

void ds_http_client_free(struct ds_http_client *c)
{
	if (!c)
		return;
	ctx_release(c);
	ds_free(c->ca);
	for (size_t i = 0; i < c->n_keep && c->keep; i++)
		ds_free(c->keep[i]);
	ds_free(c->keep);
	ds_free(c->user_agent);
	ds_free(c);
}

const char *ds_http_last_error(const struct ds_http_client *c)
{
	return c ? c->err : "no client";
}

void ds_http_response_free(struct ds_http_response *resp)
{
	if (!resp)
		return;
	struct hdr_buf h = { .v = resp->headers, .n = resp->n_headers, .cap = resp->n_headers };
	hdr_free(&h);
	ds_free(resp->body);
	memset(resp, 0, sizeof(*resp));
}

static int check_request(struct ds_http_client *c, const struct ds_http_request *r)
{
	if (r->method && !is_token(r->method))
		return set_err(c, -EINVAL, "invalid method");
	if (r->method && !method_supported(r->method))
		return set_err(c, -ENOTSUP, "method %s is not supported by the libwebsockets 4.1 client", r->method);
	if (r->n_headers && !r->headers)
		return set_err(c, -EINVAL, "headers missing");
	for (size_t i = 0; i < r->n_headers; i++) {
		const char *own = "content-length\0transfer-encoding\0host\0connection\0";

		/* Framing headers come from the client: a second copy would desync. */
		for (; r->headers[i].name && *own; own = next_word(own))
			if (!strcasecmp(r->headers[i].name, own))
				return set_err(c, -EINVAL, "request header %s is set by the client", own);
		/* Header injection guard: a CR/LF would start a new header or request. */
		if (!is_token(r->headers[i].name) || !value_ok(r->headers[i].value))
			return set_err(c, -EINVAL, "invalid request header #%zu", i);
	}
	if (r->body_len && !r->body && !r->body_read)
		return set_err(c, -EINVAL, "body_len without body");
	return 0;
}

int ds_http_perform(struct ds_http_client *c, const struct ds_http_request *req,
		    struct ds_http_response *resp)
{
	struct lws_client_connect_info i;
	struct ds_http_url url;
	struct xfer *x;
	int rc;

	if (resp)
		memset(resp, 0, sizeof(*resp));
	if (!c || !req || !resp || !req->url)
		return -EINVAL;
	if (c->cur)
		return set_err(c, -EBUSY, "client already performing a request");
	c->err[0] = '\0';
	tl_tls_reason[0] = '\0';
	rc = check_request(c, req);
	if (rc)
		return rc;
	rc = ds_http_url_parse(req->url, &url);
	if (rc)
		return set_err(c, rc, rc == -ENOMEM ? "out of memory" : "invalid URL");
	/* After ds_http_client_release(), or a context lost to a failed rebuild (ensure_trust). */
	if (!c->ctx && (rc = ctx_make(c)) != 0) {
		ds_http_url_free(&url);
		return rc;
	}
	if (url.tls && (rc = ensure_trust(c)) != 0) {
		ds_http_url_free(&url);
		return rc;
	}
	x = ds_calloc(1, sizeof(*x));
	if (!x) {
		ds_http_url_free(&url);
		return set_err(c, -ENOMEM, "out of memory");
	}
	x->c = c;
	x->req = req;
	x->url = &url;
	c->cur = x;

	memset(&i, 0, sizeof(i));
	i.context = c->ctx;
	i.address = url.host;
	i.port = url.port;
	i.path = url.path;
	i.host = url.hostport;
	i.method = req->method ? req->method : "GET";
	i.protocol = protocols[0].name;
	i.local_protocol_name = protocols[0].name;
	/* Not .pwsi: lws does not promise to clear it when the wsi goes away. */
	i.opaque_user_data = x;
	if (url.tls) {
		/* Verification stays on: no ALLOW_SELFSIGNED / SKIP_SERVER_CERT_HOSTNAME_CHECK. */
		i.ssl_connection = LCCSCF_USE_SSL;
		/* HTTP/1.1 only: the h2 client of 4.1 misses later stream fixes. */
		i.alpn = "http/1.1";
	}
	DS_LOG_DBG("%s %s://%s%s", i.method, url.tls ? "https" : "http", url.hostport, url.path);

	lws_sul_schedule(c->ctx, 0, &x->sul, deadline_cb, (lws_usec_t)c->timeout_s * LWS_US_PER_SEC);
	struct lws *w = lws_client_connect_via_info(&i);
	if (w && !x->done)
		x->wsi = w;
	if (!w) {
		/* The error callback may already have run inside the call. */
		/*
		 * 4.1.6 resolves names synchronously inside the call and, when that fails, returns
		 * NULL without raising CLIENT_CONNECTION_ERROR: a silent NULL is a lookup failure.
		 */
		if (!x->err)
			xfer_fail(x, -EHOSTUNREACH, "cannot resolve or reach %s", url.host);
		xfer_finish(x);
	}
	while (!x->done) {
		if (lws_service(c->ctx, 0) < 0) {
			xfer_fail(x, -EIO, "HTTP event loop failed");
			if (x->wsi)
				lws_set_timeout(x->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			xfer_finish(x);
		}
	}
	lws_sul_cancel(&x->sul);

	rc = x->err;
	if (!rc && x->status <= 0)
		rc = set_err(c, -EPROTO, "no HTTP status in the response");
	if (rc) {
		hdr_free(&x->hdrs);
		ds_free(x->body);
		DS_LOG_DBG("%s %s failed: %s", i.method, url.hostport, c->err);
	} else {
		resp->status = x->status;
		resp->headers = x->hdrs.v;
		resp->n_headers = x->hdrs.n;
		resp->body = x->body;
		resp->body_len = x->body_len;
		DS_LOG_DBG("%s %s -> %d, %zu bytes", i.method, url.hostport, x->status, x->body_len);
	}
	c->cur = NULL;
	ds_free(x);
	ds_http_url_free(&url);
	return rc;
}
