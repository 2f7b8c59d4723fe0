#!/bin/sh
# The whole test suite, as CI runs it (README: `make test`).
#  1. every board's defconfig builds with -Werror, the phone board's sources also for ARMv7 and
#     AArch64;
#  2. the sim board: unit tests and integration tests;
#  3. the same under AddressSanitizer + UndefinedBehaviorSanitizer;
#  4. the unit tests under valgrind, and datasyncd/datasyncctl under valgrind through
#     integration tests;
#  5. the fuzz targets (corpus replay and a short pass) and static analysis.
# Ends with one line "N passed, N failed, N skipped".
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRC"
JOBS=$(nproc 2>/dev/null || echo 2)
TP=0; TF=0; TS=0
step_fail() { echo "FAILED: $1"; TF=$((TF + 1)); }
add_summary() { # file
	[ -f "$1" ] || return 0
	set -- $(cat "$1")
	TP=$((TP + $1)); TF=$((TF + $2)); TS=$((TS + ${3:-0}))
}

# minimal: board/host/configs/minimal_defconfig, Firefox Sync with history only, for size.
echo "== build every board and the minimal configuration with -Werror"
for b in host phone tv sim minimal; do
	O=build/ci-$b
	if make -s O=$O ${b}_defconfig >/dev/null && make -s -j"$JOBS" O=$O WERROR=1 programs >"$O.log" 2>&1; then
		echo "  PASS  build/$b"; TP=$((TP + 1))
	else
		cat "$O.log"; step_fail "build/$b"
	fi
done

# The phone board as its devices compile it: 32-bit ARM and AArch64 (objects, warnings as errors).
echo "== cross-compile the phone board (ARMv7, AArch64)"
for cc in arm-linux-gnueabihf-gcc aarch64-linux-gnu-gcc; do
	test/tools/cross-check.sh build/ci-phone $cc
	case $? in 0) TP=$((TP + 1)) ;; 77) TS=$((TS + 1)) ;; *) step_fail "cross-check $cc" ;; esac
done

echo "== static link (make STATIC=1)"; test/tools/check-static.sh && TP=$((TP + 1)) || step_fail "static link"
echo "== make install"
rm -rf build/ci-install
if make -s O=build/ci-host install DESTDIR="$SRC/build/ci-install" >build/ci-install.log 2>&1 &&
	(for f in usr/bin/datasyncd usr/bin/datasyncctl usr/lib/libdatasync.a usr/lib/libdatasync.so \
		usr/lib/libdatasync-client.a usr/include/datasync/datasync.h usr/lib/pkgconfig/datasync.pc \
		usr/lib/systemd/system/datasyncd.service etc/datasync/datasync.conf; do
		[ -e "build/ci-install/$f" ] || { echo "  missing: $f"; exit 1; }
	done); then
	echo "  PASS  install"; TP=$((TP + 1))
else
	cat build/ci-install.log; step_fail "install"
fi

# A feature that is off adds no code: the host board with the table engine, the dir remote, the
# HTTP client and app tasks switched off must export none of their symbols, and the full host build must
# (so that this check can fail).
echo "== features off remove their code"
O=build/ci-features-off
make -s O=$O host_defconfig >/dev/null
KCONFIG_CONFIG=$O/.config srctree=. /usr/bin/python3 -m setconfig DS_ENGINE_TABLE=n DS_REMOTE_DIR=n DS_HTTP=n DS_APP_TASKS=n >/dev/null
if make -s -j"$JOBS" O=$O WERROR=1 programs >"$O.log" 2>&1; then
	pat='^ds_(table|dir|remote_dir|http|tasks)_'
	full=$(nm -D --defined-only build/ci-host/libdatasync.so.0 | awk '{print $3}' | grep -cE "$pat")
	left=$(nm -D --defined-only $O/libdatasync.so.0 | awk '{print $3}' | grep -E "$pat" | head -n 5)
	if [ "$full" -gt 0 ] && [ -z "$left" ]; then
		echo "  PASS  features-off ($full symbols in the full build, none left;" \
			"datasyncd $(stat -c %s build/ci-host/datasyncd) -> $(stat -c %s $O/datasyncd) bytes)"
		TP=$((TP + 1))
	else
		echo "  full build symbols: $full; left in minimal build: $left"; step_fail "features-off"
	fi
else
	cat "$O.log"; step_fail "build/features-off"
fi

run_suite() { # build-dir, extra make args
	O=$1; shift
	echo "== $O: build"
	make -s O=$O sim_defconfig >/dev/null
	if ! make -s -j"$JOBS" O=$O WERROR=1 "$@" all >"$O.log" 2>&1; then
		cat "$O.log"; step_fail "build $O"; return
	fi
	echo "== $O: unit tests"
	test/run-unit.sh "$O"; add_summary "$O/test/unit-summary"
	echo "== $O: integration tests"
	test/run-integration.sh "$O"; add_summary "$O/test/integration-summary"
}

# The test servers' Python packages (PyPI, pinned) in one virtualenv, prepared once up front so
# that a PyPI problem shows as one clear failure and pip stays out of the sanitizer runs.
echo "== test servers' Python environment"
if test/servers/setup-venv.sh >build/pyenv.log 2>&1; then
	echo "  PASS  venv ($(tail -n 1 build/pyenv.log))"; TP=$((TP + 1))
else
	cat build/pyenv.log; step_fail "venv"
fi

run_suite build/test
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	run_suite build/test-san SAN=1

# libwebsockets on mbedTLS (make LWS=mbedtls), built from Debian's lws source: the HTTP/TLS
# unit tests (certificates refused or accepted), a sign-in over TLS and daemon scenarios over its
# HTTP client, and a STATIC=1 daemon that must not link OpenSSL.
echo "== libwebsockets on mbedTLS (LWS=mbedtls)"
O=build/test-lws-mbedtls
LWS_UNITS="http_test http_tls_version_test tokenserver_test fxa_test sync15_server_test sync15_protocol_server_test kinto_files_test"
if test/tools/build-lws-mbedtls.sh >build/lws-mbedtls.log 2>&1 && rm -rf $O $O-static && make -s O=$O sim_defconfig >/dev/null &&
	make -s -j"$JOBS" O=$O WERROR=1 LWS=mbedtls programs tools $(for u in $LWS_UNITS; do echo $O/test/unit/$u; done) >"$O.log" 2>&1 &&
	make -s O=$O-static host_defconfig >/dev/null && make -s -j"$JOBS" O=$O-static LWS=mbedtls STATIC=1 programs >>"$O.log" 2>&1; then
	test/run-unit.sh $O; add_summary $O/test/unit-summary
	test/run-integration.sh $O account_login_tls sync15_daemon kinto_sync account_login; add_summary $O/test/integration-summary
	if ldd $O/datasyncd $O-static/datasyncd | grep -E 'lib(ssl|crypto)\.so|libwebsockets\.so\.[0-9]+ => /(usr/)?lib'; then
		step_fail "LWS=mbedtls programs map OpenSSL or the system's libwebsockets"
	else
		echo "  PASS  LWS=mbedtls without OpenSSL (dynamic and STATIC=1)"; TP=$((TP + 1))
	fi
else
	tail -n 40 build/lws-mbedtls.log "$O.log"; step_fail "LWS=mbedtls build"
fi

# A fully static daemon on musl (make STATIC=full LIBC=musl, docs/porting.md "Fully static
# builds"), built for size as measured there (CONFIG_DS_OPTIMIZE_SIZE), its libraries built from
# Debian's sources by test/tools/build-musl-deps.sh: unit
# tests of the port, store, IPC, crypto and HTTP/TLS, two daemon scenarios (dir remote, sign-in
# over TLS), and no program interpreter in the executables.
echo "== fully static on musl (STATIC=full LIBC=musl)"
O=build/test-musl
MUSL_UNITS="port_posix_test port_file_test store_test ipc_test conf_test crypto_test http_test http_tls_version_test table_engine_test sync_table_ops_test"
if test/tools/build-musl-deps.sh musl >build/musl-deps.log 2>&1 && rm -rf $O && make -s O=$O sim_defconfig >/dev/null &&
	KCONFIG_CONFIG=$O/.config srctree=. /usr/bin/python3 -m setconfig DS_OPTIMIZE_SIZE=y >/dev/null &&
	make -s -j"$JOBS" O=$O WERROR=1 STATIC=full LIBC=musl programs tools $(for u in $MUSL_UNITS; do echo $O/test/unit/$u; done) >"$O.log" 2>&1; then
	test/run-unit.sh $O; add_summary $O/test/unit-summary
	test/run-integration.sh $O daemon_events account_login_tls; add_summary $O/test/integration-summary
	if readelf -l $O/datasyncd $O/datasyncctl | grep -q INTERP; then
		step_fail "STATIC=full LIBC=musl programs are dynamically linked"
	else
		echo "  PASS  STATIC=full LIBC=musl programs have no program interpreter"; TP=$((TP + 1))
	fi
else
	tail -n 40 build/musl-deps.log "$O.log"; step_fail "STATIC=full LIBC=musl build"
fi

echo "== build/test: unit tests under valgrind"
test/run-unit.sh --valgrind build/test; add_summary build/test/test/unit-summary

# The daemon and datasyncctl under valgrind, through integration tests that drive them: the
# programs are replaced by wrappers (a leak or an error makes them exit 99, which the tests see
# as a failed stop or command). Tests whose sim script plays at fixed real-time offsets are left
# out: valgrind's slowness would move events past them.
echo "== build/test: datasyncd and datasyncctl under valgrind"
VG=build/test-vg
rm -rf $VG && mkdir -p $VG/test
for p in datasyncd datasyncctl; do
	printf '#!/bin/sh\nexec valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --track-fds=no --log-file=%s/%s/vg-%%p.log "%s/build/test/%s" "$@"\n' \
		"$SRC" "$VG" "$SRC" "$p" >$VG/$p
	chmod +x $VG/$p
done
for f in .config auto.conf include board test/tools; do ln -s "$SRC/build/test/$f" $VG/$f; done
test/run-integration.sh $VG ctl_commands demo; add_summary $VG/test/integration-summary
# With --quiet a log holds only what valgrind found (a daemon stopped by a test's cleanup
# reports it there, not through an exit status anyone reads).
for f in $VG/vg-*.log; do
	[ -s "$f" ] || continue
	echo "  valgrind findings in $f:"; head -n 40 "$f"; step_fail "valgrind ($f)"
done

# Every parser that reads outside bytes: replay the corpora (seeds and fixed crashes), then a
# short libFuzzer pass per target (make fuzz runs longer ones).
echo "== fuzz (${FUZZ_SECONDS:-10} s per target)"
rm -f build/fuzz/summary
FUZZ_SECONDS=${FUZZ_SECONDS:-10} test/fuzz/run-fuzz.sh | tail -n 25
[ -f build/fuzz/summary ] && add_summary build/fuzz/summary || step_fail "fuzz"

echo "== static analysis (cppcheck, gcc -fanalyzer)"
rm -f build/static/summary
test/static/run-static.sh | tail -n 25
[ -f build/static/summary ] && add_summary build/static/summary || step_fail "static analysis"

echo
echo "$TP passed, $TF failed, $TS skipped"
[ $TF -eq 0 ]
