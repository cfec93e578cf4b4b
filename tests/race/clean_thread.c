/* clean_thread: handoff between a task and a plain pthread.
 *
 * A plain thread (not a worker) and a task ping-pong over two channels:
 * the thread writes thread_msg and sends on `to_task` (the thread sleeps on
 * a futex while it waits); the task receives, reads thread_msg, writes
 * task_reply and sends on `to_thread` (buffered, so the edge is send ->
 * receive); the thread receives and reads task_reply. The thread finally
 * writes thread_final and closes `to_task`. Expected: no TSan report. */
#include <pthread.h>

#include "race_util.h"

enum { N = 300 };

static int thread_msg;   /* thread -> task */
static int task_reply;   /* task -> thread */
static int thread_final; /* published by the thread's close */

static ts_chan_t *to_task, *to_thread, *done;

static void *plain_thread(void *arg)
{
    (void)arg;
    if (ts_self() != 0)
        race_fail("plain thread has a task id");
    for (int i = 0; i < N; i++) {
        thread_msg = i + 5;
        race_send_int(to_task, i);
        int v = race_recv_int(to_thread);
        if (v != i || task_reply != 2 * i)
            race_fail("thread got %d, task_reply %d", v, task_reply);
    }
    thread_final = 1234;
    ts_chan_close(to_task);
    return NULL;
}

static void task_side(void *arg)
{
    (void)arg;
    for (int i = 0;; i++) {
        int v = -1;
        bool ok;
        ts_chan_recv(to_task, &v, &ok);
        if (!ok) {
            if (i != N || thread_final != 1234)
                race_fail("closed after %d, thread_final %d", i, thread_final);
            break;
        }
        if (v != i || thread_msg != i + 5)
            race_fail("task got %d, thread_msg %d", v, thread_msg);
        task_reply = 2 * i;
        race_send_int(to_thread, i);
    }
    race_send_int(done, 0);
}

static int main_task(void *arg)
{
    (void)arg;
    race_require_procs(2);
    to_task = race_chan(sizeof(int), 0);
    to_thread = race_chan(sizeof(int), 1);
    done = race_chan(sizeof(int), 0);
    ts_go(task_side, NULL);
    pthread_t th;
    if (pthread_create(&th, NULL, plain_thread, NULL) != 0)
        race_fail("pthread_create");
    race_recv_int(done);
    pthread_join(th, NULL); /* returned already: it closed to_task last */
    printf("clean_thread: %d round trips task <-> pthread ok\n", N);
    return 0;
}

int main(void) { return ts_run(main_task, NULL); }
