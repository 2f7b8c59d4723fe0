#!/bin/sh
# A collection that synced in clear is switched to encrypted by registering it again with
# "encrypt": the first device that runs with the key re-uploads every record encrypted (nothing
# lost, its own pending edit too), the server then holds no value in clear; a second device that
# is given the key converges; a device left without the key gets a clear error, applies and
# deletes nothing, and keeps its own unsent edit; a record planted in clear afterwards is refused.
set -u
. "$DS_SRC/test/integration/kinto_common.inc"

kinto_start --paginate-by 3 --batch-max 4
account alice "alice pw"
KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
CLEAR=$(remote_json notes alice "alice pw")
ENC=$(remote_json notes alice "alice pw" "\"encrypt\":\"key\",\"key\":\"$KEY\"")
new_device a "$CLEAR"
new_device b "$CLEAR"
new_device c "$CLEAR"
for i in 1 2 3 4 5 6 7; do sql a "INSERT INTO notes VALUES($i, 'plain $i', $i.5)"; done
sync_ok a uploaded=7
sql a "DELETE FROM notes WHERE id = 7"
sync_ok a uploaded=1
sync_ok b applied=6
sync_ok c applied=6
same a b
server_records alice:'alice pw' notes >"$T/recs"
[ "$(grep -c 'plain' "$T/recs")" -eq 6 ] || fail "the clear collection is not as expected"

# A switches: registered again with the key, with an edit not sent yet.
sql a "UPDATE notes SET title = 'edited on a' WHERE id = 2"
new_device a "$ENC"
sync_ok a uploaded=1
server_records alice:'alice pw' notes >"$T/recs"
grep -q "\"plain \|\"edited" "$T/recs" && fail "a value is still in clear on the server"
[ "$(grep -c '"ds_enc": {"ct": ' "$T/recs")" -eq 6 ] || { cat "$T/recs"; fail "not every record is encrypted"; }
[ "$(sql a "SELECT count(*) FROM notes WHERE id = 7")" -eq 0 ] || fail "the deleted row came back"
http GET /v1/buckets/default/collections/notes "" alice:'alice pw' >"$T/meta"
grep -q '"datasync_kid"' "$T/meta" || fail "the collection is not marked encrypted"
grep -q '"datasync_reencrypt": *"done"' "$T/meta" || fail "the switch did not finish"
[ "$(sql a "SELECT count(*) FROM notes")" -eq 6 ] || fail "a lost rows while switching"

# C, still in clear, with an unsent edit: refused before anything is fetched or sent.
sql c "UPDATE notes SET title = 'edited on c' WHERE id = 3"
device c sync >"$T/out" 2>&1 && fail "a device without the key synced the switched collection"
grep -q "encrypted records and this collection has no key" "$T/out" || fail "no clear message for c"
[ "$(sql c "SELECT count(*) FROM notes")" -eq 6 ] || fail "c lost rows"
[ "$(sql c "SELECT title FROM notes WHERE id = 3")" = "edited on c" ] || fail "c lost its own edit"
[ "$(sql c "SELECT title FROM notes WHERE id = 2")" = "plain 2" ] || fail "c applied something"
server_records alice:'alice pw' notes | grep -q "\"edited on c" && fail "c wrote in clear"

# B, edited offline in clear before the switch, is given the key: its edit is not lost to the
# re-encrypted copy of the same record, and it converges on a's data (a's edit included).
sql b "UPDATE notes SET title = 'edited on b' WHERE id = 6"
new_device b "$ENC"
sync_ok b uploaded=1 conflicts=0
sync_ok a applied=1
same a b
[ "$(sql a "SELECT title FROM notes WHERE id = 6")" = "edited on b" ] || fail "b's offline edit was lost"
[ "$(sql b "SELECT title FROM notes WHERE id = 2")" = "edited on a" ] || fail "b missed a's edit"
# Edits keep flowing encrypted both ways.
sql b "UPDATE notes SET title = 'from b' WHERE id = 4; DELETE FROM notes WHERE id = 5"
sync_ok b uploaded=2
sync_ok a applied=2
same a b
server_records alice:'alice pw' notes | grep -q "\"from b" && fail "b's edit went up in clear"

# A run after the switch does not encrypt plaintext that a server slips in later.
http PUT /v1/buckets/default/collections/notes/records/Wzk5XQ '{"data":{"~id":99,"title":"planted"}}' alice:'alice pw' >/dev/null
sync_ok a errors=1
[ "$(sql a "SELECT count(*) FROM notes WHERE id = 99")" -eq 0 ] || fail "a planted cleartext record was applied"
server_records alice:'alice pw' notes | grep -q planted || fail "the planted record was re-encrypted"
# A switch cut after the marker (step 2: "pending", records still in clear): the next device with
# the key that has not switched finishes it.
new_device x "$(remote_json notes2 alice "alice pw")"
for i in 1 2 3; do sql x "INSERT INTO notes VALUES($i, 'cut $i', $i.0)"; done
sync_ok x uploaded=3
KID=$("$PY" -c 'import hmac,hashlib,sys; print(hmac.new(bytes.fromhex(sys.argv[1]), b"datasync-kinto-kid", hashlib.sha256).hexdigest()[:16])' "$KEY")
http PATCH /v1/buckets/default/collections/notes2 "{\"data\":{\"datasync_kid\":\"$KID\",\"datasync_reencrypt\":\"pending\"}}" alice:'alice pw' >/dev/null
new_device y "$(remote_json notes2 alice "alice pw" "\"encrypt\":\"key\",\"key\":\"$KEY\"")"
sync_ok y applied=3 errors=0
server_records alice:"alice pw" notes2 >"$T/recs2"; grep -q "\"cut " "$T/recs2" && { cat "$T/recs2"; fail "the cut switch left values in clear"; }
http GET /v1/buckets/default/collections/notes2 "" alice:'alice pw' | grep -q '"datasync_reencrypt": *"done"' ||
	fail "the cut switch was not finished"
echo "kinto_switch_encrypted: all checks passed"
