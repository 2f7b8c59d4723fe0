/*
 * ds_bookmarks.h - the bookmarks engine (Firefox Sync "bookmarks" collection, storage version 2;
 * docs/engine-bookmarks.md).
 *
 * The engine holds the record format and the tree merge; the bookmarks stay in the browser,
 * reached through a struct ds_bookmarks_store. The reference store works on Firefox's
 * places.sqlite (moz_bookmarks, moz_places, moz_keywords, tags as folders under the tags root).
 *
 * Registration ("engine" object of a collection): {"kind":"bookmarks", "places":"<path of
 * places.sqlite>"}, the same key as history: one places.sqlite serves both engines, whose side
 * tables and triggers have distinct names (datasync_bm_* here).
 */
#ifndef DS_BOOKMARKS_H
#define DS_BOOKMARKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/browser/ds_browser_store.h"

struct cJSON;
struct ds_engine;

/* Local guids of the roots as Firefox names them (AS storage/bookmarks/root_guid.rs). */
#define DS_BM_ROOT_PLACES "root________"
#define DS_BM_ROOT_MENU "menu________"
#define DS_BM_ROOT_TOOLBAR "toolbar_____"
#define DS_BM_ROOT_UNFILED "unfiled_____"
#define DS_BM_ROOT_MOBILE "mobile______"
#define DS_BM_ROOT_TAGS "tags________"

/* BSO sortindex of folders: desktop ranks them above every bookmark so that a client reading
 * by index gets the structure first (bookmarks.sys.mjs FOLDER_SORTINDEX); bookmarks get
 * their URL's frecency, plus DS_BM_TOOLBAR_BOOST directly in the toolbar
 * (BookmarksStore._calculateIndex). Bookmarks have no BSO ttl: they never expire. */
#define DS_BM_FOLDER_SORTINDEX 1000000
#define DS_BM_TOOLBAR_BOOST 150

/* Deepest folder nesting the engine walks (cycle and ancestor checks). */
#define DS_BM_MAX_DEPTH 64

enum ds_bookmark_kind {
	DS_BM_BOOKMARK = 1,
	DS_BM_QUERY,     /* a bookmark whose URL is place: */
	DS_BM_FOLDER,
	DS_BM_LIVEMARK,  /* kept as an empty folder; the record's feed fields round-trip */
	DS_BM_SEPARATOR,
};

/* One item as the store holds it; guids are local (roots as above). */
struct ds_bookmark_item {
	char guid[DS_BROWSER_ID_MAX];
	char parent[DS_BROWSER_ID_MAX]; /* "" for the places root */
	enum ds_bookmark_kind kind;
	char *title;   /* may be NULL */
	char *url;     /* bookmarks and queries */
	char *keyword; /* bookmarks; NULL: none */
	char **tags;   /* bookmarks: the URL's tags */
	size_t n_tags;
	int64_t date_added_ms;
	int position;  /* index in the parent (get only) */
	/* The URL's rank in the browser (Firefox's moz_places.frecency; -1: not computed), for
	 * the record's sortindex (get only; bookmarks and queries). */
	int64_t frecency;
};

void ds_bookmark_item_clear(struct ds_bookmark_item *it);

/* Sync state the engine keeps beside each guid (the item may not exist locally yet). */
#define DS_BM_NEEDS_ORDER 1u /* folder: put its children in the remote order at commit */
#define DS_BM_NEEDS_CHECK 2u /* folder: compare with the remote structure before uploading */

struct ds_bookmark_meta {
	bool synced;                         /* the server has (had) this item */
	char want_parent[DS_BROWSER_ID_MAX]; /* remote parent not here yet (orphan), "" none */
	char *remote_children;               /* folder: JSON array of the remote children (local guids) */
	char *server_payload;                /* the record the server holds (the mirror), NULL unknown */
	unsigned flags;
};

void ds_bookmark_meta_clear(struct ds_bookmark_meta *m);

typedef int (*ds_bookmarks_guid_cb)(const char *guid, void *user_data);

enum ds_bookmarks_list {
	DS_BM_LIST_CHILDREN,  /* arg: folder; its children in order */
	DS_BM_LIST_WANTING,   /* arg: folder; guids whose want_parent is arg */
	DS_BM_LIST_FLAGGED,   /* arg: NULL; guids with any meta flag */
	DS_BM_LIST_PARKED,    /* arg: NULL; guids with a want_parent */
	DS_BM_LIST_MIRRORED,  /* arg: NULL; guids with a server_payload */
	DS_BM_LIST_UNORDERED, /* arg: NULL; guids flagged DS_BM_NEEDS_ORDER */
	DS_BM_LIST_INVALID,   /* arg: NULL; items whose guid is no Sync id (ds_bookmarks_guid_valid) */
};

struct ds_bookmarks_store_ops {
	struct ds_browser_tracking_ops track;
	/* -ENOENT when guid is not a bookmark item (the places root, tags and their entries are
	 * not items either). */
	int (*get)(void *s, const char *guid, struct ds_bookmark_item *out);
	/* Just where guid is and what it is (folder or not), for tree walks: get's -ENOENT cases;
	 * kind is DS_BM_FOLDER, DS_BM_LIVEMARK, DS_BM_SEPARATOR or DS_BM_BOOKMARK (queries too). */
	int (*locate)(void *s, const char *guid, char parent_out[DS_BROWSER_ID_MAX],
		      enum ds_bookmark_kind *kind);
	/* Guids of a list (enum ds_bookmarks_list). Collected before cb runs, so cb may write. */
	int (*list)(void *s, enum ds_bookmarks_list which, const char *arg, ds_bookmarks_guid_cb cb,
		    void *user_data);
	/* Create or update it (content, tags, keyword); a new item or one whose parent changes
	 * goes to the end of it->parent, which must be a folder. */
	int (*put)(void *s, const struct ds_bookmark_item *it);
	/* Give the children of folder these positions (guids in order; others follow them). */
	int (*order)(void *s, const char *folder, char (*guids)[DS_BROWSER_ID_MAX], size_t n);
	int (*set_guid)(void *s, const char *old_guid, const char *new_guid);
	/* Remove one item (a folder must be empty: -ENOTEMPTY); absent: 0. */
	int (*remove)(void *s, const char *guid);
	/* An item of it->parent, not it->guid, never synced, with it's content: title and URL for
	 * bookmarks and queries, title for folders and livemarks, position for separators. */
	int (*find_dupe)(void *s, const struct ds_bookmark_item *it, char guid_out[DS_BROWSER_ID_MAX]);
	/* Log guid as a local change at ms (the merge decided the server must get it); ms 0: now,
	 * by the clock that stamps the browser's own changes. */
	int (*log_change)(void *s, const char *guid, int64_t ms);
	int (*meta_get)(void *s, const char *guid, struct ds_bookmark_meta *out); /* absent: zeroes */
	int (*meta_put)(void *s, const char *guid, const struct ds_bookmark_meta *m); /* NULL: drop */
	/* Parent of an item the browser deleted (its pending deletion), -ENOENT if unknown. */
	int (*deleted_parent)(void *s, const char *guid, char parent_out[DS_BROWSER_ID_MAX]);
	/* Optional: the change log's counter now (every change logged later has a higher
	 * change_seq), so the merge tells the changes made before a sync from its own. */
	int (*last_seq)(void *s, uint64_t *out);
};

struct ds_bookmarks_store {
	const struct ds_bookmarks_store_ops *ops;
	void *priv;
};

struct ds_bookmarks_options {
	/* Clock in ms for the changes the merge logs (tests); NULL: the store stamps them with the
	 * clock of the browser's own changes. */
	int64_t (*now_ms)(void *user_data);
	void *now_user_data;
};

/* An engine over store; the store becomes the engine's (closed by its close). */
int ds_bookmarks_engine_new(struct ds_bookmarks_store *store, const struct ds_bookmarks_options *opt,
			    struct ds_engine **out);

/* The reference store on Firefox's places.sqlite: installs the side tables and triggers. */
int ds_bookmarks_places_open(const char *path, struct ds_bookmarks_store **out);
/* Remove the triggers and side tables from places.sqlite (the collection is gone). */
int ds_bookmarks_places_uninstall(const char *path);

/* ---- record codec (bookmarks_record.c) -------------------------------------------------- */

/* Record id <-> local guid: "menu" <-> "menu________" ... (sync15.md §8, AT-19). */
const char *ds_bookmarks_local_id(const char *record_id);
const char *ds_bookmarks_record_id(const char *local_guid);
bool ds_bookmarks_is_root(const char *local_guid);
/* A Sync record id: 12 characters of the URL-safe base64 alphabet, [A-Za-z0-9_-]{12}
 * (dogear src/guid.rs IsValidGuid, desktop PlacesUtils.isValidGuid). */
bool ds_bookmarks_guid_valid(const char *guid);

/* A decoded record: the item (local guids) and, for folders, the children (local guids). */
struct ds_bookmark_record {
	struct ds_bookmark_item item;
	bool has_parent;                   /* the record named a parent */
	char (*children)[DS_BROWSER_ID_MAX];
	size_t n_children;
};

void ds_bookmark_record_clear(struct ds_bookmark_record *r);
/* Parse a v2 record's payload; -EBADMSG for one we cannot store (no type, unknown type, a
 * bookmark without URL, an id that is not ours to write). */
int ds_bookmarks_decode(const char *id, const char *payload, struct ds_bookmark_record *out);
/* The record JSON (ds_malloc'ed) of it, with parentName and children (local guids, mapped). */
int ds_bookmarks_encode(const struct ds_bookmark_item *it, const char *parent_name,
			char (*children)[DS_BROWSER_ID_MAX], size_t n_children, char **out);
/* Fields the browser stores for a record of this payload's type (others round-trip). */
const char *const *ds_bookmarks_known_fields(const char *payload);


/* Dispatcher entries (component/engine/engines.c). */
int ds_bookmarks_engine_open(const struct cJSON *cfg, struct ds_engine **out);
int ds_bookmarks_engine_unregister(const struct cJSON *cfg);

#endif /* DS_BOOKMARKS_H */
