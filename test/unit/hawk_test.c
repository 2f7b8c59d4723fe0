/*
 * hawk_test.c - Hawk request headers against the spec's examples and a Sync storage request
 * signed with a tokenlib key (test/vectors/hawk.txt), plus the rules around them: header
 * layout, skew-corrected timestamps, ext escaping, content-type normalisation, default ports.
 */
#include "account/ds_hawk.h"
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "ds_port.h"
#include "test/vectors/vector_file.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

static struct vec_file g_vf;

static const struct vec_record *record(const char *name)
{
	for (size_t i = 0; i < g_vf.n; i++)
		if (vec_is(&g_vf.recs[i], "name", name))
			return &g_vf.recs[i];
	fail_msg("no record '%s' in %s", name, g_vf.path);
	return NULL;
}

static const char *text(const struct vec_record *r, const char *key)
{
	static char bufs[64][1024];
	static unsigned next;
	char *b = bufs[next++ % DS_ARRAY_SIZE(bufs)];

	if (vec_text(r, key, b, 1024) < 0)
		return NULL;
	return b;
}

/* The request of a vector record; ts and nonce fixed by the record. */
static void request_of(const struct vec_record *r, struct ds_hawk_request *req,
		       struct ds_hawk_credentials *cred)
{
	const char *payload = text(r, "payload");

	memset(req, 0, sizeof(*req));
	cred->id = text(r, "id");
	cred->key = text(r, "key");
	cred->key_len = strlen(cred->key);
	req->method = text(r, "method");
	req->host = text(r, "host");
	req->port = atoi(text(r, "port"));
	req->resource = text(r, "resource");
	req->ext = text(r, "ext");
	req->content_type = text(r, "content_type");
	req->payload = payload;
	req->payload_len = payload ? strlen(payload) : 0;
	req->ts = strtoll(text(r, "ts"), NULL, 10);
	req->nonce = text(r, "nonce");
}

/* The value of attribute name in a Hawk header ("" when absent). */
static const char *attr(const char *hdr, const char *name)
{
	static char val[1024];
	char pat[40];
	const char *p, *e;

	snprintf(pat, sizeof(pat), " %s=\"", name);
	p = strstr(hdr, pat);
	val[0] = '\0';
	if (!p)
		return val;
	p += strlen(pat);
	e = strchr(p, '"');
	assert_non_null(e);
	snprintf(val, sizeof(val), "%.*s", (int)(e - p), p);
	return val;
}

static void check_vector(const char *name)
{
	const struct vec_record *r = record(name);
	struct ds_hawk_credentials cred;
	struct ds_hawk_request req;
	char hdr[DS_HAWK_HEADER_MAX], mac[DS_HAWK_HASH_LEN], hash[DS_HAWK_HASH_LEN] = "";
	int n;

	request_of(r, &req, &cred);
	if (req.content_type) {
		assert_int_equal(ds_hawk_payload_hash(req.content_type, req.payload, req.payload_len, hash), 0);
		assert_string_equal(hash, text(r, "hash"));
	}
	assert_int_equal(ds_hawk_mac("header", &cred, req.ts, req.nonce, req.method, req.resource, req.host,
				     req.port, hash, req.ext, mac),
			 0);
	assert_string_equal(mac, text(r, "mac"));

	n = ds_hawk_header(&cred, &req, hdr, sizeof(hdr));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(hdr));
	assert_true(!strncmp(hdr, "Hawk id=\"", 9));
	assert_string_equal(attr(hdr, "id"), cred.id);
	assert_string_equal(attr(hdr, "ts"), text(r, "ts"));
	assert_string_equal(attr(hdr, "nonce"), req.nonce);
	assert_string_equal(attr(hdr, "mac"), text(r, "mac"));
	assert_string_equal(attr(hdr, "hash"), req.content_type ? text(r, "hash") : "");
	assert_string_equal(attr(hdr, "ext"), req.ext ? req.ext : "");
}

static void test_spec_get(void **state)
{
	DS_UNUSED(state);
	check_vector("spec GET");
}

static void test_spec_post_with_payload_hash(void **state)
{
	DS_UNUSED(state);
	check_vector("spec POST");
}

static void test_storage_node_key_is_the_key_strings_bytes(void **state)
{
	const struct vec_record *r = record("tokenlib storage");
	struct ds_hawk_credentials cred;
	struct ds_hawk_request req;
	uint8_t decoded[64];
	char mac[DS_HAWK_HASH_LEN];
	int n;

	DS_UNUSED(state);
	check_vector("tokenlib storage");
	/* The trap: base64-decoding the key string gives another MAC. */
	request_of(r, &req, &cred);
	n = ds_base64url_decode(cred.key, strlen(cred.key), decoded, sizeof(decoded));
	assert_int_equal(n, 32);
	cred.key = decoded;
	cred.key_len = (size_t)n;
	assert_int_equal(ds_hawk_mac("header", &cred, req.ts, req.nonce, req.method, req.resource, req.host,
				     req.port, NULL, NULL, mac),
			 0);
	assert_string_not_equal(mac, text(r, "mac"));
}

/* Method and host are case-normalised, the resource is not (API.md: "as sent"). */
static void test_normalisation_of_method_host_resource(void **state)
{
	const struct vec_record *r = record("spec GET");
	struct ds_hawk_credentials cred;
	struct ds_hawk_request req;
	char a[DS_HAWK_HEADER_MAX], b[DS_HAWK_HEADER_MAX];

	DS_UNUSED(state);
	request_of(r, &req, &cred);
	assert_true(ds_hawk_header(&cred, &req, a, sizeof(a)) > 0);
	req.method = "get";
	req.host = "EXAMPLE.com";
	assert_true(ds_hawk_header(&cred, &req, b, sizeof(b)) > 0);
	assert_string_equal(a, b);
	req.resource = "/resource/1?a=2&b=1";
	assert_true(ds_hawk_header(&cred, &req, b, sizeof(b)) > 0);
	snprintf(a, sizeof(a), "%s", attr(a, "mac"));
	assert_string_not_equal(a, attr(b, "mac"));
}

/* Content-type parameters and case do not change the payload hash (lib/crypto.js). */
static void test_payload_hash_content_type(void **state)
{
	const struct vec_record *r = record("spec POST");
	const char *payload = text(r, "payload");
	char h1[DS_HAWK_HASH_LEN], h2[DS_HAWK_HASH_LEN], h3[DS_HAWK_HASH_LEN];

	DS_UNUSED(state);
	assert_int_equal(ds_hawk_payload_hash("text/plain", payload, strlen(payload), h1), 0);
	assert_int_equal(ds_hawk_payload_hash("Text/Plain; charset=utf-8", payload, strlen(payload), h2), 0);
	assert_string_equal(h1, h2);
	assert_string_equal(h1, text(r, "hash"));
	assert_int_equal(ds_hawk_payload_hash("application/json", payload, strlen(payload), h3), 0);
	assert_string_not_equal(h1, h3);
	/* An empty body still has a hash. */
	assert_int_equal(ds_hawk_payload_hash("application/json", NULL, 0, h3), 0);
	assert_int_equal(strlen(h3), 44);
	assert_int_equal(ds_hawk_payload_hash(NULL, payload, 1, h3), -EINVAL);
}

/* ext is escaped in the MAC input (backslash, newline) and refused in the header if unsafe. */
static void test_ext_escaping(void **state)
{
	struct ds_hawk_credentials cred = { "id", "k", 1 };
	char m1[DS_HAWK_HASH_LEN], m2[DS_HAWK_HASH_LEN], hdr[DS_HAWK_HEADER_MAX];
	struct ds_hawk_request req = { .method = "GET", .host = "h", .port = 80, .resource = "/",
				       .ts = 1, .nonce = "n" };

	DS_UNUSED(state);
	/* "a\nb" escaped is the two characters '\' 'n': the same MAC as the literal "a\\nb". */
	assert_int_equal(ds_hawk_mac("header", &cred, 1, "n", "GET", "/", "h", 80, NULL, "a\nb", m1), 0);
	assert_int_equal(ds_hawk_mac("header", &cred, 1, "n", "GET", "/", "h", 80, NULL, "a\\nb", m2), 0);
	assert_string_not_equal(m1, m2); /* the backslash itself is doubled */
	assert_int_equal(ds_hawk_mac("header", &cred, 1, "n", "GET", "/", "h", 80, NULL, "a\\\\nb", m1), 0);
	assert_int_equal(ds_hawk_mac("header", &cred, 1, "n", "GET", "/", "h", 80, NULL, "a\\nb", m2), 0);
	assert_string_not_equal(m1, m2);
	req.ext = "say \"hi\"";
	assert_int_equal(ds_hawk_header(&cred, &req, hdr, sizeof(hdr)), -EINVAL);
	req.ext = NULL;
	cred.id = "bad\"id";
	assert_int_equal(ds_hawk_header(&cred, &req, hdr, sizeof(hdr)), -EINVAL);
}

/* ts defaults to the wall clock plus the skew learnt from the server. */
static void test_skew_corrected_timestamp(void **state)
{
	struct ds_hawk_credentials cred = { "id", "key", 3 };
	struct ds_hawk_request req = { .method = "GET", .host = "h", .port = 443, .resource = "/" };
	char hdr[DS_HAWK_HEADER_MAX];
	int64_t now = ds_port_wall_ms() / 1000, ts, skew = 0;

	DS_UNUSED(state);
	req.skew_s = 3600;
	assert_true(ds_hawk_header(&cred, &req, hdr, sizeof(hdr)) > 0);
	ts = strtoll(attr(hdr, "ts"), NULL, 10);
	assert_true(ts >= now + 3600 && ts <= now + 3600 + 5);
	/* Fresh nonces: two headers differ. */
	{
		char hdr2[DS_HAWK_HEADER_MAX], n1[64];

		snprintf(n1, sizeof(n1), "%s", attr(hdr, "nonce"));
		assert_true(strlen(n1) >= 6);
		assert_true(ds_hawk_header(&cred, &req, hdr2, sizeof(hdr2)) > 0);
		assert_string_not_equal(n1, attr(hdr2, "nonce"));
	}
	assert_int_equal(ds_hawk_skew_from_server(now - 120, &skew), 0);
	assert_true(skew <= -119 && skew >= -125);
	assert_int_equal(ds_hawk_skew_from_server(now + 20LL * 365 * 86400, &skew), -ERANGE);
	assert_int_equal(ds_hawk_skew_from_server(0, &skew), -EINVAL);
	assert_true(ds_hawk_now(-10) <= now - 10 + 5);
}

/* From a URL: the default port of the scheme, the path and query as given. */
static void test_header_for_url(void **state)
{
	const struct vec_record *r = record("tokenlib storage");
	struct ds_hawk_credentials cred;
	struct ds_hawk_request req;
	char hdr[DS_HAWK_HEADER_MAX], mac[DS_HAWK_HASH_LEN], expect[DS_HAWK_HASH_LEN];
	int64_t ts;

	DS_UNUSED(state);
	request_of(r, &req, &cred);
	assert_true(ds_hawk_header_for_url(&cred, "GET", "https://Sync.Example.net/1.5/1/storage/tabs?full=1",
					   NULL, NULL, 0, 0, hdr, sizeof(hdr)) > 0);
	ts = strtoll(attr(hdr, "ts"), NULL, 10);
	assert_int_equal(ds_hawk_mac("header", &cred, ts, attr(hdr, "nonce"), "GET", "/1.5/1/storage/tabs?full=1",
				     "sync.example.net", 443, NULL, NULL, expect),
			 0);
	snprintf(mac, sizeof(mac), "%s", attr(hdr, "mac"));
	assert_string_equal(mac, expect);
	assert_string_equal(attr(hdr, "hash"), "");

	assert_true(ds_hawk_header_for_url(&cred, "POST", "http://127.0.0.1:8000/v1/x", "application/json", "{}",
					   2, 0, hdr, sizeof(hdr)) > 0);
	assert_int_equal(strlen(attr(hdr, "hash")), 44);
	assert_int_equal(ds_hawk_header_for_url(&cred, "GET", "ftp://x/", NULL, NULL, 0, 0, hdr, sizeof(hdr)),
			 -EINVAL);
}

static void test_short_buffer(void **state)
{
	const struct vec_record *r = record("spec GET");
	struct ds_hawk_credentials cred;
	struct ds_hawk_request req;
	char hdr[40];

	DS_UNUSED(state);
	request_of(r, &req, &cred);
	assert_int_equal(ds_hawk_header(&cred, &req, hdr, sizeof(hdr)), -ENOSPC);
	assert_string_equal(hdr, "");
}

static int setup(void **state)
{
	DS_UNUSED(state);
	return vec_load("hawk.txt", &g_vf) ? -1 : 0;
}

static int teardown(void **state)
{
	DS_UNUSED(state);
	vec_free(&g_vf);
	ds_random_reset();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_get),
		cmocka_unit_test(test_spec_post_with_payload_hash),
		cmocka_unit_test(test_storage_node_key_is_the_key_strings_bytes),
		cmocka_unit_test(test_normalisation_of_method_host_resource),
		cmocka_unit_test(test_payload_hash_content_type),
		cmocka_unit_test(test_ext_escaping),
		cmocka_unit_test(test_skew_corrected_timestamp),
		cmocka_unit_test(test_header_for_url),
		cmocka_unit_test(test_short_buffer),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
