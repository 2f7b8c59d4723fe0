/*
 * A collection from its stored registration: parse, validate, and bind the engine and remote
 * through the factories (component/engine/engines.c, component/remote/remotes.c).
 */
#define DS_LOG_TAG "sync"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_SYNC
#include "core/ds_core.h"
#include "sync/ds_sync.h"
#include "sync/sync_priv.h"

#include <cjson/cJSON.h>
#include <string.h>

/* Names end up in store keys, secret names and log lines: keep them plain. */
static bool name_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 64 || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static const cJSON *part(const cJSON *reg, const char *key)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(reg, key);
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");

	if (!cJSON_IsObject(o) || !cJSON_IsString(kind) || !*kind->valuestring) {
		DS_LOG_ERR("registration: \"%s\" must be an object with a \"kind\"", key);
		return NULL;
	}
	return o;
}

int ds_collection_open(const cJSON *reg, const char *device_id, struct ds_collection **out)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(reg, "name");
	const cJSON *eng, *rem, *failed_part; /* failed: the part that did not open, for the log */
	const char *failed;
	struct ds_collection *c;
	int rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!cJSON_IsObject(reg))
		return -EINVAL;
	if (!cJSON_IsString(name) || !name_valid(name->valuestring)) {
		DS_LOG_ERR("registration: \"name\" must be 1-64 characters of A-Z a-z 0-9 . _ -");
		return -EINVAL;
	}
	eng = part(reg, "engine");
	rem = part(reg, "remote");
	if (!eng || !rem)
		return -EINVAL;
	c = ds_calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	rc = ds_policy_from_json(reg, &c->policy);
	if (rc < 0)
		goto fail;
	c->name = ds_strdup(name->valuestring);
	if (!c->name) {
		rc = -ENOMEM;
		goto fail;
	}
	failed = "engine";
	failed_part = eng;
	rc = ds_engine_open(eng, &c->engine);
	if (rc >= 0) {
		failed = "remote";
		failed_part = rem;
		rc = ds_remote_open(rem, c->name, device_id, &c->remote);
	}
	if (rc < 0) {
		DS_LOG_ERR("%s: %s '%s': %s", c->name, failed,
			   cJSON_GetObjectItemCaseSensitive(failed_part, "kind")->valuestring, ds_strerror(rc));
		goto fail;
	}
	*out = c;
	return 0;
fail:
	ds_collection_close(c);
	return rc;
}

void ds_collection_close(struct ds_collection *c)
{
	if (!c)
		return;
	if (c->transform && c->transform->ops->close)
		c->transform->ops->close(c->transform);
	if (c->remote && c->remote->ops->close)
		c->remote->ops->close(c->remote);
	if (c->engine && c->engine->ops->close)
		c->engine->ops->close(c->engine);
	ds_free(c->name);
	ds_free(c);
}
