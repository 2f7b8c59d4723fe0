/*
 * fuzz_engine.h - records from a server applied to a browser engine (history, forms) over its
 * reference store on a fixture database, shared by fuzz_history.c and fuzz_forms.c.
 */
#ifndef DS_FUZZ_ENGINE_H
#define DS_FUZZ_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "sync/ds_sync.h"

/*
 * A fresh database file named name in the harness's scratch folder, made from the SQL fixture
 * test/data/firefox/<sql> of the source tree (found from this file's path). The path is
 * ds_malloc'd; aborts on failure.
 */
char *fuzz_engine_fixture(const char *sql, const char *name);

/*
 * Input: records separated by NUL bytes, each "<id>\n<payload>" (no newline, or nothing after
 * it: a tombstone). All are applied to e in one transaction that is rolled back at the end, so
 * every input starts from the fixture. Checks, per record:
 *  - apply never returns a positive value;
 *  - a refused record leaves the id's local state as it was (no partial write);
 *  - an accepted one reads back (get) as a JSON object whose "id" is the id, and applying what
 *    was read back gives the same record again (apply is idempotent, and the engine's own
 *    output is a record it accepts).
 */
void fuzz_engine_run(struct ds_engine *e, const uint8_t *data, size_t size);

#endif /* DS_FUZZ_ENGINE_H */
