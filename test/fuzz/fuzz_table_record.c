/*
 * The table engine's record decoding (engine/table/table_codec.c, table_apply.c): record ids and
 * JSON payloads from a remote, applied to a real table of an in-memory SQLite database, and
 * the change-log key literals the triggers write.
 *
 * Input byte 0: bit 0 = the record is a tombstone; bit 1 = the id is made by the engine's own
 * encoder from a key taken from byte 1 (so payload decoding is reached), else the id is the
 * first line of the rest. The remaining text is the payload. Each apply is rolled back, so
 * inputs do not depend on each other.
 */
#include "test/fuzz/fuzz_common.h"
#include "engine/table/table_int.h"
#include "sync/ds_sync.h"

#include <cjson/cJSON.h>
#include <string.h>

static sqlite3 *g_db;
static struct ds_table_cfg g_cfg;
static struct ds_table_shape g_shape;
static char **g_warned;
static size_t g_nwarned;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	cJSON *cfg = cJSON_Parse("{\"kind\":\"table\",\"db\":\"fuzz.db\",\"table\":\"t\"}");

	DS_UNUSED(argc);
	DS_UNUSED(argv);
	fuzz_quiet();
	if (!cfg || sqlite3_open(":memory:", &g_db) != SQLITE_OK ||
	    sqlite3_exec(g_db,
			 "CREATE TABLE t(a INTEGER, b TEXT, c BLOB, d REAL, e, "
			 "PRIMARY KEY(a, b)); CREATE UNIQUE INDEX t_e ON t(e)",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    ds_table_cfg_parse(cfg, &g_cfg) || ds_table_shape_read(g_db, &g_cfg, &g_shape) ||
	    ds_table_install(g_db, &g_cfg, &g_shape))
		fuzz_fail("cannot set up the table");
	cJSON_Delete(cfg);
	return 0;
}

static int count_elem(const char *name, const struct ds_table_val *v, void *user_data)
{
	DS_UNUSED(name);
	if ((v->type == DS_TABLE_TEXT || v->type == DS_TABLE_BLOB) && v->n && !v->p)
		fuzz_fail("a decoded value has bytes but no buffer");
	(*(size_t *)user_data)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ds_table_val key[2] = { { .type = DS_TABLE_INT }, { .type = DS_TABLE_TEXT } };
	struct ds_record r = { 0 };
	char *text, *nl, *id = NULL;
	size_t n = 0;
	int rc;

	if (size < 2)
		return 0;
	text = fuzz_strndup(data + 2, size - 2);
	r.deleted = data[0] & 1;
	if (data[0] & 2) {
		key[0].i = (int64_t)(int8_t)data[1];
		key[1].p = (char *)"k";
		key[1].n = 1;
		if (ds_table_id_encode(key, 2, &id))
			fuzz_fail("ds_table_id_encode");
		r.id = id;
		r.payload = text;
	} else {
		nl = strchr(text, '\n');
		r.id = text;
		r.payload = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
	}
	if (r.deleted)
		r.payload = NULL;
	if (sqlite3_exec(g_db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		fuzz_fail("BEGIN");
	rc = ds_table_apply(g_db, "fuzz.db", &g_shape, &r, &g_warned, &g_nwarned);
	if (rc > 0)
		fuzz_fail("ds_table_apply: positive return");
	if (sqlite3_exec(g_db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
		fuzz_fail("ROLLBACK");

	/* The same text as an array of values, and as a change-log key. */
	if (r.payload) {
		struct ds_table_val vals[3];

		rc = ds_table_json_walk(g_db, r.payload, false, count_elem, &n);
		if (rc != 0 && rc != -EBADMSG && rc != -ERANGE && rc != -ENOMEM)
			fuzz_fail("ds_table_json_walk: unexpected return");
		for (size_t k = 1; k <= 3; k++) {
			rc = ds_table_key_parse(r.payload, vals, k);
			if (rc == 0)
				ds_table_vals_clear(vals, k);
			else if (rc != -EBADMSG && rc != -ENOMEM)
				fuzz_fail("ds_table_key_parse: unexpected return");
		}
	}
	ds_free(id);
	ds_free(text);
	return 0;
}
