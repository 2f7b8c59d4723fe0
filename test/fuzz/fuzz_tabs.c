/*
 * Tab records (engine/tabs/tabs_record.c): another device's record read for the UI, the
 * browser's list normalised, and our record built from it within a payload budget. Checks:
 * every result is JSON that reads back, the record stays within its budget, the tabs kept are
 * newest first with at most 5 syncable history entries and titles of at most 512 bytes.
 */
#include "test/fuzz/fuzz_common.h"
#include "engine/tabs/ds_tabs.h"

#include <cjson/cJSON.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	DS_UNUSED(argc);
	DS_UNUSED(argv);
	fuzz_quiet();
	return 0;
}

static void check_tabs(const cJSON *tabs)
{
	const cJSON *t, *u;
	double prev = 1e300;

	cJSON_ArrayForEach(t, tabs) {
		const cJSON *h = cJSON_GetObjectItemCaseSensitive(t, "urlHistory");
		const cJSON *title = cJSON_GetObjectItemCaseSensitive(t, "title");
		double lu = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "lastUsed"));
		int n = 0;

		if (!cJSON_IsString(title) || strlen(title->valuestring) > DS_TABS_TITLE_MAX)
			fuzz_fail("a title over 512 bytes");
		if (lu > prev)
			fuzz_fail("tabs not newest first");
		prev = lu;
		cJSON_ArrayForEach(u, h) {
			if (!cJSON_IsString(u) || !ds_tabs_url_syncable(u->valuestring))
				fuzz_fail("an unsyncable URL kept");
			n++;
		}
		if (n == 0 || n > DS_TABS_HISTORY_MAX)
			fuzz_fail("urlHistory out of bounds");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size), *rec = NULL;
	cJSON *in = cJSON_Parse(text), *parsed = NULL, *norm = NULL, *back;
	size_t budget = 64 + size % 4096, kept = 0;

	if (ds_tabs_record_parse(text, &parsed) == 0) {
		if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(parsed, "tabs")))
			fuzz_fail("parsed record without tabs");
		cJSON_Delete(parsed);
	}
	if (in && ds_tabs_normalize(in, &norm, NULL, 0) == 0) {
		check_tabs(norm);
		if (ds_tabs_record_build("id", "name", norm, budget, &rec, &kept) == 0) {
			if (strlen(rec) > budget && kept > 0)
				fuzz_fail("record over its budget");
			back = cJSON_Parse(rec);
			if (!back || (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(back, "tabs")) != kept)
				fuzz_fail("built record does not read back");
			cJSON_Delete(back);
			ds_free(rec);
		}
		cJSON_Delete(norm);
	}
	cJSON_Delete(in);
	ds_free(text);
	return 0;
}
