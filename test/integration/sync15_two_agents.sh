#!/bin/sh
# Two devices on one fresh Firefox Account through datasyncd/datasyncctl, on the test stack
# (test/servers/stack.py: FxA + tokenserver + two storage nodes), and what other clients do to
# the account (sync15.md §4, §11, §12; docs/sync15-acceptance.md). Another client is
# test/integration/sync15_helper.py: independent format-5 code, Hawk-signed requests.
#
#  1. A creates the Sync user (meta/global + crypto/keys), B signs in and reads what A wrote
#     without setting anything up again.
#  2. U6: another client rotates crypto/keys; both re-read them (and never replace them).
#  3. U5: another client declines an engine and adds one unknown to us; a device adding its
#     own collection keeps both, "engines" and "declined" stay disjoint; enabling takes an
#     engine out of "declined" into "engines".
#  4. AT-14: storage version 6: nothing written by either device, "upgrade datasync" in status.
#  5. A third client wipes the server: both refuse ("local data kept"), a reset on each uploads
#     and reads everything again.
#  6. AT-14: meta/global deleted by another client: one fresh start (DELETE, meta/global and
#     crypto/keys PUT with X-If-Unmodified-Since: 0), then both in step.
#  7. AT-14 / U10: meta/global missing on every read (a client racing us): one fresh start in
#     the run, then the loop guard stops it ("setup race"); no second wipe.
#  8. AT-06: the account moves to the second node: both end in step there.
# After each, both devices sync, hold the same rows, the server holds exactly those rows
# (decrypted with the current keys) and meta/global is consistent: "in step".
set -u
S15_SQLITE=1 S15_SYMS="DS_ACCOUNT DS_REMOTE_SYNC15 DS_ENGINE_TABLE DS_IPC"
. "$DS_SRC/test/integration/sync15_common.inc"
S15_TAIL=30
STEP=setup

s15_stack 2
NODE=$N0
s15_account "two-agents@example.org" "two agents $$"
s15_ksync

for d in a b; do
	s15_table_device "$d"
done
rows() { sqlite3 -cmd ".timeout 5000" "$T/$1.db" "SELECT guid, title, n FROM notes ORDER BY guid"; }
records() { "$PY" "$H" records "$NODE" "$UID_" "$KSYNC" "$1"; }
meta() { "$PY" "$H" meta "$NODE" "$UID_"; }
seq() { "$PY" "$H" seq "$NODE"; }
writes() { "$PY" "$H" writes "$NODE" "$1"; }
# meta/global as the protocol wants it: version 5, every default engine of AS in "engines" or
# "declined", no engine in both (DOCS: engines wins, but a writer must not leave both).
meta_consistent() {
	meta >"$T/meta.json"
	"$PY" - "$T/meta.json" <<'EOF' || fail "meta/global inconsistent: $(cat "$T/meta.json")"
import json, sys
m = json.load(open(sys.argv[1]))
assert m["storageVersion"] == 5, m
eng, dec = set(m["engines"]), set(m.get("declined", []))
assert not eng & dec, eng & dec
for e in ("passwords", "clients", "addons", "addresses", "bookmarks", "creditcards", "forms",
          "history", "prefs", "tabs"):
    assert e in eng | dec, e
for e, v in m["engines"].items():
    assert isinstance(v.get("syncID"), str) and len(v["syncID"]) == 12, (e, v)
EOF
}
# Both devices synced, the same rows on both, exactly those rows on the server.
in_step() {
	sync_ok a; sync_ok b; sync_ok a
	rows a >"$T/rows.a"; rows b >"$T/rows.b"
	cmp -s "$T/rows.a" "$T/rows.b" || { diff "$T/rows.a" "$T/rows.b"; fail "the devices differ"; }
	records notes >"$T/recs" || fail "the server's records do not decrypt with the account's keys"
	"$PY" - "$T/recs" "$T/rows.a" <<'EOF' || fail "server records differ from the rows: $(cat "$T/recs")"
import json, sys
srv = sorted("%s|%s|%s" % (r["guid"], r["title"], r["n"]) for r in map(json.loads, open(sys.argv[1]))
             if not r.get("deleted"))
loc = sorted(l.strip() for l in open(sys.argv[2]) if l.strip())
assert srv == loc, (srv, loc)
EOF
	meta_consistent
}
# Run a sync that must be refused because the account's data was replaced; local rows kept;
# then "datasyncctl reset" and a sync that uploads or reads everything.
refused_then_reset() { # DEVICE
	n=$(rows "$1" | wc -l)
	refused ctl "$1" sync notes --wait
	grep -q "remote was wiped or replaced; local data kept" "$T/out" || fail "$1: message: $(cat "$T/out")"
	[ "$(rows "$1" | wc -l)" -eq "$n" ] || fail "$1 lost rows"
	ok ctl "$1" reset notes
	sync_ok "$1"
}

# ---- 1. a fresh account: A creates the Sync user, B reads what A wrote -----------------------
STEP="1 fresh account"
start a
s15_login a
sqlite3 "$T/a.db" "INSERT INTO notes VALUES ('n1', 'first', 1), ('n2', 'second', 2), ('n3', 'third', 3);"
ok ctl a register --json "$T/a.reg.json"
sync_ok a "uploaded 3"
UID_=$("$PY" "$H" uid "$TS") || fail "no storage user"
meta_consistent
SYNCID=$(meta | jget syncID)
[ "$(records notes | wc -l)" -eq 3 ] || fail "A's rows not on the server"
start b
s15_login b
ok ctl b register --json "$T/b.reg.json"
S0=$(seq)
sync_ok b "fetched 3" "applied 3"
writes "$S0" | grep -E "^(DELETE|PUT) .*(/1\.5/$UID_(/storage)?|storage/meta/global|storage/crypto/keys) " &&
	fail "B set the account up again"
[ "$(meta | jget syncID)" = "$SYNCID" ] || fail "B changed the global syncID"
in_step

# ---- 2. U6: keys rotated by another client ----------------------------------------------------
STEP="2 keys rotated (U6)"
"$PY" "$H" rotate "$NODE" "$UID_" "$KSYNC" notes || fail "rotating the keys"
S0=$(seq)
sqlite3 "$T/b.db" "UPDATE notes SET n = 20 WHERE guid = 'n2';"
sync_ok b "errors 0" "uploaded 1"
sync_ok a "errors 0" "applied"
in_step
writes "$S0" | grep "storage/crypto/keys" && fail "a device replaced the rotated keys"
grep -q '|20$' "$T/rows.a" || fail "B's edit under the new keys did not reach A"

# ---- 3. U5: an engine declined and an unknown engine added by another client -----------------
STEP="3 declined engine (U5)"
meta >"$T/meta.json"
"$PY" - "$T/meta.json" >"$T/meta.edit" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["engines"].pop("forms", None)
m["declined"] = sorted(set(m.get("declined", [])) | {"forms"})
m["engines"]["futureengine"] = {"version": 9, "syncID": "futureSync01"}
m["futureTopLevel"] = {"kept": True}
print(json.dumps(m))
EOF
"$PY" "$H" put-meta "$NODE" "$UID_" "$(cat "$T/meta.edit")"
# A adds a collection of its own: meta/global gets its entry, the rest untouched.
s15_reg "$T/a.memos.json" "$T/a.db" memos dsmemos
sqlite3 "$T/a.db" "INSERT INTO memos VALUES ('m1', 'memo');"
ok ctl a register --json "$T/a.memos.json"
ok ctl a sync memos --wait
meta >"$T/meta.json"
"$PY" - "$T/meta.json" "$SYNCID" <<'EOF' || fail "meta/global after A's fix-up: $(cat "$T/meta.json")"
import json, sys
m = json.load(open(sys.argv[1]))
assert m["syncID"] == sys.argv[2]
assert m["engines"]["futureengine"] == {"version": 9, "syncID": "futureSync01"}, m["engines"]
assert m["futureTopLevel"] == {"kept": True}
assert "forms" in m["declined"] and "forms" not in m["engines"]
assert "dsmemos" in m["engines"] and "dsmemos" not in m["declined"]
EOF
# B: a collection on the declined engine is refused, nothing written to it ...
s15_reg "$T/b.forms.json" "$T/b.db" memos forms
sqlite3 "$T/b.db" "INSERT INTO memos VALUES ('m2', 'not for the server');"
ok ctl b register --json "$T/b.forms.json"
refused ctl b sync memos --wait
grep -q "declined on this account" "$T/out" || fail "declined message: $(cat "$T/out")"
status_has b "declined on this account"
records forms | grep -q . && fail "a declined engine was written"
in_step
# ... until the person enables it there: out of "declined", into "engines".
ok ctl b unregister memos
s15_reg "$T/b.forms.json" "$T/b.db" memos forms '"enable":true'
ok ctl b register --json "$T/b.forms.json"
ok ctl b sync memos --wait
meta >"$T/meta.json"
"$PY" - "$T/meta.json" <<'EOF' || fail "meta/global after enabling forms: $(cat "$T/meta.json")"
import json, sys
m = json.load(open(sys.argv[1]))
assert "forms" in m["engines"] and "forms" not in m.get("declined", []), m
assert m["engines"]["futureengine"] == {"version": 9, "syncID": "futureSync01"}
assert "dsmemos" in m["engines"]
EOF
records forms | grep -q "not for the server" || fail "the enabled engine's record is missing"
ok ctl a unregister memos
ok ctl b unregister memos
in_step

# ---- 4. AT-14: storage version 6 ---------------------------------------------------------------
STEP="4 storage version 6"
meta >"$T/meta.ok"
"$PY" -c 'import json,sys; m=json.load(open(sys.argv[1])); m["storageVersion"]=6; print(json.dumps(m))' "$T/meta.ok" >"$T/meta.v6"
"$PY" "$H" put-meta "$NODE" "$UID_" "$(cat "$T/meta.v6")"
sqlite3 "$T/a.db" "UPDATE notes SET n = 11 WHERE guid = 'n1';"
sqlite3 "$T/b.db" "UPDATE notes SET n = 33 WHERE guid = 'n3';"
S0=$(seq)
for d in a b; do
	refused ctl $d sync notes --wait
	grep -q "upgrade datasync" "$T/out" || fail "$d: storage version 6 message: $(cat "$T/out")"
	status_has $d "upgrade datasync"
done
[ -z "$(writes "$S0")" ] || fail "writes under storage version 6: $(writes "$S0")"
"$PY" "$H" put-meta "$NODE" "$UID_" "$(cat "$T/meta.ok")"
in_step
grep -q '^n1|first|11$' "$T/rows.b" && grep -q '^n3|third|33$' "$T/rows.a" || fail "edits held back by version 6 lost"

# ---- 5. the server wiped by a third client ---------------------------------------------------
STEP="5 wiped by another client"
"$PY" "$H" delete "$NODE" "$UID_" "" >/dev/null || fail "the third client's wipe"
[ -z "$(meta)" ] || fail "the wipe left meta/global"
refused_then_reset a
refused_then_reset b
in_step
[ "$(records notes | wc -l)" -eq 3 ] || fail "rows after the wipe: $(records notes)"

# ---- 6. AT-14: meta/global deleted by another client -> one fresh start -----------------------
STEP="6 meta/global missing"
SYNCID=$(meta | jget syncID)
"$PY" "$H" delete "$NODE" "$UID_" "storage/meta/global" >/dev/null || fail "deleting meta/global"
S0=$(seq)
# A's run makes the fresh start; its own collection then meets a new syncID and is refused like
# a wipe (the core never resets a collection on its own at the same node: docs/sync15-acceptance.md)
refused ctl a sync notes --wait
grep -q "remote was wiped or replaced; local data kept" "$T/out" || fail "A after its fresh start: $(cat "$T/out")"
"$PY" - "$NODE" "$S0" <<'EOF' || fail "fresh start: $("$PY" "$H" writes "$NODE" "$S0")"
import json, sys, urllib.request
log = json.load(urllib.request.urlopen("%s/__testing__/log?since=%s" % (sys.argv[1], sys.argv[2])))
w = [(e["method"], e["target"].split("/", 3)[-1], e.get("X-If-Unmodified-Since")) for e in log
     if e["method"] in ("PUT", "POST", "DELETE")]
dels = [x for x in w if x[0] == "DELETE"]
assert len(dels) == 1, w
assert ("PUT", "storage/meta/global", "0") in w, w
assert ("PUT", "storage/crypto/keys", "0") in w, w
EOF
[ "$(meta | jget syncID)" != "$SYNCID" ] || fail "no new syncID after the fresh start"
ok ctl a reset notes
sync_ok a "uploaded 3"
refused_then_reset b
in_step

# ---- 7. AT-14 / U10: meta/global missing on every read: the loop guard -------------------------
STEP="7 loop guard"
"$PY" "$H" delete "$NODE" "$UID_" "storage/meta/global" >/dev/null || fail "deleting meta/global"
post "$NODE/__testing__/inject" '{"status":404,"body":"0","method":"GET","path":"/storage/meta/global$","count":-1}' >/dev/null
S0=$(seq)
refused ctl a sync notes --wait
grep -q "setup race\|kept changing" "$T/out" || fail "loop guard message: $(cat "$T/out")"
[ "$(writes "$S0" | grep -c '^DELETE ')" -eq 1 ] || fail "wipes in one run: $(writes "$S0")"
delete "$NODE/__testing__/inject"
[ "$(rows a | wc -l)" -eq 3 ] || fail "A lost rows to the setup race"
refused_then_reset a
refused_then_reset b
in_step

# ---- 8. AT-06: node reassignment ---------------------------------------------------------------
STEP="8 node reassignment"
post "$TS/__testing__/config" "{\"node\":\"$N1\"}" >/dev/null
post "$N0/__testing__/inject" '{"status":401,"count":-1}' >/dev/null
sqlite3 "$T/a.db" "INSERT INTO notes VALUES ('n5', 'after the move', 5);"
for d in a b; do
	ctl "$d" sync notes --wait >"$T/out" 2>&1 || sync_ok "$d"
done
NODE=$N1
in_step
[ "$(rows b | wc -l)" -eq 4 ] || fail "rows after the move: $(rows b)"

STEP=end
stop a
stop b
s15_secrets_not_logged
echo "sync15_two_agents: ok"
