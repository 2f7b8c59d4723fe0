#!/usr/bin/env python3
"""Check the test tokenserver's minting against the tokenlib vector.

    check_vector.py [VECTOR_FILE]      default: tokenlib_vector.txt next to this script

Mints with server.mint_token() (the code path of every 200 the server sends) from the vector's
secret and payload and compares id and key. Prints "ok" and exits 0, or says what differs and
exits 1.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import server  # noqa: E402


def load(path):
    v = {}
    with open(path, "r", encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            k, sep, val = line.partition(" = ")
            if not sep:
                raise ValueError("bad line: %r" % line)
            v[k] = val
    return v


def main():
    v = load(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "tokenlib_vector.txt"))
    data = json.loads(v["payload"])
    # tokenlib signs json.dumps(data): the dict must give back the vector's bytes.
    if json.dumps(data) != v["payload"]:
        print("payload does not round-trip through json.dumps")
        return 1
    token, key = server.mint_token(v["secret"], data)
    bad = []
    if token != v["id"]:
        bad.append("id %s != %s" % (token, v["id"]))
    if not (token.startswith(v["id_begins"]) and token.endswith(v["id_ends"])):
        bad.append("id does not begin/end as published")
    if key != v["key"]:
        bad.append("key %s != %s" % (key, v["key"]))
    # A wrong secret must not reproduce it (the check can fail).
    token2, key2 = server.mint_token(v["secret"] + "x", data)
    if token2 == v["id"] or key2 == v["key"]:
        bad.append("a different secret gives the same token")
    for b in bad:
        print(b)
    if bad:
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
