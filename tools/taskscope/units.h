/* units.h — pprof's value formatting (units.c). */
#ifndef TASKSCOPE_TOOLS_UNITS_H
#define TASKSCOPE_TOOLS_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* Output-unit choices besides a concrete unit name. */
#define UNITS_MINIMUM "minimum"

/* Scales VALUE from unit FROM to unit TO ("minimum"/"auto" = pick the
 * largest unit in which |value| >= 1). Returns the scaled value and sets
 * *unit to the unit's printed name ("" when uninteresting, e.g. counts).
 * *unit points to static storage or to TO. */
double units_scale(int64_t value, const char *from, const char *to,
                   const char **unit);

/* pprof's ScaledLabel: "%.2f" without a ".00" tail, then the unit;
 * "0" for zero. Writes into out[0..cap). */
void units_label(int64_t value, const char *from, const char *to,
                 char *out, size_t cap);

/* pprof's Percentage of value in total: "  100%", "%5.2f%%" or "%5.2g%%". */
void units_percent(int64_t value, int64_t total, char *out, size_t cap);

#endif
