/*
 * random_mbedtls.c - ds_random(): one process-wide CTR-DRBG (NIST SP 800-90A, AES-256) seeded
 * from ds_port_entropy() only.
 *
 * The generator is seeded on first use, not at start-up, so a daemon that never needs random
 * bytes never blocks on the OS pool. mbedtls_entropy_context is deliberately not used: its
 * default sources reach the OS behind the port's back. The DRBG asks the port again at each
 * automatic reseed (every MBEDTLS_CTR_DRBG_RESEED_INTERVAL requests).
 *
 * Thread safety: the daemon's event loop and its worker thread both draw; a C11 mutex serialises
 * seeding and generation (C11 <threads.h> is the language's own library, not an OS interface).
 */
#define DS_LOG_TAG "crypto"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_CRYPTO
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "ds_port.h"

#include <threads.h>

#include <mbedtls/ctr_drbg.h>

static once_flag rng_once = ONCE_FLAG_INIT;
static mtx_t rng_lock;
static bool rng_lock_ok;
static bool rng_seeded;
static mbedtls_ctr_drbg_context rng_drbg;

/* Personalisation string (SP 800-90A §8.7.1): separates our stream from other DRBG users. */
static const unsigned char rng_pers[] = "datasync ds_random v1";

static void rng_lock_init(void)
{
	rng_lock_ok = mtx_init(&rng_lock, mtx_plain) == thrd_success;
}

static int rng_entropy(void *ctx, unsigned char *buf, size_t len)
{
	DS_UNUSED(ctx);
	return ds_port_entropy(buf, len) == 0 ? 0 : MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
}

/* Called with rng_lock held. */
static int rng_seed_locked(void)
{
	int rc;

	if (rng_seeded)
		return 0;
	mbedtls_ctr_drbg_init(&rng_drbg);
	rc = mbedtls_ctr_drbg_seed(&rng_drbg, rng_entropy, NULL, rng_pers, sizeof(rng_pers) - 1);
	if (rc) {
		mbedtls_ctr_drbg_free(&rng_drbg);
		DS_LOG_ERR("cannot seed the random generator (-0x%04x)", (unsigned int)-rc);
		return -EIO;
	}
	rng_seeded = true;
	return 0;
}

int ds_random(void *buf, size_t len)
{
	unsigned char *p = buf;
	int rc;

	if (!buf && len)
		return -EINVAL;
	call_once(&rng_once, rng_lock_init);
	if (!rng_lock_ok)
		return -EIO;
	if (mtx_lock(&rng_lock) != thrd_success)
		return -EIO;
	rc = rng_seed_locked();
	while (rc == 0 && len > 0) {
		size_t n = DS_MIN(len, (size_t)MBEDTLS_CTR_DRBG_MAX_REQUEST);

		if (mbedtls_ctr_drbg_random(&rng_drbg, p, n) != 0) {
			DS_LOG_ERR("random generator failed");
			rc = -EIO;
			break;
		}
		p += n;
		len -= n;
	}
	mtx_unlock(&rng_lock);
	if (rc && buf)
		ds_memzero(buf, (size_t)(p - (unsigned char *)buf));
	return rc;
}

void ds_random_reset(void)
{
	call_once(&rng_once, rng_lock_init);
	if (!rng_lock_ok || mtx_lock(&rng_lock) != thrd_success)
		return;
	if (rng_seeded) {
		mbedtls_ctr_drbg_free(&rng_drbg); /* wipes the key and counter */
		rng_seeded = false;
	}
	mtx_unlock(&rng_lock);
}
