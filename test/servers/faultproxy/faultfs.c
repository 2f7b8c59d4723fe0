/*
 * faultfs.so - an LD_PRELOAD shim that makes one folder (or file) of a process look full or
 * read-only, without root, mounts or mode bits (tests run as root, who ignores modes).
 *
 * Built by the tests that use it (cc -shared -fPIC faultfs.c -o faultfs.so -ldl); it is not part
 * of the product. The network faults of this folder have proxy.py; this is the disk's side.
 *
 *   FAULTFS_PATH=P     the calls on paths that start with P fail (a folder, or a file: "x.db"
 *                      also catches "x.db-journal" and "x.db-wal"); unset: the shim does nothing
 *   FAULTFS_ERRNO=E    ENOSPC (default: a full disk), EROFS (a read-only mount) or EIO
 *   FAULTFS_AT=N       the N-th matching call is the first to fail (default 1); FAULTFS_COUNT=F
 *                      writes the number of matching calls into F at exit
 *   FAULTFS_SWITCH=F   the shim acts only while file F exists: a test fills the disk of a
 *                      long-running process (a daemon) and frees it again
 *
 * Matching calls, by errno:
 *   ENOSPC, EIO  write, pwrite(64), writev, pwritev, fsync, fdatasync; opening, creating,
 *                truncating and reading still work, as on a full disk where a new empty file
 *                or a sparse size needs no block
 *   EROFS        also open/openat(64) for writing or creating, ftruncate(64), mkdir (of a
 *                folder that does not exist), rename(at), unlink(at), rmdir, link, symlink,
 *                truncate; opening for reading still works
 * A path is the fd's /proc/self/fd link, or the argument made absolute with the current folder.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static const char *g_prefix;
static const char *g_switch;
static size_t g_prefix_len;
static int g_errno = ENOSPC;
static unsigned long g_at = 1;
static unsigned long g_calls;

#define REAL(name) ((__typeof__(&name))real_sym(#name))

static void *real_sym(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (!p) {
		fprintf(stderr, "faultfs: no %s\n", name);
		abort();
	}
	return p;
}

__attribute__((constructor)) static void faultfs_init(void)
{
	const char *e = getenv("FAULTFS_ERRNO");
	const char *at = getenv("FAULTFS_AT");

	g_prefix = getenv("FAULTFS_PATH");
	g_switch = getenv("FAULTFS_SWITCH");
	if (g_prefix && !*g_prefix)
		g_prefix = NULL;
	g_prefix_len = g_prefix ? strlen(g_prefix) : 0;
	if (e && !strcmp(e, "EROFS"))
		g_errno = EROFS;
	else if (e && !strcmp(e, "EIO"))
		g_errno = EIO;
	if (at && strtoul(at, NULL, 10) > 0)
		g_at = strtoul(at, NULL, 10);
}

__attribute__((destructor)) static void faultfs_fini(void)
{
	const char *path = getenv("FAULTFS_COUNT");
	FILE *f;

	if (path && (f = fopen(path, "w"))) {
		fprintf(f, "%lu\n", __atomic_load_n(&g_calls, __ATOMIC_SEQ_CST));
		fclose(f);
	}
}

static int under(const char *path)
{
	return g_prefix && !strncmp(path, g_prefix, g_prefix_len);
}

/* 1 when the call must fail (errno set). */
static int hit(const char *path)
{
	if (!under(path) || (g_switch && access(g_switch, F_OK) != 0))
		return 0;
	if (__atomic_add_fetch(&g_calls, 1, __ATOMIC_SEQ_CST) < g_at)
		return 0;
	errno = g_errno;
	return 1;
}

static int hit_fd(int fd)
{
	char link[64], path[PATH_MAX];
	ssize_t n;

	if (!g_prefix || fd <= 2)
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return 0;
	path[n] = '\0';
	return hit(path);
}

static int hit_path(int dirfd, const char *p)
{
	char abs[2 * PATH_MAX + 2], base[PATH_MAX];

	if (!g_prefix || g_errno != EROFS || !p)
		return 0;
	if (p[0] == '/')
		return hit(p);
	if (dirfd == AT_FDCWD) {
		if (!getcwd(base, sizeof(base)))
			return 0;
	} else {
		char link[64];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
		n = readlink(link, base, sizeof(base) - 1);
		if (n <= 0)
			return 0;
		base[n] = '\0';
	}
	snprintf(abs, sizeof(abs), "%s/%s", base, p);
	return hit(abs);
}

static int writes(int flags)
{
	return (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) != 0;
}

#define MODE_ARG(flags)                                                                            \
	mode_t mode = 0;                                                                           \
	if ((flags) & (O_CREAT | __O_TMPFILE)) {                                                   \
		va_list ap;                                                                        \
		va_start(ap, flags);                                                               \
		mode = (mode_t)va_arg(ap, int);                                                    \
		va_end(ap);                                                                        \
	}

int open(const char *p, int flags, ...)
{
	MODE_ARG(flags);
	if (writes(flags) && hit_path(AT_FDCWD, p))
		return -1;
	return REAL(open)(p, flags, mode);
}

int open64(const char *p, int flags, ...)
{
	MODE_ARG(flags);
	if (writes(flags) && hit_path(AT_FDCWD, p))
		return -1;
	return REAL(open64)(p, flags, mode);
}

int openat(int d, const char *p, int flags, ...)
{
	MODE_ARG(flags);
	if (writes(flags) && hit_path(d, p))
		return -1;
	return REAL(openat)(d, p, flags, mode);
}

int openat64(int d, const char *p, int flags, ...)
{
	MODE_ARG(flags);
	if (writes(flags) && hit_path(d, p))
		return -1;
	return REAL(openat64)(d, p, flags, mode);
}

ssize_t write(int fd, const void *b, size_t n)
{
	return hit_fd(fd) ? -1 : REAL(write)(fd, b, n);
}

ssize_t pwrite(int fd, const void *b, size_t n, off_t o)
{
	return hit_fd(fd) ? -1 : REAL(pwrite)(fd, b, n, o);
}

ssize_t pwrite64(int fd, const void *b, size_t n, off64_t o)
{
	return hit_fd(fd) ? -1 : REAL(pwrite64)(fd, b, n, o);
}

ssize_t writev(int fd, const struct iovec *v, int c)
{
	return hit_fd(fd) ? -1 : REAL(writev)(fd, v, c);
}

ssize_t pwritev(int fd, const struct iovec *v, int c, off_t o)
{
	return hit_fd(fd) ? -1 : REAL(pwritev)(fd, v, c, o);
}

int fsync(int fd)
{
	return hit_fd(fd) ? -1 : REAL(fsync)(fd);
}

int fdatasync(int fd)
{
	return hit_fd(fd) ? -1 : REAL(fdatasync)(fd);
}

/* Changing a size allocates no block (files are sparse): only a read-only mount refuses it. */
int ftruncate(int fd, off_t n)
{
	return g_errno == EROFS && hit_fd(fd) ? -1 : REAL(ftruncate)(fd, n);
}

int ftruncate64(int fd, off64_t n)
{
	return g_errno == EROFS && hit_fd(fd) ? -1 : REAL(ftruncate64)(fd, n);
}

/* Linux answers EEXIST before EROFS for a folder that exists (filename_create()). */
int mkdir(const char *p, mode_t m)
{
	struct stat st;

	if (stat(p, &st) == 0)
		return REAL(mkdir)(p, m);
	return hit_path(AT_FDCWD, p) ? -1 : REAL(mkdir)(p, m);
}

int mkdirat(int d, const char *p, mode_t m)
{
	struct stat st;

	if (fstatat(d, p, &st, 0) == 0)
		return REAL(mkdirat)(d, p, m);
	return hit_path(d, p) ? -1 : REAL(mkdirat)(d, p, m);
}

int rename(const char *a, const char *b)
{
	return hit_path(AT_FDCWD, a) || hit_path(AT_FDCWD, b) ? -1 : REAL(rename)(a, b);
}

int renameat(int da, const char *a, int db, const char *b)
{
	return hit_path(da, a) || hit_path(db, b) ? -1 : REAL(renameat)(da, a, db, b);
}

int unlink(const char *p)
{
	return hit_path(AT_FDCWD, p) ? -1 : REAL(unlink)(p);
}

int unlinkat(int d, const char *p, int f)
{
	return hit_path(d, p) ? -1 : REAL(unlinkat)(d, p, f);
}

int rmdir(const char *p)
{
	return hit_path(AT_FDCWD, p) ? -1 : REAL(rmdir)(p);
}

int link(const char *a, const char *b)
{
	return hit_path(AT_FDCWD, b) ? -1 : REAL(link)(a, b);
}

int symlink(const char *a, const char *b)
{
	return hit_path(AT_FDCWD, b) ? -1 : REAL(symlink)(a, b);
}

int truncate(const char *p, off_t n)
{
	return hit_path(AT_FDCWD, p) ? -1 : REAL(truncate)(p, n);
}
