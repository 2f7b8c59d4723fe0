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
S15_SIM=1 S15_SQLITE=1 S15_SYMS="DS_ACCOUNT DS_REMOTE_SYNC15 DS_ENGINE_TABLE DS_IPC"
. "$DS_SRC/test/integration/sync15_common.inc"

s15_stack 1
s15_account "backoff@example.org" "backoff pw $$"
s15_day
s15_conf d "Idle TV" 3600 "sim_script = $T/day.script"
sqlite3 "$T/app.db" "CREATE TABLE notes(guid TEXT PRIMARY KEY, title TEXT, n INTEGER);
	CREATE TABLE memos(guid TEXT PRIMARY KEY, body TEXT);
	INSERT INTO notes VALUES ('n1', 'one', 1), ('n2', 'two', 2); INSERT INTO memos VALUES ('m1', 'memo');"
s15_reg "$T/reg.json" "$T/app.db" notes notes
s15_reg "$T/reg2.json" "$T/app.db" memos dsmemos
ctl() { s15_ctl d "$@"; }
start d
s15_login d
ctl register --json "$T/reg.json" >"$T/out" 2>&1 || fail "register: $(cat "$T/out")"
ctl register --json "$T/reg2.json" >"$T/out" 2>&1 || fail "register: $(cat "$T/out")"

advance() { s15_advance d "$1"; } # DURATION: move the daemon's virtual clock
idle_after() { # RUNS: wait until that many runs ended and nothing runs
	until_json "r['scheduler']['runs'] == $1 and all(c['state'] == 'idle' and c['last'] is not None for c in r['collections'])" ||
		fail "expected $1 runs: $(json "r['scheduler'], r['collections']")"
}
last_ok() { # NAME: when that collection's last run ended ok (ms)
	ctl --json status >"$T/status.json" 2>/dev/null
	json "[c['last']['finished_ms'] if 'finished_ms' in c['last'] else c['last'] for c in r['collections'] if c['name'] == '$1'][0]"
}

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
stop d
[ $bad -eq 0 ] || fail "$bad backoff rule(s) not met (above)"
echo "sync15_at_backoff: ok"
