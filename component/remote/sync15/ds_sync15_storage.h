/*
 * ds_sync15_storage.h - the storage endpoints and rules of the Sync 1.5 remote beyond the core
 * set of ds_sync15.h: info/quota and X-Weave-Quota-Remaining, DELETE of chosen ids, conditional
 * reads (X-If-Modified-Since), a download limit for the first sync (history), and the 401
 * backoff kept in the metadata store across restarts. Facts from DOCS storage/apis-1.5.rst and
 * the notes in sync15.md §2, §5, §9.
 */
#ifndef DS_SYNC15_STORAGE_H
#define DS_SYNC15_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "remote/sync15/ds_sync15.h"

struct ds_store;

/*
 * Quota. DOCS: info/quota answers [usage_KB, quota_KB or null]; writes may carry
 * X-Weave-Quota-Remaining (KB); a write over quota is 400 with weave code 14. Neither AS nor DESK
 * warns before the 400, so the threshold is ours: under 1 MiB left, an ordinary upload (a
 * bookmarks or history batch) may no longer fit.
 */
#define DS_SYNC15_QUOTA_LOW_KB 1024.0

/* GET info/quota: *usage_kb, and *quota_kb or -1 when the server sets none. */
int ds_sync15_get_quota(struct ds_sync15_client *c, double *usage_kb, double *quota_kb);
/* The last X-Weave-Quota-Remaining heard: true and *kb, or false when none was sent yet. */
bool ds_sync15_client_quota_remaining(const struct ds_sync15_client *c, double *kb);
/* True once the remaining quota fell under DS_SYNC15_QUOTA_LOW_KB or a write got 400/14
 * (warned once in the log; the client error says it when a write was refused). */
bool ds_sync15_client_quota_low(const struct ds_sync15_client *c);

/*
 * DELETE storage/<coll>?ids=a,b,... in requests of at most DS_SYNC15_DELETE_IDS_MAX ids (DOCS:
 * "ids" takes up to 100). The first request carries X-If-Unmodified-Since = xius_ms (>= 0;
 * -1: none), each later one the X-Last-Modified of our previous delete, so another client's
 * write in between still fails with -ESTALE. Ids are URL-encoded; an id the API cannot name
 * (ds_sync15_id_valid) is -EINVAL before any request. *modified_ms: the last X-Last-Modified.
 */
#define DS_SYNC15_DELETE_IDS_MAX 100
int ds_sync15_delete_ids(struct ds_sync15_client *c, const char *collection,
			 const char *const *ids, size_t n, int64_t xius_ms, int64_t *modified_ms);

/* A GET with X-If-Modified-Since (ims_ms >= 0): 304 comes back as status 304 with no body. */
int ds_sync15_get_if_modified(struct ds_sync15_client *c, const char *path, int64_t ims_ms,
			      struct ds_http_response *resp);
/* GET info/collections requests sent and answered 304 (the cached answer reused). */
unsigned long ds_sync15_client_not_modified(const struct ds_sync15_client *c);

/*
 * The first download of a collection limited to its newest `limit` records in `sort` order
 * ("newest" or "index"), as history does in Firefox (AS history_sync: sort=newest&limit=5000;
 * DESK HistoryEngine MAX_HISTORY_DOWNLOAD 5000, sort by index). Later downloads (newer=) are
 * complete. limit 0: no limit. -EINVAL for another sort.
 * Registration JSON: "download_limit": N, "download_sort": "newest"|"index"; the history
 * collection gets 5000 / "newest" when neither is given.
 */
#define DS_SYNC15_HISTORY_DOWNLOAD_LIMIT 5000
int ds_sync15_remote_set_download_limit(struct ds_remote *r, unsigned limit, const char *sort);
/* The limit in force (0: none) and its sort order. */
unsigned ds_sync15_remote_download_limit(struct ds_remote *r, const char **sort);

/*
 * The 15 min backoff after a second 401 in a row (DESK MINIMUM_BACKOFF_INTERVAL) kept in the
 * metadata store's kv ("sync15.auth_backoff_until", wall ms), so a restarted daemon does not
 * hammer the tokenserver and storage node again. With a store set, prepare refuses with
 * -EAGAIN (no request) until that time and clears the entry after the next run that gets past
 * the setup. NULL: memory only.
 */
#define DS_SYNC15_KV_AUTH_BACKOFF "sync15.auth_backoff_until"
void ds_sync15_remote_set_store(struct ds_remote *r, struct ds_store *store);

#endif /* DS_SYNC15_STORAGE_H */
