/*
 * datasyncd's configuration file (conf.c). Not server-controlled, but it is text from outside
 * the program, and a bad file must be refused whole with a message, never half-applied.
 */
#include "test/fuzz/fuzz_common.h"
#include "core/ds_conf.h"

#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	DS_UNUSED(argc);
	DS_UNUSED(argv);
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ds_conf conf, before;
	char err[256];
	char *text = fuzz_strndup(data, size);
	char *sock;
	int rc;

	if (ds_conf_init(&conf) || ds_conf_init(&before))
		fuzz_fail("ds_conf_init");
	rc = ds_conf_parse(&conf, "fuzz.conf", text, err, sizeof(err));
	if (rc == -EINVAL) {
		/* Refused whole: the values are the ones before the parse, and there is a message. */
		if (!err[0] || strcmp(conf.data_dir, before.data_dir) != 0 ||
		    conf.sync_interval_s != before.sync_interval_s ||
		    conf.log_level != before.log_level)
			fuzz_fail("a refused file changed the configuration or gave no message");
	} else if (rc == 0) {
		if (conf.log_level < 0 || conf.log_level > 4 || conf.sync_interval_s < 0 ||
		    conf.min_battery_pct < 0 || conf.min_battery_pct > 100)
			fuzz_fail("an accepted file set an out-of-range value");
		if (ds_conf_make_absolute(&conf, "/base") == 0) {
			sock = ds_conf_socket_path(&conf);
			ds_free(sock);
		}
	} else if (rc != -ENOMEM) {
		fuzz_fail("ds_conf_parse: unexpected return");
	}
	ds_conf_free(&conf);
	ds_conf_free(&before);
	ds_free(text);
	return 0;
}
