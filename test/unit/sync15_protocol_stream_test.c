/*
 * The streamed GET answer's splitter (remote/sync15/bso_stream.c): a JSON array of BSOs cut in
 * pieces anywhere gives the same objects as cJSON's parse of the whole text; strings holding
 * braces, brackets, quotes and backslashes do not confuse it; broken frames are -EPROTO; an
 * object over the bound is -EMSGSIZE without the buffer ever growing past the bound.
 */
#include "core/ds_core.h"
#include "remote/sync15/ds_sync15.h"
#include "remote/sync15/ds_sync15_stream.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct got {
	cJSON *objs; /* the objects handed out, re-parsed, in order */
	size_t n;
	size_t max_len;
	int fail_at; /* 1-based object whose callback fails, 0: none */
};

static int collect(const char *json, size_t len, void *user_data)
{
	struct got *g = user_data;
	cJSON *o = cJSON_ParseWithLength(json, len);

	g->n++;
	if (len > g->max_len)
		g->max_len = len;
	if (g->fail_at && (int)g->n == g->fail_at) {
		cJSON_Delete(o);
		return -EIO;
	}
	assert_non_null(o);
	assert_true(json[0] == '{' && json[len - 1] == '}');
	cJSON_AddItemToArray(g->objs, o);
	return 0;
}

/* Split text fed in pieces of `piece` bytes; the result code of feed+finish. */
static int split(const char *text, size_t piece, size_t max, struct got *g)
{
	struct ds_sync15_splitter s;
	size_t len = strlen(text);
	int rc = 0;

	g->objs = cJSON_CreateArray();
	g->n = g->max_len = 0;
	ds_sync15_splitter_init(&s, max, collect, g);
	for (size_t off = 0; rc == 0 && off < len; off += piece)
		rc = ds_sync15_splitter_feed(&s, text + off, DS_MIN(piece, len - off));
	if (rc == 0)
		rc = ds_sync15_splitter_finish(&s);
	assert_true(s.cap <= max);
	ds_sync15_splitter_clear(&s);
	return rc;
}

static const char PAGE[] =
	" \r\n[ {\"id\":\"a\",\"modified\":1388635807.41,\"payload\":\"{\\\"ciphertext\\\":\\\"x}]\\\"}\"},\n"
	"{\"id\":\"b\",\"modified\":1,\"payload\":\"\\\\\",\"sortindex\":3,\"nested\":{\"k\":[1,{\"z\":[]}]}}"
	"\t,{\"id\":\"c\",\"payload\":\"}{][\\\\\\\"\\u007d\",\"modified\":2}]  \n";

static void test_page_cut_anywhere_gives_the_same_objects(void **state)
{
	cJSON *whole = cJSON_Parse(PAGE);

	DS_UNUSED(state);
	assert_non_null(whole);
	for (size_t piece = 1; piece <= sizeof(PAGE); piece++) {
		struct got g = { 0 };

		assert_int_equal(split(PAGE, piece, 4096, &g), 0);
		assert_int_equal(g.n, 3);
		assert_true(cJSON_Compare(g.objs, whole, true));
		cJSON_Delete(g.objs);
	}
	cJSON_Delete(whole);
}

static void test_empty_answers(void **state)
{
	static const char *ok[] = { "[]", " [ ] ", "\n[\r\n]\n" };
	struct got g = { 0 };

	DS_UNUSED(state);
	for (size_t i = 0; i < DS_ARRAY_SIZE(ok); i++) {
		assert_int_equal(split(ok[i], 1, 1024, &g), 0);
		assert_int_equal(g.n, 0);
		cJSON_Delete(g.objs);
	}
}

/* Frames that are not a list of objects, and answers cut short: -EPROTO, whatever the cut. */
static void test_broken_frames_are_refused(void **state)
{
	static const char *bad[] = {
		"", "   ", "[", "[{}", "[{},", "[{\"a\":\"}\"", "[{\"a\":\"\\\"}]", "{\"id\":\"a\"}",
		"[1]", "[\"x\"]", "[null]", "[{}]x", "[{}{}]", "[,{}]", "[{},]", "[{}]]", "x[]",
		"[[{}]]", "[{]", "[{\"a\":[}]]",
	};
	struct got g = { 0 };

	DS_UNUSED(state);
	for (size_t i = 0; i < DS_ARRAY_SIZE(bad); i++) {
		for (size_t piece = 1; piece <= 3; piece++) {
			int rc = split(bad[i], piece, 1024, &g);

			if (rc != -EPROTO)
				fail_msg("\"%s\" (pieces of %zu): %d", bad[i], piece, rc);
			cJSON_Delete(g.objs);
		}
	}
}

/* The bound: an object of exactly max bytes passes, one more byte is -EMSGSIZE, and the
 * buffer never grows past max (checked in split()). */
static void test_object_over_the_bound_is_refused(void **state)
{
	char text[600];
	struct got g = { 0 };
	size_t obj;

	DS_UNUSED(state);
	/* [{"p":"xxx...x"}] : the object is 8 + n bytes */
	for (size_t n = 90; n <= 94; n++) {
		memset(text, 0, sizeof(text));
		strcpy(text, "[{\"p\":\"");
		memset(text + strlen(text), 'x', n);
		strcat(text, "\"}]");
		obj = 8 + n;
		for (size_t piece = 1; piece <= 64; piece *= 4) {
			int rc = split(text, piece, 100, &g);

			if (obj <= 100) {
				assert_int_equal(rc, 0);
				assert_int_equal(g.max_len, obj);
			} else {
				assert_int_equal(rc, -EMSGSIZE);
				assert_int_equal(g.n, 0);
			}
			cJSON_Delete(g.objs);
		}
	}
}

/* A callback's error stops the splitter, is returned, and stays. */
static void test_callback_error_stops_and_sticks(void **state)
{
	struct ds_sync15_splitter s;
	struct got g = { .fail_at = 2 };

	DS_UNUSED(state);
	g.objs = cJSON_CreateArray();
	ds_sync15_splitter_init(&s, 4096, collect, &g);
	assert_int_equal(ds_sync15_splitter_feed(&s, PAGE, strlen(PAGE)), -EIO);
	assert_int_equal(g.n, 2);
	assert_int_equal(ds_sync15_splitter_feed(&s, "]", 1), -EIO);
	assert_int_equal(ds_sync15_splitter_finish(&s), -EIO);
	assert_int_equal(g.n, 2);
	ds_sync15_splitter_clear(&s);
	cJSON_Delete(g.objs);
}

/* The bound from info/configuration: twice the payload limit plus 4 KiB, within
 * [64 KiB, CONFIG_DS_HTTP_MAX_RESPONSE]. */
static void test_bound_from_the_server_limits(void **state)
{
	struct ds_sync15_limits l;
	size_t top = CONFIG_DS_HTTP_MAX_RESPONSE > 65536 ? CONFIG_DS_HTTP_MAX_RESPONSE : 65536;

	DS_UNUSED(state);
	ds_sync15_limits_default(&l);
	assert_int_equal(ds_sync15_max_bso_text(&l), DS_MIN((size_t)2 * 256 * 1024 + 4096, top));
	l.max_record_payload_bytes = 1;
	assert_int_equal(ds_sync15_max_bso_text(&l), 65536);
	l.max_record_payload_bytes = SIZE_MAX;
	assert_int_equal(ds_sync15_max_bso_text(&l), top);
	l.max_record_payload_bytes = SIZE_MAX / 2;
	assert_int_equal(ds_sync15_max_bso_text(&l), top);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page_cut_anywhere_gives_the_same_objects),
		cmocka_unit_test(test_empty_answers),
		cmocka_unit_test(test_broken_frames_are_refused),
		cmocka_unit_test(test_object_over_the_bound_is_refused),
		cmocka_unit_test(test_callback_error_stops_and_sticks),
		cmocka_unit_test(test_bound_from_the_server_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
