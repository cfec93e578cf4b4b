/* taskscope — JSON forms of every report (schema: docs/json.md). */
#ifndef TASKSCOPE_PROFILER_JSON_H
#define TASKSCOPE_PROFILER_JSON_H

#include <stdint.h>
#include <stdio.h>

struct ts__profile;
struct ts__symbolizer;

/* ts__json_str: s as a JSON string literal (quotes included). */
void ts__json_str(FILE *f, const char *s);

/* ts__json_frames: "[{"function":..,"file":..,"line":..,"address":..},..]"
 * for return addresses pcs[0..n), inlined frames first. */
void ts__json_frames(FILE *f, struct ts__symbolizer *sym,
                     const uint64_t *pcs, size_t n);

/* ts__profile_json: a symbolized profile as {"profile": name,
 * "sample_types": [...], "period": .., "samples": [{"values": [..],
 * "labels": {..}, "frames": [..]}], "dropped_events": dropped}. */
void ts__profile_json(FILE *f, const struct ts__profile *p, const char *name,
                      uint64_t dropped);

#endif
