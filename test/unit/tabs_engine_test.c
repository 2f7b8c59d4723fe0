/*
 * The tabs engine (docs/engine-tabs.md) alone and through the sync core with the Sync 1.5
 * remote against the in-process storage node (test/support/fake_sync15.h).
 */
#include "core/ds_core.h"
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
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const uint8_t KSYNC[64] = { 0x21, 0x32, [33] = 0x43, [63] = 0x54 };

struct fx {
	char dir[512];
	char db[600];
	char meta[600];
	struct ds_engine *e;
	sqlite3 *ui; /* the daemon's other connection (tabs set, lists) */
	char own[65];
};

static unsigned seq;

static int device(char id[65], char name[128], void *user_data)
{
	struct fx *f = user_data;

	if (!f->own[0])
		return -ENOENT;
	snprintf(id, 65, "%s", f->own);
	snprintf(name, 128, "Living room TV");
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *t = getenv("DS_TEST_TMP");
	struct ds_tabs_config cfg = { 0 };

	if (t && *t) {
		snprintf(f->dir, sizeof(f->dir), "%s", t);
	} else {
		snprintf(f->dir, sizeof(f->dir), "%s/ds-tabs-XXXXXX", P_tmpdir);
		assert_non_null(mkdtemp(f->dir));
	}
	seq++;
	snprintf(f->db, sizeof(f->db), "%s/tabs-%d-%u.db", f->dir, (int)getpid(), seq);
	snprintf(f->meta, sizeof(f->meta), "%s/meta-%d-%u.db", f->dir, (int)getpid(), seq);
	snprintf(f->own, sizeof(f->own), "0123456789abcdef0123456789abcdef");
	cfg.db_path = f->db;
	cfg.device = device;
	cfg.device_user_data = f;
	assert_int_equal(ds_tabs_engine_new(&cfg, &f->e), 0);
	assert_int_equal(ds_tabs_db_open(f->db, &f->ui), 0);
	assert_int_equal(f->e->ops->prepare(f->e), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char p[700];

	f->e->ops->close(f->e);
	sqlite3_close(f->ui);
	unlink(f->db);
	unlink(f->meta);
	snprintf(p, sizeof(p), "%s-wal", f->db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->db);
	unlink(p);
	free(f);
	return 0;
}

static int set_tabs(struct fx *f, const char *json)
{
	cJSON *j = cJSON_Parse(json);
	char why[200];
	int rc;

	assert_non_null(j);
	rc = ds_tabs_local_set(f->ui, j, 1000, why, sizeof(why));
	cJSON_Delete(j);
	return rc;
}

struct collect {
	int n;
	struct ds_record r;
};

static int collect_cb(const struct ds_record *r, void *user_data)
{
	struct collect *c = user_data;

	c->n++;
	ds_record_clear(&c->r);
	assert_int_equal(ds_record_copy(&c->r, r), 0);
	c->r.ttl_s = r->ttl_s;
	return 0;
}

static const char TWO[] = "[{\"title\":\"A\",\"url\":\"https://a/\",\"lastUsed\":5},"
			  "{\"title\":\"B\",\"url\":\"https://b/\",\"lastUsed\":9}]";

/* The browser's tabs make our record pending, with the 180-day ttl; the same tabs again change
 * nothing; once uploaded (forget) nothing is pending. */
static void test_own_record_pending(void **state)
{
	struct fx *f = *state;
	struct collect c = { 0 };
	struct ds_pending_info pi;

	assert_int_equal(f->e->ops->changes(f->e, collect_cb, &c), 0);
	assert_int_equal(c.n, 0); /* nothing reported yet */
	assert_int_equal(set_tabs(f, TWO), 1);
	assert_int_equal(set_tabs(f, TWO), 0);
	assert_int_equal(f->e->ops->changes(f->e, collect_cb, &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.r.id, f->own);
	assert_int_equal(c.r.ttl_s, DS_TABS_TTL_S);
	cJSON *p = cJSON_Parse(c.r.payload);
	assert_string_equal(cJSON_GetObjectItem(p, "clientName")->valuestring, "Living room TV");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(p, "tabs"), 0), "title")->valuestring, "B");
	cJSON_Delete(p);
	assert_int_equal(f->e->ops->pending(f->e, f->own, &pi), 0);
	assert_int_equal(pi.change_seq, c.r.change_seq);
	/* Resumed after our own change: nothing more. */
	c.n = 0;
	assert_int_equal(f->e->ops->changes_after(f->e, c.r.change_seq, f->own, collect_cb, &c), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(f->e->ops->forget(f->e, f->own, c.r.change_seq), 0);
	assert_int_equal(f->e->ops->pending(f->e, f->own, &pi), -ENOENT);
	assert_int_equal(f->e->ops->changes(f->e, collect_cb, &c), 0);
	assert_int_equal(c.n, 0);
	/* Tabs set while an upload was under way stay pending. */
	assert_int_equal(set_tabs(f, "[]"), 1);
	assert_int_equal(f->e->ops->forget(f->e, f->own, c.r.change_seq), 0);
	assert_int_equal(f->e->ops->pending(f->e, f->own, &pi), 0);
	ds_record_clear(&c.r);
}

/* Not signed in: other devices' tabs arrive, ours is not reported. */
static void test_no_device_id(void **state)
{
	struct fx *f = *state;
	struct collect c = { 0 };

	f->own[0] = '\0';
	assert_int_equal(f->e->ops->prepare(f->e), 0);
	assert_int_equal(set_tabs(f, TWO), 1);
	assert_int_equal(f->e->ops->changes(f->e, collect_cb, &c), 0);
	assert_int_equal(c.n, 0);
}

static void apply(struct fx *f, const char *id, const char *payload, int64_t ms, int want)
{
	struct ds_record r = { 0 };

	r.id = (char *)id;
	r.payload = (char *)payload;
	r.deleted = payload == NULL;
	r.modified_ms = ms;
	assert_int_equal(f->e->ops->begin(f->e), 0);
	assert_int_equal(f->e->ops->apply(f->e, &r), want);
	assert_int_equal(f->e->ops->commit(f->e), 0);
}

static cJSON *list(struct fx *f)
{
	cJSON *o = NULL;

	assert_int_equal(ds_tabs_remote_list(f->ui, &o), 0);
	return cJSON_GetObjectItem(o, "clients") ? o : NULL;
}

/* Other devices' records are listed newest first; malformed ones refused; tombstones remove;
 * devices the clients engine knows as gone are hidden. */
static void test_other_devices(void **state)
{
	struct fx *f = *state;
	cJSON *o;

	apply(f, "laptop", "{\"id\":\"laptop\",\"clientName\":\"Laptop\",\"tabs\":[{\"title\":\"x\","
	      "\"urlHistory\":[\"https://x/\"],\"lastUsed\":\"1500000000\"}]}", 2000, 0);
	apply(f, "phone", "{\"id\":\"phone\",\"clientName\":\"Phone\",\"tabs\":[]}", 3000, 0);
	apply(f, "junk", "{\"id\":\"junk\",\"tabs\":5}", 4000, -EBADMSG);
	o = list(f);
	assert_non_null(o);
	const cJSON *cl = cJSON_GetObjectItem(o, "clients");
	assert_int_equal(cJSON_GetArraySize(cl), 2);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cl, 0), "id")->valuestring, "phone");
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cl, 1), "lastModified")->valuedouble, 2000);
	cJSON_Delete(o);

	/* The clients engine read a list in which the phone is stale and the laptop is live. */
	assert_int_equal(sqlite3_exec(f->ui, "CREATE TABLE clients_remote(id TEXT PRIMARY KEY, payload TEXT,"
				      " modified_ms INTEGER, hidden INTEGER);"
				      "INSERT INTO clients_remote VALUES ('laptop','{}',1,0), ('phone','{}',1,1);",
				      NULL, NULL, NULL), SQLITE_OK);
	o = list(f);
	cl = cJSON_GetObjectItem(o, "clients");
	assert_int_equal(cJSON_GetArraySize(cl), 1);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cl, 0), "clientName")->valuestring, "Laptop");
	cJSON_Delete(o);

	apply(f, "laptop", NULL, 5000, 0);
	o = list(f);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "clients")), 0);
	cJSON_Delete(o);
	assert_int_equal(ds_tabs_wipe_remote(f->ui), 0);
}

/* Our record from the server never replaces the browser's tabs; a stale copy sends ours again. */
static void test_own_record_from_server(void **state)
{
	struct fx *f = *state;
	struct collect c = { 0 };
	struct ds_pending_info pi;

	assert_int_equal(set_tabs(f, TWO), 1);
	assert_int_equal(f->e->ops->changes(f->e, collect_cb, &c), 0);
	assert_int_equal(f->e->ops->forget(f->e, f->own, c.r.change_seq), 0);
	apply(f, f->own, c.r.payload, 6000, 0); /* our upload coming back */
	assert_int_equal(f->e->ops->pending(f->e, f->own, &pi), -ENOENT);
	apply(f, f->own, "{\"id\":\"x\",\"clientName\":\"old\",\"tabs\":[]}", 7000, 0);
	assert_int_equal(f->e->ops->pending(f->e, f->own, &pi), 0);
	ds_record_clear(&c.r);
}

/* U7 end to end: 5,000 tabs go up as one record under the server's payload limit. */
static void test_u7_sync_5000_tabs(void **state)
{
	struct fx *f = *state;
	struct ds_sync15_remote_config rc = { .collection = "tabs", .engine_version = 1 };
	struct ds_policy p = { .direction = DS_DIR_TWO_WAY, .conflict = DS_CONFLICT_SERVER_WINS, .max_retries = 3 };
	struct ds_fake_sync15 *srv = ds_fake_sync15_new(KSYNC);
	struct ds_sync15_global g;
	struct ds_collection *col;
	struct ds_store *store;
	struct ds_remote *r;
	struct ds_run_stats st;
	cJSON *in = cJSON_CreateArray();
	char why[100];

	memset(&g, 0, sizeof(g));
	for (int i = 0; i < 5000; i++) {
		char url[96];
		cJSON *t = cJSON_CreateObject();

		snprintf(url, sizeof(url), "https://example.org/page/%d/with/a/path", i);
		cJSON_AddStringToObject(t, "url", url);
		cJSON_AddStringToObject(t, "title", "A page with a title of ordinary length");
		cJSON_AddNumberToObject(t, "lastUsed", 1700000000 + i);
		cJSON_AddItemToArray(in, t);
	}
	assert_int_equal(ds_tabs_local_set(f->ui, in, 1, why, sizeof(why)), 1);
	cJSON_Delete(in);
	rc.auth = ds_fake_sync15_auth(srv);
	rc.transport = ds_fake_sync15_transport(srv);
	rc.global = &g;
	assert_int_equal(ds_sync15_remote_new(&rc, &r), 0);
	assert_int_equal(ds_store_open(f->meta, &store), 0);
	assert_int_equal(ds_fake_collection_new("tabs", f->e, r, NULL, &p, &col), 0);
	f->e = NULL; /* the collection owns it now */
	memset(&st, 0, sizeof(st));
	assert_int_equal(ds_sync_run(col, store, &st, NULL, NULL), 0);
	assert_int_equal(st.uploaded, 1);
	assert_int_equal(st.errors, 0);
	assert_non_null(ds_fake_sync15_payload(srv, "tabs", f->own));
	assert_true(strlen(ds_fake_sync15_payload(srv, "tabs", f->own)) <= DS_TABS_MAX_PAYLOAD_DEFAULT);
	/* A second run has nothing to send. */
	memset(&st, 0, sizeof(st));
	assert_int_equal(ds_sync_run(col, store, &st, NULL, NULL), 0);
	assert_int_equal(st.uploaded, 0);
	ds_fake_collection_free(col);
	ds_store_close(store);
	ds_sync15_global_clear(&g);
	ds_fake_sync15_free(srv);
	/* teardown closes f->e: give it a fresh engine. */
	struct ds_tabs_config cfg = { .db_path = f->db, .device = device, .device_user_data = f };
	assert_int_equal(ds_tabs_engine_new(&cfg, &f->e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_own_record_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_device_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_record_from_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_u7_sync_5000_tabs, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
