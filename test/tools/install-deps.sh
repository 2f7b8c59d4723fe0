#!/bin/sh
# Install what building and testing datasync needs on Debian, and nothing when it is all there.
set -eu
PKGS="build-essential pkg-config libmbedtls-dev libssl-dev libsqlite3-dev libcjson-dev libwebsockets-dev
libcmocka-dev python3 python3-kconfiglib valgrind clang libclang-rt-14-dev openssl sqlite3
procps python3-venv cppcheck dosfstools gcc-arm-linux-gnueabihf gcc-aarch64-linux-gnu cmake musl-tools tcl"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
