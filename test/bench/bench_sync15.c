/*
 * bench_sync15 - cost of the Sync 1.5 remote against the storage test server
 * (test/servers/syncstorage/server.py, docs/test-servers.md), over real HTTP on loopback.
 *
 *   bench_sync15 --src SRCDIR [--records N] [--python PY]
 *
 * The tool starts the server, mints a token with its test control, writes the account's setup
 * (meta/global, crypto/keys under a fixed kSync) and N encrypted records with the unauthenticated
 * seed control, then runs each phase in a fresh process (the tool re-executed with --phase), so
 * peak RSS and CPU are the phase's own:
 *   download   a new device's first sync of the N records, then the same process syncs again
 *              with nothing changed (the requests an unchanged account costs);
 *   restart    a new process syncing the unchanged account (no cached state: keys read again);
 *   upload     a device with N local records makes its first sync into an empty collection,
 *              then syncs again with nothing changed.
 * Requests and body bytes are the server's counters (GET /__testing__/stats, reset before each
 * run), cross-checked with the client's own request count. The engine is a bench engine that
 * keeps no records in memory (a counter for downloads, a bitmap of pending ids for uploads), so
 * the RSS is the agent's: the sync core, the metadata store, the remote, HTTP and crypto.
 *
 * Then a crypto micro-benchmark on the same N cleartexts: the remote's storage format 5 path
 * (ds_sync15_encrypt/decrypt: AES-256-CBC, HMAC-SHA256 over the base64 ciphertext, base64, hex,
 * the JSON wrapper) against raw mbedTLS AES-256-CBC + HMAC-SHA256 over the same bytes.
 * Not part of the test suite: test/bench/run-bench.sh runs it (make bench).
 */
#include "core/ds_core.h"
#include "net/ds_http.h"
#include "remote/sync15/ds_sync15.h"
#include "store/ds_store.h"
#include "sync/ds_sync.h"
#include "test/support/fake_remote.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <mbedtls/aes.h>
#include <mbedtls/md.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SECRET "bench-sync15-secret"
#define UID 7
#define COLL_DOWN "benchdown"
#define COLL_UP "benchup"
#define SEED_CHUNK 2000

static const uint8_t KSYNC[64] = { 0x42, 0x17, [20] = 0x99, [32] = 0x0f, [63] = 0xee };

static char g_url[128];
static struct ds_http_client *g_http;

static void die(const char *what)
{
	fprintf(stderr, "bench_sync15: %s\n", what);
	exit(1);
}

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_usec;
}

static long peak_rss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* ---- records -------------------------------------------------------------------------------- */

/* A history-like cleartext of ordinary size (sync15.md §8: histUri, title, visits). */
static int make_clear(char *buf, size_t cap, const char *id, unsigned long i)
{
	return snprintf(buf, cap,
			"{\"id\":\"%s\",\"histUri\":\"https://www.example.org/articles/%lu/"
			"a-readable-slug-for-the-page\",\"title\":\"Article %lu: a page title of "
			"ordinary length\",\"visits\":[{\"date\":%" PRId64 ",\"type\":1},{\"date\":%"
			PRId64 ",\"type\":2}]}",
			id, i, i, (int64_t)1700000000000000 + (int64_t)i * 1000,
			(int64_t)1700000100000000 + (int64_t)i * 1000);
}

static void make_id(char out[24], char prefix, unsigned long i)
{
	snprintf(out, 24, "%c%011lu", prefix, i); /* 12 characters, like Firefox's ids */
}

/* ---- the bench engine ----------------------------------------------------------------------- */

struct bengine {
	struct ds_engine base;
	unsigned long n;        /* upload mode: local records u00000000000..; 0: download mode */
	uint8_t *pending;       /* bitmap */
	unsigned long applied;
	size_t applied_bytes;
};

static struct bengine *be(struct ds_engine *e)
{
	return e->priv;
}

static int b_ok(struct ds_engine *e)
{
	DS_UNUSED(e);
	return 0;
}

static bool is_pending(const struct bengine *b, unsigned long i)
{
	return b->pending && i < b->n && (b->pending[i / 8] >> (i % 8)) & 1;
}

static int id_index(const struct bengine *b, const char *id, unsigned long *i)
{
	char *end;

	if (!b->n || id[0] != 'u')
		return -ENOENT;
	*i = strtoul(id + 1, &end, 10);
	return *end || *i >= b->n ? -ENOENT : 0;
}

static int b_fill(unsigned long i, struct ds_record *r, char *idbuf, char *clear, size_t cap)
{
	make_id(idbuf, 'u', i);
	make_clear(clear, cap, idbuf, i);
	memset(r, 0, sizeof(*r));
	r->id = idbuf;
	r->payload = clear;
	r->modified_ms = 1;
	r->change_seq = (uint64_t)i + 1;
	return 0;
}

static int b_changes_after(struct ds_engine *e, uint64_t after_seq, const char *after_id,
			   ds_record_cb cb, void *ud)
{
	struct bengine *b = be(e);
	char id[24], clear[512];

	DS_UNUSED(after_id);
	for (unsigned long i = (unsigned long)after_seq; i < b->n; i++) {
		struct ds_record r;
		int rc;

		if (!is_pending(b, i))
			continue;
		b_fill(i, &r, id, clear, sizeof(clear));
		rc = cb(&r, ud);
		if (rc == DS_RECORD_STOP)
			return 0;
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int b_changes(struct ds_engine *e, ds_record_cb cb, void *ud)
{
	return b_changes_after(e, 0, NULL, cb, ud);
}

static int b_pending(struct ds_engine *e, const char *id, struct ds_pending_info *out)
{
	struct bengine *b = be(e);
	unsigned long i;

	if (id_index(b, id, &i) < 0 || !is_pending(b, i))
		return -ENOENT;
	out->change_seq = (uint64_t)i + 1;
	out->modified_ms = 1;
	out->deleted = false;
	return 0;
}

static int b_get(struct ds_engine *e, const char *id, struct ds_record *out)
{
	struct bengine *b = be(e);
	char idbuf[24], clear[512];
	struct ds_record r;
	unsigned long i;

	if (id_index(b, id, &i) < 0)
		return -ENOENT;
	b_fill(i, &r, idbuf, clear, sizeof(clear));
	return ds_record_copy(out, &r);
}

static int b_apply(struct ds_engine *e, const struct ds_record *r)
{
	struct bengine *b = be(e);

	b->applied++;
	b->applied_bytes += r->payload ? strlen(r->payload) : 0;
	return 0;
}

static int b_forget(struct ds_engine *e, const char *id, uint64_t seq)
{
	struct bengine *b = be(e);
	unsigned long i;

	if (id_index(b, id, &i) == 0 && seq >= (uint64_t)i + 1)
		b->pending[i / 8] &= (uint8_t)~(1u << (i % 8));
	return 0;
}

static void b_close(struct ds_engine *e)
{
	struct bengine *b = be(e);

	free(b->pending);
	free(b);
}

static const struct ds_engine_ops bench_engine_ops = {
	.kind = "bench",
	.prepare = b_ok,
	.begin = b_ok,
	.commit = b_ok,
	.rollback = b_ok,
	.changes = b_changes,
	.changes_after = b_changes_after,
	.pending = b_pending,
	.get = b_get,
	.apply = b_apply,
	.forget = b_forget,
	.mark_all = b_ok,
	.close = b_close,
};

static struct bengine *bengine_new(unsigned long n_local)
{
	struct bengine *b = calloc(1, sizeof(*b));

	if (!b)
		die("out of memory");
	b->base.ops = &bench_engine_ops;
	b->base.priv = b;
	b->n = n_local;
	if (n_local) {
		b->pending = malloc((n_local + 7) / 8);
		if (!b->pending)
			die("out of memory");
		memset(b->pending, 0xff, (n_local + 7) / 8);
	}
	return b;
}

/* ---- the server and its test controls ------------------------------------------------------- */

static int control(const char *method, const char *path, const char *json, cJSON **out)
{
	struct ds_http_header h[] = { { "Content-Type", "application/json" } };
	struct ds_http_request req = { .method = method, .headers = h, .n_headers = 1 };
	struct ds_http_response resp;
	char url[512];
	int status;

	snprintf(url, sizeof(url), "%s/__testing__/%s", g_url, path);
	req.url = url;
	req.body = json;
	req.body_len = json ? strlen(json) : 0;
	if (ds_http_perform(g_http, &req, &resp) != 0)
		die("a test control request failed");
	status = resp.status;
	if (out)
		*out = cJSON_Parse(resp.body ? resp.body : "");
	ds_http_response_free(&resp);
	return status;
}

static void http_open(void)
{
	struct ds_http_config hc = { .timeout_s = 120 };

	signal(SIGPIPE, SIG_IGN);
	if (ds_http_client_new(&hc, &g_http) != 0)
		die("no HTTP client");
}

static pid_t start_server(const char *py, const char *src, int *in_fd)
{
	int out[2], in[2], port;
	char script[PATH_MAX], line[64];
	size_t n = 0;
	pid_t pid;

	snprintf(script, sizeof(script), "%s/test/servers/syncstorage/server.py", src);
	if (pipe(out) || pipe(in))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]), close(in[1]), close(out[0]), close(out[1]);
		execl(py, py, script, "--secret", SECRET, "--data-dir", ":memory:", "--exit-on-eof",
		      (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	*in_fd = in[1];
	fcntl(*in_fd, F_SETFD, FD_CLOEXEC);
	while (n + 1 < sizeof(line) && read(out[0], line + n, 1) == 1 && line[n] != '\n')
		n++;
	line[n] = '\0';
	close(out[0]);
	if (sscanf(line, "PORT %d", &port) != 1)
		die("the storage test server did not start");
	snprintf(g_url, sizeof(g_url), "http://127.0.0.1:%d", port);
	return pid;
}

static void seed(const char *coll, cJSON *bsos)
{
	cJSON *o = cJSON_CreateObject();
	char *body;

	cJSON_AddNumberToObject(o, "uid", UID);
	cJSON_AddStringToObject(o, "collection", coll);
	cJSON_AddItemToObject(o, "bsos", bsos);
	body = cJSON_PrintUnformatted(o);
	if (!body || control("POST", "seed", body, NULL) != 200)
		die("seeding the server failed");
	cJSON_free(body);
	cJSON_Delete(o);
}

static void add_bso(cJSON *arr, const char *id, const char *payload)
{
	cJSON *b = cJSON_CreateObject();

	cJSON_AddStringToObject(b, "id", id);
	cJSON_AddStringToObject(b, "payload", payload);
	cJSON_AddItemToArray(arr, b);
}

/* The account's setup and n encrypted records in COLL_DOWN, as another client would have left. */
static void seed_account(unsigned long n)
{
	struct ds_sync15_keybundle sync_kb;
	struct ds_sync15_keyring kr;
	cJSON *meta = ds_sync15_meta_new(COLL_DOWN, 1), *arr;
	char *text, *payload;

	if (!meta || ds_sync15_meta_fixup(meta, COLL_UP, 1, true) < 0)
		die("meta/global");
	text = cJSON_PrintUnformatted(meta);
	arr = cJSON_CreateArray();
	add_bso(arr, "global", text);
	seed("meta", arr);
	cJSON_free(text);
	cJSON_Delete(meta);
	ds_sync15_keybundle_from_ksync(KSYNC, &sync_kb);
	if (ds_sync15_keyring_new_random(&kr) < 0 || ds_sync15_keyring_encrypt(&sync_kb, &kr, &payload) < 0)
		die("crypto/keys");
	arr = cJSON_CreateArray();
	add_bso(arr, "keys", payload);
	seed("crypto", arr);
	ds_free(payload);
	for (unsigned long i = 0; i < n; i += SEED_CHUNK) {
		arr = cJSON_CreateArray();
		for (unsigned long k = i; k < n && k < i + SEED_CHUNK; k++) {
			char id[24], clear[512];
			int len;

			make_id(id, 'd', k);
			len = make_clear(clear, sizeof(clear), id, k);
			if (ds_sync15_encrypt(ds_sync15_keyring_get(&kr, COLL_DOWN), clear, (size_t)len,
					      NULL, &payload) < 0)
				die("encrypt");
			add_bso(arr, id, payload);
			ds_free(payload);
		}
		seed(COLL_DOWN, arr);
	}
	ds_sync15_keyring_clear(&kr);
	ds_sync15_keybundle_wipe(&sync_kb);
}

/* ---- one phase (a process of its own) ------------------------------------------------------- */

static int bench_token(void *ctx, bool fresh, struct ds_sync15_creds *out)
{
	const char *e = getenv("BENCH_S15_ENDPOINT"), *id = getenv("BENCH_S15_ID"),
		   *key = getenv("BENCH_S15_KEY");

	DS_UNUSED(ctx);
	DS_UNUSED(fresh);
	if (!e || !id || !key)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	snprintf(out->endpoint, sizeof(out->endpoint), "%s", e);
	snprintf(out->hawk_id, sizeof(out->hawk_id), "%s", id);
	snprintf(out->hawk_key, sizeof(out->hawk_key), "%s", key);
	return 0;
}

static int bench_ksync(void *ctx, uint8_t out[64])
{
	DS_UNUSED(ctx);
	memcpy(out, KSYNC, 64);
	return 0;
}

static const struct ds_sync15_auth_ops bench_auth_ops = { .token = bench_token,
							  .ksync = bench_ksync };

struct server_stats {
	long requests, bytes_in, bytes_out, gets, posts;
};

static void stats_take(struct server_stats *s)
{
	cJSON *o = NULL, *ep, *it;

	if (control("GET", "stats?reset=1", NULL, &o) != 200 || !cJSON_IsObject(o))
		die("server stats");
	memset(s, 0, sizeof(*s));
	s->requests = (long)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "requests"));
	s->bytes_in = (long)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "bytes_in"));
	s->bytes_out = (long)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "bytes_out"));
	ep = cJSON_GetObjectItem(o, "by_endpoint");
	cJSON_ArrayForEach(it, ep) {
		if (strcmp(it->string, "GET storage/<coll>") == 0)
			s->gets += (long)it->valuedouble;
		if (strcmp(it->string, "POST storage/<coll>") == 0)
			s->posts += (long)it->valuedouble;
	}
	cJSON_Delete(o);
}

/* RssAnon / RssFile now (KiB): what the peak is made of. */
static void rss_parts(long *anon, long *file)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];

	*anon = *file = -1;
	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "RssAnon: %ld", anon);
		sscanf(line, "RssFile: %ld", file);
	}
	if (f)
		fclose(f);
}

/* With BENCH_S15_MAPS set: the resident KiB of each file mapped (summed per file), to stderr. */
static void rss_by_file(void)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512], cur[256] = "";
	long kb;

	while (f && fgets(line, sizeof(line), f)) {
		char *slash = strchr(line, '/');

		if (strchr(line, '-') == line + strspn(line, "0123456789abcdef")) {
			snprintf(cur, sizeof(cur), "%s", slash ? slash : "[anon]\n");
			cur[strcspn(cur, "\n")] = '\0';
		} else if (sscanf(line, "Rss: %ld", &kb) == 1 && kb > 0) {
			fprintf(stderr, "maps %6ld KiB %s\n", kb, cur);
		}
	}
	if (f)
		fclose(f);
}

/*
 * The peak of RssAnon during a run (the kernel keeps the peak of the total only, VmHWM):
 * sampled from the run's progress callback, every 100 calls (a call per record fetched and
 * per record applied), and once at the end of the run.
 */
static long g_peak_anon;
static unsigned long g_progress_calls;

static void sample_anon(void)
{
	long anon, file;

	rss_parts(&anon, &file);
	if (anon > g_peak_anon)
		g_peak_anon = anon;
}

static void on_progress(const char *collection, const char *phase, unsigned long done,
			unsigned long total, void *user_data)
{
	DS_UNUSED(collection);
	DS_UNUSED(phase);
	DS_UNUSED(done);
	DS_UNUSED(total);
	DS_UNUSED(user_data);
	if (++g_progress_calls % 100 == 0)
		sample_anon();
}

static void row(const char *phase, unsigned long n, int64_t wall_us, int64_t cpu, long rss,
		const struct server_stats *s, unsigned long client_reqs, const struct ds_run_stats *st)
{
	long anon, file;

	sample_anon();
	rss_parts(&anon, &file);
	if (getenv("BENCH_S15_MAPS"))
		rss_by_file();
	printf("| %-26s | %7lu | %8.0f | %7.0f | %7ld | %7ld | %6ld | %6ld | %5ld | %4ld | %5ld | %6lu | %10ld | %10ld | %lu/%lu/%lu |\n",
	       phase, n, wall_us / 1000.0, cpu / 1000.0, rss, g_peak_anon, anon, file, s->requests,
	       s->gets, s->posts,
	       client_reqs, s->bytes_in, s->bytes_out, st->fetched, st->applied, st->uploaded);
	fflush(stdout);
}

static int phase_run(const char *phase, unsigned long n, const char *work)
{
	struct ds_sync15_remote_config rc = { .engine_version = 1 };
	struct ds_policy pol = { .direction = DS_DIR_TWO_WAY, .conflict = DS_CONFLICT_SERVER_WINS,
				 .max_retries = 3 };
	bool up = strcmp(phase, "upload") == 0;
	struct bengine *b = bengine_new(up ? n : 0);
	struct ds_collection *c;
	struct ds_remote *r;
	struct ds_store *store;
	struct server_stats s;
	struct ds_run_stats st;
	char path[PATH_MAX];
	int64_t w0, c0;
	unsigned long reqs0;
	int err;

	http_open();
	snprintf(path, sizeof(path), "%s/%s.db", work, up ? "up" : "down");
	if (strcmp(phase, "restart") != 0)
		unlink(path);
	if (ds_store_open(path, &store) < 0)
		die("store");
	rc.collection = up ? COLL_UP : COLL_DOWN;
	rc.auth.ops = &bench_auth_ops;
	if (ds_sync15_remote_new(&rc, &r) < 0 ||
	    ds_fake_collection_new(rc.collection, &b->base, r, NULL, &pol, &c) < 0)
		die("collection");
	for (int round = 0; round < 2; round++) {
		const char *name = round == 0 ? (up ? "upload: first sync" :
					      strcmp(phase, "restart") == 0 ?
							       "unchanged, new process" :
							       "download: first sync") :
						"unchanged, same process";

		if (round == 1 && strcmp(phase, "restart") == 0)
			break;
		stats_take(&s);
		reqs0 = ds_sync15_client_requests(ds_sync15_remote_client(r));
		w0 = mono_us();
		c0 = cpu_us();
		memset(&st, 0, sizeof(st));
		err = ds_sync_run(c, store, &st, on_progress, NULL);
		if (err < 0) {
			fprintf(stderr, "bench_sync15: %s: %s / %s\n", name, st.message,
				ds_sync15_remote_error(r));
			return 1;
		}
		w0 = mono_us() - w0;
		c0 = cpu_us() - c0;
		stats_take(&s);
		row(name, n, w0, c0, peak_rss_kib(), &s,
		    ds_sync15_client_requests(ds_sync15_remote_client(r)) - reqs0, &st);
	}
	if (!up && strcmp(phase, "download") == 0 && b->applied != n) {
		fprintf(stderr, "bench_sync15: %lu of %lu records applied\n", b->applied, n);
		return 1;
	}
	ds_fake_collection_free(c);
	ds_store_close(store);
	ds_http_client_free(g_http);
	return 0;
}

static void run_phase(const char *self, const char *phase, unsigned long n, const char *work)
{
	char nbuf[24];
	pid_t pid;
	int st;

	snprintf(nbuf, sizeof(nbuf), "%lu", n);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		execl(self, self, "--phase", phase, "--records", nbuf, "--work", work, "--url", g_url,
		      (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("a phase failed");
}

/* ---- crypto micro-benchmark ----------------------------------------------------------------- */

static void crypto_bench(unsigned long n)
{
	struct ds_sync15_keybundle kb;
	uint8_t iv[16] = { 1, 2, 3 }, ivw[16], ct[600], mac[32], pt[600];
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	mbedtls_aes_context enc, dec;
	int64_t t_enc = 0, t_dec = 0, t_raw_enc = 0, t_raw_dec = 0, t_key_enc = 0, t_key_dec = 0, t;
	size_t clear_bytes = 0, payload_bytes = 0;
	volatile uint8_t sink = 0;

	if (ds_sync15_keybundle_random(&kb) < 0)
		die("keys");
	mbedtls_aes_init(&enc);
	mbedtls_aes_init(&dec);
	mbedtls_aes_setkey_enc(&enc, kb.enc, 256);
	mbedtls_aes_setkey_dec(&dec, kb.enc, 256);
	for (unsigned long i = 0; i < n; i++) {
		char id[24], clear[512], *payload, *out;
		size_t len, padded, outlen;
		uint8_t pad;

		make_id(id, 'c', i);
		len = (size_t)make_clear(clear, sizeof(clear), id, i);
		clear_bytes += len;

		t = cpu_us();
		if (ds_sync15_encrypt(&kb, clear, len, iv, &payload) < 0)
			die("encrypt");
		t_enc += cpu_us() - t;
		payload_bytes += strlen(payload);
		t = cpu_us();
		if (ds_sync15_decrypt(&kb, payload, &out, &outlen) < 0 || outlen != len)
			die("decrypt");
		t_dec += cpu_us() - t;
		sink ^= (uint8_t)out[0];
		ds_free(out);
		ds_free(payload);

		/* Raw: PKCS#7 pad, AES-256-CBC, HMAC-SHA256 over the ciphertext bytes. */
		t = cpu_us();
		pad = (uint8_t)(16 - len % 16);
		padded = len + pad;
		memcpy(pt, clear, len);
		memset(pt + len, pad, pad);
		memcpy(ivw, iv, 16);
		mbedtls_aes_crypt_cbc(&enc, MBEDTLS_AES_ENCRYPT, padded, ivw, pt, ct);
		mbedtls_md_hmac(md, kb.hmac, 32, ct, padded, mac);
		t_raw_enc += cpu_us() - t;
		t = cpu_us();
		{
			uint8_t check[32];

			mbedtls_md_hmac(md, kb.hmac, 32, ct, padded, check);
			if (memcmp(check, mac, 32) != 0)
				die("raw hmac");
			memcpy(ivw, iv, 16);
			mbedtls_aes_crypt_cbc(&dec, MBEDTLS_AES_DECRYPT, padded, ivw, ct, pt);
		}
		t_raw_dec += cpu_us() - t;
		sink ^= pt[0];

		/* The same with the AES key schedule set up for each record, as a one-shot call does. */
		t = cpu_us();
		{
			mbedtls_aes_context k;

			mbedtls_aes_init(&k);
			mbedtls_aes_setkey_enc(&k, kb.enc, 256);
			memcpy(ivw, iv, 16);
			mbedtls_aes_crypt_cbc(&k, MBEDTLS_AES_ENCRYPT, padded, ivw, pt, ct);
			mbedtls_aes_free(&k);
			mbedtls_md_hmac(md, kb.hmac, 32, ct, padded, mac);
		}
		t_key_enc += cpu_us() - t;
		t = cpu_us();
		{
			mbedtls_aes_context k;
			uint8_t check[32];

			mbedtls_md_hmac(md, kb.hmac, 32, ct, padded, check);
			if (memcmp(check, mac, 32) != 0)
				die("raw hmac");
			mbedtls_aes_init(&k);
			mbedtls_aes_setkey_dec(&k, kb.enc, 256);
			memcpy(ivw, iv, 16);
			mbedtls_aes_crypt_cbc(&k, MBEDTLS_AES_DECRYPT, padded, ivw, ct, pt);
			mbedtls_aes_free(&k);
		}
		t_key_dec += cpu_us() - t;
		sink ^= pt[0];
	}
	mbedtls_aes_free(&enc);
	mbedtls_aes_free(&dec);
	ds_sync15_keybundle_wipe(&kb);
	printf("\ncrypto, %lu records, cleartext %zu B/record average, payload %zu B/record:\n", n,
	       clear_bytes / n, payload_bytes / n);
	printf("| path                                   | encrypt ms | decrypt ms | enc us/rec | dec us/rec |\n");
	printf("|----------------------------------------|------------|------------|------------|------------|\n");
	printf("| storage format 5 (ds_sync15_*crypt)    | %10.1f | %10.1f | %10.2f | %10.2f |\n",
	       t_enc / 1000.0, t_dec / 1000.0, (double)t_enc / n, (double)t_dec / n);
	printf("| raw mbedTLS AES-256-CBC + HMAC-SHA256  | %10.1f | %10.1f | %10.2f | %10.2f |\n",
	       t_raw_enc / 1000.0, t_raw_dec / 1000.0, (double)t_raw_enc / n, (double)t_raw_dec / n);
	printf("| raw, AES key set up for each record    | %10.1f | %10.1f | %10.2f | %10.2f |\n",
	       t_key_enc / 1000.0, t_key_dec / 1000.0, (double)t_key_enc / n, (double)t_key_dec / n);
	printf("(timed with the process CPU clock around each call; sink %u)\n", (unsigned)sink);
}

/* ---- main ----------------------------------------------------------------------------------- */

static const char *venv_python(const char *src, char *out, size_t cap)
{
	char cmd[PATH_MAX + 64], line[PATH_MAX];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "'%s/test/servers/setup-venv.sh'", src);
	f = popen(cmd, "r");
	if (!f)
		return NULL;
	out[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0])
			snprintf(out, cap, "%s", line);
	}
	return pclose(f) == 0 && out[0] ? out : NULL;
}

int main(int argc, char **argv)
{
	const char *src = NULL, *py = NULL, *phase = NULL, *work = NULL;
	unsigned long n = 10000;
	char pybuf[PATH_MAX], self[PATH_MAX], body[256];
	struct server_stats s;
	cJSON *tok = NULL;
	int in_fd;
	pid_t srv;
	ssize_t len;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			die("usage: bench_sync15 --src DIR [--records N] [--python PY] [--work DIR]");
		if (strcmp(a, "--src") == 0)
			src = v;
		else if (strcmp(a, "--python") == 0)
			py = v;
		else if (strcmp(a, "--records") == 0)
			n = strtoul(v, NULL, 10);
		else if (strcmp(a, "--phase") == 0)
			phase = v;
		else if (strcmp(a, "--work") == 0)
			work = v;
		else if (strcmp(a, "--url") == 0)
			snprintf(g_url, sizeof(g_url), "%s", v);
		else
			die("unknown option");
		i++;
	}
	if (n == 0)
		die("--records must be positive");
	ds_log_set_max_level(DS_LOG_ERR);
	if (phase)
		return phase_run(phase, n, work ? work : ".");
	if (!src)
		die("--src is required");
	if (!py && !(py = venv_python(src, pybuf, sizeof(pybuf))))
		die("no Python for the storage test server (test/servers/setup-venv.sh)");
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0)
		die("cannot find myself");
	self[len] = '\0';
	if (!work)
		work = ".";
	http_open();
	srv = start_server(py, src, &in_fd);
	snprintf(body, sizeof(body), "{\"uid\":%d,\"node\":\"%s\",\"duration\":36000}", UID, g_url);
	if (control("POST", "token", body, &tok) != 200)
		die("token");
	setenv("BENCH_S15_ENDPOINT", cJSON_GetStringValue(cJSON_GetObjectItem(tok, "api_endpoint")), 1);
	setenv("BENCH_S15_ID", cJSON_GetStringValue(cJSON_GetObjectItem(tok, "id")), 1);
	setenv("BENCH_S15_KEY", cJSON_GetStringValue(cJSON_GetObjectItem(tok, "key")), 1);
	cJSON_Delete(tok);
	seed_account(n);
	if (control("GET", "config", NULL, &tok) == 200) {
		char *lim = cJSON_PrintUnformatted(cJSON_GetObjectItem(tok, "limits"));

		printf("server limits: %s\n", lim ? lim : "?");
		cJSON_free(lim);
	}
	cJSON_Delete(tok);
	stats_take(&s);
	printf("download page: %d records (CONFIG_DS_REMOTE_SYNC15_PAGE_RECORDS)\n\n",
	       CONFIG_DS_REMOTE_SYNC15_PAGE_RECORDS);
	printf("| phase                      | records |  wall ms |  cpu ms | RSS KiB | pk anon |   anon |   file |  reqs | GETs | POSTs | client |   B in srv |  B out srv | fetch/apply/upl |\n");
	printf("|----------------------------|---------|----------|---------|---------|---------|--------|--------|-------|------|-------|--------|------------|------------|-----------------|\n");
	run_phase(self, "download", n, work);
	run_phase(self, "restart", n, work);
	run_phase(self, "upload", n, work);
	crypto_bench(n);
	close(in_fd);
	kill(srv, SIGTERM);
	waitpid(srv, NULL, 0);
	ds_http_client_free(g_http);
	return 0;
}
