# gaitfed — one binary, bin/gaitfed. `make test` and `make demo` install missing
# Debian packages first (as root), so a fresh machine needs nothing else.
CC      ?= cc
BUILD   ?= build
PYTHON  ?= /usr/bin/python3
PKGS    := libzip jansson sqlite3 openssl openblas libcurl libevent_openssl libevent_pthreads
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I.
LDLIBS  += -lm -lpthread
ifeq ($(SAN),1)
BUILD   := build-san
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

LIB_DIRS := common sites synth model crypto node coordinator
LIB_SRC  := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c))
CLI_SRC  := $(wildcard cli/*.c)
TEST_SRC := $(wildcard tests/unit/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
BIN      := bin/gaitfed
ifeq ($(SAN),1)
BIN      := $(BUILD)/gaitfed
endif

.PHONY: all deps test test-san test-valgrind demo fuzz clean check-pkgs
all: $(BIN)

# pkg-config flags are resolved lazily so that `make deps` works before the
# -dev packages exist.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libgaitfed.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(CLI_OBJ) $(BUILD)/libgaitfed.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libgaitfed.a $(PKG_LIBS) $(LDLIBS)

$(BUILD)/unit_tests: $(TEST_OBJ) $(BUILD)/libgaitfed.a
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJ) $(BUILD)/libgaitfed.a $(PKG_LIBS) -lcriterion $(LDLIBS)

# A hospital node running modified code, for the red-team tests (tests/evil/).
EVIL := $(BUILD)/tests/evil_node
$(EVIL): tests/evil/evil_node.c $(BUILD)/libgaitfed.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libgaitfed.a $(PKG_LIBS) $(LDLIBS)

deps:
	@sh scripts/deps.sh

# Unit and oracle tests (Criterion). GF_BIN lets tests drive the CLI as a user would.
test: deps
	@if grep -n '\.timeout *=' tests/unit/*.c; then \
	  echo "tests: Criterion .timeout leaks its watcher under LeakSanitizer; drop it (CI has its own limit)"; exit 1; fi
	@$(MAKE) --no-print-directory $(BIN) $(BUILD)/unit_tests $(EVIL)
	@rm -rf $(BUILD)/tmp && mkdir -p $(BUILD)/tmp
	TMPDIR=$(CURDIR)/$(BUILD)/tmp GF_ROOT=$(CURDIR) GF_BIN=$(CURDIR)/$(BIN) GF_EVIL=$(CURDIR)/$(EVIL) GF_PYTHON=$(PYTHON) \
	  $(BUILD)/unit_tests --jobs 2 $(if $(filter 1,$(SAN)),--no-early-exit)
	@rm -rf $(BUILD)/tmp

test-san: deps
	@$(MAKE) --no-print-directory SAN=1 test

# Integration tests with every gaitfed process (coordinator, nodes, evaluator,
# the bench driving them) under valgrind memcheck (tests/valgrind_gaitfed.sh):
# a memory error or a definite leak makes that process exit 97 and its test
# fail. The secure federation test (3 hospitals, an evaluator, 2 rounds and
# the cross-site stage) and a small `bench federation` run (4 hospitals, 1
# round); GF_SLOW scales their deadlines. Logs: build/valgrind/<pid>.log.
VALGRIND_SLOW ?= 20
VG_ENV = TMPDIR=$(CURDIR)/build/tmp-vg GF_ROOT=$(CURDIR) GF_PYTHON=$(PYTHON) GF_SLOW=$(VALGRIND_SLOW) \
  GF_BIN=$(CURDIR)/tests/valgrind_gaitfed.sh GF_VALGRIND_BIN=$(CURDIR)/bin/gaitfed GF_VALGRIND_LOGS=$(CURDIR)/build/valgrind
test-valgrind: deps
	@$(MAKE) --no-print-directory SAN=0 bin/gaitfed build/unit_tests
	@rm -rf build/tmp-vg build/valgrind && mkdir -p build/tmp-vg build/valgrind
	$(VG_ENV) build/unit_tests --filter 'federation/secure_rounds_complete_with_audit_and_evaluations'
	$(VG_ENV) GF_LOAD_NODES=4 GF_LOAD_ROUNDS=1 build/unit_tests --filter 'load/*'
	@n=$$(ls build/valgrind/*.log | wc -l); bad=$$(grep -L 'ERROR SUMMARY: 0 errors' build/valgrind/*.log | \
	  xargs -r grep -l 'ERROR SUMMARY'); if [ -n "$$bad" ]; then for f in $$bad; do echo "== $$f"; cat $$f; done; \
	  echo "test-valgrind: memcheck errors in: $$bad"; exit 1; fi; \
	  echo "test-valgrind: $$n processes under memcheck, $$(grep -l 'ERROR SUMMARY: 0 errors' build/valgrind/*.log | wc -l) with 0 errors and no definite leaks"
	@rm -rf build/tmp-vg

# A whole federation on localhost (4 hospitals, 1 evaluator, secure aggregation);
# writes ./demo-out (OUT=DIR to change).
OUT ?= demo-out
demo: deps
	@$(MAKE) --no-print-directory $(BIN)
	$(BIN) demo --out $(OUT)

# libFuzzer targets, one per parser: build/fuzz/<name>; FUZZ_SECONDS each
# (FUZZ=name1 name2 ... runs only those, e.g. FUZZ=fuzz_wire_node). The
# library is compiled once with coverage and sanitizers; any sanitizer report
# (UBSan included) is a failure.
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_ALL     := $(FUZZ_SRC:tests/fuzz/%.c=%)
FUZZ         ?= $(FUZZ_ALL)
FUZZ_SECONDS ?= 30
FUZZ_SAN     := address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS  := -std=c11 -g -O1 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I.
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=build/fuzz/obj/%.o)
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) $(PKG_CFLAGS) -MMD -MP -c $< -o $@
build/fuzz/libgaitfed.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c build/fuzz/libgaitfed.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) $(PKG_CFLAGS) -MMD -MP -o $@ $< build/fuzz/libgaitfed.a \
	  $(PKG_LIBS) $(LDLIBS)
fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ:%=build/fuzz/%)
	@set -e; for n in $(FUZZ); do \
	  mkdir -p build/fuzz/corpus-$$n; \
	  if ! build/fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -max_len=1048576 -rss_limit_mb=2048 \
	    build/fuzz/corpus-$$n tests/fuzz/seeds/$${n#fuzz_} > build/fuzz/$$n.log 2>&1; then \
	    tail -n 40 build/fuzz/$$n.log; echo "fuzz: $$n found a failure (build/fuzz/$$n.log)"; exit 1; fi; \
	  echo "fuzz: $$n $$(grep -o 'Done [0-9]* runs in [0-9]* second(s)' build/fuzz/$$n.log)"; done

clean:
	rm -rf build build-san bin

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_ALL:%=build/fuzz/%.d)
