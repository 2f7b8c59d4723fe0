# dir: a local folder as the remote (docs/remote-dir.md).
lib-$(CONFIG_DS_REMOTE_DIR) += component/remote/dir/dir_fs.c component/remote/dir/dir_folder.c \
	component/remote/dir/dir_batch.c component/remote/dir/dir_remote.c
unit-$(CONFIG_DS_REMOTE_DIR) += test/unit/dir_remote_test.c
unit-$(CONFIG_DS_REMOTE_DIR) += test/unit/dir_fat_test.c
