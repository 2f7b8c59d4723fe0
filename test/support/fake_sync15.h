/*
 * fake_sync15.h - an in-process Sync 1.5 storage node for unit tests of the sync15 remote.
 *
 * It answers the storage client's requests through a ds_sync15_transport (no sockets, no
 * threads), following DOCS storage/apis-1.5.rst: one user, collections of BSOs, one server time
 * per write (10 ms steps, so every timestamp has two decimals), X-Last-Modified and
 * X-Weave-Timestamp, X-If-Unmodified-Since on reads and writes (412), newer/limit/offset/sort/
 * full/ids, batches (batch=true -> 202 with an id, batch=<id>, commit=true), the
 * info/configuration limits (400 with 17 over a POST or batch limit, 413 over the request size,
 * a record over max_record_payload_bytes in "failed"), item PUT/GET/DELETE, collection DELETE
 * and DELETE of the whole account. Record ids arrive percent-encoded in paths and are decoded.
 *
 * Knobs for protocol tests: the info/configuration text (or 404), a server without batching,
 * canned answers for the next matching requests (status, headers, body), headers added to every
 * answer, tokens expiring (401), a move to another node, and a hook called before each request
 * (a concurrent writer between two requests). It also acts as the account: an auth provider
 * that hands out tokens for the current node and the account's kSync.
 */
#ifndef DS_FAKE_SYNC15_H
#define DS_FAKE_SYNC15_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "remote/sync15/ds_sync15.h"

struct ds_fake_sync15;

struct ds_fake_sync15 *ds_fake_sync15_new(const uint8_t ksync[64]);
void ds_fake_sync15_free(struct ds_fake_sync15 *s);

const struct ds_sync15_transport *ds_fake_sync15_transport(struct ds_fake_sync15 *s);
struct ds_sync15_auth ds_fake_sync15_auth(struct ds_fake_sync15 *s);

/* info/configuration answer: JSON text, or NULL for 404. Default: NULL. */
void ds_fake_sync15_set_config(struct ds_fake_sync15 *s, const char *json);
void ds_fake_sync15_set_batching(struct ds_fake_sync15 *s, bool on); /* default on */
/* The next count requests whose method matches (NULL: any) and whose path+query starts with
 * prefix get this answer instead. headers: "Name: value\n" lines, may be NULL. */
void ds_fake_sync15_inject(struct ds_fake_sync15 *s, const char *method, const char *prefix,
			   int status, const char *headers, const char *body, int count);
/* A header on every answer from now (value NULL removes it). */
void ds_fake_sync15_always_header(struct ds_fake_sync15 *s, const char *name, const char *value);
/* Tokens handed out so far stop working (401) until the client gets a new one. */
void ds_fake_sync15_expire_tokens(struct ds_fake_sync15 *s);
/* Every token is refused, new ones too. */
void ds_fake_sync15_refuse_tokens(struct ds_fake_sync15 *s, bool refuse);
/* The user moves to a new, empty node with another api_endpoint. */
void ds_fake_sync15_move_node(struct ds_fake_sync15 *s);

typedef void (*ds_fake_sync15_hook)(struct ds_fake_sync15 *s, const char *method,
				    const char *path, unsigned long nth, void *user_data);
void ds_fake_sync15_set_hook(struct ds_fake_sync15 *s, ds_fake_sync15_hook fn, void *user_data);

/* Another client's writes and what is stored. put: payload as stored (already encrypted). */
int ds_fake_sync15_put(struct ds_fake_sync15 *s, const char *coll, const char *id,
		       const char *payload);
/* The stored payload, NULL when absent. */
const char *ds_fake_sync15_payload(struct ds_fake_sync15 *s, const char *coll, const char *id);
int64_t ds_fake_sync15_modified(struct ds_fake_sync15 *s, const char *coll, const char *id);
size_t ds_fake_sync15_count(struct ds_fake_sync15 *s, const char *coll);
int64_t ds_fake_sync15_coll_ts(struct ds_fake_sync15 *s, const char *coll);
void ds_fake_sync15_wipe(struct ds_fake_sync15 *s);
int64_t ds_fake_sync15_now(struct ds_fake_sync15 *s);

/* Request log: requests whose "METHOD path?query" starts with prefix (NULL: all). */
unsigned long ds_fake_sync15_count_requests(struct ds_fake_sync15 *s, const char *prefix);
/* The i-th request (0-based) as "METHOD path?query" and its X-If-Unmodified-Since ("" if none);
 * NULL past the end. */
const char *ds_fake_sync15_request_line(struct ds_fake_sync15 *s, size_t i);
const char *ds_fake_sync15_request_xius(struct ds_fake_sync15 *s, size_t i);
size_t ds_fake_sync15_request_total(struct ds_fake_sync15 *s);
void ds_fake_sync15_clear_log(struct ds_fake_sync15 *s);

#endif /* DS_FAKE_SYNC15_H */
