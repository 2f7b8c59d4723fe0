/* clients_int.h - shared by the clients engine's files (not a public interface). */
#ifndef DS_CLIENTS_INT_H
#define DS_CLIENTS_INT_H

#include <stdint.h>

struct sqlite3;

/* An SQLite result code as 0 or a negative errno. */
int ds_clients_sqlerr(int rc);
/* Set clients_remote.hidden: stale (ds_clients_stale, own_name: this device's name or NULL),
 * or expired on the server (not rewritten within the client ttl) at now_ms. */
int ds_clients_refresh_hidden(struct sqlite3 *db, const char *own_name, int64_t now_ms);

#endif /* DS_CLIENTS_INT_H */
