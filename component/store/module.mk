# The agent's metadata store (SQLite): always built, the sync core keeps its state here.
lib-y += component/store/store.c
# SQLite's files through the port's fault hook (test boards).
lib-$(CONFIG_DS_PORT_FAULT_HOOK) += component/store/store_vfs.c
unit-y += test/unit/store_test.c
