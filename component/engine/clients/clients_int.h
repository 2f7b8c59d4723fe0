/* clients_int.h - shared by the clients engine's files (not a public interface). */
#ifndef DS_CLIENTS_INT_H
#define DS_CLIENTS_INT_H

#include <stddef.h>
#include <stdint.h>

struct sqlite3;

/* An SQLite result code as 0 or a negative errno. */
int ds_clients_sqlerr(int rc);
/* Set clients_remote.hidden: stale (ds_clients_stale, own_name: this device's name or NULL),
 * or expired on the server (not rewritten within the client ttl) at now_ms. */
int ds_clients_refresh_hidden(struct sqlite3 *db, const char *own_name, int64_t now_ms);

/* Commands queued for other devices (clients_send.c). */
struct ds_clients_outgoing {
	char target[65];
	uint64_t seq; /* the newest queued command's counter */
};
/* Drop queued commands the target's record (as last read) holds, or whose target is gone;
 * target NULL: every target. */
int ds_clients_outgoing_prune(struct sqlite3 *db, const char *target);
/* The targets with queued commands (*out: ds_malloc'ed array of *n). */
int ds_clients_outgoing_list(struct sqlite3 *db, struct ds_clients_outgoing **out, size_t *n);
/* The target's record as last read with the queued commands (counter up to max_seq) it lacks:
 * 0 and *payload (ds_malloc'ed), 1 when it lacks none, -ENOENT when no record of it is held. */
int ds_clients_outgoing_record(struct sqlite3 *db, const char *target, uint64_t max_seq, char **payload);
/* Uploaded: the target's queued commands up to seq leave the queue, and the copy held here
 * becomes the record as sent. */
int ds_clients_outgoing_forget(struct sqlite3 *db, const char *target, uint64_t seq);

#endif /* DS_CLIENTS_INT_H */
