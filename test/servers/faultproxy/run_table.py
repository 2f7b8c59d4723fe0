"""Run a fault scenario table against a remote through proxy.py, with test/tools/dsdev devices.

    python run_table.py --table kinto.json --dsdev PATH --work DIR --proxy URL --kinto URL
                        [--only NAME-REGEX] [--jobs N]

For each scenario (a fresh Kinto account, so scenarios do not see each other):
  1. device A has 6 rows and syncs through the proxy (no fault);
  2. device B has 3 rows of its own; for "run": "incremental" it syncs once first, then A
     edits, deletes and adds a row and syncs, and B edits one of its rows;
  3. the proxy gets the scenario's rules and B syncs: the faulted run;
  4. checks: dsdev exited 0 or 1 (1 with a message) as "expect" says, the output matches
     "message", a "backoff" line at least that large is printed, the proxy saw at most
     "max_requests" requests in the run (no request storm; after a Retry-After, nothing more),
     a backoff within 0..backoff_at_most when that is given,
     and B's own rows are intact;
  5. the rules are cleared and A and B sync normally until a round changes nothing: both
     tables must be identical and hold the union of A's and B's rows (nothing lost).
Exit 0 when every scenario passes; the failures are listed otherwise.
"""
import argparse
import base64
import concurrent.futures
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request

SCHEMA = "CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT, n REAL)"


class Fail(Exception):
    pass


def http(url, method="GET", body=None, auth=None):
    h = {"Content-Type": "application/json"}
    if auth:
        h["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"{}")


class Runner:
    def __init__(self, a):
        self.a = a
        self.proxy = a.proxy.rstrip("/")

    def dsdev(self, dev, *args, timeout=90):
        cmd = [self.a.dsdev, "--home", os.path.join(self.w, "home-" + dev)] + list(args)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        return p.returncode, p.stdout.decode(errors="replace")

    def sql(self, dev, q):
        c = sqlite3.connect(os.path.join(self.w, dev + ".db"))
        try:
            rows = c.execute(q).fetchall()
            c.commit()
            return rows
        finally:
            c.close()

    def sync_ok(self, dev, what):
        rc, out = self.dsdev(dev, "sync")
        if rc != 0:
            raise Fail("%s: sync of %s failed (exit %d): %s" % (what, dev, rc, out.strip()))
        return out

    def rules(self, rules):
        http(self.proxy + "/__proxy__/rules", "POST", {"rules": rules, "user": self.user})

    def log(self):
        return http(self.proxy + "/__proxy__/log?user=" + self.user)["requests"]

    def setup(self, i, sc):
        self.w = os.path.join(self.a.work, "s%02d" % i)
        shutil.rmtree(self.w, ignore_errors=True)
        os.makedirs(self.w)
        user, pw = "fault%02d" % i, "pw %d" % i
        self.user = user
        http(self.a.kinto.rstrip("/") + "/accounts/" + user, "PUT", {"data": {"password": pw}})
        remote = {"kind": "kinto", "url": self.proxy + "/v1", "collection": "notes",
                  "user": user, "password": pw}
        remote.update(sc.get("remote", {}))
        self.rules([])
        for dev in ("a", "b"):
            self.sql(dev, SCHEMA)
            rc, out = self.dsdev(dev, "init", "--db", os.path.join(self.w, dev + ".db"),
                                 "--table", "notes", "--remote-json", json.dumps(remote))
            if rc:
                raise Fail("init %s: %s" % (dev, out))
        for k in range(1, 7):
            self.sql("a", "INSERT INTO notes VALUES(%d, 'a note %d', %d.5)" % (k, k, k))
        for k in range(101, 104):
            self.sql("b", "INSERT INTO notes VALUES(%d, 'b note %d', %d.25)" % (k, k, k))
        self.sync_ok("a", "setup")
        if sc.get("run", "first") == "incremental":
            self.sync_ok("b", "setup")
            self.sql("a", "UPDATE notes SET title = 'edited by a' WHERE id = 1")
            self.sql("a", "DELETE FROM notes WHERE id = 2")
            self.sql("a", "INSERT INTO notes VALUES(7, 'a note 7', 7.5)")
            self.sync_ok("a", "setup")
            self.sql("b", "UPDATE notes SET title = 'edited by b' WHERE id = 102")
            self.sql("b", "INSERT INTO notes VALUES(104, 'b note 104', 104.25)")

    def run(self, i, sc):
        name = sc["name"]
        self.setup(i, sc)
        mine = self.sql("b", "SELECT * FROM notes WHERE id > 100 ORDER BY id")
        expected = sorted(self.sql("a", "SELECT * FROM notes WHERE id < 100") + mine)
        self.rules(sc["rules"])
        t0 = time.monotonic()
        rc, out = self.dsdev("b", "sync")
        took = time.monotonic() - t0
        reqs = self.log()
        self.rules([])
        summary = "exit %d, %d requests, %.1f s" % (rc, len(reqs), took)
        detail = "\n    ".join([out.strip()] + ["%(n)d %(method)s %(path)s %(action)s %(status)d" % r
                                                 for r in reqs])
        expect = sc.get("expect", "error")
        if rc not in (0, 1):
            raise Fail("%s: crash or sanitizer report (%s):\n    %s" % (name, summary, detail))
        if expect == "error" and rc != 1:
            raise Fail("%s: the fault went unnoticed (%s):\n    %s" % (name, summary, detail))
        if expect == "ok" and rc != 0:
            raise Fail("%s: the run should have survived the fault (%s):\n    %s" % (name, summary, detail))
        if rc == 1 and not re.search(r'result=-\d+ .*message="[^"]+"|^error: ', out, re.M):
            raise Fail("%s: failed without a message:\n    %s" % (name, detail))
        if sc.get("message") and not re.search(sc["message"], out):
            raise Fail("%s: output does not match /%s/:\n    %s" % (name, sc["message"], detail))
        if "backoff" in sc:
            m = re.search(r"^backoff (\d+)$", out, re.M)
            if not m or int(m.group(1)) < int(sc["backoff"]):
                raise Fail("%s: no backoff of at least %s s handed over:\n    %s" % (name, sc["backoff"], detail))
        if "backoff_at_most" in sc:
            m = re.search(r"^backoff (-?\d+)$", out, re.M)
            if m and not 0 <= int(m.group(1)) <= int(sc["backoff_at_most"]):
                raise Fail("%s: backoff %s handed over, want 0..%s:\n    %s" % (name, m.group(1), sc["backoff_at_most"], detail))
        if len(reqs) > int(sc["max_requests"]):
            raise Fail("%s: %d requests, more than %s:\n    %s" % (name, len(reqs), sc["max_requests"], detail))
        if sc.get("silent_after"):
            # Nothing may follow the faulted answer in this run (Retry-After honoured).
            hit = [r for r in reqs if r["action"] != "pass"]
            if hit and reqs[-1]["n"] != hit[0]["n"]:
                raise Fail("%s: requests after the %s answer:\n    %s" % (name, hit[0]["action"], detail))
        after = self.sql("b", "SELECT * FROM notes WHERE id > 100 ORDER BY id")
        if after != mine:
            raise Fail("%s: B's own rows changed by the faulted run: %s -> %s" % (name, mine, after))
        self.converge(name, expected)
        return summary

    def converge(self, name, expected):
        for rnd in range(1, 6):
            busy = False
            for dev in ("b", "a"):
                out = self.sync_ok(dev, name + ", converging")
                if not re.search(r" applied=0 uploaded=0 ", out):
                    busy = True
            if not busy:
                break
        else:
            raise Fail("%s: devices still exchange changes after 5 rounds" % name)
        ta = self.sql("a", "SELECT * FROM notes ORDER BY id")
        tb = self.sql("b", "SELECT * FROM notes ORDER BY id")
        if ta != tb:
            raise Fail("%s: A and B differ after converging:\n    A %s\n    B %s" % (name, ta, tb))
        if ta != expected:
            raise Fail("%s: converged on the wrong table:\n    got  %s\n    want %s" % (name, ta, expected))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", required=True)
    ap.add_argument("--dsdev", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--proxy", required=True)
    ap.add_argument("--kinto", required=True)
    ap.add_argument("--only")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    with open(a.table) as f:
        table = json.load(f)["scenarios"]
    todo = [(i, sc) for i, sc in enumerate(table, 1) if not a.only or re.search(a.only, sc["name"])]
    failed = []

    # Scenarios are independent (own account, own proxy scope, own folders): two at a time.
    def one(item):
        i, sc = item
        try:
            return "%2d %-60s %s" % (i, sc["name"], Runner(a).run(i, sc)), None
        except (Fail, subprocess.TimeoutExpired) as e:
            return "%2d %-60s FAIL\n  %s" % (i, sc["name"], e), sc["name"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        for line, bad in ex.map(one, todo):
            print(line, flush=True)
            if bad:
                failed.append(bad)
    print("%d scenarios, %d failed%s" % (len(table), len(failed),
                                         "".join("\n  " + n for n in failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
