/*
 * datasyncctl's browser commands (docs/engine-tabs.md, docs/engine-clients.md):
 *   tabs set FILE|-      the device's open tabs (a JSON array) from a file or stdin
 *   tabs list            other devices' tabs
 *   clients [--all]      other devices of the account (--all: stale ones too)
 *   clients send ID COMMAND [ARG...]   a command to another device
 *   events [--after N]   "tab received" events
 */
#include "core/ds_core.h"
#include "ctl/ds_ctl_browser.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole of FILE ("-": stdin), at most 64 MiB. */
static char *slurp(const char *path)
{
	FILE *opened = strcmp(path, "-") ? fopen(path, "rb") : NULL, *f = opened ? opened : stdin;
	size_t len = 0, cap = 0;
	char *buf = NULL;

	if (!opened && strcmp(path, "-")) {
		fprintf(stderr, "datasyncctl: cannot read %s\n", path);
		return NULL;
	}
	for (;;) {
		size_t n;

		if (len + 4096 + 1 > cap) {
			char *nb = cap > (64u << 20) ? NULL : ds_realloc(buf, cap = cap * 2 + 8192);

			if (!nb) {
				ds_free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, 4096, f);
		len += n;
		if (n < 4096)
			break;
	}
	if (buf)
		buf[len] = '\0';
	if (opened)
		fclose(opened);
	return buf;
}

/* lastUsed as the daemon reads it (a number or a numeric string of seconds). */
static double last_used(const cJSON *t)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "lastUsed");

	if (cJSON_IsNumber(v))
		return v->valuedouble;
	return cJSON_IsString(v) ? strtod(v->valuestring, NULL) : 0;
}

/* The daemon refuses a request over CONFIG_DS_IPC_MAX_MESSAGE: leave out the least recently
 * used tabs, a sixteenth at a time, until the request fits (as ds_client_tabs_set does). */
static void fit_request(cJSON *req, cJSON *tabs)
{
	int dropped = 0;

	for (;;) {
		char *text = cJSON_PrintUnformatted(req);
		size_t len = text ? strlen(text) : 0;
		int n = cJSON_GetArraySize(tabs);

		cJSON_free(text);
		if (!text || len + 32 < (size_t)CONFIG_DS_IPC_MAX_MESSAGE || n == 0)
			break;
		for (int cut = n / 16 + 1; cut > 0; cut--) {
			cJSON *t, *oldest = NULL;

			cJSON_ArrayForEach(t, tabs)
				if (!oldest || last_used(t) < last_used(oldest))
					oldest = t;
			cJSON_Delete(cJSON_DetachItemViaPointer(tabs, oldest));
			dropped++;
		}
	}
	if (dropped)
		fprintf(stderr, "datasyncctl: %d least recently used tabs left out (one request holds at most "
			"%d bytes)\n", dropped, CONFIG_DS_IPC_MAX_MESSAGE);
}

static cJSON *usage(const char *msg)
{
	fprintf(stderr, "datasyncctl: %s\n", msg);
	return NULL;
}

cJSON *ds_ctl_build_browser(const char *cmd, int argc, char **argv, bool *json)
{
	cJSON *req = cJSON_CreateObject();
	int i = 0;

	if (!req)
		return NULL;
	if (!strcmp(cmd, "tabs")) {
		const char *sub = argc > 0 ? argv[0] : "";

		i = 1;
		if (!strcmp(sub, "set") && argc > 1 && strcmp(argv[1], "--json")) {
			char *text = slurp(argv[1]);
			cJSON *tabs = text ? cJSON_Parse(text) : NULL;

			ds_free(text);
			if (!tabs) {
				cJSON_Delete(req);
				return usage("tabs set: the file is not JSON (an array of tabs)");
			}
			cJSON_AddStringToObject(req, "cmd", "tabs-set");
			cJSON_AddItemToObject(req, "tabs", tabs);
			if (cJSON_IsObject(tabs))
				tabs = cJSON_GetObjectItemCaseSensitive(tabs, "tabs");
			if (cJSON_IsArray(tabs))
				fit_request(req, tabs);
			i = 2;
		} else if (!strcmp(sub, "list")) {
			cJSON_AddStringToObject(req, "cmd", "tabs-list");
		} else {
			cJSON_Delete(req);
			return usage("usage: tabs set FILE|- | tabs list");
		}
	} else if (!strcmp(cmd, "clients") && argc >= 3 && !strcmp(argv[0], "send")) {
		cJSON *args = cJSON_AddArrayToObject(req, "args");

		cJSON_AddStringToObject(req, "cmd", "clients-send");
		cJSON_AddStringToObject(req, "target", argv[1]);
		cJSON_AddStringToObject(req, "command", argv[2]);
		for (i = 3; i < argc && strcmp(argv[i], "--json"); i++)
			cJSON_AddItemToArray(args, cJSON_CreateString(argv[i]));
	} else if (!strcmp(cmd, "clients")) {
		cJSON_AddStringToObject(req, "cmd", "clients-list");
	} else {
		cJSON_AddStringToObject(req, "cmd", "events");
	}
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			*json = true;
		} else if (!strcmp(cmd, "clients") && !strcmp(argv[i], "--all")) {
			cJSON_AddBoolToObject(req, "all", true);
		} else if (!strcmp(cmd, "events") && !strcmp(argv[i], "--after") && i + 1 < argc) {
			cJSON_AddNumberToObject(req, "after", strtod(argv[++i], NULL));
		} else {
			cJSON_Delete(req);
			return usage("usage: tabs set FILE|- | tabs list | clients [--all] | clients send ID COMMAND "
				     "[ARG...] | events [--after SEQ]");
		}
	}
	return req;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

void ds_ctl_print_browser(const char *cmd, const cJSON *r)
{
	const cJSON *it, *t;

	if (!strcmp(cmd, "events")) {
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r, "events"))
			printf("%.0f %s: %s \"%s\" from %s\n",
			       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "seq")), str(it, "type"),
			       str(it, "uri"), str(it, "title"),
			       *str(it, "senderName") ? str(it, "senderName") : *str(it, "sender") ? str(it, "sender") : "?");
		return;
	}
	if (!cJSON_GetObjectItemCaseSensitive(r, "clients") && !cJSON_GetObjectItemCaseSensitive(r, "changed")) {
		printf("command queued: it goes out with the next clients sync\n");
		return;
	}
	if (cJSON_GetObjectItemCaseSensitive(r, "changed")) {
		printf("tabs %s\n", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "changed"))
			? "stored: this device's record goes up at the next tabs sync" : "unchanged");
		return;
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r, "clients")) {
		const cJSON *tabs = cJSON_GetObjectItemCaseSensitive(it, "tabs");

		if (!tabs) {
			const cJSON *type = cJSON_GetObjectItemCaseSensitive(it, "type");

			printf("%s  %s (%s)%s\n", str(it, "id"), str(it, "name"),
			       cJSON_IsString(type) ? type->valuestring : "unknown type",
			       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "stale")) ? " stale" : "");
			continue;
		}
		printf("%s (%s): %d tabs\n", str(it, "clientName"), str(it, "id"), cJSON_GetArraySize(tabs));
		cJSON_ArrayForEach(t, tabs)
			printf("  %s  %s\n", str(t, "url"), str(t, "title"));
	}
}
