/* Client TLS context for libwebsockets built on OpenSSL (Debian's lws 4.1.6); see http_tls.h. */
#define DS_LOG_TAG "http"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_NET
#include "core/ds_core.h"
#include "net/http_tls.h"

#include <libwebsockets.h>
#include <stdio.h>

#if defined(LWS_OPENSSL_SUPPORT) && !defined(LWS_WITH_MBEDTLS)
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <pthread.h>
#include <string.h>

/*
 * The process's trust stores, one per bundle ("" = the OS store), each shared by the clients
 * holding a reference. A client attaches the store to its SSL_CTX (SSL_CTX_set1_cert_store
 * takes an OpenSSL reference of its own, so a context never outlives its store) and drops its
 * reference when it is freed: with the last one the store goes, and the next client to speak
 * TLS loads it again. X509_STORE locks itself, so clients of different threads share it.
 */
struct trust {
	struct trust *next;
	X509_STORE *store;
	unsigned int refs;
	char ca_file[]; /* flexible: the key */
};

static pthread_mutex_t trust_lock = PTHREAD_MUTEX_INITIALIZER;
static struct trust *trusts;

int ds_http_tls_ctx_new(void **out, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	*out = NULL;
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		snprintf(err, errlen, "cannot create a TLS context");
		return -ENOMEM;
	}
	/* TLS 1.2 is the floor of every server we talk to (Mozilla, Kinto, Nextcloud). */
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		snprintf(err, errlen, "cannot set up the TLS context");
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return -EIO;
	}
	/* lws also sets SSL_VERIFY_PEER and the host name on each connection; this is the floor.
	 * Until ds_http_tls_trust_get() the store is empty: nothing verifies, nothing connects. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	*out = ctx;
	return 0;
}

void ds_http_tls_ctx_free(void *ctx)
{
	SSL_CTX_free(ctx);
}

static int store_load(const char *ca_file, X509_STORE **out, char *err, size_t errlen)
{
	X509_STORE *st = X509_STORE_new();
	int ok;

	*out = NULL;
	if (!st) {
		snprintf(err, errlen, "cannot create a trust store");
		return -ENOMEM;
	}
	ds_http_tls_note_load();
	if (ca_file[0]) {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
		ok = X509_STORE_load_file(st, ca_file);
#else
		ok = X509_STORE_load_locations(st, ca_file, NULL);
#endif
		if (ok != 1) {
			snprintf(err, errlen, "CA bundle %s holds no usable PEM certificate", ca_file);
			ERR_clear_error();
			X509_STORE_free(st);
			return -EINVAL;
		}
	} else if (X509_STORE_set_default_paths(st) != 1) {
		snprintf(err, errlen, "cannot load the system trust store");
		ERR_clear_error();
		X509_STORE_free(st);
		return -EIO;
	}
	*out = st;
	return 0;
}

int ds_http_tls_trust_get(void *ctx, const char *ca_file, void **trust, char *err, size_t errlen)
{
	struct trust *t;
	size_t n = strlen(ca_file);
	int rc = 0;

	*trust = NULL;
	pthread_mutex_lock(&trust_lock);
	for (t = trusts; t && strcmp(t->ca_file, ca_file); t = t->next)
		;
	if (!t) {
		t = ds_calloc(1, sizeof(*t) + n + 1);
		if (!t) {
			snprintf(err, errlen, "out of memory for the trust store");
			rc = -ENOMEM;
			goto out;
		}
		memcpy(t->ca_file, ca_file, n + 1);
		rc = store_load(ca_file, &t->store, err, errlen);
		if (rc) {
			ds_free(t);
			goto out;
		}
		t->next = trusts;
		trusts = t;
	}
	/* set1 takes an OpenSSL reference: the context keeps the store alive on its own. */
	SSL_CTX_set1_cert_store(ctx, t->store);
	t->refs++;
	*trust = t;
out:
	pthread_mutex_unlock(&trust_lock);
	return rc;
}

void ds_http_tls_trust_put(void *trust)
{
	struct trust *t = trust, **pp;

	if (!t)
		return;
	pthread_mutex_lock(&trust_lock);
	if (--t->refs == 0) {
		for (pp = &trusts; *pp && *pp != t; pp = &(*pp)->next)
			;
		if (*pp)
			*pp = t->next;
		X509_STORE_free(t->store);
		ds_free(t);
	}
	pthread_mutex_unlock(&trust_lock);
}

int ds_http_tls_reject_reason(struct lws *wsi, const char *why, const char *host, char *out,
			      size_t outlen)
{
	DS_UNUSED(wsi);
	DS_UNUSED(why);
	DS_UNUSED(host);
	DS_UNUSED(out);
	DS_UNUSED(outlen);
	return -ENOENT;
}

#elif !defined(LWS_WITH_MBEDTLS)
/* lws without TLS. */

int ds_http_tls_reject_reason(struct lws *wsi, const char *why, const char *host, char *out,
			      size_t outlen)
{
	DS_UNUSED(wsi);
	DS_UNUSED(why);
	DS_UNUSED(host);
	DS_UNUSED(out);
	DS_UNUSED(outlen);
	return -ENOENT;
}

int ds_http_tls_ctx_new(void **out, char *err, size_t errlen)
{
	DS_UNUSED(err);
	DS_UNUSED(errlen);
	*out = NULL;
	return 0;
}

void ds_http_tls_ctx_free(void *ctx)
{
	DS_UNUSED(ctx);
}

int ds_http_tls_trust_get(void *ctx, const char *ca_file, void **trust, char *err, size_t errlen)
{
	DS_UNUSED(ctx);
	DS_UNUSED(ca_file);
	*trust = NULL;
	snprintf(err, errlen, "this libwebsockets has no TLS");
	return -EKEYREJECTED;
}

void ds_http_tls_trust_put(void *trust)
{
	DS_UNUSED(trust);
}

#endif
