/* datasyncctl's account commands: login [EMAIL] [--code CODE], logout; the status line. */
#ifndef DS_CTL_ACCOUNT_H
#define DS_CTL_ACCOUNT_H

#include <stdbool.h>
#include <string.h>

struct cJSON;
struct ds_client;

struct ds_ctl_account_opts {
	const char *email;
	const char *code;
	bool json;
};

static inline bool ds_ctl_is_account_cmd(const char *cmd)
{
	return !strcmp(cmd, "login") || !strcmp(cmd, "logout");
}

#ifdef CONFIG_DS_ACCOUNT
/* Parse the arguments after the command: 0, or 2 (usage) after printing why. */
int ds_ctl_account_parse(const char *cmd, int argc, char **argv, struct ds_ctl_account_opts *o);
/* Run it on an open connection; returns the exit status (docs/daemon.md). */
int ds_ctl_account_run(struct ds_client *c, const char *cmd, const struct ds_ctl_account_opts *o, bool json);
/* The "account" part of a status reply, for people. */
void ds_ctl_print_account(const struct cJSON *status);
#else
static inline int ds_ctl_account_parse(const char *cmd, int argc, char **argv, struct ds_ctl_account_opts *o)
{
	(void)cmd, (void)argc, (void)argv, (void)o;
	return 2;
}
static inline int ds_ctl_account_run(struct ds_client *c, const char *cmd, const struct ds_ctl_account_opts *o,
				     bool json)
{
	(void)c, (void)cmd, (void)o, (void)json;
	return 2;
}
static inline void ds_ctl_print_account(const struct cJSON *status)
{
	(void)status;
}
#endif

#endif /* DS_CTL_ACCOUNT_H */
