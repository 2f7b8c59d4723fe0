# datasyncd: main() in daemon-y, the daemon logic in the library (unit-testable).
lib-y += component/daemon/agent.c component/daemon/commands.c component/daemon/status.c \
	component/daemon/worker.c component/daemon/policy.c
daemon-y += component/daemon/main.c
# Local-change detection (table collections' change logs) and app tasks, both fed to the
# scheduler (docs/scheduler.md).
unit-$(CONFIG_DS_ENGINE_TABLE) += test/unit/table_pending_test.c
