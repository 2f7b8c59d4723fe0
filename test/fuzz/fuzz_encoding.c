/*
 * base64, base64url and hex decoders (crypto/encoding.c), through which keys and tokens from
 * servers and files arrive. Besides "no crash", the strictness the file promises is checked:
 * whatever decodes re-encodes to the same text (one encoding per byte string), so a decoder
 * that accepted a non-canonical spelling would be caught.
 */
#include "test/fuzz/fuzz_common.h"
#include "crypto/ds_crypto.h"

#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	DS_UNUSED(argc);
	DS_UNUSED(argv);
	fuzz_quiet();
	return 0;
}

typedef int (*dec_fn)(const char *in, size_t len, void *out, size_t cap);
typedef int (*enc_fn)(const void *in, size_t len, char *out, size_t cap);

/* canon: the spelling the encoder gives for what in decodes to (padding removed for url). */
static void check(dec_fn dec, enc_fn enc, const char *in, size_t len, bool url, const char *what)
{
	size_t cap = len + 4, ecap = 2 * len + 8, canon = len;
	uint8_t *out = ds_malloc(cap);
	char *again = ds_malloc(ecap);
	int n, m;

	if (!out || !again)
		fuzz_fail("out of memory in the harness");
	n = dec(in, len, out, cap);
	if (n >= 0) {
		m = enc(out, (size_t)n, again, ecap);
		while (url && canon && in[canon - 1] == '=')
			canon--;
		if (m < 0 || (size_t)m != canon || memcmp(again, in, canon) != 0)
			fuzz_fail(what);
		/* A buffer one byte short is refused, not overrun. */
		if (n > 0 && dec(in, len, out, (size_t)n - 1) != -ENOSPC)
			fuzz_fail("decoder did not refuse a short buffer");
	} else if (n != -EILSEQ) {
		fuzz_fail("decoder: unexpected return");
	}
	ds_free(out);
	ds_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	char *enc;
	int n;

	check(ds_base64_decode, ds_base64_encode, in, size, false, "base64 is not canonical");
	check(ds_base64url_decode, ds_base64url_encode, in, size, true, "base64url is not canonical");
	/* hex accepts either case; the encoder writes lower case. */
	{
		uint8_t *out = ds_malloc(size / 2 + 1);
		char *again = ds_malloc(size + 2);

		if (!out || !again)
			fuzz_fail("out of memory in the harness");
		n = ds_hex_decode(in, size, out, size / 2 + 1);
		if (n >= 0) {
			if (ds_hex_encode(out, (size_t)n, again, size + 2) != (int)size ||
			    strncasecmp(again, in, size) != 0)
				fuzz_fail("hex does not round-trip");
		} else if (n != -EILSEQ) {
			fuzz_fail("ds_hex_decode: unexpected return");
		}
		ds_free(out);
		ds_free(again);
	}
	/* Encoders over arbitrary bytes: decode must give them back. */
	enc = ds_malloc(2 * size + 8);
	if (!enc)
		fuzz_fail("out of memory in the harness");
	n = ds_base64url_encode(data, size, enc, 2 * size + 8);
	if (n < 0)
		fuzz_fail("ds_base64url_encode failed");
	{
		uint8_t *back = ds_malloc(size + 1);

		if (!back || ds_base64url_decode(enc, (size_t)n, back, size + 1) != (int)size ||
		    (size && memcmp(back, data, size) != 0))
			fuzz_fail("base64url does not round-trip bytes");
		ds_free(back);
	}
	ds_free(enc);
	return 0;
}
