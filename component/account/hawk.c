/*
 * hawk.c - Hawk request headers (hueniverse/hawk API.md and lib/crypto.js; accounts.md §6).
 * Known answers: the spec's GET and POST examples and a Sync storage request with a tokenlib
 * key (test/vectors/hawk.txt).
 */
#include "account/ds_hawk.h"
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "ds_port.h"
#include "net/ds_http.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Growing text buffer for the normalized strings (ext and resource have no fixed bound). */
struct buf {
	char *p;
	size_t len, cap;
	int err;
};

static void buf_put(struct buf *b, const void *s, size_t n)
{
	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = DS_MAX(b->cap * 2, b->len + n + 64);
		char *np = ds_malloc(cap);

		if (!np) {
			b->err = -ENOMEM;
			return;
		}
		if (b->p) {
			memcpy(np, b->p, b->len);
			ds_memzero(b->p, b->len);
			ds_free(b->p);
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

static void buf_line(struct buf *b, const char *s)
{
	buf_str(b, s ? s : "");
	buf_put(b, "\n", 1);
}

/* n bytes of s through to_case (tolower, toupper), then a line end. */
static void buf_case_line(struct buf *b, const char *s, size_t n, int (*to_case)(int))
{
	for (size_t i = 0; i < n; i++) {
		char c = (char)to_case((unsigned char)s[i]);

		buf_put(b, &c, 1);
	}
	buf_put(b, "\n", 1);
}

static void buf_free(struct buf *b)
{
	if (b->p) {
		ds_memzero(b->p, b->len);
		ds_free(b->p);
	}
	b->p = NULL;
}

/* The SHA-256 (HMAC-SHA-256 with cred's key when cred is set) of b's text into out in base64; b is freed. */
static int buf_digest(struct buf *b, const struct ds_hawk_credentials *cred, char out[DS_HAWK_HASH_LEN])
{
	uint8_t h[DS_SHA256_LEN];
	int rc = b->err;

	if (!rc)
		rc = cred ? ds_hmac_sha256(cred->key, cred->key_len, b->p, b->len, h) : ds_sha256(b->p, b->len, h);
	buf_free(b);
	if (!rc)
		rc = ds_base64_encode(h, sizeof(h), out, DS_HAWK_HASH_LEN);
	ds_memzero(h, sizeof(h));
	return rc < 0 ? rc : 0;
}

/* Hawk's escaping of ext in the normalized string (lib/crypto.js): '\' -> "\\", LF -> "\n". */
static void buf_ext_line(struct buf *b, const char *ext)
{
	for (const char *p = ext ? ext : ""; *p; p++) {
		if (*p == '\\')
			buf_str(b, "\\\\");
		else if (*p == '\n')
			buf_str(b, "\\n");
		else
			buf_put(b, p, 1);
	}
	buf_put(b, "\n", 1);
}

int ds_hawk_payload_hash(const char *content_type, const void *payload, size_t len,
			 char out[DS_HAWK_HASH_LEN])
{
	struct buf b = { 0 };
	size_t tlen;

	if (!content_type || !out || (len && !payload))
		return -EINVAL;
	/* lib/crypto.js parseContentType: the media type only, trimmed, lower case. */
	while (*content_type == ' ')
		content_type++;
	tlen = strcspn(content_type, ";");
	while (tlen && content_type[tlen - 1] == ' ')
		tlen--;
	buf_str(&b, "hawk.1.payload\n");
	buf_case_line(&b, content_type, tlen, tolower);
	if (len)
		buf_put(&b, payload, len);
	buf_put(&b, "\n", 1);
	return buf_digest(&b, NULL, out);
}

int ds_hawk_mac(const char *type, const struct ds_hawk_credentials *cred, int64_t ts,
		const char *nonce, const char *method, const char *resource, const char *host, int port,
		const char *hash, const char *ext, char out[DS_HAWK_HASH_LEN])
{
	struct buf b = { 0 };
	char num[24];

	if (!type || !cred || !cred->key || !nonce || !method || !resource || !host || port <= 0 ||
	    !out)
		return -EINVAL;
	buf_str(&b, "hawk.1.");
	buf_line(&b, type);
	snprintf(num, sizeof(num), "%" PRId64, ts);
	buf_line(&b, num);
	buf_line(&b, nonce);
	buf_case_line(&b, method, strlen(method), toupper);
	buf_line(&b, resource);
	buf_case_line(&b, host, strlen(host), tolower);
	snprintf(num, sizeof(num), "%d", port);
	buf_line(&b, num);
	buf_line(&b, hash);
	buf_ext_line(&b, ext);
	return buf_digest(&b, cred, out);
}

int64_t ds_hawk_now(int64_t skew_s)
{
	return ds_port_wall_ms() / 1000 + skew_s;
}

int ds_hawk_skew_from_server(int64_t server_s, int64_t *skew_s)
{
	int64_t d = server_s - ds_port_wall_ms() / 1000;

	if (!skew_s || server_s <= 0)
		return -EINVAL;
	if (d > CONFIG_DS_ACCOUNT_HAWK_MAX_SKEW_S || d < -(int64_t)CONFIG_DS_ACCOUNT_HAWK_MAX_SKEW_S)
		return -ERANGE;
	*skew_s = d;
	return 0;
}

/* A header attribute value may not hold '"' or '\' (lib/utils.js header parsing refuses them). */
static bool attr_ok(const char *s)
{
	for (; *s; s++)
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
			return false;
	return true;
}

int ds_hawk_header(const struct ds_hawk_credentials *cred, const struct ds_hawk_request *req,
		   char *out, size_t cap)
{
	char hash[DS_HAWK_HASH_LEN] = "", mac[DS_HAWK_HASH_LEN], nonce[DS_HAWK_NONCE_MAX];
	int64_t ts;
	int rc, n;

	if (!cred || !cred->id || !*cred->id || !cred->key || !req || !req->method || !req->host ||
	    !req->resource || !out || !cap)
		return -EINVAL;
	if (!attr_ok(cred->id) || (req->ext && !attr_ok(req->ext)))
		return -EINVAL;
	if (req->nonce) {
		if (!*req->nonce || strlen(req->nonce) >= sizeof(nonce) || !attr_ok(req->nonce))
			return -EINVAL;
		snprintf(nonce, sizeof(nonce), "%s", req->nonce);
	} else {
		uint8_t raw[8];

		rc = ds_random(raw, sizeof(raw));
		if (rc)
			return rc;
		rc = ds_base64url_encode(raw, sizeof(raw), nonce, sizeof(nonce));
		if (rc < 0)
			return rc;
	}
	ts = req->ts > 0 ? req->ts : ds_hawk_now(req->skew_s);
	if (req->content_type) {
		rc = ds_hawk_payload_hash(req->content_type, req->payload, req->payload_len, hash);
		if (rc)
			return rc;
	}
	rc = ds_hawk_mac("header", cred, ts, nonce, req->method, req->resource, req->host, req->port,
			 hash, req->ext, mac);
	if (rc)
		return rc;
	n = snprintf(out, cap, "Hawk id=\"%s\", ts=\"%" PRId64 "\", nonce=\"%s\"%s%s%s%s%s%s, mac=\"%s\"",
		     cred->id, ts, nonce, hash[0] ? ", hash=\"" : "", hash, hash[0] ? "\"" : "",
		     req->ext ? ", ext=\"" : "", req->ext ? req->ext : "", req->ext ? "\"" : "", mac);
	if (n < 0 || (size_t)n >= cap) {
		out[0] = '\0';
		return -ENOSPC;
	}
	return n;
}

int ds_hawk_header_for_url(const struct ds_hawk_credentials *cred, const char *method,
			   const char *url, const char *content_type, const void *payload,
			   size_t payload_len, int64_t skew_s, char *out, size_t cap)
{
	struct ds_http_url u;
	struct ds_hawk_request req = { 0 };
	int rc;

	rc = ds_http_url_parse(url, &u); /* -EINVAL for a NULL url too */
	if (rc)
		return rc;
	req.method = method ? method : "GET";
	req.host = u.host;
	req.port = u.port;
	req.resource = u.path;
	req.content_type = content_type;
	req.payload = payload;
	req.payload_len = payload_len;
	req.skew_s = skew_s;
	rc = ds_hawk_header(cred, &req, out, cap);
	ds_http_url_free(&u);
	return rc;
}
