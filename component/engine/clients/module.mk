# The clients collection: other devices, our own record and the commands sent to it
# (docs/engine-clients.md).
lib-$(CONFIG_DS_ENGINE_CLIENTS) += component/engine/clients/clients_record.c \
	component/engine/clients/clients_store.c component/engine/clients/clients_send.c \
	component/engine/clients/clients_engine.c
unit-$(CONFIG_DS_ENGINE_CLIENTS) += test/unit/clients_record_test.c test/unit/clients_engine_test.c
ifeq ($(CONFIG_DS_ENGINE_TABS),y)
unit-$(CONFIG_DS_ENGINE_CLIENTS) += test/unit/clients_writer_test.c
endif
