/*
 * File primitives of the dir remote. The folder may be shared by several devices and may vanish
 * (card pulled) at any moment, so every final name appears only complete and synced: data goes
 * to a temporary file, is fsynced, and then gets its name with link() (exclusive) or rename()
 * (hints only). Without hard links (FAT, exFAT) the exclusive step is the rename() of a directory
 * holding the finished file (see ds_dir_fs_publish and docs/remote-dir.md).
 */
#define DS_LOG_TAG "dir"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "remote/dir/dir_priv.h"
#include "ds_port.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *ds_dir_path(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	p = ds_malloc((size_t)n + 1);
	if (!p)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

const char *ds_dir_fs_why(int neg_errno)
{
	switch (-neg_errno) {
	case ENOSPC:
	case EDQUOT:
		return "the folder's storage is full";
	case EROFS:
		return "the folder is on read-only storage";
	case EACCES:
	case EPERM:
		return "permission denied";
	case ENOENT:
	case ENOTDIR:
		return "the folder is not available";
	case EIO:
		return "I/O error (damaged or removed storage?)";
	default:
		return ds_strerror(neg_errno);
	}
}

int ds_dir_fs_write_new(const char *path, const void *data, size_t len)
{
	int fd, rc, err;

	fd = ds_port_file_open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return fd;
	rc = ds_port_file_write(fd, data, len);
	if (!rc)
		rc = ds_port_file_sync(fd);
	err = ds_port_file_close(fd);
	if (err && !rc)
		rc = err;
	if (rc)
		ds_port_file_unlink(path);
	return rc;
}

int ds_dir_fs_sync_dir(const char *dir)
{
	return ds_port_dir_sync(dir);
}

/* link() errors that mean "this file system has no hard links" (FAT, exFAT, some FUSE mounts). */
static bool no_hard_links(int e)
{
#if EOPNOTSUPP != ENOTSUP
	if (e == EOPNOTSUPP)
		return true;
#endif
	return e == EPERM || e == ENOTSUP || e == ENOSYS;
}

/*
 * Publish without link(): put the finished file alone into a new directory (the box) and rename
 * the box to final. rename() of a directory onto an existing non-empty directory, or onto a file,
 * fails (ENOTEMPTY/EEXIST, ENOTDIR: POSIX rename(), Linux vfat and exfat alike), so of two writers
 * racing for final exactly one wins, and final appears only with its complete content inside.
 */
static int publish_boxed(const char *tmp, const char *box, const char *inner, const char *final)
{
	int rc = 0;

	rc = ds_port_file_mkdir(box, 0755);
	if (rc)
		return rc;
	rc = ds_port_file_rename(tmp, inner);
	if (!rc)
		rc = ds_dir_fs_sync_dir(box);
	if (!rc) {
		rc = ds_port_file_rename(box, final);
		if (rc == -ENOTEMPTY || rc == -ENOTDIR || rc == -EISDIR)
			rc = -EEXIST;
	}
	if (rc) {
		ds_port_file_unlink(inner);
		ds_port_file_rmdir(box);
	}
	return rc;
}

int ds_dir_fs_publish(const char *tmp, const char *final)
{
	/* Everything that can fail for want of memory comes before the name appears. */
	char *dir = ds_strdup(final), *slash;
	char *box = ds_dir_path("%s.d", tmp);
	char *inner = box ? ds_dir_path("%s/" DS_DIR_BOXED_NAME, box) : NULL;
	int rc = 0;

	if (!dir || !box || !inner) {
		ds_port_file_unlink(tmp);
		rc = -ENOMEM;
		goto out;
	}
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	rc = ds_port_file_link(tmp, final);
	if (rc && no_hard_links(-rc))
		rc = publish_boxed(tmp, box, inner, final);
	ds_port_file_unlink(tmp);
	/* A failed sync leaves the outcome unknown: the caller reports an error and the core
	 * finds the batch (or not) on its next fetch. */
	if (!rc)
		rc = ds_dir_fs_sync_dir(slash ? dir : ".");
out:
	ds_free(inner);
	ds_free(box);
	ds_free(dir);
	return rc;
}

static int read_file(const char *path, size_t max, bool boxed, uint8_t **out, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd, rc = 0;

	*out = NULL;
	*len = 0;
	/* O_NONBLOCK: a FIFO planted under a batch's name (anyone who can write to the folder can
	 * make one) would otherwise block open() until a writer comes; fstat() then refuses it.
	 * Regular files ignore the flag. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode) && boxed) {
		/* A name published without hard links: its content is the file inside (one level). */
		char *inner = ds_dir_path("%s/" DS_DIR_BOXED_NAME, path);

		close(fd);
		if (!inner)
			return -ENOMEM;
		rc = read_file(inner, max, false, out, len);
		ds_free(inner);
		/* An empty box is a damaged name, not a missing one. */
		return rc == -ENOENT ? -EISDIR : rc;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EISDIR;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = -EFBIG;
		goto out;
	}
	buf = ds_malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			ds_free(buf);
			goto out;
		}
		if (r == 0)
			break; /* shrank under us: the caller's integrity check decides */
		got += (size_t)r;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
out:
	close(fd);
	return rc;
}

int ds_dir_fs_read(const char *path, size_t max, uint8_t **out, size_t *len)
{
	return read_file(path, max, true, out, len);
}

int ds_dir_fs_exists(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	return -errno;
}

int ds_dir_fs_mkdir(const char *path)
{
	struct stat st;
	int rc = ds_port_file_mkdir(path, 0755);

	if (rc != -EEXIST)
		return rc;
	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int ds_dir_fs_check_root(const char *root)
{
	struct stat st;

	if (stat(root, &st) < 0)
		return errno == ENOTDIR ? -ENOENT : -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOENT;
}

int ds_dir_fs_replace(const char *tmp, const char *path, const void *data, size_t len)
{
	int fd, rc, err;

	fd = ds_port_file_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return fd;
	rc = ds_port_file_write(fd, data, len);
	err = ds_port_file_close(fd);
	if (err && !rc)
		rc = err;
	if (!rc)
		rc = ds_port_file_rename(tmp, path);
	if (rc)
		ds_port_file_unlink(tmp);
	return rc;
}

void ds_dir_fs_clean_stale(const char *dir, const char *prefix, int64_t now_ms, int64_t max_age_ms)
{
	size_t plen = strlen(prefix);
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		char *p;

		if (strncmp(de->d_name, prefix, plen) != 0)
			continue;
		p = ds_dir_path("%s/%s", dir, de->d_name);
		if (!p)
			break;
		if (lstat(p, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) &&
		    (int64_t)st.st_mtime * 1000 + max_age_ms < now_ms) {
			DS_LOG_INF("removing stale temporary file %s", p);
			if (S_ISDIR(st.st_mode)) {
				/* a box of a publish without hard links that crashed before its rename */
				char *inner = ds_dir_path("%s/" DS_DIR_BOXED_NAME, p);

				if (inner)
					ds_port_file_unlink(inner);
				ds_free(inner);
				ds_port_file_rmdir(p);
			} else {
				ds_port_file_unlink(p);
			}
		}
		ds_free(p);
	}
	closedir(d);
}
