/* The scheduler explains itself: per-collection state and reasons, names, durations. */
#include "core/ds_core.h"
#include "sched/ds_sched.h"
#include "sched/sched_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ds_sched_reason_name(enum ds_sched_reason r)
{
	switch (r) {
	case DS_SCHED_WHY_PERIODIC: return "periodic";
	case DS_SCHED_WHY_FLEX: return "flex";
	case DS_SCHED_WHY_LOCAL: return "local changes";
	case DS_SCHED_WHY_PUSH: return "push";
	case DS_SCHED_WHY_APP: return "app request";
	case DS_SCHED_WHY_USER: return "user request";
	case DS_SCHED_WHY_RESUME: return "resume";
	case DS_SCHED_WHY_RETRY: return "retry";
	case DS_SCHED_WHY_FIRST: return "first sync";
	}
	return "?";
}

const char *ds_sched_block_name(enum ds_sched_block b)
{
	switch (b) {
	case DS_SCHED_OK: return "ok";
	case DS_SCHED_BLOCK_DISABLED: return "disabled";
	case DS_SCHED_BLOCK_OFFLINE: return "offline";
	case DS_SCHED_BLOCK_METERED: return "metered";
	case DS_SCHED_BLOCK_NOT_CHARGING: return "not-charging";
	case DS_SCHED_BLOCK_BATTERY: return "battery";
	case DS_SCHED_BLOCK_POWER_SAVE: return "power-save";
	case DS_SCHED_BLOCK_BACKOFF: return "backoff";
	case DS_SCHED_BLOCK_SERVER_BACKOFF: return "server-backoff";
	case DS_SCHED_BLOCK_RETRY_AFTER: return "retry-after";
	case DS_SCHED_BLOCK_COUNT: break;
	}
	return "?";
}

static const char *const prio_names[] = { "low", "normal", "urgent" };

const char *ds_sched_priority_name(enum ds_sched_priority p)
{
	return (unsigned)p < DS_ARRAY_SIZE(prio_names) ? prio_names[p] : "?";
}

int ds_sched_priority_parse(const char *s, enum ds_sched_priority *out)
{
	for (size_t i = 0; s && i < DS_ARRAY_SIZE(prio_names); i++)
		if (!strcmp(s, prio_names[i])) {
			*out = (enum ds_sched_priority)i;
			return 0;
		}
	return -EINVAL;
}

void ds_sched_duration_text(int64_t ms, char *buf, size_t cap)
{
	int64_t s = (ms + 999) / 1000, d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60;
	int n = 0;

	if (!cap)
		return;
	buf[0] = '\0';
	if (ms < 0)
		s = d = h = m = 0;
	if (d)
		n += snprintf(buf + n, cap - (size_t)n, "%lldd", (long long)d);
	if (h && (size_t)n < cap)
		n += snprintf(buf + n, cap - (size_t)n, "%lldh", (long long)h);
	if (m && !d && (size_t)n < cap)
		n += snprintf(buf + n, cap - (size_t)n, "%lldm", (long long)m);
	if ((s % 60 || !n) && !d && !h && (size_t)n < cap)
		snprintf(buf + n, cap - (size_t)n, "%llds", (long long)(s % 60));
}

int ds_sched_duration_parse(const char *text, int64_t *seconds)
{
	const char *p = text;
	int64_t total = 0;

	if (!text || !*text)
		return -EINVAL;
	while (*p) {
		char *end;
		unsigned long long v;
		int64_t unit;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		v = strtoull(p, &end, 10);
		if (errno || v > 100000000ULL)
			return -EINVAL;
		switch (*end) {
		case '\0': unit = 1; break;
		case 's': unit = 1; end++; break;
		case 'm': unit = 60; end++; break;
		case 'h': unit = 3600; end++; break;
		case 'd': unit = 86400; end++; break;
		default: return -EINVAL;
		}
		/* A bare number is only allowed alone: "90" but not "1h30". */
		if (unit == 1 && *end == '\0' && end[-1] >= '0' && end[-1] <= '9' && p != text)
			return -EINVAL;
		total += (int64_t)v * unit;
		if (total > INT64_C(100000000))
			return -EINVAL;
		p = end;
	}
	*seconds = total;
	return 0;
}

static void explain(struct ds_sched *s, const struct sched_entry *e, int64_t now, struct ds_sched_info *o)
{
	enum ds_sched_reason why;
	char hold[120], when[32];
	int64_t due = ds_sched__due(s, e, &why);

	o->block = ds_sched__block(s, e, now, hold, sizeof(hold));
	if (e->running) {
		snprintf(o->why, sizeof(o->why), "running");
		return;
	}
	if (!e->enabled) {
		snprintf(o->why, sizeof(o->why), "disabled");
		return;
	}
	if (due < 0) {
		snprintf(o->why, sizeof(o->why), "no periodic sync: waits for a change, a push or a request");
		return;
	}
	if (due > now) {
		ds_sched_duration_text(due - now, when, sizeof(when));
		snprintf(o->why, sizeof(o->why), "due in %s (%s)", when, ds_sched_reason_name(why));
		return;
	}
	if (o->block == DS_SCHED_OK)
		snprintf(o->why, sizeof(o->why), "due now (%s)", ds_sched_reason_name(why));
	else
		snprintf(o->why, sizeof(o->why), "due (%s), waiting: %s", ds_sched_reason_name(why), hold);
}

static void fill(struct ds_sched *s, const struct sched_entry *e, int64_t now, struct ds_sched_info *o)
{
	memset(o, 0, sizeof(*o));
	memcpy(o->name, e->name, sizeof(o->name));
	memcpy(o->title, e->title, sizeof(o->title));
	memcpy(o->server, e->server, sizeof(o->server));
	o->policy = e->pol;
	o->enabled = e->enabled;
	o->app_task = e->app_task;
	o->running = e->running;
	o->last_run_ms = e->last_run_ms;
	o->last_ok_ms = e->last_ok_ms;
	o->next_ms = ds_sched__due(s, e, NULL);
	o->not_before_ms = ds_sched__not_before(s, e, NULL);
	if (o->not_before_ms <= now)
		o->not_before_ms = -1;
	o->score = e->score;
	o->errors = e->errors;
	explain(s, e, now, o);
}

int ds_sched_info_at(struct ds_sched *s, size_t i, int64_t now_ms, struct ds_sched_info *out)
{
	if (i >= s->n)
		return -ENOENT;
	fill(s, &s->e[i], now_ms, out);
	return 0;
}

int ds_sched_info(struct ds_sched *s, const char *name, int64_t now_ms, struct ds_sched_info *out)
{
	const struct sched_entry *e = ds_sched__find(s, name);

	if (!e)
		return -ENOENT;
	fill(s, e, now_ms, out);
	return 0;
}
