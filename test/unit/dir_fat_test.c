/*
 * The dir remote on a file system without hard links (FAT, exFAT: most SD cards and USB
 * sticks). link() is replaced in this program by one that fails with EPERM, as Linux vfat's
 * does, so every test of dir_remote_test.c runs again on the fallback path (directories
 * published by rename()), plus the cases only that path has: a writer killed just before its
 * publishing rename, and writers with and without hard links on one folder.
 */
#define DIR_EXTRA_TESTS                                                                            \
	cmocka_unit_test(test_fat_layout), cmocka_unit_test(test_fat_writer_killed),              \
		cmocka_unit_test(test_fat_mixed_writers), cmocka_unit_test(test_fat_empty_box),

static void test_fat_empty_box(void **state);
static void test_fat_layout(void **state);
static void test_fat_writer_killed(void **state);
static void test_fat_mixed_writers(void **state);

#include "dir_remote_test.c"

#include "remote/dir/dir_priv.h"

#include <errno.h>
#include <signal.h>
#include <sys/time.h>
#include <time.h>

static bool g_links_work;      /* this process behaves like a file system with hard links */
static const char *g_kill_at;  /* SIGKILL instead of renaming a box onto a name ending so */
static const char *volatile g_kill_names[4];
static unsigned g_kill_n;

int link(const char *from, const char *to)
{
	if (g_links_work)
		return linkat(AT_FDCWD, from, AT_FDCWD, to, 0);
	errno = EPERM;
	return -1;
}

int rename(const char *from, const char *to)
{
	size_t n = strlen(to), k = g_kill_at ? strlen(g_kill_at) : 0;

	if (k) {
		/* keep the writer's names reachable for leak checkers that still report at a kill */
		g_kill_names[g_kill_n++ % 4] = from;
		g_kill_names[g_kill_n++ % 4] = to;
	}
	if (k && n >= k && !strcmp(to + n - k, g_kill_at))
		raise(SIGKILL); /* killed after the box is complete, before it gets its name */
	return renameat(AT_FDCWD, from, AT_FDCWD, to);
}

static bool is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Published names are directories holding "data"; of two publishers of one name one wins. */
static void test_fat_layout(void **state)
{
	char *folder = new_folder();
	struct ds_remote *a = pass_remote(folder, "c", "pw", "dev-a");
	struct ds_upload_result res;
	struct ds_remote_info info;
	char p[1200], t1[1200], t2[1200], dirname[80];
	uint8_t buf[64];

	(void)state;
	assert_int_equal(a->ops->prepare(a, &info), 0);
	snprintf(p, sizeof(p), "%s/datasync-dir.json", folder);
	assert_true(is_dir(p));
	coll_dirname(folder, dirname, sizeof(dirname));
	snprintf(p, sizeof(p), "%s/%s/epoch", folder, dirname);
	assert_true(is_dir(p));
	assert_int_equal(upload_one(a, "", "x", "{\"v\":1}", &res), 0);
	snprintf(p, sizeof(p), "%s/%s/log/%016llu", folder, dirname, 1ULL);
	assert_true(is_dir(p));
	snprintf(p, sizeof(p), "%s/%s/tmp", folder, dirname);
	assert_int_equal(count_entries(p), 0);

	/* The primitive itself: the second publisher of a name gets -EEXIST, the first's content
	 * stays, and neither leaves a temporary name; a plain file is not replaced either. */
	snprintf(p, sizeof(p), "%s/name", folder);
	snprintf(t1, sizeof(t1), "%s/.tmp-t1", folder);
	snprintf(t2, sizeof(t2), "%s/.tmp-t2", folder);
	assert_int_equal(ds_dir_fs_write_new(t1, "first", 5), 0);
	assert_int_equal(ds_dir_fs_write_new(t2, "second", 6), 0);
	assert_int_equal(ds_dir_fs_publish(t1, p), 0);
	assert_int_equal(ds_dir_fs_publish(t2, p), -EEXIST);
	snprintf(p, sizeof(p), "%s/name/data", folder);
	assert_int_equal(file_read(p, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "first", 5);
	snprintf(p, sizeof(p), "%s/plain", folder);
	file_write(p, "old", 3);
	assert_int_equal(ds_dir_fs_write_new(t1, "new", 3), 0);
	assert_int_equal(ds_dir_fs_publish(t1, p), -EEXIST);
	assert_int_equal(file_read(p, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "old", 3);
	assert_int_equal(ds_dir_fs_exists(t1), 0);
	assert_int_equal(ds_dir_fs_exists(t2), 0);
	snprintf(t1, sizeof(t1), "%s/.tmp-t1.d", folder);
	assert_int_equal(ds_dir_fs_exists(t1), 0);
	a->ops->close(a);
}

/*
 * A writer killed with its batch complete in its box, just before the rename that names it:
 * nothing is visible, nothing blocks the next writer, both devices read the same log, and the
 * killed device removes its leftover box once it is a day old.
 */
static void test_fat_writer_killed(void **state)
{
	char *folder = new_folder();
	cJSON *cfg = reg_new(folder, "passphrase", "pw");
	struct ds_remote *a = enroll_open(cfg, "c", "dev-a");
	struct ds_upload_result res;
	struct ds_remote_info info;
	struct got *g = got_new();
	char p[1200], dirname[80], end[DS_CURSOR_MAX];
	int st, pages;
	pid_t pid;

	(void)state;
	assert_int_equal(a->ops->prepare(a, &info), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ds_remote *k = NULL;

		ds_random_reset();
		if (ds_remote_open(cfg, "c", "dev-k", &k) || k->ops->prepare(k, &info))
			_exit(1);
		g_kill_at = "/log/0000000000000001";
		upload_one(k, "", "lost", "{\"v\":0}", &res);
		_exit(2); /* not reached when the kill point is */
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	coll_dirname(folder, dirname, sizeof(dirname));
	snprintf(p, sizeof(p), "%s/%s/log/%016llu", folder, dirname, 1ULL);
	assert_int_equal(ds_dir_fs_exists(p), 0);
	assert_int_equal(a->ops->prepare(a, &info), 0);
	assert_string_equal(info.latest, "");
	assert_int_equal(upload_one(a, "", "kept", "{\"v\":1}", &res), 0);

	{
		struct ds_remote *k = NULL;
		struct timeval old[2];
		DIR *d;
		struct dirent *de;

		assert_int_equal(ds_remote_open(cfg, "c", "dev-k", &k), 0);
		assert_int_equal(k->ops->prepare(k, &info), 0);
		assert_string_equal(info.latest, "1");
		assert_int_equal(fetch_all(k, "", g, end, &pages), 0);
		assert_string_equal(end, "1");
		assert_int_equal(g->n, 1);
		assert_string_equal(g->id[0], "kept");
		assert_int_equal(upload_one(k, "1", "after", "{\"v\":2}", &res), 0);

		snprintf(p, sizeof(p), "%s/%s/tmp", folder, dirname);
		assert_int_equal(count_entries(p), 1); /* the killed writer's box */
		d = opendir(p);
		assert_non_null(d);
		/* stale by the device's own clock, which the sim board starts at 2026-01-01 */
		old[0].tv_sec = old[1].tv_sec = (time_t)(ds_port_wall_ms() / 1000 - 2 * 24 * 3600);
		old[0].tv_usec = old[1].tv_usec = 0;
		while ((de = readdir(d)) != NULL) {
			char q[1500];

			if (de->d_name[0] != '.' || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(q, sizeof(q), "%s/%s", p, de->d_name);
			assert_true(is_dir(q));
			assert_int_equal(utimes(q, old), 0);
		}
		closedir(d);
		/* another device never removes it; its owner does */
		assert_int_equal(a->ops->prepare(a, &info), 0);
		assert_int_equal(count_entries(p), 1);
		assert_int_equal(k->ops->prepare(k, &info), 0);
		assert_int_equal(count_entries(p), 0);
		k->ops->close(k);
	}
	got_clear(g);
	assert_int_equal(fetch_all(a, "", g, end, &pages), 0);
	assert_string_equal(end, "2");
	assert_int_equal(g->n, 2);
	got_free(g);
	cJSON_Delete(cfg);
	a->ops->close(a);
}

/* One writer with hard links and one without, 50 batches each: the two forms exclude each
 * other, so the log holds all 100 once each with no gap. */
static void test_fat_mixed_writers(void **state)
{
	char *folder = new_folder();
	cJSON *cfg = reg_new(folder, "passphrase", "pw");
	struct ds_remote *r = enroll_open(cfg, "shared", "dev-parent");
	const char *devs[2] = { "dev-links", "dev-fat" };
	struct ds_remote_info info;
	struct got *g = got_new();
	char end[DS_CURSOR_MAX];
	pid_t pid[2];
	int pages, st, i;

	(void)state;
	assert_int_equal(r->ops->prepare(r, &info), 0);
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			int rc;

			g_links_work = i == 0;
			rc = child_writer(cfg, devs[i], 50);
			r->ops->close(r);
			cJSON_Delete(cfg);
			got_free(g);
			ds_port_deinit();
			_exit(rc);
		}
	}
	for (i = 0; i < 2; i++) {
		assert_int_equal(waitpid(pid[i], &st, 0), pid[i]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	assert_int_equal(fetch_all(r, "", g, end, &pages), 0);
	assert_string_equal(end, "100");
	assert_int_equal(g->n, 100);
	for (i = 0; i < 2; i++) {
		for (int k = 0; k < 50; k++) {
			char id[64];
			int seen = 0;

			snprintf(id, sizeof(id), "%s-%d", devs[i], k);
			for (size_t j = 0; j < g->n; j++)
				seen += !strcmp(g->id[j], id);
			assert_int_equal(seen, 1);
		}
	}
	cJSON_Delete(cfg);
	got_free(g);
	r->ops->close(r);
}

/* A batch directory emptied by hand (or by a repair tool) is damage, not the end of the log. */
static void test_fat_empty_box(void **state)
{
	char *folder = new_folder();
	struct ds_remote *r = pass_remote(folder, "c", "pw", "dev-a");
	struct ds_upload_result res;
	struct ds_fetch_page page;
	struct got *g = got_new();
	char dirname[80], p[1200];

	(void)state;
	assert_int_equal(upload_one(r, "", "1", "{}", &res), 0);
	assert_int_equal(upload_one(r, "1", "2", "{}", &res), 0);
	coll_dirname(folder, dirname, sizeof(dirname));
	snprintf(p, sizeof(p), "%s/%s/log/%016llu/data", folder, dirname, 2ULL);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(r->ops->fetch(r, "1", collect, g, &page), -EBADMSG);
	assert_int_equal(r->ops->fetch(r, "", collect, g, &page), -EBADMSG);
	got_free(g);
	r->ops->close(r);
}
