/*
 * crypto_mbedtls.c - the ds_crypto.h facade over mbedTLS's legacy API (2.28; 3.x through the
 * shims below). The random generator lives in random_mbedtls.c.
 *
 * Rules kept here:
 *  - every mbedTLS error is mapped at this boundary: bad input -> -EINVAL, failed tag or MAC ->
 *    -EBADMSG, anything else -> -EIO;
 *  - every context is freed (mbedtls_*_free wipes it) and every local copy of key material or
 *    intermediate plaintext is wiped with ds_memzero before returning, on all paths;
 *  - on a failed decryption the caller's output buffer holds no plaintext.
 */
#define DS_LOG_TAG "crypto"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_CRYPTO
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"

#include <limits.h>
#include <string.h>

#include <mbedtls/version.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#include <mbedtls/build_info.h>
#else
#include <mbedtls/config.h>
#endif
#include <mbedtls/aes.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/ecp.h>
#include <mbedtls/gcm.h>
#include <mbedtls/hkdf.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/sha256.h>

/* ---- version shims: the only places where 2.28 and 3.x differ for what we use ------------- */

static int sha256_oneshot(const unsigned char *in, size_t len, unsigned char out[32])
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	return mbedtls_sha256(in, len, out, 0);
#else
	/* 2.28's mbedtls_sha256() is a deprecated void function; the _ret variant reports errors. */
	return mbedtls_sha256_ret(in, len, out, 0);
#endif
}

static int pbkdf2_sha256(const unsigned char *pw, size_t pwlen, const unsigned char *salt,
			 size_t slen, unsigned int iterations, uint32_t olen, unsigned char *out)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03030000
	/* 3.3 added the md-type variant and deprecated the context one. */
	return mbedtls_pkcs5_pbkdf2_hmac_ext(MBEDTLS_MD_SHA256, pw, pwlen, salt, slen, iterations,
					     olen, out);
#else
	mbedtls_md_context_t md;
	int rc;

	mbedtls_md_init(&md);
	/* hmac = 1: PBKDF2 drives the context through mbedtls_md_hmac_*. */
	rc = mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1);
	if (rc == 0)
		rc = mbedtls_pkcs5_pbkdf2_hmac(&md, pw, pwlen, salt, slen, iterations, olen, out);
	mbedtls_md_free(&md);
	return rc;
#endif
}

/* mbedTLS RNG callback over ds_random(): blinding in ECDH, key generation. */
static int rng_cb(void *ctx, unsigned char *buf, size_t len)
{
	DS_UNUSED(ctx);
	return ds_random(buf, len) == 0 ? 0 : MBEDTLS_ERR_ECP_RANDOM_FAILED;
}

static int map_err(int rc, const char *what)
{
	if (rc == 0)
		return 0;
	switch (rc) {
	case MBEDTLS_ERR_GCM_AUTH_FAILED:
		return -EBADMSG;
	case MBEDTLS_ERR_GCM_BAD_INPUT:
	case MBEDTLS_ERR_MD_BAD_INPUT_DATA:
	case MBEDTLS_ERR_HKDF_BAD_INPUT_DATA:
	case MBEDTLS_ERR_PKCS5_BAD_INPUT_DATA:
	case MBEDTLS_ERR_AES_INVALID_KEY_LENGTH:
	case MBEDTLS_ERR_AES_INVALID_INPUT_LENGTH:
	case MBEDTLS_ERR_ECP_BAD_INPUT_DATA:
	case MBEDTLS_ERR_ECP_INVALID_KEY:
	case MBEDTLS_ERR_MPI_BAD_INPUT_DATA:
		return -EINVAL;
	default:
		DS_LOG_WRN("%s: mbedTLS error -0x%04x", what, (unsigned int)-rc);
		return -EIO;
	}
}

/* ---- hashes and key derivation ------------------------------------------------------------- */

/* Stands for an empty input: mbedTLS wants a valid pointer even for zero bytes. */
static const unsigned char empty[1];

int ds_sha256(const void *in, size_t len, uint8_t out[DS_SHA256_LEN])
{
	if ((!in && len) || !out)
		return -EINVAL;
	return map_err(sha256_oneshot(in, len, out), "sha256");
}

int ds_hmac_sha256(const void *key, size_t klen, const void *in, size_t len,
		   uint8_t out[DS_SHA256_LEN])
{
	if ((!key && klen) || (!in && len) || !out)
		return -EINVAL;
	return map_err(mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
				       key ? key : empty, klen, in ? in : empty, len, out),
		       "hmac");
}

int ds_hkdf_sha256(const void *salt, size_t slen, const void *ikm, size_t ilen, const void *info,
		   size_t infolen, void *okm, size_t olen)
{
	if ((!salt && slen) || (!ikm && ilen) || (!info && infolen) || !okm || olen == 0 ||
	    olen > 255 * DS_SHA256_LEN)
		return -EINVAL;
	/* mbedtls_hkdf() treats a NULL salt as RFC 5869's HashLen zero bytes and wipes its PRK. */
	return map_err(mbedtls_hkdf(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
				    slen ? salt : NULL, slen, ikm ? ikm : empty, ilen,
				    info ? info : empty, infolen, okm, olen),
		       "hkdf");
}

int ds_pbkdf2_sha256(const void *pw, size_t pwlen, const void *salt, size_t slen,
		     uint32_t iterations, void *out, size_t olen)
{
	if ((!pw && pwlen) || (!salt && slen) || !out || olen == 0 || olen > UINT32_MAX ||
	    iterations == 0 || iterations > UINT_MAX)
		return -EINVAL;
	return map_err(pbkdf2_sha256(pw ? pw : empty, pwlen, salt ? salt : empty, slen,
				     (unsigned int)iterations, (uint32_t)olen, out),
		       "pbkdf2");
}

/* ---- AES-256-CBC with PKCS#7 --------------------------------------------------------------- */

int ds_aes256_cbc_encrypt(const uint8_t key[32], const uint8_t iv[16], const void *in, size_t len,
			  void *out, size_t cap, size_t *olen)
{
	mbedtls_aes_context aes;
	unsigned char ivc[DS_AES_BLOCK], last[DS_AES_BLOCK];
	size_t full = len - len % DS_AES_BLOCK;
	size_t pad = DS_AES_BLOCK - len % DS_AES_BLOCK; /* 1..16: a full block when aligned */
	int rc;

	if (!key || !iv || (!in && len) || !out || !olen || len > SIZE_MAX - DS_AES_BLOCK)
		return -EINVAL;
	if (cap < full + DS_AES_BLOCK)
		return -ENOSPC;

	memcpy(ivc, iv, sizeof(ivc));
	/* The partial tail is padded in a local block so the input is never read past len. */
	if (len - full)
		memcpy(last, (const unsigned char *)in + full, len - full);
	memset(last + (len - full), (int)pad, pad);

	mbedtls_aes_init(&aes);
	rc = mbedtls_aes_setkey_enc(&aes, key, 256);
	if (rc == 0 && full)
		rc = mbedtls_aes_crypt_cbc(&aes, MBEDTLS_AES_ENCRYPT, full, ivc, in, out);
	if (rc == 0)
		rc = mbedtls_aes_crypt_cbc(&aes, MBEDTLS_AES_ENCRYPT, DS_AES_BLOCK, ivc, last,
					   (unsigned char *)out + full);
	mbedtls_aes_free(&aes);
	ds_memzero(last, sizeof(last));
	ds_memzero(ivc, sizeof(ivc));
	if (rc) {
		ds_memzero(out, full + DS_AES_BLOCK); /* cap holds that much: checked above */
		return map_err(rc, "aes-cbc encrypt");
	}
	*olen = full + DS_AES_BLOCK;
	return 0;
}

/*
 * Returns the PKCS#7 pad length of the final block, or 0 if the padding is malformed. The
 * check runs in time independent of the padding bytes: the records it guards are authenticated
 * first (sync15.md §3), but a padding oracle is cheap to avoid.
 */
static size_t pkcs7_pad_len(const unsigned char block[DS_AES_BLOCK])
{
	unsigned int pad = block[DS_AES_BLOCK - 1];
	unsigned int bad = (unsigned int)((pad - 1u) >> 8) | (unsigned int)((16u - pad) >> 8);
	unsigned int i;

	/* bad is non-zero when pad == 0 or pad > 16 (unsigned wrap sets high bits). */
	for (i = 0; i < DS_AES_BLOCK; i++) {
		/* mask = 0xff.. for the last pad bytes (i >= 16 - pad), else 0. */
		unsigned int in_pad = 0u - ((((unsigned int)(DS_AES_BLOCK - 1 - i) - pad) >> 8) & 1u);

		bad |= in_pad & (block[i] ^ pad);
	}
	return bad ? 0 : pad;
}

int ds_aes256_cbc_decrypt(const uint8_t key[32], const uint8_t iv[16], const void *in, size_t len,
			  void *out, size_t cap, size_t *olen)
{
	mbedtls_aes_context aes;
	unsigned char ivc[DS_AES_BLOCK], last[DS_AES_BLOCK];
	size_t head, pad, plen;
	int rc;

	if (!key || !iv || !in || !out || !olen || len == 0 || len % DS_AES_BLOCK)
		return -EINVAL;
	head = len - DS_AES_BLOCK;
	if (cap < head)
		return -ENOSPC;

	memcpy(ivc, iv, sizeof(ivc));
	mbedtls_aes_init(&aes);
	rc = mbedtls_aes_setkey_dec(&aes, key, 256);
	/* The last block goes to a local buffer first: out may be up to 16 bytes shorter than in. */
	if (rc == 0 && head)
		rc = mbedtls_aes_crypt_cbc(&aes, MBEDTLS_AES_DECRYPT, head, ivc, in, out);
	if (rc == 0)
		rc = mbedtls_aes_crypt_cbc(&aes, MBEDTLS_AES_DECRYPT, DS_AES_BLOCK, ivc,
					   (const unsigned char *)in + head, last);
	mbedtls_aes_free(&aes);
	ds_memzero(ivc, sizeof(ivc));
	if (rc) {
		rc = map_err(rc, "aes-cbc decrypt");
		goto fail;
	}
	pad = pkcs7_pad_len(last);
	if (pad == 0) {
		rc = -EBADMSG;
		goto fail;
	}
	plen = len - pad;
	if (cap < plen) {
		rc = -ENOSPC;
		goto fail;
	}
	memcpy((unsigned char *)out + head, last, DS_AES_BLOCK - pad);
	ds_memzero(last, sizeof(last));
	*olen = plen;
	return 0;

fail:
	ds_memzero(last, sizeof(last));
	ds_memzero(out, head);
	return rc;
}

/* ---- AES-GCM ------------------------------------------------------------------------------- */

static int gcm_args_ok(const void *key, size_t klen, const uint8_t *iv, const void *aad,
		       size_t aadlen, const void *in, size_t len, const void *out, const void *tag)
{
	return key && (klen == 16 || klen == 32) && iv && (aad || !aadlen) && (in || !len) &&
	       (out || !len) && tag;
}

int ds_aes_gcm_encrypt(const void *key, size_t klen, const uint8_t iv[DS_GCM_IV_LEN],
		       const void *aad, size_t aadlen, const void *in, size_t len, void *out,
		       uint8_t tag[DS_GCM_TAG_LEN])
{
	mbedtls_gcm_context gcm;
	int rc;

	if (!gcm_args_ok(key, klen, iv, aad, aadlen, in, len, out, tag))
		return -EINVAL;
	mbedtls_gcm_init(&gcm);
	rc = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key, (unsigned int)(klen * 8));
	if (rc == 0)
		rc = mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, len, iv, DS_GCM_IV_LEN,
					       aad, aadlen, in, out, DS_GCM_TAG_LEN, tag);
	mbedtls_gcm_free(&gcm);
	if (rc && len)
		ds_memzero(out, len);
	return map_err(rc, "aes-gcm encrypt");
}

int ds_aes_gcm_decrypt(const void *key, size_t klen, const uint8_t iv[DS_GCM_IV_LEN],
		       const void *aad, size_t aadlen, const void *in, size_t len, void *out,
		       const uint8_t tag[DS_GCM_TAG_LEN])
{
	mbedtls_gcm_context gcm;
	int rc;

	if (!gcm_args_ok(key, klen, iv, aad, aadlen, in, len, out, tag))
		return -EINVAL;
	mbedtls_gcm_init(&gcm);
	rc = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key, (unsigned int)(klen * 8));
	/* auth_decrypt compares the tag in constant time and zeroes out on mismatch. */
	if (rc == 0)
		rc = mbedtls_gcm_auth_decrypt(&gcm, len, iv, DS_GCM_IV_LEN, aad, aadlen, tag,
					      DS_GCM_TAG_LEN, in, out);
	mbedtls_gcm_free(&gcm);
	if (rc && len)
		ds_memzero(out, len);
	if (rc == MBEDTLS_ERR_GCM_AUTH_FAILED)
		return -EBADMSG; /* expected on tampered input: not worth a log line */
	return map_err(rc, "aes-gcm decrypt");
}

/* ---- ECDH on P-256 ------------------------------------------------------------------------- */

int ds_p256_keygen(uint8_t priv[DS_P256_PRIV_LEN], uint8_t pub[DS_P256_POINT_LEN])
{
	mbedtls_ecp_group grp;
	mbedtls_mpi d;
	mbedtls_ecp_point q;
	size_t n = 0;
	int rc;

	if (!priv || !pub)
		return -EINVAL;
	mbedtls_ecp_group_init(&grp);
	mbedtls_mpi_init(&d);
	mbedtls_ecp_point_init(&q);
	rc = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1);
	if (rc == 0)
		rc = mbedtls_ecp_gen_keypair(&grp, &d, &q, rng_cb, NULL);
	if (rc == 0)
		rc = mbedtls_mpi_write_binary(&d, priv, DS_P256_PRIV_LEN);
	if (rc == 0)
		rc = mbedtls_ecp_point_write_binary(&grp, &q, MBEDTLS_ECP_PF_UNCOMPRESSED, &n, pub,
						    DS_P256_POINT_LEN);
	if (rc == 0 && n != DS_P256_POINT_LEN)
		rc = MBEDTLS_ERR_ECP_BAD_INPUT_DATA;
	mbedtls_ecp_point_free(&q);
	mbedtls_mpi_free(&d); /* mbedtls_mpi_free wipes the limbs */
	mbedtls_ecp_group_free(&grp);
	if (rc) {
		ds_memzero(priv, DS_P256_PRIV_LEN);
		return map_err(rc, "p256 keygen");
	}
	return 0;
}

int ds_p256_ecdh(const uint8_t priv[DS_P256_PRIV_LEN], const uint8_t peer[DS_P256_POINT_LEN],
		 uint8_t secret[32])
{
	mbedtls_ecp_group grp;
	mbedtls_mpi d, z;
	mbedtls_ecp_point q;
	int rc;

	if (!priv || !peer || !secret)
		return -EINVAL;
	mbedtls_ecp_group_init(&grp);
	mbedtls_mpi_init(&d);
	mbedtls_mpi_init(&z);
	mbedtls_ecp_point_init(&q);
	rc = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1);
	if (rc == 0)
		rc = mbedtls_mpi_read_binary(&d, priv, DS_P256_PRIV_LEN);
	if (rc == 0)
		rc = mbedtls_ecp_check_privkey(&grp, &d);
	/* Only uncompressed points are accepted (header byte 0x04); the peer point must lie on
	 * the curve, which check_pubkey verifies: this stops invalid-curve attacks. */
	if (rc == 0)
		rc = peer[0] == 0x04 ? mbedtls_ecp_point_read_binary(&grp, &q, peer,
								     DS_P256_POINT_LEN)
				     : MBEDTLS_ERR_ECP_BAD_INPUT_DATA;
	if (rc == 0)
		rc = mbedtls_ecp_check_pubkey(&grp, &q);
	if (rc == 0)
		rc = mbedtls_ecdh_compute_shared(&grp, &z, &q, &d, rng_cb, NULL);
	if (rc == 0)
		rc = mbedtls_mpi_write_binary(&z, secret, 32);
	mbedtls_ecp_point_free(&q);
	mbedtls_mpi_free(&z);
	mbedtls_mpi_free(&d);
	mbedtls_ecp_group_free(&grp);
	if (rc) {
		ds_memzero(secret, 32);
		return map_err(rc, "p256 ecdh");
	}
	return 0;
}
