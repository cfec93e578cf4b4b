/* taskscope — profiles written at exit: TASKSCOPE_PROFILE names them,
 * TASKSCOPE_PROFILE_DIR says where (<dir>/<name>.pb.gz, default "."). */
#ifndef TASKSCOPE_PROFILER_EXIT_H
#define TASKSCOPE_PROFILER_EXIT_H

/* ts__exit_profiles_init: check TASKSCOPE_PROFILE (unknown names are
 * reported on stderr at once) and register the exit handler. Once. */
void ts__exit_profiles_init(void);

#endif
