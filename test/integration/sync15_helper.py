"""Another Sync 1.5 client for test/integration/sync15_*.sh, written independently of datasync
from the storage format 5 rules (sync15.md; AES-256-CBC, HMAC-SHA256 over the base64 ciphertext,
lowercase hex). It reads and writes a user's storage through the storage test server's controls
(GET dump, POST seed: test/servers/syncstorage/knobs.py), so it needs no Hawk token.

  sync15_helper.py uid TOKENSERVER_URL              the storage uid of the (only) account
  sync15_helper.py records NODE UID KSYNC_HEX COLL   the collection's records, decrypted, one
                                                     JSON object a line, sorted by id
  sync15_helper.py meta NODE UID                     meta/global's payload (cleartext JSON)
  sync15_helper.py put-meta NODE UID JSON            write meta/global's payload
  sync15_helper.py rotate NODE UID KSYNC_HEX COLL    new random crypto/keys; the collection's
                                                     records re-encrypted under them (what a
                                                     client that changes the keys does)
  sync15_helper.py delete NODE UID PATH              a third client's Hawk-signed DELETE of PATH
                                                     under its api_endpoint ("" = the whole
                                                     storage, "storage/meta/global" = one item),
                                                     with a token from the node's token control
  sync15_helper.py writes NODE SINCE_SEQ             the protocol writes (PUT, POST, DELETE) the
                                                     node logged after SINCE_SEQ, one a line
  sync15_helper.py seq NODE                          the node's last log sequence number
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import urllib.request

import mohawk
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def call(url, method="GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def dump(node, uid):
    return call("%s/__testing__/dump?uid=%s" % (node, uid))


def bsos(node, uid, coll):
    c = dump(node, uid)["collections"].get(coll, {"bsos": []})
    return [b for b in c["bsos"] if not b.get("expired")]


def decrypt(bundle, payload):
    enc, mac = bundle
    p = json.loads(payload)
    want = hmac.new(mac, p["ciphertext"].encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, p["hmac"].lower()):
        raise ValueError("HMAC mismatch")
    d = Cipher(algorithms.AES(enc), modes.CBC(base64.b64decode(p["IV"]))).decryptor()
    raw = d.update(base64.b64decode(p["ciphertext"])) + d.finalize()
    u = padding.PKCS7(128).unpadder()
    return json.loads(u.update(raw) + u.finalize())


def encrypt(bundle, clear):
    enc, mac = bundle
    iv = os.urandom(16)
    p = padding.PKCS7(128).padder()
    raw = p.update(json.dumps(clear).encode()) + p.finalize()
    e = Cipher(algorithms.AES(enc), modes.CBC(iv)).encryptor()
    ct = base64.b64encode(e.update(raw) + e.finalize()).decode()
    return json.dumps({"ciphertext": ct, "IV": base64.b64encode(iv).decode(),
                       "hmac": hmac.new(mac, ct.encode(), hashlib.sha256).hexdigest()})


def sync_bundle(ksync_hex):
    k = bytes.fromhex(ksync_hex)
    return k[:32], k[32:]


def coll_bundle(node, uid, ksync_hex, coll):
    keys = [b for b in bsos(node, uid, "crypto") if b["id"] == "keys"]
    if not keys:
        raise SystemExit("no crypto/keys")
    k = decrypt(sync_bundle(ksync_hex), keys[0]["payload"])
    pair = k.get("collections", {}).get(coll, k["default"])
    return base64.b64decode(pair[0]), base64.b64decode(pair[1])


def seed(node, uid, coll, items):
    call("%s/__testing__/seed" % node, "POST", {"uid": int(uid), "collection": coll, "bsos": items})


def main(argv):
    cmd = argv[1]
    if cmd == "uid":
        users = call(argv[2].rstrip("/") + "/__testing__/stats")["users"]
        print(list(users.values())[0]["uid"])
    elif cmd == "records":
        node, uid, ksync, coll = argv[2:6]
        kb = coll_bundle(node, uid, ksync, coll)
        out = [decrypt(kb, b["payload"]) for b in bsos(node, uid, coll)]
        for r in sorted(out, key=lambda r: r["id"]):
            print(json.dumps(r, sort_keys=True))
    elif cmd == "meta":
        m = [b for b in bsos(argv[2], argv[3], "meta") if b["id"] == "global"]
        print(m[0]["payload"] if m else "")
    elif cmd == "put-meta":
        seed(argv[2], argv[3], "meta", [{"id": "global", "payload": argv[4]}])
    elif cmd == "rotate":
        node, uid, ksync, coll = argv[2:6]
        old = coll_bundle(node, uid, ksync, coll)
        recs = [decrypt(old, b["payload"]) for b in bsos(node, uid, coll)]
        new = (os.urandom(32), os.urandom(32))
        keys = {"id": "keys", "collection": "crypto", "collections": {},
                "default": [base64.b64encode(new[0]).decode(), base64.b64encode(new[1]).decode()]}
        seed(node, uid, "crypto", [{"id": "keys", "payload": encrypt(sync_bundle(ksync), keys)}])
        seed(node, uid, coll, [{"id": r["id"], "payload": encrypt(new, r)} for r in recs])
    elif cmd == "delete":
        node, uid, path = argv[2:5]
        tok = call(node.rstrip("/") + "/__testing__/token", "POST", {"uid": int(uid), "node": node})
        url = tok["api_endpoint"] + ("/" + path if path else "")
        # Hawk as a Sync client signs it: sha256, no payload hash (sync15.md, accounts.md)
        sender = mohawk.Sender({"id": tok["id"], "key": tok["key"], "algorithm": "sha256"},
                               url, "DELETE", always_hash_content=False)
        req = urllib.request.Request(url, method="DELETE",
                                     headers={"Authorization": sender.request_header})
        with urllib.request.urlopen(req) as r:
            print(r.status)
    elif cmd == "writes":
        for e in call("%s/__testing__/log?since=%s" % (argv[2], argv[3])):
            if e["method"] in ("PUT", "POST", "DELETE"):
                print(e["method"], e["target"], e["status"])
    elif cmd == "seq":
        log = call("%s/__testing__/log" % argv[2])
        print(log[-1]["seq"] if log else 0)
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
