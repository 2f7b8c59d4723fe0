/* "datasyncctl task ...": app tasks from a shell (ctl/task.c, docs/daemon.md). */
#ifndef DS_CTL_TASK_H
#define DS_CTL_TASK_H

#include <stdbool.h>

struct cJSON;

/*
 * The request for "task SUB ARGS" (argv[0] is SUB: register, unregister, list, wait, done);
 * --json anywhere sets *json. NULL after printing a usage message.
 */
struct cJSON *ds_ctl_build_task(int argc, char **argv, bool *json);
/* A successful reply to "task SUB", for people. */
void ds_ctl_print_task(const char *sub, const struct cJSON *reply);

#endif /* DS_CTL_TASK_H */
