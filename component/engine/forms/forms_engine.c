/*
 * The forms engine: Firefox Sync form history records over a struct ds_forms_store.
 *
 * Record (sync15.md §8; DOCS objectformats "forms"): {"id": guid, "name": field, "value": text}.
 * Rules (docs/engine-forms.md; desktop services/sync/modules/engines/forms.sys.mjs), each with a
 * test in test/unit/forms_engine_test.c:
 *  - an entry is the pair (name, value): a record whose pair the browser already holds under
 *    another guid takes over that entry (the local guid changes), so no duplicate is created;
 *  - a record with the guid of an entry updates that entry;
 *  - a tombstone removes the entry; a tombstone for an unknown guid is a no-op;
 *  - a record without a string name and value, with an empty name, or longer than Firefox
 *    keeps is refused (counted by the core, never applied).
 */
#define DS_LOG_TAG "forms"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "engine/browser/ds_browser_engine.h"
#include "engine/forms/ds_forms.h"
#include "sync/ds_sync.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

/* Record fields the browser stores; others are kept beside the entry and sent back. */
static const char *const KNOWN_FIELDS[] = { "id", "name", "value", NULL };

struct forms_engine {
	struct ds_browser_engine b; /* over the store's tracking ops */
	struct ds_forms_store *store;
};

static struct forms_engine *FE(struct ds_engine *e)
{
	return DS_CONTAINER_OF(e, struct forms_engine, b.e);
}

static void *S(struct forms_engine *f)
{
	return f->store->priv;
}

static int encode(const struct ds_form_entry *f, char **out)
{
	cJSON *o = cJSON_CreateObject();

	*out = NULL;
	if (o && cJSON_AddStringToObject(o, "id", f->guid) && cJSON_AddStringToObject(o, "name", f->name) &&
	    cJSON_AddStringToObject(o, "value", f->value)) {
		/* Records are freed with ds_free (ds_record_clear): copy out of cJSON's allocator. */
		char *text = cJSON_PrintUnformatted(o);

		*out = text ? ds_strdup(text) : NULL;
		cJSON_free(text);
	}
	cJSON_Delete(o);
	return *out ? 0 : -ENOMEM;
}

static int decode(const struct ds_record *r, struct ds_form_entry *out)
{
	cJSON *o;
	const cJSON *n, *v;
	int rc = -EBADMSG;

	memset(out, 0, sizeof(*out));
	if (!r->id || !*r->id || strlen(r->id) >= sizeof(out->guid) || !r->payload)
		return -EBADMSG;
	o = cJSON_Parse(r->payload);
	if (!o)
		return -EBADMSG;
	n = cJSON_GetObjectItemCaseSensitive(o, "name");
	v = cJSON_GetObjectItemCaseSensitive(o, "value");
	if (cJSON_IsString(n) && cJSON_IsString(v) && *n->valuestring &&
	    strlen(n->valuestring) <= DS_FORMS_MAX_NAME && strlen(v->valuestring) <= DS_FORMS_MAX_VALUE) {
		snprintf(out->guid, sizeof(out->guid), "%s", r->id);
		out->name = ds_strdup(n->valuestring);
		out->value = ds_strdup(v->valuestring);
		rc = out->name && out->value ? 0 : -ENOMEM;
	}
	cJSON_Delete(o);
	if (rc)
		ds_form_entry_clear(out);
	return rc;
}

static int current(struct forms_engine *f, const char *guid, struct ds_record *out, bool must_exist)
{
	struct ds_form_entry fe;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = f->store->ops->get(S(f), guid, &fe);
	if (rc == -ENOENT && !must_exist) {
		out->deleted = true;
		out->id = ds_strdup(guid);
		return out->id ? 0 : -ENOMEM;
	}
	if (rc)
		return rc;
	rc = encode(&fe, &out->payload);
	ds_form_entry_clear(&fe);
	if (rc == 0)
		rc = ds_browser_unknown_load(&f->store->ops->track, S(f), guid, &out->payload);
	if (rc == 0 && !(out->id = ds_strdup(guid)))
		rc = -ENOMEM;
	if (rc)
		ds_record_clear(out);
	return rc;
}

static int f_get(struct ds_engine *e, const char *id, struct ds_record *out)
{
	return current(FE(e), id, out, true);
}

static int f_current(struct ds_engine *e, const char *guid, struct ds_record *out)
{
	return current(FE(e), guid, out, false);
}

static int f_apply(struct ds_engine *e, const struct ds_record *r)
{
	struct forms_engine *f = FE(e);
	struct ds_form_entry fe;
	char other[DS_BROWSER_ID_MAX];
	int rc;

	if (!r->id || !*r->id || strlen(r->id) >= DS_BROWSER_ID_MAX)
		return -EBADMSG;
	if (r->deleted || !r->payload) {
		rc = f->store->ops->remove(S(f), r->id);
		return rc ? rc : ds_browser_unknown_keep(&f->store->ops->track, S(f), r->id, NULL, KNOWN_FIELDS);
	}
	rc = decode(r, &fe);
	if (rc)
		return rc;
	rc = f->store->ops->find(S(f), fe.name, fe.value, other);
	if (rc == 0 && strcmp(other, fe.guid) != 0) {
		/* The pair is here under another guid: one entry, the record's guid. If the record's
		 * guid also names another local entry, that one now duplicates the pair: it goes. */
		rc = f->store->ops->remove(S(f), fe.guid);
		if (rc == 0)
			rc = f->store->ops->set_guid(S(f), other, fe.guid);
	} else if (rc == 0 || rc == -ENOENT) {
		rc = f->store->ops->put(S(f), &fe);
	}
	if (rc == 0)
		rc = ds_browser_unknown_keep(&f->store->ops->track, S(f), fe.guid, r->payload, KNOWN_FIELDS);
	ds_form_entry_clear(&fe);
	return rc;
}

static int f_mark_all(struct ds_engine *e)
{
	struct forms_engine *f = FE(e);

	return f->store->ops->track.mark_all(S(f), 0);
}

static void f_close(struct ds_engine *e)
{
	struct forms_engine *f;

	if (!e)
		return;
	f = FE(e);
	f->store->ops->track.close(S(f));
	ds_free(f->store);
	ds_free(f);
}

static const struct ds_engine_ops forms_ops = {
	.kind = "forms",
	.prepare = ds_browser_engine_prepare,
	.begin = ds_browser_engine_begin,
	.commit = ds_browser_engine_commit,
	.rollback = ds_browser_engine_rollback,
	.changes = ds_browser_engine_changes,
	.changes_after = ds_browser_engine_changes_after,
	.pending = ds_browser_engine_pending,
	.get = f_get,
	.apply = f_apply,
	.forget = ds_browser_engine_forget,
	.merge = NULL, /* a (name, value) pair has nothing to combine: newest wins */
	.mark_all = f_mark_all,
	.wipe = ds_browser_engine_wipe,
	.close = f_close,
};

int ds_forms_engine_new(struct ds_forms_store *store, struct ds_engine **out)
{
	struct forms_engine *f;

	*out = NULL;
	if (!store || !store->ops)
		return -EINVAL;
	f = ds_calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->store = store;
	f->b.track = &store->ops->track;
	f->b.s = store->priv;
	f->b.current = f_current;
	f->b.e.ops = &forms_ops;
	f->b.e.priv = f;
	*out = &f->b.e;
	return 0;
}

static const char *formhistory_path(const cJSON *cfg)
{
	return ds_browser_cfg_path(cfg, "forms", "formhistory", "formhistory.sqlite");
}

int ds_forms_engine_open(const cJSON *cfg, struct ds_engine **out)
{
	struct ds_forms_store *s = NULL;
	const char *path = formhistory_path(cfg);
	int rc;

	*out = NULL;
	if (!path)
		return -EINVAL;
	rc = ds_forms_formhistory_open(path, NULL, NULL, &s);
	if (rc)
		return rc;
	rc = ds_forms_engine_new(s, out);
	if (rc) {
		s->ops->track.close(s->priv);
		ds_free(s);
	}
	return rc;
}

int ds_forms_engine_unregister(const cJSON *cfg)
{
	const char *path = formhistory_path(cfg);

	return path ? ds_forms_formhistory_uninstall(path) : -EINVAL;
}
