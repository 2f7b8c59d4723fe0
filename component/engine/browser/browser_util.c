/* Helpers shared by the browser engines and their stores. */
#include "core/ds_core.h"
#include "engine/browser/ds_browser_store.h"

#include <string.h>

void ds_history_place_clear(struct ds_history_place *p)
{
	if (!p)
		return;
	ds_free(p->url);
	ds_free(p->title);
	ds_free(p->visits);
	memset(p, 0, sizeof(*p));
}

void ds_form_entry_clear(struct ds_form_entry *f)
{
	if (!f)
		return;
	ds_free(f->name);
	ds_free(f->value);
	memset(f, 0, sizeof(*f));
}
