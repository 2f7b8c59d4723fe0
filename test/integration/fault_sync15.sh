#!/bin/sh
# The Sync 1.5 remote inside datasyncd behind the fault-injecting proxy: the test stack
# (test/servers/stack.py) with the tokenserver handing out the proxy's URL as the storage node,
# and the scenarios of test/servers/faultproxy/sync15.jsonl. Each faulted run (A's sync after an
# edit) must end as the row expects (a clean error or a success), within its request budget,
# without A losing a row; then A and B sync normally and hold the same rows.
set -u
B=${DS_BUILD:?}; T=${DS_TMP:?}; S=${DS_SRC:?}
D="$B/datasyncd"; C="$B/datasyncctl"
grep -q '^CONFIG_DS_PORT_SIM=y' "$B/.config" || { echo "needs the sim board (sim-advance)"; exit 77; }
for sym in DS_ACCOUNT DS_REMOTE_SYNC15 DS_ENGINE_TABLE DS_IPC; do
	grep -q "^CONFIG_$sym=y" "$B/.config" || { echo "CONFIG_$sym not built"; exit 77; }
done
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI missing"; exit 77; }
PY=$(sh "$S/test/servers/setup-venv.sh" 2>"$T/venv.log" | tail -n 1)
[ -x "$PY" ] || { echo "test servers' virtualenv unavailable (see setup-venv.sh)"; exit 77; }

pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	[ -f "$T/stack.json" ] && "$PY" "$S/test/servers/stack.py" stop "$T/stack.json" >/dev/null 2>&1
	wait 2>/dev/null
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	for d in a b; do echo "--- datasyncd $d (tail)"; tail -n 20 "$T/$d.log" 2>/dev/null; done
	echo "--- last output"; cat "$T/out" 2>/dev/null
	exit 1
}
jget() { "$PY" -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
print(json.dumps(v) if isinstance(v, (list, dict)) else v)' "$@"; }
post() { "$PY" -c '
import sys, urllib.request
r = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method="POST",
                           headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(r).read().decode())' "$1" "$2"; }
get() { "$PY" -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' "$1"; }

"$PY" "$S/test/servers/stack.py" start --out "$T/stack.json" --nodes 1 >"$T/stack.out" 2>&1 ||
	{ cat "$T/stack.out"; fail "the test stack did not start"; }
FXA=$(jget fxa_url <"$T/stack.json")
TS=$(jget tokenserver_url <"$T/stack.json")
N0=$(jget storage_urls 0 <"$T/stack.json")
"$PY" "$S/test/servers/faultproxy/proxy.py" --upstream "$N0" >"$T/proxy.port" 2>"$T/proxy.log" &
pids="$pids $!"
i=0; until grep -q '^PORT ' "$T/proxy.port" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "the proxy did not start"; sleep 0.1; done
P="http://127.0.0.1:$(sed -n 's/^PORT //p' "$T/proxy.port")"
post "$TS/__testing__/config" "{\"node\": \"$P\"}" >/dev/null || fail "cannot point the tokenserver at the proxy"
EMAIL="faults@example.org"
PASSWORD="fault pw $$"
post "$FXA/__test__/account" "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\",\"verify\":\"none\"}" >/dev/null ||
	fail "cannot create the account"
printf '%s\n' "$PASSWORD" >"$T/pw"

ctl() { d=$1; shift; "$C" -c "$T/$d.conf" "$@"; }
for d in a b; do
	printf 'data_dir = %s\nrun_dir = %s\nsecret_dir = %s\nlog_output = stderr\nlog_level = info\nsync_interval_s = 0\ndevice_name = Device %s\n[accounts]\nfxa_url = %s\ntokenserver_url = %s\n' \
		"$T/$d/data" "$T/$d/run" "$T/$d/secrets" "$d" "$FXA" "$TS" >"$T/$d.conf"
	sqlite3 "$T/$d.db" "CREATE TABLE notes(guid TEXT PRIMARY KEY, title TEXT, n INTEGER)"
	printf '{"name":"notes","engine":{"kind":"table","db":"%s","table":"notes"},"remote":{"kind":"sync15","collection":"notes"},"conflict":"newest-wins"}\n' \
		"$T/$d.db" >"$T/$d.reg.json"
	"$D" -f -c "$T/$d.conf" 2>>"$T/$d.log" &
	pids="$pids $!"
	i=0; until ctl $d status >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 100 ] || fail "daemon $d did not start"; sleep 0.1; done
	ctl $d login "$EMAIL" <"$T/pw" >"$T/out" 2>&1 || fail "login $d"
	ctl $d register --json "$T/$d.reg.json" >"$T/out" 2>&1 || fail "register $d"
done
sqlite3 "$T/a.db" "INSERT INTO notes VALUES ('n1','first',1),('n2','second',2)"
for d in a b a; do ctl $d sync notes --wait >"$T/out" 2>&1 || fail "first syncs ($d)"; done
advance() { # DEVICE DURATION: move that daemon's virtual clock
	"$PY" - "$T/$1/run/datasyncd.sock" "$2" <<'PYEOF' >/dev/null || fail "sim-advance $1"
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall((json.dumps({"id": 1, "cmd": "sim-advance", "by": sys.argv[2]}) + "\n").encode())
r = json.loads(s.makefile().readline())
sys.exit(0 if r.get("ok") else 1)
PYEOF
}
rows() { sqlite3 -cmd ".timeout 5000" "$T/$1.db" "SELECT guid, title, n FROM notes ORDER BY guid"; }

k=0 failed=0
while IFS= read -r line; do
	case $line in *'"about"'*) continue ;; esac
	k=$((k + 1))
	name=$(printf '%s' "$line" | jget name)
	expect=$(printf '%s' "$line" | jget expect)
	max=$(printf '%s' "$line" | jget max_requests)
	silent=$(printf '%s' "$line" | "$PY" -c 'import json,sys; print(int(bool(json.load(sys.stdin).get("silent_after"))))')
	rules=$(printf '%s' "$line" | jget rules)
	if printf '%s' "$line" | grep -q '"peer_edit": true'; then
		sqlite3 -cmd ".timeout 5000" "$T/b.db" "INSERT INTO notes VALUES ('p$k','peer $k',$k)"
		ctl b sync notes --wait >"$T/out" 2>&1 || fail "$name: B's sync before the fault"
	fi
	sqlite3 "$T/a.db" "INSERT INTO notes VALUES ('f$k','fault $k',$k); UPDATE notes SET n = n + 1 WHERE guid = 'n1'"
	rows a >"$T/a.before"
	post "$P/__proxy__/rules" "{\"rules\": $rules}" >/dev/null || fail "$name: cannot set the rules"
	ctl a sync notes --wait >"$T/out" 2>&1
	rc=$?
	get "$P/__proxy__/log" >"$T/log.json"
	post "$P/__proxy__/reset" "{}" >/dev/null
	verdict=$("$PY" - "$T/log.json" "$max" "$silent" <<'PYEOF'
import json, sys
reqs = json.load(open(sys.argv[1]))["requests"]
bad = []
if len(reqs) > int(sys.argv[2]):
    bad.append("%d requests, more than %s" % (len(reqs), sys.argv[2]))
hit = [r for r in reqs if r["action"] != "pass"]
if sys.argv[3] == "1" and hit and reqs[-1]["n"] != hit[0]["n"]:
    bad.append("requests after the faulted answer")
print("; ".join(bad) if bad else "%d requests%s" % (len(reqs), "" if hit or len(reqs) == 0 else ", fault not reached"))
PYEOF
)
	res=ok
	case $expect:$rc in
	error:0) res="the fault went unnoticed" ;;
	ok:[!0]*) res="the run should have survived" ;;
	esac
	[ $rc -gt 1 ] && [ $rc -ne 0 ] && grep -q "^notes: ok" "$T/out" && res="exit $rc with an ok run"
	case $verdict in *"more than"*|*after*) res="$verdict" ;; esac
	case $verdict:$rules in *"not reached"*:'[]') ;; *"not reached"*) res="the fault was never reached" ;; esac
	rows a >"$T/a.after"
	cmp -s "$T/a.before" "$T/a.after" || [ $rc -eq 0 ] || res="A's rows changed by a failed run"
	# Faults off: A and B converge.
	# A delay the server asked for (or the back-off after a refused token) is honoured by the
	# scheduler: the sim board's virtual clock jumps over it (sim-advance).
	for d in a b a; do
		n=0
		until ctl $d sync notes --wait >"$T/conv" 2>&1; do
			n=$((n + 1))
			grep -q "retry later" "$T/conv" && [ $n -le 2 ] ||
				{ res="normal sync of $d after the fault: $(cat "$T/conv")"; break 2; }
			advance $d 20m
		done
	done
	rows a >"$T/ra"; rows b >"$T/rb"
	cmp -s "$T/ra" "$T/rb" || res="A and B differ after the fault"
	grep -q "^f$k|" "$T/rb" || res="B never got A's row f$k"
	printf '%2d %-52s exit %d, %s: %s\n' $k "$name" $rc "$verdict" "$res"
	if [ "$res" != ok ]; then failed=$((failed + 1)); echo "    $(tr '\n' ' ' <"$T/out")"; fi
done <"$S/test/servers/faultproxy/sync15.jsonl"
[ $k -gt 0 ] || fail "no scenario read"
[ $failed -eq 0 ] || fail "$failed of $k scenarios failed"
echo "PASS: $k Sync 1.5 fault scenarios"
