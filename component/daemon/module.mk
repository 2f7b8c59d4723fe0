# datasyncd: main() in daemon-y, the daemon logic in the library (unit-testable). The daemon is
# driven through its control socket, so it is built only with CONFIG_DS_IPC (an image that embeds
# libdatasync alone can turn both off).
ifeq ($(CONFIG_DS_IPC),y)
lib-y += component/daemon/agent.c component/daemon/commands.c component/daemon/status.c \
	component/daemon/worker.c component/daemon/policy.c
daemon-y += component/daemon/main.c
# Local-change detection (table collections' change logs) and app tasks, both fed to the
# scheduler (docs/scheduler.md); the sim board's clock control for the integration tests.
lib-$(CONFIG_DS_APP_TASKS) += component/daemon/tasks.c
lib-$(CONFIG_DS_ENGINE_TABLE) += component/daemon/changes.c
lib-$(CONFIG_DS_PORT_SIM) += component/daemon/sim_cmd.c
# The browser's tabs, other devices and their commands (tabs and clients engines).
ifneq ($(CONFIG_DS_ENGINE_TABS)$(CONFIG_DS_ENGINE_CLIENTS),)
lib-y += component/daemon/browser_cmd.c
endif
unit-$(CONFIG_DS_ENGINE_TABLE) += test/unit/table_pending_test.c
endif
