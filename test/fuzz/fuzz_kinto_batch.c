/*
 * What a Kinto server answers to an upload: the body of a POST /v1/batch (kinto.md §3:
 * "responses", one {status, path, body, headers} per sub-request, in the order sent), read by
 * the Kinto remote's upload (remote/kinto/kinto_upload.c send_batch, read_one, read_check):
 * 2xx with the record's new last_modified, 412 with details.existing (retried up to twice
 * against the existing version when the cursor covers it), 404 on a delete, 400 and others
 * refused per record, 5xx/401/409 ending the upload, and the closing GET that lets the cursor
 * jump over our own writes. Requests go to the canned answers of fuzz_canned.h.
 *
 * Input: one mode byte, then the canned answers (one per batch round; the remote makes up to
 * three). Mode bits 0-1: how many of the four records below are uploaded (1..4); bit 2: the
 * upload's cursor is "" (first upload) or a time after the known versions.
 *   a1  a create (never seen: If-None-Match: *)
 *   b2  an update of a version the id map knows (If-Match)
 *   c3  a deletion of a known version
 *   d4  a deletion of an id never seen (If-Match: "1": 404 when gone)
 * The id map is a fresh SQLite file for every input, seeded with b2 and c3.
 *
 * Checks besides memory safety and UB: the upload returns 0 or a negative errno; it accounts
 * for at most the records given; the cursor it hands back is digits, and when it moved ("" and
 * "0" being the same place), it is at or after the records' server time; the backoff is never negative; the id map never goes
 * back to an older version of a record (kinto_state.c's rule).
 */
#include "test/fuzz/fuzz_common.h"
#include "test/fuzz/fuzz_canned.h"
#include "port/common/ds_port_common.h"
#include "remote/kinto/ds_remote_kinto.h"
#include "remote/kinto/kinto_priv.h"

#include <cjson/cJSON.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define B2_MS INT64_C(1700000000002)
#define C3_MS INT64_C(1700000000003)

static cJSON *g_cfg;
static char *g_state_path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp;
	struct ds_port_config pc = { 0 };

	DS_UNUSED(argc);
	DS_UNUSED(argv);
	fuzz_quiet();
	tmp = fuzz_tmpdir();
	if (!tmp)
		fuzz_fail("no scratch folder");
	pc.data_dir = tmp;
	pc.run_dir = tmp;
	pc.secret_dir = tmp;
	if (ds_port_paths_init(&pc))
		fuzz_fail("port paths");
	/* settings_max_age_s 0: nothing cached between inputs. */
	g_cfg = cJSON_Parse("{\"url\":\"http://127.0.0.1:8888/v1\",\"settings_max_age_s\":0}");
	g_state_path = g_cfg ? ds_kinto_state_path(g_cfg, "notes") : NULL;
	if (!g_state_path)
		fuzz_fail("harness configuration");
	return 0;
}

static void remove_state(void)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char p[4200];

	for (size_t i = 0; i < DS_ARRAY_SIZE(suffix); i++) {
		snprintf(p, sizeof(p), "%s%s", g_state_path, suffix[i]);
		unlink(p);
	}
}

static void seed_state(void)
{
	struct ds_kinto_state *s;

	remove_state();
	if (ds_kinto_state_open(g_state_path, &s))
		fuzz_fail("opening the id map");
	if (ds_kinto_state_put(s, "b2", B2_MS, false) || ds_kinto_state_put(s, "c3", C3_MS, false))
		fuzz_fail("seeding the id map");
	ds_kinto_state_close(s);
}

static void check_state(void)
{
	static const struct {
		const char *id;
		int64_t ms;
	} known[] = { { "b2", B2_MS }, { "c3", C3_MS } };
	struct ds_kinto_state *s;

	if (ds_kinto_state_open(g_state_path, &s))
		fuzz_fail("reopening the id map");
	for (size_t i = 0; i < DS_ARRAY_SIZE(known); i++) {
		int64_t ms = 0;
		bool gone = false;

		if (ds_kinto_state_get(s, known[i].id, &ms, &gone) != 0 || ms < known[i].ms)
			fuzz_fail("the id map lost a version or went back to an older one");
	}
	ds_kinto_state_close(s);
}

static bool digits(const char *c)
{
	size_t n = strlen(c);

	if (n > 19)
		return false;
	for (size_t i = 0; i < n; i++)
		if (c[i] < '0' || c[i] > '9')
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ds_record recs[4] = {
		{ .id = "a1", .payload = "{\"title\":\"new\",\"n\":1}" },
		{ .id = "b2", .payload = "{\"title\":\"edited\",\"n\":2}" },
		{ .id = "c3", .deleted = true },
		{ .id = "d4", .deleted = true },
	};
	struct ds_upload_result res;
	struct ds_remote *r = NULL;
	const char *cursor;
	size_t n;
	int rc;

	if (!size)
		return 0;
	n = 1 + (data[0] & 3);
	cursor = (data[0] & 4) ? "1700000000010" : "";
	seed_state();
	fuzz_canned_load(data + 1, size - 1);
	rc = ds_remote_kinto_open(g_cfg, "notes", "fuzz-device", &r);
	if (rc)
		fuzz_fail("opening the remote");
	memset(&res, 0, sizeof(res));
	rc = r->ops->upload(r, cursor, recs, n, &res);
	fuzz_note("upload", rc);
	if (rc > 0)
		fuzz_fail("a positive return");
	if (res.accepted + res.failed > n)
		fuzz_fail("an upload accounts for more records than it was given");
	if (res.modified_ms < 0)
		fuzz_fail("a negative server time");
	if (rc == 0) {
		if (!digits(res.new_cursor))
			fuzz_fail("the new cursor is not a Kinto time");
		/* "" and "0" are the same place (a first sync's cursor that did not jump). */
		long long was = strtoll(cursor, NULL, 10), now = strtoll(res.new_cursor, NULL, 10);

		if (now != was && now < res.modified_ms)
			fuzz_fail("the cursor moved to before our own writes");
	}
	if (r->ops->backoff_s(r) < 0)
		fuzz_fail("a negative backoff");
	r->ops->close(r);
	check_state();
	return 0;
}
