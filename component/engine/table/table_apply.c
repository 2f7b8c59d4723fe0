/*
 * Applying a remote record to the app's table.
 *
 * An upsert is "UPDATE by key, then INSERT if no row matched", not INSERT OR REPLACE (which
 * deletes and re-inserts, firing ON DELETE actions of foreign keys that point at the row) and not
 * INSERT ... ON CONFLICT(key) (a key holding NULL never conflicts, so a second apply would insert
 * a duplicate: not idempotent). Columns the record does not carry are left as they are.
 *
 * A record with a column the table does not have (another device runs a newer app) is applied
 * with the columns we know, and the unknown one is reported once per run of the daemon: skipping
 * the record would lose its known fields for good, since the cursor moves past it.
 */
#define DS_LOG_TAG "table"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "engine/table/table_int.h"
#include "sync/ds_sync.h"

#include <string.h>

struct payload {
	const struct ds_table_shape *s;
	const struct ds_table_val *key;
	struct ds_table_val *val; /* per synced column */
	bool *have;
	const char *path;
	char ***warned;
	size_t *nwarned;
};

static void warn_unknown(struct payload *p, const char *name)
{
	char **v;
	size_t i;

	for (i = 0; i < *p->nwarned; i++)
		if (strcmp((*p->warned)[i], name) == 0)
			return;
	DS_LOG_WRN("table '%s' of %s has no synced column '%s' that remote records carry: its "
		   "values are not applied on this device (other columns are)", p->s->name, p->path,
		   name);
	v = ds_realloc(*p->warned, (*p->nwarned + 1) * sizeof(char *));
	if (!v)
		return;
	*p->warned = v;
	v[*p->nwarned] = ds_strdup(name);
	if (v[*p->nwarned])
		(*p->nwarned)++;
}

static int payload_member(const char *name, const struct ds_table_val *v, void *user_data)
{
	struct payload *p = user_data;
	struct ds_table_val *dst;
	size_t i;

	for (i = 0; i < p->s->ncol; i++)
		if (strcmp(p->s->col[i], name) == 0)
			break;
	if (i == p->s->ncol) {
		warn_unknown(p, name);
		return 0;
	}
	if (p->have[i])
		return -EBADMSG; /* the same column twice */
	if (i < p->s->npk && !ds_table_val_equal(v, &p->key[i])) {
		DS_LOG_WRN("table '%s': a remote record's key column '%s' disagrees with its id",
			   p->s->name, name);
		return -EBADMSG;
	}
	dst = &p->val[i];
	*dst = *v;
	dst->p = NULL;
	if (v->type == DS_TABLE_TEXT || v->type == DS_TABLE_BLOB) {
		dst->p = ds_malloc(v->n + 1);
		if (!dst->p)
			return -ENOMEM;
		if (v->n)
			memcpy(dst->p, v->p, v->n);
		dst->p[v->n] = '\0';
	}
	p->have[i] = true;
	return 0;
}

static int run(sqlite3 *db, struct ds_table_stmts *c, struct ds_table_buf *b,
	       const struct payload *p, bool upd, int *changed)
{
	const struct ds_table_shape *s = p->s;
	sqlite3_stmt *st;
	char *sql = ds_table_buf_take(b);
	size_t i;
	int rc, idx = 1;

	if (!sql)
		return -ENOMEM;
	rc = ds_table_stmt_get(c, db, sql, &st);
	ds_free(sql);
	if (rc)
		return rc;
	rc = SQLITE_OK;
	/* UPDATE binds the set columns then the key; INSERT and DELETE bind the key first. */
	for (i = upd ? s->npk : 0; i < s->ncol && rc == SQLITE_OK; i++)
		if (i < s->npk || p->have[i])
			rc = ds_table_val_bind(st, idx++, i < s->npk ? &p->key[i] : &p->val[i]);
	for (i = 0; upd && i < s->npk && rc == SQLITE_OK; i++)
		rc = ds_table_val_bind(st, idx++, &p->key[i]);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		*changed = sqlite3_changes(db);
	ds_table_stmt_put(c, st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return rc < 0 ? rc : ds_table_errno(rc);
	return 0;
}

static void key_where(struct ds_table_buf *b, const struct ds_table_shape *s, int first)
{
	size_t i;

	ds_table_buf_puts(b, " WHERE ");
	for (i = 0; i < s->npk; i++) {
		ds_table_buf_puts(b, i ? " AND " : "");
		ds_table_buf_ident(b, s->col[i]);
		ds_table_buf_printf(b, " IS ?%d", first + (int)i);
	}
}

static int write_row(sqlite3 *db, struct ds_table_stmts *c, const struct payload *p,
		     bool deleted)
{
	const struct ds_table_shape *s = p->s;
	struct ds_table_buf b = { 0 };
	size_t i;
	int rc, n = 0, changed = 0;

	if (deleted) {
		ds_table_buf_puts(&b, "DELETE FROM ");
		ds_table_buf_ident(&b, s->name);
		key_where(&b, s, 1);
		return run(db, c, &b, p, false, &changed);
	}
	for (i = s->npk; i < s->ncol; i++)
		n += p->have[i];
	if (n) {
		ds_table_buf_puts(&b, "UPDATE ");
		ds_table_buf_ident(&b, s->name);
		ds_table_buf_puts(&b, " SET ");
		for (i = s->npk, n = 0; i < s->ncol; i++) {
			if (!p->have[i])
				continue;
			ds_table_buf_puts(&b, n ? ", " : "");
			ds_table_buf_ident(&b, s->col[i]);
			ds_table_buf_printf(&b, " = ?%d", ++n);
		}
		key_where(&b, s, n + 1);
		rc = run(db, c, &b, p, true, &changed);
		if (rc < 0)
			return rc;
	} else {
		/* Nothing but the key: only whether the row exists matters. */
		sqlite3_stmt *st;

		ds_table_buf_puts(&b, "SELECT 1 FROM ");
		ds_table_buf_ident(&b, s->name);
		key_where(&b, s, 1);
		rc = b.oom ? -ENOMEM : ds_table_stmt_get(c, db, b.p, &st);
		ds_table_buf_free(&b);
		if (rc)
			return rc;
		for (i = 0; i < s->npk && rc == 0; i++)
			rc = ds_table_val_bind(st, (int)i + 1, &p->key[i]);
		changed = rc == 0 && sqlite3_step(st) == SQLITE_ROW;
		ds_table_stmt_put(c, st);
		if (rc < 0)
			return rc;
	}
	if (changed)
		return 0;
	ds_table_buf_puts(&b, "INSERT INTO ");
	ds_table_buf_ident(&b, s->name);
	ds_table_buf_puts(&b, "(");
	for (i = 0, n = 0; i < s->ncol; i++) {
		if (i >= s->npk && !p->have[i])
			continue;
		ds_table_buf_puts(&b, n++ ? ", " : "");
		ds_table_buf_ident(&b, s->col[i]);
	}
	ds_table_buf_puts(&b, ") VALUES (");
	for (i = 0; i < (size_t)n; i++)
		ds_table_buf_printf(&b, "%s?%zu", i ? ", " : "", i + 1);
	ds_table_buf_puts(&b, ")");
	return run(db, c, &b, p, false, &changed);
}

int ds_table_apply(sqlite3 *db, const char *path, const struct ds_table_shape *s,
		   const struct ds_record *r, char ***warned, size_t *nwarned)
{
	return ds_table_apply_c(db, NULL, path, s, r, warned, nwarned);
}

int ds_table_apply_c(sqlite3 *db, struct ds_table_stmts *c, const char *path,
		     const struct ds_table_shape *s, const struct ds_record *r, char ***warned,
		     size_t *nwarned)
{
	struct payload p = { s, NULL, NULL, NULL, path, warned, nwarned };
	struct ds_table_val *key;
	int rc;

	key = ds_calloc(s->npk, sizeof(*key));
	p.val = ds_calloc(s->ncol, sizeof(*p.val));
	p.have = ds_calloc(s->ncol, sizeof(*p.have));
	if (!key || !p.val || !p.have) {
		rc = -ENOMEM;
		goto out;
	}
	p.key = key;
	rc = ds_table_id_decode_c(c, db, r->id, key, s->npk);
	if (rc == -EBADMSG)
		DS_LOG_WRN("table '%s' of %s: a remote record's id is not a key of this table",
			   s->name, path);
	if (rc == 0 && !r->deleted) {
		rc = r->payload ? ds_table_json_walk_c(c, db, r->payload, true, payload_member, &p)
				: -EBADMSG;
		if (rc == -EBADMSG || rc == -ERANGE)
			DS_LOG_WRN("table '%s' of %s: a remote record is not a JSON object of column "
				   "values in this engine's format", s->name, path);
		if (rc == -ERANGE)
			rc = -EBADMSG;
	}
	if (rc < 0)
		goto out;

	/* The flag is set and cleared inside one savepoint of our write transaction: the triggers
	 * see it for our statements only, and no other connection ever sees it set. */
	rc = ds_table_stmt_run(c, db, "SAVEPOINT ds_table_apply", path);
	if (rc == 0) {
		rc = ds_table_stmt_run(c, db, "UPDATE _datasync_state SET applying = 1", path);
		if (rc < 0)
			sqlite3_exec(db, "ROLLBACK TO ds_table_apply; RELEASE ds_table_apply", NULL,
				     NULL, NULL);
	}
	if (rc < 0)
		goto out;
	rc = write_row(db, c, &p, r->deleted);
	if (rc < 0)
		DS_LOG_WRN("table '%s' of %s: a remote record could not be applied: %s", s->name,
			   path, sqlite3_errmsg(db));
	if (rc == 0)
		rc = ds_table_stmt_run(c, db, "UPDATE _datasync_state SET applying = 0", path);
	if (rc == 0)
		rc = ds_table_stmt_run(c, db, "RELEASE ds_table_apply", path);
	if (rc < 0)
		sqlite3_exec(db, "ROLLBACK TO ds_table_apply; RELEASE ds_table_apply", NULL, NULL,
			     NULL);
out:
	if (key)
		ds_table_vals_clear(key, s->npk);
	if (p.val)
		ds_table_vals_clear(p.val, s->ncol);
	ds_free(key);
	ds_free(p.val);
	ds_free(p.have);
	return rc;
}
