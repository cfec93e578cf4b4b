/* tests/unit/tt_leaks.h — the parent side of the leak-detector suites
 * (test_cycles.c, test_mutex_cycles.c); header only, like tt.h.
 *
 * A scenario runs in a child (tt.h) with TASKSCOPE_LEAKS_OUT pointing at a
 * temporary file, and prints on stdout what the parent needs to check the
 * reports: "IDS <id> <id>..." (the members' task ids, in order), one
 * "OBJ <i> <0x...>" per object it made (channel or mutex), and the JSON
 * report after "JSON ". tl_run_scenario reads all of it into a tl_run. */
#ifndef TS_TESTS_UNIT_TT_LEAKS_H
#define TS_TESTS_UNIT_TT_LEAKS_H

#include <taskscope/profile.h>

#include "tt.h"

#define TL_MAX_OBJS 8

/* Objects the child made, kept as ~address (so the scan does not find
 * them here) and printed as "OBJ <i> <0x...>" lines at exit, after the
 * runtime's exit report: register tl_print_objects_at_exit with atexit
 * before the runtime starts (atexit handlers run in reverse order). */
static uintptr_t tl_obj_x[TL_MAX_OBJS];
static int tl_nobj_x;

static TT_UNUSED void tl_note_object(const void *p)
{
    if (tl_nobj_x < TL_MAX_OBJS)
        tl_obj_x[tl_nobj_x++] = ~(uintptr_t)p;
}

static TT_UNUSED void tl_print_objects_at_exit(void)
{
    for (int i = 0; i < tl_nobj_x; i++)
        printf("OBJ %d %#lx\n", i, (unsigned long)~tl_obj_x[i]);
}

/* tl_child_report: the child side's closing lines: "IDS" with the
 * members' ids, then "JSON " and the goroutineleak JSON on stdout, and the
 * ts_leakcheck dump on stderr. Returns the scenario's exit status. */
static TT_UNUSED int tl_child_report(const uint64_t *ids, int n)
{
    printf("IDS");
    for (int i = 0; i < n; i++)
        printf(" %llu", (unsigned long long)ids[i]);
    printf("\nJSON ");
    TT_CHECK_EQ(ts_profile_write_json("goroutineleak", 1), 0);
    ts_leakcheck(0);
    return atomic_load(&tt_failures) ? 1 : 0;
}

struct tl_run {
    struct tt_child c;
    uint64_t ids[TL_MAX_OBJS];
    int nids;
    char objs[TL_MAX_OBJS][24]; /* "0x..." of each object made */
    char *report;               /* TASKSCOPE_LEAKS_OUT's content */
    const char *json;           /* in c.out */
};

static TT_UNUSED char *tl_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static TT_UNUSED void tl_parse_child(struct tl_run *r)
{
    const char *p = strstr(r->c.out, "IDS");
    if (!p)
        fail_msg("no IDS line; stdout:\n%s\nstderr:\n%s", r->c.out, r->c.err);
    p += 3;
    while (r->nids < TL_MAX_OBJS) {
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p)
            break;
        r->ids[r->nids++] = v;
        p = end;
    }
    for (p = r->c.out; (p = strstr(p, "OBJ ")); p++) {
        int i;
        char hex[24];
        if (sscanf(p, "OBJ %d %23s", &i, hex) == 2 && i >= 0 && i < TL_MAX_OBJS)
            snprintf(r->objs[i], sizeof r->objs[i], "%s", hex);
    }
    r->json = strstr(r->c.out, "JSON ");
}

/* tl_run_scenario: the scenario in a child with TASKSCOPE_LEAKS_OUT (and
 * extra, a NULL or one more "NAME=value"), expecting exit status want. */
static TT_UNUSED void tl_run_scenario(const char *name, const char *extra,
                                      int want, struct tl_run *r)
{
    memset(r, 0, sizeof *r);
    char path[] = "/tmp/ts-leaks.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char env0[64];
    snprintf(env0, sizeof env0, "TASKSCOPE_LEAKS_OUT=%s", path);
    const char *const env[] = {env0, extra, NULL};
    tt_child(name, env, &r->c);
    r->report = tl_slurp(path);
    unlink(path);
    if (tt_child_exit(&r->c) != want)
        fail_msg("scenario %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s",
                 name, tt_child_exit(&r->c), want, r->c.out, r->c.err);
    tl_parse_child(r);
}

static TT_UNUSED void tl_expect_in(const char *what, const char *hay,
                                   const char *needle)
{
    if (!hay || !strstr(hay, needle))
        fail_msg("%s lacks \"%s\":\n%s", what, needle, hay ? hay : "(none)");
}

static TT_UNUSED void tl_expect_not_in(const char *what, const char *hay,
                                       const char *needle)
{
    if (hay && strstr(hay, needle))
        fail_msg("%s has \"%s\":\n%s", what, needle, hay);
}

static TT_UNUSED size_t tl_count_str(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* tl_cycle_section: the text report from the header of a cycle of n tasks
 * on (it follows a blank line). */
static TT_UNUSED const char *tl_cycle_section(const char *report, int n)
{
    char hdr[64];
    snprintf(hdr, sizeof hdr, "\n\nwait-for cycle of %d tasks:\n", n);
    const char *p = report ? strstr(report, hdr) : NULL;
    if (!p)
        fail_msg("no \"%s\" after a blank line in:\n%s", hdr + 2,
                 report ? report : "(none)");
    return p;
}

#endif
