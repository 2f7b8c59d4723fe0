/*
 * The per-record decision of a run: what to do with one remote record given the device's row
 * and its pending change. Pure: no I/O, so every rule is a unit test (test/unit/
 * sync_rules_test.c) and the table in docs/sync.md is this function.
 *
 * The shape follows Kinto.js importChange (KJS src/collection.ts) and application-services'
 * incoming reconciliation: no local change -> take the remote; identical on both sides ->
 * nothing to do but mark the local change done; otherwise a conflict the policy settles.
 */
#include "core/ds_core.h"
#include "sync/sync_priv.h"

#include <cjson/cJSON.h>
#include <string.h>

bool ds_record_payload_equal(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	if (strcmp(a, b) == 0)
		return true;
	/*
	 * Engines may serialise one row with another key order or spacing than the JSON that came
	 * back from the remote. If parsing fails (malformed, or out of memory) the answer is "not
	 * equal", which only turns an echo into a conflict the policy settles: never a loss.
	 */
	cJSON *ja = cJSON_Parse(a);
	cJSON *jb = ja ? cJSON_Parse(b) : NULL;
	bool eq = ja && jb && cJSON_Compare(ja, jb, 1);

	cJSON_Delete(ja);
	cJSON_Delete(jb);
	return eq;
}

/* The device holds exactly what the remote says (deletion included). */
static bool same_state(const struct ds_record *remote, const struct ds_record *local)
{
	if (remote->deleted)
		return local == NULL;
	return local && ds_record_payload_equal(remote->payload, local->payload);
}

static void set(struct ds_reconcile *out, enum ds_reconcile_action a, bool conflict,
		const char *rule)
{
	out->action = a;
	out->conflict = conflict;
	out->rule = rule;
}

/* Newest wins by modified_ms; a tie goes to the server, so two devices decide alike. */
static void newest_wins(const struct ds_record *remote, const struct ds_pending_info *pending,
			struct ds_reconcile *out, const char *rule)
{
	if (pending->modified_ms > remote->modified_ms)
		set(out, DS_RECONCILE_KEEP_LOCAL, true, rule);
	else
		set(out, DS_RECONCILE_APPLY, true, rule);
}

void ds_reconcile_decide(const struct ds_record *remote, const struct ds_record *local,
			 const struct ds_pending_info *pending, const struct ds_policy *policy,
			 bool can_merge, struct ds_reconcile *out)
{
	bool export_only = policy->direction == DS_DIR_EXPORT_ONLY;

	if (!pending) {
		if (export_only)
			set(out, DS_RECONCILE_SKIP, false, "export-only: remote changes are not applied");
		else if (remote->deleted && !local)
			set(out, DS_RECONCILE_SKIP, false, "remote tombstone for an id the device lacks");
		else if (same_state(remote, local))
			set(out, DS_RECONCILE_SKIP, false, "device already up to date");
		else if (remote->deleted)
			set(out, DS_RECONCILE_APPLY, false, "remote tombstone, no local change: delete");
		else if (!local)
			set(out, DS_RECONCILE_APPLY, false, "remote record for a new id: insert");
		else
			set(out, DS_RECONCILE_APPLY, false, "remote change, no local change: apply");
		return;
	}

	/* Both sides changed. Equal results need nothing but marking the local change done; this
	 * is also how our own upload coming back after a crash is recognised (ds_sync.h rule 2). */
	if (same_state(remote, local)) {
		set(out, DS_RECONCILE_FORGET, false,
		    remote->deleted ? "both deleted: forget" : "both changed, equal: forget local");
		return;
	}
	if (policy->direction == DS_DIR_IMPORT_ONLY) {
		set(out, DS_RECONCILE_APPLY, true, "import-only: the remote wins");
		return;
	}
	if (export_only) {
		set(out, DS_RECONCILE_KEEP_LOCAL, true, "export-only: the device wins");
		return;
	}
	switch (policy->conflict) {
	case DS_CONFLICT_CLIENT_WINS:
		set(out, DS_RECONCILE_KEEP_LOCAL, true, "client-wins");
		return;
	case DS_CONFLICT_NEWEST_WINS:
		newest_wins(remote, pending, out, "newest-wins");
		return;
	case DS_CONFLICT_MERGE:
		/* A merge combines two versions of a row; with a deletion on either side (or an
		 * engine without merge) there is nothing to combine, so the newer side wins. */
		if (can_merge && local && !remote->deleted)
			set(out, DS_RECONCILE_MERGE, true, "merge");
		else
			newest_wins(remote, pending, out, "merge impossible: newest-wins");
		return;
	case DS_CONFLICT_SERVER_WINS:
	default:
		set(out, DS_RECONCILE_APPLY, true, "server-wins");
		return;
	}
}

static const char *const action_names[] = {
	[DS_RECONCILE_SKIP] = "skip",
	[DS_RECONCILE_APPLY] = "apply",
	[DS_RECONCILE_FORGET] = "forget",
	[DS_RECONCILE_KEEP_LOCAL] = "keep-local",
	[DS_RECONCILE_MERGE] = "merge",
};

const char *ds_reconcile_action_name(enum ds_reconcile_action a)
{
	return (unsigned)a < DS_ARRAY_SIZE(action_names) && action_names[a] ? action_names[a] : "?";
}
