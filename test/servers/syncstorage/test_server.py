#!/usr/bin/env python3
"""Protocol tests of the Sync 1.5 storage test server, against the API document.

The client side is independent of the server's code: requests for HTTP, mohawk (not
hawkauthlib) for Hawk signatures. Each test names the rule it checks; "DOCS" is the Sync 1.5
API document (syncstorage-rs docs/src/syncstorage/api-1.5.md).

    python test_server.py [-v] [unittest args]
"""
import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import time
import unittest
from urllib.parse import quote

import mohawk
from mohawk.base import EmptyValue
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
TS_RE = re.compile(r"^[0-9]+\.[0-9]{2}$")
SECRET = "storage-test-secret"
UIDS = iter(range(100, 1 << 30))


def start_server(*extra):
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "server.py"), "--secret", SECRET,
                          "--data-dir", ":memory:", "--exit-on-eof"] + list(extra),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    line = p.stdout.readline().decode()
    assert line.startswith("PORT "), line
    return p, "http://127.0.0.1:%d" % int(line.split()[1])


def stop_server(p):
    p.stdin.close()
    p.wait(10)
    p.stdout.close()


class Client:
    """A minimal Sync 1.5 client: Hawk-signed requests to one api_endpoint."""

    def __init__(self, base, uid, node=None, duration=3600, key=None):
        self.base = base
        tok = requests.post(base + "/__testing__/token",
                            json={"uid": uid, "node": node or base, "duration": duration}).json()
        self.id, self.key, self.endpoint = tok["id"], key or tok["key"], tok["api_endpoint"]
        self.skew = 0

    def creds(self):
        return {"id": self.id, "key": self.key, "algorithm": "sha256"}

    def request(self, method, path, body=None, ctype="application/json", headers=None,
                hash_payload=False, raw=None, auth=None):
        url = self.endpoint + path
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        h = {}
        if data or body is not None:
            h["Content-Type"] = ctype
        if auth is None:
            s = mohawk.Sender(self.creds(), url, method,
                              content=data if hash_payload else EmptyValue,
                              content_type=ctype if hash_payload else EmptyValue,
                              always_hash_content=hash_payload,
                              _timestamp=int(time.time() + self.skew))
            auth = s.request_header
        if auth is not False:
            h["Authorization"] = auth
        h.update(headers or {})
        return requests.request(method, url, data=data.encode("utf-8") if data else None,
                                headers=h)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def put(self, path, body, **kw):
        return self.request("PUT", path, body=body, **kw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def ctl(base, method, route, body=None):
    r = requests.request(method, base + "/__testing__/" + route, json=body)
    assert r.status_code == 200, (route, r.status_code, r.text)
    return r.json()


def ts_cs(text):
    return int(round(float(text) * 100))


class StorageTest(unittest.TestCase):
    server_args = ()

    @classmethod
    def setUpClass(cls):
        cls.proc, cls.base = start_server(*cls.server_args)

    @classmethod
    def tearDownClass(cls):
        stop_server(cls.proc)

    def setUp(self):
        ctl(self.base, "POST", "reset")
        self.uid = next(UIDS)
        self.c = Client(self.base, self.uid)

    def ok(self, r, status=200):
        self.assertEqual(r.status_code, status, r.text)
        self.assertRegex(r.headers["X-Weave-Timestamp"], TS_RE)
        if 200 <= status < 300:
            self.assertRegex(r.headers["X-Last-Modified"], TS_RE)
        return r

    def weave_error(self, r, code, status=400):
        self.assertEqual(r.status_code, status, r.text)
        self.assertEqual(r.json(), code)
        self.assertIn("X-Weave-Timestamp", r.headers)


class TestInfo(StorageTest):
    def test_new_user_has_no_collections(self):
        r = self.ok(self.c.get("/info/collections"))
        self.assertEqual(r.json(), {})

    def test_info_collections_lists_collection_timestamps(self):
        t1 = self.ok(self.c.put("/storage/meta/global", {"payload": "{}"})).json()
        t2 = self.ok(self.c.post("/storage/tabs", [{"id": "a", "payload": "x"}])).json()
        r = self.ok(self.c.get("/info/collections"))
        self.assertEqual(r.json(), {"meta": t1, "tabs": t2["modified"]})
        self.assertEqual(ts_cs(r.headers["X-Last-Modified"]), ts_cs(t2["modified"]))

    def test_quota_usage_counts(self):
        self.ok(self.c.post("/storage/history", [{"id": "a", "payload": "x" * 2048},
                                                 {"id": "b", "payload": "y" * 1024}]))
        self.assertEqual(self.ok(self.c.get("/info/collection_counts")).json(), {"history": 2})
        self.assertEqual(self.ok(self.c.get("/info/collection_usage")).json(), {"history": 3.0})
        self.assertEqual(self.ok(self.c.get("/info/quota")).json(), [3.0, None])

    def test_configuration_has_the_documented_keys(self):
        cfg = self.ok(self.c.get("/info/configuration")).json()
        for k in ("max_request_bytes", "max_post_records", "max_post_bytes",
                  "max_total_records", "max_total_bytes", "max_record_payload_bytes"):
            self.assertIsInstance(cfg[k], int)

    def test_info_is_read_only_405(self):
        self.assertEqual(self.c.put("/info/quota", {"a": 1}).status_code, 405)

    def test_if_modified_since_304_on_info(self):
        self.ok(self.c.put("/storage/meta/global", {"payload": "{}"}))
        lm = self.c.get("/info/collections").headers["X-Last-Modified"]
        r = self.c.get("/info/collections", headers={"X-If-Modified-Since": lm})
        self.assertEqual(r.status_code, 304)
        self.assertIn("X-Weave-Timestamp", r.headers)


class TestItems(StorageTest):
    def test_put_then_get_returns_the_bso(self):
        r = self.ok(self.c.put("/storage/passwords/abc", {"payload": "p", "sortindex": 5}))
        t = r.json()
        self.assertEqual(r.headers["X-Last-Modified"], r.headers["X-Weave-Timestamp"])
        self.assertEqual(ts_cs(r.headers["X-Last-Modified"]), ts_cs(t))
        g = self.ok(self.c.get("/storage/passwords/abc"))
        self.assertEqual(g.json(), {"id": "abc", "modified": t, "payload": "p", "sortindex": 5})

    def test_put_merges_fields_and_null_resets(self):
        self.ok(self.c.put("/storage/c/x", {"payload": "p", "sortindex": 5}))
        self.ok(self.c.put("/storage/c/x", {"sortindex": 7}))
        self.assertEqual(self.c.get("/storage/c/x").json()["payload"], "p")
        self.ok(self.c.put("/storage/c/x", {"payload": None, "sortindex": None}))
        b = self.c.get("/storage/c/x").json()
        self.assertEqual(b["payload"], "")
        self.assertNotIn("sortindex", b)

    def test_missing_item_404_missing_collection_empty_list(self):
        self.assertEqual(self.c.get("/storage/c/nope").status_code, 404)
        self.assertEqual(self.ok(self.c.get("/storage/none")).json(), [])

    def test_record_id_with_braces_url_encoded(self):
        bid = "{8e1c3f5a-1111-2222-3333-444455556666}"
        self.ok(self.c.put("/storage/passwords/" + quote(bid, safe=""), {"payload": "p"}))
        self.assertEqual(self.ok(self.c.get("/storage/passwords")).json(), [bid])

    def test_timestamps_strictly_increase_two_decimals(self):
        seen = []
        for i in range(5):
            r = self.ok(self.c.put("/storage/c/i%d" % i, {"payload": "x"}))
            seen.append(ts_cs(r.headers["X-Last-Modified"]))
        self.assertEqual(seen, sorted(set(seen)))

    def test_put_body_errors(self):
        self.weave_error(self.c.put("/storage/c/x", None, raw="{nope"), 6)
        self.weave_error(self.c.put("/storage/c/x", {"payload": 3}), 8)
        self.weave_error(self.c.put("/storage/c/x", {"id": "other", "payload": "p"}), 8)
        self.weave_error(self.c.put("/storage/c/x", {"sortindex": 10 ** 10}), 8)
        self.weave_error(self.c.put("/storage/c/x", {"ttl": -1}), 8)
        self.assertEqual(self.c.put("/storage/c/x", {"payload": "p"},
                                    ctype="application/xml").status_code, 415)

    def test_invalid_collection_name_400_13(self):
        self.weave_error(self.c.get("/storage/" + "x" * 33), 13)
        self.weave_error(self.c.get("/storage/a%2Cb"), 13)

    def test_payload_over_max_record_payload_bytes_413(self):
        ctl(self.base, "POST", "config", {"limits": {"max_record_payload_bytes": 10}})
        self.assertEqual(self.c.put("/storage/c/x", {"payload": "y" * 11}).status_code, 413)

    def test_delete_item(self):
        self.ok(self.c.put("/storage/c/x", {"payload": "p"}))
        r = self.ok(self.c.delete("/storage/c/x"))
        self.assertEqual(ts_cs(r.json()["modified"]), ts_cs(r.headers["X-Last-Modified"]))
        self.assertEqual(self.c.delete("/storage/c/x").status_code, 404)
        self.assertEqual(self.c.get("/info/collections").json()["c"], r.json()["modified"])

    def test_ttl_expires_records(self):
        self.ok(self.c.post("/storage/tabs", [{"id": "short", "payload": "p", "ttl": 10},
                                              {"id": "long", "payload": "p", "ttl": 1000}]))
        ctl(self.base, "POST", "config", {"clock_offset": 20})
        self.c.skew = 20      # the client follows the server's clock (Hawk skew check)
        self.assertEqual(self.ok(self.c.get("/storage/tabs")).json(), ["long"])
        self.assertEqual(self.c.get("/storage/tabs/short").status_code, 404)
        self.assertEqual(self.c.get("/info/collection_counts").json(), {"tabs": 1})


class TestCollections(StorageTest):
    def seed(self):
        ids = []
        for i in range(6):
            r = self.ok(self.c.post("/storage/h", [{"id": "r%d" % i, "payload": "p%d" % i,
                                                    "sortindex": (i * 7) % 5}]))
            ids.append(("r%d" % i, r.json()["modified"]))
        return ids

    def test_post_reports_success_and_failed(self):
        r = self.ok(self.c.post("/storage/c", [
            {"id": "good", "payload": "p"}, {"id": "badsi", "sortindex": "x"},
            {"id": "badttl", "ttl": "x"}, {"id": "x" * 65, "payload": "p"},
            {"id": "extra", "payload": "p", "color": "red"}]))
        b = r.json()
        self.assertEqual(b["success"], ["good"])
        self.assertEqual(set(b["failed"]), {"badsi", "badttl", "x" * 65, "extra"})
        self.assertEqual(ts_cs(b["modified"]), ts_cs(r.headers["X-Last-Modified"]))

    def test_post_body_errors(self):
        self.weave_error(self.c.post("/storage/c", None, raw="[{"), 6)
        self.weave_error(self.c.post("/storage/c", {"id": "a"}), 8)
        self.weave_error(self.c.post("/storage/c", ["a"]), 8)
        self.assertEqual(self.c.post("/storage/c", [], ctype="image/png").status_code, 415)

    def test_post_newlines_and_text_plain(self):
        raw = '{"id":"a","payload":"1"}\n{"id":"b","payload":"2"}\n'
        self.assertEqual(self.ok(self.c.post("/storage/c", None, raw=raw,
                                             ctype="application/newlines")).json()["success"],
                         ["a", "b"])
        self.ok(self.c.post("/storage/c", None, raw='[{"id":"t"}]', ctype="text/plain"))
        self.assertEqual(self.c.get("/storage/c").json(), ["a", "b", "t"])

    def test_get_full_and_ids_newer_older(self):
        recs = self.seed()
        full = self.ok(self.c.get("/storage/h?full=1")).json()
        self.assertEqual(len(full), 6)
        self.assertEqual(set(full[0]), {"id", "modified", "payload", "sortindex"})
        self.assertEqual(sorted(self.c.get("/storage/h?ids=r1,r3,zz").json()), ["r1", "r3"])
        newer = self.c.get("/storage/h?newer=%s" % recs[2][1]).json()
        self.assertEqual(sorted(newer), ["r3", "r4", "r5"])      # strictly newer
        older = self.c.get("/storage/h?older=%s" % recs[2][1]).json()
        self.assertEqual(sorted(older), ["r0", "r1"])            # strictly older
        r = self.c.get("/storage/h?newer=%s" % recs[5][1])
        self.assertEqual(r.json(), [])
        self.assertEqual(r.headers["X-Weave-Records"], "0")

    def test_sort_orders(self):
        self.seed()
        self.assertEqual(self.c.get("/storage/h?sort=newest").json(),
                         ["r5", "r4", "r3", "r2", "r1", "r0"])
        self.assertEqual(self.c.get("/storage/h?sort=oldest").json(),
                         ["r0", "r1", "r2", "r3", "r4", "r5"])
        full = self.c.get("/storage/h?sort=index&full=1").json()
        idx = [b["sortindex"] for b in full]
        self.assertEqual(idx, sorted(idx, reverse=True))
        self.weave_error(self.c.get("/storage/h?sort=sideways"), 1)

    def page_all(self, extra):
        got, offset, pages = [], None, 0
        lm = None
        while True:
            q = "/storage/h?limit=4&sort=oldest" + extra + ("&offset=" + offset if offset else "")
            r = self.ok(self.c.get(q, headers={"X-If-Unmodified-Since": lm} if lm else None))
            lm = r.headers["X-Last-Modified"]
            got += r.json()
            pages += 1
            offset = r.headers.get("X-Weave-Next-Offset")
            if not offset:
                return got, pages
            self.assertRegex(offset, r"^[A-Za-z0-9_-]+$")      # DOCS: urlsafe-base64 alphabet

    def test_paging_with_next_offset(self):
        self.seed()
        self.ok(self.c.post("/storage/h", [{"id": "z%d" % i} for i in range(4)]))
        got, pages = self.page_all("")
        self.assertEqual(len(got), 10)
        self.assertEqual(len(set(got)), 10)
        self.assertEqual(pages, 3)

    def test_paging_with_integer_offsets(self):
        ctl(self.base, "POST", "config", {"offset_format": "int"})
        self.seed()
        got, pages = self.page_all("&full=1")
        self.assertEqual([b["id"] for b in got], ["r%d" % i for i in range(6)])
        self.assertEqual(pages, 2)

    def test_paging_412_when_modified_between_pages(self):
        self.seed()
        r = self.c.get("/storage/h?limit=2")
        lm, off = r.headers["X-Last-Modified"], r.headers["X-Weave-Next-Offset"]
        self.ok(self.c.post("/storage/h", [{"id": "new"}]))
        r = self.c.get("/storage/h?limit=2&offset=" + off, headers={"X-If-Unmodified-Since": lm})
        self.assertEqual(r.status_code, 412)

    def test_bad_query_values_400(self):
        for q in ("limit=0", "limit=x", "newer=abc", "offset=forged", "ids=" + ",".join(
                "i%d" % i for i in range(101))):
            self.weave_error(self.c.get("/storage/h?" + q), 1)

    def test_newlines_output(self):
        self.seed()
        r = self.ok(self.c.get("/storage/h?full=1&sort=oldest",
                               headers={"Accept": "application/newlines"}))
        self.assertEqual(r.headers["Content-Type"], "application/newlines")
        lines = r.text.split("\n")
        self.assertEqual(lines[-1], "")
        self.assertEqual([json.loads(x)["id"] for x in lines[:-1]], ["r%d" % i for i in range(6)])
        self.assertEqual(self.c.get("/storage/h", headers={"Accept": "text/html"}).status_code,
                         406)

    def test_delete_ids_keeps_collection(self):
        self.seed()
        r = self.ok(self.c.delete("/storage/h?ids=r0,r1,missing"))
        self.assertEqual(sorted(self.c.get("/storage/h").json()), ["r2", "r3", "r4", "r5"])
        self.assertEqual(self.c.get("/info/collections").json()["h"], r.json()["modified"])
        self.ok(self.c.delete("/storage/h?ids=r2,r3,r4,r5"))
        self.assertIn("h", self.c.get("/info/collections").json())

    def test_delete_collection_removes_it(self):
        self.seed()
        self.ok(self.c.delete("/storage/h"))
        self.assertNotIn("h", self.c.get("/info/collections").json())
        self.assertEqual(self.c.get("/storage/h").json(), [])

    def test_delete_all_storage_both_urls(self):
        for path in ("", "/storage"):
            self.seed()
            before = ts_cs(self.c.get("/info/collections").headers["X-Last-Modified"])
            r = self.ok(self.c.delete(path))
            self.assertGreater(ts_cs(r.headers["X-Last-Modified"]), before)
            self.assertEqual(self.c.get("/info/collections").json(), {})
            # later writes still get larger timestamps than anything seen before the wipe
            t = self.ok(self.c.put("/storage/meta/global", {"payload": "{}"})).json()
            self.assertGreater(ts_cs(t), ts_cs(r.headers["X-Last-Modified"]))


class TestPreconditions(StorageTest):
    def test_x_if_unmodified_since_412_on_writes(self):
        t = self.ok(self.c.post("/storage/c", [{"id": "a"}])).json()["modified"]
        old = "%.2f" % (t - 1)
        for r in (self.c.post("/storage/c", [{"id": "b"}], headers={"X-If-Unmodified-Since": old}),
                  self.c.delete("/storage/c", headers={"X-If-Unmodified-Since": old}),
                  self.c.put("/storage/c/a", {"payload": "x"},
                             headers={"X-If-Unmodified-Since": old}),
                  self.c.get("/storage/c", headers={"X-If-Unmodified-Since": old})):
            self.assertEqual(r.status_code, 412, r.request.method)
        self.assertEqual(self.c.get("/storage/c").json(), ["a"])
        self.ok(self.c.post("/storage/c", [{"id": "b"}],
                            headers={"X-If-Unmodified-Since": "%.2f" % t}))

    def test_x_if_unmodified_since_zero_is_create_only(self):
        h = {"X-If-Unmodified-Since": "0"}
        self.ok(self.c.put("/storage/crypto/keys", {"payload": "k"}, headers=h))
        self.assertEqual(self.c.put("/storage/crypto/keys", {"payload": "k2"}, headers=h)
                         .status_code, 412)
        self.assertEqual(self.c.get("/storage/crypto/keys").json()["payload"], "k")

    def test_x_if_modified_since_304(self):
        r = self.ok(self.c.put("/storage/c/a", {"payload": "x"}))
        lm = r.headers["X-Last-Modified"]
        self.assertEqual(self.c.get("/storage/c/a", headers={"X-If-Modified-Since": lm})
                         .status_code, 304)
        self.assertEqual(self.c.get("/storage/c", headers={"X-If-Modified-Since": lm})
                         .status_code, 304)
        earlier = "%.2f" % (float(lm) - 0.01)
        self.ok(self.c.get("/storage/c", headers={"X-If-Modified-Since": earlier}))

    def test_both_headers_or_bad_value_400(self):
        self.weave_error(self.c.get("/storage/c", headers={"X-If-Modified-Since": "1",
                                                           "X-If-Unmodified-Since": "1"}), 1)
        self.weave_error(self.c.get("/storage/c", headers={"X-If-Unmodified-Since": "-5"}), 1)
        self.weave_error(self.c.get("/storage/c", headers={"X-If-Modified-Since": "soon"}), 1)


class TestBatches(StorageTest):
    def test_batch_upload_is_atomic(self):
        r = self.ok(self.c.post("/storage/b?batch=true", [{"id": "a", "payload": "1"}]), 202)
        body = r.json()
        self.assertEqual(body["success"], ["a"])
        self.assertEqual(r.headers["X-Last-Modified"], "0.00")
        bid = quote(body["batch"], safe="")
        r = self.ok(self.c.post("/storage/b?batch=" + bid, [{"id": "b", "payload": "2"}],
                                headers={"X-If-Unmodified-Since": "0"}), 202)
        self.assertEqual(r.json()["batch"], body["batch"])
        self.assertEqual(self.c.get("/storage/b").json(), [])            # nothing visible yet
        self.assertNotIn("b", self.c.get("/info/collections").json())
        r = self.ok(self.c.post("/storage/b?commit=true&batch=" + bid, [{"id": "c"}],
                                headers={"X-If-Unmodified-Since": "0"}))
        t = r.json()["modified"]
        full = self.c.get("/storage/b?full=1").json()
        self.assertEqual(sorted(x["id"] for x in full), ["a", "b", "c"])
        self.assertEqual({x["modified"] for x in full}, {t})             # one timestamp
        self.assertEqual(self.c.post("/storage/b?batch=" + bid, []).status_code, 400)  # gone

    def test_batch_id_formats_roundtrip(self):
        for fmt in ("b64", "int", "uuid"):
            ctl(self.base, "POST", "config", {"batch_id_format": fmt})
            bid = self.ok(self.c.post("/storage/b?batch=true", []), 202).json()["batch"]
            self.ok(self.c.post("/storage/b?commit=true&batch=" + quote(bid, safe=""),
                                [{"id": fmt}]))
        self.assertEqual(sorted(self.c.get("/storage/b").json()), ["b64", "int", "uuid"])

    def test_batch_true_commit_true_is_a_plain_post(self):
        r = self.ok(self.c.post("/storage/b?batch=true&commit=true", [{"id": "a"}]))
        self.assertNotIn("batch", r.json())
        self.assertEqual(self.c.get("/storage/b").json(), ["a"])

    def test_batch_errors(self):
        self.weave_error(self.c.post("/storage/b?commit=true", []), 1)
        self.weave_error(self.c.post("/storage/b?batch=true&commit=yes", []), 1)
        self.weave_error(self.c.post("/storage/b?batch=nosuchbatch", []), 1)
        bid = self.c.post("/storage/b?batch=true", []).json()["batch"]
        self.weave_error(self.c.post("/storage/other?batch=" + quote(bid, safe=""), []), 1)
        self.weave_error(self.c.post("/storage/b", [], headers={"X-Weave-Total-Records": "3"}), 1)
        self.weave_error(self.c.post("/storage/b?batch=true", [],
                                     headers={"X-Weave-Total-Bytes": "lots"}), 1)

    def test_batch_total_limits_400_17(self):
        ctl(self.base, "POST", "config", {"limits": {"max_total_records": 3,
                                                     "max_total_bytes": 10}})
        self.weave_error(self.c.post("/storage/b?batch=true", [],
                                     headers={"X-Weave-Total-Records": "4"}), 17)
        self.weave_error(self.c.post("/storage/b?batch=true", [],
                                     headers={"X-Weave-Total-Bytes": "11"}), 17)
        bid = quote(self.c.post("/storage/b?batch=true", [{"id": "a"}, {"id": "b"}]).json()
                    ["batch"], safe="")
        self.weave_error(self.c.post("/storage/b?batch=" + bid, [{"id": "c"}, {"id": "d"}]), 17)
        self.ok(self.c.post("/storage/b?batch=" + bid, [{"id": "c", "payload": "0123456789"}]),
                202)
        self.weave_error(self.c.post("/storage/b?commit=true&batch=" + bid,
                                     [{"id": "c", "payload": "x"}]), 17)

    def test_post_limits(self):
        ctl(self.base, "POST", "config", {"limits": {"max_post_records": 2, "max_post_bytes": 5,
                                                     "max_request_bytes": 200,
                                                     "max_record_payload_bytes": 4}})
        self.weave_error(self.c.post("/storage/b", [{"id": "a"}, {"id": "b"}, {"id": "c"}]), 17)
        self.weave_error(self.c.post("/storage/b", [{"id": "a", "payload": "123"},
                                                    {"id": "b", "payload": "123"}]), 17)
        self.weave_error(self.c.post("/storage/b", [], headers={"X-Weave-Records": "3"}), 17)
        self.weave_error(self.c.post("/storage/b", [], headers={"X-Weave-Bytes": "6"}), 17)
        self.assertEqual(self.c.post("/storage/b", [{"id": "a", "payload": "x" * 300}])
                         .status_code, 413)
        r = self.ok(self.c.post("/storage/b", [{"id": "a", "payload": "12345"},
                                               {"id": "b", "payload": ""}]))
        self.assertEqual(r.json()["success"], ["b"])
        self.assertIn("a", r.json()["failed"])

    def test_server_without_batching_answers_200(self):
        ctl(self.base, "POST", "config", {"batching": False})
        r = self.ok(self.c.post("/storage/b?batch=true", [{"id": "a"}]))
        self.assertNotIn("batch", r.json())
        self.assertEqual(self.c.get("/storage/b").json(), ["a"])

    def test_commit_412_after_concurrent_write(self):
        r = self.c.post("/storage/b?batch=true", [{"id": "a"}])
        bid = quote(r.json()["batch"], safe="")
        ctl(self.base, "POST", "concurrent-write",
            {"collection": "b", "id": "other", "payload": "theirs", "method": "POST"})
        r = self.c.post("/storage/b?commit=true&batch=" + bid, [],
                        headers={"X-If-Unmodified-Since": "0"})
        self.assertEqual(r.status_code, 412)
        self.assertEqual(self.c.get("/storage/b").json(), ["other"])


class TestHawk(StorageTest):
    def mac_header(self, url, method="GET", ts=None, nonce="n0nce", key=None, hash_=None):
        """Hawk header built by hand (hawk API.md), for the failure cases."""
        ts = int(time.time()) if ts is None else ts
        u = requests.utils.urlparse(url)
        port = u.port or 80
        path = u.path + ("?" + u.query if u.query else "")
        norm = "hawk.1.header\n%d\n%s\n%s\n%s\n%s\n%d\n%s\n\n" % (
            ts, nonce, method, path, u.hostname, port, hash_ or "")
        mac = base64.b64encode(hmac.new((key or self.c.key).encode(), norm.encode(),
                                        hashlib.sha256).digest()).decode()
        h = 'Hawk id="%s", ts="%d", nonce="%s", mac="%s"' % (self.c.id, ts, nonce, mac)
        if hash_:
            h += ', hash="%s"' % hash_
        return h

    def assert_401(self, r):
        self.assertEqual(r.status_code, 401, r.text)
        self.assertIn("X-Weave-Timestamp", r.headers)
        self.assertTrue(r.headers["WWW-Authenticate"].startswith("Hawk"))
        return r

    def test_hand_built_header_is_accepted(self):
        url = self.c.endpoint + "/info/collections"
        self.ok(self.c.get("/info/collections", auth=self.mac_header(url)))

    def test_missing_or_foreign_auth_401(self):
        self.assert_401(self.c.get("/info/collections", auth=False))
        self.assert_401(self.c.get("/info/collections", auth="Bearer abc"))

    def test_bad_mac_401(self):
        url = self.c.endpoint + "/info/collections"
        self.assert_401(self.c.get("/info/collections", auth=self.mac_header(url, key="wrong")))
        # signed for another path
        self.assert_401(self.c.get("/info/quota", auth=self.mac_header(url)))

    def test_replayed_nonce_401(self):
        url = self.c.endpoint + "/info/collections"
        h = self.mac_header(url, nonce="same")
        self.ok(self.c.get("/info/collections", auth=h))
        self.assert_401(self.c.get("/info/collections", auth=h))

    def test_skewed_timestamp_401_with_server_time(self):
        url = self.c.endpoint + "/info/collections"
        r = self.assert_401(self.c.get("/info/collections",
                                       auth=self.mac_header(url, ts=int(time.time()) - 3600)))
        m = re.search(r'ts="([0-9]+)", tsm="([^"]+)"', r.headers["WWW-Authenticate"])
        self.assertIsNotNone(m)
        tsm = base64.b64encode(hmac.new(self.c.key.encode(), b"hawk.1.ts\n%s\n" %
                                        m.group(1).encode(), hashlib.sha256).digest()).decode()
        self.assertEqual(m.group(2), tsm)
        self.assertLess(abs(int(m.group(1)) - time.time()), 5)

    def test_payload_hash_checked_when_present(self):
        self.ok(self.c.put("/storage/c/a", {"payload": "x"}, hash_payload=True))
        url = self.c.endpoint + "/storage/c/a"
        bad = base64.b64encode(hashlib.sha256(b"not the body").digest()).decode()
        self.assert_401(self.c.put("/storage/c/a", {"payload": "x"},
                                   auth=self.mac_header(url, "PUT", hash_=bad)))

    def test_wrong_uid_wrong_node_expired_token_401(self):
        other = Client(self.base, self.uid + 1000)
        other.endpoint = self.c.endpoint                    # token uid != URL uid
        self.assert_401(other.get("/info/collections"))
        moved = Client(self.base, self.uid, node="http://127.0.0.1:1")
        moved.endpoint = self.c.endpoint                    # token for another node
        self.assert_401(moved.get("/info/collections"))
        expired = Client(self.base, self.uid, duration=-10)
        self.assert_401(expired.get("/storage/c"))
        # DOCS: info/collections may accept an expired token
        self.ok(expired.get("/info/collections"))

    def test_tampered_token_401(self):
        self.c.id = self.c.id[:-4] + ("AAAA" if not self.c.id.endswith("AAAA") else "BBBB")
        self.assert_401(self.c.get("/info/collections"))


class TestKnobs(StorageTest):
    def test_injected_503_with_retry_after_then_normal(self):
        ctl(self.base, "POST", "inject", {"status": 503, "retry_after": 30, "count": 2})
        for _ in range(2):
            r = self.c.get("/info/collections")
            self.assertEqual(r.status_code, 503)
            self.assertEqual(r.headers["Retry-After"], "30")
        self.ok(self.c.get("/info/collections"))

    def test_backoff_header_on_200(self):
        ctl(self.base, "POST", "inject", {"backoff": 600, "path": "/info/collections"})
        r = self.ok(self.c.get("/info/collections"))
        self.assertEqual(r.headers["X-Weave-Backoff"], "600")
        self.assertNotIn("X-Weave-Backoff", self.c.get("/info/collections").headers)

    def test_injected_401_and_409(self):
        ctl(self.base, "POST", "inject", {"status": 401, "method": "GET"})
        ctl(self.base, "POST", "inject", {"status": 409, "retry_after": 5, "method": "POST"})
        self.assertEqual(self.c.get("/storage/c").status_code, 401)
        r = self.c.post("/storage/c", [{"id": "a"}])
        self.assertEqual((r.status_code, r.headers["Retry-After"]), (409, "5"))
        self.assertEqual(self.c.get("/storage/c").json(), [])

    def test_hard_eol_513_and_soft_eol_alert(self):
        alert = {"code": "soft-eol", "message": "moving", "url": "https://example.org/eol"}
        ctl(self.base, "POST", "config", {"headers": {"X-Weave-Alert": json.dumps(alert)}})
        r = self.ok(self.c.get("/info/collections"))
        self.assertEqual(json.loads(r.headers["X-Weave-Alert"]), alert)
        ctl(self.base, "POST", "config", {"headers": {"X-Weave-Alert": None}})
        hard = dict(alert, code="hard-eol")
        ctl(self.base, "POST", "inject", {"status": 513, "alert": hard, "count": -1})
        r = self.c.get("/info/collections")
        self.assertEqual(r.status_code, 513)
        self.assertEqual(json.loads(r.headers["X-Weave-Alert"])["code"], "hard-eol")
        ctl(self.base, "DELETE", "inject")
        self.ok(self.c.get("/info/collections"))

    def test_quota_400_14_and_remaining_header(self):
        ctl(self.base, "POST", "config", {"quota_kb": 1})
        r = self.ok(self.c.post("/storage/c", [{"id": "a", "payload": "x" * 512}]))
        self.assertAlmostEqual(float(r.headers["X-Weave-Quota-Remaining"]), 0.5, places=2)
        self.assertEqual(self.c.get("/info/quota").json(), [0.5, 1.0])
        self.ok(self.c.post("/storage/c", [{"id": "b", "payload": "x" * 600}]))
        self.weave_error(self.c.post("/storage/c", [{"id": "c", "payload": "x"}]), 14)

    def test_stats_and_log_count_requests_and_bytes(self):
        ctl(self.base, "POST", "stats/reset")
        self.c.get("/info/collections")
        self.c.post("/storage/c", [{"id": "a", "payload": "12345"}])
        s = ctl(self.base, "GET", "stats")
        self.assertEqual(s["requests"], 2)
        self.assertEqual(s["by_endpoint"], {"GET info/collections": 1, "POST storage/<coll>": 1})
        self.assertEqual(s["records_in"], 1)
        self.assertEqual(s["bytes_in"], len(json.dumps([{"id": "a", "payload": "12345"}])))
        self.assertGreater(s["bytes_out"], 0)
        log = ctl(self.base, "GET", "log")
        self.assertEqual([e["method"] for e in log[-2:]], ["GET", "POST"])

    def test_seed_and_dump(self):
        t = ctl(self.base, "POST", "seed", {"uid": self.uid, "collection": "h",
                                            "bsos": [{"id": "s1", "payload": "x"}]})["modified"]
        self.assertEqual(self.c.get("/info/collections").json(), {"h": t})
        d = ctl(self.base, "GET", "dump?uid=%d" % self.uid)
        self.assertEqual(d["collections"]["h"]["bsos"][0]["id"], "s1")


class TestFullChain(unittest.TestCase):
    """FxA login -> OAuth token -> tokenserver -> Hawk-signed storage, then a node switch."""

    def test_chain_and_node_reassignment(self):
        sys.path.insert(0, os.path.dirname(HERE))
        from stack import Stack
        from fxa.core import Client as FxAClient
        from fxa._utils import HawkTokenAuth
        with Stack(nodes=2) as s:
            info = s.info
            email, pw = "chain@example.org", "correct horse"
            requests.post(info["fxa_url"] + "/__test__/account",
                          json={"email": email, "password": pw, "verify": "none"}).raise_for_status()
            fxa = FxAClient(info["fxa_url"] + "/v1")
            session = fxa.login(email, pw, keys=True)
            kA, kB = session.fetch_keys()
            oauth = requests.post(info["fxa_url"] + "/v1/oauth/token", json={
                "grant_type": "fxa-credentials", "client_id": "5882386c6d801776",
                "scope": "https://identity.mozilla.com/apps/oldsync", "access_type": "online"},
                auth=HawkTokenAuth(session.token, "sessionToken", fxa.apiclient))
            oauth.raise_for_status()
            cs = hashlib.sha256(kB).digest()[:16]
            kid = "1-" + base64.urlsafe_b64encode(cs).rstrip(b"=").decode()

            def token():
                r = requests.get(info["token_endpoint"], headers={
                    "Authorization": "Bearer " + oauth.json()["access_token"], "X-KeyID": kid})
                r.raise_for_status()
                return r.json()

            tok = token()
            self.assertTrue(tok["api_endpoint"].startswith(info["storage_urls"][0] + "/1.5/"))
            c = Client.__new__(Client)
            c.id, c.key, c.endpoint, c.skew = tok["id"], tok["key"], tok["api_endpoint"], 0
            r = c.put("/storage/meta/global", {"payload": "{}"})
            self.assertEqual(r.status_code, 200, r.text)

            requests.post(info["tokenserver_url"] + "/__testing__/config",
                          json={"node": info["storage_urls"][1]}).raise_for_status()
            tok2 = token()
            self.assertTrue(tok2["api_endpoint"].startswith(info["storage_urls"][1] + "/1.5/"))
            # the old token at the new node: 401, the new token works and sees an empty node
            stale = Client.__new__(Client)
            stale.id, stale.key, stale.skew = tok["id"], tok["key"], 0
            stale.endpoint = tok2["api_endpoint"]
            self.assertEqual(stale.get("/info/collections").status_code, 401)
            c.id, c.key, c.endpoint = tok2["id"], tok2["key"], tok2["api_endpoint"]
            r = c.get("/info/collections")
            self.assertEqual((r.status_code, r.json()), (200, {}))


if __name__ == "__main__":
    unittest.main()
