# The posix port (Linux). The readers in posix-readers take their inputs as arguments, so the
# sim board's unit tests link them through libdstest to test them against fake trees.
posix-readers := port/posix/power_supply.c port/posix/net_class.c port/posix/netlink.c \
	port/posix/monitor.c
lib-$(CONFIG_DS_PORT_POSIX) += $(posix-readers) port/posix/port.c port/posix/clock.c
ifeq ($(CONFIG_DS_PORT_SIM),y)
testsupport-y += $(posix-readers)
endif
unit-y += test/unit/port_posix_test.c
