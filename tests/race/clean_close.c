/* clean_close: publication by close.
 *
 * The publisher writes plain globals, then closes the channel. Two readers
 * (one probably parked in receive when the close comes, one polling with
 * try_recv) observe the close (ok == false) and only then read the globals:
 * the close happens before a receive that returns because the channel is
 * closed. A second channel carries buffered values before its close: the
 * reader drains them, sees the close, then reads what was written right
 * before the close. Expected: no TSan report. */
#include "race_util.h"

static int published_value;
static char published_text[32];
static int drained_value;

static ts_chan_t *ch, *buffered, *done;
static atomic_int arrived;

static void publisher(void *arg)
{
    (void)arg;
    race_barrier(&arrived, 2);
    published_value = 42;
    snprintf(published_text, sizeof published_text, "hello %d", 42);
    ts_chan_close(ch);

    for (int i = 0; i < 3; i++)
        race_send_int(buffered, i);
    drained_value = 7;
    ts_chan_close(buffered);
    race_send_int(done, 0);
}

/* blocking reader: most likely parked in recv when the close comes */
static void blocking_reader(void *arg)
{
    (void)arg;
    int v;
    bool ok = true;
    ts_chan_recv(ch, &v, &ok);
    if (ok || published_value != 42 || published_text[0] != 'h')
        race_fail("blocking reader: ok %d value %d", ok, published_value);
    race_send_int(done, 1);
}

/* polling reader: on the other worker thread, never parks */
static void polling_reader(void *arg)
{
    (void)arg;
    race_barrier(&arrived, 2);
    int v;
    bool ok = true;
    while (ts_chan_try_recv(ch, &v, &ok) == TS_EWOULDBLOCK)
        sched_yield();
    if (ok || published_value != 42 || published_text[6] != '4')
        race_fail("polling reader: ok %d value %d", ok, published_value);

    int n = 0;
    for (;;) {
        ok = false;
        ts_chan_recv(buffered, &v, &ok);
        if (!ok)
            break;
        if (v != n++)
            race_fail("drained %d, want %d", v, n - 1);
    }
    if (n != 3 || drained_value != 7)
        race_fail("drained %d values, drained_value %d", n, drained_value);
    race_send_int(done, 2);
}

static int main_task(void *arg)
{
    (void)arg;
    race_require_procs(2);
    ch = race_chan(sizeof(int), 0);
    buffered = race_chan(sizeof(int), 3);
    done = race_chan(sizeof(int), 0);
    ts_go(blocking_reader, NULL);
    ts_go(publisher, NULL);
    ts_go(polling_reader, NULL);
    for (int i = 0; i < 3; i++)
        race_recv_int(done);
    printf("clean_close: publication by close ok\n");
    return 0;
}

int main(void) { return ts_run(main_task, NULL); }
