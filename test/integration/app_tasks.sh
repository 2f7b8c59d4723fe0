#!/bin/sh
# App tasks on the sim board (docs/ipc.md, docs/scheduler.md; Firefox OS RequestSync): an
# interval under 100 s is refused; a Wi-Fi-only task is held on cellular while a task for any
# network wakes its waiting app, and goes when Wi-Fi comes; a one-shot task is removed after
# its run, a periodic one stays; a task due while its app is not waiting is kept for the next
# task-wait; an app that never says done loses its slot after 120 s; a newer task-wait replaces
# an older one; a waiting app that is killed frees its client slot at once and its task is kept
# for the next task-wait; registrations survive a restart and follow a reloaded battery threshold. The app side uses the client API
# (test/tools/app_task), the rest datasyncctl. The virtual clock moves with sim-advance; every
# wait is bounded.
set -u
B=${DS_BUILD:?}; S=${DS_SRC:?}; T=${DS_TMP:?}
D="$B/datasyncd"; C="$B/datasyncctl"; A="$B/test/tools/app_task"
grep -q '^CONFIG_DS_PORT_SIM=y' "$B/.config" 2>/dev/null || { echo "not a sim build"; exit 77; }
grep -q '^CONFIG_DS_APP_TASKS=y' "$B/.config" || { echo "app tasks not built (CONFIG_DS_APP_TASKS)"; exit 77; }
[ -x "$A" ] || { echo "app_task not built"; exit 77; }
command -v python3 >/dev/null || { echo "python3 missing"; exit 77; }

fail() { echo "FAIL: $*"; echo "--- datasyncd log"; cat "$T/log" 2>/dev/null; exit 1; }
json() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
SOCK="$T/run/datasyncd.sock"
ctl() { "$C" -c "$T/ds.conf" "$@"; }
# until_tasks EXPR: poll task-list (bounded: 100 x 0.1 s) until EXPR over {app/task: task} is True.
until_tasks() {
	i=0
	while [ $i -lt 100 ]; do
		if ctl --json task list >"$T/tasks.json" 2>/dev/null &&
			[ "$(json "$T/tasks.json" "(lambda t: $1)({x['app'] + '/' + x['task']: x for x in r['tasks']})")" = "True" ]; then
			return 0
		fi
		i=$((i + 1)); sleep 0.1
	done
	return 1
}
# until_file FILE TEXT: bounded wait for TEXT in FILE.
until_file() {
	i=0
	while [ $i -lt 100 ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		i=$((i + 1)); sleep 0.1
	done
	return 1
}
advance() {
	python3 - "$SOCK" "$1" <<'PY' || fail "sim-advance $1"
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall((json.dumps({"id": 1, "cmd": "sim-advance", "by": sys.argv[2]}) + "\n").encode())
buf = b""
while not buf.endswith(b"\n"):
    d = s.recv(4096)
    if not d:
        break
    buf += d
sys.exit(0 if json.loads(buf)["ok"] else 1)
PY
}

# On cellular (metered) from the start; Wi-Fi at 10 min.
cat >"$T/day.script" <<'SIM'
0   net cellular
0   power charging 80
10m net wifi
SIM
cat >"$T/ds.conf" <<CONF
data_dir = $T/data
run_dir = $T/run
secret_dir = $T/secrets
sim_script = $T/day.script
log_output = stderr
log_level = debug
CONF
start() {
	"$D" -f -c "$T/ds.conf" 2>>"$T/log" &
	pid=$!
	i=0; until ctl status >/dev/null 2>&1 || [ $i -ge 100 ]; do i=$((i + 1)); sleep 0.1; done
}
start
trap 'kill $pid 2>/dev/null; kill $w1 $w2 $holders 2>/dev/null' EXIT
w1=""; w2=""; holders=""

# RequestSync refuses a minInterval under 100 s.
out=$(ctl task register mail fetch --interval 99s 2>&1); rc=$?
[ $rc -eq 1 ] || fail "99 s accepted (exit $rc)"
echo "$out" | grep -q "the interval 99s is below the minimum of 100s" || fail "message: $out"
"$A" "$SOCK" register mail fetch 60 oneshot wifi 2>"$T/err" && fail "60 s accepted through the C API"
grep -q "rc=-22: task refused" "$T/err" || fail "C API error: $(cat "$T/err")"
ctl task register mail fetch --interval 0 >/dev/null 2>&1 && fail "interval 0 accepted"
ctl task register "bad/app" fetch --interval 100s >/dev/null 2>&1 && fail "a '/' in an app name accepted"

# mail/fetch: RequestSync's defaults, one-shot and Wi-Fi only. news/poll: periodic, any network.
ctl task register mail fetch --interval 100s >/dev/null || fail "register mail"
"$A" "$SOCK" register news poll 100 '{"feed":"world"}' >"$T/reg.json" || fail "register news"
until_tasks "t['mail/fetch']['oneshot'] and t['mail/fetch']['wifi_only'] and not t['news/poll']['oneshot'] and not t['news/poll']['wifi_only'] and t['news/poll']['data'] == {'feed': 'world'}" ||
	fail "registrations: $(cat "$T/tasks.json")"

# Both apps wait; 100 s later both tasks are due: news wakes, mail is held on cellular.
"$A" "$SOCK" run mail >"$T/mail.out" 2>&1 & w1=$!
"$A" "$SOCK" run news >"$T/news.out" 2>&1 & w2=$!
until_tasks "t['mail/fetch']['waiting'] and t['news/poll']['waiting']" || fail "apps not waiting"
advance 100s
until_file "$T/news.out" '"removed":false' || fail "news not woken: $(cat "$T/news.out")"
grep -q '"app":"news","task":"poll","why":"[a-z ]*","data":{"feed":"world"},"slot_s":120' "$T/news.out" ||
	fail "wake of news: $(cat "$T/news.out")"
wait $w2 || fail "news app exit"; w2=""
until_tasks "t['mail/fetch']['schedule']['block'] == 'metered' and t['mail/fetch']['waiting'] and t['mail/fetch']['state'] == 'idle'" ||
	fail "mail not held on cellular: $(cat "$T/tasks.json")"
[ ! -s "$T/mail.out" ] || fail "mail woken on cellular: $(cat "$T/mail.out")"
until_tasks "t['news/poll']['state'] == 'idle' and t['news/poll']['last_wall_ms'] is not None and t['news/poll']['wakes'] == 1" ||
	fail "news after its run: $(cat "$T/tasks.json")"

# Wi-Fi at 10 min: mail goes (and, one-shot, is removed); news is due again but nobody waits.
advance 9m
until_file "$T/mail.out" '"removed":true' || fail "mail not woken on Wi-Fi: $(cat "$T/mail.out")"
wait $w1 || fail "mail app exit"; w1=""
until_tasks "'mail/fetch' not in t and t['news/poll']['state'] == 'owed'" ||
	fail "after Wi-Fi: $(cat "$T/tasks.json")"

# The owed wake goes to the next task-wait at once; this app never says done: the slot ends.
out=$(ctl task wait news) || fail "wait for an owed task"
echo "$out" | grep -q "^news/poll: due (owed)" || fail "owed wake: $out"
until_tasks "t['news/poll']['state'] == 'active' and 0 < t['news/poll']['slot_left_ms'] <= 120000" ||
	fail "no slot: $(cat "$T/tasks.json")"
advance 121s
until_tasks "t['news/poll']['timeouts'] == 1 and t['news/poll']['state'] != 'active'" ||
	fail "the slot did not end: $(cat "$T/tasks.json")"
out=$(ctl task done news poll 2>&1); rc=$?
[ $rc -eq 1 ] || fail "done after the slot ended: exit $rc"
echo "$out" | grep -q "is not running (it was done, or its 120s slot ended)" || fail "late done: $out"

# A newer task-wait for the same task replaces the older one (a restarted app).
"$A" "$SOCK" wait news poll >"$T/old.out" 2>&1 & w1=$!
until_tasks "t['news/poll']['waiting'] or t['news/poll']['state'] == 'active'" || fail "first wait"
if grep -q '"ok":true' "$T/old.out"; then
	ctl task done news poll >/dev/null # the owed wake went to it: end it, wait again
	"$A" "$SOCK" wait news poll >"$T/old.out" 2>&1 & w1=$!
	until_tasks "t['news/poll']['waiting']" || fail "first wait, again"
fi
"$A" "$SOCK" wait news poll >"$T/new.out" 2>&1 & w2=$!
wait $w1; rc=$?; w1=""
[ $rc -eq 1 ] && grep -q "rc=-125: replaced by a newer task-wait" "$T/old.out" || fail "older wait: $rc $(cat "$T/old.out")"
kill $w2 2>/dev/null; wait $w2 2>/dev/null; w2=""

# A waiting app is killed while every other client slot is taken: its connection is closed at
# once (not when its task falls due), so a new client gets in; the task stays registered and
# the wake due meanwhile goes to the app's next task-wait.
max=$(sed -n 's/^CONFIG_DS_IPC_MAX_CLIENTS=//p' "$B/.config")
[ -n "$max" ] && [ "$max" -ge 2 ] || fail "CONFIG_DS_IPC_MAX_CLIENTS: '$max'"
until_tasks "not t['news/poll']['waiting'] and t['news/poll']['state'] != 'active'" || fail "before the kill: $(cat "$T/tasks.json")"
"$A" "$SOCK" wait news poll >"$T/killed.out" 2>&1 & w1=$!
until_tasks "t['news/poll']['waiting']" || fail "the app to kill is not waiting: $(cat "$T/tasks.json")"
n=1
while [ $n -lt "$max" ]; do
	# A holder keeps one slot for 120 s. The polling below connects too, so a holder may be
	# refused while a poll holds a slot: the server then answers or closes, and the holder
	# connects again until it holds a slot that stays silent.
	python3 -c '
import socket, sys, time
end = time.time() + 120
while time.time() < end:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(sys.argv[1])
        s.settimeout(end - time.time())
        s.recv(256)
    except socket.timeout:
        break
    except OSError:
        pass
    s.close()
    time.sleep(0.05)
' "$SOCK" &
	holders="$holders $!"; n=$((n + 1))
done
i=0; while ctl status >/dev/null 2>&1 && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
out=$(ctl status 2>&1) && fail "slots not full with $max clients"
# The refusal line may not reach the client before it writes its request (EPIPE): the log says.
grep -q "refusing a client: $max connected already" "$T/log" || fail "refusal: $out"
kill -KILL $w1; wait $w1 2>/dev/null; w1=""
i=0; until ctl status >/dev/null 2>&1 || [ $i -ge 100 ]; do i=$((i + 1)); sleep 0.1; done
ctl status >/dev/null 2>&1 || fail "the killed app still holds its slot: $(ctl status 2>&1)"
grep -q "app news stopped waiting for poll: its connection closed" "$T/log" || fail "no close seen in the log"
until_tasks "not t['news/poll']['waiting'] and t['news/poll']['state'] == 'idle'" || fail "after the kill: $(cat "$T/tasks.json")"
kill $holders 2>/dev/null; wait $holders 2>/dev/null; holders=""
advance 5m
until_tasks "t['news/poll']['state'] == 'owed'" || fail "the task was not kept: $(cat "$T/tasks.json")"
out=$(ctl task wait news) || fail "wait after the kill"
echo "$out" | grep -q "^news/poll: due (owed)" || fail "owed wake after the kill: $out"
ctl task done news poll >/dev/null || fail "done after the kill"

# Registrations survive a restart; unregister removes them.
kill -TERM $pid; wait $pid || fail "stop"
start
until_tasks "list(t) == ['news/poll'] and t['news/poll']['min_interval_s'] == 100 and t['news/poll']['last_wall_ms'] is not None" ||
	fail "after a restart: $(cat "$T/tasks.json")"
# A reloaded battery threshold reaches the tasks too.
echo "min_battery_pct = 40" >>"$T/ds.conf"
kill -HUP $pid
until_tasks "t['news/poll']['schedule']['policy']['min_battery_pct'] == 40" ||
	fail "SIGHUP did not reach the task: $(cat "$T/tasks.json")"
"$A" "$SOCK" unregister news poll >/dev/null || fail "unregister"
[ "$(ctl task list)" = "no app task" ] || fail "still listed: $(ctl task list)"
ctl task unregister news poll >/dev/null 2>&1 && fail "unregister twice"
out=$(ctl task wait news 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "app news has no task" || fail "wait without a task: $rc $out"

# set and push through the client API (a collection is needed: refused without one).
"$A" "$SOCK" push nope 2>"$T/err" && fail "push of an unknown collection"
grep -q "rc=-2:" "$T/err" || fail "push error: $(cat "$T/err")"
"$A" "$SOCK" set nope '{"interval":"4h"}' 2>"$T/err" && fail "set of an unknown collection"
"$A" "$SOCK" set nope 'not json' 2>"$T/err" && fail "set with bad JSON"
grep -q "rc=-22: schedule is not a JSON object" "$T/err" || fail "set error: $(cat "$T/err")"
"$A" "$SOCK" push >/dev/null || fail "push to every collection"

kill -TERM $pid; wait $pid; rc=$?
trap - EXIT
[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM"
echo "app_tasks: ok"
