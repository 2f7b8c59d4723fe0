/* The sync worker thread (see ds_worker.h). */
#define DS_LOG_TAG "worker"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_SYNC
#include "core/ds_core.h"
#include "core/ds_loop.h"
#include "daemon/ds_agent.h"
#include "daemon/ds_worker.h"
#include "store/ds_store.h"
#include "sync/ds_sync.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct waiter {
	uint64_t conn;
	int64_t id;
};

struct job {
	char *name; /* NULL: every enabled collection */
	struct waiter *waiters;
	size_t nwaiters;
	cJSON *results;
	struct job *next;
};

struct run_end {
	char name[128];
	int result;
	int64_t backoff_s;
	int64_t hard_s;
	struct run_end *next;
};

/* The last run of each collection, also when the store could not record it (a full disk). */
struct last_run {
	struct last_run *next;
	char *name;
	struct ds_run_stats st;
};

struct ds_worker {
	struct ds_loop *loop;
	struct ds_store *store; /* used by the worker thread only once started */
	char device_id[33];
	ds_worker_done_fn done;
	void *user_data;
	pthread_t thread;
	bool started;

	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t cond;
	unsigned long ends_noted, ends_told; /* run ends queued for / handed to run_end */
	bool stop;
	struct job *queue, *running;
	struct job *finished; /* ended jobs for the loop thread to report */
	char current[128];    /* collection running now, "" when none */
	char phase[32];
	unsigned long done_n, total_n;
	ds_worker_run_end_fn run_end; /* set before the first job, read by both threads */
	void *run_end_data;
	struct run_end *ended;        /* runs to report to run_end, oldest first */
	struct last_run *last;        /* one per collection run since start */
};

static void job_free(struct job *j)
{
	if (!j)
		return;
	cJSON_Delete(j->results);
	ds_free(j->waiters);
	ds_free(j->name);
	ds_free(j);
}

const char *ds_worker_state_name(enum ds_worker_state s)
{
	switch (s) {
	case DS_WORKER_QUEUED: return "queued";
	case DS_WORKER_RUNNING: return "running";
	default: return "idle";
	}
}

/* Worker thread: the sync core's progress callback. */
static void on_progress(const char *collection, const char *phase, unsigned long done, unsigned long total,
			void *user_data)
{
	struct ds_worker *w = user_data;

	DS_UNUSED(collection);
	pthread_mutex_lock(&w->lock);
	snprintf(w->phase, sizeof(w->phase), "%s", phase ? phase : "");
	w->done_n = done;
	w->total_n = total;
	pthread_mutex_unlock(&w->lock);
}

/* Worker thread: remember st as name's last run (best effort: on no memory the store's record
 * stays the one status shows). */
static void remember_run(struct ds_worker *w, const char *name, const struct ds_run_stats *st)
{
	struct last_run *l;

	pthread_mutex_lock(&w->lock);
	for (l = w->last; l && strcmp(l->name, name); l = l->next)
		;
	if (!l && (l = ds_calloc(1, sizeof(*l))) != NULL) {
		l->name = ds_strdup(name);
		if (!l->name) {
			ds_free(l);
			l = NULL;
		} else {
			l->next = w->last;
			w->last = l;
		}
	}
	if (l)
		l->st = *st;
	pthread_mutex_unlock(&w->lock);
}

int ds_worker_last_run(struct ds_worker *w, const char *name, struct ds_run_stats *out)
{
	struct last_run *l;
	int rc = -ENOENT;

	pthread_mutex_lock(&w->lock);
	for (l = w->last; l; l = l->next)
		if (!strcmp(l->name, name)) {
			*out = l->st;
			rc = 0;
			break;
		}
	pthread_mutex_unlock(&w->lock);
	return rc;
}

/* Worker thread: one collection, start to end; the outcome goes into st, the server's
 * backoff request into *backoff_s and its hard part into *hard_s. */
static void run_one(struct ds_worker *w, const char *name, struct ds_run_stats *st, int64_t *backoff_s,
		    int64_t *hard_s)
{
	struct ds_collection *c = NULL;
	cJSON *reg = NULL;
	int rc;

	memset(st, 0, sizeof(*st));
	st->started_ms = ds_port_wall_ms();
	rc = ds_store_collection_get(w->store, name, &reg);
	if (rc) {
		st->result = rc;
		snprintf(st->message, sizeof(st->message), "cannot read the registration: %s",
			 ds_strerror(rc));
		goto out;
	}
	rc = ds_collection_open(reg, w->device_id, &c);
	if (rc) {
		st->result = rc;
		snprintf(st->message, sizeof(st->message), "cannot open the collection: %s", ds_strerror(rc));
		st->finished_ms = ds_port_wall_ms();
		/* ds_sync_run records its own runs; this one never reached it. */
		ds_store_run_record(w->store, name, st);
		goto out;
	}
	DS_LOG_INF("%s: sync starts", name);
	if (ds_port_wake_lock("sync"))
		DS_LOG_DBG("no wake lock");
	rc = ds_sync_run(c, w->store, st, on_progress, w);
	ds_port_wake_unlock("sync");
	/* Asked on success too: X-Weave-Backoff comes on 200 replies as well (sync15.md §6). */
	if (c->remote && c->remote->ops->backoff_s)
		*backoff_s = c->remote->ops->backoff_s(c->remote);
	if (*backoff_s > 0)
		*hard_s = c->remote->ops->hard_backoff_s ? c->remote->ops->hard_backoff_s(c->remote) : *backoff_s;
	st->result = rc;
	if (rc)
		DS_LOG_WRN("%s: sync failed: %s", name, st->message[0] ? st->message : ds_strerror(rc));
	else
		DS_LOG_INF("%s: sync done: %lu fetched, %lu applied, %lu uploaded, %lu conflicts", name,
			   st->fetched, st->applied, st->uploaded, st->conflicts);
out:
	if (!st->finished_ms)
		st->finished_ms = ds_port_wall_ms();
	remember_run(w, name, st);
	ds_collection_close(c);
	cJSON_Delete(reg);
}

/* Worker thread: the names a job covers. */
static cJSON *job_names(struct ds_worker *w, const struct job *j)
{
	cJSON *names = cJSON_CreateArray(), *list = NULL, *it;

	if (!names)
		return NULL;
	if (j->name) {
		cJSON_AddItemToArray(names, cJSON_CreateString(j->name));
		return names;
	}
	if (ds_store_collection_list(w->store, &list) == 0) {
		cJSON_ArrayForEach(it, list) {
			const char *n = ds_agent_json_str(it, "name", NULL);

			if (n && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "enabled")))
				cJSON_AddItemToArray(names, cJSON_CreateString(n));
		}
	}
	cJSON_Delete(list);
	return names;
}

static void report_finished(void *user_data);

/* Loop thread: hand ended runs to the scheduler. */
static void report_run_ends(void *user_data)
{
	struct ds_worker *w = user_data;
	struct run_end *r;

	pthread_mutex_lock(&w->lock);
	r = w->ended;
	w->ended = NULL;
	pthread_mutex_unlock(&w->lock);
	while (r) {
		struct run_end *next = r->next;

		if (w->run_end)
			w->run_end(r->name, r->result, r->backoff_s, r->hard_s, w->run_end_data);
		ds_free(r);
		r = next;
		pthread_mutex_lock(&w->lock);
		w->ends_told++;
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
	}
}

/* Worker thread: queue a run's end for report_run_ends(); true when it will be told. */
static bool note_run_end(struct ds_worker *w, const char *name, int result, int64_t backoff_s, int64_t hard_s)
{
	struct run_end *r, **tail;

	if (!w->run_end)
		return false;
	r = ds_calloc(1, sizeof(*r));
	if (!r) {
		DS_LOG_ERR("%s: out of memory: the scheduler misses the end of its run", name);
		return false;
	}
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->result = result;
	r->backoff_s = backoff_s;
	r->hard_s = hard_s;
	pthread_mutex_lock(&w->lock);
	for (tail = &w->ended; *tail; tail = &(*tail)->next)
		;
	*tail = r;
	w->ends_noted++;
	pthread_mutex_unlock(&w->lock);
	if (ds_loop_post(w->loop, report_run_ends, w)) {
		DS_LOG_ERR("cannot tell the loop a run ended");
		return false;
	}
	return true;
}

/* Worker thread: wait until the loop has handed every noted run end to the scheduler (or the
 * worker stops), so that what a server's backoff takes off the queue is not started meanwhile. */
static void wait_run_ends_told(struct ds_worker *w)
{
	pthread_mutex_lock(&w->lock);
	while (!w->stop && w->ends_told < w->ends_noted)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

static void *worker_main(void *arg)
{
	struct ds_worker *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct job *j;
		cJSON *names, *it;

		while (!w->stop && !w->queue)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop)
			break;
		j = w->queue;
		w->queue = j->next;
		j->next = NULL;
		w->running = j;
		pthread_mutex_unlock(&w->lock);

		names = job_names(w, j);
		j->results = cJSON_CreateArray();
		cJSON_ArrayForEach(it, names) {
			struct ds_run_stats st;
			int64_t backoff_s = 0, hard_s = 0;
			bool stop;

			pthread_mutex_lock(&w->lock);
			stop = w->stop;
			snprintf(w->current, sizeof(w->current), "%s", it->valuestring);
			w->phase[0] = '\0';
			w->done_n = w->total_n = 0;
			pthread_mutex_unlock(&w->lock);
			/* Shutting down: the run in progress finished; the rest of the job waits. */
			if (stop)
				break;
			run_one(w, it->valuestring, &st, &backoff_s, &hard_s);
			if (note_run_end(w, it->valuestring, st.result, backoff_s, hard_s) && backoff_s > 0)
				wait_run_ends_told(w);
			if (j->results)
				cJSON_AddItemToArray(j->results, ds_agent_stats_json(it->valuestring, &st));
		}
		cJSON_Delete(names);

		pthread_mutex_lock(&w->lock);
		w->current[0] = '\0';
		w->running = NULL;
		if (j->nwaiters) {
			j->next = w->finished;
			w->finished = j;
			if (ds_loop_post(w->loop, report_finished, w))
				DS_LOG_ERR("cannot tell the loop a run ended");
		} else {
			job_free(j);
		}
		if (!w->queue) {
			/* A run's buffers (pages of records, JSON trees, SQLite caches of the app
			 * databases it closed) are free now; the daemon may idle for hours. */
			pthread_mutex_unlock(&w->lock);
			ds_port_memory_trim();
			pthread_mutex_lock(&w->lock);
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Loop thread. */
static void report_finished(void *user_data)
{
	struct ds_worker *w = user_data;
	struct job *j;

	pthread_mutex_lock(&w->lock);
	j = w->finished;
	w->finished = NULL;
	pthread_mutex_unlock(&w->lock);
	while (j) {
		struct job *next = j->next;

		for (size_t i = 0; i < j->nwaiters; i++) {
			cJSON *r = j->results ? cJSON_Duplicate(j->results, true) : NULL;

			w->done(j->waiters[i].conn, j->waiters[i].id, r, w->user_data);
		}
		job_free(j);
		j = next;
	}
}

int ds_worker_start(struct ds_loop *l, const char *db_path, const char *device_id, ds_worker_done_fn done,
		    void *user_data, struct ds_worker **out)
{
	struct ds_worker *w;
	int rc;

	*out = NULL;
	w = ds_calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->loop = l;
	w->done = done;
	w->user_data = user_data;
	snprintf(w->device_id, sizeof(w->device_id), "%s", device_id);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	/* Opened here so a failure is reported at start; from now on only the thread uses it. */
	rc = ds_store_open(db_path, &w->store);
	if (rc) {
		DS_LOG_ERR("worker: cannot open the store %s: %s", db_path, ds_strerror(rc));
		goto fail;
	}
	rc = -pthread_create(&w->thread, NULL, worker_main, w);
	if (rc)
		goto fail;
	w->started = true;
	*out = w;
	return 0;
fail:
	ds_worker_stop(w); /* no thread to join, nothing queued: closes the store, frees w */
	return rc;
}

void ds_worker_stop(struct ds_worker *w)
{
	struct job *j;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	if (w->current[0])
		DS_LOG_INF("waiting for the sync of %s to finish", w->current);
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	if (w->started)
		pthread_join(w->thread, NULL);
	for (j = w->queue; j;) {
		struct job *next = j->next;

		job_free(j);
		j = next;
	}
	for (j = w->finished; j;) {
		struct job *next = j->next;

		job_free(j);
		j = next;
	}
	while (w->ended) {
		struct run_end *next = w->ended->next;

		ds_free(w->ended);
		w->ended = next;
	}
	while (w->last) {
		struct last_run *next = w->last->next;

		ds_free(w->last->name);
		ds_free(w->last);
		w->last = next;
	}
	ds_store_close(w->store);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	ds_free(w);
}

static bool same_name(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

int ds_worker_queue(struct ds_worker *w, const char *name, bool has_waiter, uint64_t conn, int64_t id)
{
	struct job *j, **tail;
	int rc = 0;

	pthread_mutex_lock(&w->lock);
	for (tail = &w->queue; *tail; tail = &(*tail)->next)
		if (same_name((*tail)->name, name))
			break;
	j = *tail;
	if (!j) {
		j = ds_calloc(1, sizeof(*j));
		if (!j || (name && !(j->name = ds_strdup(name)))) {
			job_free(j);
			rc = -ENOMEM;
			goto out;
		}
		*tail = j;
	}
	if (has_waiter) {
		struct waiter *nw = ds_realloc(j->waiters, (j->nwaiters + 1) * sizeof(*nw));

		if (!nw) {
			rc = -ENOMEM;
			goto out;
		}
		j->waiters = nw;
		j->waiters[j->nwaiters++] = (struct waiter){ conn, id };
	}
	pthread_cond_signal(&w->cond);
out:
	pthread_mutex_unlock(&w->lock);
	return rc;
}

void ds_worker_on_run_end(struct ds_worker *w, ds_worker_run_end_fn fn, void *user_data)
{
	pthread_mutex_lock(&w->lock);
	w->run_end = fn;
	w->run_end_data = user_data;
	pthread_mutex_unlock(&w->lock);
}

int ds_worker_unqueue(struct ds_worker *w, const char *name)
{
	struct job **p;
	int removed = 0;

	pthread_mutex_lock(&w->lock);
	for (p = &w->queue; *p; p = &(*p)->next) {
		struct job *j = *p;

		if (j->name && !strcmp(j->name, name) && !j->nwaiters) {
			*p = j->next;
			job_free(j);
			removed = 1;
			break;
		}
	}
	pthread_mutex_unlock(&w->lock);
	return removed;
}

enum ds_worker_state ds_worker_state(struct ds_worker *w, const char *name, char *phase, size_t cap,
				     unsigned long *done, unsigned long *total)
{
	enum ds_worker_state s = DS_WORKER_IDLE;

	pthread_mutex_lock(&w->lock);
	if (!strcmp(w->current, name)) {
		s = DS_WORKER_RUNNING;
		if (phase)
			snprintf(phase, cap, "%s", w->phase);
		if (done)
			*done = w->done_n;
		if (total)
			*total = w->total_n;
	} else {
		for (struct job *j = w->queue; j; j = j->next)
			if (!j->name || !strcmp(j->name, name))
				s = DS_WORKER_QUEUED;
	}
	pthread_mutex_unlock(&w->lock);
	return s;
}
