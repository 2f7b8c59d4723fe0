/*
 * ds_sync15_stream.h - reading a GET storage/<coll>?full=1 answer as it arrives: an
 * incremental splitter of the top-level JSON array that hands each BSO object, whole and alone,
 * to a callback, so what the remote holds is one BSO, never the page (docs/remote-sync15.md,
 * "Streamed download"). Also the storage client's streamed GET.
 */
#ifndef DS_SYNC15_STREAM_H
#define DS_SYNC15_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "remote/sync15/ds_sync15.h"

#include <limits.h>

/* ds_sync15_remote_config.page_records asking for no "limit" whatever the Kconfig default
 * (CONFIG_DS_REMOTE_SYNC15_PAGE_RECORDS, itself 0 = no limit unless a build sets one). */
#define DS_SYNC15_PAGE_UNLIMITED UINT_MAX

/* One complete top-level element: the JSON text of one object, len bytes (not NUL-terminated).
 * 0 goes on; a negative errno stops the splitter, which returns it. */
typedef int (*ds_sync15_object_fn)(const char *json, size_t len, void *user_data);

struct ds_sync15_splitter {
	ds_sync15_object_fn fn;
	void *user_data;
	size_t max_object;  /* an object longer than this is -EMSGSIZE, never buffered */
	char *buf;          /* the object being read */
	size_t len, cap;
	unsigned state;
	unsigned depth;     /* nesting inside the current object */
	bool in_string, escaped;
	unsigned long objects;
	int err;            /* sticky: the first error */
};

/*
 * An answer is whitespace, '[', zero or more objects separated by ',', ']', whitespace. The
 * splitter checks that frame and the string/nesting structure inside each object (enough to
 * find its end); cJSON checks the rest of the object. Anything else in the frame (a scalar
 * element, text after ']', a missing ',') is -EPROTO.
 */
void ds_sync15_splitter_init(struct ds_sync15_splitter *s, size_t max_object,
			     ds_sync15_object_fn fn, void *user_data);
/* Feed the next piece of the answer, any size, cut anywhere. 0 or the first error (sticky). */
int ds_sync15_splitter_feed(struct ds_sync15_splitter *s, const void *data, size_t len);
/* The answer ended: 0 when it was a complete array, else -EPROTO (cut short) or the error. */
int ds_sync15_splitter_finish(struct ds_sync15_splitter *s);
/* Free the buffer (wiped: objects hold ciphertext only, but it costs nothing). */
void ds_sync15_splitter_clear(struct ds_sync15_splitter *s);

/*
 * Largest BSO text the remote accepts in a GET answer: the server's max_record_payload_bytes
 * doubled (the payload is a JSON string inside the BSO; escaping at most doubles a format-5
 * payload, which is JSON with a few quotes) plus 4 KiB for the other fields (id, modified,
 * sortindex, ttl), kept within [64 KiB, CONFIG_DS_HTTP_MAX_RESPONSE] whatever the server
 * announces.
 */
size_t ds_sync15_max_bso_text(const struct ds_sync15_limits *l);

/*
 * ds_sync15_request() for a GET whose 2xx body goes to write() as it arrives instead of to
 * memory (resp->body stays NULL; other statuses keep their small body as usual). A transport
 * that does not stream (the tests' in-process node) leaves the body in resp->body: the caller
 * feeds it the same way. A node reassignment noticed on the way (a 401, then a token for
 * another node) stops the body before any of it reaches write() (-EAGAIN).
 */
int ds_sync15_get_stream(struct ds_sync15_client *c, const char *path, int64_t xius_ms,
			 int (*write)(const void *data, size_t len, void *user_data),
			 void *user_data, struct ds_http_response *resp);

#endif /* DS_SYNC15_STREAM_H */
