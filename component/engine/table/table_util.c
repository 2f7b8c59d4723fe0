/* String building, SQL quoting and SQLite error mapping for the table engine. */
#define DS_LOG_TAG "table"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "engine/table/table_int.h"

#include <stdio.h>
#include <string.h>

static bool buf_reserve(struct ds_table_buf *b, size_t more)
{
	size_t want;
	char *p;

	if (b->oom)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	want = b->cap ? b->cap : 64;
	while (want < b->len + more + 1) {
		if (want > SIZE_MAX / 2) {
			b->oom = true;
			return false;
		}
		want *= 2;
	}
	p = ds_realloc(b->p, want);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = want;
	return true;
}

void ds_table_buf_add(struct ds_table_buf *b, const char *s, size_t n)
{
	if (!buf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void ds_table_buf_puts(struct ds_table_buf *b, const char *s)
{
	ds_table_buf_add(b, s, strlen(s));
}

void ds_table_buf_printf(struct ds_table_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if (!buf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void buf_quoted(struct ds_table_buf *b, const char *s, char q)
{
	const char *c;

	ds_table_buf_add(b, &q, 1);
	for (c = s; *c; c++) {
		if (*c == q)
			ds_table_buf_add(b, &q, 1);
		ds_table_buf_add(b, c, 1);
	}
	ds_table_buf_add(b, &q, 1);
}

void ds_table_buf_ident(struct ds_table_buf *b, const char *name)
{
	buf_quoted(b, name, '"');
}

void ds_table_buf_literal(struct ds_table_buf *b, const char *s)
{
	buf_quoted(b, s, '\'');
}

char *ds_table_buf_take(struct ds_table_buf *b)
{
	char *p;

	if (b->oom || !buf_reserve(b, 0)) {
		ds_table_buf_free(b);
		return NULL;
	}
	p = b->p;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void ds_table_buf_free(struct ds_table_buf *b)
{
	ds_free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->oom = false;
}

int ds_table_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY: /* a read-only file or mount, not a permission to fix */
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EILSEQ;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_TOOBIG:
	case SQLITE_RANGE:
		return -EINVAL;
	case SQLITE_INTERRUPT:
		return -EINTR;
	default:
		return -EIO;
	}
}

int ds_table_exec(sqlite3 *db, const char *sql, const char *what)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK) {
		DS_LOG_ERR("%s: %s", what, sqlite3_errmsg(db));
		return ds_table_errno(rc);
	}
	return 0;
}

int ds_table_stmt_get(struct ds_table_stmts *c, sqlite3 *db, const char *sql, sqlite3_stmt **out)
{
	unsigned slot;
	char *copy;
	int rc;

	*out = NULL;
	if (!c) {
		rc = sqlite3_prepare_v2(db, sql, -1, out, NULL);
		return rc == SQLITE_OK ? 0 : ds_table_errno(rc);
	}
	for (unsigned i = 0; i < DS_TABLE_STMT_CACHE; i++) {
		if (c->sql[i] && strcmp(c->sql[i], sql) == 0) {
			*out = c->st[i];
			return 0;
		}
	}
	copy = ds_strdup(sql);
	if (!copy)
		return -ENOMEM;
	rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
	if (rc != SQLITE_OK) {
		ds_free(copy);
		return ds_table_errno(rc);
	}
	slot = c->next++ % DS_TABLE_STMT_CACHE;
	sqlite3_finalize(c->st[slot]);
	ds_free(c->sql[slot]);
	c->sql[slot] = copy;
	c->st[slot] = *out;
	return 0;
}

void ds_table_stmt_put(const struct ds_table_stmts *c, sqlite3_stmt *st)
{
	if (!st)
		return;
	if (!c) {
		sqlite3_finalize(st);
		return;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

int ds_table_stmt_run(struct ds_table_stmts *c, sqlite3 *db, const char *sql, const char *what)
{
	sqlite3_stmt *st;
	int rc = ds_table_stmt_get(c, db, sql, &st);

	if (rc == 0) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			;
		rc = rc == SQLITE_DONE ? 0 : ds_table_errno(rc);
		if (rc)
			DS_LOG_ERR("%s: %s", what, sqlite3_errmsg(db));
		ds_table_stmt_put(c, st);
	}
	return rc;
}

void ds_table_stmts_free(struct ds_table_stmts *c)
{
	for (unsigned i = 0; i < DS_TABLE_STMT_CACHE; i++) {
		sqlite3_finalize(c->st[i]);
		ds_free(c->sql[i]);
	}
	memset(c, 0, sizeof(*c));
}
