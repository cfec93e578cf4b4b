/* taskscope — OS signals delivered to channels (being written). */
#ifndef TASKSCOPE_SIGNAL_H
#define TASKSCOPE_SIGNAL_H
#include <taskscope/chan.h>
#endif
