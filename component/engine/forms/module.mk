# Form history over the browser's store (docs/engine-forms.md).
lib-$(CONFIG_DS_ENGINE_FORMS) += component/engine/forms/forms_engine.c \
	component/engine/forms/forms_formhistory.c
unit-$(CONFIG_DS_ENGINE_FORMS) += test/unit/forms_engine_test.c test/unit/forms_sync_test.c
ifneq ($(CONFIG_DS_ENGINE_HISTORY),y)
testsupport-$(CONFIG_DS_ENGINE_FORMS) += test/support/firefox_fixture.c
endif
