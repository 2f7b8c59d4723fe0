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
