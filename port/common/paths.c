/* Data, runtime and secret directories: from ds_port_config or the Kconfig defaults. */
#define DS_LOG_TAG "port"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_PORT
#include "core/ds_core.h"
#include "port/common/ds_port_common.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Set only by ds_port_init()/ds_port_deinit(), before and after the loop runs. */
static char *g_path[3];

static const char *default_path(enum ds_port_path which)
{
	switch (which) {
	case DS_PATH_DATA:
		return CONFIG_DS_DATA_DIR;
	case DS_PATH_RUN:
		return CONFIG_DS_RUN_DIR;
	case DS_PATH_SECRET:
		return CONFIG_DS_PORT_SECRET_DIR;
	}
	return CONFIG_DS_DATA_DIR;
}

const char *ds_port_path(enum ds_port_path which)
{
	if ((unsigned)which < DS_ARRAY_SIZE(g_path) && g_path[which])
		return g_path[which];
	return default_path(which);
}

int ds_port_mkdirs(const char *path, mode_t mode)
{
	struct stat st;
	char *p;
	size_t i, n;
	int rc = 0;

	if (!path || !*path)
		return -EINVAL;
	p = ds_strdup(path);
	if (!p)
		return -ENOMEM;
	n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	/* Walk the components left to right so every missing parent gets the same mode. */
	for (i = 1; i <= n && rc == 0; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, mode) != 0) {
			if (errno != EEXIST || stat(p, &st) != 0)
				rc = -errno;
			else if (!S_ISDIR(st.st_mode))
				rc = -ENOTDIR;
		}
		if (i < n)
			p[i] = '/';
	}
	ds_free(p);
	return rc;
}

void ds_port_paths_deinit(void)
{
	for (size_t i = 0; i < DS_ARRAY_SIZE(g_path); i++) {
		ds_free(g_path[i]);
		g_path[i] = NULL;
	}
}

int ds_port_paths_init(const struct ds_port_config *cfg)
{
	const char *want[3] = {
		cfg && cfg->data_dir ? cfg->data_dir : default_path(DS_PATH_DATA),
		cfg && cfg->run_dir ? cfg->run_dir : default_path(DS_PATH_RUN),
		cfg && cfg->secret_dir ? cfg->secret_dir : default_path(DS_PATH_SECRET),
	};
	int rc;

	ds_port_paths_deinit();
	for (size_t i = 0; i < DS_ARRAY_SIZE(g_path); i++) {
		if (!*want[i]) {
			DS_LOG_ERR("empty directory path in the port configuration");
			rc = -EINVAL;
			goto fail;
		}
		g_path[i] = ds_strdup(want[i]);
		if (!g_path[i]) {
			rc = -ENOMEM;
			goto fail;
		}
		rc = ds_port_mkdirs(g_path[i], 0700);
		if (rc) {
			DS_LOG_ERR("cannot create %s: %s", g_path[i], ds_strerror(rc));
			goto fail;
		}
	}
	return 0;
fail:
	ds_port_paths_deinit();
	return rc;
}

int ds_port_read_text(int dirfd, const char *path, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t r;
	int fd, rc;

	if (!buf || cap == 0)
		return -EINVAL;
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (len == cap) {
			close(fd);
			return -EFBIG;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			close(fd);
			return rc;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (len == cap)
		return -EFBIG;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' ' || buf[len - 1] == '\t' ||
			   buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	return (int)len;
}

bool ds_port_name_ok(const char *name, size_t max)
{
	size_t n;

	if (!name || name[0] == '\0' || name[0] == '.')
		return false;
	for (n = 0; name[n]; n++) {
		char c = name[n];

		if (n >= max)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}
