/* prefs_int.h - the prefs engine's private seam between the record side and prefs.sqlite. */
#ifndef DS_PREFS_INT_H
#define DS_PREFS_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

/* A value to write: str for a string pref, else num (bool 0/1, int). */
struct prefs_value {
	const char *str;
	int64_t num;
};

/* A synced pref: type NULL when the device has no row; value SQL NULL at the default. */
typedef int (*prefs_row_cb)(const char *name, const char *type, sqlite3_value *value,
			    void *user_data);

/* Open prefs.sqlite (never created): -EPROTO without the prefs table. */
int prefs_db_open(const char *path, sqlite3 **out);
/* Side tables, the allow-list and the triggers, in one transaction. */
int prefs_db_install(sqlite3 *db, const char *const *allow, size_t n, const char *record_id);
/* Every synced pref, by name. */
int prefs_db_synced(sqlite3 *db, prefs_row_cb cb, void *user_data);
int prefs_db_is_synced(sqlite3 *db, const char *name, bool *synced);
/* The row's type into type ("" and -ENOENT when there is no row). */
int prefs_db_type(sqlite3 *db, const char *name, char type[8]);
/* Write a value (type "bool", "int", "string"; a new row takes it), or with type NULL reset
 * the pref to its default (value NULL). */
int prefs_db_set(sqlite3 *db, const char *name, const char *type, const struct prefs_value *v);

/* The "value" object (JSON text) of the record both sides last agreed on: the one applied
 * from the server or acknowledged by it. -ENOENT before the first sync. */
int prefs_db_base_get(sqlite3 *db, char **json);
int prefs_db_base_put(sqlite3 *db, const char *json);

#endif /* DS_PREFS_INT_H */
