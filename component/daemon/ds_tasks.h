/*
 * ds_tasks.h - app tasks on the control socket (tasks.c), after Firefox OS RequestSync: an app
 * registers a task (a minimum interval of at least 100 s, one-shot or periodic, Wi-Fi only or
 * not), the scheduler decides when it is due like any collection, and the app is woken through
 * a "task-wait" request it keeps open; it answers "task-done" within its slot (120 s).
 * docs/ipc.md has the commands, docs/scheduler.md the rules.
 */
#ifndef DS_TASKS_H
#define DS_TASKS_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "sched/ds_sched.h"

struct cJSON;
struct ds_agent;
struct ds_ipc_server;

#ifdef CONFIG_DS_APP_TASKS
static inline bool ds_tasks_cmd_is(const char *cmd)
{
	return !strncmp(cmd, "task-", 5);
}

/* task-register, task-unregister, task-list, task-wait, task-done: 0 after replying, 1 later. */
int ds_tasks_cmd_handle(struct ds_agent *a, struct ds_ipc_server *s, uint64_t conn, int64_t id, const char *cmd,
			struct cJSON *req);

/* Load the registered tasks from the store into the scheduler (at start, after it exists). */
int ds_agent_tasks_start(struct ds_agent *a);
void ds_agent_tasks_stop(struct ds_agent *a);
/* The scheduler put the task named sched_name ("app/task") in a batch: wake its app. */
void ds_agent_tasks_due(struct ds_agent *a, const char *sched_name, enum ds_sched_reason why);
/* End the slots that ran out (after the sim board's clock jumped ahead). */
void ds_agent_tasks_catch_up(struct ds_agent *a);
/* The configuration changed (SIGHUP): tasks take its battery threshold. */
void ds_agent_tasks_reapply(struct ds_agent *a);
/* How many tasks are registered, waiting apps, and tasks running now, for status. */
void ds_agent_tasks_counts(const struct ds_agent *a, unsigned *tasks, unsigned *waiting, unsigned *active);

#else
/* Without CONFIG_DS_APP_TASKS no task is ever registered: nothing to load, wake or count, and
 * the task-* commands are unknown ones. */
static inline bool ds_tasks_cmd_is(const char *cmd)
{
	(void)cmd;
	return false;
}
static inline int ds_tasks_cmd_handle(struct ds_agent *a, struct ds_ipc_server *s, uint64_t conn, int64_t id,
				      const char *cmd, struct cJSON *req)
{
	(void)a, (void)s, (void)conn, (void)id, (void)cmd, (void)req;
	return -ENOTSUP;
}
static inline int ds_agent_tasks_start(struct ds_agent *a)
{
	(void)a;
	return 0;
}
static inline void ds_agent_tasks_stop(struct ds_agent *a)
{
	(void)a;
}
static inline void ds_agent_tasks_due(struct ds_agent *a, const char *sched_name, enum ds_sched_reason why)
{
	(void)a, (void)sched_name, (void)why;
}
static inline void ds_agent_tasks_catch_up(struct ds_agent *a)
{
	(void)a;
}
static inline void ds_agent_tasks_reapply(struct ds_agent *a)
{
	(void)a;
}
static inline void ds_agent_tasks_counts(const struct ds_agent *a, unsigned *tasks, unsigned *waiting,
					 unsigned *active)
{
	(void)a;
	*tasks = *waiting = *active = 0;
}
#endif

#endif /* DS_TASKS_H */
