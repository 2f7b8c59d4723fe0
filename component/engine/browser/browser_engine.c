/* The engine side shared by the browser engines (ds_browser_engine.h). */
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "engine/browser/ds_browser_engine.h"

int ds_browser_change_one(const char *guid, const struct ds_pending_info *info, void *user_data)
{
	struct ds_browser_changes *c = user_data;
	struct ds_record r;
	int rc = c->current(c->e, guid, &r);

	if (rc == DS_BROWSER_SKIP)
		return 0;
	if (rc)
		return rc;
	r.change_seq = info->change_seq;
	r.modified_ms = info->modified_ms;
	rc = c->cb(&r, c->user_data);
	if (c->clear)
		c->clear(&r);
	else
		ds_record_clear(&r);
	return rc;
}

int ds_browser_changes_after(struct ds_engine *e, ds_browser_current_fn current,
			     const struct ds_browser_tracking_ops *t, void *s, uint64_t after_seq,
			     const char *after_id, ds_record_cb cb, void *user_data)
{
	struct ds_browser_changes c = { e, current, NULL, cb, user_data };

	return t->changes_after(s, after_seq, after_id, ds_browser_change_one, &c);
}

static struct ds_browser_engine *BE(struct ds_engine *e)
{
	return DS_CONTAINER_OF(e, struct ds_browser_engine, e);
}

int ds_browser_engine_prepare(struct ds_engine *e)
{
	return ds_browser_track_prepare(BE(e)->track, BE(e)->s);
}

int ds_browser_engine_begin(struct ds_engine *e)
{
	return BE(e)->track->begin(BE(e)->s);
}

int ds_browser_engine_commit(struct ds_engine *e)
{
	return BE(e)->track->commit(BE(e)->s);
}

int ds_browser_engine_rollback(struct ds_engine *e)
{
	return BE(e)->track->rollback(BE(e)->s);
}

int ds_browser_engine_pending(struct ds_engine *e, const char *id, struct ds_pending_info *out)
{
	return BE(e)->track->pending(BE(e)->s, id, out);
}

int ds_browser_engine_forget(struct ds_engine *e, const char *id, uint64_t change_seq)
{
	return BE(e)->track->forget(BE(e)->s, id, change_seq);
}

int ds_browser_engine_changes_after(struct ds_engine *e, uint64_t after_seq, const char *after_id,
				    ds_record_cb cb, void *user_data)
{
	struct ds_browser_engine *b = BE(e);
	struct ds_browser_changes c = { e, b->current, b->clear, cb, user_data };

	return b->track->changes_after(b->s, after_seq, after_id, ds_browser_change_one, &c);
}

int ds_browser_engine_changes(struct ds_engine *e, ds_record_cb cb, void *user_data)
{
	return ds_browser_engine_changes_after(e, 0, NULL, cb, user_data);
}

const char *ds_browser_cfg_path(const cJSON *cfg, const char *engine, const char *key,
				const char *file)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(cfg, key);

	if (!cJSON_IsString(p) || !*p->valuestring) {
		/* Under the engine's own tag, as if it logged this itself. */
		if (DS_LOG_ERR <= DS_LOG_LEVEL)
			ds_log_write(DS_LOG_ERR, engine, "%s engine: \"%s\" (path of %s) is required",
				     engine, key, file);
		return NULL;
	}
	return p->valuestring;
}

int ds_browser_engine_wipe(struct ds_engine *e)
{
	struct ds_browser_engine *b = BE(e);

	return b->track->wipe ? b->track->wipe(b->s) : -ENOTSUP;
}
