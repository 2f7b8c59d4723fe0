/*
 * Bearer tokens for the Kinto server from the device's signed-in Firefox Account
 * (docs/remote-kinto.md, "Bearer tokens from the Firefox Account"; docs/accounts.md):
 *
 *   sealed session -> POST /v1/oauth/token for the registration's "token_scope"
 *   -> "Authorization: Bearer <access token>", kept in memory until shortly before it expires.
 *
 * The grant is fxa-credentials with the session token (Hawk): the refresh token the sign-in
 * stores is for Sync's scope only, and FxA refuses a refresh for a scope the refresh token was
 * not granted (errno 107). Without a session token, the refresh grant is tried. One cache per
 * process shared by every collection, as the Sync remote's provider does (sync15_account.c):
 * a run per collection would otherwise cost one FxA round trip each.
 */
#define DS_LOG_TAG "kinto"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "remote/kinto/kinto_priv.h"
#include "ds_port.h"

#if IS_ENABLED(CONFIG_DS_ACCOUNT)
#include "account/ds_fxa.h"
#include "account/ds_fxa_servers.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define ACCESS_MARGIN_MS (60 * 1000)

static struct {
	pthread_mutex_t lock;
	char key[1600];  /* scope, FxA url, CA bundle of the cached token */
	char *access;    /* a secret: wiped when dropped */
	int64_t until_ms; /* monotonic */
} cache = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void drop_access(void)
{
	if (cache.access) {
		ds_memzero(cache.access, strlen(cache.access));
		ds_free(cache.access);
	}
	cache.access = NULL;
	cache.until_ms = 0;
}

static int new_access(const struct ds_kinto_api *a, const char *fxa_url, const char *ca)
{
	struct ds_fxa_config fc = { .fxa_url = *fxa_url ? fxa_url : NULL,
				    .ca_bundle = *ca ? ca : NULL };
	struct ds_fxa_session *s = ds_calloc(1, sizeof(*s));
	struct ds_fxa_token tok = { 0 };
	struct ds_fxa *f = NULL;
	int rc = s ? ds_fxa_session_unseal(s) : -ENOMEM;

	if (rc == -ENOENT) {
		DS_LOG_ERR("%s: this device is not signed in to a Firefox Account "
			   "(datasyncctl login); no token for the Kinto server", a->name);
		rc = -ENOKEY;
	} else if (rc) {
		DS_LOG_ERR("%s: the sealed account cannot be read (%s)", a->name, ds_strerror(rc));
	}
	if (rc == 0 && (rc = ds_fxa_new(&fc, &f)) != 0)
		DS_LOG_ERR("%s: cannot reach the accounts server (%s)", a->name, ds_strerror(rc));
	if (rc == 0) {
		ds_fxa_set_skew(f, s->skew_s);
		if (s->has_session)
			rc = ds_fxa_oauth_token(f, s, a->token_scope, false, &tok);
		else
			rc = ds_fxa_oauth_refresh(f, s, a->token_scope, &tok);
		if (rc)
			DS_LOG_ERR("%s: no OAuth token for scope %s: %s", a->name, a->token_scope,
				   ds_fxa_error(f));
	}
	if (rc == 0) {
		cache.access = ds_strdup(tok.access_token);
		cache.until_ms = ds_port_mono_ms() + tok.expires_in * 1000 - ACCESS_MARGIN_MS;
		rc = cache.access ? 0 : -ENOMEM;
	}
	ds_fxa_token_clear(&tok);
	ds_fxa_free(f);
	if (s)
		ds_fxa_session_wipe(s);
	ds_free(s);
	return rc;
}

/*
 * The accounts server: the registration's "fxa_url" / "fxa_ca_bundle", else the daemon's
 * [accounts] fxa_url / ca_bundle (ds_fxa_servers.h, set by datasyncd), else ("") the build's
 * default and the OS trust store - the order the Sync remote follows (docs/accounts.md).
 */
static int servers_of(const struct ds_kinto_api *a, char *url, char *ca, size_t cap)
{
	int rc = ds_fxa_servers_get(url, cap, ca, cap);

	if (rc)
		return rc;
	if (a->fxa_url && snprintf(url, cap, "%s", a->fxa_url) >= (int)cap)
		return -ENAMETOOLONG;
	if (a->fxa_ca && snprintf(ca, cap, "%s", a->fxa_ca) >= (int)cap)
		return -ENAMETOOLONG;
	return 0;
}

int ds_kinto_token_auth(struct ds_kinto_api *a, bool fresh)
{
	char key[sizeof(cache.key)];
	char url[DS_FXA_SERVER_URL_MAX], ca[DS_FXA_SERVER_URL_MAX];
	int rc = 0, n;

	if (!a->token_scope)
		return -EINVAL;
	rc = servers_of(a, url, ca, sizeof(url));
	if (rc)
		return rc;
	n = snprintf(key, sizeof(key), "%s\n%s\n%s", a->token_scope, url, ca);
	if (n < 0 || (size_t)n >= sizeof(key))
		return -ENAMETOOLONG;
	pthread_mutex_lock(&cache.lock);
	if (fresh || strcmp(key, cache.key) != 0 || !cache.access ||
	    ds_port_mono_ms() >= cache.until_ms) {
		drop_access();
		snprintf(cache.key, sizeof(cache.key), "%s", key);
		rc = new_access(a, url, ca);
	}
	if (rc == 0) {
		char *auth = ds_asprintf("Bearer %s", cache.access);

		if (!auth) {
			rc = -ENOMEM;
		} else {
			if (a->auth) {
				ds_memzero(a->auth, strlen(a->auth));
				ds_free(a->auth);
			}
			a->auth = auth;
		}
	}
	pthread_mutex_unlock(&cache.lock);
	return rc;
}

void ds_kinto_token_forget(void)
{
	pthread_mutex_lock(&cache.lock);
	drop_access();
	cache.key[0] = '\0';
	pthread_mutex_unlock(&cache.lock);
}

#else

int ds_kinto_token_auth(struct ds_kinto_api *a, bool fresh)
{
	DS_UNUSED(fresh);
	DS_LOG_ERR("%s: \"token_scope\" needs the Firefox Account support (CONFIG_DS_ACCOUNT)",
		   a->name);
	return -ENOTSUP;
}

void ds_kinto_token_forget(void)
{
}

#endif
