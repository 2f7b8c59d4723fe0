/*
 * ds_posix.h - the Linux readers behind the posix port, as functions of explicit inputs (a
 * sysfs root, a board, a time) so tests run them against fake trees and crafted netlink
 * messages. port.c binds them to the real /sys and the real clock. Private to port/.
 */
#ifndef DS_POSIX_H
#define DS_POSIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ds_port.h"

/* ---- sysfs power_supply (power_supply.c) ---------------------------------------------------- */

/*
 * Derive the power state from a power_supply class directory (normally
 * /sys/class/power_supply; missing or empty: a device without battery). See docs/porting.md
 * for the rules. 0 or -errno (a directory that exists but cannot be read).
 */
int ds_posix_power_read(const char *dir, const struct ds_board *b, struct ds_power_state *out);

/* ---- interface type (net_class.c) ----------------------------------------------------------- */

/*
 * Classify interface ifname: the board's name prefixes first, then <net_dir>/<if>/wireless or
 * phy80211 (Wi-Fi), uevent DEVTYPE=wlan|wwan, type 1 (ARPHRD_ETHER: ethernet), else other.
 * *metered is set for cellular.
 */
enum ds_net_type ds_posix_net_classify(const char *net_dir, const char *ifname,
				       const struct ds_board *b, bool *metered);

/* ---- rtnetlink (netlink.c) ------------------------------------------------------------------ */

#define DS_POSIX_NL_MAX_ROUTES 32

struct ds_posix_nl_route {
	int ifindex;
	uint32_t metric;
	uint8_t family; /* AF_INET or AF_INET6 */
};

struct ds_posix_nl_link {
	int ifindex;
	unsigned flags; /* IFF_* */
	char name[16];
};

/* What a route dump and a link dump tell about the default routes and their links. */
struct ds_posix_nl_view {
	struct ds_posix_nl_route routes[DS_POSIX_NL_MAX_ROUTES];
	size_t nroutes;
	struct ds_posix_nl_link links[DS_POSIX_NL_MAX_ROUTES];
	size_t nlinks;
};

/*
 * Take the messages of one netlink datagram (those of another seq are skipped; seq 0 takes
 * all): RTM_NEWROUTE default unicast routes are added,
 * RTM_NEWLINK messages are kept for interfaces some route uses (so dump routes first).
 * Returns 1 when NLMSG_DONE ends the dump, 0 when more is to come, -EBADMSG for a malformed
 * message, or the -errno of an NLMSG_ERROR.
 */
int ds_posix_nl_parse(struct ds_posix_nl_view *v, const void *buf, size_t len, uint32_t seq);

/*
 * The link carrying the preferred default route: its link is up and running (not loopback);
 * lowest metric first, IPv4 before IPv6 on a tie. 1 and *out filled, or 0 when there is none.
 */
int ds_posix_nl_pick(const struct ds_posix_nl_view *v, struct ds_posix_nl_link *out);

/* A NETLINK_ROUTE socket, bound to groups (0 for a request socket; nonzero: non-blocking). */
int ds_posix_nl_open(uint32_t groups);
/* Dump routes then links into v over a request socket. 0 or -errno. */
int ds_posix_nl_dump(int fd, uint32_t *seq, struct ds_posix_nl_view *v);
/* The network state now: dump, pick, classify. 0 or -errno. */
int ds_posix_net_read(int fd, uint32_t *seq, const char *net_dir, const struct ds_board *b,
		      struct ds_net_state *out);
/* Groups the event socket listens to: links, IPv4/IPv6 addresses and routes. */
uint32_t ds_posix_nl_groups(void);

/* ---- change monitor (monitor.c) ------------------------------------------------------------- */

struct ds_posix_monitor_cfg {
	const struct ds_board *board;
	const char *power_dir;
	const char *net_dir;
	int64_t power_poll_ms; /* <= 0: no power polling */
	bool net;              /* watch rtnetlink */
};

/*
 * Turns sysfs polls and rtnetlink notifications into DS_EV_POWER / DS_EV_NET events when the
 * derived state changes. Times are passed in, so tests drive them.
 */
struct ds_posix_monitor {
	const struct ds_board *board;
	char *power_dir, *net_dir;
	int64_t power_poll_ms;
	int64_t next_power_ms;
	int64_t net_retry_ms; /* when a failed dump is retried; -1: none */
	int nl_fd, req_fd;
	uint32_t seq;
	bool net_dirty;
	struct ds_power_state power;
	struct ds_net_state net;
	struct ds_port_event queue[4];
	unsigned qlen;
};

int ds_posix_monitor_init(struct ds_posix_monitor *m, const struct ds_posix_monitor_cfg *cfg,
			  int64_t now_ms);
void ds_posix_monitor_free(struct ds_posix_monitor *m);
/* The netlink socket to watch, or -1. */
int ds_posix_monitor_fd(const struct ds_posix_monitor *m);
/* Milliseconds from now_ms until poll must run again without the fd (0: now), or -1. */
int64_t ds_posix_monitor_deadline(const struct ds_posix_monitor *m, int64_t now_ms);
/* Same contract as ds_port_poll_event(). */
int ds_posix_monitor_poll(struct ds_posix_monitor *m, int64_t now_ms, struct ds_port_event *ev);

#endif /* DS_POSIX_H */
