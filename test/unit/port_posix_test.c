/*
 * The posix port's Linux readers and the port pieces both Linux ports share: sealed secrets,
 * paths, entropy and wake locks. Runs on every board: on the sim board the readers come from
 * libdstest (port/posix/module.mk), so CI exercises them. sysfs fixtures: test/data/port/.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "core/ds_core.h"
#include "port/common/ds_port_common.h"
#include "port/posix/ds_posix.h"

static char g_tmp[PATH_MAX];

static const char *const test_wifi[] = { "wlan", NULL };
static const char *const test_cell[] = { "rmnet", NULL };

static struct ds_board test_board(void)
{
	return (struct ds_board){ .name = "test", .has_battery = true, .wifi_ifnames = test_wifi,
				  .cellular_ifnames = test_cell, .low_battery_pct = 15 };
}

/* ---- helpers -------------------------------------------------------------------------------- */

static char *tmp_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *tmp_path(const char *fmt, ...)
{
	char rel[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	return ds_asprintf("%s/%s", g_tmp, rel);
}

static char *data_path(const char *rel)
{
	const char *src = getenv("DS_SRC");

	if (src)
		return ds_asprintf("%s/test/data/port/%s", src, rel);
	/* __FILE__ is the absolute source path: the Makefile compiles $(srctree)/test/unit/x.c. */
	return ds_asprintf("%.*s/../data/port/%s",
			   (int)(strrchr(__FILE__, '/') ? strrchr(__FILE__, '/') - __FILE__ : 1),
			   strrchr(__FILE__, '/') ? __FILE__ : ".", rel);
}

static void write_file(const char *path, const char *content)
{
	FILE *f;
	char *dir = ds_strdup(path);

	assert_non_null(dir);
	*strrchr(dir, '/') = '\0';
	assert_int_equal(ds_port_mkdirs(dir, 0755), 0);
	ds_free(dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = ds_malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static void rm_rf(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;

	if (lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode) && (d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			char *c;

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			c = ds_asprintf("%s/%s", path, de->d_name);
			rm_rf(c);
			ds_free(c);
		}
		closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

/* ---- sysfs fixtures ------------------------------------------------------------------------- */

static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] == 'n') {
			*w++ = '\n';
			s++;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

static int flag(const char *expect, const char *key)
{
	const char *p = strstr(expect, key);

	assert_non_null(p);
	return atoi(p + strlen(key));
}

/* Build the tree of one fixture under root and check its expectations. */
static void run_tree(const char *fixture, const char *root, bool power)
{
	char *path = data_path(fixture), *text = slurp(path, NULL), *save = NULL, *line;
	struct ds_board b = test_board();
	char battery[32] = "", mains[32] = "";
	int checks = 0;

	rm_rf(root);
	assert_int_equal(ds_port_mkdirs(root, 0755), 0);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *rest;

		if (line[0] == '#' || line[0] == '\0')
			continue;
		rest = strchr(line, ' ');
		assert_non_null(rest);
		*rest++ = '\0';
		if (strcmp(line, "dir") == 0) {
			char *p = ds_asprintf("%s/%s", root, rest);

			assert_int_equal(ds_port_mkdirs(p, 0755), 0);
			ds_free(p);
		} else if (strcmp(line, "file") == 0) {
			char *content = strchr(rest, ' '), *p;

			assert_non_null(content);
			*content++ = '\0';
			unescape(content);
			p = ds_asprintf("%s/%s", root, rest);
			/* sysfs attributes end with a newline; the reader must trim it. */
			char *c = ds_asprintf("%s\n", content);
			write_file(p, c);
			ds_free(c);
			ds_free(p);
		} else if (strcmp(line, "board") == 0) {
			if (strcmp(rest, "has_battery=0") == 0)
				b.has_battery = false;
			else if (sscanf(rest, "battery_supply=%31s", battery) == 1)
				b.battery_supply = battery;
			else if (sscanf(rest, "mains_supply=%31s", mains) == 1)
				b.mains_supply = mains;
			else
				fail_msg("%s: bad board line '%s'", fixture, rest);
		} else if (strcmp(line, "expect") == 0 && power) {
			struct ds_power_state ps;
			const char *src = strstr(rest, "source=");

			assert_non_null(src);
			assert_int_equal(ds_posix_power_read(root, &b, &ps), 0);
			print_message("  %s: %s has_battery=%d pct=%d charging=%d low=%d\n",
				      fixture, ds_power_source_name(ps.source), ps.has_battery,
				      ps.battery_pct, ps.charging, ps.low_battery);
			assert_int_equal(strncmp(src + 7, ds_power_source_name(ps.source),
						 strlen(ds_power_source_name(ps.source))), 0);
			assert_int_equal(ps.has_battery, flag(rest, "has_battery="));
			assert_int_equal(ps.battery_pct, flag(rest, "pct="));
			assert_int_equal(ps.charging, flag(rest, "charging="));
			assert_int_equal(ps.low_battery, flag(rest, "low="));
			assert_int_equal(ps.power_save, flag(rest, "save="));
			checks++;
		} else if (strcmp(line, "expect-if") == 0 && !power) {
			char ifname[32], type[32];
			int metered;
			bool m = true;
			enum ds_net_type t;

			assert_int_equal(sscanf(rest, "%31s type=%31s metered=%d", ifname, type,
						&metered), 3);
			t = ds_posix_net_classify(root, ifname, &b, &m);
			print_message("  %s: %s -> %s%s\n", fixture, ifname, ds_net_type_name(t),
				      m ? " metered" : "");
			assert_string_equal(ds_net_type_name(t), type);
			assert_int_equal(m, metered);
			checks++;
		} else {
			fail_msg("%s: unknown directive '%s'", fixture, line);
		}
	}
	assert_true(checks > 0);
	ds_free(text);
	ds_free(path);
}

static void test_power_fixtures(void **state)
{
	char *dir = data_path("power"), *root = tmp_path("power_supply");
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		char rel[300];

		if (l < 6 || strcmp(de->d_name + l - 5, ".tree") != 0)
			continue;
		snprintf(rel, sizeof(rel), "power/%s", de->d_name);
		run_tree(rel, root, true);
		n++;
	}
	closedir(d);
	assert_true(n >= 10);
	ds_free(root);
	ds_free(dir);
}

static void test_power_missing_dir(void **state)
{
	struct ds_board b = test_board();
	struct ds_power_state ps;
	char *root = tmp_path("no-such-dir");

	(void)state;
	/* No power_supply class at all: a machine without battery. */
	assert_int_equal(ds_posix_power_read(root, &b, &ps), 0);
	assert_int_equal(ps.source, DS_POWER_MAINS);
	assert_false(ps.has_battery);
	assert_int_equal(ps.battery_pct, -1);
	assert_int_equal(ds_posix_power_read(NULL, &b, &ps), -EINVAL);
	ds_free(root);
}

static void test_net_classify(void **state)
{
	char *root = tmp_path("net");
	struct ds_board b = test_board();
	bool m = true;

	(void)state;
	run_tree("net/interfaces.tree", root, false);
	/* Names that could escape the sysfs root are refused. */
	assert_int_equal(ds_posix_net_classify(root, "../x", &b, &m), DS_NET_NONE);
	assert_int_equal(ds_posix_net_classify(root, "..", &b, &m), DS_NET_NONE);
	assert_int_equal(ds_posix_net_classify(root, "", &b, &m), DS_NET_NONE);
	assert_false(m);
	ds_free(root);
}

/* ---- rtnetlink parsing: crafted messages ---------------------------------------------------- */

struct nlbuf {
	unsigned char b[8192] __attribute__((aligned(8)));
	size_t len;
};

static struct nlmsghdr *nl_msg(struct nlbuf *nb, uint16_t type, uint32_t seq, const void *hdr,
			       size_t hlen)
{
	struct nlmsghdr *h = (struct nlmsghdr *)(void *)(nb->b + nb->len);

	assert_true(nb->len + NLMSG_SPACE(hlen) <= sizeof(nb->b));
	memset(h, 0, NLMSG_SPACE(hlen));
	h->nlmsg_len = NLMSG_LENGTH(hlen);
	h->nlmsg_type = type;
	h->nlmsg_seq = seq;
	memcpy(NLMSG_DATA(h), hdr, hlen);
	nb->len += NLMSG_SPACE(hlen);
	return h;
}

static void nl_attr(struct nlbuf *nb, struct nlmsghdr *h, uint16_t type, const void *data,
		    size_t len)
{
	struct rtattr *a = (struct rtattr *)(void *)(nb->b + nb->len);

	assert_true(nb->len + RTA_SPACE(len) <= sizeof(nb->b));
	memset(a, 0, RTA_SPACE(len));
	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	nb->len += RTA_SPACE(len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_SPACE(len);
}

static void add_route(struct nlbuf *nb, uint8_t family, uint8_t dst_len, uint8_t type,
		      uint32_t table, int oif, uint32_t metric)
{
	struct rtmsg rt = { .rtm_family = family, .rtm_dst_len = dst_len, .rtm_type = type,
			    .rtm_table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC };
	struct nlmsghdr *h = nl_msg(nb, RTM_NEWROUTE, 7, &rt, sizeof(rt));

	nl_attr(nb, h, RTA_TABLE, &table, sizeof(table));
	if (oif)
		nl_attr(nb, h, RTA_OIF, &oif, sizeof(oif));
	nl_attr(nb, h, RTA_PRIORITY, &metric, sizeof(metric));
}

static void add_link(struct nlbuf *nb, int ifindex, unsigned flags, const char *name)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex,
				 .ifi_flags = flags };
	struct nlmsghdr *h = nl_msg(nb, RTM_NEWLINK, 7, &ifi, sizeof(ifi));

	nl_attr(nb, h, IFLA_IFNAME, name, strlen(name) + 1);
}

static void add_done(struct nlbuf *nb)
{
	int zero = 0;

	nl_msg(nb, NLMSG_DONE, 7, &zero, sizeof(zero));
}

static void test_nl_pick_lowest_metric(void **state)
{
	struct ds_posix_nl_view v = { .nroutes = 0 };
	struct ds_posix_nl_link l;
	struct nlbuf routes = { .len = 0 }, links = { .len = 0 };

	(void)state;
	add_route(&routes, AF_INET, 0, RTN_UNICAST, RT_TABLE_MAIN, 2, 600);  /* Wi-Fi */
	add_route(&routes, AF_INET, 0, RTN_UNICAST, RT_TABLE_MAIN, 3, 100);  /* ethernet */
	add_route(&routes, AF_INET, 24, RTN_UNICAST, RT_TABLE_MAIN, 4, 0);   /* not default */
	add_route(&routes, AF_INET6, 0, RTN_UNREACHABLE, RT_TABLE_MAIN, 5, 0); /* unreachable */
	add_route(&routes, AF_INET, 0, RTN_UNICAST, RT_TABLE_LOCAL, 6, 0);   /* local table */
	add_route(&routes, AF_INET, 0, RTN_UNICAST, 1001, 7, 50);            /* Android table */
	assert_int_equal(ds_posix_nl_parse(&v, routes.b, routes.len, 7), 0);
	assert_int_equal(v.nroutes, 3);

	add_link(&links, 1, IFF_UP | IFF_RUNNING | IFF_LOOPBACK, "lo");      /* unused: dropped */
	add_link(&links, 2, IFF_UP | IFF_RUNNING, "wlan0");
	add_link(&links, 3, IFF_UP | IFF_RUNNING, "eth0");
	add_link(&links, 7, IFF_UP, "rmnet0"); /* up but no carrier */
	add_done(&links);
	assert_int_equal(ds_posix_nl_parse(&v, links.b, links.len, 7), 1);
	assert_int_equal(v.nlinks, 3);

	assert_int_equal(ds_posix_nl_pick(&v, &l), 1);
	assert_string_equal(l.name, "eth0");

	/* Cable pulled: the kernel keeps the route, the link loses IFF_RUNNING. */
	links.len = 0;
	add_link(&links, 3, IFF_UP, "eth0");
	assert_int_equal(ds_posix_nl_parse(&v, links.b, links.len, 0), 0);
	assert_int_equal(ds_posix_nl_pick(&v, &l), 1);
	assert_string_equal(l.name, "wlan0");

	/* Wi-Fi gone too: no usable default route. */
	links.len = 0;
	add_link(&links, 2, 0, "wlan0");
	assert_int_equal(ds_posix_nl_parse(&v, links.b, links.len, 0), 0);
	assert_int_equal(ds_posix_nl_pick(&v, &l), 0);
}

static void test_nl_ipv4_before_ipv6_and_multipath(void **state)
{
	struct ds_posix_nl_view v = { .nroutes = 0 };
	struct ds_posix_nl_link l;
	struct nlbuf nb = { .len = 0 };
	struct rtmsg rt = { .rtm_family = AF_INET6, .rtm_type = RTN_UNICAST,
			    .rtm_table = RT_TABLE_MAIN };
	struct rtnexthop nh[2] = { { .rtnh_len = sizeof(struct rtnexthop), .rtnh_ifindex = 9 },
				   { .rtnh_len = sizeof(struct rtnexthop), .rtnh_ifindex = 8 } };
	uint32_t metric = 100;
	struct nlmsghdr *h;

	(void)state;
	add_route(&nb, AF_INET6, 0, RTN_UNICAST, RT_TABLE_MAIN, 2, 100);
	add_route(&nb, AF_INET, 0, RTN_UNICAST, RT_TABLE_MAIN, 3, 100);
	h = nl_msg(&nb, RTM_NEWROUTE, 7, &rt, sizeof(rt));
	nl_attr(&nb, h, RTA_PRIORITY, &metric, sizeof(metric));
	nl_attr(&nb, h, RTA_MULTIPATH, nh, sizeof(nh));
	add_link(&nb, 2, IFF_UP | IFF_RUNNING, "v6only");
	add_link(&nb, 3, IFF_UP | IFF_RUNNING, "v4");
	add_link(&nb, 9, IFF_UP | IFF_RUNNING, "ecmp");
	assert_int_equal(ds_posix_nl_parse(&v, nb.b, nb.len, 0), 0);
	assert_int_equal(v.nroutes, 3);
	assert_int_equal(v.routes[2].ifindex, 9);
	assert_int_equal(ds_posix_nl_pick(&v, &l), 1);
	assert_string_equal(l.name, "v4");
}

static void test_nl_errors(void **state)
{
	struct ds_posix_nl_view v = { .nroutes = 0 };
	struct nlbuf nb = { .len = 0 };
	struct nlmsgerr e = { .error = -EPERM };

	(void)state;
	/* Another dump's answer (seq 7) is skipped when waiting for seq 8. */
	add_done(&nb);
	assert_int_equal(ds_posix_nl_parse(&v, nb.b, nb.len, 8), 0);
	assert_int_equal(ds_posix_nl_parse(&v, nb.b, nb.len, 7), 1);

	nb.len = 0;
	nl_msg(&nb, NLMSG_ERROR, 7, &e, sizeof(e));
	assert_int_equal(ds_posix_nl_parse(&v, nb.b, nb.len, 7), -EPERM);

	/* A length beyond the datagram, and an attribute beyond its message. */
	nb.len = 0;
	add_route(&nb, AF_INET, 0, RTN_UNICAST, RT_TABLE_MAIN, 2, 1);
	((struct nlmsghdr *)(void *)nb.b)->nlmsg_len = (uint32_t)nb.len + 4;
	assert_int_equal(ds_posix_nl_parse(&v, nb.b, nb.len, 0), -EBADMSG);
	nb.len = 0;
	add_route(&nb, AF_INET, 0, RTN_UNICAST, RT_TABLE_MAIN, 2, 1);
	((struct rtattr *)(void *)(nb.b + NLMSG_SPACE(sizeof(struct rtmsg))))->rta_len = 200;
	assert_int_equal(ds_posix_nl_parse(&v, nb.b, nb.len, 0), -EBADMSG);
	/* A truncated header is ignored, not read past. */
	assert_int_equal(ds_posix_nl_parse(&v, nb.b, 8, 0), 0);
}

/* ---- rtnetlink on this machine: consistency only -------------------------------------------- */

static void check_net_consistent(const struct ds_net_state *n)
{
	if (n->up) {
		assert_true(n->ifname[0] != '\0');
		assert_true(n->type != DS_NET_NONE);
		assert_int_equal(n->metered, n->type == DS_NET_CELLULAR);
	} else {
		assert_int_equal(n->type, DS_NET_NONE);
		assert_false(n->metered);
		assert_int_equal(n->ifname[0], '\0');
	}
}

static void test_netlink_live(void **state)
{
	struct ds_board b = test_board();
	struct ds_net_state n;
	uint32_t seq = 0;
	int fd, ev;

	(void)state;
	ev = ds_posix_nl_open(ds_posix_nl_groups());
	assert_true(ev >= 0);
	assert_true(fcntl(ev, F_GETFL) & O_NONBLOCK);
	fd = ds_posix_nl_open(0);
	assert_true(fd >= 0);
	assert_int_equal(ds_posix_net_read(fd, &seq, "/sys/class/net", &b, &n), 0);
	print_message("  this machine: %s %s\n", n.up ? n.ifname : "down",
		      ds_net_type_name(n.type));
	check_net_consistent(&n);
	/* A second dump on the same socket uses new sequence numbers. */
	{
		struct ds_net_state n2;
		uint32_t first = seq;

		assert_true(first >= 1);
		assert_int_equal(ds_posix_net_read(fd, &seq, "/sys/class/net", &b, &n2), 0);
		assert_true(seq > first);
		check_net_consistent(&n2);
	}
	close(fd);
	close(ev);

	/* The port's own entry point, whichever port this board has. */
	assert_int_equal(ds_port_net_get(&n), 0);
	check_net_consistent(&n);
	assert_int_equal(ds_port_net_get(NULL), -EINVAL);
}

/* ---- the change monitor --------------------------------------------------------------------- */

static void test_monitor_power_polling(void **state)
{
	struct ds_board b = test_board();
	struct ds_posix_monitor m;
	struct ds_port_event ev;
	char *root = tmp_path("mon/power_supply"), *p;
	struct ds_posix_monitor_cfg cfg = { .board = &b, .power_poll_ms = 60000 };

	(void)state;
	cfg.power_dir = root;
	cfg.net_dir = "/nonexistent";
	p = tmp_path("mon/power_supply/BAT0/type");
	write_file(p, "Battery\n");
	ds_free(p);
	p = tmp_path("mon/power_supply/BAT0/status");
	write_file(p, "Discharging\n");
	ds_free(p);
	p = tmp_path("mon/power_supply/BAT0/capacity");
	write_file(p, "80\n");

	assert_int_equal(ds_posix_monitor_init(&m, &cfg, 1000), 0);
	assert_int_equal(ds_posix_monitor_fd(&m), -1); /* net watching off */
	assert_int_equal(ds_posix_monitor_deadline(&m, 1000), 60000);
	assert_int_equal(ds_posix_monitor_poll(&m, 1000, &ev), 0);

	write_file(p, "14\n");
	/* Not due yet: sysfs is read on the deadline, not on every poll. */
	assert_int_equal(ds_posix_monitor_poll(&m, 31000, &ev), 0);
	assert_int_equal(ds_posix_monitor_deadline(&m, 31000), 30000);
	assert_int_equal(ds_posix_monitor_poll(&m, 61000, &ev), 1);
	assert_int_equal(ev.type, DS_EV_POWER);
	assert_int_equal(ev.mono_ms, 61000);
	assert_int_equal(ev.u.power.source, DS_POWER_BATTERY);
	assert_int_equal(ev.u.power.battery_pct, 14);
	assert_true(ev.u.power.low_battery);
	assert_int_equal(ds_posix_monitor_poll(&m, 61000, &ev), 0);
	assert_int_equal(ds_posix_monitor_deadline(&m, 61000), 60000);
	/* No change, no event. */
	assert_int_equal(ds_posix_monitor_poll(&m, 121000, &ev), 0);
	/* Late polls are fine: the deadline says "now". */
	assert_int_equal(ds_posix_monitor_deadline(&m, 500000), 0);
	ds_posix_monitor_free(&m);

	/* A board without battery never polls. */
	b.has_battery = false;
	assert_int_equal(ds_posix_monitor_init(&m, &cfg, 0), 0);
	assert_int_equal(ds_posix_monitor_deadline(&m, 0), -1);
	ds_posix_monitor_free(&m);
	ds_free(p);
	ds_free(root);
}

static void test_monitor_netlink(void **state)
{
	struct ds_board b = test_board();
	struct ds_posix_monitor m;
	struct ds_port_event ev;
	struct ds_posix_monitor_cfg cfg = { .board = &b, .power_dir = "/nonexistent",
					    .net_dir = "/sys/class/net", .net = true };
	int rc;

	(void)state;
	assert_int_equal(ds_posix_monitor_init(&m, &cfg, 0), 0);
	assert_true(ds_posix_monitor_fd(&m) >= 0);
	check_net_consistent(&m.net);
	/* Only a real change of this machine's network could produce an event here. */
	while ((rc = ds_posix_monitor_poll(&m, 0, &ev)) == 1) {
		assert_int_equal(ev.type, DS_EV_NET);
		check_net_consistent(&ev.u.net);
	}
	assert_int_equal(rc, 0);
	ds_posix_monitor_free(&m);
	assert_int_equal(m.nl_fd, -1);
}

/* ---- secrets -------------------------------------------------------------------------------- */

static int setup_port(void **state)
{
	char *data = tmp_path("p/data"), *run = tmp_path("p/run");
	char *sec = tmp_path("p/deep/secrets");
	char *pw = tmp_path("p/power_supply");
	struct ds_port_config cfg = { .data_dir = data, .run_dir = run, .secret_dir = sec,
				      .power_supply_dir = pw, .net_sysfs_dir = "/sys/class/net",
				      .wakelock_dir = "/nonexistent" };
	int rc;

	(void)state;
	rc = ds_port_init(&cfg);
	ds_free(data);
	ds_free(run);
	ds_free(sec);
	ds_free(pw);
	return rc;
}

static int teardown_port(void **state)
{
	char *p = tmp_path("p");

	(void)state;
	ds_port_deinit();
	rm_rf(p);
	ds_free(p);
	return 0;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

static void test_paths_created_0700(void **state)
{
	char *sec = tmp_path("p/deep/secrets"), *deep = tmp_path("p/deep");

	(void)state;
	assert_string_equal(ds_port_path(DS_PATH_SECRET), sec);
	assert_int_equal(mode_of(ds_port_path(DS_PATH_DATA)), 0700);
	assert_int_equal(mode_of(ds_port_path(DS_PATH_RUN)), 0700);
	assert_int_equal(mode_of(sec), 0700);
	assert_int_equal(mode_of(deep), 0700); /* parents made on the way too */
	ds_free(sec);
	ds_free(deep);
}

static void test_secret_roundtrip(void **state)
{
	unsigned char key[64], out[64];
	char *file = tmp_path("p/deep/secrets/sync.kB");

	(void)state;
	assert_int_equal(ds_port_entropy(key, sizeof(key)), 0);
	assert_int_equal(ds_port_secret_seal("sync.kB", key, sizeof(key)), 0);
	assert_int_equal(mode_of(file), 0600);
	memset(out, 0, sizeof(out));
	assert_int_equal(ds_port_secret_unseal("sync.kB", out, sizeof(out)), (int)sizeof(key));
	assert_memory_equal(out, key, sizeof(key));
	/* Empty secrets are secrets too. */
	assert_int_equal(ds_port_secret_seal("empty", NULL, 0), 0);
	assert_int_equal(ds_port_secret_unseal("empty", out, sizeof(out)), 0);
	assert_int_equal(ds_port_secret_erase("sync.kB"), 0);
	assert_int_equal(ds_port_secret_unseal("sync.kB", out, sizeof(out)), -ENOENT);
	ds_free(file);
}

static void test_secret_errors(void **state)
{
	static const char *const bad[] = { "", ".hidden", "a/b", "..", "sp ace", "t\xc3\xa9",
					   "x\n" };
	unsigned char buf[16], big[DS_PORT_SECRET_MAX + 1];
	char longname[DS_PORT_SECRET_NAME_MAX + 2];

	(void)state;
	for (size_t i = 0; i < DS_ARRAY_SIZE(bad); i++) {
		assert_int_equal(ds_port_secret_seal(bad[i], "x", 1), -EINVAL);
		assert_int_equal(ds_port_secret_unseal(bad[i], buf, sizeof(buf)), -EINVAL);
		assert_int_equal(ds_port_secret_erase(bad[i]), -EINVAL);
	}
	assert_int_equal(ds_port_secret_seal(NULL, "x", 1), -EINVAL);
	assert_int_equal(ds_port_secret_seal("ok", NULL, 1), -EINVAL);
	memset(longname, 'a', sizeof(longname));
	longname[DS_PORT_SECRET_NAME_MAX] = '\0';
	assert_int_equal(ds_port_secret_seal(longname, "x", 1), 0);
	longname[DS_PORT_SECRET_NAME_MAX] = 'a';
	longname[DS_PORT_SECRET_NAME_MAX + 1] = '\0';
	assert_int_equal(ds_port_secret_seal(longname, "x", 1), -EINVAL);
	assert_int_equal(ds_port_secret_seal("Ok-name_1.key", "x", 1), 0);

	memset(big, 7, sizeof(big));
	assert_int_equal(ds_port_secret_seal("big", big, sizeof(big)), -EMSGSIZE);
	assert_int_equal(ds_port_secret_seal("big", big, DS_PORT_SECRET_MAX), 0);

	assert_int_equal(ds_port_secret_unseal("missing", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(ds_port_secret_erase("missing"), -ENOENT);

	/* A short buffer is refused and left untouched. */
	memset(buf, 0xAA, sizeof(buf));
	assert_int_equal(ds_port_secret_unseal("big", buf, sizeof(buf)), -ENOSPC);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xAA);
}

static size_t count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	size_t n = 0;

	assert_non_null(d);
	/* Hidden names count: a leftover ".name.tmp" is what this looks for. */
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void test_secret_atomic_overwrite(void **state)
{
	char *stale = tmp_path("p/deep/secrets/.token.tmp");
	char out[64];

	(void)state;
	assert_int_equal(ds_port_secret_seal("token", "first-longer-value", 18), 0);
	/* A crash mid-write left a temp file: it must not block or leak into the next write. */
	write_file(stale, "half");
	assert_int_equal(ds_port_secret_seal("token", "second", 6), 0);
	assert_int_equal(ds_port_secret_unseal("token", out, sizeof(out)), 6);
	assert_memory_equal(out, "second", 6);
	assert_int_equal(access(stale, F_OK), -1);
	/* Only the secret itself remains: no temp files. */
	assert_int_equal(count_entries(ds_port_path(DS_PATH_SECRET)), 1);
	ds_free(stale);
}

static void test_secret_symlinks_refused(void **state)
{
	char *target = tmp_path("p/outside"), *link = tmp_path("p/deep/secrets/evil");
	char out[64];
	size_t len;
	char *content;

	(void)state;
	write_file(target, "not a secret");
	assert_int_equal(symlink(target, link), 0);
	/* Reading through a planted link fails (O_NOFOLLOW) ... */
	assert_int_equal(ds_port_secret_unseal("evil", out, sizeof(out)), -ELOOP);
	/* ... and writing replaces the link instead of writing through it. */
	assert_int_equal(ds_port_secret_seal("evil", "k", 1), 0);
	content = slurp(target, &len);
	assert_string_equal(content, "not a secret");
	assert_int_equal(mode_of(link) & 0777, 0600);
	ds_free(content);
	ds_free(target);
	ds_free(link);
}

static void test_secret_dir_mode_repaired(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(chmod(ds_port_path(DS_PATH_SECRET), 0755), 0);
	assert_int_equal(ds_port_secret_seal("k", "v", 1), 0);
	assert_int_equal(mode_of(ds_port_path(DS_PATH_SECRET)), 0700);
	/* The secret dir vanished (factory reset of the data partition): recreated. */
	assert_int_equal(ds_port_secret_erase("k"), 0);
	assert_int_equal(rmdir(ds_port_path(DS_PATH_SECRET)), 0);
	assert_int_equal(ds_port_secret_unseal("k", out, sizeof(out)), -ENOENT);
	assert_int_equal(mode_of(ds_port_path(DS_PATH_SECRET)), 0700);
}

/* ---- entropy, wake locks, names ------------------------------------------------------------- */

static void test_entropy(void **state)
{
	unsigned char a[32], b[32], zero[32] = { 0 };
	unsigned char *big = ds_malloc(100000);
	size_t nz = 0;

	(void)state;
	assert_int_equal(ds_port_entropy(a, sizeof(a)), 0);
	assert_int_equal(ds_port_entropy(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, zero, sizeof(a));
	/* Beyond 256 bytes getrandom() may return short reads: all of it must be filled. */
	assert_non_null(big);
	memset(big, 0, 100000);
	assert_int_equal(ds_port_entropy(big, 100000), 0);
	for (size_t i = 99000; i < 100000; i++)
		nz += big[i] != 0;
	assert_true(nz > 900);
	assert_int_equal(ds_port_entropy(NULL, 0), 0);
	assert_int_equal(ds_port_entropy(NULL, 1), -EINVAL);
	ds_free(big);
}

static void test_wakelock_sysfs(void **state)
{
	char *dir = tmp_path("power"), *lock = tmp_path("power/wake_lock"),
	     *unlock = tmp_path("power/wake_unlock"), *c;

	(void)state;
	write_file(lock, "");
	write_file(unlock, "");
	assert_int_equal(ds_port_wakelock_init(dir), 0);
	assert_true(ds_port_wakelock_is_backed());
	assert_int_equal(ds_port_wake_lock("sync"), 0);
	assert_int_equal(ds_port_wake_lock("sync"), 0);
	assert_int_equal(ds_port_wake_lock("push"), 0);
	assert_int_equal(ds_port_wake_lock_count("sync"), 2);
	c = slurp(lock, NULL);
	assert_string_equal(c, "datasync.sync\ndatasync.push\n"); /* once per name */
	ds_free(c);
	assert_int_equal(ds_port_wake_unlock("sync"), 0);
	c = slurp(unlock, NULL);
	assert_string_equal(c, "");
	ds_free(c);
	assert_int_equal(ds_port_wake_unlock("sync"), 0);
	assert_int_equal(ds_port_wake_lock_count("sync"), 0);
	assert_int_equal(ds_port_wake_unlock("sync"), -ENOENT);
	assert_int_equal(ds_port_wake_lock("bad name"), -EINVAL);
	assert_int_equal(ds_port_wake_lock(NULL), -EINVAL);
	c = slurp(unlock, NULL);
	assert_string_equal(c, "datasync.sync\n");
	ds_free(c);
	/* Still-held locks are released at deinit. */
	ds_port_wakelock_deinit();
	c = slurp(unlock, NULL);
	assert_string_equal(c, "datasync.sync\ndatasync.push\n");
	ds_free(c);

	/* No wake lock files: counted no-ops. */
	assert_int_equal(ds_port_wakelock_init(NULL), 0);
	assert_false(ds_port_wakelock_is_backed());
	assert_int_equal(ds_port_wake_lock("sync"), 0);
	assert_int_equal(ds_port_wake_lock_count("sync"), 1);
	assert_int_equal(ds_port_wake_unlock("sync"), 0);
	assert_int_equal(ds_port_wake_unlock("sync"), -ENOENT);
	ds_port_wakelock_deinit();
	ds_free(dir);
	ds_free(lock);
	ds_free(unlock);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(ds_net_type_name(DS_NET_NONE), "none");
	assert_string_equal(ds_net_type_name(DS_NET_CELLULAR), "cellular");
	assert_string_equal(ds_net_type_name((enum ds_net_type)42), "?");
	assert_string_equal(ds_power_source_name(DS_POWER_BATTERY), "battery");
	assert_string_equal(ds_power_source_name((enum ds_power_source)-1), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_power_fixtures),
		cmocka_unit_test(test_power_missing_dir),
		cmocka_unit_test(test_net_classify),
		cmocka_unit_test(test_nl_pick_lowest_metric),
		cmocka_unit_test(test_nl_ipv4_before_ipv6_and_multipath),
		cmocka_unit_test(test_nl_errors),
		cmocka_unit_test(test_netlink_live),
		cmocka_unit_test(test_monitor_power_polling),
		cmocka_unit_test(test_monitor_netlink),
		cmocka_unit_test_setup_teardown(test_paths_created_0700, setup_port, teardown_port),
		cmocka_unit_test_setup_teardown(test_secret_roundtrip, setup_port, teardown_port),
		cmocka_unit_test_setup_teardown(test_secret_errors, setup_port, teardown_port),
		cmocka_unit_test_setup_teardown(test_secret_atomic_overwrite, setup_port,
						teardown_port),
		cmocka_unit_test_setup_teardown(test_secret_symlinks_refused, setup_port,
						teardown_port),
		cmocka_unit_test_setup_teardown(test_secret_dir_mode_repaired, setup_port,
						teardown_port),
		cmocka_unit_test(test_entropy),
		cmocka_unit_test(test_wakelock_sysfs),
		cmocka_unit_test(test_names),
	};
	const char *t = getenv("DS_TEST_TMP");
	int rc;

	if (t && *t) {
		snprintf(g_tmp, sizeof(g_tmp), "%s/port_posix", t);
	} else {
		const char *base = getenv("TMPDIR");

		snprintf(g_tmp, sizeof(g_tmp), "%s/dsport-XXXXXX", base && *base ? base : ".");
		if (!mkdtemp(g_tmp))
			return 1;
	}
	if (ds_port_mkdirs(g_tmp, 0700))
		return 1;
	umask(022);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rm_rf(g_tmp);
	return rc;
}
