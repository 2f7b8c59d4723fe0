# HTTP client over libwebsockets (blocking, one lws_context per client).
lib-$(CONFIG_DS_HTTP) += component/net/http_client.c component/net/http_headers.c \
	component/net/http_url.c component/net/http_tls_openssl.c component/net/http_tls_mbedtls.c
unit-$(CONFIG_DS_HTTP) += test/unit/http_test.c test/unit/http_tls_version_test.c
ifeq ($(CONFIG_DS_HTTP)$(LWS_PREFIX),y)
# Debian's lws is built on OpenSSL; http_tls_openssl.c owns the client SSL_CTX (http_tls.h).
# An lws from LWS_PREFIX (LWS=mbedtls) brings its own TLS library: no OpenSSL then.
DEP_LIBS += -lssl -lcrypto
endif
