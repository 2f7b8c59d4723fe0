/*
 * kinto_files.c - files that belong to records, as Kinto attachments (kinto-attachment plugin,
 * kinto.md §5; docs/remote-kinto.md "Files").
 *
 * Upload: POST {record}/attachment as multipart/form-data, the body streamed from the file by
 * ds_http's body_read callback in blocks, so a large file is never held in memory. In an
 * encrypted collection the attachment is IV (12) || AES-256-GCM ciphertext || tag (16), AAD
 * "datasync-kinto-file-v1|<collection>|<record id>", encrypted block by block on the way out.
 *
 * Download: the record's attachment.location is fetched without credentials (it is a file
 * server's or CDN's URL, not Kinto's) into "<file>.dspart" through ds_http's body_write sink.
 * A cut leaves the part file; the next try asks for the rest with Range: bytes=<size>-. The
 * whole part must hash to attachment.hash (SHA-256 of the stored bytes, computed by the
 * server) before it is used; an encrypted one must also pass its tag, checked before the
 * plaintext is renamed into place.
 */
#define DS_LOG_TAG "kinto"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "net/ds_http.h"
#include "remote/kinto/kinto_priv.h"
#include "ds_port.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <mbedtls/gcm.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK 16384 /* a multiple of 16: mbedTLS 2.28's GCM wants whole blocks until the last */
#define FILE_AAD "datasync-kinto-file-v1|"
#define PART_EXT ".dspart"
#define TMP_EXT ".dstmp"

struct ds_kinto_files {
	char *field;
	char *dir;
};

int ds_kinto_files_config(const cJSON *cfg, struct ds_kinto_files **out)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(cfg, "files");
	const cJSON *field = cJSON_GetObjectItemCaseSensitive(f, "field");
	const cJSON *dir = cJSON_GetObjectItemCaseSensitive(f, "dir");
	struct ds_kinto_files *x;

	*out = NULL;
	if (!f || cJSON_IsNull(f))
		return 0;
	if (!cJSON_IsString(field) || !*field->valuestring || !cJSON_IsString(dir) ||
	    dir->valuestring[0] != '/') {
		DS_LOG_ERR("kinto remote: \"files\" is {\"field\": \"<member naming the file>\", "
			   "\"dir\": \"<absolute folder the names are relative to>\"}");
		return -EINVAL;
	}
	x = ds_calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->field = ds_strdup(field->valuestring);
	x->dir = ds_strdup(dir->valuestring);
	if (!x->field || !x->dir) {
		ds_kinto_files_free(x);
		return -ENOMEM;
	}
	*out = x;
	return 0;
}

void ds_kinto_files_free(struct ds_kinto_files *f)
{
	if (!f)
		return;
	ds_free(f->field);
	ds_free(f->dir);
	ds_free(f);
}

/* A relative name inside the folder: no "..", no empty or hidden components, no leading '/'. */
static bool name_ok(const char *n)
{
	const char *p = n;

	if (!*n || *n == '/' || n[strlen(n) - 1] == '/' || strlen(n) > 1024)
		return false;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);

		if (l == 0 || p[0] == '.')
			return false;
		for (size_t i = 0; i < l; i++)
			if ((unsigned char)p[i] < 0x20)
				return false;
		p += l;
		if (*p == '/')
			p++;
	}
	return true;
}

size_t ds_kinto_files_dir_len(const struct ds_kinto_files *f)
{
	return strlen(f->dir);
}

int ds_kinto_files_path(const struct ds_kinto_files *f, const char *payload, char **path)
{
	cJSON *j;
	const cJSON *v;
	int rc = 0;

	*path = NULL;
	if (!f || !payload)
		return 0;
	j = cJSON_Parse(payload);
	if (!j)
		return -EBADMSG;
	v = cJSON_GetObjectItemCaseSensitive(j, f->field);
	if (cJSON_IsString(v) && *v->valuestring) {
		if (!name_ok(v->valuestring)) {
			DS_LOG_WRN("a file name in \"%s\" is not a plain relative name; ignored", f->field);
			rc = -EINVAL;
		} else {
			*path = ds_asprintf("%s/%s", f->dir, v->valuestring);
			rc = *path ? 0 : -ENOMEM;
		}
	}
	cJSON_Delete(j);
	return rc;
}

static void hex32(const uint8_t d[32], char out[65])
{
	static const char hx[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
	out[64] = '\0';
}

static int read_full(int fd, uint8_t *buf, size_t n, size_t *got)
{
	*got = 0;
	while (*got < n) {
		ssize_t r = read(fd, buf + *got, n - *got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return 0;
}

int ds_kinto_file_sha256(const char *path, char hex[65], uint64_t *size)
{
	mbedtls_sha256_context sha;
	uint8_t *buf, d[32];
	uint64_t total = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = ds_malloc(BLOCK);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	mbedtls_sha256_init(&sha);
	mbedtls_sha256_starts_ret(&sha, 0);
	for (;;) {
		size_t got;

		rc = read_full(fd, buf, BLOCK, &got);
		if (rc || got == 0)
			break;
		mbedtls_sha256_update_ret(&sha, buf, got);
		total += got;
	}
	mbedtls_sha256_finish_ret(&sha, d);
	mbedtls_sha256_free(&sha);
	ds_free(buf);
	close(fd);
	if (rc)
		return rc;
	hex32(d, hex);
	if (size)
		*size = total;
	return 0;
}

static char *file_aad(const char *coll, const char *id)
{
	return ds_asprintf(FILE_AAD "%s|%s", coll, id);
}

/* ---- upload ------------------------------------------------------------------------------- */

struct up_src {
	int fd;
	uint64_t left;           /* file bytes still to read */
	char *pre, *post;        /* multipart framing before and after the attachment's bytes */
	size_t pre_off, post_off;
	int stage;               /* 0 framing, 1 attachment bytes, 2 closing framing, 3 done */
	bool enc, iv_out, tag_out;
	mbedtls_gcm_context gcm;
	uint8_t iv[DS_GCM_IV_LEN];
	uint8_t *in, *buf;       /* BLOCK each: file bytes, bytes to send */
	size_t buf_len, buf_off;
	mbedtls_sha256_context sha; /* of the attachment bytes: what the server hashes */
};

static int refill(struct up_src *s)
{
	size_t got, want;
	int rc;

	s->buf_off = 0;
	s->buf_len = 0;
	if (s->enc && !s->iv_out) {
		memcpy(s->buf, s->iv, sizeof(s->iv));
		s->buf_len = sizeof(s->iv);
		s->iv_out = true;
	} else if (s->left) {
		want = s->left < BLOCK ? (size_t)s->left : BLOCK;
		rc = read_full(s->fd, s->enc ? s->in : s->buf, want, &got);
		if (rc)
			return rc;
		if (got != want) {
			DS_LOG_ERR("a file shrank while it was being uploaded; will retry");
			return -EAGAIN;
		}
		if (s->enc && mbedtls_gcm_update(&s->gcm, got, s->in, s->buf))
			return -EIO;
		s->left -= got;
		s->buf_len = got;
	} else if (s->enc && !s->tag_out) {
		if (mbedtls_gcm_finish(&s->gcm, s->buf, DS_GCM_TAG_LEN))
			return -EIO;
		s->buf_len = DS_GCM_TAG_LEN;
		s->tag_out = true;
	} else {
		return 1; /* the attachment's bytes are all out */
	}
	mbedtls_sha256_update_ret(&s->sha, s->buf, s->buf_len);
	return 0;
}

static int up_read(void *out, size_t cap, size_t *got, void *ud)
{
	struct up_src *s = ud;
	uint8_t *o = out;
	int rc;

	*got = 0;
	while (*got < cap && s->stage < 3) {
		const char *src = NULL;
		size_t avail = 0, *off = NULL;

		if (s->stage == 0) {
			src = s->pre;
			off = &s->pre_off;
			avail = strlen(s->pre) - s->pre_off;
		} else if (s->stage == 2) {
			src = s->post;
			off = &s->post_off;
			avail = strlen(s->post) - s->post_off;
		} else {
			if (s->buf_off == s->buf_len) {
				rc = refill(s);
				if (rc < 0)
					return rc;
				if (rc == 1) {
					s->stage = 2;
					continue;
				}
			}
			src = (const char *)s->buf;
			off = &s->buf_off;
			avail = s->buf_len - s->buf_off;
		}
		if (avail == 0) {
			s->stage++;
			continue;
		}
		size_t n = DS_MIN(avail, cap - *got);
		memcpy(o + *got, src + *off, n);
		*off += n;
		*got += n;
	}
	return 0;
}

static int64_t etag_ms(const struct ds_http_response *r)
{
	const char *e = ds_http_header(r, "etag");
	int64_t ms = 0;

	if (!e)
		return 0;
	if (*e == '"')
		e++;
	while (*e >= '0' && *e <= '9')
		ms = ms * 10 + (*e++ - '0');
	return ms;
}

static int upload_once(struct ds_kinto_api *a, const struct ds_kinto_key *key, const char *coll,
		       const char *rec_path, const char *id, const char *path,
		       const struct ds_kinto_upload_opts *o, struct ds_kinto_file_result *res)
{
	struct up_src s = { .fd = -1 };
	struct ds_http_response resp = { 0 };
	struct stat st;
	char boundary[40], ctype[80], *url = NULL, *aad = NULL;
	uint8_t rnd[12], d[32];
	uint64_t att_len;
	int rc;

	memset(res, 0, sizeof(*res));
	s.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s.fd < 0)
		return -errno;
	if (fstat(s.fd, &st) || !S_ISREG(st.st_mode)) {
		close(s.fd);
		return -EINVAL;
	}
	s.left = (uint64_t)st.st_size;
	s.enc = key && key->set;
	att_len = s.left + (s.enc ? DS_GCM_IV_LEN + DS_GCM_TAG_LEN : 0);
	mbedtls_sha256_init(&s.sha);
	mbedtls_sha256_starts_ret(&s.sha, 0);
	mbedtls_gcm_init(&s.gcm);
	rc = ds_random(rnd, sizeof(rnd));
	if (rc)
		goto out;
	snprintf(boundary, sizeof(boundary), "ds-%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x",
		 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], rnd[8], rnd[9],
		 rnd[10], rnd[11]);
	snprintf(ctype, sizeof(ctype), "multipart/form-data; boundary=%s", boundary);
	/* The stored name says nothing about the file: the record id, and ".enc" when sealed.
	 * kinto-attachment checks extensions against its allow-list (kinto.md §5). */
	/* "data" (the record's fields, kinto.md §5) goes first: kinto-attachment writes it and the
	 * attachment object into the record as one update. */
	s.pre = ds_asprintf("%s%s%s%s%s--%s\r\nContent-Disposition: form-data; name=\"attachment\"; "
			    "filename=\"%s.%s\"\r\nContent-Type: application/octet-stream\r\n\r\n",
			    o && o->data ? "--" : "", o && o->data ? boundary : "",
			    o && o->data ? "\r\nContent-Disposition: form-data; name=\"data\"\r\n"
					   "Content-Type: application/json\r\n\r\n" : "",
			    o && o->data ? o->data : "", o && o->data ? "\r\n" : "",
			    boundary, id, s.enc ? "enc" : "bin");
	s.post = ds_asprintf("\r\n--%s--\r\n", boundary);
	url = ds_asprintf("%s%s/records/%s/attachment", a->base, rec_path, id);
	s.in = ds_malloc(BLOCK);
	s.buf = ds_malloc(BLOCK);
	rc = -ENOMEM;
	if (!s.pre || !s.post || !url || !s.in || !s.buf)
		goto out;
	if (s.enc) {
		aad = file_aad(coll, id);
		if (!aad)
			goto out;
		rc = ds_random(s.iv, sizeof(s.iv));
		if (rc)
			goto out;
		rc = -EIO;
		if (mbedtls_gcm_setkey(&s.gcm, MBEDTLS_CIPHER_ID_AES, key->key, 256) ||
		    mbedtls_gcm_starts(&s.gcm, MBEDTLS_GCM_ENCRYPT, s.iv, sizeof(s.iv),
				       (const uint8_t *)aad, strlen(aad)))
			goto out;
	}
	{
		char etag[32];
		struct ds_http_header h[3] = { { "Content-Type", ctype }, { "If-Match", etag },
					       { "Authorization", a->auth } };
		size_t nh = 2;

		snprintf(etag, sizeof(etag), "\"%" PRId64 "\"", o ? o->if_match : 0);
		if (!o || o->if_match <= 0)
			h[1] = h[2], nh = 1;
		if (a->auth)
			nh++;
		struct ds_http_request req = {
			.method = "POST", .url = url, .headers = h, .n_headers = nh,
			.body_len = strlen(s.pre) + (size_t)att_len + strlen(s.post),
			.body_read = up_read, .body_user_data = &s,
		};
		rc = ds_http_perform(a->http, &req, &resp);
	}
	if (rc) {
		DS_LOG_ERR("%s: uploading a file failed: %s", a->name, ds_http_last_error(a->http));
		goto out;
	}
	if (resp.status == 401 && a->token_scope && o && o->retry_401) {
		rc = -EKEYEXPIRED; /* the caller asks for a new token and sends it again */
		goto out;
	}
	if (resp.status == 412 && o && o->if_match > 0) {
		rc = -ESTALE; /* changed since read: the caller reads it again */
		goto out;
	}
	if (resp.status < 200 || resp.status >= 300) {
		rc = ds_kinto_api_error(a, "uploading a file", &resp);
		goto out;
	}
	mbedtls_sha256_finish_ret(&s.sha, d);
	hex32(d, res->hash);
	{
		cJSON *j = cJSON_ParseWithLength(resp.body ? resp.body : "", resp.body_len);
		const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "hash");

		/* The server hashed what it stored: the same bytes as ours or the upload broke. */
		if (!cJSON_IsString(h) || strcmp(h->valuestring, res->hash)) {
			DS_LOG_ERR("%s: the server stored a file that differs from the one sent", a->name);
			rc = -EIO;
		} else {
			res->att = ds_malloc(resp.body_len + 1);
			if (!res->att) {
				rc = -ENOMEM;
			} else {
				memcpy(res->att, resp.body, resp.body_len);
				res->att[resp.body_len] = '\0';
			}
		}
		cJSON_Delete(j);
	}
	res->size = att_len;
	res->new_ms = etag_ms(&resp);
out:
	ds_http_response_free(&resp);
	mbedtls_gcm_free(&s.gcm);
	mbedtls_sha256_free(&s.sha);
	if (s.fd >= 0)
		close(s.fd);
	ds_free(s.pre);
	ds_free(s.post);
	ds_free(url);
	ds_free(aad);
	ds_free(s.in);
	ds_free(s.buf);
	return rc;
}

int ds_kinto_file_upload_opts(struct ds_kinto_api *a, const struct ds_kinto_key *key,
			      const char *coll, const char *rec_path, const char *id,
			      const char *path, const struct ds_kinto_upload_opts *opts,
			      struct ds_kinto_file_result *res)
{
	struct ds_kinto_upload_opts o = opts ? *opts : (struct ds_kinto_upload_opts){ 0 };
	int rc;

	/* An account token refused (expired early, revoked): one new one and the file again from
	 * its start, as ds_kinto_api_call() does for other requests; a second 401 is the answer. */
	o.retry_401 = true;
	rc = upload_once(a, key, coll, rec_path, id, path, &o, res);
	if (rc == -EKEYEXPIRED) {
		DS_LOG_INF("%s: the server refused the account's token; asking for a new one", a->name);
		o.retry_401 = false;
		rc = ds_kinto_token_auth(a, true);
		if (rc == 0)
			rc = upload_once(a, key, coll, rec_path, id, path, &o, res);
	}
	return rc;
}

int ds_kinto_file_upload(struct ds_kinto_api *a, const struct ds_kinto_key *key, const char *coll,
			 const char *rec_path, const char *id, const char *path,
			 struct ds_kinto_file_result *res)
{
	return ds_kinto_file_upload_opts(a, key, coll, rec_path, id, path, NULL, res);
}

/* ---- download ----------------------------------------------------------------------------- */

static int sink_write(const void *data, size_t len, void *ud)
{
	return ds_port_file_write(*(int *)ud, data, len);
}

/* Decrypt the verified part file into tmp; the tag is checked before anything is renamed. */
static int open_sealed(const struct ds_kinto_key *key, const char *coll, const char *id,
		       const char *part, const char *tmp)
{
	mbedtls_gcm_context gcm;
	uint8_t iv[DS_GCM_IV_LEN], tag[DS_GCM_TAG_LEN], want[DS_GCM_TAG_LEN];
	uint8_t *in = ds_malloc(BLOCK), *out = ds_malloc(BLOCK);
	char *aad = file_aad(coll, id);
	struct stat st;
	uint64_t left;
	int in_fd = -1, out_fd = -1, rc = -ENOMEM;
	size_t got;

	mbedtls_gcm_init(&gcm);
	if (!in || !out || !aad)
		goto out;
	in_fd = open(part, O_RDONLY | O_CLOEXEC);
	if (in_fd < 0 || fstat(in_fd, &st)) {
		rc = -errno;
		goto out;
	}
	rc = -EBADMSG;
	if ((uint64_t)st.st_size < DS_GCM_IV_LEN + DS_GCM_TAG_LEN)
		goto out;
	left = (uint64_t)st.st_size - DS_GCM_IV_LEN - DS_GCM_TAG_LEN;
	out_fd = ds_port_file_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out_fd < 0) {
		rc = out_fd;
		goto out;
	}
	rc = read_full(in_fd, iv, sizeof(iv), &got);
	if (rc || got != sizeof(iv))
		goto bad;
	if (mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key->key, 256) ||
	    mbedtls_gcm_starts(&gcm, MBEDTLS_GCM_DECRYPT, iv, sizeof(iv), (const uint8_t *)aad,
			       strlen(aad))) {
		rc = -EIO;
		goto out;
	}
	while (left) {
		size_t want_n = left < BLOCK ? (size_t)left : BLOCK;

		rc = read_full(in_fd, in, want_n, &got);
		if (rc || got != want_n)
			goto bad;
		if (mbedtls_gcm_update(&gcm, got, in, out)) {
			rc = -EIO;
			goto out;
		}
		rc = ds_port_file_write(out_fd, out, got);
		if (rc)
			goto out;
		left -= got;
	}
	rc = read_full(in_fd, tag, sizeof(tag), &got);
	if (rc || got != sizeof(tag) || mbedtls_gcm_finish(&gcm, want, sizeof(want)))
		goto bad;
	{
		uint8_t diff = 0;

		for (size_t i = 0; i < sizeof(tag); i++)
			diff |= (uint8_t)(tag[i] ^ want[i]);
		if (diff)
			goto bad;
	}
	rc = ds_port_file_sync(out_fd);
	goto out;
bad:
	rc = rc ? rc : -EBADMSG;
out:
	if (in_fd >= 0)
		close(in_fd);
	if (out_fd >= 0)
		close(out_fd);
	if (rc && out_fd >= 0)
		ds_port_file_unlink(tmp);
	mbedtls_gcm_free(&gcm);
	ds_memzero(out, out ? BLOCK : 0);
	ds_free(in);
	ds_free(out);
	ds_free(aad);
	return rc;
}

/* One GET of location into part, from its current size (Range) on. */
static int fetch_part(struct ds_kinto_api *a, const char *location, const char *part,
		      uint64_t total, bool *restart)
{
	struct ds_http_response resp = { 0 };
	struct stat st;
	char range[48];
	uint64_t have = 0;
	int fd, rc;

	*restart = false;
	fd = ds_port_file_open(part, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) == 0)
		have = (uint64_t)st.st_size;
	if (have >= total && total) {
		close(fd);
		return 0; /* complete from an earlier try: the hash decides */
	}
	snprintf(range, sizeof(range), "bytes=%" PRIu64 "-", have);
	{
		struct ds_http_header h[1] = { { "Range", range } };
		struct ds_http_request req = {
			.url = location, .headers = h, .n_headers = have ? 1 : 0,
			.body_write = sink_write, .body_write_user_data = &fd,
		};
		if (have)
			DS_LOG_INF("%s: resuming a file download at byte %" PRIu64, a->name, have);
		rc = ds_http_perform(a->http, &req, &resp);
	}
	if (rc == 0)
		rc = ds_port_file_sync(fd);
	close(fd);
	if (rc) {
		DS_LOG_ERR("%s: downloading a file failed (kept for resuming): %s", a->name,
			   ds_http_last_error(a->http));
		return rc;
	}
	if (resp.status == 200 && have)
		*restart = true; /* the server ignored Range: the part now holds the file twice over */
	else if (resp.status == 416)
		*restart = true;
	else if (resp.status != 200 && resp.status != 206)
		rc = ds_kinto_api_error(a, "downloading a file", &resp);
	ds_http_response_free(&resp);
	return rc;
}

int ds_kinto_file_download(struct ds_kinto_api *a, const struct ds_kinto_key *key, const char *coll,
			   const char *id, const char *att, size_t att_len, const char *path,
			   struct ds_kinto_file_result *res)
{
	cJSON *j = cJSON_ParseWithLength(att, att_len);
	const cJSON *loc = cJSON_GetObjectItemCaseSensitive(j, "location");
	const cJSON *hash = cJSON_GetObjectItemCaseSensitive(j, "hash");
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(j, "size");
	char *part = NULL, *tmp = NULL, got_hex[65];
	uint64_t total, got_size = 0;
	bool enc = key && key->set;
	int rc = -EBADMSG;

	memset(res, 0, sizeof(*res));
	if (!cJSON_IsString(loc) || !cJSON_IsString(hash) || strlen(hash->valuestring) != 64 ||
	    ds_kinto_json_int(size, -1) < 0) {
		DS_LOG_ERR("%s: a record's attachment is malformed", a->name);
		goto out;
	}
	if (strncmp(loc->valuestring, "http://", 7) && strncmp(loc->valuestring, "https://", 8)) {
		DS_LOG_ERR("%s: an attachment location is not an http(s) URL", a->name);
		goto out;
	}
	total = (uint64_t)ds_kinto_json_int(size, 0);
	part = ds_asprintf("%s%s", path, PART_EXT);
	tmp = ds_asprintf("%s%s", path, TMP_EXT);
	rc = -ENOMEM;
	if (!part || !tmp)
		goto out;
	for (int attempt = 0; attempt < 2; attempt++) {
		bool restart;

		rc = fetch_part(a, loc->valuestring, part, total, &restart);
		if (rc)
			goto out;
		if (!restart) {
			rc = ds_kinto_file_sha256(part, got_hex, &got_size);
			if (rc)
				goto out;
			if (got_size == total && !strcmp(got_hex, hash->valuestring))
				break;
			DS_LOG_WRN("%s: a downloaded file does not match its hash; downloading again",
				   a->name);
		}
		ds_port_file_unlink(part);
		rc = -EBADMSG;
	}
	if (rc)
		goto out;
	if (enc) {
		rc = open_sealed(key, coll, id, part, tmp);
		if (rc) {
			DS_LOG_ERR("%s: a file failed its authentication under this collection's key "
				   "(damaged, moved, or sealed under another key); not used", a->name);
			ds_port_file_unlink(part);
			goto out;
		}
		ds_port_file_unlink(part);
	} else {
		rc = ds_port_file_rename(part, tmp);
		if (rc)
			goto out;
	}
	rc = ds_port_file_rename(tmp, path);
	if (rc) {
		ds_port_file_unlink(tmp);
		goto out;
	}
	snprintf(res->hash, sizeof(res->hash), "%s", hash->valuestring);
	res->size = total;
	rc = 0;
out:
	cJSON_Delete(j);
	ds_free(part);
	ds_free(tmp);
	return rc;
}
