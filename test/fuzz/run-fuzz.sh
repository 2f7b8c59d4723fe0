#!/bin/sh
# Build the fuzz targets and run them (docs/fuzzing.md). `make fuzz` calls this.
#
#   test/fuzz/run-fuzz.sh [target ...]          every target when none is named
#
#   FUZZ_SECONDS  seconds of fuzzing per target (default 60); 0 = regression only
#   FUZZ_OUT      build and work folder (default build/fuzz)
#   JOBS          targets fuzzed at once (default: the number of CPUs)
#
# Every run first replays each file of test/fuzz/corpus/<target>/ once (the seeds and the
# crash-* inputs of fixed bugs): that part is deterministic. Then each target mutates from
# there for FUZZ_SECONDS; new inputs go to FUZZ_OUT/grown/<target>/ (the source tree is not
# written), crashes to FUZZ_OUT/artifacts/<target>/. Ends with "N passed, N failed, N skipped"
# (also written to FUZZ_OUT/summary) and exits non-zero on any failure.
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${FUZZ_OUT:-$SRC/build/fuzz}
case $OUT in /*) ;; *) OUT=$(pwd)/$OUT ;; esac
SECONDS_EACH=${FUZZ_SECONDS:-60}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
CORPUS=$SRC/test/fuzz/corpus
mkdir -p "$OUT"

summary() {
	echo "$1 $2 $3" >"$OUT/summary"
	echo "$1 passed, $2 failed, $3 skipped"
}

echo "== fuzz: build ($OUT)"
"$SRC/test/fuzz/build.sh" "$OUT" >"$OUT/build.log" 2>&1
rc=$?
if [ $rc -eq 77 ]; then
	cat "$OUT/build.log"; summary 0 0 1; exit 0
elif [ $rc -ne 0 ]; then
	cat "$OUT/build.log"; echo "FAILED: fuzz build"; summary 0 1 0; exit 1
fi
TARGETS=${*:-$(make -s -C "$SRC" -f test/fuzz/fuzz.mk list)}

# Limits: a single allocation above 256 MB, or an input running 10 s, is a finding. No
# parser of ours may need either (every size a file or server controls is capped far lower).
FUZZ_FLAGS="-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 -print_final_stats=1"

run_one() { # target
	t=$1
	bin=$OUT/bin/fuzz_$t
	log=$OUT/logs/$t.log
	# Scratch files in memory when the system has a tmpfs there: the targets that keep SQLite
	# files (kinto_batch's id map) sync them for every input, 4 times slower on a disk.
	tmp=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
	mkdir -p "$OUT/logs" "$OUT/grown/$t" "$OUT/artifacts/$t"
	: >"$log"
	if [ -d "$CORPUS/$t" ] && [ -n "$(ls "$CORPUS/$t")" ]; then
		# shellcheck disable=SC2086
		DS_TEST_TMP=$tmp "$bin" $FUZZ_FLAGS "$CORPUS/$t"/* >>"$log" 2>&1 ||
			{ echo "regression" >"$OUT/logs/$t.failed"; rm -rf "$tmp"; return; }
	fi
	if [ "$SECONDS_EACH" -gt 0 ]; then
		# shellcheck disable=SC2086
		DS_TEST_TMP=$tmp timeout $((SECONDS_EACH + 300)) "$bin" $FUZZ_FLAGS \
			-max_total_time="$SECONDS_EACH" -artifact_prefix="$OUT/artifacts/$t/" \
			"$OUT/grown/$t" "$CORPUS/$t" >>"$log" 2>&1 ||
			echo "fuzzing" >"$OUT/logs/$t.failed"
	fi
	rm -rf "$tmp"
}

echo "== fuzz: ${SECONDS_EACH}s per target, $JOBS at a time: $TARGETS"
rm -f "$OUT"/logs/*.failed
n=0
for t in $TARGETS; do
	if [ ! -x "$OUT/bin/fuzz_$t" ]; then
		echo "no fuzz target '$t'"; summary 0 1 0; exit 1
	fi
	run_one "$t" &
	n=$((n + 1))
	if [ $n -ge "$JOBS" ]; then
		wait
		n=0
	fi
done
wait

P=0; F=0
for t in $TARGETS; do
	log=$OUT/logs/$t.log
	stats=$(grep -E '^#[0-9]+.*DONE' "$log" | tail -n 1 | sed 's/^#\([0-9]*\).*cov: \([0-9]*\).*corp: \([0-9]*\).*/\1 runs, cov \2, corpus \3/')
	if [ -f "$OUT/logs/$t.failed" ]; then
		echo "  FAIL  fuzz/$t ($(cat "$OUT/logs/$t.failed")): see $log"
		grep -E 'ERROR|SUMMARY|invariant|Test unit written|^artifact_prefix' "$log" | head -n 8 | sed 's/^/        /'
		F=$((F + 1))
	else
		echo "  PASS  fuzz/$t ${stats:+($stats)}"
		P=$((P + 1))
	fi
done
summary $P $F 0
[ $F -eq 0 ]
