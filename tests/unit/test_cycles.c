/* test_cycles.c — wait-for cycle reports (profiler/cycles.c, the
 * attribution of leaks.c and reach.c's ts__reach_refs).
 *
 * Every situation runs in a child scenario (tt.h): its leaked tasks stay
 * blocked until the child exits, and each report a user can get is taken
 * there: the goroutineleak JSON (ts_profile_write_json, on stdout), the
 * ts_leakcheck dump (stderr), the exit-time leak report of `taskscope
 * leaks` (TASKSCOPE_LEAKS_OUT, a file) and the deadlock report.
 *
 * The channels of a cycle must be referenced by the blocked tasks only, or
 * the leak detector rightly reports nothing: tasks are started by a
 * spawner task that then returns (its stack goes back to the pool, which
 * the scan excludes), argument blocks are cleared before being freed, and
 * the child learns the channels' addresses only as complemented values
 * (tl_note_object, tt_leaks.h), printed after the exit-time report (an
 * atexit handler registered before the runtime's own runs after it).
 *
 * Every test runs, and must pass, in the tsan build too: the runtime is
 * uninstrumented there, and the scan finds these leaks as in a plain
 * build. A data race in a scenario ends it with TSan's exit status 66, so
 * the scenarios hand data between tasks only along happens-before edges
 * (ts_go, channel operations). */
#define TP_SCENARIOS_LEAVE_TASKS_BLOCKED /* no LeakSanitizer: tt_prof.h */
#include "tt_leaks.h"
#include "tt_prof.h"

#include <sys/mman.h>

#include <taskscope/profile.h>

#include "profiler/reach.h"

#define MAX_RING 4

/* ======================================================================
 * child side
 * ==================================================================== */

static ts_chan_t *make_chan(void)
{
    ts_chan_t *c = ts_chan_make(sizeof(int), 0);
    tl_note_object(c);
    return c;
}

/* The two ends a ring member uses, in a heap block it clears and frees. */
struct ends {
    ts_chan_t *mine;   /* it sends here first */
    ts_chan_t *theirs; /* then receives here */
    ts_chan_t *alone;  /* select_member's other case */
};

static void take_ends(void *arg, ts_chan_t **mine, ts_chan_t **theirs,
                      ts_chan_t **alone)
{
    struct ends *e = arg;
    *mine = e->mine;
    *theirs = e->theirs;
    *alone = e->alone;
    explicit_bzero(e, sizeof *e);
    free(e);
}

/* ring_member: sends on its own channel, which only the next member would
 * receive from, then would receive from the previous member's: blocked on
 * the send, it holds the previous member's channel for later. */
TP_NOINLINE static void ring_member(void *arg)
{
    ts_chan_t *mine, *theirs, *alone;
    take_ends(arg, &mine, &theirs, &alone);
    int v = 1;
    ts_chan_send(mine, &v);
    ts_chan_recv(theirs, &v, NULL);
    TP_NO_TAIL_CALL();
}

/* select_member: like ring_member, but waits in a select: sending on its
 * own channel or receiving from a channel nobody else has. */
TP_NOINLINE static void select_member(void *arg)
{
    ts_chan_t *mine, *theirs, *alone;
    take_ends(arg, &mine, &theirs, &alone);
    int v = 1, w;
    ts_select_case_t c[] = {TS_SEND_CASE(mine, &v), TS_RECV_CASE(alone, &w)};
    ts_select(c, 2, 0);
    ts_chan_recv(theirs, &v, NULL);
    TP_NO_TAIL_CALL();
}

/* live_holder: holds a ring member's channel while asleep: it will receive
 * from it one day, so the ring is not stuck. */
TP_NOINLINE static void live_holder(void *arg)
{
    ts_chan_t *mine, *theirs, *alone;
    take_ends(arg, &mine, &theirs, &alone);
    ts_sleep(3600 * TS_SECOND);
    int v;
    ts_chan_recv(theirs, &v, NULL);
    TP_NO_TAIL_CALL();
}

/* nil_sender: blocks forever on a nil channel. */
TP_NOINLINE static void nil_sender(void *arg)
{
    (void)arg;
    int v = 1;
    ts_chan_send(NULL, &v);
    TP_NO_TAIL_CALL();
}

/* lonely_sender: sends on a channel only it has. */
TP_NOINLINE static void lonely_sender(void *arg)
{
    (void)arg;
    ts_chan_t *c = ts_chan_make(sizeof(int), 0);
    int v = 1;
    ts_chan_send(c, &v);
    ts_chan_release(c);
    TP_NO_TAIL_CALL();
}

/* co_receiver: receives, with another co_receiver, on a channel whose
 * sender is gone; both hold it, neither can help the other. */
TP_NOINLINE static void co_receiver(void *arg)
{
    ts_chan_t *mine, *theirs, *alone;
    take_ends(arg, &mine, &theirs, &alone);
    int v;
    ts_chan_recv(mine, &v, NULL);
    ts_chan_recv(mine, &v, NULL);
    TP_NO_TAIL_CALL();
}

enum shape { RING2, RING3, SELECT2, RING2_HELD, SINGLES };

struct setup {
    enum shape shape;
    uint64_t ids[MAX_RING + 1];
    int n;
    ts_chan_t *done; /* closed once every task started is parked */
};

static uint64_t go_with(void (*fn)(void *), ts_chan_t *mine, ts_chan_t *theirs,
                        ts_chan_t *alone)
{
    struct ends *e = malloc(sizeof *e);
    TT_REQUIRE(e != NULL, 0);
    *e = (struct ends){mine, theirs, alone};
    return ts_go(fn, e);
}

/* spawn_ring: n members, member i sending on c[i], holding c[i - 1];
 * with select_first, member 0 waits in a select on c[0] and c[n]. */
static void spawn_ring(struct setup *s, int n, bool select_first)
{
    ts_chan_t *c[MAX_RING + 1];
    for (int i = 0; i < n + select_first; i++)
        c[i] = make_chan();
    for (int i = 0; i < n; i++)
        s->ids[s->n++] = go_with(i == 0 && select_first ? select_member
                                                        : ring_member,
                                 c[i], c[(i + n - 1) % n],
                                 i == 0 && select_first ? c[n] : NULL);
    if (s->shape == RING2_HELD)
        s->ids[s->n++] = go_with(live_holder, NULL, c[0], NULL);
    explicit_bzero(c, sizeof c);
}

static void spawn_singles(struct setup *s)
{
    s->ids[s->n++] = ts_go(nil_sender, NULL);
    s->ids[s->n++] = ts_go(lonely_sender, NULL);
    ts_chan_t *c = make_chan();
    s->ids[s->n++] = go_with(co_receiver, c, NULL, NULL);
    s->ids[s->n++] = go_with(co_receiver, c, NULL, NULL);
    explicit_bzero(&c, sizeof c);
}

/* spawner: starts the tasks of the shape, waits until they are parked,
 * and returns: its stack, with its copies of the channels, goes back to
 * the pool. */
TP_NOINLINE static void spawner(void *arg)
{
    struct setup *s = arg;
    if (s->shape == SINGLES)
        spawn_singles(s);
    else
        spawn_ring(s, s->shape == RING3 ? 3 : 2, s->shape == SELECT2);
    for (int i = 0; i < s->n; i++)
        TT_CHECK(tt_wait_parked(s->ids[i], -1, TT_SOON, NULL));
    ts_chan_close(s->done);
}

/* cycle_main: build the shape, print the task ids, then the goroutineleak
 * JSON on stdout and the ts_leakcheck dump on stderr. */
static int cycle_main(void *arg)
{
    struct setup *s = arg;
    ts_leakcheck_snapshot();
    s->done = ts_chan_make(0, 0);
    ts_go(spawner, s);
    TT_CHECK_EQ(tt_recv_within(s->done, NULL, NULL, TT_SOON), 0);
    ts_chan_release(s->done);
    s->done = NULL;
    return tl_child_report(s->ids, s->n);
}

static int run_shape(enum shape shape)
{
    atexit(tl_print_objects_at_exit); /* before the runtime's: runs after */
    static struct setup s;
    s.shape = shape;
    return ts_run(cycle_main, &s);
}

static int scenario_ring2(void) { return run_shape(RING2); }
static int scenario_ring3(void) { return run_shape(RING3); }
static int scenario_select2(void) { return run_shape(SELECT2); }
static int scenario_ring2_held(void) { return run_shape(RING2_HELD); }
static int scenario_singles(void) { return run_shape(SINGLES); }

/* deadlock_main: the main task and one other form the cycle, and nothing
 * else is left: the global deadlock report ends the process. */
static int deadlock_main(void *arg)
{
    (void)arg;
    ts_chan_t *c1 = make_chan(), *c2 = make_chan();
    printf("IDS 1 %llu\n", (unsigned long long)go_with(ring_member, c2, c1, NULL));
    int v = 1;
    ts_chan_send(c1, &v);
    ts_chan_recv(c2, &v, NULL);
    printf("UNREACHED\n");
    return 0;
}

static int scenario_deadlock_cycle(void)
{
    return ts_run(deadlock_main, NULL);
}

/* ======================================================================
 * parent side: running a scenario and reading its reports
 * ==================================================================== */

/* expect_json_parses: the JSON document at json (one line) is valid JSON
 * with every documented field of its cycles, as python3 reads it; skipped
 * quietly where there is no python3. */
static void expect_json_parses(const char *json)
{
    char path[] = "/tmp/ts-cycles-json.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strcspn(json, "\n");
    assert_int_equal(write(fd, json, n), (ssize_t)n);
    close(fd);
    char *argv[] = {"python3", "-c",
                    "import json,sys\n"
                    "d=json.load(open(sys.argv[1]))\n"
                    "ids={t['id'] for t in d['tasks']}\n"
                    "for c in d['cycles']:\n"
                    "  assert set(c['tasks'])<=ids and len(c['tasks'])>=2\n"
                    "  for w in c['waits']:\n"
                    "    assert w['task'] in c['tasks'] and w['kind']=='chan'\n"
                    "    assert w['object'].startswith('0x') and w['wait_reason']\n"
                    "    assert set(w['held_by'])<=set(c['tasks'])\n",
                    path, NULL};
    pid_t pid;
    int st = 0;
    if (posix_spawnp(&pid, "python3", NULL, NULL, argv, environ) == 0)
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
    else
        st = 127 << 8;
    unlink(path);
    if (!WIFEXITED(st) || (WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 127))
        fail_msg("python3 rejects the JSON:\n%s", json);
}

/* wait_line: the text report's line for one wait of a cycle. */
static const char *wait_line(uint64_t task, const char *reason,
                             const char *chan, const char *held)
{
    static char line[256];
    snprintf(line, sizeof line, "\tgoroutine %llu [%s] on chan %s, %s\n",
             (unsigned long long)task, reason, chan, held);
    return line;
}

static const char *held_by(uint64_t task)
{
    static char text[64];
    snprintf(text, sizeof text, "held only by goroutine %llu",
             (unsigned long long)task);
    return text;
}

/* json_wait: the JSON of one wait of a cycle. */
static const char *json_wait(uint64_t task, const char *reason,
                             const char *chan, const char *held)
{
    static char text[256];
    snprintf(text, sizeof text,
             "{\"task\":%llu,\"wait_reason\":\"%s\",\"kind\":\"chan\","
             "\"object\":\"%s\",\"held_by\":[%s]}",
             (unsigned long long)task, reason, chan, held);
    return text;
}

/* expect_stacks: after the cycle header, each member's dump: its header
 * (leaked) and its function. */
static void expect_stacks(const char *section, const struct tl_run *r, int n,
                          const char *reason, const char *fn)
{
    for (int i = 0; i < n; i++) {
        char hdr[96];
        snprintf(hdr, sizeof hdr, "\ngoroutine %llu [%s (leaked)]:\n",
                 (unsigned long long)r->ids[i], reason);
        tl_expect_in("cycle section", section, hdr);
    }
    if (tl_count_str(section, fn) < (size_t)n)
        fail_msg("cycle section: want %d stacks with %s:\n%s", n, fn, section);
}

/* ======================================================================
 * tests
 * ==================================================================== */

/* A sends on c1, which only B holds; B sends on c2, which only A holds:
 * every report names both, their reasons, channels and stacks. */
static void test_cycle_of_two_tasks_is_reported(void **state)
{
    (void)state;
    struct tl_run r;
    tl_run_scenario("ring2", NULL, 0, &r);
    uint64_t a = r.ids[0], b = r.ids[1];
    const char *c1 = r.objs[0], *c2 = r.objs[1];
    assert_true(r.nids == 2 && c1[0] && c2[0]);

    tl_expect_in("exit report", r.report, "taskscope: 2 leaked tasks");
    const char *sec = tl_cycle_section(r.report, 2);
    tl_expect_in("exit report", sec, wait_line(a, "chan send", c1, held_by(b)));
    tl_expect_in("exit report", sec, wait_line(b, "chan send", c2, held_by(a)));
    expect_stacks(sec, &r, 2, "chan send", "\nring_member(...)\n");
    assert_int_equal(tl_count_str(r.report, "wait-for cycle"), 1);

    char want[640], hb[24], ha[24];
    snprintf(hb, sizeof hb, "%llu", (unsigned long long)b);
    snprintf(ha, sizeof ha, "%llu", (unsigned long long)a);
    int len = snprintf(want, sizeof want, "\"cycles\":[{\"tasks\":[%s,%s],\"waits\":[",
                       ha, hb);
    len += snprintf(want + len, sizeof want - (size_t)len, "%s,",
                    json_wait(a, "chan send", c1, hb));
    snprintf(want + len, sizeof want - (size_t)len, "%s]}]}",
             json_wait(b, "chan send", c2, ha));
    tl_expect_in("goroutineleak JSON", r.json, want);
    expect_json_parses(r.json + 5);

    tl_expect_in("ts_leakcheck", r.c.err, "ts_leakcheck: 2 unexpected tasks");
    sec = tl_cycle_section(r.c.err, 2);
    tl_expect_in("ts_leakcheck", sec, wait_line(a, "chan send", c1, held_by(b)));
    tl_expect_in("ts_leakcheck", sec, wait_line(b, "chan send", c2, held_by(a)));
    tp_end();
}

/* Three tasks, each holding the previous one's channel. */
static void test_cycle_of_three_tasks_is_reported(void **state)
{
    (void)state;
    struct tl_run r;
    tl_run_scenario("ring3", NULL, 0, &r);
    assert_int_equal(r.nids, 3);
    const char *sec = tl_cycle_section(r.report, 3);
    for (int i = 0; i < 3; i++)
        tl_expect_in("exit report", sec,
                  wait_line(r.ids[i], "chan send", r.objs[i],
                            held_by(r.ids[(i + 1) % 3])));
    expect_stacks(sec, &r, 3, "chan send", "\nring_member(...)\n");
    char want[64];
    snprintf(want, sizeof want, "\"cycles\":[{\"tasks\":[%llu,%llu,%llu]",
             (unsigned long long)r.ids[0], (unsigned long long)r.ids[1],
             (unsigned long long)r.ids[2]);
    tl_expect_in("goroutineleak JSON", r.json, want);
    tp_end();
}

/* A waits in a select: sending on c1 (held by B) or receiving from a
 * channel only A has; B sends on c2, held by A. */
static void test_cycle_through_a_select_is_reported(void **state)
{
    (void)state;
    struct tl_run r;
    tl_run_scenario("select2", NULL, 0, &r);
    uint64_t a = r.ids[0], b = r.ids[1];
    /* chans: c1, c2, then the select's other one */
    const char *sec = tl_cycle_section(r.report, 2);
    tl_expect_in("exit report", sec, wait_line(a, "select", r.objs[0], held_by(b)));
    tl_expect_in("exit report", sec,
              wait_line(a, "select", r.objs[2], "held by no other task"));
    tl_expect_in("exit report", sec, wait_line(b, "chan send", r.objs[1], held_by(a)));
    tl_expect_in("cycle section", sec, "\nselect_member(...)\n");
    tl_expect_in("cycle section", sec, "\nring_member(...)\n");
    tl_expect_in("goroutineleak JSON", r.json,
              json_wait(a, "select", r.objs[2], ""));
    expect_json_parses(r.json + 5);
    tp_end();
}

/* A third task, asleep, holds c1 and will receive from it: the ring can
 * move, so nothing is leaked and no cycle is reported. */
static void test_no_cycle_when_a_live_task_holds_a_channel(void **state)
{
    (void)state;
    struct tl_run r;
    tl_run_scenario("ring2_held", NULL, 0, &r);
    tl_expect_in("goroutineleak JSON", r.json, "\"total\":0,");
    tl_expect_in("goroutineleak JSON", r.json, "\"cycles\":[]}");
    tl_expect_not_in("exit report", r.report, "goroutine");
    tl_expect_not_in("ts_leakcheck", r.c.err, "wait-for cycle");
    tl_expect_in("ts_leakcheck", r.c.err, "ts_leakcheck: 3 unexpected tasks");
    tp_end();
}

/* Leaks that are no cycle: a nil channel, a channel only its sender has,
 * two receivers on one channel whose sender is gone. */
static void test_single_leaks_are_no_cycle(void **state)
{
    (void)state;
    struct tl_run r;
    tl_run_scenario("singles", NULL, 0, &r);
    tl_expect_in("goroutineleak JSON", r.json, "\"total\":4,");
    tl_expect_in("goroutineleak JSON", r.json, "\"cycles\":[]}");
    tl_expect_in("exit report", r.report, "taskscope: 4 leaked tasks");
    tl_expect_not_in("exit report", r.report, "wait-for cycle");
    tl_expect_not_in("ts_leakcheck", r.c.err, "wait-for cycle");
    tp_end();
}

/* The main task and another wait for each other and nothing else is left:
 * the deadlock report ends with the cycle, on stderr and, as JSON, in
 * TASKSCOPE_LEAKS_OUT. */
static void test_deadlock_report_names_the_cycle(void **state)
{
    (void)state;
    struct tl_run r;
    tl_run_scenario("deadlock_cycle", "TASKSCOPE_LEAKS_FORMAT=json", 2, &r);
    assert_int_equal(r.nids, 2);
    const char *err = r.c.err;
    if (strncmp(err, "fatal error: all goroutines are asleep - deadlock!\n\n",
                52) != 0)
        fail_msg("stderr:\n%s", err);
    const char *sec = tl_cycle_section(err, 2);
    tl_expect_in("deadlock report", sec, "\tgoroutine 1 [chan send] on chan 0x");
    tl_expect_in("deadlock report", sec, held_by(r.ids[1]));
    tl_expect_in("deadlock report", sec, "\ndeadlock_main(...)\n");
    tl_expect_in("deadlock report", sec, "\nring_member(...)\n");
    char want[64];
    snprintf(want, sizeof want, "\"cycles\":[{\"tasks\":[1,%llu],",
             (unsigned long long)r.ids[1]);
    tl_expect_in("deadlock JSON", r.report, "{\"profile\":\"deadlock\"");
    tl_expect_in("deadlock JSON", r.report, want);
    expect_json_parses(r.report);
    tp_end();
}

/* ts__reach_refs: what each source references, transitively through the
 * targets' memory, and nothing from elsewhere. */
struct pairs {
    size_t v[8][2];
    size_t n;
};

static void record_pair(size_t src, size_t tgt, void *arg)
{
    struct pairs *p = arg;
    if (p->n < 8) {
        p->v[p->n][0] = src;
        p->v[p->n++][1] = tgt;
    }
}

static bool has_pair(const struct pairs *p, size_t src, size_t tgt)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i][0] == src && p->v[i][1] == tgt)
            return true;
    return false;
}

static void test_reach_refs_attributes_per_source(void **state)
{
    (void)state;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t *m = mmap(NULL, 5 * page, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    size_t w = page / sizeof *m;
    uintptr_t *src0 = m, *src1 = m + w, *src2 = m + 2 * w;
    uintptr_t *t0 = m + 3 * w, *t1 = m + 4 * w;
    src0[7] = (uintptr_t)t0;       /* src0 -> t0 -> t1 */
    t0[3] = (uintptr_t)(t1 + 5);   /* interior pointer */
    src2[1] = (uintptr_t)(t1 + 1); /* src2 -> t1 */
    src1[0] = 0;                   /* src1: nothing */
    struct ts__reach_target tg[2] = {
        {(uintptr_t)t0, (uintptr_t)(t0 + w), false},
        {(uintptr_t)t1, (uintptr_t)(t1 + w), false}};
    struct ts__range src[3] = {
        {(uintptr_t)src0, (uintptr_t)(src0 + w)},
        {(uintptr_t)src1, (uintptr_t)(src1 + w)},
        {(uintptr_t)src2, (uintptr_t)(src2 + w)}};
    struct pairs p = {0};
    assert_int_equal(ts__reach_refs(tg, 2, src, 3, record_pair, &p), 0);
    assert_int_equal(p.n, 3);
    assert_true(has_pair(&p, 0, 0) && has_pair(&p, 0, 1) && has_pair(&p, 2, 1));
    assert_false(tg[0].reached || tg[1].reached); /* left alone */

    p.n = 0;
    assert_int_equal(ts__reach_refs(tg, 2, NULL, 0, record_pair, &p), 0);
    assert_int_equal(ts__reach_refs(NULL, 0, src, 3, record_pair, &p), 0);
    assert_int_equal(p.n, 0);
    assert_int_equal(ts__reach_refs(NULL, 1, src, 3, record_pair, &p), EINVAL);
    assert_int_equal(ts__reach_refs(tg, 2, NULL, 1, record_pair, &p), EINVAL);
    tg[1].hi = tg[1].lo;
    assert_int_equal(ts__reach_refs(tg, 2, src, 3, record_pair, &p), EINVAL);
    munmap(m, 5 * page);
    tp_end();
}

/* ======================================================================
 * main
 * ==================================================================== */

static const struct tt_scenario scenarios[] = {
    {"ring2", scenario_ring2},
    {"ring3", scenario_ring3},
    {"select2", scenario_select2},
    {"ring2_held", scenario_ring2_held},
    {"singles", scenario_singles},
    {"deadlock_cycle", scenario_deadlock_cycle},
};

int main(int argc, char **argv)
{
    int sr = tt_scenario_main(argc, argv, scenarios,
                              sizeof scenarios / sizeof scenarios[0]);
    if (sr >= 0)
        return sr;
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        TP_TEST(test_cycle_of_two_tasks_is_reported),
        TP_TEST(test_cycle_of_three_tasks_is_reported),
        TP_TEST(test_cycle_through_a_select_is_reported),
        TP_TEST(test_no_cycle_when_a_live_task_holds_a_channel),
        TP_TEST(test_single_leaks_are_no_cycle),
        TP_TEST(test_deadlock_report_names_the_cycle),
        TP_TEST(test_reach_refs_attributes_per_source),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
