/*
 * The dir remote's folder header, datasync-dir.json (dir_folder.c), as any device or person
 * with the folder may have written it: read from a real file through ds_dir_header_read(), so
 * the size cap of the reader (dir_fs.c) is part of what is fuzzed.
 *
 * Once per process it also checks that a FIFO planted under the header's name (anyone who can
 * write to a shared folder can make one) is refused instead of blocking the reader forever:
 * SIGALRM ends the process if the read hangs.
 */
#include "test/fuzz/fuzz_common.h"
#include "remote/dir/dir_priv.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_root[4096];
static char g_file[4200];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = fuzz_tmpdir();

	DS_UNUSED(argc);
	DS_UNUSED(argv);
	fuzz_quiet();
	if (!tmp)
		fuzz_fail("no scratch folder");
	snprintf(g_root, sizeof(g_root), "%s/folder", tmp);
	if (ds_dir_fs_mkdir(g_root))
		fuzz_fail("mkdir");
	snprintf(g_file, sizeof(g_file), "%s/%s", g_root, DS_DIR_HEADER_NAME);
	if (mkfifo(g_file, 0600) == 0) {
		struct ds_dir_header h;

		alarm(5);
		if (ds_dir_header_read(g_root, &h) == 0)
			fuzz_fail("a FIFO was read as a folder header");
		alarm(0);
		unlink(g_file);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ds_dir_header h;
	FILE *f = fopen(g_file, "wb");
	int rc;

	if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f))
		fuzz_fail("cannot write the header file");
	rc = ds_dir_header_read(g_root, &h);
	if (rc == 0) {
		if (strlen(h.epoch) != 2 * DS_DIR_FOLDER_EPOCH_LEN ||
		    strspn(h.epoch, "0123456789abcdef") != 2 * DS_DIR_FOLDER_EPOCH_LEN)
			fuzz_fail("accepted header has a malformed epoch");
		if (h.encrypted && (h.iterations < 1 || h.iterations > 100000000u))
			fuzz_fail("accepted header has an unbounded work factor");
	} else if (rc != -EILSEQ && rc != -ENOTSUP && rc != -ENOMEM) {
		fuzz_fail("ds_dir_header_read: unexpected return");
	}
	return 0;
}
