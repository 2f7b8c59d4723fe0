/*
 * Passwords through the sync core and the Sync 1.5 remote against the in-process storage node
 * (test/support/fake_sync15.h): devices with their own logins.sqlite converge, merge field by
 * field, and keep every password across a sign-out and sign-in (sync15.md §11 U4).
 */
#include "core/ds_core.h"
#include "engine/passwords/ds_passwords.h"
#include "remote/sync15/ds_sync15.h"
#include "sync/ds_sync.h"
#include "test/support/engine_sync_fixture.h"
#include "test/support/fake_sync15.h"
#include "test/support/port_dir.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const uint8_t KSYNC[64] = { 0x21, 0x32, 0x43, [40] = 0x54, [63] = 0x65 };
static const char BRACE_ID[] = "{4f3e2d1c-0b9a-4877-a665-544332211000}";

static char g_base[512];
static unsigned seq;

struct dev {
	struct esf_dev s;               /* s.path: logins.sqlite; s.db unused */
	struct ds_passwords_store *app; /* the app's own handle on logins.sqlite */
	enum ds_direction dir;
};

struct fx {
	struct ds_fake_sync15 *srv;
	struct dev a, b;
};

static int group_setup(void **state)
{
	DS_UNUSED(state);
	return ds_test_port_dir_setup(g_base, sizeof(g_base), "pws");
}

static int group_teardown(void **state)
{
	DS_UNUSED(state);
	ds_test_port_dir_teardown(g_base);
	return 0;
}

/* The device's sync side: a metadata store and a collection over its logins.sqlite. A new
 * metadata store is a device signed in afresh (no cursor, no remote state). */
static void dev_connect(struct fx *f, struct dev *d)
{
	static const struct ds_sync15_remote_config rc = { .collection = "passwords",
							   .engine_version = 1 };
	const struct ds_policy p = { .direction = d->dir, .conflict = DS_CONFLICT_MERGE,
				     .max_retries = 3 };
	struct ds_passwords_store *s;
	struct ds_engine *e;

	snprintf(d->s.meta, sizeof(d->s.meta), "%s/meta-%u.db", g_base, ++seq);
	assert_int_equal(ds_passwords_logins_open(d->s.path, NULL, NULL, &s), 0);
	assert_int_equal(ds_passwords_engine_new(s, &e), 0);
	esf_dev_connect(&d->s, f->srv, &rc, &p, e);
}

/* Sign-out: the sync state goes, the logins stay. */
static void dev_disconnect(struct dev *d)
{
	esf_dev_disconnect(&d->s);
	if (d->s.meta[0])
		unlink(d->s.meta);
	d->s.meta[0] = '\0';
}

static void dev_open(struct fx *f, struct dev *d, enum ds_direction dir)
{
	memset(d, 0, sizeof(*d));
	d->dir = dir;
	snprintf(d->s.path, sizeof(d->s.path), "%s/logins-%u.sqlite", g_base, ++seq);
	{
		sqlite3 *db;

		/* WAL (kept in the file): one sync per commit, most of the test's time otherwise. */
		assert_int_equal(sqlite3_open(d->s.path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
	}
	assert_int_equal(ds_passwords_logins_open(d->s.path, NULL, NULL, &d->app), 0);
	dev_connect(f, d);
}

static void dev_close(struct dev *d)
{
	dev_disconnect(d);
	ds_passwords_store_close(d->app);
	esf_dev_close(&d->s);
	memset(d, 0, sizeof(*d));
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->srv = ds_fake_sync15_new(KSYNC);
	dev_open(f, &f->a, DS_DIR_TWO_WAY);
	dev_open(f, &f->b, DS_DIR_TWO_WAY);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	dev_close(&f->a);
	dev_close(&f->b);
	ds_fake_sync15_free(f->srv);
	free(f);
	return 0;
}

static void sync_expect(struct dev *d, unsigned long errors)
{
	esf_sync_expect(&d->s, errors);
}

static void sync_ok(struct dev *d)
{
	esf_sync_ok(&d->s);
}

static void save(struct dev *d, const char *guid, const char *origin, const char *user,
		 const char *pass)
{
	struct ds_login l;

	memset(&l, 0, sizeof(l));
	snprintf(l.guid, sizeof(l.guid), "%s", guid);
	l.origin = ds_strdup(origin);
	l.form_action_origin = ds_strdup(origin);
	l.username = ds_strdup(user);
	l.password = ds_strdup(pass);
	assert_int_equal(ds_passwords_login_save(d->app, &l), 0);
	ds_login_clear(&l);
}

static void edit(struct dev *d, const char *guid, const char *user, const char *pass)
{
	struct ds_login l;

	assert_int_equal(ds_passwords_login_load(d->app, guid, &l), 0);
	if (user) {
		ds_free(l.username);
		l.username = ds_strdup(user);
	}
	if (pass) {
		ds_free(l.password);
		l.password = ds_strdup(pass);
		l.time_password_changed++; /* a later change than any before it */
	}
	assert_int_equal(ds_passwords_login_save(d->app, &l), 0);
	ds_login_clear(&l);
}

/* Every login of the device as "guid origin username:password" lines, sorted, decrypted
 * through the app's API. */
static char *logins_text(struct dev *d)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	size_t len = 0;
	char *out = calloc(1, 16384);

	assert_non_null(out);
	assert_int_equal(sqlite3_open(d->s.path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT guid FROM logins ORDER BY origin, guid", -1,
					    &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW && len < 15000) {
		struct ds_login l;

		assert_int_equal(ds_passwords_login_load(d->app, (const char *)sqlite3_column_text(st, 0),
							 &l), 0);
		len += (size_t)snprintf(out + len, 16384 - len, "%s %s %s:%s\n", l.guid, l.origin,
					l.username, l.password);
		ds_login_clear(&l);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void assert_same_logins(struct fx *f)
{
	char *a = logins_text(&f->a), *b = logins_text(&f->b);

	if (strcmp(a, b) != 0)
		fail_msg("devices differ:\nA:\n%sB:\n%s", a, b);
	free(a);
	free(b);
}

/* Another client's record: encrypted under the keys the server holds now. */
static void other_client_put(struct fx *f, const char *id, const char *clear)
{
	esf_other_client_put(f->srv, KSYNC, "passwords", id, clear);
}

/* ---- tests ---------------------------------------------------------------------------------- */

/* Two devices meet: every login on both, desktop's braced ids included, encrypted on the
 * server; a repeat changes nothing. */
static void test_two_devices_converge_on_passwords(void **state)
{
	struct fx *f = *state;
	char *a;
	int64_t ts;

	save(&f->a, BRACE_ID, "https://accounts.example.com", "alice", "hunter2");
	save(&f->a, "aMailAAAAAAA", "https://mail.example.com", "alice", "mail-pass");
	save(&f->b, "bShopBBBBBBB", "https://shop.example.org", "bob", "shop-pass");
	sync_ok(&f->a);
	sync_ok(&f->b);
	sync_ok(&f->a);
	assert_same_logins(f);
	assert_int_equal(ds_fake_sync15_count(f->srv, "passwords"), 3);
	assert_non_null(ds_fake_sync15_payload(f->srv, "passwords", BRACE_ID));
	assert_null(strstr(ds_fake_sync15_payload(f->srv, "passwords", BRACE_ID), "hunter2"));
	a = logins_text(&f->a);
	assert_non_null(strstr(a, "{4f3e2d1c-0b9a-4877-a665-544332211000} https://accounts.example.com"
				  " alice:hunter2\n"));
	free(a);
	ts = ds_fake_sync15_coll_ts(f->srv, "passwords");
	sync_ok(&f->b);
	sync_ok(&f->a);
	assert_true(ds_fake_sync15_coll_ts(f->srv, "passwords") == ts);
	/* A deletion on one device reaches the other as a tombstone. */
	assert_int_equal(ds_passwords_login_delete(f->b.app, BRACE_ID), 0);
	sync_ok(&f->b);
	sync_ok(&f->a);
	assert_same_logins(f);
	assert_int_equal(count_lines(a = logins_text(&f->a)), 2);
	free(a);
}

/* Both devices changed one login: A its username, B its password; each change survives. */
static void test_field_level_merge_between_devices(void **state)
{
	struct fx *f = *state;
	char *a;

	save(&f->a, "mergeXXXXXXX", "https://a.example", "alice", "v1");
	sync_ok(&f->a);
	sync_ok(&f->b);
	edit(&f->a, "mergeXXXXXXX", "alice@example.com", NULL);
	edit(&f->b, "mergeXXXXXXX", NULL, "v2-from-b");
	sync_ok(&f->b);
	sync_ok(&f->a);
	sync_ok(&f->b);
	assert_same_logins(f);
	a = logins_text(&f->a);
	assert_non_null(strstr(a, "mergeXXXXXXX https://a.example alice@example.com:v2-from-b\n"));
	free(a);
}

/*
 * U4 (sync15.md §11; AS#2213, #2044): signing out and in again keeps every local password and
 * downloads every remote one, without duplicates. While A was signed out, it saved a login that
 * B also saved (under another guid) and changed a password; another client wrote an invalid
 * record, which is skipped, not fatal.
 */
static void test_u4_sign_out_sign_in_keeps_every_password(void **state)
{
	struct fx *f = *state;
	char *a, *b;

	save(&f->a, "a1AAAAAAAAAA", "https://one.example", "alice", "one");
	save(&f->a, "a2AAAAAAAAAA", "https://two.example", "alice", "two");
	save(&f->b, "b1BBBBBBBBBB", "https://three.example", "bob", "three");
	sync_ok(&f->a);
	sync_ok(&f->b);
	sync_ok(&f->a);

	dev_disconnect(&f->a);
	edit(&f->a, "a2AAAAAAAAAA", NULL, "two-changed-while-signed-out");
	save(&f->a, "aNewAAAAAAAA", "https://both.example", "carol", "same");
	save(&f->b, "bNewBBBBBBBB", "https://both.example", "carol", "same");
	save(&f->b, "b2BBBBBBBBBB", "https://four.example", "bob", "four");
	sync_ok(&f->b);
	other_client_put(f, "invalidXXXXX", "{\"id\":\"invalidXXXXX\",\"hostname\":"
			 "\"https://bad.example\",\"formSubmitURL\":\"\",\"password\":\"\"}");

	dev_connect(f, &f->a);
	sync_expect(&f->a, 1);
	sync_expect(&f->b, 1);
	a = logins_text(&f->a);
	b = logins_text(&f->b);
	if (strcmp(a, b) != 0)
		fail_msg("devices differ:\nA:\n%sB:\n%s", a, b);
	assert_int_equal(count_lines(a), 5);
	assert_non_null(strstr(a, "a1AAAAAAAAAA https://one.example alice:one\n"));
	assert_non_null(strstr(a, "a2AAAAAAAAAA https://two.example alice:two-changed-while-signed-out\n"));
	assert_non_null(strstr(a, "b1BBBBBBBBBB https://three.example bob:three\n"));
	assert_non_null(strstr(a, "b2BBBBBBBBBB https://four.example bob:four\n"));
	/* The login both saved is one, under the guid the server had first. */
	assert_non_null(strstr(a, "bNewBBBBBBBB https://both.example carol:same\n"));
	assert_null(strstr(a, "aNewAAAAAAAA"));
	assert_null(strstr(a, "bad.example"));
	free(a);
	free(b);
	assert_int_equal(ds_fake_sync15_count(f->srv, "passwords"), 6); /* 5 + the invalid one */

	/* Signing in again once more (the state reset through the core) changes nothing. */
	assert_int_equal(ds_sync_reset(f->a.s.c, f->a.s.store), 0);
	sync_expect(&f->a, 1);
	a = logins_text(&f->a);
	assert_int_equal(count_lines(a), 5);
	free(a);
}

/* An import-only device takes the server's logins and never uploads its own. */
static void test_import_only_never_uploads(void **state)
{
	struct fx *f = *state;
	struct dev c;
	char *t;

	save(&f->a, "impAAAAAAAAA", "https://a.example", "alice", "pa");
	sync_ok(&f->a);
	dev_open(f, &c, DS_DIR_IMPORT_ONLY);
	save(&c, "impCCCCCCCCC", "https://c.example", "carol", "pc");
	sync_ok(&c);
	t = logins_text(&c);
	assert_non_null(strstr(t, "impAAAAAAAAA https://a.example alice:pa\n"));
	assert_non_null(strstr(t, "impCCCCCCCCC https://c.example carol:pc\n"));
	free(t);
	assert_int_equal(ds_fake_sync15_count(f->srv, "passwords"), 1);
	assert_null(ds_fake_sync15_payload(f->srv, "passwords", "impCCCCCCCCC"));
	dev_close(&c);
}

/* Removing every login on one device deletes nothing elsewhere, and the device gets them back. */
static void test_cleared_store_reimported_not_deleted_elsewhere(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;
	char *a;
	int64_t ts;

	save(&f->a, "clrAAAAAAAAA", "https://a.example", "alice", "pa");
	save(&f->b, "clrBBBBBBBBB", "https://b.example", "bob", "pb");
	sync_ok(&f->a);
	sync_ok(&f->b);
	sync_ok(&f->a);
	ts = ds_fake_sync15_coll_ts(f->srv, "passwords");
	assert_int_equal(sqlite3_open(f->a.s.path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM logins", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	sync_ok(&f->a);
	sync_ok(&f->b);
	assert_true(ds_fake_sync15_coll_ts(f->srv, "passwords") == ts); /* nothing was written */
	assert_same_logins(f);
	a = logins_text(&f->a);
	assert_int_equal(count_lines(a), 2);
	free(a);
}

static int64_t q(struct dev *d, const char *sql)
{
	sqlite3 *db;
	int64_t v;

	assert_int_equal(sqlite3_open(d->s.path, &db), SQLITE_OK);
	v = ffx_sql_int(db, sql);
	sqlite3_close(db);
	return v;
}

/* wipeEngine passwords (desktop: Services.logins.removeAllLogins): the device's logins and
 * pending edits go without a deletion going up; the next sync brings the server's back. */
static void test_wipe_removes_local_logins_and_sync_brings_them_back(void **state)
{
	struct fx *f = *state;
	struct ds_engine *e = f->a.s.c->engine;
	char *before, *after;
	int64_t ts;

	save(&f->a, "{wipe-0001}", "https://one.example", "ann", "pw1");
	save(&f->a, "{wipe-0002}", "https://two.example", "bob", "pw2");
	sync_ok(&f->a);
	ts = ds_fake_sync15_coll_ts(f->srv, "passwords");
	before = logins_text(&f->a);
	save(&f->a, "{wipe-0003}", "https://three.example", "cy", "pw3");
	edit(&f->a, "{wipe-0001}", NULL, "changed");
	assert_int_equal(q(&f->a, "SELECT count(*) FROM datasync_changes"), 2);
	assert_non_null(e->ops->wipe);
	assert_int_equal(e->ops->begin(e), 0);
	assert_int_equal(e->ops->wipe(e), 0);
	assert_int_equal(e->ops->commit(e), 0);
	assert_int_equal(ds_sync_reset(f->a.s.c, f->a.s.store), 0);
	assert_int_equal(q(&f->a, "SELECT count(*) FROM logins"), 0);
	assert_int_equal(q(&f->a, "SELECT count(*) FROM datasync_changes"), 0);
	assert_int_equal(q(&f->a, "SELECT count(*) FROM datasync_logins_shared"), 0);
	sync_ok(&f->a);
	assert_true(ds_fake_sync15_coll_ts(f->srv, "passwords") == ts); /* nothing went up */
	after = logins_text(&f->a);
	assert_string_equal(after, before);
	assert_int_equal(count_lines(after), 2);
	assert_int_equal(q(&f->a, "SELECT count(*) FROM datasync_changes"), 0);
	free(before);
	free(after);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_two_devices_converge_on_passwords),
		T(test_field_level_merge_between_devices),
		T(test_u4_sign_out_sign_in_keeps_every_password),
		T(test_import_only_never_uploads),
		T(test_cleared_store_reimported_not_deleted_elsewhere),
		T(test_wipe_removes_local_logins_and_sync_brings_them_back),
#undef T
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
