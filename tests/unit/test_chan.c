/* test_chan.c — channels: the behaviours of Go's chan_test.go, in C.
 *
 * Most single-actor behaviours run twice through run_both(): once on the
 * cmocka thread (plain-thread mode: blocking sleeps the thread on a futex)
 * and once inside ts_run (task mode: blocking parks the task). Behaviours
 * that end the process (panics) run as scenarios in a child (see tt.h).
 * Stress tests scale with TASKSCOPE_TEST_SCALE. */
#include "tt.h"

/* Runs body(arg) on the cmocka thread, then as the main task of ts_run;
 * both must return 0. */
static void run_both(int (*body)(void *), void *arg)
{
    assert_int_equal(body(arg), 0);
    assert_int_equal(ts_run(body, arg), 0);
}

static int64_t pattern64(void)
{
    return (int64_t)0xA5A5A5A5A5A5A5A5ULL;
}

/* ---- ts_chan_make ------------------------------------------------------- */

static void test_chan_make_rejects_oversized_elem(void **state)
{
    (void)state;
    assert_null(ts_chan_make(TS_CHAN_MAX_ELEM + 1, 0));
    assert_null(ts_chan_make(TS_CHAN_MAX_ELEM + 1, 4));
    assert_null(ts_chan_make((size_t)-1, 1));
    ts_chan_t *ch = ts_chan_make(TS_CHAN_MAX_ELEM, 1);
    assert_non_null(ch);
    assert_int_equal(ts_chan_elem_size(ch), TS_CHAN_MAX_ELEM);
    ts_chan_release(ch);
    tt_end(0);
}

static void test_chan_make_rejects_overflowing_cap(void **state)
{
    (void)state;
    assert_null(ts_chan_make(8, SIZE_MAX / 8 + 1));
    assert_null(ts_chan_make(8, SIZE_MAX));
    assert_null(ts_chan_make(TS_CHAN_MAX_ELEM, SIZE_MAX / TS_CHAN_MAX_ELEM + 1));
    assert_null(ts_chan_make(3, SIZE_MAX / 2));
    tt_end(0);
}

static void test_chan_make_reports_elem_size_len_and_cap(void **state)
{
    (void)state;
    ts_chan_t *u = ts_chan_make(sizeof(int), 0);
    ts_chan_t *b = ts_chan_make(24, 10);
    ts_chan_t *z = ts_chan_make(0, 3);
    assert_non_null(u);
    assert_non_null(b);
    assert_non_null(z);
    assert_int_equal(ts_chan_elem_size(u), sizeof(int));
    assert_int_equal(ts_chan_elem_size(b), 24);
    assert_int_equal(ts_chan_elem_size(z), 0);
    assert_int_equal(ts_chan_cap(u), 0);
    assert_int_equal(ts_chan_cap(b), 10);
    assert_int_equal(ts_chan_cap(z), 3);
    assert_int_equal(ts_chan_len(u), 0);
    assert_int_equal(ts_chan_len(b), 0);
    assert_int_equal(ts_chan_len(z), 0);
    ts_chan_release(u);
    ts_chan_release(b);
    ts_chan_release(z);
    tt_end(0);
}

/* ---- unbuffered handoff -------------------------------------------------- */

struct peer {
    ts_chan_t *ch;
    ts_chan_t *done;
    int64_t value;
    bool ok;
    atomic_int finished;
};

static void send_value_task(void *arg)
{
    struct peer *p = arg;
    TT_CHECK_EQ(ts_chan_send(p->ch, &p->value), 0);
    atomic_store(&p->finished, 1);
    tt_signal(p->done);
}

static void recv_value_task(void *arg)
{
    struct peer *p = arg;
    int64_t v = pattern64();
    bool ok = false;
    TT_CHECK_EQ(ts_chan_recv(p->ch, &v, &ok), 0);
    p->value = v;
    p->ok = ok;
    atomic_store(&p->finished, 1);
    tt_signal(p->done);
}

/* A send on an unbuffered channel does not complete until a receiver takes
 * the value: the sender is seen parked ("chan send" on the channel) with
 * nothing buffered, and finishes only after the receive. */
static void test_chan_unbuffered_send_waits_for_receiver(void **state)
{
    (void)state;
    struct peer p = {.ch = ts_chan_make(sizeof(int64_t), 0),
                     .done = ts_chan_make(0, 1),
                     .value = 4242};
    assert_non_null(p.ch);
    assert_non_null(p.done);
    uint64_t id = ts_go(send_value_task, &p);
    assert_true(id != 0);
    struct ts_task_info info;
    assert_true(tt_wait_parked(id, TS_WAIT_CHAN_SEND, TT_SOON, &info));
    assert_ptr_equal(info.wait_object, p.ch);
    assert_int_equal(atomic_load(&p.finished), 0);
    assert_int_equal(ts_chan_len(p.ch), 0);
    int64_t v = 0;
    bool ok = false;
    assert_int_equal(ts_chan_recv(p.ch, &v, &ok), 0);
    assert_true(ok);
    assert_int_equal(v, 4242);
    assert_int_equal(tt_wait_done(p.done, 1, TT_SOON), 1);
    tt_end(0);
    ts_chan_release(p.ch);
    ts_chan_release(p.done);
}

/* A receive on an empty channel waits ("chan receive") until a send. */
static void test_chan_unbuffered_recv_waits_for_sender(void **state)
{
    (void)state;
    struct peer p = {.ch = ts_chan_make(sizeof(int64_t), 0),
                     .done = ts_chan_make(0, 1)};
    assert_non_null(p.ch);
    assert_non_null(p.done);
    uint64_t id = ts_go(recv_value_task, &p);
    assert_true(id != 0);
    assert_true(tt_wait_parked(id, TS_WAIT_CHAN_RECV, TT_SOON, NULL));
    assert_int_equal(atomic_load(&p.finished), 0);
    int64_t v = -99;
    assert_int_equal(ts_chan_send(p.ch, &v), 0);
    assert_int_equal(tt_wait_done(p.done, 1, TT_SOON), 1);
    assert_true(p.ok);
    assert_int_equal(p.value, -99);
    tt_end(0);
    ts_chan_release(p.ch);
    ts_chan_release(p.done);
}

struct seq {
    ts_chan_t *ch;
    ts_chan_t *done;
    long n;
};

static void send_sequence_task(void *arg)
{
    struct seq *s = arg;
    for (long i = 0; i < s->n; i++)
        if (ts_chan_send(s->ch, &i) != 0) {
            tt_failf(__FILE__, __LINE__, "send %ld failed", i);
            break;
        }
    tt_signal(s->done);
}

/* One sender, one receiver: values arrive in the order sent, whether the
 * channel is unbuffered, small (wrapping its ring many times) or large. */
static void test_chan_single_sender_order_is_preserved(void **state)
{
    (void)state;
    static const size_t caps[] = {0, 1, 7, 1024};
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        struct seq s = {.ch = ts_chan_make(sizeof(long), caps[c]),
                        .done = ts_chan_make(0, 1),
                        .n = tt_scaled(20000, 2000)};
        assert_non_null(s.ch);
        assert_non_null(s.done);
        assert_true(ts_go(send_sequence_task, &s) != 0);
        for (long i = 0; i < s.n; i++) {
            long v = -1;
            bool ok = false;
            assert_int_equal(ts_chan_recv(s.ch, &v, &ok), 0);
            assert_true(ok);
            assert_int_equal(v, i);
        }
        assert_int_equal(tt_wait_done(s.done, 1, TT_SOON), 1);
        ts_chan_release(s.ch);
        ts_chan_release(s.done);
    }
    tt_end(0);
}

/* ---- buffered ------------------------------------------------------------ */

static int buffered_fifo_body(void *arg)
{
    (void)arg;
    ts_chan_t *ch = ts_chan_make(sizeof(int), 16);
    TT_REQUIRE(ch != NULL, 1);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 16; i++) {
            int v = round * 100 + i;
            TT_CHECK_EQ(ts_chan_send(ch, &v), 0);
            TT_CHECK_EQ(ts_chan_len(ch), (size_t)i + 1);
            TT_CHECK_EQ(ts_chan_cap(ch), 16);
        }
        for (int i = 0; i < 16; i++) {
            int v = -1;
            bool ok = false;
            TT_CHECK_EQ(ts_chan_recv(ch, &v, &ok), 0);
            TT_CHECK(ok);
            TT_CHECK_EQ(v, round * 100 + i);
            TT_CHECK_EQ(ts_chan_len(ch), 15 - (size_t)i);
        }
    }
    ts_chan_release(ch);
    return 0;
}

/* A buffered channel is a FIFO whose len counts buffered elements and
 * whose cap never changes; sends do not block while there is room. */
static void test_chan_buffered_is_fifo_with_len_and_cap(void **state)
{
    (void)state;
    run_both(buffered_fifo_body, NULL);
    tt_end(0);
}

/* A send on a full buffered channel waits ("chan send") until a receive
 * makes room; the waiting sender's value is queued behind the buffer. */
static void test_chan_buffered_send_waits_when_full(void **state)
{
    (void)state;
    struct peer p = {.ch = ts_chan_make(sizeof(int64_t), 2),
                     .done = ts_chan_make(0, 1),
                     .value = 3};
    assert_non_null(p.ch);
    assert_non_null(p.done);
    int64_t v1 = 1, v2 = 2;
    assert_int_equal(ts_chan_send(p.ch, &v1), 0);
    assert_int_equal(ts_chan_send(p.ch, &v2), 0);
    uint64_t id = ts_go(send_value_task, &p);
    assert_true(id != 0);
    assert_true(tt_wait_parked(id, TS_WAIT_CHAN_SEND, TT_SOON, NULL));
    assert_int_equal(ts_chan_len(p.ch), 2);
    for (int64_t want = 1; want <= 3; want++) {
        int64_t v = 0;
        bool ok = false;
        assert_int_equal(ts_chan_recv(p.ch, &v, &ok), 0);
        assert_true(ok);
        assert_int_equal(v, want);
    }
    assert_int_equal(tt_wait_done(p.done, 1, TT_SOON), 1);
    assert_int_equal(ts_chan_len(p.ch), 0);
    tt_end(0);
    ts_chan_release(p.ch);
    ts_chan_release(p.done);
}

/* ---- closed channels ------------------------------------------------------ */

static int closed_drains_body(void *arg)
{
    (void)arg;
    ts_chan_t *ch = ts_chan_make(sizeof(int64_t), 3);
    TT_REQUIRE(ch != NULL, 1);
    for (int64_t i = 1; i <= 3; i++)
        TT_CHECK_EQ(ts_chan_send(ch, &i), 0);
    ts_chan_close(ch);
    TT_CHECK_EQ(ts_chan_len(ch), 3);
    TT_CHECK_EQ(ts_chan_cap(ch), 3);
    for (int64_t i = 1; i <= 3; i++) {
        int64_t v = 0;
        bool ok = false;
        TT_CHECK_EQ(ts_chan_recv(ch, &v, &ok), 0);
        TT_CHECK(ok);
        TT_CHECK_EQ(v, i);
        TT_CHECK_EQ(ts_chan_len(ch), (size_t)(3 - i));
    }
    for (int i = 0; i < 100; i++) {
        int64_t v = pattern64();
        bool ok = true;
        TT_CHECK_EQ(ts_chan_recv(ch, &v, &ok), 0);
        TT_CHECK(!ok);
        TT_CHECK_EQ(v, 0);
    }
    ts_chan_release(ch);
    return 0;
}

/* Receive on a closed buffered channel returns the buffered values first,
 * in order and with ok == true, then ok == false forever. */
static void test_chan_recv_closed_drains_buffer_first(void **state)
{
    (void)state;
    run_both(closed_drains_body, NULL);
    tt_end(0);
}

struct big_elem {
    char bytes[200];
};

static int closed_zero_body(void *arg)
{
    (void)arg;
    ts_chan_t *ch = ts_chan_make(sizeof(struct big_elem), 0);
    TT_REQUIRE(ch != NULL, 1);
    ts_chan_close(ch);
    for (int i = 0; i < 10; i++) {
        struct big_elem e;
        memset(&e, 0x5A, sizeof e);
        bool ok = true;
        TT_CHECK_EQ(ts_chan_recv(ch, &e, &ok), 0);
        TT_CHECK(!ok);
        for (size_t k = 0; k < sizeof e.bytes; k++)
            if (e.bytes[k] != 0) {
                tt_failf(__FILE__, __LINE__, "byte %zu not zeroed", k);
                break;
            }
    }
    ts_chan_release(ch);
    return 0;
}

/* The zero value of a closed receive covers the whole element. */
static void test_chan_recv_closed_yields_zero_value(void **state)
{
    (void)state;
    run_both(closed_zero_body, NULL);
    tt_end(0);
}

struct closer {
    ts_chan_t *ch;
    ts_chan_t *results; /* one int64 per receiver: 1 = ok false and zeroed */
    atomic_int thread_started;
};

static void recv_expect_closed_task(void *arg)
{
    struct closer *c = arg;
    int64_t v = pattern64();
    bool ok = true;
    TT_CHECK_EQ(ts_chan_recv(c->ch, &v, &ok), 0);
    int64_t good = (!ok && v == 0) ? 1 : 0;
    TT_CHECK_EQ(ts_chan_send(c->results, &good), 0);
}

static void *recv_expect_closed_thread(void *arg)
{
    struct closer *c = arg;
    atomic_store(&c->thread_started, 1);
    recv_expect_closed_task(arg);
    return NULL;
}

/* Closing wakes every blocked receiver, tasks and plain threads alike, and
 * each gets ok == false and a zeroed element. */
static void test_chan_close_wakes_all_blocked_receivers(void **state)
{
    (void)state;
    enum { TASKS = 10, THREADS = 2 };
    struct closer c = {.ch = ts_chan_make(sizeof(int64_t), 0),
                       .results = ts_chan_make(sizeof(int64_t), TASKS + THREADS)};
    assert_non_null(c.ch);
    assert_non_null(c.results);
    for (int i = 0; i < TASKS; i++)
        assert_true(ts_go(recv_expect_closed_task, &c) != 0);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        th[i] = tt_thread(recv_expect_closed_thread, &c);
    assert_true(tt_wait_parked_on(c.ch, TS_WAIT_CHAN_RECV, TASKS, TT_SOON));
    while (!atomic_load(&c.thread_started))
        ts_sleep(TS_MILLISECOND);
    ts_sleep(20 * TS_MILLISECOND); /* likely asleep in recv by now */
    ts_chan_close(c.ch);
    for (int i = 0; i < TASKS + THREADS; i++) {
        int64_t good = 0;
        bool ok = false;
        assert_int_equal(tt_recv_within(c.results, &good, &ok, TT_SOON), 0);
        assert_true(ok);
        assert_int_equal(good, 1);
    }
    for (int i = 0; i < THREADS; i++)
        tt_join(th[i]);
    tt_end(0);
    ts_chan_release(c.ch);
    ts_chan_release(c.results);
}

/* ---- recv arguments ------------------------------------------------------- */

static int recv_null_args_body(void *arg)
{
    (void)arg;
    ts_chan_t *ch = ts_chan_make(sizeof(int), 4);
    TT_REQUIRE(ch != NULL, 1);
    int a = 1, b = 2, c = 3;
    TT_CHECK_EQ(ts_chan_send(ch, &a), 0);
    TT_CHECK_EQ(ts_chan_send(ch, &b), 0);
    TT_CHECK_EQ(ts_chan_send(ch, &c), 0);
    bool ok = false;
    TT_CHECK_EQ(ts_chan_recv(ch, NULL, &ok), 0); /* discards 1 */
    TT_CHECK(ok);
    int v = 0;
    TT_CHECK_EQ(ts_chan_recv(ch, &v, NULL), 0); /* no ok wanted */
    TT_CHECK_EQ(v, 2);
    TT_CHECK_EQ(ts_chan_recv(ch, NULL, NULL), 0); /* discards 3 */
    TT_CHECK_EQ(ts_chan_len(ch), 0);
    ts_chan_close(ch);
    TT_CHECK_EQ(ts_chan_recv(ch, NULL, NULL), 0);
    TT_CHECK_EQ(ts_chan_try_recv(ch, NULL, NULL), 0);
    ts_chan_release(ch);
    return 0;
}

/* out == NULL discards the element; ok == NULL is allowed. */
static void test_chan_recv_accepts_null_out_and_ok(void **state)
{
    (void)state;
    run_both(recv_null_args_body, NULL);
    tt_end(0);
}

/* ---- try_send / try_recv -------------------------------------------------- */

static int try_ops_body(void *arg)
{
    (void)arg;
    int v = 7;
    bool ok = true;
    /* unbuffered, nobody waiting: both would block */
    ts_chan_t *u = ts_chan_make(sizeof(int), 0);
    TT_REQUIRE(u != NULL, 1);
    TT_CHECK_EQ(ts_chan_try_send(u, &v), TS_EWOULDBLOCK);
    TT_CHECK_EQ(ts_chan_try_recv(u, &v, &ok), TS_EWOULDBLOCK);
    TT_CHECK_EQ(v, 7);
    /* buffered: send succeeds until full, recv until empty */
    ts_chan_t *b = ts_chan_make(sizeof(int), 2);
    TT_REQUIRE(b != NULL, 1);
    TT_CHECK_EQ(ts_chan_try_recv(b, &v, &ok), TS_EWOULDBLOCK);
    for (int i = 0; i < 2; i++)
        TT_CHECK_EQ(ts_chan_try_send(b, &i), 0);
    TT_CHECK_EQ(ts_chan_try_send(b, &v), TS_EWOULDBLOCK);
    TT_CHECK_EQ(ts_chan_len(b), 2);
    for (int i = 0; i < 2; i++) {
        int got = -1;
        ok = false;
        TT_CHECK_EQ(ts_chan_try_recv(b, &got, &ok), 0);
        TT_CHECK(ok);
        TT_CHECK_EQ(got, i);
    }
    TT_CHECK_EQ(ts_chan_try_recv(b, &v, &ok), TS_EWOULDBLOCK);
    /* closed: try_recv drains, then reports 0 with ok == false */
    TT_CHECK_EQ(ts_chan_try_send(b, &v), 0);
    ts_chan_close(b);
    int got = -1;
    ok = false;
    TT_CHECK_EQ(ts_chan_try_recv(b, &got, &ok), 0);
    TT_CHECK(ok);
    TT_CHECK_EQ(got, 7);
    for (int i = 0; i < 3; i++) {
        got = -1;
        ok = true;
        TT_CHECK_EQ(ts_chan_try_recv(b, &got, &ok), 0);
        TT_CHECK(!ok);
        TT_CHECK_EQ(got, 0);
    }
    ts_chan_close(u);
    got = -1;
    ok = true;
    TT_CHECK_EQ(ts_chan_try_recv(u, &got, &ok), 0);
    TT_CHECK(!ok);
    TT_CHECK_EQ(got, 0);
    ts_chan_release(u);
    ts_chan_release(b);
    return 0;
}

/* try_send / try_recv report TS_EWOULDBLOCK exactly when the blocking call
 * would wait, and never touch out then. */
static void test_chan_try_ops_would_block_only_when_they_must(void **state)
{
    (void)state;
    run_both(try_ops_body, NULL);
    tt_end(0);
}

/* try_send on an unbuffered channel succeeds when a receiver is parked. */
static void test_chan_try_send_hands_off_to_blocked_receiver(void **state)
{
    (void)state;
    struct peer p = {.ch = ts_chan_make(sizeof(int64_t), 0),
                     .done = ts_chan_make(0, 1)};
    assert_non_null(p.ch);
    assert_non_null(p.done);
    uint64_t id = ts_go(recv_value_task, &p);
    assert_true(id != 0);
    assert_true(tt_wait_parked(id, TS_WAIT_CHAN_RECV, TT_SOON, NULL));
    int64_t v = 31337;
    assert_int_equal(ts_chan_try_send(p.ch, &v), 0);
    assert_int_equal(tt_wait_done(p.done, 1, TT_SOON), 1);
    assert_true(p.ok);
    assert_int_equal(p.value, 31337);
    tt_end(0);
    ts_chan_release(p.ch);
    ts_chan_release(p.done);
}

/* try_recv on an unbuffered channel takes a parked sender's value. */
static void test_chan_try_recv_takes_from_blocked_sender(void **state)
{
    (void)state;
    struct peer p = {.ch = ts_chan_make(sizeof(int64_t), 0),
                     .done = ts_chan_make(0, 1),
                     .value = 555};
    assert_non_null(p.ch);
    assert_non_null(p.done);
    uint64_t id = ts_go(send_value_task, &p);
    assert_true(id != 0);
    assert_true(tt_wait_parked(id, TS_WAIT_CHAN_SEND, TT_SOON, NULL));
    int64_t v = 0;
    bool ok = false;
    assert_int_equal(ts_chan_try_recv(p.ch, &v, &ok), 0);
    assert_true(ok);
    assert_int_equal(v, 555);
    assert_int_equal(tt_wait_done(p.done, 1, TT_SOON), 1);
    tt_end(0);
    ts_chan_release(p.ch);
    ts_chan_release(p.done);
}

/* ---- element sizes --------------------------------------------------------- */

static void zero_size_sender_task(void *arg)
{
    struct peer *p = arg;
    char dummy = 0;
    TT_CHECK_EQ(ts_chan_send(p->ch, &dummy), 0);
    tt_signal(p->done);
}

/* Zero-size elements carry only the event: handoff, buffering (len counts
 * them), try ops and close all work. */
static void test_chan_zero_size_elements(void **state)
{
    (void)state;
    char dummy = 0;
    bool ok = false;
    struct peer p = {.ch = ts_chan_make(0, 0), .done = ts_chan_make(0, 1)};
    assert_non_null(p.ch);
    assert_non_null(p.done);
    assert_true(ts_go(zero_size_sender_task, &p) != 0);
    assert_int_equal(ts_chan_recv(p.ch, &dummy, &ok), 0);
    assert_true(ok);
    assert_int_equal(tt_wait_done(p.done, 1, TT_SOON), 1);

    ts_chan_t *b = ts_chan_make(0, 3);
    assert_non_null(b);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ts_chan_try_send(b, &dummy), 0);
    assert_int_equal(ts_chan_len(b), 3);
    assert_int_equal(ts_chan_try_send(b, &dummy), TS_EWOULDBLOCK);
    ts_chan_close(b);
    for (int i = 0; i < 3; i++) {
        ok = false;
        assert_int_equal(ts_chan_recv(b, NULL, &ok), 0);
        assert_true(ok);
    }
    ok = true;
    assert_int_equal(ts_chan_recv(b, NULL, &ok), 0);
    assert_false(ok);
    tt_end(0);
    ts_chan_release(p.ch);
    ts_chan_release(p.done);
    ts_chan_release(b);
}

static void fill_pattern(unsigned char *buf, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(i * 131 + seed * 7 + (i >> 8));
}

static bool has_pattern(const unsigned char *buf, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (buf[i] != (unsigned char)(i * 131 + seed * 7 + (i >> 8)))
            return false;
    return true;
}

struct big_peer {
    ts_chan_t *ch;
    ts_chan_t *done;
    unsigned seed;
    bool ok;
};

static void big_recv_task(void *arg)
{
    struct big_peer *p = arg;
    unsigned char *buf = calloc(1, TS_CHAN_MAX_ELEM);
    TT_REQUIRE_V(buf != NULL);
    bool ok = false;
    TT_CHECK_EQ(ts_chan_recv(p->ch, buf, &ok), 0);
    p->ok = ok && has_pattern(buf, TS_CHAN_MAX_ELEM, p->seed);
    free(buf);
    tt_signal(p->done);
}

static void big_send_task(void *arg)
{
    struct big_peer *p = arg;
    unsigned char *buf = malloc(TS_CHAN_MAX_ELEM);
    TT_REQUIRE_V(buf != NULL);
    fill_pattern(buf, TS_CHAN_MAX_ELEM, p->seed);
    TT_CHECK_EQ(ts_chan_send(p->ch, buf), 0);
    free(buf);
    tt_signal(p->done);
}

/* Elements of the largest size arrive intact on every path: buffered,
 * handed to a parked receiver, taken from a parked sender. */
static void test_chan_largest_elements_round_trip(void **state)
{
    (void)state;
    unsigned char *buf = malloc(TS_CHAN_MAX_ELEM);
    assert_non_null(buf);
    ts_chan_t *b = ts_chan_make(TS_CHAN_MAX_ELEM, 2);
    assert_non_null(b);
    for (unsigned s = 1; s <= 2; s++) {
        fill_pattern(buf, TS_CHAN_MAX_ELEM, s);
        assert_int_equal(ts_chan_send(b, buf), 0);
    }
    for (unsigned s = 1; s <= 2; s++) {
        memset(buf, 0, TS_CHAN_MAX_ELEM);
        assert_int_equal(ts_chan_recv(b, buf, NULL), 0);
        assert_true(has_pattern(buf, TS_CHAN_MAX_ELEM, s));
    }

    struct big_peer p = {.ch = ts_chan_make(TS_CHAN_MAX_ELEM, 0),
                         .done = ts_chan_make(0, 1),
                         .seed = 3};
    assert_non_null(p.ch);
    assert_non_null(p.done);
    uint64_t id = ts_go(big_recv_task, &p);
    assert_true(id != 0);
    assert_true(tt_wait_parked(id, TS_WAIT_CHAN_RECV, TT_SOON, NULL));
    fill_pattern(buf, TS_CHAN_MAX_ELEM, 3);
    assert_int_equal(ts_chan_send(p.ch, buf), 0);
    assert_int_equal(tt_wait_done(p.done, 1, TT_SOON), 1);
    assert_true(p.ok);

    p.seed = 4;
    id = ts_go(big_send_task, &p);
    assert_true(id != 0);
    assert_true(tt_wait_parked(id, TS_WAIT_CHAN_SEND, TT_SOON, NULL));
    memset(buf, 0, TS_CHAN_MAX_ELEM);
    assert_int_equal(ts_chan_recv(p.ch, buf, NULL), 0);
    assert_true(has_pattern(buf, TS_CHAN_MAX_ELEM, 4));
    assert_int_equal(tt_wait_done(p.done, 1, TT_SOON), 1);
    tt_end(0);
    free(buf);
    ts_chan_release(b);
    ts_chan_release(p.ch);
    ts_chan_release(p.done);
}

/* ---- NULL (nil) channels ---------------------------------------------------- */

struct nil_op {
    atomic_int returned;
};

static void nil_recv_task(void *arg)
{
    struct nil_op *n = arg;
    ts_chan_recv(NULL, NULL, NULL);
    atomic_store(&n->returned, 1);
    tt_failf(__FILE__, __LINE__, "receive on a NULL channel returned");
}

static void nil_send_task(void *arg)
{
    struct nil_op *n = arg;
    int v = 1;
    ts_chan_send(NULL, &v);
    atomic_store(&n->returned, 1);
    tt_failf(__FILE__, __LINE__, "send on a NULL channel returned");
}

/* A receive on a NULL channel blocks forever ("chan receive (nil chan)")
 * while the rest of the program goes on. The task stays blocked for the
 * life of the process (counted in tt_end). */
static void test_chan_nil_recv_blocks_forever(void **state)
{
    (void)state;
    static struct nil_op n; /* outlives the test: the task never returns */
    uint64_t id = ts_go(nil_recv_task, &n);
    assert_true(id != 0);
    struct ts_task_info info;
    assert_true(tt_wait_parked(id, TS_WAIT_CHAN_RECV_NIL, TT_SOON, &info));
    assert_string_equal(info.wait_text, "chan receive (nil chan)");
    /* other channels keep working meanwhile */
    ts_chan_t *ch = ts_chan_make(sizeof(int), 1);
    assert_non_null(ch);
    int v = 9;
    assert_int_equal(ts_chan_send(ch, &v), 0);
    assert_int_equal(ts_chan_recv(ch, &v, NULL), 0);
    ts_sleep(20 * TS_MILLISECOND);
    assert_true(tt_task_info(id, &info));
    assert_int_equal(info.state, TS_TASK_WAITING);
    assert_int_equal(atomic_load(&n.returned), 0);
    tt_end(1);
    ts_chan_release(ch);
}

static void test_chan_nil_send_blocks_forever(void **state)
{
    (void)state;
    static struct nil_op n;
    uint64_t id = ts_go(nil_send_task, &n);
    assert_true(id != 0);
    struct ts_task_info info;
    assert_true(tt_wait_parked(id, TS_WAIT_CHAN_SEND_NIL, TT_SOON, &info));
    assert_string_equal(info.wait_text, "chan send (nil chan)");
    ts_sleep(20 * TS_MILLISECOND);
    assert_true(tt_task_info(id, &info));
    assert_int_equal(info.state, TS_TASK_WAITING);
    assert_int_equal(atomic_load(&n.returned), 0);
    tt_end(1);
}

static void test_chan_nil_try_ops_would_block(void **state)
{
    (void)state;
    int v = 3;
    bool ok = true;
    assert_int_equal(ts_chan_try_send(NULL, &v), TS_EWOULDBLOCK);
    assert_int_equal(ts_chan_try_recv(NULL, &v, &ok), TS_EWOULDBLOCK);
    assert_int_equal(v, 3);
    assert_int_equal(ts_chan_len(NULL), 0);
    assert_int_equal(ts_chan_cap(NULL), 0);
    tt_end(0);
}

/* ---- panics (child scenarios) --------------------------------------------- */

static int send_closed_main(void *arg)
{
    size_t cap = (size_t)(uintptr_t)arg;
    ts_chan_t *ch = ts_chan_make(sizeof(int), cap);
    if (!ch)
        return 1;
    ts_chan_close(ch);
    int v = 1;
    ts_chan_send(ch, &v);
    printf("UNREACHED\n");
    return 0;
}

static int scenario_send_closed(void)
{
    return ts_run(send_closed_main, (void *)(uintptr_t)0);
}

static int scenario_send_closed_buffered(void)
{
    return ts_run(send_closed_main, (void *)(uintptr_t)4);
}

static int scenario_send_closed_thread(void)
{
    return send_closed_main((void *)(uintptr_t)0); /* no task at all */
}

static int try_send_closed_main(void *arg)
{
    (void)arg;
    ts_chan_t *ch = ts_chan_make(sizeof(int), 4);
    if (!ch)
        return 1;
    ts_chan_close(ch);
    int v = 1;
    ts_chan_try_send(ch, &v);
    printf("UNREACHED\n");
    return 0;
}

static int scenario_try_send_closed(void)
{
    return ts_run(try_send_closed_main, NULL);
}

static void blocked_sender_task(void *arg)
{
    int v = 1;
    ts_chan_send(arg, &v);
    printf("UNREACHED\n");
}

static int send_closed_while_blocked_main(void *arg)
{
    (void)arg;
    ts_chan_t *ch = ts_chan_make(sizeof(int), 0);
    if (!ch)
        return 1;
    uint64_t id = ts_go(blocked_sender_task, ch);
    if (!id || !tt_wait_parked(id, TS_WAIT_CHAN_SEND, TT_SOON, NULL))
        return 1;
    ts_chan_close(ch);
    ts_sleep(5 * TS_SECOND); /* the sender's panic ends the process first */
    printf("UNREACHED\n");
    return 0;
}

static int scenario_send_closed_while_blocked(void)
{
    return ts_run(send_closed_while_blocked_main, NULL);
}

static int close_closed_main(void *arg)
{
    (void)arg;
    ts_chan_t *ch = ts_chan_make(sizeof(int), 1);
    if (!ch)
        return 1;
    ts_chan_close(ch);
    ts_chan_close(ch);
    printf("UNREACHED\n");
    return 0;
}

static int scenario_close_closed(void)
{
    return ts_run(close_closed_main, NULL);
}

static int close_nil_main(void *arg)
{
    (void)arg;
    ts_chan_close(NULL);
    printf("UNREACHED\n");
    return 0;
}

static int scenario_close_nil(void)
{
    return ts_run(close_nil_main, NULL);
}

static void test_chan_send_closed_panics(void **state)
{
    (void)state;
    tt_expect_panic("send_closed", "send on closed channel");
    tt_expect_panic("send_closed_buffered", "send on closed channel");
    tt_end(0);
}

static void test_chan_send_closed_from_plain_thread_panics(void **state)
{
    (void)state;
    tt_expect_panic("send_closed_thread", "send on closed channel");
    tt_end(0);
}

static void test_chan_try_send_closed_panics(void **state)
{
    (void)state;
    tt_expect_panic("try_send_closed", "send on closed channel");
    tt_end(0);
}

/* A sender parked on the channel when it is closed panics. */
static void test_chan_close_with_blocked_sender_panics(void **state)
{
    (void)state;
    tt_expect_panic("send_closed_while_blocked", "send on closed channel");
    tt_end(0);
}

static void test_chan_close_closed_panics(void **state)
{
    (void)state;
    tt_expect_panic("close_closed", "close of closed channel");
    tt_end(0);
}

static void test_chan_close_nil_panics(void **state)
{
    (void)state;
    tt_expect_panic("close_nil", "close of nil channel");
    tt_end(0);
}

/* ---- plain threads ---------------------------------------------------------- */

struct xfer {
    ts_chan_t *ch;
    ts_chan_t *done;
    long n;
    long sum; /* receiver's result */
    long count;
};

static void xfer_send(struct xfer *x)
{
    for (long i = 1; i <= x->n; i++)
        if (ts_chan_send(x->ch, &i) != 0) {
            tt_failf(__FILE__, __LINE__, "send failed");
            return;
        }
}

static void xfer_recv(struct xfer *x)
{
    long prev = 0;
    for (long i = 0; i < x->n; i++) {
        long v = 0;
        bool ok = false;
        if (ts_chan_recv(x->ch, &v, &ok) != 0 || !ok) {
            tt_failf(__FILE__, __LINE__, "recv failed");
            return;
        }
        if (v != prev + 1)
            tt_failf(__FILE__, __LINE__, "out of order: %ld after %ld", v,
                     prev);
        prev = v;
        x->sum += v;
        x->count++;
    }
}

static void *xfer_send_thread(void *arg)
{
    xfer_send(arg);
    return NULL;
}

static void *xfer_recv_thread(void *arg)
{
    xfer_recv(arg);
    return NULL;
}

static void xfer_send_task(void *arg)
{
    struct xfer *x = arg;
    xfer_send(x);
    tt_signal(x->done);
}

static void xfer_recv_task(void *arg)
{
    struct xfer *x = arg;
    xfer_recv(x);
    tt_signal(x->done);
}

enum xfer_end { END_THREAD, END_TASK };

static void run_xfer(enum xfer_end sender, enum xfer_end receiver, size_t cap)
{
    struct xfer x = {.ch = ts_chan_make(sizeof(long), cap),
                     .done = ts_chan_make(0, 2),
                     .n = tt_scaled(20000, 2000)};
    assert_non_null(x.ch);
    assert_non_null(x.done);
    pthread_t ts = 0, tr = 0;
    long tasks = 0;
    if (receiver == END_THREAD)
        tr = tt_thread(xfer_recv_thread, &x);
    else
        tasks += ts_go(xfer_recv_task, &x) != 0;
    if (sender == END_THREAD)
        ts = tt_thread(xfer_send_thread, &x);
    else
        tasks += ts_go(xfer_send_task, &x) != 0;
    if (sender == END_THREAD)
        tt_join(ts);
    if (receiver == END_THREAD)
        tt_join(tr);
    assert_int_equal(tt_wait_done(x.done, tasks, TT_SOON), tasks);
    assert_int_equal(x.count, x.n);
    assert_int_equal(x.sum, x.n * (x.n + 1) / 2);
    ts_chan_release(x.ch);
    ts_chan_release(x.done);
}

static void test_chan_thread_sends_to_task(void **state)
{
    (void)state;
    run_xfer(END_THREAD, END_TASK, 0);
    run_xfer(END_THREAD, END_TASK, 16);
    tt_end(0);
}

static void test_chan_task_sends_to_thread(void **state)
{
    (void)state;
    run_xfer(END_TASK, END_THREAD, 0);
    run_xfer(END_TASK, END_THREAD, 16);
    tt_end(0);
}

/* Two plain threads and no task at all: the futex path on both ends. */
static void test_chan_thread_sends_to_thread(void **state)
{
    (void)state;
    run_xfer(END_THREAD, END_THREAD, 0);
    run_xfer(END_THREAD, END_THREAD, 16);
    tt_end(0);
}

/* ---- retain / release ------------------------------------------------------- */

struct shared_user {
    ts_chan_t *ch;
    ts_chan_t *done;
};

static void use_then_release_task(void *arg)
{
    struct shared_user *u = arg;
    int v = 11;
    TT_CHECK_EQ(ts_chan_send(u->ch, &v), 0);
    ts_chan_release(u->ch); /* drops the reference retained for it */
    tt_signal(u->done);
}

/* Each holder drops its own reference; the channel lives until the last. */
static void test_chan_retain_release_keeps_channel_alive(void **state)
{
    (void)state;
    ts_chan_t *ch = ts_chan_make(sizeof(int), 1);
    assert_non_null(ch);
    struct shared_user u = {.ch = ts_chan_retain(ch),
                            .done = ts_chan_make(0, 1)};
    assert_ptr_equal(u.ch, ch);
    assert_non_null(u.done);
    assert_true(ts_go(use_then_release_task, &u) != 0);
    assert_int_equal(tt_wait_done(u.done, 1, TT_SOON), 1);
    /* the task's release left ours */
    int v = 0;
    bool ok = false;
    assert_int_equal(ts_chan_recv(ch, &v, &ok), 0);
    assert_true(ok);
    assert_int_equal(v, 11);
    assert_int_equal(ts_chan_cap(ch), 1);
    assert_ptr_equal(ts_chan_retain(ch), ch);
    ts_chan_release(ch);
    ts_chan_release(ch);
    ts_chan_release(u.done);
    tt_end(0);
}

static void test_chan_retain_release_accept_null(void **state)
{
    (void)state;
    assert_null(ts_chan_retain(NULL));
    ts_chan_release(NULL);
    tt_end(0);
}

/* ---- memory model ------------------------------------------------------------- */

struct record {
    long a[16];
};

struct publish {
    ts_chan_t *ch;
    ts_chan_t *done;
    long n;
};

static void publish_task(void *arg)
{
    struct publish *p = arg;
    for (long i = 0; i < p->n; i++) {
        struct record *r = malloc(sizeof *r); /* plain, unsynchronised */
        TT_REQUIRE_V(r != NULL);
        for (int k = 0; k < 16; k++)
            r->a[k] = i * 16 + k;
        TT_CHECK_EQ(ts_chan_send(p->ch, &r), 0);
    }
    tt_signal(p->done);
}

static void consume_task(void *arg)
{
    struct publish *p = arg;
    for (long i = 0; i < p->n; i++) {
        struct record *r = NULL;
        TT_CHECK_EQ(ts_chan_recv(p->ch, &r, NULL), 0);
        TT_REQUIRE_V(r != NULL);
        for (int k = 0; k < 16; k++)
            TT_CHECK_EQ(r->a[k], i * 16 + k);
        free(r);
    }
    tt_signal(p->done);
}

/* A send happens before the matching receive completes: plain writes made
 * before sending a pointer are visible to the receiver (and TSan, told
 * about the edge, reports no race). */
static void test_chan_send_happens_before_recv(void **state)
{
    (void)state;
    for (size_t cap = 0; cap <= 8; cap += 8) {
        struct publish p = {.ch = ts_chan_make(sizeof(struct record *), cap),
                            .done = ts_chan_make(0, 2),
                            .n = tt_scaled(5000, 500)};
        assert_non_null(p.ch);
        assert_non_null(p.done);
        assert_true(ts_go(consume_task, &p) != 0);
        assert_true(ts_go(publish_task, &p) != 0);
        assert_int_equal(tt_wait_done(p.done, 2, TT_SOON), 2);
        ts_chan_release(p.ch);
        ts_chan_release(p.done);
    }
    tt_end(0);
}

struct sem_counter {
    ts_chan_t *sem; /* cap 1: send = lock, recv = unlock */
    ts_chan_t *done;
    long per_task;
    long counter; /* plain: guarded only by the channel */
};

static void sem_increment_task(void *arg)
{
    struct sem_counter *s = arg;
    char token = 0;
    for (long i = 0; i < s->per_task; i++) {
        TT_CHECK_EQ(ts_chan_send(s->sem, &token), 0);
        s->counter++;
        if (i % 64 == 0)
            ts_yield();
        TT_CHECK_EQ(ts_chan_recv(s->sem, NULL, NULL), 0);
    }
    tt_signal(s->done);
}

/* The k-th receive on a channel of capacity C happens before the (k+C)-th
 * send completes: a cap-1 channel works as a mutex around plain data. */
static void test_chan_buffered_recv_happens_before_later_send(void **state)
{
    (void)state;
    enum { TASKS = 8 };
    struct sem_counter s = {.sem = ts_chan_make(1, 1),
                            .done = ts_chan_make(0, TASKS),
                            .per_task = tt_scaled(5000, 500)};
    assert_non_null(s.sem);
    assert_non_null(s.done);
    for (int i = 0; i < TASKS; i++)
        assert_true(ts_go(sem_increment_task, &s) != 0);
    assert_int_equal(tt_wait_done(s.done, TASKS, TT_SOON), TASKS);
    assert_int_equal(s.counter, TASKS * s.per_task);
    tt_end(0);
    ts_chan_release(s.sem);
    ts_chan_release(s.done);
}

struct close_pub {
    ts_chan_t *ch;
    ts_chan_t *done;
    long data[32]; /* written before close, read after a closed receive */
};

static void read_after_close_task(void *arg)
{
    struct close_pub *c = arg;
    bool ok = true;
    TT_CHECK_EQ(ts_chan_recv(c->ch, NULL, &ok), 0);
    TT_CHECK(!ok);
    for (int i = 0; i < 32; i++)
        TT_CHECK_EQ(c->data[i], i * 3);
    tt_signal(c->done);
}

/* A close happens before a receive that returns because the channel is
 * closed. */
static void test_chan_close_happens_before_closed_recv(void **state)
{
    (void)state;
    enum { READERS = 8 };
    struct close_pub c = {.ch = ts_chan_make(0, 0),
                          .done = ts_chan_make(0, READERS)};
    assert_non_null(c.ch);
    assert_non_null(c.done);
    for (int i = 0; i < READERS; i++)
        assert_true(ts_go(read_after_close_task, &c) != 0);
    for (int i = 0; i < 32; i++)
        c.data[i] = i * 3;
    ts_chan_close(c.ch);
    assert_int_equal(tt_wait_done(c.done, READERS, TT_SOON), READERS);
    tt_end(0);
    ts_chan_release(c.ch);
    ts_chan_release(c.done);
}

/* ---- stress: conservation ---------------------------------------------------- */

/* P producers and C consumers share one channel. Producer p sends the
 * values [p*per, (p+1)*per); a coordinator closes the channel once every
 * producer is done; consumers receive until closed. Every value must be
 * received exactly once: each consumer marks the values it saw, and the
 * counts and sums must add up. This is where a lost wakeup, a value handed
 * to two receivers, or a sender whose value was dropped shows. */
struct stress {
    ts_chan_t *ch;
    ts_chan_t *producers_done;
    ts_chan_t *results; /* struct stress_result per consumer */
    long producers;
    long consumers;
    long per;
    atomic_uchar *seen;
    atomic_long next_producer;
};

struct stress_result {
    long count;
    long sum;
};

static void stress_producer(struct stress *s)
{
    long p = atomic_fetch_add(&s->next_producer, 1);
    for (long i = p * s->per; i < (p + 1) * s->per; i++)
        if (ts_chan_send(s->ch, &i) != 0) {
            tt_failf(__FILE__, __LINE__, "send failed");
            break;
        }
    tt_signal(s->producers_done);
}

static void stress_consumer(struct stress *s)
{
    struct stress_result r = {0, 0};
    long total = s->producers * s->per;
    for (;;) {
        long v = -1;
        bool ok = false;
        if (ts_chan_recv(s->ch, &v, &ok) != 0) {
            tt_failf(__FILE__, __LINE__, "recv failed");
            break;
        }
        if (!ok)
            break;
        if (v < 0 || v >= total) {
            tt_failf(__FILE__, __LINE__, "value %ld out of range", v);
            continue;
        }
        atomic_fetch_add(&s->seen[v], 1);
        r.count++;
        r.sum += v;
    }
    TT_CHECK_EQ(ts_chan_send(s->results, &r), 0);
}

static void stress_producer_task(void *arg)
{
    stress_producer(arg);
}

static void stress_consumer_task(void *arg)
{
    stress_consumer(arg);
}

static void *stress_producer_thread(void *arg)
{
    stress_producer(arg);
    return NULL;
}

static void *stress_consumer_thread(void *arg)
{
    stress_consumer(arg);
    return NULL;
}

static void stress_closer_task(void *arg)
{
    struct stress *s = arg;
    long got = tt_wait_done(s->producers_done, s->producers, 100 * TS_SECOND);
    TT_CHECK_EQ(got, s->producers);
    ts_chan_close(s->ch);
}

/* Runs the scenario with `task_*` of each role as tasks and `thread_*` as
 * plain threads; checks conservation. */
static void run_stress(size_t cap, long task_producers, long task_consumers,
                       long thread_producers, long thread_consumers,
                       long messages)
{
    struct stress s = {0};
    s.producers = task_producers + thread_producers;
    s.consumers = task_consumers + thread_consumers;
    s.per = messages / s.producers;
    if (s.per < 1)
        s.per = 1;
    long total = s.per * s.producers;
    s.ch = ts_chan_make(sizeof(long), cap);
    s.producers_done = ts_chan_make(0, (size_t)s.producers);
    s.results = ts_chan_make(sizeof(struct stress_result),
                             (size_t)s.consumers);
    s.seen = calloc((size_t)total, sizeof *s.seen);
    assert_non_null(s.ch);
    assert_non_null(s.producers_done);
    assert_non_null(s.results);
    assert_non_null(s.seen);
    pthread_t *th = calloc((size_t)(thread_producers + thread_consumers) + 1,
                           sizeof *th);
    assert_non_null(th);
    long nth = 0;

    assert_true(ts_go(stress_closer_task, &s) != 0);
    for (long i = 0; i < task_consumers; i++)
        assert_true(ts_go(stress_consumer_task, &s) != 0);
    for (long i = 0; i < thread_consumers; i++)
        th[nth++] = tt_thread(stress_consumer_thread, &s);
    for (long i = 0; i < task_producers; i++)
        assert_true(ts_go(stress_producer_task, &s) != 0);
    for (long i = 0; i < thread_producers; i++)
        th[nth++] = tt_thread(stress_producer_thread, &s);

    long count = 0, sum = 0;
    int64_t deadline = ts_now() + 100 * TS_SECOND;
    for (long i = 0; i < s.consumers; i++) {
        struct stress_result r;
        ts_select_case_t c = TS_RECV_CASE(s.results, &r);
        int rc = ts_select_deadline(&c, 1, 0, deadline);
        if (rc != 0)
            fail_msg("only %ld of %ld consumers finished (%ld of %ld values "
                     "received)",
                     i, s.consumers, count, total);
        count += r.count;
        sum += r.sum;
    }
    for (long i = 0; i < nth; i++)
        tt_join(th[i]);
    assert_int_equal(count, total);
    assert_int_equal(sum, total * (total - 1) / 2);
    for (long v = 0; v < total; v++)
        if (atomic_load(&s.seen[v]) != 1)
            fail_msg("value %ld received %d times", v,
                     (int)atomic_load(&s.seen[v]));
    free(th);
    free(s.seen);
    ts_chan_release(s.ch);
    ts_chan_release(s.producers_done);
    ts_chan_release(s.results);
}

/* 500 producers x 500 consumers, 1,000,000 messages, unbuffered. */
static void test_chan_stress_unbuffered_conserves_values(void **state)
{
    (void)state;
    run_stress(0, 500, 500, 0, 0, tt_scaled(1000000, 20000));
    tt_end(0);
}

/* The same over a buffered channel (cap 64): buffer and direct handoff
 * interleave. */
static void test_chan_stress_buffered_conserves_values(void **state)
{
    (void)state;
    run_stress(64, 500, 500, 0, 0, tt_scaled(1000000, 20000));
    tt_end(0);
}

/* Tasks and plain threads on both ends of one channel. */
static void test_chan_stress_tasks_and_threads_conserve_values(void **state)
{
    (void)state;
    run_stress(0, 8, 8, 4, 4, tt_scaled(100000, 5000));
    run_stress(8, 8, 8, 4, 4, tt_scaled(100000, 5000));
    tt_end(0);
}

/* The stress tests again in a child with a different number of Ps: one P
 * (every handoff goes through one run queue and its runnext slot, no
 * stealing) and eight Ps on however few CPUs the machine has (Ms preempted
 * by the kernel mid-operation, constant stealing). */
static int scenario_stress_group(void)
{
    const struct CMUnitTest tests[] = {
        TT_TEST(test_chan_stress_unbuffered_conserves_values),
        TT_TEST(test_chan_stress_buffered_conserves_values),
        TT_TEST(test_chan_stress_tasks_and_threads_conserve_values),
        TT_TEST(test_chan_close_wakes_all_blocked_receivers),
        TT_TEST(test_chan_buffered_recv_happens_before_later_send),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

static void test_chan_stress_on_one_proc(void **state)
{
    (void)state;
    tt_expect_scenario_ok("stress_group", 1);
    tt_end(0);
}

static void test_chan_stress_on_eight_procs(void **state)
{
    (void)state;
    tt_expect_scenario_ok("stress_group", 8);
    tt_end(0);
}

static void *recv_one(void *arg)
{
    ts_chan_recv(arg, NULL, NULL);
    return NULL;
}

/* Plain threads that block before anything started the scheduler: their
 * wait records must not land in another library's thread-specific key
 * (under TSan that key ran at thread exit and join never returned). */
static int scenario_threads_block_first(void)
{
    ts_chan_t *ch = ts_chan_make(0, 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, recv_one, ch);
    ts_chan_close(ch); /* wakes the ones already blocked, the rest pass */
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    ts_chan_release(ch);
    printf("joined\n");
    return 0;
}

static void test_threads_blocking_before_start_are_joinable(void **state)
{
    (void)state;
    struct tt_child c;
    tt_child("threads_block_first", NULL, &c);
    tt_expect_child_ok("threads_block_first", &c);
    assert_non_null(strstr(c.out, "joined\n"));
    tt_end(0);
}

/* ---- main ------------------------------------------------------------------- */

static const struct tt_scenario scenarios[] = {
    {"threads_block_first", scenario_threads_block_first},
    {"send_closed", scenario_send_closed},
    {"send_closed_buffered", scenario_send_closed_buffered},
    {"send_closed_thread", scenario_send_closed_thread},
    {"try_send_closed", scenario_try_send_closed},
    {"send_closed_while_blocked", scenario_send_closed_while_blocked},
    {"close_closed", scenario_close_closed},
    {"close_nil", scenario_close_nil},
    {"stress_group", scenario_stress_group},
};

int main(int argc, char **argv)
{
    int sr = tt_scenario_main(argc, argv, scenarios,
                              sizeof scenarios / sizeof scenarios[0]);
    if (sr >= 0)
        return sr;
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        TT_TEST(test_threads_blocking_before_start_are_joinable),
        TT_TEST(test_chan_make_rejects_oversized_elem),
        TT_TEST(test_chan_make_rejects_overflowing_cap),
        TT_TEST(test_chan_make_reports_elem_size_len_and_cap),
        TT_TEST(test_chan_unbuffered_send_waits_for_receiver),
        TT_TEST(test_chan_unbuffered_recv_waits_for_sender),
        TT_TEST(test_chan_single_sender_order_is_preserved),
        TT_TEST(test_chan_buffered_is_fifo_with_len_and_cap),
        TT_TEST(test_chan_buffered_send_waits_when_full),
        TT_TEST(test_chan_recv_closed_drains_buffer_first),
        TT_TEST(test_chan_recv_closed_yields_zero_value),
        TT_TEST(test_chan_close_wakes_all_blocked_receivers),
        TT_TEST(test_chan_recv_accepts_null_out_and_ok),
        TT_TEST(test_chan_try_ops_would_block_only_when_they_must),
        TT_TEST(test_chan_try_send_hands_off_to_blocked_receiver),
        TT_TEST(test_chan_try_recv_takes_from_blocked_sender),
        TT_TEST(test_chan_zero_size_elements),
        TT_TEST(test_chan_largest_elements_round_trip),
        TT_TEST(test_chan_nil_recv_blocks_forever),
        TT_TEST(test_chan_nil_send_blocks_forever),
        TT_TEST(test_chan_nil_try_ops_would_block),
        TT_TEST(test_chan_send_closed_panics),
        TT_TEST(test_chan_send_closed_from_plain_thread_panics),
        TT_TEST(test_chan_try_send_closed_panics),
        TT_TEST(test_chan_close_with_blocked_sender_panics),
        TT_TEST(test_chan_close_closed_panics),
        TT_TEST(test_chan_close_nil_panics),
        TT_TEST(test_chan_thread_sends_to_task),
        TT_TEST(test_chan_task_sends_to_thread),
        TT_TEST(test_chan_thread_sends_to_thread),
        TT_TEST(test_chan_retain_release_keeps_channel_alive),
        TT_TEST(test_chan_retain_release_accept_null),
        TT_TEST(test_chan_send_happens_before_recv),
        TT_TEST(test_chan_buffered_recv_happens_before_later_send),
        TT_TEST(test_chan_close_happens_before_closed_recv),
        TT_TEST(test_chan_stress_unbuffered_conserves_values),
        TT_TEST(test_chan_stress_buffered_conserves_values),
        TT_TEST(test_chan_stress_tasks_and_threads_conserve_values),
        TT_TEST(test_chan_stress_on_one_proc),
        TT_TEST(test_chan_stress_on_eight_procs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
