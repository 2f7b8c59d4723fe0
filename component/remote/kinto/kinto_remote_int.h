/*
 * kinto_remote_int.h - the Kinto remote object shared by its operations' files:
 *   kinto_remote.c  prepare (settings, bucket, collection and its epoch), open, close
 *   kinto_fetch.c   fetch: pages of records, oldest first
 *   kinto_upload.c  upload: one POST /v1/batch per call, the 412 rule, the cursor after it
 */
#ifndef DS_KINTO_REMOTE_INT_H
#define DS_KINTO_REMOTE_INT_H

#include "remote/kinto/kinto_priv.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The first page of records, read with the collection in one POST /batch (prepare). */
struct kinto_prefetch {
	bool set;
	char cursor[DS_CURSOR_MAX]; /* the cursor it was asked for */
	char *body;                 /* the GET's body, byte for byte */
	size_t len;
	char *next;                 /* its Next-Page header, NULL when none */
};

struct kinto_remote {
	struct ds_remote base;
	struct ds_kinto_api api;
	struct ds_kinto_state *state;
	char *name;      /* the datasync collection */
	char *bucket;
	char *coll;      /* the Kinto collection id */
	char *coll_path; /* /buckets/<b>/collections/<c> */
	char *state_path;
	struct ds_kinto_key key;
	size_t batch_max;
	unsigned page_size;
	/* Next-Page of the last page, valid for the cursor it followed. */
	char next_for[DS_CURSOR_MAX];
	char *next_url;
	struct ds_kinto_files *files; /* NULL: records have no files */
	char *share_field;            /* payload member listing readers, NULL: no sharing */
	bool shared_reader;           /* another user's collection, records shared with us */
	int64_t settings_max_age_ms;  /* how long GET /v1/'s settings are reused */
	/* Our 2xx writes since the cursor acc_cursor, across upload calls: the closing check
	 * (add_check) lists at least that many. */
	char acc_cursor[DS_CURSOR_MAX];
	size_t acc_written;
	/* The cursor last handed to the core (a page's or an upload's): the one the next run is
	 * likely to start from, so prepare can read its first page along with the collection.
	 * Kept in the state map's kv at close. */
	char hint[DS_CURSOR_MAX];
	struct kinto_prefetch pre;
	/* Our writes after hint that no closing check jumped over (full batches): when more than
	 * a page, prepare lists their versions and the fetch starts after them (jump_ms). */
	size_t echo;
	char jump_for[DS_CURSOR_MAX];
	int64_t jump_ms;
};

static inline struct kinto_remote *kr_of(struct ds_remote *r)
{
	return r->priv;
}

/* A Kinto timestamp as the core keeps it: "" or at most 19 digits. */
bool ds_kinto_cursor_valid(const char *c);
int64_t ds_kinto_cursor_ms(const char *c);

/* GET path of the records page after cursor (ds_malloc'd). */
char *ds_kinto_page_path(const struct kinto_remote *k, const char *cursor);
void ds_kinto_prefetch_drop(struct kinto_remote *k);
int ds_kinto_fetch(struct ds_remote *r, const char *cursor, ds_record_cb cb, void *user_data,
		   struct ds_fetch_page *page);
int ds_kinto_upload(struct ds_remote *r, const char *cursor, const struct ds_record *recs,
		    size_t n, struct ds_upload_result *res);

#endif /* DS_KINTO_REMOTE_INT_H */
