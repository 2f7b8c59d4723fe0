/*
 * encoding.c - base64 (RFC 4648 §4), base64url (§5) and hex, strict and branch-free on data.
 *
 * Keys travel in these encodings (crypto/keys holds base64 keys, kSync is base64url, tokens
 * are hex), so the character mapping uses masks instead of tables or branches indexed by the
 * data: no secret-dependent memory access or branch (table look-ups in key decoding leak
 * through the cache: Sieck et al., "Util::Lookup", CCS 2021). Only the final valid/invalid
 * verdict branches.
 *
 * Strictness (RFC 4648 §3.3, §3.5): no whitespace or line breaks, '=' only as final padding,
 * standard base64 must be padded, and the unused low bits of the last character must be zero
 * (non-canonical encodings are rejected: two strings never decode to the same bytes).
 */
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"

#include <limits.h>

/* All-ones when lo <= c <= hi, else 0 (values below 2^31). */
static unsigned int ct_in_range(unsigned int c, unsigned int lo, unsigned int hi)
{
	return 0u - ((((c - lo) | (hi - c)) >> 31) ^ 1u);
}

/* All-ones when v >= k (small values), else 0. */
static unsigned int ct_ge(unsigned int v, unsigned int k)
{
	return 0u - (((k - 1u) - v) >> 31);
}

/* ---- base64 / base64url -------------------------------------------------------------------- */

static char b64_char(unsigned int v, bool url)
{
	unsigned int c = v + 'A';

	c += ct_ge(v, 26) & 6u;	 /* 'a' - 'A' - 26 */
	c -= ct_ge(v, 52) & 75u; /* lands on '0' */
	c -= ct_ge(v, 62) & (url ? 13u : 15u); /* '-' or '+' */
	c += ct_ge(v, 63) & (url ? 49u : 3u);  /* '_' or '/' */
	return (char)c;
}

/* Value 0..63, or an out-of-range value with *bad set to all-ones for a foreign character. */
static unsigned int b64_value(unsigned char ch, bool url, unsigned int *bad)
{
	unsigned int c = ch;
	unsigned int az = ct_in_range(c, 'A', 'Z'), lz = ct_in_range(c, 'a', 'z');
	unsigned int dg = ct_in_range(c, '0', '9');
	unsigned int s62 = ct_in_range(c, url ? '-' : '+', url ? '-' : '+');
	unsigned int s63 = ct_in_range(c, url ? '_' : '/', url ? '_' : '/');

	*bad |= ~(az | lz | dg | s62 | s63);
	return (az & (c - 'A')) | (lz & (c - 'a' + 26)) | (dg & (c - '0' + 52)) | (s62 & 62u) |
	       (s63 & 63u);
}

static int b64_encode(const void *in, size_t len, char *out, size_t cap, bool url)
{
	const unsigned char *p = in;
	size_t need, i, o = 0;

	if ((!in && len) || (!out && cap))
		return -EINVAL;
	if (len > (size_t)(INT_MAX - 4) / 4 * 3)
		return -EINVAL;
	need = len / 3 * 4;
	if (len % 3)
		need += url ? len % 3 + 1 : 4;
	if (cap < need + 1)
		return -ENOSPC;

	/* The last quantum may be short: k bytes give k + 1 characters. */
	for (i = 0; i < len; i += 3) {
		size_t k = len - i < 3 ? len - i : 3, j;
		unsigned int w = (unsigned int)p[i] << 16;

		if (i + 1 < len)
			w |= (unsigned int)p[i + 1] << 8;
		if (i + 2 < len)
			w |= p[i + 2];
		for (j = 0; j <= k; j++)
			out[o++] = b64_char(w >> (18 - 6 * j) & 63u, url);
	}
	while (!url && o % 4)
		out[o++] = '=';
	out[o] = '\0';
	return (int)o;
}

static int b64_decode(const char *in, size_t len, void *outv, size_t cap, bool url)
{
	unsigned char *out = outv;
	size_t n = len, pad = 0, olen, i, o = 0;
	unsigned int bad = 0, w = 0, v;

	if ((!in && len) || (!out && cap))
		return -EINVAL;
	if (len > (size_t)INT_MAX)
		return -EINVAL;
	while (n > 0 && pad < 2 && in[n - 1] == '=') {
		n--;
		pad++;
	}
	if (pad) {
		/* Padding completes the last quantum exactly: "xx==" or "xxx=". */
		if (len % 4 || n % 4 != 4 - pad)
			return -EILSEQ;
	} else if (url ? n % 4 == 1 : n % 4 != 0) {
		/* base64url may drop its padding (RFC 4648 §5, §3.2); base64 may not. */
		return -EILSEQ;
	}
	olen = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
	if (cap < olen)
		return -ENOSPC;

	for (i = 0; i < n; i++) {
		v = b64_value((unsigned char)in[i], url, &bad);
		w = w << 6 | (v & 63u);
		if (i % 4 == 3) {
			out[o++] = (unsigned char)(w >> 16);
			out[o++] = (unsigned char)(w >> 8);
			out[o++] = (unsigned char)w;
			w = 0;
		}
	}
	if (n % 4 == 2) {
		bad |= 0u - ((w & 15u) != 0); /* 4 unused bits must be zero */
		out[o++] = (unsigned char)(w >> 4);
	} else if (n % 4 == 3) {
		bad |= 0u - ((w & 3u) != 0); /* 2 unused bits must be zero */
		out[o++] = (unsigned char)(w >> 10);
		out[o++] = (unsigned char)(w >> 2);
	}
	/* w held decoded bits (key material): a plain w = 0 is a dead store the compiler drops. */
	ds_memzero(&w, sizeof(w));
	if (bad) {
		ds_memzero(out, o);
		return -EILSEQ;
	}
	return (int)olen;
}

int ds_base64_encode(const void *in, size_t len, char *out, size_t cap)
{
	return b64_encode(in, len, out, cap, false);
}

int ds_base64_decode(const char *in, size_t len, void *out, size_t cap)
{
	return b64_decode(in, len, out, cap, false);
}

int ds_base64url_encode(const void *in, size_t len, char *out, size_t cap)
{
	return b64_encode(in, len, out, cap, true);
}

int ds_base64url_decode(const char *in, size_t len, void *out, size_t cap)
{
	return b64_decode(in, len, out, cap, true);
}

/* ---- hex ----------------------------------------------------------------------------------- */

int ds_hex_encode(const void *in, size_t len, char *out, size_t cap)
{
	const unsigned char *p = in;
	size_t i;

	if ((!in && len) || (!out && cap))
		return -EINVAL;
	if (len > (size_t)(INT_MAX - 1) / 2)
		return -EINVAL;
	if (cap < len * 2 + 1)
		return -ENOSPC;
	for (i = 0; i < len; i++) {
		unsigned int hi = p[i] >> 4, lo = p[i] & 15u;

		out[2 * i] = (char)(hi + '0' + (ct_ge(hi, 10) & ('a' - '0' - 10)));
		out[2 * i + 1] = (char)(lo + '0' + (ct_ge(lo, 10) & ('a' - '0' - 10)));
	}
	out[2 * len] = '\0';
	return (int)(2 * len);
}

static unsigned int hex_value(unsigned char ch, unsigned int *bad)
{
	unsigned int c = ch;
	unsigned int dg = ct_in_range(c, '0', '9'), lc = ct_in_range(c, 'a', 'f');
	unsigned int uc = ct_in_range(c, 'A', 'F');

	*bad |= ~(dg | lc | uc);
	return (dg & (c - '0')) | (lc & (c - 'a' + 10)) | (uc & (c - 'A' + 10));
}

int ds_hex_decode(const char *in, size_t len, void *outv, size_t cap)
{
	unsigned char *out = outv;
	unsigned int bad = 0;
	size_t i;

	if ((!in && len) || (!out && cap))
		return -EINVAL;
	if (len > (size_t)INT_MAX)
		return -EINVAL;
	if (len % 2)
		return -EILSEQ;
	if (cap < len / 2)
		return -ENOSPC;
	for (i = 0; i < len / 2; i++) {
		unsigned int hi = hex_value((unsigned char)in[2 * i], &bad);
		unsigned int lo = hex_value((unsigned char)in[2 * i + 1], &bad);

		out[i] = (unsigned char)(hi << 4 | lo);
	}
	if (bad) {
		ds_memzero(out, len / 2);
		return -EILSEQ;
	}
	return (int)(len / 2);
}
