/* fetch.h — HTTP GET of a profile and HTTP POSTs, with libcurl (fetch.c). */
#ifndef TASKSCOPE_TOOLS_FETCH_H
#define TASKSCOPE_TOOLS_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "pprof_read.h"

/* Whether s is an http:// or https:// URL. */
bool fetch_is_url(const char *s);

/* GETs url into an anonymous temporary file, rewound; NULL with a one-line
 * reason in err (transport error, or a non-2xx status and the first line of
 * the reply). */
FILE *fetch_url(const char *url, long timeout_s, char *err, size_t cap);

/* pprof_load of a path, or of what a GET of a URL returned (reason then
 * names the URL); the profile is checked either way. */
enum pprof_status fetch_profile(const char *src, long timeout_s, struct pprof *out,
                                char *reason, size_t cap);

/* One GET of fetch_many: the body in memory, or why there is none. */
struct fetch_result {
    char *data;       /* malloc'd body (NUL-terminated), NULL on error */
    size_t len;
    char err[300];    /* the reason when data is NULL */
};

/* GETs the n urls at the same time (each may take up to timeout_s, e.g. a
 * `?seconds=N` delta profile) and fills out[0..n). Returns how many
 * succeeded (2xx). */
size_t fetch_many(const char *const *urls, size_t n, long timeout_s,
                  struct fetch_result *out);

/* One file field of a multipart/form-data body. */
struct fetch_part {
    const char *name; /* field name, also sent as its filename */
    const void *data;
    size_t len;
};

/* A POST: a multipart body (nparts > 0) or a plain one (body, len). */
struct fetch_post {
    const char *url;
    const struct fetch_part *parts;
    size_t nparts;
    const void *body;
    size_t len;
    const char *const *headers; /* "Name: value" lines */
    size_t nheaders;
};

/* Sends req; 0 on a 2xx reply, else -1 with a one-line reason in err. */
int fetch_post(const struct fetch_post *req, long timeout_s, char *err, size_t cap);

#endif
