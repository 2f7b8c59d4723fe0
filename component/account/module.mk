# Firefox Accounts key derivations (onepw, bundle unwrapping, kSync and its key id). Pure code
# over the crypto facade: no HTTP here.
lib-y += component/account/keys.c

unit-y += test/unit/account_keys_test.c
