# sync15: Firefox Sync 1.5 storage (docs/remote-sync15.md).
lib-$(CONFIG_DS_REMOTE_SYNC15) += component/remote/sync15/bso.c component/remote/sync15/keys.c \
	component/remote/sync15/storage_client.c component/remote/sync15/post_queue.c \
	component/remote/sync15/global_state.c component/remote/sync15/sync15_remote.c \
	component/remote/sync15/sync15_account.c
