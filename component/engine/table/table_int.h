/*
 * table_int.h - shared internals of the table engine (not for other modules).
 */
#ifndef DS_TABLE_INT_H
#define DS_TABLE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/* ---- growable string (SQL text, JSON text) ------------------------------------------------- */

/* Appends never fail loudly: the first allocation failure sets oom and later appends are no-ops,
 * so builders check once at the end (ds_table_buf_take). */
struct ds_table_buf {
	char *p;
	size_t len;
	size_t cap;
	bool oom;
};

void ds_table_buf_add(struct ds_table_buf *b, const char *s, size_t n);
void ds_table_buf_puts(struct ds_table_buf *b, const char *s);
void ds_table_buf_printf(struct ds_table_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "name" with embedded quotes doubled: an identifier SQLite reads back exactly. */
void ds_table_buf_ident(struct ds_table_buf *b, const char *name);
/* 'text' with embedded quotes doubled: a string literal. */
void ds_table_buf_literal(struct ds_table_buf *b, const char *s);
/* The NUL-terminated text (caller frees with ds_free), or NULL after an allocation failure. */
char *ds_table_buf_take(struct ds_table_buf *b);
void ds_table_buf_free(struct ds_table_buf *b);

/* ---- typed SQLite values ------------------------------------------------------------------- */

enum ds_table_val_type {
	DS_TABLE_NULL = 0,
	DS_TABLE_INT,
	DS_TABLE_REAL,
	DS_TABLE_TEXT,
	DS_TABLE_BLOB,
};

/* One value with its SQLite storage class. p (text, NUL-terminated, or blob bytes) is owned. */
struct ds_table_val {
	enum ds_table_val_type type;
	int64_t i;
	double d;
	char *p;
	size_t n;
};

void ds_table_val_clear(struct ds_table_val *v);
void ds_table_vals_clear(struct ds_table_val *v, size_t n);
int ds_table_val_from_column(struct ds_table_val *v, sqlite3_stmt *st, int col);
int ds_table_val_bind(sqlite3_stmt *st, int idx, const struct ds_table_val *v);
bool ds_table_val_equal(const struct ds_table_val *a, const struct ds_table_val *b);

/* ---- record encoding (docs/engine-table.md, "Record format") -------------------------------- */

/* Append v as JSON: null, integer digits, a real always with '.' or an exponent, a string, or
 * the tagged objects {"$blob":"<base64>"} and {"$real":"inf"|"-inf"}. */
void ds_table_json_value(struct ds_table_buf *b, const struct ds_table_val *v);
void ds_table_json_string(struct ds_table_buf *b, const char *s, size_t n);

/* Record id: base64url (unpadded) of the JSON array of the key values. */
int ds_table_id_encode(const struct ds_table_val *key, size_t n, char **out);
/* The key values back from an id; -EBADMSG when it is not one of ours or has not n values. */
int ds_table_id_decode(sqlite3 *db, const char *id, struct ds_table_val *key, size_t n);
struct ds_table_stmts;
/* The same with the statements kept in c (NULL: prepared and finalized each time). */
int ds_table_id_decode_c(struct ds_table_stmts *c, sqlite3 *db, const char *id,
			 struct ds_table_val *key, size_t n);

/*
 * Walk the members of a JSON object (want_object) or the elements of an array, decoding each
 * value with its type. Uses SQLite's JSON parser because it keeps what JSON libraries built on
 * doubles lose: 3 vs 3.0, and 64-bit integers exactly. name is NULL for array elements.
 */
typedef int (*ds_table_json_cb)(const char *name, const struct ds_table_val *v, void *user_data);
int ds_table_json_walk(sqlite3 *db, const char *json, bool want_object, ds_table_json_cb cb,
		       void *user_data);
int ds_table_json_walk_c(struct ds_table_stmts *c, sqlite3 *db, const char *json,
			 bool want_object, ds_table_json_cb cb, void *user_data);

/* Parse a change-log key (quote(k1)||','||quote(k2)... as the triggers write it). */
int ds_table_key_parse(const char *key, struct ds_table_val *vals, size_t n);

/* ---- SQLite helpers ------------------------------------------------------------------------ */

int ds_table_errno(int sqlite_rc);
/* Run SQL without results; on error logs msg with SQLite's message and returns -errno. */
int ds_table_exec(sqlite3 *db, const char *sql, const char *what);

/*
 * Statements prepared once and reused, by SQL text: applying a remote page ran the same few
 * statements (savepoint, flag, UPDATE/INSERT of the row, the JSON walks) for each record,
 * and preparing them each time was most of the apply's CPU (docs/performance.md). Not
 * re-entrant for one SQL text: a statement is in use from get to put.
 */
#define DS_TABLE_STMT_CACHE 16
struct ds_table_stmts {
	char *sql[DS_TABLE_STMT_CACHE];
	sqlite3_stmt *st[DS_TABLE_STMT_CACHE];
	unsigned next;
};
/* c NULL: a fresh statement, finalized by put. SQLite's errors as -errno. */
int ds_table_stmt_get(struct ds_table_stmts *c, sqlite3 *db, const char *sql, sqlite3_stmt **out);
void ds_table_stmt_put(const struct ds_table_stmts *c, sqlite3_stmt *st);
/* get, step to the end, put: for statements without results. */
int ds_table_stmt_run(struct ds_table_stmts *c, sqlite3 *db, const char *sql, const char *what);
void ds_table_stmts_free(struct ds_table_stmts *c);

/* ---- schema: configuration, side tables, triggers ------------------------------------------ */

struct ds_table_cfg {
	char *path;
	char *table;
	char **pk;     /* configured key columns, NULL: the table's PRIMARY KEY */
	size_t npk;
	char **cols;   /* configured column subset, NULL: every column */
	size_t ncols;
	int busy_ms;
};

int ds_table_cfg_parse(const void *cjson_cfg, struct ds_table_cfg *cfg);
void ds_table_cfg_free(struct ds_table_cfg *cfg);

/* A UNIQUE index other than the key: INSERT/UPDATE OR REPLACE may delete rows through it. */
struct ds_table_uidx {
	char **col;
	char **coll; /* collation of each column in the index */
	size_t n;
};

/* What the table looks like now, resolved against the configuration. */
struct ds_table_shape {
	char *name;    /* the table's own spelling (names are case-insensitive in SQLite) */
	char **col;    /* synced columns: the key columns first, in key order, then the others */
	size_t ncol;
	size_t npk;
	bool rowid;    /* the key is the rowid of a table without PRIMARY KEY */
	bool subset;   /* a column subset is registered: updates of other columns are not logged */
	struct ds_table_uidx *uidx;
	size_t nuidx;
};

void ds_table_shape_free(struct ds_table_shape *s);
/* Read and check the table's schema: -ENOENT (table gone), -EILSEQ (registered column gone),
 * -EINVAL (bad key), -ENOTSUP (view, virtual table). Logs the reason. */
int ds_table_shape_read(sqlite3 *db, const struct ds_table_cfg *cfg, struct ds_table_shape *s);

/* Create the side tables and (re)install the triggers when they differ from what the shape
 * needs; record the synced columns, reporting columns that appeared or went. In a transaction. */
int ds_table_install(sqlite3 *db, const struct ds_table_cfg *cfg, const struct ds_table_shape *s);

/* Remove triggers, log rows and registry row of a table; drop side tables when none is left. */
int ds_table_uninstall(sqlite3 *db, const char *table);

/* SQL fragment: quote(P"k1")||','||quote(P"k2")... with P = "NEW.", "OLD.", "t." or "" */
void ds_table_key_expr(struct ds_table_buf *b, const struct ds_table_shape *s, const char *prefix);

struct ds_record;

/*
 * Apply a remote record to the table without logging it (the caller holds the transaction).
 * warned/nwarned remember the unknown remote columns already reported, to warn once each.
 */
int ds_table_apply(sqlite3 *db, const char *path, const struct ds_table_shape *s,
		   const struct ds_record *r, char ***warned, size_t *nwarned);
/* The same with its statements kept in c from one record to the next. */
int ds_table_apply_c(sqlite3 *db, struct ds_table_stmts *c, const char *path,
		     const struct ds_table_shape *s, const struct ds_record *r, char ***warned,
		     size_t *nwarned);

/* Milliseconds since the epoch, evaluated inside SQLite (triggers run in the app's process). */
#define DS_TABLE_NOW_MS_SQL "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)"

#endif /* DS_TABLE_INT_H */
