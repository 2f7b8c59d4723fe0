/* A test server run as a child process of a unit test (test/support/child_server.c). */
#ifndef DS_TEST_CHILD_SERVER_H
#define DS_TEST_CHILD_SERVER_H

#include <sys/types.h>

struct ds_child_server {
	pid_t pid;  /* 0: not running */
	int in_fd;  /* the child's stdin: a server that reads it exits when it closes */
	int port;   /* from the child's first line, "PORT <n>" */
};

/*
 * Runs argv (argv[0] looked up in PATH) with a pipe on its stdin and its stdout read up to the
 * first line, which must be "PORT <n>". 0, or -1 when it could not start (EOF or another line:
 * the child is reaped).
 */
int ds_child_server_start(struct ds_child_server *s, char *const argv[]);
/* Closes its stdin, sends SIGTERM and reaps it; nothing if it is not running. */
void ds_child_server_stop(struct ds_child_server *s);

#endif
