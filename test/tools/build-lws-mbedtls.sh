#!/bin/sh
# Build libwebsockets 4.1.6 on mbedTLS (LWS_WITH_MBEDTLS) for `make LWS=mbedtls`.
#
#   test/tools/build-lws-mbedtls.sh [CACHE_DIR [PREFIX]]  (default: <source tree>/build/third_party,
#                                                          PREFIX CACHE_DIR/lws-mbedtls)
#
# Debian's libwebsockets-dev is built on OpenSSL, which maps ~1.4 MB into the daemon
# (docs/performance.md). This fetches the very source Debian ships for 4.1.6, checks it against
# the sha256 of Debian's libwebsockets_4.1.6-3.dsc, and builds it with Debian's libmbedtls-dev
# 2.28 into CACHE_DIR/lws-mbedtls (include/, lib/, lib/pkgconfig/). Nothing is done when that
# prefix was already built with the same options. LWS_TARBALL=<file> uses a local copy of the
# tarball instead of the network (still checked).
#
# Another compiler or mbedTLS (test/tools/build-musl-deps.sh: musl): LWS_CC=<compiler> and
# LWS_MBEDTLS_PREFIX=<dir with include/mbedtls and lib/libmbed*.a>; with an explicit PREFIX the
# library goes into that prefix next to what is already there.
#
# Debian 4.1.6-3 applies none of its patches (debian/patches/series has all of them commented
# out), so the upstream tarball is what Debian builds. One patch of ours is applied:
# lws-4.1.6-mbedtls-verify.patch (iPAddress SANs, which mbedTLS 2.x does not check, and a TLS 1.2
# floor; see the patch).
set -eu

srctree=$(cd "$(dirname "$0")/../.." && pwd)
cache=${1:-$srctree/build/third_party}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

VER=4.1.6
TARBALL=libwebsockets_$VER.orig.tar.gz
URL=http://deb.debian.org/debian/pool/main/libw/libwebsockets/$TARBALL
# Checksums-Sha256 of libwebsockets_4.1.6-3.dsc (same pool folder).
SHA256=402e9a8df553c9cd2aff5d7a9758e9e5285bf3070c82539082864633db3deb83
prefix=${2:-$cache/lws-mbedtls}

# What the daemon uses of lws (component/core/loop.c, component/net/): the HTTP/1 client over
# TLS, timers, raw file descriptors, custom response headers, IPv6. The ws role stays for the
# push channel (WebPush over a websocket). No server, no HTTP/2, no event-library plugins, no
# test apps or examples, no config parser (its JSON parser LEJP stays: lws needs it), no libcap
# (lws drops privileges with it only when told a uid/gid, which the daemon never does; the
# check would otherwise pick up the libcap-dev that Debian's libwebsockets-dev pulls in). Static
# and shared libraries, both PIC: the static one goes into STATIC=1 programs (PIE or not), the
# shared one into the others. lws' own -Werror is off: it builds without a warning with gcc 12,
# but a newer compiler's new warning in code that is not ours must not stop the build.
OPTS="-DCMAKE_BUILD_TYPE=Release
-DLWS_WITH_SSL=ON -DLWS_WITH_MBEDTLS=ON
-DLWS_WITH_SHARED=ON -DLWS_WITH_STATIC=ON -DLWS_STATIC_PIC=ON
-DLWS_WITHOUT_SERVER=ON -DLWS_WITHOUT_TESTAPPS=ON -DLWS_WITH_MINIMAL_EXAMPLES=OFF
-DLWS_WITH_HTTP2=OFF -DLWS_IPV6=ON -DLWS_ROLE_WS=ON -DLWS_WITH_CUSTOM_HEADERS=ON
-DLWS_WITH_LIBUV=OFF -DLWS_WITH_LIBEV=OFF -DLWS_WITH_LIBEVENT=OFF -DLWS_WITH_GLIB=OFF
-DLWS_WITH_EVLIB_PLUGINS=OFF -DLWS_WITH_ZLIB=OFF -DLWS_WITHOUT_EXTENSIONS=ON
-DLWS_WITH_LEJP_CONF=OFF -DLWS_WITH_DIR=OFF -DLWS_WITH_SYS_SMD=OFF
-DLWS_WITH_EXPORT_LWSTARGETS=OFF -DLWS_WITH_SELFTESTS=OFF
-DLWS_HAVE_LIBCAP=0 -DLWS_HAVE_SYS_CAPABILITY_H=0
-DDISABLE_WERROR=ON"
if [ -n "${LWS_MBEDTLS_PREFIX:-}" ]; then
	m=$LWS_MBEDTLS_PREFIX
	OPTS="$OPTS
-DLWS_MBEDTLS_INCLUDE_DIRS=$m/include
-DLWS_MBEDTLS_LIBRARIES=$m/lib/libmbedtls.a;$m/lib/libmbedx509.a;$m/lib/libmbedcrypto.a"
fi

PATCHES="lws-4.1.6-mbedtls-verify.patch"
stamp=$prefix/.built
want="$VER $SHA256 $(echo "$OPTS" | tr '\n' ' ') $(cd "$srctree/test/tools" && cat $PATCHES | sha256sum | cut -d' ' -f1)${LWS_CC:+ $LWS_CC}"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$prefix/lib/libwebsockets.a" ]; then
	echo "lws-mbedtls: up to date in $prefix"
	exit 0
fi

command -v cmake >/dev/null || { echo "build-lws-mbedtls: cmake is missing (test/tools/install-deps.sh)" >&2; exit 1; }

tar_path=$cache/$TARBALL
if [ -n "${LWS_TARBALL:-}" ]; then
	cp "$LWS_TARBALL" "$tar_path.part"
	mv "$tar_path.part" "$tar_path"
elif [ ! -f "$tar_path" ]; then
	echo "lws-mbedtls: fetching $URL"
	# python3 is a build dependency already; curl/wget may be absent on a fresh Debian.
	/usr/bin/python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
		"$URL" "$tar_path.part"
	mv "$tar_path.part" "$tar_path"
fi
got=$(sha256sum "$tar_path" | cut -d' ' -f1)
if [ "$got" != "$SHA256" ]; then
	echo "build-lws-mbedtls: $TARBALL has sha256 $got, expected $SHA256 (Debian's .dsc)" >&2
	rm -f "$tar_path"
	exit 1
fi

if [ -z "${2:-}" ]; then
	src=$cache/libwebsockets-$VER
	bld=$cache/lws-mbedtls-build
	rm -rf "$src" "$bld" "$prefix"
	tar -xzf "$tar_path" -C "$cache"
else
	# A shared prefix: only lws' own files go, in a work folder of that prefix.
	src=$prefix.lws-src/libwebsockets-$VER
	bld=$prefix.lws-build
	rm -rf "$prefix.lws-src" "$bld" "$prefix"/include/libwebsockets* "$prefix/include/lws_config.h" \
		"$prefix"/lib/libwebsockets* "$prefix/lib/pkgconfig"/libwebsockets* "$prefix/lib/cmake/libwebsockets"
	mkdir -p "$prefix.lws-src"
	tar -xzf "$tar_path" -C "$prefix.lws-src"
fi
for p in $PATCHES; do
	patch -s -d "$src" -p1 <"$srctree/test/tools/$p"
done
mkdir -p "$bld"
# shellcheck disable=SC2086
(cd "$bld" && env ${LWS_CC:+CC=$LWS_CC} cmake -S "$src" -B . -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib \
	$OPTS >cmake.log 2>&1) || { tail -30 "$bld/cmake.log" >&2; exit 1; }
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 2 ] && jobs=2
(cd "$bld" && make -j"$jobs" >make.log 2>&1 && make install >install.log 2>&1) ||
	{ tail -40 "$bld/make.log" >&2; exit 1; }
echo "$want" >"$stamp"
rm -rf "$src" "$bld"
[ -z "${2:-}" ] || rm -rf "$prefix.lws-src"
echo "lws-mbedtls: built into $prefix"
