/* table_fixture.h - shared fixture of the table engine tests (test/support/table_fixture.c). */
#ifndef DS_TEST_TABLE_FIXTURE_H
#define DS_TEST_TABLE_FIXTURE_H

#include <stddef.h>

#include "sync/ds_sync.h"

/* cmocka group setup: the folder for app databases (DS_TEST_TMP or a new temporary one). */
int tfx_setup(void **state);

/* The app's side: plain SQLite, no datasync. */
void tfx_app_exec(const char *db, const char *sql);
long long tfx_app_int(const char *db, const char *sql);
/* A new app database file with this schema; its path goes to path. */
void tfx_new_db(char *path, size_t cap, const char *schema);

/* The engine's side: open + prepare (asserting success), or unregister, with the registration
 * {"kind":"table","db":DB, EXTRA}. */
struct ds_engine *tfx_engine(const char *db, const char *extra);
int tfx_unregister(const char *db, const char *extra);

#define TFX_MAXREC 16
struct tfx_changes {
	size_t n;
	struct ds_record r[TFX_MAXREC];
};

/* ds_record_cb copying each record into a struct tfx_changes (user_data). */
int tfx_collect(const struct ds_record *r, void *user_data);
/* Every pending change of e, copied. */
void tfx_changes_get(struct ds_engine *e, struct tfx_changes *c);
void tfx_changes_free(struct tfx_changes *c);
/* The record whose id encodes this JSON key text, e.g. "[1]"; NULL if absent. */
const struct ds_record *tfx_find(const struct tfx_changes *c, const char *key_json);

#endif
