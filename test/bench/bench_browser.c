/*
 * bench_browser - a large account's browser data through the sync core, the sync15 remote (with
 * storage format 5 encryption) and the in-process storage node (test/support/fake_sync15.c).
 *
 *   bench_browser --src SRCDIR [--work DIR] [--places N] [--visits V] [--only history|bookmarks]
 *
 * History: device A holds N places of V visits each (defaults 5,000 x 20: the most a first sync
 * moves, sync15.md §9) in a places.sqlite made from test/data/firefox/places.sql, and makes its
 * first sync (upload); device B, with an empty places.sqlite, then makes its first sync
 * (download of the newest 5,000, as the remote's history default asks). For each phase: wall
 * and CPU time, the phase's peak RSS (the process's, which includes the in-process storage
 * node's copy of the records, so also the RSS before the phase), bytes the process wrote
 * (/proc/self/io wchar: SQLite's pages, journals and the metadata store), the engine's local
 * transactions (begin..commit, timed by a wrapper engine) and the longest of them.
 *
 * Bookmarks (when the engine is compiled in): device A holds 2,000 items in a deep tree (a chain
 * of 20 folders under the menu, each holding 99 bookmarks and the next folder), device B the
 * empty roots of a new profile; the same phases, plus the store's own transactions (the engine's
 * structure pass commits outside the core's chunks). --only runs one of the two.
 * Not part of the test suite: test/bench/run-bench.sh runs it (make bench).
 */
#include "core/ds_core.h"
#include "engine/history/ds_history.h"
#if IS_ENABLED(CONFIG_DS_ENGINE_BOOKMARKS)
#include "engine/bookmarks/ds_bookmarks.h"
#endif
#include "remote/sync15/ds_sync15.h"
#include "remote/sync15/ds_sync15_storage.h"
#include "store/ds_store.h"
#include "sync/ds_sync.h"
#include "test/support/fake_remote.h"
#include "test/support/fake_sync15.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if IS_ENABLED(CONFIG_DS_ENGINE_BOOKMARKS)
static void bm_time_store(struct ds_bookmarks_store *s);
#endif

static const uint8_t KSYNC[64] = { 0x5e, 0x11, [20] = 0x7a, [40] = 0x03, [63] = 0xc4 };

static void die(const char *what)
{
	fprintf(stderr, "bench_browser: %s\n", what);
	exit(1);
}

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_usec;
}

/* A "Name:   123 kB" line of /proc/self/status, in KiB; -1 when absent. */
static long status_kib(const char *name)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, strlen(name)) == 0 && line[strlen(name)] == ':')
			v = strtol(line + strlen(name) + 1, NULL, 10);
	fclose(f);
	return v;
}

/* Peak RSS from now on (Linux: "5" to clear_refs resets VmHWM). */
static void reset_peak(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");

	if (f) {
		fputs("5", f);
		fclose(f);
	}
}

static long long wchar_bytes(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	long long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "wchar:", 6) == 0)
			v = strtoll(line + 6, NULL, 10);
	fclose(f);
	return v;
}

/* ---- an engine wrapper timing the local transactions --------------------------------------- */

struct timed {
	struct ds_engine e;
	struct ds_engine *in;
	int64_t started, longest, total;
	unsigned long n;
};

static struct ds_engine *IN(struct ds_engine *e)
{
	return ((struct timed *)e->priv)->in;
}

static int t_prepare(struct ds_engine *e) { return IN(e)->ops->prepare(IN(e)); }

static int t_begin(struct ds_engine *e)
{
	struct timed *t = e->priv;

	t->started = mono_us();
	return t->in->ops->begin(t->in);
}

static void t_end(struct timed *t)
{
	int64_t d = mono_us() - t->started;

	t->n++;
	t->total += d;
	if (d > t->longest)
		t->longest = d;
}

static int t_commit(struct ds_engine *e)
{
	struct timed *t = e->priv;
	int rc = t->in->ops->commit(t->in);

	t_end(t);
	return rc;
}

static int t_rollback(struct ds_engine *e)
{
	struct timed *t = e->priv;
	int rc = t->in->ops->rollback(t->in);

	t_end(t);
	return rc;
}

static int t_changes(struct ds_engine *e, ds_record_cb cb, void *ud)
{
	return IN(e)->ops->changes(IN(e), cb, ud);
}

static int t_changes_after(struct ds_engine *e, uint64_t s, const char *id, ds_record_cb cb, void *ud)
{
	return IN(e)->ops->changes_after(IN(e), s, id, cb, ud);
}

static int t_pending(struct ds_engine *e, const char *id, struct ds_pending_info *out)
{
	return IN(e)->ops->pending(IN(e), id, out);
}

static int t_get(struct ds_engine *e, const char *id, struct ds_record *out)
{
	return IN(e)->ops->get(IN(e), id, out);
}

static int t_apply(struct ds_engine *e, const struct ds_record *r)
{
	return IN(e)->ops->apply(IN(e), r);
}

static int t_forget(struct ds_engine *e, const char *id, uint64_t seq)
{
	return IN(e)->ops->forget(IN(e), id, seq);
}

static int t_merge(struct ds_engine *e, const struct ds_record *l, const struct ds_record *r,
		   struct ds_record *out)
{
	return IN(e)->ops->merge(IN(e), l, r, out);
}

static int t_mark_all(struct ds_engine *e)
{
	return IN(e)->ops->mark_all(IN(e));
}

static void t_close(struct ds_engine *e)
{
	struct timed *t = e->priv;

	t->in->ops->close(t->in);
	ds_free(t);
}

static struct ds_engine_ops timed_ops = {
	.prepare = t_prepare, .begin = t_begin, .commit = t_commit, .rollback = t_rollback,
	.changes = t_changes, .changes_after = t_changes_after, .pending = t_pending, .get = t_get,
	.apply = t_apply, .forget = t_forget, .merge = t_merge, .mark_all = t_mark_all,
	.close = t_close,
};

static struct timed *timed_new(struct ds_engine *in)
{
	struct timed *t = ds_calloc(1, sizeof(*t));

	if (!t)
		die("out of memory");
	timed_ops.kind = in->ops->kind;
	if (!in->ops->merge)
		timed_ops.merge = NULL;
	t->in = in;
	t->e.ops = &timed_ops;
	t->e.priv = t;
	return t;
}

/* ---- devices -------------------------------------------------------------------------------- */

struct device {
	char places[1100];
	char meta[1100];
	struct ds_store *store;
	struct ds_collection *c;
	struct ds_sync15_global g;
	struct timed *timed;
};

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		die("cannot read test/data/firefox/places.sql (--src)");
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		die("cannot read test/data/firefox/places.sql");
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
		sqlite3_bind_int64(st, 8, ds_history_url_hash(url));
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

static void device_open(struct device *d, struct ds_fake_sync15 *srv, const char *work,
			const char *name, const char *kind)
{
	struct ds_sync15_remote_config rc = { .collection = kind, .engine_version = 1 };
	struct ds_policy p = { .direction = DS_DIR_TWO_WAY, .conflict = DS_CONFLICT_MERGE,
			       .max_retries = 3 };
	struct ds_engine *e = NULL;
	struct ds_remote *r;

	snprintf(d->meta, sizeof(d->meta), "%s/%s-meta.db", work, name);
	unlink(d->meta);
	if (ds_store_open(d->meta, &d->store))
		die("cannot open a device's metadata store");
	if (strcmp(kind, "history") == 0) {
		struct ds_history_store *s;

		if (ds_history_places_open(d->places, &s) || ds_history_engine_new(s, NULL, &e))
			die("cannot open the history engine");
	}
#if IS_ENABLED(CONFIG_DS_ENGINE_BOOKMARKS)
	else {
		struct ds_bookmarks_store *s;

		rc.engine_version = 2;
		p.conflict = DS_CONFLICT_SERVER_WINS;
		if (ds_bookmarks_places_open(d->places, &s))
			die("cannot open the bookmarks engine");
		bm_time_store(s);
		if (ds_bookmarks_engine_new(s, NULL, &e))
			die("cannot open the bookmarks engine");
	}
#endif
	if (!e)
		die("no such engine");
	d->timed = timed_new(e);
	rc.auth = ds_fake_sync15_auth(srv);
	rc.transport = ds_fake_sync15_transport(srv);
	rc.global = &d->g;
	if (ds_sync15_remote_new(&rc, &r) ||
	    (strcmp(kind, "history") == 0 &&
	     ds_sync15_remote_set_download_limit(r, DS_HISTORY_MAX_PLACES, "newest")) ||
	    ds_fake_collection_new(kind, &d->timed->e, r, NULL, &p, &d->c))
		die("cannot make the collection");
}

static void device_close(struct device *d)
{
	ds_fake_collection_free(d->c);
	ds_store_close(d->store);
	ds_sync15_global_clear(&d->g);
}

static void phase(const char *what, struct device *d)
{
	struct ds_run_stats st;
	int64_t w0, c0;
	long rss0;
	long long wr0;
	int rc;

	memset(&st, 0, sizeof(st));
	d->timed->n = 0;
	d->timed->longest = d->timed->total = 0;
	rss0 = status_kib("VmRSS");
	reset_peak();
	wr0 = wchar_bytes();
	w0 = mono_us();
	c0 = cpu_us();
	rc = ds_sync_run(d->c, d->store, &st, NULL, NULL);
	if (rc || st.errors) {
		fprintf(stderr, "bench_browser: %s: %d %s\n", what, rc, st.message);
		exit(1);
	}
	printf("  %-28s %8.2f s wall %8.2f s CPU  RSS %6ld -> peak %6ld KiB  wrote %7.1f MiB"
	       "  %4lu transactions, longest %7.1f ms  (fetched %lu, applied %lu, uploaded %lu)\n",
	       what, (double)(mono_us() - w0) / 1e6, (double)(cpu_us() - c0) / 1e6, rss0,
	       status_kib("VmHWM"), (double)(wchar_bytes() - wr0) / (1024.0 * 1024.0), d->timed->n,
	       (double)d->timed->longest / 1000.0, st.fetched, st.applied, st.uploaded);
	fflush(stdout);
}

static int64_t count(const char *path, const char *q)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		die("count");
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

#if IS_ENABLED(CONFIG_DS_ENGINE_BOOKMARKS)
/* The bookmarks store's own transactions (the core's chunks and the engine's structure pass,
 * which the core does not see), timed by wrapping the store's begin/commit/rollback: the time
 * the browser is locked out of places.sqlite. One store at a time. */
static struct ds_bookmarks_store_ops bm_timed_ops;
static const struct ds_bookmarks_store_ops *bm_real_ops;
static int64_t bm_started, bm_longest;
static unsigned long bm_n;

static void bm_end(void)
{
	int64_t d = mono_us() - bm_started;

	bm_n++;
	if (d > bm_longest)
		bm_longest = d;
}

static int bm_begin(void *s)
{
	bm_started = mono_us();
	return bm_real_ops->track.begin(s);
}

static int bm_commit(void *s)
{
	int rc = bm_real_ops->track.commit(s);

	bm_end();
	return rc;
}

static int bm_rollback(void *s)
{
	int rc = bm_real_ops->track.rollback(s);

	bm_end();
	return rc;
}

static void bm_time_store(struct ds_bookmarks_store *s)
{
	bm_real_ops = s->ops;
	bm_timed_ops = *s->ops;
	bm_timed_ops.track.begin = bm_begin;
	bm_timed_ops.track.commit = bm_commit;
	bm_timed_ops.track.rollback = bm_rollback;
	s->ops = &bm_timed_ops;
}

static void bm_phase(const char *what, struct device *d)
{
	bm_n = 0;
	bm_longest = 0;
	phase(what, d);
	printf("  %-28s %lu store transactions (structure pass included), longest %.1f ms\n", "",
	       bm_n, (double)bm_longest / 1000.0);
}

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
			sqlite3_bind_int64(pl, 4, ds_history_url_hash(url));
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

static void bookmarks(const char *src, struct ds_fake_sync15 *srv, const char *work)
{
	struct device a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	snprintf(a.places, sizeof(a.places), "%s/a-bookmarks.sqlite", work);
	snprintf(b.places, sizeof(b.places), "%s/b-bookmarks.sqlite", work);
	make_bookmarks(src, a.places, true);
	make_bookmarks(src, b.places, false);
	printf("\nbookmarks, 2,000 items: 20 nested folders of 99 bookmarks each:\n");
	device_open(&a, srv, work, "abm", "bookmarks");
	bm_phase("first sync, upload", &a);
	device_open(&b, srv, work, "bbm", "bookmarks");
	bm_phase("first sync, download", &b);
	bm_phase("next sync, nothing new", &b);
	printf("  device B holds %" PRId64 " bookmarks and folders under the menu\n",
	       count(b.places, "WITH RECURSIVE t(id) AS (SELECT id FROM moz_bookmarks WHERE guid ="
			       " 'menu________' UNION ALL SELECT b.id FROM moz_bookmarks b JOIN t ON"
			       " b.parent = t.id) SELECT count(*) - 1 FROM t"));
	device_close(&a);
	device_close(&b);
	unlink(a.places);
	unlink(b.places);
	unlink(a.meta);
	unlink(b.meta);
}
#endif

int main(int argc, char **argv)
{
	const char *src = NULL, *work = NULL, *only = NULL;
	unsigned long places = DS_HISTORY_MAX_PLACES;
	unsigned visits = DS_HISTORY_MAX_VISITS;
	char tmp[600];
	struct ds_fake_sync15 *srv;
	struct device a, b;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--src") == 0 && i + 1 < argc)
			src = argv[++i];
		else if (strcmp(argv[i], "--work") == 0 && i + 1 < argc)
			work = argv[++i];
		else if (strcmp(argv[i], "--places") == 0 && i + 1 < argc)
			places = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--visits") == 0 && i + 1 < argc)
			visits = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
			only = argv[++i];
		else
			die("usage: bench_browser --src SRCDIR [--work DIR] [--places N] [--visits V]"
			    " [--only history|bookmarks]");
	}
	if (!src || !places || !visits || visits > DS_HISTORY_MAX_VISITS)
		die("usage: bench_browser --src SRCDIR [--work DIR] [--places N] [--visits 1..20]");
	if (!work) {
		snprintf(tmp, sizeof(tmp), "%s/bench-browser-XXXXXX", P_tmpdir);
		work = mkdtemp(tmp);
		if (!work)
			die("no work folder");
	}
	mkdir(work, 0700);
	ds_log_set_max_level(DS_LOG_ERR);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	snprintf(a.places, sizeof(a.places), "%s/a-places.sqlite", work);
	snprintf(b.places, sizeof(b.places), "%s/b-places.sqlite", work);
	srv = ds_fake_sync15_new(KSYNC);
	if (!srv)
		die("no storage node");
	if (only && strcmp(only, "history") != 0)
		goto bookmarks_only;
	make_places(src, a.places, places, visits);
	make_places(src, b.places, 0, 1);
	printf("history, %lu places x %u visits (storage format 5, in-process storage node):\n",
	       places, visits);
	device_open(&a, srv, work, "a", "history");
	phase("first sync, upload", &a);
	device_open(&b, srv, work, "b", "history");
	phase("first sync, download", &b);
	phase("next sync, nothing new", &b);
	printf("  device B holds %" PRId64 " places, %" PRId64 " visits; places.sqlite %.1f MiB\n",
	       count(b.places, "SELECT count(*) FROM moz_places"),
	       count(b.places, "SELECT count(*) FROM moz_historyvisits"),
	       (double)count(b.places, "SELECT page_count * page_size FROM pragma_page_count(),"
				       " pragma_page_size()") / (1024.0 * 1024.0));
	device_close(&a);
	device_close(&b);
	unlink(a.places);
	unlink(b.places);
	unlink(a.meta);
	unlink(b.meta);
bookmarks_only:
#if IS_ENABLED(CONFIG_DS_ENGINE_BOOKMARKS)
	if (!only || strcmp(only, "bookmarks") == 0)
		bookmarks(src, srv, work);
#endif
	ds_fake_sync15_free(srv);
	return 0;
}
