# Shared parts of the browser data engines (docs/engine-history.md, docs/engine-forms.md,
# docs/engine-prefs.md, docs/engine-addons.md): the store interface and change tracking beside
# a SQLite database the device owns. Listed once per engine that uses them; make links each
# object once.
ifneq ($(CONFIG_DS_ENGINE_HISTORY)$(CONFIG_DS_ENGINE_FORMS)$(CONFIG_DS_ENGINE_PREFS)$(CONFIG_DS_ENGINE_ADDONS),)
lib-y += component/engine/browser/browser_sqlite.c component/engine/browser/browser_util.c \
	component/engine/browser/browser_engine.c
endif
# The page cache of our connections (ds_browser_db_cache), with any engine that links the above.
ifneq ($(CONFIG_DS_ENGINE_HISTORY)$(CONFIG_DS_ENGINE_FORMS)$(CONFIG_DS_ENGINE_PREFS)$(CONFIG_DS_ENGINE_ADDONS)$(CONFIG_DS_ENGINE_BOOKMARKS)$(CONFIG_DS_ENGINE_PASSWORDS),)
unit-y += test/unit/browser_cache_test.c
endif
