/*
 * One writer of our client record (docs/engine-clients.md): in a build with the clients engine,
 * the Sync 1.5 remote's own writer (sync15_clients.c), which runs before any collection's
 * records while no clients engine has run in the process, only creates our record: a record
 * already there, with commands another device left in it, is never overwritten. Once the clients
 * engine is active the remote's writer stands down. Its own binary: the flag is process-wide.
 */
#include "core/ds_core.h"
#include "engine/clients/ds_clients.h"
#include "engine/tabs/ds_tabs.h"
#include "remote/sync15/ds_sync15.h"
#include "store/ds_store.h"
#include "sync/ds_sync.h"
#include "test/support/fake_remote.h"
#include "test/support/fake_sync15.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const uint8_t KSYNC[64] = { 0x11, [20] = 0x22, [63] = 0x33 };
#define OWN "feedfacefeedfacefeedfacefeedface"

static int device(struct ds_sync15_device *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), OWN);
	snprintf(out->name, sizeof(out->name), "Kitchen TV");
	snprintf(out->type, sizeof(out->type), "tv");
	return 0;
}

static int tabs_device(char id[65], char name[128], void *user_data)
{
	(void)user_data;
	snprintf(id, 65, OWN);
	snprintf(name, 128, "Kitchen TV");
	return 0;
}

struct dev {
	char db[600], meta[600];
	struct ds_store *store;
	struct ds_collection *col;
	struct ds_sync15_global g;
};

/* A tabs collection whose remote writes our client record (cfg.device), on a fresh state. */
static void dev_open(struct dev *d, struct ds_fake_sync15 *srv, const char *dir, int n)
{
	struct ds_sync15_remote_config rc = { .collection = "tabs", .engine_version = 1 };
	struct ds_policy p = { .direction = DS_DIR_TWO_WAY, .conflict = DS_CONFLICT_SERVER_WINS, .max_retries = 3 };
	struct ds_tabs_config tc = { .device = tabs_device };
	struct ds_engine *e;
	struct ds_remote *r;

	memset(d, 0, sizeof(*d));
	snprintf(d->db, sizeof(d->db), "%s/cw-%d-%d.db", dir, (int)getpid(), n);
	snprintf(d->meta, sizeof(d->meta), "%s/cwm-%d-%d.db", dir, (int)getpid(), n);
	tc.db_path = d->db;
	assert_int_equal(ds_tabs_engine_new(&tc, &e), 0);
	rc.auth = ds_fake_sync15_auth(srv);
	rc.transport = ds_fake_sync15_transport(srv);
	rc.global = &d->g;
	rc.device = device;
	assert_int_equal(ds_sync15_remote_new(&rc, &r), 0);
	assert_int_equal(ds_store_open(d->meta, &d->store), 0);
	assert_int_equal(ds_fake_collection_new("tabs", e, r, NULL, &p, &d->col), 0);
}

static void dev_close(struct dev *d)
{
	char p[700];

	ds_fake_collection_free(d->col);
	ds_store_close(d->store);
	ds_sync15_global_clear(&d->g);
	unlink(d->meta);
	unlink(d->db);
	snprintf(p, sizeof(p), "%s-wal", d->db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", d->db);
	unlink(p);
}

static void run(struct dev *d)
{
	struct ds_run_stats st;

	memset(&st, 0, sizeof(st));
	assert_int_equal(ds_sync_run(d->col, d->store, &st, NULL, NULL), 0);
}

static void test_remote_writer_never_overwrites_commands(void **state)
{
	struct ds_fake_sync15 *srv = ds_fake_sync15_new(KSYNC);
	const char *t = getenv("DS_TEST_TMP");
	char dir[512], *payload = NULL, *clear = NULL;
	const char *cmd = "{\"id\":\"" OWN "\",\"name\":\"Kitchen TV\",\"type\":\"tv\",\"fxaDeviceId\":\"" OWN "\","
			  "\"protocols\":[\"1.5\"],\"commands\":[{\"command\":\"resetAll\",\"args\":[]}]}";
	struct dev a, b;
	size_t len;

	(void)state;
	if (t && *t) {
		snprintf(dir, sizeof(dir), "%s", t);
	} else {
		snprintf(dir, sizeof(dir), "%s/ds-cw-XXXXXX", P_tmpdir);
		assert_non_null(mkdtemp(dir));
	}
	/* The first run creates our record (none was there). */
	dev_open(&a, srv, dir, 1);
	run(&a);
	assert_non_null(ds_fake_sync15_payload(srv, "clients", OWN));
	assert_int_equal(ds_fake_sync15_count_requests(srv, "PUT storage/clients/"), 1);

	/* Another device leaves a command in it; a fresh state (a restart) writes again: 412, and
	 * the command is still there. */
	assert_int_equal(ds_sync15_encrypt(ds_sync15_keyring_get(&a.g.keys, "clients"), cmd, strlen(cmd), NULL,
					   &payload), 0);
	assert_int_equal(ds_fake_sync15_put(srv, "clients", OWN, payload), 0);
	ds_free(payload);
	dev_open(&b, srv, dir, 2);
	run(&b);
	assert_int_equal(ds_fake_sync15_count_requests(srv, "PUT storage/clients/"), 2);
	assert_int_equal(ds_sync15_decrypt(ds_sync15_keyring_get(&b.g.keys, "clients"),
					   ds_fake_sync15_payload(srv, "clients", OWN), &clear, &len), 0);
	assert_non_null(strstr(clear, "resetAll"));
	ds_free(clear);
	dev_close(&b);

	/* With the clients engine active, the remote's writer stands down. */
	ds_sync15_client_engine_active();
	dev_open(&b, srv, dir, 3);
	run(&b);
	assert_int_equal(ds_fake_sync15_count_requests(srv, "PUT storage/clients/"), 2);
	dev_close(&b);
	dev_close(&a);
	ds_fake_sync15_free(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_remote_writer_never_overwrites_commands),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
