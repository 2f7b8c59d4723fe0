#!/bin/sh
# Malformed, tampered or truncated files in the dir remote give a clear error and leave the local
# data unchanged; the wrong passphrase is refused; once the damage is repaired (the original
# file put back) the next run converges. Real stack: table engine, sync core, dir remote.
set -u
DSDEV=${DS_BUILD:?}/test/tools/dsdev
[ -x "$DSDEV" ] || { echo "skip: $DSDEV is not built (board without table engine or dir remote)"; exit 77; }
command -v sqlite3 >/dev/null 2>&1 || { echo "skip: no sqlite3 command-line tool"; exit 77; }
W=${DS_TMP:?}
fail() { echo "FAIL: $*"; exit 1; }
app() { sqlite3 -batch "$W/$1/app.db" "$2"; }
dev() { d_=$1; shift; "$DSDEV" --home "$W/$d_" "$@"; }
canon="SELECT id, quote(v) FROM t ORDER BY id;"

mkdir -p "$W/shared"
for d in a b; do
	mkdir -p "$W/$d"
	app $d "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
done
app a "INSERT INTO t VALUES (1, 'one'), (2, 'two');"
app b "INSERT INTO t VALUES (9, 'b''s own');"
dev a init --db "$W/a/app.db" --table t --dir "$W/shared" --passphrase 'right' >/dev/null || fail "init a"
dev b init --db "$W/b/app.db" --table t --dir "$W/shared" --passphrase 'right' >/dev/null || fail "init b"
dev a sync >/dev/null || fail "first sync of a"

# The wrong passphrase is refused at enrolment with a readable reason.
mkdir -p "$W/c"; app c "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
out=$(dev c init --db "$W/c/app.db" --table t --dir "$W/shared" --passphrase 'wrong' 2>&1) &&
	fail "a wrong passphrase was accepted"
echo "$out" | grep -qi "passphrase" || fail "no clear reason for the wrong passphrase: $out"

batch=$(find "$W/shared" -path '*/log/*' -type f | sort | head -n 1)
[ -n "$batch" ] || fail "no batch file in the shared folder"
cp "$batch" "$W/batch.orig"
before=$(app b "$canon")

check_refused() { # what
	out=$(dev b sync 2>&1) && fail "$1: the run succeeded"
	echo "$out" | grep -qiE "integrity|malformed|truncat" || fail "$1: unclear error: $out"
	[ "$(app b "$canon")" = "$before" ] || fail "$1: local data changed"
	echo "ok: $1 -> $(echo "$out" | tail -n 1)"
}

# One flipped byte in the middle of the ciphertext.
size=$(stat -c %s "$batch")
printf '\001' | dd of="$batch" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
cmp -s "$batch" "$W/batch.orig" && fail "the tamper did not change the file"
check_refused "tampered batch"

# Truncated (a copy cut short, as by a pulled USB stick).
head -c $((size - 7)) "$W/batch.orig" >"$batch"
check_refused "truncated batch"

# Not a batch at all.
printf '{"records": []}' >"$batch"
check_refused "malformed batch"

# Repaired: the next run converges, b's own row goes up, and a receives it.
cp "$W/batch.orig" "$batch"
dev b sync >/dev/null || fail "sync of b after the repair"
dev a sync >/dev/null || fail "sync of a after the repair"
[ "$(app a "$canon")" = "$(app b "$canon")" ] || fail "devices differ after the repair"
[ "$(app a "SELECT count(*) FROM t")" = 3 ] || fail "expected 3 rows, got: $(app a "$canon")"
echo "ok: converged after the repair"
