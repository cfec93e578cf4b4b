/* test_delta.c — profiler/delta.c: the delta profiles of
 * /debug/pprof/NAME?seconds=N and the index counts, on profiles built with
 * the profile builder (made-up addresses, unsymbolized) and read back with
 * protobuf-c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "profile.pb-c.h"
#include "profiler/delta.h"
#include "profiler/pprof.h"
#include "profiler/profile.h"

typedef Taskscope__Pprof__Profile PbProfile;

struct gz {
    uint8_t *data;
    size_t len;
};

/* One sample to build: a stack of up to 3 addresses, two values, an
 * optional label. */
struct spec {
    uintptr_t stack[3];
    size_t depth;
    int64_t v[2];
    const char *label; /* role=<label>, or NULL */
};

static struct gz build(const struct spec *s, size_t n, int ntypes)
{
    struct ts__profile *p;
    assert_int_equal(ts__profile_new(&p), 0);
    assert_int_equal(ts__profile_add_sample_type(p, "contentions", "count"), 0);
    if (ntypes > 1)
        assert_int_equal(ts__profile_add_sample_type(p, "delay", "nanoseconds"), 0);
    for (size_t i = 0; i < n; i++) {
        struct ts__label l = {"role", s[i].label, 0, NULL};
        struct ts__sample smp = {s[i].stack, s[i].depth, s[i].v, (size_t)ntypes,
                                 &l, s[i].label ? 1 : 0, 0};
        assert_int_equal(ts__profile_add_sample(p, &smp), 0);
    }
    int fd = memfd_create("test_delta", 0);
    assert_true(fd >= 0);
    assert_int_equal(ts__pprof_write(p, fd), 0);
    ts__profile_free(p);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    struct gz g = {malloc((size_t)st.st_size), (size_t)st.st_size};
    assert_int_equal(pread(fd, g.data, g.len, 0), (ssize_t)g.len);
    close(fd);
    return g;
}

static PbProfile *decode(const struct gz *g)
{
    uint8_t buf[1 << 16];
    uLongf len = sizeof buf;
    z_stream z = {.next_in = g->data, .avail_in = (uInt)g->len,
                  .next_out = buf, .avail_out = sizeof buf};
    assert_int_equal(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    len = sizeof buf - z.avail_out;
    inflateEnd(&z);
    PbProfile *p = taskscope__pprof__profile__unpack(NULL, len, buf);
    assert_non_null(p);
    return p;
}

/* leaf_address: the address of the leaf location of sample i. */
static uint64_t leaf_address(const PbProfile *p, size_t i)
{
    uint64_t id = p->sample[i]->location_id[0];
    for (size_t k = 0; k < p->n_location; k++)
        if (p->location[k]->id == id)
            return p->location[k]->address;
    fail_msg("sample %zu: no location %llu", i, (unsigned long long)id);
    return 0;
}

/* find: the sample whose leaf is the return address ret (stored as is
 * or minus one, the builder's call-instruction adjustment), or NULL. */
static const Taskscope__Pprof__Sample *find(const PbProfile *p, uint64_t ret)
{
    for (size_t i = 0; i < p->n_sample; i++)
        if (leaf_address(p, i) == ret || leaf_address(p, i) == ret - 1)
            return p->sample[i];
    return NULL;
}

static void test_delta_subtracts_per_stack_and_label(void **state)
{
    (void)state;
    const struct spec s0[] = {
        {{0x1000, 0x2000}, 2, {1, 10}, NULL},     /* grows */
        {{0x1100, 0x2000}, 2, {2, 20}, "a"},      /* unchanged: dropped */
        {{0x1100, 0x2000}, 2, {5, 50}, "b"},      /* same stack, other label */
        {{0x1900, 0x2900}, 2, {4, 40}, "gone"},   /* only before: negated */
    };
    const struct spec s1[] = {
        {{0x1100, 0x2000}, 2, {2, 20}, "a"},
        {{0x1000, 0x2000}, 2, {3, 30}, NULL},
        {{0x1100, 0x2000}, 2, {6, 70}, "b"},
        {{0x1200, 0x2000}, 2, {1, 5}, NULL},      /* new */
    };
    struct gz g0 = build(s0, 4, 2), g1 = build(s1, 4, 2), d;
    assert_int_equal(ts__delta_profile(g0.data, g0.len, g1.data, g1.len,
                                       123456789, 1000, &d.data, &d.len), 0);
    assert_true(d.len > 2 && d.data[0] == 0x1f && d.data[1] == 0x8b);
    PbProfile *p = decode(&d);
    assert_int_equal(p->time_nanos, 123456789);
    assert_int_equal(p->duration_nanos, 1000);
    assert_int_equal(p->n_sample_type, 2);
    assert_int_equal(p->n_sample, 4);
    const Taskscope__Pprof__Sample *grow = find(p, 0x1000),
                                   *fresh = find(p, 0x1200),
                                   *gone = find(p, 0x1900),
                                   *b = find(p, 0x1100);
    assert_non_null(grow);
    assert_non_null(fresh);
    assert_non_null(gone);
    assert_int_equal(grow->value[0], 2);
    assert_int_equal(grow->value[1], 20);
    assert_int_equal(fresh->value[0], 1);
    assert_int_equal(gone->value[0], -4);
    assert_int_equal(gone->value[1], -40);
    assert_int_equal(gone->n_label, 1);
    assert_string_equal(p->string_table[gone->label[0]->key], "role");
    assert_string_equal(p->string_table[gone->label[0]->str], "gone");
    assert_non_null(b);
    assert_int_equal(b->n_label, 1);
    assert_string_equal(p->string_table[b->label[0]->str], "b");
    assert_int_equal(b->value[0], 1);
    assert_int_equal(b->value[1], 20);
    taskscope__pprof__profile__free_unpacked(p, NULL);
    free(g0.data);
    free(g1.data);
    free(d.data);
}

static void test_delta_of_equal_profiles_is_empty(void **state)
{
    (void)state;
    const struct spec s[] = {{{0x1000, 0x2000}, 2, {1, 10}, "x"},
                             {{0x3000}, 1, {7, 70}, NULL}};
    struct gz g = build(s, 2, 2), d;
    assert_int_equal(ts__delta_profile(g.data, g.len, g.data, g.len, 1, 1,
                                       &d.data, &d.len), 0);
    int64_t n = -1;
    assert_int_equal(ts__delta_count(d.data, d.len, 0, &n), 0);
    assert_int_equal(n, 0);
    free(g.data);
    free(d.data);
}

static void test_delta_rejects_bad_input(void **state)
{
    (void)state;
    const struct spec s[] = {{{0x1000}, 1, {1, 10}, NULL}};
    struct gz one = build(s, 1, 1), two = build(s, 1, 2), d = {0};
    assert_int_equal(ts__delta_profile(one.data, one.len, two.data, two.len, 1,
                                       1, &d.data, &d.len), EINVAL);
    const uint8_t junk[] = {0x1f, 0x8b, 1, 2, 3};
    assert_int_equal(ts__delta_profile(junk, sizeof junk, two.data, two.len, 1,
                                       1, &d.data, &d.len), EINVAL);
    assert_null(d.data);
    free(one.data);
    free(two.data);
}

static void test_count(void **state)
{
    (void)state;
    const struct spec s[] = {{{0x1000}, 1, {3, 0}, NULL},
                             {{0x2000}, 1, {4, 0}, NULL}};
    struct gz g = build(s, 2, 1);
    int64_t n;
    assert_int_equal(ts__delta_count(g.data, g.len, 1, &n), 0);
    assert_int_equal(n, 7);
    assert_int_equal(ts__delta_count(g.data, g.len, 0, &n), 0);
    assert_int_equal(n, 2);
    free(g.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delta_subtracts_per_stack_and_label),
        cmocka_unit_test(test_delta_of_equal_profiles_is_empty),
        cmocka_unit_test(test_delta_rejects_bad_input),
        cmocka_unit_test(test_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
