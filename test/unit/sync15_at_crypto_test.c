/*
 * Sync 1.5 acceptance tests on keys and tokens (sync15.md §12), one test per rule, named after it:
 *   AT-01..04  the storage format 5 vectors TV-1..TV-4 (vectors.md §1, test/vectors/
 *              storage_format5.txt) byte for byte, HMAC in either hex case, a mismatch never
 *              decrypted;
 *   AT-05      kid and X-Client-State from the TV-4 kB (test/vectors/scoped_keys.txt), and the
 *              token request's Authorization: Bearer and X-KeyID as a server receives them;
 *   AT-06      (token side) a new token after `duration`, another api_endpoint reported;
 *   AT-17      (the remote's part) a tombstone is exactly {"id","deleted":true};
 *   AT-20      server timestamps parsed to int64 ms and printed back.
 * The token tests talk to a small HTTP/1.1 responder on 127.0.0.1 in a child process that
 * writes every request head it receives into DS_TEST_TMP.
 * docs/sync15-acceptance.md maps every rule to its test.
 */
#include "account/ds_account_keys.h"
#include "account/ds_tokenserver.h"
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "net/ds_http.h"
#include "remote/sync15/ds_sync15.h"
#include "test/vectors/vector_file.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIG 4096

static const struct vec_record *find(const struct vec_file *vf, const char *name)
{
	for (size_t i = 0; i < vf->n; i++)
		if (vec_is(&vf->recs[i], "name", name))
			return &vf->recs[i];
	fail_msg("no vector %s", name);
	return NULL;
}

static void load(const char *name, struct vec_file *vf)
{
	assert_int_equal(vec_load(name, vf), 0);
	assert_true(vf->n > 0);
}

/* A key or IV given as hex (key) or base64 text (key_b64). */
static void key_field(const struct vec_record *r, const char *key, uint8_t *out, size_t len)
{
	char k64[64], txt[128];

	if (vec_bytes(r, key, out, len) == (long)len)
		return;
	snprintf(k64, sizeof(k64), "%s_b64", key);
	assert_true(vec_text(r, k64, txt, sizeof(txt)) > 0);
	assert_int_equal(ds_base64_decode(txt, strlen(txt), out, len), (int)len);
}

/* The BSO payload string of a record vector, hmac as given or upper-cased. */
static char *payload_of(const struct vec_record *r, bool upper_hmac)
{
	char ct[BIG], iv64[64], hmac[80];
	uint8_t iv[16];
	cJSON *o = cJSON_CreateObject();
	char *s, *copy;

	assert_true(vec_text(r, "ciphertext", ct, sizeof(ct)) > 0);
	key_field(r, "iv", iv, sizeof(iv));
	ds_base64_encode(iv, sizeof(iv), iv64, sizeof(iv64));
	snprintf(hmac, sizeof(hmac), "%s", vec_raw(r, "hmac"));
	for (char *p = hmac; upper_hmac && *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	cJSON_AddStringToObject(o, "ciphertext", ct);
	cJSON_AddStringToObject(o, "IV", iv64);
	cJSON_AddStringToObject(o, "hmac", hmac);
	s = cJSON_PrintUnformatted(o);
	copy = strdup(s);
	cJSON_free(s);
	cJSON_Delete(o);
	return copy;
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

/* Decrypt a record vector with its own keys, compare with its plaintext, then encrypt the
 * plaintext again with its IV: the same ciphertext and the same (lower-case hex) HMAC. */
static void record_both_ways(const struct vec_record *r)
{
	struct ds_sync15_keybundle kb;
	char want[BIG], *payload = payload_of(r, false), *clear = NULL, *again = NULL, ct[BIG];
	uint8_t iv[16];
	long wl = vec_text(r, "plaintext", want, sizeof(want));
	size_t len;
	cJSON *o;

	key_field(r, "enc_key", kb.enc, 32);
	key_field(r, "hmac_key", kb.hmac, 32);
	assert_true(wl > 0);
	assert_int_equal(ds_sync15_decrypt(&kb, payload, &clear, &len), 0);
	assert_int_equal(len, (size_t)wl);
	assert_memory_equal(clear, want, len);

	key_field(r, "iv", iv, sizeof(iv));
	assert_int_equal(ds_sync15_encrypt(&kb, want, (size_t)wl, iv, &again), 0);
	o = cJSON_Parse(again);
	assert_non_null(o);
	assert_true(vec_text(r, "ciphertext", ct, sizeof(ct)) > 0);
	assert_string_equal(jstr(o, "ciphertext"), ct);
	assert_string_equal(jstr(o, "hmac"), vec_raw(r, "hmac"));
	cJSON_Delete(o);
	ds_free(again);
	ds_free(clear);
	free(payload);
}

/* AT-01: TV-1, HKDF-SHA256 of the master key gives the Sync key bundle (enc || hmac) exactly. */
static void test_at01_tv1_hkdf_gives_the_key_bundle_byte_exact(void **state)
{
	struct vec_file vf;
	const struct vec_record *r;
	uint8_t ikm[16], okm[64], want[64], salt[32] = { 0 };
	struct ds_sync15_keybundle kb;
	char info[128];

	(void)state;
	load("storage_format5.txt", &vf);
	r = find(&vf, "TV-1");
	assert_int_equal(vec_bytes(r, "ikm", ikm, sizeof(ikm)), 16);
	assert_int_equal(vec_bytes(r, "okm", want, sizeof(want)), 64);
	assert_true(vec_text(r, "info", info, sizeof(info)) > 0);
	assert_int_equal(ds_hkdf_sha256(salt, sizeof(salt), ikm, sizeof(ikm), info, strlen(info),
					okm, sizeof(okm)), 0);
	assert_memory_equal(okm, want, 64);
	ds_sync15_keybundle_from_ksync(okm, &kb);
	assert_memory_equal(kb.enc, want, 32);
	assert_memory_equal(kb.hmac, want + 32, 32);
	vec_free(&vf);
}

/* AT-02: TV-2 decrypts to its plaintext and re-encrypts to its ciphertext and HMAC exactly. */
static void test_at02_tv2_record_decrypts_and_encrypts_byte_exact(void **state)
{
	struct vec_file vf;

	(void)state;
	load("storage_format5.txt", &vf);
	record_both_ways(find(&vf, "TV-2"));
	vec_free(&vf);
}

/* AT-03: the same for TV-3 (a history record of application-services' tests). */
static void test_at03_tv3_record_decrypts_and_encrypts_byte_exact(void **state)
{
	struct vec_file vf;

	(void)state;
	load("storage_format5.txt", &vf);
	record_both_ways(find(&vf, "TV-3"));
	vec_free(&vf);
}

/* AT-04: TV-4 end to end through our own code: kB -> kSync (account keys) -> crypto/keys
 * decrypted with the Sync key bundle -> its default bundle -> the history BSO through the
 * remote's record transform, byte for byte. */
static void test_at04_tv4_kb_to_crypto_keys_to_history_record_byte_exact(void **state)
{
	struct vec_file vf, sk;
	const struct vec_record *keys, *hist;
	uint8_t kb[32], ksync[64], want_ksync[64];
	struct ds_sync15_keybundle sync_kb;
	struct ds_sync15_keyring kr;
	struct ds_transform *t;
	struct ds_record in = { 0 }, out = { 0 };
	char *keys_payload, want[BIG];

	(void)state;
	load("storage_format5.txt", &vf);
	load("scoped_keys.txt", &sk);
	assert_int_equal(vec_bytes(find(&sk, "TV-4"), "kb", kb, sizeof(kb)), 32);
	assert_int_equal(vec_bytes(find(&vf, "TV-4 kSync"), "okm", want_ksync, 64), 64);
	assert_int_equal(ds_account_ksync(kb, ksync), 0);
	assert_memory_equal(ksync, want_ksync, 64);

	keys = find(&vf, "TV-4 crypto/keys");
	hist = find(&vf, "TV-4 history");
	ds_sync15_keybundle_from_ksync(ksync, &sync_kb);
	keys_payload = payload_of(keys, false);
	assert_int_equal(ds_sync15_keyring_decrypt(&sync_kb, keys_payload, &kr), 0);
	assert_int_equal(ds_sync15_transform_new(ds_sync15_keyring_get(&kr, "history"), &t), 0);
	in.id = "_9sCUbahs0ay";
	in.payload = payload_of(hist, false);
	assert_int_equal(t->ops->decode(t, &in, &out), 0);
	assert_true(vec_text(hist, "plaintext", want, sizeof(want)) > 0);
	assert_string_equal(out.payload, want);
	ds_record_clear(&out);
	t->ops->close(t);
	free(in.payload);
	free(keys_payload);
	ds_sync15_keyring_clear(&kr);
	ds_memzero(ksync, sizeof(ksync));
	vec_free(&sk);
	vec_free(&vf);
}

/* AT-01..04: the HMAC's hex is read in either case (AS decodes it case-insensitively). */
static void test_at01_04_hmac_hex_accepted_in_either_case(void **state)
{
	struct vec_file vf;
	const struct vec_record *r;
	struct ds_sync15_keybundle kb;
	char *payload, *clear = NULL;
	size_t len;

	(void)state;
	load("storage_format5.txt", &vf);
	r = find(&vf, "TV-2");
	key_field(r, "enc_key", kb.enc, 32);
	key_field(r, "hmac_key", kb.hmac, 32);
	payload = payload_of(r, true);
	assert_non_null(strstr(payload, "B5D1479AE2"));
	assert_int_equal(ds_sync15_decrypt(&kb, payload, &clear, &len), 0);
	assert_string_equal(clear, "SECRET MESSAGE");
	ds_free(clear);
	free(payload);
	vec_free(&vf);
}

static char *payload3(const char *ct, const char *iv, const char *hmac)
{
	return ds_asprintf("{\"ciphertext\":\"%s\",\"IV\":\"%s\",\"hmac\":\"%s\"}", ct, iv, hmac);
}

/* AT-01..04: a wrong HMAC, wrong in its first or in its last byte, is refused before anything
 * is decrypted: a payload whose ciphertext is not even base64 fails as -EBADMSG (HMAC) when its
 * HMAC is wrong, and only gets to -EILSEQ (decoding) when the HMAC over its ASCII text is
 * right. The comparison itself is ds_ct_memcmp (constant time, crypto_test). */
static void test_at01_04_hmac_mismatch_never_decrypts(void **state)
{
	struct vec_file vf;
	const struct vec_record *r;
	struct ds_sync15_keybundle kb;
	char good[80], bad[80], ct[BIG], *p, *clear = NULL;
	uint8_t mac[32];
	size_t len = 0;

	(void)state;
	load("storage_format5.txt", &vf);
	r = find(&vf, "TV-2");
	key_field(r, "enc_key", kb.enc, 32);
	key_field(r, "hmac_key", kb.hmac, 32);
	assert_true(vec_text(r, "ciphertext", ct, sizeof(ct)) > 0);
	snprintf(good, sizeof(good), "%s", vec_raw(r, "hmac"));
	for (int where = 0; where < 2; where++) {
		snprintf(bad, sizeof(bad), "%s", good);
		bad[where ? 63 : 0] = bad[where ? 63 : 0] == '0' ? '1' : '0';
		p = payload3(ct, "N1oS1t5O8mtzX2/M+6//LQ==", bad);
		assert_int_equal(ds_sync15_decrypt(&kb, p, &clear, &len), -EBADMSG);
		assert_null(clear);
		ds_free(p);
	}
	/* The HMAC is checked first: garbage ciphertext with a wrong HMAC is an HMAC failure ... */
	p = payload3("!!not-base64!!", "N1oS1t5O8mtzX2/M+6//LQ==", good);
	assert_int_equal(ds_sync15_decrypt(&kb, p, &clear, &len), -EBADMSG);
	ds_free(p);
	/* ... and with the right HMAC over its text it reaches decoding, which refuses it. */
	assert_int_equal(ds_hmac_sha256(kb.hmac, 32, "!!not-base64!!", 14, mac), 0);
	ds_hex_encode(mac, sizeof(mac), good, sizeof(good));
	p = payload3("!!not-base64!!", "N1oS1t5O8mtzX2/M+6//LQ==", good);
	assert_int_equal(ds_sync15_decrypt(&kb, p, &clear, &len), -EILSEQ);
	assert_null(clear);
	ds_free(p);
	vec_free(&vf);
}

/* AT-05: X-Client-State and the kid suffix from the TV-4 kB (vectors.md, derived values). */
static void test_at05_kid_and_client_state_from_tv4_kb(void **state)
{
	struct vec_file sk;
	const struct vec_record *r;
	uint8_t kb[32];
	char cs[40], want_cs[40], suffix[40], kid[DS_ACCOUNT_KID_MAX], want_kid[80];

	(void)state;
	load("scoped_keys.txt", &sk);
	r = find(&sk, "TV-4");
	assert_int_equal(vec_bytes(r, "kb", kb, sizeof(kb)), 32);
	assert_true(vec_text(r, "client_state", want_cs, sizeof(want_cs)) > 0);
	assert_true(vec_text(r, "kid_suffix", suffix, sizeof(suffix)) > 0);
	assert_int_equal(ds_account_client_state(kb, cs, sizeof(cs)), 32);
	assert_string_equal(cs, want_cs);
	assert_true(ds_account_key_id(1439366063808, kb, kid, sizeof(kid)) > 0);
	snprintf(want_kid, sizeof(want_kid), "1439366063808-%s", suffix);
	assert_string_equal(kid, want_kid);
	vec_free(&sk);
}

/* ---- a tokenserver stand-in: scripted answers, request heads kept -------------------------- */

#define MAX_ANSWERS 4

struct responder {
	pid_t pid;
	int port;
	char log[600];
};

static void responder_child(int lfd, const char *log, const char *const *bodies, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char req[8192], resp[2048];
		size_t got = 0;
		int fd = accept(lfd, NULL, NULL);
		FILE *f;

		if (fd < 0)
			_exit(1);
		while (got < sizeof(req) - 1) {
			ssize_t k = read(fd, req + got, sizeof(req) - 1 - got);
			if (k <= 0)
				break;
			got += (size_t)k;
			req[got] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		req[got] = '\0';
		f = fopen(log, "a");
		if (f) {
			fprintf(f, "%s\n----\n", req);
			fclose(f);
		}
		snprintf(resp, sizeof(resp),
			 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n%s", strlen(bodies[i]), bodies[i]);
		if (write(fd, resp, strlen(resp)) < 0)
			_exit(1);
		shutdown(fd, SHUT_WR);
		while (read(fd, req, sizeof(req)) > 0)
			;
		close(fd);
	}
	_exit(0);
}

static void responder_start(struct responder *r, const char *const *bodies, size_t n)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	const char *t = getenv("DS_TEST_TMP");
	char dir[512];
	int lfd;

	if (t && *t)
		snprintf(dir, sizeof(dir), "%s", t);
	else {
		snprintf(dir, sizeof(dir), "%s/ds-at-XXXXXX", P_tmpdir);
		assert_non_null(mkdtemp(dir));
	}
	snprintf(r->log, sizeof(r->log), "%s/at-tokens-%d.log", dir, (int)getpid());
	unlink(r->log);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
	r->port = ntohs(a.sin_port);
	fflush(NULL);
	r->pid = fork();
	assert_true(r->pid >= 0);
	if (r->pid == 0)
		responder_child(lfd, r->log, bodies, n);
	close(lfd);
}

/* Stops the child; returns the request heads it received (malloc'ed, "" when none). */
static char *responder_stop(struct responder *r)
{
	FILE *f;
	char *buf = calloc(1, 65536);
	size_t n = 0;

	assert_non_null(buf);
	kill(r->pid, SIGTERM);
	waitpid(r->pid, NULL, 0);
	f = fopen(r->log, "r");
	if (f) {
		n = fread(buf, 1, 65535, f);
		fclose(f);
	}
	buf[n] = '\0';
	unlink(r->log);
	return buf;
}

/* Occurrences of needle in hay, header names compared without case (HTTP field names). */
static unsigned count_of(const char *hay, const char *needle)
{
	size_t nl = strlen(needle);
	unsigned n = 0;

	for (const char *p = hay; *p; p++)
		if (!strncasecmp(p, needle, nl))
			n++;
	return n;
}

static int64_t g_mono_ms = 5000000;

static int64_t at_mono(void)
{
	return g_mono_ms;
}

static int64_t at_wall(void)
{
	return INT64_C(1767225600000) + g_mono_ms;
}

struct tok_fx {
	struct responder srv;
	struct ds_http_client *http;
	struct ds_tokenserver *ts;
};

static void tok_open(struct tok_fx *f, const char *const *bodies, size_t n)
{
	struct ds_tokenserver_config tc = { .mono_ms = at_mono, .wall_ms = at_wall };
	struct ds_http_config hc = { .timeout_s = 10, .keep_headers = ds_tokenserver_keep_headers };
	char url[128];

	responder_start(&f->srv, bodies, n);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f->srv.port);
	tc.url = url;
	assert_int_equal(ds_http_client_new(&hc, &f->http), 0);
	assert_int_equal(ds_tokenserver_new(&tc, &f->ts), 0);
}

static char *tok_close(struct tok_fx *f)
{
	ds_tokenserver_free(f->ts);
	ds_http_client_free(f->http);
	return responder_stop(&f->srv);
}

#define TOKEN(node, dur)                                                                           \
	"{\"id\":\"hawk-id\",\"key\":\"hawk-key\",\"uid\":42,\"api_endpoint\":\"" node                 \
	"/1.5/42\",\"duration\":" #dur ",\"hashed_fxa_uid\":\"0123abcd\"}"

/* AT-05: the token request carries Authorization: Bearer <OAuth token> and X-KeyID: <kid>, as
 * received on the wire. */
static void test_at05_token_request_carries_bearer_and_key_id(void **state)
{
	static const char *const answers[] = { TOKEN("http://127.0.0.1:9", 300) };
	struct ds_tokenserver_auth auth = { .access_token = "oauth-access-token-1",
					    .key_id = "1439366063808-UY_vJ8a7wCIKqw8AsaNzCA" };
	struct ds_tokenserver_result res;
	struct tok_fx f;
	char *heads;

	(void)state;
	tok_open(&f, answers, 1);
	assert_int_equal(ds_tokenserver_get(f.ts, f.http, &auth, &res), 0);
	assert_string_equal(res.token->api_endpoint, "http://127.0.0.1:9/1.5/42");
	heads = tok_close(&f);
	assert_non_null(strstr(heads, "GET /1.0/sync/1.5 HTTP/1.1\r\n"));
	assert_int_equal(count_of(heads, "\r\nAuthorization: Bearer oauth-access-token-1\r\n"), 1);
	assert_int_equal(count_of(heads, "\r\nX-KeyID: 1439366063808-UY_vJ8a7wCIKqw8AsaNzCA\r\n"), 1);
	free(heads);
}

/* AT-06: the token is kept for its `duration` and a new one fetched after it; a new token
 * naming another api_endpoint is reported as a node reassignment. */
static void test_at06_new_token_after_duration_other_endpoint_is_reassignment(void **state)
{
	static const char *const answers[] = { TOKEN("http://127.0.0.1:9", 300),
						TOKEN("http://127.0.0.1:9", 300),
						TOKEN("http://127.0.0.1:10", 300) };
	struct ds_tokenserver_auth auth = { .access_token = "oauth-access-token-2",
					    .key_id = "1439366063808-UY_vJ8a7wCIKqw8AsaNzCA" };
	struct ds_tokenserver_result res;
	struct tok_fx f;
	char *heads;

	(void)state;
	tok_open(&f, answers, 3);
	assert_int_equal(ds_tokenserver_get(f.ts, f.http, &auth, &res), 0);
	assert_false(res.from_cache);
	g_mono_ms += 200 * 1000; /* within the duration (and its refetch margin) */
	assert_int_equal(ds_tokenserver_get(f.ts, f.http, &auth, &res), 0);
	assert_true(res.from_cache);
	g_mono_ms += 101 * 1000; /* past the duration */
	assert_int_equal(ds_tokenserver_get(f.ts, f.http, &auth, &res), 0);
	assert_false(res.from_cache);
	assert_false(res.node_reassigned);
	/* The storage node said 401: the next token comes from another node. */
	ds_tokenserver_invalidate(f.ts);
	assert_int_equal(ds_tokenserver_get(f.ts, f.http, &auth, &res), 0);
	assert_true(res.node_reassigned);
	assert_string_equal(res.token->api_endpoint, "http://127.0.0.1:10/1.5/42");
	heads = tok_close(&f);
	assert_int_equal(count_of(heads, "GET /1.0/sync/1.5 "), 3);
	free(heads);
}

/* AT-17 (the remote's part): a deletion goes out as the encrypted cleartext
 * {"id":"<id>","deleted":true} and nothing else, and comes back as a deletion. */
static void test_at17_tombstone_is_id_and_deleted_true(void **state)
{
	struct ds_sync15_keybundle kb;
	struct ds_transform *t;
	struct ds_record in = { .id = "{5d7c9e3a-0b1f}", .deleted = true }, enc, dec;
	char *clear = NULL;
	size_t len;
	cJSON *o;

	(void)state;
	assert_int_equal(ds_sync15_keybundle_random(&kb), 0);
	assert_int_equal(ds_sync15_transform_new(&kb, &t), 0);
	assert_int_equal(t->ops->encode(t, &in, &enc), 0);
	assert_false(enc.deleted);
	assert_int_equal(ds_sync15_decrypt(&kb, enc.payload, &clear, &len), 0);
	o = cJSON_Parse(clear);
	assert_non_null(o);
	assert_int_equal(cJSON_GetArraySize(o), 2);
	assert_string_equal(jstr(o, "id"), "{5d7c9e3a-0b1f}");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "deleted")));
	cJSON_Delete(o);
	ds_free(clear);
	assert_int_equal(t->ops->decode(t, &enc, &dec), 0);
	assert_true(dec.deleted);
	assert_null(dec.payload);
	assert_string_equal(dec.id, in.id);
	ds_record_clear(&enc);
	ds_record_clear(&dec);
	t->ops->close(t);
	ds_sync15_keybundle_wipe(&kb);
}

/* AT-20: "1388635807.41" -> 1388635807410 ms -> "1388635807.41" (AS server_timestamp.rs), the
 * same from a JSON number, no float rounding on the way. */
static void test_at20_timestamp_parsed_to_ms_and_printed_back(void **state)
{
	static const struct {
		const char *in;
		int64_t ms;
		const char *out;
	} cases[] = {
		{ "1388635807.41", INT64_C(1388635807410), "1388635807.41" },
		{ "1388635807.4", INT64_C(1388635807400), "1388635807.4" },
		{ "1388635807", INT64_C(1388635807000), "1388635807" },
		{ "1700000000.07", INT64_C(1700000000070), "1700000000.07" },
	};
	char out[DS_SYNC15_TS_MAX];
	int64_t ms;
	cJSON *n;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(ds_sync15_ts_parse(cases[i].in, &ms), 0);
		assert_int_equal(ms, cases[i].ms);
		ds_sync15_ts_format(ms, out);
		assert_string_equal(out, cases[i].out);
	}
	n = cJSON_Parse("{\"bookmarks\":1388635807.41}");
	assert_int_equal(ds_sync15_ts_from_json(cJSON_GetObjectItem(n, "bookmarks"), &ms), 0);
	assert_int_equal(ms, INT64_C(1388635807410));
	cJSON_Delete(n);
	assert_int_equal(ds_sync15_ts_parse("", &ms), -EINVAL);
	assert_int_equal(ds_sync15_ts_parse("-1", &ms), -EINVAL);
	assert_int_equal(ds_sync15_ts_parse("1e9", &ms), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_at01_tv1_hkdf_gives_the_key_bundle_byte_exact),
		cmocka_unit_test(test_at02_tv2_record_decrypts_and_encrypts_byte_exact),
		cmocka_unit_test(test_at03_tv3_record_decrypts_and_encrypts_byte_exact),
		cmocka_unit_test(test_at04_tv4_kb_to_crypto_keys_to_history_record_byte_exact),
		cmocka_unit_test(test_at01_04_hmac_hex_accepted_in_either_case),
		cmocka_unit_test(test_at01_04_hmac_mismatch_never_decrypts),
		cmocka_unit_test(test_at05_kid_and_client_state_from_tv4_kb),
		cmocka_unit_test(test_at05_token_request_carries_bearer_and_key_id),
		cmocka_unit_test(test_at06_new_token_after_duration_other_endpoint_is_reassignment),
		cmocka_unit_test(test_at17_tombstone_is_id_and_deleted_true),
		cmocka_unit_test(test_at20_timestamp_parsed_to_ms_and_printed_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
