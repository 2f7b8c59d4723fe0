#!/bin/sh
# Kinto benchmark (part of `make bench`, test/bench/run-bench.sh): datasync's agent
# (test/tools/dsdev, one process per sync) and Kinto.js (test/js/kinto_bench.js) do the same
# work against the same local Kinto (test/servers/kinto/server.py, memory backend, Kinto's
# default batch_max_requests 25):
#   up        device A's first sync of ROWS new rows      inc-up    A syncs CHANGES edited rows
#   down      device B's first sync, getting them all     inc-down  B syncs those changes
#   inc-up2, inc-down2: the same again (the agent only)
# Columns: wall and CPU (user+sys) time, peak RSS, requests counted by the server, and for the
# uploads the minimum the batch limit allows (ceil(changes / batch_max_requests) POST /batch).
# dsdev's figures are the whole process (start, open, sync, exit); Kinto.js's are its sync()
# call inside a running Node (its local creates included for "up"), with the Memory adapter.
#
#   test/js/bench_kinto.sh BUILD_DIR [ROWS [CHANGES]]     (BUILD_DIR holds test/tools/dsdev)
#   BENCH_KINTO_PAGE=N: the agent's "page_size" (default: its build's, 1000)
#   BENCH_KINTO_JS=0:   the agent only
set -eu
B=$(cd "${1:?build dir}" && pwd)
ROWS=${2:-10000}
CHANGES=${3:-100}
S=$(cd "$(dirname "$0")/../.." && pwd)
BATCH=25
grep -q '^CONFIG_DS_REMOTE_KINTO=y' "$B/.config" || { echo "kinto: skipped (CONFIG_DS_REMOTE_KINTO is off in $B)"; exit 0; }
PY=$(sh "$S/test/servers/setup-venv.sh" 2>/dev/null | tail -n 1) || true
[ -x "$PY" ] || { echo "kinto: skipped (no Python venv for the test servers)"; exit 0; }
JS=${BENCH_KINTO_JS:-1}
[ "$JS" = 0 ] || sh "$S/test/js/setup.sh" 2>/dev/null || JS=0
W=$(mktemp -d)
KPID=
trap '[ -n "$KPID" ] && kill $KPID 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT
mkdir -p "$W/att"
"$PY" "$S/test/servers/kinto/server.py" --attachments "$W/att" --batch-max $BATCH >"$W/port" 2>"$W/kinto.log" &
KPID=$!
i=0
until grep -q '^PORT ' "$W/port" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 300 ] || { echo "kinto: server did not start"; cat "$W/kinto.log"; exit 1; }
	sleep 0.1
done
PORT=$(sed -n 's/^PORT //p' "$W/port")
BASE="http://127.0.0.1:$PORT"
"$PY" - "$BASE" <<'PYEOF'
import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/v1/accounts/bench",
    data=b'{"data":{"password":"bench pw"}}', method="PUT",
    headers={"Content-Type": "application/json"})).read()
PYEOF
reqs() { "$PY" -c 'import json,sys,urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1] + "/__test__/requests"))["requests"])' "$BASE"; }
REMOTE="{\"kind\":\"kinto\",\"url\":\"$BASE/v1\",\"collection\":\"bench_agent\",\"user\":\"bench\",\"password\":\"bench pw\"${BENCH_KINTO_PAGE:+,\"page_size\":$BENCH_KINTO_PAGE}}"
dev() { d=$1; shift; "$B/test/tools/dsdev" --home "$W/home-$d" "$@"; }
init() {
	sqlite3 "$W/$1.db" "CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT, n REAL)"
	"$B/test/tools/dsdev" --home "$W/home-$1" init --db "$W/$1.db" --table notes --remote-json "$REMOTE" >/dev/null
}
min_batches() { echo $((($1 + BATCH - 1) / BATCH)); }
# timed PHASE DEVICE MIN
timed() {
	r0=$(reqs)
	/usr/bin/time -f '%e %U %S %M' -o "$W/time" "$B/test/tools/dsdev" --home "$W/home-$2" sync >"$W/out" 2>&1 ||
		{ echo "kinto: dsdev sync failed"; cat "$W/out"; exit 1; }
	r1=$(reqs)
	read -r wall us sy rss <"$W/time"
	awk -v p="$1" -v w="$wall" -v u="$us" -v s="$sy" -v r="$rss" -v q=$((r1 - r0)) -v m="$3" 'BEGIN {
		printf "%-10s %-9s %9.0f %9.0f %12d %9d %9s\n", "datasync", p, w * 1000, (u + s) * 1000, r, q, m }'
}
echo "kinto: $ROWS rows, $CHANGES changes, batch_max_requests $BATCH, Kinto $("$PY" -c 'import kinto; print(kinto.__version__)')"
printf "%-10s %-9s %9s %9s %12s %9s %9s\n" client phase wall_ms cpu_ms peak_rss_kib requests min
init a
init b
"$PY" - "$W/a.db" "$ROWS" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
with db:
    db.executemany("INSERT INTO notes VALUES(?, ?, ?)", ((i, "row %d" % i, i + 0.5) for i in range(int(sys.argv[2]))))
PYEOF
timed up a "$(min_batches "$ROWS")"
timed down b -
sqlite3 "$W/a.db" "UPDATE notes SET title = 'changed ' || id WHERE id % 7 = 0 AND id < 7 * $CHANGES"
timed inc-up a "$(min_batches "$CHANGES")"
timed inc-down b -
# A second round: the steady state (the first round follows A's full last batch of the upload).
sqlite3 "$W/a.db" "UPDATE notes SET n = n + 1 WHERE id % 7 = 1 AND id < 7 * $CHANGES"
timed inc-up2 a "$(min_batches "$CHANGES")"
timed inc-down2 b -
cmp -s "$(dev a dump >"$W/da"; echo "$W/da")" "$(dev b dump >"$W/db"; echo "$W/db")" || { echo "kinto: devices differ after the benchmark"; exit 1; }
if [ $JS = 1 ]; then
	node "$S/test/js/kinto_bench.js" "$BASE/v1" "bench:bench pw" bench_js "$ROWS" "$CHANGES" >"$W/js" 2>&1 ||
		{ echo "kinto: Kinto.js failed"; cat "$W/js"; exit 1; }
	awk -v mu="$(min_batches "$ROWS")" -v mc="$(min_batches "$CHANGES")" '{
		split($3, w, "="); split($4, c, "="); split($5, r, "="); split($6, q, "=")
		m = $2 == "up" ? mu : ($2 == "inc-up" ? mc : "-")
		printf "%-10s %-9s %9d %9d %12d %9d %9s\n", "Kinto.js", $2, w[2], c[2], r[2], q[2], m }' "$W/js"
else
	echo "Kinto.js: skipped (node/npm or the npm packages unavailable)"
fi
