/* local_target.h: a tunnel's local service as the client reaches it (struct client_tunnel's
 * base_url, host_header, local_text, target_text and local_resolved), set from its options
 * (struct cli_tunnel): PORT, HOST:PORT, an http(s):// URL or unix:PATH. Shared by the
 * commands that run tunnels (main.c) and diagnose.c. */
#ifndef NGR_LOCAL_TARGET_H
#define NGR_LOCAL_TARGET_H

#include "err.h"

struct client_tunnel;
struct cli_tunnel;

/* Fills t from o, resolving the host now (the loop never blocks on a lookup; a unix: socket's
 * path is its one address). Returns 0, or the resolver's error in err. */
int local_target_setup(struct client_tunnel *t, const struct cli_tunnel *o, struct ngr_err *err);

#endif
