/*
 * The posix port's event source: power is polled from sysfs on a deadline (power_supply has
 * uevents but no pollable attribute), the network is watched through an rtnetlink socket.
 * An event is queued only when the derived state differs from the last one reported, so
 * chatty notifications (address lifetimes, neighbour churn on the link) cost a dump and
 * nothing more.
 */
#define DS_LOG_TAG "port"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_PORT
#include "core/ds_core.h"
#include "port/posix/ds_posix.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NET_RETRY_MS 1000

static bool power_same(const struct ds_power_state *a, const struct ds_power_state *b)
{
	return a->source == b->source && a->has_battery == b->has_battery &&
	       a->battery_pct == b->battery_pct && a->charging == b->charging &&
	       a->low_battery == b->low_battery && a->power_save == b->power_save;
}

static bool net_same(const struct ds_net_state *a, const struct ds_net_state *b)
{
	return a->up == b->up && a->type == b->type && a->metered == b->metered &&
	       strncmp(a->ifname, b->ifname, sizeof(a->ifname)) == 0;
}

/* The newest state of a kind replaces a queued older one: consumers want the present. */
static void queue(struct ds_posix_monitor *m, const struct ds_port_event *ev)
{
	for (unsigned i = 0; i < m->qlen; i++) {
		if (m->queue[i].type == ev->type) {
			m->queue[i] = *ev;
			return;
		}
	}
	if (m->qlen < DS_ARRAY_SIZE(m->queue))
		m->queue[m->qlen++] = *ev;
}

/* Both read the present state into *out and log a failure (the caller keeps the last state). */
static int read_power(const struct ds_posix_monitor *m, struct ds_power_state *out)
{
	int rc = ds_posix_power_read(m->power_dir, m->board, out);

	if (rc)
		DS_LOG_WRN("cannot read %s: %s", m->power_dir, ds_strerror(rc));
	return rc;
}

/* A failed dump is tried again NET_RETRY_MS later. */
static int read_net(struct ds_posix_monitor *m, int64_t now_ms, struct ds_net_state *out)
{
	int rc = ds_posix_net_read(m->req_fd, &m->seq, m->net_dir, m->board, out);

	if (rc) {
		DS_LOG_WRN("network dump failed: %s", ds_strerror(rc));
		m->net_dirty = true;
		m->net_retry_ms = now_ms + NET_RETRY_MS;
	}
	return rc;
}

void ds_posix_monitor_free(struct ds_posix_monitor *m)
{
	if (!m)
		return;
	if (m->nl_fd >= 0)
		close(m->nl_fd);
	if (m->req_fd >= 0)
		close(m->req_fd);
	ds_free(m->power_dir);
	ds_free(m->net_dir);
	memset(m, 0, sizeof(*m));
	m->nl_fd = m->req_fd = -1;
}

int ds_posix_monitor_init(struct ds_posix_monitor *m, const struct ds_posix_monitor_cfg *cfg,
			  int64_t now_ms)
{
	int rc;

	if (!m || !cfg || !cfg->board || !cfg->power_dir || !cfg->net_dir)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	m->nl_fd = m->req_fd = -1;
	m->net_retry_ms = -1;
	m->board = cfg->board;
	m->power_poll_ms = cfg->board->has_battery ? cfg->power_poll_ms : 0;
	m->power_dir = ds_strdup(cfg->power_dir);
	m->net_dir = ds_strdup(cfg->net_dir);
	if (!m->power_dir || !m->net_dir) {
		rc = -ENOMEM;
		goto fail;
	}
	if (read_power(m, &m->power))
		m->power = (struct ds_power_state){ .battery_pct = -1 };
	m->next_power_ms = now_ms + m->power_poll_ms;
	if (cfg->net) {
		/* Subscribe before the first dump, so no change can fall between the two. */
		rc = ds_posix_nl_open(ds_posix_nl_groups());
		if (rc < 0)
			goto fail;
		m->nl_fd = rc;
		rc = ds_posix_nl_open(0);
		if (rc < 0)
			goto fail;
		m->req_fd = rc;
		read_net(m, now_ms, &m->net);
	}
	return 0;
fail:
	DS_LOG_ERR("port monitor: %s", ds_strerror(rc));
	ds_posix_monitor_free(m);
	return rc;
}

int ds_posix_monitor_fd(const struct ds_posix_monitor *m)
{
	return m ? m->nl_fd : -1;
}

int64_t ds_posix_monitor_deadline(const struct ds_posix_monitor *m, int64_t now_ms)
{
	int64_t d = -1;

	if (!m)
		return -1;
	if (m->qlen)
		return 0;
	if (m->power_poll_ms > 0)
		d = DS_MAX(0, m->next_power_ms - now_ms);
	if (m->net_retry_ms >= 0) {
		int64_t r = DS_MAX(0, m->net_retry_ms - now_ms);

		d = d < 0 ? r : DS_MIN(d, r);
	}
	return d;
}

/* Empty the notification socket; true if anything (or an overrun) was there. */
static bool drain(int fd)
{
	unsigned char buf[8192];
	bool any = false;

	for (;;) {
		ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (r >= 0) {
			any = true;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == ENOBUFS) {
			/* Notifications were lost: the dump that follows resynchronises. */
			any = true;
			continue;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			DS_LOG_WRN("netlink: %s", ds_strerror(-errno));
		return any;
	}
}

static void check_net(struct ds_posix_monitor *m, int64_t now_ms)
{
	struct ds_net_state n;

	if (m->nl_fd < 0)
		return;
	if (drain(m->nl_fd))
		m->net_dirty = true;
	if (!m->net_dirty || (m->net_retry_ms >= 0 && now_ms < m->net_retry_ms))
		return;
	if (read_net(m, now_ms, &n))
		return;
	m->net_dirty = false;
	m->net_retry_ms = -1;
	if (!net_same(&n, &m->net)) {
		struct ds_port_event ev = { .type = DS_EV_NET, .mono_ms = now_ms, .u.net = n };

		DS_LOG_DBG("network: %s %s%s", n.up ? n.ifname : "down", ds_net_type_name(n.type),
			   n.metered ? " metered" : "");
		m->net = n;
		queue(m, &ev);
	}
}

static void check_power(struct ds_posix_monitor *m, int64_t now_ms)
{
	struct ds_power_state p;

	if (m->power_poll_ms <= 0 || now_ms < m->next_power_ms)
		return;
	m->next_power_ms = now_ms + m->power_poll_ms;
	if (read_power(m, &p))
		return;
	if (!power_same(&p, &m->power)) {
		struct ds_port_event ev = { .type = DS_EV_POWER, .mono_ms = now_ms, .u.power = p };

		DS_LOG_DBG("power: %s %d%%%s%s", ds_power_source_name(p.source), p.battery_pct,
			   p.charging ? " charging" : "", p.low_battery ? " low" : "");
		m->power = p;
		queue(m, &ev);
	}
}

int ds_posix_monitor_poll(struct ds_posix_monitor *m, int64_t now_ms, struct ds_port_event *ev)
{
	if (!m || !ev)
		return -EINVAL;
	if (m->qlen == 0) {
		check_net(m, now_ms);
		check_power(m, now_ms);
	}
	if (m->qlen == 0)
		return 0;
	*ev = m->queue[0];
	memmove(&m->queue[0], &m->queue[1], (m->qlen - 1) * sizeof(m->queue[0]));
	m->qlen--;
	return 1;
}
