# sync15: Firefox Sync 1.5 storage (docs/remote-sync15.md).
lib-$(CONFIG_DS_REMOTE_SYNC15) += component/remote/sync15/bso.c component/remote/sync15/bso_stream.c component/remote/sync15/keys.c \
	component/remote/sync15/storage_client.c component/remote/sync15/post_queue.c \
	component/remote/sync15/global_state.c component/remote/sync15/sync15_remote.c \
	component/remote/sync15/sync15_account.c component/remote/sync15/sync15_clients.c
# An in-process Sync 1.5 storage node for the unit tests (test/support/fake_sync15.h).
testsupport-$(CONFIG_DS_REMOTE_SYNC15) += test/support/fake_sync15.c
unit-$(CONFIG_DS_REMOTE_SYNC15) += test/unit/sync15_crypto_test.c test/unit/sync15_client_test.c test/unit/sync15_global_test.c \
	test/unit/sync15_remote_test.c test/unit/sync15_server_test.c test/unit/sync15_account_test.c \
	test/unit/sync15_protocol_stream_test.c
# Acceptance tests AT-01..AT-20 (docs/sync15-acceptance.md).
unit-$(CONFIG_DS_REMOTE_SYNC15) += test/unit/sync15_at_crypto_test.c test/unit/sync15_at_storage_test.c
ifeq ($(CONFIG_DS_REMOTE_SYNC15)$(CONFIG_DS_ENGINE_HISTORY),yy)
unit-y += test/unit/sync15_at_history_test.c
endif
