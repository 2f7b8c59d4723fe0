/* The sim port's event script parser: one event per line, "<time> <what> [args]". */
#include "core/ds_core.h"
#include "port/sim/ds_sim.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKENS 8

int ds_sim_parse_time(const char *tok, int64_t *ms)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = { { "ms", 1 },	  { "d", 86400000 }, { "h", 3600000 },
		      { "m", 60000 }, { "s", 1000 } };
	int64_t total = 0;
	const char *p = tok;

	if (!tok || !*tok || !ms)
		return -EINVAL;
	if (strcmp(tok, "0") == 0) {
		*ms = 0;
		return 0;
	}
	while (*p) {
		int64_t v = 0;
		size_t u;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (v > (INT64_MAX - 9) / 10)
				return -EINVAL;
			v = v * 10 + (*p - '0');
		}
		/* "ms" before "m": the longest unit that matches. */
		for (u = 0; u < DS_ARRAY_SIZE(units); u++)
			if (strncmp(p, units[u].unit, strlen(units[u].unit)) == 0)
				break;
		if (u == DS_ARRAY_SIZE(units))
			return -EINVAL;
		if (v > (INT64_MAX - total) / units[u].ms)
			return -EINVAL;
		total += v * units[u].ms;
		p += strlen(units[u].unit);
	}
	*ms = total;
	return 0;
}

struct parser {
	const char *name;
	unsigned line;
	const struct ds_board *b;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!ps->err || !ps->errlen)
		return -EINVAL;
	n = snprintf(ps->err, ps->errlen, "%s:%u: ", ps->name, ps->line);
	if (n >= 0 && (size_t)n < ps->errlen) {
		va_start(ap, fmt);
		vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int parse_pct(struct parser *ps, const char *tok, int *out)
{
	char *end;
	long v;

	if (!tok)
		return fail(ps, "missing battery percentage");
	errno = 0;
	v = strtol(tok, &end, 10);
	if (errno || end == tok || (*end && strcmp(end, "%") != 0) || v < 0 || v > 100)
		return fail(ps, "battery percentage '%s' is not 0..100", tok);
	*out = (int)v;
	return 0;
}

/* power battery <pct> | charging <pct> | mains [<pct>] | unknown, then flags low, saver. */
static int parse_power(struct parser *ps, char **tok, int ntok, struct ds_port_event *ev)
{
	struct ds_power_state *p = &ev->u.power;
	bool force_low = false;
	int i = 1, rc;

	ev->type = DS_EV_POWER;
	*p = (struct ds_power_state){ .battery_pct = -1 };
	if (ntok < 1)
		return fail(ps, "power: expected battery, charging, mains or unknown");
	if (strcmp(tok[0], "battery") == 0 || strcmp(tok[0], "charging") == 0) {
		rc = parse_pct(ps, ntok > 1 ? tok[1] : NULL, &p->battery_pct);
		if (rc)
			return rc;
		i = 2;
		p->has_battery = true;
		p->charging = tok[0][0] == 'c';
		p->source = p->charging ? DS_POWER_MAINS : DS_POWER_BATTERY;
	} else if (strcmp(tok[0], "mains") == 0) {
		p->source = DS_POWER_MAINS;
		if (ntok > 1 && tok[1][0] >= '0' && tok[1][0] <= '9') {
			rc = parse_pct(ps, tok[1], &p->battery_pct);
			if (rc)
				return rc;
			p->has_battery = true;
			i = 2;
		}
	} else if (strcmp(tok[0], "unknown") == 0) {
		p->source = DS_POWER_UNKNOWN;
	} else {
		return fail(ps, "power: unknown state '%s' (battery, charging, mains, unknown)",
			    tok[0]);
	}
	for (; i < ntok; i++) {
		if (strcmp(tok[i], "low") == 0)
			force_low = true;
		else if (strcmp(tok[i], "saver") == 0)
			p->power_save = true;
		else
			return fail(ps, "power: unexpected '%s' (flags: low, saver)", tok[i]);
	}
	if (force_low && p->source != DS_POWER_BATTERY)
		return fail(ps, "power: 'low' applies only on battery");
	/* Same rule as the posix port: the board threshold unless the OS (script) says low. */
	p->low_battery = p->source == DS_POWER_BATTERY &&
			 (force_low || p->battery_pct < ps->b->low_battery_pct);
	return 0;
}

static void default_ifname(const struct ds_board *b, enum ds_net_type t, char *out, size_t cap)
{
	const char *const *pre = t == DS_NET_WIFI ? b->wifi_ifnames :
				 t == DS_NET_CELLULAR ? b->cellular_ifnames : NULL;
	const char *base = t == DS_NET_ETHERNET ? "eth" : t == DS_NET_OTHER ? "tun" : "if";

	if (pre && pre[0] && pre[0][0])
		base = pre[0];
	snprintf(out, cap, "%.*s0", (int)(cap - 2), base);
}

/* net down | net <ethernet|wifi|cellular|other> [up|down] [metered|unmetered] [if=<name>] */
static int parse_net(struct parser *ps, char **tok, int ntok, struct ds_port_event *ev)
{
	static const enum ds_net_type types[] = { DS_NET_ETHERNET, DS_NET_WIFI, DS_NET_CELLULAR,
						  DS_NET_OTHER };
	struct ds_net_state *n = &ev->u.net;
	bool down = false, metered_set = false;
	const char *ifname = NULL;
	size_t t;

	ev->type = DS_EV_NET;
	memset(n, 0, sizeof(*n));
	if (ntok < 1)
		return fail(ps, "net: expected down, ethernet, wifi, cellular or other");
	if (strcmp(tok[0], "down") == 0) {
		if (ntok > 1)
			return fail(ps, "net: unexpected '%s' after down", tok[1]);
		return 0;
	}
	for (t = 0; t < DS_ARRAY_SIZE(types); t++)
		if (strcmp(tok[0], ds_net_type_name(types[t])) == 0)
			break;
	if (t == DS_ARRAY_SIZE(types))
		return fail(ps, "net: unknown network type '%s' (ethernet, wifi, cellular, other)",
			    tok[0]);
	n->type = types[t];
	n->metered = n->type == DS_NET_CELLULAR;
	for (int i = 1; i < ntok; i++) {
		if (strcmp(tok[i], "up") == 0) {
			down = false;
		} else if (strcmp(tok[i], "down") == 0) {
			down = true;
		} else if (strcmp(tok[i], "metered") == 0 || strcmp(tok[i], "unmetered") == 0) {
			if (metered_set)
				return fail(ps, "net: metered given twice");
			metered_set = true;
			n->metered = tok[i][0] == 'm';
		} else if (strncmp(tok[i], "if=", 3) == 0) {
			ifname = tok[i] + 3;
			if (!*ifname || strlen(ifname) >= sizeof(n->ifname) || strchr(ifname, '/'))
				return fail(ps, "net: interface name '%s' is not 1..%zu bytes "
					    "without '/'", ifname, sizeof(n->ifname) - 1);
		} else {
			return fail(ps, "net: unexpected '%s' (up, down, metered, unmetered, "
				    "if=NAME)", tok[i]);
		}
	}
	if (down) {
		memset(n, 0, sizeof(*n));
		return 0;
	}
	n->up = true;
	if (ifname)
		snprintf(n->ifname, sizeof(n->ifname), "%s", ifname);
	else
		default_ifname(ps->b, n->type, n->ifname, sizeof(n->ifname));
	return 0;
}

static int parse_line(struct parser *ps, char *line, int64_t prev_ms, struct ds_sim_event *out)
{
	char *tok[MAX_TOKENS + 1];
	char *save = NULL, *t;
	int ntok = 0;

	for (t = strtok_r(line, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
		if (t[0] == '#')
			break;
		if (ntok == MAX_TOKENS)
			return fail(ps, "too many words (at most %d)", MAX_TOKENS);
		tok[ntok++] = t;
	}
	if (ntok == 0)
		return 1; /* blank or comment */
	if (ds_sim_parse_time(tok[0], &out->at_ms))
		return fail(ps, "bad time '%s' (e.g. 0s, 90s, 10m30s, 1h, 1d, 250ms)", tok[0]);
	if (out->at_ms < prev_ms)
		return fail(ps, "time %s is before the previous event's (times never go back)",
			    tok[0]);
	if (ntok < 2)
		return fail(ps, "missing event after the time (net, power, idle, shutdown)");
	memset(&out->ev, 0, sizeof(out->ev));
	out->ev.mono_ms = out->at_ms;
	if (strcmp(tok[1], "net") == 0)
		return parse_net(ps, tok + 2, ntok - 2, &out->ev);
	if (strcmp(tok[1], "power") == 0)
		return parse_power(ps, tok + 2, ntok - 2, &out->ev);
	if (strcmp(tok[1], "idle") == 0) {
		if (ntok != 3 || (strcmp(tok[2], "on") != 0 && strcmp(tok[2], "off") != 0))
			return fail(ps, "idle: expected 'idle on' or 'idle off'");
		out->ev.type = DS_EV_IDLE;
		out->ev.u.idle = strcmp(tok[2], "on") == 0;
		return 0;
	}
	if (strcmp(tok[1], "shutdown") == 0) {
		if (ntok != 2)
			return fail(ps, "shutdown: unexpected '%s'", tok[2]);
		out->ev.type = DS_EV_SHUTDOWN;
		return 0;
	}
	return fail(ps, "unknown event '%s' (net, power, idle, shutdown)", tok[1]);
}

static int append(struct ds_sim_script *s, const struct ds_sim_event *e)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct ds_sim_event *ne = ds_realloc(s->ev, cap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		s->ev = ne;
		s->cap = cap;
	}
	s->ev[s->n++] = *e;
	return 0;
}

void ds_sim_script_free(struct ds_sim_script *s)
{
	if (!s)
		return;
	ds_free(s->ev);
	memset(s, 0, sizeof(*s));
}

int ds_sim_script_parse(const char *text, size_t len, const char *name, const struct ds_board *b,
			struct ds_sim_script *out, char *err, size_t errlen)
{
	struct parser ps = { .name = name ? name : "script", .b = b, .err = err, .errlen = errlen };
	struct ds_sim_script s = { 0 };
	int64_t prev = 0;
	size_t pos = 0;
	char *line = NULL;
	int rc = 0;

	if (!out || !b || (!text && len))
		return -EINVAL;
	if (err && errlen)
		err[0] = '\0';
	memset(out, 0, sizeof(*out));
	while (pos < len && rc == 0) {
		const char *eol = memchr(text + pos, '\n', len - pos);
		size_t n = eol ? (size_t)(eol - (text + pos)) : len - pos;
		struct ds_sim_event e;

		ps.line++;
		line = ds_strndup(text + pos, n);
		if (!line) {
			rc = -ENOMEM;
			break;
		}
		pos += n + (eol ? 1 : 0);
		if (strlen(line) != n) {
			rc = fail(&ps, "NUL byte in line");
		} else {
			rc = parse_line(&ps, line, prev, &e);
			if (rc == 1) {
				rc = 0;
			} else if (rc == 0) {
				rc = append(&s, &e);
				prev = e.at_ms;
			}
		}
		ds_free(line);
	}
	if (rc) {
		ds_sim_script_free(&s);
		return rc;
	}
	*out = s;
	return 0;
}
