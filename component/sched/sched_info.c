/* The scheduler explains itself: per-collection state and reasons, names, durations. */
#include "core/ds_core.h"
#include "sched/ds_sched.h"
#include "sched/sched_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Each enum's names as one word list, in the order of its values: every name ends with its '\0'
 * and the list with an empty word, so there is no table of pointers to store and relocate.
 */
static const char reason_names[] = "periodic\0flex\0local changes\0push\0app request\0user request\0resume\0"
				   "retry\0first sync\0";
static const char block_names[] = "ok\0disabled\0offline\0metered\0not-charging\0battery\0power-save\0"
				  "backoff\0server-backoff\0retry-after\0";
static const char prio_names[] = "low\0normal\0urgent\0";

/* Word v of the list, or the empty word at its end when v is past it. */
static const char *word(const char *list, unsigned v)
{
	while (*list && v--)
		list += strlen(list) + 1;
	return list;
}

/* Every value of the three enums has its name; "?" for a value out of range, or one added to an
 * enum without a name here. */
static const char *name_of(const char *list, unsigned v)
{
	const char *w = word(list, v);

	return *w ? w : "?";
}

const char *ds_sched_reason_name(enum ds_sched_reason r)
{
	return name_of(reason_names, (unsigned)r);
}

const char *ds_sched_block_name(enum ds_sched_block b)
{
	return name_of(block_names, (unsigned)b);
}

const char *ds_sched_priority_name(enum ds_sched_priority p)
{
	return name_of(prio_names, (unsigned)p);
}

int ds_sched_priority_parse(const char *s, enum ds_sched_priority *out)
{
	unsigned i = 0;

	for (const char *w = prio_names; s && *w; w = word(w, 1), i++)
		if (!strcmp(s, w)) {
			*out = (enum ds_sched_priority)i;
			return 0;
		}
	return -EINVAL;
}

/* Append v and its unit at buf + n unless buf is full; the new length as snprintf counts it. */
static int append(char *buf, size_t cap, int n, int64_t v, char unit)
{
	if ((size_t)n >= cap)
		return n;
	return n + snprintf(buf + n, cap - (size_t)n, "%lld%c", (long long)v, unit);
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
		n = append(buf, cap, n, d, 'd');
	if (h)
		n = append(buf, cap, n, h, 'h');
	if (m && !d)
		n = append(buf, cap, n, m, 'm');
	if ((s % 60 || !n) && !d && !h)
		append(buf, cap, n, s % 60, 's');
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
	const char *fixed = e->running ? "running" : !e->enabled ? "disabled" :
			    due < 0 ? "no periodic sync: waits for a change, a push or a request" : NULL;

	if (fixed) {
		snprintf(o->why, sizeof(o->why), "%s", fixed);
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
