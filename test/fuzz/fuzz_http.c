/*
 * HTTP bytes a server (or a configuration) controls: URL splitting (http_url.c), response
 * header lookup and the pacing headers Retry-After, Backoff, X-Weave-Backoff and HTTP-dates
 * (http_headers.c).
 *
 * Input: the first line is a URL; every later line "name: value" becomes a response header
 * (names lower-cased, as the client stores them).
 */
#include "test/fuzz/fuzz_common.h"
#include "net/ds_http.h"

#include <string.h>

#define MAX_HEADERS 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	DS_UNUSED(argc);
	DS_UNUSED(argv);
	fuzz_quiet();
	return 0;
}

static void check_url(const char *line)
{
	struct ds_http_url u;
	int rc = ds_http_url_parse(line, &u);

	if (rc == -EINVAL || rc == -ENOMEM)
		return;
	if (rc != 0)
		fuzz_fail("ds_http_url_parse: unexpected return");
	if (!u.host[0] || u.path[0] != '/' || u.port < 1 || u.port > 65535 ||
	    !strstr(u.hostport, u.host))
		fuzz_fail("ds_http_url_parse: inconsistent result");
	/* The request line must not be corruptible through the URL. */
	if (strpbrk(u.path, " \r\n") || strpbrk(u.hostport, " \r\n/"))
		fuzz_fail("ds_http_url_parse: separator in path or host");
	ds_http_url_free(&u);
}

static void check_delay(int rc, int64_t delay, const char *what)
{
	if (rc < 0 && rc != -EINVAL)
		fuzz_fail(what);
	if (rc > 0 && delay < 0)
		fuzz_fail(what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size);
	char *save = NULL, *line;
	struct ds_http_header hdr[MAX_HEADERS];
	struct ds_http_response resp = { .status = 200, .headers = hdr };
	int64_t delay = 0, t;
	int rc;

	line = strtok_r(text, "\n", &save);
	if (line)
		check_url(line);
	while ((line = strtok_r(NULL, "\n", &save)) && resp.n_headers < MAX_HEADERS) {
		char *colon = strchr(line, ':');

		if (!colon)
			continue;
		*colon = '\0';
		for (char *p = line; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		hdr[resp.n_headers].name = line;
		hdr[resp.n_headers].value = colon + 1;
		resp.n_headers++;
		rc = ds_http_parse_date(colon + 1, &t);
		if (rc != 0 && rc != -EINVAL)
			fuzz_fail("ds_http_parse_date: unexpected return");
	}
	if (resp.n_headers && ds_http_header(&resp, hdr[0].name) != hdr[0].value)
		fuzz_fail("ds_http_header: first header not found by its own name");
	rc = ds_http_retry_after(&resp, INT64_C(1767225600), &delay);
	check_delay(rc, delay, "ds_http_retry_after");
	rc = ds_http_backoff(&resp, &delay);
	check_delay(rc, delay, "ds_http_backoff");
	ds_free(text);
	return 0;
}
