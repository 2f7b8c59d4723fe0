/*
 * bench_browser - a large account's first sync of browser data through the sync core, the
 * sync15 remote (storage format 5 encryption, HTTP on loopback) and the storage node
 * (test/support/fake_sync15.c) served from a process of its own (bench_browser_node.h).
 *
 *   bench_browser --src SRCDIR [--work DIR] [--places N] [--visits V] [--logins L]
 *                 [--only history|bookmarks|passwords]
 *
 * The account (docs/performance.md): history of N places with V visits each (defaults 5,000 x
 * 20: the most a first sync moves, sync15.md §9) in a places.sqlite made from
 * test/data/firefox/places.sql; bookmarks, 2,000 items in a deep tree (a chain of 20 folders
 * under the menu, each holding 99 bookmarks and the next folder) over a new profile's roots
 * (test/data/firefox/bookmarks_roots.sql); passwords, L saved logins (default 500) in a
 * logins.sqlite encrypted at rest under a key in the port's secret storage (a folder under the
 * work folder).
 *
 * For each kind, device A makes its first sync (upload), then device B, with no data of that
 * kind, makes its first sync (download; for history the newest 5,000 places, as the remote's
 * default asks) and syncs again with nothing new. Each device runs in a fresh process (this
 * program re-executed with --phase), as after a daemon restart, so each figure is the agent's
 * own: wall and CPU time (getrusage of the process; the node's work is elsewhere), the peak RSS
 * (VmHWM, reset at each run's start through /proc/self/clear_refs) and the peak of RssAnon
 * (sampled at each commit and every 100 progress calls: the kernel keeps no peak of it), the
 * peak of SQLite's own heap (sqlite3_memory_highwater: page caches, schemas, statements), the
 * peak of our own heap (what ds_malloc holds, through the allocator hook when it is compiled in;
 * cJSON and libraries allocate beside it), what SQLite wrote and read (bytes, write calls and
 * fsyncs, read calls, through a counting VFS, bench_browser_vfs.h: reads are the pages a page
 * cache smaller than the working set fetches again), the
 * local transactions (the engine's begin..commit through a wrapper; for bookmarks the store's
 * own, which include the engine's structure pass) with the longest and the most records applied
 * in one, and the HTTP requests made.
 * Not part of the test suite: test/bench/run-bench.sh runs it (make bench).
 */
#include "core/ds_core.h"
#include "ds_port.h"
#include "engine/history/ds_history.h"
#if IS_ENABLED(CONFIG_DS_ENGINE_BOOKMARKS)
#include "engine/bookmarks/ds_bookmarks.h"
#endif
#if IS_ENABLED(CONFIG_DS_ENGINE_PASSWORDS)
#include "engine/passwords/ds_passwords.h"
#endif
#include "remote/sync15/ds_sync15.h"
#include "remote/sync15/ds_sync15_storage.h"
#include "store/ds_store.h"
#include "sync/ds_sync.h"
#include "test/bench/bench_browser_data.h"
#include "test/bench/bench_browser_node.h"
#include "test/bench/bench_browser_vfs.h"
#include "test/support/fake_remote.h"

#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
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

/* The peak of RssAnon during a run, sampled (the kernel keeps the total's peak only). */
static long g_peak_anon;
static unsigned long g_progress_calls;

static void sample_anon(void)
{
	long v = status_kib("RssAnon");

	if (v > g_peak_anon)
		g_peak_anon = v;
}

static void on_progress(const char *collection, const char *phase, unsigned long done,
			unsigned long total, void *user_data)
{
	DS_UNUSED(collection);
	DS_UNUSED(phase);
	DS_UNUSED(done);
	DS_UNUSED(total);
	DS_UNUSED(user_data);
	if (++g_progress_calls % 100 == 0)
		sample_anon();
}

/* ---- our own heap: what goes through ds_malloc, counted by the allocator hook ------------- */

/* Bytes held (as glibc's usable size of each block) and their peak since the run began. */
static size_t g_own_bytes, g_own_peak;
static bool g_own_counted; /* the hook is compiled in (CONFIG_DS_ALLOC_HOOK) */

static void own_add(void *p)
{
	g_own_bytes += malloc_usable_size(p);
	if (g_own_bytes > g_own_peak)
		g_own_peak = g_own_bytes;
}

static void *own_malloc(size_t n, void *user_data)
{
	void *p = malloc(n);

	DS_UNUSED(user_data);
	if (p)
		own_add(p);
	return p;
}

static void *own_realloc(void *p, size_t n, void *user_data)
{
	size_t old = p ? malloc_usable_size(p) : 0;
	void *q = realloc(p, n);

	DS_UNUSED(user_data);
	if (q) {
		g_own_bytes -= old;
		own_add(q);
	}
	return q;
}

static void own_free(void *p, void *user_data)
{
	DS_UNUSED(user_data);
	if (p)
		g_own_bytes -= malloc_usable_size(p);
	free(p);
}

static const struct ds_allocator own_allocator = {
	.malloc_fn = own_malloc, .realloc_fn = own_realloc, .free_fn = own_free,
};

/* ---- an engine wrapper timing the local transactions --------------------------------------- */

struct timed {
	struct ds_engine e;
	struct ds_engine *in;
	int64_t started, longest;
	unsigned long n;
	unsigned long applies, most; /* records applied in the open transaction, and the most */
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
	t->applies = 0;
	return t->in->ops->begin(t->in);
}

static void t_end(struct timed *t)
{
	int64_t d = mono_us() - t->started;

	t->n++;
	if (d > t->longest)
		t->longest = d;
	if (t->applies > t->most)
		t->most = t->applies;
}

static int t_commit(struct ds_engine *e)
{
	struct timed *t = e->priv;
	int rc;

	sample_anon(); /* the transaction's records and pages are still held */
	rc = t->in->ops->commit(t->in);
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
	((struct timed *)e->priv)->applies++;
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
#endif

/* The port on the work folder: the passwords store keeps its key in the secret storage. */
static void port_init(const char *work)
{
	char data[PATH_MAX], run[PATH_MAX], secrets[PATH_MAX];

	snprintf(data, sizeof(data), "%s/port/data", work);
	snprintf(run, sizeof(run), "%s/port/run", work);
	snprintf(secrets, sizeof(secrets), "%s/port/secrets", work);
	if (ds_port_init(&(struct ds_port_config){ .data_dir = data, .run_dir = run,
						   .secret_dir = secrets }))
		die("cannot initialise the port on the work folder");
}

/* ---- one device, in a process of its own ------------------------------------------------- */

static int g_port;

static int node_token(void *ctx, bool fresh, struct ds_sync15_creds *out)
{
	DS_UNUSED(ctx);
	DS_UNUSED(fresh);
	memset(out, 0, sizeof(*out));
	bench_node_endpoint(g_port, out->endpoint, sizeof(out->endpoint));
	snprintf(out->hawk_id, sizeof(out->hawk_id), "tok-1"); /* taken by the node at its start */
	snprintf(out->hawk_key, sizeof(out->hawk_key), "key-1");
	return 0;
}

static int node_ksync(void *ctx, uint8_t out[64])
{
	DS_UNUSED(ctx);
	memcpy(out, KSYNC, 64);
	return 0;
}

static const struct ds_sync15_auth_ops node_auth_ops = { .token = node_token, .ksync = node_ksync };

struct device {
	char data[PATH_MAX]; /* places.sqlite or logins.sqlite */
	char meta[PATH_MAX];
	struct ds_store *store;
	struct ds_remote *remote;
	struct ds_collection *c;
	struct ds_sync15_global g;
	struct timed *timed;
	bool bookmarks;
};

static void data_path(char *out, size_t cap, const char *work, const char *kind, const char *dev)
{
	snprintf(out, cap, "%s/%s-%s.sqlite", work, dev, kind);
}

static void device_open(struct device *d, const char *work, const char *dev, const char *kind)
{
	struct ds_sync15_remote_config rc = { .collection = kind, .engine_version = 1 };
	struct ds_policy p = { .direction = DS_DIR_TWO_WAY, .conflict = DS_CONFLICT_MERGE,
			       .max_retries = 3 };
	struct ds_engine *e = NULL;

	memset(d, 0, sizeof(*d));
	data_path(d->data, sizeof(d->data), work, kind, dev);
	snprintf(d->meta, sizeof(d->meta), "%s/%s-%s-meta.db", work, dev, kind);
	unlink(d->meta); /* a device signed in afresh: its first sync */
	if (ds_store_open(d->meta, &d->store))
		die("cannot open a device's metadata store");
	if (strcmp(kind, "history") == 0) {
		struct ds_history_store *s;

		if (ds_history_places_open(d->data, &s) || ds_history_engine_new(s, NULL, &e))
			die("cannot open the history engine");
	}
#if IS_ENABLED(CONFIG_DS_ENGINE_BOOKMARKS)
	if (strcmp(kind, "bookmarks") == 0) {
		struct ds_bookmarks_store *s;

		rc.engine_version = 2;
		p.conflict = DS_CONFLICT_SERVER_WINS;
		if (ds_bookmarks_places_open(d->data, &s))
			die("cannot open the bookmarks engine");
		bm_time_store(s);
		if (ds_bookmarks_engine_new(s, NULL, &e))
			die("cannot open the bookmarks engine");
		d->bookmarks = true;
	}
#endif
#if IS_ENABLED(CONFIG_DS_ENGINE_PASSWORDS)
	if (strcmp(kind, "passwords") == 0) {
		struct ds_passwords_store *s;

		if (ds_passwords_logins_open(d->data, NULL, NULL, &s) || ds_passwords_engine_new(s, &e))
			die("cannot open the passwords engine");
	}
#endif
	if (!e)
		die("no such engine in this build");
	d->timed = timed_new(e);
	rc.auth.ops = &node_auth_ops;
	rc.global = &d->g;
	if (ds_sync15_remote_new(&rc, &d->remote) ||
	    (strcmp(kind, "history") == 0 &&
	     ds_sync15_remote_set_download_limit(d->remote, DS_HISTORY_MAX_PLACES, "newest")) ||
	    ds_fake_collection_new(kind, &d->timed->e, d->remote, NULL, &p, &d->c))
		die("cannot make the collection");
}

static void device_close(struct device *d)
{
	ds_fake_collection_free(d->c);
	ds_store_close(d->store);
	ds_sync15_global_clear(&d->g);
}

static double mib(long long bytes)
{
	return (double)bytes / (1024.0 * 1024.0);
}

/* With BENCH_BROWSER_MAPS set: after each run, the resident KiB of each mapping of a file and
 * of the anonymous ones (summed by name), to stderr: what the peak RSS is made of. */
static void rss_by_mapping(const char *kind, const char *what)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512], cur[256] = "";
	long kb;

	while (f && fgets(line, sizeof(line), f)) {
		char *slash = strchr(line, '/');

		if (strchr(line, '-') == line + strspn(line, "0123456789abcdef")) {
			snprintf(cur, sizeof(cur), "%s", slash ? slash : "[anon]\n");
			cur[strcspn(cur, "\n")] = '\0';
		} else if (sscanf(line, "Rss: %ld", &kb) == 1 && kb > 0) {
			fprintf(stderr, "maps %s %s: %6ld KiB %s\n", kind, what, kb, cur);
		}
	}
	if (f)
		fclose(f);
}

/* One run of the collection, one row of the table. */
static void run(const char *kind, const char *what, struct device *d)
{
	struct ds_sync15_client *cl = ds_sync15_remote_client(d->remote);
	struct bench_vfs_counts v0 = g_vfs_counts;
	struct ds_run_stats st;
	unsigned long reqs0 = cl ? ds_sync15_client_requests(cl) : 0, n, txns, records;
	int64_t w0, c0, wall, cpu, longest;
	long rss0, anon0;
	char per1k[32], own[32];
	int rc;

	memset(&st, 0, sizeof(st));
	d->timed->n = d->timed->most = 0;
	d->timed->longest = 0;
#if IS_ENABLED(CONFIG_DS_ENGINE_BOOKMARKS)
	bm_n = 0;
	bm_longest = 0;
#endif
	rss0 = status_kib("VmRSS");
	anon0 = status_kib("RssAnon");
	sqlite3_memory_highwater(1);
	g_own_peak = g_own_bytes;
	reset_peak();
	g_peak_anon = 0;
	sample_anon();
	w0 = mono_us();
	c0 = cpu_us();
	rc = ds_sync_run(d->c, d->store, &st, on_progress, NULL);
	cpu = cpu_us() - c0;
	wall = mono_us() - w0;
	sample_anon();
	if (rc || st.errors) {
		fprintf(stderr, "bench_browser: %s %s: %d %s / %s\n", kind, what, rc, st.message,
			ds_sync15_remote_error(d->remote));
		exit(1);
	}
	cl = ds_sync15_remote_client(d->remote);
	n = cl ? ds_sync15_client_requests(cl) - reqs0 : 0;
	txns = d->timed->n;
	longest = d->timed->longest;
#if IS_ENABLED(CONFIG_DS_ENGINE_BOOKMARKS)
	if (d->bookmarks) {
		txns = bm_n;
		longest = bm_longest;
	}
#endif
	if (g_own_counted)
		snprintf(own, sizeof(own), "%.1f", mib((long long)g_own_peak));
	else
		snprintf(own, sizeof(own), "-");
	records = st.fetched + st.uploaded;
	if (records)
		snprintf(per1k, sizeof(per1k), "%.0f", (double)cpu / 1000.0 / ((double)records / 1000.0));
	else
		snprintf(per1k, sizeof(per1k), "-");
	printf("| %-9s | %-22s | %5lu/%5lu | %6.2f | %6.2f | %6s | %4.1f/%3.1f | %6.1f | %6.1f | %6.1f |"
	       " %6s | %7.1f | %6lu | %5lu | %7.1f | %6lu | %4lu | %7.1f | %5lu | %5lu |\n",
	       kind, what, st.fetched, st.uploaded, (double)wall / 1e6, (double)cpu / 1e6, per1k,
	       (double)rss0 / 1024.0, (double)anon0 / 1024.0, (double)status_kib("VmHWM") / 1024.0,
	       (double)g_peak_anon / 1024.0, mib(sqlite3_memory_highwater(0)), own,
	       mib((long long)(g_vfs_counts.bytes - v0.bytes)),
	       g_vfs_counts.writes - v0.writes, g_vfs_counts.syncs - v0.syncs,
	       mib((long long)(g_vfs_counts.read_bytes - v0.read_bytes)),
	       g_vfs_counts.reads - v0.reads, txns,
	       (double)longest / 1000.0, d->timed->most, n);
	fflush(stdout);
	if (getenv("BENCH_BROWSER_MAPS"))
		rss_by_mapping(kind, what);
}

static int phase_main(const char *kind, const char *dev, const char *work)
{
	struct device d;

	ds_log_set_max_level(DS_LOG_ERR);
	/* As datasyncd starts (component/daemon/main.c): the allocator tuned, no bulk page slots
	 * per SQLite connection; both before SQLite's first use (the VFS lookup initialises it). */
	ds_port_memory_tune();
	sqlite3_config(SQLITE_CONFIG_PAGECACHE, (void *)NULL, 0, 0);
	g_own_counted = ds_set_allocator(&own_allocator) == 0;
	if (bench_vfs_install())
		die("cannot register the counting VFS");
	port_init(work);
	device_open(&d, work, dev, kind);
	if (strcmp(dev, "a") == 0) {
		run(kind, "A: first sync, upload", &d);
	} else {
		run(kind, "B: first sync, download", &d);
		run(kind, "B: next sync, nothing new", &d);
	}
	device_close(&d);
	ds_port_deinit();
	if (g_own_counted)
		ds_set_allocator(NULL);
	return 0;
}

/* ---- the orchestrator ---------------------------------------------------------------------- */

static void run_phase(const char *self, const char *kind, const char *dev, const char *work)
{
	char port[16];
	pid_t pid;
	int st;

	snprintf(port, sizeof(port), "%d", g_port);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		execl(self, self, "--phase", kind, "--dev", dev, "--work", work, "--port", port,
		      (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("a device's process failed");
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

/* What device B holds after its download, against what it should: a line for after the table. */
static char g_checks[2048];

static bool check(const char *what, int64_t have, int64_t want)
{
	size_t n = strlen(g_checks);

	snprintf(g_checks + n, sizeof(g_checks) - n, "  %s: device B holds %" PRId64 " (%s)\n", what,
		 have, have == want ? "as expected" : "WRONG");
	return have == want;
}

static void usage(void)
{
	die("usage: bench_browser --src SRCDIR [--work DIR] [--places N] [--visits 1..20]"
	    " [--logins N] [--only history|bookmarks|passwords]");
}

int main(int argc, char **argv)
{
	const char *src = NULL, *work = NULL, *only = NULL, *phase = NULL, *dev = NULL;
	unsigned long places = DS_HISTORY_MAX_PLACES, logins = 500;
	unsigned visits = DS_HISTORY_MAX_VISITS;
	char tmp[600], self[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
	struct bench_node node;
	bool ok = true;
	ssize_t len;
	int i;

	for (i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (strcmp(k, "--src") == 0)
			src = v;
		else if (strcmp(k, "--work") == 0)
			work = v;
		else if (strcmp(k, "--places") == 0)
			places = strtoul(v, NULL, 10);
		else if (strcmp(k, "--visits") == 0)
			visits = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(k, "--logins") == 0)
			logins = strtoul(v, NULL, 10);
		else if (strcmp(k, "--only") == 0)
			only = v;
		else if (strcmp(k, "--phase") == 0)
			phase = v;
		else if (strcmp(k, "--dev") == 0)
			dev = v;
		else if (strcmp(k, "--port") == 0)
			g_port = atoi(v);
		else
			usage();
	}
	if (i != argc)
		usage();
	if (phase)
		return work && dev && g_port > 0 ? phase_main(phase, dev, work) : 1;
	if (!src || !places || !visits || visits > DS_HISTORY_MAX_VISITS)
		usage();
	if (!work) {
		snprintf(tmp, sizeof(tmp), "%s/bench-browser-XXXXXX", P_tmpdir);
		work = mkdtemp(tmp);
		if (!work)
			die("no work folder");
	}
	mkdir(work, 0700);
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0)
		die("cannot find myself");
	self[len] = '\0';
	ds_log_set_max_level(DS_LOG_ERR);
	if (bench_node_start(&node, KSYNC))
		die("cannot start the storage node");
	g_port = node.port;
	printf("browser data, first sync of a large account: storage format 5, HTTP to the storage\n"
	       "node on loopback (a process of its own); each device in a fresh process.\n"
	       "records: fetched/uploaded. MiB: RSS/anon at start, peak RSS (VmHWM), peak anon\n"
	       "(RssAnon, sampled), SQLite's heap peak, our own heap peak (ds_malloc), SQLite's\n"
	       "writes (then write calls, fsyncs), SQLite's reads (then read calls).\n"
	       "transactions: count, longest (ms), most records applied in one. HTTP requests.\n\n");
	printf("| data      | run                    | records     | wall s | CPU s  | CPU ms/1k rec |"
	       " RSS/anon at start | peak RSS | peak anon | SQLite heap | own heap | SQLite MiB | writes |"
	       " fsyncs | read MiB | reads | txns |"
	       " longest ms | most rec | reqs |\n");
	printf("|-----------|------------------------|-------------|--------|--------|--------|--------|"
	       "--------|--------|--------|--------|---------|--------|-------|---------|--------|------|"
	       "---------|-------|-------|\n");
	if (!only || strcmp(only, "history") == 0) {
		data_path(a, sizeof(a), work, "history", "a");
		data_path(b, sizeof(b), work, "history", "b");
		make_places(src, a, places, visits);
		make_places(src, b, 0, 1);
		run_phase(self, "history", "a", work);
		run_phase(self, "history", "b", work);
		ok &= check("history places", count(b, "SELECT count(*) FROM moz_places"),
			    (int64_t)(places < DS_HISTORY_MAX_PLACES ? places : DS_HISTORY_MAX_PLACES));
		ok &= check("history visits", count(b, "SELECT count(*) FROM moz_historyvisits"),
			    (int64_t)(places < DS_HISTORY_MAX_PLACES ? places : DS_HISTORY_MAX_PLACES) *
				    visits);
		snprintf(g_checks + strlen(g_checks), sizeof(g_checks) - strlen(g_checks),
			 "  history: device B's places.sqlite is %.1f MiB\n",
			 mib(count(b, "SELECT page_count * page_size FROM pragma_page_count(),"
				      " pragma_page_size()")));
	}
#if IS_ENABLED(CONFIG_DS_ENGINE_BOOKMARKS)
	if (!only || strcmp(only, "bookmarks") == 0) {
		data_path(a, sizeof(a), work, "bookmarks", "a");
		data_path(b, sizeof(b), work, "bookmarks", "b");
		make_bookmarks(src, a, true);
		make_bookmarks(src, b, false);
		run_phase(self, "bookmarks", "a", work);
		run_phase(self, "bookmarks", "b", work);
		ok &= check("bookmarks and folders under the menu",
			    count(b, "WITH RECURSIVE t(id) AS (SELECT id FROM moz_bookmarks WHERE guid ="
				     " 'menu________' UNION ALL SELECT b.id FROM moz_bookmarks b JOIN t ON"
				     " b.parent = t.id) SELECT count(*) - 1 FROM t"), 2000);
	}
#endif
#if IS_ENABLED(CONFIG_DS_ENGINE_PASSWORDS)
	if (!only || strcmp(only, "passwords") == 0) {
		data_path(a, sizeof(a), work, "passwords", "a");
		data_path(b, sizeof(b), work, "passwords", "b");
		port_init(work);
		make_logins(a, logins);
		ds_port_deinit();
		unlink(b);
		run_phase(self, "passwords", "a", work);
		run_phase(self, "passwords", "b", work);
		ok &= check("logins", count(b, "SELECT count(*) FROM logins"), (int64_t)logins);
	}
#endif
	bench_node_stop(&node);
	printf("\nhistory %lu places x %u visits; bookmarks 2,000 items (20 nested folders of 99"
	       " bookmarks); passwords %lu logins\n%s", places, visits, logins, g_checks);
	return ok ? 0 : 1;
}
