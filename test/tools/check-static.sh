#!/bin/sh
# The opt-in static link (make STATIC=1, docs/porting.md "Static linking"): the host board built
# with the libraries' static archives into build/ci-static; datasyncd must start (--version),
# must not load the libraries that have an archive (so that the check fails when the Makefile
# quietly falls back to the shared objects), and must pass the ctl_commands integration test.
# Prints one PASS line or the reason it failed; exit 0 pass, 1 fail.
#   test/tools/check-static.sh [BUILD_DIR]     (default build/ci-static)
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
cd "$SRC"
O=${1:-build/ci-static}
JOBS=$(nproc 2>/dev/null || echo 2)
[ "$JOBS" -gt 2 ] && JOBS=2
fail() { echo "  FAIL  static: $*"; exit 1; }

mkdir -p "$O"
make -s O="$O" host_defconfig >/dev/null || fail "host_defconfig"
# A build folder keeps no record of how it was linked: relink the programs every time.
rm -f "$O/datasyncd" "$O/datasyncctl"
make -s -j"$JOBS" O="$O" WERROR=1 STATIC=1 programs >"$O.log" 2>&1 || { cat "$O.log"; fail "build (log: $O.log)"; }

v=$("$O/datasyncd" --version 2>&1) || fail "datasyncd --version exited $?: $v"
case $v in datasyncd\ *) ;; *) fail "datasyncd --version printed '$v'" ;; esac

# Every library that has an archive here must be inside the program, not loaded at run time.
for l in websockets ssl crypto sqlite3 mbedtls mbedx509 mbedcrypto; do
	a=$(cc -print-file-name="lib$l.a")
	case $a in /*) ;; *) continue ;; esac
	if ldd "$O/datasyncd" 2>/dev/null | grep -q "lib$l\.so"; then
		fail "datasyncd still loads lib$l.so although $a exists"
	fi
done
# -no-pie unless STATIC_PIE=1: an executable with a fixed address, not a shared object.
readelf -h "$O/datasyncd" 2>/dev/null | grep -q 'Type:[[:space:]]*EXEC' ||
	fail "datasyncd is position-independent (expected -no-pie)"

out=$(test/run-integration.sh "$O" ctl_commands 2>&1)
case $out in *"PASS  integration/ctl_commands"*) ;; *) echo "$out"; fail "ctl_commands" ;; esac

shared=$(ldd "$O/datasyncd" 2>/dev/null | awk '$1 ~ /^lib/ { printf "%s%s", s, $1; s = " " }')
echo "  PASS  static ($v; $(stat -c %s "$O/datasyncd") bytes; shared still: $shared; ctl_commands passed)"
