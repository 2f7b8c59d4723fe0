/*
 * An SQLite VFS over the platform's default one (sqlite3_vfs_find(NULL): "unix" on Linux) that
 * asks the port's fault hook before every change to storage: xWrite and xTruncate (writes),
 * xSync, xDelete (removing a rollback journal is what commits it) and xOpen of a journal, WAL
 * or temporary file (a creation). Everything else, shared memory for WAL included, goes to the
 * default VFS unchanged. Registered as the default, so the metadata store and every app or
 * browser database the engines open take the same torture as the dir remote's files
 * (docs/porting.md, "Files"). Built only with CONFIG_DS_PORT_FAULT_HOOK: without the hook the
 * wrapper would add nothing but an indirection.
 */
#define DS_LOG_TAG "store"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_STORE
#include "core/ds_core.h"
#include "store/ds_store.h"
#include "ds_port.h"

#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

/* Our file: the default VFS's file object follows it in the same allocation (szOsFile). */
struct vfs_file {
	sqlite3_file base; /* base.pMethods: one of g_io below */
	sqlite3_file *real;
};

static sqlite3_vfs g_vfs;
static sqlite3_vfs *g_real;

#define REAL(f) (((struct vfs_file *)(void *)(f))->real)
#define RM(f) (REAL(f)->pMethods)

/*
 * A failure the hook asks for, as SQLite's unix VFS reports the real one: errno is set, so
 * sqlite3_system_errno() (which the store maps ENOSPC and EROFS from) sees it through the
 * default VFS's xGetLastError.
 */
static int injected(enum ds_port_fault kind, int ioerr)
{
	int rc = ds_port_fault_check(kind);

	if (!rc)
		return SQLITE_OK;
	errno = -rc;
	if (rc == -ENOSPC || rc == -EDQUOT)
		return SQLITE_FULL;
	return ioerr;
}

/* ---- io methods: the three that change storage ask the hook, the rest delegate ----------- */

static int f_close(sqlite3_file *f)
{
	return RM(f)->xClose(REAL(f));
}

static int f_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
	return RM(f)->xRead(REAL(f), buf, amt, off);
}

static int f_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
	int rc = injected(DS_PORT_FAULT_WRITE, SQLITE_IOERR_WRITE);

	return rc ? rc : RM(f)->xWrite(REAL(f), buf, amt, off);
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	int rc = injected(DS_PORT_FAULT_WRITE, SQLITE_IOERR_TRUNCATE);

	return rc ? rc : RM(f)->xTruncate(REAL(f), size);
}

static int f_sync(sqlite3_file *f, int flags)
{
	int rc = injected(DS_PORT_FAULT_SYNC, SQLITE_IOERR_FSYNC);

	return rc ? rc : RM(f)->xSync(REAL(f), flags);
}

static int f_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return RM(f)->xFileSize(REAL(f), size);
}

static int f_lock(sqlite3_file *f, int level)
{
	return RM(f)->xLock(REAL(f), level);
}

static int f_unlock(sqlite3_file *f, int level)
{
	return RM(f)->xUnlock(REAL(f), level);
}

static int f_check_reserved(sqlite3_file *f, int *out)
{
	return RM(f)->xCheckReservedLock(REAL(f), out);
}

static int f_file_control(sqlite3_file *f, int op, void *arg)
{
	return RM(f)->xFileControl(REAL(f), op, arg);
}

static int f_sector_size(sqlite3_file *f)
{
	return RM(f)->xSectorSize(REAL(f));
}

static int f_device_chars(sqlite3_file *f)
{
	return RM(f)->xDeviceCharacteristics(REAL(f));
}

static int f_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **out)
{
	return RM(f)->xShmMap(REAL(f), region, size, extend, out);
}

static int f_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	return RM(f)->xShmLock(REAL(f), offset, n, flags);
}

static void f_shm_barrier(sqlite3_file *f)
{
	RM(f)->xShmBarrier(REAL(f));
}

static int f_shm_unmap(sqlite3_file *f, int delete_flag)
{
	return RM(f)->xShmUnmap(REAL(f), delete_flag);
}

static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **out)
{
	return RM(f)->xFetch(REAL(f), off, amt, out);
}

static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return RM(f)->xUnfetch(REAL(f), off, p);
}

/*
 * One table per io-methods version: a wrapped file offers exactly the methods of the default
 * VFS's file (a version 1 file has no shared memory, and SQLite then does not use WAL on it).
 */
#define IO_METHODS(v)                                                                         \
	{ v, f_close, f_read, f_write, f_truncate, f_sync, f_file_size, f_lock, f_unlock,      \
	  f_check_reserved, f_file_control, f_sector_size, f_device_chars, f_shm_map,          \
	  f_shm_lock, f_shm_barrier, f_shm_unmap, f_fetch, f_unfetch }
static const sqlite3_io_methods g_io[3] = { IO_METHODS(1), IO_METHODS(2), IO_METHODS(3) };

/* ---- the VFS ---------------------------------------------------------------------------- */

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
	struct vfs_file *p = (struct vfs_file *)(void *)f;
	int rc;

	(void)vfs;
	p->base.pMethods = NULL;
	p->real = (sqlite3_file *)(void *)(p + 1);
	/* The database itself exists before a run; its journal, WAL and temporary files are created
	 * as it goes, and a full disk refuses those first. */
	if ((flags & SQLITE_OPEN_CREATE) && !(flags & SQLITE_OPEN_MAIN_DB)) {
		rc = injected(DS_PORT_FAULT_CREATE, SQLITE_CANTOPEN);
		if (rc)
			return rc;
	}
	rc = g_real->xOpen(g_real, name, p->real, flags, out_flags);
	/* SQLite calls xClose when pMethods is set, even after a failed open: mirror the default. */
	if (p->real->pMethods) {
		int v = p->real->pMethods->iVersion;

		p->base.pMethods = &g_io[(v < 1 ? 1 : v > 3 ? 3 : v) - 1];
	}
	return rc;
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	int rc = injected(DS_PORT_FAULT_REMOVE, SQLITE_IOERR_DELETE);

	(void)vfs;
	return rc ? rc : g_real->xDelete(g_real, name, sync_dir);
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return g_real->xAccess(g_real, name, flags, out);
}

static int v_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return g_real->xFullPathname(g_real, name, n, out);
}

static void *v_dl_open(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return g_real->xDlOpen(g_real, name);
}

static void v_dl_error(sqlite3_vfs *vfs, int n, char *msg)
{
	(void)vfs;
	g_real->xDlError(g_real, n, msg);
}

static void (*v_dl_sym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return g_real->xDlSym(g_real, h, sym);
}

static void v_dl_close(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	g_real->xDlClose(g_real, h);
}

static int v_randomness(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return g_real->xRandomness(g_real, n, out);
}

static int v_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return g_real->xSleep(g_real, us);
}

static int v_current_time(sqlite3_vfs *vfs, double *out)
{
	(void)vfs;
	return g_real->xCurrentTime(g_real, out);
}

static int v_get_last_error(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return g_real->xGetLastError ? g_real->xGetLastError(g_real, n, out) : 0;
}

static int v_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	(void)vfs;
	return g_real->xCurrentTimeInt64(g_real, out);
}

static int v_set_syscall(sqlite3_vfs *vfs, const char *name, sqlite3_syscall_ptr fn)
{
	(void)vfs;
	return g_real->xSetSystemCall(g_real, name, fn);
}

static sqlite3_syscall_ptr v_get_syscall(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return g_real->xGetSystemCall(g_real, name);
}

static const char *v_next_syscall(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return g_real->xNextSystemCall(g_real, name);
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_result;

static void register_once(void)
{
	sqlite3_vfs *real = sqlite3_vfs_find(NULL);

	if (!real) {
		g_result = -ENOSYS;
		return;
	}
	g_real = real;
	g_vfs.iVersion = real->iVersion < 3 ? real->iVersion : 3;
	g_vfs.szOsFile = (int)sizeof(struct vfs_file) + real->szOsFile;
	g_vfs.mxPathname = real->mxPathname;
	g_vfs.zName = DS_STORE_VFS_NAME;
	g_vfs.xOpen = v_open;
	g_vfs.xDelete = v_delete;
	g_vfs.xAccess = v_access;
	g_vfs.xFullPathname = v_full_pathname;
	g_vfs.xDlOpen = real->xDlOpen ? v_dl_open : NULL;
	g_vfs.xDlError = real->xDlError ? v_dl_error : NULL;
	g_vfs.xDlSym = real->xDlSym ? v_dl_sym : NULL;
	g_vfs.xDlClose = real->xDlClose ? v_dl_close : NULL;
	g_vfs.xRandomness = v_randomness;
	g_vfs.xSleep = v_sleep;
	g_vfs.xCurrentTime = v_current_time;
	g_vfs.xGetLastError = v_get_last_error;
	if (g_vfs.iVersion >= 2)
		g_vfs.xCurrentTimeInt64 = v_current_time64;
	if (g_vfs.iVersion >= 3) {
		g_vfs.xSetSystemCall = v_set_syscall;
		g_vfs.xGetSystemCall = v_get_syscall;
		g_vfs.xNextSystemCall = v_next_syscall;
	}
	g_result = sqlite3_vfs_register(&g_vfs, 1) == SQLITE_OK ? 0 : -ENOMEM;
	if (g_result)
		DS_LOG_ERR("cannot register the SQLite VFS " DS_STORE_VFS_NAME);
}

int ds_store_vfs_register(void)
{
	/* sqlite3_vfs_register() takes SQLite's own mutex, but g_vfs must be complete before any
	 * thread can find it: fill and register it exactly once. */
	pthread_once(&g_once, register_once);
	return g_result;
}
