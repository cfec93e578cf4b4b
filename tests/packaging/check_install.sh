#!/usr/bin/env bash
# check_install.sh — packaging test, run by CTest (tests/packaging).
#
# Installs a configured and built taskscope build tree into a temporary
# prefix and checks what a downstream user relies on:
#   1. the prefix holds headers, libtaskscope.so{,.0}, the CMake package
#      files and taskscope.pc;
#   2. the SONAME is libtaskscope.so.0;
#   3. `nm -D --defined-only` shows only ts_* symbols (ABI = TS_EXPORT only);
#   4. `pkg-config --validate taskscope` passes and the .pc version matches
#      the CMake package version;
#   5. tests/packaging/consumer builds with find_package(taskscope) against
#      the prefix (shared and static target) and runs;
#   6. the same main.c builds with `cc $(pkg-config --cflags --libs taskscope)`
#      in strict C11 with -Werror and runs with LD_LIBRARY_PATH.
# Each failure prints "packaging: FAIL: <what>" and exits 1.
#
# Usage: check_install.sh CMAKE BUILD_DIR CONSUMER_SRC CC [GENERATOR]
set -euo pipefail

if [ $# -lt 4 ]; then
    echo "usage: $0 CMAKE BUILD_DIR CONSUMER_SRC CC [GENERATOR]" >&2
    exit 2
fi
cmake=$1 builddir=$2 consumer_src=$3 cc=$4 generator=${5:-Ninja}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/taskscope-packaging.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

step() { echo "packaging: $*"; }
fail() { echo "packaging: FAIL: $*" >&2; exit 1; }
# run_logged LOG CMD...: run CMD quietly; on failure show its output.
run_logged() {
    local log=$1; shift
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        return 1
    fi
}

# --- 1. install ---------------------------------------------------------------
step "cmake --install $builddir --prefix $prefix"
run_logged "$tmp/install.log" "$cmake" --install "$builddir" --prefix "$prefix" ||
    fail "cmake --install failed (is the build tree built?)"

pc=$(find "$prefix" -name taskscope.pc -path '*/pkgconfig/*' -print -quit)
config=$(find "$prefix" -name taskscopeConfig.cmake -print -quit)
[ -n "$pc" ] || fail "no taskscope.pc installed under $prefix"
[ -n "$config" ] || fail "no taskscopeConfig.cmake installed under $prefix"
libdir=$(dirname "$(dirname "$pc")")
cmakedir=$(dirname "$config")
for f in "$libdir/libtaskscope.so" "$libdir/libtaskscope.so.0" \
         "$libdir/libtaskscope.a" \
         "$prefix/include/taskscope/taskscope.h" \
         "$cmakedir/taskscopeConfigVersion.cmake" \
         "$cmakedir/taskscopeTargets.cmake"; do
    [ -e "$f" ] || fail "missing from the install: ${f#"$prefix"/}"
done
if grep -q taskscope_objects "$cmakedir"/taskscopeTargets*.cmake; then
    fail "the exported targets mention the internal OBJECT library taskscope_objects"
fi
step "installed files ok ($(find "$prefix" -type f | wc -l) files)"

# --- 2. SONAME ------------------------------------------------------------------
soname=$(readelf -d "$libdir/libtaskscope.so" |
         sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
[ "$soname" = libtaskscope.so.0 ] ||
    fail "SONAME is '${soname}', want libtaskscope.so.0"
step "SONAME $soname ok"

# --- 3. exported symbols --------------------------------------------------------
# Defined dynamic symbols, skipping absolute ones (type A: version nodes and
# linker markers such as _edata) and the ELF init/fini entry points.
nm -D --defined-only "$libdir/libtaskscope.so" >"$tmp/nm.txt" ||
    fail "nm -D failed on libtaskscope.so"
awk 'NF >= 3 && $2 != "A" { print $3 }' "$tmp/nm.txt" |
    sed 's/@.*//' | grep -vxE '_init|_fini' | sort -u >"$tmp/syms.txt" || true
grep -v '^ts_' "$tmp/syms.txt" >"$tmp/bad.txt" || true
if [ -s "$tmp/bad.txt" ]; then
    sed 's/^/    /' "$tmp/bad.txt" >&2
    fail "libtaskscope.so exports $(wc -l <"$tmp/bad.txt") symbol(s) without the ts_ prefix (listed above; make them static or leave them hidden)"
fi
grep -qx ts_run "$tmp/syms.txt" || fail "ts_run is not exported"
step "exports ok ($(wc -l <"$tmp/syms.txt") ts_* symbols)"

# --- 4. pkg-config metadata -----------------------------------------------------
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
pkg-config --validate taskscope ||
    fail "pkg-config --validate taskscope failed for $pc"
pc_version=$(pkg-config --modversion taskscope)
cmake_version=$(sed -n 's/^set(PACKAGE_VERSION "\(.*\)")/\1/p' \
                "$cmakedir/taskscopeConfigVersion.cmake")
if [ -z "$pc_version" ] || [ "$pc_version" != "$cmake_version" ]; then
    fail "taskscope.pc version '$pc_version' != CMake package version '$cmake_version'"
fi
case "$(pkg-config --cflags taskscope) $(pkg-config --libs taskscope)" in
    *"$prefix"*) ;;
    *) fail "pkg-config flags do not point into the install prefix: $(pkg-config --cflags --libs taskscope)" ;;
esac
step "pkg-config ok (version $pc_version)"

# --- 5. find_package consumer ---------------------------------------------------
# run_consumer NAME BINARY [ENV...]: run it, check status and output.
run_consumer() {
    local name=$1 bin=$2; shift 2
    local out
    if ! out=$(env "$@" timeout 60 "$bin" 2>&1); then
        echo "$out" >&2
        fail "$name consumer exited non-zero"
    fi
    case "$out" in
        *"consumer: ok"*) step "$name consumer ran: $out" ;;
        *) echo "$out" >&2; fail "$name consumer did not print 'consumer: ok'" ;;
    esac
}

for flavour in shared static; do
    static=OFF; [ $flavour = static ] && static=ON
    bdir=$tmp/consumer-$flavour
    # Search only the prefix under test (no package registries), so a copy
    # installed elsewhere cannot make this pass.
    run_logged "$tmp/configure-$flavour.log" "$cmake" -S "$consumer_src" -B "$bdir" \
        -G "$generator" -DCMAKE_C_COMPILER="$cc" \
        -DCMAKE_PREFIX_PATH="$prefix" -DTS_CONSUMER_STATIC=$static \
        -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
        -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF ||
        fail "find_package consumer ($flavour): configure failed"
    grep -q "taskscope_DIR=$prefix/" "$tmp/configure-$flavour.log" ||
        fail "find_package found taskscope outside $prefix: $(grep taskscope_DIR= "$tmp/configure-$flavour.log")"
    run_logged "$tmp/build-$flavour.log" "$cmake" --build "$bdir" ||
        fail "find_package consumer ($flavour): build failed"
    # Outputs are captured before grep: with pipefail, `cmd | grep -q` fails
    # when grep exits at its first match and cmd then dies of SIGPIPE.
    if [ $flavour = shared ]; then
        # CMake put the prefix's lib dir in the RUNPATH: check it is used.
        deps=$(ldd "$bdir/consumer")
        grep -q "libtaskscope.so.0 => $libdir/" <<<"$deps" ||
            fail "find_package consumer does not load libtaskscope.so.0 from $libdir: $(grep taskscope <<<"$deps")"
    else
        dyn=$(readelf -d "$bdir/consumer")
        if grep -q 'libtaskscope\.so' <<<"$dyn"; then
            fail "static consumer still depends on libtaskscope.so"
        fi
    fi
    run_consumer "find_package ($flavour)" "$bdir/consumer"
done

# --- 6. pkg-config consumer -----------------------------------------------------
# shellcheck disable=SC2046  # word splitting of the flags is intended
"$cc" -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer-pc" \
    "$consumer_src/main.c" $(pkg-config --cflags --libs taskscope) \
    2>"$tmp/cc.log" || { cat "$tmp/cc.log" >&2; fail "pkg-config consumer: compile/link failed"; }
run_consumer "pkg-config" "$tmp/consumer-pc" LD_LIBRARY_PATH="$libdir"

step "all checks passed"
