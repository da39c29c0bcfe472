/* name_policy.c: reserved names and UUID-shaped names; see name_policy.h. */
#include "name_policy.h"
#include "limits.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int
name_valid_label(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > NGR_MAX_SUBDOMAIN || s[0] == '-' || s[len - 1] == '-')
        return 0;
    for (i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

int
name_policy_parse(const char *list, char *out, size_t outlen, struct ngr_err *err)
{
    size_t o = 0;
    const char *p = list;

    if (outlen == 0)
        return err_set(err, NGR_ELIMIT, "reserved_names: too long");
    out[0] = '\0';
    if (p[strspn(p, " \t")] == '\0')
        return 0; /* the empty list: nothing reserved */
    while (*p != '\0') {
        const char *start, *end;
        char name[NGR_MAX_SUBDOMAIN + 1];
        size_t len, i;

        while (*p == ' ' || *p == '\t')
            p++;
        start = p;
        while (*p != '\0' && *p != ',')
            p++;
        end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        len = (size_t)(end - start);
        if (*p == ',' && *++p == '\0')
            len = 0; /* a trailing comma: an empty name after it */
        if (len == 0)
            return err_set(err, NGR_EINVAL, "reserved_names: an empty name in \"%.64s\"", list);
        if (len > NGR_MAX_SUBDOMAIN)
            return err_set(err, NGR_EINVAL, "reserved_names: \"%.*s\" is longer than %d",
                           (int)(len > 64 ? 64 : len), start, NGR_MAX_SUBDOMAIN);
        for (i = 0; i < len; i++)
            name[i] = (char)tolower((unsigned char)start[i]);
        name[len] = '\0';
        if (!name_valid_label(name, len))
            return err_set(err, NGR_EINVAL,
                           "reserved_names: \"%s\" is not a name (letters, digits, '-')", name);
        if (o + (o > 0) + len + 1 > outlen)
            return err_set(err, NGR_ELIMIT, "reserved_names: longer than %zu bytes", outlen - 1);
        if (o > 0)
            out[o++] = ',';
        memcpy(out + o, name, len + 1);
        o += len;
    }
    return 0;
}

int
name_is_uuid(const char *name)
{
    static const size_t groups[] = {8, 4, 4, 4, 12};
    size_t g, i;

    for (g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        for (i = 0; i < groups[g]; i++, name++)
            if (!isxdigit((unsigned char)*name))
                return 0;
        if (*name != (g == 4 ? '\0' : '-'))
            return 0;
        name += g < 4;
    }
    return 1;
}

int
name_policy_check(const char *reserved, const char *name, char *why, size_t whylen)
{
    size_t len = strlen(name);
    const char *p = reserved;

    if (name_is_uuid(name)) {
        snprintf(why, whylen,
                 "name '%s' is shaped like the gateway's random names (a UUID), which are only "
                 "given out: ask for none to get one, or choose another name",
                 name);
        return -1;
    }
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

        if (n == len && strncasecmp(p, name, len) == 0) {
            snprintf(why, whylen, "name '%s' is reserved on this gateway; choose another", name);
            return -1;
        }
        p += n + (end != NULL);
    }
    return 0;
}
