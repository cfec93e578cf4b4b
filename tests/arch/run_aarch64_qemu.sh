#!/usr/bin/env bash
# run_aarch64_qemu.sh — CTest arch.aarch64_qemu: cross-compile the runtime
# for aarch64 with switch_aarch64.S and run aarch64_smoke.c under qemu-aarch64.
#
# The project's CMake build is not used: it also links the profiler, whose
# libraries (libdw, zlib, protobuf-c) are not installed for arm64. This
# compiles the runtime's C sources (the list the library builds, passed by
# tests/arch/CMakeLists.txt), switch_aarch64.S, the smoke program and
# aarch64_shims.c into one static executable.
#
# Exits 77 (skipped) when the cross compiler, its static C library or
# qemu-aarch64 is missing; `make deps` installs them (tools/deps.txt).
#
# Usage: run_aarch64_qemu.sh SOURCE_DIR WORK_DIR RUNTIME_C_SOURCE...
# Environment: TS_AARCH64_CC (default aarch64-linux-gnu-gcc),
#              TS_QEMU_AARCH64 (default qemu-aarch64),
#              CHECK_TIMEOUT seconds for the qemu run (default 240).
set -uo pipefail

src=$1
work=$2
shift 2
cc=${TS_AARCH64_CC:-aarch64-linux-gnu-gcc}
qemu=${TS_QEMU_AARCH64:-qemu-aarch64}

skip() {
    echo "SKIP: arch.aarch64_qemu: $*; install with \`make deps\`" \
         "(tools/deps.txt)"
    exit 77
}
command -v "$cc" >/dev/null 2>&1 ||
    skip "no $cc (Debian: gcc-aarch64-linux-gnu)"
command -v "$qemu" >/dev/null 2>&1 ||
    skip "no $qemu (Debian: qemu-user)"
libc=$("$cc" -print-file-name=libc.a)
[ -f "$libc" ] ||
    skip "$cc has no static libc.a (Debian: libc6-dev-arm64-cross)"

mkdir -p "$work"
exe=$work/aarch64_smoke
echo "compiling with $cc: $# runtime sources, switch_aarch64.S, smoke test"
"$cc" -std=gnu11 -O2 -g -fno-omit-frame-pointer -pthread -D_GNU_SOURCE \
    -Wall -Wextra -Wno-unused-parameter \
    -I"$src" -I"$src/include" \
    "$@" "$src/runtime/switch_aarch64.S" \
    "$src/tests/arch/aarch64_smoke.c" "$src/tests/arch/aarch64_shims.c" \
    -static -Wl,--wrap=madvise -o "$exe"
rc=$?
if [ $rc -ne 0 ]; then
    echo "FAIL: cross-compilation failed (exit $rc)"
    exit 1
fi

echo "running under $qemu ($("$qemu" --version | head -n1))"
timeout -k 5 "${CHECK_TIMEOUT:-240}" "$qemu" "$exe" 2>&1 |
    tee "$work/smoke.log"
rc=${PIPESTATUS[0]}
if [ $rc -eq 124 ]; then
    echo "FAIL: aarch64_smoke timed out after ${CHECK_TIMEOUT:-240} s"
    exit 1
elif [ $rc -ne 0 ]; then
    echo "FAIL: aarch64_smoke exited with status $rc"
    exit 1
fi
if [ "$(tail -n 1 "$work/smoke.log")" != "aarch64 ok" ]; then
    echo "FAIL: aarch64_smoke did not end with \"aarch64 ok\""
    exit 1
fi
