/* The index of an engine's pending local changes (see sync_priv.h for its memory bound). */
#define DS_LOG_TAG "sync"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_SYNC
#include "core/ds_core.h"
#include "sync/sync_priv.h"

#include <stdlib.h>
#include <string.h>

static int add(const struct ds_record *r, void *user_data)
{
	struct ds_pending *idx = user_data;

	if (!r || !r->id || !*r->id)
		return 0; /* an engine bug, not a reason to stop syncing the rest */
	if (idx->n == idx->cap) {
		if (idx->cap >= DS_SYNC_PENDING_MAX)
			return -E2BIG;
		size_t cap = idx->cap ? idx->cap * 2 : 64;
		cap = DS_MIN(cap, (size_t)DS_SYNC_PENDING_MAX);
		struct ds_pending_entry *v = ds_realloc(idx->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		idx->v = v;
		idx->cap = cap;
	}
	char *id = ds_strdup(r->id);
	if (!id)
		return -ENOMEM;
	idx->v[idx->n++] = (struct ds_pending_entry){
		.id = id,
		.change_seq = r->change_seq,
		.modified_ms = r->modified_ms,
		.deleted = r->deleted,
	};
	return 0;
}

static int by_id(const void *a, const void *b)
{
	const struct ds_pending_entry *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	if (c)
		return c;
	/* Newest change first, so de-duplication keeps it. */
	return x->change_seq < y->change_seq ? 1 : x->change_seq > y->change_seq ? -1 : 0;
}

int ds_pending_load(struct ds_pending *idx, struct ds_engine *e)
{
	ds_pending_free(idx);
	int rc = e->ops->changes(e, add, idx);
	if (rc < 0) {
		if (rc == -E2BIG)
			DS_LOG_ERR("more than %d pending local changes: over this build's limit "
				   "(DS_SYNC_PENDING_MAX)", DS_SYNC_PENDING_MAX);
		ds_pending_free(idx);
		return rc;
	}
	if (idx->n > 1)
		qsort(idx->v, idx->n, sizeof(*idx->v), by_id);
	/* The engine contract is one record per id; tolerate duplicates by keeping the newest. */
	size_t w = 0;
	for (size_t i = 0; i < idx->n; i++) {
		if (w && strcmp(idx->v[w - 1].id, idx->v[i].id) == 0) {
			ds_free(idx->v[i].id);
			continue;
		}
		idx->v[w++] = idx->v[i];
	}
	idx->n = w;
	return 0;
}

struct ds_pending_entry *ds_pending_find(const struct ds_pending *idx, const char *id)
{
	size_t lo = 0, hi = idx->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(id, idx->v[mid].id);

		if (c == 0)
			return idx->v[mid].done ? NULL : &idx->v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

void ds_pending_free(struct ds_pending *idx)
{
	for (size_t i = 0; i < idx->n; i++)
		ds_free(idx->v[i].id);
	ds_free(idx->v);
	memset(idx, 0, sizeof(*idx));
}
