#!/usr/bin/env python3
"""Sync 1.5 storage node test server: the storage API 1.5, Hawk + tokenlib auth, test knobs.

    server.py --secret SECRET [--data-dir DIR] [--bind ADDR] [--port N] [--hawk-skew S]
              [--quota-kb N] [--no-batching] [--batch-id-format F] [--offset-format F]
              [--limits JSON] [--no-check-node] [--exit-on-eof]

Prints "PORT <n>" on stdout once it listens; serves until killed or, with --exit-on-eof, until
stdin closes. Protocol: the Sync 1.5 API document (syncstorage-rs docs/src/syncstorage/
api-1.5.md), the respcodes table, and the reference notes sync15.md §2 / accounts.md §6, §8.
docs/test-servers.md describes the behaviour, the choices where the API allows several, and the
test control endpoints under /__testing__/.
"""
import argparse
import base64
import hashlib
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from urllib.parse import urlsplit, parse_qsl, unquote

import hawkauthlib
import hawkauthlib.utils
import tokenlib
import tokenlib.errors
import webob
from hawkauthlib.noncecache import NonceCache

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from storage import Stores, cs_to_str, cs_to_json, parse_ts  # noqa: E402
import knobs  # noqa: E402

# go-syncstorage's published configuration (accounts.md §9), the default limits here.
DEFAULT_LIMITS = {
    "max_request_bytes": 2097152, "max_post_records": 100, "max_post_bytes": 2097152,
    "max_total_records": 1000, "max_total_bytes": 20971520, "max_record_payload_bytes": 2097152,
}
# Weave response codes (syncstorage-rs docs/src/response-codes.md).
ERR_ILLEGAL = 1
ERR_JSON = 6
ERR_INVALID_BSO = 8
ERR_INVALID_COLLECTION = 13
ERR_OVER_QUOTA = 14
ERR_SIZE_LIMIT = 17

COLLECTION_RE = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
BSO_ID_RE = re.compile(r"^[\x20-\x7e]{1,64}$")      # DOCS: printable ASCII, max 64
MAX_IDS = 100                                       # DOCS: ids (max 100)
BATCH_MAX_AGE_CS = 2 * 3600 * 100                   # an unfinished batch is dropped after 2 h


class ApiError(Exception):
    def __init__(self, status, body=None, headers=()):
        super().__init__("%d %r" % (status, body))
        self.status = status
        self.body = body
        self.headers = list(headers)


def weave_error(code, status=400):
    """400 (or 413/...) with the weave code as the JSON body (DOCS "400 Bad Request")."""
    return ApiError(status, code)


def auth_error(description, extra_headers=()):
    """401 with a body in syncstorage-rs's validation error style and a Hawk challenge."""
    body = {"status": "invalid-credentials",
            "errors": [{"location": "header", "name": "Authorization",
                        "description": description}]}
    return ApiError(401, body, [("WWW-Authenticate", "Hawk")] + list(extra_headers))


class RawPathRequest(webob.Request):
    """A WebOb request whose path_qs is the request target exactly as the client sent it:
    Hawk signs the URI as sent (hawk API.md), and WebOb would re-quote a decoded path."""
    raw_target = None

    @property
    def path_qs(self):
        return self.raw_target


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.own_data_dir = None
        data_dir = args.data_dir
        if data_dir is None:
            data_dir = self.own_data_dir = tempfile.mkdtemp(prefix="syncstorage-")
        self.stores = Stores(None if data_dir == ":memory:" else data_dir)
        self.reset()

    def reset(self):
        a = self.args
        self.stores.reset()
        self.limits = dict(DEFAULT_LIMITS)
        if a.limits:
            self.limits.update(json.loads(a.limits))
        self.quota_kb = a.quota_kb
        self.batching = not a.no_batching
        self.batch_id_format = a.batch_id_format
        self.offset_format = a.offset_format
        self.hawk_skew = a.hawk_skew
        self.clock_offset = 0.0
        self.nonces = NonceCache(window=max(self.hawk_skew, 1))
        self.offsets = {}          # opaque offset token -> position
        self.batch_seq = 0
        self.knobs = knobs.Knobs()

    def now_cs(self):
        return int((time.time() + self.clock_offset) * 100)

    def new_batch_id(self):
        """The API only says the id is opaque and may need URL-encoding. Formats:
        b64: standard base64 with padding of a counter and random bytes, so '+', '/' and '='
        occur (syncstorage-rs encodes its ids with standard base64); int: a decimal number;
        uuid: a UUID-like hex string."""
        self.batch_seq += 1
        fmt = self.batch_id_format
        if fmt == "int":
            return str(self.batch_seq * 1000 + secrets.randbelow(1000))
        if fmt == "uuid":
            return secrets.token_hex(16)
        raw = b"%d:" % self.batch_seq + secrets.token_bytes(7) + b"\xfb\xff"
        return base64.b64encode(raw).decode("ascii")

    def new_offset(self, pos):
        """X-Weave-Next-Offset: "always a string from the urlsafe-base64 alphabet; clients
        must treat it as opaque" (DOCS). int: the position as syncstorage-rs sends it;
        opaque: a random token the server maps to the position."""
        if self.offset_format == "int":
            return str(pos)
        tok = secrets.token_urlsafe(9)
        self.offsets[tok] = pos
        return tok

    def parse_offset(self, text):
        if self.offset_format == "int":
            if not re.fullmatch(r"[0-9]{1,9}", text):
                raise ValueError("bad offset")
            return int(text)
        if text not in self.offsets:
            raise ValueError("unknown offset")
        return self.offsets[text]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dstest-syncstorage/1"

    def log_message(self, fmt, *args):
        pass

    @property
    def st(self):
        return self.server.state

    # ---- plumbing -------------------------------------------------------------------------

    def _read_body(self):
        n = self.headers.get("Content-Length")
        if n is None:
            return b""
        try:
            n = int(n)
        except ValueError:
            raise weave_error(ERR_ILLEGAL)
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, body, headers=(), content_type="application/json", ts=None):
        st = self.st
        if isinstance(body, bytes):
            raw = body
        elif body is None and status in (304,):
            raw = b""
        else:
            raw = json.dumps(body).encode("utf-8")
        now = st.now_cs()
        weave_ts = max(now, ts or 0)
        hdrs = [("X-Weave-Timestamp", cs_to_str(weave_ts))]
        hdrs.extend(headers)
        hdrs.extend(self._extra_headers)
        self.send_response(status)
        seen = set()
        for k, v in hdrs:
            if k.lower() in seen and k.lower() != "www-authenticate":
                continue
            seen.add(k.lower())
            self.send_header(k, v)
        if status != 304:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        if status != 304 and self.command != "HEAD":
            self.wfile.write(raw)
        self._resp_bytes = len(raw)
        self._status = status

    def _handle(self):
        self._extra_headers = []
        self._resp_bytes = 0
        self._status = 0
        target = self.path
        body = b""
        try:
            body = self._read_body()
            path = urlsplit(target).path
            if path.startswith("/__testing__/"):
                with self.st.lock:
                    status, obj = knobs.control(self.st, self.command, target, body)
                self._send(status, obj)
                return
            with self.st.lock:
                self._dispatch(target, body)
        except ApiError as e:
            self._send(e.status, e.body, e.headers)
        except BrokenPipeError:
            pass
        finally:
            if not urlsplit(target).path.startswith("/__testing__/"):
                with self.st.lock:
                    self.st.knobs.record(self.command, target, self._status,
                                         len(body), self._resp_bytes, self.headers)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = lambda self: self._handle()

    # ---- auth -----------------------------------------------------------------------------

    def _authenticate(self, target, uid, allow_expired):
        """Hawk (hawkauthlib) with the tokenlib token as id and its derived secret as key
        (accounts.md §6, §8). Order: parse, token, uid, node, MAC, payload hash, clock skew,
        nonce (hawkauthlib checks nonces only after a good MAC, to keep forgers from
        filling the cache)."""
        st = self.st
        req = RawPathRequest.blank(target)
        req.raw_target = target
        req.method = self.command
        host = self.headers.get("Host") or ""
        req.host = host
        auth = self.headers.get("Authorization")
        if not auth:
            raise auth_error("missing Authorization header")
        req.headers["Authorization"] = auth
        try:
            params = hawkauthlib.utils.parse_authz_header(req)
        except ValueError:
            raise auth_error("malformed Authorization header")
        if params.get("scheme") != "Hawk":
            raise auth_error("not a Hawk Authorization header")
        for p in ("id", "ts", "nonce", "mac"):
            if p not in params:
                raise auth_error("Hawk parameter %s missing" % p)
        mgr = tokenlib.TokenManager(secret=st.args.secret)
        try:
            data = mgr.parse_token(params["id"], now=0 if allow_expired else
                                   time.time() + st.clock_offset)
        except tokenlib.errors.ExpiredTokenError:
            raise auth_error("token expired")
        except (ValueError, KeyError, TypeError):
            raise auth_error("invalid token")
        if data.get("uid") != uid:
            raise auth_error("uid in URL (%s) is not the token's (%s)" % (uid, data.get("uid")))
        if st.args.check_node and data.get("node", "").rstrip("/") != "http://" + host.lower():
            # Node reassignment: a token minted for another node is refused here.
            raise auth_error("token is for node %s" % data.get("node"))
        key = mgr.get_derived_secret(params["id"]).encode("ascii")
        try:
            expected = hawkauthlib.get_signature(req, key, params=params)
        except (ValueError, KeyError):
            raise auth_error("cannot compute the Hawk MAC")
        if hawkauthlib.utils.strings_differ(params["mac"], expected):
            raise auth_error("Hawk MAC mismatch")
        if "hash" in params:
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            h = hashlib.sha256(b"hawk.1.payload\n" + ctype.encode() + b"\n" + self._body_for_hash
                               + b"\n").digest()
            if hawkauthlib.utils.strings_differ(params["hash"], base64.b64encode(h).decode()):
                raise auth_error("Hawk payload hash mismatch")
        try:
            ts = int(params["ts"])
        except ValueError:
            raise auth_error("bad Hawk ts")
        now = int(time.time() + st.clock_offset)
        if abs(now - ts) > st.hawk_skew:
            # Hawk's stale-timestamp challenge carries the server time and its MAC (hawk
            # API.md "Replay Protection"), for the client's clock correction.
            tsm = base64.b64encode(__import__("hmac").new(
                key, b"hawk.1.ts\n%d\n" % now, hashlib.sha256).digest()).decode()
            raise ApiError(401, {"status": "invalid-credentials", "errors": [
                {"location": "header", "name": "Authorization",
                 "description": "Stale timestamp"}]},
                [("WWW-Authenticate", 'Hawk ts="%d", tsm="%s", error="Stale timestamp"'
                  % (now, tsm))])
        # The nonce cache judges time on the server's (offset) clock.
        st.nonces.get_time = lambda: time.time() + st.clock_offset
        st.nonces._seen.get_time = st.nonces.get_time
        if not st.nonces.check_nonce(ts, params["id"] + "\n" + params["nonce"]):
            raise auth_error("Hawk nonce replayed")
        return data

    # ---- dispatch -------------------------------------------------------------------------

    def _dispatch(self, target, body):
        st = self.st
        parts = urlsplit(target)
        self._body_for_hash = body
        m = re.fullmatch(r"/1\.5/([0-9]+)(/.*)?", parts.path)
        if not m:
            raise ApiError(404, 0)
        uid = int(m.group(1))
        rest = m.group(2) or ""
        segs = [unquote(s) for s in rest.split("/")[1:]] if rest not in ("", "/") else []
        query = parse_qsl(parts.query, keep_blank_values=True)
        q = {}
        for k, v in query:
            q[k] = v

        # Test injections come before anything else: a proxy or a broken node answers them.
        inj = st.knobs.take_injection(self.command, parts.path)
        if inj is not None:
            self._extra_headers = list(inj.get("headers", {}).items())
            if inj.get("status"):
                body_out = inj.get("body", 0)
                self._send(int(inj["status"]), body_out)
                return
        self._extra_headers += st.knobs.sticky_headers()

        allow_expired = self.command == "GET" and segs == ["info", "collections"]
        self._authenticate(target, uid, allow_expired)
        store = st.stores.get(uid)
        st.knobs.run_concurrent_writes(self.command, parts.path, uid, store, st.now_cs())

        ims = self.headers.get("X-If-Modified-Since")
        ius = self.headers.get("X-If-Unmodified-Since")
        if ims is not None and ius is not None:
            raise weave_error(ERR_ILLEGAL)
        try:
            ims = parse_ts(ims) if ims is not None else None
            ius = parse_ts(ius) if ius is not None else None
        except ValueError:
            raise weave_error(ERR_ILLEGAL)
        self._ims, self._ius = (ims if self.command == "GET" else None), ius

        if not segs:
            if self.command != "DELETE":
                raise ApiError(405, 0, [("Allow", "DELETE")])
            return self._delete_storage(store)
        if segs[0] == "info" and len(segs) == 2:
            if self.command != "GET":
                raise ApiError(405, 0, [("Allow", "GET")])
            return self._info(store, segs[1])
        if segs[0] == "storage":
            if len(segs) == 1:
                if self.command != "DELETE":
                    raise ApiError(405, 0, [("Allow", "DELETE")])
                return self._delete_storage(store)
            coll = segs[1]
            if not COLLECTION_RE.fullmatch(coll):
                raise weave_error(ERR_INVALID_COLLECTION)
            if len(segs) == 2:
                return self._collection(store, coll, q, body)
            if len(segs) == 3:
                if not BSO_ID_RE.fullmatch(segs[2]):
                    raise ApiError(404, 0)
                return self._item(store, coll, segs[2], body)
        raise ApiError(404, 0)

    def _preconditions(self, modified):
        """X-If-Modified-Since (GET: 304 if not newer) and X-If-Unmodified-Since (412 if
        newer), both against the target resource's last-modified (DOCS Request Headers)."""
        if self._ims is not None and modified <= self._ims:
            raise ApiError(304, None, [("X-Last-Modified", cs_to_str(modified))])
        if self._ius is not None and modified > self._ius:
            raise ApiError(412, 0, [("X-Last-Modified", cs_to_str(modified))])

    def _ok(self, body, modified, status=200, headers=(), ts=None, content_type=None):
        hdrs = [("X-Last-Modified", cs_to_str(modified))] + list(headers)
        # DOCS: on reads X-Weave-Timestamp >= X-Last-Modified; on writes it equals T.
        ts = max(ts or 0, modified)
        if content_type:
            self._send(status, body, hdrs, content_type=content_type, ts=ts)
        else:
            self._send(status, body, hdrs, ts=ts)

    def _write_headers(self, store):
        if self.st.quota_kb is None:
            return []
        used_kb = store.total_usage_bytes(self.st.now_cs()) / 1024.0
        return [("X-Weave-Quota-Remaining", "%.2f" % (self.st.quota_kb - used_kb))]

    def _check_quota(self, store):
        if self.st.quota_kb is not None and \
                store.total_usage_bytes(self.st.now_cs()) / 1024.0 >= self.st.quota_kb:
            raise weave_error(ERR_OVER_QUOTA)

    # ---- info/* ---------------------------------------------------------------------------

    def _info(self, store, what):
        st = self.st
        now = st.now_cs()
        modified = store.storage_modified()
        if what == "configuration":
            # Server configuration, not user data: no precondition (syncstorage-rs).
            return self._ok(st.limits, modified)
        self._preconditions(modified)
        if what == "collections":
            body = {k: cs_to_json(v) for k, v in store.info_collections().items()}
        elif what == "quota":
            body = [store.total_usage_bytes(now) / 1024.0, st.quota_kb]
        elif what == "collection_usage":
            body = {k: v / 1024.0 for k, v in store.info_usage_bytes(now).items()}
        elif what == "collection_counts":
            body = store.info_counts(now)
        else:
            raise ApiError(404, 0)
        self._ok(body, modified, headers=[("X-Weave-Records", str(len(body)))]
                 if what != "quota" else ())

    # ---- storage/<coll> -------------------------------------------------------------------

    def _collection(self, store, coll, q, body):
        if self.command == "GET":
            return self._get_collection(store, coll, q)
        if self.command == "POST":
            return self._post_collection(store, coll, q, body)
        if self.command == "DELETE":
            return self._delete_collection(store, coll, q)
        raise ApiError(405, 0, [("Allow", "GET, POST, DELETE")])

    def _parse_ids(self, text):
        ids = [i for i in text.split(",")] if text != "" else []
        if len(ids) > MAX_IDS or any(not BSO_ID_RE.fullmatch(i) for i in ids):
            raise weave_error(ERR_ILLEGAL)
        return ids

    def _get_collection(self, store, coll, q):
        st = self.st
        now = st.now_cs()
        modified = store.collection_modified(coll) or 0
        self._preconditions(modified)
        try:
            ids = self._parse_ids(q["ids"]) if "ids" in q else None
            newer = parse_ts(q["newer"]) if "newer" in q else None
            older = parse_ts(q["older"]) if "older" in q else None
            limit = None
            if "limit" in q:
                if not re.fullmatch(r"[0-9]{1,9}", q["limit"]) or int(q["limit"]) <= 0:
                    raise ValueError("limit")
                limit = int(q["limit"])
            offset = st.parse_offset(q["offset"]) if "offset" in q else 0
            sort = q.get("sort")
            if sort not in (None, "newest", "oldest", "index"):
                raise ValueError("sort")
        except ValueError:
            raise weave_error(ERR_ILLEGAL)
        accept = self.headers.get("Accept") or "application/json"
        fmt = _pick_format(accept)
        if fmt is None:
            raise ApiError(406, 0)
        rows = store.query(coll, now, ids=ids, newer=newer, older=older, sort=sort)
        page = rows[offset:offset + limit] if limit is not None else rows[offset:]
        items = page if "full" in q else [b["id"] for b in page]
        hdrs = [("X-Weave-Records", str(len(items)))]
        if limit is not None and offset + limit < len(rows):
            hdrs.append(("X-Weave-Next-Offset", st.new_offset(offset + limit)))
        if fmt == "application/newlines":
            raw = b"".join(json.dumps(i).encode("utf-8") + b"\n" for i in items)
            return self._ok(raw, modified, headers=hdrs, content_type=fmt)
        self._ok(items, modified, headers=hdrs)

    def _parse_bsos(self, body):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        try:
            text = body.decode("utf-8")
            if ctype in ("application/json", "text/plain"):
                items = json.loads(text)
            elif ctype == "application/newlines":
                items = [json.loads(line) for line in text.split("\n") if line.strip()]
            else:
                raise ApiError(415, 0)
        except (UnicodeDecodeError, ValueError):
            raise weave_error(ERR_JSON)
        if not isinstance(items, list):
            raise weave_error(ERR_INVALID_BSO)
        return items

    def _check_count_headers(self, batch_mode):
        """X-Weave-Records/-Bytes (this POST) and X-Weave-Total-Records/-Bytes (the batch):
        over a limit -> 400/17; malformed, or a total outside a batch -> 400/1 (DOCS)."""
        lim = self.st.limits
        for hdr, key, total in (("X-Weave-Records", "max_post_records", False),
                                ("X-Weave-Bytes", "max_post_bytes", False),
                                ("X-Weave-Total-Records", "max_total_records", True),
                                ("X-Weave-Total-Bytes", "max_total_bytes", True)):
            v = self.headers.get(hdr)
            if v is None:
                continue
            if not re.fullmatch(r"[0-9]{1,15}", v.strip()) or (total and not batch_mode):
                raise weave_error(ERR_ILLEGAL)
            if int(v) > lim[key]:
                raise weave_error(ERR_SIZE_LIMIT)

    def _post_collection(self, store, coll, q, body):
        st = self.st
        lim = st.limits
        if len(body) > lim["max_request_bytes"]:
            raise ApiError(413, ERR_SIZE_LIMIT)
        batch = q.get("batch") if st.batching else None
        commit = q.get("commit") if st.batching else None
        if commit is not None and (commit != "true" or batch is None):
            raise weave_error(ERR_ILLEGAL)
        self._check_count_headers(batch is not None)
        items = self._parse_bsos(body)
        st.knobs.stats["records_in"] += len(items)
        if len(items) > lim["max_post_records"]:
            raise weave_error(ERR_SIZE_LIMIT)
        self._check_quota(store)

        success, failed, valid, nbytes = [], {}, [], 0
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise weave_error(ERR_INVALID_BSO)
            bid = item["id"]
            reason = _validate_bso(item)
            if reason is None and isinstance(item.get("payload"), str) and \
                    len(item["payload"].encode("utf-8")) > lim["max_record_payload_bytes"]:
                reason = "retry bso"   # too large for this server (syncstorage-rs's wording)
            if reason:
                failed[bid] = reason
                continue
            size = len((item.get("payload") or "").encode("utf-8"))
            nbytes += size
            valid.append((bid, _fields(item), size))
            success.append(bid)
        if nbytes > lim["max_post_bytes"]:
            raise weave_error(ERR_SIZE_LIMIT)

        modified = store.collection_modified(coll) or 0
        self._preconditions(modified)
        if batch is None or (batch == "true" and commit == "true"):
            t = store.write(coll, [(b, f) for b, f, _ in valid], st.now_cs())
            return self._ok({"modified": cs_to_json(t), "success": success, "failed": failed},
                            t, headers=self._write_headers(store), ts=t)

        now = st.now_cs()
        if batch == "true":
            bid = st.new_batch_id()
            store.batch_create(bid, coll, now)
            have_records, have_bytes = 0, 0
        else:
            got = store.batch_get(batch, coll, now, BATCH_MAX_AGE_CS)
            if got is None:
                raise weave_error(ERR_ILLEGAL)
            bid = batch
            have_records, have_bytes = got
        if have_records + len(valid) > lim["max_total_records"] or \
                have_bytes + nbytes > lim["max_total_bytes"]:
            raise weave_error(ERR_SIZE_LIMIT)
        store.batch_append(bid, valid)
        if commit == "true":
            t = store.batch_commit(bid, coll, st.now_cs())
            return self._ok({"modified": cs_to_json(t), "success": success, "failed": failed},
                            t, headers=self._write_headers(store), ts=t)
        # Not committed: nothing visible changed, X-Last-Modified stays the collection's.
        self._ok({"batch": bid, "success": success, "failed": failed}, modified, status=202)

    def _delete_collection(self, store, coll, q):
        st = self.st
        modified = store.collection_modified(coll) or 0
        if "ids" in q:
            ids = self._parse_ids(q["ids"])
            self._preconditions(modified)
            t = store.delete_ids(coll, ids, st.now_cs())
        else:
            self._preconditions(modified)
            t = store.delete_collection(coll, st.now_cs())
        self._ok({"modified": cs_to_json(t)}, t, ts=t)

    def _delete_storage(self, store):
        self._preconditions(store.storage_modified())
        t = store.delete_all(self.st.now_cs())
        self._ok({}, t, ts=t)

    # ---- storage/<coll>/<id> --------------------------------------------------------------

    def _item(self, store, coll, bid, body):
        st = self.st
        now = st.now_cs()
        if self.command == "GET":
            bso = store.get_bso(coll, bid, now)
            if bso is None:
                raise ApiError(404, 0)
            mod = store.bso_modified(coll, bid, now)
            self._preconditions(mod)
            return self._ok(bso, mod)
        if self.command == "PUT":
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype not in ("application/json", "text/plain"):
                raise ApiError(415, 0)
            if len(body) > st.limits["max_request_bytes"]:
                raise ApiError(413, ERR_SIZE_LIMIT)
            try:
                item = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise weave_error(ERR_JSON)
            if not isinstance(item, dict):
                raise weave_error(ERR_INVALID_BSO)
            if "id" in item and item["id"] != bid:
                raise weave_error(ERR_INVALID_BSO)
            item = dict(item, id=bid)
            if _validate_bso(item):
                raise weave_error(ERR_INVALID_BSO)
            if isinstance(item.get("payload"), str) and \
                    len(item["payload"].encode("utf-8")) > st.limits["max_record_payload_bytes"]:
                raise ApiError(413, ERR_SIZE_LIMIT)
            self._check_quota(store)
            self._preconditions(store.bso_modified(coll, bid, now) or 0)
            t = store.write(coll, [(bid, _fields(item))], now)
            return self._ok(cs_to_json(t), t, headers=self._write_headers(store), ts=t)
        if self.command == "DELETE":
            cur = store.bso_modified(coll, bid, now)
            if cur is None:
                raise ApiError(404, 0)
            self._preconditions(cur)
            t = store.delete_bso(coll, bid, now)
            return self._ok({"modified": cs_to_json(t)}, t, ts=t)
        raise ApiError(405, 0, [("Allow", "GET, PUT, DELETE")])


def _pick_format(accept):
    """application/json first, then application/newlines (DOCS output formats)."""
    types = [p.split(";")[0].strip().lower() for p in accept.split(",")]
    for t in types:
        if t in ("application/json", "*/*", "application/*", ""):
            return "application/json"
        if t == "application/newlines":
            return t
    return None


def _validate_bso(item):
    """A reason string when the BSO is invalid (DOCS BSO fields), else None."""
    for k in item:
        if k not in ("id", "payload", "sortindex", "ttl", "modified"):
            return "unknown field %s" % k
    if not BSO_ID_RE.fullmatch(item["id"]):
        return "invalid id"
    p = item.get("payload")
    if p is not None and not isinstance(p, str):
        return "invalid payload"
    si = item.get("sortindex")
    if si is not None and (not isinstance(si, int) or isinstance(si, bool) or
                           abs(si) > 999999999):
        return "invalid sortindex"
    ttl = item.get("ttl")
    if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool) or
                            ttl < 0 or ttl > 999999999):
        return "invalid ttl"
    return None


def _fields(item):
    """The fields a write sets: those present (null included); "modified" is ignored."""
    return {k: item[k] for k in ("payload", "sortindex", "ttl") if k in item}


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--secret", required=True, help="tokenlib master secret (the tokenserver's)")
    ap.add_argument("--data-dir", default=None,
                    help="one SQLite file per user here (default: a temp dir, removed at exit;"
                         " ':memory:' keeps everything in memory)")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--hawk-skew", type=int, default=60,
                    help="accepted Hawk clock skew, seconds (go-syncstorage: 60)")
    ap.add_argument("--quota-kb", type=float, default=None)
    ap.add_argument("--no-batching", action="store_true",
                    help="ignore batch/commit, as a server without batch support does")
    ap.add_argument("--batch-id-format", choices=("b64", "int", "uuid"), default="b64")
    ap.add_argument("--offset-format", choices=("opaque", "int"), default="opaque")
    ap.add_argument("--limits", default=None, help="JSON object overriding info/configuration")
    ap.add_argument("--no-check-node", dest="check_node", action="store_false",
                    help="accept tokens minted for another node URL")
    ap.add_argument("--exit-on-eof", action="store_true", help="exit when stdin closes")
    args = ap.parse_args()

    # SIGTERM ends serve_forever through SystemExit, so the temp data dir is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv = Server((args.bind, args.port), Handler)
    srv.state = State(args)
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
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
    finally:
        if srv.state.own_data_dir:
            shutil.rmtree(srv.state.own_data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
