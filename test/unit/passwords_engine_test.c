/*
 * The passwords engine and its reference store, logins.sqlite (docs/engine-passwords.md): the
 * secrets at rest, the key's failures, record fixtures as desktop/Android/iOS write them, brace
 * ids, duplicates, tracking, the merge through the engine. Each test is named after its rule.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "core/ds_core.h"
#include "ds_port.h"
#include "engine/passwords/ds_passwords.h"
#include "sync/ds_sync.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOW_MS INT64_C(1767225600000)

static char g_base[512];
static bool g_own_base;
static unsigned seq;

struct fx {
	char path[600];
	struct ds_passwords_store *s; /* the app's handle (a second connection) */
	struct ds_engine *e;
	sqlite3 *db;                  /* raw look at the file */
};

static int64_t fake_now(void *user_data)
{
	DS_UNUSED(user_data);
	return NOW_MS;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	DS_UNUSED(sb);
	DS_UNUSED(flag);
	DS_UNUSED(ftw);
	return remove(p);
}

static int group_setup(void **state)
{
	const char *t = getenv("DS_TEST_TMP");
	char secrets[600], data[600], run[600];

	DS_UNUSED(state);
	if (t && *t) {
		snprintf(g_base, sizeof(g_base), "%s/pw-%d", t, (int)getpid());
		if (mkdir(g_base, 0700) != 0)
			return -1;
	} else {
		snprintf(g_base, sizeof(g_base), "%s/ds-pw-XXXXXX", P_tmpdir);
		if (!mkdtemp(g_base))
			return -1;
	}
	g_own_base = true;
	snprintf(secrets, sizeof(secrets), "%s/secrets", g_base);
	snprintf(data, sizeof(data), "%s/data", g_base);
	snprintf(run, sizeof(run), "%s/run", g_base);
	return ds_port_init(&(struct ds_port_config){ .data_dir = data, .run_dir = run,
						      .secret_dir = secrets });
}

static int group_teardown(void **state)
{
	DS_UNUSED(state);
	ds_port_deinit();
	if (g_own_base)
		nftw(g_base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void open_engine(struct fx *f)
{
	struct ds_passwords_store *s;

	assert_int_equal(ds_passwords_logins_open(f->path, fake_now, NULL, &s), 0);
	assert_int_equal(ds_passwords_engine_new(s, &f->e), 0);
}

static void sql(sqlite3 *db, const char *s)
{
	char *err = NULL;

	if (sqlite3_exec(db, s, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("SQL failed: %s: %s", s, err ? err : "?");
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->path, sizeof(f->path), "%s/logins-%u.sqlite", g_base, ++seq);
	/* WAL (kept in the file): one sync per commit instead of the journal's several, which is
	 * most of these tests' time. The store works the same in either mode. */
	assert_int_equal(sqlite3_open(f->path, &f->db), SQLITE_OK);
	sql(f->db, "PRAGMA journal_mode=WAL");
	sqlite3_close(f->db);
	open_engine(f);
	assert_int_equal(ds_passwords_logins_open(f->path, fake_now, NULL, &f->s), 0);
	assert_int_equal(sqlite3_open(f->path, &f->db), SQLITE_OK);
	sqlite3_busy_timeout(f->db, 2000);
	*state = f;
	return 0;
}

static void close_all(struct fx *f)
{
	if (f->e)
		f->e->ops->close(f->e);
	ds_passwords_store_close(f->s);
	sqlite3_close(f->db);
	f->e = NULL;
	f->s = NULL;
	f->db = NULL;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	close_all(f);
	unlink(f->path);
	free(f);
	return 0;
}

static int64_t sql_int(sqlite3 *db, const char *q)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static char *read_data(const char *name)
{
	const char *src = getenv("DS_SRC");
	char path[1200];
	size_t len;
	char *buf;

	if (src) {
		snprintf(path, sizeof(path), "%s/test/data/passwords/%s", src, name);
	} else {
		const char *slash = strrchr(__FILE__, '/');
		int n = slash ? (int)(slash - __FILE__) : 1;

		snprintf(path, sizeof(path), "%.*s/../data/passwords/%s", n, slash ? __FILE__ : ".", name);
	}
	buf = read_file(path, &len);
	buf[len] = '\0';
	return buf;
}

static bool contains(const char *hay, size_t n, const void *needle, size_t m)
{
	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(hay + i, needle, m) == 0)
			return true;
	return false;
}

static int apply(struct fx *f, const char *id, const char *payload, int64_t modified)
{
	struct ds_record r = { .id = (char *)id, .payload = (char *)payload, .deleted = !payload,
			       .modified_ms = modified };
	int rc;

	assert_int_equal(f->e->ops->begin(f->e), 0);
	rc = f->e->ops->apply(f->e, &r);
	if (rc == 0)
		assert_int_equal(f->e->ops->commit(f->e), 0);
	else
		assert_int_equal(f->e->ops->rollback(f->e), 0);
	return rc;
}

static bool is_pending(struct fx *f, const char *id)
{
	struct ds_pending_info pi;

	return f->e->ops->pending(f->e, id, &pi) == 0;
}

static void forget(struct fx *f, const char *id)
{
	struct ds_pending_info pi;

	assert_int_equal(f->e->ops->pending(f->e, id, &pi), 0);
	assert_int_equal(f->e->ops->begin(f->e), 0);
	assert_int_equal(f->e->ops->forget(f->e, id, pi.change_seq), 0);
	assert_int_equal(f->e->ops->commit(f->e), 0);
}

static void save(struct fx *f, const char *guid, const char *origin, const char *user,
		 const char *pass)
{
	struct ds_login l;

	memset(&l, 0, sizeof(l));
	snprintf(l.guid, sizeof(l.guid), "%s", guid);
	l.origin = ds_strdup(origin);
	l.form_action_origin = ds_strdup(origin);
	l.username = ds_strdup(user);
	l.password = ds_strdup(pass);
	assert_int_equal(ds_passwords_login_save(f->s, &l), 0);
	ds_login_clear(&l);
}

static cJSON *get_json(struct fx *f, const char *id)
{
	struct ds_record r;
	cJSON *o;

	assert_int_equal(f->e->ops->get(f->e, id, &r), 0);
	assert_int_equal(r.sortindex, DS_PASSWORDS_SORTINDEX);
	o = cJSON_Parse(r.payload);
	assert_non_null(o);
	ds_record_clear(&r);
	return o;
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- encryption at rest ------------------------------------------------------------------- */

static void test_secrets_never_in_the_file_in_cleartext(void **state)
{
	struct fx *f = *state;
	char key[64], name[80];
	size_t len;
	char *bytes;
	int n;

	save(f, "", "https://bank.example.com", "user-in-clear-Q7", "pass-in-clear-Z9");
	assert_int_equal(apply(f, "remoteAAAAAA", "{\"id\":\"remoteAAAAAA\",\"hostname\":"
			       "\"https://mail.example.com\",\"formSubmitURL\":\"\",\"username\":"
			       "\"remote-user-K3\",\"password\":\"remote-pass-W8\","
			       "\"secretQuestion\":\"unknown-field-V5\"}", 1), 0);
	snprintf(name, sizeof(name), "%s", "");
	{
		sqlite3_stmt *st;

		assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT value FROM logins_meta WHERE"
						    " name = 'key_name'", -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		snprintf(name, sizeof(name), "%s", sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	n = ds_port_secret_unseal(name, key, sizeof(key));
	assert_int_equal(n, 32);
	close_all(f);

	bytes = read_file(f->path, &len);
	/* The check can fail: what is not secret is there in clear. */
	assert_true(contains(bytes, len, "https://bank.example.com", 24));
	assert_true(contains(bytes, len, "https://mail.example.com", 24));
	assert_false(contains(bytes, len, "user-in-clear-Q7", 16));
	assert_false(contains(bytes, len, "pass-in-clear-Z9", 16));
	assert_false(contains(bytes, len, "remote-user-K3", 14));
	assert_false(contains(bytes, len, "remote-pass-W8", 14));
	assert_false(contains(bytes, len, "unknown-field-V5", 16));
	assert_false(contains(bytes, len, key, 32));
	free(bytes);
	ds_memzero(key, sizeof(key));

	/* Reopened, the same key reads them back. */
	open_engine(f);
	assert_int_equal(ds_passwords_logins_open(f->path, fake_now, NULL, &f->s), 0);
	{
		cJSON *o = get_json(f, "remoteAAAAAA");

		assert_string_equal(jstr(o, "password"), "remote-pass-W8");
		assert_string_equal(jstr(o, "secretQuestion"), "unknown-field-V5");
		cJSON_Delete(o);
	}
}

static void key_name(struct fx *f, char name[80])
{
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT value FROM logins_meta WHERE name ="
					    " 'key_name'", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(name, 80, "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

static void test_missing_key_is_a_clear_error(void **state)
{
	struct fx *f = *state;
	struct ds_passwords_store *s = NULL;
	char name[80];

	save(f, "missingKey01", "https://a.example", "u", "p");
	key_name(f, name);
	assert_int_equal(ds_port_secret_erase(name), 0);
	assert_int_equal(ds_passwords_logins_open(f->path, fake_now, NULL, &s), -ENOKEY);
	assert_null(s);
	/* The data is untouched: nothing was re-keyed. */
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM logins"), 1);
}

static void test_wrong_key_is_refused_never_garbage(void **state)
{
	struct fx *f = *state;
	struct ds_passwords_store *s = NULL;
	struct ds_login l;
	uint8_t other[32];
	char name[80];

	save(f, "wrongKey0001", "https://a.example", "u", "p1");
	save(f, "wrongKey0002", "https://b.example", "u", "p2");
	/* A row's sealed fields moved to another row do not open there (the guid is the AAD). */
	sql(f->db, "UPDATE logins SET secFields = (SELECT secFields FROM logins WHERE guid ="
		   " 'wrongKey0002') WHERE guid = 'wrongKey0001'");
	assert_int_equal(ds_passwords_login_load(f->s, "wrongKey0001", &l), -EBADMSG);
	assert_int_equal(ds_passwords_login_load(f->s, "wrongKey0002", &l), 0);
	assert_string_equal(l.password, "p2");
	ds_login_clear(&l);

	/* A damaged row is nobody's duplicate: a record with its identity still applies. */
	assert_int_equal(apply(f, "{same-as-damaged}", "{\"id\":\"{same-as-damaged}\",\"hostname\":"
			       "\"https://a.example\",\"formSubmitURL\":\"https://a.example\","
			       "\"username\":\"u\",\"password\":\"x\"}", 1), 0);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM logins WHERE guid = 'wrongKey0001'"), 1);
	/* The damaged row reads as absent to the engine, and the server's version repairs it. */
	assert_int_equal(f->e->ops->get(f->e, "wrongKey0001", &(struct ds_record){ 0 }), -ENOENT);
	assert_int_equal(apply(f, "wrongKey0001", "{\"id\":\"wrongKey0001\",\"hostname\":"
			       "\"https://a.example\",\"formSubmitURL\":\"\",\"username\":\"u\","
			       "\"password\":\"from-server\"}", 1), 0);
	assert_int_equal(ds_passwords_login_load(f->s, "wrongKey0001", &l), 0);
	assert_string_equal(l.password, "from-server");
	ds_login_clear(&l);

	key_name(f, name);
	memset(other, 0x5a, sizeof(other));
	assert_int_equal(ds_port_secret_seal(name, other, sizeof(other)), 0);
	assert_int_equal(ds_passwords_logins_open(f->path, fake_now, NULL, &s), -EKEYREJECTED);
	assert_int_equal(ds_port_secret_seal(name, other, 16), 0);
	assert_int_equal(ds_passwords_logins_open(f->path, fake_now, NULL, &s), -EKEYREJECTED);
	assert_null(s);
}

static void test_not_a_logins_database_is_refused(void **state)
{
	struct fx *f = *state;
	struct ds_passwords_store *s = NULL;
	char path[700];
	FILE *fp;

	snprintf(path, sizeof(path), "%s.junk", f->path);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	fputs("this is not an SQLite database, just text long enough to have a header page.....", fp);
	fclose(fp);
	assert_int_equal(ds_passwords_logins_open(path, fake_now, NULL, &s), -EPROTO);
	unlink(path);
	/* Another program's database: refused, and left without our tables. */
	{
		sqlite3 *db;

		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		sql(db, "CREATE TABLE moz_places(id INTEGER PRIMARY KEY, url TEXT)");
		assert_int_equal(ds_passwords_logins_open(path, fake_now, NULL, &s), -EPROTO);
		assert_int_equal(ds_passwords_logins_uninstall(path), -EPROTO);
		assert_int_equal(sql_int(db, "SELECT count(*) FROM sqlite_master"), 1);
		sqlite3_close(db);
		unlink(path);
	}
	assert_null(s);
}

/* ---- records ------------------------------------------------------------------------------ */

static void test_records_round_trip_as_clients_write_them(void **state)
{
	struct fx *f = *state;
	char *text = read_data("records.json");
	cJSON *doc = cJSON_Parse(text), *v;
	int n = 0;

	assert_non_null(doc);
	cJSON_ArrayForEach(v, cJSON_GetObjectItem(doc, "records")) {
		const cJSON *in = cJSON_GetObjectItem(v, "in"), *want = cJSON_GetObjectItem(v, "out");
		const char *id = jstr(in, "id");
		char *payload = cJSON_PrintUnformatted(in);
		cJSON *got;

		assert_int_equal(apply(f, id, payload, 1), 0);
		assert_false(is_pending(f, id));
		got = get_json(f, id);
		if (!cJSON_Compare(got, want, 1)) {
			char *g = cJSON_PrintUnformatted(got);

			fail_msg("%s %s:\n got  %s", jstr(v, "client"), id, g);
		}
		cJSON_Delete(got);
		cJSON_free(payload);
		n++;
	}
	assert_int_equal(n, 5);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM logins"), 5);
	cJSON_Delete(doc);
	free(text);
}

static void test_invalid_records_refused_without_change(void **state)
{
	struct fx *f = *state;

	save(f, "keepMeAAAAAA", "https://a.example", "u", "kept");
	forget(f, "keepMeAAAAAA");
	assert_int_equal(apply(f, "keepMeAAAAAA", "{\"id\":\"keepMeAAAAAA\",\"hostname\":"
			       "\"https://a.example\",\"formSubmitURL\":\"\",\"password\":\"\"}", 1),
			 -EBADMSG);
	assert_int_equal(apply(f, "keepMeAAAAAA", "{\"id\":\"keepMeAAAAAA\",\"hostname\":"
			       "\"https://a.example\",\"password\":\"x\"}", 1), -EBADMSG);
	assert_int_equal(apply(f, "keepMeAAAAAA", "not json", 1), -EBADMSG);
	assert_int_equal(apply(f, "", "{}", 1), -EBADMSG);
	{
		cJSON *o = get_json(f, "keepMeAAAAAA");

		assert_string_equal(jstr(o, "password"), "kept");
		cJSON_Delete(o);
	}
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM logins"), 1);
	assert_false(is_pending(f, "keepMeAAAAAA"));
}

static void test_brace_ids_applied_read_and_deleted(void **state)
{
	struct fx *f = *state;
	const char *id = "{9f1c2d3e-4b5a-6978-8a9b-cdef01234567}";
	char payload[400];
	struct ds_record r;

	snprintf(payload, sizeof(payload), "{\"id\":\"%s\",\"hostname\":\"https://a.example\","
		 "\"formSubmitURL\":\"https://a.example\",\"httpRealm\":null,\"username\":\"u\","
		 "\"password\":\"p\",\"usernameField\":\"\",\"passwordField\":\"\"}", id);
	assert_int_equal(apply(f, id, payload, 1), 0);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM logins WHERE guid ="
				 " '{9f1c2d3e-4b5a-6978-8a9b-cdef01234567}'"), 1);
	assert_int_equal(f->e->ops->get(f->e, id, &r), 0);
	assert_string_equal(r.id, id);
	ds_record_clear(&r);
	assert_int_equal(apply(f, id, NULL, 2), 0);
	assert_int_equal(f->e->ops->get(f->e, id, &r), -ENOENT);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM logins"), 0);
}

static int collect(const struct ds_record *r, void *user_data)
{
	cJSON *arr = user_data;
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", r->id);
	cJSON_AddBoolToObject(o, "deleted", r->deleted);
	cJSON_AddNumberToObject(o, "sortindex", r->sortindex);
	if (r->payload)
		cJSON_AddStringToObject(o, "payload", r->payload);
	cJSON_AddItemToArray(arr, o);
	return 0;
}

static cJSON *changes(struct fx *f)
{
	cJSON *arr = cJSON_CreateArray();

	assert_int_equal(f->e->ops->changes(f->e, collect, arr), 0);
	return arr;
}

static void test_app_changes_go_up_with_sortindex_and_tombstones(void **state)
{
	struct fx *f = *state;
	cJSON *c, *p;

	save(f, "appSavedAAAA", "https://a.example", "u", "p");
	save(f, "appGoneAAAAA", "https://b.example", "u", "p");
	assert_int_equal(ds_passwords_login_delete(f->s, "appGoneAAAAA"), 0);
	c = changes(f);
	assert_int_equal(cJSON_GetArraySize(c), 2);
	assert_string_equal(jstr(cJSON_GetArrayItem(c, 0), "id"), "appSavedAAAA");
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 0), "sortindex")->valueint, 1);
	p = cJSON_Parse(jstr(cJSON_GetArrayItem(c, 0), "payload"));
	assert_string_equal(jstr(p, "password"), "p");
	/* Saved by the app: created and password changed now. */
	assert_true(cJSON_GetObjectItem(p, "timeCreated")->valuedouble == (double)NOW_MS);
	assert_true(cJSON_GetObjectItem(p, "timePasswordChanged")->valuedouble == (double)NOW_MS);
	cJSON_Delete(p);
	assert_string_equal(jstr(cJSON_GetArrayItem(c, 1), "id"), "appGoneAAAAA");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 1), "deleted")));
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 1), "sortindex")->valueint, 5000000);
	cJSON_Delete(c);
}

static void test_engine_writes_and_uses_not_logged(void **state)
{
	struct fx *f = *state;
	struct ds_login l;

	assert_int_equal(apply(f, "engineAAAAAA", "{\"id\":\"engineAAAAAA\",\"hostname\":"
			       "\"https://a.example\",\"formSubmitURL\":\"\",\"username\":\"u\","
			       "\"password\":\"p\",\"timesUsed\":4}", 1), 0);
	assert_false(is_pending(f, "engineAAAAAA"));
	/* A use is not a change (desktop isSyncableChange); its count is kept for the next one. */
	assert_int_equal(ds_passwords_login_touch(f->s, "engineAAAAAA"), 0);
	assert_false(is_pending(f, "engineAAAAAA"));
	assert_int_equal(ds_passwords_login_load(f->s, "engineAAAAAA", &l), 0);
	assert_int_equal(l.times_used, 5);
	assert_true(l.time_last_used == NOW_MS);
	/* A password change by the app is, and dates itself. */
	ds_free(l.password);
	l.password = ds_strdup("p2");
	assert_int_equal(ds_passwords_login_save(f->s, &l), 0);
	ds_login_clear(&l);
	assert_true(is_pending(f, "engineAAAAAA"));
	assert_int_equal(ds_passwords_login_load(f->s, "engineAAAAAA", &l), 0);
	assert_true(l.time_password_changed == NOW_MS);
	assert_int_equal(l.times_used, 5);
	ds_login_clear(&l);
	assert_int_equal(ds_passwords_login_touch(f->s, "nosuchguid"), -ENOENT);
}

static void test_app_save_validates(void **state)
{
	struct fx *f = *state;
	struct ds_login l;

	memset(&l, 0, sizeof(l));
	l.origin = ds_strdup("https://Example.COM/login");
	l.http_realm = ds_strdup("realm");
	l.username_field = ds_strdup("user");
	l.password = ds_strdup("");
	assert_int_equal(ds_passwords_login_save(f->s, &l), -EBADMSG);
	ds_free(l.password);
	l.password = ds_strdup("p");
	snprintf(l.guid, sizeof(l.guid), "a,b");
	assert_int_equal(ds_passwords_login_save(f->s, &l), -EINVAL);
	snprintf(l.guid, sizeof(l.guid), "a b");
	assert_int_equal(ds_passwords_login_save(f->s, &l), -EINVAL);
	l.guid[0] = '\0';
	assert_int_equal(ds_passwords_login_save(f->s, &l), 0);
	assert_int_equal(strlen(l.guid), 12);
	ds_login_clear(&l);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM logins WHERE origin ="
				 " 'https://example.com' AND usernameField = ''"), 1);
}

static void test_invalid_local_login_not_uploaded(void **state)
{
	struct fx *f = *state;
	struct ds_login l;
	cJSON *c;

	/* An integrator's adapter wrote a login the app API would refuse. */
	memset(&l, 0, sizeof(l));
	snprintf(l.guid, sizeof(l.guid), "badLocalAAAA");
	l.origin = ds_strdup("https://a.example");
	l.form_action_origin = ds_strdup("");
	l.password = ds_strdup("");
	assert_int_equal(f->s->ops->put(f->s->priv, &l), 0);
	ds_login_clear(&l);
	save(f, "goodLocalAAA", "https://b.example", "u", "p");
	assert_true(is_pending(f, "badLocalAAAA"));
	c = changes(f);
	assert_int_equal(cJSON_GetArraySize(c), 1);
	assert_string_equal(jstr(cJSON_GetArrayItem(c, 0), "id"), "goodLocalAAA");
	cJSON_Delete(c);
	assert_true(is_pending(f, "badLocalAAAA"));
}

/* A login saved here before sign-in and the same login on the server (origin, target,
 * username) become one, under the server's guid. */
static void test_same_login_from_server_takes_over_local_one(void **state)
{
	struct fx *f = *state;
	struct ds_login l;
	cJSON *c;

	save(f, "localDupAAAA", "https://a.example", "alice", "same");
	save(f, "localOtherAA", "https://a.example", "bob", "other");
	assert_int_equal(apply(f, "{remote-dup}", "{\"id\":\"{remote-dup}\",\"hostname\":"
			       "\"https://a.example\",\"formSubmitURL\":\"https://a.example\","
			       "\"username\":\"alice\",\"password\":\"same\",\"timeCreated\":5,"
			       "\"timePasswordChanged\":" "1767225600000" ",\"timesUsed\":2}",
			       NOW_MS + 10), 0);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM logins"), 2);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM logins WHERE guid = 'localDupAAAA'"), 0);
	assert_int_equal(ds_passwords_login_load(f->s, "{remote-dup}", &l), 0);
	assert_string_equal(l.username, "alice");
	assert_int_equal(l.time_created, 5);
	ds_login_clear(&l);
	/* The local guid was never on the server: no tombstone for it; merged, the login equals
	 * the server's (larger use count, earlier creation), so its pending creation is done. */
	c = changes(f);
	assert_int_equal(cJSON_GetArraySize(c), 1);
	assert_string_equal(jstr(cJSON_GetArrayItem(c, 0), "id"), "localOtherAA");
	cJSON_Delete(c);
	/* A server copy with an older password: the local password, changed later, wins and the
	 * merged login goes up under the server's guid. */
	save(f, "localDiffAAA", "https://s.example", "carol", "newer");
	assert_int_equal(apply(f, "{remote-diff}", "{\"id\":\"{remote-diff}\",\"hostname\":"
			       "\"https://s.example\",\"formSubmitURL\":\"https://s.example\","
			       "\"username\":\"carol\",\"password\":\"older\",\"timePasswordChanged\":"
			       "1000}", NOW_MS + 10), 0);
	assert_true(is_pending(f, "{remote-diff}"));
	assert_false(is_pending(f, "localDiffAAA"));
	assert_int_equal(ds_passwords_login_load(f->s, "{remote-diff}", &l), 0);
	assert_string_equal(l.password, "newer");
	ds_login_clear(&l);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM logins WHERE origin = 'https://s.example'"), 1);
}

/* Every login removed at once while they were synced: no deletion goes up, and the logins
 * come back as the server held them at the last sync; a login never synced stays gone. */
static void test_cleared_store_reimported_never_deleted_remotely(void **state)
{
	struct fx *f = *state;
	struct ds_login l;

	assert_int_equal(apply(f, "clearAAAAAAA", "{\"id\":\"clearAAAAAAA\",\"hostname\":"
			       "\"https://a.example\",\"formSubmitURL\":\"\",\"username\":\"u\","
			       "\"password\":\"from-server\",\"extra\":\"kept\"}", 1), 0);
	save(f, "clearBBBBBBB", "https://b.example", "u", "p");
	forget(f, "clearBBBBBBB"); /* uploaded */
	save(f, "clearCCCCCCC", "https://c.example", "u", "never synced");
	sql(f->db, "DELETE FROM logins");
	assert_true(is_pending(f, "clearAAAAAAA"));
	assert_int_equal(f->e->ops->prepare(f->e), 0);
	assert_false(is_pending(f, "clearAAAAAAA"));
	assert_false(is_pending(f, "clearBBBBBBB"));
	assert_false(is_pending(f, "clearCCCCCCC"));
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM logins"), 2);
	assert_int_equal(ds_passwords_login_load(f->s, "clearAAAAAAA", &l), 0);
	assert_string_equal(l.password, "from-server");
	ds_login_clear(&l);
	{
		cJSON *o = get_json(f, "clearAAAAAAA");

		assert_string_equal(jstr(o, "extra"), "kept");
		cJSON_Delete(o);
	}
	assert_int_equal(ds_passwords_login_load(f->s, "clearCCCCCCC", &l), -ENOENT);
	/* One login removed is an ordinary deletion. */
	assert_int_equal(ds_passwords_login_delete(f->s, "clearBBBBBBB"), 0);
	assert_int_equal(f->e->ops->prepare(f->e), 0);
	assert_true(is_pending(f, "clearBBBBBBB"));
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM logins"), 1);
}

/* Both sides changed: the merge takes each field from the side that changed it since the shared
 * version (the last one applied or uploaded). */
static void test_merge_through_engine_uses_shared_version(void **state)
{
	struct fx *f = *state;
	struct ds_record local, remote = { 0 }, out;
	struct ds_login l;
	cJSON *o;

	assert_int_equal(apply(f, "mergeAAAAAAA", "{\"id\":\"mergeAAAAAAA\",\"hostname\":"
			       "\"https://a.example\",\"formSubmitURL\":\"\",\"username\":\"alice\","
			       "\"password\":\"v1\",\"timePasswordChanged\":100,\"timesUsed\":3}", 1000), 0);
	assert_int_equal(ds_passwords_login_load(f->s, "mergeAAAAAAA", &l), 0);
	ds_free(l.password);
	l.password = ds_strdup("v2-local");
	assert_int_equal(ds_passwords_login_save(f->s, &l), 0);
	ds_login_clear(&l);
	assert_int_equal(ds_passwords_login_touch(f->s, "mergeAAAAAAA"), 0);
	assert_int_equal(f->e->ops->get(f->e, "mergeAAAAAAA", &local), 0);
	remote.id = "mergeAAAAAAA";
	remote.modified_ms = NOW_MS + 5000; /* newer than the local change */
	remote.payload = "{\"id\":\"mergeAAAAAAA\",\"hostname\":\"https://a.example\","
			 "\"formSubmitURL\":\"\",\"username\":\"alice@example.com\",\"password\":\"v1\","
			 "\"timePasswordChanged\":100,\"timesUsed\":5,\"newField\":1}";
	assert_int_equal(f->e->ops->merge(f->e, &local, &remote, &out), 0);
	o = cJSON_Parse(out.payload);
	assert_string_equal(jstr(o, "username"), "alice@example.com");
	assert_string_equal(jstr(o, "password"), "v2-local");
	assert_int_equal(cJSON_GetObjectItem(o, "timesUsed")->valueint, 6); /* 3 + 1 + 2 */
	assert_int_equal(cJSON_GetObjectItem(o, "newField")->valueint, 1);
	assert_int_equal(out.sortindex, 1);
	assert_true(is_pending(f, "mergeAAAAAAA")); /* the merged version goes up */
	cJSON_Delete(o);
	ds_record_clear(&out);
	ds_record_clear(&local);
	/* An invalid remote version is refused, not merged. */
	remote.payload = "{\"id\":\"mergeAAAAAAA\",\"hostname\":\"\",\"password\":\"x\"}";
	assert_int_equal(f->e->ops->get(f->e, "mergeAAAAAAA", &local), 0);
	assert_int_equal(f->e->ops->merge(f->e, &local, &remote, &out), -EBADMSG);
	ds_record_clear(&local);
}

/* After a sign-in every login is pending; one that only differs from the server's copy in how
 * desktop writes it (null target, no use counts, another field order) is not uploaded again. */
static void test_merge_equal_to_server_uploads_nothing(void **state)
{
	struct fx *f = *state;
	const char *desk = "{\"id\":\"{desk-0001}\",\"hostname\":\"https://a.example\","
			   "\"formSubmitURL\":\"https://a.example\",\"httpRealm\":null,\"username\":"
			   "\"u\",\"password\":\"p\",\"usernameField\":\"\",\"passwordField\":\"\","
			   "\"timeCreated\":10,\"timePasswordChanged\":20,\"future\":true}";
	struct ds_record local, remote = { .id = "{desk-0001}", .modified_ms = 1 }, out;

	remote.payload = (char *)desk;
	assert_int_equal(apply(f, "{desk-0001}", desk, 1), 0);
	assert_int_equal(f->e->ops->mark_all(f->e), 0);
	assert_true(is_pending(f, "{desk-0001}"));
	assert_int_equal(f->e->ops->get(f->e, "{desk-0001}", &local), 0);
	assert_int_equal(f->e->ops->begin(f->e), 0);
	assert_int_equal(f->e->ops->merge(f->e, &local, &remote, &out), 0);
	assert_int_equal(f->e->ops->commit(f->e), 0);
	assert_false(is_pending(f, "{desk-0001}"));
	ds_record_clear(&out);
	ds_record_clear(&local);
}

/* One scenario (a record for a new id taking over a local login, a merge, the upload list),
 * with each of its allocations failing in turn: every step fails cleanly with -ENOMEM and
 * rolls back, nothing leaks (ASan, valgrind), and the scenario then runs to the end. */
static int torture_step(struct fx *f, unsigned iter, bool *committed)
{
	char id[DS_BROWSER_ID_MAX], payload[400];
	struct ds_record r = { 0 }, local = { 0 }, out = { 0 };
	cJSON *c;
	int rc;

	snprintf(id, sizeof(id), "{torture-%u}", iter);
	snprintf(payload, sizeof(payload), "{\"id\":\"%s\",\"hostname\":\"https://t.example\","
		 "\"formSubmitURL\":\"https://t.example\",\"username\":\"u%u\",\"password\":"
		 "\"p\",\"extra\":[1]}", id, iter);
	r.id = id;
	r.payload = payload;
	r.modified_ms = NOW_MS + 1;
	rc = f->e->ops->begin(f->e);
	if (rc == 0)
		rc = f->e->ops->apply(f->e, &r);
	if (rc == 0)
		rc = f->e->ops->get(f->e, id, &local);
	if (rc == 0)
		rc = f->e->ops->merge(f->e, &local, &r, &out);
	ds_record_clear(&local);
	ds_record_clear(&out);
	*committed = false;
	if (rc == 0) {
		rc = f->e->ops->commit(f->e);
		*committed = rc == 0;
	} else {
		f->e->ops->rollback(f->e);
	}
	if (rc == 0) {
		c = cJSON_CreateArray();
		rc = f->e->ops->changes(f->e, collect, c);
		cJSON_Delete(c);
	}
	return rc;
}

static void test_allocation_failures_fail_cleanly(void **state)
{
	struct fx *f = *state;
	unsigned long n;
	unsigned iter = 0;
	bool committed;
	char q[200];

	if (!IS_ENABLED(CONFIG_DS_ALLOC_HOOK))
		skip();
	save(f, "", "https://t.example", "u0", "p");
	ds_alloc_fail_after(0);
	assert_int_equal(torture_step(f, iter++, &committed), 0);
	n = ds_alloc_fail_after(0);
	assert_true(n > 10);
	for (unsigned long i = 1; i <= n; i++, iter++) {
		char user[32];
		int rc;

		/* A local login the record takes over, each time. */
		snprintf(user, sizeof(user), "u%u", iter);
		save(f, "", "https://t.example", user, "p");
		ds_alloc_fail_after(i);
		rc = torture_step(f, iter, &committed);
		ds_alloc_fail_after(0);
		if (rc != -ENOMEM && rc != 0)
			fail_msg("allocation %lu failing: %d", i, rc);
		/* Rolled back: the record left no trace. */
		snprintf(q, sizeof(q), "SELECT count(*) FROM logins WHERE guid = '{torture-%u}'", iter);
		assert_int_equal(sql_int(f->db, q), committed ? 1 : 0);
		/* Taken over, or left under its own guid: one login per round, never two. */
		assert_int_equal(sql_int(f->db, "SELECT count(*) FROM logins"), (int64_t)iter + 1);
	}
	assert_int_equal(torture_step(f, iter, &committed), 0);
	assert_true(committed);
}

static void test_mark_all_forgets_shared_versions(void **state)
{
	struct fx *f = *state;

	assert_int_equal(apply(f, "sharedAAAAAA", "{\"id\":\"sharedAAAAAA\",\"hostname\":"
			       "\"https://a.example\",\"formSubmitURL\":\"\",\"password\":\"p\"}", 1), 0);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM datasync_logins_shared"), 1);
	assert_int_equal(f->e->ops->mark_all(f->e), 0);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM datasync_logins_shared"), 0);
	assert_true(is_pending(f, "sharedAAAAAA"));
}

static void test_unregister_keeps_logins_and_key(void **state)
{
	struct fx *f = *state;
	cJSON *cfg;
	struct ds_engine *e = NULL;
	struct ds_login l;

	save(f, "stayAAAAAAAA", "https://a.example", "u", "p");
	close_all(f);
	cfg = cJSON_CreateObject();
	cJSON_AddStringToObject(cfg, "kind", "passwords");
	cJSON_AddStringToObject(cfg, "logins", f->path);
	assert_int_equal(ds_passwords_engine_unregister(cfg), 0);
	assert_int_equal(sqlite3_open(f->path, &f->db), SQLITE_OK);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM sqlite_master WHERE name LIKE"
				 " 'datasync%'"), 0);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM logins"), 1);
	assert_int_equal(ds_passwords_engine_open(cfg, &e), 0);
	e->ops->close(e);
	assert_int_equal(ds_passwords_logins_open(f->path, fake_now, NULL, &f->s), 0);
	assert_int_equal(ds_passwords_login_load(f->s, "stayAAAAAAAA", &l), 0);
	assert_string_equal(l.password, "p");
	ds_login_clear(&l);
	cJSON_DeleteItemFromObject(cfg, "logins");
	assert_int_equal(ds_passwords_engine_open(cfg, &e), -EINVAL);
	cJSON_Delete(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_secrets_never_in_the_file_in_cleartext),
		T(test_missing_key_is_a_clear_error),
		T(test_wrong_key_is_refused_never_garbage),
		T(test_not_a_logins_database_is_refused),
		T(test_records_round_trip_as_clients_write_them),
		T(test_invalid_records_refused_without_change),
		T(test_brace_ids_applied_read_and_deleted),
		T(test_app_changes_go_up_with_sortindex_and_tombstones),
		T(test_engine_writes_and_uses_not_logged),
		T(test_app_save_validates),
		T(test_invalid_local_login_not_uploaded),
		T(test_same_login_from_server_takes_over_local_one),
		T(test_cleared_store_reimported_never_deleted_remotely),
		T(test_merge_through_engine_uses_shared_version),
		T(test_merge_equal_to_server_uploads_nothing),
		T(test_allocation_failures_fail_cleanly),
		T(test_mark_all_forgets_shared_versions),
		T(test_unregister_keeps_logins_and_key),
#undef T
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
