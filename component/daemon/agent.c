/*
 * datasyncd's life: the store and device id, the loop, the control socket, the sync worker,
 * port events (kept for "status" and given to the scheduler) and configuration reloads.
 */
#define DS_LOG_TAG "daemon"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_CORE
#include "core/ds_core.h"
#include "core/ds_loop.h"
#include "daemon/ds_agent.h"
#include "daemon/ds_browser_cmd.h"
#include "daemon/ds_worker.h"
#include "ipc/ds_ipc.h"
#include "store/ds_store.h"
#if IS_ENABLED(CONFIG_DS_REMOTE_SYNC15)
#include "remote/sync15/ds_sync15.h"
#endif
#if IS_ENABLED(CONFIG_DS_ACCOUNT)
#include "account/ds_fxa_servers.h"
#endif

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

int ds_agent_log_level(const struct ds_agent *a)
{
	int l = a->conf.log_level + a->verbosity;

	return DS_MAX(DS_LOG_ERR, DS_MIN(DS_LOG_DBG, l));
}

void ds_agent_apply_logging(const struct ds_agent *a)
{
	int out = a->conf.log_output;

	if (out == DS_CONF_LOG_OUTPUT_AUTO)
		out = a->daemonized && IS_ENABLED(CONFIG_DS_LOG_SYSLOG) ? DS_LOG_TO_SYSLOG : DS_LOG_TO_STDERR;
	ds_log_set_output((enum ds_log_output)out, "datasyncd");
	ds_log_set_max_level(ds_agent_log_level(a));
}

const char *ds_agent_json_str(const cJSON *o, const char *k, const char *dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : dflt;
}

cJSON *ds_agent_list_find(const cJSON *list, const char *name)
{
	cJSON *it;

	cJSON_ArrayForEach(it, list) {
		const char *n = ds_agent_json_str(it, "name", NULL);

		if (n && !strcmp(n, name))
			return it;
	}
	return NULL;
}

/* ---- device id ------------------------------------------------------------------------------ */

/* A stable random id naming this device to remotes: made once, kept in the store. */
static int device_id_load(struct ds_agent *a)
{
	unsigned char raw[16];
	int rc = ds_store_kv_get(a->store, "device_id", a->device_id, sizeof(a->device_id));

	if (rc > 0)
		return 0;
	if (rc != -ENOENT && rc != 0)
		return rc;
	rc = ds_port_entropy(raw, sizeof(raw));
	if (rc)
		return rc;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(a->device_id + 2 * i, 3, "%02x", raw[i]);
	rc = ds_store_kv_set(a->store, "device_id", a->device_id);
	if (!rc)
		DS_LOG_INF("new device id %s", a->device_id);
	return rc;
}

/* ---- port events ------------------------------------------------------------------------------- */

static void on_port_event(const struct ds_port_event *ev, void *user_data)
{
	struct ds_agent *a = user_data;
	struct ds_agent_event *e = &a->events[a->event_next];

	e->mono_ms = ev->mono_ms;
	e->wall_ms = ds_port_wall_ms();
	e->type = ds_agent_event_text(ev, e->text, sizeof(e->text));
	a->event_next = (a->event_next + 1) % DS_AGENT_EVENTS;
	a->events_seen++;
	DS_LOG_INF("%s: %s", e->type, e->text);
	switch (ev->type) {
	case DS_EV_POWER:
		a->power = ev->u.power;
		break;
	case DS_EV_NET:
		a->net = ev->u.net;
		break;
	case DS_EV_IDLE:
		a->idle = ev->u.idle;
		break;
	case DS_EV_SHUTDOWN:
		ds_loop_stop(a->loop);
		return;
	default:
		return;
	}
	ds_agent_sched_event(a, ev);
}

/* ---- signals, reload ---------------------------------------------------------------------------- */

static int remotes_use_account_servers(const struct ds_agent *a);

static void swap_str(char **x, char **y)
{
	char *t = *x;

	*x = *y;
	*y = t;
}

int ds_agent_reload(struct ds_agent *a)
{
	struct ds_conf c;
	char err[512];
	int rc;

	rc = ds_conf_init(&c);
	if (rc)
		return rc;
	if (a->config_path) {
		rc = ds_conf_load(&c, a->config_path, err, sizeof(err));
		if (rc == -ENOENT && !a->config_explicit)
			rc = 0;
		if (rc) {
			DS_LOG_ERR("reload refused, configuration kept: %s", err);
			ds_conf_free(&c);
			return rc;
		}
	}
	if (a->start_dir && ds_conf_make_absolute(&c, a->start_dir)) {
		ds_conf_free(&c);
		return -ENOMEM;
	}
	/* Where things live cannot move under a running daemon. */
	if (strcmp(c.data_dir, a->conf.data_dir) || strcmp(c.run_dir, a->conf.run_dir) ||
	    strcmp(c.secret_dir, a->conf.secret_dir) || strcmp(c.socket, a->conf.socket))
		DS_LOG_WRN("reload: data_dir, run_dir, secret_dir and socket changes need a restart");
	a->conf.log_level = c.log_level;
	a->conf.log_output = c.log_output;
	a->conf.min_battery_pct = c.min_battery_pct;
	a->conf.unmetered_only = c.unmetered_only;
	ds_free(a->conf.device_name);
	a->conf.device_name = c.device_name;
	c.device_name = NULL;
	/* The account's servers: the next sign-in and the next sync use them. */
	swap_str(&a->conf.fxa_url, &c.fxa_url);
	swap_str(&a->conf.oauth_url, &c.oauth_url);
	swap_str(&a->conf.tokenserver_url, &c.tokenserver_url);
	swap_str(&a->conf.ca_bundle, &c.ca_bundle);
	a->conf.sync_interval_s = c.sync_interval_s;
	ds_conf_free(&c);
	remotes_use_account_servers(a);
	/* The defaults under every collection's policy may have changed. */
	ds_agent_sched_reload(a, NULL);
	ds_agent_apply_logging(a);
	a->reloads++;
	DS_LOG_INF("configuration reloaded: log level %s, sync every %ld s, min battery %d%%%s",
		   ds_conf_log_level_name(ds_agent_log_level(a)), a->conf.sync_interval_s,
		   a->conf.min_battery_pct, a->conf.unmetered_only ? ", unmetered only" : "");
	return 0;
}

static void on_signal(int signo, void *user_data)
{
	if (signo == SIGHUP)
		ds_agent_reload(user_data);
}

/* ---- life cycle ------------------------------------------------------------------------------- */

/* Remotes that sync with the signed-in account (sync15) use the servers of the configuration's
 * [accounts] section, the same the sign-in uses (docs/accounts.md), unless a registration
 * names its own. Set before the worker starts and on every reload. */
static int remotes_use_account_servers(const struct ds_agent *a)
{
#if IS_ENABLED(CONFIG_DS_ACCOUNT)
	/* Other remotes' account tokens (Kinto's "token_scope"). */
	if (ds_fxa_servers_set(a->conf.fxa_url, a->conf.ca_bundle))
		DS_LOG_ERR("[accounts] fxa_url or ca_bundle too long");
#endif
#if IS_ENABLED(CONFIG_DS_REMOTE_SYNC15)
	struct ds_sync15_account_config ac = { .fxa_url = a->conf.fxa_url,
					       .tokenserver_url = a->conf.tokenserver_url,
					       .ca_bundle = a->conf.ca_bundle };
	int rc = ds_sync15_account_set_servers(&ac);

	if (rc)
		DS_LOG_ERR("[accounts] server URL or CA bundle too long: %s", ds_strerror(rc));
	return rc;
#else
	DS_UNUSED(a);
	return 0;
#endif
}

int ds_agent_new(struct ds_conf *conf, const char *config_path, bool config_explicit, const char *start_dir,
		 int verbosity, bool daemonized, struct ds_agent **out)
{
	struct ds_ipc_server_config ic = { 0 };
	struct ds_agent *a;
	char *sock = NULL;
	int rc;

	*out = NULL;
	a = ds_calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->conf = *conf;
	memset(conf, 0, sizeof(*conf));
	a->config_explicit = config_explicit;
	a->verbosity = verbosity;
	a->daemonized = daemonized;
	a->next_sched_mono = -1;
	a->started_mono = ds_port_mono_ms();
	if ((config_path && !(a->config_path = ds_strdup(config_path))) ||
	    (start_dir && !(a->start_dir = ds_strdup(start_dir)))) {
		rc = -ENOMEM;
		goto fail;
	}
	a->db_path = ds_asprintf("%s/datasync.db", a->conf.data_dir);
	if (!a->db_path) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = ds_store_open(a->db_path, &a->store);
	if (rc) {
		DS_LOG_ERR("cannot open the store %s: %s", a->db_path, ds_strerror(rc));
		goto fail;
	}
	rc = device_id_load(a);
	if (rc) {
		DS_LOG_ERR("cannot read or make the device id: %s", ds_strerror(rc));
		goto fail;
	}
	ds_port_power_get(&a->power);
	ds_port_net_get(&a->net);
	rc = ds_loop_new(&a->loop);
	if (rc)
		goto fail;
	ds_loop_on_port_event(a->loop, on_port_event, a);
	ds_loop_on_signal(a->loop, on_signal, a);

	sock = ds_conf_socket_path(&a->conf);
	if (!sock) {
		rc = -ENOMEM;
		goto fail;
	}
	ic.path = sock;
	ic.group = a->conf.socket_group;
	ic.max_clients = CONFIG_DS_IPC_MAX_CLIENTS;
	ic.max_message = CONFIG_DS_IPC_MAX_MESSAGE;
	rc = ds_ipc_server_new(a->loop, &ic, ds_agent_handle_request, a, &a->ipc);
	ds_free(sock);
	if (rc)
		goto fail;
	rc = remotes_use_account_servers(a);
	if (rc)
		goto fail;
	rc = ds_worker_start(a->loop, a->db_path, a->device_id, ds_agent_sync_done, a, &a->worker);
	if (rc)
		goto fail;
	if (IS_ENABLED(CONFIG_DS_ENGINE_CLIENTS))
		ds_browser_cmd_attach(a); /* commands from other devices reach the collections */
	rc = ds_agent_sched_start(a);
	if (rc) {
		DS_LOG_ERR("cannot start the scheduler: %s", ds_strerror(rc));
		goto fail;
	}
	DS_LOG_INF("datasyncd %s on board %s: power %s, network %s", DS_VERSION, ds_board_get()->name,
		   ds_power_source_name(a->power.source), a->net.up ? ds_net_type_name(a->net.type) : "down");
	*out = a;
	return 0;
fail:
	ds_agent_free(a);
	return rc;
}

int ds_agent_run(struct ds_agent *a)
{
	return ds_loop_run(a->loop);
}

struct ds_loop *ds_agent_loop(struct ds_agent *a)
{
	return a->loop;
}

void ds_agent_free(struct ds_agent *a)
{
	if (!a)
		return;
	/* Socket first: clients see the daemon go at once, even while a run finishes. */
	ds_ipc_server_free(a->ipc);
	ds_worker_stop(a->worker);
	ds_agent_sched_stop(a);
	ds_loop_free(a->loop);
	ds_store_close(a->store);
	ds_conf_free(&a->conf);
	ds_free(a->config_path);
	ds_free(a->start_dir);
	ds_free(a->db_path);
	ds_free(a);
}
