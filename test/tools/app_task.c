/*
 * app_task: an app as datasyncd sees it, written against the public client API only
 * (<datasync/datasync.h>), for test/integration/app_tasks.sh.
 *
 *   app_task SOCKET register APP TASK SECONDS [oneshot] [wifi] [DATA_JSON]
 *   app_task SOCKET run APP [TASK] [--fail]   wait until due, then report done (or failed)
 *   app_task SOCKET wait APP [TASK]           wait until due, report nothing
 *   app_task SOCKET list [APP] | unregister APP TASK | set NAME SCHEDULE_JSON | push [NAME]
 *
 * Prints each reply on its own line; exit 0 when every call succeeded, 1 with "rc=N: message"
 * on stderr otherwise, 2 on usage errors.
 */
#include <datasync/datasync.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int show(struct ds_client *c, int rc, char *reply)
{
	if (reply)
		printf("%s\n", reply);
	fflush(stdout);
	ds_client_free(reply);
	if (rc)
		fprintf(stderr, "rc=%d: %s\n", rc, ds_client_error(c));
	return rc;
}

/* The "task" member of a wait reply (the task that is due), copied into out. */
static void due_task(const char *reply, char *out, size_t cap)
{
	const char *p = reply ? strstr(reply, "\"task\":\"") : NULL;
	size_t n = 0;

	out[0] = '\0';
	if (!p)
		return;
	p += 8;
	while (p[n] && p[n] != '"' && n + 1 < cap)
		n++;
	memcpy(out, p, n);
	out[n] = '\0';
}

int main(int argc, char **argv)
{
	struct ds_client *c;
	char *reply = NULL;
	const char *op;
	int rc;

	if (argc < 3)
		return 2;
	op = argv[2];
	rc = ds_client_open(argv[1], &c);
	if (rc) {
		fprintf(stderr, "rc=%d: cannot connect\n", rc);
		return 1;
	}
	if (!strcmp(op, "register") && argc >= 6) {
		unsigned flags = 0;
		const char *data = NULL;

		for (int i = 6; i < argc; i++) {
			if (!strcmp(argv[i], "oneshot"))
				flags |= DS_CLIENT_TASK_ONESHOT;
			else if (!strcmp(argv[i], "wifi"))
				flags |= DS_CLIENT_TASK_WIFI_ONLY;
			else
				data = argv[i];
		}
		rc = ds_client_task_register(c, argv[3], argv[4], strtol(argv[5], NULL, 10), flags, data, &reply);
		rc = show(c, rc, reply);
	} else if ((!strcmp(op, "run") || !strcmp(op, "wait")) && argc >= 4) {
		const char *task = argc >= 5 && argv[4][0] != '-' ? argv[4] : NULL;
		bool failed = !strcmp(argv[argc - 1], "--fail");
		char due[64];

		rc = ds_client_task_wait(c, argv[3], task, &reply);
		due_task(reply, due, sizeof(due));
		rc = show(c, rc, reply);
		if (!rc && !strcmp(op, "run")) {
			reply = NULL;
			rc = ds_client_task_done(c, argv[3], due, !failed, failed ? "the work failed" : NULL, &reply);
			rc = show(c, rc, reply);
		}
	} else if (!strcmp(op, "list")) {
		rc = ds_client_task_list(c, argc >= 4 ? argv[3] : NULL, &reply);
		rc = show(c, rc, reply);
	} else if (!strcmp(op, "unregister") && argc >= 5) {
		rc = ds_client_task_unregister(c, argv[3], argv[4], &reply);
		rc = show(c, rc, reply);
	} else if (!strcmp(op, "set") && argc >= 5) {
		rc = ds_client_set(c, argv[3], argv[4], &reply);
		rc = show(c, rc, reply);
	} else if (!strcmp(op, "push")) {
		rc = ds_client_push(c, argc >= 4 ? argv[3] : NULL, &reply);
		rc = show(c, rc, reply);
	} else {
		ds_client_close(c);
		return 2;
	}
	ds_client_close(c);
	return rc ? 1 : 0;
}
