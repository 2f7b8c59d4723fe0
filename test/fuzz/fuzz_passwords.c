/*
 * Login records from a server (engine/passwords: decoding, validation and fix-ups, duplicate
 * take-over, sealing into logins.sqlite) as the core applies them: see fuzz_engine.h for the
 * input format and the checks. The store is the reference one on a logins.sqlite made in the
 * scratch folder, its key sealed there too, with a few logins saved through the app's API so
 * that records can take them over; each input is rolled back.
 */
#include "test/fuzz/fuzz_common.h"
#include "test/fuzz/fuzz_engine.h"
#include "engine/passwords/ds_passwords.h"
#include "port/common/ds_port_common.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static struct ds_engine *engine;

static int64_t fixed_now(void *ud)
{
	DS_UNUSED(ud);
	return 1767225600000; /* 2026-01-01 */
}

static void seed(struct ds_passwords_store *s, const char *guid, const char *origin,
		 const char *target, const char *realm, const char *user)
{
	struct ds_login l;

	memset(&l, 0, sizeof(l));
	snprintf(l.guid, sizeof(l.guid), "%s", guid);
	l.origin = ds_strdup(origin);
	l.form_action_origin = target ? ds_strdup(target) : NULL;
	l.http_realm = realm ? ds_strdup(realm) : NULL;
	l.username = ds_strdup(user);
	l.password = ds_strdup("fuzz-password");
	if (ds_passwords_login_save(s, &l))
		fuzz_fail("cannot save a seed login");
	ds_login_clear(&l);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct ds_port_config pc = { 0 };
	struct ds_passwords_store *store, *app;
	const char *tmp = fuzz_tmpdir();
	char path[4096];
	sqlite3 *db = NULL;

	DS_UNUSED(argc);
	DS_UNUSED(argv);
	fuzz_quiet();
	if (!tmp)
		fuzz_fail("no scratch folder");
	pc.data_dir = tmp;
	pc.run_dir = tmp;
	pc.secret_dir = tmp;
	if (ds_port_paths_init(&pc))
		fuzz_fail("port paths");
	snprintf(path, sizeof(path), "%s/logins.sqlite", tmp);
	remove(path);
	/* WAL (kept in the file): a rolled-back input then creates and deletes no journal file. */
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK)
		fuzz_fail("cannot create logins.sqlite");
	sqlite3_close(db);
	if (ds_passwords_logins_open(path, fixed_now, NULL, &app))
		fuzz_fail("cannot open logins.sqlite");
	seed(app, "seedFormAAAA", "https://a.example", "https://a.example", NULL, "alice");
	seed(app, "{seed-realm-0001}", "https://b.example", NULL, "realm", "");
	seed(app, "seedAnyAAAAA", "https://c.example", "", NULL, "bob");
	ds_passwords_store_close(app);
	if (ds_passwords_logins_open(path, fixed_now, NULL, &store) ||
	    ds_passwords_engine_new(store, &engine) || engine->ops->prepare(engine))
		fuzz_fail("cannot open the passwords engine");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_engine_run(engine, data, size);
	return 0;
}
