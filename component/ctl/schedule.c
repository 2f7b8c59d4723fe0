/* "datasyncctl set": a collection's schedule from options, and its readable form. */
#include "core/ds_core.h"
#include "ctl/ds_ctl.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int yes_no(const char *v, bool *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off")) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

/* The daemon checks durations and ranges (one rule set); here only the option's shape. */
cJSON *ds_ctl_build_schedule(int argc, char **argv, bool *json)
{
	cJSON *o;
	int i;

	if (argc < 1 || argv[0][0] == '-') {
		fprintf(stderr, "datasyncctl: set needs a collection NAME\n");
		return NULL;
	}
	o = cJSON_CreateObject();
	if (!o)
		return NULL;
	for (i = 1; i < argc; i++) {
		const char *opt = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool b;

		if (!strcmp(opt, "--json")) {
			*json = true;
			continue;
		}
		if (!v)
			goto usage;
		i++;
		if (!strcmp(opt, "--interval"))
			cJSON_AddStringToObject(o, "interval", v);
		else if (!strcmp(opt, "--flex"))
			cJSON_AddStringToObject(o, "flex", v);
		else if (!strcmp(opt, "--network"))
			cJSON_AddStringToObject(o, "network", v);
		else if (!strcmp(opt, "--priority"))
			cJSON_AddStringToObject(o, "priority", v);
		else if (!strcmp(opt, "--min-battery")) {
			char *end;
			long pct = strtol(v, &end, 10);

			if (*end || end == v || pct < 0 || pct > 100) {
				fprintf(stderr, "datasyncctl: --min-battery takes a percentage 0..100\n");
				goto fail;
			}
			cJSON_AddNumberToObject(o, "min_battery_pct", (double)pct);
		} else if (!strcmp(opt, "--charging-only") || !strcmp(opt, "--power-save")) {
			if (yes_no(v, &b)) {
				fprintf(stderr, "datasyncctl: %s takes yes or no\n", opt);
				goto fail;
			}
			cJSON_AddBoolToObject(o, opt[2] == 'c' ? "charging_only" : "power_save", b);
		} else {
			goto usage;
		}
	}
	if (!cJSON_GetArraySize(o)) {
		fprintf(stderr, "datasyncctl: set: nothing to change (see --help)\n");
		goto fail;
	}
	return o;
usage:
	fprintf(stderr, "datasyncctl: set: unknown or incomplete option '%s' (see --help)\n", argv[i]);
fail:
	cJSON_Delete(o);
	return NULL;
}

static double num(const cJSON *o, const char *k, double dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "?";
}

void ds_ctl_print_schedule(const char *name, const cJSON *s)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(s, "policy");
	double iv = num(p, "interval", 0);

	if (!cJSON_IsObject(s))
		return;
	if (name)
		printf("%s: ", name);
	if (iv > 0)
		printf("every %.0fs", iv);
	else
		printf("no periodic sync");
	printf(", network %s%s, battery >= %.0f%%%s, priority %s; %s\n", str(p, "network"),
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "charging_only")) ? ", charging only" : "",
	       num(p, "min_battery_pct", 0),
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "power_save")) ? ", also in battery saver" : "",
	       str(p, "priority"), str(s, "why"));
}
