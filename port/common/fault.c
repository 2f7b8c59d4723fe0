/*
 * File fault injection for torture tests (ds_port.h, "fault injection"): counters per kind of
 * operation and the point from which they fail. Atomic, because the daemon's worker thread and
 * the loop thread both write files; a test arms it while nothing runs.
 */
#include "core/ds_core.h"
#include "ds_port.h"

#include <stdatomic.h>

static atomic_ulong g_seen[DS_PORT_FAULT_KINDS];
static atomic_ulong g_fail_at[DS_PORT_FAULT_KINDS]; /* 0: never */
static atomic_int g_err[DS_PORT_FAULT_KINDS];

unsigned long ds_port_fault_after(enum ds_port_fault kind, unsigned long n, int err)
{
	if ((unsigned)kind >= DS_PORT_FAULT_KINDS)
		return 0;
	atomic_store(&g_err[kind], err > 0 ? err : EIO);
	atomic_store(&g_fail_at[kind], n);
	return atomic_exchange(&g_seen[kind], 0);
}

int ds_port_fault_hit(enum ds_port_fault kind)
{
	unsigned long seen, at;

	if ((unsigned)kind >= DS_PORT_FAULT_KINDS)
		return 0;
	seen = atomic_fetch_add(&g_seen[kind], 1) + 1;
	at = atomic_load(&g_fail_at[kind]);
	return at && seen >= at ? -atomic_load(&g_err[kind]) : 0;
}
