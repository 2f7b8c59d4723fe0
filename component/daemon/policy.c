/*
 * datasyncd's side of the scheduler (component/sched/): feeds it the store's collections,
 * the port's events and the worker's run ends, queues what ds_sched_poll() says, keeps one
 * loop timer at ds_sched_next_wake() and one at the batch's budget.
 *
 * A collection's policy = the board's defaults (Kconfig), overridden by datasync.conf
 * (sync_interval_s, min_battery_pct, unmetered_only), then by the registration's "schedule"
 * object, then by "datasyncctl set" (kept in the store's kv table as sched.<name>).
 * The scheduler's clock is ds_port_mono_ms(); the store keeps wall times.
 */
#define DS_LOG_TAG "sched"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_SCHED
#include "core/ds_core.h"
#include "core/ds_loop.h"
#include "daemon/ds_agent.h"
#include "daemon/ds_changes.h"
#include "daemon/ds_tasks.h"
#include "daemon/ds_worker.h"
#include "sched/ds_sched.h"
#include "store/ds_store.h"
#include "sync/ds_sync.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

enum { TIMER_SCHED = 2, TIMER_BUDGET = 3 };

#define KV_PREFIX "sched."
#define KV_OVERRIDE_MAX 512 /* an override's JSON text, with its terminating NUL */

static int64_t now_ms(void)
{
	return ds_port_mono_ms();
}

/* ---- policies ------------------------------------------------------------------------------- */

static int num_or_duration(const cJSON *v, int64_t *out)
{
	if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e9) {
		*out = (int64_t)v->valuedouble;
		return 0;
	}
	if (cJSON_IsString(v))
		return ds_sched_duration_parse(v->valuestring, out);
	return -EINVAL;
}

int ds_agent_sched_parse(const cJSON *o, struct ds_sched_policy *p, char *err, size_t cap)
{
	const cJSON *v;

	if (!o || cJSON_IsNull(o))
		return 0;
	if (!cJSON_IsObject(o)) {
		snprintf(err, cap, "\"schedule\" must be an object");
		return -EINVAL;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "interval")) && num_or_duration(v, &p->interval_s)) {
		snprintf(err, cap, "interval: a number of seconds or a duration like 4h, 30m");
		return -EINVAL;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "flex")) && num_or_duration(v, &p->flex_s)) {
		snprintf(err, cap, "flex: a number of seconds or a duration like 10m");
		return -EINVAL;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "network"))) {
		if (!cJSON_IsString(v)) {
			snprintf(err, cap, "network: any, unmetered or none");
			return -EINVAL;
		} else if (!strcmp(v->valuestring, "any")) {
			p->c.needs_network = true;
			p->c.unmetered_only = false;
		} else if (!strcmp(v->valuestring, "unmetered")) {
			p->c.needs_network = true;
			p->c.unmetered_only = true;
		} else if (!strcmp(v->valuestring, "none")) {
			p->c.needs_network = false;
			p->c.unmetered_only = false;
		} else {
			snprintf(err, cap, "network: any, unmetered or none");
			return -EINVAL;
		}
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "charging_only"))) {
		if (!cJSON_IsBool(v)) {
			snprintf(err, cap, "charging_only: true or false");
			return -EINVAL;
		}
		p->c.charging_only = cJSON_IsTrue(v);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "power_save"))) {
		if (!cJSON_IsBool(v)) {
			snprintf(err, cap, "power_save: true or false");
			return -EINVAL;
		}
		p->c.allow_power_save = cJSON_IsTrue(v);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "min_battery_pct"))) {
		if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 100) {
			snprintf(err, cap, "min_battery_pct: 0..100");
			return -EINVAL;
		}
		p->c.min_battery_pct = v->valueint;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "priority")) &&
	    (!cJSON_IsString(v) || ds_sched_priority_parse(v->valuestring, &p->priority))) {
		snprintf(err, cap, "priority: low, normal or urgent");
		return -EINVAL;
	}
	return 0;
}

static cJSON *policy_json(const struct ds_sched_policy *p)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "interval", (double)p->interval_s);
	cJSON_AddNumberToObject(o, "flex", (double)p->flex_s);
	cJSON_AddStringToObject(o, "network", !p->c.needs_network ? "none" : p->c.unmetered_only ? "unmetered" : "any");
	cJSON_AddBoolToObject(o, "charging_only", p->c.charging_only);
	cJSON_AddNumberToObject(o, "min_battery_pct", p->c.min_battery_pct);
	cJSON_AddBoolToObject(o, "power_save", p->c.allow_power_save);
	cJSON_AddStringToObject(o, "priority", ds_sched_priority_name(p->priority));
	return o;
}

cJSON *ds_agent_sched_override_get(struct ds_agent *a, const char *name)
{
	char key[DS_SCHED_NAME_MAX + 8], text[KV_OVERRIDE_MAX];

	snprintf(key, sizeof(key), KV_PREFIX "%s", name);
	return ds_store_kv_get(a->store, key, text, sizeof(text)) > 0 ? cJSON_Parse(text) : NULL;
}

int ds_agent_sched_override_set(struct ds_agent *a, const char *name, const char *json)
{
	char key[DS_SCHED_NAME_MAX + 8];

	if (strlen(json) >= KV_OVERRIDE_MAX)
		return -E2BIG;
	snprintf(key, sizeof(key), KV_PREFIX "%s", name);
	return ds_store_kv_set(a->store, key, json);
}

/* Board + datasync.conf defaults for a remote of this kind. */
static void conf_defaults(const struct ds_agent *a, const char *remote_kind, struct ds_sched_policy *p)
{
	ds_sched_policy_defaults(p);
	/* The configured interval is a default, not a registration: clamp it rather than refuse. */
	p->interval_s = a->conf.sync_interval_s > 0 ? DS_MAX(a->conf.sync_interval_s, CONFIG_DS_SCHED_MIN_INTERVAL_S) : 0;
	p->c.min_battery_pct = a->conf.min_battery_pct;
	p->c.unmetered_only = a->conf.unmetered_only;
	/* A local folder needs no network (it may be a network mount: say so in "schedule"). */
	if (remote_kind && !strcmp(remote_kind, "dir"))
		p->c.needs_network = false;
}

/* The remote's members that name its server, by preference. */
static const char *const server_keys[] = { "url", "server", "dir" };

/* Full policy, title and server of a registration. */
static int reg_policy(struct ds_agent *a, const char *name, const cJSON *reg, struct ds_sched_policy *p,
		      char *server, size_t scap, char *err, size_t ecap)
{
	const cJSON *remote = cJSON_GetObjectItemCaseSensitive(reg, "remote");
	const char *kind = ds_agent_json_str(remote, "kind", NULL), *ekind, *where = NULL;
	cJSON *o;
	int rc;

	conf_defaults(a, kind, p);
	rc = ds_agent_sched_parse(cJSON_GetObjectItemCaseSensitive(reg, "schedule"), p, err, ecap);
	if (rc)
		return rc;
	o = ds_agent_sched_override_get(a, name);
	rc = ds_agent_sched_parse(o, p, err, ecap);
	cJSON_Delete(o);
	if (rc)
		return rc;
	/* Server-directed backoff is per server: collections on one server share it. */
	for (size_t i = 0; i < DS_ARRAY_SIZE(server_keys) && !where; i++)
		where = ds_agent_json_str(remote, server_keys[i], NULL);
	/* Every Sync 1.5 collection of the account lives on the account's one storage node: its
	 * X-Weave-Backoff quiets them all (sync15.md §6). */
	if (kind && !strcmp(kind, "sync15") && !where)
		where = "account";
	snprintf(server, scap, "%s:%s", kind ? kind : "?", where ? where : name);
	/* The clients collection leads a batch (sync15.md §5: it comes first in every run). */
	ekind = ds_agent_json_str(cJSON_GetObjectItemCaseSensitive(reg, "engine"), "kind", NULL);
	p->lead = ekind && !strcmp(ekind, "clients");
	return 0;
}

/* (Re)load one collection into the scheduler from the store. */
static int load_one(struct ds_agent *a, const cJSON *reg, bool enabled)
{
	const char *name = ds_agent_json_str(reg, "name", NULL);
	struct ds_sched_policy p;
	struct ds_run_stats st;
	char server[DS_SCHED_SERVER_MAX + 1], err[160];
	int64_t now = now_ms();
	int rc;

	if (!name)
		return -EINVAL;
	rc = reg_policy(a, name, reg, &p, server, sizeof(server), err, sizeof(err));
	if (!rc)
		rc = ds_sched_policy_check(a->sched, &p, false, err, sizeof(err));
	if (rc) {
		DS_LOG_WRN("%s: schedule ignored (%s): board defaults apply", name, err);
		conf_defaults(a, NULL, &p);
	}
	if (ds_sched_has(a->sched, name)) {
		rc = ds_sched_set_policy(a->sched, name, &p, now);
	} else {
		rc = ds_sched_add(a->sched, name, ds_agent_json_str(reg, "title", NULL), server, &p, false, now);
		memset(&st, 0, sizeof(st));
		/* The last run (wall clock) placed on the scheduler's monotonic clock. */
		if (!rc && ds_store_run_last(a->store, name, &st) == 0 && st.finished_ms > 0)
			ds_sched_set_last_run(a->sched, name,
					      now - DS_MAX(0, ds_port_wall_ms() - st.finished_ms), st.result == 0);
	}
	if (!rc)
		rc = ds_sched_set_enabled(a->sched, name, enabled, now);
	return rc;
}

int ds_agent_sched_reload(struct ds_agent *a, const char *only)
{
	cJSON *list = NULL, *it;
	int rc = ds_store_collection_list(a->store, &list);

	if (rc)
		return rc;
	/* Forget collections that are gone. */
	for (size_t i = ds_sched_count(a->sched); i-- > 0;) {
		struct ds_sched_info info;

		if (ds_sched_info_at(a->sched, i, now_ms(), &info) || info.app_task)
			continue;
		if (!ds_agent_list_find(list, info.name))
			ds_sched_remove(a->sched, info.name);
	}
	cJSON_ArrayForEach(it, list) {
		const char *n = ds_agent_json_str(it, "name", NULL);

		if (only && (!n || strcmp(n, only)))
			continue;
		if (load_one(a, it, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "enabled"))))
			DS_LOG_WRN("%s: not scheduled", n ? n : "?");
	}
	cJSON_Delete(list);
	if (!only)
		ds_agent_tasks_reapply(a);
	ds_agent_changes_reload(a);
	ds_agent_sched_kick(a);
	return 0;
}

/* ---- running what the scheduler says -------------------------------------------------------- */

static void sched_fire(void *user_data)
{
	ds_agent_sched_kick(user_data);
}

/* A run of name still queued at the worker goes back to the scheduler; true if it was queued. */
static bool put_back(struct ds_agent *a, const char *name, int64_t now)
{
	if (ds_worker_unqueue(a->worker, name) != 1)
		return false;
	ds_sched_cut(a->sched, name, now);
	return true;
}

/* The budget is spent: collections of the batch that have not started wait for a later wake. */
static void budget_fire(void *user_data)
{
	struct ds_agent *a = user_data;

	for (size_t i = 0; i < a->batch.n; i++) {
		const char *name = a->batch.item[i].name;

		if (put_back(a, name, now_ms()))
			DS_LOG_INF("%s: the wake's %llds budget is spent: resumes later", name,
				   (long long)CONFIG_DS_SCHED_RUN_BUDGET_S);
	}
	ds_agent_sched_kick(a);
}

static void arm(struct ds_agent *a)
{
	int64_t now = now_ms(), next = ds_sched_next_wake(a->sched, now);

	a->next_sched_mono = next;
	if (next < 0) {
		ds_loop_timer_cancel(a->loop, TIMER_SCHED);
		return;
	}
	if (ds_loop_timer(a->loop, TIMER_SCHED, DS_MAX(0, next - now), sched_fire, a))
		DS_LOG_ERR("cannot arm the scheduler's timer");
}

void ds_agent_sched_kick(struct ds_agent *a)
{
	int64_t now = now_ms();
	struct ds_sched_batch b;
	size_t n;

	if (!a->sched || !a->worker)
		return;
	n = ds_sched_poll(a->sched, now, &b);
	if (n) {
		a->batch = b;
		a->batches++;
		/* The wake lock covers the whole batch, so the device does not sleep between two
		 * collections of one radio session; the worker holds its own per run. */
		if (!a->batch_lock && ds_port_wake_lock("sched") == 0)
			a->batch_lock = true;
		for (size_t i = 0; i < n; i++) {
			int rc;

			/* An app task is the app's to run: wake it (tasks.c), the worker has nothing to do. */
			if (b.item[i].app_task) {
				ds_agent_tasks_due(a, b.item[i].name, b.item[i].why);
				continue;
			}
			rc = ds_worker_queue(a->worker, b.item[i].name, false, 0, 0);

			DS_LOG_INF("%s: scheduled run (%s)%s", b.item[i].name, ds_sched_reason_name(b.item[i].why),
				   rc ? ": cannot queue" : "");
			if (rc)
				ds_sched_cut(a->sched, b.item[i].name, now);
		}
		snprintf(a->last_batch, sizeof(a->last_batch), "%zu collection%s at t+%llds", n, n == 1 ? "" : "s",
			 (long long)(now / 1000));
		a->last_batch_wall = ds_port_wall_ms();
		ds_loop_timer(a->loop, TIMER_BUDGET, DS_MAX(0, b.deadline_ms - now), budget_fire, a);
	}
	if (!ds_sched_busy(a->sched)) {
		ds_loop_timer_cancel(a->loop, TIMER_BUDGET);
		a->batch.n = 0;
		if (a->batch_lock) {
			ds_port_wake_unlock("sched");
			a->batch_lock = false;
		}
	}
	arm(a);
}

static void on_run_end(const char *name, int result, int64_t backoff_s, int64_t hard_s, void *user_data)
{
	struct ds_agent *a = user_data;
	struct ds_sched_info info;
	int64_t now = now_ms();

	if (ds_sched_info(a->sched, name, now, &info))
		return; /* unregistered meanwhile */
	if (backoff_s > 0) {
		/* Soft (X-Weave-Backoff): the server's other collections wait, a person's request may
		 * go; hard (Retry-After): everything waits (sync15.md §6, AT-13). */
		ds_sched_server_backoff(a->sched, info.server, DS_SCHED_BACKOFF_SOFT, backoff_s, now);
		if (hard_s > 0)
			ds_sched_server_backoff(a->sched, info.server, DS_SCHED_BACKOFF_HARD, hard_s, now);
		/* "Finish the current engine only": the batch's queued runs on that server go back to
		 * the scheduler, which runs them once the backoff is over. */
		for (size_t i = 0; i < a->batch.n; i++) {
			struct ds_sched_info o;
			const char *other = a->batch.item[i].name;

			if (strcmp(other, name) && !ds_sched_info(a->sched, other, now, &o) &&
			    !strcmp(o.server, info.server) && put_back(a, other, now))
				DS_LOG_INF("%s: put off, the server asked to back off %llds", other,
					   (long long)backoff_s);
		}
	}
	ds_sched_done(a->sched, name, result, now);
	ds_agent_sched_kick(a);
}

/* ---- events and requests -------------------------------------------------------------------- */

void ds_agent_sched_event(struct ds_agent *a, const struct ds_port_event *ev)
{
	int64_t now = now_ms();

	switch (ev->type) {
	case DS_EV_POWER:
		ds_sched_set_power(a->sched, &ev->u.power, now);
		break;
	case DS_EV_NET:
		ds_sched_set_net(a->sched, &ev->u.net, now);
		/* Lost the network: queued runs that need it would only fail; they resume later. */
		if (!ev->u.net.up)
			for (size_t i = 0; i < a->batch.n; i++)
				if (a->batch.item[i].needs_network)
					put_back(a, a->batch.item[i].name, now);
		break;
	case DS_EV_IDLE:
		ds_sched_set_idle(a->sched, ev->u.idle, now);
		ds_agent_changes_idle(a, ev->u.idle);
		break;
	default:
		return;
	}
	ds_agent_sched_kick(a);
}

int ds_agent_sched_start(struct ds_agent *a)
{
	struct ds_sched_config cfg;
	int64_t now;
	int rc;

	ds_sched_config_defaults(&cfg);
	rc = ds_sched_new(&cfg, &a->sched);
	if (rc)
		return rc;
	now = now_ms();
	ds_sched_set_power(a->sched, &a->power, now);
	ds_sched_set_net(a->sched, &a->net, now);
	ds_sched_set_idle(a->sched, a->idle, now);
	ds_worker_on_run_end(a->worker, on_run_end, a);
	rc = ds_agent_tasks_start(a);
	if (rc)
		return rc;
	return ds_agent_sched_reload(a, NULL);
}

void ds_agent_sched_stop(struct ds_agent *a)
{
	ds_agent_changes_stop(a);
	ds_agent_tasks_stop(a);
	if (a->batch_lock)
		ds_port_wake_unlock("sched");
	a->batch_lock = false;
	ds_sched_free(a->sched);
	a->sched = NULL;
}

/* ---- status ---------------------------------------------------------------------------------- */

cJSON *ds_agent_sched_info_json(struct ds_agent *a, const char *name)
{
	struct ds_sched_info info;
	int64_t now = now_ms(), wall = ds_port_wall_ms();
	cJSON *o;

	if (!a->sched || ds_sched_info(a->sched, name, now, &info))
		return NULL;
	o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "policy", policy_json(&info.policy));
	cJSON_AddStringToObject(o, "why", info.why);
	cJSON_AddStringToObject(o, "block", ds_sched_block_name(info.block));
	cJSON_AddStringToObject(o, "server", info.server);
	if (info.next_ms >= 0)
		cJSON_AddNumberToObject(o, "next_in_ms", (double)(info.next_ms - now));
	else
		cJSON_AddNullToObject(o, "next_in_ms");
	if (info.not_before_ms >= 0)
		cJSON_AddNumberToObject(o, "not_before_in_ms", (double)(info.not_before_ms - now));
	if (info.last_run_ms >= 0)
		cJSON_AddNumberToObject(o, "last_run_wall_ms", (double)(wall - (now - info.last_run_ms)));
	cJSON_AddNumberToObject(o, "score", info.score);
	cJSON_AddNumberToObject(o, "errors", info.errors);
	return o;
}

cJSON *ds_agent_sched_json(struct ds_agent *a)
{
	const struct ds_sched_stats *st = ds_sched_stats(a->sched);
	struct ds_sched_policy d;
	int64_t now = now_ms();
	cJSON *o = cJSON_CreateObject(), *ref;
	char why[DS_SCHED_WHY_MAX];
	enum ds_sched_block b;

	conf_defaults(a, NULL, &d);
	cJSON_AddItemToObject(o, "defaults", policy_json(&d));
	/* Would a collection on the defaults (needing no network) run now, and if not why. */
	d.c.needs_network = false;
	b = ds_sched_check(a->sched, &d.c, d.priority, why, sizeof(why));
	cJSON_AddBoolToObject(o, "allowed_now", b == DS_SCHED_OK);
	if (b != DS_SCHED_OK)
		cJSON_AddStringToObject(o, "reason", why);
	if (a->next_sched_mono >= 0)
		cJSON_AddNumberToObject(o, "next_wake_in_ms", (double)DS_MAX(0, a->next_sched_mono - now));
	else
		cJSON_AddNullToObject(o, "next_wake_in_ms");
	cJSON_AddBoolToObject(o, "busy", ds_sched_busy(a->sched));
	cJSON_AddStringToObject(o, "last_batch", a->last_batch);
	cJSON_AddNumberToObject(o, "batches", (double)st->batches);
	cJSON_AddNumberToObject(o, "runs", (double)st->runs);
	cJSON_AddNumberToObject(o, "cut", (double)st->cut);
	cJSON_AddNumberToObject(o, "failed", (double)st->failed);
	ref = cJSON_AddObjectToObject(o, "refused");
	for (int i = 1; i < DS_SCHED_BLOCK_COUNT; i++)
		if (st->refused[i])
			cJSON_AddNumberToObject(ref, ds_sched_block_name((enum ds_sched_block)i), (double)st->refused[i]);
	cJSON_AddNumberToObject(o, "user_refused", (double)st->user_refused);
	ref = ds_agent_changes_json(a);
	if (ref)
		cJSON_AddItemToObject(o, "local_changes", ref);
	else
		cJSON_AddNullToObject(o, "local_changes");
	{
		unsigned n, waiting, active;

		ds_agent_tasks_counts(a, &n, &waiting, &active);
		ref = cJSON_AddObjectToObject(o, "tasks");
		cJSON_AddNumberToObject(ref, "registered", n);
		cJSON_AddNumberToObject(ref, "waiting", waiting);
		cJSON_AddNumberToObject(ref, "active", active);
	}
	return o;
}
