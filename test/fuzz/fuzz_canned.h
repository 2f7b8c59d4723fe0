/*
 * fuzz_canned.h - the network of the fuzz targets: canned HTTP answers taken from the input.
 *
 * fuzz_canned.c defines the ds_http_* client functions of component/net/ds_http.h (in place of
 * http_client.c, which is not linked into these targets), so product code that takes a
 * struct ds_http_client (the tokenserver and FxA clients, the Kinto API) gets its answers from
 * the fuzzer without a socket. The Sync 1.5 storage client uses its transport hook instead:
 * fuzz_canned_transport.
 *
 * Input format: answers separated by one NUL byte, each
 *     <status>\n<name>: <value>\n...\n\n<body>
 * (header names folded to lower case; a missing blank line: no body). When the answers run
 * out, a request fails with -ECONNREFUSED, as with no server.
 */
#ifndef DS_FUZZ_CANNED_H
#define DS_FUZZ_CANNED_H

#include <stddef.h>
#include <stdint.h>

#include "net/ds_http.h"

/* Serve the answers of data (not copied: it must outlive the requests). */
void fuzz_canned_load(const uint8_t *data, size_t size);
/* Requests performed since the last load. */
unsigned fuzz_canned_requests(void);
/* The ds_sync15_transport perform function over the same answers (ctx unused). */
int fuzz_canned_perform(void *ctx, const struct ds_http_request *req, struct ds_http_response *resp);

#endif /* DS_FUZZ_CANNED_H */
