/*
 * fake_engine.h - an in-memory engine for tests of the sync core and its users.
 *
 * Rows live in memory; every local edit (ds_fake_engine_put/del, as the app would make them)
 * appends to a pending-change log with a change counter, exactly the contract of ds_sync.h:
 * changes()/changes_after() list one record per pending id with its newest change_seq, in
 * counter order (counters are unique), pending() looks one id up (like apply() and forget(),
 * only inside begin/commit, which checks the core's promise to), apply() writes without
 * logging, forget(id, seq) drops the id's pending change only if it is not newer than seq,
 * begin/commit/rollback keep an undo log of what the transaction changed, mark_all() logs
 * every row. Every op is O(1) (a hash table by id) or proportional to what it returns, and a
 * transaction allocates only for what it touches, so a test can hold tens of thousands of
 * pending changes and measure the core's memory, not the fake's.
 * All memory comes from ds_malloc, so allocation-failure tests cover the engine too.
 *
 * The engine is freed by its ops->close (which ds_fake_collection_free() calls).
 */
#ifndef DS_FAKE_ENGINE_H
#define DS_FAKE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sync/ds_sync.h"

enum ds_fake_engine_op {
	DS_FAKE_ENGINE_PREPARE,
	DS_FAKE_ENGINE_BEGIN,
	DS_FAKE_ENGINE_COMMIT,
	DS_FAKE_ENGINE_CHANGES, /* changes() and changes_after() */
	DS_FAKE_ENGINE_GET,
	DS_FAKE_ENGINE_APPLY,
	DS_FAKE_ENGINE_FORGET,
	DS_FAKE_ENGINE_MERGE,
	DS_FAKE_ENGINE_MARK_ALL,
	DS_FAKE_ENGINE_PENDING,
	DS_FAKE_ENGINE_OP_COUNT
};

/* with_merge: offer ops->merge (a per-field JSON merge where the local side wins a field). */
int ds_fake_engine_new(bool with_merge, struct ds_engine **out);

/* Local edits, logged as pending changes at the engine's clock (modified_ms). */
int ds_fake_engine_put(struct ds_engine *e, const char *id, const char *payload);
int ds_fake_engine_del(struct ds_engine *e, const char *id);
void ds_fake_engine_set_time(struct ds_engine *e, int64_t ms); /* default 1000 */

/* Inspection. payload: NULL when the row does not exist. */
const char *ds_fake_engine_payload(struct ds_engine *e, const char *id);
size_t ds_fake_engine_rows(struct ds_engine *e);
size_t ds_fake_engine_pending(struct ds_engine *e);
bool ds_fake_engine_is_pending(struct ds_engine *e, const char *id);
/* Calls of op since creation (also the failed ones). */
unsigned long ds_fake_engine_calls(struct ds_engine *e, enum ds_fake_engine_op op);
/* 1 when every row and pending change of a equals b's rows (used for convergence checks). */
bool ds_fake_engine_same_rows(struct ds_engine *a, struct ds_engine *b);

/* Failure injection: the nth call of op from now (1-based) returns err once; nth 0 disarms. */
void ds_fake_engine_fail(struct ds_engine *e, enum ds_fake_engine_op op, unsigned long nth, int err);
/* apply() of this id always fails with err (e.g. -EILSEQ: the row does not fit the schema). */
int ds_fake_engine_refuse(struct ds_engine *e, const char *id, int err);

#endif /* DS_FAKE_ENGINE_H */
