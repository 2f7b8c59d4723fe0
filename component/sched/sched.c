/*
 * The scheduler's state and decisions (see ds_sched.h for the rules and their sources).
 *
 * Invariants:
 *  - At most one batch runs at a time: ds_sched_poll() returns nothing while any collection
 *    is marked running. That is what makes one wake one radio session.
 *  - A collection's due time is the earliest of: its periodic due time, a pending trigger
 *    (push, app request, resume, retry) and its local-change due time. Backoff and
 *    constraints never move the due time; they only hold the run back, so a collection held
 *    back runs as soon as the obstacle goes (an event, or the end of the backoff).
 *  - The change score is taken at a run's start: changes made during the run count towards
 *    the next one; a failed run gives its score back.
 */
#define DS_LOG_TAG "sched"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_SCHED
#include "core/ds_core.h"
#include "sched/ds_sched.h"
#include "sched/sched_priv.h"

#include <stdio.h>
#include <string.h>

void ds_sched_config_defaults(struct ds_sched_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->flex_pct = CONFIG_DS_SCHED_FLEX_PCT;
	cfg->flex_min_s = CONFIG_DS_SCHED_FLEX_MIN_S;
	cfg->min_interval_s = CONFIG_DS_SCHED_MIN_INTERVAL_S;
	cfg->debounce_s = CONFIG_DS_SCHED_DEBOUNCE_S;
	cfg->debounce_max_s = CONFIG_DS_SCHED_DEBOUNCE_MAX_S;
	cfg->local_delay_s = CONFIG_DS_SCHED_LOCAL_DELAY_S;
	cfg->local_spacing_s = CONFIG_DS_SCHED_LOCAL_SPACING_S;
	cfg->score_threshold = CONFIG_DS_SCHED_SCORE_THRESHOLD;
	cfg->backoff_min_s = CONFIG_DS_SCHED_BACKOFF_MIN_S;
	cfg->backoff_max_s = CONFIG_DS_SCHED_BACKOFF_MAX_S;
	cfg->errors_before_backoff = CONFIG_DS_SCHED_ERRORS_BEFORE_BACKOFF;
	cfg->budget_s = CONFIG_DS_SCHED_RUN_BUDGET_S;
	cfg->seed = 0x5eed1234u;
}

void ds_sched_policy_defaults(struct ds_sched_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->interval_s = CONFIG_DS_SCHED_INTERVAL_S;
	p->flex_s = -1;
	p->c.needs_network = true;
	p->c.unmetered_only = IS_ENABLED(CONFIG_DS_SCHED_UNMETERED_ONLY);
	p->c.min_battery_pct = CONFIG_DS_SCHED_MIN_BATTERY;
	p->priority = DS_SCHED_PRIO_NORMAL;
}

int ds_sched_new(const struct ds_sched_config *cfg, struct ds_sched **out)
{
	struct ds_sched *s;

	*out = NULL;
	s = ds_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (cfg)
		s->cfg = *cfg;
	else
		ds_sched_config_defaults(&s->cfg);
	s->rng = s->cfg.seed ? s->cfg.seed : 1;
	/* Until told otherwise: plugged in, online on an unmetered link (the safe default for a
	 * TV; a phone's port reports its real state at once). */
	s->power.source = DS_POWER_MAINS;
	s->power.battery_pct = -1;
	s->net.up = true;
	s->net.type = DS_NET_OTHER;
	*out = s;
	return 0;
}

void ds_sched_free(struct ds_sched *s)
{
	if (!s)
		return;
	ds_free(s->e);
	ds_free(s->servers);
	ds_free(s);
}

/* ---- helpers -------------------------------------------------------------------------------- */

struct sched_entry *ds_sched__find(const struct ds_sched *s, const char *name)
{
	for (size_t i = 0; name && i < s->n; i++)
		if (!strcmp(s->e[i].name, name))
			return &s->e[i];
	return NULL;
}

static struct sched_server *server_of(const struct ds_sched *s, const char *key)
{
	if (!key || !key[0])
		return NULL;
	for (size_t i = 0; i < s->nservers; i++)
		if (!strcmp(s->servers[i].key, key))
			return &s->servers[i];
	return NULL;
}

/* xorshift32: jitter only, deterministic from the configured seed. */
static uint32_t rnd(struct ds_sched *s)
{
	uint32_t x = s->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	s->rng = x;
	return x;
}

static int64_t flex_ms(const struct ds_sched *s, const struct sched_entry *e)
{
	int64_t iv = e->pol.interval_s, f;

	if (iv <= 0)
		return 0;
	f = e->pol.flex_s >= 0 ? e->pol.flex_s : DS_MAX(iv * s->cfg.flex_pct / 100, s->cfg.flex_min_s);
	return DS_MIN(f, iv / 2) * 1000;
}

/*
 * Local-change due time, -1 when nothing is pending. Under the threshold a burst goes
 * local_delay_s after its first change is seen, but small changes never start a run sooner
 * than local_spacing_s after the collection's last run: an isolated burst reaches the server
 * in about two minutes, while edits that trickle in all the time are batched at Firefox
 * desktop's active pace (one run per 10 min) instead of one run each (docs/scheduler.md,
 * "Local changes: delay and sessions").
 */
static int64_t local_due(const struct ds_sched *s, const struct sched_entry *e)
{
	int64_t due;

	if (e->score <= 0)
		return -1;
	if (e->score >= s->cfg.score_threshold)
		return DS_MIN(e->last_change_ms + s->cfg.debounce_s * 1000,
			      e->cross_ms + s->cfg.debounce_max_s * 1000);
	due = e->first_change_ms + s->cfg.local_delay_s * 1000;
	if (e->last_run_ms >= 0)
		due = DS_MAX(due, e->last_run_ms + s->cfg.local_spacing_s * 1000);
	return due;
}

int64_t ds_sched__due(const struct ds_sched *s, const struct sched_entry *e, enum ds_sched_reason *why)
{
	int64_t due = -1, l;
	enum ds_sched_reason w = DS_SCHED_WHY_PERIODIC;

	if (e->periodic_due_ms >= 0) {
		due = e->periodic_due_ms;
		w = e->last_run_ms < 0 ? DS_SCHED_WHY_FIRST : DS_SCHED_WHY_PERIODIC;
	}
	if (e->trig_ms >= 0 && (due < 0 || e->trig_ms < due)) {
		due = e->trig_ms;
		w = e->trig_why;
	}
	l = local_due(s, e);
	if (l >= 0 && (due < 0 || l < due)) {
		due = l;
		w = DS_SCHED_WHY_LOCAL;
	}
	if (why)
		*why = w;
	return due;
}

/* Earliest moment the collection may run as far as backoff goes; hard sets *hard. */
int64_t ds_sched__not_before(const struct ds_sched *s, const struct sched_entry *e, enum ds_sched_block *kind)
{
	const struct sched_server *sv = server_of(s, e->server);
	int64_t nb = -1;
	enum ds_sched_block k = DS_SCHED_OK;

	if (e->backoff_until_ms > nb) {
		nb = e->backoff_until_ms;
		k = DS_SCHED_BLOCK_BACKOFF;
	}
	if (sv && sv->soft_until_ms > nb) {
		nb = sv->soft_until_ms;
		k = DS_SCHED_BLOCK_SERVER_BACKOFF;
	}
	if (sv && sv->hard_until_ms >= nb && sv->hard_until_ms > 0) {
		nb = sv->hard_until_ms;
		k = DS_SCHED_BLOCK_RETRY_AFTER;
	}
	if (kind)
		*kind = k;
	return nb;
}

enum ds_sched_block ds_sched_check(const struct ds_sched *s, const struct ds_sched_constraints *c,
				   enum ds_sched_priority prio, char *why, size_t cap)
{
	const struct ds_power_state *p = &s->power;
	const struct ds_net_state *n = &s->net;
	bool on_battery = p->has_battery && !p->charging && p->source != DS_POWER_MAINS;
	enum ds_sched_block b = DS_SCHED_OK;
	const char *msg = "";
	char tmp[DS_SCHED_WHY_MAX];

	if (c->needs_network && !n->up) {
		b = DS_SCHED_BLOCK_OFFLINE;
		msg = "no network";
	} else if (c->unmetered_only && n->up && n->metered) {
		b = DS_SCHED_BLOCK_METERED;
		snprintf(tmp, sizeof(tmp), "network %s is metered and the collection is unmetered only",
			 n->ifname[0] ? n->ifname : ds_net_type_name(n->type));
		msg = tmp;
	} else if (c->charging_only && !p->charging && p->source != DS_POWER_MAINS) {
		b = DS_SCHED_BLOCK_NOT_CHARGING;
		msg = "not charging and the collection syncs only while charging";
	} else if (p->power_save && !c->allow_power_save && prio != DS_SCHED_PRIO_URGENT) {
		b = DS_SCHED_BLOCK_POWER_SAVE;
		msg = "battery saver is on";
	} else if (on_battery && p->battery_pct >= 0 && p->battery_pct < c->min_battery_pct &&
		   prio != DS_SCHED_PRIO_URGENT) {
		b = DS_SCHED_BLOCK_BATTERY;
		snprintf(tmp, sizeof(tmp), "battery %d%% is below %d%% and not charging", p->battery_pct,
			 c->min_battery_pct);
		msg = tmp;
	}
	if (why && cap)
		snprintf(why, cap, "%s", msg);
	return b;
}

/* What holds e back at now (constraints first, then backoff). */
enum ds_sched_block ds_sched__block(const struct ds_sched *s, const struct sched_entry *e, int64_t now,
				    char *why, size_t cap)
{
	enum ds_sched_block b, k;
	int64_t nb;
	char left[32];

	if (!e->enabled) {
		if (why && cap)
			snprintf(why, cap, "disabled");
		return DS_SCHED_BLOCK_DISABLED;
	}
	b = ds_sched_check(s, &e->pol.c, e->pol.priority, why, cap);
	if (b != DS_SCHED_OK)
		return b;
	nb = ds_sched__not_before(s, e, &k);
	if (nb > now) {
		ds_sched_duration_text(nb - now, left, sizeof(left));
		if (why && cap)
			snprintf(why, cap, "%s for %s more",
				 k == DS_SCHED_BLOCK_BACKOFF ? "backing off after errors" :
				 k == DS_SCHED_BLOCK_SERVER_BACKOFF ? "the server asked to back off" :
								      "the server asked to retry later (Retry-After)",
				 left);
		return k;
	}
	return DS_SCHED_OK;
}

/* ---- collections ---------------------------------------------------------------------------- */

static bool name_ok(const char *n)
{
	return n && n[0] && strlen(n) <= DS_SCHED_NAME_MAX;
}

int ds_sched_policy_check(const struct ds_sched *s, const struct ds_sched_policy *p, bool app_task, char *why,
			  size_t cap)
{
	const char *msg = NULL;
	char buf[DS_SCHED_WHY_MAX];

	if (p->interval_s < 0)
		msg = "the interval is negative";
	else if (p->interval_s > 0 && p->interval_s < s->cfg.min_interval_s) {
		snprintf(buf, sizeof(buf), "the interval %llds is below the minimum of %llds",
			 (long long)p->interval_s, (long long)s->cfg.min_interval_s);
		msg = buf;
	} else if (app_task && p->interval_s == 0)
		msg = "an app task needs an interval (minInterval)";
	else if (p->c.min_battery_pct < 0 || p->c.min_battery_pct > 100)
		msg = "the battery threshold is not 0..100";
	else if (p->flex_s > 0 && p->interval_s > 0 && p->flex_s > p->interval_s)
		msg = "the flex window is longer than the interval";
	else if ((unsigned)p->priority > DS_SCHED_PRIO_URGENT)
		msg = "unknown priority";
	if (why && cap)
		snprintf(why, cap, "%s", msg ? msg : "");
	return msg ? -EINVAL : 0;
}

static void reschedule(struct ds_sched *s, struct sched_entry *e, int64_t now)
{
	DS_UNUSED(s);
	if (e->pol.interval_s <= 0)
		e->periodic_due_ms = -1;
	else if (e->last_run_ms >= 0)
		e->periodic_due_ms = e->last_run_ms + e->pol.interval_s * 1000;
	else if (!e->app_task)
		e->periodic_due_ms = now;
}

/*
 * The periodic due time under a new policy (or of a new entry). A task registered by an app
 * first runs after its interval (RequestSync sets its alarm at now + minInterval; an app task
 * always has one); a collection syncs once at start (Gaia syncs on enabling).
 */
static void apply_policy(struct ds_sched *s, struct sched_entry *e, int64_t now)
{
	if (e->app_task && e->last_run_ms < 0)
		e->periodic_due_ms = now + e->pol.interval_s * 1000;
	else
		reschedule(s, e, now);
}

int ds_sched_add(struct ds_sched *s, const char *name, const char *title, const char *server,
		 const struct ds_sched_policy *p, bool app_task, int64_t now_ms)
{
	struct sched_entry *e;
	char why[DS_SCHED_WHY_MAX];

	if (!name_ok(name) || !p)
		return -EINVAL;
	if (ds_sched__find(s, name))
		return -EEXIST;
	if (ds_sched_policy_check(s, p, app_task, why, sizeof(why))) {
		DS_LOG_WRN("%s: %s", name, why);
		return -EINVAL;
	}
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 8;
		struct sched_entry *ne = ds_realloc(s->e, nc * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		s->e = ne;
		s->cap = nc;
	}
	e = &s->e[s->n];
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->title, sizeof(e->title), "%s", title && title[0] ? title : name);
	snprintf(e->server, sizeof(e->server), "%s", server ? server : "");
	e->pol = *p;
	e->enabled = true;
	e->app_task = app_task;
	e->last_run_ms = e->last_ok_ms = -1;
	e->backoff_until_ms = -1;
	e->trig_ms = -1;
	e->counted_due_ms = -1;
	apply_policy(s, e, now_ms);
	s->n++;
	return 0;
}

int ds_sched_remove(struct ds_sched *s, const char *name)
{
	struct sched_entry *e = ds_sched__find(s, name);
	size_t i;

	if (!e)
		return -ENOENT;
	if (e->running && s->running)
		s->running--;
	i = (size_t)(e - s->e);
	memmove(e, e + 1, (s->n - i - 1) * sizeof(*e));
	s->n--;
	return 0;
}

int ds_sched_set_policy(struct ds_sched *s, const char *name, const struct ds_sched_policy *p, int64_t now_ms)
{
	struct sched_entry *e = ds_sched__find(s, name);

	if (!e)
		return -ENOENT;
	if (ds_sched_policy_check(s, p, e->app_task, NULL, 0))
		return -EINVAL;
	e->pol = *p;
	apply_policy(s, e, now_ms);
	return 0;
}

int ds_sched_set_enabled(struct ds_sched *s, const char *name, bool enabled, int64_t now_ms)
{
	struct sched_entry *e = ds_sched__find(s, name);

	if (!e)
		return -ENOENT;
	if (enabled && !e->enabled && e->pol.interval_s > 0) {
		/* Gaia syncs when Sync is enabled: enabling a periodic collection is a reason to run
		 * now (one without interval waits for its triggers). */
		e->trig_ms = now_ms;
		e->trig_why = DS_SCHED_WHY_FIRST;
	}
	e->enabled = enabled;
	return 0;
}

int ds_sched_set_last_run(struct ds_sched *s, const char *name, int64_t ran_ms, bool ok)
{
	struct sched_entry *e = ds_sched__find(s, name);

	if (!e)
		return -ENOENT;
	e->last_run_ms = ran_ms;
	if (ok)
		e->last_ok_ms = ran_ms;
	reschedule(s, e, ran_ms);
	return 0;
}

bool ds_sched_has(const struct ds_sched *s, const char *name)
{
	return ds_sched__find(s, name) != NULL;
}

/* ---- the device ----------------------------------------------------------------------------- */

void ds_sched_set_power(struct ds_sched *s, const struct ds_power_state *p, int64_t now_ms)
{
	bool was = s->power.charging || s->power.source == DS_POWER_MAINS;
	bool is = p->charging || p->source == DS_POWER_MAINS;

	DS_UNUSED(now_ms);
	s->power = *p;
	/* Plugged in: power is free now, so collections due soon go in this wake. */
	if (is && !was)
		s->opportunity = true;
}

void ds_sched_set_net(struct ds_sched *s, const struct ds_net_state *n, int64_t now_ms)
{
	bool was_free = s->net.up && !s->net.metered;

	DS_UNUSED(now_ms);
	s->net = *n;
	/* Becoming unmetered is the moment for what was waiting for it and what is due soon. */
	if (n->up && !n->metered && !was_free)
		s->opportunity = true;
}

void ds_sched_set_idle(struct ds_sched *s, bool idle, int64_t now_ms)
{
	DS_UNUSED(now_ms);
	/* Screen off while charging: the maintenance window Android's Doze also uses. */
	if (idle && !s->idle && (s->power.charging || s->power.source == DS_POWER_MAINS))
		s->opportunity = true;
	s->idle = idle;
}

/* ---- triggers ------------------------------------------------------------------------------- */

static void trigger(struct sched_entry *e, enum ds_sched_reason why, int64_t at)
{
	if (e->trig_ms < 0 || at < e->trig_ms) {
		e->trig_ms = at;
		e->trig_why = why;
	}
}

int ds_sched_local_change(struct ds_sched *s, const char *name, int score, int64_t now_ms)
{
	struct sched_entry *e = ds_sched__find(s, name);

	if (!e)
		return -ENOENT;
	if (score <= 0)
		return 0;
	if (e->score <= 0)
		e->first_change_ms = now_ms;
	if (e->score < s->cfg.score_threshold && e->score + score >= s->cfg.score_threshold)
		e->cross_ms = now_ms;
	e->score = e->score > INT32_MAX - score ? INT32_MAX : e->score + score;
	e->last_change_ms = now_ms;
	return 0;
}

int ds_sched_push_wakeup(struct ds_sched *s, const char *name, int64_t now_ms)
{
	struct sched_entry *e;

	if (!name) {
		for (size_t i = 0; i < s->n; i++)
			if (s->e[i].enabled && !s->e[i].app_task)
				trigger(&s->e[i], DS_SCHED_WHY_PUSH, now_ms);
		return 0;
	}
	e = ds_sched__find(s, name);
	if (!e)
		return -ENOENT;
	trigger(e, DS_SCHED_WHY_PUSH, now_ms);
	return 0;
}

int ds_sched_app_request(struct ds_sched *s, const char *name, int64_t now_ms)
{
	struct sched_entry *e = ds_sched__find(s, name);

	if (!e)
		return -ENOENT;
	trigger(e, DS_SCHED_WHY_APP, now_ms);
	return 0;
}

int ds_sched_user_request(struct ds_sched *s, const char *name, int64_t now_ms, char *why, size_t cap)
{
	struct sched_entry *e = ds_sched__find(s, name);
	const struct sched_server *sv;
	char left[32];

	if (why && cap)
		why[0] = '\0';
	if (!e)
		return -ENOENT;
	sv = server_of(s, e->server);
	if (sv && sv->hard_until_ms > now_ms) {
		ds_sched_duration_text(sv->hard_until_ms - now_ms, left, sizeof(left));
		if (why && cap)
			snprintf(why, cap, "the server asked to retry later (Retry-After): %s left", left);
		s->stats.user_refused++;
		return -EAGAIN;
	}
	return 0;
}

static void stop(struct ds_sched *s, struct sched_entry *e)
{
	if (e->running) {
		e->running = false;
		if (s->running)
			s->running--;
	}
}

static void start(struct ds_sched *s, struct sched_entry *e, int64_t now)
{
	e->running = true;
	s->running++;
	e->last_run_ms = now;
	e->score_at_start = e->score;
	e->score = 0;
	e->trig_ms = -1;
	e->counted_due_ms = -1;
	if (e->pol.interval_s > 0)
		e->periodic_due_ms = now + e->pol.interval_s * 1000;
	else
		e->periodic_due_ms = -1;
}

int ds_sched_started(struct ds_sched *s, const char *name, int64_t now_ms)
{
	struct sched_entry *e = ds_sched__find(s, name);

	if (!e)
		return -ENOENT;
	if (e->running)
		return -EBUSY;
	start(s, e, now_ms);
	s->stats.user_runs++;
	return 0;
}

/* ---- decisions ------------------------------------------------------------------------------ */

bool ds_sched_busy(const struct ds_sched *s)
{
	return s->running > 0;
}

/* May e join a batch that runs now: due within its window (flex, or the local-change delay)? */
static bool in_window(const struct ds_sched *s, const struct sched_entry *e, int64_t now)
{
	if (e->trig_ms >= 0 && e->trig_ms <= now)
		return true;
	if (e->periodic_due_ms >= 0 && e->periodic_due_ms - flex_ms(s, e) <= now)
		return true;
	/* Pending local changes ride any run: uploading them early costs no extra wake. */
	return e->score > 0;
}

size_t ds_sched_poll(struct ds_sched *s, int64_t now_ms, struct ds_sched_batch *out)
{
	bool lead = false, opportunity = s->opportunity;

	memset(out, 0, sizeof(*out));
	if (s->running)
		return 0;
	s->opportunity = false;
	for (size_t i = 0; i < s->n; i++) {
		struct sched_entry *e = &s->e[i];
		int64_t due = ds_sched__due(s, e, NULL);
		enum ds_sched_block b;

		if (due < 0 || due > now_ms || !e->enabled)
			continue;
		b = ds_sched__block(s, e, now_ms, NULL, 0);
		if (b == DS_SCHED_OK) {
			lead = true;
			continue;
		}
		/* Count a refusal once per due period and obstacle, not once per poll. */
		if (e->counted_due_ms != due || e->counted_block != b) {
			s->stats.refused[b]++;
			e->counted_due_ms = due;
			e->counted_block = b;
			DS_LOG_DBG("%s due but held back: %s", e->name, ds_sched_block_name(b));
		}
	}
	if (!lead && !opportunity)
		return 0;
	/* Two passes: the collections that lead a batch, then the others, each in their order. */
	for (size_t k = 0; k < 2 * s->n && out->n < DS_SCHED_BATCH_MAX; k++) {
		struct sched_entry *e = &s->e[k % s->n];
		enum ds_sched_reason why;
		int64_t due = ds_sched__due(s, e, &why);
		struct ds_sched_batch_item *it;

		if (e->pol.lead != (k < s->n))
			continue;
		if (due < 0 || !e->enabled || !in_window(s, e, now_ms) ||
		    ds_sched__block(s, e, now_ms, NULL, 0) != DS_SCHED_OK)
			continue;
		it = &out->item[out->n++];
		snprintf(it->name, sizeof(it->name), "%s", e->name);
		it->why = due <= now_ms ? why : (why == DS_SCHED_WHY_LOCAL ? DS_SCHED_WHY_LOCAL : DS_SCHED_WHY_FLEX);
		it->app_task = e->app_task;
		it->needs_network = e->pol.c.needs_network;
		start(s, e, now_ms);
		s->stats.runs++;
	}
	if (out->n) {
		s->stats.batches++;
		out->deadline_ms = now_ms + s->cfg.budget_s * 1000;
	}
	return out->n;
}

int64_t ds_sched_next_wake(struct ds_sched *s, int64_t now_ms)
{
	int64_t best = -1;

	if (s->running)
		return -1; /* the end of the running batch calls poll again */
	for (size_t i = 0; i < s->n; i++) {
		const struct sched_entry *e = &s->e[i];
		int64_t t = ds_sched__due(s, e, NULL), nb;
		enum ds_sched_block b;

		if (t < 0 || !e->enabled)
			continue;
		/* A constraint is lifted by an event, never by time: no timer for it. */
		b = ds_sched_check(s, &e->pol.c, e->pol.priority, NULL, 0);
		if (b != DS_SCHED_OK)
			continue;
		nb = ds_sched__not_before(s, e, NULL);
		t = DS_MAX(t, nb);
		t = DS_MAX(t, now_ms);
		if (best < 0 || t < best)
			best = t;
	}
	return best;
}

static void cut(struct ds_sched *s, struct sched_entry *e, int64_t now_ms)
{
	stop(s, e);
	/* Its changes are still pending; it resumes after a short pause (the device may sleep
	 * between sessions), or when the network is back. */
	e->score += e->score_at_start;
	e->score_at_start = 0;
	trigger(e, DS_SCHED_WHY_RESUME, s->net.up ? now_ms + s->cfg.debounce_s * 1000 : now_ms);
	s->stats.cut++;
}

int ds_sched_cut(struct ds_sched *s, const char *name, int64_t now_ms)
{
	struct sched_entry *e = ds_sched__find(s, name);

	if (!e)
		return -ENOENT;
	cut(s, e, now_ms);
	return 0;
}

int ds_sched_done(struct ds_sched *s, const char *name, int result, int64_t now_ms)
{
	struct sched_entry *e = ds_sched__find(s, name);
	int64_t d;

	if (!e)
		return -ENOENT;
	stop(s, e);
	if (!result) {
		e->errors = 0;
		e->backoff_until_ms = -1;
		e->last_ok_ms = now_ms;
		e->score_at_start = 0;
		if (e->app_task && e->pol.one_shot)
			return ds_sched_remove(s, name);
		return 0;
	}
	if (result == -ECANCELED || result == -ETIMEDOUT || (e->pol.c.needs_network && !s->net.up)) {
		cut(s, e, now_ms);
		return 0;
	}
	s->stats.failed++;
	e->score += e->score_at_start;
	e->score_at_start = 0;
	e->errors++;
	if (e->errors < s->cfg.errors_before_backoff) {
		/* Firefox desktop: the first failures retry at the normal interval. */
		d = (e->pol.interval_s > 0 ? e->pol.interval_s : s->cfg.backoff_min_s) * 1000;
	} else {
		unsigned k = e->errors - s->cfg.errors_before_backoff;

		d = s->cfg.backoff_min_s * 1000;
		while (k-- && d < s->cfg.backoff_max_s * 1000)
			d *= 2;
		d = DS_MIN(d, s->cfg.backoff_max_s * 1000);
		/* Jitter of up to a quarter, so devices that failed together do not return together. */
		d += (int64_t)(rnd(s) % (uint32_t)(d / 4 + 1));
		d = DS_MIN(d, s->cfg.backoff_max_s * 1000);
		e->backoff_until_ms = now_ms + d;
	}
	trigger(e, DS_SCHED_WHY_RETRY, now_ms + d);
	DS_LOG_INF("%s: failure %u, next try in %llds", e->name, e->errors, (long long)(d / 1000));
	return 0;
}

void ds_sched_server_backoff(struct ds_sched *s, const char *server, enum ds_sched_backoff_kind kind,
			     int64_t seconds, int64_t now_ms)
{
	struct sched_server *sv;
	int64_t until;

	if (!server || !server[0] || seconds <= 0)
		return;
	sv = server_of(s, server);
	if (!sv) {
		struct sched_server *ns = ds_realloc(s->servers, (s->nservers + 1) * sizeof(*ns));

		if (!ns) {
			DS_LOG_ERR("out of memory: server backoff of %s not kept", server);
			return;
		}
		s->servers = ns;
		sv = &s->servers[s->nservers++];
		memset(sv, 0, sizeof(*sv));
		snprintf(sv->key, sizeof(sv->key), "%s", server);
	}
	/* Honoured to the second, never shortened by a later, smaller value. */
	until = now_ms + seconds * 1000;
	if (kind == DS_SCHED_BACKOFF_HARD)
		sv->hard_until_ms = DS_MAX(sv->hard_until_ms, until);
	else
		sv->soft_until_ms = DS_MAX(sv->soft_until_ms, until);
	DS_LOG_INF("server %s: %s backoff %llds", server, kind == DS_SCHED_BACKOFF_HARD ? "Retry-After" : "soft",
		   (long long)seconds);
}

const struct ds_sched_stats *ds_sched_stats(const struct ds_sched *s)
{
	return &s->stats;
}

size_t ds_sched_count(const struct ds_sched *s)
{
	return s->n;
}
