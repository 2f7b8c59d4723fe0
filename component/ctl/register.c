/* "datasyncctl register": a collection's registration from command-line options. */
#include "core/ds_core.h"
#include "ctl/ds_ctl.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET_FILE_MAX 4096

/* The daemon runs from "/": every path it gets must be absolute. */
static char *absolute(const char *p)
{
	char cwd[4096];

	if (p[0] == '/')
		return ds_strdup(p);
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	return ds_asprintf("%s/%s", cwd, p);
}

static bool add_path(cJSON *o, const char *key, const char *p)
{
	char *a = absolute(p);
	bool ok = a && cJSON_AddStringToObject(o, key, a);

	ds_free(a);
	return ok;
}

/* "a,b,c" -> ["a","b","c"] */
static bool add_list(cJSON *o, const char *key, const char *csv)
{
	cJSON *arr = cJSON_AddArrayToObject(o, key);
	char *copy = ds_strdup(csv), *save = NULL;

	if (!arr || !copy) {
		ds_free(copy);
		return false;
	}
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (*t)
			cJSON_AddItemToArray(arr, cJSON_CreateString(t));
	ds_free(copy);
	return cJSON_GetArraySize(arr) > 0;
}

/* Read a small file whole; NULL and a message on failure. */
static char *read_file(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (!f) {
		fprintf(stderr, "datasyncctl: cannot open %s: %s\n", path, strerror(errno));
		return NULL;
	}
	buf = ds_malloc(max + 1);
	if (!buf) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, max + 1, f);
	fclose(f);
	if (n > max) {
		fprintf(stderr, "datasyncctl: %s is larger than %zu bytes\n", path, max);
		ds_memzero(buf, max + 1);
		ds_free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static bool add_passphrase(cJSON *remote, const char *path)
{
	size_t n = 0;
	char *pw = read_file(path, SECRET_FILE_MAX, &n);
	bool ok;

	if (!pw)
		return false;
	/* The file's final line break is not part of the passphrase (echo pass > file). */
	while (n && (pw[n - 1] == '\n' || pw[n - 1] == '\r'))
		pw[--n] = '\0';
	if (!n || strlen(pw) != n) {
		fprintf(stderr, "datasyncctl: %s: the passphrase is empty or contains a NUL byte\n", path);
		ds_memzero(pw, SECRET_FILE_MAX + 1);
		ds_free(pw);
		return false;
	}
	ok = cJSON_AddStringToObject(remote, "passphrase", pw) != NULL;
	ds_memzero(pw, SECRET_FILE_MAX + 1);
	ds_free(pw);
	return ok;
}

static bool one_of(const char *v, const char *const *allowed)
{
	for (; *allowed; allowed++)
		if (!strcmp(v, *allowed))
			return true;
	return false;
}

static void wipe(cJSON *j)
{
	for (cJSON *it = j ? j->child : NULL; it; it = it->next) {
		if (cJSON_IsString(it) && it->string && !strcmp(it->string, "passphrase"))
			ds_memzero(it->valuestring, strlen(it->valuestring));
		wipe(it);
	}
}

void ds_ctl_registration_free(cJSON *reg)
{
	wipe(reg);
	cJSON_Delete(reg);
}

static cJSON *from_json_file(const char *path)
{
	size_t n = 0;
	char *text = read_file(path, 1024 * 1024, &n);
	cJSON *reg;

	if (!text)
		return NULL;
	reg = cJSON_ParseWithLength(text, n);
	ds_memzero(text, n);
	ds_free(text);
	if (!cJSON_IsObject(reg)) {
		fprintf(stderr, "datasyncctl: %s is not a JSON object\n", path);
		ds_ctl_registration_free(reg);
		return NULL;
	}
	return reg;
}

cJSON *ds_ctl_build_registration(int argc, char **argv)
{
	static const char *const directions[] = { "two-way", "import-only", "export-only", NULL };
	static const char *const conflicts[] = { "server-wins", "client-wins", "newest-wins", "merge", NULL };
	const char *engine = NULL, *db = NULL, *table = NULL, *pk = NULL, *columns = NULL;
	const char *remote_kind = NULL, *dir = NULL, *pass = NULL, *keyf = NULL;
	const char *direction = NULL, *conflict = NULL, *title = NULL;
	bool no_enc = false;
	cJSON *reg, *e, *r;

	if (argc == 2 && !strcmp(argv[0], "--json"))
		return from_json_file(argv[1]);
	if (argc < 1 || argv[0][0] == '-') {
		fprintf(stderr, "datasyncctl: register: expected NAME or --json FILE\n");
		return NULL;
	}
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char **slot = NULL;

		if (!strcmp(o, "--no-encryption")) {
			no_enc = true;
			continue;
		}
		if (!strcmp(o, "--engine")) slot = &engine;
		else if (!strcmp(o, "--db")) slot = &db;
		else if (!strcmp(o, "--table")) slot = &table;
		else if (!strcmp(o, "--pk")) slot = &pk;
		else if (!strcmp(o, "--columns")) slot = &columns;
		else if (!strcmp(o, "--remote")) slot = &remote_kind;
		else if (!strcmp(o, "--dir")) slot = &dir;
		else if (!strcmp(o, "--passphrase-file")) slot = &pass;
		else if (!strcmp(o, "--key-file")) slot = &keyf;
		else if (!strcmp(o, "--direction")) slot = &direction;
		else if (!strcmp(o, "--conflict")) slot = &conflict;
		else if (!strcmp(o, "--title")) slot = &title;
		if (!slot) {
			fprintf(stderr, "datasyncctl: register: unknown option '%s'\n", o);
			return NULL;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "datasyncctl: register: %s needs a value\n", o);
			return NULL;
		}
		*slot = argv[++i];
	}
	if (!engine || strcmp(engine, "table")) {
		fprintf(stderr, "datasyncctl: register: --engine table is required (the engine this tool knows)\n");
		return NULL;
	}
	if (!db || !table) {
		fprintf(stderr, "datasyncctl: register: --engine table needs --db PATH and --table T\n");
		return NULL;
	}
	if (!remote_kind || strcmp(remote_kind, "dir")) {
		fprintf(stderr, "datasyncctl: register: --remote dir is required (the remote this tool knows)\n");
		return NULL;
	}
	if (!dir) {
		fprintf(stderr, "datasyncctl: register: --remote dir needs --dir PATH\n");
		return NULL;
	}
	if ((pass != NULL) + (keyf != NULL) + no_enc != 1) {
		fprintf(stderr, "datasyncctl: register: give exactly one of --passphrase-file F, "
				"--key-file F, --no-encryption\n");
		return NULL;
	}
	if (direction && !one_of(direction, directions)) {
		fprintf(stderr, "datasyncctl: register: --direction: two-way, import-only or export-only\n");
		return NULL;
	}
	if (conflict && !one_of(conflict, conflicts)) {
		fprintf(stderr, "datasyncctl: register: --conflict: server-wins, client-wins, newest-wins or merge\n");
		return NULL;
	}
	reg = cJSON_CreateObject();
	if (!reg || !cJSON_AddStringToObject(reg, "name", argv[0]) ||
	    (title && !cJSON_AddStringToObject(reg, "title", title)))
		goto oom;
	e = cJSON_AddObjectToObject(reg, "engine");
	if (!e || !cJSON_AddStringToObject(e, "kind", "table") || !add_path(e, "db", db) ||
	    !cJSON_AddStringToObject(e, "table", table))
		goto oom;
	if (pk && !add_list(e, "pk", pk)) {
		fprintf(stderr, "datasyncctl: register: --pk needs at least one column\n");
		goto bad;
	}
	if (columns && !add_list(e, "columns", columns)) {
		fprintf(stderr, "datasyncctl: register: --columns needs at least one column\n");
		goto bad;
	}
	r = cJSON_AddObjectToObject(reg, "remote");
	if (!r || !cJSON_AddStringToObject(r, "kind", "dir") || !add_path(r, "path", dir))
		goto oom;
	if (pass && !add_passphrase(r, pass))
		goto bad;
	if (keyf && !add_path(r, "key_file", keyf))
		goto oom;
	if (no_enc && !cJSON_AddFalseToObject(r, "encrypt"))
		goto oom;
	if ((direction && !cJSON_AddStringToObject(reg, "direction", direction)) ||
	    (conflict && !cJSON_AddStringToObject(reg, "conflict", conflict)))
		goto oom;
	return reg;
oom:
	fprintf(stderr, "datasyncctl: out of memory\n");
bad:
	ds_ctl_registration_free(reg);
	return NULL;
}
