"""Test controls of the Sync 1.5 storage test server (never part of the protocol).

Everything under /__testing__/, JSON in and out, no authentication (the server listens on
loopback). docs/test-servers.md lists the routes. Fault injection sits in front of the
protocol: an injected answer is sent before Hawk is checked, as a proxy or a failing node
would send it.
"""
import json
import re
import time
from urllib.parse import urlsplit, parse_qs

import tokenlib

from storage import cs_to_json

LOG_MAX_DEFAULT = 20000


def _endpoint_kind(method, path):
    """A coarse name for counters: "GET info/collections", "POST storage", ..."""
    m = re.fullmatch(r"/1\.5/[0-9]+(/.*)?", path)
    rest = (m.group(1) or "") if m else path
    segs = [s for s in rest.split("/") if s]
    if not segs:
        name = "root"
    elif segs[0] == "info":
        name = "/".join(segs[:2])
    elif segs[0] == "storage":
        name = ["storage", "storage/<coll>", "storage/<coll>/<id>"][min(len(segs), 3) - 1]
    else:
        name = "other"
    return "%s %s" % (method, name)


class Knobs:
    def __init__(self):
        self.injections = []          # [{status?, body?, headers, count, method?, path?}]
        self.headers = {}             # sticky response headers (X-Weave-Backoff, X-Weave-Alert)
        self.concurrent = []          # records written just before a matching request
        self.log = []
        self.log_max = LOG_MAX_DEFAULT
        self.log_seq = 0
        self.reset_stats()

    def reset_stats(self):
        self.stats = {"requests": 0, "bytes_in": 0, "bytes_out": 0, "by_status": {},
                      "by_endpoint": {}, "records_in": 0}

    @staticmethod
    def _matches(rule, method, path):
        if rule.get("method") and rule["method"].upper() != method:
            return False
        if rule.get("path") and not re.search(rule["path"], path):
            return False
        return True

    def take_injection(self, method, path):
        for rule in self.injections:
            if rule["count"] != 0 and self._matches(rule, method, path):
                if rule["count"] > 0:
                    rule["count"] -= 1
                return rule
        return None

    def sticky_headers(self):
        return list(self.headers.items())

    def run_concurrent_writes(self, method, path, uid, store, now_cs):
        for w in self.concurrent:
            if w["count"] == 0 or not self._matches(w, method, path):
                continue
            if w.get("uid") is not None and w["uid"] != uid:
                continue
            if w["count"] > 0:
                w["count"] -= 1
            fields = {k: w[k] for k in ("payload", "sortindex", "ttl") if k in w}
            fields.setdefault("payload", "")
            w.setdefault("written", []).append(
                cs_to_json(store.write(w["collection"], [(w["id"], fields)], now_cs)))

    def record(self, method, target, status, req_bytes, resp_bytes, headers):
        path = urlsplit(target).path
        s = self.stats
        s["requests"] += 1
        s["bytes_in"] += req_bytes
        s["bytes_out"] += resp_bytes
        s["by_status"][str(status)] = s["by_status"].get(str(status), 0) + 1
        kind = _endpoint_kind(method, path)
        s["by_endpoint"][kind] = s["by_endpoint"].get(kind, 0) + 1
        self.log_seq += 1
        entry = {"seq": self.log_seq, "time": round(time.time(), 3), "method": method,
                 "target": target, "status": status, "req_bytes": req_bytes,
                 "resp_bytes": resp_bytes}
        for h in ("X-If-Unmodified-Since", "X-If-Modified-Since", "X-Weave-Records",
                  "X-Weave-Bytes", "X-Weave-Total-Records", "X-Weave-Total-Bytes",
                  "Content-Type", "Accept"):
            if headers.get(h) is not None:
                entry[h] = headers.get(h)
        self.log.append(entry)
        if len(self.log) > self.log_max:
            del self.log[:len(self.log) - self.log_max]


def _int_or_none(v):
    return None if v is None else int(v)


def _config(st, req):
    allowed = ("limits", "quota_kb", "batching", "batch_id_format", "offset_format",
               "hawk_skew", "clock_offset", "headers", "log_max")
    for key in req:
        if key not in allowed:
            raise KeyError("unknown config key %s" % key)
    if "limits" in req:
        for k, v in req["limits"].items():
            if k not in st.limits:
                raise KeyError("unknown limit %s" % k)
            st.limits[k] = int(v)
    if "quota_kb" in req:
        st.quota_kb = None if req["quota_kb"] is None else float(req["quota_kb"])
    if "batching" in req:
        st.batching = bool(req["batching"])
    if "batch_id_format" in req:
        if req["batch_id_format"] not in ("b64", "int", "uuid"):
            raise ValueError("batch_id_format")
        st.batch_id_format = req["batch_id_format"]
    if "offset_format" in req:
        if req["offset_format"] not in ("opaque", "int"):
            raise ValueError("offset_format")
        st.offset_format = req["offset_format"]
    if "hawk_skew" in req:
        st.hawk_skew = int(req["hawk_skew"])
    if "clock_offset" in req:
        st.clock_offset = float(req["clock_offset"])
    if "headers" in req:
        for k, v in req["headers"].items():
            if v is None:
                st.knobs.headers.pop(k, None)
            else:
                st.knobs.headers[k] = str(v)
    if "log_max" in req:
        st.knobs.log_max = int(req["log_max"])


def _inject(st, req):
    headers = {str(k): str(v) for k, v in (req.get("headers") or {}).items()}
    if req.get("alert") is not None:
        a = req["alert"]
        headers["X-Weave-Alert"] = a if isinstance(a, str) else json.dumps(a)
    if req.get("retry_after") is not None:
        headers["Retry-After"] = str(req["retry_after"])
    if req.get("backoff") is not None:
        headers["X-Weave-Backoff"] = str(req["backoff"])
    rule = {"status": _int_or_none(req.get("status")), "body": req.get("body", 0),
            "headers": headers, "count": int(req.get("count", 1)),
            "method": req.get("method"), "path": req.get("path")}
    if rule["path"]:
        re.compile(rule["path"])
    st.knobs.injections.append(rule)


def _concurrent(st, req):
    w = {"collection": str(req["collection"]), "id": str(req["id"]),
         "count": int(req.get("count", 1)), "method": req.get("method"),
         "path": req.get("path"), "uid": _int_or_none(req.get("uid"))}
    for k in ("payload", "sortindex", "ttl"):
        if k in req:
            w[k] = req[k]
    st.knobs.concurrent.append(w)


def control(st, method, target, body):
    """-> (status, JSON body)."""
    u = urlsplit(target)
    q = {k: v[-1] for k, v in parse_qs(u.query).items()}
    route = u.path[len("/__testing__/"):]
    try:
        req = json.loads(body.decode("utf-8")) if body else {}
    except ValueError:
        return 400, {"error": "body is not JSON"}
    k = st.knobs
    try:
        if method == "GET" and route == "stats":
            out = dict(k.stats)
            if q.get("reset"):
                k.reset_stats()
            return 200, out
        if method == "POST" and route == "stats/reset":
            k.reset_stats()
            return 200, {}
        if method == "GET" and route == "log":
            since = int(q.get("since", 0))
            return 200, [e for e in k.log if e["seq"] > since]
        if method == "DELETE" and route == "log":
            k.log = []
            return 200, {}
        if method == "GET" and route == "config":
            return 200, {"limits": st.limits, "quota_kb": st.quota_kb, "batching": st.batching,
                         "batch_id_format": st.batch_id_format,
                         "offset_format": st.offset_format, "hawk_skew": st.hawk_skew,
                         "clock_offset": st.clock_offset, "headers": k.headers}
        if method == "POST" and route == "config":
            _config(st, req)
            return 200, {}
        if method == "POST" and route == "inject":
            _inject(st, req)
            return 200, {}
        if method == "DELETE" and route == "inject":
            k.injections = []
            return 200, {}
        if method == "GET" and route == "inject":
            return 200, k.injections
        if method == "POST" and route == "concurrent-write":
            _concurrent(st, req)
            return 200, {}
        if method == "GET" and route == "concurrent-write":
            return 200, k.concurrent
        if method == "DELETE" and route == "concurrent-write":
            k.concurrent = []
            return 200, {}
        if method == "POST" and route == "seed":
            store = st.stores.get(int(req["uid"]))
            items = [(b["id"], {f: b[f] for f in ("payload", "sortindex", "ttl") if f in b})
                     for b in req["bsos"]]
            t = store.write(str(req["collection"]), items, st.now_cs())
            return 200, {"modified": cs_to_json(t)}
        if method == "GET" and route == "dump":
            return 200, st.stores.get(int(q["uid"])).dump(st.now_cs())
        if method == "POST" and route == "token":
            # A token for this node without a tokenserver (storage-only tests).
            uid = int(req["uid"])
            node = req["node"]
            mgr = tokenlib.TokenManager(secret=st.args.secret)
            data = {"uid": uid, "node": node,
                    "expires": time.time() + float(req.get("duration", 3600))}
            tok = mgr.make_token(data)
            return 200, {"id": tok, "key": mgr.get_derived_secret(tok), "uid": uid,
                         "api_endpoint": "%s/1.5/%d" % (node.rstrip("/"), uid)}
        if method == "POST" and route == "reset":
            st.reset()
            return 200, {}
    except (KeyError, TypeError, ValueError, re.error) as e:
        return 400, {"error": "%s: %s" % (type(e).__name__, e)}
    return 404, {"error": "no such test control %s %s" % (method, route)}
