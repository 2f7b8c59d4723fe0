/*
 * Tab records (docs/engine-tabs.md): the upload rules of application-services tabs
 * (AS components/tabs/src/sync/storage.rs) and the reading of other devices' records.
 */
#include "core/ds_core.h"
#include "engine/tabs/ds_tabs.h"
#include "remote/sync15/ds_sync15.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cJSON *norm(const char *json)
{
	cJSON *in = cJSON_Parse(json), *out = NULL;
	char why[200];

	assert_non_null(in);
	assert_int_equal(ds_tabs_normalize(in, &out, why, sizeof(why)), 0);
	cJSON_Delete(in);
	return out;
}

static const char *str_at(const cJSON *arr, int i, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, i), key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* AS is_url_syncable: local schemes and URLs over 65536 bytes never leave the device. */
static void test_local_schemes_dropped(void **state)
{
	static const char *const BAD[] = { "about:blank", "resource://x", "chrome://y", "wyciwyg://z",
					   "blob:https://a/b", "file:///etc", "moz-extension://q/r",
					   "data:text/plain,x", "ABOUT:config", NULL };
	char *big = malloc(DS_TABS_URL_MAX + 16);

	(void)state;
	for (size_t i = 0; BAD[i]; i++)
		assert_false(ds_tabs_url_syncable(BAD[i]));
	assert_true(ds_tabs_url_syncable("https://example.com/"));
	assert_non_null(big);
	strcpy(big, "https://e.com/");
	memset(big + 14, 'a', DS_TABS_URL_MAX - 14);
	big[DS_TABS_URL_MAX] = '\0';
	assert_true(ds_tabs_url_syncable(big)); /* exactly the limit */
	big[DS_TABS_URL_MAX] = 'a';
	big[DS_TABS_URL_MAX + 1] = '\0';
	assert_false(ds_tabs_url_syncable(big));
	free(big);

	cJSON *t = norm("[{\"title\":\"a\",\"urlHistory\":[\"about:newtab\",\"https://x/\"],\"lastUsed\":1},"
			"{\"title\":\"b\",\"urlHistory\":[\"https://b/\",\"file:///x\",\"https://c/\"],\"lastUsed\":2},"
			"{\"title\":\"c\",\"url\":\"data:,x\"}]");
	assert_int_equal(cJSON_GetArraySize(t), 1); /* a tab is judged by its current URL */
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(t, 0), "urlHistory");
	assert_int_equal(cJSON_GetArraySize(h), 2);
	assert_string_equal(cJSON_GetArrayItem(h, 1)->valuestring, "https://c/");
	cJSON_Delete(t);
}

/* TAB_ENTRIES_LIMIT: at most 5 history entries, the current one first. */
static void test_history_capped(void **state)
{
	(void)state;
	cJSON *t = norm("[{\"title\":\"t\",\"urlHistory\":[\"https://1/\",\"https://2/\",\"https://3/\","
			"\"https://4/\",\"https://5/\",\"https://6/\",\"https://7/\"]}]");
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(t, 0), "urlHistory");

	assert_int_equal(cJSON_GetArraySize(h), DS_TABS_HISTORY_MAX);
	assert_string_equal(cJSON_GetArrayItem(h, 0)->valuestring, "https://1/");
	assert_string_equal(cJSON_GetArrayItem(h, 4)->valuestring, "https://5/");
	cJSON_Delete(t);
}

/* AS slice_up_to: 512 bytes at most, cut on a character boundary, ending in U+2026. */
static void test_title_cut_utf8(void **state)
{
	char title[1200], json[1400];
	size_t n = 0;

	(void)state;
	title[n++] = 'x'; /* shift the 2-byte characters so that byte 509 is inside one */
	while (n < 1100) {
		title[n++] = '\xc3';
		title[n++] = '\xa9'; /* é */
	}
	title[n] = '\0';
	snprintf(json, sizeof(json), "[{\"title\":\"%s\",\"url\":\"https://e/\"}]", title);
	cJSON *t = norm(json);
	const char *cut = str_at(t, 0, "title");
	size_t len = strlen(cut);

	assert_true(len <= DS_TABS_TITLE_MAX);
	assert_memory_equal(cut + len - 3, "\xe2\x80\xa6", 3);
	/* Everything before the ellipsis is whole characters: 'x' then complete é pairs. */
	assert_int_equal((len - 3 - 1) % 2, 0);
	assert_memory_equal(cut, title, len - 3);
	cJSON_Delete(t);

	t = norm("[{\"title\":\"short\",\"url\":\"https://e/\"}]");
	assert_string_equal(str_at(t, 0, "title"), "short");
	cJSON_Delete(t);
}

/* Old clients send lastUsed as a float or a string (sync15.md §8); newest first. */
static void test_last_used_and_order(void **state)
{
	(void)state;
	cJSON *t = norm("[{\"title\":\"old\",\"url\":\"https://o/\",\"lastUsed\":\"1500000000\"},"
			"{\"title\":\"new\",\"url\":\"https://n/\",\"lastUsed\":1600000000.75,\"pinned\":true},"
			"{\"title\":\"none\",\"url\":\"https://z/\",\"lastUsed\":\"soon\",\"inactive\":false}]");

	assert_string_equal(str_at(t, 0, "title"), "new");
	assert_string_equal(str_at(t, 1, "title"), "old");
	assert_string_equal(str_at(t, 2, "title"), "none");
	assert_int_equal((int64_t)cJSON_GetObjectItem(cJSON_GetArrayItem(t, 0), "lastUsed")->valuedouble, 1600000000);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(t, 0), "pinned")));
	assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(t, 1), "pinned"));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetArrayItem(t, 2), "inactive")));
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(t, 2), "lastUsed")->valuedouble, 0);
	cJSON_Delete(t);
}

static void test_bad_input_refused(void **state)
{
	static const char *const BAD[] = { "{}", "\"x\"", "[1]", "[{\"urlHistory\":\"https://x/\"}]",
					   "[{\"title\":3,\"url\":\"https://x/\"}]", NULL };
	char why[200];

	(void)state;
	for (size_t i = 0; BAD[i]; i++) {
		cJSON *in = cJSON_Parse(BAD[i]), *out = (cJSON *)1;

		why[0] = '\0';
		assert_int_equal(ds_tabs_normalize(in, &out, why, sizeof(why)), -EINVAL);
		assert_null(out);
		assert_true(why[0] != '\0');
		cJSON_Delete(in);
	}
}

/* U7 (AS#4986, fenix#15787): 5,000 tabs still upload, trimmed to the newest that fit the
 * server's payload limit once encrypted. */
static void test_u7_5000_tabs_fit(void **state)
{
	static const uint8_t IV[16] = { 1 };
	struct ds_sync15_keybundle kb;
	cJSON *in = cJSON_CreateArray(), *tabs = NULL;
	char *rec = NULL, *payload = NULL, why[100];
	size_t kept = 0;

	(void)state;
	memset(&kb, 7, sizeof(kb));
	for (int i = 0; i < 5000; i++) {
		char url[128], title[128];
		cJSON *t = cJSON_CreateObject(), *h = cJSON_AddArrayToObject(t, "urlHistory");

		snprintf(url, sizeof(url), "https://example.com/article/%d?utm=abcdefghijklmnop", i);
		snprintf(title, sizeof(title), "An article about the number %d, with a longish title", i);
		cJSON_AddItemToArray(h, cJSON_CreateString(url));
		cJSON_AddStringToObject(t, "title", title);
		cJSON_AddStringToObject(t, "icon", "https://example.com/favicon.ico");
		cJSON_AddNumberToObject(t, "lastUsed", 1700000000 + i);
		cJSON_AddItemToArray(in, t);
	}
	assert_int_equal(ds_tabs_normalize(in, &tabs, why, sizeof(why)), 0);
	assert_int_equal(cJSON_GetArraySize(tabs), 5000);
	assert_int_equal(ds_tabs_record_build("dev-1", "TV", tabs,
					      ds_tabs_cleartext_budget(DS_TABS_MAX_PAYLOAD_DEFAULT), &rec, &kept), 0);
	assert_true(kept > 100 && kept < 5000);
	assert_int_equal(ds_sync15_encrypt(&kb, rec, strlen(rec), IV, &payload), 0);
	assert_true(strlen(payload) <= DS_TABS_MAX_PAYLOAD_DEFAULT);

	/* The kept ones are the newest, and the record reads back. */
	cJSON *back = cJSON_Parse(rec);
	const cJSON *bt = cJSON_GetObjectItem(back, "tabs");
	assert_int_equal((size_t)cJSON_GetArraySize(bt), kept);
	assert_int_equal((int)cJSON_GetObjectItem(cJSON_GetArrayItem(bt, 0), "lastUsed")->valuedouble, 1700004999);
	assert_string_equal(cJSON_GetObjectItem(back, "id")->valuestring, "dev-1");
	cJSON_Delete(back);
	ds_free(rec);
	ds_free(payload);

	/* A server with a 2 MB limit takes them all. */
	assert_int_equal(ds_tabs_record_build("dev-1", "TV", tabs, ds_tabs_cleartext_budget(2u << 20), &rec, &kept), 0);
	assert_int_equal(kept, 5000);
	ds_free(rec);
	cJSON_Delete(tabs);
	cJSON_Delete(in);
}

static void test_parse_other_device(void **state)
{
	cJSON *o = NULL;
	const cJSON *t;

	(void)state;
	assert_int_equal(ds_tabs_record_parse("{\"id\":\"x\",\"clientName\":\"Laptop\",\"tabs\":["
					      "{\"title\":\"A\",\"urlHistory\":[\"https://a/\",\"https://b/\"],"
					      "\"icon\":null,\"lastUsed\":\"1400000000\"},"
					      "{\"title\":\"B\",\"urlHistory\":[],\"lastUsed\":1400000001.5,\"extra\":1},"
					      "7]}", &o), 0);
	assert_string_equal(cJSON_GetObjectItem(o, "clientName")->valuestring, "Laptop");
	t = cJSON_GetObjectItem(o, "tabs");
	assert_int_equal(cJSON_GetArraySize(t), 2);
	assert_string_equal(str_at(t, 0, "url"), "https://a/");
	assert_int_equal((int64_t)cJSON_GetObjectItem(cJSON_GetArrayItem(t, 0), "lastUsed")->valuedouble, 1400000000);
	assert_int_equal((int64_t)cJSON_GetObjectItem(cJSON_GetArrayItem(t, 1), "lastUsed")->valuedouble, 1400000001);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(t, 1), "url")));
	cJSON_Delete(o);

	assert_int_equal(ds_tabs_record_parse("{\"id\":\"x\"}", &o), -EBADMSG);
	assert_int_equal(ds_tabs_record_parse("[]", &o), -EBADMSG);
	assert_int_equal(ds_tabs_record_parse("{\"tabs\":{}}", &o), -EBADMSG);
	assert_int_equal(ds_tabs_record_parse(NULL, &o), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local_schemes_dropped),
		cmocka_unit_test(test_history_capped),
		cmocka_unit_test(test_title_cut_utf8),
		cmocka_unit_test(test_last_used_and_order),
		cmocka_unit_test(test_bad_input_refused),
		cmocka_unit_test(test_u7_5000_tabs_fit),
		cmocka_unit_test(test_parse_other_device),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
