/*
 * top.c — `taskscope top FILE`: the functions of a pprof profile with the
 * largest flat values, as `go tool pprof -top` prints them (google/pprof
 * internal/report printText and ProfileLabels, Go 1.19's copy), or the same
 * rows as JSON (docs/cli.md). The rows come from graph.c; values are
 * formatted by units.c.
 *
 * Invariants: everything goes to stdout only after the profile loaded and
 * the graph was built, so a failed run prints nothing there; the output
 * unit is chosen from the rows shown, as pprof's selectOutputUnit does,
 * and every value of the report uses it.
 * Not done (documented in docs/cli.md): pprof's node-fraction pruning
 * (-nodefraction, 0.5% by default) — top keeps small nodes; compare with
 * `go tool pprof -top -nodefraction=0`.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "graph.h"
#include "pprof_read.h"
#include "units.h"

struct top_opts {
    const char *file;
    const char *sample_index; /* NULL: the default type */
    long rows;                /* 0: all */
    bool json;
    const char *diff_base; /* NULL: no diff */
};

/* pprof's selectOutputUnit over the kept rows. */
static const char *output_unit(const struct graph *g, const char *unit)
{
    if (g->norder_kept == 0)
        return UNITS_MINIMUM;
    int64_t min = 0, max = g->total;
    for (size_t i = 0; i < g->norder_kept; i++) {
        const struct node *n = &g->nodes[g->order[i]];
        int64_t v = n->flat ? abs64(n->flat) : abs64(n->cum);
        if (v > 0 && (min == 0 || v < min))
            min = v;
    }
    if (min == 0)
        min = max;
    const char *umin, *umax, *u;
    units_scale(min, unit, UNITS_MINIMUM, &umin);
    units_scale(max, unit, UNITS_MINIMUM, &umax);
    u = umin;
    if (strcmp(umin, umax) != 0 && min * 100 < max)
        units_scale(100 * min, unit, UNITS_MINIMUM, &u);
    return *u ? u : unit;
}

/* "Time: Jan 2, 2006 at 3:04pm (MST)" in local time, as Go formats it. */
static void print_time(int64_t nanos)
{
    time_t t = (time_t)(nanos / 1000000000);
    struct tm tm;
    char month[16], zone[16];
    if (!localtime_r(&t, &tm) || !strftime(month, sizeof month, "%b", &tm) ||
        !strftime(zone, sizeof zone, "%Z", &tm))
        return;
    printf("Time: %s %d, %d at %d:%02d%s (%s)\n", month, tm.tm_mday, tm.tm_year + 1900,
           tm.tm_hour % 12 ? tm.tm_hour % 12 : 12, tm.tm_min, tm.tm_hour < 12 ? "am" : "pm",
           zone);
}

/* pprof's ProfileLabels: File, Build ID, comments, Type, Time, Duration. */
static void print_profile_labels(const struct pprof *p, const char *type,
                                 const char *unit, const char *out_unit, int64_t total)
{
    const PbProfile *pb = p->pb;
    if (pb->n_mapping) {
        const char *file = pprof_string(p, pb->mapping[0]->filename);
        const char *base = strrchr(file, '/');
        if (*file)
            printf("File: %s\n", base ? base + 1 : file);
        if (*pprof_string(p, pb->mapping[0]->build_id))
            printf("Build ID: %s\n", pprof_string(p, pb->mapping[0]->build_id));
    }
    for (size_t i = 0; i < pb->n_comment; i++)
        if (pprof_string(p, pb->comment[i])[0] != '#')
            printf("%s\n", pprof_string(p, pb->comment[i]));
    printf("Type: %s\n", type);
    if (pb->time_nanos)
        print_time(pb->time_nanos);
    if (pb->duration_nanos) {
        char dur[64], tot[64], pct[32] = "", ratio[40] = "";
        const char *tunit;
        units_label(pb->duration_nanos, "nanoseconds", "auto", dur, sizeof dur);
        units_label(total, unit, out_unit, tot, sizeof tot);
        double ns = units_scale(total, unit, "nanoseconds", &tunit);
        if (strcmp(tunit, "ns") == 0 && (int64_t)ns != 0) {
            units_percent((int64_t)ns, pb->duration_nanos, pct, sizeof pct);
            snprintf(ratio, sizeof ratio, "(%s)", pct);
        }
        printf("Duration: %s, Total samples = %s %s\n", dur, tot, ratio);
    }
}

/* One row: flat flat% sum% cum cum% name [inline mark]; sum is the running
 * total of flat up to and including n. */
static void print_row(const struct node *n, int64_t sum, int64_t total,
                      const char *unit, const char *out_unit)
{
    char flat[64], cum[64], flatp[32], sump[32], cump[32];
    units_label(n->flat, unit, out_unit, flat, sizeof flat);
    units_label(n->cum, unit, out_unit, cum, sizeof cum);
    units_percent(n->flat, total, flatp, sizeof flatp);
    units_percent(sum, total, sump, sizeof sump);
    units_percent(n->cum, total, cump, sizeof cump);
    printf("%10s %s %s %10s %s  %s%s\n", flat, flatp, sump, cum, cump, n->name,
           !n->inline_in ? "" : n->noinline_in ? " (partial-inline)" : " (inline)");
}

static void print_text(const struct pprof *p, const struct graph *g, size_t type)
{
    const PbProfile *pb = p->pb;
    const char *tname = pprof_string(p, pb->sample_type[type]->type);
    const char *unit = pprof_string(p, pb->sample_type[type]->unit);
    const char *ou = output_unit(g, unit);
    size_t rows = g->norder_kept;
    char a[64], b[64], c[32];
    int64_t sum = 0;
    for (size_t i = 0; i < rows; i++)
        sum += g->nodes[g->order[i]].flat;
    print_profile_labels(p, tname, unit, ou, g->total);
    units_label(sum, unit, ou, a, sizeof a);
    units_label(g->total, unit, ou, b, sizeof b);
    units_percent(sum, g->total, c, sizeof c);
    printf("Showing nodes accounting for %s, %s of %s total\n", a, c + strspn(c, " "), b);
    if (g->total && rows > 0 && rows < g->norder)
        printf("Showing top %zu nodes out of %zu\n", rows, g->norder);
    printf("%10s %5s%% %5s%% %10s %5s%%\n", "flat", "flat", "sum", "cum", "cum");
    sum = 0;
    for (size_t i = 0; i < rows; i++) {
        const struct node *n = &g->nodes[g->order[i]];
        sum += n->flat;
        print_row(n, sum, g->total, unit, ou);
    }
}

/* s as a JSON string literal. */
static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void print_json(const struct pprof *p, const struct graph *g, size_t type,
                       const char *file)
{
    const PbProfile *pb = p->pb;
    printf("{\"file\":");
    json_string(file);
    printf(",\"sample_type\":");
    json_string(pprof_string(p, pb->sample_type[type]->type));
    printf(",\"unit\":");
    json_string(pprof_string(p, pb->sample_type[type]->unit));
    printf(",\"total\":%lld,\"rows\":[", (long long)g->total);
    for (size_t i = 0; i < g->norder_kept; i++) {
        const struct node *n = &g->nodes[g->order[i]];
        printf("%s{\"function\":", i ? "," : "");
        json_string(n->name);
        printf(",\"flat\":%lld,\"cum\":%lld}", (long long)n->flat, (long long)n->cum);
    }
    printf("]}\n");
}

/* Loads file into p; false after saying why not. */
static bool top_load(const char *file, struct pprof *p)
{
    char reason[512];
    enum pprof_status st = pprof_load(file, p, reason, sizeof reason);
    if (st == PPROF_EIO)
        cli_error("top", "%s: %s", file, reason);
    else if (st != PPROF_OK)
        cli_error("top", "%s: not a valid pprof profile: %s", file, reason);
    return st == PPROF_OK;
}

/* The graph of type of p, minus the same type of o->diff_base if given;
 * the exit code of a failure, or -1. */
static int top_graph(const struct top_opts *o, const struct pprof *p, long type,
                     struct graph *g)
{
    if (!o->diff_base)
        return graph_build(g, p, (size_t)type, o->rows) ? CLI_EXIT_ERROR : -1;
    struct pprof base;
    if (!top_load(o->diff_base, &base))
        return CLI_EXIT_ERROR;
    const char *name = pprof_string(p, p->pb->sample_type[type]->type);
    long btype = pprof_sample_type(&base, name, "top", o->diff_base);
    int r = btype < 0 ? CLI_EXIT_ERROR
          : graph_build_diff(g, p, (size_t)type, &base, (size_t)btype, o->rows) ? CLI_EXIT_ERROR
          : -1;
    pprof_free(&base);
    return r;
}

/* Loads, aggregates and prints; the exit code. */
static int top_report(const struct top_opts *o)
{
    struct pprof p;
    if (!top_load(o->file, &p))
        return CLI_EXIT_ERROR;
    int rc = CLI_EXIT_ERROR;
    struct graph g = {0};
    long type = pprof_sample_type(&p, o->sample_index, "top", o->file);
    if (type >= 0 && (rc = top_graph(o, &p, type, &g)) < 0) {
        if (o->json)
            print_json(&p, &g, (size_t)type, o->file);
        else
            print_text(&p, &g, (size_t)type);
        rc = CLI_EXIT_CLEAN;
    }
    graph_free(&g, p.pb->n_location);
    pprof_free(&p);
    return cli_finish("top", rc);
}

static int top_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"sample-index", required_argument, NULL, 's'},
        {"diff", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    struct top_opts o = {.rows = 10};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":n:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': o.json = true; break;
        case 's': o.sample_index = optarg; break;
        case 'd': o.diff_base = optarg; break;
        case 'h': cli_print_usage(&cli_top, stdout); return cli_finish("top", 0);
        case 'n':
            if (cli_parse_long(optarg, 0, 1000000000, &o.rows))
                return cli_usage_error(&cli_top, "-n wants a number >= 0, not '%s'", optarg);
            break;
        case ':': return cli_usage_error(&cli_top, "%s needs an argument", argv[optind - 1]);
        default: return cli_unknown_option(&cli_top, argv);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error(&cli_top, optind == argc ? "no profile FILE given"
                                                        : "exactly one FILE, please");
    o.file = argv[optind];
    return top_report(&o);
}

const struct cli_command cli_top = {
    .name = "top",
    .summary = "show the functions with the largest values in a pprof profile",
    .usage =
        "usage: taskscope top FILE [--json] [-n N] [--sample-index=NAME] [--diff=BASE]\n"
        "\n"
        "Prints the functions of the pprof profile FILE (gzip'd or raw protobuf,\n"
        "written by taskscope or by Go) with the largest flat values, like\n"
        "`go tool pprof -top`.\n"
        "\n"
        "  -n N                 show the top N functions (default 10, 0 = all)\n"
        "  --sample-index=NAME  the sample type to show (default: the profile's\n"
        "                       default_sample_type, else its last sample type)\n"
        "  --diff=BASE          show FILE minus the profile BASE, like pprof's\n"
        "                       -diff_base (percentages of BASE's total)\n"
        "  --json               print a JSON object instead (schema: docs/cli.md)\n"
        "  -h, --help           print this help\n"
        "\n"
        "Exit status: 0 shown, 2 usage error or unreadable or invalid FILE.\n",
    .run = top_main,
};

/* The rows with a flat value of their own (callers only add cum). */
int cli_top_brief(FILE *f, const char *path, const char *title, long rows)
{
    struct pprof p;
    char reason[512];
    if (pprof_load(path, &p, reason, sizeof reason) != PPROF_OK) {
        fprintf(f, "%s: cannot read %s: %s\n", title, path, reason);
        return -1;
    }
    struct graph g = {0};
    long type = pprof_sample_type(&p, NULL, "top", path);
    int r = type >= 0 ? graph_build(&g, &p, (size_t)type, rows) : -1;
    if (r == 0) {
        const char *unit = pprof_string(&p, p.pb->sample_type[type]->unit);
        const char *ou = output_unit(&g, unit);
        char v[64], pct[32];
        units_label(g.total, unit, ou, v, sizeof v);
        fprintf(f, "%s (%s): total %s\n", title,
                pprof_string(&p, p.pb->sample_type[type]->type), v);
        for (size_t i = 0; i < g.norder_kept; i++) {
            const struct node *n = &g.nodes[g.order[i]];
            if (n->flat == 0)
                continue;
            units_label(n->flat, unit, ou, v, sizeof v);
            units_percent(n->flat, g.total, pct, sizeof pct);
            fprintf(f, "  %10s %s  %s\n", v, pct, n->name);
        }
    }
    graph_free(&g, p.pb->n_location);
    pprof_free(&p);
    return r == 0 ? 0 : -1;
}
