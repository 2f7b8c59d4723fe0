#!/bin/sh
# Footprint of datasync (`make footprint`; not part of the tests): for every board's defconfig,
# the minimal configuration (`make minimal_defconfig`, board/host/configs/minimal_defconfig:
# Firefox Sync with history only, compiled for size with CONFIG_DS_OPTIMIZE_SIZE), and the host
# board linked with the libraries' static archives (static: make STATIC=1, docs/porting.md), and
# the host board fully static on musl (musl: make STATIC=full LIBC=musl, libraries from Debian's
# sources by test/tools/build-musl-deps.sh, compiled for size with CONFIG_DS_OPTIMIZE_SIZE):
#   - stripped file sizes and text/data/bss (size(1)) of datasyncd and libdatasync.so, x86-64;
#   - our own code: the text+data of all our objects (datasyncd, datasyncctl and the client
#     library; .eh_frame included), and what of it the linked datasyncd holds (the input
#     sections taken from our objects in the linker's map: what a firmware image pays);
#   - the same for 32-bit ARM (ARMv7 Thumb-2, Debian armhf) and AArch64 when
#     arm-linux-gnueabihf-gcc and aarch64-linux-gnu-gcc are installed: our objects compiled
#     with the configuration's flags, and datasyncd linked from them with the libraries'
#     symbols left unresolved (no ARM builds of the libraries are needed, their headers are
#     taken from the host); with CONFIG_DS_LTO the objects hold no code, only the link counts;
#   - idle memory of datasyncd with three synced collections (smaps_rollup: Rss, Pss,
#     Anonymous, Private_Dirty; measured, not asserted), and a line with the host board's;
#   - idle memory of datasyncd signed in to a Firefox Account with history synced once, on the
#     account test stack (test/footprint/idle_history.sh), where the configuration has them;
#   - the peak RSS (VmHWM) of datasyncd over its start, sign-in and first history sync of the
#     larger size of FOOTPRINT_ROWS, uploading (device A) and downloading (device B);
#   - heap allocations per synced record: table collections through the allocator hook (dsdev
#     --count: ours only), history through an LD_PRELOAD counter (test/footprint/
#     history_allocs.sh: the whole process, SQLite and the TLS/HTTP libraries included); each
#     the difference between two sizes, so fixed costs cancel out.
# Prints a Markdown table (also written to build/footprint/footprint.md).
#
#   FOOTPRINT_CONFIGS="host minimal" FOOTPRINT_ROWS="200 1200" test/footprint/footprint.sh
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
cd "$SRC"
OUT=${FOOTPRINT_OUT:-build/footprint}
CONFIGS=${FOOTPRINT_CONFIGS:-host phone tv sim minimal static musl}
ROWS=${FOOTPRINT_ROWS:-200 1200}
JOBS=$(nproc 2>/dev/null || echo 2)
ARM_CC=${ARM_CC:-arm-linux-gnueabihf-gcc}
A64_CC=${A64_CC:-aarch64-linux-gnu-gcc}
# OpenSSL's per-architecture headers (opensslconf.h, configuration.h) are installed for the host
# only; the files that include them through libwebsockets.h (core/loop.c, net/http_*.c) take
# the host's, which set bignum word sizes that none of them uses.
HOST_TRIPLET=$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
mkdir -p "$OUT"
REPORT=$OUT/footprint.md

kb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }

# "text data bss" of a file (Berkeley format of size(1)); sums over several files.
tdb() {
	size "$@" 2>/dev/null | awk 'NR > 1 { t += $1; d += $2; b += $3 } END { print t + 0, d + 0, b + 0 }'
}

build() { # config -> build dir ready, 0 or 1
	c=$1; o=$OUT/$c
	board=$c; static=; libc=
	case $c in static) board=host; static=1 ;; musl) board=host; static=full; libc=musl ;; esac
	if [ "$c" = musl ]; then
		test/tools/build-musl-deps.sh musl >"$o.deps.log" 2>&1 || { tail -n 20 "$o.deps.log"; return 1; }
	fi
	# Objects of an earlier configuration of the folder (a feature since turned off) would be
	# counted as ours: compile afresh.
	rm -rf "$o/obj" "$o/libdatasync.so.0"
	make -s O="$o" "${board}_defconfig" >/dev/null || return 1
	if [ "$c" = musl ]; then
		KCONFIG_CONFIG=$o/.config srctree=. /usr/bin/python3 -m setconfig DS_OPTIMIZE_SIZE=y DS_UNWIND_TABLES=n >/dev/null || return 1
	fi
	# A build folder keeps no record of how its programs were linked: relink them, each with
	# its linker map beside it ($@ is expanded by make for each program).
	rm -f "$o/datasyncd" "$o/datasyncctl" "$o/test/tools/dsdev"
	# shellcheck disable=SC2016
	make -s -j"$JOBS" O="$o" CFLAGS="-O2" LDFLAGS='-Wl,-Map=$@.map' STATIC="$static" LIBC="$libc" programs \
		>"$o.log" 2>&1 || { cat "$o.log"; return 1; }
	if grep -q '^CONFIG_DS_ENGINE_TABLE=y' "$o/.config" && grep -q '^CONFIG_DS_REMOTE_DIR=y' "$o/.config" &&
		grep -q '^CONFIG_DS_ALLOC_HOOK=y' "$o/.config"; then
		make -s -j"$JOBS" O="$o" CFLAGS="-O2" STATIC="$static" LIBC="$libc" "$o/test/tools/dsdev" >>"$o.log" 2>&1 || return 1
	fi
	return 0
}

# Our objects of a configuration: everything compiled for the programs (no test code).
own_objects() { # build dir
	find "$1/obj" -name '*.o' ! -path '*/obj/test/*' | sort
}

# What the objects under a folder put in a linked program: the sizes of the allocated input
# sections (text, read-only and written data; not bss, debug information or notes) that the
# linker's map names from files under that folder (our objects and archives, not the system's).
linked_own() { # map, folder -> bytes
	awk -v dir="$2/" '
	function hex(s,  i, n, c) {
		n = 0; s = tolower(substr(s, 3))
		for (i = 1; i <= length(s); i++) { c = index("0123456789abcdef", substr(s, i, 1)); n = n * 16 + c - 1 }
		return n
	}
	/^Linker script and memory map/ { on = 1; next }
	!on { next }
	/^ \.[^ ]+$/ { sec = $1; next }
	/^ \.[^ ]+ +0x[0-9a-f]+ +0x[0-9a-f]+ / { sec = $1; sz = $3; f = $4; use() ; sec = ""; next }
	/^  +0x[0-9a-f]+ +0x[0-9a-f]+ / && sec != "" { sz = $2; f = $3; use(); sec = ""; next }
	{ sec = "" }
	function use() {
		# Our objects, and with LTO the output of the link-time compiler (only our code:
		# no system object or library is compiled for LTO).
		if (index(f, dir) != 1 && f !~ /\.ltrans[0-9]*\.ltrans\.o$/) return
		if (sec ~ /^\.(debug|comment|note|bss|tbss|ARM\.attributes|gnu\.)/) return
		total += hex(sz)
	}
	END { print total + 0 }' "$1"
}

# Compile and link flags the configuration adds (Makefile: CONFIG_DS_OPTIMIZE_SIZE,
# CONFIG_DS_UNWIND_TABLES, CONFIG_DS_LTO), for the compiler cc.
size_flags() { # build dir, cc -> "cflags|ldflags"
	cf=; lf=; opt=-O2
	if grep -q '^CONFIG_DS_OPTIMIZE_SIZE=y' "$1/.config"; then
		opt=-Os
		"$2" -Oz -E -x c /dev/null >/dev/null 2>&1 && opt=-Oz
		cf="$opt -ffunction-sections -fdata-sections"; lf="-Wl,--gc-sections"
	fi
	grep -q '^CONFIG_DS_UNWIND_TABLES=y' "$1/.config" ||
		cf="$cf -fno-asynchronous-unwind-tables -fno-unwind-tables"
	if grep -q '^CONFIG_DS_LTO=y' "$1/.config"; then
		cf="$cf -flto=auto"; lf="$lf -flto=auto $opt"
	fi
	echo "$cf|$lf"
}

# The configuration is LTO: its objects hold no code until the link.
is_lto() { grep -q '^CONFIG_DS_LTO=y' "$1/.config"; }

# The same sources compiled for another architecture with the configuration's autoconf.h and
# flags, and datasyncd linked from them (the libraries' symbols left unresolved: only our part
# of the program is measured); prints "text data bss failed-count own-in-datasyncd".
cross_objects() { # build dir, cc, folder name
	o=$1; cc=$2; a=$o/$3; fails=0
	flags=$(size_flags "$o" "$cc"); cflags=${flags%|*}; ldflags=${flags#*|}
	# As the Makefile compiles: -fPIC, or -fPIE for the daemon's objects without
	# CONFIG_DS_SHARED_LIB; the client library's always -fPIC.
	pic=-fPIC
	grep -q '^CONFIG_DS_SHARED_LIB=y' "$o/.config" || pic=-fPIE
	client=$(make -s --no-print-directory O="$o" print-CLIENT_OBJS)
	rm -rf "$a"; mkdir -p "$a/lib"
	for obj in $(own_objects "$o"); do
		rel=${obj#"$o"/obj/}; src=${rel%.o}.c
		p=$pic
		case " $client " in *" $obj "*) p=-fPIC ;; esac
		out=$a/lib/$(echo "$rel" | tr / _)
		case $rel in
		component/daemon/main.o) out=$a/main.o ;;
		component/ctl/*) out=$a/ctl-$(basename "$rel") ;;
		esac
		# shellcheck disable=SC2046,SC2086
		if ! "$cc" -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DNDEBUG -O2 $p $cflags \
			-I"$o/include/generated" -include "$o/include/generated/autoconf.h" \
			-Icomponent/include -Icomponent -Iport/include -I. -DDS_VERSION=\"fp\" \
			-idirafter /usr/include -idirafter "/usr/include/$HOST_TRIPLET" \
			-c "$src" -o "$out" 2>>"$a/errors.log"; then
			fails=$((fails + 1))
			echo "$src" >>"$a/failed"
		fi
	done
	exe=-
	# shellcheck disable=SC2086
	if [ $fails -eq 0 ] && "${cc%gcc}gcc-ar" rcs "$a/libown.a" "$a"/lib/*.o &&
		"$cc" -o "$a/datasyncd" "$a/main.o" "$a/libown.a" $ldflags \
			-Wl,--unresolved-symbols=ignore-all -Wl,-Map="$a/datasyncd.map" 2>>"$a/errors.log"; then
		exe=$(linked_own "$a/datasyncd.map" "$a")
	fi
	echo "$(tdb "$a"/*.o "$a"/lib/*.o) $fails $exe"
}

# The "own code" cell of a cross build.
cross_cell() { # build dir, cc, folder name
	if ! command -v "$2" >/dev/null; then
		echo "not measured ($2 not installed)"
		return
	fi
	# shellcheck disable=SC2046
	set -- "$1" "$3" $(cross_objects "$1" "$2" "$3")
	cell="$(kb $(($3 + $4))) KB / -"
	is_lto "$1" && cell="- (LTO) / -"
	[ "$7" != - ] && cell="${cell% / -} / $(kb "$7") KB"
	[ "$6" -gt 0 ] && cell="$cell, without $(tr '\n' ' ' <"$1/$2/failed")(they need OpenSSL's per-architecture headers)"
	echo "$cell"
}

# Idle memory of datasyncd with three table collections on the dir remote, each synced once
# through datasyncctl, two seconds after the last run (the daemon trims its heap after a job,
# docs/performance.md). From /proc/PID/smaps_rollup: Rss counts every resident page of the
# shared libraries (lws, OpenSSL, SQLite, mbedTLS, libc), clean file pages included, although
# other processes share them or the kernel can drop them; Pss shares them out; Anonymous is the
# memory this process alone pins (heap, stacks, written library data). Without IPC or the table
# engine: no collections. FOOTPRINT_IDLE_COLLECTIONS changes the names (empty: none).
idle_rss() { # build dir -> "Rss Pss Anonymous Private_Dirty" in kB, or "- - - -"
	o=$1; t=$(mktemp -d)
	# A program just linked or stripped is still dirty in the page cache, and its pages mapped by
	# this process alone count as Private_Dirty until written back (3 MB more for the static
	# datasyncd): write them back first.
	sync
	cat >"$t/ds.conf" <<CONF
data_dir = $t/data
run_dir = $t/run
secret_dir = $t/secrets
log_output = stderr
log_level = warn
sync_interval_s = 0
CONF
	"$o/datasyncd" -f -c "$t/ds.conf" 2>"$t/log" &
	pid=$!
	i=0
	# Started when its socket is there (or, without IPC, after a moment).
	while [ $i -lt 50 ] && ! [ -S "$t/run/datasyncd.sock" ]; do sleep 0.1; i=$((i + 1)); done
	if [ -S "$t/run/datasyncd.sock" ] && grep -q '^CONFIG_DS_ENGINE_TABLE=y' "$o/.config" &&
		grep -q '^CONFIG_DS_REMOTE_DIR=y' "$o/.config"; then
		for n in ${FOOTPRINT_IDLE_COLLECTIONS-notes tasks alarms}; do
			mkdir -p "$t/shared/$n"
			sqlite3 "$t/$n.db" "CREATE TABLE $n(id INTEGER PRIMARY KEY, body TEXT);
				INSERT INTO $n VALUES (1, 'one'), (2, 'two');"
			"$o/datasyncctl" -c "$t/ds.conf" register "$n" --engine table --db "$t/$n.db" \
				--table "$n" --remote dir --dir "$t/shared/$n" --no-encryption >/dev/null &&
				"$o/datasyncctl" -c "$t/ds.conf" sync "$n" --wait >/dev/null ||
				echo "footprint: collection $n not synced" >&2
		done
	fi
	sleep 2
	r=$(awk '/^(Rss|Pss|Anonymous|Private_Dirty):/ { v[$1] = $2 }
		END { if (v["Rss:"] != "") print v["Rss:"], v["Pss:"], v["Anonymous:"], v["Private_Dirty:"] }' \
		"/proc/$pid/smaps_rollup" 2>/dev/null)
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	rm -rf "$t"
	[ -n "$r" ] && echo "$r" || echo "- - - -"
}

# The floor under the daemon's Rss: an empty program linked against the same libraries
# (loading them relocates and initialises them; OpenSSL's libcrypto alone is about 1.4 MB).
libs_rss() { # -> "Rss Anonymous" in kB, or "- -"
	t=$(mktemp -d)
	printf '#include <unistd.h>\nint main(void) { for (;;) pause(); }\n' >"$t/e.c"
	# shellcheck disable=SC2046
	if ! cc -O2 "$t/e.c" -o "$t/e" -Wl,--no-as-needed $(pkg-config --libs libwebsockets libcjson sqlite3) \
		-lmbedtls -lmbedx509 -lmbedcrypto -lpthread 2>/dev/null; then
		rm -rf "$t"; echo "- -"; return
	fi
	"$t/e" & pid=$!
	sleep 0.5
	r=$(awk '/^(Rss|Anonymous):/ { v[$1] = $2 } END { print v["Rss:"], v["Anonymous:"] }' "/proc/$pid/smaps_rollup")
	kill "$pid"; wait "$pid" 2>/dev/null
	rm -rf "$t"
	echo "$r"
}

# Allocations of one first sync that uploads n rows, and of the sync that applies them on a
# second device. Prints "upload download" allocation counts.
allocs_for() { # build dir, rows
	o=$1; n=$2; t=$(mktemp -d)
	dsdev=$o/test/tools/dsdev
	mkdir -p "$t/shared"
	for d in a b; do
		sqlite3 "$t/$d.db" "CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT, body TEXT);"
		"$dsdev" --home "$t/$d" init --db "$t/$d.db" --table notes --pk id --dir "$t/shared" \
			--passphrase footprint >/dev/null || { rm -rf "$t"; echo "- -"; return; }
	done
	sqlite3 "$t/a.db" "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $n)
		INSERT INTO notes SELECT i, 'note ' || i, printf('%.100c', 'x') FROM s;"
	up=$("$dsdev" --home "$t/a" sync --count | sed -n 's/.*allocs=\([0-9]*\).*/\1/p')
	down=$("$dsdev" --home "$t/b" sync --count | sed -n 's/.*allocs=\([0-9]*\).*/\1/p')
	rm -rf "$t"
	echo "${up:--} ${down:--}"
}

per_record() { # build dir -> "upload download" allocations per record
	set -- "$1" $ROWS
	o=$1; n1=$2; n2=$3
	set -- $(allocs_for "$o" "$n1") $(allocs_for "$o" "$n2")
	case "$1$2$3$4" in *-*) echo "- -"; return ;; esac
	awk -v u1="$1" -v d1="$2" -v u2="$3" -v d2="$4" -v a="$n1" -v b="$n2" \
		'BEGIN { printf "%.1f %.1f", (u2 - u1) / (b - a), (d2 - d1) / (b - a) }'
}

{
echo "| configuration | datasyncd stripped | libdatasync.so stripped | libdatasync.so text/data/bss | own code x86-64: objects / in datasyncd | own code ARMv7: objects / in datasyncd | own code AArch64: objects / in datasyncd | idle Rss / Pss / Anonymous (private dirty), table collections | idle Rss / Pss / Anonymous (private dirty), signed in, history | peak RSS of datasyncd, history first sync (upload / download) | allocations per record (upload / apply) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
} >"$REPORT"
for c in $CONFIGS; do
	o=$OUT/$c
	if ! build "$c"; then
		echo "| $c | build failed (see $o.log) | | | | | | | | | |" >>"$REPORT"
		continue
	fi
	strip -o "$o/datasyncd.stripped" "$o/datasyncd"
	dsz=$(stat -c %s "$o/datasyncd.stripped")
	lsz=-; lib_tdb="- (CONFIG_DS_SHARED_LIB off)"
	if [ -f "$o/libdatasync.so.0" ]; then
		strip -o "$o/libdatasync.so.stripped" "$o/libdatasync.so.0"
		lsz="$(kb "$(stat -c %s "$o/libdatasync.so.stripped")") KB"
		set -- $(tdb "$o/libdatasync.so.stripped")
		lib_tdb="$1 / $2 / $3"
	fi
	set -- $(tdb $(own_objects "$o"))
	own="$(kb $(($1 + $2))) KB / $(kb "$(linked_own "$o/datasyncd.map" "$o")") KB"
	is_lto "$o" && own="- (LTO) / $(kb "$(linked_own "$o/datasyncd.map" "$o")") KB"
	if [ "$c" = static ]; then
		arm="as host (same objects)"; a64=$arm
	elif [ "$c" = musl ]; then
		arm="not measured (the host board's objects, for size)"; a64=$arm
	else
		arm=$(cross_cell "$o" "$ARM_CC" arm)
		a64=$(cross_cell "$o" "$A64_CC" arm64)
	fi
	idle=$(idle_rss "$o")
	# shellcheck disable=SC2086
	set -- $idle
	rss="$1 / $2 / $3 kB ($4 kB dirty)"
	hist="- (no account, Sync 1.5 or history)"
	if [ "${FOOTPRINT_IDLE_HISTORY:-1}" = 0 ]; then
		hist="not measured"
	elif r=$(sh test/footprint/idle_history.sh "$o" 2>&1); then
		set -- $(echo "$r" | tail -n 1)
		hist="$1 / $2 / $3 kB ($4 kB dirty)"
	elif [ $? -ne 77 ]; then
		echo "$r" >"$o.idle-history.log"
		hist="failed (see $o.idle-history.log)"
	fi
	apr="table: - (needs the table engine, the dir remote and the allocator hook)"
	[ -x "$o/test/tools/dsdev" ] && apr="table: $(per_record "$o" | awk '{ print $1 " / " $2 }')"
	peak="- (no account, Sync 1.5 or history)"
	# shellcheck disable=SC2086
	if r=$(sh test/footprint/history_allocs.sh "$o" $ROWS 2>&1); then
		set -- $(echo "$r" | tail -n 1)
		if [ "$1" = - ]; then
			apr="$apr; history: - (a static program takes no LD_PRELOAD counter)"
		else
			apr="$apr; history, whole process: $1 / $2"
		fi
		peak="$3 / $4 kB"
	elif [ $? -ne 77 ]; then
		echo "$r" >"$o.history-allocs.log"
		apr="$apr; history: failed (see $o.history-allocs.log)"
		peak="failed (see $o.history-allocs.log)"
	fi
	echo "| $c | $(kb "$dsz") KB | $lsz | $lib_tdb | $own | $arm | $a64 | $rss | $hist | $peak | $apr |" >>"$REPORT"
	# shellcheck disable=SC2086
	set -- $idle
	[ "$c" = host ] && IDLE_HOST="Idle datasyncd (host board, three collections): Rss $1 kB, Pss $2 kB, Anonymous $3 kB, Private_Dirty $4 kB."
	[ "$c" = static ] && IDLE_STATIC="Idle datasyncd linked statically (host board, STATIC=1, three collections): Rss $1 kB, Pss $2 kB, Anonymous $3 kB, Private_Dirty $4 kB; still shared: $(ldd "$o/datasyncd" 2>/dev/null | awk '$1 ~ /^lib/ { printf "%s%s", s, $1; s = " " }')."
done
{
echo
echo "Measured $(date -u +%Y-%m-%d) with $(gcc --version | head -n1), CFLAGS=-O2; $(nproc) CPUs," \
	"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), kernel $(uname -r)."
echo "minimal = board/host/configs/minimal_defconfig (Firefox Sync with history only, no app tasks;" \
	"CONFIG_DS_OPTIMIZE_SIZE, CONFIG_DS_LTO, no unwind tables). phone and tv: CONFIG_DS_OPTIMIZE_SIZE." \
	"Own code: text+data of our objects (with .eh_frame), and what the linked datasyncd takes from" \
	"them (linker map; without datasyncctl). Rows for the allocation slope: $ROWS." \
	"Peak RSS: VmHWM of each device's datasyncd over its start, sign-in and first history sync" \
	"of ${ROWS##* } places (test/footprint/history_allocs.sh)."
set -- $(libs_rss)
echo "Idle: three table collections on the dir remote, synced once (none without the table" \
	"engine or the dir remote); or signed in on the account test stack with history synced once" \
	"(test/footprint/idle_history.sh). An empty program linked against the same libraries: Rss $1 kB," \
	"Anonymous $2 kB."
[ -n "${IDLE_HOST:-}" ] && echo "$IDLE_HOST"
[ -n "${IDLE_STATIC:-}" ] && echo "$IDLE_STATIC"
} >>"$REPORT"
cat "$REPORT"
