-- The bookmarks part of a new Firefox profile, applied over places.sql (which holds one odd
-- bookmark directly under the places root: it goes). Tables as Firefox creates them
-- (toolkit/components/places/nsPlacesTables.h: CREATE_MOZ_KEYWORDS, CREATE_MOZ_BOOKMARKS_DELETED;
-- index from nsPlacesIndexes.h), roots as Database.cpp CreateBookmarkRoots makes them: the places
-- root and under it menu, toolbar, tags, unfiled and mobile, with these fixed guids.
CREATE TABLE moz_keywords (id INTEGER PRIMARY KEY AUTOINCREMENT, keyword TEXT UNIQUE,
  place_id INTEGER, post_data TEXT);
CREATE UNIQUE INDEX moz_keywords_placepostdata_uniqueindex ON moz_keywords (place_id, post_data);
CREATE TABLE moz_bookmarks_deleted (guid TEXT PRIMARY KEY, dateRemoved INTEGER NOT NULL DEFAULT 0);
DELETE FROM moz_bookmarks;
UPDATE moz_places SET foreign_count = 0;
INSERT INTO moz_bookmarks (id, type, fk, parent, position, title, dateAdded, lastModified,
  guid, syncStatus, syncChangeCounter) VALUES
  (1, 2, NULL, 0, 0, '', 1764374400000000, 1764374400000000, 'root________', 1, 1),
  (2, 2, NULL, 1, 0, 'menu', 1764374400000000, 1764374400000000, 'menu________', 1, 1),
  (3, 2, NULL, 1, 1, 'toolbar', 1764374400000000, 1764374400000000, 'toolbar_____', 1, 1),
  (4, 2, NULL, 1, 2, 'tags', 1764374400000000, 1764374400000000, 'tags________', 1, 1),
  (5, 2, NULL, 1, 3, 'unfiled', 1764374400000000, 1764374400000000, 'unfiled_____', 1, 1),
  (6, 2, NULL, 1, 4, 'mobile', 1764374400000000, 1764374400000000, 'mobile______', 1, 1);
