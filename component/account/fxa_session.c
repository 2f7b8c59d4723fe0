/*
 * fxa_session.c - the signed-in state sealed by the port as one JSON blob.
 *
 * What is kept is what a restart needs and no more (docs/accounts.md "Secrets"): uid, email,
 * the session token, the refresh token, kSync with its key id and X-Client-State, the device
 * id and name, the last clock skew. Never the password, never kB, never the pending key-fetch
 * material. Every buffer that held the blob is wiped.
 */
#include "account/ds_fxa.h"
#include "account/fxa_int.h"
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "ds_port.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#define BLOB_VERSION 1

void ds_fxa_session_wipe(struct ds_fxa_session *s)
{
	if (s)
		ds_memzero(s, sizeof(*s));
}

static bool add_hex(cJSON *o, const char *k, const uint8_t *b, size_t n)
{
	char hex[2 * DS_ACCOUNT_KSYNC_LEN + 1];
	bool ok = n <= DS_ACCOUNT_KSYNC_LEN && ds_hex_encode(b, n, hex, sizeof(hex)) >= 0 &&
		  cJSON_AddStringToObject(o, k, hex);

	ds_memzero(hex, sizeof(hex));
	return ok;
}

int ds_fxa_session_seal(const struct ds_fxa_session *s)
{
	cJSON *o;
	char *text = NULL;
	bool ok;
	int rc;

	if (!s || !s->has_session)
		return -EINVAL;
	o = cJSON_CreateObject();
	ok = o && cJSON_AddNumberToObject(o, "v", BLOB_VERSION) && cJSON_AddStringToObject(o, "uid", s->uid) &&
	     cJSON_AddStringToObject(o, "email", s->email) &&
	     add_hex(o, "session_token", s->session_token, sizeof(s->session_token)) &&
	     cJSON_AddBoolToObject(o, "verified", s->verified) &&
	     cJSON_AddStringToObject(o, "verification_method", s->verification_method) &&
	     cJSON_AddStringToObject(o, "refresh_token", s->refresh_token) &&
	     cJSON_AddStringToObject(o, "device_id", s->device_id) &&
	     cJSON_AddStringToObject(o, "device_name", s->device_name) &&
	     cJSON_AddNumberToObject(o, "skew_s", (double)s->skew_s);
	if (ok && s->has_keys)
		ok = add_hex(o, "ksync", s->ksync, sizeof(s->ksync)) && cJSON_AddStringToObject(o, "kid", s->kid) &&
		     cJSON_AddStringToObject(o, "client_state", s->client_state);
	if (ok)
		text = cJSON_PrintUnformatted(o);
	ds_fxa_json_wipe_delete(o);
	if (!text)
		return -ENOMEM;
	rc = ds_port_secret_seal(DS_FXA_SECRET_NAME, text, strlen(text));
	ds_memzero(text, strlen(text));
	cJSON_free(text);
	return rc;
}

static bool get_str(const cJSON *o, const char *k, char *out, size_t cap, bool required)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsString(v))
		return !required;
	if (strlen(v->valuestring) >= cap)
		return false;
	snprintf(out, cap, "%s", v->valuestring);
	return true;
}

static bool get_hex(const cJSON *o, const char *k, uint8_t *out, size_t n)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) && strlen(v->valuestring) == 2 * n &&
	       ds_hex_decode(v->valuestring, 2 * n, out, n) == (int)n;
}

int ds_fxa_session_unseal(struct ds_fxa_session *s)
{
	char *buf;
	cJSON *o = NULL;
	const cJSON *v, *sk;
	bool ok;
	int n;

	if (!s)
		return -EINVAL;
	ds_fxa_session_wipe(s);
	buf = ds_malloc(DS_PORT_SECRET_MAX + 1);
	if (!buf)
		return -ENOMEM;
	n = ds_port_secret_unseal(DS_FXA_SECRET_NAME, buf, DS_PORT_SECRET_MAX);
	if (n >= 0) {
		buf[n] = '\0';
		o = cJSON_Parse(buf);
		ds_memzero(buf, (size_t)n);
	}
	ds_free(buf);
	if (n < 0)
		return n;
	v = cJSON_GetObjectItemCaseSensitive(o, "v");
	ok = cJSON_IsNumber(v) && v->valueint == BLOB_VERSION && get_str(o, "uid", s->uid, sizeof(s->uid), true) &&
	     get_str(o, "email", s->email, sizeof(s->email), true) &&
	     get_hex(o, "session_token", s->session_token, sizeof(s->session_token)) &&
	     get_str(o, "verification_method", s->verification_method, sizeof(s->verification_method), false) &&
	     get_str(o, "refresh_token", s->refresh_token, sizeof(s->refresh_token), false) &&
	     get_str(o, "device_id", s->device_id, sizeof(s->device_id), false) &&
	     get_str(o, "device_name", s->device_name, sizeof(s->device_name), false);
	if (ok && cJSON_GetObjectItemCaseSensitive(o, "ksync")) {
		ok = get_hex(o, "ksync", s->ksync, sizeof(s->ksync)) && get_str(o, "kid", s->kid, sizeof(s->kid), true) &&
		     get_str(o, "client_state", s->client_state, sizeof(s->client_state), true);
		s->has_keys = ok;
	}
	s->verified = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "verified"));
	sk = cJSON_GetObjectItemCaseSensitive(o, "skew_s");
	/* written by us, but read back as any JSON number: only a whole one in range counts */
	s->skew_s = cJSON_IsNumber(sk) && sk->valuedouble > -1e12 && sk->valuedouble < 1e12 ?
			    (int64_t)sk->valuedouble : 0;
	s->has_session = ok;
	ds_fxa_json_wipe_delete(o);
	if (!ok) {
		ds_fxa_session_wipe(s);
		return -EBADMSG;
	}
	return 0;
}

int ds_fxa_session_erase(void)
{
	return ds_port_secret_erase(DS_FXA_SECRET_NAME);
}
