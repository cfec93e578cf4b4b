/*
 * units.c — value formatting as `go tool pprof` prints it (google/pprof
 * internal/measurement, the copy vendored in Go 1.19): byte and time units
 * scale automatically (bytes -> B/kB/MB/GB/TB/PB in powers of 1024,
 * nanoseconds -> ns/us/ms/s/hrs), counts and unknown units print as plain
 * numbers.
 *
 * Invariants: the unit tables are ordered by increasing factor and every
 * canonical name is also found by unit_sniff (so a unit chosen by scaling
 * can be passed back in as the target of a later call). Unit names are
 * matched as pprof does: lower-cased, a trailing "s" dropped from names
 * longer than two characters ("nanoseconds" -> "nanosecond").
 * Rejected: pprof's GCU units — nothing taskscope or Go writes uses them.
 */
#include "units.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

struct unit {
    const char *name;       /* printed name */
    const char *aliases[4]; /* lower-case names it is found by */
    double factor;          /* size in the base unit */
};

struct unit_type {
    const struct unit *units; /* by increasing factor */
    size_t n;
    const struct unit *dflt;  /* used when nothing scales */
};

static const struct unit memory_units[] = {
    {"B", {"b", "byte"}, 1},
    {"kB", {"kb", "kbyte", "kilobyte"}, 1024.0},
    {"MB", {"mb", "mbyte", "megabyte"}, 1024.0 * 1024},
    {"GB", {"gb", "gbyte", "gigabyte"}, 1024.0 * 1024 * 1024},
    {"TB", {"tb", "tbyte", "terabyte"}, 1024.0 * 1024 * 1024 * 1024},
    {"PB", {"pb", "pbyte", "petabyte"}, 1024.0 * 1024 * 1024 * 1024 * 1024},
};

static const struct unit time_units[] = {
    {"ns", {"ns", "nanosecond"}, 1},
    {"us", {"μs", "us", "microsecond"}, 1e3},
    {"ms", {"ms", "millisecond"}, 1e6},
    {"s", {"s", "sec", "second"}, 1e9},
    {"hrs", {"hour", "hr"}, 3600e9},
};

static const struct unit_type unit_types[] = {
    {memory_units, sizeof memory_units / sizeof *memory_units, &memory_units[0]},
    {time_units, sizeof time_units / sizeof *time_units, &time_units[3]},
};

/* The unit of type t that NAME denotes, or NULL. */
static const struct unit *unit_sniff(const struct unit_type *t, const char *name)
{
    char low[32];
    size_t n = strlen(name);
    if (n >= sizeof low)
        return NULL;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    if (n > 2 && low[n - 1] == 's')
        n--;
    low[n] = '\0';
    for (size_t i = 0; i < t->n; i++)
        for (size_t a = 0; a < 4 && t->units[i].aliases[a]; a++)
            if (strcmp(low, t->units[i].aliases[a]) == 0)
                return &t->units[i];
    return NULL;
}

/* The largest unit of t in which v (in base units) is at least 1. */
static const struct unit *auto_unit(const struct unit_type *t, double v)
{
    const struct unit *best = NULL;
    for (size_t i = 0; i < t->n; i++)
        if (v / t->units[i].factor >= 1.0)
            best = &t->units[i];
    return best ? best : t->dflt;
}

double units_scale(int64_t value, const char *from, const char *to,
                   const char **unit)
{
    if (value < 0 && value != INT64_MIN)
        return -units_scale(-value, from, to, unit);
    int autoscale = strcmp(to, UNITS_MINIMUM) == 0 || strcmp(to, "auto") == 0;
    for (size_t i = 0; i < sizeof unit_types / sizeof *unit_types; i++) {
        const struct unit_type *t = &unit_types[i];
        const struct unit *f = unit_sniff(t, from);
        if (!f)
            continue;
        double v = (double)value * f->factor;
        const struct unit *u = autoscale ? auto_unit(t, v) : unit_sniff(t, to);
        if (!u)
            u = t->dflt;
        *unit = u->name;
        return v / u->factor;
    }
    int plain = autoscale || strcmp(to, "count") == 0 ||
                strcmp(to, "sample") == 0 || strcmp(to, "unit") == 0;
    *unit = plain ? "" : to;
    return (double)value;
}

void units_label(int64_t value, const char *from, const char *to,
                 char *out, size_t cap)
{
    const char *unit;
    double v = units_scale(value, from, to, &unit);
    char num[64];
    snprintf(num, sizeof num, "%.2f", v);
    size_t n = strlen(num);
    if (n > 3 && strcmp(num + n - 3, ".00") == 0)
        num[n - 3] = '\0';
    if (strcmp(num, "0") == 0 || strcmp(num, "-0") == 0)
        snprintf(out, cap, "0");
    else
        snprintf(out, cap, "%s%s", num, unit);
}

void units_percent(int64_t value, int64_t total, char *out, size_t cap)
{
    double ratio = total ? fabs((double)value / (double)total) * 100 : 0;
    if (ratio >= 99.95 && ratio <= 100.05)
        snprintf(out, cap, "  100%%");
    else if (ratio >= 1.0)
        snprintf(out, cap, "%5.2f%%", ratio);
    else
        snprintf(out, cap, "%5.2g%%", ratio);
}
