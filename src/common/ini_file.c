/* ini_file.c: config files through libinih; see ini_file.h. Debian's libinih takes its
 * settings at run time (ini_allow_multiline and the rest are variables there, not macros); they
 * are set before each parse. */
#include "ini_file.h"
#include "limits.h"

#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct ini_file_run {
    ini_file_fn fn;
    void *user;
    struct ngr_err *err;
    int rc; /* the first error's code; 0: none */
};

/* A value as the file meant it: "..." unquoted, or cut at '#'. Returns 0, or NGR_EINVAL. */
static int
ini_file_value(const char *raw, char *out, size_t cap, struct ngr_err *err)
{
    size_t n;

    if (raw[0] == '"') {
        const char *q = strchr(raw + 1, '"'), *rest;

        if (q == NULL)
            return err_set(err, NGR_EINVAL, "unterminated quote");
        for (rest = q + 1; *rest == ' ' || *rest == '\t'; rest++)
            ;
        if (*rest != '\0' && *rest != '#')
            return err_set(err, NGR_EINVAL, "text after the closing quote");
        n = (size_t)(q - raw - 1);
        memcpy(out, raw + 1, n < cap ? n : cap - 1);
        out[n < cap ? n : cap - 1] = '\0';
        return 0;
    }
    n = strcspn(raw, "#");
    while (n > 0 && (raw[n - 1] == ' ' || raw[n - 1] == '\t'))
        n--;
    memcpy(out, raw, n < cap ? n : cap - 1);
    out[n < cap ? n : cap - 1] = '\0';
    return 0;
}

/* libinih's handler: 1 to go on, 0 to stop (the error is in run). */
static int
ini_file_on_pair(void *arg, const char *section, const char *name, const char *raw)
{
    struct ini_file_run *run = arg;
    char value[NGR_CONFIG_LINE_LEN];

    if (name[0] == '\0')
        run->rc = err_set(run->err, NGR_EINVAL, "expected \"key = value\"");
    else if (strlen(name) >= NGR_CONFIG_KEY_LEN)
        run->rc = err_set(run->err, NGR_EINVAL, "unknown setting \"%.40s...\"", name);
    else if ((run->rc = ini_file_value(raw, value, sizeof(value), run->err)) == 0)
        run->rc = run->fn(run->user, section, name, value, run->err);
    return run->rc == 0;
}

int
ini_file_parse(const char *text, size_t len, ini_file_fn fn, void *user, struct ngr_err *err)
{
    struct ini_file_run run = {fn, user, err, 0};
    size_t pos = 0;
    unsigned lineno = 0;
    char *copy;
    int line;

    /* What the library would take silently or split: NUL bytes, overlong lines. */
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t llen = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;

        lineno++;
        if (memchr(text + pos, '\0', llen) != NULL)
            return err_set(err, NGR_EINVAL, "line %u: NUL byte", lineno);
        if (llen >= NGR_CONFIG_LINE_LEN)
            return err_set(err, NGR_EINVAL, "line %u: longer than %d characters", lineno,
                           NGR_CONFIG_LINE_LEN - 1);
        pos += llen + 1;
    }
    copy = malloc(len + 1);
    if (copy == NULL)
        return err_set(err, NGR_ENOMEM, "out of memory");
    memcpy(copy, text, len);
    copy[len] = '\0';
    ini_allow_multiline = 0;       /* an indented line is a line of its own */
    ini_allow_inline_comments = 0; /* '#' is handled here, quotes first */
    ini_allow_no_value = 0;
    ini_stop_on_first_error = 1;
    ini_use_stack = 0; /* a heap buffer of ini_initial_alloc: room for our longest line */
    ini_allow_realloc = 0;
    ini_initial_alloc = NGR_CONFIG_LINE_LEN + 3;
    ini_max_line = NGR_CONFIG_LINE_LEN + 3;
    line = ini_parse_string(copy, ini_file_on_pair, &run);
    free(copy);
    if (line == 0)
        return 0;
    if (line < 0)
        return err_set(err, NGR_ENOMEM, "out of memory");
    if (run.rc == 0)
        run.rc = err_set(err, NGR_EINVAL, "expected \"key = value\" or \"[section]\"");
    {
        char where[32];

        snprintf(where, sizeof(where), "line %d", line);
        err_prefix(err, where);
    }
    return run.rc;
}

/* yes/no, true/false, on/off, 1/0, any case. */
int
ini_file_bool(const char *key, const char *v, int *out, struct ngr_err *err)
{
    static const char *const yes[] = {"1", "yes", "true", "on"}, *const no[] = {"0", "no", "false",
                                                                                "off"};
    size_t i;

    for (i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return err_set(err, NGR_EINVAL, "%s: \"%s\" is not yes or no", key, v);
}
