#!/bin/sh
# The dir remote on a file system without hard links, simulated in every run: an LD_PRELOAD shim
# makes link() and linkat() fail with EPERM as Linux's vfat does (and can kill the process just
# before a rename onto a name containing $DS_NOLINK_KILL_AT). dir_fat_mount.sh runs the same
# scenario on a real FAT image where the machine allows mounting one.
set -u
W=${DS_TMP:?}
SHARED="$W/shared"
CC=${CC:-cc}
command -v "$CC" >/dev/null 2>&1 || { echo "skip: no C compiler for the link() shim"; exit 77; }
cat >"$W/nolink.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int link(const char *a, const char *b) { (void)a; (void)b; errno = EPERM; return -1; }
int linkat(int fa, const char *a, int fb, const char *b, int fl)
{
	(void)fa; (void)a; (void)fb; (void)b; (void)fl;
	errno = EPERM;
	return -1;
}
int rename(const char *from, const char *to)
{
	static int (*real)(const char *, const char *);
	const char *k = getenv("DS_NOLINK_KILL_AT");
	size_t n = strlen(from);

	/* a box (".tmp-*.d") renamed onto a final name: die just before */
	if (k && *k && strstr(to, k) && n > 2 && !strcmp(from + n - 2, ".d"))
		raise(SIGKILL);
	if (!real)
		real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
	return real(from, to);
}
C
"$CC" -shared -fPIC -o "$W/nolink.so" "$W/nolink.c" -ldl || { echo "skip: cannot build the link() shim"; exit 77; }
# A sanitizer runtime wants to come first; the shim only replaces three libc calls.
RUN_PREFIX="env LD_PRELOAD=$W/nolink.so ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
mkdir -p "$SHARED"
. "${DS_SRC:?}/test/integration/dir_fat_common.inc"
fat_scenario
