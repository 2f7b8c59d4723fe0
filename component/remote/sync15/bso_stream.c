/*
 * The streamed GET answer: a JSON array of BSO objects split as it arrives, each object handed
 * whole to the caller (who parses it alone with cJSON), so the memory of a download is one BSO
 * whatever the page size. Only the frame is checked here; the objects are cJSON's.
 */
#define DS_LOG_TAG "sync15"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "remote/sync15/ds_sync15.h"
#include "remote/sync15/ds_sync15_stream.h"

#include <string.h>

enum {
	S_BEFORE,  /* before '[' */
	S_FIRST,   /* after '[': an object or ']' */
	S_OBJECT,  /* inside an object */
	S_AFTER,   /* after an object: ',' or ']' */
	S_NEXT,    /* after ',': an object */
	S_END,     /* after ']': whitespace only */
};

#define MIN_BSO_TEXT (64u * 1024u)
#define BSO_FIELDS_TEXT 4096u

size_t ds_sync15_max_bso_text(const struct ds_sync15_limits *l)
{
	size_t p = l ? l->max_record_payload_bytes : 256u * 1024u;
	size_t top = (size_t)CONFIG_DS_HTTP_MAX_RESPONSE;
	size_t n;

	if (top < MIN_BSO_TEXT)
		top = MIN_BSO_TEXT;
	n = p > (top - BSO_FIELDS_TEXT) / 2 ? top : 2 * p + BSO_FIELDS_TEXT;
	return n < MIN_BSO_TEXT ? MIN_BSO_TEXT : n;
}

void ds_sync15_splitter_init(struct ds_sync15_splitter *s, size_t max_object,
			     ds_sync15_object_fn fn, void *user_data)
{
	memset(s, 0, sizeof(*s));
	s->fn = fn;
	s->user_data = user_data;
	s->max_object = max_object;
	s->state = S_BEFORE;
}

void ds_sync15_splitter_clear(struct ds_sync15_splitter *s)
{
	ds_memzero(s->buf, s->cap); /* NULL: nothing */
	ds_free(s->buf);
	s->buf = NULL;
	s->len = s->cap = 0;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int fail(struct ds_sync15_splitter *s, int err)
{
	if (!s->err)
		s->err = err;
	return s->err;
}

/* Append n bytes of the object being read, within max_object. */
static int take(struct ds_sync15_splitter *s, const char *p, size_t n)
{
	if (n > s->max_object - s->len)
		return fail(s, -EMSGSIZE);
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : DS_MIN((size_t)1024, s->max_object);
		char *b;

		while (cap < s->len + n)
			cap = cap > s->max_object / 2 ? s->max_object : cap * 2;
		size_t keep = s->len;

		b = ds_malloc(cap);
		if (!b)
			return fail(s, -ENOMEM);
		if (keep)
			memcpy(b, s->buf, keep);
		ds_sync15_splitter_clear(s);
		s->buf = b;
		s->cap = cap;
		s->len = keep;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

/* Scan the object from p: the number of bytes up to and including its closing brace, or n when
 * it goes on past this piece. */
static size_t scan_object(struct ds_sync15_splitter *s, const char *p, size_t n, bool *done)
{
	*done = false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (s->in_string) {
			if (s->escaped)
				s->escaped = false;
			else if (c == '\\')
				s->escaped = true;
			else if (c == '"')
				s->in_string = false;
			continue;
		}
		if (c == '"') {
			s->in_string = true;
		} else if (c == '{' || c == '[') {
			s->depth++;
		} else if (c == '}' || c == ']') {
			if (--s->depth == 0) {
				*done = true;
				return i + 1;
			}
		}
	}
	return n;
}

int ds_sync15_splitter_feed(struct ds_sync15_splitter *s, const void *data, size_t len)
{
	const char *p = data;
	size_t i = 0;
	int rc;

	if (s->err)
		return s->err;
	while (i < len) {
		char c = p[i];
		int next = -1; /* the state a frame character leads to; -1: only whitespace may come */

		switch (s->state) {
		case S_OBJECT: {
			bool done;
			size_t n = scan_object(s, p + i, len - i, &done);

			if ((rc = take(s, p + i, n)) < 0)
				return rc;
			i += n;
			if (done && s->buf[s->len - 1] != '}')
				return fail(s, -EPROTO); /* "{...]": not an object, the frame is lost */
			if (done) {
				s->objects++;
				rc = s->fn(s->buf, s->len, s->user_data);
				s->len = 0;
				if (rc < 0)
					return fail(s, rc);
				s->state = S_AFTER;
			}
			continue;
		}
		case S_BEFORE:
			if (c == '[')
				next = S_FIRST;
			break;
		case S_FIRST:
		case S_NEXT:
			if (c == '{') {
				s->state = S_OBJECT;
				s->depth = 0;
				s->in_string = s->escaped = false;
				continue; /* the brace is the object's first byte */
			}
			if (c == ']' && s->state == S_FIRST)
				next = S_END;
			break;
		case S_AFTER:
			if (c == ',')
				next = S_NEXT;
			else if (c == ']')
				next = S_END;
			break;
		default: /* S_END */
			break;
		}
		if (next >= 0)
			s->state = next;
		else if (!is_ws(c))
			return fail(s, -EPROTO);
		i++;
	}
	return 0;
}

int ds_sync15_splitter_finish(struct ds_sync15_splitter *s)
{
	if (s->err)
		return s->err;
	return s->state == S_END ? 0 : fail(s, -EPROTO);
}
