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

/* 2: the file operations (ds_port_file_*, ds_port_dir_sync). */
#define DS_PORT_API_VERSION 2

/* ---- life cycle ----------------------------------------------------------------------------- */

struct ds_port_config {
	const char *data_dir;   /* agent state; created 0700 if missing */
	const char *run_dir;    /* control socket, lock; created 0700 if missing */
	const char *secret_dir; /* sealed secrets; created 0700 if missing */
	const char *sim_script; /* sim port only: event script file, NULL for none */
	/*
	 * Overrides of where the posix port reads Linux (tests point them at fake trees);
	 * NULL takes the defaults: CONFIG_DS_PORT_POWER_SUPPLY_DIR, /sys/class/net, /sys/power.
	 * The sim port ignores them.
	 */
	const char *power_supply_dir;
	const char *net_sysfs_dir;
	const char *wakelock_dir;
	/* posix port: sysfs power poll period, ms; 0: CONFIG_DS_PORT_POWER_POLL_S, < 0: none. */
	int64_t power_poll_ms;
};

/*
 * Initialise the port. cfg may be NULL and each path may be NULL to take the Kconfig defaults
 * (CONFIG_DS_DATA_DIR, CONFIG_DS_RUN_DIR, CONFIG_DS_PORT_SECRET_DIR; relative paths are taken
 * from the current directory). Creates the three directories with mode 0700 (parents too),
 * records the current power and network state as the baseline that later events compare
 * against, and on the sim port loads cfg->sim_script or CONFIG_DS_PORT_SIM_SCRIPT.
 * Returns -errno when a directory cannot be created or the script is malformed. Calling it
 * again re-initialises (after an implicit ds_port_deinit()).
 */
int ds_port_init(const struct ds_port_config *cfg);
/* Close the port's descriptors and free its state; wake locks still held are released. */
void ds_port_deinit(void);

/* ---- clocks --------------------------------------------------------------------------------- */

/* Monotonic milliseconds since an arbitrary origin; never goes backwards. */
int64_t ds_port_mono_ms(void);
/* Wall-clock milliseconds since the Unix epoch (may jump: TVs boot with wrong clocks). */
int64_t ds_port_wall_ms(void);

/* ---- entropy -------------------------------------------------------------------------------- */

/*
 * Fill buf with len bytes from the OS's cryptographic random source (getrandom() on both
 * Linux ports, the sim port included: keys come from here). Blocks only until the kernel pool
 * is initialised at boot; never returns fewer bytes than asked. 0 or -errno.
 */
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

/*
 * Current power state, read now (posix: sysfs power_supply; sim: the scripted state). Works
 * without ds_port_init() on the posix port. 0 or -errno (-EINVAL for a NULL out).
 */
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

/*
 * Current network state, read now (posix: an rtnetlink route and link dump; sim: the scripted
 * state). When !up, type is DS_NET_NONE, metered false and ifname empty. 0 or -errno.
 */
int ds_port_net_get(struct ds_net_state *out);

/* Stable lower-case names for logs and the CLI ("wifi", "battery", ...); "?" when out of range. */
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

/*
 * Take the next pending event. Returns 1 and fills ev, 0 when none is pending, or -errno.
 * Call it on the loop thread only. Events report changes after ds_port_init() (read the
 * initial state with ds_port_power_get() / ds_port_net_get()); they come in the order they
 * happened, and ev->mono_ms is when the change was seen (sim: its scripted time).
 */
int ds_port_poll_event(struct ds_port_event *ev);

/*
 * Called by the port (from any thread) when events become pending without the event fd
 * becoming readable. fn may be NULL to unregister. The posix port produces events only
 * through the fd and the deadline, so it never calls it; the sim port calls it from
 * ds_port_sim_inject() and ds_port_sim_advance(). ds_port_init() and ds_port_deinit() forget
 * the callback: register it after init.
 */
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

/*
 * Keep the device awake while a run uses the radio. Nested calls with the same name count;
 * the OS lock is taken on the first and dropped on the last. Names are [A-Za-z0-9._-], at
 * most 64 bytes (-EINVAL otherwise). The posix port writes "datasync.<name>" to
 * /sys/power/wake_lock and wake_unlock (Android and CONFIG_PM_WAKELOCKS kernels); where those
 * are not writable, and on the sim port, the calls are counted no-ops. Unlocking a name that
 * is not held returns -ENOENT. Thread-safe.
 */
int ds_port_wake_lock(const char *name);
int ds_port_wake_unlock(const char *name);
/* How many times name is held now (0 if not): for tests and diagnostics. */
int ds_port_wake_lock_count(const char *name);

/* ---- secret storage ------------------------------------------------------------------------- */

/*
 * Store a small secret (keys, tokens; at most DS_PORT_SECRET_MAX bytes) under a name made of
 * [A-Za-z0-9._-]. The port protects it at rest as well as the platform allows (a keystore, or a
 * file of mode 0600 in a 0700 folder on the posix port). Writes are atomic.
 */
#define DS_PORT_SECRET_MAX 4096
/* Name rules: 1..64 bytes of [A-Za-z0-9._-], not starting with '.'; -EINVAL otherwise. */
#define DS_PORT_SECRET_NAME_MAX 64
/*
 * Store or replace a secret. Readers see the old or the new value, never a mix, even across
 * a power cut. -EINVAL (bad name, NULL data with len > 0), -EMSGSIZE (len too big), -errno.
 */
int ds_port_secret_seal(const char *name, const void *data, size_t len);
/*
 * Read it back into buf (cap bytes); returns the length, -ENOENT, -ENOSPC if cap is short
 * (buf untouched then), -EINVAL for a bad name. Secrets are read straight into buf, so the
 * port keeps no copy to wipe.
 */
int ds_port_secret_unseal(const char *name, void *buf, size_t cap);
/* Remove a secret: 0, -ENOENT if there was none, -EINVAL for a bad name. */
int ds_port_secret_erase(const char *name);
/*
 * Keep the secrets a process holds in memory (unsealed keys, tokens) out of core dumps and out
 * of reach of other processes of the same user, as far as the platform allows. A daemon calls it
 * once at start. Linux: no core file (RLIMIT_CORE 0) and not dumpable (PR_SET_DUMPABLE 0, which
 * also refuses ptrace attach by non-root and makes /proc/PID files root-owned). 0 or -errno.
 */
int ds_port_protect_memory(void);

/* ---- memory --------------------------------------------------------------------------------- */

/*
 * A long-lived process's allocator settings for a small resident set, called once at start
 * before any thread is created. glibc: one malloc arena for every thread (M_ARENA_MAX 1), so
 * what the sync worker frees returns to the heap the whole process shares and a trim reaches it.
 * Best effort; a no-op where the C library has no such knob.
 */
void ds_port_memory_tune(void);
/*
 * Give the memory freed since the last call back to the OS (glibc: malloc_trim(0), which also
 * releases free pages inside the heap). Called when a burst of work is over, such as after a
 * sync job. Best effort.
 */
void ds_port_memory_trim(void);

/* ---- paths ---------------------------------------------------------------------------------- */

enum ds_port_path {
	DS_PATH_DATA,   /* agent state */
	DS_PATH_RUN,    /* control socket, lock */
	DS_PATH_SECRET, /* sealed secrets */
};

/* The directory for which (see ds_port_init()); the Kconfig default before init; never NULL. */
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

/* ---- files ---------------------------------------------------------------------------------- */

/*
 * The file operations datasync performs itself: the dir remote's batches and hints, the port's
 * secret files, and (through the SQLite VFS of component/store, store_vfs.c) every write, sync
 * and delete of the SQLite databases. POSIX semantics: flags are <fcntl.h>'s O_* and modes
 * are permission bits, which the posix and sim ports pass to the C library; another port maps
 * them. Each returns 0 (ds_port_file_open(): the descriptor) or a negative errno, retries on
 * EINTR, and asks the fault hook first (see below) when CONFIG_DS_PORT_FAULT_HOOK is on.
 * Reading (open without O_CREAT, read, stat, readdir) may use the C library directly: only what
 * changes storage has to come here.
 */
/* open(); counts as a creation (DS_PORT_FAULT_CREATE) when flags have O_CREAT. */
int ds_port_file_open(const char *path, int flags, unsigned int mode);
/* Write all of buf (looping over short writes) at the file offset / at off. */
int ds_port_file_write(int fd, const void *buf, size_t len);
int ds_port_file_pwrite(int fd, const void *buf, size_t len, int64_t off);
/* ftruncate(): a write (DS_PORT_FAULT_WRITE). */
int ds_port_file_truncate(int fd, int64_t len);
/* fsync() and fdatasync(). */
int ds_port_file_sync(int fd);
int ds_port_file_datasync(int fd);
/*
 * fsync() of a directory, so the names created or removed in it survive a power cut. File
 * systems that refuse it (EINVAL, ENOTSUP: some FUSE mounts) have nothing to sync: 0.
 */
int ds_port_dir_sync(const char *path);
/* close(); an EINTR counts as closed (Linux releases the descriptor first). */
int ds_port_file_close(int fd);
/* rename() and link(): a file getting its name (DS_PORT_FAULT_RENAME). */
int ds_port_file_rename(const char *from, const char *to);
int ds_port_file_link(const char *from, const char *to);
/* unlink() and rmdir() (DS_PORT_FAULT_REMOVE). */
int ds_port_file_unlink(const char *path);
int ds_port_file_rmdir(const char *path);
/* mkdir() (DS_PORT_FAULT_CREATE). */
int ds_port_file_mkdir(const char *path, unsigned int mode);

/* ---- fault injection (tests) ---------------------------------------------------------------- */

/*
 * The file-operation counterpart of ds_alloc_fail_after(): torture tests make the Nth write,
 * sync, rename, creation or removal from now on fail, and every one after it, as a full or
 * failing disk does. Every file function above, the port's secret files and the SQLite VFS ask
 * ds_port_fault_check() before the operation. Without CONFIG_DS_PORT_FAULT_HOOK (product
 * boards) it is a constant 0 and the checks compile away; only the test boards have the hook.
 */
enum ds_port_fault {
	DS_PORT_FAULT_WRITE,  /* write, pwrite, truncate; SQLite xWrite, xTruncate */
	DS_PORT_FAULT_SYNC,   /* fsync, fdatasync of a file or directory; SQLite xSync */
	DS_PORT_FAULT_RENAME, /* rename, link: a file getting its name */
	DS_PORT_FAULT_CREATE, /* open with O_CREAT, mkdir; SQLite opening a journal or WAL */
	DS_PORT_FAULT_REMOVE, /* unlink, rmdir; SQLite xDelete (a journal's removal commits) */
	DS_PORT_FAULT_KINDS
};

#ifdef CONFIG_DS_PORT_FAULT_HOOK
/*
 * From now on, the nth operation of kind (1-based) and every later one fail with -err (err > 0,
 * e.g. ENOSPC); n = 0 turns failing off for kind. Returns how many operations of kind were seen
 * since the last call for kind, so a test first counts a scenario, then fails each in turn.
 */
unsigned long ds_port_fault_after(enum ds_port_fault kind, unsigned long n, int err);
/* Count one operation of kind: 0 to go ahead, or the negative errno it must fail with. */
int ds_port_fault_hit(enum ds_port_fault kind);
#endif

/* What a file operation asks before it runs: 0 to go ahead, or the negative errno to fail with. */
static inline int ds_port_fault_check(enum ds_port_fault kind)
{
#ifdef CONFIG_DS_PORT_FAULT_HOOK
	return ds_port_fault_hit(kind);
#else
	(void)kind;
	return 0;
#endif
}

/* ---- sim port only -------------------------------------------------------------------------- */

#ifdef CONFIG_DS_PORT_SIM
/*
 * The sim clock starts at mono 0 and wall 2026-01-01T00:00:00Z (DS_PORT_SIM_WALL_START_MS).
 * By default it follows real time: virtual = offset + real elapsed * CONFIG_DS_PORT_SIM_SPEED,
 * so a daemon on the sim board runs by itself. Tests call ds_port_sim_set_manual(true): then
 * the clock moves only by ds_port_sim_advance(). In both modes ds_port_sim_advance() jumps
 * ahead by ms. Wall time moves with mono time. ds_port_init() resets the clock to 0 and keeps
 * the mode.
 */
#define DS_PORT_SIM_WALL_START_MS INT64_C(1767225600000)
void ds_port_sim_set_manual(bool manual);
/*
 * Advance the virtual clock, delivering scripted events that fall due: they become pending
 * (ds_port_poll_event() returns them in script order), the state that ds_port_power_get()
 * and ds_port_net_get() report follows them at once, the event fd becomes readable and the
 * wake callback is called. Negative ms is ignored.
 */
void ds_port_sim_advance(int64_t ms);
/*
 * Inject an event now (tests): it is queued after those already pending, stamped with the
 * current virtual time, and applied to the state like a scripted one. -EINVAL for DS_EV_NONE,
 * -ENOMEM when the queue cannot grow.
 */
int ds_port_sim_inject(const struct ds_port_event *ev);
/*
 * Load an event script (see port/sim/README.md for the format), replacing the events not yet
 * due of a previous one; script times count from virtual time 0. A malformed line logs
 * "file:line: message" and returns -EINVAL with nothing loaded; -errno if it cannot be read.
 */
int ds_port_sim_load_script(const char *path);
#endif

#ifdef __cplusplus
}
#endif

#endif /* DS_PORT_H */
