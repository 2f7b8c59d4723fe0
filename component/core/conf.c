/* datasyncd's configuration file: "key = value" lines over Kconfig defaults (see ds_conf.h). */
#define DS_LOG_TAG "conf"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_CORE
#include "core/ds_core.h"
#include "core/ds_conf.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef CONFIG_DS_PORT_SIM_SCRIPT
#define CONFIG_DS_PORT_SIM_SCRIPT ""
#endif
#ifndef CONFIG_DS_IPC_SOCKET
#define CONFIG_DS_IPC_SOCKET "datasyncd.sock"
#endif

/* A config file is small; a bigger one is a mistake (a binary, a log), not a config. */
#define CONF_MAX_BYTES (256 * 1024)
#define CONF_MAX_STRING 4096
#define CONF_MAX_INTERVAL_S (7L * 24 * 3600)

enum conf_type { T_PATH, T_STRING, T_LEVEL, T_OUTPUT, T_INTERVAL, T_PERCENT, T_BOOL };

struct conf_key {
	const char *name;
	unsigned char type;    /* enum conf_type */
	unsigned short offset; /* in struct ds_conf */
};

_Static_assert(sizeof(struct ds_conf) <= 65535, "conf_key.offset is an unsigned short");
#define K(n, t) { #n, t, offsetof(struct ds_conf, n) }
static const struct conf_key keys[] = {
	K(data_dir, T_PATH),          K(run_dir, T_PATH),
	K(secret_dir, T_PATH),        K(socket, T_PATH),
	K(socket_group, T_STRING),    K(sim_script, T_PATH),
	K(device_name, T_STRING),     K(log_level, T_LEVEL),
	K(log_output, T_OUTPUT),      K(sync_interval_s, T_INTERVAL),
	K(min_battery_pct, T_PERCENT), K(unmetered_only, T_BOOL),
	K(fxa_url, T_STRING),         K(oauth_url, T_STRING),
	K(tokenserver_url, T_STRING), K(ca_bundle, T_PATH),
};
#undef K

/* The strings of a ds_conf are exactly its keys of type T_PATH and T_STRING. */
static char **str_slot(const struct ds_conf *c, const struct conf_key *k)
{
	return k->type == T_PATH || k->type == T_STRING ? (char **)((char *)c + k->offset) : NULL;
}

static const char *const level_names[] = { "off", "error", "warn", "info", "debug" };

const char *ds_conf_log_level_name(int level)
{
	if (level < 0 || level >= (int)DS_ARRAY_SIZE(level_names))
		return "?";
	return level_names[level];
}

static int set_str(char **slot, const char *v)
{
	char *d = NULL;

	if (v) {
		d = ds_strdup(v);
		if (!d)
			return -ENOMEM;
	}
	ds_free(*slot);
	*slot = d;
	return 0;
}

int ds_conf_init(struct ds_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->log_level = DS_LOG_INF;
	conf->log_output = DS_CONF_LOG_OUTPUT_AUTO;
	conf->sync_interval_s = CONFIG_DS_SCHED_INTERVAL_S;
	conf->min_battery_pct = CONFIG_DS_SCHED_MIN_BATTERY;
	conf->unmetered_only = IS_ENABLED(CONFIG_DS_SCHED_UNMETERED_ONLY);
	if (set_str(&conf->data_dir, CONFIG_DS_DATA_DIR) || set_str(&conf->run_dir, CONFIG_DS_RUN_DIR) ||
	    set_str(&conf->secret_dir, CONFIG_DS_PORT_SECRET_DIR) ||
	    set_str(&conf->socket, CONFIG_DS_IPC_SOCKET) ||
	    (CONFIG_DS_PORT_SIM_SCRIPT[0] && set_str(&conf->sim_script, CONFIG_DS_PORT_SIM_SCRIPT))) {
		ds_conf_free(conf);
		return -ENOMEM;
	}
	return 0;
}

void ds_conf_free(struct ds_conf *conf)
{
	if (!conf)
		return;
	for (size_t i = 0; i < DS_ARRAY_SIZE(keys); i++) {
		char **slot = str_slot(conf, &keys[i]);

		if (slot)
			ds_free(*slot);
	}
	memset(conf, 0, sizeof(*conf));
}

static int conf_copy(struct ds_conf *dst, const struct ds_conf *src)
{
	size_t i;

	*dst = *src;
	/* dst must not share src's strings: all are NULL until copied, so a failure frees only copies. */
	for (i = 0; i < DS_ARRAY_SIZE(keys); i++) {
		char **slot = str_slot(dst, &keys[i]);

		if (slot)
			*slot = NULL;
	}
	for (i = 0; i < DS_ARRAY_SIZE(keys); i++) {
		char **slot = str_slot(dst, &keys[i]), **from = str_slot(src, &keys[i]);

		if (slot && from && set_str(slot, *from)) {
			ds_conf_free(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

static bool parse_long(const char *v, long *out)
{
	char *end;

	if (!*v || (!isdigit((unsigned char)*v) && *v != '-'))
		return false;
	errno = 0;
	*out = strtol(v, &end, 10);
	return errno == 0 && *end == '\0';
}

static bool parse_bool(const char *v, bool *out)
{
	/* A word list (each word ends with its '\0', the list with an empty word) instead of a
	 * table of pointers: the four words for false, then the four for true. */
	static const char words[] = "0\0no\0false\0off\0" "1\0yes\0true\0on\0";
	int i = 0;

	for (const char *w = words; *w; w += strlen(w) + 1, i++)
		if (!strcasecmp(v, w)) {
			*out = i >= 4;
			return true;
		}
	return false;
}

/* Sets one key; returns 0, -ENOMEM, or -EINVAL with a message in msg. */
static int set_key(struct ds_conf *c, const struct conf_key *k, const char *v, char *msg, size_t cap)
{
	void *slot = (char *)c + k->offset;
	long n;

	switch (k->type) {
	case T_PATH:
	case T_STRING:
		if (!*v) {
			snprintf(msg, cap, "%s: empty value", k->name);
			return -EINVAL;
		}
		if (strlen(v) > CONF_MAX_STRING) {
			snprintf(msg, cap, "%s: value longer than %d bytes", k->name, CONF_MAX_STRING);
			return -EINVAL;
		}
		return set_str(slot, v);
	case T_LEVEL:
		for (size_t i = 0; i < DS_ARRAY_SIZE(level_names); i++) {
			if (!strcasecmp(v, level_names[i])) {
				*(int *)slot = (int)i;
				return 0;
			}
		}
		if (parse_long(v, &n) && n >= DS_LOG_NONE && n <= DS_LOG_DBG) {
			*(int *)slot = (int)n;
			return 0;
		}
		snprintf(msg, cap, "log_level: '%s' is not 0..4 or off|error|warn|info|debug", v);
		return -EINVAL;
	case T_OUTPUT:
		if (!strcasecmp(v, "stderr"))
			*(int *)slot = DS_LOG_TO_STDERR;
		else if (!strcasecmp(v, "syslog"))
			*(int *)slot = DS_LOG_TO_SYSLOG;
		else if (!strcasecmp(v, "auto"))
			*(int *)slot = DS_CONF_LOG_OUTPUT_AUTO;
		else {
			snprintf(msg, cap, "log_output: '%s' is not stderr, syslog or auto", v);
			return -EINVAL;
		}
		return 0;
	case T_INTERVAL:
		if (!parse_long(v, &n) || n < 0 || n > CONF_MAX_INTERVAL_S) {
			snprintf(msg, cap, "%s: '%s' is not a number of seconds in 0..%ld", k->name, v,
				 CONF_MAX_INTERVAL_S);
			return -EINVAL;
		}
		*(long *)slot = n;
		return 0;
	case T_PERCENT:
		if (!parse_long(v, &n) || n < 0 || n > 100) {
			snprintf(msg, cap, "%s: '%s' is not a percentage in 0..100", k->name, v);
			return -EINVAL;
		}
		*(int *)slot = (int)n;
		return 0;
	case T_BOOL:
		if (!parse_bool(v, slot)) {
			snprintf(msg, cap, "%s: '%s' is not a boolean (yes/no, true/false, 1/0, on/off)",
				 k->name, v);
			return -EINVAL;
		}
		return 0;
	}
	return -EINVAL;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Value part: a quoted string verbatim, or text up to an inline " #" comment. */
static int parse_value(char *v, char **out)
{
	v = trim(v);
	if (*v == '"') {
		char *q = strchr(v + 1, '"');

		if (!q)
			return -EINVAL;
		*q = '\0';
		if (*trim(q + 1) && *trim(q + 1) != '#')
			return -EINVAL;
		*out = v + 1;
		return 0;
	}
	for (char *p = v; *p; p++) {
		if (*p == '#' && (p == v || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			break;
		}
	}
	*out = trim(v);
	return 0;
}

static bool valid_key_name(const char *k)
{
	if (!*k)
		return false;
	for (; *k; k++)
		if (!islower((unsigned char)*k) && !isdigit((unsigned char)*k) && *k != '_')
			return false;
	return true;
}

static int parse_line(struct ds_conf *c, char *line, unsigned *seen, char *msg, size_t cap)
{
	char *s = trim(line), *eq, *key, *val;
	int rc;

	if (!*s || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		char *e = strchr(s, ']');

		if (!e || *trim(e + 1)) {
			snprintf(msg, cap, "malformed section header (expected [name])");
			return -EINVAL;
		}
		return 0;
	}
	eq = strchr(s, '=');
	if (!eq) {
		snprintf(msg, cap, "expected 'key = value'");
		return -EINVAL;
	}
	*eq = '\0';
	key = trim(s);
	if (!valid_key_name(key)) {
		snprintf(msg, cap, "'%.64s' is not a valid key name", key);
		return -EINVAL;
	}
	if (parse_value(eq + 1, &val)) {
		snprintf(msg, cap, "%s: unterminated or trailing text after quoted value", key);
		return -EINVAL;
	}
	for (size_t i = 0; i < DS_ARRAY_SIZE(keys); i++) {
		if (strcmp(keys[i].name, key))
			continue;
		rc = set_key(c, &keys[i], val, msg, cap);
		if (rc == 0 && (*seen & (1u << i))) {
			snprintf(msg, cap, "%s set again; the last value wins", key);
			return 1;
		}
		*seen |= 1u << i;
		return rc;
	}
	snprintf(msg, cap, "unknown key '%.64s' ignored", key);
	return 1;
}

int ds_conf_parse(struct ds_conf *conf, const char *origin, const char *text, char *err, size_t errcap)
{
	struct ds_conf work;
	char msg[256];
	const char *p = text;
	unsigned lineno = 0, seen = 0;
	int rc;

	rc = conf_copy(&work, conf);
	if (rc)
		return rc;
	work.warnings = 0;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *line = ds_strndup(p, len);

		lineno++;
		if (!line) {
			ds_conf_free(&work);
			return -ENOMEM;
		}
		if (memchr(p, '\0', len)) {
			rc = -EINVAL;
			snprintf(msg, sizeof(msg), "NUL byte in line");
		} else {
			msg[0] = '\0';
			rc = parse_line(&work, line, &seen, msg, sizeof(msg));
		}
		ds_free(line);
		if (rc == 1) {
			DS_LOG_WRN("%s:%u: %s", origin, lineno, msg);
			work.warnings++;
		} else if (rc < 0) {
			if (rc == -ENOMEM)
				snprintf(msg, sizeof(msg), "out of memory");
			snprintf(err, errcap, "%s:%u: %s", origin, lineno, msg);
			ds_conf_free(&work);
			return rc;
		}
		p += len;
		if (*p == '\n')
			p++;
	}
	ds_conf_free(conf);
	*conf = work;
	return 0;
}

int ds_conf_load(struct ds_conf *conf, const char *path, char *err, size_t errcap)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;
	int rc;

	if (!f) {
		rc = -errno;
		snprintf(err, errcap, "%s: cannot open: %s", path, strerror(-rc));
		return rc;
	}
	buf = ds_malloc(CONF_MAX_BYTES + 1);
	if (!buf) {
		fclose(f);
		snprintf(err, errcap, "%s: out of memory", path);
		return -ENOMEM;
	}
	n = fread(buf, 1, CONF_MAX_BYTES + 1, f);
	if (ferror(f)) {
		rc = -EIO;
		snprintf(err, errcap, "%s: read error", path);
	} else if (n > CONF_MAX_BYTES) {
		rc = -EFBIG;
		snprintf(err, errcap, "%s: larger than %d bytes, not a configuration file", path,
			 CONF_MAX_BYTES);
	} else {
		buf[n] = '\0';
		/* A NUL inside the file would silently end the text: refuse it instead. */
		if (strlen(buf) != n) {
			rc = -EINVAL;
			snprintf(err, errcap, "%s: contains a NUL byte, not a text file", path);
		} else {
			rc = ds_conf_parse(conf, path, buf, err, errcap);
		}
	}
	ds_free(buf);
	fclose(f);
	return rc;
}

char *ds_conf_socket_path(const struct ds_conf *conf)
{
	const char *s = conf->socket ? conf->socket : CONFIG_DS_IPC_SOCKET;

	if (s[0] == '/')
		return ds_strdup(s);
	return ds_asprintf("%s/%s", conf->run_dir, s);
}

static int absolute(char **slot, const char *base)
{
	char *p;

	if (!*slot || !(*slot)[0] || (*slot)[0] == '/')
		return 0;
	p = ds_asprintf("%s/%s", base, *slot);
	if (!p)
		return -ENOMEM;
	ds_free(*slot);
	*slot = p;
	return 0;
}

int ds_conf_make_absolute(struct ds_conf *conf, const char *base)
{
	if (absolute(&conf->data_dir, base) || absolute(&conf->run_dir, base) ||
	    absolute(&conf->secret_dir, base) || absolute(&conf->sim_script, base) ||
	    absolute(&conf->ca_bundle, base))
		return -ENOMEM;
	return 0;
}
