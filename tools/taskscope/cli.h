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
extern const struct cli_command cli_run;
extern const struct cli_command cli_race;
extern const struct cli_command cli_flame;
extern const struct cli_command cli_push;

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

/* One change to a child's environment: a NULL value removes the name. */
struct cli_env {
    const char *name;
    const char *value;
};

/* Forks and execs cmd (PATH searched) with env[0..nenv) applied, forwards
 * SIGINT and SIGTERM to it and waits (child.c). Returns its exit code
 * (128 + N when signal N killed it, said on stderr), or -1 after printing
 * why it could not be run, for subcommand SUB. */
int cli_run_child(const char *sub, char **cmd, const struct cli_env *env, size_t nenv);

/* cli_top_brief (top.c): a short summary of the pprof file path on f: a
 * "TITLE (type): total V" line and, of the top rows functions by flat
 * value, those with a non-zero flat value.
 * 0, or -1 after saying on f why the file could not be read. */
int cli_top_brief(FILE *f, const char *path, const char *title, long rows);

/* Flushes stdout; on failure (e.g. a full disk) reports it for SUB and
 * returns CLI_EXIT_ERROR, else returns rc. */
int cli_finish(const char *sub, int rc);

#endif
