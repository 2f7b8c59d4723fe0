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
 */
#ifndef DS_HTTP_TLS_H
#define DS_HTTP_TLS_H

#include <stddef.h>

/*
 * New client TLS context verifying peers against ca_file (a PEM bundle), or the OS trust
 * store when ca_file is "". *out is NULL (and 0 returned) when lws uses another TLS library:
 * lws then builds its own (on mbedTLS from ca_file, which is checked here and must be named).
 * -EINVAL with a reason in err when the bundle is unusable.
 */
int ds_http_tls_ctx_new(const char *ca_file, void **out, char *err, size_t errlen);
void ds_http_tls_ctx_free(void *ctx);

struct lws;

/*
 * Why lws refused the server certificate of wsi (connection error text why, server host), as
 * OpenSSL words it, into out: 0, or -ENOENT when why carries no verification result (with
 * OpenSSL the reason comes from lws' log line instead). http_tls_mbedtls.c.
 */
int ds_http_tls_reject_reason(struct lws *wsi, const char *why, const char *host, char *out,
			      size_t outlen);

#endif /* DS_HTTP_TLS_H */
