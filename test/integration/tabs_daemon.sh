#!/bin/sh
# The tabs and clients engines inside datasyncd against the Sync 1.5 test stack
# (test/servers/stack.py), with another client written in Python (sync15_helper.py's crypto):
#  1. the browser's tabs (datasyncctl tabs set) go up as this device's tabs record, local URLs
#     left out; the clients engine writes this device's client record (id = FxA device id);
#  2. the other client puts its own client and tabs records, and into our client record a
#     wipeEngine tabs, a displayURI and a command nobody knows;
#  3. our clients run applies them: the tab received is an event (datasyncctl events), the
#     unknown command stays in our record, the applied ones leave it; the tabs collection is
#     wiped and reset, so its next run reads the other device's tabs again (datasyncctl tabs
#     list), and datasyncctl clients lists the other device, to which a command is sent once;
#  4. 5,000 tabs from the shell still go up (U7);
#  5. a logout command from the other device signs this one out (status says so at once).
set -u
S15_SYMS="DS_ACCOUNT DS_REMOTE_SYNC15 DS_ENGINE_TABS DS_ENGINE_CLIENTS DS_IPC"
. "$DS_SRC/test/integration/sync15_common.inc"

# The other client writes cleartext records (a JSON list) into a collection, encrypted.
other_put() { # COLL JSON_LIST
	PYTHONPATH="$S/test/integration" "$PY" -c '
import json, sys
import sync15_helper as h
node, uid, ksync, coll, recs = sys.argv[1:6]
kb = h.coll_bundle(node, uid, ksync, coll)
h.seed(node, uid, coll, [{"id": r["id"], "payload": h.encrypt(kb, r)} for r in json.loads(recs)])
' "$N0" "$UID_" "$KSYNC" "$1" "$2" || fail "the other client could not write $1"
}

s15_stack 1
s15_account "tabs@example.org" "tabs and clients $$"
s15_ksync
s15_conf a "Living room" 0
ctl() { s15_ctl a "$@"; }
sync_ok() { # NAME
	ctl sync "$1" --wait >"$T/out" 2>&1 || fail "sync of $1 failed"
	grep -q "^$1: ok" "$T/out" || fail "sync of $1: $(cat "$T/out")"
}
records() { "$PY" "$H" records "$N0" "$UID_" "$KSYNC" "$1"; }

start a
s15_login a
cat >"$T/clients.json" <<JSON
{"name":"clients","engine":{"kind":"clients"},"remote":{"kind":"sync15","collection":"clients"}}
JSON
cat >"$T/tabs.json" <<JSON
{"name":"tabs","engine":{"kind":"tabs"},"remote":{"kind":"sync15","collection":"tabs"}}
JSON
ok ctl register --json "$T/clients.json"
ok ctl register --json "$T/tabs.json"

# 1. Our tabs and our client record.
cat >"$T/mytabs.json" <<JSON
[{"title":"News","urlHistory":["https://news.example/","https://news.example/front"],"lastUsed":1700000100},
 {"title":"Settings","urlHistory":["about:preferences"],"lastUsed":1700000200},
 {"title":"Docs","url":"https://docs.example/","lastUsed":"1700000050.5","pinned":true}]
JSON
ok ctl tabs set "$T/mytabs.json"
grep -q "stored" "$T/out" || fail "tabs set: $(cat "$T/out")"
ok ctl tabs set - <"$T/mytabs.json"
grep -q "unchanged" "$T/out" || fail "the same tabs again: $(cat "$T/out")"
sync_ok clients
sync_ok tabs
UID_=$("$PY" "$H" uid "$TS") || fail "no storage user"
ctl --json status >"$T/st.json"
DEV=$(jget account device_id <"$T/st.json") || fail "no device id: $(cat "$T/st.json")"
records clients >"$T/recs"
grep "\"id\": \"$DEV\"" "$T/recs" >"$T/own" || fail "no client record for $DEV: $(cat "$T/recs")"
[ "$(jget fxaDeviceId <"$T/own")" = "$DEV" ] || fail "client record: $(cat "$T/own")"
[ "$(jget commands <"$T/own")" = "[]" ] || fail "client record commands: $(cat "$T/own")"
records tabs >"$T/recs"
grep "\"id\": \"$DEV\"" "$T/recs" >"$T/owntabs" || fail "no tabs record for $DEV: $(cat "$T/recs")"
[ "$(jget clientName <"$T/owntabs")" = "Living room" ] || fail "tabs record: $(cat "$T/owntabs")"
[ "$(jget tabs 0 title <"$T/owntabs")" = "News" ] || fail "tabs order: $(cat "$T/owntabs")"
[ "$(jget tabs 1 title <"$T/owntabs")" = "Docs" ] || fail "tabs: $(cat "$T/owntabs")"
grep -q "about:" "$T/owntabs" && fail "a local URL left the device: $(cat "$T/owntabs")"

# 2. Another client: its records, and commands for us.
other_put clients '[{"id":"otherdevice01","name":"Work laptop","type":"desktop","commands":[],
  "fxaDeviceId":"otherdevice01","protocols":["1.5"]}]'
other_put tabs '[{"id":"otherdevice01","clientName":"Work laptop","tabs":[{"title":"Bug 1",
  "urlHistory":["https://bugs.example/1"],"icon":null,"lastUsed":1700000300.25}]}]'
other_put clients "[{\"id\":\"$DEV\",\"name\":\"Living room\",\"type\":\"tv\",\"fxaDeviceId\":\"$DEV\",
  \"protocols\":[\"1.5\"],\"commands\":[{\"command\":\"wipeEngine\",\"args\":[\"tabs\"]},
  {\"command\":\"displayURI\",\"args\":[\"https://sent.example/\",\"otherdevice01\",\"Sent page\"]},
  {\"command\":\"frobnicate\",\"args\":[\"x\"]}]}]"

# 3. Applied on our next clients run.
sync_ok clients
ok ctl events
grep -q "https://sent.example/" "$T/out" || fail "no tab-received event: $(cat "$T/out")"
grep -q "Work laptop" "$T/out" || fail "the event lacks its sender: $(cat "$T/out")"
records clients | grep "\"id\": \"$DEV\"" >"$T/own"
[ "$(jget commands 0 command <"$T/own")" = "frobnicate" ] || fail "unknown command not kept: $(cat "$T/own")"
[ "$(jget commands <"$T/own" | grep -c command)" -ge 1 ] || fail "commands: $(cat "$T/own")"
grep -q "wipeEngine\|displayURI" "$T/own" && fail "applied commands still in our record: $(cat "$T/own")"
grep -q "wiped and reset" "$T/a.log" || fail "the tabs collection was not wiped and reset"
ok ctl clients
grep -q "Work laptop (desktop)" "$T/out" || fail "clients: $(cat "$T/out")"
# Sending a command to the other device: added to its record, once.
ok ctl clients send otherdevice01 displayURI https://from-tv.example/ "$DEV" "From the TV"
ok ctl clients send otherdevice01 displayURI https://from-tv.example/ "$DEV" "From the TV"
refused ctl clients send nosuchdevice displayURI https://x/
sync_ok clients
records clients | grep '"id": "otherdevice01"' >"$T/other"
n=$(jget commands <"$T/other" | "$PY" -c '
import json, sys
print(sum(1 for c in json.load(sys.stdin) if "https://from-tv.example/" in (c.get("args") or [])))')
[ "$n" = 1 ] || fail "command not sent once: $(cat "$T/other")"
[ "$(jget commands 0 command <"$T/other")" = displayURI ] || fail "sent command: $(cat "$T/other")"
sync_ok tabs
ok ctl tabs list
grep -q "Work laptop" "$T/out" || fail "tabs list: $(cat "$T/out")"
grep -q "https://bugs.example/1" "$T/out" || fail "tabs list: $(cat "$T/out")"
ok ctl --json tabs list
[ "$(jget clients 0 tabs 0 lastUsed <"$T/out")" = 1700000300 ] || fail "lastUsed: $(cat "$T/out")"
# Our own tabs went up again after the reset, unchanged.
records tabs | grep "\"id\": \"$DEV\"" | jget tabs 0 title | grep -qx News || fail "our tabs after the reset"

# 4. U7: 5,000 tabs from the shell still go up, the newest ones, within the request and payload
#    limits.
"$PY" -c '
import json
print(json.dumps([{"title": "Tab %d" % i, "urlHistory": ["https://many.example/%d/a/longer/path" % i],
                   "lastUsed": 1700001000 + i} for i in range(5000)]))' >"$T/many.json"
ok ctl tabs set "$T/many.json"
grep -q "stored" "$T/out" || fail "5,000 tabs: $(cat "$T/out")"
sync_ok tabs
records tabs | grep "\"id\": \"$DEV\"" >"$T/owntabs"
[ "$(jget tabs 0 title <"$T/owntabs")" = "Tab 4999" ] || fail "the newest tab is not first"
n=$(jget tabs <"$T/owntabs" | "$PY" -c 'import json, sys; print(len(json.load(sys.stdin)))')
[ "$n" -gt 100 ] && [ "$n" -lt 5000 ] || fail "5,000 tabs: $n in the record"

# 5. A logout command from another device: the account's secrets leave this device and status
#    says so at once, not after a restart.
other_put clients "[{\"id\":\"$DEV\",\"name\":\"Living room\",\"type\":\"tv\",\"fxaDeviceId\":\"$DEV\",
  \"protocols\":[\"1.5\"],\"commands\":[{\"command\":\"logout\",\"args\":[]}]}]"
ctl sync clients --wait >"$T/out" 2>&1 || true
ctl --json status >"$T/st.json" || fail "status after logout: $(cat "$T/st.json")"
[ "$(jget account state <"$T/st.json")" = signed-out ] || fail "still signed in after a logout command: $(cat "$T/st.json")"
ctl sync tabs --wait >"$T/out" 2>&1 && fail "a sync after the logout command succeeded: $(cat "$T/out")"
echo "tabs_daemon: ok"
