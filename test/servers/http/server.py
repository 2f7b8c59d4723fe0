#!/usr/bin/env python3
"""HTTP/HTTPS test server for the datasync HTTP client (Python 3 standard library only).

    server.py [--bind ADDR] [--tls CERT KEY]

Listens on an ephemeral port of ADDR (default 127.0.0.1), prints "PORT <n>" on stdout once
it accepts connections, and serves until killed. Routes (all deterministic):

  GET    /hello              200, short body, Sync/Kinto style response headers
  GET    /chunked?size=N     200, N bytes with Transfer-Encoding: chunked (pattern below)
  GET    /fixed?size=N       200, N bytes with Content-Length (same pattern)
  GET    /status/NNN         status NNN with body "status NNN\\n" (503 adds Retry-After)
  GET    /retry-date         503 with an HTTP-date Retry-After
  GET    /headers            200, the request headers as "name: value" lines (names lower-case)
  GET    /stall              reads the request, then never answers
  GET    /close-early        promises 1000 bytes, sends 10, closes
  PUT|POST|PATCH|any /echo   200, "method=..\\nlength=..\\ncontent-length=..\\nsha256=..\\n"
  DELETE /item               204, no body

Body pattern: byte i = (i * 7 + i // 251) % 256, so a truncated or reordered body shows.
"""
import argparse
import hashlib
import http.server
import socket
import ssl
import sys
import threading
import time
from urllib.parse import urlsplit, parse_qs


def pattern(n):
    return bytes(((i * 7 + i // 251) % 256) for i in range(n))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dstest/1"

    def log_message(self, fmt, *args):  # keep the test output quiet
        pass

    def _send(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and status not in (204, 304) and self.command != "HEAD":
            self.wfile.write(body)

    def _query(self):
        u = urlsplit(self.path)
        return u.path, {k: v[-1] for k, v in parse_qs(u.query).items()}

    def _read_body(self):
        cl = self.headers.get("Content-Length")
        if cl is None:
            return None, b""
        n = int(cl)
        data = b""
        while len(data) < n:
            chunk = self.rfile.read(n - len(data))
            if not chunk:
                break
            data += chunk
        return cl, data

    def _echo(self):
        cl, data = self._read_body()
        body = ("method=%s\nlength=%d\ncontent-length=%s\nsha256=%s\n" % (
            self.command, len(data), cl if cl is not None else "none",
            hashlib.sha256(data).hexdigest())).encode()
        self._send(200, body, [("Content-Type", "text/plain")])

    def _dispatch(self):
        path, q = self._query()
        if path == "/echo":
            return self._echo()
        # Drain a body sent with any other route so the connection stays in sync.
        self._read_body()
        if self.command == "DELETE" and path == "/item":
            return self._send(204)
        if self.command not in ("GET", "HEAD"):
            return self._send(405, b"method not allowed\n")
        if path == "/hello":
            return self._send(200, b"hello, world\n", [
                ("Content-Type", "text/plain"),
                ("X-Weave-Timestamp", "1388635807.41"),
                ("X-Last-Modified", "1388635800.00"),
                ("X-Weave-Backoff", "45"),
                ("Backoff", "30"),
                ("Retry-After", "120"),
                ("ETag", '"1388635800000"'),
                ("Next-Page", "http://127.0.0.1/next?_token=abc"),
                ("X-Weave-Records", "3"),
                ("X-Custom-Thing", "42"),
            ])
        if path == "/chunked":
            data = pattern(int(q.get("size", "0")))
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            step = 8191  # odd size: chunk boundaries never line up with the client's reads
            for off in range(0, len(data), step):
                part = data[off:off + step]
                self.wfile.write(b"%x\r\n" % len(part) + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return None
        if path == "/fixed":
            return self._send(200, pattern(int(q.get("size", "0"))))
        if path.startswith("/status/"):
            code = int(path[len("/status/"):])
            hdrs = [("Retry-After", "7")] if code == 503 else []
            return self._send(code, b"status %d\n" % code, hdrs)
        if path == "/retry-date":
            return self._send(503, b"later\n", [("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")])
        if path == "/headers":
            lines = "".join("%s: %s\n" % (k.lower(), v) for k, v in self.headers.items())
            return self._send(200, lines.encode())
        if path == "/stall":
            time.sleep(3600)
            return None
        if path == "/close-early":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            self.close_connection = True
            return None
        return self._send(404, b"not found\n")

    def __getattr__(self, name):
        # Any method (GET, PUT, POST, DELETE, PATCH, custom ones) goes to the same dispatcher.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up early (size caps, timeouts) are part of the tests


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    a = ap.parse_args()
    Server.address_family = socket.AF_INET6 if ":" in a.bind else socket.AF_INET
    srv = Server((a.bind, 0), Handler)
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("PORT %d" % srv.server_address[1], flush=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        # Exit when the parent (the test) goes away: stdin reaches EOF.
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    srv.shutdown()


if __name__ == "__main__":
    main()
