/*
 * bench_sync - cost of syncing an app table through the dir remote (encrypted), per run.
 *
 *   bench_sync --rows N [--changes M] [--work DIR] [--dsdev PATH]
 *
 * Each device run is a separate dsdev process (test/tools/dsdev: the product's API and nothing
 * else), so its figures are its own: the process is waited for with waitid(WNOWAIT) to read its
 * /proc/PID/io before it is reaped, then wait4() gives its CPU time and peak RSS.
 * Phases: device A registers and makes the first sync of N rows (upload); the app changes M rows
 * (updates, inserts, deletes, a third each); A syncs them; device B registers and makes its first
 * sync (download of everything); B syncs again with nothing to do.
 *
 * Columns: wall and CPU (user+sys) time; peak RSS (ru_maxrss); wchar = bytes the process passed
 * to write() and friends; disk = write_bytes, bytes sent to the block layer (0 on tmpfs);
 * shared/app = growth of the shared folder and of the app database (+WAL) in bytes; files =
 * files in the shared folder after the phase; then the run's own stats line.
 * Not part of the test suite: test/bench/run-bench.sh runs it (make bench).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct usage {
	size_t bytes;
	unsigned long files;
};

struct bench {
	const char *work;
	const char *dsdev;
	unsigned long rows;
	unsigned long changes;
	char shared[PATH_MAX];
};

static void die(const char *what)
{
	fprintf(stderr, "bench_sync: %s\n", what);
	exit(1);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void tree_usage(const char *path, struct usage *u)
{
	struct stat st;
	DIR *d;
	struct dirent *e;

	if (lstat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		u->bytes += (size_t)st.st_size;
		u->files++;
		return;
	}
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d))) {
		char sub[PATH_MAX];

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		tree_usage(sub, u);
	}
	closedir(d);
}

static size_t db_size(const struct bench *b, const char *dev)
{
	static const char *const suffix[] = { "", "-wal", "-journal" };
	size_t n = 0;

	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		char p[PATH_MAX];
		struct stat st;

		snprintf(p, sizeof(p), "%s/%s/app.db%s", b->work, dev, suffix[i]);
		if (stat(p, &st) == 0)
			n += (size_t)st.st_size;
	}
	return n;
}

static unsigned long long proc_io_field(const char *io, const char *key)
{
	const char *p = strstr(io, key);

	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

/* Run dsdev with args for device dev and print one row of the table. */
static void phase(const struct bench *b, const char *label, const char *dev, const char *const *args)
{
	char home[PATH_MAX], io[1024] = "", out[2048] = "";
	const char *argv[16];
	struct usage before = { 0 }, after = { 0 };
	size_t app_before = db_size(b, dev), n = 0;
	int fds[2], status;
	struct rusage ru;
	siginfo_t si;
	int64_t t0;
	pid_t pid;

	snprintf(home, sizeof(home), "%s/%s", b->work, dev);
	argv[n++] = b->dsdev;
	argv[n++] = "--home";
	argv[n++] = home;
	while (*args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	tree_usage(b->shared, &before);
	if (pipe(fds) != 0)
		die("pipe");
	t0 = now_ms();
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		execv(b->dsdev, (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	n = 0;
	for (ssize_t r; n < sizeof(out) - 1 && (r = read(fds[0], out + n, sizeof(out) - 1 - n)) > 0;)
		n += (size_t)r;
	out[n] = '\0';
	close(fds[0]);
	/* Read the child's I/O counters while it is a zombie, then reap it for its rusage. */
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0) {
		char p[64];
		FILE *f;

		snprintf(p, sizeof(p), "/proc/%d/io", (int)pid);
		f = fopen(p, "r");
		if (f) {
			size_t k = fread(io, 1, sizeof(io) - 1, f);
			io[k] = '\0';
			fclose(f);
		}
	}
	if (wait4(pid, &status, 0, &ru) != pid)
		die("wait4");
	int64_t wall = now_ms() - t0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench_sync: %s failed:\n%s\n", label, out);
		exit(1);
	}
	tree_usage(b->shared, &after);
	long cpu = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000L +
		   (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000L;
	const char *stats = strstr(out, "fetched=");
	char st[128] = "";
	if (stats) {
		unsigned long f = 0, a = 0, u = 0;
		sscanf(stats, "fetched=%lu applied=%lu uploaded=%lu", &f, &a, &u);
		snprintf(st, sizeof(st), "%lu/%lu/%lu", f, a, u);
	}
	printf("| %-24s | %7lu | %8lld | %7ld | %8ld | %10llu | %10llu | %10lld | %10lld | %5lu | %-17s |\n",
	       label, b->rows, (long long)wall, cpu, ru.ru_maxrss, proc_io_field(io, "wchar: "),
	       proc_io_field(io, "write_bytes: "), (long long)after.bytes - (long long)before.bytes,
	       (long long)db_size(b, dev) - (long long)app_before, after.files, st);
	fflush(stdout);
}

static void exec_sql(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "bench_sync: %s: %s\n", sql, err ? err : "?");
		exit(1);
	}
}

static sqlite3 *open_app(const struct bench *b, const char *dev)
{
	char p[PATH_MAX];
	sqlite3 *db;

	snprintf(p, sizeof(p), "%s/%s", b->work, dev);
	if (mkdir(p, 0700) != 0 && errno != EEXIST)
		die("mkdir device");
	snprintf(p, sizeof(p), "%s/%s/app.db", b->work, dev);
	if (sqlite3_open(p, &db) != SQLITE_OK)
		die("open app db");
	return db;
}

/* The app: a notes table with about 120 bytes per row, filled as an app would, in one go. */
static void make_apps(const struct bench *b)
{
	static const char schema[] =
		"CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT, "
		"n INTEGER, modified INTEGER);";
	char sql[512];
	sqlite3 *db = open_app(b, "A");

	exec_sql(db, schema);
	snprintf(sql, sizeof(sql),
		 "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < %lu) "
		 "INSERT INTO notes SELECT i, 'note number ' || i, "
		 "printf('%%.80s', hex(randomblob(40))), i %% 97, 1767225600000 + i FROM k;",
		 b->rows);
	exec_sql(db, sql);
	sqlite3_close(db);
	db = open_app(b, "B");
	exec_sql(db, schema);
	sqlite3_close(db);
}

/* M changes, a third each of updates, inserts and deletes, one transaction per change. */
static void change_app(const struct bench *b)
{
	sqlite3 *db = open_app(b, "A");
	unsigned long m = b->changes;
	char sql[256];

	for (unsigned long i = 0; i < m; i++) {
		unsigned long id = 1 + (i * 7919) % b->rows;

		if (i % 3 == 0)
			snprintf(sql, sizeof(sql), "UPDATE notes SET title = 'edited ' || id, n = n + 1 "
						   "WHERE id = %lu;", id);
		else if (i % 3 == 1)
			snprintf(sql, sizeof(sql), "INSERT INTO notes VALUES (%lu, 'new', 'x', 0, 0);",
				 b->rows + 1 + i);
		else
			snprintf(sql, sizeof(sql), "DELETE FROM notes WHERE id = %lu;", id);
		exec_sql(db, sql);
	}
	sqlite3_close(db);
}

int main(int argc, char **argv)
{
	struct bench b = { .work = NULL, .changes = 100 };
	char dsdev[PATH_MAX], work[PATH_MAX], dbA[PATH_MAX], dbB[PATH_MAX];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--rows"))
			b.rows = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--changes"))
			b.changes = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--work"))
			b.work = argv[i + 1];
		else if (!strcmp(argv[i], "--dsdev"))
			b.dsdev = argv[i + 1];
		else
			die("usage: bench_sync --rows N [--changes M] [--work DIR] [--dsdev PATH]");
	}
	if (!b.rows)
		die("usage: bench_sync --rows N [--changes M] [--work DIR] [--dsdev PATH]");
	if (!b.dsdev) {
		/* Next to this program in the build tree: O/test/bench/bench_sync, O/test/tools/dsdev. */
		ssize_t n = readlink("/proc/self/exe", dsdev, sizeof(dsdev) - 32);
		if (n <= 0)
			die("cannot find dsdev: pass --dsdev");
		dsdev[n] = '\0';
		char *slash = strrchr(dsdev, '/');
		strcpy(slash, "/../tools/dsdev");
		b.dsdev = dsdev;
	}
	if (!b.work) {
		const char *tmp = getenv("TMPDIR");

		snprintf(work, sizeof(work), "%s/bench_sync.XXXXXX", tmp ? tmp : "/tmp");
		if (!mkdtemp(work))
			die("mkdtemp");
		b.work = work;
	} else if (mkdir(b.work, 0700) != 0 && errno != EEXIST) {
		die("cannot create the work folder");
	}
	snprintf(b.shared, sizeof(b.shared), "%s/shared", b.work);
	if (mkdir(b.shared, 0700) != 0)
		die("the work folder must be new (shared/ exists)");
	snprintf(dbA, sizeof(dbA), "%s/A/app.db", b.work);
	snprintf(dbB, sizeof(dbB), "%s/B/app.db", b.work);
	make_apps(&b);

	printf("| %-24s | %7s | %8s | %7s | %8s | %10s | %10s | %10s | %10s | %5s | %-17s |\n", "phase",
	       "rows", "wall ms", "cpu ms", "RSS KiB", "wchar B", "disk B", "shared +B", "app db +B",
	       "files", "fetch/apply/upl");
	printf("|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", "--------------------------", "---------",
	       "----------", "---------", "----------", "------------", "------------", "------------",
	       "------------", "-------", "-------------------");
	const char *initA[] = { "init", "--db", dbA, "--table", "notes", "--pk", "id", "--dir",
				b.shared, "--passphrase", "bench passphrase", NULL };
	const char *initB[] = { "init", "--db", dbB, "--table", "notes", "--pk", "id", "--dir",
				b.shared, "--passphrase", "bench passphrase", NULL };
	const char *sync[] = { "sync", NULL };
	phase(&b, "A register", "A", initA);
	phase(&b, "A first sync (upload)", "A", sync);
	change_app(&b);
	char label[64];
	snprintf(label, sizeof(label), "A %lu changes", b.changes);
	phase(&b, label, "A", sync);
	phase(&b, "B register", "B", initB);
	phase(&b, "B first sync (download)", "B", sync);
	phase(&b, "B sync, nothing to do", "B", sync);
	return 0;
}
