#!/bin/sh
# Install the JavaScript clients of the tests and benchmarks (test/js/package.json, exact
# versions from the committed package-lock.json) into test/js/node_modules with `npm ci`.
# Does nothing when node_modules already matches the lock file (a stamp holds its checksum),
# so tests may call it every time; concurrent callers wait for each other (flock).
# Exit status 0 when the clients are usable, 1 otherwise (with the reason on stderr).
set -eu
D=$(cd "$(dirname "$0")" && pwd)
STAMP=$D/node_modules/.lock.sha256
command -v node >/dev/null || { echo "js setup: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "js setup: npm is not installed" >&2; exit 1; }
want=$(sha256sum "$D/package-lock.json" | cut -d' ' -f1)
install() {
	if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then return 0; fi
	echo "js setup: npm ci in test/js" >&2
	# Kinto.js lists playwright as a dependency; its browsers are not needed.
	(cd "$D" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >&2) ||
		{ echo "js setup: npm ci failed (registry unreachable?)" >&2; return 1; }
	echo "$want" >"$STAMP"
}
if command -v flock >/dev/null; then
	exec 9>"$D/.setup.lock"
	flock 9
fi
install
