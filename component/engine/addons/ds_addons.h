/*
 * ds_addons.h - the addons engine (Firefox Sync "addons" collection, docs/engine-addons.md).
 *
 * The device's installed apps and add-ons are listed in addons.sqlite by its package manager
 * (schema below); the engine syncs the ones that came from the store the account shares
 * (source "amo") and belong to the device's application, as desktop Firefox's
 * services/sync/modules/engines/addons.sys.mjs does: one record per item,
 * {"id": guid, "addonID", "applicationID", "enabled", "source": "amo"}.
 *
 * The device cannot install from addons.mozilla.org itself: a remote record for an item that is
 * not installed, or a removal of an installed one, becomes a row of addons_wanted that the
 * package manager acts on (and deletes, or the engine does when the item arrives or goes).
 *
 * Registration ("engine" object of a collection):
 *   {"kind":"addons", "addons":"<path of addons.sqlite>", "app_id":"<application id>"}
 * "app_id" defaults to DS_ADDONS_FIREFOX_APP_ID.
 */
#ifndef DS_ADDONS_H
#define DS_ADDONS_H

struct cJSON;
struct ds_engine;

/* Firefox's application id (Services.appinfo.ID on desktop Firefox). */
#define DS_ADDONS_FIREFOX_APP_ID "{ec8030f7-c20a-464f-9b0e-13a3a9e97384}"
/* The only source that syncs (desktop: add-ons installed from addons.mozilla.org). */
#define DS_ADDONS_SOURCE_AMO "amo"
/* Longest addonID / applicationID applied, in bytes (our bound; AMO ids are GUIDs or
 * e-mail-like names far shorter). */
#define DS_ADDONS_MAX_ID 256

/*
 * addons.sqlite as the package manager keeps it: one row per installed item. guid is the item's
 * sync id (12 random base64url characters, desktop's syncGUID), addonID the item's own id,
 * applicationID the application it extends, enabled 0/1, source where it came from ("amo" for
 * the store; anything else never syncs).
 */
#define DS_ADDONS_SCHEMA_SQL \
	"CREATE TABLE IF NOT EXISTS addons(guid TEXT PRIMARY KEY NOT NULL," \
	" addonID TEXT NOT NULL UNIQUE, applicationID TEXT NOT NULL," \
	" enabled INTEGER NOT NULL DEFAULT 1, source TEXT NOT NULL);"

/*
 * What other devices asked for, created by the engine: wish "install" for an item another
 * device has and this one does not (with the enabled state it should get), "uninstall" for an
 * installed item another device removed. The package manager reads it; the engine drops an
 * "install" row when the item gets installed and an "uninstall" row when it is removed.
 * Another device's wipeEngine command leaves an "uninstall" row for every store item; removing
 * such an item is not logged as a local deletion (docs/engine-addons.md, "wipeEngine"), whether
 * the package manager deletes the row before or after the removal. To delete the row first,
 * remove the item in the same transaction or before the next sync run: a row deleted while the
 * item stays installed at the start of a run declines the wish, and a later removal is a deletion.
 */
#define DS_ADDONS_WANTED_SQL \
	"CREATE TABLE IF NOT EXISTS addons_wanted(guid TEXT PRIMARY KEY NOT NULL," \
	" addonID TEXT NOT NULL UNIQUE, applicationID TEXT NOT NULL, enabled INTEGER NOT NULL," \
	" source TEXT NOT NULL, wish TEXT NOT NULL CHECK (wish IN ('install', 'uninstall')));"

struct ds_addons_options {
	const char *path;   /* addons.sqlite; opened read-write, never created */
	const char *app_id; /* NULL: DS_ADDONS_FIREFOX_APP_ID */
};

int ds_addons_engine_new(const struct ds_addons_options *opt, struct ds_engine **out);
/* Remove the triggers and the engine's side tables (addons_wanted stays: the package manager's). */
int ds_addons_uninstall(const char *path);

/* Dispatcher entries (component/engine/engines.c). */
int ds_addons_engine_open(const struct cJSON *cfg, struct ds_engine **out);
int ds_addons_engine_unregister(const struct cJSON *cfg);

#endif /* DS_ADDONS_H */
