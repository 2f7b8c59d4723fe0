-- The history part of Firefox's places.sqlite, as Firefox creates it.
-- Tables: toolkit/components/places/nsPlacesTables.h (CREATE_MOZ_PLACES,
-- CREATE_MOZ_HISTORYVISITS, CREATE_MOZ_ORIGINS, CREATE_MOZ_BOOKMARKS, CREATE_MOZ_META);
-- indexes: nsPlacesIndexes.h. Firefox's own triggers are TEMP triggers created on its
-- connection (nsPlacesTriggers.h) and are not part of the file. user_version is a recent
-- Places schema version (Database.cpp DATABASE_SCHEMA_VERSION); the adapter checks columns, not it.
-- Seed rows: three visited places and a bookmarked place without visits; dates in µs.
PRAGMA user_version = 75;
CREATE TABLE moz_origins (id INTEGER PRIMARY KEY, prefix TEXT NOT NULL, host TEXT NOT NULL,
  frecency INTEGER NOT NULL, UNIQUE (prefix, host));
CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url LONGVARCHAR, title LONGVARCHAR,
  rev_host LONGVARCHAR, visit_count INTEGER DEFAULT 0, hidden INTEGER DEFAULT 0 NOT NULL,
  typed INTEGER DEFAULT 0 NOT NULL, frecency INTEGER DEFAULT -1 NOT NULL,
  last_visit_date INTEGER, guid TEXT, foreign_count INTEGER DEFAULT 0 NOT NULL,
  url_hash INTEGER DEFAULT 0 NOT NULL, description TEXT, preview_image_url TEXT,
  origin_id INTEGER REFERENCES moz_origins(id));
CREATE TABLE moz_historyvisits (id INTEGER PRIMARY KEY, from_visit INTEGER, place_id INTEGER,
  visit_date INTEGER, visit_type INTEGER, session INTEGER);
CREATE TABLE moz_bookmarks (id INTEGER PRIMARY KEY, type INTEGER, fk INTEGER DEFAULT NULL,
  parent INTEGER, position INTEGER, title LONGVARCHAR, keyword_id INTEGER, folder_type TEXT,
  dateAdded INTEGER, lastModified INTEGER, guid TEXT, syncStatus INTEGER NOT NULL DEFAULT 0,
  syncChangeCounter INTEGER NOT NULL DEFAULT 1);
CREATE TABLE moz_meta (key TEXT PRIMARY KEY, value NOT NULL) WITHOUT ROWID;
CREATE INDEX moz_places_url_hashindex ON moz_places (url_hash);
CREATE INDEX moz_places_hostindex ON moz_places (rev_host);
CREATE INDEX moz_places_visitcount ON moz_places (visit_count);
CREATE INDEX moz_places_frecencyindex ON moz_places (frecency);
CREATE INDEX moz_places_lastvisitdateindex ON moz_places (last_visit_date);
CREATE UNIQUE INDEX moz_places_guid_uniqueindex ON moz_places (guid);
CREATE INDEX moz_places_originidindex ON moz_places (origin_id);
CREATE INDEX moz_historyvisits_placedateindex ON moz_historyvisits (place_id, visit_date);
CREATE INDEX moz_historyvisits_fromindex ON moz_historyvisits (from_visit);
CREATE INDEX moz_historyvisits_dateindex ON moz_historyvisits (visit_date);
CREATE INDEX moz_bookmarks_itemindex ON moz_bookmarks (fk, type);
CREATE INDEX moz_bookmarks_parentindex ON moz_bookmarks (parent, position);
CREATE UNIQUE INDEX moz_bookmarks_guid_uniqueindex ON moz_bookmarks (guid);

INSERT INTO moz_origins VALUES (1, 'https://', 'www.mozilla.org', 100),
  (2, 'https://', 'example.com', 50);
-- url_hash is 0 here: the loaders (make-fixtures.py, the unit tests) fill in Firefox's hash(url)
-- (SQLFunctions.cpp), which SQL alone cannot compute.
INSERT INTO moz_places (id, url, title, rev_host, visit_count, frecency, last_visit_date,
  guid, foreign_count, url_hash, origin_id) VALUES
  (1, 'https://www.mozilla.org/', 'Mozilla', 'gro.allizom.www.', 2, 100,
   1764547200000000, 'placeAAAAAAA', 0, 0, 1),
  (2, 'https://example.com/a', 'Example A', 'moc.elpmaxe.', 1, 50,
   1764460800000000, 'placeBBBBBBB', 0, 0, 2),
  (3, 'https://example.com/b', NULL, 'moc.elpmaxe.', 1, 50,
   1764374400000000, 'placeCCCCCCC', 0, 0, 2),
  (4, 'https://example.com/bookmarked', 'Never visited', 'moc.elpmaxe.', 0, 20,
   NULL, 'placeDDDDDDD', 1, 0, 2);
INSERT INTO moz_historyvisits (from_visit, place_id, visit_date, visit_type, session) VALUES
  (0, 1, 1764460800000000, 2, 0),
  (0, 1, 1764547200000000, 1, 0),
  (0, 2, 1764460800000000, 1, 0),
  (0, 3, 1764374400000000, 5, 0);
INSERT INTO moz_bookmarks (id, type, fk, parent, position, title, dateAdded, lastModified,
  guid, syncStatus, syncChangeCounter) VALUES
  (1, 2, NULL, 0, 0, '', 1764374400000000, 1764374400000000, 'root________', 1, 1),
  (2, 1, 4, 1, 0, 'Never visited', 1764374400000000, 1764374400000000, 'bmkAAAAAAAAA', 1, 1);
