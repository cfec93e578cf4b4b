/* taskscope — wait reason strings, generated from TS_WAIT_REASON_MAP. */
#include "runtime/waitreason.h"

static const char *const texts[TS_WAIT_REASON_COUNT] = {
#define TS_WAIT_TEXT(name, text) [name] = text,
    TS_WAIT_REASON_MAP(TS_WAIT_TEXT)
#undef TS_WAIT_TEXT
};

const char *ts__wait_text(int reason)
{
    if (reason < 0 || reason >= TS_WAIT_REASON_COUNT)
        return "";
    return texts[reason];
}
