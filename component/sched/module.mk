# The scheduler: a pure module (state + now + events -> decisions), used by datasyncd and by
# the day simulation (test/tools/sched_day.c).
lib-y += component/sched/sched.c component/sched/sched_info.c
unit-y += test/unit/sched_policy_test.c
# The control socket's close notification, as app tasks use it (component/daemon/tasks.c).
unit-$(CONFIG_DS_IPC) += test/unit/sched_task_close_test.c
