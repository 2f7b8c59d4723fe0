/*
 * ds_forms.h - the forms engine (Firefox Sync "forms" collection, docs/engine-forms.md): saved
 * form field values as {"id", "name", "value"} records over a struct ds_forms_store
 * (engine/browser/ds_browser_store.h). The reference store works on Firefox's
 * formhistory.sqlite.
 *
 * Registration ("engine" object of a collection): {"kind":"forms", "formhistory":"<path of
 * formhistory.sqlite>"}.
 */
#ifndef DS_FORMS_H
#define DS_FORMS_H

#include <stdint.h>

#include "engine/browser/ds_browser_store.h"

struct cJSON;
struct ds_engine;

/* Longest field name and value applied, in bytes: our bound, the 200 that Firefox's form autofill
 * keeps per field against filling the disk (FormAutofillHandler MAX_FIELD_VALUE_LENGTH). */
#define DS_FORMS_MAX_NAME 200
#define DS_FORMS_MAX_VALUE 200

/* An engine over store; the store becomes the engine's (closed by its close). */
int ds_forms_engine_new(struct ds_forms_store *store, struct ds_engine **out);

/* The reference store on Firefox's formhistory.sqlite: installs the change log and triggers.
 * now_ms (NULL: the port's wall clock) dates the entries it creates. */
int ds_forms_formhistory_open(const char *path, int64_t (*now_ms)(void *), void *now_user_data,
			      struct ds_forms_store **out);
/* Remove the triggers and the side tables from formhistory.sqlite. */
int ds_forms_formhistory_uninstall(const char *path);

/* Dispatcher entries (component/engine/engines.c). */
int ds_forms_engine_open(const struct cJSON *cfg, struct ds_engine **out);
int ds_forms_engine_unregister(const struct cJSON *cfg);

#endif /* DS_FORMS_H */
