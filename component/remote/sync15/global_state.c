/*
 * The account's global state on its storage node: meta/global and crypto/keys, brought to Ready
 * the way application-services does (AS sync15/src/client/state.rs; sync15.md §4):
 *
 *   info/configuration (404 -> defaults) -> info/collections -> meta/global -> crypto/keys
 *
 *  - meta/global 404, storageVersion missing or below 5, crypto/keys 404: fresh start;
 *  - storageVersion above 5: never write anything, tell the person to upgrade;
 *  - fresh start = DELETE <endpoint>, then PUT a new meta/global listing every known engine
 *    (other clients disable engines a meta/global does not list, bug 1479929) and new random
 *    crypto/keys under kSync, both with X-If-Unmodified-Since: 0 so that of two devices
 *    creating the user at once exactly one wins (the other gets 412 and reads the winner's);
 *  - loop guard: a second fresh start in one setup is a race with another client (SetupRace);
 *  - the state is kept in memory only (it holds keys) and reused while the info/collections
 *    timestamps of meta and crypto equal the cached ones exactly (AS is_same_timestamp), so an
 *    unchanged account costs one request.
 */
#define DS_LOG_TAG "sync15"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "ds_port.h"
#include "remote/sync15/ds_sync15.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

/* AS sync15/src/client/state.rs DEFAULT_ENGINES. */
const struct ds_sync15_engine_def ds_sync15_default_engines[] = {
	{ "passwords", 1 }, { "clients", 1 }, { "addons", 1 },      { "addresses", 1 },
	{ "bookmarks", 2 }, { "creditcards", 1 }, { "forms", 1 },   { "history", 1 },
	{ "prefs", 2 },     { "tabs", 1 },        { NULL, 0 },
};

#define SETUP_MAX_ROUNDS 4

void ds_sync15_global_clear(struct ds_sync15_global *g)
{
	cJSON_Delete(g->meta);
	ds_sync15_keyring_clear(&g->keys);
	memset(g, 0, sizeof(*g));
}

int ds_sync15_new_syncid(char out[DS_SYNC15_SYNCID_LEN + 1])
{
	uint8_t raw[9];
	int rc = ds_random(raw, sizeof(raw));

	if (rc < 0)
		return rc;
	rc = ds_base64url_encode(raw, sizeof(raw), out, DS_SYNC15_SYNCID_LEN + 1);
	return rc == DS_SYNC15_SYNCID_LEN ? 0 : -EIO;
}

/* ---- meta/global as data ------------------------------------------------------------------ */

/* engines.<name> = {"version": version, "syncID": <new>}; false when out of memory. */
static bool add_engine(cJSON *engines, const char *name, int version)
{
	char id[DS_SYNC15_SYNCID_LEN + 1];
	cJSON *e;

	if (ds_sync15_new_syncid(id) < 0)
		return false;
	e = cJSON_CreateObject();
	if (!e || !cJSON_AddNumberToObject(e, "version", version) ||
	    !cJSON_AddStringToObject(e, "syncID", id) || !cJSON_AddItemToObject(engines, name, e)) {
		cJSON_Delete(e);
		return false;
	}
	return true;
}

cJSON *ds_sync15_meta_new(const char *extra_engine, int extra_version)
{
	char id[DS_SYNC15_SYNCID_LEN + 1];
	cJSON *m = cJSON_CreateObject(), *engines;

	if (!m || ds_sync15_new_syncid(id) < 0 || !cJSON_AddStringToObject(m, "syncID", id) ||
	    !cJSON_AddNumberToObject(m, "storageVersion", DS_SYNC15_STORAGE_VERSION) ||
	    !(engines = cJSON_AddObjectToObject(m, "engines")) || !cJSON_AddArrayToObject(m, "declined"))
		goto fail;
	for (const struct ds_sync15_engine_def *d = ds_sync15_default_engines; d->name; d++) {
		int v = extra_engine && strcmp(extra_engine, d->name) == 0 && extra_version > 0 ?
				extra_version : d->version;
		if (!add_engine(engines, d->name, v))
			goto fail;
	}
	if (extra_engine && !cJSON_GetObjectItemCaseSensitive(engines, extra_engine) &&
	    !add_engine(engines, extra_engine, extra_version > 0 ? extra_version : 1))
		goto fail;
	return m;
fail:
	cJSON_Delete(m);
	return NULL;
}

const cJSON *ds_sync15_meta_engine(const cJSON *meta, const char *name)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(meta, "engines"), name);

	return cJSON_IsObject(e) ? e : NULL;
}

static int declined_index(const cJSON *meta, const char *name)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(meta, "declined"), *it;
	int i = 0;

	if (!cJSON_IsArray(d))
		return -1;
	cJSON_ArrayForEach(it, d) {
		if (cJSON_IsString(it) && strcmp(it->valuestring, name) == 0)
			return i;
		i++;
	}
	return -1;
}

bool ds_sync15_meta_declined(const cJSON *meta, const char *name)
{
	return declined_index(meta, name) >= 0;
}

int ds_sync15_meta_fixup(cJSON *meta, const char *name, int version, bool enable)
{
	cJSON *engines = cJSON_GetObjectItemCaseSensitive(meta, "engines");
	cJSON *declined = cJSON_GetObjectItemCaseSensitive(meta, "declined");
	cJSON *e;
	const char *sid;
	int changed = 0, i;

	if (!cJSON_IsObject(meta))
		return -EINVAL;
	/* Lookups take the first member of a name; a server's JSON may repeat one. Every copy
	 * goes with the unusable first, or what is added here would stay hidden behind another. */
	if (!cJSON_IsObject(engines)) {
		while (cJSON_GetObjectItemCaseSensitive(meta, "engines"))
			cJSON_DeleteItemFromObjectCaseSensitive(meta, "engines");
		if (!(engines = cJSON_AddObjectToObject(meta, "engines")))
			return -ENOMEM;
		changed = 1;
	}
	e = cJSON_GetObjectItemCaseSensitive(engines, name);
	i = declined_index(meta, name);
	/* An engine listed in both is enabled (DOCS storageformat5: engines wins). */
	if (i >= 0 && (enable || cJSON_IsObject(e))) {
		cJSON_DeleteItemFromArray(declined, i);
		changed = 1;
		i = -1;
	}
	if (i >= 0)
		return changed; /* declined, and nobody here asked to enable it */
	if (!cJSON_IsObject(e)) {
		while (cJSON_GetObjectItemCaseSensitive(engines, name))
			cJSON_DeleteItemFromObjectCaseSensitive(engines, name);
		return add_engine(engines, name, version > 0 ? version : 1) ? 1 : -ENOMEM;
	}
	sid = ds_sync15_json_str(e, "syncID");
	if (!sid || !*sid) {
		char id[DS_SYNC15_SYNCID_LEN + 1];
		if (ds_sync15_new_syncid(id) < 0)
			return -EIO;
		cJSON_DeleteItemFromObjectCaseSensitive(e, "syncID");
		if (!cJSON_AddStringToObject(e, "syncID", id))
			return -ENOMEM;
		changed = 1;
	}
	if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(e, "version"))) {
		cJSON_DeleteItemFromObjectCaseSensitive(e, "version");
		if (!cJSON_AddNumberToObject(e, "version", version > 0 ? version : 1))
			return -ENOMEM;
		changed = 1;
	}
	return changed;
}

/* ---- requests ----------------------------------------------------------------------------- */

/* GET storage/<path>: 1 and the BSO, 0 when absent (404), or an errno. */
static int get_bso(struct ds_sync15_client *c, const char *path, struct ds_sync15_bso *b,
		   int64_t *last_modified)
{
	struct ds_http_response resp;
	cJSON *o = NULL;
	int rc = ds_sync15_request(c, "GET", path, -1, NULL, 0, &resp);

	memset(b, 0, sizeof(*b));
	if (rc < 0)
		return rc;
	if (resp.status == 404) {
		rc = 0;
	} else if (resp.status == 200) {
		o = cJSON_Parse(resp.body ? resp.body : "");
		rc = ds_sync15_bso_from_json(o, b);
		if (rc == 0) {
			rc = 1;
			*last_modified = ds_sync15_last_modified(&resp);
		} else if (rc == -EPROTO) {
			ds_sync15_client_set_error(c, "%s: malformed record", path);
		}
	} else {
		ds_sync15_client_set_error(c, "%s: unexpected answer %d", path, resp.status);
		rc = -EPROTO;
	}
	cJSON_Delete(o);
	ds_http_response_free(&resp);
	return rc;
}

/* PUT a BSO with X-If-Unmodified-Since: -ESTALE on 412. */
static int put_bso(struct ds_sync15_client *c, const char *path, const char *id,
		   const char *payload, int64_t xius_ms, int64_t *modified_ms)
{
	struct ds_http_response resp;
	char *body = ds_sync15_bso_to_json(id, payload, NULL, 0);
	int rc;

	if (!body)
		return -ENOMEM;
	rc = ds_sync15_request(c, "PUT", path, xius_ms, body, strlen(body), &resp);
	ds_memzero(body, strlen(body));
	ds_free(body);
	if (rc < 0)
		return rc;
	if (resp.status == 412) {
		rc = -ESTALE;
	} else if (resp.status == 200 || resp.status == 201 || resp.status == 204) {
		*modified_ms = ds_sync15_last_modified(&resp);
		if (*modified_ms < 0 && resp.body)
			ds_sync15_ts_parse(resp.body, modified_ms);
	} else {
		ds_sync15_client_set_error(c, "writing %s: the server answered %d", path, resp.status);
		rc = resp.status == 400 && ds_sync15_weave_code(&resp) == 16 ? -EPROTONOSUPPORT : -EPROTO;
	}
	ds_http_response_free(&resp);
	return rc;
}

static int put_meta(struct ds_sync15_client *c, const cJSON *meta, int64_t xius_ms,
		    int64_t *modified_ms)
{
	char *s = cJSON_PrintUnformatted(meta);
	int rc;

	if (!s)
		return -ENOMEM;
	rc = put_bso(c, "storage/meta/global", "global", s, xius_ms, modified_ms);
	cJSON_free(s);
	return rc;
}

static int fresh_start(struct ds_sync15_client *c, const struct ds_sync15_setup *s,
		       const struct ds_sync15_keybundle *sync_kb)
{
	struct ds_http_response resp;
	struct ds_sync15_keyring kr;
	cJSON *meta = NULL;
	char *payload = NULL;
	int64_t ms;
	int rc;

	DS_LOG_INF("fresh start: wiping the account's storage and writing a new setup");
	rc = ds_sync15_request(c, "DELETE", "", -1, NULL, 0, &resp);
	if (rc < 0)
		return rc;
	if (resp.status != 200 && resp.status != 204 && resp.status != 404) {
		ds_sync15_client_set_error(c, "wiping the account's storage: the server answered %d",
					   resp.status);
		ds_http_response_free(&resp);
		return -EPROTO;
	}
	ds_http_response_free(&resp);
	meta = ds_sync15_meta_new(s->collection, s->engine_version);
	if (!meta)
		return -ENOMEM;
	rc = put_meta(c, meta, 0, &ms);
	cJSON_Delete(meta);
	if (rc < 0)
		return rc;
	rc = ds_sync15_keyring_new_random(&kr);
	if (rc == 0)
		rc = ds_sync15_keyring_encrypt(sync_kb, &kr, &payload);
	ds_sync15_keyring_clear(&kr);
	if (rc == 0)
		rc = put_bso(c, "storage/crypto/keys", "keys", payload, 0, &ms);
	ds_free(payload);
	return rc;
}

/* ---- the state machine -------------------------------------------------------------------- */

enum step { STEP_READY, STEP_FRESH, STEP_AGAIN };

static int read_meta(struct ds_sync15_client *c, struct ds_sync15_global *g,
		     const struct ds_sync15_setup *s, enum step *next)
{
	struct ds_sync15_bso b;
	int64_t lm = -1;
	const cJSON *sv;
	int rc = get_bso(c, "storage/meta/global", &b, &lm);

	*next = STEP_FRESH;
	if (rc <= 0)
		return rc;
	g->meta = cJSON_Parse(b.payload);
	g->meta_modified_ms = b.modified_ms;
	ds_sync15_bso_clear(&b);
	sv = cJSON_GetObjectItemCaseSensitive(g->meta, "storageVersion");
	if (!cJSON_IsObject(g->meta) || !cJSON_IsNumber(sv) || sv->valuedouble < DS_SYNC15_STORAGE_VERSION) {
		DS_LOG_INF("meta/global is unusable or older than storage version 5");
		return 0;
	}
	if (sv->valuedouble > DS_SYNC15_STORAGE_VERSION) {
		ds_sync15_client_set_error(c, "the account's Sync data uses storage version %d, newer "
					      "than this client knows (5): upgrade datasync; nothing "
					      "was written", sv->valueint);
		return -EPROTONOSUPPORT;
	}
	*next = STEP_READY;
	if (ds_sync15_meta_declined(g->meta, s->collection) && !s->enable &&
	    !ds_sync15_meta_engine(g->meta, s->collection))
		return 0; /* the caller reports the declined collection */
	rc = ds_sync15_meta_fixup(g->meta, s->collection, s->engine_version, s->enable);
	if (rc <= 0)
		return rc;
	if (!s->may_write) {
		ds_sync15_client_set_error(c, "%s is not set up in meta/global and this device only "
					      "reads it", s->collection);
		return -ENOENT;
	}
	/* fixup_meta_global: written back over exactly the version we read. */
	rc = put_meta(c, g->meta, g->meta_modified_ms, &g->meta_modified_ms);
	if (rc == -ESTALE) {
		*next = STEP_AGAIN;
		return 0;
	}
	return rc;
}

static int read_keys(struct ds_sync15_client *c, struct ds_sync15_global *g,
		     const struct ds_sync15_keybundle *sync_kb, enum step *next)
{
	struct ds_sync15_bso b;
	int64_t lm = -1;
	int rc = get_bso(c, "storage/crypto/keys", &b, &lm);

	*next = STEP_FRESH;
	if (rc <= 0)
		return rc;
	*next = STEP_READY;
	g->keys_modified_ms = b.modified_ms;
	rc = ds_sync15_keyring_decrypt(sync_kb, b.payload, &g->keys);
	ds_sync15_bso_clear(&b);
	if (rc == -EBADMSG || rc == -EILSEQ) {
		/* Never a fresh start here: that would wipe what other devices can still read. */
		ds_sync15_client_set_error(c, "crypto/keys cannot be decrypted with this account's "
					      "key (the account's keys changed?): sign in again");
		return -EBADMSG;
	}
	return rc;
}

static int64_t info_ts(const cJSON *info, const char *name)
{
	int64_t ms;

	return ds_sync15_ts_from_json(cJSON_GetObjectItemCaseSensitive(info, name), &ms) == 0 ? ms : -1;
}

int ds_sync15_global_setup(struct ds_sync15_client *c, struct ds_sync15_global *g,
			   const struct ds_sync15_setup *s, const uint8_t ksync[64], cJSON **info)
{
	struct ds_sync15_keybundle sync_kb;
	int fresh = 0, rc;

	*info = NULL;
	ds_sync15_keybundle_from_ksync(ksync, &sync_kb);
	for (int round = 0;; round++) {
		enum step next = STEP_READY;

		cJSON_Delete(*info);
		*info = NULL;
		if (round >= SETUP_MAX_ROUNDS) {
			ds_sync15_client_set_error(c, "the account's setup kept changing under us "
						      "(another client is setting it up); try later");
			rc = -EAGAIN;
			goto fail;
		}
		rc = ds_sync15_get_info_collections(c, info);
		if (rc < 0)
			goto fail;
		if (ds_sync15_client_take_reassigned(c) ||
		    strcmp(g->endpoint, ds_sync15_client_endpoint(c)) != 0)
			ds_sync15_global_clear(g);
		/* Unchanged, and it already knows this collection: the cached state stands. */
		if (g->ready && info_ts(*info, "meta") == g->meta_modified_ms &&
		    info_ts(*info, "crypto") == g->keys_modified_ms &&
		    (ds_sync15_meta_engine(g->meta, s->collection) ?
			     !(s->enable && ds_sync15_meta_declined(g->meta, s->collection)) :
			     (!s->enable && ds_sync15_meta_declined(g->meta, s->collection))))
			break;
		ds_sync15_global_clear(g);
		rc = ds_sync15_get_limits(c, &g->limits);
		if (rc == 0)
			rc = read_meta(c, g, s, &next);
		if (rc == 0 && next == STEP_READY)
			rc = read_keys(c, g, &sync_kb, &next);
		if (rc < 0)
			goto fail;
		if (next == STEP_AGAIN)
			continue;
		if (next == STEP_FRESH) {
			if (!s->may_write) {
				ds_sync15_client_set_error(c, "the account has no usable Sync setup and "
							      "this device only reads it");
				rc = -ENOENT;
				goto fail;
			}
			/* Loop guard (AS SetupRace): one fresh start per setup. */
			if (fresh++) {
				ds_sync15_client_set_error(c, "setup race: the account needed a second "
							      "fresh start in one run; try later");
				rc = -EAGAIN;
				goto fail;
			}
			rc = fresh_start(c, s, &sync_kb);
			if (rc == -ESTALE) {
				rc = 0; /* another device created the user first: read its setup */
				DS_LOG_INF("another device set the account up first");
			}
			if (rc < 0)
				goto fail;
			continue;
		}
		g->ready = true;
		snprintf(g->endpoint, sizeof(g->endpoint), "%s", ds_sync15_client_endpoint(c));
		break;
	}
	ds_sync15_keybundle_wipe(&sync_kb);
	return 0;
fail:
	ds_sync15_keybundle_wipe(&sync_kb);
	ds_sync15_global_clear(g);
	cJSON_Delete(*info);
	*info = NULL;
	return rc;
}

bool ds_sync15_keys_refetch_due(const struct ds_sync15_global *g, int64_t now)
{
	int64_t last = g->last_hmac_refetch_mono_ms;

	return !last || now - last >= (int64_t)CONFIG_DS_REMOTE_SYNC15_HMAC_REFETCH_S * 1000;
}

int ds_sync15_global_refetch_keys(struct ds_sync15_client *c, struct ds_sync15_global *g,
				  const uint8_t ksync[64])
{
	struct ds_sync15_keybundle sync_kb;
	struct ds_sync15_keyring old = g->keys;
	int64_t now = ds_port_mono_ms();
	enum step next;
	int rc;

	if (!ds_sync15_keys_refetch_due(g, now))
		return 0;
	g->last_hmac_refetch_mono_ms = now ? now : 1;
	memset(&g->keys, 0, sizeof(g->keys));
	ds_sync15_keybundle_from_ksync(ksync, &sync_kb);
	rc = read_keys(c, g, &sync_kb, &next);
	ds_sync15_keybundle_wipe(&sync_kb);
	if (rc == 0 && next != STEP_READY) {
		ds_sync15_client_set_error(c, "crypto/keys disappeared from the server");
		rc = -ESTALE;
	}
	if (rc < 0) {
		ds_sync15_keyring_clear(&g->keys);
		g->keys = old;
		return rc;
	}
	rc = ds_sync15_keyring_equal(&old, &g->keys) ? 0 : 1;
	ds_sync15_keyring_clear(&old);
	DS_LOG_INF("crypto/keys re-read after an HMAC failure: %s", rc ? "new keys" : "unchanged");
	return rc;
}
