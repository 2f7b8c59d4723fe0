/* Simulation board: a phone-like device whose power and network come from a script. */
#include "ds_port.h"

static const char *const wifi[] = { "wlan", NULL };
static const char *const cell[] = { "rmnet", NULL };

static const struct ds_board board = {
	.name = "sim",
	.has_battery = true,
	.wifi_ifnames = wifi,
	.cellular_ifnames = cell,
	.low_battery_pct = 15,
};

const struct ds_board *ds_board_get(void)
{
	return &board;
}
