/*
 * ds_browser_cmd.h - the browser's requests on the control socket (browser_cmd.c): the open
 * tabs it reports, the other devices' tabs and clients, "tab received" events (docs/ipc.md),
 * and the hooks through which commands from other devices reach the daemon's collections
 * (docs/engine-clients.md).
 */
#ifndef DS_BROWSER_CMD_H
#define DS_BROWSER_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct cJSON;
struct ds_agent;
struct ds_ipc_server;

static inline bool ds_browser_cmd_is(const char *cmd)
{
	return !strcmp(cmd, "tabs-set") || !strcmp(cmd, "tabs-list") || !strcmp(cmd, "clients-list") ||
	       !strcmp(cmd, "clients-send") || !strcmp(cmd, "events");
}

/* tabs-set, tabs-list, clients-list, clients-send, events: 0 after replying. */
int ds_browser_cmd_handle(struct ds_agent *a, struct ds_ipc_server *s, uint64_t conn, int64_t id,
			  const char *cmd, struct cJSON *req);

/* Install the clients engine's hooks for this agent (once; later calls do nothing). */
void ds_browser_cmd_attach(struct ds_agent *a);

#endif /* DS_BROWSER_CMD_H */
