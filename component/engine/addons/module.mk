# The device's apps and add-ons from the shared store (docs/engine-addons.md).
lib-$(CONFIG_DS_ENGINE_ADDONS) += component/engine/addons/addons_engine.c
unit-$(CONFIG_DS_ENGINE_ADDONS) += test/unit/addons_engine_test.c test/unit/addons_sync_test.c
testsupport-$(CONFIG_DS_ENGINE_ADDONS) += test/support/firefox_fixture.c
