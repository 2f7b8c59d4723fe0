/*
 * ds_history.h - the history engine (Firefox Sync "history" collection, docs/engine-history.md).
 *
 * The engine holds the record format and the collection's rules; the data stays in the
 * browser, reached through a struct ds_history_store (engine/browser/ds_browser_store.h).
 * The reference store works on Firefox's places.sqlite.
 *
 * Registration ("engine" object of a collection): {"kind":"history", "places":"<path of
 * places.sqlite>"}.
 */
#ifndef DS_HISTORY_H
#define DS_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "engine/browser/ds_browser_store.h"

struct cJSON;
struct ds_engine;

/* Limits both ways (sync15.md §9, application-services history_sync and desktop's
 * MAX_HISTORY_UPLOAD / MAX_HISTORY_DOWNLOAD). */
#define DS_HISTORY_MAX_VISITS 20
#define DS_HISTORY_MAX_PLACES 5000
/* BSO ttl of history records: 60 days in seconds. */
#define DS_HISTORY_TTL_S 5184000L
/* Visits before 1993-01-23 (the first web browsers' era; AS history_sync/mod.rs) are dropped. */
#define DS_HISTORY_EARLIEST_US INT64_C(727747200000000)

struct ds_history_options {
	size_t max_visits; /* 0: DS_HISTORY_MAX_VISITS */
	size_t max_places; /* 0: DS_HISTORY_MAX_PLACES */
	/* Wall clock in ms for clamping future visits; NULL: the port's. */
	int64_t (*now_ms)(void *user_data);
	void *now_user_data;
};

/* An engine over store; the store becomes the engine's (closed by its close). */
int ds_history_engine_new(struct ds_history_store *store, const struct ds_history_options *opt,
			  struct ds_engine **out);

/* The reference store on Firefox's places.sqlite: installs the change log and its triggers. */
int ds_history_places_open(const char *path, struct ds_history_store **out);
/* Remove the triggers and the side tables from places.sqlite (the collection is gone). */
int ds_history_places_uninstall(const char *path);

/* Dispatcher entries (component/engine/engines.c). */
int ds_history_engine_open(const struct cJSON *cfg, struct ds_engine **out);
int ds_history_engine_unregister(const struct cJSON *cfg);

#endif /* DS_HISTORY_H */
