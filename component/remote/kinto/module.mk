# kinto: a Kinto server as the remote (docs/remote-kinto.md). The tests against a real Kinto
# server are test/integration/kinto_*.sh.
lib-$(CONFIG_DS_REMOTE_KINTO) += component/remote/kinto/kinto_json.c \
	component/remote/kinto/kinto_codec.c component/remote/kinto/kinto_state.c \
	component/remote/kinto/kinto_api.c component/remote/kinto/kinto_secret.c \
	component/remote/kinto/kinto_remote.c component/remote/kinto/kinto_fetch.c \
	component/remote/kinto/kinto_upload.c component/remote/kinto/kinto_files.c \
	component/remote/kinto/kinto_filesync.c component/remote/kinto/kinto_migrate.c \
	component/remote/kinto/kinto_migrate_files.c \
	component/remote/kinto/kinto_token.c
unit-$(CONFIG_DS_REMOTE_KINTO) += test/unit/kinto_codec_test.c test/unit/kinto_files_test.c
