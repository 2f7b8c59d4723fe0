# The sync core: the run, reconcile rules, policy names, collections from registrations.
lib-y += component/sync/sync.c component/sync/record.c component/sync/policy.c \
	component/sync/collection.c component/sync/reconcile.c
testsupport-y += test/support/fake_engine.c test/support/fake_remote.c test/support/fake_device.c
unit-y += test/unit/sync_rules_test.c test/unit/sync_cursor_test.c test/unit/sync_remote_ops_test.c
# Counts the bytes a run holds through the allocator hook, which a configuration may leave out.
unit-$(CONFIG_DS_ALLOC_HOOK) += test/unit/sync_memory_test.c
unit-$(CONFIG_DS_ENGINE_TABLE) += test/unit/sync_table_ops_test.c
