/*
 * The accounts server a process uses when a registration names none: datasyncd sets it from
 * its configuration's [accounts] fxa_url and ca_bundle (docs/accounts.md) at start and on
 * every reload; remotes that ask the signed-in account for tokens (the Kinto remote's
 * "token_scope") read it. Unset or "": the build's CONFIG_DS_ACCOUNT_FXA_URL and the OS trust
 * store.
 */
#ifndef DS_FXA_SERVERS_H
#define DS_FXA_SERVERS_H

#include <stddef.h>

#define DS_FXA_SERVER_URL_MAX 512

/* Copies both (NULL = unset). -EINVAL when one is longer than DS_FXA_SERVER_URL_MAX - 1. */
int ds_fxa_servers_set(const char *fxa_url, const char *ca_bundle);

/* The values set, "" when unset; -ENAMETOOLONG when a buffer is too small. */
int ds_fxa_servers_get(char *fxa_url, size_t url_cap, char *ca_bundle, size_t ca_cap);

#endif
