/*
 * ds_clients.h - the clients engine (Firefox Sync "clients" collection, docs/engine-clients.md).
 *
 * Every run reads the account's client records (the other devices, for the UI) and keeps ours
 * current: id = FxA device id, name, type, protocols, fxaDeviceId, BSO ttl 180 days, written
 * again at least every 7 days (AT-16; AS clients_engine, DESK CLIENTS_TTL_REFRESH). Commands
 * other devices put in our record are applied (wipeEngine, resetEngine, resetAll, logout,
 * displayURI), unknown ones stay in our record, applied ones leave it; the record goes back with
 * the collection's X-If-Unmodified-Since, so a command added meanwhile (412) is read and applied
 * on the retry rather than overwritten. With this engine registered the Sync 1.5 remote no
 * longer writes our record itself (ds_sync15_client_engine_active()).
 *
 * Registration ("engine" object): {"kind":"clients"[, "db":"<path>"]}. State lives in the same
 * file as the tabs engine's (DS_TABS_DB_NAME in the data directory by default).
 */
#ifndef DS_CLIENTS_H
#define DS_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct ds_engine;
struct ds_sync15_device;
struct sqlite3;

#define DS_CLIENTS_DB_NAME "browser.db"
/* DESK _processIncoming: a client with the name of a newer one, not seen for a week, is stale. */
#define DS_CLIENTS_STALE_MS (7LL * 24 * 3600 * 1000)
#define DS_CLIENTS_EVENTS_MAX 100 /* "tab received" events kept for the UI */

/*
 * What commands do to the device's other collections; the daemon installs its own
 * (component/daemon/browser_cmd.c). Each returns 0 when done, -ENOENT when nothing here syncs
 * that engine (the command is dropped, as AS drops an ignored one), another errno on failure
 * (the command stays in our record and the run fails, as in AS).
 */
struct ds_clients_hooks {
	/* engine: a Sync engine name ("history", "tabs"); NULL: every collection (resetAll).
	 * wipe false (resetEngine): the cursor and sync state are forgotten, everything is
	 * downloaded and merged again and the local data is uploaded again; wipe true
	 * (wipeEngine): the engine's local copy of synced data goes, then the same. */
	int (*reset)(const char *engine, bool wipe, void *user_data);
	/* logout: the account's secrets are erased on this device. */
	int (*logout)(void *user_data);
	void *user_data;
};

/* The process's hooks (copied); NULL removes them. Without hooks, those commands are kept. */
void ds_clients_set_hooks(const struct ds_clients_hooks *h);

typedef int (*ds_clients_device_fn)(struct ds_sync15_device *out, void *user_data);

struct ds_clients_config {
	const char *db_path;                 /* NULL: DS_CLIENTS_DB_NAME in the data directory */
	ds_clients_device_fn device;         /* NULL: the signed-in account's device */
	void *device_user_data;
	const struct ds_clients_hooks *hooks; /* NULL: the process's (ds_clients_set_hooks) */
	int64_t (*now_ms)(void *user_data);  /* NULL: the port's wall clock */
	void *now_user_data;
};

/* ---- records (clients_record.c, pure) ------------------------------------------------------ */

/* A record's type as the UI shows it: desktop, mobile, tablet, vr, tv; "phone" is mobile (AS
 * device_type.rs); anything else NULL. */
const char *ds_clients_type(const char *wire);
/* Another device's record (cleartext JSON) for the UI: {"id","name","type"(or null),
 * "fxaDeviceId","os","application","version"}. -EBADMSG when it is not a client record. */
int ds_clients_record_parse(const char *payload, struct cJSON **out);
/* Our record: ds_sync15_client_record's fields with these commands (NULL: none). */
int ds_clients_own_record(const struct ds_sync15_device *d, const struct cJSON *commands, char **out);

/* One command of our record, as the engine handles it. */
enum ds_clients_cmd {
	DS_CLIENTS_CMD_UNKNOWN = 0, /* kept in our record and retried */
	DS_CLIENTS_CMD_WIPE_ENGINE,
	DS_CLIENTS_CMD_RESET_ENGINE,
	DS_CLIENTS_CMD_RESET_ALL,
	DS_CLIENTS_CMD_LOGOUT,
	DS_CLIENTS_CMD_DISPLAY_URI,
};
/* Classify a command object {command, args[], flowID?}; args that do not fit the command
 * (wipeEngine without an engine name) make it UNKNOWN, so it is kept, never misapplied. */
enum ds_clients_cmd ds_clients_command_kind(const struct cJSON *cmd);

/*
 * Stale clients (DESK _processIncoming): of records sharing an fxaDeviceId only the newest is
 * shown; a record whose name a newer record (or this device, own_name) also has and that is
 * older than DS_CLIENTS_STALE_MS at now_ms is hidden. ids/names/fxa/modified describe n
 * records; hidden[i] is set for the ones to hide.
 */
void ds_clients_stale(size_t n, const char *const *ids, const char *const *names,
		      const char *const *fxa, const int64_t *modified, const char *own_name,
		      int64_t now_ms, bool *hidden);

/* ---- the engine and its state (clients_engine.c) -------------------------------------------- */

int ds_clients_db_open(const char *path, struct sqlite3 **out);
/* {"clients":[{"id","name","type","fxaDeviceId","lastModified",...}]}: the other devices,
 * hidden (stale) ones left out unless all is set (then each carries "stale"). */
int ds_clients_list(struct sqlite3 *db, bool all, struct cJSON **out);
/* {"events":[{"seq","type":"tab-received","uri","title","sender","senderName","wall_ms"}]}:
 * events with seq > after, oldest first. */
int ds_clients_events(struct sqlite3 *db, int64_t after, struct cJSON **out);
/*
 * Send a command to another device (sync15.md §7): queued, deduplicated by (command, args), and
 * added to the target's record by the next clients run. args: an array of strings or nulls
 * (NULL: none). -ENOENT: no device with that id among the clients read; -EINVAL: bad input.
 * A command the target's record already holds is not queued again (0).
 */
int ds_clients_send(struct sqlite3 *db, const char *target, const char *command, const struct cJSON *args);
/* wipeEngine clients: the other devices' records go (read again on the next run). */
int ds_clients_wipe_remote(struct sqlite3 *db);

int ds_clients_engine_new(const struct ds_clients_config *cfg, struct ds_engine **out);

/* Dispatcher entries (component/engine/engines.c). */
int ds_clients_engine_open(const struct cJSON *cfg, struct ds_engine **out);
int ds_clients_engine_unregister(const struct cJSON *cfg);

#endif /* DS_CLIENTS_H */
