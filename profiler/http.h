/* taskscope — the live HTTP endpoints, Go's /debug/pprof (profiler/http.c,
 * docs/http.md). */
#ifndef TASKSCOPE_PROFILER_HTTP_H
#define TASKSCOPE_PROFILER_HTTP_H

/* ts__http_start: when TASKSCOPE_HTTP names an address, serve /debug/pprof
 * there from a helper thread; a bad or refused address is reported on
 * stderr once and the program goes on without the endpoints. */
void ts__http_start(void);

#endif
