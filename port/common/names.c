/* Names of the port's enums, as logs and datasyncctl print them. */
#include "core/ds_core.h"
#include "ds_port.h"

/* Indexed by the enum values, which count from 0 (ds_port.h). */
static const char net_names[][9] = { "none", "ethernet", "wifi", "cellular", "other" };
static const char power_names[][8] = { "unknown", "battery", "mains" };

const char *ds_net_type_name(enum ds_net_type t)
{
	return (unsigned)t < DS_ARRAY_SIZE(net_names) ? net_names[t] : "?";
}

const char *ds_power_source_name(enum ds_power_source s)
{
	return (unsigned)s < DS_ARRAY_SIZE(power_names) ? power_names[s] : "?";
}
