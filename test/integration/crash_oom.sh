#!/bin/sh
# Every allocation of a sync run fails in turn (from that one on): the run ends with a clean
# error or succeeds, never crashes or leaks, and the devices converge afterwards.
# The scenario and the checks are those of crash_kill.sh.
exec sh "$DS_SRC/test/integration/crash_kill.sh" oom
