/*
 * failwrite.so - an LD_PRELOAD shim that makes a process's writes to files fail from the N-th
 * one on, as a full disk does, or kills the process right before that write.
 *
 * Built by the crash tests themselves (cc -shared -fPIC test/tools/failwrite.c -o failwrite.so
 * -ldl); it is not part of the product or of the tool build.
 *
 *   FAILWRITE_AT=N        1-based index of the first failing call (0 or unset: count only)
 *   FAILWRITE_MODE=fail   that call and every later one return -1 with errno ENOSPC (default)
 *   FAILWRITE_MODE=once   only that call fails (a transient error)
 *   FAILWRITE_MODE=kill   raise(SIGKILL) instead of making that call
 *   FAILWRITE_COUNT=FILE  at exit, write the number of calls seen into FILE
 *   FAILWRITE_TRACE=1     print "failwrite: N CALL PATH" on stderr for each counted call
 *
 * Counted calls: write, pwrite, pwrite64, writev, pwritev, fsync, fdatasync on regular files
 * other than stdin/stdout/stderr (logs must not shift the numbering), and fsync/fdatasync on
 * directories (what makes a new file name durable). Writes that glibc makes
 * internally (stdio's fwrite/fflush) do not go through these symbols and are not counted; the
 * fsync a careful writer calls after them is.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum { MODE_FAIL, MODE_ONCE, MODE_KILL };

static unsigned long g_calls;
static unsigned long g_at;
static int g_mode;
static int g_trace;

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);

__attribute__((constructor)) static void failwrite_init(void)
{
	const char *at = getenv("FAILWRITE_AT");
	const char *mode = getenv("FAILWRITE_MODE");

	real_write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	real_pwrite = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
	real_pwrite64 = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
	real_writev = (ssize_t(*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
	real_pwritev = (ssize_t(*)(int, const struct iovec *, int, off_t))dlsym(RTLD_NEXT, "pwritev");
	real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	g_at = at ? strtoul(at, NULL, 10) : 0;
	g_trace = getenv("FAILWRITE_TRACE") != NULL;
	if (mode && !strcmp(mode, "kill"))
		g_mode = MODE_KILL;
	else if (mode && !strcmp(mode, "once"))
		g_mode = MODE_ONCE;
}

__attribute__((destructor)) static void failwrite_fini(void)
{
	const char *path = getenv("FAILWRITE_COUNT");
	char buf[32];
	int fd, n;

	if (!path || !real_write)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return;
	n = snprintf(buf, sizeof(buf), "%lu\n", __atomic_load_n(&g_calls, __ATOMIC_SEQ_CST));
	real_write(fd, buf, (size_t)n);
	close(fd);
}

static void trace(unsigned long n, const char *call, int fd)
{
	char link[64], path[512], line[640];
	ssize_t len;
	int k;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	len = readlink(link, path, sizeof(path) - 1);
	path[len > 0 ? len : 0] = '\0';
	k = snprintf(line, sizeof(line), "failwrite: %lu %s %s\n", n, call, path);
	if (k > 0)
		real_write(2, line, (size_t)k < sizeof(line) ? (size_t)k : sizeof(line) - 1);
}

/* 1 when this call must fail (errno set), 0 to let it through. */
static int intercept_call(int fd, const char *call)
{
	struct stat st;
	unsigned long n;

	if (fd <= 2 || fstat(fd, &st) != 0)
		return 0;
	if (!S_ISREG(st.st_mode) && !(S_ISDIR(st.st_mode) && call[0] == 'f'))
		return 0;
	n = __atomic_add_fetch(&g_calls, 1, __ATOMIC_SEQ_CST);
	if (g_trace)
		trace(n, call, fd);
	if (!g_at || n < g_at)
		return 0;
	if (g_mode == MODE_KILL) {
		if (n == g_at)
			raise(SIGKILL);
		return 0;
	}
	if (g_mode == MODE_ONCE && n != g_at)
		return 0;
	errno = ENOSPC;
	return 1;
}

#define intercept(fd) intercept_call((fd), __func__)

ssize_t write(int fd, const void *buf, size_t n)
{
	return intercept(fd) ? -1 : real_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return intercept(fd) ? -1 : real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return intercept(fd) ? -1 : real_pwrite64(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	return intercept(fd) ? -1 : real_writev(fd, iov, cnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return intercept(fd) ? -1 : real_pwritev(fd, iov, cnt, off);
}

int fsync(int fd)
{
	return intercept(fd) ? -1 : real_fsync(fd);
}

int fdatasync(int fd)
{
	return intercept(fd) ? -1 : real_fdatasync(fd);
}
