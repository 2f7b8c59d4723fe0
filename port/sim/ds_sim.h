/*
 * ds_sim.h - the sim port's event script (format: port/sim/README.md). Private to port/.
 */
#ifndef DS_SIM_H
#define DS_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "ds_port.h"

struct ds_sim_event {
	int64_t at_ms; /* virtual monotonic time at which it falls due */
	struct ds_port_event ev;
};

struct ds_sim_script {
	struct ds_sim_event *ev; /* in file order, at_ms never decreasing */
	size_t n, cap;
};

/*
 * Parse a script held in text (len bytes, need not be NUL-terminated). name is used in error
 * messages, which are written to err as "name:line: message". The board gives the low-battery
 * threshold and default interface names. 0, -EINVAL (malformed; *out left empty) or -ENOMEM.
 */
int ds_sim_script_parse(const char *text, size_t len, const char *name, const struct ds_board *b,
			struct ds_sim_script *out, char *err, size_t errlen);
void ds_sim_script_free(struct ds_sim_script *s);

/* "0", "90s", "10m30s", "1h", "1d2h", "250ms": 0 and *ms set, or -EINVAL. */
int ds_sim_parse_time(const char *tok, int64_t *ms);

#endif /* DS_SIM_H */
