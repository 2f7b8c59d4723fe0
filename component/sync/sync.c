/*
 * One sync run of a collection: prepare -> fetch pages -> reconcile and apply the records of a
 * page as they arrive, in local transactions of at most CONFIG_DS_SYNC_APPLY_CHUNK records ->
 * upload pending changes in batches under a precondition -> cursors.
 *
 * The two crash-safety rules of ds_sync.h are enforced here by ordering alone:
 *  - a page's cursor is stored only after the last transaction that applied its records
 *    committed (earlier chunks of the page may be committed already: applying is idempotent,
 *    so a page cut short is fetched and applied again from its start);
 *  - a pending change is forgotten only after the remote accepted the batch holding it, and
 *    only up to the change_seq that was read for that upload, then the new cursor is stored.
 * Everything between two of those writes can be lost to a crash and is simply done again.
 * The walk-through, the reconcile table and the limits are in docs/sync.md.
 */
#define DS_LOG_TAG "sync"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_SYNC
#include "core/ds_core.h"
#include "store/ds_store.h"
#include "sync/ds_sync.h"
#include "sync/sync_priv.h"
#include "ds_port.h"

#include <stdio.h>
#include <string.h>

struct run {
	struct ds_collection *c;
	struct ds_engine *e;
	struct ds_remote *r;
	struct ds_store *store;
	struct ds_run_stats *st;
	ds_progress_fn progress;
	void *user_data;

	struct ds_remote_info info;
	char cursor[DS_CURSOR_MAX];       /* where the next fetch starts: last committed page */
	char saved_cursor[DS_CURSOR_MAX]; /* what the store holds */
	char saved_epoch[DS_CURSOR_MAX];

	/* The records of the page being fetched (cleartext) not applied yet: at most one chunk
	 * (CONFIG_DS_SYNC_APPLY_CHUNK), applied when it is full and at the end of the page. */
	struct ds_record *page;
	size_t page_n, page_cap;
	unsigned long page_applied; /* records of the current page through apply_chunk() */
	/* The remote refused part of an upload: the stored cursor stays where it was for the rest
	 * of the run (run->cursor still moves, for the next request's precondition). */
	bool cursor_held;
};

static void progress(struct run *run, const char *phase, unsigned long done, unsigned long total)
{
	if (run->progress)
		run->progress(run->c->name, phase, done, total, run->user_data);
}

/* Keep the first explanation: it names the step that failed, and why. */
static int fail_because(struct run *run, int rc, const char *what, const char *why)
{
	if (!run->st->message[0]) {
		snprintf(run->st->message, sizeof(run->st->message), "%s: %s", what, why);
		DS_LOG_WRN("%s: %s", run->c->name, run->st->message);
	}
	return rc;
}

static int run_fail(struct run *run, int rc, const char *what)
{
	return fail_because(run, rc, what, ds_strerror(rc));
}

/* A remote operation failed: the remote's own explanation, when it has one, says more than the
 * errno (which server message, what to do about it). */
static int remote_fail(struct run *run, int rc, const char *what)
{
	const char *why = run->r->ops->message ? run->r->ops->message(run->r) : NULL;

	return fail_because(run, rc, what, why && *why ? why : ds_strerror(rc));
}

static void page_clear(struct run *run)
{
	for (size_t i = 0; i < run->page_n; i++)
		ds_record_clear(&run->page[i]);
	run->page_n = 0;
}

static bool bad_record(int rc)
{
	return rc == -EBADMSG || rc == -EILSEQ;
}

/* ---- cursor ------------------------------------------------------------------------------- */

static int save_cursor(struct run *run, const char *cursor)
{
	int rc;

	if (!cursor[0])
		cursor = run->cursor; /* "" from a remote means "no news", never "start over" */
	if (!run->cursor_held &&
	    (strcmp(cursor, run->saved_cursor) != 0 || strcmp(run->info.epoch, run->saved_epoch) != 0)) {
		rc = ds_store_cursor_set(run->store, run->c->name, cursor, run->info.epoch);
		if (rc < 0)
			return run_fail(run, rc, "storing the cursor in the metadata store failed");
		snprintf(run->saved_cursor, sizeof(run->saved_cursor), "%s", cursor);
		snprintf(run->saved_epoch, sizeof(run->saved_epoch), "%s", run->info.epoch);
	}
	if (cursor != run->cursor) /* not onto itself: overlapping snprintf is undefined */
		snprintf(run->cursor, sizeof(run->cursor), "%s", cursor);
	return 0;
}

/* ---- fetch -------------------------------------------------------------------------------- */

static int apply_chunk(struct run *run);

static int stage_record(const struct ds_record *in, void *user_data)
{
	struct run *run = user_data;
	struct ds_transform *t = run->c->transform;
	struct ds_record rec = { 0 };
	int rc;

	run->st->fetched++;
	progress(run, "fetch", run->st->fetched, 0);
	if (!in || !in->id || !*in->id) {
		run->st->errors++;
		DS_LOG_WRN("%s: the remote sent a record without id; skipped", run->c->name);
		return 0;
	}
	if (run->page_n == run->page_cap) {
		size_t cap = run->page_cap ? run->page_cap * 2 : 32;
		struct ds_record *v;

		cap = DS_MIN(cap, (size_t)CONFIG_DS_SYNC_APPLY_CHUNK);
		v = ds_realloc(run->page, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		run->page = v;
		run->page_cap = cap;
	}
	if (t) {
		rc = t->ops->decode(t, in, &rec);
		if (bad_record(rc)) {
			/* Never applied: a record we cannot authenticate could be anything. */
			ds_record_clear(&rec);
			run->st->errors++;
			DS_LOG_WRN("%s: a remote record failed to decode (%s); skipped", run->c->name,
				   ds_strerror(rc));
			return 0;
		}
		if (rc < 0) {
			ds_record_clear(&rec);
			return rc;
		}
		if (!rec.id && !(rec.id = ds_strdup(in->id))) {
			ds_record_clear(&rec);
			return -ENOMEM;
		}
		if (!rec.modified_ms)
			rec.modified_ms = in->modified_ms;
	} else {
		rc = ds_record_copy(&rec, in);
		if (rc < 0)
			return rc;
	}
	if (rec.deleted) {
		ds_free(rec.payload);
		rec.payload = NULL;
	} else if (!rec.payload) {
		ds_record_clear(&rec);
		run->st->errors++;
		DS_LOG_WRN("%s: a remote record has neither payload nor deletion; skipped", run->c->name);
		return 0;
	}
	run->page[run->page_n++] = rec;
	/* A full chunk is applied now, whatever the remote's page size: what the run holds from
	 * a page is bounded by the chunk, and the engine's write lock is held for one chunk at a
	 * time, never across the remote's network reads (sync15.md U8). */
	if (run->page_n >= CONFIG_DS_SYNC_APPLY_CHUNK)
		return apply_chunk(run);
	return 0;
}

/* Reconcile one remote record against the device, inside the page transaction. */
static int apply_one(struct run *run, const struct ds_record *rec)
{
	struct ds_engine *e = run->e;
	struct ds_record local = { 0 }, merged = { 0 };
	struct ds_reconcile d;
	bool has_local;
	int rc;

	rc = e->ops->get(e, rec->id, &local);
	if (rc < 0 && rc != -ENOENT)
		return run_fail(run, rc, "reading a local record failed");
	has_local = rc == 0 && !local.deleted;

	/* One indexed lookup per record, inside the chunk transaction: see apply_chunk(). */
	struct ds_pending_info pinfo;
	rc = e->ops->pending(e, rec->id, &pinfo);
	if (rc < 0 && rc != -ENOENT) {
		ds_record_clear(&local);
		return run_fail(run, rc, "looking up a local change failed");
	}
	const struct ds_pending_info *p = rc == 0 ? &pinfo : NULL;
	ds_reconcile_decide(rec, has_local ? &local : NULL, p, &run->c->policy,
			    e->ops->merge != NULL, &d);
	/* No record id here: a table engine's id spells the row's primary key, which can be user
	 * data (a phone number). */
	DS_LOG_DBG("%s: record -> %s (%s)", run->c->name, ds_reconcile_action_name(d.action), d.rule);
	if (d.conflict)
		run->st->conflicts++;

	rc = 0;
	switch (d.action) {
	case DS_RECONCILE_SKIP:
	case DS_RECONCILE_KEEP_LOCAL:
		break;
	case DS_RECONCILE_FORGET:
		rc = e->ops->forget(e, rec->id, p->change_seq);
		break;
	case DS_RECONCILE_APPLY:
		rc = e->ops->apply(e, rec);
		if (rc == 0) {
			run->st->applied++;
			if (p)
				rc = e->ops->forget(e, rec->id, p->change_seq);
		}
		break;
	case DS_RECONCILE_MERGE:
		rc = e->ops->merge(e, &local, rec, &merged);
		if (rc == 0 && !merged.id && !(merged.id = ds_strdup(rec->id)))
			rc = -ENOMEM;
		/* The merge is applied without logging, and the local change stays pending, so the
		 * merged row is what the upload sends. */
		if (rc == 0)
			rc = e->ops->apply(e, &merged);
		if (rc == 0)
			run->st->applied++;
		ds_record_clear(&merged);
		break;
	}
	ds_record_clear(&local);
	if (bad_record(rc)) {
		/* The engine found the record malformed for its schema: skip it, keep going. */
		run->st->errors++;
		DS_LOG_WRN("%s: a remote record was refused by the engine (%s); skipped",
			   run->c->name, ds_strerror(rc));
		return 0;
	}
	if (rc < 0)
		return run_fail(run, rc, "applying a remote record failed");
	return 0;
}

/* Apply the staged records in one local transaction, then drop them (applied or not). */
static int apply_chunk(struct run *run)
{
	struct ds_engine *e = run->e;
	int rc;

	if (run->page_n == 0)
		return 0;
	rc = e->ops->begin(e);
	if (rc < 0) {
		page_clear(run);
		return run_fail(run, rc, "starting a local transaction failed");
	}
	/*
	 * Each record's pending change is looked up inside the transaction: with an engine whose
	 * begin takes the write lock (BEGIN IMMEDIATE), an app write cannot slip between this
	 * check and the apply and be overwritten unseen (Kinto.js issues #16, #34, #788). A
	 * lookup per record keeps the cost of a page proportional to the page, not to the number
	 * of pending changes. App writes may land between two chunks: the next chunk's lookups
	 * see them.
	 */
	for (size_t i = 0; rc == 0 && i < run->page_n; i++) {
		rc = apply_one(run, &run->page[i]);
		progress(run, "apply", ++run->page_applied, 0);
	}
	if (rc == 0) {
		rc = e->ops->commit(e);
		if (rc < 0)
			run_fail(run, rc, "committing the local transaction failed");
	}
	if (rc < 0)
		e->ops->rollback(e);
	page_clear(run);
	return rc;
}

static int fetch_all(struct run *run)
{
	for (;;) {
		struct ds_fetch_page pg;
		int rc;

		memset(&pg, 0, sizeof(pg));
		run->page_applied = 0;
		rc = run->r->ops->fetch(run->r, run->cursor, stage_record, run, &pg);
		if (rc < 0) {
			/* The page stopped short (a cut connection, a record the remote could not
			 * read, a failed chunk): the records staged since the last chunk are dropped
			 * unapplied, the chunks before stay (applying is idempotent), and the cursor
			 * stays at the page's start, so the next run fetches the whole page again. */
			page_clear(run);
			return remote_fail(run, rc, "fetching from the remote failed");
		}
		pg.next_cursor[DS_CURSOR_MAX - 1] = '\0';
		rc = apply_chunk(run);
		if (rc < 0)
			return rc;
		if (pg.more && (!pg.next_cursor[0] || strcmp(pg.next_cursor, run->cursor) == 0))
			return run_fail(run, -EPROTO, "the remote announced another page at the same cursor");
		rc = save_cursor(run, pg.next_cursor);
		if (rc < 0)
			return rc;
		if (!pg.more)
			return 0;
	}
}

/* ---- upload ------------------------------------------------------------------------------- */

/*
 * The upload reads the pending changes in rounds of at most one batch, through
 * engine->changes_after() and DS_RECORD_STOP, so a run never holds more than one batch of
 * records whatever the number of pending changes (a first sync marks every row of the table).
 * Each round resumes after the last change the previous round read, so it cannot meet again a
 * change the remote refused, and a round that reads nothing ends the phase: the loop ends after
 * at most (pending changes / batch) rounds plus max_retries refetches, and changes the app
 * makes during the upload (which move to the end of the order with a new counter).
 */
struct batch {
	struct run *run;
	struct ds_record *recs;   /* as sent (encoded when there is a transform) */
	char **ids;               /* the engine's id of each record */
	uint64_t *seq;            /* change_seq read for each record */
	size_t n, cap;
	uint64_t after_seq;       /* where the next round starts: after this change */
	char *after_id;           /* NULL: at the beginning */
	int err;                  /* why collect() stopped the enumeration, 0 if it did not */
};

static void batch_clear(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		ds_record_clear(&b->recs[i]);
		ds_free(b->ids[i]);
		b->ids[i] = NULL;
	}
	b->n = 0;
}

static void batch_free(struct batch *b)
{
	batch_clear(b);
	ds_free(b->recs);
	ds_free(b->ids);
	ds_free(b->seq);
	ds_free(b->after_id);
	memset(b, 0, sizeof(*b));
}

/* One pending change as a record to send: its state as the enumeration read it. */
static int outgoing(struct run *run, const struct ds_record *r, struct ds_record *out)
{
	struct ds_record clear = { 0 };
	int rc;

	clear.id = ds_strdup(r->id);
	clear.deleted = r->deleted || !r->payload;
	if (!clear.deleted)
		clear.payload = ds_strdup(r->payload);
	if (!clear.id || (!clear.deleted && !clear.payload)) {
		ds_record_clear(&clear);
		return -ENOMEM;
	}
	clear.change_seq = r->change_seq;
	clear.modified_ms = r->modified_ms;
	clear.ttl_s = r->ttl_s;
	clear.sortindex = r->sortindex;
	if (!run->c->transform) {
		*out = clear;
		return 0;
	}
	rc = run->c->transform->ops->encode(run->c->transform, &clear, out);
	if (rc < 0) {
		ds_record_clear(&clear);
		ds_record_clear(out);
		return run_fail(run, rc, "encoding a record for the remote failed");
	}
	/* A transform builds a new record: the engine's storage hints go with it unless the
	 * transform set its own. */
	if (!out->ttl_s)
		out->ttl_s = clear.ttl_s;
	if (!out->sortindex)
		out->sortindex = clear.sortindex;
	ds_record_clear(&clear);
	return 0;
}

/* ds_record_cb of a round: take the change into the batch; stop when the batch is full. */
static int collect(const struct ds_record *r, void *user_data)
{
	struct batch *b = user_data;
	size_t i = b->n;
	int rc;

	if (!r || !r->id || !*r->id)
		return 0; /* an engine bug, not a reason to stop syncing the rest */
	if (i == b->cap)
		return DS_RECORD_STOP;
	b->ids[i] = ds_strdup(r->id);
	if (!b->ids[i])
		return b->err = -ENOMEM;
	rc = outgoing(b->run, r, &b->recs[i]);
	if (rc < 0) {
		ds_free(b->ids[i]);
		b->ids[i] = NULL;
		return b->err = rc;
	}
	b->seq[i] = r->change_seq;
	b->n++;
	return b->n == b->cap ? DS_RECORD_STOP : 0;
}

/* Read the next round's changes into the batch. */
static int collect_round(struct run *run, struct batch *b)
{
	int rc;

	b->err = 0;
	rc = run->e->ops->changes_after(run->e, b->after_seq, b->after_id, collect, b);
	if (rc < 0) {
		batch_clear(b);
		/* An encoding failure was already explained by outgoing(): the first one stays. */
		return run_fail(run, rc, "listing local changes failed");
	}
	return 0; /* also for an engine that passes DS_RECORD_STOP through */
}

/* The round was sent (taken whole or in part): the next one starts after its last change. */
static void batch_advance(struct batch *b)
{
	ds_free(b->after_id);
	b->after_id = b->ids[b->n - 1];
	b->after_seq = b->seq[b->n - 1];
	b->ids[b->n - 1] = NULL;
	batch_clear(b);
}

static int forget_batch(struct run *run, const struct batch *b)
{
	struct ds_engine *e = run->e;
	int rc = e->ops->begin(e);

	if (rc < 0)
		return run_fail(run, rc, "starting a local transaction failed");
	for (size_t i = 0; rc == 0 && i < b->n; i++)
		rc = e->ops->forget(e, b->ids[i], b->seq[i]);
	if (rc == 0)
		rc = e->ops->commit(e);
	if (rc < 0) {
		e->ops->rollback(e);
		return run_fail(run, rc, "marking uploaded changes done failed");
	}
	return 0;
}

static int upload_rounds(struct run *run, struct batch *b)
{
	unsigned retries = 0;
	int rc;

	for (;;) {
		struct ds_upload_result res;

		rc = collect_round(run, b);
		if (rc < 0)
			return rc;
		if (b->n == 0)
			return 0;
		progress(run, "upload", run->st->uploaded, 0);

		memset(&res, 0, sizeof(res));
		rc = run->r->ops->upload(run->r, run->cursor, b->recs, b->n, &res);
		if (rc == -ESTALE) {
			/* Someone wrote since our fetch: take their changes, re-merge, and read this
			 * round again from the same place (the merge may have settled some of it). */
			batch_clear(b);
			if (retries++ >= run->c->policy.max_retries) {
				snprintf(run->st->message, sizeof(run->st->message),
					 "the remote kept changing during the upload; gave up after %u "
					 "retries, will try again next run", run->c->policy.max_retries);
				return -EAGAIN;
			}
			DS_LOG_INF("%s: remote changed since our fetch; fetching again (retry %u)",
				   run->c->name, retries);
			rc = fetch_all(run);
			if (rc < 0)
				return rc;
			continue;
		}
		if (rc < 0) {
			batch_clear(b);
			return remote_fail(run, rc, "uploading to the remote failed");
		}
		res.new_cursor[DS_CURSOR_MAX - 1] = '\0';
		run->st->uploaded += res.accepted;
		run->st->errors += res.failed;
		if (res.failed == 0 && res.accepted == b->n) {
			rc = forget_batch(run, b);
		} else {
			/* The result does not say which records were refused: keep the whole batch
			 * pending (re-sending accepted ones next run is an idempotent overwrite). The
			 * next round starts after it, so this run does not send it again. The stored
			 * cursor stays before this write (sync15.md AT-10: last-sync not advanced on
			 * failure): the next run fetches the accepted records back, finds them equal
			 * to the rows and forgets their pending changes. */
			DS_LOG_WRN("%s: the remote took %zu of %zu records; the batch stays pending",
				   run->c->name, res.accepted, b->n);
			run->cursor_held = true;
			rc = 0;
		}
		batch_advance(b);
		if (rc == 0)
			rc = save_cursor(run, res.new_cursor);
		if (rc < 0)
			return rc;
		progress(run, "upload", run->st->uploaded, 0);
	}
}

static int upload_all(struct run *run)
{
	size_t max = run->info.max_batch ? run->info.max_batch : DS_SYNC_DEFAULT_BATCH;
	struct batch b = { 0 };
	int rc;

	if (run->c->policy.direction == DS_DIR_IMPORT_ONLY)
		return 0; /* local changes stay pending: see docs/sync.md "directions" */
	b.run = run;
	b.cap = DS_MIN(max, (size_t)DS_SYNC_MAX_BATCH);
	b.recs = ds_calloc(b.cap, sizeof(*b.recs));
	b.ids = ds_calloc(b.cap, sizeof(*b.ids));
	b.seq = ds_calloc(b.cap, sizeof(*b.seq));
	if (!b.recs || !b.ids || !b.seq)
		rc = run_fail(run, -ENOMEM, "preparing the upload failed");
	else
		rc = upload_rounds(run, &b);
	batch_free(&b);
	return rc;
}

/* ---- the run ------------------------------------------------------------------------------ */

static int check_epoch(struct run *run)
{
	const char *stored_epoch = run->saved_epoch;
	bool replaced = stored_epoch[0] && strcmp(stored_epoch, run->info.epoch) != 0;
	/* A remote without epochs that now holds nothing although we synced with it before. */
	bool emptied = run->saved_cursor[0] && !run->info.epoch[0] && !run->info.latest[0];

	if (!replaced && !emptied)
		return 0;
	if (replaced && run->r->ops->epoch_changed &&
	    run->r->ops->epoch_changed(run->r, stored_epoch, run->info.epoch) == DS_EPOCH_RESET) {
		/* The same data set lives elsewhere now: start this collection over there as a
		 * reset would (the first-sync path below marks every local record), keeping the
		 * device's data. */
		DS_LOG_INF("%s: the remote moved; this collection starts over there, local data kept",
			   run->c->name);
		run->cursor[0] = run->saved_cursor[0] = '\0';
		return 0;
	}
	/* Applying "everything is gone" would delete the device's data: refuse and say so. */
	snprintf(run->st->message, sizeof(run->st->message),
		 "remote was wiped or replaced; local data kept; run 'datasyncctl reset %s' to "
		 "upload this device's data again", run->c->name);
	DS_LOG_WRN("%s: %s", run->c->name, run->st->message);
	return -ESTALE;
}

static int run_steps(struct run *run)
{
	enum ds_direction dir = run->c->policy.direction;
	int rc;

	rc = ds_store_cursor_get(run->store, run->c->name, run->saved_cursor,
				 sizeof(run->saved_cursor), run->saved_epoch, sizeof(run->saved_epoch));
	if (rc < 0)
		return run_fail(run, rc, "reading the cursor from the metadata store failed");
	snprintf(run->cursor, sizeof(run->cursor), "%s", run->saved_cursor);

	rc = run->e->ops->prepare(run->e);
	if (rc < 0)
		return run_fail(run, rc, "the local data is not usable");
	rc = run->r->ops->prepare(run->r, &run->info);
	if (rc < 0)
		return remote_fail(run, rc, "preparing the remote failed");
	run->info.epoch[DS_CURSOR_MAX - 1] = '\0';
	run->info.latest[DS_CURSOR_MAX - 1] = '\0';
	rc = check_epoch(run);
	if (rc < 0)
		return rc;

	/* First sync: the device's existing rows join the data set. Against a non-empty remote the
	 * fetch below settles every id both sides have (equal rows are simply forgotten; the engine
	 * gives marked rows change time 0, so newest-wins prefers the remote's copy) and the rows
	 * only this device has are uploaded. Import-only never uploads, so it marks nothing. */
	if (!run->cursor[0] && dir != DS_DIR_IMPORT_ONLY) {
		rc = run->e->ops->mark_all(run->e);
		if (rc < 0)
			return run_fail(run, rc, "marking local records for upload failed");
	}

	if (!run->info.latest[0] || strcmp(run->info.latest, run->cursor) != 0) {
		rc = fetch_all(run);
		if (rc < 0)
			return rc;
	}
	rc = upload_all(run);
	if (rc < 0)
		return rc;
	return save_cursor(run, run->cursor); /* also records a first-seen epoch */
}

int ds_sync_run(struct ds_collection *c, struct ds_store *store, struct ds_run_stats *stats,
		ds_progress_fn progress_fn, void *user_data)
{
	struct ds_run_stats own;
	struct run run;
	int rc;

	if (!stats)
		stats = &own;
	memset(stats, 0, sizeof(*stats));
	stats->started_ms = ds_port_wall_ms();
	if (!c || !c->name || !store || !c->engine || !c->remote) {
		stats->result = -EINVAL;
		return -EINVAL;
	}
	memset(&run, 0, sizeof(run));
	run.c = c;
	run.e = c->engine;
	run.r = c->remote;
	run.store = store;
	run.st = stats;
	run.progress = progress_fn;
	run.user_data = user_data;

	if (run.r->ops->attach_store)
		run.r->ops->attach_store(run.r, store);
	rc = run_steps(&run);
	if (run.r->ops->attach_store)
		run.r->ops->attach_store(run.r, NULL);

	page_clear(&run);
	ds_free(run.page);
	stats->result = rc;
	stats->finished_ms = ds_port_wall_ms();
	if (rc == 0)
		snprintf(stats->message, sizeof(stats->message),
			 "fetched %lu, applied %lu, uploaded %lu, conflicts %lu, errors %lu",
			 stats->fetched, stats->applied, stats->uploaded, stats->conflicts,
			 stats->errors);
	else if (!stats->message[0])
		snprintf(stats->message, sizeof(stats->message), "sync failed: %s", ds_strerror(rc));
	int src = ds_store_run_record(store, c->name, stats);
	if (src < 0)
		DS_LOG_WRN("%s: recording the run failed: %s", c->name, ds_strerror(src));
	if (rc == 0)
		DS_LOG_INF("%s: %s", c->name, stats->message);
	return rc;
}

int ds_sync_reset(struct ds_collection *c, struct ds_store *store)
{
	const char *what;
	int rc;

	if (!c || !c->name || !c->engine || !store)
		return -EINVAL;
	/* Mark first: if clearing the cursor then fails, the run still refuses and the user can
	 * reset again; the other order could leave a cleared cursor with nothing to upload. */
	what = "marking local records for upload";
	rc = c->engine->ops->mark_all(c->engine);
	if (rc >= 0) {
		what = "clearing the cursor";
		rc = ds_store_cursor_set(store, c->name, "", "");
	}
	if (rc < 0) {
		DS_LOG_ERR("%s: reset: %s failed: %s", c->name, what, ds_strerror(rc));
		return rc;
	}
	DS_LOG_INF("%s: reset: the next run uploads this device's data", c->name);
	return 0;
}
