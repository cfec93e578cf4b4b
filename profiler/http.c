/* taskscope — the live /debug/pprof endpoints (http.h, docs/http.md):
 * Go's net/http/pprof served by libmicrohttpd.
 *
 * Invariants:
 *   - off unless TASKSCOPE_HTTP names an address; loopback only unless
 *     TASKSCOPE_HTTP_ALLOW_REMOTE=1; every refusal or failure is one line
 *     on stderr and the program goes on without the endpoints;
 *   - libmicrohttpd's threads (one listener, one per connection, at most
 *     MAX_CONNECTIONS) are created with every signal blocked and never run
 *     the program's code: a slow client or a long ?seconds= request
 *     holds only its own connection's thread;
 *   - a response is built whole in memory before its header is sent
 *     (profiles are written to a memfd, texts to a memstream), so the
 *     status code always tells whether the body is good, and no lock of
 *     the profile writers is held while a client reads;
 *   - statuses, headers and texts are Go's (net/http/pprof/pprof.go):
 *     X-Content-Type-Options: nosniff on every answer; errors are
 *     text/plain with X-Go-Pprof: 1 and no Content-Disposition. */
#include "profiler/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <taskscope/profile.h>
#include <time.h>
#include <unistd.h>

#include "profiler/cpu.h"
#include "profiler/delta.h"
#include "profiler/symbolize.h"
#include "profiler/threadcreate.h"
#include "profiler/write.h"

#define PREFIX "/debug/pprof/"
#define MAX_CONNECTIONS 128 /* above the 50 concurrent scrapers issue 8 names */
#define IDLE_TIMEOUT_S 30
#define MAX_SYMBOL_BODY (1 << 20)
#define CPU_DEFAULT_S 30

static const char text_plain[] = "text/plain; charset=utf-8";
static const char octet_stream[] = "application/octet-stream";

/* ---- responses ----------------------------------------------------------- */

/* A response body: malloc'd, owned by whoever holds it. */
struct body {
    char *data;
    size_t len;
};

/* reply: send status with body (taken) and Go's headers; filename set
 * means a Content-Disposition attachment. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
                             const char *type, const char *filename,
                             struct body b, bool error)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        b.len, b.data, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(b.data);
        return MHD_NO;
    }
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (error)
        MHD_add_response_header(r, "X-Go-Pprof", "1");
    if (filename) {
        char cd[128];
        snprintf(cd, sizeof cd, "attachment; filename=\"%s\"", filename);
        MHD_add_response_header(r, "Content-Disposition", cd);
    }
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* reply_text: a copy of the printf-formatted text. */
static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status,
                                  bool error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status,
                                  bool error, const char *fmt, ...)
{
    struct body b = {0};
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&b.data, fmt, ap);
    va_end(ap);
    if (n < 0)
        return MHD_NO;
    b.len = (size_t)n;
    return reply(c, status, text_plain, NULL, b, error);
}

/* serve_error: Go's serveError: the text and a newline. */
static enum MHD_Result serve_error(struct MHD_Connection *c, unsigned status,
                                   const char *text)
{
    return reply_text(c, status, true, "%s\n", text);
}

/* ---- capturing what the writers write ------------------------------------ */

static int read_back(int fd, struct body *out)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return errno;
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n ? n : 1);
    if (!buf)
        return ENOMEM;
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)got);
        if (r <= 0) {
            free(buf);
            return r < 0 ? errno : EIO;
        }
        got += (size_t)r;
    }
    *out = (struct body){buf, n};
    return 0;
}

typedef int (*writer_fn)(int fd, const void *arg);

/* capture: what fn writes to an fd, in memory. 0 or an errno. */
static int capture(writer_fn fn, const void *arg, struct body *out)
{
    int fd = memfd_create("taskscope-http", MFD_CLOEXEC);
    if (fd < 0)
        return errno;
    int r = fn(fd, arg);
    if (!r)
        r = read_back(fd, out);
    close(fd);
    return r;
}

struct profile_req {
    const char *name;
    int debug;
};

static int write_profile(int fd, const void *arg)
{
    const struct profile_req *q = arg;
    return ts_profile_write(q->name, fd, q->debug);
}

static int write_cpu(int fd, const void *arg)
{
    return ts__cpu_profile_run(*(const int64_t *)arg, fd);
}

/* ---- query values, Go's way ------------------------------------------------ */

static const char *arg(struct MHD_Connection *c, const char *key)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
    return v ? v : "";
}

/* parse_int: strconv.ParseInt(s, 10, 64): sign, digits, no overflow. */
static bool parse_int(const char *s, int64_t *out)
{
    bool neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    if (!*s)
        return false;
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (limit - (uint64_t)(*s - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* go_atoi: strconv.Atoi with the error ignored, as pprof.go does: 0. */
static int go_atoi(const char *s)
{
    int64_t v;
    return parse_int(s, &v) && v >= INT32_MIN && v <= INT32_MAX ? (int)v : 0;
}

/* ---- waiting for ?seconds= ----------------------------------------------- */

static int64_t now_ns(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* wait_for_client: sleep ns; false when the client hung up before (Go's
 * handlers give up on r.Context().Done()). */
static bool wait_for_client(struct MHD_Connection *c, int64_t ns)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    int64_t end = now_ns(CLOCK_MONOTONIC) + ns;
    for (int64_t left = ns; left > 0; left = end - now_ns(CLOCK_MONOTONIC)) {
        struct pollfd p = {.fd = ci ? ci->connect_fd : -1, .events = POLLRDHUP};
        int ms = left > 1000000000 ? 1000 : (int)((left + 999999) / 1000000);
        if (poll(&p, 1, ms) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
            return false;
    }
    return true;
}

/* ---- /debug/pprof/NAME ----------------------------------------------------- */

/* Go's profileSupportsDelta: every profile of ours but goroutineleak. */
static bool supports_delta(const char *name)
{
    return strcmp(name, "goroutineleak") != 0;
}

static enum MHD_Result serve_delta(struct MHD_Connection *c, const char *name,
                                   const char *seconds)
{
    int64_t sec;
    if (!parse_int(seconds, &sec) || sec <= 0)
        return serve_error(c, MHD_HTTP_BAD_REQUEST,
                           "invalid value for \"seconds\" - must be a positive integer");
    if (!supports_delta(name))
        return serve_error(c, MHD_HTTP_BAD_REQUEST,
                           "\"seconds\" parameter is not supported for this profile type");
    if (go_atoi(arg(c, "debug")) != 0)
        return serve_error(c, MHD_HTTP_BAD_REQUEST,
                           "seconds and debug params are incompatible");
    struct profile_req q = {name, 0};
    struct body p0, p1, d;
    if (capture(write_profile, &q, &p0))
        return serve_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "failed to collect profile");
    int64_t t0 = now_ns(CLOCK_REALTIME);
    if (!wait_for_client(c, sec > INT64_MAX / 1000000000 ? INT64_MAX : sec * 1000000000)) {
        free(p0.data);
        return MHD_NO;
    }
    if (capture(write_profile, &q, &p1)) {
        free(p0.data);
        return serve_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "failed to collect profile");
    }
    int64_t t1 = now_ns(CLOCK_REALTIME);
    int r = ts__delta_profile((uint8_t *)p0.data, p0.len, (uint8_t *)p1.data,
                              p1.len, t1, t1 - t0, (uint8_t **)&d.data, &d.len);
    free(p0.data);
    free(p1.data);
    if (r)
        return serve_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "failed to compute delta");
    char filename[64];
    snprintf(filename, sizeof filename, "%s-delta", name);
    return reply(c, MHD_HTTP_OK, octet_stream, filename, d, false);
}

static enum MHD_Result serve_profile(struct MHD_Connection *c, const char *name)
{
    if (!ts__profile_known(name))
        return serve_error(c, MHD_HTTP_NOT_FOUND, "Unknown profile");
    const char *seconds = arg(c, "seconds");
    if (*seconds)
        return serve_delta(c, name, seconds);
    int debug = go_atoi(arg(c, "debug"));
    /* Go writes the proto for a negative debug, under text/plain */
    struct profile_req q = {name, debug > 0 ? debug : 0};
    struct body b;
    int r = capture(write_profile, &q, &b);
    if (r) {
        char text[128];
        snprintf(text, sizeof text, "could not write the %s profile: %s", name,
                 strerror(r));
        return serve_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, text);
    }
    return debug != 0 ? reply(c, MHD_HTTP_OK, text_plain, NULL, b, false)
                      : reply(c, MHD_HTTP_OK, octet_stream, name, b, false);
}

/* ---- /debug/pprof/profile (CPU) ---------------------------------------------- */

static enum MHD_Result serve_cpu(struct MHD_Connection *c)
{
    int64_t sec;
    if (!parse_int(arg(c, "seconds"), &sec) || sec <= 0)
        sec = CPU_DEFAULT_S;
    int64_t ns = sec > INT64_MAX / 1000000000 ? INT64_MAX : sec * 1000000000;
    struct body b;
    int r = capture(write_cpu, &ns, &b);
    if (r) {
        char text[128];
        snprintf(text, sizeof text, "Could not enable CPU profiling: %s",
                 r == EBUSY ? "cpu profiling already in use" : strerror(r));
        return serve_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, text);
    }
    return reply(c, MHD_HTTP_OK, octet_stream, "profile", b, false);
}

/* ---- /debug/pprof/cmdline ------------------------------------------------------ */

static int write_cmdline(int fd, const void *arg)
{
    (void)arg;
    int in = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return errno;
    char buf[4096];
    ssize_t n;
    int r = 0;
    while (!r && (n = read(in, buf, sizeof buf)) > 0)
        if (write(fd, buf, (size_t)n) != n)
            r = EIO;
    close(in);
    return r;
}

static enum MHD_Result serve_cmdline(struct MHD_Connection *c)
{
    struct body b;
    if (capture(write_cmdline, NULL, &b))
        return serve_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read /proc/self/cmdline");
    if (b.len && b.data[b.len - 1] == '\0') /* Go: joined, not terminated */
        b.len--;
    return reply(c, MHD_HTTP_OK, text_plain, NULL, b, false);
}

/* ---- /debug/pprof/symbol ------------------------------------------------------- */

/* One request's upload (POST /debug/pprof/symbol), up to MAX_SYMBOL_BODY. */
struct upload {
    char *data;
    size_t len;
    bool too_big;
};

/* print_symbols: Go's Symbol for the '+'-separated addresses of arg (a
 * NUL-terminated string), under the writers' symbolizer lock. */
static void print_symbols(FILE *f, struct ts__symbolizer *sym, void *arg)
{
    char *save = NULL;
    for (char *w = strtok_r(arg, "+", &save); w; w = strtok_r(NULL, "+", &save)) {
        char *end;
        errno = 0;
        unsigned long long pc = strtoull(w, &end, 0);
        const struct ts__frame *frames;
        size_t n;
        if (errno || *end || pc == 0 || !sym ||
            ts__symbolize(sym, pc, &frames, &n) != 0 || n == 0)
            continue;
        fprintf(f, "%#llx %s\n", pc, frames[n - 1].function);
    }
}

static enum MHD_Result serve_symbol(struct MHD_Connection *c, const char *method,
                                    struct upload *up)
{
    if (up && up->too_big)
        return serve_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
    struct body b = {0};
    FILE *f = open_memstream(&b.data, &b.len);
    if (!f)
        return MHD_NO;
    fputs("num_symbols: 1\n", f);
    if (strcmp(method, "POST") == 0 && up && up->data)
        ts__write_with_symbolizer(f, print_symbols, up->data);
    if (fclose(f) != 0) {
        free(b.data);
        return MHD_NO;
    }
    return reply(c, MHD_HTTP_OK, text_plain, NULL, b, false);
}

/* keep_upload: append a piece of the request body; false past the cap. */
static bool keep_upload(struct upload *up, const char *data, size_t n)
{
    if (up->too_big || up->len + n > MAX_SYMBOL_BODY) {
        up->too_big = true;
        return false;
    }
    char *d = realloc(up->data, up->len + n + 1);
    if (!d) {
        up->too_big = true;
        return false;
    }
    memcpy(d + up->len, data, n);
    up->len += n;
    d[up->len] = '\0';
    up->data = d;
    return true;
}

/* ---- /debug/pprof/ (index) ----------------------------------------------------- */

struct entry {
    const char *name;
    int sum; /* count: 1 = sum of the first values, 0 = samples, -1 = none */
    const char *desc;
};

/* Go's entries (and descriptions), sorted by name; trace is not offered. */
static const struct entry entries[] = {
    {"allocs", 0, "A sampling of all past memory allocations"},
    {"block", 0, "Stack traces that led to blocking on synchronization primitives"},
    {"cmdline", -1, "The command line invocation of the current program"},
    {"goroutine", 1, "Stack traces of all current goroutines. Use debug=2 as a "
                     "query parameter to export in the same format as an "
                     "unrecovered panic."},
    {"goroutineleak", 1, "Stack traces of goroutines blocked on something "
                         "nothing else can reach. Use debug=2 as a query "
                         "parameter to export in the same format as an "
                         "unrecovered panic."},
    {"heap", 0, "A sampling of memory allocations of live objects. You can "
                "specify the gc GET parameter to run GC before taking the heap "
                "sample."},
    {"mutex", 0, "Stack traces of holders of contended mutexes"},
    {"profile", -1, "CPU profile. You can specify the duration in the seconds "
                    "GET parameter. After you get the profile file, use the go "
                    "tool pprof command to investigate the profile."},
    {"threadcreate", 1, "Stack traces that led to the creation of new OS threads"},
};
#define NENTRIES (sizeof entries / sizeof entries[0])

static int64_t entry_count(const struct entry *e)
{
    struct profile_req q = {e->name, 0};
    struct body b;
    int64_t n = 0;
    if (e->sum < 0 || capture(write_profile, &q, &b))
        return 0;
    if (ts__delta_count((uint8_t *)b.data, b.len, e->sum, &n))
        n = 0;
    free(b.data);
    return n;
}

static void index_html(FILE *f)
{
    fputs("<html>\n<head>\n<title>/debug/pprof/</title>\n<style>\n"
          ".profile-name{\n\tdisplay:inline-block;\n\twidth:6rem;\n}\n"
          "</style>\n</head>\n<body>\n/debug/pprof/<br>\n<br>\n"
          "Types of profiles available:\n<table>\n"
          "<thead><td>Count</td><td>Profile</td></thead>\n", f);
    for (size_t i = 0; i < NENTRIES; i++)
        fprintf(f, "<tr><td>%lld</td><td><a href='%s?debug=1'>%s</a></td></tr>\n",
                (long long)entry_count(&entries[i]), entries[i].name,
                entries[i].name);
    fputs("</table>\n<a href=\"goroutine?debug=2\">full goroutine stack dump</a>\n"
          "<br>\n<p>\nProfile Descriptions:\n<ul>\n", f);
    for (size_t i = 0; i < NENTRIES; i++)
        fprintf(f, "<li><div class=profile-name>%s: </div> %s</li>\n",
                entries[i].name, entries[i].desc);
    fputs("</ul>\n</p>\n</body>\n</html>", f);
}

static enum MHD_Result serve_index(struct MHD_Connection *c)
{
    struct body b = {0};
    FILE *f = open_memstream(&b.data, &b.len);
    if (!f)
        return MHD_NO;
    index_html(f);
    if (fclose(f) != 0) {
        free(b.data);
        return MHD_NO;
    }
    return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", NULL, b, false);
}

/* ---- routing ------------------------------------------------------------------- */

static enum MHD_Result route(struct MHD_Connection *c, const char *url,
                             const char *method, struct upload *up)
{
    if (strcmp(url, "/debug/pprof") == 0) { /* Go's ServeMux redirect */
        struct body b = {strdup("<a href=\"" PREFIX "\">Moved Permanently</a>.\n\n"), 0};
        if (!b.data)
            return MHD_NO;
        b.len = strlen(b.data);
        struct MHD_Response *r = MHD_create_response_from_buffer(
            b.len, b.data, MHD_RESPMEM_MUST_FREE);
        if (!r)
            return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, PREFIX);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_MOVED_PERMANENTLY, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strncmp(url, PREFIX, strlen(PREFIX)) != 0)
        return reply_text(c, MHD_HTTP_NOT_FOUND, false, "404 page not found\n");
    const char *name = url + strlen(PREFIX);
    if (!*name)
        return serve_index(c);
    if (strcmp(name, "cmdline") == 0)
        return serve_cmdline(c);
    if (strcmp(name, "symbol") == 0)
        return serve_symbol(c, method, up);
    if (strcmp(name, "profile") == 0)
        return serve_cpu(c);
    return serve_profile(c, name);
}

/* on_request: libmicrohttpd's access handler; called once with the
 * headers, then with each piece of the body, then once with none. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *data,
                                  size_t *size, void **state)
{
    (void)cls;
    (void)version;
    if (!*state) {
        struct upload *up = calloc(1, sizeof *up);
        if (!up)
            return MHD_NO;
        *state = up;
        return MHD_YES;
    }
    if (*size) {
        keep_upload(*state, data, *size);
        *size = 0;
        return MHD_YES;
    }
    return route(c, url, method, *state);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)c;
    (void)why;
    struct upload *up = *state;
    if (up)
        free(up->data);
    free(up);
    *state = NULL;
}

/* ---- start --------------------------------------------------------------------- */

/* parse_address: "HOST:PORT" (HOST numeric, [v6], "localhost" or empty =
 * every interface) into a; NULL or the reason it is not one. */
static const char *parse_address(const char *v, struct sockaddr_storage *a,
                                 socklen_t *alen)
{
    const char *colon = strrchr(v, ':');
    if (!colon)
        return "want HOST:PORT, e.g. 127.0.0.1:6060 (port 0: any free port)";
    int64_t port;
    if (!parse_int(colon + 1, &port) || colon[1] == '+' || colon[1] == '-' ||
        port < 0 || port > 65535)
        return "the port is not a number from 0 to 65535";
    char host[INET6_ADDRSTRLEN + 2];
    size_t n = (size_t)(colon - v);
    if (n >= 2 && v[0] == '[' && v[n - 1] == ']') {
        v++;
        n -= 2;
    }
    if (n >= sizeof host)
        return "the host is not a numeric IP address or localhost";
    memcpy(host, v, n);
    host[n] = '\0';
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    if (getaddrinfo(n ? host : NULL, colon + 1, &hints, &res) != 0)
        return "the host is not a numeric IP address or localhost";
    memcpy(a, res->ai_addr, res->ai_addrlen);
    *alen = res->ai_addrlen;
    freeaddrinfo(res);
    return NULL;
}

static bool is_loopback(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
    const struct in6_addr *x = &((const struct sockaddr_in6 *)a)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(x) ||
           (IN6_IS_ADDR_V4MAPPED(x) && x->s6_addr[12] == 127);
}

/* listen_on: a listening socket bound to a; -1 with errno. */
static int listen_on(const struct sockaddr_storage *a, socklen_t alen)
{
    int fd = socket(a->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)a, alen) != 0 || listen(fd, 64) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* announce: the one line that tells users (and tests) the port. */
static void announce(int fd)
{
    struct sockaddr_storage a = {.ss_family = AF_INET};
    socklen_t len = sizeof a;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
        const void *ip = a.ss_family == AF_INET
                             ? (const void *)&((struct sockaddr_in *)&a)->sin_addr
                             : (const void *)&((struct sockaddr_in6 *)&a)->sin6_addr;
        inet_ntop(a.ss_family, ip, host, sizeof host);
        port = ntohs(a.ss_family == AF_INET ? ((struct sockaddr_in *)&a)->sin_port
                                            : ((struct sockaddr_in6 *)&a)->sin6_port);
    }
    bool v6 = a.ss_family == AF_INET6;
    fprintf(stderr, "taskscope: serving /debug/pprof on http://%s%s%s:%d" PREFIX "\n",
            v6 ? "[" : "", host, v6 ? "]" : "", port);
}

/* start_daemon: libmicrohttpd on fd, its threads born with every signal
 * blocked. */
static struct MHD_Daemon *start_daemon(int fd, int family)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     (family == AF_INET6 ? MHD_USE_IPv6 : 0);
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, NULL,
        MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (d)
        ts__record_thread_create(); /* the listener; connections come and go */
    return d;
}

static bool remote_allowed(void)
{
    const char *v = getenv("TASKSCOPE_HTTP_ALLOW_REMOTE");
    return v && strcmp(v, "1") == 0;
}

void ts__http_start(void)
{
    const char *v = getenv("TASKSCOPE_HTTP");
    if (!v || !*v)
        return;
    struct sockaddr_storage a;
    socklen_t alen;
    const char *why = parse_address(v, &a, &alen);
    if (why) {
        fprintf(stderr, "taskscope: TASKSCOPE_HTTP=%s: %s; not serving /debug/pprof\n",
                v, why);
        return;
    }
    if (!is_loopback(&a) && !remote_allowed()) {
        fprintf(stderr, "taskscope: TASKSCOPE_HTTP=%s is not a loopback address; "
                        "not serving /debug/pprof (set "
                        "TASKSCOPE_HTTP_ALLOW_REMOTE=1 to serve other hosts)\n", v);
        return;
    }
    int fd = listen_on(&a, alen);
    if (fd < 0) {
        fprintf(stderr, "taskscope: TASKSCOPE_HTTP=%s: cannot listen: %s; "
                        "not serving /debug/pprof\n", v, strerror(errno));
        return;
    }
    if (!start_daemon(fd, a.ss_family)) {
        fprintf(stderr, "taskscope: TASKSCOPE_HTTP=%s: libmicrohttpd did not "
                        "start; not serving /debug/pprof\n", v);
        close(fd);
        return;
    }
    announce(fd);
}
