/*
 * App tasks (Firefox OS RequestSync, reference scheduler.md §1): apps register named tasks, the
 * scheduler decides when each is due, and the app is woken through the control socket.
 *
 * Rules and their sources:
 *  - minInterval of at least 100 s, or the registration is refused (RequestSyncService.jsm
 *    ParamsError; CONFIG_DS_SCHED_MIN_INTERVAL_S); oneShot and wifiOnly default to true, as in
 *    the RequestTaskParams IDL; a task is first due one interval after it is registered, and
 *    registering it again replaces it and starts that interval again.
 *  - Registrations survive restarts (kept in the store's kv table as "tasks"), with the time of
 *    each task's last run, so a periodic task keeps its rhythm across a reboot.
 *  - Wi-Fi only = the scheduler's unmetered constraint: held on cellular, run when Wi-Fi comes
 *    (RequestSync removed wifiOnly alarms when Wi-Fi went and re-armed them when it came back).
 *  - A woken app has a slot of CONFIG_DS_SCHED_RUN_BUDGET_S (120 s, dom.requestSync.
 *    maxTaskTimeout) to answer task-done; otherwise the slot ends as a failed run, so the batch
 *    it belongs to never waits longer than that for an app.
 *  - A one-shot task is removed after a successful run; a failed one is retried by the
 *    scheduler's error rules.
 * How an app is woken: it keeps a connection open with a "task-wait" request, answered when a
 * task of it is due. A task that falls due while its app is not waiting is "owed": the next
 * task-wait gets it at once. For the scheduler that due run failed (nobody took it), so an app
 * that is gone for good costs a wake only at the error backoff's pace.
 * One task-wait per (app, task) at a time: a newer one replaces the older, which is answered
 * ECANCELED. An app that goes away while waiting (killed, crashed, or it closed its side) is
 * told to us by the control socket's close callback: its waits are dropped at once, so its
 * connection frees its client slot, and its tasks stay registered: a task due meanwhile is
 * owed to its next task-wait.
 */
#define DS_LOG_TAG "sched"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_SCHED
#include "core/ds_core.h"
#include "core/ds_loop.h"
#include "daemon/ds_agent.h"
#include "daemon/ds_tasks.h"
#include "ipc/ds_ipc.h"
#include "sched/ds_sched.h"
#include "store/ds_store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

/* Loop timer ids are per loop: policy.c uses 2 and 3, changes.c 4. */
enum { TIMER_SLOT = 5 };

#define APP_MAX 32     /* "app/task" is the scheduler's name: 32 + 1 + 31 = DS_SCHED_NAME_MAX */
#define TASK_MAX 31
#define TASKS_MAX 64   /* registrations kept, all apps together */
#define DATA_MAX 1024  /* the "data" an app attaches, as JSON text */
#define KV_KEY "tasks"
#define KV_LIMIT (TASKS_MAX * (DATA_MAX + 512))

enum task_state { TASK_IDLE = 0, TASK_OWED, TASK_ACTIVE };

static const char *const state_names[] = { "idle", "owed", "active" };

struct task {
	char app[APP_MAX + 1];
	char name[TASK_MAX + 1];
	char key[DS_SCHED_NAME_MAX + 1]; /* "app/task" */
	int64_t interval_s;
	bool oneshot, wifi_only;
	char *data;                      /* JSON text, NULL: none */
	int64_t registered_wall_ms;
	int64_t last_wall_ms;            /* last successful run, -1: never */
	enum task_state state;
	enum ds_sched_reason why;        /* of the wake being delivered or owed */
	int64_t slot_end_mono;
	unsigned long wakes, timeouts;
};

struct waiter {
	uint64_t conn;
	int64_t id;
	char app[APP_MAX + 1];
	char name[TASK_MAX + 1]; /* "": any task of the app */
};

struct ds_tasks {
	struct task *t;
	size_t n;
	struct waiter *w;
	size_t nw;
};

static int64_t now_ms(void)
{
	return ds_port_mono_ms();
}

static bool name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (!n || n > max)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_' || *p == '-' || *p == '.'))
			return false;
	return true;
}

static struct task *find(struct ds_tasks *ts, const char *app, const char *name)
{
	for (size_t i = 0; i < ts->n; i++)
		if (!strcmp(ts->t[i].app, app) && !strcmp(ts->t[i].name, name))
			return &ts->t[i];
	return NULL;
}

static struct task *find_key(struct ds_tasks *ts, const char *key)
{
	for (size_t i = 0; i < ts->n; i++)
		if (!strcmp(ts->t[i].key, key))
			return &ts->t[i];
	return NULL;
}

static void policy_of(const struct ds_agent *a, const struct task *t, struct ds_sched_policy *p)
{
	ds_sched_policy_defaults(p);
	p->interval_s = t->interval_s;
	p->c.needs_network = true;
	p->c.unmetered_only = t->wifi_only;
	p->c.min_battery_pct = a->conf.min_battery_pct;
	p->one_shot = t->oneshot;
}

/* ---- the store ------------------------------------------------------------------------------ */

static cJSON *task_json(struct ds_agent *a, const struct task *t, bool live)
{
	cJSON *o = cJSON_CreateObject(), *sch;

	cJSON_AddStringToObject(o, "app", t->app);
	cJSON_AddStringToObject(o, "task", t->name);
	cJSON_AddNumberToObject(o, "min_interval_s", (double)t->interval_s);
	cJSON_AddBoolToObject(o, "oneshot", t->oneshot);
	cJSON_AddBoolToObject(o, "wifi_only", t->wifi_only);
	if (t->data)
		cJSON_AddItemToObject(o, "data", cJSON_Parse(t->data));
	cJSON_AddNumberToObject(o, "registered_wall_ms", (double)t->registered_wall_ms);
	if (t->last_wall_ms >= 0)
		cJSON_AddNumberToObject(o, "last_wall_ms", (double)t->last_wall_ms);
	else if (live)
		cJSON_AddNullToObject(o, "last_wall_ms");
	if (!live)
		return o;
	cJSON_AddStringToObject(o, "state", state_names[t->state]);
	cJSON_AddNumberToObject(o, "wakes", (double)t->wakes);
	cJSON_AddNumberToObject(o, "timeouts", (double)t->timeouts);
	if (t->state == TASK_ACTIVE)
		cJSON_AddNumberToObject(o, "slot_left_ms", (double)DS_MAX(0, t->slot_end_mono - now_ms()));
	sch = ds_agent_sched_info_json(a, t->key);
	if (sch)
		cJSON_AddItemToObject(o, "schedule", sch);
	return o;
}

static int save(struct ds_agent *a)
{
	struct ds_tasks *ts = a->tasks;
	cJSON *arr = cJSON_CreateArray();
	char *text;
	int rc;

	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < ts->n; i++)
		cJSON_AddItemToArray(arr, task_json(a, &ts->t[i], false));
	text = cJSON_PrintUnformatted(arr);
	cJSON_Delete(arr);
	if (!text)
		return -ENOMEM;
	rc = ds_store_kv_set(a->store, KV_KEY, text);
	cJSON_free(text);
	if (rc)
		DS_LOG_ERR("cannot keep the app tasks in the store: %s", ds_strerror(rc));
	return rc;
}

/* Into the scheduler: due one interval after registration, or after the last run. */
static int schedule(struct ds_agent *a, struct task *t)
{
	struct ds_sched_policy p;
	int64_t now = now_ms();
	int rc;

	policy_of(a, t, &p);
	rc = ds_sched_add(a->sched, t->key, t->key, NULL, &p, true, now);
	if (!rc && t->last_wall_ms >= 0)
		ds_sched_set_last_run(a->sched, t->key, now - DS_MAX(0, ds_port_wall_ms() - t->last_wall_ms), true);
	return rc;
}

static void task_clear(struct task *t)
{
	ds_free(t->data);
	t->data = NULL;
}

/* Parse one stored or requested field set into t; 0, or -EINVAL with the reason in err. */
static int bool_field(const cJSON *o, const char *k, bool dflt, bool *out, char *err, size_t cap)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!v || cJSON_IsNull(v)) {
		*out = dflt;
		return 0;
	}
	if (!cJSON_IsBool(v)) {
		snprintf(err, cap, "\"%s\" must be true or false", k);
		return -EINVAL;
	}
	*out = cJSON_IsTrue(v);
	return 0;
}

static int task_parse(struct ds_agent *a, const cJSON *o, struct task *t, char *err, size_t cap)
{
	const cJSON *app = cJSON_GetObjectItemCaseSensitive(o, "app");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "task");
	const cJSON *iv = cJSON_GetObjectItemCaseSensitive(o, "min_interval_s");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data");
	struct ds_sched_policy p;
	char why[DS_SCHED_WHY_MAX];

	memset(t, 0, sizeof(*t));
	t->last_wall_ms = -1;
	if (!cJSON_IsString(app) || !name_ok(app->valuestring, APP_MAX)) {
		snprintf(err, cap, "\"app\" must be 1..%d characters of A-Z a-z 0-9 _ - .", APP_MAX);
		return -EINVAL;
	}
	if (!cJSON_IsString(name) || !name_ok(name->valuestring, TASK_MAX)) {
		snprintf(err, cap, "\"task\" must be 1..%d characters of A-Z a-z 0-9 _ - .", TASK_MAX);
		return -EINVAL;
	}
	snprintf(t->app, sizeof(t->app), "%s", app->valuestring);
	snprintf(t->name, sizeof(t->name), "%s", name->valuestring);
	snprintf(t->key, sizeof(t->key), "%s/%s", t->app, t->name);
	if (cJSON_IsNumber(iv) && iv->valuedouble >= 0 && iv->valuedouble < 1e9 &&
	    iv->valuedouble == (double)(int64_t)iv->valuedouble) {
		t->interval_s = (int64_t)iv->valuedouble;
	} else if (!cJSON_IsString(iv) || ds_sched_duration_parse(iv->valuestring, &t->interval_s)) {
		snprintf(err, cap, "\"min_interval_s\" (seconds, or a duration like 30m) is required");
		return -EINVAL;
	}
	if (bool_field(o, "oneshot", true, &t->oneshot, err, cap) ||
	    bool_field(o, "wifi_only", true, &t->wifi_only, err, cap))
		return -EINVAL;
	policy_of(a, t, &p);
	if (ds_sched_policy_check(a->sched, &p, true, why, sizeof(why))) {
		snprintf(err, cap, "min_interval_s: %s", why);
		return -EINVAL;
	}
	if (data && !cJSON_IsNull(data)) {
		char *text = cJSON_PrintUnformatted(data);

		if (!text)
			return -ENOMEM;
		if (strlen(text) > DATA_MAX) {
			cJSON_free(text);
			snprintf(err, cap, "\"data\" is longer than %d bytes as JSON", DATA_MAX);
			return -EINVAL;
		}
		t->data = ds_strdup(text);
		cJSON_free(text);
		if (!t->data)
			return -ENOMEM;
	}
	return 0;
}

static int load(struct ds_agent *a)
{
	size_t cap = 4096;
	char *buf = NULL;
	cJSON *arr, *it;
	int rc;

	for (;;) {
		char *nb = ds_realloc(buf, cap);

		if (!nb) {
			ds_free(buf);
			return -ENOMEM;
		}
		buf = nb;
		rc = ds_store_kv_get(a->store, KV_KEY, buf, cap);
		if (rc != -ENOSPC || cap >= KV_LIMIT)
			break;
		cap *= 4;
	}
	if (rc == -ENOENT || rc == 0) {
		ds_free(buf);
		return 0;
	}
	if (rc < 0) {
		ds_free(buf);
		return rc;
	}
	arr = cJSON_Parse(buf);
	ds_free(buf);
	if (!cJSON_IsArray(arr)) {
		cJSON_Delete(arr);
		DS_LOG_ERR("the stored app tasks are not a JSON array: ignored");
		return -EILSEQ;
	}
	cJSON_ArrayForEach(it, arr) {
		struct ds_tasks *ts = a->tasks;
		const cJSON *reg = cJSON_GetObjectItemCaseSensitive(it, "registered_wall_ms");
		const cJSON *last = cJSON_GetObjectItemCaseSensitive(it, "last_wall_ms");
		char err[160];
		struct task t;

		if (ts->n >= TASKS_MAX)
			break;
		if (task_parse(a, it, &t, err, sizeof(err)) || find(ts, t.app, t.name)) {
			DS_LOG_WRN("a stored app task is dropped: %s", err);
			task_clear(&t);
			continue;
		}
		t.registered_wall_ms = cJSON_IsNumber(reg) ? (int64_t)reg->valuedouble : ds_port_wall_ms();
		t.last_wall_ms = cJSON_IsNumber(last) ? (int64_t)last->valuedouble : -1;
		if (schedule(a, &t)) {
			task_clear(&t);
			continue;
		}
		ts->t[ts->n++] = t;
	}
	cJSON_Delete(arr);
	return 0;
}

static void on_conn_closed(struct ds_ipc_server *s, uint64_t conn, void *user_data);

int ds_agent_tasks_start(struct ds_agent *a)
{
	int rc;

	a->tasks = ds_calloc(1, sizeof(*a->tasks));
	if (!a->tasks)
		return -ENOMEM;
	a->tasks->t = ds_calloc(TASKS_MAX, sizeof(*a->tasks->t));
	if (!a->tasks->t) {
		ds_free(a->tasks);
		a->tasks = NULL;
		return -ENOMEM;
	}
	/* The server is freed before the tasks (ds_agent_free), so it never calls into freed state. */
	if (a->ipc)
		ds_ipc_server_on_close(a->ipc, on_conn_closed, a);
	rc = load(a);
	if (rc)
		DS_LOG_WRN("app tasks not restored: %s", ds_strerror(rc));
	else if (a->tasks->n)
		DS_LOG_INF("%zu app task%s restored", a->tasks->n, a->tasks->n == 1 ? "" : "s");
	return rc == -ENOMEM ? rc : 0;
}

void ds_agent_tasks_stop(struct ds_agent *a)
{
	struct ds_tasks *ts = a->tasks;

	if (!ts)
		return;
	ds_loop_timer_cancel(a->loop, TIMER_SLOT);
	for (size_t i = 0; i < ts->n; i++)
		task_clear(&ts->t[i]);
	ds_free(ts->t);
	ds_free(ts->w);
	ds_free(ts);
	a->tasks = NULL;
}

void ds_agent_tasks_reapply(struct ds_agent *a)
{
	struct ds_tasks *ts = a->tasks;
	int64_t now = now_ms();

	for (size_t i = 0; ts && i < ts->n; i++) {
		struct ds_sched_info info;
		struct ds_sched_policy p;

		policy_of(a, &ts->t[i], &p);
		/* Only a changed policy: setting one moves a task that never ran to now + interval. */
		if (ds_sched_info(a->sched, ts->t[i].key, now, &info) == 0 &&
		    info.policy.c.min_battery_pct != p.c.min_battery_pct)
			ds_sched_set_policy(a->sched, ts->t[i].key, &p, now);
	}
}

void ds_agent_tasks_counts(const struct ds_agent *a, unsigned *tasks, unsigned *waiting, unsigned *active)
{
	const struct ds_tasks *ts = a->tasks;

	*tasks = *waiting = *active = 0;
	if (!ts)
		return;
	*tasks = (unsigned)ts->n;
	*waiting = (unsigned)ts->nw;
	for (size_t i = 0; i < ts->n; i++)
		if (ts->t[i].state == TASK_ACTIVE)
			(*active)++;
}

/* ---- slots ---------------------------------------------------------------------------------- */

static void slot_fire(void *user_data);

static void slot_arm(struct ds_agent *a)
{
	struct ds_tasks *ts = a->tasks;
	int64_t next = -1, now = now_ms();

	for (size_t i = 0; i < ts->n; i++)
		if (ts->t[i].state == TASK_ACTIVE && (next < 0 || ts->t[i].slot_end_mono < next))
			next = ts->t[i].slot_end_mono;
	if (next < 0)
		ds_loop_timer_cancel(a->loop, TIMER_SLOT);
	else if (ds_loop_timer(a->loop, TIMER_SLOT, DS_MAX(0, next - now), slot_fire, a))
		DS_LOG_ERR("cannot arm the app tasks' slot timer");
}

/* End every slot that ran out; true if one did. */
static bool slots_expire(struct ds_agent *a)
{
	struct ds_tasks *ts = a->tasks;
	int64_t now = now_ms();
	bool any = false;

	for (size_t i = 0; i < ts->n; i++) {
		struct task *t = &ts->t[i];

		if (t->state != TASK_ACTIVE || t->slot_end_mono > now)
			continue;
		DS_LOG_WRN("app %s, task %s: no task-done within %ds: its slot ends", t->app, t->name,
			   CONFIG_DS_SCHED_RUN_BUDGET_S);
		t->state = TASK_IDLE;
		t->timeouts++;
		ds_sched_done(a->sched, t->key, -ETIME, now);
		any = true;
	}
	return any;
}

static void slot_fire(void *user_data)
{
	struct ds_agent *a = user_data;

	if (!a->tasks)
		return;
	slots_expire(a);
	slot_arm(a);
	ds_agent_sched_kick(a);
}

void ds_agent_tasks_catch_up(struct ds_agent *a)
{
	if (a->tasks && slots_expire(a))
		slot_arm(a);
}

/* ---- waking apps ---------------------------------------------------------------------------- */

static void waiter_drop(struct ds_tasks *ts, size_t i)
{
	memmove(&ts->w[i], &ts->w[i + 1], (ts->nw - i - 1) * sizeof(*ts->w));
	ts->nw--;
}

/* The app behind conn has gone: its waits end here; the reply each was owed will not be sent. */
static void on_conn_closed(struct ds_ipc_server *s, uint64_t conn, void *user_data)
{
	struct ds_agent *a = user_data;
	struct ds_tasks *ts = a->tasks;

	for (size_t i = 0; ts && i < ts->nw; i++) {
		if (ts->w[i].conn != conn)
			continue;
		DS_LOG_INF("app %s stopped waiting for %s: its connection closed", ts->w[i].app,
			   ts->w[i].name[0] ? ts->w[i].name : "its tasks");
		waiter_drop(ts, i--);
		ds_ipc_forget(s, conn);
	}
}

/* Answer a task-wait with t's wake: 0 when the app got it, -errno when its connection is gone. */
static int wake(struct ds_agent *a, uint64_t conn, int64_t id, struct task *t)
{
	cJSON *b = cJSON_CreateObject();

	cJSON_AddStringToObject(b, "app", t->app);
	cJSON_AddStringToObject(b, "task", t->name);
	cJSON_AddStringToObject(b, "why", t->state == TASK_OWED ? "owed" : ds_sched_reason_name(t->why));
	if (t->data)
		cJSON_AddItemToObject(b, "data", cJSON_Parse(t->data));
	cJSON_AddNumberToObject(b, "slot_s", CONFIG_DS_SCHED_RUN_BUDGET_S);
	return ds_ipc_reply(a->ipc, conn, id, b);
}

static void activate(struct ds_agent *a, struct task *t)
{
	t->state = TASK_ACTIVE;
	t->wakes++;
	t->slot_end_mono = now_ms() + (int64_t)CONFIG_DS_SCHED_RUN_BUDGET_S * 1000;
	slot_arm(a);
	DS_LOG_INF("app %s, task %s: woken (%s)", t->app, t->name, ds_sched_reason_name(t->why));
}

void ds_agent_tasks_due(struct ds_agent *a, const char *sched_name, enum ds_sched_reason why)
{
	struct ds_tasks *ts = a->tasks;
	struct task *t = ts ? find_key(ts, sched_name) : NULL;

	if (!t) {
		/* Unregistered meanwhile: nothing to wake, and the scheduler must not wait for it. */
		ds_sched_remove(a->sched, sched_name);
		return;
	}
	t->why = why;
	for (size_t i = 0; i < ts->nw; i++) {
		struct waiter w = ts->w[i];

		if (strcmp(w.app, t->app) || (w.name[0] && strcmp(w.name, t->name)))
			continue;
		waiter_drop(ts, i--);
		if (wake(a, w.conn, w.id, t) == 0) {
			activate(a, t);
			return;
		}
		DS_LOG_DBG("app %s: its waiting connection has gone", t->app);
	}
	/* Nobody waits: the next task-wait gets it. The scheduler's run failed (nobody took it). */
	DS_LOG_INF("app %s, task %s: due (%s) but the app is not waiting: kept for its next task-wait",
		   t->app, t->name, ds_sched_reason_name(why));
	t->state = TASK_OWED;
	ds_sched_done(a->sched, t->key, -ENOTCONN, now_ms());
}

/* ---- commands ------------------------------------------------------------------------------- */

struct req {
	struct ds_agent *a;
	struct ds_ipc_server *s;
	uint64_t conn;
	int64_t id;
	const cJSON *j;
};

static int fail(const struct req *r, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(const struct req *r, int err, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ds_ipc_reply_error(r->s, r->conn, r->id, err, "%s", msg);
	return 0;
}

/* "app" and "task" of a request; task may be optional. NULL app after replying. */
static const char *req_names(const struct req *r, bool need_task, const char **task)
{
	const cJSON *app = cJSON_GetObjectItemCaseSensitive(r->j, "app");
	const cJSON *tk = cJSON_GetObjectItemCaseSensitive(r->j, "task");

	*task = NULL;
	if (!cJSON_IsString(app) || !name_ok(app->valuestring, APP_MAX)) {
		fail(r, -EINVAL, "\"app\" must be 1..%d characters of A-Z a-z 0-9 _ - .", APP_MAX);
		return NULL;
	}
	if ((tk && !cJSON_IsNull(tk)) || need_task) {
		if (!cJSON_IsString(tk) || !name_ok(tk->valuestring, TASK_MAX)) {
			fail(r, -EINVAL, "\"task\" must be 1..%d characters of A-Z a-z 0-9 _ - .", TASK_MAX);
			return NULL;
		}
		*task = tk->valuestring;
	}
	return app->valuestring;
}

static int cmd_register(const struct req *r)
{
	struct ds_agent *a = r->a;
	struct ds_tasks *ts = a->tasks;
	struct task nt, *t;
	char err[200];
	cJSON *b;
	int rc;

	rc = task_parse(a, r->j, &nt, err, sizeof(err));
	if (rc) {
		task_clear(&nt);
		return rc == -ENOMEM ? fail(r, rc, "out of memory") : fail(r, rc, "task refused: %s", err);
	}
	nt.registered_wall_ms = ds_port_wall_ms();
	t = find(ts, nt.app, nt.name);
	if (t) {
		/* Registering again replaces the task (RequestSync): its interval starts again. */
		nt.state = t->state;
		nt.why = t->why;
		nt.slot_end_mono = t->slot_end_mono;
		nt.wakes = t->wakes;
		nt.timeouts = t->timeouts;
		if (t->state == TASK_ACTIVE) {
			struct ds_sched_policy p;

			policy_of(a, &nt, &p);
			rc = ds_sched_set_policy(a->sched, nt.key, &p, now_ms());
		} else {
			ds_sched_remove(a->sched, nt.key);
			nt.state = TASK_IDLE;
			rc = schedule(a, &nt);
		}
		if (rc) {
			task_clear(&nt);
			return fail(r, rc, "cannot schedule the task: %s", ds_strerror(rc));
		}
		task_clear(t);
		*t = nt;
	} else {
		if (ts->n >= TASKS_MAX) {
			task_clear(&nt);
			return fail(r, -ENOSPC, "too many app tasks (at most %d): unregister some first", TASKS_MAX);
		}
		rc = schedule(a, &nt);
		if (rc) {
			task_clear(&nt);
			return fail(r, rc, "cannot schedule the task: %s", ds_strerror(rc));
		}
		t = &ts->t[ts->n++];
		*t = nt;
	}
	save(a);
	DS_LOG_INF("app %s registered task %s: every %llds%s%s", t->app, t->name, (long long)t->interval_s,
		   t->oneshot ? ", one-shot" : "", t->wifi_only ? ", Wi-Fi only" : "");
	ds_agent_sched_kick(a);
	b = cJSON_CreateObject();
	cJSON_AddItemToObject(b, "task", task_json(a, t, true));
	return ds_ipc_reply(r->s, r->conn, r->id, b), 0;
}

/* Answer every task-wait for exactly (app, task) with an error: the task is gone. */
static void cancel_waiters(struct ds_agent *a, const char *app, const char *task, const char *why)
{
	struct ds_tasks *ts = a->tasks;

	for (size_t i = 0; i < ts->nw; i++) {
		struct waiter w = ts->w[i];

		if (strcmp(w.app, app) || strcmp(w.name, task))
			continue;
		waiter_drop(ts, i--);
		ds_ipc_reply_error(a->ipc, w.conn, w.id, -ECANCELED, "app %s, task %s: %s", app, task, why);
	}
}

static void task_remove(struct ds_agent *a, struct task *t)
{
	struct ds_tasks *ts = a->tasks;
	size_t i = (size_t)(t - ts->t);

	ds_sched_remove(a->sched, t->key);
	task_clear(t);
	memmove(&ts->t[i], &ts->t[i + 1], (ts->n - i - 1) * sizeof(*t));
	ts->n--;
	slot_arm(a);
	save(a);
}

static int cmd_unregister(const struct req *r)
{
	const char *task, *app = req_names(r, true, &task);
	struct task *t;
	cJSON *b;

	if (!app)
		return 0;
	t = find(r->a->tasks, app, task);
	if (!t)
		return fail(r, -ENOENT, "app %s has no task named '%s' (see task-list)", app, task);
	cancel_waiters(r->a, app, task, "unregistered");
	task_remove(r->a, t);
	DS_LOG_INF("app %s unregistered task %s", app, task);
	ds_agent_sched_kick(r->a);
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "app", app);
	cJSON_AddStringToObject(b, "task", task);
	return ds_ipc_reply(r->s, r->conn, r->id, b), 0;
}

static int cmd_list(const struct req *r)
{
	const cJSON *app = cJSON_GetObjectItemCaseSensitive(r->j, "app");
	struct ds_tasks *ts = r->a->tasks;
	cJSON *b, *arr;

	if (app && !cJSON_IsNull(app) && !cJSON_IsString(app))
		return fail(r, -EINVAL, "\"app\" must be a string");
	b = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(b, "tasks");
	for (size_t i = 0; i < ts->n; i++) {
		cJSON *o;
		bool waiting = false;

		if (cJSON_IsString(app) && strcmp(app->valuestring, ts->t[i].app))
			continue;
		o = task_json(r->a, &ts->t[i], true);
		for (size_t k = 0; k < ts->nw; k++)
			if (!strcmp(ts->w[k].app, ts->t[i].app) &&
			    (!ts->w[k].name[0] || !strcmp(ts->w[k].name, ts->t[i].name)))
				waiting = true;
		cJSON_AddBoolToObject(o, "waiting", waiting);
		cJSON_AddItemToArray(arr, o);
	}
	return ds_ipc_reply(r->s, r->conn, r->id, b), 0;
}

static int cmd_wait(const struct req *r)
{
	struct ds_tasks *ts = r->a->tasks;
	const char *task, *app = req_names(r, false, &task);
	struct waiter *nw;
	bool known = false;

	if (!app)
		return 0;
	for (size_t i = 0; i < ts->n; i++) {
		struct task *t = &ts->t[i];

		if (strcmp(t->app, app) || (task && strcmp(t->name, task)))
			continue;
		known = true;
		if (t->state != TASK_OWED)
			continue;
		/* A wake it missed: now, as a run of its own (the scheduler counts it as started). */
		if (wake(r->a, r->conn, r->id, t) == 0) {
			ds_sched_started(r->a->sched, t->key, now_ms());
			activate(r->a, t);
		}
		return 0;
	}
	if (!known)
		return task ? fail(r, -ENOENT, "app %s has no task named '%s' (task-register it first)", app, task) :
			      fail(r, -ENOENT, "app %s has no task (task-register one first)", app);
	/* One wait per (app, task): the newer replaces the older (a restarted app). */
	for (size_t i = 0; i < ts->nw; i++) {
		struct waiter w = ts->w[i];

		if (strcmp(w.app, app) || strcmp(w.name, task ? task : ""))
			continue;
		waiter_drop(ts, i--);
		ds_ipc_reply_error(r->a->ipc, w.conn, w.id, -ECANCELED, "replaced by a newer task-wait");
	}
	nw = ds_realloc(ts->w, (ts->nw + 1) * sizeof(*nw));
	if (!nw)
		return fail(r, -ENOMEM, "out of memory");
	ts->w = nw;
	nw = &ts->w[ts->nw++];
	memset(nw, 0, sizeof(*nw));
	nw->conn = r->conn;
	nw->id = r->id;
	snprintf(nw->app, sizeof(nw->app), "%s", app);
	snprintf(nw->name, sizeof(nw->name), "%s", task ? task : "");
	DS_LOG_DBG("app %s waits for %s", app, task ? task : "any of its tasks");
	return 1;
}

static int cmd_done(const struct req *r)
{
	struct ds_agent *a = r->a;
	const char *task, *app = req_names(r, true, &task);
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(r->j, "ok");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(r->j, "message");
	struct task *t;
	bool success, removed = false;
	cJSON *b;

	if (!app)
		return 0;
	if (ok && !cJSON_IsBool(ok))
		return fail(r, -EINVAL, "\"ok\" must be true or false");
	success = !ok || cJSON_IsTrue(ok);
	t = find(a->tasks, app, task);
	if (!t)
		return fail(r, -ENOENT, "app %s has no task named '%s'", app, task);
	if (t->state != TASK_ACTIVE)
		return fail(r, -EALREADY, "app %s, task %s is not running (it was done, or its %ds slot ended)", app,
			    task, CONFIG_DS_SCHED_RUN_BUDGET_S);
	t->state = TASK_IDLE;
	ds_sched_done(a->sched, t->key, success ? 0 : -EIO, now_ms());
	DS_LOG_INF("app %s, task %s: done%s%s", app, task, success ? "" : ", failed: ",
		   success ? "" : cJSON_IsString(msg) ? msg->valuestring : "(no message)");
	if (success && t->oneshot) {
		task_remove(a, t);
		removed = true;
	} else {
		if (success)
			t->last_wall_ms = ds_port_wall_ms();
		slot_arm(a);
		save(a);
	}
	ds_agent_sched_kick(a);
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "app", app);
	cJSON_AddStringToObject(b, "task", task);
	cJSON_AddBoolToObject(b, "removed", removed);
	return ds_ipc_reply(r->s, r->conn, r->id, b), 0;
}

int ds_tasks_cmd_handle(struct ds_agent *a, struct ds_ipc_server *s, uint64_t conn, int64_t id, const char *cmd,
			cJSON *req)
{
	struct req r = { a, s, conn, id, req };

	if (!a->tasks || !a->sched)
		return fail(&r, -EAGAIN, "the scheduler is not running");
	if (!strcmp(cmd, "task-register"))
		return cmd_register(&r);
	if (!strcmp(cmd, "task-unregister"))
		return cmd_unregister(&r);
	if (!strcmp(cmd, "task-list"))
		return cmd_list(&r);
	if (!strcmp(cmd, "task-wait"))
		return cmd_wait(&r);
	if (!strcmp(cmd, "task-done"))
		return cmd_done(&r);
	return fail(&r, -ENOTSUP, "unknown command '%.40s' (task-register, task-unregister, task-list, task-wait, "
			       "task-done)", cmd);
}
