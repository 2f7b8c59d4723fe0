#!/bin/sh
# A sync run killed or failing at any point converges on the next runs, without losing a change,
# resurrecting a deleted row or duplicating one (the two rules of component/sync/ds_sync.h).
#
# Two devices, A and B, share one folder (dir remote, encrypted) and an app table that the
# sqlite3 command-line tool writes, as an app that knows nothing of datasync would. After a first
# sync, both edit different rows offline (updates, deletes, inserts, NULLs, quotes, non-ASCII);
# B syncs; the state is saved. Then for each interruption point k: restore the state, run A's
# sync interrupted at k (it fetches and applies B's edits, then uploads its own), sync A and B
# normally until a round changes nothing, and compare both devices with the expected table.
#
#   sh crash_kill.sh [MODE]      MODE (default kill):
#     kill   SIGKILL at every progress callback, and at allocation points (dsdev --kill-at-*)
#     oom    allocation k and every later one fail (dsdev --fail-alloc): the run must end with
#            a clean error (exit 1) or succeed, never crash or leak (under ASan)
#     io     LD_PRELOAD shim (test/tools/failwrite.c, built here): write/fsync number k and
#            every later one fail with ENOSPC, then SIGKILL right before write/fsync number k
#
# Loops are capped to keep each mode under a minute on 2 cores: when a probe run counts more
# points than CRASH_MAX_POINTS (default 60), every step-th point is taken (the first and the last
# always), and the log says which. CRASH_MAX_POINTS=0 takes them all.
#
# The checker is itself checked on each run: a tampered copy of the result (a row lost, a deleted
# row back, a row duplicated) must be reported.
set -u
MODE=${1:-kill}
MAXP=${CRASH_MAX_POINTS:-60}
DSDEV=${DS_BUILD:?}/test/tools/dsdev
[ -x "$DSDEV" ] || { echo "skip: $DSDEV is not built (board without table engine or dir remote)"; exit 77; }
command -v sqlite3 >/dev/null 2>&1 || { echo "skip: no sqlite3 command-line tool"; exit 77; }

W=${DS_TMP:?}
L=$W/live     # the devices; registrations name these absolute paths, so states are restored here
S=$W/saved
PASS='crash test passphrase'
CANON="SELECT id, quote(title), quote(body), quote(n), quote(score) FROM notes ORDER BY id;"

fail() { echo "FAIL: $*"; exit 1; }
dev() { d_=$1; shift; "$DSDEV" --home "$L/$d_" "$@"; }
app() { sqlite3 -batch "$L/$1/app.db" "$2"; }

SCHEMA="CREATE TABLE notes(id TEXT PRIMARY KEY, title TEXT NOT NULL, body TEXT, n INTEGER, score REAL);"
INITIAL="WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 40)
INSERT INTO notes SELECT printf('r%02d', i), 'title ' || i, 'body ' || i, i, i + 0.5 FROM k;
UPDATE notes SET body = NULL WHERE id = 'r07';
UPDATE notes SET body = 'it''s naïve ✓ – \"quoted\"' WHERE id = 'r08';
UPDATE notes SET score = NULL WHERE id = 'r10';"
# Offline edits, on disjoint rows so that the expected result does not depend on conflict rules.
EDIT_A="UPDATE notes SET title = title || ' (A)', n = n + 100 WHERE id BETWEEN 'r01' AND 'r05';
UPDATE notes SET body = NULL WHERE id = 'r08';
DELETE FROM notes WHERE id BETWEEN 'r21' AND 'r25';
INSERT INTO notes VALUES ('a01', 'from A', 'x', 1, 1.25), ('a02', 'from A', NULL, NULL, NULL),
  ('a03', 'l''apostrophe', 'ü', -7, -0.5);
INSERT INTO notes VALUES ('a99', 'short-lived', 'y', 0, 0); DELETE FROM notes WHERE id = 'a99';"
EDIT_B="UPDATE notes SET title = title || ' (B)', score = score * 2 WHERE id BETWEEN 'r11' AND 'r15';
UPDATE notes SET body = 'two' || char(10) || 'lines' WHERE id = 'r07';
DELETE FROM notes WHERE id BETWEEN 'r26' AND 'r30';
INSERT INTO notes VALUES ('b01', 'from B', 'z', 2, 2.5), ('b02', 'from B', '', 0, 0.0);
UPDATE notes SET n = 31 WHERE id = 'r31'; DELETE FROM notes WHERE id = 'r31';"
DELETED="r21 r22 r23 r24 r25 r26 r27 r28 r29 r30 r31 a99"

# ---- checking -----------------------------------------------------------------------------

# Compare a device's canonical table ($1: file) with the expected one; say what is wrong.
check_table() { # file label
	[ "$(cat "$1")" = "$(cat "$W/expected")" ] && return 0
	echo "$2: table differs from the expected one:"
	diff "$W/expected" "$1" | sed 's/^/    /' | head -n 20
	for id in $DELETED; do
		grep -q "^$id|" "$1" && echo "$2: deleted row $id came back"
	done
	dup=$(cut -d'|' -f1 "$1" | sort | uniq -d | head -n 3)
	[ -n "$dup" ] && echo "$2: duplicated rows: $dup"
	return 1
}

# Sync A and B in turns until a whole round applies and uploads nothing.
quiesce() { # context
	round=0
	while :; do
		round=$((round + 1))
		[ $round -le 6 ] || fail "$1: devices still exchange changes after 6 rounds"
		busy=0
		for d in A B; do
			out=$(dev "$d" sync 2>&1) || fail "$1: sync of $d, round $round: $out"
			case $out in
			*" applied=0 uploaded=0 "*) ;;
			*) busy=1 ;;
			esac
		done
		[ $busy -eq 0 ] && return 0
	done
}

verify() { # context
	quiesce "$1"
	for d in A B; do
		app "$d" "$CANON" >"$W/got.$d" || fail "$1: cannot read $d's table"
		check_table "$W/got.$d" "$1, device $d" || fail "$1: device $d did not converge to the expected table"
		p=$(dev "$d" pending) || fail "$1: pending on $d: $p"
		[ "$p" = 0 ] || fail "$1: $d still has $p pending changes after a quiet round"
	done
	dev A dump >"$W/dump.A" && dev B dump >"$W/dump.B" || fail "$1: dsdev dump failed"
	cmp -s "$W/dump.A" "$W/dump.B" || fail "$1: dsdev dumps of A and B differ"
}

# The checker must catch what it is there to catch.
self_check() {
	grep -v '^r01|' "$W/got.A" >"$W/tampered"
	check_table "$W/tampered" "self-check (lost row)" >/dev/null && fail "checker misses a lost row"
	{ cat "$W/got.A"; echo "r22|'title 22'|'body 22'|22|22.5"; } | sort >"$W/tampered"
	check_table "$W/tampered" "self-check (resurrected row)" | grep -q "deleted row r22 came back" ||
		fail "checker misses a resurrected row"
	{ cat "$W/got.A"; grep '^a01|' "$W/got.A"; } | sort >"$W/tampered"
	check_table "$W/tampered" "self-check (duplicate)" | grep -q "duplicated rows: a01" ||
		fail "checker misses a duplicated row"
	echo "self-check: the checker reports a lost, a resurrected and a duplicated row"
}

restore() {
	rm -rf "$L" && cp -a "$S" "$L" || fail "cannot restore the saved state"
}

# Evenly spread points of 1..n, at most MAXP of them (all when MAXP is 0), first and last kept.
points() { # n what
	n=$1
	if [ "$MAXP" -eq 0 ] || [ "$n" -le "$MAXP" ]; then
		step=1
	else
		step=$(( (n + MAXP - 1) / MAXP ))
	fi
	echo "$2: $n points, taking every $step-th" >&2
	seq 1 "$step" "$n"
	[ $(( (n - 1) % step )) -ne 0 ] && echo "$n"
	return 0
}

# ---- the saved state ----------------------------------------------------------------------

mkdir -p "$L/A" "$L/B" "$L/shared"
app A "$SCHEMA $INITIAL" || fail "cannot create A's app table"
app B "$SCHEMA" || fail "cannot create B's app table"
for d in A B; do
	out=$(dev "$d" init --db "$L/$d/app.db" --table notes --pk id --dir "$L/shared" \
		--passphrase "$PASS" --conflict newest-wins 2>&1) || fail "init $d: $out"
	echo "$out"
done
grep -rq "$PASS" "$L/A" "$L/B" "$L/shared" && fail "the passphrase is stored in clear"
for d in A B; do out=$(dev "$d" sync 2>&1) || fail "first sync of $d: $out"; echo "$d: $out"; done
[ "$(app A "$CANON")" = "$(app B "$CANON")" ] || fail "B did not receive A's table on its first sync"

app A "$EDIT_A" || fail "A's edits"
app B "$EDIT_B" || fail "B's edits"
out=$(dev B sync 2>&1) || fail "B's upload: $out"
echo "B: $out"
cp -a "$L" "$S"

# The expected table: the initial rows with both sets of edits, made without datasync.
sqlite3 -batch "$W/expected.db" "$SCHEMA $INITIAL $EDIT_A $EDIT_B" &&
	sqlite3 -batch "$W/expected.db" "$CANON" >"$W/expected" || fail "cannot compute the expected table"

# The uninterrupted run, which also counts the interruption points.
out=$(dev A sync --count 2>&1) || fail "A's uninterrupted sync: $out"
echo "A: $out"
NPROG=$(printf '%s\n' "$out" | sed -n 's/^count progress=\([0-9]*\) allocs=.*/\1/p')
NALLOC=$(printf '%s\n' "$out" | sed -n 's/^count progress=[0-9]* allocs=\([0-9]*\)$/\1/p')
[ -n "$NPROG" ] && [ -n "$NALLOC" ] || fail "dsdev --count printed no counts"
verify "uninterrupted"
self_check

# ---- interruptions ------------------------------------------------------------------------

run_killed() { # context, dsdev sync options...
	ctx=$1; shift
	restore
	out=$(dev A sync "$@" 2>&1)
	rc=$?
	case $rc in
	137) killed=$((killed + 1)) ;;
	0) echo "$ctx: the run ended before the kill point"; ok=$((ok + 1)) ;;
	*) fail "$ctx: exit $rc instead of being killed: $out" ;;
	esac
	verify "$ctx"
	tried=$((tried + 1))
}

tried=0 killed=0 errored=0 ok=0
case $MODE in
kill)
	[ "$NPROG" -gt 0 ] || fail "the run reported no progress at all"
	for k in $(seq 1 "$NPROG"); do
		run_killed "SIGKILL at progress event $k of $NPROG" --kill-at-progress "$k"
	done
	for k in $(points "$NALLOC" "allocations"); do
		run_killed "SIGKILL at allocation $k of $NALLOC" --kill-at-alloc "$k"
	done
	;;
oom)
	for k in $(points "$NALLOC" "allocations"); do
		ctx="allocation $k of $NALLOC fails"
		restore
		out=$(dev A sync --fail-alloc "$k" 2>&1)
		rc=$?
		case $rc in
		0) ok=$((ok + 1)) ;;
		1) printf '%s\n' "$out" | grep -q "^error: " || fail "$ctx: exit 1 without an error line: $out"
		   errored=$((errored + 1)) ;;
		*) fail "$ctx: exit $rc (crash, sanitizer report or leak): $out" ;;
		esac
		verify "$ctx"
		tried=$((tried + 1))
	done
	;;
io)
	SHIM=$W/failwrite.so
	CC=${CC:-cc}
	$CC -shared -fPIC -o "$SHIM" "$DS_SRC/test/tools/failwrite.c" -ldl 2>"$W/shim.log" ||
		{ cat "$W/shim.log"; echo "skip: cannot build the LD_PRELOAD shim with $CC"; exit 77; }
	# AddressSanitizer wants to be first in the library list; tolerate the shim if it can.
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	export ASAN_OPTIONS
	shim_sync() { env "$@" LD_PRELOAD="$SHIM" "$DSDEV" --home "$L/A" sync; }
	restore
	out=$(shim_sync FAILWRITE_COUNT="$W/writes" 2>&1) ||
		{ echo "$out"; echo "skip: dsdev does not run with an LD_PRELOAD shim here (sanitizer build?)"; exit 77; }
	NW=$(cat "$W/writes" 2>/dev/null)
	[ -n "$NW" ] && [ "$NW" -gt 0 ] || { echo "skip: the shim saw no writes (LD_PRELOAD not honoured)"; exit 77; }
	verify "counting writes"
	for k in $(points "$NW" "writes and fsyncs"); do
		ctx="write/fsync $k of $NW and later ones fail with ENOSPC"
		restore
		out=$(shim_sync FAILWRITE_AT="$k" 2>&1)
		rc=$?
		case $rc in
		0) ok=$((ok + 1)); echo "$ctx: the run succeeded" ;;
		1) errored=$((errored + 1)) ;;
		*) fail "$ctx: exit $rc: $out" ;;
		esac
		verify "$ctx"
		tried=$((tried + 1))
	done
	for k in $(points "$NW" "writes and fsyncs"); do
		ctx="SIGKILL before write/fsync $k of $NW"
		restore
		out=$(shim_sync FAILWRITE_AT="$k" FAILWRITE_MODE=kill 2>&1)
		rc=$?
		case $rc in
		137) killed=$((killed + 1)) ;;
		0) ok=$((ok + 1)) ;;
		*) fail "$ctx: exit $rc: $out" ;;
		esac
		verify "$ctx"
		tried=$((tried + 1))
	done
	;;
*)
	fail "unknown mode $MODE"
	;;
esac
echo "interrupted runs: $killed killed, $errored ended with an error, $ok completed anyway"
[ $((killed + errored)) -gt 0 ] || fail "no run was actually interrupted"
echo "PASS: $tried interrupted runs of A converged ($MODE; $NPROG progress events, $NALLOC allocations)"
