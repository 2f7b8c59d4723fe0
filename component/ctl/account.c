/*
 * datasyncctl login / logout (docs/accounts.md).
 *
 * The password is read from the terminal with echo off, or as the first line of stdin when
 * stdin is not a terminal (scripts), never from argv (other users see argv in ps). It is sent
 * once over the control socket (mode 0600) and wiped. A verification code comes from --code, a
 * prompt on the terminal, or the next line of stdin.
 */
#include "core/ds_core.h"
#include "ctl/ds_ctl.h"
#include "ctl/ds_ctl_account.h"
#include <datasync/datasync.h>
#include "ds_port.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

int ds_ctl_account_parse(const char *cmd, int argc, char **argv, struct ds_ctl_account_opts *o)
{
	memset(o, 0, sizeof(*o));
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--code") && i + 1 < argc && !strcmp(cmd, "login"))
			o->code = argv[++i];
		else if (!strcmp(argv[i], "--json"))
			o->json = true;
		else if (argv[i][0] != '-' && !o->email && !strcmp(cmd, "login"))
			o->email = argv[i];
		else {
			fprintf(stderr, "datasyncctl: %s: unexpected argument '%s'\n", cmd, argv[i]);
			return CTL_USAGE;
		}
	}
	if (!strcmp(cmd, "login") && !o->email && !o->code) {
		fprintf(stderr, "datasyncctl: login needs EMAIL (or --code CODE to finish a sign-in that waits for one)\n");
		return CTL_USAGE;
	}
	return 0;
}

/* One line from stdin into buf (its line break dropped); echo off on a terminal. 0 or -1. */
static int read_line(const char *prompt, bool secret, char *buf, size_t cap)
{
	struct termios old, quiet;
	bool tty = isatty(0), restore = false;
	char *r;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		fflush(stderr);
		if (secret && tcgetattr(0, &old) == 0) {
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			quiet.c_lflag |= ECHONL;
			restore = tcsetattr(0, TCSAFLUSH, &quiet) == 0;
		}
	}
	r = fgets(buf, (int)cap, stdin);
	if (restore)
		tcsetattr(0, TCSAFLUSH, &old);
	if (!r) {
		buf[0] = '\0';
		return -1;
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf[0] ? 0 : -1;
}

static void wipe_delete(cJSON *j)
{
	for (cJSON *it = j ? j->child : NULL; it; it = it->next)
		if (cJSON_IsString(it) && it->valuestring)
			ds_memzero(it->valuestring, strlen(it->valuestring));
	cJSON_Delete(j);
}

/* Send {"cmd":cmd, key:value} (value wiped from every copy); the reply in *r (or NULL). */
static int call(struct ds_client *c, const char *cmd, const char *k1, const char *v1, const char *k2,
		const char *v2, bool json, cJSON **r)
{
	cJSON *req = cJSON_CreateObject();
	char *text = NULL, *resp = NULL;
	int rc;

	*r = NULL;
	if (!req || !cJSON_AddStringToObject(req, "cmd", cmd) || (k1 && !cJSON_AddStringToObject(req, k1, v1)) ||
	    (k2 && !cJSON_AddStringToObject(req, k2, v2))) {
		wipe_delete(req);
		return -ENOMEM;
	}
	text = cJSON_PrintUnformatted(req);
	wipe_delete(req);
	if (!text)
		return -ENOMEM;
	rc = ds_client_call(c, text, &resp);
	ds_memzero(text, strlen(text));
	cJSON_free(text);
	if (!resp) {
		fprintf(stderr, "datasyncctl: %s\n", ds_client_error(c)[0] ? ds_client_error(c) : strerror(-rc));
		return rc ? rc : -EPROTO;
	}
	if (json)
		printf("%s\n", resp);
	else if (rc)
		fprintf(stderr, "datasyncctl: %s: %s\n", cmd, ds_client_error(c));
	*r = cJSON_Parse(resp);
	ds_client_free(resp);
	return rc;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void print_signed_in(const cJSON *r)
{
	const char *w = str(r, "warning");

	printf("signed in as %s", str(r, "email") ? str(r, "email") : "?");
	if (str(r, "device_name"))
		printf(", device \"%s\"", str(r, "device_name"));
	printf("\n");
	if (w)
		printf("warning: %s\n", w);
}

static int login(struct ds_client *c, const struct ds_ctl_account_opts *o, bool json)
{
	char pw[1024], code[128], prompt[400];
	const char *method, *state;
	cJSON *r = NULL;
	int rc;

	/* The password passes through this process: keep it out of a core file. */
	if (ds_port_protect_memory())
		fprintf(stderr, "datasyncctl: warning: core dumps could not be turned off\n");
	if (o->email) {
		snprintf(prompt, sizeof(prompt), "Password for %s: ", o->email);
		if (read_line(prompt, true, pw, sizeof(pw))) {
			ds_memzero(pw, sizeof(pw));
			fprintf(stderr, "datasyncctl: login: no password given (on the terminal, or the first line of stdin)\n");
			return CTL_FAILED;
		}
		rc = call(c, "login", "email", o->email, "password", pw, json, &r);
		ds_memzero(pw, sizeof(pw));
		if (rc) {
			int status = r ? CTL_FAILED : CTL_NO_DAEMON;

			cJSON_Delete(r);
			return status;
		}
		state = str(r, "state");
		if (!state || strcmp(state, "verification-required")) {
			if (!json)
				print_signed_in(r);
			cJSON_Delete(r);
			return CTL_OK;
		}
		method = str(r, "method");
		if (!o->code) {
			bool totp = method && !strcmp(method, "totp-2fa");

			if (!json)
				printf("verification code required (%s)\n", totp ? "from your authenticator app"
										   : "sent by email");
			if (read_line(totp ? "Authentication code: " : "Verification code: ", false, code, sizeof(code))) {
				fprintf(stderr, "datasyncctl: login: a code is needed: finish with datasyncctl login --code CODE\n");
				cJSON_Delete(r);
				return CTL_FAILED;
			}
		}
		cJSON_Delete(r);
		r = NULL;
	}
	snprintf(code, sizeof(code), "%s", o->code ? o->code : code);
	rc = call(c, "login-verify", "code", code, NULL, NULL, json, &r);
	ds_memzero(code, sizeof(code));
	if (!rc && !json)
		print_signed_in(r);
	cJSON_Delete(r);
	return rc ? CTL_FAILED : CTL_OK;
}

int ds_ctl_account_run(struct ds_client *c, const char *cmd, const struct ds_ctl_account_opts *o, bool json)
{
	cJSON *r = NULL;
	int rc;

	json = json || o->json;
	if (!strcmp(cmd, "login"))
		return login(c, o, json);
	rc = call(c, "logout", NULL, NULL, NULL, NULL, json, &r);
	if (!rc && !json) {
		printf("signed out\n");
		if (str(r, "warning"))
			printf("warning: %s\n", str(r, "warning"));
	}
	cJSON_Delete(r);
	return rc ? CTL_FAILED : CTL_OK;
}

void ds_ctl_print_account(const cJSON *status)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(status, "account");
	const char *state = str(a, "state");

	if (!state)
		return;
	if (!strcmp(state, "signed-in")) {
		printf("account: signed in as %s (uid %s)", str(a, "email"), str(a, "uid") ? str(a, "uid") : "?");
		if (str(a, "device_name"))
			printf(", device \"%s\"", str(a, "device_name"));
		printf("\n");
	} else if (!strcmp(state, "verification-required")) {
		printf("account: %s waits for a verification code (datasyncctl login --code CODE)\n", str(a, "email"));
	} else {
		printf("account: %s\n", state);
	}
	if (str(a, "last_error"))
		printf("  last error: %s\n", str(a, "last_error"));
}
