/* state_dir.h: where a program keeps what must outlive it: the gateway's reservations, the
 * client's reconnect secrets. $STATE_DIRECTORY when systemd gives one (StateDirectory=; the
 * first if it lists several), else $XDG_STATE_HOME/ngrnotok, else ~/.local/state/ngrnotok. */
#ifndef NGR_STATE_DIR_H
#define NGR_STATE_DIR_H

#include <stddef.h>

#include "err.h"

/* The default directory into out. systemd: 1 to take $STATE_DIRECTORY first (the gateway's
 * unit sets it). Returns 0, or NGR_EINVAL when no variable names one (no HOME). */
NGR_MUST_CHECK int state_dir_default(int systemd, char *out, size_t cap, struct ngr_err *err);
/* Creates dir and its missing parents, mode 0700. Returns 0 or NGR_ESYS. */
NGR_MUST_CHECK int state_dir_make(const char *dir, struct ngr_err *err);

#endif
