/* taskscope — task labels (see labels.h).
 *
 * Invariants:
 *   - a set is never changed after it is published; ts_set_label builds a
 *     new one and swaps the task's pointer;
 *   - the pointer of a listed task is swapped, and a task's set dropped,
 *     only under the tasks_lock of the P list holding the task, which the
 *     introspection walk holds while it reads a set: the walk never sees a
 *     freed set;
 *   - refs counts the tasks pointing at the set (children share it). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <taskscope/profile.h>

#include "runtime/labels.h"
#include "runtime/race.h"
#include "runtime/sched.h"

/* A holder's reads of the set follow its publication (release in
 * ts_set_label): TSan sees that edge through race.h. */
void ts__labels_ref(const struct ts__labels *l)
{
    if (l) {
        ts__race_acquire(l);
        __atomic_add_fetch(&((struct ts__labels *)l)->refs, 1,
                           __ATOMIC_RELAXED);
    }
}

/* Every holder's reads happen before the free: TSan sees the edge through
 * race.h, as it cannot see the uninstrumented atomic. */
void ts__labels_unref(const struct ts__labels *l)
{
    struct ts__labels *m = (struct ts__labels *)l;
    if (!m)
        return;
    ts__race_release(m);
    if (__atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        ts__race_acquire(m);
        free(m);
    }
}

void ts__labels_inherit(struct ts_task *child, const struct ts_task *parent)
{
    struct ts__labels *l = parent ? parent->labels : NULL;
    ts__labels_ref(l);
    __atomic_store_n(&child->labels, l, __ATOMIC_RELEASE);
}

/* swap: publish l as t's set under its list lock; returns the old set. */
static struct ts__labels *swap(struct ts_task *t, struct ts__labels *l)
{
    ts__lock(&t->tasks_p->tasks_lock);
    struct ts__labels *old = t->labels;
    __atomic_store_n(&t->labels, l, __ATOMIC_RELEASE);
    ts__unlock(&t->tasks_p->tasks_lock);
    return old;
}

void ts__labels_drop(struct ts_task *t)
{
    if (t->labels)
        ts__labels_unref(swap(t, NULL));
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const struct ts__label_kv *)a)->key,
                  ((const struct ts__label_kv *)b)->key);
}

/* put: copy k and v into the string area at *str and append the pair. */
static void put(struct ts__labels *l, char **str, const char *k, const char *v)
{
    l->kv[l->n].key = *str;
    *str = stpcpy(*str, k) + 1;
    l->kv[l->n].value = *str;
    *str = stpcpy(*str, v) + 1;
    l->n++;
}

/* with: a copy of old (NULL = empty) with key set to value, or removed when
 * value is NULL; NULL when out of memory. One allocation holds the struct
 * and every string. */
static struct ts__labels *with(const struct ts__labels *old, const char *key,
                               const char *value)
{
    uint32_t n0 = old ? old->n : 0;
    size_t bytes = sizeof(struct ts__labels) +
                   (n0 + 1) * sizeof(struct ts__label_kv) +
                   (value ? strlen(key) + strlen(value) + 2 : 0);
    for (uint32_t i = 0; i < n0; i++)
        bytes += strlen(old->kv[i].key) + strlen(old->kv[i].value) + 2;
    struct ts__labels *l = malloc(bytes);
    if (!l)
        return NULL;
    char *str = (char *)&l->kv[n0 + 1];
    l->refs = 1;
    l->n = 0;
    for (uint32_t i = 0; i < n0; i++)
        if (strcmp(old->kv[i].key, key) != 0)
            put(l, &str, old->kv[i].key, old->kv[i].value);
    if (value)
        put(l, &str, key, value);
    qsort(l->kv, l->n, sizeof l->kv[0], by_key);
    return l;
}

int ts_set_label(const char *key, const char *value)
{
    struct ts_task *t = ts__current_task();
    if (!key || !*key || strncmp(key, "pprof::", 7) == 0 || !t)
        return EINVAL;
    struct ts__labels *l = with(t->labels, key, value);
    if (!l)
        return ENOMEM;
    ts__race_release(l); /* its contents happen before any reader's */
    if (l->n == 0) {
        free(l);
        l = NULL;
    }
    ts__labels_unref(swap(t, l));
    return 0;
}
