/*
 * Client records and commands (sync15.md §7; AS sync15/src/clients_engine/record.rs,
 * device_type.rs; DESK engines/clients.sys.mjs). Pure: tested alone and fuzzed.
 */
#include "core/ds_core.h"
#include "engine/clients/ds_clients.h"
#include "remote/sync15/ds_sync15.h"

#include <cjson/cJSON.h>
#include <string.h>

const char *ds_clients_type(const char *wire)
{
	static const char *const KNOWN[] = { "desktop", "mobile", "tablet", "vr", "tv", NULL };

	if (!wire)
		return NULL;
	if (!strcmp(wire, "phone"))
		return "mobile";
	for (size_t i = 0; KNOWN[i]; i++)
		if (!strcmp(wire, KNOWN[i]))
			return KNOWN[i];
	return NULL;
}

static bool add_str_or_null(cJSON *o, const char *key, const cJSON *v)
{
	return cJSON_IsString(v) ? cJSON_AddStringToObject(o, key, v->valuestring) != NULL
				 : cJSON_AddNullToObject(o, key) != NULL;
}

int ds_clients_record_parse(const char *payload, cJSON **out)
{
	static const char *const OPTIONAL[] = { "fxaDeviceId", "os", "application", "version", NULL };
	cJSON *in = payload ? cJSON_Parse(payload) : NULL, *o = NULL;
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(in, "id");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(in, "name");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(in, "type");
	const char *t;
	int rc = -EBADMSG;

	*out = NULL;
	if (!cJSON_IsObject(in) || !cJSON_IsString(id) || (name && !cJSON_IsString(name) && !cJSON_IsNull(name)))
		goto out;
	rc = -ENOMEM;
	t = ds_clients_type(cJSON_IsString(type) ? type->valuestring : NULL);
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "id", id->valuestring) ||
	    !cJSON_AddStringToObject(o, "name", cJSON_IsString(name) ? name->valuestring : "") ||
	    !(t ? cJSON_AddStringToObject(o, "type", t) : cJSON_AddNullToObject(o, "type")))
		goto out;
	for (size_t i = 0; OPTIONAL[i]; i++)
		if (!add_str_or_null(o, OPTIONAL[i], cJSON_GetObjectItemCaseSensitive(in, OPTIONAL[i])))
			goto out;
	*out = o;
	o = NULL;
	rc = 0;
out:
	cJSON_Delete(o);
	cJSON_Delete(in);
	return rc;
}

int ds_clients_own_record(const struct ds_sync15_device *d, const cJSON *commands, char **out)
{
	char *base = ds_sync15_client_record(d), *text;
	cJSON *o = base ? cJSON_Parse(base) : NULL, *cmds;

	cJSON_free(base);
	*out = NULL;
	if (!o)
		return -ENOMEM;
	cmds = commands ? cJSON_Duplicate(commands, true) : cJSON_CreateArray();
	if (!cmds || !cJSON_ReplaceItemInObjectCaseSensitive(o, "commands", cmds)) {
		cJSON_Delete(cmds);
		cJSON_Delete(o);
		return -ENOMEM;
	}
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	/* Records are freed with ds_free: copy out of cJSON's allocator. */
	*out = text ? ds_strdup(text) : NULL;
	cJSON_free(text);
	return *out ? 0 : -ENOMEM;
}

/* args[i] is a string (NULL args or a non-string: false). */
static bool arg_str(const cJSON *args, int i)
{
	return cJSON_IsString(cJSON_GetArrayItem(args, i));
}

enum ds_clients_cmd ds_clients_command_kind(const cJSON *cmd)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(cmd, "command");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(cmd, "args");
	int n;

	if (!cJSON_IsObject(cmd) || !cJSON_IsString(c) || (args && !cJSON_IsArray(args) && !cJSON_IsNull(args)))
		return DS_CLIENTS_CMD_UNKNOWN;
	n = cJSON_IsArray(args) ? cJSON_GetArraySize(args) : 0;
	if (!strcmp(c->valuestring, "wipeEngine") && n >= 1 && arg_str(args, 0))
		return DS_CLIENTS_CMD_WIPE_ENGINE;
	if (!strcmp(c->valuestring, "resetEngine") && n >= 1 && arg_str(args, 0))
		return DS_CLIENTS_CMD_RESET_ENGINE;
	if (!strcmp(c->valuestring, "resetAll"))
		return DS_CLIENTS_CMD_RESET_ALL;
	if (!strcmp(c->valuestring, "logout"))
		return DS_CLIENTS_CMD_LOGOUT;
	/* Legacy send-tab (DESK clients.js): [uri, senderClientId, title]. */
	if (!strcmp(c->valuestring, "displayURI") && n >= 1 && arg_str(args, 0))
		return DS_CLIENTS_CMD_DISPLAY_URI;
	return DS_CLIENTS_CMD_UNKNOWN;
}

void ds_clients_stale(size_t n, const char *const *ids, const char *const *names,
		      const char *const *fxa, const int64_t *modified, const char *own_name,
		      int64_t now_ms, bool *hidden)
{
	for (size_t i = 0; i < n; i++) {
		hidden[i] = false;
		for (size_t j = 0; j < n && !hidden[i]; j++) {
			/* The newer of two wins; equal times: the larger id, so the choice is stable. */
			bool newer = modified[j] > modified[i] ||
				     (modified[j] == modified[i] && strcmp(ids[j], ids[i]) > 0);

			if (j == i || !newer)
				continue;
			if (fxa[i] && fxa[j] && *fxa[i] && !strcmp(fxa[i], fxa[j]))
				hidden[i] = true;
			else if (names[i] && names[j] && !strcmp(names[i], names[j]) &&
				 now_ms - modified[i] > DS_CLIENTS_STALE_MS)
				hidden[i] = true;
		}
		if (!hidden[i] && own_name && names[i] && !strcmp(names[i], own_name) &&
		    now_ms - modified[i] > DS_CLIENTS_STALE_MS)
			hidden[i] = true; /* an old install of this very device */
	}
}
