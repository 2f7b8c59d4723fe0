# Tabs over the daemon's browser state file (docs/engine-tabs.md).
lib-$(CONFIG_DS_ENGINE_TABS) += component/engine/tabs/tabs_record.c component/engine/tabs/tabs_store.c \
	component/engine/tabs/tabs_engine.c
unit-$(CONFIG_DS_ENGINE_TABS) += test/unit/tabs_record_test.c test/unit/tabs_engine_test.c
