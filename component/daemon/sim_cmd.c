/*
 * "sim-advance" on the sim board (ds_sim_cmd.h). The loop's timers count real time, so after a
 * jump of the virtual clock the scheduler's wake, the local-change poll and the task slots that
 * fell due are run here, not when their real delay ends. Port events come first: the jump
 * queues them and the loop applies them when it next drains the port, which it does right after
 * the calls posted before that drain; so the catch-up is posted twice, and runs after the
 * drain that follows the jump.
 */
#define DS_LOG_TAG "sim"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_CORE
#include "core/ds_core.h"
#include "core/ds_loop.h"
#include "daemon/ds_agent.h"
#include "daemon/ds_changes.h"
#include "daemon/ds_sim_cmd.h"
#include "daemon/ds_tasks.h"
#include "ipc/ds_ipc.h"
#include "sched/ds_sched.h"

#include <cjson/cJSON.h>

#define ADVANCE_MAX_MS (INT64_C(400) * 86400 * 1000)

struct advance {
	struct ds_agent *a;
	uint64_t conn;
	int64_t id;
	bool posted_again;
};

static void catch_up(void *user_data)
{
	struct advance *v = user_data;
	struct ds_agent *a = v->a;
	cJSON *b;

	if (!v->posted_again) {
		v->posted_again = true;
		if (ds_loop_post(a->loop, catch_up, v) == 0)
			return;
	}
	ds_agent_changes_catch_up(a);
	ds_agent_tasks_catch_up(a);
	ds_agent_sched_kick(a);
	b = cJSON_CreateObject();
	cJSON_AddNumberToObject(b, "mono_ms", (double)ds_port_mono_ms());
	cJSON_AddNumberToObject(b, "wall_ms", (double)ds_port_wall_ms());
	ds_ipc_reply(a->ipc, v->conn, v->id, b);
	ds_free(v);
}

int ds_sim_cmd_handle(struct ds_agent *a, struct ds_ipc_server *s, uint64_t conn, int64_t id, const char *cmd,
		      cJSON *req)
{
	const cJSON *ms = cJSON_GetObjectItemCaseSensitive(req, "ms");
	const cJSON *by = cJSON_GetObjectItemCaseSensitive(req, "by");
	struct advance *v;
	int64_t jump;

	DS_UNUSED(cmd);
	if (cJSON_IsNumber(ms) && ms->valuedouble >= 0 && ms->valuedouble <= (double)ADVANCE_MAX_MS) {
		jump = (int64_t)ms->valuedouble;
	} else if (cJSON_IsString(by) && ds_sched_duration_parse(by->valuestring, &jump) == 0 &&
		   jump <= ADVANCE_MAX_MS / 1000) {
		jump *= 1000;
	} else {
		ds_ipc_reply_error(s, conn, id, -EINVAL, "sim-advance needs \"ms\" (0..%lld) or \"by\" (a duration "
				   "like 90s, 10m, 2h)", (long long)ADVANCE_MAX_MS);
		return 0;
	}
	v = ds_calloc(1, sizeof(*v));
	if (!v) {
		ds_ipc_reply_error(s, conn, id, -ENOMEM, "out of memory");
		return 0;
	}
	v->a = a;
	v->conn = conn;
	v->id = id;
	DS_LOG_INF("virtual clock jumps %lld ms ahead", (long long)jump);
	ds_port_sim_advance(jump);
	if (ds_loop_post(a->loop, catch_up, v)) {
		ds_free(v);
		ds_ipc_reply_error(s, conn, id, -ENOMEM, "out of memory");
		return 0;
	}
	return 1;
}
