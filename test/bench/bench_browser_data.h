/*
 * bench_browser_data.h - the account bench_browser.c syncs: places.sqlite files made from
 * Firefox's schema (test/data/firefox/places.sql) with N places of V visits, or with a new
 * profile's bookmark roots (test/data/firefox/bookmarks_roots.sql) and a deep tree of 2,000
 * items, and a logins.sqlite of L logins saved through the passwords store's app API.
 *
 * Header-only with static functions: each benchmark is one source file (test/module.mk), and
 * bench_browser.c is the only includer.
 */
#ifndef DS_BENCH_BROWSER_DATA_H
#define DS_BENCH_BROWSER_DATA_H

#include "core/ds_core.h"
#include "engine/history/ds_history.h"
#if IS_ENABLED(CONFIG_DS_ENGINE_PASSWORDS)
#include "engine/passwords/ds_passwords.h"
#endif

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void die(const char *what); /* bench_browser.c: print and exit(1) */

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		die("cannot read a file of test/data/firefox (--src)");
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		die("cannot read a file of test/data/firefox");
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void exec_sql(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "bench_browser: SQL: %s\n", err ? err : "?");
		exit(1);
	}
}

/* Firefox's schema, no rows; then n places of v visits each, place i visited last at
 * 2025-11-01 minus i minutes, its visits an hour apart. */
static void make_places(const char *src, const char *path, unsigned long n, unsigned v)
{
	char file[1100];
	char *schema;
	sqlite3 *db;
	sqlite3_stmt *st;
	unsigned long i;

	snprintf(file, sizeof(file), "%s/test/data/firefox/places.sql", src);
	schema = read_file(file);
	unlink(path);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		die("cannot create places.sqlite");
	exec_sql(db, schema);
	free(schema);
	exec_sql(db, "DELETE FROM moz_historyvisits; DELETE FROM moz_bookmarks; DELETE FROM moz_places;"
		     " DELETE FROM moz_origins; PRAGMA journal_mode=WAL; BEGIN");
	if (sqlite3_prepare_v2(db, "INSERT INTO moz_places(id, url, title, rev_host, visit_count,"
			       " frecency, last_visit_date, guid, url_hash) VALUES(?1, ?2, ?3,"
			       " 'gro.elpmaxe.www.', ?4, ?5, ?6, ?7, ?8)", -1, &st, NULL) != SQLITE_OK)
		die("prepare");
	for (i = 1; i <= n; i++) {
		char url[160], title[96], guid[16];
		int64_t last = INT64_C(1761955200000000) - (int64_t)i * 60000000;

		snprintf(url, sizeof(url), "https://www.example.org/articles/%lu/a-readable-slug-for-the-page", i);
		snprintf(title, sizeof(title), "Article %lu: a page title of ordinary length", i);
		snprintf(guid, sizeof(guid), "bench%07lu", i);
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, (sqlite3_int64)i);
		sqlite3_bind_text(st, 2, url, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, title, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 4, (int)v);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)(n - i + 100));
		sqlite3_bind_int64(st, 6, last);
		sqlite3_bind_text(st, 7, guid, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 8, ds_browser_url_hash(url));
		if (sqlite3_step(st) != SQLITE_DONE)
			die("insert place");
	}
	sqlite3_finalize(st);
	{
		char *q = sqlite3_mprintf("WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k"
					  " WHERE j + 1 < %u) INSERT INTO moz_historyvisits(from_visit,"
					  " place_id, visit_date, visit_type, session) SELECT 0, p.id,"
					  " p.last_visit_date - k.j * 3600000000, 1 + (k.j %% 2), 0"
					  " FROM moz_places p, k", v);

		exec_sql(db, q);
		sqlite3_free(q);
	}
	exec_sql(db, "COMMIT");
	sqlite3_close(db);
}

#if IS_ENABLED(CONFIG_DS_ENGINE_BOOKMARKS)
/* Firefox's schema with a new profile's bookmark roots (test/data/firefox/bookmarks_roots.sql);
 * with deep, a chain of 20 folders under the menu, each holding 99 bookmarks then the next. */
static void make_bookmarks(const char *src, const char *path, bool deep)
{
	char file[1100];
	char *sql;
	sqlite3 *db;
	sqlite3_stmt *pl, *bm;
	int k, j;
	int64_t id = 100;

	make_places(src, path, 0, 1);
	snprintf(file, sizeof(file), "%s/test/data/firefox/bookmarks_roots.sql", src);
	sql = read_file(file);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		die("cannot open bookmarks places.sqlite");
	exec_sql(db, sql);
	free(sql);
	if (!deep) {
		sqlite3_close(db);
		return;
	}
	exec_sql(db, "BEGIN");
	if (sqlite3_prepare_v2(db, "INSERT INTO moz_places(url, title, rev_host, guid, url_hash,"
			       " frecency, foreign_count) VALUES(?1, ?2, 'gro.elpmaxe.skramkoob.',"
			       " ?3, ?4, 100, 1)", -1, &pl, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO moz_bookmarks(id, type, fk, parent, position, title,"
			       " dateAdded, lastModified, guid, syncStatus, syncChangeCounter)"
			       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, 1764547200000000, 1764547200000000, ?7,"
			       " 1, 1)", -1, &bm, NULL) != SQLITE_OK)
		die("prepare bookmarks");
	for (k = 0; k < 20; k++) {
		int64_t folder = id++, parent = k == 0 ? 2 : folder - 100;
		char guid[16], title[64];

		snprintf(guid, sizeof(guid), "bmfold%06d", k);
		snprintf(title, sizeof(title), "Folder level %d", k + 1);
		sqlite3_reset(bm);
		sqlite3_bind_int64(bm, 1, folder);
		sqlite3_bind_int(bm, 2, 2);
		sqlite3_bind_null(bm, 3);
		sqlite3_bind_int64(bm, 4, parent);
		sqlite3_bind_int(bm, 5, k == 0 ? 0 : 99);
		sqlite3_bind_text(bm, 6, title, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(bm, 7, guid, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(bm) != SQLITE_DONE)
			die("insert folder");
		for (j = 0; j < 99; j++) {
			char url[128], pguid[16];

			snprintf(url, sizeof(url), "https://bookmarks.example.org/%d/%d", k, j);
			snprintf(pguid, sizeof(pguid), "bmplac%03d%03d", k, j);
			snprintf(guid, sizeof(guid), "bmbook%03d%03d", k, j);
			snprintf(title, sizeof(title), "Bookmark %d.%d", k, j);
			sqlite3_reset(pl);
			sqlite3_bind_text(pl, 1, url, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(pl, 2, title, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(pl, 3, pguid, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(pl, 4, ds_browser_url_hash(url));
			if (sqlite3_step(pl) != SQLITE_DONE)
				die("insert bookmark place");
			sqlite3_reset(bm);
			sqlite3_bind_int64(bm, 1, id++);
			sqlite3_bind_int(bm, 2, 1);
			sqlite3_bind_int64(bm, 3, sqlite3_last_insert_rowid(db));
			sqlite3_bind_int64(bm, 4, folder);
			sqlite3_bind_int(bm, 5, j);
			sqlite3_bind_text(bm, 6, title, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(bm, 7, guid, -1, SQLITE_TRANSIENT);
			if (sqlite3_step(bm) != SQLITE_DONE)
				die("insert bookmark");
		}
	}
	sqlite3_finalize(pl);
	sqlite3_finalize(bm);
	exec_sql(db, "COMMIT");
	sqlite3_close(db);
}
#endif

#if IS_ENABLED(CONFIG_DS_ENGINE_PASSWORDS)
/* n logins saved through the app's API (so encrypted at rest), each on a site of its own. The
 * file is in WAL mode first, as the passwords tests do: one fsync per save otherwise. */
static void make_logins(const char *path, unsigned long n)
{
	struct ds_passwords_store *s;
	sqlite3 *db;
	unsigned long i;

	unlink(path);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		die("cannot create logins.sqlite");
	exec_sql(db, "PRAGMA journal_mode=WAL");
	sqlite3_close(db);
	if (ds_passwords_logins_open(path, NULL, NULL, &s))
		die("cannot open logins.sqlite (the port's secret storage?)");
	for (i = 0; i < n; i++) {
		struct ds_login l;

		/* ds_malloc'ed fields: the save normalises them in place (ds_login_clear frees). */
		memset(&l, 0, sizeof(l));
		l.origin = ds_asprintf("https://accounts.site%05lu.example.com", i);
		l.form_action_origin = l.origin ? ds_strdup(l.origin) : NULL;
		l.username_field = ds_strdup("username");
		l.password_field = ds_strdup("password");
		l.username = ds_asprintf("someone.%lu@mail.example.org", i);
		l.password = ds_asprintf("correct horse battery staple %lu", i);
		l.times_used = 1 + (int64_t)(i % 7);
		if (!l.form_action_origin || !l.username_field || !l.password_field || !l.username ||
		    !l.password || ds_passwords_login_save(s, &l))
			die("cannot save a login");
		ds_login_clear(&l);
	}
	ds_passwords_store_close(s);
}
#endif


#endif /* DS_BENCH_BROWSER_DATA_H */
