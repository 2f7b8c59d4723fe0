#!/bin/sh
# Run every unit-test binary of a build folder; print one summary line per binary.
#   test/run-unit.sh [--valgrind] BUILD_DIR
# Writes the totals to BUILD_DIR/test/unit-summary ("passed failed").
set -u
VG=""
if [ "${1:-}" = "--valgrind" ]; then
	VG="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --track-fds=no"
	shift
fi
B=${1:?build dir}
pass=0; fail=0
mkdir -p "$B/test/logs"
for t in "$B"/test/unit/*; do
	[ -x "$t" ] || continue
	n=$(basename "$t")
	log="$B/test/logs/unit-$n${VG:+-valgrind}.log"
	# cmocka prints its PASSED/FAILED lines on stderr: merge the streams.
	DS_TEST_TMP=$(mktemp -d) $VG "$t" >"$log" 2>&1
	rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n1)
	p=${p:-0}; f=${f:-0}
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	pass=$((pass + p)); fail=$((fail + f))
	if [ $rc -eq 0 ]; then echo "  PASS  unit/$n ($p)${VG:+ under valgrind}"
	else echo "  FAIL  unit/$n (exit $rc, log: $log)"; tail -n 30 "$log" | sed 's/^/        /'; fi
done
echo "$pass $fail" > "$B/test/unit-summary"
[ $fail -eq 0 ]
