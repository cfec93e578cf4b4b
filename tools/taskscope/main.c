/*
 * main.c — the taskscope command: global flags and dispatch to one
 * subcommand (`taskscope <command> [arguments]`, like `go tool pprof` or
 * `perf report`; CONVENTIONS.md §5).
 *
 * Invariants: main handles only --help, --version and the subcommand name;
 * everything after the name belongs to the subcommand, which parses its
 * own flags and returns the exit code (0 clean, 1 problem found, 2 usage or
 * I/O error; docs/cli.md). Help asked for goes to stdout and exits 0;
 * usage errors print the usage on stderr and exit 2.
 */
#include <string.h>

#include "cli.h"

#ifndef TASKSCOPE_VERSION
#error "the build defines TASKSCOPE_VERSION (tools/CMakeLists.txt)"
#endif

static const struct cli_command *const commands[] = {
    &cli_top,
    &cli_dump,
    &cli_leaks,
    &cli_run,
    &cli_race,
    &cli_flame,
    &cli_push,
};
#define NCOMMANDS (sizeof commands / sizeof *commands)

static void usage(FILE *f)
{
    fputs("usage: taskscope <command> [arguments]\n"
          "       taskscope --help | --version\n"
          "\n"
          "Commands:\n", f);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-6s %s\n", commands[i]->name, commands[i]->summary);
    fputs("\n"
          "Run 'taskscope <command> --help' for a command's flags.\n"
          "Exit status: 0 clean, 1 problem found, 2 usage or I/O error.\n", f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs("taskscope: no command given\n", stderr);
        usage(stderr);
        return CLI_EXIT_ERROR;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
        strcmp(name, "help") == 0) {
        usage(stdout);
        return cli_finish("help", CLI_EXIT_CLEAN);
    }
    if (strcmp(name, "--version") == 0) {
        printf("taskscope %s\n", TASKSCOPE_VERSION);
        return cli_finish("version", CLI_EXIT_CLEAN);
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(name, commands[i]->name) == 0)
            return commands[i]->run(argc - 1, argv + 1);
    fprintf(stderr, "taskscope: unknown %s '%s'\n",
            name[0] == '-' ? "option" : "command", name);
    usage(stderr);
    return CLI_EXIT_ERROR;
}
