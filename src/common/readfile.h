/* readfile.h: a whole small file into memory (config files, token lists, certificates). */
#ifndef NGR_READFILE_H
#define NGR_READFILE_H

#include <stddef.h>

#include "err.h"

/* Reads path into a new NUL-terminated buffer (*text, freed by the caller) of *len bytes.
 * Returns 0, NGR_ESYS (open or read failed), NGR_ELIMIT (larger than max bytes) or NGR_ENOMEM,
 * with a message naming the file. */
NGR_MUST_CHECK int readfile(const char *path, size_t max, char **text, size_t *len,
                            struct ngr_err *err);

#endif
