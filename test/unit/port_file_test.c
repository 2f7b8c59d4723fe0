/*
 * The port's file operations (ds_port.h, "files") on every board, with or without the fault
 * hook: each does what its system call does and reports failures as a negative errno. The
 * fault hook's side is io_torture_test's.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ds_core.h"
#include "ds_port.h"

static char g_base[1024];

static void path_of(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", g_base, name);
}

static void read_back(const char *path, const char *want)
{
	char buf[64];
	FILE *f = fopen(path, "rb");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void test_create_write_sync_close(void **state)
{
	char p[1100];
	int fd;

	DS_UNUSED(state);
	path_of(p, sizeof(p), "a");
	fd = ds_port_file_open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ds_port_file_open(p, O_WRONLY | O_CREAT | O_EXCL, 0600), -EEXIST);
	assert_int_equal(ds_port_file_write(fd, "hello world", 11), 0);
	assert_int_equal(ds_port_file_pwrite(fd, "W", 1, 6), 0);
	assert_int_equal(ds_port_file_pwrite(fd, "x", 1, -1), -EINVAL);
	assert_int_equal(ds_port_file_sync(fd), 0);
	assert_int_equal(ds_port_file_datasync(fd), 0);
	assert_int_equal(ds_port_file_close(fd), 0);
	read_back(p, "hello World");

	fd = ds_port_file_open(p, O_RDWR, 0);
	assert_true(fd >= 0);
	assert_int_equal(ds_port_file_truncate(fd, 5), 0);
	assert_int_equal(ds_port_file_truncate(fd, -1), -EINVAL);
	assert_int_equal(ds_port_file_close(fd), 0);
	read_back(p, "hello");
	/* A descriptor opened read-only cannot be written: the error comes back as is. */
	fd = ds_port_file_open(p, O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(ds_port_file_write(fd, "x", 1), -EBADF);
	assert_int_equal(ds_port_file_close(fd), 0);
	assert_int_equal(ds_port_file_close(fd), -EBADF);
	assert_int_equal(ds_port_file_unlink(p), 0);
	assert_int_equal(ds_port_file_unlink(p), -ENOENT);
	path_of(p, sizeof(p), "missing/a");
	assert_int_equal(ds_port_file_open(p, O_WRONLY | O_CREAT, 0600), -ENOENT);
}

static void test_names(void **state)
{
	char a[1100], b[1100], c[1100], d[1100];
	int fd;

	DS_UNUSED(state);
	path_of(a, sizeof(a), "n1");
	path_of(b, sizeof(b), "n2");
	path_of(c, sizeof(c), "n3");
	path_of(d, sizeof(d), "dir");
	fd = ds_port_file_open(a, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ds_port_file_write(fd, "one", 3), 0);
	assert_int_equal(ds_port_file_close(fd), 0);
	/* link() is exclusive, rename() replaces. */
	assert_int_equal(ds_port_file_link(a, b), 0);
	assert_int_equal(ds_port_file_link(a, b), -EEXIST);
	assert_int_equal(ds_port_file_rename(a, c), 0);
	assert_int_equal(ds_port_file_rename(a, c), -ENOENT);
	/* b and c are one file now: POSIX rename() then succeeds and does nothing. */
	assert_int_equal(ds_port_file_rename(b, c), 0);
	read_back(b, "one");
	read_back(c, "one");
	assert_int_equal(ds_port_file_unlink(b), 0);

	assert_int_equal(ds_port_file_mkdir(d, 0700), 0);
	assert_int_equal(ds_port_file_mkdir(d, 0700), -EEXIST);
	assert_int_equal(ds_port_dir_sync(d), 0);
	path_of(a, sizeof(a), "dir/inner");
	assert_int_equal(ds_port_file_rename(c, a), 0);
	assert_int_equal(ds_port_file_rmdir(d), -ENOTEMPTY);
	assert_int_equal(ds_port_file_unlink(a), 0);
	assert_int_equal(ds_port_file_rmdir(d), 0);
	assert_int_equal(ds_port_dir_sync(d), -ENOENT);
	assert_int_equal(ds_port_dir_sync(g_base), 0);
}

static int setup(void **state)
{
	const char *tmp = getenv("DS_TEST_TMP");

	DS_UNUSED(state);
	if (tmp && *tmp)
		snprintf(g_base, sizeof(g_base), "%s/port_file", tmp);
	else
		snprintf(g_base, sizeof(g_base), "%s/ds-port-file-XXXXXX", P_tmpdir);
	if (tmp && *tmp ? mkdir(g_base, 0700) != 0 : !mkdtemp(g_base))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	DS_UNUSED(state);
	return rmdir(g_base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_write_sync_close),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
