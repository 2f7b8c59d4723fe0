/* The posix port: binds the Linux readers (ds_posix.h) to /sys, rtnetlink and the clocks. */
#define DS_LOG_TAG "port"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_PORT
#include "core/ds_core.h"
#include "port/common/ds_port_common.h"
#include "port/posix/ds_posix.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#define DEFAULT_NET_DIR "/sys/class/net"
#define DEFAULT_WAKELOCK_DIR "/sys/power"
#define DEFAULT_POWER_POLL_MS ((int64_t)CONFIG_DS_PORT_POWER_POLL_S * 1000)

static struct ds_posix_monitor g_mon = { .nl_fd = -1, .req_fd = -1 };
static bool g_inited;
/* Configured roots; read by ds_port_power_get()/net_get() from any thread. */
static pthread_mutex_t g_cfg_lock = PTHREAD_MUTEX_INITIALIZER;
static char *g_power_dir, *g_net_dir;
static ds_port_wake_fn g_wake_fn;
static void *g_wake_ud;

void ds_port_deinit(void)
{
	ds_posix_monitor_free(&g_mon);
	ds_port_wakelock_deinit();
	ds_port_paths_deinit();
	pthread_mutex_lock(&g_cfg_lock);
	ds_free(g_power_dir);
	ds_free(g_net_dir);
	g_power_dir = g_net_dir = NULL;
	g_wake_fn = NULL;
	g_wake_ud = NULL;
	pthread_mutex_unlock(&g_cfg_lock);
	g_inited = false;
}

int ds_port_init(const struct ds_port_config *cfg)
{
	struct ds_posix_monitor_cfg mc = { .board = ds_board_get(), .net = true };
	int64_t poll_ms = cfg ? cfg->power_poll_ms : 0;
	char *pd, *nd;
	int rc;

	if (g_inited)
		ds_port_deinit();
	pd = ds_strdup(cfg && cfg->power_supply_dir ? cfg->power_supply_dir
						    : CONFIG_DS_PORT_POWER_SUPPLY_DIR);
	nd = ds_strdup(cfg && cfg->net_sysfs_dir ? cfg->net_sysfs_dir : DEFAULT_NET_DIR);
	if (!pd || !nd) {
		ds_free(pd);
		ds_free(nd);
		return -ENOMEM;
	}
	pthread_mutex_lock(&g_cfg_lock);
	g_power_dir = pd;
	g_net_dir = nd;
	pthread_mutex_unlock(&g_cfg_lock);

	rc = ds_port_paths_init(cfg);
	if (!rc)
		rc = ds_port_wakelock_init(cfg && cfg->wakelock_dir ? cfg->wakelock_dir
								 : DEFAULT_WAKELOCK_DIR);
	if (!rc) {
		mc.power_dir = pd;
		mc.net_dir = nd;
		mc.power_poll_ms = poll_ms == 0 ? DEFAULT_POWER_POLL_MS : poll_ms;
		rc = ds_posix_monitor_init(&g_mon, &mc, ds_port_mono_ms());
	}
	if (rc) {
		ds_port_deinit();
		return rc;
	}
	g_inited = true;
	DS_LOG_DBG("posix port on board %s", mc.board->name);
	return 0;
}

int ds_port_power_get(struct ds_power_state *out)
{
	int rc;

	if (!out)
		return -EINVAL;
	pthread_mutex_lock(&g_cfg_lock);
	rc = ds_posix_power_read(g_power_dir ? g_power_dir : CONFIG_DS_PORT_POWER_SUPPLY_DIR,
				 ds_board_get(), out);
	pthread_mutex_unlock(&g_cfg_lock);
	return rc;
}

int ds_port_net_get(struct ds_net_state *out)
{
	uint32_t seq = 0;
	int fd, rc;

	if (!out)
		return -EINVAL;
	/* A socket per call: callers on other threads never share the loop's request socket. */
	fd = ds_posix_nl_open(0);
	if (fd < 0)
		return fd;
	pthread_mutex_lock(&g_cfg_lock);
	rc = ds_posix_net_read(fd, &seq, g_net_dir ? g_net_dir : DEFAULT_NET_DIR, ds_board_get(),
			       out);
	pthread_mutex_unlock(&g_cfg_lock);
	close(fd);
	return rc;
}

int ds_port_poll_event(struct ds_port_event *ev)
{
	if (!ev)
		return -EINVAL;
	if (!g_inited)
		return 0;
	return ds_posix_monitor_poll(&g_mon, ds_port_mono_ms(), ev);
}

void ds_port_set_wake(ds_port_wake_fn fn, void *user_data)
{
	/* Kept for the contract; this port's events all arrive through the fd and the deadline. */
	pthread_mutex_lock(&g_cfg_lock);
	g_wake_fn = fn;
	g_wake_ud = user_data;
	pthread_mutex_unlock(&g_cfg_lock);
}

int ds_port_event_fd(void)
{
	return g_inited ? ds_posix_monitor_fd(&g_mon) : -1;
}

int64_t ds_port_next_deadline_ms(void)
{
	return g_inited ? ds_posix_monitor_deadline(&g_mon, ds_port_mono_ms()) : -1;
}
