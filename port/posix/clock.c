/* Clocks: CLOCK_MONOTONIC never jumps (NTP slews it, suspend stops it); CLOCK_REALTIME may. */
#include "ds_port.h"

#include <time.h>

static int64_t read_ms(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ds_port_mono_ms(void)
{
	return read_ms(CLOCK_MONOTONIC);
}

int64_t ds_port_wall_ms(void)
{
	return read_ms(CLOCK_REALTIME);
}
