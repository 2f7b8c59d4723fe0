/*
 * datasyncd's look at an app table's change log (engine/table/table_pending.c): what it counts
 * between two polls, that the engine's own writes and uploads add nothing, and that it never
 * waits for an app's lock (docs/scheduler.md, "Local changes").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "core/ds_core.h"
#include "engine/table/ds_table_pending.h"
#include "sync/ds_sync.h"
#include "test/support/table_fixture.h"

static const char NOTES[] = "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);";

static struct ds_table_pending *watch(const char *db, const char *table)
{
	char *json = ds_asprintf("{\"kind\":\"table\",\"db\":\"%s\",\"table\":\"%s\"}", db, table);
	cJSON *cfg = cJSON_Parse(json);
	struct ds_table_pending *p = NULL;

	assert_non_null(cfg);
	assert_int_equal(ds_table_pending_open(cfg, &p), 0);
	cJSON_Delete(cfg);
	ds_free(json);
	return p;
}

static unsigned long poll_ok(struct ds_table_pending *p)
{
	unsigned long n = 12345;

	assert_int_equal(ds_table_pending_poll(p, &n), 0);
	return n;
}

static void insert_rows(const char *db, int from, int count)
{
	for (int i = from; i < from + count; i++) {
		char sql[96];

		/* One statement, one transaction each: an app's burst of edits. */
		snprintf(sql, sizeof(sql), "INSERT INTO notes VALUES(%d, 'note %d');", i, i);
		tfx_app_exec(db, sql);
	}
}

static void bad_configuration_is_refused(void **state)
{
	cJSON *cfg = cJSON_Parse("{\"kind\":\"table\",\"table\":\"notes\"}");
	struct ds_table_pending *p = (void *)1;

	(void)state;
	assert_int_equal(ds_table_pending_open(cfg, &p), -EINVAL);
	assert_null(p);
	cJSON_Delete(cfg);
}

static void no_database_and_no_change_log_are_enoent(void **state)
{
	char db[600], missing[700];
	struct ds_table_pending *p;
	unsigned long n;

	(void)state;
	tfx_new_db(db, sizeof(db), NOTES);
	snprintf(missing, sizeof(missing), "%s.missing", db);
	p = watch(missing, "notes");
	assert_int_equal(ds_table_pending_poll(p, &n), -ENOENT);
	assert_int_equal(n, 0);
	ds_table_pending_close(p);
	/* A database that exists but was never prepared by the engine: no log to read. */
	p = watch(db, "notes");
	assert_int_equal(ds_table_pending_poll(p, &n), -ENOENT);
	/* Nobody wrote since: the poll stops at data_version and says nothing new. */
	assert_int_equal(ds_table_pending_poll(p, &n), 0);
	assert_int_equal(n, 0);
	ds_table_pending_close(p);
}

static void a_burst_of_fifty_inserts_counts_fifty_then_nothing(void **state)
{
	char db[600];
	struct ds_engine *e;
	struct ds_table_pending *p;

	(void)state;
	tfx_new_db(db, sizeof(db), NOTES);
	e = tfx_engine(db, "\"table\":\"notes\"");
	p = watch(db, "notes");
	assert_int_equal(poll_ok(p), 0);
	insert_rows(db, 1, 50);
	assert_int_equal(poll_ok(p), 50);
	assert_int_equal(poll_ok(p), 0);
	ds_table_pending_close(p);
	e->ops->close(e);
}

static void first_poll_counts_what_was_pending_before(void **state)
{
	char db[600];
	struct ds_engine *e;
	struct ds_table_pending *p;

	(void)state;
	tfx_new_db(db, sizeof(db), NOTES);
	e = tfx_engine(db, "\"table\":\"notes\"");
	insert_rows(db, 1, 7);
	/* Edits made while datasyncd was not running are pending changes all the same. */
	p = watch(db, "notes");
	assert_int_equal(poll_ok(p), 7);
	assert_int_equal(poll_ok(p), 0);
	ds_table_pending_close(p);
	e->ops->close(e);
}

static void a_key_edited_many_times_counts_once(void **state)
{
	char db[600];
	struct ds_engine *e;
	struct ds_table_pending *p;

	(void)state;
	tfx_new_db(db, sizeof(db), NOTES);
	e = tfx_engine(db, "\"table\":\"notes\"");
	insert_rows(db, 1, 3);
	p = watch(db, "notes");
	assert_int_equal(poll_ok(p), 3);
	for (int i = 0; i < 10; i++)
		tfx_app_exec(db, "UPDATE notes SET body = body || '!' WHERE id = 2;");
	assert_int_equal(poll_ok(p), 1);
	tfx_app_exec(db, "DELETE FROM notes WHERE id = 3;");
	assert_int_equal(poll_ok(p), 1);
	ds_table_pending_close(p);
	e->ops->close(e);
}

static void uploads_and_applied_records_add_nothing(void **state)
{
	char db[600];
	struct ds_engine *e;
	struct ds_table_pending *p;
	struct tfx_changes c;
	struct ds_record r;

	(void)state;
	tfx_new_db(db, sizeof(db), NOTES);
	e = tfx_engine(db, "\"table\":\"notes\"");
	insert_rows(db, 1, 4);
	p = watch(db, "notes");
	assert_int_equal(poll_ok(p), 4);
	/* The engine uploads them: it deletes their log rows, which is a write, but no new key. */
	tfx_changes_get(e, &c);
	assert_int_equal(c.n, 4);
	assert_int_equal(e->ops->begin(e), 0);
	for (size_t i = 0; i < c.n; i++)
		assert_int_equal(e->ops->forget(e, c.r[i].id, c.r[i].change_seq), 0);
	/* ... and applies a record from the server, which its triggers do not log. */
	memset(&r, 0, sizeof(r));
	r.id = c.r[0].id;
	r.payload = "{\"id\":1,\"body\":\"from the server\"}";
	assert_int_equal(e->ops->apply(e, &r), 0);
	assert_int_equal(e->ops->commit(e), 0);
	tfx_changes_free(&c);
	assert_int_equal(poll_ok(p), 0);
	assert_int_equal(tfx_app_int(db, "SELECT count(*) FROM notes WHERE body = 'from the server'"), 1);
	/* The app edits again: only that is new. */
	insert_rows(db, 100, 2);
	assert_int_equal(poll_ok(p), 2);
	ds_table_pending_close(p);
	e->ops->close(e);
}

static void table_name_in_another_case_is_the_same_table(void **state)
{
	char db[600];
	struct ds_engine *e;
	struct ds_table_pending *p;

	(void)state;
	tfx_new_db(db, sizeof(db), NOTES);
	e = tfx_engine(db, "\"table\":\"Notes\"");
	p = watch(db, "NOTES");
	insert_rows(db, 1, 5);
	assert_int_equal(poll_ok(p), 5);
	ds_table_pending_close(p);
	e->ops->close(e);
}

static void unregister_and_register_again_restarts_the_count(void **state)
{
	char db[600];
	struct ds_engine *e;
	struct ds_table_pending *p;
	unsigned long n;

	(void)state;
	tfx_new_db(db, sizeof(db), NOTES);
	e = tfx_engine(db, "\"table\":\"notes\"");
	p = watch(db, "notes");
	insert_rows(db, 1, 20);
	assert_int_equal(poll_ok(p), 20);
	e->ops->close(e);
	assert_int_equal(tfx_unregister(db, "\"table\":\"notes\""), 0);
	/* The side tables are gone: nothing to read, and no crash on the stale statement. */
	tfx_app_exec(db, "INSERT INTO notes VALUES(500, 'untracked');");
	assert_true(ds_table_pending_poll(p, &n) < 0);
	assert_int_equal(n, 0);
	/* Registered again: the change counter starts at 0, below the 20 seen before. */
	e = tfx_engine(db, "\"table\":\"notes\"");
	insert_rows(db, 21, 3);
	assert_int_equal(poll_ok(p), 3);
	ds_table_pending_close(p);
	e->ops->close(e);
}

static void a_writer_holding_the_lock_is_not_waited_for(void **state)
{
	char db[600];
	struct ds_engine *e;
	struct ds_table_pending *p;
	sqlite3 *app;
	unsigned long n;

	(void)state;
	tfx_new_db(db, sizeof(db), NOTES);
	e = tfx_engine(db, "\"table\":\"notes\"");
	p = watch(db, "notes");
	assert_int_equal(poll_ok(p), 0);
	assert_int_equal(sqlite3_open(db, &app), SQLITE_OK);
	/* Rollback journal: an EXCLUSIVE transaction keeps every reader out until it commits. */
	assert_int_equal(sqlite3_exec(app, "PRAGMA journal_mode = DELETE; BEGIN EXCLUSIVE;"
				      " INSERT INTO notes VALUES(1, 'a'), (2, 'b');", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(ds_table_pending_poll(p, &n), -EBUSY);
	assert_int_equal(n, 0);
	assert_int_equal(sqlite3_exec(app, "COMMIT;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(app);
	/* Nothing was lost by the busy poll. */
	assert_int_equal(poll_ok(p), 2);
	ds_table_pending_close(p);
	e->ops->close(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_configuration_is_refused),
		cmocka_unit_test(no_database_and_no_change_log_are_enoent),
		cmocka_unit_test(a_burst_of_fifty_inserts_counts_fifty_then_nothing),
		cmocka_unit_test(first_poll_counts_what_was_pending_before),
		cmocka_unit_test(a_key_edited_many_times_counts_once),
		cmocka_unit_test(uploads_and_applied_records_add_nothing),
		cmocka_unit_test(table_name_in_another_case_is_the_same_table),
		cmocka_unit_test(unregister_and_register_again_restarts_the_count),
		cmocka_unit_test(a_writer_holding_the_lock_is_not_waited_for),
	};

	return cmocka_run_group_tests(tests, tfx_setup, NULL);
}
