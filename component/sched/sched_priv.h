/* The scheduler's private state (sched.c decides, sched_info.c explains). */
#ifndef DS_SCHED_PRIV_H
#define DS_SCHED_PRIV_H

#include "sched/ds_sched.h"

struct sched_entry {
	char name[DS_SCHED_NAME_MAX + 1];
	char title[DS_SCHED_TITLE_MAX + 1];
	char server[DS_SCHED_SERVER_MAX + 1];
	struct ds_sched_policy pol;
	bool enabled, app_task, running;
	int64_t last_run_ms, last_ok_ms;  /* -1: never */
	int64_t periodic_due_ms;          /* -1: none */
	int64_t trig_ms;                  /* earliest pending trigger, -1: none */
	enum ds_sched_reason trig_why;
	int score, score_at_start;
	int64_t first_change_ms, last_change_ms, cross_ms;
	unsigned errors;
	int64_t backoff_until_ms;         /* client-side error backoff, -1: none */
	int64_t counted_due_ms;           /* refusal already counted for this due time ... */
	enum ds_sched_block counted_block; /* ... and this obstacle */
};

struct sched_server {
	char key[DS_SCHED_SERVER_MAX + 1];
	int64_t soft_until_ms, hard_until_ms;
};

struct ds_sched {
	struct ds_sched_config cfg;
	struct sched_entry *e;
	size_t n, cap;
	struct sched_server *servers;
	size_t nservers;
	struct ds_power_state power;
	struct ds_net_state net;
	bool idle;
	bool opportunity; /* charger, unmetered network or idle-on-charger since the last poll */
	unsigned running;
	uint32_t rng;
	struct ds_sched_stats stats;
};

struct sched_entry *ds_sched__find(const struct ds_sched *s, const char *name);
int64_t ds_sched__due(const struct ds_sched *s, const struct sched_entry *e, enum ds_sched_reason *why);
int64_t ds_sched__not_before(const struct ds_sched *s, const struct sched_entry *e, enum ds_sched_block *kind);
enum ds_sched_block ds_sched__block(const struct ds_sched *s, const struct sched_entry *e, int64_t now,
				    char *why, size_t cap);

#endif /* DS_SCHED_PRIV_H */
