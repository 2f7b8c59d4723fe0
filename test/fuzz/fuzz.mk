# libFuzzer targets, built apart from the product Makefile (test/fuzz/build.sh drives this).
#
#   make -f test/fuzz/fuzz.mk OUT=build/fuzz CFG=build/fuzz/config
#
# CFG is a configured build dir (its include/generated/autoconf.h is used); the product sources
# each target needs are compiled into it with coverage, ASan and UBSan. System libraries
# (cJSON, SQLite, mbedTLS) are linked as they are: they are not instrumented, our code is.

srctree := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))/../..
OUT ?= build/fuzz
CFG ?= $(OUT)/config
FUZZ_CC ?= clang
FUZZ_SAN ?= -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
AUTOCONF := $(CFG)/include/generated/autoconf.h

CPPFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DNDEBUG \
	-I$(CFG)/include/generated -include $(AUTOCONF) \
	-I$(srctree)/component/include -I$(srctree)/component -I$(srctree)/port/include \
	-I$(srctree) -DDS_VERSION=\"fuzz\" \
	$(shell pkg-config --cflags libcjson sqlite3 2>/dev/null)
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla -Werror
CFLAGS := -g -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(WARN)
LDFLAGS := -g $(FUZZ_SAN) -fsanitize=fuzzer
LIBS := -lcjson -lsqlite3 -lmbedcrypto -lpthread

core := test/fuzz/fuzz_common.c component/core/alloc.c component/core/log.c
crypto := component/crypto/encoding.c component/crypto/ct.c component/crypto/crypto_mbedtls.c \
	component/crypto/random_mbedtls.c port/common/entropy.c

# The port's file operations and their fault hook (the sim board has the hook): everything
# that writes files (dir remote, secrets, SQLite through the store's VFS) calls them.
portfile := port/common/file.c port/common/fault.c
store := component/store/store.c component/store/store_vfs.c

# target: product sources (the harness is test/fuzz/fuzz_<target>.c)
src-http := $(core) component/net/http_headers.c component/net/http_url.c
src-dir_batch := $(core) $(crypto) $(portfile) component/remote/dir/dir_batch.c component/remote/dir/dir_fs.c
src-dir_header := $(core) $(crypto) $(portfile) component/remote/dir/dir_folder.c component/remote/dir/dir_fs.c \
	port/common/secret.c port/common/paths.c port/common/names.c \
	component/remote/dir/dir_batch.c
src-ipc := $(core) component/ipc/server.c component/ipc/frame.c
src-conf := $(core) component/core/conf.c
src-sim_script := $(core) port/sim/script.c port/common/names.c
src-table_record := $(core) $(crypto) component/engine/table/table_codec.c \
	component/engine/table/table_util.c component/engine/table/table_schema.c \
	component/engine/table/table_triggers.c component/engine/table/table_apply.c
src-encoding := $(core) $(crypto)
src-account_bundle := $(core) $(crypto) component/account/keys.c
sync15 := component/remote/sync15/bso.c component/remote/sync15/bso_stream.c component/remote/sync15/keys.c \
	component/remote/sync15/global_state.c component/remote/sync15/storage_client.c \
	component/account/hawk.c component/net/http_headers.c component/net/http_url.c \
	component/sync/record.c port/posix/clock.c test/fuzz/fuzz_canned.c
src-sync15 := $(core) $(crypto) $(sync15)
src-sync15_setup := $(core) $(crypto) $(sync15)
fxa := component/account/keys.c component/account/hawk.c component/account/fxa.c \
	component/account/fxa_session.c component/account/fxa_jwe.c port/common/secret.c \
	port/common/paths.c port/common/names.c board/sim/board.c \
	component/account/fxa_servers.c $(portfile)
# kinto_token.c (bearer tokens from the account, used by kinto_api.c) while it is being added.
src-kinto := $(core) $(crypto) component/remote/kinto/kinto_json.c \
	component/remote/kinto/kinto_codec.c component/remote/kinto/kinto_api.c \
	$(wildcard component/remote/kinto/kinto_token.c) $(fxa) \
	component/net/http_headers.c component/net/http_url.c component/sync/record.c \
	port/posix/clock.c test/fuzz/fuzz_canned.c
# The whole Kinto remote for its upload: the batch answers reach send_batch/read_one in kinto_remote.c.
src-kinto_batch := $(core) $(crypto) $(wildcard component/remote/kinto/kinto_*.c) $(fxa) \
	component/net/http_headers.c component/net/http_url.c component/sync/record.c \
	port/posix/clock.c test/fuzz/fuzz_canned.c
browser := component/engine/browser/browser_sqlite.c component/engine/browser/browser_util.c \
	component/engine/browser/browser_engine.c
src-history := $(core) $(browser) component/engine/history/history_engine.c \
	component/engine/history/history_places.c component/sync/record.c port/posix/clock.c \
	test/fuzz/fuzz_engine.c
src-forms := $(core) $(browser) component/engine/forms/forms_engine.c \
	component/engine/forms/forms_formhistory.c component/sync/record.c port/posix/clock.c \
	test/fuzz/fuzz_engine.c
src-prefs := $(core) $(browser) component/crypto/encoding.c component/engine/prefs/prefs_engine.c \
	component/engine/prefs/prefs_db.c component/sync/record.c test/fuzz/fuzz_engine.c
src-addons := $(core) $(browser) component/engine/addons/addons_engine.c component/sync/record.c \
	test/fuzz/fuzz_engine.c
src-passwords := $(core) $(crypto) $(browser) $(wildcard component/engine/passwords/passwords_*.c) \
	component/sync/record.c port/posix/clock.c port/common/secret.c port/common/paths.c \
	port/common/names.c $(portfile) test/fuzz/fuzz_engine.c
src-sync15_remote := $(core) $(crypto) $(sync15) component/remote/sync15/sync15_remote.c \
	component/remote/sync15/post_queue.c component/remote/sync15/sync15_clients.c \
	component/remote/sync15/sync15_account.c component/account/tokenserver.c $(fxa) \
	$(store)
src-account := $(core) $(crypto) component/account/keys.c component/account/hawk.c \
	component/account/tokenserver.c component/account/fxa.c component/account/fxa_session.c \
	component/account/fxa_jwe.c component/net/http_headers.c component/net/http_url.c \
	port/posix/clock.c port/common/secret.c port/common/paths.c port/common/names.c \
	board/sim/board.c $(portfile) test/fuzz/fuzz_canned.c
# Password stretching costs a second per input: the harness links cheap stand-ins instead.
ldflags-account := -Wl,--wrap=ds_account_stretch_v1 -Wl,--wrap=ds_account_stretch_v2

TARGETS := http dir_batch dir_header ipc conf sim_script table_record encoding account_bundle \
	sync15 sync15_setup sync15_remote account kinto kinto_batch history forms prefs addons passwords

# Tab and client records (engine/tabs, engine/clients): the pure codecs.
src-tabs := $(core) component/engine/tabs/tabs_record.c
src-clients := $(core) $(crypto) $(sync15) component/engine/clients/clients_record.c \
	component/remote/sync15/sync15_clients.c
TARGETS += tabs clients
src-bookmarks := $(core) $(browser) $(wildcard component/engine/bookmarks/*.c) component/sync/record.c port/posix/clock.c port/common/entropy.c test/fuzz/fuzz_engine.c
TARGETS += bookmarks

obj = $(patsubst %.c,$(OUT)/obj/%.o,$(1))

all: $(addprefix $(OUT)/bin/fuzz_,$(TARGETS))

define target_rule
$(OUT)/bin/fuzz_$(1): $(OUT)/obj/test/fuzz/fuzz_$(1).o $(call obj,$(src-$(1)))
	@mkdir -p $$(dir $$@)
	@echo "  LD      fuzz_$(1)"
	@$(FUZZ_CC) $(LDFLAGS) $(ldflags-$(1)) -o $$@ $$^ $(LIBS)
endef
$(foreach t,$(TARGETS),$(eval $(call target_rule,$(t))))

$(OUT)/obj/%.o: $(srctree)/%.c $(AUTOCONF)
	@mkdir -p $(dir $@)
	@echo "  CC      $*.c"
	@$(FUZZ_CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

-include $(shell find $(OUT)/obj -name '*.d' 2>/dev/null)

list:
	@echo $(TARGETS)

.PHONY: all list
