/*
 * ds_port_common.h - pieces shared by the posix and sim ports (both run on Linux): data paths,
 * sealed-secret files, getrandom() entropy, wake locks and small file helpers.
 * Private to port/; component/ sees only ds_port.h.
 */
#ifndef DS_PORT_COMMON_H
#define DS_PORT_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ds_port.h"

/* Take the paths of cfg (NULL members: Kconfig defaults) and create them 0700. */
int ds_port_paths_init(const struct ds_port_config *cfg);
void ds_port_paths_deinit(void);

/* mkdir -p with mode for every directory it creates; -ENOTDIR if a component is not one. */
int ds_port_mkdirs(const char *path, mode_t mode);

/*
 * Read a small text file (sysfs attribute) into buf as a C string with trailing white space
 * removed. Returns the length, -errno, or -EFBIG when it does not fit in cap - 1 bytes.
 * dirfd may be AT_FDCWD.
 */
int ds_port_read_text(int dirfd, const char *path, char *buf, size_t cap);

/* Secret and wake-lock names: 1..max bytes of [A-Za-z0-9._-], not starting with '.'. */
bool ds_port_name_ok(const char *name, size_t max);

/*
 * Wake locks: dir is where wake_lock / wake_unlock live (NULL or not writable: counted
 * no-ops). ds_port_wakelock_deinit() releases what is still held.
 */
int ds_port_wakelock_init(const char *dir);
void ds_port_wakelock_deinit(void);
/* Whether the OS files were found writable at init (diagnostics and tests). */
bool ds_port_wakelock_is_backed(void);

#endif /* DS_PORT_COMMON_H */
