/*
 * The clients engine through the sync core and the Sync 1.5 remote against the in-process
 * storage node (test/support/fake_sync15.h): AT-16 (our record, each command applied, unknown
 * commands kept), the displayURI event, stale clients hidden, the weekly refresh, and a command
 * another device adds while we process ours (412, read again, nothing lost).
 */
#include "core/ds_core.h"
#include "engine/clients/ds_clients.h"
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

static const uint8_t KSYNC[64] = { 0x61, 0x72, [17] = 0x83, [63] = 0x94 };
#define OWN "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
#define DAY (24LL * 3600 * 1000)

struct fx {
	char dir[512], db[600], meta[600];
	struct ds_fake_sync15 *srv;
	struct ds_sync15_global g;
	struct ds_store *store;
	struct ds_collection *col;
	sqlite3 *ui;
	int64_t now;
	char calls[1024]; /* hook calls, "reset tabs wipe;" ... */
	int fail_reset;   /* errno the reset hook returns */
	bool no_hooks;
	int concurrent;   /* add a command to our record before the next upload */
};

static unsigned seq;

static int device(struct ds_sync15_device *out, void *user_data)
{
	(void)user_data;
	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), OWN);
	snprintf(out->name, sizeof(out->name), "Living room TV");
	snprintf(out->type, sizeof(out->type), "tv");
	return 0;
}

static int64_t clock_ms(void *user_data)
{
	return ((struct fx *)user_data)->now;
}

static int hook_reset(const char *engine, bool wipe, void *user_data)
{
	struct fx *f = user_data;
	size_t n = strlen(f->calls);

	snprintf(f->calls + n, sizeof(f->calls) - n, "%s %s;", wipe ? "wipe" : "reset", engine ? engine : "*");
	if (engine && !strcmp(engine, "bookmarks"))
		return -ENOENT; /* nothing syncs bookmarks here */
	return f->fail_reset;
}

static int hook_logout(void *user_data)
{
	struct fx *f = user_data;
	size_t n = strlen(f->calls);

	snprintf(f->calls + n, sizeof(f->calls) - n, "logout;");
	return 0;
}

static void open_col(struct fx *f)
{
	struct ds_sync15_remote_config rc = { .collection = "clients", .engine_version = 1 };
	/* newest-wins on purpose: commands must survive whatever the collection's policy. */
	struct ds_policy p = { .direction = DS_DIR_TWO_WAY, .conflict = DS_CONFLICT_NEWEST_WINS, .max_retries = 3 };
	struct ds_clients_hooks h = { hook_reset, hook_logout, f };
	struct ds_clients_config cfg = { .db_path = f->db, .device = device, .hooks = f->no_hooks ? NULL : &h,
					 .now_ms = clock_ms, .now_user_data = f };
	struct ds_engine *e;
	struct ds_remote *r;

	if (f->no_hooks)
		ds_clients_set_hooks(NULL);
	assert_int_equal(ds_clients_engine_new(&cfg, &e), 0);
	rc.auth = ds_fake_sync15_auth(f->srv);
	rc.transport = ds_fake_sync15_transport(f->srv);
	rc.global = &f->g;
	assert_int_equal(ds_sync15_remote_new(&rc, &r), 0);
	assert_int_equal(ds_fake_collection_new("clients", e, r, NULL, &p, &f->col), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *t = getenv("DS_TEST_TMP");

	if (t && *t) {
		snprintf(f->dir, sizeof(f->dir), "%s", t);
	} else {
		snprintf(f->dir, sizeof(f->dir), "%s/ds-clients-XXXXXX", P_tmpdir);
		assert_non_null(mkdtemp(f->dir));
	}
	seq++;
	snprintf(f->db, sizeof(f->db), "%s/cl-%d-%u.db", f->dir, (int)getpid(), seq);
	snprintf(f->meta, sizeof(f->meta), "%s/clm-%d-%u.db", f->dir, (int)getpid(), seq);
	f->now = 1700000000000LL; /* the fake storage node's clock starts there */
	f->srv = ds_fake_sync15_new(KSYNC);
	assert_int_equal(ds_store_open(f->meta, &f->store), 0);
	assert_int_equal(ds_clients_db_open(f->db, &f->ui), 0);
	open_col(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char p[700];

	ds_fake_collection_free(f->col);
	ds_store_close(f->store);
	sqlite3_close(f->ui);
	ds_sync15_global_clear(&f->g);
	ds_fake_sync15_free(f->srv);
	unlink(f->meta);
	unlink(f->db);
	snprintf(p, sizeof(p), "%s-wal", f->db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->db);
	unlink(p);
	free(f);
	return 0;
}

static void run(struct fx *f, int want)
{
	struct ds_run_stats st;

	memset(&st, 0, sizeof(st));
	assert_int_equal(ds_sync_run(f->col, f->store, &st, NULL, NULL), want);
}

/* Another device writes a record (cleartext) into the clients collection. */
static void put(struct fx *f, const char *id, const char *clear)
{
	char *payload = NULL;

	assert_int_equal(ds_sync15_encrypt(ds_sync15_keyring_get(&f->g.keys, "clients"), clear, strlen(clear),
					   NULL, &payload), 0);
	assert_int_equal(ds_fake_sync15_put(f->srv, "clients", id, payload), 0);
	ds_free(payload);
}

/* Our record as the server holds it (cleartext, parsed). */
static cJSON *server_own(struct fx *f)
{
	const char *payload = ds_fake_sync15_payload(f->srv, "clients", OWN);
	char *clear = NULL;
	size_t len;
	cJSON *o;

	assert_non_null(payload);
	assert_int_equal(ds_sync15_decrypt(ds_sync15_keyring_get(&f->g.keys, "clients"), payload, &clear, &len), 0);
	o = cJSON_Parse(clear);
	ds_free(clear);
	assert_non_null(o);
	return o;
}

static void put_own_with(struct fx *f, const char *commands)
{
	char clear[2048];

	snprintf(clear, sizeof(clear), "{\"id\":\"" OWN "\",\"name\":\"Living room TV\",\"type\":\"tv\","
		 "\"protocols\":[\"1.5\"],\"fxaDeviceId\":\"" OWN "\",\"commands\":%s}", commands);
	put(f, OWN, clear);
}

/* AT-16: our record goes up with id = FxA device id, type tv; read back it is left alone. */
static void test_own_record_written(void **state)
{
	struct fx *f = *state;
	cJSON *o;

	run(f, 0);
	o = server_own(f);
	assert_string_equal(cJSON_GetObjectItem(o, "id")->valuestring, OWN);
	assert_string_equal(cJSON_GetObjectItem(o, "fxaDeviceId")->valuestring, OWN);
	assert_string_equal(cJSON_GetObjectItem(o, "type")->valuestring, "tv");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "commands")), 0);
	cJSON_Delete(o);
	unsigned long posts = ds_fake_sync15_count_requests(f->srv, "POST");
	run(f, 0);
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "POST"), posts); /* nothing new */

	/* A week later it is written again (CLIENTS_TTL_REFRESH). */
	f->now += 7 * DAY;
	run(f, 0);
	assert_true(ds_fake_sync15_count_requests(f->srv, "POST") > posts);
}

/* AT-16: wipeEngine / resetEngine / resetAll / logout applied and removed; unknown kept;
 * displayURI becomes a "tab received" event; a command for an engine not synced here drops. */
static void test_commands_applied(void **state)
{
	struct fx *f = *state;
	cJSON *o, *ev = NULL;

	run(f, 0);
	put(f, "sender1", "{\"id\":\"sender1\",\"name\":\"Work laptop\",\"type\":\"desktop\",\"commands\":[]}");
	put_own_with(f, "[{\"command\":\"wipeEngine\",\"args\":[\"tabs\"]},"
		     "{\"command\":\"resetEngine\",\"args\":[\"history\"],\"flowID\":\"f1\"},"
		     "{\"command\":\"resetAll\",\"args\":[]},"
		     "{\"command\":\"wipeEngine\",\"args\":[\"bookmarks\"]},"
		     "{\"command\":\"frobnicate\",\"args\":[\"x\"]},"
		     "{\"command\":\"displayURI\",\"args\":[\"https://mozilla.org/\",\"sender1\",\"Mozilla\"]},"
		     "{\"command\":\"resetEngine\",\"args\":[\"history\"],\"flowID\":\"f1\"},"
		     "{\"command\":\"logout\",\"args\":[]}]");
	run(f, 0);
	assert_string_equal(f->calls, "wipe tabs;reset history;reset *;wipe bookmarks;logout;");
	o = server_own(f);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "commands")), 1);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "commands"), 0),
						"command")->valuestring, "frobnicate");
	cJSON_Delete(o);
	assert_int_equal(ds_clients_events(f->ui, 0, &ev), 0);
	const cJSON *list = cJSON_GetObjectItem(ev, "events");
	assert_int_equal(cJSON_GetArraySize(list), 1);
	const cJSON *e0 = cJSON_GetArrayItem(list, 0);
	assert_string_equal(cJSON_GetObjectItem(e0, "type")->valuestring, "tab-received");
	assert_string_equal(cJSON_GetObjectItem(e0, "uri")->valuestring, "https://mozilla.org/");
	assert_string_equal(cJSON_GetObjectItem(e0, "title")->valuestring, "Mozilla");
	assert_string_equal(cJSON_GetObjectItem(e0, "senderName")->valuestring, "Work laptop");
	int64_t s0 = (int64_t)cJSON_GetObjectItem(e0, "seq")->valuedouble;
	cJSON_Delete(ev);
	assert_int_equal(ds_clients_events(f->ui, s0, &ev), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(ev, "events")), 0);
	cJSON_Delete(ev);

	/* The unknown command stays, and is not applied again by the next runs. */
	f->calls[0] = '\0';
	run(f, 0);
	assert_string_equal(f->calls, "");
	o = server_own(f);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "commands")), 1);
	cJSON_Delete(o);
}

/* A failing command stays in our record and fails the run; it is applied on a later run. */
static void test_failed_command_kept(void **state)
{
	struct fx *f = *state;
	cJSON *o;

	run(f, 0);
	put_own_with(f, "[{\"command\":\"resetEngine\",\"args\":[\"history\"]}]");
	f->fail_reset = -EIO;
	run(f, -EIO);
	f->fail_reset = 0;
	f->calls[0] = '\0';
	run(f, 0);
	assert_string_equal(f->calls, "reset history;");
	o = server_own(f);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "commands")), 0);
	cJSON_Delete(o);
}

/* Without the daemon's hooks, reset/wipe/logout are kept for later; displayURI still works. */
static void test_no_hooks_keeps(void **state)
{
	struct fx *f = *state;
	cJSON *o;

	ds_fake_collection_free(f->col);
	f->no_hooks = true;
	open_col(f);
	run(f, 0);
	put_own_with(f, "[{\"command\":\"wipeEngine\",\"args\":[\"tabs\"]},"
		     "{\"command\":\"displayURI\",\"args\":[\"https://a/\",null,\"A\"]}]");
	run(f, 0);
	o = server_own(f);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "commands")), 1);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "commands"), 0),
						"command")->valuestring, "wipeEngine");
	cJSON_Delete(o);
	assert_string_equal(f->calls, "");
}

static void add_concurrently(struct ds_fake_sync15 *s, const char *method, const char *path,
			     unsigned long nth, void *user_data)
{
	struct fx *f = user_data;

	(void)s;
	(void)nth;
	if (f->concurrent && !strcmp(method, "POST") && !strncmp(path, "storage/clients", 15)) {
		f->concurrent = 0;
		put_own_with(f, "[{\"command\":\"resetEngine\",\"args\":[\"history\"]},"
			     "{\"command\":\"displayURI\",\"args\":[\"https://late/\",\"x\",\"Late\"]}]");
	}
}

/* A command another device adds while we process ours: our upload meets a 412, the record is
 * read again, the new command applied, the old one not applied twice, and none is lost. */
static void test_concurrent_command_not_lost(void **state)
{
	struct fx *f = *state;
	cJSON *o, *ev = NULL;

	run(f, 0);
	put_own_with(f, "[{\"command\":\"resetEngine\",\"args\":[\"history\"]}]");
	f->concurrent = 1;
	ds_fake_sync15_set_hook(f->srv, add_concurrently, f);
	run(f, 0);
	ds_fake_sync15_set_hook(f->srv, NULL, NULL);
	assert_int_equal(f->concurrent, 0);
	assert_string_equal(f->calls, "reset history;");
	o = server_own(f);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "commands")), 0);
	cJSON_Delete(o);
	assert_int_equal(ds_clients_events(f->ui, 0, &ev), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(ev, "events")), 1);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "events"), 0), "uri")->valuestring,
			    "https://late/");
	cJSON_Delete(ev);
}

/* Other devices for the UI: stale ones hidden, "phone" read as mobile, tombstones remove. */
static void test_other_clients_listed(void **state)
{
	struct fx *f = *state;
	cJSON *l = NULL;
	const cJSON *arr;

	run(f, 0);
	put(f, "old-phone", "{\"id\":\"old-phone\",\"name\":\"Pixel\",\"type\":\"phone\",\"fxaDeviceId\":\"px\"}");
	f->now += 10 * DAY;
	put(f, "new-phone", "{\"id\":\"new-phone\",\"name\":\"Pixel\",\"type\":\"phone\",\"fxaDeviceId\":\"px\"}");
	put(f, "fridge", "{\"id\":\"fridge\",\"name\":\"Kitchen\",\"type\":\"fridge\"}");
	put(f, "bad", "{\"name\":\"no id\"}");
	run(f, 0);
	assert_int_equal(ds_clients_list(f->ui, false, &l), 0);
	arr = cJSON_GetObjectItem(l, "clients");
	assert_int_equal(cJSON_GetArraySize(arr), 2);
	for (int i = 0; i < 2; i++) {
		const cJSON *c = cJSON_GetArrayItem(arr, i);

		if (!strcmp(cJSON_GetObjectItem(c, "id")->valuestring, "new-phone"))
			assert_string_equal(cJSON_GetObjectItem(c, "type")->valuestring, "mobile");
		else
			assert_true(cJSON_IsNull(cJSON_GetObjectItem(c, "type")));
	}
	cJSON_Delete(l);
	assert_int_equal(ds_clients_list(f->ui, true, &l), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(l, "clients")), 3);
	cJSON_Delete(l);
	put(f, "fridge", "{\"id\":\"fridge\",\"deleted\":true}");
	run(f, 0);
	assert_int_equal(ds_clients_list(f->ui, false, &l), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(l, "clients")), 1);
	cJSON_Delete(l);
	/* Expired on the server (no rewrite within the 180-day ttl; expiry sends no tombstone). */
	f->now += 181 * DAY;
	run(f, 0);
	assert_int_equal(ds_clients_list(f->ui, false, &l), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(l, "clients")), 0);
	cJSON_Delete(l);
}

static void target_rewrites(struct ds_fake_sync15 *s, const char *method, const char *path,
			    unsigned long nth, void *user_data)
{
	struct fx *f = user_data;

	(void)s;
	(void)nth;
	if (f->concurrent && !strcmp(method, "POST") && !strncmp(path, "storage/clients", 15)) {
		f->concurrent = 0;
		put(f, "laptop1", "{\"id\":\"laptop1\",\"name\":\"Laptop, renamed\",\"type\":\"desktop\","
		    "\"commands\":[{\"command\":\"frobnicate\",\"args\":[]}]}");
	}
}

/* Sending (AS clients_engine, DESK _addClientCommand): appended to the target's record,
 * deduplicated by (command, args); a target that rewrites its record during our upload (412)
 * keeps its change and gets the command. */
static void test_send_command(void **state)
{
	struct fx *f = *state;
	cJSON *args = cJSON_Parse("[\"https://mozilla.org/\",\"" OWN "\",\"Mozilla\"]");
	const char *payload;
	char *clear = NULL;
	size_t len;

	run(f, 0);
	assert_int_equal(ds_clients_send(f->ui, "laptop1", "displayURI", args), -ENOENT); /* unknown yet */
	put(f, "laptop1", "{\"id\":\"laptop1\",\"name\":\"Laptop\",\"type\":\"desktop\",\"commands\":[]}");
	run(f, 0);
	assert_int_equal(ds_clients_send(f->ui, "laptop1", "displayURI", args), 0);
	assert_int_equal(ds_clients_send(f->ui, "laptop1", "displayURI", args), 0); /* deduplicated */
	assert_int_equal(ds_clients_send(f->ui, "laptop1", "", NULL), -EINVAL);
	f->concurrent = 1;
	ds_fake_sync15_set_hook(f->srv, target_rewrites, f);
	run(f, 0);
	ds_fake_sync15_set_hook(f->srv, NULL, NULL);
	assert_int_equal(f->concurrent, 0);
	payload = ds_fake_sync15_payload(f->srv, "clients", "laptop1");
	assert_int_equal(ds_sync15_decrypt(ds_sync15_keyring_get(&f->g.keys, "clients"), payload, &clear, &len), 0);
	cJSON *o = cJSON_Parse(clear);
	ds_free(clear);
	assert_string_equal(cJSON_GetObjectItem(o, "name")->valuestring, "Laptop, renamed");
	const cJSON *cmds = cJSON_GetObjectItem(o, "commands");
	assert_int_equal(cJSON_GetArraySize(cmds), 2);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cmds, 1), "command")->valuestring, "displayURI");
	cJSON_Delete(o);
	/* Delivered: nothing more goes up, and sending it again while it is there queues nothing. */
	ds_fake_sync15_clear_log(f->srv);
	run(f, 0);
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "POST"), 0);
	assert_int_equal(ds_clients_send(f->ui, "laptop1", "displayURI", args), 0);
	run(f, 0);
	assert_int_equal(ds_fake_sync15_count_requests(f->srv, "POST"), 0);
	cJSON_Delete(args);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_own_record_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commands_applied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_command_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_hooks_keeps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_command_not_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_clients_listed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_command, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
