/*
 * The reference passwords store: logins.sqlite (docs/engine-passwords.md has the SQL).
 *
 * Firefox keeps logins in logins.json with the secret fields encrypted by NSS under key4.db,
 * which an agent in C should not write; this store defines its own SQLite file with the
 * record's fields as columns. username and password live only in secFields, sealed with
 * AES-256-GCM:
 *
 *     secFields = 0x01 || nonce (12 random bytes) || ciphertext || tag (16)
 *     plaintext = {"username":"...","password":"..."}       AAD = the row's guid
 *
 * so a blob moved to another row, or a row whose guid was changed behind our back, fails to
 * authenticate instead of decrypting as another login's password. Fields of other clients
 * that the schema has no column for are sealed the same way (AAD "unknown:" + guid): they
 * may be secret too. The key is 32 random bytes made on first open and sealed in the port's
 * secret storage under a random name kept in logins_meta; the database never holds it. The
 * store keeps it in memory while open and wipes it on close. logins_meta also holds a known
 * text sealed under the key, so that a wrong key is recognised at open (-EKEYREJECTED) and
 * never yields garbage.
 *
 * Sync metadata sits beside the data, as for the browser stores: the change log and triggers
 * of engine/browser/ds_browser_sqlite.h, and datasync_logins_shared, the last version the
 * server and the device agreed on (AS's mirror, the base of the three-way merge).
 */
#define DS_LOG_TAG "passwords"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "ds_port.h"
#include "engine/browser/ds_browser_sqlite.h"
#include "engine/passwords/ds_passwords.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#define KEY_LEN 32
#define SEAL_VERSION 1
#define SEAL_OVERHEAD (1 + DS_GCM_IV_LEN + DS_GCM_TAG_LEN)
#define SCHEMA_VERSION "1"
#define KEY_CHECK_TEXT "datasync logins key check"
#define KEY_CHECK_AAD "logins_meta.key_check"

#define LOGIN_COLUMNS \
	"guid, origin, formActionOrigin, httpRealm, usernameField, passwordField, timeCreated," \
	" timePasswordChanged, timeLastUsed, timesUsed, timeLastBreachAlertDismissed, secFields"

static const char SCHEMA_SQL[] =
	"CREATE TABLE IF NOT EXISTS logins(guid TEXT PRIMARY KEY NOT NULL, origin TEXT NOT NULL,"
	" formActionOrigin TEXT, httpRealm TEXT, usernameField TEXT NOT NULL DEFAULT '',"
	" passwordField TEXT NOT NULL DEFAULT '', timeCreated INTEGER NOT NULL DEFAULT 0,"
	" timePasswordChanged INTEGER NOT NULL DEFAULT 0, timeLastUsed INTEGER NOT NULL DEFAULT 0,"
	" timesUsed INTEGER NOT NULL DEFAULT 0, timeLastBreachAlertDismissed INTEGER,"
	" secFields BLOB NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS logins_origin ON logins(origin);"
	"CREATE TABLE IF NOT EXISTS logins_meta(name TEXT PRIMARY KEY NOT NULL, value)"
	" WITHOUT ROWID;";

static const char SIDE_SQL[] =
	"CREATE TABLE IF NOT EXISTS datasync_logins_shared(guid TEXT PRIMARY KEY NOT NULL,"
	" origin TEXT NOT NULL, formActionOrigin TEXT, httpRealm TEXT, usernameField TEXT,"
	" passwordField TEXT, timeCreated INTEGER, timePasswordChanged INTEGER,"
	" timeLastUsed INTEGER, timesUsed INTEGER, timeLastBreachAlertDismissed INTEGER,"
	" secFields BLOB NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS datasync_logins_unknown(guid TEXT PRIMARY KEY NOT NULL,"
	" fields BLOB NOT NULL) WITHOUT ROWID;"
	/* Using a login (timesUsed, timeLastUsed) is not a change to upload on its own: desktop
	 * marks only changes of the other fields, so that a use never sends an old password over
	 * a newer one not yet downloaded (passwords.sys.mjs isSyncableChange, bug 973166). The
	 * counts travel with the next real change and are merged then. */
	"CREATE TRIGGER IF NOT EXISTS datasync_logins_ai AFTER INSERT ON logins"
	" WHEN " DS_BROWSER_NOT_APPLYING " BEGIN" DS_BROWSER_LOG_SQL("NEW.guid", "0") " END;"
	"CREATE TRIGGER IF NOT EXISTS datasync_logins_au AFTER UPDATE OF origin, formActionOrigin,"
	" httpRealm, usernameField, passwordField, timeCreated, timePasswordChanged,"
	" timeLastBreachAlertDismissed, secFields ON logins"
	" WHEN " DS_BROWSER_NOT_APPLYING " AND OLD.guid IS NEW.guid BEGIN"
	DS_BROWSER_LOG_SQL("NEW.guid", "0") " END;"
	"CREATE TRIGGER IF NOT EXISTS datasync_logins_guid_au AFTER UPDATE OF guid ON logins"
	" WHEN " DS_BROWSER_NOT_APPLYING " AND OLD.guid IS NOT NEW.guid BEGIN"
	DS_BROWSER_LOG_SQL("OLD.guid", "1") DS_BROWSER_LOG_SQL("NEW.guid", "0") " END;"
	"CREATE TRIGGER IF NOT EXISTS datasync_logins_ad AFTER DELETE ON logins"
	" WHEN " DS_BROWSER_NOT_APPLYING " BEGIN" DS_BROWSER_LOG_SQL("OLD.guid", "1") " END;";

static const char DROP_SQL[] =
	"DROP TRIGGER IF EXISTS datasync_logins_ai;"
	"DROP TRIGGER IF EXISTS datasync_logins_au;"
	"DROP TRIGGER IF EXISTS datasync_logins_guid_au;"
	"DROP TRIGGER IF EXISTS datasync_logins_ad;"
	"DROP TABLE IF EXISTS datasync_logins_shared;"
	"DROP TABLE IF EXISTS datasync_logins_unknown;";

struct logins {
	sqlite3 *db; /* first: the shared tracking ops find it there (ds_browser_sqlite.h) */
	uint8_t key[KEY_LEN];
	int64_t (*now_ms)(void *);
	void *now_user_data;
};

static struct logins *L(void *s)
{
	return s;
}

static int64_t now_ms(struct logins *l)
{
	return l->now_ms ? l->now_ms(l->now_user_data) : ds_port_wall_ms();
}

static int st_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);

	if (rc != SQLITE_OK) {
		DS_LOG_ERR("SQL prepare failed: %s", sqlite3_errmsg(db));
		return ds_browser_sqlerr(rc);
	}
	return 0;
}

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : ds_browser_sqlerr(rc);
}

/* ---- sealing ----------------------------------------------------------------------------- */

/* plaintext -> 0x01 || nonce || ciphertext || tag, a new ds_malloc'ed blob of *blen bytes. */
static int seal(const uint8_t key[KEY_LEN], const char *aad, const void *pt, size_t len,
		uint8_t **blob, size_t *blen)
{
	uint8_t *b = ds_malloc(len + SEAL_OVERHEAD);
	int rc;

	*blob = NULL;
	if (!b)
		return -ENOMEM;
	b[0] = SEAL_VERSION;
	rc = ds_random(b + 1, DS_GCM_IV_LEN);
	if (rc == 0)
		rc = ds_aes_gcm_encrypt(key, KEY_LEN, b + 1, aad, strlen(aad), pt, len,
					b + 1 + DS_GCM_IV_LEN, b + 1 + DS_GCM_IV_LEN + len);
	if (rc) {
		ds_free(b);
		return rc;
	}
	*blob = b;
	*blen = len + SEAL_OVERHEAD;
	return 0;
}

/* The reverse, into a new NUL-terminated ds_malloc'ed buffer; -EBADMSG when the blob is not
 * ours or does not authenticate (wrong key, altered, moved to another row). */
static int unseal(const uint8_t key[KEY_LEN], const char *aad, const void *blob, size_t blen,
		  char **out)
{
	const uint8_t *b = blob;
	size_t len;
	char *p;
	int rc;

	*out = NULL;
	if (!b || blen < SEAL_OVERHEAD || b[0] != SEAL_VERSION)
		return -EBADMSG;
	len = blen - SEAL_OVERHEAD;
	p = ds_malloc(len + 1);
	if (!p)
		return -ENOMEM;
	rc = ds_aes_gcm_decrypt(key, KEY_LEN, b + 1, aad, strlen(aad), b + 1 + DS_GCM_IV_LEN, len, p,
				b + 1 + DS_GCM_IV_LEN + len);
	if (rc) {
		ds_memzero(p, len);
		ds_free(p);
		return rc;
	}
	p[len] = '\0';
	if (strlen(p) != len) { /* a NUL inside: not a text we sealed */
		ds_memzero(p, len);
		ds_free(p);
		return -EBADMSG;
	}
	*out = p;
	return 0;
}

static void free_secret_text(char *p)
{
	if (p) {
		ds_memzero(p, strlen(p));
		ds_free(p);
	}
}

static int seal_sec_fields(struct logins *lg, const struct ds_login *l, uint8_t **blob, size_t *blen)
{
	cJSON *o = cJSON_CreateObject();
	char *text = NULL;
	int rc = -ENOMEM;

	if (o && cJSON_AddStringToObject(o, "username", l->username ? l->username : "") &&
	    cJSON_AddStringToObject(o, "password", l->password ? l->password : ""))
		text = cJSON_PrintUnformatted(o);
	if (text) {
		rc = seal(lg->key, l->guid, text, strlen(text), blob, blen);
		ds_memzero(text, strlen(text));
		cJSON_free(text);
	}
	for (cJSON *c = o ? o->child : NULL; c; c = c->next)
		if (c->valuestring)
			ds_memzero(c->valuestring, strlen(c->valuestring));
	cJSON_Delete(o);
	return rc;
}

static int open_sec_fields(struct logins *lg, const char *guid, const void *blob, size_t blen,
			   struct ds_login *out)
{
	char *text;
	cJSON *o;
	const cJSON *u, *p;
	int rc = unseal(lg->key, guid, blob, blen, &text);

	if (rc)
		return rc;
	o = cJSON_Parse(text);
	free_secret_text(text);
	u = cJSON_GetObjectItemCaseSensitive(o, "username");
	p = cJSON_GetObjectItemCaseSensitive(o, "password");
	if (cJSON_IsString(u) && cJSON_IsString(p)) {
		out->username = ds_strdup(u->valuestring);
		out->password = ds_strdup(p->valuestring);
		rc = out->username && out->password ? 0 : -ENOMEM;
	} else {
		rc = -EBADMSG;
	}
	for (cJSON *c = o ? o->child : NULL; c; c = c->next)
		if (c->valuestring)
			ds_memzero(c->valuestring, strlen(c->valuestring));
	cJSON_Delete(o);
	return rc;
}

/* ---- rows ------------------------------------------------------------------------------------ */

static char *col_dup(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	return t ? ds_strdup(t) : NULL;
}

/* A row of SELECT LOGIN_COLUMNS (from logins or the shared table) -> login. */
static int read_row(struct logins *lg, sqlite3_stmt *st, struct ds_login *out)
{
	const char *g = (const char *)sqlite3_column_text(st, 0);
	int rc;

	memset(out, 0, sizeof(*out));
	if (!g || strlen(g) >= sizeof(out->guid))
		return -EBADMSG;
	snprintf(out->guid, sizeof(out->guid), "%s", g);
	out->origin = col_dup(st, 1);
	if (sqlite3_column_type(st, 2) != SQLITE_NULL && !(out->form_action_origin = col_dup(st, 2)))
		goto nomem;
	if (sqlite3_column_type(st, 3) != SQLITE_NULL && !(out->http_realm = col_dup(st, 3)))
		goto nomem;
	out->username_field = col_dup(st, 4);
	out->password_field = col_dup(st, 5);
	if (!out->origin || !out->username_field || !out->password_field)
		goto nomem;
	out->time_created = sqlite3_column_int64(st, 6);
	out->time_password_changed = sqlite3_column_int64(st, 7);
	out->time_last_used = sqlite3_column_int64(st, 8);
	out->times_used = sqlite3_column_int64(st, 9);
	out->time_last_breach_alert_dismissed = sqlite3_column_int64(st, 10);
	rc = open_sec_fields(lg, out->guid, sqlite3_column_blob(st, 11),
			     (size_t)sqlite3_column_bytes(st, 11), out);
	if (rc == -EBADMSG)
		DS_LOG_ERR("a login's secret fields do not authenticate under this database's key");
	if (rc)
		ds_login_clear(out);
	return rc;
nomem:
	ds_login_clear(out);
	return -ENOMEM;
}

static int get_from(struct logins *lg, const char *table, const char *guid, struct ds_login *out)
{
	char sql[320];
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(sql, sizeof(sql), "SELECT " LOGIN_COLUMNS " FROM %s WHERE guid = ?", table);
	rc = st_prepare(lg->db, sql, &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, guid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = read_row(lg, st, out);
	else
		rc = rc == SQLITE_DONE ? -ENOENT : ds_browser_sqlerr(rc);
	sqlite3_finalize(st);
	return rc;
}

static int s_get(void *s, const char *guid, struct ds_login *out)
{
	return get_from(L(s), "logins", guid, out);
}

static void bind_opt(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static int s_put(void *s, const struct ds_login *l)
{
	struct logins *lg = L(s);
	sqlite3_stmt *st;
	uint8_t *blob;
	size_t blen;
	int rc;

	if (!l->origin || !*l->guid)
		return -EINVAL;
	rc = seal_sec_fields(lg, l, &blob, &blen);
	if (rc)
		return rc;
	rc = st_prepare(lg->db, "INSERT INTO logins(" LOGIN_COLUMNS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6,"
				" ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT(guid) DO UPDATE SET"
				" origin = ?2, formActionOrigin = ?3, httpRealm = ?4, usernameField = ?5,"
				" passwordField = ?6, timeCreated = ?7, timePasswordChanged = ?8,"
				" timeLastUsed = ?9, timesUsed = ?10, timeLastBreachAlertDismissed = ?11,"
				" secFields = ?12", &st);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, l->guid, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, l->origin, -1, SQLITE_STATIC);
		bind_opt(st, 3, l->form_action_origin);
		bind_opt(st, 4, l->http_realm);
		sqlite3_bind_text(st, 5, l->username_field ? l->username_field : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, l->password_field ? l->password_field : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 7, l->time_created);
		sqlite3_bind_int64(st, 8, l->time_password_changed);
		sqlite3_bind_int64(st, 9, l->time_last_used);
		sqlite3_bind_int64(st, 10, l->times_used);
		if (l->time_last_breach_alert_dismissed)
			sqlite3_bind_int64(st, 11, l->time_last_breach_alert_dismissed);
		else
			sqlite3_bind_null(st, 11);
		sqlite3_bind_blob(st, 12, blob, (int)blen, SQLITE_STATIC);
		rc = step_done(st);
	}
	ds_free(blob);
	return rc;
}

static int run_guid(sqlite3 *db, const char *sql, const char *guid)
{
	sqlite3_stmt *st;
	int rc = st_prepare(db, sql, &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, guid, -1, SQLITE_STATIC);
	return step_done(st);
}

/* The kept unknown fields stay: a tombstone from the server drops them (through unknown_put),
 * and a cleared store's re-import puts them back with the login. */
static int s_remove(void *s, const char *guid)
{
	return run_guid(L(s)->db, "DELETE FROM logins WHERE guid = ?", guid);
}

/* ---- unknown fields, sealed -------------------------------------------------------------- */

static char *unknown_aad(const char *guid)
{
	return ds_asprintf("unknown:%s", guid);
}

static int t_unknown_get(void *s, const char *guid, char **json)
{
	struct logins *lg = L(s);
	sqlite3_stmt *st;
	char *aad;
	int rc;

	*json = NULL;
	rc = st_prepare(lg->db, "SELECT fields FROM datasync_logins_unknown WHERE guid = ?", &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, guid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		aad = unknown_aad(guid);
		rc = aad ? unseal(lg->key, aad, sqlite3_column_blob(st, 0),
				  (size_t)sqlite3_column_bytes(st, 0), json) : -ENOMEM;
		ds_free(aad);
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : ds_browser_sqlerr(rc);
	}
	sqlite3_finalize(st);
	return rc;
}

static int t_unknown_put(void *s, const char *guid, const char *json)
{
	struct logins *lg = L(s);
	sqlite3_stmt *st;
	uint8_t *blob;
	size_t blen;
	char *aad;
	int rc;

	if (!json)
		return run_guid(lg->db, "DELETE FROM datasync_logins_unknown WHERE guid = ?", guid);
	aad = unknown_aad(guid);
	if (!aad)
		return -ENOMEM;
	rc = seal(lg->key, aad, json, strlen(json), &blob, &blen);
	ds_free(aad);
	if (rc)
		return rc;
	rc = st_prepare(lg->db, "INSERT OR REPLACE INTO datasync_logins_unknown(guid, fields)"
				" VALUES(?, ?)", &st);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, guid, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, blob, (int)blen, SQLITE_STATIC);
		rc = step_done(st);
	}
	ds_free(blob);
	return rc;
}

/* ---- guids, duplicates, shared versions ---------------------------------------------------- */

static int s_set_guid(void *s, const char *old_guid, const char *new_guid)
{
	struct logins *lg = L(s);
	struct ds_login l;
	char *unk = NULL;
	int rc;

	/* The secret fields are bound to the guid (AAD): the row is rewritten under the new one. */
	rc = s_get(s, old_guid, &l);
	if (rc)
		return rc;
	rc = t_unknown_get(s, old_guid, &unk);
	if (rc == -ENOENT)
		rc = 0;
	if (rc == 0)
		rc = run_guid(lg->db, "DELETE FROM logins WHERE guid = ?", new_guid);
	if (rc == 0)
		rc = run_guid(lg->db, "DELETE FROM logins WHERE guid = ?", old_guid);
	if (rc == 0)
		rc = t_unknown_put(s, old_guid, NULL);
	if (rc == 0) {
		snprintf(l.guid, sizeof(l.guid), "%s", new_guid);
		rc = s_put(s, &l);
	}
	if (rc == 0)
		rc = t_unknown_put(s, new_guid, unk);
	if (rc == 0)
		rc = run_guid(lg->db, "DELETE FROM datasync_logins_shared WHERE guid = ?", old_guid);
	if (rc == 0)
		rc = run_guid(lg->db, "DELETE FROM datasync_logins_shared WHERE guid = ?", new_guid);
	if (rc == 0)
		rc = ds_browser_log_rename(lg->db, old_guid, new_guid);
	free_secret_text(unk);
	ds_login_clear(&l);
	return rc;
}

static int s_find_dupe(void *s, const struct ds_login *l, char guid_out[DS_BROWSER_ID_MAX])
{
	struct logins *lg = L(s);
	sqlite3_stmt *st;
	int rc = st_prepare(lg->db, "SELECT " LOGIN_COLUMNS " FROM logins WHERE origin = ?1 AND"
				    " formActionOrigin IS ?2 AND httpRealm IS ?3 AND guid <> ?4 AND"
				    " guid NOT IN (SELECT guid FROM datasync_logins_shared)"
				    " ORDER BY timeCreated, guid", &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, l->origin ? l->origin : "", -1, SQLITE_STATIC);
	bind_opt(st, 2, l->form_action_origin);
	bind_opt(st, 3, l->http_realm);
	sqlite3_bind_text(st, 4, l->guid, -1, SQLITE_STATIC);
	rc = -ENOENT;
	for (;;) {
		struct ds_login c;
		int step = sqlite3_step(st);

		if (step != SQLITE_ROW) {
			if (step != SQLITE_DONE)
				rc = ds_browser_sqlerr(step);
			break;
		}
		step = read_row(lg, st, &c);
		if (step == -EBADMSG)
			continue; /* a damaged row is nobody's duplicate */
		if (step) {
			rc = step;
			break;
		}
		if (strcmp(c.username ? c.username : "", l->username ? l->username : "") == 0) {
			snprintf(guid_out, DS_BROWSER_ID_MAX, "%s", c.guid);
			ds_login_clear(&c);
			rc = 0;
			break;
		}
		ds_login_clear(&c);
	}
	sqlite3_finalize(st);
	return rc;
}

static int s_shared_get(void *s, const char *guid, struct ds_login *out)
{
	return get_from(L(s), "datasync_logins_shared", guid, out);
}

static int s_shared_set(void *s, const char *guid)
{
	sqlite3 *db = L(s)->db;
	int rc = run_guid(db, "DELETE FROM datasync_logins_shared WHERE guid = ?", guid);

	return rc ? rc : run_guid(db, "INSERT INTO datasync_logins_shared(" LOGIN_COLUMNS ") SELECT "
				       LOGIN_COLUMNS " FROM logins WHERE guid = ?", guid);
}

static int s_shared_clear(void *s)
{
	return ds_browser_exec(L(s)->db, "DELETE FROM datasync_logins_shared");
}

static int s_shared_restore(void *s)
{
	sqlite3 *db = L(s)->db;
	int rc = ds_browser_exec(db, "INSERT INTO logins(" LOGIN_COLUMNS ") SELECT guid, origin,"
				     " formActionOrigin, httpRealm, ifnull(usernameField, ''),"
				     " ifnull(passwordField, ''), ifnull(timeCreated, 0),"
				     " ifnull(timePasswordChanged, 0), ifnull(timeLastUsed, 0),"
				     " ifnull(timesUsed, 0), timeLastBreachAlertDismissed, secFields"
				     " FROM datasync_logins_shared WHERE guid NOT IN (SELECT guid FROM logins)");

	return rc ? rc : sqlite3_changes(db);
}

static int s_mark(void *s, const char *guid)
{
	char *q, *lit = sqlite3_mprintf("%Q", guid);
	int rc;

	if (!lit)
		return -ENOMEM;
	q = ds_asprintf("SELECT %s AS g", lit);
	sqlite3_free(lit);
	if (!q)
		return -ENOMEM;
	rc = ds_browser_log_mark_query(L(s)->db, q);
	ds_free(q);
	return rc;
}

/* ---- tracking ---------------------------------------------------------------------------- */

static int t_mark_all(void *s, size_t limit)
{
	return ds_browser_log_mark_recent(L(s)->db, "SELECT guid AS g FROM logins"
					  " ORDER BY timeLastUsed DESC", limit);
}

static int t_forget_if_cleared(void *s)
{
	return ds_browser_log_forget_if_cleared(L(s)->db, "SELECT 1 FROM logins LIMIT 1");
}

static int t_wipe(void *s)
{
	/* As desktop's Services.logins.removeAllLogins; the shared copies (the last state synced)
	 * and the kept unknown fields go with the logins. */
	return ds_browser_log_wipe(L(s)->db, "DELETE FROM logins; DELETE FROM datasync_logins_shared;"
				   " DELETE FROM datasync_logins_unknown;");
}

static void t_close(void *s)
{
	struct logins *lg = L(s);

	sqlite3_close(lg->db);
	ds_memzero(lg->key, sizeof(lg->key));
	ds_free(lg);
}

static const struct ds_passwords_store_ops logins_ops = {
	.track = {
		.begin = ds_browser_track_begin,
		.commit = ds_browser_track_commit,
		.rollback = ds_browser_track_rollback,
		.pending = ds_browser_track_pending,
		.changes_after = ds_browser_track_changes_after,
		.forget = ds_browser_track_forget,
		.mark_all = t_mark_all,
		.forget_if_cleared = t_forget_if_cleared,
		.wipe = t_wipe,
		.unknown_get = t_unknown_get,
		.unknown_put = t_unknown_put,
		.close = t_close,
	},
	.get = s_get,
	.put = s_put,
	.remove = s_remove,
	.set_guid = s_set_guid,
	.find_dupe = s_find_dupe,
	.shared_get = s_shared_get,
	.shared_set = s_shared_set,
	.shared_clear = s_shared_clear,
	.shared_restore = s_shared_restore,
	.mark = s_mark,
};

/* ---- opening: schema and key ------------------------------------------------------------ */

static int meta_get(sqlite3 *db, const char *name, sqlite3_stmt **st)
{
	int rc = st_prepare(db, "SELECT value FROM logins_meta WHERE name = ?", st);

	if (rc)
		return rc;
	sqlite3_bind_text(*st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(*st);
	if (rc == SQLITE_ROW)
		return 0;
	sqlite3_finalize(*st);
	*st = NULL;
	return rc == SQLITE_DONE ? -ENOENT : ds_browser_sqlerr(rc);
}

static int meta_put(sqlite3 *db, const char *name, const void *v, size_t len, bool blob)
{
	sqlite3_stmt *st;
	int rc = st_prepare(db, "INSERT OR REPLACE INTO logins_meta(name, value) VALUES(?, ?)", &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (blob)
		sqlite3_bind_blob(st, 2, v, (int)len, SQLITE_STATIC);
	else
		sqlite3_bind_text(st, 2, v, (int)len, SQLITE_STATIC);
	return step_done(st);
}

/* A new database: a new key, sealed in the port's storage, its name and check in logins_meta. */
static int key_create(sqlite3 *db, uint8_t key[KEY_LEN])
{
	uint8_t id[8], *check = NULL;
	char name[40];
	size_t clen;
	int rc;

	rc = ds_random(id, sizeof(id));
	if (rc == 0)
		rc = ds_random(key, KEY_LEN);
	if (rc)
		return rc;
	memcpy(name, "datasync-logins-", 16);
	ds_hex_encode(id, sizeof(id), name + 16, sizeof(name) - 16);
	rc = seal(key, KEY_CHECK_AAD, KEY_CHECK_TEXT, strlen(KEY_CHECK_TEXT), &check, &clen);
	if (rc == 0)
		rc = ds_port_secret_seal(name, key, KEY_LEN);
	if (rc == 0)
		rc = meta_put(db, "schema", SCHEMA_VERSION, strlen(SCHEMA_VERSION), false);
	if (rc == 0)
		rc = meta_put(db, "key_name", name, strlen(name), false);
	if (rc == 0)
		rc = meta_put(db, "key_check", check, clen, true);
	ds_free(check);
	if (rc == 0)
		DS_LOG_INF("logins database: new key sealed as %s", name);
	return rc;
}

static int key_load(sqlite3 *db, sqlite3_stmt *name_st, uint8_t key[KEY_LEN])
{
	const char *name = (const char *)sqlite3_column_text(name_st, 0);
	uint8_t buf[KEY_LEN + 1];
	sqlite3_stmt *st;
	char *text = NULL;
	int n, rc;

	if (!name)
		return -EPROTO;
	n = ds_port_secret_unseal(name, buf, sizeof(buf));
	if (n == -ENOENT || n == -ENOSPC || (n >= 0 && n != KEY_LEN)) {
		ds_memzero(buf, sizeof(buf));
		DS_LOG_ERR("the key of this logins database (secret %s) is %s in the secret storage:"
			   " its passwords cannot be read", name, n == -ENOENT ? "missing" : "damaged");
		return n == -ENOENT ? -ENOKEY : -EKEYREJECTED;
	}
	if (n < 0)
		return n;
	memcpy(key, buf, KEY_LEN);
	ds_memzero(buf, sizeof(buf));
	rc = meta_get(db, "key_check", &st);
	if (rc)
		return rc == -ENOENT ? -EPROTO : rc;
	rc = unseal(key, KEY_CHECK_AAD, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
		    &text);
	sqlite3_finalize(st);
	if (rc == 0 && strcmp(text, KEY_CHECK_TEXT) != 0)
		rc = -EBADMSG;
	ds_free(text);
	if (rc == -EBADMSG) {
		DS_LOG_ERR("the key sealed as %s does not open this logins database", name);
		return -EKEYREJECTED;
	}
	return rc;
}

/* A new (empty) database, or one holding logins_meta: never add our tables to another
 * program's database that a configuration pointed at by mistake. */
static int ours_or_empty(sqlite3 *db)
{
	sqlite3_stmt *st;
	int rc = st_prepare(db, "SELECT count(*), ifnull(sum(name = 'logins_meta'), 0)"
				" FROM sqlite_master", &st);

	if (rc)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = sqlite3_column_int(st, 0) == 0 || sqlite3_column_int(st, 1) == 1 ? 0 : -EPROTO;
	else
		rc = ds_browser_sqlerr(rc);
	sqlite3_finalize(st);
	return rc;
}

static int open_db(const char *path, bool create, sqlite3 **db)
{
	int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
	int rc;

	*db = NULL;
	if (!path || !*path)
		return -EINVAL;
	rc = sqlite3_open_v2(path, db, flags, NULL);
	if (rc != SQLITE_OK) {
		DS_LOG_ERR("cannot open %s: %s", path, *db ? sqlite3_errmsg(*db) : "out of memory");
		sqlite3_close(*db);
		*db = NULL;
		return ds_browser_sqlerr(rc);
	}
	/* The app holds the database open too: wait for its short transactions. */
	sqlite3_busy_timeout(*db, 5000);
	rc = ours_or_empty(*db);
	if (rc == 0 && create)
		rc = ds_browser_exec(*db, SCHEMA_SQL);
	else if (rc == 0)
		rc = ds_browser_exec(*db, "SELECT guid, secFields FROM logins LIMIT 0;"
					  "SELECT name, value FROM logins_meta LIMIT 0;");
	if (rc == 0)
		rc = ds_browser_db_cache(*db, false);
	if (rc) {
		DS_LOG_ERR("%s is not a logins database", path);
		sqlite3_close(*db);
		*db = NULL;
		return rc == -EILSEQ || rc == -EIO ? -EPROTO : rc;
	}
	return 0;
}

static int open_key(sqlite3 *db, uint8_t key[KEY_LEN])
{
	sqlite3_stmt *st = NULL;
	int rc = ds_browser_exec(db, "BEGIN IMMEDIATE");

	if (rc)
		return rc;
	rc = meta_get(db, "key_name", &st);
	if (rc == 0) {
		rc = key_load(db, st, key);
		sqlite3_finalize(st);
	} else if (rc == -ENOENT) {
		sqlite3_stmt *any;

		/* Rows without a key record are not ours (or their key record was removed). */
		rc = st_prepare(db, "SELECT 1 FROM logins LIMIT 1", &any);
		if (rc == 0) {
			int step = sqlite3_step(any);

			sqlite3_finalize(any);
			rc = step == SQLITE_DONE ? key_create(db, key) : step == SQLITE_ROW ? -ENOKEY
										: ds_browser_sqlerr(step);
		}
	}
	if (rc == 0)
		rc = ds_browser_exec(db, "COMMIT");
	if (rc) {
		ds_memzero(key, KEY_LEN);
		ds_browser_exec(db, "ROLLBACK");
	}
	return rc;
}

int ds_passwords_logins_open(const char *path, int64_t (*now)(void *), void *now_user_data,
			     struct ds_passwords_store **out)
{
	struct ds_passwords_store *s = NULL;
	struct logins *lg;
	sqlite3 *db;
	int rc;

	*out = NULL;
	lg = ds_calloc(1, sizeof(*lg));
	if (!lg)
		return -ENOMEM;
	rc = open_db(path, true, &db);
	if (rc == 0) {
		lg->db = db;
		rc = open_key(db, lg->key);
	}
	if (rc == 0)
		rc = ds_browser_log_install(db);
	if (rc == 0)
		rc = ds_browser_exec(db, SIDE_SQL);
	if (rc == 0 && !(s = ds_calloc(1, sizeof(*s))))
		rc = -ENOMEM;
	if (rc) {
		t_close(lg);
		return rc;
	}
	lg->now_ms = now;
	lg->now_user_data = now_user_data;
	s->ops = &logins_ops;
	s->priv = lg;
	*out = s;
	return 0;
}

void ds_passwords_store_close(struct ds_passwords_store *s)
{
	if (!s)
		return;
	s->ops->track.close(s->priv);
	ds_free(s);
}

int ds_passwords_logins_uninstall(const char *path)
{
	sqlite3 *db = NULL;
	int rc = open_db(path, false, &db);

	if (rc)
		return rc;
	rc = ds_browser_exec(db, DROP_SQL);
	if (rc == 0)
		rc = ds_browser_log_uninstall(db);
	sqlite3_close(db);
	return rc;
}

/* ---- the app's side ---------------------------------------------------------------------- */

static struct logins *app_store(struct ds_passwords_store *s)
{
	return s && s->ops == &logins_ops ? L(s->priv) : NULL;
}

static int new_guid(char guid[DS_BROWSER_ID_MAX])
{
	uint8_t r[9];
	int rc = ds_random(r, sizeof(r));

	/* 12 base64url characters, the form Firefox's own guids take. */
	if (rc == 0)
		rc = ds_base64url_encode(r, sizeof(r), guid, DS_BROWSER_ID_MAX) == 12 ? 0 : -EIO;
	return rc;
}

static int app_end(sqlite3 *db, int rc)
{
	if (rc == 0)
		rc = ds_browser_exec(db, "COMMIT");
	if (rc && !sqlite3_get_autocommit(db))
		ds_browser_exec(db, "ROLLBACK");
	return rc;
}

int ds_passwords_login_save(struct ds_passwords_store *s, struct ds_login *l)
{
	struct logins *lg = app_store(s);
	struct ds_login old;
	int64_t now;
	int rc;

	if (!lg || !l)
		return -EINVAL;
	/* Ids the server takes: 0x21..0x7E but ',' (AS support/guid; sync15.md §2). */
	for (const char *c = l->guid; *c; c++)
		if (*c < 0x21 || *c > 0x7e || *c == ',')
			return -EINVAL;
	rc = ds_passwords_login_fixup(l);
	if (rc)
		return rc;
	if (!l->guid[0]) {
		rc = new_guid(l->guid);
		if (rc)
			return rc;
	}
	now = now_ms(lg);
	rc = ds_browser_exec(lg->db, "BEGIN IMMEDIATE");
	if (rc)
		return rc;
	rc = s_get(lg, l->guid, &old);
	if (rc == 0) {
		if (strcmp(old.password ? old.password : "", l->password) != 0 &&
		    l->time_password_changed == old.time_password_changed)
			l->time_password_changed = now;
		ds_login_clear(&old);
	} else if (rc == -ENOENT) {
		rc = 0;
		if (!l->time_password_changed)
			l->time_password_changed = now;
	}
	if (rc == 0 && !l->time_created)
		l->time_created = now;
	if (rc == 0)
		rc = s_put(lg, l);
	return app_end(lg->db, rc);
}

int ds_passwords_login_load(struct ds_passwords_store *s, const char *guid, struct ds_login *out)
{
	struct logins *lg = app_store(s);

	if (!lg || !guid || !out)
		return -EINVAL;
	return s_get(lg, guid, out);
}

int ds_passwords_login_delete(struct ds_passwords_store *s, const char *guid)
{
	struct logins *lg = app_store(s);

	if (!lg || !guid)
		return -EINVAL;
	return s_remove(lg, guid);
}

int ds_passwords_login_touch(struct ds_passwords_store *s, const char *guid)
{
	struct logins *lg = app_store(s);
	sqlite3_stmt *st;
	int rc;

	if (!lg || !guid)
		return -EINVAL;
	rc = st_prepare(lg->db, "UPDATE logins SET timesUsed = timesUsed + 1, timeLastUsed = ?"
				" WHERE guid = ?", &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, now_ms(lg));
	sqlite3_bind_text(st, 2, guid, -1, SQLITE_STATIC);
	rc = step_done(st);
	return rc ? rc : sqlite3_changes(lg->db) > 0 ? 0 : -ENOENT;
}
