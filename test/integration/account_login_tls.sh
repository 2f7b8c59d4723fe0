#!/bin/sh
# Sign-in through datasyncd over TLS, with whatever TLS library libwebsockets is built on
# (OpenSSL, or mbedTLS with make LWS=mbedtls): the FxA test server (test/servers/fxa) behind a
# TLS front on 127.0.0.1 (Python's ssl module, a certificate for localhost from a test CA made
# with openssl), datasyncd configured with fxa_url https://localhost:PORT.
#  - ca_bundle = that CA: login and status work, the device is registered over TLS;
#  - ca_bundle = another CA: the same login is refused for the certificate, nothing is kept;
#  - the front's own certificate as a self-signed one for the wrong name: refused as well.
set -u
B=${DS_BUILD:?}; T=${DS_TMP:?}; S=${DS_SRC:?}
D="$B/datasyncd"; C="$B/datasyncctl"
grep -q '^CONFIG_DS_ACCOUNT=y' "$B/.config" || { echo "accounts not built (CONFIG_DS_ACCOUNT)"; exit 77; }
command -v openssl >/dev/null || { echo "openssl CLI missing"; exit 77; }
PY=$(sh "$S/test/servers/setup-venv.sh" 2>"$T/venv.log" | tail -n 1)
[ -x "$PY" ] || { echo "test servers' virtualenv unavailable (see setup-venv.sh)"; exit 77; }

pid=; fxa_pid=; front_pid=
trap 'for p in $pid $front_pid $fxa_pid; do kill $p 2>/dev/null; done; wait 2>/dev/null' EXIT
fail() {
	echo "FAIL: $*"
	echo "--- datasyncd log (tail)"; tail -n 30 "$T/log" 2>/dev/null
	echo "--- TLS front log"; tail -n 10 "$T/front.log" 2>/dev/null
	exit 1
}
ctl() { "$C" -c "$T/ds.conf" "$@"; }
expect() { # exit-code command...
	want=$1; shift
	"$@" >"$T/out" 2>&1; got=$?
	[ "$got" -eq "$want" ] || { cat "$T/out"; fail "'$*' exited $got, expected $want"; }
}

# 1. Certificates: a CA and a leaf for localhost, another CA, and a self-signed leaf for another
# name.
(
	cd "$T" || exit 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-keyout ca.key -out ca.pem -subj /CN=datasync-tls-login-ca \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign &&
	printf 'subjectAltName=DNS:localhost\n' >srv.ext &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key \
		-out srv.csr -subj /CN=localhost &&
	openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-extfile srv.ext -out srv.pem &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-keyout other-ca.key -out other-ca.pem -subj /CN=datasync-other-ca \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-keyout self.key -out self.pem -subj /CN=elsewhere.example \
		-addext subjectAltName=DNS:elsewhere.example
) >"$T/openssl.log" 2>&1 || { cat "$T/openssl.log"; fail "openssl could not make the certificates"; }

# 2. The FxA test server, and a TLS front relaying each connection to it.
"$PY" "$S/test/servers/fxa/server.py" >"$T/fxa.port" 2>"$T/fxa.log" &
fxa_pid=$!
i=0; until grep -q '^PORT ' "$T/fxa.port" 2>/dev/null; do i=$((i + 1)); [ $i -lt 100 ] || fail "no FxA server"; sleep 0.1; done
FXA_PORT=$(sed -n 's/^PORT //p' "$T/fxa.port")
URL="http://127.0.0.1:$FXA_PORT"

start_front() { # cert key -> FRONT_PORT
	rm -f "$T/front.port" # the wait below must not see the previous front's line
	"$PY" - "$1" "$2" "$FXA_PORT" >"$T/front.port" 2>>"$T/front.log" <<'EOF' &
import socket, ssl, sys, threading
cert, key, target = sys.argv[1], sys.argv[2], int(sys.argv[3])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ls = socket.create_server(("127.0.0.1", 0))
print("PORT %d" % ls.getsockname()[1], flush=True)
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
def serve(c):
    try:
        t = ctx.wrap_socket(c, server_side=True)
    except (ssl.SSLError, OSError) as e:
        print("handshake refused: %s" % e, file=sys.stderr, flush=True)
        c.close()
        return
    u = socket.create_connection(("127.0.0.1", target))
    threading.Thread(target=pipe, args=(u, t), daemon=True).start()
    pipe(t, u)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
	front_pid=$!
	i=0; until grep -q '^PORT ' "$T/front.port" 2>/dev/null; do i=$((i + 1)); [ $i -lt 100 ] || fail "no TLS front"; sleep 0.1; done
	FRONT_PORT=$(sed -n 's/^PORT //p' "$T/front.port")
}
stop_front() { kill $front_pid 2>/dev/null; wait $front_pid 2>/dev/null; front_pid=; }

fxa() { # METHOD PATH [JSON]: test control of the FxA stand-in, in plain HTTP
	"$PY" - "$URL" "$@" <<'EOF'
import sys, urllib.request
url, method, path = sys.argv[1], sys.argv[2], sys.argv[3]
data = sys.argv[4].encode() if len(sys.argv) > 4 else None
req = urllib.request.Request(url + path, data=data, method=method, headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(req).read().decode())
EOF
}

EMAIL="tls-owner@example.org"
PASSWORD="correct horse $$"
fxa POST /__test__/account "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\",\"verify\":\"none\"}" >/dev/null ||
	fail "cannot create the account"
printf '%s\n' "$PASSWORD" >"$T/pw"

start_daemon() { # CA_BUNDLE: a fresh daemon (empty folders) trusting only that bundle
	stop_daemon
	rm -rf "$T/data" "$T/run" "$T/secrets"
	cat >"$T/ds.conf" <<CONF
data_dir = $T/data
run_dir = $T/run
secret_dir = $T/secrets
log_output = stderr
log_level = info
sync_interval_s = 0
device_name = TLS box
fxa_url = https://localhost:$FRONT_PORT
ca_bundle = $1
CONF
	"$D" -f -c "$T/ds.conf" 2>>"$T/log" &
	pid=$!
	i=0; until ctl status >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 100 ] || fail "no daemon"; sleep 0.1; done
}
stop_daemon() { # a clean stop exits 0; under the sanitizers a leak at exit makes it non-zero
	[ -n "$pid" ] || return 0
	kill "$pid"; rc_=0; wait "$pid" 2>/dev/null || rc_=$?; pid=
	[ $rc_ -eq 0 ] || fail "datasyncd exited $rc_ on SIGTERM"
}

# 3. Trusted: login over TLS registers the device.
start_front "$T/srv.pem" "$T/srv.key"
start_daemon "$T/ca.pem"
expect 0 ctl login "$EMAIL" <"$T/pw"
grep -q "^signed in as $EMAIL, device \"TLS box\"" "$T/out" || fail "login output: $(cat "$T/out")"
expect 0 ctl status
grep -q "^account: signed in as $EMAIL" "$T/out" || fail "status after login: $(cat "$T/out")"
fxa GET "/__test__/state?email=$EMAIL" | grep -q '"TLS box"' || fail "device not registered over TLS"
expect 0 ctl logout

# 4. Another CA: refused for the certificate, nothing kept.
start_daemon "$T/other-ca.pem"
expect 1 ctl login "$EMAIL" <"$T/pw"
grep -q "certificate of localhost rejected: unable to get local issuer certificate" "$T/out" ||
	fail "no certificate reason: $(cat "$T/out")"
expect 0 ctl status
grep -q "^account: signed-out" "$T/out" || fail "signed in through an untrusted server: $(cat "$T/out")"
[ -z "$(ls "$T/secrets" 2>/dev/null)" ] || fail "secrets kept after a refused login"

# 5. A self-signed certificate for another name: refused too.
stop_front
start_front "$T/self.pem" "$T/self.key"
start_daemon "$T/ca.pem"
expect 1 ctl login "$EMAIL" <"$T/pw"
grep -q "certificate of localhost rejected: self-signed certificate" "$T/out" ||
	fail "no certificate reason: $(cat "$T/out")"
stop_daemon
echo "account_login_tls: ok"
