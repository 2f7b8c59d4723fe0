#!/usr/bin/env python3
"""The FxA test server's onepw code against the published vectors (onepw-server.txt).

Checks the server-side stretch (scrypt -> verifyHash, wrapwrapKey), the token -> Hawk
credential derivation, the /account/keys bundle the server builds, and that a verifier made the
server's way accepts the vector's authPW and returns its wrapKb. Exit 0 when all match.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server  # noqa: E402
from fxa import crypto as fxacrypto  # noqa: E402


def load(path):
    rec = {}
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        k, v = (x.strip() for x in line.split("=", 1))
        rec[k] = v[1:-1] if v.startswith('"') else bytes.fromhex(v)
    return rec


def main():
    v = load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "onepw-server.txt"))
    fails = []

    def check(name, got, want):
        if got != want:
            fails.append("%s: got %s, want %s" % (name, got.hex(), want.hex()))

    qs = fxacrypto.quick_stretch_password(v["email"], v["password"].encode())
    check("authPW", fxacrypto.derive_auth_pw(qs), v["auth_pw"])
    check("unwrapBkey", fxacrypto.derive_key(qs, "unwrapBkey"), v["unwrap_bkey"])
    vh, ww, big = server.stretch_server(v["auth_pw"], v["auth_salt"])
    check("bigStretchedPW", big, v["big_stretched_pw"])
    check("verifyHash", vh, v["verify_hash"])
    check("wrapwrapKey", ww, v["wrapwrap_key"])
    tid, hmac_key, krk = server.token_keys(v["key_fetch_token"], "keyFetchToken")
    check("tokenID(kft)", bytes.fromhex(tid), v["kft_token_id"])
    check("reqHMACkey(kft)", hmac_key, v["kft_req_hmac_key"])
    check("keyRequestKey", krk, v["key_request_key"])
    tid, hmac_key, _ = server.token_keys(v["session_token"], "sessionToken")
    check("tokenID(session)", bytes.fromhex(tid), v["session_token_id"])
    check("reqHMACkey(session)", hmac_key, v["session_req_hmac_key"])
    check("bundle", fxacrypto.bundle(krk, "account/keys", v["ka"] + v["wrap_kb"]), v["bundle"])
    check("kB", fxacrypto.xor(v["wrap_kb"], v["unwrap_bkey"]), v["kb"])
    # A verifier stored the server's way (random authSalt) accepts authPW and yields wrapKb.
    ver = server.Verifier(v["auth_pw"], v["kb"], v["unwrap_bkey"])
    check("Verifier.check", ver.check(v["auth_pw"]) or b"", v["wrap_kb"])
    if ver.check(bytes(32)) is not None:
        fails.append("Verifier accepted a wrong authPW")
    for f in fails:
        print("FAIL", f)
    print("onepw server vectors: %s" % ("ok" if not fails else "%d failed" % len(fails)))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
