/* Tagged log lines to stderr or syslog. Levels are compiled per module (DS_LOG_LEVEL). */
#include "core/ds_core.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static enum ds_log_output g_out = DS_LOG_TO_STDERR;
static int g_max_level = DS_LOG_DBG;

void ds_log_set_output(enum ds_log_output out, const char *ident)
{
#if IS_ENABLED(CONFIG_DS_LOG_SYSLOG)
	if (out == DS_LOG_TO_SYSLOG) {
		openlog(ident ? ident : "datasync", LOG_PID, LOG_DAEMON);
		g_out = out;
		return;
	}
#else
	DS_UNUSED(ident);
#endif
	if (g_out == DS_LOG_TO_SYSLOG)
		closelog();
	g_out = DS_LOG_TO_STDERR;
	DS_UNUSED(out);
}

void ds_log_set_max_level(int level)
{
	g_max_level = level;
}

void ds_log_write(int level, const char *tag, const char *fmt, ...)
{
	static const char letters[] = " EWID"; /* by level; 0 is never written */
	char msg[1024];
	va_list ap;

	if (level > g_max_level || level <= 0 || level > DS_LOG_DBG)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
#if IS_ENABLED(CONFIG_DS_LOG_SYSLOG)
	if (g_out == DS_LOG_TO_SYSLOG) {
		static const int prio[] = { LOG_DEBUG, LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
		syslog(prio[level], "%s: %s", tag, msg);
		return;
	}
#endif
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%02d:%02d:%02d.%03ld %c %-6s %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000L, letters[level], tag, msg);
}

/* Our wording for the codes datasync returns; anything else is the C library's. The codes are
 * small numbers and sit in their own array: a table of (int, pointer) pairs is half padding. */
static const unsigned char error_codes[] = {
	0,
	EBADMSG,
	ENOENT,
	ENOMEM,
	ENOSPC,
	EROFS,
	EACCES,
	EPROTO,
	ETIMEDOUT,
	ECONNREFUSED,
	ECANCELED,
	EAGAIN,
	EINVAL,
	ENOTSUP,
	EEXIST,
	EBUSY,
	ESTALE,
	EKEYREJECTED,
	ENOKEY,
	EILSEQ,
	EIO,
};
static const char *const error_texts[] = {
	"success",
	"data failed its integrity check (tampered, truncated or wrong key)",
	"not found",
	"out of memory",
	"no space left",
	"read-only storage",
	"permission denied",
	"protocol error (the other side sent something unexpected)",
	"timed out",
	"connection refused",
	"cancelled",
	"try again later",
	"invalid argument",
	"not supported in this build",
	"already exists",
	"busy",
	"remote changed meanwhile",
	"key rejected",
	"key not available",
	"malformed data",
	"input/output error",
};
_Static_assert(DS_ARRAY_SIZE(error_codes) == DS_ARRAY_SIZE(error_texts), "one text per code");

const char *ds_strerror(int neg_errno)
{
	int e = neg_errno < 0 ? -neg_errno : neg_errno;

	for (size_t i = 0; i < DS_ARRAY_SIZE(error_codes); i++)
		if (error_codes[i] == e)
			return error_texts[i];
	return strerror(e);
}
