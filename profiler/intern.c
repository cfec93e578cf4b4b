/* taskscope — the profiler's allocator entry points (with a test hook that
 * fails the nth allocation), growable arrays, index hash tables and string
 * interning for the profiler's builders (see intern.h for the interface).
 *
 * Invariants:
 *   - a ts__itab never holds more than cap/2 entries, so every probe
 *     sequence reaches an empty slot;
 *   - slot values are index + 1, leaving 0 to mean "empty"; indices are
 *     therefore limited to TS__ITAB_MAX_INDEX;
 *   - ts__strtab entry 0 is "" from init until free.
 * Ownership: each structure owns its arrays; a ts__strtab also owns every
 * string copy. Nothing is shared between instances, nothing is locked
 * (the fault-injection counter is the one global, updated atomically).
 * Rejected: storing keys inside the hash table (one table type per key
 * kind, or void* keys with a size); the callback on the caller's own array
 * keeps one small table for strings, PCs, functions and samples alike. */
#include "profiler/intern.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/failpoint.h"

/* ---- allocation -------------------------------------------------------- */

static int fail_nth; /* atomic: allocations until the injected failure */

void ts__prof_fail_nth(int n)
{
    ts__failpoint_arm(&fail_nth, n);
}

bool ts__prof_fail_armed(void)
{
    return __atomic_load_n(&fail_nth, __ATOMIC_RELAXED) > 0;
}

void *ts__prof_malloc(size_t size)
{
    return ts__failpoint(&fail_nth) ? NULL : malloc(size);
}

void *ts__prof_calloc(size_t n, size_t size)
{
    return ts__failpoint(&fail_nth) ? NULL : calloc(n, size);
}

void *ts__prof_realloc(void *p, size_t size)
{
    return ts__failpoint(&fail_nth) ? NULL : realloc(p, size);
}

/* ---- growable array ---------------------------------------------------- */

int ts__vec_reserve(struct ts__vec *v, size_t extra, size_t size)
{
    if (extra <= v->cap - v->n)
        return 0;
    if (extra > SIZE_MAX / 2 - v->n)
        return ENOMEM;
    size_t want = v->n + extra;
    size_t cap = v->cap ? v->cap : 8;
    while (cap < want)
        cap *= 2;
    if (size != 0 && cap > SIZE_MAX / size)
        return ENOMEM;
    void *d = ts__prof_realloc(v->data, cap * size);
    if (!d)
        return ENOMEM;
    v->data = d;
    v->cap = cap;
    return 0;
}

void ts__vec_free(struct ts__vec *v)
{
    free(v->data);
    v->data = NULL;
    v->n = v->cap = 0;
}

/* ---- index hash table -------------------------------------------------- */

uint64_t ts__hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t ts__hash_u64(uint64_t h, uint64_t x)
{
    /* splitmix64's finaliser over h ^ x: cheap and spreads every bit */
    uint64_t z = h ^ (x + 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

size_t ts__itab_find(const struct ts__itab *t, uint64_t hash, ts__itab_eq eq,
                     const void *ctx, const void *key)
{
    if (t->cap == 0)
        return SIZE_MAX;
    size_t mask = t->cap - 1;
    for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
        if (t->slot[i] == 0)
            return SIZE_MAX;
        if (t->hash[i] == hash && eq(ctx, t->slot[i] - 1, key))
            return t->slot[i] - 1;
    }
}

/* Put (hash, slot value) into the first free slot of its probe sequence. */
static void place(uint64_t *hashes, uint32_t *slots, size_t cap,
                  uint64_t hash, uint32_t value)
{
    size_t mask = cap - 1;
    size_t i = (size_t)hash & mask;
    while (slots[i] != 0)
        i = (i + 1) & mask;
    hashes[i] = hash;
    slots[i] = value;
}

static int grow(struct ts__itab *t)
{
    size_t cap = t->cap ? t->cap * 2 : 16;
    if (cap > SIZE_MAX / sizeof(uint64_t))
        return ENOMEM;
    uint64_t *h = ts__prof_malloc(cap * sizeof *h);
    uint32_t *s = ts__prof_calloc(cap, sizeof *s);
    if (!h || !s) {
        free(h);
        free(s);
        return ENOMEM;
    }
    for (size_t i = 0; i < t->cap; i++)
        if (t->slot[i] != 0)
            place(h, s, cap, t->hash[i], t->slot[i]);
    free(t->hash);
    free(t->slot);
    t->hash = h;
    t->slot = s;
    t->cap = cap;
    return 0;
}

int ts__itab_add(struct ts__itab *t, uint64_t hash, size_t idx)
{
    if (idx > TS__ITAB_MAX_INDEX)
        return EOVERFLOW;
    if ((t->n + 1) * 2 > t->cap) {
        int r = grow(t);
        if (r != 0)
            return r;
    }
    place(t->hash, t->slot, t->cap, hash, (uint32_t)(idx + 1));
    t->n++;
    return 0;
}

void ts__itab_free(struct ts__itab *t)
{
    free(t->hash);
    free(t->slot);
    memset(t, 0, sizeof *t);
}

/* ---- string interner --------------------------------------------------- */

static bool str_eq(const void *ctx, size_t idx, const void *key)
{
    const struct ts__strtab *t = ctx;
    return strcmp(TS__VEC_AT(&t->strs, char *, idx), key) == 0;
}

int ts__strtab_init(struct ts__strtab *t)
{
    memset(t, 0, sizeof *t);
    size_t zero;
    int r = ts__strtab_intern(t, "", &zero);
    if (r != 0)
        ts__strtab_free(t);
    return r;
}

int ts__strtab_intern(struct ts__strtab *t, const char *s, size_t *out)
{
    if (!s)
        s = "";
    size_t len = strlen(s);
    uint64_t h = ts__hash_bytes(TS__HASH_SEED, s, len);
    size_t i = ts__itab_find(&t->index, h, str_eq, t, s);
    if (i != SIZE_MAX) {
        *out = i;
        return 0;
    }
    if (t->strs.n > TS__ITAB_MAX_INDEX)
        return EOVERFLOW;
    int r = ts__vec_reserve(&t->strs, 1, sizeof(char *));
    if (r != 0)
        return r;
    char *copy = ts__prof_malloc(len + 1);
    if (!copy)
        return ENOMEM;
    memcpy(copy, s, len + 1);
    r = ts__itab_add(&t->index, h, t->strs.n);
    if (r != 0) {
        free(copy);
        return r;
    }
    TS__VEC_AT(&t->strs, char *, t->strs.n) = copy;
    *out = t->strs.n++;
    return 0;
}

const char *ts__strtab_get(const struct ts__strtab *t, size_t i)
{
    return TS__VEC_AT(&t->strs, char *, i);
}

void ts__strtab_free(struct ts__strtab *t)
{
    for (size_t i = 0; i < t->strs.n; i++)
        free(TS__VEC_AT(&t->strs, char *, i));
    ts__vec_free(&t->strs);
    ts__itab_free(&t->index);
}
