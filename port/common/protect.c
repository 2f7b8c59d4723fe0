/* Keep in-memory secrets out of core dumps and away from same-user debuggers (ds_port.h). */
#include "ds_port.h"

#include <errno.h>
#include <sys/prctl.h>
#include <sys/resource.h>

int ds_port_protect_memory(void)
{
	const struct rlimit none = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &none) < 0)
		return -errno;
	/* Also what makes the kernel skip core dumps through a core_pattern pipe (systemd-coredump),
	 * which RLIMIT_CORE alone does not stop. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return -errno;
	return 0;
}
