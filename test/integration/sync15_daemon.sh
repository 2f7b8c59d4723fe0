#!/bin/sh
# Firefox Sync 1.5 inside datasyncd with the signed-in account, end to end on the test stack
# (test/servers/stack.py: FxA + tokenserver + two storage nodes): the worker thread gets its
# credentials from the sealed account (OAuth token for the oldsync scope -> tokenserver ->
# Hawk at the storage node) and the daemon's configured servers.
#
# Daemon A signs in to a fresh account and syncs a table collection: it creates the Sync user
# (meta/global, crypto/keys) and writes its client record before the collection's records.
# Daemon B signs in to the same account and reads what A wrote; edits both ways converge. Then:
# keys rotated by another client (records re-read), a declined engine stays declined, the
# storage version 6 and a hard end-of-life reach 'datasyncctl status' in the server's words, a
# node reassignment ends with both devices in step at the new node, and a wiped server is
# refused with local data kept until 'datasyncctl reset' uploads it again.
#
# Table -> Sync record mapping used here (the table engine's, docs/engine-table.md): the BSO id
# is the engine's record id (base64url of the JSON key array), the cleartext is the row as a
# JSON object of its columns plus "id" (docs/remote-sync15.md, "Runs").
set -u
S15_SQLITE=1 S15_SYMS="DS_ACCOUNT DS_REMOTE_SYNC15 DS_ENGINE_TABLE DS_IPC"
. "$DS_SRC/test/integration/sync15_common.inc"

# 1. The stack and a fresh account.
s15_stack 2
s15_account "living-room@example.org" "correct horse $$"
s15_ksync

# 2. Two devices, each its own daemon, folders and app database.
for d in a b; do
	s15_table_device "$d"
	s15_reg "$T/$d.memos.json" "$T/$d.db" memos forms
done
rows() { sqlite3 "$T/$1.db" "SELECT guid, title, n FROM notes ORDER BY guid"; }
same() {
	rows a >"$T/rows.a"; rows b >"$T/rows.b"
	cmp -s "$T/rows.a" "$T/rows.b" || { diff "$T/rows.a" "$T/rows.b"; fail "the devices differ ($*)"; }
}
records() { "$PY" "$H" records "$1" "$UID_" "$KSYNC" "$2"; }

start a
s15_login a
sqlite3 "$T/a.db" "INSERT INTO notes VALUES ('n1', 'first', 1), ('n2', 'second', 2), ('n3', 'third', 3);"
ok ctl a register --json "$T/a.reg.json"

# 3. A fresh account: A creates the Sync user, then uploads its rows.
sync_ok a "uploaded 3"
UID_=$("$PY" "$H" uid "$TS") || fail "no storage user"
"$PY" "$H" meta "$N0" "$UID_" >"$T/meta.json"
[ "$(jget storageVersion <"$T/meta.json")" = 5 ] || fail "meta/global: $(cat "$T/meta.json")"
jget engines notes syncID <"$T/meta.json" >/dev/null 2>&1 || fail "notes not in meta/global"
jget engines bookmarks version <"$T/meta.json" | grep -qx 2 || fail "default engines missing"
records "$N0" notes >"$T/recs" || fail "the records do not decrypt with kSync's keys"
[ "$(wc -l <"$T/recs")" -eq 3 ] || fail "server records: $(cat "$T/recs")"
grep -q '"title": "second"' "$T/recs" || fail "row content not on the server: $(cat "$T/recs")"
grep -q "second" "$T/a/data/datasync.db" 2>/dev/null && fail "row content in the daemon's store"

# 4. The client record (id = FxA device id), written before the collection's records.
ctl a --json status >"$T/st.json"
DEV_A=$(jget account device_id <"$T/st.json") || fail "no device id: $(cat "$T/st.json")"
records "$N0" clients >"$T/clients"
grep -q "\"id\": \"$DEV_A\"" "$T/clients" || fail "no client record for $DEV_A: $(cat "$T/clients")"
grep "\"id\": \"$DEV_A\"" "$T/clients" | jget protocols 0 | grep -qx 1.5 || fail "client protocols"
grep "\"id\": \"$DEV_A\"" "$T/clients" | jget name | grep -qx "Device a" || fail "client name"
grep "\"id\": \"$DEV_A\"" "$T/clients" | jget type | grep -Eqx "mobile|tv" || fail "client type"
grep "\"id\": \"$DEV_A\"" "$T/clients" | jget fxaDeviceId | grep -qx "$DEV_A" || fail "client fxaDeviceId"
"$PY" -c '
import json, sys, urllib.request
log = json.load(urllib.request.urlopen(sys.argv[1] + "/__testing__/log"))
log = log.get("entries", log) if isinstance(log, dict) else log
writes = [e["method"] + " " + e["target"].split("?")[0].split("/", 3)[3] for e in log
          if e["method"] in ("PUT", "POST") and "/storage/" in e["target"]]
data = [i for i, w in enumerate(writes) if "storage/notes" in w]
cl = [i for i, w in enumerate(writes) if "storage/clients/" in w]
assert cl and data and cl[0] < data[0], writes
' "$N0" || fail "the client record was not written before the collection's records"

# 5. Device B signs in to the same account and reads what A wrote.
start b
s15_login b
ok ctl b register --json "$T/b.reg.json"
sync_ok b "fetched 3" "applied 3"
same "B's first sync"
records "$N0" clients | grep -c '"protocols"' | grep -qx 2 || fail "B's client record missing"

# 6. Edits both ways converge.
sqlite3 "$T/a.db" "UPDATE notes SET title = 'first, edited on A' WHERE guid = 'n1';"
sqlite3 "$T/b.db" "INSERT INTO notes VALUES ('n4', 'from B', 4); DELETE FROM notes WHERE guid = 'n2';"
sync_ok a "uploaded 1"
sync_ok b "applied 1" "uploaded 2"
sync_ok a "applied 2"
same "edits both ways"
[ "$(sqlite3 "$T/a.db" "SELECT count(*) FROM notes")" -eq 3 ] || fail "A: $(rows a)"

# 7. Another client rotates the keys (new crypto/keys, records re-encrypted): both re-read them.
"$PY" "$H" rotate "$N0" "$UID_" "$KSYNC" notes || fail "rotating the keys"
sqlite3 "$T/b.db" "UPDATE notes SET n = 40 WHERE guid = 'n4';"
sync_ok b "errors 0" "uploaded 1"
sync_ok a "fetched 4" "errors 0"  # every re-encrypted record is read again
same "after the key rotation"
records "$N0" notes >"$T/recs" || fail "records not under the new keys"
grep -q '"n": 40' "$T/recs" || fail "B's edit not on the server: $(cat "$T/recs")"

# 8. A declined engine stays declined: nothing written to it, nobody takes it out of declined.
"$PY" "$H" meta "$N0" "$UID_" >"$T/meta.json"
"$PY" - "$T/meta.json" >"$T/meta.declined" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["engines"].pop("forms", None)
m["declined"] = sorted(set(m.get("declined", [])) | {"forms"})
print(json.dumps(m))
EOF
"$PY" "$H" put-meta "$N0" "$UID_" "$(cat "$T/meta.declined")"
sqlite3 "$T/a.db" "INSERT INTO memos VALUES ('m1', 'not for the server');"
ok ctl a register --json "$T/a.memos.json"
refused ctl a sync memos --wait
grep -q "declined on this account" "$T/out" || fail "declined message: $(cat "$T/out")"
status_has a "declined on this account"
sync_ok a
"$PY" "$H" meta "$N0" "$UID_" | jget declined | grep -q '"forms"' || fail "forms left declined"
records "$N0" forms | grep -q . && fail "a declined engine was written"
ok ctl a unregister memos

# 9. Storage version 6: nothing is written; the message tells to upgrade, in status too.
"$PY" "$H" meta "$N0" "$UID_" >"$T/meta.ok"
"$PY" - "$T/meta.ok" >"$T/meta.v6" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1])); m["storageVersion"] = 6; print(json.dumps(m))
EOF
"$PY" "$H" put-meta "$N0" "$UID_" "$(cat "$T/meta.v6")"
sqlite3 "$T/a.db" "UPDATE notes SET n = 11 WHERE guid = 'n1';"
refused ctl a sync notes --wait
grep -q "upgrade datasync" "$T/out" || fail "storage version 6 message: $(cat "$T/out")"
status_has a "upgrade datasync"
"$PY" "$H" meta "$N0" "$UID_" | jget storageVersion | grep -qx 6 || fail "meta/global was rewritten"
"$PY" "$H" put-meta "$N0" "$UID_" "$(cat "$T/meta.ok")"
sync_ok a "uploaded 1"

# 10. Hard end of life (513 with an X-Weave-Alert): the server's words in status.
post "$N0/__testing__/inject" '{"status":513,"alert":{"code":"hard-eol","message":"this service has closed","url":"https://example.org/eol"},"count":-1}' >/dev/null
refused ctl b sync notes --wait
status_has b "this service has closed"
delete "$N0/__testing__/inject"
sync_ok b "applied 1"
same "after the end-of-life alert"

# 11. Node reassignment: the tokenserver moves the user to node 1, node 0 refuses the old
# token. Each device resets the collection's sync state (local data kept) and syncs there.
post "$TS/__testing__/config" "{\"node\":\"$N1\"}" >/dev/null
post "$N0/__testing__/inject" '{"status":401,"count":-1}' >/dev/null
sqlite3 "$T/a.db" "INSERT INTO notes VALUES ('n5', 'after the move', 5);"
for d in a b; do
	ctl "$d" sync notes --wait >"$T/out" 2>&1 || sync_ok "$d"
	grep -q "^notes: ok" "$T/out" || fail "sync of $d after the move: $(cat "$T/out")"
done
sync_ok a
same "after the node reassignment"
[ "$(rows a | wc -l)" -eq 4 ] || fail "rows after the move: $(rows a)"
records "$N1" notes >"$T/recs" || fail "no records at the new node"
[ "$(wc -l <"$T/recs")" -eq 4 ] || fail "new node records: $(cat "$T/recs")"
records "$N1" clients | grep -c '"protocols"' | grep -qx 2 || fail "client records at the new node"

# 12. A wiped server: refused with the clear message, local data kept; reset uploads it again.
post "$N1/__testing__/reset" '{}' >/dev/null
for d in a b; do
	refused ctl "$d" sync notes --wait
	grep -q "remote was wiped or replaced; local data kept" "$T/out" || fail "$d: wipe message: $(cat "$T/out")"
	[ "$(rows "$d" | wc -l)" -eq 4 ] || fail "$d lost rows to the wipe"
done
ok ctl a reset notes
sync_ok a "uploaded 4"
ok ctl b reset notes
sync_ok b "fetched 4"
sqlite3 "$T/b.db" "UPDATE notes SET title = 'after the wipe' WHERE guid = 'n3';"
sync_ok b "uploaded 1"
sync_ok a "applied 1"
same "after the wipe and reset"
[ "$(records "$N1" notes | wc -l)" -eq 4 ] || fail "records after the reset"

stop a
stop b
s15_secrets_not_logged
echo "sync15_daemon: ok"
