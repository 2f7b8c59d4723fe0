#!/bin/sh
# datasyncctl against a running datasyncd: usage errors (exit 2) need no daemon; register a
# table with a passphrase (never stored or logged in clear), sync --wait, list, disable /
# enable, reset, unregister; refusals exit 1 with the daemon's message; --json for scripts.
set -u
B=${DS_BUILD:?}; T=${DS_TMP:?}
D="$B/datasyncd"; C="$B/datasyncctl"
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI missing"; exit 77; }
command -v python3 >/dev/null || { echo "python3 missing"; exit 77; }
grep -q '^CONFIG_DS_ENGINE_TABLE=y' "$B/.config" && grep -q '^CONFIG_DS_REMOTE_DIR=y' "$B/.config" ||
	{ echo "needs the table engine and the dir remote"; exit 77; }

fail() { echo "FAIL: $*"; echo "--- datasyncd log"; cat "$T/log" 2>/dev/null; exit 1; }
ctl() { "$C" -c "$T/ds.conf" "$@"; }
expect() { # exit-code command...
	want=$1; shift
	"$@" >"$T/out" 2>&1; got=$?
	[ "$got" -eq "$want" ] || { cat "$T/out"; fail "'$*' exited $got, expected $want"; }
}

cat >"$T/ds.conf" <<CONF
data_dir = $T/data
run_dir = $T/run
secret_dir = $T/secrets
log_output = stderr
log_level = debug
sync_interval_s = 0
CONF

# Usage errors: exit 2, daemon or not.
expect 2 ctl
expect 2 ctl frobnicate
expect 2 ctl sync a b
expect 2 ctl enable
expect 2 ctl register alarms --engine table --db x.db
expect 2 ctl register alarms --engine table --db x.db --table t --remote dir --dir s --no-encryption --direction sideways
grep -q "two-way, import-only or export-only" "$T/out" || fail "direction message"
expect 2 ctl -c "$T/missing.conf" status
expect 3 ctl status

"$D" -f -c "$T/ds.conf" 2>"$T/log" &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
i=0; until ctl status >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 100 ] || fail "no daemon"; sleep 0.1; done

sqlite3 "$T/app.db" "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);
INSERT INTO notes VALUES (1, 'one'), (2, 'two');"
mkdir -p "$T/shared"
printf 'sesame-%s\n' "open" >"$T/pass"
expect 0 ctl register notes --engine table --db "$T/app.db" --table notes --remote dir --dir "$T/shared" \
	--passphrase-file "$T/pass" --title "My notes" --conflict newest-wins
expect 1 ctl register notes --engine table --db "$T/app.db" --table notes --remote dir --dir "$T/shared" --no-encryption
grep -q "already registered" "$T/out" || fail "duplicate register message: $(cat "$T/out")"
expect 1 ctl register ghost --engine table --db "$T/app.db" --table nosuchtable --remote dir --dir "$T/shared" --no-encryption
expect 0 ctl list
grep -q "^notes .*enabled.*table->dir.*My notes" "$T/out" || fail "list: $(cat "$T/out")"
grep -q ghost "$T/out" && fail "a refused registration was kept"

expect 0 ctl sync notes --wait
grep -q "^notes: ok .*uploaded 2" "$T/out" || fail "sync output: $(cat "$T/out")"
expect 0 ctl --json sync --wait
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["ok"] and r["results"][0]["name"]=="notes", r' "$T/out" ||
	fail "json sync"
expect 1 ctl sync nosuch
grep -q "no collection named 'nosuch'" "$T/out" || fail "unknown name message"

expect 0 ctl disable notes
expect 1 ctl sync notes
grep -q "is disabled" "$T/out" || fail "disabled message"
expect 0 ctl enable notes
expect 0 ctl reset notes
expect 0 ctl --json status
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); c=r["collections"][0]; assert c["name"]=="notes" and c["last"]["ok"], c' "$T/out" ||
	fail "status json"
expect 0 ctl version
grep -q "engine:table" "$T/out" || fail "version"

# The passphrase is in no log, store or registration.
grep -rq "sesame-open" "$T/log" "$T/data" && fail "passphrase found in clear"

expect 0 ctl unregister notes
expect 1 ctl unregister notes
[ "$(sqlite3 "$T/app.db" 'SELECT count(*) FROM notes')" = 2 ] || fail "unregister touched the app's rows"

kill -TERM $pid; wait $pid; rc=$?; trap - EXIT
[ $rc -eq 0 ] || fail "exit $rc"
echo "ctl_commands: ok"
