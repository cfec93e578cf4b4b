/* test_profile.c — the public profiling API (include/taskscope/profile.h):
 * ts_profile_write / ts_profile_write_json for every profile name, the
 * goroutine dump, labels, the block/mutex/threadcreate/heap profiles, and
 * the process-level features (profiles at exit, SIGQUIT, the agent socket,
 * the deadlock detector) run as child scenarios.
 *
 * pprof output is gunzipped (zlib) and read back with a small protobuf
 * decoder written from the field numbers of CONVENTIONS.md §1.1, independent
 * of the protobuf-c code the writer uses. Expected sample/period types are
 * Go's table (CONVENTIONS.md §1.2). Timing assertions are one-sided only
 * ("at least what we slept"). */
#define TP_SCENARIOS_LEAVE_TASKS_BLOCKED /* no LeakSanitizer: tt_prof.h */
#include "tt_prof.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <zlib.h>

#include <taskscope/profile.h>

#include "runtime/labels.h"
#include "runtime/lock.h"
#include "runtime/race.h"

/* ======================================================================
 * protobuf reading (profile.proto)
 * ==================================================================== */

struct pb_vt {
    int64_t type, unit;
};
struct pb_label {
    int64_t key, str, num, unit;
};
struct pb_sample {
    uint64_t *loc;
    size_t nloc;
    int64_t *val;
    size_t nval;
    struct pb_label *lab;
    size_t nlab;
};
struct pb_line {
    uint64_t fid;
    int64_t line;
};
struct pb_loc {
    uint64_t id, mapping_id, address;
    struct pb_line *line;
    size_t nline;
};
struct pb_fn {
    uint64_t id;
    int64_t name, system_name, filename, start_line;
};
struct pb_map {
    uint64_t id, start, limit, offset;
    int64_t filename, build_id;
    bool has_functions, has_filenames, has_line_numbers, has_inline_frames;
};
struct pb {
    char **str;
    size_t nstr;
    struct pb_vt *st;
    size_t nst;
    struct pb_sample *s;
    size_t ns;
    struct pb_map *map;
    size_t nmap;
    struct pb_loc *loc;
    size_t nloc;
    struct pb_fn *fn;
    size_t nfn;
    int64_t time_nanos, duration_nanos, period, default_sample_type;
    struct pb_vt period_type;
    int64_t *comment;
    size_t ncomment;
};

/* Append one zeroed element to a dynamic array; returns a pointer to it. */
#define PUSH(arr, n)                                                       \
    (*(void **)&(arr) = realloc((arr), ((n) + 1) * sizeof *(arr)),         \
     assert_non_null(arr), memset(&(arr)[(n)], 0, sizeof *(arr)),          \
     &(arr)[(n)++])

static void rd_u64s(uint32_t wire, uint64_t v, struct rd *sub, uint64_t **out,
                    size_t *n)
{
    if (wire == 0) {
        *PUSH(*out, *n) = v;
        return;
    }
    while (sub->p < sub->end)
        *PUSH(*out, *n) = rd_varint(sub);
}

static struct pb_vt rd_vt(struct rd r)
{
    struct pb_vt vt = {0};
    uint32_t f, w;
    uint64_t v = 0;
    struct rd sub;
    while (rd_field(&r, &f, &w, &v, &sub)) {
        if (f == 1)
            vt.type = (int64_t)v;
        else if (f == 2)
            vt.unit = (int64_t)v;
    }
    return vt;
}

static void rd_sample(struct rd r, struct pb_sample *s)
{
    uint32_t f, w;
    uint64_t v = 0;
    struct rd sub;
    while (rd_field(&r, &f, &w, &v, &sub)) {
        if (f == 1) {
            rd_u64s(w, v, &sub, &s->loc, &s->nloc);
        } else if (f == 2) {
            rd_u64s(w, v, &sub, (uint64_t **)&s->val, &s->nval);
        } else if (f == 3) {
            struct pb_label *l = PUSH(s->lab, s->nlab);
            uint32_t f2, w2;
            uint64_t v2 = 0;
            struct rd sub2;
            while (rd_field(&sub, &f2, &w2, &v2, &sub2)) {
                if (f2 == 1)
                    l->key = (int64_t)v2;
                else if (f2 == 2)
                    l->str = (int64_t)v2;
                else if (f2 == 3)
                    l->num = (int64_t)v2;
                else if (f2 == 4)
                    l->unit = (int64_t)v2;
            }
        }
    }
}

static void rd_mapping(struct rd r, struct pb_map *m)
{
    uint32_t f, w;
    uint64_t v = 0;
    struct rd sub;
    while (rd_field(&r, &f, &w, &v, &sub)) {
        switch (f) {
        case 1: m->id = v; break;
        case 2: m->start = v; break;
        case 3: m->limit = v; break;
        case 4: m->offset = v; break;
        case 5: m->filename = (int64_t)v; break;
        case 6: m->build_id = (int64_t)v; break;
        case 7: m->has_functions = v; break;
        case 8: m->has_filenames = v; break;
        case 9: m->has_line_numbers = v; break;
        case 10: m->has_inline_frames = v; break;
        }
    }
}

static void rd_location(struct rd r, struct pb_loc *l)
{
    uint32_t f, w;
    uint64_t v = 0;
    struct rd sub;
    while (rd_field(&r, &f, &w, &v, &sub)) {
        if (f == 1) {
            l->id = v;
        } else if (f == 2) {
            l->mapping_id = v;
        } else if (f == 3) {
            l->address = v;
        } else if (f == 4) {
            struct pb_line *ln = PUSH(l->line, l->nline);
            uint32_t f2, w2;
            uint64_t v2 = 0;
            struct rd sub2;
            while (rd_field(&sub, &f2, &w2, &v2, &sub2)) {
                if (f2 == 1)
                    ln->fid = v2;
                else if (f2 == 2)
                    ln->line = (int64_t)v2;
            }
        }
    }
}

static void rd_function(struct rd r, struct pb_fn *fn)
{
    uint32_t f, w;
    uint64_t v = 0;
    struct rd sub;
    while (rd_field(&r, &f, &w, &v, &sub)) {
        switch (f) {
        case 1: fn->id = v; break;
        case 2: fn->name = (int64_t)v; break;
        case 3: fn->system_name = (int64_t)v; break;
        case 4: fn->filename = (int64_t)v; break;
        case 5: fn->start_line = (int64_t)v; break;
        }
    }
}

static struct pb *pb_decode(const uint8_t *buf, size_t len)
{
    struct pb *d = calloc(1, sizeof *d);
    assert_non_null(d);
    struct rd r = {buf, buf + len}, sub = {0};
    uint32_t f, w;
    uint64_t v = 0;
    while (rd_field(&r, &f, &w, &v, &sub)) {
        switch (f) {
        case 1: *PUSH(d->st, d->nst) = rd_vt(sub); break;
        case 2: rd_sample(sub, PUSH(d->s, d->ns)); break;
        case 3: rd_mapping(sub, PUSH(d->map, d->nmap)); break;
        case 4: rd_location(sub, PUSH(d->loc, d->nloc)); break;
        case 5: rd_function(sub, PUSH(d->fn, d->nfn)); break;
        case 6:
            *PUSH(d->str, d->nstr) =
                strndup((const char *)sub.p, (size_t)(sub.end - sub.p));
            break;
        case 9: d->time_nanos = (int64_t)v; break;
        case 10: d->duration_nanos = (int64_t)v; break;
        case 11: d->period_type = rd_vt(sub); break;
        case 12: d->period = (int64_t)v; break;
        case 13: rd_u64s(w, v, &sub, (uint64_t **)&d->comment, &d->ncomment); break;
        case 14: d->default_sample_type = (int64_t)v; break;
        default: break; /* readers ignore unknown fields */
        }
    }
    return d;
}

static void pb_free(struct pb *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nstr; i++)
        free(d->str[i]);
    for (size_t i = 0; i < d->ns; i++) {
        free(d->s[i].loc);
        free(d->s[i].val);
        free(d->s[i].lab);
    }
    for (size_t i = 0; i < d->nloc; i++)
        free(d->loc[i].line);
    free(d->str);
    free(d->st);
    free(d->s);
    free(d->map);
    free(d->loc);
    free(d->fn);
    free(d->comment);
    free(d);
}

static const char *S(const struct pb *d, int64_t i)
{
    return i >= 0 && (size_t)i < d->nstr ? d->str[i] : "<out of range>";
}

static const struct pb_loc *pb_loc(const struct pb *d, uint64_t id)
{
    for (size_t i = 0; i < d->nloc; i++)
        if (d->loc[i].id == id)
            return &d->loc[i];
    return NULL;
}

static const char *pb_fn_name(const struct pb *d, uint64_t fid)
{
    for (size_t i = 0; i < d->nfn; i++)
        if (d->fn[i].id == fid)
            return S(d, d->fn[i].name);
    return "<no function>";
}

/* Does sample s have a frame (inlined or not) of function fn? */
static bool pb_has_fn(const struct pb *d, const struct pb_sample *s,
                      const char *fn)
{
    for (size_t i = 0; i < s->nloc; i++) {
        const struct pb_loc *l = pb_loc(d, s->loc[i]);
        for (size_t k = 0; l && k < l->nline; k++)
            if (strcmp(pb_fn_name(d, l->line[k].fid), fn) == 0)
                return true;
    }
    return false;
}

/* Index of fn's outermost frame in s (location index), or -1. */
static long pb_fn_depth(const struct pb *d, const struct pb_sample *s,
                        const char *fn)
{
    for (size_t i = 0; i < s->nloc; i++) {
        const struct pb_loc *l = pb_loc(d, s->loc[i]);
        for (size_t k = 0; l && k < l->nline; k++)
            if (strcmp(pb_fn_name(d, l->line[k].fid), fn) == 0)
                return (long)i;
    }
    return -1;
}

/* The leaf function: innermost line of the first location. */
static const char *pb_leaf(const struct pb *d, const struct pb_sample *s)
{
    const struct pb_loc *l = s->nloc ? pb_loc(d, s->loc[0]) : NULL;
    return l && l->nline ? pb_fn_name(d, l->line[0].fid) : "<none>";
}

/* String label key of s, or NULL. */
static const char *pb_label(const struct pb *d, const struct pb_sample *s,
                            const char *key)
{
    for (size_t i = 0; i < s->nlab; i++)
        if (strcmp(S(d, s->lab[i].key), key) == 0 && s->lab[i].str)
            return S(d, s->lab[i].str);
    return NULL;
}

/* Samples with a frame of fn whose label `key` is value (NULL: no label
 * key at all). Returns the count of such samples, the first in *out. */
static size_t pb_find(const struct pb *d, const char *fn, const char *key,
                      const char *value, const struct pb_sample **out)
{
    size_t n = 0;
    for (size_t i = 0; i < d->ns; i++) {
        const struct pb_sample *s = &d->s[i];
        if (!pb_has_fn(d, s, fn))
            continue;
        const char *l = key ? pb_label(d, s, key) : NULL;
        if (key && (value ? (!l || strcmp(l, value) != 0) : l != NULL))
            continue;
        if (!n && out)
            *out = s;
        n++;
    }
    return n;
}

/* ======================================================================
 * capturing ts_profile_write output
 * ==================================================================== */

struct buf {
    char *p;
    size_t n;
    int rc; /* ts_profile_write's return */
};

static void buf_free(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = 0;
}

/* Read an fd from offset 0 into b (NUL-terminated). */
static bool slurp_fd(int fd, struct buf *b)
{
    off_t len = lseek(fd, 0, SEEK_END);
    if (len < 0 || lseek(fd, 0, SEEK_SET) != 0)
        return false;
    b->p = malloc((size_t)len + 1);
    if (!b->p)
        return false;
    size_t got = 0;
    while (got < (size_t)len) {
        ssize_t r = read(fd, b->p + got, (size_t)len - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    b->p[got] = '\0';
    b->n = got;
    return got == (size_t)len;
}

/* Run the writer (debug >= 0, or json when debug == -100) into a memfd.
 * Safe on tasks (no cmocka asserts): false when the capture itself
 * failed. */
#define CAP_JSON (-100)
static bool capture(const char *name, int debug, struct buf *b)
{
    memset(b, 0, sizeof *b);
    int fd = memfd_create("ts-profile", MFD_CLOEXEC);
    if (fd < 0)
        return false;
    b->rc = debug == CAP_JSON ? ts_profile_write_json(name, fd)
                              : ts_profile_write(name, fd, debug);
    bool ok = slurp_fd(fd, b);
    close(fd);
    return ok;
}

/* Cmocka-thread capture: asserts the writer returned 0. */
static struct buf cap_ok(const char *name, int debug)
{
    struct buf b;
    assert_true(capture(name, debug, &b));
    if (b.rc != 0)
        fail_msg("ts_profile_write(%s, debug %d) = %d (%s)", name, debug,
                 b.rc, strerror(b.rc));
    return b;
}

/* gunzip b into a decoded profile (asserts gzip magic and a clean inflate). */
static struct pb *pb_from_gzip(const void *data, size_t n)
{
    const uint8_t *u = data;
    assert_true(n >= 2);
    if (u[0] != 0x1f || u[1] != 0x8b)
        fail_msg("not gzip: starts %02x %02x", u[0], u[1]);
    z_stream z = {0};
    assert_int_equal(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
    size_t cap = 1 << 16, len = 0;
    uint8_t *out = malloc(cap);
    assert_non_null(out);
    z.next_in = (Bytef *)(uintptr_t)u;
    z.avail_in = (uInt)n;
    int zr;
    do {
        if (len == cap) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
        z.next_out = out + len;
        z.avail_out = (uInt)(cap - len);
        zr = inflate(&z, Z_NO_FLUSH);
        len = cap - z.avail_out;
    } while (zr == Z_OK);
    inflateEnd(&z);
    if (zr != Z_STREAM_END)
        fail_msg("inflate: %d (%s)", zr, z.msg ? z.msg : "");
    assert_int_equal(z.avail_in, 0); /* nothing after the gzip member */
    struct pb *d = pb_decode(out, len);
    free(out);
    return d;
}

static struct pb *pb_capture(const char *name)
{
    struct buf b = cap_ok(name, 0);
    struct pb *d = pb_from_gzip(b.p, b.n);
    buf_free(&b);
    return d;
}

static struct pb *pb_from_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fail_msg("open %s: %s", path, strerror(errno));
    struct buf b = {0};
    assert_true(slurp_fd(fd, &b));
    close(fd);
    struct pb *d = pb_from_gzip(b.p, b.n);
    buf_free(&b);
    return d;
}

/* ---- Go's table (CONVENTIONS.md §1.2) ------------------------------- */

struct go_types {
    const char *name;
    const char *st[4][2];
    size_t nst;
    const char *period_type[2];
    const char *dflt; /* default_sample_type, NULL = unset */
};

static const struct go_types go_table[] = {
    {"goroutine", {{"goroutine", "count"}}, 1, {"goroutine", "count"}, NULL},
    {"threadcreate", {{"threadcreate", "count"}}, 1, {"threadcreate", "count"}, NULL},
    /* Go >= 1.26: printCountProfile(name = "goroutineleak") */
    {"goroutineleak", {{"goroutineleak", "count"}}, 1, {"goroutineleak", "count"}, NULL},
    {"block", {{"contentions", "count"}, {"delay", "nanoseconds"}}, 2,
     {"contentions", "count"}, NULL},
    {"mutex", {{"contentions", "count"}, {"delay", "nanoseconds"}}, 2,
     {"contentions", "count"}, NULL},
    {"heap", {{"alloc_objects", "count"}, {"alloc_space", "bytes"},
              {"inuse_objects", "count"}, {"inuse_space", "bytes"}}, 4,
     {"space", "bytes"}, NULL},
    {"allocs", {{"alloc_objects", "count"}, {"alloc_space", "bytes"},
                {"inuse_objects", "count"}, {"inuse_space", "bytes"}}, 4,
     {"space", "bytes"}, "alloc_space"},
};

static const struct go_types *go_types_of(const char *name)
{
    for (size_t i = 0; i < sizeof go_table / sizeof go_table[0]; i++)
        if (strcmp(go_table[i].name, name) == 0)
            return &go_table[i];
    fail_msg("no Go table entry for %s", name);
    return NULL;
}

/* The header checks every profile must pass (CONVENTIONS.md §1.1-1.2,
 * §6 items 1-3, 5). expect_period < 0: do not check the period value. */
static void check_common(const struct pb *d, const char *name,
                         int64_t expect_period, bool main_exe)
{
    const struct go_types *g = go_types_of(name);
    assert_true(d->nstr > 0);
    assert_string_equal(d->str[0], "");
    if (d->nst != g->nst)
        fail_msg("%s: %zu sample types, Go has %zu", name, d->nst, g->nst);
    for (size_t i = 0; i < g->nst; i++) {
        if (strcmp(S(d, d->st[i].type), g->st[i][0]) != 0 ||
            strcmp(S(d, d->st[i].unit), g->st[i][1]) != 0)
            fail_msg("%s: sample_type[%zu] = %s/%s, Go: %s/%s", name, i,
                     S(d, d->st[i].type), S(d, d->st[i].unit), g->st[i][0],
                     g->st[i][1]);
    }
    assert_string_equal(S(d, d->period_type.type), g->period_type[0]);
    assert_string_equal(S(d, d->period_type.unit), g->period_type[1]);
    if (expect_period >= 0 && d->period != expect_period)
        fail_msg("%s: period %lld, want %lld", name, (long long)d->period,
                 (long long)expect_period);
    if (g->dflt)
        assert_string_equal(S(d, d->default_sample_type), g->dflt);
    else if (d->default_sample_type != 0)
        fail_msg("%s: default_sample_type %s, Go leaves it unset", name,
                 S(d, d->default_sample_type));
    assert_true(d->time_nanos > 0);
    /* every sample: one value per type, every location resolves */
    for (size_t i = 0; i < d->ns; i++) {
        if (d->s[i].nval != d->nst)
            fail_msg("%s: sample %zu has %zu values for %zu types", name, i,
                     d->s[i].nval, d->nst);
        for (size_t k = 0; k < d->s[i].nloc; k++)
            if (!pb_loc(d, d->s[i].loc[k]))
                fail_msg("%s: sample %zu: location %llu missing", name, i,
                         (unsigned long long)d->s[i].loc[k]);
        /* no pprof:: keys, one value per key */
        for (size_t a = 0; a < d->s[i].nlab; a++) {
            assert_true(strncmp(S(d, d->s[i].lab[a].key), "pprof::", 7) != 0);
            for (size_t b = a + 1; b < d->s[i].nlab; b++)
                assert_true(d->s[i].lab[a].key != d->s[i].lab[b].key);
        }
    }
    /* the dropped-events comment */
    bool dropped = false;
    for (size_t i = 0; i < d->ncomment; i++) {
        const char *c = S(d, d->comment[i]);
        unsigned long long n;
        if (sscanf(c, "taskscope: %llu events dropped", &n) == 1)
            dropped = true;
    }
    if (!dropped)
        fail_msg("%s: no \"taskscope: N events dropped\" comment (%zu comments)",
                 name, d->ncomment);
    /* mapping[0]: the test executable, with its build id */
    if (main_exe) {
        char id[128];
        assert_true(tp_main_build_id(id, sizeof id));
        assert_true(d->nmap >= 1);
        assert_int_equal(d->map[0].id, 1);
        assert_string_equal(S(d, d->map[0].filename), tp_exe_path());
        assert_string_equal(S(d, d->map[0].build_id), id);
        assert_true(d->map[0].has_functions);
    }
}

/* ======================================================================
 * helpers: children with stdin, sockets, python
 * ==================================================================== */

/* A child `<self> --scenario NAME` with stdin/stdout/stderr pipes, SIGQUIT
 * reset to SIG_DFL and an empty signal mask (whatever ctest gave us). */
struct pchild {
    pid_t pid;
    int in, out, err;
    char obuf[16384], ebuf[65536];
    size_t olen, elen;
    int status;
    bool keep_stdin; /* pc_finish: leave stdin open (the child must end) */
};

static int pc_spawn(const char *name, const char *const *env_add,
                    struct pchild *c)
{
    memset(c, 0, sizeof *c);
    c->in = c->out = c->err = -1;
    char exe[4096];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (el <= 0)
        return errno;
    exe[el] = '\0';
    size_t nenv = 0, nadd = 0;
    while (environ[nenv])
        nenv++;
    while (env_add && env_add[nadd])
        nadd++;
    char **envp = calloc(nenv + nadd + 1, sizeof *envp);
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++) {
        bool over = false;
        for (size_t j = 0; j < nadd; j++) {
            size_t l = strcspn(env_add[j], "=");
            if (strncmp(environ[i], env_add[j], l) == 0 && environ[i][l] == '=')
                over = true;
        }
        if (!over)
            envp[k++] = environ[i];
    }
    for (size_t j = 0; j < nadd; j++)
        envp[k++] = (char *)env_add[j];
    int pi[2], po[2], pe[2];
    if (pipe2(pi, O_CLOEXEC) || pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC))
        return errno;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pi[0], 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    sigset_t def, none;
    sigemptyset(&def);
    sigaddset(&def, SIGQUIT);
    sigaddset(&def, SIGPIPE);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&at, &def);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    char *argv[] = {exe, "--scenario", (char *)name, NULL};
    int r = posix_spawn(&c->pid, exe, &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    free(envp);
    close(pi[0]);
    close(po[1]);
    close(pe[1]);
    c->in = pi[1];
    c->out = po[0];
    c->err = pe[0];
    if (r != 0) {
        close(c->in);
        close(c->out);
        close(c->err);
        c->in = c->out = c->err = -1;
    }
    return r;
}

/* Read what is available for up to ms; false when both pipes are at EOF. */
static bool pc_pump(struct pchild *c, int ms)
{
    struct pollfd p[2] = {{.fd = c->out, .events = POLLIN},
                          {.fd = c->err, .events = POLLIN}};
    if (c->out < 0 && c->err < 0)
        return false;
    int pr = poll(p, 2, ms);
    if (pr <= 0)
        return true;
    for (int i = 0; i < 2; i++) {
        if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        char tmp[4096];
        ssize_t n = read(p[i].fd, tmp, sizeof tmp);
        if (n > 0) {
            if (i == 0)
                tt_append(c->obuf, sizeof c->obuf, &c->olen, tmp, (size_t)n);
            else
                tt_append(c->ebuf, sizeof c->ebuf, &c->elen, tmp, (size_t)n);
        } else if (n == 0 || errno != EINTR) {
            close(p[i].fd);
            if (i == 0)
                c->out = -1;
            else
                c->err = -1;
        }
    }
    return true;
}

/* Wait until stdout (err=false) or stderr contains needle; false on
 * timeout or EOF. */
static bool pc_wait_for(struct pchild *c, bool err, const char *needle,
                        int64_t timeout)
{
    int64_t deadline = ts_now() + timeout;
    while (!strstr(err ? c->ebuf : c->obuf, needle)) {
        if (ts_now() >= deadline || !pc_pump(c, 50))
            return strstr(err ? c->ebuf : c->obuf, needle) != NULL;
    }
    return true;
}

/* Close stdin, read to EOF and reap; SIGKILL after timeout (then
 * *killed). Returns the exit code, or -signal. */
static int pc_finish(struct pchild *c, int64_t timeout, bool *killed)
{
    if (c->in >= 0 && !c->keep_stdin)
        close(c->in);
    if (!c->keep_stdin)
        c->in = -1;
    int64_t deadline = ts_now() + timeout;
    bool k = false;
    while (pc_pump(c, 50)) {
        if (ts_now() >= deadline) {
            kill(c->pid, SIGKILL);
            k = true;
            break;
        }
    }
    if (c->out >= 0)
        close(c->out);
    if (c->err >= 0)
        close(c->err);
    c->out = c->err = -1;
    while (waitpid(c->pid, &c->status, 0) < 0 && errno == EINTR)
        ;
    if (c->in >= 0)
        close(c->in);
    c->in = -1;
    if (killed)
        *killed = k;
    if (WIFEXITED(c->status))
        return WEXITSTATUS(c->status);
    return WIFSIGNALED(c->status) ? -WTERMSIG(c->status) : -1000;
}

/* Run python3 -c script path; its exit status, or 127 when there is no
 * python3 (the caller then skips). */
static int run_python(const char *script, const char *path)
{
    char *argv[] = {"python3", "-c", (char *)script, (char *)path, NULL};
    pid_t pid;
    if (posix_spawnp(&pid, "python3", NULL, NULL, argv, environ) != 0)
        return 127;
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Write data to a fresh temporary file; returns its path (static). */
static const char *tmp_file_with(const char *data, size_t n)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/ts-profile-test.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
    return path;
}

/* A fresh temporary directory (caller rm -rf's it with rm_tree). */
static void tmp_dir(char *out, size_t cap)
{
    snprintf(out, cap, "/tmp/ts-profile-dir.XXXXXX");
    assert_non_null(mkdtemp(out));
}

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static size_t count_str(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The section of a debug=2 dump for task id: from its header line to the
 * blank line ending it (malloc'd), or NULL. */
static char *dump_section(const char *dump, uint64_t id)
{
    char hdr[64];
    int hl = snprintf(hdr, sizeof hdr, "goroutine %llu [",
                      (unsigned long long)id);
    const char *p = dump;
    while ((p = strstr(p, hdr)) && !(p == dump || p[-1] == '\n'))
        p += hl;
    if (!p)
        return NULL;
    const char *e = strstr(p, "\n\n");
    return strndup(p, e ? (size_t)(e - p + 1) : strlen(p));
}

/* ======================================================================
 * ts_profile_write: arguments and failing fds
 * ==================================================================== */

static const char *const all_names[] = {"goroutine", "block", "mutex",
                                        "heap", "allocs", "threadcreate",
                                        "goroutineleak"};
#define NNAMES (sizeof all_names / sizeof all_names[0])

static void test_write_rejects_bad_arguments(void **state)
{
    (void)state;
    int fd = memfd_create("x", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(ts_profile_write("nosuch", fd, 0), EINVAL);
    assert_int_equal(ts_profile_write("nosuch", fd, 1), EINVAL);
    assert_int_equal(ts_profile_write("", fd, 0), EINVAL);
    assert_int_equal(ts_profile_write("Goroutine", fd, 0), EINVAL);
    assert_int_equal(ts_profile_write("goroutine ", fd, 0), EINVAL);
    assert_int_equal(ts_profile_write(NULL, fd, 0), EINVAL);
    assert_int_equal(ts_profile_write(NULL, fd, 2), EINVAL);
    for (size_t i = 0; i < NNAMES; i++) {
        assert_int_equal(ts_profile_write(all_names[i], fd, -1), EINVAL);
        assert_int_equal(ts_profile_write(all_names[i], fd, -100), EINVAL);
    }
    assert_int_equal(ts_profile_write_json("nosuch", fd), EINVAL);
    assert_int_equal(ts_profile_write_json(NULL, fd), EINVAL);
    /* nothing was written for any of them */
    assert_int_equal(lseek(fd, 0, SEEK_END), 0);
    close(fd);
    tp_end();
}

/* A task blocked on a channel while a test runs, so the goroutine dump
 * of the (plain) cmocka thread is not empty. */
static void parked_helper(void *arg)
{
    ts_chan_recv(arg, NULL, NULL);
}

static ts_chan_t *helper_ch; /* closed by the teardown after a failure */

static ts_chan_t *helper_start(void)
{
    ts_chan_t *ch = helper_ch = ts_chan_make(0, 0);
    uint64_t id = tt_go(parked_helper, ch);
    assert_true(tt_wait_parked(id, TS_WAIT_CHAN_RECV, TT_SOON, NULL));
    return ch;
}

static void helper_stop(ts_chan_t *ch)
{
    ts_chan_close(ch);
    tt_wait_num_tasks(tt_baseline, TT_SOON);
    ts_chan_release(ch);
    helper_ch = NULL;
}

static int pt_teardown(void **state)
{
    if (helper_ch)
        helper_stop(helper_ch);
    return tt_teardown(state);
}

#undef TP_TEST
#define TP_TEST(f) cmocka_unit_test_setup_teardown(f, tp_setup, pt_teardown)

/* A descriptor number that is not open. */
static int unused_fd(void)
{
    for (int fd = 900; fd < 1000; fd++)
        if (fcntl(fd, F_GETFD) == -1 && errno == EBADF)
            return fd;
    fail_msg("no unused fd number in 900..999");
    return -1;
}

static void test_write_to_bad_fds_returns_errno(void **state)
{
    (void)state;
    ts_chan_t *helper = helper_start();
    int closed = unused_fd();
    int rdonly = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(rdonly >= 0);
    for (size_t i = 0; i < NNAMES; i++) {
        for (int debug = 0; debug <= 2; debug++) {
            int r = ts_profile_write(all_names[i], -1, debug);
            if (r != EBADF)
                fail_msg("%s debug=%d to fd -1: %d, want EBADF", all_names[i],
                         debug, r);
            r = ts_profile_write(all_names[i], closed, debug);
            if (r != EBADF)
                fail_msg("%s debug=%d to a closed fd: %d, want EBADF",
                         all_names[i], debug, r);
            r = ts_profile_write(all_names[i], rdonly, debug);
            if (r == 0)
                fail_msg("%s debug=%d to a read-only fd: 0, want an errno",
                         all_names[i], debug);
        }
        assert_int_equal(ts_profile_write_json(all_names[i], -1), EBADF);
        assert_true(ts_profile_write_json(all_names[i], rdonly) != 0);
    }
    close(rdonly);
    helper_stop(helper);
    tp_end();
}

/* A full disk: /dev/full fails every write with ENOSPC. */
static void test_write_to_full_device_returns_enospc(void **state)
{
    (void)state;
    int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        skip();
    ts_chan_t *helper = helper_start();
    for (size_t i = 0; i < NNAMES; i++) {
        for (int debug = 0; debug <= 2; debug++) {
            if (debug == 2 && strcmp(all_names[i], "goroutineleak") == 0)
                continue; /* nothing leaked: an empty dump writes nothing */
            int r = ts_profile_write(all_names[i], fd, debug);
            if (r != ENOSPC)
                fail_msg("%s debug=%d to /dev/full: %d (%s), want ENOSPC",
                         all_names[i], debug, r, strerror(r));
        }
        assert_int_equal(ts_profile_write_json(all_names[i], fd), ENOSPC);
    }
    close(fd);
    helper_stop(helper);
    tp_end();
}

/* A pipe whose reader is gone: EPIPE, and the process is not killed by
 * SIGPIPE (its default action) for any debug level or JSON. Child: the
 * scenario resets SIGPIPE to SIG_DFL (pc_spawn) as a plain program has. */
static void broken_pipe_task(void *arg)
{
    ts_chan_recv(arg, NULL, NULL);
}

static int scenario_write_to_broken_pipe(void)
{
    const char *names[] = {getenv("TS_NAME")};
    int mode = atoi(getenv("TS_MODE"));
    ts_chan_t *ch = ts_chan_make(0, 0);
    ts_go(broken_pipe_task, ch); /* the dump is not empty */
    for (size_t i = 0; i < 1; i++) {
        for (int debug = mode; debug == mode; debug++) {
            int p[2];
            if (pipe2(p, O_CLOEXEC) != 0)
                return 10;
            close(p[0]);
            fprintf(stderr, "writing %s debug=%d\n", names[i], debug);
            int r = debug == CAP_JSON ? ts_profile_write_json(names[i], p[1])
                                      : ts_profile_write(names[i], p[1], debug);
            close(p[1]);
            if (r != EPIPE) {
                fprintf(stderr, "%s debug=%d: %d (%s), want EPIPE\n", names[i],
                        debug, r, strerror(r));
                return 11;
            }
        }
    }
    printf("SURVIVED\n");
    return 0;
}

static void test_write_to_broken_pipe_gives_epipe_not_sigpipe(void **state)
{
    (void)state;
    static const char *const names[] = {"goroutine", "block", "heap",
                                        "threadcreate"};
    static const int modes[] = {0, 1, 2, CAP_JSON};
    char failures[4096] = "";
    for (size_t i = 0; i < 4; i++) {
        for (size_t m = 0; m < 4; m++) {
            char ename[64], emode[64];
            snprintf(ename, sizeof ename, "TS_NAME=%s", names[i]);
            snprintf(emode, sizeof emode, "TS_MODE=%d", modes[m]);
            const char *const env[] = {ename, emode, NULL};
            struct pchild c;
            assert_int_equal(pc_spawn("write_to_broken_pipe", env, &c), 0);
            bool killed;
            int rc = pc_finish(&c, 30 * TS_SECOND, &killed);
            if (rc != 0 || !strstr(c.obuf, "SURVIVED")) {
                size_t l = strlen(failures);
                snprintf(failures + l, sizeof failures - l,
                         "  %s %s: exit %d%s %s\n", names[i],
                         modes[m] == CAP_JSON ? "json" : emode + 3, rc,
                         rc == -SIGPIPE ? "(killed by SIGPIPE)" : "",
                         killed ? "(timed out)" : "");
            }
        }
    }
    if (failures[0])
        fail_msg("writing to a pipe without reader must give EPIPE:\n%s",
                 failures);
    tp_end();
}

/* The descriptors the writers keep (the symbolizer's ELF/DWARF files) are
 * close-on-exec: a profiled program that forks and execs must not hand
 * them to its children. */
static void *fd_thread(void *arg)
{
    ts_chan_send(arg, NULL);
    return NULL;
}

static void fd_task(void *arg)
{
    ts_chan_recv(arg, NULL, NULL);
}

static int scenario_fd_cloexec(void)
{
    /* only descriptors opened from here on count */
    bool before[1024] = {false};
    for (int fd = 0; fd < 1024; fd++)
        before[fd] = fcntl(fd, F_GETFD) >= 0;
    ts_chan_t *ch = ts_chan_make(0, 0);
    ts_go(fd_task, ch);
    int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
    for (size_t i = 0; i < NNAMES; i++)
        for (int debug = 0; debug <= 2; debug++)
            ts_profile_write(all_names[i], nul, debug);
    pthread_t th;
    pthread_create(&th, NULL, fd_thread, ch);
    pthread_join(th, NULL);
    close(nul);
    int bad = 0;
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *e; (e = readdir(d));) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd <= 2 || fd == dirfd(d) ||
            (fd < 1024 && before[fd]))
            continue;
        int fl = fcntl(fd, F_GETFD);
        if (fl >= 0 && !(fl & FD_CLOEXEC)) {
            char link[PATH_MAX] = "", lp[64];
            snprintf(lp, sizeof lp, "/proc/self/fd/%d", fd);
            ssize_t n = readlink(lp, link, sizeof link - 1);
            link[n > 0 ? n : 0] = '\0';
            printf("fd %d (%s) is not close-on-exec\n", fd, link);
            bad++;
        }
    }
    closedir(d);
    return bad ? 1 : 0;
}

static void test_writer_descriptors_are_close_on_exec(void **state)
{
    (void)state;
    struct tt_child c;
    tt_child("fd_cloexec", NULL, &c);
    if (tt_child_exit(&c) != 0)
        fail_msg("descriptors left open across exec:\n%s%s", c.out, c.err);
    tp_end();
}

/* ======================================================================
 * every profile at debug=0: gzip, protobuf, Go's types, comment, mapping
 * ==================================================================== */

static void test_every_profile_debug0_is_valid_pprof(void **state)
{
    (void)state;
    for (size_t i = 0; i < NNAMES; i++) {
        if (strcmp(all_names[i], "goroutineleak") == 0)
            continue; /* its own test below */
        const char *name = all_names[i];
        struct pb *d = pb_capture(name);
        int64_t period = strcmp(name, "heap") == 0 || strcmp(name, "allocs") == 0
                             ? 524288 /* TASKSCOPE_MEMPROFILERATE unset */
                             : 1;
        check_common(d, name, getenv("TASKSCOPE_MEMPROFILERATE") ? -1 : period,
                     true);
        pb_free(d);
    }
    tp_end();
}

/* goroutineleak (Go >= 1.26) is a count profile named goroutineleak:
 * Go's printCountProfile uses the profile's name for period and sample
 * type, as for goroutine and threadcreate. */
static void test_goroutineleak_profile_types_as_go(void **state)
{
    (void)state;
    struct pb *d = pb_capture("goroutineleak");
    check_common(d, "goroutineleak", 1, true);
    assert_int_equal(d->ns, 0); /* nothing leaked */
    pb_free(d);
    tp_end();
}

/* debug >= 3 is as 2 for goroutine and as 1 for the others; debug 1 is
 * text, never gzip. */
static void test_text_debug_levels(void **state)
{
    (void)state;
    ts_chan_t *helper = helper_start();
    for (size_t i = 0; i < NNAMES; i++) {
        struct buf b1 = cap_ok(all_names[i], 1);
        assert_true(b1.n > 0);
        assert_false((uint8_t)b1.p[0] == 0x1f && (uint8_t)b1.p[1] == 0x8b);
        struct buf b5 = cap_ok(all_names[i], 5);
        /* (the goroutineleak dump lists leaked tasks only: none here) */
        assert_true(b5.n > 0 || strcmp(all_names[i], "goroutineleak") == 0);
        buf_free(&b1);
        buf_free(&b5);
    }
    struct buf g = cap_ok("goroutine", 1);
    assert_true(strncmp(g.p, "goroutine profile: total ", 25) == 0);
    buf_free(&g);
    struct buf gl = cap_ok("goroutineleak", 1);
    if (strncmp(gl.p, "goroutineleak profile: total ", 29) != 0)
        fail_msg("goroutineleak debug=1:\n%.200s", gl.p);
    buf_free(&gl);
    struct buf tc = cap_ok("threadcreate", 1);
    assert_true(strncmp(tc.p, "threadcreate profile: total ", 28) == 0);
    buf_free(&tc);
    struct buf h = cap_ok("heap", 1);
    assert_true(strncmp(h.p, "heap profile: ", 14) == 0);
    buf_free(&h);
    struct buf a = cap_ok("allocs", 1);
    assert_true(strncmp(a.p, "heap profile: ", 14) == 0); /* as Go */
    buf_free(&a);
    struct buf bl = cap_ok("block", 1);
    assert_true(strncmp(bl.p, "--- contention:\ncycles/second=", 30) == 0);
    buf_free(&bl);
    helper_stop(helper);
    tp_end();
}

/* ======================================================================
 * the goroutine profile and dump
 * ==================================================================== */

struct gctx {
    ts_chan_t *ch;     /* receivers and labelled tasks wait here */
    ts_chan_t *sel1, *sel2;
    ts_chan_t *done;
    ts_chan_t *spawned; /* the spawner's ids are written */
    uint64_t self, spawner;
    uint64_t recv[3], labelled[3], sleeper, selector;
    int64_t ntasks; /* ts_num_tasks() right before the captures */
    struct buf d2, d1, json, pb;
    bool cap_ok;
};

/* Source lines the frames must show; atomics, as tasks set them. */
static atomic_int recv_line, spawn_line, labelled_line;
#define SET_LINE(v) atomic_store_explicit(&(v), __LINE__, memory_order_relaxed)
#define LINE_OF(v) atomic_load_explicit(&(v), memory_order_relaxed)

static TP_NOINLINE void blocked_in_recv(struct gctx *g)
{
    SET_LINE(recv_line); ts_chan_recv(g->ch, NULL, NULL);
    TP_NO_TAIL_CALL();
}

static void receiver_task(void *arg)
{
    struct gctx *g = arg;
    blocked_in_recv(g);
    tt_signal(g->done);
}

static TP_NOINLINE void spawn_receivers(struct gctx *g)
{
    for (int i = 0; i < 3; i++) {
        SET_LINE(spawn_line); g->recv[i] = ts_go(receiver_task, g);
    }
    TP_NO_TAIL_CALL();
}

static TP_NOINLINE void blocked_labelled(struct gctx *g)
{
    SET_LINE(labelled_line); ts_chan_recv(g->ch, NULL, NULL);
    TP_NO_TAIL_CALL();
}

static void labelled_task(void *arg)
{
    struct gctx *g = arg;
    blocked_labelled(g);
    tt_signal(g->done);
}

/* Sets worker=a, starts two tasks (they inherit it), removes the label,
 * starts a third (unlabelled). */
static void labelled_spawner(void *arg)
{
    struct gctx *g = arg;
    TT_CHECK_EQ(ts_set_label("worker", "a"), 0);
    g->labelled[0] = ts_go(labelled_task, g);
    g->labelled[1] = ts_go(labelled_task, g);
    TT_CHECK_EQ(ts_set_label("worker", NULL), 0);
    g->labelled[2] = ts_go(labelled_task, g);
    ts_chan_send(g->spawned, NULL);
}

static void sleeper_task(void *arg)
{
    struct gctx *g = arg;
    ts_sleep(1500 * TS_MILLISECOND);
    tt_signal(g->done);
}

static TP_NOINLINE void blocked_in_select(struct gctx *g)
{
    ts_select_case_t c[2] = {TS_RECV_CASE(g->sel1, NULL),
                             TS_RECV_CASE(g->sel2, NULL)};
    ts_select(c, 2, 0);
    TP_NO_TAIL_CALL();
}

static void selector_task(void *arg)
{
    struct gctx *g = arg;
    blocked_in_select(g);
    tt_signal(g->done);
}

static TP_NOINLINE void dump_from_task(struct gctx *g)
{
    g->ntasks = ts_num_tasks();
    g->cap_ok = capture("goroutine", 2, &g->d2) &&
                capture("goroutine", 1, &g->d1) &&
                capture("goroutine", CAP_JSON, &g->json) &&
                capture("goroutine", 0, &g->pb);
    TP_NO_TAIL_CALL();
}

static int goroutine_main(void *arg)
{
    struct gctx *g = arg;
    g->self = ts_self();
    g->ch = ts_chan_make(0, 0);
    g->sel1 = ts_chan_make(0, 0);
    g->sel2 = ts_chan_make(0, 0);
    g->done = ts_chan_make(1, 16);
    g->spawned = ts_chan_make(0, 1);
    /* warm the symbolizer up: the sleeper's window is finite */
    int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
    ts_profile_write("goroutine", nul, 2);
    close(nul);
    spawn_receivers(g);
    g->spawner = tt_go(labelled_spawner, g);
    g->sleeper = tt_go(sleeper_task, g);
    g->selector = tt_go(selector_task, g);
    for (int i = 0; i < 3; i++) {
        TT_CHECK(tt_wait_parked(g->recv[i], TS_WAIT_CHAN_RECV, TT_SOON, NULL));
    }
    ts_chan_recv(g->spawned, NULL, NULL);
    /* main + 3 receivers + 3 labelled + sleeper + selector; spawner gone */
    TT_CHECK_EQ(tt_wait_num_tasks(tt_baseline + 9, TT_SOON), tt_baseline + 9);
    for (int i = 0; i < 3; i++)
        TT_CHECK(tt_wait_parked(g->labelled[i], TS_WAIT_CHAN_RECV, TT_SOON, NULL));
    TT_CHECK(tt_wait_parked(g->sleeper, TS_WAIT_SLEEP, TT_SOON, NULL));
    TT_CHECK(tt_wait_parked(g->selector, TS_WAIT_SELECT, TT_SOON, NULL));
    dump_from_task(g);
    ts_chan_close(g->ch);
    ts_chan_close(g->sel1);
    TT_CHECK_EQ(tt_wait_done(g->done, 8, TT_SOON), 8);
    ts_chan_release(g->ch);
    ts_chan_release(g->sel1);
    ts_chan_release(g->sel2);
    ts_chan_release(g->done);
    ts_chan_release(g->spawned);
    return 0;
}

static struct gctx *goroutine_scene(void)
{
    struct gctx *g = calloc(1, sizeof *g);
    assert_non_null(g);
    assert_int_equal(ts_run(goroutine_main, g), 0);
    tt_wait_num_tasks(tt_baseline, TT_SOON); /* the main task exits */
    if (atomic_load(&tt_failures))
        fail_msg("setting the scene failed: %s", tt_first_msg);
    assert_true(g->cap_ok);
    assert_int_equal(g->d2.rc, 0);
    assert_int_equal(g->d1.rc, 0);
    assert_int_equal(g->json.rc, 0);
    assert_int_equal(g->pb.rc, 0);
    return g;
}

static void gctx_free(struct gctx *g)
{
    buf_free(&g->d2);
    buf_free(&g->d1);
    buf_free(&g->json);
    buf_free(&g->pb);
    free(g);
}

/* sec has "\n<fn>(...)\n\t<path>/test_profile.c:<line> +0x" (line > 0) or
 * just the function line (line == 0). */
static void expect_frame(const char *sec, const char *fn, int line)
{
    char want[256];
    snprintf(want, sizeof want, "%s(...)\n\t", fn);
    const char *p = strstr(sec, want);
    if (!p || (p != sec && p[-1] != '\n'))
        fail_msg("no frame %s(...) in:\n%s", fn, sec);
    if (line <= 0)
        return;
    const char *nl = strchr(p + strlen(want), '\n');
    char where[64];
    snprintf(where, sizeof where, "test_profile.c:%d +0x", line);
    const char *w = strstr(p + strlen(want), where);
    if (!w || (nl && w > nl))
        fail_msg("frame %s: want \"...%s\" on its file line in:\n%s", fn,
                 where, sec);
}

static void test_goroutine_dump_debug2(void **state)
{
    (void)state;
    struct gctx *g = goroutine_scene();
    const char *d = g->d2.p;
    char want[160];
    /* receivers: header, frames with file:line, created by */
    for (int i = 0; i < 3; i++) {
        char *sec = dump_section(d, g->recv[i]);
        if (!sec)
            fail_msg("no section for task %llu in:\n%s",
                     (unsigned long long)g->recv[i], d);
        snprintf(want, sizeof want, "goroutine %llu [chan receive]:\n",
                 (unsigned long long)g->recv[i]);
        if (strncmp(sec, want, strlen(want)) != 0)
            fail_msg("want header %s got:\n%s", want, sec);
        expect_frame(sec, "blocked_in_recv", LINE_OF(recv_line));
        expect_frame(sec, "receiver_task", 0);
        /* blocked_in_recv sits under receiver_task (innermost first) */
        assert_true(strstr(sec, "blocked_in_recv(") < strstr(sec, "receiver_task("));
        snprintf(want, sizeof want,
                 "\ncreated by spawn_receivers in goroutine %llu\n\t",
                 (unsigned long long)g->self);
        const char *cb = strstr(sec, want);
        if (!cb)
            fail_msg("no \"%s\" in:\n%s", want + 1, sec);
        char where[64];
        snprintf(where, sizeof where, "test_profile.c:%d +0x", LINE_OF(spawn_line));
        if (!strstr(cb, where))
            fail_msg("created-by line: want %s in:\n%s", where, cb);
        /* runtime entry frames hidden, as Go hides goexit */
        assert_null(strstr(sec, "ts__task_main"));
        assert_null(strstr(sec, "ts__trampoline"));
        assert_null(strstr(sec, "minutes"));
        free(sec);
    }
    /* labelled tasks: created by their (gone) spawner task */
    for (int i = 0; i < 3; i++) {
        char *sec = dump_section(d, g->labelled[i]);
        assert_non_null(sec);
        expect_frame(sec, "blocked_labelled", LINE_OF(labelled_line));
        snprintf(want, sizeof want, "\ncreated by labelled_spawner in goroutine %llu\n",
                 (unsigned long long)g->spawner);
        if (!strstr(sec, want))
            fail_msg("no \"%s\" in:\n%s", want + 1, sec);
        free(sec);
    }
    /* the spawner has returned: not listed */
    char *gone = dump_section(d, g->spawner);
    assert_null(gone);
    /* sleep and select */
    char *sec = dump_section(d, g->sleeper);
    assert_non_null(sec);
    snprintf(want, sizeof want, "goroutine %llu [sleep]:\n",
             (unsigned long long)g->sleeper);
    assert_true(strncmp(sec, want, strlen(want)) == 0);
    expect_frame(sec, "sleeper_task", 0);
    free(sec);
    sec = dump_section(d, g->selector);
    assert_non_null(sec);
    snprintf(want, sizeof want, "goroutine %llu [select]:\n",
             (unsigned long long)g->selector);
    if (strncmp(sec, want, strlen(want)) != 0)
        fail_msg("want %s got:\n%s", want, sec);
    expect_frame(sec, "blocked_in_select", 0);
    expect_frame(sec, "selector_task", 0);
    free(sec);
    /* the caller: running, with its own frames */
    sec = dump_section(d, g->self);
    assert_non_null(sec);
    snprintf(want, sizeof want, "goroutine %llu [running]:\n",
             (unsigned long long)g->self);
    if (strncmp(sec, want, strlen(want)) != 0)
        fail_msg("want %s got:\n%s", want, sec);
    assert_null(strstr(sec, "stack unavailable"));
    expect_frame(sec, "dump_from_task", 0);
    expect_frame(sec, "goroutine_main", 0);
    free(sec);
    /* exactly the live tasks, each once; no "minutes" for short waits */
    assert_int_equal(count_str(d, "goroutine "), (size_t)g->ntasks +
                     count_str(d, "in goroutine "));
    assert_null(strstr(d, "minutes"));
    gctx_free(g);
    tp_end();
}

/* debug=1: "goroutine profile: total N", one "K @ pcs" record per stack
 * and label set, labels as Go's `# labels: {"k":"v"}`. */
static void test_goroutine_profile_debug1(void **state)
{
    (void)state;
    struct gctx *g = goroutine_scene();
    const char *d = g->d1.p;
    char want[128];
    snprintf(want, sizeof want, "goroutine profile: total %lld\n",
             (long long)g->ntasks);
    if (strncmp(d, want, strlen(want)) != 0)
        fail_msg("want header \"%s\", got:\n%.300s", want, d);
    /* the 3 receivers: one record with K = 3, no labels */
    const char *r3 = strstr(d, "\n3 @ 0x");
    if (!r3)
        fail_msg("no \"3 @\" record:\n%s", d);
    const char *end = strstr(r3 + 1, "\n\n");
    char *rec = strndup(r3 + 1, end ? (size_t)(end - r3) : strlen(r3));
    assert_non_null(strstr(rec, "\tblocked_in_recv+0x"));
    snprintf(want, sizeof want, "test_profile.c:%d\n", LINE_OF(recv_line));
    if (!strstr(rec, want))
        fail_msg("3-record lacks %s:\n%s", want, rec);
    assert_null(strstr(rec, "# labels"));
    free(rec);
    /* the labelled pair: K = 2 with the label line right after the pcs */
    const char *r2 = strstr(d, "\n2 @ 0x");
    if (!r2)
        fail_msg("no \"2 @\" record:\n%s", d);
    end = strstr(r2 + 1, "\n\n");
    rec = strndup(r2 + 1, end ? (size_t)(end - r2) : strlen(r2));
    const char *lab = strchr(rec, '\n');
    assert_non_null(lab);
    static const char want_lab[] = "\n# labels: {\"worker\":\"a\"}\n";
    if (strncmp(lab, want_lab, strlen(want_lab)) != 0)
        fail_msg("labelled record:\n%s", rec);
    assert_non_null(strstr(rec, "\tblocked_labelled+0x"));
    free(rec);
    /* the unlabelled third one alone; count of "# labels" lines: 1 */
    assert_int_equal(count_str(d, "# labels:"), 1);
    /* sum of K equals total */
    long sum = 0;
    for (const char *p = d; (p = strstr(p, " @ 0x")); p += 5) {
        const char *ls = p;
        while (ls > d && ls[-1] != '\n')
            ls--;
        sum += strtol(ls, NULL, 10);
    }
    assert_int_equal(sum, g->ntasks);
    gctx_free(g);
    tp_end();
}

static const char json_check_py[] =
    "import json,sys\n"
    "d=json.load(open(sys.argv[1]))\n"
    "assert d['profile']=='goroutine', d.get('profile')\n"
    "assert d['total']==len(d['tasks'])\n"
    "for t in d['tasks']:\n"
    "  for k in ('id','state','wait_reason','labels','frames'):\n"
    "    assert k in t, (k,t)\n"
    "  assert isinstance(t['labels'],dict) and isinstance(t['frames'],list)\n"
    ;

static void test_goroutine_json_parses(void **state)
{
    (void)state;
    struct gctx *g = goroutine_scene();
    const char *path = tmp_file_with(g->json.p, g->json.n);
    char script[2048];
    /* per-task checks in Python */
    snprintf(script, sizeof script,
             "%s"
             "ts={t['id']:t for t in d['tasks']}\n"
             "assert len(ts)==%lld, len(ts)\n"
             "r=ts[%llu]; assert r['state']=='waiting' and r['wait_reason']=='chan receive', r\n"
             "assert any(f['function']=='blocked_in_recv' and f['file'].endswith('test_profile.c') and f['line']==%d for f in r['frames']), r['frames']\n"
             "assert r['labels']=={}, r\n"
             "l=ts[%llu]; assert l['labels']=={'worker':'a'}, l\n"
             "assert ts[%llu]['wait_reason']=='sleep'\n"
             "assert ts[%llu]['wait_reason']=='select'\n"
             "s=ts[%llu]; assert s['state']=='running', s\n"
             "assert any(f['function']=='dump_from_task' for f in s['frames']), s\n",
             json_check_py, (long long)g->ntasks,
             (unsigned long long)g->recv[0], LINE_OF(recv_line),
             (unsigned long long)g->labelled[0],
             (unsigned long long)g->sleeper, (unsigned long long)g->selector,
             (unsigned long long)g->self);
    int rc = run_python(script, path);
    unlink(path);
    if (rc == 127) {
        gctx_free(g);
        skip();
    }
    if (rc != 0)
        fail_msg("python3 rejected the goroutine JSON (exit %d):\n%.4000s", rc,
                 g->json.p);
    gctx_free(g);
    tp_end();
}

/* debug=0: one sample per stack+labels, value = count, labels as
 * Sample.label{key,str}. */
static void test_goroutine_pprof_samples_and_labels(void **state)
{
    (void)state;
    struct gctx *g = goroutine_scene();
    struct pb *d = pb_from_gzip(g->pb.p, g->pb.n);
    check_common(d, "goroutine", 1, true);
    const struct pb_sample *s = NULL;
    assert_int_equal(pb_find(d, "blocked_in_recv", "worker", NULL, &s), 1);
    assert_int_equal(s->val[0], 3);
    assert_int_equal(s->nlab, 0);
    assert_int_equal(pb_find(d, "blocked_labelled", "worker", "a", &s), 1);
    assert_int_equal(s->val[0], 2);
    assert_int_equal(s->nlab, 1);
    assert_int_equal(pb_find(d, "blocked_labelled", "worker", NULL, &s), 1);
    assert_int_equal(s->val[0], 1);
    /* the receivers' leaf is the runtime's park, blocked_in_recv above */
    assert_true(pb_fn_depth(d, s, "blocked_labelled") > 0);
    int64_t total = 0;
    for (size_t i = 0; i < d->ns; i++)
        total += d->s[i].val[0];
    assert_int_equal(total, g->ntasks);
    pb_free(d);
    gctx_free(g);
    tp_end();
}

/* A task that never ran (TASKSCOPE_PROCS=1, the main task never blocks
 * before the dump): [runnable], its function as the only frame. */
static TP_NOINLINE void never_ran_fn(void *arg)
{
    (void)arg;
}

static int never_ran_main(void *arg)
{
    (void)arg;
    uint64_t id = ts_go(never_ran_fn, NULL);
    printf("ID %llu\n", (unsigned long long)id);
    int r = ts_profile_write("goroutine", 1, 2);
    return r;
}

static int scenario_never_ran(void)
{
    return ts_run(never_ran_main, NULL);
}

static void test_goroutine_dump_task_that_never_ran(void **state)
{
    (void)state;
    const char *const env[] = {"TASKSCOPE_PROCS=1", NULL};
    struct tt_child c;
    tt_child("never_ran", env, &c);
    tt_expect_child_ok("never_ran", &c);
    unsigned long long id = 0;
    assert_int_equal(sscanf(c.out, "ID %llu", &id), 1);
    char *sec = dump_section(c.out, id);
    if (!sec)
        fail_msg("no section for %llu:\n%s", id, c.out);
    char want[64];
    snprintf(want, sizeof want, "goroutine %llu [runnable]:\nnever_ran_fn(...)\n", id);
    if (strncmp(sec, want, strlen(want)) != 0)
        fail_msg("want:\n%s\ngot:\n%s", want, sec);
    assert_non_null(strstr(sec, "created by never_ran_main in goroutine "));
    free(sec);
    tp_end();
}

/* ======================================================================
 * ts_set_label
 * ==================================================================== */

static const struct ts__labels *self_labels(void)
{
    struct ts_task_info info;
    if (!tt_task_info(ts_self(), &info))
        return NULL;
    return info.labels; /* ours: stays valid until we change it */
}

static const char *label_of(const struct ts__labels *l, const char *k)
{
    for (uint32_t i = 0; l && i < l->n; i++)
        if (strcmp(l->kv[i].key, k) == 0)
            return l->kv[i].value;
    return NULL;
}

static void label_child(void *arg)
{
    ts_chan_t *ch = arg;
    const struct ts__labels *l = self_labels();
    const char *v = label_of(l, "k");
    char out = v ? v[0] : '-';
    ts_chan_send(ch, &out);
    /* the child's own changes stay its own */
    TT_CHECK_EQ(ts_set_label("k", "child"), 0);
    TT_CHECK_EQ(ts_set_label("extra", "x"), 0);
}

static int labels_main(void *arg)
{
    (void)arg;
    TT_CHECK_EQ(ts_set_label(NULL, "v"), EINVAL);
    TT_CHECK_EQ(ts_set_label(NULL, NULL), EINVAL);
    TT_CHECK_EQ(ts_set_label("", "v"), EINVAL);
    TT_CHECK_EQ(ts_set_label("pprof::x", "v"), EINVAL);
    TT_CHECK_EQ(ts_set_label("pprof::", "v"), EINVAL);
    TT_CHECK(self_labels() == NULL);
    /* remove from an empty set: fine, still empty */
    TT_CHECK_EQ(ts_set_label("k", NULL), 0);
    TT_CHECK(self_labels() == NULL);
    ts_chan_t *ch = ts_chan_make(1, 1);
    char got = 0;
    /* a child created before any label has none */
    tt_go(label_child, ch);
    ts_chan_recv(ch, &got, NULL);
    TT_CHECK_EQ(got, '-');
    /* set */
    TT_CHECK_EQ(ts_set_label("k", "1"), 0);
    const struct ts__labels *l = self_labels();
    TT_CHECK(l && l->n == 1);
    TT_CHECK(label_of(l, "k") && strcmp(label_of(l, "k"), "1") == 0);
    /* a child created now inherits k=1 */
    tt_go(label_child, ch);
    ts_chan_recv(ch, &got, NULL);
    TT_CHECK_EQ(got, '1');
    /* replace: still one key */
    TT_CHECK_EQ(ts_set_label("k", "2"), 0);
    l = self_labels();
    TT_CHECK(l && l->n == 1 && strcmp(label_of(l, "k"), "2") == 0);
    /* a second key; keys unique and sorted */
    TT_CHECK_EQ(ts_set_label("a", "x"), 0);
    l = self_labels();
    TT_CHECK(l && l->n == 2 && strcmp(l->kv[0].key, "a") == 0 &&
             strcmp(l->kv[1].key, "k") == 0);
    /* empty value is a value */
    TT_CHECK_EQ(ts_set_label("e", ""), 0);
    l = self_labels();
    TT_CHECK(l && l->n == 3 && label_of(l, "e") && label_of(l, "e")[0] == '\0');
    TT_CHECK_EQ(ts_set_label("e", NULL), 0);
    /* children's changes did not touch ours */
    l = self_labels();
    TT_CHECK(l && label_of(l, "extra") == NULL);
    /* remove */
    TT_CHECK_EQ(ts_set_label("k", NULL), 0);
    l = self_labels();
    TT_CHECK(l && l->n == 1 && label_of(l, "k") == NULL);
    TT_CHECK_EQ(ts_set_label("a", NULL), 0);
    TT_CHECK(self_labels() == NULL);
    /* removal after inheritance: a new child has none */
    tt_go(label_child, ch);
    ts_chan_recv(ch, &got, NULL);
    TT_CHECK_EQ(got, '-');
    ts_chan_release(ch);
    return 0;
}

static void test_set_label_semantics(void **state)
{
    (void)state;
    /* not a task */
    assert_int_equal(ts_set_label("k", "v"), EINVAL);
    assert_int_equal(ts_set_label("k", NULL), EINVAL);
    assert_int_equal(ts_run(labels_main, NULL), 0);
    tt_end(0);
    tp_end();
}

/* Go's debug=1 prints labels with %q: quotes and backslashes escaped, so
 * the line stays parseable. */
static int quote_label_main(void *arg)
{
    struct buf *b = arg;
    TT_CHECK_EQ(ts_set_label("q", "a\"b\\c"), 0);
    TT_CHECK(capture("goroutine", 1, &b[0]));
    TT_CHECK(capture("goroutine", CAP_JSON, &b[1]));
    TT_CHECK_EQ(ts_set_label("q", NULL), 0);
    return 0;
}

static void test_label_values_are_quoted_in_text_and_json(void **state)
{
    (void)state;
    struct buf b[2];
    assert_int_equal(ts_run(quote_label_main, b), 0);
    tt_end(0);
    if (!strstr(b[0].p, "# labels: {\"q\":\"a\\\"b\\\\c\"}\n"))
        fail_msg("want # labels: {\"q\":\"a\\\"b\\\\c\"} (Go's %%q), got:\n%s",
                 b[0].p);
    const char *path = tmp_file_with(b[1].p, b[1].n);
    int rc = run_python(
        "import json,sys\n"
        "d=json.load(open(sys.argv[1]))\n"
        "assert any(t['labels'].get('q')=='a\"b\\\\c' for t in d['tasks'])\n",
        path);
    unlink(path);
    buf_free(&b[0]);
    buf_free(&b[1]);
    if (rc != 0 && rc != 127)
        fail_msg("JSON with a quoted label: python3 exit %d", rc);
    tp_end();
}

/* ======================================================================
 * goroutineleak: no false positives (found by review)
 * ==================================================================== */

/* A task holding a channel, asleep, will still send: its receiver is not
 * leaked, even when the profile is asked for from a task (whose worker
 * thread then sleeps in a system call: the dead frames below its stack
 * pointer are excluded, never a neighbouring task's stack). */
struct holder {
    ts_chan_t *ch; /* only this task and the receiver know it */
    int64_t delay;
    ts_chan_t *done;
};

static void holder_task(void *arg)
{
    struct holder *h = arg;
    ts_chan_t *ch = h->ch;
    h->ch = NULL; /* no copy left in the test's memory */
    ts_sleep(h->delay);
    int v = 42;
    ts_chan_send(ch, &v);
    ts_chan_close(h->done);
}

static void held_receiver_task(void *arg)
{
    int v;
    ts_chan_recv(arg, &v, NULL);
}

static int leak_not_reported_main(void *arg)
{
    struct buf *b = arg;
    ts_chan_t *ch = ts_chan_make(sizeof(int), 0);
    struct holder *h = malloc(sizeof *h);
    TT_CHECK(h != NULL);
    h->ch = ch;
    h->delay = 300 * TS_MILLISECOND;
    h->done = ts_chan_make(0, 0);
    ts_go(held_receiver_task, ch);
    ts_go(holder_task, h);
    ch = NULL;
    ts_sleep(50 * TS_MILLISECOND);
    TT_CHECK(capture("goroutineleak", 2, b));
    TT_CHECK_EQ(tt_recv_within(h->done, NULL, NULL, TT_SOON), 0);
    ts_chan_release(h->done);
    free(h);
    return 0;
}

static void test_goroutineleak_spares_a_channel_held_by_a_sleeper(void **state)
{
    (void)state;
    struct buf b;
    assert_int_equal(ts_run(leak_not_reported_main, &b), 0);
    tt_end(0);
    if (b.rc != 0 || strstr(b.p, "(leaked)"))
        fail_msg("rc %d; a receiver whose sender sleeps was reported:\n%s",
                 b.rc, b.p);
    buf_free(&b);
    tp_end();
}

/* A select with a deadline wakes by itself: never leaked, even when its
 * channel is referenced by nobody else. */
static void deadline_select_task(void *arg)
{
    ts_chan_t *ch = ts_chan_make(sizeof(int), 0);
    int v;
    ts_select_case_t c[] = {TS_RECV_CASE(ch, &v), TS_RECV_CASE(ch, &v)};
    int r = ts_select_deadline(c, 2, 0, ts_now() + (int64_t)(intptr_t)arg);
    TT_CHECK_EQ(r, TS_SELECT_TIMEOUT);
    ts_chan_release(ch);
}

static int deadline_select_main(void *arg)
{
    struct buf *b = arg;
    ts_go(deadline_select_task, (void *)(intptr_t)(400 * TS_MILLISECOND));
    ts_sleep(50 * TS_MILLISECOND);
    TT_CHECK(capture("goroutineleak", 2, b));
    ts_sleep(500 * TS_MILLISECOND);
    return 0;
}

static void test_goroutineleak_spares_a_select_with_deadline(void **state)
{
    (void)state;
    struct buf b;
    assert_int_equal(ts_run(deadline_select_main, &b), 0);
    tt_end(0);
    if (b.rc != 0 || strstr(b.p, "(leaked)"))
        fail_msg("rc %d; a select with a deadline was reported:\n%s", b.rc,
                 b.p);
    buf_free(&b);
    tp_end();
}

/* JSON stays valid UTF-8 whatever bytes a label holds. */
static int bad_utf8_label_main(void *arg)
{
    TT_CHECK_EQ(ts_set_label("k", "a\xff\xc3(b"), 0);
    TT_CHECK(capture("goroutine", CAP_JSON, arg));
    TT_CHECK_EQ(ts_set_label("k", NULL), 0);
    return 0;
}

static void test_json_replaces_invalid_utf8(void **state)
{
    (void)state;
    struct buf b;
    assert_int_equal(ts_run(bad_utf8_label_main, &b), 0);
    tt_end(0);
    const char *path = tmp_file_with(b.p, b.n);
    int rc = run_python(
        "import json,sys\n"
        "d=json.loads(open(sys.argv[1],'rb').read().decode('utf-8'))\n"
        "assert any(t['labels'].get('k')=='a\\ufffd\\ufffd(b' for t in d['tasks'])\n",
        path);
    unlink(path);
    buf_free(&b);
    if (rc != 0 && rc != 127)
        fail_msg("JSON with a non-UTF-8 label: python3 exit %d", rc);
    tp_end();
}

/* ======================================================================
 * block profile
 * ==================================================================== */

static void send_later(void *arg)
{
    ts_sleep(20 * TS_MILLISECOND);
    ts_chan_send(arg, NULL);
}

static TP_NOINLINE void block_on_chan(ts_chan_t *ch)
{
    ts_chan_recv(ch, NULL, NULL);
    TP_NO_TAIL_CALL();
}

static TP_NOINLINE void block_on_chan_rate0(ts_chan_t *ch)
{
    ts_chan_recv(ch, NULL, NULL);
    TP_NO_TAIL_CALL();
}

static int64_t block_slept_ns;

static int block_main(void *arg)
{
    bool rate0 = arg != NULL;
    ts_chan_t *ch = ts_chan_make(0, 0);
    tt_go(send_later, ch);
    int64_t t0 = ts_now();
    if (rate0)
        block_on_chan_rate0(ch);
    else
        block_on_chan(ch);
    block_slept_ns = ts_now() - t0;
    ts_chan_release(ch);
    return 0;
}

static void test_block_profile_records_channel_wait(void **state)
{
    (void)state;
    int64_t prev = ts_set_block_profile_rate(1);
    assert_int_equal(ts_run(block_main, NULL), 0);
    tt_end(0);
    struct pb *d = pb_capture("block");
    check_common(d, "block", 1, true);
    const struct pb_sample *s = NULL;
    size_t n = pb_find(d, "block_on_chan", NULL, NULL, &s);
    if (n != 1)
        fail_msg("%zu block samples with block_on_chan, want 1", n);
    const char *leaf = pb_leaf(d, s);
    if (strcmp(leaf, "chan_recv") != 0 && strcmp(leaf, "ts_chan_recv") != 0) {
        struct buf t = cap_ok("block", 1);
        fail_msg("block sample leaf %s, want the channel receive (the "
                 "primitive that parked, contention.c):\n%s", leaf, t.p);
    }
    assert_true(pb_fn_depth(d, s, "ts_chan_recv") <
                pb_fn_depth(d, s, "block_on_chan"));
    assert_true(pb_has_fn(d, s, "block_main"));
    assert_false(pb_has_fn(d, s, "ts__park"));
    assert_false(pb_has_fn(d, s, "ts__record_block"));
    assert_true(s->val[0] >= 1);
    if (s->val[1] < 15 * TS_MILLISECOND)
        fail_msg("delay %lld ns for a wait of %lld ns", (long long)s->val[1],
                 (long long)block_slept_ns);
    pb_free(d);
    /* the text form lists it too */
    struct buf t = cap_ok("block", 1);
    assert_true(strncmp(t.p, "--- contention:\ncycles/second=1000000000\n", 41) == 0);
    assert_non_null(strstr(t.p, "\tblock_on_chan+0x"));
    buf_free(&t);
    ts_set_block_profile_rate(prev);
    tp_end();
}

/* Go's block profile records channel, select and sync waits, not sleeps
 * (time.Sleep parks without blockevent). */
static TP_NOINLINE void sleep_not_blocking(void)
{
    ts_sleep(20 * TS_MILLISECOND);
    TP_NO_TAIL_CALL();
}

static int sleep_main(void *arg)
{
    (void)arg;
    sleep_not_blocking();
    return 0;
}

static void test_block_profile_excludes_sleep(void **state)
{
    (void)state;
    int64_t prev = ts_set_block_profile_rate(1);
    assert_int_equal(ts_run(sleep_main, NULL), 0);
    tt_end(0);
    struct pb *d = pb_capture("block");
    const struct pb_sample *s = NULL;
    if (pb_find(d, "sleep_not_blocking", NULL, NULL, &s) != 0)
        fail_msg("ts_sleep recorded as a block event (%lld ns); Go's block "
                 "profile has no sleeps", (long long)s->val[1]);
    pb_free(d);
    ts_set_block_profile_rate(prev);
    tp_end();
}

static void test_block_profile_rate0_records_nothing(void **state)
{
    (void)state;
    int64_t prev = ts_set_block_profile_rate(0);
    assert_int_equal(ts_run(block_main, (void *)1), 0);
    tt_end(0);
    struct pb *d = pb_capture("block");
    assert_int_equal(pb_find(d, "block_on_chan_rate0", NULL, NULL, NULL), 0);
    pb_free(d);
    ts_set_block_profile_rate(prev);
    tp_end();
}

static void test_block_profile_rate_returns_previous(void **state)
{
    (void)state;
    int64_t orig = ts_set_block_profile_rate(-1);
    assert_true(orig >= 0);
    assert_int_equal(ts_set_block_profile_rate(-1), orig); /* only reads */
    assert_int_equal(ts_set_block_profile_rate(12345), orig);
    assert_int_equal(ts_set_block_profile_rate(-7), 12345);
    assert_int_equal(ts_set_block_profile_rate(0), 12345);
    assert_int_equal(ts_set_block_profile_rate(INT64_MIN), 0);
    assert_int_equal(ts_set_block_profile_rate(1), 0);
    assert_int_equal(ts_set_block_profile_rate(orig), 1);
    assert_int_equal(ts_set_block_profile_rate(-1), orig);
    tp_end();
}

/* ======================================================================
 * mutex profile
 * ==================================================================== */

static void test_mutex_fraction_returns_previous(void **state)
{
    (void)state;
    int orig = ts_set_mutex_profile_fraction(-1);
    assert_true(orig >= 0);
    assert_int_equal(ts_set_mutex_profile_fraction(-1), orig);
    assert_int_equal(ts_set_mutex_profile_fraction(7), orig);
    assert_int_equal(ts_set_mutex_profile_fraction(-3), 7);
    assert_int_equal(ts_set_mutex_profile_fraction(0), 7);
    assert_int_equal(ts_set_mutex_profile_fraction(INT32_MIN), 0);
    assert_int_equal(ts_set_mutex_profile_fraction(orig), 0);
    /* the text header shows the period in force */
    assert_int_equal(ts_set_mutex_profile_fraction(5), orig);
    struct buf t = cap_ok("mutex", 1);
    if (strncmp(t.p, "--- mutex:\ncycles/second=1000000000\nsampling period=5\n",
                54) != 0)
        fail_msg("mutex text header:\n%.200s", t.p);
    buf_free(&t);
    assert_int_equal(ts_set_mutex_profile_fraction(orig), 5);
    tp_end();
}

/* Deterministic contention on a runtime lock (runtime/lock.h, the lock
 * channels use): a thread sleeps on it (state 2) while we hold it, and we
 * release it 20 ms later from holder_unlock, the unlock site Go's mutex
 * profile blames. */
static ts__lock_t prof_lock = TS__LOCK_INIT;

static void *lock_waiter(void *arg)
{
    (void)arg;
    ts__lock(&prof_lock);
    ts__unlock(&prof_lock);
    return NULL;
}

static TP_NOINLINE void holder_unlock(void)
{
    ts__unlock(&prof_lock);
    TP_NO_TAIL_CALL();
}

/* The holder is a plain thread too, so the unlock stack holds no cmocka
 * frame (a new module would make the symbolizer open one more file). */
static atomic_int holder_state;

static void *lock_holder(void *arg)
{
    void (*unlock_fn)(void) = (void (*)(void))arg;
    ts__lock(&prof_lock);
    atomic_store(&holder_state, 1);
    int64_t deadline = ts_now() + TT_SOON;
    while (__atomic_load_n(&prof_lock.state, __ATOMIC_ACQUIRE) != 2 &&
           ts_now() < deadline)
        ts_sleep(TS_MILLISECOND);
    if (__atomic_load_n(&prof_lock.state, __ATOMIC_ACQUIRE) != 2)
        tt_failf(__FILE__, __LINE__, "the waiter never slept on the lock");
    ts_sleep(20 * TS_MILLISECOND);
    unlock_fn();
    return NULL;
}

static void holder_unlock_off(void);

/* Holder and waiter threads; returns after both are done. */
static void contend(void (*unlock_fn)(void))
{
    atomic_store(&holder_state, 0);
    pthread_t h = tt_thread(lock_holder, (void *)unlock_fn);
    while (atomic_load(&holder_state) == 0)
        ts_sleep(TS_MILLISECOND);
    pthread_t w = tt_thread(lock_waiter, NULL);
    tt_join(h);
    tt_join(w);
    tt_end(0);
}

static void test_mutex_profile_blames_unlock_site(void **state)
{
    (void)state;
    int prev = ts_set_mutex_profile_fraction(1);
    contend(holder_unlock);
    struct pb *d = pb_capture("mutex");
    check_common(d, "mutex", 1, true);
    const struct pb_sample *s = NULL;
    size_t n = pb_find(d, "holder_unlock", NULL, NULL, &s);
    if (n != 1)
        fail_msg("%zu mutex samples with holder_unlock, want 1", n);
    /* the unlock site: holder_unlock, under ts__unlock when that inline
     * function has its own frame (-O0) */
    const char *leaf = pb_leaf(d, s);
    if (strcmp(leaf, "holder_unlock") != 0 && strcmp(leaf, "ts__unlock") != 0)
        fail_msg("mutex sample leaf %s, want the unlock site", leaf);
    assert_true(pb_fn_depth(d, s, "holder_unlock") <= 1);
    assert_true(s->val[0] >= 1);
    if (s->val[1] < 15 * TS_MILLISECOND)
        fail_msg("mutex delay %lld ns, the waiter slept >= 20 ms",
                 (long long)s->val[1]);
    pb_free(d);
    struct buf t = cap_ok("mutex", 1);
    assert_non_null(strstr(t.p, "sampling period=1\n"));
    assert_non_null(strstr(t.p, "\tholder_unlock+0x"));
    buf_free(&t);
    ts_set_mutex_profile_fraction(prev);
    tp_end();
}

/* fraction 0: the same contention is not recorded. */
static TP_NOINLINE void holder_unlock_off(void)
{
    ts__unlock(&prof_lock);
    TP_NO_TAIL_CALL();
}

static void test_mutex_fraction0_records_nothing(void **state)
{
    (void)state;
    int prev = ts_set_mutex_profile_fraction(0);
    contend(holder_unlock_off);
    struct pb *d = pb_capture("mutex");
    assert_int_equal(pb_find(d, "holder_unlock_off", NULL, NULL, NULL), 0);
    pb_free(d);
    ts_set_mutex_profile_fraction(prev);
    tp_end();
}

/* ======================================================================
 * threadcreate
 * ==================================================================== */

static void test_threadcreate_counts_runtime_threads(void **state)
{
    (void)state;
    struct pb *d = pb_capture("threadcreate");
    check_common(d, "threadcreate", 1, true);
    int64_t total = 0;
    for (size_t i = 0; i < d->ns; i++)
        total += d->s[i].val[0];
    if (total < ts_procs() + 1)
        fail_msg("threadcreate total %lld < %d Ps + sysmon", (long long)total,
                 ts_procs());
    pb_free(d);
    struct buf t = cap_ok("threadcreate", 1);
    long n = -1, sum = 0, k;
    char c;
    assert_int_equal(sscanf(t.p, "threadcreate profile: total %ld", &n), 1);
    assert_int_equal(n, total);
    /* one "COUNT @ pcs" record per creation site, as Go's printCountProfile */
    for (const char *l = strchr(t.p, '\n'); l; l = strchr(l + 1, '\n'))
        if (l[1] >= '1' && l[1] <= '9' && sscanf(l + 1, "%ld @ 0x%c", &k, &c) == 2)
            sum += k;
    assert_int_equal(sum, n);
    buf_free(&t);
    tp_end();
}

/* ======================================================================
 * heap and allocs (child: TASKSCOPE_MEMPROFILERATE=1)
 * ==================================================================== */

static void *heap_keep[3];
static int heap_line;

static TP_NOINLINE void heap_alloc_site(void)
{
    for (int i = 0; i < 3; i++) {
        heap_line = __LINE__; heap_keep[i] = ts_malloc(4096);
    }
    TP_NO_TAIL_CALL();
}

static int scenario_heap(void)
{
    const char *dir = getenv("TS_TEST_DIR");
    heap_alloc_site();
    ts_free(heap_keep[2]); /* 3 allocated, 2 in use */
    char path[PATH_MAX];
    for (int i = 0; i < 2; i++) {
        const char *name = i ? "allocs" : "heap";
        snprintf(path, sizeof path, "%s/%s.pb.gz", dir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int r = ts_profile_write(name, fd, 0);
        close(fd);
        if (r)
            return 10 + i;
    }
    printf("LINE %d\n", heap_line);
    int r = ts_profile_write("heap", 1, 1);
    ts_free(heap_keep[0]);
    ts_free(heap_keep[1]);
    return r;
}

static void test_heap_and_allocs_profiles_show_allocation_site(void **state)
{
    (void)state;
    char dir[64], env_dir[128];
    tmp_dir(dir, sizeof dir);
    snprintf(env_dir, sizeof env_dir, "TS_TEST_DIR=%s", dir);
    const char *const env[] = {"TASKSCOPE_MEMPROFILERATE=1", env_dir, NULL};
    struct tt_child c;
    tt_child("heap", env, &c);
    tt_expect_child_ok("heap", &c);
    int line = 0;
    assert_int_equal(sscanf(c.out, "LINE %d", &line), 1);
    char path[PATH_MAX];
    for (int i = 0; i < 2; i++) {
        const char *name = i ? "allocs" : "heap";
        snprintf(path, sizeof path, "%s/%s.pb.gz", dir, name);
        struct pb *d = pb_from_file(path);
        check_common(d, name, 1, false); /* mapping: the child is this exe */
        const struct pb_sample *s = NULL;
        size_t n = pb_find(d, "heap_alloc_site", NULL, NULL, &s);
        if (n != 1)
            fail_msg("%s: %zu samples with heap_alloc_site, want 1", name, n);
        assert_string_equal(pb_leaf(d, s), "heap_alloc_site");
        /* rate 1: unscaled; 3 x 4096 allocated, 2 in use */
        assert_int_equal(s->val[0], 3);
        assert_int_equal(s->val[1], 3 * 4096);
        assert_int_equal(s->val[2], 2);
        assert_int_equal(s->val[3], 2 * 4096);
        /* numeric label bytes = object size */
        assert_int_equal(s->nlab, 1);
        assert_string_equal(S(d, s->lab[0].key), "bytes");
        assert_int_equal(s->lab[0].num, 4096);
        /* the line of the ts_malloc call */
        const struct pb_loc *l = pb_loc(d, s->loc[0]);
        assert_int_equal(l->line[l->nline - 1].line, line);
        pb_free(d);
    }
    /* debug=1 text: the bucket "2: 8192 [3: 12288] @" and its frame */
    const char *b = strstr(c.out, "\n2: 8192 [3: 12288] @ 0x");
    if (!b)
        fail_msg("no heap text bucket 2: 8192 [3: 12288]:\n%s", c.out);
    assert_non_null(strstr(b, "\theap_alloc_site+0x"));
    assert_non_null(strstr(c.out, "@ heap/2\n"));
    rm_tree(dir);
    tp_end();
}

/* ======================================================================
 * process level: profiles at exit
 * ==================================================================== */

static void exit_task(void *arg)
{
    tt_signal(arg);
}

static int exit_main(void *arg)
{
    (void)arg;
    ts_chan_t *done = ts_chan_make(0, 1);
    ts_go(exit_task, done);
    ts_chan_recv(done, NULL, NULL);
    ts_chan_release(done);
    void *p = ts_malloc(100);
    ts_free(p);
    return 0;
}

static int scenario_exit_profiles(void)
{
    ts_procs(); /* the runtime starts: the list is parsed now */
    fprintf(stderr, "BODY\n");
    return ts_run(exit_main, NULL);
}

static void test_profiles_written_at_exit(void **state)
{
    (void)state;
    char dir[64], env_dir[128];
    tmp_dir(dir, sizeof dir);
    snprintf(env_dir, sizeof env_dir, "TASKSCOPE_PROFILE_DIR=%s", dir);
    const char *const env[] = {"TASKSCOPE_PROFILE=goroutine,block,heap",
                               env_dir, NULL};
    struct tt_child c;
    tt_child("exit_profiles", env, &c);
    tt_expect_child_ok("exit_profiles", &c);
    assert_null(strstr(c.err, "taskscope:")); /* no complaint */
    const char *names[] = {"goroutine", "block", "heap"};
    for (int i = 0; i < 3; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s.pb.gz", dir, names[i]);
        struct pb *d = pb_from_file(path);
        check_common(d, names[i], -1, false);
        pb_free(d);
    }
    /* exactly those three, no temporary left behind */
    DIR *dd = opendir(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(dd));)
        n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") &&
                                     strcmp(e->d_name, ".."));
    closedir(dd);
    assert_int_equal(n, 3);
    rm_tree(dir);
    tp_end();
}

static void test_profile_env_unknown_name_reported_at_start(void **state)
{
    (void)state;
    char dir[64], env_dir[128];
    tmp_dir(dir, sizeof dir);
    snprintf(env_dir, sizeof env_dir, "TASKSCOPE_PROFILE_DIR=%s", dir);
    const char *const env[] = {"TASKSCOPE_PROFILE=goroutine,bogus", env_dir,
                               NULL};
    struct tt_child c;
    tt_child("exit_profiles", env, &c);
    tt_expect_child_ok("exit_profiles", &c);
    const char *e = strstr(c.err, "bogus");
    if (!e || count_str(c.err, "bogus") != 1)
        fail_msg("want one error naming \"bogus\", stderr:\n%s", c.err);
    const char *body = strstr(c.err, "BODY\n");
    assert_non_null(body);
    assert_true(e < body); /* at start, not at exit */
    /* one line: the error line is the only line before BODY (sanitizer
     * runtimes' own "==pid==" lines aside) */
    int ours = 0;
    for (const char *l = c.err; *l && l < body; l = strchr(l, '\n') + 1) {
        ours += strncmp(l, "==", 2) != 0;
        if (!strchr(l, '\n'))
            break;
    }
    assert_int_equal(ours, 1);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/goroutine.pb.gz", dir);
    struct pb *d = pb_from_file(path); /* the valid name still written */
    pb_free(d);
    snprintf(path, sizeof path, "%s/bogus.pb.gz", dir);
    assert_int_equal(access(path, F_OK), -1);
    rm_tree(dir);
    tp_end();
}

static void test_profile_env_unwritable_dir_names_file(void **state)
{
    (void)state;
    const char *const env[] = {"TASKSCOPE_PROFILE=goroutine",
                               "TASKSCOPE_PROFILE_DIR=/nonexistent/ts-dir",
                               NULL};
    struct tt_child c;
    tt_child("exit_profiles", env, &c);
    tt_expect_child_ok("exit_profiles", &c);
    if (!strstr(c.err, "/nonexistent/ts-dir/goroutine.pb.gz"))
        fail_msg("want the failing path on stderr:\n%s", c.err);
    tp_end();
}

/* ======================================================================
 * SIGQUIT
 * ==================================================================== */

static TP_NOINLINE void sigquit_blocked(ts_chan_t *ch)
{
    ts_chan_recv(ch, NULL, NULL);
    TP_NO_TAIL_CALL();
}

static void sigquit_task(void *arg)
{
    sigquit_blocked(arg);
}

/* Start a task blocked on a channel, say READY, wait for stdin to close
 * (a plain thread in read(2): the deadlock detector stays quiet), then
 * say CONTINUED. */
static int scenario_blocked_then_wait_stdin(void)
{
    ts_chan_t *ch = ts_chan_make(0, 0);
    uint64_t id = ts_go(sigquit_task, ch);
    while (!tt_wait_parked(id, TS_WAIT_CHAN_RECV, TT_SOON, NULL))
        ;
    printf("READY %d %llu\n", (int)getpid(), (unsigned long long)id);
    /* poll with a timeout, not a bare read(2): under TSan a signal that
     * arrives while the thread is inside read() is only delivered when
     * read() returns */
    char b[64];
    for (;;) {
        struct pollfd p = {.fd = 0, .events = POLLIN};
        if (poll(&p, 1, 100) == 1 && read(0, b, sizeof b) <= 0)
            break;
    }
    printf("CONTINUED\n");
    return 0;
}

/* pc_quit: send SIGQUIT and wait for the dump's first line after byte
 * `from` of the child's stderr. Under TSan an asynchronous signal reaches
 * the program's handler only when the receiving thread next passes through
 * one of TSan's interceptors, and now and then not at all (the loss Go's
 * runtime met too, golang/go#18717): there the signal is sent again each
 * second. Without TSan one signal must do. */
static bool pc_quit(struct pchild *c, size_t from)
{
    int64_t deadline = ts_now() + TT_SOON, resend = ts_now() + TS_SECOND;
    kill(c->pid, SIGQUIT);
    while (!strstr(c->ebuf + from, "SIGQUIT: quit")) {
        if (ts_now() >= deadline || !pc_pump(c, 50))
            return strstr(c->ebuf + from, "SIGQUIT: quit") != NULL;
        if (TS__RACE_ENABLED && ts_now() >= resend) {
            kill(c->pid, SIGQUIT);
            resend += TS_SECOND;
        }
    }
    return true;
}

static void test_sigquit_dumps_and_exits_2(void **state)
{
    (void)state;
    struct pchild c;
    assert_int_equal(pc_spawn("blocked_then_wait_stdin", NULL, &c), 0);
    if (!pc_wait_for(&c, false, "READY", TT_SOON))
        fail_msg("child not ready:\n%s\n%s", c.obuf, c.ebuf);
    c.keep_stdin = true; /* the child must exit on its own, with 2 */
    pc_quit(&c, 0);
    bool killed;
    int rc = pc_finish(&c, TT_SOON, &killed);
    if (rc != 2 || !strstr(c.ebuf, "SIGQUIT: quit\n\ngoroutine ") ||
        !strstr(c.ebuf, "[chan receive]:\n") ||
        !strstr(c.ebuf, "\nsigquit_blocked(...)\n") ||
        strstr(c.obuf, "CONTINUED"))
        fail_msg("SIGQUIT: exit %d%s\nstdout:\n%s\nstderr:\n%s", rc,
                 killed ? " (killed)" : "", c.obuf, c.ebuf);
    tp_end();
}

static void test_sigquit_dump_mode_continues(void **state)
{
    (void)state;
    const char *const env[] = {"TASKSCOPE_SIGQUIT=dump", NULL};
    struct pchild c;
    assert_int_equal(pc_spawn("blocked_then_wait_stdin", env, &c), 0);
    if (!pc_wait_for(&c, false, "READY", TT_SOON))
        fail_msg("child not ready:\n%s\n%s", c.obuf, c.ebuf);
    if (!pc_quit(&c, 0) || !pc_wait_for(&c, true, "sigquit_task", TT_SOON))
        fail_msg("no dump after SIGQUIT:\n%s", c.ebuf);
    pc_wait_for(&c, true, "created by", TT_SOON);
    /* a second SIGQUIT dumps again */
    size_t first = c.elen;
    bool second = pc_quit(&c, first);
    pc_wait_for(&c, true, "created by", TT_SOON);
    bool killed;
    int rc = pc_finish(&c, TT_SOON, &killed);
    if (rc != 0 || !strstr(c.obuf, "CONTINUED") || !second ||
        !strstr(c.ebuf, "\nsigquit_blocked(...)\n"))
        fail_msg("SIGQUIT dump mode: exit %d%s\nstdout:\n%s\nstderr:\n%s", rc,
                 killed ? " (killed)" : "", c.obuf, c.ebuf);
    tp_end();
}

/* A program with its own SIGQUIT handler keeps it. */
static volatile sig_atomic_t own_quit;
static void own_handler(int sig)
{
    (void)sig;
    own_quit = 1;
}

static int scenario_own_sigquit(void)
{
    signal(SIGQUIT, own_handler);
    ts_procs();
    raise(SIGQUIT);
    for (int i = 0; i < 200 && !own_quit; i++)
        ts_sleep(5 * TS_MILLISECOND);
    ts_sleep(200 * TS_MILLISECOND); /* a dump would show by now */
    printf(own_quit ? "OWN\n" : "NOT-OWN\n");
    return 0;
}

static void test_sigquit_program_handler_left_alone(void **state)
{
    (void)state;
    struct pchild c;
    assert_int_equal(pc_spawn("own_sigquit", NULL, &c), 0);
    bool killed;
    int rc = pc_finish(&c, TT_SOON, &killed);
    if (rc != 0 || !strstr(c.obuf, "OWN\n") || strstr(c.obuf, "NOT-OWN") ||
        strstr(c.ebuf, "SIGQUIT: quit"))
        fail_msg("own handler: exit %d\nstdout:\n%s\nstderr:\n%s", rc, c.obuf,
                 c.ebuf);
    tp_end();
}

/* ======================================================================
 * the agent socket
 * ==================================================================== */

/* Connect to @taskscope.<pid>, send req, read the whole reply. */
static bool agent_request(pid_t pid, const char *req, struct buf *out)
{
    memset(out, 0, sizeof *out);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int len = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "taskscope.%d",
                       (int)pid);
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
    bool ok = false;
    for (int i = 0; i < 200 && !ok; i++) {
        ok = connect(fd, (struct sockaddr *)&a, alen) == 0;
        if (!ok)
            ts_sleep(10 * TS_MILLISECOND);
    }
    if (!ok) {
        close(fd);
        return false;
    }
    size_t rl = strlen(req);
    if (write(fd, req, rl) != (ssize_t)rl) {
        close(fd);
        return false;
    }
    size_t cap = 4096;
    out->p = malloc(cap);
    for (;;) {
        if (out->n + 1 >= cap)
            out->p = realloc(out->p, cap *= 2);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 20000) <= 0)
            break;
        ssize_t r = read(fd, out->p + out->n, cap - 1 - out->n);
        if (r <= 0)
            break;
        out->n += (size_t)r;
    }
    out->p[out->n] = '\0';
    close(fd);
    return true;
}

static void test_agent_socket_requests(void **state)
{
    (void)state;
    const char *const env[] = {"TASKSCOPE_AGENT=1", NULL};
    struct pchild c;
    assert_int_equal(pc_spawn("blocked_then_wait_stdin", env, &c), 0);
    if (!pc_wait_for(&c, false, "READY", TT_SOON))
        fail_msg("child not ready:\n%s\n%s", c.obuf, c.ebuf);
    int pid = 0;
    unsigned long long id = 0;
    assert_int_equal(sscanf(strstr(c.obuf, "READY"), "READY %d %llu", &pid, &id), 2);
    assert_int_equal(pid, c.pid);
    struct buf r;
    char want[64];
    /* dump */
    assert_true(agent_request(c.pid, "dump\n", &r));
    snprintf(want, sizeof want, "goroutine %llu [chan receive]:\n", id);
    if (!strstr(r.p, want) || !strstr(r.p, "\nsigquit_blocked(...)\n"))
        fail_msg("agent dump:\n%s", r.p);
    buf_free(&r);
    /* dump json */
    assert_true(agent_request(c.pid, "dump json\n", &r));
    const char *path = tmp_file_with(r.p, r.n);
    int prc = run_python(json_check_py, path);
    unlink(path);
    if (prc != 0 && prc != 127)
        fail_msg("agent dump json does not parse (python3 exit %d):\n%s", prc,
                 r.p);
    assert_true(strncmp(r.p, "{\"profile\":\"goroutine\"", 22) == 0);
    buf_free(&r);
    /* profile goroutine 1 */
    assert_true(agent_request(c.pid, "profile goroutine 1\n", &r));
    if (strncmp(r.p, "goroutine profile: total ", 25) != 0 ||
        !strstr(r.p, "\tsigquit_blocked+0x"))
        fail_msg("agent profile goroutine 1:\n%s", r.p);
    buf_free(&r);
    /* profile heap (debug 0): gzip'd pprof */
    assert_true(agent_request(c.pid, "profile heap\n", &r));
    struct pb *d = pb_from_gzip(r.p, r.n);
    check_common(d, "heap", -1, false);
    pb_free(d);
    buf_free(&r);
    /* profile goroutine json */
    assert_true(agent_request(c.pid, "profile goroutine json\n", &r));
    assert_true(strncmp(r.p, "{\"profile\":\"goroutine\"", 22) == 0);
    buf_free(&r);
    /* bogus requests */
    const char *bogus[] = {"bogus\n", "profile nosuch\n", "\n",
                           "dump yaml\n"};
    for (size_t i = 0; i < sizeof bogus / sizeof bogus[0]; i++) {
        assert_true(agent_request(c.pid, bogus[i], &r));
        if (strncmp(r.p, "error: ", 7) != 0)
            fail_msg("agent request %s: reply does not start \"error: \":\n%s",
                     bogus[i], r.p);
        buf_free(&r);
    }
    /* the agent still answers after the errors */
    assert_true(agent_request(c.pid, "dump\n", &r));
    assert_non_null(strstr(r.p, want));
    buf_free(&r);
    bool killed;
    int rc = pc_finish(&c, TT_SOON, &killed);
    if (rc != 0)
        fail_msg("agent child exit %d\n%s\n%s", rc, c.obuf, c.ebuf);
    tp_end();
}

/* Without TASKSCOPE_AGENT there is no socket. */
static void test_agent_off_by_default(void **state)
{
    (void)state;
    struct pchild c;
    assert_int_equal(pc_spawn("blocked_then_wait_stdin", NULL, &c), 0);
    assert_true(pc_wait_for(&c, false, "READY", TT_SOON));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int len = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "taskscope.%d",
                       (int)c.pid);
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, alen), -1);
    assert_int_equal(errno, ECONNREFUSED);
    close(fd);
    assert_int_equal(pc_finish(&c, TT_SOON, NULL), 0);
    tp_end();
}

/* ======================================================================
 * deadlock detection
 * ==================================================================== */

static TP_NOINLINE void deadlocked_recv(ts_chan_t *ch)
{
    ts_chan_recv(ch, NULL, NULL);
    TP_NO_TAIL_CALL();
}

static int deadlock_main(void *arg)
{
    (void)arg;
    ts_chan_t *ch = ts_chan_make(0, 0);
    printf("BLOCKING\n");
    deadlocked_recv(ch);
    printf("UNREACHED\n");
    return 0;
}

static int scenario_deadlock(void)
{
    return ts_run(deadlock_main, NULL);
}

static void test_deadlock_is_fatal(void **state)
{
    (void)state;
    struct tt_child c;
    tt_child("deadlock", NULL, &c);
    if (tt_child_exit(&c) != 2 ||
        strncmp(c.err, "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine ",
                60) != 0 ||
        !strstr(c.err, "[chan receive]:\n") ||
        !strstr(c.err, "\ndeadlocked_recv(...)\n") ||
        count_str(c.err, "fatal error") != 1 || strstr(c.out, "UNREACHED"))
        fail_msg("deadlock: exit %d\nstdout:\n%s\nstderr:\n%s",
                 tt_child_exit(&c), c.out, c.err);
    tp_end();
}

/* A plain thread the runtime does not know sends after 300 ms: no
 * deadlock, exit 0. */
static void *late_sender(void *arg)
{
    struct timespec t = {0, 300 * 1000 * 1000};
    nanosleep(&t, NULL);
    ts_chan_send(arg, NULL);
    return NULL;
}

static int thread_sender_main(void *arg)
{
    ts_chan_t *ch = arg;
    deadlocked_recv(ch);
    printf("RECEIVED\n");
    return 0;
}

static int scenario_thread_sends_later(void)
{
    ts_chan_t *ch = ts_chan_make(0, 0);
    pthread_t th;
    pthread_create(&th, NULL, late_sender, ch);
    int r = ts_run(thread_sender_main, ch);
    pthread_join(th, NULL);
    return r;
}

/* The same, but the runtime is already running (and its sysmon idle)
 * before the thread is created, and the thread sleeps 1.2 s. */
static void *late_sender_long(void *arg)
{
    struct timespec t = {1, 200 * 1000 * 1000};
    nanosleep(&t, NULL);
    ts_chan_send(arg, NULL);
    return NULL;
}

static int scenario_thread_sends_much_later(void)
{
    ts_chan_t *ch = ts_chan_make(0, 0);
    ts_procs();
    ts_sleep(700 * TS_MILLISECOND); /* sysmon backs off */
    pthread_t th;
    pthread_create(&th, NULL, late_sender_long, ch);
    int r = ts_run(thread_sender_main, ch);
    pthread_join(th, NULL);
    return r;
}

static void test_deadlock_no_false_positive_with_plain_thread(void **state)
{
    (void)state;
    const char *sc[] = {"thread_sends_later", "thread_sends_much_later"};
    for (int i = 0; i < 2; i++) {
        struct tt_child c;
        tt_child(sc[i], NULL, &c);
        if (tt_child_exit(&c) != 0 || !strstr(c.out, "RECEIVED") ||
            strstr(c.err, "deadlock"))
            fail_msg("%s: false deadlock? exit %d\nstdout:\n%s\nstderr:\n%s",
                     sc[i], tt_child_exit(&c), c.out, c.err);
    }
    tp_end();
}

/* A pending timer (ts_after_func in 500 ms) wakes the task: no deadlock. */
static void timer_fires(void *arg)
{
    ts_chan_send(arg, NULL);
}

static int timer_main(void *arg)
{
    (void)arg;
    ts_chan_t *ch = ts_chan_make(0, 0);
    ts_timer_t *t = ts_after_func(500 * TS_MILLISECOND, timer_fires, ch);
    deadlocked_recv(ch);
    printf("RECEIVED\n");
    ts_timer_free(t);
    ts_chan_release(ch);
    return 0;
}

static int scenario_timer_wakes(void)
{
    return ts_run(timer_main, NULL);
}

static void test_deadlock_no_false_positive_with_timer(void **state)
{
    (void)state;
    struct tt_child c;
    tt_child("timer_wakes", NULL, &c);
    if (tt_child_exit(&c) != 0 || !strstr(c.out, "RECEIVED"))
        fail_msg("timer: exit %d\nstdout:\n%s\nstderr:\n%s", tt_child_exit(&c),
                 c.out, c.err);
    tp_end();
}

static void test_deadlock_detection_disabled_by_env(void **state)
{
    (void)state;
    const char *const env[] = {"TASKSCOPE_DEADLOCK=0", NULL};
    struct tt_child c;
    int r = tt_run_child("deadlock", env, 3 * TS_SECOND, &c);
    assert_int_equal(r, 0);
    if (!c.timed_out || strstr(c.err, "fatal error") ||
        !strstr(c.out, "BLOCKING"))
        fail_msg("TASKSCOPE_DEADLOCK=0: timed_out %d exit %d\nstdout:\n%s\n"
                 "stderr:\n%s",
                 c.timed_out, tt_child_exit(&c), c.out, c.err);
    tp_end();
}

/* ======================================================================
 * ts_leakcheck and TASKSCOPE_BLOCKED_WARN
 * ==================================================================== */

TP_NOINLINE static void leakcheck_waiter(void *arg)
{
    ts_chan_recv(arg, NULL, NULL);
    TP_NO_TAIL_CALL();
}

/* A task created after the snapshot and still blocked is counted and
 * dumped; once it ends, the same check is clean. */
static int leakcheck_main(void *arg)
{
    (void)arg;
    ts_leakcheck_snapshot();
    ts_chan_t *ch = ts_chan_make(0, 0);
    ts_go(leakcheck_waiter, ch);
    printf("FIRST %d\n", ts_leakcheck(50 * TS_MILLISECOND));
    fflush(stderr);
    fprintf(stderr, "SECOND\n");
    ts_chan_close(ch);
    printf("SECOND %d\n", ts_leakcheck(5 * TS_SECOND));
    ts_chan_release(ch);
    return 0;
}

static int scenario_leakcheck(void)
{
    return ts_run(leakcheck_main, NULL);
}

static void test_leakcheck_counts_and_dumps_new_tasks(void **state)
{
    (void)state;
    struct tt_child c;
    tt_child("leakcheck", NULL, &c);
    tt_expect_child_ok("leakcheck", &c);
    if (!strstr(c.out, "FIRST 1\n") || !strstr(c.out, "SECOND 0\n"))
        fail_msg("want FIRST 1 and SECOND 0, stdout:\n%s", c.out);
    const char *second = strstr(c.err, "SECOND\n");
    const char *head = strstr(c.err, "ts_leakcheck: 1 unexpected task still alive");
    const char *task = strstr(c.err, " [chan receive]:\nts__park(...)");
    const char *fn = strstr(c.err, "\nleakcheck_waiter(...)\n");
    if (!second || !head || !task || !fn || head > second || fn > second)
        fail_msg("want one dump of leakcheck_waiter before SECOND, stderr:\n%s",
                 c.err);
    assert_null(strstr(second, "unexpected")); /* the second check is clean */
    tp_end();
}

/* A task blocked past TASKSCOPE_BLOCKED_WARN is reported once for that
 * wait, with its stack; a bad value is named at start and ignored. */
TP_NOINLINE static void long_waiter(void *arg)
{
    ts_chan_recv(arg, NULL, NULL);
    TP_NO_TAIL_CALL();
}

static int blocked_warn_main(void *arg)
{
    (void)arg;
    ts_chan_t *ch = ts_chan_make(0, 0);
    ts_go(long_waiter, ch);
    ts_sleep(700 * TS_MILLISECOND); /* several checks after the threshold */
    ts_chan_close(ch);
    ts_chan_release(ch);
    return 0;
}

static int scenario_blocked_warn(void)
{
    return ts_run(blocked_warn_main, NULL);
}

static void test_blocked_warn_reports_each_wait_once(void **state)
{
    (void)state;
    const char *const env[] = {"TASKSCOPE_BLOCKED_WARN=100ms", NULL};
    struct tt_child c;
    tt_child("blocked_warn", env, &c);
    tt_expect_child_ok("blocked_warn", &c);
    if (count_str(c.err, "blocked longer than TASKSCOPE_BLOCKED_WARN") < 1 ||
        count_str(c.err, "\nlong_waiter(...)\n") != 1)
        fail_msg("want long_waiter reported exactly once, stderr:\n%s", c.err);
    /* the main task's sleep is a wait too: at most one report */
    assert_true(count_str(c.err, "\nblocked_warn_main(...)\n") <= 1);

    const char *const bad[] = {"TASKSCOPE_BLOCKED_WARN=soon", NULL};
    tt_child("blocked_warn", bad, &c);
    tt_expect_child_ok("blocked_warn", &c);
    if (!strstr(c.err, "ignoring TASKSCOPE_BLOCKED_WARN=soon") ||
        strstr(c.err, "long_waiter"))
        fail_msg("want the bad value named and no report, stderr:\n%s", c.err);
    tp_end();
}

/* ======================================================================
 * main
 * ==================================================================== */

static const struct tt_scenario scenarios[] = {
    {"write_to_broken_pipe", scenario_write_to_broken_pipe},
    {"never_ran", scenario_never_ran},
    {"fd_cloexec", scenario_fd_cloexec},
    {"heap", scenario_heap},
    {"exit_profiles", scenario_exit_profiles},
    {"blocked_then_wait_stdin", scenario_blocked_then_wait_stdin},
    {"own_sigquit", scenario_own_sigquit},
    {"deadlock", scenario_deadlock},
    {"thread_sends_later", scenario_thread_sends_later},
    {"thread_sends_much_later", scenario_thread_sends_much_later},
    {"timer_wakes", scenario_timer_wakes},
    {"leakcheck", scenario_leakcheck},
    {"blocked_warn", scenario_blocked_warn},
};

int main(int argc, char **argv)
{
    int sr = tt_scenario_main(argc, argv, scenarios,
                              sizeof scenarios / sizeof scenarios[0]);
    if (sr >= 0)
        return sr;
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* The profile writers keep one symbolizer (and the descriptors of the
     * files it reads) for the life of the process (write.c): create it
     * before the fixtures count descriptors, once the runtime (whose
     * helper threads hold descriptors too) runs: writing a profile does not
     * start it. */
    ts_procs();
    int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
    for (size_t i = 0; i < NNAMES; i++)
        for (int debug = 0; debug <= 2; debug++)
            ts_profile_write(all_names[i], nul, debug);
    close(nul);
    const struct CMUnitTest tests[] = {
        TP_TEST(test_write_rejects_bad_arguments),
        TP_TEST(test_write_to_bad_fds_returns_errno),
        TP_TEST(test_write_to_full_device_returns_enospc),
        TP_TEST(test_write_to_broken_pipe_gives_epipe_not_sigpipe),
        TP_TEST(test_writer_descriptors_are_close_on_exec),
        TP_TEST(test_every_profile_debug0_is_valid_pprof),
        TP_TEST(test_goroutineleak_profile_types_as_go),
        TP_TEST(test_text_debug_levels),
        TP_TEST(test_goroutine_dump_debug2),
        TP_TEST(test_goroutine_profile_debug1),
        TP_TEST(test_goroutine_json_parses),
        TP_TEST(test_goroutine_pprof_samples_and_labels),
        TP_TEST(test_goroutine_dump_task_that_never_ran),
        TP_TEST(test_set_label_semantics),
        TP_TEST(test_label_values_are_quoted_in_text_and_json),
        TP_TEST(test_goroutineleak_spares_a_channel_held_by_a_sleeper),
        TP_TEST(test_goroutineleak_spares_a_select_with_deadline),
        TP_TEST(test_json_replaces_invalid_utf8),
        TP_TEST(test_leakcheck_counts_and_dumps_new_tasks),
        TP_TEST(test_blocked_warn_reports_each_wait_once),
        TP_TEST(test_block_profile_records_channel_wait),
        TP_TEST(test_block_profile_excludes_sleep),
        TP_TEST(test_block_profile_rate0_records_nothing),
        TP_TEST(test_block_profile_rate_returns_previous),
        TP_TEST(test_mutex_fraction_returns_previous),
        TP_TEST(test_mutex_profile_blames_unlock_site),
        TP_TEST(test_mutex_fraction0_records_nothing),
        TP_TEST(test_threadcreate_counts_runtime_threads),
        TP_TEST(test_heap_and_allocs_profiles_show_allocation_site),
        TP_TEST(test_profiles_written_at_exit),
        TP_TEST(test_profile_env_unknown_name_reported_at_start),
        TP_TEST(test_profile_env_unwritable_dir_names_file),
        TP_TEST(test_sigquit_dumps_and_exits_2),
        TP_TEST(test_sigquit_dump_mode_continues),
        TP_TEST(test_sigquit_program_handler_left_alone),
        TP_TEST(test_agent_socket_requests),
        TP_TEST(test_agent_off_by_default),
        TP_TEST(test_deadlock_is_fatal),
        TP_TEST(test_deadlock_no_false_positive_with_plain_thread),
        TP_TEST(test_deadlock_no_false_positive_with_timer),
        TP_TEST(test_deadlock_detection_disabled_by_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
