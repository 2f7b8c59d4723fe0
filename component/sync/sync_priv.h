/*
 * sync_priv.h - internals of the sync core shared by its files and its unit tests.
 */
#ifndef DS_SYNC_PRIV_H
#define DS_SYNC_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sync/ds_sync.h"

struct cJSON;

/* ---- reconcile (reconcile.c): the per-record decision, a pure function ---------------------- */

enum ds_reconcile_action {
	DS_RECONCILE_SKIP = 0,   /* nothing to write */
	DS_RECONCILE_APPLY,      /* apply the remote record; forget the local pending change */
	DS_RECONCILE_FORGET,     /* the device already holds the remote state: forget pending */
	DS_RECONCILE_KEEP_LOCAL, /* do not apply; the local change stays pending and uploads */
	DS_RECONCILE_MERGE,      /* engine->merge, apply the result, keep it pending to upload */
};

struct ds_reconcile {
	enum ds_reconcile_action action;
	bool conflict;    /* both sides changed the record and they differ */
	const char *rule; /* the rule that decided, for logs and tests */
};

/*
 * Decide what to do with one remote record.
 *   remote   the incoming record (cleartext)
 *   local    the device's current row, NULL when it has none (never existed or deleted)
 *   pending  the id's pending local change, NULL when it has none
 *   can_merge  the engine has a merge function
 */
void ds_reconcile_decide(const struct ds_record *remote, const struct ds_record *local,
			 const struct ds_pending_info *pending, const struct ds_policy *policy,
			 bool can_merge, struct ds_reconcile *out);
const char *ds_reconcile_action_name(enum ds_reconcile_action a);
/* Payloads equal as JSON (byte-equal, else same value ignoring key order and spacing). */
bool ds_record_payload_equal(const char *a, const char *b);

/* ---- policy from a registration (policy.c) ------------------------------------------------ */

/*
 * "direction" (default two-way), "conflict" (default server-wins), "max_retries" (default 3,
 * 0..100). -EINVAL with a log line naming the bad field.
 */
int ds_policy_from_json(const struct cJSON *reg, struct ds_policy *out);

#define DS_SYNC_DEFAULT_RETRIES 3
#define DS_SYNC_DEFAULT_BATCH 100
/*
 * Most records one upload holds, whatever max_batch the remote announces: with the apply chunk
 * (CONFIG_DS_SYNC_APPLY_CHUNK), the bound of what a run keeps in memory (docs/sync.md,
 * "Limits"). A fetched page has no bound of its own: its records are applied chunk by chunk.
 */
#ifndef DS_SYNC_MAX_BATCH
#define DS_SYNC_MAX_BATCH 1000
#endif

#endif /* DS_SYNC_PRIV_H */
