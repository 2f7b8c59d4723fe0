#!/bin/sh
# Torture runs over a real Kinto, in the style of curl's and SQLite's: device B's sync (its first
# one: two pages of A's rows fetched and applied, its own rows uploaded in batches; then an
# incremental one with edits both ways) is run again and again with the k-th allocation failing
# (dsdev --fail-alloc k: that one and every later one), then with the k-th write or fsync
# failing with ENOSPC (the LD_PRELOAD shim test/tools/failwrite.c: that one and every later one).
# Each run must succeed or end with a clean error (exit 1 and a message), never crash or leak
# (the suite runs this under ASan too), leave B's own rows and its metadata store intact, and
# the next normal runs must converge on the union of both devices' rows.
#
# Every point gets a fresh Kinto account, so each run starts from the same server state. Points
# are sampled to keep the test near a minute: at most TORTURE_POINTS (default 6) per kind and
# scenario, spread evenly over the range a counting run measures, first and last included.
set -u
. "$DS_SRC/test/integration/kinto_common.inc"
MAXP=${TORTURE_POINTS:-6}
grep -q '^CONFIG_DS_ALLOC_HOOK=y' "$B/.config" || { echo "no allocator hook (CONFIG_DS_ALLOC_HOOK)"; exit 77; }
SHIM=$T/failwrite.so
${CC:-cc} -shared -fPIC -o "$SHIM" "$S/test/tools/failwrite.c" -ldl 2>"$T/shim.log" || SHIM=
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
export ASAN_OPTIONS

kinto_start --paginate-by 4 --batch-max 3
seq_=0

# setup MODE: a fresh account; A with 6 rows synced; B registered with 3 rows of its own. For
# MODE incremental, B has synced once, then A edited, deleted, added and synced, and B edited.
setup() {
	seq_=$((seq_ + 1)); A=a$seq_; Bd=b$seq_
	account "u$seq_" "pw $seq_"
	R=$(remote_json notes "u$seq_" "pw $seq_")
	sqlite3 "$T/$A.db" "CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT, n REAL);
		INSERT INTO notes VALUES (1,'one',1.5),(2,'two',2.5),(3,'three',3.5),(4,'four',4.5),
		(5,'five',5.5),(6,'six',6.5);"
	sqlite3 "$T/$Bd.db" "CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT, n REAL);
		INSERT INTO notes VALUES (101,'b one',101.5),(102,'b two',102.5),(103,'b three',103.5);"
	new_device $A "$R"
	new_device $Bd "$R"
	sync_ok $A
	if [ "$1" = incremental ]; then
		sync_ok $Bd
		sql $A "UPDATE notes SET title='one (A)' WHERE id=1; DELETE FROM notes WHERE id=2;
			INSERT INTO notes VALUES (7,'seven',7.5);"
		sync_ok $A
		sql $Bd "UPDATE notes SET title='b two (B)' WHERE id=102; DELETE FROM notes WHERE id=103;
			INSERT INTO notes VALUES (104,'b four',104.5);"
	fi
	sql $Bd "SELECT * FROM notes WHERE id > 100 ORDER BY id" >"$T/mine"
	{ sql $A "SELECT * FROM notes WHERE id < 100"; cat "$T/mine"; } | sort -n >"$T/expected"
}

converge() { # context
	round=0
	while :; do
		round=$((round + 1))
		[ $round -le 5 ] || fail "$1: devices still exchange changes after 5 rounds"
		busy=0
		for d in $Bd $A; do
			device $d sync >"$T/out" 2>&1 || fail "$1: normal sync of $d, round $round"
			grep -q " applied=0 uploaded=0 " "$T/out" || busy=1
		done
		[ $busy -eq 0 ] && break
	done
	for d in $A $Bd; do
		sql $d "SELECT * FROM notes" | sort -n >"$T/got"
		cmp -s "$T/got" "$T/expected" || { diff "$T/expected" "$T/got"; fail "$1: $d did not converge"; }
	done
}

# check CONTEXT RC: after a tortured run of B.
check() {
	case $2 in
	0) ok=$((ok + 1)) ;;
	1) grep -q "^error: " "$T/out" || fail "$1: exit 1 without an error line"; errored=$((errored + 1)) ;;
	*) fail "$1: exit $2 (crash, sanitizer report or leak)" ;;
	esac
	sql $Bd "SELECT * FROM notes WHERE id > 100 ORDER BY id" | cmp -s - "$T/mine" ||
		fail "$1: B's own rows changed"
	[ "$(sqlite3 "$T/home-$Bd/data/datasync.db" "PRAGMA integrity_check")" = ok ] ||
		fail "$1: B's metadata store is damaged"
	converge "$1"
	tried=$((tried + 1))
}

points() { # n what
	n=$1
	if [ "$n" -le "$MAXP" ]; then step=1; else step=$(( (n + MAXP - 1) / MAXP )); fi
	echo "$2: $n points, taking every $step-th" >&2
	seq 1 "$step" "$n"
	[ $(( (n - 1) % step )) -ne 0 ] && echo "$n"
	return 0
}

tried=0 errored=0 ok=0
for mode in first incremental; do
	setup $mode
	device $Bd sync --count >"$T/out" 2>&1 || fail "$mode: the counting run failed"
	NALLOC=$(sed -n 's/^count progress=[0-9]* allocs=\([0-9]*\)$/\1/p' "$T/out")
	[ -n "$NALLOC" ] && [ "$NALLOC" -gt 0 ] || fail "$mode: dsdev --count printed no allocations"
	converge "$mode, counting run"
	for k in $(points "$NALLOC" "$mode sync, allocations"); do
		setup $mode
		device $Bd sync --fail-alloc "$k" >"$T/out" 2>&1
		check "$mode sync, allocation $k of $NALLOC fails" $?
	done

	[ -n "$SHIM" ] || { echo "no LD_PRELOAD shim (cannot build it): writes not tortured"; continue; }
	setup $mode
	env FAILWRITE_COUNT="$T/writes" LD_PRELOAD="$SHIM" "$DSDEV" --home "$T/home-$Bd" sync >"$T/out" 2>&1 ||
		fail "$mode: the run counting writes failed"
	NW=$(cat "$T/writes" 2>/dev/null || echo 0)
	if [ "$NW" -eq 0 ]; then echo "the shim saw no writes (LD_PRELOAD not honoured): writes not tortured"; continue; fi
	converge "$mode, counting writes"
	for k in $(points "$NW" "$mode sync, writes and fsyncs"); do
		setup $mode
		env FAILWRITE_AT="$k" LD_PRELOAD="$SHIM" "$DSDEV" --home "$T/home-$Bd" sync >"$T/out" 2>&1
		check "$mode sync, write/fsync $k of $NW on fails" $?
	done
done
echo "tortured runs: $errored ended with a clean error, $ok succeeded anyway"
[ $errored -gt 0 ] || fail "no run was actually made to fail"
echo "PASS: $tried tortured runs over Kinto, each converging afterwards"
