#!/bin/sh
# Benchmarks (`make bench`; never part of the test suite): build one board optimised, without
# sanitizers, in build/bench, and time the sync of an app table through the dir remote.
#
#   test/bench/run-bench.sh            sizes 10000 and 100000 rows, 100 changes
#   BENCH_SIZES="1000 10000" BENCH_BOARD=sim BENCH_CHANGES=100 test/bench/run-bench.sh
#
# Prints one table per size (see test/bench/bench_sync.c for the columns), then the scheduler's
# reference simulated day (test/data/sim/day.sched) under the three policies of
# test/tools/sched_day (sched, naive, firefox), and the machine it ran on; docs/performance.md
# records the figures.
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
B=$SRC/build/bench
BOARD=${BENCH_BOARD:-host}
SIZES=${BENCH_SIZES:-10000 100000}
CHANGES=${BENCH_CHANGES:-100}
JOBS=$(nproc 2>/dev/null || echo 2)

make -s -C "$SRC" O="$B" "${BOARD}_defconfig" >/dev/null
make -s -C "$SRC" O="$B" -j"$JOBS" CFLAGS=-O2 tools benches >"$B.log" 2>&1 || { cat "$B.log"; exit 1; }

echo "datasync benchmark, board $BOARD, $(date -u +%Y-%m-%d)"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), kernel $(uname -r)"
WORK=$B/work
rm -rf "$WORK"
mkdir -p "$WORK"
echo "work folder file system: $(stat -f -c %T "$WORK")"
for n in $SIZES; do
	echo
	echo "$n rows, $CHANGES changes:"
	"$B/test/bench/bench_sync" --rows "$n" --changes "$CHANGES" --work "$WORK/$n" --dsdev "$B/test/tools/dsdev"
	rm -rf "$WORK/$n"
done
# The scheduler: virtual time, so these figures depend on no machine (docs/scheduler.md).
for p in sched naive firefox; do
	echo
	echo "scheduler, simulated day test/data/sim/day.sched, --policy $p:"
	"$B/test/tools/sched_day" --policy "$p" "$SRC/test/data/sim/day.sched" | sed 1d
done
# Sync 1.5: the remote against the storage test server (test/bench/bench_sync15.c; needs the
# test servers' Python venv, test/servers/setup-venv.sh). BENCH_SYNC15_RECORDS="10000 30000".
if [ -x "$B/test/bench/bench_sync15" ]; then
	if PY=$("$SRC/test/servers/setup-venv.sh" 2>/dev/null | tail -n1) && [ -x "$PY" ]; then
		for n in ${BENCH_SYNC15_RECORDS:-10000 30000}; do
			echo
			echo "sync15, $n records:"
			mkdir -p "$WORK/s15-$n"
			"$B/test/bench/bench_sync15" --src "$SRC" --python "$PY" --records "$n" --work "$WORK/s15-$n"
			rm -rf "$WORK/s15-$n"
		done
	else
		echo
		echo "sync15: skipped (no Python venv for the storage test server)"
	fi
fi
# Browser data: a large account's first sync through the sync core and the sync15 remote against
# a storage node in a process of its own (test/bench/bench_browser.c). BENCH_BROWSER_PLACES="5000".
if [ -x "$B/test/bench/bench_browser" ]; then
	for n in ${BENCH_BROWSER_PLACES:-5000}; do
		echo
		mkdir -p "$WORK/browser-$n"
		"$B/test/bench/bench_browser" --src "$SRC" --places "$n" --work "$WORK/browser-$n"
		rm -rf "$WORK/browser-$n"
	done
fi
# Kinto: the agent and Kinto.js doing the same syncs against a local Kinto (test/js/bench_kinto.sh;
# needs the test servers' venv, and node/npm for Kinto.js). BENCH_KINTO_ROWS="10000".
for n in ${BENCH_KINTO_ROWS:-10000}; do
	echo
	sh "$SRC/test/js/bench_kinto.sh" "$B" "$n" "$CHANGES"
done
