/* The counting allocator (count_alloc.h): each block carries its size in a header. */
#include <stdlib.h>

#include "test/support/count_alloc.h"

struct hdr {
	size_t n;
	size_t pad; /* keeps the user pointer 16-byte aligned, as malloc's */
};

static size_t g_live, g_peak;

static void account(size_t add, size_t sub)
{
	g_live = g_live + add - sub;
	if (g_live > g_peak)
		g_peak = g_live;
}

static void *count_malloc(size_t n, void *user_data)
{
	struct hdr *h = malloc(sizeof(*h) + n);

	DS_UNUSED(user_data);
	if (!h)
		return NULL;
	h->n = n;
	account(n, 0);
	return h + 1;
}

static void *count_realloc(void *p, size_t n, void *user_data)
{
	struct hdr *old_h = p ? (struct hdr *)p - 1 : NULL;
	size_t old = old_h ? old_h->n : 0;
	struct hdr *h;

	DS_UNUSED(user_data);
	h = realloc(old_h, sizeof(*h) + n);
	if (!h)
		return NULL; /* p stays valid, as realloc's contract says */
	h->n = n;
	account(n, old);
	return h + 1;
}

static void count_free(void *p, void *user_data)
{
	struct hdr *h;

	DS_UNUSED(user_data);
	if (!p)
		return;
	h = (struct hdr *)p - 1;
	account(0, h->n);
	free(h);
}

const struct ds_allocator ds_count_allocator = {
	.malloc_fn = count_malloc,
	.realloc_fn = count_realloc,
	.free_fn = count_free,
};

size_t ds_count_live(void)
{
	return g_live;
}

size_t ds_count_peak(void)
{
	return g_peak;
}

void ds_count_mark(void)
{
	g_peak = g_live;
}
