/*
 * dsdev - one in-process "device" for integration tests and benchmarks.
 *
 *   dsdev --home DIR [-v] init --db APP.db --table T [--pk COL[,COL...]] --dir SHARED
 *                              --passphrase P [--name N] [--conflict C] [--direction D]
 *   dsdev --home DIR [-v] init --db APP.db --table T [--pk COL[,COL...]] --remote-json JSON ...
 *                              (any remote: JSON is the registration's "remote" object)
 *   dsdev --home DIR [-v] reset   (ds_sync_reset: after a wiped remote, upload this device again)
 *   dsdev --home DIR [-v] sync [--fail-alloc N] [--kill-at-progress N] [--kill-at-alloc N] [--count]
 *   dsdev --home DIR [-v] pending
 *   dsdev --home DIR [-v] dump
 *
 * A device is a home folder: DIR/data (the metadata store datasync.db, whose kv keeps the
 * device id), DIR/run and DIR/secrets, handed to ds_port_init(). The tool only calls the
 * product's API: registration goes through ds_remote_enroll() and ds_store_collection_put(),
 * and every later run reopens the stored registration, as the daemon does.
 *
 * Crash points for the crash tests, all deterministic:
 *  --kill-at-progress N  raise(SIGKILL) inside the N-th progress callback of the run;
 *  --kill-at-alloc N     raise(SIGKILL) at the N-th allocation made through ds_malloc/ds_realloc
 *                        from the start of the command (a point between two pieces of work);
 *  --fail-alloc N        make that allocation and every later one fail (ds_alloc_fail_after);
 *  --count               print "count progress=P allocs=A" after the run, to size the loops.
 * Allocation numbers are counted from the same place for the three options, so a probe run
 * with --count gives the range of the others.
 *
 * Exit status: 0 success, 1 the product returned an error (message on stdout), 2 usage.
 */
#include "core/ds_core.h"
#include "store/ds_store.h"
#include "sync/ds_sync.h"
#include "ds_port.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_NAME "t"

struct opts {
	const char *home;
	const char *cmd;
	const char *db;
	const char *table;
	const char *pk;
	const char *dir;
	const char *passphrase;
	const char *remote_json;
	const char *name;
	const char *conflict;
	const char *direction;
	unsigned long fail_alloc;
	unsigned long kill_progress;
	unsigned long kill_alloc;
	bool count;
	bool verbose;
};

struct device {
	struct ds_store *store;
	char device_id[65];
};

/* ---- crash points ------------------------------------------------------------------------- */

static unsigned long g_allocs;
static unsigned long g_kill_alloc;
static unsigned long g_progress;
static unsigned long g_kill_progress;

static void alloc_tick(void)
{
	if (++g_allocs == g_kill_alloc)
		raise(SIGKILL);
}

static void *count_malloc(size_t n, void *ud)
{
	DS_UNUSED(ud);
	alloc_tick();
	return malloc(n);
}

static void *count_realloc(void *p, size_t n, void *ud)
{
	DS_UNUSED(ud);
	alloc_tick();
	return realloc(p, n);
}

static void count_free(void *p, void *ud)
{
	DS_UNUSED(ud);
	free(p);
}

static void on_progress(const char *collection, const char *phase, unsigned long done,
			unsigned long total, void *user_data)
{
	const struct opts *o = user_data;

	g_progress++;
	if (o->verbose)
		fprintf(stderr, "progress %lu: %s %s %lu/%lu\n", g_progress, collection, phase, done,
			total);
	if (g_progress == g_kill_progress)
		raise(SIGKILL);
}

/* ---- device -------------------------------------------------------------------------------- */

static char *path_join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", a, b);
	return p;
}

static int port_up(const char *home)
{
	char *data = path_join(home, "data");
	char *run = path_join(home, "run");
	char *secrets = path_join(home, "secrets");
	int rc = -ENOMEM;

	if (data && run && secrets) {
		struct ds_port_config pc = { .data_dir = data, .run_dir = run, .secret_dir = secrets };
		rc = ds_port_init(&pc);
	}
#ifdef CONFIG_DS_PORT_SIM
	/*
	 * The sim clock restarts at DS_PORT_SIM_WALL_START_MS in every process; a device is run as
	 * many short processes, so set its wall clock to the real one, which is what the app's own
	 * edits are stamped with and what keeps server times increasing across runs.
	 */
	if (rc == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		if (now > ds_port_wall_ms())
			ds_port_sim_advance(now - ds_port_wall_ms());
	}
#endif
	free(data);
	free(run);
	free(secrets);
	return rc;
}

static int fail(const char *what, int rc)
{
	printf("error: %s: %s\n", what, ds_strerror(rc));
	return rc;
}

/* Open the store; with create, make the device id when the device has none yet. */
static int device_open(struct device *d, bool create)
{
	char *path = path_join(ds_port_path(DS_PATH_DATA), "datasync.db");
	int rc;

	memset(d, 0, sizeof(*d));
	if (!path)
		return fail("store path", -ENOMEM);
	rc = ds_store_open(path, &d->store);
	free(path);
	if (rc < 0)
		return fail("ds_store_open", rc);
	rc = ds_store_kv_get(d->store, "device_id", d->device_id, sizeof(d->device_id));
	if (rc == -ENOENT && create) {
		unsigned char raw[16];

		rc = ds_port_entropy(raw, sizeof(raw));
		if (rc < 0)
			return fail("ds_port_entropy", rc);
		for (size_t i = 0; i < sizeof(raw); i++)
			snprintf(d->device_id + 2 * i, 3, "%02x", raw[i]);
		rc = ds_store_kv_set(d->store, "device_id", d->device_id);
		if (rc < 0)
			return fail("ds_store_kv_set", rc);
	} else if (rc < 0) {
		return fail("device id (run init first)", rc);
	}
	return 0;
}

static void device_close(struct device *d)
{
	if (d->store)
		ds_store_close(d->store);
	d->store = NULL;
}

static int open_collection(struct device *d, const char *name, cJSON **reg,
			   struct ds_collection **c)
{
	int rc = ds_store_collection_get(d->store, name, reg);

	if (rc < 0)
		return fail("ds_store_collection_get", rc);
	rc = ds_collection_open(*reg, d->device_id, c);
	if (rc < 0)
		return fail("ds_collection_open", rc);
	return 0;
}

/* ---- commands ------------------------------------------------------------------------------ */

static int cmd_init(const struct opts *o, struct device *d)
{
	cJSON *reg = cJSON_CreateObject();
	cJSON *eng = cJSON_AddObjectToObject(reg, "engine");
	cJSON *rem = o->remote_json ? cJSON_Parse(o->remote_json) : cJSON_CreateObject();
	cJSON *pk = cJSON_AddArrayToObject(eng, "pk");
	struct ds_collection *c = NULL;
	char *pks = strdup(o->pk);
	int rc = -ENOMEM;

	if (!reg || !eng || !pk || !pks || !cJSON_IsObject(rem) || !cJSON_AddItemToObject(reg, "remote", rem)) {
		if (o->remote_json && !cJSON_IsObject(rem))
			printf("error: --remote-json is not a JSON object\n");
		cJSON_Delete(rem);
		goto out;
	}
	for (char *save = NULL, *col = strtok_r(pks, ",", &save); col; col = strtok_r(NULL, ",", &save))
		cJSON_AddItemToArray(pk, cJSON_CreateString(col));
	cJSON_AddStringToObject(reg, "name", o->name);
	cJSON_AddStringToObject(eng, "kind", "table");
	cJSON_AddStringToObject(eng, "db", o->db);
	cJSON_AddStringToObject(eng, "table", o->table);
	if (!o->remote_json) {
		cJSON_AddStringToObject(rem, "kind", "dir");
		cJSON_AddStringToObject(rem, "path", o->dir);
		cJSON_AddStringToObject(rem, "passphrase", o->passphrase);
	}
	cJSON_AddStringToObject(reg, "direction", o->direction);
	if (!cJSON_AddStringToObject(reg, "conflict", o->conflict))
		goto out;

	rc = ds_remote_enroll(rem, o->name);
	if (rc < 0) {
		fail("ds_remote_enroll", rc);
		goto out;
	}
	if (cJSON_GetObjectItemCaseSensitive(rem, "passphrase") ||
	    cJSON_GetObjectItemCaseSensitive(rem, "password") ||
	    cJSON_GetObjectItemCaseSensitive(rem, "key")) {
		printf("error: ds_remote_enroll left a secret in the registration\n");
		rc = -EINVAL;
		goto out;
	}
	/* Open once before storing, so a bad registration is refused at init, not at first sync. */
	rc = ds_collection_open(reg, d->device_id, &c);
	if (rc < 0) {
		fail("ds_collection_open", rc);
		goto out;
	}
	ds_collection_close(c);
	rc = ds_store_collection_put(d->store, o->name, reg);
	if (rc < 0)
		fail("ds_store_collection_put", rc);
	else
		printf("device %s: collection %s registered\n", d->device_id, o->name);
out:
	if (rc == -ENOMEM)
		printf("error: out of memory\n");
	free(pks);
	cJSON_Delete(reg);
	return rc;
}

static int cmd_sync(const struct opts *o, struct device *d)
{
	struct ds_collection *c = NULL;
	struct ds_run_stats st;
	cJSON *reg = NULL;
	int rc;

	memset(&st, 0, sizeof(st));
	rc = open_collection(d, o->name, &reg, &c);
	if (rc == 0) {
		rc = ds_sync_run(c, d->store, &st, on_progress, (void *)o);
		printf("sync %s: result=%d fetched=%lu applied=%lu uploaded=%lu conflicts=%lu errors=%lu "
		       "message=\"%s\"\n",
		       o->name, st.result, st.fetched, st.applied, st.uploaded, st.conflicts, st.errors,
		       st.message);
		/* What the scheduler would be told (Retry-After / Backoff from the server). */
		if (c->remote->ops->backoff_s && c->remote->ops->backoff_s(c->remote) > 0)
			printf("backoff %lld\n", (long long)c->remote->ops->backoff_s(c->remote));
		if (rc < 0)
			fail("ds_sync_run", rc);
	}
	if (c)
		ds_collection_close(c);
	cJSON_Delete(reg);
	return rc;
}

static int cmd_reset(const struct opts *o, struct device *d)
{
	struct ds_collection *c = NULL;
	cJSON *reg = NULL;
	int rc = open_collection(d, o->name, &reg, &c);

	if (rc == 0) {
		rc = ds_sync_reset(c, d->store);
		if (rc < 0)
			fail("ds_sync_reset", rc);
		else
			printf("reset %s\n", o->name);
	}
	if (c)
		ds_collection_close(c);
	cJSON_Delete(reg);
	return rc;
}

static int count_change(const struct ds_record *r, void *user_data)
{
	DS_UNUSED(r);
	(*(unsigned long *)user_data)++;
	return 0;
}

static int cmd_pending(const struct opts *o, struct device *d)
{
	struct ds_collection *c = NULL;
	unsigned long n = 0;
	cJSON *reg = NULL;
	int rc = open_collection(d, o->name, &reg, &c);

	if (rc == 0) {
		rc = c->engine->ops->changes(c->engine, count_change, &n);
		if (rc < 0)
			fail("engine changes", rc);
		else
			printf("%lu\n", n);
	}
	if (c)
		ds_collection_close(c);
	cJSON_Delete(reg);
	return rc;
}

static void print_json_string(const char *s, int n)
{
	putchar('"');
	for (int i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void print_value(sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL:
		fputs("null", stdout);
		break;
	case SQLITE_INTEGER:
		printf("%lld", (long long)sqlite3_column_int64(st, i));
		break;
	case SQLITE_FLOAT:
		printf("%.17g", sqlite3_column_double(st, i));
		break;
	case SQLITE_TEXT:
		print_json_string((const char *)sqlite3_column_text(st, i), sqlite3_column_bytes(st, i));
		break;
	default: {
		const unsigned char *b = sqlite3_column_blob(st, i);
		int n = sqlite3_column_bytes(st, i);

		fputs("x'", stdout);
		for (int k = 0; k < n; k++)
			printf("%02x", b[k]);
		putchar('\'');
	}
	}
}

/* Append "name" to buf, doubling quotes as SQL identifiers need. */
static int sql_ident(char *buf, size_t cap, const char *name)
{
	size_t n = strlen(buf);

	if (n + 2 >= cap)
		return -ENOSPC;
	buf[n++] = '"';
	for (; *name; name++) {
		if (n + 3 >= cap)
			return -ENOSPC;
		if (*name == '"')
			buf[n++] = '"';
		buf[n++] = *name;
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return 0;
}

/*
 * The app table, one row a line as a JSON object with the columns in table order, sorted by the
 * registered primary key: two devices hold the same data exactly when their dumps are equal.
 */
static int cmd_dump(const struct opts *o, struct device *d)
{
	const cJSON *eng, *db, *table, *pk, *col;
	char sql[1024] = "SELECT * FROM ";
	sqlite3_stmt *st = NULL;
	sqlite3 *h = NULL;
	cJSON *reg = NULL;
	int rc = ds_store_collection_get(d->store, o->name, &reg);

	if (rc < 0)
		return fail("ds_store_collection_get", rc);
	eng = cJSON_GetObjectItemCaseSensitive(reg, "engine");
	db = cJSON_GetObjectItemCaseSensitive(eng, "db");
	table = cJSON_GetObjectItemCaseSensitive(eng, "table");
	pk = cJSON_GetObjectItemCaseSensitive(eng, "pk");
	rc = -EINVAL;
	if (!cJSON_IsString(db) || !cJSON_IsString(table) || !cJSON_IsArray(pk)) {
		printf("error: stored registration has no engine db/table/pk\n");
		goto out;
	}
	if (sql_ident(sql, sizeof(sql), table->valuestring) < 0)
		goto out;
	strcat(sql, " ORDER BY ");
	cJSON_ArrayForEach(col, pk) {
		if (!cJSON_IsString(col) || sql_ident(sql, sizeof(sql), col->valuestring) < 0)
			goto out;
		if (col->next)
			strcat(sql, ",");
	}
	rc = -EIO;
	if (sqlite3_open_v2(db->valuestring, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
		printf("error: %s: %s\n", db->valuestring, h ? sqlite3_errmsg(h) : "cannot open");
		goto out;
	}
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		putchar('{');
		for (int i = 0; i < sqlite3_column_count(st); i++) {
			const char *name = sqlite3_column_name(st, i);

			if (i)
				putchar(',');
			print_json_string(name, (int)strlen(name));
			putchar(':');
			print_value(st, i);
		}
		puts("}");
	}
	if (step != SQLITE_DONE) {
		printf("error: %s: %s\n", db->valuestring, sqlite3_errmsg(h));
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(h);
	cJSON_Delete(reg);
	return rc;
}

/* ---- main ---------------------------------------------------------------------------------- */

static void usage(void)
{
	fputs("usage: dsdev --home DIR [-v] init --db APP.db --table T [--pk COL[,COL]] --dir SHARED\n"
	      "                            --passphrase P [--name N] [--conflict C] [--direction D]\n"
	      "       dsdev --home DIR [-v] sync [--fail-alloc N] [--kill-at-progress N]\n"
	      "                            [--kill-at-alloc N] [--count]\n"
	      "       dsdev --home DIR [-v] init --db APP.db --table T [--pk COL[,COL]]\n"
	      "                            --remote-json JSON [--name N] [--conflict C] [--direction D]\n"
	      "       dsdev --home DIR [-v] pending | dump | reset\n",
	      stderr);
}

static bool parse_ulong(const char *s, unsigned long *out)
{
	char *end;

	if (!s || !*s)
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0';
}

static bool parse_args(int argc, char **argv, struct opts *o)
{
	o->pk = "id";
	o->name = DEFAULT_NAME;
	o->conflict = "newest-wins";
	o->direction = "two-way";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok = true;

		if (!strcmp(a, "-v")) {
			o->verbose = true;
			continue;
		}
		if (!strcmp(a, "--count")) {
			o->count = true;
			continue;
		}
		if (a[0] != '-') {
			if (o->cmd)
				return false;
			o->cmd = a;
			continue;
		}
		if (!v)
			return false;
		if (!strcmp(a, "--home"))
			o->home = v;
		else if (!strcmp(a, "--db"))
			o->db = v;
		else if (!strcmp(a, "--table"))
			o->table = v;
		else if (!strcmp(a, "--pk"))
			o->pk = v;
		else if (!strcmp(a, "--dir"))
			o->dir = v;
		else if (!strcmp(a, "--passphrase"))
			o->passphrase = v;
		else if (!strcmp(a, "--remote-json"))
			o->remote_json = v;
		else if (!strcmp(a, "--name"))
			o->name = v;
		else if (!strcmp(a, "--conflict"))
			o->conflict = v;
		else if (!strcmp(a, "--direction"))
			o->direction = v;
		else if (!strcmp(a, "--fail-alloc"))
			ok = parse_ulong(v, &o->fail_alloc);
		else if (!strcmp(a, "--kill-at-progress"))
			ok = parse_ulong(v, &o->kill_progress);
		else if (!strcmp(a, "--kill-at-alloc"))
			ok = parse_ulong(v, &o->kill_alloc);
		else
			return false;
		if (!ok)
			return false;
		i++;
	}
	if (!o->home || !o->cmd)
		return false;
	if (!strcmp(o->cmd, "init"))
		return o->db && o->table && (o->remote_json || (o->dir && o->passphrase));
	return !strcmp(o->cmd, "sync") || !strcmp(o->cmd, "pending") || !strcmp(o->cmd, "dump") ||
	       !strcmp(o->cmd, "reset");
}

int main(int argc, char **argv)
{
	static const struct ds_allocator counting = {
		.malloc_fn = count_malloc,
		.realloc_fn = count_realloc,
		.free_fn = count_free,
	};
	struct opts o = { 0 };
	struct device d;
	int rc;

	if (!parse_args(argc, argv, &o)) {
		usage();
		return 2;
	}
	ds_log_set_max_level(o.verbose ? DS_LOG_DBG : DS_LOG_WRN);
	/* Line-buffered so that what was printed before a SIGKILL is in the log. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (!strcmp(o.cmd, "sync")) {
		g_kill_alloc = o.kill_alloc;
		g_kill_progress = o.kill_progress;
		if ((o.kill_alloc || o.count) && ds_set_allocator(&counting) < 0) {
			printf("error: this build has no allocator hook (CONFIG_DS_ALLOC_HOOK)\n");
			return 2;
		}
		ds_alloc_fail_after(o.fail_alloc);
	}

	rc = port_up(o.home);
	if (rc < 0) {
		fail("ds_port_init", rc);
		return 1;
	}
	rc = device_open(&d, !strcmp(o.cmd, "init"));
	if (rc == 0) {
		if (!strcmp(o.cmd, "init"))
			rc = cmd_init(&o, &d);
		else if (!strcmp(o.cmd, "sync"))
			rc = cmd_sync(&o, &d);
		else if (!strcmp(o.cmd, "pending"))
			rc = cmd_pending(&o, &d);
		else if (!strcmp(o.cmd, "reset"))
			rc = cmd_reset(&o, &d);
		else
			rc = cmd_dump(&o, &d);
	}
	device_close(&d);
	ds_port_deinit();
	if (!strcmp(o.cmd, "sync")) {
		ds_alloc_fail_after(0);
		if (o.count)
			printf("count progress=%lu allocs=%lu\n", g_progress, g_allocs);
		ds_set_allocator(NULL);
	}
	return rc < 0 ? 1 : 0;
}
