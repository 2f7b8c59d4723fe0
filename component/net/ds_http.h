/*
 * ds_http.h - blocking HTTP/1.1 client over libwebsockets.
 *
 * One struct ds_http_client owns one lws_context and performs one request at a time,
 * blocking the calling thread until the response is complete, failed or timed out. Sync runs
 * execute on a worker thread, so a blocking call is the right shape there; the daemon's main
 * loop has its own context and never calls this.
 *
 * Thread rules: a client belongs to the thread that created it. Use one client per thread;
 * never call ds_http_perform() on the same client from two threads, nor from inside an lws
 * callback of another context. Responses are plain memory and may be handed to any thread.
 *
 * TLS: certificates and host names are always verified. There is no switch to turn that off.
 * The trust anchors are either the OS store (ca_bundle "" ) or exactly the PEM bundle given
 * (private CAs, tests): a configured bundle replaces the OS store, it does not extend it.
 * They are loaded on a client's first https:// request, not before (a client that only speaks
 * http:// never loads them), and clients of the process share them where the TLS library
 * allows (OpenSSL): see http_tls.h.
 *
 * Errors (negative errno; ds_http_last_error() has a human-readable reason):
 *   -EINVAL       bad URL, method, header name/value (CR/LF), or argument; the configured CA
 *                 bundle holds no PEM certificate (ds_http_client_new) or one the TLS library
 *                 cannot use (the first https:// request)
 *   -ENOENT       the configured CA bundle does not exist (ds_http_client_new)
 *   -EHOSTUNREACH the host name does not resolve, or no route
 *   -ECONNREFUSED nothing listens on the port
 *   -ETIMEDOUT    connect or whole-request timeout
 *   -EKEYREJECTED TLS failure: certificate not trusted, wrong host name, handshake failed
 *   -EFBIG        response body larger than max_response (no body is returned, not truncated)
 *   -ECONNRESET   connection closed before the response was complete
 *   -EPROTO       malformed response
 *   -ENOMEM, -EIO
 * HTTP error statuses (4xx/5xx) are not errors of ds_http_perform(): it returns 0 with the
 * status and body filled in.
 */
#ifndef DS_HTTP_H
#define DS_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct ds_http_client;

struct ds_http_config {
	/* NULL: CONFIG_DS_HTTP_CA_BUNDLE. "": the OS trust store. Else a PEM file of CAs. */
	const char *ca_bundle;
	int connect_timeout_s; /* <= 0: CONFIG_DS_HTTP_CONNECT_TIMEOUT_S */
	/* Whole request; <= 0: CONFIG_DS_HTTP_TIMEOUT_S. While a 2xx body streams to
	 * body_write, counted from the last piece received instead (a long download whose
	 * consumer works on each piece is not cut as long as the body keeps coming). */
	int timeout_s;
	size_t max_response;   /* largest response body; 0: CONFIG_DS_HTTP_MAX_RESPONSE */
	const char *user_agent; /* NULL: "datasync/<version>" */
	/*
	 * Extra response header names to keep (NULL-terminated list, case-insensitive), on top of
	 * every header libwebsockets knows by name and the built-in list of protocol headers
	 * (see docs/http.md: lws 4.1 cannot enumerate headers it does not know).
	 */
	const char *const *keep_headers;
};

struct ds_http_header {
	const char *name;
	const char *value;
};

/*
 * Streamed request body: fill up to cap bytes of buf, set *got (> 0 until the whole
 * body_len has been produced). Return 0 or a negative errno to abort the request.
 */
typedef int (*ds_http_body_read_fn)(void *buf, size_t cap, size_t *got, void *user_data);

/*
 * Streamed response body (downloads): called with each piece of a 2xx response's body, in
 * order, de-chunked. Return 0 or a negative errno to abort the request with that error.
 */
typedef int (*ds_http_body_write_fn)(const void *data, size_t len, void *user_data);

struct ds_http_request {
	const char *method; /* NULL: "GET"; GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS (lws 4.1
			     * sends no other method: -ENOTSUP, see docs/http.md) */
	const char *url;    /* http:// or https://, host name, IPv4 or [IPv6] literal, port */
	const struct ds_http_header *headers; /* sent as given; no CR/LF in names or values */
	size_t n_headers;
	/* Body: body_len bytes from body, or pulled from body_read when it is set. */
	const void *body;
	size_t body_len;
	ds_http_body_read_fn body_read;
	void *body_user_data;
	/*
	 * When set, a 2xx response's body goes to body_write instead of memory: resp->body stays
	 * NULL, resp->body_len counts the bytes handed over and max_response does not apply.
	 * Other statuses keep their (small) body in memory as usual, for error messages.
	 */
	ds_http_body_write_fn body_write;
	void *body_write_user_data;
};

struct ds_http_response {
	int status;
	struct ds_http_header *headers; /* names lower-case; owned by the response */
	size_t n_headers;
	char *body;      /* de-chunked, NUL-terminated for convenience; NULL when empty */
	size_t body_len;
};

/* cfg may be NULL for all defaults. */
int ds_http_client_new(const struct ds_http_config *cfg, struct ds_http_client **out);
void ds_http_client_free(struct ds_http_client *c);

/*
 * Give back what c holds between requests (its lws context and buffers, TLS context and its
 * reference to the trust anchors) and keep its configuration: the next ds_http_perform()
 * builds them again. For clients kept across sync runs that are minutes apart: no connection
 * is reused across requests anyway (lws 4.1, see http_client.c). No-op while c is busy.
 */
void ds_http_client_release(struct ds_http_client *c);

/*
 * Perform one request, blocking. On 0, *resp holds the response (free it with
 * ds_http_response_free()); on error *resp is empty. Content-Length is always sent for
 * requests with a body and for POST/PUT/PATCH without one (as 0).
 */
int ds_http_perform(struct ds_http_client *c, const struct ds_http_request *req,
		    struct ds_http_response *resp);
void ds_http_response_free(struct ds_http_response *resp);

/* Why the last call on c failed ("" after a success). Never contains header values. */
const char *ds_http_last_error(const struct ds_http_client *c);

/* Case-insensitive lookup; repeated headers are joined with ", ". NULL when absent. */
const char *ds_http_header(const struct ds_http_response *resp, const char *name);

/*
 * Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date (IMF-fixdate, RFC 850 or
 * asctime form), turned into seconds from now_s (Unix seconds; a date in the past gives 0).
 * Fractional seconds round up. Returns 1 and sets *delay_s, 0 when absent, -EINVAL when
 * malformed.
 */
int ds_http_retry_after(const struct ds_http_response *resp, int64_t now_s, int64_t *delay_s);
/* Same parsing for one header value. */
int ds_http_parse_retry_after(const char *value, int64_t now_s, int64_t *delay_s);

/*
 * Server backoff: the larger of X-Weave-Backoff (Sync 1.5) and Backoff (Kinto), in seconds,
 * fractions rounded up. Returns 1 and sets *delay_s, 0 when neither is present, -EINVAL
 * when a present one is malformed.
 */
int ds_http_backoff(const struct ds_http_response *resp, int64_t *delay_s);

/* Parse an HTTP-date into Unix seconds. 0 or -EINVAL. */
int ds_http_parse_date(const char *s, int64_t *out);

/* ---- URL parsing (exposed for tests and for building request URLs) ------------------------ */

struct ds_http_url {
	int tls;        /* https */
	char *host;     /* without brackets for IPv6 */
	int port;
	char *path;     /* path and query, starting with '/' */
	char *hostport; /* Host header value: host, [v6], with :port when not the default */
};

int ds_http_url_parse(const char *url, struct ds_http_url *out);
void ds_http_url_free(struct ds_http_url *u);

#endif /* DS_HTTP_H */
