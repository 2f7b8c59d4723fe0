/*
 * The device's own record in the Sync "clients" collection, written before any other
 * collection's records in a run (sync15.md: the clients collection comes first), so other
 * Firefoxes list this device among the account's devices ("Send tab to", the synced devices).
 *
 * One writer of our record: this file while no clients engine runs in the process; once the
 * clients engine (component/engine/clients/, docs/engine-clients.md) is in use it writes the
 * record itself, with the commands other devices left in it, and this writer stands down
 * (ds_sync15_client_engine_active). In a build with that engine, a run before it was opened
 * (a collection synced alone after a restart) only creates the record when the server has none
 * (X-If-Unmodified-Since: 0): a command waiting in it is never overwritten. Fields follow Firefox
 * desktop's ClientEngine._updateRecord / application-services clients_engine ClientRecord:
 * id, name, type, protocols ["1.5"], commands [], fxaDeviceId. The id is the FxA device id, so
 * the record and the account's device list name the same device (AS). TTL 180 days, refreshed
 * weekly (AS, DESK CLIENTS_TTL, CLIENTS_TTL_REFRESH), and again after a fresh start, a node move
 * or a wipe (the cached state is dropped then).
 */
#define DS_LOG_TAG "sync15"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "ds_port.h"
#include "remote/sync15/ds_sync15.h"

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define CLIENTS "clients"

static atomic_bool engine_active;

void ds_sync15_client_engine_active(void)
{
	atomic_store(&engine_active, true);
}

char *ds_sync15_client_record(const struct ds_sync15_device *d)
{
	cJSON *o = cJSON_CreateObject(), *protos = cJSON_CreateArray();
	char *s = NULL;

	if (!o || !protos)
		goto out;
	if (!cJSON_AddStringToObject(o, "id", d->id) || !cJSON_AddStringToObject(o, "name", d->name) ||
	    !cJSON_AddStringToObject(o, "type", d->type))
		goto out;
	if (!cJSON_AddItemToArray(protos, cJSON_CreateString("1.5")))
		goto out;
	cJSON_AddItemToObject(o, "protocols", protos);
	protos = NULL;
	if (!cJSON_AddArrayToObject(o, "commands") || !cJSON_AddStringToObject(o, "fxaDeviceId", d->id))
		goto out;
	s = cJSON_PrintUnformatted(o);
out:
	cJSON_Delete(protos);
	cJSON_Delete(o);
	return s;
}

static int put_record(struct ds_sync15_client *c, const struct ds_sync15_global *g,
		      const struct ds_sync15_device *d)
{
	struct ds_http_response resp;
	char *clear, *payload = NULL, *body = NULL, *id = NULL, *path = NULL;
	int rc;

	clear = ds_sync15_client_record(d);
	if (!clear)
		return -ENOMEM;
	rc = ds_sync15_encrypt(ds_sync15_keyring_get(&g->keys, CLIENTS), clear, strlen(clear), NULL,
			       &payload);
	cJSON_free(clear);
	if (rc < 0)
		return rc;
	body = ds_sync15_bso_to_json(d->id, payload, NULL, DS_SYNC15_CLIENT_TTL_S);
	id = ds_sync15_url_escape(d->id);
	path = id ? ds_asprintf("storage/" CLIENTS "/%s", id) : NULL;
	if (!body || !path) {
		rc = -ENOMEM;
		goto out;
	}
	rc = ds_sync15_request(c, "PUT", path, IS_ENABLED(CONFIG_DS_ENGINE_CLIENTS) ? 0 : -1, body,
			       strlen(body), &resp);
	if (rc < 0)
		goto out;
	if (IS_ENABLED(CONFIG_DS_ENGINE_CLIENTS) && resp.status == 412) {
		/* The record is there; the clients engine keeps it current with its commands. */
		DS_LOG_DBG("this device's client record exists; left to the clients engine");
	} else if (resp.status != 200 && resp.status != 201 && resp.status != 204) {
		ds_sync15_client_set_error(c, "writing this device's client record: the server "
					      "answered %d", resp.status);
		rc = -EPROTO;
	}
	ds_http_response_free(&resp);
out:
	ds_free(path);
	ds_free(id);
	ds_free(body);
	ds_free(payload);
	return rc;
}

int ds_sync15_client_put(struct ds_sync15_client *c, struct ds_sync15_global *g,
			 const struct ds_sync15_device *d)
{
	int64_t now = ds_port_mono_ms();
	int rc;

	if (!g->ready || !d->id[0])
		return -EINVAL;
	if (atomic_load(&engine_active))
		return 0;
	if (g->client_put_mono_ms && now - g->client_put_mono_ms < DS_SYNC15_CLIENT_REFRESH_MS)
		return 0;
	if (!ds_sync15_id_valid(d->id)) {
		DS_LOG_WRN("the device id is not a usable record id; no client record written");
		return -EINVAL;
	}
	if (!ds_sync15_meta_engine(g->meta, CLIENTS)) {
		/* Declined (or unknown) on this account: never write into a collection the
		 * person turned off. */
		g->client_put_mono_ms = now ? now : 1;
		return 1;
	}
	rc = put_record(c, g, d);
	if (rc < 0)
		return rc;
	DS_LOG_INF("this device's client record was written (\"%s\", %s)", d->name, d->type);
	g->client_put_mono_ms = now ? now : 1;
	return 0;
}
