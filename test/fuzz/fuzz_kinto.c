/*
 * What a Kinto server answers (remote/kinto/: kinto_json.c's scanner, kinto_codec.c's record
 * decoding and the encrypted envelope "ds_enc", kinto_api.c's requests and error bodies;
 * docs/remote-kinto.md). Requests go to the canned answers of fuzz_canned.h.
 *
 * Input: one mode byte, then:
 *   mode & 1 == 0: canned answers to up to 4 GETs of a record list. A 2xx body's "data" array
 *      is walked, each record decoded in the collection "notes" without a key and with the
 *      fixed key of test/vectors/kinto_codec.txt (mode bit 1 picks which first); other
 *      statuses go through ds_kinto_api_error, which must give a negative errno. A record that
 *      does not decode hands out nothing; one that does has a valid id and, unless it is a
 *      tombstone, a payload that survives encoding and decoding (below). The backoff the
 *      answers set is never negative.
 *   mode & 1 == 1: an engine payload, encoded (clear, and encrypted under the fixed key) and
 *      decoded back: the same JSON comes back, and a second trip gives the first one's text
 *      byte for byte (the wire format keeps numbers as written).
 */
#include "test/fuzz/fuzz_common.h"
#include "test/fuzz/fuzz_canned.h"
#include "crypto/ds_crypto.h"
#include "net/ds_http.h"
#include "remote/kinto/kinto_priv.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <string.h>

static struct ds_kinto_key key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	DS_UNUSED(argc);
	DS_UNUSED(argv);
	fuzz_quiet();
	/* test/vectors/kinto_codec.txt: key = 00 01 .. 1f */
	for (int i = 0; i < DS_KINTO_KEY_LEN; i++)
		key.key[i] = (uint8_t)i;
	key.set = true;
	if (ds_kinto_key_finish(&key) || strcmp(key.kid, "7f064544c17f2613") != 0)
		fuzz_fail("harness key");
	return 0;
}

static bool record_empty(const struct ds_record *r)
{
	return !r->id && !r->payload;
}

/* Encode payload as record id (clear or under k) and decode it: 0 and the payload that came
 * back in *back, or the encoder's refusal (nothing handed out then). */
static int encode_decode(const struct ds_kinto_key *k, const char *id, const char *payload,
			 char **back)
{
	struct ds_record r = { 0 };
	char *data = NULL, *rec;
	size_t n;
	int rc = ds_kinto_encode(k, "notes", id, payload, &data);

	*back = NULL;
	if (rc) {
		if (data)
			fuzz_fail("a refused encoding handed out data");
		return rc;
	}
	n = strlen(id) + strlen(data) + 64;
	rec = ds_malloc(n);
	if (!rec)
		fuzz_fail("out of memory in the harness");
	if (strcmp(data, "{}") == 0)
		snprintf(rec, n, "{\"id\":\"%s\",\"last_modified\":1700000000000}", id);
	else
		snprintf(rec, n, "{\"id\":\"%s\",\"last_modified\":1700000000000,%s", id, data + 1);
	if (ds_kinto_decode(k, "notes", rec, strlen(rec), &r) || r.deleted || !r.payload)
		fuzz_fail("an encoded payload does not decode");
	*back = r.payload;
	r.payload = NULL;
	ds_record_clear(&r);
	ds_free(rec);
	ds_free(data);
	return 0;
}

/*
 * The wire format keeps members and values as written (docs/remote-kinto.md "Wire format"):
 * what comes back is the same JSON, and a second trip gives it back byte for byte (whitespace
 * between members is the only thing the first trip may drop).
 */
static void roundtrip(const struct ds_kinto_key *k, const char *id, const char *payload)
{
	char *once, *twice;
	cJSON *a, *b, *c;

	if (encode_decode(k, id, payload, &once))
		return;
	if (encode_decode(k, id, once, &twice) || strcmp(once, twice) != 0)
		fuzz_fail("a payload does not survive a second encode/decode unchanged");
	a = cJSON_Parse(payload);
	b = cJSON_Parse(once);
	/* cJSON_Compare looks objects' members up by name: with a name twice and two values it
	 * does not even find a copy equal to the original, so such payloads are left out here. */
	c = cJSON_Duplicate(a, true);
	if (a && c && cJSON_Compare(a, c, true) && (!b || !cJSON_Compare(a, b, true)))
		fuzz_fail("an encoded payload decodes to other JSON");
	cJSON_Delete(a);
	cJSON_Delete(c);
	cJSON_Delete(b);
	ds_free(once);
	ds_free(twice);
}

static void decode_one(const struct ds_kinto_key *k, const char *text, size_t len)
{
	struct ds_record r = { 0 };
	char *id = NULL;
	int64_t lm = 0;
	int rc = ds_kinto_decode(k, "notes", text, len, &r);

	fuzz_note(k ? "decode with the key" : "decode without a key", rc);
	if (rc) {
		if (!record_empty(&r))
			fuzz_fail("a refused record handed out fields");
		if (rc > 0)
			fuzz_fail("ds_kinto_decode: positive return");
	} else {
		if (!r.id || !ds_kinto_id_valid(r.id) || (r.deleted ? r.payload != NULL : !r.payload))
			fuzz_fail("a decoded record has no valid id or a wrong payload");
		if (r.payload)
			roundtrip(k, r.id, r.payload);
		ds_record_clear(&r);
	}
	if (ds_kinto_record_meta(text, len, &id, &lm) == 0)
		ds_free(id);
	else if (id)
		fuzz_fail("ds_kinto_record_meta: a refusal handed out an id");
}

struct walk {
	bool key_first;
};

static int on_record(const char *val, size_t vlen, void *ud)
{
	struct walk *w = ud;

	decode_one(w->key_first ? &key : NULL, val, vlen);
	decode_one(w->key_first ? NULL : &key, val, vlen);
	return 0;
}

static int on_member(const char *k, size_t klen, const char *val, size_t vlen, void *ud)
{
	if (klen == 4 && memcmp(k, "data", 4) == 0) {
		int rc = ds_kinto_json_array_each(val, vlen, on_record, ud);

		if (rc > 0)
			fuzz_fail("ds_kinto_json_array_each: positive return");
	}
	return 0;
}

static void lists(uint8_t mode, const uint8_t *data, size_t size)
{
	struct ds_kinto_api a;
	struct ds_http_response resp;
	struct walk w = { .key_first = mode & 2 };

	fuzz_canned_load(data, size);
	if (ds_kinto_api_init(&a, "https://kinto.example.test/v1", NULL, "notes"))
		fuzz_fail("ds_kinto_api_init");
	for (int i = 0; i < 4; i++) {
		if (ds_kinto_api_call(&a, "GET", "/buckets/b/collections/notes/records", NULL, NULL, &resp))
			break;
		if (resp.status >= 200 && resp.status < 300) {
			if (resp.body && ds_kinto_json_object_each(resp.body, resp.body_len, on_member, &w) > 0)
				fuzz_fail("ds_kinto_json_object_each: positive return");
		} else if (ds_kinto_api_error(&a, "listing", &resp) >= 0) {
			fuzz_fail("a Kinto error answer was not an error");
		}
		ds_http_response_free(&resp);
	}
	if (a.backoff_s < 0)
		fuzz_fail("a negative backoff");
	ds_kinto_api_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	if (data[0] & 1) {
		char *payload = fuzz_strndup(data + 1, size - 1);

		roundtrip(NULL, "WzFd", payload);
		roundtrip(&key, "WzFd", payload);
		ds_free(payload);
	} else {
		lists(data[0], data + 1, size - 1);
	}
	return 0;
}
