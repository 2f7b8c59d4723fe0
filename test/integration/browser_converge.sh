#!/bin/sh
# Browser data in every collection: two devices (datasyncd A and B, each with its own Firefox-like
# profile) and a desktop-like writer (test/integration/browser_writer.py: independent format 5
# code, Hawk-signed POSTs) on one account of the test stack (test/servers/stack.py) converge on
# a mix of edits, moves and deletes.
#
#  1. A and B sign in; each registers history, bookmarks, passwords, forms, prefs, addons, tabs
#     and clients over its profile (places.sqlite, formhistory.sqlite, logins.sqlite,
#     prefs.sqlite, addons.sqlite; the engines' documented schemas and test/data/firefox).
#  2. A holds data in every collection; the writer puts desktop's records on the server
#     (test/data/browser/desktop.json): a bookmark folder with a separator, history with visits,
#     a login with a {uuid} id, form entries, the prefs record, add-ons, its tabs and client.
#  3. A, B, A sync (then again until quiet): every device holds the union.
#  4. A renames a bookmark and moves another to the writer's folder; B deletes a bookmark of that
#     folder and adds a password; the writer deletes a history page, changes a pref and a form
#     entry; and more edits and deletes around them (passwords, forms, add-ons, a bookmark renamed
#     on B then by the writer). Everyone syncs twice; the server's records (decrypted by the
#     writer) and each device's databases agree in every collection, nothing twice (U1), nothing
#     deleted back (U2).
#  5. One more round uploads nothing (the node's write log).
# "agree" compares one canonical line per item (browser_writer.py views) with cmp. A check that
# does not hold is reported with its step and collection and the run goes on; it fails at the
# end. Logins are saved as the app's API stores them (docs/engine-passwords.md, "Encryption
# format": sealed with the store's key from the device's secret folder): datasyncctl has no
# command for them.
set -u
S15_SQLITE=1 S15_SYMS="DS_ACCOUNT DS_REMOTE_SYNC15 DS_IPC DS_ENGINE_HISTORY DS_ENGINE_BOOKMARKS
	DS_ENGINE_PASSWORDS DS_ENGINE_FORMS DS_ENGINE_PREFS DS_ENGINE_ADDONS DS_ENGINE_TABS
	DS_ENGINE_CLIENTS"
. "$DS_SRC/test/integration/sync15_common.inc"
S15_TAIL=30
STEP=setup
W="$S/test/integration/browser_writer.py"
COLLS="clients history bookmarks passwords forms prefs addons tabs"
KINDS="history bookmarks passwords forms prefs addons"
ALLOW="browser.startup.homepage,general.smoothScroll,browser.tabs.max"

# A convergence check that does not hold: reported, and the scenario goes on so that every
# collection is judged; the script fails at the end.
finding() {
	echo "FAIL [$STEP]: $*" | tee -a "$T/findings"
}

s15_stack 1
NODE=$N0
s15_account "browser-converge@example.org" "browser data $$"
s15_ksync

# ---- 1. two devices, their profiles and registrations ------------------------------------------
for d in a b; do
	P="$T/$d/profile"
	"$PY" "$W" profile "$P" "$d" || fail "building profile $d"
	s15_conf "$d" "Device $d" 0
	s15() { printf '"remote":{"kind":"sync15","collection":"%s","engine_version":%s}' "$1" "$2"; }
	cat >"$T/$d.regs" <<JSON
{"name":"clients","engine":{"kind":"clients"},$(s15 clients 1)}
{"name":"history","engine":{"kind":"history","places":"$P/places.sqlite"},$(s15 history 1),"conflict":"merge"}
{"name":"bookmarks","engine":{"kind":"bookmarks","places":"$P/places.sqlite"},$(s15 bookmarks 2)}
{"name":"passwords","engine":{"kind":"passwords","logins":"$P/logins.sqlite"},$(s15 passwords 1),"conflict":"merge"}
{"name":"forms","engine":{"kind":"forms","formhistory":"$P/formhistory.sqlite"},$(s15 forms 1),"conflict":"newest-wins"}
{"name":"prefs","engine":{"kind":"prefs","prefs":"$P/prefs.sqlite","allow":["browser.startup.homepage","general.smoothScroll","browser.tabs.max"]},$(s15 prefs 2),"conflict":"merge"}
{"name":"addons","engine":{"kind":"addons","addons":"$P/addons.sqlite"},$(s15 addons 1),"conflict":"newest-wins"}
{"name":"tabs","engine":{"kind":"tabs"},$(s15 tabs 1)}
JSON
done
register_all() {
	while IFS= read -r line; do
		printf '%s\n' "$line" >"$T/reg.json"
		ok ctl "$1" register --json "$T/reg.json"
	done <"$T/$1.regs"
}
# Every collection of a device (the daemon takes them in name order); each must end "ok".
sync_all() { # DEVICE
	ctl "$1" sync --wait >"$T/out" 2>&1 || fail "sync of $1 failed"
	cp "$T/out" "$T/last.$1"
	for c in $COLLS; do
		grep -q "^$c: ok" "$T/out" || fail "sync of $1, $c: $(grep "^$c:" "$T/out")"
	done
}
seq() { "$PY" "$H" seq "$NODE"; }
writes() { "$PY" "$H" writes "$NODE" "$1" | grep -v "__testing__"; }
# The three sides agree on every browser collection: one canonical line per item from the server
# (s, decrypted by the writer) and each device (a, b); an item twice is a U1 failure. The
# differences are reported per collection.
agree() {
	"$PY" "$W" views "$T" "$NODE" "$UID_" "$KSYNC" "$ALLOW" \
		a "$T/a/profile" "$T/a/secrets" b "$T/b/profile" "$T/b/secrets" || fail "reading the three sides"
	bad=
	for k in $KINDS; do
		for w in a b s; do
			[ -s "$T/$k.$w.err" ] && bad="$bad $k($w: $(cat "$T/$k.$w.err"))"
		done
		for w in a b; do
			cmp -s "$T/$k.$w" "$T/$k.s" || {
				echo "--- $k: server (<) vs device $w (>)"; diff "$T/$k.s" "$T/$k.$w"
				bad="$bad $k($w)"; }
		done
	done
	[ -z "$bad" ] || finding "the sides differ:$bad"
}
# Rounds of A then B until one writes nothing to the node (at most 4).
until_quiet() {
	n=0
	while :; do
		S0=$(seq); sync_all a; sync_all b
		writes "$S0" >"$T/writes"
		[ -s "$T/writes" ] || break
		n=$((n + 1)); [ $n -lt 4 ] || fail "still writing after 4 rounds: $(cat "$T/writes")"
	done
}
has() { # KIND LINE-REGEX: on the server (hence on both devices once they agree)
	grep -Eq -- "$2" "$T/$1.s" || finding "$1 lacks /$2/: $(cat "$T/$1.s")"
}
hasnt() {
	grep -Eq -- "$2" "$T/$1.s" && finding "$1 holds /$2/: $(cat "$T/$1.s")"
	true
}
# A device's view of the other devices (tabs list, clients list) holds IDs.
lists() { # DEVICE WHAT ID...
	d=$1; w=$2; shift 2
	ctl "$d" --json $w >"$T/out" 2>&1 || fail "$w on $d"
	for id in "$@"; do grep -q "\"$id\"" "$T/out" || finding "$w on $d lacks $id: $(cat "$T/out")"; done
}
# The collection's records on the server, by id.
ids() { "$PY" "$H" records "$NODE" "$UID_" "$KSYNC" "$1" |
	"$PY" -c 'import json, sys; [print(json.loads(l)["id"]) for l in sys.stdin if l.strip()]'; }

start a
start b
s15_login a
register_all a
printf '%s\n' '[{"title":"A tab","urlHistory":["https://tab.a.example/"],"lastUsed":1764550100}]' >"$T/tabs.a"
printf '%s\n' '[{"title":"B tab","urlHistory":["https://tab.b.example/"],"lastUsed":1764550200}]' >"$T/tabs.b"
ok ctl a tabs set "$T/tabs.a"

# ---- 2. seeds: A's data, then the writer's records ---------------------------------------------
STEP="2 seed"
sync_all a
UID_=$("$PY" "$H" uid "$TS") || fail "no storage user"
[ -f "$T/a/profile/logins.sqlite" ] || fail "logins.sqlite not created by the passwords engine"
"$PY" "$W" login-add "$T/a/profile/logins.sqlite" "$T/a/secrets" \
	'{"guid":"aLogin000001","origin":"https://login.a.example","username":"alice","password":"a secret"}' ||
	fail "saving A's login"
"$PY" "$W" seed "$NODE" "$UID_" "$KSYNC" "$S/test/data/browser/desktop.json" || fail "the writer's seed"
s15_login b
register_all b
ok ctl b tabs set "$T/tabs.b"

# ---- 3. A, B, A: the union everywhere ----------------------------------------------------------
STEP="3 union"
sync_all a; sync_all b; sync_all a
until_quiet
agree
has history '^placeAAAAAAA\|https://www.mozilla.org/\|Mozilla\|'
has history '^dtHist000001\|https://history.desktop.example/one\|'
has history '^placeCCCCCCC\|'
has bookmarks '^aFolder00001\|folder\|menu\|A folder\|aBmk00000001,aBmk00000002$'
has bookmarks '^dtFolder0001\|folder\|menu\|Desktop folder\|dtBmk0000001,dtSep0000001,dtBmk0000002$'
has bookmarks '^menu\|folder\|places\|\|(aFolder00001,dtFolder0001|dtFolder0001,aFolder00001)$'
has bookmarks '^dtSep0000001\|separator\|dtFolder0001'
has bookmarks '^aBmk00000003\|bookmark\|toolbar\|Three\|https://a.example/three$'
has passwords '^\{3f2b8c1e-7d4a-4b9e-a1c2-5e6f7a8b9c0d\}\|https://login.desktop.example\|desk-user\|desktop secret 1$'
has passwords '^aLogin000001\|https://login.a.example\|alice\|a secret$'
has forms '^formAAAAAAAA\|q\|datasync$'
has forms '^dtForm000001\|city\|Berlin$'
has prefs '^browser.startup.homepage\|"https://start.desktop.example/"$'
has prefs '^browser.tabs.max\|20$'
has addons '^dark-theme@example.org\|True$'
has addons '^reader@example.org\|False$'
hasnt addons 'vendor-tool'
# the writer's pref that no device syncs stays in the one record
"$PY" "$H" records "$NODE" "$UID_" "$KSYNC" prefs | grep '"layout.spellcheckDefault": 1' >/dev/null ||
	finding "the desktop's own pref was dropped from the prefs record"
"$PY" "$H" records "$NODE" "$UID_" "$KSYNC" prefs | grep "device.local.only" >/dev/null &&
	finding "a pref outside the allow-list left A"
ctl a --json status >"$T/st.a"; DEV_A=$(jget account device_id <"$T/st.a")
ctl b --json status >"$T/st.b"; DEV_B=$(jget account device_id <"$T/st.b")
ids clients | sort >"$T/clients.s"
for id in "$DEV_A" "$DEV_B" dEsKtOpWrItE; do grep -qx "$id" "$T/clients.s" || finding "client record $id missing"; done
ids tabs | sort >"$T/tabs.s"
for id in "$DEV_A" "$DEV_B" dEsKtOpWrItE; do grep -qx "$id" "$T/tabs.s" || finding "tabs record $id missing"; done
lists a clients "$DEV_B" dEsKtOpWrItE
lists b clients "$DEV_A" dEsKtOpWrItE
lists a "tabs list" "https://tab.b.example/" "https://tab.desktop.example/"
lists b "tabs list" "https://tab.a.example/" "https://tab.desktop.example/"

# ---- 4. a mix of edits, moves and deletes on all three sides ----------------------------------
STEP="4 mix"
# A: a title edited; the toolbar bookmark moved to the end of the writer's folder, positions kept
# contiguous as Firefox keeps them.
sqlite3 -cmd ".timeout 5000" "$T/a/profile/places.sqlite" "
UPDATE moz_bookmarks SET title = 'Two, renamed on A', lastModified = lastModified + 1
 WHERE guid = 'aBmk00000002';
UPDATE moz_bookmarks SET position = position - 1
 WHERE parent = (SELECT parent FROM moz_bookmarks WHERE guid = 'aBmk00000003')
   AND position > (SELECT position FROM moz_bookmarks WHERE guid = 'aBmk00000003');
UPDATE moz_bookmarks SET
 parent = (SELECT id FROM moz_bookmarks WHERE guid = 'dtFolder0001'),
 position = (SELECT count(*) FROM moz_bookmarks WHERE parent = (SELECT id FROM moz_bookmarks WHERE guid = 'dtFolder0001'))
 WHERE guid = 'aBmk00000003';" || fail "A's bookmark edits"
# B: a bookmark of the writer's folder deleted (Firefox's way: the row, the positions after it,
# the place's foreign_count); a password added.
sqlite3 -cmd ".timeout 5000" "$T/b/profile/places.sqlite" "
UPDATE moz_places SET foreign_count = foreign_count - 1
 WHERE id = (SELECT fk FROM moz_bookmarks WHERE guid = 'dtBmk0000002');
UPDATE moz_bookmarks SET position = position - 1
 WHERE parent = (SELECT parent FROM moz_bookmarks WHERE guid = 'dtBmk0000002')
   AND position > (SELECT position FROM moz_bookmarks WHERE guid = 'dtBmk0000002');
DELETE FROM moz_bookmarks WHERE guid = 'dtBmk0000002';" || fail "B's bookmark deletion"
# A conflict: B renames the writer's bookmark, then the writer renames it too (later: it wins).
sqlite3 -cmd ".timeout 5000" "$T/b/profile/places.sqlite" \
	"UPDATE moz_bookmarks SET title = 'News, renamed on B' WHERE guid = 'dtBmk0000001';" || fail "B's rename"
sleep 1
"$PY" "$W" put "$NODE" "$UID_" "$KSYNC" bookmarks '[{"id":"dtBmk0000001","type":"bookmark","parentid":"dtFolder0001",
  "parentName":"Desktop folder","title":"News, renamed on desktop","bmkUri":"https://news.desktop.example/",
  "tags":[],"dateAdded":1764400001000}]' || fail "the writer's rename"
"$PY" "$W" login-add "$T/b/profile/logins.sqlite" "$T/b/secrets" \
	'{"guid":"bLogin000001","origin":"https://login.b.example","username":"bob","password":"b secret"}' ||
	fail "saving B's login"
# The writer: a history page deleted (a tombstone), a pref changed, a form entry changed.
"$PY" "$W" put "$NODE" "$UID_" "$KSYNC" history '[{"id":"placeCCCCCCC","deleted":true}]' ||
	fail "the writer's history tombstone"
"$PY" "$W" set-pref "$NODE" "$UID_" "$KSYNC" "{ec8030f7-c20a-464f-9b0e-13a3a9e97384}" \
	browser.startup.homepage '"https://changed.desktop.example/"' || fail "the writer's pref"
"$PY" "$W" put "$NODE" "$UID_" "$KSYNC" forms '[{"id":"dtForm000001","name":"city","value":"Paris"}]' ||
	fail "the writer's form entry"
# More deletions: the writer deletes A's login, A deletes a form entry it had.
"$PY" "$W" put "$NODE" "$UID_" "$KSYNC" passwords '[{"id":"aLogin000001","deleted":true}]' ||
	fail "the writer's login tombstone"
sqlite3 -cmd ".timeout 5000" "$T/a/profile/formhistory.sqlite" \
	"DELETE FROM moz_formhistory WHERE guid = 'formBBBBBBBB';" || fail "A's form deletion"
# At the same time, not in conflict with the above: A changes another synced pref, B visits a
# page the writer visited (the visits are merged) and opens another tab.
sqlite3 -cmd ".timeout 5000" "$T/a/profile/prefs.sqlite" \
	"UPDATE prefs SET value = 30 WHERE name = 'browser.tabs.max';" || fail "A's pref"
sqlite3 -cmd ".timeout 5000" "$T/b/profile/places.sqlite" "
INSERT INTO moz_historyvisits (from_visit, place_id, visit_date, visit_type, session)
 SELECT 0, id, 1764560000000000, 2, 0 FROM moz_places WHERE guid = 'dtHist000002';
UPDATE moz_places SET visit_count = visit_count + 1, last_visit_date = 1764560000000000
 WHERE guid = 'dtHist000002';" || fail "B's visit"
# Add-ons: A's package manager disables its store item; B's installs an item another device has,
# under the guid of its install wish; the writer uninstalls one (a tombstone).
sqlite3 -cmd ".timeout 5000" "$T/a/profile/addons.sqlite" \
	"UPDATE addons SET enabled = 0 WHERE addonID = 'dark-theme@example.org';" || fail "A's add-on"
sqlite3 -cmd ".timeout 5000" "$T/b/profile/addons.sqlite" "
INSERT INTO addons SELECT guid, addonID, applicationID, enabled, source FROM addons_wanted
 WHERE addonID = 'uBlock0@raymondhill.net' AND wish = 'install';" || fail "B's add-on"
[ "$(sqlite3 "$T/b/profile/addons.sqlite" "SELECT guid FROM addons WHERE addonID = 'uBlock0@raymondhill.net'")" = dtAddon00001 ] ||
	fail "B had no install wish for the writer's add-on"
"$PY" "$W" put "$NODE" "$UID_" "$KSYNC" addons '[{"id":"dtAddon00002","deleted":true}]' ||
	fail "the writer's add-on tombstone"
printf '%s\n' '[{"title":"B tab 2","urlHistory":["https://tab2.b.example/"],"lastUsed":1764550300}]' >"$T/tabs.b"
ok ctl b tabs set "$T/tabs.b"
S0=$(seq)
for round in 1 2; do sync_all a; sync_all b; done
[ -n "$(writes "$S0")" ] || fail "no write reached the node in the mixed rounds"
agree
has bookmarks '^aBmk00000002\|bookmark\|aFolder00001\|Two, renamed on A\|https://a.example/two$'
has bookmarks '^dtFolder0001\|folder\|menu\|Desktop folder\|dtBmk0000001,dtSep0000001,aBmk00000003$'
has bookmarks '^aBmk00000003\|bookmark\|dtFolder0001\|Three\|'
has bookmarks '^toolbar\|folder\|places\|\|dtBmk0000003$'
hasnt bookmarks '^dtBmk0000002\|'     # U2: not resurrected by A's change of its folder
"$PY" "$H" records "$NODE" "$UID_" "$KSYNC" bookmarks | grep '"id": "dtBmk0000002".*' >/dev/null &&
	{ "$PY" "$H" records "$NODE" "$UID_" "$KSYNC" bookmarks | grep '"id": "dtBmk0000002"' | grep -q '"deleted": true' ||
		finding "dtBmk0000002 is on the server, not as a tombstone"; }
hasnt history '^placeCCCCCCC\|'
for d in a b; do
	[ "$(sqlite3 "$T/$d/profile/places.sqlite" "SELECT count(*) FROM moz_places WHERE url = 'https://example.com/b'")" -eq 0 ] ||
		finding "device $d still has the page the writer deleted"
done
has passwords '^bLogin000001\|https://login.b.example\|bob\|b secret$'
has prefs '^browser.startup.homepage\|"https://changed.desktop.example/"$'
has forms '^dtForm000001\|city\|Paris$'
hasnt forms 'Berlin'
has prefs '^browser.tabs.max\|30$'
hasnt passwords '^aLogin000001\|'
has bookmarks '^dtBmk0000001\|bookmark\|dtFolder0001\|News, renamed on desktop\|'
hasnt forms '^formBBBBBBBB\|'
has addons '^dark-theme@example.org\|False$'
has addons '^uBlock0@raymondhill.net\|True$'
hasnt addons 'reader@example.org'
for d in a b; do
	[ "$(sqlite3 "$T/$d/profile/addons.sqlite" "SELECT count(*) FROM addons_wanted WHERE addonID = 'reader@example.org' AND wish = 'install'")" -eq 0 ] ||
		finding "$d still wishes for the add-on the writer removed"
done
[ "$(sqlite3 "$T/b/profile/addons.sqlite" "SELECT count(*) FROM addons_wanted WHERE addonID = 'uBlock0@raymondhill.net'")" -eq 0 ] ||
	finding "B's install wish outlived the installation"
has history '^dtHist000002\|https://history.desktop.example/two\|Desktop page two\|1764560000000000:2,1764545000000000:1$'
"$PY" "$H" records "$NODE" "$UID_" "$KSYNC" history | grep '"id": "placeCCCCCCC"' | grep -q '"deleted": true' ||
	finding "the writer's history tombstone is gone from the server"
lists a "tabs list" "https://tab2.b.example/" "https://tab.desktop.example/"

# ---- 5. idempotence: one more round uploads nothing --------------------------------------------
STEP="5 idempotence"
S0=$(seq)
sync_all a; sync_all b
writes "$S0" >"$T/writes"
[ -s "$T/writes" ] && finding "a quiet round wrote: $(cat "$T/writes")"
for d in a b; do
	grep -q "uploaded [1-9]" "$T/last.$d" && finding "$d reports uploads in a quiet round: $(cat "$T/last.$d")"
done
agree

STEP=end
stop a
stop b
grep -q "runtime error:\|Sanitizer" "$T/a.log" "$T/b.log" &&
	finding "sanitizer reports: $(grep -h -A5 "runtime error:\|Sanitizer" "$T/a.log" "$T/b.log" | head -n 20)"
grep -q "$PASSWORD" "$T/a.log" "$T/b.log" && fail "the account password was logged"
grep -q "desktop secret 1\|a secret\|b secret" "$T/a.log" "$T/b.log" && fail "a login's password was logged"
if [ -s "$T/findings" ]; then
	echo "browser_converge: $(wc -l <"$T/findings") check(s) failed:"; cat "$T/findings"
	exit 1
fi
echo "browser_converge: ok"
