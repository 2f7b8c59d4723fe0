/*
 * The FxA /account/keys bundle (account/keys.c, ds_account_unbundle): 96 bytes a server sends,
 * opened only after its MAC verifies (onepw; accounts.md §2).
 *
 * Input: 32 bytes keyRequestKey, one mode byte, then the bundle. Mode bit 0 set: the harness
 * replaces the bundle's MAC with the right one, so the unwrapping after the check is reached
 * and compared with ciphertext XOR respXORkey computed here. Clear: the bytes are used as
 * they are, and a bundle whose MAC does not verify must leave the outputs untouched.
 * The key-id formatters get an int64 timestamp from the same bytes.
 */
#include "test/fuzz/fuzz_common.h"
#include "account/ds_account_keys.h"
#include "crypto/ds_crypto.h"

#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	DS_UNUSED(argc);
	DS_UNUSED(argv);
	fuzz_quiet();
	return 0;
}

static void key_ids(const uint8_t *data, size_t size)
{
	uint8_t kb[DS_ACCOUNT_KEY_LEN] = { 0 }, fp[DS_ACCOUNT_SCOPED_FP_LEN] = { 0 };
	char out[DS_ACCOUNT_KID_MAX];
	int64_t ms = 0;
	int n;

	memcpy(&ms, data, size < sizeof(ms) ? size : sizeof(ms));
	n = ds_account_key_id(ms, kb, out, sizeof(out));
	if (n >= (int)sizeof(out) || (n < 0 && n != -EINVAL && n != -ENOSPC) ||
	    (n >= 0 && strlen(out) != (size_t)n))
		fuzz_fail("ds_account_key_id");
	n = ds_account_scoped_key_id(ms, fp, out, sizeof(out));
	if (n >= (int)sizeof(out) || (n < 0 && n != -EINVAL && n != -ENOSPC) ||
	    (n >= 0 && strlen(out) != (size_t)n))
		fuzz_fail("ds_account_scoped_key_id");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t krk[DS_ACCOUNT_KEY_LEN] = { 0 }, hk[DS_ACCOUNT_KEY_LEN], xk[2 * DS_ACCOUNT_KEY_LEN];
	uint8_t ka[DS_ACCOUNT_KEY_LEN], wkb[DS_ACCOUNT_KEY_LEN], *bundle;
	size_t blen;
	int fix, rc;

	key_ids(data, size);
	memcpy(krk, data, size < sizeof(krk) ? size : sizeof(krk));
	if (size <= sizeof(krk))
		return 0;
	fix = data[sizeof(krk)] & 1;
	blen = size - sizeof(krk) - 1;
	if (fix && blen < DS_ACCOUNT_BUNDLE_LEN)
		blen = DS_ACCOUNT_BUNDLE_LEN;
	bundle = ds_calloc(1, blen + 1);
	if (!bundle)
		fuzz_fail("out of memory in the harness");
	memcpy(bundle, data + sizeof(krk) + 1, size - sizeof(krk) - 1 < blen ? size - sizeof(krk) - 1 : blen);
	if (ds_account_response_keys(krk, hk, xk))
		fuzz_fail("ds_account_response_keys");
	if (fix && ds_hmac_sha256(hk, sizeof(hk), bundle, 2 * DS_ACCOUNT_KEY_LEN,
				  bundle + 2 * DS_ACCOUNT_KEY_LEN))
		fuzz_fail("ds_hmac_sha256");
	memset(ka, 0xa5, sizeof(ka));
	memset(wkb, 0xa5, sizeof(wkb));
	rc = ds_account_unbundle(krk, bundle, blen, ka, wkb);
	if (blen != DS_ACCOUNT_BUNDLE_LEN) {
		if (rc != -EINVAL)
			fuzz_fail("a bundle of the wrong length was not refused");
	} else if (rc == 0) {
		for (size_t i = 0; i < DS_ACCOUNT_KEY_LEN; i++)
			if (ka[i] != (bundle[i] ^ xk[i]) ||
			    wkb[i] != (bundle[DS_ACCOUNT_KEY_LEN + i] ^ xk[DS_ACCOUNT_KEY_LEN + i]))
				fuzz_fail("unbundled keys are not ciphertext XOR respXORkey");
	} else if (rc == -EBADMSG) {
		if (fix)
			fuzz_fail("a bundle with the right MAC was refused");
		for (size_t i = 0; i < DS_ACCOUNT_KEY_LEN; i++)
			if (ka[i] != 0xa5 || wkb[i] != 0xa5)
				fuzz_fail("a refused bundle wrote key material");
	} else {
		fuzz_fail("ds_account_unbundle: unexpected return");
	}
	ds_memzero(hk, sizeof(hk));
	ds_memzero(xk, sizeof(xk));
	ds_free(bundle);
	return 0;
}
