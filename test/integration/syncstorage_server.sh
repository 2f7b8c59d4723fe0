#!/bin/sh
# The Sync 1.5 storage test server (test/servers/syncstorage) against the storage API 1.5,
# checked from Python with an independent client (requests + mohawk): every endpoint, batches,
# limits, preconditions, Hawk failures, the test knobs, and the whole account stack
# (test/servers/stack.py: FxA login -> OAuth -> tokenserver -> storage, node reassignment).
# Needs no datasync binary; it runs here so the suite keeps the test server honest.
set -u
S=${DS_SRC:?}; T=${DS_TMP:?}
PY=$(sh "$S/test/servers/setup-venv.sh" 2>"$T/venv.log" | tail -n 1)
[ -x "$PY" ] || { echo "test servers' virtualenv unavailable (see setup-venv.sh)"; exit 77; }
cd "$T" || exit 1
"$PY" -W ignore::DeprecationWarning "$S/test/servers/syncstorage/test_server.py" -v 2>&1
