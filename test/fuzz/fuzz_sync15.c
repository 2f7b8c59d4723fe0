/*
 * The Sync 1.5 parsers that take what a storage node sends (remote/sync15/bso.c, keys.c,
 * global_state.c's pure meta/global helpers, storage_client.c's info/configuration and header
 * readers; docs/remote-sync15.md).
 *
 * Input: one mode byte, then text. Mode & 3:
 *   0  a GET answer: a BSO object or an array of them (ds_sync15_bso_from_json). An accepted
 *      BSO has a valid id and a "modified" that prints and re-parses to the same milliseconds;
 *      its payload goes through ds_sync15_decrypt under a fixed key bundle (the TV-4 default
 *      keys of test/vectors/storage_format5.txt): a refusal hands out no cleartext. Mode bit 2:
 *      the harness encrypts the text itself (IV from the input) and the decryption must give it
 *      back byte for byte. The same text also goes through the streamed answer's splitter
 *      (bso_stream.c), fed in pieces of (mode >> 3) + 1 bytes and again whole: both feeds give
 *      the same result and objects; every object starts with '{', ends with '}' and stays
 *      within the bound (and its buffer too); an accepted answer is a JSON array of exactly
 *      those objects, and an array of objects within the bound that cJSON accepts is accepted.
 *   1  crypto/keys cleartext (ds_sync15_keyring_parse): accepted keys print, re-parse and
 *      compare equal; a refused one leaves an empty keyring. The text also goes through
 *      ds_sync15_keyring_decrypt under the TV-4 kSync bundle as a crypto/keys payload.
 *   2  meta/global payload: ds_sync15_meta_fixup of "bookmarks" (enable = mode bit 2), then
 *      the engine is listed and not declined (or, not enabled and declined before, still
 *      declined), and a second fixup changes nothing.
 *   3  info/configuration (limits at least 1), info/collections (each value a timestamp or
 *      refused), and the same text as an X-Weave-Timestamp / X-Last-Modified header value and
 *      as a 400 body (a weave error code 0..999 or -1).
 */
#include "test/fuzz/fuzz_common.h"
#include "crypto/ds_crypto.h"
#include "remote/sync15/ds_sync15.h"
#include "remote/sync15/ds_sync15_stream.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

/* TV-4 (storage_format5.txt): kSync, and the "default" pair inside its crypto/keys record. */
static const char ksync_hex[] = "d63eb2610f1e5edc21b37fed22b93b0f9ea379840fb5c3c5eb95991b9b3bfab6"
				"9cbabfda0762bdf0b27431d81960c8cf5dab7d482901213a5a1b003eb0081ed0";
static const char def_enc_b64[] = "/XKu2GgjfQfrqoIJOQxdBkO++atxe0xO6C3fJaeAbmg=";
static const char def_hmac_b64[] = "cVehNzSJd0YDn3JaPz7alyuOuDW1iHmCzlJMZqJdfTc=";

static struct ds_sync15_keybundle record_kb, sync_kb;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t ksync[64];

	DS_UNUSED(argc);
	DS_UNUSED(argv);
	fuzz_quiet();
	if (ds_hex_decode(ksync_hex, strlen(ksync_hex), ksync, sizeof(ksync)) != 64 ||
	    ds_base64_decode(def_enc_b64, strlen(def_enc_b64), record_kb.enc, 32) != 32 ||
	    ds_base64_decode(def_hmac_b64, strlen(def_hmac_b64), record_kb.hmac, 32) != 32)
		fuzz_fail("harness keys");
	ds_sync15_keybundle_from_ksync(ksync, &sync_kb);
	return 0;
}

static void check_decrypt(const char *payload)
{
	char *clear = NULL;
	size_t len = 0;
	int rc = ds_sync15_decrypt(&record_kb, payload, &clear, &len);

	if (rc == 0) {
		if (!clear || clear[len] != '\0')
			fuzz_fail("decrypted cleartext is not NUL-terminated at its length");
		ds_free(clear);
	} else if (clear) {
		fuzz_fail("a refused payload handed out cleartext");
	} else if (rc != -EBADMSG && rc != -EILSEQ && rc != -ENOMEM) {
		fuzz_fail("ds_sync15_decrypt: unexpected error");
	}
}

static void check_bso(const cJSON *o)
{
	struct ds_sync15_bso b;
	char ts[DS_SYNC15_TS_MAX];
	int64_t ms;
	int rc = ds_sync15_bso_from_json(o, &b);

	if (rc < 0) {
		if (b.id || b.payload)
			fuzz_fail("a refused BSO handed out fields");
		return;
	}
	if (!ds_sync15_id_valid(b.id) || !b.payload)
		fuzz_fail("an accepted BSO has an invalid id or no payload");
	ds_sync15_ts_format(b.modified_ms, ts);
	if (ds_sync15_ts_parse(ts, &ms) || ms != b.modified_ms)
		fuzz_fail("a BSO timestamp does not print and re-parse to itself");
	check_decrypt(b.payload);
	ds_sync15_bso_clear(&b);
}

/* ---- the streamed answer's splitter ------------------------------------------------------ */

#define SPLIT_MAX 512

struct split_out {
	cJSON *objs;
	size_t n;
};

static int split_cb(const char *json, size_t len, void *user_data)
{
	struct split_out *o = user_data;
	cJSON *j;

	if (!len || len > SPLIT_MAX || json[0] != '{' || json[len - 1] != '}')
		fuzz_fail("the splitter handed out something that is not one object within the bound");
	o->n++;
	j = cJSON_ParseWithLength(json, len);
	if (!j)
		j = cJSON_CreateNull(); /* structure fine, content broken: the remote skips it */
	if (!j || !cJSON_AddItemToArray(o->objs, j))
		fuzz_fail("out of memory in the harness");
	return 0;
}

static int split(const uint8_t *data, size_t size, size_t piece, struct split_out *o)
{
	struct ds_sync15_splitter sp;
	int rc = 0;

	o->objs = cJSON_CreateArray();
	o->n = 0;
	ds_sync15_splitter_init(&sp, SPLIT_MAX, split_cb, o);
	for (size_t off = 0; rc == 0 && off < size; off += piece)
		rc = ds_sync15_splitter_feed(&sp, data + off, DS_MIN(piece, size - off));
	if (rc == 0)
		rc = ds_sync15_splitter_finish(&sp);
	if (sp.cap > SPLIT_MAX)
		fuzz_fail("the splitter's buffer grew past its bound");
	ds_sync15_splitter_clear(&sp);
	if (rc != 0 && rc != -EPROTO && rc != -EMSGSIZE && rc != -ENOMEM)
		fuzz_fail("the splitter: unexpected error");
	return rc;
}

/* Text both parsers read alike: no control bytes but JSON's whitespace (cJSON skips every byte
 * up to 0x20 as whitespace) and no UTF-8 byte order mark (cJSON skips it). */
static bool plain_json_text(const uint8_t *data, size_t size)
{
	if (size >= 1 && data[0] == 0xEF)
		return false;
	for (size_t i = 0; i < size; i++)
		if (data[i] < 0x20 && data[i] != '\t' && data[i] != '\r' && data[i] != '\n')
			return false;
	return true;
}

static bool all_objects(const cJSON *arr)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, arr)
		if (!cJSON_IsObject(it))
			return false;
	return true;
}

/* cJSON_Compare is not reflexive on objects with a repeated key: compare printed texts. */
static bool same_json(const cJSON *x, const cJSON *y)
{
	char *px = cJSON_PrintUnformatted(x), *py = cJSON_PrintUnformatted(y);
	bool same;

	if (!px || !py)
		fuzz_fail("out of memory in the harness");
	same = strcmp(px, py) == 0;
	cJSON_free(px);
	cJSON_free(py);
	return same;
}

static void splitter(uint8_t mode, const uint8_t *data, size_t size, const char *text)
{
	struct split_out a, b;
	int ra = split(data, size, (size_t)(mode >> 3) + 1, &a);
	int rb = split(data, size, size ? size : 1, &b);
	bool plain = plain_json_text(data, size);
	/* Exactly one JSON value and nothing after it but whitespace. */
	cJSON *whole = plain ? cJSON_ParseWithOpts(text, NULL, 1) : NULL;
	bool parsed = true;
	const cJSON *it;

	if (ra != rb || a.n != b.n || !same_json(a.objs, b.objs))
		fuzz_fail("the splitter's result depends on where the answer is cut");
	cJSON_ArrayForEach(it, a.objs)
		parsed = parsed && !cJSON_IsNull(it);
	/* Accepted, every object parsed: the text is an array of exactly those objects. */
	if (ra == 0 && parsed && plain && (!cJSON_IsArray(whole) || !same_json(whole, a.objs)))
		fuzz_fail("the splitter accepted what is not an array of those objects");
	/* An array of objects within the bound (the whole text is) is accepted whole. */
	if (cJSON_IsArray(whole) && all_objects(whole) && size <= SPLIT_MAX &&
	    (ra != 0 || !same_json(whole, a.objs)))
		fuzz_fail("the splitter refused or changed an array of objects");
	cJSON_Delete(whole);
	cJSON_Delete(a.objs);
	cJSON_Delete(b.objs);
}

static void bsos(uint8_t mode, const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size);
	cJSON *j = cJSON_Parse(text);
	const cJSON *it;

	if (cJSON_IsArray(j)) {
		cJSON_ArrayForEach(it, j)
			check_bso(it);
	} else {
		check_bso(j);
	}
	cJSON_Delete(j);
	splitter(mode, data, size, text);
	check_decrypt(text);
	if ((mode & 4) && size >= 16) {
		char *payload = NULL, *clear = NULL;
		size_t len = 0;

		if (ds_sync15_encrypt(&record_kb, text + 16, size - 16, data, &payload))
			fuzz_fail("ds_sync15_encrypt");
		if (ds_sync15_decrypt(&record_kb, payload, &clear, &len) || len != size - 16 ||
		    memcmp(clear, text + 16, len) != 0)
			fuzz_fail("an encrypted payload does not decrypt to its cleartext");
		ds_free(payload);
		ds_free(clear);
	}
	ds_free(text);
}

static bool keyring_empty(const struct ds_sync15_keyring *kr)
{
	static const struct ds_sync15_keybundle zero;

	return kr->n == 0 && !kr->names && !kr->colls && !memcmp(&kr->def, &zero, sizeof(zero));
}

static void keys(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size), *json;
	struct ds_sync15_keyring kr, again;
	int rc = ds_sync15_keyring_parse(text, &kr);

	if (rc == 0) {
		if (ds_sync15_keyring_get(&kr, "bookmarks") == NULL)
			fuzz_fail("an accepted keyring has no key for a collection");
		json = ds_sync15_keyring_to_json(&kr);
		if (!json)
			fuzz_fail("ds_sync15_keyring_to_json");
		if (ds_sync15_keyring_parse(json, &again) || !ds_sync15_keyring_equal(&kr, &again))
			fuzz_fail("printed keys do not re-parse to the same keys");
		ds_sync15_keyring_clear(&again);
		ds_free(json);
	} else if (rc != -EILSEQ && rc != -ENOMEM) {
		fuzz_fail("ds_sync15_keyring_parse: unexpected error");
	} else if (!keyring_empty(&kr)) {
		fuzz_fail("refused keys left key material");
	}
	ds_sync15_keyring_clear(&kr);
	rc = ds_sync15_keyring_decrypt(&sync_kb, text, &kr);
	if (rc == 0)
		ds_sync15_keyring_clear(&kr);
	else if (!keyring_empty(&kr))
		fuzz_fail("a refused crypto/keys payload left key material");
	ds_free(text);
}

static void meta(uint8_t mode, const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size);
	cJSON *m = cJSON_Parse(text);
	bool enable = mode & 4, was_declined = ds_sync15_meta_declined(m, "bookmarks");
	bool had_engine = ds_sync15_meta_engine(m, "bookmarks") != NULL;
	int rc = ds_sync15_meta_fixup(m, "bookmarks", 2, enable);

	if (!cJSON_IsObject(m)) {
		if (rc != -EINVAL)
			fuzz_fail("meta_fixup accepted a meta/global that is not an object");
	} else if (rc < 0) {
		if (rc != -ENOMEM && rc != -EIO)
			fuzz_fail("meta_fixup: unexpected error");
	} else if (was_declined && !enable && !had_engine) {
		if (!ds_sync15_meta_declined(m, "bookmarks") || ds_sync15_meta_engine(m, "bookmarks"))
			fuzz_fail("a declined engine was enabled without being asked");
	} else {
		const cJSON *e = ds_sync15_meta_engine(m, "bookmarks");
		const cJSON *sid = cJSON_GetObjectItemCaseSensitive(e, "syncID");

		if (!e || ds_sync15_meta_declined(m, "bookmarks") || !cJSON_IsString(sid) ||
		    !*sid->valuestring)
			fuzz_fail("after meta_fixup the engine is not usable");
		if (ds_sync15_meta_fixup(m, "bookmarks", 2, enable) != 0)
			fuzz_fail("a second meta_fixup changed meta/global again");
	}
	cJSON_Delete(m);
	ds_free(text);
}

static void info(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size);
	struct ds_sync15_limits l;
	struct ds_http_header h[2] = { { "x-weave-timestamp", text }, { "x-last-modified", text } };
	struct ds_http_response resp = { .status = 400, .headers = h, .n_headers = 2,
					  .body = text, .body_len = size };
	char ts[DS_SYNC15_TS_MAX];
	int64_t ms, ms2;
	cJSON *j;
	const cJSON *it;
	int code;

	if (ds_sync15_limits_parse(text, &l) == 0 &&
	    (!l.max_request_bytes || !l.max_post_records || !l.max_post_bytes ||
	     !l.max_total_records || !l.max_total_bytes || !l.max_record_payload_bytes))
		fuzz_fail("a limit of 0 from info/configuration");
	j = cJSON_Parse(text);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		j = NULL;
	}
	cJSON_ArrayForEach(it, j) {
		if (ds_sync15_ts_from_json(it, &ms) == 0 && ms < 0)
			fuzz_fail("a negative collection timestamp");
	}
	cJSON_Delete(j);
	ms = ds_sync15_last_modified(&resp);
	if (ms < -1)
		fuzz_fail("a negative X-Last-Modified");
	if (ds_sync15_ts_parse(text, &ms) == 0) {
		ds_sync15_ts_format(ms, ts);
		if (ds_sync15_ts_parse(ts, &ms2) || ms2 != ms)
			fuzz_fail("a timestamp does not print and re-parse to itself");
	}
	code = ds_sync15_weave_code(&resp);
	if (code < -1 || code > 999)
		fuzz_fail("a weave error code out of range");
	ds_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	switch (data[0] & 3) {
	case 0:
		bsos(data[0], data + 1, size - 1);
		break;
	case 1:
		keys(data + 1, size - 1);
		break;
	case 2:
		meta(data[0], data + 1, size - 1);
		break;
	default:
		info(data + 1, size - 1);
		break;
	}
	return 0;
}
