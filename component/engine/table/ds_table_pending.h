/*
 * ds_table_pending.h - how many changes an app made to a registered table since we last looked,
 * read from its change log (docs/engine-table.md) on a read-only connection of its own.
 *
 * For datasyncd's local-change detection (docs/scheduler.md): one handle per table collection,
 * kept open, polled on a timer. A poll costs one PRAGMA data_version when nobody wrote to the
 * database since the previous poll, and one indexed range query over the new log rows when
 * somebody did. It never writes and never waits for a lock.
 */
#ifndef DS_TABLE_PENDING_H
#define DS_TABLE_PENDING_H

struct cJSON;
struct ds_table_pending;

/*
 * Check the engine configuration ({"kind":"table","db":PATH,"table":T,...}) and make a handle.
 * The database is opened by the first poll, so a database that is not there yet is no error
 * here. -EINVAL (bad configuration), -ENOMEM.
 */
int ds_table_pending_open(const struct cJSON *engine_cfg, struct ds_table_pending **out);
void ds_table_pending_close(struct ds_table_pending *p);

/*
 * Keys of the table logged as changed since the previous successful poll (the first poll:
 * every key pending now) go to *changed. A key changed ten times between two polls counts
 * once: the log keeps one row per key. Rows the engine has uploaded and removed meanwhile are
 * not counted. 0; -EBUSY when a writer holds the database (rollback journal) and nothing was
 * read (the next poll sees those changes); -ENOENT when the database or its change log is
 * missing (not prepared yet, or unregistered); other -errno.
 */
int ds_table_pending_poll(struct ds_table_pending *p, unsigned long *changed);

#endif /* DS_TABLE_PENDING_H */
