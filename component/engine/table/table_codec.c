/*
 * Record encoding of the table engine: typed values <-> JSON, record ids, change-log keys.
 *
 * The rule every function here keeps: a value goes out and comes back with the same SQLite
 * storage class and the same value (typeof() and = both hold), because a record that changed
 * type on its way through a server would be a silent data change on every other device.
 */
#define DS_LOG_TAG "table"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "engine/table/table_int.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An id longer than this is not one of ours (keys are a few values; see docs). */
#define ID_MAX_LEN 8192

/* ---- values ---------------------------------------------------------------------------------- */

void ds_table_val_clear(struct ds_table_val *v)
{
	ds_free(v->p);
	memset(v, 0, sizeof(*v));
}

void ds_table_vals_clear(struct ds_table_val *v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		ds_table_val_clear(&v[i]);
}

static int val_set_bytes(struct ds_table_val *v, enum ds_table_val_type type, const void *p,
			 size_t n)
{
	v->p = ds_malloc(n + 1);
	if (!v->p)
		return -ENOMEM;
	if (n)
		memcpy(v->p, p, n);
	v->p[n] = '\0';
	v->n = n;
	v->type = type;
	return 0;
}

int ds_table_val_from_column(struct ds_table_val *v, sqlite3_stmt *st, int col)
{
	const void *p;

	memset(v, 0, sizeof(*v));
	switch (sqlite3_column_type(st, col)) {
	case SQLITE_INTEGER:
		v->type = DS_TABLE_INT;
		v->i = sqlite3_column_int64(st, col);
		return 0;
	case SQLITE_FLOAT:
		v->type = DS_TABLE_REAL;
		v->d = sqlite3_column_double(st, col);
		return 0;
	case SQLITE_TEXT:
		p = sqlite3_column_text(st, col);
		if (!p)
			return -ENOMEM;
		return val_set_bytes(v, DS_TABLE_TEXT, p, (size_t)sqlite3_column_bytes(st, col));
	case SQLITE_BLOB:
		p = sqlite3_column_blob(st, col);
		return val_set_bytes(v, DS_TABLE_BLOB, p, p ? (size_t)sqlite3_column_bytes(st, col) : 0);
	default:
		v->type = DS_TABLE_NULL;
		return 0;
	}
}

int ds_table_val_bind(sqlite3_stmt *st, int idx, const struct ds_table_val *v)
{
	int rc;

	switch (v->type) {
	case DS_TABLE_INT:
		rc = sqlite3_bind_int64(st, idx, v->i);
		break;
	case DS_TABLE_REAL:
		rc = sqlite3_bind_double(st, idx, v->d);
		break;
	case DS_TABLE_TEXT:
		rc = sqlite3_bind_text(st, idx, v->p, (int)v->n, SQLITE_TRANSIENT);
		break;
	case DS_TABLE_BLOB:
		/* A NULL pointer would bind SQL NULL: an empty blob must stay a blob. */
		rc = v->n ? sqlite3_bind_blob(st, idx, v->p, (int)v->n, SQLITE_TRANSIENT)
			  : sqlite3_bind_zeroblob(st, idx, 0);
		break;
	default:
		rc = sqlite3_bind_null(st, idx);
		break;
	}
	return ds_table_errno(rc);
}

bool ds_table_val_equal(const struct ds_table_val *a, const struct ds_table_val *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case DS_TABLE_INT:
		return a->i == b->i;
	case DS_TABLE_REAL:
		return a->d == b->d;
	case DS_TABLE_TEXT:
	case DS_TABLE_BLOB:
		return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0);
	default:
		return true;
	}
}

/* ---- JSON out -------------------------------------------------------------------------------- */

void ds_table_json_string(struct ds_table_buf *b, const char *s, size_t n)
{
	size_t i, run = 0;

	ds_table_buf_add(b, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char u[8];

		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default:
			if (c < 0x20) {
				snprintf(u, sizeof(u), "\\u%04x", c);
				esc = u;
			}
		}
		if (!esc)
			continue;
		ds_table_buf_add(b, s + run, i - run);
		ds_table_buf_puts(b, esc);
		run = i + 1;
	}
	ds_table_buf_add(b, s + run, n - run);
	ds_table_buf_add(b, "\"", 1);
}

/*
 * Shortest of %.15g..%.17g that reads back to the same double, then forced to look like a real:
 * JSON readers (SQLite's included) take "3" for an integer, so 3.0 must be written "3.0".
 */
static void json_real(struct ds_table_buf *b, double d)
{
	char s[48];
	int prec;

	if (isinf(d)) {
		ds_table_buf_puts(b, d > 0 ? "{\"$real\":\"inf\"}" : "{\"$real\":\"-inf\"}");
		return;
	}
	if (isnan(d)) { /* SQLite stores NaN as NULL; never reached through a column */
		ds_table_buf_puts(b, "null");
		return;
	}
	for (prec = 15; prec <= 17; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, d);
		if (strtod(s, NULL) == d)
			break;
	}
	if (!strpbrk(s, ".eE"))
		strcat(s, ".0");
	ds_table_buf_puts(b, s);
}

static void json_blob(struct ds_table_buf *b, const struct ds_table_val *v)
{
	size_t cap = (v->n + 2) / 3 * 4 + 1;
	char *enc = ds_malloc(cap);
	int n;

	if (!enc) {
		b->oom = true;
		return;
	}
	n = ds_base64_encode(v->p, v->n, enc, cap);
	if (n < 0) {
		b->oom = true;
	} else {
		ds_table_buf_puts(b, "{\"$blob\":\"");
		ds_table_buf_add(b, enc, (size_t)n);
		ds_table_buf_puts(b, "\"}");
	}
	ds_free(enc);
}

void ds_table_json_value(struct ds_table_buf *b, const struct ds_table_val *v)
{
	switch (v->type) {
	case DS_TABLE_INT:
		ds_table_buf_printf(b, "%lld", (long long)v->i);
		break;
	case DS_TABLE_REAL:
		json_real(b, v->d);
		break;
	case DS_TABLE_TEXT:
		ds_table_json_string(b, v->p, v->n);
		break;
	case DS_TABLE_BLOB:
		json_blob(b, v);
		break;
	default:
		ds_table_buf_puts(b, "null");
	}
}

/* ---- JSON in --------------------------------------------------------------------------------- */

/* {"$blob":"..."} and {"$real":"inf"|"-inf"} are ours; any other object or array is kept as its
 * JSON text (a foreign writer's nested value is stored, not dropped). */
static int json_tagged(const char *text, struct ds_table_val *v)
{
	cJSON *o = cJSON_Parse(text);
	const cJSON *m;
	int rc = 1;

	if (!o)
		return -ENOMEM; /* SQLite already validated the text: only allocation can fail */
	m = o->child;
	if (!cJSON_IsObject(o) || !m || m->next || !m->string || m->string[0] != '$')
		goto out;
	if (!cJSON_IsString(m)) {
		rc = -EBADMSG;
	} else if (strcmp(m->string, "$blob") == 0) {
		size_t len = strlen(m->valuestring);
		int n;

		v->p = ds_malloc(len * 3 / 4 + 3);
		if (!v->p) {
			rc = -ENOMEM;
			goto out;
		}
		n = ds_base64_decode(m->valuestring, len, v->p, len * 3 / 4 + 3);
		if (n < 0) {
			rc = -EBADMSG;
			goto out;
		}
		v->type = DS_TABLE_BLOB;
		v->n = (size_t)n;
		rc = 0;
	} else if (strcmp(m->string, "$real") == 0) {
		if (strcmp(m->valuestring, "inf") == 0 || strcmp(m->valuestring, "-inf") == 0) {
			v->type = DS_TABLE_REAL;
			v->d = m->valuestring[0] == '-' ? -INFINITY : INFINITY;
			rc = 0;
		} else {
			rc = -EBADMSG;
		}
	}
out:
	cJSON_Delete(o);
	return rc;
}

static int json_atom(sqlite3_stmt *st, struct ds_table_val *v)
{
	const char *type = (const char *)sqlite3_column_text(st, 1);
	int rc;

	memset(v, 0, sizeof(*v));
	if (!type)
		return -ENOMEM;
	if (strcmp(type, "null") == 0)
		return 0;
	if (strcmp(type, "true") == 0 || strcmp(type, "false") == 0) {
		v->type = DS_TABLE_INT;
		v->i = type[0] == 't';
		return 0;
	}
	if (strcmp(type, "integer") == 0 && sqlite3_column_type(st, 2) != SQLITE_INTEGER)
		return -ERANGE; /* beyond 64 bits: SQLite would make it a lossy real */
	if (strcmp(type, "integer") == 0 || strcmp(type, "real") == 0 || strcmp(type, "text") == 0)
		return ds_table_val_from_column(v, st, 2);
	/* object or array */
	if (!sqlite3_column_text(st, 3))
		return -ENOMEM;
	if (strcmp(type, "object") == 0) {
		rc = json_tagged((const char *)sqlite3_column_text(st, 3), v);
		if (rc <= 0) {
			if (rc < 0)
				ds_table_val_clear(v);
			return rc;
		}
		ds_table_val_clear(v);
	}
	return ds_table_val_from_column(v, st, 3);
}

int ds_table_json_walk(sqlite3 *db, const char *json, bool want_object, ds_table_json_cb cb,
		       void *user_data)
{
	return ds_table_json_walk_c(NULL, db, json, want_object, cb, user_data);
}

int ds_table_json_walk_c(struct ds_table_stmts *c, sqlite3 *db, const char *json,
			 bool want_object, ds_table_json_cb cb, void *user_data)
{
	sqlite3_stmt *st = NULL;
	const char *type;
	int rc;

	rc = ds_table_stmt_get(c, db, "SELECT json_type(?1)", &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	type = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	if (!type || strcmp(type, want_object ? "object" : "array") != 0) {
		ds_table_stmt_put(c, st);
		return rc == SQLITE_NOMEM ? -ENOMEM : -EBADMSG;
	}
	ds_table_stmt_put(c, st);

	rc = ds_table_stmt_get(c, db, "SELECT key, type, atom, value FROM json_each(?1)", &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct ds_table_val v;
		const char *name = NULL;

		if (want_object) {
			name = (const char *)sqlite3_column_text(st, 0);
			if (!name) {
				rc = -ENOMEM;
				break;
			}
		}
		rc = json_atom(st, &v);
		if (rc == 0)
			rc = cb(name, &v, user_data);
		ds_table_val_clear(&v);
		if (rc < 0)
			break;
	}
	ds_table_stmt_put(c, st);
	if (rc == SQLITE_DONE)
		return 0;
	return rc < 0 ? rc : ds_table_errno(rc);
}

/* ---- record ids ------------------------------------------------------------------------------ */

static char *key_json(const struct ds_table_val *key, size_t n)
{
	struct ds_table_buf b = { 0 };
	size_t i;

	ds_table_buf_add(&b, "[", 1);
	for (i = 0; i < n; i++) {
		if (i)
			ds_table_buf_add(&b, ",", 1);
		ds_table_json_value(&b, &key[i]);
	}
	ds_table_buf_add(&b, "]", 1);
	return ds_table_buf_take(&b);
}

int ds_table_id_encode(const struct ds_table_val *key, size_t n, char **out)
{
	char *json = key_json(key, n);
	size_t len, cap;
	char *id;
	int rc;

	*out = NULL;
	if (!json)
		return -ENOMEM;
	len = strlen(json);
	cap = (len + 2) / 3 * 4 + 1;
	id = ds_malloc(cap);
	if (!id) {
		ds_free(json);
		return -ENOMEM;
	}
	rc = ds_base64url_encode(json, len, id, cap);
	ds_free(json);
	if (rc < 0) {
		ds_free(id);
		return rc;
	}
	*out = id;
	return 0;
}

struct id_walk {
	struct ds_table_val *key;
	size_t n;
	size_t got;
};

static int id_elem(const char *name, const struct ds_table_val *v, void *user_data)
{
	struct id_walk *w = user_data;
	struct ds_table_val *dst;

	DS_UNUSED(name);
	if (w->got >= w->n)
		return -EBADMSG;
	dst = &w->key[w->got++];
	*dst = *v;
	dst->p = NULL;
	if (v->type == DS_TABLE_TEXT || v->type == DS_TABLE_BLOB)
		return val_set_bytes(dst, v->type, v->p, v->n);
	return 0;
}

int ds_table_id_decode(sqlite3 *db, const char *id, struct ds_table_val *key, size_t n)
{
	return ds_table_id_decode_c(NULL, db, id, key, n);
}

int ds_table_id_decode_c(struct ds_table_stmts *c, sqlite3 *db, const char *id,
			 struct ds_table_val *key, size_t n)
{
	struct id_walk w = { key, n, 0 };
	size_t len = id ? strlen(id) : 0;
	char *json, *again = NULL;
	int rc;

	memset(key, 0, n * sizeof(*key));
	if (len == 0 || len > ID_MAX_LEN)
		return -EBADMSG;
	json = ds_malloc(len * 3 / 4 + 3);
	if (!json)
		return -ENOMEM;
	rc = ds_base64url_decode(id, len, json, len * 3 / 4 + 2);
	if (rc < 0) {
		ds_free(json);
		return rc == -ENOMEM ? rc : -EBADMSG;
	}
	json[rc] = '\0';
	if (strlen(json) != (size_t)rc) {
		ds_free(json);
		return -EBADMSG;
	}
	rc = ds_table_json_walk_c(c, db, json, false, id_elem, &w);
	ds_free(json);
	if (rc == 0 && w.got != n)
		rc = -EBADMSG;
	/* Only the canonical spelling is accepted, so that one row never has two ids. */
	if (rc == 0)
		rc = ds_table_id_encode(key, n, &again);
	if (rc == 0 && strcmp(again, id) != 0)
		rc = -EBADMSG;
	ds_free(again);
	if (rc < 0)
		ds_table_vals_clear(key, n);
	return rc == -ERANGE ? -EBADMSG : rc;
}

/* ---- change-log keys ------------------------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One literal as SQLite's quote() writes it: NULL, 'text', X'hex', an integer or a real
 * (which may read "Inf"/"-Inf" or carry an exponent). */
static int key_literal(const char **pp, struct ds_table_val *v)
{
	const char *p = *pp;
	size_t n;

	memset(v, 0, sizeof(*v));
	if (strncmp(p, "NULL", 4) == 0) {
		*pp = p + 4;
		return 0;
	}
	if (*p == '\'') {
		struct ds_table_buf b = { 0 };

		for (p++;; p++) {
			if (!*p) {
				ds_table_buf_free(&b);
				return -EBADMSG;
			}
			if (*p == '\'') {
				if (p[1] != '\'')
					break;
				p++;
			}
			ds_table_buf_add(&b, p, 1);
		}
		ds_table_buf_add(&b, "", 0);
		v->n = b.len;
		v->p = ds_table_buf_take(&b);
		if (!v->p)
			return -ENOMEM;
		v->type = DS_TABLE_TEXT;
		*pp = p + 1;
		return 0;
	}
	if ((*p == 'X' || *p == 'x') && p[1] == '\'') {
		const char *end = strchr(p + 2, '\'');
		size_t i;

		if (!end || (end - (p + 2)) % 2)
			return -EBADMSG;
		n = (size_t)(end - (p + 2)) / 2;
		v->p = ds_malloc(n + 1);
		if (!v->p)
			return -ENOMEM;
		for (i = 0; i < n; i++) {
			int hi = hexval(p[2 + 2 * i]), lo = hexval(p[3 + 2 * i]);

			if (hi < 0 || lo < 0) {
				ds_table_val_clear(v);
				return -EBADMSG;
			}
			v->p[i] = (char)(hi << 4 | lo);
		}
		v->type = DS_TABLE_BLOB;
		v->n = n;
		*pp = end + 1;
		return 0;
	}
	n = strcspn(p, ",");
	if (n == 0 || n > 40)
		return -EBADMSG;
	{
		char tok[48], *end;

		memcpy(tok, p, n);
		tok[n] = '\0';
		errno = 0;
		if (strpbrk(tok, ".eEIn")) {
			v->type = DS_TABLE_REAL;
			v->d = strtod(tok, &end);
		} else {
			v->type = DS_TABLE_INT;
			v->i = strtoll(tok, &end, 10);
		}
		if (*end || (errno && v->type == DS_TABLE_INT))
			return -EBADMSG;
	}
	*pp = p + n;
	return 0;
}

int ds_table_key_parse(const char *key, struct ds_table_val *vals, size_t n)
{
	const char *p = key;
	size_t i;
	int rc = 0;

	memset(vals, 0, n * sizeof(*vals));
	for (i = 0; i < n && rc == 0; i++) {
		if (i && *p++ != ',')
			rc = -EBADMSG;
		else
			rc = key_literal(&p, &vals[i]);
	}
	if (rc == 0 && *p)
		rc = -EBADMSG;
	if (rc < 0)
		ds_table_vals_clear(vals, n);
	return rc;
}
