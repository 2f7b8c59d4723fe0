/*
 * Local-change detection for datasyncd: count what the app logged since the previous look.
 *
 * Why these two statements:
 *  - PRAGMA data_version "will be different if changes were committed to the database by any
 *    other connection in the interim" (https://sqlite.org/pragma.html#pragma_data_version).
 *    Our connection never writes, so an unchanged value means nobody did: the poll ends there,
 *    without parsing or running a query. The value is per connection, which is why the handle
 *    keeps its connection open between polls.
 *  - The log has one row per (table, key) and the index (tbl, seq, pk), and seq comes from a
 *    counter that only grows; "seq > the largest seq seen" is a range scan over the new rows
 *    only, whatever the size of the table or of the backlog.
 *  - The counter restarts at 0 when the side tables are dropped and made again (unregister, then
 *    register): a counter below the largest seq seen means exactly that, and the count starts
 *    over.
 * The connection is read-only with no busy timeout: the daemon's loop thread must never wait
 * for an app's write lock. An open connection outside a transaction holds no lock, so the app
 * (and its checkpoints in WAL mode) never waits for us either.
 */
#define DS_LOG_TAG "table"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "engine/table/ds_table_pending.h"
#include "engine/table/table_int.h"

#include <string.h>

struct ds_table_pending {
	struct ds_table_cfg cfg;
	sqlite3 *db;
	sqlite3_stmt *version;
	sqlite3_stmt *count;
	int64_t data_version;
	bool have_version;
	int64_t last_seq; /* largest seq seen: rows above it are new */
};

/* The log names the table as the app spelled it; _datasync_tables has that spelling. */
static const char COUNT_SQL[] =
	"SELECT (SELECT n FROM _datasync_seq), count(*), max(seq) FROM _datasync_log"
	" WHERE tbl = (SELECT tbl FROM _datasync_tables WHERE tbl = ?1 COLLATE NOCASE) AND seq > ?2";

int ds_table_pending_open(const struct cJSON *engine_cfg, struct ds_table_pending **out)
{
	struct ds_table_pending *p;
	int rc;

	*out = NULL;
	p = ds_calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	rc = ds_table_cfg_parse(engine_cfg, &p->cfg);
	if (rc) {
		ds_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

static void disconnect(struct ds_table_pending *p)
{
	sqlite3_finalize(p->version);
	sqlite3_finalize(p->count);
	sqlite3_close(p->db);
	p->version = p->count = NULL;
	p->db = NULL;
	p->have_version = false;
}

void ds_table_pending_close(struct ds_table_pending *p)
{
	if (!p)
		return;
	disconnect(p);
	ds_table_cfg_free(&p->cfg);
	ds_free(p);
}

static int connect_db(struct ds_table_pending *p)
{
	int rc = sqlite3_open_v2(p->cfg.path, &p->db, SQLITE_OPEN_READONLY, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(p->db, "PRAGMA data_version", -1, &p->version, NULL);
	if (rc != SQLITE_OK) {
		int err = ds_table_errno(rc);

		DS_LOG_DBG("%s: not watched yet: %s", p->cfg.path, p->db ? sqlite3_errmsg(p->db) : "out of memory");
		disconnect(p);
		return err;
	}
	return 0;
}

static int read_version(struct ds_table_pending *p, int64_t *v)
{
	int rc = sqlite3_step(p->version);

	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(p->version, 0);
	sqlite3_reset(p->version);
	return rc == SQLITE_ROW ? 0 : ds_table_errno(rc == SQLITE_DONE ? SQLITE_ERROR : rc);
}

/* One count of the rows above last_seq: 0, 1 when the counter restarted, or -errno. */
static int count_new(struct ds_table_pending *p, unsigned long *changed)
{
	int rc, ret = 0;

	sqlite3_bind_text(p->count, 1, p->cfg.table, -1, SQLITE_STATIC);
	sqlite3_bind_int64(p->count, 2, p->last_seq);
	rc = sqlite3_step(p->count);
	if (rc == SQLITE_ROW) {
		bool restarted = sqlite3_column_type(p->count, 0) != SQLITE_NULL &&
				 sqlite3_column_int64(p->count, 0) < p->last_seq;

		if (restarted) {
			p->last_seq = 0;
			ret = 1;
		} else {
			*changed = (unsigned long)sqlite3_column_int64(p->count, 1);
			if (sqlite3_column_type(p->count, 2) != SQLITE_NULL)
				p->last_seq = sqlite3_column_int64(p->count, 2);
		}
	} else {
		ret = ds_table_errno(rc == SQLITE_DONE ? SQLITE_ERROR : rc);
	}
	sqlite3_reset(p->count);
	return ret;
}

int ds_table_pending_poll(struct ds_table_pending *p, unsigned long *changed)
{
	int64_t v = 0;
	int rc;

	*changed = 0;
	if (!p->db) {
		rc = connect_db(p);
		if (rc)
			return rc;
	}
	rc = read_version(p, &v);
	if (rc) {
		/* A database replaced or gone under the connection: open it again next time. */
		if (rc != -EBUSY)
			disconnect(p);
		return rc;
	}
	if (p->have_version && v == p->data_version)
		return 0;
	if (!p->count) {
		rc = sqlite3_prepare_v2(p->db, COUNT_SQL, -1, &p->count, NULL);
		if (rc != SQLITE_OK) {
			/* No change log (yet): nothing to count until somebody writes again. */
			rc = (rc & 0xff) == SQLITE_ERROR ? -ENOENT : ds_table_errno(rc);
			sqlite3_finalize(p->count);
			p->count = NULL;
			if (rc == -ENOENT) {
				p->data_version = v;
				p->have_version = true;
			}
			return rc;
		}
	}
	rc = count_new(p, changed);
	if (rc == 1)
		rc = count_new(p, changed);
	if (rc) {
		if ((rc == -ENOENT || rc == -EIO) && p->count) {
			/* The side tables went (unregistered): prepare again after the next write. */
			sqlite3_finalize(p->count);
			p->count = NULL;
		}
		return rc < 0 ? rc : -EIO;
	}
	p->data_version = v;
	p->have_version = true;
	return 0;
}
