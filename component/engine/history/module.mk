# History over the browser's store (docs/engine-history.md).
lib-$(CONFIG_DS_ENGINE_HISTORY) += component/engine/history/history_engine.c \
	component/engine/history/history_places.c
unit-$(CONFIG_DS_ENGINE_HISTORY) += test/unit/history_engine_test.c test/unit/history_sync_test.c

testsupport-$(CONFIG_DS_ENGINE_HISTORY) += test/support/places_fixture.c test/support/firefox_fixture.c
