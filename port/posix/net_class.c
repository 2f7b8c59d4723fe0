/*
 * Interface type, for the scheduler's Wi-Fi-only and metered rules. Board prefixes decide
 * first (a modem driver's rmnet0 shows nothing telling in sysfs); then what the kernel says:
 * cfg80211 devices have a "wireless" or "phy80211" entry (net/wireless/sysfs.c), drivers set
 * DEVTYPE=wlan or wwan in "uevent" (SET_NETDEV_DEVTYPE), and "type" 1 is ARPHRD_ETHER.
 */
#include "core/ds_core.h"
#include "port/common/ds_port_common.h"
#include "port/posix/ds_posix.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static bool has_prefix(const char *const *prefixes, const char *name)
{
	for (; prefixes && *prefixes; prefixes++)
		if (**prefixes && strncmp(name, *prefixes, strlen(*prefixes)) == 0)
			return true;
	return false;
}

static bool exists(const char *net_dir, const char *ifname, const char *entry)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s/%s", net_dir, ifname, entry);
	return access(path, F_OK) == 0;
}

static enum ds_net_type from_uevent(const char *net_dir, const char *ifname)
{
	char path[512], text[1024];
	const char *p;

	snprintf(path, sizeof(path), "%s/%s/uevent", net_dir, ifname);
	if (ds_port_read_text(AT_FDCWD, path, text, sizeof(text)) < 0)
		return DS_NET_NONE;
	for (p = text; *p;) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);

		if (n == 12 && strncmp(p, "DEVTYPE=wlan", n) == 0)
			return DS_NET_WIFI;
		if (n == 12 && strncmp(p, "DEVTYPE=wwan", n) == 0)
			return DS_NET_CELLULAR;
		p += n + (eol ? 1 : 0);
	}
	return DS_NET_NONE;
}

enum ds_net_type ds_posix_net_classify(const char *net_dir, const char *ifname,
				       const struct ds_board *b, bool *metered)
{
	enum ds_net_type t = DS_NET_OTHER;
	char path[512], type[16];

	if (metered)
		*metered = false;
	if (!ifname || !*ifname || strchr(ifname, '/') || strcmp(ifname, ".") == 0 ||
	    strcmp(ifname, "..") == 0)
		return DS_NET_NONE;
	if (b && has_prefix(b->cellular_ifnames, ifname))
		t = DS_NET_CELLULAR;
	else if (b && has_prefix(b->wifi_ifnames, ifname))
		t = DS_NET_WIFI;
	else if (net_dir && (exists(net_dir, ifname, "wireless") ||
			     exists(net_dir, ifname, "phy80211")))
		t = DS_NET_WIFI;
	else if (net_dir && (t = from_uevent(net_dir, ifname)) != DS_NET_NONE)
		;
	else {
		t = DS_NET_OTHER;
		snprintf(path, sizeof(path), "%s/%s/type", net_dir ? net_dir : ".", ifname);
		if (net_dir && ds_port_read_text(AT_FDCWD, path, type, sizeof(type)) >= 0 &&
		    strcmp(type, "1") == 0)
			t = DS_NET_ETHERNET;
	}
	if (metered)
		*metered = t == DS_NET_CELLULAR;
	return t;
}
