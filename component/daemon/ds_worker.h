/*
 * ds_worker.h - the sync worker: ONE thread that runs collections one after the other, with
 * its own store connection (SQLite connections are not shared across threads), so the loop
 * keeps answering the control socket during a run.
 */
#ifndef DS_WORKER_H
#define DS_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct ds_loop;
struct ds_worker;

/*
 * Told on the loop thread when a job someone waits for has ended: results is an array of
 * {"name","result","message",...} (one per collection run), owned by the callee.
 */
typedef void (*ds_worker_done_fn)(uint64_t conn, int64_t id, struct cJSON *results, void *user_data);

int ds_worker_start(struct ds_loop *l, const char *db_path, const char *device_id, ds_worker_done_fn done,
		    void *user_data, struct ds_worker **out);
/*
 * Let the running collection finish (a run is crash-safe, but finishing is kinder than
 * cutting), drop the queue and join the thread. Call after the loop has stopped running.
 */
void ds_worker_stop(struct ds_worker *w);

/*
 * Queue a run of name (NULL: every enabled collection). With has_waiter, done() is called with
 * (conn, id) when it ends. A request for a name already queued joins that job.
 */
int ds_worker_queue(struct ds_worker *w, const char *name, bool has_waiter, uint64_t conn, int64_t id);

/*
 * Told on the loop thread after every collection run (the scheduler's ds_sched_done()):
 * result 0 or -errno, backoff_s what the remote asked (0: nothing), hard_s the part of it that
 * binds a person's request too (struct ds_remote_ops.hard_backoff_s). After a run whose server
 * asked to back off, the worker starts nothing more until this callback has returned, so it
 * can take the server's other queued runs back (ds_worker_unqueue).
 */
typedef void (*ds_worker_run_end_fn)(const char *name, int result, int64_t backoff_s, int64_t hard_s,
				     void *user_data);
void ds_worker_on_run_end(struct ds_worker *w, ds_worker_run_end_fn fn, void *user_data);

/*
 * Take name's job out of the queue if it has not started (a scheduled run cut by its budget
 * or by network loss). Returns 1 if removed, 0 if it was not queued; a job with waiters is
 * left alone (someone asked for it) and gives 0.
 */
int ds_worker_unqueue(struct ds_worker *w, const char *name);

/*
 * The last run of name since the daemon started, kept in memory: the store records runs too,
 * but cannot when it is the thing that failed (a full or read-only data folder), and status
 * must still tell the truth. 0 and *out filled, or -ENOENT.
 */
struct ds_run_stats;
int ds_worker_last_run(struct ds_worker *w, const char *name, struct ds_run_stats *out);

enum ds_worker_state { DS_WORKER_IDLE = 0, DS_WORKER_QUEUED, DS_WORKER_RUNNING };

/* State of one collection; when running, its progress (phase may be "" before the first). */
enum ds_worker_state ds_worker_state(struct ds_worker *w, const char *name, char *phase, size_t cap,
				     unsigned long *done, unsigned long *total);
const char *ds_worker_state_name(enum ds_worker_state s);

#endif /* DS_WORKER_H */
