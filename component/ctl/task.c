/* "datasyncctl task": register, unregister, list, wait for and end app tasks (docs/ipc.md). */
#include "core/ds_core.h"
#include "ctl/ds_ctl_task.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static const char USAGE[] =
	"datasyncctl: task register APP TASK --interval DUR [--oneshot yes|no] [--wifi-only yes|no]"
	" [--data JSON]\n"
	"             task unregister APP TASK | task list [APP] | task wait APP [TASK]\n"
	"             task done APP TASK [--failed MESSAGE]\n";

static int yes_no(const char *v, bool *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

/* Options of register and done; the daemon checks values (one rule set), here their shape. */
static int options(cJSON *req, const char *sub, int argc, char **argv, bool *json)
{
	for (int i = 0; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool b;

		if (!strcmp(o, "--json")) {
			*json = true;
			continue;
		}
		if (!strcmp(sub, "register") && v && !strcmp(o, "--interval")) {
			cJSON_AddStringToObject(req, "min_interval_s", v);
		} else if (!strcmp(sub, "register") && v && (!strcmp(o, "--oneshot") || !strcmp(o, "--wifi-only"))) {
			if (yes_no(v, &b)) {
				fprintf(stderr, "datasyncctl: %s takes yes or no\n", o);
				return -EINVAL;
			}
			cJSON_AddBoolToObject(req, o[2] == 'o' ? "oneshot" : "wifi_only", b);
		} else if (!strcmp(sub, "register") && v && !strcmp(o, "--data")) {
			cJSON *d = cJSON_Parse(v);

			if (!d) {
				fprintf(stderr, "datasyncctl: --data takes a JSON value\n");
				return -EINVAL;
			}
			cJSON_AddItemToObject(req, "data", d);
		} else if (!strcmp(sub, "done") && v && !strcmp(o, "--failed")) {
			cJSON_AddBoolToObject(req, "ok", false);
			cJSON_AddStringToObject(req, "message", v);
		} else {
			fprintf(stderr, "datasyncctl: task %s: unknown or incomplete option '%s'\n", sub, o);
			return -EINVAL;
		}
		i++;
	}
	if (!strcmp(sub, "register") && !cJSON_GetObjectItemCaseSensitive(req, "min_interval_s")) {
		fprintf(stderr, "datasyncctl: task register needs --interval (at least 100s)\n");
		return -EINVAL;
	}
	return 0;
}

cJSON *ds_ctl_build_task(int argc, char **argv, bool *json)
{
	static const char *const subs[] = { "register", "unregister", "list", "wait", "done" };
	const char *sub = argc > 0 ? argv[0] : "";
	int names = 0, min_names, max_names, i;
	char cmd[24];
	cJSON *req;

	for (i = 0; i < (int)DS_ARRAY_SIZE(subs); i++)
		if (!strcmp(sub, subs[i]))
			break;
	if (i == (int)DS_ARRAY_SIZE(subs)) {
		fputs(USAGE, stderr);
		return NULL;
	}
	/* list [APP], wait APP [TASK], the others APP TASK. */
	min_names = !strcmp(sub, "list") ? 0 : !strcmp(sub, "wait") ? 1 : 2;
	max_names = !strcmp(sub, "list") ? 1 : 2;
	snprintf(cmd, sizeof(cmd), "task-%s", sub);
	req = cJSON_CreateObject();
	if (!req)
		return NULL;
	cJSON_AddStringToObject(req, "cmd", cmd);
	for (i = 1; i < argc && argv[i][0] != '-' && names < max_names; i++, names++)
		cJSON_AddStringToObject(req, names ? "task" : "app", argv[i]);
	if (names < min_names) {
		fputs(USAGE, stderr);
		cJSON_Delete(req);
		return NULL;
	}
	if (options(req, sub, argc - i, argv + i, json)) {
		cJSON_Delete(req);
		return NULL;
	}
	return req;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "?";
}

static void print_one(const cJSON *t)
{
	const cJSON *sch = cJSON_GetObjectItemCaseSensitive(t, "schedule");
	const cJSON *iv = cJSON_GetObjectItemCaseSensitive(t, "min_interval_s");

	printf("%s/%s: every %.0fs, %s, %s; %s%s; %s\n", str(t, "app"), str(t, "task"),
	       cJSON_IsNumber(iv) ? iv->valuedouble : 0,
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "oneshot")) ? "one-shot" : "periodic",
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "wifi_only")) ? "Wi-Fi only" : "any network",
	       str(t, "state"), cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "waiting")) ? ", app waiting" : "",
	       cJSON_IsObject(sch) ? str(sch, "why") : "not scheduled");
}

void ds_ctl_print_task(const char *sub, const cJSON *r)
{
	const cJSON *it;

	if (!strcmp(sub, "register")) {
		print_one(cJSON_GetObjectItemCaseSensitive(r, "task"));
	} else if (!strcmp(sub, "list")) {
		const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(r, "tasks");

		if (!cJSON_GetArraySize(tasks))
			printf("no app task\n");
		cJSON_ArrayForEach(it, tasks)
			print_one(it);
	} else if (!strcmp(sub, "wait")) {
		const cJSON *slot = cJSON_GetObjectItemCaseSensitive(r, "slot_s");
		char *data = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(r, "data"));

		printf("%s/%s: due (%s)%s%s; answer 'datasyncctl task done %s %s' within %.0fs\n", str(r, "app"),
		       str(r, "task"), str(r, "why"), data ? ", data " : "", data ? data : "", str(r, "app"),
		       str(r, "task"), cJSON_IsNumber(slot) ? slot->valuedouble : 0);
		cJSON_free(data);
	} else if (!strcmp(sub, "done")) {
		printf("%s/%s: done%s\n", str(r, "app"), str(r, "task"),
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "removed")) ? " (one-shot: removed)" : "");
	} else {
		printf("%s/%s: unregistered\n", str(r, "app"), str(r, "task"));
	}
}
