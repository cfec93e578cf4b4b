/*
 * fetch.c — a profile named by path or by URL (`taskscope flame
 * http://127.0.0.1:6060/debug/pprof/heap`), and HTTP POSTs for `push`,
 * both with libcurl.
 *
 * Invariants: a URL's body lands in a temporary file that is unlinked as
 * soon as it is open, so nothing is left behind whatever happens next; a
 * reply other than 2xx is an error that quotes the status and the first
 * line of the body (Go's pprof handlers explain themselves there); every
 * request has a timeout.
 */
#include "fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

bool fetch_is_url(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

static void curl_init_once(void)
{
    static bool done;
    if (!done) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        done = true;
    }
}

/* The first line of the body in f (at most cap - 1 bytes) into buf. */
static void first_line(FILE *f, char *buf, size_t cap)
{
    buf[0] = '\0';
    rewind(f);
    if (fgets(buf, (int)cap, f))
        buf[strcspn(buf, "\r\n")] = '\0';
}

/* Runs the prepared transfer h writing the body to f; 0, or -1 with a
 * reason in err. */
static int perform(CURL *h, const char *url, FILE *f, long timeout_s,
                   char *err, size_t cap)
{
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "taskscope");
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        snprintf(err, cap, "%s: %s", url, cerr[0] ? cerr : curl_easy_strerror(rc));
        return -1;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        char line[200];
        fflush(f);
        first_line(f, line, sizeof line);
        snprintf(err, cap, "%s: HTTP %ld%s%s", url, status, line[0] ? ": " : "", line);
        return -1;
    }
    return 0;
}

FILE *fetch_url(const char *url, long timeout_s, char *err, size_t cap)
{
    curl_init_once();
    FILE *f = tmpfile();
    CURL *h = curl_easy_init();
    if (!f || !h) {
        snprintf(err, cap, "%s: %s", url, f ? "cannot start libcurl" : strerror(errno));
        if (f)
            fclose(f);
        if (h)
            curl_easy_cleanup(h);
        return NULL;
    }
    int r = perform(h, url, f, timeout_s, err, cap);
    curl_easy_cleanup(h);
    if (r != 0 || fflush(f) != 0) {
        if (r == 0)
            snprintf(err, cap, "%s: %s", url, strerror(errno));
        fclose(f);
        return NULL;
    }
    rewind(f);
    return f;
}

enum pprof_status fetch_profile(const char *src, long timeout_s, struct pprof *out,
                                char *reason, size_t cap)
{
    if (!fetch_is_url(src))
        return pprof_load(src, out, reason, cap);
    FILE *f = fetch_url(src, timeout_s, reason, cap);
    if (!f)
        return PPROF_EIO;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fileno(f));
    enum pprof_status st = pprof_load(path, out, reason, cap);
    fclose(f);
    return st;
}

/* libcurl's write callback into a fetch_result. */
static size_t collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct fetch_result *r = arg;
    size_t n = size * nmemb;
    char *d = realloc(r->data, r->len + n + 1);
    if (!d)
        return 0; /* libcurl fails the transfer */
    memcpy(d + r->len, ptr, n);
    r->len += n;
    d[r->len] = '\0';
    r->data = d;
    return n;
}

/* After a transfer of url ended with rc: keep the body or say why not. */
static bool finish_result(CURL *h, CURLcode rc, const char *url, struct fetch_result *r)
{
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OK && status >= 200 && status <= 299)
        return true;
    if (rc != CURLE_OK)
        snprintf(r->err, sizeof r->err, "%s: %s", url, curl_easy_strerror(rc));
    else
        snprintf(r->err, sizeof r->err, "%s: HTTP %ld: %.*s", url, status,
                 r->data ? (int)strcspn(r->data, "\r\n") : 0, r->data ? r->data : "");
    free(r->data);
    r->data = NULL;
    r->len = 0;
    return false;
}

size_t fetch_many(const char *const *urls, size_t n, long timeout_s,
                  struct fetch_result *out)
{
    curl_init_once();
    CURLM *m = curl_multi_init();
    CURL **hs = calloc(n ? n : 1, sizeof *hs);
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        out[i] = (struct fetch_result){0};
        if (!m || !hs || !(hs[i] = curl_easy_init())) {
            snprintf(out[i].err, sizeof out[i].err, "%s: cannot start libcurl", urls[i]);
            continue;
        }
        curl_easy_setopt(hs[i], CURLOPT_URL, urls[i]);
        curl_easy_setopt(hs[i], CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(hs[i], CURLOPT_WRITEDATA, &out[i]);
        curl_easy_setopt(hs[i], CURLOPT_TIMEOUT, timeout_s);
        curl_easy_setopt(hs[i], CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(hs[i], CURLOPT_USERAGENT, "taskscope");
        curl_easy_setopt(hs[i], CURLOPT_PRIVATE, (char *)(uintptr_t)i);
        curl_multi_add_handle(m, hs[i]);
    }
    int running = 1;
    while (m && running) {
        if (curl_multi_perform(m, &running) != CURLM_OK)
            break;
        if (running)
            curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    CURLMsg *msg;
    int left;
    while (m && (msg = curl_multi_info_read(m, &left))) {
        char *priv;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        size_t i = (size_t)(uintptr_t)priv;
        if (msg->msg == CURLMSG_DONE && finish_result(hs[i], msg->data.result, urls[i], &out[i]))
            ok++;
        curl_multi_remove_handle(m, hs[i]);
        curl_easy_cleanup(hs[i]);
        hs[i] = NULL;
    }
    for (size_t i = 0; hs && i < n; i++) {
        if (!hs[i])
            continue;
        /* never finished: the multi loop failed */
        free(out[i].data);
        out[i].data = NULL;
        snprintf(out[i].err, sizeof out[i].err, "%s: transfer did not finish", urls[i]);
        curl_multi_remove_handle(m, hs[i]);
        curl_easy_cleanup(hs[i]);
    }
    free(hs);
    curl_multi_cleanup(m);
    return ok;
}

int fetch_post(const struct fetch_post *req, long timeout_s, char *err, size_t cap)
{
    curl_init_once();
    FILE *body = tmpfile();
    CURL *h = curl_easy_init();
    curl_mime *mime = NULL;
    struct curl_slist *headers = NULL;
    int r = -1;
    if (!body || !h) {
        snprintf(err, cap, "%s: %s", req->url, body ? "cannot start libcurl" : strerror(errno));
        goto out;
    }
    if (req->nparts) {
        mime = curl_mime_init(h);
        for (size_t i = 0; i < req->nparts; i++) {
            curl_mimepart *part = curl_mime_addpart(mime);
            curl_mime_name(part, req->parts[i].name);
            curl_mime_filename(part, req->parts[i].name);
            curl_mime_data(part, req->parts[i].data, req->parts[i].len);
        }
        curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
    } else {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->len);
    }
    for (size_t i = 0; i < req->nheaders; i++)
        headers = curl_slist_append(headers, req->headers[i]);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    r = perform(h, req->url, body, timeout_s, err, cap);
out:
    curl_slist_free_all(headers);
    curl_mime_free(mime);
    if (h)
        curl_easy_cleanup(h);
    if (body)
        fclose(body);
    return r;
}
