# taskscope — thin front end over the CMake presets (CMakePresets.json).
#
#   make deps      install missing Debian packages (tools/deps.txt)
#   make build     configure + build the debug preset        -> build/debug
#   make test      deps, then configure/build/ctest debug, then tsan
#   make demo      build, then show the profiler on sample apps (tools/demo.sh)
#   make bench     deps, then bench/run.sh (vs Go) and bench/overhead.sh
#                  (profiler recording on vs off)
#   make install   release build installed into $(PREFIX) (DESTDIR honoured)
#   make clean     remove the preset build directories build/{debug,...}
#
# Single presets: make test-debug | test-release | test-asan | test-tsan.
# Everything real lives in CMake; this file only strings the steps together.

SHELL := /bin/bash

PRESETS     := debug release asan tsan
JOBS        ?= 2
PREFIX      ?= /usr/local
# The demo (tools/demo.sh) runs in the build directory of DEMO_PRESET.
DEMO_PRESET ?= debug

.PHONY: all help deps build test demo bench install clean \
        $(addprefix test-,$(PRESETS))

all: build

help:
	@sed -n '3,13s/^# \{0,1\}//p' $(firstword $(MAKEFILE_LIST))

deps:
	@bash tools/deps.sh

build: deps
	cmake --preset debug
	cmake --build --preset debug

# test-PRESET: configure, build and run the tests of one preset.
$(addprefix test-,$(PRESETS)):
	cmake --preset $(@:test-%=%)
	cmake --build --preset $(@:test-%=%)
	ctest --preset $(@:test-%=%) --output-on-failure -j$(JOBS)

# Both passes run even if the first fails, so one CI run shows both results.
# A TSan failure also prints vm.mmap_rnd_bits: 32 breaks clang-14's TSan
# ("unexpected memory mapping"; CONVENTIONS.md §4).
test: deps
	@rc=0; \
	$(MAKE) --no-print-directory test-debug || { rc=1; echo "make test: debug pass FAILED"; }; \
	if ! $(MAKE) --no-print-directory test-tsan; then \
	    rc=1; echo "make test: tsan pass FAILED"; \
	    echo "vm.mmap_rnd_bits = $$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo unknown)" \
	         "(TSan of LLVM <= 17 needs <= 30; fix: sysctl vm.mmap_rnd_bits=28)"; \
	fi; \
	[ $$rc -eq 0 ] && echo "make test: debug and tsan passes OK"; \
	exit $$rc

demo: deps
	cmake --preset $(DEMO_PRESET)
	cmake --build --preset $(DEMO_PRESET)
	bash tools/demo.sh build/$(DEMO_PRESET)

bench: deps
	bash bench/run.sh
	bash bench/overhead.sh

install: deps
	cmake --preset release -DCMAKE_INSTALL_PREFIX="$(PREFIX)"
	cmake --build --preset release
	cmake --install build/release --prefix "$(PREFIX)"

# Only the preset directories: other build/* trees belong to other tools.
clean:
	rm -rf $(addprefix build/,$(PRESETS))
