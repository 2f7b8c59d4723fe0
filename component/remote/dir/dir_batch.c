/*
 * Batch files: one immutable file per upload, holding the uploaded records as JSON sealed with
 * AES-256-GCM (or, in a cleartext folder, guarded by SHA-256 against truncation only).
 *
 * The authenticated data binds the file header, the collection's folder name and the batch's
 * sequence number, so a valid batch copied to another position or another collection fails
 * like a tampered one (docs/remote-dir.md, "Batch files").
 */
#define DS_LOG_TAG "dir"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "remote/dir/dir_priv.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#define BATCH_MAGIC "DSDB"
#define BATCH_HDR 8
#define MODE_CLEAR 0
#define MODE_GCM 1

static const char name_label[] = "datasync-dir name ";
static const char key_label[] = "datasync-dir v1 ";

bool ds_dir_name_valid(const char *name)
{
	size_t n = 0;

	for (; name[n]; n++) {
		char ch = name[n];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return false;
	}
	return n >= 1 && n <= 64;
}

static char *labelled(const char *label, const char *name, size_t *len)
{
	char *s = ds_dir_path("%s%s", label, name);

	if (s)
		*len = strlen(s);
	return s;
}

int ds_dir_coll_init(struct ds_dir_coll *c, const char *name, bool encrypted,
		     const uint8_t master[DS_DIR_KEY_LEN])
{
	uint8_t mac[DS_SHA256_LEN];
	size_t len = 0;
	char *info;
	int rc;

	memset(c, 0, sizeof(*c));
	c->name = name;
	c->encrypted = encrypted;
	if (!encrypted) {
		if (!ds_dir_name_valid(name))
			return -EINVAL;
		memcpy(c->dirname, name, strlen(name) + 1);
		return 0;
	}
	/* The folder name hides the collection name from anyone without the key. */
	info = labelled(name_label, name, &len);
	if (!info)
		return -ENOMEM;
	rc = ds_hmac_sha256(master, DS_DIR_KEY_LEN, info, len, mac);
	ds_free(info);
	if (rc)
		return rc;
	ds_hex_encode(mac, DS_DIR_NAME_LEN, c->dirname, sizeof(c->dirname));
	info = labelled(key_label, name, &len);
	if (!info)
		return -ENOMEM;
	rc = ds_hkdf_sha256(NULL, 0, master, DS_DIR_KEY_LEN, info, len, c->key, sizeof(c->key));
	ds_free(info);
	return rc;
}

void ds_dir_coll_wipe(struct ds_dir_coll *c)
{
	ds_memzero(c->key, sizeof(c->key));
}

static char *aad_new(const struct ds_dir_coll *c, const uint8_t hdr[BATCH_HDR], uint64_t seq,
		     size_t *len)
{
	size_t dl = strlen(c->dirname);
	char *a = ds_malloc(BATCH_HDR + dl + 1 + DS_DIR_SEQ_DIGITS + 1);

	if (!a)
		return NULL;
	memcpy(a, hdr, BATCH_HDR);
	memcpy(a + BATCH_HDR, c->dirname, dl);
	a[BATCH_HDR + dl] = '/';
	snprintf(a + BATCH_HDR + dl + 1, DS_DIR_SEQ_DIGITS + 1, "%016llu", (unsigned long long)seq);
	*len = BATCH_HDR + dl + 1 + DS_DIR_SEQ_DIGITS;
	return a;
}

/* Clear every string of a tree before it is freed: payloads are user data. */
static void json_wipe(cJSON *j)
{
	for (; j; j = j->next) {
		if (cJSON_IsString(j) && j->valuestring)
			ds_memzero(j->valuestring, strlen(j->valuestring));
		json_wipe(j->child);
	}
}

static void json_wipe_delete(cJSON *j)
{
	if (j) {
		json_wipe(j->child);
		cJSON_Delete(j);
	}
}

/*
 * A folder has no server clock, so a record keeps the time of the edit it carries (the engine's
 * change time) for newest-wins across devices; the upload time stands in when the engine gave
 * none. An edit cannot postdate its own upload on the writer's clock, hence the cap.
 */
static int64_t record_time(const struct ds_record *r, int64_t now_ms)
{
	return r->modified_ms > 0 && r->modified_ms < now_ms ? r->modified_ms : now_ms;
}

static cJSON *batch_json(const char *device_id, int64_t now_ms, const struct ds_record *recs,
			 size_t n)
{
	cJSON *o = cJSON_CreateObject(), *arr;
	size_t i;

	if (!o || !cJSON_AddStringToObject(o, "device", device_id) ||
	    !cJSON_AddNumberToObject(o, "written_ms", (double)now_ms) ||
	    !(arr = cJSON_AddArrayToObject(o, "records")))
		goto fail;
	for (i = 0; i < n; i++) {
		cJSON *r = cJSON_CreateObject();

		if (!r)
			goto fail;
		cJSON_AddItemToArray(arr, r);
		if (!cJSON_AddStringToObject(r, "id", recs[i].id) ||
		    !cJSON_AddBoolToObject(r, "deleted", recs[i].deleted) ||
		    !cJSON_AddNumberToObject(r, "modified_ms", (double)record_time(&recs[i], now_ms)) ||
		    !(recs[i].deleted ? cJSON_AddNullToObject(r, "payload") :
					cJSON_AddStringToObject(r, "payload", recs[i].payload)))
			goto fail;
	}
	return o;
fail:
	json_wipe_delete(o);
	return NULL;
}

/* Nonces are random, mixed with the device id and position: two devices (or two processes
 * forked after seeding the generator) never pick the same one for the same key. */
static int batch_nonce(const char *device_id, uint64_t seq, uint8_t iv[DS_GCM_IV_LEN])
{
	uint8_t buf[16 + 8], h[DS_SHA256_LEN];
	char *s;
	int rc = ds_random(buf, 16);
	size_t i;

	if (rc)
		return rc;
	for (i = 0; i < 8; i++)
		buf[16 + i] = (uint8_t)(seq >> (56 - 8 * i));
	s = ds_malloc(sizeof(buf) + strlen(device_id));
	if (!s)
		return -ENOMEM;
	memcpy(s, buf, sizeof(buf));
	memcpy(s + sizeof(buf), device_id, strlen(device_id));
	rc = ds_sha256(s, sizeof(buf) + strlen(device_id), h);
	ds_free(s);
	memcpy(iv, h, DS_GCM_IV_LEN);
	return rc;
}

int ds_dir_batch_seal(const struct ds_dir_coll *c, uint64_t seq, const char *device_id,
		      int64_t now_ms, const struct ds_record *recs, size_t n, size_t max_bytes,
		      uint8_t **out, size_t *outlen)
{
	uint8_t hdr[BATCH_HDR] = { 'D', 'S', 'D', 'B', 1, c->encrypted ? MODE_GCM : MODE_CLEAR, 0, 0 };
	size_t plen, aadlen = 0, total;
	cJSON *o = batch_json(device_id, now_ms, recs, n);
	char *plain = NULL, *aad = NULL;
	uint8_t *file = NULL;
	int rc = -ENOMEM;

	*out = NULL;
	*outlen = 0;
	if (!o)
		return -ENOMEM;
	plain = cJSON_PrintUnformatted(o);
	json_wipe_delete(o);
	if (!plain)
		return -ENOMEM;
	plen = strlen(plain);
	if (plen > max_bytes) {
		DS_LOG_ERR("batch of %zu records for %s is %zu bytes, above the %zu-byte cap", n,
			   c->name, plen, max_bytes);
		rc = -E2BIG;
		goto out;
	}
	aad = aad_new(c, hdr, seq, &aadlen);
	total = BATCH_HDR + (c->encrypted ? DS_GCM_IV_LEN + DS_GCM_TAG_LEN : DS_SHA256_LEN) + plen;
	file = ds_malloc(total);
	if (!aad || !file)
		goto out;
	memcpy(file, hdr, BATCH_HDR);
	if (c->encrypted) {
		uint8_t *iv = file + BATCH_HDR, *ct = iv + DS_GCM_IV_LEN, *tag = ct + plen;

		rc = batch_nonce(device_id, seq, iv);
		if (!rc)
			rc = ds_aes_gcm_encrypt(c->key, sizeof(c->key), iv, aad, aadlen, plain, plen,
						ct, tag);
	} else {
		/* sha256(aad || body): catches truncation and misplacement, not a forger. */
		char *h = ds_malloc(aadlen + plen);

		rc = -ENOMEM;
		if (h) {
			memcpy(h, aad, aadlen);
			memcpy(h + aadlen, plain, plen);
			rc = ds_sha256(h, aadlen + plen, file + BATCH_HDR);
			ds_free(h);
		}
		memcpy(file + BATCH_HDR + DS_SHA256_LEN, plain, plen);
	}
	if (!rc) {
		*out = file;
		*outlen = total;
		file = NULL;
	}
out:
	ds_memzero(plain, plen);
	cJSON_free(plain);
	ds_free(aad);
	ds_free(file);
	return rc;
}

/* Integrity first: returns the authenticated body in a new allocation, or -EBADMSG. */
static int batch_open(const struct ds_dir_coll *c, uint64_t seq, const uint8_t *file, size_t len,
		      char **body, size_t *blen)
{
	size_t aadlen = 0, plen;
	char *aad, *plain;
	int rc;

	*body = NULL;
	if (len < BATCH_HDR || memcmp(file, BATCH_MAGIC, 4) != 0)
		return -EBADMSG;
	if (file[4] != 1)
		return file[4] > 1 ? -ENOTSUP : -EBADMSG;
	/* A cleartext batch in an encrypted folder would be a downgrade: refuse it. */
	if (file[5] != (c->encrypted ? MODE_GCM : MODE_CLEAR) || file[6] || file[7])
		return -EBADMSG;
	if (len < BATCH_HDR + (c->encrypted ? DS_GCM_IV_LEN + DS_GCM_TAG_LEN : DS_SHA256_LEN))
		return -EBADMSG;
	aad = aad_new(c, file, seq, &aadlen);
	if (!aad)
		return -ENOMEM;
	if (c->encrypted) {
		const uint8_t *iv = file + BATCH_HDR, *ct = iv + DS_GCM_IV_LEN;

		plen = len - BATCH_HDR - DS_GCM_IV_LEN - DS_GCM_TAG_LEN;
		plain = ds_malloc(plen + 1);
		rc = plain ? ds_aes_gcm_decrypt(c->key, sizeof(c->key), iv, aad, aadlen, ct, plen,
						plain, ct + plen)
			   : -ENOMEM;
	} else {
		uint8_t sum[DS_SHA256_LEN];
		char *h;

		plen = len - BATCH_HDR - DS_SHA256_LEN;
		plain = ds_malloc(plen + 1);
		h = ds_malloc(aadlen + plen);
		rc = -ENOMEM;
		if (plain && h) {
			memcpy(plain, file + BATCH_HDR + DS_SHA256_LEN, plen);
			memcpy(h, aad, aadlen);
			memcpy(h + aadlen, plain, plen);
			rc = ds_sha256(h, aadlen + plen, sum);
			if (!rc && ds_ct_memcmp(sum, file + BATCH_HDR, sizeof(sum)) != 0)
				rc = -EBADMSG;
		}
		ds_free(h);
	}
	ds_free(aad);
	if (rc) {
		if (plain)
			ds_memzero(plain, plen);
		ds_free(plain);
		return rc;
	}
	plain[plen] = '\0';
	*body = plain;
	*blen = plen;
	return 0;
}

static bool ms_valid(const cJSON *it)
{
	/* Whole milliseconds that a double holds exactly (NaN fails the range test). */
	return cJSON_IsNumber(it) && it->valuedouble >= -9007199254740992.0 &&
	       it->valuedouble <= 9007199254740992.0 &&
	       it->valuedouble == (double)(int64_t)it->valuedouble;
}

/* Every record is checked before the first reaches the callback: a batch is all or nothing. */
static int batch_validate(const cJSON *o, size_t *count)
{
	const cJSON *recs, *r;
	size_t n = 0;

	if (!cJSON_IsObject(o) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "device")) ||
	    !ms_valid(cJSON_GetObjectItemCaseSensitive(o, "written_ms")))
		return -EILSEQ;
	recs = cJSON_GetObjectItemCaseSensitive(o, "records");
	if (!cJSON_IsArray(recs))
		return -EILSEQ;
	cJSON_ArrayForEach(r, recs)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "id");
		const cJSON *del = cJSON_GetObjectItemCaseSensitive(r, "deleted");
		const cJSON *pl = cJSON_GetObjectItemCaseSensitive(r, "payload");

		if (!cJSON_IsString(id) || !*id->valuestring || !cJSON_IsBool(del) ||
		    !ms_valid(cJSON_GetObjectItemCaseSensitive(r, "modified_ms")))
			return -EILSEQ;
		if (cJSON_IsTrue(del) ? !cJSON_IsNull(pl) : !cJSON_IsString(pl))
			return -EILSEQ;
		n++;
	}
	*count = n;
	return 0;
}

int ds_dir_batch_read(const struct ds_dir_coll *c, uint64_t seq, uint8_t *file, size_t len,
		      ds_record_cb cb, void *user_data, size_t *nrec)
{
	const cJSON *r;
	size_t blen = 0, n = 0;
	char *body;
	cJSON *o;
	int rc;

	*nrec = 0;
	rc = batch_open(c, seq, file, len, &body, &blen);
	if (rc == -EBADMSG)
		DS_LOG_ERR("batch %llu of collection %s failed its integrity check",
			   (unsigned long long)seq, c->name);
	else if (rc == -ENOTSUP)
		DS_LOG_ERR("batch %llu of collection %s was written by a newer datasync",
			   (unsigned long long)seq, c->name);
	if (rc)
		return rc;
	o = cJSON_ParseWithLength(body, blen);
	ds_memzero(body, blen);
	ds_free(body);
	rc = o ? batch_validate(o, &n) : -EILSEQ;
	if (rc) {
		DS_LOG_ERR("batch %llu of collection %s is malformed", (unsigned long long)seq,
			   c->name);
		json_wipe_delete(o);
		return rc;
	}
	cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(o, "records"))
	{
		const cJSON *pl = cJSON_GetObjectItemCaseSensitive(r, "payload");
		struct ds_record rec = {
			.id = cJSON_GetObjectItemCaseSensitive(r, "id")->valuestring,
			.deleted = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "deleted")),
			.payload = cJSON_IsString(pl) ? pl->valuestring : NULL,
			.modified_ms =
				(int64_t)cJSON_GetObjectItemCaseSensitive(r, "modified_ms")->valuedouble,
		};

		rc = cb(&rec, user_data);
		if (rc)
			break;
		(*nrec)++;
	}
	json_wipe_delete(o);
	return rc;
}
