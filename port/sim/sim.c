/*
 * The sim port: a virtual clock and power/network/idle state played from a script or
 * injected by tests. Entropy, secrets, paths and wake-lock counting are the real ones
 * (port/common/): keys made in a simulation are real keys.
 *
 * Clock rule: virtual mono = offset + (manual ? 0 : real elapsed * CONFIG_DS_PORT_SIM_SPEED);
 * ds_port_sim_advance() adds to offset. A timerfd is the event fd: armed for the real time at
 * which the next scripted event falls due, or to fire at once when events are pending, so a
 * daemon's loop wakes by itself.
 */
#define DS_LOG_TAG "port"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_PORT
#include "core/ds_core.h"
#include "port/common/ds_port_common.h"
#include "port/sim/ds_sim.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define SIM_SPEED ((int64_t)DS_MAX(1, CONFIG_DS_PORT_SIM_SPEED))
#define SCRIPT_MAX_BYTES (1024 * 1024)

static struct {
	pthread_mutex_t lock;
	bool manual;
	bool clock_started;
	int64_t offset_ms;
	int64_t real_base_ms;

	bool state_ready;
	struct ds_power_state power;
	struct ds_net_state net;
	bool idle;

	struct ds_sim_script script;
	size_t next; /* first scripted event not yet due */
	struct ds_port_event *queue;
	size_t qhead, qlen, qcap; /* ring */

	int tfd;
	ds_port_wake_fn wake_fn;
	void *wake_ud;
} g = { .lock = PTHREAD_MUTEX_INITIALIZER, .tfd = -1 };

/* ---- clock ---------------------------------------------------------------------------------- */

static int64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_locked(void)
{
	if (!g.clock_started) {
		g.clock_started = true;
		g.real_base_ms = real_ms();
	}
	if (g.manual)
		return g.offset_ms;
	return g.offset_ms + (real_ms() - g.real_base_ms) * SIM_SPEED;
}

int64_t ds_port_mono_ms(void)
{
	int64_t v;

	pthread_mutex_lock(&g.lock);
	v = now_locked();
	pthread_mutex_unlock(&g.lock);
	return v;
}

int64_t ds_port_wall_ms(void)
{
	return DS_PORT_SIM_WALL_START_MS + ds_port_mono_ms();
}

/* ---- state and queue ------------------------------------------------------------------------ */

static void default_state_locked(void)
{
	const struct ds_board *b = ds_board_get();

	/* Before any script line: plugged in and full (if it has a battery), offline, active. */
	g.power = (struct ds_power_state){
		.source = DS_POWER_MAINS,
		.has_battery = b->has_battery,
		.battery_pct = b->has_battery ? 100 : -1,
	};
	memset(&g.net, 0, sizeof(g.net));
	g.idle = false;
	g.state_ready = true;
}

static void apply_locked(const struct ds_port_event *ev)
{
	if (!g.state_ready)
		default_state_locked();
	switch (ev->type) {
	case DS_EV_POWER:
		g.power = ev->u.power;
		break;
	case DS_EV_NET:
		g.net = ev->u.net;
		break;
	case DS_EV_IDLE:
		g.idle = ev->u.idle;
		break;
	default:
		break;
	}
}

static int enqueue_locked(const struct ds_port_event *ev)
{
	if (g.qlen == g.qcap) {
		size_t cap = g.qcap ? g.qcap * 2 : 16;
		struct ds_port_event *q = ds_malloc(cap * sizeof(*q));

		if (!q)
			return -ENOMEM;
		for (size_t i = 0; i < g.qlen; i++)
			q[i] = g.queue[(g.qhead + i) % g.qcap];
		ds_free(g.queue);
		g.queue = q;
		g.qcap = cap;
		g.qhead = 0;
	}
	g.queue[(g.qhead + g.qlen) % g.qcap] = *ev;
	g.qlen++;
	return 0;
}

/* Scripted events whose time has come: state changes now, the events wait in the queue. */
static size_t collect_due_locked(int64_t now)
{
	size_t n = 0;

	while (g.next < g.script.n && g.script.ev[g.next].at_ms <= now) {
		const struct ds_port_event *ev = &g.script.ev[g.next].ev;

		if (enqueue_locked(ev) != 0)
			break; /* retried on the next poll: the script keeps its place */
		apply_locked(ev);
		g.next++;
		n++;
	}
	return n;
}

/* Make the timerfd readable when the loop has something to do. */
static void arm_locked(int64_t now)
{
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };

	if (g.tfd < 0)
		return;
	if (g.qlen) {
		its.it_value.tv_nsec = 1; /* at once */
	} else if (!g.manual && g.next < g.script.n) {
		int64_t virt = DS_MAX(0, g.script.ev[g.next].at_ms - now);
		int64_t real = (virt + SIM_SPEED - 1) / SIM_SPEED;

		its.it_value.tv_sec = (time_t)(real / 1000);
		its.it_value.tv_nsec = (long)(real % 1000) * 1000000L;
		if (real == 0)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(g.tfd, 0, &its, NULL);
}

static void drain_timer_locked(void)
{
	uint64_t expirations;

	if (g.tfd >= 0)
		while (read(g.tfd, &expirations, sizeof(expirations)) < 0 && errno == EINTR)
			;
}

static void call_wake(bool pending)
{
	ds_port_wake_fn fn;
	void *ud;

	if (!pending)
		return;
	pthread_mutex_lock(&g.lock);
	fn = g.wake_fn;
	ud = g.wake_ud;
	pthread_mutex_unlock(&g.lock);
	if (fn)
		fn(ud);
}

/* ---- the sim API ---------------------------------------------------------------------------- */

void ds_port_sim_set_manual(bool manual)
{
	pthread_mutex_lock(&g.lock);
	if (manual != g.manual) {
		int64_t now = now_locked();

		g.offset_ms = now;
		g.real_base_ms = real_ms();
		g.manual = manual;
		arm_locked(now);
	}
	pthread_mutex_unlock(&g.lock);
}

void ds_port_sim_advance(int64_t ms)
{
	int64_t now;
	size_t n = 0;

	pthread_mutex_lock(&g.lock);
	if (ms > 0) {
		now_locked();
		g.offset_ms += ms;
		now = now_locked();
		n = collect_due_locked(now);
		arm_locked(now);
	}
	pthread_mutex_unlock(&g.lock);
	call_wake(n > 0);
}

int ds_port_sim_inject(const struct ds_port_event *ev)
{
	struct ds_port_event e;
	int64_t now;
	int rc;

	if (!ev || ev->type == DS_EV_NONE || ev->type > DS_EV_SHUTDOWN)
		return -EINVAL;
	pthread_mutex_lock(&g.lock);
	now = now_locked();
	/* Scripted events already due come first: injection is "now", after them. */
	collect_due_locked(now);
	e = *ev;
	e.mono_ms = now;
	rc = enqueue_locked(&e);
	if (!rc)
		apply_locked(&e);
	arm_locked(now);
	pthread_mutex_unlock(&g.lock);
	call_wake(rc == 0);
	return rc;
}

static int read_script(const char *path, char **text, size_t *len)
{
	struct stat st;
	size_t got = 0;
	char *buf;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > SCRIPT_MAX_BYTES) {
		rc = errno && !S_ISREG(st.st_mode) ? -EINVAL : -EFBIG;
		close(fd);
		return rc;
	}
	buf = ds_malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : 0;
			break;
		}
		got += (size_t)r;
	}
	close(fd);
	if (rc) {
		ds_free(buf);
		return rc;
	}
	*text = buf;
	*len = got;
	return 0;
}

int ds_port_sim_load_script(const char *path)
{
	struct ds_sim_script s;
	char err[256];
	char *text = NULL;
	size_t len = 0, n;
	int64_t now;
	int rc;

	if (!path || !*path)
		return -EINVAL;
	rc = read_script(path, &text, &len);
	if (rc) {
		DS_LOG_ERR("%s: %s", path, ds_strerror(rc));
		return rc;
	}
	rc = ds_sim_script_parse(text, len, path, ds_board_get(), &s, err, sizeof(err));
	ds_free(text);
	if (rc) {
		DS_LOG_ERR("%s", rc == -EINVAL ? err : ds_strerror(rc));
		return rc;
	}
	pthread_mutex_lock(&g.lock);
	ds_sim_script_free(&g.script);
	g.script = s;
	g.next = 0;
	now = now_locked();
	n = collect_due_locked(now);
	arm_locked(now);
	pthread_mutex_unlock(&g.lock);
	DS_LOG_DBG("loaded %zu scripted events from %s", s.n, path);
	call_wake(n > 0);
	return 0;
}

/* ---- the port contract ---------------------------------------------------------------------- */

static void reset_locked(void)
{
	ds_sim_script_free(&g.script);
	g.next = 0;
	ds_free(g.queue);
	g.queue = NULL;
	g.qhead = g.qlen = g.qcap = 0;
	if (g.tfd >= 0)
		close(g.tfd);
	g.tfd = -1;
	g.wake_fn = NULL;
	g.wake_ud = NULL;
	g.state_ready = false;
	g.offset_ms = 0;
	g.real_base_ms = real_ms();
	g.clock_started = true;
}

void ds_port_deinit(void)
{
	pthread_mutex_lock(&g.lock);
	reset_locked();
	pthread_mutex_unlock(&g.lock);
	ds_port_wakelock_deinit();
	ds_port_paths_deinit();
}

int ds_port_init(const struct ds_port_config *cfg)
{
	const char *script = cfg && cfg->sim_script ? cfg->sim_script : CONFIG_DS_PORT_SIM_SCRIPT;
	int rc;

	ds_port_deinit();
	rc = ds_port_paths_init(cfg);
	if (!rc)
		rc = ds_port_wakelock_init(NULL);
	if (rc)
		goto fail;
	pthread_mutex_lock(&g.lock);
	default_state_locked();
	g.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	rc = g.tfd < 0 ? -errno : 0;
	pthread_mutex_unlock(&g.lock);
	if (rc)
		goto fail;
	if (*script) {
		rc = ds_port_sim_load_script(script);
		if (rc)
			goto fail;
	}
	DS_LOG_DBG("sim port, %s clock", g.manual ? "manual" : "real-time");
	return 0;
fail:
	ds_port_deinit();
	return rc;
}

int ds_port_power_get(struct ds_power_state *out)
{
	if (!out)
		return -EINVAL;
	pthread_mutex_lock(&g.lock);
	if (!g.state_ready)
		default_state_locked();
	*out = g.power;
	pthread_mutex_unlock(&g.lock);
	return 0;
}

int ds_port_net_get(struct ds_net_state *out)
{
	if (!out)
		return -EINVAL;
	pthread_mutex_lock(&g.lock);
	if (!g.state_ready)
		default_state_locked();
	*out = g.net;
	pthread_mutex_unlock(&g.lock);
	return 0;
}

int ds_port_poll_event(struct ds_port_event *ev)
{
	int64_t now;
	int rc = 0;

	if (!ev)
		return -EINVAL;
	pthread_mutex_lock(&g.lock);
	drain_timer_locked();
	now = now_locked();
	collect_due_locked(now);
	if (g.qlen) {
		*ev = g.queue[g.qhead];
		g.qhead = (g.qhead + 1) % g.qcap;
		g.qlen--;
		rc = 1;
	}
	arm_locked(now);
	pthread_mutex_unlock(&g.lock);
	return rc;
}

void ds_port_set_wake(ds_port_wake_fn fn, void *user_data)
{
	pthread_mutex_lock(&g.lock);
	g.wake_fn = fn;
	g.wake_ud = user_data;
	pthread_mutex_unlock(&g.lock);
}

int ds_port_event_fd(void)
{
	int fd;

	pthread_mutex_lock(&g.lock);
	fd = g.tfd;
	pthread_mutex_unlock(&g.lock);
	return fd;
}

int64_t ds_port_next_deadline_ms(void)
{
	int64_t d = -1, now;

	pthread_mutex_lock(&g.lock);
	now = now_locked();
	if (g.qlen) {
		d = 0;
	} else if (g.next < g.script.n) {
		d = DS_MAX(0, g.script.ev[g.next].at_ms - now);
		/* Real time when the clock runs by itself; virtual time in manual mode. */
		if (!g.manual)
			d = (d + SIM_SPEED - 1) / SIM_SPEED;
	}
	pthread_mutex_unlock(&g.lock);
	return d;
}
