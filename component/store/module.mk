# The agent's metadata store (SQLite): always built, the sync core keeps its state here.
lib-y += component/store/store.c
unit-y += test/unit/store_test.c
