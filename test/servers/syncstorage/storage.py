"""Per-user SQLite storage of the Sync 1.5 test server: BSOs, collections, batches, timestamps.

Rules from the Sync 1.5 API document (syncstorage-rs docs/src/syncstorage/api-1.5.md, "DOCS"
below) and the reference notes (sync15.md §2):

- Timestamps are kept as integer centiseconds ("cs"): the API's "decimal value, precise to two
  decimal places". Every write gets one time T, strictly greater than the user's overall
  last-modified time; every BSO it writes gets modified=T and the collection and the user get T
  (DOCS "Concurrency and Conflict Management"). When the clock has not moved past the last
  write, T is the last write + 0.01 s (the API allows a 409 here instead; the test server
  never refuses a write for this, a 409 can be injected).
- A collection exists from its first write until it is deleted, even when empty; a deleted
  collection leaves info/collections.
- TTL: a record whose ttl has run out is never returned and does not count.
- Batches live in the user's database (table batches/batch_items) until committed or expired.

Callers serialise access (one lock in the server); every public method runs in one SQLite
transaction.
"""
import json
import os
import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS user_meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS collections (name TEXT PRIMARY KEY, modified INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bsos (
    collection TEXT NOT NULL, id TEXT NOT NULL, sortindex INTEGER, payload TEXT NOT NULL,
    modified INTEGER NOT NULL, expiry INTEGER, PRIMARY KEY (collection, id));
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY, collection TEXT NOT NULL, created INTEGER NOT NULL,
    records INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS batch_items (
    batch TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, fields TEXT NOT NULL,
    PRIMARY KEY (batch, seq));
"""

UNSET = object()


def cs_to_str(cs):
    """Header form of a timestamp: seconds with exactly two decimals (DOCS X-Weave-Timestamp)."""
    return "%d.%02d" % divmod(int(cs), 100)


def cs_to_json(cs):
    """Body form: a JSON number. syncstorage-rs serialises an f64, so 1388635807.40 reads
    1388635807.4 there; clients must parse numbers, not text."""
    return int(cs) / 100.0


def parse_ts(text):
    """A decimal timestamp in seconds -> cs; ValueError when not a non-negative decimal."""
    text = text.strip()
    if not text or text[0] in "+-" or text.lower() in ("nan", "inf", "infinity"):
        raise ValueError("not a positive decimal: %r" % text)
    v = float(text)
    if v < 0 or v != v or v > 1e13:
        raise ValueError("not a positive decimal: %r" % text)
    return int(round(v * 100))


class UserStore:
    """One user's data in one SQLite database (a file, or memory)."""

    def __init__(self, path):
        self.path = path
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=MEMORY" if path == ":memory:" else
                        "PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.executescript(SCHEMA)

    def close(self):
        self.db.close()

    # ---- timestamps ---------------------------------------------------------------------

    def last_modified(self):
        row = self.db.execute("SELECT v FROM user_meta WHERE k='modified'").fetchone()
        return row[0] if row else 0

    def storage_modified(self):
        """The user's overall last-modified as seen by info/*: the newest collection, or the
        last whole-storage delete."""
        return self.last_modified()

    def _new_write_ts(self, now_cs):
        t = max(int(now_cs), self.last_modified() + 1)
        self.db.execute("INSERT OR REPLACE INTO user_meta (k, v) VALUES ('modified', ?)", (t,))
        return t

    def collection_modified(self, coll):
        row = self.db.execute("SELECT modified FROM collections WHERE name=?", (coll,)).fetchone()
        return row[0] if row else None

    # ---- info -----------------------------------------------------------------------------

    def info_collections(self):
        return dict(self.db.execute("SELECT name, modified FROM collections"))

    def info_counts(self, now_cs):
        rows = self.db.execute(
            "SELECT collection, COUNT(*) FROM bsos WHERE expiry IS NULL OR expiry > ? "
            "GROUP BY collection", (now_cs,))
        return dict(rows)

    def info_usage_bytes(self, now_cs):
        rows = self.db.execute(
            "SELECT collection, SUM(LENGTH(CAST(payload AS BLOB))) FROM bsos "
            "WHERE expiry IS NULL OR expiry > ? GROUP BY collection", (now_cs,))
        return {k: v or 0 for k, v in rows}

    def total_usage_bytes(self, now_cs):
        return sum(self.info_usage_bytes(now_cs).values())

    # ---- reads ----------------------------------------------------------------------------

    def get_bso(self, coll, bid, now_cs):
        row = self.db.execute(
            "SELECT id, modified, sortindex, payload FROM bsos WHERE collection=? AND id=? "
            "AND (expiry IS NULL OR expiry > ?)", (coll, bid, now_cs)).fetchone()
        return None if row is None else _bso_row(row)

    def bso_modified(self, coll, bid, now_cs):
        row = self.db.execute(
            "SELECT modified FROM bsos WHERE collection=? AND id=? "
            "AND (expiry IS NULL OR expiry > ?)", (coll, bid, now_cs)).fetchone()
        return None if row is None else row[0]

    def query(self, coll, now_cs, ids=None, newer=None, older=None, sort=None):
        """All matching live BSOs in the order asked for; paging is done by the caller."""
        where = ["collection=?", "(expiry IS NULL OR expiry > ?)"]
        args = [coll, now_cs]
        if ids is not None:
            where.append("id IN (%s)" % ",".join("?" * len(ids)))
            args.extend(ids)
        if newer is not None:
            where.append("modified > ?")
            args.append(newer)
        if older is not None:
            where.append("modified < ?")
            args.append(older)
        order = {"newest": "modified DESC, id", "oldest": "modified ASC, id",
                 "index": "sortindex DESC, id", None: "id"}[sort]
        rows = self.db.execute(
            "SELECT id, modified, sortindex, payload FROM bsos WHERE %s ORDER BY %s"
            % (" AND ".join(where), order), args)
        return [_bso_row(r) for r in rows]

    # ---- writes ---------------------------------------------------------------------------

    def _apply(self, coll, bid, fields, t, now_cs):
        """PUT semantics for one BSO (DOCS PUT): given fields replace, an explicit null resets
        to the default, omitted fields stay; a new BSO gets defaults for what is omitted."""
        row = self.db.execute(
            "SELECT sortindex, payload, expiry FROM bsos WHERE collection=? AND id=? "
            "AND (expiry IS NULL OR expiry > ?)", (coll, bid, now_cs)).fetchone()
        sortindex, payload, expiry = row if row else (None, "", None)
        if "sortindex" in fields:
            sortindex = fields["sortindex"]
        if "payload" in fields:
            payload = fields["payload"] if fields["payload"] is not None else ""
        if "ttl" in fields:
            ttl = fields["ttl"]
            expiry = None if ttl is None else t + int(ttl) * 100
        self.db.execute(
            "INSERT OR REPLACE INTO bsos (collection, id, sortindex, payload, modified, expiry) "
            "VALUES (?, ?, ?, ?, ?, ?)", (coll, bid, sortindex, payload, t, expiry))

    def _touch_collection(self, coll, t):
        self.db.execute("INSERT OR REPLACE INTO collections (name, modified) VALUES (?, ?)",
                        (coll, t))

    def write(self, coll, items, now_cs):
        """items: [(id, fields)] applied at one new time T; returns T."""
        with self.db:
            self.db.execute("BEGIN")
            t = self._new_write_ts(now_cs)
            for bid, fields in items:
                self._apply(coll, bid, fields, t, now_cs)
            self._touch_collection(coll, t)
            return t

    def delete_bso(self, coll, bid, now_cs):
        """Returns T, or None when there is no such (live) BSO."""
        with self.db:
            self.db.execute("BEGIN")
            cur = self.db.execute(
                "DELETE FROM bsos WHERE collection=? AND id=? AND (expiry IS NULL OR expiry > ?)",
                (coll, bid, now_cs))
            if cur.rowcount == 0:
                return None
            t = self._new_write_ts(now_cs)
            self._touch_collection(coll, t)
            return t

    def delete_ids(self, coll, ids, now_cs):
        """DOCS: the collection still exists afterwards and gets a new last-modified time."""
        with self.db:
            self.db.execute("BEGIN")
            t = self._new_write_ts(now_cs)
            self.db.execute("DELETE FROM bsos WHERE collection=? AND id IN (%s)"
                            % ",".join("?" * len(ids)), [coll] + list(ids))
            self._touch_collection(coll, t)
            return t

    def delete_collection(self, coll, now_cs):
        with self.db:
            self.db.execute("BEGIN")
            t = self._new_write_ts(now_cs)
            self.db.execute("DELETE FROM bsos WHERE collection=?", (coll,))
            self.db.execute("DELETE FROM collections WHERE name=?", (coll,))
            self.db.execute("DELETE FROM batch_items WHERE batch IN "
                            "(SELECT id FROM batches WHERE collection=?)", (coll,))
            self.db.execute("DELETE FROM batches WHERE collection=?", (coll,))
            return t

    def delete_all(self, now_cs):
        """Everything goes; the user's last-modified stays (as T) so later writes still get
        larger timestamps than anything a client has seen."""
        with self.db:
            self.db.execute("BEGIN")
            t = self._new_write_ts(now_cs)
            for table in ("bsos", "collections", "batches", "batch_items"):
                self.db.execute("DELETE FROM %s" % table)
            return t

    # ---- batches --------------------------------------------------------------------------

    def batch_create(self, bid, coll, now_cs):
        with self.db:
            self.db.execute("INSERT INTO batches (id, collection, created) VALUES (?, ?, ?)",
                            (bid, coll, now_cs))

    def batch_get(self, bid, coll, now_cs, max_age_cs):
        """(records, bytes) of a live batch of this collection, or None."""
        row = self.db.execute("SELECT collection, created, records, bytes FROM batches "
                              "WHERE id=?", (bid,)).fetchone()
        if row is None or row[0] != coll:
            return None
        if now_cs - row[1] > max_age_cs:
            self.batch_drop(bid)
            return None
        return row[2], row[3]

    def batch_append(self, bid, items):
        """items: [(id, fields, payload_bytes)]."""
        with self.db:
            self.db.execute("BEGIN")
            seq = self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM batch_items WHERE batch=?",
                                  (bid,)).fetchone()[0]
            nbytes = 0
            for bid_item, fields, size in items:
                seq += 1
                nbytes += size
                self.db.execute("INSERT INTO batch_items (batch, seq, id, fields) VALUES "
                                "(?, ?, ?, ?)", (bid, seq, bid_item, json.dumps(fields)))
            self.db.execute("UPDATE batches SET records = records + ?, bytes = bytes + ? "
                            "WHERE id=?", (len(items), nbytes, bid))

    def batch_commit(self, bid, coll, now_cs):
        """Applies every item of the batch, in upload order, at one new time T."""
        with self.db:
            self.db.execute("BEGIN")
            t = self._new_write_ts(now_cs)
            for bso_id, fields in self.db.execute(
                    "SELECT id, fields FROM batch_items WHERE batch=? ORDER BY seq",
                    (bid,)).fetchall():
                self._apply(coll, bso_id, json.loads(fields), t, now_cs)
            self._touch_collection(coll, t)
            self.db.execute("DELETE FROM batch_items WHERE batch=?", (bid,))
            self.db.execute("DELETE FROM batches WHERE id=?", (bid,))
            return t

    def batch_drop(self, bid):
        with self.db:
            self.db.execute("DELETE FROM batch_items WHERE batch=?", (bid,))
            self.db.execute("DELETE FROM batches WHERE id=?", (bid,))

    def dump(self, now_cs):
        """Everything, for the test control endpoint (expired records marked)."""
        out = {"modified": cs_to_json(self.last_modified()), "collections": {}}
        for name, mod in self.db.execute("SELECT name, modified FROM collections ORDER BY name"):
            out["collections"][name] = {"modified": cs_to_json(mod), "bsos": []}
        for coll, bid, si, payload, mod, expiry in self.db.execute(
                "SELECT collection, id, sortindex, payload, modified, expiry FROM bsos "
                "ORDER BY collection, id"):
            c = out["collections"].setdefault(coll, {"modified": None, "bsos": []})
            b = {"id": bid, "modified": cs_to_json(mod), "payload": payload}
            if si is not None:
                b["sortindex"] = si
            if expiry is not None:
                b["expires"] = cs_to_json(expiry)
                b["expired"] = expiry <= now_cs
            c["bsos"].append(b)
        out["batches"] = [{"id": r[0], "collection": r[1], "records": r[2], "bytes": r[3]}
                          for r in self.db.execute(
                              "SELECT id, collection, records, bytes FROM batches")]
        return out


def _bso_row(row):
    bid, modified, sortindex, payload = row
    bso = {"id": bid, "modified": cs_to_json(modified), "payload": payload}
    if sortindex is not None:
        bso["sortindex"] = sortindex
    return bso


class Stores:
    """uid -> UserStore; one SQLite file per user under data_dir, or memory when None."""

    def __init__(self, data_dir):
        self.data_dir = data_dir
        self.users = {}

    def get(self, uid):
        s = self.users.get(uid)
        if s is None:
            path = ":memory:" if self.data_dir is None else os.path.join(
                self.data_dir, "user-%d.sqlite" % uid)
            s = self.users[uid] = UserStore(path)
        return s

    def reset(self):
        for uid, s in list(self.users.items()):
            s.close()
            if s.path != ":memory:":
                for suffix in ("", "-wal", "-shm", "-journal"):
                    try:
                        os.unlink(s.path + suffix)
                    except OSError:
                        pass
        self.users = {}
