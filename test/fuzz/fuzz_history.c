/*
 * History records from a server (engine/history/history_engine.c's decoding and rules, then
 * history_places.c writing them into places.sqlite), as the core applies them: see
 * fuzz_engine.h for the input format and the checks. The store is the reference one on a
 * places.sqlite made from test/data/firefox/places.sql; each input is rolled back. The clock
 * is fixed (future visits are clamped to it).
 */
#include "test/fuzz/fuzz_common.h"
#include "test/fuzz/fuzz_engine.h"
#include "engine/history/ds_history.h"

static struct ds_engine *engine;

static int64_t fixed_now(void *ud)
{
	DS_UNUSED(ud);
	return 1767225600000; /* 2026-01-01 */
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct ds_history_options opt = { .now_ms = fixed_now };
	struct ds_history_store *store;
	char *path;

	DS_UNUSED(argc);
	DS_UNUSED(argv);
	fuzz_quiet();
	path = fuzz_engine_fixture("places.sql", "places.sqlite");
	if (ds_history_places_open(path, &store) || ds_history_engine_new(store, &opt, &engine) ||
	    engine->ops->prepare(engine))
		fuzz_fail("cannot open the history engine");
	ds_free(path);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_engine_run(engine, data, size);
	return 0;
}
