/*
 * Wake locks with counting. On Linux the userspace wake lock interface is two files,
 * /sys/power/wake_lock and /sys/power/wake_unlock, taking a lock name (Android kernels and
 * mainline with CONFIG_PM_WAKELOCKS, Documentation/ABI/testing/sysfs-power). Elsewhere, and on
 * the sim port, the counts are kept but nothing is written: a desktop or TV without
 * autosleep does not suspend under a running daemon anyway.
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
#include <unistd.h>

#define WAKELOCK_NAME_MAX 64
/* Kernel lock names carry our prefix so they cannot clash with another service's. */
#define WAKELOCK_PREFIX "datasync."

struct wakelock {
	char name[WAKELOCK_NAME_MAX + 1];
	int count;
};

static pthread_mutex_t g_wl_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wakelock *g_wl;
static size_t g_wl_n, g_wl_cap;
static char *g_wl_lock_path, *g_wl_unlock_path;

static int write_name(const char *path, const char *name)
{
	char line[sizeof(WAKELOCK_PREFIX) + WAKELOCK_NAME_MAX + 2];
	int fd, n, rc = 0;

	if (!path)
		return 0;
	n = snprintf(line, sizeof(line), WAKELOCK_PREFIX "%s\n", name);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	while (write(fd, line, (size_t)n) != n) {
		if (errno != EINTR) {
			rc = errno ? -errno : -EIO;
			break;
		}
	}
	close(fd);
	return rc;
}

static struct wakelock *find(const char *name)
{
	for (size_t i = 0; i < g_wl_n; i++)
		if (strcmp(g_wl[i].name, name) == 0)
			return &g_wl[i];
	return NULL;
}

int ds_port_wake_lock(const char *name)
{
	struct wakelock *w;
	int rc = 0;

	if (!ds_port_name_ok(name, WAKELOCK_NAME_MAX))
		return -EINVAL;
	pthread_mutex_lock(&g_wl_lock);
	w = find(name);
	if (w) {
		w->count++;
		goto out;
	}
	if (g_wl_n == g_wl_cap) {
		size_t cap = g_wl_cap ? g_wl_cap * 2 : 4;
		struct wakelock *n = ds_realloc(g_wl, cap * sizeof(*n));

		if (!n) {
			rc = -ENOMEM;
			goto out;
		}
		g_wl = n;
		g_wl_cap = cap;
	}
	rc = write_name(g_wl_lock_path, name);
	if (rc) {
		DS_LOG_ERR("wake lock %s: %s", name, ds_strerror(rc));
		goto out;
	}
	w = &g_wl[g_wl_n++];
	strcpy(w->name, name); /* ds_port_name_ok() held it to WAKELOCK_NAME_MAX */
	w->count = 1;
out:
	pthread_mutex_unlock(&g_wl_lock);
	return rc;
}

int ds_port_wake_unlock(const char *name)
{
	struct wakelock *w;
	int rc = 0;

	if (!ds_port_name_ok(name, WAKELOCK_NAME_MAX))
		return -EINVAL;
	pthread_mutex_lock(&g_wl_lock);
	w = find(name);
	if (!w) {
		rc = -ENOENT;
		goto out;
	}
	if (--w->count > 0)
		goto out;
	/* Forget the lock even if the kernel refuses: it then has no such lock either. */
	rc = write_name(g_wl_unlock_path, name);
	if (rc)
		DS_LOG_WRN("wake unlock %s: %s", name, ds_strerror(rc));
	*w = g_wl[--g_wl_n];
out:
	pthread_mutex_unlock(&g_wl_lock);
	return rc;
}

int ds_port_wake_lock_count(const char *name)
{
	struct wakelock *w;
	int n;

	if (!name)
		return 0;
	pthread_mutex_lock(&g_wl_lock);
	w = find(name);
	n = w ? w->count : 0;
	pthread_mutex_unlock(&g_wl_lock);
	return n;
}

static void release_all_locked(void)
{
	for (size_t i = 0; i < g_wl_n; i++)
		write_name(g_wl_unlock_path, g_wl[i].name);
	ds_free(g_wl);
	g_wl = NULL;
	g_wl_n = g_wl_cap = 0;
	ds_free(g_wl_lock_path);
	ds_free(g_wl_unlock_path);
	g_wl_lock_path = g_wl_unlock_path = NULL;
}

void ds_port_wakelock_deinit(void)
{
	pthread_mutex_lock(&g_wl_lock);
	release_all_locked();
	pthread_mutex_unlock(&g_wl_lock);
}

bool ds_port_wakelock_is_backed(void)
{
	bool backed;

	pthread_mutex_lock(&g_wl_lock);
	backed = g_wl_lock_path != NULL;
	pthread_mutex_unlock(&g_wl_lock);
	return backed;
}

int ds_port_wakelock_init(const char *dir)
{
	char *lp = NULL, *up = NULL;
	int rc = 0;

	if (dir) {
		lp = ds_asprintf("%s/wake_lock", dir);
		up = ds_asprintf("%s/wake_unlock", dir);
		if (!lp || !up) {
			rc = -ENOMEM;
		} else if (access(lp, W_OK) != 0 || access(up, W_OK) != 0) {
			DS_LOG_DBG("no writable wake lock files in %s: counting only", dir);
			ds_free(lp);
			ds_free(up);
			lp = up = NULL;
		}
	}
	pthread_mutex_lock(&g_wl_lock);
	release_all_locked();
	if (!rc) {
		g_wl_lock_path = lp;
		g_wl_unlock_path = up;
	}
	pthread_mutex_unlock(&g_wl_lock);
	if (rc) {
		ds_free(lp);
		ds_free(up);
	}
	return rc;
}
