/* Devices on the in-process Sync 1.5 node for the browser engines' unit tests (engine_sync_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ds_core.h"
#include "store/ds_store.h"
#include "test/support/engine_sync_fixture.h"
#include "test/support/fake_remote.h"
#include "test/support/fake_sync15.h"

static unsigned seq;

void esf_dev_names(struct esf_dev *d, const char *dir, const char *tag)
{
	memset(d, 0, sizeof(*d));
	++seq;
	snprintf(d->meta, sizeof(d->meta), "%s/%s-%d-%u.db", dir, tag, (int)getpid(), seq);
	snprintf(d->path, sizeof(d->path), "%s/%s-%d-%u.sqlite", dir, tag, (int)getpid(), seq);
}

void esf_dev_open_db(struct esf_dev *d)
{
	esf_open_db(d->path, &d->db);
}

void esf_dev_connect(struct esf_dev *d, struct ds_fake_sync15 *srv,
		     const struct ds_sync15_remote_config *rc, const struct ds_policy *p,
		     struct ds_engine *e)
{
	struct ds_sync15_remote_config cfg = *rc;
	struct ds_remote *r;

	assert_int_equal(ds_store_open(d->meta, &d->store), 0);
	cfg.auth = ds_fake_sync15_auth(srv);
	cfg.transport = ds_fake_sync15_transport(srv);
	cfg.global = &d->g;
	assert_int_equal(ds_sync15_remote_new(&cfg, &r), 0);
	assert_int_equal(ds_fake_collection_new(rc->collection, e, r, NULL, p, &d->c), 0);
}

void esf_dev_disconnect(struct esf_dev *d)
{
	if (!d->c)
		return;
	ds_fake_collection_free(d->c);
	ds_store_close(d->store);
	ds_sync15_global_clear(&d->g);
	memset(&d->g, 0, sizeof(d->g));
	d->c = NULL;
	d->store = NULL;
}

void esf_dev_close(struct esf_dev *d)
{
	esf_dev_disconnect(d);
	sqlite3_close(d->db);
	if (d->meta[0])
		unlink(d->meta);
	if (d->path[0])
		unlink(d->path);
	memset(d, 0, sizeof(*d));
}

void esf_sync_expect(struct esf_dev *d, unsigned long errors)
{
	struct ds_run_stats st;
	int rc;

	memset(&st, 0, sizeof(st));
	rc = ds_sync_run(d->c, d->store, &st, NULL, NULL);
	if (rc)
		fail_msg("run failed: %d %s / %s", rc, st.message, ds_sync15_remote_error(d->c->remote));
	if (st.errors != errors)
		fail_msg("%lu records skipped, %lu expected: %s", st.errors, errors, st.message);
}

void esf_sync_ok(struct esf_dev *d)
{
	esf_sync_expect(d, 0);
}

void esf_other_client_put(struct ds_fake_sync15 *srv, const uint8_t ksync[64], const char *coll,
			  const char *id, const char *clear)
{
	struct ds_sync15_keybundle sync_kb;
	struct ds_sync15_keyring kr;
	char *payload;

	ds_sync15_keybundle_from_ksync(ksync, &sync_kb);
	assert_int_equal(ds_sync15_keyring_decrypt(&sync_kb,
						   ds_fake_sync15_payload(srv, "crypto", "keys"), &kr), 0);
	assert_int_equal(ds_sync15_encrypt(ds_sync15_keyring_get(&kr, coll), clear, strlen(clear),
					   NULL, &payload), 0);
	assert_int_equal(ds_fake_sync15_put(srv, coll, id, payload), 0);
	ds_free(payload);
	ds_sync15_keyring_clear(&kr);
	ds_sync15_keybundle_wipe(&sync_kb);
}
