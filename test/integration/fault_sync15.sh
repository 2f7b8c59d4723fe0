#!/bin/sh
# The Sync 1.5 remote inside datasyncd behind the fault-injecting proxy: the test stack
# (test/servers/stack.py) with the tokenserver handing out the proxy's URL as the storage node,
# and the scenarios of test/servers/faultproxy/sync15.jsonl. Each faulted run (A's sync after an
# edit) must end as the row expects (a clean error or a success), within its request budget,
# without A losing a row; then A and B sync normally and hold the same rows.
set -u
S15_SIM=1 S15_SQLITE=1 S15_SYMS="DS_ACCOUNT DS_REMOTE_SYNC15 DS_ENGINE_TABLE DS_IPC"
. "$DS_SRC/test/integration/sync15_common.inc"
S15_TAIL=20

s15_stack 1
"$PY" "$S/test/servers/faultproxy/proxy.py" --upstream "$N0" >"$T/proxy.port" 2>"$T/proxy.log" &
S15_PIDS="$S15_PIDS $!"
i=0; until grep -q '^PORT ' "$T/proxy.port" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "the proxy did not start"; sleep 0.1; done
P="http://127.0.0.1:$(sed -n 's/^PORT //p' "$T/proxy.port")"
post "$TS/__testing__/config" "{\"node\": \"$P\"}" >/dev/null || fail "cannot point the tokenserver at the proxy"
s15_account "faults@example.org" "fault pw $$"

for d in a b; do
	s15_conf "$d" "Device $d" 0
	sqlite3 "$T/$d.db" "CREATE TABLE notes(guid TEXT PRIMARY KEY, title TEXT, n INTEGER)"
	s15_reg "$T/$d.reg.json" "$T/$d.db" notes notes "" '"conflict":"newest-wins"'
	start $d
	s15_login $d
	ctl $d register --json "$T/$d.reg.json" >"$T/out" 2>&1 || fail "register $d"
done
sqlite3 "$T/a.db" "INSERT INTO notes VALUES ('n1','first',1),('n2','second',2)"
for d in a b a; do ctl $d sync notes --wait >"$T/out" 2>&1 || fail "first syncs ($d)"; done
advance() { s15_advance "$@"; } # DEVICE DURATION: move that daemon's virtual clock
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
