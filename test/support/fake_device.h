/*
 * fake_device.h - one "device" for sync-core tests: a metadata store file, a fake engine and a
 * handle on a shared fake server, bound into a collection. Two devices on one server are two
 * phones syncing through the same cloud.
 */
#ifndef DS_FAKE_DEVICE_H
#define DS_FAKE_DEVICE_H

#include <stdbool.h>

#include "store/ds_store.h"
#include "sync/ds_sync.h"
#include "test/support/fake_engine.h"
#include "test/support/fake_remote.h"

struct ds_fake_device {
	struct ds_store *store;
	struct ds_collection *c;
	struct ds_engine *e;  /* == c->engine */
	struct ds_remote *r;  /* == c->remote */
	char path[600];       /* the store file */
};

struct ds_fake_device_opts {
	const char *name;          /* collection name, default "coll" */
	struct ds_policy policy;   /* zero: two-way, server-wins; max_retries 0 is taken as 3 */
	bool merge;                /* engine offers merge */
	bool transform;            /* with the "enc:" transform */
};

/*
 * Open a device whose store lives in a new file under DS_TEST_TMP (or TMPDIR). Returns 0 or
 * -errno; on failure nothing is left open.
 */
int ds_fake_device_open(struct ds_fake_device *d, struct ds_fake_server *srv,
			const struct ds_fake_device_opts *o);
/* Close and reopen the store only (as after a restart). */
int ds_fake_device_reopen_store(struct ds_fake_device *d);
void ds_fake_device_close(struct ds_fake_device *d);
/* One run; st may be NULL. */
int ds_fake_device_sync(struct ds_fake_device *d, struct ds_run_stats *st);

#endif /* DS_FAKE_DEVICE_H */
