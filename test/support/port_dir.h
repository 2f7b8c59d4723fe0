/* port_dir.h - the port initialised on a temp folder for unit tests (test/support/). */
#ifndef DS_TEST_PORT_DIR_H
#define DS_TEST_PORT_DIR_H

#include <stddef.h>

/* A new folder base (DS_TEST_TMP/<tag>-<pid>, else P_tmpdir/ds-<tag>-XXXXXX) and ds_port_init()
 * with its data/, run/ and secrets/. 0, or -1 when the folder cannot be made, or the port's
 * error (for a cmocka group setup). */
int ds_test_port_dir_setup(char *base, size_t n, const char *tag);
/* ds_port_deinit() and the folder removed with all in it. */
void ds_test_port_dir_teardown(const char *base);

#endif
