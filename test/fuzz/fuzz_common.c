/* Helpers shared by the fuzz harnesses (see fuzz_common.h). */
#include "test/fuzz/fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void fuzz_quiet(void)
{
	if (!getenv("FUZZ_VERBOSE"))
		ds_log_set_max_level(DS_LOG_NONE);
}

const char *fuzz_tmpdir(void)
{
	static char path[4096];
	const char *base;

	if (path[0])
		return path;
	base = getenv("DS_TEST_TMP");
	if (!base || !*base)
		base = getenv("TMPDIR");
	if (!base || !*base)
		base = P_tmpdir;
	snprintf(path, sizeof(path), "%s/ds-fuzz-XXXXXX", base);
	if (!mkdtemp(path)) {
		path[0] = '\0';
		return NULL;
	}
	return path;
}

char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = ds_malloc(size + 1);

	if (!s)
		fuzz_fail("out of memory in the harness");
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

void fuzz_note(const char *step, int rc)
{
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz: %s -> %d\n", step, rc);
}

void fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz invariant violated: %s\n", what);
	abort();
}
