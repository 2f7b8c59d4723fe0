/*
 * The dir remote against its contract (ds_remote_ops in sync/ds_sync.h) and its on-disk format
 * (docs/remote-dir.md): round trips, the upload precondition between devices sharing a folder,
 * paging, integrity of every batch, hidden names, and the three key modes.
 */
/* nftw() is XSI. */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/ds_core.h"
#include "crypto/ds_crypto.h"
#include "ds_port.h"
#include "sync/ds_sync.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_base[512];
static bool g_own_base;
static unsigned g_seq;

/* ---- helpers ------------------------------------------------------------------------------- */

static char *new_folder(void)
{
	static char path[600];

	snprintf(path, sizeof(path), "%s/f%u", g_base, ++g_seq);
	assert_int_equal(mkdir(path, 0755), 0);
	return path;
}

static cJSON *reg_new(const char *path, const char *key, const char *value)
{
	cJSON *cfg = cJSON_CreateObject();

	cJSON_AddStringToObject(cfg, "kind", "dir");
	cJSON_AddStringToObject(cfg, "path", path);
	if (key && value)
		cJSON_AddStringToObject(cfg, key, value);
	else if (key)
		cJSON_AddBoolToObject(cfg, key, false);
	return cfg;
}

/* Enrol cfg for collection and open it for device; the registration is kept in *cfg_out. */
static struct ds_remote *enroll_open(cJSON *cfg, const char *collection, const char *device)
{
	struct ds_remote *r = NULL;

	assert_int_equal(ds_remote_enroll(cfg, collection), 0);
	assert_null(cJSON_GetObjectItem(cfg, "passphrase"));
	assert_int_equal(ds_remote_open(cfg, collection, device, &r), 0);
	assert_non_null(r);
	return r;
}

static struct ds_remote *pass_remote(const char *path, const char *collection, const char *pass,
				     const char *device)
{
	cJSON *cfg = reg_new(path, "passphrase", pass);
	struct ds_remote *r = enroll_open(cfg, collection, device);

	assert_true(cJSON_IsString(cJSON_GetObjectItem(cfg, "secret")));
	cJSON_Delete(cfg);
	return r;
}

struct got {
	size_t n;
	char *id[4096];
	char *payload[4096];
	bool deleted[4096];
	int64_t modified[4096];
};

static int collect(const struct ds_record *r, void *user_data)
{
	struct got *g = user_data;

	if (g->n >= DS_ARRAY_SIZE(g->id))
		return -ENOSPC;
	g->id[g->n] = strdup(r->id);
	g->payload[g->n] = r->payload ? strdup(r->payload) : NULL;
	g->deleted[g->n] = r->deleted;
	g->modified[g->n] = r->modified_ms;
	g->n++;
	return 0;
}

static void got_clear(struct got *g)
{
	for (size_t i = 0; i < g->n; i++) {
		free(g->id[i]);
		free(g->payload[i]);
	}
	g->n = 0;
}

static struct got *got_new(void)
{
	struct got *g = calloc(1, sizeof(*g));

	assert_non_null(g);
	return g;
}

static void got_free(struct got *g)
{
	got_clear(g);
	free(g);
}

/* Fetch every page from cursor; returns the first error, the final cursor in end. */
static int fetch_all(struct ds_remote *r, const char *cursor, struct got *g, char *end, int *pages)
{
	struct ds_fetch_page page;
	char cur[DS_CURSOR_MAX];
	int rc;

	snprintf(cur, sizeof(cur), "%s", cursor);
	*pages = 0;
	do {
		rc = r->ops->fetch(r, cur, collect, g, &page);
		if (rc)
			return rc;
		(*pages)++;
		snprintf(cur, sizeof(cur), "%s", page.next_cursor);
	} while (page.more);
	if (end)
		snprintf(end, DS_CURSOR_MAX, "%s", cur);
	return 0;
}

static int upload_one(struct ds_remote *r, const char *cursor, const char *id, const char *payload,
		      struct ds_upload_result *res)
{
	struct ds_record rec = { .id = (char *)id, .payload = (char *)payload, .deleted = !payload };

	return r->ops->upload(r, cursor, &rec, 1, res);
}

static char *batch_path(const char *folder, const char *dirname, unsigned long long seq)
{
	static char p[1024];

	struct stat st;

	snprintf(p, sizeof(p), "%s/%s/log/%016llu", folder, dirname, seq);
	/* Without hard links a batch is a directory holding the file (docs/remote-dir.md). */
	if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
		strncat(p, "/data", sizeof(p) - strlen(p) - 1);
	return p;
}

/* Remove a published name: a file, or the directory a file system without hard links got. */
static int remove_name(const char *name)
{
	char inner[1100], p[1100];
	size_t n;
	struct stat st;

	/* batch_path() names the file inside a directory batch: remove the directory */
	snprintf(p, sizeof(p), "%s", name);
	n = strlen(p);
	if (n > 5 && !strcmp(p + n - 5, "/data"))
		p[n - 5] = '\0';
	if (lstat(p, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(p);
	snprintf(inner, sizeof(inner), "%s/data", p);
	unlink(inner);
	return rmdir(p);
}

/* The one collection folder under root (encrypted folders hide the name). */
static void coll_dirname(const char *root, char *out, size_t cap)
{
	struct dirent *de;
	DIR *d = opendir(root);
	int found = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, "datasync-dir.json"))
			continue;
		snprintf(out, cap, "%s", de->d_name);
		found++;
	}
	closedir(d);
	assert_int_equal(found, 1);
}

static size_t file_read(const char *path, uint8_t *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

static void file_write(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
}

static int count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* ---- fixtures ------------------------------------------------------------------------------ */

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int group_setup(void **state)
{
	const char *t = getenv("DS_TEST_TMP");
	char secrets[600], data[600], run[600];

	(void)state;
	if (t && *t) {
		snprintf(g_base, sizeof(g_base), "%s/dir-remote", t);
		if (mkdir(g_base, 0700) != 0)
			return -1;
	} else {
		snprintf(g_base, sizeof(g_base), "%s/ds-dir-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if (!mkdtemp(g_base))
			return -1;
		g_own_base = true;
	}
	snprintf(secrets, sizeof(secrets), "%s/secrets", g_base);
	snprintf(data, sizeof(data), "%s/data", g_base);
	snprintf(run, sizeof(run), "%s/run", g_base);
	return ds_port_init(&(struct ds_port_config){
		.data_dir = data, .run_dir = run, .secret_dir = secrets });
}

static int group_teardown(void **state)
{
	(void)state;
	ds_port_deinit();
	if (g_own_base)
		nftw(g_base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_round_trip(void **state)
{
	char *folder = new_folder();
	struct ds_remote *r = pass_remote(folder, "alarms", "correct horse", "dev-a");
	struct ds_record recs[3] = {
		{ .id = "a1", .payload = "{\"t\":\"07:00\"}" },
		{ .id = "a2", .payload = "{\"t\":\"08:30\",\"s\":\"\\u00e9\"}" },
		{ .id = "a3", .deleted = true },
	};
	struct ds_remote_info info;
	struct ds_upload_result res;
	struct ds_fetch_page page;
	struct got *g = got_new();

	(void)state;
	assert_string_equal(r->ops->kind, "dir");
	assert_int_equal(r->ops->prepare(r, &info), 0);
	assert_true(strlen(info.epoch) > 0);
	assert_string_equal(info.latest, "");
	assert_int_equal(info.max_batch, CONFIG_DS_REMOTE_DIR_MAX_BATCH);
	assert_int_equal(r->ops->backoff_s(r), 0);

	assert_int_equal(r->ops->fetch(r, "", collect, g, &page), 0);
	assert_int_equal(g->n, 0);
	assert_string_equal(page.next_cursor, "");
	assert_false(page.more);

	assert_int_equal(r->ops->upload(r, "", recs, 3, &res), 0);
	assert_string_equal(res.new_cursor, "1");
	assert_int_equal(res.accepted, 3);
	assert_int_equal(res.failed, 0);

	assert_int_equal(r->ops->fetch(r, "", collect, g, &page), 0);
	assert_int_equal(g->n, 3);
	assert_string_equal(g->id[0], "a1");
	assert_string_equal(g->payload[0], recs[0].payload);
	assert_string_equal(g->payload[1], recs[1].payload);
	assert_true(g->deleted[2]);
	assert_null(g->payload[2]);
	assert_false(g->deleted[0]);
	assert_true(g->modified[0] == res.modified_ms && g->modified[2] == res.modified_ms);
	assert_string_equal(page.next_cursor, "1");
	assert_false(page.more);

	char epoch[DS_CURSOR_MAX];
	snprintf(epoch, sizeof(epoch), "%s", info.epoch);
	assert_int_equal(r->ops->prepare(r, &info), 0);
	assert_string_equal(info.latest, "1");
	assert_string_equal(info.epoch, epoch);

	/* An empty upload changes nothing and still honours the precondition. */
	assert_int_equal(r->ops->upload(r, "1", NULL, 0, &res), 0);
	assert_string_equal(res.new_cursor, "1");
	assert_int_equal(r->ops->upload(r, "", NULL, 0, &res), -ESTALE);

	/* A record without an id or payload is refused before anything is written. */
	struct ds_record bad = { .id = "", .payload = "{}" };
	assert_int_equal(r->ops->upload(r, "1", &bad, 1, &res), -EINVAL);
	bad.id = "x";
	bad.payload = NULL;
	assert_int_equal(r->ops->upload(r, "1", &bad, 1, &res), -EINVAL);
	assert_int_equal(r->ops->prepare(r, &info), 0);
	assert_string_equal(info.latest, "1");
	got_free(g);
	r->ops->close(r);
}

static void test_second_device_stale_cursor(void **state)
{
	char *folder = new_folder();
	struct ds_remote *a = pass_remote(folder, "notes", "pw", "dev-a");
	struct ds_remote *b = pass_remote(folder, "notes", "pw", "dev-b");
	struct ds_upload_result res;
	struct ds_remote_info info;
	char dirname[80], path[1024];
	struct got *g = got_new();
	int pages;

	(void)state;
	assert_int_equal(a->ops->prepare(a, &info), 0);
	assert_int_equal(b->ops->prepare(b, &info), 0);
	assert_int_equal(upload_one(a, "", "n1", "{\"from\":\"a\"}", &res), 0);
	assert_string_equal(res.new_cursor, "1");
	/* b has not seen batch 1: the precondition fails and nothing is written. */
	assert_int_equal(upload_one(b, "", "n1", "{\"from\":\"b\"}", &res), -ESTALE);
	coll_dirname(folder, dirname, sizeof(dirname));
	snprintf(path, sizeof(path), "%s/%s/log", folder, dirname);
	assert_int_equal(count_entries(path), 1);
	snprintf(path, sizeof(path), "%s/%s/tmp", folder, dirname);
	assert_int_equal(count_entries(path), 0);

	assert_int_equal(fetch_all(b, "", g, NULL, &pages), 0);
	assert_int_equal(g->n, 1);
	assert_string_equal(g->payload[0], "{\"from\":\"a\"}");
	/* After fetching, b writes on top. */
	assert_int_equal(upload_one(b, "1", "n2", "{\"from\":\"b\"}", &res), 0);
	assert_string_equal(res.new_cursor, "2");
	assert_int_equal(upload_one(a, "1", "n3", "{}", &res), -ESTALE);
	got_free(g);
	a->ops->close(a);
	b->ops->close(b);
}

static void test_fetch_after_cursor(void **state)
{
	char *folder = new_folder();
	struct ds_remote *r = pass_remote(folder, "c", "pw", "dev-a");
	struct ds_upload_result res;
	struct ds_fetch_page page;
	struct got *g = got_new();

	(void)state;
	assert_int_equal(upload_one(r, "", "x1", "{\"v\":1}", &res), 0);
	assert_int_equal(upload_one(r, "1", "x2", "{\"v\":2}", &res), 0);
	assert_int_equal(upload_one(r, "2", "x3", "{\"v\":3}", &res), 0);
	assert_int_equal(r->ops->fetch(r, "2", collect, g, &page), 0);
	assert_int_equal(g->n, 1);
	assert_string_equal(g->id[0], "x3");
	assert_string_equal(page.next_cursor, "3");
	got_clear(g);
	assert_int_equal(r->ops->fetch(r, "3", collect, g, &page), 0);
	assert_int_equal(g->n, 0);
	assert_string_equal(page.next_cursor, "3");
	got_clear(g);
	assert_int_equal(r->ops->fetch(r, "1", collect, g, &page), 0);
	assert_int_equal(g->n, 2);
	assert_string_equal(g->id[0], "x2");
	assert_string_equal(g->id[1], "x3");
	/* A cursor the remote never gave out is refused. */
	assert_int_equal(r->ops->fetch(r, "abc", collect, g, &page), -EINVAL);
	assert_int_equal(r->ops->fetch(r, "9", collect, g, &page), -ESTALE);
	assert_int_equal(upload_one(r, "9", "x", "{}", &res), -ESTALE);
	got_free(g);
	r->ops->close(r);
}

static void test_paging(void **state)
{
	const size_t mb = CONFIG_DS_REMOTE_DIR_MAX_BATCH, page_recs = CONFIG_DS_REMOTE_DIR_PAGE_RECORDS;
	const size_t batches = page_recs / mb + 2;
	char *folder = new_folder();
	struct ds_remote *r = pass_remote(folder, "big", "pw", "dev-a");
	struct ds_record *recs = calloc(mb + 1, sizeof(*recs));
	char cursor[DS_CURSOR_MAX] = "";
	struct ds_upload_result res;
	struct ds_fetch_page page;
	struct got *g = got_new();
	size_t b, i, total = 0, prev = 0;
	int pages = 0;

	(void)state;
	assert_non_null(recs);
	for (i = 0; i <= mb; i++) {
		recs[i].id = malloc(32);
		recs[i].payload = "{\"k\":1}";
	}
	for (b = 0; b < batches; b++) {
		for (i = 0; i < mb; i++)
			snprintf(recs[i].id, 32, "r%zu-%zu", b, i);
		assert_int_equal(r->ops->upload(r, cursor, recs, mb, &res), 0);
		snprintf(cursor, sizeof(cursor), "%s", res.new_cursor);
	}
	/* One more than the batch limit is refused whole. */
	assert_int_equal(r->ops->upload(r, cursor, recs, mb + 1, &res), -E2BIG);

	cursor[0] = '\0';
	do {
		assert_int_equal(r->ops->fetch(r, cursor, collect, g, &page), 0);
		pages++;
		/* A page ends with the batch that reaches the page size. */
		assert_true(g->n - prev <= page_recs + mb - 1);
		prev = g->n;
		snprintf(cursor, sizeof(cursor), "%s", page.next_cursor);
		if (pages == 1)
			assert_true(page.more);
	} while (page.more);
	total = g->n;
	assert_int_equal(total, batches * mb);
	assert_true(pages >= 2);
	assert_int_equal(strtoul(cursor, NULL, 10), batches);
	assert_string_equal(g->id[total - 1], recs[mb - 1].id);
	for (i = 0; i <= mb; i++)
		free(recs[i].id);
	free(recs);
	got_free(g);
	r->ops->close(r);
}

static void test_wrong_passphrase(void **state)
{
	char *folder = new_folder();
	struct ds_remote *r = pass_remote(folder, "c", "right one", "dev-a");
	cJSON *cfg = reg_new(folder, "passphrase", "wrong one");

	(void)state;
	assert_int_equal(ds_remote_enroll(cfg, "c"), -EACCES);
	assert_null(cJSON_GetObjectItem(cfg, "secret"));
	/* Another collection in the same folder uses the same folder key. */
	assert_int_equal(ds_remote_enroll(cfg, "other"), -EACCES);
	cJSON_Delete(cfg);
	r->ops->close(r);
}

/* Upload one batch and return its path (static storage) and file image. */
static char *one_batch(const char *folder, struct ds_remote *r, uint8_t *img, size_t *len)
{
	struct ds_upload_result res;
	char dirname[80];
	char *p;

	assert_int_equal(upload_one(r, "", "id1", "{\"a\":\"some payload\"}", &res), 0);
	coll_dirname(folder, dirname, sizeof(dirname));
	p = batch_path(folder, dirname, 1);
	*len = file_read(p, img, 65536);
	assert_true(*len > 40);
	return p;
}

static void test_tampered_batch(void **state)
{
	char *folder = new_folder();
	struct ds_remote *r = pass_remote(folder, "c", "pw", "dev-a");
	uint8_t img[65536], bad[65536];
	struct ds_fetch_page page;
	struct got *g = got_new();
	size_t len, i;
	char *p = one_batch(folder, r, img, &len);
	size_t offs[] = { 0, 4, 5, 6, 9, 12, 20, 40, len / 2, len - 17, len - 1 };

	(void)state;
	for (i = 0; i < DS_ARRAY_SIZE(offs); i++) {
		memcpy(bad, img, len);
		bad[offs[i]] ^= 0x01;
		file_write(p, bad, len);
		assert_int_equal(r->ops->fetch(r, "", collect, g, &page), -EBADMSG);
		assert_int_equal(g->n, 0); /* never applied, not even partly */
	}
	file_write(p, img, len);
	assert_int_equal(r->ops->fetch(r, "", collect, g, &page), 0);
	assert_int_equal(g->n, 1);
	got_free(g);
	r->ops->close(r);
}

static void test_truncated_batch(void **state)
{
	char *folder = new_folder();
	struct ds_remote *r = pass_remote(folder, "c", "pw", "dev-a");
	uint8_t img[65536];
	struct ds_fetch_page page;
	struct got *g = got_new();
	size_t len, i;
	char *p = one_batch(folder, r, img, &len);
	size_t cut[] = { 0, 3, 8, 20, 35, len / 2, len - 1 };

	(void)state;
	for (i = 0; i < DS_ARRAY_SIZE(cut); i++) {
		file_write(p, img, cut[i]);
		assert_int_equal(r->ops->fetch(r, "", collect, g, &page), -EBADMSG);
		assert_int_equal(g->n, 0);
	}
	/* Appended garbage is caught the same way. */
	img[len] = 'x';
	file_write(p, img, len + 1);
	assert_int_equal(r->ops->fetch(r, "", collect, g, &page), -EBADMSG);
	got_free(g);
	r->ops->close(r);
}

static void test_batch_moved(void **state)
{
	char *folder = new_folder();
	struct ds_remote *x = pass_remote(folder, "x", "pw", "dev-a");
	struct ds_remote *y;
	struct ds_upload_result res;
	struct ds_fetch_page page;
	struct ds_remote_info info;
	struct got *g = got_new();
	uint8_t img[65536];
	char xdir[80], ydir[300], p[1024];
	size_t len;

	(void)state;
	assert_int_equal(upload_one(x, "", "one", "{\"n\":1}", &res), 0);
	assert_int_equal(upload_one(x, "1", "two", "{\"n\":2}", &res), 0);
	coll_dirname(folder, xdir, sizeof(xdir));
	/* Batch 1 copied over batch 2: it authenticates as position 1 only. */
	len = file_read(batch_path(folder, xdir, 1), img, sizeof(img));
	snprintf(p, sizeof(p), "%s", batch_path(folder, xdir, 2));
	file_write(p, img, len);
	assert_int_equal(x->ops->fetch(x, "1", collect, g, &page), -EBADMSG);
	assert_int_equal(g->n, 0);

	/* Batch 1 of x copied to position 1 of y: bound to its collection. */
	y = pass_remote(folder, "y", "pw", "dev-a");
	assert_int_equal(y->ops->prepare(y, &info), 0);
	{
		struct dirent *de;
		DIR *d = opendir(folder);

		ydir[0] = '\0';
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.' && strcmp(de->d_name, xdir) &&
			    strcmp(de->d_name, "datasync-dir.json"))
				snprintf(ydir, sizeof(ydir), "%s", de->d_name);
		closedir(d);
	}
	assert_true(ydir[0]);
	file_write(batch_path(folder, ydir, 1), img, len);
	assert_int_equal(y->ops->fetch(y, "", collect, g, &page), -EBADMSG);
	assert_int_equal(g->n, 0);
	got_free(g);
	x->ops->close(x);
	y->ops->close(y);
}

static void test_gap_is_corruption(void **state)
{
	char *folder = new_folder();
	struct ds_remote *r = pass_remote(folder, "c", "pw", "dev-a");
	struct ds_upload_result res;
	struct ds_remote_info info;
	struct ds_fetch_page page;
	struct got *g = got_new();
	char dirname[80];

	(void)state;
	assert_int_equal(upload_one(r, "", "1", "{}", &res), 0);
	assert_int_equal(upload_one(r, "1", "2", "{}", &res), 0);
	assert_int_equal(upload_one(r, "2", "3", "{}", &res), 0);
	assert_int_equal(upload_one(r, "3", "4", "{}", &res), 0);
	coll_dirname(folder, dirname, sizeof(dirname));
	assert_int_equal(remove_name(batch_path(folder, dirname, 2)), 0);
	assert_int_equal(r->ops->fetch(r, "1", collect, g, &page), -EBADMSG);
	assert_int_equal(g->n, 0);
	/* Also when the next one is gone too and only the head hint knows of batch 4. */
	assert_int_equal(remove_name(batch_path(folder, dirname, 3)), 0);
	assert_int_equal(r->ops->fetch(r, "1", collect, g, &page), -EBADMSG);
	assert_int_equal(r->ops->prepare(r, &info), 0);
	got_free(g);
	r->ops->close(r);
}

static void test_header_deleted_epoch(void **state)
{
	char *folder = new_folder();
	struct ds_remote *r = pass_remote(folder, "c", "pw", "dev-a");
	struct ds_upload_result res;
	struct ds_remote_info info;
	char epoch[DS_CURSOR_MAX], hdr[1024], cdir[1024], dirname[80];
	struct got *g = got_new();
	int pages;

	(void)state;
	assert_int_equal(r->ops->prepare(r, &info), 0);
	snprintf(epoch, sizeof(epoch), "%s", info.epoch);
	assert_int_equal(upload_one(r, "", "k", "{}", &res), 0);
	snprintf(hdr, sizeof(hdr), "%s/datasync-dir.json", folder);
	assert_int_equal(remove_name(hdr), 0);
	assert_int_equal(r->ops->prepare(r, &info), 0);
	assert_string_equal(info.epoch, "");
	assert_string_equal(info.latest, "");
	/* A writer that still believes in the old folder is refused. */
	assert_int_equal(upload_one(r, "1", "k2", "{}", &res), -ESTALE);

	/* The whole folder wiped (a new card): after a reset the device writes from nothing. */
	coll_dirname(folder, dirname, sizeof(dirname));
	snprintf(cdir, sizeof(cdir), "%s/%s", folder, dirname);
	assert_int_equal(nftw(cdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
	remove_name(hdr);
	assert_int_equal(r->ops->prepare(r, &info), 0);
	assert_string_equal(info.epoch, "");
	assert_int_equal(upload_one(r, "", "k3", "{\"again\":true}", &res), 0);
	assert_string_equal(res.new_cursor, "1");
	assert_int_equal(r->ops->prepare(r, &info), 0);
	assert_true(strlen(info.epoch) > 0);
	assert_string_not_equal(info.epoch, epoch);
	/* The rewritten header keeps the folder's key: the passphrase still enrols. */
	cJSON *cfg = reg_new(folder, "passphrase", "pw");
	assert_int_equal(ds_remote_enroll(cfg, "c"), 0);
	cJSON_Delete(cfg);
	assert_int_equal(fetch_all(r, "", g, NULL, &pages), 0);
	assert_int_equal(g->n, 1);
	assert_string_equal(g->id[0], "k3");
	got_free(g);
	r->ops->close(r);
}

static void test_collection_deleted_epoch(void **state)
{
	char *folder = new_folder();
	struct ds_remote *r = pass_remote(folder, "c", "pw", "dev-a");
	struct ds_remote_info info;
	char epoch[DS_CURSOR_MAX], cdir[1024], dirname[80];

	(void)state;
	assert_int_equal(r->ops->prepare(r, &info), 0);
	snprintf(epoch, sizeof(epoch), "%s", info.epoch);
	coll_dirname(folder, dirname, sizeof(dirname));
	snprintf(cdir, sizeof(cdir), "%s/%s", folder, dirname);
	assert_int_equal(nftw(cdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
	assert_int_equal(r->ops->prepare(r, &info), 0);
	assert_true(strlen(info.epoch) > 0);
	assert_string_not_equal(info.epoch, epoch);
	r->ops->close(r);
}

static void test_folder_missing(void **state)
{
	char *folder = new_folder();
	char gone[700];
	struct ds_remote *r = pass_remote(folder, "c", "pw", "dev-a");
	struct ds_remote_info info;
	struct ds_upload_result res;
	struct ds_fetch_page page;
	struct got *g = got_new();
	cJSON *cfg;

	(void)state;
	/* The card is pulled: the folder is gone. */
	snprintf(gone, sizeof(gone), "%s.away", folder);
	assert_int_equal(rename(folder, gone), 0);
	assert_int_equal(r->ops->prepare(r, &info), -ENOENT);
	assert_int_equal(r->ops->fetch(r, "", collect, g, &page), -ENOENT);
	assert_int_equal(upload_one(r, "", "x", "{}", &res), -ENOENT);
	cfg = reg_new(folder, "passphrase", "pw");
	assert_int_equal(ds_remote_enroll(cfg, "c2"), -ENOENT);
	cJSON_Delete(cfg);
	/* And back. */
	assert_int_equal(rename(gone, folder), 0);
	assert_int_equal(r->ops->prepare(r, &info), 0);
	assert_true(strlen(info.epoch) > 0);
	got_free(g);
	r->ops->close(r);
}

static bool contains(const uint8_t *hay, size_t n, const char *needle)
{
	size_t l = strlen(needle);

	for (size_t i = 0; i + l <= n; i++)
		if (!memcmp(hay + i, needle, l))
			return true;
	return false;
}

static const char *const g_secrets[] = { "kitchen-shopping-list", "rec-id-milk-2l",
					 "payload-marker-butter", "dev-secret-name" };
static int g_leaks;

static int scan_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	static uint8_t buf[1 << 20];

	(void)ftw;
	for (size_t i = 0; i < DS_ARRAY_SIZE(g_secrets); i++)
		if (strstr(p + strlen(g_base), g_secrets[i]))
			g_leaks++;
	if (flag == FTW_F && st->st_size < (off_t)sizeof(buf)) {
		size_t n = file_read(p, buf, sizeof(buf));

		for (size_t i = 0; i < DS_ARRAY_SIZE(g_secrets); i++)
			if (contains(buf, n, g_secrets[i]))
				g_leaks++;
	}
	return 0;
}

static void test_folder_reveals_no_names(void **state)
{
	char *folder = new_folder();
	struct ds_remote *r = pass_remote(folder, g_secrets[0], "pw", g_secrets[3]);
	struct ds_upload_result res;
	struct ds_remote_info info;

	(void)state;
	assert_int_equal(r->ops->prepare(r, &info), 0);
	assert_int_equal(upload_one(r, "", g_secrets[1], "{\"note\":\"payload-marker-butter\"}", &res), 0);
	assert_int_equal(upload_one(r, "1", g_secrets[1], NULL, &res), 0);
	g_leaks = 0;
	assert_int_equal(nftw(folder, scan_entry, 16, FTW_PHYS), 0);
	assert_int_equal(g_leaks, 0);
	r->ops->close(r);
}

static void test_key_file(void **state)
{
	char *folder = new_folder();
	char hexkey[600], rawkey[600], badkey[600], otherkey[600];
	uint8_t key[32], other[32];
	char hex[66];
	struct ds_upload_result res;
	struct ds_remote *a, *b;
	struct got *g = got_new();
	cJSON *cfg;
	int pages;

	(void)state;
	for (int i = 0; i < 32; i++) {
		key[i] = (uint8_t)(i * 7 + 1);
		other[i] = (uint8_t)(i * 5 + 3);
	}
	ds_hex_encode(key, 32, hex, sizeof(hex));
	snprintf(hexkey, sizeof(hexkey), "%s.hexkey", folder);
	snprintf(rawkey, sizeof(rawkey), "%s.rawkey", folder);
	snprintf(badkey, sizeof(badkey), "%s.badkey", folder);
	snprintf(otherkey, sizeof(otherkey), "%s.otherkey", folder);
	strcat(hex, "\n");
	file_write(hexkey, hex, 65);
	file_write(rawkey, key, 32);
	file_write(badkey, "0123456789", 10);
	file_write(otherkey, other, 32);

	cfg = reg_new(folder, "key_file", hexkey);
	a = enroll_open(cfg, "c", "dev-a");
	cJSON_Delete(cfg);
	cfg = reg_new(folder, "key_file", rawkey);
	b = enroll_open(cfg, "c", "dev-b");
	cJSON_Delete(cfg);
	assert_int_equal(upload_one(a, "", "k", "{\"by\":\"key file\"}", &res), 0);
	assert_int_equal(fetch_all(b, "", g, NULL, &pages), 0);
	assert_int_equal(g->n, 1);
	assert_string_equal(g->payload[0], "{\"by\":\"key file\"}");

	cfg = reg_new(folder, "key_file", otherkey);
	assert_int_equal(ds_remote_enroll(cfg, "c"), -EACCES);
	cJSON_Delete(cfg);
	cfg = reg_new(folder, "key_file", badkey);
	assert_int_equal(ds_remote_enroll(cfg, "c"), -EINVAL);
	cJSON_Delete(cfg);
	/* A passphrase and a key file at once is ambiguous. */
	cfg = reg_new(folder, "key_file", rawkey);
	cJSON_AddStringToObject(cfg, "passphrase", "pw");
	assert_int_equal(ds_remote_enroll(cfg, "c"), -EINVAL);
	cJSON_Delete(cfg);
	got_free(g);
	a->ops->close(a);
	b->ops->close(b);
}

/*
 * A batch that authenticates but holds malformed JSON: built here from the documented format
 * (docs/remote-dir.md) with a known key, so the test also pins the key derivation and layout.
 */
static void test_malformed_under_valid_tag(void **state)
{
	char *folder = new_folder();
	char keyfile[700], dirname[80], aad[200], p[1024];
	uint8_t master[32], key[32], mac[32], iv[12] = { 1, 2, 3 }, file[512];
	const char *body = "{\"device\":\"x\",\"written_ms\":1,\"records\":[{\"id\":7}]}";
	const char *good = "{\"device\":\"x\",\"written_ms\":1,\"records\":[{\"id\":\"r\","
			   "\"deleted\":false,\"modified_ms\":5,\"payload\":\"{}\"}]}";
	const char *info = "datasync-dir v1 coll", *label = "datasync-dir name coll";
	struct ds_remote_info ri;
	struct ds_fetch_page page;
	struct got *g = got_new();
	struct ds_remote *r;
	size_t alen, blen;
	cJSON *cfg;

	(void)state;
	memset(master, 0x42, sizeof(master));
	snprintf(keyfile, sizeof(keyfile), "%s.key", folder);
	file_write(keyfile, master, 32);
	cfg = reg_new(folder, "key_file", keyfile);
	r = enroll_open(cfg, "coll", "dev-a");
	cJSON_Delete(cfg);
	assert_int_equal(r->ops->prepare(r, &ri), 0);

	assert_int_equal(ds_hmac_sha256(master, 32, label, strlen(label), mac), 0);
	ds_hex_encode(mac, 16, dirname, sizeof(dirname));
	coll_dirname(folder, p, sizeof(p));
	assert_string_equal(p, dirname);
	assert_int_equal(ds_hkdf_sha256(NULL, 0, master, 32, info, strlen(info), key, 32), 0);

	for (int round = 0; round < 2; round++) {
		const char *b = round ? good : body;

		blen = strlen(b);
		memcpy(file, "DSDB\x01\x01\x00\x00", 8);
		memcpy(aad, file, 8);
		alen = 8 + (size_t)snprintf(aad + 8, sizeof(aad) - 8, "%s/%016d", dirname, 1);
		memcpy(file + 8, iv, 12);
		assert_int_equal(ds_aes_gcm_encrypt(key, 32, iv, aad, alen, b, blen, file + 20,
						    file + 20 + blen), 0);
		file_write(batch_path(folder, dirname, 1), file, 8 + 12 + blen + 16);
		got_clear(g);
		assert_int_equal(r->ops->fetch(r, "", collect, g, &page), round ? 0 : -EILSEQ);
		assert_int_equal(g->n, round ? 1 : 0);
	}
	assert_int_equal(g->modified[0], 5);
	got_free(g);
	r->ops->close(r);
}

static void test_cleartext_folder(void **state)
{
	char *folder = new_folder();
	cJSON *cfg = reg_new(folder, "encrypt", NULL);
	struct ds_upload_result res;
	struct ds_fetch_page page;
	struct got *g = got_new();
	uint8_t img[65536];
	struct ds_remote *r;
	char p[1024];
	size_t len;

	(void)state;
	r = enroll_open(cfg, "contacts", "dev-a");
	assert_null(cJSON_GetObjectItem(cfg, "secret"));
	assert_int_equal(upload_one(r, "", "c1", "{\"name\":\"Ada\"}", &res), 0);
	assert_int_equal(r->ops->fetch(r, "", collect, g, &page), 0);
	assert_int_equal(g->n, 1);
	assert_string_equal(g->payload[0], "{\"name\":\"Ada\"}");
	/* Plain names and data, as documented; truncation is still detected. */
	snprintf(p, sizeof(p), "%s", batch_path(folder, "contacts", 1));
	len = file_read(p, img, sizeof(img));
	assert_true(contains(img, len, "Ada"));
	file_write(p, img, len - 2);
	got_clear(g);
	assert_int_equal(r->ops->fetch(r, "", collect, g, &page), -EBADMSG);
	file_write(p, img, len);
	assert_int_equal(r->ops->fetch(r, "", collect, g, &page), 0);
	cJSON_Delete(cfg);

	/* The folder's mode is fixed by its header. */
	cfg = reg_new(folder, "passphrase", "pw");
	assert_int_equal(ds_remote_enroll(cfg, "contacts"), -EINVAL);
	cJSON_Delete(cfg);
	/* A cleartext collection name becomes a folder name: no separators. */
	cfg = reg_new(folder, "encrypt", NULL);
	assert_int_equal(ds_remote_enroll(cfg, "../evil"), -EINVAL);
	assert_int_equal(ds_remote_enroll(cfg, ""), -EINVAL);
	cJSON_Delete(cfg);
	/* A cleartext batch dropped into an encrypted folder is a downgrade: refused. */
	char *enc = new_folder();
	struct ds_remote *e = pass_remote(enc, "contacts", "pw", "dev-a");
	struct ds_upload_result r2;
	char edir[80];
	assert_int_equal(upload_one(e, "", "x", "{}", &r2), 0);
	coll_dirname(enc, edir, sizeof(edir));
	file_write(batch_path(enc, edir, 1), img, len);
	got_clear(g);
	assert_int_equal(e->ops->fetch(e, "", collect, g, &page), -EBADMSG);
	e->ops->close(e);
	got_free(g);
	r->ops->close(r);
}

static void test_dispatch_and_forget(void **state)
{
	char *folder = new_folder();
	cJSON *cfg = reg_new(folder, "passphrase", "pw");
	struct ds_remote *r = NULL;

	(void)state;
	assert_int_equal(ds_remote_enroll(cfg, "c"), 0);
	assert_int_equal(ds_remote_enroll(cfg, "c"), 0); /* stored again: idempotent */
	assert_int_equal(ds_remote_open(cfg, "c", "dev-a", &r), 0);
	r->ops->close(r);
	assert_int_equal(ds_remote_forget(cfg, "c"), 0);
	assert_int_equal(ds_remote_open(cfg, "c", "dev-a", &r), -EACCES);
	assert_null(r);
	assert_int_equal(ds_remote_forget(cfg, "c"), 0);

	cJSON_ReplaceItemInObject(cfg, "kind", cJSON_CreateString("no-such-remote"));
	assert_int_equal(ds_remote_open(cfg, "c", "dev-a", &r), -ENOTSUP);
	assert_int_equal(ds_remote_enroll(cfg, "c"), -ENOTSUP);
	cJSON_DeleteItemFromObject(cfg, "kind");
	assert_int_equal(ds_remote_open(cfg, "c", "dev-a", &r), -EINVAL);
	cJSON_Delete(cfg);

	cfg = reg_new(folder, NULL, NULL);
	assert_int_equal(ds_remote_enroll(cfg, "c"), -EINVAL); /* no key, no "encrypt": false */
	cJSON_Delete(cfg);
}

/* Every allocation of an upload and a fetch fails in turn: an error, never a crash, a leak or a
 * half-written batch. */
static void test_allocation_failures(void **state)
{
	char *folder = new_folder();
	struct ds_remote *r = pass_remote(folder, "c", "pw", "dev-a");
	struct ds_upload_result res;
	struct ds_remote_info info;
	struct ds_fetch_page page;
	struct got *g = got_new();
	char cursor[DS_CURSOR_MAX] = "";
	unsigned long k, ok = 0;
	int rc;

	(void)state;
	assert_int_equal(r->ops->prepare(r, &info), 0);
	for (k = 1; k < 400 && ok < 3; k++) {
		ds_alloc_fail_after(k);
		rc = upload_one(r, cursor, "id", "{\"x\":1}", &res);
		ds_alloc_fail_after(0);
		if (rc == 0) {
			ok++;
			snprintf(cursor, sizeof(cursor), "%s", res.new_cursor);
		} else {
			assert_true(rc < 0 && rc != -ESTALE);
		}
		assert_int_equal(r->ops->prepare(r, &info), 0);
		assert_string_equal(info.latest, cursor); /* nothing but whole batches */
	}
	assert_true(ok >= 1);
	for (k = 1; k < 400; k++) {
		got_clear(g);
		ds_alloc_fail_after(k);
		rc = r->ops->fetch(r, "", collect, g, &page);
		ds_alloc_fail_after(0);
		if (rc == 0) {
			assert_int_equal(g->n, ok);
			break;
		}
		assert_true(rc < 0);
	}
	assert_int_equal(rc, 0);
	got_free(g);
	r->ops->close(r);
}

/* Child: write n one-record batches, refetching the head on every lost race. */
static int child_writer(const cJSON *cfg, const char *device, int n)
{
	struct ds_remote *r = NULL;
	int rc, i, stale = 0;

	ds_random_reset(); /* never repeat the parent's random stream */
	rc = ds_remote_open(cfg, "shared", device, &r);
	if (rc)
		return 10;
	for (i = 0; i < n;) {
		struct ds_remote_info info;
		struct ds_upload_result res;
		char id[64], payload[64];

		if (r->ops->prepare(r, &info))
			return 11;
		snprintf(id, sizeof(id), "%s-%d", device, i);
		snprintf(payload, sizeof(payload), "{\"i\":%d}", i);
		rc = upload_one(r, info.latest, id, payload, &res);
		if (rc == -ESTALE) {
			if (++stale > 100000)
				return 12;
			continue;
		}
		if (rc)
			return 13;
		i++;
	}
	r->ops->close(r);
	return 0;
}

static void test_two_processes_one_folder(void **state)
{
	char *folder = new_folder();
	cJSON *cfg = reg_new(folder, "passphrase", "pw");
	struct ds_remote *r = enroll_open(cfg, "shared", "dev-parent");
	const char *devs[2] = { "dev-p1", "dev-p2" };
	struct ds_remote_info info;
	struct got *g = got_new();
	char end[DS_CURSOR_MAX], dirname[80], tmp[1024];
	pid_t pid[2];
	int pages, st, i;

	(void)state;
	assert_int_equal(r->ops->prepare(r, &info), 0);
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			int rc = child_writer(cfg, devs[i], 50);

			/* The parent's objects are the child's copies: free them for leak checkers. */
			r->ops->close(r);
			cJSON_Delete(cfg);
			got_free(g);
			ds_port_deinit();
			_exit(rc);
		}
	}
	for (i = 0; i < 2; i++) {
		assert_int_equal(waitpid(pid[i], &st, 0), pid[i]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	assert_int_equal(fetch_all(r, "", g, end, &pages), 0);
	assert_string_equal(end, "100");
	assert_int_equal(g->n, 100);
	for (i = 0; i < 2; i++) {
		for (int k = 0; k < 50; k++) {
			char id[64];
			int seen = 0;

			snprintf(id, sizeof(id), "%s-%d", devs[i], k);
			for (size_t j = 0; j < g->n; j++)
				seen += !strcmp(g->id[j], id);
			assert_int_equal(seen, 1);
		}
	}
	assert_int_equal(r->ops->prepare(r, &info), 0);
	assert_string_equal(info.latest, "100");
	coll_dirname(folder, dirname, sizeof(dirname));
	snprintf(tmp, sizeof(tmp), "%s/%s/tmp", folder, dirname);
	assert_int_equal(count_entries(tmp), 0); /* losers cleaned up after themselves */
	cJSON_Delete(cfg);
	got_free(g);
	r->ops->close(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_second_device_stale_cursor),
		cmocka_unit_test(test_fetch_after_cursor),
		cmocka_unit_test(test_paging),
		cmocka_unit_test(test_wrong_passphrase),
		cmocka_unit_test(test_tampered_batch),
		cmocka_unit_test(test_truncated_batch),
		cmocka_unit_test(test_batch_moved),
		cmocka_unit_test(test_gap_is_corruption),
		cmocka_unit_test(test_header_deleted_epoch),
		cmocka_unit_test(test_collection_deleted_epoch),
		cmocka_unit_test(test_folder_missing),
		cmocka_unit_test(test_folder_reveals_no_names),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_malformed_under_valid_tag),
		cmocka_unit_test(test_cleartext_folder),
		cmocka_unit_test(test_dispatch_and_forget),
		cmocka_unit_test(test_allocation_failures),
		cmocka_unit_test(test_two_processes_one_folder),
#ifdef DIR_EXTRA_TESTS
		DIR_EXTRA_TESTS
#endif
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
