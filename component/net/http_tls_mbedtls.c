/*
 * Client TLS for libwebsockets built on mbedTLS (make LWS=mbedtls); see http_tls.h.
 *
 * lws 4.1.6 on mbedTLS builds its client context itself from client_ssl_ca_filepath (it takes
 * no application context), so there is no context of ours to hand over. What is left here:
 * check the CA bundle before lws does, because lws refuses a bundle as a whole when mbedTLS
 * cannot parse one certificate of it and only says "x509 parse failed"; and say why lws refused
 * a server certificate, which it reports as an OpenSSL-style number only.
 */
#define DS_LOG_TAG "http"
#define DS_LOG_LEVEL CONFIG_DS_LOG_LEVEL_NET
#include "core/ds_core.h"
#include "net/http_tls.h"

#include <libwebsockets.h>

#if defined(LWS_WITH_MBEDTLS)
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

/*
 * The numbers lws' mbedTLS wrapper gives mbedTLS' verification flags
 * (lib/tls/mbedtls/wrapper/platform/ssl_pm.c, ssl_pm_get_verify_result(), values of
 * wrapper/include/internal/x509_vfy.h, the same as OpenSSL's x509_vfy.h).
 */
enum {
	V_ERR_UNSPECIFIED = 1,
	V_ERR_CERT_NOT_YET_VALID = 9,
	V_ERR_CERT_HAS_EXPIRED = 10,
	V_ERR_INVALID_CA = 24, /* MBEDTLS_X509_BADCERT_NOT_TRUSTED */
	V_ERR_HOSTNAME_MISMATCH = 62, /* MBEDTLS_X509_BADCERT_CN_MISMATCH */
	V_ERR_CA_KEY_TOO_SMALL = 67,
	V_ERR_CA_MD_TOO_WEAK = 68,
};

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

/*
 * lws parses the bundle itself when the client's TLS-capable lws context is created (one
 * chain per context: its API takes no shared one); this parse only checks that it will work.
 */
int ds_http_tls_trust_get(void *ctx, const char *ca_file, void **trust, char *err, size_t errlen)
{
	mbedtls_x509_crt chain;
	int rc;

	DS_UNUSED(ctx);
	*trust = NULL;
	if (!ca_file[0]) {
		/* http_client.c names CONFIG_DS_HTTP_OS_CA_FILE instead of "" on this library. */
		snprintf(err, errlen, "no CA bundle given");
		return -EINVAL;
	}
	if (access(ca_file, R_OK)) {
		rc = -errno;
		snprintf(err, errlen, "CA bundle %s cannot be read: %s", ca_file, strerror(-rc));
		return rc;
	}
	ds_http_tls_note_load();
	mbedtls_x509_crt_init(&chain);
	rc = mbedtls_x509_crt_parse_file(&chain, ca_file);
	mbedtls_x509_crt_free(&chain);
	if (rc < 0) {
		snprintf(err, errlen, "CA bundle %s holds no usable PEM certificate (mbedTLS -0x%04x)",
			 ca_file, (unsigned int)-rc);
		return -EINVAL;
	}
	if (rc > 0) {
		snprintf(err, errlen, "CA bundle %s: mbedTLS cannot parse %d of its certificates", ca_file,
			 rc);
		return -EINVAL;
	}
	return 0;
}

void ds_http_tls_trust_put(void *trust)
{
	DS_UNUSED(trust);
}

/*
 * NOT_TRUSTED covers both "self-signed" and "issuer unknown" in mbedTLS; the peer certificate
 * (kept by mbedTLS after the handshake, which lws runs with verification "optional" and judges
 * afterwards) tells them apart by its subject and issuer names.
 */
static int peer_self_signed(struct lws *wsi)
{
	union {
		union lws_tls_cert_info_results r;
		char b[sizeof(union lws_tls_cert_info_results) + 192];
	} subj, iss;
	size_t n = sizeof(subj.b) - sizeof(subj.r) + sizeof(subj.r.ns.name);

	if (!wsi || lws_tls_peer_cert_info(wsi, LWS_TLS_CERT_INFO_COMMON_NAME, &subj.r, n) ||
	    lws_tls_peer_cert_info(wsi, LWS_TLS_CERT_INFO_ISSUER_NAME, &iss.r, n))
		return 0;
	return subj.r.ns.len == iss.r.ns.len &&
	       !memcmp(subj.r.ns.name, iss.r.ns.name, (size_t)subj.r.ns.len);
}

int ds_http_tls_reject_reason(struct lws *wsi, const char *why, const char *host, char *out,
			      size_t outlen)
{
	static const char tag[] = "X509_V_ERR = ";
	const char *p = why ? strstr(why, tag) : NULL;
	const char *what;
	long code;

	if (!p)
		return -ENOENT;
	code = strtol(p + sizeof(tag) - 1, NULL, 10);
	switch (code) {
	case V_ERR_INVALID_CA:
		what = peer_self_signed(wsi) ? "self-signed certificate"
					     : "unable to get local issuer certificate";
		break;
	case V_ERR_HOSTNAME_MISMATCH:
		/*
		 * lws 4.1.6 cuts the expected host at its first ':' to drop a port
		 * (lws_ssl_client_bio_create), which leaves nothing of an IPv6 literal to match;
		 * OpenSSL builds share that. IPv4 literals match iPAddress SANs with the patch of
		 * test/tools/build-lws-mbedtls.sh (mbedTLS 2.28 alone checks none).
		 */
		if (host && strchr(host, ':'))
			what = "hostname mismatch (lws 4.1 cannot check an IPv6 literal host)";
		else
			what = "hostname mismatch";
		break;
	case V_ERR_CERT_HAS_EXPIRED:
		what = "certificate has expired";
		break;
	case V_ERR_CERT_NOT_YET_VALID:
		what = "certificate is not yet valid";
		break;
	case V_ERR_CA_KEY_TOO_SMALL:
		what = "CA key too small";
		break;
	case V_ERR_CA_MD_TOO_WEAK:
		what = "CA signature digest too weak";
		break;
	case V_ERR_UNSPECIFIED:
	default:
		what = "certificate verification failed";
		break;
	}
	snprintf(out, outlen, "%s", what);
	return 0;
}

#endif /* LWS_WITH_MBEDTLS */
