/* The port on a temp folder (port_dir.h). */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ds_core.h"
#include "ds_port.h"
#include "test/support/port_dir.h"

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	DS_UNUSED(sb);
	DS_UNUSED(flag);
	DS_UNUSED(ftw);
	return remove(p);
}

int ds_test_port_dir_setup(char *base, size_t n, const char *tag)
{
	const char *t = getenv("DS_TEST_TMP");
	char secrets[600], data[600], run[600];

	if (t && *t) {
		snprintf(base, n, "%s/%s-%d", t, tag, (int)getpid());
		if (mkdir(base, 0700) != 0)
			return -1;
	} else {
		snprintf(base, n, "%s/ds-%s-XXXXXX", P_tmpdir, tag);
		if (!mkdtemp(base))
			return -1;
	}
	snprintf(secrets, sizeof(secrets), "%s/secrets", base);
	snprintf(data, sizeof(data), "%s/data", base);
	snprintf(run, sizeof(run), "%s/run", base);
	return ds_port_init(&(struct ds_port_config){ .data_dir = data, .run_dir = run,
						      .secret_dir = secrets });
}

void ds_test_port_dir_teardown(const char *base)
{
	ds_port_deinit();
	nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
