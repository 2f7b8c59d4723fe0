/* Records applied to a browser engine over a fixture database (see fuzz_engine.h). */
#include "test/fuzz/fuzz_engine.h"
#include "test/fuzz/fuzz_common.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = ds_malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			ds_free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
		}
	}
	fclose(f);
	return buf;
}

char *fuzz_engine_fixture(const char *sql, const char *name)
{
	/* __FILE__ is .../test/fuzz/fuzz_engine.c: the fixtures are in .../test/data/firefox/. */
	const char *me = __FILE__, *cut = strstr(me, "fuzz/fuzz_engine.c");
	const char *dir = fuzz_tmpdir();
	char src[4096], *text, *path;
	sqlite3 *db = NULL;

	if (!cut || !dir)
		fuzz_fail("fixture: no source path or scratch folder");
	snprintf(src, sizeof(src), "%.*sdata/firefox/%s", (int)(cut - me), me, sql);
	text = read_text(src);
	path = ds_malloc(strlen(dir) + strlen(name) + 2);
	if (!text || !path)
		fuzz_fail("fixture: cannot read the SQL file");
	sprintf(path, "%s/%s", dir, name);
	remove(path);
	/* WAL (kept in the file): a rolled-back input then creates and deletes no journal file,
	 * which is most of an input's time otherwise. */
	if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_exec(db, text, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK)
		fuzz_fail("fixture: cannot create the database");
	sqlite3_close(db);
	ds_free(text);
	return path;
}

/* The id's local state: get's return and, on 0, its payload (ds_malloc'd) or NULL. */
static int state_of(struct ds_engine *e, const char *id, char **payload, bool *deleted)
{
	struct ds_record r = { 0 };
	int rc = e->ops->get(e, id, &r);

	*payload = NULL;
	*deleted = false;
	if (rc == 0) {
		*deleted = r.deleted;
		if (r.payload && !(*payload = ds_strdup(r.payload)))
			fuzz_fail("out of memory in the harness");
	}
	ds_record_clear(&r);
	return rc;
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_readback(struct ds_engine *e, const char *id, const char *payload)
{
	cJSON *o = cJSON_Parse(payload);
	const cJSON *jid = cJSON_GetObjectItemCaseSensitive(o, "id");
	struct ds_record again = { .id = (char *)id, .payload = (char *)payload };
	char *p2;
	bool del2;
	int rc;

	if (!cJSON_IsObject(o) || !cJSON_IsString(jid) || strcmp(jid->valuestring, id) != 0)
		fuzz_fail("an applied record reads back without its id");
	cJSON_Delete(o);
	rc = e->ops->apply(e, &again);
	if (rc != 0)
		fuzz_fail("the engine refuses its own record");
	rc = state_of(e, id, &p2, &del2);
	if (rc != 0 || del2 || !same(payload, p2))
		fuzz_fail("applying the record read back changed it (apply is not idempotent)");
	ds_free(p2);
}

void fuzz_engine_run(struct ds_engine *e, const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size), *p = text, *end = text + size;

	if (e->ops->begin(e))
		fuzz_fail("engine begin");
	while (p < end) {
		char *stop = memchr(p, '\0', (size_t)(end - p)), *nl, *before, *after;
		struct ds_record r = { 0 };
		bool del_before, del_after;
		int rc_before, rc, rc_after;

		if (!stop)
			stop = end;
		nl = memchr(p, '\n', (size_t)(stop - p));
		r.id = p;
		if (nl) {
			*nl = '\0';
			r.payload = nl + 1 < stop ? nl + 1 : NULL;
		}
		r.deleted = !r.payload;
		r.modified_ms = 1767225600000;
		rc_before = state_of(e, r.id, &before, &del_before);
		rc = e->ops->apply(e, &r);
		fuzz_note("apply", rc);
		if (rc > 0)
			fuzz_fail("apply: positive return");
		rc_after = state_of(e, r.id, &after, &del_after);
		if (rc < 0 && rc != -ENOMEM &&
		    (rc_before != rc_after || del_before != del_after || !same(before, after)))
			fuzz_fail("a refused record changed the local state");
		if (rc == 0 && !r.deleted && rc_after == 0 && !del_after && after)
			check_readback(e, r.id, after);
		ds_free(before);
		ds_free(after);
		p = stop + 1;
	}
	e->ops->rollback(e);
	ds_free(text);
}
