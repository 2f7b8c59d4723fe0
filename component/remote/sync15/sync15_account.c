/*
 * Storage credentials from the device's signed-in Firefox Account (docs/accounts.md,
 * docs/tokenserver.md; sync15.md §1):
 *
 *   sealed session -> OAuth access token for the oldsync scope (refresh-token grant) ->
 *   tokenserver (Bearer + X-KeyID) -> api_endpoint + Hawk id/key, cached until it expires.
 *
 * One provider per process, so the runs of every collection share the OAuth token and the
 * tokenserver's cached token (a run per collection would otherwise cost two extra round trips).
 * The access token is kept in memory until shortly before expires_in; a tokenserver answer
 * "invalid-credentials" drops it and asks FxA for a new one once.
 */
#define DS_LOG_TAG "sync15"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "account/ds_fxa.h"
#include "account/ds_tokenserver.h"
#include "ds_port.h"
#include "remote/sync15/ds_sync15.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ACCESS_MARGIN_MS (60 * 1000)

struct account_auth {
	pthread_mutex_t lock;
	char fxa_url[512];
	char ts_url[512];
	char ca[512];
	struct ds_http_client *http;
	struct ds_tokenserver *ts;
	char *access;            /* OAuth access token (a secret) */
	int64_t access_until_ms; /* monotonic */
	char error[256];
};

static struct account_auth acct = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void set_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(acct.error, sizeof(acct.error), fmt, ap);
	va_end(ap);
}

static void drop_access(void)
{
	if (acct.access) {
		ds_memzero(acct.access, strlen(acct.access));
		ds_free(acct.access);
		acct.access = NULL;
	}
	acct.access_until_ms = 0;
}

static void drop_all(void)
{
	drop_access();
	ds_tokenserver_free(acct.ts);
	acct.ts = NULL;
	if (acct.http)
		ds_http_client_free(acct.http);
	acct.http = NULL;
}

static int ensure_clients(void)
{
	struct ds_http_config hc = { .ca_bundle = acct.ca[0] ? acct.ca : NULL,
				     .keep_headers = ds_tokenserver_keep_headers };
	struct ds_tokenserver_config tc = { .url = acct.ts_url[0] ? acct.ts_url : NULL };
	int rc;

	if (!acct.http && (rc = ds_http_client_new(&hc, &acct.http)) < 0) {
		set_err("cannot create the HTTP client (%s)", ds_strerror(rc));
		return rc;
	}
	if (!acct.ts && (rc = ds_tokenserver_new(&tc, &acct.ts)) < 0) {
		set_err("unusable tokenserver URL (%s)", ds_strerror(rc));
		return rc;
	}
	return 0;
}

static int refresh_access(const struct ds_fxa_session *s)
{
	struct ds_fxa_config fc = { .fxa_url = acct.fxa_url[0] ? acct.fxa_url : NULL,
				    .ca_bundle = acct.ca[0] ? acct.ca : NULL };
	struct ds_fxa_token tok;
	struct ds_fxa *f = NULL;
	int rc;

	drop_access();
	rc = ds_fxa_new(&fc, &f);
	if (rc < 0) {
		set_err("cannot reach the accounts server (%s)", ds_strerror(rc));
		return rc;
	}
	ds_fxa_set_skew(f, s->skew_s);
	rc = ds_fxa_oauth_refresh(f, s, DS_FXA_OLDSYNC_SCOPE, &tok);
	if (rc < 0) {
		set_err("no OAuth token for Sync: %s", ds_fxa_error(f));
	} else {
		acct.access = ds_strdup(tok.access_token);
		acct.access_until_ms = ds_port_mono_ms() + tok.expires_in * 1000 - ACCESS_MARGIN_MS;
		if (!acct.access)
			rc = -ENOMEM;
	}
	ds_fxa_token_clear(&tok);
	ds_fxa_free(f);
	return rc;
}

static int get_session(struct ds_fxa_session *s)
{
	int rc = ds_fxa_session_unseal(s);

	if (rc == -ENOENT) {
		set_err("this device is not signed in to a Firefox Account (datasyncctl login)");
		return -ENOKEY;
	}
	if (rc < 0) {
		set_err("the sealed account cannot be read (%s)", ds_strerror(rc));
		return rc;
	}
	if (!s->has_keys) {
		ds_fxa_session_wipe(s);
		set_err("the account's Sync key is not available yet: finish signing in");
		return -ENOKEY;
	}
	return 0;
}

static int acct_token(void *ctx, bool fresh, struct ds_sync15_creds *out)
{
	struct ds_fxa_session s;
	struct ds_tokenserver_result res;
	struct ds_tokenserver_auth a;
	int rc;

	DS_UNUSED(ctx);
	memset(out, 0, sizeof(*out));
	memset(&res, 0, sizeof(res));
	pthread_mutex_lock(&acct.lock);
	acct.error[0] = '\0';
	rc = get_session(&s);
	if (rc == 0)
		rc = ensure_clients();
	if (rc < 0)
		goto out_locked;
	if (fresh)
		ds_tokenserver_invalidate(acct.ts);
	for (int attempt = 0; attempt < 2; attempt++) {
		if ((!acct.access || ds_port_mono_ms() >= acct.access_until_ms) &&
		    (rc = refresh_access(&s)) < 0)
			break;
		a = (struct ds_tokenserver_auth){ .access_token = acct.access, .key_id = s.kid };
		rc = ds_tokenserver_get(acct.ts, acct.http, &a, &res);
		if (rc == 0 || ds_tokenserver_action(res.state) != DS_TOKENSERVER_ACT_REFRESH_AUTH)
			break;
		drop_access(); /* the access token was refused: one new one */
	}
	if (rc < 0) {
		if (!acct.error[0])
			set_err("the tokenserver refused: %s%s%s", ds_tokenserver_state_name(res.state),
				res.server_description[0] ? ": " : "", res.server_description);
		goto out;
	}
	if (snprintf(out->endpoint, sizeof(out->endpoint), "%s", res.token->api_endpoint) >=
		    (int)sizeof(out->endpoint) ||
	    snprintf(out->hawk_id, sizeof(out->hawk_id), "%s", res.token->id) >=
		    (int)sizeof(out->hawk_id) ||
	    snprintf(out->hawk_key, sizeof(out->hawk_key), "%s", res.token->key) >=
		    (int)sizeof(out->hawk_key)) {
		set_err("the tokenserver's token is too long to use");
		ds_memzero(out, sizeof(*out));
		rc = -EPROTO;
		goto out;
	}
	while (out->endpoint[0] && out->endpoint[strlen(out->endpoint) - 1] == '/')
		out->endpoint[strlen(out->endpoint) - 1] = '\0';
	out->skew_s = ds_tokenserver_skew_s(acct.ts);
	out->node_reassigned = res.node_reassigned;
out:
	ds_fxa_session_wipe(&s);
out_locked:
	pthread_mutex_unlock(&acct.lock);
	return rc;
}

static int acct_ksync(void *ctx, uint8_t out[64])
{
	struct ds_fxa_session s;
	int rc;

	DS_UNUSED(ctx);
	pthread_mutex_lock(&acct.lock);
	rc = get_session(&s);
	if (rc == 0) {
		memcpy(out, s.ksync, 64);
		ds_fxa_session_wipe(&s);
	}
	pthread_mutex_unlock(&acct.lock);
	return rc;
}

static const char *acct_error(void *ctx)
{
	DS_UNUSED(ctx);
	return acct.error;
}

/*
 * A run is over: the tokens stay cached (they are what saves requests), the tokenserver
 * client's context, TLS context and trust store go (ds_http_client_release()); runs are
 * minutes apart and no connection outlives a request anyway. Kept until here, not dropped
 * after each exchange, so the storage client of the run shares the trust store it loaded.
 */
static const struct ds_sync15_auth_ops account_ops;

void ds_sync15_account_idle(const struct ds_sync15_auth *auth)
{
	if (!auth || auth->ops != &account_ops)
		return;
	pthread_mutex_lock(&acct.lock);
	ds_http_client_release(acct.http);
	pthread_mutex_unlock(&acct.lock);
}

int ds_sync15_account_device(struct ds_sync15_device *out)
{
	struct ds_fxa_session s;
	int rc;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&acct.lock);
	rc = get_session(&s);
	if (rc == 0) {
		if (!s.device_id[0]) {
			rc = -ENOENT; /* the device was not registered with the account */
		} else {
			snprintf(out->id, sizeof(out->id), "%s", s.device_id);
			snprintf(out->name, sizeof(out->name), "%s",
				 s.device_name[0] ? s.device_name : ds_board_get()->name);
			snprintf(out->type, sizeof(out->type), "%s", ds_fxa_device_type());
		}
		ds_fxa_session_wipe(&s);
	}
	pthread_mutex_unlock(&acct.lock);
	return rc;
}

static const struct ds_sync15_auth_ops account_ops = {
	.token = acct_token,
	.ksync = acct_ksync,
	.error = acct_error,
};

/* The daemon's [accounts] servers, used where a registration names none. */
static struct {
	char fxa_url[512];
	char ts_url[512];
	char ca[512];
} servers;

int ds_sync15_account_set_servers(const struct ds_sync15_account_config *cfg)
{
	const char *fxa = cfg && cfg->fxa_url ? cfg->fxa_url : "";
	const char *ts = cfg && cfg->tokenserver_url ? cfg->tokenserver_url : "";
	const char *ca = cfg && cfg->ca_bundle ? cfg->ca_bundle : "";

	if (strlen(fxa) >= sizeof(servers.fxa_url) || strlen(ts) >= sizeof(servers.ts_url) ||
	    strlen(ca) >= sizeof(servers.ca))
		return -EINVAL;
	pthread_mutex_lock(&acct.lock);
	snprintf(servers.fxa_url, sizeof(servers.fxa_url), "%s", fxa);
	snprintf(servers.ts_url, sizeof(servers.ts_url), "%s", ts);
	snprintf(servers.ca, sizeof(servers.ca), "%s", ca);
	pthread_mutex_unlock(&acct.lock);
	return 0;
}

int ds_sync15_account_ca_bundle(char *out, size_t cap)
{
	int n;

	pthread_mutex_lock(&acct.lock);
	n = snprintf(out, cap, "%s", servers.ca);
	pthread_mutex_unlock(&acct.lock);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : n;
}

int ds_sync15_account_auth(const struct ds_sync15_account_config *cfg, struct ds_sync15_auth *out)
{
	const char *fxa, *ts, *ca;

	pthread_mutex_lock(&acct.lock);
	/* The registration's own servers first, then the daemon's, then (empty) the Kconfig's. */
	fxa = cfg && cfg->fxa_url ? cfg->fxa_url : servers.fxa_url;
	ts = cfg && cfg->tokenserver_url ? cfg->tokenserver_url : servers.ts_url;
	ca = cfg && cfg->ca_bundle ? cfg->ca_bundle : servers.ca;
	if (strlen(fxa) >= sizeof(acct.fxa_url) || strlen(ts) >= sizeof(acct.ts_url) ||
	    strlen(ca) >= sizeof(acct.ca)) {
		pthread_mutex_unlock(&acct.lock);
		return -EINVAL;
	}
	/* Other servers than the cached clients talk to: start over with them. */
	if (strcmp(fxa, acct.fxa_url) || strcmp(ts, acct.ts_url) || strcmp(ca, acct.ca)) {
		drop_all();
		snprintf(acct.fxa_url, sizeof(acct.fxa_url), "%s", fxa);
		snprintf(acct.ts_url, sizeof(acct.ts_url), "%s", ts);
		snprintf(acct.ca, sizeof(acct.ca), "%s", ca);
	}
	pthread_mutex_unlock(&acct.lock);
	out->ops = &account_ops;
	out->ctx = &acct;
	return 0;
}
