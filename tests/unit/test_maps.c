/* test_maps.c — profiler/maps.c: executable mappings of /proc/self/maps.
 *
 * Parsing is checked on a fixed file in /proc/PID/maps format (written to a
 * temporary file), the live read on this process. */
#include "tt_prof.h"

#include "profiler/maps.h"

/* A maps file with what the kernel shows: data and text of a binary, a
 * path with spaces, anonymous memory, the vdso and the vsyscall page. */
static const char fake_maps[] =
    "555500000000-555500001000 r--p 00000000 08:01 100 /usr/bin/prog\n"
    "555500001000-555500005000 r-xp 00001000 08:01 100 /usr/bin/prog\n"
    "555500005000-555500006000 rw-p 00005000 08:01 100 /usr/bin/prog\n"
    "7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \n"
    "7f0000100000-7f0000180000 r-xp 00028000 08:01 200 /opt/my lib/libx.so\n"
    "7f0000200000-7f0000201000 r-xp 00000000 00:00 0\n"
    "7ffc00000000-7ffc00002000 r-xp 00000000 00:00 0 [vdso]\n"
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]\n"
    "this line is not a mapping\n";

/* Parse fake_maps with exe as the main executable's path. */
static void parse_fake(const char *exe, struct ts__maps *m)
{
    char path[] = "/tmp/test_maps.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, fake_maps, sizeof fake_maps - 1),
                     (ssize_t)(sizeof fake_maps - 1));
    close(fd);
    int r = ts__maps_parse(path, exe, m);
    unlink(path);
    assert_int_equal(r, 0);
}

static void test_maps_keeps_only_executable_entries(void **state)
{
    (void)state;
    struct ts__maps m;
    parse_fake(NULL, &m);
    assert_int_equal(m.n, 5);
    assert_string_equal(m.entries[0].path, "/usr/bin/prog");
    assert_int_equal(m.entries[0].start, 0x555500001000);
    assert_int_equal(m.entries[0].limit, 0x555500005000);
    assert_int_equal(m.entries[0].file_offset, 0x1000);
    assert_string_equal(m.entries[2].path, "");
    assert_string_equal(m.entries[3].path, "[vdso]");
    assert_string_equal(m.entries[4].path, "[vsyscall]");
    ts__maps_free(&m);
    tp_end();
}

static void test_maps_path_with_spaces_is_kept_whole(void **state)
{
    (void)state;
    struct ts__maps m;
    parse_fake(NULL, &m);
    assert_string_equal(m.entries[1].path, "/opt/my lib/libx.so");
    assert_int_equal(m.entries[1].file_offset, 0x28000);
    ts__maps_free(&m);
    tp_end();
}

static void test_maps_marks_first_text_of_main_executable(void **state)
{
    (void)state;
    struct ts__maps m;
    parse_fake("/usr/bin/prog", &m);
    assert_int_equal(m.main_index, 0);
    assert_true(m.entries[0].main);
    for (size_t i = 1; i < m.n; i++)
        assert_false(m.entries[i].main);
    ts__maps_free(&m);
    parse_fake(NULL, &m);
    assert_int_equal(m.main_index, SIZE_MAX);
    ts__maps_free(&m);
    tp_end();
}

/* [start, limit): start belongs to the entry, limit does not. */
static void test_maps_find_uses_half_open_ranges(void **state)
{
    (void)state;
    struct ts__maps m;
    parse_fake(NULL, &m);
    assert_ptr_equal(ts__maps_find(&m, 0x555500001000), &m.entries[0]);
    assert_ptr_equal(ts__maps_find(&m, 0x555500004fff), &m.entries[0]);
    assert_null(ts__maps_find(&m, 0x555500005000));
    assert_null(ts__maps_find(&m, 0x555500000fff));
    assert_ptr_equal(ts__maps_find(&m, 0x7ffc00000010), &m.entries[3]);
    assert_null(ts__maps_find(&m, 0));
    ts__maps_free(&m);
    tp_end();
}

static void test_maps_missing_file_returns_errno(void **state)
{
    (void)state;
    struct ts__maps m;
    assert_int_equal(ts__maps_parse("/nonexistent/maps", NULL, &m), ENOENT);
    assert_int_equal(m.n, 0);
    ts__maps_free(&m); /* an empty snapshot frees fine */
    tp_end();
}

static void TP_NOINLINE some_code(void) { __asm__ volatile(""); }

static void test_maps_read_self_finds_main_text(void **state)
{
    (void)state;
    struct ts__maps m;
    assert_int_equal(ts__maps_read(&m), 0);
    assert_true(m.main_index != SIZE_MAX);
    const struct ts__maps_entry *e = ts__maps_find(&m, (uintptr_t)some_code);
    assert_non_null(e);
    assert_true(e->main);
    assert_string_equal(e->path, tp_exe_path());
    ts__maps_free(&m);
    tp_end();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TP_TEST(test_maps_keeps_only_executable_entries),
        TP_TEST(test_maps_path_with_spaces_is_kept_whole),
        TP_TEST(test_maps_marks_first_text_of_main_executable),
        TP_TEST(test_maps_find_uses_half_open_ranges),
        TP_TEST(test_maps_missing_file_returns_errno),
        TP_TEST(test_maps_read_self_finds_main_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
