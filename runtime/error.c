/* taskscope — ts_strerror: texts for taskscope's codes and errno values. */
#include <string.h>
#include <taskscope/error.h>

const char *ts_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
#define TS_ERRNO_TEXT(name, value, text) \
    case value:                          \
        return text;
        TS_ERRNO_MAP(TS_ERRNO_TEXT)
#undef TS_ERRNO_TEXT
    default:
        break;
    }
    /* strerror's buffer is static for known codes; unknown codes still get a
     * stable text from glibc's table ("Unknown error N" is per call). */
    const char *s = strerrordesc_np(code);
    return s ? s : "unknown error";
}
