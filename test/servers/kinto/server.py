"""Kinto for datasync's tests: a real Kinto (from PyPI) on 127.0.0.1, memory backends.

    python server.py [--port N] [--paginate-by N] [--batch-max N] [--fxa-jwks FILE --fxa-scope S]

Prints "PORT <n>" on stdout once it listens (port 0, the default, picks a free one). The
settings come from kinto.ini next to this file; the options override the paging and batch
limits so tests can cross them with a few records.

A small WSGI layer in front of Kinto injects faults for the tests, driven by
POST /__test__/fault with a JSON body (every field optional):
  {"status": 503, "retry_after": 7, "count": 2}  the next 2 requests get that error (Kinto's
                                                 own 503 shape, errno 201) with Retry-After
  {"backoff": 30, "count": 1}                    the next successful response carries Backoff
  {"alert": {...}}                               every response carries that Alert header
                                                 (Kinto's end-of-service notice)
  {"exit_after": 3}                              the process dies (os._exit) on the 3rd request
                                                 from now, before answering it
  {"before_batch": {"method": "PUT", "path": "/v1/...", "body": {...}, "user": "u:p"}}
                                                 that request is served just before the next
                                                 POST /v1/batch that writes: another client's
                                                 write landing
                                                 between a device's fetch and its upload
  {"cut_download": 5000}                         the next attachment download sends that many
                                                 bytes of the file and drops the connection
  {"fail_request": {"method": "POST", "contains": "/attachment", "skip": 1, "count": 1}}
                                                 the matching requests (method and a part of
                                                 the path), after skipping that many, get a
                                                 503 (or "status") without reaching Kinto: a
                                                 cut upload, a token refused; with "stall": S
                                                 the first match is served S seconds late
  {"revoke_bearer": true}                        every FxA bearer token seen so far is refused
                                                 from now on (401); see fxa_auth.py
  {"refuse_bearer": 1}                           the next valid bearer token presented is
                                                 refused (401) and revoked
POST /__test__/reset clears them. GET /__test__/requests returns how many requests Kinto got;
GET /__test__/bearer counts the bearer tokens accepted, revoked and refused;
GET /__test__/downloads lists the attachment downloads served ([path, Range header, status]).

Attachments (kinto-attachment) are stored in a folder (--attachments, default a fresh temporary
one) and served by this layer under /attachments/ with Range support (RFC 9110 §14), as a web
server or CDN in front of the attachment store would: Kinto itself does not serve them.
"""
import argparse
import configparser
import json
import os
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))


class Faults:
    def __init__(self, app, attachments):
        self.app = app
        self.attachments = attachments
        self.lock = threading.Lock()
        self.reset()
        self.requests = 0
        self.downloads = []

    def reset(self):
        self.status = 0
        self.retry_after = None
        self.count = 0
        self.backoff = None
        self.backoff_count = 0
        self.alert = None
        self.exit_after = 0
        self.before_batch = None
        self.cut_download = 0
        self.fail_request = None

    def serve_attachment(self, path, environ, start_response):
        rel = path[len("/attachments/"):]
        full = os.path.realpath(os.path.join(self.attachments, rel))
        if not full.startswith(os.path.realpath(self.attachments) + os.sep) or not os.path.isfile(full):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        with open(full, "rb") as f:
            data = f.read()
        rng = environ.get("HTTP_RANGE")
        status, start = "200 OK", 0
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(data):
                start_response("416 Range Not Satisfiable", [("Content-Range", "bytes */%d" % len(data))])
                self.downloads.append([rel, rng, 416])
                return [b""]
            status = "206 Partial Content"
        body = data[start:]
        headers = [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body))),
                   ("Accept-Ranges", "bytes")]
        if start:
            headers.append(("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data))))
        self.downloads.append([rel, rng, int(status[:3])])
        with self.lock:
            cut, self.cut_download = self.cut_download, 0
        start_response(status, headers)
        if cut:
            sys.stderr.write("server.py: download cut after %d bytes as asked\n" % cut)
            # The rest never comes: waitress closes the connection after a short body.
            return [body[:cut]]
        return [body]

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/__test__/"):
            return self.control(path, environ, start_response)
        if path.startswith("/attachments/"):
            return self.serve_attachment(path, environ, start_response)
        stall = 0
        with self.lock:
            self.requests += 1
            if self.exit_after:
                self.exit_after -= 1
                if self.exit_after == 0:
                    sys.stderr.write("server.py: exiting on request as asked\n")
                    sys.stderr.flush()
                    os._exit(3)
            fr = self.fail_request
            if fr and environ.get("REQUEST_METHOD") == fr.get("method", "POST") and \
                    fr.get("contains", "") in path:
                if fr.get("skip", 0) > 0:
                    fr["skip"] -= 1
                elif fr.get("stall"):
                    # Served late instead of refused: the client can be killed meanwhile.
                    stall, self.fail_request = float(fr["stall"]), None
                    sys.stderr.write("server.py: stalling %s %s for %.1f s\n" % (fr.get("method"), path, stall))
                    sys.stderr.flush()
                elif fr.get("count", 1) > 0:
                    fr["count"] = fr.get("count", 1) - 1
                    sys.stderr.write("server.py: failing %s %s as asked\n" % (fr.get("method"), path))
                    st = int(fr.get("status", 503))
                    start_response("%d Injected" % st, [("Content-Type", "application/json")])
                    return [json.dumps({"code": st, "errno": 104 if st == 401 else 201,
                                        "error": "Injected", "message": "injected"}).encode()]
            if self.count > 0 and self.status:
                self.count -= 1
                status = self.status
                headers = [("Content-Type", "application/json")]
                if self.retry_after is not None:
                    headers.append(("Retry-After", str(self.retry_after)))
                body = json.dumps({"code": status, "errno": 201, "error": "Service Unavailable",
                                   "message": "Service temporary unavailable due to overloading"})
                start_response("%d Injected" % status, headers)
                return [body.encode()]
            pre = None
            if self.before_batch and environ.get("REQUEST_METHOD") == "POST" and path == "/v1/batch":
                # Only a batch that writes (a run's first batch may only read the collection
                # and the first page): the body is read and put back for Kinto.
                import io
                n = int(environ.get("CONTENT_LENGTH") or 0)
                raw = environ["wsgi.input"].read(n)
                environ["wsgi.input"] = io.BytesIO(raw)
                if any(m in raw for m in (b'"PUT"', b'"DELETE"', b'"PATCH"', b'"POST"')):
                    pre, self.before_batch = self.before_batch, None
            extra = []
            if self.backoff is not None and self.backoff_count > 0:
                self.backoff_count -= 1
                extra.append(("Backoff", str(self.backoff)))
            if self.alert is not None:
                extra.append(("Alert", json.dumps(self.alert)))

        if stall:
            import time
            time.sleep(stall)
        if pre:
            import base64
            from webob import Request
            r = Request.blank(pre["path"], method=pre.get("method", "PUT"),
                              body=json.dumps(pre.get("body", {})).encode(),
                              headers={"Content-Type": "application/json",
                                       "Authorization": "Basic " +
                                       base64.b64encode(pre["user"].encode()).decode()})
            got = r.get_response(self.app)
            sys.stderr.write("server.py: before_batch %s %s -> %s\n" % (pre.get("method", "PUT"), pre["path"], got.status))

        def sr(status, headers, exc_info=None):
            return start_response(status, list(headers) + extra, exc_info)
        return self.app(environ, sr)

    def control(self, path, environ, start_response):
        answer = {}
        if path == "/__test__/fault":
            n = int(environ.get("CONTENT_LENGTH") or 0)
            f = json.loads(environ["wsgi.input"].read(n) or b"{}")
            with self.lock:
                if "status" in f:
                    self.status = int(f["status"])
                    self.retry_after = f.get("retry_after")
                    self.count = int(f.get("count", 1))
                if "backoff" in f:
                    self.backoff = f["backoff"]
                    self.backoff_count = int(f.get("count", 1))
                if "alert" in f:
                    self.alert = f["alert"]
                if "before_batch" in f:
                    self.before_batch = f["before_batch"]
                if "cut_download" in f:
                    self.cut_download = int(f["cut_download"])
                if "fail_request" in f:
                    self.fail_request = f["fail_request"]
                if "exit_after" in f:
                    self.exit_after = int(f["exit_after"])
            if f.get("revoke_bearer") or "refuse_bearer" in f:
                import fxa_auth
                if f.get("revoke_bearer"):
                    fxa_auth.revoke_all()
                if "refuse_bearer" in f:
                    fxa_auth.refuse_next(int(f["refuse_bearer"]))
        elif path == "/__test__/reset":
            with self.lock:
                self.reset()
        elif path == "/__test__/requests":
            answer = {"requests": self.requests}
        elif path == "/__test__/bearer":
            import fxa_auth
            answer = fxa_auth.stats()
        elif path == "/__test__/downloads":
            answer = {"downloads": self.downloads}
        else:
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b"{}"]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(answer).encode()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--paginate-by", type=int, default=0)
    ap.add_argument("--batch-max", type=int, default=0)
    ap.add_argument("--attachments", default=None, help="folder for attachment files")
    ap.add_argument("--fxa-jwks", help="accept FxA bearer tokens signed by a key of this JWKS file")
    ap.add_argument("--fxa-scope", default="https://identity.mozilla.com/apps/kinto-test",
                    help="the scope those tokens must carry")
    args = ap.parse_args()

    ini = os.path.join(HERE, "kinto.ini")
    cp = configparser.ConfigParser(defaults={"here": HERE})
    cp.read(ini)
    settings = {k: v for k, v in cp.items("app:main") if k not in ("use", "here")}
    if args.paginate_by:
        settings["kinto.paginate_by"] = str(args.paginate_by)
    if args.batch_max:
        settings["kinto.batch_max_requests"] = str(args.batch_max)
    if args.fxa_jwks:
        sys.path.insert(0, HERE)
        settings["multiauth.policies"] = "account fxa"
        settings["multiauth.policy.fxa.use"] = "fxa_auth.FxaJwtPolicy"
        settings["multiauth.policy.fxa.jwks"] = os.path.abspath(args.fxa_jwks)
        settings["multiauth.policy.fxa.scope"] = args.fxa_scope
    import tempfile
    attachments = args.attachments or tempfile.mkdtemp(prefix="kinto-attachments-")
    settings["kinto.attachment.base_path"] = attachments
    import warnings
    warnings.simplefilter("ignore")  # "HTTPS is not enabled": loopback only

    import kinto
    from waitress.server import create_server

    faults = Faults(None, attachments)
    server = create_server(faults, host="127.0.0.1", port=args.port, threads=2)
    settings["kinto.attachment.base_url"] = "http://127.0.0.1:%s/attachments/" % server.effective_port
    faults.app = kinto.main({"__file__": ini, "here": HERE}, **settings)
    print("PORT %s" % server.effective_port, flush=True)
    server.run()


if __name__ == "__main__":
    main()
