#!/bin/sh
# datasyncd on the sim board: port events reach "status" (battery falls to 14 %, Wi-Fi drops,
# the charger is plugged in); the scheduler holds a collection's run back for the low battery
# and runs it when the charger comes (the folder remote needs no network); SIGHUP reloads
# the configuration; a second instance is refused; SIGTERM stops cleanly (exit 0, socket
# gone); datasyncctl then exits 3.
set -u
B=${DS_BUILD:?}; S=${DS_SRC:?}; T=${DS_TMP:?}
D="$B/datasyncd"; C="$B/datasyncctl"
grep -q '^CONFIG_DS_PORT_SIM=y' "$B/.config" 2>/dev/null || { echo "not a sim build"; exit 77; }
command -v python3 >/dev/null || { echo "python3 missing"; exit 77; }
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI missing"; exit 77; }
grep -q '^CONFIG_DS_ENGINE_TABLE=y' "$B/.config" && grep -q '^CONFIG_DS_REMOTE_DIR=y' "$B/.config" ||
	{ echo "needs the table engine and the dir remote"; exit 77; }

fail() { echo "FAIL: $*"; echo "--- datasyncd log"; cat "$T/log" 2>/dev/null; exit 1; }
# json FILE EXPR: evaluate a Python expression over the parsed reply "r".
json() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
# until_json EXPR: poll status (bounded: 100 x 0.1 s) until EXPR is True.
until_json() {
	i=0
	while [ $i -lt 100 ]; do
		if "$C" -c "$T/ds.conf" --json status >"$T/status.json" 2>/dev/null &&
			[ "$(json "$T/status.json" "$1")" = "True" ]; then return 0; fi
		i=$((i + 1)); sleep 0.1
	done
	return 1
}

write_conf() { # min_battery_pct interval
	cat >"$T/ds.conf" <<CONF
# written by daemon_events.sh
[paths]
data_dir = $T/data
run_dir = $T/run
secret_dir = $T/secrets
sim_script = $S/test/data/sim/battery-low.script
[daemon]
log_output = stderr
log_level = info
min_battery_pct = $1
sync_interval_s = $2
CONF
}

# No daemon yet: exit 3 with the readable reason.
write_conf 15 1
out=$("$C" -c "$T/ds.conf" status 2>&1); rc=$?
[ $rc -eq 3 ] || fail "ctl without daemon exited $rc"
echo "$out" | grep -q "datasyncd is not running (no socket at $T/run/datasyncd.sock)" || fail "message: $out"

"$D" -f -c "$T/ds.conf" 2>"$T/log" &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT

# A collection on a 1 s interval: the battery at 14 % and not charging holds it back.
until_json "r['ok']" || fail "no daemon"
sqlite3 "$T/app.db" "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes VALUES (1, 'one');"
mkdir -p "$T/shared"
"$C" -c "$T/ds.conf" register notes --engine table --db "$T/app.db" --table notes --remote dir \
	--dir "$T/shared" --no-encryption >/dev/null || fail "register"
until_json "r['scheduler']['refused'].get('battery', 0) >= 1 and r['collections'][0]['schedule']['block'] == 'battery'" ||
	fail "scheduled run not held back for the battery: $(json "$T/status.json" "r['scheduler'], r['collections']")"
[ "$(json "$T/status.json" "r['collections'][0]['schedule']['why']")" = "due (first sync), waiting: battery 14% is below 15% and not charging" ] ||
	[ "$(json "$T/status.json" "r['collections'][0]['schedule']['why']")" = "due (periodic), waiting: battery 14% is below 15% and not charging" ] ||
	fail "reason: $(json "$T/status.json" "r['collections'][0]['schedule']")"
[ "$(json "$T/status.json" "r['scheduler']['reason']")" = "battery 14% is below 15% and not charging" ] ||
	fail "scheduler reason: $(json "$T/status.json" "r['scheduler']")"
until_json "r['ok'] and [e['type'] for e in r['events']] == ['net','power','power','net','power']" ||
	fail "the five scripted events did not show"
# Plugged in: the held-back run goes, with no network (the folder needs none).
until_json "r['collections'][0]['last'] is not None and r['collections'][0]['last']['ok'] and r['collections'][0]['last']['finished_ms'] >= r['events'][4]['wall_ms'] and r['scheduler']['allowed_now']" ||
	fail "scheduled run did not go on charging: $(json "$T/status.json" "r['scheduler'], r['collections']")"
[ "$(json "$T/status.json" "r['events'][2]['text']")" = "battery 14%, discharging, low" ] || fail "event text"
[ "$(json "$T/status.json" "(r['power']['battery_pct'], r['power']['charging'], r['power']['source'])")" = "(14, True, 'mains')" ] ||
	fail "power state: $(json "$T/status.json" "r['power']")"
[ "$(json "$T/status.json" "(r['net']['up'], r['net']['type'])")" = "(False, 'none')" ] ||
	fail "net state: $(json "$T/status.json" "r['net']")"
[ "$(json "$T/status.json" "r['board']")" = "sim" ] || fail "board"
"$C" -c "$T/ds.conf" status | grep -q "^power:    mains 14%, charging" || fail "readable status"

# Reload: the battery threshold rises to 50 % and the interval to an hour.
write_conf 50 3600
kill -HUP $pid
until_json "r['reloads'] == 1 and r['scheduler']['min_battery_pct'] == 50 and r['scheduler']['sync_interval_s'] == 3600 and r['collections'][0]['schedule']['policy']['min_battery_pct'] == 50" ||
	fail "SIGHUP did not reload"
grep -q "configuration reloaded" "$T/log" || fail "reload not logged"
# A broken file is refused and the running configuration kept.
echo "min_battery_pct = lots" >>"$T/ds.conf"
kill -HUP $pid
i=0; until grep -q "reload refused" "$T/log" || [ $i -ge 50 ]; do i=$((i + 1)); sleep 0.1; done
grep -q "ds.conf:12: min_battery_pct: 'lots' is not a percentage" "$T/log" || fail "bad reload not reported"
# (-s: datasyncctl itself refuses the broken file it would read the socket's place from)
"$C" -s "$T/run/datasyncd.sock" --json status >"$T/status.json" || fail "status after a bad reload"
[ "$(json "$T/status.json" "(r['reloads'], r['scheduler']['min_battery_pct'])")" = "(1, 50)" ] || fail "bad reload applied"

# A second instance is refused with the first one's pid.
write_conf 50 3600
out=$("$D" -f -c "$T/ds.conf" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "second instance exited $rc"
echo "$out" | grep -q "already running (pid $pid)" || fail "second instance said: $out"
[ -S "$T/run/datasyncd.sock" ] || fail "the refused instance removed the socket"

# Clean stop.
kill -TERM $pid
wait $pid; rc=$?
trap - EXIT
[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM"
[ ! -e "$T/run/datasyncd.sock" ] || fail "socket left behind"
"$C" -c "$T/ds.conf" status >/dev/null 2>&1; rc=$?
[ $rc -eq 3 ] || fail "ctl after stop exited $rc"
echo "daemon_events: ok"
