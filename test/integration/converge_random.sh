#!/bin/sh
# Three devices converge after random offline edits (the sync core with the table engine and the
# dir remote, policy two-way / newest-wins).
#
# Devices A, B and C share one folder. A starts with 60 rows and the others receive them. Then, for
# a few rounds, each device makes random inserts, updates and deletes in its own app table (the
# "app" here is Python's sqlite3 module, which knows nothing of datasync) while offline, and the
# three sync once each in a random order. Finally they sync in random orders until a whole round
# changes nothing, and:
#  - the dsdev dumps of the three devices are identical;
#  - every row inserted and never deleted is there (nothing lost), and no deleted row is back;
#  - a row whose last edit round had a single writer holds that writer's last value; a row
#    edited concurrently by several devices in its last round holds one of their values.
# So that the delete is the last write of a row in the merged history whatever the conflict
# rule, a device deletes only rows that no other device touched in the same round, and nobody
# touches a deleted row again (the model knows all rows; a device picks among those it has).
#
# Random but deterministic: CONVERGE_SEED (default below) seeds everything and is printed on
# failure; CONVERGE_ROUNDS and CONVERGE_OPS change the size. The checker is checked on each run
# against tampered copies of the result.
set -u
DSDEV=${DS_BUILD:?}/test/tools/dsdev
[ -x "$DSDEV" ] || { echo "skip: $DSDEV is not built (board without table engine or dir remote)"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "skip: no python3"; exit 77; }

DSDEV=$DSDEV W=${DS_TMP:?} exec python3 - <<'EOF'
import os, random, re, sqlite3, subprocess, sys, time

SEED = int(os.environ.get("CONVERGE_SEED", "20261126"))
ROUNDS = int(os.environ.get("CONVERGE_ROUNDS", "4"))
OPS = int(os.environ.get("CONVERGE_OPS", "80"))  # per device and round
DSDEV, W = os.environ["DSDEV"], os.environ["W"]
DEVS = ["A", "B", "C"]
rng = random.Random(SEED)
log = open(os.path.join(W, "ops.log"), "w")


def fail(msg):
    print(f"FAIL: {msg}")
    print(f"reproduce with: CONVERGE_SEED={SEED} CONVERGE_ROUNDS={ROUNDS} CONVERGE_OPS={OPS}"
          " sh test/integration/converge_random.sh (ops in ops.log of the test's folder)")
    sys.exit(1)


def dsdev(dev, *args):
    p = subprocess.run([DSDEV, "--home", os.path.join(W, dev), *args],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        fail(f"dsdev {' '.join(args)} on {dev} exited {p.returncode}:\n{p.stdout}")
    return p.stdout


def app(dev):
    return sqlite3.connect(os.path.join(W, dev, "app.db"), isolation_level=None)


def stats(out):
    line = [l for l in out.splitlines() if l.startswith("sync ")][-1]
    return {k: int(v) for k, v in re.findall(r" (applied|uploaded|conflicts)=(\d+)", line)}


def sync(dev):
    s = stats(dsdev(dev, "sync"))
    log.write(f"sync {dev}: {s}\n")
    return s


# ---- model --------------------------------------------------------------------------------
alive = {}      # id -> True for rows that must exist at the end
deleted = set()
last_round = {}  # id -> round of its last write
writes = {}     # id -> {device: last value written in last_round[id]}
touched = {}    # id -> set of devices that touched it in the current round
next_id = 0


def write(rid, dev, rnd, value):
    if last_round.get(rid) != rnd:
        last_round[rid] = rnd
        writes[rid] = {}
    writes[rid][dev] = value


def edit(dev, rnd):
    global next_id
    db = app(dev)
    have = [r[0] for r in db.execute("SELECT id FROM t ORDER BY id")]
    for k in range(OPS):
        op = rng.choices(["insert", "update", "delete"], [3, 5, 2])[0]
        cand = [r for r in have if r not in deleted]
        if op != "insert" and not cand:
            op = "insert"
        if op == "insert":
            next_id += 1
            rid = f"{dev}{next_id:05d}"
            val = f"{dev} r{rnd} op{k} new"
            db.execute("INSERT INTO t VALUES (?, ?, ?)", (rid, val, rng.randint(-1000, 1000)))
            have.append(rid)
            alive[rid] = True
            write(rid, dev, rnd, val)
        elif op == "update":
            rid = rng.choice(cand)
            val = f"{dev} r{rnd} op{k}"
            db.execute("UPDATE t SET val = ?, n = n + 1 WHERE id = ?", (val, rid))
            write(rid, dev, rnd, val)
        else:
            free = [r for r in cand if touched.get(r, {dev}) <= {dev}]
            if not free:
                continue
            rid = rng.choice(free)
            db.execute("DELETE FROM t WHERE id = ?", (rid,))
            deleted.add(rid)
            alive.pop(rid, None)
            write(rid, dev, rnd, None)
        touched.setdefault(rid, set()).add(dev)
        log.write(f"round {rnd} {dev} {op} {rid}\n")
    db.close()


def table(dev):
    db = app(dev)
    rows = {r[0]: r[1] for r in db.execute("SELECT id, val FROM t")}
    db.close()
    return rows


def check(rows, label):
    """Problems of one device's table against the model (empty when right)."""
    errs = []
    for rid in alive:
        if rid not in rows:
            errs.append(f"{label}: row {rid} is lost")
    for rid in rows:
        if rid in deleted:
            errs.append(f"{label}: deleted row {rid} came back")
        elif rid not in alive:
            errs.append(f"{label}: unknown row {rid}")
        elif rid in writes:
            vals = set(writes[rid].values())
            if rows[rid] not in vals:
                errs.append(f"{label}: row {rid} holds {rows[rid]!r}, expected "
                            f"{' or '.join(repr(v) for v in sorted(vals))} (round {last_round[rid]})")
    return errs


# ---- run ----------------------------------------------------------------------------------
print(f"seed {SEED}, {ROUNDS} rounds of {OPS} edits per device")
shared = os.path.join(W, "shared")
os.makedirs(shared)
for d in DEVS:
    os.makedirs(os.path.join(W, d))
    db = app(d)
    db.execute("CREATE TABLE t(id TEXT PRIMARY KEY, val TEXT, n INTEGER NOT NULL DEFAULT 0)")
    if d == "A":
        for i in range(60):
            rid = f"s{i:03d}"
            db.execute("INSERT INTO t VALUES (?, ?, ?)", (rid, f"seed {i}", i))
            alive[rid] = True
            write(rid, "A", 0, f"seed {i}")
    db.close()
    dsdev(d, "init", "--db", os.path.join(W, d, "app.db"), "--table", "t", "--pk", "id",
          "--dir", shared, "--passphrase", "converge", "--conflict", "newest-wins")
for d in DEVS:
    sync(d)

for rnd in range(1, ROUNDS + 1):
    # Edits come strictly after the previous round's syncs, in wall-clock milliseconds.
    time.sleep(0.01)
    touched = {}
    for d in DEVS:
        edit(d, rnd)
    time.sleep(0.01)
    order = DEVS[:]
    rng.shuffle(order)
    print(f"round {rnd}: sync order {''.join(order)}")
    for d in order:
        sync(d)

for quiet in range(1, 8):
    order = DEVS[:]
    rng.shuffle(order)
    busy = [d for d in order if any(v for k, v in sync(d).items() if k != "conflicts")]
    if not busy:
        break
    print(f"settling round {quiet}: {''.join(order)}, busy: {''.join(busy)}")
else:
    fail("the devices still exchange changes after 7 settling rounds")

for d in DEVS:
    n = dsdev(d, "pending").strip()
    if n != "0":
        fail(f"{d} still has {n} pending changes after a quiet round")
dumps = {d: dsdev(d, "dump") for d in DEVS}
if len(set(dumps.values())) != 1:
    for d in DEVS:
        open(os.path.join(W, f"dump.{d}"), "w").write(dumps[d])
    fail("the dsdev dumps differ (dump.A, dump.B, dump.C in the test's folder)")
errs = []
for d in DEVS:
    errs += check(table(d), d)
if errs:
    fail("\n".join(errs[:30]))

# The checker must catch what it is there to catch.
rows = table("A")
some_alive = sorted(alive)[0]
single = sorted(r for r in alive if len(writes.get(r, {})) == 1)
tampered = [
    ("a lost row", {k: v for k, v in rows.items() if k != some_alive}, "is lost"),
    ("a resurrected row", dict(rows, **{sorted(deleted)[0]: "x"}) if deleted else None, "came back"),
    ("an older value", dict(rows, **{single[0]: "older"}) if single else None, "holds"),
]
for what, t, word in tampered:
    if t is not None and not any(word in e for e in check(t, "self-check")):
        fail(f"the checker misses {what}")
print(f"self-check: the checker reports a lost row, a resurrected row and an older value")
print(f"PASS: {len(alive)} rows alive, {len(deleted)} deleted, identical on A, B and C")
EOF
