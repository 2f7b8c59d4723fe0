/*
 * fake_remote.h - an in-memory remote, a test transform and a collection builder.
 *
 * Server: a log of record versions (one entry per write, in order). A cursor is a log position
 * in decimal ("" = the start). fetch() returns, page by page, the entries after the cursor that
 * are still the newest version of their id (like Kinto's _since or Sync 1.5's newer=), so a
 * record written twice comes once. upload() appends only if the cursor equals the log's end,
 * else -ESTALE and nothing is written. Several remote handles (devices) share one server.
 * The epoch is "epoch-1"; a wipe empties the log and, with new_epoch, moves to "epoch-2"...
 *
 * Transform: encode prefixes the payload with "enc:", decode requires and strips it (-EBADMSG
 * otherwise), so a record the server holds without the prefix is "undecryptable".
 *
 * All memory comes from ds_malloc, so allocation-failure tests cover the fakes too.
 */
#ifndef DS_FAKE_REMOTE_H
#define DS_FAKE_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sync/ds_sync.h"

struct ds_fake_server;

struct ds_fake_server *ds_fake_server_new(void);
void ds_fake_server_free(struct ds_fake_server *s);

/* Writes by "another client", straight into the log at the server clock. */
int ds_fake_server_put(struct ds_fake_server *s, const char *id, const char *payload);
int ds_fake_server_del(struct ds_fake_server *s, const char *id);
/* Server time of the next write (default 1000; every write advances it by one). */
void ds_fake_server_set_time(struct ds_fake_server *s, int64_t ms);

/* Newest payload of id; NULL when absent or deleted. */
const char *ds_fake_server_payload(struct ds_fake_server *s, const char *id);
/* Live records (newest version not a tombstone). */
size_t ds_fake_server_count(struct ds_fake_server *s);
/* Entries in the log (every version ever written since the last wipe). */
size_t ds_fake_server_log_len(struct ds_fake_server *s);
/* Versions of id in the log. */
size_t ds_fake_server_versions(struct ds_fake_server *s, const char *id);

/* Empty the log; new_epoch: the collection is a new incarnation. */
void ds_fake_server_wipe(struct ds_fake_server *s, bool new_epoch);
/* Replace the epoch ("" emulates a remote without epochs). */
void ds_fake_server_set_epoch(struct ds_fake_server *s, const char *epoch);
void ds_fake_server_set_page_size(struct ds_fake_server *s, size_t n); /* default 100 */
void ds_fake_server_set_max_batch(struct ds_fake_server *s, size_t n); /* default 0: none */
/* A fetch whose page would include id fails as a whole with -EBADMSG (page integrity). */
int ds_fake_server_corrupt(struct ds_fake_server *s, const char *id);

/* A device's handle on the server; freed by its ops->close. */
int ds_fake_remote_new(struct ds_fake_server *s, struct ds_remote **out);

enum ds_fake_remote_op { DS_FAKE_REMOTE_PREPARE, DS_FAKE_REMOTE_FETCH, DS_FAKE_REMOTE_UPLOAD,
			 DS_FAKE_REMOTE_OP_COUNT };

/* The nth call of op from now (1-based) fails with err once, before doing anything. */
void ds_fake_remote_fail(struct ds_remote *r, enum ds_fake_remote_op op, unsigned long nth, int err);
/* The nth upload from now writes its records, then returns err (the reply was lost). */
void ds_fake_remote_fail_after_upload(struct ds_remote *r, unsigned long nth, int err);
/* Uploads write every record but this id's, which is counted in failed. */
int ds_fake_remote_refuse(struct ds_remote *r, const char *id);
/* Called at the start of every upload, before the precondition check (another device writing
 * between our fetch and our upload). */
typedef void (*ds_fake_upload_hook)(struct ds_remote *r, void *user_data);
void ds_fake_remote_before_upload(struct ds_remote *r, ds_fake_upload_hook fn, void *user_data);
unsigned long ds_fake_remote_calls(struct ds_remote *r, enum ds_fake_remote_op op);

/* The "enc:" transform; freed by its ops->close. */
int ds_fake_transform_new(struct ds_transform **out);

/* A collection of the given parts (they become the collection's); policy NULL = defaults. */
int ds_fake_collection_new(const char *name, struct ds_engine *e, struct ds_remote *r,
			   struct ds_transform *t, const struct ds_policy *policy,
			   struct ds_collection **out);
/* Close the parts and free the collection. */
void ds_fake_collection_free(struct ds_collection *c);

#endif /* DS_FAKE_REMOTE_H */
