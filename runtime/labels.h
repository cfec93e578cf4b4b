/* taskscope — task labels (ts_set_label): an immutable, reference-counted
 * set of key/value strings per task, inherited by the tasks it creates, as
 * Go's pprof labels. */
#ifndef TASKSCOPE_RUNTIME_LABELS_H
#define TASKSCOPE_RUNTIME_LABELS_H

#include <stddef.h>
#include <stdint.h>

struct ts__label_kv {
    const char *key;
    const char *value;
};

struct ts__labels {
    uint32_t refs;              /* atomic */
    uint32_t n;
    struct ts__label_kv kv[];   /* sorted by key, keys unique */
};

struct ts_task;

/* ts__labels_inherit: child starts with parent's set (parent may be NULL);
 * called before the child is visible. */
void ts__labels_inherit(struct ts_task *child, const struct ts_task *parent);

/* ts__labels_ref / ts__labels_unref: keep a set beyond the moment it was
 * read (under the tasks_lock, e.g. in an introspection callback). NULL ok. */
void ts__labels_ref(const struct ts__labels *l);
void ts__labels_unref(const struct ts__labels *l);

/* ts__labels_drop: the task ends; releases its set. */
void ts__labels_drop(struct ts_task *t);

#endif
