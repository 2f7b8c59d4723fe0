/*
 * The agent's metadata store: one SQLite file, one connection per ds_store.
 *
 * Durability: WAL with synchronous=FULL. NORMAL would be enough for remote records, because
 * losing the last cursor write only re-fetches pages that apply idempotently. It is not enough
 * for our own uploads: after an upload the pending changes are forgotten in the app's database,
 * and if power loss then rolls the cursor back, the next fetch brings our own records back as
 * if another device had written them; when the user has edited such a row since, that "echo"
 * is a conflict, and under server-wins it would overwrite the newer local edit. With WAL only
 * the commit itself is synced under FULL, and a run makes a handful of commits (one per page,
 * one per upload batch, one run record), so the cost is small.
 */
#define DS_LOG_TAG "store"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_STORE
#include "core/ds_core.h"
#include "store/ds_store.h"
#include "store/store_priv.h"
#include "sync/ds_sync.h"
#include "ds_port.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

/* Writers of other connections (the daemon's other threads, datasyncctl) hold the lock for
 * one short transaction; waiting this long before -EBUSY covers them on slow flash. */
#define DS_STORE_BUSY_TIMEOUT_MS 5000

struct ds_store {
	sqlite3 *db;
};

/*
 * Migration steps: steps[i] takes user_version i to i + 1, each in its own transaction with
 * the version bump, so a crash leaves the file at a version it really has. Append only: a
 * released step is never edited.
 */
static const char *const migrations[DS_STORE_SCHEMA_LATEST] = {
	/* 0 -> 1: the initial schema. */
	"CREATE TABLE collections(name TEXT PRIMARY KEY NOT NULL, reg TEXT NOT NULL,"
	" enabled INTEGER NOT NULL DEFAULT 1, created_ms INTEGER NOT NULL);"
	"CREATE TABLE cursors(name TEXT PRIMARY KEY NOT NULL, cursor TEXT NOT NULL DEFAULT '',"
	" epoch TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE runs(id INTEGER PRIMARY KEY, name TEXT NOT NULL, started_ms INTEGER NOT NULL,"
	" finished_ms INTEGER NOT NULL, fetched INTEGER NOT NULL, applied INTEGER NOT NULL,"
	" uploaded INTEGER NOT NULL, conflicts INTEGER NOT NULL, errors INTEGER NOT NULL,"
	" result INTEGER NOT NULL, message TEXT NOT NULL);"
	"CREATE TABLE kv(key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);",
	/* 1 -> 2: run history is read and trimmed per collection. */
	"CREATE INDEX runs_by_name ON runs(name, id);",
};

int ds_store_errno(int sqlite_rc)
{
	switch (sqlite_rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EILSEQ;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_MISUSE:
	case SQLITE_RANGE:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* Map and log once at the boundary; corruption gets its own line because it needs a human. */
static int fail(struct ds_store *s, int rc, const char *what)
{
	int err = ds_store_errno(rc);
	const char *detail = s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);

	/* SQLite reports a full disk on fsync as SQLITE_IOERR_FSYNC, and a read-only folder in
	 * the WAL set-up as SQLITE_CANTOPEN: the OS's errno says which, and what to do about it. */
	if ((err == -EIO || err == -ENOENT) && s && s->db) {
		int os = sqlite3_system_errno(s->db);

		if (os == ENOSPC || os == EDQUOT)
			err = -ENOSPC;
		else if (os == EROFS || os == EACCES)
			err = -os;
	}
	if (err == -EILSEQ)
		DS_LOG_ERR("%s: the metadata store is corrupt or not a datasync store (%s); move it "
			   "aside to start over", what, detail);
	else if (err != -ENOENT)
		DS_LOG_ERR("%s: %s", what, detail);
	return err;
}

struct sqlite3 *ds_store_db(struct ds_store *s)
{
	return s ? s->db : NULL;
}

static int exec(struct ds_store *s, const char *sql, const char *what)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : fail(s, rc, what);
}

static int prepare(struct ds_store *s, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);

	if (rc != SQLITE_OK) {
		*st = NULL;
		return fail(s, rc, "prepare");
	}
	return 0;
}

/* Most statements are about one row: prepare, and bind its key (collection name, kv key) to ?1. */
static int prepare_key(struct ds_store *s, const char *sql, const char *key, sqlite3_stmt **st)
{
	int err = prepare(s, sql, st);

	if (!err)
		sqlite3_bind_text(*st, 1, key, -1, SQLITE_STATIC);
	return err;
}

/* Step a statement that returns no rows, then finalize it. */
static int step_done(struct ds_store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	int err = rc == SQLITE_DONE ? 0 : fail(s, rc, what);

	sqlite3_finalize(st);
	return err;
}

static void rollback(struct ds_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* End a transaction: commit when err is 0, roll back when it or the commit failed. */
static int end_tx(struct ds_store *s, int err, const char *what)
{
	if (!err)
		err = exec(s, "COMMIT", what);
	if (err)
		rollback(s);
	return err;
}

static int user_version(struct ds_store *s, int *out)
{
	sqlite3_stmt *st;
	int err = prepare(s, "PRAGMA user_version", &st);

	if (err)
		return err;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int(st, 0);
	else
		err = fail(s, rc, "read schema version");
	sqlite3_finalize(st);
	return err;
}

static int migrate(struct ds_store *s)
{
	int v, err = user_version(s, &v);

	if (err)
		return err;
	if (v > DS_STORE_SCHEMA_LATEST || v < 0) {
		DS_LOG_ERR("the metadata store has schema version %d, newer than the %d this datasync "
			   "knows: it was written by a newer release; refusing to open it", v,
			   DS_STORE_SCHEMA_LATEST);
		return -ENOTSUP;
	}
	while (v < DS_STORE_SCHEMA_LATEST) {
		char bump[48];

		/* IMMEDIATE: two processes opening a fresh file must not both run step v. */
		err = exec(s, "BEGIN IMMEDIATE", "begin migration");
		if (err)
			return err;
		int now;
		err = user_version(s, &now);
		if (!err && now != v) { /* someone else migrated meanwhile */
			rollback(s);
			v = now;
			continue;
		}
		snprintf(bump, sizeof(bump), "PRAGMA user_version=%d", v + 1);
		if (!err)
			err = exec(s, migrations[v], "migrate");
		if (!err)
			err = exec(s, bump, "migrate");
		err = end_tx(s, err, "commit migration");
		if (err) {
			DS_LOG_ERR("migrating the metadata store from version %d failed", v);
			return err;
		}
		DS_LOG_INF("metadata store migrated to schema version %d", v + 1);
		v++;
	}
	return 0;
}

int ds_store_open(const char *path, struct ds_store **out)
{
	if (!path || !*path || !out)
		return -EINVAL;
	*out = NULL;
	int vrc = ds_store_vfs_register();
	if (vrc)
		return vrc;
	struct ds_store *s = ds_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	int rc = sqlite3_open_v2(path, &s->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	int err = rc == SQLITE_OK ? 0 : fail(s, rc, "open");

	/* SQLite falls back to read-only when it cannot write the file; later statements then fail
	 * on the missing WAL index as "cannot open". Say what it is. */
	if (!err && sqlite3_db_readonly(s->db, "main") == 1) {
		DS_LOG_ERR("%s: the metadata store cannot be written (read-only file or storage)", path);
		err = -EROFS;
	}

	if (!err)
		err = ds_store_errno(sqlite3_busy_timeout(s->db, DS_STORE_BUSY_TIMEOUT_MS));
	/* The first read of the file: a non-database fails here with SQLITE_NOTADB. */
	if (!err)
		err = exec(s, "PRAGMA journal_mode=WAL", "set WAL mode");
	if (!err)
		err = exec(s, "PRAGMA synchronous=FULL", "set synchronous");
	if (!err)
		err = migrate(s);
	if (err) {
		ds_store_close(s);
		return err;
	}
	*out = s;
	return 0;
}

void ds_store_close(struct ds_store *s)
{
	if (!s)
		return;
	/* close_v2 cannot fail for a connection whose statements are all finalized. */
	sqlite3_close_v2(s->db);
	ds_free(s);
}

int ds_store_schema_version(struct ds_store *s)
{
	int v, err;

	if (!s)
		return -EINVAL;
	err = user_version(s, &v);
	return err ? err : v;
}

/* ---- collections ------------------------------------------------------------------------- */

static bool name_ok(const char *name)
{
	return name && *name && strlen(name) <= 255;
}

int ds_store_collection_put(struct ds_store *s, const char *name, const cJSON *reg)
{
	sqlite3_stmt *st;
	char *text;
	int err;

	if (!s || !name_ok(name) || !cJSON_IsObject(reg))
		return -EINVAL;
	/* "enabled" is store state reported by list, not part of a registration. */
	cJSON *copy = cJSON_Duplicate(reg, 1);
	if (!copy)
		return -ENOMEM;
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "enabled");
	text = cJSON_PrintUnformatted(copy);
	cJSON_Delete(copy);
	if (!text)
		return -ENOMEM;
	err = prepare_key(s, "INSERT INTO collections(name, reg, enabled, created_ms) VALUES(?1, ?2, 1, ?3)"
			     " ON CONFLICT(name) DO UPDATE SET reg = excluded.reg", name, &st);
	if (!err) {
		sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, ds_port_wall_ms());
		err = step_done(s, st, "store collection");
	}
	cJSON_free(text);
	return err;
}

int ds_store_collection_get(struct ds_store *s, const char *name, cJSON **out)
{
	sqlite3_stmt *st;
	int err;

	if (!s || !name || !out)
		return -EINVAL;
	*out = NULL;
	err = prepare_key(s, "SELECT reg FROM collections WHERE name = ?1", name, &st);
	if (err)
		return err;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = cJSON_Parse((const char *)sqlite3_column_text(st, 0));
		if (!*out) {
			DS_LOG_ERR("registration of '%s' in the store is not valid JSON", name);
			err = sqlite3_column_bytes(st, 0) ? -EILSEQ : -ENOMEM;
		}
	} else {
		err = rc == SQLITE_DONE ? -ENOENT : fail(s, rc, "read collection");
	}
	sqlite3_finalize(st);
	return err;
}

int ds_store_collection_del(struct ds_store *s, const char *name)
{
	sqlite3_stmt *st;
	int err;

	if (!s || !name)
		return -EINVAL;
	err = exec(s, "BEGIN IMMEDIATE", "begin");
	if (err)
		return err;
	/* A word list (each statement ends with its '\0', the list with an empty one). */
	static const char sql[] = "DELETE FROM collections WHERE name = ?1\0"
				  "DELETE FROM cursors WHERE name = ?1\0"
				  "DELETE FROM runs WHERE name = ?1\0";
	for (const char *q = sql; *q && !err; q += strlen(q) + 1) {
		err = prepare_key(s, q, name, &st);
		if (err)
			break;
		err = step_done(s, st, "delete collection");
		if (!err && q == sql && sqlite3_changes(s->db) == 0)
			err = -ENOENT;
	}
	return end_tx(s, err, "commit");
}

int ds_store_collection_list(struct ds_store *s, cJSON **out)
{
	sqlite3_stmt *st;
	int rc = SQLITE_DONE, err;

	if (!s || !out)
		return -EINVAL;
	*out = NULL;
	cJSON *arr = cJSON_CreateArray();
	if (!arr)
		return -ENOMEM;
	err = prepare(s, "SELECT name, reg, enabled, created_ms FROM collections ORDER BY name", &st);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		cJSON *reg = cJSON_Parse((const char *)sqlite3_column_text(st, 1));
		if (!reg) {
			DS_LOG_WRN("registration of '%s' is not valid JSON; listed by name only",
				   (const char *)sqlite3_column_text(st, 0));
			reg = cJSON_CreateObject();
		}
		if (!reg || !cJSON_AddItemToArray(arr, reg)) {
			cJSON_Delete(reg);
			err = -ENOMEM;
			break;
		}
		if (!cJSON_GetObjectItemCaseSensitive(reg, "name") &&
		    !cJSON_AddStringToObject(reg, "name", (const char *)sqlite3_column_text(st, 0)))
			err = -ENOMEM;
		if (!err && (!cJSON_AddBoolToObject(reg, "enabled", sqlite3_column_int(st, 2) != 0) ||
			     !cJSON_AddNumberToObject(reg, "created_ms",
						      (double)sqlite3_column_int64(st, 3))))
			err = -ENOMEM;
	}
	if (!err && rc != SQLITE_DONE)
		err = fail(s, rc, "list collections");
	sqlite3_finalize(st);
	if (err) {
		cJSON_Delete(arr);
		return err;
	}
	*out = arr;
	return 0;
}

int ds_store_collection_enable(struct ds_store *s, const char *name, bool enabled)
{
	sqlite3_stmt *st;
	int err;

	if (!s || !name)
		return -EINVAL;
	err = prepare_key(s, "UPDATE collections SET enabled = ?2 WHERE name = ?1", name, &st);
	if (err)
		return err;
	sqlite3_bind_int(st, 2, enabled ? 1 : 0);
	err = step_done(s, st, "enable collection");
	if (!err && sqlite3_changes(s->db) == 0)
		err = -ENOENT;
	return err;
}

/* ---- cursors ------------------------------------------------------------------------------ */

static int copy_out(const unsigned char *src, char *dst, size_t cap)
{
	size_t n = src ? strlen((const char *)src) : 0;

	if (!dst || n + 1 > cap)
		return -ENOSPC;
	memcpy(dst, src ? (const char *)src : "", n + 1);
	return (int)n;
}

int ds_store_cursor_get(struct ds_store *s, const char *name, char *cursor, size_t ccap,
			char *epoch, size_t ecap)
{
	sqlite3_stmt *st;
	int err;

	if (!s || !name || !cursor || !epoch || !ccap || !ecap)
		return -EINVAL;
	err = prepare_key(s, "SELECT cursor, epoch FROM cursors WHERE name = ?1", name, &st);
	if (err)
		return err;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		err = copy_out(sqlite3_column_text(st, 0), cursor, ccap);
		if (err >= 0)
			err = copy_out(sqlite3_column_text(st, 1), epoch, ecap);
		err = err < 0 ? err : 0;
	} else if (rc == SQLITE_DONE) {
		cursor[0] = '\0';
		epoch[0] = '\0';
	} else {
		err = fail(s, rc, "read cursor");
	}
	sqlite3_finalize(st);
	return err;
}

int ds_store_cursor_set(struct ds_store *s, const char *name, const char *cursor, const char *epoch)
{
	sqlite3_stmt *st;
	int err;

	if (!s || !name_ok(name) || !cursor || !epoch || strlen(cursor) >= DS_CURSOR_MAX ||
	    strlen(epoch) >= DS_CURSOR_MAX)
		return -EINVAL;
	err = prepare_key(s, "INSERT OR REPLACE INTO cursors(name, cursor, epoch) VALUES(?1, ?2, ?3)", name, &st);
	if (err)
		return err;
	sqlite3_bind_text(st, 2, cursor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, epoch, -1, SQLITE_STATIC);
	return step_done(s, st, "store cursor");
}

/* ---- runs -------------------------------------------------------------------------------- */

static bool run_is_noop(const struct ds_run_stats *r)
{
	return r->result == 0 && !r->fetched && !r->applied && !r->uploaded && !r->conflicts &&
	       !r->errors;
}

/* The run's message is a fixed buffer that need not be terminated when full. */
static void bind_message(sqlite3_stmt *st, int i, const struct ds_run_stats *r)
{
	sqlite3_bind_text(st, i, r->message, (int)strnlen(r->message, sizeof(r->message)), SQLITE_STATIC);
}

/*
 * A run with nothing to do, right after another one, rewrites that row (its times and message)
 * instead of adding one and trimming the oldest: one page of the runs table changes and the
 * index on (name, id) does not, so a device that polls writes one page per check, and the
 * history keeps the runs that did something. Returns 1 when the row was rewritten.
 */
static int run_update_noop(struct ds_store *s, const char *name, const struct ds_run_stats *r)
{
	sqlite3_stmt *st;
	int err = prepare_key(s, "UPDATE runs SET started_ms = ?2, finished_ms = ?3, message = ?4"
				 " WHERE id = (SELECT max(id) FROM runs WHERE name = ?1) AND result = 0"
				 " AND fetched = 0 AND applied = 0 AND uploaded = 0 AND conflicts = 0"
				 " AND errors = 0", name, &st);

	if (err)
		return err;
	sqlite3_bind_int64(st, 2, r->started_ms);
	sqlite3_bind_int64(st, 3, r->finished_ms);
	bind_message(st, 4, r);
	err = step_done(s, st, "record run");
	return err ? err : sqlite3_changes(s->db) > 0;
}

int ds_store_run_record(struct ds_store *s, const char *name, const struct ds_run_stats *r)
{
	sqlite3_stmt *st;
	int err;

	if (!s || !name_ok(name) || !r)
		return -EINVAL;
	err = exec(s, "BEGIN IMMEDIATE", "begin");
	if (err)
		return err;
	if (run_is_noop(r)) {
		err = run_update_noop(s, name, r);
		if (err)
			return end_tx(s, err < 0 ? err : 0, "commit");
	}
	err = prepare_key(s, "INSERT INTO runs(name, started_ms, finished_ms, fetched, applied, uploaded,"
			     " conflicts, errors, result, message) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
			  name, &st);
	if (!err) {
		const sqlite3_int64 v[] = { r->started_ms, r->finished_ms, (sqlite3_int64)r->fetched,
					    (sqlite3_int64)r->applied, (sqlite3_int64)r->uploaded,
					    (sqlite3_int64)r->conflicts, (sqlite3_int64)r->errors, r->result };

		for (int i = 0; i < (int)DS_ARRAY_SIZE(v); i++)
			sqlite3_bind_int64(st, i + 2, v[i]);
		bind_message(st, 10, r);
		err = step_done(s, st, "record run");
	}
	if (!err)
		err = prepare_key(s, "DELETE FROM runs WHERE name = ?1 AND id NOT IN (SELECT id FROM runs"
				     " WHERE name = ?1 ORDER BY id DESC LIMIT ?2)", name, &st);
	if (!err) {
		sqlite3_bind_int(st, 2, DS_STORE_RUN_HISTORY);
		err = step_done(s, st, "trim run history");
	}
	return end_tx(s, err, "commit");
}

static unsigned long col_count(sqlite3_stmt *st, int i)
{
	sqlite3_int64 v = sqlite3_column_int64(st, i);

	return v < 0 ? 0 : (unsigned long)v;
}

int ds_store_run_history(struct ds_store *s, const char *name, struct ds_run_stats *out, size_t cap)
{
	sqlite3_stmt *st;
	int rc, err;
	size_t n = 0;

	if (!s || !name || (!out && cap))
		return -EINVAL;
	err = prepare_key(s, "SELECT started_ms, finished_ms, fetched, applied, uploaded, conflicts,"
			     " errors, result, message FROM runs WHERE name = ?1 ORDER BY id DESC LIMIT ?2",
			  name, &st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 2, (sqlite3_int64)DS_MIN(cap, (size_t)INT32_MAX));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct ds_run_stats *r = &out[n++];

		memset(r, 0, sizeof(*r));
		r->started_ms = sqlite3_column_int64(st, 0);
		r->finished_ms = sqlite3_column_int64(st, 1);
		r->fetched = col_count(st, 2);
		r->applied = col_count(st, 3);
		r->uploaded = col_count(st, 4);
		r->conflicts = col_count(st, 5);
		r->errors = col_count(st, 6);
		r->result = sqlite3_column_int(st, 7);
		const unsigned char *m = sqlite3_column_text(st, 8);
		snprintf(r->message, sizeof(r->message), "%s", m ? (const char *)m : "");
	}
	if (rc != SQLITE_DONE)
		err = fail(s, rc, "read runs");
	sqlite3_finalize(st);
	return err ? err : (int)n;
}

int ds_store_run_last(struct ds_store *s, const char *name, struct ds_run_stats *st)
{
	int n = ds_store_run_history(s, name, st, 1);

	if (n < 0)
		return n;
	return n == 0 ? -ENOENT : 0;
}

/* ---- key/value ---------------------------------------------------------------------------- */

int ds_store_kv_set(struct ds_store *s, const char *key, const char *value)
{
	sqlite3_stmt *st;
	int err;

	if (!s || !key || !*key || !value)
		return -EINVAL;
	err = prepare_key(s, "INSERT OR REPLACE INTO kv(key, value) VALUES(?1, ?2)", key, &st);
	if (err)
		return err;
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	return step_done(s, st, "store value");
}

int ds_store_kv_get(struct ds_store *s, const char *key, char *buf, size_t cap)
{
	sqlite3_stmt *st;
	int err;

	if (!s || !key || (!buf && cap))
		return -EINVAL;
	err = prepare_key(s, "SELECT value FROM kv WHERE key = ?1", key, &st);
	if (err)
		return err;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		err = copy_out(sqlite3_column_text(st, 0), buf, cap);
	else
		err = rc == SQLITE_DONE ? -ENOENT : fail(s, rc, "read value");
	sqlite3_finalize(st);
	return err;
}
