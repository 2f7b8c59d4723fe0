/*
 * Local-change detection: the scheduler has change scores (ds_sched_local_change()), this
 * feeds them. Apps write their tables with their own SQLite connections, in their own
 * processes, so datasyncd cannot be told of a change; it looks. Each enabled table collection
 * has a read-only connection to the app's database, kept open (ds_table_pending_poll()); a
 * loop timer polls them all, and every key logged since the previous poll counts as a SMALL
 * change (Firefox desktop's SCORE_INCREMENT_SMALL, the increment of history visits: an app's
 * rows are many small edits). A burst of 50 inserts is one poll's count of 50, so it makes one
 * run, within local_delay_s of being seen (docs/scheduler.md).
 *
 * The period adapts, so an idle device does little:
 *  - nothing to watch (no enabled table collection): no timer at all;
 *  - a poll that saw changes keeps the base period (CONFIG_DS_SCHED_CHANGE_POLL_S): a person
 *    is editing, and the debounce rule wants to see the last edit of a burst soon;
 *  - each quiet poll doubles it, up to QUIET_FACTOR times the base; the screen going off
 *    (idle) sets it there at once, the screen coming on brings back the base period.
 * The timer is a plain loop timer, not a wake alarm: a suspended device is not woken for it.
 *
 * A collection whose run is queued or running is skipped: its run reads the same log, and
 * what it uploads leaves the log before the next poll.
 */
#define DS_LOG_TAG "sched"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_SCHED
#include "core/ds_core.h"
#include "core/ds_loop.h"
#include "daemon/ds_agent.h"
#include "daemon/ds_changes.h"
#include "daemon/ds_worker.h"
#include "engine/table/ds_table_pending.h"
#include "sched/ds_sched.h"
#include "store/ds_store.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* Loop timer ids are per loop: policy.c uses 2 and 3, tasks.c 5. */
enum { TIMER_CHANGES = 4 };

#define QUIET_FACTOR 4

struct watch {
	char name[DS_SCHED_NAME_MAX + 1];
	char *engine;  /* the engine configuration as text: a changed one is watched afresh */
	struct ds_table_pending *p;
	int last_err;  /* reported once, not at every poll */
};

struct ds_changes {
	struct watch *w;
	size_t n;
	int64_t period_ms;
	int64_t next_mono; /* -1: no timer */
	bool idle;
	unsigned long polls;   /* timer ticks that looked */
	unsigned long changes; /* keys fed to the scheduler */
};

static int64_t base_ms(void)
{
	return (int64_t)CONFIG_DS_SCHED_CHANGE_POLL_S * 1000;
}

static void watch_free(struct watch *w)
{
	ds_table_pending_close(w->p);
	cJSON_free(w->engine);
}

static void arm(struct ds_agent *a);

static void tick(struct ds_agent *a)
{
	struct ds_changes *c = a->changes;
	int64_t now = ds_port_mono_ms();
	unsigned long fed = 0;

	c->polls++;
	for (size_t i = 0; i < c->n; i++) {
		struct watch *w = &c->w[i];
		unsigned long n = 0;
		int rc;

		if (ds_worker_state(a->worker, w->name, NULL, 0, NULL, NULL) != DS_WORKER_IDLE)
			continue;
		rc = ds_table_pending_poll(w->p, &n);
		if (rc && rc != w->last_err && rc != -EBUSY)
			DS_LOG_INF("%s: cannot look for local changes: %s", w->name, ds_strerror(rc));
		w->last_err = rc;
		if (rc || !n)
			continue;
		DS_LOG_DBG("%s: %lu local change%s", w->name, n, n == 1 ? "" : "s");
		ds_sched_local_change(a->sched, w->name, n > INT_MAX / DS_SCHED_SCORE_SMALL ? INT_MAX :
				      (int)n * DS_SCHED_SCORE_SMALL, now);
		fed += n;
	}
	c->changes += fed;
	if (fed)
		c->period_ms = base_ms();
	else
		c->period_ms = DS_MIN(c->period_ms * 2, base_ms() * QUIET_FACTOR);
	if (c->idle)
		c->period_ms = base_ms() * QUIET_FACTOR;
	c->next_mono = now + c->period_ms;
	arm(a);
	if (fed)
		ds_agent_sched_kick(a);
}

static void timer_fire(void *user_data)
{
	struct ds_agent *a = user_data;

	if (a->changes && a->changes->n)
		tick(a);
}

static void arm(struct ds_agent *a)
{
	struct ds_changes *c = a->changes;
	int64_t now = ds_port_mono_ms();

	if (!c->n || base_ms() <= 0) {
		c->next_mono = -1;
		ds_loop_timer_cancel(a->loop, TIMER_CHANGES);
		return;
	}
	if (c->next_mono < 0)
		c->next_mono = now + c->period_ms;
	if (ds_loop_timer(a->loop, TIMER_CHANGES, DS_MAX(0, c->next_mono - now), timer_fire, a))
		DS_LOG_ERR("cannot arm the local-change timer");
}

static struct watch *find(struct ds_changes *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->w[i].name, name))
			return &c->w[i];
	return NULL;
}

/* Is this registration an enabled table collection? Its engine configuration, or NULL. */
static const cJSON *table_engine(const cJSON *reg)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(reg, "engine");
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(e, "kind");

	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reg, "enabled")) || !cJSON_IsString(k) ||
	    strcmp(k->valuestring, "table"))
		return NULL;
	return e;
}

void ds_agent_changes_reload(struct ds_agent *a)
{
	struct ds_changes *c = a->changes;
	cJSON *list = NULL, *it;
	struct watch *nw = NULL;
	size_t nn = 0, cap = 0;
	int rc;

	if (base_ms() <= 0)
		return;
	if (!c) {
		c = ds_calloc(1, sizeof(*c));
		if (!c) {
			DS_LOG_ERR("out of memory: local changes are not watched");
			return;
		}
		c->period_ms = base_ms();
		c->next_mono = -1;
		c->idle = a->idle;
		a->changes = c;
	}
	rc = ds_store_collection_list(a->store, &list);
	if (rc) {
		DS_LOG_WRN("cannot read the collections, local changes watched as before: %s", ds_strerror(rc));
		return;
	}
	cJSON_ArrayForEach(it, list) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "name"), *e = table_engine(it);
		struct watch *old, w;
		char *text;

		if (!e || !cJSON_IsString(n) || strlen(n->valuestring) > DS_SCHED_NAME_MAX)
			continue;
		text = cJSON_PrintUnformatted(e);
		if (!text)
			continue;
		memset(&w, 0, sizeof(w));
		old = find(c, n->valuestring);
		if (old && old->engine && !strcmp(old->engine, text)) {
			/* Unchanged: keep its connection and what it has seen. */
			w = *old;
			memset(old, 0, sizeof(*old));
			cJSON_free(text);
		} else {
			snprintf(w.name, sizeof(w.name), "%s", n->valuestring);
			w.engine = text;
			rc = ds_table_pending_open(e, &w.p);
			if (rc) {
				DS_LOG_WRN("%s: local changes not watched: %s", w.name, ds_strerror(rc));
				cJSON_free(text);
				continue;
			}
		}
		if (nn == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			struct watch *g = ds_realloc(nw, ncap * sizeof(*g));

			if (!g) {
				watch_free(&w);
				DS_LOG_ERR("out of memory: %s's local changes not watched", n->valuestring);
				continue;
			}
			nw = g;
			cap = ncap;
		}
		nw[nn++] = w;
	}
	cJSON_Delete(list);
	for (size_t i = 0; i < c->n; i++)
		watch_free(&c->w[i]);
	ds_free(c->w);
	c->w = nw;
	c->n = nn;
	arm(a);
}

void ds_agent_changes_stop(struct ds_agent *a)
{
	struct ds_changes *c = a->changes;

	if (!c)
		return;
	ds_loop_timer_cancel(a->loop, TIMER_CHANGES);
	for (size_t i = 0; i < c->n; i++)
		watch_free(&c->w[i]);
	ds_free(c->w);
	ds_free(c);
	a->changes = NULL;
}

void ds_agent_changes_idle(struct ds_agent *a, bool idle)
{
	struct ds_changes *c = a->changes;
	int64_t now = ds_port_mono_ms();

	if (!c || c->idle == idle)
		return;
	c->idle = idle;
	c->period_ms = idle ? base_ms() * QUIET_FACTOR : base_ms();
	/* Back in use: the next look comes within the base period, not at the idle one's end. */
	if (!idle && c->next_mono > now + c->period_ms)
		c->next_mono = now + c->period_ms;
	arm(a);
}

void ds_agent_changes_catch_up(struct ds_agent *a)
{
	struct ds_changes *c = a->changes;

	if (c && c->n && c->next_mono >= 0 && ds_port_mono_ms() >= c->next_mono)
		tick(a);
}

cJSON *ds_agent_changes_json(struct ds_agent *a)
{
	struct ds_changes *c = a->changes;
	cJSON *o;

	if (!c)
		return NULL;
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "poll_s", (double)(c->period_ms / 1000));
	cJSON_AddNumberToObject(o, "watched", (double)c->n);
	cJSON_AddNumberToObject(o, "polls", (double)c->polls);
	cJSON_AddNumberToObject(o, "changes", (double)c->changes);
	if (c->next_mono >= 0)
		cJSON_AddNumberToObject(o, "next_in_ms", (double)DS_MAX(0, c->next_mono - ds_port_mono_ms()));
	else
		cJSON_AddNullToObject(o, "next_in_ms");
	return o;
}
