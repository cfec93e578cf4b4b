/*
 * flame.c — `taskscope flame FILE|URL`: a profile as a flame graph, either
 * one self-contained HTML page (the data and flame_js.h's viewer inline:
 * zoom, search, tooltips, nothing fetched at view time) or a static SVG
 * (--svg) with a tooltip per frame.
 *
 * Invariants:
 *   - the graph is top-down (callers above callees, as pprof's web view
 *     draws it); a frame is a function name as graph.c names it (every
 *     inlined line its own frame), and a frame's children are merged by
 *     name, so a frame's value is the sum of the samples through that path;
 *   - only samples with a value > 0 of the chosen type count (a negative
 *     value, as in a diff, has no width);
 *   - nothing is written until the profile loaded and the tree is built;
 *     the output goes to a temporary name renamed at the end, so a failed
 *     run never leaves half a file, and the default name never overwrites
 *     an existing file (-o does: the user asked for that name).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fetch.h"
#include "flame_js.h"
#include "graph.h"
#include "pprof_read.h"

/* A frame of the merged call tree; frame 0 is the root ("all"). */
struct frame {
    size_t parent;  /* frame index; the root's is SIZE_MAX */
    size_t node;    /* graph node (the name); SIZE_MAX for the root */
    int64_t value;  /* sum of the samples through this path */
    size_t child;   /* first child + 1; 0: none */
    size_t sibling; /* next sibling + 1; 0: none */
};

struct tree {
    struct frame *f;
    size_t n, cap;
    size_t *slots;  /* (parent, node) -> frame + 1, open addressing */
    size_t nslots;  /* a power of two > 2 * n */
};

static size_t slot_hash(size_t parent, size_t node)
{
    uint64_t h = (uint64_t)parent * 0x9E3779B97F4A7C15ull ^
                 (uint64_t)node * 0xC2B2AE3D27D4EB4Full;
    return (size_t)(h ^ (h >> 29));
}

static size_t *tree_slot(struct tree *t, size_t parent, size_t node)
{
    size_t mask = t->nslots - 1;
    for (size_t i = slot_hash(parent, node) & mask;; i = (i + 1) & mask) {
        size_t s = t->slots[i];
        if (!s || (t->f[s - 1].parent == parent && t->f[s - 1].node == node))
            return &t->slots[i];
    }
}

static int tree_grow(struct tree *t)
{
    if (t->n + 1 > t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 1024;
        struct frame *f = realloc(t->f, cap * sizeof *f);
        if (!f)
            return -1;
        t->f = f;
        t->cap = cap;
    }
    if (2 * (t->n + 1) < t->nslots)
        return 0;
    size_t nslots = t->nslots ? 2 * t->nslots : 4096;
    size_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return -1;
    free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    for (size_t i = 1; i < t->n; i++)
        *tree_slot(t, t->f[i].parent, t->f[i].node) = i + 1;
    return 0;
}

/* The child of parent named node, made if new; SIZE_MAX on ENOMEM. */
static size_t tree_child(struct tree *t, size_t parent, size_t node)
{
    size_t *s = tree_slot(t, parent, node);
    if (*s)
        return *s - 1;
    if (tree_grow(t) != 0)
        return SIZE_MAX;
    size_t i = t->n++;
    t->f[i] = (struct frame){.parent = parent, .node = node,
                             .sibling = t->f[parent].child};
    t->f[parent].child = i + 1;
    *tree_slot(t, parent, node) = i + 1;
    return i;
}

/* Adds one sample: its frames root first (the last location's last line). */
static int tree_add(struct tree *t, const struct graph *g, const struct pprof *p,
                    const Taskscope__Pprof__Sample *s, int64_t v)
{
    size_t cur = 0;
    t->f[0].value += v;
    for (size_t k = s->n_location_id; k-- > 0;) {
        long li = pprof_location_index(p, s->location_id[k]);
        for (size_t j = li < 0 ? 0 : g->loc_len[li]; j-- > 0;) {
            cur = tree_child(t, cur, g->loc_nodes[li][j]);
            if (cur == SIZE_MAX)
                return -1;
            t->f[cur].value += v;
        }
    }
    return 0;
}

static int tree_build(struct tree *t, const struct graph *g, const struct pprof *p,
                      size_t type)
{
    if (tree_grow(t) != 0)
        return -1;
    t->f[0] = (struct frame){.parent = SIZE_MAX, .node = SIZE_MAX};
    t->n = 1;
    for (size_t i = 0; i < p->pb->n_sample; i++) {
        const Taskscope__Pprof__Sample *s = p->pb->sample[i];
        if (s->value[type] > 0 && tree_add(t, g, p, s, s->value[type]) != 0)
            return -1;
    }
    return 0;
}

static void tree_free(struct tree *t)
{
    free(t->f);
    free(t->slots);
}

/* ---- output ---- */

struct flame_opts {
    const char *src;
    const char *out;          /* NULL: the default name */
    const char *sample_index; /* NULL: the profile's default */
    const char *title;        /* NULL: the source */
    bool svg;
};

/* s as a JSON string, with '<' escaped so "</script>" cannot end the page's
 * data block. */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == '<' || c == '>' || c == '&')
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* The subtree as [name index, value, [children]], children by value desc
 * (the viewer sorts by name; order here does not matter). */
static void json_frame(FILE *f, const struct tree *t, size_t i)
{
    fprintf(f, "[%zd,%lld,[", t->f[i].node == SIZE_MAX ? (ssize_t)-1 : (ssize_t)t->f[i].node,
            (long long)t->f[i].value);
    for (size_t c = t->f[i].child; c; c = t->f[c - 1].sibling) {
        json_frame(f, t, c - 1);
        if (t->f[c - 1].sibling)
            fputc(',', f);
    }
    fputs("]]", f);
}

/* The page's controls; flame.js fills #title, #flame and #status. */
static const char flame_body[] =
    "<header><h1 id=\"title\"></h1>"
    "<input id=\"search\" type=\"search\" placeholder=\"search (text or /regexp/)\">"
    "<button id=\"reset\" type=\"button\">Reset zoom</button></header>\n"
    "<div id=\"status\"></div>\n<div id=\"flame\"></div>";

static void write_html(FILE *f, const struct tree *t, const struct graph *g,
                       const char *title, const char *type, const char *unit)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>", f);
    for (const char *s = title; *s; s++)
        fputs(*s == '<' ? "&lt;" : *s == '&' ? "&amp;" : (char[]){*s, 0}, f);
    fprintf(f, "</title>\n<style>%s</style></head>\n<body>\n%s\n"
               "<script type=\"application/json\" id=\"flame-data\">{\"title\":",
            flame_css, flame_body);
    json_str(f, title);
    fputs(",\"type\":", f);
    json_str(f, type);
    fputs(",\"unit\":", f);
    json_str(f, unit);
    fputs(",\"names\":[", f);
    for (size_t i = 0; i < g->n; i++) {
        json_str(f, g->nodes[i].name);
        if (i + 1 < g->n)
            fputc(',', f);
    }
    fputs("],\"root\":", f);
    json_frame(f, t, 0);
    fprintf(f, "}</script>\n<script>%s</script>\n</body></html>\n", flame_js);
}

/* ---- SVG ---- */

#define SVG_WIDTH 1200.0
#define SVG_ROW 16
#define SVG_CHAR 7.0 /* width of one character of the 12px font, about */

static void xml_text(FILE *f, const char *s, size_t max)
{
    for (size_t n = 0; *s && n < max; s++, n++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static int tree_depth(const struct tree *t, size_t i)
{
    int d = 0;
    for (size_t c = t->f[i].child; c; c = t->f[c - 1].sibling) {
        int cd = tree_depth(t, c - 1);
        if (cd > d)
            d = cd;
    }
    return d + 1;
}

/* The frame i at (x, depth) with width w, then its children left to right. */
static void svg_frame(FILE *f, const struct tree *t, const struct graph *g, size_t i,
                      double x, double w, int depth, int64_t total)
{
    if (w < 0.5)
        return;
    const char *name = t->f[i].node == SIZE_MAX ? "all" : g->nodes[t->f[i].node].name;
    unsigned h = 0;
    for (const char *s = name; *s; s++)
        h = h * 31 + (unsigned char)*s;
    fputs("<g><title>", f);
    xml_text(f, name, SIZE_MAX);
    fprintf(f, " (%lld, %.2f%%)</title><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
               "height=\"%d\" fill=\"hsl(%u,80%%,%u%%)\" rx=\"2\"/>",
            (long long)t->f[i].value, 100.0 * (double)t->f[i].value / (double)total, x,
            depth * SVG_ROW + 24, w, SVG_ROW - 1, 10 + h % 40, 55 + h % 15);
    size_t fit = w > 3 * SVG_CHAR ? (size_t)((w - 6) / SVG_CHAR) : 0;
    if (fit) {
        fprintf(f, "<text x=\"%.1f\" y=\"%d\">", x + 3, depth * SVG_ROW + 24 + 12);
        xml_text(f, name, fit);
        fputs("</text>", f);
    }
    fputs("</g>\n", f);
    for (size_t c = t->f[i].child; c; c = t->f[c - 1].sibling) {
        double cw = w * (double)t->f[c - 1].value / (double)t->f[i].value;
        svg_frame(f, t, g, c - 1, x, cw, depth + 1, total);
        x += cw;
    }
}

static void write_svg(FILE *f, const struct tree *t, const struct graph *g,
                      const char *title, const char *type)
{
    int rows = tree_depth(t, 0);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%d\" "
               "font-family=\"monospace\" font-size=\"12\">\n"
               "<text x=\"4\" y=\"16\" font-size=\"14\">",
            SVG_WIDTH, rows * SVG_ROW + 32);
    xml_text(f, title, SIZE_MAX);
    fputs(" — ", f);
    xml_text(f, type, SIZE_MAX);
    fputs("</text>\n", f);
    if (t->f[0].value > 0)
        svg_frame(f, t, g, 0, 0, SVG_WIDTH, 0, t->f[0].value);
    fputs("</svg>\n", f);
}

/* ---- the command ---- */

/* The default output name: the source's last path component without
 * .pb.gz / .gz / .pb, plus .html or .svg. */
static void default_name(const struct flame_opts *o, char *buf, size_t cap)
{
    const char *s = o->src;
    char base[256];
    size_t n = strcspn(s, "?#");
    while (n > 0 && s[n - 1] == '/')
        n--;
    size_t b = n;
    while (b > 0 && s[b - 1] != '/')
        b--;
    snprintf(base, sizeof base, "%.*s", (int)(n - b), s + b);
    static const char *const exts[] = {".pb.gz", ".gz", ".pb"};
    for (size_t i = 0; i < 3; i++) {
        size_t l = strlen(base), e = strlen(exts[i]);
        if (l > e && strcmp(base + l - e, exts[i]) == 0) {
            base[l - e] = '\0';
            break;
        }
    }
    snprintf(buf, cap, "%s.%s", base[0] ? base : "flame", o->svg ? "svg" : "html");
}

/* Writes the page or SVG to out (a path, or "-": stdout). */
static int write_output(const struct flame_opts *o, const char *out, const struct tree *t,
                        const struct graph *g, const char *type, const char *unit)
{
    const char *title = o->title ? o->title : o->src;
    bool to_stdout = strcmp(out, "-") == 0;
    char tmp[4096 + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", out, (int)getpid());
    FILE *f = to_stdout ? stdout : fopen(tmp, "w");
    if (!f) {
        cli_error("flame", "%s: %s", tmp, strerror(errno));
        return CLI_EXIT_ERROR;
    }
    if (o->svg)
        write_svg(f, t, g, title, type);
    else
        write_html(f, t, g, title, type, unit);
    if (to_stdout)
        return cli_finish("flame", CLI_EXIT_CLEAN);
    if (ferror(f) | (fclose(f) != 0) || rename(tmp, out) != 0) {
        cli_error("flame", "%s: %s", out, strerror(errno));
        unlink(tmp);
        return CLI_EXIT_ERROR;
    }
    fprintf(stderr, "taskscope flame: wrote %s\n", out);
    return CLI_EXIT_CLEAN;
}

static int flame(const struct flame_opts *o)
{
    char out[4096], reason[512];
    if (o->out)
        snprintf(out, sizeof out, "%s", o->out);
    else
        default_name(o, out, sizeof out);
    if (!o->out && access(out, F_OK) == 0) {
        cli_error("flame", "%s exists; name the output with -o", out);
        return CLI_EXIT_ERROR;
    }
    struct pprof p;
    enum pprof_status st = fetch_profile(o->src, 60, &p, reason, sizeof reason);
    if (st != PPROF_OK) {
        if (st == PPROF_EIO && fetch_is_url(o->src))
            cli_error("flame", "%s", reason); /* names the URL */
        else
            cli_error("flame", st == PPROF_EIO ? "%s: %s" : "%s: not a valid pprof profile: %s",
                      o->src, reason);
        return CLI_EXIT_ERROR;
    }
    int rc = CLI_EXIT_ERROR;
    struct graph g = {0};
    struct tree t = {0};
    long type = pprof_sample_type(&p, o->sample_index, "flame", o->src);
    if (type >= 0 && (graph_build(&g, &p, (size_t)type, 0) != 0 ||
                      tree_build(&t, &g, &p, (size_t)type) != 0))
        cli_error("flame", "%s: out of memory", o->src);
    else if (type >= 0)
        rc = write_output(o, out, &t, &g, pprof_string(&p, p.pb->sample_type[type]->type),
                          pprof_string(&p, p.pb->sample_type[type]->unit));
    tree_free(&t);
    graph_free(&g, p.pb->n_location);
    pprof_free(&p);
    return rc;
}

static int flame_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"svg", no_argument, NULL, 's'},
        {"sample-index", required_argument, NULL, 'i'},
        {"title", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct flame_opts o = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o.out = optarg; break;
        case 's': o.svg = true; break;
        case 'i': o.sample_index = optarg; break;
        case 't': o.title = optarg; break;
        case 'h':
            cli_print_usage(&cli_flame, stdout);
            return cli_finish("flame", CLI_EXIT_CLEAN);
        default:
            return cli_unknown_option(&cli_flame, argv);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error(&cli_flame, optind == argc ? "no profile given"
                                                          : "more than one profile given");
    o.src = argv[optind];
    return flame(&o);
}

const struct cli_command cli_flame = {
    .name = "flame",
    .summary = "draw a profile as a flame graph (HTML or SVG)",
    .usage = "usage: taskscope flame [-o OUT] [--svg] [--sample-index TYPE] [--title T] FILE|URL\n"
             "\n"
             "Draws the pprof profile FILE (or fetched from URL, e.g.\n"
             "http://127.0.0.1:6060/debug/pprof/heap) as a flame graph: a\n"
             "self-contained HTML page (click a frame to zoom, search, hover for\n"
             "values; nothing is fetched when it is viewed), or an SVG.\n"
             "\n"
             "  -o, --output OUT      write OUT ('-': stdout); default NAME.html or\n"
             "                        NAME.svg after the profile's name, never\n"
             "                        overwriting an existing file\n"
             "      --svg             a static SVG instead of the HTML page\n"
             "      --sample-index T  the sample type to draw (default: the profile's)\n"
             "      --title T         the page's title (default: FILE or URL)\n",
    .run = flame_main,
};
