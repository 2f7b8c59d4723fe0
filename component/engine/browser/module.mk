# Shared parts of the browser data engines (docs/engine-history.md, docs/engine-forms.md): the
# store interface and change tracking beside a browser's SQLite database.
ifneq ($(CONFIG_DS_ENGINE_HISTORY)$(CONFIG_DS_ENGINE_FORMS),)
lib-y += component/engine/browser/browser_sqlite.c component/engine/browser/browser_util.c
endif
