# App SQLite tables as collections (docs/engine-table.md).
lib-$(CONFIG_DS_ENGINE_TABLE) += component/engine/table/table_engine.c \
	component/engine/table/table_apply.c component/engine/table/table_schema.c \
	component/engine/table/table_triggers.c component/engine/table/table_codec.c \
	component/engine/table/table_util.c
lib-$(CONFIG_DS_ENGINE_TABLE) += component/engine/table/table_pending.c
unit-$(CONFIG_DS_ENGINE_TABLE) += test/unit/table_engine_test.c test/unit/table_triggers_test.c
testsupport-$(CONFIG_DS_ENGINE_TABLE) += test/support/table_fixture.c
