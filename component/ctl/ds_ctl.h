/* datasyncctl's parts: main (commands), print (readable output), register (building one). */
#ifndef DS_CTL_H
#define DS_CTL_H

#include <stdbool.h>

struct cJSON;

/* Exit codes (docs/daemon.md). */
enum { CTL_OK = 0, CTL_FAILED = 1, CTL_USAGE = 2, CTL_NO_DAEMON = 3 };

void ds_ctl_print_status(const struct cJSON *r);
void ds_ctl_print_list(const struct cJSON *r);
void ds_ctl_print_results(const struct cJSON *r);
void ds_ctl_print_version(const struct cJSON *r);
/* One collection's "schedule" object (list, set). */
void ds_ctl_print_schedule(const char *name, const struct cJSON *sched);

/*
 * Build a "schedule" object from "set NAME --interval 4h ..." arguments (argv[0] is NAME);
 * --json anywhere sets *json. NULL after printing a usage message.
 */
struct cJSON *ds_ctl_build_schedule(int argc, char **argv, bool *json);

/*
 * Build a registration from "register NAME ..." arguments (argv[0] is NAME), or read it from
 * "--json FILE". Returns the registration or NULL after printing a usage message.
 */
struct cJSON *ds_ctl_build_registration(int argc, char **argv);

/* Wipe and free a registration (it may hold a passphrase). */
void ds_ctl_registration_free(struct cJSON *reg);

#endif /* DS_CTL_H */
