#!/bin/sh
# Client-side encryption of a Kinto collection ("encrypt":"key"): two devices with the same key
# converge; the server holds only id, last_modified and ds_enc (no column value in clear); a
# device without the key, or with another key, gets an error and applies nothing; a cleartext
# record slipped into the encrypted collection is refused, never applied; the key and password
# are not left in the stored registration.
set -u
. "$DS_SRC/test/integration/kinto_common.inc"

kinto_start --paginate-by 3 --batch-max 4
account alice "alice pw"
KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
OTHER=ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
RE=$(remote_json secret_notes alice "alice pw" "\"encrypt\":\"key\",\"key\":\"$KEY\"")
new_device a "$RE"
new_device b "$RE"
for i in 1 2 3 4 5; do sql a "INSERT INTO notes VALUES($i, 'confidential $i', $i.5)"; done
sync_ok a uploaded=5
sync_ok b fetched=5 applied=5
same a b

server_records alice:'alice pw' secret_notes >"$T/recs"
[ "$(wc -l <"$T/recs")" -eq 5 ] || fail "server does not hold 5 records"
grep -q confidential "$T/recs" && fail "a column value is in clear on the server"
grep -q '"title"' "$T/recs" && fail "a column name is in clear on the server"
[ "$(grep -c '"ds_enc": {"ct": ' "$T/recs")" -eq 5 ] || fail "records are not in the encrypted form"

# Secrets never stay in the registration.
grep -rq "$KEY" "$T/home-a/data" && fail "the key is in the agent's data folder"
grep -rq "alice pw" "$T/home-a/data" && fail "the password is in the agent's data folder"

# An edit and a delete travel encrypted too.
sql b "UPDATE notes SET title = 'changed' WHERE id = 2; DELETE FROM notes WHERE id = 5"
sync_ok b uploaded=2
sync_ok a fetched=2 applied=2
same a b

# A device without the key: an error naming the cause, nothing applied.
new_device c "$(remote_json secret_notes alice "alice pw")"
device c sync >"$T/out" 2>&1 && fail "a device without the key synced an encrypted collection"
grep -q "encrypted records and this collection has no key" "$T/out" || fail "no clear message without key"
[ "$(sql c "SELECT count(*) FROM notes")" -eq 0 ] || fail "a device without the key applied something"

# A device with another key: the same.
new_device d "$(remote_json secret_notes alice "alice pw" "\"encrypt\":\"key\",\"key\":\"$OTHER\"")"
device d sync >"$T/out" 2>&1 && fail "a device with another key synced"
grep -q "encrypted under another key" "$T/out" || fail "no clear message for another key"
[ "$(sql d "SELECT count(*) FROM notes")" -eq 0 ] || fail "a device with another key applied something"

# A cleartext record written into the encrypted collection by someone else: counted as an
# error, never applied; the encrypted ones around it still are.
http PUT /v1/buckets/default/collections/secret_notes/records/Wzk5XQ '{"data":{"~id":99,"title":"planted"}}' alice:'alice pw' >/dev/null
sql a "INSERT INTO notes VALUES(6, 'six', 6.0)"
sync_ok a uploaded=1
sync_ok b fetched=2 applied=1 errors=1
[ "$(sql b "SELECT count(*) FROM notes WHERE id = 99")" -eq 0 ] || fail "a cleartext record was applied in an encrypted collection"
[ "$(sql b "SELECT title FROM notes WHERE id = 6")" = "six" ] || fail "the encrypted record next to it was not applied"
# The server copies record 1's ciphertext over record 3 (a replay under another id): the tag
# binds the id, so B counts an error and keeps its row 3.
enc1=$(http GET /v1/buckets/default/collections/secret_notes/records/WzFd "" alice:'alice pw' |
	"$PY" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["data"]["ds_enc"]))')
http PUT /v1/buckets/default/collections/secret_notes/records/WzNd "{\"data\":{\"ds_enc\":$enc1}}" alice:'alice pw' >/dev/null
before=$(sql b "SELECT title FROM notes WHERE id = 3")
sync_ok b fetched=1 applied=0 errors=1
[ "$(sql b "SELECT title FROM notes WHERE id = 3")" = "$before" ] || fail "a replayed ciphertext changed row 3"
grep -q "failed to decode or decrypt" "$T/out" || fail "no message for the replayed record"
echo "kinto_encrypted: all checks passed"
