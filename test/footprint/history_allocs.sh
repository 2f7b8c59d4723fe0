#!/bin/sh
# Heap allocations of datasyncd per synced history record (for footprint.sh), counted in the
# whole process by an LD_PRELOAD shim (test/footprint/count_malloc.c: ours and the libraries'),
# so it works on configurations without the allocator hook; and the daemon's peak RSS (VmHWM)
# over its run, the benchmark's peak for footprint.sh. On the account test stack
# (test/servers/stack.py), for each N: a new account; device A, a places.sqlite (Firefox's
# schema, test/data/firefox/places.sql) with N pages of one visit each, signs in, registers
# history and makes its first sync (N records up); device B, with no history, signs in and makes
# its first sync (N records down and applied). Each daemon is started for its one sync and
# stopped, so the count covers start, sign-in, the sync and the exit: the difference between
# two values of N leaves the records alone.
#
#   test/footprint/history_allocs.sh BUILD_DIR N1 N2
#
# Prints "upload download" allocations per record and the peak RSS in kB of device A's and
# device B's daemon at N2 records on its last line. A static program takes no LD_PRELOAD: its
# allocations are "-", its peaks are measured. Exit 77 when the build
# lacks the account, Sync 1.5, history or the control socket, or the test servers cannot run.
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
DS_BUILD=$(cd "${1:?usage: history_allocs.sh BUILD_DIR N1 N2}" && pwd)
N1=${2:?}; N2=${3:?}
DS_SRC=$SRC
DS_TMP=$(mktemp -d)
export DS_BUILD DS_SRC DS_TMP
S15_SYMS="DS_ACCOUNT DS_REMOTE_SYNC15 DS_ENGINE_HISTORY DS_IPC"
. "$SRC/test/integration/sync15_common.inc"
trap 's15_cleanup; rm -rf "$DS_TMP"' EXIT

cc -shared -fPIC -O2 -o "$T/count_malloc.so" "$SRC/test/footprint/count_malloc.c" ||
	{ echo "cannot build the counting shim"; exit 77; }
s15_stack 1

# count DEVICE: the device's first sync of history under the shim; its allocations go to
# $T/DEVICE.count (not printed: the daemon must be started by this shell, which stops it).
count() {
	_d=$1
	printf '{"name":"history","engine":{"kind":"history","places":"%s"},"remote":{"kind":"sync15","collection":"history","engine_version":1},"conflict":"merge"}\n' \
		"$T/$_d/profile/places.sqlite" >"$T/$_d.reg.json"
	s15_conf "$_d" "Footprint $_d" 0
	LD_PRELOAD=$T/count_malloc.so DS_COUNT_MALLOC_OUT=$T/$_d.allocs
	export LD_PRELOAD DS_COUNT_MALLOC_OUT
	start "$_d"
	unset LD_PRELOAD DS_COUNT_MALLOC_OUT
	s15_login "$_d"
	ok ctl "$_d" register --json "$T/$_d.reg.json"
	ok ctl "$_d" sync history --wait
	grep -q "^history: ok" "$T/out" || fail "the history sync of $_d: $(cat "$T/out")"
	eval "_p=\$pid_$_d"
	awk '/^VmHWM:/ { print $2 }' "/proc/$_p/status" >"$T/$_d.hwm"
	stop "$_d"
	if [ -n "$static" ]; then
		echo - >"$T/$_d.count"
	else
		cp "$T/$_d.allocs.$_p" "$T/$_d.count" 2>/dev/null || fail "no count from datasyncd $_d"
	fi
}

# A program without a program interpreter is static.
static=
readelf -l "$DS_BUILD/datasyncd" 2>/dev/null | grep -q 'Requesting program interpreter' || static=1

for n in "$N1" "$N2"; do
	s15_account "allocs-$n@example.org" "allocs pw $$"
	"$PY" - "$SRC" "$T/a$n/profile" "$T/b$n/profile" "$n" <<'EOF' || fail "the places.sqlite fixtures"
import importlib.util, os, sqlite3, sys
src, pa, pb, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
spec = importlib.util.spec_from_file_location(
    "make_fixtures", os.path.join(src, "test", "data", "firefox", "make-fixtures.py"))
mf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mf)
for p in (pa, pb):
    os.makedirs(p)
    mf.build("places.sql", os.path.join(p, "places.sqlite"))
    db = sqlite3.connect(os.path.join(p, "places.sqlite"))
    db.executescript("DELETE FROM moz_historyvisits; DELETE FROM moz_places;")
    if p == pa:
        t = 1764000000000000
        for i in range(n):
            url = "https://footprint%d.example/page/%d" % (i % 50, i)
            host = "footprint%d.example" % (i % 50)
            db.execute("INSERT INTO moz_places (url, title, rev_host, frecency, guid, url_hash, "
                       "foreign_count, visit_count, last_visit_date) VALUES (?,?,?,100,?,?,0,1,?)",
                       (url, "Page %d" % i, host[::-1] + ".", "fp%010d" % i, mf.url_hash(url),
                        t + i))
            db.execute("INSERT INTO moz_historyvisits (from_visit, place_id, visit_date, "
                       "visit_type, session) VALUES (0, last_insert_rowid(), ?, 1, 0)", (t + i,))
    db.commit()
    db.close()
EOF
	count "a$n"
	count "b$n"
done
u1=$(cat "$T/a$N1.count"); u2=$(cat "$T/a$N2.count")
d1=$(cat "$T/b$N1.count"); d2=$(cat "$T/b$N2.count")
echo "allocations: upload $u1 ($N1 records) $u2 ($N2); download $d1 ($N1) $d2 ($N2)"
echo "peak RSS kB: upload $(cat "$T/a$N1.hwm") ($N1 records) $(cat "$T/a$N2.hwm") ($N2);" \
	"download $(cat "$T/b$N1.hwm") ($N1) $(cat "$T/b$N2.hwm") ($N2)"
awk -v u1="$u1" -v u2="$u2" -v d1="$d1" -v d2="$d2" -v a="$N1" -v b="$N2" \
	-v ha="$(cat "$T/a$N2.hwm")" -v hb="$(cat "$T/b$N2.hwm")" \
	'BEGIN { if (u1 == "-") printf "- - %s %s\n", ha, hb
		else printf "%.1f %.1f %s %s\n", (u2 - u1) / (b - a), (d2 - d1) / (b - a), ha, hb }'
