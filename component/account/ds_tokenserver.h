/*
 * ds_tokenserver.h - the Firefox Sync tokenserver client (tokenserver 1.0, OAuth flavour).
 *
 * Trades an OAuth access token with the oldsync scope and the Sync key id for the credentials
 * of the user's Sync 1.5 storage node (accounts.md §5; syncstorage-rs
 * docs/src/tokenserver/tokenserver-api.md):
 *
 *   GET <url>/1.0/sync/1.5   Authorization: Bearer <access token>, X-KeyID: <kid>
 *   -> {"id", "key", "uid", "api_endpoint", "duration", "hashed_fxa_uid", ...}
 *
 * The token is cached until shortly before it expires and fetched again lazily by the next
 * ds_tokenserver_get(). Expiry is measured on the monotonic clock from the moment the request
 * was sent, so a wall clock that jumps (TVs boot with wrong clocks) neither keeps a dead token
 * nor throws away a good one.
 *
 * Errors become states the scheduler can act on (enum ds_tokenserver_state and
 * ds_tokenserver_action()); Retry-After is a hard backoff, X-Backoff a soft one
 * (ds_sched_server_backoff()). While a Retry-After runs, ds_tokenserver_get() answers
 * DS_TOKENSERVER_BACKOFF without asking the server. A token whose api_endpoint differs from the
 * previous one is reported as a node reassignment: the storage behind it is not the one the
 * last sync used (Sync 1.5 clients then start over, sync15.md).
 *
 * The server's X-Timestamp (on 200 and 401) gives the clock skew the Hawk signer needs for the
 * storage node (ds_tokenserver_skew_s()).
 *
 * Secrets: the access token, the token "key" and "id" are never logged and are wiped when
 * replaced or freed. Thread rules: one struct ds_tokenserver is used by one thread at a time,
 * with that thread's HTTP client.
 */
#ifndef DS_TOKENSERVER_H
#define DS_TOKENSERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ds_http_client;
struct ds_tokenserver;

/* The path every tokenserver URL ends in; appended when a configured URL lacks it. */
#define DS_TOKENSERVER_PATH "/1.0/sync/1.5"
/* Refetch this long before the token expires (capped at half its duration). */
#define DS_TOKENSERVER_EXPIRY_MARGIN_S 60

enum ds_tokenserver_state {
	DS_TOKENSERVER_OK = 0,
	/* 401 "invalid-credentials" (bad, expired or wrong-scope access token) or any other 401 */
	DS_TOKENSERVER_INVALID_CREDENTIALS,
	/* 401 "invalid-generation": the token's generation went backwards (password changed) */
	DS_TOKENSERVER_INVALID_GENERATION,
	/* 401 "invalid-keysChangedAt": the kid's keys_changed_at went backwards or is missing */
	DS_TOKENSERVER_INVALID_KEYS_CHANGED_AT,
	/* 401 "invalid-client-state": stale kB (a client state seen before, or a change
	 * without a keys_changed_at bump) */
	DS_TOKENSERVER_INVALID_CLIENT_STATE,
	/* 401 "invalid-key-id": X-KeyID missing or unreadable */
	DS_TOKENSERVER_INVALID_KEY_ID,
	/* "new-users-disabled" (403 in syncstorage-rs, 401 in the docs and the Python server) */
	DS_TOKENSERVER_NEW_USERS_DISABLED,
	/* Retry-After on an error response, or a Retry-After from earlier still running */
	DS_TOKENSERVER_BACKOFF,
	/* 5xx without Retry-After (503 "error", 500 "internal-error") */
	DS_TOKENSERVER_UNAVAILABLE,
	/* other 4xx (404: unknown application/version, i.e. a wrong URL; 400) */
	DS_TOKENSERVER_REJECTED,
	/* no HTTP response: the call returned the transport's errno */
	DS_TOKENSERVER_NETWORK,
	/* a 200 that is not a usable token */
	DS_TOKENSERVER_BAD_RESPONSE,
};

/* What whoever schedules the next attempt should do about a state. */
enum ds_tokenserver_action {
	DS_TOKENSERVER_ACT_NONE = 0,     /* a token is there: go on */
	DS_TOKENSERVER_ACT_RETRY_LATER,  /* transient: after retry_after_s, or the own error backoff */
	DS_TOKENSERVER_ACT_REFRESH_AUTH, /* get a fresh OAuth access token, then retry (once) */
	DS_TOKENSERVER_ACT_REAUTH,       /* session or keys are stale: sign in again / fetch keys */
	DS_TOKENSERVER_ACT_STOP,         /* will not work as configured: no automatic retry */
};

struct ds_tokenserver_config {
	/*
	 * Tokenserver base URL; NULL or "": CONFIG_DS_ACCOUNT_TOKENSERVER_URL. "/1.0/sync/1.5" is
	 * appended unless the URL ends with it (application-services token.rs fixup_server_url).
	 */
	const char *url;
	/* Refetch margin before expiry, seconds; <= 0: DS_TOKENSERVER_EXPIRY_MARGIN_S. */
	int64_t expiry_margin_s;
	/* Clocks; NULL: ds_port_mono_ms() / ds_port_wall_ms(). Tests pass their own. */
	int64_t (*mono_ms)(void);
	int64_t (*wall_ms)(void);
};

/* What the client sends. All strings are borrowed for the call only. */
struct ds_tokenserver_auth {
	const char *access_token; /* OAuth bearer token (a secret) */
	const char *key_id;       /* X-KeyID: "<keys_changed_at ms>-<b64url client state>" */
	const char *client_state; /* X-Client-State hex, or NULL to send none (the kid has it) */
};

struct ds_tokenserver_token {
	char *id;           /* Hawk id for the storage node */
	char *key;          /* Hawk key: the ASCII bytes of this string (a secret) */
	int64_t uid;
	char *api_endpoint; /* "<node>/1.5/<uid>", no trailing slash */
	int64_t duration_s;
	char *hashed_fxa_uid;
	char *node_type;    /* "mysql", "postgres", "spanner"; NULL when absent */
	int64_t fetched_mono_ms;
	int64_t expires_mono_ms; /* fetched_mono_ms + duration: when the server stops taking it */
};

struct ds_tokenserver_result {
	enum ds_tokenserver_state state;
	int http_status;       /* 0 when no response (cache, backoff, network) */
	int64_t retry_after_s; /* hard backoff left (Retry-After, fractions rounded up); 0: none */
	int64_t backoff_s;     /* soft backoff: X-Backoff of this response; 0: none */
	bool from_cache;       /* the token is the cached one: no request was made */
	bool node_reassigned;  /* a new token whose api_endpoint differs from the previous one */
	/* The token (state OK). Owned by the client; valid until the next call on it. */
	const struct ds_tokenserver_token *token;
	/* The server's error "status" and first "description" (error bodies), else "". */
	char server_status[32];
	char server_description[96];
};

/* Custom response headers the tokenserver sends beyond the HTTP client's built-in list
 * (NULL-terminated): add them to the keep_headers of the client passed to ds_tokenserver_get(). */
extern const char *const ds_tokenserver_keep_headers[];

/* cfg may be NULL for all defaults. -EINVAL for an unusable URL, -ENOMEM. */
int ds_tokenserver_new(const struct ds_tokenserver_config *cfg, struct ds_tokenserver **out);
/* Wipes and frees the cached token. NULL is fine. */
void ds_tokenserver_free(struct ds_tokenserver *ts);

/*
 * A valid token: the cached one when it is still good for the same key id, else a new one from
 * the server through http. Fills *res in every case. Returns 0 (res->token set) or:
 *   -EACCES  the 401 states (credentials, generation, keysChangedAt, client state, key id)
 *   -EPERM   new-users-disabled; -ENOENT other 4xx (REJECTED)
 *   -EAGAIN  BACKOFF (res->retry_after_s > 0)
 *   -EIO     UNAVAILABLE;  -EPROTO BAD_RESPONSE
 *   the HTTP client's errno (NETWORK: -ECONNREFUSED, -ETIMEDOUT, -EKEYREJECTED, ...)
 *   -EINVAL  bad arguments (no access token or key id)
 * A fetch happens only when the cached token is unusable, so after a failed one nothing is
 * cached. The HTTP client must keep the X-Backoff response header: create it with
 * ds_tokenserver_keep_headers in ds_http_config.keep_headers (lws 4.1 drops custom headers it
 * was not told about; docs/http.md).
 */
int ds_tokenserver_get(struct ds_tokenserver *ts, struct ds_http_client *http,
		       const struct ds_tokenserver_auth *auth, struct ds_tokenserver_result *res);

/*
 * Drop the cached token (the storage node answered 401: the next get asks the server). The
 * endpoint is remembered for node-reassignment detection.
 */
void ds_tokenserver_invalidate(struct ds_tokenserver *ts);

/*
 * The api_endpoint the last sync used, e.g. from persistent state after a restart, so the
 * first token after boot is compared with it. NULL forgets it.
 */
int ds_tokenserver_set_known_endpoint(struct ds_tokenserver *ts, const char *endpoint);
/* The endpoint of the latest token (or the one set above); NULL when none. */
const char *ds_tokenserver_known_endpoint(const struct ds_tokenserver *ts);

/*
 * Clock skew learnt from the latest X-Timestamp: server time - our wall clock, in ms and in
 * whole seconds (rounded to nearest, what ds_hawk's skew_s takes). 0 before any response.
 * A skew larger than CONFIG_DS_ACCOUNT_HAWK_MAX_SKEW_S is ignored as nonsense.
 */
int64_t ds_tokenserver_skew_ms(const struct ds_tokenserver *ts);
int64_t ds_tokenserver_skew_s(const struct ds_tokenserver *ts);
/* True once an X-Timestamp has been seen. */
bool ds_tokenserver_has_skew(const struct ds_tokenserver *ts);

/* The full request URL in use (with /1.0/sync/1.5). */
const char *ds_tokenserver_url(const struct ds_tokenserver *ts);

/* Stable names for logs and tests ("ok", "invalid-credentials", "backoff", ...). */
const char *ds_tokenserver_state_name(enum ds_tokenserver_state s);
enum ds_tokenserver_action ds_tokenserver_action(enum ds_tokenserver_state s);

#endif /* DS_TOKENSERVER_H */
