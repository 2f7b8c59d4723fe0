/* Newline-delimited message framing for the control socket (see ds_ipc.h). */
#include "ipc/ds_ipc.h"

#include <errno.h>
#include <string.h>

/* Plain memset can be dropped by the compiler before a free; this cannot. The client library
 * stands alone (no ds_memzero), hence a local copy. */
static void wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n--)
		*v++ = 0;
}

void ds_ipc_frame_init(struct ds_ipc_frame *f, size_t max, void *(*malloc_fn)(size_t),
		       void (*free_fn)(void *))
{
	memset(f, 0, sizeof(*f));
	f->max = max;
	f->malloc_fn = malloc_fn;
	f->free_fn = free_fn;
}

/* The buffer may hold a secret: wiped before it goes back to the allocator. */
static void drop_buf(struct ds_ipc_frame *f)
{
	if (f->buf) {
		wipe(f->buf, f->cap);
		f->free_fn(f->buf);
	}
}

void ds_ipc_frame_free(struct ds_ipc_frame *f)
{
	drop_buf(f);
	f->buf = NULL;
	f->len = f->start = f->cap = 0;
}

int ds_ipc_frame_feed(struct ds_ipc_frame *f, const void *data, size_t n)
{
	if (f->start) {
		/* Drop returned lines; wipe the tail the move leaves behind. */
		size_t keep = f->len - f->start;

		memmove(f->buf, f->buf + f->start, keep);
		wipe(f->buf + keep, f->len - keep);
		f->len = keep;
		f->start = 0;
	}
	if (f->len + n + 1 > f->cap) {
		/* Grow by copy, not realloc, so no unwiped copy of a secret is left in freed memory. */
		size_t cap = f->cap ? f->cap : 1024;
		char *nb;

		while (cap < f->len + n + 1)
			cap *= 2;
		nb = f->malloc_fn(cap);
		if (!nb)
			return -ENOMEM;
		if (f->buf)
			memcpy(nb, f->buf, f->len);
		drop_buf(f);
		f->buf = nb;
		f->cap = cap;
	}
	memcpy(f->buf + f->len, data, n);
	f->len += n;
	return 0;
}

int ds_ipc_frame_next(struct ds_ipc_frame *f, char **line, size_t *len)
{
	while (f->start < f->len) {
		char *s = f->buf + f->start;
		char *nl = memchr(s, '\n', f->len - f->start);
		size_t n;

		if (!nl)
			return f->len - f->start > f->max ? -EMSGSIZE : 0;
		n = (size_t)(nl - s);
		f->start += n + 1;
		if (n && s[n - 1] == '\r')
			n--;
		if (n > f->max)
			return -EMSGSIZE;
		if (!n)
			continue;
		s[n] = '\0';
		*line = s;
		*len = n;
		return 1;
	}
	return 0;
}
