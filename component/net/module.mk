# HTTP client over libwebsockets (blocking, one lws_context per client).
lib-$(CONFIG_DS_HTTP) += component/net/http_client.c component/net/http_headers.c \
	component/net/http_url.c component/net/http_tls_openssl.c component/net/http_tls_mbedtls.c
unit-$(CONFIG_DS_HTTP) += test/unit/http_test.c test/unit/http_tls_version_test.c
ifeq ($(CONFIG_DS_HTTP)$(LWS_ON_MBEDTLS),y)
# Debian's lws is built on OpenSSL; http_tls_openssl.c owns the client SSL_CTX (http_tls.h).
# An lws built on mbedTLS (LWS=mbedtls, or an LWS_PREFIX whose lws_config.h says so) brings
# its own TLS library: no OpenSSL then.
DEP_LIBS += -lssl -lcrypto
endif
