#!/bin/sh
# Build the libFuzzer targets of test/fuzz/ with clang (coverage + ASan + UBSan), apart from the
# product Makefile: test/fuzz/fuzz.mk compiles the product sources each target needs.
#
#   test/fuzz/build.sh [OUT]     default OUT: build/fuzz; binaries in OUT/bin/fuzz_<target>
#
# The configuration is the sim board's defconfig (OUT/config), so every parser is compiled in.
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-${FUZZ_OUT:-$SRC/build/fuzz}}
case $OUT in /*) ;; *) OUT=$(pwd)/$OUT ;; esac
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

command -v "${FUZZ_CC:-clang}" >/dev/null || { echo "clang not found (test/tools/install-deps.sh)"; exit 77; }
CFG=$OUT/config
if [ ! -f "$CFG/include/generated/autoconf.h" ] || [ "$SRC/board/sim/defconfig" -nt "$CFG/.config" ]; then
	make -s -C "$SRC" O="$CFG" sim_defconfig >/dev/null
fi
make -s -C "$SRC" -f test/fuzz/fuzz.mk -j"$JOBS" OUT="$OUT" CFG="$CFG"
