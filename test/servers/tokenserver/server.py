#!/usr/bin/env python3
"""Tokenserver 1.0 test server (OAuth flavour), in front of any Sync 1.5 storage node.

    server.py --jwks FILE --node URL --secret SECRET [--issuer URL] [--bind ADDR] [--port N]
              [--duration S] [--metrics-hash-secret S] [--node-type T] [--no-new-users]
              [--fail-status N [--retry-after V] [--fail-count N]] [--backoff V]
              [--exit-on-eof]

Listens on ADDR:PORT (default 127.0.0.1, an ephemeral port), prints "PORT <n>" on stdout once
it accepts connections, and serves until killed (or, with --exit-on-eof, until stdin closes:
a parent test that dies takes the server with it).

What it does, after mozilla-services/syncstorage-rs (SSRS) syncserver/src/tokenserver
(handlers.rs, extractors.rs) and tokenserver-common/src/error.rs:

  GET /1.0/sync/1.5[?duration=N]
      Authorization: Bearer <JWT>   RS256, header typ "at+jwt" (SSRS tokenserver-auth
                                    crypto.rs), signature by a key of the JWKS file, "exp" in the
                                    future, "scope" holding https://identity.mozilla.com/apps/oldsync,
                                    "iss" equal to --issuer when given; "sub" is the FxA uid,
                                    "fxa-generation" the optional generation.
      X-KeyID: <keys_changed_at>-<b64url client state>   (required)
      X-Client-State: <hex>         optional, must match the X-KeyID.
  -> 200 {"id","key","uid","api_endpoint","duration","hashed_fxa_uid","hashalg","node_type"}
     with the id/key minted by Mozilla's tokenlib for --secret, or an error body
     {"status": ..., "errors": [{"location", "name", "description"}]}.

Per FxA uid it keeps, in memory, what SSRS keeps in its users table: generation,
keys_changed_at, the current client state and every earlier one, the uid and the node. A new
client state makes a new user record with a new uid, as SSRS does.

The JWKS file is re-read whenever it changes, so the FxA test server may write it after this
server started. X-Timestamp is on every response.

Test control (not part of the protocol), JSON in and out:
  POST /__testing__/config   any of: node, duration, allow_new_users, new_users_status,
                             backoff (X-Backoff on every response; null clears),
                             timestamp (fixed X-Timestamp; null: the real clock),
                             fail {status, retry_after, count, status_string}
                             (the next `count` token requests fail; count -1: until cleared;
                             fail null clears),
                             raw {status, body, count}: the next `count` token requests get
                             exactly this body (a broken server; raw null clears)
  GET  /__testing__/stats    {"token_requests": n, "users": {...}}
  POST /__testing__/reset    forget users, counters and config changes
"""
import argparse
import base64
import binascii
import hashlib
import hmac
import http.server
import json
import os
import re
import sys
import threading
import time
from urllib.parse import urlsplit, parse_qs

import jwt
import tokenlib

OLDSYNC_SCOPE = "https://identity.mozilla.com/apps/oldsync"
# SSRS extractors.rs CLIENT_STATE_REGEX, for the X-Client-State header.
CLIENT_STATE_RE = re.compile(r"^[a-zA-Z0-9._-]{1,32}$")


class TokenError(Exception):
    """An error response in tokenserver's format (SSRS tokenserver-common error.rs)."""

    def __init__(self, http_status, status, location, name, description):
        super().__init__(description)
        self.http_status = http_status
        self.status = status
        self.location = location
        self.name = name
        self.description = description

    def body(self):
        return {"status": self.status,
                "errors": [{"location": self.location, "name": self.name,
                            "description": self.description}]}


def unauthorized(description="Unauthorized"):
    return TokenError(401, "error", "body", "", description)


def invalid_credentials(description="Unauthorized"):
    return TokenError(401, "invalid-credentials", "body", "", description)


def invalid_generation():
    return TokenError(401, "invalid-generation", "body", "", "Unauthorized")


def invalid_keys_changed_at():
    return TokenError(401, "invalid-keysChangedAt", "body", "", "Unauthorized")


def invalid_key_id(description):
    return TokenError(401, "invalid-key-id", "header", "", description)


def invalid_client_state(description, location="header"):
    return TokenError(401, "invalid-client-state", location, "X-Client-State", description)


def b64url_decode(s):
    if not re.fullmatch(r"[A-Za-z0-9_-]*", s) or len(s) % 4 == 1:
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64url_encode(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def metrics_hash(value, key):
    """SSRS extractors.rs fxa_metrics_hash: hex HMAC-SHA256."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def mint_token(secret, data):
    """tokenlib's id and derived key for the token payload `data` (a dict, in order)."""
    manager = tokenlib.TokenManager(secret=secret)
    token = manager.make_token(data)
    return token, manager.get_derived_secret(token)


class Jwks:
    """The RSA public keys of the JWKS file, re-read when the file changes."""

    def __init__(self, path):
        self.path = path
        self.stamp = None
        self.keys = []
        self.lock = threading.Lock()

    def current(self):
        with self.lock:
            try:
                st = os.stat(self.path)
                stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            except OSError:
                return []
            if stamp != self.stamp:
                try:
                    with open(self.path, "r", encoding="utf-8") as f:
                        data = json.load(f)
                    keys = []
                    for k in data.get("keys", []):
                        if k.get("kty") != "RSA":
                            continue
                        keys.append((k.get("kid"), jwt.PyJWK(k, algorithm="RS256").key))
                    self.keys = keys
                    self.stamp = stamp
                except (OSError, ValueError, jwt.PyJWTError) as e:
                    # A writer may be half-way: keep the old keys and read again next time.
                    print("tokenserver: JWKS %s unreadable: %s" % (self.path, e), file=sys.stderr)
            return list(self.keys)


class State:
    def __init__(self, args):
        self.args = args
        self.jwks = Jwks(args.jwks)
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        a = self.args
        self.node = a.node
        self.duration = a.duration
        self.allow_new_users = not a.no_new_users
        self.new_users_status = 403
        self.backoff = a.backoff
        self.timestamp = None
        self.fail = None
        self.raw = None
        if a.fail_status:
            self.fail = {"status": a.fail_status, "retry_after": a.retry_after,
                         "count": a.fail_count}
        self.users = {}      # fxa uid -> current user record
        self.next_uid = 1
        self.token_requests = 0

    def now(self):
        return self.timestamp if self.timestamp is not None else int(time.time())


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dstest-tokenserver/1"

    def log_message(self, fmt, *args):  # keep the test output quiet
        pass

    @property
    def st(self):
        return self.server.state

    def _send_json(self, status, obj, extra=()):
        body = json.dumps(obj).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        # SSRS sets X-Timestamp on success and errors; the test server on every response.
        self.send_header("X-Timestamp", str(self.st.now()))
        if self.st.backoff is not None:
            self.send_header("X-Backoff", str(self.st.backoff))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_raw(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Timestamp", str(self.st.now()))
        self.end_headers()
        self.wfile.write(body)

    def _read_json(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        return json.loads(raw.decode("utf-8")) if raw else {}

    # ---- routing -------------------------------------------------------------------------

    def do_GET(self):
        u = urlsplit(self.path)
        if u.path == "/__testing__/stats":
            with self.st.lock:
                self._send_json(200, {"token_requests": self.st.token_requests,
                                      "users": self.st.users})
            return
        m = re.fullmatch(r"/1\.0/([^/]+)/([^/]+)", u.path)
        if not m:
            self._send_json(404, TokenError(404, "error", "url", "", "Not Found").body())
            return
        with self.st.lock:
            self.st.token_requests += 1
            raw = self.st.raw
            if raw and raw["count"] != 0:
                if raw["count"] > 0:
                    raw["count"] -= 1
                self._send_raw(raw["status"], raw["body"].encode("utf-8"))
                return
            try:
                status, body, extra = self._token(m.group(1), m.group(2), parse_qs(u.query))
            except TokenError as e:
                status, body, extra = e.http_status, e.body(), ()
        self._send_json(status, body, extra)

    def do_POST(self):
        u = urlsplit(self.path)
        try:
            req = self._read_json()
        except ValueError:
            self._send_json(400, {"error": "body is not JSON"})
            return
        with self.st.lock:
            if u.path == "/__testing__/reset":
                self.st.reset()
                self._send_json(200, {})
            elif u.path == "/__testing__/config":
                try:
                    self._config(req)
                except (KeyError, TypeError, ValueError) as e:
                    self._send_json(400, {"error": str(e)})
                    return
                self._send_json(200, {})
            else:
                self._send_json(404, TokenError(404, "error", "url", "", "Not Found").body())

    def _config(self, req):
        st = self.st
        for key in req:
            if key not in ("node", "duration", "allow_new_users", "new_users_status", "backoff",
                           "timestamp", "fail", "raw"):
                raise KeyError("unknown config key %s" % key)
        if "node" in req:
            st.node = str(req["node"])
        if "duration" in req:
            st.duration = int(req["duration"])
        if "allow_new_users" in req:
            st.allow_new_users = bool(req["allow_new_users"])
        if "new_users_status" in req:
            st.new_users_status = int(req["new_users_status"])
        if "backoff" in req:
            st.backoff = None if req["backoff"] is None else str(req["backoff"])
        if "timestamp" in req:
            st.timestamp = None if req["timestamp"] is None else int(req["timestamp"])
        if "fail" in req:
            f = req["fail"]
            if f is not None:
                f = {"status": int(f["status"]), "retry_after": f.get("retry_after"),
                     "count": int(f.get("count", 1)), "status_string": f.get("status_string")}
            st.fail = f
        if "raw" in req:
            r = req["raw"]
            if r is not None:
                r = {"status": int(r["status"]), "body": str(r["body"]),
                     "count": int(r.get("count", 1))}
            st.raw = r

    # ---- the token endpoint ----------------------------------------------------------------

    def _forced_failure(self):
        f = self.st.fail
        if not f or f["count"] == 0:
            return None
        if f["count"] > 0:
            f["count"] -= 1
        status = f["status"]
        if status == 503:
            # SSRS TokenserverError::resource_unavailable()
            err = TokenError(503, f.get("status_string") or "error", "body", "",
                             "Resource is not available")
        elif status >= 500:
            err = TokenError(status, f.get("status_string") or "internal-error", "internal", "",
                             "Server error")
        else:
            err = TokenError(status, f.get("status_string") or "error", "body", "", "Forced error")
        extra = []
        if f.get("retry_after") is not None:
            extra.append(("Retry-After", str(f["retry_after"])))
        return err.http_status, err.body(), extra

    def _verify_bearer(self):
        """SSRS extractors.rs Token + tokenserver-auth crypto.rs JWTVerifierImpl."""
        auth = self.headers.get("Authorization")
        if auth is None:
            raise unauthorized()
        scheme, sep, token = auth.partition(" ")
        if not sep:
            raise unauthorized()
        if scheme.lower() != "bearer":
            raise unauthorized("Unsupported")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise invalid_credentials()
        typ = header.get("typ") or ""
        if "/" not in typ:
            typ = "application/" + typ
        if typ.lower() != "application/at+jwt":
            raise invalid_credentials()
        keys = self.st.jwks.current()
        kid = header.get("kid")
        candidates = [k for k in keys if kid is None or k[0] is None or k[0] == kid]
        claims = None
        for _, key in candidates:
            try:
                claims = jwt.decode(token, key=key, algorithms=["RS256"],
                                    options={"verify_aud": False, "require": ["exp", "sub"]})
                break
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError:
                raise invalid_credentials()
        if claims is None:
            raise invalid_credentials()
        if self.server.args.issuer is not None and claims.get("iss") != self.server.args.issuer:
            raise invalid_credentials()
        scope = claims.get("scope")
        scopes = re.split(r"[\s,]+", scope) if isinstance(scope, str) else []
        if OLDSYNC_SCOPE not in scopes:
            raise invalid_credentials()
        sub = claims.get("sub")
        gen = claims.get("fxa-generation")
        if not isinstance(sub, str) or not sub:
            raise invalid_credentials()
        if gen is not None and (not isinstance(gen, int) or isinstance(gen, bool)):
            raise invalid_credentials()
        return sub, gen

    def _key_id(self):
        """SSRS extractors.rs KeyId: (keys_changed_at, client state hex)."""
        kid = self.headers.get("X-KeyID")
        if kid is None:
            raise invalid_key_id("Missing X-KeyID header")
        kca_s, sep, cs_b64 = kid.partition("-")
        if not sep:
            raise invalid_credentials()
        try:
            cs = binascii.hexlify(b64url_decode(cs_b64)).decode("ascii")
        except (ValueError, binascii.Error):
            raise invalid_credentials()
        xcs = self.headers.get("X-Client-State")
        if xcs is not None:
            if not CLIENT_STATE_RE.fullmatch(xcs):
                raise TokenError(400, "error", "header", "X-Client-State",
                                 "Invalid client state value")
            if xcs != cs:
                raise invalid_client_state("Unauthorized", location="body")
        if not re.fullmatch(r"[+-]?[0-9]+", kca_s):
            raise invalid_credentials()
        return int(kca_s), cs

    def _token(self, application, version, query):
        st = self.st
        forced = self._forced_failure()
        if forced:
            return forced
        fxa_uid, generation = self._verify_bearer()
        kca, client_state = self._key_id()
        # The Python tokenserver took 0 for null; SSRS keeps that (convert_zero_to_none).
        generation = generation or None
        kca = kca or None
        if application != "sync":
            raise TokenError(404, "error", "url", "application", "Unsupported application")
        if version != "1.5":
            raise TokenError(404, "error", "url", version, "Unsupported application version")

        user = st.users.get(fxa_uid)
        if user is None:
            if not st.allow_new_users:
                raise TokenError(st.new_users_status, "new-users-disabled", "body", "",
                                 "Unauthorized")
            user = {"uid": st.next_uid, "generation": generation or 0,
                    "keys_changed_at": kca, "client_state": client_state,
                    "old_client_states": [], "node": st.node}
            st.next_uid += 1
            st.users[fxa_uid] = user
        self._validate(user, generation, kca, client_state)
        self._update(user, generation, kca, client_state)

        duration = st.duration
        if "duration" in query:
            # SSRS: a bad or too long ?duration never fails the request.
            try:
                d = int(query["duration"][-1])
                if 0 <= d <= st.duration:
                    duration = d
            except ValueError:
                pass
        secret_key = self.server.args.metrics_hash_secret.encode("utf-8")
        hashed_fxa_uid = metrics_hash(fxa_uid, secret_key)[0:32]
        hashed_device_id = metrics_hash(hashed_fxa_uid + "none", secret_key)[0:32]
        fxa_kid = "%013d-%s" % (user["keys_changed_at"] or user["generation"],
                                b64url_encode(binascii.unhexlify(user["client_state"])))
        node = user["node"]
        data = {"uid": user["uid"], "node": node, "expires": int(time.time()) + duration,
                "fxa_uid": fxa_uid, "fxa_kid": fxa_kid, "hashed_fxa_uid": hashed_fxa_uid,
                "hashed_device_id": hashed_device_id}
        token, key = mint_token(self.server.args.secret, data)
        body = {"id": token, "key": key, "uid": user["uid"],
                "api_endpoint": "%s/1.5/%d" % (node.rstrip("/"), user["uid"]),
                "duration": duration, "hashed_fxa_uid": hashed_fxa_uid, "hashalg": "sha256",
                "node_type": self.server.args.node_type}
        return 200, body, [("X-Content-Type-Options", "nosniff")]

    @staticmethod
    def _validate(user, generation, kca, client_state):
        """SSRS extractors.rs TokenserverRequest::validate, rule for rule and in its order."""
        ukca = user["keys_changed_at"]
        ugen = user["generation"]

        def gt(a, b):
            return a is not None and b is not None and a > b

        def le(a, b):
            return a is not None and b is not None and a <= b

        if gt(kca, ukca) and gt(kca, generation):
            raise invalid_keys_changed_at()
        if user["client_state"] and not client_state:
            raise invalid_client_state("Unacceptable client-state value empty string")
        if client_state in user["old_client_states"]:
            raise invalid_client_state("Unacceptable client-state value stale value")
        if client_state != user["client_state"] and le(generation, ugen):
            raise invalid_client_state(
                "Unacceptable client-state value new value with no generation change")
        if client_state != user["client_state"] and le(kca, ukca):
            raise invalid_client_state(
                "Unacceptable client-state value new value with no keys_changed_at change")
        if gt(ugen, generation):
            raise invalid_generation()
        if gt(ukca, kca):
            raise invalid_keys_changed_at()
        if kca is None and ukca not in (None, 0):
            raise invalid_keys_changed_at()

    def _update(self, user, generation, kca, client_state):
        """SSRS handlers.rs update_user: move generation/keys_changed_at forward; a new client
        state replaces the user record (new uid), the old state is never accepted again."""
        ukca = user["keys_changed_at"]
        if kca is not None:
            new_kca = kca
        elif ukca is not None:
            new_kca = 0
        else:
            new_kca = None
        if generation is not None:
            new_gen = generation
        elif kca is not None and kca > user["generation"] and (ukca is None or kca > ukca):
            new_gen = kca
        else:
            new_gen = user["generation"]
        if client_state != user["client_state"]:
            user["old_client_states"].append(user["client_state"])
            user["client_state"] = client_state
            user["uid"] = self.st.next_uid
            self.st.next_uid += 1
        user["generation"] = new_gen
        user["keys_changed_at"] = new_kca
        # A node change by /__testing__/config moves every user on its next request (node
        # reassignment as the client sees it).
        user["node"] = self.st.node


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jwks", required=True, help="JWKS file with the OAuth RSA public keys")
    ap.add_argument("--issuer", default=None, help="required 'iss' of the JWTs (default: any)")
    ap.add_argument("--node", required=True, help="storage node URL, e.g. http://127.0.0.1:8000")
    ap.add_argument("--secret", required=True, help="tokenlib master secret shared with the node")
    ap.add_argument("--metrics-hash-secret", default="datasync-test-metrics",
                    help="key of hashed_fxa_uid / hashed_device_id")
    ap.add_argument("--node-type", default="spanner")
    ap.add_argument("--duration", type=int, default=3600, help="token lifetime, seconds")
    ap.add_argument("--no-new-users", action="store_true")
    ap.add_argument("--fail-status", type=int, default=0)
    ap.add_argument("--retry-after", default=None)
    ap.add_argument("--fail-count", type=int, default=-1)
    ap.add_argument("--backoff", default=None, help="X-Backoff value on every response")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--exit-on-eof", action="store_true", help="exit when stdin closes")
    args = ap.parse_args()

    srv = Server((args.bind, args.port), Handler)
    srv.args = args
    srv.state = State(args)
    print("PORT %d" % srv.server_address[1], flush=True)
    if args.exit_on_eof:
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            sys.stdin.read()
        except KeyboardInterrupt:
            pass
        srv.shutdown()
    else:
        try:
            srv.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
