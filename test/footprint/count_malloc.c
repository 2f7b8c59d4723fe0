/*
 * count_malloc - an LD_PRELOAD shim that counts a process's heap allocations (malloc, calloc,
 * realloc, posix_memalign, aligned_alloc, memalign), ours and the libraries' (SQLite, cJSON,
 * libwebsockets, OpenSSL, mbedTLS) alike, for configurations built without the allocator hook
 * (CONFIG_DS_ALLOC_HOOK). The count is written when the process exits normally, to
 * "$DS_COUNT_MALLOC_OUT.<pid>", so that other programs started with the same environment
 * (datasyncctl) leave their own files.
 *
 * Built by test/footprint/history_allocs.sh (cc -shared -fPIC); not part of the product. It
 * calls glibc's __libc_* entry points, so no dlsym() (which allocates) is needed.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t nmemb, size_t size);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);

void *malloc(size_t n);
void *calloc(size_t nmemb, size_t size);
void *realloc(void *p, size_t n);
void *memalign(size_t align, size_t n);
void *aligned_alloc(size_t align, size_t n);
int posix_memalign(void **out, size_t align, size_t n);

static atomic_ulong g_count;

void *malloc(size_t n)
{
	atomic_fetch_add_explicit(&g_count, 1, memory_order_relaxed);
	return __libc_malloc(n);
}

void *calloc(size_t nmemb, size_t size)
{
	atomic_fetch_add_explicit(&g_count, 1, memory_order_relaxed);
	return __libc_calloc(nmemb, size);
}

void *realloc(void *p, size_t n)
{
	atomic_fetch_add_explicit(&g_count, 1, memory_order_relaxed);
	return __libc_realloc(p, n);
}

void *memalign(size_t align, size_t n)
{
	atomic_fetch_add_explicit(&g_count, 1, memory_order_relaxed);
	return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
	return memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p = memalign(align, n);

	if (!p)
		return 12; /* ENOMEM, without errno.h's thread-local errno being needed here */
	*out = p;
	return 0;
}

__attribute__((destructor)) static void count_malloc_report(void)
{
	const char *out = getenv("DS_COUNT_MALLOC_OUT");
	char path[4096];
	FILE *f;

	if (!out || snprintf(path, sizeof(path), "%s.%ld", out, (long)getpid()) >= (int)sizeof(path))
		return;
	f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f, "%lu\n", atomic_load(&g_count));
	fclose(f);
}
