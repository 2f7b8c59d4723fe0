# datasync build.
#
#   make <board>_defconfig [O=build/<board>]   configure from board/<board>/defconfig
#   make minimal_defconfig [O=...]             Firefox Sync with history only (board/host/configs/)
#   make [O=...]                               build datasyncd, datasyncctl, libdatasync
#   make menuconfig | olddefconfig | savedefconfig
#   make install DESTDIR=... [PREFIX=/usr]
#   make run                                   the embedded-default demonstration
#   make test                                  the whole test suite (installs its dependencies)
#   make bench                                 benchmarks (not part of the tests)
#   make footprint                             binary sizes, idle memory, allocations per record
#   make SAN=1 ...                             AddressSanitizer + UndefinedBehaviorSanitizer build
#   make STATIC=1 ...                          programs linked with the libraries' static archives
#   make LWS=mbedtls ...                       libwebsockets on mbedTLS (test/tools/build-lws-mbedtls.sh)
#   make STATIC=full [LIBC=musl] ...           nothing shared, libc included (test/tools/build-musl-deps.sh)
#
# Cross-compiling: CROSS_COMPILE, CC, AR, CFLAGS, LDFLAGS, PKG_CONFIG and SYSROOT are honoured.
# Sources are picked from CONFIG_* in module.mk files (Zephyr/hostap style), so a feature that is
# off adds no code to the binary.

O ?= build
override O := $(patsubst %/,%,$(O))
srctree := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))

# Debian's kconfiglib modules live in the system interpreter's dist-packages; a python3 earlier
# on PATH (pyenv, venv) would not see them.
KCONFIG_PY ?= /usr/bin/python3

CROSS_COMPILE ?=
ifeq ($(origin CC),default)
CC := $(CROSS_COMPILE)gcc
endif
ifeq ($(origin AR),default)
AR := $(CROSS_COMPILE)ar
endif
PKG_CONFIG ?= pkg-config
SYSROOT ?=
ifneq ($(SYSROOT),)
SYSROOT_FLAGS := --sysroot=$(SYSROOT)
export PKG_CONFIG_SYSROOT_DIR := $(SYSROOT)
export PKG_CONFIG_LIBDIR := $(SYSROOT)/usr/lib/pkgconfig:$(SYSROOT)/usr/share/pkgconfig
endif

PREFIX ?= /usr
SYSCONFDIR ?= /etc
DESTDIR ?=
VERSION := $(shell cat $(srctree)/VERSION 2>/dev/null || echo 0.0.0)

CFLAGS ?= -O2 -g
WERROR ?= $(if $(CI),1,)
DS_WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla
ifeq ($(WERROR),1)
DS_WARN += -Werror
endif
ifeq ($(SAN),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

CONFIG_FILE := $(O)/.config
AUTOCONF := $(O)/include/generated/autoconf.h
AUTOCONF_MK := $(O)/auto.conf

# Configuration targets never need auto.conf.
config-targets := %_defconfig menuconfig olddefconfig savedefconfig
no-config-goals := $(filter %_defconfig menuconfig olddefconfig savedefconfig help clean distclean deps run test check bench footprint,$(MAKECMDGOALS))

ifeq ($(no-config-goals),)
ifneq ($(wildcard $(CONFIG_FILE)),)
-include $(AUTOCONF_MK)
endif
endif

KCONFIG_ENV := srctree=$(srctree) KCONFIG_CONFIG=$(CONFIG_FILE)

# STATIC=full: executables with nothing shared, libc included (docs/porting.md, "Fully static
# builds"). Libraries are taken from STATIC_PREFIX (include/, lib/) before the system's: with
# glibc, cJSON and cmocka, of which Debian ships no archive (test/tools/build-musl-deps.sh glibc);
# LIBC=musl compiles with musl-gcc and takes every library from that script's musl prefix,
# libwebsockets (on mbedTLS) included.
ifeq ($(STATIC),full)
ifeq ($(LIBC),musl)
STATIC_PREFIX ?= $(srctree)/build/third_party/musl
ifneq ($(origin CC),command line)
CC := musl-gcc
endif
LWS_PREFIX ?= $(STATIC_PREFIX)
else
STATIC_PREFIX ?= $(srctree)/build/third_party/static-glibc
endif
else ifneq ($(LIBC),)
$(error LIBC=$(LIBC) is for STATIC=full only)
endif

DEP_PKGS := libwebsockets libcjson sqlite3
# LWS=mbedtls: libwebsockets built on mbedTLS by test/tools/build-lws-mbedtls.sh instead of the
# system's (Debian's is built on OpenSSL); LWS_PREFIX=<dir> takes any lws install prefix.
# See docs/porting.md, "TLS library".
ifeq ($(LWS),mbedtls)
LWS_PREFIX ?= $(srctree)/build/third_party/lws-mbedtls
endif
ifneq ($(LWS_PREFIX),)
# Every object depends on it: a rebuilt libwebsockets recompiles them, a missing one says so.
LWS_CONFIG_H := $(LWS_PREFIX)/include/lws_config.h
# An lws of another prefix may still be built on OpenSSL: its lws_config.h says which.
LWS_ON_MBEDTLS := $(shell grep -qs 'define LWS_WITH_MBEDTLS$$' $(LWS_CONFIG_H) && echo y)
DEP_PKGS := $(filter-out libwebsockets,$(DEP_PKGS))
LWS_CFLAGS := -I$(LWS_PREFIX)/include
LWS_LIBS := -L$(LWS_PREFIX)/lib -Wl,-rpath,$(LWS_PREFIX)/lib -lwebsockets
endif
DEP_CFLAGS := $(LWS_CFLAGS) $(shell $(PKG_CONFIG) --cflags $(DEP_PKGS) 2>/dev/null)
# libwebsockets' pkg-config also names libcap; Debian's mbedTLS 2.28 ships no .pc file.
DEP_LIBS := $(LWS_LIBS) $(shell $(PKG_CONFIG) --libs $(DEP_PKGS) 2>/dev/null) -lmbedtls -lmbedx509 -lmbedcrypto -lpthread

# STATIC=1: executables take every library that has a static archive (lib<name>.a where the
# compiler looks) from it, and the rest, libc's own libraries always, from its shared object.
# Keeping glibc shared keeps getaddrinfo()/getpwnam() (NSS, loaded with dlopen()) working, which
# a fully static glibc cannot promise; libwebsockets' archive needs OpenSSL, libcap and zlib,
# which its .pc file names only for a shared link. libdatasync.so stays as it is.
# See docs/porting.md, "Static linking".
ifeq ($(STATIC),1)
STATIC_SYS_LIBS := -lc -lm -ldl -lpthread -lrt -pthread
ifneq ($(LWS_ON_MBEDTLS),y)
LWS_STATIC_PKGS := openssl
LWS_STATIC_LIBS := -lssl -lcrypto -lcap -lz
endif
STATIC_WANT := $(filter-out $(STATIC_SYS_LIBS),$(filter -l%,$(shell $(PKG_CONFIG) --static --libs \
	$(DEP_PKGS) $(LWS_STATIC_PKGS) 2>/dev/null)) $(LWS_STATIC_LIBS) -lmbedtls -lmbedx509 -lmbedcrypto)
STATIC_HAVE := $(foreach l,$(STATIC_WANT),$(if $(filter /%,$(shell $(CC) $(SYSROOT_FLAGS) \
	-print-file-name=lib$(l:-l%=%).a)),$(l)))
# Order matters for archives: the list keeps pkg-config's order (users before what they use)
# with OpenSSL, libcap and zlib after libwebsockets; a name given twice is only scanned twice.
EXE_DEP_LIBS := $(if $(LWS_PREFIX),$(LWS_PREFIX)/lib/libwebsockets.a) -Wl,-Bstatic $(STATIC_HAVE) -Wl,-Bdynamic $(filter-out $(STATIC_HAVE),$(STATIC_WANT)) \
	-lm -ldl -lpthread
# A position-independent executable carries a relocation for every pointer in the archives'
# data (about 21,000, 0.5 MB of .rela.dyn for OpenSSL's tables alone) that the loader applies at
# each start, writing 0.4 MB of otherwise clean pages: -no-pie saves both (0.7 MB of idle Rss,
# docs/performance.md) at the cost of a fixed address for the program's own code (libc and
# the stack stay randomised). STATIC_PIE=1 keeps PIE.
ifneq ($(STATIC_PIE),1)
EXE_DEP_LIBS := -no-pie $(EXE_DEP_LIBS)
endif
else
EXE_DEP_LIBS = $(DEP_LIBS)
endif
ifeq ($(STATIC),full)
ifeq ($(LWS_PREFIX),)
$(error STATIC=full needs libwebsockets on mbedTLS: LWS=mbedtls (or LWS_PREFIX=<dir>))
endif
ifeq ($(SAN),1)
$(error SAN=1 needs the sanitizers' shared runtimes: not with STATIC=full)
endif
# musl: no header or library of the build machine's /usr, musl-gcc's own and the prefix's only.
DEP_CFLAGS := -I$(STATIC_PREFIX)/include $(if $(filter musl,$(LIBC)),$(LWS_CFLAGS),$(DEP_CFLAGS))
ifeq ($(LIBC),musl)
DEP_LIBS := -L$(STATIC_PREFIX)/lib $(LWS_LIBS) -lsqlite3 -lcjson -lmbedtls -lmbedx509 -lmbedcrypto -lpthread
endif
# glibc's static getaddrinfo() still loads the NSS modules (libnss_*.so.2) of the same glibc
# version with dlopen() at run time, which the link warns about (docs/porting.md).
EXE_DEP_LIBS := -static -L$(STATIC_PREFIX)/lib $(LWS_PREFIX)/lib/libwebsockets.a -lsqlite3 -lcjson \
	-lmbedtls -lmbedx509 -lmbedcrypto -lm -lpthread
endif

DS_CPPFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DNDEBUG \
	-I$(O)/include/generated -include $(AUTOCONF) \
	-I$(srctree)/component/include -I$(srctree)/component -I$(srctree)/port/include \
	-I$(srctree) -DDS_VERSION=\"$(VERSION)\"
# PIC: -fPIC, or -fPIE for the daemon's objects without CONFIG_DS_SHARED_LIB (set below).
PIC := -fPIC
ALL_CFLAGS = $(DS_CPPFLAGS) $(DS_WARN) $(SAN_FLAGS) $(SYSROOT_FLAGS) $(PIC) $(DEP_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN_FLAGS) $(SYSROOT_FLAGS) $(LDFLAGS)
# CONFIG_DS_OPTIMIZE_SIZE (Kconfig): -Oz (or -Os), each function and object in its own section so
# that the link drops those nothing calls; after CFLAGS, so it wins over their -O2.
# CONFIG_DS_UNWIND_TABLES=n: no .eh_frame (C code unwinds nothing; debuggers use .debug_frame,
# which -g still emits). CONFIG_DS_LTO: link-time optimisation, at the compile's -O level.
ifeq ($(CONFIG_DS_OPTIMIZE_SIZE),y)
SIZE_O := $(shell $(CC) -Oz -E -x c /dev/null >/dev/null 2>&1 && echo -Oz || echo -Os)
ALL_CFLAGS += $(SIZE_O) -ffunction-sections -fdata-sections
ALL_LDFLAGS += -Wl,--gc-sections
endif
ifneq ($(CONFIG_DS_UNWIND_TABLES),y)
ALL_CFLAGS += -fno-asynchronous-unwind-tables -fno-unwind-tables
endif
ifeq ($(CONFIG_DS_LTO),y)
ALL_CFLAGS += -flto=auto
ALL_LDFLAGS += -flto=auto $(lastword $(filter -O%,$(ALL_CFLAGS)))
endif

# ---- source lists, filled by module.mk files -------------------------------------------------
# lib-y      objects of libdatasync (daemon side: core, sync, engines, remotes, port, board)
# client-y   objects of the small client library (IPC client, used by datasyncctl and apps)
# daemon-y   datasyncd's main
# ctl-y      datasyncctl's main
# unit-y     cmocka unit tests: test/unit/<name>.c, each its own binary linked with libdatasync
# tool-y     test helper programs: test/tools/<name>.c, linked with libdatasync
# testsupport-y  shared test code (fakes, fixtures): linked into unit tests, tools and benches
lib-y :=
client-y :=
daemon-y :=
ctl-y :=
unit-y :=
tool-y :=
testsupport-y :=
bench-y :=
fuzz-y :=
include $(sort $(wildcard $(srctree)/component/*/module.mk $(srctree)/component/*/*/module.mk \
	$(srctree)/port/*/module.mk $(srctree)/board/module.mk $(srctree)/test/module.mk))

obj = $(patsubst %.c,$(O)/obj/%.o,$(1))
LIB_OBJS := $(call obj,$(lib-y))
CLIENT_OBJS := $(call obj,$(client-y))
DAEMON_OBJS := $(call obj,$(daemon-y))
CTL_OBJS := $(call obj,$(ctl-y))
UNIT_BINS := $(patsubst test/unit/%.c,$(O)/test/unit/%,$(unit-y))
TOOL_BINS := $(patsubst test/tools/%.c,$(O)/test/tools/%,$(tool-y))
BENCH_BINS := $(patsubst test/bench/%.c,$(O)/test/bench/%,$(bench-y))

LIBDS_A := $(O)/libdatasync.a
LIBDS_SO := $(O)/libdatasync.so.0
# CONFIG_DS_SHARED_LIB (Kconfig): libdatasync.so, or none and the daemon's objects for executables.
ifeq ($(CONFIG_DS_SHARED_LIB),y)
LIBDS_SO_Y := $(LIBDS_SO)
else
$(LIB_OBJS) $(DAEMON_OBJS) $(CTL_OBJS): PIC := -fPIE
endif
LIBCLIENT_A := $(O)/libdatasync-client.a
LIBTEST_A := $(O)/libdstest.a
TESTSUPPORT_OBJS := $(call obj,$(testsupport-y))

.PHONY: all help programs tests tools benches clean distclean install deps run test check bench \
	menuconfig olddefconfig savedefconfig size valgrind fuzz footprint
.DEFAULT_GOAL := all

ifeq ($(no-config-goals),)
all: programs tests tools
programs-$(CONFIG_DS_IPC) := $(O)/datasyncd $(O)/datasyncctl
programs: $(programs-y) $(LIBDS_A) $(LIBDS_SO_Y) $(LIBCLIENT_A) $(O)/datasync.pc
tests: $(UNIT_BINS)
tools: $(TOOL_BINS)
benches: $(BENCH_BINS)
endif

# make print-VAR: a variable's value (test/tools/cross-check.sh reads the warning flags).
print-%:
	@echo '$($*)'

help:
	@sed -n '2,/^$$/p' $(srctree)/Makefile | sed 's/^# \{0,1\}//'

# ---- configuration -----------------------------------------------------------------------------
DEFCONFIG_FILE = $(firstword $(wildcard $(srctree)/board/$*/defconfig $(srctree)/board/*/configs/$*_defconfig))
# A board's defconfig, or a named configuration of a board (board/<board>/configs/<name>_defconfig,
# e.g. minimal: Firefox Sync with history only on the host board).
%_defconfig:
	@test -n "$(DEFCONFIG_FILE)" || { echo "no board or configuration '$*' (see board/)"; exit 1; }
	@mkdir -p $(O)
	@$(KCONFIG_ENV) $(KCONFIG_PY) -m defconfig --kconfig $(srctree)/Kconfig $(DEFCONFIG_FILE)
	@echo "$*" > $(O)/board
	@$(MAKE) -s -f $(srctree)/Makefile O=$(O) $(AUTOCONF)

menuconfig:
	@mkdir -p $(O)
	$(KCONFIG_ENV) $(KCONFIG_PY) -m menuconfig $(srctree)/Kconfig

olddefconfig:
	@mkdir -p $(O)
	$(KCONFIG_ENV) $(KCONFIG_PY) -m olddefconfig $(srctree)/Kconfig

savedefconfig:
	$(KCONFIG_ENV) $(KCONFIG_PY) -m savedefconfig --kconfig $(srctree)/Kconfig --out $(O)/defconfig
	@echo "minimal configuration written to $(O)/defconfig"

ifneq ($(LWS_CONFIG_H),)
$(LWS_CONFIG_H):
	@echo "no libwebsockets in $(LWS_PREFIX) (for LWS=mbedtls: run test/tools/build-lws-mbedtls.sh first)"; exit 1
endif

$(CONFIG_FILE):
	@echo "$(O) is not configured: run 'make <board>_defconfig O=$(O)' first (boards: $(notdir $(wildcard $(srctree)/board/*)))"; exit 1

$(AUTOCONF) $(AUTOCONF_MK): $(CONFIG_FILE) $(srctree)/Kconfig $(wildcard $(srctree)/*/Kconfig $(srctree)/*/*/Kconfig)
	@mkdir -p $(dir $(AUTOCONF))
	@$(KCONFIG_ENV) $(KCONFIG_PY) -m genconfig --header-path $(AUTOCONF) --config-out $(AUTOCONF_MK) $(srctree)/Kconfig
	@touch $(AUTOCONF) $(AUTOCONF_MK)

# ---- compile and link -----------------------------------------------------------------------------
$(O)/obj/%.o: $(srctree)/%.c $(AUTOCONF) $(LWS_CONFIG_H)
	@mkdir -p $(dir $@)
	@echo "  CC      $*.c"
	@$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

-include $(shell find $(O)/obj -name '*.d' 2>/dev/null)

$(LIBDS_A): $(LIB_OBJS)
	@echo "  AR      $(notdir $@)"
	@rm -f $@ && $(AR) rcs $@ $^

$(LIBDS_SO): $(LIB_OBJS) $(CLIENT_OBJS)
	@echo "  LD      $(notdir $@)"
	@$(CC) -shared -Wl,-soname,libdatasync.so.0 $(ALL_LDFLAGS) -o $@ $^ $(DEP_LIBS)

$(LIBTEST_A): $(TESTSUPPORT_OBJS)
	@echo "  AR      $(notdir $@)"
	@rm -f $@ && $(AR) rcs $@ $^

$(LIBCLIENT_A): $(CLIENT_OBJS)
	@echo "  AR      $(notdir $@)"
	@rm -f $@ && $(AR) rcs $@ $^

$(O)/datasyncd: $(DAEMON_OBJS) $(LIBDS_A) $(LIBCLIENT_A)
	@echo "  LD      $(notdir $@)"
	@$(CC) $(ALL_LDFLAGS) -o $@ $(DAEMON_OBJS) $(LIBDS_A) $(LIBCLIENT_A) $(EXE_DEP_LIBS)

$(O)/datasyncctl: $(CTL_OBJS) $(LIBCLIENT_A) $(LIBDS_A)
	@echo "  LD      $(notdir $@)"
	@$(CC) $(ALL_LDFLAGS) -o $@ $(CTL_OBJS) $(LIBCLIENT_A) $(LIBDS_A) $(EXE_DEP_LIBS)

$(O)/test/unit/%: $(O)/obj/test/unit/%.o $(LIBTEST_A) $(LIBDS_A) $(LIBCLIENT_A)
	@mkdir -p $(dir $@)
	@echo "  LD      test/unit/$*"
	@$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBTEST_A) $(LIBDS_A) $(LIBCLIENT_A) $(EXE_DEP_LIBS) -lcmocka

$(O)/test/tools/%: $(O)/obj/test/tools/%.o $(LIBTEST_A) $(LIBDS_A) $(LIBCLIENT_A)
	@mkdir -p $(dir $@)
	@echo "  LD      test/tools/$*"
	@$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBTEST_A) $(LIBDS_A) $(LIBCLIENT_A) $(EXE_DEP_LIBS)

$(O)/test/bench/%: $(O)/obj/test/bench/%.o $(LIBTEST_A) $(LIBDS_A) $(LIBCLIENT_A)
	@mkdir -p $(dir $@)
	@echo "  LD      test/bench/$*"
	@$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBTEST_A) $(LIBDS_A) $(LIBCLIENT_A) $(EXE_DEP_LIBS)

$(O)/datasync.pc: $(srctree)/component/datasync.pc.in $(CONFIG_FILE)
	@sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

size: programs
	@size $(programs-y) $(LIBDS_SO_Y)

# ---- install --------------------------------------------------------------------------------------
install: programs
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/include/datasync $(DESTDIR)$(SYSCONFDIR)/datasync \
		$(DESTDIR)$(PREFIX)/lib/systemd/system
	$(if $(programs-y),install -m 0755 $(programs-y) $(DESTDIR)$(PREFIX)/bin/)
	install -m 0644 $(LIBDS_A) $(LIBCLIENT_A) $(DESTDIR)$(PREFIX)/lib/
	$(if $(LIBDS_SO_Y),install -m 0755 $(LIBDS_SO) $(DESTDIR)$(PREFIX)/lib/)
	$(if $(LIBDS_SO_Y),ln -sf libdatasync.so.0 $(DESTDIR)$(PREFIX)/lib/libdatasync.so)
	install -m 0644 $(srctree)/component/include/datasync/*.h $(DESTDIR)$(PREFIX)/include/datasync/
	install -m 0644 $(O)/datasync.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		$(srctree)/component/daemon/datasyncd.service.in > $(DESTDIR)$(PREFIX)/lib/systemd/system/datasyncd.service
	install -m 0644 $(srctree)/component/daemon/datasync.conf $(DESTDIR)$(SYSCONFDIR)/datasync/datasync.conf

# ---- the two commands of the README, and friends -------------------------------------------------
deps:
	@$(srctree)/test/tools/install-deps.sh

run: deps
	@$(srctree)/test/tools/run-demo.sh

test check: deps
	@$(srctree)/test/run-all.sh

bench: deps
	@$(srctree)/test/bench/run-bench.sh

footprint: deps
	@$(srctree)/test/footprint/footprint.sh

valgrind: tests
	@$(srctree)/test/run-unit.sh --valgrind $(O)

fuzz: deps
	@$(srctree)/test/fuzz/run-fuzz.sh

clean:
	rm -rf $(O)/obj $(O)/test $(O)/datasyncd $(O)/datasyncctl $(O)/libdatasync*

distclean:
	rm -rf build
