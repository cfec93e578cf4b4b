/* test_select.c — select: Go's select statement over channel cases, with
 * default (TS_SELECT_NONBLOCK) and deadline variants; the behaviours of
 * Go's select tests in chan_test.go (fairness, self-select, duplicate
 * channels, non-blocking races, stress). */
#include "tt.h"

static ts_chan_t *make_chan(size_t elem, size_t cap)
{
    ts_chan_t *ch = ts_chan_make(elem, cap);
    if (!ch)
        fail_msg("ts_chan_make(%zu, %zu) failed", elem, cap);
    return ch;
}

/* ---- choosing a case ---------------------------------------------------- */

static int picks_ready_body(void *arg)
{
    (void)arg;
    ts_chan_t *a = ts_chan_make(sizeof(int), 1);
    ts_chan_t *b = ts_chan_make(sizeof(int), 1);
    ts_chan_t *c = ts_chan_make(sizeof(int), 0);
    TT_REQUIRE(a && b && c, 1);
    int v = 17;
    TT_CHECK_EQ(ts_chan_send(b, &v), 0);
    for (int flags = 0; flags <= TS_SELECT_NONBLOCK; flags++) {
        int ra = -1, rb = -1, rc = -1;
        ts_select_case_t cs[3] = {TS_RECV_CASE(a, &ra), TS_RECV_CASE(b, &rb),
                                  TS_RECV_CASE(c, &rc)};
        TT_CHECK_EQ(ts_select(cs, 3, flags), 1);
        TT_CHECK(cs[1].ok);
        TT_CHECK_EQ(rb, 17);
        TT_CHECK_EQ(ra, -1);
        TT_CHECK_EQ(rc, -1);
        TT_CHECK_EQ(ts_chan_len(b), 0);
        TT_CHECK_EQ(ts_chan_send(b, &v), 0); /* refill for the next round */
    }
    /* a send case with room is ready; the recv cases are not */
    int out = 99, in = -1;
    ts_select_case_t cs[3] = {TS_RECV_CASE(a, &in), TS_RECV_CASE(c, &in),
                              TS_SEND_CASE(a, &out)};
    TT_CHECK_EQ(ts_select(cs, 3, 0), 2);
    TT_CHECK_EQ(ts_chan_len(a), 1);
    TT_CHECK_EQ(ts_chan_recv(a, &in, NULL), 0);
    TT_CHECK_EQ(in, 99);
    ts_chan_release(a);
    ts_chan_release(b);
    ts_chan_release(c);
    return 0;
}

/* With one case ready, select performs exactly that case. */
static void test_select_performs_the_ready_case(void **state)
{
    (void)state;
    assert_int_equal(picks_ready_body(NULL), 0);
    assert_int_equal(ts_run(picks_ready_body, NULL), 0);
    tt_end(0);
}

/* Two (then four) cases always ready: over many selects each is chosen
 * close to its fair share. The bounds are wide (40-60% for two, 15-35% for
 * four: about ten standard deviations at the smallest scaled count) so the
 * test cannot flake, yet a fixed or first-ready order fails it. */
static void test_select_chooses_uniformly_among_ready_cases(void **state)
{
    (void)state;
    long n = tt_scaled(10000, 2000);
    /* closed channels: receive cases always ready */
    ts_chan_t *cl[4];
    for (int i = 0; i < 4; i++) {
        cl[i] = make_chan(sizeof(int), 0);
        ts_chan_close(cl[i]);
    }
    long hits[4] = {0};
    for (long k = 0; k < n; k++) {
        ts_select_case_t cs[2] = {TS_RECV_CASE(cl[0], NULL),
                                  TS_RECV_CASE(cl[1], NULL)};
        int r = ts_select(cs, 2, 0);
        assert_in_range(r, 0, 1);
        hits[r]++;
    }
    assert_in_range(hits[0], n * 40 / 100, n * 60 / 100);

    memset(hits, 0, sizeof hits);
    for (long k = 0; k < n; k++) {
        ts_select_case_t cs[4];
        for (int i = 0; i < 4; i++)
            cs[i] = TS_RECV_CASE(cl[i], NULL);
        int r = ts_select(cs, 4, TS_SELECT_NONBLOCK);
        assert_in_range(r, 0, 3);
        hits[r]++;
    }
    for (int i = 0; i < 4; i++)
        assert_in_range(hits[i], n * 15 / 100, n * 35 / 100);

    /* mixed: a buffered value to receive vs. room to send */
    ts_chan_t *full = make_chan(sizeof(int), 1);
    ts_chan_t *room = make_chan(sizeof(int), 1);
    int v = 1;
    assert_int_equal(ts_chan_send(full, &v), 0);
    memset(hits, 0, sizeof hits);
    for (long k = 0; k < n; k++) {
        int in = 0;
        ts_select_case_t cs[2] = {TS_RECV_CASE(full, &in),
                                  TS_SEND_CASE(room, &v)};
        int r = ts_select(cs, 2, 0);
        assert_in_range(r, 0, 1);
        hits[r]++;
        if (r == 0)
            assert_int_equal(ts_chan_send(full, &v), 0);
        else
            assert_int_equal(ts_chan_recv(room, NULL, NULL), 0);
    }
    assert_in_range(hits[0], n * 40 / 100, n * 60 / 100);
    for (int i = 0; i < 4; i++)
        ts_chan_release(cl[i]);
    ts_chan_release(full);
    ts_chan_release(room);
    tt_end(0);
}

/* A NULL channel's case is never chosen, even next to a ready case. */
static void test_select_never_chooses_nil_case(void **state)
{
    (void)state;
    ts_chan_t *cl = make_chan(0, 0);
    ts_chan_close(cl);
    int v = 0;
    for (int k = 0; k < 1000; k++) {
        ts_select_case_t cs[3] = {TS_RECV_CASE(NULL, &v), TS_RECV_CASE(cl, NULL),
                                  TS_SEND_CASE(NULL, &v)};
        assert_int_equal(ts_select(cs, 3, 0), 1);
    }
    ts_chan_release(cl);
    tt_end(0);
}

/* ---- default (TS_SELECT_NONBLOCK) --------------------------------------- */

static int nonblock_default_body(void *arg)
{
    (void)arg;
    ts_chan_t *empty = ts_chan_make(sizeof(int), 2);
    ts_chan_t *unbuf = ts_chan_make(sizeof(int), 0);
    ts_chan_t *full = ts_chan_make(sizeof(int), 1);
    TT_REQUIRE(empty && unbuf && full, 1);
    int v = 5;
    TT_CHECK_EQ(ts_chan_send(full, &v), 0);
    int in1 = -1, in2 = -1, out = 6;
    ts_select_case_t cs[5] = {TS_RECV_CASE(empty, &in1),
                              TS_RECV_CASE(unbuf, &in2),
                              TS_SEND_CASE(unbuf, &out),
                              TS_SEND_CASE(full, &out),
                              TS_RECV_CASE(NULL, &in1)};
    TT_CHECK_EQ(ts_select(cs, 5, TS_SELECT_NONBLOCK), TS_SELECT_DEFAULT);
    TT_CHECK_EQ(in1, -1);
    TT_CHECK_EQ(in2, -1);
    TT_CHECK_EQ(ts_chan_len(full), 1);
    TT_CHECK_EQ(ts_chan_len(empty), 0);
    ts_chan_release(empty);
    ts_chan_release(unbuf);
    ts_chan_release(full);
    return 0;
}

/* Nothing ready and NONBLOCK: Go's default branch, nothing performed. */
static void test_select_nonblock_returns_default_when_nothing_ready(void **state)
{
    (void)state;
    assert_int_equal(nonblock_default_body(NULL), 0);
    assert_int_equal(ts_run(nonblock_default_body, NULL), 0);
    tt_end(0);
}

static void test_select_nonblock_all_nil_returns_default(void **state)
{
    (void)state;
    int v = 0;
    ts_select_case_t cs[2] = {TS_RECV_CASE(NULL, &v), TS_SEND_CASE(NULL, &v)};
    assert_int_equal(ts_select(cs, 2, TS_SELECT_NONBLOCK), TS_SELECT_DEFAULT);
    /* select { default: } */
    assert_int_equal(ts_select(NULL, 0, TS_SELECT_NONBLOCK), TS_SELECT_DEFAULT);
    tt_end(0);
}

/* ---- blocking ----------------------------------------------------------- */

struct selector {
    ts_chan_t *a;
    ts_chan_t *b;
    ts_chan_t *done;
    int result;
    int64_t value;
    bool ok;
};

static void select_recv_two_task(void *arg)
{
    struct selector *s = arg;
    int64_t va = -1, vb = -1;
    ts_select_case_t cs[2] = {TS_RECV_CASE(s->a, &va), TS_RECV_CASE(s->b, &vb)};
    s->result = ts_select(cs, 2, 0);
    if (s->result == 0) {
        s->value = va;
        s->ok = cs[0].ok;
        TT_CHECK_EQ(vb, -1);
    } else if (s->result == 1) {
        s->value = vb;
        s->ok = cs[1].ok;
        TT_CHECK_EQ(va, -1);
    }
    tt_signal(s->done);
}

/* A select with nothing ready parks ("select") until a peer arrives on one
 * of its channels, then performs that case. */
static void test_select_blocks_until_a_case_is_ready(void **state)
{
    (void)state;
    struct selector s = {.a = make_chan(sizeof(int64_t), 0),
                         .b = make_chan(sizeof(int64_t), 0),
                         .done = make_chan(0, 1)};
    uint64_t id = ts_go(select_recv_two_task, &s);
    assert_true(id != 0);
    struct ts_task_info info;
    assert_true(tt_wait_parked(id, TS_WAIT_SELECT, TT_SOON, &info));
    assert_string_equal(info.wait_text, "select");
    int64_t v = 808;
    assert_int_equal(ts_chan_send(s.b, &v), 0);
    assert_int_equal(tt_wait_done(s.done, 1, TT_SOON), 1);
    assert_int_equal(s.result, 1);
    assert_true(s.ok);
    assert_int_equal(s.value, 808);
    tt_end(0);
    ts_chan_release(s.a);
    ts_chan_release(s.b);
    ts_chan_release(s.done);
}

static void select_send_task(void *arg)
{
    struct selector *s = arg;
    int64_t out = 4096, in = -1;
    ts_select_case_t cs[2] = {TS_RECV_CASE(s->a, &in), TS_SEND_CASE(s->b, &out)};
    s->result = ts_select(cs, 2, 0);
    if (s->result == 1)
        TT_CHECK_EQ(in, -1); /* the receive case was not performed */
    tt_signal(s->done);
}

static void select_one_case_task(void *arg)
{
    struct selector *s = arg;
    int64_t v = 5150;
    ts_select_case_t c = s->b ? TS_SEND_CASE(s->b, &v) : TS_RECV_CASE(s->a, &v);
    s->result = ts_select(&c, 1, 0);
    s->value = v;
    s->ok = c.ok;
    tt_signal(s->done);
}

/* A select with a single case and no deadline is the plain channel
 * operation (as Go compiles it): it parks as "chan receive" / "chan send"
 * on that channel, and completes like the operation. */
static void test_select_single_case_parks_as_channel_operation(void **state)
{
    (void)state;
    for (int send = 0; send <= 1; send++) {
        ts_chan_t *ch = make_chan(sizeof(int64_t), 0);
        struct selector s = {.a = send ? NULL : ch,
                             .b = send ? ch : NULL,
                             .done = make_chan(0, 1)};
        uint64_t id = ts_go(select_one_case_task, &s);
        assert_true(id != 0);
        struct ts_task_info info;
        int reason = send ? TS_WAIT_CHAN_SEND : TS_WAIT_CHAN_RECV;
        assert_true(tt_wait_parked(id, reason, TT_SOON, &info));
        assert_string_equal(info.wait_text,
                            send ? "chan send" : "chan receive");
        assert_ptr_equal(info.wait_object, ch);
        int64_t v = 77;
        bool ok = false;
        if (send) {
            assert_int_equal(ts_chan_recv(ch, &v, &ok), 0);
            assert_true(ok);
            assert_int_equal(v, 5150);
        } else {
            assert_int_equal(ts_chan_send(ch, &v), 0);
        }
        assert_int_equal(tt_wait_done(s.done, 1, TT_SOON), 1);
        assert_int_equal(s.result, 0);
        if (!send) {
            assert_true(s.ok);
            assert_int_equal(s.value, 77);
        }
        ts_chan_release(ch);
        ts_chan_release(s.done);
    }
    tt_end(0);
}

/* A send case hands its value to a receiver that arrives later. */
static void test_select_send_case_delivers_value(void **state)
{
    (void)state;
    struct selector s = {.a = make_chan(sizeof(int64_t), 0),
                         .b = make_chan(sizeof(int64_t), 0),
                         .done = make_chan(0, 1)};
    uint64_t id = ts_go(select_send_task, &s);
    assert_true(id != 0);
    assert_true(tt_wait_parked(id, TS_WAIT_SELECT, TT_SOON, NULL));
    int64_t v = 0;
    bool ok = false;
    assert_int_equal(ts_chan_recv(s.b, &v, &ok), 0);
    assert_true(ok);
    assert_int_equal(v, 4096);
    assert_int_equal(tt_wait_done(s.done, 1, TT_SOON), 1);
    assert_int_equal(s.result, 1);
    tt_end(0);
    ts_chan_release(s.a);
    ts_chan_release(s.b);
    ts_chan_release(s.done);
}

/* A receive case on a closed channel is ready: ok == false and a zeroed
 * element, whether closed before the select or while it waits. */
static void test_select_recv_on_closed_channel_is_not_ok(void **state)
{
    (void)state;
    ts_chan_t *cl = make_chan(sizeof(int64_t), 0);
    ts_chan_t *empty = make_chan(sizeof(int64_t), 0);
    ts_chan_close(cl);
    for (int flags = 0; flags <= TS_SELECT_NONBLOCK; flags++) {
        int64_t v = -5, w = -6;
        ts_select_case_t cs[2] = {TS_RECV_CASE(empty, &w), TS_RECV_CASE(cl, &v)};
        cs[1].ok = true;
        assert_int_equal(ts_select(cs, 2, flags), 1);
        assert_false(cs[1].ok);
        assert_int_equal(v, 0);
        assert_int_equal(w, -6);
    }

    struct selector s = {.a = make_chan(sizeof(int64_t), 0),
                         .b = make_chan(sizeof(int64_t), 0),
                         .done = make_chan(0, 1),
                         .value = -1,
                         .ok = true};
    uint64_t id = ts_go(select_recv_two_task, &s);
    assert_true(id != 0);
    assert_true(tt_wait_parked(id, TS_WAIT_SELECT, TT_SOON, NULL));
    ts_chan_close(s.a);
    assert_int_equal(tt_wait_done(s.done, 1, TT_SOON), 1);
    assert_int_equal(s.result, 0);
    assert_false(s.ok);
    assert_int_equal(s.value, 0);
    tt_end(0);
    ts_chan_release(cl);
    ts_chan_release(empty);
    ts_chan_release(s.a);
    ts_chan_release(s.b);
    ts_chan_release(s.done);
}

/* A receive case with elem == NULL discards the value. */
static void test_select_recv_case_with_null_elem_discards(void **state)
{
    (void)state;
    ts_chan_t *ch = make_chan(sizeof(int), 2);
    int v = 3;
    assert_int_equal(ts_chan_send(ch, &v), 0);
    ts_select_case_t c = TS_RECV_CASE(ch, NULL);
    assert_int_equal(ts_select(&c, 1, 0), 0);
    assert_true(c.ok);
    assert_int_equal(ts_chan_len(ch), 0);
    ts_chan_release(ch);
    tt_end(0);
}

struct forever {
    atomic_int returned;
};

static void select_all_nil_task(void *arg)
{
    struct forever *f = arg;
    int v = 0;
    ts_select_case_t cs[2] = {TS_RECV_CASE(NULL, &v), TS_SEND_CASE(NULL, &v)};
    ts_select(cs, 2, 0);
    atomic_store(&f->returned, 1);
    tt_failf(__FILE__, __LINE__, "select over NULL channels returned");
}

static void select_no_cases_task(void *arg)
{
    struct forever *f = arg;
    ts_select(NULL, 0, 0);
    atomic_store(&f->returned, 1);
    tt_failf(__FILE__, __LINE__, "select with no cases returned");
}

/* select over only NULL channels blocks forever ("select (no cases)"), as
 * Go's select over nil channels; the task stays for the process's life. */
static void test_select_all_nil_blocks_forever(void **state)
{
    (void)state;
    static struct forever f;
    uint64_t id = ts_go(select_all_nil_task, &f);
    assert_true(id != 0);
    struct ts_task_info info;
    assert_true(tt_wait_parked(id, TS_WAIT_SELECT_NO_CASES, TT_SOON, &info));
    assert_string_equal(info.wait_text, "select (no cases)");
    ts_sleep(20 * TS_MILLISECOND);
    assert_true(tt_task_info(id, &info));
    assert_int_equal(info.state, TS_TASK_WAITING);
    assert_int_equal(atomic_load(&f.returned), 0);
    tt_end(1);
}

/* select {} (n == 0) blocks forever too. */
static void test_select_no_cases_blocks_forever(void **state)
{
    (void)state;
    static struct forever f;
    uint64_t id = ts_go(select_no_cases_task, &f);
    assert_true(id != 0);
    struct ts_task_info info;
    assert_true(tt_wait_parked(id, TS_WAIT_SELECT_NO_CASES, TT_SOON, &info));
    assert_string_equal(info.wait_text, "select (no cases)");
    ts_sleep(20 * TS_MILLISECOND);
    assert_true(tt_task_info(id, &info));
    assert_int_equal(info.state, TS_TASK_WAITING);
    assert_int_equal(atomic_load(&f.returned), 0);
    tt_end(1);
}

/* ---- deadlines ---------------------------------------------------------- */

static int deadline_timeout_body(void *arg)
{
    (void)arg;
    ts_chan_t *a = ts_chan_make(sizeof(int), 0);
    ts_chan_t *b = ts_chan_make(sizeof(int), 1);
    TT_REQUIRE(a && b, 1);
    int v = -1;
    int64_t deadline = ts_now() + 20 * TS_MILLISECOND;
    ts_select_case_t cs[2] = {TS_RECV_CASE(a, &v), TS_RECV_CASE(b, &v)};
    TT_CHECK_EQ(ts_select_deadline(cs, 2, 0, deadline), TS_SELECT_TIMEOUT);
    TT_CHECK(ts_now() >= deadline);
    TT_CHECK_EQ(v, -1);
    /* the timed-out select left nothing behind on the channels */
    int w = 1;
    TT_CHECK_EQ(ts_chan_try_send(a, &w), TS_EWOULDBLOCK);
    ts_chan_release(a);
    ts_chan_release(b);
    return 0;
}

/* Nothing becomes ready: TS_SELECT_TIMEOUT, not before the deadline (only
 * the lower bound is checked). */
static void test_select_deadline_times_out(void **state)
{
    (void)state;
    assert_int_equal(deadline_timeout_body(NULL), 0);
    assert_int_equal(ts_run(deadline_timeout_body, NULL), 0);
    tt_end(0);
}

/* A past deadline is a non-blocking poll that reports TS_SELECT_TIMEOUT,
 * and still performs a ready case. */
static void test_select_deadline_in_the_past_returns_at_once(void **state)
{
    (void)state;
    ts_chan_t *ch = make_chan(sizeof(int), 1);
    int v = -1;
    ts_select_case_t c = TS_RECV_CASE(ch, &v);
    assert_int_equal(ts_select_deadline(&c, 1, 0, ts_now() - TS_SECOND),
                     TS_SELECT_TIMEOUT);
    assert_int_equal(ts_select_deadline(&c, 1, 0, 0), TS_SELECT_TIMEOUT);
    int w = 12;
    assert_int_equal(ts_chan_send(ch, &w), 0);
    c = TS_RECV_CASE(ch, &v);
    assert_int_equal(ts_select_deadline(&c, 1, 0, ts_now() - TS_SECOND), 0);
    assert_true(c.ok);
    assert_int_equal(v, 12);
    ts_chan_release(ch);
    tt_end(0);
}

/* With a deadline, even a select that could never proceed (all NULL, or no
 * cases) returns TS_SELECT_TIMEOUT at the deadline. */
static void test_select_deadline_without_cases_times_out(void **state)
{
    (void)state;
    int v = 0;
    ts_select_case_t cs[1] = {TS_RECV_CASE(NULL, &v)};
    int64_t deadline = ts_now() + 10 * TS_MILLISECOND;
    assert_int_equal(ts_select_deadline(cs, 1, 0, deadline), TS_SELECT_TIMEOUT);
    assert_true(ts_now() >= deadline);
    deadline = ts_now() + 10 * TS_MILLISECOND;
    assert_int_equal(ts_select_deadline(NULL, 0, 0, deadline), TS_SELECT_TIMEOUT);
    assert_true(ts_now() >= deadline);
    tt_end(0);
}

static void delayed_send_task(void *arg)
{
    ts_chan_t *ch = arg;
    ts_sleep(10 * TS_MILLISECOND);
    int v = 71;
    TT_CHECK_EQ(ts_chan_send(ch, &v), 0);
}

/* A case that becomes ready before the deadline wins over the timeout. */
static void test_select_deadline_returns_case_ready_before_deadline(void **state)
{
    (void)state;
    ts_chan_t *ch = make_chan(sizeof(int), 0);
    assert_true(ts_go(delayed_send_task, ch) != 0);
    int v = 0;
    ts_select_case_t c = TS_RECV_CASE(ch, &v);
    assert_int_equal(ts_select_deadline(&c, 1, 0, ts_now() + TT_SOON), 0);
    assert_true(c.ok);
    assert_int_equal(v, 71);
    tt_end(0);
    ts_chan_release(ch);
}

/* ---- a wakeup takes exactly one case ------------------------------------ */

/* Two senders race, one on each of the selector's channels. The select is
 * woken by whichever comes first and must take that value only: it must
 * dequeue itself from the other channel so that the second sender's value
 * is neither swallowed (handed to a select that already returned) nor
 * duplicated; the test then receives it with a plain recv. Repeated many
 * times so the select sometimes parks first and sometimes finds a sender
 * already waiting. Each round uses the round number as the value, so a
 * value lost in one round shows as a mismatch in the next. */
struct race {
    ts_chan_t *a;
    ts_chan_t *b;
    ts_chan_t *done;
    long rounds;
};

static void race_sender_task(void *arg)
{
    void **p = arg;
    struct race *r = p[0];
    ts_chan_t *ch = p[1];
    for (long i = 0; i < r->rounds; i++)
        if (ts_chan_send(ch, &i) != 0) {
            tt_failf(__FILE__, __LINE__, "send failed");
            break;
        }
    tt_signal(r->done);
}

static void race_receive_rounds(struct race *r, long *first_a)
{
    for (long i = 0; i < r->rounds; i++) {
        long va = -1, vb = -1;
        ts_select_case_t cs[2] = {TS_RECV_CASE(r->a, &va),
                                  TS_RECV_CASE(r->b, &vb)};
        int k = ts_select_deadline(cs, 2, 0, ts_now() + TT_SOON);
        if (k != 0 && k != 1)
            fail_msg("round %ld: select returned %d", i, k);
        long other = -1;
        bool ok = false;
        if (tt_recv_within(k == 0 ? r->b : r->a, &other, &ok, TT_SOON) != 0)
            fail_msg("round %ld: the losing channel's value never came "
                     "(select swallowed it)", i);
        assert_true(ok);
        assert_int_equal(k == 0 ? va : vb, i);
        assert_int_equal(k == 0 ? vb : va, -1);
        assert_int_equal(other, i);
        *first_a += k == 0;
    }
}

static void run_race(size_t cap, long rounds)
{
    struct race r = {.a = make_chan(sizeof(long), cap),
                     .b = make_chan(sizeof(long), cap),
                     .done = make_chan(0, 2),
                     .rounds = rounds};
    void *pa[2] = {&r, r.a}, *pb[2] = {&r, r.b};
    assert_true(ts_go(race_sender_task, pa) != 0);
    assert_true(ts_go(race_sender_task, pb) != 0);
    long first_a = 0;
    race_receive_rounds(&r, &first_a);
    assert_int_equal(tt_wait_done(r.done, 2, TT_SOON), 2);
    /* nothing extra is left anywhere */
    assert_int_equal(ts_chan_try_recv(r.a, NULL, NULL), TS_EWOULDBLOCK);
    assert_int_equal(ts_chan_try_recv(r.b, NULL, NULL), TS_EWOULDBLOCK);
    ts_chan_release(r.a);
    ts_chan_release(r.b);
    ts_chan_release(r.done);
}

static void test_select_wakeup_does_not_consume_other_case(void **state)
{
    (void)state;
    long rounds = tt_scaled(20000, 2000);
    run_race(0, rounds);
    run_race(1, rounds);
    tt_end(0);
}

/* The send-side mirror: the selector offers a value on two channels, each
 * with its own receiver. Exactly one receiver gets it per select; the
 * selector then sends the same round on the other channel directly, so
 * each receiver must see 0, 1, 2, ... with no gap and no repeat. */
struct send_race {
    ts_chan_t *a;
    ts_chan_t *b;
    ts_chan_t *done;
    long rounds;
};

static void send_race_receiver_task(void *arg)
{
    void **p = arg;
    struct send_race *r = p[0];
    ts_chan_t *ch = p[1];
    for (long i = 0; i < r->rounds; i++) {
        long v = -1;
        bool ok = false;
        if (ts_chan_recv(ch, &v, &ok) != 0 || !ok) {
            tt_failf(__FILE__, __LINE__, "recv failed");
            break;
        }
        if (v != i) {
            tt_failf(__FILE__, __LINE__, "round %ld: got %ld", i, v);
            break;
        }
    }
    tt_signal(r->done);
}

static void test_select_send_wakeup_delivers_to_exactly_one(void **state)
{
    (void)state;
    struct send_race r = {.a = make_chan(sizeof(long), 0),
                          .b = make_chan(sizeof(long), 0),
                          .done = make_chan(0, 2),
                          .rounds = tt_scaled(20000, 2000)};
    void *pa[2] = {&r, r.a}, *pb[2] = {&r, r.b};
    assert_true(ts_go(send_race_receiver_task, pa) != 0);
    assert_true(ts_go(send_race_receiver_task, pb) != 0);
    for (long i = 0; i < r.rounds; i++) {
        ts_select_case_t cs[2] = {TS_SEND_CASE(r.a, &i), TS_SEND_CASE(r.b, &i)};
        int k = ts_select_deadline(cs, 2, 0, ts_now() + TT_SOON);
        if (k != 0 && k != 1)
            fail_msg("round %ld: select returned %d", i, k);
        if (tt_send_within(k == 0 ? r.b : r.a, &i, TT_SOON) != 0)
            fail_msg("round %ld: the other receiver never took its value", i);
    }
    assert_int_equal(tt_wait_done(r.done, 2, TT_SOON), 2);
    tt_end(0);
    ts_chan_release(r.a);
    ts_chan_release(r.b);
    ts_chan_release(r.done);
}

/* After a parked select is woken through one channel it must be gone from
 * the others' wait queues: a later try_send there finds no receiver. The
 * duplicate-channel form (both cases on one channel) checks that one wakeup
 * removes both entries. */
static void test_select_wakeup_dequeues_from_other_channels(void **state)
{
    (void)state;
    for (int dup = 0; dup <= 1; dup++) {
        struct selector s = {.a = make_chan(sizeof(int64_t), 0),
                             .done = make_chan(0, 1)};
        s.b = dup ? s.a : make_chan(sizeof(int64_t), 0);
        uint64_t id = ts_go(select_recv_two_task, &s);
        assert_true(id != 0);
        assert_true(tt_wait_parked(id, TS_WAIT_SELECT, TT_SOON, NULL));
        int64_t v = 1;
        assert_int_equal(ts_chan_send(s.a, &v), 0);
        assert_int_equal(tt_wait_done(s.done, 1, TT_SOON), 1);
        assert_true(s.result == 0 || (dup && s.result == 1));
        assert_int_equal(s.value, 1);
        assert_int_equal(ts_chan_try_send(s.a, &v), TS_EWOULDBLOCK);
        assert_int_equal(ts_chan_try_send(s.b, &v), TS_EWOULDBLOCK);
        ts_chan_release(s.a);
        if (!dup)
            ts_chan_release(s.b);
        ts_chan_release(s.done);
    }
    tt_end(0);
}

/* Two receive cases on one channel holding one value: one case takes it,
 * the value is gone. */
static void test_select_duplicate_channel_cases_take_value_once(void **state)
{
    (void)state;
    ts_chan_t *ch = make_chan(sizeof(int), 1);
    for (int k = 0; k < 100; k++) {
        int v = k, x = -1, y = -1;
        assert_int_equal(ts_chan_send(ch, &v), 0);
        ts_select_case_t cs[2] = {TS_RECV_CASE(ch, &x), TS_RECV_CASE(ch, &y)};
        int r = ts_select(cs, 2, 0);
        assert_in_range(r, 0, 1);
        assert_int_equal(r == 0 ? x : y, k);
        assert_int_equal(r == 0 ? y : x, -1);
        assert_int_equal(ts_chan_len(ch), 0);
        assert_int_equal(ts_select(cs, 2, TS_SELECT_NONBLOCK), TS_SELECT_DEFAULT);
    }
    ts_chan_release(ch);
    tt_end(0);
}

/* Go's TestSelfSelect: two tasks each select {send p on c; receive from c}
 * on the same channel. On an unbuffered channel a select must never match
 * its own send with its own receive (a task would receive its own p); the
 * two must pair with each other, and both finish. */
struct self_select {
    ts_chan_t *c;
    ts_chan_t *done;
    size_t cap;
    long rounds;
};

static void self_select_task(void *arg)
{
    void **a = arg;
    struct self_select *s = a[0];
    int p = (int)(intptr_t)a[1];
    for (long i = 0; i < s->rounds; i++) {
        int v = -1;
        ts_select_case_t cs[2];
        if (p == 0 || i % 2 == 0) {
            cs[0] = TS_SEND_CASE(s->c, &p);
            cs[1] = TS_RECV_CASE(s->c, &v);
        } else {
            cs[0] = TS_RECV_CASE(s->c, &v);
            cs[1] = TS_SEND_CASE(s->c, &p);
        }
        int r = ts_select_deadline(cs, 2, 0, ts_now() + TT_SOON);
        if (r < 0) {
            tt_failf(__FILE__, __LINE__, "task %d round %ld: select %d", p, i,
                     r);
            break;
        }
        if (cs[r].dir == TS_SELECT_RECV && s->cap == 0 && v == p) {
            tt_failf(__FILE__, __LINE__, "task %d received its own value", p);
            break;
        }
    }
    tt_signal(s->done);
}

static void test_select_same_channel_send_and_recv(void **state)
{
    (void)state;
    for (size_t cap = 0; cap <= 10; cap += 10) {
        struct self_select s = {.c = make_chan(sizeof(int), cap),
                                .done = make_chan(0, 2),
                                .cap = cap,
                                .rounds = tt_scaled(5000, 1000)};
        void *a0[2] = {&s, (void *)(intptr_t)0}, *a1[2] = {&s, (void *)(intptr_t)1};
        assert_true(ts_go(self_select_task, a0) != 0);
        assert_true(ts_go(self_select_task, a1) != 0);
        assert_int_equal(tt_wait_done(s.done, 2, 2 * TT_SOON), 2);
        ts_chan_release(s.c);
        ts_chan_release(s.done);
    }
    tt_end(0);
}

/* A lone select offering to send and to receive on one unbuffered channel
 * cannot complete with itself: with NONBLOCK it takes the default. */
static void test_select_does_not_pair_with_itself(void **state)
{
    (void)state;
    ts_chan_t *c = make_chan(sizeof(int), 0);
    int out = 1, in = -1;
    ts_select_case_t cs[2] = {TS_SEND_CASE(c, &out), TS_RECV_CASE(c, &in)};
    assert_int_equal(ts_select(cs, 2, TS_SELECT_NONBLOCK), TS_SELECT_DEFAULT);
    int64_t deadline = ts_now() + 10 * TS_MILLISECOND;
    assert_int_equal(ts_select_deadline(cs, 2, 0, deadline), TS_SELECT_TIMEOUT);
    assert_int_equal(in, -1);
    ts_chan_release(c);
    tt_end(0);
}

/* ---- non-blocking races (Go's TestNonblockRecvRace, ...SelectRace) ----- */

struct nb_race {
    ts_chan_t *c1;
    ts_chan_t *c2;
    ts_chan_t *result; /* int: 1 = a case was taken, 0 = default */
};

static void nb_recv_task(void *arg)
{
    struct nb_race *r = arg;
    ts_select_case_t c = TS_RECV_CASE(r->c1, NULL);
    int k = ts_select(&c, 1, TS_SELECT_NONBLOCK);
    int took = k == 0;
    TT_CHECK_EQ(ts_chan_send(r->result, &took), 0);
}

/* c1 holds a value and is being closed and drained concurrently: at every
 * instant it has a value or is closed, so a non-blocking receive is always
 * ready and must never take the default. */
static void test_select_nonblock_recv_race_never_defaults(void **state)
{
    (void)state;
    long n = tt_scaled(10000, 1000);
    struct nb_race r = {.result = make_chan(sizeof(int), 1)};
    for (long i = 0; i < n; i++) {
        r.c1 = make_chan(sizeof(int), 1);
        int v = 1;
        assert_int_equal(ts_chan_send(r.c1, &v), 0);
        assert_true(ts_go(nb_recv_task, &r) != 0);
        ts_chan_close(r.c1);
        assert_int_equal(ts_chan_recv(r.c1, NULL, NULL), 0);
        int took = -1;
        assert_int_equal(tt_recv_within(r.result, &took, NULL, TT_SOON), 0);
        if (took != 1)
            fail_msg("iteration %ld: ready channel reported not ready", i);
        ts_chan_release(r.c1);
    }
    ts_chan_release(r.result);
    tt_end(0);
}

static void nb_select_task(void *arg)
{
    struct nb_race *r = arg;
    ts_select_case_t cs[2] = {TS_RECV_CASE(r->c1, NULL),
                              TS_RECV_CASE(r->c2, NULL)};
    int k = ts_select(cs, 2, TS_SELECT_NONBLOCK);
    int took = k == 0 || k == 1;
    TT_CHECK_EQ(ts_chan_send(r->result, &took), 0);
}

/* c1 holds a value; concurrently the test makes c2 ready (a send, or a
 * close) and then takes c1's value. At every instant one of them is ready,
 * so a non-blocking select over both must not take the default. */
static void test_select_nonblock_select_race_never_defaults(void **state)
{
    (void)state;
    long n = tt_scaled(10000, 1000);
    struct nb_race r = {.result = make_chan(sizeof(int), 1)};
    for (int close_c2 = 0; close_c2 <= 1; close_c2++) {
        for (long i = 0; i < n; i++) {
            r.c1 = make_chan(sizeof(int), 1);
            r.c2 = make_chan(sizeof(int), 1);
            int v = 1;
            assert_int_equal(ts_chan_send(r.c1, &v), 0);
            assert_true(ts_go(nb_select_task, &r) != 0);
            if (close_c2)
                ts_chan_close(r.c2);
            else
                assert_int_equal(ts_chan_send(r.c2, &v), 0);
            ts_select_case_t c = TS_RECV_CASE(r.c1, NULL);
            int k = ts_select(&c, 1, TS_SELECT_NONBLOCK);
            assert_true(k == 0 || k == TS_SELECT_DEFAULT);
            int took = -1;
            assert_int_equal(tt_recv_within(r.result, &took, NULL, TT_SOON), 0);
            if (took != 1)
                fail_msg("iteration %ld (close=%d): no case ready", i,
                         close_c2);
            ts_chan_release(r.c1);
            ts_chan_release(r.c2);
        }
    }
    ts_chan_release(r.result);
    tt_end(0);
}

/* ---- plain threads ------------------------------------------------------ */

struct thread_sel {
    ts_chan_t *a;
    ts_chan_t *b;
    long rounds;
    long got_a;
    long got_b;
};

static void *thread_select_recv(void *arg)
{
    struct thread_sel *t = arg;
    for (long i = 0; i < 2 * t->rounds; i++) {
        long va = -1, vb = -1;
        ts_select_case_t cs[2] = {TS_RECV_CASE(t->a, &va), TS_RECV_CASE(t->b, &vb)};
        int k = ts_select_deadline(cs, 2, 0, ts_now() + TT_SOON);
        if (k == 0)
            t->got_a++;
        else if (k == 1)
            t->got_b++;
        else {
            tt_failf(__FILE__, __LINE__, "thread select returned %d", k);
            break;
        }
    }
    return NULL;
}

static void *thread_send_rounds(void *arg)
{
    void **p = arg;
    struct thread_sel *t = p[0];
    ts_chan_t *ch = p[1];
    /* Read once, before the first send: after the last send nothing orders
     * a read of *t before the test returns and its frame is reused. */
    long rounds = t->rounds;
    for (long i = 0; i < rounds; i++)
        if (ts_chan_send(ch, &i) != 0) {
            tt_failf(__FILE__, __LINE__, "send failed");
            break;
        }
    return NULL;
}

static void task_send_rounds(void *arg)
{
    (void)thread_send_rounds(arg);
}

/* select works from plain threads: a thread selecting over channels fed by
 * a task and by another thread gets every value. */
static void test_select_from_plain_threads(void **state)
{
    (void)state;
    struct thread_sel t = {.a = make_chan(sizeof(long), 0),
                           .b = make_chan(sizeof(long), 0),
                           .rounds = tt_scaled(5000, 500)};
    void *pa[2] = {&t, t.a}, *pb[2] = {&t, t.b};
    pthread_t sel = tt_thread(thread_select_recv, &t);
    assert_true(ts_go(task_send_rounds, pa) != 0);
    pthread_t snd = tt_thread(thread_send_rounds, pb);
    tt_join(snd);
    tt_join(sel);
    assert_int_equal(t.got_a, t.rounds);
    assert_int_equal(t.got_b, t.rounds);

    /* a thread's blocking select woken by a task */
    struct selector s = {.a = make_chan(sizeof(int64_t), 0),
                         .b = make_chan(sizeof(int64_t), 0),
                         .done = make_chan(0, 1)};
    assert_true(ts_go(select_send_task, &s) != 0);
    int64_t in = 0;
    ts_select_case_t cs[2] = {TS_RECV_CASE(s.b, &in), TS_SEND_CASE(s.a, &in)};
    int k = ts_select_deadline(cs, 2, 0, ts_now() + TT_SOON);
    /* either this thread received from the task's send case on b, or the
     * task received our send on a: both are one matched pair */
    assert_true(k == 0 || k == 1);
    assert_int_equal(tt_wait_done(s.done, 1, TT_SOON), 1);
    assert_int_equal(s.result, k == 0 ? 1 : 0);
    if (k == 0)
        assert_int_equal(in, 4096);
    tt_end(0);
    ts_chan_release(t.a);
    ts_chan_release(t.b);
    ts_chan_release(s.a);
    ts_chan_release(s.b);
    ts_chan_release(s.done);
}

/* ---- stress (Go's TestSelectStress) ------------------------------------- */

/* Four channels (caps 0, 0, 2, 3). On each, a plain sender and a selecting
 * sender each send N values and a plain receiver and a selecting receiver
 * each receive N. Selecting tasks drop a channel from their case list (set
 * it to NULL) once done with it. Every (sender, channel, seq) value must be
 * received exactly once, and everything must finish. */
#define SS_CHANS 4

struct sel_stress {
    ts_chan_t *c[SS_CHANS];
    ts_chan_t *done;
    long n;
    atomic_uchar *seen; /* [sender 0..1][chan][seq] */
};

static void ss_mark(struct sel_stress *s, int ch, long v)
{
    long sender = v / s->n / SS_CHANS, idx = v;
    if (v < 0 || sender > 1 || (v / s->n) % SS_CHANS != ch) {
        tt_failf(__FILE__, __LINE__, "bad value %ld on chan %d", v, ch);
        return;
    }
    atomic_fetch_add(&s->seen[idx], 1);
}

static long ss_value(struct sel_stress *s, int sender, int ch, long seq)
{
    return ((long)sender * SS_CHANS + ch) * s->n + seq;
}

static void ss_plain_sender(void *arg)
{
    void **p = arg;
    struct sel_stress *s = p[0];
    int ch = (int)(intptr_t)p[1];
    for (long i = 0; i < s->n; i++) {
        long v = ss_value(s, 0, ch, i);
        TT_CHECK_EQ(ts_chan_send(s->c[ch], &v), 0);
    }
    tt_signal(s->done);
}

static void ss_plain_receiver(void *arg)
{
    void **p = arg;
    struct sel_stress *s = p[0];
    int ch = (int)(intptr_t)p[1];
    for (long i = 0; i < s->n; i++) {
        long v = -1;
        bool ok = false;
        TT_CHECK_EQ(ts_chan_recv(s->c[ch], &v, &ok), 0);
        TT_CHECK(ok);
        ss_mark(s, ch, v);
    }
    tt_signal(s->done);
}

static void ss_select_sender(void *arg)
{
    struct sel_stress *s = arg;
    long sent[SS_CHANS] = {0};
    long v[SS_CHANS];
    for (long total = 0; total < SS_CHANS * s->n;) {
        ts_select_case_t cs[SS_CHANS];
        for (int i = 0; i < SS_CHANS; i++) {
            v[i] = ss_value(s, 1, i, sent[i]);
            cs[i] = TS_SEND_CASE(sent[i] < s->n ? s->c[i] : NULL, &v[i]);
        }
        int k = ts_select_deadline(cs, SS_CHANS, 0, ts_now() + 2 * TT_SOON);
        if (k < 0 || k >= SS_CHANS) {
            tt_failf(__FILE__, __LINE__, "select sender: %d", k);
            break;
        }
        sent[k]++;
        total++;
    }
    tt_signal(s->done);
}

static void ss_select_receiver(void *arg)
{
    struct sel_stress *s = arg;
    long got[SS_CHANS] = {0};
    long v[SS_CHANS];
    for (long total = 0; total < SS_CHANS * s->n;) {
        ts_select_case_t cs[SS_CHANS];
        for (int i = 0; i < SS_CHANS; i++)
            cs[i] = TS_RECV_CASE(got[i] < s->n ? s->c[i] : NULL, &v[i]);
        int k = ts_select_deadline(cs, SS_CHANS, 0, ts_now() + 2 * TT_SOON);
        if (k < 0 || k >= SS_CHANS) {
            tt_failf(__FILE__, __LINE__, "select receiver: %d", k);
            break;
        }
        TT_CHECK(cs[k].ok);
        ss_mark(s, k, v[k]);
        got[k]++;
        total++;
    }
    tt_signal(s->done);
}

static void test_select_stress_conserves_values(void **state)
{
    (void)state;
    static const size_t caps[SS_CHANS] = {0, 0, 2, 3};
    struct sel_stress s = {.n = tt_scaled(20000, 2000)};
    for (int i = 0; i < SS_CHANS; i++)
        s.c[i] = make_chan(sizeof(long), caps[i]);
    s.done = make_chan(0, 2 * SS_CHANS + 2);
    s.seen = calloc((size_t)(2 * SS_CHANS * s.n), 1);
    assert_non_null(s.seen);
    void *args[SS_CHANS][2];
    for (int i = 0; i < SS_CHANS; i++) {
        args[i][0] = &s;
        args[i][1] = (void *)(intptr_t)i;
        assert_true(ts_go(ss_plain_sender, args[i]) != 0);
        assert_true(ts_go(ss_plain_receiver, args[i]) != 0);
    }
    assert_true(ts_go(ss_select_sender, &s) != 0);
    assert_true(ts_go(ss_select_receiver, &s) != 0);
    long want = 2 * SS_CHANS + 2;
    assert_int_equal(tt_wait_done(s.done, want, 5 * TT_SOON), want);
    for (long v = 0; v < 2 * SS_CHANS * s.n; v++)
        if (atomic_load(&s.seen[v]) != 1)
            fail_msg("value %ld received %d times", v,
                     (int)atomic_load(&s.seen[v]));
    for (int i = 0; i < SS_CHANS; i++)
        ts_chan_release(s.c[i]);
    ts_chan_release(s.done);
    free(s.seen);
    tt_end(0);
}

/* ---- more races ----------------------------------------------------------- */

struct seq {
    ts_chan_t *ch;
    ts_chan_t *done;
    long n;
    int64_t max_wait; /* > 0: sender uses short select deadlines */
    uint64_t seed;
};

static void seq_sender_task(void *arg)
{
    struct seq *s = arg;
    for (long i = 0; i < s->n; i++) {
        if (s->max_wait == 0) {
            if (ts_chan_send(s->ch, &i) != 0) {
                tt_failf(__FILE__, __LINE__, "send failed");
                break;
            }
            continue;
        }
        /* retry a send with a short random deadline until it goes through:
         * a send that timed out must not have been delivered */
        for (;;) {
            ts_select_case_t c = TS_SEND_CASE(s->ch, &i);
            int64_t d = (int64_t)(tt_rand(&s->seed) % (uint64_t)s->max_wait);
            int r = ts_select_deadline(&c, 1, 0, ts_now() + d);
            if (r == 0)
                break;
            if (r != TS_SELECT_TIMEOUT) {
                tt_failf(__FILE__, __LINE__, "select send: %d", r);
                return;
            }
        }
    }
    tt_signal(s->done);
}

static void seq_receiver_task(void *arg)
{
    struct seq *s = arg;
    for (long i = 0; i < s->n; i++) {
        long v = -1;
        bool ok = false;
        if (ts_chan_recv(s->ch, &v, &ok) != 0 || !ok || v != i) {
            tt_failf(__FILE__, __LINE__, "want %ld, got %ld (ok %d)", i, v,
                     (int)ok);
            break;
        }
    }
    tt_signal(s->done);
}

/* A select's deadline races with a peer on an unbuffered channel: the
 * deadline passing and the peer arriving happen at nearly the same time,
 * over and over. Whichever wins, the value moves exactly once: a receive
 * that reports TS_SELECT_TIMEOUT consumed nothing (the next receive gets the
 * same sequence number), and a send that reports TS_SELECT_TIMEOUT
 * delivered nothing (the receiver sees no duplicate). */
static void test_select_deadline_racing_peer_moves_value_exactly_once(
    void **state)
{
    (void)state;
    long n = tt_scaled(5000, 1000);
    uint64_t seed = 4242;

    struct seq s = {.ch = make_chan(sizeof(long), 0), .done = make_chan(0, 1),
                    .n = n};
    assert_true(ts_go(seq_sender_task, &s) != 0);
    long timeouts = 0;
    for (long i = 0; i < n;) {
        long v = -1;
        ts_select_case_t c = TS_RECV_CASE(s.ch, &v);
        int64_t d = (int64_t)(tt_rand(&seed) % (uint64_t)(50 * TS_MICROSECOND));
        int r = ts_select_deadline(&c, 1, 0, ts_now() + d);
        if (r == TS_SELECT_TIMEOUT) {
            assert_int_equal(v, -1);
            timeouts++;
            continue;
        }
        assert_int_equal(r, 0);
        if (v != i)
            fail_msg("receive %ld got %ld: a timed-out select consumed a "
                     "value",
                     i, v);
        i++;
    }
    assert_int_equal(tt_wait_done(s.done, 1, TT_SOON), 1);
    ts_chan_release(s.ch);
    ts_chan_release(s.done);

    struct seq t = {.ch = make_chan(sizeof(long), 0), .done = make_chan(0, 2),
                    .n = n, .max_wait = 50 * TS_MICROSECOND, .seed = 99};
    assert_true(ts_go(seq_receiver_task, &t) != 0);
    assert_true(ts_go(seq_sender_task, &t) != 0);
    assert_int_equal(tt_wait_done(t.done, 2, 2 * TT_SOON), 2);
    ts_chan_release(t.ch);
    ts_chan_release(t.done);
    print_message("receive timeouts: %ld of %ld\n", timeouts, n);
    tt_end(0);
}

struct counted_receiver {
    ts_chan_t *c;
    ts_chan_t *done;
    long n;
    long hits[2];
};

static void counted_receiver_task(void *arg)
{
    struct counted_receiver *r = arg;
    for (long i = 0; i < r->n; i++) {
        int v = -1;
        if (ts_chan_recv(r->c, &v, NULL) != 0 || v < 0 || v > 1) {
            tt_failf(__FILE__, __LINE__, "bad receive %d", v);
            break;
        }
        r->hits[v]++;
    }
    tt_signal(r->done);
}

/* Go's TestPseudoRandomSend: a receiver already waits on c, so both send
 * cases of select {c <- 0; c <- 1} are ready; the choice must be random,
 * not the first case every time. */
static void test_select_chooses_randomly_among_sends_to_waiting_receiver(
    void **state)
{
    (void)state;
    struct counted_receiver r = {.c = make_chan(sizeof(int), 0),
                                 .done = make_chan(0, 1),
                                 .n = 200};
    uint64_t id = ts_go(counted_receiver_task, &r);
    assert_true(id != 0);
    int zero = 0, one = 1;
    for (long i = 0; i < r.n; i++) {
        assert_true(tt_wait_parked(id, TS_WAIT_CHAN_RECV, TT_SOON, NULL));
        ts_select_case_t cs[2] = {TS_SEND_CASE(r.c, &zero),
                                  TS_SEND_CASE(r.c, &one)};
        assert_in_range(ts_select(cs, 2, TS_SELECT_NONBLOCK), 0, 1);
    }
    assert_int_equal(tt_wait_done(r.done, 1, TT_SOON), 1);
    /* binomial(200, 1/2): below 30 is about 24 standard deviations out */
    assert_true(r.hits[0] >= 30);
    assert_true(r.hits[1] >= 30);
    ts_chan_release(r.c);
    ts_chan_release(r.done);
    tt_end(0);
}

struct dup_regress {
    ts_chan_t *c;
    ts_chan_t *d;
    ts_chan_t *e;
    int b_got;
};

static void dup_select_task(void *arg)
{
    struct dup_regress *x = arg;
    int v1 = 0, v2 = 0, v3 = 0;
    ts_select_case_t cs[3] = {TS_RECV_CASE(x->c, &v1), TS_RECV_CASE(x->c, &v2),
                              TS_RECV_CASE(x->d, &v3)};
    int k = ts_select(cs, 3, 0);
    TT_CHECK_EQ(k, 2);
    TT_CHECK_EQ(v3, 7);
    int nine = 9;
    TT_CHECK_EQ(ts_chan_send(x->e, &nine), 0);
}

static void dup_plain_recv_task(void *arg)
{
    struct dup_regress *x = arg;
    int v = 0;
    TT_CHECK_EQ(ts_chan_recv(x->c, &v, NULL), 0);
    x->b_got = v;
    int ten = 10;
    TT_CHECK_EQ(ts_chan_send(x->e, &ten), 0);
}

/* Go's TestSelectDuplicateChannel (regression: a select that waited on the
 * same channel twice, once woken through another channel, left c's
 * receive queue corrupted so the next send woke the wrong task). Task A
 * selects on c, c and d; task B then waits on c; d wakes A, which must
 * remove both of its entries from c; a send on c must then wake B. */
static void test_select_duplicate_channel_wakeup_keeps_wait_queue_intact(
    void **state)
{
    (void)state;
    struct dup_regress x = {.c = make_chan(sizeof(int), 0),
                            .d = make_chan(sizeof(int), 0),
                            .e = make_chan(sizeof(int), 0)};
    uint64_t a = ts_go(dup_select_task, &x);
    assert_true(a != 0);
    assert_true(tt_wait_parked(a, TS_WAIT_SELECT, TT_SOON, NULL));
    uint64_t b = ts_go(dup_plain_recv_task, &x);
    assert_true(b != 0);
    assert_true(tt_wait_parked(b, TS_WAIT_CHAN_RECV, TT_SOON, NULL));
    int seven = 7, eight = 8, got = 0;
    assert_int_equal(ts_chan_send(x.d, &seven), 0);
    assert_int_equal(tt_recv_within(x.e, &got, NULL, TT_SOON), 0);
    assert_int_equal(got, 9);
    assert_int_equal(tt_send_within(x.c, &eight, TT_SOON), 0);
    assert_int_equal(tt_recv_within(x.e, &got, NULL, TT_SOON), 0);
    assert_int_equal(got, 10);
    assert_int_equal(x.b_got, 8);
    tt_end(0);
    ts_chan_release(x.c);
    ts_chan_release(x.d);
    ts_chan_release(x.e);
}

/* ---- invalid arguments ---------------------------------------------------- */

static void test_select_rejects_invalid_arguments(void **state)
{
    (void)state;
    ts_chan_t *ch = make_chan(sizeof(int), 1);
    int v = 0;
    /* cases == NULL with n > 0 */
    assert_int_equal(ts_select(NULL, 1, TS_SELECT_NONBLOCK), TS_SELECT_EINVAL);
    assert_int_equal(ts_select(NULL, 1, 0), TS_SELECT_EINVAL);
    assert_int_equal(ts_select_deadline(NULL, 2, 0, ts_now() + TS_SECOND),
                     TS_SELECT_EINVAL);
    /* bad direction, even next to a ready case */
    ts_select_case_t bad[2] = {TS_SEND_CASE(ch, &v), TS_RECV_CASE(ch, &v)};
    bad[1].dir = (ts_select_dir_t)0;
    assert_int_equal(ts_select(bad, 2, TS_SELECT_NONBLOCK), TS_SELECT_EINVAL);
    bad[1].dir = (ts_select_dir_t)3;
    assert_int_equal(ts_select(bad, 2, 0), TS_SELECT_EINVAL);
    assert_int_equal(ts_select_deadline(bad, 2, 0, ts_now() + TS_SECOND),
                     TS_SELECT_EINVAL);
    /* bad direction on a NULL channel is still bad */
    ts_select_case_t badnil = TS_RECV_CASE(NULL, &v);
    badnil.dir = (ts_select_dir_t)7;
    assert_int_equal(ts_select(&badnil, 1, TS_SELECT_NONBLOCK), TS_SELECT_EINVAL);
    /* nothing was performed by the rejected calls */
    assert_int_equal(ts_chan_len(ch), 0);
    /* too many cases (a valid array, so a missing check cannot overrun) */
    size_t n = TS_SELECT_MAX_CASES + 1;
    ts_select_case_t *many = calloc(n, sizeof *many);
    assert_non_null(many);
    for (size_t i = 0; i < n; i++)
        many[i] = TS_RECV_CASE(NULL, NULL);
    assert_int_equal(ts_select(many, n, TS_SELECT_NONBLOCK), TS_SELECT_EINVAL);
    assert_int_equal(ts_select_deadline(many, n, 0, ts_now()), TS_SELECT_EINVAL);
    /* exactly the maximum is fine */
    assert_int_equal(ts_select(many, n - 1, TS_SELECT_NONBLOCK),
                     TS_SELECT_DEFAULT);
    free(many);
    ts_chan_release(ch);
    tt_end(0);
}

/* ---- panics --------------------------------------------------------------- */

static int select_send_closed_main(void *arg)
{
    (void)arg;
    ts_chan_t *ch = ts_chan_make(sizeof(int), 1);
    if (!ch)
        return 1;
    ts_chan_close(ch);
    int v = 1;
    ts_select_case_t c = TS_SEND_CASE(ch, &v);
    ts_select(&c, 1, 0);
    printf("UNREACHED\n");
    return 0;
}

static int scenario_select_send_closed(void)
{
    return ts_run(select_send_closed_main, NULL);
}

static void parked_select_send_task(void *arg)
{
    int v = 1, w = 0;
    ts_chan_t *other = ts_chan_make(sizeof(int), 0);
    ts_select_case_t cs[2] = {TS_SEND_CASE(arg, &v), TS_RECV_CASE(other, &w)};
    ts_select(cs, 2, 0);
    printf("UNREACHED\n");
}

static int select_send_closed_while_parked_main(void *arg)
{
    (void)arg;
    ts_chan_t *ch = ts_chan_make(sizeof(int), 0);
    if (!ch)
        return 1;
    uint64_t id = ts_go(parked_select_send_task, ch);
    if (!id || !tt_wait_parked(id, TS_WAIT_SELECT, TT_SOON, NULL))
        return 1;
    ts_chan_close(ch);
    ts_sleep(5 * TS_SECOND);
    printf("UNREACHED\n");
    return 0;
}

static int scenario_select_send_closed_while_parked(void)
{
    return ts_run(select_send_closed_while_parked_main, NULL);
}

/* A send case on a closed channel panics when chosen, as in Go, including
 * when the channel is closed while the select is parked on it. */
static void test_select_send_case_on_closed_channel_panics(void **state)
{
    (void)state;
    tt_expect_panic("select_send_closed", "send on closed channel");
    tt_expect_panic("select_send_closed_while_parked",
                    "send on closed channel");
    tt_end(0);
}

/* The race and stress tests again in a child with one P and with eight
 * (see test_chan.c's stress_group for why). */
static int scenario_race_group(void)
{
    const struct CMUnitTest tests[] = {
        TT_TEST(test_select_wakeup_does_not_consume_other_case),
        TT_TEST(test_select_send_wakeup_delivers_to_exactly_one),
        TT_TEST(test_select_same_channel_send_and_recv),
        TT_TEST(test_select_nonblock_recv_race_never_defaults),
        TT_TEST(test_select_nonblock_select_race_never_defaults),
        TT_TEST(test_select_stress_conserves_values),
        TT_TEST(test_select_deadline_racing_peer_moves_value_exactly_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

static void test_select_races_on_one_proc(void **state)
{
    (void)state;
    tt_expect_scenario_ok("race_group", 1);
    tt_end(0);
}

static void test_select_races_on_eight_procs(void **state)
{
    (void)state;
    tt_expect_scenario_ok("race_group", 8);
    tt_end(0);
}

/* ---- main ------------------------------------------------------------------- */

static const struct tt_scenario scenarios[] = {
    {"select_send_closed", scenario_select_send_closed},
    {"select_send_closed_while_parked",
     scenario_select_send_closed_while_parked},
    {"race_group", scenario_race_group},
};

int main(int argc, char **argv)
{
    int sr = tt_scenario_main(argc, argv, scenarios,
                              sizeof scenarios / sizeof scenarios[0]);
    if (sr >= 0)
        return sr;
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        TT_TEST(test_select_performs_the_ready_case),
        TT_TEST(test_select_chooses_uniformly_among_ready_cases),
        TT_TEST(test_select_never_chooses_nil_case),
        TT_TEST(test_select_nonblock_returns_default_when_nothing_ready),
        TT_TEST(test_select_nonblock_all_nil_returns_default),
        TT_TEST(test_select_blocks_until_a_case_is_ready),
        TT_TEST(test_select_single_case_parks_as_channel_operation),
        TT_TEST(test_select_send_case_delivers_value),
        TT_TEST(test_select_recv_on_closed_channel_is_not_ok),
        TT_TEST(test_select_recv_case_with_null_elem_discards),
        TT_TEST(test_select_all_nil_blocks_forever),
        TT_TEST(test_select_no_cases_blocks_forever),
        TT_TEST(test_select_deadline_times_out),
        TT_TEST(test_select_deadline_in_the_past_returns_at_once),
        TT_TEST(test_select_deadline_without_cases_times_out),
        TT_TEST(test_select_deadline_returns_case_ready_before_deadline),
        TT_TEST(test_select_wakeup_does_not_consume_other_case),
        TT_TEST(test_select_send_wakeup_delivers_to_exactly_one),
        TT_TEST(test_select_wakeup_dequeues_from_other_channels),
        TT_TEST(test_select_duplicate_channel_cases_take_value_once),
        TT_TEST(test_select_same_channel_send_and_recv),
        TT_TEST(test_select_does_not_pair_with_itself),
        TT_TEST(test_select_nonblock_recv_race_never_defaults),
        TT_TEST(test_select_nonblock_select_race_never_defaults),
        TT_TEST(test_select_from_plain_threads),
        TT_TEST(test_select_stress_conserves_values),
        TT_TEST(test_select_deadline_racing_peer_moves_value_exactly_once),
        TT_TEST(test_select_chooses_randomly_among_sends_to_waiting_receiver),
        TT_TEST(test_select_duplicate_channel_wakeup_keeps_wait_queue_intact),
        TT_TEST(test_select_rejects_invalid_arguments),
        TT_TEST(test_select_send_case_on_closed_channel_panics),
        TT_TEST(test_select_races_on_one_proc),
        TT_TEST(test_select_races_on_eight_procs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
