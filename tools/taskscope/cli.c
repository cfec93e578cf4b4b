/*
 * cli.c — helpers every subcommand of the taskscope tool uses: error
 * messages, usage text, number parsing, the final flush of stdout.
 *
 * Invariants (docs/cli.md): data goes to stdout, diagnostics to stderr;
 * every error message is one line starting with "taskscope <sub>: "; usage
 * and I/O errors exit CLI_EXIT_ERROR (2).
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void verror(const char *sub, const char *fmt, va_list ap)
{
    fprintf(stderr, "taskscope %s: ", sub);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_error(const char *sub, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(sub, fmt, ap);
    va_end(ap);
}

void cli_print_usage(const struct cli_command *cmd, FILE *f)
{
    fputs(cmd->usage, f);
}

int cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(cmd->name, fmt, ap);
    va_end(ap);
    cli_print_usage(cmd, stderr);
    return CLI_EXIT_ERROR;
}

int cli_unknown_option(const struct cli_command *cmd, char **argv)
{
    const char *arg = argv[optind - 1];
    if (strncmp(arg, "--", 2) == 0) /* also --flag=value for a plain flag */
        return cli_usage_error(cmd, "unknown option or bad use of '%s'", arg);
    return cli_usage_error(cmd, "unknown option '-%c'", optopt);
}

int cli_parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    if (!isdigit((unsigned char)s[0]) && s[0] != '-')
        return -1; /* no leading blanks or '+' */
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int cli_finish(const char *sub, int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error(sub, "writing standard output: %s", strerror(errno));
        return CLI_EXIT_ERROR;
    }
    return rc;
}
