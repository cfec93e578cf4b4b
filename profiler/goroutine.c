/* taskscope — goroutine profiles and dumps (see goroutine.h).
 *
 * Invariants:
 *   - a task whose stack is unknown (running on another M) is counted in
 *     the profile under its entry function alone, and the dump says so in
 *     Go's words ("goroutine running on other thread; stack unavailable"):
 *     it is never dropped, and never shown with frames it did not have;
 *   - stacks keep every frame the walk found, runtime frames included (Go
 *     shows runtime.gopark and friends too); the dump ends a trace at the
 *     task entry frames as Go hides goexit;
 *   - wait durations come from the coarse clock: "N minutes" is printed,
 *     as Go does, only from one minute on. */
#include "profiler/goroutine.h"

#include <stdlib.h>
#include <string.h>

#include "profiler/cycles.h"
#include "profiler/json.h"
#include "profiler/profile.h"
#include "profiler/tasks.h"
#include "profiler/text.h"
#include "runtime/introspect.h"
#include "runtime/labels.h"
#include "runtime/waitreason.h"

#define MAX_LABELS 64

bool ts__goroutine_shown(const struct ts__tsnap *s, enum ts__gfilter which)
{
    return which == TS__G_ALL || (which == TS__G_LEAKED && s->leaked) ||
           (which == TS__G_MARKED && s->marked);
}

/* stack_of: the frames a report gives s (its entry alone when unknown). */
static const uint64_t *stack_of(const struct ts__tasks *ts,
                                const struct ts__tsnap *s, uint64_t *entry,
                                size_t *n)
{
    if (s->stack_valid && s->npcs > 0) {
        *n = s->npcs;
        return ts__tasks_frames(ts, s);
    }
    *entry = s->entry + 1; /* as a return address into the function */
    *n = 1;
    return entry;
}

int ts__goroutine_profile(struct ts__profile *p, const struct ts__tasks *ts,
                          enum ts__gfilter which, const char *name)
{
    int r = ts__profile_add_sample_type(p, name, "count");
    if (!r)
        r = ts__profile_set_period(p, name, "count", 1);
    for (size_t i = 0; i < ts->n && !r; i++) {
        const struct ts__tsnap *s = &ts->v[i];
        if (!ts__goroutine_shown(s, which))
            continue;
        uint64_t entry;
        size_t depth, nl = 0;
        const uint64_t *pcs = stack_of(ts, s, &entry, &depth);
        struct ts__label labels[MAX_LABELS];
        for (uint32_t k = 0; s->labels && k < s->labels->n && nl < MAX_LABELS; k++)
            labels[nl++] = (struct ts__label){.key = s->labels->kv[k].key,
                                              .str = s->labels->kv[k].value};
        int64_t one = 1;
        struct ts__sample smp = {.stack = (const uintptr_t *)pcs,
                                 .depth = depth, .values = &one, .nvalues = 1,
                                 .labels = labels, .nlabels = nl};
        r = ts__profile_add_sample(p, &smp);
    }
    return r;
}

/* ---- debug=1 ---------------------------------------------------------- */


static const struct ts__tasks *sort_ts; /* qsort has no context argument;
                                           writers are serialized */

static int labels_cmp(const struct ts__labels *a, const struct ts__labels *b)
{
    uint32_t na = a ? a->n : 0, nb = b ? b->n : 0;
    for (uint32_t i = 0; i < na && i < nb; i++) {
        int c = strcmp(a->kv[i].key, b->kv[i].key);
        if (!c)
            c = strcmp(a->kv[i].value, b->kv[i].value);
        if (c)
            return c;
    }
    return (na > nb) - (na < nb);
}

static int stack_cmp(const void *x, const void *y)
{
    const struct ts__tsnap *a = *(const struct ts__tsnap *const *)x;
    const struct ts__tsnap *b = *(const struct ts__tsnap *const *)y;
    uint64_t ea, eb;
    size_t na, nb;
    const uint64_t *pa = stack_of(sort_ts, a, &ea, &na);
    const uint64_t *pb = stack_of(sort_ts, b, &eb, &nb);
    for (size_t i = 0; i < na && i < nb; i++)
        if (pa[i] != pb[i])
            return (pa[i] > pb[i]) - (pa[i] < pb[i]);
    if (na != nb)
        return (na > nb) - (na < nb);
    return labels_cmp(a->labels, b->labels);
}

/* quoted: s as Go's %q prints it (the legacy text's label syntax). */
static void quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\t': fputs("\\t", f); break;
        case '\r': fputs("\\r", f); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(f, "\\x%02x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

static void print_labels(FILE *f, const struct ts__labels *l)
{
    if (!l || l->n == 0)
        return;
    fputs("# labels: {", f);
    for (uint32_t i = 0; i < l->n; i++) {
        fputs(i ? ", " : "", f);
        quoted(f, l->kv[i].key);
        fputc(':', f);
        quoted(f, l->kv[i].value);
    }
    fputs("}\n", f);
}

/* group: one "count @ pcs" record per run of equal stacks+labels. */
static void print_group(FILE *f, struct ts__symbolizer *sym,
                        const struct ts__tasks *ts,
                        const struct ts__tsnap *s, size_t count)
{
    uint64_t entry;
    size_t n;
    const uint64_t *pcs = stack_of(ts, s, &entry, &n);
    fprintf(f, "%zu @", count);
    for (size_t i = 0; i < n; i++)
        fprintf(f, " %#llx", (unsigned long long)pcs[i]);
    fputc('\n', f);
    print_labels(f, s->labels);
    ts__text_frames(f, sym, pcs, n);
    fputc('\n', f);
}

void ts__goroutine_text(FILE *f, struct ts__symbolizer *sym,
                        const struct ts__tasks *ts, enum ts__gfilter which,
                        const char *name)
{
    const struct ts__tsnap **v = malloc((ts->n + 1) * sizeof *v);
    size_t n = 0;
    for (size_t i = 0; v && i < ts->n; i++)
        if (ts__goroutine_shown(&ts->v[i], which))
            v[n++] = &ts->v[i];
    fprintf(f, "%s profile: total %zu\n", name, n);
    if (!v) {
        fputs("# out of memory: stacks not listed\n", f);
        return;
    }
    sort_ts = ts;
    qsort(v, n, sizeof *v, stack_cmp);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && stack_cmp(&v[i], &v[j]) == 0; j++)
            ;
        print_group(f, sym, ts, v[i], j - i);
    }
    free(v);
}

/* ---- debug=2 ---------------------------------------------------------- */

static const char *state_text(const struct ts__tsnap *s)
{
    switch (s->state) {
    case TS_TASK_RUNNING:
        return "running";
    case TS_TASK_RUNNABLE:
        return "runnable";
    default:
        return s->wait_reason ? ts__wait_text(s->wait_reason) : "waiting";
    }
}

static void print_header(FILE *f, const struct ts__tasks *ts,
                         const struct ts__tsnap *s)
{
    fprintf(f, "goroutine %llu [%s", (unsigned long long)s->id, state_text(s));
    if (s->leaked)
        fputs(" (leaked)", f);
    int64_t minutes = s->wait_since ? (ts->now - s->wait_since) / 60000000000LL : 0;
    if (minutes >= 1)
        fprintf(f, ", %lld minutes", (long long)minutes);
    fputs("]:\n", f);
}

void ts__goroutine_dump_task(FILE *f, struct ts__symbolizer *sym,
                             const struct ts__tasks *ts,
                             const struct ts__tsnap *s)
{
    print_header(f, ts, s);
    if (s->stack_valid)
        ts__tb_stack(f, sym, ts__tasks_frames(ts, s), s->npcs);
    else
        fputs("\tgoroutine running on other thread; stack unavailable\n", f);
    ts__tb_created_by(f, sym, s->create_pc, s->parent);
}

void ts__goroutine_dump(FILE *f, struct ts__symbolizer *sym,
                        const struct ts__tasks *ts, enum ts__gfilter which)
{
    bool first = true;
    for (size_t i = 0; i < ts->n; i++) {
        const struct ts__tsnap *s = &ts->v[i];
        if (!ts__goroutine_shown(s, which))
            continue;
        if (!first)
            fputc('\n', f);
        first = false;
        ts__goroutine_dump_task(f, sym, ts, s);
    }
}

/* ---- JSON ------------------------------------------------------------- */

static void json_labels(FILE *f, const struct ts__labels *l)
{
    fputs(",\"labels\":{", f);
    for (uint32_t i = 0; l && i < l->n; i++) {
        if (i)
            fputc(',', f);
        ts__json_str(f, l->kv[i].key);
        fputc(':', f);
        ts__json_str(f, l->kv[i].value);
    }
    fputc('}', f);
}

static void json_task(FILE *f, struct ts__symbolizer *sym,
                      const struct ts__tasks *ts, const struct ts__tsnap *s)
{
    fprintf(f, "{\"id\":%llu,\"parent\":%llu,\"state\":",
            (unsigned long long)s->id, (unsigned long long)s->parent);
    ts__json_str(f, s->state == TS_TASK_WAITING ? "waiting" : state_text(s));
    fputs(",\"wait_reason\":", f);
    ts__json_str(f, ts__wait_text(s->wait_reason));
    fprintf(f, ",\"wait_ns\":%lld,\"leaked\":%s,\"stack_available\":%s",
            (long long)(s->wait_since ? ts->now - s->wait_since : 0),
            s->leaked ? "true" : "false", s->stack_valid ? "true" : "false");
    json_labels(f, s->labels);
    fputs(",\"frames\":", f);
    ts__json_frames(f, sym, ts__tasks_frames(ts, s),
                    s->stack_valid ? s->npcs : 0);
    fputs(",\"created_by\":", f);
    ts__json_frames(f, sym, &s->create_pc, s->create_pc ? 1 : 0);
    fputc('}', f);
}

void ts__goroutine_json(FILE *f, struct ts__symbolizer *sym,
                        const struct ts__tasks *ts, enum ts__gfilter which,
                        const char *name, const struct ts__cycles *cy)
{
    size_t total = 0;
    for (size_t i = 0; i < ts->n; i++)
        total += ts__goroutine_shown(&ts->v[i], which);
    fputs("{\"profile\":", f);
    ts__json_str(f, name);
    fprintf(f, ",\"total\":%zu,\"tasks\":[", total);
    bool first = true;
    for (size_t i = 0; i < ts->n; i++) {
        if (!ts__goroutine_shown(&ts->v[i], which))
            continue;
        if (!first)
            fputc(',', f);
        first = false;
        json_task(f, sym, ts, &ts->v[i]);
    }
    fputc(']', f);
    ts__cycles_json(f, ts, which, cy);
    fputs("}\n", f);
}
