#!/usr/bin/env python3
"""A local stand-in for the Firefox Accounts auth server (onepw, sessions, keys, OAuth).

    server.py [--bind ADDR] [--jwks-out FILE] [--codes-dir DIR] [--watch-stdin]

Listens on an ephemeral port of ADDR (default 127.0.0.1), prints "PORT <n>" on stdout once it
accepts connections, and serves until killed (or, with --watch-stdin, until stdin closes). Protocol sources are cited
in docs/accounts.md and the reference notes (accounts.md §2-4): the server side of onepw is
done as the real one does it (authPW -> scrypt -> verifyHash / wrapwrapKey; the key bundle of
/account/keys built at login from wrapWrapKb), so a client that passes here speaks the protocol.

Protocol routes (JSON bodies; Hawk with token-derived credentials where FxA uses it):
  POST /v1/account/credentials/status   {email} -> {currentVersion, clientSalt?, upgradeNeeded}
  POST /v1/account/login[?keys=true]    {email, authPW, ...}
  POST /v1/session/verify_code          Hawk(session) {code}
  POST /v1/session/verify/totp          Hawk(session) {code} -> {success}
  GET  /v1/session/status               Hawk(session)
  POST /v1/session/destroy              Hawk(session)
  GET  /v1/account/keys                 Hawk(keyFetchToken, single use) -> {bundle}
  POST /v1/account/scoped-key-data      Hawk(session) {client_id, scope}
  POST /v1/oauth/token                  Hawk(session) fxa-credentials grant, or refresh_token
  POST /v1/account/device               Hawk(session) {name, type[, id]}
  GET  /v1/account/devices              Hawk(session)
  GET  /v1/jwks                         the RS256 public key

Test control (never in the real protocol; under /__test__/):
  POST /__test__/account  {email, password, v2?, verify: "none"|"email", totp?} -> {uid, kB, totp_secret?}
  GET  /__test__/code?email=E           the last emailed verification code
  POST /__test__/fail     {path, errno, code?, retry_after?, count?}   inject an error response
  POST /__test__/clock    {offset}      pretend the server's clock is offset seconds ahead
  GET  /__test__/state?email=E          sessions, devices, refresh tokens, key fetches
Verification codes are also written to DIR/<email>.code with --codes-dir.
"""
import argparse
import base64
import binascii
import hashlib
import http.client
import http.server
import json
import os
import secrets
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit, parse_qs

import jwt
import mohawk
import mohawk.exc
import pyotp
from cryptography.hazmat.primitives.asymmetric import rsa
from fxa import crypto as fxacrypto

OLDSYNC = "https://identity.mozilla.com/apps/oldsync"
SCRYPT = dict(n=65536, r=8, p=1, dklen=32, maxmem=128 * 1024 * 1024)

# Errnos and messages (mozilla/fxa packages/fxa-auth-server/lib/error.js; accounts.md §2).
ERRORS = {
    102: (400, "Unknown account"),
    103: (400, "Incorrect password"),
    104: (400, "Unconfirmed account"),
    105: (400, "Invalid verification code"),
    106: (400, "Invalid JSON in request body"),
    107: (400, "Invalid parameter in request body"),
    108: (400, "Missing parameter in request body"),
    109: (401, "Invalid request signature"),
    110: (401, "Invalid authentication token in request signature"),
    111: (401, "Invalid timestamp in request signature"),
    114: (429, "Client has sent too many requests"),
    120: (400, "Incorrect email case"),
    125: (400, "The request was blocked for security reasons"),
    127: (400, "Invalid unblock code"),
    138: (400, "Unconfirmed session"),
    160: (400, "Two-step authentication required"),
    162: (400, "Unknown client_id"),
    183: (400, "Invalid or expired confirmation code"),
    201: (503, "Service unavailable"),
}


def now():
    return time.time() + STATE.clock_offset


def stretch_server(auth_pw, auth_salt):
    """onepw server side: bigStretchedPW = scrypt(authPW, authSalt, 64k, 8, 1)."""
    big = hashlib.scrypt(auth_pw, salt=auth_salt, **SCRYPT)
    return (fxacrypto.derive_key(big, "verifyHash"), fxacrypto.derive_key(big, "wrapwrapKey"), big)


def token_keys(token, kind):
    """HKDF(token, KW(kind), 96) -> (hex tokenId, reqHMACkey, keyRequestKey)."""
    km = fxacrypto.derive_key(token, kind, 96)
    return km[:32].hex(), km[32:64], km[64:]


class Verifier:
    """One password verifier (v1 or v2) as stored by the server."""

    def __init__(self, auth_pw, kb, unwrap_bkey):
        self.auth_salt = secrets.token_bytes(32)
        self.verify_hash, wrapwrap, _ = stretch_server(auth_pw, self.auth_salt)
        wrap_kb = fxacrypto.xor(kb, unwrap_bkey)
        self.wrap_wrap_kb = fxacrypto.xor(wrap_kb, wrapwrap)

    def check(self, auth_pw):
        vh, wrapwrap, _ = stretch_server(auth_pw, self.auth_salt)
        if not secrets.compare_digest(vh, self.verify_hash):
            return None
        return fxacrypto.xor(self.wrap_wrap_kb, wrapwrap)  # wrapKb


class Account:
    def __init__(self, email, password, v2, verify, totp):
        self.email = email
        self.uid = uuid.uuid4().hex
        self.ka = secrets.token_bytes(32)
        self.kb = secrets.token_bytes(32)
        self.keys_changed_at = int(time.time() * 1000)
        self.verify = verify
        self.totp_secret = pyotp.random_base32() if totp else None
        pw = password.encode("utf-8")
        # The client's v1 stretch (the email as typed, any case: PyFxA's helper wants a
        # lower-case domain, the protocol does not).
        qs = hashlib.pbkdf2_hmac("sha256", pw, ("identity.mozilla.com/picl/v1/quickStretch:" + email).encode(),
                                 1000, 32)
        self.v1 = Verifier(fxacrypto.derive_auth_pw(qs), self.kb, fxacrypto.derive_key(qs, "unwrapBkey"))
        self.v2 = None
        self.client_salt = None
        if v2:
            self.client_salt = "identity.mozilla.com/picl/v1/quickStretchV2:" + secrets.token_hex(16)
            st = fxacrypto.stretch_password(self.client_salt, pw)
            self.v2 = Verifier(fxacrypto.derive_auth_pw(st), self.kb, fxacrypto.derive_key(st, "unwrapBkey"))
        self.code = None


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.accounts = {}        # lower-case email -> Account
        self.sessions = {}        # tokenId hex -> dict
        self.key_fetch = {}       # tokenId hex -> dict
        self.refresh = {}         # token -> dict
        self.devices = {}         # uid -> {device id: dict}
        self.failures = []        # injected errors
        self.nonces = set()
        self.clock_offset = 0
        self.key_fetches = 0
        self.codes_dir = None
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "dstest-" + secrets.token_hex(4)

    def jwks(self):
        pub = self.rsa.public_key().public_numbers()

        def b64(n):
            return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()
        return {"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
                          "n": b64(pub.n), "e": b64(pub.e), "fxa-createdAt": int(time.time())}]}


STATE = State()


def seen_nonce(sender_id, nonce, ts):
    """Hawk replay check: a (token, nonce, ts) is accepted once."""
    key = (sender_id, nonce, ts)
    with STATE.lock:
        if key in STATE.nonces:
            return True
        STATE.nonces.add(key)
    return False


class FxaError(Exception):
    def __init__(self, errno, extra=None, headers=()):
        super().__init__(errno)
        self.errno = errno
        self.extra = extra or {}
        self.headers = list(headers)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dstest-fxa/1"

    def log_message(self, fmt, *args):
        if os.environ.get("DS_FXA_VERBOSE"):
            sys.stderr.write("fxa: " + (fmt % args) + "\n")

    # ---- plumbing ------------------------------------------------------------------------
    def _send(self, status, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        # Every FxA response carries the server's clock for Hawk skew correction.
        self.send_header("Timestamp", str(int(now())))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, e):
        code, msg = ERRORS.get(e.errno, (400, "Error"))
        code = e.extra.pop("code", code)
        body = {"code": code, "errno": e.errno, "error": http.client.responses.get(code, ""), "message": msg}
        body.update(e.extra)
        self._send(code, body, e.headers)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.raw = self.rfile.read(n) if n else b""
        if not self.raw:
            return {}
        try:
            obj = json.loads(self.raw)
        except ValueError:
            raise FxaError(106)
        if not isinstance(obj, dict):
            raise FxaError(106)
        return obj

    def _hawk(self, table, kind):
        """Check the Hawk header against the token table; returns the token's record."""
        hdr = self.headers.get("Authorization")
        if not hdr or not hdr.startswith("Hawk "):
            raise FxaError(110, {"code": 401})
        found = {}

        def lookup(tid):
            with STATE.lock:
                rec = table.get(tid)
            if not rec:
                raise mohawk.exc.CredentialsLookupError(tid)
            found["rec"] = rec
            return {"id": tid, "key": rec["hmac_key"], "algorithm": "sha256"}
        url = "http://%s%s" % (self.headers.get("Host"), self.path)
        try:
            mohawk.Receiver(lookup, hdr, url, self.command, content=self.raw,
                            content_type=self.headers.get("Content-Type", ""),
                            accept_untrusted_content=True, seen_nonce=seen_nonce,
                            localtime_offset_in_seconds=STATE.clock_offset)
        except mohawk.exc.CredentialsLookupError:
            raise FxaError(110)
        except mohawk.exc.TokenExpired:
            raise FxaError(111, {"serverTime": int(now())})
        except (mohawk.exc.MacMismatch, mohawk.exc.MisComputedContentHash):
            raise FxaError(109)
        except mohawk.exc.HawkFail:
            raise FxaError(110)
        return found["rec"]

    def _inject(self, path):
        with STATE.lock:
            for f in STATE.failures:
                if f["path"] == path and f["count"] > 0:
                    f["count"] -= 1
                    hdrs = []
                    extra = {}
                    if f.get("retry_after") is not None:
                        hdrs.append(("Retry-After", str(f["retry_after"])))
                        extra["retryAfter"] = f["retry_after"]
                        extra["retryAfterLocalized"] = "in %d seconds" % f["retry_after"]
                    if f.get("code"):
                        extra["code"] = f["code"]
                    if f["errno"] == 111:
                        extra["serverTime"] = int(now())
                    raise FxaError(f["errno"], extra, hdrs)

    def _dispatch(self):
        u = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        route = (self.command, u.path)
        body = self._body()
        if u.path.startswith("/__test__/"):
            return self._control(u.path, q, body)
        self._inject(u.path)
        h = ROUTES.get(route)
        if not h:
            return self._send(404, {"code": 404, "errno": 999, "error": "Not Found", "message": "Unknown route"})
        return h(self, q, body)

    def do_GET(self):
        self._run()

    def do_POST(self):
        self._run()

    def _run(self):
        try:
            self._dispatch()
        except FxaError as e:
            self._error(e)

    # ---- onepw ---------------------------------------------------------------------------
    def _account(self, email):
        with STATE.lock:
            acct = STATE.accounts.get((email or "").lower())
        if not acct:
            raise FxaError(102)
        return acct

    def credentials_status(self, q, body):
        acct = self._account(body.get("email"))
        out = {"currentVersion": "v2" if acct.v2 else "v1", "upgradeNeeded": acct.v2 is None}
        if acct.v2:
            out["clientSalt"] = acct.client_salt
        self._send(200, out)

    def login(self, q, body):
        email, auth_pw = body.get("email"), body.get("authPW")
        if not isinstance(email, str) or not isinstance(auth_pw, str):
            raise FxaError(108)
        try:
            auth_pw = binascii.unhexlify(auth_pw)
        except (binascii.Error, ValueError):
            raise FxaError(107)
        if len(auth_pw) != 32:
            raise FxaError(107)
        acct = self._account(email)
        if email != acct.email:
            # The v1 salt is the email as typed at sign-up: tell the client the right one.
            raise FxaError(120, {"email": acct.email})
        version, wrap_kb = 1, acct.v1.check(auth_pw)
        if wrap_kb is None and acct.v2:
            version, wrap_kb = 2, acct.v2.check(auth_pw)
        if wrap_kb is None:
            raise FxaError(103)
        session = secrets.token_bytes(32)
        sid, shmac, _ = token_keys(session, "sessionToken")
        verified = acct.verify == "none" and not acct.totp_secret
        method = "totp-2fa" if acct.totp_secret else ("email-otp" if not verified else None)
        srec = {"uid": acct.uid, "hmac_key": shmac, "verified": verified, "method": method,
                "email": acct.email, "device": None, "created": now()}
        out = {"uid": acct.uid, "sessionToken": session.hex(), "verified": verified,
               "authAt": int(now()), "metricsEnabled": False}
        if method:
            out["verificationMethod"] = method
            out["verificationReason"] = "login"
        if q.get("keys") == "true":
            kft = secrets.token_bytes(32)
            kid, khmac, krk = token_keys(kft, "keyFetchToken")
            with STATE.lock:
                STATE.key_fetch[kid] = {"hmac_key": khmac, "krk": krk, "session": sid,
                                        "payload": acct.ka + wrap_kb}
            out["keyFetchTokenVersion2" if version == 2 else "keyFetchToken"] = kft.hex()
        with STATE.lock:
            STATE.sessions[sid] = srec
        if method == "email-otp":
            acct.code = "%06d" % secrets.randbelow(1000000)
            if STATE.codes_dir:
                with open(os.path.join(STATE.codes_dir, acct.email + ".code"), "w") as f:
                    f.write(acct.code + "\n")
        self._send(200, out)

    def verify_code(self, q, body):
        srec = self._hawk(STATE.sessions, "sessionToken")
        acct = self._account(srec["email"])
        if srec["method"] != "email-otp" or not acct.code or body.get("code") != acct.code:
            raise FxaError(183)
        acct.code = None
        srec["verified"] = True
        self._send(200, {})

    def verify_totp(self, q, body):
        srec = self._hawk(STATE.sessions, "sessionToken")
        acct = self._account(srec["email"])
        if not acct.totp_secret:
            raise FxaError(107)
        ok = pyotp.TOTP(acct.totp_secret).verify(str(body.get("code", "")), for_time=now(), valid_window=1)
        if ok:
            srec["verified"] = True
        self._send(200, {"success": bool(ok)})

    def session_status(self, q, body):
        srec = self._hawk(STATE.sessions, "sessionToken")
        self._send(200, {"state": "verified" if srec["verified"] else "unverified", "uid": srec["uid"]})

    def session_destroy(self, q, body):
        srec = self._hawk(STATE.sessions, "sessionToken")
        with STATE.lock:
            for tid, r in list(STATE.sessions.items()):
                if r is srec:
                    del STATE.sessions[tid]
            if srec["device"]:
                STATE.devices.get(srec["uid"], {}).pop(srec["device"], None)
        self._send(200, {})

    def account_keys(self, q, body):
        krec = self._hawk(STATE.key_fetch, "keyFetchToken")
        with STATE.lock:
            srec = STATE.sessions.get(krec["session"])
        if not srec or not srec["verified"]:
            raise FxaError(104)
        with STATE.lock:
            for tid, r in list(STATE.key_fetch.items()):
                if r is krec:
                    del STATE.key_fetch[tid]  # single use
            STATE.key_fetches += 1
        bundle = fxacrypto.bundle(krec["krk"], "account/keys", krec["payload"])
        self._send(200, {"bundle": bundle.hex()})

    def _verified_session(self):
        srec = self._hawk(STATE.sessions, "sessionToken")
        if not srec["verified"]:
            raise FxaError(138)
        return srec

    def scoped_key_data(self, q, body):
        srec = self._verified_session()
        acct = self._account(srec["email"])
        if not body.get("client_id"):
            raise FxaError(108)
        out = {}
        for scope in str(body.get("scope", "")).split():
            out[scope] = {"identifier": scope, "keyRotationSecret": "0" * 64,
                          "keyRotationTimestamp": acct.keys_changed_at}
        self._send(200, out)

    def _access_token(self, acct, scope, client_id, ttl):
        t = int(now())
        claims = {"sub": acct.uid, "scope": scope, "client_id": client_id, "iat": t, "exp": t + ttl,
                  "jti": secrets.token_hex(16), "iss": "http://127.0.0.1", "aud": client_id,
                  "fxa-generation": acct.keys_changed_at}
        return jwt.encode(claims, STATE.rsa, algorithm="RS256", headers={"typ": "at+jwt", "kid": STATE.kid})

    def oauth_token(self, q, body):
        grant = body.get("grant_type")
        client_id, scope = body.get("client_id"), body.get("scope", "")
        if not client_id or not scope:
            raise FxaError(108)
        ttl = int(body.get("ttl") or 3600)
        if self.headers.get("Authorization", "").startswith("Hawk "):
            if grant != "fxa-credentials":
                raise FxaError(107)
            srec = self._verified_session()
            acct = self._account(srec["email"])
            out = {"access_token": self._access_token(acct, scope, client_id, ttl), "token_type": "bearer",
                   "scope": scope, "expires_in": ttl, "auth_at": int(srec["created"])}
            if body.get("access_type") == "offline":
                rt = secrets.token_hex(32)
                with STATE.lock:
                    STATE.refresh[rt] = {"email": acct.email, "scope": scope, "client_id": client_id}
                out["refresh_token"] = rt
            return self._send(200, out)
        if grant != "refresh_token":
            raise FxaError(107)
        with STATE.lock:
            rec = STATE.refresh.get(body.get("refresh_token") or "")
        if not rec or rec["client_id"] != client_id:
            raise FxaError(110)
        if not set(scope.split()) <= set(rec["scope"].split()):
            raise FxaError(107, {"message": "Requested scopes are not allowed"})
        acct = self._account(rec["email"])
        self._send(200, {"access_token": self._access_token(acct, scope, client_id, ttl), "token_type": "bearer",
                         "scope": scope, "expires_in": ttl})

    def device(self, q, body):
        srec = self._hawk(STATE.sessions, "sessionToken")
        name, dtype = body.get("name"), body.get("type")
        did = body.get("id") or srec["device"]
        if not did and (not isinstance(name, str) or dtype not in ("desktop", "mobile", "tablet", "vr", "tv")):
            raise FxaError(107)
        with STATE.lock:
            devs = STATE.devices.setdefault(srec["uid"], {})
            d = devs.get(did) if did else None
            if did and not d:
                raise FxaError(107, {"message": "Unknown device"})
            if not d:
                did = secrets.token_hex(16)
                d = devs[did] = {"id": did, "createdAt": int(now() * 1000)}
            if name is not None:
                d["name"] = name
            if dtype is not None:
                d["type"] = dtype
            srec["device"] = did
        self._send(200, dict(d))

    def devices(self, q, body):
        srec = self._hawk(STATE.sessions, "sessionToken")
        with STATE.lock:
            devs = [dict(d, isCurrentDevice=(d["id"] == srec["device"]))
                    for d in STATE.devices.get(srec["uid"], {}).values()]
        self._send(200, devs)

    def jwks(self, q, body):
        self._send(200, STATE.jwks())

    # ---- control --------------------------------------------------------------------------
    def _control(self, path, q, body):
        if path == "/__test__/account":
            acct = Account(body["email"], body["password"], bool(body.get("v2")), body.get("verify", "none"),
                           bool(body.get("totp")))
            with STATE.lock:
                STATE.accounts[acct.email.lower()] = acct
            return self._send(200, {"uid": acct.uid, "kB": acct.kb.hex(), "kA": acct.ka.hex(),
                                    "totp_secret": acct.totp_secret,
                                    "keysChangedAt": acct.keys_changed_at})
        if path == "/__test__/code":
            acct = self._account(q.get("email"))
            return self._send(200, {"code": acct.code})
        if path == "/__test__/totp":
            acct = self._account(q.get("email"))
            return self._send(200, {"code": pyotp.TOTP(acct.totp_secret).at(now())})
        if path == "/__test__/fail":
            with STATE.lock:
                STATE.failures.append({"path": body["path"], "errno": int(body["errno"]),
                                       "code": body.get("code"), "retry_after": body.get("retry_after"),
                                       "count": int(body.get("count", 1))})
            return self._send(200, {})
        if path == "/__test__/clock":
            STATE.clock_offset = float(body.get("offset", 0))
            return self._send(200, {})
        if path == "/__test__/state":
            email = (q.get("email") or "").lower()
            with STATE.lock:
                acct = STATE.accounts.get(email)
                uid = acct.uid if acct else None
                sessions = [{"verified": s["verified"], "device": s["device"]}
                            for s in STATE.sessions.values() if s["uid"] == uid]
                devs = list(STATE.devices.get(uid, {}).values())
                refresh = [r for r in STATE.refresh.values() if r["email"].lower() == email]
                out = {"sessions": sessions, "devices": devs, "refresh_tokens": len(refresh),
                       "key_fetch_tokens": len(STATE.key_fetch), "key_fetches": STATE.key_fetches}
            return self._send(200, out)
        return self._send(404, {"errno": 999})


ROUTES = {
    ("POST", "/v1/account/credentials/status"): Handler.credentials_status,
    ("POST", "/v1/account/login"): Handler.login,
    ("POST", "/v1/session/verify_code"): Handler.verify_code,
    ("POST", "/v1/session/verify/totp"): Handler.verify_totp,
    ("GET", "/v1/session/status"): Handler.session_status,
    ("POST", "/v1/session/destroy"): Handler.session_destroy,
    ("GET", "/v1/account/keys"): Handler.account_keys,
    ("POST", "/v1/account/scoped-key-data"): Handler.scoped_key_data,
    ("POST", "/v1/oauth/token"): Handler.oauth_token,
    ("POST", "/v1/account/device"): Handler.device,
    ("GET", "/v1/account/devices"): Handler.devices,
    ("GET", "/v1/jwks"): Handler.jwks,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--jwks-out", help="write the JWKS (RS256 public key) to this file")
    ap.add_argument("--watch-stdin", action="store_true", help="exit when stdin reaches its end")
    ap.add_argument("--codes-dir", help="write emailed verification codes to DIR/<email>.code")
    args = ap.parse_args()
    STATE.codes_dir = args.codes_dir
    if args.jwks_out:
        tmp = args.jwks_out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(STATE.jwks(), f)
        os.replace(tmp, args.jwks_out)
    srv = http.server.ThreadingHTTPServer((args.bind, 0), Handler)
    srv.daemon_threads = True
    print("PORT %d" % srv.server_address[1], flush=True)
    # Exit when the parent closes our stdin (tests need no pid bookkeeping to clean up).
    if args.watch_stdin:
        def watch():
            try:
                while sys.stdin.buffer.read(4096):
                    pass
            except OSError:
                pass
            os._exit(0)
        threading.Thread(target=watch, daemon=True).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
