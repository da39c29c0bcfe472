/* fuzz_http_head.c: libFuzzer target for splitting a response head's field lines
 * (src/common/http_head.h), which rewrites its input in place to join folded lines. Splits a
 * copy of the input and checks that every field lies inside it, that names are non-empty and
 * free of line ends and colons, that values have no line ends or surrounding blanks, and that
 * the count stays within the limit; any violation aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_head.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HEAD_MAX 16

static void
fuzz_http_head_check(int ok)
{
    if (!ok)
        abort();
}

static void
fuzz_http_head_inside(const char *text, size_t len, struct frame_str s)
{
    fuzz_http_head_check(s.len == 0 || (s.p >= text && s.p + s.len <= text + len));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct frame_field out[FUZZ_HEAD_MAX];
    struct http_head_framing fr;
    char *text = malloc(size ? size : 1); /* exactly size bytes: ASan sees any overrun */
    int n, i;

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    n = http_head_fields(text, size, out, FUZZ_HEAD_MAX, &fr);
    fuzz_http_head_check(n >= HTTP_HEAD_MALFORMED && n <= FUZZ_HEAD_MAX);
    for (i = 0; i < n; i++) {
        const struct frame_str nm = out[i].name, v = out[i].value;
        size_t k;

        fuzz_http_head_inside(text, size, nm);
        fuzz_http_head_inside(text, size, v);
        fuzz_http_head_check(nm.len > 0 && nm.p[0] != ' ' && nm.p[0] != '\t');
        for (k = 0; k < nm.len; k++)
            fuzz_http_head_check(nm.p[k] != '\r' && nm.p[k] != '\n' && nm.p[k] != ':');
        for (k = 0; k < v.len; k++)
            fuzz_http_head_check(v.p[k] != '\r' && v.p[k] != '\n');
        fuzz_http_head_check(v.len == 0 || (v.p[0] != ' ' && v.p[0] != '\t' &&
                                            v.p[v.len - 1] != ' ' && v.p[v.len - 1] != '\t'));
    }
    free(text);
    return 0;
}
