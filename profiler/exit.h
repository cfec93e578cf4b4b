/* taskscope — profiles written at exit: TASKSCOPE_PROFILE names them,
 * TASKSCOPE_PROFILE_DIR says where (<dir>/<name>.pb.gz, default "."). */
#ifndef TASKSCOPE_PROFILER_EXIT_H
#define TASKSCOPE_PROFILER_EXIT_H

#include <stdbool.h>

/* ts__exit_profiles_init: check TASKSCOPE_PROFILE (unknown names are
 * reported on stderr at once) and register the exit handler. Once. */
void ts__exit_profiles_init(void);

/* ts__profile_write_file: the pprof profile name into <dir>/<name>.pb.gz,
 * whole or not at all (written aside, then renamed into place; without
 * clobber an existing file is kept and the write fails with EEXIST). A
 * failure is said on stderr. 0 or an errno. */
int ts__profile_write_file(const char *dir, const char *name, bool clobber);

#endif
