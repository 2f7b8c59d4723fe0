# The device's settings as the account's prefs record (docs/engine-prefs.md).
lib-$(CONFIG_DS_ENGINE_PREFS) += component/engine/prefs/prefs_engine.c component/engine/prefs/prefs_db.c
unit-$(CONFIG_DS_ENGINE_PREFS) += test/unit/prefs_engine_test.c test/unit/prefs_sync_test.c
testsupport-$(CONFIG_DS_ENGINE_PREFS) += test/support/firefox_fixture.c
