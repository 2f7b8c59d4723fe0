#!/bin/sh
# Sharing through Kinto permissions, "Bob shares a file with Alice": Bob's agent syncs a table
# whose "shared_with" column lists the principals that may read each record ("share_field"),
# and whose "file" column names the record's file. Alice, with her own Kinto account and
# another client (kinto-http), reads exactly the records shared with her and downloads their
# files (hash checked), cannot change them, and loses access when Bob clears the column; her
# own agent ("shared_reader", import-only) syncs the shared rows and file into her table;
# Carol sees only what is shared with her.
set -u
. "$DS_SRC/test/integration/kinto_common.inc"
command -v node >/dev/null || { echo "node is not installed"; exit 77; }
sh "$S/test/js/setup.sh" 2>"$T/npm.log" || { cat "$T/npm.log"; echo "JavaScript clients unavailable (npm ci)"; exit 77; }

kinto_start
account bob "bob pw"
account alice "alice pw"
account carol "carol pw"
js() { # USER:PASS BUCKET/COLLECTION COMMAND...
	u=$1; shift
	node "$S/test/js/kinto_client.js" "$KURL" "$u" "$@"
}

mkdir -p "$T/files-bob"
sqlite3 "$T/bob.db" "CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT, n REAL, file TEXT, shared_with TEXT)"
new_device bob "$(remote_json notes bob "bob pw" "\"share_field\":\"shared_with\",\"files\":{\"field\":\"file\",\"dir\":\"$T/files-bob\"}")"
head -c 200000 /dev/urandom >"$T/files-bob/holiday.jpg"
sql bob "INSERT INTO notes VALUES(1, 'for alice', 1, 'holiday.jpg', 'account:alice');
         INSERT INTO notes VALUES(2, 'private', 2, NULL, NULL);
         INSERT INTO notes VALUES(3, 'alice and carol', 3, NULL, 'account:alice, account:carol')"
sync_ok bob uploaded=3

# Bob's bucket id: Alice needs the real one, "default" is her own (kinto.md §4).
bucket=$(js bob:'bob pw' notes whoami | sed 's/.*"bucket":"\([^"]*\)".*/\1/')
[ -n "$bucket" ] || fail "no bucket id for bob"

js alice:'alice pw' "$bucket/notes" list >"$T/alice" 2>"$T/js.err" || { cat "$T/js.err"; fail "alice cannot list bob's collection"; }
[ "$(wc -l <"$T/alice")" -eq 2 ] || fail "alice sees $(wc -l <"$T/alice") records, expected the 2 shared with her"
grep -q '"title":"for alice"' "$T/alice" || fail "alice does not see the record shared with her"
grep -q '"private"' "$T/alice" && fail "alice sees a record not shared with her"
js alice:'alice pw' "$bucket/notes" file WzFd >"$T/file" 2>"$T/js.err" || { cat "$T/js.err"; fail "alice cannot get the shared file"; }
grep -q "\"sha256\":\"$(sha256sum <"$T/files-bob/holiday.jpg" | cut -d' ' -f1)\"" "$T/file" ||
	fail "alice's copy of the file is not bob's"
# Read-only: Alice's edit is refused and Bob's row keeps its value.
js alice:'alice pw' "$bucket/notes" update WzFd '{"title":"alice was here"}' >/dev/null 2>"$T/js.err" &&
	fail "alice could edit a record shared read-only"
grep -q '"code":403' "$T/js.err" || fail "alice's edit failed without a 403"
# Alice's own agent reads Bob's collection ("shared_reader", import-only): the rows shared
# with her, and the file, into her app's table and folder.
mkdir -p "$T/files-alice"
sqlite3 "$T/alice.db" "CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT, n REAL, file TEXT, shared_with TEXT)"
new_device alice "$(remote_json notes alice "alice pw" "\"bucket\":\"$bucket\",\"shared_reader\":true,\"files\":{\"field\":\"file\",\"dir\":\"$T/files-alice\"}")" --direction import-only
sync_ok alice fetched=2 applied=2
[ "$(sql alice "SELECT group_concat(title, '|') FROM (SELECT title FROM notes ORDER BY id)")" = "for alice|alice and carol" ] ||
	fail "alice's agent does not hold exactly the rows shared with her"
cmp -s "$T/files-bob/holiday.jpg" "$T/files-alice/holiday.jpg" || fail "alice's agent did not get the shared file"
# An edit on Alice's side stays hers (import-only); a device registered two-way is told why not.
sql alice "UPDATE notes SET title = 'alice local' WHERE id = 3"
sync_ok alice
new_device alice2 "$(remote_json notes alice "alice pw" "\"bucket\":\"$bucket\",\"shared_reader\":true")"
sql alice2 "INSERT INTO notes VALUES(9, 'x', 1)"
device alice2 sync >"$T/out" 2>&1 && fail "a two-way device wrote to a collection shared read-only"
grep -q "import-only" "$T/out" || fail "no clear message for writing to a shared collection"
js carol:'carol pw' "$bucket/notes" list >"$T/carol" || fail "carol cannot list"
[ "$(wc -l <"$T/carol")" -eq 1 ] || fail "carol sees $(wc -l <"$T/carol") records, expected 1"
grep -q '"alice and carol"' "$T/carol" || fail "carol does not see the record shared with her"

# Bob takes the share back by clearing the column: the next sync removes Alice's access.
sql bob "UPDATE notes SET shared_with = NULL WHERE id = 1"
sync_ok bob uploaded=1
js alice:'alice pw' "$bucket/notes" list >"$T/alice" || fail "alice cannot list"
grep -q '"for alice"' "$T/alice" && fail "alice still reads a record no longer shared with her"
[ "$(wc -l <"$T/alice")" -eq 1 ] || fail "alice should see only record 3 now"
# Bob edits the record still shared: Alice's agent gets the edit.
sql bob "UPDATE notes SET n = 33 WHERE id = 3"
sync_ok bob uploaded=1
sync_ok alice fetched=1
[ "$(sql alice "SELECT n FROM notes WHERE id = 3")" = "33.0" ] || fail "alice's agent did not get bob's edit"
# Bob's own device still has everything, and a second sync changes nothing.
sync_ok bob uploaded=0
[ "$(sql bob "SELECT count(*) FROM notes")" -eq 3 ] || fail "bob's rows changed"
echo "kinto_share: all checks passed"
