# evio: one GNU Makefile for the three programs, evioctl, tests and the demo.
#   make            build everything (needs scripts/deps.sh once)
#   make check      install what is missing, build, run unit + integration tests
#   make demo       bring up a local overlay in network namespaces
#   make install    PREFIX=/usr/local DESTDIR=
#   make deb        the Debian package (debian/), left in build/deb/
#   make image      the container image evio:latest (packaging/docker/)
#   make fuzz       libFuzzer targets, FUZZ_TIME=30 s each (doc/fuzzing.md)
#   V=1             show the commands
#   ARCH=arm64|armhf  cross-build into build/ARCH/ (scripts/cross-deps.sh ARCH
#                   once); `make check ARCH=...` runs the unit tests under qemu
PREFIX  ?= /usr/local
DESTDIR ?=

# Cross builds: ARCH names a Debian architecture; the native one (or none)
# builds natively into build/. A cross build gets its own BUILD, toolchain,
# pkg-config search path and libopenvswitch (build/ARCH/ovs).
NATIVE_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
# under dpkg-buildpackage -aARCH (make deb ARCH=...), debian/rules' make is a
# cross build too
ifeq ($(ARCH),)
ifneq ($(DEB_HOST_ARCH),$(if $(DEB_BUILD_ARCH),$(DEB_BUILD_ARCH),$(NATIVE_ARCH)))
ARCH := $(DEB_HOST_ARCH)
endif
endif
ifeq ($(ARCH),$(NATIVE_ARCH))
override ARCH :=
endif
ifeq ($(ARCH),arm64)
TRIPLET := aarch64-linux-gnu
QEMU    := qemu-aarch64-static
else ifeq ($(ARCH),armhf)
TRIPLET := arm-linux-gnueabihf
QEMU    := qemu-arm-static
else ifneq ($(ARCH),)
$(error ARCH=$(ARCH): only arm64 and armhf cross-build (or $(NATIVE_ARCH), natively))
endif

ifeq ($(TRIPLET),)
BUILD   ?= build
OVS_SRC ?= $(CURDIR)/build/ovs-src
OVS_PREFIX ?= $(CURDIR)/build/ovs
PKG_CONFIG ?= pkg-config
OBJCOPY ?= objcopy
else
BUILD   ?= build/$(ARCH)
OVS_SRC ?= $(CURDIR)/build/$(ARCH)/ovs-src
OVS_PREFIX ?= $(CURDIR)/build/$(ARCH)/ovs
ifeq ($(origin CC),default)
CC      := $(TRIPLET)-gcc
endif
ifeq ($(origin AR),default)
AR      := $(TRIPLET)-ar
endif
OBJCOPY ?= $(TRIPLET)-objcopy
# only ARCH's .pc files; build/ARCH/pkgconfig first: cross-deps.sh writes
# nice.pc there (libnice-dev:ARCH is not installable beside the native
# packages in Debian 12)
# (debian/rules' TRIPLET-pkg-config would miss it, and Debian 12 has no such
# command without pkgconf's wrappers): only PKG_CONFIG=... on the command
# line replaces this
ifneq ($(origin PKG_CONFIG),command line)
PKG_CONFIG := PKG_CONFIG_LIBDIR=$(CURDIR)/build/$(ARCH)/pkgconfig:/usr/lib/$(TRIPLET)/pkgconfig:/usr/share/pkgconfig pkg-config
endif
endif

CC      ?= cc
CFLAGS  ?= -O2 -g
WERROR  ?= -Werror
CFLAGS  += -std=gnu11 -Wall -Wextra $(WERROR) -Wno-unused-parameter -D_GNU_SOURCE -Iinclude -MMD -MP

PKGS      := jansson openssl
NICE_PKGS := nice glib-2.0
XMPP_PKGS := libstrophe
OVS_PC    := PKG_CONFIG_PATH=$(OVS_PREFIX)/lib/pkgconfig $(PKG_CONFIG)

pc_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pc_libs   = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)

BASE_CFLAGS := $(call pc_cflags,$(PKGS))
BASE_LIBS   := $(call pc_libs,$(PKGS)) -lm
NICE_CFLAGS := $(call pc_cflags,$(NICE_PKGS))
NICE_LIBS   := $(call pc_libs,$(NICE_PKGS))
XMPP_CFLAGS := $(call pc_cflags,$(XMPP_PKGS))
XMPP_LIBS   := $(call pc_libs,$(XMPP_PKGS))
OVS_CFLAGS   = $(shell $(OVS_PC) --cflags libopenvswitch 2>/dev/null) -I$(OVS_PREFIX)/include/openvswitch
# libopenvswitch.a defines json_array/json_object/... (clashing silently with
# jansson's) and log_enabled (clashing with lib/log.c): switchctl links a
# copy with OVS's names renamed. No .c file includes both jansson and OVS.
OVS_RENAMES := json_array json_equal json_integer json_object json_real json_string log_enabled
OVS_LIB      = $(BUILD)/ovs-evio/libopenvswitch.a
OVS_LIBS     = $(OVS_LIB) -latomic -lm -lssl -lcrypto -lpthread -lrt

ifeq ($(V),1)
Q :=
say :=
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2);
endif

# Each component directory builds an archive of everything but its entry
# points, so unit tests can link the pure modules they test.
MAINS := overlay/main.c overlay/evioctl.c tincan/main.c switchctl/main.c

LIB_SRC       := $(wildcard lib/*.c)
OVERLAY_SRC   := $(filter-out $(MAINS),$(wildcard overlay/*.c))
TINCAN_SRC    := $(filter-out $(MAINS),$(wildcard tincan/*.c))
SWITCHCTL_SRC := $(filter-out $(MAINS),$(wildcard switchctl/*.c))
UNIT_SRC      := $(wildcard tests/unit/test_*.c)
TOOL_SRC      := $(wildcard tests/tools/*.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

PROGS := $(BUILD)/evio $(BUILD)/evioctl $(BUILD)/evio-tincan $(BUILD)/evio-switchctl
UNITS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TOOLS := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))

all: $(PROGS)

$(BUILD)/libevio.a: $(call obj,$(LIB_SRC))
$(BUILD)/overlay.a: $(call obj,$(OVERLAY_SRC))
$(BUILD)/tincan.a: $(call obj,$(TINCAN_SRC))
$(BUILD)/switchctl.a: $(call obj,$(SWITCHCTL_SRC))
$(BUILD)/%.a:
	$(call say,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# per-directory flags: only the files that use a library see its headers
$(BUILD)/lib/%.o:       EXTRA_CFLAGS = $(BASE_CFLAGS)
$(BUILD)/overlay/%.o:   EXTRA_CFLAGS = $(BASE_CFLAGS) $(XMPP_CFLAGS)
$(BUILD)/tincan/%.o:    EXTRA_CFLAGS = $(BASE_CFLAGS) $(NICE_CFLAGS)
$(BUILD)/switchctl/%.o: EXTRA_CFLAGS = $(BASE_CFLAGS) $(OVS_CFLAGS) -Wno-sign-compare -Wno-missing-field-initializers
$(BUILD)/tests/%.o:     EXTRA_CFLAGS = $(BASE_CFLAGS) $(NICE_CFLAGS) $(XMPP_CFLAGS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -c -o $@ $<

$(BUILD)/evio: $(BUILD)/overlay/main.o $(BUILD)/overlay.a $(BUILD)/libevio.a
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(XMPP_LIBS) $(BASE_LIBS)

$(BUILD)/evioctl: $(BUILD)/overlay/evioctl.o $(BUILD)/libevio.a
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS)

$(BUILD)/evio-tincan: $(BUILD)/tincan/main.o $(BUILD)/tincan.a $(BUILD)/libevio.a
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(NICE_LIBS) $(BASE_LIBS)

$(BUILD)/evio-switchctl: $(BUILD)/switchctl/main.o $(BUILD)/switchctl.a $(BUILD)/libevio.a $(OVS_LIB)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter-out $(OVS_LIB),$^) $(OVS_LIBS) $(BASE_LIBS)

$(OVS_LIB): $(OVS_PREFIX)/.built
	@mkdir -p $(dir $@)
	$(call say,OBJCOPY,$@)
	$(Q)$(OBJCOPY) $(foreach s,$(OVS_RENAMES),--redefine-sym $(s)=ovs_$(s)) $(OVS_PREFIX)/lib/libopenvswitch.a $@

# unit tests link every archive; only the modules a test uses are pulled in
$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/overlay.a $(BUILD)/tincan.a $(BUILD)/switchctl.a $(BUILD)/libevio.a
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(XMPP_LIBS) $(NICE_LIBS) $(BASE_LIBS)

# test tools (drivers used by integration tests) link the same way
$(BUILD)/tools/%: $(BUILD)/tests/tools/%.o $(BUILD)/overlay.a $(BUILD)/tincan.a $(BUILD)/libevio.a
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(XMPP_LIBS) $(NICE_LIBS) $(BASE_LIBS)

# switchctl objects need libopenvswitch headers: build it first
$(call obj,$(SWITCHCTL_SRC) switchctl/main.c): | $(OVS_PREFIX)/.built

$(OVS_PREFIX)/.built:
	scripts/build-libopenvswitch.sh $(OVS_SRC) $(OVS_PREFIX) $(TRIPLET)

# fuzz targets (make fuzz) and their corpus replays, run as unit tests
include tests/fuzz/fuzz.mk

units: $(UNITS) $(TOOLS) $(FUZZ_REPLAYS)

ifeq ($(TRIPLET),)
deps:
	scripts/deps.sh

# the cross builds first (no per-test time limit on compiling); the
# integration test cross_build.sh then checks them and runs their unit tests
# under qemu
check: deps
	$(MAKE) all units
	$(MAKE) deb
	scripts/cross-deps.sh arm64
	$(MAKE) ARCH=arm64 all units
	$(MAKE) deb ARCH=arm64
	scripts/cross-deps.sh armhf
	$(MAKE) ARCH=armhf all units
	$(MAKE) deb ARCH=armhf
	tests/run.sh $(BUILD)
else
deps:
	scripts/cross-deps.sh $(ARCH)

# a foreign build runs only its unit tests, under qemu: never the
# integration tests (namespaces, OVS, real daemons)
check: deps
	$(MAKE) ARCH=$(ARCH) all units
	tests/integration/cross_build.sh $(ARCH)
endif

# the topology simulator's table (doc/topology-sim.md): pure CPU, no root
sim: $(BUILD)/tools/topo_sim
	$(BUILD)/tools/topo_sim --table

ifeq ($(TRIPLET),)
check-unit: all units
	tests/run.sh --unit-only $(BUILD)
else
check-unit: all units
	tests/integration/cross_build.sh $(ARCH)
endif

demo: deps
	$(MAKE) all
	scripts/demo.sh up $(BUILD)

demo-down:
	scripts/demo.sh down

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 doc/man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 doc/man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 doc/man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/

# The Debian package, built by debian/rules into debian/build (not $(BUILD));
# dpkg-buildpackage leaves its files in the parent directory: move them.
DEB_OUT ?= $(BUILD)/deb
DEB_VERSION = $(shell dpkg-parsechangelog -S Version)
# make deb ARCH=arm64|armhf: dpkg-buildpackage -aARCH with the cross
# toolchain (cross-deps.sh installs it). -d: libnice-dev:ARCH cannot be
# installed (see cross-deps.sh), so the build-dependency check would refuse
# what the build itself has (libnice10:ARCH, build/ARCH/pkgconfig/nice.pc).
ifneq ($(TRIPLET),)
DEB_FLAGS += -a$(ARCH) -d
deb: deps
endif
deb:
	dpkg-buildpackage -us -uc -b -J$(shell nproc) $(DEB_FLAGS)
	@mkdir -p $(DEB_OUT)
	mv ../evio_$(DEB_VERSION)_*.deb ../evio_$(DEB_VERSION)_*.buildinfo \
	  ../evio_$(DEB_VERSION)_*.changes $(DEB_OUT)/
	mv ../evio-dbgsym_$(DEB_VERSION)_*.deb $(DEB_OUT)/ 2>/dev/null || true
	@ls -l $(DEB_OUT)/

# The container image (packaging/docker/): this tree's .deb (made when
# missing) on BASE (default debian:bookworm-slim; the tests build a base
# from a local debootstrap root, tests/lib/container.sh), tagged $(IMAGE).
# ENGINE=podman|docker (default: podman when installed).
IMAGE ?= evio:latest
DEB_FILE = $(DEB_OUT)/evio_$(DEB_VERSION)_$(NATIVE_ARCH).deb
image:
	@[ -f $(DEB_FILE) ] || $(MAKE) deb
	packaging/docker/build-image.sh $(DEB_FILE) $(IMAGE)

clean:
	rm -rf $(BUILD)/overlay $(BUILD)/tincan $(BUILD)/switchctl $(BUILD)/lib \
	  $(BUILD)/tests $(BUILD)/*.a $(PROGS)

.PHONY: all deps units check check-unit sim demo demo-down install clean bench deb image
.DELETE_ON_ERROR:
-include $(shell find $(BUILD) \( -path $(BUILD)/arm64 -o -path $(BUILD)/armhf -o -path $(BUILD)/rootfs -o -path $(BUILD)/containers \) -prune -o -type f -name '*.d' -print 2>/dev/null)

# benchmarks (bench/run.sh --help): the VPNs compared, the tables, results
# under bench/results/. BENCH_ARGS="--runs 5 --secs 20" to change the plan.
bench: deps
	bench/deps.sh
	$(MAKE) all
	bench/run.sh $(BENCH_ARGS) $(BUILD)
