/*
 * sched_day: a simulated day for the scheduler, in virtual time (seconds of CPU for a day).
 *
 *   sched_day [--policy sched|naive|firefox] [--json] [--trace] [--change-poll S] [--set KEY=N]... SCRIPT
 *
 * --trace prints one line per run on stderr: "run SECONDS NAME ok|failed".
 * --change-poll S: datasyncd sees local edits only when it polls the change logs
 *   (component/daemon/changes.c): every S seconds while edits come, doubling to 4 S while none
 *   do, 4 S while idle (screen off). Default CONFIG_DS_SCHED_CHANGE_POLL_S; 0: every edit is
 *   seen at once. Only the "sched" policy polls: Firefox desktop observes its own edits.
 * --set KEY=N overrides a scheduler setting (struct ds_sched_config), to explore the policy:
 *   local_delay, local_spacing, debounce, debounce_max, threshold, flex_pct, flex_min (seconds,
 *   a duration, or a score).
 *
 * SCRIPT (test/data/sim/day.sched is the reference day):
 *   collection NAME interval=DUR [network=any|unmetered|none] [charging=yes] [battery=PCT]
 *              [priority=low|normal|urgent] [server=KEY] [duration=DUR]
 *   TIME net none|wifi|cellular|ethernet          (cellular is metered)
 *   TIME power battery PCT | power charging PCT [saver]
 *   TIME idle on|off
 *   TIME edit NAME COUNT [SCORE]                  COUNT local edits, one a second
 *   TIME push NAME
 *   TIME backoff SERVER SECONDS [hard]            the server asks to wait
 *   TIME fail NAME COUNT                          the next COUNT runs of NAME fail
 * TIME and DUR: 90s, 10m, 1h30m, 1d ('0' too). Lines are in time order; '#' comments.
 *
 * Runs are modelled, not performed: a run takes its collection's duration; the radio is up
 * from a batch's first networked run to its end plus the network's tail (cellular 10 s: the
 * LTE inactivity timer, scheduler.md §7; Wi-Fi 1 s: an assumption, Wi-Fi's power-save tail
 * is well under a second). Overlapping radio periods count as one session.
 *
 * Policies: "sched" is component/sched as datasyncd uses it; "naive" polls each collection on
 * its own fixed timer whenever there is a network (the timers start 7 minutes apart, in script
 * order, as if the collections had been registered one after the other); "firefox" is Firefox desktop's policy (one
 * sync of everything every 10 min while active, 1 h while idle, at once when the change score
 * reaches 300 or the network comes back; constants in scheduler.md §6), without constraints.
 */
#include "core/ds_core.h"
#include "sched/ds_sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXC 16
#define MAXEV 1024
#define MAXEDITS 4096
#define DAY_S 86400

struct coll {
	char name[DS_SCHED_NAME_MAX + 1];
	char server[DS_SCHED_SERVER_MAX + 1];
	struct ds_sched_policy pol;
	int64_t duration_s;
	unsigned runs, fails_left;
	int64_t naive_next;
	int64_t edits[MAXEDITS]; /* times of edits not uploaded yet */
	size_t nedits;
	int unseen_score;        /* edits the change poll has not seen yet */
};

struct event {
	int64_t t;
	char what[16];
	char a[DS_SCHED_SERVER_MAX + 1], b[32], c[32];
};

struct day {
	struct coll c[MAXC];
	size_t nc;
	struct event ev[MAXEV];
	size_t nev;
	/* device */
	struct ds_net_state net;
	struct ds_power_state power;
	bool idle;
	/* results */
	unsigned wakes, max_wakes_hour, hour_wakes[24], sessions, refused_user;
	int64_t radio_ms, radio_until, cell_sessions, wifi_sessions;
	int64_t delays[MAXEDITS * 4];
	size_t ndelays;
	unsigned long refused[DS_SCHED_BLOCK_COUNT];
	/* datasyncd's change poll */
	int64_t poll_next, poll_period;
	/* firefox */
	int score;
	int64_t ff_next;
	int64_t soft_until, hard_until;
};

static bool g_trace;
static int64_t g_change_poll = CONFIG_DS_SCHED_CHANGE_POLL_S;
static struct ds_sched_config g_cfg;

#define POLL_QUIET_FACTOR 4 /* component/daemon/changes.c */

/* KEY=N into g_cfg; 0 or -EINVAL. */
static int set_knob(const char *kv)
{
	static const struct {
		const char *key;
		int64_t *field;
	} knobs[] = {
		{ "local_delay", &g_cfg.local_delay_s }, { "local_spacing", &g_cfg.local_spacing_s },
		{ "debounce", &g_cfg.debounce_s },
		{ "debounce_max", &g_cfg.debounce_max_s }, { "flex_pct", &g_cfg.flex_pct },
		{ "flex_min", &g_cfg.flex_min_s },
	};
	const char *v = strchr(kv, '=');
	int64_t n;

	if (!v)
		return -EINVAL;
	if (ds_sched_duration_parse(v + 1, &n) && (n = atoll(v + 1)) <= 0)
		return -EINVAL;
	if (!strncmp(kv, "threshold=", 10)) {
		g_cfg.score_threshold = (int)DS_MIN(n, 1000000);
		return 0;
	}
	for (size_t i = 0; i < DS_ARRAY_SIZE(knobs); i++) {
		if (strlen(knobs[i].key) == (size_t)(v - kv) && !strncmp(kv, knobs[i].key, (size_t)(v - kv))) {
			*knobs[i].field = n;
			return 0;
		}
	}
	return -EINVAL;
}

static int die(const char *file, int line, const char *msg)
{
	fprintf(stderr, "%s:%d: %s\n", file, line, msg);
	return -EINVAL;
}

static int parse_kv(struct coll *c, const char *kv)
{
	const char *v = strchr(kv, '=');
	char key[32];

	if (!v || (size_t)(v - kv) >= sizeof(key))
		return -EINVAL;
	snprintf(key, sizeof(key), "%.*s", (int)(v - kv), kv);
	v++;
	if (!strcmp(key, "interval"))
		return ds_sched_duration_parse(v, &c->pol.interval_s);
	if (!strcmp(key, "duration"))
		return ds_sched_duration_parse(v, &c->duration_s);
	if (!strcmp(key, "battery")) {
		c->pol.c.min_battery_pct = atoi(v);
		return 0;
	}
	if (!strcmp(key, "charging")) {
		c->pol.c.charging_only = !strcmp(v, "yes");
		return 0;
	}
	if (!strcmp(key, "priority"))
		return ds_sched_priority_parse(v, &c->pol.priority);
	if (!strcmp(key, "server")) {
		snprintf(c->server, sizeof(c->server), "%s", v);
		return 0;
	}
	if (!strcmp(key, "network")) {
		c->pol.c.needs_network = strcmp(v, "none") != 0;
		c->pol.c.unmetered_only = !strcmp(v, "unmetered");
		return 0;
	}
	return -EINVAL;
}

static int load(struct day *d, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	int ln = 0;

	if (!f) {
		perror(path);
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char *tok[8], *save = NULL, *p = strchr(line, '#');
		int n = 0;

		ln++;
		if (p)
			*p = '\0';
		for (p = strtok_r(line, " \t\r\n", &save); p && n < 8; p = strtok_r(NULL, " \t\r\n", &save))
			tok[n++] = p;
		if (!n)
			continue;
		if (!strcmp(tok[0], "collection")) {
			struct coll *c;

			if (n < 2 || d->nc == MAXC)
				return die(path, ln, "collection NAME key=value...");
			c = &d->c[d->nc++];
			memset(c, 0, sizeof(*c));
			snprintf(c->name, sizeof(c->name), "%s", tok[1]);
			ds_sched_policy_defaults(&c->pol);
			c->pol.c.unmetered_only = false;
			c->pol.c.min_battery_pct = 15;
			c->duration_s = 5;
			for (int i = 2; i < n; i++)
				if (parse_kv(c, tok[i]))
					return die(path, ln, "bad collection option");
		} else {
			struct event *e;
			int64_t t;

			if (n < 2 || d->nev == MAXEV || ds_sched_duration_parse(tok[0], &t))
				return die(path, ln, "TIME EVENT [ARGS]");
			if (d->nev && t < d->ev[d->nev - 1].t)
				return die(path, ln, "time goes back");
			e = &d->ev[d->nev++];
			memset(e, 0, sizeof(*e));
			e->t = t;
			snprintf(e->what, sizeof(e->what), "%s", tok[1]);
			if (n > 2)
				snprintf(e->a, sizeof(e->a), "%s", tok[2]);
			if (n > 3)
				snprintf(e->b, sizeof(e->b), "%s", tok[3]);
			if (n > 4)
				snprintf(e->c, sizeof(e->c), "%s", tok[4]);
		}
	}
	fclose(f);
	return 0;
}

static struct coll *coll(struct day *d, const char *name)
{
	for (size_t i = 0; i < d->nc; i++)
		if (!strcmp(d->c[i].name, name))
			return &d->c[i];
	return NULL;
}

/* Apply one scripted event to the device model and, for "sched", to the scheduler. */
static int apply(struct day *d, const struct event *e, struct ds_sched *s, int64_t t)
{
	int64_t ms = t * 1000;

	if (!strcmp(e->what, "net")) {
		memset(&d->net, 0, sizeof(d->net));
		d->net.up = strcmp(e->a, "none") != 0;
		d->net.type = !strcmp(e->a, "wifi") ? DS_NET_WIFI : !strcmp(e->a, "cellular") ? DS_NET_CELLULAR :
			      !strcmp(e->a, "ethernet") ? DS_NET_ETHERNET : DS_NET_NONE;
		d->net.metered = d->net.type == DS_NET_CELLULAR;
		if (s)
			ds_sched_set_net(s, &d->net, ms);
		if (d->net.up && d->ff_next > t)
			d->ff_next = t; /* Firefox: link up -> sync now */
	} else if (!strcmp(e->what, "power")) {
		memset(&d->power, 0, sizeof(d->power));
		d->power.has_battery = true;
		d->power.battery_pct = atoi(e->b);
		d->power.charging = !strcmp(e->a, "charging");
		d->power.source = d->power.charging ? DS_POWER_MAINS : DS_POWER_BATTERY;
		d->power.power_save = !strcmp(e->c, "saver");
		if (s)
			ds_sched_set_power(s, &d->power, ms);
	} else if (!strcmp(e->what, "idle")) {
		d->idle = !strcmp(e->a, "on");
		if (s)
			ds_sched_set_idle(s, d->idle, ms);
		/* changes.c: screen off -> the quiet period at once; on -> the base period again. */
		d->poll_period = g_change_poll * (d->idle ? POLL_QUIET_FACTOR : 1);
		if (!d->idle)
			d->poll_next = DS_MIN(d->poll_next, t + d->poll_period);
	} else if (!strcmp(e->what, "edit")) {
		/* expanded by the caller into one edit a second */
	} else if (!strcmp(e->what, "push")) {
		if (s && ds_sched_push_wakeup(s, e->a, ms))
			return -ENOENT;
		if (!s && coll(d, e->a))
			d->ff_next = DS_MIN(d->ff_next, t); /* both others just sync on a push */
	} else if (!strcmp(e->what, "backoff")) {
		int64_t secs = atoll(e->b);
		bool hard = !strcmp(e->c, "hard");

		if (s)
			ds_sched_server_backoff(s, e->a, hard ? DS_SCHED_BACKOFF_HARD : DS_SCHED_BACKOFF_SOFT, secs, ms);
		if (hard)
			d->hard_until = DS_MAX(d->hard_until, t + secs);
		else
			d->soft_until = DS_MAX(d->soft_until, t + secs);
	} else if (!strcmp(e->what, "fail")) {
		struct coll *c = coll(d, e->a);

		if (!c)
			return -ENOENT;
		c->fails_left = (unsigned)atoi(e->b);
	} else {
		return -EINVAL;
	}
	return 0;
}

/* The radio is needed from start for dur seconds: merge with a session still in its tail. */
static void radio(struct day *d, int64_t start_ms, int64_t end_ms)
{
	int64_t tail = d->net.type == DS_NET_CELLULAR ? 10000 : d->net.type == DS_NET_WIFI ? 1000 : 0;
	int64_t until = end_ms + tail;

	if (start_ms > d->radio_until) {
		d->sessions++;
		if (d->net.type == DS_NET_CELLULAR)
			d->cell_sessions++;
		else
			d->wifi_sessions++;
		d->radio_ms += until - start_ms;
	} else if (until > d->radio_until) {
		d->radio_ms += until - d->radio_until;
	}
	d->radio_until = DS_MAX(d->radio_until, until);
}

/* A run of c from t (s): edits made before t reach the server at its end. Returns 0 or -EIO. */
static int run(struct day *d, struct coll *c, int64_t t)
{
	int64_t end = t + c->duration_s;
	size_t keep = 0;

	c->runs++;
	/* The run uploads the whole change log: what the poll had not seen leaves it too. */
	c->unseen_score = 0;
	if (c->pol.c.needs_network)
		radio(d, t * 1000, end * 1000);
	if (g_trace)
		fprintf(stderr, "run %lld %s %s\n", (long long)t, c->name, c->fails_left ? "failed" : "ok");
	if (c->fails_left) {
		c->fails_left--;
		return -EIO;
	}
	for (size_t i = 0; i < c->nedits; i++) {
		if (c->edits[i] < t && d->ndelays < DS_ARRAY_SIZE(d->delays))
			d->delays[d->ndelays++] = end - c->edits[i];
		else
			c->edits[keep++] = c->edits[i];
	}
	c->nedits = keep;
	return 0;
}

static void wake(struct day *d, int64_t t)
{
	d->wakes++;
	d->hour_wakes[(t / 3600) % 24]++;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void add_edits(struct day *d, const struct event *e, struct ds_sched *s, int64_t t, int *pending_score)
{
	/* Edits are spread one a second from the event's time: add the one due at t. */
	long count = atol(e->b);
	int score = e->c[0] ? atoi(e->c) : DS_SCHED_SCORE_SMALL;
	struct coll *c = coll(d, e->a);

	if (!c || t >= e->t + count || t < e->t || c->nedits == MAXEDITS)
		return;
	c->edits[c->nedits++] = t;
	if (s && g_change_poll > 0)
		c->unseen_score += score;
	else if (s)
		ds_sched_local_change(s, c->name, score, t * 1000);
	if (pending_score)
		*pending_score += score;
}

/* datasyncd's change poll at t: feed what it finds, adapt its period as changes.c does. */
static void change_poll(struct day *d, struct ds_sched *s, int64_t t)
{
	int64_t base = g_change_poll;
	bool fed = false;

	if (t < d->poll_next)
		return;
	for (size_t i = 0; i < d->nc; i++) {
		if (!d->c[i].unseen_score)
			continue;
		ds_sched_local_change(s, d->c[i].name, d->c[i].unseen_score, t * 1000);
		d->c[i].unseen_score = 0;
		fed = true;
	}
	d->poll_period = fed ? base : DS_MIN(d->poll_period * 2, base * POLL_QUIET_FACTOR);
	if (d->idle)
		d->poll_period = base * POLL_QUIET_FACTOR;
	d->poll_next = t + d->poll_period;
}

static int simulate(struct day *d, const char *policy)
{
	struct ds_sched_config cfg;
	struct ds_sched *s = NULL;
	size_t next_ev = 0, nactive = 0;
	const struct event *active[MAXEV];
	bool sched = !strcmp(policy, "sched"), naive = !strcmp(policy, "naive");
	int64_t busy_until = 0;
	int rc;

	cfg = g_cfg;
	d->poll_period = g_change_poll;
	d->poll_next = g_change_poll;
	for (size_t i = 0; i < d->nc; i++)
		d->c[i].naive_next = (int64_t)i * 420;
	if (sched) {
		rc = ds_sched_new(&cfg, &s);
		if (rc)
			return rc;
		ds_sched_set_net(s, &d->net, 0);
		ds_sched_set_power(s, &d->power, 0);
		for (size_t i = 0; i < d->nc; i++) {
			rc = ds_sched_add(s, d->c[i].name, NULL, d->c[i].server, &d->c[i].pol, false, 0);
			if (rc) {
				fprintf(stderr, "collection %s refused: %s\n", d->c[i].name, ds_strerror(rc));
				ds_sched_free(s);
				return rc;
			}
		}
	}
	for (int64_t t = 0; t < DAY_S; t++) {
		while (next_ev < d->nev && d->ev[next_ev].t <= t) {
			const struct event *e = &d->ev[next_ev++];

			if (!strcmp(e->what, "edit"))
				active[nactive++] = e;
			else if ((rc = apply(d, e, s, t))) {
				fprintf(stderr, "event at %llds: %s %s: %s\n", (long long)e->t, e->what, e->a,
					ds_strerror(rc));
				ds_sched_free(s);
				return rc;
			}
		}
		for (size_t i = 0; i < nactive; i++)
			add_edits(d, active[i], s, t, sched ? NULL : &d->score);
		if (sched && g_change_poll > 0)
			change_poll(d, s, t);
		if (t < busy_until)
			continue;
		if (sched) {
			struct ds_sched_batch b;
			size_t n = ds_sched_poll(s, t * 1000, &b);
			int64_t at = t;

			if (!n)
				continue;
			wake(d, t);
			for (size_t i = 0; i < n; i++) {
				struct coll *c = coll(d, b.item[i].name);

				/* The budget counts from the wake: what has not started by then waits. */
				if (at * 1000 >= b.deadline_ms) {
					ds_sched_cut(s, c->name, at * 1000);
					continue;
				}
				rc = run(d, c, at);
				at += c->duration_s;
				ds_sched_done(s, c->name, rc, at * 1000);
			}
			busy_until = at;
		} else if (naive) {
			bool woke = false;
			int64_t at = t;

			for (size_t i = 0; i < d->nc; i++) {
				struct coll *c = &d->c[i];

				if (c->naive_next > t || !d->net.up || t < d->hard_until || t < d->soft_until)
					continue;
				if (!woke)
					wake(d, t);
				woke = true;
				run(d, c, at);
				at += c->duration_s;
				c->naive_next = t + c->pol.interval_s;
			}
			busy_until = at;
		} else {
			int64_t at = t;

			if (d->score >= 300)
				d->ff_next = t; /* Firefox: score over the threshold -> sync now */
			if (d->ff_next > t || !d->net.up || t < d->hard_until || t < d->soft_until)
				continue;
			wake(d, t);
			for (size_t i = 0; i < d->nc; i++) {
				run(d, &d->c[i], at);
				at += d->c[i].duration_s;
			}
			d->score = 0;
			busy_until = at;
			d->ff_next = t + (d->idle ? 3600 : 600);
		}
	}
	if (s) {
		const struct ds_sched_stats *st = ds_sched_stats(s);

		memcpy(d->refused, st->refused, sizeof(d->refused));
		d->refused_user = st->user_refused;
	}
	ds_sched_free(s);
	for (int h = 0; h < 24; h++)
		d->max_wakes_hour = DS_MAX(d->max_wakes_hour, d->hour_wakes[h]);
	return 0;
}

static void report(struct day *d, const char *policy, bool json)
{
	int64_t med = -1, p90 = -1, max = -1;
	size_t pending = 0;

	qsort(d->delays, d->ndelays, sizeof(d->delays[0]), cmp64);
	if (d->ndelays) {
		med = d->delays[d->ndelays / 2];
		p90 = d->delays[d->ndelays * 9 / 10];
		max = d->delays[d->ndelays - 1];
	}
	for (size_t i = 0; i < d->nc; i++)
		pending += d->c[i].nedits;
	if (json) {
		printf("{\"policy\":\"%s\",\"wakes\":%u,\"max_wakes_per_hour\":%u,\"radio_sessions\":%u,"
		       "\"cellular_sessions\":%lld,\"wifi_sessions\":%lld,\"radio_on_s\":%.1f,"
		       "\"changes\":%zu,\"changes_pending\":%zu,\"delay_median_s\":%lld,\"delay_p90_s\":%lld,"
		       "\"delay_max_s\":%lld,\"runs\":{",
		       policy, d->wakes, d->max_wakes_hour, d->sessions, (long long)d->cell_sessions,
		       (long long)d->wifi_sessions, d->radio_ms / 1000.0, d->ndelays, pending, (long long)med,
		       (long long)p90, (long long)max);
		for (size_t i = 0; i < d->nc; i++)
			printf("%s\"%s\":%u", i ? "," : "", d->c[i].name, d->c[i].runs);
		printf("},\"refused\":{");
		for (int i = 1, first = 1; i < DS_SCHED_BLOCK_COUNT; i++)
			if (d->refused[i]) {
				printf("%s\"%s\":%lu", first ? "" : ",", ds_sched_block_name((enum ds_sched_block)i),
				       d->refused[i]);
				first = 0;
			}
		printf("}}\n");
		return;
	}
	printf("policy %s\n", policy);
	printf("  wake-ups:        %u (at most %u in one hour)\n", d->wakes, d->max_wakes_hour);
	printf("  radio sessions:  %u (cellular %lld, wifi %lld), radio on %.0f s\n", d->sessions,
	       (long long)d->cell_sessions, (long long)d->wifi_sessions, d->radio_ms / 1000.0);
	printf("  runs:           ");
	for (size_t i = 0; i < d->nc; i++)
		printf(" %s %u", d->c[i].name, d->c[i].runs);
	printf("\n  changes:         %zu reached the server, %zu still pending at the end of the day\n",
	       d->ndelays, pending);
	if (d->ndelays)
		printf("  change delay:    median %llds, 90th percentile %llds, max %llds\n", (long long)med,
		       (long long)p90, (long long)max);
	printf("  held back:      ");
	for (int i = 1; i < DS_SCHED_BLOCK_COUNT; i++)
		if (d->refused[i])
			printf(" %s %lu", ds_sched_block_name((enum ds_sched_block)i), d->refused[i]);
	printf("\n");
}

int main(int argc, char **argv)
{
	const char *policy = "sched", *script = NULL;
	bool json = false;
	struct day *d;
	int rc;

	ds_sched_config_defaults(&g_cfg);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--policy") && i + 1 < argc)
			policy = argv[++i];
		else if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--trace"))
			g_trace = true;
		else if (!strcmp(argv[i], "--change-poll") && i + 1 < argc)
			g_change_poll = atoll(argv[++i]);
		else if (!strcmp(argv[i], "--set") && i + 1 < argc && !set_knob(argv[i + 1]))
			i++;
		else if (argv[i][0] != '-' && !script)
			script = argv[i];
		else
			script = NULL, i = argc;
	}
	if (!script || (strcmp(policy, "sched") && strcmp(policy, "naive") && strcmp(policy, "firefox"))) {
		fprintf(stderr, "usage: sched_day [--policy sched|naive|firefox] [--json] [--trace] [--change-poll S] "
				"[--set KEY=N]... SCRIPT\n");
		return 2;
	}
	ds_log_set_max_level(DS_LOG_WRN);
	d = calloc(1, sizeof(*d));
	if (!d)
		return 1;
	/* Before any event: online on Wi-Fi, plugged in (the sim port's start is offline; a day
	 * script says where the device is at 0). */
	d->power.source = DS_POWER_MAINS;
	d->power.battery_pct = -1;
	rc = load(d, script);
	if (!rc)
		rc = simulate(d, policy);
	if (!rc)
		report(d, policy, json);
	free(d);
	return rc ? 1 : 0;
}
