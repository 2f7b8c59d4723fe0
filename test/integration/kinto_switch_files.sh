#!/bin/sh
# A collection whose records have files (kinto-attachment) switches from clear to encrypted: each
# file is re-uploaded sealed (streamed) in the same update that encrypts its record, so at no
# moment, whatever is cut, does the server hold a record whose fields and file disagree (one
# encrypted, the other clear). Cut three times: an attachment upload refused mid-switch, the
# request that drops the record's leftover null fields, and the agent killed while the server
# holds an attachment upload; each time the next run finishes. A
# device that had the files in clear keeps them (no download again) and its edits keep the
# sealed file; a new device with the key gets every file opened; no file content in clear is
# left in the server's attachment store.
set -u
. "$DS_SRC/test/integration/kinto_common.inc"

kinto_start --paginate-by 3 --batch-max 4
account alice "alice pw"
KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
mk() { # NAME
	mkdir -p "$T/files-$1"
	[ -f "$T/$1.db" ] || sqlite3 "$T/$1.db" "CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT, n REAL, file TEXT)"
}
files() { printf '"files":{"field":"file","dir":"%s"}' "$T/files-$1"; }
clear_of() { remote_json notes alice "alice pw" "$(files "$1")"; }
enc_of() { remote_json notes alice "alice pw" "$(files "$1"),\"encrypt\":\"key\",\"key\":\"$KEY\""; }

# Every record's fields and file agree: ds_enc <=> a sealed ".enc" attachment; no clear value
# next to ds_enc; a sealed file's bytes are not the clear file's.
check_agree() { # WHEN
	server_records alice:'alice pw' notes >"$T/recs"
	"$PY" - "$T/recs" "$T/attachments" "$T/files-a" "$1" <<'PYEOF' || fail "fields and files disagree ($1)"
import json, os, sys
recs, store, orig, when = sys.argv[1:5]
clear_files = {}
for n in os.listdir(orig):
    with open(os.path.join(orig, n), "rb") as f:
        clear_files[n] = f.read()
bad = []
for line in open(recs):
    r = json.loads(line)
    att = r.get("attachment")
    enc = "ds_enc" in r
    if att:
        if enc != att["filename"].endswith(".enc"):
            bad.append("%s: record %s, file %s" % (r["id"], "encrypted" if enc else "clear", att["filename"]))
        path = os.path.join(store, att["location"].split("/attachments/", 1)[1])
        data = open(path, "rb").read()
        if enc and any(data == c or c in data for c in clear_files.values()):
            bad.append("%s: a sealed attachment holds a clear file" % r["id"])
        if not enc and data not in clear_files.values():
            bad.append("%s: a clear attachment is not a clear file" % r["id"])
    if enc:
        left = [k for k, v in r.items() if k not in ("id", "last_modified", "attachment", "ds_enc", "ds_reenc", "schema")]
        if any(r[k] is not None for k in left):
            bad.append("%s: encrypted record with clear values %s" % (r["id"], left))
if bad:
    print(when, *bad, sep="\n  ")
    sys.exit(1)
PYEOF
}
count_enc() { grep -c '"ds_enc"' "$T/recs"; }

mk a; mk b
printf 'first clear file\n' >"$T/files-a/one.txt"
head -c 300000 /dev/urandom >"$T/files-a/two.bin"
printf 'third clear file\n' >"$T/files-a/three.txt"
new_device a "$(clear_of a)"
new_device b "$(clear_of b)"
sql a "INSERT INTO notes VALUES(1, 'with one', 1, 'one.txt'), (2, 'with two', 2, 'two.bin'),
	(3, 'with three', 3, 'three.txt'), (4, 'no file', 4, NULL)"
sync_ok a uploaded=4
sync_ok b applied=4
cmp -s "$T/files-a/two.bin" "$T/files-b/two.bin" || fail "b did not get the clear file"
check_agree "in clear"

# A switches; the second attachment upload is cut (503): the run fails, the first record is
# switched whole, the others are untouched.
new_device a "$(enc_of a)"
fault '{"fail_request": {"method": "POST", "contains": "/attachment", "skip": 1, "count": 1}}'
device a sync >"$T/out" 2>&1 && fail "a sync with a cut upload succeeded"
check_agree "after a cut upload"
[ "$(count_enc)" -ge 1 ] || fail "nothing was switched before the cut"
# Records with a file switch only once the collection is marked (devices without the key are
# refused from then on, so none writes in clear while its file is being sealed).
http GET /v1/buckets/default/collections/notes "" alice:'alice pw' | grep -q '"datasync_reencrypt": *"pending"' ||
	fail "files were switched before the collection was marked"
device b sync >"$T/out" 2>&1 && fail "a device without the key synced during the switch"

# Cut again between the switching update and the request that drops the null fields.
fault '{"fail_request": {"method": "PUT", "contains": "/records/", "count": 1}}'
device a sync >"$T/out" 2>&1 && fail "a sync with a cut PUT succeeded"
check_agree "after a cut between the two steps"
grep -q ': null' "$T/recs" || fail "the cut did not leave the null fields this step is about"

# Killed (-9) while the server holds its next switching upload: the server then completes that
# update for a client that is gone. Still in step, and the next run finishes.
fault '{"fail_request": {"method": "POST", "contains": "/attachment", "stall": 2}}'
"$DSDEV" --home "$T/home-a" sync >"$T/out.killed" 2>&1 &
SPID=$!
i=0; until grep -q "stalling POST" "$T/kinto.log"; do
	i=$((i + 1)); [ $i -lt 200 ] || fail "the switching upload never came"; sleep 0.05; done
kill -9 $SPID; wait $SPID 2>/dev/null
sleep 2.5  # the server finishes the request it held
check_agree "after a kill during a switching upload"

# The next run finishes: every record encrypted, every file sealed, nothing clear in the store.
sync_ok a
check_agree "after the switch"
[ "$(count_enc)" -eq 4 ] || { cat "$T/recs"; fail "not every record is encrypted"; }
grep -q ': null' "$T/recs" && fail "null fields left"
http GET /v1/buckets/default/collections/notes "" alice:'alice pw' | grep -q '"datasync_reencrypt": *"done"' ||
	fail "the switch did not finish"
grep -rlq -e 'first clear file' -e 'third clear file' "$T/attachments" && fail "a clear file is in the attachment store"
[ "$(sql a "SELECT count(*) FROM notes")" -eq 4 ] || fail "a lost rows"

# B, given the key, keeps its files (no new download) and converges.
http GET /__test__/downloads >"$T/dl.before"
new_device b "$(enc_of b)"
sync_ok b errors=0
same a b
http GET /__test__/downloads >"$T/dl.after"
cmp -s "$T/dl.before" "$T/dl.after" || fail "b downloaded files it had"
# B's edit of a row keeps its (sealed) file.
sql b "UPDATE notes SET title = 'edited on b' WHERE id = 2"
sync_ok b uploaded=1
check_agree "after b's edit"
grep '"WzJd"' "$T/recs" | grep -q '"filename": "WzJd.enc"' || fail "b's edit dropped the sealed file"
sync_ok a applied=1
same a b

# A new device with the key gets every file, opened.
mk c
new_device c "$(enc_of c)"
sync_ok c applied=4 errors=0
for f in one.txt two.bin three.txt; do
	cmp -s "$T/files-a/$f" "$T/files-c/$f" || fail "c's $f differs"
done
same a c
echo "kinto_switch_files: all checks passed"
