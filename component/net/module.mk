# HTTP client over libwebsockets (blocking, one lws_context per client).
lib-$(CONFIG_DS_HTTP) += component/net/http_client.c component/net/http_headers.c \
	component/net/http_url.c
unit-$(CONFIG_DS_HTTP) += test/unit/http_test.c
