/*
 * ds_sched.h - the battery-aware scheduler: decides WHEN collections sync.
 *
 * A pure module: state + "now" + events in, decisions out. It keeps no clock, no thread and no
 * timer of its own; every call takes now_ms (any monotonic millisecond clock), so unit tests and
 * the day simulation (test/tools/sched_day.c) drive it with virtual time and datasyncd with
 * ds_port_mono_ms(). It never syncs: ds_sched_poll() says which collections should run now (one
 * batch = one wake = one radio session) and ds_sched_next_wake() when to ask again.
 *
 * Rules and their sources (docs/scheduler.md has the full table):
 *  - Periodic runs with a flex window: a collection may run up to flex_s before it is due, and
 *    does so when another collection's run wakes the radio anyway (Android SyncManager flex,
 *    WorkManager PeriodicWorkRequest).
 *  - Constraints: needs a network / unmetered only / charging only / battery at or above N %
 *    unless charging / not in battery saver. An urgent collection ignores the battery level
 *    (AT-S3), never charging_only or unmetered_only.
 *  - Local changes accumulate a score (Firefox desktop: SMALL 1, MEDIUM 10, XLARGE 301,
 *    threshold 300); under the threshold they ride a run within local_delay_s (120 s) of the
 *    first change, but start none sooner than local_spacing_s (Firefox activeInterval 600 s)
 *    after the collection's last run (docs/scheduler.md, "Local changes: delay and
 *    sessions"); at the threshold the run follows debounce_s after
 *    the last change (Android LOCAL_SYNC_DELAY 30 s), at most debounce_max_s after crossing.
 *  - Backoff: per collection, client-side after errors (Firefox: the first
 *    errors_before_backoff - 1 failures retry at the normal interval, then 15 min doubling to
 *    8 h, plus up to 25 % jitter; reset on success); per server, soft (X-Weave-Backoff, Kinto
 *    Backoff, tokenserver X-Backoff) and hard (Retry-After). A user request overrides soft
 *    backoff and constraints, never a hard backoff (application-services sync_manager).
 *  - No network: a collection that needs one is not attempted; when the network returns, a
 *    collection that became due meanwhile runs at once.
 */
#ifndef DS_SCHED_H
#define DS_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ds_port.h"

#define DS_SCHED_NAME_MAX 64
#define DS_SCHED_TITLE_MAX 96
#define DS_SCHED_SERVER_MAX 96
#define DS_SCHED_BATCH_MAX 32
#define DS_SCHED_WHY_MAX 160

/* Change-score increments (Firefox desktop constants.sys.mjs SCORE_INCREMENT_*). */
#define DS_SCHED_SCORE_SMALL 1
#define DS_SCHED_SCORE_MEDIUM 10
#define DS_SCHED_SCORE_XLARGE 301

enum ds_sched_priority {
	DS_SCHED_PRIO_LOW = 0,
	DS_SCHED_PRIO_NORMAL,
	DS_SCHED_PRIO_URGENT, /* runs on a low battery too (never against charging_only) */
};

struct ds_sched_constraints {
	bool needs_network;   /* false: the remote needs none (a local folder) */
	bool unmetered_only;  /* never while the network is metered (Wi-Fi only) */
	bool charging_only;
	int min_battery_pct;  /* on battery, not below this (0: any level) */
	bool allow_power_save; /* may run in the OS's battery saver */
};

struct ds_sched_policy {
	int64_t interval_s; /* periodic interval; 0: no periodic runs (triggers only) */
	int64_t flex_s;     /* may run this early to join another run; -1: the default */
	struct ds_sched_constraints c;
	enum ds_sched_priority priority;
	bool one_shot;      /* app task: removed after its first successful delivery */
	/* Runs ahead of the other collections of a batch (Sync 1.5's clients collection: commands
	 * addressed to this device, such as a reset, come before the collections they act on). */
	bool lead;
};

/* Why a collection is in a batch. */
enum ds_sched_reason {
	DS_SCHED_WHY_PERIODIC = 0, /* its interval elapsed */
	DS_SCHED_WHY_FLEX,         /* due soon: joined another collection's run */
	DS_SCHED_WHY_LOCAL,        /* local changes */
	DS_SCHED_WHY_PUSH,         /* a push wake-up */
	DS_SCHED_WHY_APP,          /* an app asked */
	DS_SCHED_WHY_USER,         /* a person asked */
	DS_SCHED_WHY_RESUME,       /* a run cut by its budget or by network loss */
	DS_SCHED_WHY_RETRY,        /* after a failure */
	DS_SCHED_WHY_FIRST,        /* never ran since it was added */
};

/* Why nothing runs now (the first obstacle found). */
enum ds_sched_block {
	DS_SCHED_OK = 0,
	DS_SCHED_BLOCK_DISABLED,
	DS_SCHED_BLOCK_OFFLINE,
	DS_SCHED_BLOCK_METERED,
	DS_SCHED_BLOCK_NOT_CHARGING,
	DS_SCHED_BLOCK_BATTERY,
	DS_SCHED_BLOCK_POWER_SAVE,
	DS_SCHED_BLOCK_BACKOFF,        /* client-side error backoff */
	DS_SCHED_BLOCK_SERVER_BACKOFF, /* soft server backoff */
	DS_SCHED_BLOCK_RETRY_AFTER,    /* hard server backoff */
	DS_SCHED_BLOCK_COUNT
};

enum ds_sched_backoff_kind {
	DS_SCHED_BACKOFF_SOFT = 0, /* X-Weave-Backoff, Backoff, X-Backoff: a user may override */
	DS_SCHED_BACKOFF_HARD,     /* Retry-After (503, 429): nobody overrides */
};

struct ds_sched_config {
	int64_t flex_pct;          /* default flex, percent of the interval */
	int64_t flex_min_s;        /* ... at least this (capped at half the interval) */
	int64_t min_interval_s;    /* shortest periodic interval accepted */
	int64_t debounce_s;        /* quiet time after the last local change */
	int64_t debounce_max_s;    /* at most this after the score crossed the threshold */
	int64_t local_delay_s;     /* small changes wait at most this after the first one ... */
	int64_t local_spacing_s;   /* ... but start no run sooner than this after the last run */
	int score_threshold;
	int64_t backoff_min_s, backoff_max_s;
	unsigned errors_before_backoff;
	int64_t budget_s;          /* a batch's time budget */
	uint32_t seed;             /* jitter (deterministic for tests and the simulation) */
};

/* One collection as the scheduler sees it (ds_sched_info()). */
struct ds_sched_info {
	char name[DS_SCHED_NAME_MAX + 1];
	char title[DS_SCHED_TITLE_MAX + 1];
	char server[DS_SCHED_SERVER_MAX + 1];
	struct ds_sched_policy policy;
	bool enabled, app_task, running;
	int64_t last_run_ms;       /* -1: never */
	int64_t last_ok_ms;        /* -1: never */
	int64_t next_ms;           /* when it is next due (before constraints); -1: not scheduled */
	int64_t not_before_ms;     /* backoff end, or -1 */
	int score;                 /* pending local-change score */
	unsigned errors;           /* consecutive failures */
	enum ds_sched_block block; /* what keeps it from running at next_ms, as of now */
	char why[DS_SCHED_WHY_MAX]; /* readable state: "due in 1h 2m (periodic)", "waiting: ..." */
};

struct ds_sched_batch_item {
	char name[DS_SCHED_NAME_MAX + 1];
	enum ds_sched_reason why;
	bool app_task;
	bool needs_network;
};

struct ds_sched_batch {
	size_t n;
	int64_t deadline_ms; /* now + budget: collections not started by then are cut */
	struct ds_sched_batch_item item[DS_SCHED_BATCH_MAX];
};

/* Counters for reports ("syncs refused and why"). */
struct ds_sched_stats {
	unsigned long batches;     /* wakes that ran something */
	unsigned long runs;        /* collection runs started by the scheduler */
	unsigned long user_runs;   /* started by people */
	unsigned long refused[DS_SCHED_BLOCK_COUNT]; /* due but held back, once per due period */
	unsigned long user_refused; /* user requests refused (hard backoff) */
	unsigned long cut;          /* runs cut by budget or network loss */
	unsigned long failed;
};

struct ds_sched;

void ds_sched_config_defaults(struct ds_sched_config *cfg); /* from Kconfig */
/* The board's default policy (Kconfig, overridden at run time by datasync.conf values). */
void ds_sched_policy_defaults(struct ds_sched_policy *p);

int ds_sched_new(const struct ds_sched_config *cfg, struct ds_sched **out);
void ds_sched_free(struct ds_sched *s);

/* ---- collections ---------------------------------------------------------------------------- */

/*
 * Add a collection (app_task false) or an app task (true). server names the server for
 * server-directed backoff ("" or NULL: none shared). A new periodic collection is due at once
 * (first sync after registration or boot) unless ds_sched_set_last_run() says otherwise; one
 * with interval 0 waits for a trigger.
 * -EEXIST, -EINVAL (bad name or policy: interval below the minimum), -ENOMEM.
 */
int ds_sched_add(struct ds_sched *s, const char *name, const char *title, const char *server,
		 const struct ds_sched_policy *p, bool app_task, int64_t now_ms);
int ds_sched_remove(struct ds_sched *s, const char *name);
/* Replace the policy (runtime override): the next due time follows the new interval. */
int ds_sched_set_policy(struct ds_sched *s, const char *name, const struct ds_sched_policy *p, int64_t now_ms);
int ds_sched_set_enabled(struct ds_sched *s, const char *name, bool enabled, int64_t now_ms);
/* Last run of a collection (restored at start from the store), for its next due time. */
int ds_sched_set_last_run(struct ds_sched *s, const char *name, int64_t ran_ms, bool ok);
bool ds_sched_has(const struct ds_sched *s, const char *name);
/* Check a policy: 0, or -EINVAL with the reason in why. */
int ds_sched_policy_check(const struct ds_sched *s, const struct ds_sched_policy *p, bool app_task,
			  char *why, size_t cap);

/* ---- the device ----------------------------------------------------------------------------- */

void ds_sched_set_power(struct ds_sched *s, const struct ds_power_state *p, int64_t now_ms);
void ds_sched_set_net(struct ds_sched *s, const struct ds_net_state *n, int64_t now_ms);
void ds_sched_set_idle(struct ds_sched *s, bool idle, int64_t now_ms);

/* ---- triggers ------------------------------------------------------------------------------- */

/* Local changes to name worth score (DS_SCHED_SCORE_*); -ENOENT if unknown. */
int ds_sched_local_change(struct ds_sched *s, const char *name, int score, int64_t now_ms);
/* A push message says name (NULL: every enabled collection) changed on the server. */
int ds_sched_push_wakeup(struct ds_sched *s, const char *name, int64_t now_ms);
/* An app asks for a run of name as soon as the constraints allow. */
int ds_sched_app_request(struct ds_sched *s, const char *name, int64_t now_ms);
/*
 * A person asks for a run now: 0 when it may start (the caller starts it and calls
 * ds_sched_started()), -EAGAIN with the reason in why under a hard server backoff, -ENOENT.
 * Constraints and soft backoff do not apply: they asked.
 */
int ds_sched_user_request(struct ds_sched *s, const char *name, int64_t now_ms, char *why, size_t cap);
/* name started outside ds_sched_poll() (a user request). */
int ds_sched_started(struct ds_sched *s, const char *name, int64_t now_ms);

/* ---- decisions ------------------------------------------------------------------------------ */

/*
 * Which collections run now. Fills out (n = 0: nothing) and marks them running; a batch holds
 * every runnable collection due now and every one due within its flex window. Nothing starts
 * while a batch is still running (one wake = one radio session). Returns out->n.
 */
size_t ds_sched_poll(struct ds_sched *s, int64_t now_ms, struct ds_sched_batch *out);
/* When to call ds_sched_poll() next (absolute ms), or -1: only an event can make work. */
int64_t ds_sched_next_wake(struct ds_sched *s, int64_t now_ms);

/*
 * A run ended: result 0 or -errno. A failure while the network it needed is down, -ECANCELED
 * or -ETIMEDOUT (cut by the budget) is not the server's fault: no error backoff, the run
 * resumes when it can. The server's backoff, if any, goes through ds_sched_server_backoff().
 */
int ds_sched_done(struct ds_sched *s, const char *name, int result, int64_t now_ms);
/* A batch member that never started (budget spent, network lost): resumes later. */
int ds_sched_cut(struct ds_sched *s, const char *name, int64_t now_ms);
/* The server asked every collection on it to wait seconds (from now). */
void ds_sched_server_backoff(struct ds_sched *s, const char *server, enum ds_sched_backoff_kind kind,
			     int64_t seconds, int64_t now_ms);
/* True while a batch is running (something started and not done). */
bool ds_sched_busy(const struct ds_sched *s);

/* ---- introspection -------------------------------------------------------------------------- */

size_t ds_sched_count(const struct ds_sched *s);
/* i-th collection (registration order), as of now; -ENOENT past the end. */
int ds_sched_info_at(struct ds_sched *s, size_t i, int64_t now_ms, struct ds_sched_info *out);
int ds_sched_info(struct ds_sched *s, const char *name, int64_t now_ms, struct ds_sched_info *out);
const struct ds_sched_stats *ds_sched_stats(const struct ds_sched *s);

/*
 * Could a run with these constraints start now (power/network as last set)? DS_SCHED_OK or
 * the first obstacle, with a readable reason in why ("battery 14% is below 15% and not
 * charging").
 */
enum ds_sched_block ds_sched_check(const struct ds_sched *s, const struct ds_sched_constraints *c,
				   enum ds_sched_priority prio, char *why, size_t cap);

const char *ds_sched_reason_name(enum ds_sched_reason r);
const char *ds_sched_block_name(enum ds_sched_block b);
const char *ds_sched_priority_name(enum ds_sched_priority p);
int ds_sched_priority_parse(const char *s, enum ds_sched_priority *out);
/* "1h2m", "90s", "3d": the short form used in reasons and reports. */
void ds_sched_duration_text(int64_t ms, char *buf, size_t cap);
/* Parse "90", "90s", "10m", "4h", "1d", "1h30m" into seconds; -EINVAL. */
int ds_sched_duration_parse(const char *text, int64_t *seconds);

#endif /* DS_SCHED_H */
