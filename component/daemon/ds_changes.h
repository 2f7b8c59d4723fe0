/*
 * ds_changes.h - datasyncd's local-change detection (changes.c): a timer reads each enabled
 * table collection's change log (engine/table/ds_table_pending.h) and feeds what is new to the
 * scheduler as change scores (docs/scheduler.md, "Local changes in datasyncd").
 *
 * Without the table engine there is nothing to watch and these do nothing.
 */
#ifndef DS_CHANGES_H
#define DS_CHANGES_H

#include <stdbool.h>
#include <stddef.h>

struct cJSON;
struct ds_agent;

#ifdef CONFIG_DS_ENGINE_TABLE
/* Watch the enabled table collections of the store (again): after every scheduler reload. */
void ds_agent_changes_reload(struct ds_agent *a);
void ds_agent_changes_stop(struct ds_agent *a);
/* The device went idle (screen off) or active: the polling period follows. */
void ds_agent_changes_idle(struct ds_agent *a, bool idle);
/* Poll now if the period has passed (after the sim board's clock jumped ahead). */
void ds_agent_changes_catch_up(struct ds_agent *a);
/* {"poll_s", "watched", "polls", "changes", "next_in_ms"} for the scheduler's status. */
struct cJSON *ds_agent_changes_json(struct ds_agent *a);
#else
static inline void ds_agent_changes_reload(struct ds_agent *a)
{
	(void)a;
}
static inline void ds_agent_changes_stop(struct ds_agent *a)
{
	(void)a;
}
static inline void ds_agent_changes_idle(struct ds_agent *a, bool idle)
{
	(void)a, (void)idle;
}
static inline void ds_agent_changes_catch_up(struct ds_agent *a)
{
	(void)a;
}
static inline struct cJSON *ds_agent_changes_json(struct ds_agent *a)
{
	(void)a;
	return NULL;
}
#endif

#endif /* DS_CHANGES_H */
