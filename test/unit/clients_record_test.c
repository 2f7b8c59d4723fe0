/*
 * Client records and commands (docs/engine-clients.md; sync15.md §7, AT-16): types, our own
 * record, command classification and the stale-client rule of desktop's clients engine.
 */
#include "core/ds_core.h"
#include "engine/clients/ds_clients.h"
#include "remote/sync15/ds_sync15.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

/* AS device_type.rs: "phone" is mobile, unknown types are null. */
static void test_types(void **state)
{
	(void)state;
	assert_string_equal(ds_clients_type("phone"), "mobile");
	assert_string_equal(ds_clients_type("tv"), "tv");
	assert_string_equal(ds_clients_type("desktop"), "desktop");
	assert_string_equal(ds_clients_type("vr"), "vr");
	assert_null(ds_clients_type("fridge"));
	assert_null(ds_clients_type(NULL));
}

static void test_parse(void **state)
{
	cJSON *o = NULL;

	(void)state;
	assert_int_equal(ds_clients_record_parse("{\"id\":\"abc\",\"name\":\"Pixel\",\"type\":\"phone\","
						 "\"fxaDeviceId\":\"f1\",\"os\":\"Android\",\"commands\":[]}", &o), 0);
	assert_string_equal(cJSON_GetObjectItem(o, "type")->valuestring, "mobile");
	assert_string_equal(cJSON_GetObjectItem(o, "name")->valuestring, "Pixel");
	assert_string_equal(cJSON_GetObjectItem(o, "os")->valuestring, "Android");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "application")));
	cJSON_Delete(o);
	assert_int_equal(ds_clients_record_parse("{\"id\":\"abc\",\"type\":\"toaster\"}", &o), 0);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "type")));
	assert_string_equal(cJSON_GetObjectItem(o, "name")->valuestring, "");
	cJSON_Delete(o);
	assert_int_equal(ds_clients_record_parse("{\"name\":\"x\"}", &o), -EBADMSG);
	assert_int_equal(ds_clients_record_parse("{\"id\":\"a\",\"name\":5}", &o), -EBADMSG);
	assert_int_equal(ds_clients_record_parse("nope", &o), -EBADMSG);
}

/* AT-16: our record's id is the FxA device id, type "tv", protocols ["1.5"], fxaDeviceId. */
static void test_own_record(void **state)
{
	struct ds_sync15_device d = { .id = "4c352927cd4c4c8ba1b8a4e8de3c0c91", .name = "Living room", .type = "tv" };
	cJSON *cmds = cJSON_Parse("[{\"command\":\"frobnicate\",\"args\":[]}]");
	char *text = NULL;

	(void)state;
	assert_int_equal(ds_clients_own_record(&d, cmds, &text), 0);
	cJSON *o = cJSON_Parse(text);
	assert_string_equal(cJSON_GetObjectItem(o, "id")->valuestring, d.id);
	assert_string_equal(cJSON_GetObjectItem(o, "fxaDeviceId")->valuestring, d.id);
	assert_string_equal(cJSON_GetObjectItem(o, "type")->valuestring, "tv");
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "protocols"), 0)->valuestring, "1.5");
	assert_true(cJSON_Compare(cJSON_GetObjectItem(o, "commands"), cmds, 1));
	cJSON_Delete(o);
	ds_free(text);
	assert_int_equal(ds_clients_own_record(&d, NULL, &text), 0);
	o = cJSON_Parse(text);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "commands")), 0);
	cJSON_Delete(o);
	ds_free(text);
	cJSON_Delete(cmds);
	assert_int_equal(DS_SYNC15_CLIENT_TTL_S, 15552000L);
}

static enum ds_clients_cmd kind(const char *json)
{
	cJSON *c = cJSON_Parse(json);
	enum ds_clients_cmd k = ds_clients_command_kind(c);

	cJSON_Delete(c);
	return k;
}

static void test_command_kinds(void **state)
{
	(void)state;
	assert_int_equal(kind("{\"command\":\"wipeEngine\",\"args\":[\"history\"]}"), DS_CLIENTS_CMD_WIPE_ENGINE);
	assert_int_equal(kind("{\"command\":\"resetEngine\",\"args\":[\"tabs\"],\"flowID\":\"f\"}"),
			 DS_CLIENTS_CMD_RESET_ENGINE);
	assert_int_equal(kind("{\"command\":\"resetAll\",\"args\":[]}"), DS_CLIENTS_CMD_RESET_ALL);
	assert_int_equal(kind("{\"command\":\"resetAll\"}"), DS_CLIENTS_CMD_RESET_ALL);
	assert_int_equal(kind("{\"command\":\"logout\",\"args\":[]}"), DS_CLIENTS_CMD_LOGOUT);
	assert_int_equal(kind("{\"command\":\"displayURI\",\"args\":[\"https://x/\",\"s\",\"T\"]}"),
			 DS_CLIENTS_CMD_DISPLAY_URI);
	/* Arguments that do not fit: kept as unknown, never misapplied. */
	assert_int_equal(kind("{\"command\":\"wipeEngine\",\"args\":[]}"), DS_CLIENTS_CMD_UNKNOWN);
	assert_int_equal(kind("{\"command\":\"wipeEngine\",\"args\":[null]}"), DS_CLIENTS_CMD_UNKNOWN);
	assert_int_equal(kind("{\"command\":\"resetEngine\",\"args\":\"tabs\"}"), DS_CLIENTS_CMD_UNKNOWN);
	assert_int_equal(kind("{\"command\":\"displayURI\",\"args\":[]}"), DS_CLIENTS_CMD_UNKNOWN);
	assert_int_equal(kind("{\"command\":\"wipeAll\",\"args\":[]}"), DS_CLIENTS_CMD_UNKNOWN);
	assert_int_equal(kind("{\"command\":7}"), DS_CLIENTS_CMD_UNKNOWN);
	assert_int_equal(kind("[]"), DS_CLIENTS_CMD_UNKNOWN);
}

#define DAY (24LL * 3600 * 1000)

/* DESK _processIncoming: duplicate fxaDeviceId -> only the newest; the same name as a newer
 * client (or this device) and older than a week -> hidden. */
static void test_stale(void **state)
{
	const char *ids[] = { "a", "b", "c", "d", "e", "f" };
	const char *names[] = { "Laptop", "Laptop", "Phone", "Phone", "TV", "Tablet" };
	const char *fxa[] = { "x1", "x2", "p", "p", NULL, NULL };
	int64_t now = 100 * DAY;
	int64_t mod[] = { now - 30 * DAY, now - DAY, now - 2 * DAY, now - DAY, now - 8 * DAY, now - 8 * DAY };
	bool hidden[6];

	(void)state;
	ds_clients_stale(6, ids, names, fxa, mod, "TV", now, hidden);
	assert_true(hidden[0]);  /* same name as the newer b, a month old */
	assert_false(hidden[1]);
	assert_true(hidden[2]);  /* same fxaDeviceId as the newer d, whatever its age */
	assert_false(hidden[3]);
	assert_true(hidden[4]);  /* this device's name, over a week old: an old install */
	assert_false(hidden[5]); /* old but unique */

	/* Same name but recent: both shown (two devices may share a name). */
	mod[0] = now - 3 * DAY;
	ds_clients_stale(2, ids, names, fxa, mod, NULL, now, hidden);
	assert_false(hidden[0]);
	assert_false(hidden[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_own_record),
		cmocka_unit_test(test_command_kinds),
		cmocka_unit_test(test_stale),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
