#!/bin/sh
# Two devices syncing an app table through a real Kinto (memory backend, from PyPI) with pages
# of 3 records and batches of 4 requests, so that every path crosses those limits:
# first sync (uploads in several batches, the other device pages through), incremental edits
# and deletes, crossing delete/edit, conflicts under server-wins, client-wins and newest-wins,
# another client's write landing between a device's fetch and its upload (412 -> refetch ->
# re-merge), the records as other Kinto clients see them, and a wrong password.
set -u
. "$DS_SRC/test/integration/kinto_common.inc"

kinto_start --paginate-by 3 --batch-max 4
account alice "alice pw"
R=$(remote_json notes alice "alice pw")

# 1. First sync: 10 rows on A go up in batches of at most 3 records (+ the closing check).
new_device a "$R"
new_device b "$R"
for i in 1 2 3 4 5 6 7 8 9 10; do sql a "INSERT INTO notes VALUES($i, 'note $i', $i.5)"; done
sync_ok a uploaded=10 fetched=0
server_records alice:'alice pw' notes >"$T/recs"
[ "$(wc -l <"$T/recs")" -eq 10 ] || fail "server does not hold 10 records"
grep -q '"title": "note 3", "~id": 3}' "$T/recs" ||
	fail "a record's fields are not the row's columns (id escaped as ~id)"
# B pages through 4 pages of 3.
sync_ok b fetched=10 applied=10 uploaded=0
same a b
# A's own writes are not fetched back: the cursor jumped over them.
sync_ok a fetched=0 uploaded=0

# 2. Incremental: one edit, one insert, one delete.
sql a "UPDATE notes SET title = 'edited' WHERE id = 2; INSERT INTO notes VALUES(11, 'new', 0.25); DELETE FROM notes WHERE id = 3"
sync_ok a uploaded=3
sync_ok b fetched=3 applied=3
same a b
[ "$(sql b "SELECT count(*) FROM notes WHERE id = 3")" -eq 0 ] || fail "deletion not applied on B"
server_records alice:'alice pw' notes >"$T/recs"
grep -q '"id": "WzNd"' "$T/recs" && fail "the server still lists the deleted record"

# 3. Crossing delete and edit of the same row converges (newest-wins: B's later edit wins).
sql a "DELETE FROM notes WHERE id = 4"
sync_ok a uploaded=1
sql b "UPDATE notes SET title = 'kept by b' WHERE id = 4"
sync_ok b conflicts=1
sync_ok a
same a b

# 4. Conflicts under each policy: both devices edit row 1; A syncs first, then B.
for pol in server-wins client-wins newest-wins; do
	coll="c_$(echo $pol | tr - _)"
	rm -rf "$T/home-a$pol" "$T/home-b$pol" "$T/a$pol.db" "$T/b$pol.db"
	RP=$(remote_json "$coll" alice "alice pw")
	new_device "a$pol" "$RP" --conflict "$pol"
	new_device "b$pol" "$RP" --conflict "$pol"
	sql "a$pol" "INSERT INTO notes VALUES(1, 'base', 1.0)"
	sync_ok "a$pol"
	sync_ok "b$pol" fetched=1
	sql "b$pol" "UPDATE notes SET title = 'from b' WHERE id = 1"
	sleep 0.01
	sql "a$pol" "UPDATE notes SET title = 'from a' WHERE id = 1"
	sync_ok "a$pol" uploaded=1
	sync_ok "b$pol" conflicts=1
	sync_ok "a$pol"
	same "a$pol" "b$pol"
	got=$(sql "a$pol" "SELECT title FROM notes WHERE id = 1")
	case $pol in
	server-wins) want="from a" ;;  # B's run: the server's copy (A's) wins
	client-wins) want="from b" ;;  # B's run: B's copy wins and overwrites the server
	newest-wins) want="from a" ;;  # A's upload is later than B's edit
	esac
	[ "$got" = "$want" ] || fail "$pol: row 1 is '$got', expected '$want'"
done

# 5. Another client writes a record between B's fetch and B's upload: the batch's If-Match
# fails for that record (412), B refetches, re-merges (newest-wins: the other client's write is
# newer than B's edit) and both devices converge on it; nothing is lost.
sql b "UPDATE notes SET title = 'b before race' WHERE id = 5; UPDATE notes SET title = 'b too' WHERE id = 6"
sleep 0.01
fault '{"before_batch":{"method":"PATCH","path":"/v1/buckets/default/collections/notes/records/WzVd","body":{"data":{"title":"other client"}},"user":"alice:alice pw"}}'
device b -v sync >"$T/out" 2>&1 || fail "B's sync across the concurrent write failed"
grep -q "before_batch PATCH .* 200" "$T/kinto.log" || fail "the concurrent write was not made"
grep -q "changed on the server since our fetch" "$T/out" || fail "no 412 on the raced record"
grep -q "fetching again" "$T/out" || fail "the core did not refetch after the 412"
sync_ok a
sync_ok b
same a b
[ "$(sql a "SELECT title FROM notes WHERE id = 5")" = "other client" ] || fail "the concurrent write was lost"
[ "$(sql a "SELECT title FROM notes WHERE id = 6")" = "b too" ] || fail "B's other edit was lost"

# 6. Records written by another Kinto client are applied (fields at the top level).
http PUT /v1/buckets/default/collections/notes/records/WzIwXQ '{"data":{"~id":20,"title":"from curl","n":2.0}}' alice:'alice pw' >/dev/null
sync_ok a fetched=1 applied=1
[ "$(sql a "SELECT title FROM notes WHERE id = 20")" = "from curl" ] || fail "a record from another client was not applied"

# 7. A wrong password is refused with a clear message, and nothing local changes.
account mallory "right"
new_device m "$(remote_json notes mallory wrong)"
device m sync >"$T/out" 2>&1 && fail "a wrong password was accepted"
grep -q "HTTP 401" "$T/out" || fail "no clear message for a wrong password"
# 8. Requests of an incremental run: the server's settings (GET /v1/) come from the cache the
# first run filled, and the collection (epoch) and the first page are read in one POST /batch,
# so 3 edits cost that and one batch; with "settings_max_age_s": 0 the root is read again.
reqs() { http GET /__test__/requests | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["requests"])'; }
sql a "UPDATE notes SET n = 100 WHERE id IN (SELECT id FROM notes ORDER BY id LIMIT 3)"
r0=$(reqs)
sync_ok a uploaded=3
r1=$(reqs)
[ $((r1 - r0)) -eq 2 ] || fail "an incremental run of 3 edits took $((r1 - r0)) requests, expected 2"
new_device n "$(remote_json notes alice "alice pw" '"settings_max_age_s":0')"
sync_ok n
r0=$(reqs); sync_ok n fetched=0; r1=$(reqs)
[ $((r1 - r0)) -eq 2 ] || fail "without the settings cache a run took $((r1 - r0)) requests, expected 2 (root, collection with the fetch)"

# 9. Full batches go without the closing check (batch limit 4: 8 changes = 2 requests). Another
# client writes between A's fetch and A's first batch: the cursor must not pass its write, and
# A's own 8 writes must not come back to the core. The next run hands exactly that one record.
sql a "DELETE FROM notes WHERE id >= 100"
sync_ok a
sync_ok b
fault '{"before_batch":{"method":"PUT","path":"/v1/buckets/default/collections/notes/records/WzMwMF0","body":{"data":{"~id":300,"title":"racing writer","n":3.0}},"user":"alice:alice pw"}}'
for i in 101 102 103 104 105 106 107 108; do sql a "INSERT INTO notes VALUES($i, 'full $i', 1.0)"; done
r0=$(reqs)
sync_ok a uploaded=8
r1=$(reqs)
grep -q "before_batch PUT .*WzMwMF0 -> 201" "$T/kinto.log" || fail "the racing write was not made"
[ $((r1 - r0)) -eq 3 ] || fail "8 changes in full batches took $((r1 - r0)) requests, expected 3 (collection with the fetch, 2 batches)"
sync_ok a fetched=1 applied=1 uploaded=0
[ "$(sql a "SELECT title FROM notes WHERE id = 300")" = "racing writer" ] || fail "the racing write was missed"
sync_ok a fetched=0
sync_ok b fetched=9 applied=9
same a b

echo "kinto_sync: all checks passed"
