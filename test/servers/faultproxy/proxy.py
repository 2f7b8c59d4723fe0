"""A fault-injecting HTTP/1.1 proxy for datasync's tests (Python standard library only).

    python proxy.py --upstream http://127.0.0.1:PORT [--port N]

It listens on 127.0.0.1 (port 0, the default, picks a free one), prints "PORT <n>" once it
listens, and forwards every request to the upstream server (a real test server or anything
else), one connection per request: the agent's HTTP client sends one request per connection
(no keep-alive reuse, net/http_client.c), so each answer ends with "Connection: close".

Faults are rules set through the proxy itself (requests the agent never makes):

  POST /__proxy__/rules   {"rules": [RULE, ...], "user": U}   replaces the rules of the
                          requests made as user U (HTTP Basic), or with no "user" of every
                          request of no user with rules of its own; clears that request log
  GET  /__proxy__/log[?user=U]  {"requests": [{"n", "method", "path", "action", "status", "ms"}]}
  POST /__proxy__/reset   no rules, empty logs

Scopes per user let a test run several scenarios at once, each under its own account.

A RULE is {"method": M, "path": REGEX, "nth": N, "times": T, "action": A, ...parameters}:
the rule applies from the N-th request (1-based, default 1) matching the method (default any)
and the regular expression searched in the path with its query (default any), T times
(default 1; 0 = every later match). The first applicable rule wins. Actions:

  status        answer {"code": C} without asking upstream: "headers" (e.g. Retry-After,
                Backoff), "body" (text, or JSON that is serialised; default Kinto's error
                shape with "errno" when given, else 999)
  drop_request  close the connection without an answer; upstream never sees the request
  drop          forward, then close after "at" bytes of the answer (default 0): upstream did
                the work, the client never learns it
  stall         forward, send "at" bytes, wait "seconds", then the rest
  truncate      forward, send the headers with the true Content-Length and only "keep" bytes
                of the body (default half), then close
  corrupt       forward, then change the body: "how" = "cut" (first half, Content-Length
                matching), "garbage" (not JSON), "flip" (one byte in the middle turned into
                '}'), "type" (a JSON value of the wrong type: "data" a string), "empty"
  latency       wait "ms" milliseconds, then forward normally
  duplicate     send the request upstream twice (a replay by a middlebox), answer the first
  stale         answer with the last answer upstream gave to an earlier request for the same
                method, path (without the query) and credentials, even one made before these
                rules were set (a cache serving an old response); forward when none yet
  headers       forward, and add or replace the answer's "headers"

The log counts every request the client made (control requests excluded), so tests can check
that a fault never turns into a request storm and that nothing is sent after a Retry-After.
"""
import argparse
import base64
import http.client
import json
import re
import socketserver
import sys
import threading
import time
import urllib.parse

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}


class Scope:
    """The rules and the request log of one user (or of every request of no other scope)."""

    def __init__(self, rules=None):
        self.rules = [dict(r, _seen=0, _used=0) for r in (rules or [])]
        self.log = []
        self.t0 = time.monotonic()

    def pick(self, method, path):
        """Count the request against every rule it matches; return the one to apply."""
        chosen = None
        for r in self.rules:
            if r.get("method") and r["method"] != method:
                continue
            if r.get("path") and not re.search(r["path"], path):
                continue
            r["_seen"] += 1
            times = int(r.get("times", 1))
            if r["_seen"] < int(r.get("nth", 1)) or (times and r["_used"] >= times):
                continue
            if chosen is None:
                r["_used"] += 1
                chosen = r
        return chosen


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.last = {}  # (method, path, Authorization) -> the last answer upstream gave
        self.reset()

    def reset(self):
        self.scopes = {None: Scope()}

    def scope(self, user):
        return self.scopes.get(user) or self.scopes[None]


def basic_user(headers):
    for k, v in headers:
        if k.lower() == "authorization" and v.startswith("Basic "):
            try:
                return base64.b64decode(v[6:]).decode().partition(":")[0]
            except (ValueError, UnicodeDecodeError):
                return None
    return None


STATE = State()


def read_request(f):
    line = f.readline(65537)
    if not line:
        return None
    parts = line.decode("latin-1").rstrip("\r\n").split(" ")
    if len(parts) != 3:
        raise ValueError("bad request line")
    headers = []
    while True:
        h = f.readline(65537)
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers.append((k.strip(), v.strip()))
    n = 0
    for k, v in headers:
        if k.lower() == "content-length":
            n = int(v)
    body = f.read(n) if n else b""
    return parts[0], parts[1], headers, body


def forward(upstream, method, target, headers, body):
    u = urllib.parse.urlsplit(upstream)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        h = {k: v for k, v in headers if k.lower() not in HOP}
        c.request(method, target, body=body or None, headers=h)
        r = c.getresponse()
        data = r.read()
        return r.status, r.reason, [(k, v) for k, v in r.getheaders() if k.lower() not in HOP], data
    finally:
        c.close()


def kinto_error(code, errno):
    return json.dumps({"code": code, "errno": errno, "error": "Injected",
                       "message": "fault injected by the test proxy"}).encode()


def corrupt(body, how):
    if how == "cut":
        return body[: len(body) // 2]
    if how == "garbage":
        return b"<html><body>502 Bad Gateway</body></html>"
    if how == "flip":
        if not body:
            return b"}"
        i = len(body) // 2
        return body[:i] + b"}" + body[i + 1:]
    if how == "type":
        return b'{"data": "not a list", "settings": 7, "responses": "none"}'
    if how == "empty":
        return b""
    raise ValueError("unknown corruption " + how)


def head_bytes(status, reason, headers, length):
    out = ["HTTP/1.1 %d %s" % (status, reason)]
    out += ["%s: %s" % (k, v) for k, v in headers]
    out += ["Content-Length: %d" % length, "Connection: close", "", ""]
    return "\r\n".join(out).encode("latin-1")


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        try:
            req = read_request(self.rfile)
        except (ValueError, OSError):
            return
        if req is None:
            return
        method, target, headers, body = req
        if target.startswith("/__proxy__/"):
            return self.control(method, target, body)
        with STATE.lock:
            scope = STATE.scope(basic_user(headers))
            rule = scope.pick(method, target)
            n = len(scope.log) + 1
            entry = {"n": n, "method": method, "path": target,
                     "action": rule["action"] if rule else "pass", "status": 0,
                     "ms": int((time.monotonic() - scope.t0) * 1000)}
            scope.log.append(entry)
            key = (method, target.split("?")[0], dict((k.lower(), v) for k, v in headers).get("authorization"))
            stale = STATE.last.get(key)
        try:
            self.serve(rule, method, target, headers, body, entry, stale, key)
        except OSError as e:
            sys.stderr.write("proxy: %s %s: %s\n" % (method, target, e))

    def send(self, data):
        self.wfile.write(data)
        self.wfile.flush()

    def serve(self, rule, method, target, headers, body, entry, stale, key):
        action = rule["action"] if rule else "pass"
        sys.stderr.write("proxy: %d %s %s -> %s\n" % (entry["n"], method, target, action))
        if action == "drop_request":
            return
        if action == "status":
            code = int(rule["code"])
            b = rule.get("body")
            if b is None:
                b = kinto_error(code, int(rule.get("errno", 999)))
            elif not isinstance(b, str):
                b = json.dumps(b).encode()
            else:
                b = b.encode()
            hs = [("Content-Type", "application/json")] + list(rule.get("headers", {}).items())
            entry["status"] = code
            self.send(head_bytes(code, "Injected", hs, len(b)) + b)
            return
        if action == "latency":
            time.sleep(int(rule.get("ms", 500)) / 1000.0)
        if action == "stale" and stale is not None:
            status, reason, hs, data = stale
        else:
            try:
                status, reason, hs, data = forward(self.server.upstream, method, target, headers, body)
                if action == "duplicate":
                    forward(self.server.upstream, method, target, headers, body)
            except OSError as e:
                sys.stderr.write("proxy: upstream: %s\n" % e)
                return
            with STATE.lock:
                STATE.last[key] = (status, reason, hs, data)
        entry["status"] = status
        if action == "headers":
            names = {k.lower() for k in rule.get("headers", {})}
            hs = [(k, v) for k, v in hs if k.lower() not in names] + list(rule["headers"].items())
        if action == "corrupt":
            data = corrupt(data, rule.get("how", "cut"))
        whole = head_bytes(status, reason, hs, len(data)) + data
        if action == "drop":
            self.send(whole[: int(rule.get("at", 0))])
            return
        if action == "truncate":
            keep = int(rule.get("keep", len(data) // 2))
            self.send(head_bytes(status, reason, hs, len(data)) + data[:keep])
            return
        if action == "stall":
            at = int(rule.get("at", 0))
            self.send(whole[:at])
            time.sleep(float(rule.get("seconds", 1)))
            self.send(whole[at:])
            return
        self.send(whole)

    def control(self, method, target, body):
        answer = {}
        path, _, query = target.partition("?")
        user = urllib.parse.parse_qs(query).get("user", [None])[0]
        if path == "/__proxy__/rules" and method == "POST":
            f = json.loads(body or b"{}")
            with STATE.lock:
                STATE.scopes[f.get("user")] = Scope(f.get("rules", []))
        elif path == "/__proxy__/reset" and method == "POST":
            with STATE.lock:
                STATE.reset()
        elif path == "/__proxy__/log":
            with STATE.lock:
                answer = {"requests": list(STATE.scope(user).log)}
        else:
            self.send(head_bytes(404, "Not Found", [], 0))
            return
        b = json.dumps(answer).encode()
        self.send(head_bytes(200, "OK", [("Content-Type", "application/json")], len(b)) + b)


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.upstream = a.upstream
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
