/* Canned HTTP answers for the fuzz targets (see fuzz_canned.h). */
#include "test/fuzz/fuzz_canned.h"
#include "core/ds_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ds_http_client {
	char error[64];
};

static const uint8_t *cur, *end;
static unsigned n_requests;

void fuzz_canned_load(const uint8_t *data, size_t size)
{
	cur = data;
	end = data + size;
	n_requests = 0;
}

unsigned fuzz_canned_requests(void)
{
	return n_requests;
}

static char *dup_range(const uint8_t *a, const uint8_t *b)
{
	char *s = ds_malloc((size_t)(b - a) + 1);

	if (!s)
		return NULL;
	memcpy(s, a, (size_t)(b - a));
	s[b - a] = '\0';
	return s;
}

static const uint8_t *find_byte(const uint8_t *a, const uint8_t *b, uint8_t c)
{
	const uint8_t *p = a < b ? memchr(a, c, (size_t)(b - a)) : NULL;

	return p ? p : b;
}

static int add_header(struct ds_http_response *resp, const uint8_t *a, const uint8_t *b)
{
	const uint8_t *colon = find_byte(a, b, ':');
	struct ds_http_header *h;
	char *name, *value;

	if (colon == b)
		return 0;
	h = ds_realloc(resp->headers, (resp->n_headers + 1) * sizeof(*h));
	if (!h)
		return -ENOMEM;
	resp->headers = h;
	colon++;
	while (colon < b && (*colon == ' ' || *colon == '\t'))
		colon++;
	name = dup_range(a, find_byte(a, b, ':'));
	value = dup_range(colon, b);
	if (!name || !value) {
		ds_free(name);
		ds_free(value);
		return -ENOMEM;
	}
	for (char *p = name; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	h[resp->n_headers].name = name;
	h[resp->n_headers].value = value;
	resp->n_headers++;
	return 0;
}

static int next_answer(const struct ds_http_request *req, struct ds_http_response *resp)
{
	const uint8_t *stop, *p, *eol;
	long status = 0;

	memset(resp, 0, sizeof(*resp));
	n_requests++;
	if (!cur || cur >= end)
		return -ECONNREFUSED;
	stop = find_byte(cur, end, 0);
	p = cur;
	cur = stop < end ? stop + 1 : end;
	eol = find_byte(p, stop, '\n');
	for (const uint8_t *d = p; d < eol && *d >= '0' && *d <= '9' && status < 1000; d++)
		status = status * 10 + (*d - '0');
	resp->status = status >= 100 && status < 1000 ? (int)status : 200;
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "canned: %s %s -> %d\n", req->method ? req->method : "GET",
			req->url ? req->url : "", resp->status);
	p = eol < stop ? eol + 1 : stop;
	while (p < stop && *p != '\n') {
		eol = find_byte(p, stop, '\n');
		if (add_header(resp, p, eol) < 0)
			goto nomem;
		p = eol < stop ? eol + 1 : stop;
	}
	if (p < stop)
		p++;
	if (p < stop) {
		if (req->body_write && resp->status >= 200 && resp->status < 300) {
			int rc = req->body_write(p, (size_t)(stop - p), req->body_write_user_data);

			resp->body_len = (size_t)(stop - p);
			if (rc < 0) {
				ds_http_response_free(resp);
				return rc;
			}
			return 0;
		}
		resp->body = dup_range(p, stop);
		if (!resp->body)
			goto nomem;
		resp->body_len = (size_t)(stop - p);
	}
	return 0;
nomem:
	ds_http_response_free(resp);
	return -ENOMEM;
}

int fuzz_canned_perform(void *ctx, const struct ds_http_request *req, struct ds_http_response *resp)
{
	DS_UNUSED(ctx);
	return next_answer(req, resp);
}

/* ---- the ds_http client API over the canned answers ------------------------------------------ */

int ds_http_client_new(const struct ds_http_config *cfg, struct ds_http_client **out)
{
	DS_UNUSED(cfg);
	*out = ds_calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void ds_http_client_free(struct ds_http_client *c)
{
	ds_free(c);
}

/* A canned client holds no connection or TLS state to give back between runs. */
void ds_http_client_release(struct ds_http_client *c)
{
	DS_UNUSED(c);
}

int ds_http_perform(struct ds_http_client *c, const struct ds_http_request *req,
		    struct ds_http_response *resp)
{
	int rc;

	/* Whatever was queued for a streamed request body is read, as the real client does. */
	if (req->body_read) {
		char buf[256];
		size_t left = req->body_len, got;

		while (left) {
			got = 0;
			rc = req->body_read(buf, left < sizeof(buf) ? left : sizeof(buf), &got,
					    req->body_user_data);
			if (rc < 0 || !got || got > left) {
				memset(resp, 0, sizeof(*resp));
				return rc < 0 ? rc : -EIO;
			}
			left -= got;
		}
	}
	rc = next_answer(req, resp);
	if (c)
		strcpy(c->error, rc < 0 ? "canned: no more answers" : "");
	return rc;
}

void ds_http_response_free(struct ds_http_response *resp)
{
	if (!resp)
		return;
	for (size_t i = 0; i < resp->n_headers; i++) {
		ds_free((char *)resp->headers[i].name);
		ds_free((char *)resp->headers[i].value);
	}
	ds_free(resp->headers);
	ds_free(resp->body);
	memset(resp, 0, sizeof(*resp));
}

const char *ds_http_last_error(const struct ds_http_client *c)
{
	return c ? c->error : "";
}
