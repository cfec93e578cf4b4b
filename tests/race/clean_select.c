/* clean_select: handoffs that go through ts_select.
 *
 * The sender fills a slot of a plain array, then sends its index in a
 * select over two unbuffered channels (whichever receiver case is ready
 * wins); the receiver selects over both channels plus a buffered one and a
 * quit channel, then reads the slot. Back the other way, the receiver
 * writes select_acks[u] before the select that takes the u-th unbuffered
 * value, and the sender reads it once that send returned (unbuffered: the
 * receive happens before the send completes). A non-blocking select (TS_SELECT_NONBLOCK) and a select
 * with a deadline are also used on the path. The final publication goes
 * through a close observed by a select receive case. Expected: no TSan
 * report. */
#include "race_util.h"

enum { N = 300 };

static int select_msgs[N];    /* sender -> receiver, one slot per send */
static int select_acks[N];    /* receiver -> sender, unbuffered sends */
static int select_buffered[N];
static int select_final;      /* published by close */

static ts_chan_t *a, *b, *buf, *quit, *done;
static atomic_int arrived;

static void sender(void *arg)
{
    (void)arg;
    race_barrier(&arrived, 2);
    int unbuffered = 0;
    for (int i = 0; i < N; i++) {
        if (i % 3 == 2) {
            /* buffered: written slot by slot, each read once */
            select_buffered[i] = i;
            ts_select_case_t c[] = {TS_SEND_CASE(buf, &i)};
            if (ts_select(c, 1, 0) != 0)
                race_fail("buffered select send");
            continue;
        }
        select_msgs[i] = i * 3;
        ts_select_case_t cases[] = {TS_SEND_CASE(a, &i), TS_SEND_CASE(b, &i)};
        int r;
        if (i % 2 == 0) {
            /* poll first: usually nothing is ready yet */
            while ((r = ts_select(cases, 2, TS_SELECT_NONBLOCK)) == TS_SELECT_DEFAULT)
                sched_yield();
        } else {
            r = ts_select_deadline(cases, 2, 0, ts_now() + 30 * TS_SECOND);
        }
        if (r != 0 && r != 1)
            race_fail("select send %d returned %d", i, r);
        if (select_acks[unbuffered] != unbuffered + 1)
            race_fail("select send %d returned, ack %d is %d", i, unbuffered,
                      select_acks[unbuffered]);
        unbuffered++;
    }
    select_final = 99;
    ts_chan_close(quit);
    race_send_int(done, 0);
}

static void receiver(void *arg)
{
    (void)arg;
    race_barrier(&arrived, 2);
    int got = 0, unbuffered = 0;
    for (;;) {
        if (unbuffered < N)
            select_acks[unbuffered] = unbuffered + 1;
        int va = -1, vb = -1, vc = -1;
        ts_select_case_t cases[] = {
            TS_RECV_CASE(a, &va), TS_RECV_CASE(b, &vb),
            TS_RECV_CASE(buf, &vc), TS_RECV_CASE(quit, NULL)};
        int r = ts_select(cases, 4, 0);
        if (r == 3) {
            if (cases[3].ok)
                race_fail("quit carried a value");
            break;
        }
        if (r == 2) {
            if (select_buffered[vc] != vc)
                race_fail("buffered %d", vc);
        } else {
            int v = r == 0 ? va : vb;
            if (select_msgs[v] != v * 3)
                race_fail("select receive %d: select_msgs[v] %d", v,
                          select_msgs[v]);
            unbuffered++;
        }
        got++;
    }
    /* quit may win while buf still holds values; drain it */
    int vc;
    bool ok;
    while (ts_chan_try_recv(buf, &vc, &ok) == 0 && ok) {
        if (select_buffered[vc] != vc)
            race_fail("drained %d", vc);
        got++;
    }
    if (got != N || select_final != 99)
        race_fail("received %d of %d, select_final %d", got, N, select_final);
    race_send_int(done, 1);
}

static int main_task(void *arg)
{
    (void)arg;
    race_require_procs(2);
    a = race_chan(sizeof(int), 0);
    b = race_chan(sizeof(int), 0);
    buf = race_chan(sizeof(int), 2);
    quit = race_chan(0, 0);
    done = race_chan(sizeof(int), 0);
    ts_go(sender, NULL);
    ts_go(receiver, NULL);
    race_recv_int(done);
    race_recv_int(done);
    printf("clean_select: %d handoffs through select ok\n", N);
    return 0;
}

int main(void) { return ts_run(main_task, NULL); }
