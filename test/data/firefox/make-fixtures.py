#!/usr/bin/env python3
"""Build places.sqlite and formhistory.sqlite from places.sql and formhistory.sql.

Usage: make-fixtures.py OUTDIR. The url_hash column is filled with Firefox's hash(url) as
toolkit/components/places/SQLFunctions.cpp computes it: mozilla::HashString
(mfbt/HashFunctions.h: h = 0x9E3779B9 * (rotl5(h) ^ byte)) of the first 1500 bytes, plus, for a
string with a ':' in its first 50 bytes, the scheme's hash masked to 16 bits, shifted left 32.
This is written independently of the C code so that the unit tests compare the two.
"""
import os
import sqlite3
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def moz_hash(data: bytes) -> int:
    h = 0
    for b in data:
        h = (0x9E3779B9 * ((((h << 5) | (h >> 27)) & 0xFFFFFFFF) ^ b)) & 0xFFFFFFFF
    return h


def url_hash(url: str) -> int:
    raw = url.encode("utf-8")
    whole = moz_hash(raw[:1500])
    colon = raw[:50].find(b":")
    if colon < 0:
        return whole
    return ((moz_hash(raw[:colon]) & 0xFFFF) << 32) + whole


def build(sql_name: str, out: str) -> None:
    if os.path.exists(out):
        os.unlink(out)
    db = sqlite3.connect(out)
    with open(os.path.join(HERE, sql_name), encoding="utf-8") as f:
        db.executescript(f.read())
    if sql_name == "places.sql":
        for pid, url in db.execute("SELECT id, url FROM moz_places").fetchall():
            db.execute("UPDATE moz_places SET url_hash = ? WHERE id = ?", (url_hash(url), pid))
    db.commit()
    db.close()


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    os.makedirs(sys.argv[1], exist_ok=True)
    build("places.sql", os.path.join(sys.argv[1], "places.sqlite"))
    build("formhistory.sql", os.path.join(sys.argv[1], "formhistory.sqlite"))
    if os.environ.get("PRINT_HASHES"):
        for u in ("https://www.mozilla.org/", "https://example.com/a", "place:sort=8", "about"):
            print(u, url_hash(u))
    return 0


if __name__ == "__main__":
    sys.exit(main())
