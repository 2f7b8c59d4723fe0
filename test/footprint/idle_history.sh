#!/bin/sh
# Idle memory of a signed-in datasyncd with Firefox Sync history registered (for footprint.sh):
# the account test stack (test/servers/stack.py) on 127.0.0.1, a new account, one datasyncd
# signed in to it with one collection, history over a places.sqlite made from the Firefox
# fixture (test/data/firefox/places.sql, through test/integration/browser_writer.py), synced
# once (the first sync: fresh start of the account's storage, the client record, the upload),
# then left alone for two seconds (the daemon trims its heap after a job, docs/performance.md).
#
#   test/footprint/idle_history.sh BUILD_DIR
#
# Prints "Rss Pss Anonymous Private_Dirty" in kB of /proc/PID/smaps_rollup on its last line.
# Exit 77 when the build lacks the account, Sync 1.5, history or the control socket, or the
# test servers' virtualenv cannot be set up; 1 when a step fails.
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
DS_BUILD=$(cd "${1:?usage: idle_history.sh BUILD_DIR}" && pwd)
DS_SRC=$SRC
DS_TMP=$(mktemp -d)
export DS_BUILD DS_SRC DS_TMP
S15_SYMS="DS_ACCOUNT DS_REMOTE_SYNC15 DS_ENGINE_HISTORY DS_IPC"
# sync15_common.inc's exit trap stops the daemon and the stack; the folder goes after it.
. "$SRC/test/integration/sync15_common.inc"
trap 's15_cleanup; rm -rf "$DS_TMP"' EXIT

s15_stack 1
s15_account "footprint@example.org" "footprint pw $$"
"$PY" "$SRC/test/integration/browser_writer.py" profile "$T/profile" a >"$T/out" 2>&1 ||
	fail "the places.sqlite fixture"
s15_conf d "Footprint" 0
printf '{"name":"history","engine":{"kind":"history","places":"%s"},"remote":{"kind":"sync15","collection":"history","engine_version":1},"conflict":"merge"}\n' \
	"$T/profile/places.sqlite" >"$T/reg.json"
# A program just linked is still dirty in the page cache (footprint.sh, idle_rss).
sync
start d
s15_login d
ok ctl d register --json "$T/reg.json"
ok ctl d sync history --wait
grep -q "^history: ok" "$T/out" || fail "the history sync: $(cat "$T/out")"
sleep 2
eval "pid=\$pid_d"
awk '/^(Rss|Pss|Anonymous|Private_Dirty):/ { v[$1] = $2 }
	END { if (v["Rss:"] == "") exit 1; print v["Rss:"], v["Pss:"], v["Anonymous:"], v["Private_Dirty:"] }' \
	"/proc/$pid/smaps_rollup" || fail "no smaps_rollup for datasyncd"
stop d
