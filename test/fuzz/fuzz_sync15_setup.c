/*
 * The Sync 1.5 setup as a storage node drives it (remote/sync15/global_state.c over
 * storage_client.c): info/collections, info/configuration, meta/global, crypto/keys, fresh
 * start and fix-ups, every answer's X-Weave-* and Retry-After headers; then, once ready, the
 * crypto/keys refetch after an HMAC failure. The requests go to the canned answers of
 * fuzz_canned.h through the client's transport hook (ds_sync15_client_config.transport).
 *
 * Input: one mode byte (bit 0: the device may write the setup, bit 1: it enables the
 * collection), then the answers. kSync is TV-4's (test/vectors/storage_format5.txt), so the
 * crypto/keys record of that vector decrypts.
 *
 * Checks: a failed setup leaves no state (not ready, no meta/global, no keys, no info); a
 * successful one is ready with an info/collections object and meta/global naming the
 * collection in "engines" (or declining it); a backoff is never negative.
 */
#include "test/fuzz/fuzz_common.h"
#include "test/fuzz/fuzz_canned.h"
#include "crypto/ds_crypto.h"
#include "remote/sync15/ds_sync15.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static const char ksync_hex[] = "d63eb2610f1e5edc21b37fed22b93b0f9ea379840fb5c3c5eb95991b9b3bfab6"
				"9cbabfda0762bdf0b27431d81960c8cf5dab7d482901213a5a1b003eb0081ed0";
static uint8_t ksync[64];

static int token(void *ctx, bool fresh, struct ds_sync15_creds *out)
{
	DS_UNUSED(ctx);
	DS_UNUSED(fresh);
	snprintf(out->endpoint, sizeof(out->endpoint), "https://node.example.test/1.5/12345");
	snprintf(out->hawk_id, sizeof(out->hawk_id), "hawk-id");
	snprintf(out->hawk_key, sizeof(out->hawk_key), "hawk-key");
	return 0;
}

static int get_ksync(void *ctx, uint8_t out[64])
{
	DS_UNUSED(ctx);
	memcpy(out, ksync, 64);
	return 0;
}

static const struct ds_sync15_auth_ops auth_ops = { .token = token, .ksync = get_ksync };
static const struct ds_sync15_transport transport = { .perform = fuzz_canned_perform };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	DS_UNUSED(argc);
	DS_UNUSED(argv);
	fuzz_quiet();
	if (ds_hex_decode(ksync_hex, strlen(ksync_hex), ksync, sizeof(ksync)) != 64)
		fuzz_fail("harness keys");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ds_sync15_client_config cfg = { .auth = { &auth_ops, NULL }, .transport = &transport };
	struct ds_sync15_setup s = { .collection = "history", .engine_version = 1 };
	struct ds_sync15_global g;
	struct ds_sync15_client *c;
	cJSON *info = NULL;
	int rc;

	if (!size)
		return 0;
	s.may_write = data[0] & 1;
	s.enable = data[0] & 2;
	fuzz_canned_load(data + 1, size - 1);
	memset(&g, 0, sizeof(g));
	if (ds_sync15_client_new(&cfg, &c))
		fuzz_fail("ds_sync15_client_new");
	rc = ds_sync15_global_setup(c, &g, &s, ksync, &info);
	fuzz_note("global_setup", rc);
	if (rc < 0) {
		if (g.ready || g.meta || info || g.keys.n || g.keys.names)
			fuzz_fail("a failed setup left state behind");
	} else {
		if (!g.ready || !cJSON_IsObject(info) || !cJSON_IsObject(g.meta))
			fuzz_fail("a successful setup is not ready");
		if (!ds_sync15_meta_engine(g.meta, "history") && !ds_sync15_meta_declined(g.meta, "history"))
			fuzz_fail("meta/global neither lists nor declines the collection");
		if (!ds_sync15_keyring_get(&g.keys, "history"))
			fuzz_fail("a ready setup has no key for the collection");
		rc = ds_sync15_global_refetch_keys(c, &g, ksync);
		fuzz_note("refetch_keys", rc);
		if (rc > 1)
			fuzz_fail("refetch_keys: unexpected return");
	}
	if (ds_sync15_client_backoff_s(c) < 0)
		fuzz_fail("a negative backoff");
	cJSON_Delete(info);
	ds_sync15_global_clear(&g);
	ds_sync15_client_free(c);
	return 0;
}
