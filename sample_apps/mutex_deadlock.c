/* mutex_deadlock.c — two transfers that lock the same two accounts in
 * opposite orders, and the wait-for cycle `taskscope leaks` names for them.
 *
 * Not a seed program: the worked example of the wait-for cycle report
 * through ts_mutex_t (docs/profiler.md, "Wait-for cycles"). It shows the
 * classic lock-ordering mistake of Go programs:
 *
 *     go transfer(a, b, 10)   // a.mu.Lock(); ...; b.mu.Lock()
 *     go transfer(b, a, 20)   // b.mu.Lock(); ...; a.mu.Lock()
 *
 * Each transfer holds its source account's lock while it waits for the
 * destination's, which the other holds: transfer 1 waits for the lock
 * transfer 2 holds, and transfer 2 for the one transfer 1 holds. The
 * coordinator (main) waits 100 ms for both to report, gives up, and
 * returns, leaving the two blocked until the process exits.
 *
 *   mutex_deadlock          source first: the transfers deadlock;
 *                           `taskscope leaks` reports both leaked, then
 *
 *     wait-for cycle of 2 tasks:
 *             goroutine 2 [sync.Mutex.Lock] on mutex 0x..., held by goroutine 3
 *             goroutine 3 [sync.Mutex.Lock] on mutex 0x..., held by goroutine 2
 *
 *                           and both stacks, and exits 1;
 *   mutex_deadlock --fixed  every transfer locks the account with the
 *                           smaller id first: no cycle can form, both
 *                           complete, and there is nothing to report.
 *
 * Nothing but the transfers references the accounts: each is a malloc'd
 * block of its own with its mutex first (the leak detector decides
 * reachability for a lock that begins its block, docs/profiler.md), main
 * hands each transfer its pair in a heap block that the transfer clears
 * before freeing, and drops its own references. The program exits 0 either
 * way: like a Go program, it does not know it is stuck.
 *
 * Tests: sample.mutex_deadlock (stdout, expected/mutex_deadlock.txt);
 * sample.mutex_deadlock.leaks and .fixed run it under `taskscope leaks`
 * (expected/mutex_deadlock.{leaks,fixed}.report).
 *
 * Run: build/sample_apps/mutex_deadlock [--fixed] (~0.1 s). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <taskscope/taskscope.h>

#include "sample.h"

typedef struct account {
    ts_mutex_t mu; /* first: the block begins with the lock */
    int id;
    int balance;
} account_t;

/* One transfer, in a heap block it clears and frees. */
struct transfer_args {
    account_t *from, *to;
    int amount;
    bool ordered;    /* --fixed: lock the smaller id first */
    ts_chan_t *done; /* where it reports */
};

/* clear_args: zero the block before it is freed (volatile, so that the
 * stores are not dropped as dead): a freed heap block is a root of the
 * leak scan, and a stale copy of an account there would hide the leak. */
static void clear_args(struct transfer_args *a)
{
    volatile unsigned char *p = (volatile unsigned char *)a;
    for (size_t i = 0; i < sizeof *a; i++)
        p[i] = 0;
}

/* lock_pair: source first, or (ordered) the smaller id first. The pause
 * between the two locks lets the other transfer take its first lock. */
__attribute__((noinline)) static void lock_pair(account_t *from,
                                               account_t *to, bool ordered)
{
    account_t *first = from, *second = to;
    if (ordered && to->id < from->id) {
        first = to;
        second = from;
    }
    ts_mutex_lock(&first->mu);
    ts_sleep(10 * TS_MILLISECOND);
    ts_mutex_lock(&second->mu); /* blocks for good without --fixed */
}

static void transfer(void *p)
{
    struct transfer_args *a = p;
    account_t *from = a->from, *to = a->to;
    int amount = a->amount;
    bool ordered = a->ordered;
    ts_chan_t *done = a->done;
    clear_args(a);
    free(a);

    lock_pair(from, to, ordered);
    from->balance -= amount;
    to->balance += amount;
    ts_mutex_unlock(&to->mu);
    ts_mutex_unlock(&from->mu);
    int ok = 1;
    ts_chan_send(done, &ok);
    ts_chan_release(done);
}

static void start_transfer(account_t *from, account_t *to, int amount,
                           bool ordered, ts_chan_t *done)
{
    struct transfer_args *a = xmalloc(sizeof *a);
    *a = (struct transfer_args){from, to, amount, ordered,
                                ts_chan_retain(done)};
    ts_go(transfer, a);
}

static account_t *new_account(int id)
{
    account_t *acc = xmalloc(sizeof *acc);
    *acc = (account_t){.mu = TS_MUTEX_INIT, .id = id, .balance = 100};
    return acc;
}

/* start_transfers: the two accounts and the two transfers; only the
 * transfers keep references to the accounts. Returns the accounts through
 * *keep only when fixed (to print the balances). */
static void start_transfers(bool fixed, ts_chan_t *done, account_t **keep)
{
    account_t *a = new_account(1), *b = new_account(2);
    start_transfer(a, b, 10, fixed, done);
    start_transfer(b, a, 20, fixed, done);
    keep[0] = fixed ? a : NULL;
    keep[1] = fixed ? b : NULL;
}

static int main_task(void *arg)
{
    bool fixed = *(bool *)arg;
    printf("lock order: %s\n", fixed ? "smaller account id first (--fixed)"
                                     : "source account first");
    ts_chan_t *done = xchan(sizeof(int), 2);
    account_t *acc[2];
    start_transfers(fixed, done, acc);

    int got = 0, ok;
    while (got < 2 && recv_within(done, &ok, NULL, 100 * TS_MILLISECOND))
        got++;
    ts_chan_release(done);
    if (got < 2) {
        printf("transfers: timed out after 100 ms, %d of 2 done\n", got);
        return 0;
    }
    printf("transfers: done, balances 1=%d 2=%d\n", acc[0]->balance,
           acc[1]->balance);
    free(acc[0]);
    free(acc[1]);
    return 0;
}

int main(int argc, char **argv)
{
    bool fixed = sample_flag(argc, argv, "--fixed");
    return ts_run(main_task, &fixed);
}
