#!/bin/sh
# Bearer tokens from the Firefox Account: two devices signed in to the same account (through
# datasyncd and datasyncctl against the FxA test server) sync a Kinto collection registered with
# "token_scope" instead of a password; the Kinto test server checks the FxA RS256 tokens against
# the FxA server's JWKS and the scope (test/servers/kinto/fxa_auth.py). A token the server
# refuses is replaced once from FxA and the run goes on; a device that is not signed in, or
# asks for a scope the server does not accept, gets a clear error and applies nothing; no token
# is left in the agent's folders. Inside datasyncd, a registration without "fxa_url" uses the
# daemon's [accounts] fxa_url. A file upload retries once on a 401 with a new token.
set -u
. "$DS_SRC/test/integration/kinto_common.inc"
grep -q '^CONFIG_DS_ACCOUNT=y' "$B/.config" || { echo "accounts not built (CONFIG_DS_ACCOUNT)"; exit 77; }
D="$B/datasyncd"; C="$B/datasyncctl"
[ -x "$D" ] && [ -x "$C" ] || { echo "datasyncd/datasyncctl not built"; exit 77; }

SCOPE="https://identity.mozilla.com/apps/kinto-test"
"$PY" "$S/test/servers/fxa/server.py" --jwks-out "$T/jwks.json" >"$T/fxa.port" 2>"$T/fxa.log" &
FPID=$!
trap '[ -n "$KPID" ] && kill $KPID 2>/dev/null; kill $FPID 2>/dev/null; [ -n "${DPID:-}" ] && kill $DPID 2>/dev/null; wait 2>/dev/null' EXIT
i=0; until grep -q '^PORT ' "$T/fxa.port" 2>/dev/null; do i=$((i + 1)); [ $i -lt 100 ] || fail "no FxA server"; sleep 0.1; done
FXA="http://127.0.0.1:$(sed -n 's/^PORT //p' "$T/fxa.port")"
kinto_start --fxa-jwks "$T/jwks.json" --fxa-scope "$SCOPE"

EMAIL="kinto-owner@example.org"
printf 'correct horse %s\n' "$$" >"$T/pw"
"$PY" - "$FXA" "$EMAIL" "$(cat "$T/pw")" <<'PYEOF' || fail "cannot create the FxA account"
import json, sys, urllib.request
url, email, pw = sys.argv[1:4]
req = urllib.request.Request(url + "/__test__/account", method="POST",
                             data=json.dumps({"email": email, "password": pw, "verify": "none"}).encode(),
                             headers={"Content-Type": "application/json"})
urllib.request.urlopen(req).read()
PYEOF

# Sign a device's home in: datasyncd keeps the sealed session in the home's secret folder,
# where the device's remote reads it.
login() { # NAME
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
	"$C" -c "$T/ds-$1.conf" login "$EMAIL" <"$T/pw" >"$T/out" 2>&1 || fail "login of $1"
	kill $DPID; wait $DPID 2>/dev/null; DPID=
}
login a
login b

RJ=$(printf '{"kind":"kinto","url":"%s","collection":"notes","token_scope":"%s","fxa_url":"%s"}' "$KURL" "$SCOPE" "$FXA")
new_device a "$RJ"
new_device b "$RJ"
for i in 1 2 3; do sql a "INSERT INTO notes VALUES($i, 'note $i', $i.0)"; done
sync_ok a uploaded=3
sync_ok b fetched=3 applied=3
same a b
http GET /__test__/bearer >"$T/bearer"
grep -q '"accepted": [1-9]' "$T/bearer" || fail "no bearer token was accepted: $(cat "$T/bearer")"

# The server refuses the next token it is shown (an early expiry, a revocation): the remote
# asks FxA for a new one once and the run goes on.
before=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["accepted"])' <"$T/bearer")
sql a "UPDATE notes SET title = 'edited' WHERE id = 2"
fault '{"refuse_bearer": 1}'
sync_ok a uploaded=1
http GET /__test__/bearer >"$T/bearer"
after=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["accepted"])' <"$T/bearer")
[ "$after" -eq $((before + 1)) ] || fail "no new token after the 401 ($before -> $after)"
sync_ok b fetched=1 applied=1
same a b

# Refused every time (both tokens): one retry only, then the error.
fault '{"refuse_bearer": 5}'
device a sync >"$T/out" 2>&1 && fail "a sync with refused tokens succeeded"
grep -q "HTTP 401" "$T/out" || fail "no 401 message"
[ "$(grep -c "asking for a new one" "$T/out")" -le 3 ] || fail "the remote keeps asking for tokens"
fault '{"refuse_bearer": 0}'
sync_ok a

# A device that is not signed in: a clear error, nothing applied.
new_device c "$RJ"
device c sync >"$T/out" 2>&1 && fail "a device without an account synced"
grep -q "not signed in to a Firefox Account" "$T/out" || fail "no clear message without account"
[ "$(sql c "SELECT count(*) FROM notes")" -eq 0 ] || fail "c applied something"

# A scope the Kinto server does not take: FxA issues the token, Kinto refuses it.
mkdir -p "$T/home-d"; cp -r "$T/home-a/secrets" "$T/home-d/secrets"
new_device d "$(printf '{"kind":"kinto","url":"%s","collection":"notes","token_scope":"https://identity.mozilla.com/apps/other","fxa_url":"%s"}' "$KURL" "$FXA")"
device d sync >"$T/out" 2>&1 && fail "a token of another scope was accepted"
grep -q "HTTP 401" "$T/out" || fail "no 401 for another scope"
[ "$(sql d "SELECT count(*) FROM notes")" -eq 0 ] || fail "d applied something"

# No token or session key in the agent's data (only the sealed session in secrets).
for h in a b; do
	grep -rlq 'eyJ' "$T/home-$h/data" && fail "a token is in $h's data folder"
done

# A file upload whose token is refused (401) asks FxA for a new one and sends the file again.
mkdir -p "$T/files-f" "$T/files-g" "$T/home-f" "$T/home-g"
cp -r "$T/home-a/secrets" "$T/home-f/secrets"; cp -r "$T/home-a/secrets" "$T/home-g/secrets"
sqlite3 "$T/f.db" "CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT, n REAL, file TEXT)"
cp "$T/f.db" "$T/g.db"
RF=$(printf '{"kind":"kinto","url":"%s","collection":"docs","token_scope":"%s","fxa_url":"%s","files":{"field":"file","dir":"%%s"}}' "$KURL" "$SCOPE" "$FXA")
new_device f "$(printf "$RF" "$T/files-f")"
new_device g "$(printf "$RF" "$T/files-g")"
head -c 100000 /dev/urandom >"$T/files-f/doc.bin"
sql f "INSERT INTO notes VALUES(1, 'doc', 1, NULL)"
sync_ok f  # the record first, with the token in cache
sql f "UPDATE notes SET file = 'doc.bin'"
http GET /__test__/bearer >"$T/bearer"
before=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["accepted"])' <"$T/bearer")
fault '{"fail_request": {"method": "POST", "contains": "/attachment", "status": 401, "count": 1}}'
sync_ok f uploaded=1
http GET /__test__/bearer >"$T/bearer"
after=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["accepted"])' <"$T/bearer")
# One token for the run (each dsdev process asks for its own), one more after the 401.
[ "$after" -eq $((before + 2)) ] || fail "no new token after the upload's 401 ($before -> $after)"
sync_ok g applied=1
cmp -s "$T/files-f/doc.bin" "$T/files-g/doc.bin" || fail "the file did not go up after the 401"

# Inside datasyncd, a registration that names no accounts server uses the daemon's [accounts]
# fxa_url (the build's default is unreachable here): a's daemon syncs with tokens only.
sqlite3 "$T/da.db" "CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT, n REAL)"
printf '{"name":"dnotes","engine":{"kind":"table","db":"%s","table":"notes"},"remote":{"kind":"kinto","url":"%s","collection":"notes","token_scope":"%s"}}\n' \
	"$T/da.db" "$KURL" "$SCOPE" >"$T/da.reg.json"
grep -q fxa_url "$T/da.reg.json" && fail "the daemon's registration names an accounts server"
"$D" -f -c "$T/ds-a.conf" 2>>"$T/daemon-a.log" &
DPID=$!
i=0; until "$C" -c "$T/ds-a.conf" status >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "no daemon for a"; sleep 0.1; done
"$C" -c "$T/ds-a.conf" register --json "$T/da.reg.json" >"$T/out" 2>&1 || fail "register in the daemon"
"$C" -c "$T/ds-a.conf" sync dnotes --wait >"$T/out" 2>&1 || fail "the daemon's sync with the [accounts] fxa_url failed"
grep -q "^dnotes: ok" "$T/out" || fail "daemon sync: $(cat "$T/out")"
[ "$(sqlite3 "$T/da.db" "SELECT count(*) FROM notes")" -eq 3 ] || fail "the daemon's table did not get the 3 notes"
kill $DPID; wait $DPID 2>/dev/null; DPID=
echo "kinto_account_token: all checks passed"
