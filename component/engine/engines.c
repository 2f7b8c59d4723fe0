/*
 * The engine factory: picks a compiled-in engine by the "kind" of its configuration. An engine
 * that Kconfig left out has no entry here and no code in the binary; asking for it is -ENOTSUP.
 */
#define DS_LOG_TAG "engine"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "sync/ds_sync.h"
#if IS_ENABLED(CONFIG_DS_ENGINE_TABLE)
#include "engine/table/ds_table.h"
#endif
#if IS_ENABLED(CONFIG_DS_ENGINE_HISTORY)
#include "engine/history/ds_history.h"
#endif
#if IS_ENABLED(CONFIG_DS_ENGINE_FORMS)
#include "engine/forms/ds_forms.h"
#endif
#if IS_ENABLED(CONFIG_DS_ENGINE_BOOKMARKS)
#include "engine/bookmarks/ds_bookmarks.h"
#endif
#if IS_ENABLED(CONFIG_DS_ENGINE_PASSWORDS)
#include "engine/passwords/ds_passwords.h"
#endif
#if IS_ENABLED(CONFIG_DS_ENGINE_TABS)
#include "engine/tabs/ds_tabs.h"
#endif
#if IS_ENABLED(CONFIG_DS_ENGINE_CLIENTS)
#include "engine/clients/ds_clients.h"
#endif
#if IS_ENABLED(CONFIG_DS_ENGINE_PREFS)
#include "engine/prefs/ds_prefs.h"
#endif
#if IS_ENABLED(CONFIG_DS_ENGINE_ADDONS)
#include "engine/addons/ds_addons.h"
#endif

#include <cjson/cJSON.h>
#include <string.h>

struct engine_entry {
	const char *kind;
	int (*open)(const cJSON *cfg, struct ds_engine **out);
	int (*unregister)(const cJSON *cfg); /* NULL: the engine installs nothing in the app's data */
};

static const struct engine_entry engines[] = {
#if IS_ENABLED(CONFIG_DS_ENGINE_TABLE)
	{ "table", ds_table_engine_open, ds_table_engine_unregister },
#endif
#if IS_ENABLED(CONFIG_DS_ENGINE_HISTORY)
	{ "history", ds_history_engine_open, ds_history_engine_unregister },
#endif
#if IS_ENABLED(CONFIG_DS_ENGINE_FORMS)
	{ "forms", ds_forms_engine_open, ds_forms_engine_unregister },
#endif
#if IS_ENABLED(CONFIG_DS_ENGINE_BOOKMARKS)
	{ "bookmarks", ds_bookmarks_engine_open, ds_bookmarks_engine_unregister },
#endif
#if IS_ENABLED(CONFIG_DS_ENGINE_PASSWORDS)
	{ "passwords", ds_passwords_engine_open, ds_passwords_engine_unregister },
#endif
#if IS_ENABLED(CONFIG_DS_ENGINE_TABS)
	{ "tabs", ds_tabs_engine_open, ds_tabs_engine_unregister },
#endif
#if IS_ENABLED(CONFIG_DS_ENGINE_CLIENTS)
	{ "clients", ds_clients_engine_open, ds_clients_engine_unregister },
#endif
#if IS_ENABLED(CONFIG_DS_ENGINE_PREFS)
	{ "prefs", ds_prefs_engine_open, ds_prefs_engine_unregister },
#endif
#if IS_ENABLED(CONFIG_DS_ENGINE_ADDONS)
	{ "addons", ds_addons_engine_open, ds_addons_engine_unregister },
#endif
	{ NULL, NULL, NULL },
};

static const struct engine_entry *engine_find(const cJSON *cfg)
{
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(cfg, "kind");
	size_t i;

	if (!cJSON_IsString(kind)) {
		DS_LOG_ERR("engine configuration has no \"kind\"");
		return NULL;
	}
	for (i = 0; engines[i].kind; i++)
		if (strcmp(engines[i].kind, kind->valuestring) == 0)
			return &engines[i];
	DS_LOG_ERR("engine '%s' is not compiled into this build", kind->valuestring);
	return &engines[i]; /* the terminator: known shape, no engine */
}

int ds_engine_open(const cJSON *cfg, struct ds_engine **out)
{
	const struct engine_entry *e;

	if (!out)
		return -EINVAL;
	*out = NULL;
	e = engine_find(cfg);
	if (!e)
		return -EINVAL;
	if (!e->open)
		return -ENOTSUP;
	return e->open(cfg, out);
}

int ds_engine_unregister(const cJSON *cfg)
{
	const struct engine_entry *e = engine_find(cfg);

	if (!e)
		return -EINVAL;
	if (!e->kind)
		return -ENOTSUP;
	return e->unregister ? e->unregister(cfg) : 0;
}
