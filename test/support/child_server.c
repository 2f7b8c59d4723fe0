/* Test servers as child processes: started with a pipe on stdin, ready once they print their port. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test/support/child_server.h"

int ds_child_server_start(struct ds_child_server *s, char *const argv[])
{
	int out[2], in[2];
	char line[64];
	size_t n = 0;

	s->pid = 0;
	if (pipe(out))
		return -1;
	if (pipe(in)) {
		close(out[0]);
		close(out[1]);
		return -1;
	}
	s->pid = fork();
	if (s->pid < 0) {
		s->pid = 0;
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return -1;
	}
	if (s->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	s->in_fd = in[1];
	fcntl(s->in_fd, F_SETFD, FD_CLOEXEC);
	/* The first line is "PORT <n>"; EOF means the server could not start. */
	while (n + 1 < sizeof(line)) {
		ssize_t r = read(out[0], line + n, 1);

		if (r <= 0 || line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	close(out[0]);
	if (sscanf(line, "PORT %d", &s->port) != 1) {
		close(s->in_fd);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
		return -1;
	}
	return 0;
}

void ds_child_server_stop(struct ds_child_server *s)
{
	if (s->pid <= 0)
		return;
	close(s->in_fd);
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
}
