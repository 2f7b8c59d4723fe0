#!/bin/sh
# Static analysis of the product code (component/, port/, board/) for the sim and host boards:
#   cppcheck  (warning, style, performance, portability checks)
#   gcc -fanalyzer (every file the board's configuration compiles: programs and libraries)
#
#   test/static/run-static.sh [cppcheck] [analyzer]      both when none is named
#
# A finding fails the run unless it is suppressed with its reason: cppcheck in
# test/static/cppcheck.supp (or an inline "// cppcheck-suppress id" comment beside the code),
# the analyzer in test/static/analyzer.supp. Work files go to build/static/ (STATIC_OUT).
# Ends with "N passed, N failed, N skipped" (also in build/static/summary).
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
cd "$SRC"
OUT=${STATIC_OUT:-build/static}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
BOARDS=${STATIC_BOARDS:-sim host}
TOOLS=${*:-cppcheck analyzer}
P=0; F=0; S=0
mkdir -p "$OUT"

configure() { # build dir, board
	make -s O="$1" "$2"_defconfig >/dev/null
}

# cppcheck's preprocessor (simplecpp 2.10) cannot expand ds_core.h's IS_ENABLED() placeholder
# trick inside #if ("failed to expand 'IS_ENABLED'"), and then skips the file. It is given a
# shadow ds_core.h where IS_ENABLED(x) is plain (x), and an autoconf.h where every option the
# board leaves unset is defined to 0: the same truth values, spelled so simplecpp follows them.
cppcheck_board() { # board
	b=$1
	d=$OUT/$b/cppcheck
	configure "$OUT/$b" "$b" || return 1
	mkdir -p "$d/core"
	sed 's/^#define IS_ENABLED(option) DS__IS_ENABLED2(option)$/#define IS_ENABLED(option) (option)/' \
		component/core/ds_core.h >"$d/core/ds_core.h"
	grep -q '^#define IS_ENABLED(option) (option)$' "$d/core/ds_core.h" || {
		echo "IS_ENABLED changed in ds_core.h: update test/static/run-static.sh"; return 1; }
	{ cat "$OUT/$b/include/generated/autoconf.h"
	  sed -n 's/^# \(CONFIG_[A-Z0-9_]*\) is not set$/#define \1 0/p' "$OUT/$b/.config"; } >"$d/autoconf.h"
	cppcheck -q -j"$JOBS" --std=c11 --library=test/static/datasync.cfg \
		--enable=warning,style,performance,portability --inline-suppr \
		--suppressions-list=test/static/cppcheck.supp \
		-I "$d" -I component/include -I component -I port/include --include="$d/autoconf.h" \
		-D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DNDEBUG -DDS_VERSION='"static"' \
		--template='{file}:{line}: {severity}: {message} [{id}]' \
		component port board >"$d/findings.log" 2>&1
	grep -E '^[^ ].*:[0-9]+: [a-z]+: ' "$d/findings.log" >"$d/findings" || true
	if [ -s "$d/findings" ]; then
		cat "$d/findings"
		return 1
	fi
	return 0
}

# Analyzer findings are matched by file, function and warning option, so a suppression
# survives edits that move lines. analyzer.supp: "<file> <function> <-Wanalyzer-...> reason".
analyzer_board() { # board
	b=$1
	d=$OUT/an-$b
	rm -rf "$d"
	configure "$d" "$b" || return 1
	# WERROR=0: CI=true turns -Werror on, which would make the findings errors the awk below
	# does not read (they are judged against analyzer.supp instead).
	make -s -k -j"$JOBS" O="$d" WERROR=0 CFLAGS="-O1 -g -fanalyzer" programs >"$d.log" 2>&1
	brc=$?
	awk -v src="$SRC/" '
		/: In function / { fn = $0; sub(/.*In function [^a-zA-Z_]*/, "", fn); sub(/[^a-zA-Z0-9_].*/, "", fn) }
		/: warning: .*\[-Wanalyzer-/ {
			file = $0; sub(/:.*/, "", file); sub(src, "", file)
			opt = $0; sub(/.*\[-W/, "-W", opt); sub(/\].*/, "", opt)
			line = $0; sub(/^[^:]*:/, "", line); sub(/:.*/, "", line)
			msg = $0; sub(/.*: warning: /, "", msg)
			print file, fn, opt, line, msg
		}' "$d.log" | sort -u >"$d.all"
	: >"$d.findings"
	while read -r file fn opt line msg; do
		if ! grep -v '^#' test/static/analyzer.supp | awk -v f="$file" -v n="$fn" -v o="$opt" \
			'$1 == f && $2 == n && $3 == o { found = 1 } END { exit !found }'; then
			echo "$file:$line: in $fn(): $msg" >>"$d.findings"
		fi
	done <"$d.all"
	# Compile errors fail the step (a file went unanalysed); a failed link (a source listed by
	# a module.mk that is not there yet) only shows, since every object was still analysed.
	if grep -q ': error: ' "$d.log"; then
		grep ': error: ' "$d.log" | head -n 20
		echo "(files of the $b build did not compile under -fanalyzer: see $d.log)"
		return 1
	elif [ $brc -ne 0 ]; then
		grep -E '^make: \*\*\*' "$d.log" | head -n 5 | sed 's/^/  note: /'
	fi
	if [ -s "$d.findings" ]; then
		cat "$d.findings"
		return 1
	fi
	return 0
}

for tool in $TOOLS; do
	case $tool in
	cppcheck) need=cppcheck ;;
	analyzer) need=gcc ;;
	*) echo "unknown tool '$tool' (cppcheck, analyzer)"; exit 2 ;;
	esac
	for b in $BOARDS; do
		if ! command -v $need >/dev/null; then
			echo "  SKIP  static/$tool/$b ($need not installed: test/tools/install-deps.sh)"
			S=$((S + 1))
		elif ${tool}_board "$b"; then
			echo "  PASS  static/$tool/$b"; P=$((P + 1))
		else
			echo "  FAIL  static/$tool/$b"; F=$((F + 1))
		fi
	done
done
echo "$P $F $S" >"$OUT/summary"
echo "$P passed, $F failed, $S skipped"
[ $F -eq 0 ]
