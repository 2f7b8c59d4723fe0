/*
 * ds_browser_store.h - how the browser engines reach the browser's own data.
 *
 * The history and forms engines keep no copy of the data: they read and write the browser's
 * store through these small interfaces, which an integrator implements for their browser. The
 * reference adapters (component/engine/history/history_places.c, forms/forms_formhistory.c)
 * work on Firefox's places.sqlite and formhistory.sqlite. Sync metadata (which ids changed
 * locally since the last upload, with a counter) sits beside the data and is reached through
 * the same interface, because only the store knows when the browser wrote.
 *
 * Rules every store follows (docs/engine-history.md, docs/engine-forms.md):
 *  - writes made through put/remove/set_guid between begin and commit are the engine applying
 *    remote records and are never reported as local changes;
 *  - every browser write to an item reports its guid as changed, with a counter that only
 *    grows (change_seq) and the time of the change in ms;
 *  - forget(guid, seq) drops the guid's pending change only if its counter is <= seq.
 */
#ifndef DS_BROWSER_STORE_H
#define DS_BROWSER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct ds_pending_info;

/* Firefox guids are 12 base64url characters; other clients may send longer ids. */
#define DS_BROWSER_ID_MAX 64

/* One pending change as a store enumerates it. */
typedef int (*ds_browser_change_cb)(const char *guid, const struct ds_pending_info *info,
				    void *user_data);

/* The change-tracking half, the same for every browser store. */
struct ds_browser_tracking_ops {
	int (*begin)(void *s);
	int (*commit)(void *s);
	int (*rollback)(void *s);
	/* -ENOENT when guid has no pending change. */
	int (*pending)(void *s, const char *guid, struct ds_pending_info *out);
	/* Pending changes strictly after (after_seq, after_guid) in (seq, guid) order; after_guid
	 * NULL starts at the beginning. A positive return of cb stops early and returns 0. */
	int (*changes_after)(void *s, uint64_t after_seq, const char *after_guid,
			     ds_browser_change_cb cb, void *user_data);
	int (*forget)(void *s, const char *guid, uint64_t seq);
	/* Report up to limit items (0: all), the most recently used first, as changed with time 0. */
	int (*mark_all)(void *s, size_t limit);
	/* Optional. The browser's data is empty while deletions are pending: the store was cleared
	 * ("clear history", a new profile), not edited item by item. Drop those pending deletions,
	 * so that clearing one device never deletes the data of the others; 1 when it did, else 0. */
	int (*forget_if_cleared)(void *s);
	/* Optional. Remove every item of the collection (items the browser cannot lose, such as
	 * the bookmark roots, stay), with every pending change and kept unknown field. Called
	 * between begin and commit, so the removals are not logged as local changes. */
	int (*wipe)(void *s);
	/* Optional. Fields of a remote record that the browser has no column for (other clients'
	 * newer fields), kept beside the item and sent back with it: a JSON object text.
	 * unknown_get gives a new ds_malloc'ed string or -ENOENT; unknown_put with NULL drops
	 * them. set_guid and remove carry or drop them with the item. */
	int (*unknown_get)(void *s, const char *guid, char **json);
	int (*unknown_put)(void *s, const char *guid, const char *json);
	void (*close)(void *s);
};

/* Firefox's hash() of a URL as stored in moz_places.url_hash (SQLFunctions.cpp). */
int64_t ds_browser_url_hash(const char *url);
/* The URL's host reversed, lower case, with a trailing dot, as Firefox fills moz_places.rev_host
 * ("moc.elpmaxe."; "." without a host); ds_malloc'ed, NULL when out of memory. */
char *ds_browser_rev_host(const char *url);

/* Split the top-level fields of a record's payload that are not in known (NULL-terminated)
 * into *unknown (a JSON object text, ds_malloc'ed), or NULL when there are none. -EBADMSG when
 * payload is not a JSON object. */
int ds_browser_unknown_split(const char *payload, const char *const *known, char **unknown);
/* cJSON_PrintUnformatted of o as a ds_malloc'ed text (cJSON allocates with libc; records are
 * freed with ds_free), or NULL. */
char *ds_browser_json_print(const struct cJSON *o);
/* Add the fields of unknown (a JSON object text) that *payload lacks; *payload is replaced by
 * a new ds_malloc'ed text. unknown NULL or unparsable: *payload is left as it is. */
int ds_browser_unknown_join(char **payload, const char *unknown);

/* The engines' side of the optional tracking ops, shared by every browser engine. */
/* engine->prepare: forget_if_cleared when the store has it. 0 or -errno. */
int ds_browser_track_prepare(const struct ds_browser_tracking_ops *t, void *s);
/* Add the unknown fields kept beside guid to *payload (none kept: unchanged). */
int ds_browser_unknown_load(const struct ds_browser_tracking_ops *t, void *s, const char *guid,
			    char **payload);
/* Keep the fields of payload outside known beside guid (payload NULL: drop the old ones). */
int ds_browser_unknown_keep(const struct ds_browser_tracking_ops *t, void *s, const char *guid,
			    const char *payload, const char *const *known);

/* ---- history ---------------------------------------------------------------------------- */

struct ds_history_visit {
	int64_t date_us; /* µs since the epoch, as Firefox stores visit_date */
	int type;        /* transition 1..9 (sync15.md §8) */
};

struct ds_history_place {
	char guid[DS_BROWSER_ID_MAX];
	char *url;
	char *title;                     /* may be NULL */
	struct ds_history_visit *visits; /* newest first */
	size_t n_visits;
	/* The browser's rank of the page (Firefox's moz_places.frecency; -1 or 0: not computed),
	 * sent as the record's sortindex like desktop and application-services do. get fills it;
	 * put ignores it (the browser ranks its pages itself). */
	int64_t frecency;
};

void ds_history_place_clear(struct ds_history_place *p);

struct ds_history_store_ops {
	struct ds_browser_tracking_ops track;
	/* The place and its newest max_visits visits (newest first); -ENOENT when the guid is
	 * unknown or the place has no visit left (it is not history then). */
	int (*get)(void *s, const char *guid, size_t max_visits, struct ds_history_place *out);
	/* The guid of the place with this URL into guid_out; -ENOENT when there is none. */
	int (*find_url)(void *s, const char *url, char guid_out[DS_BROWSER_ID_MAX]);
	/* Create the place (guid, url) if new, set its title when title is non-NULL, and add the
	 * visits it does not hold yet: a visit is known when (date, type) match. -EBADMSG, nothing
	 * written, when the guid is another URL's place (with or without visits). */
	int (*put)(void *s, const struct ds_history_place *p);
	/* Give the place old_guid the guid new_guid (another device named it first); -EBADMSG,
	 * nothing written, when a place already has new_guid. */
	int (*set_guid)(void *s, const char *old_guid, const char *new_guid);
	/* Remove the place's visits, and the place unless the browser still needs it (bookmarked). */
	int (*remove)(void *s, const char *guid);
};

struct ds_history_store {
	const struct ds_history_store_ops *ops;
	void *priv;
};

/* ---- forms ------------------------------------------------------------------------------ */

struct ds_form_entry {
	char guid[DS_BROWSER_ID_MAX];
	char *name;  /* the form field's name */
	char *value; /* what was typed */
};

void ds_form_entry_clear(struct ds_form_entry *f);

struct ds_forms_store_ops {
	struct ds_browser_tracking_ops track;
	int (*get)(void *s, const char *guid, struct ds_form_entry *out); /* -ENOENT */
	/* The guid of the entry (name, value) into guid_out; -ENOENT when there is none. */
	int (*find)(void *s, const char *name, const char *value, char guid_out[DS_BROWSER_ID_MAX]);
	/* Insert, or update the entry with this guid. */
	int (*put)(void *s, const struct ds_form_entry *f);
	int (*set_guid)(void *s, const char *old_guid, const char *new_guid);
	int (*remove)(void *s, const char *guid); /* absent: 0 */
};

struct ds_forms_store {
	const struct ds_forms_store_ops *ops;
	void *priv;
};

#endif /* DS_BROWSER_STORE_H */
