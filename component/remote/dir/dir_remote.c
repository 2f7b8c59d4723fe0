/*
 * The dir remote's ds_remote_ops: a folder shared by devices, one append-only log of immutable
 * batch files per collection.
 *
 * The precondition of ds_remote_ops.upload ("remote unchanged since cursor") is the file system's
 * own exclusivity: a writer at cursor N publishes batch N+1 with link(), which fails with EEXIST
 * when any other writer (another process, another device on the shared folder) took N+1 first.
 * Without hard links (FAT) the batch is published as a directory by rename(), just as exclusive
 * (ds_dir_fs_publish); the two forms exclude each other too, so devices need not agree on one.
 * Nothing is visible under log/ before it is complete and synced, so readers never need a lock.
 */
#define DS_LOG_TAG "dir"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "ds_port.h"
#include "remote/dir/dir_priv.h"
#include "remote/dir/ds_remote_dir.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#define BATCH_CAP ((size_t)CONFIG_DS_REMOTE_DIR_MAX_BATCH_KB * 1024)
#define BATCH_FILE_CAP (BATCH_CAP + 64)
#define EPOCH_FILE_MAX 64
#define HEAD_FILE_MAX 64

struct dir_remote {
	struct ds_remote base;
	char *root;
	char *collection;
	char *device_id;
	char dev_tag[17]; /* names our own temporary files, so we only ever clean up ours */
	bool encrypted;
	struct ds_dir_secret sec;
	struct ds_dir_coll coll;
	char *cdir, *logdir, *tmpdir;
};

static struct dir_remote *dir_of(struct ds_remote *r)
{
	return DS_CONTAINER_OF(r, struct dir_remote, base);
}

/* Cursor = sequence number of the last batch read, in decimal; "" = 0 = nothing read. */
static int cursor_parse(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!s)
		s = "";
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= DS_DIR_SEQ_DIGITS) {
			DS_LOG_ERR("'%s' is not a cursor of the dir remote", s);
			return -EINVAL;
		}
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static void cursor_format(uint64_t v, char out[DS_CURSOR_MAX])
{
	if (v)
		snprintf(out, DS_CURSOR_MAX, "%llu", (unsigned long long)v);
	else
		out[0] = '\0';
}

static char *log_path(const struct dir_remote *d, uint64_t seq)
{
	return ds_dir_path("%s/%016llu", d->logdir, (unsigned long long)seq);
}

static int log_exists(const struct dir_remote *d, uint64_t seq)
{
	char *p = log_path(d, seq);
	int rc;

	if (!p)
		return -ENOMEM;
	rc = ds_dir_fs_exists(p);
	ds_free(p);
	return rc;
}

static int tmp_name(const struct dir_remote *d, const char *dir, char **out)
{
	uint8_t rnd[8];
	char hex[17];
	int rc = ds_random(rnd, sizeof(rnd));

	if (rc)
		return rc;
	ds_hex_encode(rnd, sizeof(rnd), hex, sizeof(hex));
	*out = ds_dir_path("%s/.tmp-%s-%s", dir, d->dev_tag, hex);
	return *out ? 0 : -ENOMEM;
}

/* The head file is a hint written after each batch; a lost race only makes it lag. */
static uint64_t head_read(const struct dir_remote *d)
{
	char *p = ds_dir_path("%s/head", d->cdir);
	uint8_t *buf = NULL;
	uint64_t v = 0;
	size_t len;

	if (p && ds_dir_fs_read(p, HEAD_FILE_MAX, &buf, &len) == 0) {
		while (len && (buf[len - 1] == '\n'))
			buf[--len] = '\0';
		if (cursor_parse((const char *)buf, &v))
			v = 0;
	}
	ds_free(buf);
	ds_free(p);
	return v;
}

static void head_write(const struct dir_remote *d, uint64_t seq)
{
	char *p = ds_dir_path("%s/head", d->cdir);
	char *tmp = NULL;
	char text[32];

	snprintf(text, sizeof(text), "%llu\n", (unsigned long long)seq);
	if (p && tmp_name(d, d->tmpdir, &tmp) == 0)
		ds_dir_fs_replace(tmp, p, text, strlen(text));
	ds_free(tmp);
	ds_free(p);
}

/* Newest batch: probe forward from the hint, so the cost is the batches written since. */
static int latest_seq(const struct dir_remote *d, uint64_t *out)
{
	uint64_t s = head_read(d);
	int rc;

	if (s) {
		rc = log_exists(d, s);
		if (rc < 0)
			return rc;
		if (!rc)
			s = 0; /* hint from a damaged log: fetch reports the damage */
	}
	for (;;) {
		rc = log_exists(d, s + 1);
		if (rc < 0)
			return rc;
		if (!rc)
			break;
		s++;
	}
	*out = s;
	return 0;
}

static int coll_epoch_read(const char *path, char *out)
{
	uint8_t *buf, raw[DS_DIR_COLL_EPOCH_LEN];
	size_t len;
	int rc = ds_dir_fs_read(path, EPOCH_FILE_MAX, &buf, &len);

	if (rc)
		return rc == -EFBIG ? -EILSEQ : rc;
	while (len && buf[len - 1] == '\n')
		len--;
	if (len != 2 * DS_DIR_COLL_EPOCH_LEN ||
	    ds_hex_decode((const char *)buf, len, raw, sizeof(raw)) != (int)sizeof(raw)) {
		DS_LOG_ERR("%s is malformed", path);
		rc = -EILSEQ;
	} else {
		memcpy(out, buf, len);
		out[len] = '\0';
	}
	ds_free(buf);
	return rc;
}

/* Create the collection's folders and its epoch (exclusively, like the header). */
static int coll_ensure(const struct dir_remote *d, char epoch[2 * DS_DIR_COLL_EPOCH_LEN + 1])
{
	char *path = ds_dir_path("%s/epoch", d->cdir), *tmp = NULL;
	uint8_t raw[DS_DIR_COLL_EPOCH_LEN];
	char text[2 * DS_DIR_COLL_EPOCH_LEN + 2];
	int rc;

	if (!path)
		return -ENOMEM;
	rc = coll_epoch_read(path, epoch);
	if (rc != -ENOENT)
		goto out;
	rc = ds_dir_fs_mkdir(d->cdir);
	if (!rc)
		rc = ds_dir_fs_mkdir(d->logdir);
	if (!rc)
		rc = ds_dir_fs_mkdir(d->tmpdir);
	if (!rc)
		rc = ds_random(raw, sizeof(raw));
	if (!rc)
		rc = tmp_name(d, d->tmpdir, &tmp);
	if (rc)
		goto fail;
	ds_hex_encode(raw, sizeof(raw), text, sizeof(text));
	strcat(text, "\n");
	rc = ds_dir_fs_write_new(tmp, text, strlen(text));
	if (!rc)
		rc = ds_dir_fs_publish(tmp, path);
	if (rc == -EEXIST)
		rc = 0; /* another device created the collection at the same time: take its epoch */
	if (!rc)
		rc = ds_dir_fs_sync_dir(d->root);
	if (!rc)
		rc = coll_epoch_read(path, epoch);
fail:
	if (rc)
		DS_LOG_ERR("cannot create collection %s in %s: %s", d->collection, d->root,
			   ds_dir_fs_why(rc));
out:
	ds_free(tmp);
	ds_free(path);
	return rc;
}

/* The header must be the one our key belongs to. */
static int header_check(const struct dir_remote *d, const struct ds_dir_header *h)
{
	uint8_t check[32];
	int rc;

	if (h->encrypted != d->encrypted) {
		DS_LOG_ERR("remote folder %s is %s now; collection %s was enrolled %s", d->root,
			   h->encrypted ? "encrypted" : "cleartext", d->collection,
			   d->encrypted ? "encrypted" : "cleartext");
		return -EINVAL;
	}
	if (!d->encrypted)
		return 0;
	rc = ds_dir_key_check(d->sec.master, check);
	if (!rc && ds_ct_memcmp(check, h->key_check, sizeof(check)) != 0) {
		DS_LOG_ERR("remote folder %s has another key than the one collection %s was enrolled "
			   "with; register the collection again",
			   d->root, d->collection);
		rc = -EACCES;
	}
	return rc;
}

/* Rewrite a lost header with our folder's KDF parameters and key check, under a new epoch. */
static int header_recreate(const struct dir_remote *d)
{
	struct ds_dir_header h;
	uint8_t epoch[DS_DIR_FOLDER_EPOCH_LEN];
	int rc;

	memset(&h, 0, sizeof(h));
	h.encrypted = d->encrypted;
	rc = ds_random(epoch, sizeof(epoch));
	if (rc)
		return rc;
	ds_hex_encode(epoch, sizeof(epoch), h.epoch, sizeof(h.epoch));
	if (d->encrypted) {
		h.iterations = d->sec.iterations;
		memcpy(h.salt, d->sec.salt, sizeof(h.salt));
		rc = ds_dir_key_check(d->sec.master, h.key_check);
		if (rc)
			return rc;
	}
	rc = ds_dir_header_create(d->root, &h, d->dev_tag);
	if (!rc)
		DS_LOG_WRN("remote folder %s had no header: wrote a new one (new epoch)", d->root);
	return rc == -EEXIST ? 0 : rc;
}

static int root_check(const struct dir_remote *d)
{
	int rc = ds_dir_fs_check_root(d->root);

	if (rc == -ENOENT)
		DS_LOG_WRN("remote folder %s is not available", d->root);
	else if (rc)
		DS_LOG_ERR("remote folder %s: %s", d->root, ds_dir_fs_why(rc));
	return rc;
}

/*
 * The remote's identity: folder epoch + collection epoch. *present is false when the folder has
 * no header (wiped, or a fresh card): the epoch is then "".
 */
static int identity(struct dir_remote *d, bool recreate, char epoch[DS_CURSOR_MAX], bool *present)
{
	char cep[2 * DS_DIR_COLL_EPOCH_LEN + 1];
	struct ds_dir_header h;
	int rc;

	epoch[0] = '\0';
	*present = false;
	rc = ds_dir_header_read(d->root, &h);
	if (rc == -ENOENT && recreate) {
		rc = header_recreate(d);
		if (!rc)
			rc = ds_dir_header_read(d->root, &h);
	}
	if (rc == -ENOENT)
		return 0;
	if (!rc)
		rc = header_check(d, &h);
	if (!rc)
		rc = coll_ensure(d, cep);
	if (rc)
		return rc;
	snprintf(epoch, DS_CURSOR_MAX, "%s-%s", h.epoch, cep);
	*present = true;
	return 0;
}

static int dir_prepare(struct ds_remote *r, struct ds_remote_info *info)
{
	struct dir_remote *d = dir_of(r);
	uint64_t latest = 0;
	bool present = false;
	int rc;

	memset(info, 0, sizeof(*info));
	info->max_batch = CONFIG_DS_REMOTE_DIR_MAX_BATCH;
	rc = root_check(d);
	if (!rc)
		rc = identity(d, false, info->epoch, &present);
	if (rc || !present)
		return rc;
	rc = latest_seq(d, &latest);
	if (rc)
		return rc;
	cursor_format(latest, info->latest);
	/* Leftovers of our own crashed writes; other devices' files are theirs to clean. */
	{
		char prefix[sizeof(d->dev_tag) + 8];

		snprintf(prefix, sizeof(prefix), ".tmp-%s", d->dev_tag);
		ds_dir_fs_clean_stale(d->tmpdir, prefix, ds_port_wall_ms(), DS_DIR_STALE_TMP_MS);
		ds_dir_fs_clean_stale(d->root, prefix, ds_port_wall_ms(), DS_DIR_STALE_TMP_MS);
		/* Header files of an enrolment that crashed: after a day nobody can be writing them. */
		ds_dir_fs_clean_stale(d->root, ".tmp-enroll-", ds_port_wall_ms(), DS_DIR_STALE_TMP_MS);
	}
	return 0;
}

/* A missing batch with a later one present is damage, never a reason to skip silently. */
static int gap_check(const struct dir_remote *d, uint64_t missing)
{
	uint64_t h = head_read(d);
	int rc = log_exists(d, missing + 1);

	if (rc == 0 && h > missing + 1)
		rc = log_exists(d, h);
	if (rc > 0) {
		DS_LOG_ERR("batch %llu of collection %s is missing while later batches exist",
			   (unsigned long long)missing, d->collection);
		return -EBADMSG;
	}
	return rc;
}

static int dir_fetch(struct ds_remote *r, const char *cursor, ds_record_cb cb, void *user_data,
		     struct ds_fetch_page *page)
{
	struct dir_remote *d = dir_of(r);
	size_t records = 0;
	uint64_t c, seq;
	int rc;

	memset(page, 0, sizeof(*page));
	rc = cursor_parse(cursor, &c);
	if (!rc)
		rc = root_check(d);
	if (rc)
		return rc;
	for (seq = c + 1; seq <= DS_DIR_SEQ_MAX; seq++) {
		char *p = log_path(d, seq);
		uint8_t *file;
		size_t len, n;

		if (records >= CONFIG_DS_REMOTE_DIR_PAGE_RECORDS) {
			rc = log_exists(d, seq);
			if (rc < 0) {
				ds_free(p);
				return rc;
			}
			page->more = rc > 0;
			ds_free(p);
			break;
		}
		if (!p)
			return -ENOMEM;
		rc = ds_dir_fs_read(p, BATCH_FILE_CAP, &file, &len);
		ds_free(p);
		if (rc == -ENOENT) {
			rc = gap_check(d, seq);
			if (!rc && seq == c + 1 && c && (rc = log_exists(d, c)) == 0) {
				DS_LOG_ERR("cursor %llu is past the end of collection %s's log "
					   "(folder restored from an older copy?)",
					   (unsigned long long)c, d->collection);
				return -ESTALE;
			}
			if (rc < 0)
				return rc;
			break;
		}
		if (rc == -EFBIG) {
			DS_LOG_ERR("batch %llu of collection %s is larger than any batch we write",
				   (unsigned long long)seq, d->collection);
			return -EBADMSG;
		}
		if (rc == -EISDIR) {
			/* not a file, nor a directory holding one (an emptied or planted name) */
			DS_LOG_ERR("batch %llu of collection %s is not a batch file",
				   (unsigned long long)seq, d->collection);
			return -EBADMSG;
		}
		if (rc)
			return rc;
		rc = ds_dir_batch_read(&d->coll, seq, file, len, cb, user_data, &n);
		ds_free(file);
		if (rc)
			return rc;
		records += n;
	}
	cursor_format(seq - 1, page->next_cursor);
	return 0;
}

static int dir_upload(struct ds_remote *r, const char *cursor, const struct ds_record *recs,
		      size_t n, struct ds_upload_result *res)
{
	struct dir_remote *d = dir_of(r);
	char epoch[DS_CURSOR_MAX];
	char *tmp = NULL, *final = NULL;
	uint8_t *file = NULL;
	size_t len = 0;
	int64_t now = ds_port_wall_ms();
	bool present;
	uint64_t c;
	int rc;

	memset(res, 0, sizeof(*res));
	rc = cursor_parse(cursor, &c);
	if (rc)
		return rc;
	if (n > CONFIG_DS_REMOTE_DIR_MAX_BATCH || c >= DS_DIR_SEQ_MAX) {
		DS_LOG_ERR("upload of %zu records is above the dir remote's batch of %d", n,
			   CONFIG_DS_REMOTE_DIR_MAX_BATCH);
		return -E2BIG;
	}
	for (size_t i = 0; i < n; i++) {
		if (!recs[i].id || !*recs[i].id || (!recs[i].deleted && !recs[i].payload)) {
			DS_LOG_ERR("upload to %s: record %zu has no id or no payload", d->collection, i);
			return -EINVAL;
		}
	}
	rc = root_check(d);
	if (rc)
		return rc;
	/* Only a writer that starts from nothing may give a wiped folder a new header. */
	rc = identity(d, c == 0, epoch, &present);
	if (rc)
		return rc;
	if (!present)
		return -ESTALE;
	if (c) {
		rc = log_exists(d, c);
		if (rc == 0)
			rc = -ESTALE; /* our cursor is not in this log: the collection was replaced */
		if (rc < 0)
			return rc;
	}
	rc = log_exists(d, c + 1);
	if (rc)
		return rc > 0 ? -ESTALE : rc;
	if (n) {
		rc = ds_dir_batch_seal(&d->coll, c + 1, d->device_id, now, recs, n, BATCH_CAP, &file,
				       &len);
		if (!rc)
			rc = tmp_name(d, d->tmpdir, &tmp);
		final = log_path(d, c + 1);
		if (!rc && !final)
			rc = -ENOMEM;
		if (!rc)
			rc = ds_dir_fs_write_new(tmp, file, len);
		if (!rc)
			rc = ds_dir_fs_publish(tmp, final);
		if (rc == -EEXIST) {
			DS_LOG_DBG("another writer took batch %llu of %s first", (unsigned long long)(c + 1),
				   d->collection);
			rc = -ESTALE;
		} else if (rc) {
			DS_LOG_ERR("cannot write batch %llu of %s to %s: %s", (unsigned long long)(c + 1),
				   d->collection, d->root, ds_dir_fs_why(rc));
		}
		if (file)
			ds_memzero(file, len);
		ds_free(file);
		ds_free(tmp);
		ds_free(final);
		if (rc)
			return rc;
		head_write(d, c + 1);
		c++;
	}
	cursor_format(c, res->new_cursor);
	res->modified_ms = now;
	res->accepted = n;
	return 0;
}

static int64_t dir_backoff_s(struct ds_remote *r)
{
	DS_UNUSED(r);
	return 0; /* a folder never asks us to wait */
}

static void dir_close(struct ds_remote *r)
{
	struct dir_remote *d;

	if (!r)
		return;
	d = dir_of(r);
	ds_memzero(&d->sec, sizeof(d->sec));
	ds_dir_coll_wipe(&d->coll);
	ds_free(d->root);
	ds_free(d->collection);
	ds_free(d->device_id);
	ds_free(d->cdir);
	ds_free(d->logdir);
	ds_free(d->tmpdir);
	ds_free(d);
}

static const struct ds_remote_ops dir_ops = {
	.kind = "dir",
	.prepare = dir_prepare,
	.fetch = dir_fetch,
	.upload = dir_upload,
	.backoff_s = dir_backoff_s,
	.close = dir_close,
};

int ds_remote_dir_open(const cJSON *cfg, const char *collection, const char *device_id,
		       struct ds_remote **out)
{
	const cJSON *root = cJSON_GetObjectItemCaseSensitive(cfg, "path");
	const cJSON *secret = cJSON_GetObjectItemCaseSensitive(cfg, "secret");
	const cJSON *enc = cJSON_GetObjectItemCaseSensitive(cfg, "encrypt");
	uint8_t tag[DS_SHA256_LEN];
	struct dir_remote *d;
	int rc;

	*out = NULL;
	if (!cJSON_IsString(root) || !*root->valuestring || !collection || !*collection ||
	    !device_id || !*device_id || (enc && !cJSON_IsBool(enc))) {
		DS_LOG_ERR("dir remote needs a \"path\", a collection and a device id");
		return -EINVAL;
	}
	d = ds_calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->base.ops = &dir_ops;
	d->base.priv = d;
	d->encrypted = !cJSON_IsFalse(enc);
	d->root = ds_strdup(root->valuestring);
	d->collection = ds_strdup(collection);
	d->device_id = ds_strdup(device_id);
	rc = -ENOMEM;
	if (!d->root || !d->collection || !d->device_id)
		goto fail;
	if (d->encrypted) {
		if (!cJSON_IsString(secret)) {
			DS_LOG_ERR("collection %s is not enrolled with its folder key", collection);
			rc = -EINVAL;
			goto fail;
		}
		rc = ds_dir_secret_load(secret->valuestring, &d->sec);
		if (rc) {
			DS_LOG_ERR("the folder key of collection %s is not in secret storage (%s); "
				   "register it again",
				   collection, ds_strerror(rc));
			rc = rc == -ENOENT ? -EACCES : rc;
			goto fail;
		}
	}
	rc = ds_dir_coll_init(&d->coll, d->collection, d->encrypted, d->sec.master);
	if (rc) {
		if (rc == -EINVAL)
			DS_LOG_ERR("collection name '%s' cannot name a folder", collection);
		goto fail;
	}
	rc = ds_sha256(device_id, strlen(device_id), tag);
	if (rc)
		goto fail;
	ds_hex_encode(tag, 8, d->dev_tag, sizeof(d->dev_tag));
	d->cdir = ds_dir_path("%s/%s", d->root, d->coll.dirname);
	d->logdir = ds_dir_path("%s/log", d->cdir ? d->cdir : "");
	d->tmpdir = ds_dir_path("%s/tmp", d->cdir ? d->cdir : "");
	rc = -ENOMEM;
	if (!d->cdir || !d->logdir || !d->tmpdir)
		goto fail;
	d->coll.name = d->collection;
	*out = &d->base;
	return 0;
fail:
	dir_close(&d->base);
	return rc;
}
