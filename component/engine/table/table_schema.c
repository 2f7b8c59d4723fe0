/*
 * Configuration and schema of a registered table: what the user asked for, checked against what
 * the app's database holds now. Every identifier that later reaches SQL text comes from here,
 * spelled as the schema spells it (PRAGMA table_info), never as the user typed it.
 */
#define DS_LOG_TAG "table"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "engine/table/table_int.h"

#include <cjson/cJSON.h>
#include <string.h>

#define DEFAULT_BUSY_MS 5000

/* ---- configuration --------------------------------------------------------------------------- */

static void names_free(char **v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		ds_free(v[i]);
	ds_free(v);
}

static int names_parse(const cJSON *arr, const char *what, char ***out, size_t *n)
{
	const cJSON *it;
	size_t i = 0, j;
	char **v;

	*out = NULL;
	*n = 0;
	if (!arr)
		return 0;
	if (!cJSON_IsArray(arr)) {
		DS_LOG_ERR("table engine: \"%s\" must be an array of column names", what);
		return -EINVAL;
	}
	v = ds_calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsString(it) || !it->valuestring[0]) {
			DS_LOG_ERR("table engine: \"%s\" holds something that is not a column name", what);
			names_free(v, i);
			return -EINVAL;
		}
		for (j = 0; j < i; j++) {
			if (sqlite3_stricmp(v[j], it->valuestring) == 0) {
				DS_LOG_ERR("table engine: column '%s' twice in \"%s\"", it->valuestring, what);
				names_free(v, i);
				return -EINVAL;
			}
		}
		v[i] = ds_strdup(it->valuestring);
		if (!v[i]) {
			names_free(v, i);
			return -ENOMEM;
		}
		i++;
	}
	*out = v;
	*n = i;
	return 0;
}

int ds_table_cfg_parse(const void *cjson_cfg, struct ds_table_cfg *cfg)
{
	const cJSON *c = cjson_cfg;
	const cJSON *db = cJSON_GetObjectItemCaseSensitive(c, "db");
	const cJSON *table = cJSON_GetObjectItemCaseSensitive(c, "table");
	const cJSON *pk = cJSON_GetObjectItemCaseSensitive(c, "pk");
	const cJSON *busy = cJSON_GetObjectItemCaseSensitive(c, "busy_timeout_ms");
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if (!cJSON_IsString(db) || !db->valuestring[0] || !cJSON_IsString(table) ||
	    !table->valuestring[0]) {
		DS_LOG_ERR("table engine: \"db\" (path of the app's database) and \"table\" are required");
		return -EINVAL;
	}
	if (pk && cJSON_GetArraySize(pk) == 0) {
		DS_LOG_ERR("table engine: \"pk\" must name at least one column");
		return -EINVAL;
	}
	if (busy && (!cJSON_IsNumber(busy) || busy->valuedouble < 0 || busy->valuedouble > 600000)) {
		DS_LOG_ERR("table engine: \"busy_timeout_ms\" must be 0..600000");
		return -EINVAL;
	}
	cfg->busy_ms = busy ? busy->valueint : DEFAULT_BUSY_MS;
	cfg->path = ds_strdup(db->valuestring);
	cfg->table = ds_strdup(table->valuestring);
	if (!cfg->path || !cfg->table) {
		ds_table_cfg_free(cfg);
		return -ENOMEM;
	}
	rc = names_parse(pk, "pk", &cfg->pk, &cfg->npk);
	if (rc == 0)
		rc = names_parse(cJSON_GetObjectItemCaseSensitive(c, "columns"), "columns", &cfg->cols,
				 &cfg->ncols);
	if (rc == 0 && cJSON_GetObjectItemCaseSensitive(c, "columns") && !cfg->cols) {
		cfg->cols = ds_calloc(1, sizeof(char *)); /* "columns":[]: only the key */
		if (!cfg->cols)
			rc = -ENOMEM;
	}
	if (rc < 0)
		ds_table_cfg_free(cfg);
	return rc;
}

void ds_table_cfg_free(struct ds_table_cfg *cfg)
{
	ds_free(cfg->path);
	ds_free(cfg->table);
	names_free(cfg->pk, cfg->npk);
	names_free(cfg->cols, cfg->ncols);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- schema ---------------------------------------------------------------------------------- */

struct tcols {
	char **name;
	int *pk; /* position in the declared PRIMARY KEY, 0 if not part of it */
	size_t n;
};

static void tcols_free(struct tcols *t)
{
	names_free(t->name, t->n);
	ds_free(t->pk);
}

static int tcols_read(sqlite3 *db, const char *table, struct tcols *t)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc;

	memset(t, 0, sizeof(*t));
	rc = sqlite3_prepare_v2(db, "SELECT name, pk FROM pragma_table_info(?1, 'main') ORDER BY cid",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return ds_table_errno(rc);
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (t->n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nn = ds_realloc(t->name, ncap * sizeof(*nn));
			int *np;

			if (nn)
				t->name = nn;
			np = nn ? ds_realloc(t->pk, ncap * sizeof(*np)) : NULL;
			if (!np) {
				rc = SQLITE_NOMEM;
				break;
			}
			t->pk = np;
			cap = ncap;
		}
		t->name[t->n] = ds_strdup((const char *)sqlite3_column_text(st, 0));
		if (!t->name[t->n]) {
			rc = SQLITE_NOMEM;
			break;
		}
		t->pk[t->n++] = sqlite3_column_int(st, 1);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		tcols_free(t);
		return ds_table_errno(rc);
	}
	return 0;
}

static const char *tcols_find(const struct tcols *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (sqlite3_stricmp(t->name[i], name) == 0)
			return t->name[i];
	return NULL;
}

static bool in_list(char **v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (sqlite3_stricmp(v[i], name) == 0)
			return true;
	return false;
}

static int push_name(struct ds_table_shape *s, const char *name)
{
	s->col[s->ncol] = ds_strdup(name);
	if (!s->col[s->ncol])
		return -ENOMEM;
	s->ncol++;
	return 0;
}

static void uidx_free(struct ds_table_uidx *u)
{
	names_free(u->col, u->n);
	names_free(u->coll, u->n);
}

void ds_table_shape_free(struct ds_table_shape *s)
{
	size_t i;

	ds_free(s->name);
	names_free(s->col, s->ncol);
	for (i = 0; i < s->nuidx; i++)
		uidx_free(&s->uidx[i]);
	ds_free(s->uidx);
	memset(s, 0, sizeof(*s));
}

/* One unique index, or 1 to skip it (expression index: its REPLACE victims cannot be named). */
static int uidx_read(sqlite3 *db, const char *index, struct ds_table_uidx *u)
{
	sqlite3_stmt *st;
	int rc, count = 0;

	memset(u, 0, sizeof(*u));
	rc = sqlite3_prepare_v2(db,
				"SELECT cid, name, coll FROM pragma_index_xinfo(?1, 'main') WHERE key "
				"ORDER BY seqno",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return ds_table_errno(rc);
	sqlite3_bind_text(st, 1, index, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		count++;
	sqlite3_reset(st);
	u->col = ds_calloc((size_t)count + 1, sizeof(char *));
	u->coll = ds_calloc((size_t)count + 1, sizeof(char *));
	if (!u->col || !u->coll) {
		rc = SQLITE_NOMEM;
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && (int)u->n < count) {
		const char *name = (const char *)sqlite3_column_text(st, 1);
		const char *coll = (const char *)sqlite3_column_text(st, 2);

		if (sqlite3_column_int(st, 0) < 0 || !name) {
			DS_LOG_DBG("unique index '%s' uses an expression: REPLACE through it is not tracked",
				   index);
			rc = 1;
			goto out;
		}
		u->col[u->n] = ds_strdup(name);
		u->coll[u->n] = ds_strdup(coll ? coll : "BINARY");
		if (!u->col[u->n] || !u->coll[u->n]) {
			u->n++;
			rc = SQLITE_NOMEM;
			goto out;
		}
		u->n++;
	}
out:
	sqlite3_finalize(st);
	if (rc == 1 || (rc != SQLITE_DONE && rc != SQLITE_ROW)) {
		uidx_free(u);
		memset(u, 0, sizeof(*u));
		return rc == 1 ? 1 : ds_table_errno(rc);
	}
	return 0;
}

static bool uidx_is_key(const struct ds_table_uidx *u, char **key, size_t nkey)
{
	size_t i;

	if (u->n != nkey)
		return false;
	for (i = 0; i < u->n; i++)
		if (!in_list(key, nkey, u->col[i]))
			return false;
	return true;
}

/* Every full (non-partial) unique index, including the PRIMARY KEY's own. */
static int uidx_read_all(sqlite3 *db, const char *table, struct ds_table_uidx **out, size_t *n)
{
	sqlite3_stmt *st;
	struct ds_table_uidx *v = NULL;
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	rc = sqlite3_prepare_v2(db,
				"SELECT name FROM pragma_index_list(?1, 'main') WHERE \"unique\" "
				"ORDER BY name",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return ds_table_errno(rc);
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r;

		if (*n == cap) {
			struct ds_table_uidx *nv = ds_realloc(v, (cap ? cap * 2 : 4) * sizeof(*v));

			if (!nv) {
				rc = SQLITE_NOMEM;
				break;
			}
			v = nv;
			cap = cap ? cap * 2 : 4;
		}
		r = uidx_read(db, (const char *)sqlite3_column_text(st, 0), &v[*n]);
		if (r < 0) {
			rc = SQLITE_NOMEM;
			break;
		}
		if (r == 0)
			(*n)++;
	}
	sqlite3_finalize(st);
	*out = v;
	return rc == SQLITE_DONE ? 0 : ds_table_errno(rc);
}

/*
 * The key: the declared PRIMARY KEY by default; otherwise the configured columns, which must be
 * exactly the columns of the PRIMARY KEY or of a UNIQUE index (else one id could name two rows,
 * and an applied record could not find its row); or ["rowid"] for a table without PRIMARY KEY.
 */
static int shape_key(const struct ds_table_cfg *cfg, const struct tcols *t,
		     const struct ds_table_uidx *u, size_t nu, struct ds_table_shape *s)
{
	size_t i, j, declared = 0;
	int rc;

	for (i = 0; i < t->n; i++)
		declared += t->pk[i] > 0;
	if (!cfg->pk) {
		if (!declared) {
			DS_LOG_ERR("table '%s' of %s has no PRIMARY KEY: set \"pk\" to its unique "
				   "columns, or to [\"rowid\"]", s->name, cfg->path);
			return -EINVAL;
		}
		for (j = 1; j <= declared; j++)
			for (i = 0; i < t->n; i++)
				if (t->pk[i] == (int)j && (rc = push_name(s, t->name[i])) < 0)
					return rc;
		s->npk = declared;
		return 0;
	}
	if (cfg->npk == 1 && sqlite3_stricmp(cfg->pk[0], "rowid") == 0 && !tcols_find(t, "rowid")) {
		if (declared) {
			DS_LOG_ERR("table '%s' of %s has a PRIMARY KEY: use it instead of the rowid",
				   s->name, cfg->path);
			return -EINVAL;
		}
		s->rowid = true;
		s->npk = 1;
		return push_name(s, "rowid");
	}
	for (i = 0; i < cfg->npk; i++) {
		const char *name = tcols_find(t, cfg->pk[i]);

		if (!name) {
			DS_LOG_ERR("key column '%s' is not in table '%s' of %s", cfg->pk[i], s->name,
				   cfg->path);
			return -EINVAL;
		}
		if ((rc = push_name(s, name)) < 0)
			return rc;
	}
	s->npk = cfg->npk;
	for (j = 0; j < nu; j++)
		if (uidx_is_key(&u[j], s->col, s->npk))
			return 0;
	if (declared == cfg->npk) {
		for (i = 0; i < t->n && (t->pk[i] == 0 || in_list(s->col, s->npk, t->name[i])); i++)
			;
		if (i == t->n)
			return 0; /* INTEGER PRIMARY KEY has no index of its own */
	}
	DS_LOG_ERR("\"pk\" of table '%s' in %s is not its PRIMARY KEY or a UNIQUE index", s->name,
		   cfg->path);
	return -EINVAL;
}

static int shape_columns(const struct ds_table_cfg *cfg, const struct tcols *t,
			 struct ds_table_shape *s)
{
	size_t i;
	int rc;

	if (cfg->cols) {
		s->subset = true;
		for (i = 0; i < cfg->ncols; i++) {
			const char *name = tcols_find(t, cfg->cols[i]);

			if (!name) {
				DS_LOG_ERR("column '%s' registered for table '%s' is gone from %s: "
					   "collection paused", cfg->cols[i], s->name, cfg->path);
				return -EILSEQ;
			}
			if (!in_list(s->col, s->ncol, name) && (rc = push_name(s, name)) < 0)
				return rc;
		}
		return 0;
	}
	for (i = 0; i < t->n; i++)
		if (!in_list(s->col, s->npk, t->name[i]) && (rc = push_name(s, t->name[i])) < 0)
			return rc;
	return 0;
}

static int shape_table(sqlite3 *db, const struct ds_table_cfg *cfg, struct ds_table_shape *s)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db,
				"SELECT name, type, sql LIKE 'CREATE VIRTUAL%' FROM sqlite_schema "
				"WHERE name = ?1 COLLATE NOCASE AND type IN ('table', 'view')",
				-1, &st, NULL);
	if (rc != SQLITE_OK) {
		DS_LOG_ERR("%s is not readable as a database: %s", cfg->path, sqlite3_errmsg(db));
		return ds_table_errno(rc);
	}
	sqlite3_bind_text(st, 1, cfg->table, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		DS_LOG_ERR("table '%s' is gone from %s: collection paused", cfg->table, cfg->path);
		rc = -ENOENT;
	} else if (rc != SQLITE_ROW) {
		DS_LOG_ERR("%s is not readable as a database: %s", cfg->path, sqlite3_errmsg(db));
		rc = ds_table_errno(rc);
	} else if (strcmp((const char *)sqlite3_column_text(st, 1), "view") == 0 ||
		   sqlite3_column_int(st, 2)) {
		DS_LOG_ERR("'%s' of %s is a view or a virtual table: only tables can be synced",
			   cfg->table, cfg->path);
		rc = -ENOTSUP;
	} else {
		s->name = ds_strdup((const char *)sqlite3_column_text(st, 0));
		rc = s->name ? 0 : -ENOMEM;
	}
	sqlite3_finalize(st);
	return rc;
}

int ds_table_shape_read(sqlite3 *db, const struct ds_table_cfg *cfg, struct ds_table_shape *s)
{
	struct tcols t;
	struct ds_table_uidx *u = NULL;
	size_t nu = 0, i, keep = 0;
	int rc;

	memset(s, 0, sizeof(*s));
	if (sqlite3_strnicmp(cfg->table, "sqlite_", 7) == 0 ||
	    sqlite3_strnicmp(cfg->table, "_datasync_", 10) == 0) {
		DS_LOG_ERR("'%s' is an internal table and cannot be synced", cfg->table);
		return -EINVAL;
	}
	rc = shape_table(db, cfg, s);
	if (rc < 0)
		goto fail;
	rc = tcols_read(db, s->name, &t);
	if (rc < 0)
		goto fail;
	s->col = ds_calloc(t.n + 1, sizeof(char *));
	rc = s->col ? uidx_read_all(db, s->name, &u, &nu) : -ENOMEM;
	if (rc == 0)
		rc = shape_key(cfg, &t, u, nu, s);
	if (rc == 0)
		rc = shape_columns(cfg, &t, s);
	tcols_free(&t);
	/* Keep the unique indexes other than the key: their REPLACE victims need logging. */
	for (i = 0; i < nu; i++) {
		if (rc == 0 && !uidx_is_key(&u[i], s->col, s->npk))
			u[keep++] = u[i];
		else
			uidx_free(&u[i]);
	}
	s->uidx = u;
	s->nuidx = keep;
	if (rc < 0)
		goto fail;
	return 0;
fail:
	ds_table_shape_free(s);
	return rc;
}

void ds_table_key_expr(struct ds_table_buf *b, const struct ds_table_shape *s, const char *prefix)
{
	size_t i;

	for (i = 0; i < s->npk; i++) {
		ds_table_buf_puts(b, i ? "||','||quote(" : "quote(");
		ds_table_buf_puts(b, prefix);
		ds_table_buf_ident(b, s->col[i]);
		ds_table_buf_puts(b, ")");
	}
}
