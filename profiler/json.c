/* taskscope — JSON writers (see json.h; schema in docs/json.md).
 *
 * Invariants:
 *   - output is one JSON object, valid for any input: every string goes
 *     through ts__json_str (control characters escaped, quotes and
 *     backslashes escaped, valid UTF-8 passed as it is, any other byte
 *     written as U+FFFD);
 *   - field names and meanings are stable: new fields may be added, none
 *     renamed or removed (docs/json.md). */
#include "profiler/json.h"

#include <string.h>

#include "profiler/profile.h"
#include "profiler/symbolize.h"

/* utf8_len: the length of the valid UTF-8 sequence at p (1-4), or 0. */
static size_t utf8_len(const unsigned char *p)
{
    size_t n = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4
             : p[0] >= 0xe0                 ? 3
             : p[0] >= 0xc2 && p[0] <= 0xdf ? 2
                                             : 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((n == 3 && p[0] == 0xe0 && p[1] < 0xa0) ||  /* overlong */
        (n == 3 && p[0] == 0xed && p[1] >= 0xa0) || /* surrogates */
        (n == 4 && p[0] == 0xf0 && p[1] < 0x90) ||  /* overlong */
        (n == 4 && p[0] == 0xf4 && p[1] >= 0x90))   /* > U+10FFFF */
        return 0;
    return n;
}

void ts__json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p;) {
        if (*p == '"' || *p == '\\') {
            fprintf(f, "\\%c", *p++);
        } else if (*p < 0x20) {
            fprintf(f, "\\u%04x", *p++);
        } else if (*p < 0x80) {
            fputc(*p++, f);
        } else {
            size_t n = utf8_len(p);
            if (n)
                fwrite(p, 1, n, f);
            else
                fputs("\\ufffd", f); /* not UTF-8: the replacement char */
            p += n ? n : 1;
        }
    }
    fputc('"', f);
}

static void frame(FILE *f, bool *first, const char *fn, const char *file,
                  int64_t line, uint64_t addr)
{
    fputs(*first ? "{\"function\":" : ",{\"function\":", f);
    *first = false;
    ts__json_str(f, fn);
    fputs(",\"file\":", f);
    ts__json_str(f, file);
    fprintf(f, ",\"line\":%lld,\"address\":\"%#llx\"}", (long long)line,
            (unsigned long long)addr);
}

void ts__json_frames(FILE *f, struct ts__symbolizer *sym,
                     const uint64_t *pcs, size_t n)
{
    bool first = true;
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        const struct ts__frame *fr;
        size_t nf = 0;
        if (!sym || ts__symbolize(sym, pcs[i] - 1, &fr, &nf) != 0 || nf == 0) {
            frame(f, &first, "", "", 0, pcs[i] - 1);
            continue;
        }
        for (size_t k = 0; k < nf; k++)
            frame(f, &first, fr[k].function, fr[k].file, fr[k].line,
                  pcs[i] - 1);
    }
    fputc(']', f);
}

static const char *str(const struct ts__profile *p, int64_t i)
{
    return ts__strtab_get(&p->strings, (size_t)i);
}

static void sample_types(FILE *f, const struct ts__profile *p)
{
    fputs("\"sample_types\":[", f);
    for (size_t i = 0; i < p->sample_types.n; i++) {
        const struct ts__pvaluetype *vt =
            &TS__VEC_AT(&p->sample_types, struct ts__pvaluetype, i);
        fputs(i ? ",{\"type\":" : "{\"type\":", f);
        ts__json_str(f, str(p, vt->type));
        fputs(",\"unit\":", f);
        ts__json_str(f, str(p, vt->unit));
        fputc('}', f);
    }
    fputs("]", f);
}

static void sample_labels(FILE *f, const struct ts__profile *p,
                          const struct ts__psample *s)
{
    fputs(",\"labels\":{", f);
    for (size_t k = 0; k < s->nlabel; k++) {
        const struct ts__plabel *l =
            &TS__VEC_AT(&p->labels, struct ts__plabel, s->label + k);
        if (k)
            fputc(',', f);
        ts__json_str(f, str(p, l->key));
        fputc(':', f);
        if (l->str)
            ts__json_str(f, str(p, l->str));
        else
            fprintf(f, "%lld", (long long)l->num);
    }
    fputc('}', f);
}

static void location_frames(FILE *f, const struct ts__profile *p,
                            uint64_t loc_id, bool *first)
{
    const struct ts__plocation *loc =
        &TS__VEC_AT(&p->locations, struct ts__plocation, loc_id - 1);
    if (loc->nline == 0)
        frame(f, first, "", "", 0, loc->address);
    for (size_t k = 0; k < loc->nline; k++) {
        const struct ts__pline *ln =
            &TS__VEC_AT(&p->lines, struct ts__pline, loc->line + k);
        const struct ts__pfunction *fn = &TS__VEC_AT(
            &p->functions, struct ts__pfunction, ln->function_id - 1);
        frame(f, first, str(p, fn->name), str(p, fn->filename), ln->line,
              loc->address);
    }
}

static void sample(FILE *f, const struct ts__profile *p, size_t i)
{
    const struct ts__psample *s = &TS__VEC_AT(&p->samples, struct ts__psample, i);
    size_t nv = p->sample_types.n;
    fputs(i ? ",{\"values\":[" : "{\"values\":[", f);
    for (size_t k = 0; k < nv; k++)
        fprintf(f, "%s%lld", k ? "," : "",
                (long long)TS__VEC_AT(&p->values, int64_t, i * nv + k));
    fputc(']', f);
    sample_labels(f, p, s);
    fputs(",\"frames\":[", f);
    bool first = true;
    for (size_t k = 0; k < s->nloc; k++)
        location_frames(f, p, TS__VEC_AT(&p->loc_ids, uint64_t, s->loc + k),
                        &first);
    fputs("]}", f);
}

void ts__profile_json(FILE *f, const struct ts__profile *p, const char *name,
                      uint64_t dropped)
{
    fputs("{\"profile\":", f);
    ts__json_str(f, name);
    fprintf(f, ",\"time_nanos\":%lld,", (long long)p->time_nanos);
    sample_types(f, p);
    fputs(",\"period_type\":{\"type\":", f);
    ts__json_str(f, str(p, p->period_type.type));
    fputs(",\"unit\":", f);
    ts__json_str(f, str(p, p->period_type.unit));
    fprintf(f, "},\"period\":%lld,\"dropped_events\":%llu,\"samples\":[",
            (long long)p->period, (unsigned long long)dropped);
    for (size_t i = 0; i < p->samples.n; i++)
        sample(f, p, i);
    fputs("]}\n", f);
}
