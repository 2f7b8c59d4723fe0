/* In-memory engine with a pending-change log (see fake_engine.h). */
#include "core/ds_core.h"
#include "test/support/fake_engine.h"

#include <cjson/cJSON.h>
#include <string.h>

struct row {
	char *id;
	char *payload;
};

struct change {
	char *id;
	uint64_t seq;
	int64_t modified_ms;
};

struct state {
	struct row *rows;
	size_t nrows;
	struct change *log;
	size_t nlog;
};

struct refusal {
	char *id;
	int err;
};

struct fake_engine {
	struct ds_engine e;
	struct ds_engine_ops ops;
	struct state cur;
	struct state snap;
	bool in_txn;
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

static void state_free(struct state *s)
{
	for (size_t i = 0; i < s->nrows; i++) {
		ds_free(s->rows[i].id);
		ds_free(s->rows[i].payload);
	}
	for (size_t i = 0; i < s->nlog; i++)
		ds_free(s->log[i].id);
	ds_free(s->rows);
	ds_free(s->log);
	memset(s, 0, sizeof(*s));
}

static int state_copy(struct state *dst, const struct state *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->rows = ds_calloc(src->nrows + 1, sizeof(*dst->rows));
	dst->log = ds_calloc(src->nlog + 1, sizeof(*dst->log));
	if (!dst->rows || !dst->log)
		goto fail;
	for (; dst->nrows < src->nrows; dst->nrows++) {
		struct row *d = &dst->rows[dst->nrows];
		d->id = ds_strdup(src->rows[dst->nrows].id);
		d->payload = ds_strdup(src->rows[dst->nrows].payload);
		if (!d->id || !d->payload) {
			dst->nrows++;
			goto fail;
		}
	}
	for (; dst->nlog < src->nlog; dst->nlog++) {
		dst->log[dst->nlog] = src->log[dst->nlog];
		dst->log[dst->nlog].id = ds_strdup(src->log[dst->nlog].id);
		if (!dst->log[dst->nlog].id)
			goto fail;
	}
	return 0;
fail:
	state_free(dst);
	return -ENOMEM;
}

static struct row *find_row(struct state *s, const char *id)
{
	for (size_t i = 0; i < s->nrows; i++)
		if (strcmp(s->rows[i].id, id) == 0)
			return &s->rows[i];
	return NULL;
}

static struct change *find_change(struct state *s, const char *id)
{
	for (size_t i = 0; i < s->nlog; i++)
		if (strcmp(s->log[i].id, id) == 0)
			return &s->log[i];
	return NULL;
}

/* Insert or replace a row; allocation happens before anything changes. */
static int row_set(struct state *s, const char *id, const char *payload)
{
	struct row *r = find_row(s, id);
	char *p = ds_strdup(payload);

	if (!p)
		return -ENOMEM;
	if (r) {
		ds_free(r->payload);
		r->payload = p;
		return 0;
	}
	char *i = ds_strdup(id);
	struct row *v = i ? ds_realloc(s->rows, (s->nrows + 1) * sizeof(*v)) : NULL;
	if (!v) {
		ds_free(i);
		ds_free(p);
		return -ENOMEM;
	}
	s->rows = v;
	s->rows[s->nrows++] = (struct row){ .id = i, .payload = p };
	return 0;
}

static void row_del(struct state *s, const char *id)
{
	struct row *r = find_row(s, id);

	if (!r)
		return;
	ds_free(r->id);
	ds_free(r->payload);
	*r = s->rows[--s->nrows];
}

static int log_change(struct fake_engine *f, const char *id)
{
	struct state *s = &f->cur;
	struct change *c = find_change(s, id);

	if (!c) {
		char *i = ds_strdup(id);
		struct change *v = i ? ds_realloc(s->log, (s->nlog + 1) * sizeof(*v)) : NULL;
		if (!v) {
			ds_free(i);
			return -ENOMEM;
		}
		s->log = v;
		c = &s->log[s->nlog++];
		c->id = i;
	}
	c->seq = ++f->counter;
	c->modified_ms = f->now_ms;
	return 0;
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
	rc = state_copy(&f->snap, &f->cur);
	if (rc == 0)
		f->in_txn = true;
	return rc;
}

static int op_commit(struct ds_engine *e)
{
	struct fake_engine *f = fe(e);
	int rc = injected(f, DS_FAKE_ENGINE_COMMIT);

	if (rc)
		return rc;
	if (!f->in_txn)
		return -EINVAL;
	state_free(&f->snap);
	f->in_txn = false;
	return 0;
}

static int op_rollback(struct ds_engine *e)
{
	struct fake_engine *f = fe(e);

	if (!f->in_txn)
		return 0;
	state_free(&f->cur);
	f->cur = f->snap;
	memset(&f->snap, 0, sizeof(f->snap));
	f->in_txn = false;
	return 0;
}

static int op_changes(struct ds_engine *e, ds_record_cb cb, void *user_data)
{
	struct fake_engine *f = fe(e);
	int rc = injected(f, DS_FAKE_ENGINE_CHANGES);

	for (size_t i = 0; rc == 0 && i < f->cur.nlog; i++) {
		const struct change *c = &f->cur.log[i];
		const struct row *r = find_row(&f->cur, c->id);
		struct ds_record rec = {
			.id = c->id,
			.payload = r ? r->payload : NULL,
			.deleted = r == NULL,
			.modified_ms = c->modified_ms,
			.change_seq = c->seq,
		};
		rc = cb(&rec, user_data);
	}
	return rc;
}

static int op_get(struct ds_engine *e, const char *id, struct ds_record *out)
{
	struct fake_engine *f = fe(e);
	int rc = injected(f, DS_FAKE_ENGINE_GET);
	struct row *r;

	memset(out, 0, sizeof(*out));
	if (rc)
		return rc;
	r = find_row(&f->cur, id);
	if (!r)
		return -ENOENT;
	struct change *c = find_change(&f->cur, id);
	out->id = ds_strdup(id);
	out->payload = ds_strdup(r->payload);
	if (!out->id || !out->payload) {
		ds_record_clear(out);
		return -ENOMEM;
	}
	out->change_seq = c ? c->seq : 0;
	out->modified_ms = c ? c->modified_ms : 0;
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
	if (r->deleted) {
		row_del(&f->cur, r->id);
		return 0;
	}
	if (!r->payload)
		return -EINVAL;
	return row_set(&f->cur, r->id, r->payload);
}

static int op_forget(struct ds_engine *e, const char *id, uint64_t change_seq)
{
	struct fake_engine *f = fe(e);
	int rc = injected(f, DS_FAKE_ENGINE_FORGET);

	if (rc)
		return rc;
	if (!f->in_txn)
		return -EINVAL;
	struct change *c = find_change(&f->cur, id);
	if (c && c->seq <= change_seq) {
		ds_free(c->id);
		*c = f->cur.log[--f->cur.nlog];
	}
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

	/* As ds_sync.h says: pending entries stay; new ones have an unknown age (time 0). */
	for (size_t i = 0; rc == 0 && i < f->cur.nrows; i++) {
		if (find_change(&f->cur, f->cur.rows[i].id))
			continue;
		rc = log_change(f, f->cur.rows[i].id);
		if (rc == 0)
			find_change(&f->cur, f->cur.rows[i].id)->modified_ms = 0;
	}
	return rc;
}

static void op_close(struct ds_engine *e)
{
	struct fake_engine *f = fe(e);

	state_free(&f->cur);
	state_free(&f->snap);
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
	int rc = row_set(&f->cur, id, payload);

	return rc ? rc : log_change(f, id);
}

int ds_fake_engine_del(struct ds_engine *e, const char *id)
{
	struct fake_engine *f = fe(e);

	if (!find_row(&f->cur, id))
		return -ENOENT;
	row_del(&f->cur, id);
	return log_change(f, id);
}

void ds_fake_engine_set_time(struct ds_engine *e, int64_t ms)
{
	fe(e)->now_ms = ms;
}

const char *ds_fake_engine_payload(struct ds_engine *e, const char *id)
{
	struct row *r = find_row(&fe(e)->cur, id);

	return r ? r->payload : NULL;
}

size_t ds_fake_engine_rows(struct ds_engine *e)
{
	return fe(e)->cur.nrows;
}

size_t ds_fake_engine_pending(struct ds_engine *e)
{
	return fe(e)->cur.nlog;
}

bool ds_fake_engine_is_pending(struct ds_engine *e, const char *id)
{
	return find_change(&fe(e)->cur, id) != NULL;
}

unsigned long ds_fake_engine_calls(struct ds_engine *e, enum ds_fake_engine_op op)
{
	return op < DS_FAKE_ENGINE_OP_COUNT ? fe(e)->calls[op] : 0;
}

bool ds_fake_engine_same_rows(struct ds_engine *a, struct ds_engine *b)
{
	struct state *sa = &fe(a)->cur, *sb = &fe(b)->cur;

	if (sa->nrows != sb->nrows)
		return false;
	for (size_t i = 0; i < sa->nrows; i++) {
		struct row *r = find_row(sb, sa->rows[i].id);
		if (!r || strcmp(r->payload, sa->rows[i].payload) != 0)
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
