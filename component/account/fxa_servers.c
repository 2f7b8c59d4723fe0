/*
 * The daemon's accounts server, shared by the remotes that take tokens from the signed-in
 * account (ds_fxa_servers.h). A setting, not a secret: plain copies under a lock, because the
 * daemon's main loop sets it on SIGHUP while the sync worker reads it.
 */
#include "core/ds_core.h"
#include "account/ds_fxa_servers.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static struct {
	pthread_mutex_t lock;
	char fxa_url[DS_FXA_SERVER_URL_MAX];
	char ca[DS_FXA_SERVER_URL_MAX];
} servers = { .lock = PTHREAD_MUTEX_INITIALIZER };

int ds_fxa_servers_set(const char *fxa_url, const char *ca_bundle)
{
	const char *u = fxa_url ? fxa_url : "", *c = ca_bundle ? ca_bundle : "";

	if (strlen(u) >= sizeof(servers.fxa_url) || strlen(c) >= sizeof(servers.ca))
		return -EINVAL;
	pthread_mutex_lock(&servers.lock);
	snprintf(servers.fxa_url, sizeof(servers.fxa_url), "%s", u);
	snprintf(servers.ca, sizeof(servers.ca), "%s", c);
	pthread_mutex_unlock(&servers.lock);
	return 0;
}

int ds_fxa_servers_get(char *fxa_url, size_t url_cap, char *ca_bundle, size_t ca_cap)
{
	int n1, n2;

	pthread_mutex_lock(&servers.lock);
	n1 = snprintf(fxa_url, url_cap, "%s", servers.fxa_url);
	n2 = snprintf(ca_bundle, ca_cap, "%s", servers.ca);
	pthread_mutex_unlock(&servers.lock);
	if (n1 < 0 || (size_t)n1 >= url_cap || n2 < 0 || (size_t)n2 >= ca_cap)
		return -ENAMETOOLONG;
	return 0;
}
