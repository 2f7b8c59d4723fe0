/*
 * ds_browser_engine.h - the engine side that the browser engines share: turning a store's
 * pending changes into records, and the struct ds_engine_ops entries that only pass a call on
 * to the store's change tracking (struct ds_browser_tracking_ops).
 */
#ifndef DS_BROWSER_ENGINE_H
#define DS_BROWSER_ENGINE_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "engine/browser/ds_browser_store.h"
#include "sync/ds_sync.h"

/* Returned by a ds_browser_current_fn for a change that is not sent now: the change stays
 * pending (so a later edit that makes the item valid goes up then). */
#define DS_BROWSER_SKIP 1

/* The record of guid as it is now, a tombstone when the item is gone: 0, DS_BROWSER_SKIP or
 * -errno. */
typedef int (*ds_browser_current_fn)(struct ds_engine *e, const char *guid, struct ds_record *out);

/* One enumeration of pending changes into records; user_data of ds_browser_change_one. */
struct ds_browser_changes {
	struct ds_engine *e;
	ds_browser_current_fn current;
	/* Frees a record current filled; NULL: ds_record_clear. */
	void (*clear)(struct ds_record *r);
	ds_record_cb cb;
	void *user_data;
};

/* A ds_browser_change_cb: the record of guid through c->current, with the change's counter and
 * time, to c->cb. user_data is a struct ds_browser_changes. */
int ds_browser_change_one(const char *guid, const struct ds_pending_info *info, void *user_data);

/* engine->changes_after over the tracking ops t of store s. */
int ds_browser_changes_after(struct ds_engine *e, ds_browser_current_fn current,
			     const struct ds_browser_tracking_ops *t, void *s, uint64_t after_seq,
			     const char *after_id, ds_record_cb cb, void *user_data);

/*
 * An engine over one store's tracking ops. An engine embeds it (its e is the struct ds_engine
 * the core gets) and may then put the ds_browser_engine_* functions below in its ops.
 */
struct ds_browser_engine {
	struct ds_engine e;
	const struct ds_browser_tracking_ops *track;
	void *s;
	ds_browser_current_fn current;
	/* Frees a record current filled; NULL: ds_record_clear. */
	void (*clear)(struct ds_record *r);
};

int ds_browser_engine_prepare(struct ds_engine *e);
int ds_browser_engine_begin(struct ds_engine *e);
int ds_browser_engine_commit(struct ds_engine *e);
int ds_browser_engine_rollback(struct ds_engine *e);
int ds_browser_engine_pending(struct ds_engine *e, const char *id, struct ds_pending_info *out);
int ds_browser_engine_forget(struct ds_engine *e, const char *id, uint64_t change_seq);
int ds_browser_engine_changes_after(struct ds_engine *e, uint64_t after_seq, const char *after_id,
				    ds_record_cb cb, void *user_data);
int ds_browser_engine_changes(struct ds_engine *e, ds_record_cb cb, void *user_data);
/* engine->wipe through the store's tracking wipe; -ENOTSUP when the store has none. */
int ds_browser_engine_wipe(struct ds_engine *e);

/* The path cfg[key] of the browser file an engine opens (a non-empty string), or NULL after
 * logging, under the engine's tag, that it is required. file names it in that message. */
const char *ds_browser_cfg_path(const cJSON *cfg, const char *engine, const char *key,
				const char *file);

#endif /* DS_BROWSER_ENGINE_H */
