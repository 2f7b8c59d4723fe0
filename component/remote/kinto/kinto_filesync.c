/*
 * kinto_filesync.c - when a record's file moves (docs/remote-kinto.md "Files"): after a record
 * was written its file goes up if it changed, after a record was fetched its attachment comes
 * down if it is new to us. The state map's kv table remembers per record id
 * "file:<id>" = "<SHA-256 of the local file> <hash of the attachment>" as last synced, so an
 * unchanged file is neither sent again with every edit of its row nor downloaded again when
 * our own upload comes back from the server. "att:<id>" keeps the record's attachment object as
 * the server last gave it: a record is written with PUT, which replaces every field, so the
 * next write of the row carries it again (else the row's edit would drop its file).
 */
#define DS_LOG_TAG "kinto"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_REMOTE
#include "core/ds_core.h"
#include "remote/kinto/kinto_priv.h"
#include "ds_port.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFLICT_EXT ".conflict"

struct synced {
	char local[65];
	char att[65];
};

static int synced_get(struct ds_kinto_state *st, const char *id, struct synced *s)
{
	char k[300], v[160];
	int rc;

	memset(s, 0, sizeof(*s));
	snprintf(k, sizeof(k), "file:%s", id);
	rc = ds_kinto_state_kv_get(st, k, v, sizeof(v));
	if (rc)
		return rc;
	if (strlen(v) != 129 || v[64] != ' ')
		return -ENOENT;
	memcpy(s->local, v, 64);
	memcpy(s->att, v + 65, 64);
	return 0;
}

static int synced_set(struct ds_kinto_state *st, const char *id, const char *local, const char *att)
{
	char k[300], v[160];

	snprintf(k, sizeof(k), "file:%s", id);
	snprintf(v, sizeof(v), "%s %s", local, att);
	return ds_kinto_state_kv_set(st, k, v);
}

#define ATT_MAX 4096

static int att_set(struct ds_kinto_state *st, const char *id, const char *json, size_t len)
{
	char k[300], *v;
	int rc;

	if (len >= ATT_MAX)
		return 0; /* not kept: an edit of the row would then drop it, logged below */
	v = ds_malloc(len + 1);
	if (!v)
		return -ENOMEM;
	memcpy(v, json, len);
	v[len] = '\0';
	snprintf(k, sizeof(k), "att:%s", id);
	rc = ds_kinto_state_kv_set(st, k, v);
	ds_free(v);
	return rc;
}

int ds_kinto_files_with_att(struct ds_kinto_state *st, const char *id, const char *data, char **out)
{
	char k[300], *att = ds_malloc(ATT_MAX);
	size_t n = strlen(data);
	int rc;

	*out = NULL;
	if (!att)
		return -ENOMEM;
	snprintf(k, sizeof(k), "att:%s", id);
	rc = ds_kinto_state_kv_get(st, k, att, ATT_MAX);
	if (rc == -ENOENT || (rc == 0 && (!*att || !strcmp(att, "null")))) {
		ds_free(att);
		return 0;
	}
	if (rc || n < 2 || data[n - 1] != '}') {
		ds_free(att);
		return rc ? rc : -EBADMSG;
	}
	/* data is an object's text: put the member before its closing brace. */
	*out = ds_asprintf("%.*s%s\"attachment\":%s}", (int)(n - 1), data,
			   n > 2 ? "," : "", att);
	ds_free(att);
	return *out ? 0 : -ENOMEM;
}

int ds_kinto_files_on_written(struct ds_kinto_files *f, struct ds_kinto_api *a,
			      struct ds_kinto_state *st, const struct ds_kinto_key *key,
			      const char *coll, const char *coll_path, const struct ds_record *rec,
			      int64_t *new_ms)
{
	struct ds_kinto_file_result res = { 0 };
	struct synced was;
	char *path = NULL, local[65];
	int rc;

	*new_ms = 0;
	if (!f || rec->deleted)
		return 0;
	rc = ds_kinto_files_path(f, rec->payload, &path);
	if (rc == -EINVAL)
		return 0; /* logged; the record itself went up */
	if (rc || !path)
		return rc;
	rc = ds_kinto_file_sha256(path, local, NULL);
	if (rc == -ENOENT) {
		DS_LOG_WRN("%s: a record names a file that does not exist; sent without it", a->name);
		rc = 0;
		goto out;
	}
	if (rc)
		goto out;
	if (synced_get(st, rec->id, &was) == 0 && !strcmp(was.local, local))
		goto out; /* the row changed, its file did not */
	rc = ds_kinto_file_upload(a, key, coll, coll_path, rec->id, path, &res);
	if (rc)
		goto out;
	DS_LOG_DBG("%s: file of %s uploaded (%llu bytes)", a->name, rec->id,
		   (unsigned long long)res.size);
	rc = synced_set(st, rec->id, local, res.hash);
	if (rc == 0 && res.att)
		rc = att_set(st, rec->id, res.att, strlen(res.att));
	if (rc == 0 && res.new_ms)
		rc = ds_kinto_state_put_ours(st, rec->id, res.new_ms, false, true);
	*new_ms = res.new_ms;
out:
	ds_free(res.att);
	ds_free(path);
	return rc;
}

/* The folders of a name under the app's folder ("photos/2024/x.jpg"), made when missing. The
 * name was checked by ds_kinto_files_path: no "..", no absolute path. */
static int make_parents(const char *path, size_t dir_len)
{
	char *p = ds_strdup(path);
	int rc = 0;

	if (!p)
		return -ENOMEM;
	for (char *s = p + dir_len + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		rc = ds_port_file_mkdir(p, 0700);
		if (rc == -EEXIST)
			rc = 0;
		if (rc)
			break;
		*s = '/';
	}
	ds_free(p);
	return rc;
}

struct att_find {
	const char *val;
	size_t len;
};

static int find_att(const char *key, size_t klen, const char *val, size_t vlen, void *ud)
{
	struct att_find *a = ud;

	if (klen == 10 && memcmp(key, "attachment", 10) == 0) {
		a->val = val;
		a->len = vlen;
	}
	return 0;
}

int ds_kinto_files_on_fetch(struct ds_kinto_files *f, struct ds_kinto_api *a,
			    struct ds_kinto_state *st, const struct ds_kinto_key *key,
			    const char *coll, const char *raw, size_t raw_len,
			    const struct ds_record *rec)
{
	struct ds_kinto_file_result res;
	struct att_find af = { 0 };
	struct synced was;
	char *path = NULL, *target = NULL, local[65], att_hash[65] = "";
	bool have_was, local_ok;
	int rc;

	if (!f || rec->deleted || !rec->payload)
		return 0;
	rc = ds_kinto_json_object_each(raw, raw_len, find_att, &af);
	if (rc)
		return rc;
	rc = af.val ? att_set(st, rec->id, af.val, af.len) : att_set(st, rec->id, "", 0);
	if (rc || !af.val || (af.len == 4 && !memcmp(af.val, "null", 4)))
		return rc;
	{
		cJSON *j = cJSON_ParseWithLength(af.val, af.len);
		const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "hash");

		if (cJSON_IsString(h) && strlen(h->valuestring) == 64)
			memcpy(att_hash, h->valuestring, 65);
		cJSON_Delete(j);
	}
	rc = ds_kinto_files_path(f, rec->payload, &path);
	if (rc == -EINVAL)
		return 0;
	if (rc || !path)
		return rc;
	have_was = synced_get(st, rec->id, &was) == 0;
	local_ok = ds_kinto_file_sha256(path, local, NULL) == 0;
	if (have_was && local_ok && !strcmp(was.att, att_hash))
		goto out; /* ours, or already here */
	if (local_ok && !key->set && !strcmp(local, att_hash)) {
		rc = synced_set(st, rec->id, local, att_hash); /* the same bytes are here already */
		goto out;
	}
	/*
	 * A local file changed since it was last synced (or never synced) is not overwritten by a
	 * remote one: the remote version is put next to it, and the app decides. The record's
	 * own conflict policy is applied by the core after this, on the row only.
	 */
	if (local_ok && (!have_was || strcmp(was.local, local))) {
		target = ds_asprintf("%s" CONFLICT_EXT, path);
		if (!target) {
			rc = -ENOMEM;
			goto out;
		}
		DS_LOG_WRN("%s: a file changed here and on the server; the server's copy is kept "
			   "as <name>" CONFLICT_EXT, a->name);
	}
	rc = make_parents(path, ds_kinto_files_dir_len(f));
	if (rc)
		goto out;
	rc = ds_kinto_file_download(a, key, coll, rec->id, af.val, af.len, target ? target : path,
				    &res);
	if (rc)
		goto out;
	if (!target) {
		rc = ds_kinto_file_sha256(path, local, NULL);
		if (rc == 0)
			rc = synced_set(st, rec->id, local, res.hash);
	}
out:
	ds_free(path);
	ds_free(target);
	return rc;
}

int ds_kinto_files_on_skipped(const struct ds_kinto_files *f, struct ds_kinto_state *st,
			      const char *raw, size_t raw_len, const char *id)
{
	struct att_find af = { 0 };
	struct synced was;
	char hash[65] = "";
	int rc;

	if (!f)
		return 0;
	rc = ds_kinto_json_object_each(raw, raw_len, find_att, &af);
	if (rc)
		return rc;
	rc = af.val ? att_set(st, id, af.val, af.len) : att_set(st, id, "", 0);
	if (rc || !af.val)
		return rc;
	{
		cJSON *j = cJSON_ParseWithLength(af.val, af.len);
		const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "hash");

		if (cJSON_IsString(h) && strlen(h->valuestring) == 64)
			memcpy(hash, h->valuestring, 65);
		cJSON_Delete(j);
	}
	/* The same file, now sealed: the local copy stays the synced one. */
	if (hash[0] && synced_get(st, id, &was) == 0)
		rc = synced_set(st, id, was.local, hash);
	return rc;
}

/* A principal as Kinto writes them (kinto.md §4): "account:bob", "system.Authenticated",
 * "/buckets/b/groups/g", ...: printable, no spaces, no quotes or backslashes. */
static bool principal_ok(const char *p, size_t n)
{
	if (n == 0 || n > 256)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] <= 0x20 || p[i] == '"' || p[i] == '\\' || p[i] == ',' ||
		    (unsigned char)p[i] >= 0x7f)
			return false;
	return true;
}

int ds_kinto_share_perms(const char *field, const char *payload, char **out)
{
	cJSON *j, *perms = NULL, *read;
	const cJSON *v;
	int rc = 0;

	*out = NULL;
	if (!field || !payload)
		return 0;
	j = cJSON_Parse(payload);
	if (!j)
		return -EBADMSG;
	v = cJSON_GetObjectItemCaseSensitive(j, field);
	perms = cJSON_CreateObject();
	read = perms ? cJSON_AddArrayToObject(perms, "read") : NULL;
	if (!read) {
		rc = -ENOMEM;
		goto out;
	}
	/* Always sent, even empty: a PUT replaces the record's permissions, so clearing the
	 * column takes the share back. */
	if (cJSON_IsString(v)) {
		const char *p = v->valuestring;

		while (*p) {
			size_t n;

			while (*p == ',' || *p == ' ')
				p++;
			n = strcspn(p, ", ");
			if (n == 0)
				break;
			if (!principal_ok(p, n)) {
				DS_LOG_WRN("a principal in \"%s\" is malformed; the record is shared with "
					   "nobody until it is fixed", field);
				cJSON_DeleteItemFromObject(perms, "read");
				read = cJSON_AddArrayToObject(perms, "read");
				if (!read)
					rc = -ENOMEM;
				break;
			}
			char *one = ds_malloc(n + 1);
			cJSON *item;

			if (!one) {
				rc = -ENOMEM;
				goto out;
			}
			memcpy(one, p, n);
			one[n] = '\0';
			item = cJSON_CreateString(one);
			ds_free(one);
			if (!item || !cJSON_AddItemToArray(read, item)) {
				cJSON_Delete(item);
				rc = -ENOMEM;
				goto out;
			}
			p += n;
		}
	}
	if (rc == 0) {
		char *text = cJSON_PrintUnformatted(perms);

		*out = text ? ds_strdup(text) : NULL;
		cJSON_free(text);
		rc = *out ? 0 : -ENOMEM;
	}
out:
	cJSON_Delete(perms);
	cJSON_Delete(j);
	return rc;
}
