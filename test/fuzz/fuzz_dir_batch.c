/*
 * Batch files of the dir remote (dir_batch.c): whatever another device, a damaged card or an
 * attacker with the folder left under a batch's name.
 *
 * Input byte 0 picks the case, the rest is the content:
 *   bit 0  the collection is encrypted (AES-256-GCM) instead of cleartext (SHA-256 guard);
 *   bits 1-2
 *     0    the rest is a whole batch file image, read as batch 7;
 *     1    the rest is a batch body: the harness seals it the way a writer does
 *          (docs/remote-dir.md, "Batch files"), so that the JSON checks behind the integrity
 *          check are reached;
 *     2    the rest is split at NUL bytes into records (id, payload, id, payload, ...), sealed
 *          with ds_dir_batch_seal() and read back: every record must come back unchanged.
 */
#include "test/fuzz/fuzz_common.h"
#include "crypto/ds_crypto.h"
#include "remote/dir/dir_priv.h"

#include <stdio.h>
#include <string.h>

#define SEQ 7
#define NOW_MS INT64_C(1767225600000)
#define MAX_RECS 16

static struct ds_dir_coll g_coll[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const uint8_t master[DS_DIR_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	DS_UNUSED(argc);
	DS_UNUSED(argv);
	fuzz_quiet();
	if (ds_dir_coll_init(&g_coll[0], "fuzz", false, master) ||
	    ds_dir_coll_init(&g_coll[1], "fuzz", true, master))
		fuzz_fail("ds_dir_coll_init");
	return 0;
}

struct seen {
	size_t n;
	const struct ds_record *want; /* mode 2: the records written */
	size_t nwant;
};

static int on_record(const struct ds_record *r, void *user_data)
{
	struct seen *s = user_data;

	if (!r->id || !r->id[0] || (r->deleted ? r->payload != NULL : r->payload == NULL))
		fuzz_fail("batch record handed out unchecked");
	if (s->want) {
		const struct ds_record *w = &s->want[s->n];
		int64_t t = w->modified_ms > 0 && w->modified_ms < NOW_MS ? w->modified_ms : NOW_MS;

		if (s->n >= s->nwant || strcmp(w->id, r->id) != 0 || w->deleted != r->deleted ||
		    (!w->deleted && strcmp(w->payload, r->payload) != 0) || r->modified_ms != t)
			fuzz_fail("a sealed record did not read back unchanged");
	}
	s->n++;
	return 0;
}

static void aad_of(const struct ds_dir_coll *c, const uint8_t hdr[8], char *aad, size_t *len)
{
	size_t dl = strlen(c->dirname);

	memcpy(aad, hdr, 8);
	memcpy(aad + 8, c->dirname, dl);
	snprintf(aad + 8 + dl, DS_DIR_SEQ_DIGITS + 2, "/%016llu", (unsigned long long)SEQ);
	*len = 8 + dl + 1 + DS_DIR_SEQ_DIGITS;
}

/* A writer's file image around body: header, then nonce + ciphertext + tag or digest + body. */
static uint8_t *seal_body(const struct ds_dir_coll *c, const uint8_t *body, size_t n, size_t *flen)
{
	uint8_t hdr[8] = { 'D', 'S', 'D', 'B', 1, c->encrypted ? 1 : 0, 0, 0 };
	char aad[8 + 65 + 1 + DS_DIR_SEQ_DIGITS + 1];
	size_t alen, extra = c->encrypted ? DS_GCM_IV_LEN + DS_GCM_TAG_LEN : DS_SHA256_LEN;
	uint8_t *f = ds_malloc(8 + extra + n), *h;

	if (!f)
		fuzz_fail("out of memory in the harness");
	aad_of(c, hdr, aad, &alen);
	memcpy(f, hdr, 8);
	if (c->encrypted) {
		memset(f + 8, 0x5a, DS_GCM_IV_LEN);
		if (ds_aes_gcm_encrypt(c->key, sizeof(c->key), f + 8, aad, alen, body, n,
				       f + 8 + DS_GCM_IV_LEN, f + 8 + DS_GCM_IV_LEN + n))
			fuzz_fail("ds_aes_gcm_encrypt");
	} else {
		h = ds_malloc(alen + n + 1);
		if (!h)
			fuzz_fail("out of memory in the harness");
		memcpy(h, aad, alen);
		if (n)
			memcpy(h + alen, body, n);
		if (ds_sha256(h, alen + n, f + 8))
			fuzz_fail("ds_sha256");
		ds_free(h);
		if (n)
			memcpy(f + 8 + DS_SHA256_LEN, body, n);
	}
	*flen = 8 + extra + n;
	return f;
}

static void read_checked(const struct ds_dir_coll *c, uint8_t *file, size_t len, struct seen *s)
{
	size_t nrec = 0;
	int rc = ds_dir_batch_read(c, SEQ, file, len, on_record, s, &nrec);

	if (rc != 0 && rc != -EBADMSG && rc != -EILSEQ && rc != -ENOTSUP && rc != -ENOMEM)
		fuzz_fail("ds_dir_batch_read: unexpected return");
	/* All or nothing: a refused batch handed out no record. */
	if ((rc != 0 && s->n != 0) || nrec != s->n)
		fuzz_fail("ds_dir_batch_read: records handed out from a refused batch");
	if (s->want && rc != 0)
		fuzz_fail("a sealed batch was refused by its reader");
	if (s->want && s->n != s->nwant)
		fuzz_fail("a sealed batch lost records");
}

static void round_trip(const struct ds_dir_coll *c, const uint8_t *data, size_t size)
{
	struct ds_record recs[MAX_RECS];
	char *text = fuzz_strndup(data, size), *p = text, *end = text + size;
	struct seen s = { 0 };
	uint8_t *file = NULL;
	size_t n = 0, flen = 0;
	int rc;

	memset(recs, 0, sizeof(recs));
	while (p < end && n < MAX_RECS) {
		char *id = p, *pl;

		p += strlen(p) + 1;
		pl = p < end ? p : NULL;
		if (pl)
			p += strlen(p) + 1;
		if (!*id)
			continue; /* engines never produce an empty id */
		recs[n].id = id;
		recs[n].deleted = !pl || (id[0] & 1);
		recs[n].payload = recs[n].deleted ? NULL : pl;
		recs[n].modified_ms = (int64_t)(unsigned char)id[0] * INT64_C(86400000) * 365;
		n++;
	}
	rc = ds_dir_batch_seal(c, SEQ, "fuzz-device", NOW_MS, recs, n, 1 << 20, &file, &flen);
	if (rc == 0) {
		s.want = recs;
		s.nwant = n;
		read_checked(c, file, flen, &s);
	} else if (rc != -E2BIG) {
		fuzz_fail("ds_dir_batch_seal: unexpected return");
	}
	ds_free(file);
	ds_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct ds_dir_coll *c;
	struct seen s = { 0 };
	uint8_t *file;
	size_t flen;

	if (size < 1)
		return 0;
	c = &g_coll[data[0] & 1];
	switch ((data[0] >> 1) & 3) {
	case 0:
		file = ds_malloc(size - 1 + 1);
		if (!file)
			fuzz_fail("out of memory in the harness");
		memcpy(file, data + 1, size - 1);
		read_checked(c, file, size - 1, &s);
		ds_free(file);
		break;
	case 1:
		file = seal_body(c, data + 1, size - 1, &flen);
		read_checked(c, file, flen, &s);
		ds_free(file);
		break;
	case 2:
		round_trip(c, data + 1, size - 1);
		break;
	default:
		break;
	}
	return 0;
}
