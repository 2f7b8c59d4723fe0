/* Records as they travel between engine, core and remote. */
#include "core/ds_core.h"
#include "sync/ds_sync.h"

#include <string.h>

void ds_record_clear(struct ds_record *r)
{
	if (!r)
		return;
	ds_free(r->id);
	ds_free(r->payload);
	memset(r, 0, sizeof(*r));
}

int ds_record_copy(struct ds_record *dst, const struct ds_record *src)
{
	struct ds_record tmp;

	if (!dst || !src || !src->id)
		return -EINVAL;
	tmp = *src;
	tmp.id = ds_strdup(src->id);
	tmp.payload = src->payload ? ds_strdup(src->payload) : NULL;
	if (!tmp.id || (src->payload && !tmp.payload)) {
		ds_free(tmp.id);
		ds_free(tmp.payload);
		return -ENOMEM;
	}
	/* A tombstone carries no payload, whatever the source left in it. */
	if (tmp.deleted) {
		ds_free(tmp.payload);
		tmp.payload = NULL;
	}
	*dst = tmp;
	return 0;
}
