/*
 * Network state from rtnetlink (rtnetlink(7), netlink(7)). Notifications only say "something
 * changed"; rather than mirror the kernel's tables from them (and go wrong after an ENOBUFS
 * overrun), each change triggers a fresh dump of the default routes and their links on a
 * separate request socket. "Up" means a default unicast route through a link that is up and
 * running; Android keeps those in per-network tables, so every table but local counts.
 */
#define DS_LOG_TAG "port"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_PORT
#include "core/ds_core.h"
#include "port/posix/ds_posix.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define NL_BUF_SIZE 65536 /* kernels fill dump datagrams up to 32 KiB */
#define NL_TIMEOUT_S 2

uint32_t ds_posix_nl_groups(void)
{
	return RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE |
	       RTMGRP_IPV6_ROUTE;
}

/* Attributes follow a fixed header; walk them without the uapi macros' int/unsigned mix. */
typedef void (*attr_fn)(uint16_t type, const unsigned char *data, size_t len, void *ctx);

static int walk_attrs(const unsigned char *p, size_t len, attr_fn fn, void *ctx)
{
	while (len >= sizeof(struct rtattr)) {
		struct rtattr a;
		size_t step;

		memcpy(&a, p, sizeof(a));
		if (a.rta_len < sizeof(a) || a.rta_len > len)
			return -EBADMSG;
		fn(a.rta_type, p + RTA_LENGTH(0), a.rta_len - RTA_LENGTH(0), ctx);
		step = RTA_ALIGN(a.rta_len);
		if (step >= len)
			break;
		p += step;
		len -= step;
	}
	return 0;
}

struct route_ctx {
	struct ds_posix_nl_route r;
	uint32_t table;
};

static void route_attr(uint16_t type, const unsigned char *data, size_t len, void *ctx)
{
	struct route_ctx *c = ctx;

	switch (type) {
	case RTA_OIF:
		if (len >= sizeof(int))
			memcpy(&c->r.ifindex, data, sizeof(int));
		break;
	case RTA_PRIORITY:
		if (len >= sizeof(uint32_t))
			memcpy(&c->r.metric, data, sizeof(uint32_t));
		break;
	case RTA_TABLE:
		if (len >= sizeof(uint32_t))
			memcpy(&c->table, data, sizeof(uint32_t));
		break;
	case RTA_MULTIPATH:
		/* An ECMP default route: the first hop's link stands for it. */
		if (len >= sizeof(struct rtnexthop) && c->r.ifindex == 0) {
			struct rtnexthop nh;

			memcpy(&nh, data, sizeof(nh));
			c->r.ifindex = nh.rtnh_ifindex;
		}
		break;
	default:
		break;
	}
}

static int add_route(struct ds_posix_nl_view *v, const unsigned char *p, size_t len)
{
	struct route_ctx c = { .r = { 0 } };
	struct rtmsg rt;
	int rc;

	if (len < sizeof(rt))
		return -EBADMSG;
	memcpy(&rt, p, sizeof(rt));
	if ((rt.rtm_family != AF_INET && rt.rtm_family != AF_INET6) || rt.rtm_dst_len != 0 ||
	    rt.rtm_type != RTN_UNICAST)
		return 0; /* not a default route, or an unreachable/blackhole one */
	c.table = rt.rtm_table;
	c.r.family = rt.rtm_family;
	rc = walk_attrs(p + NLMSG_ALIGN(sizeof(rt)), len - DS_MIN(len, NLMSG_ALIGN(sizeof(rt))),
			route_attr, &c);
	if (rc)
		return rc;
	if (c.table == RT_TABLE_LOCAL || c.r.ifindex <= 0 || v->nroutes == DS_ARRAY_SIZE(v->routes))
		return 0;
	v->routes[v->nroutes++] = c.r;
	return 0;
}

static void link_attr(uint16_t type, const unsigned char *data, size_t len, void *ctx)
{
	struct ds_posix_nl_link *l = ctx;

	if (type == IFLA_IFNAME && len > 0) {
		size_t n = strnlen((const char *)data, len);

		n = DS_MIN(n, sizeof(l->name) - 1);
		memcpy(l->name, data, n);
		l->name[n] = '\0';
	}
}

static int add_link(struct ds_posix_nl_view *v, const unsigned char *p, size_t len)
{
	struct ds_posix_nl_link l = { 0 };
	struct ifinfomsg ifi;
	bool used = false;
	int rc;

	if (len < sizeof(ifi))
		return -EBADMSG;
	memcpy(&ifi, p, sizeof(ifi));
	for (size_t i = 0; i < v->nroutes; i++)
		used = used || v->routes[i].ifindex == ifi.ifi_index;
	if (!used)
		return 0;
	l.ifindex = ifi.ifi_index;
	l.flags = ifi.ifi_flags;
	rc = walk_attrs(p + NLMSG_ALIGN(sizeof(ifi)), len - DS_MIN(len, NLMSG_ALIGN(sizeof(ifi))),
			link_attr, &l);
	if (rc)
		return rc;
	for (size_t i = 0; i < v->nlinks; i++) {
		if (v->links[i].ifindex == l.ifindex) {
			v->links[i] = l;
			return 0;
		}
	}
	if (v->nlinks < DS_ARRAY_SIZE(v->links))
		v->links[v->nlinks++] = l;
	return 0;
}

int ds_posix_nl_parse(struct ds_posix_nl_view *v, const void *buf, size_t len, uint32_t seq)
{
	const unsigned char *p = buf;

	while (len >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr h;
		size_t step;
		int rc = 0;

		memcpy(&h, p, sizeof(h));
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len)
			return -EBADMSG;
		if (seq == 0 || h.nlmsg_seq == seq) {
			const unsigned char *body = p + NLMSG_HDRLEN;
			size_t blen = h.nlmsg_len - DS_MIN(h.nlmsg_len, NLMSG_HDRLEN);

			switch (h.nlmsg_type) {
			case NLMSG_DONE:
				return 1;
			case NLMSG_ERROR: {
				struct nlmsgerr e;

				if (blen < sizeof(e))
					return -EBADMSG;
				memcpy(&e, body, sizeof(e));
				if (e.error)
					return e.error < 0 ? e.error : -EIO;
				break;
			}
			case RTM_NEWROUTE:
				rc = add_route(v, body, blen);
				break;
			case RTM_NEWLINK:
				rc = add_link(v, body, blen);
				break;
			default:
				break;
			}
			if (rc)
				return rc;
		}
		step = NLMSG_ALIGN(h.nlmsg_len);
		if (step >= len)
			break;
		p += step;
		len -= step;
	}
	return 0;
}

int ds_posix_nl_pick(const struct ds_posix_nl_view *v, struct ds_posix_nl_link *out)
{
	const struct ds_posix_nl_route *best = NULL;
	const struct ds_posix_nl_link *best_link = NULL;

	for (size_t i = 0; i < v->nroutes; i++) {
		const struct ds_posix_nl_route *r = &v->routes[i];
		const struct ds_posix_nl_link *l = NULL;

		for (size_t j = 0; j < v->nlinks && !l; j++)
			if (v->links[j].ifindex == r->ifindex)
				l = &v->links[j];
		if (!l || !(l->flags & IFF_UP) || !(l->flags & IFF_RUNNING) ||
		    (l->flags & IFF_LOOPBACK) || !l->name[0])
			continue;
		if (best && (r->metric > best->metric ||
			     (r->metric == best->metric && !(r->family == AF_INET &&
							      best->family == AF_INET6))))
			continue;
		best = r;
		best_link = l;
	}
	if (!best_link)
		return 0;
	*out = *best_link;
	return 1;
}

int ds_posix_nl_open(uint32_t groups)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = groups };
	int fd, rc;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | (groups ? SOCK_NONBLOCK : 0),
		    NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (!groups) {
		/* The kernel answers dumps at once; the timeout only guards against a hang. */
		struct timeval tv = { .tv_sec = NL_TIMEOUT_S };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	return fd;
}

static int dump_one(int fd, uint32_t *seq, uint16_t type, struct ds_posix_nl_view *v,
		    unsigned char *buf)
{
	struct {
		struct nlmsghdr h;
		union {
			struct rtmsg rt;
			struct ifinfomsg ifi;
		} u;
	} req;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	int rc;

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = NLMSG_LENGTH(type == RTM_GETROUTE ? sizeof(struct rtmsg)
							    : sizeof(struct ifinfomsg));
	req.h.nlmsg_type = type;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	if (++*seq == 0)
		++*seq; /* 0 would mean "any" to the parser */
	req.h.nlmsg_seq = *seq;
	/* rtm_family and ifi_family are both the first byte: AF_UNSPEC asks for all families. */
	while (sendto(fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		if (errno != EINTR)
			return -errno;
	for (;;) {
		struct sockaddr_nl from;
		socklen_t fl = sizeof(from);
		ssize_t r = recvfrom(fd, buf, NL_BUF_SIZE, MSG_TRUNC, (struct sockaddr *)&from,
				     &fl);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		}
		if (r > NL_BUF_SIZE)
			return -EMSGSIZE;
		if (fl < sizeof(from) || from.nl_pid != 0)
			continue; /* only the kernel answers dumps */
		rc = ds_posix_nl_parse(v, buf, (size_t)r, req.h.nlmsg_seq);
		if (rc)
			return rc < 0 ? rc : 0;
	}
}

int ds_posix_nl_dump(int fd, uint32_t *seq, struct ds_posix_nl_view *v)
{
	unsigned char *buf;
	int rc;

	if (fd < 0 || !seq || !v)
		return -EINVAL;
	memset(v, 0, sizeof(*v));
	buf = ds_malloc(NL_BUF_SIZE);
	if (!buf)
		return -ENOMEM;
	rc = dump_one(fd, seq, RTM_GETROUTE, v, buf);
	if (!rc && v->nroutes)
		rc = dump_one(fd, seq, RTM_GETLINK, v, buf);
	ds_free(buf);
	return rc;
}

int ds_posix_net_read(int fd, uint32_t *seq, const char *net_dir, const struct ds_board *b,
		      struct ds_net_state *out)
{
	struct ds_posix_nl_view *v;
	struct ds_posix_nl_link l;
	int rc;

	if (!out)
		return -EINVAL;
	v = ds_malloc(sizeof(*v));
	if (!v)
		return -ENOMEM;
	rc = ds_posix_nl_dump(fd, seq, v);
	memset(out, 0, sizeof(*out));
	if (!rc && ds_posix_nl_pick(v, &l)) {
		out->up = true;
		memcpy(out->ifname, l.name, sizeof(out->ifname));
		out->type = ds_posix_net_classify(net_dir, l.name, b, &out->metered);
	}
	ds_free(v);
	return rc;
}
