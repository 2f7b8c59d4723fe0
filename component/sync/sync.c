/*
 * One sync run of a collection: prepare -> fetch pages -> reconcile and apply each page in one
 * local transaction -> upload pending changes in batches under a precondition -> cursors.
 *
 * The two crash-safety rules of ds_sync.h are enforced here by ordering alone:
 *  - a page's cursor is stored only after the local transaction that applied it committed;
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

	/* Pending changes as seen inside the latest page transaction. */
	struct ds_pending idx;
	bool idx_fresh;
	/* The records of the page being fetched (cleartext), applied once it is complete. */
	struct ds_record *page;
	size_t page_n, page_cap;
};

static void progress(struct run *run, const char *phase, unsigned long done, unsigned long total)
{
	if (run->progress)
		run->progress(run->c->name, phase, done, total, run->user_data);
}

/* Keep the first explanation: it names the step that failed. */
static int run_fail(struct run *run, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run_fail(struct run *run, int rc, const char *fmt, ...)
{
	if (!run->st->message[0]) {
		va_list ap;
		size_t n;

		va_start(ap, fmt);
		vsnprintf(run->st->message, sizeof(run->st->message), fmt, ap);
		va_end(ap);
		n = strlen(run->st->message);
		snprintf(run->st->message + n, sizeof(run->st->message) - n, ": %s", ds_strerror(rc));
		DS_LOG_WRN("%s: %s", run->c->name, run->st->message);
	}
	return rc;
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
	if (strcmp(cursor, run->saved_cursor) == 0 && strcmp(run->info.epoch, run->saved_epoch) == 0) {
		snprintf(run->cursor, sizeof(run->cursor), "%s", cursor);
		return 0;
	}
	rc = ds_store_cursor_set(run->store, run->c->name, cursor, run->info.epoch);
	if (rc < 0)
		return run_fail(run, rc, "storing the cursor in the metadata store failed");
	snprintf(run->cursor, sizeof(run->cursor), "%s", cursor);
	snprintf(run->saved_cursor, sizeof(run->saved_cursor), "%s", cursor);
	snprintf(run->saved_epoch, sizeof(run->saved_epoch), "%s", run->info.epoch);
	return 0;
}

/* ---- fetch -------------------------------------------------------------------------------- */

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
		struct ds_record *v = ds_realloc(run->page, cap * sizeof(*v));
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
	return 0;
}

static int forget(struct run *run, struct ds_pending_entry *p)
{
	int rc = run->e->ops->forget(run->e, p->id, p->change_seq);

	if (rc == 0)
		p->done = true;
	return rc;
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

	struct ds_pending_entry *p = ds_pending_find(&run->idx, rec->id);
	ds_reconcile_decide(rec, has_local ? &local : NULL, p, &run->c->policy,
			    e->ops->merge != NULL, &d);
	DS_LOG_DBG("%s: %s -> %s (%s)", run->c->name, rec->id, ds_reconcile_action_name(d.action),
		   d.rule);
	if (d.conflict)
		run->st->conflicts++;

	rc = 0;
	switch (d.action) {
	case DS_RECONCILE_SKIP:
	case DS_RECONCILE_KEEP_LOCAL:
		break;
	case DS_RECONCILE_FORGET:
		rc = forget(run, p);
		break;
	case DS_RECONCILE_APPLY:
		rc = e->ops->apply(e, rec);
		if (rc == 0) {
			run->st->applied++;
			if (p)
				rc = forget(run, p);
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

static int apply_page(struct run *run)
{
	struct ds_engine *e = run->e;
	int rc;

	if (run->page_n == 0)
		return 0;
	rc = e->ops->begin(e);
	if (rc < 0)
		return run_fail(run, rc, "starting a local transaction failed");
	/*
	 * The pending index is read inside the transaction: with an engine whose begin takes the
	 * write lock (BEGIN IMMEDIATE), an app write cannot slip between this check and the apply
	 * and be overwritten unseen (Kinto.js issues #16, #34, #788).
	 */
	rc = ds_pending_load(&run->idx, e);
	if (rc < 0)
		run_fail(run, rc, "listing local changes failed");
	run->idx_fresh = rc == 0;
	for (size_t i = 0; rc == 0 && i < run->page_n; i++) {
		rc = apply_one(run, &run->page[i]);
		progress(run, "apply", i + 1, run->page_n);
	}
	if (rc == 0) {
		rc = e->ops->commit(e);
		if (rc < 0)
			run_fail(run, rc, "committing the local transaction failed");
	}
	if (rc < 0) {
		e->ops->rollback(e);
		run->idx_fresh = false;
	}
	return rc;
}

static int fetch_all(struct run *run)
{
	for (;;) {
		struct ds_fetch_page pg;
		int rc;

		memset(&pg, 0, sizeof(pg));
		rc = run->r->ops->fetch(run->r, run->cursor, stage_record, run, &pg);
		if (rc < 0) {
			/* A page that fails as a whole (e.g. its integrity check) aborts the run: nothing
			 * of it is applied and the cursor stays, so the next run asks again. */
			page_clear(run);
			return run_fail(run, rc, "fetching from the remote failed");
		}
		pg.next_cursor[DS_CURSOR_MAX - 1] = '\0';
		rc = apply_page(run);
		page_clear(run);
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

struct batch {
	struct ds_record *recs;   /* as sent (encoded when there is a transform) */
	size_t *entry;            /* index in the upload list of each record */
	uint64_t *seq;            /* change_seq read for each record */
	size_t n, cap;
};

static void batch_clear(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		ds_record_clear(&b->recs[i]);
	b->n = 0;
}

/* The device's current state of a pending id, as a record to send. */
static int read_outgoing(struct run *run, const struct ds_pending_entry *p, struct ds_record *out)
{
	struct ds_record clear = { 0 };
	int rc = run->e->ops->get(run->e, p->id, &clear);

	if (rc == -ENOENT || (rc == 0 && clear.deleted)) {
		ds_record_clear(&clear);
		clear.deleted = true;
		rc = 0;
	}
	if (rc < 0) {
		ds_record_clear(&clear);
		return run_fail(run, rc, "reading a local record failed");
	}
	if (!clear.id && !(clear.id = ds_strdup(p->id))) {
		ds_record_clear(&clear);
		return -ENOMEM;
	}
	clear.change_seq = p->change_seq;
	clear.modified_ms = p->modified_ms;
	if (!run->c->transform) {
		*out = clear;
		return 0;
	}
	rc = run->c->transform->ops->encode(run->c->transform, &clear, out);
	ds_record_clear(&clear);
	if (rc < 0) {
		ds_record_clear(out);
		return run_fail(run, rc, "encoding a record for the remote failed");
	}
	return 0;
}

static int forget_batch(struct run *run, struct ds_pending *ul, const struct batch *b)
{
	struct ds_engine *e = run->e;
	int rc = e->ops->begin(e);

	if (rc < 0)
		return run_fail(run, rc, "starting a local transaction failed");
	for (size_t i = 0; rc == 0 && i < b->n; i++)
		rc = e->ops->forget(e, ul->v[b->entry[i]].id, b->seq[i]);
	if (rc == 0)
		rc = e->ops->commit(e);
	if (rc < 0) {
		e->ops->rollback(e);
		return run_fail(run, rc, "marking uploaded changes done failed");
	}
	for (size_t i = 0; i < b->n; i++) {
		struct ds_pending_entry *p = &ul->v[b->entry[i]];

		p->done = true;
		if (run->idx_fresh) {
			struct ds_pending_entry *q = ds_pending_find(&run->idx, p->id);
			if (q && q->change_seq <= b->seq[i])
				q->done = true;
		}
	}
	return 0;
}

static int upload_list(struct run *run, struct ds_pending *ul, struct batch *b)
{
	size_t max = run->info.max_batch ? run->info.max_batch : DS_SYNC_DEFAULT_BATCH;
	size_t pos = 0;
	unsigned retries = 0;
	int rc;

	b->recs = ds_calloc(DS_MIN(max, ul->n), sizeof(*b->recs));
	b->entry = ds_calloc(DS_MIN(max, ul->n), sizeof(*b->entry));
	b->seq = ds_calloc(DS_MIN(max, ul->n), sizeof(*b->seq));
	if (!b->recs || !b->entry || !b->seq)
		return run_fail(run, -ENOMEM, "preparing the upload failed");
	b->cap = DS_MIN(max, ul->n);

	while (pos < ul->n) {
		size_t next = pos;

		/* After a refetch the index of the last page transaction is the truth: a change the
		 * merge resolved for the remote side is not pending any more. */
		while (next < ul->n && b->n < b->cap) {
			struct ds_pending_entry *p = &ul->v[next++];

			if (p->done)
				continue;
			if (run->idx_fresh && !(p = ds_pending_find(&run->idx, p->id)))
				continue;
			rc = read_outgoing(run, p, &b->recs[b->n]);
			if (rc < 0)
				return rc;
			b->entry[b->n] = next - 1;
			b->seq[b->n] = p->change_seq;
			b->n++;
		}
		if (b->n == 0) {
			pos = next;
			continue;
		}
		progress(run, "upload", run->st->uploaded, ul->n);

		struct ds_upload_result res;
		memset(&res, 0, sizeof(res));
		rc = run->r->ops->upload(run->r, run->cursor, b->recs, b->n, &res);
		if (rc == -ESTALE) {
			/* Someone wrote since our fetch: take their changes, re-merge, try again. */
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
			return run_fail(run, rc, "uploading to the remote failed");
		}
		res.new_cursor[DS_CURSOR_MAX - 1] = '\0';
		run->st->uploaded += res.accepted;
		run->st->errors += res.failed;
		if (res.failed == 0 && res.accepted == b->n) {
			rc = forget_batch(run, ul, b);
		} else {
			/* The result does not say which records were refused: keep the whole batch
			 * pending. Re-sending accepted ones next run is an idempotent overwrite. */
			DS_LOG_WRN("%s: the remote took %zu of %zu records; the batch stays pending",
				   run->c->name, res.accepted, b->n);
			for (size_t i = 0; i < b->n; i++)
				ul->v[b->entry[i]].done = true; /* not again in this run */
			rc = 0;
		}
		batch_clear(b);
		if (rc == 0)
			rc = save_cursor(run, res.new_cursor);
		if (rc < 0)
			return rc;
		pos = next;
		progress(run, "upload", run->st->uploaded, ul->n);
	}
	return 0;
}

static int upload_all(struct run *run)
{
	struct ds_pending ul = { 0 };
	struct batch b = { 0 };
	int rc;

	if (run->c->policy.direction == DS_DIR_IMPORT_ONLY)
		return 0; /* local changes stay pending: see docs/sync.md "directions" */
	rc = ds_pending_load(&ul, run->e);
	if (rc < 0)
		return run_fail(run, rc, "listing local changes failed");
	/* The list now is fresher than any page transaction's. */
	run->idx_fresh = false;
	if (ul.n)
		rc = upload_list(run, &ul, &b);
	batch_clear(&b);
	ds_free(b.recs);
	ds_free(b.entry);
	ds_free(b.seq);
	ds_pending_free(&ul);
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
		return run_fail(run, rc, "preparing the remote failed");
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

	rc = run_steps(&run);

	page_clear(&run);
	ds_free(run.page);
	ds_pending_free(&run.idx);
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
	int rc;

	if (!c || !c->name || !c->engine || !store)
		return -EINVAL;
	/* Mark first: if clearing the cursor then fails, the run still refuses and the user can
	 * reset again; the other order could leave a cleared cursor with nothing to upload. */
	rc = c->engine->ops->mark_all(c->engine);
	if (rc < 0) {
		DS_LOG_ERR("%s: reset: marking local records for upload failed: %s", c->name,
			   ds_strerror(rc));
		return rc;
	}
	rc = ds_store_cursor_set(store, c->name, "", "");
	if (rc < 0) {
		DS_LOG_ERR("%s: reset: clearing the cursor failed: %s", c->name, ds_strerror(rc));
		return rc;
	}
	DS_LOG_INF("%s: reset: the next run uploads this device's data", c->name);
	return 0;
}
