#!/bin/sh
# A real Kinto misbehaving under two devices: a 503 with Retry-After, Backoff on successes, an
# end-of-service Alert, and a server that dies in the middle of a paged first sync and comes
# back empty (memory backend): the devices must refuse to sync with the wiped server, keep
# every local row, and converge again after 'reset'.
set -u
. "$DS_SRC/test/integration/kinto_common.inc"

kinto_start --paginate-by 3 --batch-max 4
account alice "alice pw"
R=$(remote_json notes alice "alice pw")
new_device a "$R"
for i in 1 2 3 4 5 6 7 8 9 10; do sql a "INSERT INTO notes VALUES($i, 'note $i', $i.5)"; done
sync_ok a uploaded=10

# 1. 503 + Retry-After: the run fails, says why, and hands the delay to the scheduler.
fault '{"status":503,"retry_after":7,"count":1}'
device a sync >"$T/out" 2>&1 && fail "a 503 was taken for a success"
grep -q "HTTP 503" "$T/out" || fail "no message naming the 503"
grep -q "^backoff 7$" "$T/out" || fail "Retry-After not handed over as backoff"
sync_ok a

# 2. Backoff on successful answers: the run succeeds and reports the delay.
fault '{"backoff":30,"count":3}'
sql a "UPDATE notes SET title = 'under backoff' WHERE id = 1"
sync_ok a uploaded=1
grep -q "^backoff 30$" "$T/out" || fail "Backoff not handed over"
http POST /__test__/reset >/dev/null

# 3. End of service (Alert header) is reported.
fault '{"alert":{"code":"soft-eol","message":"this service will close","url":"https://example.org/eol"}}'
sync_ok a
grep -q "end of service announced by the server (soft-eol): this service will close" "$T/out" ||
	fail "end of service not reported"
http POST /__test__/reset >/dev/null

# 4. The server dies while B pages through its first sync (4th request: root, collection,
# page 1, then page 2), and restarts empty on the same port.
new_device b "$R"
fault '{"exit_after":4}'
device b sync >"$T/out" 2>&1 && fail "the sync survived the server's death"
i=0; while kill -0 $KPID 2>/dev/null; do i=$((i + 1)); [ $i -lt 100 ] || fail "server did not exit"; sleep 0.1; done
wait $KPID 2>/dev/null; KPID=
kept_b=$(sql b "SELECT count(*) FROM notes")
[ "$kept_b" -eq 3 ] || fail "B applied $kept_b rows of the first page, expected 3"
kinto_start --paginate-by 3 --batch-max 4
account alice "alice pw"
for d in a b; do
	device $d sync >"$T/out" 2>&1 && fail "$d synced with a wiped server"
	grep -q "remote was wiped or replaced; local data kept" "$T/out" || fail "$d: no clear refusal"
done
[ "$(sql a "SELECT count(*) FROM notes")" -eq 10 ] || fail "A lost rows to the wiped server"
[ "$(sql b "SELECT count(*) FROM notes")" -eq 3 ] || fail "B lost rows to the wiped server"
[ "$(server_records alice:'alice pw' notes | wc -l)" -eq 0 ] || fail "the server is not empty"

# 5. Reset: each device uploads what it has again; both converge on the union.
device a reset >"$T/out" 2>&1 || fail "reset a"
sync_ok a uploaded=10
device b reset >"$T/out" 2>&1 || fail "reset b"
sync_ok b fetched=10
same a b
echo "kinto_faults: all checks passed"
