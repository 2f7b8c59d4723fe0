/*
 * Change tracking inside the app's database: side tables and triggers.
 *
 * Everything here runs in the app's own process when the app writes, with no extension loaded,
 * so the triggers use nothing but core SQL. They write only (table, key, op, counter, time),
 * never the row's data. The rules they implement, and why, are in docs/engine-table.md:
 *  - one log row per (table, key): a DELETE + INSERT pair, never INSERT OR REPLACE, because a
 *    trigger statement takes the outer statement's conflict policy (INSERT OR IGNORE by the app
 *    would turn our REPLACE into IGNORE and keep a stale counter);
 *  - REPLACE deletes the rows it conflicts with without firing DELETE triggers unless the
 *    connection enabled recursive_triggers (https://sqlite.org/lang_conflict.html), so BEFORE
 *    triggers log every row that a unique index other than the key would make REPLACE delete;
 *  - the engine's own writes set _datasync_state.applying inside its write transaction: the
 *    WHEN clause skips them, and no other connection ever sees the flag set.
 */
#define DS_LOG_TAG "table"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "engine/table/table_int.h"

#include <string.h>

static const char SIDE_TABLES_SQL[] =
	"CREATE TABLE IF NOT EXISTS _datasync_log(tbl TEXT NOT NULL, pk TEXT NOT NULL,"
	" op TEXT NOT NULL CHECK(op IN ('u', 'd')), seq INTEGER NOT NULL, ms INTEGER NOT NULL,"
	" PRIMARY KEY(tbl, pk)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS _datasync_log_seq ON _datasync_log(tbl, seq, pk);"
	"CREATE TABLE IF NOT EXISTS _datasync_seq(id INTEGER PRIMARY KEY CHECK(id = 1),"
	" n INTEGER NOT NULL);"
	"INSERT OR IGNORE INTO _datasync_seq VALUES(1, 0);"
	"CREATE TABLE IF NOT EXISTS _datasync_state(id INTEGER PRIMARY KEY CHECK(id = 1),"
	" applying INTEGER NOT NULL DEFAULT 0);"
	"INSERT OR IGNORE INTO _datasync_state VALUES(1, 0);"
	"CREATE TABLE IF NOT EXISTS _datasync_tables(tbl TEXT PRIMARY KEY, cols TEXT NOT NULL)"
	" WITHOUT ROWID;";

static const char *const SIDE_TABLES[] = { "_datasync_log", "_datasync_seq", "_datasync_state",
					   "_datasync_tables" };

enum { TRIG_AI, TRIG_AU, TRIG_AD, TRIG_BI, TRIG_BU, TRIG_COUNT };
static const char *const TRIG_PREFIX[TRIG_COUNT] = { "_datasync_ai_", "_datasync_au_",
						     "_datasync_ad_", "_datasync_bi_",
						     "_datasync_bu_" };

struct trig {
	char *name;
	char *sql; /* NULL: this trigger must not exist */
};

/* Bump the counter and log (tbl, key, op) when cond holds (cond may be NULL). */
static void log_one(struct ds_table_buf *b, const char *lit, const struct ds_table_shape *s,
		    const char *row, char op, const char *cond)
{
	struct ds_table_buf key = { 0 };
	const char *k;

	ds_table_key_expr(&key, s, row);
	k = key.p ? key.p : "";
	ds_table_buf_printf(b, " UPDATE _datasync_seq SET n = n + 1%s%s;", cond ? " WHERE " : "",
			    cond ? cond : "");
	ds_table_buf_printf(b, " DELETE FROM _datasync_log WHERE tbl = %s AND pk = %s%s%s;", lit, k,
			    cond ? " AND " : "", cond ? cond : "");
	ds_table_buf_printf(b,
			    " INSERT INTO _datasync_log(tbl, pk, op, seq, ms) SELECT %s, %s, '%c',"
			    " (SELECT n FROM _datasync_seq), " DS_TABLE_NOW_MS_SQL "%s%s;",
			    lit, k, op, cond ? " WHERE " : "", cond ? cond : "");
	if (key.oom)
		b->oom = true;
	ds_table_buf_free(&key);
}

/* Log, as possibly changed, every row that shares a unique index value with NEW. */
static void log_victims(struct ds_table_buf *b, const char *lit, const struct ds_table_shape *s,
			const char *qtable, bool update)
{
	struct ds_table_buf w = { 0 }, key = { 0 };
	size_t i, j;

	ds_table_key_expr(&key, s, "_ds_r.");
	ds_table_buf_puts(&w, "(");
	for (i = 0; i < s->nuidx; i++) {
		ds_table_buf_puts(&w, i ? " OR (" : "(");
		for (j = 0; j < s->uidx[i].n; j++) {
			ds_table_buf_puts(&w, j ? " AND _ds_r." : "_ds_r.");
			ds_table_buf_ident(&w, s->uidx[i].col[j]);
			ds_table_buf_puts(&w, " = NEW.");
			ds_table_buf_ident(&w, s->uidx[i].col[j]);
			ds_table_buf_puts(&w, " COLLATE ");
			ds_table_buf_ident(&w, s->uidx[i].coll[j]);
		}
		ds_table_buf_puts(&w, ")");
	}
	ds_table_buf_puts(&w, ")");
	if (update) {
		ds_table_buf_puts(&w, " AND ");
		ds_table_buf_add(&w, key.p ? key.p : "", key.len);
		ds_table_buf_puts(&w, " IS NOT ");
		ds_table_key_expr(&w, s, "OLD.");
	}
	if (!w.oom && !key.oom) {
		ds_table_buf_puts(b, " UPDATE _datasync_seq SET n = n + 1;");
		ds_table_buf_printf(b,
				    " DELETE FROM _datasync_log WHERE tbl = %s AND pk IN (SELECT %s"
				    " FROM %s AS _ds_r WHERE %s);",
				    lit, key.p, qtable, w.p);
		ds_table_buf_printf(b,
				    " INSERT INTO _datasync_log(tbl, pk, op, seq, ms) SELECT %s, %s,"
				    " 'u', (SELECT n FROM _datasync_seq), " DS_TABLE_NOW_MS_SQL
				    " FROM %s AS _ds_r WHERE %s;",
				    lit, key.p, qtable, w.p);
	} else {
		b->oom = true;
	}
	ds_table_buf_free(&w);
	ds_table_buf_free(&key);
}

static void update_of(struct ds_table_buf *b, char *const *col, size_t n)
{
	size_t i;

	ds_table_buf_puts(b, " OF ");
	for (i = 0; i < n; i++) {
		if (i)
			ds_table_buf_puts(b, ", ");
		ds_table_buf_ident(b, col[i]);
	}
}

static int trig_build(const struct ds_table_shape *s, struct trig t[TRIG_COUNT])
{
	struct ds_table_buf lit = { 0 }, qt = { 0 }, kold = { 0 }, knew = { 0 }, cond = { 0 };
	int i, rc = 0;

	memset(t, 0, TRIG_COUNT * sizeof(*t));
	ds_table_buf_literal(&lit, s->name);
	ds_table_buf_ident(&qt, s->name);
	ds_table_key_expr(&kold, s, "OLD.");
	ds_table_key_expr(&knew, s, "NEW.");
	ds_table_buf_printf(&cond, "%s IS NOT %s", kold.p ? kold.p : "", knew.p ? knew.p : "");
	if (lit.oom || qt.oom || kold.oom || knew.oom || cond.oom) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < TRIG_COUNT; i++) {
		struct ds_table_buf b = { 0 };
		const char *when, *ev;

		ds_table_buf_puts(&b, TRIG_PREFIX[i]);
		ds_table_buf_puts(&b, s->name);
		t[i].name = ds_table_buf_take(&b);
		if (!t[i].name) {
			rc = -ENOMEM;
			goto out;
		}
		if ((i == TRIG_BI || i == TRIG_BU) && !s->nuidx)
			continue;
		when = (i == TRIG_BI || i == TRIG_BU) ? "BEFORE" : "AFTER";
		ev = (i == TRIG_AI || i == TRIG_BI) ? "INSERT" : (i == TRIG_AD) ? "DELETE" : "UPDATE";
		ds_table_buf_puts(&b, "CREATE TRIGGER ");
		ds_table_buf_ident(&b, t[i].name);
		ds_table_buf_printf(&b, " %s %s", when, ev);
		/* "UPDATE OF" names real columns: the rowid is not one (it cannot be updated
		 * through its name without being listed anyway, and then any update logs). */
		if (i == TRIG_AU && s->subset && s->ncol > (s->rowid ? 1u : 0u))
			update_of(&b, s->col + s->rowid, s->ncol - s->rowid);
		if (i == TRIG_BU) {
			size_t u, c;

			ds_table_buf_puts(&b, " OF ");
			for (u = 0; u < s->nuidx; u++)
				for (c = 0; c < s->uidx[u].n; c++) {
					ds_table_buf_puts(&b, u || c ? ", " : "");
					ds_table_buf_ident(&b, s->uidx[u].col[c]);
				}
		}
		ds_table_buf_printf(&b, " ON %s WHEN (SELECT applying FROM _datasync_state) IS NOT 1"
				    " BEGIN", qt.p);
		switch (i) {
		case TRIG_AI:
			log_one(&b, lit.p, s, "NEW.", 'u', NULL);
			break;
		case TRIG_AU:
			/* A changed key is a delete of the old record and an upsert of the new. */
			log_one(&b, lit.p, s, "OLD.", 'd', cond.p);
			log_one(&b, lit.p, s, "NEW.", 'u', NULL);
			break;
		case TRIG_AD:
			log_one(&b, lit.p, s, "OLD.", 'd', NULL);
			break;
		default:
			log_victims(&b, lit.p, s, qt.p, i == TRIG_BU);
		}
		ds_table_buf_puts(&b, " END");
		t[i].sql = ds_table_buf_take(&b);
		if (!t[i].sql) {
			rc = -ENOMEM;
			goto out;
		}
	}
out:
	ds_table_buf_free(&lit);
	ds_table_buf_free(&qt);
	ds_table_buf_free(&kold);
	ds_table_buf_free(&knew);
	ds_table_buf_free(&cond);
	return rc;
}

static void trig_free(struct trig t[TRIG_COUNT])
{
	int i;

	for (i = 0; i < TRIG_COUNT; i++) {
		ds_free(t[i].name);
		ds_free(t[i].sql);
	}
}

/* Text of one schema object, or NULL (*out) when it does not exist. */
static int schema_sql(sqlite3 *db, const char *type, const char *name, char **out)
{
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	rc = sqlite3_prepare_v2(db, "SELECT coalesce(sql, '') FROM sqlite_schema WHERE type = ?1 AND name = ?2",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return ds_table_errno(rc);
	sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = ds_strdup((const char *)sqlite3_column_text(st, 0));
		rc = *out ? SQLITE_DONE : SQLITE_NOMEM;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : ds_table_errno(rc);
}

static int side_tables_present(sqlite3 *db, bool *present)
{
	size_t i;
	int rc = 0;

	*present = true;
	for (i = 0; i < DS_ARRAY_SIZE(SIDE_TABLES) && *present && rc == 0; i++) {
		char *sql;

		rc = schema_sql(db, "table", SIDE_TABLES[i], &sql);
		*present = sql != NULL;
		ds_free(sql);
	}
	return rc;
}

static char *cols_json(const struct ds_table_shape *s)
{
	struct ds_table_buf b = { 0 };
	size_t i;

	ds_table_buf_puts(&b, "[");
	for (i = 0; i < s->ncol; i++) {
		if (i)
			ds_table_buf_puts(&b, ",");
		ds_table_json_string(&b, s->col[i], strlen(s->col[i]));
	}
	ds_table_buf_puts(&b, "]");
	return ds_table_buf_take(&b);
}

struct col_report {
	const struct ds_table_shape *s;
	const char *path;
	char **old;
};

static int old_col(const char *name, const struct ds_table_val *v, void *user_data)
{
	struct col_report *r = user_data;
	size_t i;

	DS_UNUSED(name);
	if (v->type != DS_TABLE_TEXT)
		return 0;
	for (i = 0; i < r->s->ncol; i++)
		if (strcmp(r->s->col[i], v->p) == 0)
			break;
	if (i == r->s->ncol)
		DS_LOG_INF("column '%s' left table '%s' of %s: no longer synced", v->p, r->s->name,
			   r->path);
	for (i = 0; i < r->s->ncol; i++) {
		if (r->old[i] == NULL && strcmp(r->s->col[i], v->p) == 0)
			r->old[i] = r->s->col[i]; /* seen before */
	}
	return 0;
}

/* Say which columns appeared or went since the registry row was written. */
static void report_columns(sqlite3 *db, const char *path, const struct ds_table_shape *s,
			   const char *old_json)
{
	struct col_report r = { s, path, NULL };
	size_t i;

	r.old = ds_calloc(s->ncol + 1, sizeof(char *));
	if (!r.old)
		return;
	if (ds_table_json_walk(db, old_json, false, old_col, &r) == 0) {
		for (i = 0; i < s->ncol; i++)
			if (!r.old[i])
				DS_LOG_INF("table '%s' of %s has a new column '%s': synced from now on",
					   s->name, path, s->col[i]);
	}
	ds_free(r.old);
}

static int registry_sync(sqlite3 *db, const char *path, const struct ds_table_shape *s, bool write,
			 bool *dirty)
{
	sqlite3_stmt *st;
	char *cols = cols_json(s);
	int rc;

	if (!cols)
		return -ENOMEM;
	rc = sqlite3_prepare_v2(db, "SELECT cols FROM _datasync_tables WHERE tbl = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		ds_free(cols);
		return ds_table_errno(rc);
	}
	sqlite3_bind_text(st, 1, s->name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), cols) == 0) {
		rc = SQLITE_DONE;
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		*dirty = true;
		if (write && rc == SQLITE_ROW)
			report_columns(db, path, s, (const char *)sqlite3_column_text(st, 0));
		rc = SQLITE_DONE;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		ds_free(cols);
		return ds_table_errno(rc);
	}
	if (write && *dirty) {
		rc = sqlite3_prepare_v2(db,
					"INSERT INTO _datasync_tables(tbl, cols) VALUES(?1, ?2) "
					"ON CONFLICT(tbl) DO UPDATE SET cols = excluded.cols",
					-1, &st, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_text(st, 1, s->name, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, cols, -1, SQLITE_STATIC);
			rc = sqlite3_step(st);
			sqlite3_finalize(st);
		}
		rc = rc == SQLITE_DONE ? 0 : ds_table_errno(rc);
	} else {
		rc = 0;
	}
	ds_free(cols);
	return rc;
}

static int drop_named(sqlite3 *db, const char *kind, const char *name)
{
	struct ds_table_buf b = { 0 };
	char *sql;
	int rc;

	ds_table_buf_printf(&b, "DROP %s IF EXISTS ", kind);
	ds_table_buf_ident(&b, name);
	sql = ds_table_buf_take(&b);
	if (!sql)
		return -ENOMEM;
	rc = ds_table_exec(db, sql, "removing a change-tracking object");
	ds_free(sql);
	return rc;
}

/* Our triggers on this table (by the table they are on, or by their name: a table renamed by
 * the app keeps triggers named after its old name). */
static int our_triggers(sqlite3 *db, const char *table, char ***names, size_t *n)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc, i;

	*names = NULL;
	*n = 0;
	rc = sqlite3_prepare_v2(db,
				"SELECT name FROM sqlite_schema WHERE type = 'trigger' AND "
				"name LIKE '\\_datasync\\_%' ESCAPE '\\' AND (tbl_name = ?1 COLLATE NOCASE"
				" OR name IN (?2, ?3, ?4, ?5, ?6) COLLATE NOCASE)",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return ds_table_errno(rc);
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	for (i = 0; i < TRIG_COUNT; i++) {
		char *nm = ds_asprintf("%s%s", TRIG_PREFIX[i], table);

		if (!nm) {
			sqlite3_finalize(st);
			return -ENOMEM;
		}
		sqlite3_bind_text(st, i + 2, nm, -1, ds_free);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n + 1 >= cap) {
			char **nv = ds_realloc(*names, (cap ? cap * 2 : 8) * sizeof(char *));

			if (!nv) {
				rc = SQLITE_NOMEM;
				break;
			}
			*names = nv;
			cap = cap ? cap * 2 : 8;
		}
		(*names)[*n] = ds_strdup((const char *)sqlite3_column_text(st, 0));
		if (!(*names)[*n]) {
			rc = SQLITE_NOMEM;
			break;
		}
		(*n)++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		while (*n)
			ds_free((*names)[--*n]);
		ds_free(*names);
		*names = NULL;
		return ds_table_errno(rc);
	}
	return 0;
}

static void names_free(char **v, size_t n)
{
	while (n)
		ds_free(v[--n]);
	ds_free(v);
}

static int install_pass(sqlite3 *db, const struct ds_table_cfg *cfg, const struct ds_table_shape *s,
			bool write, bool *dirty)
{
	struct trig t[TRIG_COUNT];
	char **have = NULL;
	size_t nhave = 0, j;
	bool present;
	int i, rc;

	rc = side_tables_present(db, &present);
	if (rc < 0)
		return rc;
	if (!present) {
		*dirty = true;
		if (!write)
			return 0;
		rc = ds_table_exec(db, SIDE_TABLES_SQL, "creating the change-log tables");
		if (rc < 0)
			return rc;
	}
	rc = trig_build(s, t);
	for (i = 0; i < TRIG_COUNT && rc == 0; i++) {
		char *cur;

		rc = schema_sql(db, "trigger", t[i].name, &cur);
		if (rc == 0 && (t[i].sql ? !cur || strcmp(cur, t[i].sql) != 0 : cur != NULL)) {
			*dirty = true;
			if (write)
				rc = drop_named(db, "TRIGGER", t[i].name);
			if (write && rc == 0 && t[i].sql)
				rc = ds_table_exec(db, t[i].sql, "installing a change-tracking trigger");
		}
		ds_free(cur);
	}
	if (rc == 0)
		rc = our_triggers(db, s->name, &have, &nhave);
	for (j = 0; j < nhave && rc == 0; j++) {
		for (i = 0; i < TRIG_COUNT; i++)
			if (sqlite3_stricmp(have[j], t[i].name) == 0)
				break;
		if (i == TRIG_COUNT) {
			*dirty = true;
			if (write)
				rc = drop_named(db, "TRIGGER", have[j]);
		}
	}
	names_free(have, nhave);
	trig_free(t);
	if (rc == 0)
		rc = registry_sync(db, cfg->path, s, write, dirty);
	return rc;
}

static int txn_begin(sqlite3 *db)
{
	if (sqlite3_get_autocommit(db))
		return ds_table_exec(db, "BEGIN IMMEDIATE", "starting a write transaction");
	return ds_table_exec(db, "SAVEPOINT ds_table_schema", "starting a savepoint");
}

static int txn_end(sqlite3 *db, bool own, int rc)
{
	if (rc == 0)
		rc = ds_table_exec(db, own ? "COMMIT" : "RELEASE ds_table_schema", "committing");
	if (rc < 0) {
		if (own)
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		else
			sqlite3_exec(db, "ROLLBACK TO ds_table_schema; RELEASE ds_table_schema", NULL,
				     NULL, NULL);
	}
	return rc;
}

int ds_table_install(sqlite3 *db, const struct ds_table_cfg *cfg, const struct ds_table_shape *s)
{
	bool dirty = false, own;
	int rc;

	/* Look first, write only when something differs: a run whose schema is in place takes no
	 * write lock on the app's database here. */
	rc = install_pass(db, cfg, s, false, &dirty);
	if (rc < 0 || !dirty)
		return rc;
	own = sqlite3_get_autocommit(db);
	rc = txn_begin(db);
	if (rc < 0)
		return rc;
	rc = install_pass(db, cfg, s, true, &dirty);
	return txn_end(db, own, rc);
}

static int count_rows(sqlite3 *db, const char *sql, const char *table, int *out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return ds_table_errno(rc);
	if (table)
		sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : ds_table_errno(rc);
}

static int uninstall_rows(sqlite3 *db, const char *table)
{
	static const char *const sql[] = {
		"DELETE FROM _datasync_log WHERE tbl = ?1 COLLATE NOCASE",
		"DELETE FROM _datasync_tables WHERE tbl = ?1 COLLATE NOCASE",
	};
	size_t i;
	int rc = 0;

	for (i = 0; i < DS_ARRAY_SIZE(sql) && rc == 0; i++) {
		sqlite3_stmt *st;

		rc = sqlite3_prepare_v2(db, sql[i], -1, &st, NULL);
		if (rc != SQLITE_OK)
			return ds_table_errno(rc);
		sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ds_table_errno(sqlite3_errcode(db));
		sqlite3_finalize(st);
	}
	return rc;
}

int ds_table_uninstall(sqlite3 *db, const char *table)
{
	char **have = NULL;
	size_t nhave = 0, j;
	bool own = sqlite3_get_autocommit(db), present;
	int rc, left = 0, trig = 0;

	rc = txn_begin(db);
	if (rc < 0)
		return rc;
	rc = our_triggers(db, table, &have, &nhave);
	for (j = 0; j < nhave && rc == 0; j++)
		rc = drop_named(db, "TRIGGER", have[j]);
	names_free(have, nhave);
	if (rc == 0)
		rc = side_tables_present(db, &present);
	if (rc == 0 && present) {
		rc = uninstall_rows(db, table);
		if (rc == 0)
			rc = count_rows(db, "SELECT count(*) FROM _datasync_tables", NULL, &left);
		if (rc == 0)
			rc = count_rows(db,
					"SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND "
					"name LIKE '\\_datasync\\_%' ESCAPE '\\'",
					NULL, &trig);
		/* A trigger left on some table still writes to the side tables: dropping them
		 * would make that table's writes fail in the app. */
		for (j = 0; j < DS_ARRAY_SIZE(SIDE_TABLES) && rc == 0 && left == 0 && trig == 0; j++)
			rc = drop_named(db, "TABLE", SIDE_TABLES[j]);
	}
	return txn_end(db, own, rc);
}
