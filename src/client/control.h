/* control.h: the client's side of the control connection: connect, TLS with --tls, HELLO and
 * BIND, then every
 * OPEN becomes a replay (docs/protocol.md). */
#ifndef NGR_CLIENT_CONTROL_H
#define NGR_CLIENT_CONTROL_H

#include "client.h"
#include "err.h"

/* Starts connecting to cl->opt.server (resolving it first: startup only), then over TLS if
 * cl->tls_cred is set (the CAs --tls trusts). Returns 0 or a
 * negative code with the reason in err. The rest happens on the loop; when the session ends,
 * the loop stops and cl->exit_code says how. */
NGR_MUST_CHECK int client_control_start(struct client *cl, struct ngr_err *err);
/* Says goodbye (GOAWAY) and closes the session at the end of the turn. */
void client_control_stop(struct client *cl);

#endif
