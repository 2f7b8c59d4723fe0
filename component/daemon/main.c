/*
 * datasyncd: the sync agent's daemon.
 *
 *   datasyncd [-c FILE] [-f] [-v|-q]... [--version] [--help]
 *
 * Exit status: 0 after a clean stop, 1 on a runtime failure (including "already running"),
 * 2 on a usage or configuration error.
 */
#define DS_LOG_TAG "daemon"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_CORE
#include "core/ds_core.h"
#include "core/ds_conf.h"
#include "core/ds_loop.h"
#include "daemon/ds_agent.h"

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static struct ds_loop *volatile g_loop;

static void on_stop_signal(int signo)
{
	struct ds_loop *l = g_loop;

	DS_UNUSED(signo);
	if (l)
		ds_loop_stop(l);
}

static void on_hup(int signo)
{
	struct ds_loop *l = g_loop;

	if (l)
		ds_loop_raise(l, signo);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: datasyncd [-c FILE] [-f] [-v|-q]... [--version] [--help]\n"
		"  -c FILE     configuration file (default %s;\n"
		"              a missing default file means built-in defaults)\n"
		"  -f          stay in the foreground (default: become a daemon)\n"
		"  -v, -q      more / less logging (repeatable)\n"
		"  --version   print the version and exit\n"
		"signals: TERM/INT stop cleanly, HUP reloads the configuration\n",
		CONFIG_DS_CONFIG_FILE);
}

/* Take the instance lock: run_dir/datasyncd.lock, flock()ed for the daemon's whole life. */
static int take_lock(const char *run_dir, int *fd_out)
{
	char path[4096], buf[32];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/datasyncd.lock", run_dir);
	fd = ds_port_file_open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "datasyncd: cannot open %s: %s\n", path, ds_strerror(fd));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		fprintf(stderr, "datasyncd: already running (pid %s)\n", buf[0] ? buf : "?");
		close(fd);
		return -1;
	}
	*fd_out = fd;
	return 0;
}

static void write_pid(int fd, const char *line, size_t len)
{
	if (ds_port_file_truncate(fd, 0) || ds_port_file_pwrite(fd, line, len, 0))
		DS_LOG_WRN("cannot write the pid into the lock file");
}

/*
 * Double fork, setsid, chdir /. The first parent waits on a pipe for the daemon to say it is
 * ready (byte 0) or failed (exit status byte), so "datasyncd" returns only when it serves.
 */
static int daemonize(int *ready_fd)
{
	int p[2];
	pid_t pid;
	unsigned char st = 1;

	if (pipe(p) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &st, 1) != 1)
			st = 1;
		_exit(st);
	}
	close(p[0]);
	if (setsid() < 0)
		_exit(1);
	pid = fork();
	if (pid < 0)
		_exit(1);
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		_exit(1);
	umask(077);
	*ready_fd = p[1];
	return 0;
}

static void tell_parent(int *ready_fd, unsigned char st)
{
	int fd;

	if (*ready_fd < 0)
		return;
	if (write(*ready_fd, &st, 1) != 1)
		DS_LOG_DBG("parent gone");
	close(*ready_fd);
	*ready_fd = -1;
	if (st == 0) {
		/* Detach from the terminal only now, so errors before this reached it. */
		fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			if (fd > STDERR_FILENO)
				close(fd);
		}
	}
}

int main(int argc, char **argv)
{
	const char *config_path = CONFIG_DS_CONFIG_FILE;
	bool explicit_config = false, foreground = false;
	int verbosity = 0, lock_fd = -1, ready_fd = -1, rc, status = 1;
	struct ds_port_config pcfg = { 0 };
	size_t pid_len;
	struct ds_agent *agent = NULL;
	struct sigaction sa;
	struct ds_conf conf;
	char err[512], cwd[4096], pid_line[32], *pid_path = NULL;

	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];

		if (!strcmp(o, "-c") && i + 1 < argc) {
			config_path = argv[++i];
			explicit_config = true;
		} else if (!strcmp(o, "-f")) {
			foreground = true;
		} else if (o[0] == '-' && (o[1] == 'v' || o[1] == 'q') &&
			   !o[1 + strspn(o + 1, o[1] == 'v' ? "v" : "q")]) {
			/* -v, -vv, -q, -qqq...: one level per letter */
			int n = (int)strlen(o + 1);

			verbosity += o[1] == 'v' ? n : -n;
		} else if (!strcmp(o, "--version")) {
			printf("datasyncd %s (board %s)\n", DS_VERSION, ds_board_get()->name);
			return 0;
		} else if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "datasyncd: unexpected argument '%s'\n", o);
			usage(stderr);
			return 2;
		}
	}

	/* Before any thread exists: the allocator's settings for a small idle footprint. */
	ds_port_memory_tune();
	/*
	 * Before SQLite's first use: no bulk page-slot allocation per connection (20 slots, about
	 * 85 KB, SQLITE_DEFAULT_PCACHE_INITSZ), of which an idle store connection uses a few.
	 * Pages are allocated one by one instead, up to each connection's cache_size as before.
	 */
	if (sqlite3_config(SQLITE_CONFIG_PAGECACHE, (void *)NULL, 0, 0) != SQLITE_OK)
		DS_LOG_DBG("SQLite's page cache already set up");
	if (ds_conf_init(&conf)) {
		fprintf(stderr, "datasyncd: out of memory\n");
		return 1;
	}
	rc = ds_conf_load(&conf, config_path, err, sizeof(err));
	if (rc == -ENOENT && !explicit_config) {
		rc = 0; /* no file at the default place: built-in defaults */
	}
	if (rc) {
		fprintf(stderr, "datasyncd: %s\n", err);
		ds_conf_free(&conf);
		return 2;
	}
	if (!getcwd(cwd, sizeof(cwd)) || ds_conf_make_absolute(&conf, cwd)) {
		fprintf(stderr, "datasyncd: cannot resolve relative paths\n");
		ds_conf_free(&conf);
		return 1;
	}
	/* Logging to stderr until daemonized; then as configured. */
	ds_log_set_max_level(DS_MAX(DS_LOG_ERR, DS_MIN(DS_LOG_DBG, conf.log_level + verbosity)));

	pcfg.data_dir = conf.data_dir;
	pcfg.run_dir = conf.run_dir;
	pcfg.secret_dir = conf.secret_dir;
	pcfg.sim_script = conf.sim_script;
	rc = ds_port_init(&pcfg);
	if (rc) {
		fprintf(stderr, "datasyncd: cannot initialise the port (directories %s, %s): %s\n",
			conf.data_dir, conf.run_dir, ds_strerror(rc));
		ds_conf_free(&conf);
		return 1;
	}
	/* The daemon holds unsealed keys and tokens: no core file, no same-user debugger. */
	rc = ds_port_protect_memory();
	if (rc)
		DS_LOG_WRN("secrets in memory are not protected from core dumps: %s", ds_strerror(rc));
	if (take_lock(conf.run_dir, &lock_fd))
		goto out;
	if (!foreground && daemonize(&ready_fd)) {
		fprintf(stderr, "datasyncd: cannot daemonize: %s\n", strerror(errno));
		goto out;
	}
	/* After daemonize: the daemon's own pid, for the lock file and the pid file. */
	pid_len = (size_t)snprintf(pid_line, sizeof(pid_line), "%ld\n", (long)getpid());
	write_pid(lock_fd, pid_line, pid_len);
	if (!foreground) {
		pid_path = ds_asprintf("%s/datasyncd.pid", conf.run_dir);
		if (pid_path) {
			int fd = ds_port_file_open(pid_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

			if (fd >= 0) {
				if (ds_port_file_write(fd, pid_line, pid_len))
					DS_LOG_WRN("cannot write the pid file");
				ds_port_file_close(fd);
			}
		}
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	rc = ds_agent_new(&conf, config_path, explicit_config, cwd, verbosity, !foreground, &agent);
	if (rc) {
		fprintf(stderr, "datasyncd: cannot start: %s\n", ds_strerror(rc));
		goto out;
	}
	ds_agent_apply_logging(agent);
	g_loop = ds_agent_loop(agent);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	tell_parent(&ready_fd, 0);
	/* What the start-up freed (configuration, store schema checks) goes back before idling. */
	ds_port_memory_trim();

	rc = ds_agent_run(agent);
	DS_LOG_INF("stopping%s", rc ? " after a loop failure" : "");
	status = rc ? 1 : 0;
out:
	tell_parent(&ready_fd, (unsigned char)status);
	/* Back to default actions before the loop goes away. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGHUP, &sa, NULL);
	g_loop = NULL;
	ds_agent_free(agent);
	ds_conf_free(&conf);
	ds_port_deinit();
	if (pid_path) {
		ds_port_file_unlink(pid_path);
		ds_free(pid_path);
	}
	if (lock_fd >= 0) {
		if (ds_port_file_truncate(lock_fd, 0))
			DS_LOG_DBG("lock file not truncated");
		close(lock_fd);
	}
	if (status == 0)
		DS_LOG_INF("stopped");
	return status;
}
