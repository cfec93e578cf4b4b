/* cli.h — what the subcommands of the taskscope tool share (cli.c). */
#ifndef TASKSCOPE_TOOLS_CLI_H
#define TASKSCOPE_TOOLS_CLI_H

#include <stdio.h>

/* Exit codes of every subcommand (docs/cli.md). */
enum {
    CLI_EXIT_CLEAN = 0, /* ran, nothing to report */
    CLI_EXIT_FOUND = 1, /* ran, found a problem (leak, deadlock) */
    CLI_EXIT_ERROR = 2, /* usage or I/O error */
};

/* One subcommand: its name, one-line summary, usage text and entry point.
 * run gets argv[0] == name and returns the exit code. */
struct cli_command {
    const char *name;
    const char *summary;
    const char *usage;
    int (*run)(int argc, char **argv);
};

extern const struct cli_command cli_top;
extern const struct cli_command cli_dump;
extern const struct cli_command cli_leaks;

/* Prints "taskscope SUB: <message>\n" on stderr. */
void cli_error(const char *sub, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "taskscope SUB: <message>" and SUB's usage on stderr; returns
 * CLI_EXIT_ERROR. */
int cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* After getopt_long returned '?': reports the unknown option (a long one
 * as argv[optind - 1] spells it, else optopt) as a usage error. */
int cli_unknown_option(const struct cli_command *cmd, char **argv);

/* Prints SUB's usage to f. */
void cli_print_usage(const struct cli_command *cmd, FILE *f);

/* Parses a decimal integer in [min, max]; 0 on success, -1 otherwise. */
int cli_parse_long(const char *s, long min, long max, long *out);

/* Flushes stdout; on failure (e.g. a full disk) reports it for SUB and
 * returns CLI_EXIT_ERROR, else returns rc. */
int cli_finish(const char *sub, int rc);

#endif
