#!/bin/sh
# The scheduler over simulated days (test/tools/sched_day, scripts in test/data/sim/*.sched):
# no run on a metered network for an unmetered-only collection; none below the battery
# threshold unless charging (urgent ones excepted); a burst of 50 edits makes one run; nothing
# while offline and a run at reconnection; failures back off; small edits that keep coming are
# batched (runs at least local_spacing_s apart), as soon as Firefox desktop delivers them; the
# reference day stays under 10 wakes an hour and uses fewer radio sessions than both Firefox
# desktop's policy and a fixed-interval poller at a median change delay no worse than Firefox's.
set -u
B=${DS_BUILD:?}; S=${DS_SRC:?}; T=${DS_TMP:?}
X="$B/test/tools/sched_day"
[ -x "$X" ] || { echo "sched_day not built"; exit 77; }
command -v python3 >/dev/null || { echo "python3 missing"; exit 77; }

fail() { echo "FAIL: $*"; exit 1; }
# day NAME [POLICY]: run a script; JSON report in $T/NAME.json, runs in $T/NAME.trace.
day() {
	"$X" --policy "${2:-sched}" --json --trace "$S/test/data/sim/$1.sched" >"$T/$1-${2:-sched}.json" \
		2>"$T/$1-${2:-sched}.trace" || fail "sched_day $1 ${2:-sched} exited $?: $(cat "$T/$1-${2:-sched}.trace")"
}
# check NAME EXPR: a Python expression over the report r and the runs (list of (s, name, ok)).
check() {
	python3 - "$T/$1-${3:-sched}.json" "$T/$1-${3:-sched}.trace" "$2" <<'PY' || fail "$1: $2"
import json, sys
r = json.load(open(sys.argv[1]))
runs = [(int(l.split()[1]), l.split()[2], l.split()[3] == 'ok') for l in open(sys.argv[2]) if l.startswith('run ')]
def at(name): return [t for t, n, ok in runs if n == name]
ok = eval(sys.argv[3])
if not ok:
    print(r); print(runs[:40])
sys.exit(0 if ok else 1)
PY
}

day sched-metered
check sched-metered "all(t >= 20*3600 for t in at('photos')) and at('photos')[0] == 20*3600"
check sched-metered "r['refused']['metered'] >= 1 and len(at('notes')) == 24"

day sched-battery
check sched-battery "at('notes') and all(t >= 12*3600 for t in at('notes')) and at('notes')[0] == 12*3600"
check sched-battery "len(at('alarms')) == 24 and r['refused']['battery'] >= 1"

day sched-burst
check sched-burst "len(at('notes')) == 2 and at('notes')[1] - 2*3600 <= 600 and r['changes'] == 50 and r['changes_pending'] == 0"

day sched-trickle
day sched-trickle firefox
# 40 edits 3 min apart from 1h: not one run each; local-change runs 10 min apart at least.
check sched-trickle "r['changes'] == 40 and r['changes_pending'] == 0 and len([t for t in at('notes') if 3600 <= t < 4*3600]) <= 13"
check sched-trickle "all(b - a >= 600 for a, b in zip([t for t in at('notes') if t >= 3600], [t for t in at('notes') if t >= 3600][1:]))"
python3 - "$T" <<'PY' || fail "trickle: delay worse than Firefox desktop's"
import json, sys
s, f = (json.load(open(f"{sys.argv[1]}/sched-trickle-{p}.json")) for p in ("sched", "firefox"))
print(f"trickle: sched {s['radio_sessions']} sessions, median {s['delay_median_s']} s; firefox {f['radio_sessions']}, {f['delay_median_s']} s")
sys.exit(0 if s['delay_median_s'] <= f['delay_median_s'] and s['radio_sessions'] < f['radio_sessions'] else 1)
PY

day sched-offline
check sched-offline "not [t for t in at('contacts') if 5400 <= t < 19200] and 19200 in at('contacts')"

day day
day day naive
day day firefox
check day "r['max_wakes_per_hour'] <= 10 and r['changes_pending'] == 0"
# photos: unmetered and charging only: runs only at night on the charger.
check day "all(t < 7*3600 or t >= 21*3600 + 1800 for t in at('photos'))"
# The server backoff at noon (1 h on 'sync'): neither history nor passwords runs inside it.
check day "not [t for t in at('history') + at('passwords') if 12*3600 <= t < 13*3600]"
# Failing contacts (from 14h) retry at their interval, not at once (Firefox: the first two
# failures wait a normal interval; backoff proper is checked in sched_policy_test).
check day "len([t for t, n, ok in runs if n == 'contacts' and not ok]) >= 2 and all(b - a >= 4*3600 for a, b in zip(*[[t for t, n, ok in runs if n == 'contacts' and not ok]]*1, [t for t, n, ok in runs if n == 'contacts' and not ok][1:]))"
python3 - "$T" <<'PY' || fail "comparison with the naive poller and Firefox desktop"
import json, sys
t = sys.argv[1]
s, n, f = (json.load(open(f"{t}/day-{p}.json")) for p in ("sched", "naive", "firefox"))
print(f"sched: {s['radio_sessions']} sessions, median delay {s['delay_median_s']} s; "
      f"naive: {n['radio_sessions']}, {n['delay_median_s']} s; firefox: {f['radio_sessions']}, {f['delay_median_s']} s")
sys.exit(0 if s['radio_sessions'] < f['radio_sessions'] and s['radio_sessions'] < n['radio_sessions']
         and s['delay_median_s'] <= f['delay_median_s'] and s['delay_median_s'] < n['delay_median_s'] else 1)
PY
echo "sched_day: ok"
