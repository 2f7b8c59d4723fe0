/* In-memory engine with a pending-change log (see fake_engine.h). */
#include "core/ds_core.h"
#include "test/support/fake_engine.h"

#include <cjson/cJSON.h>
#include <string.h>

/*
 * Rows and pending changes live in one item per id, found through a hash table, so every op
 * costs O(1) and tests can hold tens of thousands of pending changes. A transaction keeps a
 * before-image of each item it changes (undo log) instead of copying the whole state, so the
 * engine allocates in proportion to what a transaction touches, as a database would.
 */
struct item {
	char *id;
	char *payload;     /* NULL: no row */
	uint64_t seq;      /* counter of the pending change, 0: none */
	int64_t ms;        /* time of the pending change */
	unsigned long txn; /* the transaction that saved its before-image */
};

/* The change log in counter order, append-only: an entry is stale once its item moved on. */
struct logent {
	uint64_t seq;
	struct item *it;
};

struct undo {
	struct item *it;
	char *payload;
	uint64_t seq;
	int64_t ms;
};

struct refusal {
	char *id;
	int err;
};

struct fake_engine {
	struct ds_engine e;
	struct ds_engine_ops ops;
	struct item **slot;  /* open addressing by id; items are never removed */
	size_t nslot;
	struct item **all;   /* every item in creation order (iteration order) */
	size_t nall;
	struct logent *log;
	size_t nlog, caplog;
	size_t nrows, npending;
	unsigned walking;    /* enumerations in progress: the log is not compacted under them */

	bool in_txn;
	unsigned long txn;
	struct undo *undo;
	size_t nundo, capundo;
	size_t txn_nlog, txn_nrows, txn_npending;
	uint64_t txn_counter;

	uint64_t counter;
	int64_t now_ms;
	unsigned long calls[DS_FAKE_ENGINE_OP_COUNT];
	unsigned long fail_at[DS_FAKE_ENGINE_OP_COUNT];
	int fail_err[DS_FAKE_ENGINE_OP_COUNT];
	struct refusal *refused;
	size_t nrefused;
};

static struct fake_engine *fe(struct ds_engine *e)
{
	return DS_CONTAINER_OF(e, struct fake_engine, e);
}

/* Count the call; the armed one fails once. */
static int injected(struct fake_engine *f, enum ds_fake_engine_op op)
{
	f->calls[op]++;
	if (f->fail_at[op] && f->calls[op] == f->fail_at[op]) {
		f->fail_at[op] = 0;
		return f->fail_err[op];
	}
	return 0;
}

/* ---- items ---------------------------------------------------------------------------------- */

static size_t hash(const char *s)
{
	size_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static struct item **slot_of(struct item **slot, size_t nslot, const char *id)
{
	size_t i = hash(id) & (nslot - 1);

	while (slot[i] && strcmp(slot[i]->id, id) != 0)
		i = (i + 1) & (nslot - 1);
	return &slot[i];
}

static struct item *find(struct fake_engine *f, const char *id)
{
	return f->nslot ? *slot_of(f->slot, f->nslot, id) : NULL;
}

/* The item of id, created (without row or pending change) when missing. */
static int item_get(struct fake_engine *f, const char *id, struct item **out)
{
	struct item *it = find(f, id);

	if (it) {
		*out = it;
		return 0;
	}
	if ((f->nall + 1) * 2 > f->nslot) {
		size_t n = f->nslot ? f->nslot * 2 : 64;
		struct item **s = ds_calloc(n, sizeof(*s));

		if (!s)
			return -ENOMEM;
		for (size_t i = 0; i < f->nall; i++)
			*slot_of(s, n, f->all[i]->id) = f->all[i];
		ds_free(f->slot);
		f->slot = s;
		f->nslot = n;
	}
	struct item **all = ds_realloc(f->all, (f->nall + 1) * sizeof(*all));
	if (!all)
		return -ENOMEM;
	f->all = all;
	it = ds_calloc(1, sizeof(*it));
	if (it)
		it->id = ds_strdup(id);
	if (!it || !it->id) {
		ds_free(it);
		return -ENOMEM;
	}
	f->all[f->nall++] = it;
	*slot_of(f->slot, f->nslot, id) = it;
	*out = it;
	return 0;
}

/* Before the first change of it in a transaction, keep what a rollback restores. */
static int save(struct fake_engine *f, struct item *it)
{
	struct undo *u;

	if (!f->in_txn || it->txn == f->txn)
		return 0;
	if (f->nundo == f->capundo) {
		size_t cap = f->capundo ? f->capundo * 2 : 16;
		struct undo *v = ds_realloc(f->undo, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		f->undo = v;
		f->capundo = cap;
	}
	u = &f->undo[f->nundo];
	*u = (struct undo){ .it = it, .seq = it->seq, .ms = it->ms };
	if (it->payload && !(u->payload = ds_strdup(it->payload)))
		return -ENOMEM;
	f->nundo++;
	it->txn = f->txn;
	return 0;
}

static void undo_drop(struct fake_engine *f)
{
	for (size_t i = 0; i < f->nundo; i++)
		ds_free(f->undo[i].payload);
	f->nundo = 0;
}

/* Insert or replace a row; allocation happens before anything changes. */
static int row_set(struct fake_engine *f, const char *id, const char *payload)
{
	struct item *it;
	char *p = ds_strdup(payload);
	int rc = p ? item_get(f, id, &it) : -ENOMEM;

	if (rc == 0)
		rc = save(f, it);
	if (rc < 0) {
		ds_free(p);
		return rc;
	}
	if (!it->payload)
		f->nrows++;
	ds_free(it->payload);
	it->payload = p;
	return 0;
}

static int row_del(struct fake_engine *f, const char *id)
{
	struct item *it = find(f, id);
	int rc;

	if (!it || !it->payload)
		return 0;
	rc = save(f, it);
	if (rc < 0)
		return rc;
	ds_free(it->payload);
	it->payload = NULL;
	f->nrows--;
	return 0;
}

/* Drop stale log entries (outside transactions and enumerations, when they dominate). */
static void log_compact(struct fake_engine *f)
{
	size_t w = 0;

	if (f->in_txn || f->walking || f->nlog < 64 || f->nlog < 2 * f->npending)
		return;
	for (size_t i = 0; i < f->nlog; i++)
		if (f->log[i].it->seq == f->log[i].seq)
			f->log[w++] = f->log[i];
	f->nlog = w;
}

static int log_change(struct fake_engine *f, const char *id, int64_t ms)
{
	struct item *it;
	int rc;

	log_compact(f);
	if (f->nlog == f->caplog) {
		size_t cap = f->caplog ? f->caplog * 2 : 64;
		struct logent *v = ds_realloc(f->log, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		f->log = v;
		f->caplog = cap;
	}
	rc = item_get(f, id, &it);
	if (rc == 0)
		rc = save(f, it);
	if (rc < 0)
		return rc;
	if (!it->seq)
		f->npending++;
	it->seq = ++f->counter;
	it->ms = ms;
	f->log[f->nlog++] = (struct logent){ .seq = it->seq, .it = it };
	return 0;
}

static void record_of(const struct item *it, struct ds_record *r)
{
	*r = (struct ds_record){
		.id = it->id,
		.payload = it->payload,
		.deleted = it->payload == NULL,
		.modified_ms = it->ms,
		.change_seq = it->seq,
	};
}

/* ---- ops ---------------------------------------------------------------------------------- */

static int op_prepare(struct ds_engine *e)
{
	return injected(fe(e), DS_FAKE_ENGINE_PREPARE);
}

static int op_begin(struct ds_engine *e)
{
	struct fake_engine *f = fe(e);
	int rc = injected(f, DS_FAKE_ENGINE_BEGIN);

	if (rc)
		return rc;
	if (f->in_txn)
		return -EBUSY;
	f->in_txn = true;
	f->txn++;
	f->txn_nlog = f->nlog;
	f->txn_nrows = f->nrows;
	f->txn_npending = f->npending;
	f->txn_counter = f->counter;
	return 0;
}

static int op_commit(struct ds_engine *e)
{
	struct fake_engine *f = fe(e);
	int rc = injected(f, DS_FAKE_ENGINE_COMMIT);

	if (rc)
		return rc;
	if (!f->in_txn)
		return -EINVAL;
	undo_drop(f);
	f->in_txn = false;
	return 0;
}

static int op_rollback(struct ds_engine *e)
{
	struct fake_engine *f = fe(e);

	if (!f->in_txn)
		return 0;
	for (size_t i = f->nundo; i-- > 0;) {
		struct undo *u = &f->undo[i];

		ds_free(u->it->payload);
		u->it->payload = u->payload;
		u->it->seq = u->seq;
		u->it->ms = u->ms;
		u->payload = NULL;
	}
	f->nundo = 0;
	f->nlog = f->txn_nlog;
	f->nrows = f->txn_nrows;
	f->npending = f->txn_npending;
	f->counter = f->txn_counter;
	f->in_txn = false;
	return 0;
}

/* Counters are unique and grow, so "after (seq, id)" is "after seq" here. */
static int op_changes_after(struct ds_engine *e, uint64_t after_seq, const char *after_id,
			    ds_record_cb cb, void *user_data)
{
	struct fake_engine *f = fe(e);
	int rc = injected(f, DS_FAKE_ENGINE_CHANGES);
	size_t lo = 0, hi = f->nlog;

	if (!after_id)
		after_seq = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->log[mid].seq <= after_seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	f->walking++;
	/* By index: the callback may log changes, which can move the array. */
	for (size_t i = lo; rc == 0 && i < f->nlog; i++) {
		struct ds_record rec;

		if (f->log[i].it->seq != f->log[i].seq)
			continue;
		record_of(f->log[i].it, &rec);
		rc = cb(&rec, user_data);
	}
	f->walking--;
	return rc == DS_RECORD_STOP ? 0 : rc;
}

static int op_changes(struct ds_engine *e, ds_record_cb cb, void *user_data)
{
	return op_changes_after(e, 0, NULL, cb, user_data);
}

static int op_pending(struct ds_engine *e, const char *id, struct ds_pending_info *out)
{
	struct fake_engine *f = fe(e);
	int rc = injected(f, DS_FAKE_ENGINE_PENDING);
	struct item *it;

	memset(out, 0, sizeof(*out));
	if (rc)
		return rc;
	if (!f->in_txn)
		return -EINVAL; /* the core looks up inside the page transaction (ds_sync.h) */
	it = find(f, id);
	if (!it || !it->seq)
		return -ENOENT;
	out->change_seq = it->seq;
	out->modified_ms = it->ms;
	out->deleted = it->payload == NULL;
	return 0;
}

static int op_get(struct ds_engine *e, const char *id, struct ds_record *out)
{
	struct fake_engine *f = fe(e);
	int rc = injected(f, DS_FAKE_ENGINE_GET);
	struct item *it;

	memset(out, 0, sizeof(*out));
	if (rc)
		return rc;
	it = find(f, id);
	if (!it || !it->payload)
		return -ENOENT;
	out->id = ds_strdup(id);
	out->payload = ds_strdup(it->payload);
	if (!out->id || !out->payload) {
		ds_record_clear(out);
		return -ENOMEM;
	}
	out->change_seq = it->seq;
	out->modified_ms = it->seq ? it->ms : 0;
	return 0;
}

static int op_apply(struct ds_engine *e, const struct ds_record *r)
{
	struct fake_engine *f = fe(e);
	int rc = injected(f, DS_FAKE_ENGINE_APPLY);

	if (rc)
		return rc;
	if (!f->in_txn)
		return -EINVAL; /* the contract: apply only inside begin/commit */
	for (size_t i = 0; i < f->nrefused; i++)
		if (strcmp(f->refused[i].id, r->id) == 0)
			return f->refused[i].err;
	if (r->deleted)
		return row_del(f, r->id);
	if (!r->payload)
		return -EINVAL;
	return row_set(f, r->id, r->payload);
}

static int op_forget(struct ds_engine *e, const char *id, uint64_t change_seq)
{
	struct fake_engine *f = fe(e);
	int rc = injected(f, DS_FAKE_ENGINE_FORGET);
	struct item *it;

	if (rc)
		return rc;
	if (!f->in_txn)
		return -EINVAL;
	it = find(f, id);
	if (!it || !it->seq || it->seq > change_seq)
		return 0;
	rc = save(f, it);
	if (rc < 0)
		return rc;
	it->seq = 0;
	f->npending--;
	return 0;
}

/* Per-field merge of two JSON objects: every field of both, the local value where both have
 * one. Deterministic, so two devices merging the same pair agree. */
static int op_merge(struct ds_engine *e, const struct ds_record *local,
		    const struct ds_record *remote, struct ds_record *out)
{
	struct fake_engine *f = fe(e);
	int rc = injected(f, DS_FAKE_ENGINE_MERGE);

	memset(out, 0, sizeof(*out));
	if (rc)
		return rc;
	if (!local->payload || !remote->payload)
		return -EINVAL;
	cJSON *m = cJSON_Parse(remote->payload);
	cJSON *l = cJSON_Parse(local->payload);
	char *text = NULL;
	rc = -EINVAL;
	if (cJSON_IsObject(m) && cJSON_IsObject(l)) {
		rc = 0;
		for (cJSON *it = l->child; it && rc == 0; it = it->next) {
			cJSON *dup = cJSON_Duplicate(it, 1);
			if (!dup) {
				rc = -ENOMEM;
				break;
			}
			if (cJSON_GetObjectItemCaseSensitive(m, it->string))
				cJSON_ReplaceItemInObjectCaseSensitive(m, it->string, dup);
			else
				cJSON_AddItemToObject(m, it->string, dup);
		}
		text = rc == 0 ? cJSON_PrintUnformatted(m) : NULL;
		if (rc == 0 && !text)
			rc = -ENOMEM;
	}
	cJSON_Delete(m);
	cJSON_Delete(l);
	if (rc == 0) {
		out->id = ds_strdup(remote->id);
		out->payload = ds_strdup(text);
		if (!out->id || !out->payload) {
			ds_record_clear(out);
			rc = -ENOMEM;
		}
	}
	cJSON_free(text);
	return rc;
}

static int op_mark_all(struct ds_engine *e)
{
	struct fake_engine *f = fe(e);
	int rc = injected(f, DS_FAKE_ENGINE_MARK_ALL);

	/* As ds_sync.h says: pending entries stay; new ones have an unknown age (time 0). Rows
	 * are marked in the order they were created, so runs are reproducible. */
	for (size_t i = 0; rc == 0 && i < f->nall; i++) {
		struct item *it = f->all[i];

		if (it->payload && !it->seq)
			rc = log_change(f, it->id, 0);
	}
	return rc;
}

static void op_close(struct ds_engine *e)
{
	struct fake_engine *f = fe(e);

	undo_drop(f);
	for (size_t i = 0; i < f->nall; i++) {
		ds_free(f->all[i]->id);
		ds_free(f->all[i]->payload);
		ds_free(f->all[i]);
	}
	ds_free(f->all);
	ds_free(f->slot);
	ds_free(f->log);
	ds_free(f->undo);
	for (size_t i = 0; i < f->nrefused; i++)
		ds_free(f->refused[i].id);
	ds_free(f->refused);
	ds_free(f);
}

static const struct ds_engine_ops fake_ops = {
	.kind = "fake",
	.prepare = op_prepare,
	.begin = op_begin,
	.commit = op_commit,
	.rollback = op_rollback,
	.changes = op_changes,
	.changes_after = op_changes_after,
	.pending = op_pending,
	.get = op_get,
	.apply = op_apply,
	.forget = op_forget,
	.merge = op_merge,
	.mark_all = op_mark_all,
	.close = op_close,
};

int ds_fake_engine_new(bool with_merge, struct ds_engine **out)
{
	struct fake_engine *f = ds_calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->ops = fake_ops;
	if (!with_merge)
		f->ops.merge = NULL;
	f->e.ops = &f->ops;
	f->e.priv = f;
	f->now_ms = 1000;
	*out = &f->e;
	return 0;
}

/* ---- test API ------------------------------------------------------------------------------ */

int ds_fake_engine_put(struct ds_engine *e, const char *id, const char *payload)
{
	struct fake_engine *f = fe(e);
	int rc = row_set(f, id, payload);

	return rc ? rc : log_change(f, id, f->now_ms);
}

int ds_fake_engine_del(struct ds_engine *e, const char *id)
{
	struct fake_engine *f = fe(e);
	struct item *it = find(f, id);
	int rc;

	if (!it || !it->payload)
		return -ENOENT;
	rc = row_del(f, id);
	return rc ? rc : log_change(f, id, f->now_ms);
}

void ds_fake_engine_set_time(struct ds_engine *e, int64_t ms)
{
	fe(e)->now_ms = ms;
}

const char *ds_fake_engine_payload(struct ds_engine *e, const char *id)
{
	struct item *it = find(fe(e), id);

	return it ? it->payload : NULL;
}

size_t ds_fake_engine_rows(struct ds_engine *e)
{
	return fe(e)->nrows;
}

size_t ds_fake_engine_pending(struct ds_engine *e)
{
	return fe(e)->npending;
}

bool ds_fake_engine_is_pending(struct ds_engine *e, const char *id)
{
	struct item *it = find(fe(e), id);

	return it && it->seq;
}

unsigned long ds_fake_engine_calls(struct ds_engine *e, enum ds_fake_engine_op op)
{
	return op < DS_FAKE_ENGINE_OP_COUNT ? fe(e)->calls[op] : 0;
}

bool ds_fake_engine_same_rows(struct ds_engine *a, struct ds_engine *b)
{
	struct fake_engine *fa = fe(a), *fb = fe(b);

	if (fa->nrows != fb->nrows)
		return false;
	for (size_t i = 0; i < fa->nall; i++) {
		const char *pa = fa->all[i]->payload;
		struct item *it;

		if (!pa)
			continue;
		it = find(fb, fa->all[i]->id);
		if (!it || !it->payload || strcmp(it->payload, pa) != 0)
			return false;
	}
	return true;
}

void ds_fake_engine_fail(struct ds_engine *e, enum ds_fake_engine_op op, unsigned long nth, int err)
{
	struct fake_engine *f = fe(e);

	if (op >= DS_FAKE_ENGINE_OP_COUNT)
		return;
	f->fail_at[op] = nth ? f->calls[op] + nth : 0;
	f->fail_err[op] = err;
}

int ds_fake_engine_refuse(struct ds_engine *e, const char *id, int err)
{
	struct fake_engine *f = fe(e);
	struct refusal *v = ds_realloc(f->refused, (f->nrefused + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	f->refused = v;
	v[f->nrefused].id = ds_strdup(id);
	if (!v[f->nrefused].id)
		return -ENOMEM;
	v[f->nrefused++].err = err;
	return 0;
}
