/*
 * File faults through the port's hook (ds_port_fault_after, ds_port.h): a full sync scenario
 * of two devices (table engine, dir remote, sync core, metadata store) is run again and again
 * with its Nth write, sync, rename, creation or removal failing, and every later one (a disk
 * that filled up or went bad). Each run must succeed or fail cleanly (0 or a negative errno, with a message),
 * and once the disk is well again, normal runs must bring both devices to the same rows with
 * stores and app databases that pass SQLite's integrity check. Leaks are the sanitizer's and
 * valgrind's to find.
 *
 * Nothing is interposed: the dir remote writes through the port's file functions
 * (ds_port_file_*()), and SQLite, for the store and the app databases alike, through the VFS
 * that ds_store_vfs_register() makes the default; both ask the hook before each operation.
 *
 * Every run starts from a copy of one template world (two devices that synced once, then
 * edited), so a run costs only the scenario's own fsyncs. Sampling: every N from 1 to 4 for
 * each kind, then a stride that keeps about 8 more per kind, and the last operation (under
 * valgrind: 1 to 2, about 4 more, the last); DS_TORTURE_ALL=1 runs every N (about 130 runs).
 */
/* nftw() */
#define _XOPEN_SOURCE 700
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "core/ds_core.h"
#include "store/ds_store.h"
#include "sync/ds_sync.h"
#include "ds_port.h"

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

static void world_paths(struct world *w, const char *name)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->dir, sizeof(w->dir), "%s/%s", g_base, name);
	w->a.id = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	w->b.id = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
	snprintf(w->a.db, sizeof(w->a.db), "%s/a-app.db", w->dir);
	snprintf(w->b.db, sizeof(w->b.db), "%s/b-app.db", w->dir);
	snprintf(w->a.store_path, sizeof(w->a.store_path), "%s/a-store.db", w->dir);
	snprintf(w->b.store_path, sizeof(w->b.store_path), "%s/b-store.db", w->dir);
}

/* Copy the closed template world (files and folders, two levels at most) byte for byte. */
static void copy_tree(const char *from, const char *to)
{
	DIR *d = opendir(from);
	struct dirent *de;

	assert_non_null(d);
	assert_int_equal(mkdir(to, 0700), 0);
	while ((de = readdir(d)) != NULL) {
		char src[1400], dst[1400];
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(src, sizeof(src), "%s/%s", from, de->d_name);
		snprintf(dst, sizeof(dst), "%s/%s", to, de->d_name);
		assert_int_equal(lstat(src, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			copy_tree(src, dst);
			continue;
		}
		assert_true(S_ISREG(st.st_mode));
		FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
		char buf[8192];
		size_t n;

		assert_non_null(in);
		assert_non_null(out);
		while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
			assert_int_equal(fwrite(buf, 1, n, out), n);
		assert_int_equal(ferror(in), 0);
		fclose(in);
		assert_int_equal(fclose(out), 0);
	}
	closedir(d);
}

/*
 * The starting point of every run: two devices that synced 12 rows once, then both edited.
 * Made once (a store's creation and the first syncs cost more fsyncs than the runs under test)
 * and closed; world_new() copies it.
 */
static struct world g_template;

static void template_new(struct world *w)
{
	char path[1200];

	world_paths(w, "template");
	assert_int_equal(mkdir(w->dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/shared", w->dir);
	assert_int_equal(mkdir(path, 0700), 0);
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
	dev_close(&w->a);
	dev_close(&w->b);
}

static void world_new(struct world *w, unsigned serial)
{
	char name[32];

	snprintf(name, sizeof(name), "w%u", serial);
	world_paths(w, name);
	copy_tree(g_template.dir, w->dir);
	dev_open(w, &w->a);
	dev_open(w, &w->b);
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

static const int fault_err[DS_PORT_FAULT_KINDS] = { ENOSPC, EIO, EIO, ENOSPC, EIO };
static const char *const kind_name[DS_PORT_FAULT_KINDS] = { "write", "sync", "rename", "create",
							    "remove" };

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

/* A test that failed half-way must not leave the next one with a failing disk. */
static int disarm(void **state)
{
	DS_UNUSED(state);
	for (int k = 0; k < DS_PORT_FAULT_KINDS; k++)
		ds_port_fault_after((enum ds_port_fault)k, 0, 0);
	return 0;
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

static void test_port_calls_reach_the_hook(void **state)
{
	char path[1200], path2[1200];
	int fd;

	DS_UNUSED(state);
	snprintf(path, sizeof(path), "%s/probe", g_base);
	snprintf(path2, sizeof(path2), "%s/probe2", g_base);
	ds_port_fault_after(DS_PORT_FAULT_CREATE, 1, ENOSPC);
	assert_int_equal(ds_port_file_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600), -ENOSPC);
	assert_int_equal(ds_port_file_mkdir(path, 0700), -ENOSPC);
	assert_int_equal(ds_port_fault_after(DS_PORT_FAULT_CREATE, 0, 0), 2);
	fd = ds_port_file_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	/* Opening for reading is not a creation. */
	int rfd = ds_port_file_open(path, O_RDONLY, 0);
	assert_true(rfd >= 0);
	assert_int_equal(ds_port_file_close(rfd), 0);
	assert_int_equal(ds_port_fault_after(DS_PORT_FAULT_CREATE, 0, 0), 1);

	ds_port_fault_after(DS_PORT_FAULT_WRITE, 1, ENOSPC);
	assert_int_equal(ds_port_file_write(fd, "x", 1), -ENOSPC);
	assert_int_equal(ds_port_file_pwrite(fd, "x", 1, 0), -ENOSPC);
	assert_int_equal(ds_port_file_truncate(fd, 0), -ENOSPC);
	assert_int_equal(ds_port_fault_after(DS_PORT_FAULT_WRITE, 0, 0), 3);
	assert_int_equal(ds_port_file_write(fd, "xy", 2), 0);
	assert_int_equal(ds_port_file_pwrite(fd, "z", 1, 1), 0);
	assert_int_equal(ds_port_fault_after(DS_PORT_FAULT_WRITE, 0, 0), 2);

	ds_port_fault_after(DS_PORT_FAULT_SYNC, 2, EIO);
	assert_int_equal(ds_port_file_sync(fd), 0);
	assert_int_equal(ds_port_file_datasync(fd), -EIO);
	assert_int_equal(ds_port_dir_sync(g_base), -EIO);
	assert_int_equal(ds_port_fault_after(DS_PORT_FAULT_SYNC, 0, 0), 3);
	assert_int_equal(ds_port_file_close(fd), 0);

	ds_port_fault_after(DS_PORT_FAULT_RENAME, 1, EIO);
	assert_int_equal(ds_port_file_link(path, path2), -EIO);
	assert_int_equal(ds_port_file_rename(path, path2), -EIO);
	assert_int_equal(ds_port_fault_after(DS_PORT_FAULT_RENAME, 0, 0), 2);
	assert_int_equal(ds_port_file_rename(path, path2), 0);
	assert_int_equal(ds_port_file_link(path2, path), 0);

	ds_port_fault_after(DS_PORT_FAULT_REMOVE, 1, EIO);
	assert_int_equal(ds_port_file_unlink(path), -EIO);
	assert_int_equal(ds_port_file_rmdir(path), -EIO);
	assert_int_equal(ds_port_fault_after(DS_PORT_FAULT_REMOVE, 0, 0), 2);
	assert_int_equal(ds_port_file_unlink(path), 0);
	assert_int_equal(ds_port_file_unlink(path2), 0);
	assert_int_equal(ds_port_file_unlink(path2), -ENOENT);
	assert_int_equal(ds_port_fault_after(DS_PORT_FAULT_REMOVE, 0, 0), 3);

	/* The secret files are the port's own writers. */
	ds_port_fault_after(DS_PORT_FAULT_SYNC, 1, EIO);
	assert_int_equal(ds_port_secret_seal("probe", "k", 1), -EIO);
	ds_port_fault_after(DS_PORT_FAULT_SYNC, 0, 0);
	assert_int_equal(ds_port_secret_unseal("probe", path, sizeof(path)), -ENOENT);
	assert_int_equal(ds_port_secret_seal("probe", "k", 1), 0);
	assert_int_equal(ds_port_secret_erase("probe"), 0);
}

/* An SQLite database opened with no VFS named goes through the port's VFS: each kind reaches the
 * hook, and SQLite reports the failure with the errno behind it. */
static void test_sqlite_goes_through_the_port(void **state)
{
	char path[1200];
	sqlite3 *h = NULL;

	DS_UNUSED(state);
	snprintf(path, sizeof(path), "%s/vfs.db", g_base);
	assert_int_equal(ds_store_vfs_register(), 0);
	assert_int_equal(ds_store_vfs_register(), 0);
	assert_string_equal(sqlite3_vfs_find(NULL)->zName, DS_STORE_VFS_NAME);
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
	for (int k = 0; k < DS_PORT_FAULT_KINDS; k++)
		ds_port_fault_after((enum ds_port_fault)k, 0, 0);
	/* One transaction in rollback-journal mode: creates, writes and syncs the journal,
	 * writes and syncs the database, deletes the journal. */
	assert_int_equal(sqlite3_exec(h, "INSERT INTO t VALUES (1)", NULL, NULL, NULL), SQLITE_OK);
	for (int k = 0; k < DS_PORT_FAULT_KINDS; k++) {
		unsigned long n = ds_port_fault_after((enum ds_port_fault)k, 0, 0);

		if (k == DS_PORT_FAULT_RENAME)
			assert_int_equal(n, 0);
		else
			assert_true(n > 0);
	}
	ds_port_fault_after(DS_PORT_FAULT_WRITE, 1, ENOSPC);
	assert_int_equal(sqlite3_exec(h, "INSERT INTO t VALUES (2)", NULL, NULL, NULL), SQLITE_FULL);
	ds_port_fault_after(DS_PORT_FAULT_WRITE, 0, 0);
	ds_port_fault_after(DS_PORT_FAULT_SYNC, 1, EIO);
	assert_int_equal(sqlite3_exec(h, "INSERT INTO t VALUES (3)", NULL, NULL, NULL), SQLITE_IOERR);
	assert_int_equal(sqlite3_extended_errcode(h), SQLITE_IOERR_FSYNC);
	ds_port_fault_after(DS_PORT_FAULT_SYNC, 0, 0);
	/* WAL: the shared memory is the default VFS's; a write still reaches the hook. */
	assert_int_equal(sqlite3_exec(h, "PRAGMA journal_mode=WAL; INSERT INTO t VALUES (4)", NULL,
				      NULL, NULL), SQLITE_OK);
	ds_port_fault_after(DS_PORT_FAULT_WRITE, 1, EIO);
	assert_int_equal(sqlite3_exec(h, "INSERT INTO t VALUES (5)", NULL, NULL, NULL), SQLITE_IOERR);
	ds_port_fault_after(DS_PORT_FAULT_WRITE, 0, 0);
	sqlite3_close(h);
	char *rows = app_query(path, "SELECT group_concat(x) FROM t");
	assert_string_equal(rows, "1,4");
	ds_free(rows);
	assert_intact(path);
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

static void test_failing_creations(void **state)
{
	DS_UNUSED(state);
	torture(DS_PORT_FAULT_CREATE);
}

static void test_failing_removals(void **state)
{
	DS_UNUSED(state);
	torture(DS_PORT_FAULT_REMOVE);
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
	/* Before the first app database is made, so that every file of the scenario counts. */
	if (ds_store_vfs_register() != 0 || ds_port_init(&pc) != 0)
		return -1;
	template_new(&g_template);
	return 0;
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
		cmocka_unit_test_setup(test_hook_counts_and_fails_from_the_nth, disarm),
		cmocka_unit_test_setup(test_port_calls_reach_the_hook, disarm),
		cmocka_unit_test_setup(test_sqlite_goes_through_the_port, disarm),
		cmocka_unit_test_setup(test_failing_writes, disarm),
		cmocka_unit_test_setup(test_failing_syncs, disarm),
		cmocka_unit_test_setup(test_failing_renames, disarm),
		cmocka_unit_test_setup(test_failing_creations, disarm),
		cmocka_unit_test_setup(test_failing_removals, disarm),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
