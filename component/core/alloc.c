/* Allocation through one hook, so tests and torture runs can fail the Nth allocation. */
#include "core/ds_core.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if IS_ENABLED(CONFIG_DS_ALLOC_HOOK)
static struct ds_allocator g_alloc;
static bool g_alloc_set;
#endif
/* Torture counters. Atomic because the daemon allocates on its loop and its sync worker;
 * torture tests themselves run one thread, so "the Nth allocation" is well defined there. */
static atomic_ulong g_alloc_count;
static atomic_ulong g_fail_at;

static bool should_fail(void)
{
	unsigned long n = atomic_fetch_add(&g_alloc_count, 1) + 1;
	unsigned long at = atomic_load(&g_fail_at);

	return at && n >= at;
}

unsigned long ds_alloc_fail_after(unsigned long n)
{
	unsigned long made = atomic_exchange(&g_alloc_count, 0);

	atomic_store(&g_fail_at, n);
	return made;
}

int ds_set_allocator(const struct ds_allocator *a)
{
#if IS_ENABLED(CONFIG_DS_ALLOC_HOOK)
	if (a) {
		if (!a->malloc_fn || !a->realloc_fn || !a->free_fn)
			return -EINVAL;
		g_alloc = *a;
	}
	g_alloc_set = a != NULL;
	return 0;
#else
	DS_UNUSED(a);
	return -ENOTSUP;
#endif
}

void *ds_malloc(size_t n)
{
	if (should_fail())
		return NULL;
#if IS_ENABLED(CONFIG_DS_ALLOC_HOOK)
	if (g_alloc_set)
		return g_alloc.malloc_fn(n ? n : 1, g_alloc.user_data);
#endif
	return malloc(n ? n : 1);
}

void *ds_calloc(size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size)
		return NULL;
	void *p = ds_malloc(nmemb * size);
	if (p)
		memset(p, 0, nmemb * size);
	return p;
}

void *ds_realloc(void *p, size_t n)
{
	if (should_fail())
		return NULL;
#if IS_ENABLED(CONFIG_DS_ALLOC_HOOK)
	if (g_alloc_set)
		return g_alloc.realloc_fn(p, n ? n : 1, g_alloc.user_data);
#endif
	return realloc(p, n ? n : 1);
}

void ds_free(void *p)
{
	if (!p)
		return;
#if IS_ENABLED(CONFIG_DS_ALLOC_HOOK)
	if (g_alloc_set) {
		g_alloc.free_fn(p, g_alloc.user_data);
		return;
	}
#endif
	free(p);
}

char *ds_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = ds_malloc(len + 1);

	if (!d)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *ds_strdup(const char *s)
{
	return ds_strndup(s, SIZE_MAX);
}

char *ds_asprintf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	char *s = ds_malloc((size_t)n + 1);
	if (!s)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

void ds_memzero(void *p, size_t n)
{
	/* A volatile function pointer keeps the compiler from proving the store dead. */
	static void *(*const volatile memset_v)(void *, int, size_t) = memset;

	if (p)
		memset_v(p, 0, n);
}
