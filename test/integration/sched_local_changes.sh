#!/bin/sh
# Local-change detection in datasyncd on the sim board (docs/scheduler.md): with nothing
# registered there is no change timer; an app (the sqlite3 CLI) inserts 50 rows in a burst
# (50 transactions) and exactly one run follows, which uploads all 50; nothing runs after it;
# a disabled collection is not watched. The virtual clock is moved with sim-advance, so no
# step waits for real minutes; every wait is a bounded poll of "status".
set -u
B=${DS_BUILD:?}; S=${DS_SRC:?}; T=${DS_TMP:?}
D="$B/datasyncd"; C="$B/datasyncctl"
grep -q '^CONFIG_DS_PORT_SIM=y' "$B/.config" 2>/dev/null || { echo "not a sim build"; exit 77; }
grep -q '^CONFIG_DS_ENGINE_TABLE=y' "$B/.config" && grep -q '^CONFIG_DS_REMOTE_DIR=y' "$B/.config" ||
	{ echo "needs the table engine and the dir remote"; exit 77; }
grep -q '^CONFIG_DS_SCHED_CHANGE_POLL_S=0$' "$B/.config" && { echo "local-change detection is off"; exit 77; }
command -v python3 >/dev/null || { echo "python3 missing"; exit 77; }
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI missing"; exit 77; }

fail() { echo "FAIL: $*"; echo "--- datasyncd log"; cat "$T/log" 2>/dev/null; exit 1; }
json() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
until_json() { # EXPR: poll status (bounded: 100 x 0.1 s) until EXPR is True
	i=0
	while [ $i -lt 100 ]; do
		if "$C" -c "$T/ds.conf" --json status >"$T/status.json" 2>/dev/null &&
			[ "$(json "$T/status.json" "$1")" = "True" ]; then return 0; fi
		i=$((i + 1)); sleep 0.1
	done
	return 1
}
# advance DURATION: jump the sim board's virtual clock (answered once events are applied).
advance() {
	python3 - "$T/run/datasyncd.sock" "$1" <<'PY' || fail "sim-advance $1"
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall((json.dumps({"id": 1, "cmd": "sim-advance", "by": sys.argv[2]}) + "\n").encode())
buf = b""
while not buf.endswith(b"\n"):
    d = s.recv(4096)
    if not d:
        break
    buf += d
sys.exit(0 if json.loads(buf)["ok"] else 1)
PY
}

cat >"$T/day.script" <<'SIM'
0 net wifi
0 power charging 80
SIM
cat >"$T/ds.conf" <<CONF
data_dir = $T/data
run_dir = $T/run
secret_dir = $T/secrets
sim_script = $T/day.script
log_output = stderr
log_level = debug
sync_interval_s = 86400
CONF
"$D" -f -c "$T/ds.conf" 2>"$T/log" &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT

# Nothing registered: no change timer at all.
until_json "r['ok'] and r['scheduler']['local_changes']['watched'] == 0 and r['scheduler']['local_changes']['next_in_ms'] is None" ||
	fail "a change timer with nothing to watch: $(json "$T/status.json" "r['scheduler']")"

sqlite3 "$T/app.db" "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);"
mkdir -p "$T/shared"
"$C" -c "$T/ds.conf" register notes --engine table --db "$T/app.db" --table notes --remote dir \
	--dir "$T/shared" --no-encryption >/dev/null || fail "register"
# The first sync at registration, and the collection is watched.
until_json "r['scheduler']['runs'] == 1 and r['collections'][0]['last'] is not None and r['collections'][0]['last']['ok'] and r['collections'][0]['state'] == 'idle' and r['scheduler']['local_changes']['watched'] == 1" ||
	fail "first sync: $(json "$T/status.json" "r['scheduler'], r['collections']")"

# The app's burst: 50 inserts, each its own transaction.
i=1; sql=""
while [ $i -le 50 ]; do sql="$sql INSERT INTO notes(body) VALUES('note $i');"; i=$((i + 1)); done
sqlite3 "$T/app.db" "$sql" || fail "the app's inserts"

# One poll period later the scheduler knows: a score of 50 SMALL changes, due within local_delay_s.
advance 61s
until_json "r['scheduler']['local_changes']['changes'] == 50 and r['collections'][0]['schedule']['score'] == 50" ||
	fail "the burst was not seen: $(json "$T/status.json" "r['scheduler'], r['collections'][0]['schedule']")"
why=$(json "$T/status.json" "r['collections'][0]['schedule']['why']")
case "$why" in *"(local changes)") ;; *) fail "why: $why" ;; esac
[ "$(json "$T/status.json" "r['scheduler']['runs']")" = "1" ] || fail "a run before the local delay"
[ "$(json "$T/status.json" "r['collections'][0]['schedule']['next_in_ms'] <= 600000")" = "True" ] ||
	fail "not due within the local delay: $(json "$T/status.json" "r['collections'][0]['schedule']")"

# The local delay passes: exactly one run, which uploads all 50.
advance 10m
until_json "r['scheduler']['runs'] == 2 and r['collections'][0]['state'] == 'idle' and r['collections'][0]['last']['uploaded'] == 50" ||
	fail "no run for the burst: $(json "$T/status.json" "r['scheduler'], r['collections'][0]")"
[ "$(json "$T/status.json" "r['collections'][0]['last']['ok']")" = "True" ] || fail "the run failed"
[ "$(json "$T/status.json" "r['collections'][0]['schedule']['score']")" = "0" ] || fail "score left after the run"
# And nothing after it: two more hours of polls find nothing new (the run emptied the log).
advance 1h
advance 1h
until_json "r['scheduler']['local_changes']['polls'] >= 3" || fail "no poll after the run"
[ "$(json "$T/status.json" "(r['scheduler']['runs'], r['scheduler']['batches'], r['scheduler']['local_changes']['changes'])")" = "(2, 2, 50)" ] ||
	fail "more than one run for the burst: $(json "$T/status.json" "r['scheduler']")"
[ "$(sqlite3 "$T/app.db" "SELECT count(*) FROM _datasync_log")" = "0" ] || fail "changes left in the log"

# A disabled collection is not watched, and with nothing else the timer stops.
"$C" -c "$T/ds.conf" disable notes >/dev/null || fail "disable"
until_json "r['scheduler']['local_changes']['watched'] == 0 and r['scheduler']['local_changes']['next_in_ms'] is None" ||
	fail "a disabled collection is still watched: $(json "$T/status.json" "r['scheduler']['local_changes']")"

kill -TERM $pid
wait $pid; rc=$?
trap - EXIT
[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM"
echo "sched_local_changes: ok"
