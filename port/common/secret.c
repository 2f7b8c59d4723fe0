/*
 * Sealed secrets as files: one file of mode 0600 per name in a 0700 directory. Every access
 * goes through a descriptor of that directory opened with O_NOFOLLOW, and every file with
 * O_NOFOLLOW, so a symlink planted in or as the folder cannot redirect a key elsewhere.
 * Writes are temp file + fsync + rename + fsync of the directory: after a power cut a reader
 * sees the old secret or the new one, never a torn one.
 */
#define DS_LOG_TAG "port"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_PORT
#include "core/ds_core.h"
#include "port/common/ds_port_common.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One temp name per secret name: serialise writers in this process (one daemon per device). */
static pthread_mutex_t g_secret_lock = PTHREAD_MUTEX_INITIALIZER;

static int open_secret_dir(void)
{
	const char *dir = ds_port_path(DS_PATH_SECRET);
	struct stat st;
	int fd, rc;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		rc = ds_port_mkdirs(dir, 0700);
		if (rc)
			return rc;
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return errno == ELOOP ? -ENOTDIR : -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (st.st_mode & 077) {
		/* Someone loosened it (or an old install made it so): put it back. */
		DS_LOG_WRN("secret directory had mode %03o, setting 0700",
			   (unsigned)(st.st_mode & 0777));
		if (fchmod(fd, 0700) != 0) {
			rc = -errno;
			close(fd);
			return rc;
		}
	}
	return fd;
}

/* The *at() operations below ask the fault hook as ds_port_file_*() do (file.c). */
static int unlink_at(int dfd, const char *name)
{
	int rc = ds_port_fault_check(DS_PORT_FAULT_REMOVE);

	if (rc)
		return rc;
	return unlinkat(dfd, name, 0) != 0 ? -errno : 0;
}

int ds_port_secret_seal(const char *name, const void *data, size_t len)
{
	char tmp[DS_PORT_SECRET_NAME_MAX + 8];
	int dfd, fd, rc;

	if (!ds_port_name_ok(name, DS_PORT_SECRET_NAME_MAX) || (!data && len))
		return -EINVAL;
	if (len > DS_PORT_SECRET_MAX)
		return -EMSGSIZE;
	/* Valid names never start with '.', so the temp name cannot collide with a secret. */
	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);

	pthread_mutex_lock(&g_secret_lock);
	dfd = open_secret_dir();
	if (dfd < 0) {
		rc = dfd;
		goto out;
	}
	/* A temp file left by a crash is stale: remove it, then create exclusively. */
	rc = unlink_at(dfd, tmp);
	if (rc && rc != -ENOENT)
		goto out_dir;
	rc = ds_port_fault_check(DS_PORT_FAULT_CREATE);
	fd = rc ? rc : openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = rc ? rc : -errno;
		goto out_dir;
	}
	/* The umask could only remove bits, but a restrictive one must not leave us unreadable. */
	rc = fchmod(fd, 0600) != 0 ? -errno : 0;
	if (!rc)
		rc = ds_port_file_write(fd, data, len);
	if (!rc)
		rc = ds_port_file_sync(fd);
	if (close(fd) != 0 && !rc)
		rc = -errno;
	if (!rc)
		rc = ds_port_fault_check(DS_PORT_FAULT_RENAME);
	if (!rc && renameat(dfd, tmp, dfd, name) != 0)
		rc = -errno;
	if (rc) {
		unlinkat(dfd, tmp, 0);
		DS_LOG_ERR("cannot store secret '%s': %s", name, ds_strerror(rc));
		goto out_dir;
	}
	/* The rename is durable only once the directory entry is on disk. */
	rc = ds_port_file_sync(dfd);
out_dir:
	close(dfd);
out:
	pthread_mutex_unlock(&g_secret_lock);
	return rc;
}

int ds_port_secret_unseal(const char *name, void *buf, size_t cap)
{
	unsigned char *p = buf;
	struct stat st;
	size_t len = 0, size;
	int dfd, fd, rc;

	if (!ds_port_name_ok(name, DS_PORT_SECRET_NAME_MAX) || (!buf && cap))
		return -EINVAL;
	dfd = open_secret_dir();
	if (dfd < 0)
		return dfd;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	rc = fd < 0 ? -errno : 0;
	close(dfd);
	if (rc)
		return rc;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 0 || st.st_size > DS_PORT_SECRET_MAX) {
		DS_LOG_ERR("secret '%s' is not a regular file of at most %d bytes", name,
			   DS_PORT_SECRET_MAX);
		rc = -EINVAL;
		goto out;
	}
	if (st.st_mode & 077) {
		DS_LOG_WRN("secret '%s' had mode %03o, setting 0600", name,
			   (unsigned)(st.st_mode & 0777));
		if (fchmod(fd, 0600) != 0) {
			rc = -errno;
			goto out;
		}
	}
	size = (size_t)st.st_size;
	if (size > cap) {
		rc = -ENOSPC;
		goto out;
	}
	/* Files only ever change by rename, so the size read by fstat() is the content's. */
	while (len < size) {
		ssize_t r = read(fd, p + len, size - len);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (!rc && len != size)
		rc = -EIO;
	if (rc && len)
		ds_memzero(p, len);
out:
	close(fd);
	return rc ? rc : (int)len;
}

int ds_port_secret_erase(const char *name)
{
	int dfd, rc = 0;

	if (!ds_port_name_ok(name, DS_PORT_SECRET_NAME_MAX))
		return -EINVAL;
	pthread_mutex_lock(&g_secret_lock);
	dfd = open_secret_dir();
	if (dfd < 0) {
		rc = dfd;
		goto out;
	}
	rc = unlink_at(dfd, name);
	if (!rc)
		rc = ds_port_file_sync(dfd);
	close(dfd);
out:
	pthread_mutex_unlock(&g_secret_lock);
	return rc;
}
