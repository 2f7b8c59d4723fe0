#!/bin/sh
# The Kinto remote against a real Kinto behind the fault-injecting proxy
# (test/servers/faultproxy/): every scenario of test/servers/faultproxy/kinto.json ends with a
# clear error or a successful run, B's own rows intact, no request storm, and both devices
# converging on the union once the faults stop (run_table.py says how each is checked).
# FAULT_ONLY=REGEX runs the scenarios whose name matches.
set -u
. "$DS_SRC/test/integration/kinto_common.inc"

kinto_start --paginate-by 4 --batch-max 3
"$PY" "$S/test/servers/faultproxy/proxy.py" --upstream "http://127.0.0.1:$KPORT" \
	>"$T/proxy.port" 2>"$T/proxy.log" &
PPID_=$!
trap '[ -n "$KPID" ] && kill $KPID 2>/dev/null; kill $PPID_ 2>/dev/null; wait 2>/dev/null' EXIT
i=0
until grep -q '^PORT ' "$T/proxy.port" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "the proxy did not start"
	sleep 0.1
done
PPORT=$(sed -n 's/^PORT //p' "$T/proxy.port")
"$PY" "$S/test/servers/faultproxy/run_table.py" --table "$S/test/servers/faultproxy/kinto.json" \
	--dsdev "$DSDEV" --work "$T/table" --proxy "http://127.0.0.1:$PPORT" --kinto "$KURL" \
	${FAULT_ONLY:+--only "$FAULT_ONLY"} || { echo "--- proxy log"; tail -n 40 "$T/proxy.log"; exit 1; }
