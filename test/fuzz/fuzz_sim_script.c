/*
 * The sim port's event scripts (port/sim/script.c, format in port/sim/README.md): files a test
 * or a person writes, parsed line by line with every error reported as "name:line: message".
 */
#include "test/fuzz/fuzz_common.h"
#include "port/sim/ds_sim.h"

#include <string.h>

static const char *const wifi[] = { "wlan", NULL };
static const char *const cell[] = { "rmnet", "wwan", NULL };
static const struct ds_board g_board = {
	.name = "fuzz",
	.has_battery = true,
	.cellular_ifnames = cell,
	.wifi_ifnames = wifi,
	.low_battery_pct = 15,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	DS_UNUSED(argc);
	DS_UNUSED(argv);
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ds_sim_script s;
	char err[128];
	int64_t ms;
	char *tok;
	int rc;

	/* The text is not NUL-terminated: the parser must respect len. */
	rc = ds_sim_script_parse((const char *)data, size, "fuzz.script", &g_board, &s, err,
				 sizeof(err));
	if (rc == 0) {
		for (size_t i = 0; i < s.n; i++)
			if (s.ev[i].at_ms < 0 || (i && s.ev[i].at_ms < s.ev[i - 1].at_ms))
				fuzz_fail("accepted script has times going back");
		ds_sim_script_free(&s);
	} else if (rc == -EINVAL) {
		if (!err[0] || s.n || s.ev)
			fuzz_fail("refused script without message, or not left empty");
	} else if (rc != -ENOMEM) {
		fuzz_fail("ds_sim_script_parse: unexpected return");
	}
	tok = fuzz_strndup(data, size < 64 ? size : 64);
	rc = ds_sim_parse_time(tok, &ms);
	if (rc == 0 && ms < 0)
		fuzz_fail("ds_sim_parse_time: negative time");
	ds_free(tok);
	return 0;
}
