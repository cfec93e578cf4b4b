/* taskscope — growable arrays, an index hash table and a string interner,
 * shared by the profile builder (profile.c) and the symbolizer
 * (symbolize.c).
 *
 * None of these types is thread-safe: each belongs to one builder, which
 * one thread at a time uses. Every call that allocates returns 0 or ENOMEM
 * and leaves the structure as it was when it fails. */
#ifndef TASKSCOPE_PROFILER_INTERN_H
#define TASKSCOPE_PROFILER_INTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- allocation -------------------------------------------------------- */

/* malloc/calloc/realloc for the whole profiler (not for memory handed to
 * libdw or zlib), so that a test can make the nth allocation fail and walk
 * every ENOMEM path (SQLite's fault simulation, STYLE.md "Tests"). */
void *ts__prof_malloc(size_t size);
void *ts__prof_calloc(size_t n, size_t size);
void *ts__prof_realloc(void *p, size_t size);

/* ts__prof_fail_nth: test hook; the nth profiler allocation from now fails
 * (n <= 0 disarms). ts__prof_fail_armed: it has not fired yet. */
void ts__prof_fail_nth(int n);
bool ts__prof_fail_armed(void);

/* ---- growable array ---------------------------------------------------- */

/* A vector of fixed-size elements; data moves when it grows, so keep
 * indices, never pointers, into it. */
struct ts__vec {
    void *data;  /* n elements of the caller's type, cap allocated */
    size_t n;    /* elements in use */
    size_t cap;  /* elements allocated */
};

/* ts__vec_reserve: make room for `extra` more elements of `size` bytes.
 * 0, or ENOMEM (also on size overflow). */
int ts__vec_reserve(struct ts__vec *v, size_t extra, size_t size);

/* ts__vec_free: release the storage; the vector is empty afterwards. */
void ts__vec_free(struct ts__vec *v);

/* Element i of a vector of T (no bounds check). */
#define TS__VEC_AT(v, T, i) (((T *)(v)->data)[i])

/* ---- index hash table -------------------------------------------------- */

/* Maps 64-bit hashes to indices of an array the caller owns; equality is
 * decided by the caller's callback, so one table type serves every key.
 * Open addressing, linear probing, load factor at most 1/2. */
struct ts__itab {
    uint64_t *hash;  /* per slot: the key's hash */
    uint32_t *slot;  /* per slot: index + 1; 0 marks an empty slot */
    size_t cap;      /* slots, 0 or a power of two */
    size_t n;        /* occupied slots */
};

/* ts__itab_eq: does element idx of the caller's array equal key? */
typedef bool (*ts__itab_eq)(const void *ctx, size_t idx, const void *key);

/* Largest index a table can hold. */
#define TS__ITAB_MAX_INDEX ((size_t)UINT32_MAX - 1)

/* ts__itab_find: index of the element equal to key, or SIZE_MAX. */
size_t ts__itab_find(const struct ts__itab *t, uint64_t hash, ts__itab_eq eq,
                     const void *ctx, const void *key);

/* ts__itab_add: record that element idx has this hash (the caller has
 * checked it is not there yet). 0, ENOMEM, or EOVERFLOW when idx is above
 * TS__ITAB_MAX_INDEX. */
int ts__itab_add(struct ts__itab *t, uint64_t hash, size_t idx);

void ts__itab_free(struct ts__itab *t);

/* FNV-1a over n bytes, continuing from h (start with TS__HASH_SEED). */
#define TS__HASH_SEED 0xcbf29ce484222325ull
uint64_t ts__hash_bytes(uint64_t h, const void *p, size_t n);

/* Mix one 64-bit word into h. */
uint64_t ts__hash_u64(uint64_t h, uint64_t x);

/* ---- string interner --------------------------------------------------- */

/* Distinct NUL-terminated strings, numbered in order of first appearance.
 * Entry 0 is always "" (pprof's string_table rule). Each string is its own
 * allocation, so a pointer from ts__strtab_get stays valid until
 * ts__strtab_free, however many strings are added later. */
struct ts__strtab {
    struct ts__vec strs;   /* char *, owned */
    struct ts__itab index; /* hash of the bytes -> position in strs */
};

/* ts__strtab_init: an interner holding only "" at index 0. 0 or ENOMEM. */
int ts__strtab_init(struct ts__strtab *t);

/* ts__strtab_intern: index of s (NULL counts as ""), adding a copy when it
 * is new. 0, ENOMEM, or EOVERFLOW when the table is full. */
int ts__strtab_intern(struct ts__strtab *t, const char *s, size_t *out);

/* ts__strtab_get: string i (i < ts__strtab_len). */
const char *ts__strtab_get(const struct ts__strtab *t, size_t i);

static inline size_t ts__strtab_len(const struct ts__strtab *t)
{
    return t->strs.n;
}

/* ts__strtab_free: free every string; the table must be re-initialised
 * before it is used again. */
void ts__strtab_free(struct ts__strtab *t);

#endif
