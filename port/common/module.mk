# Shared by the posix and sim ports (both run on Linux): paths, secrets, files, entropy, wake locks.
ifneq ($(CONFIG_DS_PORT_POSIX)$(CONFIG_DS_PORT_SIM),)
lib-y += port/common/paths.c port/common/secret.c port/common/entropy.c \
	port/common/wakelock.c port/common/names.c port/common/protect.c \
	port/common/memory.c port/common/file.c
unit-y += test/unit/port_file_test.c
endif
# Test boards: the file fault hook (ds_port_fault_after) and its torture test.
lib-$(CONFIG_DS_PORT_FAULT_HOOK) += port/common/fault.c
ifeq ($(CONFIG_DS_PORT_FAULT_HOOK)$(CONFIG_DS_ENGINE_TABLE)$(CONFIG_DS_REMOTE_DIR),yyy)
unit-y += test/unit/io_torture_test.c
endif
