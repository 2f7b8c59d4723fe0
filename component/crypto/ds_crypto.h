/*
 * ds_crypto.h - the one crypto facade of datasync, over mbedTLS.
 *
 * Caller-owned buffers; functions return 0, -EINVAL (bad sizes or arguments), -EBADMSG (an
 * authentication tag or MAC did not verify, or padding is wrong) or -EIO (backend failure).
 * Written against mbedTLS 2.28's API with version shims, so a 3.x or PSA backend is a change of
 * one file (crypto_mbedtls.c).
 */
#ifndef DS_CRYPTO_H
#define DS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define DS_SHA256_LEN 32
#define DS_AES_BLOCK 16
#define DS_GCM_IV_LEN 12
#define DS_GCM_TAG_LEN 16
#define DS_P256_POINT_LEN 65 /* uncompressed: 0x04 || X || Y */
#define DS_P256_PRIV_LEN 32

int ds_sha256(const void *in, size_t len, uint8_t out[DS_SHA256_LEN]);
int ds_hmac_sha256(const void *key, size_t klen, const void *in, size_t len,
		   uint8_t out[DS_SHA256_LEN]);
/* RFC 5869 with SHA-256. salt may be NULL (zero-length). */
int ds_hkdf_sha256(const void *salt, size_t slen, const void *ikm, size_t ilen, const void *info,
		   size_t infolen, void *okm, size_t olen);
int ds_pbkdf2_sha256(const void *pw, size_t pwlen, const void *salt, size_t slen,
		     uint32_t iterations, void *out, size_t olen);

/* AES-256-CBC with PKCS#7. Encrypt: *olen = padded length (out needs len + 16). Decrypt:
 * -EBADMSG on bad padding. */
int ds_aes256_cbc_encrypt(const uint8_t key[32], const uint8_t iv[16], const void *in, size_t len,
			  void *out, size_t cap, size_t *olen);
int ds_aes256_cbc_decrypt(const uint8_t key[32], const uint8_t iv[16], const void *in, size_t len,
			  void *out, size_t cap, size_t *olen);

/* AES-GCM, 16- or 32-byte key, 12-byte IV, 16-byte tag. out has len bytes. */
int ds_aes_gcm_encrypt(const void *key, size_t klen, const uint8_t iv[DS_GCM_IV_LEN],
		       const void *aad, size_t aadlen, const void *in, size_t len, void *out,
		       uint8_t tag[DS_GCM_TAG_LEN]);
int ds_aes_gcm_decrypt(const void *key, size_t klen, const uint8_t iv[DS_GCM_IV_LEN],
		       const void *aad, size_t aadlen, const void *in, size_t len, void *out,
		       const uint8_t tag[DS_GCM_TAG_LEN]);

/* ECDH on P-256 with raw points. */
int ds_p256_keygen(uint8_t priv[DS_P256_PRIV_LEN], uint8_t pub[DS_P256_POINT_LEN]);
int ds_p256_ecdh(const uint8_t priv[DS_P256_PRIV_LEN], const uint8_t peer[DS_P256_POINT_LEN],
		 uint8_t secret[32]);

/* CTR-DRBG seeded from ds_port_entropy() on first use; thread-safe. -EIO if the port's
 * entropy fails (buf is then wiped). */
int ds_random(void *buf, size_t len);
/* Wipe the generator's state; the next ds_random() seeds anew from the port. Call in a child
 * after fork() (it would otherwise repeat the parent's stream) and at shutdown. */
void ds_random_reset(void);

/* Constant-time comparison (time depends on n only): 0 when equal, 1 otherwise. For MACs and
 * tags: never memcmp(), which returns at the first difference. */
int ds_ct_memcmp(const void *a, const void *b, size_t n);

/* Base64 (RFC 4648 §4, padded) and base64url (§5, unpadded on output, either on input).
 * Encode: returns the length written (NUL-terminated, cap includes the NUL) or -ENOSPC.
 * Decode: returns the decoded length or -EILSEQ / -ENOSPC. */
int ds_base64_encode(const void *in, size_t len, char *out, size_t cap);
int ds_base64_decode(const char *in, size_t len, void *out, size_t cap);
int ds_base64url_encode(const void *in, size_t len, char *out, size_t cap);
int ds_base64url_decode(const char *in, size_t len, void *out, size_t cap);
/* Lower-case hex on output; either case on input. Same return rules as base64 (odd length or
 * a non-hex character: -EILSEQ). */
int ds_hex_encode(const void *in, size_t len, char *out, size_t cap);
int ds_hex_decode(const char *in, size_t len, void *out, size_t cap);

#endif /* DS_CRYPTO_H */
