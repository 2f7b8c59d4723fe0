#!/usr/bin/env python3
"""Write the seed corpora of test/fuzz/corpus/ (small files, one input each).

Seeds are taken from the project's fixtures and documents: test/data/conf, test/data/sim,
test/data/port/sim, the onepw vector (test/vectors/onepw.txt), RFC 4648 rows
(test/vectors/encoding.txt), the storage format 5 and Kinto codec vectors
(test/vectors/storage_format5.txt, kinto_codec.txt), the browser record fixtures
(test/data/firefox/records), docs/ipc.md, docs/remote-dir.md and docs/engine-table.md examples,
and RFC 9110's date forms. The keys_jwe seeds are made with python3-cryptography when it is
installed (else the committed ones stay). Run from anywhere: python3 test/fuzz/make-seeds.py
Files found by a fuzzer that crashed it are kept beside the seeds as crash-<what> (never
overwritten here), so every run replays them.
"""
import base64
import hashlib
import json
import os
import shutil

SRC = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(SRC, "test", "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def copy_dir(target, folder, suffixes):
    d = os.path.join(SRC, folder)
    for name in sorted(os.listdir(d)):
        if name.endswith(suffixes):
            put(target, name, open(os.path.join(d, name), "rb").read())


def vector(path, key, record=0):
    rows, cur = [], {}
    for line in open(os.path.join(SRC, path), encoding="utf-8"):
        line = line.strip()
        if not line or line.startswith("#"):
            if cur and not line:
                rows.append(cur)
                cur = {}
            continue
        k, _, v = line.partition(" = ")
        cur[k] = v.strip('"')
    if cur:
        rows.append(cur)
    return rows[record][key]


# ---- http: URL line, then response headers -----------------------------------------------
put("http", "sync15", "https://sync-1-us-west1-g.sync.services.mozilla.com/1.5/12345/storage/bookmarks?full=1\n"
    "x-weave-backoff: 1800\nretry-after: 120\ncontent-type: application/json\n")
put("http", "kinto", "http://127.0.0.1:8888/v1/buckets/default/collections/tasks/records\n"
    "Backoff: 60.5\nRetry-After: Sun, 06 Nov 1994 08:49:37 GMT\n")
put("http", "rfc850", "https://[::1]:8443/path#frag\nretry-after: Sunday, 06-Nov-94 08:49:37 GMT\n")
put("http", "asctime", "http://example.org:80?q\nretry-after: Sun Nov  6 08:49:37 1994\nbackoff: 0.001\n")
put("http", "bad", "https://user@host/\nretry-after: soon\nx-weave-backoff: -1\n")

# ---- dir_batch: mode byte, then a file image, a body to seal, or NUL-separated records ------
body = ('{"device": "dev-a", "written_ms": 1767225600000, "records": ['
        '{"id": "a1", "deleted": false, "modified_ms": 1767225600000, "payload": "{\\"x\\":1}"},'
        '{"id": "a2", "deleted": true, "modified_ms": 1767225600000, "payload": null}]}')
put("dir_batch", "body-clear", b"\x02" + body.encode())
put("dir_batch", "body-gcm", b"\x03" + body.encode())
put("dir_batch", "body-bad-ms", b"\x02" + body.replace("1767225600000", "1.5", 1).encode())
put("dir_batch", "records-clear", b"\x04a1\x00{\"x\":1}\x00b2\x00\x00c3")
put("dir_batch", "records-gcm", b"\x05a1\x00{\"x\":\"\\u0001\"}\x00zz\x00[]")
# A whole cleartext file for the collection "fuzz", batch 7 (docs/remote-dir.md, "Batch files").
hdr = b"DSDB\x01\x00\x00\x00"
aad = hdr + b"fuzz/" + b"%016d" % 7
put("dir_batch", "file-clear", b"\x00" + hdr + hashlib.sha256(aad + body.encode()).digest() + body.encode())
put("dir_batch", "file-newer", b"\x00DSDB\x02\x00\x00\x00")

# ---- dir_header: datasync-dir.json ----------------------------------------------------------
put("dir_header", "clear", '{"format":"datasync-dir","version":1,'
    '"epoch":"00112233445566778899aabbccddeeff","encrypted":false}')
put("dir_header", "encrypted", '{"format":"datasync-dir","version":1,'
    '"epoch":"00112233445566778899aabbccddeeff","encrypted":true,'
    '"kdf":{"name":"pbkdf2-sha256","iterations":100000,"salt":"000102030405060708090a0b0c0d0e0f"},'
    '"key_check":"' + "ab" * 32 + '"}')
put("dir_header", "newer", '{"format":"datasync-dir","version":2,"epoch":"00","encrypted":false}')

# ---- ipc: piece-size byte, then request lines (docs/ipc.md) --------------------------------
put("ipc", "commands", b"\x00" + b'{"id":1,"cmd":"status"}\n{"id":2,"cmd":"later"}\r\n'
    b'{"id":3,"cmd":"fail"}\n\n{"id":4,"cmd":"sync","name":"alarms","wait":true}\n')
put("ipc", "register", b"\x03" + b'{"id":9007199254740991,"cmd":"register","registration":'
    b'{"name":"alarms","engine":{"kind":"table","db":"a.db","table":"alarms"},'
    b'"remote":{"kind":"dir","path":"sd","passphrase":"x"}}}\n')
put("ipc", "bad", b"\x01" + b'{"id":-1,"cmd":"x"}\n{"cmd":"x"}\n[1,2]\n{"id":1.5}\n{"id":1,"cmd":""}\n')
put("ipc", "long", b"\x7f" + b'{"id":5,"cmd":"version","pad":"' + b"x" * 1100 + b'"}\n')

# ---- conf, sim_script: the fixtures as they are ----------------------------------------------
copy_dir("conf", "test/data/conf", (".conf",))
put("conf", "datasync.conf", open(os.path.join(SRC, "component/daemon/datasync.conf"), "rb").read())
copy_dir("sim_script", "test/data/sim", (".script",))
copy_dir("sim_script", "test/data/port/sim", (".script", ".txt"))

# ---- table_record: flags byte, key byte, then "id\npayload" or the payload ---------------------
def tid(key_json):
    return base64.urlsafe_b64encode(key_json.encode()).rstrip(b"=").decode()


put("table_record", "upsert", b"\x02\x05" + b'{"a":5,"b":"k","c":{"$blob":"AAEC"},"d":3.0,"e":null}')
put("table_record", "inf", b"\x02\x07" + b'{"a":7,"b":"k","d":{"$real":"-inf"},"e":[1,{"x":2}]}')
put("table_record", "unknown-col", b"\x02\x01" + b'{"a":1,"b":"k","zz":9223372036854775807}')
put("table_record", "tombstone", b"\x03\x05")
put("table_record", "id-line", b"\x00\x00" + tid('[1,"x"]').encode() + b'\n{"a":1,"b":"x","d":1e+300}')
put("table_record", "key-literals", b"\x00\x00" + b"WzFd\n1,'it''s',X'00ff',-Inf,NULL,2.5e-3")

# ---- encoding: RFC 4648 rows ------------------------------------------------------------------
for i, (b64, url, hx) in enumerate([("Zm9vYg==", "Zm9vYg", "666f6f62"), ("+/+/", "-_-_", "fbffbf"),
                                    ("Zm9vYmFy", "Zm9vYmFy", "666F6F626172"), ("Zh==", "Zh", "6")]):
    put("encoding", "b64-%d" % i, b64)
    put("encoding", "url-%d" % i, url)
    put("encoding", "hex-%d" % i, hx)

# ---- account_bundle: keyRequestKey, mode, bundle (onepw v1 vector) ------------------------------
krk = bytes.fromhex(vector("test/vectors/onepw.txt", "key_request_key"))
bundle = bytes.fromhex(vector("test/vectors/onepw.txt", "bundle"))
put("account_bundle", "onepw-v1", krk + b"\x00" + bundle)
put("account_bundle", "onepw-v1-fixed-mac", krk + b"\x01" + bundle[:64])
put("account_bundle", "short", krk + b"\x00" + bundle[:95])

# ---- sync15: mode byte, then a storage node's text (test/vectors/storage_format5.txt TV-4) -------
SF5 = "test/vectors/storage_format5.txt"


def sf5_payload(record):
    return json.dumps({"ciphertext": vector(SF5, "ciphertext", record), "IV": vector(SF5, "iv_b64", record),
                       "hmac": vector(SF5, "hmac", record)}, separators=(",", ":"))


KEYS_PAYLOAD = sf5_payload(4)     # TV-4 crypto/keys, under kSync
HISTORY_PAYLOAD = sf5_payload(5)  # TV-4 history, under the default keys inside it
put("sync15", "bso-history", b"\x00" + json.dumps(
    [{"id": "_9sCUbahs0ay", "modified": 1388635807.41, "sortindex": 100, "payload": HISTORY_PAYLOAD},
     {"id": "{braces}", "modified": "12.5", "payload": "{}"}, {"id": "a,b", "modified": 1, "payload": ""}]).encode())
put("sync15", "bso-roundtrip", b"\x04" + b"0123456789abcdef" + b'{"id":"x","deleted":true}')
# A GET answer for the streamed splitter, fed 4 bytes at a time (mode 0x18): strings holding the
# frame's own characters, a nested object.
put("sync15", "answer-stream", b"\x18" + b'[{"id":"a","modified":1.5,"payload":"{\\"x\\":\\"}]\\"}"},\n'
    b'{"id":"b","modified":2,"payload":"","n":{"a":[1,{}]}}]')
put("sync15", "keys-clear", b"\x01" + vector(SF5, "plaintext", 4).encode())
put("sync15", "keys-colls", b"\x01" + json.dumps(
    {"default": ["/XKu2GgjfQfrqoIJOQxdBkO++atxe0xO6C3fJaeAbmg=", "cVehNzSJd0YDn3JaPz7alyuOuDW1iHmCzlJMZqJdfTc="],
     "collections": {"bookmarks": ["cVehNzSJd0YDn3JaPz7alyuOuDW1iHmCzlJMZqJdfTc=",
                                   "/XKu2GgjfQfrqoIJOQxdBkO++atxe0xO6C3fJaeAbmg="]}}).encode())
put("sync15", "keys-payload", b"\x01" + KEYS_PAYLOAD.encode())
put("sync15", "meta-global", b"\x02" + json.dumps(
    {"syncID": "abcdefghijkl", "storageVersion": 5, "declined": ["passwords", "bookmarks"],
     "engines": {"history": {"version": 1, "syncID": "mnopqrstuvwx"}, "bookmarks": {"version": 2}}}).encode())
put("sync15", "meta-declined", b"\x02" + b'{"storageVersion":5,"declined":["bookmarks"],"engines":{}}')
put("sync15", "meta-enable", b"\x06" + b'{"storageVersion":5,"declined":["bookmarks",1],"engines":[]}')
put("sync15", "info-configuration", b"\x03" + b'{"max_request_bytes":2101248,"max_post_records":100,'
    b'"max_post_bytes":2097152,"max_total_records":10000,"max_total_bytes":104857600,'
    b'"max_record_payload_bytes":2097152}')
put("sync15", "info-collections", b"\x03" + b'{"meta":1388635807.41,"crypto":"1388635807","history":0,"x":-1}')
put("sync15", "x-weave-timestamp", b"\x03" + b"1388635807.41")
put("sync15", "weave-code", b"\x03" + b"8\n")

# ---- account: mode byte, then canned answers "<status>\n<headers>\n\n<body>" joined by NUL ------
def answers(*parts):
    out = []
    for status, headers, body in parts:
        h = "".join("%s: %s\n" % kv for kv in headers)
        out.append(("%d\n%s\n" % (status, h)).encode() + (json.dumps(body) if not isinstance(body, str) else body).encode())
    return b"\x00".join(out)


TOKEN = {"id": "eyJub2RlIjoiaHR0cHM6Ly9ub2RlIn0", "key": "a2V5LWJ5dGVz", "uid": 12345,
         "api_endpoint": "https://sync-1.example.test/1.5/12345", "duration": 3600,
         "hashed_fxa_uid": "0f4b3d", "node_type": "spanner"}
put("account", "ts-ok", b"\x00" + answers((200, [("X-Timestamp", "1767225600")], TOKEN),
                                         (200, [("X-Backoff", "60")], dict(TOKEN, api_endpoint="https://sync-2.example.test/1.5/12345"))))
put("account", "ts-errors", b"\x3c" + answers(
    (401, [("X-Timestamp", "1767225999")], {"status": "invalid-generation", "errors": [
        {"location": "body", "name": "", "description": "Unauthorized"}]}),
    (503, [("Retry-After", "30")], {"status": "error"}),
    (403, [], {"status": "new-users-disabled", "errors": []}),
    (200, [], dict(TOKEN, duration=-1))))
ONEPW = "test/vectors/onepw.txt"
LOGIN = {"uid": "4c352927cd4f4a4aa03d7d1893d950b8", "sessionToken": vector(ONEPW, "session_token"),
         "keyFetchToken": vector(ONEPW, "key_fetch_token"), "verified": False, "verificationMethod": "email-otp"}
put("account", "login-v1", b"\x01" + answers(
    (200, [("Timestamp", "1767225600")], {"currentVersion": "v1"}),
    (200, [], LOGIN), (200, [], {}), (200, [], {"id": "0123456789abcdef0123456789abcdef", "name": "TV"}),
    (200, [], {})))
put("account", "login-v2-totp", b"\x01" + answers(
    (200, [], {"currentVersion": "v2", "clientSalt": "identity.mozilla.com/picl/v1/quickStretchV2:"
                                                     "0123456789abcdef0123456789abcdef"}),
    (200, [], dict(LOGIN, keyFetchTokenVersion2=vector(ONEPW, "key_fetch_token"), verificationMethod="totp-2fa")),
    (200, [], {"success": False})))
put("account", "login-errors", b"\x01" + answers(
    (200, [], {"currentVersion": "v1"}),
    (400, [], {"code": 400, "errno": 120, "email": "User@example.test", "message": "Incorrect email case"}),
    (200, [], {"currentVersion": "v1"}),
    (400, [], {"code": 400, "errno": 111, "serverTime": 1767229200, "message": "Invalid timestamp"}),
    (429, [("Retry-After", "120")], {"code": 429, "errno": 114, "retryAfter": 120})))
SKD = {"https://identity.mozilla.com/apps/oldsync": {
    "identifier": "https://identity.mozilla.com/apps/oldsync",
    "keyRotationSecret": "0000000000000000000000000000000000000000000000000000000000000000",
    "keyRotationTimestamp": 1510726317123}}
put("account", "keys-onepw", b"\x02" + answers(
    (200, [], {"bundle": vector(ONEPW, "bundle")}), (200, [], SKD),
    (200, [], {"access_token": "a" * 64, "token_type": "bearer", "scope": "https://identity.mozilla.com/apps/oldsync",
               "expires_in": 21600, "refresh_token": "b" * 64}),
    (200, [], {"access_token": "c" * 64, "expires_in": 21600})))
put("account", "keys-bad-mac", b"\x02" + answers(
    (200, [], {"bundle": "00" * 96}), (401, [], {"code": 401, "errno": 110, "message": "Invalid token"})))

# keys_jwe: ECDH-ES + A256GCM compact JWEs to the fixed receiver key of fuzz_account.c (RFC 7516,
# RFC 7518 §4.6), made with python3-cryptography when it is there (the committed seeds stay).
JWE_PRIV = 0xc9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721
try:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    def b64u(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    def make_jwe(plain, eph, alg="ECDH-ES"):
        recv = ec.derive_private_key(JWE_PRIV, ec.SECP256R1())
        e = ec.derive_private_key(eph, ec.SECP256R1())
        z = e.exchange(ec.ECDH(), recv.public_key())
        cek = hashlib.sha256(b"\0\0\0\1" + z + b"\0\0\0\7A256GCM" + b"\0\0\0\0\0\0\0\0\0\0\1\0").digest()
        n = e.public_key().public_numbers()
        hdr = json.dumps({"alg": alg, "enc": "A256GCM", "epk": {"kty": "EC", "crv": "P-256",
                          "x": b64u(n.x.to_bytes(32, "big")), "y": b64u(n.y.to_bytes(32, "big"))}},
                         separators=(",", ":"))
        h64 = b64u(hdr.encode())
        iv = bytes(range(12))
        ct = AESGCM(cek).encrypt(iv, plain.encode(), h64.encode())
        return "%s..%s.%s.%s" % (h64, b64u(iv), b64u(ct[:-16]), b64u(ct[-16:]))

    put("account", "jwe-scoped-keys", b"\x03" + make_jwe(json.dumps({
        "https://identity.mozilla.com/apps/oldsync": {"kty": "oct", "scope": "https://identity.mozilla.com/apps/oldsync",
                                                      "k": "8ek1VNk4sjrNP0DhGC4crzQtwmpoR64zHuFMHb4Tw-e",
                                                      "kid": "1526414944666-zgTjf5oXmPmBjxwXWFsDWg"}}), 7).encode())
    put("account", "jwe-alg", b"\x03" + make_jwe("{}", 11, "RSA-OAEP").encode())
except ImportError:
    pass
put("account", "jwe-short", b"\x03eyJhbGciOiJFQ0RILUVTIn0..AAAA.AAAA.AAAA")

# ---- sync15_setup: mode byte (1: may write, 2: enable), then a storage node's answers -----------
def bso(id_, payload, modified=1767225600.5):
    return {"id": id_, "modified": modified, "payload": payload}


META = {"syncID": "abcdefghijkl", "storageVersion": 5, "declined": ["passwords"],
        "engines": {"history": {"version": 1, "syncID": "mnopqrstuvwx"}, "tabs": {"version": 1, "syncID": "xyz"}}}
INFO = {"meta": 1767225600.5, "crypto": 1767225600.5, "history": 1767225700.25}
LM = [("X-Last-Modified", "1767225600.50"), ("X-Weave-Timestamp", "1767225800.12")]
put("sync15_setup", "ready", b"\x00" + answers(
    (200, LM + [("X-Weave-Quota-Remaining", "1024.5")], INFO),
    (200, [], {"max_post_records": 100, "max_request_bytes": 2101248}),
    (200, LM, bso("global", json.dumps(META))), (200, LM, bso("keys", KEYS_PAYLOAD)),
    (200, [("X-Weave-Backoff", "30")], bso("keys", KEYS_PAYLOAD))))
put("sync15_setup", "fixup", b"\x03" + answers(
    (200, [], INFO), (404, [], ""),
    (200, LM, bso("global", json.dumps(dict(META, declined=["history"], engines={})))),
    (412, [], ""), (304, [("X-Last-Modified", "1767225601")], ""), (200, [], INFO), (404, [], ""),
    (200, LM, bso("global", json.dumps(META))), (200, LM, bso("keys", KEYS_PAYLOAD))))
put("sync15_setup", "fresh-start", b"\x01" + answers(
    (200, [], {}), (200, [], {}), (404, [], ""), (204, [], ""), (200, [], "1767225600.5"),
    (200, [("X-Last-Modified", "1767225601")], ""), (200, [], {"meta": 1, "crypto": 1}),
    (200, [], {}), (200, [], bso("global", json.dumps(META))), (200, [], bso("keys", "{}"))))
put("sync15_setup", "errors", b"\x01" + answers(
    (401, [], ""), (200, [("X-Weave-Alert", '{"code":"soft-eol","message":"bye","url":"https://x"}')], INFO),
    (200, [], "[]"), (200, [], bso("global", json.dumps(dict(META, storageVersion=6))))))
put("sync15_setup", "hard-eol", b"\x01" + answers(
    (503, [("Retry-After", "Sun, 06 Nov 1994 08:49:37 GMT"), ("X-Weave-Alert", '{"code":"hard-eol","message":"gone"}')], "")))

# ---- kinto: mode byte, then canned answers to record-list GETs (bit 0 set: a payload) -----------
KV = "test/vectors/kinto_codec.txt"


def kinto_rows():
    rows = []
    for line in open(os.path.join(SRC, KV), encoding="utf-8"):
        k, sep, v = line.rstrip("\n").partition(" = ")
        if sep and not line.startswith("#"):
            rows.append((k, v[1:-1] if v.startswith('"') else v))
    return rows


KROWS = kinto_rows()
kdata = [v for k, v in KROWS if k == "data"]
kpayloads = [v for k, v in KROWS if k == "payload"]
krecord = [v for k, v in KROWS if k == "record"][0]
clear_recs = ",".join('{"id":"r%d","last_modified":%d,%s' % (i, 1700000000000 + i, d[1:]) if d != "{}"
                      else '{"id":"r%d","last_modified":1}' % i for i, d in enumerate(kdata))
put("kinto", "list-clear", b"\x00" + answers(
    (200, [("ETag", '"1700000000005"'), ("Next-Page", "https://kinto.example.test/v1/buckets/b/collections/notes/records?_token=x"),
           ("Total-Records", "7")], '{"data":[%s,{"id":"gone","last_modified":2,"deleted":true}]}' % clear_recs),
    (304, [], ""), (200, [("Backoff", "30")], '{"data":[]}')))
put("kinto", "list-encrypted", b"\x02" + answers((200, [], '{"data":[%s]}' % krecord)))
put("kinto", "errors", b"\x00" + answers(
    (401, [], '{"code":401,"errno":104,"error":"Unauthorized","message":"Please authenticate yourself"}'),
    (412, [], '{"code":412,"errno":114,"error":"Precondition Failed","message":"Resource was modified"}'),
    (503, [("Retry-After", "30"), ("Alert", '{"code":"soft-eol","message":"bye","url":"https://x"}')],
     '{"code":503,"errno":201,"error":"Service Unavailable"}'),
    (410, [("Alert", '{"code":"hard-eol"}')], '{"code":410,"errno":202}')))
for i, p in enumerate(kpayloads):
    put("kinto", "payload-%d" % i, b"\x01" + p.encode())

# ---- kinto_batch: mode byte (bits 0-1: 1..4 records a1 b2 c3 d4; bit 2: cursor), POST /batch answers --
# The shapes of Kinto 26's answers (kinto/core/views/batch.py; errors of kinto/core/errors.py).
KPATH = "/v1/buckets/default/collections/notes/records"
KH = {"Content-Type": "application/json", "ETag": '"1700000000020"'}


def ksub(status, rid, body, headers=KH):
    return {"status": status, "path": KPATH + ("/" + rid if rid else ""), "body": body, "headers": headers}


def kerr(code, errno, error, **extra):
    return dict({"code": code, "errno": errno, "error": error}, **extra)


def kcheck(*ids):
    return ksub(200, "", {"data": [{"id": i, "last_modified": ms} for i, ms in ids]})


KOK = [ksub(201, "a1", {"data": {"id": "a1", "last_modified": 1700000000020, "title": "new", "n": 1}}),
       ksub(200, "b2", {"data": {"id": "b2", "last_modified": 1700000000021, "title": "edited", "n": 2}}),
       ksub(200, "c3", {"data": {"id": "c3", "last_modified": 1700000000022, "deleted": True}}),
       ksub(404, "d4", kerr(404, 110, "Not Found", details={"id": "d4", "resource_name": "record"}))]
put("kinto_batch", "success", b"\x07" + answers((200, [], {"responses": KOK + [
    kcheck(("a1", 1700000000020), ("b2", 1700000000021), ("c3", 1700000000022))]})))
put("kinto_batch", "create-only", b"\x00" + answers((200, [("Backoff", "10")], {"responses": [
    KOK[0], kcheck(("a1", 1700000000020))]})))
# b2 changed meanwhile at a time the cursor covers: retried with If-Match on that version.
K412 = ksub(412, "b2", kerr(412, 114, "Precondition Failed", message="Resource was modified meanwhile",
                            details={"existing": {"id": "b2", "last_modified": 1700000000005, "title": "theirs"}}))
put("kinto_batch", "412-retried", b"\x05" + answers(
    (200, [], {"responses": [KOK[0], K412, kcheck(("a1", 1700000000020), ("b2", 1700000000005))]}),
    (200, [], {"responses": [KOK[1], kcheck(("a1", 1700000000020), ("b2", 1700000000021))]})))
# A newer version than the cursor: a real conflict, the upload ends -ESTALE.
put("kinto_batch", "412-conflict", b"\x07" + answers((200, [], {"responses": [
    KOK[0], ksub(412, "b2", kerr(412, 114, "Precondition Failed", details={"existing": {
        "id": "b2", "last_modified": 1700000000050, "title": "theirs"}})), KOK[2], KOK[3],
    kcheck(("a1", 1700000000020), ("b2", 1700000000050))]})))
put("kinto_batch", "400-mixed", b"\x03" + answers((200, [], {"responses": [
    ksub(400, "a1", kerr(400, 107, "Invalid parameters", message="data.title in body: Required",
                          details=[{"location": "body", "name": "data.title", "description": "Required"}])),
    KOK[1], KOK[2],
    ksub(403, "d4", kerr(403, 121, "Forbidden", message="This user cannot access this resource.")),
    kcheck(("b2", 1700000000021), ("x9", 1700000000030))]})))
put("kinto_batch", "503-in-batch", b"\x01" + answers((200, [], {"responses": [
    ksub(503, "a1", kerr(503, 201, "Service Unavailable"), {"Retry-After": "30"}),
    ksub(503, "b2", kerr(503, 201, "Service Unavailable")), ksub(503, "", kerr(503, 201, "Service Unavailable"))]})))
put("kinto_batch", "batch-refused", b"\x03" + answers(
    (400, [], kerr(400, 107, "Invalid parameters", message="requests in body: Number of requests is limited to 25",
                   details=[{"location": "body", "name": "requests", "description": "Number of requests is limited to 25"}]))))
put("kinto_batch", "check-next-page", b"\x04" + answers((200, [], {"responses": [KOK[0], ksub(
    200, "", {"data": [{"id": "a1", "last_modified": 1700000000020}]},
    dict(KH, **{"Next-Page": "http://127.0.0.1:8888" + KPATH + "?_token=abc"}))]})))

# ---- history, forms: "<id>\n<payload>" records joined by NUL (test/data/firefox/records) ----------
for target, fixture in (("history", "history.json"), ("forms", "forms.json")):
    vecs = json.load(open(os.path.join(SRC, "test", "data", "firefox", "records", fixture)))["vectors"]
    recs = []
    for i, v in enumerate(vecs):
        rec = (v["in"]["id"] + "\n" + json.dumps(v["in"], ensure_ascii=False)).encode()
        put(target, "vector-%02d" % i, rec)
        recs.append(rec)
    # All of them in one input, then each id deleted again.
    put(target, "all-then-tombstones", b"\x00".join(recs + [v["in"]["id"].encode() for v in vecs]))
put("history", "guid-clash", b"\x00".join([
    b'aaaaaaaaaaaa\n{"id":"aaaaaaaaaaaa","histUri":"https://x.example/","visits":[{"date":1764000000000000,"type":1}]}',
    b'bbbbbbbbbbbb\n{"id":"bbbbbbbbbbbb","histUri":"https://x.example/","visits":[{"date":1764000000000001,"type":2}]}',
    b'aaaaaaaaaaaa\n{"id":"aaaaaaaaaaaa","histUri":"https://y.example/","visits":[{"date":1e300,"type":9}]}']))
put("forms", "bounds", b"\x00".join([
    b'f1\n{"id":"f1","name":"' + b"n" * 201 + b'","value":"v"}',
    b'f2\n{"id":"f2","name":"email","value":"' + "\u00e9".encode() * 100 + b'"}',
    b'f3\n{"id":"f3","name":"email","value":"bob@example.com"}', b'f4\n{"id":"f4","name":"email","value":"bob@example.com"}']))

# ---- prefs, addons: the same record format; prefs' one id is Firefox's (engine/prefs/ds_prefs.h) ----
PREFS_ID = "e2VjODAzMGY3LWMyMGEtNDY0Zi05YjBlLTEzYTNhOWU5NzM4NH0="
for i, v in enumerate(json.load(open(os.path.join(SRC, "test", "data", "firefox", "records", "prefs.json")))["vectors"]):
    put("prefs", "vector-%02d" % i, (PREFS_ID + "\n" + json.dumps(v["in"])).encode())
put("prefs", "types-and-tombstone", b"\x00".join([
    (PREFS_ID + '\n{"id":"' + PREFS_ID + '","value":{"browser.tabs.max":1.5,"general.smoothScroll":4294967296,'
     '"browser.startup.homepage":true,"privacy.donottrackheader.enabled":null,"desktop.only":{"a":[1]},'
     '"services.sync.prefs.sync.device.serial":true},"extra":1}').encode(),
    b'Pz8-\n{"id":"Pz8-","value":{"browser.tabs.max":2}}', PREFS_ID.encode()]))
FX_APP = "{ec8030f7-c20a-464f-9b0e-13a3a9e97384}"
def addon(guid, addon_id, enabled=True, app=FX_APP, source="amo", **extra):
    return (guid + "\n" + json.dumps(dict({"id": guid, "addonID": addon_id, "applicationID": app,
                                           "enabled": enabled, "source": source}, **extra))).encode()
put("addons", "installed-and-wanted", b"\x00".join([
    addon("addonBBBBBBB", "jid1-MnnxcxisBPnSXQ@jetpack"), addon("remoteAAAAAA", "uBlock0@raymondhill.net", False),
    addon("remoteNNNNNN", "new@example.com", newer=[1]), b"addonAAAAAAA", b"remoteNNNNNN"]))
put("addons", "other-app-and-source", b"\x00".join([
    addon("remoteXXXXXX", "x@example.com", app="{3550f703-e582-4d05-9a08-453d09bdfdc6}"),
    addon("remoteYYYYYY", "vendor-tv-guide@example.com", source="url"),
    addon("addonCCCCCCC", "uBlock0@raymondhill.net"), b'bad,id\n{}']))

# ---- sync15_remote: mode byte (1: read-only, 2: upload), then the setup's and the run's answers ---
SETUP = [(200, LM, INFO), (200, [], {"max_post_records": 1, "max_total_records": 100}),
         (200, LM, bso("global", json.dumps(META))), (200, LM, bso("keys", KEYS_PAYLOAD))]
HIST = bso("_9sCUbahs0ay", HISTORY_PAYLOAD, 1767225700.25)
put("sync15_remote", "fetch", b"\x00" + answers(*SETUP, (200, [("X-Last-Modified", "1767225700.25"),
    ("X-Weave-Records", "2"), ("X-Weave-Next-Offset", "abc")], [HIST, bso("bad,id", "{}")]),
    (200, [("X-Last-Modified", "1767225700.25")], [])))
put("sync15_remote", "upload", b"\x02" + answers(*SETUP, (200, [("X-Last-Modified", "1767225700.25")], [HIST]),
    (202, [("X-Last-Modified", "1767225700.25")], {"batch": "b1", "success": ["rtAAAAAAAAAA"], "failed": {}}),
    (200, [("X-Last-Modified", "1767225800")], {"success": ["rtBBBBBBBBBB"], "failed": {}, "modified": 1767225800})))
put("sync15_remote", "upload-nobatch", b"\x02" + answers(*SETUP, (200, LM, []),
    (200, [("X-Last-Modified", "1767225800")], {"success": [], "failed": {"rtAAAAAAAAAA": "invalid"}}),
    (412, [], ""), (400, [], "14")))
