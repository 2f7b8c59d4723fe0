/* Desktop Linux: whatever the machine has; a laptop's battery is found by type. */
#include "ds_port.h"

static const char *const wifi[] = { "wl", NULL };
static const char *const cell[] = { "wwan", "rmnet", "ccmni", NULL };

static const struct ds_board board = {
	.name = "host",
	.has_battery = true, /* if /sys has none, the port reports mains */
	.wifi_ifnames = wifi,
	.cellular_ifnames = cell,
	.low_battery_pct = 10,
};

const struct ds_board *ds_board_get(void)
{
	return &board;
}
