#!/bin/sh
# Sign-in through datasyncd and datasyncctl against the FxA test server (test/servers/fxa):
# the server's onepw code against the published vectors; login with the password on stdin and
# an emailed verification code; status shows the account; a wrong password and an unknown
# account are refused with their messages; a restart resumes without the password; logout
# destroys the session on the server and leaves no secret behind (the daemon's data, secret
# and run folders and its log are scanned for kSync, the tokens and the password, in hex and
# base64), and logout works offline too.
set -u
B=${DS_BUILD:?}; T=${DS_TMP:?}; S=${DS_SRC:?}
D="$B/datasyncd"; C="$B/datasyncctl"
grep -q '^CONFIG_DS_ACCOUNT=y' "$B/.config" || { echo "accounts not built (CONFIG_DS_ACCOUNT)"; exit 77; }
PY=$(sh "$S/test/servers/setup-venv.sh" 2>"$T/venv.log" | tail -n 1)
[ -x "$PY" ] || { echo "test servers' virtualenv unavailable (see setup-venv.sh)"; exit 77; }

fail() { echo "FAIL: $*"; echo "--- datasyncd log"; cat "$T/log" 2>/dev/null; echo "--- fxa log"; cat "$T/fxa.log"; exit 1; }
ctl() { "$C" -c "$T/ds.conf" "$@"; }
expect() { # exit-code command...
	want=$1; shift
	"$@" >"$T/out" 2>&1; got=$?
	[ "$got" -eq "$want" ] || { cat "$T/out"; fail "'$*' exited $got, expected $want"; }
}
# Test control of the FxA stand-in: METHOD PATH [JSON] -> the JSON answer on stdout.
fxa() {
	"$PY" - "$URL" "$@" <<'EOF'
import sys, urllib.request
url, method, path = sys.argv[1], sys.argv[2], sys.argv[3]
data = sys.argv[4].encode() if len(sys.argv) > 4 else None
req = urllib.request.Request(url + path, data=data, method=method, headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(req).read().decode())
EOF
}
jget() { # key... (an all-digit key indexes a list) < JSON
	"$PY" -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
print(json.dumps(v) if isinstance(v, (list, dict)) else v)' "$@"
}

# 1. The stand-in reproduces the onepw vectors (server side included).
"$PY" "$S/test/servers/fxa/test_vectors.py" || fail "the FxA test server does not reproduce the onepw vectors"

# 2. Servers.
"$PY" "$S/test/servers/fxa/server.py" --jwks-out "$T/jwks.json" >"$T/fxa.port" 2>"$T/fxa.log" &
fxa_pid=$!
trap 'kill $fxa_pid 2>/dev/null; [ -n "${pid:-}" ] && kill $pid 2>/dev/null' EXIT
i=0; until grep -q '^PORT ' "$T/fxa.port" 2>/dev/null; do i=$((i + 1)); [ $i -lt 100 ] || fail "no FxA server"; sleep 0.1; done
URL="http://127.0.0.1:$(sed -n 's/^PORT //p' "$T/fxa.port")"
jget keys 0 kty <"$T/jwks.json" | grep -qx RSA || fail "--jwks-out wrote no RSA key"

EMAIL="tv-owner@example.org"
PASSWORD="horse battery staple $$"
fxa POST /__test__/account "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\",\"verify\":\"email\"}" >"$T/acct.json" ||
	fail "cannot create the account"
KB=$(jget kB <"$T/acct.json")

cat >"$T/ds.conf" <<CONF
data_dir = $T/data
run_dir = $T/run
secret_dir = $T/secrets
log_output = stderr
log_level = debug
sync_interval_s = 0
device_name = Living room TV
fxa_url = $URL
CONF

start_daemon() {
	"$D" -f -c "$T/ds.conf" 2>>"$T/log" &
	pid=$!
	i=0; until ctl status >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 100 ] || fail "no daemon"; sleep 0.1; done
}
stop_daemon() { # a clean stop exits 0; under the sanitizers a leak at exit makes it non-zero
	kill "$pid"; rc_=0; wait "$pid" 2>/dev/null || rc_=$?; pid=""
	[ $rc_ -eq 0 ] || fail "datasyncd exited $rc_ on SIGTERM: $(tail -n 20 "$T/log")"
}

# 3. Usage: login needs an email (or --code); never a password in argv.
expect 2 ctl login
expect 2 ctl login a@example.org extra
start_daemon
expect 0 ctl status
grep -q "^account: signed-out" "$T/out" || fail "status before login: $(cat "$T/out")"

# 4. Refusals with their messages; nothing is kept.
printf 'wrong\n' >"$T/pw.wrong"
printf 'x\n' >"$T/pw.x"
printf '%s\n' "$PASSWORD" >"$T/pw"
expect 1 ctl login "$EMAIL" <"$T/pw.wrong"
grep -q "incorrect password" "$T/out" || fail "wrong password message: $(cat "$T/out")"
expect 1 ctl login nobody@example.org <"$T/pw.x"
grep -q "unknown account" "$T/out" || fail "unknown account message: $(cat "$T/out")"
expect 1 ctl login --code 123456
grep -q "no sign-in waits for a code" "$T/out" || fail "stray code message: $(cat "$T/out")"

# 5. Login with the password on stdin; the emailed code comes later with --code.
expect 1 ctl login "$EMAIL" <"$T/pw"
grep -q "verification code required (sent by email)" "$T/out" || fail "no code prompt: $(cat "$T/out")"
expect 0 ctl status --json
jget account state <"$T/out" | grep -qx verification-required || fail "status while waiting: $(cat "$T/out")"
CODE=$(fxa GET "/__test__/code?email=$EMAIL" | jget code)
expect 1 ctl login --code 000000x
grep -q "incorrect or expired verification code" "$T/out" || fail "wrong code message: $(cat "$T/out")"
expect 0 ctl login --code "$CODE"
grep -q "^signed in as $EMAIL, device \"Living room TV\"" "$T/out" || fail "login output: $(cat "$T/out")"
expect 0 ctl status
grep -q "^account: signed in as $EMAIL (uid [0-9a-f]*), device \"Living room TV\"" "$T/out" ||
	fail "status after login: $(cat "$T/out")"
fxa GET "/__test__/state?email=$EMAIL" >"$T/state.json"
jget devices 0 name <"$T/state.json" | grep -qx "Living room TV" || fail "device not registered: $(cat "$T/state.json")"
jget devices 0 type <"$T/state.json" | grep -qx "mobile" || fail "device type: $(cat "$T/state.json")"
expect 1 ctl login "$EMAIL" </dev/null
expect 1 ctl login "$EMAIL" <"$T/pw"
grep -q "already signed in" "$T/out" || fail "second login message: $(cat "$T/out")"

# 6. A restart resumes from the sealed session, without the password.
stop_daemon
start_daemon
expect 0 ctl status
grep -q "^account: signed in as $EMAIL" "$T/out" || fail "not resumed after restart: $(cat "$T/out")"
ls "$T/secrets" | grep -q . || fail "nothing sealed"

# Secrets the daemon handled: kSync (from the server's kB), the password, in hex and base64.
KSYNC_HEX=$("$PY" -c '
import sys
from fxa import crypto
print(crypto.derive_key(bytes.fromhex(sys.argv[1]), "oldsync", 64).hex())' "$KB")
scan() { # what-must-not-be-there folder...
	what=$1; shift
	"$PY" - "$what" "$@" <<'EOF'
import base64, os, sys
what, dirs = sys.argv[1], sys.argv[2:]
needles = []
for tok in what.split():
    if all(c in "0123456789abcdef" for c in tok) and len(tok) % 2 == 0:
        raw = bytes.fromhex(tok)
        needles += [tok.encode(), tok.upper().encode(), base64.b64encode(raw).rstrip(b"="),
                    base64.urlsafe_b64encode(raw).rstrip(b"="), raw]
    else:
        needles += [tok.encode()]
found = []
for d in dirs:
    for root, _, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            try:
                data = open(p, "rb").read()
            except OSError:
                continue
            for n in needles:
                if len(n) >= 8 and n in data:
                    found.append(p)
for p in sorted(set(found)):
    print(p)
sys.exit(1 if found else 0)
EOF
}
# While signed in, the secrets are sealed (the posix and sim ports keep them in 0600 files);
# the password is nowhere at all, kB and kSync are not in the store or the log.
scan "$(printf '%s' "$PASSWORD" | od -An -tx1 | tr -d ' \n')" "$T/data" "$T/secrets" "$T/run" "$T/log" ||
	fail "the password was kept"
scan "$KB" "$T/data" "$T/secrets" "$T/run" "$T/log" || fail "kB was kept"
scan "$KSYNC_HEX" "$T/data" "$T/run" "$T/log" || fail "kSync outside the sealed secrets"
grep -q "$PASSWORD" "$T/log" && fail "password in the log"

# 7. Logout: the server forgets the session and the device; no secret is left.
expect 0 ctl logout
grep -q "^signed out" "$T/out" || fail "logout output: $(cat "$T/out")"
fxa GET "/__test__/state?email=$EMAIL" >"$T/state.json"
[ "$(jget sessions <"$T/state.json")" = "[]" ] || fail "session not destroyed: $(cat "$T/state.json")"
expect 0 ctl status
grep -q "^account: signed-out" "$T/out" || fail "status after logout: $(cat "$T/out")"
scan "$KSYNC_HEX $KB" "$T/data" "$T/secrets" "$T/run" "$T/log" || fail "a key survived the logout"
[ -z "$(ls "$T/secrets")" ] || fail "secrets left after logout: $(ls "$T/secrets")"
stop_daemon
start_daemon
expect 0 ctl status
grep -q "^account: signed-out" "$T/out" || fail "signed in again after restart: $(cat "$T/out")"

# 8. Logout while the accounts server is unreachable still signs out here.
expect 1 ctl login "$EMAIL" <"$T/pw"
expect 0 ctl login --code "$(fxa GET "/__test__/code?email=$EMAIL" | jget code)"
kill $fxa_pid; wait $fxa_pid 2>/dev/null
expect 0 ctl logout
grep -q "^warning: the server was not told" "$T/out" || fail "offline logout: $(cat "$T/out")"
[ -z "$(ls "$T/secrets")" ] || fail "secrets left after an offline logout"
stop_daemon
echo "account_login: ok"
