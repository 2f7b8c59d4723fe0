-- Firefox's formhistory.sqlite as Firefox creates it: schema version 5 of
-- toolkit/components/satchel/FormHistory.sys.mjs (dbSchema: moz_formhistory,
-- moz_deleted_formhistory, moz_sources, moz_history_to_sources and their indices).
-- Seed rows: three saved values; times in µs.
PRAGMA user_version = 5;
CREATE TABLE moz_formhistory (id INTEGER PRIMARY KEY, fieldname TEXT NOT NULL,
  value TEXT NOT NULL, timesUsed INTEGER, firstUsed INTEGER, lastUsed INTEGER, guid TEXT);
CREATE TABLE moz_deleted_formhistory (id INTEGER PRIMARY KEY, timeDeleted INTEGER, guid TEXT);
CREATE TABLE moz_sources (id INTEGER PRIMARY KEY, source TEXT NOT NULL);
CREATE TABLE moz_history_to_sources (history_id INTEGER, source_id INTEGER,
  PRIMARY KEY (history_id, source_id),
  FOREIGN KEY (history_id) REFERENCES moz_formhistory(id) ON DELETE CASCADE,
  FOREIGN KEY (source_id) REFERENCES moz_sources(id) ON DELETE CASCADE) WITHOUT ROWID;
CREATE INDEX moz_formhistory_index ON moz_formhistory (fieldname);
CREATE INDEX moz_formhistory_lastused_index ON moz_formhistory (lastUsed);
CREATE INDEX moz_formhistory_guid_index ON moz_formhistory (guid);

INSERT INTO moz_formhistory (fieldname, value, timesUsed, firstUsed, lastUsed, guid) VALUES
  ('q', 'datasync', 3, 1764374400000000, 1764547200000000, 'formAAAAAAAA'),
  ('email', 'alice@example.com', 1, 1764460800000000, 1764460800000000, 'formBBBBBBBB'),
  ('q', 'firefox sync', 1, 1764460800000000, 1764460800000000, 'formCCCCCCCC');
