/*
 * Commands this device sends to others (sync15.md §7; AS clients_engine/engine.rs, DESK
 * _addClientCommand): queued in clients_outgoing, deduplicated by (command, args); at upload
 * the target's record as last read from the server gets the commands it does not hold yet and
 * goes up with the collection's X-If-Unmodified-Since, so a target that rewrote its record
 * meanwhile (412) is read again and the commands are added to that copy. A queued command
 * leaves the queue once uploaded, or when the server's copy already holds it.
 */
#define DS_LOG_TAG "clients"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_ENGINE
#include "core/ds_core.h"
#include "engine/clients/clients_int.h"
#include "engine/clients/ds_clients.h"
#include "remote/sync15/ds_sync15.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sqlerr(int rc)
{
	return ds_clients_sqlerr(rc);
}

/* {"command":C,"args":[...]} as stored and compared (flowID and other members aside). */
static char *command_key(const cJSON *cmd)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(cmd, "command");
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(cmd, "args");
	cJSON *k = cJSON_CreateObject();
	char *text = NULL;

	if (k && cJSON_IsString(c) && cJSON_AddStringToObject(k, "command", c->valuestring) &&
	    cJSON_AddItemToObject(k, "args", cJSON_IsArray(a) ? cJSON_Duplicate(a, true) : cJSON_CreateArray()))
		text = cJSON_PrintUnformatted(k);
	cJSON_Delete(k);
	return text;
}

/* The target's record as last read, parsed; -ENOENT when we hold none. */
static int target_record(sqlite3 *db, const char *target, cJSON **out)
{
	sqlite3_stmt *st;
	int rc, s;

	*out = NULL;
	rc = sqlerr(sqlite3_prepare_v2(db, "SELECT payload FROM clients_remote WHERE id = ?", -1, &st, NULL));
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, target, -1, SQLITE_STATIC);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		*out = cJSON_Parse((const char *)sqlite3_column_text(st, 0));
		rc = cJSON_IsObject(*out) ? 0 : -EIO;
	} else {
		rc = s == SQLITE_DONE ? -ENOENT : sqlerr(s);
	}
	sqlite3_finalize(st);
	if (rc) {
		cJSON_Delete(*out);
		*out = NULL;
	}
	return rc;
}

static bool holds(const cJSON *record, const char *key)
{
	const cJSON *cmds = cJSON_GetObjectItemCaseSensitive(record, "commands"), *it;
	bool found = false;

	cmds = cJSON_IsArray(cmds) ? cmds : NULL;
	cJSON_ArrayForEach(it, cmds) {
		char *k = command_key(it);

		found = k && !strcmp(k, key);
		cJSON_free(k);
		if (found)
			break;
	}
	return found;
}

int ds_clients_send(sqlite3 *db, const char *target, const char *command, const cJSON *args)
{
	cJSON *cmd = cJSON_CreateObject(), *rec = NULL;
	const cJSON *a;
	sqlite3_stmt *st = NULL;
	char *key = NULL;
	int rc = -EINVAL;

	if (!cmd)
		return -ENOMEM;
	if (!target || !ds_sync15_id_valid(target) || !command || !*command || strlen(command) > 64 ||
	    (args && !cJSON_IsArray(args)))
		goto out;
	cJSON_ArrayForEach(a, args)
		if (!cJSON_IsString(a) && !cJSON_IsNull(a))
			goto out; /* args are strings or null (sync15.md §7) */
	rc = target_record(db, target, &rec);
	if (rc)
		goto out; /* -ENOENT: no such device in the clients read */
	rc = -ENOMEM;
	if (!cJSON_AddStringToObject(cmd, "command", command) ||
	    !cJSON_AddItemToObject(cmd, "args", args ? cJSON_Duplicate(args, true) : cJSON_CreateArray()))
		goto out;
	key = command_key(cmd);
	if (!key)
		goto out;
	if (holds(rec, key)) {
		rc = 0; /* the device has it already */
		goto out;
	}
	rc = sqlerr(sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO clients_outgoing(target, cmd) VALUES (?, ?)",
				       -1, &st, NULL));
	if (rc == 0) {
		sqlite3_bind_text(st, 1, target, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
		rc = sqlerr(sqlite3_step(st));
	}
out:
	sqlite3_finalize(st);
	cJSON_free(key);
	cJSON_Delete(rec);
	cJSON_Delete(cmd);
	return rc;
}

int ds_clients_outgoing_prune(sqlite3 *db, const char *target)
{
	sqlite3_stmt *st = NULL, *del = NULL;
	int rc;

	rc = sqlerr(sqlite3_prepare_v2(db, "SELECT o.seq, o.cmd, r.payload FROM clients_outgoing o"
				       " LEFT JOIN clients_remote r ON r.id = o.target WHERE ?1 IS NULL OR o.target = ?1",
				       -1, &st, NULL));
	if (rc == 0)
		rc = sqlerr(sqlite3_prepare_v2(db, "DELETE FROM clients_outgoing WHERE seq = ?", -1, &del, NULL));
	if (rc == 0)
		sqlite3_bind_text(st, 1, target, -1, SQLITE_STATIC);
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		const char *payload = (const char *)sqlite3_column_text(st, 2);
		cJSON *rec = payload ? cJSON_Parse(payload) : NULL;

		/* Gone (a tombstone) or already holding it: nothing left to send. */
		if (!payload || holds(rec, (const char *)sqlite3_column_text(st, 1))) {
			sqlite3_bind_int64(del, 1, sqlite3_column_int64(st, 0));
			rc = sqlerr(sqlite3_step(del));
			sqlite3_reset(del);
		}
		cJSON_Delete(rec);
	}
	sqlite3_finalize(st);
	sqlite3_finalize(del);
	return rc;
}

int ds_clients_outgoing_list(sqlite3 *db, struct ds_clients_outgoing **out, size_t *n)
{
	sqlite3_stmt *st;
	struct ds_clients_outgoing *v = NULL;
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	rc = sqlerr(sqlite3_prepare_v2(db, "SELECT target, max(seq) FROM clients_outgoing GROUP BY target",
				       -1, &st, NULL));
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		if (*n == cap) {
			struct ds_clients_outgoing *nv = ds_realloc(v, (cap = cap * 2 + 4) * sizeof(*v));

			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
		}
		snprintf(v[*n].target, sizeof(v[*n].target), "%s", (const char *)sqlite3_column_text(st, 0));
		v[*n].seq = (uint64_t)sqlite3_column_int64(st, 1);
		(*n)++;
	}
	sqlite3_finalize(st);
	if (rc) {
		ds_free(v);
		*n = 0;
		return rc;
	}
	*out = v;
	return 0;
}

int ds_clients_outgoing_record(sqlite3 *db, const char *target, uint64_t max_seq, char **payload)
{
	sqlite3_stmt *st = NULL;
	cJSON *rec = NULL, *cmds;
	char *text;
	int rc, added = 0;

	*payload = NULL;
	rc = target_record(db, target, &rec);
	if (rc)
		return rc;
	cmds = cJSON_GetObjectItemCaseSensitive(rec, "commands");
	if (!cJSON_IsArray(cmds)) {
		cJSON_DeleteItemFromObjectCaseSensitive(rec, "commands");
		cmds = cJSON_AddArrayToObject(rec, "commands");
	}
	rc = cmds ? sqlerr(sqlite3_prepare_v2(db, "SELECT cmd FROM clients_outgoing WHERE target = ? AND seq <= ?"
					      " ORDER BY seq", -1, &st, NULL)) : -ENOMEM;
	if (rc == 0) {
		sqlite3_bind_text(st, 1, target, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)max_seq);
	}
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 0);
		cJSON *c;

		if (holds(rec, key))
			continue;
		c = cJSON_Parse(key);
		if (!c || !cJSON_AddItemToArray(cmds, c)) {
			cJSON_Delete(c);
			rc = -ENOMEM;
		}
		added++;
	}
	sqlite3_finalize(st);
	if (rc == 0 && added) {
		text = cJSON_PrintUnformatted(rec);
		*payload = text ? ds_strdup(text) : NULL;
		cJSON_free(text);
		rc = *payload ? 0 : -ENOMEM;
	} else if (rc == 0) {
		rc = 1; /* nothing to add */
	}
	cJSON_Delete(rec);
	return rc;
}

int ds_clients_outgoing_forget(sqlite3 *db, const char *target, uint64_t seq)
{
	sqlite3_stmt *st;
	char *sent = NULL;
	int rc = ds_clients_outgoing_record(db, target, seq, &sent);

	/* Our upload does not come back to us (the cursor passes it): the copy held here becomes
	 * what we sent, so the commands it now holds are not queued again. */
	if (rc == 0) {
		rc = sqlerr(sqlite3_prepare_v2(db, "UPDATE clients_remote SET payload = ? WHERE id = ?", -1, &st, NULL));
		if (rc == 0) {
			sqlite3_bind_text(st, 1, sent, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, target, -1, SQLITE_STATIC);
			rc = sqlerr(sqlite3_step(st));
			sqlite3_finalize(st);
		}
	} else if (rc == 1 || rc == -ENOENT) {
		rc = 0;
	}
	ds_free(sent);
	if (rc == 0)
		rc = sqlerr(sqlite3_prepare_v2(db, "DELETE FROM clients_outgoing WHERE target = ? AND seq <= ?",
					       -1, &st, NULL));
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
	rc = sqlerr(sqlite3_step(st));
	sqlite3_finalize(st);
	return rc;
}
