/*
 * Addons records from a server (engine/addons: the record's decoding, the store and application
 * rules, renames by addonID, the enabled state of installed items and the wishes left for the
 * package manager), as the core applies them: see fuzz_engine.h for the input format and the
 * checks. The database is made from DS_ADDONS_SCHEMA_SQL with a few installed items; each input
 * is rolled back.
 */
#include "test/fuzz/fuzz_common.h"
#include "test/fuzz/fuzz_engine.h"
#include "engine/addons/ds_addons.h"

#include <sqlite3.h>
#include <stdio.h>

static struct ds_engine *engine;

static const char SEED_SQL[] = DS_ADDONS_SCHEMA_SQL
	"INSERT INTO addons(guid, addonID, applicationID, enabled, source) VALUES"
	" ('addonAAAAAAA', 'uBlock0@raymondhill.net', '" DS_ADDONS_FIREFOX_APP_ID "', 1, 'amo'),"
	" ('addonBBBBBBB', 'jid1-MnnxcxisBPnSXQ@jetpack', '" DS_ADDONS_FIREFOX_APP_ID "', 0, 'amo'),"
	" ('addonCCCCCCC', 'vendor-tv-guide@example.com', '" DS_ADDONS_FIREFOX_APP_ID "', 1, 'vendor'),"
	" ('addonDDDDDDD', 'other-app@example.com', '{3550f703-e582-4d05-9a08-453d09bdfdc6}', 1, 'amo');"
	"PRAGMA journal_mode=WAL;";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct ds_addons_options o = { 0 };
	const char *dir;
	char path[4096];
	sqlite3 *db = NULL;

	DS_UNUSED(argc);
	DS_UNUSED(argv);
	fuzz_quiet();
	dir = fuzz_tmpdir();
	if (!dir)
		fuzz_fail("no scratch folder");
	snprintf(path, sizeof(path), "%s/addons.sqlite", dir);
	remove(path);
	if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_exec(db, SEED_SQL, NULL, NULL, NULL) != SQLITE_OK)
		fuzz_fail("cannot create addons.sqlite");
	sqlite3_close(db);
	o.path = path;
	if (ds_addons_engine_new(&o, &engine) || engine->ops->prepare(engine))
		fuzz_fail("cannot open the addons engine");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_engine_run(engine, data, size);
	return 0;
}
