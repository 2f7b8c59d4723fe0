/* TV: mains power only; ethernet or Wi-Fi, never treated as metered. */
#include "ds_port.h"

static const char *const wifi[] = { "wlan", "wl", NULL };
static const char *const cell[] = { NULL };

static const struct ds_board board = {
	.name = "tv",
	.has_battery = false,
	.wifi_ifnames = wifi,
	.cellular_ifnames = cell,
	.low_battery_pct = 0,
};

const struct ds_board *ds_board_get(void)
{
	return &board;
}
