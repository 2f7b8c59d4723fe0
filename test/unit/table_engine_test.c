/*
 * The table engine through its ops (component/sync/ds_sync.h): records, ids, types, forget
 * counters, schema changes and bad input (docs/engine-table.md).
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


/* First column of every row, "|"-joined, into a static buffer. */
static const char *app_text(const char *db, const char *sql)
{
	static char out[4096];
	sqlite3 *h;
	sqlite3_stmt *st;
	size_t len = 0;

	out[0] = '\0';
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("app SQL failed: %s\n%s", sqlite3_errmsg(h), sql);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);

		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", len ? "|" : "",
					t ? t : "");
		assert_true(len < sizeof(out));
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	return out;
}

static int engine_try(const char *db, const char *extra, struct ds_engine **e)
{
	char *json = ds_asprintf("{\"kind\":\"table\",\"db\":\"%s\",%s}", db, extra);
	cJSON *cfg = cJSON_Parse(json);
	int rc;

	assert_non_null(cfg);
	rc = ds_engine_open(cfg, e);
	cJSON_Delete(cfg);
	ds_free(json);
	return rc;
}

static int apply1(struct ds_engine *e, const char *key_json, const char *payload)
{
	char id[512];
	struct ds_record r = { 0 };
	int rc;

	assert_true(ds_base64url_encode(key_json, strlen(key_json), id, sizeof(id)) > 0);
	r.id = id;
	r.payload = (char *)payload;
	r.deleted = payload == NULL;
	assert_int_equal(e->ops->begin(e), 0);
	rc = e->ops->apply(e, &r);
	assert_int_equal(e->ops->commit(e), 0);
	return rc;
}

/* ---- record format --------------------------------------------------------------------------- */

/* Every storage class, on columns without affinity and on typed ones, must arrive with the same
 * typeof() and value after payload JSON -> apply into another database. */
static void types_round_trip_through_the_payload(void **state)
{
	static const char schema[] =
		"CREATE TABLE v(id INTEGER PRIMARY KEY, a, b, c, d, e, f, g, h);"
		"CREATE TABLE t(id TEXT PRIMARY KEY, i INTEGER, r REAL, s TEXT, b BLOB, n NUMERIC);";
	static const char rows[] =
		"INSERT INTO v VALUES(1, 42, 3.0, 'h\xc3\xa9llo \xe2\x9c\x93 \"q\" \\ \n\t', NULL,"
		" x'00ff0001', 0.1, -9223372036854775808, 1e300);"
		"INSERT INTO v VALUES(2, 9223372036854775807, 0.30000000000000004, '', x'', -0.0,"
		" 9e999, -9e999, 2.5e-308);"
		"INSERT INTO t VALUES('k\xe2\x82\xac', 7, 3.0, 'x', x'00', '12.0');"
		"INSERT INTO t VALUES('z', NULL, 1, 2, 'text in a blob column', 1.5);";
	static const char *const probes[] = {
		"SELECT typeof(a)||typeof(b)||typeof(c)||typeof(d)||typeof(e)||typeof(f)||typeof(g)"
		"||typeof(h)||quote(a)||quote(b)||quote(c)||quote(d)||quote(e)||quote(f)||quote(g)"
		"||quote(h) FROM v ORDER BY id",
		"SELECT typeof(i)||typeof(r)||typeof(s)||typeof(b)||typeof(n)||quote(i)||quote(r)"
		"||quote(s)||quote(b)||quote(n)||quote(id) FROM t ORDER BY id",
	};
	char src[600], dst[600], want[4096];
	struct ds_engine *es[2], *ed[2];
	const char *tables[2] = { "\"table\":\"v\"", "\"table\":\"t\"" };
	struct tfx_changes c;
	size_t i, k;

	(void)state;
	tfx_new_db(src, sizeof(src), schema);
	tfx_new_db(dst, sizeof(dst), schema);
	for (k = 0; k < 2; k++) {
		es[k] = tfx_engine(src, tables[k]);
		ed[k] = tfx_engine(dst, tables[k]);
	}
	tfx_app_exec(src, rows);
	for (k = 0; k < 2; k++) {
		tfx_changes_get(es[k], &c);
		assert_int_equal(c.n, 2);
		assert_int_equal(ed[k]->ops->begin(ed[k]), 0);
		for (i = 0; i < c.n; i++)
			assert_int_equal(ed[k]->ops->apply(ed[k], &c.r[i]), 0);
		assert_int_equal(ed[k]->ops->commit(ed[k]), 0);
		if (k == 0) {
			/* the encoding itself: reals keep a point, blobs and infinities are tagged */
			const struct ds_record *r = tfx_find(&c, "[1]");

			assert_non_null(strstr(r->payload, "\"b\":3.0,"));
			assert_non_null(strstr(r->payload, "\"e\":{\"$blob\":\"AP8AAQ==\"}"));
			assert_non_null(strstr(r->payload, "\"g\":-9223372036854775808,"));
			r = tfx_find(&c, "[2]");
			assert_non_null(strstr(r->payload, "\"f\":{\"$real\":\"inf\"},"));
			assert_non_null(strstr(r->payload, "\"g\":{\"$real\":\"-inf\"},"));
			assert_non_null(strstr(r->payload, "\"b\":0.30000000000000004,"));
		}
		tfx_changes_free(&c);
		snprintf(want, sizeof(want), "%s", app_text(src, probes[k]));
		assert_string_equal(app_text(dst, probes[k]), want);
		assert_int_equal(tfx_app_int(dst, "SELECT count(*) FROM _datasync_log"), 0);
		es[k]->ops->close(es[k]);
		ed[k]->ops->close(ed[k]);
	}
}

static void record_ids_are_url_safe_and_lead_back_to_the_row(void **state)
{
	char db[600];
	struct ds_engine *e;
	struct tfx_changes c;
	struct ds_record r;
	size_t i;

	(void)state;
	tfx_new_db(db, sizeof(db), "CREATE TABLE m(a TEXT, b INTEGER, x, PRIMARY KEY(a, b));");
	e = tfx_engine(db, "\"table\":\"m\"");
	tfx_app_exec(db, "INSERT INTO m VALUES('\xe2\x82\xac/?+=&', 1, 'one'), ('\xe2\x82\xac/?+=&', 2, 'two')");
	tfx_changes_get(e, &c);
	assert_int_equal(c.n, 2);
	assert_string_not_equal(c.r[0].id, c.r[1].id);
	for (i = 0; i < c.n; i++) {
		assert_int_equal(strspn(c.r[i].id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
						   "0123456789-_"), strlen(c.r[i].id));
		assert_int_equal(e->ops->get(e, c.r[i].id, &r), 0);
		assert_string_equal(r.id, c.r[i].id);
		assert_string_equal(r.payload, c.r[i].payload);
		assert_int_equal(r.change_seq, c.r[i].change_seq);
		ds_free(r.id);
		ds_free(r.payload);
	}
	assert_non_null(tfx_find(&c, "[\"\xe2\x82\xac/?+=&\",2]"));
	/* a remote tombstone finds its row through the id alone */
	assert_int_equal(apply1(e, "[\"\xe2\x82\xac/?+=&\",1]", NULL), 0);
	assert_string_equal(app_text(db, "SELECT x FROM m"), "two");
	/* ids that are not canonical, or not ours, name no row */
	assert_int_equal(e->ops->get(e, "WzFd", &r), -ENOENT);          /* [1]: one value of two */
	assert_int_equal(e->ops->get(e, "not base64!", &r), -ENOENT);
	assert_int_equal(e->ops->get(e, tfx_find(&c, "[\"\xe2\x82\xac/?+=&\",1]")->id, &r), -ENOENT);
	tfx_changes_free(&c);
	e->ops->close(e);
}

/* ---- the crash-safety rules of ds_sync.h ----------------------------------------------------- */

static void forget_drops_a_change_only_up_to_its_counter(void **state)
{
	char db[600];
	struct ds_engine *e;
	struct tfx_changes c, later;

	(void)state;
	tfx_new_db(db, sizeof(db), "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);");
	e = tfx_engine(db, "\"table\":\"t\"");
	tfx_app_exec(db, "INSERT INTO t VALUES(1, 'a')");
	tfx_changes_get(e, &c); /* "uploaded" */
	tfx_app_exec(db, "UPDATE t SET v = 'b'"); /* edited while the upload ran */
	assert_int_equal(e->ops->begin(e), 0);
	assert_int_equal(e->ops->forget(e, c.r[0].id, c.r[0].change_seq), 0);
	assert_int_equal(e->ops->commit(e), 0);
	tfx_changes_get(e, &later);
	assert_int_equal(later.n, 1);
	assert_true(later.r[0].change_seq > c.r[0].change_seq);
	assert_string_equal(later.r[0].payload, "{\"id\":1,\"v\":\"b\"}");
	assert_int_equal(e->ops->forget(e, later.r[0].id, later.r[0].change_seq), 0);
	tfx_changes_free(&later);
	tfx_changes_get(e, &later);
	assert_int_equal(later.n, 0);
	/* forgetting what is not pending, or an id that is not ours, is harmless */
	assert_int_equal(e->ops->forget(e, c.r[0].id, c.r[0].change_seq), 0);
	assert_int_equal(e->ops->forget(e, "garbage", 99), 0);
	tfx_changes_free(&c);
	e->ops->close(e);
}

static void apply_is_idempotent_and_keeps_unsent_columns(void **state)
{
	char db[600];
	struct ds_engine *e;
	const char *p = "{\"id\":5,\"v\":\"x\",\"w\":2}";

	(void)state;
	tfx_new_db(db, sizeof(db), "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w INTEGER, z TEXT DEFAULT 'd');");
	e = tfx_engine(db, "\"table\":\"t\"");
	assert_int_equal(apply1(e, "[5]", p), 0);
	assert_int_equal(apply1(e, "[5]", p), 0);
	assert_string_equal(app_text(db, "SELECT id||v||w||z FROM t"), "5x2d");
	tfx_app_exec(db, "UPDATE t SET z = 'local'");
	forget_all(e);
	assert_int_equal(apply1(e, "[5]", "{\"id\":5,\"v\":\"y\"}"), 0); /* no w, no z: kept */
	assert_string_equal(app_text(db, "SELECT id||v||w||z FROM t"), "5y2local");
	assert_int_equal(apply1(e, "[5]", NULL), 0);
	assert_int_equal(apply1(e, "[5]", NULL), 0);
	assert_int_equal(tfx_app_int(db, "SELECT count(*) FROM t"), 0);
	/* a key holding NULL (allowed in a non-INTEGER PRIMARY KEY) still upserts one row */
	tfx_app_exec(db, "CREATE TABLE n(k TEXT PRIMARY KEY, v)");
	e->ops->close(e);
	e = tfx_engine(db, "\"table\":\"n\"");
	assert_int_equal(apply1(e, "[null]", "{\"k\":null,\"v\":1}"), 0);
	assert_int_equal(apply1(e, "[null]", "{\"k\":null,\"v\":2}"), 0);
	assert_string_equal(app_text(db, "SELECT quote(k)||v FROM n"), "NULL2");
	e->ops->close(e);
}

/* The apply keeps its statements prepared (a cache of DS_TABLE_STMT_CACHE by SQL text): records
 * carrying every subset of six columns make far more distinct UPDATEs and INSERTs than it holds,
 * so statements are evicted and prepared again while others stay; each row must still end as
 * its last record says, in one transaction and across several. An app's ALTER TABLE then
 * changes the schema under the kept statements. */
static void apply_statements_are_reused_and_evicted(void **state)
{
	static const char *const cols[] = { "a", "b", "c", "d", "e", "f" };
	char db[600], payload[256], key[16], want[64], sql[128];
	struct ds_engine *e;
	struct ds_record r = { 0 };
	char id[64];

	(void)state;
	tfx_new_db(db, sizeof(db), "CREATE TABLE t(id INTEGER PRIMARY KEY, a, b, c, d, e, f);");
	e = tfx_engine(db, "\"table\":\"t\"");
	assert_int_equal(e->ops->begin(e), 0);
	for (unsigned round = 0; round < 2; round++) {
		for (unsigned mask = 0; mask < 64; mask++) {
			int n = snprintf(payload, sizeof(payload), "{\"id\":%u", mask);

			for (unsigned i = 0; i < 6; i++)
				if (mask & (1u << i))
					n += snprintf(payload + n, sizeof(payload) - (size_t)n,
						      ",\"%s\":%u", cols[i], round * 100 + i);
			snprintf(payload + n, sizeof(payload) - (size_t)n, "}");
			snprintf(key, sizeof(key), "[%u]", mask);
			assert_true(ds_base64url_encode(key, strlen(key), id, sizeof(id)) > 0);
			r.id = id;
			r.payload = payload;
			assert_int_equal(e->ops->apply(e, &r), 0);
		}
		if (round == 0) { /* the second round in another transaction */
			assert_int_equal(e->ops->commit(e), 0);
			assert_int_equal(e->ops->begin(e), 0);
		}
	}
	assert_int_equal(e->ops->commit(e), 0);
	assert_int_equal(tfx_app_int(db, "SELECT count(*) FROM t"), 64);
	for (unsigned mask = 0; mask < 64; mask += 7) {
		int n = 0;

		snprintf(sql, sizeof(sql), "SELECT quote(a)||','||quote(b)||','||quote(c)||','||"
			 "quote(d)||','||quote(e)||','||quote(f) FROM t WHERE id = %u", mask);
		n = 0;
		for (unsigned i = 0; i < 6; i++)
			n += mask & (1u << i) ? snprintf(want + n, sizeof(want) - (size_t)n, "%s%u",
							 i ? "," : "", 100 + i)
					      : snprintf(want + n, sizeof(want) - (size_t)n, "%sNULL",
							 i ? "," : "");
		assert_string_equal(app_text(db, sql), want);
	}
	/* Deletions go through the same cache. */
	for (unsigned mask = 0; mask < 64; mask += 2) {
		snprintf(key, sizeof(key), "[%u]", mask);
		assert_int_equal(apply1(e, key, NULL), 0);
	}
	assert_int_equal(tfx_app_int(db, "SELECT count(*) FROM t"), 32);
	/* The app adds a column: the engine reads the schema again and its kept statements go. */
	tfx_app_exec(db, "ALTER TABLE t ADD COLUMN g");
	assert_int_equal(e->ops->prepare(e), 0);
	assert_int_equal(apply1(e, "[1]", "{\"id\":1,\"a\":7,\"g\":\"new\"}"), 0);
	assert_string_equal(app_text(db, "SELECT a||g FROM t WHERE id = 1"), "7new");
	e->ops->close(e);
}

static void rollback_undoes_applied_records(void **state)
{
	char db[600], id[32];
	struct ds_engine *e;
	struct ds_record r = { 0 };

	(void)state;
	tfx_new_db(db, sizeof(db), "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);");
	e = tfx_engine(db, "\"table\":\"t\"");
	ds_base64url_encode("[1]", 3, id, sizeof(id));
	r.id = id;
	r.payload = "{\"id\":1,\"v\":\"x\"}";
	assert_int_equal(e->ops->begin(e), 0);
	assert_int_equal(e->ops->apply(e, &r), 0);
	assert_int_equal(e->ops->rollback(e), 0);
	assert_int_equal(tfx_app_int(db, "SELECT count(*) FROM t"), 0);
	assert_int_equal(tfx_app_int(db, "SELECT applying FROM _datasync_state"), 0);
	e->ops->close(e);
}

struct counter {
	struct ds_engine *e;
	unsigned long n;
	bool forget;
};

/* Counts records; optionally forgets each one from inside the callback, as a core may. */
static int count_cb(const struct ds_record *r, void *user_data)
{
	struct counter *c = user_data;

	assert_false(r->deleted);
	c->n++;
	if (c->forget)
		assert_int_equal(c->e->ops->forget(c->e, r->id, r->change_seq), 0);
	return 0;
}

static void mark_all_logs_every_row(void **state)
{
	char db[600];
	struct ds_engine *e;
	struct counter cnt = { 0 };

	(void)state;
	tfx_new_db(db, sizeof(db), "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
			       "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 150)"
			       " INSERT INTO t SELECT i, 'v' || i FROM s;");
	e = tfx_engine(db, "\"table\":\"t\"");
	cnt.e = e;
	assert_int_equal(e->ops->changes(e, count_cb, &cnt), 0);
	assert_int_equal(cnt.n, 0); /* rows from before the registration are not changes */
	assert_int_equal(e->ops->mark_all(e), 0);
	/* more than one page of the change log, each row once, forgotten as it goes */
	cnt.forget = true;
	assert_int_equal(e->ops->changes(e, count_cb, &cnt), 0);
	assert_int_equal(cnt.n, 150);
	cnt.n = 0;
	assert_int_equal(e->ops->changes(e, count_cb, &cnt), 0);
	assert_int_equal(cnt.n, 0);
	e->ops->close(e);
}

/* ---- schema ---------------------------------------------------------------------------------- */

static void a_column_subset_syncs_the_key_and_those_columns(void **state)
{
	char db[600];
	struct ds_engine *e;
	struct tfx_changes c;

	(void)state;
	tfx_new_db(db, sizeof(db), "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, secret TEXT, b INT);");
	e = tfx_engine(db, "\"table\":\"t\",\"columns\":[\"B\",\"a\"]");
	tfx_app_exec(db, "INSERT INTO t VALUES(1, 'x', 'do not send', 2)");
	tfx_changes_get(e, &c);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.r[0].payload, "{\"id\":1,\"b\":2,\"a\":\"x\"}");
	tfx_changes_free(&c);
	/* a remote value for a column outside the subset is not written */
	assert_int_equal(apply1(e, "[1]", "{\"id\":1,\"a\":\"y\",\"secret\":\"remote\"}"), 0);
	assert_string_equal(app_text(db, "SELECT a||secret FROM t"), "ydo not send");
	e->ops->close(e);
}

static void a_new_column_is_synced_unless_a_subset_is_registered(void **state)
{
	char db[600];
	struct ds_engine *all, *sub;
	struct tfx_changes c;

	(void)state;
	tfx_new_db(db, sizeof(db), "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT);");
	all = tfx_engine(db, "\"table\":\"t\"");
	tfx_app_exec(db, "ALTER TABLE t ADD COLUMN color TEXT DEFAULT 'red';"
		     "INSERT INTO t(id, a) VALUES(1, 'x')");
	assert_int_equal(all->ops->prepare(all), 0);
	tfx_changes_get(all, &c);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.r[0].payload, "{\"id\":1,\"a\":\"x\",\"color\":\"red\"}");
	tfx_changes_free(&c);
	assert_string_equal(app_text(db, "SELECT cols FROM _datasync_tables"), "[\"id\",\"a\",\"color\"]");
	assert_int_equal(apply1(all, "[2]", "{\"id\":2,\"a\":\"y\",\"color\":\"blue\"}"), 0);
	assert_string_equal(app_text(db, "SELECT color FROM t WHERE id = 2"), "blue");
	all->ops->close(all);

	sub = tfx_engine(db, "\"table\":\"t\",\"columns\":[\"a\"]");
	tfx_app_exec(db, "ALTER TABLE t ADD COLUMN size INTEGER; UPDATE t SET a = 'z' WHERE id = 1");
	assert_int_equal(sub->ops->prepare(sub), 0);
	tfx_changes_get(sub, &c);
	assert_string_equal(tfx_find(&c, "[1]")->payload, "{\"id\":1,\"a\":\"z\"}");
	tfx_changes_free(&c);
	sub->ops->close(sub);
}

static void a_dropped_table_or_column_pauses_with_a_clear_error(void **state)
{
	char db[600];
	struct ds_engine *e, *s;
	struct tfx_changes c = { 0 };

	(void)state;
	/* one registration per table: the subset one on a copy of the schema */
	tfx_new_db(db, sizeof(db), "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b TEXT);"
			       "CREATE TABLE u(id INTEGER PRIMARY KEY, a TEXT, b TEXT);");
	e = tfx_engine(db, "\"table\":\"t\"");
	s = tfx_engine(db, "\"table\":\"u\",\"columns\":[\"b\"]");
	tfx_app_exec(db, "ALTER TABLE t DROP COLUMN b; ALTER TABLE u DROP COLUMN b");
	assert_int_equal(s->ops->prepare(s), -EILSEQ);
	assert_int_equal(s->ops->changes(s, tfx_collect, &c), -EILSEQ);
	assert_int_equal(e->ops->prepare(e), 0); /* all columns: b simply left */
	tfx_app_exec(db, "DROP TABLE t");
	assert_int_equal(e->ops->prepare(e), -ENOENT);
	assert_int_equal(e->ops->changes(e, tfx_collect, &c), -ENOENT);
	assert_int_equal(c.n, 0);
	/* the table renamed by the app is gone too, under its registered name */
	tfx_app_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY); ALTER TABLE t RENAME TO t2");
	assert_int_equal(e->ops->prepare(e), -ENOENT);
	e->ops->close(e);
	s->ops->close(s);
	/* a database that is gone is not created again */
	unlink(db);
	assert_int_equal(engine_try(db, "\"table\":\"t\"", &e), 0);
	assert_int_equal(e->ops->prepare(e), -ENOENT);
	assert_int_equal(access(db, F_OK), -1);
	e->ops->close(e);
}

static void the_key_must_be_unique(void **state)
{
	char db[600];
	struct ds_engine *e;
	struct tfx_changes c;

	(void)state;
	tfx_new_db(db, sizeof(db), "CREATE TABLE nopk(name TEXT UNIQUE, v);"
			       "CREATE TABLE v(x); CREATE VIEW w AS SELECT * FROM v;"
			       "INSERT INTO nopk VALUES('a', 1);");
	assert_int_equal(engine_try(db, "\"table\":\"nopk\"", &e), 0);
	assert_int_equal(e->ops->prepare(e), -EINVAL); /* no PRIMARY KEY, none chosen */
	e->ops->close(e);
	assert_int_equal(engine_try(db, "\"table\":\"nopk\",\"pk\":[\"v\"]", &e), 0);
	assert_int_equal(e->ops->prepare(e), -EINVAL); /* not unique */
	e->ops->close(e);
	assert_int_equal(engine_try(db, "\"table\":\"w\"", &e), 0);
	assert_int_equal(e->ops->prepare(e), -ENOTSUP);
	e->ops->close(e);
	assert_int_equal(engine_try(db, "\"table\":\"_datasync_log\"", &e), 0);
	assert_int_equal(e->ops->prepare(e), -EINVAL);
	e->ops->close(e);

	e = tfx_engine(db, "\"table\":\"NOPK\",\"pk\":[\"Name\"]");
	tfx_app_exec(db, "UPDATE nopk SET v = 2");
	tfx_changes_get(e, &c);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.r[0].payload, "{\"name\":\"a\",\"v\":2}");
	assert_non_null(tfx_find(&c, "[\"a\"]"));
	tfx_changes_free(&c);
	e->ops->close(e);

	/* another key for the same table: a new registration */
	assert_int_equal(tfx_unregister(db, "\"table\":\"nopk\""), 0);
	e = tfx_engine(db, "\"table\":\"nopk\",\"pk\":[\"rowid\"]");
	tfx_app_exec(db, "INSERT INTO nopk(rowid, name, v) VALUES(9, 'b', 3)");
	tfx_changes_get(e, &c);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.r[0].payload, "{\"rowid\":9,\"name\":\"b\",\"v\":3}");
	tfx_changes_free(&c);
	assert_int_equal(apply1(e, "[10]", "{\"rowid\":10,\"name\":\"c\",\"v\":4}"), 0);
	assert_int_equal(tfx_app_int(db, "SELECT rowid FROM nopk WHERE name = 'c'"), 10);
	e->ops->close(e);
}

/* ---- bad input ------------------------------------------------------------------------------- */

static void remote_records_with_unknown_columns_apply_the_known_ones(void **state)
{
	char db[600];
	struct ds_engine *e;

	(void)state;
	tfx_new_db(db, sizeof(db), "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT);");
	e = tfx_engine(db, "\"table\":\"t\"");
	assert_int_equal(apply1(e, "[1]", "{\"id\":1,\"a\":\"x\",\"future\":5}"), 0);
	assert_int_equal(apply1(e, "[2]", "{\"id\":2,\"a\":\"y\",\"future\":6}"), 0);
	assert_string_equal(app_text(db, "SELECT a FROM t ORDER BY id"), "x|y");
	e->ops->close(e);
}

static void malformed_records_are_refused_and_change_nothing(void **state)
{
	static const struct {
		const char *key, *payload;
	} bad[] = {
		{ "[1]", "not json" },
		{ "[1]", "[1, 2]" },
		{ "[1]", "{\"id\":2,\"a\":\"key disagrees with the id\"}" },
		{ "[1]", "{\"id\":1,\"a\":{\"$blob\":\"!!\"}}" },
		{ "[1]", "{\"id\":1,\"a\":{\"$real\":\"nan\"}}" },
		{ "[1]", "{\"id\":1,\"a\":99999999999999999999}" },
		{ "[1, 2]", "{\"id\":1}" },
		{ "[1.0]", "{\"id\":1}" },   /* not the canonical id of row 1 */
		{ "{}", "{\"id\":1}" },
	};
	char db[600];
	struct ds_engine *e;
	struct ds_record r = { 0 };
	size_t i;

	(void)state;
	tfx_new_db(db, sizeof(db), "CREATE TABLE t(id INTEGER PRIMARY KEY, a);");
	e = tfx_engine(db, "\"table\":\"t\"");
	tfx_app_exec(db, "INSERT INTO t VALUES(1, 'kept')");
	forget_all(e);
	for (i = 0; i < DS_ARRAY_SIZE(bad); i++) {
		if (apply1(e, bad[i].key, bad[i].payload) != -EBADMSG)
			fail_msg("record %zu was not refused as malformed", i);
	}
	r.id = "***";
	r.payload = "{}";
	assert_int_equal(e->ops->apply(e, &r), -EBADMSG);
	assert_string_equal(app_text(db, "SELECT id||a FROM t"), "1kept");
	assert_int_equal(tfx_app_int(db, "SELECT count(*) FROM _datasync_log"), 0);
	/* nested JSON from another writer is kept as its text, not dropped */
	assert_int_equal(apply1(e, "[1]", "{\"id\":1,\"a\":{\"x\":[1,2]}}"), 0);
	assert_string_equal(app_text(db, "SELECT typeof(a)||a FROM t"), "text{\"x\":[1,2]}");
	e->ops->close(e);
}

static void the_factory_picks_engines_by_kind(void **state)
{
	static const char *const bad[] = {
		"{\"kind\":\"no-such-engine\"}",
		"{\"kind\":\"table\"}",
		"{\"kind\":\"table\",\"db\":\"x.db\",\"table\":\"t\",\"pk\":[]}",
		"{\"kind\":\"table\",\"db\":\"x.db\",\"table\":\"t\",\"columns\":[\"a\",\"A\"]}",
		"{\"kind\":\"table\",\"db\":\"x.db\",\"table\":\"t\",\"columns\":\"a\"}",
		"{\"db\":\"x.db\",\"table\":\"t\"}",
	};
	static const int want[] = { -ENOTSUP, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL };
	struct ds_engine *e = (struct ds_engine *)1;
	size_t i;

	(void)state;
	for (i = 0; i < DS_ARRAY_SIZE(bad); i++) {
		cJSON *cfg = cJSON_Parse(bad[i]);

		assert_non_null(cfg);
		assert_int_equal(ds_engine_open(cfg, &e), want[i]);
		assert_null(e);
		assert_int_equal(ds_engine_unregister(cfg), want[i]);
		cJSON_Delete(cfg);
	}
	assert_int_equal(tfx_unregister("no-such-dir/none.db", "\"table\":\"t\""), 0);
}

/* Every allocation of a whole round (open, prepare, changes, get, apply, forget) fails in turn:
 * each op reports an error or succeeds, never crashes, and nothing leaks (ASan, valgrind). */
static int torture_round(const cJSON *cfg)
{
	struct ds_engine *e = NULL;
	struct tfx_changes c = { 0 };
	struct ds_record r = { 0 };
	size_t i;
	int rc;

	rc = ds_engine_open(cfg, &e);
	if (rc < 0)
		return rc;
	rc = e->ops->prepare(e);
	if (rc == 0)
		rc = e->ops->changes(e, tfx_collect, &c);
	for (i = 0; rc == 0 && i < c.n; i++) {
		rc = e->ops->get(e, c.r[i].id, &r);
		ds_free(r.id);
		ds_free(r.payload);
		if (rc == 0)
			rc = e->ops->apply(e, &c.r[i]);
		if (rc == 0)
			rc = e->ops->forget(e, c.r[i].id, 0);
	}
	tfx_changes_free(&c);
	e->ops->close(e);
	return rc;
}

static void every_allocation_failure_is_reported(void **state)
{
	char db[600], json[800];
	unsigned long n, total;
	cJSON *cfg;

	(void)state;
	tfx_new_db(db, sizeof(db), "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b BLOB, c REAL, d);");
	snprintf(json, sizeof(json), "{\"kind\":\"table\",\"db\":\"%s\",\"table\":\"t\"}", db);
	cfg = cJSON_Parse(json);
	assert_non_null(cfg);
	assert_int_equal(torture_round(cfg), 0);
	tfx_app_exec(db, "INSERT INTO t VALUES(1, 'x', x'0001', 1.5, NULL), (2, 'y', x'', 2.0, 7)");
	ds_alloc_fail_after(0);
	assert_int_equal(torture_round(cfg), 0);
	total = ds_alloc_fail_after(0);
	assert_true(total > 10);
	for (n = 1; n <= total; n++) {
		int rc;

		ds_alloc_fail_after(n);
		rc = torture_round(cfg);
		ds_alloc_fail_after(0);
		if (rc != 0 && rc != -ENOMEM)
			fail_msg("allocation %lu of %lu failed: %d, not -ENOMEM", n, total, rc);
	}
	cJSON_Delete(cfg);
	assert_string_equal(app_text(db, "SELECT id||a||hex(b)||c||quote(d) FROM t ORDER BY id"),
			    "1x00011.5NULL|2y2.07");
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(types_round_trip_through_the_payload),
		cmocka_unit_test(record_ids_are_url_safe_and_lead_back_to_the_row),
		cmocka_unit_test(forget_drops_a_change_only_up_to_its_counter),
		cmocka_unit_test(apply_is_idempotent_and_keeps_unsent_columns),
		cmocka_unit_test(apply_statements_are_reused_and_evicted),
		cmocka_unit_test(rollback_undoes_applied_records),
		cmocka_unit_test(mark_all_logs_every_row),
		cmocka_unit_test(a_column_subset_syncs_the_key_and_those_columns),
		cmocka_unit_test(a_new_column_is_synced_unless_a_subset_is_registered),
		cmocka_unit_test(a_dropped_table_or_column_pauses_with_a_clear_error),
		cmocka_unit_test(the_key_must_be_unique),
		cmocka_unit_test(remote_records_with_unknown_columns_apply_the_known_ones),
		cmocka_unit_test(malformed_records_are_refused_and_change_nothing),
		cmocka_unit_test(the_factory_picks_engines_by_kind),
		cmocka_unit_test(every_allocation_failure_is_reported),
	};

	return cmocka_run_group_tests(tests, tfx_setup, NULL);
}
