/*
 * The table engine's ops (struct ds_engine_ops, component/sync/ds_sync.h): pending changes out of
 * the change log, remote records into the app's table.
 *
 * The crash-safety contract of ds_sync.h holds because:
 *  - apply() is an upsert by key (UPDATE, then INSERT when no row matched) or a delete by key:
 *    running it twice leaves the same row; it runs under the applying flag, so it never logs;
 *  - forget(id, seq) deletes the log row only while its counter is <= seq: an app edit made
 *    after changes() read the row has a newer counter and stays pending.
 */
#define DS_LOG_TAG "table"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "engine/table/ds_table.h"
#include "engine/table/table_int.h"
#include "sync/ds_sync.h"

#include <cjson/cJSON.h>
#include <string.h>

/* Log rows read per query by changes(): no statement stays open while the core's callback runs
 * (it may call forget() or get()), and memory stays bounded for a huge mark_all(). */
#define CHANGES_PAGE 64

struct table_engine {
	struct ds_engine base;
	struct ds_table_cfg cfg;
	struct ds_table_shape shape;
	sqlite3 *db;
	bool ready;
	sqlite3_stmt *st_row;    /* the synced columns of one row, by key */
	sqlite3_stmt *st_page;   /* a page of the change log */
	sqlite3_stmt *st_forget; /* drop a log row up to a counter */
	sqlite3_stmt *st_pending;/* counter, time and op of one pending change */
	sqlite3_stmt *st_logkey; /* the change-log key of bound key values */
	char **warned;           /* unknown remote columns already reported */
	size_t nwarned;
	struct ds_table_stmts cache; /* the apply's statements (table_apply.c) */
};

static struct table_engine *te_of(struct ds_engine *e)
{
	return DS_CONTAINER_OF(e, struct table_engine, base);
}

static void stmts_free(struct table_engine *te)
{
	sqlite3_finalize(te->st_row);
	sqlite3_finalize(te->st_page);
	sqlite3_finalize(te->st_forget);
	sqlite3_finalize(te->st_pending);
	sqlite3_finalize(te->st_logkey);
	ds_table_stmts_free(&te->cache);
	te->st_row = te->st_page = te->st_forget = te->st_pending = te->st_logkey = NULL;
}

/* "<col> IS ?n AND ..." for the key, parameters from first on. */
static void key_where(struct ds_table_buf *b, const struct ds_table_shape *s, int first)
{
	size_t i;

	for (i = 0; i < s->npk; i++) {
		if (i)
			ds_table_buf_puts(b, " AND ");
		ds_table_buf_ident(b, s->col[i]);
		ds_table_buf_printf(b, " IS ?%d", first + (int)i);
	}
}

/* quote(?n)||','||... : the log key of bound key values, spelled as the triggers spell it. */
static void key_params(struct ds_table_buf *b, const struct ds_table_shape *s, int first)
{
	size_t i;

	for (i = 0; i < s->npk; i++)
		ds_table_buf_printf(b, "%squote(?%d)", i ? "||','||" : "", first + (int)i);
}

static int prep(struct table_engine *te, struct ds_table_buf *b, sqlite3_stmt **st)
{
	char *sql = ds_table_buf_take(b);
	int rc;

	if (!sql)
		return -ENOMEM;
	rc = sqlite3_prepare_v2(te->db, sql, -1, st, NULL);
	if (rc != SQLITE_OK)
		DS_LOG_ERR("table '%s' of %s: %s", te->shape.name, te->cfg.path, sqlite3_errmsg(te->db));
	ds_free(sql);
	return ds_table_errno(rc);
}

static int stmts_build(struct table_engine *te)
{
	const struct ds_table_shape *s = &te->shape;
	struct ds_table_buf b = { 0 };
	size_t i;
	int rc;

	ds_table_buf_puts(&b, "SELECT ");
	for (i = 0; i < s->ncol; i++) {
		if (i)
			ds_table_buf_puts(&b, ", ");
		ds_table_buf_ident(&b, s->col[i]);
	}
	ds_table_buf_puts(&b, " FROM ");
	ds_table_buf_ident(&b, s->name);
	ds_table_buf_puts(&b, " WHERE ");
	key_where(&b, s, 1);
	rc = prep(te, &b, &te->st_row);
	if (rc < 0)
		return rc;

	/* A row value, not "seq > ?2 OR (seq = ?2 AND pk > ?3)": SQLite turns the row value into a
	 * range of the (tbl, seq, pk) index, while the OR form rescans every entry of the current
	 * seq on each page, which made a first sync (mark_all: one seq for all rows) quadratic. */
	ds_table_buf_puts(&b, "SELECT pk, seq, ms FROM _datasync_log WHERE tbl = ?1 AND"
			      " (seq, pk) > (?2, ?3) ORDER BY seq, pk LIMIT ");
	ds_table_buf_printf(&b, "%d", CHANGES_PAGE);
	rc = prep(te, &b, &te->st_page);
	if (rc < 0)
		return rc;

	ds_table_buf_puts(&b, "DELETE FROM _datasync_log WHERE tbl = ?1 AND seq <= ?2 AND pk = ");
	key_params(&b, s, 3);
	rc = prep(te, &b, &te->st_forget);
	if (rc < 0)
		return rc;

	/* The primary key (tbl, pk) of the log: one index probe per lookup. */
	ds_table_buf_puts(&b, "SELECT seq, ms, op FROM _datasync_log WHERE tbl = ?1 AND pk = ");
	key_params(&b, s, 2);
	rc = prep(te, &b, &te->st_pending);
	if (rc < 0)
		return rc;

	ds_table_buf_puts(&b, "SELECT ");
	key_params(&b, s, 1);
	return prep(te, &b, &te->st_logkey);
}

static void db_close(struct table_engine *te)
{
	stmts_free(te);
	if (te->db)
		sqlite3_close(te->db);
	te->db = NULL;
	te->ready = false;
}

static int db_open(struct table_engine *te)
{
	int rc;

	/* No SQLITE_OPEN_CREATE: the app owns its database; a missing file is an error, not a new
	 * empty database. The journal mode is the app's and is left alone. */
	rc = sqlite3_open_v2(te->cfg.path, &te->db, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK) {
		DS_LOG_ERR("database %s cannot be opened (%s): collection paused", te->cfg.path,
			   te->db ? sqlite3_errmsg(te->db) : "out of memory");
		rc = ds_table_errno(rc);
		db_close(te);
		return rc;
	}
	sqlite3_extended_result_codes(te->db, 1);
	sqlite3_busy_timeout(te->db, te->cfg.busy_ms);
	return 0;
}

static int table_prepare(struct ds_engine *e)
{
	struct table_engine *te = te_of(e);
	int rc;

	if (te->db && !sqlite3_get_autocommit(te->db))
		return -EBUSY; /* a transaction of ours is open: the schema cannot be changed now */
	stmts_free(te);
	ds_table_shape_free(&te->shape);
	te->ready = false;
	if (!te->db && (rc = db_open(te)) < 0)
		return rc;
	rc = ds_table_shape_read(te->db, &te->cfg, &te->shape);
	if (rc == -EIO || rc == -EILSEQ) {
		/* The file may have been replaced under us (app data cleared): look again through
		 * a fresh connection before calling the registration broken. */
		db_close(te);
		if ((rc = db_open(te)) < 0)
			return rc;
		rc = ds_table_shape_read(te->db, &te->cfg, &te->shape);
	}
	if (rc == 0)
		rc = ds_table_install(te->db, &te->cfg, &te->shape);
	if (rc == 0)
		rc = stmts_build(te);
	if (rc < 0) {
		stmts_free(te);
		return rc;
	}
	te->ready = true;
	return 0;
}

static int ensure_ready(struct table_engine *te)
{
	return te->ready ? 0 : table_prepare(&te->base);
}

static int exec(struct table_engine *te, const char *sql)
{
	int rc = ensure_ready(te);

	return rc < 0 ? rc : ds_table_exec(te->db, sql, te->cfg.path);
}

static int table_begin(struct ds_engine *e)
{
	return exec(te_of(e), "BEGIN IMMEDIATE");
}

static int table_commit(struct ds_engine *e)
{
	return exec(te_of(e), "COMMIT");
}

static int table_rollback(struct ds_engine *e)
{
	struct table_engine *te = te_of(e);

	if (!te->db || sqlite3_get_autocommit(te->db))
		return 0; /* SQLite already rolled back (e.g. after SQLITE_FULL) */
	return ds_table_exec(te->db, "ROLLBACK", te->cfg.path);
}

/* ---- reading rows ---------------------------------------------------------------------------- */

static int bind_key(sqlite3_stmt *st, const struct ds_table_val *key, size_t n, int first)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++)
		rc = ds_table_val_bind(st, first + (int)i, &key[i]);
	return rc;
}

/* Fill r from the current row of key: payload, or a tombstone when the row is gone. */
static int row_record(struct table_engine *te, const struct ds_table_val *key,
		      struct ds_record *r)
{
	sqlite3_stmt *st = te->st_row;
	struct ds_table_buf b = { 0 };
	size_t i;
	int rc;

	rc = ds_table_id_encode(key, te->shape.npk, &r->id);
	if (rc == 0)
		rc = bind_key(st, key, te->shape.npk, 1);
	if (rc < 0)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r->deleted = true;
		rc = 0;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		rc = ds_table_errno(rc);
		goto out;
	}
	ds_table_buf_puts(&b, "{");
	for (i = 0; i < te->shape.ncol; i++) {
		struct ds_table_val v;

		if (i)
			ds_table_buf_puts(&b, ",");
		ds_table_json_string(&b, te->shape.col[i], strlen(te->shape.col[i]));
		ds_table_buf_puts(&b, ":");
		if (ds_table_val_from_column(&v, st, (int)i) < 0)
			b.oom = true;
		ds_table_json_value(&b, &v);
		ds_table_val_clear(&v);
	}
	ds_table_buf_puts(&b, "}");
	r->payload = ds_table_buf_take(&b);
	rc = r->payload ? 0 : -ENOMEM;
out:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

static void record_free(struct ds_record *r)
{
	ds_free(r->id);
	ds_free(r->payload);
	memset(r, 0, sizeof(*r));
}

struct log_entry {
	char *pk;
	uint64_t seq;
	int64_t ms;
};

/* The change-log key of a record id (as the triggers spell it), to resume an enumeration. */
static int log_key_of(struct table_engine *te, const char *id, char **out)
{
	struct ds_table_val *key = ds_calloc(te->shape.npk, sizeof(*key));
	sqlite3_stmt *st = te->st_logkey;
	int rc;

	*out = NULL;
	if (!key)
		return -ENOMEM;
	rc = ds_table_id_decode(te->db, id, key, te->shape.npk);
	if (rc == -EBADMSG)
		rc = -EINVAL; /* not an id this engine delivered */
	if (rc == 0)
		rc = bind_key(st, key, te->shape.npk, 1);
	if (rc == 0) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const char *k = (const char *)sqlite3_column_text(st, 0);

			*out = k ? ds_strdup(k) : NULL;
			rc = *out ? 0 : -ENOMEM;
		} else {
			rc = rc == SQLITE_DONE ? -EIO : ds_table_errno(rc);
		}
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	ds_table_vals_clear(key, te->shape.npk);
	ds_free(key);
	return rc;
}

/*
 * Pages of CHANGES_PAGE log rows in (seq, pk) order, each page a fresh query after the last
 * row of the previous one, so a caller that stops early (DS_RECORD_STOP) has read at most one
 * page more than it used, and resuming costs one index seek.
 */
static int table_changes_after(struct ds_engine *e, uint64_t after_seq, const char *after_id,
			       ds_record_cb cb, void *user_data)
{
	struct table_engine *te = te_of(e);
	struct log_entry page[CHANGES_PAGE];
	sqlite3_int64 last_seq = -1;
	char *last_pk = NULL;
	size_t n = 0, i;
	int rc = ensure_ready(te);

	if (rc == 0 && after_id) {
		rc = log_key_of(te, after_id, &last_pk);
		last_seq = after_seq > INT64_MAX ? INT64_MAX : (sqlite3_int64)after_seq;
	}
	while (rc == 0) {
		sqlite3_stmt *st = te->st_page;

		sqlite3_bind_text(st, 1, te->shape.name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, last_seq);
		sqlite3_bind_text(st, 3, last_pk ? last_pk : "", -1, SQLITE_TRANSIENT);
		for (n = 0; n < CHANGES_PAGE && (rc = sqlite3_step(st)) == SQLITE_ROW; n++) {
			page[n].pk = ds_strdup((const char *)sqlite3_column_text(st, 0));
			page[n].seq = (uint64_t)sqlite3_column_int64(st, 1);
			page[n].ms = sqlite3_column_int64(st, 2);
			if (!page[n].pk) {
				rc = SQLITE_NOMEM;
				break;
			}
		}
		rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : ds_table_errno(rc);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		for (i = 0; i < n && rc == 0; i++) {
			struct ds_table_val *kv = ds_calloc(te->shape.npk, sizeof(*kv));
			struct ds_record r = { 0 };

			if (!kv) {
				rc = -ENOMEM;
				break;
			}
			if (ds_table_key_parse(page[i].pk, kv, te->shape.npk) < 0) {
				/* Written by someone else than our triggers, or by a registration
				 * with another key: not ours to interpret. */
				DS_LOG_WRN("table '%s' of %s: unreadable change-log key skipped",
					   te->shape.name, te->cfg.path);
				ds_free(kv);
				continue;
			}
			rc = row_record(te, kv, &r);
			ds_table_vals_clear(kv, te->shape.npk);
			ds_free(kv);
			r.change_seq = page[i].seq;
			r.modified_ms = page[i].ms;
			if (rc == 0)
				rc = cb(&r, user_data);
			record_free(&r);
		}
		if (n) {
			ds_free(last_pk);
			last_pk = page[n - 1].pk;
			last_seq = (sqlite3_int64)page[n - 1].seq;
			page[n - 1].pk = NULL;
		}
		for (i = 0; i < n; i++)
			ds_free(page[i].pk);
		if (n < CHANGES_PAGE)
			break;
	}
	ds_free(last_pk);
	return rc == DS_RECORD_STOP ? 0 : rc;
}

static int table_changes(struct ds_engine *e, ds_record_cb cb, void *user_data)
{
	return table_changes_after(e, 0, NULL, cb, user_data);
}

/* One probe of the log's primary key, with the statement prepared once. */
static int table_pending(struct ds_engine *e, const char *id, struct ds_pending_info *out)
{
	struct table_engine *te = te_of(e);
	struct ds_table_val *key;
	sqlite3_stmt *st;
	int rc = ensure_ready(te);

	memset(out, 0, sizeof(*out));
	if (rc < 0)
		return rc;
	key = ds_calloc(te->shape.npk, sizeof(*key));
	if (!key)
		return -ENOMEM;
	rc = ds_table_id_decode(te->db, id, key, te->shape.npk);
	if (rc == -EBADMSG)
		rc = -ENOENT; /* no row can have this id, so no change of it is pending */
	if (rc == 0) {
		st = te->st_pending;
		sqlite3_bind_text(st, 1, te->shape.name, -1, SQLITE_STATIC);
		rc = bind_key(st, key, te->shape.npk, 2);
		if (rc == 0) {
			rc = sqlite3_step(st);
			if (rc == SQLITE_ROW) {
				const unsigned char *op = sqlite3_column_text(st, 2);

				out->change_seq = (uint64_t)sqlite3_column_int64(st, 0);
				out->modified_ms = sqlite3_column_int64(st, 1);
				out->deleted = op && op[0] == 'd';
				rc = 0;
			} else {
				rc = rc == SQLITE_DONE ? -ENOENT : ds_table_errno(rc);
			}
		}
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	ds_table_vals_clear(key, te->shape.npk);
	ds_free(key);
	return rc;
}

static int table_get(struct ds_engine *e, const char *id, struct ds_record *out)
{
	struct table_engine *te = te_of(e);
	struct ds_table_val *key;
	sqlite3_stmt *st;
	int rc = ensure_ready(te);

	memset(out, 0, sizeof(*out));
	if (rc < 0)
		return rc;
	key = ds_calloc(te->shape.npk, sizeof(*key));
	if (!key)
		return -ENOMEM;
	rc = ds_table_id_decode(te->db, id, key, te->shape.npk);
	if (rc == -EBADMSG)
		rc = -ENOENT; /* not an id this table can have */
	if (rc == 0)
		rc = row_record(te, key, out);
	if (rc == 0 && out->deleted)
		rc = -ENOENT;
	if (rc == 0) {
		st = te->st_pending;
		sqlite3_bind_text(st, 1, te->shape.name, -1, SQLITE_STATIC);
		rc = bind_key(st, key, te->shape.npk, 2);
		if (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
			out->change_seq = (uint64_t)sqlite3_column_int64(st, 0);
			out->modified_ms = sqlite3_column_int64(st, 1);
		}
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	ds_table_vals_clear(key, te->shape.npk);
	ds_free(key);
	if (rc < 0)
		record_free(out);
	return rc;
}

static int table_forget(struct ds_engine *e, const char *id, uint64_t change_seq)
{
	struct table_engine *te = te_of(e);
	struct ds_table_val *key;
	sqlite3_stmt *st;
	int rc = ensure_ready(te);

	if (rc < 0)
		return rc;
	key = ds_calloc(te->shape.npk, sizeof(*key));
	if (!key)
		return -ENOMEM;
	rc = ds_table_id_decode(te->db, id, key, te->shape.npk);
	if (rc == -EBADMSG)
		rc = 0; /* no row can have this id, so no change of it is pending */
	else if (rc == 0) {
		st = te->st_forget;
		sqlite3_bind_text(st, 1, te->shape.name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, change_seq > INT64_MAX ? INT64_MAX : (sqlite3_int64)change_seq);
		rc = bind_key(st, key, te->shape.npk, 3);
		if (rc == 0)
			rc = ds_table_errno(sqlite3_step(st));
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	ds_table_vals_clear(key, te->shape.npk);
	ds_free(key);
	return rc;
}

static int table_mark_all(struct ds_engine *e)
{
	struct table_engine *te = te_of(e);
	struct ds_table_buf b = { 0 };
	sqlite3_stmt *st;
	char *sql;
	int rc = ensure_ready(te);

	if (rc < 0)
		return rc;
	/*
	 * One counter for all: forget() compares per key, and changes() pages by (seq, key).
	 * Rows already pending keep their entry (and its real change time). The others get change
	 * time 0: nobody knows when they were last edited, so under newest-wins any remote version
	 * of the same record is newer, and a device joining a remote does not overwrite the
	 * remote's data with its own older copies; rows only this device has are uploaded.
	 */
	ds_table_buf_puts(&b, "SAVEPOINT ds_table_mark; UPDATE _datasync_seq SET n = n + 1;"
			      " INSERT OR IGNORE INTO _datasync_log(tbl, pk, op, seq, ms) SELECT ?1, ");
	ds_table_key_expr(&b, &te->shape, "_ds_r.");
	ds_table_buf_puts(&b, ", 'u', (SELECT n FROM _datasync_seq), 0 FROM ");
	ds_table_buf_ident(&b, te->shape.name);
	ds_table_buf_puts(&b, " AS _ds_r");
	sql = ds_table_buf_take(&b);
	if (!sql)
		return -ENOMEM;
	/* The statements run one by one so that ?1 binds in the INSERT only. */
	{
		const char *tail = sql;

		while (rc == 0 && tail && *tail) {
			rc = sqlite3_prepare_v2(te->db, tail, -1, &st, &tail);
			if (rc != SQLITE_OK || !st) {
				rc = ds_table_errno(rc);
				break;
			}
			if (sqlite3_bind_parameter_count(st))
				sqlite3_bind_text(st, 1, te->shape.name, -1, SQLITE_STATIC);
			rc = sqlite3_step(st);
			rc = rc == SQLITE_DONE ? 0 : ds_table_errno(rc);
			if (rc < 0)
				DS_LOG_ERR("marking rows of '%s' in %s: %s", te->shape.name,
					   te->cfg.path, sqlite3_errmsg(te->db));
			sqlite3_finalize(st);
		}
	}
	ds_free(sql);
	if (rc == 0)
		return ds_table_exec(te->db, "RELEASE ds_table_mark", te->cfg.path);
	sqlite3_exec(te->db, "ROLLBACK TO ds_table_mark; RELEASE ds_table_mark", NULL, NULL, NULL);
	return rc;
}

static void table_close(struct ds_engine *e)
{
	struct table_engine *te;
	size_t i;

	if (!e)
		return;
	te = te_of(e);
	if (te->db && !sqlite3_get_autocommit(te->db))
		sqlite3_exec(te->db, "ROLLBACK", NULL, NULL, NULL);
	db_close(te);
	ds_table_shape_free(&te->shape);
	ds_table_cfg_free(&te->cfg);
	for (i = 0; i < te->nwarned; i++)
		ds_free(te->warned[i]);
	ds_free(te->warned);
	ds_free(te);
}

static int table_apply(struct ds_engine *e, const struct ds_record *r)
{
	struct table_engine *te = te_of(e);
	int rc = ensure_ready(te);

	if (rc < 0)
		return rc;
	return ds_table_apply_c(te->db, &te->cache, te->cfg.path, &te->shape, r, &te->warned,
				&te->nwarned);
}

static const struct ds_engine_ops table_ops = {
	.kind = "table",
	.prepare = table_prepare,
	.begin = table_begin,
	.commit = table_commit,
	.rollback = table_rollback,
	.changes = table_changes,
	.changes_after = table_changes_after,
	.pending = table_pending,
	.get = table_get,
	.apply = table_apply,
	.forget = table_forget,
	.merge = NULL,
	.mark_all = table_mark_all,
	.close = table_close,
};

int ds_table_engine_open(const struct cJSON *cfg, struct ds_engine **out)
{
	struct table_engine *te;
	int rc;

	*out = NULL;
	te = ds_calloc(1, sizeof(*te));
	if (!te)
		return -ENOMEM;
	rc = ds_table_cfg_parse(cfg, &te->cfg);
	if (rc < 0) {
		ds_free(te);
		return rc;
	}
	te->base.ops = &table_ops;
	te->base.priv = te;
	*out = &te->base;
	return 0;
}

int ds_table_engine_unregister(const struct cJSON *cfg)
{
	struct ds_table_cfg c;
	sqlite3 *db = NULL;
	int rc;

	rc = ds_table_cfg_parse(cfg, &c);
	if (rc < 0)
		return rc;
	rc = sqlite3_open_v2(c.path, &db, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK) {
		rc = ds_table_errno(rc);
		if (rc == -ENOENT) {
			DS_LOG_INF("database %s is gone: nothing of table '%s' to remove", c.path,
				   c.table);
			rc = 0;
		} else {
			DS_LOG_ERR("database %s cannot be opened to unregister '%s'", c.path, c.table);
		}
	} else {
		sqlite3_busy_timeout(db, c.busy_ms);
		rc = ds_table_uninstall(db, c.table);
		if (rc == 0)
			DS_LOG_INF("change tracking of table '%s' removed from %s", c.table, c.path);
	}
	sqlite3_close(db);
	ds_table_cfg_free(&c);
	return rc;
}
