/*
 * fxa_jwe.c - keys_jwe of the OAuth code flow: compact JWE, alg ECDH-ES, enc A256GCM, an
 * ephemeral P-256 key in the protected header (RFC 7516 §7.1, RFC 7518 §4.6 and §5.3;
 * accounts.md §4; ecosystem-platform scoped-keys.md).
 */
#include "account/ds_fxa.h"
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"

#include <cjson/cJSON.h>
#include <string.h>

/* Decode segment [s, s+len) of base64url into a new buffer of *out_len bytes. */
static int seg_decode(const char *s, size_t len, uint8_t **out, size_t *out_len)
{
	size_t cap = len * 3 / 4 + 3;
	uint8_t *b = ds_malloc(cap + 1);
	int n;

	if (!b)
		return -ENOMEM;
	n = ds_base64url_decode(s, len, b, cap);
	if (n < 0) {
		ds_free(b);
		return -EINVAL;
	}
	b[n] = '\0';
	*out = b;
	*out_len = (size_t)n;
	return 0;
}

/* A JWK coordinate: 32 bytes of base64url. */
static int coord(const cJSON *epk, const char *k, uint8_t out[32])
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(epk, k);

	if (!cJSON_IsString(v) || ds_base64url_decode(v->valuestring, strlen(v->valuestring), out, 32) != 32)
		return -EINVAL;
	return 0;
}

/*
 * Concat KDF (NIST SP 800-56A §5.8.1 as RFC 7518 §4.6.2 uses it) for one SHA-256 round:
 * SHA256(counter 1 || Z || len("A256GCM") || "A256GCM" || len(apu)=0 || len(apv)=0 || 256).
 */
static int concat_kdf(const uint8_t z[32], uint8_t cek[32])
{
	static const char alg[] = "A256GCM";
	uint8_t in[4 + 32 + 4 + sizeof(alg) - 1 + 4 + 4 + 4];
	size_t o = 0;
	int rc;

	memcpy(in + o, "\0\0\0\1", 4), o += 4;
	memcpy(in + o, z, 32), o += 32;
	memcpy(in + o, "\0\0\0\7", 4), o += 4;
	memcpy(in + o, alg, sizeof(alg) - 1), o += sizeof(alg) - 1;
	memcpy(in + o, "\0\0\0\0\0\0\0\0", 8), o += 8;
	memcpy(in + o, "\0\0\1\0", 4), o += 4;
	rc = ds_sha256(in, o, cek);
	ds_memzero(in, sizeof(in));
	return rc;
}

int ds_fxa_jwe_decrypt(const uint8_t priv[32], const char *jwe, char **plain, size_t *len)
{
	const char *seg[5], *p;
	size_t seglen[5], hlen = 0, ivlen = 0, ctlen = 0, taglen = 0;
	uint8_t *hdr = NULL, *iv = NULL, *ct = NULL, *tag = NULL, *out = NULL;
	uint8_t point[DS_P256_POINT_LEN], z[32], cek[32];
	const cJSON *alg, *enc, *epk, *kty, *crv;
	cJSON *h = NULL;
	int rc, i;

	if (!priv || !jwe || !plain || !len)
		return -EINVAL;
	*plain = NULL;
	*len = 0;
	/* header.encrypted_key.iv.ciphertext.tag; ECDH-ES (direct agreement) has no encrypted key. */
	p = jwe;
	for (i = 0; i < 5; i++) {
		const char *e = i < 4 ? strchr(p, '.') : p + strlen(p);

		if (!e)
			return -EINVAL;
		seg[i] = p;
		seglen[i] = (size_t)(e - p);
		p = e + 1;
	}
	if (seg[4][seglen[4]] != '\0' || seglen[1] != 0 || !seglen[0] || !seglen[2] || !seglen[4])
		return -EINVAL;
	rc = seg_decode(seg[0], seglen[0], &hdr, &hlen);
	if (!rc)
		rc = seg_decode(seg[2], seglen[2], &iv, &ivlen);
	if (!rc)
		rc = seg_decode(seg[3], seglen[3], &ct, &ctlen);
	if (!rc)
		rc = seg_decode(seg[4], seglen[4], &tag, &taglen);
	if (rc)
		goto out;
	rc = -EINVAL;
	if (ivlen != DS_GCM_IV_LEN || taglen != DS_GCM_TAG_LEN)
		goto out;
	h = cJSON_ParseWithLength((const char *)hdr, hlen);
	alg = cJSON_GetObjectItemCaseSensitive(h, "alg");
	enc = cJSON_GetObjectItemCaseSensitive(h, "enc");
	epk = cJSON_GetObjectItemCaseSensitive(h, "epk");
	kty = cJSON_GetObjectItemCaseSensitive(epk, "kty");
	crv = cJSON_GetObjectItemCaseSensitive(epk, "crv");
	if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "ECDH-ES") || !cJSON_IsString(enc) ||
	    strcmp(enc->valuestring, "A256GCM") || !cJSON_IsString(kty) || strcmp(kty->valuestring, "EC") ||
	    !cJSON_IsString(crv) || strcmp(crv->valuestring, "P-256"))
		goto out;
	point[0] = 0x04;
	if (coord(epk, "x", point + 1) || coord(epk, "y", point + 33))
		goto out;
	/* ds_p256_ecdh() checks that the point is on the curve (invalid-curve attacks). */
	rc = ds_p256_ecdh(priv, point, z);
	if (rc)
		goto out;
	rc = concat_kdf(z, cek);
	if (rc)
		goto out;
	out = ds_malloc(ctlen + 1);
	if (!out) {
		rc = -ENOMEM;
		goto out;
	}
	/* AAD = ASCII of the protected header segment as sent (RFC 7516 §5.2 step 14). */
	rc = ds_aes_gcm_decrypt(cek, sizeof(cek), iv, seg[0], seglen[0], ct, ctlen, out, tag);
	if (rc) {
		ds_memzero(out, ctlen);
		ds_free(out);
		out = NULL;
		goto out;
	}
	out[ctlen] = '\0';
	*plain = (char *)out;
	*len = ctlen;
out:
	ds_memzero(z, sizeof(z));
	ds_memzero(cek, sizeof(cek));
	if (ct) {
		ds_memzero(ct, ctlen);
		ds_free(ct);
	}
	ds_free(hdr);
	ds_free(iv);
	ds_free(tag);
	cJSON_Delete(h);
	return rc;
}
