#!/bin/sh
# AT-13 (sync15.md §12) with two collections of one account in datasyncd: an X-Weave-Backoff
# on a 200 lets the collection that got it finish, and the other collection of the same
# account does not start until the backoff has passed (AS: a pending backoff stops the
# remaining engines); a person's sync goes ahead during that soft backoff.
#
# One datasyncd on the sim board (virtual clock moved with sim-advance), signed in on the test
# stack (test/servers/stack.py), two Sync collections due every hour in the same batch; the
# storage node counts the requests (/__testing__/stats).
set -u
B=${DS_BUILD:?}; T=${DS_TMP:?}; S=${DS_SRC:?}
D="$B/datasyncd"; C="$B/datasyncctl"
grep -q '^CONFIG_DS_PORT_SIM=y' "$B/.config" || { echo "needs the sim board (sim-advance)"; exit 77; }
for sym in DS_ACCOUNT DS_REMOTE_SYNC15 DS_ENGINE_TABLE DS_IPC; do
	grep -q "^CONFIG_$sym=y" "$B/.config" || { echo "CONFIG_$sym not built"; exit 77; }
done
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI missing"; exit 77; }
PY=$(sh "$S/test/servers/setup-venv.sh" 2>"$T/venv.log" | tail -n 1)
[ -x "$PY" ] || { echo "test servers' virtualenv unavailable (see setup-venv.sh)"; exit 77; }

pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	[ -f "$T/stack.json" ] && "$PY" "$S/test/servers/stack.py" stop "$T/stack.json" >/dev/null 2>&1
	wait 2>/dev/null
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	echo "--- datasyncd (tail)"; tail -n 40 "$T/d.log" 2>/dev/null
	echo "--- status"; cat "$T/status.json" 2>/dev/null
	exit 1
}
jget() { "$PY" -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
print(json.dumps(v) if isinstance(v, (list, dict)) else v)' "$@"; }
post() { "$PY" -c '
import sys, urllib.request
r = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method="POST",
                           headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(r).read().decode())' "$1" "$2"; }
get() { "$PY" -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' "$1"; }

"$PY" "$S/test/servers/stack.py" start --out "$T/stack.json" --nodes 1 >"$T/stack.out" 2>&1 ||
	{ cat "$T/stack.out"; fail "the test stack did not start"; }
FXA=$(jget fxa_url <"$T/stack.json")
TS=$(jget tokenserver_url <"$T/stack.json")
N0=$(jget storage_urls 0 <"$T/stack.json")
EMAIL="backoff@example.org"
PASSWORD="backoff pw $$"
post "$FXA/__test__/account" "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\",\"verify\":\"none\"}" >/dev/null ||
	fail "cannot create the account"

cat >"$T/day.script" <<'SIM'
0 net wifi
0 power charging 80
SIM
cat >"$T/d.conf" <<CONF
data_dir = $T/data
run_dir = $T/run
secret_dir = $T/secrets
sim_script = $T/day.script
log_output = stderr
log_level = info
sync_interval_s = 3600
device_name = Idle TV
[accounts]
fxa_url = $FXA
tokenserver_url = $TS
CONF
sqlite3 "$T/app.db" "CREATE TABLE notes(guid TEXT PRIMARY KEY, title TEXT, n INTEGER);
	CREATE TABLE memos(guid TEXT PRIMARY KEY, body TEXT);
	INSERT INTO notes VALUES ('n1', 'one', 1), ('n2', 'two', 2); INSERT INTO memos VALUES ('m1', 'memo');"
printf '{"name":"notes","engine":{"kind":"table","db":"%s","table":"notes"},"remote":{"kind":"sync15","collection":"notes"}}\n' \
	"$T/app.db" >"$T/reg.json"
printf '{"name":"memos","engine":{"kind":"table","db":"%s","table":"memos"},"remote":{"kind":"sync15","collection":"dsmemos"}}\n' \
	"$T/app.db" >"$T/reg2.json"
ctl() { "$C" -c "$T/d.conf" "$@"; }
"$D" -f -c "$T/d.conf" 2>>"$T/d.log" &
pid=$!
i=0; until ctl status >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 100 ] || fail "datasyncd did not start"; sleep 0.1; done
printf '%s\n' "$PASSWORD" | ctl login "$EMAIL" >"$T/out" 2>&1 || fail "login: $(cat "$T/out")"
ctl register --json "$T/reg.json" >"$T/out" 2>&1 || fail "register: $(cat "$T/out")"
ctl register --json "$T/reg2.json" >"$T/out" 2>&1 || fail "register: $(cat "$T/out")"

json() { "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/status.json" "$1"; }
until_json() { # EXPR: poll status (bounded: 150 x 0.1 s) until EXPR is True
	i=0
	while [ $i -lt 150 ]; do
		if ctl --json status >"$T/status.json" 2>/dev/null && [ "$(json "$1")" = "True" ]; then return 0; fi
		i=$((i + 1)); sleep 0.1
	done
	return 1
}
advance() { # DURATION: move the daemon's virtual clock
	"$PY" - "$T/run/datasyncd.sock" "$1" <<'PYEOF' >/dev/null || fail "sim-advance $1"
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall((json.dumps({"id": 1, "cmd": "sim-advance", "by": sys.argv[2]}) + "\n").encode())
r = json.loads(s.makefile().readline())
sys.exit(0 if r.get("ok") else 1)
PYEOF
}
runs() { ctl --json status >"$T/status.json" 2>/dev/null; json "r['scheduler']['runs']"; }
idle_after() { # RUNS: wait until that many runs ended and nothing runs
	until_json "r['scheduler']['runs'] == $1 and all(c['state'] == 'idle' and c['last'] is not None for c in r['collections'])" ||
		fail "expected $1 runs: $(json "r['scheduler'], r['collections']")"
}
last_ok() { # NAME: when that collection's last run ended ok (ms)
	ctl --json status >"$T/status.json" 2>/dev/null
	json "[c['last']['finished_ms'] if 'finished_ms' in c['last'] else c['last'] for c in r['collections'] if c['name'] == '$1'][0]"
}
stats() { get "$N0/__testing__/stats"; }
stats_reset() { get "$N0/__testing__/stats?reset=1" >/dev/null; }

# The first syncs (registration) of both collections.
idle_after 2
R=2
# Both due every hour in one batch: two runs an hour.
advance 1h
R=$((R + 2)); idle_after $R
stats_reset
bad=0
check() { # RESULT TEXT
	if [ "$1" = ok ]; then echo "  ok    $2"; else echo "  FAIL  $2: $1"; bad=$((bad + 1)); fi
}

# The node asks for 4 h of quiet on its first answer of the next batch: that collection
# finishes, the other one does not start.
ended() { # how many collections' last runs ended after the times in $T/ends
	ctl --json status >"$T/status.json" 2>/dev/null
	"$PY" -c '
import json, sys
r = json.load(open(sys.argv[1])); before = json.load(open(sys.argv[2]))
print(sum(1 for c in r["collections"] if c["last"] and c["last"].get("finished_ms", 0) > before.get(c["name"], 0)))
' "$T/status.json" "$T/ends"
}
ctl --json status >"$T/status.json" 2>/dev/null
json "json.dumps({c['name']: c['last']['finished_ms'] for c in r['collections']})" >"$T/ends"
post "$N0/__testing__/config" '{"headers": {"X-Weave-Backoff": "14400"}}' >/dev/null
advance 1h
i=0; until [ "$(stats | jget requests)" -ge 1 ] || [ $i -ge 50 ]; do i=$((i + 1)); sleep 0.1; done
sleep 0.5
until_json "not any(c['state'] == 'running' for c in r['collections'])" || fail "runs did not end"
post "$N0/__testing__/config" '{"headers": {"X-Weave-Backoff": null}}' >/dev/null
n=$(stats | jget requests)
ran=$(runs)
# The scheduler counts both as started in the batch; only one may have run.
done_n=$(ended)
res=ok; [ "$done_n" -eq 1 ] && [ "$n" -eq 1 ] || res="$done_n runs and $n requests in the batch"
check "$res" "AT-13: X-Weave-Backoff on a 200 stops the account's remaining collections"
R=$ran
stats_reset

# Nothing for the next 3 hours.
for k in 1 2 3; do advance 1h; done
sleep 0.5
res=ok; [ "$(runs)" = "$R" ] && [ "$(stats | jget requests)" = 0 ] || res="$(( $(runs) - R )) runs, $(stats | jget requests) requests"
check "$res" "AT-13: no request before the backoff has passed"
R=$(runs)

# A person's sync goes ahead during the soft backoff.
res=ok
ctl sync notes --wait >"$T/out" 2>&1 || res="refused: $(tr '\n' ' ' <"$T/out")"
check "$res" "AT-13: a person's sync ignores X-Weave-Backoff (a soft backoff)"
R=$(runs)

# After the backoff, the hourly runs resume.
advance 1h
advance 1m
until_json "r['scheduler']['runs'] >= $((R + 1)) and not any(c['state'] == 'running' for c in r['collections'])" ||
	fail "no run after the backoff"
kill "$pid"; rc=0; wait "$pid" || rc=$?
pid=
[ $rc -eq 0 ] || fail "datasyncd exited $rc"
[ $bad -eq 0 ] || fail "$bad backoff rule(s) not met (above)"
echo "sync15_at_backoff: ok"
