/*
 * Form history records from a server (engine/forms/forms_engine.c's decoding and bounds, then
 * forms_formhistory.c writing them into formhistory.sqlite), as the core applies them: see
 * fuzz_engine.h for the input format and the checks. The store is the reference one on a
 * formhistory.sqlite made from test/data/firefox/formhistory.sql; each input is rolled back.
 */
#include "test/fuzz/fuzz_common.h"
#include "test/fuzz/fuzz_engine.h"
#include "engine/forms/ds_forms.h"

static struct ds_engine *engine;

static int64_t fixed_now(void *ud)
{
	DS_UNUSED(ud);
	return 1767225600000; /* 2026-01-01 */
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct ds_forms_store *store;
	char *path;

	DS_UNUSED(argc);
	DS_UNUSED(argv);
	fuzz_quiet();
	path = fuzz_engine_fixture("formhistory.sql", "formhistory.sqlite");
	if (ds_forms_formhistory_open(path, fixed_now, NULL, &store) ||
	    ds_forms_engine_new(store, &engine) || engine->ops->prepare(engine))
		fuzz_fail("cannot open the forms engine");
	ds_free(path);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_engine_run(engine, data, size);
	return 0;
}
