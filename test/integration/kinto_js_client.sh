#!/bin/sh
# A second, independent client on the same collection: Kinto's official JavaScript HTTP client
# (npm kinto-http, test/js/kinto_client.js) creates, edits and deletes records that the agent
# must apply, reads what the agent wrote, and a stale edit of its own is refused (412) after
# the agent's upload, so neither side overwrites the other blindly.
set -u
. "$DS_SRC/test/integration/kinto_common.inc"
command -v node >/dev/null || { echo "node is not installed"; exit 77; }
sh "$S/test/js/setup.sh" 2>"$T/npm.log" || { cat "$T/npm.log"; echo "JavaScript clients unavailable (npm ci)"; exit 77; }

kinto_start --paginate-by 3 --batch-max 4
account alice "alice pw"
R=$(remote_json notes alice "alice pw")
js() { node "$S/test/js/kinto_client.js" "$KURL" "alice:alice pw" notes "$@"; }
# The record id the table engine gives to primary key N: base64url of "[N]" (docs/engine-table.md).
rid() { printf '[%s]' "$1" | base64 | tr '+/' '-_' | tr -d '=\n'; }

# 1. The agent writes 5 rows; the JS client reads them as ordinary records, paging by 3.
new_device a "$R"
for i in 1 2 3 4 5; do sql a "INSERT INTO notes VALUES($i, 'note $i', $i.5)"; done
sync_ok a uploaded=5
js list >"$T/js" 2>"$T/js.err" || { cat "$T/js.err"; fail "kinto-http list"; }
[ "$(wc -l <"$T/js")" -eq 5 ] || fail "kinto-http does not see the agent's 5 records"
grep "\"id\":\"$(rid 3)\"" "$T/js" | grep -q '"title":"note 3"' || fail "kinto-http: record 3 is not the row"
grep "\"id\":\"$(rid 3)\"" "$T/js" | grep -q '"~id":3' || fail "kinto-http: the key column is not ~id"

# 2. The JS client creates two records (one through a kinto-http batch), edits one of the
# agent's records and deletes another, each with its own precondition.
js create "$(rid 10)" '{"~id":10,"title":"from js","n":0.5}' >/dev/null || fail "kinto-http create"
js update "$(rid 2)" '{"title":"edited by js"}' >/dev/null || fail "kinto-http update"
js delete "$(rid 4)" >/dev/null || fail "kinto-http delete"
sync_ok a fetched=3 applied=3
[ "$(sql a "SELECT title || '|' || n FROM notes WHERE id = 10")" = "from js|0.5" ] ||
	fail "the agent did not apply the JS client's new record"
[ "$(sql a "SELECT title FROM notes WHERE id = 2")" = "edited by js" ] ||
	fail "the agent did not apply the JS client's edit"
[ "$(sql a "SELECT count(*) FROM notes WHERE id = 4")" -eq 0 ] ||
	fail "the agent did not apply the JS client's deletion"
[ "$(sql a "SELECT count(*) FROM notes")" -eq 5 ] || fail "the agent's table has extra or lost rows"

# 3. The agent edits the JS client's record and one of its own; the JS client reads both.
sql a "UPDATE notes SET title = 'agent edit' WHERE id = 10; UPDATE notes SET n = 7.25 WHERE id = 1"
sync_ok a uploaded=2
js list >"$T/js" || fail "kinto-http list"
grep "\"id\":\"$(rid 10)\"" "$T/js" | grep -q '"title":"agent edit"' || fail "kinto-http does not see the agent's edit"
grep "\"id\":\"$(rid 1)\"" "$T/js" | grep -q '"n":7.25' || fail "kinto-http does not see the agent's number"

# 4. A JS edit based on the version before the agent's upload is refused (412), not applied.
old=$(grep "\"id\":\"$(rid 5)\"" "$T/js" | sed 's/.*"last_modified":\([0-9]*\).*/\1/')
sql a "UPDATE notes SET title = 'agent again' WHERE id = 5"
sync_ok a uploaded=1
js update-at "$(rid 5)" "$old" '{"title":"stale js"}' >/dev/null 2>"$T/js.err" && fail "a stale JS edit was accepted"
grep -q '"code":412' "$T/js.err" || fail "the stale JS edit failed without a 412"
sync_ok a fetched=0
[ "$(sql a "SELECT title FROM notes WHERE id = 5")" = "agent again" ] || fail "the agent's edit was lost"

# 5. Twelve JS creates in one kinto-http batch (which it splits: the server allows 4 a batch) and a
# second device: everybody converges on the same rows.
js rows 20 32 >"$T/js" || fail "kinto-http batch of 12 creates"
grep -q '"published":12' "$T/js" || fail "kinto-http's batch did not publish 12 records"
js update "$(rid 1)" '{"title":"js after agent"}' >/dev/null || fail "kinto-http update 1"
sync_ok a fetched=13 applied=13
[ "$(sql a "SELECT title FROM notes WHERE id = 25")" = "js 25" ] || fail "a row of the JS batch is not in the table"
new_device b "$R"
sync_ok b fetched=17 applied=17
same a b
js list >"$T/js" || fail "kinto-http list"
[ "$(wc -l <"$T/js")" -eq 17 ] || fail "kinto-http and the agent disagree on the record count"
echo "kinto_js_client: all checks passed"
