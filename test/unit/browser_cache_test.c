/*
 * The page cache of the engines' connections to a browser database (ds_browser_db_cache,
 * docs/engine-history.md "Memory"): bounded to CONFIG_DS_ENGINE_SQLITE_CACHE_KIB outside write
 * transactions and CONFIG_DS_ENGINE_SQLITE_WRITE_CACHE_KIB inside, on our connection only.
 */
#include "core/ds_core.h"
#include "engine/browser/ds_browser_sqlite.h"
#include "test/support/engine_sync_fixture.h"

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

#define READ_KIB CONFIG_DS_ENGINE_SQLITE_CACHE_KIB
#define WRITE_KIB DS_MAX(CONFIG_DS_ENGINE_SQLITE_CACHE_KIB, CONFIG_DS_ENGINE_SQLITE_WRITE_CACHE_KIB)

/* Rows of about 1 KiB: the table is several times either cache. */
#define ROWS (4 * WRITE_KIB)

struct fx {
	char path[600];
	sqlite3 *app; /* the browser's own connection */
	sqlite3 *ours;
};

static int64_t int_of(sqlite3 *db, const char *q)
{
	sqlite3_stmt *st;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Bytes of page cache the connection holds now. */
static int cache_used(sqlite3 *db)
{
	int cur = 0, hi = 0;

	assert_int_equal(sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_USED, &cur, &hi, 0), SQLITE_OK);
	return cur;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char sql[256];

	assert_non_null(f);
	esf_db_path(f->path, sizeof(f->path), "cache");
	esf_open_db(f->path, &f->app);
	assert_int_equal(sqlite3_exec(f->app, "PRAGMA journal_mode=WAL;"
					      "CREATE TABLE big(id INTEGER PRIMARY KEY, v BLOB);",
				      NULL, NULL, NULL), SQLITE_OK);
	snprintf(sql, sizeof(sql), "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
		 " WHERE i < %d) INSERT INTO big SELECT i, randomblob(1000) FROM n", ROWS);
	assert_int_equal(sqlite3_exec(f->app, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(ds_browser_db_open(f->path, &f->ours), 0);
	assert_int_equal(ds_browser_log_install(f->ours), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	sqlite3_close(f->ours);
	esf_engine_close(NULL, f->app, f->path);
	free(f);
	return 0;
}

static void test_our_connection_small_cache_the_browsers_untouched(void **state)
{
	struct fx *f = *state;
	int64_t app_default = int_of(f->app, "PRAGMA cache_size");

	assert_int_equal(int_of(f->ours, "PRAGMA cache_size"), -READ_KIB);
	assert_int_equal(int_of(f->app, "PRAGMA cache_size"), app_default);
	/* Reading the whole table: the cache stays within its bound (pages plus SQLite's header
	 * per page, under 10%), while the browser's connection, at its default, holds more. */
	assert_int_equal(int_of(f->ours, "SELECT sum(length(v)) FROM big"), (int64_t)ROWS * 1000);
	assert_true(cache_used(f->ours) <= READ_KIB * 1024 * 11 / 10);
	if (-app_default > 2 * READ_KIB) {
		assert_int_equal(int_of(f->app, "SELECT sum(length(v)) FROM big"), (int64_t)ROWS * 1000);
		assert_true(cache_used(f->app) > READ_KIB * 1024 * 2);
	}
}

static void test_write_transaction_gets_the_larger_cache_then_gives_it_back(void **state)
{
	struct fx *f = *state;

	assert_int_equal(ds_browser_log_begin(f->ours), 0);
	assert_int_equal(int_of(f->ours, "PRAGMA cache_size"), -WRITE_KIB);
	/* Every row rewritten: more dirty pages than the cache holds, and the cache full. */
	assert_int_equal(sqlite3_exec(f->ours, "UPDATE big SET v = randomblob(1000)", NULL, NULL,
				      NULL), SQLITE_OK);
	assert_true(cache_used(f->ours) > READ_KIB * 1024);
	assert_true(cache_used(f->ours) <= WRITE_KIB * 1024 * 11 / 10);
	assert_int_equal(ds_browser_log_commit(f->ours), 0);
	assert_int_equal(int_of(f->ours, "PRAGMA cache_size"), -READ_KIB);
	/* The pages over the small cache were freed at the commit. */
	assert_true(cache_used(f->ours) <= READ_KIB * 1024 * 11 / 10);

	assert_int_equal(ds_browser_log_begin(f->ours), 0);
	assert_int_equal(int_of(f->ours, "PRAGMA cache_size"), -WRITE_KIB);
	assert_int_equal(sqlite3_exec(f->ours, "DELETE FROM big", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(ds_browser_log_rollback(f->ours), 0);
	assert_int_equal(int_of(f->ours, "PRAGMA cache_size"), -READ_KIB);
	assert_int_equal(int_of(f->app, "SELECT count(*) FROM big"), ROWS);
}

static void test_a_file_that_is_no_database_is_left_to_the_schema_check(void **state)
{
	struct fx *f = *state;
	char junk[700];
	sqlite3 *db = NULL;
	FILE *fp;

	snprintf(junk, sizeof(junk), "%s.junk", f->path);
	fp = fopen(junk, "wb");
	assert_non_null(fp);
	fputs("not an SQLite database, only text long enough to stand for a header page......", fp);
	fclose(fp);
	/* Opened (the pragma's failure is the caller's schema check's to report), and the first
	 * statement then says what the file is. */
	assert_int_equal(ds_browser_db_open(junk, &db), 0);
	assert_int_equal(ds_browser_exec(db, "SELECT 1 FROM sqlite_master LIMIT 1"), -EILSEQ);
	sqlite3_close(db);
	unlink(junk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_our_connection_small_cache_the_browsers_untouched,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_write_transaction_gets_the_larger_cache_then_gives_it_back, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_a_file_that_is_no_database_is_left_to_the_schema_check, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
