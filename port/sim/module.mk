# The sim port: virtual clock, scripted power/network/idle events (see README.md).
lib-$(CONFIG_DS_PORT_SIM) += port/sim/sim.c port/sim/script.c
unit-$(CONFIG_DS_PORT_SIM) += test/unit/port_sim_test.c
