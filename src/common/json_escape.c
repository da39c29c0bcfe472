/* json_escape.c: see json_escape.h. */
#include "json_escape.h"

size_t
json_escape(char *out, size_t cap, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0, i;

    if (cap == 0)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t k = (c == '"' || c == '\\') ? 2 : (c < 0x20 || c > 0x7e) ? 6 : 1;

        if (n + k >= cap)
            break;
        if (k == 1) {
            out[n] = (char)c;
        } else if (k == 2) {
            out[n] = '\\';
            out[n + 1] = (char)c;
        } else {
            out[n] = '\\';
            out[n + 1] = 'u';
            out[n + 2] = '0';
            out[n + 3] = '0';
            out[n + 4] = hex[c >> 4];
            out[n + 5] = hex[c & 15];
        }
        n += k;
    }
    out[n] = '\0';
    return n;
}
