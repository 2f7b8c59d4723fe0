/*
 * ds_sim_cmd.h - the sim board's clock control on the control socket (sim_cmd.c):
 * {"cmd":"sim-advance","ms":N} (or "by":"10m") jumps the virtual clock ahead, delivers the
 * scripted port events that fall due, then lets the scheduler, the local-change timer and the
 * app tasks' slots catch up, and answers with the new virtual time. Integration tests use it
 * to play minutes or hours of a day in a moment. Other boards have no such command.
 */
#ifndef DS_SIM_CMD_H
#define DS_SIM_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct cJSON;
struct ds_agent;
struct ds_ipc_server;

static inline bool ds_sim_cmd_is(const char *cmd)
{
	return !strcmp(cmd, "sim-advance");
}

#ifdef CONFIG_DS_PORT_SIM
/* 0 after replying (an error), 1: the reply comes once the events are applied. */
int ds_sim_cmd_handle(struct ds_agent *a, struct ds_ipc_server *s, uint64_t conn, int64_t id, const char *cmd,
		      struct cJSON *req);
#else
static inline int ds_sim_cmd_handle(struct ds_agent *a, struct ds_ipc_server *s, uint64_t conn, int64_t id,
				    const char *cmd, struct cJSON *req)
{
	(void)a, (void)s, (void)conn, (void)id, (void)cmd, (void)req;
	return -95; /* EOPNOTSUPP: the caller answers "not on this board" */
}
#endif

#endif /* DS_SIM_CMD_H */
