/*
 * Shared fixture of the table engine tests: app databases written through a plain SQLite
 * connection (an app that knows nothing of datasync) and engines opened on them.
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
#include "test/support/table_fixture.h"

static char g_dir[512];
static int g_seq;

/* ---- an app that knows nothing of datasync --------------------------------------------------- */

void tfx_app_exec(const char *db, const char *sql)
{
	sqlite3 *h;
	char *err = NULL;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	if (sqlite3_exec(h, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("app SQL failed: %s\n%s", err, sql);
	sqlite3_close(h);
}

long long tfx_app_int(const char *db, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	long long v = -1;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("app SQL failed: %s\n%s", sqlite3_errmsg(h), sql);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

void tfx_new_db(char *path, size_t cap, const char *schema)
{
	snprintf(path, cap, "%s/app%d.db", g_dir, ++g_seq);
	unlink(path);
	tfx_app_exec(path, schema);
}

/* ---- the engine side ------------------------------------------------------------------------- */

struct ds_engine *tfx_engine(const char *db, const char *extra)
{
	char *json = ds_asprintf("{\"kind\":\"table\",\"db\":\"%s\",%s}", db, extra);
	cJSON *cfg = cJSON_Parse(json);
	struct ds_engine *e = NULL;

	assert_non_null(cfg);
	assert_int_equal(ds_engine_open(cfg, &e), 0);
	assert_int_equal(e->ops->prepare(e), 0);
	cJSON_Delete(cfg);
	ds_free(json);
	return e;
}

int tfx_unregister(const char *db, const char *extra)
{
	char *json = ds_asprintf("{\"kind\":\"table\",\"db\":\"%s\",%s}", db, extra);
	cJSON *cfg = cJSON_Parse(json);
	int rc;

	assert_non_null(cfg);
	rc = ds_engine_unregister(cfg);
	cJSON_Delete(cfg);
	ds_free(json);
	return rc;
}


int tfx_collect(const struct ds_record *r, void *user_data)
{
	struct tfx_changes *c = user_data;
	struct ds_record *d;

	assert_true(c->n < TFX_MAXREC);
	d = &c->r[c->n++];
	*d = *r;
	d->id = ds_strdup(r->id);
	d->payload = r->payload ? ds_strdup(r->payload) : NULL;
	return !d->id || (r->payload && !d->payload) ? -ENOMEM : 0;
}

void tfx_changes_free(struct tfx_changes *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		ds_free(c->r[i].id);
		ds_free(c->r[i].payload);
	}
	memset(c, 0, sizeof(*c));
}

void tfx_changes_get(struct ds_engine *e, struct tfx_changes *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(e->ops->changes(e, tfx_collect, c), 0);
}

/* The record of an id given as its JSON key text, e.g. "[1]". */
const struct ds_record *tfx_find(const struct tfx_changes *c, const char *key_json)
{
	char id[256];
	size_t i;

	assert_true(ds_base64url_encode(key_json, strlen(key_json), id, sizeof(id)) > 0);
	for (i = 0; i < c->n; i++)
		if (strcmp(c->r[i].id, id) == 0)
			return &c->r[i];
	return NULL;
}

int tfx_setup(void **state)
{
	const char *t = getenv("DS_TEST_TMP");

	(void)state;
	if (t && *t) {
		snprintf(g_dir, sizeof(g_dir), "%s", t);
	} else {
		snprintf(g_dir, sizeof(g_dir), "%s/ds-table-XXXXXX", P_tmpdir);
		if (!mkdtemp(g_dir))
			return -1;
	}
	return 0;
}
