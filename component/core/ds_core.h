/*
 * ds_core.h - conventions every module of datasync shares.
 *
 *  - Functions return 0 (or a non-negative count) on success and a negative errno on failure.
 *    Library codes (SQLite, mbedTLS, libwebsockets) are mapped to errno at the module boundary.
 *  - Allocation goes through ds_malloc()/ds_calloc()/ds_realloc()/ds_free() so tests can fail
 *    the Nth allocation (CONFIG_DS_ALLOC_HOOK).
 *  - Logging goes through DS_LOG_*(), with a tag per module and a level fixed by Kconfig.
 *    Secrets are never passed to a log macro.
 */
#ifndef DS_CORE_H
#define DS_CORE_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* IS_ENABLED(CONFIG_X): 1 when CONFIG_X is defined to 1, else 0 (Linux/Zephyr idiom). */
#define DS__ARG_PLACEHOLDER_1 0,
#define DS__TAKE_SECOND(ignored, val, ...) val
#define DS__IS_ENABLED3(arg1_or_junk) DS__TAKE_SECOND(arg1_or_junk 1, 0, 0)
#define DS__IS_ENABLED2(val) DS__IS_ENABLED3(DS__ARG_PLACEHOLDER_##val)
#define IS_ENABLED(option) DS__IS_ENABLED2(option)

#define DS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define DS_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#define DS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define DS_MAX(a, b) ((a) > (b) ? (a) : (b))
#define DS_UNUSED(x) ((void)(x))

/* ---- allocation ----------------------------------------------------------------------------- */

void *ds_malloc(size_t n);
void *ds_calloc(size_t nmemb, size_t size);
void *ds_realloc(void *p, size_t n);
void ds_free(void *p);
char *ds_strdup(const char *s);
char *ds_strndup(const char *s, size_t n);
/* printf into a new allocation; NULL on failure. */
char *ds_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct ds_allocator {
	void *(*malloc_fn)(size_t n, void *user_data);
	void *(*realloc_fn)(void *p, size_t n, void *user_data);
	void (*free_fn)(void *p, void *user_data);
	void *user_data;
};

/* Replace the allocator (NULL restores libc). Only with CONFIG_DS_ALLOC_HOOK. */
int ds_set_allocator(const struct ds_allocator *a);

/*
 * Torture support: make the Nth allocation from now on (1-based) and every one after it fail
 * (n = 0 turns failing off). Returns the number of allocations made since the last call, so a
 * test can first count a scenario's allocations, then fail each in turn.
 */
unsigned long ds_alloc_fail_after(unsigned long n);

/* Wipe memory that held a secret; not optimised away. */
void ds_memzero(void *p, size_t n);

/* ---- logging -------------------------------------------------------------------------------- */

enum ds_log_level { DS_LOG_NONE = 0, DS_LOG_ERR = 1, DS_LOG_WRN = 2, DS_LOG_INF = 3, DS_LOG_DBG = 4 };

enum ds_log_output { DS_LOG_TO_STDERR = 0, DS_LOG_TO_SYSLOG = 1 };
void ds_log_set_output(enum ds_log_output out, const char *ident);
/* Runtime ceiling under the compiled-in levels (e.g. datasyncd -v / -q). */
void ds_log_set_max_level(int level);
void ds_log_write(int level, const char *tag, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * A module declares, before using the macros:
 *     #define DS_LOG_TAG "sync"
 *     #define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_SYNC
 * Messages above the module's compiled level cost nothing.
 */
#ifndef DS_LOG_LEVEL
#define DS_LOG_LEVEL 3
#endif
#ifndef DS_LOG_TAG
#define DS_LOG_TAG "ds"
#endif
#define DS__LOG(lvl, ...)                                                                     \
	do {                                                                                  \
		if ((lvl) <= DS_LOG_LEVEL)                                                    \
			ds_log_write((lvl), DS_LOG_TAG, __VA_ARGS__);                         \
	} while (0)
#define DS_LOG_ERR(...) DS__LOG(DS_LOG_ERR, __VA_ARGS__)
#define DS_LOG_WRN(...) DS__LOG(DS_LOG_WRN, __VA_ARGS__)
#define DS_LOG_INF(...) DS__LOG(DS_LOG_INF, __VA_ARGS__)
#define DS_LOG_DBG(...) DS__LOG(DS_LOG_DBG, __VA_ARGS__)

/* strerror for our negative errno codes (thread-safe, static strings). */
const char *ds_strerror(int neg_errno);

#endif /* DS_CORE_H */
