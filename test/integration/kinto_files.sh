#!/bin/sh
# Files that belong to records, as Kinto attachments (kinto-attachment) against a real Kinto:
# a column names a file under the app's folder ("files": {"field", "dir"}); the file goes up
# streamed (a large one without being held in memory), comes down on the other device with its
# hash checked, resumes after a cut with a Range request, is not sent again when only its row
# changes, is refused when the server's copy was tampered with, goes up again after a wiped
# server and a reset, and in an encrypted collection
# is stored sealed (nothing of it in clear on the server) and opened by the device with the key.
set -u
. "$DS_SRC/test/integration/kinto_common.inc"

kinto_start --paginate-by 3 --batch-max 4
account bob "bob pw"
mk() { # NAME: table with a column naming the file, and the app's folder
	mkdir -p "$T/files-$1"
	[ -f "$T/$1.db" ] || sqlite3 "$T/$1.db" "CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT, n REAL, file TEXT)"
}
files() { printf '"files":{"field":"file","dir":"%s"}' "$T/files-$1"; }
rss() { sed -n 's/^RSS //p' "$T/rss"; }
peak_sync() { # NAME: a sync under /usr/bin/time; peak RSS (KiB) in $T/rss
	/usr/bin/time -f 'RSS %M' -o "$T/rss" "$DSDEV" --home "$T/home-$1" sync >"$T/out" 2>&1 ||
		fail "sync of $1 failed"
}
att() { # USER:PASS COLLECTION ID FIELD: a field of a record's attachment
	server_records "$1" "$2" | "$PY" -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    if r["id"] == sys.argv[1]:
        print((r.get("attachment") or {}).get(sys.argv[2], ""))' "$3" "$4"
}

# 1. A small and a large file go up with their rows; the large one streams (peak memory of the
# sync stays far below the file's size, measured against a sync without files).
mk a; mk b
new_device a "$(remote_json notes bob "bob pw" "$(files a)")"
new_device b "$(remote_json notes bob "bob pw" "$(files b)")"
sql a "INSERT INTO notes VALUES(1, 'no file', 1, NULL)"
peak_sync a
base=$(rss)
printf 'hello file\n' >"$T/files-a/small.txt"
mkdir -p "$T/files-a/photos"  # B's folder has no photos/: the download makes it
head -c 48000000 /dev/urandom >"$T/files-a/photos/big.jpg"
sql a "INSERT INTO notes VALUES(2, 'small', 2, 'small.txt'); INSERT INTO notes VALUES(3, 'big', 3, 'photos/big.jpg')"
peak_sync a
big=$(rss)
echo "peak RSS: sync without files $base KiB, with a 48 MB file $big KiB"
[ $((big - base)) -lt 16000 ] || fail "uploading a 48 MB file grew the peak memory by $((big - base)) KiB"
[ "$(att bob:'bob pw' notes WzJd hash)" = "$(sha256sum <"$T/files-a/small.txt" | cut -d' ' -f1)" ] ||
	fail "the server's attachment hash is not the file's"
[ "$(att bob:'bob pw' notes WzNd size)" = 48000000 ] || fail "the large attachment's size"

# 2. B gets the rows and the files (streamed down too).
peak_sync b
echo "peak RSS of the downloading sync: $(rss) KiB"
[ $(($(rss) - base)) -lt 16000 ] || fail "downloading a 48 MB file grew the peak memory"
cmp -s "$T/files-a/small.txt" "$T/files-b/small.txt" || fail "small file differs on B"
cmp -s "$T/files-a/photos/big.jpg" "$T/files-b/photos/big.jpg" || fail "large file differs on B"
same a b

# 3. Only the row changes: the file is not sent again (same attachment location).
loc=$(att bob:'bob pw' notes WzNd location)
sql a "UPDATE notes SET title = 'big, renamed' WHERE id = 3"
sync_ok a uploaded=1
[ "$(att bob:'bob pw' notes WzNd location)" = "$loc" ] || fail "an unchanged file was uploaded again"
sync_ok b applied=1
ls "$T/files-b/photos/" | grep -q dspart && fail "a download was made for an unchanged file"

# 4. A changed file; B's download is cut after 1 MB; the next sync resumes with a Range request.
head -c 5000000 /dev/urandom >"$T/files-a/photos/big.jpg"
sql a "UPDATE notes SET title = 'big v2' WHERE id = 3"
sync_ok a uploaded=1
fault '{"cut_download": 1000000}'
device b sync >"$T/out" 2>&1 && fail "B's sync succeeded across a cut download"
[ -s "$T/files-b/photos/big.jpg.dspart" ] || fail "no partial file kept after the cut"
sync_ok b
http GET /__test__/downloads >"$T/dl"
grep -q '"bytes=[1-9][0-9]*-", 206' "$T/dl" || fail "the download did not resume with a Range request"
cmp -s "$T/files-a/photos/big.jpg" "$T/files-b/photos/big.jpg" || fail "resumed file differs"
[ -e "$T/files-b/photos/big.jpg.dspart" ] && fail "partial file left behind"
[ "$(sql b "SELECT title FROM notes WHERE id = 3")" = "big v2" ] || fail "row 3 not updated on B"

# 5. The server's copy is tampered with: B refuses it (hash), keeps its file, and says so.
printf 'small v2\n' >"$T/files-a/small.txt"
sql a "UPDATE notes SET title = 'small v2' WHERE id = 2"
sync_ok a uploaded=1
stored=$(att bob:'bob pw' notes WzJd location | sed 's|.*/attachments/||')
printf 'evil v2\n' >"$T/attachments/$stored"
device b sync >"$T/out" 2>&1 && fail "a tampered file was accepted"
grep -q "does not match its hash" "$T/out" || fail "no message about the hash"
[ "$(cat "$T/files-b/small.txt")" = "hello file" ] || fail "B's file was replaced by a tampered one"

# 6. The server is wiped (restart, memory backend): after the refusal and a reset, A sends its
# rows and their files again (the file state went with the old epoch).
kinto_stop
kinto_start --paginate-by 3 --batch-max 4
account bob "bob pw"
device a sync >"$T/out" 2>&1 && fail "A synced with a wiped server"
device a reset >"$T/out" 2>&1 || fail "reset a"
sync_ok a uploaded=3
[ "$(att bob:'bob pw' notes WzNd hash)" = "$(sha256sum <"$T/files-a/photos/big.jpg" | cut -d' ' -f1)" ] ||
	fail "the large file was not uploaded again after the reset"
[ "$(att bob:'bob pw' notes WzJd hash)" = "$(sha256sum <"$T/files-a/small.txt" | cut -d' ' -f1)" ] ||
	fail "the small file was not uploaded again after the reset"

# 7. Encrypted collection: the attachment is sealed on the server, opened on B with the key.
KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
mk ea; mk eb
new_device ea "$(remote_json enc bob "bob pw" "$(files ea),\"encrypt\":\"key\",\"key\":\"$KEY\"")"
new_device eb "$(remote_json enc bob "bob pw" "$(files eb),\"encrypt\":\"key\",\"key\":\"$KEY\"")"
{ echo "SECRET-MARKER-$$"; head -c 300000 /dev/urandom; echo "SECRET-MARKER-$$"; } >"$T/files-ea/doc.pdf"
sql ea "INSERT INTO notes VALUES(7, 'secret doc', 7, 'doc.pdf')"
sync_ok ea uploaded=1
grep -rl "SECRET-MARKER-$$" "$T/attachments" && fail "an encrypted collection's file is in clear on the server"
sync_ok eb applied=1
cmp -s "$T/files-ea/doc.pdf" "$T/files-eb/doc.pdf" || fail "the sealed file did not open on B"
# The server points record 7 at record 8's sealed file (hash and size right): the file fails
# its tag, because the record id is bound into it, and B keeps its own copy.
printf 'other\n' >"$T/files-ea/other.pdf"
sql ea "INSERT INTO notes VALUES(8, 'other', 8, 'other.pdf')"
sync_ok ea uploaded=1
a8=$(server_records bob:'bob pw' enc | "$PY" -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    if r["id"] == "Wzhd":
        print(json.dumps(r["attachment"]))')
[ -n "$a8" ] || fail "record 8 has no attachment"
http PATCH /v1/buckets/default/collections/enc/records/Wzdd "{\"data\":{\"attachment\":$a8}}" bob:'bob pw' >/dev/null
device eb sync >"$T/out" 2>&1 && fail "a sealed file moved from another record was accepted"
grep -q "failed its authentication" "$T/out" || fail "no message about the file's authentication"
cmp -s "$T/files-eb/doc.pdf" "$T/files-ea/doc.pdf" || fail "B's own copy of the sealed file was lost"
echo "kinto_files: all checks passed"
