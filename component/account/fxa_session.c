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
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define BLOB_VERSION 1

enum field_type {
	F_STR,     /* a string that must be there */
	F_OPT_STR, /* a string that may be missing (read as "") */
	F_HEX,     /* bytes as hex */
	F_BOOL,
};

/* The blob's fields of struct ds_fxa_session, in the order they are written. */
struct field {
	const char *key;
	unsigned char type;
	unsigned short off, size;
};

#define FIELD(name, type) \
	{ #name, type, offsetof(struct ds_fxa_session, name), sizeof(((struct ds_fxa_session *)0)->name) }
/* After "v" and before "skew_s". */
static const struct field fields[] = {
	FIELD(uid, F_STR),
	FIELD(email, F_STR),
	FIELD(session_token, F_HEX),
	FIELD(verified, F_BOOL),
	FIELD(verification_method, F_OPT_STR),
	FIELD(refresh_token, F_OPT_STR),
	FIELD(device_id, F_OPT_STR),
	FIELD(device_name, F_OPT_STR),
};
/* Last, with has_keys only. */
static const struct field key_fields[] = {
	FIELD(ksync, F_HEX),
	FIELD(kid, F_STR),
	FIELD(client_state, F_STR),
};
#undef FIELD

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

static bool add_fields(cJSON *o, const struct ds_fxa_session *s, const struct field *f, size_t n)
{
	bool ok = true;

	for (size_t i = 0; ok && i < n; i++) {
		const void *p = (const char *)s + f[i].off;

		if (f[i].type == F_HEX)
			ok = add_hex(o, f[i].key, p, f[i].size);
		else if (f[i].type == F_BOOL)
			ok = cJSON_AddBoolToObject(o, f[i].key, *(const bool *)p) != NULL;
		else
			ok = cJSON_AddStringToObject(o, f[i].key, p) != NULL;
	}
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
	ok = o && cJSON_AddNumberToObject(o, "v", BLOB_VERSION) && add_fields(o, s, fields, DS_ARRAY_SIZE(fields)) &&
	     cJSON_AddNumberToObject(o, "skew_s", (double)s->skew_s);
	if (ok && s->has_keys)
		ok = add_fields(o, s, key_fields, DS_ARRAY_SIZE(key_fields));
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

static bool get_str(const cJSON *v, char *out, size_t cap, bool required)
{
	if (!cJSON_IsString(v))
		return !required;
	if (strlen(v->valuestring) >= cap)
		return false;
	snprintf(out, cap, "%s", v->valuestring);
	return true;
}

static bool get_hex(const cJSON *v, uint8_t *out, size_t n)
{
	return cJSON_IsString(v) && strlen(v->valuestring) == 2 * n &&
	       ds_hex_decode(v->valuestring, 2 * n, out, n) == (int)n;
}

static bool get_fields(const cJSON *o, struct ds_fxa_session *s, const struct field *f, size_t n)
{
	bool ok = true;

	for (size_t i = 0; ok && i < n; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, f[i].key);
		void *p = (char *)s + f[i].off;

		if (f[i].type == F_HEX)
			ok = get_hex(v, p, f[i].size);
		else if (f[i].type == F_BOOL)
			*(bool *)p = cJSON_IsTrue(v);
		else
			ok = get_str(v, p, f[i].size, f[i].type == F_STR);
	}
	return ok;
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
	ok = cJSON_IsNumber(v) && v->valueint == BLOB_VERSION && get_fields(o, s, fields, DS_ARRAY_SIZE(fields));
	if (ok && cJSON_GetObjectItemCaseSensitive(o, "ksync")) {
		ok = get_fields(o, s, key_fields, DS_ARRAY_SIZE(key_fields));
		s->has_keys = ok;
	}
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
