/*
 * ds_account_cmd.h - datasyncd's account commands on the control socket (docs/accounts.md):
 * login, login-verify, logout, and the "account" member of status. The network work runs on a
 * short-lived thread so the loop keeps answering; one account operation at a time.
 */
#ifndef DS_ACCOUNT_CMD_H
#define DS_ACCOUNT_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct cJSON;
struct ds_agent;
struct ds_ipc_server;

static inline bool ds_account_cmd_is(const char *cmd)
{
	return !strcmp(cmd, "login") || !strcmp(cmd, "login-verify") || !strcmp(cmd, "logout");
}

#ifdef CONFIG_DS_ACCOUNT
/* Handle one of the commands above: 0 after replying, 1 when the reply comes later. */
int ds_account_cmd_handle(struct ds_agent *a, struct ds_ipc_server *s, uint64_t conn, int64_t id,
			  const char *cmd, struct cJSON *req);
/* Add "account" ({state, email, uid, device_name, device_id, ...}: nothing secret) to status. */
void ds_account_cmd_status(struct ds_agent *a, struct cJSON *status);
/* The sealed session was erased outside the account commands (another device's "logout"
 * command, applied by a sync thread): any thread may call this; the state follows at the
 * next account command or status. */
void ds_account_cmd_signed_out_elsewhere(void);
#else
static inline int ds_account_cmd_handle(struct ds_agent *a, struct ds_ipc_server *s, uint64_t conn,
					int64_t id, const char *cmd, struct cJSON *req)
{
	(void)a, (void)s, (void)conn, (void)id, (void)cmd, (void)req;
	return -95; /* EOPNOTSUPP: the caller answers "not built in" */
}
static inline void ds_account_cmd_status(struct ds_agent *a, struct cJSON *status)
{
	(void)a, (void)status;
}
static inline void ds_account_cmd_signed_out_elsewhere(void)
{
}
#endif

#endif /* DS_ACCOUNT_CMD_H */
