#!/bin/sh
# A full disk under a running datasyncd: the TV's daemon runs with the disk shim
# (test/servers/faultproxy/faultfs.c) over FAULT_AREA of its folder (default: the app's
# database; "all": also the metadata store and secrets), switched on and off by a file. While the
# disk is full its sync fails, the failure and the reason are in 'datasyncctl sync --wait' and in
# 'datasyncctl status', the app's rows are all kept; once space is back the next sync converges
# with the phone.
#   sh disk_daemon.sh [notes.db|all]
set -u
B=${DS_BUILD:?}; T=${DS_TMP:?}; S=${DS_SRC:?}
for f in datasyncd datasyncctl; do [ -x "$B/$f" ] || { echo "$f not built"; exit 77; }; done
grep -q '^CONFIG_DS_REMOTE_DIR=y' "$B/.config" && grep -q '^CONFIG_DS_ENGINE_TABLE=y' "$B/.config" ||
	{ echo "needs the dir remote and the table engine"; exit 77; }
command -v sqlite3 >/dev/null 2>&1 || { echo "no sqlite3 command-line tool"; exit 77; }
SHIM=$T/faultfs.so
${CC:-cc} -shared -fPIC -o "$SHIM" "$S/test/servers/faultproxy/faultfs.c" -ldl 2>"$T/shim.log" ||
	{ cat "$T/shim.log"; echo "cannot build the LD_PRELOAD shim"; exit 77; }
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
export ASAN_OPTIONS

pids=
trap 'for p in $pids; do kill $p 2>/dev/null; done; wait 2>/dev/null' EXIT
fail() { echo "FAIL: $*"; echo "--- last output"; cat "$T/out" 2>/dev/null; echo "--- tv log"; tail -n 20 "$T/tv/datasyncd.log"; exit 1; }
ctl() { d_=$1; shift; "$B/datasyncctl" -c "$T/$d_/datasync.conf" "$@"; }
sql() { sqlite3 -batch -cmd ".timeout 5000" "$T/$1/notes.db" "$2"; }
CANON="SELECT id, quote(title) FROM notes ORDER BY id"

start() { # name [env...]
	n=$1; shift
	mkdir -p "$T/$n"
	printf 'data_dir = %s\nrun_dir = %s\nsecret_dir = %s\ndevice_name = %s\nlog_output = stderr\nlog_level = 2\nsync_interval_s = 86400\n' \
		"$T/$n/data" "$T/$n/run" "$T/$n/secrets" "$n" >"$T/$n/datasync.conf"
	env "$@" "$B/datasyncd" -f -c "$T/$n/datasync.conf" 2>"$T/$n/datasyncd.log" &
	pids="$pids $!"
	i=0
	until ctl "$n" status >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 100 ] || fail "datasyncd of $n did not start"; sleep 0.1
	done
}

mkdir -p "$T/shared"
printf 'disk test passphrase\n' >"$T/pass"
start phone
AREA=${1:-notes.db}
[ "$AREA" = all ] && AREA=
start tv LD_PRELOAD="$SHIM" FAULTFS_PATH="$T/tv/$AREA" FAULTFS_SWITCH="$T/disk-full"
for d in phone tv; do
	sql $d "CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT)"
	ctl $d register notes --engine table --db "$T/$d/notes.db" --table notes --remote dir \
		--dir "$T/shared" --passphrase-file "$T/pass" >"$T/out" 2>&1 || fail "register on $d"
done
sql phone "INSERT INTO notes VALUES (1,'one'),(2,'two'),(3,'three')"
sql tv "INSERT INTO notes VALUES (10,'tv ten')"
for d in phone tv phone; do ctl $d sync notes --wait >"$T/out" 2>&1 || fail "first syncs ($d)"; done

# The TV's disk fills up; the phone edits and syncs; the TV edits too, and syncs.
sql phone "UPDATE notes SET title='one (phone)' WHERE id=1; DELETE FROM notes WHERE id=2"
ctl phone sync notes --wait >"$T/out" 2>&1 || fail "phone's upload"
sql tv "INSERT INTO notes VALUES (11,'tv eleven')"
sql tv "$CANON" >"$T/tv.before"
touch "$T/disk-full"
ctl tv sync notes --wait >"$T/out" 2>&1 && fail "the TV synced on a full disk"
grep -q "no space left" "$T/out" || fail "'sync --wait' does not say the disk is full"
ctl tv status >"$T/out" 2>&1 || fail "status on the TV"
grep -q "no space left" "$T/out" || fail "'status' does not say the disk is full"
echo "status while the disk is full:"; grep -i "no space" "$T/out"
sql tv "$CANON" >"$T/tv.after" || fail "the TV's table is unreadable"
cmp -s "$T/tv.before" "$T/tv.after" || fail "the TV's table changed on a full disk"

# Space is back: the next runs converge.
rm -f "$T/disk-full"
for d in tv phone; do ctl $d sync notes --wait >"$T/out" 2>&1 || fail "sync of $d after the disk was freed"; done
[ "$(sql phone "$CANON")" = "$(sql tv "$CANON")" ] || fail "phone and TV differ"
[ "$(sql tv "SELECT group_concat(id) FROM (SELECT id FROM notes ORDER BY id)")" = "1,3,10,11" ] ||
	fail "unexpected rows: $(sql tv "$CANON")"
ctl tv status >"$T/out" 2>&1 && ! grep -q "no space left" "$T/out" || fail "status still reports the full disk"
echo "PASS: a full disk under datasyncd is reported by sync and status, loses nothing, and converges after"
