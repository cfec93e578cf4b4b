/* cycle_handshake.c — two tasks that wait for each other forever, and the
 * wait-for cycle `taskscope leaks` names for them.
 *
 * Not a seed program: the worked example of the wait-for cycle report
 * (docs/profiler.md, "Wait-for cycles"). It shows the classic handshake
 * mistake of Go programs: two peers that each *send* their hello first and
 * only then receive the other's, over unbuffered channels:
 *
 *     go peer("a", toB, toA)   // toB <- hello; <-toA
 *     go peer("b", toA, toB)   // toA <- hello; <-toB
 *
 * Each send needs the other peer to be receiving, and neither ever is:
 * peer a waits on toB, which only peer b still holds (for its receive),
 * and peer b waits on toA, which only peer a holds. The coordinator (main)
 * waits 100 ms for both peers to report, gives up, and returns, leaving
 * the two peers blocked until the process exits.
 *
 *   cycle_handshake          unbuffered inboxes: the peers deadlock;
 *                            `taskscope leaks` reports both leaked, then
 *
 *     wait-for cycle of 2 tasks:
 *             goroutine 2 [chan send] on chan 0x..., held only by goroutine 3
 *             goroutine 3 [chan send] on chan 0x..., held only by goroutine 2
 *
 *                            and both stacks, and exits 1;
 *   cycle_handshake --fixed  each inbox has room for one hello: both sends
 *                            complete, both peers receive and report, and
 *                            there is nothing to report.
 *
 * Nothing but the peers references their inboxes: main makes them in
 * start_handshake, hands each peer its pair in a heap block that the peer
 * clears before freeing, and drops its own references; the leak check
 * runs at exit, when main's stack is gone. The program exits 0 either
 * way: like a Go program, it does not know it leaks.
 *
 * Tests: sample.cycle_handshake (stdout, expected/cycle_handshake.txt);
 * sample.cycle_handshake.leaks and .fixed run it under `taskscope leaks`
 * (expected/cycle_handshake.{leaks,fixed}.report), down to the source line
 * marked [line:hello].
 *
 * Run: build/sample_apps/cycle_handshake [--fixed] (~0.1 s). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <taskscope/taskscope.h>

#include "sample.h"

typedef struct hello {
    char from[8];
} hello_t;

/* One peer's view of the handshake, in a heap block it clears and frees. */
struct peer_args {
    const char *name;
    ts_chan_t *out;  /* the other peer's inbox */
    ts_chan_t *in;   /* this peer's inbox */
    ts_chan_t *done; /* where it reports what it received */
};

/* clear_args: zero the block before it is freed (volatile, so that the
 * stores are not dropped as dead): a freed heap block is a root of the
 * leak scan, and a stale copy of an inbox there would hide the leak. */
static void clear_args(struct peer_args *a)
{
    volatile unsigned char *p = (volatile unsigned char *)a;
    for (size_t i = 0; i < sizeof *a; i++)
        p[i] = 0;
}

/* peer: send our hello, then receive the other's, then report it. */
static void peer(void *p)
{
    struct peer_args *a = p;
    const char *name = a->name;
    ts_chan_t *out = a->out, *in = a->in, *done = a->done;
    clear_args(a);
    free(a);

    hello_t mine = {0}, theirs;
    snprintf(mine.from, sizeof mine.from, "%s", name);
    ts_chan_send(out, &mine); /* [line:hello] blocks until the other receives */
    ts_chan_recv(in, &theirs, NULL);
    ts_chan_send(done, &theirs);
    ts_chan_release(out);
    ts_chan_release(in);
    ts_chan_release(done);
}

static void start_peer(const char *name, ts_chan_t *out, ts_chan_t *in,
                       ts_chan_t *done)
{
    struct peer_args *a = xmalloc(sizeof *a);
    *a = (struct peer_args){name, ts_chan_retain(out), ts_chan_retain(in),
                            ts_chan_retain(done)};
    ts_go(peer, a);
}

/* start_handshake: the two inboxes, and the two peers; only the peers keep
 * references to the inboxes. */
static void start_handshake(bool fixed, ts_chan_t *done)
{
    ts_chan_t *to_a = xchan(sizeof(hello_t), fixed ? 1 : 0);
    ts_chan_t *to_b = xchan(sizeof(hello_t), fixed ? 1 : 0);
    start_peer("a", to_b, to_a, done);
    start_peer("b", to_a, to_b, done);
    ts_chan_release(to_a);
    ts_chan_release(to_b);
}

static int main_task(void *arg)
{
    bool fixed = *(bool *)arg;
    printf("inboxes: %s\n", fixed ? "buffered, capacity 1 (--fixed)"
                                  : "unbuffered");
    ts_chan_t *done = xchan(sizeof(hello_t), 2);
    start_handshake(fixed, done);

    int got = 0;
    bool from[2] = {false, false};
    while (got < 2) {
        hello_t h;
        if (!recv_within(done, &h, NULL, 100 * TS_MILLISECOND))
            break;
        from[h.from[0] == 'b'] = true;
        got++;
    }
    ts_chan_release(done);
    if (got < 2) {
        printf("handshake: timed out after 100 ms, %d of 2 peers done\n", got);
        return got == 0 ? 0 : 1;
    }
    printf("handshake: done, hellos from %s and %s\n", from[0] ? "a" : "?",
           from[1] ? "b" : "?");
    return 0;
}

int main(int argc, char **argv)
{
    bool fixed = sample_flag(argc, argv, "--fixed");
    return ts_run(main_task, &fixed);
}
