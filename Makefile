# vpp-sipalg task runner. `make help` lists the targets.

CORE_DIR   := vpp-plugin/sip_alg/core
CORE_SRCS  := $(wildcard $(CORE_DIR)/*.c)
CORE_HDRS  := $(wildcard $(CORE_DIR)/*.h)
BUILD      := build
CC         ?= cc
CLANG      ?= clang
WARN       := -std=c99 -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes
OPT        := -O2 -g
SAN        := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
VENV       := .venv
PY         := $(VENV)/bin/python
FUZZ_SECONDS ?= 60
PYTEST_ARGS ?=

.PHONY: help core test test-c test-py sanitize fuzz bench venv ci clean

help:
	@echo "make test      core library + C tests + pytest (the README's test command)"
	@echo "make sanitize  C tests of the core under ASan+UBSan, inputs against a guard page"
	@echo "make fuzz      libFuzzer on parser and rewriter for FUZZ_SECONDS (default 60)"
	@echo "make bench     core microbenchmark: ns, cycles, callgrind instructions per message"
	@echo "make ci        everything CI runs: test, sanitize, fuzz"

$(BUILD)/core/libsipalg_core.so: $(CORE_SRCS) $(CORE_HDRS) tests/core/abi.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(OPT) -fPIC -shared -I$(CORE_DIR) $(CORE_SRCS) tests/core/abi.c -o $@

core: $(BUILD)/core/libsipalg_core.so

$(BUILD)/core/test_core: $(CORE_SRCS) $(CORE_HDRS) tests/core/test_core.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(OPT) -I$(CORE_DIR) $(CORE_SRCS) tests/core/test_core.c -o $@

$(BUILD)/san/test_core: $(CORE_SRCS) $(CORE_HDRS) tests/core/test_core.c
	@mkdir -p $(@D)
	$(CLANG) $(WARN) -O1 -g $(SAN) -I$(CORE_DIR) $(CORE_SRCS) tests/core/test_core.c -o $@

$(BUILD)/fuzz/fuzz_core: $(CORE_SRCS) $(CORE_HDRS) tests/fuzz/fuzz_core.c
	@mkdir -p $(@D)
	$(CLANG) $(WARN) -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	  -I$(CORE_DIR) $(CORE_SRCS) tests/fuzz/fuzz_core.c -o $@

$(BUILD)/perf/core_bench: $(CORE_SRCS) $(CORE_HDRS) perf/core_bench.c
	@mkdir -p $(@D)
	$(CC) $(WARN) -O3 -g -I$(CORE_DIR) $(CORE_SRCS) perf/core_bench.c -o $@

$(VENV)/.stamp: tests/requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -r tests/requirements.txt
	@touch $@

venv: $(VENV)/.stamp

test-c: $(BUILD)/core/test_core
	$(BUILD)/core/test_core tests/fuzz/corpus tests/fuzz/found

test-py: core venv
	$(PY) -m pytest $(PYTEST_ARGS) tests

test: test-c test-py

sanitize: $(BUILD)/san/test_core
	$(BUILD)/san/test_core tests/fuzz/corpus tests/fuzz/found

fuzz: $(BUILD)/fuzz/fuzz_core
	@mkdir -p $(BUILD)/fuzz/corpus
	$(BUILD)/fuzz/fuzz_core -max_total_time=$(FUZZ_SECONDS) -timeout=5 -rss_limit_mb=2048 \
	  -print_final_stats=1 $(BUILD)/fuzz/corpus tests/fuzz/corpus tests/fuzz/found

bench: $(BUILD)/perf/core_bench
	python3 perf/core_bench.py $(BUILD)/perf/core_bench

ci: sanitize fuzz test

clean:
	rm -rf $(BUILD)
