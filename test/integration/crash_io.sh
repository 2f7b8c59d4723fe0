#!/bin/sh
# Writes and fsyncs of a sync run fail with ENOSPC from the k-th one on (a full disk or SD card),
# or the process is killed right before the k-th one (a power cut between two I/Os); the devices
# converge afterwards. The scenario and the checks are those of crash_kill.sh.
exec sh "$DS_SRC/test/integration/crash_kill.sh" io
