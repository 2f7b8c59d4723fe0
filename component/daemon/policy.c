/*
 * When may the periodic sync run? A deliberately small rule set until the scheduler (sched/)
 * arrives: skip on battery below min_battery_pct unless charging, in the OS's battery saver,
 * on a metered network when unmetered_only is set. No network is not a reason: the dir
 * remote (a folder) needs none, and remotes that do fail fast and say so. Requests from
 * people and apps ("sync") are not subject to it: they asked.
 */
#include "core/ds_core.h"
#include "daemon/ds_agent.h"

#include <stdio.h>

bool ds_daemon_policy_allows(const struct ds_power_state *p, const struct ds_net_state *n,
			     const struct ds_conf *conf, char *why, size_t cap)
{
	if (p->power_save) {
		snprintf(why, cap, "battery saver is on");
		return false;
	}
	if (p->has_battery && p->battery_pct >= 0 && !p->charging && p->source != DS_POWER_MAINS &&
	    p->battery_pct < conf->min_battery_pct) {
		snprintf(why, cap, "battery %d%% is below %d%% and not charging", p->battery_pct,
			 conf->min_battery_pct);
		return false;
	}
	if (conf->unmetered_only && n->metered) {
		snprintf(why, cap, "network %s is metered and unmetered_only is set",
			 n->ifname[0] ? n->ifname : ds_net_type_name(n->type));
		return false;
	}
	if (cap)
		why[0] = '\0';
	return true;
}
