# Firefox Accounts key derivations (onepw, bundle unwrapping, kSync and its key id). Pure code
# over the crypto facade: no HTTP here.
lib-y += component/account/keys.c

unit-y += test/unit/account_keys_test.c

# Firefox Accounts sign-in: Hawk request signing and the FxA client (onepw login, keys, OAuth).
lib-$(CONFIG_DS_ACCOUNT) += component/account/hawk.c
unit-$(CONFIG_DS_ACCOUNT) += test/unit/hawk_test.c

# Tokenserver client (OAuth access token + key id -> storage node credentials, cached).
lib-$(CONFIG_DS_ACCOUNT) += component/account/tokenserver.c
unit-$(CONFIG_DS_ACCOUNT) += test/unit/tokenserver_test.c
lib-$(CONFIG_DS_ACCOUNT) += component/account/fxa.c component/account/fxa_session.c \
	component/account/fxa_servers.c \
	component/account/fxa_jwe.c
unit-$(CONFIG_DS_ACCOUNT) += test/unit/fxa_test.c
# The daemon's login/login-verify/logout commands and datasyncctl's side of them.
ifeq ($(CONFIG_DS_IPC),y)
lib-$(CONFIG_DS_ACCOUNT) += component/daemon/account_cmd.c
ctl-$(CONFIG_DS_ACCOUNT) += component/ctl/account.c
endif
