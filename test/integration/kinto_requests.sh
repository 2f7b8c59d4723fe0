#!/bin/sh
# Requests of incremental runs against a Kinto without a page limit of its own (batches of 4):
# a device's own writes are neither re-applied nor re-read page by page. After more own writes
# than a page (the device asks pages of 3) went up in full batches (no closing check), the next
# run lists the versions after its cursor together with the collection and starts its fetch
# after the run of our own writes: 2 requests instead of 1 + 3 pages. A write racing the upload
# stops that run at itself: it is fetched, our writes around it are not.
set -u
. "$DS_SRC/test/integration/kinto_common.inc"

kinto_start --batch-max 4
account alice "alice pw"
reqs() { http GET /__test__/requests | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["requests"])'; }
RP=$(remote_json pnotes alice "alice pw" '"page_size":3')
new_device p "$RP"
new_device q "$RP"
for i in 1 2 3 4 5 6 7 8; do sql p "INSERT INTO notes VALUES($i, 'p $i', 1.0)"; done
sync_ok p uploaded=8
r0=$(reqs); sync_ok p fetched=0; r1=$(reqs)
[ $((r1 - r0)) -eq 2 ] || fail "a run after 8 own writes in full batches took $((r1 - r0)) requests, expected 2"
for i in 11 12 13 14 15 16 17 18; do sql p "INSERT INTO notes VALUES($i, 'p $i', 1.0)"; done
fault '{"before_batch":{"method":"PUT","path":"/v1/buckets/default/collections/pnotes/records/WzMwMF0","body":{"data":{"~id":300,"title":"racing p","n":3.0}},"user":"alice:alice pw"}}'
sync_ok p uploaded=8
sync_ok p fetched=1 applied=1
[ "$(sql p "SELECT title FROM notes WHERE id = 300")" = "racing p" ] || fail "the write racing p's upload was missed"
sync_ok p fetched=0
sync_ok q fetched=17 applied=17
same p q
echo "kinto_requests: all checks passed"
