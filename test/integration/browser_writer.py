"""A desktop-like Sync 1.5 writer and the checks of test/integration/browser_converge.sh.

The writer puts cleartext records (test/data/browser/desktop.json) on the storage node as a
desktop Firefox does: encrypted with the account's collection keys (sync15_helper.py's format 5
code, written independently of datasync) and POSTed with Hawk under a token from the node's
token control. The readers print one canonical line per item, the same shape for a device's
databases and for the server's records, so that the script compares the three sides with cmp.

  browser_writer.py profile DIR a|b                 places.sqlite, formhistory.sqlite,
                                                    prefs.sqlite, addons.sqlite of a device
  browser_writer.py seed NODE UID KSYNC DATA.json   the desktop's records, all collections
  browser_writer.py put NODE UID KSYNC COLL JSON    encrypted records (a JSON list), Hawk POST
  browser_writer.py set-pref NODE UID KSYNC APP NAME JSON   change one pref in the app's record
  browser_writer.py login-add DB SECRET_DIR JSON    a login saved as the app's API would
  browser_writer.py local KIND DIR SECRET_DIR ALLOW canonical lines of a device's store
  browser_writer.py server KIND NODE UID KSYNC ALLOW  canonical lines of the server's records
  browser_writer.py views OUTDIR NODE UID KSYNC ALLOW [WHO DIR SECRET_DIR]...
                                                    all kinds, the server (WHO "s") and each
                                                    device, into OUTDIR/KIND.WHO (+ .err)
KIND: history, bookmarks, passwords, forms, prefs, addons. ALLOW: the synced prefs, comma
separated (prefs only). The same item twice (U1) fails local/server, is the .err of views.
"""
import base64
import importlib.util
import json
import os
import sqlite3
import sys
import time
import urllib.request

import mohawk
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sync15_helper as h  # noqa: E402

SRC = os.path.dirname(os.path.dirname(HERE))
FIREFOX = os.path.join(SRC, "test", "data", "firefox")
FIREFOX_APP = "{ec8030f7-c20a-464f-9b0e-13a3a9e97384}"
# Firefox's root guids and their record ids (AS storage/bookmarks/root_guid.rs)
ROOTS = {"menu________": "menu", "toolbar_____": "toolbar", "unfiled_____": "unfiled",
         "mobile______": "mobile"}
PARENTS = dict(ROOTS, root________="places")
KINDS = ("history", "bookmarks", "passwords", "forms", "prefs", "addons")


def fixture_module():
    spec = importlib.util.spec_from_file_location("make_fixtures",
                                                  os.path.join(FIREFOX, "make-fixtures.py"))
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


# ---- the desktop writer ---------------------------------------------------------------------

def hawk_post(node, uid, coll, items):
    tok = h.call(node.rstrip("/") + "/__testing__/token", "POST", {"uid": int(uid), "node": node})
    url = "%s/storage/%s" % (tok["api_endpoint"], coll)
    body = json.dumps(items).encode()
    sender = mohawk.Sender({"id": tok["id"], "key": tok["key"], "algorithm": "sha256"},
                           url, "POST", content=body, content_type="application/json")
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Authorization": sender.request_header,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        res = json.load(r)
    if res.get("failed"):
        raise SystemExit("the node refused %s records: %s" % (coll, res["failed"]))


def put(node, uid, ksync, coll, recs, ttl=None, sortindex=None):
    kb = h.coll_bundle(node, uid, ksync, coll)
    items = []
    for r in recs:
        b = {"id": r["id"], "payload": h.encrypt(kb, r)}
        if ttl:
            b["ttl"] = ttl
        if sortindex is not None:
            b["sortindex"] = sortindex
        items.append(b)
    hawk_post(node, uid, coll, items)


def server_records(node, uid, ksync, coll):
    kb = h.coll_bundle(node, uid, ksync, coll)
    return {b["id"]: h.decrypt(kb, b["payload"]) for b in h.bsos(node, uid, coll)}


def prefs_id(app):
    # CommonUtils.encodeBase64URL(Services.appinfo.ID): padded base64url
    return base64.urlsafe_b64encode(app.encode()).decode()


def seed(node, uid, ksync, data):
    d = json.load(open(data))
    put(node, uid, ksync, "clients", [d["client"]], ttl=15552000)
    # Desktop uploads a new folder with its changed parent: the root records get the new
    # children after the ones they already list (another device's).
    srv = server_records(node, uid, ksync, "bookmarks")
    bms = list(d["bookmarks"])
    for root in ("menu", "toolbar"):
        kids = [b["id"] for b in bms if b.get("parentid") == root]
        r = srv.get(root) or {"id": root, "type": "folder", "parentid": "places",
                              "parentName": "", "title": root, "children": []}
        r["children"] = [c for c in r.get("children", []) if c not in kids] + kids
        bms.append(r)
    put(node, uid, ksync, "bookmarks", bms)
    put(node, uid, ksync, "history", d["history"], ttl=5184000, sortindex=100)
    put(node, uid, ksync, "passwords", d["passwords"], sortindex=1)
    put(node, uid, ksync, "forms", d["forms"], ttl=5184000)
    pid = prefs_id(d["prefs_app_id"])
    cur = server_records(node, uid, ksync, "prefs").get(pid, {"id": pid, "value": {}})
    cur["value"].update(d["prefs"])
    put(node, uid, ksync, "prefs", [cur])
    put(node, uid, ksync, "addons", d["addons"])
    put(node, uid, ksync, "tabs", [d["tabs"]], ttl=15552000)


def set_pref(node, uid, ksync, app, name, value):
    pid = prefs_id(app)
    cur = server_records(node, uid, ksync, "prefs").get(pid)
    if not cur:
        raise SystemExit("no prefs record for %s" % app)
    cur["value"][name] = json.loads(value)
    put(node, uid, ksync, "prefs", [cur])


# ---- the devices' profiles ------------------------------------------------------------------

def add_place(db, mf, url, title):
    rev = (url.split("/")[2][::-1] + ".") if "://" in url else ""
    db.execute("INSERT INTO moz_places (url, title, rev_host, frecency, guid, url_hash, "
               "foreign_count) VALUES (?, ?, ?, -1, ?, ?, 0)",
               (url, title, rev, "p" + base64.urlsafe_b64encode(os.urandom(9)).decode()[:11],
                mf.url_hash(url)))
    return db.execute("SELECT id FROM moz_places WHERE url = ?", (url,)).fetchone()[0]


def add_bookmark(db, mf, guid, parent_guid, typ, title, url=None):
    parent = db.execute("SELECT id FROM moz_bookmarks WHERE guid = ?", (parent_guid,)).fetchone()[0]
    pos = db.execute("SELECT count(*) FROM moz_bookmarks WHERE parent = ?", (parent,)).fetchone()[0]
    fk = None
    if url:
        row = db.execute("SELECT id FROM moz_places WHERE url = ?", (url,)).fetchone()
        fk = row[0] if row else add_place(db, mf, url, title)
        db.execute("UPDATE moz_places SET foreign_count = foreign_count + 1 WHERE id = ?", (fk,))
    now = int(time.time() * 1e6)
    db.execute("INSERT INTO moz_bookmarks (type, fk, parent, position, title, dateAdded, "
               "lastModified, guid, syncStatus, syncChangeCounter) VALUES (?,?,?,?,?,?,?,?,1,1)",
               (typ, fk, parent, pos, title, now, now, guid))


def profile(out, who):
    mf = fixture_module()
    os.makedirs(out, exist_ok=True)
    mf.build("places.sql", os.path.join(out, "places.sqlite"))
    mf.build("formhistory.sql", os.path.join(out, "formhistory.sqlite"))
    pl = sqlite3.connect(os.path.join(out, "places.sqlite"))
    pl.executescript(open(os.path.join(FIREFOX, "bookmarks_roots.sql")).read())
    fh = sqlite3.connect(os.path.join(out, "formhistory.sqlite"))
    pr = sqlite3.connect(os.path.join(out, "prefs.sqlite"))
    pr.execute("CREATE TABLE prefs(name TEXT PRIMARY KEY NOT NULL, type TEXT NOT NULL "
               "CHECK (type IN ('bool', 'int', 'string')), value) WITHOUT ROWID")
    ad = sqlite3.connect(os.path.join(out, "addons.sqlite"))
    ad.execute("CREATE TABLE addons(guid TEXT PRIMARY KEY NOT NULL, addonID TEXT NOT NULL UNIQUE, "
               "applicationID TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1, "
               "source TEXT NOT NULL)")
    if who == "a":
        add_bookmark(pl, mf, "aFolder00001", "menu________", 2, "A folder")
        add_bookmark(pl, mf, "aBmk00000001", "aFolder00001", 1, "Example A bookmark",
                     "https://example.com/a")
        add_bookmark(pl, mf, "aBmk00000002", "aFolder00001", 1, "Two", "https://a.example/two")
        add_bookmark(pl, mf, "aBmk00000003", "toolbar_____", 1, "Three", "https://a.example/three")
        pr.executemany("INSERT INTO prefs VALUES (?, ?, ?)", [
            ("browser.startup.homepage", "string", "https://start.a.example/"),
            ("general.smoothScroll", "bool", 1), ("browser.tabs.max", "int", 12),
            ("device.local.only", "string", "not synced")])
        ad.executemany("INSERT INTO addons VALUES (?, ?, ?, ?, ?)", [
            ("aAddon000001", "dark-theme@example.org", FIREFOX_APP, 1, "amo"),
            ("aAddon000002", "vendor-tool@example.org", FIREFOX_APP, 1, "preinstalled")])
    else:
        # Another profile: Firefox's tables and roots, no data of its own.
        pl.executescript("DELETE FROM moz_historyvisits; DELETE FROM moz_places;")
        fh.execute("DELETE FROM moz_formhistory")
    for db in (pl, fh, pr, ad):
        db.commit()
        db.close()


def login_key(db, secret_dir):
    name = db.execute("SELECT value FROM logins_meta WHERE name = 'key_name'").fetchone()[0]
    with open(os.path.join(secret_dir, name), "rb") as f:
        return f.read()


def login_add(path, secret_dir, login):
    # docs/engine-passwords.md "Encryption format": 0x01 || nonce || AES-256-GCM(ct || tag),
    # AAD the guid; the app's save would also fix up and validate, these fields are valid.
    lg = json.loads(login)
    db = sqlite3.connect(path, timeout=5)
    key = login_key(db, secret_dir)
    nonce = os.urandom(12)
    clear = json.dumps({"username": lg["username"], "password": lg["password"]}).encode()
    sec = b"\x01" + nonce + AESGCM(key).encrypt(nonce, clear, lg["guid"].encode())
    now = int(time.time() * 1000)
    db.execute("INSERT INTO logins(guid, origin, formActionOrigin, usernameField, passwordField, "
               "timeCreated, timePasswordChanged, secFields) VALUES (?,?,?,?,?,?,?,?)",
               (lg["guid"], lg["origin"], lg["origin"], "user", "pass", now, now, sec))
    db.commit()
    db.close()


# ---- canonical lines ------------------------------------------------------------------------

def visits_key(vs):
    return ",".join("%d:%d" % v for v in sorted(set(vs), reverse=True))


def pref_json(typ, value):
    if value is None:
        return None
    return bool(value) if typ == "bool" else value


def local(kind, d, secret_dir, allow):
    out = []
    if kind == "history":
        db = sqlite3.connect(os.path.join(d, "places.sqlite"), timeout=5)
        for pid, guid, url, title in db.execute(
                "SELECT id, guid, url, title FROM moz_places WHERE id IN "
                "(SELECT place_id FROM moz_historyvisits)"):
            vs = db.execute("SELECT visit_date, visit_type FROM moz_historyvisits "
                            "WHERE place_id = ?", (pid,)).fetchall()
            out.append((guid, url, title or "", visits_key(vs)))
        return out, [(o[1],) for o in out]
    if kind == "bookmarks":
        db = sqlite3.connect(os.path.join(d, "places.sqlite"), timeout=5)
        rows = db.execute("SELECT b.id, b.guid, b.type, b.parent, b.title, p.url FROM moz_bookmarks b "
                          "LEFT JOIN moz_places p ON p.id = b.fk ORDER BY b.parent, b.position").fetchall()
        by_id = {r[0]: r for r in rows}
        tags = next((r[0] for r in rows if r[1] == "tags________"), None)
        kids = {}
        for r in rows:
            kids.setdefault(r[3], []).append(r[1])
        for bid, guid, typ, parent, title, url in rows:
            if guid == "root________" or bid == tags or parent == tags or parent not in by_id:
                continue
            pguid = by_id[parent][1]
            if pguid == "tags________" or (by_id[parent][3] == tags):
                continue
            out.append(line_bm(ROOTS.get(guid, guid), typ, PARENTS.get(pguid, pguid), title, url,
                               [ROOTS.get(k, k) for k in kids.get(bid, [])]))
        return bm_finish(out)
    if kind == "passwords":
        db = sqlite3.connect(os.path.join(d, "logins.sqlite"), timeout=5)
        key = AESGCM(login_key(db, secret_dir))
        for guid, origin, sec in db.execute("SELECT guid, origin, secFields FROM logins"):
            c = json.loads(key.decrypt(sec[1:13], sec[13:], guid.encode()))
            out.append((guid, origin, c["username"], c["password"]))
        return out, [(o[1], o[2]) for o in out]
    if kind == "forms":
        db = sqlite3.connect(os.path.join(d, "formhistory.sqlite"), timeout=5)
        out = db.execute("SELECT guid, fieldname, value FROM moz_formhistory").fetchall()
        return out, [(o[1], o[2]) for o in out]
    if kind == "prefs":
        db = sqlite3.connect(os.path.join(d, "prefs.sqlite"), timeout=5)
        vals = {n: pref_json(t, v) for n, t, v in db.execute("SELECT name, type, value FROM prefs")}
        out = [(n, json.dumps(vals.get(n))) for n in allow]
        return out, [(o[0],) for o in out]
    if kind == "addons":
        db = sqlite3.connect(os.path.join(d, "addons.sqlite"), timeout=5)
        inst = db.execute("SELECT addonID, enabled FROM addons WHERE source = 'amo' "
                          "AND applicationID = ?", (FIREFOX_APP,)).fetchall()
        gone = {r[0] for r in db.execute("SELECT addonID FROM addons_wanted WHERE wish = 'uninstall'")}
        wish = db.execute("SELECT addonID, enabled FROM addons_wanted WHERE wish = 'install'").fetchall()
        out = [(a, bool(e)) for a, e in inst + wish if a not in gone]
        return out, [(o[0],) for o in out]
    raise SystemExit("unknown kind " + kind)


def line_bm(guid, typ, parent, title, url, children):
    if typ == 1 and url and url.startswith("place:"):
        return (guid, "query", parent, title or "", url)
    if typ == 1:
        return (guid, "bookmark", parent, title or "", url or "")
    if typ == 2:
        return (guid, "folder", parent, title or "" if guid not in ROOTS.values() else "",
                ",".join(children))
    return (guid, "separator", parent, "", "")


def bm_finish(out):
    # A root without children says the same as no root record at all.
    out = [o for o in out if not (o[0] in ROOTS.values() and not o[4])]
    return out, [o[1:4] + ((o[4],) if o[1] != "folder" else ()) for o in out
                 if o[1] != "separator" and o[0] not in ROOTS.values()]


def server(kind, node, uid, ksync, allow):
    coll = kind
    recs = [r for r in server_records(node, uid, ksync, coll).values() if not r.get("deleted")]
    if kind == "history":
        out = [(r["id"], r["histUri"], r.get("title") or "",
                visits_key((v["date"], v["type"]) for v in r["visits"])) for r in recs]
        return out, [(o[1],) for o in out]
    if kind == "bookmarks":
        out = []
        for r in recs:
            if r["id"] in ("places", "tags"):
                continue
            typ = {"bookmark": 1, "query": 1, "folder": 2, "livemark": 2, "separator": 3}[r["type"]]
            out.append(line_bm(r["id"], typ, r.get("parentid"), r.get("title"), r.get("bmkUri"),
                               r.get("children", [])))
        return bm_finish(out)
    if kind == "passwords":
        out = [(r["id"], r["hostname"], r["username"], r["password"]) for r in recs]
        return out, [(o[1], o[2]) for o in out]
    if kind == "forms":
        out = [(r["id"], r["name"], r["value"]) for r in recs]
        return out, [(o[1], o[2]) for o in out]
    if kind == "prefs":
        rec = [r for r in recs if r["id"] == prefs_id(FIREFOX_APP)]
        vals = rec[0]["value"] if rec else {}
        out = [(n, json.dumps(vals.get(n))) for n in allow]
        return out, [(o[0],) for o in out]
    if kind == "addons":
        out = [(r["addonID"], bool(r["enabled"])) for r in recs
               if r.get("source") == "amo" and r.get("applicationID") == FIREFOX_APP]
        return out, [(o[0],) for o in out]
    raise SystemExit("unknown kind " + kind)


def emit(res, f=sys.stdout):
    """The lines; None, or the first item found twice."""
    out, keys = res
    for o in sorted("|".join(str(x) for x in o) for o in out):
        print(o, file=f)
    seen = set()
    for k in keys:
        if k in seen:
            return "duplicate: %s" % (k,)
        seen.add(k)
    return None


def views(outdir, node, uid, ksync, allow, sides):
    """Every kind from the server and each device: OUTDIR/KIND.WHO, a problem in KIND.WHO.err."""
    for kind in KINDS:
        for who, d, sec in [("s", None, None)] + sides:
            with open(os.path.join(outdir, "%s.%s" % (kind, who)), "w") as f:
                try:
                    err = emit(server(kind, node, uid, ksync, allow) if who == "s"
                               else local(kind, d, sec, allow), f)
                except Exception as e:  # reported by the script with the kind and side
                    err = "%s: %s" % (type(e).__name__, e)
            with open(os.path.join(outdir, "%s.%s.err" % (kind, who)), "w") as f:
                f.write(err or "")


def main(a):
    cmd = a[1]
    if cmd == "profile":
        profile(a[2], a[3])
    elif cmd == "seed":
        seed(a[2], a[3], a[4], a[5])
    elif cmd == "put":
        put(a[2], a[3], a[4], a[5], json.loads(a[6]))
    elif cmd == "set-pref":
        set_pref(a[2], a[3], a[4], a[5], a[6], a[7])
    elif cmd == "login-add":
        login_add(a[2], a[3], a[4])
    elif cmd == "local":
        err = emit(local(a[2], a[3], a[4], [x for x in a[5].split(",") if x]))
        if err:
            raise SystemExit(err)
    elif cmd == "server":
        err = emit(server(a[2], a[3], a[4], a[5], [x for x in a[6].split(",") if x]))
        if err:
            raise SystemExit(err)
    elif cmd == "views":
        views(a[2], a[3], a[4], a[5], [x for x in a[6].split(",") if x],
              [(a[i], a[i + 1], a[i + 2]) for i in range(7, len(a), 3)])
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
