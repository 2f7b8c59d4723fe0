/* firefox_fixture.h - Firefox databases for the browser engines' tests (test/support/). */
#ifndef DS_TEST_FIREFOX_FIXTURE_H
#define DS_TEST_FIREFOX_FIXTURE_H

#include <stdint.h>

struct sqlite3;

/* A file of test/data/firefox/ (from DS_SRC, else beside this source tree), malloc'ed. */
char *ffx_read_data(const char *name);
/* Run SQL, failing the test on error. */
void ffx_sql(struct sqlite3 *db, const char *s);
/* The first column of the first row of q, or -1. */
int64_t ffx_sql_int(struct sqlite3 *db, const char *q);
/* A new formhistory.sqlite / places.sqlite at path (places with Firefox's url_hash filled in). */
void ffx_make_formhistory(const char *path);
void ffx_make_places(const char *path);
/* A new prefs.sqlite (engine/prefs/ds_prefs.h schema) with a few settings. */
void ffx_make_prefs(const char *path);
/* A new addons.sqlite (engine/addons/ds_addons.h schema) with a few installed items. */
void ffx_make_addons(const char *path);

#endif
