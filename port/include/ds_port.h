/*
 * ds_port.h - the only door from datasync to the operating system.
 *
 * Everything in component/ reaches clocks, entropy, power, network, wake locks, secret storage
 * and data paths through these functions; port/posix implements them on Linux and port/sim
 * implements them with a virtual clock and scripted events for tests.
 *
 * Rules (see docs/porting.md):
 *  - Functions return 0 or a negative errno.
 *  - Events are delivered by ds_port_poll_event() on the thread that runs the core's event loop;
 *    a port that produces events on another thread (or from a file descriptor) announces them
 *    through the wake callback registered with ds_port_set_wake(), and the loop then drains them.
 *  - The port never calls into the core except through that wake callback.
 */
#ifndef DS_PORT_H
#define DS_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DS_PORT_API_VERSION 1

/* ---- life cycle --------------------------------------------------------------------------- */

struct ds_port_config {
	const char *data_dir;   /* agent state; created 0700 if missing */
	const char *run_dir;    /* control socket, lock; created 0700 if missing */
	const char *secret_dir; /* sealed secrets; created 0700 if missing */
	const char *sim_script; /* sim port only: event script file, NULL for none */
};

/* Initialise the port. Paths may be NULL to take the Kconfig defaults. */
int ds_port_init(const struct ds_port_config *cfg);
void ds_port_deinit(void);

/* ---- clocks --------------------------------------------------------------------------------- */

/* Monotonic milliseconds since an arbitrary origin; never goes backwards. */
int64_t ds_port_mono_ms(void);
/* Wall-clock milliseconds since the Unix epoch (may jump: TVs boot with wrong clocks). */
int64_t ds_port_wall_ms(void);

/* ---- entropy -------------------------------------------------------------------------------- */

/* Fill buf with len bytes from the OS's cryptographic random source. */
int ds_port_entropy(void *buf, size_t len);

/* ---- power ---------------------------------------------------------------------------------- */

enum ds_power_source {
	DS_POWER_UNKNOWN = 0,
	DS_POWER_BATTERY, /* running on battery */
	DS_POWER_MAINS,   /* charging, or a device without battery */
};

struct ds_power_state {
	enum ds_power_source source;
	bool has_battery;
	int battery_pct;  /* 0..100, -1 when unknown or no battery */
	bool charging;
	bool low_battery; /* the OS's own low-battery signal */
	bool power_save;  /* the OS's battery-saver mode */
};

int ds_port_power_get(struct ds_power_state *out);

/* ---- network -------------------------------------------------------------------------------- */

enum ds_net_type {
	DS_NET_NONE = 0,
	DS_NET_ETHERNET,
	DS_NET_WIFI,
	DS_NET_CELLULAR,
	DS_NET_OTHER,
};

struct ds_net_state {
	bool up;          /* a default route exists through a usable link */
	enum ds_net_type type;
	bool metered;
	char ifname[16];
};

int ds_port_net_get(struct ds_net_state *out);

const char *ds_net_type_name(enum ds_net_type t);
const char *ds_power_source_name(enum ds_power_source s);

/* ---- events --------------------------------------------------------------------------------- */

enum ds_port_event_type {
	DS_EV_NONE = 0,
	DS_EV_POWER,   /* power state changed: see ev.power */
	DS_EV_NET,     /* network state changed: see ev.net */
	DS_EV_IDLE,    /* device idle / screen off (ev.idle true) or active again */
	DS_EV_SHUTDOWN /* the OS asks the agent to stop */
};

struct ds_port_event {
	enum ds_port_event_type type;
	int64_t mono_ms;
	union {
		struct ds_power_state power;
		struct ds_net_state net;
		bool idle;
	} u;
};

/* Take the next pending event. Returns 1 and fills ev, 0 when none is pending, or -errno. */
int ds_port_poll_event(struct ds_port_event *ev);

/* Called by the port (from any thread) when events become pending. */
typedef void (*ds_port_wake_fn)(void *user_data);
void ds_port_set_wake(ds_port_wake_fn fn, void *user_data);

/*
 * File descriptor the event loop should watch for readability (netlink socket, sim timer
 * pipe, ...); -1 if the port wakes the loop only through the wake callback. When it is
 * readable the loop calls ds_port_poll_event() until it returns 0.
 */
int ds_port_event_fd(void);

/*
 * Milliseconds until the port next needs ds_port_poll_event() to be called without the fd
 * becoming readable (sysfs polling, the sim port's next scripted event), or -1 for never.
 */
int64_t ds_port_next_deadline_ms(void);

/* ---- wake locks ----------------------------------------------------------------------------- */

/* Keep the device awake while a run uses the radio. Nested calls with the same name count. */
int ds_port_wake_lock(const char *name);
int ds_port_wake_unlock(const char *name);

/* ---- secret storage ------------------------------------------------------------------------- */

/*
 * Store a small secret (keys, tokens; at most DS_PORT_SECRET_MAX bytes) under a name made of
 * [A-Za-z0-9._-]. The port protects it at rest as well as the platform allows (a keystore, or a
 * file of mode 0600 in a 0700 folder on the posix port). Writes are atomic.
 */
#define DS_PORT_SECRET_MAX 4096
int ds_port_secret_seal(const char *name, const void *data, size_t len);
/* Read it back into buf (cap bytes); returns the length, -ENOENT, -ENOSPC if cap is short. */
int ds_port_secret_unseal(const char *name, void *buf, size_t cap);
int ds_port_secret_erase(const char *name);

/* ---- paths ---------------------------------------------------------------------------------- */

enum ds_port_path {
	DS_PATH_DATA,   /* agent state */
	DS_PATH_RUN,    /* control socket, lock */
	DS_PATH_SECRET, /* sealed secrets */
};

const char *ds_port_path(enum ds_port_path which);

/* ---- board ---------------------------------------------------------------------------------- */

/* Facts a board file gives about the hardware (board/<name>/board.c). */
struct ds_board {
	const char *name;
	bool has_battery;
	const char *battery_supply; /* power_supply name, NULL: first of type Battery */
	const char *mains_supply;   /* power_supply name, NULL: first of type Mains/USB */
	const char *const *cellular_ifnames; /* prefixes of metered interfaces, NULL-terminated */
	const char *const *wifi_ifnames;     /* prefixes of Wi-Fi interfaces, NULL-terminated */
	int low_battery_pct;        /* below this, report low_battery if the OS does not */
};

const struct ds_board *ds_board_get(void);

/* ---- sim port only -------------------------------------------------------------------------- */

#ifdef CONFIG_DS_PORT_SIM
/* Advance the virtual clock, delivering scripted events that fall due. */
void ds_port_sim_advance(int64_t ms);
/* Inject an event now (tests). */
int ds_port_sim_inject(const struct ds_port_event *ev);
/* Load an event script (see port/sim/README.md for the format). */
int ds_port_sim_load_script(const char *path);
#endif

#ifdef __cplusplus
}
#endif

#endif /* DS_PORT_H */
