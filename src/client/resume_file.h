/* resume_file.h: the reconnect secret a client keeps between runs, so that `ngrnotok http 3000`
 * stopped and started again within the gateway's grace gets the same URL. One small file per
 * gateway, protocol and local target, in the user's state directory (state_dir.h) under
 * client/, mode 0600: the secret and the name (or TCP port) it holds, on one line. Written
 * whole then renamed, so a crash never leaves half a file. */
#ifndef NGR_RESUME_FILE_H
#define NGR_RESUME_FILE_H

#include <stddef.h>

#include "err.h"
#include "limits.h"

struct resume_file {
    char path[NGR_STATE_PATH_LEN]; /* empty: no state directory, nothing kept */
    char secret[NGR_SECRET_LEN + 1];
    char name[NGR_MAX_SUBDOMAIN + 1]; /* a name, or a TCP port's digits */
    int lock_fd; /* held (flock) while this run owns the file; -1: none */
};

/* Fills f->path for this gateway (its address as given), proto ("http", "tcp") and local
 * target, creating the directory, and locks it for this run: a second run for the same
 * gateway and target must not take the first one's tunnel over. A directory that cannot be
 * had, or a lock another run holds, leaves path empty and says why in err (returns NGR_ESYS
 * or NGR_EEXIST). Then reads the file if there is one (a missing or malformed file leaves
 * secret and name empty). The lock goes with the process. */
int resume_file_open(struct resume_file *f, const char *gateway, const char *proto,
                     const char *target, struct ngr_err *err);
/* Writes secret and name (a failure is returned with the reason; the tunnel goes on). */
NGR_MUST_CHECK int resume_file_save(const struct resume_file *f, struct ngr_err *err);
/* Removes the file (--new-url, or a name the gateway no longer keeps). */
void resume_file_forget(struct resume_file *f);

#endif
