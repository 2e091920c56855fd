# ketenhub - hand-written Makefile.
#
#   make            build bin/ketenhubd, bin/ketenctl (and the bench programs)
#   make test       install missing packages (as root), build, run unit + integration tests
#   make check      the same tests with ASan + UBSan (clang), into build/san
#   make tsan       the unit tests with ThreadSanitizer (clang), into build/tsan
#   make lint       clang-format --dry-run -Werror, clang-tidy, cppcheck
#   make bench      benchmark programs that print figures
#   make fuzz       libFuzzer targets, time-boxed (FUZZ_SECONDS each)
#   make run        demo: keys + config under run/, start the hub, send example signals
#   make clean      remove build output

SHELL := /bin/bash
CC ?= cc
O ?= build
BIN ?= bin
SHARED ?= ../shared
FUZZ_SECONDS ?= 30

PKGS := libzmq jansson sqlite3 libsodium libpcre2-8 libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
        -Wvla -Wno-unused-parameter
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -pthread $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) -I. -Ilib -Ihub $(PKG_CFLAGS)
ALL_LDFLAGS := $(LDFLAGS) $(EXTRA_LDFLAGS)
LIBS := $(PKG_LIBS) -lm -pthread

LIB_SRC := $(wildcard lib/*.c)
HUB_SRC := $(filter-out hub/main.c,$(wildcard hub/*.c))
CTL_SRC := $(wildcard ctl/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
BENCH_SRC := $(wildcard tests/bench/*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(O)/%.o)
HUB_OBJ := $(HUB_SRC:%.c=$(O)/%.o)
CTL_OBJ := $(CTL_SRC:%.c=$(O)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(O)/unit/%)
# The adapters' unit tests link libadapter instead of libhub (rule at the end).
ADAPTER_UNIT_BIN := $(filter $(O)/unit/test_adapter_%,$(UNIT_BIN))
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(BIN)/%)

LIBKETEN := $(O)/libketen.a
LIBHUB := $(O)/libhub.a

.PHONY: units all test unit integration check tsan lint bench fuzz run clean deps
.DEFAULT_GOAL := all

all: $(BIN)/ketenhubd $(BIN)/ketenctl $(BENCH_BIN)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIBKETEN): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(LIBHUB): $(HUB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/ketenhubd: $(O)/hub/main.o $(LIBHUB) $(LIBKETEN)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BIN)/ketenctl: $(CTL_OBJ) $(LIBHUB) $(LIBKETEN)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BENCH_BIN): $(BIN)/%: $(O)/tests/bench/%.o $(LIBHUB) $(LIBKETEN)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(filter-out $(ADAPTER_UNIT_BIN),$(UNIT_BIN)): $(O)/unit/%: $(O)/tests/unit/%.o $(LIBHUB) $(LIBKETEN)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# Unit tests of ketenctl code link that code's object too ($^ takes it in).
$(O)/unit/test_report_render: $(O)/ctl/report_render.o

# Installs the Debian packages the build and the tests need, when run as root;
# otherwise prints the exact apt-get line and stops.
deps:
	@scripts/deps.sh

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	@O=$(O) BIN=$(BIN) SHARED=$(SHARED) tests/run.sh

# Unit tests and integration tests alone, without the package check.
unit: all $(UNIT_BIN)
	@O=$(O) BIN=$(BIN) SHARED=$(SHARED) tests/run.sh unit
integration: all
	@O=$(O) BIN=$(BIN) SHARED=$(SHARED) tests/run.sh integration

SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
check: deps
	@$(MAKE) --no-print-directory CC=clang O=build/san BIN=build/san/bin CFLAGS="-O1 -g" \
	    EXTRA_CFLAGS="$(SAN_FLAGS)" EXTRA_LDFLAGS="$(SAN_FLAGS)" all units
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    O=build/san BIN=build/san/bin SHARED=$(SHARED) tests/run.sh

units: $(UNIT_BIN)

# ThreadSanitizer over the unit runners (intake's helper thread, the WAL
# checkpoint thread, notify, deliver). Not over the integration tests: libzmq
# is not instrumented, so TSan cannot see its hand-over of frames between its
# I/O thread and ours and reports races that are not there.
TSAN_FLAGS := -fsanitize=thread
tsan: deps
	@$(MAKE) --no-print-directory CC=clang O=build/tsan BIN=build/tsan/bin CFLAGS="-O1 -g" \
	    EXTRA_CFLAGS="$(TSAN_FLAGS)" EXTRA_LDFLAGS="$(TSAN_FLAGS)" all units
	@TSAN_OPTIONS=halt_on_error=1 O=build/tsan BIN=build/tsan/bin SHARED=$(SHARED) \
	    tests/run.sh unit

lint:
	@scripts/lint.sh

bench: all
	@BIN=$(BIN) tests/bench/run.sh

FUZZ_FLAGS := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
fuzz: deps
	@$(MAKE) --no-print-directory CC=clang O=build/fuzz BIN=build/fuzz/bin CFLAGS="-O1 -g" \
	    EXTRA_CFLAGS="-fsanitize=fuzzer-no-link,address,undefined" \
	    EXTRA_LDFLAGS="-fsanitize=address,undefined" build/fuzz/libketen.a build/fuzz/libhub.a \
	    build/fuzz/libadapter.a
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_TARGETS="$(FUZZ_TARGETS)" tests/fuzz/run.sh

run: deps all
	@scripts/demo.sh

clean:
	rm -rf build bin

# ---- adapters (adapters/common -> libadapter.a; adapters/<kind>/*.c -> adapter-<kind>) ----
# A new partner kind is a new folder with a main.c: no Makefile edit needed.
ADAPTER_CFLAGS := -Iadapters/common $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
ADAPTER_LIBS := $(shell pkg-config --libs libmicrohttpd 2>/dev/null)
ADAPTER_COMMON_OBJ := $(patsubst %.c,$(O)/%.o,$(wildcard adapters/common/*.c))
ADAPTER_KINDS := $(patsubst adapters/%/main.c,%,$(wildcard adapters/*/main.c))
ADAPTER_BIN := $(ADAPTER_KINDS:%=$(BIN)/adapter-%)
LIBADAPTER := $(O)/libadapter.a

$(O)/adapters/%.o: ALL_CFLAGS += $(ADAPTER_CFLAGS)
$(O)/tests/unit/test_adapter_%.o: ALL_CFLAGS += $(ADAPTER_CFLAGS)

$(LIBADAPTER): $(ADAPTER_COMMON_OBJ)
	@rm -f $@
	ar rcs $@ $^

all: $(ADAPTER_BIN)

# The objects of one kind (a function, so the rule below has no literal %
# for the static pattern to replace).
adapter_objs = $(patsubst %.c,$(O)/%.o,$(wildcard adapters/$(1)/*.c))
.SECONDEXPANSION:
$(ADAPTER_BIN): $(BIN)/adapter-%: $$(call adapter_objs,$$*) $(LIBADAPTER) $(LIBKETEN)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(ADAPTER_LIBS)

# Adapter unit tests link the adapter library (and a kind's mapping objects,
# below), objects before archives so the archives resolve in order.
$(ADAPTER_UNIT_BIN): $(O)/unit/%: $(O)/tests/unit/%.o $(LIBADAPTER) $(LIBKETEN)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(LIBS) $(ADAPTER_LIBS)
$(O)/unit/test_adapter_police: $(patsubst %.c,$(O)/%.o,$(filter-out adapters/police/main.c,$(wildcard adapters/police/*.c)))
$(O)/unit/test_adapter_mappings: $(O)/adapters/municipality/mapping.o $(O)/adapters/comensha/mapping.o \
		$(O)/adapters/care/mapping.o

-include $(shell find $(O) -name '*.d' 2>/dev/null)
