#!/bin/sh
# U9 (sync15.md §11, battery drain when signed in): an idle signed-in device makes no requests
# beyond its schedule, and an unchanged account costs one info/collections request per sync;
# AT-13: a server's X-Weave-Backoff holds every later sync back until it has passed.
#
# One datasyncd on the sim board (virtual clock moved with sim-advance), signed in on the test
# stack (test/servers/stack.py), one Sync collection synced every hour. The storage node counts
# every request it gets (/__testing__/stats): over 6 simulated hours with nothing changed there
# are exactly 6 runs and 6 requests, all GET info/collections, and at most one token request a
# run at the tokenserver; half-hours in between bring nothing to either; after a 4 h X-Weave-Backoff nothing reaches the node for 4 h, then the hourly runs
# resume.
set -u
S15_SIM=1 S15_SQLITE=1 S15_SYMS="DS_ACCOUNT DS_REMOTE_SYNC15 DS_ENGINE_TABLE DS_IPC"
. "$DS_SRC/test/integration/sync15_common.inc"

s15_stack 1
s15_account "idle@example.org" "idle pw $$"
s15_day
s15_conf d "Idle TV" 3600 "sim_script = $T/day.script"
sqlite3 "$T/app.db" "CREATE TABLE notes(guid TEXT PRIMARY KEY, title TEXT, n INTEGER);
	INSERT INTO notes VALUES ('n1', 'one', 1), ('n2', 'two', 2);"
s15_reg "$T/reg.json" "$T/app.db" notes notes
ctl() { s15_ctl d "$@"; }
start d
s15_login d
ctl register --json "$T/reg.json" >"$T/out" 2>&1 || fail "register: $(cat "$T/out")"

advance() { s15_advance d "$1"; } # DURATION: move the daemon's virtual clock
idle_after() { # RUNS: wait until that many runs ended and nothing runs
	until_json "r['scheduler']['runs'] == $1 and r['collections'][0]['state'] == 'idle' and r['collections'][0]['last'] is not None" ||
		fail "expected $1 runs: $(json "r['scheduler'], r['collections'][0]")"
}

# The first sync (registration): creates the Sync user and uploads the rows.
idle_after 1
[ "$(json "r['collections'][0]['last']['ok']")" = True ] || fail "the first sync failed"
R=1
stats_reset

tokens() { get "$TS/__testing__/stats" | jget token_requests; }
TOK0=$(tokens)

# 6 hours, nothing changed anywhere: one run an hour, one GET info/collections each; the
# half-hours in between bring no request at all, to the storage node or the tokenserver.
h=0
while [ $h -lt 6 ]; do
	tok=$(tokens)
	advance 30m
	sleep 0.3
	[ "$(runs)" = "$R" ] || fail "a run before its hour ($(runs) runs)"
	[ "$(stats | jget requests)" = "$h" ] || fail "requests between the scheduled runs: $(stats)"
	[ "$(tokens)" = "$tok" ] || fail "token requests between the scheduled runs"
	advance 30m
	R=$((R + 1)); h=$((h + 1))
	idle_after $R
	[ "$(json "r['collections'][0]['last']['ok']")" = True ] || fail "hourly run $h failed"
done
stats >"$T/stats.json"
"$PY" - "$T/stats.json" <<'EOF' || fail "an unchanged account cost more than one request a sync: $(cat "$T/stats.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["requests"] == 6, s
assert s["by_endpoint"] == {"GET info/collections": 6}, s["by_endpoint"]
EOF
[ $(( $(tokens) - TOK0 )) -le 6 ] || fail "more than one token request a run: $(( $(tokens) - TOK0 )) in 6 runs"

# AT-13: the node asks for 4 hours of quiet (X-Weave-Backoff on a 200): the next hours bring
# no request, then the hourly runs resume.
post "$N0/__testing__/config" '{"headers": {"X-Weave-Backoff": "14400"}}' >/dev/null
advance 1h
R=$((R + 1)); idle_after $R
post "$N0/__testing__/config" '{"headers": {"X-Weave-Backoff": null}}' >/dev/null
stats_reset
for k in 1 2 3; do
	advance 1h
	sleep 0.3
	[ "$(runs)" = "$R" ] || fail "a run $k h into the server's 4 h backoff"
done
[ "$(stats | jget requests)" = 0 ] || fail "requests during the backoff: $(stats)"
advance 1h
advance 1m
R=$((R + 1)); idle_after $R
[ "$(stats | jget requests)" = 1 ] || fail "the run after the backoff: $(stats)"

stop d
echo "sync15_at_idle: ok ($R runs in 11 simulated hours)"
