#!/bin/sh
# A full disk (ENOSPC), or with argument EROFS a read-only one, under each place a sync run
# writes: the device's metadata store, the app's database (table engine) and the dir remote's
# shared folder. The fault comes from an LD_PRELOAD shim (test/servers/faultproxy/faultfs.c)
# limited to that path: no root, no mount, and it works for root, who ignores mode bits.
#
# Two devices share a folder (dir remote, encrypted). After a first sync both edit offline and
# A uploads; then B syncs with the place full or read-only. Each case must end with exit 1 and a
# message saying what failed, leave B's table and A's untouched (nothing lost, nothing half
# applied), and the next normal runs must converge on the expected table.
#   sh disk_full.sh [ENOSPC|EROFS]
set -u
ERR=${1:-ENOSPC}
DSDEV=${DS_BUILD:?}/test/tools/dsdev
[ -x "$DSDEV" ] || { echo "skip: $DSDEV is not built (board without table engine or dir remote)"; exit 77; }
command -v sqlite3 >/dev/null 2>&1 || { echo "skip: no sqlite3 command-line tool"; exit 77; }
W=${DS_TMP:?}
L=$W/live
S=$W/saved
SHIM=$W/faultfs.so
${CC:-cc} -shared -fPIC -o "$SHIM" "$DS_SRC/test/servers/faultproxy/faultfs.c" -ldl 2>"$W/shim.log" ||
	{ cat "$W/shim.log"; echo "skip: cannot build the LD_PRELOAD shim"; exit 77; }
# AddressSanitizer wants to be first in the library list; tolerate the shim if it can.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
export ASAN_OPTIONS

fail() { echo "FAIL: $*"; echo "--- last output"; cat "$W/out" 2>/dev/null; exit 1; }
dev() { d_=$1; shift; "$DSDEV" --home "$L/$d_/home" "$@"; }
app() { sqlite3 -batch "$L/$1/app.db" "$2"; }
CANON="SELECT id, quote(title), quote(n) FROM notes ORDER BY id;"
SCHEMA="CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT, n REAL);"
INITIAL="INSERT INTO notes VALUES (1,'one',1.5),(2,'two',2.5),(3,'three',3.5),(4,'four',4.5),(5,'five',5.5);"
EDIT_A="UPDATE notes SET title='one (A)' WHERE id=1; DELETE FROM notes WHERE id=2; INSERT INTO notes VALUES (6,'six',6.5);"
EDIT_B="UPDATE notes SET title='three (B)' WHERE id=3; DELETE FROM notes WHERE id=4; INSERT INTO notes VALUES (101,'b',101.5);"

mkdir -p "$L/A" "$L/B" "$L/shared"
app A "$SCHEMA $INITIAL" && app B "$SCHEMA" || fail "app tables"
for d in A B; do
	dev $d init --db "$L/$d/app.db" --table notes --dir "$L/shared" --passphrase "disk test" >"$W/out" 2>&1 ||
		fail "init $d"
done
for d in A B; do dev $d sync >"$W/out" 2>&1 || fail "first sync of $d"; done
app A "$EDIT_A" && app B "$EDIT_B" || fail "edits"
dev A sync >"$W/out" 2>&1 || fail "A's upload"
cp -a "$L" "$S"
sqlite3 -batch "$W/expected.db" "$SCHEMA $INITIAL $EDIT_A $EDIT_B" &&
	sqlite3 -batch "$W/expected.db" "$CANON" >"$W/expected" || fail "expected table"

# The shim must act, or every case below would pass for nothing: a write under a faulted
# path fails with the errno asked for, one elsewhere works.
env LD_PRELOAD="$SHIM" FAULTFS_PATH="$W/probe" FAULTFS_ERRNO=$ERR sqlite3 "$W/probe.db" \
	"CREATE TABLE t(x)" >"$W/out" 2>&1 && fail "the shim did not fail a write under FAULTFS_PATH"
env LD_PRELOAD="$SHIM" FAULTFS_PATH="$W/probe" FAULTFS_ERRNO=$ERR sqlite3 "$W/other.db" \
	"CREATE TABLE t(x)" >"$W/out" 2>&1 || fail "the shim failed a write elsewhere"

quiesce() { # context
	round=0
	while :; do
		round=$((round + 1))
		[ $round -le 5 ] || fail "$1: devices still exchange changes after 5 rounds"
		busy=0
		for d in B A; do
			dev $d sync >"$W/out" 2>&1 || fail "$1: normal sync of $d, round $round"
			grep -q " applied=0 uploaded=0 " "$W/out" || busy=1
		done
		[ $busy -eq 0 ] && return 0
	done
}

# run_case NAME PATH MESSAGE-REGEX unchanged|kept: B syncs with PATH full or read-only; its
# table must be unchanged, or (kept) keep B's own edits.
run_case() {
	restore_ctx="$1 ($ERR)"
	rm -rf "$L" && cp -a "$S" "$L" || fail "restore"
	app A "$CANON" >"$W/a.before"; app B "$CANON" >"$W/b.before"
	env LD_PRELOAD="$SHIM" FAULTFS_PATH="$2" FAULTFS_ERRNO=$ERR FAULTFS_COUNT="$W/count" \
		FAULTFS_AT=${AT:-1} "$DSDEV" --home "$L/B/home" sync >"$W/out" 2>&1
	rc=$?
	[ "$(cat "$W/count" 2>/dev/null || echo 0)" -gt 0 ] || fail "$restore_ctx: the run never touched $2"
	if [ $rc -eq 0 ] && [ -n "${AT:-}" ]; then
		echo "$restore_ctx: the run succeeded (only writes SQLite can do without failed)"
	else
		[ $rc -eq 1 ] || fail "$restore_ctx: exit $rc instead of a clean error"
		grep -Eq "$3" "$W/out" || fail "$restore_ctx: the output does not say /$3/"
	fi
	app B "$CANON" >"$W/b.after" || fail "$restore_ctx: B's table unreadable after the run"
	if [ "$4" = unchanged ]; then
		cmp -s "$W/b.before" "$W/b.after" ||
			{ diff "$W/b.before" "$W/b.after"; fail "$restore_ctx: B's table changed"; }
	else
		# The fetch may have applied A's edits before the upload failed: B's own must be there.
		[ "$(app B "SELECT title FROM notes WHERE id=3; SELECT count(*) FROM notes WHERE id=4;
			SELECT title FROM notes WHERE id=101;")" = "three (B)
0
b" ] || fail "$restore_ctx: B's own edits are not intact"
	fi
	app A "$CANON" >"$W/a.after"
	cmp -s "$W/a.before" "$W/a.after" || fail "$restore_ctx: A's table changed"
	sqlite3 "$L/B/home/data/datasync.db" "PRAGMA integrity_check" | grep -qx ok ||
		fail "$restore_ctx: B's metadata store is damaged"
	echo "$restore_ctx: $(grep -m1 -E 'message=|^error: ' "$W/out")"
	quiesce "$restore_ctx"
	for d in A B; do
		app $d "$CANON" >"$W/got" || fail "$restore_ctx: read $d"
		cmp -s "$W/got" "$W/expected" || { diff "$W/expected" "$W/got"; fail "$restore_ctx: $d did not converge"; }
	done
	echo "$restore_ctx: converged"
}

if [ "$ERR" = EROFS ]; then MSG="read-only storage"; else MSG="no space left"; fi
run_case "metadata store" "$L/B/home/data" "^error: ds_store_open: $MSG" unchanged
run_case "app database" "$L/B/app.db" "message=\"applying a remote record failed: $MSG\"" unchanged
run_case "shared folder" "$L/shared" "message=\"uploading to the remote failed: $MSG\"" kept
# The store filling up during the run, not before: from the k-th of the N writes and fsyncs a
# normal run makes there (its open, the cursor, the run record, the close's checkpoint). A fsync
# failing on a full disk reaches us as SQLite's generic I/O error (SQLite keeps no errno for it).
rm -rf "$L" && cp -a "$S" "$L" || fail "restore"
env LD_PRELOAD="$SHIM" FAULTFS_PATH="$L/B/home/data" FAULTFS_AT=1000000 FAULTFS_COUNT="$W/count" \
	"$DSDEV" --home "$L/B/home" sync >"$W/out" 2>&1 || fail "counting the store's writes"
N=$(cat "$W/count")
[ "$N" -gt 4 ] || fail "only $N writes to the store in a run"
for AT in 2 $((N / 4)) $((N / 2)) $((3 * N / 4)) $N; do
	run_case "metadata store, write $AT of $N on" "$L/B/home/data" \
		"message=\"[^\"]*metadata store failed: ($MSG|input/output error)\"|^error: ds_store_open: ($MSG|not found)" kept
done
echo "PASS: full or read-only places ($ERR) end with clear errors, lose nothing and converge"
