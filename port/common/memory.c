/*
 * Allocator settings and trimming for the daemon (ds_port.h, "memory"). glibc keeps freed memory
 * in its arenas, one per thread that allocated by default: after a sync run the worker
 * thread's arena holds pages nobody uses until the next run, often hours later. One arena and a
 * trim after each job give them back (docs/performance.md, "Idle memory of the daemon").
 * Other C libraries (musl, bionic) return memory by themselves or have no such call.
 */
#include "core/ds_core.h"
#include "ds_port.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void ds_port_memory_tune(void)
{
#if defined(__GLIBC__)
	mallopt(M_ARENA_MAX, 1);
#endif
}

void ds_port_memory_trim(void)
{
#if defined(__GLIBC__)
	malloc_trim(0);
#endif
}
