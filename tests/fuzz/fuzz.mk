# The fuzz targets' build rules, included by the top Makefile (doc/fuzzing.md).
#   make fuzz [FUZZ_TIME=30] [FUZZ=sigmsg,ctl]   libFuzzer (clang) per target
#   make fuzz-minimize                          shrink the committed corpora
#   make check-fuzz                             replay the corpora (gcc)
# Each tests/fuzz/fuzz_NAME.c is one target with its corpus in
# tests/fuzz/corpus/NAME/ and optionally a dictionary tests/fuzz/NAME.dict.
# Every target links lib/ (as an archive) plus the sources named below.

FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

FUZZ_SRC_sigmsg      := overlay/sigmsg.c
FUZZ_SRC_ctl         :=
FUZZ_SRC_config      :=
FUZZ_SRC_bflood      := switchctl/bflood.c switchctl/flood.c
FUZZ_SRC_rec         := tincan/rec.c
FUZZ_SRC_stun        := tincan/stun.c
FUZZ_SRC_channeldata := tincan/fastpath.c
FUZZ_SRC_negotiate   := overlay/negotiate.c overlay/peer.c overlay/topology.c overlay/sigmsg.c

FUZZ_LIB_SRC := $(wildcard lib/*.c)

# ---- libFuzzer builds (clang), into $(BUILD)/fuzz ---------------------------
FUZZ_CC   ?= clang
FUZZ_TIME ?= 30
FUZZ      ?= $(FUZZ_NAMES)
FUZZ_DIR  := $(BUILD)/fuzz
FUZZ_SAN  := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := -g -O1 -std=gnu11 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE -Iinclude \
               -MMD -MP $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(BASE_CFLAGS)
fuzz_obj = $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(1))
FUZZ_BINS := $(foreach n,$(FUZZ_NAMES),$(FUZZ_DIR)/fuzz_$(n))

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,FUZZCC,$<)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_DIR)/libevio.a: $(call fuzz_obj,$(FUZZ_LIB_SRC))
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

# ---- replay drivers (gcc, sanitizers when gcc has them), into $(BUILD) -----
# Built by `units` natively (not for ARCH= cross builds: no sanitizers under
# qemu), so make check and check-unit run them as the unit tests
# $(BUILD)/tests/test_fuzz_NAME.
ifeq ($(TRIPLET),)
REPLAY_DIR := $(BUILD)/fuzz-replay
REPLAY_SAN := $(shell printf 'int main(void){return 0;}\n' | $(CC) -fsanitize=address,undefined \
                -x c - -o /dev/null >/dev/null 2>&1 && echo -fsanitize=address,undefined \
                -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
REPLAY_CFLAGS = $(CFLAGS) -O1 $(BASE_CFLAGS) $(REPLAY_SAN)
replay_obj = $(patsubst %.c,$(REPLAY_DIR)/%.o,$(1))
FUZZ_REPLAYS := $(foreach n,$(FUZZ_NAMES),$(BUILD)/tests/test_fuzz_$(n))

# others' code may meet new warnings under the sanitizers: not an error here
$(REPLAY_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(REPLAY_CFLAGS) -Wno-error -c -o $@ $<

$(REPLAY_DIR)/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(REPLAY_CFLAGS) -c -o $@ $<

$(REPLAY_DIR)/libevio.a: $(call replay_obj,$(FUZZ_LIB_SRC))
	$(call say,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
endif

# one libFuzzer binary and one replay driver per target
define FUZZ_TARGET
$(FUZZ_DIR)/fuzz_$(1): $(call fuzz_obj,tests/fuzz/fuzz_$(1).c $(FUZZ_SRC_$(1))) $(FUZZ_DIR)/libevio.a
	$$(call say,LD,$$@)
	$$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $$@ $$^ $(BASE_LIBS)

ifeq ($(TRIPLET),)
$(REPLAY_DIR)/tests/fuzz/replay_$(1).o: tests/fuzz/replay.c tests/fuzz/fuzz.h
	@mkdir -p $$(dir $$@)
	$$(call say,CC,$$@)
	$$(Q)$(CC) $$(REPLAY_CFLAGS) '-DFUZZ_CORPUS="$(CURDIR)/tests/fuzz/corpus/$(1)"' -c -o $$@ $$<

$(BUILD)/tests/test_fuzz_$(1): $(REPLAY_DIR)/tests/fuzz/replay_$(1).o $(call replay_obj,tests/fuzz/fuzz_$(1).c $(FUZZ_SRC_$(1))) $(REPLAY_DIR)/libevio.a
	@mkdir -p $$(dir $$@)
	$$(call say,LD,$$@)
	$$(Q)$(CC) $(LDFLAGS) $(REPLAY_SAN) -o $$@ $$^ $(BASE_LIBS)
endif
endef
$(foreach n,$(FUZZ_NAMES),$(eval $(call FUZZ_TARGET,$(n))))

comma := ,
FUZZ_RUN := $(subst $(comma), ,$(FUZZ))

# runs each target FUZZ_TIME seconds over its corpus, merges what is new back
fuzz:
	scripts/apt-missing.sh fuzz clang libclang-rt-14-dev
	$(MAKE) $(foreach n,$(FUZZ_RUN),$(FUZZ_DIR)/fuzz_$(n))
	tests/fuzz/run.sh --time $(FUZZ_TIME) $(FUZZ_DIR) $(FUZZ_RUN)

fuzz-minimize:
	$(MAKE) $(foreach n,$(FUZZ_RUN),$(FUZZ_DIR)/fuzz_$(n))
	tests/fuzz/run.sh --minimize $(FUZZ_DIR) $(FUZZ_RUN)

check-fuzz: $(FUZZ_REPLAYS)
	tests/run.sh --unit-only --filter '^test_fuzz_' $(BUILD)

.PHONY: fuzz fuzz-minimize check-fuzz
