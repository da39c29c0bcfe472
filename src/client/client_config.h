/* client_config.h: the client's config file, ngrnotok.conf: the connection's settings (server,
 * token, tls, ca, heartbeat, dead_after) at the top, then one [NAME] section per tunnel (proto,
 * addr, subdomain and the tunnel options), read with ini_file.h. `ngrnotok config set-token`
 * and `set-server` write it, mode 0600; a file others may read is warned about. The format is
 * in config/ngrnotok.conf. */
#ifndef NGR_CLIENT_CONFIG_H
#define NGR_CLIENT_CONFIG_H

#include <stddef.h>

#include "cli.h"
#include "err.h"

/* $XDG_CONFIG_HOME/ngrnotok/ngrnotok.conf, else ~/.config/ngrnotok/ngrnotok.conf. Returns 0,
 * or NGR_EINVAL when neither variable is set. */
int client_config_default_path(char *out, size_t cap, struct ngr_err *err);

/* Reads path into o: its connection settings, and its tunnels into o->tunnels (each checked).
 * A missing file is no error unless must_exist. Returns 0 or NGR_EINVAL (NGR_ESYS, NGR_ELIMIT)
 * with a reason naming the file and line. Warns on stderr when others may read the file. */
int client_config_load(struct cli_options *o, const char *path, int must_exist,
                       struct ngr_err *err);

/* Sets key (token, server) to value in path's top part: the line that sets it is replaced,
 * or one is added before the first section. The file (and its directory) is created if
 * missing, written whole then renamed, mode 0600. Returns 0 or an error with the reason. */
int client_config_set(const char *path, const char *key, const char *value,
                      struct ngr_err *err);

/* Prints what o holds, one line per tunnel, to stdout (config check). */
void client_config_describe(const struct cli_options *o);

/* `ngrnotok config ACTION`: set-token, set-server, check, path. Returns the exit code. */
int client_config_command(struct cli_options *o);

#endif
