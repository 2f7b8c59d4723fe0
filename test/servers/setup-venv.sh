#!/bin/sh
# Create (or bring up to date) the Python virtualenv of the test servers.
#   test/servers/setup-venv.sh [VENV_DIR]        default: <source tree>/build/pyenv
# Installs test/servers/requirements.txt with pip from PyPI. Does nothing when the venv already
# holds exactly that requirements file (a stamp records its checksum), so callers may run it
# before every test. Concurrent callers wait for each other (flock). Prints the venv's python
# path on the last line of stdout.
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${1:-$SRC/build/pyenv}
REQ=$SRC/test/servers/requirements.txt
STAMP=$VENV/.requirements.sha256

mkdir -p "$(dirname "$VENV")"
VENV=$(cd "$(dirname "$VENV")" && pwd)/$(basename "$VENV")
STAMP=$VENV/.requirements.sha256

# Debian's interpreter: the venv module comes with python3-venv (test/tools/install-deps.sh).
# A python3 earlier on PATH (pyenv) would also do, but the system one is what CI has.
PY=${DS_VENV_PYTHON:-}
if [ -z "$PY" ]; then
	if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
fi

want=$(sha256sum "$REQ" | cut -d' ' -f1)

setup() {
	if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] &&
		"$VENV/bin/python" -c 'import sys' 2>/dev/null; then
		return 0
	fi
	echo "setup-venv: creating $VENV from test/servers/requirements.txt" >&2
	rm -f "$STAMP"
	if [ ! -x "$VENV/bin/python" ]; then
		if ! "$PY" -m venv "$VENV" >&2; then
			echo "setup-venv: '$PY -m venv' failed: install python3-venv (test/tools/install-deps.sh)" >&2
			rm -rf "$VENV"
			return 1
		fi
	fi
	if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQ" >&2; then
		echo "setup-venv: pip install -r test/servers/requirements.txt failed (PyPI reachable?)" >&2
		return 1
	fi
	echo "$want" > "$STAMP"
}

if command -v flock >/dev/null 2>&1; then
	exec 9>"$VENV.lock"
	flock 9
fi
setup
echo "$VENV/bin/python"
