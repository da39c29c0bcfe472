/* seconds.h: a duration as people write it on a command line or in a config file: seconds as
 * a decimal ("30", "0.5"), read into milliseconds. Shared by both programs' options. */
#ifndef NGR_SECONDS_H
#define NGR_SECONDS_H

#include <stdint.h>

#include "err.h"

/* Reads v into *ms (rounded), refusing anything but a decimal number of seconds from
 * NGR_SECONDS_MIN to NGR_SECONDS_MAX. what names the option in the error ("--heartbeat"). */
NGR_MUST_CHECK int seconds_parse(const char *what, const char *v, uint64_t *ms,
                                 struct ngr_err *err);

#endif
