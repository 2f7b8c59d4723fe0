/* places.sqlite for the history tests (needs the history engine's URL hash). */
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

#include "engine/history/ds_history.h"
#include "test/support/firefox_fixture.h"

/* places.sql with Firefox's url_hash filled in, as a browser profile would hold it. */
void ffx_make_places(const char *path)
{
	char *text = ffx_read_data("places.sql");
	sqlite3 *db;
	sqlite3_stmt *st;

	unlink(path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	ffx_sql(db, text);
	free(text);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT id, url FROM moz_places", -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		char *u = sqlite3_mprintf("UPDATE moz_places SET url_hash = %lld WHERE id = %lld",
					  (long long)ds_browser_url_hash((const char *)sqlite3_column_text(st, 1)),
					  (long long)sqlite3_column_int64(st, 0));
		ffx_sql(db, u);
		sqlite3_free(u);
	}
	sqlite3_finalize(st);
	/* WAL, as Firefox keeps places.sqlite: a commit is one append to the log, which keeps the
	 * tests quick on a busy disk. */
	ffx_sql(db, "PRAGMA journal_mode=WAL");
	sqlite3_close(db);
}

