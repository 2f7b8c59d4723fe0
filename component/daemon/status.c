/* "status" and "list" replies: the board, power and network state, recent events, collections. */
#define DS_LOG_TAG "daemon"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_CORE
#include "core/ds_core.h"
#include "core/ds_conf.h"
#include "daemon/ds_agent.h"
#include "daemon/ds_worker.h"
#include "store/ds_store.h"
#include "sync/ds_sync.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void power_text(const struct ds_power_state *p, char *buf, size_t cap)
{
	char pct[16] = "";

	if (p->battery_pct >= 0)
		snprintf(pct, sizeof(pct), " %d%%", p->battery_pct);
	snprintf(buf, cap, "%s%s%s%s%s", ds_power_source_name(p->source), pct,
		 p->charging ? ", charging" : (p->source == DS_POWER_BATTERY ? ", discharging" : ""),
		 p->low_battery ? ", low" : "", p->power_save ? ", battery saver" : "");
}

static void net_text(const struct ds_net_state *n, char *buf, size_t cap)
{
	if (!n->up) {
		snprintf(buf, cap, "down");
		return;
	}
	snprintf(buf, cap, "%s%s%s up, %s", ds_net_type_name(n->type), n->ifname[0] ? " " : "", n->ifname,
		 n->metered ? "metered" : "unmetered");
}

const char *ds_agent_event_text(const struct ds_port_event *ev, char *buf, size_t cap)
{
	switch (ev->type) {
	case DS_EV_POWER:
		power_text(&ev->u.power, buf, cap);
		return "power";
	case DS_EV_NET:
		net_text(&ev->u.net, buf, cap);
		return "net";
	case DS_EV_IDLE:
		snprintf(buf, cap, "%s", ev->u.idle ? "idle" : "active");
		return "idle";
	case DS_EV_SHUTDOWN:
		snprintf(buf, cap, "the system asks datasyncd to stop");
		return "shutdown";
	default:
		snprintf(buf, cap, "?");
		return "none";
	}
}

static cJSON *power_json(const struct ds_power_state *p)
{
	cJSON *o = cJSON_CreateObject();
	char text[96];

	power_text(p, text, sizeof(text));
	cJSON_AddStringToObject(o, "source", ds_power_source_name(p->source));
	cJSON_AddBoolToObject(o, "has_battery", p->has_battery);
	cJSON_AddNumberToObject(o, "battery_pct", p->battery_pct);
	cJSON_AddBoolToObject(o, "charging", p->charging);
	cJSON_AddBoolToObject(o, "low_battery", p->low_battery);
	cJSON_AddBoolToObject(o, "power_save", p->power_save);
	cJSON_AddStringToObject(o, "text", text);
	return o;
}

static cJSON *net_json(const struct ds_net_state *n)
{
	cJSON *o = cJSON_CreateObject();
	char text[96];

	net_text(n, text, sizeof(text));
	cJSON_AddBoolToObject(o, "up", n->up);
	cJSON_AddStringToObject(o, "type", ds_net_type_name(n->type));
	cJSON_AddBoolToObject(o, "metered", n->metered);
	cJSON_AddStringToObject(o, "ifname", n->ifname);
	cJSON_AddStringToObject(o, "text", text);
	return o;
}

cJSON *ds_agent_stats_json(const char *name, const struct ds_run_stats *st)
{
	cJSON *o = cJSON_CreateObject();

	if (name)
		cJSON_AddStringToObject(o, "name", name);
	cJSON_AddBoolToObject(o, "ok", st->result == 0);
	cJSON_AddNumberToObject(o, "result", st->result);
	if (st->result)
		cJSON_AddStringToObject(o, "error", ds_strerror(st->result));
	cJSON_AddStringToObject(o, "message", st->message);
	cJSON_AddNumberToObject(o, "started_ms", (double)st->started_ms);
	cJSON_AddNumberToObject(o, "finished_ms", (double)st->finished_ms);
	cJSON_AddNumberToObject(o, "fetched", st->fetched);
	cJSON_AddNumberToObject(o, "applied", st->applied);
	cJSON_AddNumberToObject(o, "uploaded", st->uploaded);
	cJSON_AddNumberToObject(o, "conflicts", st->conflicts);
	cJSON_AddNumberToObject(o, "errors", st->errors);
	return o;
}

cJSON *ds_agent_collections_json(struct ds_agent *a, int *err)
{
	cJSON *list = NULL, *out, *it;
	int rc;

	rc = ds_store_collection_list(a->store, &list);
	if (rc) {
		*err = rc;
		return NULL;
	}
	out = cJSON_CreateArray();
	cJSON_ArrayForEach(it, list) {
		const char *name = ds_agent_json_str(it, "name", NULL);
		const cJSON *engine = cJSON_GetObjectItemCaseSensitive(it, "engine");
		const cJSON *remote = cJSON_GetObjectItemCaseSensitive(it, "remote");
		struct ds_run_stats st;
		enum ds_worker_state ws;
		unsigned long done = 0, total = 0;
		char phase[32] = "";
		cJSON *c, *sched;

		if (!name)
			continue;
		c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "name", name);
		cJSON_AddStringToObject(c, "title", ds_agent_json_str(it, "title", name));
		cJSON_AddBoolToObject(c, "enabled", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "enabled")));
		cJSON_AddStringToObject(c, "engine", ds_agent_json_str(engine, "kind", "?"));
		cJSON_AddStringToObject(c, "remote", ds_agent_json_str(remote, "kind", "?"));
		ws = ds_worker_state(a->worker, name, phase, sizeof(phase), &done, &total);
		cJSON_AddStringToObject(c, "state", ds_worker_state_name(ws));
		if (ws == DS_WORKER_RUNNING) {
			cJSON *p = cJSON_AddObjectToObject(c, "progress");

			cJSON_AddStringToObject(p, "phase", phase);
			cJSON_AddNumberToObject(p, "done", done);
			cJSON_AddNumberToObject(p, "total", total);
		}
		sched = ds_agent_sched_info_json(a, name);
		if (sched)
			cJSON_AddItemToObject(c, "schedule", sched);
		/* The newer of the store's record and the worker's memory: when the store itself is
		 * full, the failed run is only in memory. */
		struct ds_run_stats mem;
		const struct ds_run_stats *last = NULL;

		memset(&st, 0, sizeof(st));
		if (ds_store_run_last(a->store, name, &st) == 0)
			last = &st;
		if (a->worker && ds_worker_last_run(a->worker, name, &mem) == 0 &&
		    (!last || mem.finished_ms >= st.finished_ms))
			last = &mem;
		cJSON_AddItemToObject(c, "last", last ? ds_agent_stats_json(NULL, last) : cJSON_CreateNull());
		cJSON_AddItemToArray(out, c);
	}
	cJSON_Delete(list);
	return out;
}

cJSON *ds_agent_status_json(struct ds_agent *a)
{
	cJSON *o = cJSON_CreateObject(), *ev, *pol, *cols;
	const char *board = ds_board_get()->name;
	int64_t now = ds_port_mono_ms();
	int err = 0;

	cJSON_AddStringToObject(o, "version", DS_VERSION);
	cJSON_AddStringToObject(o, "board", board);
	cJSON_AddStringToObject(o, "device_name", a->conf.device_name ? a->conf.device_name : board);
	cJSON_AddStringToObject(o, "device_id", a->device_id);
	cJSON_AddNumberToObject(o, "pid", (double)getpid());
	cJSON_AddNumberToObject(o, "uptime_ms", (double)(now - a->started_mono));
	cJSON_AddStringToObject(o, "log_level", ds_conf_log_level_name(ds_agent_log_level(a)));
	cJSON_AddNumberToObject(o, "reloads", a->reloads);
	cJSON_AddItemToObject(o, "power", power_json(&a->power));
	cJSON_AddItemToObject(o, "net", net_json(&a->net));
	cJSON_AddBoolToObject(o, "idle", a->idle);

	/* Oldest first, at most DS_AGENT_EVENTS. */
	ev = cJSON_AddArrayToObject(o, "events");
	cJSON_AddNumberToObject(o, "events_seen", a->events_seen);
	for (unsigned i = 0; i < DS_AGENT_EVENTS; i++) {
		unsigned k = (a->event_next + i) % DS_AGENT_EVENTS;
		const struct ds_agent_event *e = &a->events[k];
		cJSON *j;

		if (!e->type)
			continue;
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "type", e->type);
		cJSON_AddStringToObject(j, "text", e->text);
		cJSON_AddNumberToObject(j, "mono_ms", (double)e->mono_ms);
		cJSON_AddNumberToObject(j, "wall_ms", (double)e->wall_ms);
		cJSON_AddItemToArray(ev, j);
	}

	pol = ds_agent_sched_json(a);
	cJSON_AddItemToObject(o, "scheduler", pol);
	cJSON_AddNumberToObject(pol, "sync_interval_s", (double)a->conf.sync_interval_s);
	cJSON_AddNumberToObject(pol, "min_battery_pct", a->conf.min_battery_pct);
	cJSON_AddBoolToObject(pol, "unmetered_only", a->conf.unmetered_only);

	cols = ds_agent_collections_json(a, &err);
	if (cols)
		cJSON_AddItemToObject(o, "collections", cols);
	else
		cJSON_AddStringToObject(o, "collections_error", ds_strerror(err));
	return o;
}
