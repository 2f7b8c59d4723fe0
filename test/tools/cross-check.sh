#!/bin/sh
# The product is compiled for the devices' processors, not this machine's: every source of a
# configured build folder compiled with a cross compiler (32-bit ARM, AArch64) with the build's
# warnings as errors, so that a 32-bit size_t, a signed char or an alignment that only the
# device has is an error here. Objects only: no ARM builds of the libraries are needed, their
# headers are taken from the host (the OpenSSL headers' per-architecture part included, which
# sets word sizes that none of our files uses).
# Prints one PASS line, or the files that failed with their first errors; exit 0 pass, 1 fail,
# 77 when the compiler is not installed.
#   test/tools/cross-check.sh BUILD_DIR CC        e.g. build/ci-phone aarch64-linux-gnu-gcc
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
cd "$SRC"
O=${1:?build dir}; CC=${2:?cross compiler}
command -v "$CC" >/dev/null || { echo "  SKIP  cross-check $CC (not installed)"; exit 77; }
[ -f "$O/include/generated/autoconf.h" ] || { echo "  FAIL  cross-check: $O is not configured"; exit 1; }
HOST_TRIPLET=$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
WARN=$(make -s --no-print-directory O="$O" WERROR=1 print-DS_WARN)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0; failed=0
# The build's own objects name the sources of its configuration (no test code).
for obj in $(find "$O/obj" -name '*.o' ! -path '*/obj/test/*' | sort); do
	rel=${obj#"$O"/obj/}; src=${rel%.o}.c
	n=$((n + 1))
	# shellcheck disable=SC2086
	if ! "$CC" -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DNDEBUG -O2 \
		$WARN \
		-I"$O/include/generated" -include "$O/include/generated/autoconf.h" \
		-Icomponent/include -Icomponent -Iport/include -I. -DDS_VERSION=\"cross\" \
		-idirafter /usr/include -idirafter "/usr/include/$HOST_TRIPLET" \
		-c "$src" -o "$T/o.o" 2>"$T/err"; then
		failed=$((failed + 1))
		echo "  $src:"; head -n 15 "$T/err" | sed 's/^/    /'
	fi
done
if [ "$n" -eq 0 ]; then
	echo "  FAIL  cross-check $CC: no objects in $O (build it first)"; exit 1
fi
if [ "$failed" -gt 0 ]; then
	echo "  FAIL  cross-check $CC: $failed of $n files"; exit 1
fi
echo "  PASS  cross-check $CC ($O, $n files)"
