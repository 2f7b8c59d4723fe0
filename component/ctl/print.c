/* datasyncctl's readable output; --json prints the daemon's replies as they are instead. */
#include "core/ds_core.h"
#include "ctl/ds_ctl.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *str(const cJSON *o, const char *k, const char *dflt)
{
	const cJSON *v = get(o, k);

	return cJSON_IsString(v) ? v->valuestring : dflt;
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = get(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void wall_text(double ms, char *buf, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || !gmtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%d %H:%M:%SZ", &tm))
		snprintf(buf, cap, "?");
}

/* "ok: fetched 3, applied 3, ..." or "failed: message" for one run's stats. */
static void print_run(const cJSON *st)
{
	char when[40];

	wall_text(num(st, "finished_ms"), when, sizeof(when));
	if (cJSON_IsTrue(get(st, "ok")))
		printf("ok at %s: fetched %.0f, applied %.0f, uploaded %.0f, conflicts %.0f, errors %.0f", when,
		       num(st, "fetched"), num(st, "applied"), num(st, "uploaded"), num(st, "conflicts"),
		       num(st, "errors"));
	else
		printf("FAILED at %s: %s", when,
		       str(st, "message", "")[0] ? str(st, "message", "") : str(st, "error", "?"));
}

static void print_collection(const cJSON *c)
{
	const cJSON *last = get(c, "last"), *p = get(c, "progress");

	printf("  %-16s %-8s %s->%s  %s", str(c, "name", "?"),
	       cJSON_IsTrue(get(c, "enabled")) ? "enabled" : "disabled", str(c, "engine", "?"),
	       str(c, "remote", "?"), str(c, "state", "?"));
	if (cJSON_IsObject(p)) {
		if (num(p, "total") > 0)
			printf(" (%s %.0f/%.0f)", str(p, "phase", ""), num(p, "done"), num(p, "total"));
		else
			printf(" (%s)", str(p, "phase", ""));
	}
	printf("  last: ");
	if (cJSON_IsObject(last))
		print_run(last);
	else
		printf("never synced");
	printf("\n");
	if (cJSON_IsObject(get(c, "schedule"))) {
		printf("  %-16s ", "");
		ds_ctl_print_schedule(NULL, get(c, "schedule"));
	}
}

void ds_ctl_print_status(const cJSON *r)
{
	const cJSON *ev = get(r, "events"), *sch = get(r, "scheduler"), *cols = get(r, "collections"), *it;

	printf("datasyncd %s on board %s, device \"%s\" (pid %.0f, up %.0fs, log level %s, reloads %.0f)\n",
	       str(r, "version", "?"), str(r, "board", "?"), str(r, "device_name", "?"), num(r, "pid"),
	       num(r, "uptime_ms") / 1000, str(r, "log_level", "?"), num(r, "reloads"));
	printf("power:    %s\n", str(get(r, "power"), "text", "?"));
	printf("network:  %s\n", str(get(r, "net"), "text", "?"));
	printf("activity: %s\n", cJSON_IsTrue(get(r, "idle")) ? "idle" : "active");
	if (cJSON_IsObject(sch)) {
		const cJSON *ref = get(sch, "refused");

		printf("schedule: default every %.0fs, battery >= %.0f%%%s; ", num(sch, "sync_interval_s"),
		       num(sch, "min_battery_pct"), cJSON_IsTrue(get(sch, "unmetered_only")) ? ", unmetered only" : "");
		if (cJSON_IsNumber(get(sch, "next_wake_in_ms")))
			printf("next wake in %.0fs", num(sch, "next_wake_in_ms") / 1000);
		else
			printf(cJSON_IsTrue(get(sch, "busy")) ? "running" : "no wake planned");
		printf("; %.0f wakes, %.0f runs", num(sch, "batches"), num(sch, "runs"));
		if (!cJSON_IsTrue(get(sch, "allowed_now")))
			printf("; not now: %s", str(sch, "reason", "?"));
		if (cJSON_GetArraySize(ref)) {
			printf("; held back:");
			cJSON_ArrayForEach(it, ref)
				printf(" %s %.0f", it->string, it->valuedouble);
		}
		printf("\n");
	}
	printf("events (last %d of %.0f):\n", cJSON_GetArraySize(ev), num(r, "events_seen"));
	cJSON_ArrayForEach(it, ev)
		printf("  t+%8.3fs  %-8s %s\n", num(it, "mono_ms") / 1000, str(it, "type", "?"), str(it, "text", ""));
	printf("collections:%s\n", cJSON_GetArraySize(cols) ? "" : " none registered");
	cJSON_ArrayForEach(it, cols)
		print_collection(it);
	if (str(r, "collections_error", NULL))
		printf("  (cannot list: %s)\n", str(r, "collections_error", ""));
}

void ds_ctl_print_list(const cJSON *r)
{
	const cJSON *cols = get(r, "collections"), *it;

	if (!cJSON_GetArraySize(cols))
		printf("no collections registered\n");
	cJSON_ArrayForEach(it, cols) {
		const cJSON *p = get(it, "progress");

		printf("%-16s %-8s %s->%s %-8s %s\n", str(it, "name", "?"),
		       cJSON_IsTrue(get(it, "enabled")) ? "enabled" : "disabled", str(it, "engine", "?"),
		       str(it, "remote", "?"), str(it, "state", "?"), str(it, "title", ""));
		/* For a settings UI: where a running sync is, and when the next one comes and why. */
		if (cJSON_IsObject(p) && num(p, "total") > 0)
			printf("  progress: %s %.0f/%.0f\n", str(p, "phase", ""), num(p, "done"), num(p, "total"));
		if (cJSON_IsObject(get(it, "schedule"))) {
			printf("  schedule: ");
			ds_ctl_print_schedule(NULL, get(it, "schedule"));
		}
	}
}

void ds_ctl_print_results(const cJSON *r)
{
	const cJSON *res = get(r, "results"), *it;

	if (!cJSON_IsArray(res)) {
		if (cJSON_IsTrue(get(r, "queued")))
			printf("sync queued\n");
		return;
	}
	if (!cJSON_GetArraySize(res))
		printf("no enabled collection to sync\n");
	cJSON_ArrayForEach(it, res) {
		printf("%s: ", str(it, "name", "?"));
		print_run(it);
		printf("\n");
	}
}

void ds_ctl_print_version(const cJSON *r)
{
	const cJSON *f = get(r, "features"), *it;

	printf("datasyncd %s (board %s, protocol %.0f)", str(r, "version", "?"), str(r, "board", "?"),
	       num(r, "protocol"));
	cJSON_ArrayForEach(it, f)
		if (cJSON_IsString(it))
			printf(" %s", it->valuestring);
	printf("\ndatasyncctl %s\n", DS_VERSION);
}
