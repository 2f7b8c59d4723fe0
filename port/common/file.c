/*
 * The port's file operations (ds_port.h, "files") over the C library, for both Linux ports.
 * Each one asks the fault hook before touching storage, so a torture test can fail the Nth
 * write, sync, rename, creation or removal without interposing libc; on product boards
 * ds_port_fault_check() is a constant 0 and each function is the system call and its errno.
 */
#include "core/ds_core.h"
#include "ds_port.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int ds_port_file_open(const char *path, int flags, unsigned int mode)
{
	int fd;

	if (flags & O_CREAT) {
		int rc = ds_port_fault_check(DS_PORT_FAULT_CREATE);

		if (rc)
			return rc;
	}
	do
		fd = open(path, flags, (mode_t)mode);
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : fd;
}

int ds_port_file_write(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	int rc = ds_port_fault_check(DS_PORT_FAULT_WRITE);

	if (rc)
		return rc;
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int ds_port_file_pwrite(int fd, const void *buf, size_t len, int64_t off)
{
	const unsigned char *p = buf;
	int rc = ds_port_fault_check(DS_PORT_FAULT_WRITE);

	if (rc)
		return rc;
	if (off < 0)
		return -EINVAL;
	while (len) {
		ssize_t w = pwrite(fd, p, len, (off_t)off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		off += w;
		len -= (size_t)w;
	}
	return 0;
}

int ds_port_file_truncate(int fd, int64_t len)
{
	int rc = ds_port_fault_check(DS_PORT_FAULT_WRITE);

	if (rc)
		return rc;
	if (len < 0)
		return -EINVAL;
	while ((rc = ftruncate(fd, (off_t)len)) < 0 && errno == EINTR)
		;
	return rc < 0 ? -errno : 0;
}

int ds_port_file_sync(int fd)
{
	int rc = ds_port_fault_check(DS_PORT_FAULT_SYNC);

	if (rc)
		return rc;
	while ((rc = fsync(fd)) < 0 && errno == EINTR)
		;
	return rc < 0 ? -errno : 0;
}

int ds_port_file_datasync(int fd)
{
	int rc = ds_port_fault_check(DS_PORT_FAULT_SYNC);

	if (rc)
		return rc;
	while ((rc = fdatasync(fd)) < 0 && errno == EINTR)
		;
	return rc < 0 ? -errno : 0;
}

int ds_port_dir_sync(const char *path)
{
	int fd, rc;

	do
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -errno;
	rc = ds_port_file_sync(fd);
	close(fd);
	return rc == -EINVAL || rc == -ENOTSUP ? 0 : rc;
}

int ds_port_file_close(int fd)
{
	/* POSIX leaves the descriptor's state unspecified after EINTR; Linux has released it, so
	 * retrying could close a descriptor another thread just got. */
	if (close(fd) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

int ds_port_file_rename(const char *from, const char *to)
{
	int rc = ds_port_fault_check(DS_PORT_FAULT_RENAME);

	if (rc)
		return rc;
	do
		rc = rename(from, to) < 0 ? -errno : 0;
	while (rc == -EINTR);
	return rc;
}

int ds_port_file_link(const char *from, const char *to)
{
	int rc = ds_port_fault_check(DS_PORT_FAULT_RENAME);

	if (rc)
		return rc;
	do
		rc = link(from, to) < 0 ? -errno : 0;
	while (rc == -EINTR);
	return rc;
}

int ds_port_file_unlink(const char *path)
{
	int rc = ds_port_fault_check(DS_PORT_FAULT_REMOVE);

	if (rc)
		return rc;
	do
		rc = unlink(path) < 0 ? -errno : 0;
	while (rc == -EINTR);
	return rc;
}

int ds_port_file_rmdir(const char *path)
{
	int rc = ds_port_fault_check(DS_PORT_FAULT_REMOVE);

	if (rc)
		return rc;
	do
		rc = rmdir(path) < 0 ? -errno : 0;
	while (rc == -EINTR);
	return rc;
}

int ds_port_file_mkdir(const char *path, unsigned int mode)
{
	int rc = ds_port_fault_check(DS_PORT_FAULT_CREATE);

	if (rc)
		return rc;
	do
		rc = mkdir(path, (mode_t)mode) < 0 ? -errno : 0;
	while (rc == -EINTR);
	return rc;
}
