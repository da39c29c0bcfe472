/* config_diff.h: what a re-read configuration changes (SIGHUP). Two sets of settings are
 * compared key by key; each change says whether the running gateway can take it (a limit, a
 * timeout, a file to read) or only a restart can (a listening address, the domain, the state
 * directory). */
#ifndef NGR_CONFIG_DIFF_H
#define NGR_CONFIG_DIFF_H

#include <stddef.h>

#include "config.h"

#define CONFIG_DIFF_MAX 48  /* changes reported at most: more than there are keys */
#define CONFIG_DIFF_TEXT 96 /* bytes of a value as shown in the log */

struct config_change {
    const char *key; /* the config file's name for it: "max_rate" */
    int live;        /* the running gateway takes it; else it needs a restart */
    char before[CONFIG_DIFF_TEXT], after[CONFIG_DIFF_TEXT]; /* secrets show as "(set)" */
};

/* Fills out (room for cap) with the keys whose value differs between cur and next, in the
 * order of config/ngrnotokd.conf. Returns how many. */
size_t config_diff(const struct server_config *cur, const struct server_config *next,
                   struct config_change *out, size_t cap);

/* Copies into cur the values of next that the running gateway takes (the live keys). */
void config_apply_live(struct server_config *cur, const struct server_config *next);

#endif
