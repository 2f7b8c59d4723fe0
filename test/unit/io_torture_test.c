/*
 * File faults through the port's hook (ds_port_fault_after, ds_port.h): a full sync scenario
 * of two devices (table engine, dir remote, sync core, metadata store) is run again and again
 * with its Nth write, sync or rename failing, and every later one (a disk that filled up or
 * went bad). Each run must succeed or fail cleanly (0 or a negative errno, with a message),
 * and once the disk is well again, normal runs must bring both devices to the same rows with
 * stores and app databases that pass SQLite's integrity check. Leaks are the sanitizer's and
 * valgrind's to find.
 *
 * datasync's dir remote and SQLite call libc directly, so this binary defines write(),
 * pwrite(), writev(), fsync(), fdatasync(), rename() and link() itself: the dynamic linker binds
 * every caller in the process to them (SQLite's library included), and each asks the port's
 * hook before calling the next definition (libc's, or a sanitizer's). Only operations on regular
 * files and directories count, so a log line or a pipe does not move the numbering.
 *
 * Sampling (each run costs a few dozen fsyncs): every N from 1 to 4 for each kind, then a stride
 * that keeps about 8 more per kind, and the last operation (under valgrind: 1 to 2, about 4
 * more, the last); DS_TORTURE_ALL=1 runs every N (about 120 runs).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "core/ds_core.h"
#include "store/ds_store.h"
#include "sync/ds_sync.h"
#include "ds_port.h"

/* ---- libc, routed to the port's hook ------------------------------------------------------ */

static bool counted_fd(int fd)
{
	struct stat st;

	return fd > 2 && fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode));
}

static void *next_fn(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (!f)
		abort();
	return f;
}

static int fault_errno(enum ds_port_fault kind)
{
	int rc = ds_port_fault_hit(kind);

	if (rc < 0)
		errno = -rc;
	return rc;
}

ssize_t write(int fd, const void *buf, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);

	if (!real)
		real = (ssize_t(*)(int, const void *, size_t))next_fn("write");
	if (counted_fd(fd) && fault_errno(DS_PORT_FAULT_WRITE) < 0)
		return -1;
	return real(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);

	if (!real)
		real = (ssize_t(*)(int, const void *, size_t, off_t))next_fn("pwrite");
	if (counted_fd(fd) && fault_errno(DS_PORT_FAULT_WRITE) < 0)
		return -1;
	return real(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off);
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);

	if (!real)
		real = (ssize_t(*)(int, const void *, size_t, off_t))next_fn("pwrite64");
	if (counted_fd(fd) && fault_errno(DS_PORT_FAULT_WRITE) < 0)
		return -1;
	return real(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	static ssize_t (*real)(int, const struct iovec *, int);

	if (!real)
		real = (ssize_t(*)(int, const struct iovec *, int))next_fn("writev");
	if (counted_fd(fd) && fault_errno(DS_PORT_FAULT_WRITE) < 0)
		return -1;
	return real(fd, iov, cnt);
}

int fsync(int fd)
{
	static int (*real)(int);

	if (!real)
		real = (int (*)(int))next_fn("fsync");
	if (counted_fd(fd) && fault_errno(DS_PORT_FAULT_SYNC) < 0)
		return -1;
	return real(fd);
}

int fdatasync(int fd)
{
	static int (*real)(int);

	if (!real)
		real = (int (*)(int))next_fn("fdatasync");
	if (counted_fd(fd) && fault_errno(DS_PORT_FAULT_SYNC) < 0)
		return -1;
	return real(fd);
}

int rename(const char *from, const char *to)
{
	static int (*real)(const char *, const char *);

	if (!real)
		real = (int (*)(const char *, const char *))next_fn("rename");
	if (fault_errno(DS_PORT_FAULT_RENAME) < 0)
		return -1;
	return real(from, to);
}

int link(const char *from, const char *to)
{
	static int (*real)(const char *, const char *);

	if (!real)
		real = (int (*)(const char *, const char *))next_fn("link");
	if (fault_errno(DS_PORT_FAULT_RENAME) < 0)
		return -1;
	return real(from, to);
}

/* ---- the scenario ------------------------------------------------------------------------- */

static char g_base[1024];

struct dev {
	char db[1200];
	char store_path[1200];
	struct ds_store *store;
	struct ds_collection *c;
	const char *id;
};

struct world {
	char dir[1100];
	struct dev a, b;
};

static void app_exec(const char *db, const char *sql)
{
	sqlite3 *h = NULL;
	char *err = NULL;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 2000);
	if (sqlite3_exec(h, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err ? err : "?");
	sqlite3_close(h);
}

/* The rows in id order as one string (ds_malloc'd), or the integrity check's first complaint. */
static char *app_query(const char *db, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	char *out;

	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	out = ds_strdup(sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
	assert_non_null(out);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return out;
}

static void assert_intact(const char *db)
{
	char *r = app_query(db, "PRAGMA integrity_check");

	if (strcmp(r, "ok") != 0)
		fail_msg("%s: integrity check: %s", db, r);
	ds_free(r);
}

static void dev_open(struct world *w, struct dev *d)
{
	char reg[4000];
	cJSON *j;

	assert_int_equal(ds_store_open(d->store_path, &d->store), 0);
	snprintf(reg, sizeof(reg),
		 "{\"name\":\"notes\",\"engine\":{\"kind\":\"table\",\"db\":\"%s\",\"table\":\"notes\","
		 "\"pk\":[\"id\"]},\"remote\":{\"kind\":\"dir\",\"path\":\"%s/shared\","
		 "\"encrypt\":false},\"direction\":\"two-way\",\"conflict\":\"newest-wins\"}",
		 d->db, w->dir);
	j = cJSON_Parse(reg);
	assert_non_null(j);
	assert_int_equal(ds_collection_open(j, d->id, &d->c), 0);
	cJSON_Delete(j);
}

static void dev_close(struct dev *d)
{
	ds_collection_close(d->c);
	ds_store_close(d->store);
	d->c = NULL;
	d->store = NULL;
}

static int dev_sync(struct dev *d)
{
	struct ds_run_stats st;
	int rc;

	memset(&st, 0, sizeof(st));
	rc = ds_sync_run(d->c, d->store, &st, NULL, NULL);
	assert_true(rc <= 0);
	assert_int_equal(st.result, rc);
	if (rc)
		assert_true(st.message[0] != '\0');
	return rc;
}

/* Two devices that synced 12 rows once; then both edit, ready for the runs under faults. */
static void world_new(struct world *w, unsigned serial)
{
	char path[1200];

	memset(w, 0, sizeof(*w));
	snprintf(w->dir, sizeof(w->dir), "%s/w%u", g_base, serial);
	assert_int_equal(mkdir(w->dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/shared", w->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	w->a.id = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	w->b.id = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
	snprintf(w->a.db, sizeof(w->a.db), "%s/a-app.db", w->dir);
	snprintf(w->b.db, sizeof(w->b.db), "%s/b-app.db", w->dir);
	snprintf(w->a.store_path, sizeof(w->a.store_path), "%s/a-store.db", w->dir);
	snprintf(w->b.store_path, sizeof(w->b.store_path), "%s/b-store.db", w->dir);
	app_exec(w->a.db, "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);"
			  "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 12) "
			  "INSERT INTO notes SELECT i, 'note ' || i FROM s;");
	app_exec(w->b.db, "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);");
	dev_open(w, &w->a);
	dev_open(w, &w->b);
	assert_int_equal(dev_sync(&w->a), 0);
	assert_int_equal(dev_sync(&w->b), 0);
	app_exec(w->a.db, "UPDATE notes SET body = 'edited on a' WHERE id IN (2, 3);"
			  "DELETE FROM notes WHERE id = 4; INSERT INTO notes VALUES (20, 'new on a');");
	app_exec(w->b.db, "UPDATE notes SET body = 'edited on b' WHERE id = 7;"
			  "INSERT INTO notes VALUES (30, 'new on b'), (31, 'another on b');");
}

/* The runs under test: a uploads, b fetches and uploads, a fetches. Returns the failed runs. */
static int scenario(struct world *w)
{
	return (dev_sync(&w->a) != 0) + (dev_sync(&w->b) != 0) + (dev_sync(&w->a) != 0);
}

static void assert_converged(struct world *w)
{
	static const char q[] = "SELECT group_concat(id || '=' || body, ';') FROM "
				"(SELECT * FROM notes ORDER BY id)";
	char *ra, *rb;

	/* A failed run leaves its changes pending; the next ones take them. Three rounds: a
	 * round may only fetch what the other device uploaded in the same round. */
	for (int round = 0; round < 3; round++) {
		assert_int_equal(dev_sync(&w->a), 0);
		assert_int_equal(dev_sync(&w->b), 0);
	}
	ra = app_query(w->a.db, q);
	rb = app_query(w->b.db, q);
	if (strcmp(ra, rb) != 0)
		fail_msg("not converged:\n a: %s\n b: %s", ra, rb);
	/* Every edit of both devices survived (none was lost by a failed run). */
	assert_non_null(strstr(ra, "2=edited on a;3=edited on a;5="));
	assert_non_null(strstr(ra, "7=edited on b"));
	assert_non_null(strstr(ra, "20=new on a;30=new on b;31=another on b"));
	assert_null(strstr(ra, "4=note 4"));
	ds_free(ra);
	ds_free(rb);
	dev_close(&w->a);
	dev_close(&w->b);
	assert_intact(w->a.db);
	assert_intact(w->b.db);
	assert_intact(w->a.store_path);
	assert_intact(w->b.store_path);
}

static const int fault_err[DS_PORT_FAULT_KINDS] = { ENOSPC, EIO, EIO };
static const char *const kind_name[DS_PORT_FAULT_KINDS] = { "write", "sync", "rename" };

static bool sampled(unsigned long n, unsigned long total)
{
	const char *pre = getenv("LD_PRELOAD");
	/* Under valgrind (its preload library is there) half as many: the sanitizer build runs
	 * the full sample and finds the same leaks. */
	bool slow = pre && strstr(pre, "vgpreload");
	unsigned long stride = total / (slow ? 4 : 8) + 1;

	if (getenv("DS_TORTURE_ALL") && strcmp(getenv("DS_TORTURE_ALL"), "1") == 0)
		return true;
	return n <= (slow ? 2u : 4u) || n == total || n % stride == 0;
}

static void torture(enum ds_port_fault kind)
{
	static unsigned serial;
	struct world w;
	unsigned long total, runs = 0, failed = 0;

	world_new(&w, serial++);
	ds_port_fault_after(kind, 0, 0);
	scenario(&w);
	total = ds_port_fault_after(kind, 0, 0);
	assert_converged(&w);
	assert_true(total > 0);

	for (unsigned long n = 1; n <= total; n++) {
		if (!sampled(n, total))
			continue;
		world_new(&w, serial++);
		ds_port_fault_after(kind, n, fault_err[kind]);
		int nfail = scenario(&w);
		ds_port_fault_after(kind, 0, 0);
		/* The first operation failing (and all after it) must fail a run: the hook works. */
		if (n == 1)
			assert_true(nfail > 0);
		failed += nfail > 0;
		assert_converged(&w);
		runs++;
	}
	print_message("%s: %lu operations in the scenario, %lu failed in turn, %lu of them failed a run\n",
		      kind_name[kind], total, runs, failed);
}

static void test_hook_counts_and_fails_from_the_nth(void **state)
{
	DS_UNUSED(state);
	ds_port_fault_after(DS_PORT_FAULT_SYNC, 0, 0);
	assert_int_equal(ds_port_fault_hit(DS_PORT_FAULT_SYNC), 0);
	assert_int_equal(ds_port_fault_after(DS_PORT_FAULT_SYNC, 2, EIO), 1);
	assert_int_equal(ds_port_fault_hit(DS_PORT_FAULT_SYNC), 0);
	assert_int_equal(ds_port_fault_hit(DS_PORT_FAULT_SYNC), -EIO);
	assert_int_equal(ds_port_fault_hit(DS_PORT_FAULT_SYNC), -EIO);
	/* Other kinds are not affected. */
	assert_int_equal(ds_port_fault_hit(DS_PORT_FAULT_WRITE), 0);
	assert_int_equal(ds_port_fault_after(DS_PORT_FAULT_SYNC, 0, 0), 3);
	assert_int_equal(ds_port_fault_hit(DS_PORT_FAULT_SYNC), 0);
	ds_port_fault_after(DS_PORT_FAULT_SYNC, 0, 0);
	ds_port_fault_after(DS_PORT_FAULT_WRITE, 0, 0);
}

static void test_libc_calls_reach_the_hook(void **state)
{
	char path[1200];
	int fd;

	DS_UNUSED(state);
	snprintf(path, sizeof(path), "%s/probe", g_base);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	ds_port_fault_after(DS_PORT_FAULT_WRITE, 1, ENOSPC);
	errno = 0;
	assert_int_equal(write(fd, "x", 1), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(ds_port_fault_after(DS_PORT_FAULT_WRITE, 0, 0), 1);
	assert_int_equal(write(fd, "x", 1), 1);
	assert_int_equal(ds_port_fault_after(DS_PORT_FAULT_WRITE, 0, 0), 1);
	close(fd);
	unlink(path);
}

static void test_failing_writes(void **state)
{
	DS_UNUSED(state);
	torture(DS_PORT_FAULT_WRITE);
}

static void test_failing_syncs(void **state)
{
	DS_UNUSED(state);
	torture(DS_PORT_FAULT_SYNC);
}

static void test_failing_renames(void **state)
{
	DS_UNUSED(state);
	torture(DS_PORT_FAULT_RENAME);
}

static int setup(void **state)
{
	const char *tmp = getenv("DS_TEST_TMP");
	char data[1100];

	DS_UNUSED(state);
	if (tmp && *tmp)
		snprintf(g_base, sizeof(g_base), "%s/io_torture", tmp);
	else
		snprintf(g_base, sizeof(g_base), "%s/ds-io-torture-XXXXXX", P_tmpdir);
	if (tmp && *tmp ? mkdir(g_base, 0700) != 0 : !mkdtemp(g_base))
		return -1;
	snprintf(data, sizeof(data), "%s/port", g_base);
	struct ds_port_config pc = { .data_dir = data, .run_dir = data, .secret_dir = data };
	ds_log_set_max_level(DS_LOG_NONE);
	return ds_port_init(&pc) == 0 ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	DS_UNUSED(st);
	DS_UNUSED(flag);
	DS_UNUSED(ftw);
	return remove(path);
}

static int teardown(void **state)
{
	DS_UNUSED(state);
	ds_port_deinit();
	return nftw(g_base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hook_counts_and_fails_from_the_nth),
		cmocka_unit_test(test_libc_calls_reach_the_hook),
		cmocka_unit_test(test_failing_writes),
		cmocka_unit_test(test_failing_syncs),
		cmocka_unit_test(test_failing_renames),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
