#!/bin/sh
# Build the libraries of a fully static datasyncd (`make STATIC=full`, docs/porting.md "Fully
# static builds") from Debian bookworm's sources, as static archives in one prefix.
#
#   test/tools/build-musl-deps.sh [musl|glibc] [CACHE_DIR]   (default: musl, <source tree>/build/third_party)
#
#   musl   SQLite 3.40.1, mbedTLS 2.28.3, cJSON 1.7.15, cmocka 1.1.5 and libwebsockets 4.1.6 on
#          that mbedTLS (test/tools/build-lws-mbedtls.sh), all compiled with musl-gcc
#          (Debian's musl-tools), into CACHE_DIR/musl: `make STATIC=full LIBC=musl`.
#   glibc  cJSON and cmocka only, with the system compiler, into CACHE_DIR/static-glibc: Debian
#          ships static archives of SQLite and mbedTLS but none of cJSON or cmocka
#          (`make STATIC=full LWS=mbedtls`, with build-lws-mbedtls.sh's libwebsockets).
#
# Every tarball is the orig tarball of the Debian bookworm package, checked against the sha256
# in that package's .dsc (named next to each); tarballs are kept in CACHE_DIR, and a library
# already built with the same source and options is not built again. Debian's own patches are
# not applied (they are security fixes to SQLite and cJSON, and packaging for the rest): these
# builds measure and test a configuration, they are not what a product should ship unpatched.
set -eu

srctree=$(cd "$(dirname "$0")/../.." && pwd)
libc=${1:-musl}
cache=${2:-$srctree/build/third_party}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
case $libc in
musl)
	command -v musl-gcc >/dev/null || { echo "build-musl-deps: musl-gcc is missing (apt install musl-tools)" >&2; exit 1; }
	cc=musl-gcc; prefix=$cache/musl ;;
glibc) cc=${CC:-cc}; prefix=$cache/static-glibc ;;
*) echo "usage: $0 [musl|glibc] [CACHE_DIR]" >&2; exit 2 ;;
esac
# Position-independent code: the archives also go into libdatasync.so. With musl, built for
# size as firmware is: -Os, a section per function and object (so that a --gc-sections link,
# CONFIG_DS_OPTIMIZE_SIZE, drops what nothing calls) and no unwind tables; at -O2 the idle
# daemon maps 0.6 MB more (docs/porting.md). DEPS_CFLAGS=<flags> replaces these flags (with
# another CACHE_DIR to keep both builds).
if [ "$libc" = musl ]; then
	cflags="-Os -fPIC -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables"
else
	cflags="-O2 -fPIC"
fi
cflags=${DEPS_CFLAGS:-$cflags}
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 2 ] && jobs=2
mkdir -p "$prefix/include" "$prefix/lib"

fetch() { # pool path, sha256 -> path of the checked tarball in the cache
	f=$cache/$(basename "$1")
	if [ ! -f "$f" ]; then
		echo "build-musl-deps: fetching $1" >&2
		/usr/bin/python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
			"http://deb.debian.org/debian/pool/main/$1" "$f.part"
		mv "$f.part" "$f"
	fi
	got=$(sha256sum "$f" | cut -d' ' -f1)
	if [ "$got" != "$2" ]; then
		echo "build-musl-deps: $(basename "$1") has sha256 $got, expected $2 (Debian's .dsc)" >&2
		rm -f "$f"; exit 1
	fi
	echo "$f"
}

# up_to_date NAME WANT ARCHIVE: true when NAME was built with WANT and its archive is there.
up_to_date() {
	[ -f "$prefix/.built-$1" ] && [ "$(cat "$prefix/.built-$1")" = "$2" ] && [ -f "$prefix/lib/$3" ]
}

work=$prefix.work
fresh_work() { rm -rf "$work" && mkdir -p "$work"; }

# cJSON: one file. cjson_1.7.15-1+deb12u4.dsc.
CJSON_SHA=5308fd4bd90cef7aa060558514de6a1a4a0819974a26e6ed13973c5f624c24b2
want="cjson 1.7.15 $CJSON_SHA $cc $cflags"
if ! up_to_date cjson "$want" libcjson.a; then
	t=$(fetch c/cjson/cjson_1.7.15.orig.tar.gz $CJSON_SHA)
	fresh_work
	tar -xzf "$t" -C "$work"
	s=$work/cJSON-1.7.15
	$cc $cflags -std=c89 -c "$s/cJSON.c" -o "$work/cJSON.o"
	rm -f "$prefix/lib/libcjson.a" && ar rcs "$prefix/lib/libcjson.a" "$work/cJSON.o"
	mkdir -p "$prefix/include/cjson" && cp "$s/cJSON.h" "$prefix/include/cjson/"
	echo "$want" >"$prefix/.built-cjson"
	echo "build-musl-deps: cJSON 1.7.15 built into $prefix"
fi

# cmocka (unit tests only): its CMake build, static library. cmocka_1.1.5-2.1.dsc.
CMOCKA_SHA=f0ccd8242d55e2fd74b16ba518359151f6f8383ff8aef4976e48393f77bba8b6
want="cmocka 1.1.5 $CMOCKA_SHA $cc $cflags"
if ! up_to_date cmocka "$want" libcmocka.a; then
	command -v cmake >/dev/null || { echo "build-musl-deps: cmake is missing (test/tools/install-deps.sh)" >&2; exit 1; }
	t=$(fetch c/cmocka/cmocka_1.1.5.orig.tar.xz $CMOCKA_SHA)
	fresh_work
	tar -xJf "$t" -C "$work"
	(cd "$work" && CC=$cc CFLAGS="$cflags" cmake -S cmocka-1.1.5 -B b -DCMAKE_BUILD_TYPE=Release \
		-DBUILD_SHARED_LIBS=OFF -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF \
		-DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib >cmake.log 2>&1 &&
		make -C b -j"$jobs" >make.log 2>&1 && make -C b install >install.log 2>&1) ||
		{ tail -30 "$work"/*.log >&2; exit 1; }
	# 1.1.5 names its static archive libcmocka-static.a and builds the shared library in any case:
	# only the archive stays.
	[ -f "$prefix/lib/libcmocka.a" ] || cp "$prefix/lib/libcmocka-static.a" "$prefix/lib/libcmocka.a"
	rm -f "$prefix"/lib/libcmocka.so* "$prefix/lib/libcmocka-static.a"
	echo "$want" >"$prefix/.built-cmocka"
	echo "build-musl-deps: cmocka 1.1.5 built into $prefix"
fi

if [ "$libc" = glibc ]; then
	rm -rf "$work"
	exit 0
fi

# SQLite: the canonical source tree (Debian's orig tarball is not the amalgamation); its
# configure builds the amalgamation with tclsh. Default compile options: the daemon uses no
# extension (FTS, R-Tree, ...), and Debian's list would only add code.
# sqlite3_3.40.1-2+deb12u2.dsc.
SQLITE_SHA=aaa776260ab4dc976db34aa7891819484c8676b5b2783123ebc6301e2ca5d655
want="sqlite 3.40.1 $SQLITE_SHA $cc $cflags"
if ! up_to_date sqlite "$want" libsqlite3.a; then
	command -v tclsh >/dev/null || { echo "build-musl-deps: tclsh is missing (apt install tcl)" >&2; exit 1; }
	t=$(fetch s/sqlite3/sqlite3_3.40.1.orig.tar.xz $SQLITE_SHA)
	fresh_work
	tar -xJf "$t" -C "$work"
	s=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -n 1)
	mkdir -p "$work/b"
	(cd "$work/b" && CC=$cc CFLAGS="$cflags" "$s/configure" --disable-shared --enable-static \
		--disable-tcl --disable-readline --disable-editline --disable-load-extension \
		--prefix="$prefix" >configure.log 2>&1 &&
		make -j"$jobs" sqlite3.c >make.log 2>&1 && make -j"$jobs" libsqlite3.la >>make.log 2>&1) ||
		{ tail -30 "$work/b/configure.log" "$work/b/make.log" >&2; exit 1; }
	cp "$work/b/.libs/libsqlite3.a" "$prefix/lib/"
	cp "$work/b/sqlite3.h" "$s/src/sqlite3ext.h" "$prefix/include/" 2>/dev/null ||
		cp "$work/b/sqlite3.h" "$prefix/include/"
	echo "$want" >"$prefix/.built-sqlite"
	echo "build-musl-deps: SQLite 3.40.1 built into $prefix"
fi

# mbedTLS: its plain Makefile (library/ only), default config (include/mbedtls/config.h).
# mbedtls_2.28.3-1.dsc.
MBEDTLS_SHA=3b4953aa55a681e084d31892d9904cc5328d6b4958ea57b90ae4b4f94ae69a8d
want="mbedtls 2.28.3 $MBEDTLS_SHA $cc $cflags"
if ! up_to_date mbedtls "$want" libmbedcrypto.a; then
	t=$(fetch m/mbedtls/mbedtls_2.28.3.orig.tar.gz $MBEDTLS_SHA)
	fresh_work
	tar -xzf "$t" -C "$work"
	s=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -n 1)
	make -C "$s/library" -j"$jobs" CC="$cc" CFLAGS="$cflags" AR=ar static >"$work/make.log" 2>&1 ||
		{ tail -30 "$work/make.log" >&2; exit 1; }
	cp "$s"/library/libmbed*.a "$prefix/lib/"
	rm -rf "$prefix/include/mbedtls" "$prefix/include/psa"
	cp -r "$s/include/mbedtls" "$s/include/psa" "$prefix/include/"
	echo "$want" >"$prefix/.built-mbedtls"
	echo "build-musl-deps: mbedTLS 2.28.3 built into $prefix"
fi
rm -rf "$work"

# Linux's UAPI headers (linux/, asm/, asm-generic/ of Debian's linux-libc-dev), which musl-gcc
# leaves out of its include path: libwebsockets and the posix port (netlink) use them. They
# describe the kernel's interface, not glibc's, so the same files serve musl.
if [ ! -f "$prefix/include/linux/netlink.h" ]; then
	arch=$(gcc -print-multiarch)
	rm -rf "$prefix/include/linux" "$prefix/include/asm" "$prefix/include/asm-generic"
	cp -rL /usr/include/linux /usr/include/asm-generic "$prefix/include/"
	cp -rL "/usr/include/$arch/asm" "$prefix/include/"
fi

# libwebsockets on the mbedTLS above, into the same prefix (it keeps its own stamp).
CFLAGS="$cflags -I$prefix/include" LWS_CC=$cc LWS_MBEDTLS_PREFIX=$prefix \
	"$srctree/test/tools/build-lws-mbedtls.sh" "$cache" "$prefix"
