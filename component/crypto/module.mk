# The crypto facade (ds_crypto.h): one backend picked by Kconfig, plus backend-free helpers.
lib-$(CONFIG_DS_CRYPTO_MBEDTLS) += component/crypto/crypto_mbedtls.c component/crypto/random_mbedtls.c
lib-y += component/crypto/encoding.c component/crypto/ct.c

unit-$(CONFIG_DS_CRYPTO_MBEDTLS) += test/unit/crypto_test.c
