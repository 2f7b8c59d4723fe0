/* "datasyncctl tabs ...", "clients", "events": the browser's side from a shell (ctl/browser.c). */
#ifndef DS_CTL_BROWSER_H
#define DS_CTL_BROWSER_H

#include <stdbool.h>
#include <string.h>

struct cJSON;

static inline bool ds_ctl_is_browser_cmd(const char *cmd)
{
	return !strcmp(cmd, "tabs") || !strcmp(cmd, "clients") || !strcmp(cmd, "events");
}

/* The request for "tabs set FILE|-", "tabs list", "clients [--all]", "events [--after SEQ]"
 * (argv[0] is the first word after cmd); --json sets *json. NULL after a usage message. */
struct cJSON *ds_ctl_build_browser(const char *cmd, int argc, char **argv, bool *json);
/* A successful reply, for people. */
void ds_ctl_print_browser(const char *cmd, const struct cJSON *reply);

#endif /* DS_CTL_BROWSER_H */
