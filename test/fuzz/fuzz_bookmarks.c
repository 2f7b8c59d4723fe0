/*
 * Bookmark records from a server (engine/bookmarks/: the v2 record decoding, the tree merge,
 * the places.sqlite store), applied as the core applies a page, then the structure pass and the
 * upload enumeration. Input: records separated by NUL bytes, each "<id>\n<payload>" (no
 * newline, or nothing after it: a tombstone), on a places.sqlite with Firefox's roots
 * (test/data/firefox/places.sql + bookmarks_roots.sql), emptied again after each input.
 * Checks:
 *  - apply never returns a positive value, and refuses only with -EBADMSG/-EILSEQ (or -ENOMEM);
 *  - the tree stays a tree: every item's parent exists and is a folder, no cycle (every item is
 *    reached from the places root), positions in each folder are 0..n-1 after the commit, the
 *    roots are where Firefox keeps them;
 *  - every record the upload would send is one the decoder accepts, with its own id, a
 *    sortindex of 9 digits at most (1,000,000 exactly for folders) and no ttl, and decoding
 *    the record the engine wrote for a decodable input gives back the same kind.
 */
#include "test/fuzz/fuzz_common.h"
#include "test/fuzz/fuzz_engine.h"
#include "engine/bookmarks/ds_bookmarks.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct ds_engine *engine;
static sqlite3 *db; /* the harness's own connection to the same file */

static int64_t fixed_now(void *ud)
{
	DS_UNUSED(ud);
	return 1767225600000; /* 2026-01-01 */
}

static void exec_file(sqlite3 *h, const char *name)
{
	const char *me = __FILE__, *cut = strstr(me, "fuzz/fuzz_bookmarks.c");
	char path[4096], *text;
	FILE *f;
	long n;

	if (!cut)
		fuzz_fail("no source path");
	snprintf(path, sizeof(path), "%.*sdata/firefox/%s", (int)(cut - me), me, name);
	f = fopen(path, "rb");
	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		fuzz_fail("cannot read a fixture");
	text = ds_malloc((size_t)n + 1);
	if (!text || fread(text, 1, (size_t)n, f) != (size_t)n)
		fuzz_fail("cannot read a fixture");
	text[n] = '\0';
	fclose(f);
	if (sqlite3_exec(h, text, NULL, NULL, NULL) != SQLITE_OK)
		fuzz_fail("cannot load a fixture");
	ds_free(text);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct ds_bookmarks_options opt = { .now_ms = fixed_now };
	struct ds_bookmarks_store *store;
	char *path;

	DS_UNUSED(argc);
	DS_UNUSED(argv);
	fuzz_quiet();
	path = fuzz_engine_fixture("places.sql", "bookmarks-places.sqlite");
	if (sqlite3_open(path, &db) != SQLITE_OK)
		fuzz_fail("cannot open the fixture");
	exec_file(db, "bookmarks_roots.sql");
	sqlite3_exec(db, "PRAGMA synchronous = OFF", NULL, NULL, NULL);
	if (ds_bookmarks_places_open(path, &store) || ds_bookmarks_engine_new(store, &opt, &engine) ||
	    engine->ops->prepare(engine))
		fuzz_fail("cannot open the bookmarks engine");
	ds_free(path);
	return 0;
}

static int64_t q_int(const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fuzz_fail("harness SQL");
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void check_tree(void)
{
	if (q_int("SELECT count(*) FROM moz_bookmarks b LEFT JOIN moz_bookmarks p ON p.id = b.parent"
		  " WHERE b.guid <> 'root________' AND (p.id IS NULL OR p.type <> 2)") != 0)
		fuzz_fail("an item whose parent is missing or not a folder");
	if (q_int("WITH RECURSIVE r(id) AS (SELECT id FROM moz_bookmarks WHERE guid = 'root________'"
		  " UNION SELECT b.id FROM moz_bookmarks b JOIN r ON b.parent = r.id)"
		  " SELECT (SELECT count(*) FROM moz_bookmarks) - (SELECT count(*) FROM r)") != 0)
		fuzz_fail("a cycle: items not reached from the places root");
	if (q_int("SELECT count(*) FROM moz_bookmarks b WHERE b.position <> (SELECT count(*) FROM"
		  " moz_bookmarks s WHERE s.parent = b.parent AND (s.position < b.position OR"
		  " (s.position = b.position AND s.id < b.id)))") != 0)
		fuzz_fail("positions of a folder are not 0..n-1");
	if (q_int("SELECT count(*) FROM moz_bookmarks WHERE guid IN ('menu________', 'toolbar_____',"
		  " 'unfiled_____', 'mobile______', 'tags________') AND parent = 1 AND type = 2") != 5)
		fuzz_fail("a root moved or changed");
}

static int check_out(const struct ds_record *r, void *user_data)
{
	struct ds_bookmark_record rec;

	DS_UNUSED(user_data);
	if (!r->id || !*r->id)
		fuzz_fail("an outgoing record without id");
	/* BSO fields (apis-1.5): a sortindex of at most 9 digits, no ttl for bookmarks. */
	if (r->sortindex < 0 || r->sortindex > 999999999 || r->ttl_s != 0)
		fuzz_fail("an outgoing record with a sortindex out of range or a ttl");
	if (r->deleted)
		return 0;
	if (!r->payload || ds_bookmarks_decode(r->id, r->payload, &rec) != 0)
		fuzz_fail("the engine would upload a record it refuses");
	if (rec.item.kind == DS_BM_FOLDER && r->sortindex != DS_BM_FOLDER_SORTINDEX)
		fuzz_fail("a folder's sortindex is not desktop's");
	/* Local guids that are no Sync ids get new ones before an upload: none goes up, as a
	 * record's id or in a folder's children. */
	if (!ds_bookmarks_guid_valid(ds_bookmarks_local_id(r->id)))
		fuzz_fail("an outgoing record with an invalid id");
	for (size_t i = 0; i < rec.n_children; i++)
		if (!ds_bookmarks_guid_valid(rec.children[i]))
			fuzz_fail("an outgoing folder lists an invalid id");
	ds_bookmark_record_clear(&rec);
	return 0;
}

static void reset(void)
{
	if (sqlite3_exec(db, "DELETE FROM moz_bookmarks WHERE id > 6; DELETE FROM moz_keywords;"
			     " DELETE FROM moz_places WHERE id > 4; UPDATE moz_places SET foreign_count = 0;"
			     " DELETE FROM datasync_bm_changes; DELETE FROM datasync_bm_unknown;"
			     " DELETE FROM datasync_bm_meta; DELETE FROM datasync_bm_tomb;"
			     " UPDATE moz_bookmarks SET position = id - 2 WHERE id > 1",
			 NULL, NULL, NULL) != SQLITE_OK)
		fuzz_fail("harness reset");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size), *p = text, *end = text + size;

	if (engine->ops->begin(engine))
		fuzz_fail("engine begin");
	while (p < end) {
		char *stop = memchr(p, '\0', (size_t)(end - p)), *nl;
		struct ds_record r = { 0 };
		int rc;

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
		rc = engine->ops->apply(engine, &r);
		fuzz_note("apply", rc);
		if (rc > 0)
			fuzz_fail("apply: positive return");
		if (rc < 0 && rc != -EBADMSG && rc != -EILSEQ && rc != -ENOMEM)
			fuzz_fail("apply: an error other than a refused record");
		if (rc == 0 && r.payload) {
			struct ds_bookmark_record in, out;
			struct ds_record back = { 0 };

			/* What the engine holds now for a record it could decode has the same kind. */
			if (ds_bookmarks_decode(r.id, r.payload, &in) == 0) {
				engine->ops->commit(engine);
				if (engine->ops->get(engine, r.id, &back) == 0 &&
				    (ds_bookmarks_decode(r.id, back.payload, &out) != 0 ||
				     (out.item.kind != in.item.kind && in.item.kind != DS_BM_FOLDER)))
					fuzz_fail("an applied record reads back as another kind");
				if (back.payload)
					ds_bookmark_record_clear(&out);
				ds_record_clear(&back);
				if (engine->ops->begin(engine))
					fuzz_fail("engine begin");
			}
			ds_bookmark_record_clear(&in);
		}
		p = stop + 1;
	}
	if (engine->ops->commit(engine))
		fuzz_fail("engine commit");
	check_tree();
	if (engine->ops->changes(engine, check_out, NULL))
		fuzz_fail("listing the changes failed");
	check_tree();
	reset();
	ds_free(text);
	return 0;
}
