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

int ds_http_tls_ctx_new(const char *ca_file, void **out, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	*out = NULL;
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		snprintf(err, errlen, "cannot create a TLS context");
		return -ENOMEM;
	}
	/* TLS 1.2 is the floor of every server we talk to (Mozilla, Kinto, Nextcloud). */
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		goto bad;
	/* lws also sets SSL_VERIFY_PEER and the host name on each connection; this is the floor. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file[0]) {
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
			snprintf(err, errlen, "CA bundle %s holds no usable PEM certificate", ca_file);
			ERR_clear_error();
			SSL_CTX_free(ctx);
			return -EINVAL;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		goto bad;
	}
	*out = ctx;
	return 0;
bad:
	snprintf(err, errlen, "cannot set up the TLS context");
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return -EIO;
}

void ds_http_tls_ctx_free(void *ctx)
{
	SSL_CTX_free(ctx);
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

int ds_http_tls_ctx_new(const char *ca_file, void **out, char *err, size_t errlen)
{
	DS_UNUSED(ca_file);
	DS_UNUSED(err);
	DS_UNUSED(errlen);
	*out = NULL;
	return 0;
}

void ds_http_tls_ctx_free(void *ctx)
{
	DS_UNUSED(ctx);
}

#endif
