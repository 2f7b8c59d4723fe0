/*
 * datasyncctl: drive datasyncd from a shell.
 *
 * Exit status: 0 ok, 1 the request failed, 2 usage error, 3 datasyncd is not running.
 */
#include "core/ds_core.h"
#include "core/ds_conf.h"
#include "ctl/ds_ctl.h"
#include "ctl/ds_ctl_account.h"
#include "ctl/ds_ctl_browser.h"
#include "ctl/ds_ctl_task.h"
#include <datasync/datasync.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: datasyncctl [-s SOCKET | -c CONFIG] [--json] COMMAND [ARGS]\n"
		"commands:\n"
		"  status                      daemon, power, network, events, collections\n"
		"  version                     daemon and tool versions\n"
		"  list                        registered collections\n"
		"  sync [NAME] [--wait]        sync one or every enabled collection\n"
		"  register NAME --engine table --db PATH --table T [--pk COL[,COL]] [--columns a,b]\n"
		"           --remote dir --dir PATH (--passphrase-file F | --key-file F | --no-encryption)\n"
		"           [--direction two-way|import-only|export-only]\n"
		"           [--conflict server-wins|client-wins|newest-wins|merge] [--title TEXT]\n"
		"  register --json FILE        registration given as JSON\n"
		"  unregister NAME | enable NAME | disable NAME | reset NAME\n"
		"  set NAME [--interval DUR] [--flex DUR] [--network any|unmetered|none]\n"
		"           [--charging-only yes|no] [--min-battery PCT] [--power-save yes|no]\n"
		"           [--priority low|normal|urgent]   change when NAME syncs (DUR: 90s, 10m, 4h)\n"
		"  push [NAME]                 a push wake-up for NAME or every collection\n"
		"  task register APP TASK --interval DUR [--oneshot yes|no] [--wifi-only yes|no]\n"
		"           [--data JSON]      an app task (DUR at least 100s; both flags default to yes)\n"
		"  task unregister APP TASK | task list [APP]\n"
		"  task wait APP [TASK]        block until a task of APP is due, print it\n"
		"  task done APP TASK [--failed MESSAGE]   the woken task's work ended\n"
		"  tabs set FILE|- | tabs list   this device's open tabs (a JSON array); other devices' tabs\n"
		"  clients [--all]             other devices of the account (--all: stale ones too)\n"
		"  clients send ID COMMAND [ARG...]   a command to another device (e.g. displayURI URL ME TITLE)\n"
		"  events [--after SEQ]        tabs sent to this device\n"
		"  login EMAIL [--code CODE]   sign in to a Firefox Account (password from the terminal\n"
		"                              or the first line of stdin; a code when asked)\n"
		"  login --code CODE           finish a sign-in that waits for its verification code\n"
		"  logout                      sign out and erase the account's secrets\n"
		"options:\n"
		"  -s SOCKET   control socket (default: from the configuration, else %s)\n"
		"  -c CONFIG   read the socket's place from this datasyncd configuration\n"
		"  --json      print the daemon's reply as JSON (for scripts)\n"
		"exit status: 0 ok, 1 request failed, 2 usage, 3 datasyncd not running\n",
		ds_client_default_socket());
}

/* The socket: -s, else from -c (which must load), else from the default config if present. */
static char *find_socket(const char *sock, const char *config)
{
	struct ds_conf conf;
	char err[512], cwd[4096], *path = NULL;
	int rc;

	if (sock)
		return ds_strdup(sock);
	if (ds_conf_init(&conf))
		return NULL;
	ds_log_set_max_level(DS_LOG_ERR); /* unknown-key warnings are the daemon's to give */
	rc = ds_conf_load(&conf, config ? config : CONFIG_DS_CONFIG_FILE, err, sizeof(err));
	if (rc && (config || rc != -ENOENT)) {
		fprintf(stderr, "datasyncctl: %s\n", err);
		ds_conf_free(&conf);
		return NULL;
	}
	if (getcwd(cwd, sizeof(cwd)) && !ds_conf_make_absolute(&conf, cwd))
		path = ds_conf_socket_path(&conf);
	ds_conf_free(&conf);
	return path;
}

static const cJSON *get_schedule(const cJSON *r)
{
	return cJSON_GetObjectItemCaseSensitive(r, "schedule");
}

static bool is_name_cmd(const char *c)
{
	return !strcmp(c, "unregister") || !strcmp(c, "enable") || !strcmp(c, "disable") || !strcmp(c, "reset");
}

int main(int argc, char **argv)
{
	const char *sock_opt = NULL, *config = NULL, *cmd, *name;
	bool json = false, wait = false;
	struct ds_client *c = NULL;
	char *sock, *resp = NULL, *req_text = NULL;
	cJSON *req = NULL, *r;
	int i, rc, status;
	struct ds_ctl_account_opts acct = { 0 };

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-s") && i + 1 < argc) {
			sock_opt = argv[++i];
		} else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			config = argv[++i];
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return CTL_OK;
		} else {
			fprintf(stderr, "datasyncctl: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return CTL_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return CTL_USAGE;
	}
	cmd = argv[i++];
	name = i < argc && argv[i][0] != '-' ? argv[i] : NULL;

	/* Build the request before connecting: a usage error never needs the daemon. */
	req = cJSON_CreateObject();
	if (!req)
		return CTL_FAILED;
	cJSON_AddStringToObject(req, "cmd", cmd);
	if (!strcmp(cmd, "status") || !strcmp(cmd, "version") || !strcmp(cmd, "list")) {
		for (; i < argc; i++) {
			if (!strcmp(argv[i], "--json"))
				json = true;
			else
				goto usage_error;
		}
	} else if (!strcmp(cmd, "sync")) {
		for (; i < argc; i++) {
			if (!strcmp(argv[i], "--wait"))
				wait = true;
			else if (!strcmp(argv[i], "--json"))
				json = true;
			else if (argv[i][0] != '-' && !cJSON_GetObjectItem(req, "name"))
				cJSON_AddStringToObject(req, "name", argv[i]);
			else
				goto usage_error;
		}
		cJSON_AddBoolToObject(req, "wait", wait);
	} else if (!strcmp(cmd, "register")) {
		cJSON *reg = ds_ctl_build_registration(argc - i, argv + i);

		if (!reg) {
			cJSON_Delete(req);
			return CTL_USAGE;
		}
		cJSON_AddItemToObject(req, "registration", reg);
	} else if (!strcmp(cmd, "set")) {
		cJSON *sch = ds_ctl_build_schedule(argc - i, argv + i, &json);

		if (!sch) {
			cJSON_Delete(req);
			return CTL_USAGE;
		}
		cJSON_AddStringToObject(req, "name", argv[i]);
		cJSON_AddItemToObject(req, "schedule", sch);
	} else if (!strcmp(cmd, "push")) {
		for (; i < argc; i++) {
			if (!strcmp(argv[i], "--json"))
				json = true;
			else if (argv[i][0] != '-' && !cJSON_GetObjectItem(req, "name"))
				cJSON_AddStringToObject(req, "name", argv[i]);
			else
				goto usage_error;
		}
	} else if (is_name_cmd(cmd)) {
		for (; i < argc; i++) {
			if (!strcmp(argv[i], "--json"))
				json = true;
			else if (argv[i][0] != '-' && !cJSON_GetObjectItem(req, "name"))
				cJSON_AddStringToObject(req, "name", argv[i]);
			else
				goto usage_error;
		}
		if (!cJSON_GetObjectItem(req, "name")) {
			fprintf(stderr, "datasyncctl: %s needs a collection NAME\n", cmd);
			cJSON_Delete(req);
			return CTL_USAGE;
		}
	} else if (!strcmp(cmd, "task")) {
		cJSON *t = ds_ctl_build_task(argc - i, argv + i, &json);

		cJSON_Delete(req);
		if (!t)
			return CTL_USAGE;
		req = t;
	} else if (ds_ctl_is_browser_cmd(cmd)) {
		cJSON *b = ds_ctl_build_browser(cmd, argc - i, argv + i, &json);

		cJSON_Delete(req);
		if (!b)
			return CTL_USAGE;
		req = b;
	} else if (ds_ctl_is_account_cmd(cmd)) {
		if (ds_ctl_account_parse(cmd, argc - i, argv + i, &acct)) {
			cJSON_Delete(req);
			return CTL_USAGE;
		}
	} else {
		fprintf(stderr, "datasyncctl: unknown command '%s'\n", cmd);
		goto usage_error;
	}

	sock = find_socket(sock_opt, config);
	if (!sock) {
		ds_ctl_registration_free(req);
		return CTL_USAGE;
	}
	rc = ds_client_open(sock, &c);
	if (rc == -ENOENT || rc == -ECONNREFUSED || rc == -ENOTDIR) {
		fprintf(stderr, "datasyncd is not running (no socket at %s)\n", sock);
		ds_free(sock);
		ds_ctl_registration_free(req);
		return CTL_NO_DAEMON;
	}
	if (rc) {
		fprintf(stderr, "datasyncctl: cannot connect to %s: %s\n", sock, strerror(-rc));
		ds_free(sock);
		ds_ctl_registration_free(req);
		return rc == -EACCES ? CTL_FAILED : CTL_NO_DAEMON;
	}
	ds_free(sock);
	if (ds_ctl_is_account_cmd(cmd)) {
		/* Several requests on one connection (login, then its code): ctl/account.c. */
		cJSON_Delete(req);
		status = ds_ctl_account_run(c, cmd, &acct, json);
		ds_client_close(c);
		return status;
	}
	req_text = cJSON_PrintUnformatted(req);
	ds_ctl_registration_free(req);
	if (!req_text) {
		ds_client_close(c);
		return CTL_FAILED;
	}
	rc = ds_client_call(c, req_text, &resp);
	ds_memzero(req_text, strlen(req_text));
	cJSON_free(req_text);
	if (!resp) {
		fprintf(stderr, "datasyncctl: %s\n", ds_client_error(c)[0] ? ds_client_error(c) : strerror(-rc));
		ds_client_close(c);
		return rc == -ECONNRESET || rc == -EPIPE ? CTL_NO_DAEMON : CTL_FAILED;
	}
	status = rc ? CTL_FAILED : CTL_OK;
	if (json) {
		printf("%s\n", resp);
	} else {
		r = cJSON_Parse(resp);
		if (rc)
			fprintf(stderr, "datasyncctl: %s: %s\n", cmd, ds_client_error(c));
		if (!strcmp(cmd, "status") && !rc) {
			ds_ctl_print_status(r);
			ds_ctl_print_account(r);
		} else if (!strcmp(cmd, "list") && !rc)
			ds_ctl_print_list(r);
		else if (!strcmp(cmd, "version") && !rc)
			ds_ctl_print_version(r);
		else if (!strcmp(cmd, "sync"))
			ds_ctl_print_results(r);
		else if (!strcmp(cmd, "set") && !rc)
			ds_ctl_print_schedule(name, get_schedule(r));
		else if (!strcmp(cmd, "task") && !rc)
			ds_ctl_print_task(name, r);
		else if (ds_ctl_is_browser_cmd(cmd) && !rc)
			ds_ctl_print_browser(cmd, r);
		else if (!rc) {
			const cJSON *w, *it;

			printf("%s %s: done\n", cmd, name ? name : "");
			w = cJSON_GetObjectItem(r, "warnings");
			cJSON_ArrayForEach(it, w)
				if (cJSON_IsString(it))
					printf("warning: %s\n", it->valuestring);
		}
		cJSON_Delete(r);
	}
	ds_client_free(resp);
	ds_client_close(c);
	return status;

usage_error:
	usage(stderr);
	ds_ctl_registration_free(req);
	return CTL_USAGE;
}
