/*
 * Engine payload <-> Kinto record (docs/remote-kinto.md "Wire format").
 *
 * Cleartext: the payload's members become the record's fields, so other Kinto clients (Kinto.js,
 * kinto-http) see ordinary records. Names Kinto gives a meaning to (id, last_modified, deleted,
 * schema, attachment) and our own ds_enc are written with a '~' in front, and so is every name
 * that already starts with '~', which keeps the mapping one-to-one: a table whose key column is
 * called "id" round-trips.
 *
 * Encrypted: the record carries only id, last_modified and
 *   "ds_enc": {"v":1, "kid":"<16 hex>", "iv":"<base64 12 bytes>", "ct":"<base64 ciphertext||tag>"}
 * AES-256-GCM over the payload's exact text, AAD "datasync-kinto-v1|<collection>|<id>", so a
 * record moved to another id or collection fails its tag instead of landing in the wrong row.
 */
#define DS_LOG_TAG "kinto"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "remote/kinto/kinto_priv.h"

#include <stdio.h>
#include <string.h>

#define ENC_FIELD "ds_enc"
#define AAD_PREFIX "datasync-kinto-v1|"

static const char *const reserved[] = { "id", "last_modified", "deleted", "schema",
					"attachment", ENC_FIELD, NULL };

static bool is_reserved(const char *name)
{
	for (size_t i = 0; reserved[i]; i++)
		if (strcmp(reserved[i], name) == 0)
			return true;
	return false;
}

bool ds_kinto_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > 255 || *id == '_' || *id == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

int ds_kinto_key_finish(struct ds_kinto_key *k)
{
	static const char label[] = "datasync-kinto-kid";
	uint8_t mac[DS_SHA256_LEN];
	int rc = ds_hmac_sha256(k->key, sizeof(k->key), label, sizeof(label) - 1, mac);

	if (rc == 0)
		rc = ds_hex_encode(mac, DS_KINTO_KID_LEN / 2, k->kid, sizeof(k->kid)) < 0 ? -EINVAL : 0;
	k->set = rc == 0;
	return rc;
}

/* ---- a growing text buffer ---------------------------------------------------------------- */

struct buf {
	char *p;
	size_t n, cap;
	int err;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *q;

		while (cap < b->n + n + 1)
			cap *= 2;
		q = ds_realloc(b->p, cap);
		if (!q) {
			b->err = -ENOMEM;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* ---- cleartext ---------------------------------------------------------------------------- */

struct enc_ctx {
	struct buf *b;
	bool first;
};

static int enc_member(const char *key, size_t klen, const char *val, size_t vlen, void *ud)
{
	struct enc_ctx *c = ud;
	char name[32];
	int n = ds_kinto_json_key_ascii(key, klen, name, sizeof(name), NULL);
	bool escape = n >= 0 && (is_reserved(name) || name[0] == '~');

	/* A long or non-ASCII name can still start with '~'. */
	if (n < 0 && klen && key[0] == '~')
		escape = true;
	if (n < 0 && klen >= 6 && (memcmp(key, "\\u007e", 6) == 0 || memcmp(key, "\\u007E", 6) == 0))
		escape = true;
	put(c->b, c->first ? "{\"" : ",\"", 2);
	if (escape)
		put(c->b, "~", 1);
	put(c->b, key, klen);
	put(c->b, "\":", 2);
	put(c->b, val, vlen);
	c->first = false;
	return c->b->err;
}

static int encode_clear(const char *payload, char **out)
{
	struct buf b = { 0 };
	struct enc_ctx c = { &b, true };
	int rc = ds_kinto_json_object_each(payload, strlen(payload), enc_member, &c);

	if (rc == 0 && c.first)
		puts_(&b, "{");
	puts_(&b, "}");
	if (rc == 0)
		rc = b.err;
	if (rc) {
		ds_free(b.p);
		return rc;
	}
	*out = b.p;
	return 0;
}

/* ---- encrypted ---------------------------------------------------------------------------- */

static char *aad_of(const char *coll, const char *id)
{
	return ds_asprintf(AAD_PREFIX "%s|%s", coll, id);
}

static int encode_enc(const struct ds_kinto_key *k, const char *coll, const char *id,
		      const char *payload, char **out)
{
	size_t len = strlen(payload);
	uint8_t iv[DS_GCM_IV_LEN];
	char iv64[24];
	uint8_t *ct = ds_malloc(len + DS_GCM_TAG_LEN);
	size_t cap64 = (len + DS_GCM_TAG_LEN + 2) / 3 * 4 + 1;
	char *ct64 = ds_malloc(cap64);
	char *aad = aad_of(coll, id);
	int rc = -ENOMEM;

	if (!ct || !ct64 || !aad)
		goto out;
	rc = ds_random(iv, sizeof(iv));
	if (rc)
		goto out;
	rc = ds_aes_gcm_encrypt(k->key, sizeof(k->key), iv, aad, strlen(aad), payload, len, ct,
				ct + len);
	if (rc)
		goto out;
	if (ds_base64_encode(iv, sizeof(iv), iv64, sizeof(iv64)) < 0 ||
	    ds_base64_encode(ct, len + DS_GCM_TAG_LEN, ct64, cap64) < 0) {
		rc = -EINVAL;
		goto out;
	}
	*out = ds_asprintf("{\"" ENC_FIELD "\":{\"v\":1,\"kid\":\"%s\",\"iv\":\"%s\",\"ct\":\"%s\"}}",
			   k->kid, iv64, ct64);
	rc = *out ? 0 : -ENOMEM;
out:
	if (ct)
		ds_memzero(ct, len + DS_GCM_TAG_LEN);
	ds_free(ct);
	ds_free(ct64);
	ds_free(aad);
	return rc;
}

int ds_kinto_encode(const struct ds_kinto_key *key, const char *coll, const char *id,
		    const char *payload, char **out)
{
	*out = NULL;
	if (!payload || !coll || !id)
		return -EINVAL;
	return key && key->set ? encode_enc(key, coll, id, payload, out) : encode_clear(payload, out);
}

/* ---- decoding ----------------------------------------------------------------------------- */

struct dec_ctx {
	struct buf b;
	bool first;
	char *id;
	int64_t lm;
	bool has_lm;
	bool deleted;
	const char *enc;
	size_t enc_len;
};

/* A JSON string value without escapes (ids, base64, hex) -> its text in *out. */
static int plain_string(const char *v, size_t n, char **out)
{
	ds_free(*out);
	*out = NULL;
	if (n < 2 || v[0] != '"' || v[n - 1] != '"' || memchr(v, '\\', n))
		return -EBADMSG;
	*out = ds_strndup(v + 1, n - 2);
	return *out ? 0 : -ENOMEM;
}

static int dec_member(const char *key, size_t klen, const char *val, size_t vlen, void *ud)
{
	struct dec_ctx *c = ud;
	char name[32];
	size_t first = 0;
	int n = ds_kinto_json_key_ascii(key, klen, name, sizeof(name), &first);

	if (n >= 0 && strcmp(name, "id") == 0) {
		return plain_string(val, vlen, &c->id);
	}
	if (n >= 0 && strcmp(name, "last_modified") == 0) {
		c->has_lm = true;
		return ds_kinto_json_int64(val, vlen, &c->lm);
	}
	if (n >= 0 && strcmp(name, "deleted") == 0) {
		c->deleted = vlen == 4 && memcmp(val, "true", 4) == 0;
		return 0;
	}
	if (n >= 0 && strcmp(name, ENC_FIELD) == 0) {
		c->enc = val;
		c->enc_len = vlen;
		return 0;
	}
	if (n >= 0 && is_reserved(name))
		return 0; /* Kinto's own fields (schema, attachment) are not the app's data */
	if (n < 0 && klen && key[0] == '~')
		first = 1;
	else if (n < 0 && klen >= 6 && (memcmp(key, "\\u007e", 6) == 0 || memcmp(key, "\\u007E", 6) == 0))
		first = 6;
	else if (!(n > 0 && name[0] == '~'))
		first = 0;
	put(&c->b, c->first ? "{\"" : ",\"", 2);
	put(&c->b, key + first, klen - first);
	put(&c->b, "\":", 2);
	put(&c->b, val, vlen);
	c->first = false;
	return c->b.err;
}

struct enc_fields {
	int64_t v;
	char *kid, *iv, *ct;
};

static int enc_member_in(const char *key, size_t klen, const char *val, size_t vlen, void *ud)
{
	struct enc_fields *f = ud;
	char name[8];
	char **slot = NULL;

	if (ds_kinto_json_key_ascii(key, klen, name, sizeof(name), NULL) < 0)
		return 0;
	if (strcmp(name, "v") == 0)
		return ds_kinto_json_int64(val, vlen, &f->v);
	if (strcmp(name, "kid") == 0)
		slot = &f->kid;
	else if (strcmp(name, "iv") == 0)
		slot = &f->iv;
	else if (strcmp(name, "ct") == 0)
		slot = &f->ct;
	if (!slot)
		return 0;
	return plain_string(val, vlen, slot);
}

static int decrypt(const struct ds_kinto_key *k, const char *coll, const char *id, const char *enc,
		   size_t enc_len, char **payload)
{
	struct enc_fields f = { 0 };
	uint8_t iv[DS_GCM_IV_LEN + 1];
	uint8_t *ct = NULL;
	char *pt = NULL, *aad = NULL;
	int n, rc = ds_kinto_json_object_each(enc, enc_len, enc_member_in, &f);

	if (rc == 0 && (f.v != 1 || !f.kid || !f.iv || !f.ct))
		rc = -EBADMSG;
	if (rc)
		goto out;
	if (!k || !k->set) {
		rc = -ENOKEY;
		goto out;
	}
	if (strcmp(f.kid, k->kid) != 0) {
		rc = -EKEYREJECTED;
		goto out;
	}
	if (ds_base64_decode(f.iv, strlen(f.iv), iv, sizeof(iv)) != DS_GCM_IV_LEN) {
		rc = -EBADMSG;
		goto out;
	}
	ct = ds_malloc(strlen(f.ct));
	aad = aad_of(coll, id);
	rc = -ENOMEM;
	if (!ct || !aad)
		goto out;
	n = ds_base64_decode(f.ct, strlen(f.ct), ct, strlen(f.ct));
	if (n < DS_GCM_TAG_LEN) {
		rc = -EBADMSG;
		goto out;
	}
	pt = ds_malloc((size_t)n - DS_GCM_TAG_LEN + 1);
	if (!pt)
		goto out;
	rc = ds_aes_gcm_decrypt(k->key, sizeof(k->key), iv, aad, strlen(aad), ct,
				(size_t)n - DS_GCM_TAG_LEN, pt, ct + n - DS_GCM_TAG_LEN);
	if (rc) {
		ds_memzero(pt, (size_t)n - DS_GCM_TAG_LEN);
		ds_free(pt);
		pt = NULL;
		rc = -EBADMSG;
		goto out;
	}
	pt[n - DS_GCM_TAG_LEN] = '\0';
	if (strlen(pt) != (size_t)n - DS_GCM_TAG_LEN) {
		ds_free(pt);
		pt = NULL;
		rc = -EBADMSG;
		goto out;
	}
	*payload = pt;
out:
	ds_free(f.kid);
	ds_free(f.iv);
	ds_free(f.ct);
	ds_free(ct);
	ds_free(aad);
	return rc;
}

int ds_kinto_decode(const struct ds_kinto_key *key, const char *coll, const char *text, size_t len,
		    struct ds_record *out)
{
	struct dec_ctx c = { .first = true };
	int rc = ds_kinto_json_object_each(text, len, dec_member, &c);

	memset(out, 0, sizeof(*out));
	if (rc == 0 && (!c.id || !c.has_lm || !ds_kinto_id_valid(c.id)))
		rc = -EBADMSG;
	if (rc)
		goto fail;
	out->id = c.id;
	c.id = NULL;
	out->modified_ms = c.lm;
	if (c.deleted) {
		out->deleted = true;
		ds_free(c.b.p);
		return 0;
	}
	if (c.enc) {
		ds_free(c.b.p);
		c.b.p = NULL;
		rc = decrypt(key, coll, out->id, c.enc, c.enc_len, &out->payload);
		if (rc)
			goto fail;
		return 0;
	}
	if (key && key->set) {
		/* A cleartext record where this device expects ciphertext: never applied, so the
		 * server cannot feed the device data in place of what the key protects. */
		rc = -EACCES;
		goto fail;
	}
	if (c.first)
		puts_(&c.b, "{");
	puts_(&c.b, "}");
	if (c.b.err) {
		rc = c.b.err;
		goto fail;
	}
	out->payload = c.b.p;
	return 0;
fail:
	ds_free(c.id);
	ds_free(c.b.p);
	ds_record_clear(out);
	return rc;
}

struct meta_ctx {
	char *id;
	int64_t lm;
};

static int meta_member(const char *key, size_t klen, const char *val, size_t vlen, void *ud)
{
	struct meta_ctx *c = ud;

	if (klen == 2 && memcmp(key, "id", 2) == 0)
		return plain_string(val, vlen, &c->id);
	if (klen == 13 && memcmp(key, "last_modified", 13) == 0)
		return ds_kinto_json_int64(val, vlen, &c->lm);
	return 0;
}

int ds_kinto_record_meta(const char *text, size_t len, char **id, int64_t *lm)
{
	struct meta_ctx c = { 0 };
	int rc = ds_kinto_json_object_each(text, len, meta_member, &c);

	if (rc == 0 && (!c.id || !ds_kinto_id_valid(c.id)))
		rc = -EBADMSG;
	if (rc) {
		ds_free(c.id);
		return rc;
	}
	*id = c.id;
	*lm = c.lm;
	return 0;
}
