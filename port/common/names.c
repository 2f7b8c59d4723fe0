/* Names of the port's enums, as logs and datasyncctl print them. */
#include "ds_port.h"

const char *ds_net_type_name(enum ds_net_type t)
{
	switch (t) {
	case DS_NET_NONE:
		return "none";
	case DS_NET_ETHERNET:
		return "ethernet";
	case DS_NET_WIFI:
		return "wifi";
	case DS_NET_CELLULAR:
		return "cellular";
	case DS_NET_OTHER:
		return "other";
	}
	return "?";
}

const char *ds_power_source_name(enum ds_power_source s)
{
	switch (s) {
	case DS_POWER_UNKNOWN:
		return "unknown";
	case DS_POWER_BATTERY:
		return "battery";
	case DS_POWER_MAINS:
		return "mains";
	}
	return "?";
}
