/* readfile.c: a whole small file into memory; see readfile.h. */
#include "readfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
readfile(const char *path, size_t max, char **text, size_t *len, struct ngr_err *err)
{
    char *buf;
    size_t n = 0;
    ssize_t r;
    int fd;

    *text = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(err, NGR_ESYS, "open %s: %s", path, strerror(errno));
    buf = malloc(max + 2);
    if (buf == NULL) {
        close(fd);
        return err_set(err, NGR_ENOMEM, "%s: out of memory", path);
    }
    /* One byte past max tells a file that is too large. */
    while (n <= max && (r = read(fd, buf + n, max + 1 - n)) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            err_set(err, NGR_ESYS, "read %s: %s", path, strerror(errno));
            close(fd);
            free(buf);
            return NGR_ESYS;
        }
        n += (size_t)r;
    }
    close(fd);
    if (n > max) {
        free(buf);
        return err_set(err, NGR_ELIMIT, "%s: larger than %zu bytes", path, max);
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}
