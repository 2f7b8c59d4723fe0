/*
 * One request to the Kinto server: URL, authentication, and what every answer may carry
 * (kinto.md §3): Backoff on a success, Retry-After on a 5xx, Alert for an end of service, and
 * Kinto's error object {code, errno, error, message, details} on a failure.
 */
#define DS_LOG_TAG "kinto"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "net/ds_http.h"
#include "remote/kinto/kinto_priv.h"
#include "ds_port.h"

#include <cjson/cJSON.h>
#include <string.h>

#define MAX_HEADERS 8

int ds_kinto_api_init(struct ds_kinto_api *a, const char *url, const char *ca_bundle,
		      const char *name)
{
	struct ds_http_config cfg = { .ca_bundle = ca_bundle };
	struct ds_http_url u;
	size_t n;
	int rc;

	memset(a, 0, sizeof(*a));
	a->name = name;
	rc = ds_http_url_parse(url, &u);
	if (rc) {
		DS_LOG_ERR("%s: the Kinto url '%s' is not an http(s) URL", name, url);
		return -EINVAL;
	}
	a->origin = ds_asprintf("%s://%s", u.tls ? "https" : "http", u.hostport);
	ds_http_url_free(&u);
	a->base = ds_strdup(url);
	if (!a->origin || !a->base)
		return -ENOMEM;
	n = strlen(a->base);
	while (n && a->base[n - 1] == '/')
		a->base[--n] = '\0';
	return ds_http_client_new(&cfg, &a->http);
}

void ds_kinto_api_free(struct ds_kinto_api *a)
{
	if (a->http)
		ds_http_client_free(a->http);
	if (a->auth) {
		ds_memzero(a->auth, strlen(a->auth));
		ds_free(a->auth);
	}
	ds_free(a->base);
	ds_free(a->origin);
	ds_free(a->token_scope);
	ds_free(a->fxa_url);
	ds_free(a->fxa_ca);
	memset(a, 0, sizeof(*a));
}

static void note_headers(struct ds_kinto_api *a, const struct ds_http_response *resp)
{
	int64_t s;
	const char *alert;

	if (ds_http_backoff(resp, &s) == 1 && s > a->backoff_s) {
		DS_LOG_INF("%s: the server asks for a backoff of %lld s", a->name, (long long)s);
		a->backoff_s = s;
	}
	/* 429 may carry Retry-After too (RFC 6585 section 4; Kinto's errno 117). */
	if ((resp->status >= 500 || resp->status == 429) &&
	    ds_http_retry_after(resp, ds_port_wall_ms() / 1000, &s) == 1 &&
	    s > a->backoff_s)
		a->backoff_s = s;
	/* Alert: {"code": "soft-eol"|"hard-eol", "message", "url"} (Kinto's deprecation notice,
	 * kinto/core/initialization.py). Reported once per run. */
	alert = ds_http_header(resp, "alert");
	if (alert && !a->eos_reported) {
		cJSON *j = cJSON_Parse(alert);
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "code");
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(j, "message");
		const cJSON *url = cJSON_GetObjectItemCaseSensitive(j, "url");

		DS_LOG_WRN("%s: end of service announced by the server (%s): %s%s%s", a->name,
			   cJSON_IsString(code) ? code->valuestring : "?",
			   cJSON_IsString(msg) ? msg->valuestring : "no message",
			   cJSON_IsString(url) ? " - " : "", cJSON_IsString(url) ? url->valuestring : "");
		cJSON_Delete(j);
		a->eos_reported = true;
	}
}

static int call_once(struct ds_kinto_api *a, const char *method, const char *path,
		     const char *body, const char *const *headers, struct ds_http_response *resp)
{
	struct ds_http_header h[MAX_HEADERS];
	struct ds_http_request req = { .method = method, .headers = h };
	char *url = strncmp(path, "http", 4) == 0 ? ds_strdup(path) : ds_asprintf("%s%s", a->base, path);
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!url)
		return -ENOMEM;
	req.url = url;
	if (a->auth)
		h[req.n_headers++] = (struct ds_http_header){ "Authorization", a->auth };
	if (body) {
		h[req.n_headers++] = (struct ds_http_header){ "Content-Type", "application/json" };
		req.body = body;
		req.body_len = strlen(body);
	}
	for (size_t i = 0; headers && headers[i] && req.n_headers < MAX_HEADERS; i += 2)
		h[req.n_headers++] = (struct ds_http_header){ headers[i], headers[i + 1] };
	rc = ds_http_perform(a->http, &req, resp);
	if (rc)
		DS_LOG_ERR("%s: %s %s: %s", a->name, method, path[0] == '/' ? path : "(next page)",
			   ds_http_last_error(a->http));
	else
		note_headers(a, resp);
	ds_free(url);
	return rc;
}

int ds_kinto_api_call(struct ds_kinto_api *a, const char *method, const char *path,
		      const char *body, const char *const *headers, struct ds_http_response *resp)
{
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (a->token_scope && !a->auth && (rc = ds_kinto_token_auth(a, false)) != 0)
		return rc;
	rc = call_once(a, method, path, body, headers, resp);
	/* An account token the server refuses (expired early, revoked, keys changed): one new one
	 * from FxA and the same request again; a second 401 is the answer. */
	if (rc == 0 && resp->status == 401 && a->token_scope) {
		DS_LOG_INF("%s: the server refused the account's token; asking for a new one", a->name);
		if (ds_kinto_token_auth(a, true) == 0) {
			ds_http_response_free(resp);
			rc = call_once(a, method, path, body, headers, resp);
		}
	}
	return rc;
}

int ds_kinto_status_errno(int status, int kerrno)
{
	if (kerrno == 114 || status == 412)
		return -ESTALE;
	switch (status) {
	case 400:
		return -EINVAL;
	case 401:
		return -EACCES;
	case 403:
		return -EPERM;
	case 404:
		return -ENOENT;
	case 409: /* errno 122: "please retry" */
	case 429:
	case 503:
		return -EAGAIN;
	case 410:
		return -ENOTSUP;
	case 413:
		return -EFBIG;
	case 507:
		return -ENOSPC;
	default:
		return status >= 500 ? -EIO : -EPROTO;
	}
}

int ds_kinto_api_error(struct ds_kinto_api *a, const char *what, const struct ds_http_response *resp)
{
	cJSON *j = resp->body ? cJSON_ParseWithLength(resp->body, resp->body_len) : NULL;
	const cJSON *kerr = cJSON_GetObjectItemCaseSensitive(j, "errno");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(j, "message");
	int kerrno = cJSON_IsNumber(kerr) ? kerr->valueint : 0;
	int rc = ds_kinto_status_errno(resp->status, kerrno);
	const char *hint = "";

	if (resp->status == 401)
		hint = " (wrong user or password, or an expired token)";
	else if (resp->status == 403)
		hint = " (this account may not read or write there)";
	else if (resp->status == 503 || resp->status == 429)
		hint = " (server busy; will retry after its delay)";
	else if (resp->status == 410)
		hint = " (this server's API has reached its end of service)";
	DS_LOG_ERR("%s: %s: HTTP %d, Kinto errno %d: %s%s", a->name, what, resp->status, kerrno,
		   cJSON_IsString(msg) ? msg->valuestring : "no message", hint);
	cJSON_Delete(j);
	return rc;
}
