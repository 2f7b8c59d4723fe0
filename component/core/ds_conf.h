/*
 * ds_conf.h - datasyncd's configuration file.
 *
 * Format: one "key = value" per line; blank lines and lines starting with '#' or ';' are
 * ignored; " #" after an unquoted value starts a comment; a value may be put in double quotes
 * (then it is taken verbatim, '#' included). "[section]" headers are accepted and ignored, so a
 * file may group keys for people without changing their meaning. Unknown keys are warned about
 * and skipped (a newer file on an older daemon still starts); a malformed line is an error
 * "file:line: message" and the whole file is refused, so a typo never half-applies.
 *
 * Relative paths are taken from the directory the daemon was started in (datasyncd makes
 * them absolute before it daemonizes).
 */
#ifndef DS_CONF_H
#define DS_CONF_H

#include <stdbool.h>
#include <stddef.h>

#define DS_CONF_LOG_OUTPUT_AUTO (-1) /* syslog when daemonized (and built in), else stderr */

struct ds_conf {
	char *data_dir;
	char *run_dir;
	char *secret_dir;
	char *socket;       /* control socket; relative: under run_dir */
	char *socket_group; /* NULL: socket mode 0600; a group name: 0660 and that group */
	char *sim_script;   /* sim port: event script; NULL for none */
	char *device_name;  /* shown to people; NULL: the board name */
	int log_level;      /* 0..4 (enum ds_log_level) */
	int log_output;     /* enum ds_log_output or DS_CONF_LOG_OUTPUT_AUTO */
	long sync_interval_s; /* periodic sync of enabled collections; 0 = off */
	int min_battery_pct;  /* no periodic sync below this on battery (unless charging) */
	bool unmetered_only;  /* no periodic sync on a metered network */
	/* Firefox Accounts servers and a private CA bundle; NULL: the Kconfig defaults / OS store. */
	char *fxa_url;
	char *oauth_url;
	char *tokenserver_url;
	char *ca_bundle;      /* relative: from where datasyncd started */
	unsigned warnings;    /* unknown or repeated keys seen by the last parse */
};

/* Fill conf with the Kconfig defaults. 0 or -ENOMEM. */
int ds_conf_init(struct ds_conf *conf);
void ds_conf_free(struct ds_conf *conf);

/*
 * Parse text (a whole file's contents) named origin (for messages) over the values already in
 * conf. On error conf is left unchanged, err holds "origin:line: message" and -EINVAL is
 * returned.
 */
int ds_conf_parse(struct ds_conf *conf, const char *origin, const char *text, char *err, size_t errcap);

/*
 * Load path over the defaults in conf. A missing file is -ENOENT (with a message in err); the
 * caller decides whether that is an error (an explicit -c) or means "defaults" (the default
 * path).
 */
int ds_conf_load(struct ds_conf *conf, const char *path, char *err, size_t errcap);

/* Make the relative paths (data, run and secret dirs, sim_script) absolute under base. */
int ds_conf_make_absolute(struct ds_conf *conf, const char *base);

/* The control socket's path: conf->socket, under run_dir when relative. New string or NULL. */
char *ds_conf_socket_path(const struct ds_conf *conf);

/* "error", "warn", "info", "debug" or "off" for a level; "?" when out of range. */
const char *ds_conf_log_level_name(int level);

#endif /* DS_CONF_H */
