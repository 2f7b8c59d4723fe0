/* Shared fixture of the browser engines' tests: Firefox's own databases built from test/data/firefox/. */
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

#include "engine/addons/ds_addons.h"
#include "engine/prefs/ds_prefs.h"
#include "test/support/engine_sync_fixture.h"
#include "test/support/firefox_fixture.h"

char *ffx_read_data(const char *name)
{
	return esf_read_data("firefox", name);
}

void ffx_sql(sqlite3 *db, const char *s)
{
	char *err = NULL;

	if (sqlite3_exec(db, s, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("SQL failed: %s: %s", s, err ? err : "?");
}

int64_t ffx_sql_int(sqlite3 *db, const char *q)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

void ffx_make_formhistory(const char *path)
{
	char *text = ffx_read_data("formhistory.sql");
	sqlite3 *db;

	unlink(path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	ffx_sql(db, text);
	free(text);
	sqlite3_close(db);
}


/* A device's settings (docs/engine-prefs.md): synced by the allow-list or by control rows, and
 * settings that never travel. */
void ffx_make_prefs(const char *path)
{
	sqlite3 *db;

	unlink(path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	ffx_sql(db, DS_PREFS_SCHEMA_SQL);
	ffx_sql(db, "INSERT INTO prefs(name, type, value) VALUES"
		    " ('browser.startup.homepage', 'string', 'https://start.example/'),"
		    " ('layout.spellcheckDefault', 'int', 1),"
		    " ('services.sync.prefs.sync.layout.spellcheckDefault', 'bool', 0),"
		    " ('privacy.donottrackheader.enabled', 'bool', 1),"
		    " ('services.sync.prefs.sync.privacy.donottrackheader.enabled', 'bool', 1),"
		    " ('device.serial', 'string', 'TV-0001'),"
		    " ('general.smoothScroll', 'bool', NULL),"
		    " ('browser.tabs.max', 'int', 50),"
		    " ('services.sync.prefs.sync.browser.tabs.max', 'bool', 1)");
	sqlite3_close(db);
}

/* A device's installed items (docs/engine-addons.md): two from the store for Firefox (one
 * disabled), one sideloaded, one for another application. */
void ffx_make_addons(const char *path)
{
	sqlite3 *db;

	unlink(path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	ffx_sql(db, DS_ADDONS_SCHEMA_SQL);
	ffx_sql(db, "INSERT INTO addons(guid, addonID, applicationID, enabled, source) VALUES"
		    " ('addonAAAAAAA', 'uBlock0@raymondhill.net', '" DS_ADDONS_FIREFOX_APP_ID "', 1, 'amo'),"
		    " ('addonBBBBBBB', 'jid1-MnnxcxisBPnSXQ@jetpack', '" DS_ADDONS_FIREFOX_APP_ID "', 0, 'amo'),"
		    " ('addonCCCCCCC', 'vendor-tv-guide@example.com', '" DS_ADDONS_FIREFOX_APP_ID "', 1, 'vendor'),"
		    " ('addonDDDDDDD', 'other-app@example.com', '{3550f703-e582-4d05-9a08-453d09bdfdc6}', 1, 'amo')");
	sqlite3_close(db);
}
