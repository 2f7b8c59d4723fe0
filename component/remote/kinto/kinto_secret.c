/*
 * Enrolment of a Kinto collection: the password (Kinto accounts, HTTP Basic), a bearer token,
 * and the encryption key given in the registration are sealed through the port as one small
 * JSON blob, and the registration keeps only its name ("secret"), like the dir remote's folder
 * key. The key of an "account" collection is never stored: it is derived from the signed-in
 * Firefox Account's kSync at each open.
 */
#define DS_LOG_TAG "kinto"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "remote/kinto/ds_remote_kinto.h"
#include "remote/kinto/kinto_priv.h"
#include "ds_port.h"

#if IS_ENABLED(CONFIG_DS_ACCOUNT)
#include "account/ds_fxa.h"
#endif

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#define SECRET_PREFIX "kinto-"
#define KEY_INFO_PREFIX "datasync/kinto/v1/"

static const char *cfg_string(const cJSON *cfg, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void wipe_item(cJSON *cfg, const char *name)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, name);

	if (cJSON_IsString(v) && v->valuestring)
		ds_memzero(v->valuestring, strlen(v->valuestring));
	cJSON_DeleteItemFromObjectCaseSensitive(cfg, name);
}

static int secret_name(const cJSON *cfg, const char *collection, char *out, size_t cap)
{
	const char *url = cfg_string(cfg, "url"), *bucket = cfg_string(cfg, "bucket");
	const char *coll = cfg_string(cfg, "collection"), *user = cfg_string(cfg, "user");
	char *s = ds_asprintf("%s\n%s\n%s\n%s\n%s", url ? url : "", bucket ? bucket : "default",
			      coll ? coll : collection, user ? user : "", collection);
	uint8_t h[DS_SHA256_LEN];
	int rc;

	if (!s)
		return -ENOMEM;
	rc = ds_sha256(s, strlen(s), h);
	ds_free(s);
	if (rc)
		return rc;
	if (cap < sizeof(SECRET_PREFIX) + 32)
		return -ENOSPC;
	memcpy(out, SECRET_PREFIX, sizeof(SECRET_PREFIX) - 1);
	return ds_hex_encode(h, 16, out + sizeof(SECRET_PREFIX) - 1,
			     cap - (sizeof(SECRET_PREFIX) - 1)) < 0 ? -ENOSPC : 0;
}

int ds_remote_kinto_enroll(cJSON *cfg, const char *collection)
{
	const char *url = cfg_string(cfg, "url");
	const char *pass = cfg_string(cfg, "password"), *token = cfg_string(cfg, "token");
	const char *key = cfg_string(cfg, "key");
	const cJSON *enc = cJSON_GetObjectItemCaseSensitive(cfg, "encrypt");
	const char *mode = cJSON_IsString(enc) ? enc->valuestring : NULL;
	uint8_t raw[DS_KINTO_KEY_LEN];
	char name[64];
	cJSON *blob = NULL, *ref;
	char *text = NULL;
	int rc;

	if (!url || !collection || !*collection) {
		DS_LOG_ERR("kinto remote needs a \"url\" and a collection name");
		return -EINVAL;
	}
	if (enc && !cJSON_IsFalse(enc) && !(mode && (!strcmp(mode, "key") || !strcmp(mode, "account")))) {
		DS_LOG_ERR("kinto remote: \"encrypt\" is false, \"key\" or \"account\"");
		return -EINVAL;
	}
	if (key && !(mode && !strcmp(mode, "key"))) {
		DS_LOG_ERR("kinto remote: a \"key\" goes with \"encrypt\": \"key\"");
		return -EINVAL;
	}
	if (pass && token) {
		DS_LOG_ERR("kinto remote: give a password or a token, not both");
		return -EINVAL;
	}
	if (!pass && !token && !key) {
		if (cfg_string(cfg, "secret"))
			return 0; /* stored again after enrolment: keep the sealed secret */
		if (mode && !strcmp(mode, "key")) {
			DS_LOG_ERR("kinto remote: \"encrypt\": \"key\" needs the \"key\" (64 hex)");
			return -EINVAL;
		}
		return 0; /* anonymous access: nothing to seal */
	}
	if (pass && !cfg_string(cfg, "user")) {
		DS_LOG_ERR("kinto remote: a password goes with a \"user\"");
		return -EINVAL;
	}
	if (key && ds_hex_decode(key, strlen(key), raw, sizeof(raw)) != DS_KINTO_KEY_LEN) {
		ds_memzero(raw, sizeof(raw));
		DS_LOG_ERR("kinto remote: the key must be 32 bytes as 64 hex characters");
		return -EINVAL;
	}
	ds_memzero(raw, sizeof(raw));
	rc = secret_name(cfg, collection, name, sizeof(name));
	if (rc)
		return rc;
	blob = cJSON_CreateObject();
	rc = -ENOMEM;
	if (!blob || (pass && !cJSON_AddStringToObject(blob, "password", pass)) ||
	    (token && !cJSON_AddStringToObject(blob, "token", token)) ||
	    (key && !cJSON_AddStringToObject(blob, "key", key)))
		goto out;
	text = cJSON_PrintUnformatted(blob);
	if (!text)
		goto out;
	rc = ds_port_secret_seal(name, text, strlen(text));
	if (rc) {
		DS_LOG_ERR("cannot seal the credentials of collection %s: %s", collection,
			   ds_strerror(rc));
		goto out;
	}
	ref = cJSON_CreateString(name);
	if (!ref || (cJSON_GetObjectItemCaseSensitive(cfg, "secret") ?
			     !cJSON_ReplaceItemInObjectCaseSensitive(cfg, "secret", ref) :
			     !cJSON_AddItemToObject(cfg, "secret", ref))) {
		cJSON_Delete(ref);
		ds_port_secret_erase(name);
		rc = -ENOMEM;
		goto out;
	}
	wipe_item(cfg, "password");
	wipe_item(cfg, "token");
	wipe_item(cfg, "key");
	DS_LOG_INF("collection %s enrolled with Kinto at %s", collection, url);
out:
	if (text) {
		ds_memzero(text, strlen(text));
		cJSON_free(text);
	}
	if (blob) {
		for (cJSON *it = blob->child; it; it = it->next)
			if (it->valuestring)
				ds_memzero(it->valuestring, strlen(it->valuestring));
		cJSON_Delete(blob);
	}
	return rc;
}

int ds_remote_kinto_forget(const cJSON *cfg, const char *collection)
{
	const char *secret = cfg_string(cfg, "secret");
	char *state = ds_kinto_state_path(cfg, collection);
	int rc;

	/* The id map is not secret, but it is ours: it goes with the registration. */
	if (state) {
		static const char *const sfx[] = { "", "-wal", "-shm" };

		for (size_t i = 0; i < DS_ARRAY_SIZE(sfx); i++) {
			char *p = ds_asprintf("%s%s", state, sfx[i]);

			if (p)
				ds_port_file_unlink(p);
			ds_free(p);
		}
		ds_free(state);
	}
	if (!secret)
		return 0;
	if (strncmp(secret, SECRET_PREFIX, sizeof(SECRET_PREFIX) - 1) != 0)
		return -EINVAL; /* not a name we gave out: never erase someone else's secret */
	rc = ds_port_secret_erase(secret);
	return rc == -ENOENT ? 0 : rc;
}

static int copy_field(const cJSON *j, const char *name, char *out, size_t cap)
{
	const char *v = cfg_string(j, name);

	if (!v)
		return 0;
	if (strlen(v) >= cap)
		return -EMSGSIZE;
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

int ds_kinto_secrets_load(const char *name, struct ds_kinto_secrets *s)
{
	char *buf = ds_malloc(DS_PORT_SECRET_MAX + 1);
	cJSON *j = NULL;
	int n, rc;

	memset(s, 0, sizeof(*s));
	if (!buf)
		return -ENOMEM;
	n = ds_port_secret_unseal(name, buf, DS_PORT_SECRET_MAX);
	if (n < 0) {
		rc = n;
		goto out;
	}
	buf[n] = '\0';
	j = cJSON_ParseWithLength(buf, (size_t)n);
	rc = j ? 0 : -EILSEQ;
	if (rc == 0)
		rc = copy_field(j, "password", s->password, sizeof(s->password));
	if (rc == 0)
		rc = copy_field(j, "token", s->token, sizeof(s->token));
	const char *k = rc == 0 ? cfg_string(j, "key") : NULL;
	if (k) {
		if (ds_hex_decode(k, strlen(k), s->key.key, sizeof(s->key.key)) != DS_KINTO_KEY_LEN)
			rc = -EILSEQ;
		else
			rc = ds_kinto_key_finish(&s->key);
	}
out:
	if (j) {
		for (cJSON *it = j->child; it; it = it->next)
			if (it->valuestring)
				ds_memzero(it->valuestring, strlen(it->valuestring));
		cJSON_Delete(j);
	}
	ds_memzero(buf, DS_PORT_SECRET_MAX + 1);
	ds_free(buf);
	if (rc)
		ds_memzero(s, sizeof(*s));
	return rc;
}

int ds_kinto_account_key(const char *label, struct ds_kinto_key *out)
{
#if IS_ENABLED(CONFIG_DS_ACCOUNT)
	struct ds_fxa_session *s = ds_calloc(1, sizeof(*s));
	char *info = ds_asprintf(KEY_INFO_PREFIX "%s", label);
	int rc = -ENOMEM;

	memset(out, 0, sizeof(*out));
	if (!s || !info)
		goto out;
	rc = ds_fxa_session_unseal(s);
	if (rc == 0 && !s->has_keys)
		rc = -ENOKEY;
	if (rc == -ENOENT)
		rc = -ENOKEY;
	if (rc == 0)
		rc = ds_hkdf_sha256(NULL, 0, s->ksync, sizeof(s->ksync), info, strlen(info), out->key,
				    sizeof(out->key));
	if (rc == 0)
		rc = ds_kinto_key_finish(out);
out:
	if (s)
		ds_memzero(s, sizeof(*s));
	ds_free(s);
	ds_free(info);
	if (rc)
		ds_memzero(out, sizeof(*out));
	return rc;
#else
	DS_UNUSED(label);
	memset(out, 0, sizeof(*out));
	return -ENOTSUP;
#endif
}
