# Shared by the posix and sim ports (both run on Linux): paths, secrets, entropy, wake locks.
ifneq ($(CONFIG_DS_PORT_POSIX)$(CONFIG_DS_PORT_SIM),)
lib-y += port/common/paths.c port/common/secret.c port/common/entropy.c \
	port/common/wakelock.c port/common/names.c port/common/protect.c
endif
