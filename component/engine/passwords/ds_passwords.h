/*
 * ds_passwords.h - the passwords engine (Firefox Sync "passwords" collection,
 * docs/engine-passwords.md): saved logins over a struct ds_passwords_store. The reference store
 * is logins.sqlite, a database this agent defines, with username and password encrypted at
 * rest (AES-256-GCM) under a key kept in the port's secret storage.
 *
 * Registration ("engine" object of a collection): {"kind":"passwords", "logins":"<path of
 * logins.sqlite>"}; the collection's conflict policy should be "merge" (field-level merge).
 */
#ifndef DS_PASSWORDS_H
#define DS_PASSWORDS_H

#include <stdint.h>

#include "engine/browser/ds_browser_store.h"

struct cJSON;
struct ds_engine;

/* Longest text field applied, in bytes (our bound against filling the disk). */
#define DS_PASSWORDS_MAX_FIELD 8192
/* Sort index of logins and of their tombstones on the server (AS logins/src/sync/engine.rs). */
#define DS_PASSWORDS_SORTINDEX 1
#define DS_PASSWORDS_TOMBSTONE_SORTINDEX 5000000

/* One login, field names as in the record (sync15.md §8, AS logins/src/sync/payload.rs). Strings
 * are ds_malloc'ed; username and password are wiped when cleared. */
struct ds_login {
	char guid[DS_BROWSER_ID_MAX];
	char *origin;             /* "hostname" */
	char *form_action_origin; /* "formSubmitURL"; NULL: absent */
	char *http_realm;         /* "httpRealm"; NULL: absent */
	char *username_field;     /* "usernameField"; NULL reads as "" */
	char *password_field;     /* "passwordField"; NULL reads as "" */
	char *username;           /* NULL reads as "" */
	char *password;
	int64_t time_created;          /* ms */
	int64_t time_password_changed; /* ms */
	int64_t time_last_used;        /* ms */
	int64_t times_used;
	int64_t time_last_breach_alert_dismissed; /* ms; 0: absent */
};

void ds_login_clear(struct ds_login *l);
int ds_login_copy(struct ds_login *dst, const struct ds_login *src);

/*
 * Check a login and fix what AS logins/src/login.rs fixes: -EBADMSG when the origin is empty or
 * not a URL, the password is empty, neither formSubmitURL nor httpRealm is present, or a field
 * holds a newline outside username/password (a NUL is refused by the decoder, C strings hold
 * none), usernameField is "."; both targets present -> httpRealm is
 * dropped; origins are cut to their origin ("https://a.example:8443"), formSubmitURL "." -> "",
 * "javascript:" kept; usernameField/passwordField emptied without formSubmitURL; negative times
 * and counts -> 0. 0 when the login is (now) valid.
 */
int ds_passwords_login_fixup(struct ds_login *l);
/* The origin of a URL as AS stores it: scheme://host[:port] with scheme and host lower-cased
 * for http(s)/ftp/ws(s), non-ASCII host labels in Punycode ("xn--"), the default port dropped,
 * no user, path, query or fragment; "file://" for any file URL. *out is a new ds_malloc'ed
 * string; -EBADMSG when in is not a URL. */
int ds_passwords_origin_normalize(const char *in, char **out);

/* A record's cleartext payload -> login (id taken from id; fields of the wrong type read as
 * absent, timestamps as 0). No validation: see ds_passwords_login_fixup(). -EBADMSG when
 * payload is not a JSON object. */
int ds_passwords_login_decode(const char *id, const char *payload, struct ds_login *out);
/* Login -> record payload (a new ds_malloc'ed JSON text). */
int ds_passwords_login_encode(const struct ds_login *l, char **out);

/*
 * Field-level merge of two versions of a login that both changed (AS logins/src/sync/merge.rs):
 * with base (the last version both sides agreed on), each field comes from the side that
 * changed it; a field both changed comes from the newer side (remote_newer), the password from
 * the side with the later timePasswordChanged; timesUsed = base + both sides' increments. With
 * no base, the fields that differ come from the newer side, the password again by
 * timePasswordChanged, timesUsed is the larger count. timeCreated is the smallest non-zero,
 * timeLastUsed, timePasswordChanged and timeLastBreachAlertDismissed the largest. out gets
 * remote's guid.
 */
int ds_passwords_login_merge(const struct ds_login *local, const struct ds_login *remote,
			     const struct ds_login *base, bool remote_newer, struct ds_login *out);

/* ---- the store ------------------------------------------------------------------------------- */

struct ds_passwords_store_ops {
	struct ds_browser_tracking_ops track;
	/* -ENOENT; -EBADMSG when the stored secret fields do not authenticate under the key. */
	int (*get)(void *s, const char *guid, struct ds_login *out);
	/* Insert, or replace the login with this guid. */
	int (*put)(void *s, const struct ds_login *l);
	int (*remove)(void *s, const char *guid); /* absent: 0 */
	/* Give the login old_guid the guid new_guid (its pending change and kept fields follow). */
	int (*set_guid)(void *s, const char *old_guid, const char *new_guid);
	/* The guid of a login that has no shared version (never synced since the last reset) with
	 * l's origin, target (formSubmitURL or httpRealm) and username, other than l->guid, into
	 * guid_out; -ENOENT when there is none (AS logins/src/db.rs find_dupe_login). */
	int (*find_dupe)(void *s, const struct ds_login *l, char guid_out[DS_BROWSER_ID_MAX]);
	/* The shared version of guid: the last state the server and the device agreed on (AS's
	 * mirror), the base of a three-way merge; -ENOENT when there is none. */
	int (*shared_get)(void *s, const char *guid, struct ds_login *out);
	/* Record the login's current state as the shared version (dropped when it is gone). */
	int (*shared_set)(void *s, const char *guid);
	/* Forget every shared version (first sync, reset: the server's state is unknown). */
	int (*shared_clear)(void *s);
	/* Put back every login that has a shared version but is gone, as it was shared, without
	 * logging it (between begin and commit): the re-import of a cleared store. The number
	 * restored, or -errno. */
	int (*shared_restore)(void *s);
	/* Log guid as changed (time 0) unless it is already pending, also between begin and
	 * commit: the engine's write differs from the server's version and must go up. */
	int (*mark)(void *s, const char *guid);
};

struct ds_passwords_store {
	const struct ds_passwords_store_ops *ops;
	void *priv;
};

/* An engine over store; the store becomes the engine's (closed by its close). */
int ds_passwords_engine_new(struct ds_passwords_store *store, struct ds_engine **out);

/*
 * The reference store on logins.sqlite at path, created if missing with its key: 32 random
 * bytes sealed in the port's secret storage under a name kept in the database. -ENOKEY when the
 * database's key is not in the secret storage, -EKEYREJECTED when the key there does not open
 * it, -EPROTO when the file is not a logins database of ours. now_ms (NULL: the port's wall
 * clock) dates what the app API writes.
 */
int ds_passwords_logins_open(const char *path, int64_t (*now_ms)(void *), void *now_user_data,
			     struct ds_passwords_store **out);
void ds_passwords_store_close(struct ds_passwords_store *s);
/* Remove the triggers and the change log from logins.sqlite; the logins and their key stay. */
int ds_passwords_logins_uninstall(const char *path);

/* ---- the app's side: saving and reading logins (logged as local changes) ----------------- */

/*
 * Save a login: validated and fixed up as a synced one is (-EBADMSG otherwise); an empty guid
 * gets a new random one (written back into l->guid), a given one must be a Sync id (printable
 * ASCII but ',' and space, -EINVAL otherwise); timeCreated 0 -> now; a changed password with an
 * unchanged timePasswordChanged gets now.
 */
int ds_passwords_login_save(struct ds_passwords_store *s, struct ds_login *l);
int ds_passwords_login_load(struct ds_passwords_store *s, const char *guid, struct ds_login *out);
int ds_passwords_login_delete(struct ds_passwords_store *s, const char *guid);
/* The login was used to fill a form: timesUsed + 1, timeLastUsed = now. */
int ds_passwords_login_touch(struct ds_passwords_store *s, const char *guid);

/* Dispatcher entries (component/engine/engines.c). */
int ds_passwords_engine_open(const struct cJSON *cfg, struct ds_engine **out);
int ds_passwords_engine_unregister(const struct cJSON *cfg);

#endif /* DS_PASSWORDS_H */
