#!/bin/sh
# The embedded-default demonstration (`make run`): a phone and a TV, each with its own data folder
# and its own copy of an alarm app's SQLite database, edit the same table offline - including
# conflicting edits and a delete - and sync through a shared folder (an SD card, say) with the
# `dir` remote, encrypted under a passphrase. No server is involved.
#
# Each device runs a real datasyncd (host board, posix port) and is driven with datasyncctl; the
# "app" is the sqlite3 command-line tool, which knows nothing of datasync. Exits 0 only if both
# devices end with identical, expected tables.
#
#   test/tools/run-demo.sh [BUILD_DIR]   (default build/run; built here from the host board)
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-$SRC/build/run}
JOBS=$(nproc 2>/dev/null || echo 2)

if [ -z "${DS_DEMO_NO_BUILD:-}" ]; then
	make -s -C "$SRC" O="$B" host_defconfig >/dev/null
	make -s -C "$SRC" O="$B" -j"$JOBS" programs >"$B.build.log" 2>&1 || { cat "$B.build.log"; exit 1; }
fi
B=$(cd "$B" && pwd)
D=$B/demo
rm -rf "$D"
mkdir -p "$D/shared"
printf 'correct horse battery staple\n' >"$D/passphrase"
chmod 600 "$D/passphrase"

say() { printf '%s\n' "$*"; }
ctl() { dev=$1; shift; "$B/datasyncctl" -c "$D/$dev/datasync.conf" "$@"; }
sql() { sqlite3 -batch "$D/$1/alarms.db" "$2"; }

pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

start_device() { # name
	mkdir -p "$D/$1"
	cat >"$D/$1/datasync.conf" <<EOF
# $1's datasyncd, for the demonstration
data_dir = $D/$1/data
run_dir = $D/$1/run
secret_dir = $D/$1/secrets
device_name = $1
log_output = stderr
log_level = 2
sync_interval_s = 86400
EOF
	"$B/datasyncd" -f -c "$D/$1/datasync.conf" 2>"$D/$1/datasyncd.log" &
	pids="$pids $!"
	i=0
	until ctl "$1" status >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || { say "datasyncd of $1 did not start:"; cat "$D/$1/datasyncd.log"; exit 1; }
		sleep 0.1
	done
}

register() { # device
	ctl "$1" register alarms --title "Alarms" --engine table --db "$D/$1/alarms.db" --table alarms \
		--remote dir --dir "$D/shared" --passphrase-file "$D/passphrase" \
		--conflict newest-wins >/dev/null
}

sync_dev() { # device
	out=$(ctl "$1" sync alarms --wait) || { say "sync on $1 failed: $out"; cat "$D/$1/datasyncd.log"; exit 1; }
	say "  $1 synced: $(printf '%s' "$out" | tail -n 1)"
}

schema='CREATE TABLE alarms(id INTEGER PRIMARY KEY, time TEXT NOT NULL, label TEXT, enabled INTEGER NOT NULL DEFAULT 1);'

say "datasync demonstration: a phone and a TV share an alarm list through a folder"
start_device phone
start_device tv
sql phone "$schema
INSERT INTO alarms VALUES (1, '06:30', 'Work', 1), (2, '08:00', 'Gym', 1), (3, '22:00', 'Bed', 0);"
sql tv "$schema
INSERT INTO alarms VALUES (5, '14:00', 'Nap', 0);"

say "1. the phone has 3 alarms, the TV one of its own; both register the table and sync"
register phone
register tv
sync_dev phone
sync_dev tv
sync_dev phone
say "   the phone now has $(sql phone 'SELECT count(*) FROM alarms') alarms, the TV $(sql tv 'SELECT count(*) FROM alarms')"

say "2. offline: the phone renames alarm 1 and deletes alarm 2;"
say "   the TV, a moment later, renames alarm 1 too, enables alarm 3 and adds alarm 4"
sql phone "UPDATE alarms SET label = 'Work (phone)' WHERE id = 1; DELETE FROM alarms WHERE id = 2;"
sleep 0.05
sql tv "UPDATE alarms SET label = 'Work (TV)' WHERE id = 1; UPDATE alarms SET enabled = 1 WHERE id = 3;
INSERT INTO alarms VALUES (4, '07:15', 'Sunday run', 1);"

say "3. back online: phone, TV, phone sync (conflicts: newest edit wins)"
sync_dev phone
sync_dev tv
sync_dev phone

say "4. final state"
dump='SELECT id, time, quote(label), enabled FROM alarms ORDER BY id;'
p=$(sql phone "$dump")
t=$(sql tv "$dump")
say "   phone:"; printf '%s\n' "$p" | sed 's/^/     /'
say "   tv:";    printf '%s\n' "$t" | sed 's/^/     /'
expected="1|06:30|'Work (TV)'|1
3|22:00|'Bed'|1
4|07:15|'Sunday run'|1
5|14:00|'Nap'|0"
if [ "$p" = "$t" ] && [ "$p" = "$expected" ]; then
	say "converged: both devices hold the same 4 alarms; the delete stayed deleted and the newer rename won"
	exit 0
fi
say "NOT converged (expected:)"; printf '%s\n' "$expected" | sed 's/^/     /'
say "phone log:"; tail -n 20 "$D/phone/datasyncd.log"
say "tv log:"; tail -n 20 "$D/tv/datasyncd.log"
exit 1
