/*
 * Power state from the sysfs power_supply class (kernel Documentation/ABI/testing/
 * sysfs-class-power). Each supply is a folder with a "type" attribute: Battery, or an external
 * source (Mains, UPS, USB and its USB_* variants, BrickID, Wireless) whose "online" says if it
 * feeds the device. A battery has "status" (Charging, Discharging, Not charging, Full,
 * Unknown), "capacity" (percent) and often "capacity_level" (Critical, Low, Normal, High,
 * Full). Batteries of "scope" Device belong to peripherals (a mouse, a remote), not to us.
 * Linux shows no battery-saver state here (power-profiles-daemon lives on D-Bus), so
 * power_save stays false on this port.
 */
#include "core/ds_core.h"
#include "port/common/ds_port_common.h"
#include "port/posix/ds_posix.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SUPPLIES 32
#define SUPPLY_NAME_MAX 64

static int cmp_names(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static bool is_external_type(const char *t)
{
	static const char types[] = "Mains\0UPS\0USB\0BrickID\0Wireless\0";

	for (const char *w = types; *w; w += strlen(w) + 1)
		if (strcmp(t, w) == 0)
			return true;
	return strncmp(t, "USB_", 4) == 0;
}

/* Read <dir>/<supply>/<attr>; empty string when absent. */
static void attr(int dfd, const char *supply, const char *name, char *buf, size_t cap)
{
	char path[SUPPLY_NAME_MAX + 32];

	snprintf(path, sizeof(path), "%.*s/%.24s", SUPPLY_NAME_MAX - 1, supply, name);
	if (ds_port_read_text(dfd, path, buf, cap) < 0)
		buf[0] = '\0';
}

static bool usable_battery(int dfd, const char *supply)
{
	char v[32];

	attr(dfd, supply, "scope", v, sizeof(v));
	if (strcmp(v, "Device") == 0)
		return false;
	attr(dfd, supply, "present", v, sizeof(v));
	return strcmp(v, "0") != 0;
}

static int parse_pct(const char *s)
{
	char *end;
	long v;

	if (!*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s)
		return -1;
	return (int)DS_MAX(0, DS_MIN(100, v));
}

int ds_posix_power_read(const char *dir, const struct ds_board *b, struct ds_power_state *out)
{
	char names[MAX_SUPPLIES][SUPPLY_NAME_MAX];
	char type[32], status[32], level[32], cap[16], online[8];
	const char *battery = NULL;
	bool mains_known = false, mains_online = false;
	size_t n = 0;
	struct dirent *de;
	DIR *d;
	int dfd;

	if (!dir || !b || !out)
		return -EINVAL;
	*out = (struct ds_power_state){ .source = DS_POWER_UNKNOWN, .battery_pct = -1 };

	d = opendir(dir);
	if (!d && errno != ENOENT)
		return -errno;
	if (d) {
		while ((de = readdir(d)) != NULL && n < MAX_SUPPLIES) {
			if (de->d_name[0] == '.' || strlen(de->d_name) >= SUPPLY_NAME_MAX)
				continue;
			strcpy(names[n++], de->d_name);
		}
		/* readdir order is arbitrary: sort so "the first battery" is stable. */
		qsort(names, n, sizeof(names[0]), cmp_names);
		dfd = dirfd(d);
	} else {
		dfd = -1;
	}

	for (size_t i = 0; i < n; i++) {
		attr(dfd, names[i], "type", type, sizeof(type));
		if (strcmp(type, "Battery") == 0) {
			if (!b->has_battery || battery)
				continue;
			if (b->battery_supply ? strcmp(names[i], b->battery_supply) == 0
					      : usable_battery(dfd, names[i]))
				battery = names[i];
		} else if (is_external_type(type)) {
			if (b->mains_supply && strcmp(names[i], b->mains_supply) != 0)
				continue;
			mains_known = true;
			attr(dfd, names[i], "online", online, sizeof(online));
			if (strcmp(online, "1") == 0)
				mains_online = true;
		}
	}

	if (battery) {
		attr(dfd, battery, "status", status, sizeof(status));
		attr(dfd, battery, "capacity", cap, sizeof(cap));
		attr(dfd, battery, "capacity_level", level, sizeof(level));
		out->has_battery = true;
		out->battery_pct = parse_pct(cap);
		out->charging = strcmp(status, "Charging") == 0;
		if (mains_online || out->charging)
			out->source = DS_POWER_MAINS;
		else if (mains_known || strcmp(status, "Discharging") == 0)
			out->source = DS_POWER_BATTERY;
		else if (strcmp(status, "Full") == 0 || strcmp(status, "Not charging") == 0)
			/* Not discharging and no mains supply to ask: something feeds it. */
			out->source = DS_POWER_MAINS;
		/* Android's BATTERY_LOW is cleared by plugging in; so is ours. */
		if (out->source == DS_POWER_BATTERY)
			out->low_battery =
				strcmp(level, "Low") == 0 || strcmp(level, "Critical") == 0 ||
				(out->battery_pct >= 0 && out->battery_pct < b->low_battery_pct);
	} else if (b->has_battery && b->battery_supply) {
		/* The board names its battery and it is gone: say so rather than guess. */
		out->source = mains_online ? DS_POWER_MAINS : DS_POWER_UNKNOWN;
	} else {
		/* No battery at all: whatever runs us is external power. */
		out->source = DS_POWER_MAINS;
	}
	if (d)
		closedir(d);
	return 0;
}
