/*
 * tokenserver.c - the Firefox Sync tokenserver client: OAuth access token + key id in, storage
 * node credentials out, cached until expiry.
 *
 * Sources: accounts.md §5 (syncstorage-rs docs/src/tokenserver/tokenserver-api.md,
 * syncserver/src/tokenserver/{handlers,extractors}.rs, tokenserver-common/src/error.rs) and
 * mozilla/application-services components/sync15/src/client/token.rs for client behaviour
 * (URL fixup, Retry-After handling, X-Timestamp).
 */
#define DS_LOG_TAG "tokenserver"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ACCOUNT
#include "account/ds_tokenserver.h"
#include "account/fxa_int.h"
#include "core/ds_core.h"
#include "ds_port.h"
#include "net/ds_http.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

/* application-services token.rs RETRY_AFTER_DEFAULT_MS: a Retry-After we cannot read. */
#define RETRY_AFTER_DEFAULT_S 10
/* A token lifetime beyond this is nonsense; it also keeps the ms arithmetic far from overflow. */
#define DURATION_MAX_S (366LL * 24 * 3600)

const char *const ds_tokenserver_keep_headers[] = { "x-backoff", NULL };

struct ds_tokenserver {
	char *url;
	int64_t margin_ms;
	int64_t (*mono_ms)(void);
	int64_t (*wall_ms)(void);

	struct ds_tokenserver_token token;
	bool have_token;
	char *token_kid;      /* the X-KeyID the cached token was issued for */
	char *known_endpoint; /* api_endpoint of the last token, for node reassignment */

	int64_t hard_until_mono; /* Retry-After: no request before this */
	int64_t skew_ms;
	bool have_skew;
};

/* ---- small helpers -------------------------------------------------------------------------- */

static void wipe_str(char **s)
{
	if (*s) {
		ds_memzero(*s, strlen(*s));
		ds_free(*s);
		*s = NULL;
	}
}

static void token_clear(struct ds_tokenserver *ts)
{
	struct ds_tokenserver_token *t = &ts->token;

	wipe_str(&t->id);
	wipe_str(&t->key);
	ds_free(t->api_endpoint);
	ds_free(t->hashed_fxa_uid);
	ds_free(t->node_type);
	ds_free(ts->token_kid);
	ts->token_kid = NULL;
	memset(t, 0, sizeof(*t));
	ts->have_token = false;
}

/*
 * application-services token.rs fixup_server_url: the configured URL may be the bare server
 * ("https://token.services.mozilla.com", with or without a trailing slash) or the full
 * endpoint; every path component the user gave is kept.
 */
static char *fixup_url(const char *base)
{
	size_t n = strlen(base);
	size_t plen = strlen(DS_TOKENSERVER_PATH);

	while (n > 0 && base[n - 1] == '/')
		n--;
	if (n >= plen && memcmp(base + n - plen, DS_TOKENSERVER_PATH, plen) == 0)
		return ds_strndup(base, n);
	return ds_asprintf("%.*s%s", (int)n, base, DS_TOKENSERVER_PATH);
}

/* Seconds (an integer or a decimal, as X-Timestamp and X-Backoff are) into milliseconds. */
static int parse_seconds_ms(const char *s, int64_t *out_ms)
{
	int64_t whole = 0, frac = 0, scale = 100;
	const char *p = s;

	while (*p == ' ')
		p++;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (whole > (INT64_MAX / 1000 - 9) / 10)
			return -ERANGE;
		whole = whole * 10 + (*p - '0');
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			frac += (*p - '0') * scale;
			scale /= 10;
		}
	}
	while (*p == ' ')
		p++;
	if (*p)
		return -EINVAL;
	*out_ms = whole * 1000 + frac;
	return 0;
}

static int64_t ceil_s(int64_t ms)
{
	return ms <= 0 ? 0 : (ms + 999) / 1000;
}

/* ---- life cycle ----------------------------------------------------------------------------- */

int ds_tokenserver_new(const struct ds_tokenserver_config *cfg, struct ds_tokenserver **out)
{
	struct ds_tokenserver *ts;
	struct ds_http_url u;
	const char *base = cfg && cfg->url && *cfg->url ? cfg->url : CONFIG_DS_ACCOUNT_TOKENSERVER_URL;
	int rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	ts = ds_calloc(1, sizeof(*ts));
	if (!ts)
		return -ENOMEM;
	ts->url = fixup_url(base);
	if (!ts->url) {
		ds_free(ts);
		return -ENOMEM;
	}
	rc = ds_http_url_parse(ts->url, &u);
	if (rc < 0) {
		DS_LOG_ERR("unusable tokenserver URL (%s)", ds_strerror(rc));
		ds_tokenserver_free(ts);
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	ds_http_url_free(&u);
	ts->margin_ms = (cfg && cfg->expiry_margin_s > 0 ? DS_MIN(cfg->expiry_margin_s, DURATION_MAX_S)
							 : DS_TOKENSERVER_EXPIRY_MARGIN_S) *
			1000;
	ts->mono_ms = cfg && cfg->mono_ms ? cfg->mono_ms : ds_port_mono_ms;
	ts->wall_ms = cfg && cfg->wall_ms ? cfg->wall_ms : ds_port_wall_ms;
	*out = ts;
	return 0;
}

void ds_tokenserver_free(struct ds_tokenserver *ts)
{
	if (!ts)
		return;
	token_clear(ts);
	ds_free(ts->known_endpoint);
	ds_free(ts->url);
	ds_free(ts);
}

void ds_tokenserver_invalidate(struct ds_tokenserver *ts)
{
	if (ts)
		token_clear(ts);
}

int ds_tokenserver_set_known_endpoint(struct ds_tokenserver *ts, const char *endpoint)
{
	char *copy = NULL;

	if (!ts)
		return -EINVAL;
	if (endpoint && !(copy = ds_strdup(endpoint)))
		return -ENOMEM;
	ds_free(ts->known_endpoint);
	ts->known_endpoint = copy;
	return 0;
}

const char *ds_tokenserver_known_endpoint(const struct ds_tokenserver *ts)
{
	return ts ? ts->known_endpoint : NULL;
}

int64_t ds_tokenserver_skew_ms(const struct ds_tokenserver *ts)
{
	return ts ? ts->skew_ms : 0;
}

int64_t ds_tokenserver_skew_s(const struct ds_tokenserver *ts)
{
	int64_t ms = ds_tokenserver_skew_ms(ts);

	return ms >= 0 ? (ms + 500) / 1000 : -((-ms + 500) / 1000);
}

bool ds_tokenserver_has_skew(const struct ds_tokenserver *ts)
{
	return ts && ts->have_skew;
}

const char *ds_tokenserver_url(const struct ds_tokenserver *ts)
{
	return ts ? ts->url : NULL;
}

/* ---- states --------------------------------------------------------------------------------- */

/* Indexed by enum ds_tokenserver_state. */
static const struct {
	const char *name;  /* also the server's "status" string where there is one */
	enum ds_tokenserver_action action;
	int err;
} states[] = {
	[DS_TOKENSERVER_OK] = { "ok", DS_TOKENSERVER_ACT_NONE, 0 },
	/* A new access token may fix it; if the new one fails too, the session is bad. */
	[DS_TOKENSERVER_INVALID_CREDENTIALS] = { "invalid-credentials", DS_TOKENSERVER_ACT_REFRESH_AUTH, -EACCES },
	/*
	 * The rest of the 401s say our view of the account is older than the server's: a fresh
	 * access token from the same session carries the same generation and keys, so only a new
	 * sign-in (new session, new kB) helps (extractors.rs validate()).
	 */
	[DS_TOKENSERVER_INVALID_GENERATION] = { "invalid-generation", DS_TOKENSERVER_ACT_REAUTH, -EACCES },
	[DS_TOKENSERVER_INVALID_KEYS_CHANGED_AT] = { "invalid-keysChangedAt", DS_TOKENSERVER_ACT_REAUTH, -EACCES },
	[DS_TOKENSERVER_INVALID_CLIENT_STATE] = { "invalid-client-state", DS_TOKENSERVER_ACT_REAUTH, -EACCES },
	[DS_TOKENSERVER_INVALID_KEY_ID] = { "invalid-key-id", DS_TOKENSERVER_ACT_REAUTH, -EACCES },
	[DS_TOKENSERVER_NEW_USERS_DISABLED] = { "new-users-disabled", DS_TOKENSERVER_ACT_STOP, -EPERM },
	[DS_TOKENSERVER_BACKOFF] = { "backoff", DS_TOKENSERVER_ACT_RETRY_LATER, -EAGAIN },
	[DS_TOKENSERVER_UNAVAILABLE] = { "unavailable", DS_TOKENSERVER_ACT_RETRY_LATER, -EIO },
	[DS_TOKENSERVER_REJECTED] = { "rejected", DS_TOKENSERVER_ACT_STOP, -ENOENT },
	[DS_TOKENSERVER_NETWORK] = { "network", DS_TOKENSERVER_ACT_RETRY_LATER, -EIO },
	[DS_TOKENSERVER_BAD_RESPONSE] = { "bad-response", DS_TOKENSERVER_ACT_RETRY_LATER, -EPROTO },
};

static bool state_known(enum ds_tokenserver_state s)
{
	return (unsigned int)s < DS_ARRAY_SIZE(states);
}

const char *ds_tokenserver_state_name(enum ds_tokenserver_state s)
{
	return state_known(s) ? states[s].name : "?";
}

enum ds_tokenserver_action ds_tokenserver_action(enum ds_tokenserver_state s)
{
	return state_known(s) ? states[s].action : DS_TOKENSERVER_ACT_STOP;
}

static int state_errno(enum ds_tokenserver_state s)
{
	return state_known(s) ? states[s].err : -EIO;
}

/* ---- responses ------------------------------------------------------------------------------ */

static void learn_skew(struct ds_tokenserver *ts, const struct ds_http_response *resp,
		       int64_t wall_ms)
{
	const char *v = ds_http_header(resp, "x-timestamp");
	int64_t server_ms, skew;

	if (!v)
		return;
	if (parse_seconds_ms(v, &server_ms) < 0) {
		DS_LOG_WRN("unreadable X-Timestamp ignored");
		return;
	}
	skew = server_ms - wall_ms;
	/* A server reporting nonsense must not move our Hawk clock by years. */
	if (skew > CONFIG_DS_ACCOUNT_HAWK_MAX_SKEW_S * 1000LL ||
	    skew < -CONFIG_DS_ACCOUNT_HAWK_MAX_SKEW_S * 1000LL) {
		DS_LOG_WRN("X-Timestamp %lld s away from our clock ignored",
			   (long long)(skew / 1000));
		return;
	}
	ts->skew_ms = skew;
	ts->have_skew = true;
}

/* Error bodies: {"status": "...", "errors": [{"location", "name", "description"}]}. */
static void read_error_body(const struct ds_http_response *resp, struct ds_tokenserver_result *res)
{
	cJSON *root, *st, *errs, *first, *desc;

	if (!resp->body || !resp->body_len)
		return;
	root = cJSON_ParseWithLength(resp->body, resp->body_len);
	if (!root)
		return;
	st = cJSON_GetObjectItemCaseSensitive(root, "status");
	if (cJSON_IsString(st))
		snprintf(res->server_status, sizeof(res->server_status), "%s", st->valuestring);
	errs = cJSON_GetObjectItemCaseSensitive(root, "errors");
	first = cJSON_IsArray(errs) ? cJSON_GetArrayItem(errs, 0) : NULL;
	desc = first ? cJSON_GetObjectItemCaseSensitive(first, "description") : NULL;
	if (cJSON_IsString(desc))
		snprintf(res->server_description, sizeof(res->server_description), "%s",
			 desc->valuestring);
	cJSON_Delete(root);
}

static enum ds_tokenserver_state error_state(int http_status, const char *server_status)
{
	/* The status string decides where there is one: new-users-disabled comes as 403 from
	 * syncstorage-rs and as 401 from the Python tokenserver. */
	for (enum ds_tokenserver_state s = DS_TOKENSERVER_OK + 1; s <= DS_TOKENSERVER_NEW_USERS_DISABLED; s++)
		if (strcmp(states[s].name, server_status) == 0)
			return s;
	if (http_status == 401)
		return DS_TOKENSERVER_INVALID_CREDENTIALS;
	if (http_status >= 500 || http_status == 429)
		return DS_TOKENSERVER_UNAVAILABLE;
	if (http_status >= 400)
		return DS_TOKENSERVER_REJECTED;
	return DS_TOKENSERVER_BAD_RESPONSE;
}

static int dup_string_item(const cJSON *root, const char *name, bool required, char **out)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, name);

	*out = NULL;
	if (!it || cJSON_IsNull(it))
		return required ? -EPROTO : 0;
	if (!cJSON_IsString(it) || !it->valuestring[0])
		return -EPROTO;
	*out = ds_strdup(it->valuestring);
	return *out ? 0 : -ENOMEM;
}

static int int_item(const cJSON *root, const char *name, int64_t min, int64_t max, int64_t *out)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, name);
	double v;

	if (!cJSON_IsNumber(it))
		return -EPROTO;
	v = it->valuedouble;
	if (!(v >= (double)min && v <= (double)max) || (double)(int64_t)v != v)
		return -EPROTO;
	*out = (int64_t)v;
	return 0;
}

static int parse_token(const struct ds_http_response *resp, struct ds_tokenserver_token *t)
{
	cJSON *root;
	struct ds_http_url u;
	size_t n;
	int rc;

	if (!resp->body || !resp->body_len)
		return -EPROTO;
	root = cJSON_ParseWithLength(resp->body, resp->body_len);
	if (!root)
		return -EPROTO;
	rc = cJSON_IsObject(root) ? 0 : -EPROTO;
	if (!rc)
		rc = dup_string_item(root, "id", true, &t->id);
	if (!rc)
		rc = dup_string_item(root, "key", true, &t->key);
	if (!rc)
		rc = dup_string_item(root, "api_endpoint", true, &t->api_endpoint);
	if (!rc)
		rc = dup_string_item(root, "hashed_fxa_uid", false, &t->hashed_fxa_uid);
	if (!rc)
		rc = dup_string_item(root, "node_type", false, &t->node_type);
	/* uid is an i64 in syncstorage-rs; JSON numbers are exact up to 2^53. */
	if (!rc)
		rc = int_item(root, "uid", 0, INT64_C(1) << 53, &t->uid);
	if (!rc)
		rc = int_item(root, "duration", 1, DURATION_MAX_S, &t->duration_s);
	/* The token's id and key: wiped before cJSON frees them with plain free(). */
	ds_fxa_json_wipe_delete(root);
	if (rc)
		return rc;
	/* The storage requests are built on it: it must be a URL the HTTP client takes. */
	n = strlen(t->api_endpoint);
	while (n > 0 && t->api_endpoint[n - 1] == '/')
		t->api_endpoint[--n] = '\0';
	rc = ds_http_url_parse(t->api_endpoint, &u);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0)
		return -EPROTO;
	ds_http_url_free(&u);
	return 0;
}

/* ---- the request ---------------------------------------------------------------------------- */

static int finish(struct ds_tokenserver_result *res, enum ds_tokenserver_state st)
{
	res->state = st;
	return state_errno(st);
}

static int handle_ok(struct ds_tokenserver *ts, const struct ds_http_response *resp,
		     const struct ds_tokenserver_auth *auth, int64_t sent_mono,
		     struct ds_tokenserver_result *res)
{
	struct ds_tokenserver_token *t = &ts->token;
	int rc;

	rc = parse_token(resp, t);
	if (rc == 0 && !(ts->token_kid = ds_strdup(auth->key_id)))
		rc = -ENOMEM;
	if (rc == 0 && (!ts->known_endpoint || strcmp(ts->known_endpoint, t->api_endpoint) != 0)) {
		char *ep = ds_strdup(t->api_endpoint);
		if (!ep) {
			rc = -ENOMEM;
		} else {
			if (ts->known_endpoint) {
				/* A different node, or a new uid on the same node (a new client state
				 * makes a new user record): either way not the storage we synced with. */
				res->node_reassigned = true;
				DS_LOG_INF("storage endpoint changed: node reassignment");
				DS_LOG_DBG("endpoint %s -> %s", ts->known_endpoint, ep);
			}
			ds_free(ts->known_endpoint);
			ts->known_endpoint = ep;
		}
	}
	if (rc < 0) {
		token_clear(ts);
		res->node_reassigned = false;
		if (rc == -ENOMEM)
			return rc;
		DS_LOG_WRN("tokenserver answered 200 without a usable token");
		return finish(res, DS_TOKENSERVER_BAD_RESPONSE);
	}
	t->fetched_mono_ms = sent_mono;
	t->expires_mono_ms = sent_mono + t->duration_s * 1000;
	ts->have_token = true;
	res->token = t;
	DS_LOG_DBG("token for uid %lld, valid %lld s", (long long)t->uid, (long long)t->duration_s);
	return finish(res, DS_TOKENSERVER_OK);
}

static int handle_response(struct ds_tokenserver *ts, const struct ds_http_response *resp,
			   const struct ds_tokenserver_auth *auth, int64_t sent_mono,
			   struct ds_tokenserver_result *res)
{
	int64_t now_mono = ts->mono_ms();
	int64_t wall = ts->wall_ms();
	const char *v;
	int64_t d;
	int rc;

	res->http_status = resp->status;
	learn_skew(ts, resp, wall);

	/* X-Backoff may come with any response, a 200 too (tokenserver-api.md). */
	v = ds_http_header(resp, "x-backoff");
	if (v) {
		if (parse_seconds_ms(v, &d) == 0)
			res->backoff_s = ceil_s(d);
		else
			DS_LOG_WRN("unreadable X-Backoff ignored");
	}

	if (resp->status == 200)
		return handle_ok(ts, resp, auth, sent_mono, res);

	read_error_body(resp, res);
	/*
	 * application-services token.rs: a non-2xx with Retry-After is a backoff whatever its
	 * status; an unreadable value counts as RETRY_AFTER_DEFAULT_S. An HTTP-date is measured
	 * against the server's clock when we know it.
	 */
	rc = ds_http_retry_after(resp, (wall + ts->skew_ms) / 1000, &d);
	if (rc != 0) {
		if (rc < 0)
			d = RETRY_AFTER_DEFAULT_S;
		/* A delay in seconds can be any size (RFC 9110 §10.2.3): capped like a token's
		 * duration, so the deadline in ms cannot overflow. */
		d = DS_MIN(DS_MAX(d, 1), DURATION_MAX_S);
		ts->hard_until_mono = now_mono + d * 1000;
		res->retry_after_s = d;
		DS_LOG_INF("tokenserver %d, retry after %lld s", resp->status, (long long)d);
		return finish(res, DS_TOKENSERVER_BACKOFF);
	}
	res->state = error_state(resp->status, res->server_status);
	DS_LOG_WRN("tokenserver %d %s: %s", resp->status,
		   res->server_status[0] ? res->server_status : "(no status)",
		   ds_tokenserver_state_name(res->state));
	return state_errno(res->state);
}

static int fetch(struct ds_tokenserver *ts, struct ds_http_client *http,
		 const struct ds_tokenserver_auth *auth, struct ds_tokenserver_result *res)
{
	struct ds_http_header h[4];
	struct ds_http_request req = { .method = "GET", .url = ts->url, .headers = h };
	struct ds_http_response resp;
	char *bearer;
	int64_t sent_mono;
	int rc;

	bearer = ds_asprintf("Bearer %s", auth->access_token);
	if (!bearer)
		return -ENOMEM;
	h[req.n_headers++] = (struct ds_http_header){ "Authorization", bearer };
	h[req.n_headers++] = (struct ds_http_header){ "X-KeyID", auth->key_id };
	if (auth->client_state && *auth->client_state)
		h[req.n_headers++] = (struct ds_http_header){ "X-Client-State", auth->client_state };
	h[req.n_headers++] = (struct ds_http_header){ "Accept", "application/json" };

	/* Expiry counts from before the request: the server's clock started no later. */
	sent_mono = ts->mono_ms();
	rc = ds_http_perform(http, &req, &resp);
	ds_memzero(bearer, strlen(bearer));
	ds_free(bearer);
	if (rc < 0) {
		DS_LOG_WRN("tokenserver request failed: %s", ds_http_last_error(http));
		res->state = DS_TOKENSERVER_NETWORK;
		return rc;
	}
	rc = handle_response(ts, &resp, auth, sent_mono, res);
	/* The body held the token's id and key. */
	if (resp.body)
		ds_memzero(resp.body, resp.body_len);
	ds_http_response_free(&resp);
	return rc;
}

int ds_tokenserver_get(struct ds_tokenserver *ts, struct ds_http_client *http,
		       const struct ds_tokenserver_auth *auth, struct ds_tokenserver_result *res)
{
	int64_t now;

	if (!res)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	if (!ts || !http || !auth || !auth->access_token || !*auth->access_token || !auth->key_id ||
	    !*auth->key_id) {
		res->state = DS_TOKENSERVER_REJECTED;
		return -EINVAL;
	}

	now = ts->mono_ms();
	if (ts->have_token) {
		const struct ds_tokenserver_token *t = &ts->token;
		/* Refetch a little early so a sync does not start with a token about to die; a
		 * short-lived token is still used for the first half of its life. */
		int64_t margin = DS_MIN(ts->margin_ms, t->duration_s * 500);
		/* A new key id means new keys: the old token names the old ones (fxa_kid). */
		if (strcmp(ts->token_kid, auth->key_id) == 0 && now < t->expires_mono_ms - margin) {
			res->token = t;
			res->from_cache = true;
			res->state = DS_TOKENSERVER_OK;
			return 0;
		}
		token_clear(ts);
	}
	if (now < ts->hard_until_mono) {
		res->retry_after_s = ceil_s(ts->hard_until_mono - now);
		return finish(res, DS_TOKENSERVER_BACKOFF);
	}
	return fetch(ts, http, auth, res);
}
