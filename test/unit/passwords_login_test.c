/*
 * Logins as records (component/engine/passwords/passwords_login.c): the validation and fix-up
 * table of test/data/passwords/fixups.json (AS login.rs), origins, and the field-level merge
 * cases (AS sync/merge.rs).
 */
#include "core/ds_core.h"
#include "engine/passwords/ds_passwords.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test/support/engine_sync_fixture.h"

static char *read_data(const char *name)
{
	return esf_read_data("passwords", name);
}

static void test_origins_normalised_as_as_does(void **state)
{
	char *text = read_data("fixups.json");
	cJSON *doc = cJSON_Parse(text), *v;
	int n = 0;

	DS_UNUSED(state);
	assert_non_null(doc);
	cJSON_ArrayForEach(v, cJSON_GetObjectItem(doc, "origins")) {
		const char *in = cJSON_GetArrayItem(v, 0)->valuestring;
		const cJSON *want = cJSON_GetArrayItem(v, 1);
		char *out = NULL;
		int rc = ds_passwords_origin_normalize(in, &out);

		if (cJSON_IsNull(want)) {
			if (rc != -EBADMSG)
				fail_msg("origin '%s': expected refusal, got %d '%s'", in, rc, out ? out : "");
		} else {
			if (rc != 0 || strcmp(out, want->valuestring) != 0)
				fail_msg("origin '%s': expected '%s', got %d '%s'", in, want->valuestring, rc,
					 out ? out : "");
		}
		ds_free(out);
		n++;
	}
	assert_true(n >= 20);
	cJSON_Delete(doc);
	free(text);
	/* Host bytes that are not UTF-8 cannot be written in ASCII form. */
	{
		char *out = NULL;

		assert_int_equal(ds_passwords_origin_normalize("https://a\xff.example", &out), -EBADMSG);
		assert_int_equal(ds_passwords_origin_normalize("https://a\xc3.example", &out), -EBADMSG);
		assert_int_equal(ds_passwords_origin_normalize("https://\xed\xa0\x80.example", &out),
				 -EBADMSG);
		assert_null(out);
	}
}

static void test_validation_and_fixup_table(void **state)
{
	char *text = read_data("fixups.json");
	cJSON *doc = cJSON_Parse(text), *v;
	int n = 0, refused = 0;

	DS_UNUSED(state);
	assert_non_null(doc);
	cJSON_ArrayForEach(v, cJSON_GetObjectItem(doc, "logins")) {
		const char *name = cJSON_GetObjectItem(v, "name")->valuestring;
		const cJSON *in = cJSON_GetObjectItem(v, "in");
		const cJSON *want = cJSON_GetObjectItem(v, "out");
		/* "in" as a string: the payload's raw text (JSON escapes cJSON cannot print back). */
		bool raw = cJSON_IsString(in);
		char *payload = raw ? in->valuestring : cJSON_PrintUnformatted(in), *out = NULL;
		const cJSON *id = cJSON_GetObjectItem(raw ? v : in, "id");
		struct ds_login l;
		int rc = ds_passwords_login_decode(id->valuestring, payload, &l);

		if (rc == 0)
			rc = ds_passwords_login_fixup(&l);
		if (cJSON_IsNull(want)) {
			if (rc != -EBADMSG)
				fail_msg("%s: expected -EBADMSG, got %d", name, rc);
			refused++;
		} else {
			cJSON *got;

			if (rc != 0)
				fail_msg("%s: refused (%d)", name, rc);
			assert_int_equal(ds_passwords_login_encode(&l, &out), 0);
			got = cJSON_Parse(out);
			if (!cJSON_Compare(got, want, 1)) {
				char *w = cJSON_PrintUnformatted(want);

				fail_msg("%s:\n got  %s\n want %s", name, out, w);
			}
			cJSON_Delete(got);
		}
		ds_login_clear(&l);
		ds_free(out);
		if (!raw)
			cJSON_free(payload);
		n++;
	}
	assert_true(n >= 20);
	assert_true(refused >= 10);
	cJSON_Delete(doc);
	free(text);
}

static void test_decode_refuses_what_is_not_a_record(void **state)
{
	struct ds_login l;
	char id[80];

	DS_UNUSED(state);
	assert_int_equal(ds_passwords_login_decode("x", "not json", &l), -EBADMSG);
	assert_int_equal(ds_passwords_login_decode("x", "[1,2]", &l), -EBADMSG);
	assert_int_equal(ds_passwords_login_decode("x", NULL, &l), -EBADMSG);
	assert_int_equal(ds_passwords_login_decode("", "{}", &l), -EBADMSG);
	memset(id, 'a', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	assert_int_equal(ds_passwords_login_decode(id, "{}", &l), -EBADMSG);
	/* An escaped backslash before "u0000" is not a NUL. */
	assert_int_equal(ds_passwords_login_decode("x", "{\"password\":\"a\\\\u0000\"}", &l), 0);
	assert_string_equal(l.password, "a\\u0000");
	ds_login_clear(&l);
}

/* ---- merge ----------------------------------------------------------------------------------- */

static void mk(struct ds_login *l, const char *user, const char *pass, int64_t tpc, int64_t used,
	       int64_t last)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->guid, sizeof(l->guid), "mergeAAAAAAA");
	l->origin = ds_strdup("https://a.example");
	l->form_action_origin = ds_strdup("https://a.example");
	l->username_field = ds_strdup("user");
	l->password_field = ds_strdup("pass");
	l->username = ds_strdup(user);
	l->password = ds_strdup(pass);
	l->time_created = 1000;
	l->time_password_changed = tpc;
	l->times_used = used;
	l->time_last_used = last;
	assert_non_null(l->password);
}

static void set_str(char **f, const char *v)
{
	ds_free(*f);
	*f = v ? ds_strdup(v) : NULL;
}

/* Each side changed another field: both changes are kept, uses add up, the later use wins. */
static void test_merge_takes_each_field_from_the_side_that_changed_it(void **state)
{
	struct ds_login base, lo, re, m;

	DS_UNUSED(state);
	mk(&base, "alice", "old", 2000, 5, 3000);
	mk(&lo, "alice", "newpass", 4000, 7, 5000);     /* local: password, 2 uses */
	mk(&re, "alice@example.com", "old", 2000, 6, 4500); /* remote: username, 1 use */
	set_str(&re.username_field, "email");
	assert_int_equal(ds_passwords_login_merge(&lo, &re, &base, true, &m), 0);
	assert_string_equal(m.username, "alice@example.com");
	assert_string_equal(m.username_field, "email");
	assert_string_equal(m.password, "newpass");
	assert_int_equal(m.time_password_changed, 4000);
	assert_int_equal(m.times_used, 8); /* 5 + 2 + 1 */
	assert_int_equal(m.time_last_used, 5000);
	ds_login_clear(&m);
	/* The same whichever side is newer: no field changed on both. */
	assert_int_equal(ds_passwords_login_merge(&lo, &re, &base, false, &m), 0);
	assert_string_equal(m.username, "alice@example.com");
	assert_string_equal(m.password, "newpass");
	ds_login_clear(&m);
	ds_login_clear(&base);
	ds_login_clear(&lo);
	ds_login_clear(&re);
}

/* Both changed the password: the later password change wins, even against the newer record. */
static void test_merge_password_by_time_password_changed(void **state)
{
	struct ds_login base, lo, re, m;

	DS_UNUSED(state);
	mk(&base, "alice", "old", 2000, 1, 0);
	mk(&lo, "alice", "local-later", 9000, 1, 0);
	mk(&re, "alice", "remote-earlier", 8000, 1, 0);
	assert_int_equal(ds_passwords_login_merge(&lo, &re, &base, true, &m), 0);
	assert_string_equal(m.password, "local-later");
	assert_int_equal(m.time_password_changed, 9000);
	ds_login_clear(&m);
	lo.time_password_changed = 7000;
	assert_int_equal(ds_passwords_login_merge(&lo, &re, &base, false, &m), 0);
	assert_string_equal(m.password, "remote-earlier");
	ds_login_clear(&m);
	ds_login_clear(&base);
	ds_login_clear(&lo);
	ds_login_clear(&re);
}

/* Both changed the same other field: the newer side's value; the target moves as one field. */
static void test_merge_same_field_both_sides_newer_wins(void **state)
{
	struct ds_login base, lo, re, m;

	DS_UNUSED(state);
	mk(&base, "alice", "p", 1, 0, 0);
	mk(&lo, "alice-local", "p", 1, 0, 0);
	mk(&re, "alice-remote", "p", 1, 0, 0);
	set_str(&re.form_action_origin, NULL);
	set_str(&re.http_realm, "realm");
	assert_int_equal(ds_passwords_login_merge(&lo, &re, &base, true, &m), 0);
	assert_string_equal(m.username, "alice-remote");
	assert_null(m.form_action_origin);
	assert_string_equal(m.http_realm, "realm");
	ds_login_clear(&m);
	assert_int_equal(ds_passwords_login_merge(&lo, &re, &base, false, &m), 0);
	assert_string_equal(m.username, "alice-local");
	/* Only the remote changed the target: it is taken even though the local side is newer. */
	assert_null(m.form_action_origin);
	assert_string_equal(m.http_realm, "realm");
	ds_login_clear(&m);
	ds_login_clear(&base);
	ds_login_clear(&lo);
	ds_login_clear(&re);
}

/* No shared version: differing fields from the newer side, the password by its change time, the
 * larger use count (the two may count the same uses), earliest creation. */
static void test_merge_without_base(void **state)
{
	struct ds_login lo, re, m;

	DS_UNUSED(state);
	mk(&lo, "alice", "local-newer-pw", 5000, 4, 100);
	mk(&re, "alice2", "remote-pw", 3000, 9, 50);
	lo.time_created = 700;
	re.time_created = 0;
	assert_int_equal(ds_passwords_login_merge(&lo, &re, NULL, true, &m), 0);
	assert_string_equal(m.username, "alice2");
	assert_string_equal(m.password, "local-newer-pw");
	assert_int_equal(m.times_used, 9);
	assert_int_equal(m.time_last_used, 100);
	assert_int_equal(m.time_created, 700);
	assert_int_equal(m.time_password_changed, 5000);
	assert_string_equal(m.guid, "mergeAAAAAAA");
	ds_login_clear(&m);
	ds_login_clear(&lo);
	ds_login_clear(&re);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_origins_normalised_as_as_does),
		cmocka_unit_test(test_validation_and_fixup_table),
		cmocka_unit_test(test_decode_refuses_what_is_not_a_record),
		cmocka_unit_test(test_merge_takes_each_field_from_the_side_that_changed_it),
		cmocka_unit_test(test_merge_password_by_time_password_changed),
		cmocka_unit_test(test_merge_same_field_both_sides_newer_wins),
		cmocka_unit_test(test_merge_without_base),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
