/* test_symbolize.c — profiler/symbolize.c: addresses of this test's own
 * code (and of libc) to functions, files, lines, inlined frames, build ids.
 *
 * Addresses come from __builtin_return_address in small out-of-line
 * functions: the return address minus one lies in the call instruction, so
 * its line is the line of the call, which each caller records next to the
 * call with __LINE__ (same line, so it is the call's line at any -O). */
#include "tt_prof.h"

#include <dlfcn.h>

#include "profiler/symbolize.h"

/* Each test gets its own symbolizer (sym_setup) and ends with sym_end,
 * which frees it before the closing check, so the fd check also covers
 * the ELF files libdw opened. */
static struct ts__symbolizer *sym;

static int sym_setup(void **state)
{
    int r = tp_setup(state);
    return r != 0 ? r : (ts__symbolizer_new(&sym) == 0 ? 0 : -1);
}

static int sym_teardown(void **state)
{
    ts__symbolizer_free(sym); /* after a failed assert */
    sym = NULL;
    return tt_teardown(state);
}

static void sym_end(void)
{
    ts__symbolizer_free(sym);
    sym = NULL;
    tp_end();
}

#define SYM_TEST(f) cmocka_unit_test_setup_teardown(f, sym_setup, sym_teardown)

static uintptr_t recorded_ra; /* set by record_ra */

static TP_NOINLINE void record_ra(void)
{
    recorded_ra = (uintptr_t)__builtin_return_address(0);
}

/* The caller's address inside the call to record_ra. */
static uint64_t recorded_call(void) { return (uint64_t)recorded_ra - 1; }

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Symbolize addr, failing the test unless it gives 0 and >= 1 frame. */
static const struct ts__frame *frames_at(uint64_t addr, size_t *n)
{
    const struct ts__frame *f = NULL;
    int r = ts__symbolize(sym, addr, &f, n);
    if (r != 0 || *n == 0 || !f)
        fail_msg("ts__symbolize(%#llx) = %d, %zu frames",
                 (unsigned long long)addr, r, *n);
    return f;
}

/* ---- argument checks --------------------------------------------------- */

static void test_symbolizer_new_rejects_null(void **state)
{
    (void)state;
    assert_int_equal(ts__symbolizer_new(NULL), EINVAL);
    ts__symbolizer_free(NULL); /* NULL is fine */
    sym_end();
}

static void test_symbolize_rejects_null_arguments(void **state)
{
    (void)state;
    const struct ts__frame *f;
    size_t n;
    struct ts__module m;
    assert_int_equal(ts__symbolize(NULL, 1, &f, &n), EINVAL);
    assert_int_equal(ts__symbolize(sym, 1, NULL, &n), EINVAL);
    assert_int_equal(ts__symbolize(sym, 1, &f, NULL), EINVAL);
    assert_int_equal(ts__symbolizer_module(NULL, 1, &m), EINVAL);
    assert_int_equal(ts__symbolizer_module(sym, 1, NULL), EINVAL);
    sym_end();
}

/* ---- functions, files, lines ------------------------------------------- */

static int plain_call_line;
static int plain_decl_line = __LINE__ + 1;
static TP_NOINLINE void plain_caller(void)
{
    plain_call_line = __LINE__; record_ra();
    TP_NO_TAIL_CALL();
}

static void test_symbolize_names_function_file_and_line(void **state)
{
    (void)state;
    plain_caller();
    size_t n;
    const struct ts__frame *f = frames_at(recorded_call(), &n);
    assert_int_equal(n, 1);
    assert_string_equal(f[0].function, "plain_caller");
    assert_string_equal(f[0].system_name, "plain_caller");
    assert_true(ends_with(f[0].file, "tests/unit/test_symbolize.c"));
    assert_int_equal(f[0].line, plain_call_line);
    assert_int_equal(f[0].start_line, plain_decl_line);
    sym_end();
}

/* An inlined function is reported as its own frame, innermost first, at
 * the call inside it; the physical caller follows at the line where the
 * inlined body was placed (DW_AT_call_line). */
static int inner_call_line, outer_call_line;
static inline __attribute__((always_inline)) void inlined_body(void)
{
    inner_call_line = __LINE__; record_ra();
    TP_NO_TAIL_CALL();
}

static TP_NOINLINE void inlining_caller(void)
{
    outer_call_line = __LINE__; inlined_body();
    TP_NO_TAIL_CALL();
}

static void test_symbolize_inlined_frames_innermost_first(void **state)
{
    (void)state;
    inlining_caller();
    size_t n;
    const struct ts__frame *f = frames_at(recorded_call(), &n);
    assert_int_equal(n, 2);
    assert_string_equal(f[0].function, "inlined_body");
    assert_int_equal(f[0].line, inner_call_line);
    assert_true(ends_with(f[0].file, "test_symbolize.c"));
    assert_string_equal(f[1].function, "inlining_caller");
    assert_int_equal(f[1].line, outer_call_line);
    assert_true(ends_with(f[1].file, "test_symbolize.c"));
    sym_end();
}

/* Static functions have no dynamic symbol (dladdr cannot name them); the
 * symbolizer reads DWARF and the full symbol table. plain_caller is static
 * too; this one is called through a pointer so it cannot be inlined. */
static TP_NOINLINE void static_target(void)
{
    record_ra();
    TP_NO_TAIL_CALL();
}
static void (*volatile static_ptr)(void) = static_target;

static void test_symbolize_names_static_function(void **state)
{
    (void)state;
    static_ptr();
    size_t n;
    const struct ts__frame *f = frames_at(recorded_call(), &n);
    assert_string_equal(f[n - 1].function, "static_target");
    sym_end();
}

/* libc has no DWARF on a stock system: the ELF symbol names the function
 * and file/line stay empty (with libc6-dbg installed, DWARF answers and
 * the name is the same). The address is libc's own qsort, looked up in
 * libc.so.6: `qsort` in this file would be the sanitizers' interceptor in
 * the asan and tsan builds. */
static void test_symbolize_library_function_by_symbol(void **state)
{
    (void)state;
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(libc);
    void *fn = dlsym(libc, "qsort");
    dlclose(libc);
    assert_non_null(fn);
    size_t n;
    const struct ts__frame *f = frames_at((uint64_t)(uintptr_t)fn + 1, &n);
    assert_string_equal(f[n - 1].function, "qsort");
    if (f[n - 1].file[0] == '\0')
        assert_int_equal(f[n - 1].line, 0);
    sym_end();
}

/* ---- cache and failures ------------------------------------------------ */

static void test_symbolize_caches_per_address(void **state)
{
    (void)state;
    plain_caller();
    size_t n1, n2;
    const struct ts__frame *a = frames_at(recorded_call(), &n1);
    const struct ts__frame *b = frames_at(recorded_call(), &n2);
    assert_ptr_equal(a, b);
    assert_int_equal(n1, n2);
    sym_end();
}

/* Unknown addresses fail cleanly, the first time and from the cache. */
static void test_symbolize_unknown_address_is_enoent(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        const struct ts__frame *f = (const struct ts__frame *)&f;
        size_t n = 99;
        assert_int_equal(ts__symbolize(sym, 0x10, &f, &n), ENOENT);
        assert_null(f);
        assert_int_equal(n, 0);
    }
    const struct ts__frame *f;
    size_t n;
    assert_int_equal(ts__symbolize(sym, UINT64_MAX - 7, &f, &n), ENOENT);
    sym_end();
}

/* ---- modules ----------------------------------------------------------- */

static void test_symbolizer_module_main_has_build_id(void **state)
{
    (void)state;
    char want[2 * 64 + 1];
    assert_true(tp_main_build_id(want, sizeof want));
    struct ts__module m;
    assert_int_equal(
        ts__symbolizer_module(sym, (uint64_t)(uintptr_t)plain_caller, &m), 0);
    assert_string_equal(m.path, tp_exe_path());
    assert_string_equal(m.build_id, want);
    assert_true(m.start <= (uintptr_t)plain_caller);
    assert_true((uintptr_t)plain_caller < m.end);
    sym_end();
}

static void test_symbolizer_module_unknown_address_is_enoent(void **state)
{
    (void)state;
    struct ts__module m;
    assert_int_equal(ts__symbolizer_module(sym, 0x10, &m), ENOENT);
    sym_end();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        SYM_TEST(test_symbolizer_new_rejects_null),
        SYM_TEST(test_symbolize_rejects_null_arguments),
        SYM_TEST(test_symbolize_names_function_file_and_line),
        SYM_TEST(test_symbolize_inlined_frames_innermost_first),
        SYM_TEST(test_symbolize_names_static_function),
        SYM_TEST(test_symbolize_library_function_by_symbol),
        SYM_TEST(test_symbolize_caches_per_address),
        SYM_TEST(test_symbolize_unknown_address_is_enoent),
        SYM_TEST(test_symbolizer_module_main_has_build_id),
        SYM_TEST(test_symbolizer_module_unknown_address_is_enoent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
