/*
 * http_tls.h - the client TLS context handed to libwebsockets (private to component/net).
 *
 * Why we build the SSL_CTX ourselves instead of letting lws 4.1.6 do it: lws keeps the
 * bookkeeping of its shared client SSL_CTX under an OpenSSL ex-data index held in a global
 * that every lws_create_context() re-allocates. When two contexts overlap in time (two
 * worker threads, or the daemon's push context and an HTTP client), destroying the older
 * one looks its bookkeeping up under the newer index, finds nothing, and leaks the SSL_CTX
 * with the whole CA store (about 700 KB with Debian's bundle). A context provided by the
 * application is never touched by that code (lws_ssl_destroy_client_ctx returns early for
 * user_supplied_ssl_ctx), so we own it and free it.
 *
 * Trust anchors are the largest thing a client holds (the OS store parsed: about 0.5 MB with
 * OpenSSL), and most clients of a device never speak TLS to a test or LAN server. So a
 * client's context starts with no anchors, and the anchors are attached on its first https://
 * request (ds_http_tls_trust_get()). With OpenSSL one X509_STORE per bundle is shared by every
 * client of the process that holds a reference, and freed with the last reference. lws 4.1.6
 * on mbedTLS parses the bundle into each lws context itself and takes no shared chain through
 * its API: there the reference only stands for one parse, done when the client first needs it.
 */
#ifndef DS_HTTP_TLS_H
#define DS_HTTP_TLS_H

#include <stddef.h>

/*
 * New client TLS context with no trust anchors. *out is NULL (and 0 returned) when lws uses
 * another TLS library: lws then builds its own context.
 */
int ds_http_tls_ctx_new(void **out, char *err, size_t errlen);
void ds_http_tls_ctx_free(void *ctx);

/*
 * The trust for ca_file (a PEM bundle, or "" for the OS store on OpenSSL) before the first
 * TLS connection of a client: attach it to ctx (OpenSSL; shared, loaded only when no client
 * holds it) or check that lws will be able to parse the bundle (mbedTLS). *trust is a
 * reference for ds_http_tls_trust_put(), NULL when there is nothing to hold.
 * -EINVAL with a reason in err when the bundle is unusable, -ENOMEM, -EIO.
 */
int ds_http_tls_trust_get(void *ctx, const char *ca_file, void **trust, char *err, size_t errlen);
void ds_http_tls_trust_put(void *trust);

/*
 * How many times this process has read and parsed a trust store or CA bundle for a client
 * (tests: a second client must not load it again, an http:// client not at all).
 */
unsigned long ds_http_tls_trust_loads(void);
void ds_http_tls_note_load(void); /* counts one, from the TLS glue (http_client.c keeps it) */

struct lws;

/*
 * Why lws refused the server certificate of wsi (connection error text why, server host), as
 * OpenSSL words it, into out: 0, or -ENOENT when why carries no verification result (with
 * OpenSSL the reason comes from lws' log line instead). http_tls_mbedtls.c.
 */
int ds_http_tls_reject_reason(struct lws *wsi, const char *why, const char *host, char *out,
			      size_t outlen);

#endif /* DS_HTTP_TLS_H */
