/*
 * ds_prefs.h - the prefs engine (Firefox Sync "prefs" collection, docs/engine-prefs.md).
 *
 * The device's settings live in a small SQLite database (prefs.sqlite, schema below) that the
 * device's settings service owns; the engine syncs the settings of an allow-list as the one
 * prefs record of the account, {"id": base64url(app id), "value": {pref: value, ...}}, the
 * format of desktop Firefox's services/sync/modules/engines/prefs.sys.mjs.
 *
 * Registration ("engine" object of a collection):
 *   {"kind":"prefs", "prefs":"<path of prefs.sqlite>", "allow":["<pref name>", ...],
 *    "app_id":"<application id>"}
 * "allow" names the prefs synced by default; "app_id" defaults to DS_PREFS_FIREFOX_APP_ID, so
 * that the device shares the record of desktop Firefox.
 */
#ifndef DS_PREFS_H
#define DS_PREFS_H

#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct ds_engine;

/* Firefox's application id (Services.appinfo.ID on desktop Firefox). */
#define DS_PREFS_FIREFOX_APP_ID "{ec8030f7-c20a-464f-9b0e-13a3a9e97384}"
/* The control pref of pref X is DS_PREFS_CONTROL_PREFIX X (desktop's PREF_SYNC_PREFS_PREFIX):
 * a bool row that turns syncing of X on (1) or off (0), whatever the allow-list says. */
#define DS_PREFS_CONTROL_PREFIX "services.sync.prefs.sync."
/* Longest pref name and string value applied from a record, in bytes (our bounds: a setting is
 * small; desktop warns about string prefs over 4 KB, Preferences.cpp). */
#define DS_PREFS_MAX_NAME 256
#define DS_PREFS_MAX_STRING 65536

/*
 * The schema of prefs.sqlite, which the device's settings service creates and owns. One row per
 * setting: its name, its type, and the user's value; value NULL means "at the default" (the
 * settings service knows the defaults), which a record sends as null. bool values are 0/1, int
 * values 32-bit integers (Firefox's int prefs), string values text.
 */
#define DS_PREFS_SCHEMA_SQL \
	"CREATE TABLE IF NOT EXISTS prefs(name TEXT PRIMARY KEY NOT NULL," \
	" type TEXT NOT NULL CHECK (type IN ('bool', 'int', 'string')), value) WITHOUT ROWID;"

struct ds_prefs_options {
	const char *path;               /* prefs.sqlite; opened read-write, never created */
	const char *app_id;             /* NULL: DS_PREFS_FIREFOX_APP_ID */
	const char *const *allow;       /* prefs synced unless their control row says 0 */
	size_t n_allow;
};

/* The record id of app_id: base64url with padding, as desktop's
 * CommonUtils.encodeBase64URL(Services.appinfo.ID). buf of at least 4 * (len + 2) / 3 + 1. */
int ds_prefs_record_id(const char *app_id, char *buf, size_t size);

int ds_prefs_engine_new(const struct ds_prefs_options *opt, struct ds_engine **out);
/* Remove the triggers and side tables from prefs.sqlite (the collection is gone). */
int ds_prefs_uninstall(const char *path);

/* Dispatcher entries (component/engine/engines.c). */
int ds_prefs_engine_open(const struct cJSON *cfg, struct ds_engine **out);
int ds_prefs_engine_unregister(const struct cJSON *cfg);

#endif /* DS_PREFS_H */
