# Bookmarks over the browser's store, with a tree merge (docs/engine-bookmarks.md).
lib-$(CONFIG_DS_ENGINE_BOOKMARKS) += component/engine/bookmarks/bookmarks_engine.c \
	component/engine/bookmarks/bookmarks_apply.c component/engine/bookmarks/bookmarks_dedupe.c \
	component/engine/bookmarks/bookmarks_structure.c component/engine/bookmarks/bookmarks_tree.c \
	component/engine/bookmarks/bookmarks_guids.c \
	component/engine/bookmarks/bookmarks_places.c component/engine/bookmarks/bookmarks_places_read.c \
	component/engine/bookmarks/bookmarks_places_write.c component/engine/bookmarks/bookmarks_record.c
# The shared browser helpers (listed by every engine that uses them; linked once).
lib-$(CONFIG_DS_ENGINE_BOOKMARKS) += component/engine/browser/browser_sqlite.c \
	component/engine/browser/browser_util.c component/engine/browser/browser_engine.c
unit-$(CONFIG_DS_ENGINE_BOOKMARKS) += test/unit/bookmarks_engine_test.c \
	test/unit/bookmarks_sync_test.c
testsupport-$(CONFIG_DS_ENGINE_BOOKMARKS) += test/support/bookmarks_fixture.c
# With history on too: both engines on one places.sqlite.
ifeq ($(CONFIG_DS_ENGINE_HISTORY),y)
unit-$(CONFIG_DS_ENGINE_BOOKMARKS) += test/unit/bookmarks_history_test.c
endif
