#!/bin/sh
# "encrypt": "account": the collection key is derived from the signed-in Firefox Account's kSync
# (docs/remote-kinto.md, "Encryption"), never given nor stored. Two devices signed in to the
# same account (through datasyncd and datasyncctl against the FxA test server) derive the same
# key: the second reads what the first wrote, and the server's records hold no value in clear
# (read over Kinto's HTTP API). A device signed in to another account gets "another key", one
# that is not signed in gets "not signed in": an error, nothing applied, its rows kept.
set -u
. "$DS_SRC/test/integration/kinto_common.inc"
grep -q '^CONFIG_DS_ACCOUNT=y' "$B/.config" || { echo "accounts not built (CONFIG_DS_ACCOUNT)"; exit 77; }
D="$B/datasyncd"; C="$B/datasyncctl"
[ -x "$D" ] && [ -x "$C" ] || { echo "datasyncd/datasyncctl not built"; exit 77; }

"$PY" "$S/test/servers/fxa/server.py" --jwks-out "$T/jwks.json" >"$T/fxa.port" 2>"$T/fxa.log" &
FPID=$!
trap '[ -n "$KPID" ] && kill $KPID 2>/dev/null; kill $FPID 2>/dev/null; [ -n "${DPID:-}" ] && kill $DPID 2>/dev/null; wait 2>/dev/null' EXIT
i=0; until grep -q '^PORT ' "$T/fxa.port" 2>/dev/null; do i=$((i + 1)); [ $i -lt 100 ] || fail "no FxA server"; sleep 0.1; done
FXA="http://127.0.0.1:$(sed -n 's/^PORT //p' "$T/fxa.port")"
kinto_start --paginate-by 3 --batch-max 4
account alice "alice pw"

fxa_account() { # EMAIL PASSWORD
	"$PY" - "$FXA" "$1" "$2" <<'PYEOF' || fail "cannot create the FxA account $1"
import json, sys, urllib.request
url, email, pw = sys.argv[1:4]
req = urllib.request.Request(url + "/__test__/account", method="POST",
                             data=json.dumps({"email": email, "password": pw, "verify": "none"}).encode(),
                             headers={"Content-Type": "application/json"})
urllib.request.urlopen(req).read()
PYEOF
}

login() { # NAME EMAIL PASSWORD: datasyncd keeps the sealed session in the home's secret folder
	cat >"$T/ds-$1.conf" <<CONF
data_dir = $T/daemon-$1/data
run_dir = $T/daemon-$1/run
secret_dir = $T/home-$1/secrets
log_output = stderr
log_level = info
sync_interval_s = 0
device_name = device $1
fxa_url = $FXA
CONF
	"$D" -f -c "$T/ds-$1.conf" 2>>"$T/daemon-$1.log" &
	DPID=$!
	i=0; until "$C" -c "$T/ds-$1.conf" status >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 100 ] || fail "no daemon for $1"; sleep 0.1; done
	printf '%s\n' "$3" | "$C" -c "$T/ds-$1.conf" login "$2" >"$T/out" 2>&1 || fail "login of $1"
	kill $DPID; wait $DPID 2>/dev/null; DPID=
}

fxa_account owner@example.org "owner pw $$"
fxa_account other@example.org "other pw $$"
login a owner@example.org "owner pw $$"
login b owner@example.org "owner pw $$"
login c other@example.org "other pw $$"

RA=$(remote_json notes alice "alice pw" "\"encrypt\":\"account\",\"fxa_url\":\"$FXA\"")
new_device a "$RA"
new_device b "$RA"
for i in 1 2 3 4 5; do sql a "INSERT INTO notes VALUES($i, 'confidential $i', $i.5)"; done
sync_ok a uploaded=5
sync_ok b fetched=5 applied=5
same a b
sql b "UPDATE notes SET title = 'changed secret' WHERE id = 2; DELETE FROM notes WHERE id = 5"
sync_ok b uploaded=2
sync_ok a fetched=2 applied=2
same a b

# What the server holds, over its own API: id, last_modified and the encrypted form only.
server_records alice:'alice pw' notes >"$T/recs"
[ "$(grep -vc '"deleted": true' "$T/recs")" -eq 4 ] || fail "the server does not hold 4 live records"
grep -q -e confidential -e 'changed secret' "$T/recs" && fail "a column value is in clear on the server"
grep -q -e '"title"' -e '"~id"' "$T/recs" && fail "a column name is in clear on the server"
[ "$(grep -c '"ds_enc": {"ct": ' "$T/recs")" -eq 4 ] || fail "records are not in the encrypted form"
# Nothing of the key in the agents' data folders (the session is sealed in secrets).
for h in a b; do
	grep -rlq 'ksync\|kSync' "$T/home-$h/data" 2>/dev/null && fail "key material named in $h's data folder"
done

# Another account derives another key: refused before anything is fetched, local rows kept.
sqlite3 "$T/c.db" "CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT, n REAL); INSERT INTO notes VALUES(7, 'mine', 7.0)"
new_device c "$RA"
device c sync >"$T/out" 2>&1 && fail "a device of another account synced"
grep -q "encrypted under another key" "$T/out" || fail "no clear message for another account's key"
[ "$(sql c "SELECT group_concat(id) FROM notes")" = "7" ] || fail "c applied something or lost its row"

# Not signed in: no key at all, the collection does not even open.
sqlite3 "$T/d.db" "CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT, n REAL)"
device d init --db "$T/d.db" --table notes --remote-json "$RA" >"$T/out" 2>&1 &&
	fail "a device without an account opened the collection"
grep -q "no key from the Firefox Account.*datasyncctl login" "$T/out" || fail "no clear message without an account"
[ "$(sql d "SELECT count(*) FROM notes")" -eq 0 ] || fail "d applied something"

# A new device of the owner reads everything (the key is derived again, not copied).
mkdir -p "$T/home-e"; cp -r "$T/home-a/secrets" "$T/home-e/secrets"
new_device e "$RA"
sync_ok e applied=4
same a e
echo "kinto_account_encrypted: all checks passed"
