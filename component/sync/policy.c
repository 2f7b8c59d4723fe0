/* Policy names as they appear in registrations and on the command line. */
#define DS_LOG_TAG "sync"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_SYNC
#include "core/ds_core.h"
#include "sync/ds_sync.h"
#include "sync/sync_priv.h"

#include <cjson/cJSON.h>
#include <string.h>

static const char *const dir_names[] = {
	[DS_DIR_TWO_WAY] = "two-way",
	[DS_DIR_IMPORT_ONLY] = "import-only",
	[DS_DIR_EXPORT_ONLY] = "export-only",
};

static const char *const conflict_names[] = {
	[DS_CONFLICT_SERVER_WINS] = "server-wins",
	[DS_CONFLICT_CLIENT_WINS] = "client-wins",
	[DS_CONFLICT_NEWEST_WINS] = "newest-wins",
	[DS_CONFLICT_MERGE] = "merge",
};

const char *ds_direction_name(enum ds_direction d)
{
	return (unsigned)d < DS_ARRAY_SIZE(dir_names) ? dir_names[d] : "?";
}

int ds_direction_parse(const char *s, enum ds_direction *out)
{
	for (size_t i = 0; s && i < DS_ARRAY_SIZE(dir_names); i++) {
		if (strcmp(s, dir_names[i]) == 0) {
			*out = (enum ds_direction)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *ds_conflict_name(enum ds_conflict c)
{
	return (unsigned)c < DS_ARRAY_SIZE(conflict_names) ? conflict_names[c] : "?";
}

int ds_conflict_parse(const char *s, enum ds_conflict *out)
{
	for (size_t i = 0; s && i < DS_ARRAY_SIZE(conflict_names); i++) {
		if (strcmp(s, conflict_names[i]) == 0) {
			*out = (enum ds_conflict)i;
			return 0;
		}
	}
	return -EINVAL;
}

int ds_policy_from_json(const cJSON *reg, struct ds_policy *out)
{
	const cJSON *dir = cJSON_GetObjectItemCaseSensitive(reg, "direction");
	const cJSON *con = cJSON_GetObjectItemCaseSensitive(reg, "conflict");
	const cJSON *ret = cJSON_GetObjectItemCaseSensitive(reg, "max_retries");
	struct ds_policy p = {
		.direction = DS_DIR_TWO_WAY,
		.conflict = DS_CONFLICT_SERVER_WINS,
		.max_retries = DS_SYNC_DEFAULT_RETRIES,
	};

	if (dir && !cJSON_IsNull(dir) &&
	    (!cJSON_IsString(dir) || ds_direction_parse(dir->valuestring, &p.direction) < 0)) {
		DS_LOG_ERR("registration: \"direction\" must be two-way, import-only or export-only");
		return -EINVAL;
	}
	if (con && !cJSON_IsNull(con) &&
	    (!cJSON_IsString(con) || ds_conflict_parse(con->valuestring, &p.conflict) < 0)) {
		DS_LOG_ERR("registration: \"conflict\" must be server-wins, client-wins, newest-wins "
			   "or merge");
		return -EINVAL;
	}
	if (ret && !cJSON_IsNull(ret)) {
		if (!cJSON_IsNumber(ret) || ret->valuedouble < 0 || ret->valuedouble > 100 ||
		    ret->valuedouble != (double)(int)ret->valuedouble) {
			DS_LOG_ERR("registration: \"max_retries\" must be an integer from 0 to 100");
			return -EINVAL;
		}
		p.max_retries = (unsigned)ret->valueint;
	}
	*out = p;
	return 0;
}
