/*
 * push.c — `taskscope push`: continuous profiling by push. Every interval
 * it takes the profiles of a process from its live endpoints
 * (TASKSCOPE_HTTP, docs/http.md) and sends them to Grafana Pyroscope's
 * `/ingest` or to Parca's WriteRaw (HTTP mapping `/profiles/writeraw`).
 *
 * Invariants:
 *   - one round per interval: the cumulative profiles (allocs, block,
 *     mutex) are fetched as `?seconds=INTERVAL` deltas and the CPU profile
 *     as `profile?seconds=INTERVAL`, all at the same time, so each round
 *     covers [from, until) once and nothing is counted twice across
 *     rounds; goroutine and heap are point-in-time;
 *   - only a 2xx reply holding a gzipped profile is pushed; a profile that
 *     fails is said once on stderr for the round and the others go on;
 *   - Pyroscope gets a multipart body (`profile`, `sample_type_config`)
 *     naming the sample types and their units, so types Pyroscope does not
 *     know by name are ingested too; Parca gets JSON with the profile in
 *     base64 and `__name__` set to the profile's name in Parca's scrape
 *     terms (allocs -> memory, profile -> process_cpu);
 *   - the exit status: 0 when every push of every round succeeded, 1 when
 *     some failed, 2 on a usage error or a source that answers nothing.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "fetch.h"

#define MAX_PROFILES 8

struct push_opts {
    const char *source;      /* http://HOST:PORT of the process's endpoints */
    const char *pyroscope;   /* base URL, or NULL */
    const char *parca;       /* base URL, or NULL */
    const char *app;
    long interval_s;
    long rounds;             /* 0: until the source goes away */
    const char *names[MAX_PROFILES];
    size_t nnames;
};

/* A profile the endpoints serve, how a round takes it, and its sample
 * types for Pyroscope's sample_type_config. */
struct kind {
    const char *name;
    bool delta;              /* ?seconds=INTERVAL */
    const char *parca_name;
    const char *config;      /* JSON members */
};

/* allocs and heap are one profile with two defaults, as in Go. */
#define MEMORY_TYPES \
    "\"alloc_objects\":{\"units\":\"objects\",\"aggregation\":\"sum\",\"display-name\":\"alloc_objects\",\"sampled\":true}," \
    "\"alloc_space\":{\"units\":\"bytes\",\"aggregation\":\"sum\",\"display-name\":\"alloc_space\",\"sampled\":true}," \
    "\"inuse_objects\":{\"units\":\"objects\",\"aggregation\":\"average\",\"display-name\":\"inuse_objects\",\"sampled\":true}," \
    "\"inuse_space\":{\"units\":\"bytes\",\"aggregation\":\"average\",\"display-name\":\"inuse_space\",\"sampled\":true}"

static const struct kind kinds[] = {
    {"profile", true, "process_cpu",
     "\"cpu\":{\"units\":\"samples\",\"aggregation\":\"sum\",\"display-name\":\"cpu\",\"sampled\":true}"},
    {"allocs", true, "memory", MEMORY_TYPES},
    {"heap", false, "memory_inuse", MEMORY_TYPES},
    {"block", true, "block",
     "\"contentions\":{\"units\":\"lock_samples\",\"aggregation\":\"sum\",\"display-name\":\"block_count\",\"sampled\":true},"
     "\"delay\":{\"units\":\"lock_nanoseconds\",\"aggregation\":\"sum\",\"display-name\":\"block_duration\",\"sampled\":true}"},
    {"mutex", true, "mutex",
     "\"contentions\":{\"units\":\"lock_samples\",\"aggregation\":\"sum\",\"display-name\":\"mutex_count\",\"sampled\":true},"
     "\"delay\":{\"units\":\"lock_nanoseconds\",\"aggregation\":\"sum\",\"display-name\":\"mutex_duration\",\"sampled\":true}"},
    {"goroutine", false, "goroutine",
     "\"goroutine\":{\"units\":\"goroutines\",\"aggregation\":\"average\",\"display-name\":\"goroutines\",\"sampled\":false}"},
};
#define NKINDS (sizeof kinds / sizeof *kinds)

static const struct kind *find_kind(const char *name, size_t len)
{
    for (size_t i = 0; i < NKINDS; i++)
        if (strlen(kinds[i].name) == len && strncmp(kinds[i].name, name, len) == 0)
            return &kinds[i];
    return NULL;
}

/* "15s", "500ms", "2m", "1h" -> whole seconds >= 1; -1 otherwise. */
static long parse_interval(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    double scale = strcmp(end, "ms") == 0 ? 1e-3 : strcmp(end, "s") == 0 ? 1
                 : strcmp(end, "m") == 0 ? 60 : strcmp(end, "h") == 0 ? 3600 : 0;
    if (errno || end == s || scale == 0 || v * scale < 1 || v * scale > 86400)
        return -1;
    return (long)(v * scale);
}

static int parse_profiles(const struct cli_command *cmd, const char *list,
                          struct push_opts *o)
{
    o->nnames = 0;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        const struct kind *k = find_kind(p, n);
        if (!k)
            return cli_usage_error(cmd, "unknown profile \"%.*s\" (known: profile, allocs, "
                                        "heap, block, mutex, goroutine)", (int)n, p);
        if (o->nnames == MAX_PROFILES)
            return cli_usage_error(cmd, "too many profiles");
        o->names[o->nnames++] = k->name;
        p += n + (p[n] == ',');
    }
    return o->nnames ? 0 : cli_usage_error(cmd, "--profiles is empty");
}

/* ---- the two backends ---- */

/* s URL-encoded into buf (RFC 3986 unreserved kept). */
static void url_encode(const char *s, char *buf, size_t cap)
{
    size_t n = 0;
    for (; *s && n + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~", c))
            buf[n++] = (char)c;
        else
            n += (size_t)snprintf(buf + n, cap - n, "%%%02X", c);
    }
    buf[n] = '\0';
}

static int push_pyroscope(const struct push_opts *o, const struct kind *k,
                          const struct fetch_result *r, time_t from, time_t until,
                          char *err, size_t cap)
{
    char name[512], url[2048], config[2048];
    url_encode(o->app, name, sizeof name);
    snprintf(url, sizeof url, "%s/ingest?name=%s&from=%lld&until=%lld&format=pprof",
             o->pyroscope, name, (long long)from, (long long)until);
    snprintf(config, sizeof config, "{%s}", k->config);
    struct fetch_part parts[] = {
        {"profile", r->data, r->len},
        {"sample_type_config", config, strlen(config)},
    };
    struct fetch_post req = {.url = url, .parts = parts, .nparts = 2};
    return fetch_post(&req, 30, err, cap);
}

/* The standard base64 of data[0..n) into a malloc'd string. */
static char *base64(const unsigned char *d, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc(4 * ((n + 2) / 3) + 1), *p = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) |
                     (i + 2 < n ? d[i + 2] : 0);
        *p++ = tab[v >> 18 & 63];
        *p++ = tab[v >> 12 & 63];
        *p++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
        *p++ = i + 2 < n ? tab[v & 63] : '=';
    }
    *p = '\0';
    return out;
}

/* s as the inside of a JSON string into buf. */
static void json_inner(const char *s, char *buf, size_t cap)
{
    size_t n = 0;
    for (; *s && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            n += (size_t)snprintf(buf + n, cap - n, "\\%c", c);
        else if (c < 0x20)
            n += (size_t)snprintf(buf + n, cap - n, "\\u%04x", c);
        else
            buf[n++] = (char)c;
    }
    buf[n] = '\0';
}

static int push_parca(const struct push_opts *o, const struct kind *k,
                      const struct fetch_result *r, char *err, size_t cap)
{
    char *b64 = base64((const unsigned char *)r->data, r->len);
    char app[512], url[2048];
    json_inner(o->app, app, sizeof app);
    size_t len = (b64 ? strlen(b64) : 0) + sizeof app + 256;
    char *body = b64 ? malloc(len) : NULL;
    if (!body) {
        free(b64);
        snprintf(err, cap, "out of memory");
        return -1;
    }
    len = (size_t)snprintf(body, len,
                           "{\"series\":[{\"labels\":{\"labels\":["
                           "{\"name\":\"__name__\",\"value\":\"%s\"},"
                           "{\"name\":\"job\",\"value\":\"%s\"}]},"
                           "\"samples\":[{\"raw_profile\":\"%s\"}]}]}",
                           k->parca_name, app, b64);
    snprintf(url, sizeof url, "%s/profiles/writeraw", o->parca);
    const char *headers[] = {"Content-Type: application/json"};
    struct fetch_post req = {.url = url, .body = body, .len = len,
                             .headers = headers, .nheaders = 1};
    int rc = fetch_post(&req, 30, err, cap);
    free(body);
    free(b64);
    return rc;
}

/* ---- rounds ---- */

/* One round: fetch every profile at once, push those that came. Returns
 * the number fetched; *failed counts the pushes that failed. */
static size_t round_once(const struct push_opts *o, size_t *failed)
{
    char urls[MAX_PROFILES][1024];
    const char *up[MAX_PROFILES];
    struct fetch_result res[MAX_PROFILES];
    for (size_t i = 0; i < o->nnames; i++) {
        const struct kind *k = find_kind(o->names[i], strlen(o->names[i]));
        if (k->delta)
            snprintf(urls[i], sizeof urls[i], "%s/debug/pprof/%s?seconds=%ld", o->source,
                     k->name, o->interval_s);
        else
            snprintf(urls[i], sizeof urls[i], "%s/debug/pprof/%s", o->source, k->name);
        up[i] = urls[i];
    }
    time_t from = time(NULL);
    size_t got = fetch_many(up, o->nnames, o->interval_s + 30, res);
    time_t until = time(NULL);
    if (until <= from)
        until = from + 1;
    for (size_t i = 0; i < o->nnames; i++) {
        const struct kind *k = find_kind(o->names[i], strlen(o->names[i]));
        char err[600];
        if (!res[i].data) {
            cli_error("push", "%s", res[i].err);
            continue;
        }
        if (res[i].len < 2 || (unsigned char)res[i].data[0] != 0x1f ||
            (unsigned char)res[i].data[1] != 0x8b) {
            cli_error("push", "%s: not a gzipped profile", urls[i]);
            got--;
        } else if ((o->pyroscope && push_pyroscope(o, k, &res[i], from, until, err, sizeof err)) ||
                   (o->parca && push_parca(o, k, &res[i], err, sizeof err))) {
            cli_error("push", "%s: %s", k->name, err);
            ++*failed;
        }
        free(res[i].data);
    }
    return got;
}

static int push_run(const struct push_opts *o)
{
    size_t failed = 0, pushed_rounds = 0;
    for (long r = 0; o->rounds == 0 || r < o->rounds; r++) {
        size_t before = failed;
        if (round_once(o, &failed) == 0) {
            cli_error("push", "%s answered nothing this round; stopping", o->source);
            break;
        }
        pushed_rounds++;
        fprintf(stderr, "taskscope push: round %ld: %zu profile(s), %zu push(es) failed\n",
                r + 1, o->nnames, failed - before);
    }
    if (pushed_rounds == 0)
        return CLI_EXIT_ERROR;
    return failed ? CLI_EXIT_FOUND : CLI_EXIT_CLEAN;
}

/* The base URL without its trailing slashes, and "/debug/pprof" too if
 * the user gave the endpoints' own path. */
static const char *trim_base(char *url)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        url[--n] = '\0';
    static const char suffix[] = "/debug/pprof";
    if (n >= sizeof suffix - 1 && strcmp(url + n - (sizeof suffix - 1), suffix) == 0)
        url[n - (sizeof suffix - 1)] = '\0';
    return url;
}

static int push_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"pyroscope", required_argument, NULL, 'y'},
        {"parca", required_argument, NULL, 'a'},
        {"app", required_argument, NULL, 'n'},
        {"interval", required_argument, NULL, 'i'},
        {"rounds", required_argument, NULL, 'r'},
        {"profiles", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct push_opts o = {.interval_s = 15};
    int c, rc;
    optind = 1;
    if ((rc = parse_profiles(&cli_push, "profile,allocs,heap,block,mutex,goroutine", &o)))
        return rc;
    while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (c) {
        case 'y': o.pyroscope = trim_base(optarg); break;
        case 'a': o.parca = trim_base(optarg); break;
        case 'n': o.app = optarg; break;
        case 'i':
            if ((o.interval_s = parse_interval(optarg)) < 0)
                return cli_usage_error(&cli_push, "bad --interval \"%s\" (e.g. 15s, 1m; "
                                                  "at least 1s)", optarg);
            break;
        case 'r':
            if (cli_parse_long(optarg, 1, 1000000, &o.rounds) != 0)
                return cli_usage_error(&cli_push, "bad --rounds \"%s\"", optarg);
            break;
        case 'p':
            if ((rc = parse_profiles(&cli_push, optarg, &o)))
                return rc;
            break;
        case 'h':
            cli_print_usage(&cli_push, stdout);
            return cli_finish("push", CLI_EXIT_CLEAN);
        default:
            return cli_unknown_option(&cli_push, argv);
        }
    }
    if (!o.pyroscope == !o.parca)
        return cli_usage_error(&cli_push, "give one of --pyroscope URL and --parca URL");
    if (!o.app || !*o.app)
        return cli_usage_error(&cli_push, "--app NAME is required");
    if (optind != argc - 1 || !fetch_is_url(argv[optind]))
        return cli_usage_error(&cli_push, "give the process's endpoints as one "
                                          "http://HOST:PORT URL");
    o.source = trim_base(argv[optind]);
    return push_run(&o);
}

const struct cli_command cli_push = {
    .name = "push",
    .summary = "push a live process's profiles to Pyroscope or Parca",
    .usage = "usage: taskscope push (--pyroscope URL | --parca URL) --app NAME\n"
             "                      [--interval 15s] [--rounds N] [--profiles LIST] SOURCE\n"
             "\n"
             "Every interval, takes the profiles of the process serving SOURCE\n"
             "(http://HOST:PORT, started with TASKSCOPE_HTTP=HOST:PORT) and sends\n"
             "them to Grafana Pyroscope (POST URL/ingest) or Parca (POST\n"
             "URL/profiles/writeraw). allocs, block, mutex and the CPU profile are\n"
             "deltas over the interval; heap and goroutine are taken as they are.\n"
             "\n"
             "      --pyroscope URL  Pyroscope's base URL, e.g. http://localhost:4040\n"
             "      --parca URL      Parca's base URL, e.g. http://localhost:7070\n"
             "      --app NAME       the application name (Pyroscope's name, Parca's job)\n"
             "      --interval D     seconds per round: 15s (default), 1m, ... (>= 1s)\n"
             "      --rounds N       stop after N rounds (default: until SOURCE stops\n"
             "                       answering)\n"
             "      --profiles LIST  comma-separated, of: profile (CPU), allocs, heap,\n"
             "                       block, mutex, goroutine (default: all)\n"
             "\n"
             "Exit status: 0 every push succeeded, 1 some failed, 2 usage error or\n"
             "SOURCE never answered.\n",
    .run = push_main,
};
