/*
 * Client records (engine/clients/clients_record.c): another device's record read for the UI,
 * its commands classified, and our own record built with the commands that would be kept.
 * Checks: a parsed record has a string id and a known type or null; our record reads back with
 * exactly the kept commands.
 */
#include "test/fuzz/fuzz_common.h"
#include "engine/clients/ds_clients.h"
#include "remote/sync15/ds_sync15.h"

#include <cjson/cJSON.h>
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
	struct ds_sync15_device d = { .id = "0123456789abcdef", .name = "TV", .type = "tv" };
	char *text = fuzz_strndup(data, size), *own = NULL;
	cJSON *in = cJSON_Parse(text), *parsed = NULL, *kept = cJSON_CreateArray(), *back;
	const cJSON *cmd, *cmds = cJSON_GetObjectItemCaseSensitive(in, "commands"), *type;

	if (!kept)
		fuzz_fail("out of memory");
	if (ds_clients_record_parse(text, &parsed) == 0) {
		type = cJSON_GetObjectItemCaseSensitive(parsed, "type");
		if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(parsed, "id")) ||
		    !(cJSON_IsNull(type) || (cJSON_IsString(type) && ds_clients_type(type->valuestring))))
			fuzz_fail("parsed client record malformed");
		cJSON_Delete(parsed);
	}
	cmds = cJSON_IsArray(cmds) ? cmds : NULL;
	cJSON_ArrayForEach(cmd, cmds)
		if (ds_clients_command_kind(cmd) == DS_CLIENTS_CMD_UNKNOWN)
			cJSON_AddItemToArray(kept, cJSON_Duplicate(cmd, true));
	if (ds_clients_own_record(&d, kept, &own) == 0) {
		char *want = cJSON_PrintUnformatted(kept), *got;

		back = cJSON_Parse(own);
		got = back ? cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(back, "commands")) : NULL;
		/* Compared as text: cJSON_Compare never finds an object with a repeated key equal. */
		if (!want || !got || strcmp(want, got))
			fuzz_fail("our record does not carry the kept commands");
		cJSON_free(want);
		cJSON_free(got);
		cJSON_Delete(back);
		ds_free(own);
	}
	cJSON_Delete(kept);
	cJSON_Delete(in);
	ds_free(text);
	return 0;
}
