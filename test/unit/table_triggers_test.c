/*
 * Change tracking of the table engine as an app sees it: the app writes with a plain SQLite
 * connection that knows nothing of datasync, and every write must show up as a pending change
 * (docs/engine-table.md, "Change log").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "sync/ds_sync.h"
#include "test/support/table_fixture.h"


/* Mark everything pending as uploaded. */
static void forget_all(struct ds_engine *e)
{
	struct tfx_changes c;
	size_t i;

	tfx_changes_get(e, &c);
	assert_int_equal(e->ops->begin(e), 0);
	for (i = 0; i < c.n; i++)
		assert_int_equal(e->ops->forget(e, c.r[i].id, c.r[i].change_seq), 0);
	assert_int_equal(e->ops->commit(e), 0);
	tfx_changes_free(&c);
}

static const char ITEMS[] = "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT UNIQUE, qty REAL);";

/* ---- tests ----------------------------------------------------------------------------------- */

static void inserts_updates_deletes_are_logged(void **state)
{
	char db[600];
	struct ds_engine *e;
	struct tfx_changes c;
	const struct ds_record *r;

	(void)state;
	tfx_new_db(db, sizeof(db), ITEMS);
	e = tfx_engine(db, "\"table\":\"items\"");
	tfx_app_exec(db, "INSERT INTO items VALUES(1, 'apple', 1.5), (2, 'pear', 2), (3, 'fig', 3);"
		     "UPDATE items SET qty = 9 WHERE id = 1; DELETE FROM items WHERE id = 2;");
	tfx_changes_get(e, &c);
	assert_int_equal(c.n, 3);
	r = tfx_find(&c, "[1]");
	assert_non_null(r);
	assert_false(r->deleted);
	assert_string_equal(r->payload, "{\"id\":1,\"name\":\"apple\",\"qty\":9.0}");
	assert_true(r->modified_ms > 1600000000000LL);
	r = tfx_find(&c, "[2]");
	assert_non_null(r);
	assert_true(r->deleted);
	assert_null(r->payload);
	assert_non_null(tfx_find(&c, "[3]"));
	/* in counter order: the delete of 2 came after the insert of 3 */
	assert_true(c.r[0].change_seq < c.r[1].change_seq && c.r[1].change_seq < c.r[2].change_seq);
	assert_string_equal(c.r[2].id, tfx_find(&c, "[2]")->id);
	assert_int_equal(tfx_app_int(db, "SELECT count(*) FROM _datasync_log WHERE op = 'd'"), 1);
	tfx_changes_free(&c);
	e->ops->close(e);
}

static void a_row_changed_twice_is_one_change_with_the_newest_counter(void **state)
{
	char db[600];
	struct ds_engine *e;
	struct tfx_changes c;
	uint64_t first;

	(void)state;
	tfx_new_db(db, sizeof(db), ITEMS);
	e = tfx_engine(db, "\"table\":\"items\"");
	tfx_app_exec(db, "INSERT INTO items VALUES(1, 'apple', 1)");
	tfx_changes_get(e, &c);
	assert_int_equal(c.n, 1);
	first = c.r[0].change_seq;
	tfx_changes_free(&c);
	tfx_app_exec(db, "UPDATE items SET qty = 2 WHERE id = 1; UPDATE items SET qty = 3 WHERE id = 1;"
		     "DELETE FROM items WHERE id = 1; INSERT INTO items VALUES(1, 'apple', 4);");
	tfx_changes_get(e, &c);
	assert_int_equal(c.n, 1);
	assert_true(c.r[0].change_seq > first);
	assert_int_equal((long long)c.r[0].change_seq, tfx_app_int(db, "SELECT n FROM _datasync_seq"));
	assert_string_equal(c.r[0].payload, "{\"id\":1,\"name\":\"apple\",\"qty\":4.0}");
	tfx_changes_free(&c);
	e->ops->close(e);
}

/*
 * The outer statement's conflict policy overrides the one of statements inside a trigger
 * (https://sqlite.org/lang_createtrigger.html): an app's UPDATE OR IGNORE must still move the
 * change to its new counter.
 */
static void or_ignore_writes_of_the_app_still_bump_the_counter(void **state)
{
	char db[600];
	struct ds_engine *e;
	long long before;

	(void)state;
	tfx_new_db(db, sizeof(db), ITEMS);
	e = tfx_engine(db, "\"table\":\"items\"");
	tfx_app_exec(db, "INSERT OR IGNORE INTO items VALUES(1, 'apple', 1)");
	before = tfx_app_int(db, "SELECT seq FROM _datasync_log");
	tfx_app_exec(db, "UPDATE OR IGNORE items SET qty = 2 WHERE id = 1");
	assert_true(tfx_app_int(db, "SELECT seq FROM _datasync_log") > before);
	assert_int_equal(tfx_app_int(db, "SELECT count(*) FROM _datasync_log"), 1);
	e->ops->close(e);
}

/*
 * REPLACE deletes the rows it conflicts with, and with recursive_triggers off (the default of
 * every connection) no DELETE trigger fires for them (https://sqlite.org/lang_conflict.html).
 * The app's own trigger below shows it; ours must still report the deleted rows.
 */
static void replace_conflicts_log_the_rows_they_delete(void **state)
{
	char db[600];
	struct ds_engine *e;
	struct tfx_changes c;

	(void)state;
	tfx_new_db(db, sizeof(db),
	       "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT UNIQUE, qty REAL);"
	       "CREATE TABLE app_deletes(n INTEGER); INSERT INTO app_deletes VALUES(0);"
	       "CREATE TRIGGER app_del AFTER DELETE ON items BEGIN"
	       " UPDATE app_deletes SET n = n + 1; END;");
	e = tfx_engine(db, "\"table\":\"items\"");
	tfx_app_exec(db, "INSERT INTO items VALUES(1, 'apple', 1), (2, 'pear', 2), (3, 'fig', 3)");
	forget_all(e);

	tfx_app_exec(db, "INSERT OR REPLACE INTO items VALUES(4, 'apple', 4)");
	assert_int_equal(tfx_app_int(db, "SELECT n FROM app_deletes"), 0); /* SQLite fired nothing */
	assert_int_equal(tfx_app_int(db, "SELECT count(*) FROM items WHERE id = 1"), 0);
	tfx_changes_get(e, &c);
	assert_int_equal(c.n, 2);
	assert_true(tfx_find(&c, "[1]")->deleted);
	assert_false(tfx_find(&c, "[4]")->deleted);
	tfx_changes_free(&c);
	forget_all(e);

	tfx_app_exec(db, "UPDATE OR REPLACE items SET name = 'pear' WHERE id = 4");
	tfx_changes_get(e, &c);
	assert_int_equal(c.n, 2);
	assert_true(tfx_find(&c, "[2]")->deleted);
	assert_string_equal(tfx_find(&c, "[4]")->payload, "{\"id\":4,\"name\":\"pear\",\"qty\":4.0}");
	tfx_changes_free(&c);
	forget_all(e);

	/* REPLACE on the key itself: same record, new content */
	tfx_app_exec(db, "REPLACE INTO items VALUES(3, 'fig', 30)");
	tfx_changes_get(e, &c);
	assert_int_equal(c.n, 1);
	assert_string_equal(tfx_find(&c, "[3]")->payload, "{\"id\":3,\"name\":\"fig\",\"qty\":30.0}");
	tfx_changes_free(&c);

	/* a REPLACE that fails leaves no trace */
	forget_all(e);
	tfx_app_exec(db, "INSERT OR IGNORE INTO items VALUES(3, 'x', 0)");
	tfx_changes_get(e, &c);
	assert_true(c.n <= 1);
	if (c.n)
		assert_string_equal(c.r[0].payload, "{\"id\":3,\"name\":\"fig\",\"qty\":30.0}");
	tfx_changes_free(&c);
	e->ops->close(e);
}

static void a_key_change_is_a_delete_and_an_upsert(void **state)
{
	char db[600];
	struct ds_engine *e;
	struct tfx_changes c;

	(void)state;
	tfx_new_db(db, sizeof(db), ITEMS);
	e = tfx_engine(db, "\"table\":\"items\"");
	tfx_app_exec(db, "INSERT INTO items VALUES(1, 'apple', 1)");
	forget_all(e);
	tfx_app_exec(db, "UPDATE items SET id = 10 WHERE id = 1");
	tfx_changes_get(e, &c);
	assert_int_equal(c.n, 2);
	assert_true(tfx_find(&c, "[1]")->deleted);
	assert_string_equal(tfx_find(&c, "[10]")->payload, "{\"id\":10,\"name\":\"apple\",\"qty\":1.0}");
	assert_int_equal(tfx_app_int(db, "SELECT op = 'd' FROM _datasync_log WHERE pk = '1'"), 1);
	tfx_changes_free(&c);
	e->ops->close(e);
}

static void applying_a_remote_record_does_not_log(void **state)
{
	char db[600];
	char id[64];
	struct ds_engine *e;
	struct ds_record r = { 0 };
	struct tfx_changes c;

	(void)state;
	tfx_new_db(db, sizeof(db), ITEMS);
	e = tfx_engine(db, "\"table\":\"items\"");
	ds_base64url_encode("[7]", 3, id, sizeof(id));
	r.id = id;
	r.payload = "{\"id\":7,\"name\":\"kiwi\",\"qty\":0.5}";
	assert_int_equal(e->ops->begin(e), 0);
	assert_int_equal(e->ops->apply(e, &r), 0);
	assert_int_equal(e->ops->commit(e), 0);
	assert_int_equal(tfx_app_int(db, "SELECT count(*) FROM items WHERE name = 'kiwi'"), 1);
	assert_int_equal(tfx_app_int(db, "SELECT count(*) FROM _datasync_log"), 0);
	/* the flag only ever lived inside our transaction */
	assert_int_equal(tfx_app_int(db, "SELECT applying FROM _datasync_state"), 0);

	r.payload = NULL;
	r.deleted = true;
	assert_int_equal(e->ops->apply(e, &r), 0); /* outside begin/commit: its own savepoint */
	assert_int_equal(tfx_app_int(db, "SELECT count(*) FROM items"), 0);
	assert_int_equal(tfx_app_int(db, "SELECT count(*) FROM _datasync_log"), 0);

	/* and the app's writes right after are logged again */
	tfx_app_exec(db, "INSERT INTO items VALUES(8, 'lime', 1)");
	tfx_changes_get(e, &c);
	assert_int_equal(c.n, 1);
	tfx_changes_free(&c);
	e->ops->close(e);
}

static void updates_of_unsynced_columns_are_not_logged(void **state)
{
	char db[600];
	struct ds_engine *e;
	struct tfx_changes c;

	(void)state;
	tfx_new_db(db, sizeof(db), ITEMS);
	e = tfx_engine(db, "\"table\":\"items\",\"columns\":[\"name\"]");
	tfx_app_exec(db, "INSERT INTO items VALUES(1, 'apple', 1)");
	forget_all(e);
	tfx_app_exec(db, "UPDATE items SET qty = 5");
	tfx_changes_get(e, &c);
	assert_int_equal(c.n, 0);
	tfx_app_exec(db, "UPDATE items SET name = 'Apple'");
	tfx_changes_get(e, &c);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.r[0].payload, "{\"id\":1,\"name\":\"Apple\"}");
	tfx_changes_free(&c);
	e->ops->close(e);
}

static void unregister_removes_every_datasync_object_and_keeps_the_data(void **state)
{
	char db[600];
	struct ds_engine *a, *b;
	struct tfx_changes c;
	const char *objs = "SELECT count(*) FROM sqlite_schema WHERE name LIKE '\\_datasync\\_%' "
			   "ESCAPE '\\'";

	(void)state;
	tfx_new_db(db, sizeof(db), "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT UNIQUE, qty REAL);"
			       "CREATE TABLE notes(k TEXT PRIMARY KEY, body TEXT);");
	a = tfx_engine(db, "\"table\":\"items\"");
	b = tfx_engine(db, "\"table\":\"notes\"");
	tfx_app_exec(db, "INSERT INTO items VALUES(1, 'apple', 1); INSERT INTO notes VALUES('a', 'b')");
	a->ops->close(a);
	b->ops->close(b);

	assert_int_equal(tfx_unregister(db, "\"table\":\"items\""), 0);
	assert_int_equal(tfx_app_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' "
				     "AND tbl_name = 'items'"), 0);
	assert_int_equal(tfx_app_int(db, "SELECT count(*) FROM _datasync_log WHERE tbl = 'items'"), 0);
	/* notes is still tracked */
	tfx_app_exec(db, "INSERT INTO notes VALUES('c', 'd'); INSERT INTO items VALUES(2, 'pear', 2)");
	b = tfx_engine(db, "\"table\":\"notes\"");
	tfx_changes_get(b, &c);
	assert_int_equal(c.n, 2);
	tfx_changes_free(&c);
	b->ops->close(b);
	assert_int_equal(tfx_app_int(db, "SELECT count(*) FROM _datasync_log"), 2);

	assert_int_equal(tfx_unregister(db, "\"table\":\"notes\""), 0);
	assert_int_equal(tfx_app_int(db, objs), 0);
	assert_int_equal(tfx_app_int(db, "SELECT count(*) FROM items"), 2);
	assert_int_equal(tfx_app_int(db, "SELECT count(*) FROM notes"), 2);
	/* the app keeps writing without any of it */
	tfx_app_exec(db, "INSERT INTO items VALUES(3, 'fig', 3); DELETE FROM notes;");
	/* unregistering again, or a database that is gone, is not an error */
	assert_int_equal(tfx_unregister(db, "\"table\":\"notes\""), 0);
	unlink(db);
	assert_int_equal(tfx_unregister(db, "\"table\":\"notes\""), 0);
	assert_int_equal(access(db, F_OK), -1); /* and it was not created */
}

static void injection_looking_names_are_only_ever_names(void **state)
{
	char db[600];
	struct ds_engine *e;
	struct tfx_changes c;
	struct ds_record r = { 0 };
	const char *extra = "\"table\":\"x\\\"; DROP TABLE victim; --\","
			    "\"columns\":[\"it's\",\"a\\\"b\"]";

	(void)state;
	tfx_new_db(db, sizeof(db),
	       "CREATE TABLE victim(v);"
	       "CREATE TABLE \"x\"\"; DROP TABLE victim; --\"(\"k'); DROP TABLE victim; --\" TEXT "
	       "PRIMARY KEY, \"it's\" INTEGER, \"a\"\"b\" TEXT, other TEXT);");
	e = tfx_engine(db, extra);
	tfx_app_exec(db, "INSERT INTO \"x\"\"; DROP TABLE victim; --\" VALUES('o''k', 1, '\"', 'z')");
	tfx_changes_get(e, &c);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.r[0].payload,
			    "{\"k'); DROP TABLE victim; --\":\"o'k\",\"it's\":1,\"a\\\"b\":\"\\\"\"}");
	r = c.r[0];
	r.payload = "{\"k'); DROP TABLE victim; --\":\"o'k\",\"it's\":2,\"a\\\"b\":\"q\"}";
	assert_int_equal(e->ops->apply(e, &r), 0);
	assert_int_equal(e->ops->forget(e, c.r[0].id, c.r[0].change_seq), 0);
	tfx_changes_free(&c);
	tfx_changes_get(e, &c);
	assert_int_equal(c.n, 0);
	e->ops->close(e);
	assert_int_equal(tfx_app_int(db, "SELECT \"it's\" FROM \"x\"\"; DROP TABLE victim; --\""), 2);
	assert_int_equal(tfx_unregister(db, extra), 0);
	assert_int_equal(tfx_app_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'victim'"), 1);
	assert_int_equal(tfx_app_int(db, "SELECT count(*) FROM sqlite_schema WHERE name LIKE '\\_d%' "
				     "ESCAPE '\\'"), 0);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(inserts_updates_deletes_are_logged),
		cmocka_unit_test(a_row_changed_twice_is_one_change_with_the_newest_counter),
		cmocka_unit_test(or_ignore_writes_of_the_app_still_bump_the_counter),
		cmocka_unit_test(replace_conflicts_log_the_rows_they_delete),
		cmocka_unit_test(a_key_change_is_a_delete_and_an_upsert),
		cmocka_unit_test(applying_a_remote_record_does_not_log),
		cmocka_unit_test(updates_of_unsynced_columns_are_not_logged),
		cmocka_unit_test(unregister_removes_every_datasync_object_and_keeps_the_data),
		cmocka_unit_test(injection_looking_names_are_only_ever_names),
	};

	return cmocka_run_group_tests(tests, tfx_setup, NULL);
}
