/*
 * The folder header (datasync-dir.json) and the folder key: creation by the first device,
 * enrolment of the others, and the sealed secret that carries the key between enrolment and
 * every later open. Passphrases are used once, here, and never stored.
 */
#define DS_LOG_TAG "dir"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "ds_port.h"
#include "remote/dir/dir_priv.h"
#include "remote/dir/ds_remote_dir.h"

#include <cjson/cJSON.h>
#include <string.h>

#define HEADER_MAX 4096
#define KEY_FILE_MAX 256
#define SECRET_MAGIC "DSK1"
#define SECRET_LEN (4 + 4 + DS_DIR_SALT_LEN + DS_DIR_KEY_LEN)
/* A header is not trusted to make us spin: refuse absurd work factors. */
#define ITERATIONS_MAX 100000000u

static const char key_check_label[] = "datasync-dir key check";

int ds_dir_key_check(const uint8_t master[DS_DIR_KEY_LEN], uint8_t out[32])
{
	return ds_hmac_sha256(master, DS_DIR_KEY_LEN, key_check_label, sizeof(key_check_label) - 1,
			      out);
}

static int hex_field(const cJSON *o, const char *name, void *out, size_t len)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsString(it) || strlen(it->valuestring) != 2 * len)
		return -EILSEQ;
	return ds_hex_decode(it->valuestring, 2 * len, out, len) == (int)len ? 0 : -EILSEQ;
}

static int header_parse(const char *text, size_t len, struct ds_dir_header *h)
{
	cJSON *o = cJSON_ParseWithLength(text, len);
	const cJSON *it, *kdf;
	uint8_t epoch[DS_DIR_FOLDER_EPOCH_LEN];
	int rc = -EILSEQ;

	memset(h, 0, sizeof(*h));
	if (!cJSON_IsObject(o))
		goto out;
	it = cJSON_GetObjectItemCaseSensitive(o, "format");
	if (!cJSON_IsString(it) || strcmp(it->valuestring, "datasync-dir") != 0)
		goto out;
	it = cJSON_GetObjectItemCaseSensitive(o, "version");
	if (!cJSON_IsNumber(it) || it->valuedouble < 1)
		goto out;
	if (it->valuedouble > DS_DIR_FORMAT_VERSION) {
		rc = -ENOTSUP;
		goto out;
	}
	if (hex_field(o, "epoch", epoch, sizeof(epoch)))
		goto out;
	ds_hex_encode(epoch, sizeof(epoch), h->epoch, sizeof(h->epoch));
	it = cJSON_GetObjectItemCaseSensitive(o, "encrypted");
	if (!cJSON_IsBool(it))
		goto out;
	h->encrypted = cJSON_IsTrue(it);
	if (h->encrypted) {
		kdf = cJSON_GetObjectItemCaseSensitive(o, "kdf");
		it = cJSON_GetObjectItemCaseSensitive(kdf, "name");
		if (!cJSON_IsString(it) || strcmp(it->valuestring, "pbkdf2-sha256") != 0)
			goto out;
		it = cJSON_GetObjectItemCaseSensitive(kdf, "iterations");
		if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > ITERATIONS_MAX ||
		    it->valuedouble != (double)(uint32_t)it->valuedouble)
			goto out;
		h->iterations = (uint32_t)it->valuedouble;
		if (hex_field(kdf, "salt", h->salt, sizeof(h->salt)) ||
		    hex_field(o, "key_check", h->key_check, sizeof(h->key_check)))
			goto out;
	}
	rc = 0;
out:
	cJSON_Delete(o);
	return rc;
}

int ds_dir_header_read(const char *root, struct ds_dir_header *h)
{
	char *path = ds_dir_path("%s/%s", root, DS_DIR_HEADER_NAME);
	uint8_t *text;
	size_t len;
	int rc;

	if (!path)
		return -ENOMEM;
	rc = ds_dir_fs_read(path, HEADER_MAX, &text, &len);
	if (rc == -EFBIG)
		rc = -EILSEQ;
	if (!rc) {
		rc = header_parse((const char *)text, len, h);
		ds_free(text);
	}
	if (rc == -EILSEQ)
		DS_LOG_ERR("%s is malformed: not a datasync folder header", path);
	else if (rc == -ENOTSUP)
		DS_LOG_ERR("%s was written by a newer datasync (format above %d)", path,
			   DS_DIR_FORMAT_VERSION);
	ds_free(path);
	return rc;
}

static cJSON *header_json(const struct ds_dir_header *h)
{
	char salt[2 * DS_DIR_SALT_LEN + 1], check[65];
	cJSON *o = cJSON_CreateObject(), *kdf;
	bool ok;

	if (!o)
		return NULL;
	ok = cJSON_AddStringToObject(o, "format", "datasync-dir") &&
	     cJSON_AddNumberToObject(o, "version", DS_DIR_FORMAT_VERSION) &&
	     cJSON_AddStringToObject(o, "epoch", h->epoch) &&
	     cJSON_AddBoolToObject(o, "encrypted", h->encrypted);
	if (ok && h->encrypted) {
		ds_hex_encode(h->salt, sizeof(h->salt), salt, sizeof(salt));
		ds_hex_encode(h->key_check, sizeof(h->key_check), check, sizeof(check));
		kdf = cJSON_AddObjectToObject(o, "kdf");
		ok = kdf && cJSON_AddStringToObject(kdf, "name", "pbkdf2-sha256") &&
		     cJSON_AddNumberToObject(kdf, "iterations", h->iterations) &&
		     cJSON_AddStringToObject(kdf, "salt", salt) &&
		     cJSON_AddStringToObject(o, "key_check", check);
	}
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int ds_dir_header_create(const char *root, const struct ds_dir_header *h, const char *tmp_tag)
{
	uint8_t rnd[8];
	char rhex[17];
	char *text = NULL, *tmp = NULL, *final = NULL;
	cJSON *o = header_json(h);
	int rc = -ENOMEM;

	if (!o)
		return -ENOMEM;
	text = cJSON_Print(o);
	rc = ds_random(rnd, sizeof(rnd));
	if (rc)
		goto out;
	ds_hex_encode(rnd, sizeof(rnd), rhex, sizeof(rhex));
	tmp = ds_dir_path("%s/.tmp-%s-%s", root, tmp_tag, rhex);
	final = ds_dir_path("%s/%s", root, DS_DIR_HEADER_NAME);
	rc = -ENOMEM;
	if (!text || !tmp || !final)
		goto out;
	rc = ds_dir_fs_write_new(tmp, text, strlen(text));
	if (!rc)
		rc = ds_dir_fs_publish(tmp, final);
	if (rc && rc != -EEXIST)
		DS_LOG_ERR("cannot create %s: %s", final, ds_dir_fs_why(rc));
out:
	if (text)
		cJSON_free(text);
	cJSON_Delete(o);
	ds_free(tmp);
	ds_free(final);
	return rc;
}

int ds_dir_secret_name(const char *root, const char *collection, char *out, size_t cap)
{
	uint8_t h[DS_SHA256_LEN];
	char *s = ds_dir_path("%s\n%s", root, collection);
	int rc;

	if (!s)
		return -ENOMEM;
	rc = ds_sha256(s, strlen(s), h);
	ds_free(s);
	if (rc)
		return rc;
	if (cap < 4 + 32 + 1)
		return -ENOSPC;
	memcpy(out, "dir-", 4);
	return ds_hex_encode(h, 16, out + 4, cap - 4) < 0 ? -ENOSPC : 0;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static int secret_store(const char *name, const struct ds_dir_secret *s)
{
	uint8_t blob[SECRET_LEN];
	int rc;

	memcpy(blob, SECRET_MAGIC, 4);
	put_be32(blob + 4, s->iterations);
	memcpy(blob + 8, s->salt, DS_DIR_SALT_LEN);
	memcpy(blob + 8 + DS_DIR_SALT_LEN, s->master, DS_DIR_KEY_LEN);
	rc = ds_port_secret_seal(name, blob, sizeof(blob));
	ds_memzero(blob, sizeof(blob));
	return rc;
}

int ds_dir_secret_load(const char *name, struct ds_dir_secret *s)
{
	uint8_t blob[SECRET_LEN + 1];
	int n = ds_port_secret_unseal(name, blob, sizeof(blob));
	int rc = 0;

	if (n < 0)
		return n == -ENOSPC ? -EILSEQ : n;
	if (n != SECRET_LEN || memcmp(blob, SECRET_MAGIC, 4) != 0) {
		rc = -EILSEQ;
	} else {
		s->iterations = (uint32_t)blob[4] << 24 | (uint32_t)blob[5] << 16 |
				(uint32_t)blob[6] << 8 | blob[7];
		memcpy(s->salt, blob + 8, DS_DIR_SALT_LEN);
		memcpy(s->master, blob + 8 + DS_DIR_SALT_LEN, DS_DIR_KEY_LEN);
	}
	ds_memzero(blob, sizeof(blob));
	return rc;
}

/* A key file holds 32 raw bytes or 64 hex digits (optionally followed by a newline). */
static int key_file_read(const char *path, uint8_t key[DS_DIR_KEY_LEN])
{
	uint8_t *buf;
	size_t len;
	int rc = ds_dir_fs_read(path, KEY_FILE_MAX, &buf, &len);

	if (rc) {
		DS_LOG_ERR("cannot read key file %s: %s", path, ds_strerror(rc));
		return rc == -EFBIG ? -EINVAL : rc;
	}
	if (len == DS_DIR_KEY_LEN) {
		memcpy(key, buf, DS_DIR_KEY_LEN);
	} else {
		while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
			len--;
		if (len != 2 * DS_DIR_KEY_LEN ||
		    ds_hex_decode((const char *)buf, len, key, DS_DIR_KEY_LEN) != DS_DIR_KEY_LEN)
			rc = -EINVAL;
	}
	ds_memzero(buf, len);
	ds_free(buf);
	if (rc)
		DS_LOG_ERR("key file %s must hold 32 raw bytes or 64 hex digits", path);
	return rc;
}

static const char *cfg_string(const cJSON *cfg, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(cfg, name);

	return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* The key the user supplied: passphrase stretched with the header's salt, or a key file. */
static int user_key(const char *pass, const char *key_file, const struct ds_dir_header *h,
		    uint8_t master[DS_DIR_KEY_LEN])
{
	if (key_file)
		return key_file_read(key_file, master);
	return ds_pbkdf2_sha256(pass, strlen(pass), h->salt, sizeof(h->salt), h->iterations,
				master, DS_DIR_KEY_LEN);
}

static int new_header(struct ds_dir_header *h, bool encrypted)
{
	uint8_t epoch[DS_DIR_FOLDER_EPOCH_LEN];
	int rc;

	memset(h, 0, sizeof(*h));
	h->encrypted = encrypted;
	rc = ds_random(epoch, sizeof(epoch));
	if (!rc && encrypted)
		rc = ds_random(h->salt, sizeof(h->salt));
	if (rc)
		return rc;
	ds_hex_encode(epoch, sizeof(epoch), h->epoch, sizeof(h->epoch));
	h->iterations = CONFIG_DS_CRYPTO_PBKDF2_ITERATIONS;
	return 0;
}

/* Read the folder's header, or create it as the first device; fills *master when encrypted. */
static int open_folder(const char *root, bool encrypted, const char *pass, const char *key_file,
		       struct ds_dir_header *h, uint8_t master[DS_DIR_KEY_LEN])
{
	uint8_t check[32];
	int rc = ds_dir_fs_check_root(root);

	if (rc) {
		DS_LOG_ERR("remote folder %s is not available", root);
		return rc;
	}
	rc = ds_dir_header_read(root, h);
	if (rc == -ENOENT) {
		rc = new_header(h, encrypted);
		if (!rc && encrypted) {
			rc = user_key(pass, key_file, h, master);
			if (!rc)
				rc = ds_dir_key_check(master, h->key_check);
		}
		if (!rc)
			rc = ds_dir_header_create(root, h, "enroll");
		if (rc != -EEXIST) {
			if (!rc)
				DS_LOG_INF("created %s folder %s", encrypted ? "encrypted" : "cleartext",
					   root);
			return rc;
		}
		/* Another device created it first: take its header like any later device. */
		rc = ds_dir_header_read(root, h);
	}
	if (rc)
		return rc;
	if (h->encrypted != encrypted) {
		DS_LOG_ERR("remote folder %s is %s; the registration asks for %s", root,
			   h->encrypted ? "encrypted" : "cleartext",
			   encrypted ? "encryption" : "\"encrypt\": false");
		return -EINVAL;
	}
	if (!encrypted)
		return 0;
	rc = user_key(pass, key_file, h, master);
	if (!rc)
		rc = ds_dir_key_check(master, check);
	if (!rc && ds_ct_memcmp(check, h->key_check, sizeof(check)) != 0) {
		DS_LOG_ERR("wrong passphrase or key for folder %s", root);
		rc = -EACCES;
	}
	return rc;
}

static void wipe_string_item(cJSON *cfg, const char *name)
{
	cJSON *it = cJSON_GetObjectItemCaseSensitive(cfg, name);

	if (cJSON_IsString(it))
		ds_memzero(it->valuestring, strlen(it->valuestring));
	cJSON_DeleteItemFromObjectCaseSensitive(cfg, name);
}

int ds_remote_dir_enroll(cJSON *cfg, const char *collection)
{
	const char *root = cfg_string(cfg, "path");
	const char *pass = cfg_string(cfg, "passphrase");
	const char *key_file = cfg_string(cfg, "key_file");
	const cJSON *enc = cJSON_GetObjectItemCaseSensitive(cfg, "encrypt");
	bool encrypted = !cJSON_IsFalse(enc);
	struct ds_dir_secret sec;
	struct ds_dir_header h;
	char name[64];
	cJSON *ref;
	int rc;

	if (!root || !*root || !collection || !*collection) {
		DS_LOG_ERR("dir remote needs a \"path\" and a collection name");
		return -EINVAL;
	}
	if (enc && !cJSON_IsBool(enc)) {
		DS_LOG_ERR("dir remote: \"encrypt\" must be true or false");
		return -EINVAL;
	}
	if (!encrypted && (pass || key_file)) {
		DS_LOG_ERR("dir remote: \"encrypt\": false excludes a passphrase or key_file");
		return -EINVAL;
	}
	if (encrypted && pass && key_file) {
		DS_LOG_ERR("dir remote: give a passphrase or a key_file, not both");
		return -EINVAL;
	}
	if (encrypted && !pass && !key_file) {
		/* Already enrolled (the registration is being stored again): keep the secret. */
		if (cfg_string(cfg, "secret"))
			return 0;
		DS_LOG_ERR("dir remote needs a \"passphrase\" or a \"key_file\" (or \"encrypt\": false)");
		return -EINVAL;
	}
	if (pass && !*pass) {
		DS_LOG_ERR("dir remote: the passphrase is empty");
		return -EINVAL;
	}
	if (!encrypted && !ds_dir_name_valid(collection)) {
		DS_LOG_ERR("collection name '%s' cannot name a folder: use [A-Za-z0-9_-], 1-64 chars",
			   collection);
		return -EINVAL;
	}

	memset(&sec, 0, sizeof(sec));
	rc = open_folder(root, encrypted, pass, key_file, &h, sec.master);
	if (rc || !encrypted)
		goto out;
	sec.iterations = h.iterations;
	memcpy(sec.salt, h.salt, sizeof(sec.salt));
	rc = ds_dir_secret_name(root, collection, name, sizeof(name));
	if (!rc)
		rc = secret_store(name, &sec);
	if (rc) {
		DS_LOG_ERR("cannot store the folder key of collection %s: %s", collection,
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
	wipe_string_item(cfg, "passphrase");
	DS_LOG_INF("collection %s enrolled with folder %s", collection, root);
out:
	ds_memzero(&sec, sizeof(sec));
	return rc;
}

int ds_remote_dir_forget(const cJSON *cfg, const char *collection)
{
	const char *secret = cfg_string(cfg, "secret");
	int rc;

	DS_UNUSED(collection);
	if (!secret)
		return 0; /* cleartext folder: nothing was sealed */
	if (strncmp(secret, "dir-", 4) != 0)
		return -EINVAL; /* not a name we gave out: never erase someone else's secret */
	rc = ds_port_secret_erase(secret);
	return rc == -ENOENT ? 0 : rc;
}
