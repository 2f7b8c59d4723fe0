/*
 * engine_sync_fixture.h - devices and engines for the browser engines' unit tests (test/support/).
 *
 * A device is an engine's database, a metadata store and a collection: the engine over the Sync
 * 1.5 remote talking to the in-process storage node (fake_sync15.h). The engine tests share the
 * temp directory and the one-record transaction they apply records with (engine_fixture.c, in
 * every build; the devices need CONFIG_DS_REMOTE_SYNC15).
 */
#ifndef DS_TEST_ENGINE_SYNC_FIXTURE_H
#define DS_TEST_ENGINE_SYNC_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "remote/sync15/ds_sync15.h"
#include "sync/ds_sync.h"
#include "test/support/firefox_fixture.h"

struct sqlite3;
struct ds_fake_sync15;
struct ds_store;

struct esf_dev {
	struct ds_store *store;
	struct ds_collection *c;
	struct ds_sync15_global g;
	char meta[600];      /* the metadata store */
	char path[600];      /* the engine's database */
	struct sqlite3 *db;  /* the app's own connection to path (NULL: none) */
};

/* In engine_fixture.c: the test's temp directory: DS_TEST_TMP, else a new one under P_tmpdir named ds-<tag>-XXXXXX. */
void esf_tmpdir(char *out, size_t n, const char *tag);

/* Zeroes d and names its files in dir: <tag>-<pid>-<n>.db and <tag>-<pid>-<n>.sqlite. */
void esf_dev_names(struct esf_dev *d, const char *dir, const char *tag);
/* The app's connection to d->path (waits up to 2 s on the engine's locks). */
void esf_dev_open_db(struct esf_dev *d);
/* Opens the store at d->meta and the collection rc->collection: engine e (taken) over the
 * sync15 remote of rc on srv's node (rc's auth, transport and global are filled in here). */
void esf_dev_connect(struct esf_dev *d, struct ds_fake_sync15 *srv,
		     const struct ds_sync15_remote_config *rc, const struct ds_policy *p,
		     struct ds_engine *e);
/* Closes the collection and the store and clears the sync15 state (a sign-out: a new store at
 * d->meta is a device signed in afresh); the files stay. */
void esf_dev_disconnect(struct esf_dev *d);
/* Disconnects, closes the app's connection and removes both files (no-op on a zeroed d). */
void esf_dev_close(struct esf_dev *d);

/* One run that must succeed with exactly errors records skipped (the remote's error in the
 * message); esf_sync_ok: none skipped. */
void esf_sync_expect(struct esf_dev *d, unsigned long errors);
void esf_sync_ok(struct esf_dev *d);
/* Another client's record: clear encrypted with the collection's key of the account's
 * crypto/keys on srv (ksync: the account's kSync), stored as coll/id. */
void esf_other_client_put(struct ds_fake_sync15 *srv, const uint8_t ksync[64], const char *coll,
			  const char *id, const char *clear);
/* The first column of the first row of sql on the app's connection, or -1 (inline: only the
 * tests that use it need firefox_fixture.c). */
static inline int64_t esf_q(struct esf_dev *d, const char *sql)
{
	return ffx_sql_int(d->db, sql);
}

/* In engine_fixture.c (no remote needed): */
/* The whole of test/data/<folder>/<name>, NUL-terminated (free()); fails the test if missing. */
char *esf_read_data(const char *folder, const char *name);
/* A new database name <tag>-<pid>-<n>.sqlite in the temp directory (esf_tmpdir). */
void esf_db_path(char *out, size_t n, const char *tag);
/* The app's own connection to path (waits up to 2 s on the engine's locks). */
void esf_open_db(const char *path, struct sqlite3 **db);
/* Closes the engine (if any) and the app's connection, removes the database. */
void esf_engine_close(struct ds_engine *e, struct sqlite3 *db, const char *path);
/* One record (payload NULL: a tombstone) applied in its own engine transaction; the apply's
 * result (the transaction rolled back when it fails). */
int esf_apply(struct ds_engine *e, const char *id, const char *payload);

#endif
