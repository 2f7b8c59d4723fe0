/*
 * ds_agent.h - datasyncd's daemon logic (everything but main()): the loop, the store, the
 * control socket, port events, the scheduler and the sync worker.
 */
#ifndef DS_AGENT_H
#define DS_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ds_conf.h"
#include "ds_port.h"
#include "sched/ds_sched.h"

struct cJSON;
struct ds_changes;
struct ds_ipc_server;
struct ds_loop;
struct ds_store;
struct ds_tasks;
struct ds_worker;
struct ds_run_stats;

#define DS_AGENT_EVENTS 16 /* port events kept for "status" */

struct ds_agent_event {
	int64_t mono_ms;
	int64_t wall_ms;
	const char *type; /* "power", "net", "idle", "shutdown" */
	char text[96];
};

struct ds_agent {
	struct ds_conf conf;
	char *config_path;     /* reloaded on SIGHUP */
	char *start_dir;       /* relative paths in the file are taken from here */
	bool config_explicit;  /* -c given: a missing file is an error */
	int verbosity;         /* -v/-q on top of log_level */
	bool daemonized;
	struct ds_loop *loop;
	struct ds_store *store; /* the loop thread's connection */
	char *db_path;
	struct ds_ipc_server *ipc;
	struct ds_worker *worker;
	char device_id[33];
	int64_t started_mono;

	struct ds_power_state power;
	struct ds_net_state net;
	bool idle;
	struct ds_agent_event events[DS_AGENT_EVENTS];
	unsigned event_next; /* ring write index */
	unsigned long events_seen;

	/* The scheduler (policy.c): what runs when. */
	struct ds_sched *sched;
	struct ds_sched_batch batch; /* the running batch (n = 0: none) */
	bool batch_lock;             /* holding the "sched" wake lock for it */
	int64_t next_sched_mono;     /* the scheduler's timer, -1: none */
	unsigned long batches;
	char last_batch[96];         /* "2 collections at t+120s", "" before the first */
	int64_t last_batch_wall;
	unsigned reloads;
	struct ds_changes *changes;  /* local-change detection (changes.c), NULL: none */
	struct ds_tasks *tasks;      /* app tasks (tasks.c) */
};

/* Takes the configuration (moved into the agent). The port must be initialised. */
int ds_agent_new(struct ds_conf *conf, const char *config_path, bool config_explicit, const char *start_dir,
		 int verbosity, bool daemonized, struct ds_agent **out);
int ds_agent_run(struct ds_agent *a);
void ds_agent_free(struct ds_agent *a);
struct ds_loop *ds_agent_loop(struct ds_agent *a);

/* Re-read the configuration file (SIGHUP): log level and output, intervals, thresholds. */
int ds_agent_reload(struct ds_agent *a);
/* The string member k of a stored registration (or any JSON object o), or dflt when it is
 * missing or not a string. */
const char *ds_agent_json_str(const struct cJSON *o, const char *k, const char *dflt);
/* The member of the store's collection list named name, or NULL. */
struct cJSON *ds_agent_list_find(const struct cJSON *list, const char *name);

/* Effective log level from the config and -v/-q. */
int ds_agent_log_level(const struct ds_agent *a);
void ds_agent_apply_logging(const struct ds_agent *a);

/* commands.c: the control socket's request handler. */
int ds_agent_handle_request(struct ds_ipc_server *s, uint64_t conn, int64_t id, const char *cmd,
			    struct cJSON *req, void *user_data);
/* Called on the loop thread when the worker ends a run someone waits for. */
void ds_agent_sync_done(uint64_t conn, int64_t id, struct cJSON *results, void *user_data);

/* status.c */
struct cJSON *ds_agent_status_json(struct ds_agent *a);
struct cJSON *ds_agent_collections_json(struct ds_agent *a, int *err);
struct cJSON *ds_agent_stats_json(const char *name, const struct ds_run_stats *st);
/* An event's text into buf; returns its type's name ("power", "net", ...). */
const char *ds_agent_event_text(const struct ds_port_event *ev, char *buf, size_t cap);

/* policy.c: the daemon's side of the scheduler. */
int ds_agent_sched_start(struct ds_agent *a); /* after the worker started */
void ds_agent_sched_stop(struct ds_agent *a);
/* Re-read collections (only: one of them, NULL: all) and policies from the store and conf. */
int ds_agent_sched_reload(struct ds_agent *a, const char *only);
/* Poll the scheduler now: queue its batch, re-arm its timer. */
void ds_agent_sched_kick(struct ds_agent *a);
void ds_agent_sched_event(struct ds_agent *a, const struct ds_port_event *ev);
/* A "schedule" object onto p: 0, or -EINVAL with the reason in err. */
int ds_agent_sched_parse(const struct cJSON *o, struct ds_sched_policy *p, char *err, size_t cap);
struct cJSON *ds_agent_sched_json(struct ds_agent *a);
/* name's "datasyncctl set" override, kept in the store's kv table: NULL if there is none or it
 * does not parse. */
struct cJSON *ds_agent_sched_override_get(struct ds_agent *a, const char *name);
/* Keep json as name's override ("{}": none); -E2BIG if it is longer than _get() reads. */
int ds_agent_sched_override_set(struct ds_agent *a, const char *name, const char *json);
/* One collection's schedule for "list"/"status", NULL if the scheduler does not know it. */
struct cJSON *ds_agent_sched_info_json(struct ds_agent *a, const char *name);

#endif /* DS_AGENT_H */
