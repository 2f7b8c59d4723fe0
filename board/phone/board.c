/* Phone: a battery, cellular data (metered) and Wi-Fi. */
#include "ds_port.h"

static const char *const wifi[] = { "wlan", "wl", NULL };
static const char *const cell[] = { "rmnet", "ccmni", "wwan", "rmnet_data", NULL };

static const struct ds_board board = {
	.name = "phone",
	.has_battery = true,
	.battery_supply = "battery",
	.wifi_ifnames = wifi,
	.cellular_ifnames = cell,
	.low_battery_pct = 15,
};

const struct ds_board *ds_board_get(void)
{
	return &board;
}
