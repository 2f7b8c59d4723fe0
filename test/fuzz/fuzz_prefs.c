/*
 * Prefs records from a server (engine/prefs: the record's decoding, which prefs apply, their
 * types, the kept prefs of other devices, then the writes into prefs.sqlite), as the core
 * applies them: see fuzz_engine.h for the input format and the checks. The database is made
 * from DS_PREFS_SCHEMA_SQL with a few settings, synced by the allow-list or by control rows;
 * each input is rolled back. The record's id is Firefox's: "e2VjODAz...NH0=" (ds_prefs.h).
 */
#include "test/fuzz/fuzz_common.h"
#include "test/fuzz/fuzz_engine.h"
#include "engine/prefs/ds_prefs.h"

#include <sqlite3.h>
#include <stdio.h>

static struct ds_engine *engine;

static const char SEED_SQL[] = DS_PREFS_SCHEMA_SQL
	"INSERT INTO prefs(name, type, value) VALUES"
	" ('browser.startup.homepage', 'string', 'https://start.example/'),"
	" ('browser.tabs.max', 'int', 50),"
	" ('services.sync.prefs.sync.browser.tabs.max', 'bool', 1),"
	" ('privacy.donottrackheader.enabled', 'bool', 1),"
	" ('services.sync.prefs.sync.privacy.donottrackheader.enabled', 'bool', 0),"
	" ('device.serial', 'string', 'TV-0001'), ('general.smoothScroll', 'bool', NULL);"
	"PRAGMA journal_mode=WAL;";

static const char *const ALLOW[] = { "browser.startup.homepage", "general.smoothScroll",
				     "privacy.donottrackheader.enabled", "browser.missing" };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct ds_prefs_options o = { .allow = ALLOW, .n_allow = DS_ARRAY_SIZE(ALLOW) };
	const char *dir;
	char path[4096];
	sqlite3 *db = NULL;

	DS_UNUSED(argc);
	DS_UNUSED(argv);
	fuzz_quiet();
	dir = fuzz_tmpdir();
	if (!dir)
		fuzz_fail("no scratch folder");
	snprintf(path, sizeof(path), "%s/prefs.sqlite", dir);
	remove(path);
	if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_exec(db, SEED_SQL, NULL, NULL, NULL) != SQLITE_OK)
		fuzz_fail("cannot create prefs.sqlite");
	sqlite3_close(db);
	o.path = path;
	if (ds_prefs_engine_new(&o, &engine) || engine->ops->prepare(engine))
		fuzz_fail("cannot open the prefs engine");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_engine_run(engine, data, size);
	return 0;
}
