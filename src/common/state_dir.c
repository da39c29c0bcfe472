/* state_dir.c: the state directory; see state_dir.h. */
#include "state_dir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int
state_dir_default(int systemd, char *out, size_t cap, struct ngr_err *err)
{
    const char *v;
    int n;

    if (systemd && (v = getenv("STATE_DIRECTORY")) != NULL && v[0] != '\0')
        n = snprintf(out, cap, "%.*s", (int)strcspn(v, ":"), v);
    else if ((v = getenv("XDG_STATE_HOME")) != NULL && v[0] == '/')
        n = snprintf(out, cap, "%s/ngrnotok", v);
    else if ((v = getenv("HOME")) != NULL && v[0] == '/')
        n = snprintf(out, cap, "%s/.local/state/ngrnotok", v);
    else
        return err_set(err, NGR_EINVAL, "no state directory: HOME is not set");
    if (n <= 0 || (size_t)n >= cap)
        return err_set(err, NGR_EINVAL, "the state directory's path is too long");
    return 0;
}

int
state_dir_make(const char *dir, struct ngr_err *err)
{
    char path[4096];
    size_t i, len = strlen(dir);

    if (len == 0 || len >= sizeof(path))
        return err_set(err, NGR_ESYS, "%s: bad path", dir);
    memcpy(path, dir, len + 1);
    for (i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return err_set(err, NGR_ESYS, "%s: %s", path, strerror(errno));
        path[i] = i < len ? '/' : '\0';
    }
    return 0;
}
