# Control socket: the server runs in the daemon (lib), the client library serves datasyncctl
# and apps; the framing is shared and lives with the client, which links on its own.
lib-$(CONFIG_DS_IPC) += component/ipc/server.c
client-$(CONFIG_DS_IPC) += component/ipc/client.c component/ipc/frame.c
unit-$(CONFIG_DS_IPC) += test/unit/ipc_test.c
