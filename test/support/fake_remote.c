/* In-memory remote, "enc:" transform and collection builder (see fake_remote.h). */
#include "core/ds_core.h"
#include "test/support/fake_remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct version {
	char *id;
	char *payload; /* NULL: tombstone */
	int64_t modified_ms;
};

struct ds_fake_server {
	struct version *log;
	size_t n, cap;
	char epoch[DS_CURSOR_MAX];
	unsigned epoch_no;
	int64_t now_ms;
	size_t page_size;
	size_t max_batch;
	char **corrupt;
	size_t ncorrupt;
};

struct fake_remote {
	struct ds_remote r;
	struct ds_fake_server *s;
	unsigned long calls[DS_FAKE_REMOTE_OP_COUNT];
	unsigned long fail_at[DS_FAKE_REMOTE_OP_COUNT];
	int fail_err[DS_FAKE_REMOTE_OP_COUNT];
	unsigned long fail_after_at;
	int fail_after_err;
	char **refused;
	size_t nrefused;
	ds_fake_upload_hook hook;
	void *hook_data;
};

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ds_free(v[i]);
	ds_free(v);
}

static int strv_add(char ***v, size_t *n, const char *s)
{
	char **nv = ds_realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	if (!(nv[*n] = ds_strdup(s)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

static bool strv_has(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* ---- server ------------------------------------------------------------------------------- */

struct ds_fake_server *ds_fake_server_new(void)
{
	struct ds_fake_server *s = ds_calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->epoch_no = 1;
	snprintf(s->epoch, sizeof(s->epoch), "epoch-%u", s->epoch_no);
	s->now_ms = 1000;
	s->page_size = 100;
	return s;
}

static void log_clear(struct ds_fake_server *s)
{
	for (size_t i = 0; i < s->n; i++) {
		ds_free(s->log[i].id);
		ds_free(s->log[i].payload);
	}
	s->n = 0;
}

void ds_fake_server_free(struct ds_fake_server *s)
{
	if (!s)
		return;
	log_clear(s);
	ds_free(s->log);
	free_strv(s->corrupt, s->ncorrupt);
	ds_free(s);
}

static int reserve(struct ds_fake_server *s, size_t more)
{
	if (s->n + more <= s->cap)
		return 0;
	size_t cap = DS_MAX(s->cap * 2, s->n + more + 8);
	struct version *v = ds_realloc(s->log, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->log = v;
	s->cap = cap;
	return 0;
}

/* Build a version without touching the log (so a failed upload writes nothing). */
static int version_make(struct version *v, const char *id, const char *payload, int64_t ms)
{
	v->id = ds_strdup(id);
	v->payload = payload ? ds_strdup(payload) : NULL;
	v->modified_ms = ms;
	if (!v->id || (payload && !v->payload)) {
		ds_free(v->id);
		ds_free(v->payload);
		return -ENOMEM;
	}
	return 0;
}

static int server_write(struct ds_fake_server *s, const char *id, const char *payload)
{
	struct version v;
	int rc = reserve(s, 1);

	if (!rc)
		rc = version_make(&v, id, payload, s->now_ms++);
	if (!rc)
		s->log[s->n++] = v;
	return rc;
}

int ds_fake_server_put(struct ds_fake_server *s, const char *id, const char *payload)
{
	return payload ? server_write(s, id, payload) : -EINVAL;
}

int ds_fake_server_del(struct ds_fake_server *s, const char *id)
{
	return server_write(s, id, NULL);
}

void ds_fake_server_set_time(struct ds_fake_server *s, int64_t ms)
{
	s->now_ms = ms;
}

static const struct version *newest(const struct ds_fake_server *s, const char *id)
{
	for (size_t i = s->n; i-- > 0;)
		if (strcmp(s->log[i].id, id) == 0)
			return &s->log[i];
	return NULL;
}

static bool is_newest(const struct ds_fake_server *s, size_t i)
{
	return newest(s, s->log[i].id) == &s->log[i];
}

const char *ds_fake_server_payload(struct ds_fake_server *s, const char *id)
{
	const struct version *v = newest(s, id);

	return v ? v->payload : NULL;
}

size_t ds_fake_server_count(struct ds_fake_server *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		if (s->log[i].payload && is_newest(s, i))
			n++;
	return n;
}

size_t ds_fake_server_log_len(struct ds_fake_server *s)
{
	return s->n;
}

size_t ds_fake_server_versions(struct ds_fake_server *s, const char *id)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->log[i].id, id) == 0)
			n++;
	return n;
}

void ds_fake_server_wipe(struct ds_fake_server *s, bool new_epoch)
{
	log_clear(s);
	if (new_epoch && s->epoch[0])
		snprintf(s->epoch, sizeof(s->epoch), "epoch-%u", ++s->epoch_no);
}

void ds_fake_server_set_epoch(struct ds_fake_server *s, const char *epoch)
{
	snprintf(s->epoch, sizeof(s->epoch), "%s", epoch);
}

void ds_fake_server_set_page_size(struct ds_fake_server *s, size_t n)
{
	s->page_size = n ? n : 1;
}

void ds_fake_server_set_max_batch(struct ds_fake_server *s, size_t n)
{
	s->max_batch = n;
}

int ds_fake_server_corrupt(struct ds_fake_server *s, const char *id)
{
	return strv_add(&s->corrupt, &s->ncorrupt, id);
}

static void position(size_t pos, char out[DS_CURSOR_MAX])
{
	if (pos == 0)
		out[0] = '\0';
	else
		snprintf(out, DS_CURSOR_MAX, "%zu", pos);
}

/* ---- remote ops ---------------------------------------------------------------------------- */

static struct fake_remote *fr(struct ds_remote *r)
{
	return DS_CONTAINER_OF(r, struct fake_remote, r);
}

static int injected(struct fake_remote *f, enum ds_fake_remote_op op)
{
	f->calls[op]++;
	if (f->fail_at[op] && f->calls[op] == f->fail_at[op]) {
		f->fail_at[op] = 0;
		return f->fail_err[op];
	}
	return 0;
}

static int parse_cursor(const struct ds_fake_server *s, const char *cursor, size_t *pos)
{
	char *end;
	unsigned long v;

	if (!cursor || !*cursor) {
		*pos = 0;
		return 0;
	}
	v = strtoul(cursor, &end, 10);
	if (*end || v > s->n)
		return -EPROTO; /* not one of ours, or from before a wipe */
	*pos = v;
	return 0;
}

static int op_prepare(struct ds_remote *r, struct ds_remote_info *info)
{
	struct fake_remote *f = fr(r);
	int rc = injected(f, DS_FAKE_REMOTE_PREPARE);

	memset(info, 0, sizeof(*info));
	if (rc)
		return rc;
	snprintf(info->epoch, sizeof(info->epoch), "%s", f->s->epoch);
	position(f->s->n, info->latest);
	info->max_batch = f->s->max_batch;
	return 0;
}

static int op_fetch(struct ds_remote *r, const char *cursor, ds_record_cb cb, void *user_data,
		    struct ds_fetch_page *page)
{
	struct fake_remote *f = fr(r);
	struct ds_fake_server *s = f->s;
	size_t pos, end, taken = 0;
	int rc = injected(f, DS_FAKE_REMOTE_FETCH);

	memset(page, 0, sizeof(*page));
	if (rc)
		return rc;
	rc = parse_cursor(s, cursor, &pos);
	if (rc)
		return rc;
	/* The page: entries after pos that are newest versions, at most page_size of them. */
	for (end = pos; end < s->n && taken < s->page_size; end++)
		if (is_newest(s, end))
			taken++;
	for (size_t i = pos; i < end; i++)
		if (is_newest(s, i) && strv_has(s->corrupt, s->ncorrupt, s->log[i].id))
			return -EBADMSG;
	for (size_t i = pos; i < end && rc == 0; i++) {
		const struct version *v = &s->log[i];
		if (!is_newest(s, i))
			continue;
		struct ds_record rec = {
			.id = v->id,
			.payload = v->payload,
			.deleted = v->payload == NULL,
			.modified_ms = v->modified_ms,
		};
		rc = cb(&rec, user_data);
	}
	if (rc)
		return rc;
	position(end, page->next_cursor);
	page->more = end < s->n;
	return 0;
}

static int op_upload(struct ds_remote *r, const char *cursor, const struct ds_record *recs, size_t n,
		     struct ds_upload_result *res)
{
	struct fake_remote *f = fr(r);
	struct ds_fake_server *s = f->s;
	char latest[DS_CURSOR_MAX];
	struct version *nv;
	size_t k = 0;
	int rc;

	memset(res, 0, sizeof(*res));
	if (f->hook)
		f->hook(r, f->hook_data);
	rc = injected(f, DS_FAKE_REMOTE_UPLOAD);
	if (rc)
		return rc;
	if (s->max_batch && n > s->max_batch)
		return -E2BIG;
	position(s->n, latest);
	if (strcmp(cursor ? cursor : "", latest) != 0)
		return -ESTALE;
	nv = ds_calloc(n + 1, sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (strv_has(f->refused, f->nrefused, recs[i].id)) {
			res->failed++;
			continue;
		}
		if (!recs[i].deleted && !recs[i].payload)
			rc = -EINVAL;
		else
			rc = version_make(&nv[k], recs[i].id, recs[i].deleted ? NULL : recs[i].payload,
					  s->now_ms);
		if (rc == 0)
			k++;
	}
	if (rc == 0)
		rc = reserve(s, k);
	if (rc) {
		for (size_t i = 0; i < k; i++) {
			ds_free(nv[i].id);
			ds_free(nv[i].payload);
		}
		ds_free(nv);
		memset(res, 0, sizeof(*res));
		return rc;
	}
	if (k)
		memcpy(&s->log[s->n], nv, k * sizeof(*nv));
	s->n += k;
	ds_free(nv);
	res->accepted = k;
	res->modified_ms = s->now_ms++;
	position(s->n, res->new_cursor);
	if (f->fail_after_at && f->calls[DS_FAKE_REMOTE_UPLOAD] == f->fail_after_at) {
		f->fail_after_at = 0;
		memset(res, 0, sizeof(*res));
		return f->fail_after_err;
	}
	return 0;
}

static int64_t op_backoff(struct ds_remote *r)
{
	DS_UNUSED(r);
	return 0;
}

static void op_close(struct ds_remote *r)
{
	struct fake_remote *f = fr(r);

	free_strv(f->refused, f->nrefused);
	ds_free(f);
}

static const struct ds_remote_ops fake_remote_ops = {
	.kind = "fake",
	.prepare = op_prepare,
	.fetch = op_fetch,
	.upload = op_upload,
	.backoff_s = op_backoff,
	.close = op_close,
};

int ds_fake_remote_new(struct ds_fake_server *s, struct ds_remote **out)
{
	struct fake_remote *f = ds_calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->s = s;
	f->r.ops = &fake_remote_ops;
	f->r.priv = f;
	*out = &f->r;
	return 0;
}

void ds_fake_remote_fail(struct ds_remote *r, enum ds_fake_remote_op op, unsigned long nth, int err)
{
	struct fake_remote *f = fr(r);

	if (op >= DS_FAKE_REMOTE_OP_COUNT)
		return;
	f->fail_at[op] = nth ? f->calls[op] + nth : 0;
	f->fail_err[op] = err;
}

void ds_fake_remote_fail_after_upload(struct ds_remote *r, unsigned long nth, int err)
{
	struct fake_remote *f = fr(r);

	f->fail_after_at = nth ? f->calls[DS_FAKE_REMOTE_UPLOAD] + nth : 0;
	f->fail_after_err = err;
}

int ds_fake_remote_refuse(struct ds_remote *r, const char *id)
{
	struct fake_remote *f = fr(r);

	return strv_add(&f->refused, &f->nrefused, id);
}

void ds_fake_remote_before_upload(struct ds_remote *r, ds_fake_upload_hook fn, void *user_data)
{
	fr(r)->hook = fn;
	fr(r)->hook_data = user_data;
}

unsigned long ds_fake_remote_calls(struct ds_remote *r, enum ds_fake_remote_op op)
{
	return op < DS_FAKE_REMOTE_OP_COUNT ? fr(r)->calls[op] : 0;
}

/* ---- transform ----------------------------------------------------------------------------- */

#define ENC_PREFIX "enc:"

static int tr_copy(const struct ds_record *in, struct ds_record *out, const char *payload)
{
	*out = *in;
	out->id = ds_strdup(in->id);
	out->payload = payload ? ds_strdup(payload) : NULL;
	if (!out->id || (payload && !out->payload)) {
		ds_record_clear(out);
		return -ENOMEM;
	}
	return 0;
}

static int tr_encode(struct ds_transform *t, const struct ds_record *in, struct ds_record *out)
{
	DS_UNUSED(t);
	memset(out, 0, sizeof(*out));
	if (in->deleted || !in->payload)
		return tr_copy(in, out, NULL);
	char *p = ds_asprintf(ENC_PREFIX "%s", in->payload);
	if (!p)
		return -ENOMEM;
	int rc = tr_copy(in, out, p);
	ds_free(p);
	return rc;
}

static int tr_decode(struct ds_transform *t, const struct ds_record *in, struct ds_record *out)
{
	DS_UNUSED(t);
	memset(out, 0, sizeof(*out));
	if (in->deleted || !in->payload)
		return tr_copy(in, out, NULL);
	if (strncmp(in->payload, ENC_PREFIX, strlen(ENC_PREFIX)) != 0)
		return -EBADMSG;
	return tr_copy(in, out, in->payload + strlen(ENC_PREFIX));
}

static void tr_close(struct ds_transform *t)
{
	ds_free(t);
}

static const struct ds_transform_ops fake_transform_ops = {
	.kind = "fake-enc",
	.encode = tr_encode,
	.decode = tr_decode,
	.close = tr_close,
};

int ds_fake_transform_new(struct ds_transform **out)
{
	struct ds_transform *t = ds_calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->ops = &fake_transform_ops;
	*out = t;
	return 0;
}

/* ---- collection ---------------------------------------------------------------------------- */

int ds_fake_collection_new(const char *name, struct ds_engine *e, struct ds_remote *r,
			   struct ds_transform *t, const struct ds_policy *policy,
			   struct ds_collection **out)
{
	struct ds_collection *c = ds_calloc(1, sizeof(*c));

	if (!c || !(c->name = ds_strdup(name))) {
		ds_free(c);
		return -ENOMEM;
	}
	c->engine = e;
	c->remote = r;
	c->transform = t;
	if (policy)
		c->policy = *policy;
	else
		c->policy = (struct ds_policy){ .max_retries = 3 };
	*out = c;
	return 0;
}

void ds_fake_collection_free(struct ds_collection *c)
{
	if (!c)
		return;
	if (c->transform)
		c->transform->ops->close(c->transform);
	if (c->remote)
		c->remote->ops->close(c->remote);
	if (c->engine)
		c->engine->ops->close(c->engine);
	ds_free(c->name);
	ds_free(c);
}
