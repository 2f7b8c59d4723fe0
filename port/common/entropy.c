/* Entropy from getrandom(2); the sim port uses it too, since keys are made from it. */
#include "core/ds_core.h"
#include "ds_port.h"

#include <errno.h>
#include <sys/random.h>

int ds_port_entropy(void *buf, size_t len)
{
	unsigned char *p = buf;

	if (!buf && len)
		return -EINVAL;
	/*
	 * getrandom() may return fewer bytes than asked (over 256 bytes, or interrupted by a
	 * signal once the pool is ready: getrandom(2)), so loop until len is filled. Flags 0:
	 * block until the pool is initialised at boot, never hand out weak bytes.
	 */
	while (len > 0) {
		ssize_t r = getrandom(p, len, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += r;
		len -= (size_t)r;
	}
	return 0;
}
