#!/bin/sh
# Run every integration test (test/integration/*.sh) against a build folder.
#   test/run-integration.sh BUILD_DIR [NAME ...]     (names: only those tests)
# Each test gets DS_BUILD (the build folder, absolute), DS_SRC (the source tree) and a fresh
# DS_TMP, and exits 0 (pass), 77 (skipped, with a reason) or anything else (fail).
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:?build dir}" && pwd)
shift
ONLY=" $* "
pass=0; fail=0; skip=0
mkdir -p "$B/test/logs"
for t in "$SRC"/test/integration/*.sh; do
	[ -f "$t" ] || continue
	n=$(basename "$t" .sh)
	[ "$ONLY" = "  " ] || case "$ONLY" in *" $n "*) ;; *) continue ;; esac
	log="$B/test/logs/integration-$n.log"
	tmp=$(mktemp -d)
	DS_BUILD="$B" DS_SRC="$SRC" DS_TMP="$tmp" timeout 600 sh "$t" >"$log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then pass=$((pass + 1)); echo "  PASS  integration/$n"; rm -rf "$tmp"
	elif [ $rc -eq 77 ]; then skip=$((skip + 1)); echo "  SKIP  integration/$n: $(tail -n1 "$log")"; rm -rf "$tmp"
	else fail=$((fail + 1)); echo "  FAIL  integration/$n (exit $rc, log: $log)"; tail -n 40 "$log" | sed 's/^/        /'; fi
done
echo "$pass $fail $skip" > "$B/test/integration-summary"
[ $fail -eq 0 ]
