# Saved logins, encrypted at rest (docs/engine-passwords.md).
lib-$(CONFIG_DS_ENGINE_PASSWORDS) += component/engine/passwords/passwords_engine.c \
	component/engine/passwords/passwords_login.c component/engine/passwords/passwords_store.c
unit-$(CONFIG_DS_ENGINE_PASSWORDS) += test/unit/passwords_login_test.c \
	test/unit/passwords_engine_test.c test/unit/passwords_sync_test.c
# The browser engines' shared tracking helpers, when neither history nor forms brought them.
ifeq ($(CONFIG_DS_ENGINE_HISTORY)$(CONFIG_DS_ENGINE_FORMS),)
lib-$(CONFIG_DS_ENGINE_PASSWORDS) += component/engine/browser/browser_sqlite.c \
	component/engine/browser/browser_util.c component/engine/browser/browser_engine.c
endif
