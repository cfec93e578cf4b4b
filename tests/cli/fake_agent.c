/*
 * fake_agent.c — a stand-in for the runtime's in-process agent, for the
 * tests of `taskscope dump` (check_cli.sh dump).
 *
 *   fake_agent MODE READYFILE
 *
 * Listens on the abstract unix socket "taskscope.<own pid>" exactly as the
 * agent does (docs/cli.md), then writes its pid into READYFILE (written to
 * READYFILE.tmp and renamed, so a reader sees all of it or nothing) and
 * serves one connection: reads the request line, then by MODE
 *   ok     replies "fake dump\nrequest: <the request line>\n" + a goroutine
 *   error  replies "error: fake agent refuses\n"
 *   hang   never replies (the client's timeout must fire)
 * and exits 0. alarm(60) bounds its life if no client ever comes.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static int listen_abstract(void)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int len = snprintf(addr.sun_path + 1, sizeof addr.sun_path - 1, "taskscope.%d",
                       (int)getpid());
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len);
    if (bind(fd, (struct sockaddr *)&addr, alen) != 0)
        die("bind");
    if (listen(fd, 1) != 0)
        die("listen");
    return fd;
}

static void announce(const char *ready)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", ready);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0)
        die(tmp);
    if (rename(tmp, ready) != 0)
        die("rename");
}

/* Reads one line (without its '\n') into line[0..cap). */
static void read_request(int fd, char *line, size_t cap)
{
    size_t n = 0;
    char c;
    while (n + 1 < cap && read(fd, &c, 1) == 1 && c != '\n')
        line[n++] = c;
    line[n] = '\0';
}

static void reply(int fd, const char *s)
{
    size_t len = strlen(s);
    if (write(fd, s, len) != (ssize_t)len)
        die("write");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fake_agent ok|error|hang READYFILE\n");
        return 2;
    }
    alarm(60);
    int lfd = listen_abstract();
    announce(argv[2]);
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        die("accept");
    char req[256], out[512];
    read_request(fd, req, sizeof req);
    if (strcmp(argv[1], "ok") == 0) {
        snprintf(out, sizeof out,
                 "fake dump\nrequest: %s\n\ngoroutine 1 [chan receive]:\nmain()\n", req);
        reply(fd, out);
    } else if (strcmp(argv[1], "error") == 0) {
        reply(fd, "error: fake agent refuses\n");
    } else {
        pause();
    }
    close(fd);
    close(lfd);
    return 0;
}
