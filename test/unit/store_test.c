/* The metadata store: schema migrations, tables, bounded run history, SQLite error mapping. */
#include "core/ds_core.h"
#include "store/ds_store.h"
#include "store/store_priv.h"
#include "sync/ds_sync.h"

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

static char g_dir[512];
static unsigned g_seq;

/* A fresh file name per test inside DS_TEST_TMP (or a private temporary folder). */
static void tmp_path(char *buf, size_t cap)
{
	if (!g_dir[0]) {
		const char *t = getenv("DS_TEST_TMP");
		if (t && *t) {
			snprintf(g_dir, sizeof(g_dir), "%s", t);
		} else {
			/* Run by hand: a private folder under TMPDIR. */
			const char *base = getenv("TMPDIR");
			snprintf(g_dir, sizeof(g_dir), "%s/ds-store-test-XXXXXX",
				 base && *base ? base : P_tmpdir);
			assert_non_null(mkdtemp(g_dir));
		}
	}
	snprintf(buf, cap, "%s/store-%u-%u.db", g_dir, (unsigned)getpid(), ++g_seq);
}

static struct ds_store *open_new(char *path, size_t cap)
{
	struct ds_store *s = NULL;

	tmp_path(path, cap);
	assert_int_equal(ds_store_open(path, &s), 0);
	return s;
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void test_new_store_has_latest_schema(void **state)
{
	char path[600];
	struct ds_store *s = open_new(path, sizeof(path));

	DS_UNUSED(state);
	assert_int_equal(ds_store_schema_version(s), DS_STORE_SCHEMA_LATEST);
	ds_store_close(s);
	/* Reopening an up-to-date file migrates nothing and keeps the version. */
	assert_int_equal(ds_store_open(path, &s), 0);
	assert_int_equal(ds_store_schema_version(s), DS_STORE_SCHEMA_LATEST);
	ds_store_close(s);
}

static void test_v0_file_migrates(void **state)
{
	char path[600], cur[DS_CURSOR_MAX], ep[DS_CURSOR_MAX];
	struct ds_store *s = NULL;

	DS_UNUSED(state);
	tmp_path(path, sizeof(path));
	/* An SQLite file at user_version 0 with something unrelated in it. */
	raw_exec(path, "CREATE TABLE unrelated(x); INSERT INTO unrelated VALUES(1);");
	assert_int_equal(ds_store_open(path, &s), 0);
	assert_int_equal(ds_store_schema_version(s), DS_STORE_SCHEMA_LATEST);
	assert_int_equal(ds_store_cursor_set(s, "c", "7", "e"), 0);
	assert_int_equal(ds_store_cursor_get(s, "c", cur, sizeof(cur), ep, sizeof(ep)), 0);
	assert_string_equal(cur, "7");
	ds_store_close(s);
}

static void test_v1_file_migrates_and_keeps_data(void **state)
{
	char path[600], cur[DS_CURSOR_MAX], ep[DS_CURSOR_MAX];
	struct ds_store *s = NULL;
	sqlite3_stmt *st;

	DS_UNUSED(state);
	tmp_path(path, sizeof(path));
	/* The version-1 schema as released, with a cursor in it. */
	raw_exec(path,
		 "CREATE TABLE collections(name TEXT PRIMARY KEY NOT NULL, reg TEXT NOT NULL,"
		 " enabled INTEGER NOT NULL DEFAULT 1, created_ms INTEGER NOT NULL);"
		 "CREATE TABLE cursors(name TEXT PRIMARY KEY NOT NULL, cursor TEXT NOT NULL DEFAULT '',"
		 " epoch TEXT NOT NULL DEFAULT '');"
		 "CREATE TABLE runs(id INTEGER PRIMARY KEY, name TEXT NOT NULL, started_ms INTEGER NOT NULL,"
		 " finished_ms INTEGER NOT NULL, fetched INTEGER NOT NULL, applied INTEGER NOT NULL,"
		 " uploaded INTEGER NOT NULL, conflicts INTEGER NOT NULL, errors INTEGER NOT NULL,"
		 " result INTEGER NOT NULL, message TEXT NOT NULL);"
		 "CREATE TABLE kv(key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);"
		 "INSERT INTO cursors VALUES('alarms', '42', 'ep1');"
		 "PRAGMA user_version=1;");
	assert_int_equal(ds_store_open(path, &s), 0);
	assert_int_equal(ds_store_schema_version(s), 2);
	assert_int_equal(ds_store_cursor_get(s, "alarms", cur, sizeof(cur), ep, sizeof(ep)), 0);
	assert_string_equal(cur, "42");
	assert_string_equal(ep, "ep1");
	assert_int_equal(sqlite3_prepare_v2(ds_store_db(s),
					    "SELECT 1 FROM sqlite_master WHERE name='runs_by_name'", -1,
					    &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	sqlite3_finalize(st);
	ds_store_close(s);
}

static void test_newer_schema_is_refused(void **state)
{
	char path[600];
	struct ds_store *s = (struct ds_store *)&s;

	DS_UNUSED(state);
	tmp_path(path, sizeof(path));
	raw_exec(path, "CREATE TABLE kv(key, value); PRAGMA user_version=99;");
	assert_int_equal(ds_store_open(path, &s), -ENOTSUP);
	assert_null(s);
	/* Refusing must not have touched the file. */
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 99);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void test_not_a_database_is_eilseq(void **state)
{
	char path[600];
	struct ds_store *s = NULL;
	FILE *f;

	DS_UNUSED(state);
	tmp_path(path, sizeof(path));
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 200; i++)
		fputs("this is not an sqlite file at all. ", f);
	fclose(f);
	assert_int_equal(ds_store_open(path, &s), -EILSEQ);
	assert_null(s);
}

static void test_open_bad_arguments(void **state)
{
	struct ds_store *s = NULL;

	DS_UNUSED(state);
	assert_int_equal(ds_store_open("", &s), -EINVAL);
	assert_int_equal(ds_store_open(NULL, &s), -EINVAL);
	/* A folder that does not exist cannot hold the file. */
	char path[600];
	tmp_path(path, sizeof(path));
	strcat(path, "/missing/dir/store.db");
	assert_true(ds_store_open(path, &s) < 0);
	assert_null(s);
}

static void test_sqlite_errors_map_to_errno(void **state)
{
	DS_UNUSED(state);
	assert_int_equal(ds_store_errno(SQLITE_OK), 0);
	assert_int_equal(ds_store_errno(SQLITE_FULL), -ENOSPC);
	assert_int_equal(ds_store_errno(SQLITE_READONLY), -EROFS);
	assert_int_equal(ds_store_errno(SQLITE_READONLY_DBMOVED), -EROFS);
	assert_int_equal(ds_store_errno(SQLITE_CORRUPT), -EILSEQ);
	assert_int_equal(ds_store_errno(SQLITE_NOTADB), -EILSEQ);
	assert_int_equal(ds_store_errno(SQLITE_BUSY), -EBUSY);
	assert_int_equal(ds_store_errno(SQLITE_BUSY_SNAPSHOT), -EBUSY);
	assert_int_equal(ds_store_errno(SQLITE_NOMEM), -ENOMEM);
	assert_int_equal(ds_store_errno(SQLITE_IOERR_FSYNC), -EIO);
}

static void test_full_disk_is_enospc(void **state)
{
	char path[600], big[4000];
	struct ds_store *s = open_new(path, sizeof(path));

	DS_UNUSED(state);
	/* SQLite clamps the limit to the current size: the next write that needs a page fails
	 * with SQLITE_FULL, as on a full flash partition. */
	assert_int_equal(sqlite3_exec(ds_store_db(s), "PRAGMA max_page_count=1", NULL, NULL, NULL),
			 SQLITE_OK);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	int rc = 0;
	for (int i = 0; i < 20 && rc == 0; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i);
		rc = ds_store_kv_set(s, key, big);
	}
	assert_int_equal(rc, -ENOSPC);
	ds_store_close(s);
}

static void test_read_only_is_erofs(void **state)
{
	char path[600];
	struct ds_store *s = open_new(path, sizeof(path));

	DS_UNUSED(state);
	assert_int_equal(sqlite3_exec(ds_store_db(s), "PRAGMA query_only=1", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(ds_store_kv_set(s, "k", "v"), -EROFS);
	ds_store_close(s);
}

static void test_locked_by_another_writer_is_ebusy(void **state)
{
	char path[600];
	struct ds_store *s = open_new(path, sizeof(path));
	sqlite3 *other;

	DS_UNUSED(state);
	sqlite3_busy_timeout(ds_store_db(s), 0);
	assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(ds_store_kv_set(s, "k", "v"), -EBUSY);
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);
	assert_int_equal(ds_store_kv_set(s, "k", "v"), 0);
	ds_store_close(s);
}

static void test_collections(void **state)
{
	char path[600];
	struct ds_store *s = open_new(path, sizeof(path));
	cJSON *reg = cJSON_Parse("{\"name\":\"alarms\",\"engine\":{\"kind\":\"table\"},"
				 "\"remote\":{\"kind\":\"dir\"},\"enabled\":false}");
	cJSON *out = NULL, *list = NULL;

	DS_UNUSED(state);
	assert_int_equal(ds_store_collection_get(s, "alarms", &out), -ENOENT);
	assert_int_equal(ds_store_collection_put(s, "alarms", reg), 0);
	assert_int_equal(ds_store_collection_get(s, "alarms", &out), 0);
	/* "enabled" is the store's, not the registration's. */
	assert_null(cJSON_GetObjectItemCaseSensitive(out, "enabled"));
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(
				    cJSON_GetObjectItemCaseSensitive(out, "engine"), "kind")->valuestring,
			    "table");
	cJSON_Delete(out);

	assert_int_equal(ds_store_collection_put(s, "notes", reg), 0);
	assert_int_equal(ds_store_collection_enable(s, "alarms", false), 0);
	assert_int_equal(ds_store_collection_enable(s, "nope", false), -ENOENT);
	assert_int_equal(ds_store_collection_list(s, &list), 0);
	assert_int_equal(cJSON_GetArraySize(list), 2);
	cJSON *a = cJSON_GetArrayItem(list, 0), *n = cJSON_GetArrayItem(list, 1);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(a, "enabled")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(n, "enabled")));
	cJSON_Delete(list);

	/* Re-registering keeps the enabled flag. */
	assert_int_equal(ds_store_collection_put(s, "alarms", reg), 0);
	assert_int_equal(ds_store_collection_list(s, &list), 0);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(list, 0),
								   "enabled")));
	cJSON_Delete(list);

	/* Deleting a collection takes its cursor and runs with it. */
	struct ds_run_stats st = { .result = 0 };
	char cur[DS_CURSOR_MAX], ep[DS_CURSOR_MAX];
	assert_int_equal(ds_store_cursor_set(s, "alarms", "5", "e"), 0);
	assert_int_equal(ds_store_run_record(s, "alarms", &st), 0);
	assert_int_equal(ds_store_collection_del(s, "alarms"), 0);
	assert_int_equal(ds_store_collection_del(s, "alarms"), -ENOENT);
	assert_int_equal(ds_store_cursor_get(s, "alarms", cur, sizeof(cur), ep, sizeof(ep)), 0);
	assert_string_equal(cur, "");
	assert_int_equal(ds_store_run_last(s, "alarms", &st), -ENOENT);
	assert_int_equal(ds_store_collection_put(s, "x", NULL), -EINVAL);
	cJSON_Delete(reg);
	ds_store_close(s);
}

static void test_cursors(void **state)
{
	char path[600], cur[DS_CURSOR_MAX], ep[DS_CURSOR_MAX], small[2];
	char toolong[DS_CURSOR_MAX + 1];
	struct ds_store *s = open_new(path, sizeof(path));

	DS_UNUSED(state);
	assert_int_equal(ds_store_cursor_get(s, "c", cur, sizeof(cur), ep, sizeof(ep)), 0);
	assert_string_equal(cur, "");
	assert_string_equal(ep, "");
	assert_int_equal(ds_store_cursor_set(s, "c", "1700000000123", "epoch-a"), 0);
	assert_int_equal(ds_store_cursor_set(s, "c", "1700000000456", "epoch-a"), 0);
	assert_int_equal(ds_store_cursor_get(s, "c", cur, sizeof(cur), ep, sizeof(ep)), 0);
	assert_string_equal(cur, "1700000000456");
	assert_string_equal(ep, "epoch-a");
	assert_int_equal(ds_store_cursor_get(s, "c", small, sizeof(small), ep, sizeof(ep)), -ENOSPC);
	memset(toolong, '9', sizeof(toolong) - 1);
	toolong[sizeof(toolong) - 1] = '\0';
	assert_int_equal(ds_store_cursor_set(s, "c", toolong, ""), -EINVAL);
	ds_store_close(s);
	/* It is on disk. */
	assert_int_equal(ds_store_open(path, &s), 0);
	assert_int_equal(ds_store_cursor_get(s, "c", cur, sizeof(cur), ep, sizeof(ep)), 0);
	assert_string_equal(cur, "1700000000456");
	ds_store_close(s);
}

static void test_run_history_keeps_last_20(void **state)
{
	char path[600];
	struct ds_store *s = open_new(path, sizeof(path));
	struct ds_run_stats st, hist[30];

	DS_UNUSED(state);
	assert_int_equal(ds_store_run_last(s, "c", &st), -ENOENT);
	for (int i = 1; i <= 25; i++) {
		memset(&st, 0, sizeof(st));
		st.started_ms = 1000 * i;
		st.finished_ms = 1000 * i + 5;
		st.fetched = (unsigned long)i;
		st.applied = 2;
		st.uploaded = 3;
		st.conflicts = 4;
		st.errors = 5;
		st.result = i == 25 ? -ESTALE : 0;
		snprintf(st.message, sizeof(st.message), "run %d", i);
		assert_int_equal(ds_store_run_record(s, "c", &st), 0);
		assert_int_equal(ds_store_run_record(s, "other", &st), 0);
	}
	assert_int_equal(ds_store_run_history(s, "c", hist, DS_ARRAY_SIZE(hist)), DS_STORE_RUN_HISTORY);
	assert_int_equal(hist[0].fetched, 25);
	assert_int_equal(hist[0].result, -ESTALE);
	assert_string_equal(hist[0].message, "run 25");
	assert_int_equal(hist[19].fetched, 6);
	assert_int_equal(hist[19].started_ms, 6000);
	assert_int_equal(hist[19].finished_ms, 6005);
	assert_int_equal(hist[19].conflicts, 4);
	assert_int_equal(ds_store_run_last(s, "c", &st), 0);
	assert_string_equal(st.message, "run 25");
	/* Another collection's history is its own. */
	assert_int_equal(ds_store_run_history(s, "other", hist, 3), 3);
	ds_store_close(s);
}

static void test_kv(void **state)
{
	char path[600], buf[16];
	struct ds_store *s = open_new(path, sizeof(path));

	DS_UNUSED(state);
	assert_int_equal(ds_store_kv_get(s, "device_id", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(ds_store_kv_set(s, "device_id", "abc123"), 0);
	assert_int_equal(ds_store_kv_get(s, "device_id", buf, sizeof(buf)), 6);
	assert_string_equal(buf, "abc123");
	assert_int_equal(ds_store_kv_set(s, "device_id", "0123456789abcdef"), 0);
	assert_int_equal(ds_store_kv_get(s, "device_id", buf, sizeof(buf)), -ENOSPC);
	assert_int_equal(ds_store_kv_set(s, "", "x"), -EINVAL);
	ds_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_store_has_latest_schema),
		cmocka_unit_test(test_v0_file_migrates),
		cmocka_unit_test(test_v1_file_migrates_and_keeps_data),
		cmocka_unit_test(test_newer_schema_is_refused),
		cmocka_unit_test(test_not_a_database_is_eilseq),
		cmocka_unit_test(test_open_bad_arguments),
		cmocka_unit_test(test_sqlite_errors_map_to_errno),
		cmocka_unit_test(test_full_disk_is_enospc),
		cmocka_unit_test(test_read_only_is_erofs),
		cmocka_unit_test(test_locked_by_another_writer_is_ebusy),
		cmocka_unit_test(test_collections),
		cmocka_unit_test(test_cursors),
		cmocka_unit_test(test_run_history_keeps_last_20),
		cmocka_unit_test(test_kv),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
