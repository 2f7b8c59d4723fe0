/*
 * bench_browser_vfs.h - SQLite's file traffic, counted: a VFS over the default one, registered as
 * the new default, that counts the bytes and calls of xWrite and xRead and the calls of xSync
 * (each an fsync on the posix VFS) of every database file, journal and WAL the process opens.
 * Reads show what a page cache smaller than the working set costs: pages read again (from the
 * OS's page cache, a system call and a copy each). The engines and
 * the metadata store open their files through the default VFS, so this is what the agent makes
 * SQLite write, without the HTTP bytes that /proc/self/io's wchar also counts.
 *
 * Header-only with static functions: each benchmark is one source file (test/module.mk), and
 * bench_browser.c is the only includer.
 */
#ifndef DS_BENCH_BROWSER_VFS_H
#define DS_BENCH_BROWSER_VFS_H

#include <sqlite3.h>
#include <string.h>

struct bench_vfs_counts {
	unsigned long long bytes, read_bytes;
	unsigned long writes, syncs, reads;
};

static struct bench_vfs_counts g_vfs_counts;
static sqlite3_vfs *g_vfs_real;
static sqlite3_vfs g_vfs;

/* Our file: the real VFS's file follows it in the same allocation (szOsFile). */
struct vfs_file {
	sqlite3_file base;
	sqlite3_file *real;
};

#define REAL(f) (((struct vfs_file *)(f))->real)

static int v_close(sqlite3_file *f)
{
	int rc = REAL(f)->pMethods ? REAL(f)->pMethods->xClose(REAL(f)) : SQLITE_OK;

	f->pMethods = NULL;
	return rc;
}

static int v_read(sqlite3_file *f, void *b, int n, sqlite3_int64 off)
{
	g_vfs_counts.read_bytes += (unsigned long long)n;
	g_vfs_counts.reads++;
	return REAL(f)->pMethods->xRead(REAL(f), b, n, off);
}

static int v_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 off)
{
	g_vfs_counts.bytes += (unsigned long long)n;
	g_vfs_counts.writes++;
	return REAL(f)->pMethods->xWrite(REAL(f), b, n, off);
}

static int v_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int v_sync(sqlite3_file *f, int flags)
{
	g_vfs_counts.syncs++;
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int v_size(sqlite3_file *f, sqlite3_int64 *out)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), out);
}

static int v_lock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xLock(REAL(f), l);
}

static int v_unlock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), l);
}

static int v_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int v_fcntl(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int v_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int v_devchar(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int v_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **out)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, out);
}

static int v_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}

static void v_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int v_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static int v_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **out)
{
	return REAL(f)->pMethods->xFetch(REAL(f), off, n, out);
}

static int v_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

/* Version 3 methods; a real file of a lower version gets the same table minus what it lacks. */
static const sqlite3_io_methods g_vfs_io3 = {
	3, v_close, v_read, v_write, v_truncate, v_sync, v_size, v_lock, v_unlock, v_reserved,
	v_fcntl, v_sector, v_devchar, v_shm_map, v_shm_lock, v_shm_barrier, v_shm_unmap, v_fetch,
	v_unfetch,
};
static const sqlite3_io_methods g_vfs_io1 = {
	1, v_close, v_read, v_write, v_truncate, v_sync, v_size, v_lock, v_unlock, v_reserved,
	v_fcntl, v_sector, v_devchar, NULL, NULL, NULL, NULL, NULL, NULL,
};

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
	struct vfs_file *vf = (struct vfs_file *)f;
	int rc;

	(void)vfs;
	vf->real = (sqlite3_file *)(vf + 1);
	memset(vf->real, 0, (size_t)g_vfs_real->szOsFile);
	rc = g_vfs_real->xOpen(g_vfs_real, name, vf->real, flags, out_flags);
	if (vf->real->pMethods)
		f->pMethods = vf->real->pMethods->iVersion >= 3 ? &g_vfs_io3 : &g_vfs_io1;
	else
		f->pMethods = NULL;
	return rc;
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	(void)vfs;
	return g_vfs_real->xDelete(g_vfs_real, name, sync_dir);
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return g_vfs_real->xAccess(g_vfs_real, name, flags, out);
}

static int v_fullpath(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return g_vfs_real->xFullPathname(g_vfs_real, name, n, out);
}

static int v_random(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return g_vfs_real->xRandomness(g_vfs_real, n, out);
}

static int v_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return g_vfs_real->xSleep(g_vfs_real, us);
}

static int v_time(sqlite3_vfs *vfs, double *out)
{
	(void)vfs;
	return g_vfs_real->xCurrentTime(g_vfs_real, out);
}

static int v_last_error(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return g_vfs_real->xGetLastError ? g_vfs_real->xGetLastError(g_vfs_real, n, out) : 0;
}

static int v_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	(void)vfs;
	return g_vfs_real->xCurrentTimeInt64(g_vfs_real, out);
}

/* Register the counting VFS as the default; 0, or -1. Before any database is opened. */
static int bench_vfs_install(void)
{
	g_vfs_real = sqlite3_vfs_find(NULL);
	if (!g_vfs_real || g_vfs_real->iVersion < 2)
		return -1;
	memset(&g_vfs, 0, sizeof(g_vfs));
	g_vfs.iVersion = 2;
	g_vfs.szOsFile = (int)sizeof(struct vfs_file) + g_vfs_real->szOsFile;
	g_vfs.mxPathname = g_vfs_real->mxPathname;
	g_vfs.zName = "bench-count";
	g_vfs.xOpen = v_open;
	g_vfs.xDelete = v_delete;
	g_vfs.xAccess = v_access;
	g_vfs.xFullPathname = v_fullpath;
	g_vfs.xRandomness = v_random;
	g_vfs.xSleep = v_sleep;
	g_vfs.xCurrentTime = v_time;
	g_vfs.xGetLastError = v_last_error;
	g_vfs.xCurrentTimeInt64 = v_time64;
	return sqlite3_vfs_register(&g_vfs, 1) == SQLITE_OK ? 0 : -1;
}

#undef REAL

#endif /* DS_BENCH_BROWSER_VFS_H */
