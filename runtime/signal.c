/* taskscope — ts_signal_notify (being written). */
#include <taskscope/signal.h>
