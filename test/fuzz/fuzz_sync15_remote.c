/*
 * The Sync 1.5 remote as the core drives it (remote/sync15/sync15_remote.c over the setup,
 * storage client and upload queue): prepare, up to 3 pages of fetch from the beginning (the
 * record lists: BSO JSON, X-Weave-Records / X-Last-Modified, format-5 payloads decrypted
 * with the keys from crypto/keys), then, with mode bit 1, an upload of two records (batch
 * POSTs and their success/failed answers). The answers are canned (fuzz_canned.h) through the
 * transport hook; kSync is TV-4's (test/vectors/storage_format5.txt) so that vector's
 * crypto/keys and history records decrypt.
 *
 * Input: one mode byte (bit 0: read-only), then the answers. Checks: every record handed to
 * the core has a valid BSO id, and no tombstone has a payload; a page's
 * next cursor is set when more follow; an upload accounts for at most the records given;
 * the backoff is never negative.
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

static int on_record(const struct ds_record *r, void *ud)
{
	DS_UNUSED(ud);
	/* A record that does not decrypt comes with neither payload nor deletion (the core counts
	 * it and applies nothing; sync15_remote.c deliver()). */
	if (!ds_sync15_id_valid(r->id) || (r->deleted && r->payload))
		fuzz_fail("a fetched record has an invalid id, or a tombstone has a payload");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ds_sync15_global g;
	struct ds_sync15_remote_config cfg = { .collection = "history", .engine_version = 1,
					       .auth = { &auth_ops, NULL }, .transport = &transport,
					       .global = &g };
	struct ds_record recs[2] = {
		{ .id = "rtAAAAAAAAAA", .payload = "{\"id\":\"rtAAAAAAAAAA\",\"histUri\":\"https://a/\"}" },
		{ .id = "rtBBBBBBBBBB", .deleted = true },
	};
	struct ds_remote_info info;
	struct ds_fetch_page page;
	struct ds_upload_result res;
	char cursor[DS_CURSOR_MAX] = "";
	struct ds_remote *r;
	int rc;

	if (!size)
		return 0;
	cfg.read_only = data[0] & 1;
	memset(&g, 0, sizeof(g));
	fuzz_canned_load(data + 1, size - 1);
	if (ds_sync15_remote_new(&cfg, &r))
		fuzz_fail("ds_sync15_remote_new");
	memset(&info, 0, sizeof(info));
	rc = r->ops->prepare(r, &info);
	fuzz_note("prepare", rc);
	for (int i = 0; rc == 0 && i < 3; i++) {
		memset(&page, 0, sizeof(page));
		rc = r->ops->fetch(r, cursor, on_record, NULL, &page);
		fuzz_note("fetch", rc);
		if (rc == 0 && page.more && !page.next_cursor[0])
			fuzz_fail("more pages follow but there is no cursor");
		if (rc || !page.more)
			break;
		memcpy(cursor, page.next_cursor, sizeof(cursor));
	}
	if (rc == 0 && (data[0] & 2)) {
		memset(&res, 0, sizeof(res));
		rc = r->ops->upload(r, cursor, recs, 2, &res);
		fuzz_note("upload", rc);
		if (rc == 0 && res.accepted + res.failed > 2)
			fuzz_fail("an upload accounts for more records than it was given");
	}
	if (r->ops->backoff_s(r) < 0)
		fuzz_fail("a negative backoff");
	r->ops->close(r);
	ds_sync15_global_clear(&g);
	return 0;
}
