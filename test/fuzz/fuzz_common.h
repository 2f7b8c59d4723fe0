/*
 * fuzz_common.h - shared by the libFuzzer harnesses of test/fuzz/ (docs/fuzzing.md).
 *
 * Harnesses are quiet (the product's log lines would cost more than the parsing) unless
 * FUZZ_VERBOSE is set, and get a private scratch folder when they need files.
 */
#ifndef DS_FUZZ_COMMON_H
#define DS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "core/ds_core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Silence the product's logging unless FUZZ_VERBOSE is set. */
void fuzz_quiet(void);
/* A fresh folder under DS_TEST_TMP (else TMPDIR, else the system's), made once per process;
 * NULL on failure. */
const char *fuzz_tmpdir(void);
/* A NUL-terminated copy of data (ds_malloc'd); aborts when out of memory. */
char *fuzz_strndup(const uint8_t *data, size_t size);
/* With FUZZ_VERBOSE set: print what a step returned (to check that seeds reach deep). */
void fuzz_note(const char *step, int rc);
/* Abort with a message: an invariant the harness checks does not hold (a finding). */
void fuzz_fail(const char *what) __attribute__((noreturn));

#endif /* DS_FUZZ_COMMON_H */
