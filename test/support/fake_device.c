/* One device of fakes for sync-core tests (see fake_device.h). */
#include "core/ds_core.h"
#include "test/support/fake_device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_dir[512];
static unsigned g_seq;

static int tmp_dir(void)
{
	const char *t = getenv("DS_TEST_TMP");

	if (g_dir[0])
		return 0;
	if (t && *t) {
		snprintf(g_dir, sizeof(g_dir), "%s", t);
		return 0;
	}
	t = getenv("TMPDIR");
	snprintf(g_dir, sizeof(g_dir), "%s/ds-fake-device-XXXXXX", t && *t ? t : P_tmpdir);
	return mkdtemp(g_dir) ? 0 : -errno;
}

int ds_fake_device_open(struct ds_fake_device *d, struct ds_fake_server *srv,
			const struct ds_fake_device_opts *o)
{
	struct ds_fake_device_opts def = { 0 };
	struct ds_policy p;
	struct ds_transform *t = NULL;
	int rc;

	memset(d, 0, sizeof(*d));
	if (!o)
		o = &def;
	p = o->policy;
	if (!p.max_retries)
		p.max_retries = 3;
	rc = tmp_dir();
	if (rc)
		return rc;
	snprintf(d->path, sizeof(d->path), "%s/device-%u-%u.db", g_dir, (unsigned)getpid(), ++g_seq);
	rc = ds_store_open(d->path, &d->store);
	if (!rc)
		rc = ds_fake_engine_new(o->merge, &d->e);
	if (!rc)
		rc = ds_fake_remote_new(srv, &d->r);
	if (!rc && o->transform)
		rc = ds_fake_transform_new(&t);
	if (!rc)
		rc = ds_fake_collection_new(o->name ? o->name : "coll", d->e, d->r, t, &p, &d->c);
	if (rc) {
		if (t)
			t->ops->close(t);
		if (d->r)
			d->r->ops->close(d->r);
		if (d->e)
			d->e->ops->close(d->e);
		ds_store_close(d->store);
		memset(d, 0, sizeof(*d));
	}
	return rc;
}

int ds_fake_device_reopen_store(struct ds_fake_device *d)
{
	ds_store_close(d->store);
	d->store = NULL;
	return ds_store_open(d->path, &d->store);
}

void ds_fake_device_close(struct ds_fake_device *d)
{
	ds_fake_collection_free(d->c);
	ds_store_close(d->store);
	memset(d, 0, sizeof(*d));
}

int ds_fake_device_sync(struct ds_fake_device *d, struct ds_run_stats *st)
{
	return ds_sync_run(d->c, d->store, st, NULL, NULL);
}
