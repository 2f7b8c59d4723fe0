/*
 * The remote factory: picks the compiled-in remote named by a registration's "kind". A kind
 * that exists but is configured out answers -ENOTSUP, so a registration written for a richer
 * build is refused with a clear message instead of being misread.
 */
#define DS_LOG_TAG "remote"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "sync/ds_sync.h"

#include <cjson/cJSON.h>
#include <string.h>

#if IS_ENABLED(CONFIG_DS_REMOTE_DIR)
#include "remote/dir/ds_remote_dir.h"
#endif
#if IS_ENABLED(CONFIG_DS_REMOTE_SYNC15)
#include "remote/sync15/ds_remote_sync15.h"
#endif
#if IS_ENABLED(CONFIG_DS_REMOTE_KINTO)
#include "remote/kinto/ds_remote_kinto.h"
#endif

struct remote_kind {
	const char *kind;
	int (*open)(const cJSON *cfg, const char *collection, const char *device_id,
		    struct ds_remote **out);
	/* NULL when the remote keeps no secrets. */
	int (*enroll)(cJSON *cfg, const char *collection);
	int (*forget)(const cJSON *cfg, const char *collection);
};

static const struct remote_kind kinds[] = {
#if IS_ENABLED(CONFIG_DS_REMOTE_DIR)
	{ "dir", ds_remote_dir_open, ds_remote_dir_enroll, ds_remote_dir_forget },
#endif
#if IS_ENABLED(CONFIG_DS_REMOTE_SYNC15)
	/* Credentials come from the signed-in account: nothing to enrol in the registration. */
	{ "sync15", ds_remote_sync15_open, NULL, NULL },
#endif
#if IS_ENABLED(CONFIG_DS_REMOTE_KINTO)
	{ "kinto", ds_remote_kinto_open, ds_remote_kinto_enroll, ds_remote_kinto_forget },
#endif
	{ NULL, NULL, NULL, NULL },
};

/* NULL without a "kind"; the terminator (kind NULL) for a kind not compiled in. */
static const struct remote_kind *kind_find(const cJSON *cfg)
{
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(cfg, "kind");
	size_t i;

	if (!cJSON_IsString(k)) {
		DS_LOG_ERR("remote without a \"kind\"");
		return NULL;
	}
	for (i = 0; kinds[i].kind; i++)
		if (strcmp(kinds[i].kind, k->valuestring) == 0)
			return &kinds[i];
	DS_LOG_ERR("remote kind '%s' is not compiled into this build", k->valuestring);
	return &kinds[i]; /* the terminator: known shape, no remote */
}

int ds_remote_open(const cJSON *cfg, const char *collection, const char *device_id,
		   struct ds_remote **out)
{
	const struct remote_kind *k;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!cJSON_IsObject(cfg) || !collection)
		return -EINVAL;
	k = kind_find(cfg);
	if (!k)
		return -EINVAL;
	return k->kind ? k->open(cfg, collection, device_id, out) : -ENOTSUP;
}

int ds_remote_enroll(cJSON *cfg, const char *collection)
{
	const struct remote_kind *k;

	if (!cJSON_IsObject(cfg) || !collection)
		return -EINVAL;
	k = kind_find(cfg);
	if (!k)
		return -EINVAL;
	if (!k->kind)
		return -ENOTSUP;
	return k->enroll ? k->enroll(cfg, collection) : 0;
}

int ds_remote_forget(const cJSON *cfg, const char *collection)
{
	const struct remote_kind *k;

	if (!cJSON_IsObject(cfg) || !collection)
		return -EINVAL;
	k = kind_find(cfg);
	if (!k)
		return -EINVAL;
	if (!k->kind)
		return -ENOTSUP;
	return k->forget ? k->forget(cfg, collection) : 0;
}
