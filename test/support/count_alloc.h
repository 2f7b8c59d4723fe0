/*
 * count_alloc.h - an allocator for ds_set_allocator() (CONFIG_DS_ALLOC_HOOK) that counts the
 * bytes live and their peak, for tests bounding what a run holds (test/support/).
 */
#ifndef DS_TEST_COUNT_ALLOC_H
#define DS_TEST_COUNT_ALLOC_H

#include <stddef.h>

#include "core/ds_core.h"

extern const struct ds_allocator ds_count_allocator;

/* Bytes allocated through it and not yet freed; the most there were since the last mark. */
size_t ds_count_live(void);
size_t ds_count_peak(void);
/* The peak starts again from what is live now. */
void ds_count_mark(void);

#endif
