/* ct.c - constant-time helpers; backend-free so every crypto backend shares them. */
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"

int ds_ct_memcmp(const void *a, const void *b, size_t n)
{
	/* volatile: keeps the compiler from turning the loop into an early-exit comparison. */
	const volatile unsigned char *x = a, *y = b;
	unsigned char acc = 0;
	size_t i;

	for (i = 0; i < n; i++)
		acc |= (unsigned char)(x[i] ^ y[i]);
	/* Map 1..255 to 1 and 0 to 0 without a data-dependent branch. */
	return (int)((0u - (unsigned int)acc) >> (sizeof(unsigned int) * 8 - 1));
}
