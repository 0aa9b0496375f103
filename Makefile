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
# make impair: calls per run, and the runs (profiles of tests/e2e/test_impaired.py)
IMPAIR_CALLS ?= 30
IMPAIR_PROFILES ?= loss5,loss10,loss20,dup,reorder,late
# VPP install prefix: VPP_PREFIX from the environment, else the first standard prefix with VPP
VPP_PREFIX ?= $(firstword $(foreach p,/usr /usr/local /opt/vpp,$(if $(wildcard $(p)/bin/vpp),$(p))))
PLUGIN_SRCS := $(wildcard vpp-plugin/sip_alg/*.c vpp-plugin/sip_alg/*.h vpp-plugin/sip_alg/*.api) \
  $(wildcard vpp-plugin/CMakeLists.txt vpp-plugin/sip_alg/CMakeLists.txt) $(CORE_SRCS) $(CORE_HDRS)
# The plugin's build directory, one per VPP it is built against: $(BUILD)/plugin for a VPP in
# a standard prefix (/usr, /usr/local, /opt/vpp), else $(BUILD)/plugin-<prefix with / as ->
# (/opt/vpp-26.06: $(BUILD)/plugin-opt-vpp-26.06). sipalgctl and the test harness pick the
# same directory for the same VPP_PREFIX (mgmt/sipalgctl/vpp.py: checkout_plugin).
STD_PREFIXES := /usr /usr/local /opt/vpp
plugin_build = $(BUILD)/plugin$(if $(filter $(STD_PREFIXES),$(abspath $(1))),,$(subst /,-,$(abspath $(1))))
PLUGIN_BUILD := $(call plugin_build,$(VPP_PREFIX))
PLUGIN_SO := $(PLUGIN_BUILD)/lib/vpp_plugins/sip_alg_plugin.so

.PHONY: help core plugin plugin-asan install-plugin deb wheel pg-bench call-bench nat-patched call-bench-patched test-nat-patched stress stress-asan impair mutate mutate-node perf-trex perf-trex-vpp-bound perf-trex-calls test test-c test-py test-release sanitize fuzz bench venv ci clean demo docs

help:
	@echo "make plugin    build sip_alg_plugin.so against the VPP in VPP_PREFIX ($(or $(VPP_PREFIX),none found))"
	@echo "               into $(PLUGIN_BUILD) (one build directory per VPP: docs/vpp-versions.md)"
	@echo "make install-plugin  install the plugin and its API JSON into VPP_PREFIX"
	@echo "make deb       Debian package of the plugin for the VPP in VPP_PREFIX -> $(BUILD)/*.deb (docs/packaging.md)"
	@echo "make wheel     sipalgctl's wheel -> $(BUILD)/dist"
	@echo "make test      core library + C tests + plugin + pytest (all tiers VPP allows)"
	@echo "make test-release  plugin built for the VPP release in VPP_RELEASE_PREFIX ($(VPP_RELEASE_PREFIX)),"
	@echo "               call, firewall, worker and deployment tests of tests/vpp against it"
	@echo "make sanitize  C tests of the core (SIP, TCP stream engine) under ASan+UBSan, inputs against a guard page,"
	@echo "               with the SSE2 scans and with the byte loops (SIP_NO_SIMD)"
	@echo "make fuzz      libFuzzer on parser and rewriter for FUZZ_SECONDS (default 60)"
	@echo "make bench     core microbenchmark per stage: ns, cycles, instructions per message and per byte"
	@echo "make pg-bench  plugin in VPP, packet generator: clocks/pkt per node, ALG on vs off"
	@echo "make call-bench plugin in VPP, packet generator: calls/s set up and torn down, bytes per call"
	@echo "make call-bench-patched  the same with VPP's NAT44-ED patched (vpp-plugin/patches/; VPP_SRC=<VPP source>)"
	@echo "make test-nat-patched  the patched NAT44-ED's own checks (tests/vpp/check_nat_patched.py; VPP_SRC=<VPP source>)"
	@echo "make stress    plugin in VPP, packet generator: 1M mutated SIP packets, 100k-call soak, INVITE flood vs RTP"
	@echo "make stress-asan the mutated packets again with the plugin built with ASan in a debug VPP (VPP_ASAN_PREFIX)"
	@echo "make impair    calls in a row over lossy, duplicating, reordering links, 0 and 2 workers:"
	@echo "               IMPAIR_CALLS (default $(IMPAIR_CALLS)) per run, IMPAIR_PROFILES; JSON and captures in $(BUILD)/impair"
	@echo "make perf-trex TRex over memif (perf/trex): NDR/PDR and clocks/pkt, ALG on vs off -> $(BUILD)/trex"
	@echo "make perf-trex-vpp-bound the same with VPP capped at VPP_CPU (0.3) of a CPU: VPP, not TRex, is the bottleneck"
	@echo "make perf-trex-calls     whole SIP calls/s through the ALG, NDR/PDR ALG on vs off -> $(BUILD)/trex-calls (TREX_ARGS=\"--vpp-cpu 0.3\")"
	@echo "make ci        everything CI runs: test, sanitize, fuzz"
	@echo "make mutate    source mutation run over the SIP core: the score and every survivor"
	@echo "make mutate-node  reviewed source mutants of the VPP nodes' decisions against tests/vpp (VPP)"
	@echo "make demo      the seed call for real: namespaces, VPP (sipalgctl up), sipp, tables (root)"
	@echo "make docs      docs/configuration.md from sipalgctl's configuration models"

$(BUILD)/core/libsipalg_core.so: $(CORE_SRCS) $(CORE_HDRS) tests/core/abi.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(OPT) -fPIC -shared -I$(CORE_DIR) $(CORE_SRCS) tests/core/abi.c -o $@

core: $(BUILD)/core/libsipalg_core.so

$(PLUGIN_SO): $(PLUGIN_SRCS)
	cmake -G Ninja -S vpp-plugin -B $(PLUGIN_BUILD) -DCMAKE_PREFIX_PATH=$(VPP_PREFIX) >/dev/null
	ninja -C $(PLUGIN_BUILD)

ifeq ($(VPP_PREFIX),)
plugin:
	@echo "VPP not found (VPP_PREFIX, /usr, /usr/local, /opt/vpp): plugin not built, VPP tiers skip"
else
plugin: $(PLUGIN_SO)
endif

install-plugin: plugin
	@test -n "$(VPP_PREFIX)" || { echo "VPP not found: nothing to install into"; exit 2; }
	cmake --install $(PLUGIN_BUILD) --prefix $(VPP_PREFIX)

deb:
	@test -n "$(VPP_PREFIX)" || { echo "VPP not found (VPP_PREFIX, /usr, /usr/local, /opt/vpp): no package"; exit 2; }
	bash vpp-plugin/packaging/mkdeb.sh $(VPP_PREFIX) $(BUILD)

# built from a copy of mgmt/ and templates/ (an in-tree build leaves build/ and *.egg-info in
# mgmt/), with the setuptools of $(PY) (tests/requirements.txt), so nothing is downloaded
wheel:
	rm -rf $(BUILD)/wheel && mkdir -p $(BUILD)/wheel $(BUILD)/dist
	cp -r mgmt templates $(BUILD)/wheel/
	rm -rf $(BUILD)/wheel/mgmt/*.egg-info $(BUILD)/wheel/mgmt/build
	$(PY) -m pip wheel -q --no-deps --no-build-isolation -w $(BUILD)/dist $(BUILD)/wheel/mgmt

$(BUILD)/core/test_core: $(CORE_SRCS) $(CORE_HDRS) tests/core/test_core.c tests/core/plan_check.h
	@mkdir -p $(@D)
	$(CC) $(WARN) $(OPT) -I$(CORE_DIR) $(CORE_SRCS) tests/core/test_core.c -o $@

$(BUILD)/san/test_core: $(CORE_SRCS) $(CORE_HDRS) tests/core/test_core.c tests/core/plan_check.h
	@mkdir -p $(@D)
	$(CLANG) $(WARN) -O1 -g $(SAN) -I$(CORE_DIR) $(CORE_SRCS) tests/core/test_core.c -o $@

# the same drivers with the core's byte loops instead of its SSE2 scans (SIP_NO_SIMD: what a
# target without SSE2 runs)
$(BUILD)/core/test_core_scalar: $(CORE_SRCS) $(CORE_HDRS) tests/core/test_core.c tests/core/plan_check.h
	@mkdir -p $(@D)
	$(CC) $(WARN) $(OPT) -DSIP_NO_SIMD -I$(CORE_DIR) $(CORE_SRCS) tests/core/test_core.c -o $@

$(BUILD)/san/test_core_scalar: $(CORE_SRCS) $(CORE_HDRS) tests/core/test_core.c tests/core/plan_check.h
	@mkdir -p $(@D)
	$(CLANG) $(WARN) -O1 -g $(SAN) -DSIP_NO_SIMD -I$(CORE_DIR) $(CORE_SRCS) tests/core/test_core.c -o $@

# the SIP over TCP stream engine's own tests (core/sip_tcp.[ch])
$(BUILD)/core/test_tcp: $(CORE_SRCS) $(CORE_HDRS) tests/core/test_tcp.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(OPT) -I$(CORE_DIR) $(CORE_SRCS) tests/core/test_tcp.c -o $@

$(BUILD)/san/test_tcp: $(CORE_SRCS) $(CORE_HDRS) tests/core/test_tcp.c
	@mkdir -p $(@D)
	$(CLANG) $(WARN) -O1 -g $(SAN) -I$(CORE_DIR) $(CORE_SRCS) tests/core/test_tcp.c -o $@

$(BUILD)/fuzz/fuzz_core: $(CORE_SRCS) $(CORE_HDRS) tests/fuzz/fuzz_core.c tests/core/plan_check.h
	@mkdir -p $(@D)
	$(CLANG) $(WARN) -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	  -I$(CORE_DIR) $(CORE_SRCS) tests/fuzz/fuzz_core.c -o $@

$(BUILD)/perf/core_bench: $(CORE_SRCS) $(CORE_HDRS) perf/core_bench.c
	@mkdir -p $(@D)
	$(CC) $(WARN) -O3 -g -I$(CORE_DIR) $(CORE_SRCS) perf/core_bench.c -o $@

$(VENV)/.stamp: tests/requirements.txt mgmt/pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -r tests/requirements.txt
	$(PY) -m pip install -q -e mgmt
	@touch $@

venv: $(VENV)/.stamp

test-c: $(BUILD)/core/test_core $(BUILD)/core/test_core_scalar $(BUILD)/core/test_tcp
	$(BUILD)/core/test_core tests/fuzz/corpus tests/fuzz/found
	$(BUILD)/core/test_core_scalar tests/fuzz/corpus tests/fuzz/found
	$(BUILD)/core/test_tcp

test-py: core plugin venv
	VPP_PREFIX=$(VPP_PREFIX) $(PY) -m pytest $(PYTEST_ARGS) tests

test: test-c test-py

# The VPP release the plugin is tested against besides the VPP in VPP_PREFIX
# (docs/vpp-versions.md): the plugin built for it (its own build directory) and the call,
# firewall, worker and deployment files of tests/vpp run against it. A test that skips fails.
VPP_RELEASE_PREFIX ?= /opt/vpp-26.06
RELEASE_TESTS ?= tests/vpp/test_pg.py tests/vpp/test_pg_firewall.py tests/vpp/test_workers.py \
  tests/vpp/test_pg_deploy.py tests/vpp/test_pg_vrf.py tests/vpp/test_pg_office.py
# with VPP's main thread alone, but test_workers.py's with workers too (RELEASE_K= for all)
RELEASE_K ?= not 2w and not 4w or test_workers
test-release: venv
	@test -x $(VPP_RELEASE_PREFIX)/bin/vpp || { echo "test-release: no VPP in" \
	  "VPP_RELEASE_PREFIX=$(VPP_RELEASE_PREFIX) (no bin/vpp): unpack the release there" \
	  "(docs/vpp-versions.md) or set VPP_RELEASE_PREFIX"; exit 2; }
	$(MAKE) --no-print-directory plugin VPP_PREFIX=$(VPP_RELEASE_PREFIX)
	VPP_PREFIX=$(VPP_RELEASE_PREFIX) SIPALG_REQUIRE_VPP=1 \
	  SIPALG_TIERS_FILE=$(abspath $(BUILD)/tiers-release.txt) \
	  $(PY) -m pytest $(PYTEST_ARGS) $(if $(RELEASE_K),-k "$(RELEASE_K)") $(RELEASE_TESTS)

# Source mutants of the SIP core against its tests (tests/mutation/mutate.py; about 50 min for
# all ~850 on 2 CPUs; MUTATE_ARGS="--sample 100" for a quick look)
mutate: venv
	@mkdir -p $(BUILD)/mutation
	$(PY) tests/mutation/mutate.py --json $(BUILD)/mutation/core.json $(MUTATE_ARGS)

# Reviewed source mutants of the VPP nodes' decisions (vpp-plugin/sip_alg/*.c outside core/)
# against their tests/vpp selections, each plugin built in a scratch copy, VPP runs under
# /tmp/vpp-test.lock (tests/mutation/node_mutate.py; MUTATE_ARGS="--only ID,..." for some,
# "--list" to see them)
mutate-node: venv
	@test -n "$(VPP_PREFIX)" || { echo "VPP not found (VPP_PREFIX, /usr, /usr/local, /opt/vpp)"; exit 2; }
	@mkdir -p $(BUILD)/mutation
	$(PY) tests/mutation/node_mutate.py --vpp-prefix $(VPP_PREFIX) \
	  --json $(BUILD)/mutation/node.json $(MUTATE_ARGS)

sanitize: $(BUILD)/san/test_core $(BUILD)/san/test_core_scalar $(BUILD)/san/test_tcp
	$(BUILD)/san/test_core tests/fuzz/corpus tests/fuzz/found
	$(BUILD)/san/test_core_scalar tests/fuzz/corpus tests/fuzz/found
	$(BUILD)/san/test_tcp

fuzz: $(BUILD)/fuzz/fuzz_core
	@mkdir -p $(BUILD)/fuzz/corpus
	$(BUILD)/fuzz/fuzz_core -max_total_time=$(FUZZ_SECONDS) -timeout=5 -rss_limit_mb=2048 \
	  -print_final_stats=1 $(BUILD)/fuzz/corpus tests/fuzz/corpus tests/fuzz/found

bench: $(BUILD)/perf/core_bench
	python3 perf/core_bench.py $(BUILD)/perf/core_bench

pg-bench: plugin venv
	VPP_PREFIX=$(VPP_PREFIX) $(PY) perf/pg_bench.py --json $(BUILD)/pg-bench.json

call-bench: plugin venv
	VPP_PREFIX=$(VPP_PREFIX) $(PY) perf/call_bench.py --json $(BUILD)/call-bench.json

# VPP's nat_plugin.so with vpp-plugin/patches/ applied (docs/performance.md, "A patched
# NAT44-ED"), built against $(VPP_PREFIX) from VPP_SRC, VPP's source at that VPP's commit.
nat-patched:
	@test -n "$(VPP_SRC)" || { echo "make nat-patched: set VPP_SRC to VPP's source tree at the commit of $(VPP_PREFIX) (git clone https://github.com/FDio/vpp)"; exit 2; }
	vpp-plugin/patches/build-nat-plugin.sh $(VPP_SRC) $(VPP_PREFIX) $(BUILD)/nat-patched

test-nat-patched: plugin venv nat-patched
	VPP_PREFIX=$(VPP_PREFIX) $(PY) -m pytest -q tests/vpp/check_nat_patched.py

call-bench-patched: plugin venv nat-patched
	VPP_PREFIX=$(VPP_PREFIX) $(PY) perf/call_bench.py --nat-plugin-dir $(BUILD)/nat-patched/lib/vpp_plugins --json $(BUILD)/call-bench-patched.json

# Issue 13's proof in full (CI runs the short form: tests/vpp/test_pg_stress.py)
stress: plugin venv
	@mkdir -p $(BUILD)/stress
	VPP_PREFIX=$(VPP_PREFIX) $(PY) perf/stress.py --json $(BUILD)/stress/stress-0w.json
	VPP_PREFIX=$(VPP_PREFIX) $(PY) perf/stress.py --parts flood --workers 2 \
	  --json $(BUILD)/stress/flood-2w.json

# A debug VPP built with VPP_ENABLE_SANITIZE_ADDR=ON (outside this repository), and the
# plugin built with -fsanitize=address against it (by clang, as VPP: one ASan runtime) and
# with CLIB_DEBUG as VPP's own debug plugins: VPP's buffer alloc and free are inline, and
# the debug VPP's check that no buffer is allocated twice sees only code built with it
VPP_ASAN_PREFIX ?= /opt/vpp-asan
ASAN_PLUGIN := $(BUILD)/asan/lib/vpp_plugins/sip_alg_plugin.so
$(ASAN_PLUGIN): $(PLUGIN_SRCS) Makefile
	cmake -G Ninja -S vpp-plugin -B $(BUILD)/asan -DCMAKE_PREFIX_PATH=$(VPP_ASAN_PREFIX) -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="-fsanitize=address -fno-omit-frame-pointer -DCLIB_DEBUG" >/dev/null
	ninja -C $(BUILD)/asan

plugin-asan: $(ASAN_PLUGIN)

stress-asan: plugin-asan venv
	@test -x $(VPP_ASAN_PREFIX)/bin/vpp || { echo "no ASan VPP in $(VPP_ASAN_PREFIX)"; exit 2; }
	@mkdir -p $(BUILD)/stress
	VPP_PREFIX=$(VPP_ASAN_PREFIX) SIPALG_PLUGIN_DIR=$(abspath $(BUILD)/asan/lib/vpp_plugins) \
	  $(PY) perf/stress.py --parts mutate,soak --mutations $(or $(MUTATIONS),1000000) \
	  --calls 4000 --rounds 2 --json $(BUILD)/stress/asan.json

# Issue 22's proof in full (CI runs the short form: 5 calls of loss10, dup, reorder)
impair: plugin venv
	@mkdir -p $(BUILD)/impair
	IMPAIR_CALLS=$(IMPAIR_CALLS) IMPAIR_PROFILES=$(IMPAIR_PROFILES) \
	  IMPAIR_REPORT=$(abspath $(BUILD)/impair) VPP_PREFIX=$(VPP_PREFIX) \
	  $(PY) -m pytest -q -rA --basetemp=$(BUILD)/impair/tmp $(PYTEST_ARGS) tests/e2e/test_impaired.py

perf-trex: plugin venv
	VPP_PREFIX=$(VPP_PREFIX) $(PY) perf/trex/run.py --out $(BUILD)/trex

# the same with VPP, not TRex, the bottleneck: VPP capped at VPP_CPU of one CPU
VPP_CPU ?= 0.3
perf-trex-vpp-bound: plugin venv
	VPP_PREFIX=$(VPP_PREFIX) $(PY) perf/trex/run.py --vpp-cpu $(VPP_CPU) --search-rounds 2 --profiles udp64,udp512,sip --out $(BUILD)/trex-vpp-bound

# whole SIP calls per second through the ALG (the calls profile); TREX_ARGS passes run.py
# options, e.g. TREX_ARGS="--vpp-cpu 0.3" for VPP as the bottleneck
TREX_ARGS ?=
perf-trex-calls: plugin venv
	VPP_PREFIX=$(VPP_PREFIX) $(PY) perf/trex/run.py --profiles calls --out $(BUILD)/trex-calls $(TREX_ARGS)

ci: sanitize fuzz test

ifeq ($(VPP_PREFIX),)
demo:
	@echo "demo: VPP not found (VPP_PREFIX, /usr, /usr/local, /opt/vpp). Build VPP from FDio/vpp" \
	  "source and install it into one of those prefixes (README: Install), then: make demo"; exit 2
else
demo: plugin venv
	VPP_PREFIX=$(VPP_PREFIX) PYTHON=$(abspath $(PY)) bash mgmt/examples/demo.sh
endif

docs: venv
	PYTHONPATH=mgmt $(PY) -m sipalgctl.reference > docs/configuration.md.tmp
	mv docs/configuration.md.tmp docs/configuration.md

clean:
	rm -rf $(BUILD)
