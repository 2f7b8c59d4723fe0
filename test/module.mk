# Test helpers and benchmarks that drive the product through its API (sync core, table engine,
# dir remote): dsdev is one device per home folder; bench_sync times its runs.
# test/tools/failwrite.c is not listed: the crash tests build it as an LD_PRELOAD shim.
ifeq ($(CONFIG_DS_ENGINE_TABLE)$(CONFIG_DS_REMOTE_DIR),yy)
tool-y += test/tools/dsdev.c
bench-y += test/bench/bench_sync.c
endif
# The scheduler's simulated day (docs/scheduler.md).
tool-y += test/tools/sched_day.c
# An app using the client API's task, set and push calls (test/integration/app_tasks.sh).
tool-$(CONFIG_DS_IPC) += test/tools/app_task.c
# sync15: storage protocol pieces (quota, DELETE ?ids=, X-If-Modified-Since, download limit,
# persisted 401 backoff) and the benchmark against the Sync 1.5 storage test server.
unit-$(CONFIG_DS_REMOTE_SYNC15) += test/unit/sync15_protocol_test.c test/unit/sync15_protocol_server_test.c
bench-$(CONFIG_DS_REMOTE_SYNC15) += test/bench/bench_sync15.c
# Browser data: a large account's first sync through the sync core (docs/performance.md).
bench-$(CONFIG_DS_ENGINE_HISTORY) += test/bench/bench_browser.c
# The browser engines' tests: engine helpers, devices on the in-process Sync 1.5 node, and an
# allocator counting the bytes a run holds; the port on a temp folder.
testsupport-y += test/support/engine_fixture.c test/support/count_alloc.c test/support/port_dir.c \
	test/support/child_server.c
testsupport-$(CONFIG_DS_REMOTE_SYNC15) += test/support/engine_sync_fixture.c
