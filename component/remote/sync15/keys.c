/*
 * Storage format 5 (DOCS sync/storageformat5.rst; sync15.md §3): key bundles, encrypted payloads,
 * crypto/keys, and the record transform.
 *
 *   payload = {"ciphertext": b64(AES-256-CBC-PKCS#7(enc, IV, cleartext)),
 *              "IV": b64(IV), "hmac": hex(HMAC-SHA256(hmacKey, ASCII of the b64 ciphertext))}
 *
 * The HMAC covers the base64 text, not the raw ciphertext, and is lower-case hex: the DOCS
 * pseudo-code's Base64Encode(hmac) is wrong, its own example and every client use hex (AS
 * sync15/src/key_bundle.rs, DESK record.sys.mjs ciphertextHMAC). Either hex case is accepted on
 * input (AS decodes case-insensitively).
 */
#define DS_LOG_TAG "sync15"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "remote/sync15/ds_sync15.h"

#include <cjson/cJSON.h>
#include <string.h>

/* A payload larger than this is refused before any decoding (the API has no hard limit, but
 * the HTTP client caps a whole answer at CONFIG_DS_HTTP_MAX_RESPONSE). */
#define PAYLOAD_MAX (16u * 1024 * 1024)

_Static_assert(sizeof(struct ds_sync15_keybundle) == 64, "enc and hmac, in this order, without padding");

void ds_sync15_keybundle_from_ksync(const uint8_t ksync[64], struct ds_sync15_keybundle *kb)
{
	memcpy(kb, ksync, sizeof(*kb)); /* enc, then hmac */
}

int ds_sync15_keybundle_random(struct ds_sync15_keybundle *kb)
{
	int rc = ds_random(kb, sizeof(*kb)); /* enc and hmac */

	if (rc)
		ds_sync15_keybundle_wipe(kb);
	return rc;
}

void ds_sync15_keybundle_wipe(struct ds_sync15_keybundle *kb)
{
	ds_memzero(kb, sizeof(*kb));
}

/* ---- payloads ----------------------------------------------------------------------------- */

int ds_sync15_encrypt(const struct ds_sync15_keybundle *kb, const char *clear, size_t len,
		      const uint8_t *iv_in, char **out)
{
	uint8_t iv[16], mac[DS_SHA256_LEN];
	uint8_t *ct = NULL;
	char *ct64 = NULL, iv64[32], machex[2 * DS_SHA256_LEN + 1];
	size_t ctlen = 0, cap64;
	cJSON *o = NULL;
	int rc;

	*out = NULL;
	if (len > PAYLOAD_MAX)
		return -EMSGSIZE;
	if (iv_in)
		memcpy(iv, iv_in, sizeof(iv));
	else if ((rc = ds_random(iv, sizeof(iv))) < 0)
		return rc;
	ct = ds_malloc(len + DS_AES_BLOCK);
	cap64 = 4 * ((len + DS_AES_BLOCK + 2) / 3) + 1;
	ct64 = ds_malloc(cap64);
	rc = -ENOMEM;
	if (!ct || !ct64)
		goto out;
	rc = ds_aes256_cbc_encrypt(kb->enc, iv, clear, len, ct, len + DS_AES_BLOCK, &ctlen);
	if (rc < 0)
		goto out;
	rc = ds_base64_encode(ct, ctlen, ct64, cap64);
	if (rc < 0)
		goto out;
	rc = ds_hmac_sha256(kb->hmac, sizeof(kb->hmac), ct64, (size_t)rc, mac);
	if (rc < 0)
		goto out;
	ds_hex_encode(mac, sizeof(mac), machex, sizeof(machex));
	ds_base64_encode(iv, sizeof(iv), iv64, sizeof(iv64));
	rc = -ENOMEM;
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "ciphertext", ct64) ||
	    !cJSON_AddStringToObject(o, "IV", iv64) || !cJSON_AddStringToObject(o, "hmac", machex))
		goto out;
	*out = ds_sync15_json_print(o);
	if (*out)
		rc = 0;
out:
	cJSON_Delete(o);
	ds_free(ct);
	ds_free(ct64);
	return rc;
}

int ds_sync15_decrypt(const struct ds_sync15_keybundle *kb, const char *payload, char **out,
		      size_t *len)
{
	cJSON *o;
	const char *ct64, *iv64, *machex;
	uint8_t iv[16], mac[DS_SHA256_LEN], want[DS_SHA256_LEN];
	uint8_t *ct = NULL;
	char *clear = NULL;
	size_t ctlen64, plain = 0;
	int rc, n;

	*out = NULL;
	*len = 0;
	if (!payload || strlen(payload) > PAYLOAD_MAX)
		return -EILSEQ;
	o = cJSON_Parse(payload);
	ct64 = ds_sync15_json_str(o, "ciphertext");
	iv64 = ds_sync15_json_str(o, "IV");
	machex = ds_sync15_json_str(o, "hmac");
	rc = -EILSEQ;
	if (!ct64 || !iv64 || !machex)
		goto out;
	if (ds_hex_decode(machex, strlen(machex), want, sizeof(want)) != (int)sizeof(want))
		goto out;
	if (ds_base64_decode(iv64, strlen(iv64), iv, sizeof(iv)) != (int)sizeof(iv))
		goto out;
	ctlen64 = strlen(ct64);
	rc = ds_hmac_sha256(kb->hmac, sizeof(kb->hmac), ct64, ctlen64, mac);
	if (rc < 0)
		goto out;
	/* The HMAC first, in constant time; nothing is decrypted when it does not match. */
	if (ds_ct_memcmp(mac, want, sizeof(mac)) != 0) {
		rc = -EBADMSG;
		goto out;
	}
	ct = ds_malloc(ctlen64 / 4 * 3 + 3);
	clear = ds_malloc(ctlen64 / 4 * 3 + 3 + 1);
	rc = -ENOMEM;
	if (!ct || !clear)
		goto out;
	n = ds_base64_decode(ct64, ctlen64, ct, ctlen64 / 4 * 3 + 3);
	if (n <= 0 || n % DS_AES_BLOCK) {
		rc = -EILSEQ;
		goto out;
	}
	rc = ds_aes256_cbc_decrypt(kb->enc, iv, ct, (size_t)n, clear, (size_t)n, &plain);
	if (rc < 0)
		goto out;
	clear[plain] = '\0';
	*out = clear;
	*len = plain;
	clear = NULL;
	rc = 0;
out:
	if (clear) {
		ds_memzero(clear, ctlen64 / 4 * 3 + 3 + 1);
		ds_free(clear);
	}
	ds_free(ct);
	cJSON_Delete(o);
	return rc;
}

/* ---- crypto/keys -------------------------------------------------------------------------- */

void ds_sync15_keyring_clear(struct ds_sync15_keyring *kr)
{
	if (!kr)
		return;
	for (size_t i = 0; i < kr->n; i++)
		ds_free(kr->names[i]);
	ds_free(kr->names);
	ds_memzero(kr->colls, kr->n * sizeof(*kr->colls)); /* NULL: nothing */
	ds_free(kr->colls);
	ds_memzero(kr, sizeof(*kr));
}

const struct ds_sync15_keybundle *ds_sync15_keyring_get(const struct ds_sync15_keyring *kr,
							 const char *collection)
{
	for (size_t i = 0; collection && i < kr->n; i++)
		if (strcmp(kr->names[i], collection) == 0)
			return &kr->colls[i];
	return &kr->def;
}

/* A key bundle in JSON: [b64(enc), b64(hmac)]. */
static int pair_parse(const cJSON *a, struct ds_sync15_keybundle *kb)
{
	uint8_t *const half[2] = { kb->enc, kb->hmac };

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 2)
		return -EILSEQ;
	for (int i = 0; i < 2; i++) {
		const char *s = cJSON_GetStringValue(cJSON_GetArrayItem(a, i));

		if (!s || ds_base64_decode(s, strlen(s), half[i], 32) != 32)
			return -EILSEQ;
	}
	return 0;
}

int ds_sync15_keyring_parse(const char *clear, struct ds_sync15_keyring *out)
{
	cJSON *o = cJSON_Parse(clear);
	const cJSON *def = cJSON_GetObjectItemCaseSensitive(o, "default");
	const cJSON *colls = cJSON_GetObjectItemCaseSensitive(o, "collections");
	const cJSON *it;
	size_t n;
	int rc = -EILSEQ;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(o) || pair_parse(def, &out->def) < 0)
		goto fail;
	if (colls && !cJSON_IsNull(colls) && !cJSON_IsObject(colls))
		goto fail;
	n = cJSON_IsObject(colls) ? (size_t)cJSON_GetArraySize(colls) : 0;
	if (n) {
		rc = -ENOMEM;
		out->names = ds_calloc(n, sizeof(*out->names));
		out->colls = ds_calloc(n, sizeof(*out->colls));
		if (!out->names || !out->colls)
			goto fail;
		cJSON_ArrayForEach(it, colls) {
			rc = pair_parse(it, &out->colls[out->n]);
			if (rc < 0)
				goto fail;
			out->names[out->n] = ds_strdup(it->string);
			if (!out->names[out->n]) {
				rc = -ENOMEM;
				goto fail;
			}
			out->n++;
		}
	}
	cJSON_Delete(o);
	return 0;
fail:
	/* cJSON's copy of the key strings is not ours to wipe (libc allocator); ours is. */
	cJSON_Delete(o);
	ds_sync15_keyring_clear(out);
	return rc;
}

int ds_sync15_keyring_new_random(struct ds_sync15_keyring *out)
{
	memset(out, 0, sizeof(*out));
	return ds_sync15_keybundle_random(&out->def);
}

static cJSON *pair_json(const struct ds_sync15_keybundle *kb)
{
	const uint8_t *const half[2] = { kb->enc, kb->hmac };
	char b64[48];
	cJSON *a = cJSON_CreateArray();

	for (int i = 0; a && i < 2; i++) {
		ds_base64_encode(half[i], 32, b64, sizeof(b64));
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(b64))) {
			cJSON_Delete(a);
			a = NULL;
		}
	}
	ds_memzero(b64, sizeof(b64));
	return a;
}

char *ds_sync15_keyring_to_json(const struct ds_sync15_keyring *kr)
{
	cJSON *o = cJSON_CreateObject(), *colls = NULL, *p;
	char *copy = NULL;

	if (!o || !cJSON_AddStringToObject(o, "id", "keys") ||
	    !cJSON_AddStringToObject(o, "collection", "crypto"))
		goto out;
	p = pair_json(&kr->def);
	if (!p || !cJSON_AddItemToObject(o, "default", p)) {
		cJSON_Delete(p);
		goto out;
	}
	colls = cJSON_AddObjectToObject(o, "collections");
	if (!colls)
		goto out;
	for (size_t i = 0; i < kr->n; i++) {
		p = pair_json(&kr->colls[i]);
		if (!p || !cJSON_AddItemToObject(colls, kr->names[i], p)) {
			cJSON_Delete(p);
			goto out;
		}
	}
	copy = ds_sync15_json_print(o);
out:
	cJSON_Delete(o);
	return copy;
}

int ds_sync15_keyring_decrypt(const struct ds_sync15_keybundle *sync_kb, const char *payload,
			      struct ds_sync15_keyring *out)
{
	char *clear = NULL;
	size_t len;
	int rc = ds_sync15_decrypt(sync_kb, payload, &clear, &len);

	memset(out, 0, sizeof(*out));
	if (rc < 0)
		return rc;
	rc = ds_sync15_keyring_parse(clear, out);
	ds_memzero(clear, len);
	ds_free(clear);
	return rc;
}

int ds_sync15_keyring_encrypt(const struct ds_sync15_keybundle *sync_kb,
			      const struct ds_sync15_keyring *kr, char **payload)
{
	char *clear = ds_sync15_keyring_to_json(kr);
	int rc;

	*payload = NULL;
	if (!clear)
		return -ENOMEM;
	rc = ds_sync15_encrypt(sync_kb, clear, strlen(clear), NULL, payload);
	ds_memzero(clear, strlen(clear));
	ds_free(clear);
	return rc;
}

bool ds_sync15_keyring_equal(const struct ds_sync15_keyring *a, const struct ds_sync15_keyring *b)
{
	if (a->n != b->n || ds_ct_memcmp(&a->def, &b->def, sizeof(a->def)) != 0)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct ds_sync15_keybundle *o = ds_sync15_keyring_get(b, a->names[i]);
		if (o == &b->def || ds_ct_memcmp(o, &a->colls[i], sizeof(*o)) != 0)
			return false;
	}
	return true;
}

/* ---- the record transform ----------------------------------------------------------------- */

struct s15_transform {
	struct ds_transform base;
	struct ds_sync15_keybundle kb;
};

static struct s15_transform *tr_of(struct ds_transform *t)
{
	return DS_CONTAINER_OF(t, struct s15_transform, base);
}

/* The cleartext carries the record id (DOCS objectformats: every record has "id"). */
static char *cleartext_of(const struct ds_record *in)
{
	cJSON *o;
	char *copy;

	if (in->deleted || !in->payload) {
		o = cJSON_CreateObject();
		if (o && (!cJSON_AddStringToObject(o, "id", in->id) ||
			  !cJSON_AddTrueToObject(o, "deleted"))) {
			cJSON_Delete(o);
			o = NULL;
		}
	} else {
		o = cJSON_Parse(in->payload);
		if (!cJSON_IsObject(o)) {
			cJSON_Delete(o);
			return NULL;
		}
		/* Keep the engine's text when it already names the record (its key order stays). */
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
		if (!cJSON_IsString(id) || strcmp(id->valuestring, in->id) != 0) {
			cJSON *v = cJSON_CreateString(in->id);
			if (!v || (id ? !cJSON_ReplaceItemInObjectCaseSensitive(o, "id", v) :
					!cJSON_AddItemToObject(o, "id", v))) {
				cJSON_Delete(v);
				cJSON_Delete(o);
				o = NULL;
			}
		}
	}
	copy = ds_sync15_json_print(o);
	cJSON_Delete(o);
	return copy;
}

static int tr_encode(struct ds_transform *t, const struct ds_record *in, struct ds_record *out)
{
	char *clear;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!ds_sync15_id_valid(in->id)) /* NULL: not valid */
		return -EINVAL;
	clear = cleartext_of(in);
	if (!clear)
		return in->deleted || !in->payload ? -ENOMEM : -EILSEQ;
	rc = ds_sync15_encrypt(&tr_of(t)->kb, clear, strlen(clear), NULL, &out->payload);
	ds_free(clear);
	if (rc == 0 && !(out->id = ds_strdup(in->id)))
		rc = -ENOMEM;
	if (rc < 0) {
		ds_record_clear(out);
		return rc;
	}
	out->deleted = false; /* on the server a tombstone is an ordinary encrypted record */
	out->modified_ms = in->modified_ms;
	out->change_seq = in->change_seq;
	return 0;
}

static int tr_decode(struct ds_transform *t, const struct ds_record *in, struct ds_record *out)
{
	char *clear = NULL;
	size_t len;
	cJSON *o = NULL;
	const char *id;
	const cJSON *del;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = ds_sync15_decrypt(&tr_of(t)->kb, in->payload, &clear, &len);
	if (rc < 0)
		return rc;
	o = cJSON_Parse(clear);
	id = ds_sync15_json_str(o, "id");
	del = cJSON_GetObjectItemCaseSensitive(o, "deleted");
	rc = -EILSEQ;
	if (!cJSON_IsObject(o) || !id)
		goto out;
	/* A record moved under another id would let a server swap records: refuse it. */
	if (!in->id || strcmp(id, in->id) != 0) {
		rc = -EBADMSG;
		goto out;
	}
	rc = -ENOMEM;
	if (!(out->id = ds_strdup(in->id)))
		goto out;
	if (cJSON_IsTrue(del)) {
		out->deleted = true;
	} else {
		out->payload = clear;
		clear = NULL;
	}
	out->modified_ms = in->modified_ms;
	rc = 0;
out:
	cJSON_Delete(o);
	ds_memzero(clear, len); /* NULL once it is the record's payload */
	ds_free(clear);
	if (rc < 0)
		ds_record_clear(out);
	return rc;
}

static void tr_close(struct ds_transform *t)
{
	struct s15_transform *x = tr_of(t);

	ds_sync15_keybundle_wipe(&x->kb);
	ds_free(x);
}

static const struct ds_transform_ops s15_transform_ops = {
	.kind = "sync15",
	.encode = tr_encode,
	.decode = tr_decode,
	.close = tr_close,
};

int ds_sync15_transform_new(const struct ds_sync15_keybundle *kb, struct ds_transform **out)
{
	struct s15_transform *x = ds_calloc(1, sizeof(*x));

	*out = NULL;
	if (!x)
		return -ENOMEM;
	x->base.ops = &s15_transform_ops;
	x->base.priv = x;
	x->kb = *kb;
	*out = &x->base;
	return 0;
}

void ds_sync15_transform_set_keys(struct ds_transform *t, const struct ds_sync15_keybundle *kb)
{
	tr_of(t)->kb = *kb;
}
