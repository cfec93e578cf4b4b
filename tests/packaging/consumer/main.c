/* consumer — the smallest real taskscope program, built against an installed
 * copy by tests/packaging: the main task starts a producer task that sends
 * 1..10 on an unbuffered channel and closes it; main sums what it receives.
 * Prints "consumer: ok sum=55" and exits 0 on success. */
#include <stdbool.h>
#include <stdio.h>

#include <taskscope/taskscope.h>

enum { N = 10 };

/* producer: sends 1..N, closes, drops the reference main gave it. */
static void producer(void *arg)
{
    ts_chan_t *ch = arg;

    for (int i = 1; i <= N; i++)
        ts_chan_send(ch, &i);
    ts_chan_close(ch);
    ts_chan_release(ch);
}

static int main_task(void *arg)
{
    (void)arg;
    ts_chan_t *ch = ts_chan_make(sizeof(int), 0);
    if (ch == NULL) {
        fprintf(stderr, "consumer: ts_chan_make failed\n");
        return 1;
    }
    /* The producer holds its own reference: it may still be inside
     * ts_chan_close when the receive below sees the channel closed. */
    if (ts_go(producer, ts_chan_retain(ch)) == 0) {
        fprintf(stderr, "consumer: ts_go failed\n");
        return 1;
    }

    int sum = 0, v;
    bool ok;
    int rc;
    while ((rc = ts_chan_recv(ch, &v, &ok)) == 0 && ok)
        sum += v;
    ts_chan_release(ch);
    if (rc != 0) {
        fprintf(stderr, "consumer: ts_chan_recv: %s\n", ts_strerror(rc));
        return 1;
    }
    if (sum != N * (N + 1) / 2) {
        fprintf(stderr, "consumer: sum=%d, want %d\n", sum, N * (N + 1) / 2);
        return 1;
    }
    printf("consumer: ok sum=%d (taskscope %d.%d.%d)\n", sum,
           TASKSCOPE_VERSION_MAJOR, TASKSCOPE_VERSION_MINOR,
           TASKSCOPE_VERSION_PATCH);
    return 0;
}

int main(void)
{
    return ts_run(main_task, NULL);
}
