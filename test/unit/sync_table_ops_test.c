/*
 * The two engine ops the sync core's bounded run rests on, on the table engine: pending() looks
 * one id up in the change log, and changes_after() with DS_RECORD_STOP pages through the pending
 * changes in rounds, including the ties of mark_all() (one counter for every row), a resume
 * point that was forgotten meanwhile, and a row the app edits while the rounds go on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "sync/ds_sync.h"
#include "test/support/table_fixture.h"

static const char SCHEMA[] = "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);";

/* The record id of an integer key: base64url of the JSON key array. */
static void id_of(long long k, char *id, size_t cap)
{
	char key[32];

	snprintf(key, sizeof(key), "[%lld]", k);
	assert_true(ds_base64url_encode(key, strlen(key), id, cap) > 0);
}

static void test_pending_looks_one_id_up(void **state)
{
	struct ds_pending_info p;
	char db[600], id1[64], id2[64], id3[64], id9[64];
	struct ds_engine *e;

	DS_UNUSED(state);
	tfx_new_db(db, sizeof(db), SCHEMA);
	e = tfx_engine(db, "\"table\":\"t\"");
	tfx_app_exec(db, "INSERT INTO t VALUES(1, 'a'); INSERT INTO t VALUES(2, 'b');"
			 " INSERT INTO t VALUES(3, 'c'); DELETE FROM t WHERE id = 3;"
			 " UPDATE t SET v = 'b2' WHERE id = 2;");
	id_of(1, id1, sizeof(id1));
	id_of(2, id2, sizeof(id2));
	id_of(3, id3, sizeof(id3));
	id_of(9, id9, sizeof(id9));

	assert_int_equal(e->ops->pending(e, id1, &p), 0);
	assert_false(p.deleted);
	assert_true(p.modified_ms > 0);
	uint64_t seq1 = p.change_seq;
	assert_int_equal(e->ops->pending(e, id2, &p), 0);
	assert_true(p.change_seq > seq1); /* the update came last */
	assert_int_equal(e->ops->pending(e, id3, &p), 0);
	assert_true(p.deleted);
	assert_int_equal(e->ops->pending(e, id9, &p), -ENOENT);
	assert_int_equal(e->ops->pending(e, "not an id of this table", &p), -ENOENT);

	/* Inside a transaction the answer follows forget() at once. */
	assert_int_equal(e->ops->begin(e), 0);
	assert_int_equal(e->ops->pending(e, id2, &p), 0);
	assert_int_equal(e->ops->forget(e, id2, p.change_seq), 0);
	assert_int_equal(e->ops->pending(e, id2, &p), -ENOENT);
	assert_int_equal(e->ops->rollback(e), 0);
	assert_int_equal(e->ops->pending(e, id2, &p), 0);
	e->ops->close(e);
}

/* ---- rounds --------------------------------------------------------------------------------- */

#define ROWS 150
#define ROUND 7

struct round {
	char *id[ROUND];
	uint64_t seq[ROUND];
	size_t n;
};

static int take(const struct ds_record *r, void *user_data)
{
	struct round *rd = user_data;

	assert_true(rd->n < ROUND); /* the engine stopped when asked */
	rd->id[rd->n] = ds_strdup(r->id);
	assert_non_null(rd->id[rd->n]);
	rd->seq[rd->n++] = r->change_seq;
	return rd->n == ROUND ? DS_RECORD_STOP : 0;
}

static void round_free(struct round *rd)
{
	for (size_t i = 0; i < rd->n; i++)
		ds_free(rd->id[i]);
	rd->n = 0;
}

static int count(const struct ds_record *r, void *user_data)
{
	DS_UNUSED(r);
	(*(int *)user_data)++;
	return 0;
}

static void test_changes_after_pages_through_marked_rows(void **state)
{
	char db[600], edited[64];
	char *seen[ROWS + 1] = { 0 };
	size_t nseen = 0, rounds = 0, forgotten = 0;
	uint64_t after_seq = 0;
	char *after_id = NULL;
	struct ds_engine *e;

	DS_UNUSED(state);
	tfx_new_db(db, sizeof(db), SCHEMA);
	tfx_app_exec(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
			 " WHERE i < 150) INSERT INTO t SELECT i, 'row ' || i FROM n;");
	e = tfx_engine(db, "\"table\":\"t\"");
	/* Rows that existed before registration: one counter for all of them. */
	assert_int_equal(e->ops->mark_all(e), 0);
	id_of(1, edited, sizeof(edited));

	for (;;) {
		struct round rd = { .n = 0 };

		assert_int_equal(e->ops->changes_after(e, after_seq, after_id, take, &rd), 0);
		if (rd.n == 0)
			break;
		rounds++;
		for (size_t i = 0; i < rd.n; i++) {
			for (size_t k = 0; k < nseen; k++)
				if (strcmp(seen[k], rd.id[i]) == 0 && strcmp(rd.id[i], edited) != 0)
					fail_msg("%s delivered twice", rd.id[i]);
			assert_true(nseen < DS_ARRAY_SIZE(seen));
			seen[nseen] = ds_strdup(rd.id[i]);
			assert_non_null(seen[nseen++]);
		}
		/* Every other round forgets what it read, its resume point included; the rows of
		 * the others stay pending behind the resume point and must not come again. */
		if (rounds % 2 == 0) {
			assert_int_equal(e->ops->begin(e), 0);
			for (size_t i = 0; i < rd.n; i++)
				assert_int_equal(e->ops->forget(e, rd.id[i], rd.seq[i]), 0);
			assert_int_equal(e->ops->commit(e), 0);
			forgotten += rd.n;
		}
		/* After the second round the app edits row 1, which the first round read (keys tie
		 * on the counter and go in the order of their log key, where '1' comes first): it
		 * comes again, at the end, with its new counter. */
		if (rounds == 1)
			assert_string_equal(rd.id[0], edited);
		if (rounds == 2)
			tfx_app_exec(db, "UPDATE t SET v = 'edited' WHERE id = 1;");
		ds_free(after_id);
		after_id = rd.id[rd.n - 1];
		after_seq = rd.seq[rd.n - 1];
		rd.id[rd.n - 1] = NULL;
		rd.n--;
		round_free(&rd);
	}
	assert_int_equal(nseen, ROWS + 1);
	assert_int_equal(rounds, (ROWS + 1 + ROUND - 1) / ROUND);
	assert_string_equal(seen[ROWS], edited);
	/* What was not forgotten is still pending. Row 1 came in round 1, which kept it, and
	 * again in the last round (the 22nd), which forgot it. */
	int pending = 0;
	assert_int_equal(rounds % 2, 0);
	assert_int_equal(e->ops->changes(e, count, &pending), 0);
	assert_int_equal((size_t)pending, ROWS - forgotten);
	for (size_t i = 0; i < nseen; i++)
		ds_free(seen[i]);
	ds_free(after_id);
	e->ops->close(e);
}

static int stop_at_once(const struct ds_record *r, void *user_data)
{
	DS_UNUSED(r);
	(*(int *)user_data)++;
	return DS_RECORD_STOP;
}

static void test_stop_ends_changes_with_success(void **state)
{
	char db[600];
	struct ds_engine *e;
	int calls = 0;

	DS_UNUSED(state);
	tfx_new_db(db, sizeof(db), SCHEMA);
	e = tfx_engine(db, "\"table\":\"t\"");
	tfx_app_exec(db, "INSERT INTO t VALUES(1, 'a'); INSERT INTO t VALUES(2, 'b');");
	assert_int_equal(e->ops->changes(e, stop_at_once, &calls), 0);
	assert_int_equal(calls, 1);
	/* A resume point that is not an id of this table is an error, not a restart. */
	assert_int_equal(e->ops->changes_after(e, 1, "not an id", stop_at_once, &calls), -EINVAL);
	assert_int_equal(calls, 1);
	e->ops->close(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pending_looks_one_id_up),
		cmocka_unit_test(test_changes_after_pages_through_marked_rows),
		cmocka_unit_test(test_stop_ends_changes_with_success),
	};

	return cmocka_run_group_tests(tests, tfx_setup, NULL);
}
