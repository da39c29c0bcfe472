/* seconds.c: seconds as a decimal into milliseconds; see seconds.h. */
#include "seconds.h"

#include <errno.h>
#include <stdlib.h>

#include "limits.h"

int
seconds_parse(const char *what, const char *v, uint64_t *ms, struct ngr_err *err)
{
    char *end;
    double s;

    errno = 0;
    s = strtod(v, &end);
    if (((*v < '0' || *v > '9') && *v != '.') || *end != '\0' || errno != 0 ||
        !(s >= NGR_SECONDS_MIN && s <= NGR_SECONDS_MAX))
        return err_set(err, NGR_EINVAL, "%s \"%s\": expected seconds between %g and %d", what, v,
                       NGR_SECONDS_MIN, NGR_SECONDS_MAX);
    *ms = (uint64_t)(s * 1000 + 0.5);
    return 0;
}
